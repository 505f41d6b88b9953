// The job kinds: fan-out of an event into notices, sending one notice, the
// milestone scan and the staff digest.

package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/insights"
	"github.com/nectarcloud/nls/notify"
	"github.com/nectarcloud/nls/web/templates/email"
)

// FanOutArgs turns one recorded event into its notices: the customer's and,
// for an endpoint disabled, the staff's. (Its webhook deliveries are made
// by the outbox itself, in the event's transaction: db/webhooks.go.)
type FanOutArgs struct {
	EventID uuid.UUID `json:"eventId"`
}

// Kind names the job.
func (FanOutArgs) Kind() string { return "event_fanout" }

type fanOutWorker struct {
	river.WorkerDefaults[FanOutArgs]
	r *Runner
}

func (w *fanOutWorker) Work(ctx context.Context, job *river.Job[FanOutArgs]) error {
	return w.r.fanOut(ctx, job.Args.EventID)
}

// FanOutManyArgs fans out events recorded together (the deployments a seat
// batch activated), in order: one job rather than one per event, since the
// job engine's fetching, not the fan-out itself, bounded how many events a
// second a process could fan out when each had its own job. Each event's
// fan-out is its own transaction and may be run again safely, so a retry
// of the job redoes nothing twice.
type FanOutManyArgs struct {
	EventIDs []uuid.UUID `json:"eventIds"`
}

// Kind names the job.
func (FanOutManyArgs) Kind() string { return "event_fanout_many" }

type fanOutManyWorker struct {
	river.WorkerDefaults[FanOutManyArgs]
	r *Runner
}

