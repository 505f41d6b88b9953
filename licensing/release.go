// Distribution rules: semantic versions, release channels, and which releases
// a license may fetch (by product, channel and expiry strategy), decided from
// the same effective status validation uses.

package licensing

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Version is a semantic version (semver.org 2.0.0). Build metadata is kept
// for display but never ordered on.
type Version struct {
	Major, Minor, Patch uint64
	Pre                 []string // dot-separated pre-release identifiers
	Build               string
	raw                 string
}

var semverRE = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// ParseVersion reads a semantic version; a leading "v" is accepted.
func ParseVersion(s string) (Version, error) {
	if len(s) > 128 {
		return Version{}, Invalid("version is too long", ErrorDetail{Field: "version", Message: "at most 128 characters"})
	}
	m := semverRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, Invalid("not a semantic version: "+s,
			ErrorDetail{Field: "version", Message: "expected MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. 1.4.0 or 2.0.0-rc.1"})
	}
	var v Version
	var err error
	for i, p := range []*uint64{&v.Major, &v.Minor, &v.Patch} {
		if *p, err = strconv.ParseUint(m[i+1], 10, 64); err != nil {
			return Version{}, Invalid("version number out of range", ErrorDetail{Field: "version", Message: err.Error()})
		}
	}
	if m[4] != "" {
		v.Pre = strings.Split(m[4], ".")
	}
	v.Build = m[5]
	v.raw = strings.TrimPrefix(s, "v")
	return v, nil
}

