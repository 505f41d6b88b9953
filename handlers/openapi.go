package handlers

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPIDocument is the OpenAPI 3.1 description of every JSON route, kept
// true by TestOpenAPI* (every route documented, every documented route
// served, real answers valid against it).
//
//go:embed openapi.json
var openAPIDocument []byte

func (s *Server) registerOpenAPIRoutes(api fiber.Router) {
	api.Get("/openapi.json", s.openAPI)
}

// openAPI handles GET /api/openapi.json: public, cacheable for 5 minutes.
func (s *Server) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(openAPIDocument)
}
