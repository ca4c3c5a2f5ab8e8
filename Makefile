# Sanzi: one binary, every role. `make demo` runs it, `make test` tests it.
SHELL := /bin/bash
export PATH := $(CURDIR)/bin/tools:/usr/local/go/bin:$(PATH)

# Pinned tool versions (shared/TOOLCHAIN.md).
BUF_VERSION                 := v1.75.0
PROTOC_GEN_GO_VERSION       := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION  := v1.6.0
GRPC_GATEWAY_VERSION        := v2.33.0

TOOLS := bin/tools/buf bin/tools/protoc-gen-go bin/tools/protoc-gen-go-grpc \
         bin/tools/protoc-gen-grpc-gateway bin/tools/protoc-gen-openapiv2

# -p 1: the cluster and fault tests measure elections and time-outs; packages
# running beside them on 2 cores would starve their heartbeats.
GO_TEST_FLAGS ?= -count=1 -timeout 20m -p 1
# Fuzz budgets are execution counts, not durations: a duration races Go
# 1.26's fuzz coordinator at its deadline and fails with a bare "context
# deadline exceeded" on a loaded machine (golang/go#75804, fixed in 1.27).
FUZZ_EXECS      ?= 100000x
FUZZ_EXECS_SLOW ?= 40000x

.PHONY: clickhouse chromium web-assets all setup tools build test unit race fuzz bench demo proto verify clean help

all: build

help:
	@echo "make setup   install what a fresh machine lacks (pinned Go tools, chromium, the console's npm assets)"
	@echo "make demo    build and run a whole district (3 members, 3 towns, 24 villages with a seeded year; bin/sanzi demo --help)"
	@echo "make test    every test, then a short fuzz run of each fuzz target"
	@echo "make race    the race detector over every package but cmd/sanzi, one package at a time"
	@echo "make bench   ledger throughput and latency with fsync on"
	@echo "make verify  gofmt, go vet, go mod tidy, regenerate protos: fail on any diff"

setup: tools clickhouse chromium web-assets
	go mod download

# Debian's clickhouse-server (18.16) for the analytics tests and the demo;
# nothing starts it here: analytics/chserver runs a private one per use.
clickhouse: /usr/sbin/clickhouse-server
/usr/sbin/clickhouse-server:
	@command -v apt-get >/dev/null || { echo "need apt-get to install clickhouse-server"; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client

# Debian's Chromium for the console's browser tests (cmd/sanzi
# console_e2e_test.go), with a CJK font for its screenshots; no test ever
# downloads a browser.
chromium: /usr/bin/chromium
/usr/bin/chromium:
	@command -v apt-get >/dev/null || { echo "need apt-get to install chromium"; exit 1; }
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei

# The console's browser assets at the versions web/package-lock.json pins,
# copied into web/vendor (gitignored), which go build embeds: ECharts for the
# charts, axe-core for the browser tests (never served). Node is needed here
# only, never at run time.
web-assets:
	@command -v npm >/dev/null || { \
		command -v apt-get >/dev/null || { echo "need npm (or apt-get to install it)"; exit 1; }; \
		$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	cd web && npm ci --no-audit --no-fund
	cp web/node_modules/echarts/dist/echarts.min.js web/node_modules/axe-core/axe.min.js web/vendor/

tools: $(TOOLS)

bin/tools/buf:
	GOBIN=$(CURDIR)/bin/tools go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
bin/tools/protoc-gen-go:
	GOBIN=$(CURDIR)/bin/tools go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
bin/tools/protoc-gen-go-grpc:
	GOBIN=$(CURDIR)/bin/tools go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
bin/tools/protoc-gen-grpc-gateway:
	GOBIN=$(CURDIR)/bin/tools go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
bin/tools/protoc-gen-openapiv2:
	GOBIN=$(CURDIR)/bin/tools go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)

build:
	go build -o bin/sanzi ./cmd/sanzi

demo: build clickhouse
	bin/sanzi demo

test: build unit fuzz

unit:
	go test $(GO_TEST_FLAGS) ./...

# The race detector, one package at a time (about 10 minutes on 2 cores).
# Not part of `make test` (CI's time budget); cmd/sanzi is left out, its
# e2e tests under -race take too long. A race in a node is a way to crash it.
race:
	go test -race $(GO_TEST_FLAGS) $$(go list ./analytics/... ./node/... ./federation/... ./web/...)

# Each fuzz target runs briefly; a crash fails the build and leaves its input
# under testdata/fuzz for a regression test.
fuzz:
	go test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZ_EXECS) ./node/ledger
	go test -run='^$$' -fuzz='^FuzzVerifyChain$$' -fuzztime=$(FUZZ_EXECS_SLOW) ./node/ledger
	go test -run='^$$' -fuzz='^FuzzResidentID$$' -fuzztime=$(FUZZ_EXECS) ./node/idcode
	go test -run='^$$' -fuzz='^FuzzCreditCode$$' -fuzztime=$(FUZZ_EXECS) ./node/idcode
	# The REST surface of a real node, every POST route (about 30 s on 2 cores).
	go test -run='^$$' -fuzz='^FuzzREST$$' -fuzztime=$(FUZZ_EXECS) ./node/server

