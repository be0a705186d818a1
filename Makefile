# kiln build entry points. `make build` is the only set-up a fresh clone
# needs; `make test` is what CI runs (see .ci/run).
BUILD_DIR ?= build
GO        ?= go
VERSION   ?= 0.1.0
COMMIT    := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
LIBKILN   := $(abspath $(BUILD_DIR))/libkiln.so

.PHONY: all build serve lib kiln kiln-purego test test-deps test-c test-go test-purego bench bench-c cgo-sources clean

all: build

# The model `make serve` hosts: the built-in stories260K unless MODEL=... is given.
MODEL ?=

## serve: build bin/kiln and serve $(MODEL) (default: the built-in model) on :8000 (make serve MODEL=path ARGS="--port 9000")
serve: kiln
	bin/kiln serve $(if $(MODEL),--model $(MODEL)) $(ARGS)

## build: the C library, C tests and C benchmark (CMake), then bin/kiln (cgo) and bin/kiln-purego
build: lib kiln kiln-purego

lib:
	scripts/install-test-deps.sh cmake
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR) -j

kiln: cgo-sources
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/kiln .

# The purego binary dlopens libkiln.so from beside itself (or $$KILN_KERNELS_LIB).
kiln-purego: lib
	CGO_ENABLED=0 $(GO) build -tags purego -ldflags "$(LDFLAGS)" -o bin/kiln-purego .
	cp $(LIBKILN) bin/libkiln.so

## test: C tests (ctest), then Go tests with the cgo binding (-race) and with purego
test: test-deps test-c test-go test-purego

## test-deps: install what the build and the tests need and a fresh machine lacks (CMake, the Node SDK suites' packages, Chromium)
test-deps:
	scripts/install-test-deps.sh

test-c: lib
	ctest --test-dir $(BUILD_DIR) --output-on-failure

test-go: cgo-sources
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

test-purego: lib
	CGO_ENABLED=0 $(GO) vet -tags purego ./...
	CGO_ENABLED=0 KILN_KERNELS_LIB=$(LIBKILN) $(GO) test -tags purego -count=1 -timeout 30m ./...

## bench: kernels in isolation (C only), then through Go against the machine's ceilings
bench: build
	$(BUILD_DIR)/kiln-bench
	bin/kiln bench kernels

bench-c: lib
	$(BUILD_DIR)/kiln-bench

## cgo-sources: regenerate native/csrc_*.c after adding or removing a csrc file
cgo-sources:
	scripts/gen-cgo-sources.sh

clean:
	rm -rf $(BUILD_DIR) bin
