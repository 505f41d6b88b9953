-- The audit log. Chaining (seq, prev_hash, hash) is done by a trigger.

-- name: AppendAudit :one
INSERT INTO audit_log (occurred_at, actor_type, actor_id, actor_label, action, entity_type, entity_id,
    customer_id, before, after, ip, user_agent, request_id)
VALUES (@occurred_at, @actor_type, @actor_id, @actor_label, @action, @entity_type, @entity_id,
    sqlc.narg('customer_id'), sqlc.narg('before'), sqlc.narg('after'), @ip, @user_agent, @request_id)
RETURNING id, seq, hash;

-- name: ListAuditChain :many
-- Walks the chain in order, recomputing each row's hash from its content.
SELECT a.id, a.seq, a.prev_hash, a.hash,
    audit_row_hash(a.prev_hash, a.seq, a.occurred_at, a.actor_type, a.actor_id, a.actor_label, a.action,
        a.entity_type, a.entity_id, a.customer_id, a.before, a.after, a.ip, a.user_agent, a.request_id)::bytea AS computed
FROM audit_log a
WHERE a.seq > @after_seq
ORDER BY a.seq
LIMIT @max_rows;

-- name: CountAudit :one
SELECT count(*) FROM audit_log;

-- name: ListAudit :many
-- Newest first, keyset on id, with optional filters.
SELECT * FROM audit_log
WHERE (sqlc.narg('actor_type')::text IS NULL OR actor_type = sqlc.narg('actor_type')::text)
  AND (sqlc.narg('actor_id')::text IS NULL OR actor_id = sqlc.narg('actor_id')::text)
  AND (sqlc.narg('action')::text IS NULL OR action = sqlc.narg('action')::text OR action LIKE sqlc.narg('action')::text || '.%')
  AND (sqlc.narg('entity_type')::text IS NULL OR entity_type = sqlc.narg('entity_type')::text)
  AND (sqlc.narg('entity_id')::text IS NULL OR entity_id = sqlc.narg('entity_id')::text OR entity_id LIKE sqlc.narg('entity_id')::text || '/%')
  AND (sqlc.narg('customer_id')::uuid IS NULL OR customer_id = sqlc.narg('customer_id')::uuid)
  AND (sqlc.narg('from_time')::timestamptz IS NULL OR occurred_at >= sqlc.narg('from_time')::timestamptz)
  AND (sqlc.narg('to_time')::timestamptz IS NULL OR occurred_at < sqlc.narg('to_time')::timestamptz)
  AND (sqlc.narg('before_id')::bigint IS NULL OR id < sqlc.narg('before_id')::bigint)
ORDER BY id DESC
LIMIT @max_rows;
