package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

// openKeys loads the signing keyring (creating one Ed25519 key on a first
// start), records its keys in the database, and builds the sealer that
// protects stored copies of license keys.
func (e *cmdEnv) openKeys(ctx context.Context, store *db.Store) (*app.KeyService, *licensing.Sealer, error) {
	ring, created, err := licensing.LoadOrInitKeyring(e.cfg.KeysDir, time.Now())
	if err != nil {
		return nil, nil, fmt.Errorf("NLS_KEYS_DIR %s: %w", e.cfg.KeysDir, err)
	}
	if created {
		e.log.Info("generated a signing key", "dir", e.cfg.KeysDir, "kid", ring.CurrentKid())
	}
	if err := store.SyncSigningKeys(ctx, licensing.SystemActor("keyring"), ring.List(), time.Now()); err != nil {
		return nil, nil, err
	}
	sealKey, err := e.dataSecret(e.cfg.SealKey, "seal.key")
	if err != nil {
		return nil, nil, err
	}
	sealer, err := licensing.NewSealer(sealKey)
	if err != nil {
		return nil, nil, fmt.Errorf("NLS_SEAL_KEY: %w", err)
	}
	return app.NewKeyService(ring, e.cfg.Issuer), sealer, nil
}

// keys handles "portal keys list|generate|rotate [--alg EdDSA|RS256|PS256|HS256]".
// generate adds a key that verifies but does not sign yet; rotate adds one
// and makes it current. Old keys keep verifying until their files are removed.
func (e *cmdEnv) keys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageErr("keys takes list, generate or rotate")
	}
	sub := args[0]
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	alg := fs.String("alg", "EdDSA", "EdDSA (default), RS256, PS256, or HS256 (server-side only: HMAC keys cannot be verified offline)")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	ring, _, err := licensing.LoadOrInitKeyring(e.cfg.KeysDir, time.Now())
	if err != nil {
		return fmt.Errorf("NLS_KEYS_DIR %s: %w", e.cfg.KeysDir, err)
	}
	switch sub {
	case "list":
	case "generate", "rotate":
		a := licensing.Alg(*alg)
		if a != licensing.AlgEdDSA && a != licensing.AlgRS256 && a != licensing.AlgPS256 && a != licensing.AlgHS256 {
			return &exitError{code: 2, msg: "--alg must be EdDSA, RS256, PS256 or HS256"}
		}
		var info licensing.KeyInfo
		if sub == "rotate" {
			info, err = ring.Rotate(a, time.Now())
		} else {
			info, err = ring.GenerateKey(a, time.Now())
		}
		if err != nil {
			return err
		}
		if a == licensing.AlgHS256 {
			fmt.Fprintln(e.stderr, "note: HS256 keys and leases can be verified only by this server, never offline by customers")
		}
		fmt.Fprintf(e.stdout, "added key %s (%s)\n", info.Kid, info.Alg)
		store, closeFn, err := e.openStore(ctx)
		if err != nil {
			return err
		}
		defer closeFn()
		if err := store.SyncSigningKeys(ctx, licensing.SystemActor("cli"), ring.List(), time.Now()); err != nil {
			return err
		}
	default:
		return usageErr("keys takes list, generate or rotate")
	}
	fmt.Fprintf(e.stdout, "%-28s %-6s %-8s %-20s %s\n", "KID", "ALG", "CURRENT", "CREATED", "FINGERPRINT")
	for _, k := range ring.List() {
		cur := ""
		if k.Current {
			cur = "yes"
		}
		fmt.Fprintf(e.stdout, "%-28s %-6s %-8s %-20s %s\n", k.Kid, k.Alg, cur, k.Created.UTC().Format(time.RFC3339), k.Fingerprint)
	}
	return nil
}
