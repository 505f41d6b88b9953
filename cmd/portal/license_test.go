package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/licensing"
)

// An operator issues a license from the shell, reads it back and reveals its
// key; the key verifies against the portal's keyring and the reveal is
// audited.
func TestLicenseCommands(t *testing.T) {
	ctx := context.Background()
	url := dbtest.NewURL(t)
	dir := t.TempDir()
	env := envOf(map[string]string{"DATABASE_URL": url, "NLS_LOG_LEVEL": "warn", "NLS_DATA_DIR": dir})
	pool, err := db.Connect(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	store := db.NewStore(pool)
	actor := licensing.SystemActor("test")
	spec := licensing.DefaultPlanSpec()
	spec.Code, spec.Name, spec.Features = "team", "Team", []string{"sso"}
	spec.Limits = map[string]int64{"users": 25}
	if _, err := store.CreatePlan(ctx, actor, spec, time.Now()); err != nil {
		t.Fatal(err)
	}
	cust, err := store.CreateCustomer(ctx, actor, db.CustomerInput{Name: "Acme", Email: "ops@acme.example"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	runCLI := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(ctx, args, env, nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := runCLI("license", "create", "--customer", cust.ID.String(), "--plan", "team", "--days", "30",
		"--max-deployments", "3")
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]
	if !strings.HasPrefix(key, "NLS-") || strings.Contains(key, " ") {
		t.Fatalf("last line %q is not the key alone", key)
	}
	ring, err := licensing.LoadKeyring(dir + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	claims, _, err := ring.ParseKey(key)
	if err != nil {
		t.Fatalf("the printed key does not verify: %v", err)
	}
	if claims.Plan != "team" || claims.MaxDeployments != 3 {
		t.Fatalf("claims = %+v, want plan team with 3 seats", claims)
	}
	id := claims.LicenseID

	code, out, errOut = runCLI("license", "show", id)
	if code != 0 {
		t.Fatalf("show: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Acme", "team", "active", "sso", "users=25", "seats", "3", "no deployments yet"} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = runCLI("license", "key", id)
	if code != 0 || strings.TrimSpace(out) != key {
		t.Fatalf("key: exit %d, %q (%s); want the issued key", code, out, errOut)
	}
	var reveals int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'license.reveal_key' AND entity_id = $1`, id).
		Scan(&reveals); err != nil {
		t.Fatal(err)
	}
	if reveals != 1 {
		t.Fatalf("reveal audited %d times, want 1", reveals)
	}

	// Bad input: a clear message and a non-zero exit, nothing issued.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"license", "create", "--customer", "nope", "--plan", "team"}, "UUID"},
		{[]string{"license", "create", "--customer", cust.ID.String(), "--plan", "missing"}, "plan"},
		{[]string{"license", "create", "--customer", uuid.NewString(), "--plan", "team"}, "customer"},
		{[]string{"license", "create", "--customer", cust.ID.String(), "--plan", "team", "--days", "5", "--perpetual"}, "not both"},
		{[]string{"license", "show", uuid.NewString()}, "not found"},
		{[]string{"license", "show"}, "license id"},
	} {
		code, _, errOut := runCLI(tc.args...)
		if code == 0 || !strings.Contains(strings.ToLower(errOut), strings.ToLower(tc.want)) {
			t.Errorf("%v: exit %d, stderr %q; want failure mentioning %q", tc.args, code, errOut, tc.want)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM licenses`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d licenses after the refused commands, want 1", n)
	}
}
