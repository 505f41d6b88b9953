package handlers

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// The machine API: installations authenticate with the license key in the
// body. A validation answer is 200 whatever its code; 4xx means the request
// itself was malformed or unauthenticated.

func (s *Server) registerMachineRoutes(api fiber.Router) {
	perIP := s.rateLimit("machine-ip", s.cfg.MachineRateIP, keyByIP)
	api.Post("/validation/validate", perIP, s.validate)
	api.Post("/validation/heartbeat", perIP, s.heartbeat)
	api.Post("/validation/deactivate", perIP, s.deactivate)
	api.Post("/usage/report", perIP, s.reportUsage)
}

// machineBody is the common part of machine requests.
type machineBody struct {
	LicenseKey   *string  `json:"licenseKey"`
	DeploymentID *string  `json:"deploymentId"`
	Fingerprint  *string  `json:"fingerprint"`
	Hostname     *string  `json:"hostname"`
	AppVersion   *string  `json:"appVersion"`
	Features     []string `json:"features"`
	Explain      bool     `json:"explain"`
}

// check validates the fields every machine request has.
func (b *machineBody) check() error {
	var pr licensing.Problems
	if b.LicenseKey == nil || strings.TrimSpace(*b.LicenseKey) == "" {
		pr.Add("licenseKey", "is required")
	} else if len(*b.LicenseKey) > 16<<10 {
		pr.Add("licenseKey", "is far longer than any license key")
	}
	if b.DeploymentID == nil || *b.DeploymentID == "" {
		pr.Add("deploymentId", "is required (a stable id the installation chooses, e.g. a UUID)")
	} else if len(*b.DeploymentID) > 128 || !printableASCII(*b.DeploymentID) {
		pr.Add("deploymentId", "must be 1 to 128 printable ASCII characters")
	}
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"fingerprint", b.Fingerprint, 256}, {"hostname", b.Hostname, 256}, {"appVersion", b.AppVersion, 64}} {
		if f.v != nil && len(*f.v) > f.max {
			pr.Add(f.name, "is too long")
		}
	}
	if len(b.Features) > 100 {
		pr.Add("features", "at most 100 features may be required at once")
	}
	return pr.Err()
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return string([]byte(*p))
}

// validationAnswer is the validate and heartbeat answer of ARCHITECTURE.md.
type validationAnswer struct {
	Valid          bool               `json:"valid"`
	Code           string             `json:"code"`
	Detail         string             `json:"detail"`
	License        *machineLicense    `json:"license"`
	Deployment     *machineDeployment `json:"deployment"`
	Lease          *string            `json:"lease"`
	LeaseExpiresAt *time.Time         `json:"leaseExpiresAt"`
	ServerTime     time.Time          `json:"serverTime"`
	Explain        []licensing.Check  `json:"explain,omitempty"`
	Warnings       []string           `json:"warnings,omitempty"`
}

type machineLicense struct {
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
}

type machineDeployment struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	FirstSeenAt time.Time `json:"firstSeenAt"`
	LastSeenAt  time.Time `json:"lastSeenAt"`
}

// validate handles POST /api/validation/validate.
func (s *Server) validate(c *fiber.Ctx) error { return s.checkLicense(c, true) }

// heartbeat handles POST /api/validation/heartbeat: a validation without
// required features, answered with a fresh lease.
func (s *Server) heartbeat(c *fiber.Ctx) error { return s.checkLicense(c, false) }

func (s *Server) checkLicense(c *fiber.Ctx, withFeatures bool) error {
	var b machineBody
	if err := decodeJSONLenient(c, &b); err != nil {
		return err
	}
	if err := b.check(); err != nil {
		return err
	}
	if !withFeatures {
		b.Features = nil
	}
	ans, err := s.decideValidation(c, &b)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(ans)
}

// keyRateLimit limits one license key's requests, wherever they come from.
func (s *Server) keyRateLimit(c *fiber.Ctx, hash [32]byte) error {
	return s.allow(c, "machine-key:"+hexString(hash[:8]), s.cfg.MachineRateKey)
}

