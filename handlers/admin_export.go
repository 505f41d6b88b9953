package handlers

// CSV exports from the admin portal: licenses and the audit log with the
// same filters as their pages, and daily usage. Each export walks its table
// in keyset pages of exportBatch rows and streams them, so that memory stays
// flat however large the table is.

import (
	"bufio"
	"context"
	"encoding/csv"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

const exportBatch = 1000

// csvCell defuses a cell a spreadsheet would run as a formula (OWASP: a
// leading = + - @, tab or carriage return) by prefixing a quote.
func csvCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// streamCSV answers a CSV attachment: the header, then batches from next
// until one is empty. The first batch is read before answering, so that a
// failure there is an ordinary error response; a later failure can only
// cut the file short, and is logged.
func (s *Server) streamCSV(c *fiber.Ctx, filename string, header []string,
	next func(ctx context.Context) ([][]string, error)) error {
	ctx := c.UserContext()
	first, err := next(ctx)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	log, rid := s.log, requestIDOf(c)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		cw := csv.NewWriter(w)
		_ = cw.Write(header)
		rows := first
		for len(rows) > 0 {
			for _, r := range rows {
				for i := range r {
					r[i] = csvCell(r[i])
				}
				_ = cw.Write(r)
			}
			cw.Flush()
			if err := cw.Error(); err != nil {
				return // the client went away
			}
			if err := w.Flush(); err != nil {
				return
			}
			var err error
			if rows, err = next(ctx); err != nil {
				log.Error("CSV export cut short", "file", filename, "request_id", rid, "err", err)
				return
			}
		}
	})
	return nil
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func clonePtr(p *string) *string {
	if p == nil {
		return nil
	}
	v := strings.Clone(*p)
	return &v
}

// adminLicensesCSV handles GET /admin/licenses.csv?q=&status=&plan=&customerId=&expiresWithinDays=:
// every license matching the list's filters.
func (s *Server) adminLicensesCSV(c *fiber.Ctx) error {
	now := s.now()
	params, err := parseLicenseFilter(c, now)
	if err != nil {
		return err
	}
	// The stream outlives the handler: own every string.
	params.Q, params.QExact, params.PlanCode = clonePtr(params.Q), clonePtr(params.QExact), clonePtr(params.PlanCode)
	params.MaxRows = exportBatch
	done := false
	header := []string{"id", "customer", "plan", "status", "expires", "max_deployments", "active_deployments", "created"}
	return s.streamCSV(c, "licenses-"+now.UTC().Format(dateFormat)+".csv", header, func(ctx context.Context) ([][]string, error) {
		if done {
			return nil, nil
		}
		rows, err := s.store.ListLicenses(ctx, params)
		if err != nil {
			return nil, err
		}
		done = len(rows) < exportBatch
		out := make([][]string, 0, len(rows))
		for _, r := range rows {
			l := r.License
			maxDep := ""
			if l.MaxDeployments != nil {
				maxDep = strconv.Itoa(int(*l.MaxDeployments))
			}
			out = append(out, []string{l.ID.String(), r.CustomerName, r.PlanCode, string(l.Effective(now).State),
				csvTime(l.ExpiresAt), maxDep, strconv.Itoa(int(r.SeatsInUse)), csvTime(&l.CreatedAt)})
		}
		if n := len(rows); n > 0 {
			params.BeforeCreated, params.BeforeID = &rows[n-1].License.CreatedAt, &rows[n-1].License.ID
		}
		return out, nil
	})
}

// adminAuditCSV handles GET /admin/audit.csv with the audit page's filters.
func (s *Server) adminAuditCSV(c *fiber.Ctx) error {
	_, params, err := adminAuditFilter(c)
	if err != nil {
		return err
	}
	for _, p := range []**string{&params.ActorType, &params.ActorID, &params.Action, &params.EntityType, &params.EntityID} {
		*p = clonePtr(*p)
	}
	params.MaxRows = exportBatch
	done := false
	header := []string{"id", "occurred_at", "actor_type", "actor_id", "actor_label", "action", "entity_type", "entity_id",
		"customer_id", "ip", "user_agent", "before", "after"}
	return s.streamCSV(c, "audit-"+s.now().UTC().Format(dateFormat)+".csv", header, func(ctx context.Context) ([][]string, error) {
		if done {
			return nil, nil
		}
		rows, err := s.store.ListAudit(ctx, params)
		if err != nil {
			return nil, err
		}
		done = len(rows) < exportBatch
		out := make([][]string, 0, len(rows))
		for _, a := range rows {
			cust := ""
			if a.CustomerID != nil {
				cust = a.CustomerID.String()
			}
			out = append(out, []string{strconv.FormatInt(a.ID, 10), csvTime(&a.OccurredAt), a.ActorType, a.ActorID,
				a.ActorLabel, a.Action, a.EntityType, a.EntityID, cust, a.Ip, a.UserAgent, string(a.Before), string(a.After)})
		}
		if n := len(rows); n > 0 {
			params.BeforeID = &rows[n-1].ID
		}
		return out, nil
	})
}

// adminUsageCSV handles GET /admin/usage.csv?from=&to=&customerId=&licenseId=:
// daily usage per license and metric, both dates included (default: the
// last 30 days).
func (s *Server) adminUsageCSV(c *fiber.Ctx) error {
	var pr licensing.Problems
	to := s.now().UTC().Truncate(24 * time.Hour)
	from := to.AddDate(0, 0, -29)
	for _, d := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := c.Query(d.name); v != "" {
			t, err := time.Parse(dateFormat, v)
			if err != nil {
				pr.Add(d.name, "must be a date as YYYY-MM-DD")
				continue
			}
			*d.dst = t
		}
	}
	if to.Before(from) {
		pr.Add("to", "must not be before from")
	}
	params := db.ListUsageDailyForExportParams{FromDay: from, ToDay: to, MaxRows: exportBatch}
	for _, f := range []struct {
		name string
		dst  **uuid.UUID
	}{{"customerId", &params.CustomerID}, {"licenseId", &params.LicenseID}} {
		if v := c.Query(f.name); v != "" {
			id, err := uuid.Parse(v)
			if err != nil {
				pr.Add(f.name, "must be a UUID")
				continue
			}
			*f.dst = &id
		}
	}
	if err := pr.Err(); err != nil {
		return err
	}
	done := false
	name := "usage-" + from.Format(dateFormat) + "-to-" + to.Format(dateFormat) + ".csv"
	header := []string{"license_id", "customer", "metric", "day", "value"}
	return s.streamCSV(c, name, header, func(ctx context.Context) ([][]string, error) {
		if done {
			return nil, nil
		}
		rows, err := s.store.ListUsageDailyForExport(ctx, params)
		if err != nil {
			return nil, err
		}
		done = len(rows) < exportBatch
		out := make([][]string, 0, len(rows))
		for _, r := range rows {
			out = append(out, []string{r.LicenseID.String(), r.CustomerName, r.Metric, r.Day.Format(dateFormat),
				strconv.FormatInt(r.Value, 10)})
		}
		if n := len(rows); n > 0 {
			last := rows[n-1]
			params.AfterLicense, params.AfterMetric, params.AfterDay = &last.LicenseID, &last.Metric, last.Day
		}
		return out, nil
	})
}
