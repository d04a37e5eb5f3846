#!/usr/bin/env bash
# Runs a main class of the Apache Kafka command-line tools, unchanged, from the
# official Maven Central artifacts (kafka-tools, kafka_2.13 and their runtime
# dependencies, listed in compat-tests/clients/tools/pom.xml), the way Kafka's
# own bin/kafka-run-class.sh does. The jars are downloaded on first use and
# cached in ~/.m2 and compat-tests/clients/tools/target/lib.
#
#   compat-tests/bin/kafka-run-class.sh org.apache.kafka.tools.TopicCommand --bootstrap-server ... --list
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
tools=$here/../clients/tools
if [ ! -f "$tools/target/lib/.pom.sha256" ] || [ "$(cat "$tools/target/lib/.pom.sha256")" != "$(sha256sum "$tools/pom.xml" | cut -d' ' -f1)" ]; then
	echo "kafka-run-class.sh: downloading the Kafka tools jars (once)" >&2
	rm -rf "$tools/target/lib"
	(cd "$tools" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=target/lib) >&2
	sha256sum "$tools/pom.xml" | cut -d' ' -f1 >"$tools/target/lib/.pom.sha256"
fi
[ $# -ge 1 ] || { echo "usage: $0 MAIN_CLASS [ARGS...]" >&2; exit 2; }
main=$1
shift
# As in Kafka: KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG4J_OPTS and KAFKA_OPTS may be set.
# The defaults favour a quick start on a small machine.
heap=${KAFKA_HEAP_OPTS:--Xmx512M}
perf=${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true}
log4j=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$here/tools-log4j2.properties}
# shellcheck disable=SC2086
exec java $heap $perf $log4j ${KAFKA_OPTS:-} -cp "$tools/target/lib/*" "$main" "$@"
