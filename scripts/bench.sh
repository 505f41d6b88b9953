#!/usr/bin/env bash
# Benchmarks, side by side in one run:
#  1. the licensing core and client hot paths (go test -bench);
#  2. the machine API served by the real app and driven by wrk in its own
#     process (cmd/benchvalidate): a one-SELECT baseline, /healthz, validate,
#     the production heartbeat mix, seat acquisition, and usage reports at
#     batch sizes 1, 10 and 100 beside a raw INSERT of the same rows, as one
#     table of requests/s, p50, p99, allocations and ratios.
#  3. what the licensing policies cost a validation (BenchmarkValidatePolicies);
#  4. distribution: artifact download throughput (license key, redirect,
#     signed link, filesystem store) beside cat of the same file, and
#     registry token issue latency; what the outbox costs; webhook delivery throughput
#     and what a subscribed endpoint costs the write path.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "bench: wrk is required (apt-get install wrk)" >&2; exit 1; }
go test -run '^$' -bench . -benchmem ./licensing/...
# What the outbox (domain events and their fan-out jobs) costs license actions and usage reports.
go test -run '^$' -bench Outbox -benchtime 2000x ./db/
# Outbound webhooks: what a subscribed endpoint costs a license action and a new deployment's seat (0, 1, 3 endpoints side by side),
# and events per second delivered to a receiver on loopback by 16 concurrent workers.
go test -run '^$' -bench 'WebhookWritePath|SeatWritePath' -benchtime 2000x ./db/
go test -run '^$' -bench WebhookDelivery -benchtime "${BENCH_WEBHOOKS:-2000x}" ./jobs/
go test -run '^$' -bench 'DownloadByKey|CatFloor' -benchtime "${BENCH_DOWNLOADS:-10x}" ./handlers/
go test -run '^$' -bench 'RegistryToken' -benchtime "${BENCH_TOKENS:-2000x}" ./handlers/
# What the licensing policies cost a validation: interleaved rounds, compared per policy (benchstat when installed).
go test -run '^$' -bench ValidatePolicies -benchtime "${BENCH_POLICY_ROUNDS:-60}x" ./handlers/ | tee "${TMPDIR:-/tmp}/nls-policies.txt"
if command -v benchstat >/dev/null; then benchstat -col /policy "${TMPDIR:-/tmp}/nls-policies.txt"; fi
go build -o "${TMPDIR:-/tmp}/nls-benchvalidate" ./cmd/benchvalidate
"${TMPDIR:-/tmp}/nls-benchvalidate" -licenses "${BENCH_LICENSES:-10000}" -connections "${BENCH_CONNECTIONS:-64}" \
    -duration "${BENCH_DURATION:-9s}" -threads "${BENCH_WRK_THREADS:-1}" -wrk-nice "${BENCH_WRK_NICE:-0}"
