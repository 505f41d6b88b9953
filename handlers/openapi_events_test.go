package handlers_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/webhooks"
)

// Every event type of the catalogue is published as a schema, and an event
// as NLS records it validates against that schema (and fails another).
func TestOpenAPIPublishesEveryEventType(t *testing.T) {
	e := newEnv(t)
	doc, _ := loadOpenAPI(t, e, true)
	now := time.Now().UTC().Truncate(time.Second)
	days := 7
	samples := map[string]events.Data{
		"license":    events.License{LicenseID: uuid.New(), CustomerID: uuid.New(), Plan: "pro", Status: "active", ExpiresAt: &now, Action: "license.renew"},
		"milestone":  events.Milestone{LicenseID: uuid.New(), CustomerID: uuid.New(), Plan: "pro", ExpiresAt: &now, DaysBefore: &days},
		"deployment": events.Deployment{LicenseID: uuid.New(), CustomerID: uuid.New(), DeploymentID: uuid.New(), ClientID: "node-1", LastSeenAt: now},
		"usage":      events.UsageLimit{LicenseID: uuid.New(), CustomerID: uuid.New(), Metric: "apiCalls", Used: 80, Limit: 100, PeriodStart: now, PeriodEnd: now},
		"customer":   events.Customer{CustomerID: uuid.New(), Name: "Acme", Email: "ops@acme.example"},
		"webhook":    events.WebhookEndpoint{EndpointID: uuid.New(), URL: "https://hooks.example.com/nls", Reason: "the receiver answered 410 Gone"},
		"finding": events.Finding{FindingID: uuid.New(), Kind: "sharing_suspected", Severity: "warning",
			Subject: "source:key:203.0.113.9", Title: "Key forging from 203.0.113.9", FirstSeenAt: now},
	}
	kind := func(d events.Data) string {
		switch d.(type) {
		case events.License:
			return "license"
		case events.Milestone:
			return "milestone"
		case events.Deployment:
			return "deployment"
		case events.UsageLimit:
			return "usage"
		case events.WebhookEndpoint:
			return "webhook"
		case events.Finding:
			return "finding"
		}
		return "customer"
	}
	if _, ok := doc.Components.Schemas["Event"]; !ok {
		t.Fatal("no Event schema")
	}
	for _, spec := range events.Catalogue {
		t.Run(spec.Type, func(t *testing.T) {
			ref, ok := doc.Components.Schemas[events.SchemaName(spec.Type)]
			if !ok {
				t.Fatalf("no schema %s", events.SchemaName(spec.Type))
			}
			envelope := func(data events.Data, typ string) any {
				b, _ := json.Marshal(map[string]any{"id": uuid.NewString(), "type": typ, "occurredAt": now, "data": data})
				var v any
				_ = json.Unmarshal(b, &v)
				return v
			}
			if err := ref.Value.VisitJSON(envelope(samples[kind(spec.Data)], spec.Type)); err != nil {
				t.Fatalf("a recorded %s does not match its schema: %v", spec.Type, err)
			}
			if err := ref.Value.VisitJSON(envelope(samples[kind(spec.Data)], "license.bogus")); err == nil {
				t.Fatal("the schema accepts another event type")
			}
			other := samples["customer"]
			if kind(spec.Data) == "customer" {
				other = samples["usage"]
			}
			if err := ref.Value.VisitJSON(envelope(other, spec.Type)); err == nil {
				t.Fatal("the schema accepts another payload shape")
			}
		})
	}
}

// The webhooks section documents one delivery per event type and the ping,
// and a body as NLS sends it validates against its schema.
func TestOpenAPIWebhooksSectionDocumentsEveryEventType(t *testing.T) {
	e := newEnv(t)
	doc, _ := loadOpenAPI(t, e, true)
	types := []string{"ping"}
	for _, s := range events.Catalogue {
		types = append(types, s.Type)
	}
	if len(doc.Webhooks) != len(types) {
		t.Errorf("%d webhooks documented, want %d", len(doc.Webhooks), len(types))
	}
	for _, typ := range types {
		item := doc.Webhooks[typ]
		if item == nil || item.Post == nil || item.Post.RequestBody == nil {
			t.Errorf("%s: no POST with a body in webhooks", typ)
			continue
		}
		for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
			if item.Post.Parameters.GetByInAndName("header", h) == nil {
				t.Errorf("%s: header %s not documented", typ, h)
			}
		}
		schema := item.Post.RequestBody.Value.Content.Get("application/json").Schema.Value
		var data any = map[string]any{"endpointId": uuid.NewString(), "message": "hi"}
		if spec, ok := events.Lookup(typ); ok {
			b, _ := json.Marshal(reflect.New(reflect.TypeOf(spec.Data)).Elem().Interface())
			_ = json.Unmarshal(b, &data)
		}
		raw, err := webhooks.Body(typ, time.Now(), mustJSON(t, data))
		if err != nil {
			t.Fatal(err)
		}
		var body any
		_ = json.Unmarshal(raw, &body)
		if err := schema.VisitJSON(body); err != nil {
			t.Errorf("%s: a body as sent does not match its schema: %v", typ, err)
		}
		body.(map[string]any)["type"] = "license.bogus"
		if err := schema.VisitJSON(body); err == nil {
			t.Errorf("%s: the schema accepts another type", typ)
		}
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
