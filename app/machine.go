// Package app holds the use cases: what the JSON API, both portals and the
// CLI do with licenses, written once. It orchestrates the store and applies
// the rules of licensing/; it knows nothing of HTTP. Each use case depends on
// the small interfaces declared here, which *db.Store, *KeyService and
// *db.ValidationStats satisfy.
package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// MachineStore is what the machine use cases (validation, heartbeat,
// deactivation, usage) need of persistence. Each method is one round trip or
// one transaction; errors are already licensing errors.
type MachineStore interface {
	ValidationContext(ctx context.Context, keyHash [32]byte, deploymentID string, now time.Time) (db.GetValidationContextRow, error)
	RefreshSeat(ctx context.Context, id uuid.UUID, window time.Duration, info db.DeploymentInfo, now time.Time) (db.Deployment, bool, error)
	// AcquireSeats admits a deployment under the license lock; its count
	// is exact only from CountFrom on (InUse -1 below).
	AcquireSeats(ctx context.Context, r db.SeatRequest) (db.SeatAnswer, error)
	ReleaseDeployment(ctx context.Context, actor licensing.Actor, licenseID, customerID uuid.UUID,
		deploymentID, by string, now time.Time) (db.Deployment, error)
	// ReportUsage records a batch and answers the period's usage after it,
	// in one round trip.
	ReportUsage(ctx context.Context, lic db.UsageLicense, deploymentPK *uuid.UUID, reports []db.UsageReportIn,
		now time.Time) (db.UsageRecorded, error)
	PolicyStore
}

// PolicyStore is what the licensing policies need beyond the validation
// read; each is called only when its policy is in play, off the common path.
type PolicyStore interface {
	Releases(ctx context.Context, licenseID uuid.UUID) ([]licensing.AppRelease, error)
	SeatRank(ctx context.Context, licenseID, pk uuid.UUID, firstSeenAt time.Time, window time.Duration, now time.Time) (int, error)
	RecordSeatOverage(ctx context.Context, licenseID uuid.UUID, periodStart, periodEnd time.Time, maxDeployments, held int,
		now time.Time) error
	SetDeploymentFingerprint(ctx context.Context, actor licensing.Actor, licenseID, customerID, pk uuid.UUID,
		deploymentID string, before, after licensing.Fingerprint, audit bool, now time.Time) error
	AuditFingerprintRefused(ctx context.Context, actor licensing.Actor, licenseID, customerID uuid.UUID,
		deploymentID string, stored, presented licensing.Fingerprint, now time.Time) error
}

// Verifier checks license keys and signs leases.
type Verifier interface {
	ParseKeyCached(key string) (*licensing.KeyClaims, error)
	IssueLease(c licensing.LeaseClaims, window time.Duration, now time.Time) (string, time.Time, error)
}

// Counter counts validation answers by license and code.
type Counter interface {
	Record(license uuid.UUID, code string, now time.Time)
}

// Sighter is a Counter that also keeps what the insights detectors need:
// which fingerprint and network each deployment validated from, and failed
// key checks per source address (*db.ValidationStats, batched off the
// request path). A Counter without it records counts only.
type Sighter interface {
	Sight(license uuid.UUID, deploymentID, fingerprint, ip string, now time.Time)
	Failure(source, kind string, license uuid.UUID, now time.Time)
}

// SeenRecorder keeps the times deployments were seen, to be written in
// batches off the request path (*db.LastSeen).
type SeenRecorder interface {
	Seen(id uuid.UUID, t time.Time)
	Newest(id uuid.UUID, stored time.Time) time.Time
}

// Machine runs the machine API's use cases.
type Machine struct {
	store   MachineStore
	keys    Verifier
	stats   Counter
	seen    SeenRecorder
	now     func() time.Time
	overage overageMarks
	decoded db.PolicyMemo // the policy documents of validation rows, decoded once
}

// overageMarks remembers, per license, the most seats this process has
// recorded as held in overage for a period and seat limit. A license in
// overage is so for every validation of every deployment; the stored peak
// only changes when the seats held rise (or a new period or limit starts),
// so only then is it written. Each process writes at least once per period
// and the SQL keeps the greatest, so several processes stay correct.
type overageMarks struct {
	mu sync.Mutex
	m  map[uuid.UUID]overageMark
}

type overageMark struct {
	periodStart time.Time
	max, held   int
}

