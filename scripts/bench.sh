#!/usr/bin/env bash
# Benchmarks: the licensing core's Go benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench . -benchmem ./licensing/...
