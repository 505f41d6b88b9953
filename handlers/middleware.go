package handlers

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

const localRequestID = "requestID"

// requestID gives every request an id, echoed in X-Request-Id. A sane id
// from the caller (a proxy's) is kept so that logs line up across hops.
func (s *Server) requestID(c *fiber.Ctx) error {
	id := c.Get(fiber.HeaderXRequestID)
	if !saneRequestID(id) {
		id = newRequestID()
	} else {
		id = string([]byte(id)) // Fiber reuses the header buffer
	}
	c.Locals(localRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
	return c.Next()
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
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
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
	level := s.log.Info
	if route == "/healthz" || route == "/readyz" || route == "/metrics" || route == "/static/*" {
		level = s.log.Debug
	}
	level("request", "request_id", requestIDOf(c), "method", c.Method(), "path", c.Path(), "route", route,
		"status", status, "duration_ms", float64(elapsed.Microseconds())/1000, "ip", c.IP())
	return nil
}

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
