package db_test

import (
	"sync"
	"testing"
	"time"

	"github.com/nectarcloud/nls/db/dbtest"
	"github.com/nectarcloud/nls/licensing"
)

// Admins created at the same moment on an empty database: exactly one
// becomes the owner; and the last owner cannot be demoted or disabled.
func TestFirstAdminIsTheOnlyOwnerAndTheLastOwnerStays(t *testing.T) {
	store := dbtest.NewStore(t)
	ctx := t.Context()
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := store.CreateAdminAs(ctx, licensing.SystemActor("test"), string(rune('a'+i))+"@nls.example", "",
				"$2a$04$notarealhashbutnonempty", licensing.RoleSupport, time.Now())
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	admins, err := store.ListAdmins(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	owners := 0
	var owner, other = admins[0].ID, admins[0].ID
	for _, a := range admins {
		if *a.AdminRole == "owner" {
			owners++
			owner = a.ID
		} else {
			other = a.ID
		}
	}
	if len(admins) != n || owners != 1 {
		t.Fatalf("got %d admins with %d owners, want %d with 1", len(admins), owners, n)
	}
	if _, _, err := store.SetAdminRole(ctx, licensing.SystemActor("test"), owner, licensing.RoleAdmin, time.Now()); licensing.ErrorCode(err) != licensing.EINVALID {
		t.Fatalf("demoting the last owner: got %v, want EINVALID", err)
	}
	if _, _, err := store.SetAdminDisabled(ctx, licensing.SystemActor("test"), owner, true, time.Now()); licensing.ErrorCode(err) != licensing.EINVALID {
		t.Fatalf("disabling the last owner: got %v, want EINVALID", err)
	}
	// With a second owner, the first can step down.
	if _, _, err := store.SetAdminRole(ctx, licensing.SystemActor("test"), other, licensing.RoleOwner, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, changed, err := store.SetAdminRole(ctx, licensing.SystemActor("test"), owner, licensing.RoleViewer, time.Now()); err != nil || !changed {
		t.Fatalf("demoting one of two owners: changed %v, %v", changed, err)
	}
}
