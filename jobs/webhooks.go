// Outbound webhook deliveries as jobs: one job per delivery (an event and an
// endpoint), enqueued by the outbox in the event's transaction, retried on
// the webhook schedule, on a queue of their own so that a slow receiver
// never holds up the email notices.

package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/telemetry"
	"github.com/nectarcloud/nls/webhooks"
)

// QueueWebhooks is the River queue webhook deliveries run on.
const QueueWebhooks = "webhooks"

// WebhookConfig is the webhook part of Config.
type WebhookConfig struct {
	Guard        webhooks.Guard    // which addresses may be reached (NLS_WEBHOOK_ALLOW_PRIVATE)
	Timeout      time.Duration     // per attempt; 0: webhooks.DefaultTimeout (10 s)
	Schedule     webhooks.Schedule // delays between attempts; nil: webhooks.DefaultSchedule
	DisableAfter time.Duration     // an endpoint failing this long is disabled; 0: 5 days
	Workers      int               // concurrent deliveries per process; 0: 16
}

// DefaultDisableAfter is how long every attempt to an endpoint may fail
// before it is disabled and the staff are told.
const DefaultDisableAfter = 5 * 24 * time.Hour

// WebhookArgs delivers one webhook delivery.
type WebhookArgs struct {
	DeliveryID uuid.UUID `json:"deliveryId"`
}

// Kind names the job.
func (WebhookArgs) Kind() string { return "webhook_delivery" }

// EnqueueWebhookDeliveries enqueues deliveries in the caller's transaction.
func (r *Runner) EnqueueWebhookDeliveries(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	opts := &river.InsertOpts{Queue: QueueWebhooks, MaxAttempts: r.cfg.Webhooks.Schedule.MaxAttempts()}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: WebhookArgs{DeliveryID: id}, InsertOpts: opts}
	}
	_, err := r.client.InsertManyTx(ctx, tx, params)
	return err
}

type webhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	r          *Runner
	sender     *webhooks.Sender
	deliveries *prometheus.CounterVec   // nil without a registry
	latency    *prometheus.HistogramVec // nil without a registry
}

func newWebhookWorker(r *Runner, reg prometheus.Registerer) *webhookWorker {
	w := &webhookWorker{r: r, sender: webhooks.NewSender(r.cfg.Webhooks.Guard, r.cfg.Webhooks.Timeout)}
	if reg != nil {
		w.deliveries = telemetry.DeliveriesCounter(reg)
		w.latency = telemetry.WebhookLatency(reg)
	}
	return w
}

// NextRetry follows the webhook schedule instead of River's default
// backoff. The delay counts from the end of the attempt (River falls back to
// its own policy for a time already past, which an attempt that timed out
// would otherwise give), and its jitter is drawn from the job id and
// attempt, so the "next retry" the worker wrote in the delivery log a moment
// earlier is this one to within milliseconds.
func (w *webhookWorker) NextRetry(job *river.Job[WebhookArgs]) time.Time {
	return w.nextRetry(job.ID, job.Attempt)
}

func (w *webhookWorker) nextRetry(jobID int64, attempt int) time.Time {
	return time.Now().Add(w.r.cfg.Webhooks.Schedule.Delay(attempt, jobID))
}

// Timeout leaves the attempt its HTTP deadline and the bookkeeping around it.
func (w *webhookWorker) Timeout(*river.Job[WebhookArgs]) time.Duration {
	return w.r.cfg.Webhooks.Timeout + 30*time.Second
}

