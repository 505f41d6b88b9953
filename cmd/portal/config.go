package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nectarcloud/nls/handlers"
)

// Config is every setting of the portal, read once from the environment.
// .env.example lists each variable with its default.
type Config struct {
	DatabaseURL     string
	DBMaxConns      int32
	LeaveCPUForDB   bool // run Go code on one CPU fewer when PostgreSQL is on this machine (app.LeaveCPUForDatabase)
	ListenAddr      string
	BaseURL         string
	DataDir         string
	KeysDir         string
	Issuer          string
	SessionSecret   string
	SessionPrev     string
	SealKey         string
	CORSOrigins     []string
	TrustedProxies  []string
	SecureCookies   bool
	BodyLimit       int
	APIRate         handlers.Rate
	MachineRateIP   handlers.Rate
	MachineRateKey  handlers.Rate
	Login           handlers.LoginThrottle
	RequireOwner2FA bool
	RedisURL        string
	LogLevel        slog.Level
	LogFormat       string
	Seed            bool
	MigrateOnStart  bool
	MetricsToken    string
	ShutdownGrace   time.Duration
	ShutdownDrain   time.Duration
	BcryptCost      int
	StripeSecrets   []string
	StripeAPIKey    string
	StripeAPIBase   string

	// Customer accounts.
	InviteTTL time.Duration
	SMTPURL   string
	SMTPFrom  string

	Jobs JobsConfig     // background jobs and notices (jobs.go)
	Dist DistConfig     // releases, downloads and registry tokens (distribution.go)
	Hook WebhooksConfig // outbound webhooks (webhooks.go)
}

// configError names the variable and what it expected.
type configError struct{ name, expected, got string }

func (e *configError) Error() string {
	return fmt.Sprintf("%s: expected %s, got %q", e.name, e.expected, e.got)
}

// LoadConfig reads the environment through getenv (os.Getenv in main, a map in tests).
func LoadConfig(getenv func(string) string) (Config, error) {
	r := envReader{getenv: getenv}
	c := Config{
		DatabaseURL:    r.str("DATABASE_URL", ""),
		DBMaxConns:     int32(r.int("NLS_DB_MAX_CONNS", 20, 1, 1000)),
		LeaveCPUForDB:  r.bool("NLS_LEAVE_CPU_FOR_DB", true),
		ListenAddr:     r.addr("LISTEN_ADDR", ":8080"),
		BaseURL:        strings.TrimRight(r.url("NLS_BASE_URL", "http://localhost:8080"), "/"),
		DataDir:        r.str("NLS_DATA_DIR", "./.data"),
		Issuer:         r.str("NLS_ISSUER", "nls"),
		SessionSecret:  r.secret("NLS_SESSION_SECRET"),
		SessionPrev:    r.secret("NLS_SESSION_SECRET_PREVIOUS"),
		SealKey:        r.secret("NLS_SEAL_KEY"),
		CORSOrigins:    r.origins("NLS_CORS_ORIGINS"),
		TrustedProxies: r.proxies("NLS_TRUSTED_PROXIES"),
		BodyLimit:      r.size("NLS_BODY_LIMIT", 1<<20),
		APIRate:        r.rate("NLS_RATE_API", "1200/1m"),
		MachineRateIP:  r.rate("NLS_RATE_MACHINE_IP", "600/1m"),
		MachineRateKey: r.rate("NLS_RATE_MACHINE_LICENSE", "300/1m"),
		RedisURL:       r.str("REDIS_URL", ""),
		LogLevel:       r.level("NLS_LOG_LEVEL", "info"),
		LogFormat:      r.oneOf("NLS_LOG_FORMAT", "auto", "auto", "text", "json"),
		Seed:           r.bool("NLS_SEED", true),
		MigrateOnStart: r.bool("NLS_MIGRATE_ON_START", true),
		MetricsToken:   r.str("NLS_METRICS_TOKEN", ""),
		ShutdownGrace:  r.duration("NLS_SHUTDOWN_TIMEOUT", 15*time.Second),
		ShutdownDrain:  r.duration("NLS_SHUTDOWN_DRAIN", 5*time.Second),
		BcryptCost:     r.int("NLS_BCRYPT_COST", 12, 4, 31),
		StripeSecrets:  r.list("STRIPE_WEBHOOK_SECRET"),
		StripeAPIKey:   r.str("STRIPE_SECRET_KEY", ""),
		StripeAPIBase:  r.str("STRIPE_API_BASE", ""),
		InviteTTL:      r.days("NLS_INVITE_TTL", "7d"),
		SMTPURL:        r.str("NLS_SMTP_URL", ""),
		SMTPFrom:       r.str("NLS_SMTP_FROM", ""),
	}
	c.KeysDir = r.str("NLS_KEYS_DIR", filepath.Join(c.DataDir, "keys"))
	c.Jobs = readJobsConfig(&r)
	loadDistConfig(&r, &c)
	c.Hook = loadWebhooksConfig(&r)
	c.Login = handlers.LoginThrottle{
		FreeFailures:    r.int("NLS_LOGIN_FREE_FAILURES", 5, 0, 1000),
		MaxDelay:        r.duration("NLS_LOGIN_MAX_DELAY", 15*time.Minute),
		AccountFailures: r.int("NLS_LOGIN_ACCOUNT_FAILURES", 50, 0, 1_000_000),
		Forget:          r.duration("NLS_LOGIN_FORGET_AFTER", 24*time.Hour),
	}
	if c.Login.FreeFailures > 0 && (c.Login.MaxDelay < time.Second || c.Login.Forget < c.Login.MaxDelay) {
		r.fail("NLS_LOGIN_MAX_DELAY", "at least 1s, and NLS_LOGIN_FORGET_AFTER at least as long", c.Login.MaxDelay.String())
	}
	c.RequireOwner2FA = r.bool("NLS_REQUIRE_2FA_OWNERS", false)
	c.SecureCookies = r.bool("NLS_SECURE_COOKIES", strings.HasPrefix(c.BaseURL, "https://"))
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		r.fail("REDIS_URL", "a redis:// or rediss:// URL", c.RedisURL)
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		r.fail("DATABASE_URL", "a postgres:// URL", "(hidden)")
	}
	if err := c.Mail().CheckURL(); err != nil {
		r.fail("NLS_SMTP_URL", "smtp://user:password@host:587 or smtps://user:password@host:465", "(hidden)")
	} else if err := c.Mail().CheckFrom(); err != nil {
		r.fail("NLS_SMTP_FROM", "a sender address such as NLS <licenses@example.com> (required with NLS_SMTP_URL)", c.SMTPFrom)
	}
	if r.err != nil {
		return Config{}, r.err
	}
	return c, nil
}

