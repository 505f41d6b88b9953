package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/licensing"
)

type ringIssuer struct{ ring *licensing.Keyring }

func (r ringIssuer) IssueLicenseKey(f db.LicenseKeyFacts, now time.Time) (string, string, error) {
	return r.ring.IssueKeyKid(licensing.KeyClaims{LicenseID: f.LicenseID.String(), KeyID: f.KeyID.String(),
		CustomerID: f.CustomerID.String(), Plan: f.Plan, StartsAt: f.StartsAt, LicenseExpiresAt: f.ExpiresAt}, now)
}

func TestBulkSeedBuildsAConsistentDataSet(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := context.Background()
	now := time.Now()
	for _, code := range []string{"starter", "pro"} {
		spec := licensing.DefaultPlanSpec()
		spec.Code, spec.Name = code, code
		d := int32(365)
		spec.DurationDays = &d
		if _, err := store.CreatePlan(ctx, licensing.SystemActor("test"), spec, now); err != nil {
			t.Fatal(err)
		}
	}
	ring, _, err := licensing.LoadOrInitKeyring(t.TempDir(), now)
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := licensing.NewSealer("bulk-test-seal-key-0123456789abcdefghij")
	err = db.BulkSeed{Customers: 20, Licenses: 200, UsageDays: 5, Plans: []string{"starter", "pro"}}.
		Run(ctx, store, ringIssuer{ring}, sealer, now, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	var licenses, keys, usage, deployments int
	_ = store.Pool.QueryRow(ctx, "SELECT count(*) FROM licenses").Scan(&licenses)
	_ = store.Pool.QueryRow(ctx, "SELECT count(*) FROM license_keys").Scan(&keys)
	_ = store.Pool.QueryRow(ctx, "SELECT count(*) FROM usage_daily").Scan(&usage)
	_ = store.Pool.QueryRow(ctx, "SELECT count(*) FROM deployments").Scan(&deployments)
	if licenses != 200 || keys != 200 || usage < 200*3*4 || deployments < 150 {
		t.Fatalf("got %d licenses, %d keys, %d usage rows, %d deployments", licenses, keys, usage, deployments)
	}
	// The seeded keys are real: each one's hash finds its license.
	var sealed []byte
	var id [16]byte
	if err := store.Pool.QueryRow(ctx, "SELECT license_id, key_sealed FROM license_keys LIMIT 1").Scan(&id, &sealed); err != nil {
		t.Fatal(err)
	}
	key, err := sealer.Open(sealed, id[:])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ring.ParseKey(string(key)); err != nil {
		t.Fatalf("seeded key does not verify: %v", err)
	}
	res, err := store.VerifyAudit(ctx)
	if err != nil || !res.OK {
		t.Fatalf("audit chain after bulk seed: %+v %v", res, err)
	}
}
