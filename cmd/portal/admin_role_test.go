package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/dbtest"
)

// "portal admin create --role R": the first admin is an owner whatever is
// asked; later admins get the role asked; an unknown role is refused.
func TestAdminCreateRole(t *testing.T) {
	url := dbtest.NewURL(t)
	env := envOf(map[string]string{"DATABASE_URL": url, "NLS_LOG_LEVEL": "warn", "NLS_BCRYPT_COST": "4"})
	create := func(email, role string) (int, string) {
		var stdout, stderr bytes.Buffer
		args := []string{"admin", "create", "--email", email}
		if role != "" {
			args = append(args, "--role", role)
		}
		code := run(context.Background(), args, env, strings.NewReader("correct horse battery staple\n"), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	if code, out := create("first@vendor.example", "support"); code != 0 || !strings.Contains(out, "(owner)") {
		t.Fatalf("first admin: exit %d, %q; want an owner", code, out)
	}
	if code, out := create("help@vendor.example", "support"); code != 0 || !strings.Contains(out, "(support)") {
		t.Fatalf("support: exit %d, %q", code, out)
	}
	if code, out := create("second@vendor.example", ""); code != 0 || !strings.Contains(out, "(admin)") {
		t.Fatalf("default role: exit %d, %q; want admin", code, out)
	}
	if code, out := create("bad@vendor.example", "root"); code != 2 || !strings.Contains(out, "--role") {
		t.Fatalf("unknown role: exit %d, %q; want 2 naming --role", code, out)
	}
	pool, err := db.Connect(context.Background(), url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for email, want := range map[string]string{"first@vendor.example": "owner", "help@vendor.example": "support",
		"second@vendor.example": "admin"} {
		u, err := db.New(pool).GetUserByEmail(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		if u.AdminRole == nil || *u.AdminRole != want {
			t.Errorf("%s: got role %v, want %s", email, u.AdminRole, want)
		}
	}
}
