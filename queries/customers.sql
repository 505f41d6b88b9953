-- Customers: the vendor's clients, who hold licenses.

-- name: CreateCustomer :one
INSERT INTO customers (name, email, company, metadata, stripe_customer_id)
VALUES (@name, @email, @company, @metadata, sqlc.narg('stripe_customer_id'))
RETURNING *;

-- name: GetCustomer :one
SELECT * FROM customers WHERE id = @id;

-- name: GetCustomerForUpdate :one
SELECT * FROM customers WHERE id = @id FOR UPDATE;

-- name: GetCustomerByStripeID :one
SELECT * FROM customers WHERE stripe_customer_id = @stripe_customer_id;

-- name: ListCustomers :many
-- Keyset pagination, newest first; q searches name, email and company.
SELECT * FROM customers
WHERE (sqlc.narg('q')::text IS NULL OR (name || ' ' || email::text || ' ' || company) ILIKE '%' || sqlc.narg('q')::text || '%')
  AND (sqlc.arg(include_archived)::boolean OR archived_at IS NULL)
  AND (sqlc.narg('before_created')::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg('before_created')::timestamptz, sqlc.narg('before_id')::uuid))
ORDER BY created_at DESC, id DESC
LIMIT @max_rows;

-- name: UpdateCustomer :one
UPDATE customers SET name = @name, email = @email, company = @company, metadata = @metadata,
    stripe_customer_id = sqlc.narg('stripe_customer_id'), updated_at = @updated_at
WHERE id = @id
RETURNING *;

-- name: ArchiveCustomer :one
UPDATE customers SET archived_at = @archived_at, updated_at = @archived_at
WHERE id = @id AND archived_at IS NULL
RETURNING *;

-- name: UnarchiveCustomer :one
UPDATE customers SET archived_at = NULL, updated_at = @updated_at
WHERE id = @id AND archived_at IS NOT NULL
RETURNING *;

-- name: CountCustomers :one
SELECT count(*) FROM customers;
