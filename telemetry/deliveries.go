// Prometheus series fed by the background jobs as well as the handlers, so
// they live here where both may import them: deliveries by outcome and the
// latency of webhook attempts.

package telemetry

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// DeliveriesCounter is nls_deliveries_total{kind,outcome}: email
// notifications and outbound webhooks by outcome ("delivered", "failed"
// for good, "retrying"). It is registered once per registry; whoever calls
// it with the same registry gets the same counter.
func DeliveriesCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nls_deliveries_total", Help: "Email notifications and outbound webhooks by outcome.",
	}, []string{"kind", "outcome"}))
	// Zero series from the start, so that rate() and alerts see them.
	for _, kind := range []string{"email", "webhook"} {
		for _, outcome := range []string{"delivered", "failed", "retrying"} {
			c.WithLabelValues(kind, outcome)
		}
	}
	return c
}

// WebhookLatency is nls_webhook_delivery_duration_seconds{outcome}: how long
// each webhook attempt took, answer included (timeouts count at the timeout).
func WebhookLatency(reg prometheus.Registerer) *prometheus.HistogramVec {
	return register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "nls_webhook_delivery_duration_seconds",
		Help:    "Outbound webhook attempts by outcome: time from sending to the end of the answer.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
	}, []string{"outcome"}))
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector.(C)
		}
		panic(err)
	}
	return c
}
