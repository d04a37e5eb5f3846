#!/usr/bin/env bash
# Kafka's bin/kafka-console-producer.sh, unchanged main class: org.apache.kafka.tools.ConsoleProducer
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka-run-class.sh" org.apache.kafka.tools.ConsoleProducer "$@"
