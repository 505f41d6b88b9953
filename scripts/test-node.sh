#!/usr/bin/env bash
# Runs the Node client's test suite (clients/node) against the real portal:
# builds the portal, gives the tests a fresh database on the PostgreSQL of
# TEST_DATABASE_URL (or starts a throwaway one), and runs npm ci && npm test.
# Under CI a missing node, npm or psql is a failure, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

missing() {
  if [ -n "${CI:-}" ]; then
    echo "test-node: $1 is required under CI (Node.js 20+ with npm; psql from postgresql-client)" >&2
    exit 1
  fi
  echo "warning: $1 is not installed; skipping the Node client tests" >&2
  exit 0
}
command -v node >/dev/null 2>&1 || missing node
command -v npm >/dev/null 2>&1 || missing npm
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  missing "Node.js 20 or later (found $(node --version))"
fi

dir=$(mktemp -d /tmp/nls-test-node.XXXXXX)
cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c"; done; rm -rf "$dir"' EXIT
go build -o "$dir/portal" ./cmd/portal

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  TEST_DATABASE_URL=$(NLS_LOG_FORMAT=text NLS_LOG_LEVEL=warn "$dir/portal" db start --fast --dir "$dir/cluster" | tail -n 1)
  cleanup+=("\"$dir/portal\" db stop --dir \"$dir/cluster\" >/dev/null 2>&1 || true")
fi
command -v psql >/dev/null 2>&1 || missing psql
# A fresh database of its own, dropped afterwards.
db="nls_node_$(date +%s)_$$"
psql "$TEST_DATABASE_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $db" >/dev/null
cleanup=("psql \"$TEST_DATABASE_URL\" -qc \"DROP DATABASE IF EXISTS $db WITH (FORCE)\" >/dev/null 2>&1 || true" "${cleanup[@]}")
db_url=$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.href)' "$TEST_DATABASE_URL" "$db")

cd clients/node
npm ci --no-audit --no-fund --loglevel=error
NLS_TEST_PORTAL_BIN="$dir/portal" NLS_TEST_DATABASE_URL="$db_url" npm test
