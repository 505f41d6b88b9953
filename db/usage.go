package db

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/licensing"
)

// UsageReportIn is one report from an installation: its own id (the
// idempotency key), the period it covers and its metric values.
type UsageReportIn struct {
	ID          uuid.UUID
	PeriodStart time.Time
	PeriodEnd   time.Time
	Metrics     map[string]int64
}

// UsageReportResult says whether a report was counted now or seen before.
type UsageReportResult struct {
	ID     uuid.UUID `json:"id"`
	Status string    `json:"status"` // accepted | duplicate
}

// UsageLicense is what usage accounting needs to know about the license.
type UsageLicense struct {
	ID                 uuid.UUID
	CustomerID         uuid.UUID
	BillingPeriodStart *time.Time
	BillingPeriodEnd   *time.Time
}

// UsagePeriod is the accounting period containing t: the license's billing
// period when it has one covering t, else the calendar month (UTC).
func (l UsageLicense) UsagePeriod(t time.Time) (time.Time, time.Time) {
	if l.BillingPeriodStart != nil && l.BillingPeriodEnd != nil &&
		!t.Before(*l.BillingPeriodStart) && t.Before(*l.BillingPeriodEnd) {
		return l.BillingPeriodStart.UTC(), l.BillingPeriodEnd.UTC()
	}
	return licensing.MonthPeriod(t)
}

type periodKey struct {
	metric string
	start  time.Time
}

type dayKey struct {
	metric string
	day    time.Time
}

// RecordUsage stores a batch of reports exactly once each: ids seen before —
// in this batch, an earlier one, or a concurrent one — are answered
// "duplicate" and not counted again. Counters add up per period and day;
// gauges keep the peak.
func (s *Store) RecordUsage(ctx context.Context, lic UsageLicense, deploymentPK *uuid.UUID, reports []UsageReportIn,
	now time.Time) ([]UsageReportResult, error) {
	ids := make([]uuid.UUID, len(reports))
	starts := make([]time.Time, len(reports))
	ends := make([]time.Time, len(reports))
	metrics := make([][]byte, len(reports))
	for i, r := range reports {
		ids[i], starts[i], ends[i] = r.ID, r.PeriodStart, r.PeriodEnd
		b, err := json.Marshal(r.Metrics)
		if err != nil {
			return nil, licensing.Internal(err)
		}
		metrics[i] = b
	}
	results := make([]UsageReportResult, len(reports))
	err := s.inTx(ctx, func(q *Queries) error {
		inserted, err := q.InsertUsageReports(ctx, InsertUsageReportsParams{LicenseID: lic.ID, DeploymentPk: deploymentPK,
			ReportIds: ids, PeriodStarts: starts, PeriodEnds: ends, Metrics: metrics, ReceivedAt: now})
		if err != nil {
			return err
		}
		isNew := make(map[uuid.UUID]bool, len(inserted))
		for _, id := range inserted {
			isNew[id] = true
		}
		periods := map[periodKey]int64{}
		periodEnds := map[time.Time]time.Time{}
		days := map[dayKey]int64{}
		for i, r := range reports {
			results[i] = UsageReportResult{ID: r.ID, Status: "duplicate"}
			if !isNew[r.ID] {
				continue
			}
			// A repeated id later in the same batch is a duplicate too.
			delete(isNew, r.ID)
			results[i].Status = "accepted"
			pStart, pEnd := lic.UsagePeriod(r.PeriodStart)
			periodEnds[pStart] = pEnd
			day := time.Date(r.PeriodStart.Year(), r.PeriodStart.Month(), r.PeriodStart.Day(), 0, 0, 0, 0, time.UTC)
			for name, v := range r.Metrics {
				if err := merge(periods, periodKey{name, pStart}, name, v); err != nil {
					return err
				}
				if err := merge(days, dayKey{name, day}, name, v); err != nil {
					return err
				}
			}
		}
		if len(periods) == 0 {
			return nil
		}
		if err := addPeriods(ctx, q, lic.ID, periods, periodEnds, now); err != nil {
			return err
		}
		return addDays(ctx, q, lic, days)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// merge folds v into m[k]: counters add (refusing overflow), gauges keep the max.
func merge[K comparable](m map[K]int64, k K, metric string, v int64) error {
	old, ok := m[k]
	if !ok {
		m[k] = v
		return nil
	}
	if licensing.MetricKindOf(metric) == licensing.Gauge {
		m[k] = max(old, v)
		return nil
	}
	if old > math.MaxInt64-v {
		return licensing.Invalid("the sum of "+metric+" overflows a 64-bit integer",
			licensing.ErrorDetail{Field: "reports.metrics." + metric, Message: "sum too large"})
	}
	m[k] = old + v
	return nil
}

// addPeriods writes per-period totals in a fixed order, so that concurrent
// batches lock rows in the same order and cannot deadlock.
func addPeriods(ctx context.Context, q *Queries, licenseID uuid.UUID, periods map[periodKey]int64,
	periodEnds map[time.Time]time.Time, now time.Time) error {
	keys := make([]periodKey, 0, len(periods))
	for k := range periods {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].start.Equal(keys[j].start) {
			return keys[i].start.Before(keys[j].start)
		}
		return keys[i].metric < keys[j].metric
	})
	p := AddUsagePeriodsParams{LicenseID: licenseID, UpdatedAt: now}
	for _, k := range keys {
		p.Metrics = append(p.Metrics, k.metric)
		p.PeriodStarts = append(p.PeriodStarts, k.start)
		p.PeriodEnds = append(p.PeriodEnds, periodEnds[k.start])
		p.Kinds = append(p.Kinds, string(licensing.MetricKindOf(k.metric)))
		p.Vals = append(p.Vals, periods[k])
	}
	return q.AddUsagePeriods(ctx, p)
}

func addDays(ctx context.Context, q *Queries, lic UsageLicense, days map[dayKey]int64) error {
	keys := make([]dayKey, 0, len(days))
	for k := range days {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].day.Equal(keys[j].day) {
			return keys[i].day.Before(keys[j].day)
		}
		return keys[i].metric < keys[j].metric
	})
	p := AddUsageDailyParams{LicenseID: lic.ID, CustomerID: lic.CustomerID}
	for _, k := range keys {
		p.Metrics = append(p.Metrics, k.metric)
		p.Days = append(p.Days, k.day)
		p.Kinds = append(p.Kinds, string(licensing.MetricKindOf(k.metric)))
		p.Vals = append(p.Vals, days[k])
	}
	return q.AddUsageDaily(ctx, p)
}

