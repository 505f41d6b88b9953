// Webhook endpoints: the checks every surface shares (a URL that may be
// reached, known event types, a short description), the signing secret made
// here and stored sealed, and its rotation with an overlap. The management
// API and the admin portal call these; deliveries are the jobs package's.
package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/nectarcloud/nls/db"
	"github.com/nectarcloud/nls/events"
	"github.com/nectarcloud/nls/licensing"
	"github.com/nectarcloud/nls/webhooks"
)

// WebhookStore is what the endpoint steps need of persistence.
type WebhookStore interface {
	CreateWebhookEndpoint(ctx context.Context, actor licensing.Actor, id uuid.UUID, in db.WebhookEndpointInput,
		secretSealed []byte, now time.Time) (db.WebhookEndpoint, error)
	UpdateWebhookEndpoint(ctx context.Context, actor licensing.Actor, id uuid.UUID,
		change func(*db.WebhookEndpointInput) error, now time.Time) (db.WebhookEndpoint, error)
	RotateWebhookEndpointSecret(ctx context.Context, actor licensing.Actor, id uuid.UUID, secretSealed []byte,
		overlapUntil, now time.Time) (db.WebhookEndpoint, error)
}

// DefaultSecretOverlap is how long a rotated secret keeps signing beside
// the new one, so receivers can switch without losing a delivery.
const DefaultSecretOverlap = 24 * time.Hour

// MaxWebhookDescription is the longest description, in characters.
const MaxWebhookDescription = 500

// AllEvents subscribes an endpoint to every event type, present and future.
const AllEvents = "*"

// Webhooks runs the endpoint steps.
type Webhooks struct {
	store   WebhookStore
	sealer  *licensing.Sealer
	guard   webhooks.Guard
	overlap time.Duration
	now     func() time.Time
}

// NewWebhooks builds the endpoint steps: secrets sealed by sealer, URLs
// checked by guard, rotated secrets kept for overlap (0: DefaultSecretOverlap).
func NewWebhooks(store WebhookStore, sealer *licensing.Sealer, guard webhooks.Guard, overlap time.Duration,
	now func() time.Time) *Webhooks {
	if overlap <= 0 {
		overlap = DefaultSecretOverlap
	}
	return &Webhooks{store: store, sealer: sealer, guard: guard, overlap: overlap, now: now}
}

// WebhookEndpointChange is what a create or an edit sets; nil leaves a
// field as it is (an edit) or takes its default (a create: enabled).
type WebhookEndpointChange struct {
	URL         *string
	Description *string
	Events      *[]string
	Enabled     *bool
}

// Create checks and stores a new endpoint; the secret is returned here only.
func (x *Webhooks) Create(ctx context.Context, actor licensing.Actor, ch WebhookEndpointChange) (db.WebhookEndpoint, string, error) {
	in := db.WebhookEndpointInput{Enabled: true}
	if ch.URL == nil {
		ch.URL = new(string)
	}
	if ch.Events == nil {
		return db.WebhookEndpoint{}, "", licensing.Invalid("events is required",
			licensing.ErrorDetail{Field: "events", Message: `list event types, or ["*"] for all`})
	}
	if err := x.apply(ctx, &in, ch); err != nil {
		return db.WebhookEndpoint{}, "", err
	}
	if x.sealer == nil {
		return db.WebhookEndpoint{}, "", licensing.Internal(errors.New("no sealer for webhook secrets"))
	}
	id := uuid.New()
	secret, sealed, err := x.newSecret(id)
	if err != nil {
		return db.WebhookEndpoint{}, "", err
	}
	w, err := x.store.CreateWebhookEndpoint(ctx, actor, id, in, sealed, x.now())
	return w, secret, err
}

// Update checks and applies an edit.
func (x *Webhooks) Update(ctx context.Context, actor licensing.Actor, id uuid.UUID, ch WebhookEndpointChange) (db.WebhookEndpoint, error) {
	return x.store.UpdateWebhookEndpoint(ctx, actor, id, func(in *db.WebhookEndpointInput) error {
		return x.apply(ctx, in, ch)
	}, x.now())
}

