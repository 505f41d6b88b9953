package components

import "github.com/nectarcloud/nls/licensing"

// NearLimitPercent is where a usage meter turns amber: the share of a limit
// from which the admin usage page lists a metric as near its limit (the SQL
// function usage_near_limit uses the same 80%).
const NearLimitPercent = 80

// meterWidths are a usage bar's widths in twelfths, spelled out so Tailwind
// keeps every one.
var meterWidths = []string{"w-0", "w-1/12", "w-1/6", "w-1/4", "w-1/3", "w-5/12", "w-1/2", "w-7/12", "w-2/3",
	"w-3/4", "w-5/6", "w-11/12", "w-full"}

// MeterClass is a usage bar's colour and width: red over the limit, amber
// from NearLimitPercent, otherwise the brand colour; the width is the share
// used, capped at full. A limit of zero or less shows a full bar.
func MeterClass(used, limit int64, exceeded bool) string {
	p := int64(100)
	if limit > 0 {
		p = min(max(used*100/limit, 0), 100)
	}
	colour := "bg-brand-600"
	switch {
	case exceeded:
		colour = "bg-rose-600"
	case p >= NearLimitPercent:
		colour = "bg-amber-500"
	}
	return "block h-2 rounded-full " + colour + " " + meterWidths[p*12/100]
}

func orNextPage(label string) string {
	if label == "" {
		return "Next page"
	}
	return label
}

// DeploymentLabel names a deployment state; explained says why a deployment
// is offline or stale.
func DeploymentLabel(state string, explained bool) string {
	switch state {
	case string(licensing.DeploymentActive):
		return "Active"
	case string(licensing.DeploymentOffline):
		if explained {
			return "Offline (license file)"
		}
		return "Offline"
	case string(licensing.DeploymentStale):
		if explained {
			return "Stale (no recent heartbeat)"
		}
		return "Stale"
	case string(licensing.DeploymentReleased):
		return "Released"
	}
	return state
}

// DeploymentClass colours a deployment state; the label carries the meaning.
func DeploymentClass(state string) string {
	switch state {
	case string(licensing.DeploymentActive):
		return "badge badge-active"
	case string(licensing.DeploymentOffline):
		return "badge badge-not_yet_valid"
	case string(licensing.DeploymentStale):
		return "badge badge-grace"
	}
	return "badge badge-expired"
}
