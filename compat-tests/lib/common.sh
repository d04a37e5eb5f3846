# Shared bash library of the Samsa compatibility suite: installing what a
# client needs, starting Samsa, running one scenario with a time limit and
# recording its outcome. Sourced by run.sh and by clients/*/client.sh.
#
# A scenario is one command. It passes when it exits 0. When it fails, the
# reason recorded is the last line of its output that starts with "FAIL:"
# (every client program prints one), else its last line of output.

COMPAT_DIR=${COMPAT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
REPO_DIR=${REPO_DIR:-$(cd "$COMPAT_DIR/.." && pwd)}
WORK_DIR=${WORK_DIR:-$COMPAT_DIR/work}    # logs, data dir, scratch; not committed
LOG_DIR=$WORK_DIR/logs
RESULTS_TSV=$WORK_DIR/results.tsv          # client, scenario, status, seconds, reason
VERSIONS_TSV=$WORK_DIR/versions.tsv        # component, version
DEBIAN_PYTHON=/usr/bin/python3             # Debian's python3 sees python3-* packages

# The default time limit of one scenario, seconds.
SCENARIO_TIMEOUT=${SCENARIO_TIMEOUT:-90}

log() { printf '[compat %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 2; }

# ---------------------------------------------------------------- clients
#
# A client NAME lives in the file client_file NAME; that file defines
# FN_setup (install, build, record_version), FN_scenarios (run_scenario
# calls) and, for the clients that take part in the cross-client reads,
# FN_cross_read WRITER, where FN is NAME with "-" turned into "_".

client_file() {
	case $1 in
	java) echo clients/java/client.sh ;;
	cli) echo clients/tools/client.sh ;;
	kcat) echo clients/kcat/client.sh ;;
	confluent-python) echo clients/python/confluent-python.sh ;;
	kafka-python) echo clients/python/kafka-python.sh ;;
	kafkajs) echo clients/node/client.sh ;;
	sarama) echo clients/go/sarama.sh ;;
	kafka-go) echo clients/go/kafka-go.sh ;;
	franz-go) echo clients/franzgo/client.sh ;;
	cluster) echo clients/cluster/client.sh ;;
	*) return 1 ;;
	esac
}
client_fn() { printf '%s' "${1//-/_}"; }
is_cross_client() { declare -F "$(client_fn "$1")_cross_read" >/dev/null; }

# ---------------------------------------------------------------- installs

_apt_updated=
# ensure_apt PACKAGE...: apt-get install the Debian packages that are missing.
ensure_apt() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing Debian packages: ${missing[*]}"
	local sudo=
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	if [ -z "$_apt_updated" ]; then
		$sudo apt-get update -qq >&2 || return 1
		_apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
}

# mvn_copy_deps DIR: download the dependencies of DIR/pom.xml (cached in
# ~/.m2) into DIR/target/lib, unless that was done for this very pom.xml.
mvn_copy_deps() {
	local dir=$1 stamp=$1/target/lib/.pom.sha256 sum
	sum=$(sha256sum "$dir/pom.xml" | cut -d' ' -f1)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then return 0; fi
	log "downloading Maven artifacts for $dir"
	rm -rf "$dir/target/lib"
	(cd "$dir" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory=target/lib) >&2 || return 1
	echo "$sum" >"$stamp"
}

# record_version COMPONENT VERSION
record_version() { printf '%s\t%s\n' "$1" "$2" >>"$VERSIONS_TSV"; }

# ---------------------------------------------------------------- Samsa

SAMSA_PID=
SAMSA_PORT=
BOOTSTRAP=${BOOTSTRAP:-}
SAMSA_LOG=

# free_port: a loopback port nobody listens on (the kernel's pick, via Python).
free_port() {
	"$DEBIAN_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

build_samsa() {
	log "building Samsa"
	(cd "$REPO_DIR" && go build -o bin/samsa ./cmd/samsa) >&2 || die "go build ./cmd/samsa failed"
	record_version "samsa" "$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$REPO_DIR" && git diff --quiet HEAD -- . ':!compat-tests' 2>/dev/null || echo '+local changes')"
}

# Broker settings of the run, besides the listener and the data dir. A new
# group's first rebalance waits group.initial.rebalance.delay.ms (3 s by
# default, in Kafka too); test setups of Kafka usually set it to 0, and so
# does this suite, to stay within its time budget.
SAMSA_OVERRIDES=${SAMSA_OVERRIDES:-group.initial.rebalance.delay.ms=0}

