-- One source of release dates. The maintain expiry strategy used to read
-- application versions from app_releases, a table of its own that the
-- distribution's releases (migration 00011) never filled. Validation now reads
-- the publication dates of the releases of the license's products, so the
-- rows of app_releases move there and the table goes.
--
-- app_releases applied to every license whatever its product, so each row
-- becomes a published release of every product that lacks that version (a
-- product "app" is created when there is none, so no date is lost). The
-- channel follows the pre-release tag (rc, beta, alpha; dev for any other
-- tag; stable for none). A leading "v" is dropped, as the release API does.

-- +goose Up
INSERT INTO products (code, name, repository)
SELECT 'app', 'Application', 'app'
WHERE EXISTS (SELECT 1 FROM app_releases) AND NOT EXISTS (SELECT 1 FROM products);

INSERT INTO releases (product_id, version, channel, published_at)
SELECT p.id, v.version,
    CASE
        WHEN v.pre IS NULL THEN 'stable'
        WHEN v.pre LIKE 'rc%' THEN 'rc'
        WHEN v.pre LIKE 'beta%' THEN 'beta'
        WHEN v.pre LIKE 'alpha%' THEN 'alpha'
        ELSE 'dev'
    END,
    v.released_at
FROM (SELECT regexp_replace(version, '^v', '') AS version,
             substring(regexp_replace(version, '\+.*$', '') FROM '^v?[0-9]+\.[0-9]+\.[0-9]+-(.+)$') AS pre,
             released_at
      FROM app_releases) v
CROSS JOIN products p
WHERE length(v.version) >= 5
ON CONFLICT (product_id, version) DO NOTHING;

DROP TABLE app_releases;

-- +goose Down
-- The releases stay: they are the distribution's. The old table comes back
-- with the dates of every published release (the earliest per version).
CREATE TABLE app_releases (
    version     text PRIMARY KEY CHECK (length(version) BETWEEN 1 AND 64),
    released_at timestamptz NOT NULL
);
INSERT INTO app_releases (version, released_at)
SELECT version, min(published_at) FROM releases
WHERE published_at IS NOT NULL AND length(version) <= 64
GROUP BY version;
