-- Renewal requests: a customer whose license was not sold through Stripe
-- asks for a renewal from the customer portal (the reminder email links
-- there); the request shows on the license page as a task for the vendor's
-- staff, and renewing the license completes it.

-- +goose Up
CREATE TABLE renewal_requests (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    license_id   uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
    message      text NOT NULL DEFAULT '' CHECK (length(message) <= 2000),
    created_at   timestamptz NOT NULL,
    completed_at timestamptz
);
-- One open request per license: asking again while one is open changes nothing.
CREATE UNIQUE INDEX renewal_requests_open_idx ON renewal_requests (license_id) WHERE completed_at IS NULL;

-- +goose Down
DROP TABLE renewal_requests;
