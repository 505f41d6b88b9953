// Two-factor sign-in with TOTP (RFC 6238): enrolment (a secret, its QR
// code, a first code to prove the authenticator works), checking a code at
// sign-in (each code accepted once), and recovery codes (ten, shown once,
// kept as SHA-256 hashes). The secret is sealed at rest, bound to its user.
package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"image/png"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// TwoFactorStore is what two-factor sign-in needs of persistence.
type TwoFactorStore interface {
	EnableTOTP(ctx context.Context, actor licensing.Actor, userID uuid.UUID, sealed []byte, step int64, codeHashes [][]byte, now time.Time) error
	DisableTOTP(ctx context.Context, actor licensing.Actor, userID uuid.UUID, now time.Time) error
	UseTOTPStep(ctx context.Context, userID uuid.UUID, step int64) (bool, error)
	UseRecoveryCode(ctx context.Context, actor licensing.Actor, userID uuid.UUID, hash []byte, now time.Time) (bool, error)
}

// TwoFactor runs enrolment and code checks.
type TwoFactor struct {
	store  TwoFactorStore
	sealer *licensing.Sealer
	issuer string
	now    func() time.Time
}

// RecoveryCodeCount is how many recovery codes an enrolment hands out.
const RecoveryCodeCount = 10

// totpPeriod and totpSkew: 30-second codes, one step either side accepted
// for clock drift between the phone and the server.
const (
	totpPeriod = 30
	totpSkew   = 1
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewTwoFactor builds the steps; issuer names the service in authenticator apps.
func NewTwoFactor(store TwoFactorStore, sealer *licensing.Sealer, issuer string, now func() time.Time) *TwoFactor {
	return &TwoFactor{store: store, sealer: sealer, issuer: issuer, now: now}
}

// Enrolment is a secret offered to a user, not yet confirmed.
type Enrolment struct {
	Secret string // base32, to type in by hand
	URL    string // otpauth://, what the QR code holds
	QR     string // a PNG data URI of the QR code
}

// NewEnrolment makes a fresh secret for account (the user's email).
func (x *TwoFactor) NewEnrolment(account string) (Enrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: x.issuer, AccountName: account, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Enrolment{}, licensing.Internal(err)
	}
	return EnrolmentOf(key.Secret(), key.URL())
}

// EnrolmentOf rebuilds an enrolment (its QR code) from a secret's URL.
func EnrolmentOf(secret, url string) (Enrolment, error) {
	key, err := otp.NewKeyFromURL(url)
	if err != nil {
		return Enrolment{}, licensing.Internal(err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return Enrolment{}, licensing.Internal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrolment{}, licensing.Internal(err)
	}
	return Enrolment{Secret: secret, URL: url, QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// matchStep is the time step (within the skew) whose code is code, or -1.
func matchStep(secret, code string, at time.Time) int64 {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 {
		return -1
	}
	now := at.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		step := now + d
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0).UTC(), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step
		}
	}
	return -1
}

// Confirm turns two-factor sign-in on when code comes from secret, and
// returns the recovery codes to show once; ok is false for a wrong code.
func (x *TwoFactor) Confirm(ctx context.Context, actor licensing.Actor, userID uuid.UUID, secret, code string) (codes []string, ok bool, err error) {
	step := matchStep(secret, code, x.now())
	if step < 0 {
		return nil, false, nil
	}
	sealed, err := x.sealer.Seal([]byte(secret), userID[:])
	if err != nil {
		return nil, false, licensing.Internal(err)
	}
	codes, hashes := make([]string, RecoveryCodeCount), make([][]byte, RecoveryCodeCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		hashes[i] = RecoveryCodeHash(codes[i])
	}
	if err := x.store.EnableTOTP(ctx, actor, userID, sealed, step, hashes, x.now()); err != nil {
		return nil, false, err
	}
	return codes, true, nil
}

// Disable turns two-factor sign-in off.
func (x *TwoFactor) Disable(ctx context.Context, actor licensing.Actor, userID uuid.UUID) error {
	return x.store.DisableTOTP(ctx, actor, userID, x.now())
}

// Check accepts a six-digit code from u's authenticator (each once) or one
// of u's unused recovery codes (spent by the check). recovery tells which.
func (x *TwoFactor) Check(ctx context.Context, actor licensing.Actor, u db.User, code string) (ok, recovery bool, err error) {
	if u.TotpSecretSealed == nil {
		return false, false, nil
	}
	code = strings.TrimSpace(code)
	if len(strings.ReplaceAll(code, " ", "")) == 6 {
		secret, err := x.sealer.Open(u.TotpSecretSealed, u.ID[:])
		if err != nil {
			return false, false, licensing.Internal(err)
		}
		step := matchStep(string(secret), code, x.now())
		if step < 0 {
			return false, false, nil
		}
		ok, err := x.store.UseTOTPStep(ctx, u.ID, step)
		return ok, false, err
	}
	if normalizeRecoveryCode(code) == "" {
		return false, false, nil
	}
	ok, err = x.store.UseRecoveryCode(ctx, actor, u.ID, RecoveryCodeHash(code), x.now())
	return ok, ok, err
}

// A recovery code is 80 random bits in base32, shown as four groups of four.
func newRecoveryCode() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	s := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// normalizeRecoveryCode accepts a code typed with or without dashes and
// spaces, in any case; "" when it cannot be one.
func normalizeRecoveryCode(code string) string {
	c := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	if len(c) != 16 || strings.Trim(c, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		return ""
	}
	return c
}

// RecoveryCodeHash is how a recovery code is stored.
func RecoveryCodeHash(code string) []byte {
	h := sha256.Sum256([]byte("nls-recovery:" + normalizeRecoveryCode(code)))
	return h[:]
}
