package db

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
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

// ReportUsage is RecordUsage answering the current usage too. The request
// is checked here, alone; then concurrent requests are recorded together,
// by one statement per batch (record_usage_batch, migration 00026, through
// the combiner of combine.go): a lone request runs at once, and one whose
// data the database refuses is run again alone, so that the error is its own.
func (s *Store) ReportUsage(ctx context.Context, lic UsageLicense, deploymentPK *uuid.UUID, reports []UsageReportIn,
	now time.Time) (UsageRecorded, error) {
	req := &usageRequest{lic: lic, reports: reports, now: now, metrics: make([][]byte, len(reports)),
		accStarts: make([]time.Time, len(reports)), accEnds: make([]time.Time, len(reports))}
	if deploymentPK != nil {
		req.deployment = *deploymentPK
	}
	req.current, _ = lic.UsagePeriod(now)
	// Sums within the request are checked here, over every report, before the
	// database knows which ids are new: a request whose own counters overflow
	// is refused whole.
	sums := map[string]int64{}
	for i, r := range reports {
		req.accStarts[i], req.accEnds[i] = lic.UsagePeriod(r.PeriodStart)
		b, err := metricsJSON(r.Metrics)
		if err != nil {
			return UsageRecorded{}, licensing.Internal(err)
		}
		req.metrics[i] = b
		day := utcDay(r.PeriodStart)
		for name, v := range r.Metrics {
			kind := licensing.MetricKindOf(name)
			if kind == licensing.Counter {
				if old := sums[name]; old > math.MaxInt64-v {
					return UsageRecorded{}, licensing.Invalid("the sum of "+name+" overflows a 64-bit integer",
						licensing.ErrorDetail{Field: "reports.metrics." + name, Message: "sum too large"})
				}
				sums[name] += v
			}
			req.add(usageTotal{start: req.accStarts[i], end: req.accEnds[i], day: day, name: name, kind: kind, value: v})
		}
	}
	return s.usageBatches().do(ctx, req)
}

