package db_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/licensing"
)

func appendN(t *testing.T, store *db.Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		err := store.InTx(ctx, func(q *db.Queries) error {
			return db.Audit(ctx, q, licensing.SystemActor("test"), db.AuditEntry{
				Action: "customer.create", EntityType: "customer", EntityID: "c" + string(rune('a'+i)),
				After: map[string]any{"name": "Acme", "n": i},
			}, time.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditChainVerifies(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	appendN(t, store, 3)
	// Concurrent writers still form one chain.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); appendN(t, store, 3) }()
	}
	wg.Wait()
	res, err := store.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.Rows != 27 {
		t.Fatalf("got %+v, want OK with 27 rows", res)
	}
}

func TestAuditVerifyNamesTamperedRow(t *testing.T) {
	cases := []struct {
		name    string
		tamper  string
		wantID  int64
		problem string
	}{
		{"edited content", `UPDATE audit_log SET after = '{"name": "Evil"}' WHERE id = 2`, 2, "edited"},
		{"edited actor", `UPDATE audit_log SET actor_label = 'someone else' WHERE id = 3`, 3, "edited"},
		{"deleted row", `DELETE FROM audit_log WHERE id = 2`, 3, "missing"},
		{"deleted and relinked", `DELETE FROM audit_log WHERE id = 2; UPDATE audit_log SET seq = 2 WHERE id = 3`, 3, "link"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := dbtest.NewStore(t)
			appendN(t, store, 4)
			if _, err := store.Pool.Exec(context.Background(), tc.tamper); err != nil {
				t.Fatal(err)
			}
			res, err := store.VerifyAudit(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.OK || res.BrokenID != tc.wantID || !strings.Contains(res.Problem, tc.problem) {
				t.Fatalf("got %+v, want broken at row %d (%s)", res, tc.wantID, tc.problem)
			}
		})
	}
}
