package handlers_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/nectarcloud/nls/licensing"
)

// The records the insights detectors need are kept off the request path and
// reach the database with the validation counts: the fingerprint and network
// each deployment validated from, forged keys with the license they name,
// and failed management-API authentications, each per source address.
func TestValidationRecordsWhatTheDetectorsNeed(t *testing.T) {
	f := newFixture(t)
	id, key := f.issue(map[string]any{"plan": "pro"})
	for _, fp := range []string{"machine-a", "machine-b", "machine-a"} {
		r := f.do("POST", "/api/validation/validate", "", map[string]any{"licenseKey": key, "deploymentId": "dep-1",
			"fingerprint": fp})
		if r.Status != 200 {
			t.Fatalf("validate: %d %s", r.Status, r.Body)
		}
	}
	// A key for the same license with a signature that does not verify.
	e := key[len("NLS-") : len(key)-9]
	raw, err := base64.RawURLEncoding.DecodeString(e)
	if err != nil {
		t.Fatal(err)
	}
	jws := []byte(raw)
	last := len(jws) - 3
	if jws[last] == 'A' {
		jws[last] = 'B'
	} else {
		jws[last] = 'A'
	}
	forged := licensing.FormatKey(string(jws))
	for range 3 {
		r := f.do("POST", "/api/validation/validate", "", map[string]any{"licenseKey": forged, "deploymentId": "x"})
		if code := r.JSON(t)["code"]; code != "INVALID_SIGNATURE" {
			t.Fatalf("forged key answered %v", code)
		}
	}
	for range 2 {
		if r := f.do("GET", "/api/licenses", "nls_wrong_key", nil); r.Status != 401 {
			t.Fatalf("wrong API key: %d", r.Status)
		}
	}
	// The dashboard flushes this process's counts before it answers.
	if r := f.do("GET", "/api/admin/dashboard", f.admin, nil); r.Status != 200 {
		t.Fatalf("dashboard: %d %s", r.Status, r.Body)
	}
	ctx := context.Background()
	var fps, sightings int
	if err := f.store.Pool.QueryRow(ctx, `SELECT count(DISTINCT fingerprint), count(*) FROM validation_sightings
		WHERE license_id = $1 AND deployment_id = 'dep-1'`, id).Scan(&fps, &sightings); err != nil {
		t.Fatal(err)
	}
	if fps != 2 || sightings != 2 {
		t.Errorf("sightings: %d fingerprints in %d rows, want 2 in 2 (one a fingerprint and network)", fps, sightings)
	}
	var named, keyFails, authFails int
	if err := f.store.Pool.QueryRow(ctx, `SELECT
		coalesce(sum(count) FILTER (WHERE kind = 'key' AND license_id = $1), 0),
		coalesce(sum(count) FILTER (WHERE kind = 'key'), 0),
		coalesce(sum(count) FILTER (WHERE kind = 'api_auth'), 0) FROM source_failures WHERE source <> ''`, id).Scan(&named, &keyFails, &authFails); err != nil {
		t.Fatal(err)
	}
	if named != 3 || keyFails != 3 || authFails != 2 {
		t.Errorf("failures: %d forged naming the license, %d key failures, %d API authentication failures; want 3, 3, 2",
			named, keyFails, authFails)
	}
}
