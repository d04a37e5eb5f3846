#!/usr/bin/env bash
# Kafka's bin/kafka-consumer-perf-test.sh, unchanged main class: org.apache.kafka.tools.ConsumerPerformance
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka-run-class.sh" org.apache.kafka.tools.ConsumerPerformance "$@"