# start_samsa [NAME]: start bin/samsa on a free loopback port with a fresh data
# dir, logging to work/logs/NAME.log (default samsa), and wait until it accepts
# connections. Sets SAMSA_PID, SAMSA_PORT, BOOTSTRAP, SAMSA_LOG.
start_samsa() {
	if [ -n "${COMPAT_EXTERNAL_BOOTSTRAP:-}" ]; then
		# Checking the suite itself against another broker (say, Apache Kafka):
		# nothing to start; $$ (this script) stands in for the broker's process.
		BOOTSTRAP=$COMPAT_EXTERNAL_BOOTSTRAP SAMSA_PID=$$ SAMSA_LOG=/dev/null SAMSA_NAME=${1:-samsa}
		export BOOTSTRAP
		log "using the broker at $BOOTSTRAP (COMPAT_EXTERNAL_BOOTSTRAP), not Samsa"
		return 0
	fi
	local data attempt name=${1:-${SAMSA_NAME:-samsa}} o overrides=()
	SAMSA_NAME=$name
	data=$(mktemp -d "${TMPDIR:-/tmp}/samsa-compat-data.XXXXXX")
	SAMSA_DATA=$data
	for o in $SAMSA_OVERRIDES; do overrides+=(--override "$o"); done
	for attempt in 1 2 3; do
		SAMSA_PORT=$(free_port)
		BOOTSTRAP=127.0.0.1:$SAMSA_PORT
		SAMSA_LOG=$LOG_DIR/$name.log
		local listeners="PLAINTEXT://$BOOTSTRAP" sasl=()
		# SAMSA_SCRAM_LISTENER=1 adds a SASL_PLAINTEXT listener with SCRAM
		# (franz-go's KGO_TEST_SCRAM_SEEDS); SCRAM_BOOTSTRAP is its address.
		if [ -n "${SAMSA_SCRAM_LISTENER:-}" ]; then
			SCRAM_BOOTSTRAP=127.0.0.1:$(free_port)
			listeners="$listeners,SASL_PLAINTEXT://$SCRAM_BOOTSTRAP"
			sasl=(--override "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512")
			export SCRAM_BOOTSTRAP
		fi
		log "starting Samsa ($name) on $listeners, data in $data"
		"$REPO_DIR/bin/samsa" \
			--override "listeners=$listeners" \
			--override "log.dirs=$data" \
			"${sasl[@]}" \
			"${overrides[@]}" \
			>>"$SAMSA_LOG" 2>&1 &
		SAMSA_PID=$!
		local i
		for i in $(seq 1 100); do
			if ! kill -0 "$SAMSA_PID" 2>/dev/null; then break; fi
			if (exec 3<>"/dev/tcp/127.0.0.1/$SAMSA_PORT") 2>/dev/null; then
				export BOOTSTRAP SAMSA_PORT
				return 0
			fi
			sleep 0.1
		done
		kill "$SAMSA_PID" 2>/dev/null
		wait "$SAMSA_PID" 2>/dev/null
		log "Samsa did not come up (attempt $attempt); see $SAMSA_LOG"
	done
	die "Samsa would not start; last lines of its log:
$(tail -20 "$SAMSA_LOG")"
}

# ensure_samsa: if Samsa died (a crash is itself a finding), note it in the
# results and start a new one so the remaining clients still run.
SAMSA_CRASHES=0
ensure_samsa() {
	if [ -n "$SAMSA_PID" ] && kill -0 "$SAMSA_PID" 2>/dev/null; then return 0; fi
	SAMSA_CRASHES=$((SAMSA_CRASHES + 1))
	log "Samsa is not running any more (crash $SAMSA_CRASHES); restarting. Last log lines:"
	tail -20 "$SAMSA_LOG" >&2
	record samsa "crash-$SAMSA_CRASHES" FAIL 0 "Samsa ($SAMSA_NAME) exited during the run (before ${CURRENT_CLIENT:-?}): $(grep -m1 -E 'panic|fatal' "$SAMSA_LOG" | cut -c1-200)"
	start_samsa "$SAMSA_NAME"
}

# check_samsa_log: record samsa/<name>-alive-without-panic for the running Samsa.
check_samsa_log() {
	local what=${SAMSA_NAME:-samsa}-alive-without-panic
	if ! kill -0 "$SAMSA_PID" 2>/dev/null; then
		record samsa "$what" FAIL 0 "Samsa ($SAMSA_NAME) is not running at the end: $(tail -3 "$SAMSA_LOG" | tr '\n' ' ')"
	elif grep -q -E '^panic|goroutine [0-9]+ \[running\]' "$SAMSA_LOG"; then
		record samsa "$what" FAIL 0 "$(grep -m1 -E '^panic' "$SAMSA_LOG")"
	else
		record samsa "$what" PASS 0 ""
	fi
}

