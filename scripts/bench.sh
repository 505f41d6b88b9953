#!/usr/bin/env bash
# Benchmarks, side by side in one run:
#  1. the licensing core and client hot paths (go test -bench);
#  2. recording usage reports with the usage rollup triggers on and off
#     (db.Store.RecordUsage, two concurrent writers over 200 licenses);
#  3. distribution: artifact download throughput (license key, redirect,
#     signed link, filesystem store) beside cat of the same file, and
#     registry token issue latency;
#  4. POST /api/validation/validate against a one-SELECT baseline route over
#     the same pool, with 10,000 licenses and 64 concurrent clients.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench . -benchmem ./licensing/...
go test -run '^$' -bench RecordUsage -benchtime 3000x ./db/
# What the outbox (domain events and their fan-out jobs) costs license actions and usage reports.
go test -run '^$' -bench Outbox -benchtime 2000x ./db/
go test -run '^$' -bench 'DownloadByKey|CatFloor' -benchtime "${BENCH_DOWNLOADS:-10x}" ./handlers/
go test -run '^$' -bench 'RegistryToken' -benchtime "${BENCH_TOKENS:-2000x}" ./handlers/
go run ./cmd/benchvalidate -licenses "${BENCH_LICENSES:-10000}" -clients "${BENCH_CLIENTS:-64}" -duration "${BENCH_DURATION:-10s}"
