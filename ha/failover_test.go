package ha_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nectarcloud/nls/db/pgcluster"
)

// asServer runs one of PostgreSQL's programs, as the postgres user when we
// are root (the server refuses to run as root), like pgcluster does.
func asServer(t *testing.T, binDir, dir, prog string, args ...string) {
	t.Helper()
	path := filepath.Join(binDir, prog)
	cmd := exec.Command(path, args...)
	if os.Geteuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", prog, args, err, out)
	}
}

// serverOwned creates dir for the postgres user.
func serverOwned(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		return
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("running as root needs the postgres user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// sample is one answer of the probe during the failover.
type sample struct {
	at     time.Time
	status int // 0: no HTTP answer within failoverProbe's timeout
	took   time.Duration
}

// failoverProbe waits long enough that a request stuck on the database
// shows as slow rather than as missing.
var failoverProbe = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// TestDatabaseFailover runs a portal on a PostgreSQL primary with a
// streaming replica, connected by a multi-host URL with
// target_session_attrs=read-write. Under load, the primary stops and the
// replica is promoted: the portal must answer 503 (never 500) in the gap,
// find the new primary by itself, keep installations valid on their leases,
// and receive the usage they counted during the outage exactly once.
func TestDatabaseFailover(t *testing.T) {
	binDir, err := pgcluster.FindBinaries()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	// pg_ctl may be a link on PATH to the folder that also has pg_basebackup.
	if real, err := filepath.EvalSymlinks(filepath.Join(binDir, "pg_ctl")); err == nil {
		binDir = filepath.Dir(real)
	}
	if _, err := os.Stat(filepath.Join(binDir, "pg_basebackup")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("pg_basebackup is not beside pg_ctl in %s", binDir)
		}
		t.Skip("no pg_basebackup")
	}
	bin := portalBinary(t)
	ctx := context.Background()
	base := t.TempDir()

	primary, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(base, "primary"), Database: "nls", Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = primary.Stop() })
	pu, _ := url.Parse(primary.URL())
	password, _ := pu.User.Password()

	// The replica: a base backup that follows the primary (-R writes
	// primary_conninfo and standby.signal), started as a hot standby.
	replicaDir := filepath.Join(base, "replica")
	serverOwned(t, replicaDir)
	asServer(t, binDir, replicaDir, "pg_basebackup", "-D", filepath.Join(replicaDir, "pgdata"), "-R", "-X", "stream",
		"-c", "fast", "-d", fmt.Sprintf("host=127.0.0.1 port=%s user=nls password=%s", pu.Port(), password))
	if err := os.WriteFile(filepath.Join(replicaDir, "password"), []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	replica, err := pgcluster.Start(ctx, pgcluster.Options{Dir: replicaDir, Database: "nls", Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = replica.Stop() })
	ru, _ := url.Parse(replica.URL())
	pconn, err := pgx.Connect(ctx, primary.URL())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the replica to stream", func() bool {
		var n int
		_ = pconn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'").Scan(&n)
		return n == 1
	})
	pconn.Close(ctx)

	multi := fmt.Sprintf("postgres://nls:%s@%s,%s/nls?sslmode=disable&target_session_attrs=read-write&connect_timeout=2",
		url.QueryEscape(password), pu.Host, ru.Host)
	env := portalEnv(t, multi, "")
	adminKey := cli(t, bin, env, "apikey", "create", "--name", "failover", "--scopes", "admin")
	p := newPortal(t, "portal", bin, env)
	p.start()
	_, key := newLicense(t, p.url(), adminKey, "failover", 10)

	var users []*installation
	for i := 0; i < 3; i++ {
		in := newInstallation(t, p.url(), key, 200*time.Millisecond)
		if err := in.c.Start(ctx); err != nil {
			t.Fatalf("installation %d: %v", i, err)
		}
		users = append(users, in)
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, in := range users {
		wg.Add(1)
		go func() { defer wg.Done(); in.use(loadCtx, 30*time.Millisecond) }()
	}
	defer func() { stopLoad(); wg.Wait() }()

	// The probe: a validation every 25 ms, and each installation's verdict.
	var mu sync.Mutex
	var samples []sample
	invalid := 0
	probeCtx, stopProbe := context.WithCancel(ctx)
	probeDone := make(chan struct{})
	body, _ := json.Marshal(map[string]any{"licenseKey": key, "deploymentId": "probe"})
	go func() {
		defer close(probeDone)
		for probeCtx.Err() == nil {
			st, t0 := 0, time.Now()
			if resp, err := failoverProbe.Post(p.url()+"/api/validation/validate", "application/json", bytes.NewReader(body)); err == nil {
				resp.Body.Close()
				st = resp.StatusCode
			}
			mu.Lock()
			samples = append(samples, sample{t0, st, time.Since(t0)})
			for _, in := range users {
				if !in.c.Valid() {
					invalid++
				}
			}
			mu.Unlock()
			time.Sleep(25 * time.Millisecond)
		}
	}()
	seen := func(status int, after time.Time) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range samples {
			if s.status == status && s.at.After(after) {
				return true
			}
		}
		return false
	}
	waitFor(t, 10*time.Second, "answers before the failover", func() bool { return seen(200, time.Time{}) })
	time.Sleep(300 * time.Millisecond) // some load on the primary first

	t.Logf("load running; stopping the primary")
	stopAt := time.Now()
	if err := primary.Stop(); err != nil {
		t.Fatalf("stopping the primary: %v", err)
	}
	stopped := time.Now()
	waitFor(t, 20*time.Second, "503 while there is no primary", func() bool { return seen(503, stopAt) })
	t.Logf("primary stopped after %s, 503 seen; promoting the replica", time.Since(stopAt).Round(time.Millisecond))
	promoting := time.Now()
	asServer(t, binDir, replicaDir, "pg_ctl", "promote", "-D", filepath.Join(replicaDir, "pgdata"), "-w")
	promoted := time.Now()
	waitFor(t, 60*time.Second, "the portal to find the new primary", func() bool { return seen(200, promoting) })
	time.Sleep(500 * time.Millisecond) // load on the new primary
	stopProbe()
	<-probeDone
	stopLoad()
	wg.Wait()

	// The window: from the last 200 before the first failure to the first
	// 200 after the last one.
	mu.Lock()
	var firstBad, lastBad int = -1, -1
	other := map[int]int{}
	for i, s := range samples {
		if s.status != 200 {
			if firstBad < 0 {
				firstBad = i
			}
			lastBad = i
			if s.status != 503 {
				other[s.status]++
			}
		}
	}
	var lastOK, backOK time.Time
	if firstBad > 0 {
		lastOK = samples[firstBad-1].at
	}
	if lastBad >= 0 && lastBad+1 < len(samples) {
		backOK = samples[lastBad+1].at
	}
	n503, slowest := 0, time.Duration(0)
	for _, s := range samples {
		if s.status == 503 {
			n503++
		}
		slowest = max(slowest, s.took)
	}
	total, inval := len(samples), invalid
	mu.Unlock()
	t.Logf("failover: primary stopped in %s; promotion ordered %s after the stop, done in %s; portal unavailable for %s "+
		"(last 200 → first 200 again; %d × 503 of %d probes, slowest answer %s); first 200 sent %s after the promotion was ordered",
		stopped.Sub(stopAt).Round(time.Millisecond), promoting.Sub(stopAt).Round(time.Millisecond),
		promoted.Sub(promoting).Round(time.Millisecond), backOK.Sub(lastOK).Round(time.Millisecond), n503, total,
		slowest.Round(time.Millisecond), backOK.Sub(promoting).Round(time.Millisecond))
	if len(other) > 0 {
		t.Fatalf("answers other than 200 and 503 during the failover (status 0: no answer): %v", other)
	}
	if firstBad < 0 || backOK.IsZero() || lastOK.IsZero() {
		t.Fatalf("no outage and recovery seen in %d samples", total)
	}
	if inval > 0 {
		t.Errorf("installations were invalid %d times during the failover; their leases should carry them", inval)
	}
	if !p.p.running() {
		t.Fatal("the portal exited")
	}
	if st := status(p.url() + "/readyz"); st != 200 {
		t.Fatalf("readyz after the failover: got %d, want 200", st)
	}

	var want int64
	for _, in := range users {
		in.drainOutbox(t, 30*time.Second)
		want += in.sent.Load()
	}
	conn, err := pgx.Connect(ctx, multi)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var reports, daily int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum((metrics->>'apiCalls')::bigint), 0) FROM usage_reports`).Scan(&reports); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(value), 0) FROM usage_daily WHERE metric = 'apiCalls'`).Scan(&daily); err != nil {
		t.Fatal(err)
	}
	t.Logf("usage: installations counted %d apiCalls; the new primary holds %d in reports, %d in daily totals", want, reports, daily)
	if reports != want || daily != want {
		t.Fatalf("usage lost or counted twice across the failover: counted %d, reports %d, daily %d", want, reports, daily)
	}
	if logs := p.out.String(); strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("the portal logged errors during the failover:\n%s", tail(logs))
	}
}
