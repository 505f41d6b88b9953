package db

import (
	"context"
	"encoding/json"
	"math"
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

// RecordUsage stores a batch of reports exactly once each: ids seen before —
// in this batch, an earlier one, or a concurrent one — are answered
// "duplicate" and not counted again. Counters add up per period and day;
// gauges keep the peak.
func (s *Store) RecordUsage(ctx context.Context, lic UsageLicense, deploymentPK *uuid.UUID, reports []UsageReportIn,
	now time.Time) ([]UsageReportResult, error) {
	rec, err := s.ReportUsage(ctx, lic, deploymentPK, reports, now)
	return rec.Results, err
}

// UsageRecorded is what ReportUsage answers: each report's outcome and the
// license's usage in the period containing now, after the batch.
type UsageRecorded struct {
	Results []UsageReportResult
	Current map[string]int64
}

// ReportUsage is RecordUsage answering the current usage too, in one round
// trip: the reports, the totals and the rollups are written by one statement
// (record_usage, migration 00015).
func (s *Store) ReportUsage(ctx context.Context, lic UsageLicense, deploymentPK *uuid.UUID, reports []UsageReportIn,
	now time.Time) (UsageRecorded, error) {
	current, _ := lic.UsagePeriod(now)
	p := RecordUsageParams{LicenseID: lic.ID, CustomerID: lic.CustomerID, DeploymentPk: deploymentPK,
		ReportIds: make([]uuid.UUID, len(reports)), PeriodStarts: make([]time.Time, len(reports)),
		PeriodEnds: make([]time.Time, len(reports)), Metrics: make([][]byte, len(reports)),
		AccountingStarts: make([]time.Time, len(reports)), AccountingEnds: make([]time.Time, len(reports)),
		ReceivedAt: now, CurrentPeriod: current}
	// Sums within the batch are checked here, over every report, before the
	// database knows which ids are new: a batch whose own counters overflow
	// is refused whole.
	sums := map[string]int64{}
	for i, r := range reports {
		p.ReportIds[i], p.PeriodStarts[i], p.PeriodEnds[i] = r.ID, r.PeriodStart, r.PeriodEnd
		p.AccountingStarts[i], p.AccountingEnds[i] = lic.UsagePeriod(r.PeriodStart)
		b, err := json.Marshal(r.Metrics)
		if err != nil {
			return UsageRecorded{}, licensing.Internal(err)
		}
		p.Metrics[i] = b
		for name, v := range r.Metrics {
			kind := licensing.MetricKindOf(name)
			if kind == licensing.Counter {
				if old := sums[name]; old > math.MaxInt64-v {
					return UsageRecorded{}, licensing.Invalid("the sum of "+name+" overflows a 64-bit integer",
						licensing.ErrorDetail{Field: "reports.metrics." + name, Message: "sum too large"})
				}
				sums[name] += v
			}
			p.MetricReports = append(p.MetricReports, int32(i+1))
			p.MetricNames = append(p.MetricNames, name)
			p.MetricKinds = append(p.MetricKinds, string(kind))
			p.MetricValues = append(p.MetricValues, v)
		}
	}
	row, err := s.q.RecordUsage(ctx, p)
	if err != nil {
		return UsageRecorded{}, Translate(err)
	}
	isNew := make(map[uuid.UUID]bool, len(row.Accepted))
	for _, id := range row.Accepted {
		isNew[id] = true
	}
	rec := UsageRecorded{Results: make([]UsageReportResult, len(reports)), Current: make(map[string]int64, len(row.UsageMetrics))}
	for i, r := range reports {
		rec.Results[i] = UsageReportResult{ID: r.ID, Status: "duplicate"}
		if isNew[r.ID] {
			// A repeated id later in the same batch is a duplicate too.
			delete(isNew, r.ID)
			rec.Results[i].Status = "accepted"
		}
	}
	for i, m := range row.UsageMetrics {
		rec.Current[m] = row.UsageValues[i]
	}
	return rec, nil
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
