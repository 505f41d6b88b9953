#!/usr/bin/env bash
# Checks the deployment artifacts (deploy/): installs the pinned tools (ko,
# helm, goreleaser) into bin/ when missing, rebuilds the container image and
# the release snapshot from the current tree, and runs the deploy module's tests. scripts/test.sh
# calls it after the main suite, with TEST_DATABASE_URL set. A tool that cannot
# be installed makes its tests fail under CI (and skip elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
for tool in ko helm goreleaser; do
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

# The release snapshot (goreleaser: six cross-compiled binaries, archives and
# checksums in dist/) builds in the background while the deploy module
# compiles and runs its other tests; its linux builds reuse the packages ko
# has just compiled (same flags, same build cache). TestReleaseSnapshot then
# checks what it built (NLS_RELEASE_BUILT); without goreleaser it fails
# under CI.
goreleaser=$(realpath bin/goreleaser 2>/dev/null || command -v goreleaser || true)
rel_pid="" rel_log=$(mktemp)
if [ -n "$goreleaser" ]; then
  (
    rel_start=$(date +%s)
    "$goreleaser" release --snapshot --clean >"$rel_log" 2>&1 && rc=0 || rc=$?
    echo "goreleaser release --snapshot --clean took $(($(date +%s) - rel_start))s (exit $rc)" >&2
    exit "$rc"
  ) &
  rel_pid=$!
fi
status=0
(cd deploy && go vet ./... && go test -count=1 -timeout 25m -skip 'TestReleaseSnapshot' "$@" ./...) || status=$?
built=""
if [ -n "$rel_pid" ]; then
  if wait "$rel_pid"; then built=1; else cat "$rel_log" >&2; status=1; fi
fi
rm -f "$rel_log"
if [ -z "$rel_pid" ] || [ -n "$built" ]; then
  (cd deploy && NLS_RELEASE_BUILT=$built go test -count=1 -timeout 25m -run 'TestReleaseSnapshot' "$@" ./) || status=1
fi
echo "deployment checks took $(($(date +%s) - start))s" >&2
exit "$status"
