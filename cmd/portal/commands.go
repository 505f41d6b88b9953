package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/nectarcloud/nls/auth"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/db/pgcluster"
	"github.com/nectarcloud/nls/licensing"
)

func usageErr(msg string) error { return &exitError{code: 2, msg: msg + "\n\n" + usage} }

// migrate handles "portal migrate [up|status]".
func (e *cmdEnv) migrate(ctx context.Context, args []string) error {
	sub := "up"
	if len(args) > 0 {
		sub = args[0]
	}
	pool, closeFn, err := e.openDB(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	switch sub {
	case "up":
		n, err := db.Migrate(ctx, pool)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "applied %d migration(s)\n", n)
		return nil
	case "status":
		return db.MigrationStatus(ctx, pool, e.stdout)
	}
	return usageErr("migrate takes up or status")
}

// admin handles "portal admin create --email E [--name N] [--role R]". The
// first admin is an owner whatever the role asked; later ones are admins
// unless --role says otherwise.
func (e *cmdEnv) admin(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usageErr("admin takes create")
	}
	fs := flag.NewFlagSet("admin create", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	email := fs.String("email", "", "the admin's email address")
	name := fs.String("name", "", "the admin's name")
	roleFlag := fs.String("role", string(licensing.RoleAdmin), "owner, admin, support or viewer (the first admin is an owner)")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	if !licensing.ValidEmail(*email) {
		return &exitError{code: 2, msg: "--email must be an email address"}
	}
	role, err := licensing.ParseAdminRole(*roleFlag)
	if err != nil {
		return &exitError{code: 2, msg: "--role must be owner, admin, support or viewer"}
	}
	password, generated, err := e.readPassword()
	if err != nil {
		return err
	}
	if len(password) < 12 {
		return &exitError{code: 2, msg: "the password must be at least 12 characters"}
	}
	hash, err := auth.HashPassword(password, e.cfg.BcryptCost)
	if err != nil {
		return err
	}
	store, closeFn, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	u, err := store.CreateAdminAs(ctx, licensing.SystemActor("cli"), *email, *name, hash, role, time.Now())
	if err != nil {
		if licensing.ErrorCode(err) == licensing.ECONFLICT {
			return &exitError{code: 1, msg: "a user with this email already exists"}
		}
		return err
	}
	fmt.Fprintf(e.stdout, "created admin %s (%s)\n", u.Email, *u.AdminRole)
	if generated {
		fmt.Fprintf(e.stdout, "password: %s\n", password)
	}
	return nil
}

// readPassword reads the password from stdin when it is not a terminal, asks
// for it on a terminal, and generates one when the answer is empty.
func (e *cmdEnv) readPassword() (string, bool, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "password (empty to generate one): ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", false, err
		}
		if len(b) > 0 {
			return string(b), false, nil
		}
	} else if e.stdin != nil {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			return line, false, nil
		}
		_ = err // an empty stdin means "generate"
	}
	buf := make([]byte, 15)
	if _, err := rand.Read(buf); err != nil {
		return "", false, err
	}
	return base64.RawURLEncoding.EncodeToString(buf), true, nil
}

// apikey handles "portal apikey create --name N --scopes a,b". The key is
// printed alone on the last line of stdout: scripts take it from there.
func (e *cmdEnv) apikey(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return usageErr("apikey takes create")
	}
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	name := fs.String("name", "", "a name saying who or what uses the key")
	scopes := fs.String("scopes", "admin", "comma-separated scopes: "+strings.Join(licensing.Scopes, ", "))
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	var list []string
	for _, s := range strings.Split(*scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	store, closeFn, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	key, secret, err := store.CreateAPIKey(ctx, licensing.SystemActor("cli"), *name, list, nil, time.Now())
	if err != nil {
		return &exitError{code: 2, msg: licensing.ErrorMessage(err)}
	}
	fmt.Fprintf(e.stdout, "created API key %q (%s…) with scopes %s; it is shown once:\n", key.Name, key.Prefix,
		strings.Join(key.Scopes, ","))
	fmt.Fprintln(e.stdout, secret)
	return nil
}

// audit handles "portal audit verify".
func (e *cmdEnv) audit(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return usageErr("audit takes verify")
	}
	store, closeFn, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	res, err := store.VerifyAudit(ctx)
	if err != nil {
		return err
	}
	if !res.OK {
		return &exitError{code: 1, msg: fmt.Sprintf("audit chain BROKEN at row %d: %s (%d rows checked)", res.BrokenID, res.Problem, res.Rows)}
	}
	fmt.Fprintf(e.stdout, "audit chain intact: %d rows verified\n", res.Rows)
	return nil
}

// managedDB handles "portal db start|stop|url": the managed PostgreSQL on its
// own, for psql sessions and for the test runner.
func (e *cmdEnv) managedDB(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("db", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("dir", filepath.Join(e.cfg.DataDir, "postgres"), "the cluster folder")
	fast := fs.Bool("fast", false, "turn fsync off (throwaway test clusters only)")
	if len(args) == 0 {
		return usageErr("db takes start, stop or url")
	}
	sub := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	switch sub {
	case "start", "url":
		c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: *dir, Fast: *fast, Database: "nls",
			Log: func(msg string, args ...any) { e.log.Info(msg, args...) }})
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, c.URL())
		return nil
	case "stop":
		return pgcluster.StopDir(ctx, *dir)
	}
	return usageErr("db takes start, stop or url")
}
