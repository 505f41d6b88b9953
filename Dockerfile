# syntax=docker/dockerfile:1
# The portal's container image for those who build with Docker. It matches the
# image "make image" builds with ko (deploy/cmd/mkimage, .ko.yaml): a static
# binary on a distroless base, user 65532, port 8080, the same entrypoint and
# labels; deploy/image_test.go checks that they agree.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=$(git describe --tags --always) --build-arg REVISION=$(git rev-parse HEAD) -t nls .
ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -ldflags="-s -w" -o /out/portal ./cmd/portal

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="nls" \
      org.opencontainers.image.description="NLS license server" \
      org.opencontainers.image.source="https://github.com/nectarcloud/nls" \
      org.opencontainers.image.vendor="Nectar Cloud" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/portal /ko-app/portal
USER 65532:65532
WORKDIR /home/nonroot
EXPOSE 8080
# With no arguments the portal serves; "migrate", "keys" and the other commands run in the same image.
ENTRYPOINT ["/ko-app/portal"]