// decideValidation runs one validation: parse and verify the key, read the
// license, settle the deployment's seat, decide the code, sign a lease.
func (s *Server) decideValidation(c *fiber.Ctx, b *machineBody) (validationAnswer, error) {
	ctx := c.UserContext()
	now := s.now()
	ans := validationAnswer{ServerTime: now.UTC()}
	key, err := licensing.NormalizeKey(*b.LicenseKey)
	if err != nil {
		return s.keyFailure(ans, err, uuid.Nil, now), nil
	}
	hash := licensing.KeyHash(key)
	if err := s.keyRateLimit(c, hash); err != nil {
		return ans, err
	}
	claims, err := s.keys.ParseKeyCached(key)
	if err != nil {
		return s.keyFailure(ans, err, uuid.Nil, now), nil
	}
	deploymentID := deref(b.DeploymentID)
	row, err := s.store.Q.GetValidationContext(ctx, db.GetValidationContextParams{KeyHash: hash[:],
		DeploymentID: deploymentID, Now: now})
	if err != nil {
		if licensing.ErrorCode(db.Translate(err)) == licensing.ENOTFOUND {
			return s.finish(ans, licensing.Decide(licensing.DecisionInput{Found: false, Now: now, Explain: b.Explain}), uuid.Nil, now), nil
		}
		return ans, db.Translate(err)
	}
	if row.KeyReplacedAt != nil {
		// Re-keyed: the old key is refused like a revoked one, without
		// touching the deployment.
		ans.Valid, ans.Code = false, string(licensing.CodeRevoked)
		ans.Detail = "this key was replaced on " + row.KeyReplacedAt.UTC().Format("2006-01-02") + "; use the license's current key"
		s.stats.Record(row.ID, ans.Code, now)
		return ans, nil
	}
	if claims.LicenseID != row.ID.String() {
		// A correctly signed key whose hash belongs to another license cannot
		// happen unless the database was edited: refuse rather than guess.
		return ans, licensing.Internal(errors.New("key claims and stored license disagree"))
	}
	lic := licenseFromContext(row)
	window := time.Duration(row.HeartbeatWindowHours) * time.Hour
	in := licensing.DecisionInput{
		Found:             true,
		License:           lic.FactsForStatus(),
		RequestedFeatures: b.Features,
		EntitledFeatures:  row.Features,
		MaxDeployments:    int(ptrOr(row.MaxDeployments, 0)),
		Now:               now,
		Explain:           b.Explain,
	}
	seats := int(row.SeatsInUse)
	holds := row.DeploymentStatus != nil && *row.DeploymentStatus == string(licensing.DeploymentStoredActive) &&
		db.HoldsSeat(*row.DeploymentStatus, *row.DeploymentLastSeenAt, row.DeploymentOfflineUntil, window, now)
	in.Deployment = licensing.DeploymentFacts{ID: deploymentID, Exists: row.DeploymentPk != nil,
		Deactivated: row.DeploymentStatus != nil && *row.DeploymentStatus == string(licensing.DeploymentDeactivated), HoldsSeat: holds}
	in.SeatsInUse = seats
	if holds {
		in.SeatsInUse = seats - 1 // seats held by the others
	}
	// First decide with the stored facts. Only a license that passes the
	// status checks may take or refresh a seat.
	pre := licensing.Decide(in)
	var dep *db.Deployment
	info := db.DeploymentInfo{DeploymentID: deploymentID, Fingerprint: deref(b.Fingerprint), Hostname: deref(b.Hostname),
		IP: c.IP(), AppVersion: deref(b.AppVersion)}
	if pre.Code.Valid() || pre.Code == licensing.CodeFeatureNotEntitled {
		if holds {
			d := deploymentFromContext(row, deploymentID)
			if now.Sub(d.LastSeenAt) > window-db.SeenMargin || d.Hostname != info.Hostname || d.AppVersion != info.AppVersion ||
				d.Fingerprint != info.Fingerprint || d.Ip != info.IP {
				// The refresh re-checks the seat under the row's lock, so a
				// release that committed after our read wins: the deployment
				// then goes the way of any other that lacks a seat below.
				refreshed, ok, err := s.store.RefreshSeat(ctx, d.ID, window, info, now)
				if err != nil {
					return ans, err
				}
				d, holds = refreshed, ok
			} else {
				// Seen well inside its window: the time waits for the next
				// batch of last-seen writes (db.LastSeen), off this request.
				s.seen.Seen(d.ID, now)
				d.LastSeenAt = now
			}
			// An answer without a write stands for the state read above: a
			// release committed after that read comes after this answer.
			if holds {
				dep = &d
			}
		}
		if !holds {
			d, outcome, inUse, err := s.store.AcquireSeat(ctx, row.ID, row.MaxDeployments, window, info, now)
			if err != nil {
				return ans, err
			}
			switch outcome {
			case db.SeatHeld:
				dep, seats = &d, inUse
				in.Deployment = licensing.DeploymentFacts{ID: deploymentID, Exists: true, HoldsSeat: true}
				in.SeatsInUse = inUse - 1
			case db.SeatDeactivated:
				in.Deployment = licensing.DeploymentFacts{ID: deploymentID, Exists: true, Deactivated: true}
			case db.SeatsFull:
				in.Deployment = licensing.DeploymentFacts{ID: deploymentID, Exists: row.DeploymentPk != nil}
				in.SeatsInUse = inUse
			}
		}
	} else if row.DeploymentPk != nil {
		d := deploymentFromContext(row, deploymentID)
		d.LastSeenAt = s.seen.Newest(d.ID, d.LastSeenAt)
		dep = &d
	}
	dec := licensing.Decide(in)
	ans = s.finish(ans, dec, row.ID, now)
	eff := lic.Effective(now)
	ans.License = &machineLicense{ID: row.ID, Status: string(eff.State), Plan: row.PlanCode,
		Features: nonNilStrings(row.Features), Limits: db.DecodeLimits(row.Limits), MaxDeployments: row.MaxDeployments,
		ActiveDeployments: seats, ExpiresAt: utcPtr(row.ExpiresAt), GraceEndsAt: lic.GraceEnd(),
		DunningEndsAt: utcPtr(eff.DunningEndsAt)}
	if dep != nil {
		ans.Deployment = &machineDeployment{ID: dep.DeploymentID, Status: string(dep.State(window, now).APIState()),
			FirstSeenAt: dep.FirstSeenAt.UTC(),
			LastSeenAt:  dep.LastSeenAt.UTC()}
	}
	if dec.Valid {
		token, exp, err := s.keys.IssueLease(licensing.LeaseClaims{
			LicenseID: row.ID.String(), CustomerID: row.CustomerID.String(), DeploymentID: deploymentID,
			Status: eff.State, Code: dec.Code, Plan: row.PlanCode, Features: nonNilStrings(row.Features),
			Limits: db.DecodeLimits(row.Limits), MaxDeployments: int(ptrOr(row.MaxDeployments, 0)),
			LicenseExpiresAt: row.ExpiresAt, GraceEndsAt: lic.GraceEnd(), DunningEndsAt: eff.DunningEndsAt,
		}, time.Duration(row.OfflineDays)*24*time.Hour, now)
		if err != nil {
			return ans, licensing.Internal(err)
		}
		ans.Lease, ans.LeaseExpiresAt = &token, &exp
	}
	return ans, nil
}

