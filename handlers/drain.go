// Draining before a shutdown: /readyz turns 503 first, so that a load
// balancer or Kubernetes stops sending new requests, while the process goes
// on answering what still arrives; only then does main close the listener
// and wait for the requests in flight.
package handlers

import (
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
)

// Readiness is shared by main and the handlers: main calls Drain when a
// shutdown begins.
type Readiness struct{ draining atomic.Bool }

// Drain makes /readyz answer 503 from now on, and every answer ask its
// client to close the connection, so kept-alive connections move to other
// processes before this one closes its listener.
func (r *Readiness) Drain() { r.draining.Store(true) }

// Draining reports whether Drain was called.
func (r *Readiness) Draining() bool { return r != nil && r.draining.Load() }

// closeWhenDraining adds "Connection: close" to answers once draining.
func (s *Server) closeWhenDraining(c *fiber.Ctx) error {
	if s.readiness.Draining() {
		c.Set(fiber.HeaderConnection, "close")
	}
	return c.Next()
}
