-- What each Stripe event is about, in columns the webhook can index: the
-- subscription and customer it concerns, and what it says about payment.
-- Payment standing is then a pure function of the events received, whatever
-- order they arrived in: overdue since the first "overdue" signal after the
-- last "paid" one.

-- +goose Up
ALTER TABLE stripe_events
    ADD COLUMN stripe_subscription_id text CHECK (stripe_subscription_id <> ''),
    ADD COLUMN stripe_customer_id     text CHECK (stripe_customer_id <> ''),
    ADD COLUMN payment_signal         text CHECK (payment_signal IN ('paid', 'overdue'));
CREATE INDEX stripe_events_subscription_idx ON stripe_events (stripe_subscription_id, stripe_created_at)
    WHERE stripe_subscription_id IS NOT NULL;
CREATE INDEX stripe_events_customer_idx ON stripe_events (stripe_customer_id, stripe_created_at)
    WHERE stripe_customer_id IS NOT NULL;

-- +goose Down
DROP INDEX stripe_events_customer_idx, stripe_events_subscription_idx;
ALTER TABLE stripe_events DROP COLUMN payment_signal, DROP COLUMN stripe_customer_id, DROP COLUMN stripe_subscription_id;
