#!/usr/bin/env bash
# Kafka's bin/kafka-acls.sh, unchanged main class: org.apache.kafka.tools.AclCommand
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka-run-class.sh" org.apache.kafka.tools.AclCommand "$@"
