package handlers_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/events"
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