// CurrentUsage returns each metric's value in the period containing now.
func (s *Store) CurrentUsage(ctx context.Context, lic UsageLicense, now time.Time) (map[string]int64, error) {
	start, _ := lic.UsagePeriod(now)
	rows, err := s.q.GetUsageForPeriod(ctx, GetUsageForPeriodParams{LicenseID: lic.ID, PeriodStart: start})
	if err != nil {
		return nil, Translate(err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.Metric] = r.Value
	}
	return out, nil
}

// The reads and small writes handlers call. Each returns the query's rows;
// errors arrive already translated by the connection (conn.go).

func (s *Store) ListUsageDailyForExport(ctx context.Context, arg ListUsageDailyForExportParams) ([]ListUsageDailyForExportRow, error) {
	return s.q.ListUsageDailyForExport(ctx, arg)
}

func (s *Store) UsageTotalsByCustomer(ctx context.Context, arg UsageTotalsByCustomerParams) ([]UsageTotalsByCustomerRow, error) {
	return s.q.UsageTotalsByCustomer(ctx, arg)
}

func (s *Store) CountUsageNearLimits(ctx context.Context, arg CountUsageNearLimitsParams) (int64, error) {
	return s.q.CountUsageNearLimits(ctx, arg)
}

func (s *Store) ListUsageMetrics(ctx context.Context) ([]string, error) {
	return s.q.ListUsageMetrics(ctx)
}

func (s *Store) ListUsageNearLimits(ctx context.Context, arg ListUsageNearLimitsParams) ([]ListUsageNearLimitsRow, error) {
	return s.q.ListUsageNearLimits(ctx, arg)
}

func (s *Store) UsageTotalsPerDay(ctx context.Context, arg UsageTotalsPerDayParams) ([]UsageTotalsPerDayRow, error) {
	return s.q.UsageTotalsPerDay(ctx, arg)
}

func (s *Store) UsageSeriesByCustomer(ctx context.Context, arg UsageSeriesByCustomerParams) ([]UsageSeriesByCustomerRow, error) {
	return s.q.UsageSeriesByCustomer(ctx, arg)
}

func (s *Store) UsageSeriesByLicense(ctx context.Context, arg UsageSeriesByLicenseParams) ([]UsageSeriesByLicenseRow, error) {
	return s.q.UsageSeriesByLicense(ctx, arg)
}
