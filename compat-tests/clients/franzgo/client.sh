# franz-go's own integration suite (pkg/kgo), at the version the main module
# uses, run against Samsa: KGO_SEEDS=<samsa> KGO_TEST_RF=1. Every top-level
# test becomes one scenario franz-go/<TestName>; its SCRAM tests get a
# SASL_PLAINTEXT listener (KGO_TEST_SCRAM_SEEDS) and a SCRAM user. run.sh runs it on a Samsa
# of its own, alongside the other clients. Sourced by run.sh.

FRANZ_DIR=$COMPAT_DIR/clients/franzgo
FRANZ_SRC=${FRANZ_SRC:-${XDG_CACHE_HOME:-$HOME/.cache}/samsa-compat}
# Records per ETL-style test (franz-go's default is 500000) and the time limit of the whole suite.
KGO_TEST_RECORDS=${KGO_TEST_RECORDS:-5000}
FRANZ_TIMEOUT=${FRANZ_TIMEOUT:-300}
# Tests that need a capability Samsa does not have yet and then wait out the
# suite's whole time limit run in a batch of their own with a short limit, so
# they still run (and turn green when the capability lands) without holding
# up the rest. A regular expression for go test -run / -skip.
FRANZ_SLOW_WHEN_MISSING=${FRANZ_SLOW_WHEN_MISSING:-'^TestTxnEtl$'}  # transactions
FRANZ_SLOW_TIMEOUT=${FRANZ_SLOW_TIMEOUT:-60}

franz_go_setup() {
	command -v go >/dev/null || return 1
	local ver dir
	ver=$(cd "$REPO_DIR" && go list -m -f '{{.Version}}' github.com/twmb/franz-go) || return 1
	dir=$(go mod download -json "github.com/twmb/franz-go@$ver" | "$DEBIAN_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') || return 1
	# The module cache is read-only: test from a writable copy.
	FRANZ_COPY=$FRANZ_SRC/franz-go@$ver
	if [ ! -f "$FRANZ_COPY/.copied" ]; then
		rm -rf "$FRANZ_COPY" && mkdir -p "$FRANZ_SRC"
		cp -r "$dir" "$FRANZ_COPY" && chmod -R u+w "$FRANZ_COPY" && touch "$FRANZ_COPY/.copied" || return 1
	fi
	(cd "$FRANZ_COPY/pkg/kgo" && go test -c -o "$FRANZ_COPY/kgo.test" .) >&2 || return 1
	record_version "franz-go" "$ver (its pkg/kgo tests, KGO_TEST_RF=1 KGO_TEST_RECORDS=$KGO_TEST_RECORDS; limit ${FRANZ_TIMEOUT}s, and ${FRANZ_SLOW_TIMEOUT}s for $FRANZ_SLOW_WHEN_MISSING)"
	export FRANZ_COPY
}

# franz_go_batch NAME LIMIT GO-TEST-FLAGS...: one run of the test binary, results recorded per test.
franz_go_batch() {
	local name=$1 limit=$2 out=$LOG_DIR/franz-go
	shift 2
	mkdir -p "$out"
	ensure_samsa
	log "  franz-go pkg/kgo suite, $name batch (up to ${limit}s)"
	# -test.timeout makes the binary panic and list the tests still running; the outer timeout is a backstop.
	(cd "$FRANZ_COPY/pkg/kgo" && KGO_SEEDS=$BOOTSTRAP KGO_TEST_RF=1 KGO_TEST_RECORDS=$KGO_TEST_RECORDS KGO_LOG_LEVEL=none \
		timeout --kill-after=10 $((limit + 30)) \
		go tool test2json -t -p kgo "$FRANZ_COPY/kgo.test" -test.v=test2json -test.count=1 -test.timeout "${limit}s" "$@" \
		>"$out/$name.jsonl" 2>"$out/$name.stderr")
	"$DEBIAN_PYTHON" "$FRANZ_DIR/record_tests.py" "$out/$name.jsonl" "$RESULTS_TSV" "$out"
}

franz_go_scenarios() {
	# Its SCRAM tests log in on Samsa's SASL_PLAINTEXT listener as a user
	# made with AlterUserScramCredentials.
	if [ -n "${SCRAM_BOOTSTRAP:-}" ] && (cd "$REPO_DIR" && go run ./compat-tests/clients/franzgo/scramuser "$BOOTSTRAP" kgo-scram kgo-scram-pw); then
		export KGO_TEST_SCRAM=kgo-scram:kgo-scram-pw:256 KGO_TEST_SCRAM_SEEDS=$SCRAM_BOOTSTRAP
	fi
	franz_go_batch main "$FRANZ_TIMEOUT" -test.skip "$FRANZ_SLOW_WHEN_MISSING"
	franz_go_batch slow "$FRANZ_SLOW_TIMEOUT" -test.run "$FRANZ_SLOW_WHEN_MISSING"
}
