# NLS: the license server. `make run` starts the portal, `make test` runs every test.
GO       ?= go
BIN      := $(CURDIR)/bin
SQLC     := $(BIN)/sqlc
TEMPL    := $(BIN)/templ
STRIPE_MOCK := $(BIN)/stripe-mock
SQLC_VERSION  := v1.31.1
TEMPL_VERSION := v0.3.1100
STRIPE_MOCK_VERSION := v0.203.0

.PHONY: run build test bench generate tools check fmt vet lint-generated

include deploy/deploy.mk

# make run also starts a registry (CNCF Distribution, built into bin/ when
# missing) that trusts the portal's tokens, for pushing and pulling images.
REGISTRY := $(BIN)/registry
REGISTRY_VERSION := v3.1.2

run:
	@[ -x $(REGISTRY) ] || { echo "building the registry into bin/ for make run" >&2; \
	  GOBIN=$(BIN) $(GO) install github.com/distribution/distribution/v3/cmd/registry@$(REGISTRY_VERSION) || \
	  echo "warning: could not build the registry; the portal starts without one" >&2; }
	NLS_DEV_REGISTRY="$$([ -x $(REGISTRY) ] && echo $(REGISTRY))" $(GO) run ./cmd/portal serve

build:
	$(GO) build -o $(BIN)/portal ./cmd/portal

test:
	./scripts/test.sh

bench:
	./scripts/bench.sh

$(SQLC):
	GOBIN=$(BIN) $(GO) install github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)

$(TEMPL):
	GOBIN=$(BIN) $(GO) install github.com/a-h/templ/cmd/templ@$(TEMPL_VERSION)

# The customer portal's billing tests run against stripe-mock.
$(STRIPE_MOCK):
	GOBIN=$(BIN) $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

tools: $(SQLC) $(TEMPL) $(STRIPE_MOCK) node_modules/.package-lock.json

# Regenerates everything that is committed: sqlc, templ, CSS and htmx.
generate: tools
	$(SQLC) generate
	$(TEMPL) generate -path web/templates
	npm run --silent css
	npm run --silent htmx

fmt:
	gofmt -l -w .

vet:
	$(GO) vet ./...

# CI: formatting, vet, and generated code up to date.
check: generate
	@test -z "$$(gofmt -l . | grep -v node_modules)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...
	@git diff --exit-code --stat -- db web || (echo "generated code is out of date: run make generate and commit"; exit 1)
	@test -z "$$(git status --porcelain -- db web)" || (echo "generate created untracked files:"; git status --porcelain -- db web; exit 1)
