-- license_usage_limit (00007) with the same answers, written so that
-- PostgreSQL inlines it into the queries that call it. Its sub-SELECT kept
-- it from being inlined, so each call ran as a query of its own (executor
-- start and end), twice per row the near-limit trigger reads: about a
-- seventh of PostgreSQL's time when usage reports arrive one at a time. The
-- nested CASE keeps the cast from ever seeing a value that is not a number.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION license_usage_limit(limits jsonb, metric text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(limits -> metric) = 'number' THEN
        CASE WHEN (limits ->> metric)::numeric BETWEEN 0 AND 9223372036854775807
            AND (limits ->> metric)::numeric = trunc((limits ->> metric)::numeric)
        THEN (limits ->> metric)::numeric::bigint END END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION license_usage_limit(limits jsonb, metric text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN jsonb_typeof(limits -> metric) = 'number' THEN
        (SELECT n::bigint FROM (SELECT (limits ->> metric)::numeric AS n) v
         WHERE n >= 0 AND n <= 9223372036854775807 AND n = trunc(n)) END
$$;
-- +goose StatementEnd
