// JSON Schemas of the event payloads, derived from the Go types so that the
// published document cannot drift from what is recorded.

package events

import (
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"
)

// SchemaName is the OpenAPI component name of an event type's envelope,
// e.g. "Event_license.created" → "EventLicenseCreated".
func SchemaName(typ string) string {
	var b strings.Builder
	b.WriteString("Event")
	for _, part := range strings.FieldsFunc(typ, func(r rune) bool { return r == '.' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// Schemas returns one schema per event type: the envelope an event is
// published as ({id, type, occurredAt, data}), with the payload's shape.
func Schemas() map[string]any {
	out := make(map[string]any, len(Catalogue))
	for _, s := range Catalogue {
		out[SchemaName(s.Type)] = map[string]any{
			"type":        "object",
			"description": s.Description,
			"required":    []string{"id", "type", "occurredAt", "data"},
			"properties": map[string]any{
				"id":         map[string]any{"type": "string", "format": "uuid"},
				"type":       map[string]any{"type": "string", "enum": []string{s.Type}},
				"occurredAt": map[string]any{"type": "string", "format": "date-time"},
				"data":       schemaOf(reflect.TypeOf(s.Data)),
			},
		}
	}
	return out
}

var (
	timeType = reflect.TypeOf(time.Time{})
	uuidType = reflect.TypeOf(uuid.UUID{})
)

func schemaOf(t reflect.Type) map[string]any {
	nullable := false
	if t.Kind() == reflect.Pointer {
		nullable, t = true, t.Elem()
	}
	var s map[string]any
	switch {
	case t == timeType:
		s = map[string]any{"type": "string", "format": "date-time"}
	case t == uuidType:
		s = map[string]any{"type": "string", "format": "uuid"}
	case t.Kind() == reflect.String:
		s = map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		s = map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s = map[string]any{"type": "integer"}
	case t.Kind() == reflect.Slice:
		s = map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case t.Kind() == reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			p := schemaOf(f.Type)
			if doc := f.Tag.Get("doc"); doc != "" {
				p["description"] = doc
			}
			props[name] = p
			required = append(required, name)
		}
		s = map[string]any{"type": "object", "properties": props, "required": required}
	default:
		panic("events: no schema for " + t.String())
	}
	if nullable {
		s["type"] = []any{s["type"], "null"}
	}
	return s
}

// DataSchema is the JSON Schema of one event type's data.
func DataSchema(s Spec) map[string]any { return schemaOf(reflect.TypeOf(s.Data)) }
