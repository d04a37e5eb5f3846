#!/usr/bin/env bash
# Kafka's bin/kafka-leader-election.sh, unchanged main class: org.apache.kafka.tools.LeaderElectionCommand
exec "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/kafka-run-class.sh" org.apache.kafka.tools.LeaderElectionCommand "$@"
