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
	run_scenario java cross-write -- java_run cross-write
}

java_cross_read() {
	run_scenario java "cross-read-from-$1" -- java_run cross-read "$1"
}
