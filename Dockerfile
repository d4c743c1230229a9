# syntax=docker/dockerfile:1
# mlrun's container image: a static binary on distroless/static (CA
# certificates, /etc/passwd with the nonroot user, no shell), run as
# nonroot. Reproducible: -trimpath, no VCS stamp, no build id, and the
# build stage's file times do not reach the final layer (COPY --chmod, and
# SOURCE_DATE_EPOCH for BuildKit's rewrite-timestamp):
#
#   docker buildx build --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) \
#     --output type=oci,dest=mlrun.tar,rewrite-timestamp=true -t mlrun:dev .
#
# CI builds the same image without a daemon or a base image to pull:
# `make image` (cmd/mlrun-image, go-containerregistry) writes it as an OCI
# layout and `make image-test` checks it. Pin both bases by digest in a
# release pipeline.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false -ldflags='-s -w -buildid=' -o /out/mlrun ./cmd/mlrun

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build --chmod=0755 /out/mlrun /mlrun
USER 65532:65532
WORKDIR /
ENTRYPOINT ["/mlrun"]
