#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: starts a throwaway PostgreSQL
# (unless TEST_DATABASE_URL is set) and passes its URL to the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser tests (e2e/) need Chromium. A fresh CI machine has none: install
# Debian's package when running as root. If that fails the e2e tests fail
# under CI (and are skipped elsewhere), while the rest of the suite still runs.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 &&
  ! command -v google-chrome >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the browser tests" >&2
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-liberation; } >&2 ||
      echo "warning: could not install chromium; the browser tests will fail under CI" >&2
  else
    echo "warning: chromium is not installed (apt-get install chromium); the browser tests will be skipped, or fail under CI" >&2
  fi
fi

# The customer portal's billing tests need stripe-mock (Stripe's API
# simulator). Install it into bin/ from the Go module proxy when it is
# neither there nor on PATH; if that fails they fail under CI (and are
# skipped elsewhere).
if [ ! -x bin/stripe-mock ] && ! command -v stripe-mock >/dev/null 2>&1; then
  echo "installing stripe-mock for the billing tests" >&2
  GOBIN="$PWD/bin" go install github.com/stripe/stripe-mock@v0.203.0 >&2 ||
    echo "warning: could not install stripe-mock; the billing tests will fail under CI" >&2
fi

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  dir=$(mktemp -d /tmp/nls-test-pg.XXXXXX)
  go build -o "$dir/portal" ./cmd/portal
  stop_db() { "$dir/portal" db stop --dir "$dir/cluster" >/dev/null 2>&1 || true; rm -rf "$dir"; }
  trap stop_db EXIT
  TEST_DATABASE_URL=$(NLS_LOG_FORMAT=text NLS_LOG_LEVEL=warn "$dir/portal" db start --fast --dir "$dir/cluster" | tail -n 1)
  export TEST_DATABASE_URL
fi

go test -count=1 -p 2 "$@" ./...

# The deployment artifacts (container image, Helm chart, alert rules, release
# build) are a module of their own with their own tools: see scripts/test-deploy.sh.
./scripts/test-deploy.sh