// Mail is the SMTP server invitation emails go through.
func (c Config) Mail() handlers.MailConfig {
	return handlers.MailConfig{URL: c.SMTPURL, From: c.SMTPFrom}
}

// envReader parses variables, keeping the first error.
type envReader struct {
	getenv func(string) string
	err    error
}

func (r *envReader) fail(name, expected, got string) {
	if r.err == nil {
		r.err = &configError{name: name, expected: expected, got: got}
	}
}

func (r *envReader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *envReader) secret(name string) string {
	v := strings.TrimSpace(r.getenv(name))
	if v != "" && len(v) < 32 {
		r.fail(name, "at least 32 characters of random text (openssl rand -hex 32)", strings.Repeat("*", len(v)))
	}
	return v
}

func (r *envReader) int(name string, def, min, max int) int {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < min || n > max {
		r.fail(name, fmt.Sprintf("an integer from %d to %d", min, max), v)
		return def
	}
	return n
}

func (r *envReader) bool(name string, def bool) bool {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		r.fail(name, "true or false", v)
		return def
	}
	return b
}

func (r *envReader) duration(name string, def time.Duration) time.Duration {
	v := r.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < 0 {
		r.fail(name, "a duration such as 15s or 2m", v)
		return def
	}
	return d
}

// days reads a duration from 5 minutes to 90 days, given in days ("7d") or
// as a Go duration ("36h").
func (r *envReader) days(name, def string) time.Duration {
	v := r.str(name, def)
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(v, "d"); ok {
		var days int
		days, err = strconv.Atoi(n)
		d = time.Duration(days) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(v)
	}
	if err != nil || d < 5*time.Minute || d > 90*24*time.Hour {
		r.fail(name, "a duration from 5m to 90d, such as 7d or 36h", v)
		return 0
	}
	return d
}

func (r *envReader) addr(name, def string) string {
	v := r.str(name, def)
	host, port, err := net.SplitHostPort(v)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil || p < 0 || p > 65535 || strings.ContainsAny(host, " /") {
		r.fail(name, "host:port such as :8080 or 127.0.0.1:8080", v)
	}
	return v
}

func (r *envReader) url(name, def string) string {
	v := r.str(name, def)
	if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
		r.fail(name, "an http:// or https:// URL", v)
	}
	return v
}

func (r *envReader) list(name string) []string {
	var out []string
	for _, p := range strings.Split(r.getenv(name), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (r *envReader) origins(name string) []string {
	out := r.list(name)
	for _, o := range out {
		if o == "*" || !(strings.HasPrefix(o, "http://") || strings.HasPrefix(o, "https://")) || strings.Count(o, "/") > 2 {
			r.fail(name, "comma-separated origins such as https://app.example.com (no wildcard, no path)", o)
		}
	}
	return out
}

func (r *envReader) proxies(name string) []string {
	out := r.list(name)
	for _, p := range out {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				r.fail(name, "comma-separated IPs or CIDRs such as 10.0.0.0/8", p)
			}
		}
	}
	return out
}

func (r *envReader) size(name string, def int) int {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	mult := 1
	upper := strings.ToUpper(v)
	for suffix, m := range map[string]int{"KIB": 1 << 10, "MIB": 1 << 20, "KB": 1000, "MB": 1000 * 1000} {
		if strings.HasSuffix(upper, suffix) {
			mult, upper = m, strings.TrimSuffix(upper, suffix)
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(upper))
	if err != nil || n <= 0 || n*mult > 1<<30 {
		r.fail(name, "a size in bytes such as 1048576 or 1MiB (at most 1GiB)", v)
		return def
	}
	return n * mult
}

func (r *envReader) rate(name, def string) handlers.Rate {
	v := r.str(name, def)
	rate, err := handlers.ParseRate(v)
	if err != nil {
		r.fail(name, "requests/window such as 600/1m, or off", v)
	}
	return rate
}

func (r *envReader) level(name, def string) slog.Level {
	v := r.str(name, def)
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.fail(name, "debug, info, warn or error", v)
	}
	return l
}

func (r *envReader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(r.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, "one of "+strings.Join(allowed, ", "), v)
	return def
}

// newLogger logs to w (the command's standard error): text on a terminal
// and JSON otherwise.
func newLogger(c Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	format := c.LogFormat
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