# kill9_restart_samsa: kill the running Samsa with SIGKILL and start it
# again on the same port and data dir (scenarios that check recovery from a
# crash; run in run.sh's own shell, so SAMSA_PID stays right).
kill9_restart_samsa() {
	[ -n "${COMPAT_EXTERNAL_BOOTSTRAP:-}" ] && return 0
	local o overrides=() i
	for o in $SAMSA_OVERRIDES; do overrides+=(--override "$o"); done
	kill -KILL "$SAMSA_PID" 2>/dev/null
	wait "$SAMSA_PID" 2>/dev/null
	log "killed Samsa ($SAMSA_NAME) with SIGKILL; restarting it on $BOOTSTRAP"
	"$REPO_DIR/bin/samsa" --override "listeners=PLAINTEXT://$BOOTSTRAP" --override "log.dirs=$SAMSA_DATA" "${overrides[@]}" >>"$SAMSA_LOG" 2>&1 &
	SAMSA_PID=$!
	for i in $(seq 1 200); do
		kill -0 "$SAMSA_PID" 2>/dev/null || return 1
		(exec 3<>"/dev/tcp/127.0.0.1/$SAMSA_PORT") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

stop_samsa() {
	[ -z "$SAMSA_PID" ] && return 0
	[ -n "${COMPAT_EXTERNAL_BOOTSTRAP:-}" ] && { SAMSA_PID=; return 0; }
	if kill -0 "$SAMSA_PID" 2>/dev/null; then
		kill -TERM "$SAMSA_PID" 2>/dev/null
		local i
		for i in $(seq 1 50); do kill -0 "$SAMSA_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SAMSA_PID" 2>/dev/null
	fi
	wait "$SAMSA_PID" 2>/dev/null
	SAMSA_PID=
	[ -n "${SAMSA_DATA:-}" ] && rm -rf "$SAMSA_DATA"
}

# cmdlog TEXT: note a command in the scenario's log (fd 3, see run_scenario).
cmdlog() { { printf '$ %s\n' "$*" >&3; } 2>/dev/null || true; }

# ---------------------------------------------------------------- results

# elapsed START_NS END_NS: seconds with one decimal
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

# record CLIENT SCENARIO STATUS SECONDS REASON
record() {
	local reason=${5//$'\t'/ }
	reason=${reason//$'\n'/ }
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${reason:0:400}" >>"$RESULTS_TSV"
	if [ "$3" = PASS ]; then
		log "  pass  $1/$2 (${4}s)"
	else
		log "  ${3,,}  $1/$2 (${4}s): ${reason:0:300}"
	fi
}

# failure_reason LOGFILE: the reason a failed scenario gives.
failure_reason() {
	local r
	r=$(grep -a -E '^FAIL: ' "$1" | tail -1 | sed 's/^FAIL: //')
	[ -z "$r" ] && r=$(grep -a -v -E '^\s*$' "$1" | tail -1)
	[ -z "$r" ] && r="no output"
	printf '%s' "$r"
}

# run_scenario CLIENT SCENARIO [--timeout SECONDS] -- COMMAND...
# Runs COMMAND with its output in work/logs/CLIENT/SCENARIO.log and records
# PASS (exit 0) or FAIL with the reason.
run_scenario() {
	local client=$1 scenario=$2 limit=$SCENARIO_TIMEOUT
	shift 2
	if [ "$1" = --timeout ]; then limit=$2; shift 2; fi
	[ "$1" = -- ] && shift
	mkdir -p "$LOG_DIR/$client"
	local out=$LOG_DIR/$client/$scenario.log start end rc secs
	ensure_samsa
	start=$(date +%s%N)
	# Its own process group, so a timeout ends the client's children too.
	# fd 3 also goes to the log: helpers write the commands they run there (echo ... >&3).
	timeout --kill-after=5 "$limit" setsid bash -c '"$@"' run_scenario "$@" >"$out" 2>&1 3>&1 </dev/null
	rc=$?
	end=$(date +%s%N)
	secs=$(elapsed "$start" "$end")
	if [ $rc -eq 0 ]; then
		# A passing scenario may leave observations: lines "NOTE: ...".
		record "$client" "$scenario" PASS "$secs" "$(grep -a -E '^NOTE: ' "$out" | sed 's/^NOTE: //' | tr '\n' ' ')"
	elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		local last
		last=$(failure_reason "$out")
		record "$client" "$scenario" FAIL "$secs" "timed out after ${limit}s; last output: $last"
	else
		record "$client" "$scenario" FAIL "$secs" "$(failure_reason "$out")"
	fi
	return 0
}

# ---------------------------------------------------------------- cross-client
#
# Every client that can write writes the same 10 records to topic
# cross-<client> (1 partition): key "key-<i>", value "<client> value <i>",
# header origin=<client>. Every other client then reads them back and checks
# keys, values, order and offsets 0..9 (and the header where it can see it).

CROSS_COUNT=10
cross_topic() { printf 'cross-%s' "$1"; }
