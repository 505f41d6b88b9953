// A release racing validations of the same deployment: no validation may
// refresh a seat that the release already took back.
package handlers_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestReleaseRacingValidationYieldsNoLeaseForAReleasedDeployment releases a
// deployment while validations of it run, round after round. A trigger on
// the test's own database records every change to the deployment row with
// its status before and after. Each validation sends a hostname of its own,
// so its refresh of the row is recognisable: a VALID answer is sound only if
// its refresh landed while the deployment was still active (so the release
// came after it, and the lease it carries was issued before the release). A
// refresh that lands on a released row means a validation read "active",
// lost the race to the release, and still answered VALID with a fresh lease.
func TestReleaseRacingValidationYieldsNoLeaseForAReleasedDeployment(t *testing.T) {
	f := newFixture(t)
	id, key := f.issue(map[string]any{"plan": "five"})
	ctx := context.Background()
	if _, err := f.store.Pool.Exec(ctx, `
		CREATE TABLE deployment_changes (seq bigserial PRIMARY KEY, old_status text, new_status text, hostname text);
		CREATE FUNCTION record_deployment_change() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO deployment_changes (old_status, new_status, hostname) VALUES (OLD.status, NEW.status, NEW.hostname);
			RETURN NEW;
		END $$;
		CREATE TRIGGER deployment_changes AFTER UPDATE ON deployments
			FOR EACH ROW EXECUTE FUNCTION record_deployment_change();`); err != nil {
		t.Fatal(err)
	}
	validateAs := func(host string) (map[string]any, error) {
		r := f.do("POST", "/api/validation/validate", "", map[string]any{"licenseKey": key, "deploymentId": "racer",
			"hostname": host, "appVersion": "1.0.0"})
		if r.Status != 200 {
			return nil, fmt.Errorf("validate: got %d %s, want 200", r.Status, r.Body)
		}
		return r.JSON(t), nil
	}
	if v, err := validateAs("first"); err != nil || v["code"] != "VALID" {
		t.Fatalf("first validation: %v %v", v, err)
	}
	const rounds, perRound = 150, 4
	valid := map[string]bool{} // hostnames of VALID answers
	var mu sync.Mutex
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, perRound+1)
		wg.Add(perRound + 1)
		go func() {
			defer wg.Done()
			if r := f.do("DELETE", "/api/licenses/"+id+"/deployments/racer", f.admin, nil); r.Status != 200 {
				errs <- fmt.Errorf("release: got %d %s", r.Status, r.Body)
			}
		}()
		for i := 0; i < perRound; i++ {
			host := fmt.Sprintf("r%03d-v%d", round, i)
			go func() {
				defer wg.Done()
				v, err := validateAs(host)
				if err != nil {
					errs <- err
					return
				}
				switch v["code"] {
				case "VALID":
					if v["lease"] == nil {
						errs <- fmt.Errorf("VALID without a lease: %v", v)
					}
					mu.Lock()
					valid[host] = true
					mu.Unlock()
				case "DEPLOYMENT_DEACTIVATED":
					if v["lease"] != nil {
						errs <- fmt.Errorf("DEPLOYMENT_DEACTIVATED with a lease: %v", v)
					}
				default:
					errs <- fmt.Errorf("got code %v, want VALID or DEPLOYMENT_DEACTIVATED", v["code"])
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if r := f.do("POST", "/api/licenses/"+id+"/deployments/racer/reactivate", f.admin, nil); r.Status != 200 {
			t.Fatalf("reactivate: got %d %s", r.Status, r.Body)
		}
	}
	rows, err := f.store.Pool.Query(ctx, "SELECT old_status, new_status, hostname FROM deployment_changes ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	refreshedWhileActive := map[string]bool{}
	var onReleased []string
	for rows.Next() {
		var oldStatus, newStatus, host string
		if err := rows.Scan(&oldStatus, &newStatus, &host); err != nil {
			t.Fatal(err)
		}
		switch {
		case oldStatus == "active" && newStatus == "active":
			refreshedWhileActive[host] = true
		case oldStatus == "deactivated" && newStatus == "deactivated":
			onReleased = append(onReleased, host)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var unsound []string
	for host := range valid {
		if !refreshedWhileActive[host] {
			unsound = append(unsound, host)
		}
	}
	if len(onReleased) > 0 || len(unsound) > 0 {
		t.Fatalf("%d validations refreshed an already released deployment (%v); %d VALID answers carry a lease "+
			"whose refresh did not land while the deployment was active (%v)", len(onReleased), onReleased, len(unsound), unsound)
	}
	if len(valid) == 0 {
		t.Fatal("no validation won any race: the test exercised nothing")
	}
	t.Logf("%d of %d validations answered VALID", len(valid), rounds*perRound)
}
