package handlers

import (
	_ "embed"
	"encoding/json"
	"strings"

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
	doc["webhooks"] = webhookDocs(schemas)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("openapi.json: " + err.Error())
	}
	return out
}

// webhookDocs is the OpenAPI 3.1 webhooks section: one POST per event type
// (and the ping) as NLS sends it to a subscribed endpoint, with its
// Standard Webhooks headers and its body {type, timestamp, data}; the body
// schemas are added to schemas.
func webhookDocs(schemas map[string]any) map[string]any {
	header := func(name, desc string) map[string]any {
		return map[string]any{"name": name, "in": "header", "required": true, "description": desc,
			"schema": map[string]any{"type": "string"}}
	}
	params := []any{
		header("webhook-id", "The event's id: the same on every attempt and resend; use it to de-duplicate."),
		header("webhook-timestamp", "When this attempt was signed, in Unix seconds; refuse ones more than a few minutes off."),
		header("webhook-signature", "`v1,` and the base64 HMAC-SHA256, keyed by the endpoint's whsec_ secret (base64-decoded), "+
			"of `{webhook-id}.{webhook-timestamp}.{body}`; several, space-separated, while a rotated secret overlaps."),
	}
	responses := map[string]any{
		"2XX":     map[string]any{"description": "Delivered. Any 2xx within 10 seconds counts; the answer's body is kept (500 bytes) in the delivery log."},
		"410":     map[string]any{"description": "Gone: the endpoint is disabled and receives nothing more until enabled again."},
		"default": map[string]any{"description": "Anything else (or no answer, or a redirect, which is not followed) is retried: 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h, about three days in all."},
	}
	out := map[string]any{}
	add := func(typ, summary string, data map[string]any) {
		name := "WebhookPayload" + strings.TrimPrefix(events.SchemaName(typ), "Event")
		schemas[name] = map[string]any{"type": "object", "description": summary,
			"required": []string{"type", "timestamp", "data"},
			"properties": map[string]any{
				"type":      map[string]any{"type": "string", "enum": []string{typ}},
				"timestamp": map[string]any{"type": "string", "format": "date-time", "description": "When the event occurred (not when it was sent): order deliveries by it."},
				"data":      data,
			}}
		out[typ] = map[string]any{"post": map[string]any{
			"operationId": "webhook" + strings.TrimPrefix(events.SchemaName(typ), "Event"),
			"summary":     summary, "tags": []string{"webhooks"}, "parameters": params,
			"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/" + name}}}},
			"responses": responses,
		}}
	}
	for _, spec := range events.Catalogue {
		add(spec.Type, spec.Description, events.DataSchema(spec))
	}
	add("ping", "A test event, sent by the admin portal's \"Send test event\" or POST /api/webhook-endpoints/{id}/ping.",
		map[string]any{"type": "object", "required": []string{"endpointId", "message"}, "properties": map[string]any{
			"endpointId": map[string]any{"type": "string", "format": "uuid"}, "message": map[string]any{"type": "string"}}})
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
