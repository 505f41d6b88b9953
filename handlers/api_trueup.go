// The true-up report: per license and period, seats and usage metrics over
// entitlement, as JSON or CSV for invoicing.
package handlers

import (
	"encoding/csv"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/nectarcloud/nls/licensing"
)

func (s *Server) registerTrueUpRoutes(api fiber.Router) {
	api.Get("/licenses/:id/true-up", s.requireScope(licensing.ScopeLicensesRead), s.trueUp)
}

// trueUpAnswer is the JSON form of the report.
type trueUpAnswer struct {
	LicenseID   string                 `json:"licenseId"`
	PeriodStart time.Time              `json:"periodStart"`
	PeriodEnd   time.Time              `json:"periodEnd"`
	Lines       []licensing.TrueUpLine `json:"lines"`
}

// trueUp handles GET /api/licenses/:id/true-up?period=YYYY-MM[&format=csv]:
// the calendar month (UTC) given, the current one by default.
func (s *Server) trueUp(c *fiber.Ctx) error {
	id, err := parseUUID(c.Params("id"), "license")
	if err != nil {
		return err
	}
	start, _ := licensing.MonthPeriod(s.now())
	if p := c.Query("period"); p != "" {
		t, err := time.Parse("2006-01", p)
		if err != nil {
			return licensing.Invalid("period must be a month such as 2026-03",
				licensing.ErrorDetail{Field: "period", Message: "YYYY-MM"})
		}
		start = t.UTC()
	}
	end := start.AddDate(0, 1, 0)
	l, err := s.store.GetLicense(c.UserContext(), id)
	if err != nil {
		return err
	}
	lines, err := s.store.TrueUp(c.UserContext(), l, start, end)
	if err != nil {
		return err
	}
	if lines == nil {
		lines = []licensing.TrueUpLine{}
	}
	if c.Query("format") == "csv" || strings.Contains(c.Get(fiber.HeaderAccept), "text/csv") {
		var b strings.Builder
		w := csv.NewWriter(&b)
		_ = w.Write([]string{"license_id", "period_start", "period_end", "metric", "entitled", "used", "over", "enforcement"})
		for _, ln := range lines {
			_ = w.Write([]string{id.String(), start.Format(time.RFC3339), end.Format(time.RFC3339), ln.Metric,
				strconv.FormatInt(ln.Entitled, 10), strconv.FormatInt(ln.Used, 10), strconv.FormatInt(ln.Over, 10),
				string(ln.Enforcement)})
		}
		w.Flush()
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="true-up-`+id.String()+"-"+start.Format("2006-01")+`.csv"`)
		return c.SendString(b.String())
	}
	return c.JSON(trueUpAnswer{LicenseID: id.String(), PeriodStart: start, PeriodEnd: end, Lines: lines})
}
