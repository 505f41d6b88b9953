// Package deploy holds the deployment artifacts' checks: the container image
// (built by cmd/mkimage with ko), the Dockerfile and compose.yaml, the Helm
// chart in helm/nls, the Prometheus rules in prometheus/, the Grafana
// dashboard in grafana/ and the goreleaser configuration. It is a module of
// its own so that the portal's go.mod does not carry Kubernetes and registry
// libraries; scripts/test-deploy.sh runs its tests.
package deploy
