# Strata. `make demo` runs the whole flow on a throwaway local PostgreSQL;
# `make test` starts PostgreSQL, Azurite and versitygw (S3), runs every test, stops them.
SHELL := /bin/bash
GO ?= go
GOTEST_FLAGS ?= -count=1 -timeout 20m

.PHONY: all build demo test services-up services-down bench reliability vet clean

all: build

build:
	$(GO) build -o bin/strata ./cmd/strata

demo: build
	bin/strata demo

# Starts the services, runs all tests with their settings, and always stops
# the services, keeping the tests' exit status.
test: build
	@scripts/services.sh start
	@set -a; source .state/test.env; set +a; \
	  $(GO) vet ./... && $(GO) test $(GOTEST_FLAGS) ./... ; status=$$?; \
	  scripts/services.sh stop; exit $$status

services-up:
	scripts/services.sh start

services-down:
	scripts/services.sh stop

bench: build
	scripts/bench.sh

# The reliability scenarios (kill -9 at every step, random kills, concurrency,
# storage faults, corruption) with their figures table; services must be up.
reliability: build
	@scripts/services.sh start
	@set -a; source .state/test.env; set +a; \
	  STRATA_RELIABILITY_REPORT=.state/reliability.md $(GO) test -count=1 -timeout 10m -v ./internal/e2e/ > .state/reliability.log; status=$$?; \
	  scripts/services.sh stop; tail -3 .state/reliability.log; cat .state/reliability.md; exit $$status

vet:
	$(GO) vet ./...

clean:
	rm -rf bin .state/test
