// The management API's findings list (GET /api/findings, scope
// insights:read), and the filter parsing the admin Insights page shares.

package handlers

import (
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/insights"
	"github.com/nectarcloud/nls/licensing"
)

func (s *Server) registerFindingRoutes(api fiber.Router) {
	api.Get("/findings", s.requireScope(licensing.ScopeInsightsRead), s.listFindings)
}

// findingView is one finding as the API shows it.
type findingView struct {
	ID            uuid.UUID       `json:"id"`
	Kind          string          `json:"kind"`
	Severity      string          `json:"severity"`
	Status        string          `json:"status"`
	Title         string          `json:"title"`
	Subject       string          `json:"subject"`
	LicenseID     *uuid.UUID      `json:"licenseId"`
	CustomerID    *uuid.UUID      `json:"customerId"`
	CustomerName  string          `json:"customerName"`
	Plan          string          `json:"plan"`
	Evidence      json.RawMessage `json:"evidence"`
	RevenueCents  *int64          `json:"revenueAtStakeCents"`
	FirstSeenAt   time.Time       `json:"firstSeenAt"`
	LastSeenAt    time.Time       `json:"lastSeenAt"`
	ResolvedAt    *time.Time      `json:"resolvedAt"`
	DismissReason *string         `json:"dismissReason"`
}

func viewFinding(f db.FindingRow) findingView {
	return findingView{ID: f.ID, Kind: f.Kind, Severity: f.Severity, Status: f.Status, Title: f.Title, Subject: f.Subject,
		LicenseID: f.LicenseID, CustomerID: f.CustomerID, CustomerName: f.CustomerName, Plan: f.Plan, Evidence: f.Evidence,
		RevenueCents: f.RevenueCents, FirstSeenAt: f.FirstSeenAt.UTC(), LastSeenAt: f.LastSeenAt.UTC(),
		ResolvedAt: utcTime(f.ResolvedAt), DismissReason: f.DismissReason}
}

func utcTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// findingStatuses are the status filters: a finding's own, and "active"
// (open or acknowledged).
var findingStatuses = []string{"open", "acknowledged", "dismissed", "resolved", "active"}

// parseFindingFilter reads kind, severity, status, licenseId, customerId and
// sort (recent, revenue) from the query.
func parseFindingFilter(c *fiber.Ctx) (db.FindingFilter, error) {
	var f db.FindingFilter
	var pr licensing.Problems
	if v := c.Query("kind"); v != "" {
		if _, ok := insights.LookupKind(v); !ok {
			pr.Add("kind", "unknown kind")
		}
		v = string([]byte(v))
		f.Kind = &v
	}
	if v := c.Query("severity"); v != "" {
		if insights.Severity(v).Rank() < 0 {
			pr.Add("severity", "info, warning or critical")
		}
		v = string([]byte(v))
		f.Severity = &v
	}
	if v := c.Query("status"); v != "" {
		ok := false
		for _, s := range findingStatuses {
			ok = ok || s == v
		}
		if !ok {
			pr.Add("status", "open, acknowledged, dismissed, resolved or active")
		}
		v = string([]byte(v))
		f.Status = &v
	}
	for _, p := range []struct {
		name string
		dst  **uuid.UUID
	}{{"licenseId", &f.LicenseID}, {"customerId", &f.CustomerID}} {
		if v := c.Query(p.name); v != "" {
			id, err := uuid.Parse(v)
			if err != nil {
				pr.Add(p.name, "must be a UUID")
				continue
			}
			*p.dst = &id
		}
	}
	switch c.Query("sort") {
	case "", "recent":
	case "revenue":
		f.ByRevenue = true
	default:
		pr.Add("sort", "recent or revenue")
	}
	return f, pr.Err()
}

// findingPage fetches one page of findings and the cursor of the next.
func (s *Server) findingPage(c *fiber.Ctx, f db.FindingFilter, p page) (Page[db.FindingRow, cursor], error) {
	if p.After != nil {
		f.After = &db.FindingCursor{Revenue: p.After.N, Time: p.After.T, ID: p.After.ID}
	}
	return fetchPage(p.Limit, func(n int32) ([]db.FindingRow, error) {
		f.MaxRows = n
		return s.store.ListFindings(c.UserContext(), f)
	}, func(last db.FindingRow) cursor {
		rev := int64(-1)
		if last.RevenueCents != nil {
			rev = *last.RevenueCents
		}
		return cursor{T: last.LastSeenAt, ID: last.ID, N: rev}
	})
}

// listFindings handles GET /api/findings: newest first (or by revenue at
// stake), filtered and paginated.
func (s *Server) listFindings(c *fiber.Ctx) error {
	p, err := parsePage(c)
	if err != nil {
		return err
	}
	f, err := parseFindingFilter(c)
	if err != nil {
		return err
	}
	pg, err := s.findingPage(c, f, p)
	if err != nil {
		return err
	}
	return c.JSON(listOf(pg, viewFinding))
}
