// Package client lets a self-hosted product check its license against an
// NLS server, gate features and limits, keep working through outages on a
// signed offline lease, and report usage exactly once.
//
//	lic, err := client.New(client.Config{
//		ServerURL:  "https://licenses.example.com",
//		LicenseKey: os.Getenv("NLS_LICENSE_KEY"),
//		StateDir:   "/var/lib/myapp/license",
//	})
//	if err != nil { ... }            // configuration or state dir problem
//	if err := lic.Start(ctx); err != nil {
//		log.Print(err)               // not valid now; the middleware refuses until it is
//	}
//	defer lic.Close()                // sends the usage counted so far
//
//	mux.Handle("/reports", lic.RequireFeature("reports")(reports))
//	handler := lic.TrackAPICalls(lic.Middleware(mux))
//
// Start validates (POST /api/validation/validate) and then heartbeats and
// sends usage in the background. Every valid answer carries a lease signed by
// the server for this deployment; the client verifies it against the
// server's public keys (fetched once and pinned in the state dir, or given as
// Config.PublicKeys) and saves it. While the server is out of reach the app
// runs on that lease until its expiry, then refuses with LEASE_EXPIRED; it
// reconnects by itself with back-off. A refusal from the server (suspended,
// revoked, expired) applies at once and deletes the lease. A system clock set
// back behind a time already seen is refused as CLOCK_TAMPERED.
//
// Gates (Valid, Allow, HasFeature, CheckLimit and the middleware) read an
// immutable snapshot through an atomic pointer: no lock, no network, no
// allocation. Status shows the state, grace and dunning dates, so the app can
// warn its users before a license stops.
//
// Air-gapped sites, which can never reach the server, run from an offline
// license file instead: the customer downloads one for the installation's
// deployment id from the customer portal, and the app names it in
// Config.OfflineLicenseFile (ServerURL and LicenseKey may then be empty, and
// Config.PublicKeys is required). The file carries a lease the server signed
// for that deployment; the client verifies it, refuses it for any other
// deployment, once it expires, or with the clock set back, and needs a new
// file before then. ParseOfflineLicense and Client.LoadOfflineLicense read
// one directly (e.g. a file uploaded through the app).
//
// Usage: Add counts (apiCalls, workflowExecutions, sessions), Set records
// gauges (users, storageBytes, integrations; a batch keeps the peak).
// Batches get a UUID and are written to the state dir before they are sent,
// then resent with the same id until acknowledged; the server counts each id
// once. Once a second what was recorded is written to the state dir as well
// (usage-pending.json), so a hard crash loses at most the last second of
// usage; Close loses nothing.
//
// The package imports only the standard library, the licensing core and
// github.com/google/uuid; package fiberclient adapts the gates to Fiber.
package client