// metricsJSON is a report's metrics as the JSON object stored with it.
// Valid metric names need no escaping, so the object is written by hand
// (a report's few values cost a fraction of json.Marshal's reflection and
// key sort; jsonb orders the keys itself); any other name goes through
// json.Marshal.
func metricsJSON(m map[string]int64) ([]byte, error) {
	b := make([]byte, 1, 2+len(m)*24)
	b[0] = '{'
	for name, v := range m {
		if !licensing.ValidMetricName(name) {
			return json.Marshal(m)
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = strconv.AppendInt(b, v, 10)
	}
	return append(b, '}'), nil
}

// usageRequest is one request's reports, checked and flattened for
// record_usage_batch.
type usageRequest struct {
	lic        UsageLicense
	deployment uuid.UUID // uuid.Nil: reported without a deployment
	reports    []UsageReportIn
	now        time.Time
	current    time.Time // start of the accounting period containing now
	metrics    [][]byte  // each report's metrics as stored
	accStarts  []time.Time
	accEnds    []time.Time
	index      map[usageTotalKey]int // into totals, once they are many
	// The request's values per accounting period, UTC day and metric: the
	// sum of a counter's, the largest of a gauge's. record_usage_batch
	// upserts them as they are when every report is new.
	totals []usageTotal
}

// usageTotal is one of a request's totals.
type usageTotal struct {
	start, end time.Time // the accounting period
	day        time.Time // UTC midnight
	name       string
	kind       licensing.MetricKind
	value      int64
}

// add counts a report's value into the request's totals. A request's reports
// usually share one period and day, so the totals are few and a linear
// search finds the one to add to; past a few dozen, an index takes over.
func (r *usageRequest) add(v usageTotal) {
	const linear = 32
	k := -1
	if len(r.totals) <= linear {
		for i := range r.totals {
			t := &r.totals[i]
			if t.name == v.name && t.day.Equal(v.day) && t.start.Equal(v.start) {
				k = i
				break
			}
		}
	} else {
		if r.index == nil {
			r.index = make(map[usageTotalKey]int, 2*len(r.totals))
			for i, t := range r.totals {
				r.index[t.key()] = i
			}
		}
		if i, ok := r.index[v.key()]; ok {
			k = i
		}
	}
	if k < 0 {
		if r.index != nil {
			r.index[v.key()] = len(r.totals)
		}
		r.totals = append(r.totals, v)
		return
	}
	t := &r.totals[k]
	if t.kind == licensing.Gauge {
		t.value = max(t.value, v.value)
	} else {
		t.value += v.value // the request's sums were checked for overflow
	}
}

type usageTotalKey struct {
	start, day int64
	name       string
}

func (t usageTotal) key() usageTotalKey {
	return usageTotalKey{start: t.start.UnixNano(), day: t.day.Unix(), name: t.name}
}

// utcDay is the UTC midnight starting the day t is in.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Group commit sizes, measured on 2 cores with 64 concurrent callers: up
// to 64 requests and 3,000 reports a statement (more per statement gained
// nothing measurable; a cap of 1,000 reports held requests of 100 reports
// to 10 a batch), two batches at once, so that one is written while the
// next gathers (one left the CPU idle during each commit; three or four
// made batches smaller without a clear gain).
const (
	usageBatchRequests = 64
	usageBatchReports  = 3000
	usageBatchParallel = 2
)

// usageBatching is the Store's usage combiner, made on first use, and its
// counters.
type usageBatching struct {
	once       sync.Once
	c          *combiner[*usageRequest, UsageRecorded]
	statements atomic.Int64
	requests   atomic.Int64
}

func (s *Store) usageBatches() *combiner[*usageRequest, UsageRecorded] {
	s.usage.once.Do(func() {
		s.usage.c = newCombiner(usageBatchRequests, usageBatchParallel, s.recordUsageMany)
		s.usage.c.weight = func(r *usageRequest) int { return len(r.reports) }
		s.usage.c.maxWeight = usageBatchReports
	})
	return s.usage.c
}

// UsageBatchStats counts the statements that recorded usage and the
// requests they carried, since the Store was made: under concurrent load
// there are fewer statements than requests.
type UsageBatchStats struct {
	Statements int64
	Requests   int64
}

// UsageBatchStats reads the usage group commit's counters.
func (s *Store) UsageBatchStats() UsageBatchStats {
	return UsageBatchStats{Statements: s.usage.statements.Load(), Requests: s.usage.requests.Load()}
}

// recordUsageMany records a batch of requests in one statement and answers
// each its own outcome.
func (s *Store) recordUsageMany(ctx context.Context, batch []*usageRequest) ([]UsageRecorded, error) {
	reports, totals := 0, 0
	for _, r := range batch {
		reports, totals = reports+len(r.reports), totals+len(r.totals)
	}
	p := RecordUsageBatchParams{LicenseIds: make([]uuid.UUID, 0, len(batch)),
		CustomerIds: make([]uuid.UUID, 0, len(batch)), DeploymentPks: make([]uuid.UUID, 0, len(batch)),
		ReceivedAt: make([]time.Time, 0, len(batch)), CurrentPeriods: make([]time.Time, 0, len(batch)),
		ReportRequests: make([]int32, 0, reports), ReportIds: make([]uuid.UUID, 0, reports),
		PeriodStarts: make([]time.Time, 0, reports), PeriodEnds: make([]time.Time, 0, reports),
		Metrics: make([][]byte, 0, reports), AccountingStarts: make([]time.Time, 0, reports),
		AccountingEnds: make([]time.Time, 0, reports), TotalRequests: make([]int32, 0, totals),
		TotalStarts: make([]time.Time, 0, totals), TotalEnds: make([]time.Time, 0, totals),
		TotalDays: make([]time.Time, 0, totals), TotalNames: make([]string, 0, totals),
		TotalKinds: make([]string, 0, totals), TotalValues: make([]int64, 0, totals)}
	first := make([]int, len(batch)) // each request's first report's batch ordinal, from 1
	n := 0
	for k, r := range batch {
		first[k] = n + 1
		p.LicenseIds = append(p.LicenseIds, r.lic.ID)
		p.CustomerIds = append(p.CustomerIds, r.lic.CustomerID)
		p.DeploymentPks = append(p.DeploymentPks, r.deployment)
		p.ReceivedAt = append(p.ReceivedAt, r.now)
		p.CurrentPeriods = append(p.CurrentPeriods, r.current)
		for i, rep := range r.reports {
			p.ReportRequests = append(p.ReportRequests, int32(k+1))
			p.ReportIds = append(p.ReportIds, rep.ID)
			p.PeriodStarts = append(p.PeriodStarts, rep.PeriodStart)
			p.PeriodEnds = append(p.PeriodEnds, rep.PeriodEnd)
			p.Metrics = append(p.Metrics, r.metrics[i])
			p.AccountingStarts = append(p.AccountingStarts, r.accStarts[i])
			p.AccountingEnds = append(p.AccountingEnds, r.accEnds[i])
		}
		for _, t := range r.totals {
			p.TotalRequests = append(p.TotalRequests, int32(k+1))
			p.TotalStarts = append(p.TotalStarts, t.start)
			p.TotalEnds = append(p.TotalEnds, t.end)
			p.TotalDays = append(p.TotalDays, t.day)
			p.TotalNames = append(p.TotalNames, t.name)
			p.TotalKinds = append(p.TotalKinds, string(t.kind))
			p.TotalValues = append(p.TotalValues, t.value)
		}
		n += len(r.reports)
	}
	s.usage.statements.Add(1)
	s.usage.requests.Add(int64(len(batch)))
	rows, err := s.q.RecordUsageBatch(ctx, p)
	if err != nil {
		return nil, Translate(err)
	}
	if len(rows) != len(batch) {
		return nil, licensing.Internal(errBatchAnswer)
	}
	out := make([]UsageRecorded, len(batch))
	for _, row := range rows {
		k := int(row.Req) - 1
		if k < 0 || k >= len(batch) {
			return nil, licensing.Internal(errBatchAnswer)
		}
		r := batch[k]
		rec := UsageRecorded{Results: make([]UsageReportResult, len(r.reports)),
			Current: make(map[string]int64, len(row.UsageMetrics))}
		for i, rep := range r.reports {
			rec.Results[i] = UsageReportResult{ID: rep.ID, Status: "duplicate"}
		}
		for _, ord := range row.Accepted {
			if i := int(ord) - first[k]; i >= 0 && i < len(r.reports) {
				rec.Results[i].Status = "accepted"
			}
		}
		for i, m := range row.UsageMetrics {
			rec.Current[m] = row.UsageValues[i]
		}
		out[k] = rec
	}
	return out, nil
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
