-- Domain events and the email notices made from them.
--
-- events: the outbox. A store method that changes a license, deployment or
-- customer inserts its event in the same transaction, so an event exists if
-- and only if its change committed. Time-based events (a license expiring,
-- entering grace, an installation gone stale...) are found by a periodic job
-- and carry a milestone_key naming the license (or deployment) and the
-- milestone: the unique index makes a second run, a late run or a run on
-- another process record nothing more.
--
-- notifications: one row per email to one recipient about one event,
-- unique on dedupe_key (the milestone or event, the notice and the
-- recipient), with its delivery state as the admin page shows it.
--
-- notification_optouts: the categories of notices an address asked not to
-- receive (the account page, or an email's unsubscribe link).
--
-- customer_contacts: a customer's optional billing and technical addresses,
-- told about billing and about installations and usage respectively.
--
-- license_stripe_cancels: whether a Stripe subscription is set to cancel at
-- its period end; a subscription that renews itself gets no reminders.

-- +goose Up
CREATE TABLE events (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type          text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    occurred_at   timestamptz NOT NULL,
    license_id    uuid,
    customer_id   uuid,
    deployment_id uuid,
    data          jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    milestone_key text UNIQUE CHECK (length(milestone_key) <= 300)
);
CREATE INDEX events_occurred_idx ON events (occurred_at DESC, id DESC);
CREATE INDEX events_license_idx ON events (license_id, occurred_at DESC) WHERE license_id IS NOT NULL;

CREATE TABLE notifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id    uuid REFERENCES events (id) ON DELETE CASCADE,
    event_type  text NOT NULL,
    category    text NOT NULL CHECK (category IN ('renewal', 'billing', 'usage', 'deployments', 'digest')),
    recipient   citext NOT NULL CHECK (length(recipient) <= 254 AND recipient ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    license_id  uuid,
    customer_id uuid,
    subject     text NOT NULL DEFAULT '',
    dedupe_key  text NOT NULL UNIQUE CHECK (length(dedupe_key) <= 600),
    status      text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed', 'retrying', 'suppressed')),
    attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  text NOT NULL DEFAULT '' CHECK (length(last_error) <= 2000),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    sent_at     timestamptz,
    -- The unsubscribe link of this email works once.
    unsubscribed_at timestamptz
);
CREATE INDEX notifications_created_idx ON notifications (created_at DESC, id DESC);
CREATE INDEX notifications_status_idx ON notifications (status, created_at DESC);
CREATE INDEX notifications_recipient_idx ON notifications (recipient, created_at DESC);

CREATE TABLE notification_optouts (
    email      citext NOT NULL,
    category   text NOT NULL CHECK (category IN ('renewal', 'billing', 'usage', 'deployments')),
    created_at timestamptz NOT NULL,
    PRIMARY KEY (email, category)
);

CREATE TABLE customer_contacts (
    customer_id     uuid PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    billing_email   citext CHECK (length(billing_email) <= 254 AND billing_email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    technical_email citext CHECK (length(technical_email) <= 254 AND technical_email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    updated_at      timestamptz NOT NULL
);

CREATE TABLE license_stripe_cancels (
    license_id           uuid PRIMARY KEY REFERENCES licenses (id) ON DELETE CASCADE,
    cancel_at_period_end boolean NOT NULL,
    updated_at           timestamptz NOT NULL
);

-- +goose Down
DROP TABLE license_stripe_cancels, customer_contacts, notification_optouts, notifications, events;
