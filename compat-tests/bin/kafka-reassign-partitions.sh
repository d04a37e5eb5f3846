#!/usr/bin/env bash
# Kafka's bin/kafka-reassign-partitions.sh, unchanged main class: org.apache.kafka.tools.reassign.ReassignPartitionsCommand
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka-run-class.sh" org.apache.kafka.tools.reassign.ReassignPartitionsCommand "$@"