bench:
	go test -run='^$$' -bench='^BenchmarkRecord$$' -benchtime=5000x -count=3 ./node/books
	go test -run='^$$' -bench='^BenchmarkRecord$$' -benchtime=3000x -count=3 ./node/server
	go test -run='^$$' -bench='^BenchmarkFullRuleSet$$' -benchtime=20000x -count=5 ./node/watch
	# Issue 17: a node's start-up at 100k and 1M entries, before (replay from seq 1) and after (checkpoints),
	# medians of three in one run; the first page of each list at 1M; the accountant's list (issue 14) through
	# the node's HTTP server at 100k. The sample villages are recorded once into $$SANZI_BENCH_DATA (default
	# $$TMPDIR/sanzi-bench-data; a million entries take a few minutes) and reused.
	go test -run='^$$' -bench='^BenchmarkStartup$$' -benchtime=3x -timeout=60m ./node/server
	go test -run='^$$' -bench='^BenchmarkListFirstPage1M$$' -benchtime=200x -count=3 -timeout=60m ./node/books
	go test -run='^$$' -bench='^BenchmarkAccountantList$$' -benchtime=300x -count=3 -timeout=30m ./node/server
	# The accountant's list searched and filtered in a village of 100,000 transactions (issue 14).
	go test -run='^$$' -bench='^BenchmarkTransactionsSearch100k$$' -benchtime=200x -count=3 -timeout=30m ./node/books
	go test -run='^$$' -bench='^BenchmarkQueries10M$$' -benchtime=1x -timeout=30m ./analytics/stats
	# First render in Chromium: the cockpit over 10 million rows, the accountant's list over 100,000 entries (issue 14).
	go test -run='^$$' -bench='^(BenchmarkCockpitFirstRender10M|BenchmarkAccountantListFirstRender100k)$$' -benchtime=1x -count=3 -timeout=30m ./cmd/sanzi
	go test -run='^$$' -bench='^(BenchmarkLoaderVsClient|BenchmarkFreshness)$$' -benchtime=1x -count=3 -timeout=30m ./analytics/loader
	go test -run='^$$' -bench='^BenchmarkClusterPush$$' -benchtime=1x -count=5 ./federation/cluster
	go test -run='^$$' -bench='^BenchmarkApplyBatch$$' -benchtime=20x -count=3 ./federation/fsm
	# The public site (issue 15): a village page with ten years of monthly disclosures, cold and cached, and its size.
	go test -run='^$$' -bench='^BenchmarkVillagePage10Years$$' -benchtime=5x -count=3 ./federation/public
	# Sync village → town → district (issue 4): entries/s and bytes on the wire per entry, 3 runs.
	go test -run='^TestSyncTwoTownsSixVillages$$' -count=3 -v ./cmd/sanzi | grep -E 'clean link|6 villages|^(ok|FAIL)'

proto: tools
	cd proto && buf lint && buf generate --path sanzi/v1 && buf generate --template buf.gen.cluster.yaml --path sanzi/cluster

verify: tools
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^proto/gen/'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '^proto/gen/'); echo "gofmt: files above need formatting"; exit 1; }
	go vet ./...
	go mod tidy && git diff --exit-code go.mod go.sum
	$(MAKE) proto && git diff --exit-code proto/
	@echo verify: ok

clean:
	rm -rf bin .demo
