// The license as the app sees it: an immutable snapshot behind an atomic
// pointer, so that gates (Allow, HasFeature, CheckLimit) read memory only,
// take no lock and allocate nothing when they pass.

package client

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/nectarcloud/nls/licensing"
)

// Codes the client decides by itself, next to the server's
// licensing.ValidationCode values (VALID, SUSPENDED, EXPIRED, ...).
const (
	// CodeNotValidated: Start has not established the license yet.
	CodeNotValidated licensing.ValidationCode = "NOT_VALIDATED"
	// CodeUnreachable: the server could not be reached and no usable lease
	// is on disk (first start offline).
	CodeUnreachable licensing.ValidationCode = "SERVER_UNREACHABLE"
	// CodeLeaseExpired: the server has been out of reach longer than the
	// offline lease allows.
	CodeLeaseExpired licensing.ValidationCode = "LEASE_EXPIRED"
	// CodeLeaseInvalid: a lease failed verification (edited, signed by an
	// unknown key, or issued to another deployment).
	CodeLeaseInvalid licensing.ValidationCode = "LEASE_INVALID"
	// CodeClockTampered: the system clock is behind a time already seen
	// (from the server or by this client) by more than the tolerance.
	CodeClockTampered licensing.ValidationCode = "CLOCK_TAMPERED"
	// CodeLimitExceeded: CheckLimit refused (see LimitError).
	CodeLimitExceeded licensing.ValidationCode = "LIMIT_EXCEEDED"
	// CodeDeactivated: Deactivate released this deployment.
	CodeDeactivated = licensing.CodeDeploymentDeactivated
)

// Status is a copy of what the client knows about the license.
type Status struct {
	Valid  bool
	State  licensing.State          // effective state; "" when unknown
	Code   licensing.ValidationCode // the server's code, or one of the client's Code* values
	Detail string                   // a sentence for logs and admins

	LicenseID string
	Plan      string
	Features  []string
	Limits    map[string]int64

	ExpiresAt      *time.Time // license expiry; nil = perpetual
	GraceEndsAt    *time.Time // set in the grace period: warn users before it
	DunningEndsAt  *time.Time // set when payment is overdue: the suspension date
	LeaseExpiresAt time.Time  // the app works offline until then
	LastContact    time.Time  // last answer from the server; zero if none this run
	Offline        bool       // answered from the lease: the last attempt to reach the server failed
}

// snapshot is immutable once published.
type snapshot struct {
	valid      bool
	code       licensing.ValidationCode
	detail     string
	state      licensing.State
	validUntil time.Time // lease exp; not valid at or after it
	features   map[string]struct{}
	limits     map[string]int64
	soft       map[string]licensing.Enforcement // metrics whose limit is soft

	licenseID, plan                       string
	featureList                           []string
	expiresAt, graceEndsAt, dunningEndsAt *time.Time
	leaseExpiresAt, lastContact           time.Time
	offline                               bool
}

func invalidSnapshot(code licensing.ValidationCode, detail string) *snapshot {
	return &snapshot{code: code, detail: detail}
}

// snapshotFromLease builds the valid snapshot a verified lease gives.
func snapshotFromLease(c *licensing.LeaseClaims) *snapshot {
	s := &snapshot{valid: true, code: c.Code, state: c.Status, validUntil: c.ExpiresAt,
		licenseID: c.LicenseID, plan: c.Plan, featureList: slices.Clone(c.Features),
		limits: maps.Clone(c.Limits), expiresAt: c.LicenseExpiresAt, graceEndsAt: c.GraceEndsAt,
		dunningEndsAt: c.DunningEndsAt, leaseExpiresAt: c.ExpiresAt, soft: c.LimitEnforcement}
	if s.code == "" {
		s.code = licensing.CodeValid
	}
	if s.limits == nil {
		s.limits = map[string]int64{}
	}
	s.features = make(map[string]struct{}, len(c.Features))
	for _, f := range c.Features {
		s.features[f] = struct{}{}
	}
	return s
}

// verdict is the hot path: the snapshot and the code that holds now.
func (c *Client) verdict() (*snapshot, licensing.ValidationCode, bool) {
	s := c.snap.Load()
	if !s.valid {
		return s, s.code, false
	}
	now := c.now()
	if now.Unix() < c.notBefore.Load() {
		return s, CodeClockTampered, false
	}
	if !now.Before(s.validUntil) {
		return s, CodeLeaseExpired, false
	}
	return s, s.code, true
}

// Valid reports whether the license allows the app to run now.
func (c *Client) Valid() bool {
	_, _, ok := c.verdict()
	return ok
}