// covered reports whether held seats in overage are already recorded.
func (o *overageMarks) covered(license uuid.UUID, periodStart time.Time, max, held int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	k, ok := o.m[license]
	return ok && k.periodStart.Equal(periodStart) && k.max == max && k.held >= held
}

// note remembers a recorded peak.
func (o *overageMarks) note(license uuid.UUID, periodStart time.Time, max, held int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil || len(o.m) >= maxOverageMarks {
		// Bounded: forgetting only costs one more write per license.
		o.m = map[uuid.UUID]overageMark{}
	}
	o.m[license] = overageMark{periodStart: periodStart, max: max, held: held}
}

// maxOverageMarks bounds the licenses remembered in overage.
const maxOverageMarks = 100_000

// NewMachine builds the machine use cases over their dependencies; now is
// the clock (time.Now in production).
func NewMachine(store MachineStore, keys Verifier, stats Counter, seen SeenRecorder, now func() time.Time) *Machine {
	return &Machine{store: store, keys: keys, stats: stats, seen: seen, now: now}
}

// Credentials are what a machine request authenticates with.
type Credentials struct {
	Key          string
	DeploymentID string
	// Throttle, when set, is asked once the key's hash is known and before
	// any other work, so one key's requests can be rate limited wherever they
	// come from. Its error is returned as is.
	Throttle func(keyHash [32]byte) error
}

// ValidateRequest is one validation or heartbeat.
type ValidateRequest struct {
	Credentials
	Fingerprint, Hostname, IP, AppVersion string
	// FingerprintComponents are the fingerprint's named parts (host, mac,
	// cpu, disk), each an HMAC computed by the client.
	FingerprintComponents map[string]string
	Features              []string // required features; none for a heartbeat
	Explain               bool
	// UserAgent and RequestID go into the audit rows of fingerprint
	// changes and refusals.
	UserAgent, RequestID string
}

// Validation is the validate and heartbeat answer of the machine API.
type Validation struct {
	Valid          bool              `json:"valid"`
	Code           string            `json:"code"`
	Detail         string            `json:"detail"`
	License        *ValidLicense     `json:"license"`
	Deployment     *DeploymentView   `json:"deployment"`
	Lease          *string           `json:"lease"`
	LeaseExpiresAt *time.Time        `json:"leaseExpiresAt"`
	ServerTime     time.Time         `json:"serverTime"`
	Explain        []licensing.Check `json:"explain,omitempty"`
	Warnings       []string          `json:"warnings,omitempty"`
}

// ValidLicense is the license block of a validation answer.
type ValidLicense struct {
	ID                uuid.UUID        `json:"id"`
	Status            string           `json:"status"`
	Plan              string           `json:"plan"`
	Features          []string         `json:"features"`
	Limits            map[string]int64 `json:"limits"`
	MaxDeployments    *int32           `json:"maxDeployments"`
	ActiveDeployments int              `json:"activeDeployments"`
	ExpiresAt         *time.Time       `json:"expiresAt"`
	GraceEndsAt       *time.Time       `json:"graceEndsAt"`
	DunningEndsAt     *time.Time       `json:"dunningEndsAt,omitempty"`
	// NewestAllowedVersion is set when an expired license falls back under
	// the maintain strategy: the newest application version it still runs.
	NewestAllowedVersion string `json:"newestAllowedVersion,omitempty"`
}

// DeploymentView is a deployment as the machine API shows it: its state in
// the API's words (offline folds into active).
type DeploymentView struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	FirstSeenAt time.Time `json:"firstSeenAt"`
	LastSeenAt  time.Time `json:"lastSeenAt"`
}

func deploymentView(d db.Deployment, window time.Duration, now time.Time) DeploymentView {
	return DeploymentView{ID: d.DeploymentID, Status: string(d.State(window, now).APIState()),
		FirstSeenAt: d.FirstSeenAt.UTC(), LastSeenAt: d.LastSeenAt.UTC()}
}

