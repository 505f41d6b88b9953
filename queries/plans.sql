-- Plans: what a license grants by default, and how billing maps onto it.

-- name: CreatePlan :one
INSERT INTO plans (code, name, description, features, limits, max_deployments, duration_days, grace_days,
    offline_days, heartbeat_window_hours, dunning_days, quantity_sets)
VALUES (@code, @name, @description, @features, @limits, sqlc.narg('max_deployments'), sqlc.narg('duration_days'),
    @grace_days, @offline_days, @heartbeat_window_hours, @dunning_days, sqlc.narg('quantity_sets'))
RETURNING *;

-- name: GetPlan :one
SELECT * FROM plans WHERE id = @id;

-- name: GetPlanByCode :one
SELECT * FROM plans WHERE code = @code;

-- name: GetPlanForUpdate :one
SELECT * FROM plans WHERE id = @id FOR UPDATE;

-- name: ListPlans :many
SELECT * FROM plans
WHERE (sqlc.arg(include_archived)::boolean OR archived_at IS NULL)
  AND (sqlc.narg('after_code')::text IS NULL OR code > sqlc.narg('after_code')::text)
ORDER BY code
LIMIT @max_rows;

-- name: UpdatePlan :one
UPDATE plans SET name = @name, description = @description, features = @features, limits = @limits,
    max_deployments = sqlc.narg('max_deployments'), duration_days = sqlc.narg('duration_days'),
    grace_days = @grace_days, offline_days = @offline_days, heartbeat_window_hours = @heartbeat_window_hours,
    dunning_days = @dunning_days, quantity_sets = sqlc.narg('quantity_sets'), archived_at = sqlc.narg('archived_at'),
    updated_at = @updated_at
WHERE id = @id
RETURNING *;

-- name: ListPlanPrices :many
SELECT price_id FROM plan_stripe_prices WHERE plan_id = @plan_id ORDER BY price_id;

-- name: ListAllPlanPrices :many
SELECT plan_id, price_id FROM plan_stripe_prices ORDER BY plan_id, price_id;

-- name: DeletePlanPrices :exec
DELETE FROM plan_stripe_prices WHERE plan_id = @plan_id;

-- name: AddPlanPrice :exec
INSERT INTO plan_stripe_prices (price_id, plan_id) VALUES (@price_id, @plan_id);

-- name: GetPlanByStripePrice :one
SELECT p.* FROM plans p JOIN plan_stripe_prices sp ON sp.plan_id = p.id WHERE sp.price_id = @price_id;

-- name: SetPlanMetricLabels :one
-- The plan's own labels for its metrics, set with the rest of the plan in
-- the same transaction.
UPDATE plans SET metric_labels = @metric_labels WHERE id = @id
RETURNING *;

-- name: SetPlanPolicy :one
-- The licensing policies of a plan (licensing.Policy), set with the rest of
-- the plan in the same transaction.
UPDATE plans SET fingerprint_policy = @fingerprint_policy, fingerprint_match = @fingerprint_match,
    lease_hours = @lease_hours, transfers_per_period = @transfers_per_period,
    transfer_period_days = @transfer_period_days, seat_overage = @seat_overage,
    limit_enforcement = @limit_enforcement, expiry_strategy = @expiry_strategy
WHERE id = @id
RETURNING *;
