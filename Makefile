# mlrun — run `make help` for the targets.
GO        ?= go
BIN       := bin/mlrun
RACE_PKGS := ./pipeline/exec/... ./pipeline/lineage/... ./pipeline/registry/... ./internal/alert/... ./internal/outpath/... ./steps/table/... ./steps/exprenv/... ./steps/model/... ./steps/tree/... ./steps/monitor/... ./internal/runquery/... ./internal/ui/...
RACE_PKGS += ./internal/serve/... ./internal/argo/argotest/...
# versitygw: a real S3 server the S3 store's tests run against on 127.0.0.1
VERSITYGW_VERSION := v1.8.0
VERSITYGW := $(CURDIR)/bin/versitygw
export VERSITYGW
export PATH := $(PATH):/usr/local/go/bin

.PHONY: help build demo test vet fmt-check cross race fuzz fuzz-list soak bench bench-deps schema clean image image-test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/mlrun and bin/mlrun-synth
	$(GO) build -o $(BIN) ./cmd/mlrun
	$(GO) build -o bin/mlrun-synth ./cmd/mlrun-synth

demo: build ## build, then run the example pipeline on the bundled sample data (twice is all cached)
	./$(BIN) validate examples/pipelines/credit-risk.yaml
	./$(BIN) run examples/pipelines/credit-risk.yaml
	./$(BIN) report latest --out report.html

test: fmt-check vet $(VERSITYGW) ## gofmt, go vet, all tests, and the race detector on the concurrent packages
	$(GO) test -count=1 ./...
	$(GO) test -count=1 -race $(RACE_PKGS)

$(VERSITYGW): ## build versitygw (the S3 server of the tests) into bin/
	GOFLAGS= GOBIN=$(CURDIR)/bin $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)

vet: ## go vet
	$(GO) vet ./...

cross: ## build and vet everything (tests too) for Windows and macOS
	GOOS=windows $(GO) build ./...
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) build ./...
	GOOS=darwin $(GO) vet ./...

fmt-check: ## fail when a file is not gofmt'ed
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every (package, fuzz target) pair, one per line: two packages may each
# have a target of the same name (FuzzDecode, FuzzCompile), and both run.
FUZZ_TARGETS = grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . | sed 's|/[^/]*_test\.go:func | |' | sort -u

fuzz: ## run every fuzz target of every package for FUZZTIME each (default 20s)
	@$(FUZZ_TARGETS) | while read -r pkg target; do \
	  echo "== $$pkg $$target"; \
	  $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $${FUZZTIME:-20s} $$pkg || exit 1; \
	done

fuzz-list: ## list the package and fuzz target pairs make fuzz runs
	@$(FUZZ_TARGETS)

soak: ## kill -9 soak of run and predict: SOAK_TRIALS trials (default 300), SOAK_SEED repeats one
	MLRUN_SOAK=1 $(GO) test -count=1 -timeout 3h -run '^TestSoak$$' -v ./cmd/mlrun

bench-deps: ## install the Python baselines (Debian packages) and hyperfine
	@if ! /usr/bin/python3 -c 'import pandas, sklearn, scipy, xgboost, flask' 2>/dev/null || ! command -v hyperfine >/dev/null || ! command -v gunicorn >/dev/null; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-pandas python3-sklearn python3-scipy python3-xgboost hyperfine python3-flask gunicorn; fi

bench: build bench-deps ## side-by-side benchmarks against pandas/scikit-learn (see BENCHMARKS.md)
	bash bench/run.sh

# The container image, assembled without a daemon (cmd/mlrun-image,
# go-containerregistry) from the static binary: an OCI layout in bin/image
# and a docker/podman-loadable bin/mlrun-image.tar. The Dockerfile builds
# the same image with a container builder.
IMAGE_TAG ?= mlrun:dev
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
image: ## build the container image (OCI layout bin/image, tarball bin/mlrun-image.tar)
	CGO_ENABLED=0 GOOS=linux GOFLAGS= $(GO) build -trimpath -buildvcs=false -ldflags='-s -w -buildid=' -o bin/linux/mlrun ./cmd/mlrun
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./cmd/mlrun-image -binary bin/linux/mlrun -out bin/image -tar bin/mlrun-image.tar -tag $(IMAGE_TAG)

image-test: image ## build the image, check its layout and config, run mlrun version from its layer
	MLRUN_IMAGE=$(CURDIR)/bin/image MLRUN_REQUIRE_IMAGE=1 $(GO) test -count=1 -run '^TestImageSmoke$$' -v ./internal/image/

schema: ## regenerate schemas/pipeline.schema.json from the registered step kinds
	$(GO) run ./cmd/mlrun schema > schemas/pipeline.schema.json

clean: ## remove build output and the demo store
	rm -rf bin .mlrun report.html