// Validate runs one validation (or, without features, a heartbeat): verify
// the key, read the license, settle the deployment's seat, decide the code,
// sign a lease. A bad or unknown key is an answer, not an error; errors are
// for rate limits and failures.
func (m *Machine) Validate(ctx context.Context, r ValidateRequest) (Validation, error) {
	now := m.now()
	ans := Validation{ServerTime: now.UTC()}
	key, err := licensing.NormalizeKey(r.Key)
	if err != nil {
		m.failedKey(r, "", now)
		return m.keyFailure(ans, err, uuid.Nil, now), nil
	}
	hash := licensing.KeyHash(key)
	if r.Throttle != nil {
		if err := r.Throttle(hash); err != nil {
			return ans, err
		}
	}
	claims, err := m.keys.ParseKeyCached(key)
	if err != nil {
		m.failedKey(r, key, now)
		return m.keyFailure(ans, err, uuid.Nil, now), nil
	}
	row, err := m.store.ValidationContext(ctx, hash, r.DeploymentID, now)
	if err != nil {
		if licensing.ErrorCode(err) == licensing.ENOTFOUND {
			return m.finish(ans, licensing.Decide(licensing.DecisionInput{Found: false, Now: now, Explain: r.Explain}), uuid.Nil, now), nil
		}
		return ans, err
	}
	if row.KeyReplacedAt != nil {
		// Re-keyed: the old key is refused like a revoked one, without
		// touching the deployment.
		ans.Valid, ans.Code = false, string(licensing.CodeRevoked)
		ans.Detail = "this key was replaced on " + row.KeyReplacedAt.UTC().Format("2006-01-02") + "; use the license's current key"
		m.stats.Record(row.ID, ans.Code, now)
		return ans, nil
	}
	if claims.LicenseID != row.ID.String() {
		// A correctly signed key whose hash belongs to another license cannot
		// happen unless the database was edited: refuse rather than guess.
		return ans, licensing.Internal(errors.New("key claims and stored license disagree"))
	}
	lic := licenseFromContext(row)
	window := time.Duration(row.HeartbeatWindowHours) * time.Hour
	info := db.DeploymentInfo{DeploymentID: r.DeploymentID, Fingerprint: r.Fingerprint, Hostname: r.Hostname,
		IP: r.IP, AppVersion: r.AppVersion}
	pol := m.decoded.Policy(row.FingerprintPolicy, row.FingerprintMatch, row.LeaseHours, row.TransfersPerPeriod,
		row.TransferPeriodDays, row.SeatOverage, row.LimitEnforcement, row.ExpiryStrategy, row.PolicyOverrides)
	in := licensing.DecisionInput{
		Found:             true,
		License:           lic.FactsForStatus(),
		RequestedFeatures: r.Features,
		EntitledFeatures:  row.Features,
		MaxDeployments:    int(ptrOr(row.MaxDeployments, 0)),
		Policy:            pol,
		Fingerprint:       licensing.Fingerprint{ID: r.Fingerprint, Components: r.FingerprintComponents},
		AppVersion:        r.AppVersion,
		Now:               now,
		Explain:           r.Explain,
	}
	if pol.ExpiryStrategy == licensing.ExpiryMaintain && lic.Effective(now).State == licensing.StateExpired {
		// Only an expired license under maintain reads the release dates:
		// the publication dates of its products' releases.
		if in.Releases, err = m.store.Releases(ctx, row.ID); err != nil {
			return ans, err
		}
	}
	dep, seats, err := m.settleSeat(ctx, row, &in, info, window, now)
	if err != nil {
		return ans, err
	}
	dec := licensing.Decide(in)
	ans = m.finish(ans, dec, row.ID, now)
	if sg, ok := m.stats.(Sighter); ok {
		sg.Sight(row.ID, r.DeploymentID, r.Fingerprint, r.IP, now)
	}
	if err := m.applyPolicyOutcome(ctx, r, row, in, dec, dep, seats, now); err != nil {
		return ans, err
	}
	eff := lic.Effective(now)
	// Shared by every answer of the same limits, and only marshalled.
	limits, graceEnd := m.decoded.Limits(row.Limits), lic.GraceEnd()
	ans.License = &ValidLicense{ID: row.ID, Status: string(eff.State), Plan: row.PlanCode,
		Features: nonNil(row.Features), Limits: limits, MaxDeployments: row.MaxDeployments,
		ActiveDeployments: seats, ExpiresAt: utcPtr(row.ExpiresAt), GraceEndsAt: graceEnd,
		DunningEndsAt: utcPtr(eff.DunningEndsAt), NewestAllowedVersion: dec.NewestAllowedVersion}
	if dep != nil {
		v := deploymentView(*dep, window, now)
		ans.Deployment = &v
	}
	if dec.Valid {
		claims := licensing.LeaseClaims{
			LicenseID: row.ID.String(), CustomerID: row.CustomerID.String(), DeploymentID: r.DeploymentID,
			Status: eff.State, Code: dec.Code, Plan: row.PlanCode, Features: nonNil(row.Features),
			Limits: limits, MaxDeployments: int(ptrOr(row.MaxDeployments, 0)),
			LicenseExpiresAt: row.ExpiresAt, GraceEndsAt: graceEnd, DunningEndsAt: eff.DunningEndsAt,
		}
		if dec.Code == licensing.CodeVersionLocked {
			claims.MaxVersion = dec.NewestAllowedVersion
		}
		if pol.FingerprintPolicy == licensing.FingerprintLock || pol.FingerprintPolicy == licensing.FingerprintComponents {
			// A lease copied with the state folder to another machine is
			// then refused there too, even offline.
			claims.Fingerprint = r.Fingerprint
		}
		claims.LimitEnforcement = softLimits(pol.LimitEnforcement)
		token, exp, err := m.keys.IssueLease(claims, pol.LeaseWindow(row.OfflineDays), now)
		switch {
		case licensing.ErrorCode(err) == licensing.ECONFLICT:
			// Valid at this very instant (the grace or dunning end) with no
			// whole second left to lease: the answer stands, without a lease.
			ans.Warnings = append(ans.Warnings, "no lease: the license stops validating now")
		case err != nil:
			return ans, licensing.Internal(err)
		default:
			ans.Lease, ans.LeaseExpiresAt = &token, &exp
		}
	}
	return ans, nil
}

