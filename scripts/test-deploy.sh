#!/usr/bin/env bash
# Checks the deployment artifacts (deploy/): installs the pinned tools (ko,
# helm, goreleaser, promtool) into bin/ when missing, rebuilds the container
# image from the current tree, and runs the deploy module's tests. scripts/test.sh
# calls it after the main suite, with TEST_DATABASE_URL set. A tool that cannot
# be installed makes its tests fail under CI (and skip elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
for tool in ko helm goreleaser promtool; do
  if [ ! -x "bin/$tool" ] && ! command -v "$tool" >/dev/null 2>&1; then
    echo "installing $tool into bin/ (a one-off build from the Go module proxy)" >&2
    make -s "$PWD/bin/$tool" >&2 || echo "warning: could not install $tool; its tests will fail under CI" >&2
  fi
done

# The image test checks the image of this tree: rebuild it (Go's build cache
# makes this quick after the first time).
ko=$(realpath bin/ko 2>/dev/null || command -v ko || true)
if [ -n "$ko" ]; then
  make -s image KO="$ko" >&2 || { echo "warning: make image failed" >&2; rm -rf build/oci; }
fi

(cd deploy && go vet ./... && go test -count=1 -timeout 25m "$@" ./...)
echo "deployment checks took $(($(date +%s) - start))s" >&2
