// The validation decision: one pure function from looked-up facts to the
// one code a validation answers, without allocating on the hot path.

package licensing

import (
	"strconv"
	"strings"
	"time"
)

// DeploymentFacts describe the deployment a validation names, if any.
type DeploymentFacts struct {
	ID          string // "" when the request names no deployment: no seat is needed
	Exists      bool
	Deactivated bool
	HoldsSeat   bool // already counted among the license's deployments
	// SeatRank is, for a deployment holding its seat, how many other seat
	// holders activated before it (0 when unknown). A holder whose rank
	// reaches the seat allowance has lost its seat: after a downgrade the
	// newest deployments are refused at their next check, the oldest keep
	// running.
	SeatRank int
	// Fingerprint is the one stored for the deployment (zero if none).
	Fingerprint Fingerprint
}

// DecisionInput is everything Decide reads. The caller parses the key,
// looks the license up by KeyHash and fills in what it found.
type DecisionInput struct {
	// KeyCode is ParseKey's code: "" or VALID when the key parsed, else
	// INVALID_KEY or INVALID_SIGNATURE.
	KeyCode    ValidationCode
	Found      bool // the key's hash matched a current key of a license
	License    LicenseFacts
	Deployment DeploymentFacts
	// SeatsInUse counts seats held by other deployments; MaxDeployments is
	// the license's limit, 0 for unlimited.
	SeatsInUse        int
	MaxDeployments    int
	RequestedFeatures []string
	EntitledFeatures  []string
	// Policy is the license's policy (plan with overrides); its zero value
	// is the behaviour before policies existed.
	Policy Policy
	// Fingerprint is the one the request presents.
	Fingerprint Fingerprint
	// AppVersion is the version the request names; Releases the product's
	// versions with their release dates, read only under ExpiryMaintain.
	AppVersion string
	Releases   []AppRelease
	Now        time.Time
	// Explain asks for a Trace; without it Decide does not allocate.
	Explain bool
}

// Check is one line of an explained decision.
type Check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail,omitempty"`
}

// Decision is the answer to a validation.
type Decision struct {
	Valid bool
	Code  ValidationCode
	// State is the license's effective state ("" when no license was found).
	State State
	// GraceEndsAt and DunningEndsAt are zero unless they apply (see Effective).
	GraceEndsAt   time.Time
	DunningEndsAt time.Time
	// MissingFeature is the first requested feature not entitled.
	MissingFeature string
	// Fingerprint says what to do with the deployment's stored fingerprint
	// (bind, update and audit, or nothing); FingerprintRefused goes with
	// FINGERPRINT_MISMATCH.
	Fingerprint FingerprintOutcome
	// SeatAllowance is the most seats admitted (maxDeployments with the
	// overage applied), 0 for unlimited. Overage is set when the seats held,
	// this deployment's included, exceed maxDeployments.
	SeatAllowance int
	Overage       bool
	// NewestAllowedVersion is set when an expired license falls back under
	// the maintain strategy: the newest version it still runs.
	NewestAllowedVersion string
	// Trace lists the checks in order when Explain was set. Key and lookup
	// failures end it (nothing else can be known); once the license is
	// found every later check is listed, passed or not, so an operator
	// sees all problems at once. Code is always the first failure.
	Trace []Check

	in DecisionInput // kept for Detail, built lazily
}

// Check names, in order.
const (
	CheckKeyFormat       = "key_format"
	CheckSignature       = "signature"
	CheckFound           = "license_found"
	CheckNotRevoked      = "not_revoked"
	CheckNotSuspend      = "not_suspended"
	CheckStarted         = "started"
	CheckNotExpired      = "not_expired"
	CheckDeployment      = "deployment_active"
	CheckFingerprint     = "fingerprint_matches"
	CheckSeat            = "seat_available"
	CheckFeatureEntitled = "features_entitled"
	CheckPaymentOK       = "payment_current"
	CheckNotInGrace      = "not_in_grace"
	CheckWithinSeats     = "within_seats"
	CheckVersion         = "version_current"
)

