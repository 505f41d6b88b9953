# Deployment targets, included by the Makefile: the container image, the Helm
# chart's checks, release binaries, and the pinned tools they need (installed
# into bin/ from the Go module proxy).
KO          := $(BIN)/ko
HELM        := $(BIN)/helm
GORELEASER  := $(BIN)/goreleaser
KO_VERSION         := v0.19.1
HELM_VERSION       := v3.22.0
GORELEASER_VERSION := v2.15.1
CHART       := deploy/helm/nls

.PHONY: image chart-lint release-snapshot deploy-tools test-deploy test-deploy-all

$(KO):
	GOBIN=$(BIN) $(GO) install github.com/google/ko@$(KO_VERSION)

$(HELM):
	GOBIN=$(BIN) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

$(GORELEASER):
	GOBIN=$(BIN) $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)

deploy-tools: $(KO) $(HELM) $(GORELEASER)

# The portal's image for linux/amd64 and linux/arm64 as an OCI layout in
# build/oci, built by ko without a Docker engine (see deploy/cmd/mkimage).
image: $(KO)
	cd deploy && $(GO) run ./cmd/mkimage -root .. -ko $(KO) -out $(CURDIR)/build/oci

chart-lint: $(HELM)
	$(HELM) lint --strict $(CHART) -f $(CHART)/ci/test-values.yaml
	$(HELM) template nls $(CHART) -f $(CHART)/ci/test-values.yaml >/dev/null

# Release archives and checksums for every platform in dist/, without publishing.
release-snapshot: $(GORELEASER)
	$(GORELEASER) release --snapshot --clean

test-deploy:
	./scripts/test-deploy.sh

# The deploy module's tests with the tools installed first; the same as
# test-deploy (which make test runs), kept for those who call it.
test-deploy-all: $(KO) $(HELM) $(GORELEASER)
	./scripts/test-deploy.sh
