-- Distribution: products, their releases and artifacts, which products and
-- channels a plan (or one license) may fetch, and every download.
--
-- products: one per shipped product. Its repository is the container image
-- repository in the registry; version-pinned images live at
-- "<repository>/<version>" so that registry tokens (which name repositories,
-- never tags) can refuse a release the license may not have.
-- releases: a semantic version on a channel; published_at is the release
-- date (null: a draft; in the future: scheduled), yanked_at hides it.
-- artifacts: files of a release, stored in the blob store under blob_key.
-- plan_distribution / license_distribution: the entitlement, on the plan and
-- optionally overridden per license (a null column keeps the plan's value).
-- downloads: one row per artifact handed out, for counts per license.

-- +goose Up
CREATE TABLE products (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code       text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name       text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    repository text NOT NULL UNIQUE CHECK (repository ~ '^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$'
                                          AND length(repository) <= 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE releases (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    product_id   uuid NOT NULL REFERENCES products (id) ON DELETE RESTRICT,
    version      text NOT NULL CHECK (length(version) BETWEEN 5 AND 128),
    channel      text NOT NULL CHECK (channel IN ('stable', 'rc', 'beta', 'alpha', 'dev')),
    notes        text NOT NULL DEFAULT '' CHECK (length(notes) <= 20000),
    published_at timestamptz,
    yanked_at    timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (product_id, version)
);
CREATE INDEX releases_product_idx ON releases (product_id, published_at DESC);

CREATE TABLE artifacts (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    release_id   uuid NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    filename     text NOT NULL CHECK (filename ~ '^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$'),
    platform     text NOT NULL DEFAULT '' CHECK (length(platform) <= 32),
    arch         text NOT NULL DEFAULT '' CHECK (length(arch) <= 32),
    content_type text NOT NULL DEFAULT 'application/octet-stream' CHECK (length(content_type) BETWEEN 1 AND 200),
    size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
    sha256       bytea NOT NULL CHECK (octet_length(sha256) = 32),
    blob_key     text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (release_id, filename)
);

CREATE TABLE plan_distribution (
    plan_id         uuid PRIMARY KEY REFERENCES plans (id) ON DELETE CASCADE,
    products        text[] NOT NULL DEFAULT '{}' CHECK (array_position(products, NULL) IS NULL),
    channels        text[] NOT NULL DEFAULT '{stable}'
                    CHECK (channels <@ ARRAY['stable', 'rc', 'beta', 'alpha', 'dev']::text[]),
    expiry_strategy text NOT NULL DEFAULT 'restrict' CHECK (expiry_strategy IN ('restrict', 'maintain', 'allow'))
);

CREATE TABLE license_distribution (
    license_id      uuid PRIMARY KEY REFERENCES licenses (id) ON DELETE CASCADE,
    products        text[] CHECK (array_position(products, NULL) IS NULL),
    channels        text[] CHECK (channels <@ ARRAY['stable', 'rc', 'beta', 'alpha', 'dev']::text[]),
    expiry_strategy text CHECK (expiry_strategy IN ('restrict', 'maintain', 'allow'))
);

CREATE TABLE downloads (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    license_id  uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    artifact_id uuid NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    via         text NOT NULL CHECK (via IN ('portal', 'key')),
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX downloads_license_idx ON downloads (license_id, occurred_at DESC);

ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['admin',
    'licenses:read', 'licenses:write', 'customers:read', 'customers:write', 'usage:read', 'audit:read',
    'releases:read', 'releases:write', 'registry:push']::text[]);

-- +goose Down
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['admin',
    'licenses:read', 'licenses:write', 'customers:read', 'customers:write', 'usage:read', 'audit:read']::text[]);
DROP TABLE downloads;
DROP TABLE license_distribution;
DROP TABLE plan_distribution;
DROP TABLE artifacts;
DROP TABLE releases;
DROP TABLE products;
