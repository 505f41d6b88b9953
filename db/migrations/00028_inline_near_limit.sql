-- usage_near_limit (00007) with the same answers, its limit read once, so
-- that PostgreSQL inlines it: the near-limit trigger passes it
-- license_usage_limit(...), now inlined itself (00027) into an expression
-- that PostgreSQL will not copy into two places, so a function that named
-- usage_limit twice ran as a query of its own for every row (2 % of the
-- database's time under single usage reports).

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION usage_near_limit(used bigint, usage_limit bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT used > 0 AND coalesce(used::numeric * 100 >= usage_limit::numeric * 80, false)
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION usage_near_limit(used bigint, usage_limit bigint) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT used > 0 AND usage_limit IS NOT NULL AND used::numeric * 100 >= usage_limit::numeric * 80
$$;
-- +goose StatementEnd
