// Package handlers is the HTTP adapter of NLS: one Fiber app serving the
// machine and management APIs, the admin and customer portals and the Stripe
// webhook, with the middleware they share and the one error handler.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gorilla/securecookie"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/blobstore"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/static"
)

// Config is what the HTTP layer needs from the portal's configuration.
type Config struct {
	BodyLimit      int      // bytes
	CORSOrigins    []string // empty: no cross-origin access
	TrustedProxies []string // CIDRs or IPs whose X-Forwarded-For is believed
	SecureCookies  bool     // set when served over TLS (directly or behind a proxy)
	MetricsToken   string   // when set, /metrics needs "Authorization: Bearer <token>"
	APIRate        Rate     // per client IP on the management API
	MachineRateIP  Rate     // per client IP on the machine API
	MachineRateKey Rate     // per license key on the machine API
	StripeSecrets  []string // webhook signing secrets; several during a rotation
	StripeAPIKey   string   // Stripe secret API key (billing portal); empty: billing off
	StripeAPIBase  string   // Stripe API base URL override (stripe-mock in tests)
	BaseURL        string   // the portal's public URL, for links it builds

	// Customer accounts.
	InviteTTL  time.Duration // how long a link to set a password works; 0: 7 days
	BcryptCost int           // for passwords set in the portal; below bcrypt's minimum: its default
	Mail       MailConfig    // SMTP for invitation emails; an empty URL sends none

	// Signs the unsubscribe links of notice emails (notifications.go).
	NoticeSecret []byte
	ReminderDays []int // renewal reminder offsets shown on license pages; nil: 30, 14, 7, 1

	// Delays after failed sign-ins (login_throttle.go); zero: none.
	LoginThrottle LoginThrottle

	Distribution DistributionConfig // releases, downloads, registry tokens (distribution.go)
	Webhooks     WebhooksConfig     // outbound webhook endpoints (api_webhooks.go)
	// Owners must use two-factor sign-in (NLS_REQUIRE_2FA_OWNERS): one
	// without it is sent to set it up and can do nothing else meanwhile.
	RequireOwner2FA bool
}

// Deps are the handlers' collaborators, built and owned by main.
type Deps struct {
	Store    *db.Store
	Log      *slog.Logger
	Limiter  Limiter
	Assets   *static.Assets
	Registry *prometheus.Registry
	Keys     *app.KeyService
	Sealer   *licensing.Sealer
	Stats    *db.ValidationStats // nil: counted in memory and flushed only when read
	Seen     *db.LastSeen        // nil: last-seen times kept in memory and flushed when read and at shutdown
	Facts    *db.FactsCache      // nil: every validation reads the database
	Sessions []securecookie.Codec
	Now      func() time.Time
	// Tracer records a span per request and per outbound call; nil: tracing off.
	Tracer trace.TracerProvider
	// Readiness turns /readyz to 503 when main starts a shutdown; nil: never.
	Readiness *Readiness

	Blobs        blobstore.Store    // artifacts; nil: distribution routes answer 503
	LocalBlobs   *blobstore.FS      // set when Blobs is the filesystem store, whose links NLS serves
	RegistryKeys *licensing.Keyring // signs registry tokens; nil: no registry token service
}

// Server holds the dependencies every handler method uses.
type Server struct {
	cfg       Config
	store     *db.Store
	log       *slog.Logger
	limiter   Limiter
	assets    *static.Assets
	metrics   *metrics
	gatherer  prometheus.Gatherer
	keys      *app.KeyService
	issuer    db.KeyIssuer
	sealer    *licensing.Sealer
	stats     *db.ValidationStats
	codecs    []securecookie.Codec
	now       func() time.Time
	outage    *outageLog
	seen      *db.LastSeen
	tracer    trace.Tracer      // nil: tracing off
	outbound  http.RoundTripper // for calls to other services (Stripe)
	readiness *Readiness

	// The use cases (app/) that handlers call: a handler parses, calls one,
	// and answers.
	machine     *app.Machine
	licenses    *app.Licenses
	invitations *app.Invitations
	webhooks    *app.Webhooks

	dist distribution

	adminRouteTable []RoutePermission // what each admin route needs, for pages to offer only what a role may do
}

