package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

const (
	localRequestID       = "requestID"
	localCallerRequestID = "callerRequestID"
	localClientIP        = "clientIP"
)

// clientIP is c.IP(), worked out once a request: Fiber formats the address
// anew on every call, and the rate limit, the machine API and the access
// log each ask.
func clientIP(c *fiber.Ctx) string {
	if ip, ok := c.Locals(localClientIP).(string); ok {
		return ip
	}
	ip := c.IP()
	c.Locals(localClientIP, ip)
	return ip
}

// requestID gives every request an id, echoed in X-Request-Id and written
// to the audit log. A caller's X-Request-Id is adopted only from a trusted
// proxy (NLS_TRUSTED_PROXIES), so that logs line up across hops; from
// anyone else it could forge or collide with ids in the audit log, so ours
// is used and theirs is only logged beside it as caller_request_id.
//
// With tracing on, the request id is the trace id instead (tracing.go).
func (s *Server) requestID(c *fiber.Ctx) error {
	takeTurn()
	trusted := len(s.cfg.TrustedProxies) > 0 && c.IsProxyTrusted()
	if s.tracer != nil {
		return s.tracedRequest(c, trusted)
	}
	theirs := c.Get(fiber.HeaderXRequestID)
	id := ""
	if saneRequestID(theirs) && trusted {
		id = theirs
	} else {
		id = newRequestID()
		if theirs != "" {
			c.Locals(localCallerRequestID, sanitizedRequestID(theirs))
		}
	}
	c.Locals(localRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
	return c.Next()
}

// sanitizedRequestID keeps a caller's id fit for a log line: at most 64
// characters, anything outside the safe set replaced by "_".
func sanitizedRequestID(id string) string {
	if len(id) > 64 {
		id = id[:64]
	}
	b := []byte(id)
	for i, r := range b {
		if !requestIDByte(r) {
			b[i] = '_'
		}
	}
	return string(b)
}

func newRequestID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !requestIDByte(id[i]) {
			return false
		}
	}
	return true
}

func requestIDByte(r byte) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
}

// requestIDOf returns the request's id, making one for requests that failed
// before the middleware ran (a body over the limit is refused that early).
func requestIDOf(c *fiber.Ctx) string {
	if id, ok := c.Locals(localRequestID).(string); ok {
		return id
	}
	id := newRequestID()
	c.Locals(localRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
	return id
}

// accessLog logs one line per request and feeds the metrics. It renders
// errors itself (through the one error handler) so that the status it logs
// is the status sent. Paths are logged without query strings, and never a
// body: license keys travel in bodies.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	route := routeOf(c)
	var fe *fiber.Error
	if errors.As(err, &fe) && fe.Code == fiber.StatusNotFound && strings.HasPrefix(fe.Message, "Cannot ") {
		route = "unmatched" // Fiber's router found nothing: keep metric labels bounded
	}
	if err != nil {
		if herr := s.handleError(c, err); herr != nil {
			s.log.Error("error handler failed", "request_id", requestIDOf(c), "err", herr)
			c.Status(fiber.StatusInternalServerError)
		}
	}
	status := c.Response().StatusCode()
	elapsed := time.Since(start)
	s.metrics.observe(c.Method(), route, status, elapsed)
	level := slog.LevelInfo
	if route == "/healthz" || route == "/readyz" || route == "/metrics" || route == "/static/*" {
		level = slog.LevelDebug
	}
	// Typed attributes in a fixed array, and nothing built for a level that
	// is off: the access log is on every request's path.
	ctx := c.UserContext()
	if !s.log.Enabled(ctx, level) {
		return nil
	}
	attrs := [8]slog.Attr{slog.String("request_id", requestIDOf(c)), slog.String("method", c.Method()),
		slog.String("path", c.Path()), slog.String("route", route), slog.Int("status", status),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000), slog.String("ip", clientIP(c))}
	n := 7
	if theirs, ok := c.Locals(localCallerRequestID).(string); ok {
		attrs[n] = slog.String("caller_request_id", theirs)
		n++
	}
	if tid := traceIDOf(c); tid != "" {
		attrs[n] = slog.String("trace_id", tid)
		n++
	}
	s.log.LogAttrs(ctx, level, "request", attrs[:n]...)
	return nil
}

// takeTurn lets the other connections' requests run before this one. A
// connection's goroutine serves its requests in a loop, and parks only when
// the next request has not arrived yet; a client that answers within
// microseconds (a busy installation, a load generator) keeps it from ever
// parking, and it holds its processor until Go's scheduler preempts it,
// 10 ms later, while the requests of every other connection wait. With Go
// on one processor beside a local PostgreSQL (portal serve's default) an
// execution trace of make bench's production mix showed three such
// connections served a hundred requests each, back to back, while sixty
// others waited 20 to 66 ms: the route's p99. Yielding once a request puts
// each connection back in line behind those already waiting. It costs a
// few hundred nanoseconds when nothing else is runnable.
func takeTurn() { runtime.Gosched() }

// routeOf names the matched route template, not the raw path, so metrics
// have bounded labels.
func routeOf(c *fiber.Ctx) string {
	r := c.Route()
	if r == nil || r.Path == "" {
		return "unmatched"
	}
	return r.Path
}

// recoverPanic turns a panic into an internal error with the stack logged.
func (s *Server) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic", "request_id", requestIDOf(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return c.Next()
}

// contentSecurityPolicy lets pages load only what the process itself serves.
// HTMX works under it because its inline indicator styles and eval are off
// (see the htmx-config meta tag in the base layout).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

func (s *Server) securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", contentSecurityPolicy)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	if s.cfg.SecureCookies {
		c.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
	return c.Next()
}