// settleSeat decides twice. First with the stored facts read in one query:
// only a license that passes the status checks may take or refresh a seat.
// Then in reflects the seat's outcome under the license lock, for the final
// Decide. It returns the deployment to show (nil: none) and the seats in use.
func (m *Machine) settleSeat(ctx context.Context, row db.GetValidationContextRow, in *licensing.DecisionInput,
	info db.DeploymentInfo, window time.Duration, now time.Time) (*db.Deployment, int, error) {
	seats := int(row.SeatsInUse)
	holds := row.DeploymentStatus != nil && *row.DeploymentStatus == string(licensing.DeploymentStoredActive) &&
		db.HoldsSeat(*row.DeploymentStatus, *row.DeploymentLastSeenAt, row.DeploymentOfflineUntil, window, now)
	in.Deployment = licensing.DeploymentFacts{ID: info.DeploymentID, Exists: row.DeploymentPk != nil,
		Deactivated: row.DeploymentStatus != nil && *row.DeploymentStatus == string(licensing.DeploymentDeactivated), HoldsSeat: holds}
	in.SeatsInUse = seats
	if holds {
		in.SeatsInUse = seats - 1 // seats held by the others
	}
	if in.Policy.FingerprintPolicy == licensing.FingerprintLock || in.Policy.FingerprintPolicy == licensing.FingerprintComponents {
		in.Deployment.Fingerprint = m.storedFingerprint(row, in.Policy.FingerprintPolicy)
	}
	allowance := licensing.SeatAllowance(in.MaxDeployments, in.Policy.SeatOverage)
	if holds && allowance > 0 && seats > allowance {
		// More holders than seats (after a downgrade): this deployment keeps
		// its seat only if it is among the oldest.
		d := deploymentFromContext(row, info.DeploymentID)
		rank, err := m.store.SeatRank(ctx, row.ID, d.ID, d.FirstSeenAt, window, now)
		if err != nil {
			return nil, seats, err
		}
		in.Deployment.SeatRank = rank
	}
	pre := licensing.Decide(*in)
	if !pre.Code.Valid() && pre.Code != licensing.CodeFeatureNotEntitled {
		if row.DeploymentPk != nil {
			d := deploymentFromContext(row, info.DeploymentID)
			d.LastSeenAt = m.seen.Newest(d.ID, d.LastSeenAt)
			return &d, seats, nil
		}
		return nil, seats, nil
	}
	var dep *db.Deployment
	if holds {
		d := deploymentFromContext(row, info.DeploymentID)
		if now.Sub(d.LastSeenAt) > window-db.SeenMargin || d.Hostname != info.Hostname || d.AppVersion != info.AppVersion ||
			d.Fingerprint != info.Fingerprint || d.Ip != info.IP {
			// The refresh re-checks the seat under the row's lock, so a
			// release that committed after our read wins: the deployment
			// then goes the way of any other that lacks a seat below.
			refreshed, ok, err := m.store.RefreshSeat(ctx, d.ID, window, info, now)
			if err != nil {
				return nil, seats, err
			}
			d, holds = refreshed, ok
		} else {
			// Seen well inside its window: the time waits for the next
			// batch of last-seen writes (db.LastSeen), off this request.
			m.seen.Seen(d.ID, now)
			d.LastSeenAt = now
		}
		// An answer without a write stands for the state read above: a
		// release committed after that read comes after this answer.
		if holds {
			dep = &d
		}
	}
	if !holds {
		// Seats are admitted up to the overage allowance (0: unlimited).
		var limit *int32
		if allowance > 0 {
			l := int32(allowance)
			limit = &l
		} else if allowance < 0 {
			limit = row.MaxDeployments
		}
		// The count matters from the plan's own seats on (SEAT_OVERAGE,
		// TOO_MANY_DEPLOYMENTS); below them the seat is granted on the
		// license's tally, uncounted.
		a, err := m.store.AcquireSeats(ctx, db.SeatRequest{LicenseID: row.ID, Limit: limit, CountFrom: row.MaxDeployments,
			Window: window, Info: info, Now: now})
		if err != nil {
			return nil, seats, err
		}
		d, outcome, inUse := a.Deployment, a.Outcome, a.InUse
		if inUse < 0 {
			// Uncounted: the others held fewer than the plan's seats, so the
			// answer is the count read before asking, plus this one, within them.
			inUse = in.SeatsInUse + 1
			if row.MaxDeployments != nil {
				inUse = min(inUse, int(*row.MaxDeployments))
			}
		}
		switch outcome {
		case db.SeatHeld:
			dep, seats = &d, inUse
			stored := in.Deployment.Fingerprint
			in.Deployment = licensing.DeploymentFacts{ID: info.DeploymentID, Exists: true, HoldsSeat: true, Fingerprint: stored}
			in.SeatsInUse = inUse - 1
		case db.SeatDeactivated:
			in.Deployment = licensing.DeploymentFacts{ID: info.DeploymentID, Exists: true, Deactivated: true}
		case db.SeatsFull:
			in.Deployment = licensing.DeploymentFacts{ID: info.DeploymentID, Exists: row.DeploymentPk != nil}
			in.SeatsInUse = inUse
		}
	}
	return dep, seats, nil
}

