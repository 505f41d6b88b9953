// The JWKS route: the public half of the signing keys.
package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/licensing"
)

// jwks handles GET /.well-known/jwks.json: the public half of every signing
// key, current and retired, for any JOSE library to verify keys and leases.
func (s *Server) jwks(c *fiber.Ctx) error {
	doc, err := s.keys.Ring().JWKS()
	if err != nil {
		return licensing.Internal(err)
	}
	// Clients cache it; a rotation adds a key before it signs anything, and a
	// client refreshes on an unknown kid, so an hour of caching is safe.
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	c.Set(fiber.HeaderContentType, "application/jwk-set+json")
	return c.Send(doc)
}
