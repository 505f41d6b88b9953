package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/jobs"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/notify"
	"github.com/nectarcloud/nls/notify/mailtest"
)

func TestMain(m *testing.M) {
	code := dbtest.Main(m)
	mailtest.Stop()
	os.Exit(code)
}

const baseURL = "https://licenses.example.test"

var secret = []byte("test-secret-for-unsubscribe-links-0123456789")

// clock is the injected now, moved by the tests.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}
func (c *clock) set(t time.Time)     { c.t.Store(&t) }
func (c *clock) now() time.Time      { return *c.t.Load() }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

// env is one database with fixtures made by SQL, and the tag that makes its
// recipient addresses unique on the shared mailpit.
type env struct {
	t     *testing.T
	pool  *pgxpool.Pool
	store *db.Store
	mail  *mailtest.Server
	clock *clock
	tag   string
	plan  uuid.UUID
}

var t0 = time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T) *env {
	t.Helper()
	mp := mailtest.Start(t)
	pool := dbtest.NewPool(t)
	e := &env{t: t, pool: pool, store: db.NewStore(pool), mail: mp, clock: newClock(t0), tag: uuid.NewString()[:8]}
	if err := pool.QueryRow(context.Background(), `INSERT INTO plans (code, name) VALUES ('pro', 'Pro') RETURNING id`).Scan(&e.plan); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) addr(name string) string { return name + "-" + e.tag + "@example.test" }