// RotateSecret gives the endpoint a new secret, returned here only; the old
// one keeps signing for the overlap.
func (x *Webhooks) RotateSecret(ctx context.Context, actor licensing.Actor, id uuid.UUID) (db.WebhookEndpoint, string, error) {
	secret, sealed, err := x.newSecret(id)
	if err != nil {
		return db.WebhookEndpoint{}, "", err
	}
	now := x.now()
	w, err := x.store.RotateWebhookEndpointSecret(ctx, actor, id, sealed, now.Add(x.overlap), now)
	return w, secret, err
}

// Overlap is how long a rotated secret keeps signing.
func (x *Webhooks) Overlap() time.Duration { return x.overlap }

func (x *Webhooks) newSecret(id uuid.UUID) (string, []byte, error) {
	secret, err := webhooks.NewSecret()
	if err != nil {
		return "", nil, licensing.Internal(err)
	}
	sealed, err := x.sealer.Seal([]byte(secret), id[:])
	if err != nil {
		return "", nil, licensing.Internal(err)
	}
	return secret, sealed, nil
}

// apply checks every field of ch and sets it on in; all the faults are
// reported at once, and nothing is set when there is one.
func (x *Webhooks) apply(ctx context.Context, in *db.WebhookEndpointInput, ch WebhookEndpointChange) error {
	var details []licensing.ErrorDetail
	out := *in
	if ch.URL != nil {
		u := strings.TrimSpace(*ch.URL)
		switch {
		case u == "":
			details = append(details, licensing.ErrorDetail{Field: "url", Message: "is required"})
		case len(u) > 2000:
			details = append(details, licensing.ErrorDetail{Field: "url", Message: "must be at most 2000 characters"})
		default:
			if err := x.guard.CheckURL(ctx, u); err != nil {
				var refused *webhooks.RefusedError
				if !errors.As(err, &refused) {
					return licensing.Invalid("the URL's host could not be looked up; try again",
						licensing.ErrorDetail{Field: "url", Message: "its host could not be looked up just now; try again"})
				}
				details = append(details, licensing.ErrorDetail{Field: "url", Message: refused.Reason})
			}
		}
		out.URL = u
	}
	if ch.Description != nil {
		d := strings.TrimSpace(*ch.Description)
		if utf8.RuneCountInString(d) > MaxWebhookDescription {
			details = append(details, licensing.ErrorDetail{Field: "description", Message: "must be at most 500 characters"})
		}
		out.Description = d
	}
	if ch.Events != nil {
		evs, msg := checkEventTypes(*ch.Events)
		if msg != "" {
			details = append(details, licensing.ErrorDetail{Field: "events", Message: msg})
		}
		out.Events = evs
	}
	if ch.Enabled != nil {
		out.Enabled = *ch.Enabled
	}
	if len(details) > 0 {
		return licensing.Invalid("the webhook endpoint is not valid", details...)
	}
	*in = out
	return nil
}

// checkEventTypes returns the types in catalogue order (or just "*"), or
// what is wrong with them.
func checkEventTypes(types []string) ([]string, string) {
	if len(types) == 0 {
		return nil, `list at least one event type, or ["*"] for all`
	}
	if slices.Contains(types, AllEvents) {
		if len(types) > 1 {
			return nil, `"*" (every event type) stands alone`
		}
		return []string{AllEvents}, ""
	}
	want := map[string]bool{}
	for _, t := range types {
		t = strings.TrimSpace(t)
		if _, ok := events.Lookup(t); !ok {
			return nil, "unknown event type " + clipString(t, 80) + "; see the OpenAPI document's webhooks for the list"
		}
		want[t] = true
	}
	var out []string
	for _, s := range events.Catalogue {
		if want[s.Type] {
			out = append(out, s.Type)
		}
	}
	return slices.Clip(out), ""
}

func clipString(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
