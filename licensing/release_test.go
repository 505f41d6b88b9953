// Tests of the distribution rules: semver precedence, channels, expiry
// strategies at their exact boundaries, the upgrade choice, registry paths.

package licensing

import (
	"testing"
	"time"
)

func mustVersion(tb testing.TB, s string) Version {
	tb.Helper()
	v, err := ParseVersion(s)
	if err != nil {
		tb.Fatalf("ParseVersion(%q): %v", s, err)
	}
	return v
}

func TestVersionOrder(t *testing.T) {
	// semver.org's own example, ascending.
	ordered := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0-rc.1", "2.0.0"}
	for i := range ordered {
		for j := range ordered {
			a, b := mustVersion(t, ordered[i]), mustVersion(t, ordered[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	if mustVersion(t, "1.0.0+build.1").Compare(mustVersion(t, "1.0.0+build.2")) != 0 {
		t.Error("build metadata must not order versions")
	}
	if got := mustVersion(t, "v1.4.0").String(); got != "1.4.0" {
		t.Errorf("String() = %q, want 1.4.0", got)
	}
}

func TestParseVersionRejects(t *testing.T) {
	for _, s := range []string{"", "1", "1.2", "01.2.3", "1.2.3-", "1.2.3-01", "1.2.3.4", "a.b.c", "1.2.3-rc..1",
		"99999999999999999999.0.0"} {
		if _, err := ParseVersion(s); ErrorCode(err) != EINVALID {
			t.Errorf("ParseVersion(%q) error = %v, want invalid", s, err)
		}
	}
}

func TestChannelIncludes(t *testing.T) {
	cases := []struct {
		follow, release Channel
		want            bool
	}{
		{ChannelStable, ChannelStable, true},
		{ChannelStable, ChannelRC, false},
		{ChannelRC, ChannelStable, true},
		{ChannelRC, ChannelRC, true},
		{ChannelRC, ChannelBeta, false},
		{ChannelDev, ChannelAlpha, true},
		{ChannelStable, Channel("nightly"), false},
	}
	for _, tc := range cases {
		if got := tc.follow.Includes(tc.release); got != tc.want {
			t.Errorf("%s.Includes(%s) = %v, want %v", tc.follow, tc.release, got, tc.want)
		}
	}
}

func TestReleaseAllowedBoundaries(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	graceEnd := exp.AddDate(0, 0, 7)
	facts := LicenseFacts{Status: StatusActive, StartsAt: start, ExpiresAt: &exp, GraceDays: 7}
	rel := func(at time.Time, ch Channel) Release {
		return Release{Product: "acme", Version: mustVersion(t, "1.0.0"), Channel: ch, PublishedAt: &at}
	}
	ent := func(s ExpiryStrategy) Entitlement {
		return Entitlement{Products: []string{"acme"}, Channels: []Channel{ChannelStable}, Expiry: s}
	}
	ns := time.Nanosecond
	cases := []struct {
		name     string
		strategy ExpiryStrategy
		release  Release
		now      time.Time
		want     Denial
	}{
		{"grace sees a release published after expiry", ExpiryRestrict, rel(exp.Add(time.Hour), ChannelStable), exp.Add(2 * time.Hour), DenyNone},
		{"scheduled release", ExpiryRestrict, rel(exp, ChannelStable), exp.Add(-ns), DenyUnpublished},
		{"restrict at the grace end still allowed", ExpiryRestrict, rel(exp, ChannelStable), graceEnd, DenyNone},
		{"restrict just after the grace end", ExpiryRestrict, rel(exp.Add(-time.Hour), ChannelStable), graceEnd.Add(ns), DenyExpired},
		{"maintain: published at the expiry instant", ExpiryMaintain, rel(exp, ChannelStable), graceEnd.Add(ns), DenyNone},
		{"maintain: published just after expiry", ExpiryMaintain, rel(exp.Add(ns), ChannelStable), graceEnd.Add(ns), DenyReleasedAfterExpiry},
		{"maintain in grace sees newer releases", ExpiryMaintain, rel(exp.Add(time.Hour), ChannelStable), graceEnd, DenyNone},
		{"maintain still checks the channel", ExpiryMaintain, rel(exp.Add(-time.Hour), ChannelRC), graceEnd.Add(ns), DenyChannel},
		{"allow after expiry", ExpiryAllow, rel(graceEnd.Add(time.Hour), ChannelStable), graceEnd.Add(2 * time.Hour), DenyNone},
		{"stable-only never gets rc", ExpiryAllow, rel(start, ChannelRC), start.Add(time.Hour), DenyChannel},
		{"before start", ExpiryAllow, rel(start, ChannelStable), start.Add(-ns), DenyNotYetValid},
		{"other product", ExpiryAllow, Release{Product: "other", Channel: ChannelStable, PublishedAt: &start}, start, DenyProduct},
		{"draft", ExpiryAllow, Release{Product: "acme", Channel: ChannelStable}, start, DenyUnpublished},
		{"yanked", ExpiryAllow, Release{Product: "acme", Channel: ChannelStable, PublishedAt: &start, YankedAt: &start}, start, DenyYanked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReleaseAllowed(facts, ent(tc.strategy), tc.release, tc.now); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	for _, st := range []StoredStatus{StatusRevoked, StatusSuspended} {
		f := facts
		f.Status = st
		if got := ReleaseAllowed(f, ent(ExpiryAllow), rel(start, ChannelStable), start.Add(time.Hour)); got == DenyNone {
			t.Errorf("%s license allowed a download", st)
		}
	}
}

func TestNewestAllowed(t *testing.T) {
	exp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	facts := LicenseFacts{Status: StatusActive, StartsAt: exp.AddDate(-1, 0, 0), ExpiresAt: &exp}
	at := func(d time.Duration) *time.Time { x := exp.Add(d); return &x }
	releases := []Release{
		{Product: "acme", Version: mustVersion(t, "1.3.2"), Channel: ChannelStable, PublishedAt: at(-300 * time.Hour)},
		{Product: "acme", Version: mustVersion(t, "1.4.0"), Channel: ChannelStable, PublishedAt: at(-time.Hour)},
		{Product: "acme", Version: mustVersion(t, "1.4.1"), Channel: ChannelStable, PublishedAt: at(-time.Minute), YankedAt: at(0)},
		{Product: "acme", Version: mustVersion(t, "1.5.0-rc.1"), Channel: ChannelRC, PublishedAt: at(-time.Minute)},
		{Product: "acme", Version: mustVersion(t, "1.5.0"), Channel: ChannelStable, PublishedAt: at(time.Hour)},
	}
	both := []Channel{ChannelStable, ChannelRC}
	cases := []struct {
		name     string
		channels []Channel
		strategy ExpiryStrategy
		current  string
		follow   Channel
		now      time.Time
		want     string // version or reason
	}{
		{"active stable", []Channel{ChannelStable}, ExpiryMaintain, "1.3.2", ChannelStable, exp.Add(-30 * time.Minute), "1.4.0"},
		{"allow after expiry", []Channel{ChannelStable}, ExpiryAllow, "1.3.2", ChannelStable, exp.Add(2 * time.Hour), "1.5.0"},
		{"scheduled release not out yet", []Channel{ChannelStable}, ExpiryAllow, "1.4.0", ChannelStable, exp.Add(time.Hour - time.Nanosecond), "UP_TO_DATE"},
		{"expired maintain", []Channel{ChannelStable}, ExpiryMaintain, "1.3.2", ChannelStable, exp.Add(2*time.Hour + time.Second), "1.4.0"},
		{"expired maintain up to its cutoff", []Channel{ChannelStable}, ExpiryMaintain, "1.4.0", ChannelStable, exp.Add(48 * time.Hour), "RELEASED_AFTER_EXPIRY"},
		{"expired restrict", []Channel{ChannelStable}, ExpiryRestrict, "1.3.2", ChannelStable, exp.Add(time.Second), "EXPIRED"},
		{"rc follower entitled to rc", both, ExpiryRestrict, "1.4.0", ChannelRC, exp.Add(-time.Second), "1.5.0-rc.1"},
		{"stable-only license following rc", []Channel{ChannelStable}, ExpiryRestrict, "1.4.0", ChannelRC, exp.Add(-time.Second), "CHANNEL_NOT_ENTITLED"},
		{"stable follower never sees rc", both, ExpiryRestrict, "1.4.0", ChannelStable, exp.Add(-time.Second), "UP_TO_DATE"},
		{"pre-release current sorts before its release", []Channel{ChannelStable}, ExpiryAllow, "1.5.0-rc.1", ChannelStable, exp.Add(2 * time.Hour), "1.5.0"},
		{"newest", []Channel{ChannelStable}, ExpiryAllow, "1.5.0", ChannelStable, exp.Add(2 * time.Hour), "UP_TO_DATE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ent := Entitlement{Products: []string{"acme"}, Channels: tc.channels, Expiry: tc.strategy}
			up := NewestAllowed(AccessAt(facts, ent, tc.now), ent, releases, mustVersion(t, tc.current), tc.follow)
			got := up.Reason
			if up.Release != nil {
				got = up.Release.Version.String()
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRegistryRepository(t *testing.T) {
	repos := []string{"acme/server", "acme/agent"}
	cases := []struct {
		name, repo, version string
		ok                  bool
	}{
		{"acme/server", "acme/server", "", true},
		{"acme/server/1.4.0", "acme/server", "1.4.0", true},
		{"acme/server/2.0.0-rc.1", "acme/server", "2.0.0-rc.1", true},
		{"acme/server/latest", "", "", false},
		{"acme/serverx", "", "", false},
		{"acme", "", "", false},
		{"acme/agent/1.0.0", "acme/agent", "1.0.0", true},
	}
	for _, tc := range cases {
		repo, v, ok := RegistryRepository(tc.name, repos)
		gotV := ""
		if v != nil {
			gotV = v.String()
		}
		if repo != tc.repo || gotV != tc.version || ok != tc.ok {
			t.Errorf("RegistryRepository(%q) = %q, %q, %v; want %q, %q, %v", tc.name, repo, gotV, ok, tc.repo, tc.version, tc.ok)
		}
	}
}

func TestRegistrySigningKid(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := []KeyInfo{{Kid: "old", Created: t0}, {Kid: "new", Created: t0.Add(48 * time.Hour)}}
	day := 24 * time.Hour
	cases := []struct {
		now  time.Time
		want string
	}{
		{t0.Add(48*time.Hour + day - time.Nanosecond), "old"},
		{t0.Add(48*time.Hour + day), "new"},
		{t0, "old"},
	}
	for _, tc := range cases {
		if got := RegistrySigningKid(keys, day, tc.now); got != tc.want {
			t.Errorf("at %v: got %s, want %s", tc.now, got, tc.want)
		}
	}
	// Rotated within the second the first key was made: whatever the kids'
	// order, the key Rotate made current is the newer, and does not sign yet.
	for _, pair := range [][]KeyInfo{
		{{Kid: "a-first", Created: t0}, {Kid: "b-rotated", Created: t0, Current: true}},
		{{Kid: "a-rotated", Created: t0, Current: true}, {Kid: "b-first", Created: t0}},
	} {
		first := pair[0].Kid
		if pair[0].Current {
			first = pair[1].Kid
		}
		if got := RegistrySigningKid(pair, day, t0.Add(time.Minute)); got != first {
			t.Errorf("keys %v, before the delay: got %s, want the first key %s", pair, got, first)
		}
		if got := RegistrySigningKid(pair, day, t0.Add(day)); got == first {
			t.Errorf("keys %v, after the delay: got the first key %s, want the rotated one", pair, got)
		}
	}
}