// keyFailure answers a key that did not parse or verify.
func (s *Server) keyFailure(ans validationAnswer, err error, license uuid.UUID, now time.Time) validationAnswer {
	var ke *licensing.KeyError
	code := licensing.CodeInvalidKey
	detail := "the license key is malformed"
	if errors.As(err, &ke) {
		code, detail = ke.Code, ke.Reason
	}
	ans.Valid, ans.Code, ans.Detail = false, string(code), detail
	s.stats.Record(license, string(code), now)
	return ans
}

// finish fills the answer's verdict and counts it.
func (s *Server) finish(ans validationAnswer, dec licensing.Decision, license uuid.UUID, now time.Time) validationAnswer {
	ans.Valid, ans.Code, ans.Detail, ans.Explain = dec.Valid, string(dec.Code), dec.Detail(), dec.Trace
	s.stats.Record(license, string(dec.Code), now)
	return ans
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
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

// machineLicenseFor authenticates a machine request that is not a
// validation (deactivate, usage): an unusable key is 401.
func (s *Server) machineLicenseFor(c *fiber.Ctx, b *machineBody) (db.GetValidationContextRow, error) {
	unauthorized := func(reason string) error {
		return licensing.Errorf(licensing.EUNAUTHORIZED, "%s", reason)
	}
	key, err := licensing.NormalizeKey(*b.LicenseKey)
	if err != nil {
		return db.GetValidationContextRow{}, unauthorized("the license key is malformed")
	}
	hash := licensing.KeyHash(key)
	if err := s.keyRateLimit(c, hash); err != nil {
		return db.GetValidationContextRow{}, err
	}
	if _, err := s.keys.ParseKeyCached(key); err != nil {
		return db.GetValidationContextRow{}, unauthorized("the license key is not valid")
	}
	row, err := s.store.Q.GetValidationContext(c.UserContext(), db.GetValidationContextParams{KeyHash: hash[:],
		DeploymentID: deref(b.DeploymentID), Now: s.now()})
	if err != nil {
		if licensing.ErrorCode(db.Translate(err)) == licensing.ENOTFOUND {
			return row, unauthorized("no license has this key")
		}
		return row, db.Translate(err)
	}
	if row.KeyReplacedAt != nil {
		return row, unauthorized("this key was replaced by a newer one")
	}
	return row, nil
}

// deactivate handles POST /api/validation/deactivate: the installation
// releases its own seat (e.g. on uninstall).
func (s *Server) deactivate(c *fiber.Ctx) error {
	var b machineBody
	if err := decodeJSONLenient(c, &b); err != nil {
		return err
	}
	if err := b.check(); err != nil {
		return err
	}
	row, err := s.machineLicenseFor(c, &b)
	if err != nil {
		return err
	}
	actor := licensing.Actor{Type: licensing.ActorClient, ID: deref(b.DeploymentID), Label: "installation " + deref(b.DeploymentID),
		IP: c.IP(), UserAgent: string([]byte(c.Get(fiber.HeaderUserAgent))), RequestID: requestIDOf(c)}
	now := s.now()
	d, err := s.store.ReleaseDeployment(c.UserContext(), actor, row.ID, row.CustomerID, deref(b.DeploymentID), "client", now)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"released": true, "deployment": machineDeployment{ID: d.DeploymentID,
		Status:      string(d.State(time.Duration(row.HeartbeatWindowHours)*time.Hour, now).APIState()),
		FirstSeenAt: d.FirstSeenAt.UTC(), LastSeenAt: d.LastSeenAt.UTC()}, "serverTime": now.UTC()})
}

