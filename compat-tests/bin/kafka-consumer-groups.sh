#!/usr/bin/env bash
# Kafka's bin/kafka-consumer-groups.sh, unchanged main class: org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka-run-class.sh" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@"
