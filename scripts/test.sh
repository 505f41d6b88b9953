#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: starts a throwaway PostgreSQL
# (unless TEST_DATABASE_URL is set) and passes its URL to the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  dir=$(mktemp -d /tmp/nls-test-pg.XXXXXX)
  go build -o "$dir/portal" ./cmd/portal
  stop_db() { "$dir/portal" db stop --dir "$dir/cluster" >/dev/null 2>&1 || true; rm -rf "$dir"; }
  trap stop_db EXIT
  TEST_DATABASE_URL=$(NLS_LOG_FORMAT=text NLS_LOG_LEVEL=warn "$dir/portal" db start --fast --dir "$dir/cluster" | tail -n 1)
  export TEST_DATABASE_URL
fi

go test -count=1 -p 2 "$@" ./...
