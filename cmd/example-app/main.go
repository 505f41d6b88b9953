// Command example-app is a small net/http service licensed by NLS: the
// integration guide for vendors, in code.
//
// # Configure
//
// The app reads its license settings from the environment:
//
//	NLS_SERVER_URL   the NLS server, e.g. https://licenses.example.com (required)
//	NLS_LICENSE_KEY  the customer's license key, NLS-... (required)
//	NLS_STATE_DIR    where the client keeps its deployment id, pinned keys,
//	                 offline lease and unsent usage (default ./nls-state);
//	                 keep it across restarts and upgrades
//	LISTEN_ADDR      where the app listens (default :8081)
//
// # Integrate in five steps
//
//  1. client.New(client.Config{...}) with the server URL, the key and a state
//     dir. It does no network I/O.
//  2. lic.Start(ctx) validates once and then heartbeats and sends usage in
//     the background. If it returns an error the license is not valid now
//     (say why in the logs) but the client keeps trying; with a saved lease
//     Start succeeds even when the server is down.
//  3. Wrap the app in lic.Middleware (every route needs a valid license: 402
//     or 403 JSON otherwise) and lic.TrackAPICalls (usage metric apiCalls).
//  4. Gate features with lic.RequireFeature("name") or lic.HasFeature, and
//     limits with lic.CheckUsageLimit or lic.CheckLimit (a *client.LimitError
//     carries the limit and the current value).
//  5. Record usage with Add, Set and the helpers, and call lic.Close() on
//     shutdown so that the last counts are sent (or kept on disk for the
//     next run). Recorded usage reaches the state dir within a second, so
//     even a hard crash loses at most the last second of it.
//
// Routes: GET / (status, open even when the license is not valid), GET /reports (needs the "reports" feature),
// POST /users (checks the "users" limit), POST /workflows/run (counts a
// workflow execution), POST /integrations/{name} (counts integration use).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/licensing/client"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("example-app stopped", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	stateDir := os.Getenv("NLS_STATE_DIR")
	if stateDir == "" {
		stateDir = "nls-state"
	}
	addr := os.Getenv("LISTEN_ADDR")
	if addr == "" {
		addr = ":8081"
	}
	lic, err := client.New(client.Config{
		ServerURL:  os.Getenv("NLS_SERVER_URL"),
		LicenseKey: os.Getenv("NLS_LICENSE_KEY"),
		StateDir:   stateDir,
		AppVersion: "example-1.0",
		Logger:     log,
	})
	if err != nil {
		return err
	}
	if err := lic.Start(ctx); err != nil {
		// Not fatal: requests are refused until the license is valid.
		log.Warn("the license is not valid yet", "err", err)
	}
	defer func() {
		if err := lic.Close(); err != nil {
			log.Warn("usage kept on disk for the next run", "err", err)
		}
	}()

	a := &app{lic: lic}
	licensed := http.NewServeMux()
	licensed.Handle("GET /reports", lic.RequireFeature("reports")(http.HandlerFunc(a.reports)))
	licensed.Handle("POST /users", lic.CheckUsageLimit(client.MetricUsers, a.usersAfterAdd)(http.HandlerFunc(a.addUser)))
	licensed.HandleFunc("POST /workflows/run", a.runWorkflow)
	licensed.HandleFunc("POST /integrations/{name}", a.useIntegration)
	// The status page stays reachable when the license is not valid, so
	// that admins can see why; everything else needs a valid license.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.status)
	mux.Handle("/", lic.Middleware(licensed))

	srv := &http.Server{Addr: addr, Handler: lic.TrackAPICalls(mux), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("example-app listening", "addr", addr, "deployment", lic.DeploymentID())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// app is the example's own state: a user count standing in for a database.
type app struct {
	lic   *client.Client
	users atomic.Int64
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// status handles GET /: what the app would show on an admin page, with the
// grace and dunning dates to warn users before the license stops.
func (a *app) status(w http.ResponseWriter, _ *http.Request) {
	st := a.lic.Status()
	writeJSON(w, http.StatusOK, map[string]any{"valid": st.Valid, "state": st.State, "code": st.Code,
		"plan": st.Plan, "features": st.Features, "limits": st.Limits, "expiresAt": st.ExpiresAt,
		"graceEndsAt": st.GraceEndsAt, "dunningEndsAt": st.DunningEndsAt, "offline": st.Offline,
		"leaseExpiresAt": st.LeaseExpiresAt, "lastContact": st.LastContact})
}

// reports handles GET /reports, a feature-gated route.
func (a *app) reports(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"reports": []string{"weekly", "monthly"}})
}

// usersAfterAdd is the user count if one more is added: the limit check
// asks whether that is still allowed.
func (a *app) usersAfterAdd(*http.Request) int64 { return a.users.Load() + 1 }

// addUser handles POST /users, a limit-checked route.
func (a *app) addUser(w http.ResponseWriter, _ *http.Request) {
	n := a.users.Add(1)
	a.lic.Set(client.MetricUsers, n)
	writeJSON(w, http.StatusCreated, map[string]any{"users": n})
}

// runWorkflow handles POST /workflows/run.
func (a *app) runWorkflow(w http.ResponseWriter, _ *http.Request) {
	a.lic.RecordWorkflowExecution()
	writeJSON(w, http.StatusAccepted, map[string]any{"started": true})
}

// useIntegration handles POST /integrations/{name}.
func (a *app) useIntegration(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !licensing.ValidMetricName(name) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "INVALID_NAME",
			"message": "integration names are letters, digits, _ and ., starting with a letter"}})
		return
	}
	a.lic.RecordIntegrationUse(name)
	writeJSON(w, http.StatusOK, map[string]any{"integration": name})
}
