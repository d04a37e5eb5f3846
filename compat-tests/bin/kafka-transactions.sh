#!/usr/bin/env bash
# Kafka's bin/kafka-transactions.sh, unchanged main class: org.apache.kafka.tools.TransactionsCommand
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka-run-class.sh" org.apache.kafka.tools.TransactionsCommand "$@"
