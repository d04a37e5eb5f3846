#!/usr/bin/env bash
# Kafka's bin/kafka-producer-perf-test.sh, unchanged main class: org.apache.kafka.tools.ProducerPerformance
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka-run-class.sh" org.apache.kafka.tools.ProducerPerformance "$@"
