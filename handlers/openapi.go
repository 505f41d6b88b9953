package handlers

import (
	_ "embed"
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/events"
)

// openAPIDocument is the OpenAPI 3.1 description of every JSON route, kept
// true by TestOpenAPI* (every route documented, every documented route
// served, real answers valid against it).
//
//go:embed openapi.json
var openAPISource []byte

// openAPIDocument is openapi.json with one schema per domain event type
// added from the event catalogue (events.Schemas), so that the payloads
// notifications and webhooks carry are published from the code that
// records them.
var openAPIDocument = withEventSchemas(openAPISource)

func withEventSchemas(src []byte) []byte {
	var doc map[string]any
	if err := json.Unmarshal(src, &doc); err != nil {
		panic("openapi.json: " + err.Error())
	}
	comps, _ := doc["components"].(map[string]any)
	if comps == nil {
		comps = map[string]any{}
		doc["components"] = comps
	}
	schemas, _ := comps["schemas"].(map[string]any)
	if schemas == nil {
		schemas = map[string]any{}
		comps["schemas"] = schemas
	}
	var refs []any
	for name, schema := range events.Schemas() {
		schemas[name] = schema
	}
	for _, spec := range events.Catalogue {
		refs = append(refs, map[string]any{"$ref": "#/components/schemas/" + events.SchemaName(spec.Type)})
	}
	schemas["Event"] = map[string]any{"description": "A domain event: one of the typed events below, told apart by type.",
		"oneOf": refs}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("openapi.json: " + err.Error())
	}
	return out
}

func (s *Server) registerOpenAPIRoutes(api fiber.Router) {
	api.Get("/openapi.json", s.openAPI)
}

// openAPI handles GET /api/openapi.json: public, cacheable for 5 minutes.
func (s *Server) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(openAPIDocument)
}
