// Package jobs runs NLS's background work on River, a job queue kept in the
// same PostgreSQL: the fan-out of domain events into notices, the sending of
// each notice (retried with backoff), and the periodic jobs that find
// time-based milestones and send the staff's daily digest. Jobs are enqueued
// in the transaction of the change that calls for them; several processes on
// one database share the work, and River's leader election makes each
// periodic job run on one of them.
package jobs

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/notify"
	"github.com/nectarcloud/nls/telemetry"
	"github.com/nectarcloud/nls/webhooks"
)

// Config is what the jobs need from the portal's configuration.
type Config struct {
	Mail           notify.MailConfig
	BaseURL        string        // the portal's public URL, for links in emails
	Secret         []byte        // signs unsubscribe links (the session secret)
	StaffEmails    []string      // the vendor's staff, who get the daily digest
	ReminderDays   []int         // renewal reminders, days before expiry; nil: 30, 14, 7, 1
	ScanInterval   time.Duration // how often milestones are looked for; 0: 15 minutes
	DigestInterval time.Duration // 0: 24 hours
	// InsightsInterval is how often the insights detectors run; 0: hourly.
	InsightsInterval time.Duration
	MaxAttempts      int           // sending attempts per notice; 0: 8
	RetryDelay       time.Duration // fixed delay between attempts (tests); 0: River's exponential backoff
	Workers          int           // concurrent jobs per process; 0: 10
	Webhooks         WebhookConfig
	Sealer           *licensing.Sealer     // opens webhook signing secrets
	Metrics          prometheus.Registerer // nil: no delivery metrics (a worker process serves no /metrics)
	Now              func() time.Time
	Log              *slog.Logger
}

// DefaultReminderDays are the renewal reminder offsets.
var DefaultReminderDays = []int{30, 14, 7, 1}

// Runner owns the River client of one process.
type Runner struct {
	cfg    Config
	store  *db.Store
	client *river.Client[pgx.Tx]
}

// New builds the runner and makes store enqueue on it. Without Start it only
// enqueues (a process with workers turned off).
func New(pool *pgxpool.Pool, store *db.Store, cfg Config) (*Runner, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ReminderDays == nil {
		cfg.ReminderDays = DefaultReminderDays
	}
	if cfg.ScanInterval <= 0 {
		cfg.ScanInterval = 15 * time.Minute
	}
	if cfg.DigestInterval <= 0 {
		cfg.DigestInterval = 24 * time.Hour
	}
	if cfg.InsightsInterval <= 0 {
		cfg.InsightsInterval = time.Hour
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 10
	}
	if cfg.Webhooks.Timeout <= 0 {
		cfg.Webhooks.Timeout = webhooks.DefaultTimeout
	}
	if cfg.Webhooks.Schedule == nil {
		cfg.Webhooks.Schedule = webhooks.DefaultSchedule
	}
	if cfg.Webhooks.DisableAfter <= 0 {
		cfg.Webhooks.DisableAfter = DefaultDisableAfter
	}
	if cfg.Webhooks.Workers <= 0 {
		cfg.Webhooks.Workers = 16
	}
	r := &Runner{cfg: cfg, store: store}
	workers := river.NewWorkers()
	river.AddWorker(workers, &fanOutWorker{r: r})
	river.AddWorker(workers, &fanOutManyWorker{r: r})
	send := &sendWorker{r: r}
	if cfg.Metrics != nil {
		send.deliveries = telemetry.DeliveriesCounter(cfg.Metrics)
	}
	river.AddWorker(workers, send)
	river.AddWorker(workers, &scanWorker{r: r})
	river.AddWorker(workers, &digestWorker{r: r})
	river.AddWorker(workers, newWebhookWorker(r, cfg.Metrics))
	river.AddWorker(workers, &insightsWorker{r: r})
	rc := &river.Config{
		Logger:      slog.New(atLeast{cfg.Log.With("component", "jobs").Handler(), slog.LevelWarn}),
		Workers:     workers,
		MaxAttempts: cfg.MaxAttempts,
		// A kind this process has no worker for (one a newer release added,
		// during a rolling deploy) stays queued, without using an attempt,
		// for a process that has one; otherwise it would fail here each time
		// it was fetched.
		FetchOnlyKnownKinds: true,
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers},
			QueueWebhooks: {MaxWorkers: cfg.Webhooks.Workers}},
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(cfg.ScanInterval),
				func() (river.JobArgs, *river.InsertOpts) { return ScanArgs{}, nil },
				&river.PeriodicJobOpts{ID: "lifecycle_scan", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.DigestInterval),
				func() (river.JobArgs, *river.InsertOpts) { return DigestArgs{}, nil },
				&river.PeriodicJobOpts{ID: "staff_digest", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.InsightsInterval),
				func() (river.JobArgs, *river.InsertOpts) { return InsightsArgs{}, nil },
				&river.PeriodicJobOpts{ID: "insights_scan", RunOnStart: true}),
		},
	}
	if cfg.RetryDelay > 0 {
		rc.RetryPolicy = fixedRetry(cfg.RetryDelay)
	}
	c, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, err
	}
	r.client = c
	store.SetEventQueue(r)
	return r, nil
}