// softLimits is the lease's limitEnforcement: the soft entries of the
// policy's, which is itself when every entry is soft (the common case: a
// plan lists the metrics it lets go over). The policy's map is shared, so a
// mixed one is copied, never edited.
func softLimits(enf map[string]licensing.Enforcement) map[string]licensing.Enforcement {
	soft := 0
	for _, e := range enf {
		if e == licensing.EnforceSoft {
			soft++
		}
	}
	switch soft {
	case 0:
		return nil
	case len(enf):
		return enf
	}
	out := make(map[string]licensing.Enforcement, soft)
	for metric, e := range enf {
		if e == licensing.EnforceSoft {
			out[metric] = e
		}
	}
	return out
}

// storedFingerprint is the deployment's fingerprint as stored (components
// decoded only under the components policy, which reads them).
func (m *Machine) storedFingerprint(row db.GetValidationContextRow, policy licensing.FingerprintPolicy) licensing.Fingerprint {
	f := licensing.Fingerprint{ID: ptrOr(row.DeploymentFingerprint, "")}
	if policy == licensing.FingerprintComponents {
		f.Components = m.decoded.Components(row.DeploymentFingerprintComponents)
	}
	return f
}

// applyPolicyOutcome persists what the decision says of the policies: a
// fingerprint bound or changed within policy is stored (a change audited), a
// refused one audited; a seat held in overage is recorded for true-up.
func (m *Machine) applyPolicyOutcome(ctx context.Context, r ValidateRequest, row db.GetValidationContextRow,
	in licensing.DecisionInput, dec licensing.Decision, dep *db.Deployment, seats int, now time.Time) error {
	actor := func() licensing.Actor { // built only when a row is written
		return licensing.Actor{Type: licensing.ActorClient, ID: r.DeploymentID, Label: "installation " + r.DeploymentID,
			IP: r.IP, UserAgent: r.UserAgent, RequestID: r.RequestID}
	}
	switch {
	case dec.Code == licensing.CodeFingerprintMismatch:
		if err := m.store.AuditFingerprintRefused(ctx, actor(), row.ID, row.CustomerID, r.DeploymentID,
			in.Deployment.Fingerprint, in.Fingerprint, now); err != nil {
			return err
		}
	case dep != nil && dec.Valid && (dec.Fingerprint == licensing.FingerprintChanged ||
		dec.Fingerprint == licensing.FingerprintBind && (len(in.Fingerprint.Components) > 0 || dep.Fingerprint != in.Fingerprint.ID)):
		// A bind under lock was already written with the seat; components
		// and changes are written here.
		if err := m.store.SetDeploymentFingerprint(ctx, actor(), row.ID, row.CustomerID, dep.ID, r.DeploymentID,
			in.Deployment.Fingerprint, in.Fingerprint, dec.Fingerprint == licensing.FingerprintChanged, now); err != nil {
			return err
		}
	}
	if dec.Overage && in.MaxDeployments > 0 {
		start, end := licensing.MonthPeriod(now)
		if row.BillingPeriodStart != nil && row.BillingPeriodEnd != nil && !now.Before(*row.BillingPeriodStart) &&
			now.Before(*row.BillingPeriodEnd) {
			start, end = *row.BillingPeriodStart, *row.BillingPeriodEnd
		}
		if !m.overage.covered(row.ID, start, in.MaxDeployments, seats) {
			if err := m.store.RecordSeatOverage(ctx, row.ID, start, end, in.MaxDeployments, seats, now); err != nil {
				return err
			}
			m.overage.note(row.ID, start, in.MaxDeployments, seats)
		}
	}
	return nil
}

