#!/usr/bin/env bash
# Kafka's bin/kafka-configs.sh, unchanged main class: kafka.admin.ConfigCommand
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka-run-class.sh" kafka.admin.ConfigCommand "$@"
