# The Apache Kafka Java client (kafka-clients, newest 4.x from Maven Central).
# Sourced by run.sh; see lib/common.sh for run_scenario and record.

JAVA_DIR=$COMPAT_DIR/clients/java

java_setup() {
	ensure_apt openjdk-17-jdk-headless maven || return 1
	mvn_copy_deps "$JAVA_DIR" || return 1
	local src=$JAVA_DIR/src/main/java/samsa/compat/CompatClient.java classes=$JAVA_DIR/target/classes
	if [ ! -f "$classes/samsa/compat/CompatClient.class" ] || [ "$src" -nt "$classes/samsa/compat/CompatClient.class" ]; then
		rm -rf "$classes" && mkdir -p "$classes"
		javac -d "$classes" -cp "$JAVA_DIR/target/lib/*" "$src" >&2 || return 1
	fi
	record_version "java kafka-clients" "$(ls "$JAVA_DIR"/target/lib/kafka-clients-*.jar | sed 's/.*kafka-clients-\(.*\)\.jar/\1/') (JDK $(java -version 2>&1 | head -1 | cut -d'"' -f2))"
}

java_run() {
	java -cp "$JAVA_DIR/target/classes:$JAVA_DIR/target/lib/*" \
		-Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
		samsa.compat.CompatClient "$@"
}

java_scenarios() {
	local codec
	for codec in none gzip snappy lz4 zstd; do
		run_scenario java "roundtrip-$codec" -- java_run roundtrip "$codec"
	done
	run_scenario java assign-no-fetch-sessions -- java_run assign-no-fetch-sessions
	run_scenario java consumer-group-autocommit -- java_run group-autocommit
	run_scenario java consumer-group-manual-commit -- java_run group-manual-commit
	run_scenario java admin-topics -- java_run admin-topics
	run_scenario java admin-cluster-configs -- java_run admin-cluster
	run_scenario java admin-groups -- java_run admin-groups
	run_scenario java list-offsets -- java_run list-offsets
	run_scenario java offsets-reset -- java_run offsets-reset
	run_scenario java transactions -- java_run transactions
	run_scenario java transactions-fencing -- java_run transactions-fencing
	run_scenario java streams-eos -- java_run streams-eos
	java_streams_eos_kill9
	run_scenario java cross-write -- java_run cross-write
}

# Kafka Streams exactly_once_v2 with the broker killed -9 mid-run: the Java
# program prints KILL-NOW once a quarter of the counts are visible; this
# function (run in run.sh's shell, not through run_scenario, since it
# restarts Samsa) kills and restarts Samsa and records the outcome.
java_streams_eos_kill9() {
	local scenario=streams-eos-kill9 out=$LOG_DIR/java/streams-eos-kill9.log start pid i rc
	mkdir -p "$LOG_DIR/java"
	ensure_samsa
	start=$(date +%s%N)
	setsid bash -c 'java_run streams-eos-kill9' >"$out" 2>&1 </dev/null &
	pid=$!
	for i in $(seq 1 900); do
		grep -q '^KILL-NOW' "$out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q '^KILL-NOW' "$out"; then
		kill9_restart_samsa || { record java "$scenario" FAIL "$(elapsed "$start" "$(date +%s%N)")" "Samsa did not come back after kill -9"; kill -- -"$pid" 2>/dev/null; return 0; }
	fi
	for i in $(seq 1 1500); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -- -"$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	if [ $rc -eq 0 ] && grep -q '^KILL-NOW' "$out"; then
		record java "$scenario" PASS "$(elapsed "$start" "$(date +%s%N)")" "$(grep -a -E '^NOTE: ' "$out" | sed 's/^NOTE: //' | tr '\n' ' ')"
	else
		record java "$scenario" FAIL "$(elapsed "$start" "$(date +%s%N)")" "$(grep -q '^KILL-NOW' "$out" || echo 'never reached KILL-NOW: ')$(failure_reason "$out")"
	fi
}

java_cross_read() {
	run_scenario java "cross-read-from-$1" -- java_run cross-read "$1"
}
