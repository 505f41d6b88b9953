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

# --- Services for the high-availability tests (ha/) ---------------------------
# They run three portals behind HAProxy with a shared Redis, and a PostgreSQL
# primary failing over to a streaming replica (pg_basebackup comes with the
# server package). Install Debian's packages when running as root; if that
# fails the ha tests fail under CI (and are skipped elsewhere).
ha_missing=""
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || ha_missing="$ha_missing haproxy"
command -v redis-server >/dev/null 2>&1 || ha_missing="$ha_missing redis-server"
if [ -n "$ha_missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing$ha_missing for the high-availability tests" >&2
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $ha_missing; } >&2 ||
      echo "warning: could not install$ha_missing; the ha tests will fail under CI" >&2
  else
    echo "warning:$ha_missing not installed (apt-get install$ha_missing); the ha tests will be skipped, or fail under CI" >&2
  fi
fi
# -------------------------------------------------------------------------------
# --- mailpit: the real SMTP server of the email tests -------------------------
# Installed into bin/ when missing, started once on free ports for the whole
# suite; the tests read it through NLS_TEST_SMTP_URL and NLS_TEST_MAILPIT_API.
# If it cannot be installed or started the email tests fail under CI (and are
# skipped elsewhere).
if [ ! -x bin/mailpit ] && ! command -v mailpit >/dev/null 2>&1; then
  echo "installing mailpit for the email tests" >&2
  GOBIN="$PWD/bin" go install github.com/axllent/mailpit@v1.33.1 >&2 ||
    echo "warning: could not install mailpit; the email tests will fail under CI" >&2
fi
mailpit_bin=$(command -v bin/mailpit || command -v mailpit || true)
if [ -n "$mailpit_bin" ] && [ -z "${NLS_TEST_SMTP_URL:-}" ]; then
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  smtp_port=$(free_port)
  api_port=$(free_port)
  "$mailpit_bin" --smtp "127.0.0.1:$smtp_port" --listen "127.0.0.1:$api_port" --max 0 --quiet &
  mailpit_pid=$!
  trap 'kill "$mailpit_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$api_port/api/v1/info" >/dev/null 2>&1 && break
    sleep 0.1
  done
  export NLS_TEST_SMTP_URL="smtp://127.0.0.1:$smtp_port" NLS_TEST_MAILPIT_API="http://127.0.0.1:$api_port"
fi
# --- end of mailpit -------------------------------------------------------------
# Distribution: the license-gated image tests run the real registry (CNCF
# Distribution) with token auth pointing at the portal under test. Built
# into bin/ like stripe-mock; without it those tests fail under CI.
if [ ! -x bin/registry ] && ! command -v registry >/dev/null 2>&1; then
  echo "installing the registry for the distribution tests" >&2
  GOBIN="$PWD/bin" go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2 >&2 ||
    echo "warning: could not install the registry; the image tests will fail under CI" >&2
fi

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  dir=$(mktemp -d /tmp/nls-test-pg.XXXXXX)
  go build -o "$dir/portal" ./cmd/portal
  stop_db() { "$dir/portal" db stop --dir "$dir/cluster" >/dev/null 2>&1 || true; rm -rf "$dir"; }
  trap 'stop_db; [ -n "${mailpit_pid:-}" ] && kill "$mailpit_pid" 2>/dev/null || true' EXIT
  TEST_DATABASE_URL=$(NLS_LOG_FORMAT=text NLS_LOG_LEVEL=warn "$dir/portal" db start --fast --dir "$dir/cluster" | tail -n 1)
  export TEST_DATABASE_URL
fi

# The deploy tools (ko, helm, goreleaser) take minutes to build on a fresh
# machine: build them at low priority while the Go tests run, on the CPU the
# tests leave idle; scripts/test-deploy.sh runs once they are done.
tools_pid=""
if [ ! -x bin/ko ] || [ ! -x bin/helm ] || [ ! -x bin/goreleaser ]; then
  echo "building the deploy tools into bin/ in the background" >&2
  nice -n 19 make -s deploy-tools >&2 &
  tools_pid=$!
fi

go test -count=1 -p 2 "$@" ./...
if [ -n "$tools_pid" ]; then
  wait "$tools_pid" || echo "warning: building the deploy tools failed; test-deploy.sh tries again" >&2
fi

# --- Node client (clients/node): its own script, run after the Go tests ---
./scripts/test-node.sh

# The deployment artifacts (container image, Helm chart, alert rules, release
# build) are a module of their own with their own tools: see scripts/test-deploy.sh.
./scripts/test-deploy.sh