// Work fans out every event, past any that fails, so that one event's
// failure holds back no other; the job then fails with their errors and
// is retried (redoing the others changes nothing).
func (w *fanOutManyWorker) Work(ctx context.Context, job *river.Job[FanOutManyArgs]) error {
	var errs []error
	for _, id := range job.Args.EventIDs {
		if err := w.r.fanOut(ctx, id); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("event %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// fanOut turns one recorded event into its notices.
func (r *Runner) fanOut(ctx context.Context, eventID uuid.UUID) error {
	if _, err := r.store.FanOutEvent(ctx, eventID, customerRule, r.cfg.Now()); err != nil {
		return err
	}
	if _, err := r.store.QueueStaffNotices(ctx, eventID, notify.StaffCategoryOf, r.cfg.StaffEmails,
		r.cfg.Now()); err != nil {
		return err
	}
	// Staff who asked to hear about findings at once (finding.opened only).
	_, err := r.store.FanOutFindingAlert(ctx, eventID, r.cfg.Now())
	return err
}

// customerRule: which customer contacts hear about which event types.
func customerRule(eventType, role string) (string, bool) {
	cat := notify.CategoryOf(eventType)
	if cat == "" {
		return "", false
	}
	return cat, notify.ContactGets(role, cat)
}

// SendArgs sends one notice.
type SendArgs struct {
	NotificationID uuid.UUID `json:"notificationId"`
}

// Kind names the job.
func (SendArgs) Kind() string { return "notification_send" }

type sendWorker struct {
	river.WorkerDefaults[SendArgs]
	r          *Runner
	deliveries *prometheus.CounterVec // nil without a registry
}

// count adds one email delivery outcome to nls_deliveries_total.
func (w *sendWorker) count(outcome string) {
	if w.deliveries != nil {
		w.deliveries.WithLabelValues("email", outcome).Inc()
	}
}

func (w *sendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	r := w.r
	n, err := r.store.GetNotice(ctx, job.Args.NotificationID)
	if err != nil {
		return err
	}
	if n.Status == "sent" {
		return nil
	}
	if n.OptedOut {
		return r.store.MarkNoticeSuppressed(ctx, n.ID, "the recipient unsubscribed from these notices", r.cfg.Now())
	}
	if !r.cfg.Mail.Enabled() {
		// Not a delivery failure: nothing was tried. "Send again" sends it
		// once NLS_SMTP_URL is set.
		return r.store.MarkNoticeSuppressed(ctx, n.ID, "email is not configured (NLS_SMTP_URL)", r.cfg.Now())
	}
	msg, err := r.compose(ctx, n)
	if err != nil {
		_ = r.store.MarkNoticeAttemptFailed(ctx, n.ID, true, err.Error(), r.cfg.Now())
		w.count("failed")
		return river.JobCancel(err)
	}
	if err := notify.Send(ctx, r.cfg.Mail, msg); err != nil {
		final := job.Attempt >= job.MaxAttempts
		if merr := r.store.MarkNoticeAttemptFailed(ctx, n.ID, final, err.Error(), r.cfg.Now()); merr != nil {
			return merr
		}
		if final {
			w.count("failed")
		} else {
			w.count("retrying")
		}
		return err
	}
	w.count("delivered")
	return r.store.MarkNoticeSent(ctx, n.ID, msg.Subject, r.cfg.Now())
}

// compose writes the email of a notice.
func (r *Runner) compose(ctx context.Context, n db.Notice) (notify.Message, error) {
	to := mail.Address{Address: n.Recipient}
	var (
		subject string
		body    email.Notice
		err     error
		unsub   string
	)
	switch {
	case n.Category == notify.CategoryDigest:
		subject, body, err = r.digest(ctx, n.Recipient)
	case n.Category == notify.CategoryWebhooks && n.Event != nil:
		subject, body, err = notify.ComposeWebhookDisabled(n.Event.Data, r.cfg.BaseURL)
	case n.Category == notify.CategoryInsights:
		if n.Event == nil {
			return notify.Message{}, fmt.Errorf("notice %s has no event", n.ID)
		}
		subject, body, err = notify.ComposeFindingAlert(n.Event.Data, n.CustomerName, r.cfg.BaseURL)
	default:
		if n.Event == nil {
			return notify.Message{}, fmt.Errorf("notice %s has no event", n.ID)
		}
		unsub = strings.TrimRight(r.cfg.BaseURL, "/") + "/unsubscribe/" + notify.UnsubscribeToken(r.cfg.Secret, n.ID)
		subject, body, err = notify.Compose(notify.NoticeInput{EventType: n.EventType, Data: n.Event.Data,
			CustomerName: n.CustomerName, BaseURL: r.cfg.BaseURL, UnsubscribeURL: unsub})
	}
	if err != nil {
		return notify.Message{}, err
	}
	text, html, err := notify.Render(ctx, body)
	if err != nil {
		return notify.Message{}, err
	}
	return notify.Message{To: to, Subject: subject, Text: text, HTML: html, Unsubscribe: unsub}, nil
}

// digest writes the staff's daily digest as of now, for one recipient: the
// findings opened in the last day that their alert preferences send to the
// digest are listed too.
func (r *Runner) digest(ctx context.Context, recipient string) (string, email.Notice, error) {
	now := r.cfg.Now().UTC()
	expiring, err := r.store.DigestExpiringLicenses(ctx, now)
	if err != nil {
		return "", email.Notice{}, err
	}
	overdue, err := r.store.DigestPastDueLicenses(ctx)
	if err != nil {
		return "", email.Notice{}, err
	}
	stripe, err := r.store.DigestStripeEventsNeedingAttention(ctx)
	if err != nil {
		return "", email.Notice{}, err
	}
	failed, err := r.store.CountFailedNotificationsSince(ctx, now.Add(-24*time.Hour))
	if err != nil {
		return "", email.Notice{}, err
	}
	base := strings.TrimRight(r.cfg.BaseURL, "/")
	n := email.Notice{Greeting: "Hello,", Reason: "You receive this digest as a member of the licensing staff (NLS_STAFF_EMAILS).",
		ActionLabel: "Open the admin portal", ActionURL: base + "/admin"}
	n.Title = fmt.Sprintf("NLS daily digest: %d expiring, %d overdue, %d failed deliveries", len(expiring), len(overdue), failed)
	n.Facts = []email.Fact{{Label: "Licenses expiring within 30 days", Value: fmt.Sprint(len(expiring))},
		{Label: "Licenses with overdue payments", Value: fmt.Sprint(len(overdue))},
		{Label: "Stripe events needing attention", Value: fmt.Sprint(stripe)},
		{Label: "Failed deliveries (24 hours)", Value: fmt.Sprint(failed)}}
	for _, l := range expiring {
		n.Lines = append(n.Lines, fmt.Sprintf("Expires %s: %s, %s (%s/admin/licenses/%s)", l.ExpiresAt.UTC().Format("2 Jan 2006"),
			l.CustomerName, l.Plan, base, l.ID))
	}
	for _, l := range overdue {
		since := "unknown"
		if l.PastDueSince != nil {
			since = l.PastDueSince.UTC().Format("2 Jan 2006")
		}
		n.Lines = append(n.Lines, fmt.Sprintf("Overdue since %s: %s, %s (%s/admin/licenses/%s)", since, l.CustomerName,
			l.Plan, base, l.ID))
	}
	found, err := r.digestFindings(ctx, recipient, now)
	if err != nil {
		return "", email.Notice{}, err
	}
	if found != nil {
		n.Facts = append(n.Facts, email.Fact{Label: "New findings (24 hours)", Value: fmt.Sprint(len(found))})
		for _, f := range found {
			where := base + "/admin/insights?kind=" + f.Kind
			if f.LicenseID != nil {
				where = base + "/admin/licenses/" + f.LicenseID.String() + "#insights"
			}
			who := ""
			if f.CustomerName != "" {
				who = ", " + f.CustomerName
			}
			n.Lines = append(n.Lines, fmt.Sprintf("Finding [%s] %s%s (%s)", f.Severity, f.Title, who, where))
		}
	}
	return n.Title, n, nil
}

// digestFindings are the findings opened in the last day that recipient's
// preferences put in the digest; nil when they take none there.
func (r *Runner) digestFindings(ctx context.Context, recipient string, now time.Time) ([]db.ListFindingsOpenedSinceRow, error) {
	prefs, err := r.store.DigestFindingRecipients(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range prefs {
		if !strings.EqualFold(p.Email, recipient) {
			continue
		}
		rows, err := r.store.FindingsOpenedSince(ctx, now.Add(-24*time.Hour))
		if err != nil {
			return nil, err
		}
		out := []db.ListFindingsOpenedSinceRow{}
		for _, f := range rows {
			if (len(p.Kinds) == 0 || slices.Contains(p.Kinds, f.Kind)) &&
				insights.Severity(f.Severity).Rank() >= insights.Severity(p.MinSeverity).Rank() {
				out = append(out, f)
			}
		}
		return out, nil
	}
	return nil, nil
}

// ScanArgs looks for time-based milestones (periodic).
type ScanArgs struct{}

// Kind names the job.
func (ScanArgs) Kind() string { return "lifecycle_scan" }

type scanWorker struct {
	river.WorkerDefaults[ScanArgs]
	r *Runner
}

func (w *scanWorker) Work(ctx context.Context, _ *river.Job[ScanArgs]) error {
	_, err := w.r.scan(ctx)
	return err
}

func (r *Runner) scan(ctx context.Context) (int, error) {
	evs, err := Milestones(ctx, r.store, r.cfg.Now(), r.cfg.ReminderDays)
	if err != nil {
		return 0, err
	}
	n, err := r.store.RecordMilestones(ctx, evs)
	if err == nil && n > 0 {
		r.cfg.Log.Info("lifecycle milestones recorded", "new", n)
	}
	return n, err
}

// DigestArgs sends the staff's daily digest (periodic).
type DigestArgs struct{}

// Kind names the job.
func (DigestArgs) Kind() string { return "staff_digest" }

type digestWorker struct {
	river.WorkerDefaults[DigestArgs]
	r *Runner
}

func (w *digestWorker) Work(ctx context.Context, _ *river.Job[DigestArgs]) error {
	// The staff of NLS_STAFF_EMAILS, and the admins who take findings in the digest.
	to := slices.Clone(w.r.cfg.StaffEmails)
	prefs, err := w.r.store.DigestFindingRecipients(ctx)
	if err != nil {
		return err
	}
	for _, p := range prefs {
		if !slices.ContainsFunc(to, func(a string) bool { return strings.EqualFold(strings.TrimSpace(a), p.Email) }) {
			to = append(to, p.Email)
		}
	}
	if len(to) == 0 {
		return nil
	}
	_, err = w.r.store.QueueDigest(ctx, w.r.cfg.Now(), to, w.r.cfg.Now())
	return err
}