// String is the version as written, without a leading "v".
func (v Version) String() string {
	if v.raw != "" {
		return v.raw
	}
	s := strconv.FormatUint(v.Major, 10) + "." + strconv.FormatUint(v.Minor, 10) + "." + strconv.FormatUint(v.Patch, 10)
	if len(v.Pre) > 0 {
		s += "-" + strings.Join(v.Pre, ".")
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

// Compare orders versions by semver precedence: -1, 0 or +1. A pre-release
// sorts before its release (1.0.0-rc.1 < 1.0.0); numeric identifiers compare
// as numbers and sort before alphanumeric ones; build metadata is ignored.
func (v Version) Compare(w Version) int {
	for _, d := range [][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(v.Pre) == 0 && len(w.Pre) == 0:
		return 0
	case len(v.Pre) == 0:
		return 1
	case len(w.Pre) == 0:
		return -1
	}
	for i := 0; i < len(v.Pre) && i < len(w.Pre); i++ {
		if c := comparePreIdent(v.Pre[i], w.Pre[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(v.Pre) < len(w.Pre):
		return -1
	case len(v.Pre) > len(w.Pre):
		return 1
	}
	return 0
}

func comparePreIdent(a, b string) int {
	an, aerr := strconv.ParseUint(a, 10, 64)
	bn, berr := strconv.ParseUint(b, 10, 64)
	switch {
	case aerr == nil && berr == nil:
		if an < bn {
			return -1
		} else if an > bn {
			return 1
		}
		return 0
	case aerr == nil:
		return -1
	case berr == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// Channel is a release channel, from the most to the least stable.
type Channel string

// Channels.
const (
	ChannelStable Channel = "stable"
	ChannelRC     Channel = "rc"
	ChannelBeta   Channel = "beta"
	ChannelAlpha  Channel = "alpha"
	ChannelDev    Channel = "dev"
)

// Channels lists every channel, most stable first.
var Channels = []Channel{ChannelStable, ChannelRC, ChannelBeta, ChannelAlpha, ChannelDev}

// ParseChannel checks a channel name.
func ParseChannel(s string) (Channel, error) {
	c := Channel(s)
	if !slices.Contains(Channels, c) {
		return "", Invalid("unknown channel "+s, ErrorDetail{Field: "channel", Message: "one of stable, rc, beta, alpha, dev"})
	}
	return c, nil
}

// rank is 0 for stable and grows as channels get less stable.
func (c Channel) rank() int { return slices.Index(Channels, c) }

// Includes reports whether an installation following channel c sees releases
// of channel r: following rc means stable and rc releases, never beta.
func (c Channel) Includes(r Channel) bool { return r.rank() >= 0 && c.rank() >= r.rank() }

// ExpiryStrategy decides what a license whose grace has run out still gets.
type ExpiryStrategy string

// Expiry strategies.
const (
	// ExpiryRestrict: nothing once expired (after expiry plus grace).
	ExpiryRestrict ExpiryStrategy = "restrict"
	// ExpiryMaintain: every release published before the license expired,
	// none after (perpetual fallback).
	ExpiryMaintain ExpiryStrategy = "maintain"
	// ExpiryAllow: expiry does not matter for downloads.
	ExpiryAllow ExpiryStrategy = "allow"
)

// ParseExpiryStrategy checks a strategy name.
func ParseExpiryStrategy(s string) (ExpiryStrategy, error) {
	switch e := ExpiryStrategy(s); e {
	case ExpiryRestrict, ExpiryMaintain, ExpiryAllow:
		return e, nil
	}
	return "", Invalid("unknown expiry strategy "+s,
		ErrorDetail{Field: "expiryStrategy", Message: "one of restrict, maintain, allow"})
}

// Entitlement is what a plan (or a license's override) lets a license fetch.
type Entitlement struct {
	Products []string  // product codes
	Channels []Channel // channels it may fetch
	Expiry   ExpiryStrategy
}

// Release is what the rules need to know about one release.
type Release struct {
	Product     string
	Version     Version
	Channel     Channel
	PublishedAt *time.Time // nil: a draft
	YankedAt    *time.Time
}

// Denial says why a release is refused; "" means allowed.
type Denial string

// Reasons a release is refused, as machine clients see them.
const (
	DenyNone                Denial = ""
	DenyProduct             Denial = "PRODUCT_NOT_ENTITLED"
	DenyChannel             Denial = "CHANNEL_NOT_ENTITLED"
	DenyUnpublished         Denial = "NOT_PUBLISHED"
	DenyYanked              Denial = "YANKED"
	DenyRevoked             Denial = "REVOKED"
	DenySuspended           Denial = "SUSPENDED"
	DenyNotYetValid         Denial = "NOT_YET_VALID"
	DenyExpired             Denial = "EXPIRED"
	DenyReleasedAfterExpiry Denial = "RELEASED_AFTER_EXPIRY"
)

// LicenseAccess is the part of the decision that does not depend on the
// release: is the license in a state to fetch anything, and, when it has
// expired under maintain, the instant releases must be published by.
type LicenseAccess struct {
	Denial Denial
	// Cutoff is set when only releases published at or before it may be
	// fetched (an expired license under the maintain strategy).
	Cutoff *time.Time
	// Now is the instant of the decision: a release whose publication date
	// lies after it is scheduled, not out yet.
	Now time.Time
}

// AccessAt applies the effective status to an entitlement. Revoked,
// suspended and not-yet-valid licenses get nothing whatever the strategy; a
// license in grace or past due (still valid) gets everything it is entitled
// to; an expired one gets what its strategy says.
func AccessAt(f LicenseFacts, e Entitlement, now time.Time) LicenseAccess {
	a := LicenseAccess{Now: now}
	switch EffectiveStatus(f, now).State {
	case StateRevoked:
		a.Denial = DenyRevoked
	case StateSuspended:
		a.Denial = DenySuspended
	case StateNotYetValid:
		a.Denial = DenyNotYetValid
	case StateExpired:
		switch e.Expiry {
		case ExpiryAllow:
		case ExpiryMaintain:
			cut := *f.ExpiresAt
			a.Cutoff = &cut
		default:
			a.Denial = DenyExpired
		}
	}
	return a
}

// Allows decides one release for a license whose access was computed by
// AccessAt. The checks run in a fixed order, so the reason is stable: the
// license's own state, product, publication, channel, then the cutoff.
func (a LicenseAccess) Allows(e Entitlement, r Release) Denial {
	switch {
	case a.Denial != DenyNone:
		return a.Denial
	case !slices.Contains(e.Products, r.Product):
		return DenyProduct
	case r.PublishedAt == nil || r.PublishedAt.After(a.Now):
		return DenyUnpublished
	case r.YankedAt != nil:
		return DenyYanked
	case !slices.Contains(e.Channels, r.Channel):
		return DenyChannel
	case a.Cutoff != nil && r.PublishedAt.After(*a.Cutoff):
		return DenyReleasedAfterExpiry
	}
	return DenyNone
}

// ReleaseAllowed is AccessAt and Allows in one call.
func ReleaseAllowed(f LicenseFacts, e Entitlement, r Release, now time.Time) Denial {
	return AccessAt(f, e, now).Allows(e, r)
}

// Upgrade is the answer to "is there something newer for me".
type Upgrade struct {
	Release *Release // nil: nothing to upgrade to
	Reason  string   // why nothing, when Release is nil
}

// Upgrade reasons.
const (
	UpgradeUpToDate    = "UP_TO_DATE"
	UpgradeNoneAllowed = "NO_RELEASE_ALLOWED"
)

// NewestAllowed picks the newest release newer than current that the license
// may fetch on the requested channel (which includes the more stable ones).
// When nothing qualifies the reason is the license's own denial if it has
// one, UP_TO_DATE if current is the newest allowed, else the denial of the
// newest newer release (so a lapsed maintain license hears
// RELEASED_AFTER_EXPIRY, a stable-only one CHANNEL_NOT_ENTITLED).
func NewestAllowed(a LicenseAccess, e Entitlement, releases []Release, current Version, channel Channel) Upgrade {
	if a.Denial != DenyNone {
		return Upgrade{Reason: string(a.Denial)}
	}
	var best *Release
	var newestDenied *Release
	var newestDenial Denial
	for i := range releases {
		r := &releases[i]
		if !channel.Includes(r.Channel) || r.Version.Compare(current) <= 0 {
			continue
		}
		if d := a.Allows(e, *r); d != DenyNone {
			if d != DenyUnpublished && d != DenyYanked && (newestDenied == nil || r.Version.Compare(newestDenied.Version) > 0) {
				newestDenied, newestDenial = r, d
			}
			continue
		}
		if best == nil || r.Version.Compare(best.Version) > 0 {
			best = r
		}
	}
	switch {
	case best != nil:
		return Upgrade{Release: best}
	case newestDenied != nil:
		return Upgrade{Reason: string(newestDenial)}
	}
	return Upgrade{Reason: UpgradeUpToDate}
}

// RegistryRepository splits a repository name a registry asks a token for
// into the product repository and, for version-pinned paths
// ("<repository>/<version>"), the release version. Pulls of a bare product
// repository follow the newest release, so only a license with full access
// may make them; a lapsed maintain license pulls version paths of the
// releases published before its expiry. (A registry token names
// repositories and actions, never tags, so the version must be in the path
// for the registry itself to refuse newer ones.)
func RegistryRepository(name string, productRepos []string) (repo string, version *Version, ok bool) {
	for _, p := range productRepos {
		if name == p {
			return p, nil, true
		}
		if rest, found := strings.CutPrefix(name, p+"/"); found {
			v, err := ParseVersion(rest)
			if err != nil || strings.HasPrefix(rest, "v") || strings.Contains(rest, "+") {
				continue
			}
			return p, &v, true
		}
	}
	return "", nil, false
}

// RegistrySigningKid picks the key registry tokens are signed with: the
// newest key that has been published for at least delay, so that a registry
// which reloads its JWKS on a schedule already trusts it; the oldest key
// when none is that old yet. Rotation thus never signs with a key a running
// registry has not seen. keys must be oldest first (Keyring.List order).
// Creation times are kept to the second, so keys made within one second
// are ordered by which is current: Rotate makes the key it creates current,
// so of two such keys the current one is the newer.
func RegistrySigningKid(keys []KeyInfo, delay time.Duration, now time.Time) string {
	if len(keys) == 0 {
		return ""
	}
	newer := func(a, b KeyInfo) bool {
		if !a.Created.Equal(b.Created) {
			return a.Created.After(b.Created)
		}
		return a.Current && !b.Current
	}
	oldest, signer := keys[0], KeyInfo{}
	for _, k := range keys {
		if newer(oldest, k) {
			oldest = k
		}
		if !k.Created.Add(delay).After(now) && (signer.Kid == "" || newer(k, signer)) {
			signer = k
		}
	}
	if signer.Kid == "" {
		return oldest.Kid
	}
	return signer.Kid
}

var (
	productCodeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	// The registry's repository name grammar (distribution/reference).
	repositoryRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
)

// ValidateProduct checks a new product's code, name and repository.
func ValidateProduct(code, name, repository string) error {
	var pr Problems
	pr.CheckText("name", name, true, 200)
	if !productCodeRE.MatchString(code) {
		pr.Add("code", "lowercase letters, digits, - and _, starting with a letter or digit, at most 63")
	}
	if !repositoryRE.MatchString(repository) || len(repository) > 200 {
		pr.Add("repository", "a registry repository name: lowercase path components separated by /")
	}
	return pr.Err()
}
