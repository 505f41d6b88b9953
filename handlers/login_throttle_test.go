package handlers_test

// Failed sign-ins slow down the address they come from, growing with each
// failure, without locking the account's owner out; only a broad attack
// (many addresses) slows everyone.

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nectarcloud/nls/handlers"
)

// throttled is an env whose clients' addresses come from X-Forwarded-For
// (every address is a trusted proxy in tests), with sign-in delays on.
func throttled(t *testing.T, accountFailures int) *acctEnv {
	return newAcctEnv(t, func(c *handlers.Config) {
		c.TrustedProxies = []string{"0.0.0.0"}
		c.LoginThrottle = handlers.LoginThrottle{FreeFailures: 5, MaxDelay: 15 * time.Minute,
			AccountFailures: accountFailures, Forget: 24 * time.Hour}
	})
}

// tryLogin is one sign-in attempt from ip, in a fresh browser.
func tryLogin(t *testing.T, e *acctEnv, ip, email, pw string) page {
	t.Helper()
	b := newBrowser(t, e.testEnv)
	from := map[string]string{"X-Forwarded-For": ip}
	b.send("GET", "/login", nil, from)
	return b.send("POST", "/login", url.Values{"email": {email}, "password": {pw}, "csrf_token": {b.csrf}}, from)
}

// wantWait checks a 429 with Retry-After secs and a message saying the wait.
func wantWait(t *testing.T, p page, secs int, says string) {
	t.Helper()
	wantStatus(t, p, http.StatusTooManyRequests)
	if got := p.Header.Get("Retry-After"); got != strconv.Itoa(secs) {
		t.Errorf("Retry-After: got %q, want %d", got, secs)
	}
	want := "Too many failed sign-in attempts. Wait " + says + ", then try again."
	if got := one(t, p, `[data-testid=login-error]`).Text(); got != want {
		t.Errorf("message: got %q, want %q", got, want)
	}
}

func TestLoginSlowsTheAttackerNotTheOwner(t *testing.T) {
	e := throttled(t, 50)
	const attacker, owner = "203.0.113.7", "198.51.100.20"
	for i := range 5 {
		wantStatus(t, tryLogin(t, e, attacker, adminEmail, "guess-"+strconv.Itoa(i)), http.StatusUnauthorized)
	}
	// From the sixth attempt on, each must wait: 2 s, then 4, 8 … (the
	// password is not even checked while waiting, so the right one is
	// refused too).
	wantWait(t, tryLogin(t, e, attacker, adminEmail, "guess-5"), 2, "2 seconds")
	wantWait(t, tryLogin(t, e, attacker, adminEmail, adminPassword), 2, "2 seconds")
	// The owner, from another address, signs in meanwhile.
	wantStatus(t, tryLogin(t, e, owner, adminEmail, adminPassword), http.StatusSeeOther)

	e.clock.Advance(time.Second)
	wantWait(t, tryLogin(t, e, attacker, adminEmail, "guess-5"), 1, "1 second")
	for want := 4; want <= 512; want *= 2 {
		e.clock.Advance(time.Duration(want/2) * time.Second)
		wantStatus(t, tryLogin(t, e, attacker, adminEmail, "guess"), http.StatusUnauthorized)
		says := strconv.Itoa(want) + " seconds"
		if want >= 120 {
			says = strconv.Itoa((want+59)/60) + " minutes"
		}
		wantWait(t, tryLogin(t, e, attacker, adminEmail, "guess"), want, says)
	}
	// Capped at 15 minutes.
	e.clock.Advance(512 * time.Second)
	wantStatus(t, tryLogin(t, e, attacker, adminEmail, "guess"), http.StatusUnauthorized)
	wantWait(t, tryLogin(t, e, attacker, adminEmail, "guess"), 900, "15 minutes")
	// Other accounts from the same address are not slowed.
	e.customerUser("lee@acme.example")
	wantStatus(t, tryLogin(t, e, attacker, "lee@acme.example", customerPassword), http.StatusSeeOther)
	// The owner is still not held up, however long the attack.
	wantStatus(t, tryLogin(t, e, owner, adminEmail, adminPassword), http.StatusSeeOther)
}

func TestLoginSuccessesDoNotCountAndClearFailures(t *testing.T) {
	e := throttled(t, 50)
	const office = "192.0.2.44"
	// Many people, or one person many times, signing in from one address.
	for range 12 {
		wantStatus(t, tryLogin(t, e, office, adminEmail, adminPassword), http.StatusSeeOther)
	}
	// A few typos, then the right password: the typos are forgotten.
	for range 2 {
		for i := range 4 {
			wantStatus(t, tryLogin(t, e, office, adminEmail, "typo-"+strconv.Itoa(i)), http.StatusUnauthorized)
		}
		wantStatus(t, tryLogin(t, e, office, adminEmail, adminPassword), http.StatusSeeOther)
	}
	wantStatus(t, tryLogin(t, e, office, adminEmail, "typo"), http.StatusUnauthorized)
}

func TestLoginBroadAttackSlowsEveryAddress(t *testing.T) {
	e := throttled(t, 15)
	// One address alone cannot make the account-wide count: each counts at
	// most 5 failures.
	for i := range 5 {
		wantStatus(t, tryLogin(t, e, "203.0.113.1", adminEmail, "guess-"+strconv.Itoa(i)), http.StatusUnauthorized)
	}
	for range 4 {
		e.clock.Advance(time.Hour)
		wantStatus(t, tryLogin(t, e, "203.0.113.1", adminEmail, "guess"), http.StatusUnauthorized)
	}
	wantStatus(t, tryLogin(t, e, "198.51.100.20", adminEmail, adminPassword), http.StatusSeeOther)
	// Three addresses with five failures each make fifteen: the account is
	// under a broad attack and a new address waits too, 2 s after the
	// latest failure.
	for _, ip := range []string{"203.0.113.2", "203.0.113.3"} {
		for i := range 5 {
			wantStatus(t, tryLogin(t, e, ip, adminEmail, "guess-"+strconv.Itoa(i)), http.StatusUnauthorized)
		}
	}
	wantWait(t, tryLogin(t, e, "198.51.100.21", adminEmail, adminPassword), 2, "2 seconds")
	e.clock.Advance(2 * time.Second)
	wantStatus(t, tryLogin(t, e, "198.51.100.21", adminEmail, adminPassword), http.StatusSeeOther)
}
