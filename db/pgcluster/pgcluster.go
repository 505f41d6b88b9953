// Package pgcluster runs a PostgreSQL server from the machine's own binaries
// (initdb, pg_ctl) with its data in a folder of ours. The portal uses it when
// DATABASE_URL is unset, and the tests use it for a throwaway cluster.
//
// PostgreSQL refuses to run as root, so when we are root the cluster is
// initialised and started as the "postgres" system user, which then owns the
// data folder.
package pgcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries says the PostgreSQL server programs are not installed.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH or under " +
	"/usr/lib/postgresql/*/bin: install PostgreSQL 15 or newer (Debian/Ubuntu: apt-get install postgresql), " +
	"or set DATABASE_URL to a PostgreSQL server of your own")

// Options say where the cluster lives and how it runs.
type Options struct {
	// Dir holds everything: pgdata/, the socket, the log, the password and port files.
	Dir string
	// Database is created on first start; default "nls".
	Database string
	// Fast trades durability for speed (fsync off): for throwaway test clusters only.
	Fast bool
	// Log receives progress lines; nil discards them.
	Log func(msg string, args ...any)
}

// Cluster is a running PostgreSQL server.
type Cluster struct {
	opts    Options
	binDir  string
	runAs   *user.User
	port    int
	started bool // false when we found it already running and must not stop it
	url     string
}

// URL is the connection string of the cluster's database.
func (c *Cluster) URL() string { return c.url }

// Started reports whether this process started the server (and so stops it).
func (c *Cluster) Started() bool { return c.started }

// FindBinaries returns the folder holding initdb and pg_ctl: PATH first, then
// the newest /usr/lib/postgresql/*/bin.
func FindBinaries() (string, error) {
	return FindBinariesFrom(filepath.SplitList(os.Getenv("PATH")), "/usr/lib/postgresql/*/bin")
}

// FindBinariesFrom searches the given folders, then those matching glob (newest version first).
func FindBinariesFrom(pathDirs []string, glob string) (string, error) {
	for _, dir := range pathDirs {
		if fileExists(filepath.Join(dir, "initdb")) && fileExists(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob(glob)
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// Start initialises the cluster on first use and starts it, or reuses a
// server already running on the same folder.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Database == "" {
		opts.Database = "nls"
	}
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	binDir, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts, binDir: binDir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, PostgreSQL must run as the %q user, which does not exist: "+
				"create it (useradd --system postgres) or run the portal as an ordinary user", "postgres")
		}
		c.runAs = u
	}
	if err := c.prepareDir(); err != nil {
		return nil, err
	}
	password, err := c.password()
	if err != nil {
		return nil, err
	}
	if !fileExists(filepath.Join(c.dataDir(), "PG_VERSION")) {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	}
	if c.running(ctx) {
		c.port, err = c.savedPort()
		if err != nil {
			return nil, err
		}
		opts.Log("reusing the PostgreSQL server already running", "dir", dir, "port", c.port)
	} else {
		if err := c.start(ctx); err != nil {
			return nil, err
		}
		c.started = true
	}
	c.url = (&url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword("nls", password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + opts.Database,
		RawQuery: "sslmode=disable",
	}).String()
	if err := c.ensureDatabase(ctx, password); err != nil {
		if c.started {
			_ = c.Stop()
		}
		return nil, err
	}
	return c, nil
}

// Stop shuts the server down if this process started it.
func (c *Cluster) Stop() error {
	if !c.started {
		return nil
	}
	c.started = false
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return c.run(ctx, "pg_ctl", "stop", "-D", c.dataDir(), "-m", "fast", "-w")
}

// StopDir stops whatever server runs on a cluster folder (portal db stop).
func StopDir(ctx context.Context, dir string) error {
	c, err := attach(dir)
	if err != nil {
		return err
	}
	if !c.running(ctx) {
		return nil
	}
	return c.run(ctx, "pg_ctl", "stop", "-D", c.dataDir(), "-m", "fast", "-w")
}