// Decide answers a validation: the first failing check in the order
// INVALID_KEY, INVALID_SIGNATURE, NOT_FOUND, REVOKED, SUSPENDED,
// NOT_YET_VALID, EXPIRED, DEPLOYMENT_DEACTIVATED, FINGERPRINT_MISMATCH,
// TOO_MANY_DEPLOYMENTS, FEATURE_NOT_ENTITLED; else the most urgent warning:
// GRACE_PERIOD, PAYMENT_OVERDUE, SEAT_OVERAGE, VERSION_LOCKED, or VALID.
//
// Under the maintain expiry strategy an expired license passes the expiry
// check for application versions released at or before its expiry
// (VERSION_LOCKED); other versions, or a request naming none, are EXPIRED.
func Decide(in DecisionInput) Decision {
	d := Decision{in: in}
	if in.KeyCode != "" && in.KeyCode != CodeValid {
		code := in.KeyCode
		if code != CodeInvalidSignature {
			code = CodeInvalidKey
		}
		d.Code = code
		if in.Explain {
			d.trace(CheckKeyFormat, code != CodeInvalidKey)
			if code == CodeInvalidSignature {
				d.trace(CheckSignature, false)
			}
		}
		return d
	}
	if in.Explain {
		d.trace(CheckKeyFormat, true)
		d.trace(CheckSignature, true)
		d.trace(CheckFound, in.Found)
	}
	if !in.Found {
		d.Code = CodeNotFound
		return d
	}
	f, now := &d.in.License, in.Now
	e := evaluate(f, now)
	d.State = e.state
	if e.state == StateGrace || e.state == StateExpired {
		d.GraceEndsAt = e.graceEnd
	}
	d.DunningEndsAt = e.dunningEnd

	// The license checks, in order. Each first failure sets the code.
	d.check(CheckNotRevoked, !f.revoked(), CodeRevoked)
	d.check(CheckNotSuspend, !f.suspended(now), CodeSuspended)
	d.check(CheckStarted, !f.notYetValid(now), CodeNotYetValid)
	expired := f.expired(now)
	versionLocked := false
	if expired && in.Policy.ExpiryStrategy == ExpiryMaintain && f.ExpiresAt != nil {
		d.NewestAllowedVersion = NewestAllowedVersion(in.Releases, *f.ExpiresAt)
		versionLocked = VersionAllowed(in.AppVersion, d.NewestAllowedVersion)
	}
	d.check(CheckNotExpired, !expired || versionLocked, CodeExpired)
	dep := in.Deployment
	d.check(CheckDeployment, dep.ID == "" || !dep.Exists || !dep.Deactivated, CodeDeploymentDeactivated)
	if dep.ID != "" {
		d.Fingerprint = MatchFingerprint(in.Policy.FingerprintPolicy, in.Policy.FingerprintMatch, dep.Fingerprint, in.Fingerprint)
	}
	d.check(CheckFingerprint, d.Fingerprint != FingerprintRefused, CodeFingerprintMismatch)
	d.SeatAllowance = SeatAllowance(in.MaxDeployments, in.Policy.SeatOverage)
	if d.SeatAllowance < 0 {
		d.SeatAllowance = in.MaxDeployments // an unknown overage admits none
	}
	held := in.SeatsInUse // seats held with this deployment's, if it has or gets one
	seatOK := true
	switch {
	case dep.ID == "":
	case dep.HoldsSeat:
		held++
		seatOK = d.SeatAllowance == 0 || dep.SeatRank < d.SeatAllowance
	default:
		held++
		seatOK = d.SeatAllowance == 0 || in.SeatsInUse < d.SeatAllowance
	}
	d.check(CheckSeat, seatOK, CodeTooManyDeployments)
	// Only an overage allowance warns: without one, more holders than seats
	// (after a downgrade) is the oldest running and the newest refused.
	d.Overage = seatOK && in.MaxDeployments > 0 && held > in.MaxDeployments &&
		in.Policy.SeatOverage != OverageNone && in.Policy.SeatOverage != ""
	d.MissingFeature = missingFeature(in.RequestedFeatures, in.EntitledFeatures)
	d.check(CheckFeatureEntitled, d.MissingFeature == "", CodeFeatureNotEntitled)
	if d.Code != "" {
		return d
	}
	d.Valid = true
	switch e.state {
	case StateGrace:
		d.Code = CodeGracePeriod
	case StatePastDue:
		d.Code = CodePaymentOverdue
	default:
		switch {
		case d.Overage:
			d.Code = CodeSeatOverage
		case versionLocked:
			d.Code = CodeVersionLocked
		default:
			d.Code = CodeValid
		}
	}
	if in.Explain {
		d.trace(CheckNotInGrace, e.state != StateGrace)
		d.trace(CheckPaymentOK, e.state != StatePastDue)
		d.trace(CheckWithinSeats, !d.Overage)
		d.trace(CheckVersion, !versionLocked)
	}
	return d
}

