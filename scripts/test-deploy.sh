#!/usr/bin/env bash
# Checks the deployment artifacts (deploy/): installs the pinned tools (ko,
# helm) into bin/ when missing, rebuilds the container
# image from the current tree, and runs the deploy module's tests. scripts/test.sh
# calls it after the main suite, with TEST_DATABASE_URL set. A tool that cannot
# be installed makes its tests fail under CI (and skip elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
for tool in ko helm; do
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

# The release snapshot (goreleaser, six cross-compiled binaries) and the alert
# rules' promtool run are too heavy for every test run on two cores: they run
# with `make release-snapshot` and `make test-deploy-all`, not here.
(cd deploy && go vet ./... && go test -count=1 -timeout 25m -skip 'TestReleaseSnapshot|TestAlertRulesPassPromtool' "$@" ./...)
echo "deployment checks took $(($(date +%s) - start))s" >&2
