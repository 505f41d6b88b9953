package db_test

// The dashboard counts and the license search read index ranges and
// union several index-friendly branches instead of applying the rules row
// by row (migration 00004). These tests hold them to the rules themselves:
// licensing.EffectiveStatus, db.HoldsSeat, and a plain reading of what a
// search matches, over data built to sit on every boundary.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/licensing"
)

// speedFixture is a plan and a customer to hang rows on.
type speedFixture struct {
	store    *db.Store
	plan     uuid.UUID
	customer uuid.UUID
}

func newSpeedFixture(t *testing.T) speedFixture {
	t.Helper()
	store := dbtest.NewStore(t)
	ctx := context.Background()
	f := speedFixture{store: store}
	if err := store.Pool.QueryRow(ctx, `INSERT INTO plans (code, name) VALUES ('basic', 'Basic') RETURNING id`).Scan(&f.plan); err != nil {
		t.Fatal(err)
	}
	f.customer = f.addCustomer(t, "Fixture Customer", "fixture@example.test")
	return f
}

func (f speedFixture) addCustomer(t *testing.T, name, email string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := f.store.Pool.QueryRow(context.Background(),
		`INSERT INTO customers (name, email, company) VALUES ($1, $2, 'Shared Company Ltd') RETURNING id`, name, email).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// licenseRow is the stored facts the effective status depends on.
type licenseRow struct {
	status                string
	starts                time.Time
	expires, pastDueSince *time.Time
	graceDays, dunning    int
	windowHours           int
	notes                 string
	customer, plan        uuid.UUID
	created               time.Time
}

func (f speedFixture) addLicense(t *testing.T, r licenseRow) uuid.UUID {
	t.Helper()
	var reason, source *string
	var revoked *time.Time
	switch r.status {
	case "suspended":
		why, by := "test", "admin"
		reason, source = &why, &by
	case "revoked":
		revoked = &r.starts
	}
	payment := "ok"
	if r.pastDueSince != nil {
		payment = "past_due"
	}
	if r.windowHours == 0 {
		r.windowHours = 72
	}
	if r.customer == uuid.Nil {
		r.customer = f.customer
	}
	if r.plan == uuid.Nil {
		r.plan = f.plan
	}
	if r.created.IsZero() {
		r.created = r.starts
	}
	var id uuid.UUID
	err := f.store.Pool.QueryRow(context.Background(), `
		INSERT INTO licenses (customer_id, plan_id, status, suspended_reason, suspension_source, starts_at, expires_at,
		    grace_days, offline_days, heartbeat_window_hours, dunning_days, payment_state, past_due_since, revoked_at,
		    notes, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 30, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING id`,
		r.customer, r.plan, r.status, reason, source, r.starts, r.expires, r.graceDays, r.windowHours, r.dunning,
		payment, r.pastDueSince, revoked, r.notes, r.created).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// allLicenses reads every license back as the Go rules see it.
func (f speedFixture) allLicenses(t *testing.T) []db.License {
	t.Helper()
	rows, err := f.store.Pool.Query(context.Background(), `SELECT id FROM licenses`)
	if err != nil {
		t.Fatal(err)
	}
	ids := []uuid.UUID{}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var out []db.License
	for _, id := range ids {
		l, err := f.store.Raw().GetLicense(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func TestLicenseStatusCountsAndFilterAgreeWithGo(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	base := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ptr := func(t time.Time) *time.Time { return &t }
	// Instants around base, where the rules change their answer.
	offsets := []time.Duration{-400 * day, -365*day - time.Second, -365 * day, -37 * day, -30*day - time.Second, -30 * day, -7*day - time.Second, -7 * day,
		-14*day - time.Second, -14 * day, -time.Second, 0, time.Second, 10 * day, 30 * day, 31 * day}
	n := 0
	for _, status := range []string{"active", "suspended", "revoked"} {
		for _, grace := range []int{0, 7, 30, 365} {
			for _, pd := range []*time.Time{nil, ptr(base.Add(-14 * day)), ptr(base.Add(-14*day - time.Second)), ptr(base.Add(-day))} {
				for _, startOff := range []time.Duration{-500 * day, -time.Second, 0, time.Second} {
					starts := base.Add(startOff)
					exps := []*time.Time{nil}
					for _, o := range offsets {
						if e := base.Add(o); e.After(starts) {
							exps = append(exps, ptr(e))
						}
					}
					for _, exp := range exps {
						f.addLicense(t, licenseRow{status: status, starts: starts, expires: exp, graceDays: grace,
							dunning: 14, pastDueSince: pd})
						n++
					}
				}
			}
		}
	}
	licenses := f.allLicenses(t)
	if len(licenses) != n || n < 500 {
		t.Fatalf("got %d licenses, want %d (at least 500)", len(licenses), n)
	}
	// The same facts seen from several instants, including exact expiry,
	// grace end and dunning end.
	for _, at := range []time.Time{base, base.Add(time.Second), base.Add(-time.Second), base.Add(7 * day),
		base.Add(-30 * day), base.Add(400 * day)} {
		want := map[string]int64{}
		var wantExpiring int64
		to := at.AddDate(0, 0, 30)
		for _, l := range licenses {
			want[string(l.Effective(at).State)]++
			if l.Status == "active" && l.ExpiresAt != nil && !l.ExpiresAt.Before(at) && l.ExpiresAt.Before(to) {
				wantExpiring++
			}
		}
		rows, err := f.store.Raw().CountLicensesByEffectiveStatus(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, r := range rows {
			if r.Count <= 0 {
				t.Errorf("at %v: state %s listed with count %d", at, r.State, r.Count)
			}
			got[r.State] = r.Count
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("at %v: got %v, want %v", at, got, want)
		}
		expiring, err := f.store.Raw().CountExpiringBetween(ctx, db.CountExpiringBetweenParams{FromTime: &at, ToTime: &to})
		if err != nil {
			t.Fatal(err)
		}
		if expiring != wantExpiring {
			t.Errorf("at %v: expiring within 30 days: got %d, want %d", at, expiring, wantExpiring)
		}
		// The list filtered by each state holds exactly the licenses in it.
		for _, state := range []licensing.State{licensing.StateActive, licensing.StateGrace, licensing.StatePastDue,
			licensing.StateExpired, licensing.StateSuspended, licensing.StateNotYetValid, licensing.StateRevoked} {
			st := string(state)
			p := db.ListLicensesParams{Now: at, MaxRows: 100, EffectiveStatus: &st}
			var got int64
			for {
				rows, err := f.store.Raw().ListLicenses(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					if s := r.License.Effective(at).State; s != state {
						t.Fatalf("at %v: status=%s lists %s, which is %s", at, st, r.License.ID, s)
					}
				}
				got += int64(len(rows))
				if len(rows) < int(p.MaxRows) {
					break
				}
				last := rows[len(rows)-1]
				p.BeforeCreated, p.BeforeID = &last.License.CreatedAt, &last.License.ID
			}
			if got != want[st] {
				t.Errorf("at %v: status=%s lists %d licenses, want %d", at, st, got, want[st])
			}
		}
	}
}

func TestDashboardDeploymentCountsAgreeWithSeatRule(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	hour := time.Hour
	type dep struct {
		status       string
		lastSeen     time.Time
		offlineUntil *time.Time
		window       time.Duration
	}
	var deps []dep
	for _, window := range []int{1, 24, 72, 8760} {
		lic := f.addLicense(t, licenseRow{status: "active", starts: now.Add(-9000 * hour), windowHours: window})
		w := time.Duration(window) * hour
		i := 0
		for _, seen := range []time.Duration{0, -time.Minute, -w + time.Second, -w, -w - time.Second, -2 * w, -9000 * hour} {
			for _, off := range []*time.Time{nil, ptrTime(now.Add(-time.Second)), ptrTime(now), ptrTime(now.Add(time.Hour))} {
				for _, status := range []string{"active", "deactivated"} {
					i++
					d := dep{status: status, lastSeen: now.Add(seen), offlineUntil: off, window: w}
					var deactivated *time.Time
					if status == "deactivated" {
						deactivated = &d.lastSeen
					}
					_, err := f.store.Pool.Exec(ctx, `
						INSERT INTO deployments (license_id, deployment_id, status, deactivated_at, deactivated_by,
						    offline_until, first_seen_at, last_seen_at)
						VALUES ($1, $2, $3, $4, CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE 'admin' END, $5, $6, $6)`,
						lic, fmt.Sprintf("dep-%d", i), status, deactivated, off, d.lastSeen)
					if err != nil {
						t.Fatal(err)
					}
					deps = append(deps, d)
				}
			}
		}
	}
	for _, at := range []time.Time{now, now.Add(time.Second), now.Add(-time.Second), now.Add(73 * hour)} {
		var active, stale, released int64
		for _, d := range deps {
			switch {
			case d.status == "deactivated":
				released++
			case db.HoldsSeat(d.status, d.lastSeen, d.offlineUntil, d.window, at):
				active++
			default:
				stale++
			}
		}
		got, err := f.store.Raw().CountDeploymentsByFreshness(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		if got.Active != active || got.Stale != stale || got.Deactivated != released {
			t.Errorf("at %v: got active %d, stale %d, released %d; want %d, %d, %d", at,
				got.Active, got.Stale, got.Deactivated, active, stale, released)
		}
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

func TestListLicensesSearchMatchesPlainReading(t *testing.T) {
	f := newSpeedFixture(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	acme := f.addCustomer(t, "Acme Robotics", "it@acme.example")
	globex := f.addCustomer(t, "Globex", "ops@globex-acme.example")
	initech := f.addCustomer(t, "Initech", "admin@initech.example")
	customers := map[uuid.UUID][2]string{f.customer: {"Fixture Customer", "fixture@example.test"},
		acme: {"Acme Robotics", "it@acme.example"}, globex: {"Globex", "ops@globex-acme.example"},
		initech: {"Initech", "admin@initech.example"}}
	var other uuid.UUID
	if err := f.store.Pool.QueryRow(ctx, `INSERT INTO plans (code, name) VALUES ('other', 'Other') RETURNING id`).Scan(&other); err != nil {
		t.Fatal(err)
	}
	owners := []uuid.UUID{acme, globex, initech, f.customer}
	notes := []string{"", "renewal via reseller", "ACME pilot", "100% discount_code"}
	type lic struct {
		id       uuid.UUID
		customer uuid.UUID
		plan     string
		notes    string
		created  time.Time
		expires  *time.Time
		suffixes []string
	}
	var all []lic
	for i := range 40 {
		l := lic{customer: owners[i%len(owners)], notes: notes[i%len(notes)], plan: "basic",
			// Some licenses share a creation instant: the keyset breaks ties by id.
			created: now.Add(-time.Duration(i/3) * time.Hour)}
		plan := f.plan
		if i%5 == 0 {
			l.plan, plan = "other", other
		}
		// Expiries from 20 days ago to 60 days ahead, and some perpetual.
		if i%6 != 0 {
			e := now.Add(time.Duration(i%9*10-20) * 24 * time.Hour)
			l.expires = &e
		}
		l.id = f.addLicense(t, licenseRow{status: "active", starts: now.Add(-1000 * time.Hour), customer: l.customer,
			plan: plan, notes: l.notes, created: l.created, expires: l.expires})
		// A current key and, for some, a replaced one: either finds the license.
		for k := range 1 + i%2 {
			suffix := fmt.Sprintf("%08x", i*16+k)
			var replaced *time.Time
			if k == 0 && i%2 == 1 {
				replaced = &now
			}
			_, err := f.store.Pool.Exec(ctx, `
				INSERT INTO license_keys (license_id, key_hash, key_prefix, key_suffix, key_sealed, kid, replaced_at)
				VALUES ($1, sha256($2::bytea), 'NLS-test', $3, '\x01', 'k1', $4)`, l.id, []byte(l.id.String()+suffix), suffix, replaced)
			if err != nil {
				t.Fatal(err)
			}
			l.suffixes = append(l.suffixes, suffix)
		}
		all = append(all, l)
	}
	slices.SortFunc(all, func(a, b lic) int {
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return strings.Compare(b.id.String(), a.id.String())
	})
	contains := func(s, q string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(q)) }
	matches := func(l lic, q string) bool {
		c := customers[l.customer]
		return l.id.String() == q || slices.Contains(l.suffixes, q) ||
			contains(c[0], q) || contains(c[1], q) || contains(l.notes, q)
	}
	for _, tc := range []struct {
		name, q, plan string
		customer      *uuid.UUID
		expiringDays  int
	}{
		{"no search", "", "", nil, 0},
		{"name and email and notes", "acme", "", nil, 0},
		{"email only", "globex-acme", "", nil, 0},
		{"notes only", "reseller", "", nil, 0},
		{"company does not count", "Shared Company", "", nil, 0},
		{"name across the email does not count", "Globex ops", "", nil, 0},
		{"like wildcards are literal", "100%", "", nil, 0},
		{"underscore is literal", "t_c", "", nil, 0},
		{"id", all[7].id.String(), "", nil, 0},
		{"id in upper case is not an id", strings.ToUpper(all[7].id.String()), "", nil, 0},
		{"current key checksum", all[4].suffixes[0], "", nil, 0},
		{"replaced key checksum", all[5].suffixes[0], "", nil, 0},
		{"search within a customer", "acme", "", &globex, 0},
		{"search within a plan", "acme", "other", nil, 0},
		{"a plan", "", "basic", nil, 0},
		{"an unknown plan", "", "nope", nil, 0},
		{"nothing", "no such thing", "", nil, 0},
		{"expiring within 30 days", "", "", nil, 30},
		{"expiring within 30 days on a plan", "", "basic", nil, 30},
		{"a search expiring within 45 days", "acme", "", nil, 45},
		{"a customer's expiring within 90 days", "", "", &initech, 90},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []uuid.UUID
			for _, l := range all {
				expiring := tc.expiringDays == 0 || (l.expires != nil && !l.expires.Before(now) &&
					l.expires.Before(now.Add(time.Duration(tc.expiringDays)*24*time.Hour)))
				if (tc.q == "" || matches(l, tc.q)) && (tc.customer == nil || l.customer == *tc.customer) &&
					(tc.plan == "" || l.plan == tc.plan) && expiring {
					want = append(want, l.id)
				}
			}
			// Page through three at a time, as the portal does with its cursor.
			var got []uuid.UUID
			p := db.ListLicensesParams{Now: now, MaxRows: 3, CustomerID: tc.customer}
			if tc.plan != "" {
				p.PlanCode = &tc.plan
			}
			if tc.expiringDays > 0 {
				before := now.Add(time.Duration(tc.expiringDays) * 24 * time.Hour)
				p.ExpiresAfter, p.ExpiresBefore = &now, &before
			}
			if tc.q != "" {
				like := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(tc.q)
				exact := tc.q
				p.Q, p.QExact = &like, &exact
			}
			for range 100 {
				rows, err := f.store.Raw().ListLicenses(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					got = append(got, r.License.ID)
				}
				if len(rows) < int(p.MaxRows) {
					break
				}
				last := rows[len(rows)-1]
				p.BeforeCreated, p.BeforeID = &last.License.CreatedAt, &last.License.ID
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("q=%q: got %d licenses %v, want %d %v", tc.q, len(got), got, len(want), want)
			}
		})
	}
	// The effective-status filter still applies to a search.
	revoked := f.addLicense(t, licenseRow{status: "revoked", starts: now.Add(-time.Hour), customer: acme})
	st, q := string(licensing.StateRevoked), "acme"
	rows, err := f.store.Raw().ListLicenses(ctx, db.ListLicensesParams{Now: now, MaxRows: 50, Q: &q, QExact: &q, EffectiveStatus: &st})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].License.ID != revoked {
		t.Errorf("revoked licenses matching acme: got %d rows, want only %s", len(rows), revoked)
	}
}
