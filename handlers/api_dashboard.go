package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
)

func (s *Server) registerDashboardRoutes(api fiber.Router) {
	api.Get("/admin/dashboard", s.requireScope(licensing.ScopeLicensesRead), s.dashboard)
	api.Get("/usage/analytics", s.requireScope(licensing.ScopeUsageRead), s.usageAnalytics)
}

// Dashboard is the portal's overview, shared by the API and the admin page.
type Dashboard struct {
	Licenses            map[string]int64 `json:"licensesByStatus"`
	LicensesTotal       int64            `json:"licensesTotal"`
	ExpiringSoon        int64            `json:"expiringSoon"`
	ExpiringWithinDays  int              `json:"expiringWithinDays"`
	ActiveDeployments   int64            `json:"activeDeployments"`
	StaleDeployments    int64            `json:"staleDeployments"`
	ReleasedDeployments int64            `json:"releasedDeployments"`
	Validations24h      map[string]int64 `json:"validationsLast24h"`
	GeneratedAt         time.Time        `json:"generatedAt"`
}

func (s *Server) loadDashboard(c *fiber.Ctx) (Dashboard, error) {
	ctx := c.UserContext()
	now := s.now()
	d := Dashboard{Licenses: map[string]int64{}, Validations24h: map[string]int64{}, ExpiringWithinDays: 30,
		GeneratedAt: now.UTC()}
	for _, st := range effectiveStates {
		d.Licenses[st] = 0
	}
	byState, err := s.store.CountLicensesByEffectiveStatus(ctx, now)
	if err != nil {
		return d, err
	}
	for _, r := range byState {
		d.Licenses[r.State] = r.Count
		d.LicensesTotal += r.Count
	}
	if d.ExpiringSoon, err = s.store.CountExpiringBetween(ctx, db.CountExpiringBetweenParams{FromTime: &now,
		ToTime: ptr(now.AddDate(0, 0, d.ExpiringWithinDays))}); err != nil {
		return d, err
	}
	deps, err := s.store.CountDeploymentsByFreshness(ctx, now)
	if err != nil {
		return d, err
	}
	d.ActiveDeployments, d.StaleDeployments, d.ReleasedDeployments = deps.Active, deps.Stale, deps.Deactivated
	codes, err := s.store.ValidationsByCodeSince(ctx, now.Add(-24*time.Hour).Truncate(time.Hour))
	if err != nil {
		return d, err
	}
	for _, r := range codes {
		d.Validations24h[r.Code] = r.Count
	}
	return d, nil
}

func ptr[T any](v T) *T { return &v }

// dashboard handles GET /api/admin/dashboard.
func (s *Server) dashboard(c *fiber.Ctx) error {
	s.flushStats(c)
	d, err := s.loadDashboard(c)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

// usagePoint is one metric's value on one day.
type usagePoint struct {
	Day   string `json:"day"`
	Value int64  `json:"value"`
}

type usageSeries struct {
	Metric string       `json:"metric"`
	Kind   string       `json:"kind"`
	Points []usagePoint `json:"points"`
}

// usageAnalytics handles GET /api/usage/analytics?licenseId=|customerId=&metric=&from=&to=:
// one series per metric with a point per day (days without usage are zero).
func (s *Server) usageAnalytics(c *fiber.Ctx) error {
	var pr licensing.Problems
	now := s.now().UTC()
	to := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	from := to.AddDate(0, 0, -29)
	if v := c.Query("from"); v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			pr.Add("from", "must be a date YYYY-MM-DD")
		}
		from = t
	}
	if v := c.Query("to"); v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			pr.Add("to", "must be a date YYYY-MM-DD")
		}
		to = t
	}
	if to.Before(from) || to.Sub(from) > 366*24*time.Hour {
		pr.Add("to", "the range must run forward and cover at most 366 days")
	}
	var metric *string
	if v := c.Query("metric"); v != "" {
		if !licensing.ValidMetricName(v) {
			pr.Add("metric", "not a metric name")
		}
		v = string([]byte(v))
		metric = &v
	}
	licenseID, customerID := c.Query("licenseId"), c.Query("customerId")
	if (licenseID == "") == (customerID == "") {
		pr.Add("licenseId", "give exactly one of licenseId or customerId")
	}
	var id uuid.UUID
	if ref := licenseID + customerID; ref != "" {
		var err error
		if id, err = uuid.Parse(ref); err != nil {
			pr.Add("licenseId", "must be a UUID")
		}
	}
	if err := pr.Err(); err != nil {
		return err
	}
	type row struct {
		metric, kind string
		day          time.Time
		value        int64
	}
	var rows []row
	if licenseID != "" {
		if _, err := s.store.GetLicense(c.UserContext(), id); err != nil {
			return notFoundAs(err, "license")
		}
		rs, err := s.store.UsageSeriesByLicense(c.UserContext(), db.UsageSeriesByLicenseParams{LicenseID: id,
			FromDay: from, ToDay: to, Metric: metric})
		if err != nil {
			return err
		}
		for _, r := range rs {
			rows = append(rows, row{r.Metric, r.Kind, r.Day, r.Value})
		}
	} else {
		if _, err := s.store.GetCustomer(c.UserContext(), id); err != nil {
			return notFoundAs(err, "customer")
		}
		rs, err := s.store.UsageSeriesByCustomer(c.UserContext(), db.UsageSeriesByCustomerParams{CustomerID: id,
			FromDay: from, ToDay: to, Metric: metric})
		if err != nil {
			return err
		}
		for _, r := range rs {
			rows = append(rows, row{r.Metric, r.Kind, r.Day, r.Value})
		}
	}
	series := []usageSeries{}
	index := map[string]int{}
	days := int(to.Sub(from).Hours()/24) + 1
	for _, r := range rows {
		i, ok := index[r.metric]
		if !ok {
			pts := make([]usagePoint, days)
			for d := range pts {
				pts[d] = usagePoint{Day: from.AddDate(0, 0, d).Format("2006-01-02")}
			}
			series = append(series, usageSeries{Metric: r.metric, Kind: r.kind, Points: pts})
			i = len(series) - 1
			index[r.metric] = i
		}
		d := int(r.day.Sub(from).Hours() / 24)
		if d >= 0 && d < days {
			series[i].Points[d].Value = r.value
		}
	}
	return c.JSON(fiber.Map{"from": from.Format("2006-01-02"), "to": to.Format("2006-01-02"), "series": series})
}
