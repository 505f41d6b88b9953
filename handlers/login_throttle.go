package handlers

// Slowing down password guessing without locking anyone out (OWASP's
// authentication cheat sheet): only failed attempts count, per account and
// client address together; past a few free failures each further attempt
// from that address must wait a growing delay (2, 4, 8 … seconds, capped),
// answered 429 without checking the password. The owner signing in from
// another address is not slowed, unless the account is under a broad attack
// (failures from many addresses), when an account-wide delay applies too. A
// successful sign-in clears its address's failures.
//
// The counts live in PostgreSQL (login_failures), so every portal process
// serving the database applies the same delays, with or without Redis.

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
)

// LoginThrottle configures the sign-in delays; a zero FreeFailures turns
// them off.
type LoginThrottle struct {
	FreeFailures    int           // failures per account and address before delays start
	MaxDelay        time.Duration // the longest wait between attempts
	AccountFailures int           // account-wide failures (each address counting at most FreeFailures) that mean a broad attack
	Forget          time.Duration // failures are forgotten after this long without another
}

func (t LoginThrottle) on() bool { return t.FreeFailures > 0 }

// backoff is the wait after the last failure once failures reached free:
// 2 s after the free-th, doubling with each further one, at most max.
func backoff(failures, free int, max time.Duration) time.Duration {
	if free <= 0 || failures < free {
		return 0
	}
	n := failures - free + 1
	if n >= 31 {
		return max
	}
	return min(time.Duration(1<<n)*time.Second, max)
}

// loginAccountHash keys failures by the lowercased email as typed, known
// account or not, so that refusals look the same for both.
func loginAccountHash(email string) []byte {
	h := sha256.Sum256([]byte("nls-login:" + strings.ToLower(email)))
	return h[:]
}

// loginWait reports how long the client must wait before trying the
// account's password again (0: it may try now).
func (s *Server) loginWait(c *fiber.Ctx, email string) (time.Duration, error) {
	t := s.cfg.LoginThrottle
	if !t.on() {
		return 0, nil
	}
	now := s.now()
	f, err := s.store.GetLoginFailures(c.UserContext(), db.GetLoginFailuresParams{Source: clip(c.IP(), 64),
		PerSource: int32(t.FreeFailures), AccountHash: loginAccountHash(email), ForgetBefore: now.Add(-t.Forget)})
	if err != nil {
		return 0, err
	}
	wait := f.SourceLastFailedAt.Add(backoff(int(f.SourceFailures), t.FreeFailures, t.MaxDelay)).Sub(now)
	if t.AccountFailures > 0 {
		wait = max(wait, f.AccountLastFailedAt.Add(backoff(int(f.AccountFailures), t.AccountFailures, t.MaxDelay)).Sub(now))
	}
	return max(wait, 0), nil
}

// loginFailed counts a failed attempt of the client on the account, and
// now and then forgets old failures of every account.
func (s *Server) loginFailed(c *fiber.Ctx, email string) {
	t := s.cfg.LoginThrottle
	if !t.on() {
		return
	}
	now := s.now()
	ctx := c.UserContext()
	if err := s.store.RecordLoginFailure(ctx, db.RecordLoginFailureParams{AccountHash: loginAccountHash(email),
		Source: clip(c.IP(), 64), Now: now, ForgetBefore: now.Add(-t.Forget)}); err != nil {
		s.log.Warn("recording a failed sign-in failed", "err", err)
	}
	var b [1]byte
	if _, _ = rand.Read(b[:]); b[0] < 4 { // about one failure in 64
		if err := s.store.PruneLoginFailures(ctx, now.Add(-t.Forget)); err != nil {
			s.log.Warn("forgetting old failed sign-ins failed", "err", err)
		}
	}
}

// loginSucceeded clears the client's failures on the account.
func (s *Server) loginSucceeded(c *fiber.Ctx, email string) {
	if !s.cfg.LoginThrottle.on() {
		return
	}
	if err := s.store.ClearLoginFailures(c.UserContext(), db.ClearLoginFailuresParams{
		AccountHash: loginAccountHash(email), Source: clip(c.IP(), 64)}); err != nil {
		s.log.Warn("clearing failed sign-ins failed", "err", err)
	}
}

// tooSoon sets Retry-After (whole seconds, rounded up) and says the wait
// as a person would: "8 seconds", "2 minutes".
func tooSoon(c *fiber.Ctx, wait time.Duration) string {
	secs := max(1, int((wait+time.Second-1)/time.Second))
	c.Set(fiber.HeaderRetryAfter, fmt.Sprint(secs))
	n, unit := secs, "second"
	if secs >= 120 {
		n, unit = (secs+59)/60, "minute"
	}
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