// reportUsage handles POST /api/usage/report.
func (s *Server) reportUsage(c *fiber.Ctx) error {
	var b usageReportBody
	if err := decodeJSONLenient(c, &b); err != nil {
		return err
	}
	mb := machineBody{LicenseKey: b.LicenseKey, DeploymentID: b.DeploymentID}
	if err := mb.check(); err != nil {
		return err
	}
	reports, err := parseUsageReports(b.Reports)
	if err != nil {
		return err
	}
	row, err := s.machineLicenseFor(c, &mb)
	if err != nil {
		return err
	}
	now := s.now()
	lic := db.UsageLicense{ID: row.ID, CustomerID: row.CustomerID, BillingPeriodStart: row.BillingPeriodStart,
		BillingPeriodEnd: row.BillingPeriodEnd}
	rec, err := s.store.ReportUsage(c.UserContext(), lic, row.DeploymentPk, reports, now)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"results": rec.Results, "usage": usageAgainstLimits(db.DecodeLimits(row.Limits), rec.Current)})
}

// flushStats makes this process's validation counts and last-seen times
// visible before a page or answer that shows them.
func (s *Server) flushStats(c *fiber.Ctx) {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.stats.Flush(ctx); err != nil {
		s.log.Warn("flushing validation counts failed", "err", err)
	}
	if err := s.seen.Flush(ctx); err != nil {
		s.log.Warn("flushing last-seen times failed", "err", err)
	}
}
