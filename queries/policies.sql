-- Licensing policies: seat transfers, seat overage per period, the release
-- dates the maintain strategy reads, and the seat rank of a deployment after a downgrade.

-- name: ListReleaseDatesForLicense :many
-- The publication dates of the releases of the products a license is
-- entitled to (its own distribution override, else its plan's); of every
-- product when it names none, as a vendor with one product often does.
-- Drafts have no date; yanked releases keep theirs (yanking hides a
-- download, it does not change when the version came out).
WITH ent AS (
    SELECT coalesce(ld.products, pd.products, '{}')::text[] AS products
    FROM licenses l
    LEFT JOIN plan_distribution pd ON pd.plan_id = l.plan_id
    LEFT JOIN license_distribution ld ON ld.license_id = l.id
    WHERE l.id = @license_id
)
SELECT r.version, r.published_at::timestamptz AS released_at
FROM ent, releases r JOIN products p ON p.id = r.product_id
WHERE r.published_at IS NOT NULL AND (cardinality(ent.products) = 0 OR p.code = ANY(ent.products))
ORDER BY r.published_at, r.version;

-- name: RecordSeatTransfer :exec
INSERT INTO seat_transfers (license_id, deployment_pk, released_by, counted, released_at)
VALUES (@license_id, sqlc.narg('deployment_pk'), @released_by, @counted, @released_at);

-- name: ListCountedTransfers :many
-- The transfers within the window ending now (the budget's period).
SELECT released_at FROM seat_transfers
WHERE license_id = @license_id AND counted AND released_at > sqlc.arg(since)::timestamptz
ORDER BY released_at;

-- name: LastTransferAt :one
SELECT max(released_at)::timestamptz AS last FROM seat_transfers WHERE license_id = @license_id;

-- name: CountOlderSeatHolders :one
-- How many other deployments holding a seat activated before this one: its
-- rank, when a license holds more seats than it now allows.
SELECT count(*)::int FROM deployments s
WHERE s.license_id = @license_id AND s.id <> @id
  AND deployment_holds_seat(s.status, s.last_seen_at, s.offline_until, @heartbeat_window_hours, @now::timestamptz)
  AND (s.first_seen_at, s.id) < (@first_seen_at::timestamptz, @id::uuid);

-- name: RecordSeatOverage :exec
-- Keeps the period's peak of seats held beyond max_deployments.
INSERT INTO seat_overages (license_id, period_start, period_end, max_deployments, peak_seats, updated_at)
VALUES (@license_id, @period_start, @period_end, @max_deployments, @peak_seats, @now)
ON CONFLICT (license_id, period_start) DO UPDATE
SET peak_seats = greatest(seat_overages.peak_seats, EXCLUDED.peak_seats),
    max_deployments = EXCLUDED.max_deployments, updated_at = EXCLUDED.updated_at;

-- name: ListSeatOverages :many
SELECT license_id, period_start, period_end, max_deployments, peak_seats, updated_at FROM seat_overages
WHERE license_id = @license_id ORDER BY period_start DESC LIMIT @max_rows;

-- name: GetSeatOverage :one
SELECT peak_seats FROM seat_overages WHERE license_id = @license_id AND period_start = @period_start;

-- name: SetDeploymentFingerprint :exec
UPDATE deployments SET fingerprint = @fingerprint, fingerprint_components = @fingerprint_components
WHERE id = @id;

-- name: SetLicensePolicyOverrides :exec
UPDATE licenses SET policy_overrides = @policy_overrides, updated_at = @updated_at WHERE id = @id;

-- name: GetLicensePolicy :one
-- A license's plan policy columns and its overrides.
SELECT p.fingerprint_policy, p.fingerprint_match, p.lease_hours, p.transfers_per_period, p.transfer_period_days,
    p.seat_overage, p.limit_enforcement, p.expiry_strategy, l.policy_overrides
FROM licenses l JOIN plans p ON p.id = l.plan_id
WHERE l.id = @id;

-- name: ListUsagePeriodsBetween :many
-- The usage period rows of a license that start within [from, to).
SELECT metric, kind, value FROM usage_periods
WHERE license_id = @license_id AND period_start >= @from_at AND period_start < @to_at;

-- name: PeakSeatOverage :one
-- The most seats held at once in overage periods overlapping [from, to); 0 when none.
SELECT coalesce(max(peak_seats), 0)::int FROM seat_overages
WHERE license_id = @license_id AND period_start < @to_at AND period_end > @from_at;