func (e *env) runner(smtpURL string, extra func(*jobs.Config)) *jobs.Runner {
	e.t.Helper()
	cfg := jobs.Config{Mail: notify.MailConfig{URL: smtpURL, From: "NLS <licenses@nls.test>", Timeout: 5 * time.Second},
		BaseURL: baseURL, Secret: secret, Now: e.clock.now, RetryDelay: 50 * time.Millisecond, MaxAttempts: 3,
		ScanInterval: time.Hour, StaffEmails: []string{e.addr("staff")},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if extra != nil {
		extra(&cfg)
	}
	r, err := jobs.New(e.pool, e.store, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) start(r *jobs.Runner) {
	e.t.Helper()
	if err := r.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
}

// customer adds a customer whose own address is e.addr(name).
func (e *env) customer(name string) uuid.UUID {
	e.t.Helper()
	c, err := e.store.CreateCustomer(context.Background(), licensing.Actor{Type: "system", Label: "test"},
		db.CustomerInput{Name: "Customer " + name, Email: e.addr(name)}, e.clock.now())
	if err != nil {
		e.t.Fatal(err)
	}
	return c.ID
}

type lic struct {
	expires      *time.Time
	graceDays    int
	pastDueSince *time.Time
	stripe       bool
	limits       string
}

func (e *env) license(cust uuid.UUID, l lic) uuid.UUID {
	e.t.Helper()
	var id uuid.UUID
	payment := "ok"
	if l.pastDueSince != nil {
		payment = "past_due"
	}
	var sub *string
	if l.stripe {
		s := "sub_" + uuid.NewString()[:12]
		sub = &s
	}
	if l.limits == "" {
		l.limits = "{}"
	}
	err := e.pool.QueryRow(context.Background(), `
		INSERT INTO licenses (customer_id, plan_id, limits, starts_at, expires_at, grace_days, offline_days,
			heartbeat_window_hours, dunning_days, payment_state, past_due_since, stripe_subscription_id)
		VALUES ($1, $2, $3, $4, $5, $6, 30, 72, 14, $7, $8, $9) RETURNING id`,
		cust, e.plan, l.limits, t0.AddDate(-1, 0, 0), l.expires, l.graceDays, payment, l.pastDueSince, sub).Scan(&id)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

const dayLen = 24 * time.Hour

// settle waits until no job is left to run and no notice is queued or retrying.
func (e *env) settle() {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var pending int
		if err := e.pool.QueryRow(context.Background(), `
			SELECT (SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled', 'pending'))
			     + (SELECT count(*) FROM notifications WHERE status IN ('queued', 'retrying'))`).Scan(&pending); err != nil {
			e.t.Fatal(err)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("jobs still pending after 60s: %d", pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// subjects lists the subjects addr received, sorted.
func (e *env) subjects(addr string) []string {
	var out []string
	for _, m := range e.mail.To(e.t, addr) {
		out = append(out, m.Subject)
	}
	slices.Sort(out)
	return out
}

func TestMilestonesEmailEachRecipientExactlyOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	type want struct {
		addr     string
		subjects []string
		link     string // a link the one email must carry
	}
	var wants []want
	for _, days := range []int{30, 14, 7, 1} {
		name := fmt.Sprintf("exp%d", days)
		c := e.customer(name)
		id := e.license(c, lic{expires: at(time.Duration(days)*dayLen - time.Hour), graceDays: 7})
		wants = append(wants, want{e.addr(name), []string{fmt.Sprintf("Your pro license expires in %d day%s", days,
			map[bool]string{true: "", false: "s"}[days == 1])}, baseURL + "/portal/licenses/" + id.String() + "/renew"})
		if days == 7 {
			// The billing contact hears about renewals, the technical one does not.
			if _, err := e.pool.Exec(ctx, `INSERT INTO customer_contacts (customer_id, billing_email, technical_email, updated_at)
				VALUES ($1, $2, $3, now())`, c, e.addr("exp7-billing"), e.addr("exp7-tech")); err != nil {
				t.Fatal(err)
			}
			wants = append(wants, want{e.addr("exp7-billing"), wants[len(wants)-1].subjects, ""},
				want{e.addr("exp7-tech"), nil, ""})
		}
		if days == 14 {
			// A customer's user hears too.
			if _, err := e.pool.Exec(ctx, `INSERT INTO users (email, role, customer_id) VALUES ($1, 'customer', $2)`,
				e.addr("exp14-user"), c); err != nil {
				t.Fatal(err)
			}
			wants = append(wants, want{e.addr("exp14-user"), wants[len(wants)-1].subjects, ""})
		}
	}
	c := e.customer("expired")
	e.license(c, lic{expires: at(-10 * dayLen), graceDays: 7})
	wants = append(wants, want{e.addr("expired"), []string{"Your pro license has expired"}, ""})

	c = e.customer("grace")
	e.license(c, lic{expires: at(-2 * dayLen), graceDays: 7})
	wants = append(wants, want{e.addr("grace"), []string{"Your pro license has expired: grace period until 6 March 2030"}, ""})

	c = e.customer("stale")
	id := e.license(c, lic{expires: at(365 * dayLen)})
	if _, err := e.pool.Exec(ctx, `INSERT INTO deployments (license_id, deployment_id, hostname, first_seen_at, last_seen_at)
		VALUES ($1, 'node-1', 'build-server', $2, $2)`, id, t0.Add(-100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	wants = append(wants, want{e.addr("stale"), []string{"Installation build-server (node-1) stopped checking in"}, ""})

	c = e.customer("pastdue")
	e.license(c, lic{expires: at(365 * dayLen), pastDueSince: at(-2 * dayLen)})
	wants = append(wants, want{e.addr("pastdue"), []string{"Payment overdue for your pro license"}, baseURL + "/portal/billing"})

	for _, u := range []struct {
		name string
		used int64
		subj string
	}{{"usage80", 85, "apiCalls at 85% of its limit"}, {"usage100", 100, "apiCalls limit reached"}} {
		c := e.customer(u.name)
		id := e.license(c, lic{expires: at(365 * dayLen), limits: `{"apiCalls": 100}`})
		if _, err := e.store.RecordUsage(ctx, db.UsageLicense{ID: id, CustomerID: c}, nil, []db.UsageReportIn{{ID: uuid.New(),
			PeriodStart: t0.Add(-2 * time.Hour), PeriodEnd: t0.Add(-time.Hour), Metrics: map[string]int64{"apiCalls": u.used}}},
			t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		wants = append(wants, want{e.addr(u.name), []string{u.subj}, baseURL + "/portal/licenses/" + id.String()})
	}

	// A Stripe subscription that renews itself gets no reminder; one set to cancel does.
	c = e.customer("stripe-renews")
	e.license(c, lic{expires: at(5 * dayLen), stripe: true})
	wants = append(wants, want{e.addr("stripe-renews"), nil, ""})
	c = e.customer("stripe-cancels")
	id = e.license(c, lic{expires: at(5 * dayLen), stripe: true})
	// Setup only: raw queries over the pool stand in for the Stripe webhook,
	// which records the flag through the store.
	if err := db.New(e.pool).SetStripeCancelAtPeriodEnd(ctx, db.SetStripeCancelAtPeriodEndParams{LicenseID: id,
		CancelAtPeriodEnd: true, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	wants = append(wants, want{e.addr("stripe-cancels"), []string{"Your pro license expires in 7 days"}, baseURL + "/portal/billing"})

	// Two processes start at once: each runs its periodic jobs on start if
	// it leads, and both scan by hand, twice, concurrently.
	r1, r2 := e.runner(e.mail.SMTPURL, nil), e.runner(e.mail.SMTPURL, nil)
	e.start(r1)
	e.start(r2)
	var wg sync.WaitGroup
	for _, r := range []*jobs.Runner{r1, r2, r1, r2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.RunScan(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// The leader's digest on start, then nothing left to run.
	e.mail.WaitFor(t, e.addr("staff"), 1, 30*time.Second)
	e.settle()
	// And once more, later the same day: nothing new.
	e.clock.add(time.Hour)
	if n, err := r1.RunScan(ctx); err != nil || n != 0 {
		t.Fatalf("a second scan recorded %d milestones (%v), want 0", n, err)
	}
	e.settle()

	for _, w := range wants {
		got := e.subjects(w.addr)
		if !slices.Equal(got, w.subjects) {
			t.Errorf("%s: got %q, want %q", w.addr, got, w.subjects)
			continue
		}
		if len(got) == 0 {
			continue
		}
		m := e.mail.Get(t, e.mail.To(t, w.addr)[0].ID)
		if w.link != "" && (!strings.Contains(m.Text, w.link) || !strings.Contains(m.HTML, `href="`+w.link+`"`)) {
			t.Errorf("%s: the email does not link to %s:\n%s", w.addr, w.link, m.Text)
		}
		unsub := m.Headers["List-Unsubscribe"]
		if len(unsub) != 1 || !strings.HasPrefix(unsub[0], "<"+baseURL+"/unsubscribe/") {
			t.Errorf("%s: List-Unsubscribe %q", w.addr, unsub)
		}
		if post := m.Headers["List-Unsubscribe-Post"]; len(post) != 1 || post[0] != "List-Unsubscribe=One-Click" {
			t.Errorf("%s: List-Unsubscribe-Post %q", w.addr, post)
		}
	}
	// The staff get one digest.
	digest := e.subjects(e.addr("staff"))
	if want := []string{"NLS daily digest: 6 expiring, 1 overdue, 0 failed deliveries"}; !slices.Equal(digest, want) {
		t.Errorf("staff: got %q, want %q", digest, want)
	}
}
