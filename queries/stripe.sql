-- Stripe events: each received once, kept with what became of it.

-- name: InsertStripeEvent :one
-- A second delivery of the same event inserts nothing and returns no row.
INSERT INTO stripe_events (id, type, api_version, livemode, stripe_created_at, object_id, payload, status,
    stripe_subscription_id, stripe_customer_id, payment_signal, received_at)
VALUES (@id, @type, @api_version, @livemode, @stripe_created_at, @object_id, @payload, @status,
    sqlc.narg('stripe_subscription_id'), sqlc.narg('stripe_customer_id'), sqlc.narg('payment_signal'), @received_at)
ON CONFLICT (id) DO NOTHING
RETURNING id;

-- name: GetStripeEvent :one
SELECT * FROM stripe_events WHERE id = @id;

-- name: GetStripeEventForUpdate :one
SELECT * FROM stripe_events WHERE id = @id FOR UPDATE;

-- name: FinishStripeEvent :one
UPDATE stripe_events SET status = @status, error = @error, processed_at = @processed_at
WHERE id = @id
RETURNING *;

-- name: RetryStripeEvent :exec
UPDATE stripe_events SET attempts = attempts + 1 WHERE id = @id;

-- name: RecordFailedStripeEvent :exec
-- After a transaction that failed for a reason of ours: the event is kept as
-- failed, so that Stripe's retry (or a replay) processes it again.
INSERT INTO stripe_events (id, type, api_version, livemode, stripe_created_at, object_id, payload, status, error,
    stripe_subscription_id, stripe_customer_id, payment_signal, received_at)
VALUES (@id, @type, @api_version, @livemode, @stripe_created_at, @object_id, @payload, 'failed', @error,
    sqlc.narg('stripe_subscription_id'), sqlc.narg('stripe_customer_id'), sqlc.narg('payment_signal'), @received_at)
ON CONFLICT (id) DO UPDATE SET status = 'failed', error = EXCLUDED.error, attempts = stripe_events.attempts + 1,
    processed_at = NULL
WHERE stripe_events.status = 'failed';

-- name: ListStripeEvents :many
-- Newest first, keyset-paginated, optionally in one state.
SELECT * FROM stripe_events
WHERE (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
  AND (sqlc.narg('before_received')::timestamptz IS NULL
       OR (received_at, id) < (sqlc.narg('before_received')::timestamptz, sqlc.narg('before_id')::text))
ORDER BY received_at DESC, id DESC
LIMIT @max_rows;

-- name: LockStripeCustomer :exec
-- Serialises every event about one Stripe customer (creating its NLS
-- customer and licenses) until the transaction ends.
SELECT pg_advisory_xact_lock(hashtextextended('stripe:' || @key::text, 0));

-- name: GetStripeOverdueSince :one
-- When the subscription became overdue: its first "overdue" signal after its
-- last "paid" one (a paid signal wins a tie within the same second). No row:
-- it is in good standing.
SELECT e.stripe_created_at FROM stripe_events e
WHERE e.stripe_subscription_id = sqlc.arg(subscription_id)::text AND e.payment_signal = 'overdue'
  AND e.stripe_created_at > coalesce((SELECT max(p.stripe_created_at) FROM stripe_events p
        WHERE p.stripe_subscription_id = sqlc.arg(subscription_id)::text AND p.payment_signal = 'paid'),
      '-infinity'::timestamptz)
ORDER BY e.stripe_created_at
LIMIT 1;

-- name: ListStripeInvoicePaidPayloads :many
-- The paid invoices of a subscription, for the license created after them.
SELECT payload FROM stripe_events
WHERE stripe_subscription_id = sqlc.arg(subscription_id)::text AND type = 'invoice.paid'
ORDER BY stripe_created_at;

-- name: HasNewerStripeCustomerEvent :one
-- Whether customer details newer than @created_at were already applied.
SELECT EXISTS (SELECT 1 FROM stripe_events
    WHERE stripe_customer_id = sqlc.arg(customer_id)::text AND id <> @id AND status = 'processed'
      AND type IN ('customer.created', 'customer.updated', 'checkout.session.completed')
      AND stripe_created_at > @created_at)::boolean;

-- name: FindStripeSubscriptionForCharge :one
-- The subscription a charge paid for, from the invoice and charge events
-- received: by the invoice id, or the invoice's charge or payment intent.
SELECT stripe_subscription_id::text FROM stripe_events
WHERE stripe_subscription_id IS NOT NULL
  AND ((sqlc.arg(invoice_id)::text <> '' AND object_id = sqlc.arg(invoice_id)::text)
       OR payload->'data'->'object'->>'charge' = sqlc.arg(charge_id)::text
       OR (sqlc.arg(payment_intent_id)::text <> '' AND payload->'data'->'object'->>'payment_intent' = sqlc.arg(payment_intent_id)::text))
ORDER BY stripe_created_at DESC
LIMIT 1;

-- name: FindStripeCustomerForCharge :one
-- The Stripe customer of a charge, from the charge or invoice events received.
SELECT stripe_customer_id::text FROM stripe_events
WHERE stripe_customer_id IS NOT NULL
  AND (object_id = sqlc.arg(charge_id)::text OR payload->'data'->'object'->>'charge' = sqlc.arg(charge_id)::text)
ORDER BY stripe_created_at DESC
LIMIT 1;

-- name: ListLiveStripeLicensesByCustomer :many
-- A customer's licenses whose subscription has not ended.
SELECT * FROM licenses
WHERE customer_id = @customer_id AND stripe_subscription_id IS NOT NULL AND status <> 'revoked'
  AND coalesce(stripe_status, '') NOT IN ('canceled', 'incomplete_expired')
ORDER BY created_at;
