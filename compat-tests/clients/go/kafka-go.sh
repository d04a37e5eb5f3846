# segmentio/kafka-go (Go module proxy; version pinned in clients/go/go.mod, a
# module of its own so the main module's dependencies stay untouched).
# Sourced by run.sh.

GO_DIR=$COMPAT_DIR/clients/go

kafka_go_setup() {
	command -v go >/dev/null || return 1
	(cd "$GO_DIR" && go build -o bin/kafka-go-compat ./kafkago) >&2 || return 1
	record_version "kafka-go" "$(cd "$GO_DIR" && go list -m -f '{{.Version}}' github.com/segmentio/kafka-go)"
}

kafka_go_run() { "$GO_DIR/bin/kafka-go-compat" "$@"; }

kafka_go_scenarios() {
	local codec
	for codec in none gzip snappy lz4 zstd; do
		run_scenario kafka-go "roundtrip-$codec" -- kafka_go_run roundtrip "$codec"
	done
	run_scenario kafka-go admin-topics -- kafka_go_run admin-topics
	run_scenario kafka-go list-offsets -- kafka_go_run list-offsets
	run_scenario kafka-go consumer-group-autocommit -- kafka_go_run group-autocommit
	run_scenario kafka-go consumer-group-manual-commit -- kafka_go_run group-manual-commit
	run_scenario kafka-go admin-groups -- kafka_go_run admin-groups
	run_scenario kafka-go offsets-reset -- kafka_go_run offsets-reset
	run_scenario kafka-go cross-write -- kafka_go_run cross-write
}

kafka_go_cross_read() {
	run_scenario kafka-go "cross-read-from-$1" -- kafka_go_run cross-read "$1"
}
