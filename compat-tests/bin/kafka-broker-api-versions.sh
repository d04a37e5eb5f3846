#!/usr/bin/env bash
# Kafka's bin/kafka-broker-api-versions.sh, unchanged main class: org.apache.kafka.tools.BrokerApiVersionsCommand
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka-run-class.sh" org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