// failedKey records a key that did not parse or verify against its source
// address, with the license id the key claims when it can be read (a
// forged key names the license it imitates; the claim is evidence, never
// trusted for anything else).
func (m *Machine) failedKey(r ValidateRequest, key string, now time.Time) {
	sg, ok := m.stats.(Sighter)
	if !ok || r.IP == "" {
		return
	}
	named := uuid.Nil
	if key != "" {
		if sub, err := licensing.KeySubject(key); err == nil {
			if id, err := uuid.Parse(sub); err == nil {
				named = id
			}
		}
	}
	sg.Failure(r.IP, "key", named, now)
}

// keyFailure answers a key that did not parse or verify.
func (m *Machine) keyFailure(ans Validation, err error, license uuid.UUID, now time.Time) Validation {
	var ke *licensing.KeyError
	code := licensing.CodeInvalidKey
	detail := "the license key is malformed"
	if errors.As(err, &ke) {
		code, detail = ke.Code, ke.Reason
	}
	ans.Valid, ans.Code, ans.Detail = false, string(code), detail
	m.stats.Record(license, string(code), now)
	return ans
}

// finish fills the answer's verdict and counts it.
func (m *Machine) finish(ans Validation, dec licensing.Decision, license uuid.UUID, now time.Time) Validation {
	ans.Valid, ans.Code, ans.Detail, ans.Explain = dec.Valid, string(dec.Code), dec.Detail(), dec.Trace
	m.stats.Record(license, string(dec.Code), now)
	return ans
}

// authenticate checks the key of a machine request that is not a validation
// (deactivate, usage): an unusable key is EUNAUTHORIZED.
func (m *Machine) authenticate(ctx context.Context, cr Credentials, now time.Time) (db.GetValidationContextRow, error) {
	unauthorized := func(reason string) error {
		return licensing.Errorf(licensing.EUNAUTHORIZED, "%s", reason)
	}
	key, err := licensing.NormalizeKey(cr.Key)
	if err != nil {
		return db.GetValidationContextRow{}, unauthorized("the license key is malformed")
	}
	hash := licensing.KeyHash(key)
	if cr.Throttle != nil {
		if err := cr.Throttle(hash); err != nil {
			return db.GetValidationContextRow{}, err
		}
	}
	if _, err := m.keys.ParseKeyCached(key); err != nil {
		return db.GetValidationContextRow{}, unauthorized("the license key is not valid")
	}
	row, err := m.store.ValidationContext(ctx, hash, cr.DeploymentID, now)
	if err != nil {
		if licensing.ErrorCode(err) == licensing.ENOTFOUND {
			return row, unauthorized("no license has this key")
		}
		return row, err
	}
	if row.KeyReplacedAt != nil {
		return row, unauthorized("this key was replaced by a newer one")
	}
	return row, nil
}

