package handlers

import (
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func (s *Server) registerAuditRoutes(api fiber.Router) {
	api.Get("/audit", s.requireScope(licensing.ScopeAuditRead), s.listAudit)
}

// auditView is one audit row as the API shows it.
type auditView struct {
	ID         int64           `json:"id"`
	OccurredAt time.Time       `json:"occurredAt"`
	Actor      auditActor      `json:"actor"`
	Action     string          `json:"action"`
	EntityType string          `json:"entityType"`
	EntityID   string          `json:"entityId"`
	CustomerID *uuid.UUID      `json:"customerId"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
	IP         string          `json:"ip"`
	UserAgent  string          `json:"userAgent"`
	RequestID  string          `json:"requestId"`
	Hash       string          `json:"hash"`
}

type auditActor struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Label string `json:"label"`
}

func viewAudit(a db.AuditLog) auditView {
	raw := func(b []byte) json.RawMessage {
		if len(b) == 0 {
			return json.RawMessage("null")
		}
		return b
	}
	return auditView{ID: a.ID, OccurredAt: a.OccurredAt.UTC(), Actor: auditActor{a.ActorType, a.ActorID, a.ActorLabel},
		Action: a.Action, EntityType: a.EntityType, EntityID: a.EntityID, CustomerID: a.CustomerID,
		Before: raw(a.Before), After: raw(a.After), IP: a.Ip, UserAgent: a.UserAgent, RequestID: a.RequestID,
		Hash: hexString(a.Hash)}
}

// AuditFilter is the audit list's filters, shared by the API, the admin
// page and the CSV export.
type AuditFilter = db.ListAuditParams

// parseAuditFilter reads actorType, actorId, action, entityType, entityId,
// customerId, from and to (RFC 3339) from the query.
func parseAuditFilter(c *fiber.Ctx) (db.ListAuditParams, error) {
	var f db.ListAuditParams
	var pr licensing.Problems
	str := func(name string) *string {
		if v := c.Query(name); v != "" {
			v = string([]byte(v))
			return &v
		}
		return nil
	}
	f.ActorType, f.ActorID, f.Action = str("actorType"), str("actorId"), str("action")
	f.EntityType, f.EntityID = str("entityType"), str("entityId")
	if v := c.Query("customerId"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			pr.Add("customerId", "must be a UUID")
		}
		f.CustomerID = &id
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"from", &f.FromTime}, {"to", &f.ToTime}} {
		if v := c.Query(p.name); v != "" {
			t, err := parseTimeOrDate(v)
			if err != nil {
				pr.Add(p.name, "must be an RFC 3339 time or a YYYY-MM-DD date")
				continue
			}
			*p.dst = &t
		}
	}
	return f, pr.Err()
}

func parseTimeOrDate(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02", v)
}

// listAudit handles GET /api/audit: the log, newest first, filtered and paginated.
func (s *Server) listAudit(c *fiber.Ctx) error {
	p, err := parsePage(c)
	if err != nil {
		return err
	}
	f, err := parseAuditFilter(c)
	if err != nil {
		return err
	}
	if p.After != nil {
		f.BeforeID = &p.After.N
	}
	pg, err := fetchPage(p.Limit, func(n int32) ([]db.AuditLog, error) {
		f.MaxRows = n
		return s.store.ListAudit(c.UserContext(), f)
	}, func(last db.AuditLog) cursor { return cursor{N: last.ID} })
	if err != nil {
		return err
	}
	return c.JSON(listOf(pg, viewAudit))
}