func attach(dir string) (*Cluster, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	binDir, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{opts: Options{Dir: dir, Log: func(string, ...any) {}}, binDir: binDir}
	if os.Geteuid() == 0 {
		if c.runAs, err = user.Lookup("postgres"); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) dataDir() string   { return filepath.Join(c.opts.Dir, "pgdata") }
func (c *Cluster) socketDir() string { return filepath.Join(c.opts.Dir, "run") }
func (c *Cluster) logFile() string   { return filepath.Join(c.opts.Dir, "postgresql.log") }

func (c *Cluster) prepareDir() error {
	for _, d := range []string{c.opts.Dir, c.socketDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if c.runAs == nil {
		return nil
	}
	// The server user must reach its folders: ours becomes its own, and the
	// folders above it must at least be traversable.
	uid, _ := strconv.Atoi(c.runAs.Uid)
	gid, _ := strconv.Atoi(c.runAs.Gid)
	for _, d := range []string{c.opts.Dir, c.socketDir()} {
		if err := os.Chown(d, uid, gid); err != nil {
			return err
		}
	}
	for p := filepath.Dir(c.opts.Dir); p != "/"; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, fi.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("the postgres user cannot reach %s: %w", c.opts.Dir, err)
			}
		}
	}
	return nil
}

// password is generated once and kept beside the data, readable by us only.
func (c *Cluster) password() (string, error) {
	p := filepath.Join(c.opts.Dir, "password")
	if b, err := os.ReadFile(p); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 18)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(buf)
	if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
		return "", err
	}
	return pw, nil
}

func (c *Cluster) initdb(ctx context.Context) error {
	c.opts.Log("initialising a PostgreSQL cluster", "dir", c.dataDir())
	pwfile := filepath.Join(c.socketDir(), "initpw")
	pw, err := c.password()
	if err != nil {
		return err
	}
	if err := os.WriteFile(pwfile, []byte(pw+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := c.chown(pwfile); err != nil {
		return err
	}
	return c.run(ctx, "initdb", "-D", c.dataDir(), "-U", "nls", "--pwfile="+pwfile,
		"--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
}

func (c *Cluster) savedPort() (int, error) {
	b, err := os.ReadFile(filepath.Join(c.opts.Dir, "port"))
	if err != nil {
		return 0, fmt.Errorf("a PostgreSQL server runs on %s but its port file is missing: stop it with pg_ctl", c.opts.Dir)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func (c *Cluster) start(ctx context.Context) error {
	port, err := c.savedPort()
	if err != nil || !portFree(port) {
		if port, err = freePort(); err != nil {
			return err
		}
	}
	c.port = port
	if err := os.WriteFile(filepath.Join(c.opts.Dir, "port"), []byte(strconv.Itoa(port)+"\n"), 0o600); err != nil {
		return err
	}
	settings := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300", port, c.socketDir())
	if c.opts.Fast {
		settings += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	c.opts.Log("starting PostgreSQL", "dir", c.dataDir(), "port", port)
	if err := c.run(ctx, "pg_ctl", "start", "-D", c.dataDir(), "-l", c.logFile(), "-w", "-t", "60", "-o", settings); err != nil {
		tail, _ := os.ReadFile(c.logFile())
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("%w\n%s", err, tail)
	}
	return nil
}

func (c *Cluster) running(ctx context.Context) bool {
	return c.run(ctx, "pg_ctl", "status", "-D", c.dataDir()) == nil
}

func (c *Cluster) ensureDatabase(ctx context.Context, password string) error {
	u, _ := url.Parse(c.url)
	u.Path = "/postgres"
	var conn *pgx.Conn
	var err error
	for i := 0; i < 50; i++ {
		if conn, err = pgx.Connect(ctx, u.String()); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("connecting to the managed PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", c.opts.Database).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{c.opts.Database}.Sanitize())
	return err
}

func (c *Cluster) chown(path string) error {
	if c.runAs == nil {
		return nil
	}
	uid, _ := strconv.Atoi(c.runAs.Uid)
	gid, _ := strconv.Atoi(c.runAs.Gid)
	return os.Chown(path, uid, gid)
}

// run executes one of the PostgreSQL programs, as the postgres user when we are root.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) error {
	path := filepath.Join(c.binDir, prog)
	var cmd *exec.Cmd
	if c.runAs != nil {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", c.runAs.Username, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = c.opts.Dir
	// pg_ctl's server must outlive a Ctrl-C aimed at the portal, which stops it itself.
	cmd.SysProcAttr = detached()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", prog, strings.Join(args[:1], " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func portFree(port int) bool {
	if port <= 0 {
		return false
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
