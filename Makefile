# Samsa's build. `make test` is what CI runs (.ci/run); it installs what the
# tests need on a fresh machine by itself.

GO      ?= go
BIN     := bin/samsa
PKGS    := ./...
# Short fuzz runs as part of test; run `make fuzz FUZZTIME=5m` for longer.
FUZZTIME ?= 10s

.PHONY: all build run test unit volume compat conformance vet fmt-check fuzz bench deps clean cluster-figures interop

all: build

# The version and commit samsa --version prints, stamped at link time
# (go's own VCS stamping is off where GOFLAGS=-buildvcs=false and in git
# worktrees).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS = -X main.version=$(VERSION) -X main.commit=$(COMMIT)

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/samsa

# Single node on localhost:9092, data in ./samsa-data, with the HTTP
# listener (/healthz, /readyz) on localhost:9644; HTTP_LISTENERS= turns
# it off. ARGS may start with a server.properties path.
HTTP_LISTENERS ?= http://localhost:9644
run:
	$(GO) run -ldflags '$(LDFLAGS)' ./cmd/samsa $(ARGS) --override samsa.http.listeners=$(HTTP_LISTENERS)

# The cluster tests run Apache ZooKeeper from Maven Central's jars
# (internal/zktest), so java and mvn are needed here too.
deps:
	./scripts/install-test-deps.sh java
	./scripts/install-zookeeper.sh
	# The Kafka tools' jars (Maven Central), which some integration tests
	# run (kafka-topics against the ZooKeeper cluster), downloaded once.
	./compat-tests/bin/kafka-run-class.sh kafka.tools.StorageTool version >/dev/null

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Every package but interop, which `make interop` runs (it needs Kafka
# 3.9's jars and JVMs of its own).
UNIT_PKGS = $(shell $(GO) list $(PKGS) | grep -v '/interop$$')
unit:
	SAMSA_REQUIRE_TOOLS=1 $(GO) test -race -count=1 -timeout 15m $(UNIT_PKGS)

# Apache Kafka 3.9 brokers (Maven Central's jars, interop/pom.xml) and
# Samsa binaries in one ZooKeeper cluster: Kafka or Samsa as controller,
# replication both ways, replacing Kafka brokers one by one with Samsa
# brokers and back, checked with Kafka 3.9's own CLI tools (package
# interop).
interop:
	./scripts/install-test-deps.sh java
	./scripts/install-zookeeper.sh
	./scripts/install-kafka39.sh
	SAMSA_REQUIRE_TOOLS=1 $(GO) test -race -count=1 -timeout 10m ./interop

# 1,000,000 x 1 KiB records, acks=all, 8 partitions, without the race
# detector (it runs at a small scale under it in `unit`).
volume:
	SAMSA_FULL_SCALE=1 $(GO) test -count=1 -timeout 10m -run TestVolumeExactlyOnceInOrder ./integration

# Stock clients (Java, the Kafka CLI tools, kcat, confluent-kafka-python,
# kafka-python, kafkajs, sarama, kafka-go, franz-go's own suite) against the
# built binary; writes compat-tests/RESULTS.md. Installs what it needs.
compat:
	./compat-tests/run.sh

# Differential conformance suite: Apache Kafka (from the Maven jars the
# compatibility suite uses, downloaded on first use) and Samsa answer the
# same raw requests; writes conformance/REPORT.md.
conformance:
	./scripts/install-test-deps.sh java
	SAMSA_CONFORMANCE=1 $(GO) test -count=1 -timeout 10m ./conformance

fuzz:
	GO=$(GO) ./scripts/fuzz.sh ./protocol FuzzParseRequestHeader $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./protocol FuzzDecodeCost $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./protocol FuzzSpliceFetchResponse $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./broker FuzzDispatch $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./config FuzzParseProperties $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./config FuzzParseHTTPListeners $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./logstore FuzzParseBatchHeader $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./logstore FuzzScanBatches $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./logstore FuzzValidateRecords $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./coordinator FuzzReplayBatches $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./groups FuzzReplay $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./logstore FuzzRecompress $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./logstore FuzzCleanerRecords $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./logstore FuzzScanRecords $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./logstore FuzzParseTxnMarker $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./logstore FuzzControlWithHorizon $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./quota FuzzParseOverrides $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./controller FuzzDecodeQuota $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./txn FuzzReplay $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./console FuzzParseBrowse $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./internal/zkdata FuzzDecode $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./internal/zkdata FuzzDecodeSecurity $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./internal/kmsgfix FuzzRoundTrip $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./logstore FuzzParseLeaderEpochCheckpoint $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./logstore FuzzAppendReplica $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./replica FuzzParseHWCheckpoint $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./replica FuzzDecodeResponse $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./replica FuzzParseThrottledReplicas $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./security FuzzParseJAAS $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./security FuzzParsePlain $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./security FuzzPrincipalMappingRules $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./security FuzzSASLSession $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./security FuzzOAuthBearer $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./security FuzzScramClientFinal $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./security FuzzParseJWKS $(FUZZTIME)
	GO=$(GO) ./scripts/fuzz.sh ./security FuzzJWKSToken $(FUZZTIME)

test: deps fmt-check vet unit interop volume fuzz conformance compat

# Figures of a three-broker cluster on real ZooKeeper (ZooKeeper and three
# binaries on this machine): produce MiB/s with acks=all at replication
# factor 3 and 1, kill -9 of a leader to the first write its successor
# acknowledges, restart after kill -9 to back in every ISR. FIGURES_MB
# (default 128) MiB per produce run.
FIGURES_MB ?= 128
cluster-figures: deps
	SAMSA_CLUSTER_FIGURES=1 SAMSA_FIGURES_MB=$(FIGURES_MB) $(GO) test -count=1 -timeout 10m -v -run TestClusterFigures ./integration

# Samsa side by side with Apache Kafka on this machine (bench/main.go):
# every workload on both, alternating over rounds, writes bench/RESULTS.md
# and bench/ratios.png. Installs iperf3 and Kafka's jars when missing.
bench:
	./scripts/install-test-deps.sh bench
	$(GO) run ./bench

# Micro-benchmarks of the append and read paths and of recovery (Open of
# 2,500 partitions after kill -9 and after Close, repeated; see "Recovery"
# in logstore/doc.go for 10,000), then franz-go driving the built binary
# (1 KiB records; acks=1 and all; 1 and 8 partitions).
bench-micro:
	$(GO) test -run='^$$' -bench=. -benchmem ./logstore ./protocol
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=200000x ./integration

clean:
	rm -rf bin
