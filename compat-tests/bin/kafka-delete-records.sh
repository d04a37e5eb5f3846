#!/usr/bin/env bash
# Kafka's bin/kafka-delete-records.sh, unchanged main class: org.apache.kafka.tools.DeleteRecordsCommand
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka-run-class.sh" org.apache.kafka.tools.DeleteRecordsCommand "$@"
