// The usage report body: parsing and checking each report before app.Machine.ReportUsage records it.
package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

const maxReportsPerRequest = 1000

type usageReportBody struct {
	LicenseKey   *string           `json:"licenseKey"`
	DeploymentID *string           `json:"deploymentId"`
	Reports      []json.RawMessage `json:"reports"`
}

type usageReportItem struct {
	ID          *string                    `json:"id"`
	PeriodStart *string                    `json:"periodStart"`
	PeriodEnd   *string                    `json:"periodEnd"`
	Metrics     map[string]json.RawMessage `json:"metrics"`
}

// parseUsageReports validates a batch: 1 to 1000 reports, each with a UUID
// id, an RFC 3339 period (end not before start) and metrics named
// [a-zA-Z][a-zA-Z0-9_.]{0,63} with non-negative 64-bit integer values. Every
// problem is reported with its field path, e.g. reports[3].metrics.users.
func parseUsageReports(raw []json.RawMessage) ([]db.UsageReportIn, error) {
	var pr licensing.Problems
	if len(raw) == 0 {
		pr.Add("reports", "at least one report is required")
		return nil, pr.Err()
	}
	if len(raw) > maxReportsPerRequest {
		pr.Add("reports", fmt.Sprintf("at most %d reports per request, got %d", maxReportsPerRequest, len(raw)))
		return nil, pr.Err()
	}
	out := make([]db.UsageReportIn, 0, len(raw))
	for i, r := range raw {
		at := func(f string) string { return "reports[" + strconv.Itoa(i) + "]" + f }
		var item usageReportItem
		if err := json.Unmarshal(r, &item); err != nil || bytes.TrimSpace(r)[0] != '{' {
			pr.Add(at(""), "must be an object with id, periodStart, periodEnd and metrics")
			continue
		}
		var rep db.UsageReportIn
		if item.ID == nil {
			pr.Add(at(".id"), "is required (a UUID chosen by the client)")
		} else if id, err := uuid.Parse(*item.ID); err != nil {
			pr.Add(at(".id"), "must be a UUID")
		} else {
			rep.ID = id
		}
		rep.PeriodStart = parseReportTime(&pr, at(".periodStart"), item.PeriodStart)
		rep.PeriodEnd = parseReportTime(&pr, at(".periodEnd"), item.PeriodEnd)
		if !rep.PeriodStart.IsZero() && !rep.PeriodEnd.IsZero() && rep.PeriodEnd.Before(rep.PeriodStart) {
			pr.Add(at(".periodEnd"), "must not be before periodStart")
		}
		if len(item.Metrics) == 0 {
			pr.Add(at(".metrics"), "at least one metric is required")
		}
		if len(item.Metrics) > 100 {
			pr.Add(at(".metrics"), "at most 100 metrics per report")
		}
		rep.Metrics = make(map[string]int64, len(item.Metrics))
		for name, v := range item.Metrics {
			field := at(".metrics." + truncateField(name))
			if !licensing.ValidMetricName(name) {
				pr.Add(field, "metric names match [a-zA-Z][a-zA-Z0-9_.]{0,63}")
				continue
			}
			n, ok := parseNonNegativeInt(v)
			if !ok {
				pr.Add(field, "must be a non-negative integer of at most 9223372036854775807")
				continue
			}
			rep.Metrics[name] = n
		}
		out = append(out, rep)
		if len(pr) > 50 {
			break
		}
	}
	return out, pr.Err()
}

func truncateField(s string) string {
	if len(s) > 70 {
		return s[:70] + "…"
	}
	return s
}

// parseReportTime reads an RFC 3339 time within a sane range.
func parseReportTime(pr *licensing.Problems, field string, v *string) time.Time {
	if v == nil {
		pr.Add(field, "is required (RFC 3339 time)")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil || t.Year() < 2000 || t.Year() > 2200 {
		pr.Add(field, "must be an RFC 3339 time such as 2026-11-01T00:00:00Z")
		return time.Time{}
	}
	return t.UTC()
}

// parseNonNegativeInt accepts a bare JSON integer (no quotes, fraction or exponent) in int64 range.
func parseNonNegativeInt(raw json.RawMessage) (int64, bool) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s[0] == '-' || s[0] == '"' {
		return 0, false
	}
	for _, ch := range s {
		if ch < '0' || ch > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64 {
		return 0, false
	}
	return n, true
}