func (w *webhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	r := w.r
	d, err := r.store.GetWebhookDeliveryForSend(ctx, job.Args.DeliveryID)
	if licensing.ErrorCode(err) == licensing.ENOTFOUND {
		return nil // the endpoint was deleted, and its deliveries with it
	}
	if err != nil {
		return err
	}
	if d.Status == "delivered" || d.Status == "failed" {
		return nil
	}
	if !d.Enabled && d.EventType != webhooks.PingType {
		return r.store.FailWebhookDelivery(ctx, d.ID, "the endpoint is disabled", r.cfg.Now())
	}
	msg, err := w.message(d)
	if err != nil {
		_ = r.store.FailWebhookDelivery(ctx, d.ID, err.Error(), r.cfg.Now())
		return river.JobCancel(err)
	}
	res := w.sender.Send(ctx, msg)
	final := res.Delivered() || res.Gone() || job.Attempt >= job.MaxAttempts
	out := db.WebhookAttemptOutcome{DeliveryID: d.ID, EndpointID: d.EndpointID, Attempt: job.Attempt, At: time.Now(), Now: r.cfg.Now(),
		Status: res.Status, Latency: res.Latency, Excerpt: res.Excerpt, Delivered: res.Delivered(), Final: final}
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	if !final {
		next := w.nextRetry(job.ID, job.Attempt)
		out.NextAttempt = &next
	}
	failingSince, err := r.store.RecordWebhookAttempt(ctx, out)
	if err != nil {
		return err
	}
	outcome := "retrying"
	switch {
	case res.Delivered():
		outcome = "delivered"
	case final:
		outcome = "failed"
	}
	if w.deliveries != nil {
		w.deliveries.WithLabelValues("webhook", outcome).Inc()
		w.latency.WithLabelValues(outcome).Observe(res.Latency.Seconds())
	}
	if res.Delivered() {
		return nil
	}
	switch {
	case res.Gone():
		if err := w.disable(ctx, d.EndpointID, "the receiver answered 410 Gone"); err != nil {
			return err
		}
		return river.JobCancel(res.Err)
	case failingSince != nil && d.EventType != webhooks.PingType &&
		r.cfg.Now().Sub(*failingSince) >= r.cfg.Webhooks.DisableAfter:
		reason := "every delivery failed since " + failingSince.UTC().Format(time.RFC3339)
		if err := w.disable(ctx, d.EndpointID, reason); err != nil {
			return err
		}
		return river.JobCancel(res.Err)
	}
	return res.Err
}

func (w *webhookWorker) disable(ctx context.Context, id uuid.UUID, reason string) error {
	done, err := w.r.store.DisableWebhookEndpoint(ctx, id, reason, w.r.cfg.Now())
	if done {
		w.r.cfg.Log.Warn("webhook endpoint disabled", "endpoint", id, "reason", reason)
	}
	return err
}

// message builds the signed request of a delivery: the event's body, its
// id as webhook-id (the same on every attempt and resend, for receivers
// that de-duplicate), the current secret and the previous one while it
// overlaps.
func (w *webhookWorker) message(d db.GetWebhookDeliveryForSendRow) (webhooks.Message, error) {
	r := w.r
	if r.cfg.Sealer == nil {
		return webhooks.Message{}, errors.New("no sealer: webhook secrets cannot be opened")
	}
	var keys [][]byte
	cur, err := r.cfg.Sealer.Open(d.SecretSealed, d.EndpointID[:])
	if err != nil {
		return webhooks.Message{}, fmt.Errorf("opening the endpoint's secret: %w", err)
	}
	k, err := webhooks.SecretKey(string(cur))
	if err != nil {
		return webhooks.Message{}, err
	}
	keys = append(keys, k)
	if d.PreviousSecretSealed != nil && d.PreviousSecretUntil != nil && r.cfg.Now().Before(*d.PreviousSecretUntil) {
		prev, err := r.cfg.Sealer.Open(d.PreviousSecretSealed, d.EndpointID[:])
		if err == nil {
			if k, err := webhooks.SecretKey(string(prev)); err == nil {
				keys = append(keys, k)
			}
		}
	}
	var (
		id   string
		body []byte
	)
	if d.EventID == nil {
		data, _ := json.Marshal(webhooks.PingData{EndpointID: d.EndpointID.String(),
			Message: "A test event from NLS: this endpoint receives and verifies webhooks."})
		id = d.ID.String()
		body, err = webhooks.Body(webhooks.PingType, d.CreatedAt, data)
	} else {
		if d.EventOccurredAt == nil {
			return webhooks.Message{}, errors.New("the delivery's event is gone")
		}
		id = d.EventID.String()
		body, err = webhooks.Body(d.EventType, *d.EventOccurredAt, d.EventData)
	}
	if err != nil {
		return webhooks.Message{}, err
	}
	// The timestamp is the wall clock's: receivers refuse signatures more
	// than a few minutes off their own.
	return webhooks.Message{URL: d.Url, ID: id, Timestamp: time.Now(), Body: body, Keys: keys}, nil
}
