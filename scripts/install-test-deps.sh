#!/usr/bin/env bash
# Installs the external clients the tests drive, from Debian's packages,
# when they are missing. Safe to run repeatedly; a no-op when all are there.
set -euo pipefail

need=()
if [ "${1:-}" = bench ]; then
  # make bench: Kafka from Maven jars (java, mvn) and iperf3 for the
  # machine's loopback limit.
  command -v iperf3 >/dev/null 2>&1 || need+=(iperf3)
  set -- java
fi
if [ "${1:-}" = java ]; then
  # The conformance suite runs Apache Kafka from Maven Central's jars.
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null 2>&1 || need+=(maven)
fi
command -v kcat >/dev/null 2>&1 || need+=(kcat)
# Headless Chromium for the web console's browser tests (package console).
[ -x /usr/bin/chromium ] || need+=(chromium)
# confluent-kafka-python (librdkafka) for the no-timestamp retention test;
# Debian's python, not a virtualenv's.
/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || need+=(python3-confluent-kafka)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing ${need[*]} and no apt-get to install them" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
echo "install-test-deps: installing ${need[*]}" >&2
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
