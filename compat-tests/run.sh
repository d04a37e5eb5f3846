#!/usr/bin/env bash
# Samsa compatibility suite: builds Samsa, starts it on a free loopback port
# with a fresh data dir, runs stock Kafka clients and the Apache Kafka
# command-line tools against it, and writes the client x scenario matrix to
# compat-tests/RESULTS.md (and prints it).
#
#   compat-tests/run.sh                      # everything
#   COMPAT_CLIENTS="java cli" compat-tests/run.sh   # some clients only
#   COMPAT_EXTERNAL_BOOTSTRAP=host:port COMPAT_RESULTS=/tmp/kafka.md compat-tests/run.sh
#                                            # check the suite against another broker (Apache Kafka)
#
# Exit status: 0 when every scenario passed or failed as listed in
# compat-tests/expected-failures.txt; 1 when a scenario failed that is not
# listed there, or a listed one passed ("unexpectedly passing"); 2 when the
# suite itself could not run.
set -uo pipefail

COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ALL_CLIENTS=(java cli kcat confluent-python kafka-python kafkajs sarama kafka-go franz-go cluster)
read -r -a CLIENTS <<<"${COMPAT_CLIENTS:-${ALL_CLIENTS[*]}}"

# Everything defined from here on is exported, so that run_scenario's child
# bash sees the clients' functions and variables.
set -a
# shellcheck source=lib/common.sh
. "$COMPAT_DIR/lib/common.sh"
for c in "${ALL_CLIENTS[@]}"; do
	# shellcheck disable=SC1090
	. "$COMPAT_DIR/$(client_file "$c")"
done
COMPAT_RUN_ID=$(date +%s)
set +a
export -f $(compgen -A function)

RUN_START=$(date +%s%N)
rm -rf "$WORK_DIR"
mkdir -p "$LOG_DIR"
: >"$RESULTS_TSV"
: >"$VERSIONS_TSV"
trap 'log "interrupted"; exit 130' INT TERM

for c in "${CLIENTS[@]}"; do
	printf '%s\n' "${ALL_CLIENTS[@]}" | grep -q -x -- "$c" || die "unknown client $c (known: ${ALL_CLIENTS[*]})"
done

# 1. Install and build each client (downloads are cached between runs). The
# suite itself needs Debian's python3 (ports, reports) and Go (Samsa).
ensure_apt python3 || die "cannot install python3"
command -v go >/dev/null || die "go is not installed"
declare -A READY
for c in "${CLIENTS[@]}"; do
	fn=$(client_fn "$c")
	log "setting up $c"
	start=$(date +%s%N)
	if "${fn}_setup" >"$LOG_DIR/setup-$c.log" 2>&1; then
		READY[$c]=1
	else
		record "$c" setup FAIL "$(elapsed "$start" "$(date +%s%N)")" "setup failed: $(grep -v '^\s*$' "$LOG_DIR/setup-$c.log" | tail -1) (see work/logs/setup-$c.log)"
	fi
	printf '%s\t%s\n' "$c" "$(elapsed "$start" "$(date +%s%N)")" >>"$WORK_DIR/setup-durations.tsv"
done
record_version "go" "$(go version | awk '{ print $3 }')"

# 2. Samsa. franz-go's suite gets a Samsa of its own and runs in the
# background while the other clients take turns on the main one.
build_samsa
record_version "samsa overrides" "${SAMSA_OVERRIDES:-none}"
FRANZ_BG=
if [ -n "${READY[franz-go]:-}" ]; then
	(
		trap 'exit 143' TERM
		trap 'stop_samsa' EXIT
		SAMSA_PID=
		CURRENT_CLIENT=franz-go
		SAMSA_SCRAM_LISTENER=1
		start_samsa samsa-franz-go
		start=$(date +%s%N)
		franz_go_scenarios
		printf '%s\t%s\n' franz-go "$(elapsed "$start" "$(date +%s%N)")" >>"$WORK_DIR/durations.tsv"
		check_samsa_log
	) >"$LOG_DIR/franz-go-run.log" 2>&1 &
	FRANZ_BG=$!
	log "franz-go's suite runs in the background (pid $FRANZ_BG, progress in work/logs/franz-go-run.log)"
fi
trap 'stop_samsa; [ -n "$FRANZ_BG" ] && kill "$FRANZ_BG" 2>/dev/null; wait' EXIT
start_samsa samsa
export BOOTSTRAP

# 3. Each client's scenarios, one client after the other; each writer also
# writes its cross-<client> topic.
for c in "${CLIENTS[@]}"; do
	[ "$c" = franz-go ] && continue
	[ -n "${READY[$c]:-}" ] || continue
	CURRENT_CLIENT=$c
	log "running $c against Samsa at $BOOTSTRAP"
	start=$(date +%s%N)
	"$(client_fn "$c")_scenarios"
	printf '%s\t%s\n' "$c" "$(elapsed "$start" "$(date +%s%N)")" >>"$WORK_DIR/durations.tsv"
done

# 4. Cross-client: every client reads what every other client wrote.
writers=()
for c in "${CLIENTS[@]}"; do
	[ -n "${READY[$c]:-}" ] && is_cross_client "$c" && writers+=("$c")
done
if [ ${#writers[@]} -gt 1 ]; then
	log "cross-client reads among: ${writers[*]}"
	for r in "${writers[@]}"; do
		CURRENT_CLIENT=$r
		start=$(date +%s%N)
		for w in "${writers[@]}"; do
			[ "$r" = "$w" ] && continue
			"$(client_fn "$r")_cross_read" "$w"
		done
		printf '%s\t%s\n' "$r" "$(elapsed "$start" "$(date +%s%N)")" >>"$WORK_DIR/durations.tsv"
	done
fi

# 5. Samsa itself: still up, and no panic in its log; then wait for franz-go.
check_samsa_log
stop_samsa
if [ -n "$FRANZ_BG" ]; then
	log "waiting for franz-go's suite"
	wait "$FRANZ_BG"
	FRANZ_BG=
	grep -E 'pass |fail |skip |franz-go' "$LOG_DIR/franz-go-run.log" | tail -3 >&2
fi

printf '%s\n' "$(elapsed "$RUN_START" "$(date +%s%N)")" >"$WORK_DIR/total-seconds"
"$DEBIAN_PYTHON" "$COMPAT_DIR/lib/report.py" \
	--results "$RESULTS_TSV" --versions "$VERSIONS_TSV" --work "$WORK_DIR" \
	--expected "$COMPAT_DIR/expected-failures.txt" --clients "${CLIENTS[*]}" \
	--out "${COMPAT_RESULTS:-$COMPAT_DIR/RESULTS.md}"
