package handlers

// The admin audit log: filters in the URL, keyset pages, each change's
// before and after, and an on-demand check of the hash chain.

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/web/templates/pages/admin"
	"github.com/nectarcloud/nls/web/templates/partials"
)

const auditPageSize = 50

// auditActorTypes are the actor types the filter offers, as the schema allows.
var auditActorTypes = []admin.Option{{Value: "admin", Label: "Admin"}, {Value: "customer_user", Label: "Customer user"},
	{Value: "api_key", Label: "API key"}, {Value: "stripe", Label: "Stripe"}, {Value: "system", Label: "System"},
	{Value: "client", Label: "Client"}}

// adminAuditFilter reads the audit filters as the page and its export take
// them: the API's parameters, except that a "to" date includes its day.
func adminAuditFilter(c *fiber.Ctx) (partials.AuditFilter, db.ListAuditParams, error) {
	q := func(name string) string { return strings.Clone(c.Query(name)) }
	f := partials.AuditFilter{ActorType: q("actorType"), ActorID: q("actorId"), Action: q("action"),
		EntityType: q("entityType"), EntityID: q("entityId"), CustomerID: q("customerId"), From: q("from"), To: q("to")}
	params, err := parseAuditFilter(c)
	if err != nil {
		return f, params, err
	}
	if params.ToTime != nil && len(f.To) == len(dateFormat) {
		end := params.ToTime.AddDate(0, 0, 1)
		params.ToTime = &end
	}
	return f, params, nil
}

// auditQuery is the filter as URL query parameters.
func auditQuery(f partials.AuditFilter) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"actorType": f.ActorType, "actorId": f.ActorID, "action": f.Action,
		"entityType": f.EntityType, "entityId": f.EntityID, "customerId": f.CustomerID, "from": f.From, "to": f.To} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// withQuery appends a query to a path, if there is one.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// adminAudit handles GET /admin/audit?actorType=&actorId=&action=&entityType=&entityId=&customerId=&from=&to=&cursor=:
// the whole page, or under HTMX only the results.
func (s *Server) adminAudit(c *fiber.Ctx) error {
	v, status, err := s.auditPage(c)
	if err != nil {
		return err
	}
	return s.renderSwap(c, status, partials.AuditList(v.Results), func() (templ.Component, error) {
		return admin.AuditLogPage(s.page(c, "Audit log"), v), nil
	})
}

// auditPage gathers the audit page for the request's filters; a filter
// that cannot be read is shown in place (and answers 422 to a full load).
func (s *Server) auditPage(c *fiber.Ctx) (admin.AuditPage, int, error) {
	f, params, err := adminAuditFilter(c)
	v := admin.AuditPage{Filter: f, ActorTypes: auditActorTypes,
		Results: partials.AuditResults{Filtered: f != partials.AuditFilter{}},
		CSVURL:  withQuery("/admin/audit.csv", auditQuery(f))}
	if err == nil {
		err = s.loadAuditResults(c, f, params, &v.Results)
	}
	if err != nil {
		if licensing.ErrorCode(err) != licensing.EINVALID {
			return v, 0, err
		}
		v.Results.Error = problemText(err)
		return v, fiber.StatusUnprocessableEntity, nil
	}
	return v, fiber.StatusOK, nil
}

func (s *Server) loadAuditResults(c *fiber.Ctx, f partials.AuditFilter, params db.ListAuditParams, res *partials.AuditResults) error {
	p, err := parseListPage(c, auditPageSize)
	if err != nil {
		return err
	}
	if p.After != nil {
		params.BeforeID = &p.After.N
	}
	pg, err := fetchPage(p.Limit, func(n int32) ([]db.AuditLog, error) {
		params.MaxRows = n
		return s.store.ListAudit(c.UserContext(), params)
	}, func(last db.AuditLog) cursor { return cursor{N: last.ID} })
	if err != nil {
		return err
	}
	res.Rows = mapRows(pg.Rows, auditEntryOf)
	if pg.Next != nil {
		q := auditQuery(f)
		q.Set("cursor", *encodeCursor(*pg.Next))
		res.NextURL = withQuery("/admin/audit", q)
	}
	return nil
}

// auditEntryOf formats one audit row, linking the entities that have a page.
func auditEntryOf(a db.AuditLog) partials.AuditEntry {
	who := a.ActorLabel
	if who == "" {
		who = a.ActorID
	}
	e := partials.AuditEntry{ID: strconv.FormatInt(a.ID, 10), When: fmtDateTime(a.OccurredAt), ActorType: a.ActorType,
		Actor: who, Action: a.Action, Entity: strings.TrimSpace(a.EntityType + " " + a.EntityID),
		Before: prettyJSON(a.Before), After: prettyJSON(a.After), IP: a.Ip}
	switch a.EntityType {
	case "license":
		e.Href = "/admin/licenses/" + a.EntityID
	case "customer":
		e.Href = "/admin/customers/" + a.EntityID
	case "api_key":
		e.Href = "/admin/api-keys"
	case "stripe_event":
		e.Href = "/admin/stripe-events/" + url.PathEscape(a.EntityID)
	}
	return e
}

// prettyJSON indents a stored JSON value for reading; "" for none.
func prettyJSON(raw []byte) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// adminAuditVerify handles GET /admin/audit/verify: walks the whole chain
// and reports it intact or names the first broken row. Under HTMX only the
// banner; without JavaScript the audit page with the banner filled in.
func (s *Server) adminAuditVerify(c *fiber.Ctx) error {
	res, err := s.store.VerifyAudit(c.UserContext())
	if err != nil {
		return err
	}
	v := partials.AuditVerification{Checked: true, OK: res.OK, Rows: res.Rows, BrokenID: res.BrokenID, Problem: res.Problem}
	return s.renderSwap(c, fiber.StatusOK, partials.AuditVerify(v), func() (templ.Component, error) {
		page, st, err := s.auditPage(c)
		if err != nil {
			return nil, err
		}
		page.Verify = v
		c.Status(st)
		return admin.AuditLogPage(s.page(c, "Audit log"), page), nil
	})
}
