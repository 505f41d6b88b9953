// The Prometheus series the portal exports at /metrics: HTTP traffic, the
// database pool, and the business (validations, seats, leases, usage,
// deliveries, the job queue, the signing key's age). README lists them.
package handlers

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nectarcloud/nls/app"
	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/telemetry"
)

// metrics are the series the handlers feed.
type metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	validations *prometheus.CounterVec
	leases      prometheus.Counter
	usagePoints prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, store *db.Store, keys *app.KeyService, now func() time.Time) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nls_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "nls_http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	m.validations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nls_validations_total", Help: "Validations and heartbeats answered, by validation code.",
	}, []string{"code"})
	m.leases = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "nls_leases_issued_total", Help: "Signed leases issued with valid answers.",
	})
	m.usagePoints = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "nls_usage_points_total", Help: "Usage metric values accepted (one per metric per new report; duplicates not counted).",
	})
	reg.MustRegister(m.requests, m.latency, m.validations, m.leases, m.usagePoints)
	DeliveriesCounter(reg)
	if store != nil {
		reg.MustRegister(&poolCollector{store: store}, newBusinessCollector(store, keys, now))
	}
	return m
}

// validation counts one answer of the machine API.
func (m *metrics) validation(code string, lease bool) {
	m.validations.WithLabelValues(code).Inc()
	if lease {
		m.leases.Inc()
	}
}

// usageIngested counts the metric values of the reports stored as new.
func (m *metrics) usageIngested(reports []db.UsageReportIn, results []db.UsageReportResult) {
	accepted := make(map[[16]byte]bool, len(results))
	for _, r := range results {
		if r.Status == "accepted" {
			accepted[r.ID] = true
		}
	}
	n := 0
	for _, r := range reports {
		if accepted[r.ID] {
			n += len(r.Metrics)
			delete(accepted, r.ID) // a report repeated within a batch counts once
		}
	}
	m.usagePoints.Add(float64(n))
}

// DeliveriesCounter is nls_deliveries_total{kind,outcome}
// (telemetry.DeliveriesCounter), registered with the HTTP series so that
// /metrics shows it before the first delivery, with the latency of webhook
// attempts beside it.
func DeliveriesCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	telemetry.WebhookLatency(reg)
	return telemetry.DeliveriesCounter(reg)
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, statusLabel(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

// statusLabels are the status codes' label texts, made once rather than on
// every request.
var statusLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func statusLabel(status int) string {
	if status >= 0 && status < len(statusLabels) {
		return statusLabels[status]
	}
	return strconv.Itoa(status)
}

// poolCollector reports the pgx pool's state at scrape time.
type poolCollector struct{ store *db.Store }

var (
	poolTotal    = prometheus.NewDesc("nls_db_pool_connections", "Connections in the pool by state.", []string{"state"}, nil)
	poolMax      = prometheus.NewDesc("nls_db_pool_max_connections", "Most connections the pool may open.", nil, nil)
	poolAcquires = prometheus.NewDesc("nls_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	poolWaits    = prometheus.NewDesc("nls_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
	poolWaitTime = prometheus.NewDesc("nls_db_pool_acquire_wait_seconds_total", "Time spent waiting for connections.", nil, nil)
)

func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolTotal
	ch <- poolMax
	ch <- poolAcquires
	ch <- poolWaits
	ch <- poolWaitTime
}

func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := p.store.Pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(st.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(st.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(st.ConstructingConns()), "constructing")
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(st.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(st.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitTime, prometheus.CounterValue, st.AcquireDuration().Seconds())
}

// businessCollector reads the state-like series from the database at scrape
// time, at most once per businessTTL: several Prometheus servers (or one
// scraping often) then cost one set of queries, and a slow database delays
// a scrape by its timeout at most.
type businessCollector struct {
	store *db.Store
	keys  *app.KeyService
	now   func() time.Time

	mu      sync.Mutex
	at      time.Time
	seats   float64
	queues  []db.QueueDepth
	scraped bool
}

const businessTTL = 15 * time.Second

var (
	seatsDesc    = prometheus.NewDesc("nls_seats_in_use", "Deployments holding a seat, over all licenses.", nil, nil)
	queueDesc    = prometheus.NewDesc("nls_job_queue_depth", "Jobs not yet finished, by queue and state.", []string{"queue", "state"}, nil)
	keyAgeDesc   = prometheus.NewDesc("nls_signing_key_age_seconds", "Age of the current signing key.", nil, nil)
	scrapeOKDesc = prometheus.NewDesc("nls_business_metrics_up", "1 when the last read of the business metrics from the database worked.", nil, nil)
	idleStates   = []string{"available", "scheduled", "retryable", "running"}
)

func newBusinessCollector(store *db.Store, keys *app.KeyService, now func() time.Time) *businessCollector {
	return &businessCollector{store: store, keys: keys, now: now}
}

func (b *businessCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- seatsDesc
	ch <- queueDesc
	ch <- keyAgeDesc
	ch <- scrapeOKDesc
}

func (b *businessCollector) Collect(ch chan<- prometheus.Metric) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	up := 1.0
	if !b.scraped || now.Sub(b.at) >= businessTTL {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		counts, err := b.store.CountDeploymentsByFreshness(ctx, now)
		var queues []db.QueueDepth
		if err == nil {
			queues, err = b.store.JobQueueDepth(ctx)
		}
		cancel()
		if err != nil {
			up = 0 // keep the last values; the gauge below says they are old
		} else {
			b.seats, b.queues, b.at, b.scraped = float64(counts.Active), queues, now, true
		}
	}
	ch <- prometheus.MustNewConstMetric(scrapeOKDesc, prometheus.GaugeValue, up)
	if b.scraped {
		ch <- prometheus.MustNewConstMetric(seatsDesc, prometheus.GaugeValue, b.seats)
		queues := b.queues
		if len(queues) == 0 {
			// No job table or nothing queued: zero series for the default
			// queue, so that a backlog alert has something to compare.
			for _, st := range idleStates {
				queues = append(queues, db.QueueDepth{Queue: "default", State: st})
			}
		}
		for _, q := range queues {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(q.Jobs), q.Queue, q.State)
		}
	}
	if b.keys != nil {
		ring := b.keys.Ring()
		for _, k := range ring.List() {
			if k.Current {
				ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, now.Sub(k.Created).Seconds())
			}
		}
	}
}
