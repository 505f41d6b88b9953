-- Email notices: one row per recipient and milestone, their delivery state,
-- opt-outs, customer contacts and renewal requests.

-- name: ListNoticeRecipients :many
-- Who hears about a customer: its own address, its billing and technical
-- contacts, and its enabled users (role tells which is which).
SELECT r.email::text AS email, r.role::text AS role FROM (
    SELECT c.email, 'customer' AS role FROM customers c WHERE c.id = sqlc.arg(customer_id)::uuid
    UNION ALL
    SELECT cc.billing_email, 'billing' FROM customer_contacts cc
        WHERE cc.customer_id = sqlc.arg(customer_id)::uuid AND cc.billing_email IS NOT NULL
    UNION ALL
    SELECT cc.technical_email, 'technical' FROM customer_contacts cc
        WHERE cc.customer_id = sqlc.arg(customer_id)::uuid AND cc.technical_email IS NOT NULL
    UNION ALL
    SELECT u.email, 'user' FROM users u
        WHERE u.customer_id = sqlc.arg(customer_id)::uuid AND u.role = 'customer' AND u.disabled_at IS NULL
) r;

-- name: InsertNotification :many
-- A notice already made for this recipient and milestone inserts nothing.
INSERT INTO notifications (event_id, event_type, category, recipient, license_id, customer_id, subject, dedupe_key,
    status, created_at, updated_at)
VALUES (sqlc.narg('event_id'), @event_type, @category, @recipient, sqlc.narg('license_id'), sqlc.narg('customer_id'),
    @subject, @dedupe_key, @status, @now, @now)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id;

-- name: GetNotification :one
SELECT * FROM notifications WHERE id = @id;

-- name: GetNotificationForUpdate :one
SELECT * FROM notifications WHERE id = @id FOR UPDATE;

-- name: MarkNotificationSent :exec
UPDATE notifications SET status = 'sent', attempts = attempts + 1, last_error = '', sent_at = @now, updated_at = @now,
    subject = @subject
WHERE id = @id;

-- name: MarkNotificationFailedAttempt :exec
UPDATE notifications SET status = @status, attempts = attempts + 1, last_error = left(@last_error::text, 2000),
    updated_at = @now
WHERE id = @id;

-- name: MarkNotificationSuppressed :exec
UPDATE notifications SET status = 'suppressed', last_error = @reason, updated_at = @now WHERE id = @id;

-- name: RequeueNotification :one
-- "Send again": a failed, suppressed or sent notice goes back in the queue.
UPDATE notifications SET status = 'queued', last_error = '', updated_at = @now
WHERE id = @id AND status <> 'queued'
RETURNING *;

-- name: ListNotifications :many
-- Newest first, keyset paginated, filtered by status, event type and recipient.
SELECT * FROM notifications
WHERE (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status')::text)
  AND (sqlc.narg('event_type')::text IS NULL OR event_type = sqlc.narg('event_type')::text)
  AND (sqlc.narg('recipient')::text IS NULL OR recipient ILIKE '%' || sqlc.narg('recipient')::text || '%')
  AND (sqlc.narg('license_id')::uuid IS NULL OR license_id = sqlc.narg('license_id')::uuid)
  AND (sqlc.narg('before_created')::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg('before_created')::timestamptz, sqlc.narg('before_id')::uuid))
ORDER BY created_at DESC, id DESC
LIMIT @max_rows;

-- name: CountNotificationsByStatus :many
SELECT status, count(*)::bigint AS n FROM notifications GROUP BY status;

-- name: CountFailedNotificationsSince :one
SELECT count(*)::bigint FROM notifications WHERE status = 'failed' AND updated_at >= @since;

-- name: UseUnsubscribeLink :one
-- The link of one email works once: the first use records the opt-out.
UPDATE notifications SET unsubscribed_at = @now WHERE id = @id AND unsubscribed_at IS NULL
RETURNING recipient::text AS recipient, category;

-- name: AddOptOut :exec
INSERT INTO notification_optouts (email, category, created_at) VALUES (@email, @category, @now)
ON CONFLICT DO NOTHING;

-- name: RemoveOptOut :exec
DELETE FROM notification_optouts WHERE email = @email AND category = @category;

-- name: ListOptOuts :many
SELECT category FROM notification_optouts WHERE email = @email ORDER BY category;

-- name: IsOptedOut :one
SELECT EXISTS (SELECT 1 FROM notification_optouts WHERE email = @email AND category = @category);

-- name: GetCustomerContacts :one
SELECT * FROM customer_contacts WHERE customer_id = @customer_id;

-- name: UpsertCustomerContacts :exec
INSERT INTO customer_contacts (customer_id, billing_email, technical_email, updated_at)
VALUES (@customer_id, sqlc.narg('billing_email'), sqlc.narg('technical_email'), @updated_at)
ON CONFLICT (customer_id) DO UPDATE SET billing_email = excluded.billing_email,
    technical_email = excluded.technical_email, updated_at = excluded.updated_at;

-- name: DigestExpiringLicenses :many
SELECT l.id, c.name AS customer_name, p.code AS plan, l.expires_at
FROM licenses l JOIN customers c ON c.id = l.customer_id JOIN plans p ON p.id = l.plan_id
WHERE l.status = 'active' AND l.expires_at > sqlc.arg(now)::timestamptz
  AND l.expires_at <= sqlc.arg(now)::timestamptz + interval '30 days'
ORDER BY l.expires_at LIMIT 50;

-- name: DigestPastDueLicenses :many
SELECT l.id, c.name AS customer_name, p.code AS plan, l.past_due_since
FROM licenses l JOIN customers c ON c.id = l.customer_id JOIN plans p ON p.id = l.plan_id
WHERE l.status = 'active' AND l.payment_state = 'past_due'
ORDER BY l.past_due_since LIMIT 50;

-- name: DigestStripeEventsNeedingAttention :one
SELECT count(*)::bigint FROM stripe_events WHERE status IN ('needs_attention', 'failed');

-- name: CreateRenewalRequest :one
INSERT INTO renewal_requests (license_id, customer_id, requested_by, message, created_at)
VALUES (@license_id, @customer_id, sqlc.narg('requested_by'), @message, @now)
ON CONFLICT (license_id) WHERE completed_at IS NULL DO UPDATE SET message = excluded.message
RETURNING *;

-- name: GetOpenRenewalRequest :one
SELECT * FROM renewal_requests WHERE license_id = @license_id AND completed_at IS NULL;

-- name: CompleteRenewalRequests :exec
UPDATE renewal_requests SET completed_at = @now WHERE license_id = @license_id AND completed_at IS NULL;

-- name: CountOpenRenewalRequests :one
SELECT count(*)::bigint FROM renewal_requests WHERE completed_at IS NULL;