// Release is the answer to a deactivation.
type Release struct {
	Deployment DeploymentView
	ServerTime time.Time
}

// Deactivate releases the seat of the installation that asks (e.g. on
// uninstall); actor is that installation, for the audit log.
func (m *Machine) Deactivate(ctx context.Context, cr Credentials, actor licensing.Actor) (Release, error) {
	now := m.now()
	row, err := m.authenticate(ctx, cr, now)
	if err != nil {
		return Release{}, err
	}
	d, err := m.store.ReleaseDeployment(ctx, actor, row.ID, row.CustomerID, cr.DeploymentID, "client", now)
	if err != nil {
		return Release{}, err
	}
	return Release{Deployment: deploymentView(d, time.Duration(row.HeartbeatWindowHours)*time.Hour, now),
		ServerTime: now.UTC()}, nil
}

// UsageReceipt is the answer to a usage report: what happened to each report
// and the period's usage against the license's limits.
type UsageReceipt struct {
	Results []db.UsageReportResult
	Usage   map[string]licensing.LimitUsage
}

// ReportUsage records an installation's usage reports, each exactly once.
func (m *Machine) ReportUsage(ctx context.Context, cr Credentials, reports []db.UsageReportIn) (UsageReceipt, error) {
	// The key is read with the time before recording, as the reports are
	// recorded at that instant.
	now := m.now()
	row, err := m.authenticate(ctx, cr, now)
	if err != nil {
		return UsageReceipt{}, err
	}
	lic := db.UsageLicense{ID: row.ID, CustomerID: row.CustomerID, BillingPeriodStart: row.BillingPeriodStart,
		BillingPeriodEnd: row.BillingPeriodEnd}
	rec, err := m.store.ReportUsage(ctx, lic, row.DeploymentPk, reports, now)
	if err != nil {
		return UsageReceipt{}, err
	}
	pol := db.PlanPolicy(row.FingerprintPolicy, row.FingerprintMatch, row.LeaseHours, row.TransfersPerPeriod,
		row.TransferPeriodDays, row.SeatOverage, row.LimitEnforcement, row.ExpiryStrategy).
		With(db.DecodePolicyOverrides(row.PolicyOverrides))
	return UsageReceipt{Results: rec.Results, Usage: UsageAgainstLimits(m.decoded.Limits(row.Limits), rec.Current, pol)}, nil
}

// UsageAgainstLimits evaluates each limit against what was used, with the
// metric's enforcement: over a soft limit is exceeded but not blocked (the
// excess is what true-up invoices).
func UsageAgainstLimits(limits map[string]int64, used map[string]int64, pol licensing.Policy) map[string]licensing.LimitUsage {
	out := make(map[string]licensing.LimitUsage, len(limits))
	for name, limit := range limits {
		out[name] = licensing.EvaluateLimitPolicy(used[name], limit, pol.Enforcement(name))
	}
	return out
}

func licenseFromContext(r db.GetValidationContextRow) db.License {
	return db.License{ID: r.ID, CustomerID: r.CustomerID, Status: r.Status, SuspendedReason: r.SuspendedReason,
		Features: r.Features, Limits: r.Limits, MaxDeployments: r.MaxDeployments, StartsAt: r.StartsAt,
		ExpiresAt: r.ExpiresAt, GraceDays: r.GraceDays, OfflineDays: r.OfflineDays,
		HeartbeatWindowHours: r.HeartbeatWindowHours, DunningDays: r.DunningDays, PaymentState: r.PaymentState,
		PastDueSince: r.PastDueSince, BillingPeriodStart: r.BillingPeriodStart, BillingPeriodEnd: r.BillingPeriodEnd}
}

func deploymentFromContext(r db.GetValidationContextRow, deploymentID string) db.Deployment {
	return db.Deployment{ID: *r.DeploymentPk, LicenseID: r.ID, Status: *r.DeploymentStatus,
		Fingerprint: ptrOr(r.DeploymentFingerprint, ""), Hostname: ptrOr(r.DeploymentHostname, ""),
		Ip: ptrOr(r.DeploymentIp, ""), AppVersion: ptrOr(r.DeploymentAppVersion, ""),
		FirstSeenAt: ptrOr(r.DeploymentFirstSeenAt, time.Time{}), LastSeenAt: ptrOr(r.DeploymentLastSeenAt, time.Time{}),
		OfflineUntil: r.DeploymentOfflineUntil, DeploymentID: deploymentID}
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
