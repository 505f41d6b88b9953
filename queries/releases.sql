-- Distribution: products, releases, artifacts, entitlements and downloads.

-- name: CreateProduct :one
INSERT INTO products (code, name, repository) VALUES (@code, @name, @repository) RETURNING *;

-- name: GetProductByCode :one
SELECT * FROM products WHERE code = @code;

-- name: ListProducts :many
SELECT * FROM products ORDER BY code;

-- name: CreateRelease :one
INSERT INTO releases (product_id, version, channel, notes, published_at)
VALUES (@product_id, @version, @channel, @notes, sqlc.narg('published_at'))
RETURNING *;

-- name: GetRelease :one
SELECT * FROM releases WHERE id = @id;

-- name: GetReleaseByVersion :one
SELECT * FROM releases WHERE product_id = @product_id AND version = @version;

-- name: UpdateRelease :one
UPDATE releases SET notes = @notes, published_at = sqlc.narg('published_at'), yanked_at = sqlc.narg('yanked_at')
WHERE id = @id RETURNING *;

-- name: ListReleasesByProduct :many
SELECT * FROM releases WHERE product_id = @product_id ORDER BY created_at DESC, id DESC;

-- name: ListReleasesWithProduct :many
SELECT r.*, p.code AS product_code, p.repository AS product_repository
FROM releases r JOIN products p ON p.id = r.product_id
ORDER BY r.created_at DESC, r.id DESC
LIMIT @max_rows;

-- name: CreateArtifact :one
INSERT INTO artifacts (release_id, filename, platform, arch, content_type, size_bytes, sha256, blob_key)
VALUES (@release_id, @filename, @platform, @arch, @content_type, @size_bytes, @sha256, @blob_key)
RETURNING *;

-- name: ListArtifactsByRelease :many
SELECT * FROM artifacts WHERE release_id = @release_id ORDER BY filename;

-- name: GetArtifactWithRelease :one
SELECT a.*, r.version, r.channel, r.published_at, r.yanked_at, p.code AS product_code
FROM artifacts a JOIN releases r ON r.id = a.release_id JOIN products p ON p.id = r.product_id
WHERE a.id = @id;

-- name: UpsertPlanDistribution :exec
INSERT INTO plan_distribution (plan_id, products, channels, expiry_strategy)
VALUES (@plan_id, @products, @channels, @expiry_strategy)
ON CONFLICT (plan_id) DO UPDATE SET products = EXCLUDED.products, channels = EXCLUDED.channels,
    expiry_strategy = EXCLUDED.expiry_strategy;

-- name: UpsertLicenseDistribution :exec
INSERT INTO license_distribution (license_id, products, channels, expiry_strategy)
VALUES (@license_id, sqlc.narg('products'), sqlc.narg('channels'), sqlc.narg('expiry_strategy'))
ON CONFLICT (license_id) DO UPDATE SET products = EXCLUDED.products, channels = EXCLUDED.channels,
    expiry_strategy = EXCLUDED.expiry_strategy;

-- The stored facts of a license and its distribution entitlement: the
-- license's override where it has one, else its plan's, else nothing.
-- name: GetDistributionByKeyHash :one
SELECT l.id, l.customer_id, l.status, l.starts_at, l.expires_at, l.grace_days, l.payment_state, l.past_due_since,
    l.dunning_days, k.replaced_at AS key_replaced_at,
    coalesce(ld.products, pd.products, '{}')::text[] AS products,
    coalesce(ld.channels, pd.channels, '{}')::text[] AS channels,
    coalesce(ld.expiry_strategy, pd.expiry_strategy, 'restrict')::text AS expiry_strategy
FROM license_keys k
JOIN licenses l ON l.id = k.license_id
LEFT JOIN plan_distribution pd ON pd.plan_id = l.plan_id
LEFT JOIN license_distribution ld ON ld.license_id = l.id
WHERE k.key_hash = @key_hash;

-- name: GetDistributionByLicense :one
SELECT l.id, l.customer_id, l.status, l.starts_at, l.expires_at, l.grace_days, l.payment_state, l.past_due_since,
    l.dunning_days,
    coalesce(ld.products, pd.products, '{}')::text[] AS products,
    coalesce(ld.channels, pd.channels, '{}')::text[] AS channels,
    coalesce(ld.expiry_strategy, pd.expiry_strategy, 'restrict')::text AS expiry_strategy
FROM licenses l
LEFT JOIN plan_distribution pd ON pd.plan_id = l.plan_id
LEFT JOIN license_distribution ld ON ld.license_id = l.id
WHERE l.id = @id;

-- name: ListPublishedReleasesForProducts :many
SELECT r.*, p.code AS product_code, p.name AS product_name, p.repository AS product_repository
FROM releases r JOIN products p ON p.id = r.product_id
WHERE p.code = ANY(@codes::text[]) AND r.published_at IS NOT NULL AND r.yanked_at IS NULL
ORDER BY p.code, r.published_at DESC;

-- name: InsertDownload :exec
INSERT INTO downloads (license_id, artifact_id, via, occurred_at) VALUES (@license_id, @artifact_id, @via, @occurred_at);

-- name: CountDownloadsByLicense :one
SELECT count(*) FROM downloads WHERE license_id = @license_id;

-- name: GetReleaseWithProduct :one
SELECT r.*, p.code AS product_code, p.repository AS product_repository
FROM releases r JOIN products p ON p.id = r.product_id
WHERE r.id = @id;

-- name: GetReleaseByRepositoryVersion :one
SELECT r.*, p.code AS product_code
FROM releases r JOIN products p ON p.id = r.product_id
WHERE p.repository = @repository AND r.version = @version;

-- name: ListArtifactsByReleases :many
SELECT * FROM artifacts WHERE release_id = ANY(@release_ids::uuid[]) ORDER BY filename;
