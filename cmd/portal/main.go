// Command portal is the NLS license server: the HTTP portal and APIs
// (serve, the default) and the operator's sub-commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/nectarcloud/nls/app"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `NLS license server

Usage: portal [command] [flags]

Commands:
  serve                         start the portal (the default)
  migrate [up|status]           apply migrations, or list them
  admin create --email E        create an admin (password from stdin, or generated)
  apikey create --name N --scopes a,b
                                create a management API key (printed alone on the last line)
  audit verify                  check the audit log's hash chain
  keys list|generate|rotate [--alg EdDSA|RS256|PS256|HS256]
                                manage the signing keys (rotate makes the new key current)
  db start|stop|url             run the managed PostgreSQL on its own (when DATABASE_URL is unset)
  seed [--customers N --licenses M --usage-days D]
                                demo data on an empty database; with --licenses a large data set
  license create --customer ID --plan CODE [--days N|--perpetual] [--max-deployments N]
                                issue a license (its key printed alone on the last line)
  license show ID               a license's status, entitlements and deployments
  license key ID                print a license's current key (audited)
  user invite --customer ID|EMAIL --email E [--name N]
                                invite a customer user (the link printed alone on the last line)
  stripe replay EVENT_ID        apply a received Stripe event again (once its price is mapped)
  worker                        run the background jobs only (with NLS_WORKERS=false on the serve processes)
  jobs                          list the job queues' backlog and the recent job failures
  insights run                  run the insights detectors once now and print what changed
  release publish --product P --version V [--channel C] FILE...
                                create, upload and publish a release through the API (NLS_URL, NLS_API_KEY)
  registry config [--jwks PATH] [--write-jwks FILE]
                                print the registry's auth.token section (and write its JWKS)
  registry rotate               add a registry token signing key (signs after NLS_REGISTRY_KEY_DELAY)

Configuration is read from the environment; see .env.example.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app.TuneGC(os.Getenv)
	app.LimitMemory()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	os.Exit(code)
}

// exitError carries a process exit code with its message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// run dispatches a command line; it is main without the process around it, for tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "configuration error: %v\n", err)
		return 2
	}
	env := &cmdEnv{cfg: cfg, log: newLogger(cfg, stderr), stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	switch cmd {
	case "serve":
		err = env.serve(ctx)
	case "migrate":
		err = env.migrate(ctx, args)
	case "admin":
		err = env.admin(ctx, args)
	case "apikey":
		err = env.apikey(ctx, args)
	case "audit":
		err = env.audit(ctx, args)
	case "db":
		err = env.managedDB(ctx, args)
	case "keys":
		err = env.keys(ctx, args)
	case "seed":
		err = env.seedCmd(ctx, args)
	case "stripe":
		err = env.stripe(ctx, args)
	case "license":
		err = env.license(ctx, args)
	case "user":
		err = env.user(ctx, args)
	case "worker":
		err = env.worker(ctx)
	case "jobs":
		err = env.jobsCmd(ctx, args)
	case "insights":
		err = env.insightsCmd(ctx, args)
	case "release":
		err = env.release(ctx, args, getenv)
	case "registry":
		err = env.registry(ctx, args)
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			fmt.Fprintln(stderr, ee.msg)
			return ee.code
		}
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return 0
}
