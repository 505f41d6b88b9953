-- A plan's own words for its metrics.
--
-- plans.metric_labels maps a metric's name to the label people read for it
-- on that plan's licenses ({"apiCalls": "Requests"}); a metric without one
-- is shown by its display name from licensing/metric_names.go. Labels are
-- words only: limits, usage and the machine API keep the metric's name.

-- +goose Up
ALTER TABLE plans ADD COLUMN metric_labels jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(metric_labels) = 'object');

-- +goose Down
ALTER TABLE plans DROP COLUMN metric_labels;