// Status describes the license now. It copies, so it is meant for status
// pages and logs, not for every request (use Allow, HasFeature, CheckLimit).
func (c *Client) Status() Status {
	s, code, ok := c.verdict()
	st := Status{Valid: ok, State: s.state, Code: code, Detail: s.detail, LicenseID: s.licenseID, Plan: s.plan,
		Features: slices.Clone(s.featureList), Limits: maps.Clone(s.limits), ExpiresAt: s.expiresAt,
		GraceEndsAt: s.graceEndsAt, DunningEndsAt: s.dunningEndsAt, LeaseExpiresAt: s.leaseExpiresAt,
		LastContact: s.lastContact, Offline: s.offline}
	switch {
	case code == CodeClockTampered:
		st.Detail = "the system clock is behind a time already seen from the license server; correct the clock"
	case code == CodeLeaseExpired:
		st.Detail = "the license server has been unreachable longer than the offline lease allows (until " +
			s.validUntil.UTC().Format(time.RFC3339) + ")"
	case ok && s.state == licensing.StateActive && s.expiresAt != nil && c.now().After(*s.expiresAt):
		// Offline past the license's expiry: the lease runs to the grace end
		// at most, so the license is in its grace period now.
		st.State, st.Code = licensing.StateGrace, licensing.CodeGracePeriod
	}
	return st
}

// HasFeature reports whether the license is valid and includes feature.
func (c *Client) HasFeature(feature string) bool {
	s, _, ok := c.verdict()
	if !ok {
		return false
	}
	_, has := s.features[feature]
	return has
}

// Limit is the license's limit on metric and whether it has one.
func (c *Client) Limit(metric string) (int64, bool) {
	s := c.snap.Load()
	v, ok := s.limits[metric]
	return v, ok
}

// Allow is nil when the license is valid now, else a *LicenseError.
func (c *Client) Allow() error {
	s, code, ok := c.verdict()
	if ok {
		return nil
	}
	return newLicenseError(s, code)
}

// AllowFeature is nil when the license is valid and includes feature, else
// a *LicenseError (FEATURE_NOT_ENTITLED when only the feature is missing).
func (c *Client) AllowFeature(feature string) error {
	s, code, ok := c.verdict()
	if !ok {
		return newLicenseError(s, code)
	}
	if _, has := s.features[feature]; !has {
		return &LicenseError{Code: licensing.CodeFeatureNotEntitled,
			Message: "the license does not include the feature " + strconv.Quote(feature)}
	}
	return nil
}

// CheckLimit compares current use of metric with the license's limit, the
// way the server does: the limit is the most allowed, so current == limit
// passes and current > limit fails with a *LimitError, unless the license
// enforces that limit softly (then it passes, and the server records the
// excess for true-up). To ask "may one more
// be added?", pass the count after adding it. A metric without a limit
// always passes; an invalid license fails with a *LicenseError.
func (c *Client) CheckLimit(metric string, current int64) error {
	s, code, ok := c.verdict()
	if !ok {
		return newLicenseError(s, code)
	}
	if limit, has := s.limits[metric]; has && current > limit && s.soft[metric] != licensing.EnforceSoft {
		// A soft limit lets use go over: the server records the excess
		// for true-up instead.
		return &LimitError{Metric: metric, Limit: limit, Current: current}
	}
	return nil
}

// LicenseError says why the license does not allow something now.
type LicenseError struct {
	Code    licensing.ValidationCode
	Message string
	// Payment is true when paying would fix it (expired, suspended for an
	// overdue payment): HTTP answers use 402 then, else 403.
	Payment bool
}

func (e *LicenseError) Error() string { return "license: " + string(e.Code) + ": " + e.Message }

func newLicenseError(s *snapshot, code licensing.ValidationCode) *LicenseError {
	e := &LicenseError{Code: code, Message: s.detail}
	switch code {
	case CodeLeaseExpired:
		e.Message = "the license server has been unreachable longer than the offline lease allows"
	case CodeClockTampered:
		e.Message = "the system clock is behind a time already seen from the license server"
	case licensing.CodeExpired:
		e.Payment = true
	case licensing.CodeSuspended:
		e.Payment = s.dunningEndsAt != nil
	}
	if e.Message == "" {
		e.Message = "the license is not valid (" + string(code) + ")"
	}
	return e
}

// LimitError is CheckLimit's refusal: the metric, its limit and the use
// that went past it.
type LimitError struct {
	Metric  string
	Limit   int64
	Current int64
}

func (e *LimitError) Error() string {
	return "license limit exceeded: " + e.Metric + " is " + strconv.FormatInt(e.Current, 10) +
		", the license allows " + strconv.FormatInt(e.Limit, 10)
}

// Refusal turns an error of Allow, AllowFeature or CheckLimit into the HTTP
// status and JSON body the middleware answers: 402 when paying would fix it,
// 403 otherwise, with {"error": {"code": ..., "message": ...}}; a LimitError
// adds "limit" and "current".
func Refusal(err error) (status int, body []byte) {
	type errBody struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Metric  string `json:"metric,omitempty"`
		Limit   *int64 `json:"limit,omitempty"`
		Current *int64 `json:"current,omitempty"`
	}
	status, eb := http.StatusForbidden, errBody{Code: "LICENSE_ERROR", Message: "the license does not allow this"}
	var le *LicenseError
	var lim *LimitError
	switch {
	case errors.As(err, &lim):
		eb = errBody{Code: string(CodeLimitExceeded), Message: lim.Error(), Metric: lim.Metric,
			Limit: &lim.Limit, Current: &lim.Current}
	case errors.As(err, &le):
		eb.Code, eb.Message = string(le.Code), le.Message
		if le.Payment {
			status = http.StatusPaymentRequired
		}
	}
	body, _ = json.Marshal(struct {
		Error errBody `json:"error"`
	}{eb})
	return status, body
}