// Start runs the workers and the periodic jobs until Stop.
func (r *Runner) Start(ctx context.Context) error { return r.client.Start(ctx) }

// Stop lets running jobs finish (up to ctx's deadline).
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return r.client.StopAndCancel(context.Background())
	}
	return err
}

// FansOut reports whether a notice can follow from an event of the type: a
// customer's (notify.CategoryOf), the staff's (notify.StaffCategoryOf) or a
// finding's alert, the three things a fan-out job looks for. The others
// (a deployment activated, a customer updated…) are enqueued no job: each
// would read its event three times and find nothing to send.
func (r *Runner) FansOut(eventType string) bool {
	return notify.CategoryOf(eventType) != "" || notify.StaffCategoryOf(eventType) != "" ||
		eventType == events.FindingOpened
}

// fanOutChunk is the most events one fan-out job carries.
const fanOutChunk = 100

// EnqueueEvents enqueues the fan-out of new events in the caller's
// transaction: one event's as its own job, several recorded together as
// jobs of up to fanOutChunk events each.
func (r *Runner) EnqueueEvents(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	params := []river.InsertManyParams{{Args: FanOutArgs{EventID: ids[0]}}}
	if len(ids) > 1 {
		params = params[:0]
		for chunk := range slices.Chunk(ids, fanOutChunk) {
			params = append(params, river.InsertManyParams{Args: FanOutManyArgs{EventIDs: chunk}})
		}
	}
	_, err := r.client.InsertManyTx(ctx, tx, params)
	return err
}

// EnqueueNotifications enqueues the sending of notices in the caller's transaction.
func (r *Runner) EnqueueNotifications(ctx context.Context, tx pgx.Tx, ids []uuid.UUID) error {
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: SendArgs{NotificationID: id}}
	}
	_, err := r.client.InsertManyTx(ctx, tx, params)
	return err
}

// RunDigestNow queues today's staff digests now (tests, portal jobs run-now).
func (r *Runner) RunDigestNow(ctx context.Context) error {
	return (&digestWorker{r: r}).Work(ctx, nil)
}

// RunScan runs the milestone scan now, in the caller (portal jobs run-now, tests).
func (r *Runner) RunScan(ctx context.Context) (int, error) { return r.scan(ctx) }

type fixedRetry time.Duration

func (d fixedRetry) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(time.Duration(d))
}

// atLeast passes on records of level min and above: River reports every
// fetch and job count at info, which would drown the portal's own log.
type atLeast struct {
	slog.Handler
	min slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(a []slog.Attr) slog.Handler { return atLeast{h.Handler.WithAttrs(a), h.min} }

func (h atLeast) WithGroup(n string) slog.Handler { return atLeast{h.Handler.WithGroup(n), h.min} }

// Handle reports River's errors about an unreachable database (its producer
// polls while PostgreSQL fails over or restarts) as warnings: the portal's
// outage log already says the database is down, and an outage is not a
// fault of the job engine.
func (h atLeast) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && unreachableRecord(r) {
		r2 := slog.NewRecord(r.Time, slog.LevelWarn, r.Message, r.PC)
		r.Attrs(func(a slog.Attr) bool { r2.AddAttrs(a); return true })
		r = r2
	}
	return h.Handler.Handle(ctx, r)
}

func unreachableRecord(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "err" && a.Key != "error" {
			return true
		}
		if err, ok := a.Value.Any().(error); ok {
			found = errors.Is(db.Translate(err), db.ErrUnreachable)
		} else {
			s := a.Value.String()
			found = strings.Contains(s, "failed to connect") || strings.Contains(s, "SQLSTATE 57P0") ||
				strings.Contains(s, "conn closed") || strings.Contains(s, "unexpected EOF")
		}
		return !found
	})
	return found
}
