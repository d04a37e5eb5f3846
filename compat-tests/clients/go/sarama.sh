# IBM/sarama (Go module proxy; version pinned in clients/go/go.mod, a module
# of its own so the main module's dependencies stay untouched). Sourced by run.sh.

GO_DIR=$COMPAT_DIR/clients/go

sarama_setup() {
	command -v go >/dev/null || return 1
	(cd "$GO_DIR" && go build -o bin/sarama-compat ./sarama) >&2 || return 1
	record_version "sarama" "$(cd "$GO_DIR" && go list -m -f '{{.Version}}' github.com/IBM/sarama) (protocol version V4_0_0_0)"
}

sarama_run() { "$GO_DIR/bin/sarama-compat" "$@"; }

sarama_scenarios() {
	local codec
	for codec in none gzip snappy lz4 zstd; do
		run_scenario sarama "roundtrip-$codec" -- sarama_run roundtrip "$codec"
	done
	run_scenario sarama admin-topics -- sarama_run admin-topics
	run_scenario sarama list-offsets -- sarama_run list-offsets
	run_scenario sarama consumer-group-autocommit -- sarama_run group-autocommit
	run_scenario sarama consumer-group-manual-commit -- sarama_run group-manual-commit
	run_scenario sarama admin-groups -- sarama_run admin-groups
	run_scenario sarama offsets-reset -- sarama_run offsets-reset
	run_scenario sarama cross-write -- sarama_run cross-write
}

sarama_cross_read() {
	run_scenario sarama "cross-read-from-$1" -- sarama_run cross-read "$1"
}
