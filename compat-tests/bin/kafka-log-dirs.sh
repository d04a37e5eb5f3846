#!/usr/bin/env bash
# Kafka's bin/kafka-log-dirs.sh, unchanged main class: org.apache.kafka.tools.LogDirsCommand
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka-run-class.sh" org.apache.kafka.tools.LogDirsCommand "$@"