// New builds the Fiber app with every route.
func New(cfg Config, d Deps) *fiber.App {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = 1 << 20
	}
	if d.Stats == nil {
		d.Stats = db.NewValidationStats(d.Store, d.Log)
	}
	if d.Seen == nil {
		d.Seen = db.NewLastSeen(d.Store, d.Log)
	}
	s := &Server{cfg: cfg, store: d.Store, log: d.Log, limiter: d.Limiter, assets: d.Assets, now: d.Now,
		metrics: newMetrics(d.Registry, d.Store, d.Keys, d.Now), gatherer: d.Registry, keys: d.Keys, issuer: d.Keys,
		sealer: d.Sealer, stats: d.Stats, seen: d.Seen, codecs: d.Sessions}
	var machineStore app.MachineStore = d.Store
	if d.Facts != nil {
		machineStore = db.FactsStore{Store: d.Store, Facts: d.Facts}
	}
	s.machine = app.NewMachine(machineStore, d.Keys, d.Stats, d.Seen, d.Now)
	s.licenses = app.NewLicenses(d.Store, d.Keys, d.Sealer, d.Now)
	s.invitations = app.NewInvitations(d.Store, cfg.BaseURL, cfg.BcryptCost, d.Now)
	s.webhooks = app.NewWebhooks(d.Store, d.Sealer, cfg.Webhooks.Guard, cfg.Webhooks.SecretOverlap, d.Now)
	s.outage = newOutageLog(d.Log, d.Store.Pool.Ping)
	if d.Tracer != nil {
		s.tracer = d.Tracer.Tracer(tracerName)
	}
	s.outbound = outboundTransport(d.Tracer)
	s.readiness = d.Readiness
	s.dist = newDistribution(cfg.Distribution, d)

	fcfg := fiber.Config{
		AppName:               "nls",
		BodyLimit:             cfg.BodyLimit,
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		ReadBufferSize:        16 << 10,
		// Every string Fiber hands out (method, path, params, headers, query
		// and form values) is a copy, so none can change under a metric
		// label, log field, audit row or map key after the request ends.
		// It costs about one small allocation per value read; see
		// TestMetricsUnderKeepAliveTraffic for what happens without it.
		Immutable: true,
		// Artifact uploads stream to the blob store (distribution.go);
		// limitBody keeps BodyLimit for every other route.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
	}
	if len(cfg.TrustedProxies) > 0 {
		fcfg.ProxyHeader = fiber.HeaderXForwardedFor
		fcfg.EnableTrustedProxyCheck = true
		fcfg.TrustedProxies = cfg.TrustedProxies
		fcfg.EnableIPValidation = true
	}
	app := fiber.New(fcfg)
	app.Server().HeaderReceived = requestTimeouts // long downloads (distribution.go)
	app.Hooks().OnShutdown(func() error {
		s.outage.close()
		// Last-seen times still in memory (when no one runs d.Seen) are written now.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.seen.Flush(ctx); err != nil {
			s.log.Warn("flushing last-seen times at shutdown failed", "err", err)
		}
		return nil
	})

	app.Use(s.requestID, s.accessLog, s.recoverPanic, s.closeWhenDraining, s.securityHeaders, s.limitBody, s.checkQueryText)
	if len(cfg.CORSOrigins) > 0 {
		app.Use(cors.New(cors.Config{
			AllowOrigins:  joinComma(cfg.CORSOrigins),
			AllowMethods:  "GET,POST,PATCH,PUT,DELETE,OPTIONS",
			AllowHeaders:  "Authorization,Content-Type,X-Request-Id",
			ExposeHeaders: "X-Request-Id,Retry-After",
			MaxAge:        600,
		}))
	}
	// Machine answers are small and frequent: compressing them costs more CPU
	// than it saves bytes. Pages, lists and static files are compressed.
	app.Use(compress.New(compress.Config{Level: compress.LevelBestSpeed, Next: func(c *fiber.Ctx) bool {
		p := c.Path()
		return strings.HasPrefix(p, "/api/validation/") || p == "/api/usage/report"
	}}))

	s.registerSystemRoutes(app)
	s.registerStaticRoutes(app)
	api := app.Group("/api")
	s.registerMachineRoutes(api)
	s.registerAPIRoutes(api)
	s.registerPageRoutes(app)
	s.registerInvitationRoutes(app)
	s.registerPortalAccountRoutes(app)
	s.registerPortalRoutes(app)
	s.registerNotificationRoutes(app)
	s.registerDistributionRoutes(app, api)
	// A request no route matches falls through the middleware to Fiber's
	// ErrNotFound, which handleError renders.
	return app
}

func joinComma(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