// check records a check's outcome; the first failure decides the code.
func (d *Decision) check(name string, passed bool, code ValidationCode) {
	if !passed && d.Code == "" {
		d.Code = code
	}
	if d.in.Explain {
		d.trace(name, passed)
	}
}

func (d *Decision) trace(name string, passed bool) {
	d.Trace = append(d.Trace, Check{Name: name, Passed: passed, Detail: d.checkDetail(name, passed)})
}

func missingFeature(requested, entitled []string) string {
outer:
	for _, r := range requested {
		for _, e := range entitled {
			if r == e {
				continue outer
			}
		}
		return r
	}
	return ""
}

// Effective is the license's effective state in the pointer form handlers
// serialise (zero when no license was found).
func (d Decision) Effective() Effective {
	if d.State == "" {
		return Effective{}
	}
	return effective{state: d.State, graceEnd: d.GraceEndsAt, dunningEnd: d.DunningEndsAt}.public()
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Detail is a human-readable sentence for the code, e.g. "license expired
// on 2026-01-02; grace ended 2026-01-09". It is built on demand, so that a
// decision costs nothing until a message is needed.
func (d Decision) Detail() string {
	f := &d.in.License
	switch d.Code {
	case CodeInvalidKey:
		return "the license key is malformed or its checksum does not match"
	case CodeInvalidSignature:
		return "the license key was not signed by a known key"
	case CodeNotFound:
		return "no license has this key (it may have been re-keyed)"
	case CodeRevoked:
		return "the license was revoked"
	case CodeSuspended:
		if f.Status != StatusSuspended && !d.DunningEndsAt.IsZero() {
			return "the license is suspended: payment overdue since " + pastDueDay(f) +
				"; dunning ended " + day(d.DunningEndsAt)
		}
		return "the license is suspended"
	case CodeNotYetValid:
		return "the license starts on " + stamp(f.StartsAt)
	case CodeExpired:
		msg := "license expired on " + day(*f.ExpiresAt) + "; grace ended " + day(d.GraceEndsAt)
		if d.in.Policy.ExpiryStrategy == ExpiryMaintain {
			if d.NewestAllowedVersion == "" {
				return msg + "; no application version released before the expiry is known"
			}
			return msg + "; versions up to " + d.NewestAllowedVersion + " keep running, not " + quoteVersion(d.in.AppVersion)
		}
		return msg
	case CodeDeploymentDeactivated:
		return "deployment " + d.in.Deployment.ID + " was deactivated"
	case CodeFingerprintMismatch:
		if d.in.Fingerprint.IsZero() {
			return "this license binds each deployment to its machine: the request carries no fingerprint"
		}
		return "deployment " + d.in.Deployment.ID + " is bound to another machine (fingerprint policy " +
			string(d.in.Policy.FingerprintPolicy) + ")"
	case CodeTooManyDeployments:
		if d.in.Deployment.HoldsSeat {
			return "deployment " + d.in.Deployment.ID + " lost its seat: the license now allows " +
				strconv.Itoa(d.SeatAllowance) + " deployments and older ones keep theirs"
		}
		if d.SeatAllowance > d.in.MaxDeployments {
			return "all " + strconv.Itoa(d.in.MaxDeployments) + " deployments of the license and its overage allowance (" +
				strconv.Itoa(d.SeatAllowance) + ") are in use"
		}
		return "all " + strconv.Itoa(d.in.MaxDeployments) + " deployments of the license are in use"
	case CodeFeatureNotEntitled:
		return "the license does not include feature " + d.MissingFeature
	case CodeGracePeriod:
		return "license expired on " + day(*f.ExpiresAt) + "; grace period ends " + day(d.GraceEndsAt)
	case CodePaymentOverdue:
		return "payment overdue since " + pastDueDay(f) + "; the license will be suspended after " +
			day(d.DunningEndsAt)
	case CodeSeatOverage:
		return strconv.Itoa(d.in.SeatsInUse+1) + " deployments in use, over the " + strconv.Itoa(d.in.MaxDeployments) +
			" the license includes (within its overage allowance); the overage is recorded"
	case CodeVersionLocked:
		return "license expired on " + day(*f.ExpiresAt) + "; versions up to " + d.NewestAllowedVersion +
			" (released before the expiry) keep running"
	case CodeValid:
		if f.ExpiresAt == nil {
			return "the license is valid (perpetual)"
		}
		return "the license is valid until " + day(*f.ExpiresAt)
	}
	return ""
}

func quoteVersion(v string) string {
	if v == "" {
		return "a request without appVersion"
	}
	return strconv.Quote(v)
}

func pastDueDay(f *LicenseFacts) string {
	if f.PastDueSince == nil {
		return "today"
	}
	return day(*f.PastDueSince)
}

// checkDetail explains one trace line; only used when Explain is set.
func (d *Decision) checkDetail(name string, passed bool) string {
	in, f := &d.in, &d.in.License
	switch name {
	case CheckKeyFormat:
		if !passed {
			return "malformed key or checksum mismatch"
		}
	case CheckSignature:
		if !passed {
			return "unknown kid or invalid signature"
		}
	case CheckFound:
		if !passed {
			return "no license with this key"
		}
	case CheckNotRevoked:
		return "status " + string(f.Status)
	case CheckNotSuspend:
		if f.PastDue {
			end, _ := f.dunningEnd(in.Now)
			return "status " + string(f.Status) + "; past due, dunning ends " + stamp(end)
		}
		return "status " + string(f.Status)
	case CheckStarted:
		return "starts " + stamp(f.StartsAt)
	case CheckNotExpired, CheckNotInGrace:
		if f.ExpiresAt == nil {
			return "perpetual"
		}
		end, _ := f.graceEnd()
		return "expires " + stamp(*f.ExpiresAt) + "; grace ends " + stamp(end)
	case CheckDeployment:
		switch {
		case in.Deployment.ID == "":
			return "no deployment named"
		case !in.Deployment.Exists:
			return "new deployment"
		case in.Deployment.Deactivated:
			return "deactivated"
		}
		return "active"
	case CheckSeat:
		max := "unlimited"
		if in.MaxDeployments > 0 {
			max = strconv.Itoa(in.MaxDeployments)
		}
		held := ""
		if in.Deployment.HoldsSeat {
			held = "; this deployment holds a seat"
		}
		return strconv.Itoa(in.SeatsInUse) + " of " + max + " seats used by other deployments" + held
	case CheckFingerprint:
		return "policy " + string(in.Policy.FingerprintPolicy)
	case CheckWithinSeats:
		if !passed {
			return "over " + strconv.Itoa(in.MaxDeployments) + " seats, within the allowance of " + strconv.Itoa(d.SeatAllowance)
		}
	case CheckVersion:
		if !passed {
			return "expired; versions up to " + d.NewestAllowedVersion + " keep running"
		}
	case CheckFeatureEntitled:
		if !passed {
			return "missing " + d.MissingFeature
		}
		return "requested: " + strings.Join(in.RequestedFeatures, ", ")
	case CheckPaymentOK:
		if !passed {
			return "payment overdue; dunning ends " + stamp(d.DunningEndsAt)
		}
	}
	return ""
}
