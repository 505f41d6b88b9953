// Management API limits: per client address before any lookup, per key after
// authentication, with failed authentications weighing more and malformed
// keys refused without a query.
package handlers_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/handlers"
	"github.com/nectarcloud/nls/licensing"
)

// queryCounter is a pgx tracer counting the statements sent on a pool.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// clientFrom is an HTTP client whose connections leave from the loopback
// address ip, so that the app sees distinct client addresses.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// brokenChecksum changes one character of key's checksum (which one
// depends on i) to another of the alphabet.
func brokenChecksum(key string, i int) string {
	b := []byte(key)
	at := len(b) - 1 - i%8
	if b[at] == 'A' {
		b[at] = 'B'
	} else {
		b[at] = 'A'
	}
	return string(b)
}

func TestManagementAPILimitsPerAddressBeforeLookupAndPerKeyAfter(t *testing.T) {
	cfg, err := pgxpool.ParseConfig(dbtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	queries := &queryCounter{}
	cfg.ConnConfig.Tracer = queries
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	const limit = 40
	e := newEnvOn(t, db.NewStore(pool), func(c *handlers.Config) {
		c.APIRate = handlers.Rate{Limit: limit, Window: time.Minute}
	})
	admin := e.apiKey("admin")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.app.Listener(ln) }()
	t.Cleanup(func() { _ = e.app.Shutdown() })
	url := "http://" + ln.Addr().String() + "/api/customers"
	get := func(c *http.Client, key string) response {
		t.Helper()
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return response{Status: res.StatusCode, Header: res.Header, Body: b}
	}
	// burst sends keys from one address and checks: refused with 401 until
	// the address's budget is spent by failures of weight 10, then 429 with
	// Retry-After for the rest. It returns the queries the burst cost.
	burst := func(c *http.Client, keys []string) int64 {
		t.Helper()
		before := queries.n.Load()
		unauthorized, limited := 0, 0
		for i, k := range keys {
			r := get(c, k)
			switch {
			case r.Status == 401 && limited == 0:
				wantError(t, r, 401, "unauthorized")
				unauthorized++
			case r.Status == 429:
				wantError(t, r, 429, "rate_limited")
				if r.Header.Get("Retry-After") == "" {
					t.Fatal("429 without Retry-After")
				}
				limited++
			default:
				t.Fatalf("wrong key %d of %d: got %d %s (after %d refusals and %d limits)", i+1, len(keys), r.Status,
					r.Body, unauthorized, limited)
			}
		}
		if want := (limit + 9) / 10; unauthorized != want {
			t.Fatalf("got %d wrong keys answered 401 before the limit, want %d (failures weigh 10 of %d)", unauthorized, want, limit)
		}
		return queries.n.Load() - before
	}

	// Keys that cannot be ours: no prefix, wrong length, bad checksum.
	var malformed []string
	for i := 0; i < 100; i++ {
		switch i % 4 {
		case 0:
			malformed = append(malformed, "sk_live_"+strings.Repeat("x", i%30+1))
		case 1:
			malformed = append(malformed, licensing.APIKeyPrefix+strings.Repeat("y", i%30+1))
		case 2:
			malformed = append(malformed, brokenChecksum(admin, i))
		default:
			malformed = append(malformed, "nls_"+strings.Repeat("z", 51)) // right length, wrong checksum
		}
	}
	if n := burst(clientFrom("127.0.0.1"), malformed); n != 0 {
		t.Fatalf("malformed keys cost %d queries, want none", n)
	}

	// Well-formed keys that are not ours (the checksum is public) cost one
	// lookup each until the address is limited, then none.
	var forged []string
	for i := 0; i < 50; i++ {
		k, _, _, err := licensing.NewAPIKey()
		if err != nil {
			t.Fatal(err)
		}
		forged = append(forged, k)
	}
	if n := burst(clientFrom("127.0.0.3"), forged); n > (limit+9)/10 {
		t.Fatalf("50 unknown keys cost %d queries, want at most %d (one per lookup before the limit)", n, (limit+9)/10)
	}

	// The key's owner, from other addresses, is unaffected by the attack...
	honestA, honestB := clientFrom("127.0.0.2"), clientFrom("127.0.0.4")
	for i := 0; i < limit; i++ {
		c := honestA
		if i%2 == 1 {
			c = honestB
		}
		if r := get(c, admin); r.Status != 200 {
			t.Fatalf("honest request %d: got %d %s, want 200", i+1, r.Status, r.Body)
		}
	}
	// ...but the key has its own limit, whatever address it comes from: each
	// address used half its budget, the key all of its own.
	r := get(clientFrom("127.0.0.5"), admin)
	wantError(t, r, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

// Keys made before keys had a checksum still authenticate (they need the lookup).
func TestAPIKeysWithoutChecksumStillWork(t *testing.T) {
	e := newEnv(t)
	legacy := licensing.APIKeyPrefix + strings.Repeat("Q", 43)
	hash := licensing.HashAPIKey(legacy)
	if _, err := rawQueries(e.store).CreateAPIKey(context.Background(), db.CreateAPIKeyParams{Name: "old", Prefix: legacy[:12],
		SecretHash: hash[:], Scopes: []string{licensing.ScopeAdmin}}); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/api/customers", legacy, nil); r.Status != 200 {
		t.Fatalf("a key without a checksum: got %d %s, want 200", r.Status, r.Body)
	}
	wantError(t, e.do("GET", "/api/customers", legacy[:len(legacy)-1]+"R", nil), 401, "unauthorized")
}
