# The Apache Kafka command-line tools, unchanged (kafka-tools and kafka_2.13
# from Maven Central), run through compat-tests/bin/kafka-*.sh with the
# arguments a user types. Each scenario checks what the tool printed.
# Sourced by run.sh; see lib/common.sh for run_scenario and record.

TOOLS_DIR=$COMPAT_DIR/clients/tools
KBIN=$COMPAT_DIR/bin

cli_setup() {
	ensure_apt openjdk-17-jdk-headless maven || return 1
	mvn_copy_deps "$TOOLS_DIR" || return 1
	record_version "cli kafka-tools" "$(ls "$TOOLS_DIR"/target/lib/kafka-tools-[0-9]*.jar | sed 's/.*kafka-tools-\(.*\)\.jar/\1/') (kafka_2.13 $(ls "$TOOLS_DIR"/target/lib/kafka_2.13-*.jar | sed 's/.*kafka_2.13-\(.*\)\.jar/\1/'))"
}

# ---------------------------------------------------------------- helpers

fail() { echo "FAIL: $*"; return 1; }

# run_tool NAME ARGS...: run bin/NAME.sh (noting the command in the scenario log).
run_tool() {
	local name=$1
	shift
	cmdlog "$name.sh $*"
	"$KBIN/$name.sh" "$@"
}

# expect_contains TEXT PATTERN WHAT: grep -E PATTERN in TEXT.
expect_contains() {
	grep -q -E -- "$2" <<<"$1" || fail "$3: output has no line matching /$2/; output: $(head -c 600 <<<"$1" | tr '\n' '|')"
}

# console_lines N PREFIX: N lines "origin:cli,seq:<i>\tkey-<i>\tPREFIX <i>" for parse.headers/parse.key.
console_lines() {
	local i
	for ((i = 0; i < $1; i++)); do printf 'origin:cli,seq:%d\tkey-%d\t%s %d\n' "$i" "$i" "$2" "$i"; done
}

# ---------------------------------------------------------------- scenarios

cli_topics() {
	local t=cli-topics-$COMPAT_RUN_ID out
	out=$(run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" --partitions 3 --config retention.ms=3600000 2>&1) || fail "create: $out" || return 1
	expect_contains "$out" "^Created topic $t\.$" "create" || return 1
	out=$(run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" --partitions 3 2>&1) && fail "creating $t twice succeeded: $out" && return 1
	expect_contains "$out" "already exists" "create twice" || return 1
	out=$(run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --list 2>&1) || fail "list: $out" || return 1
	expect_contains "$out" "^$t$" "list" || return 1
	out=$(run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --describe --topic "$t" 2>&1) || fail "describe: $out" || return 1
	echo "$out"
	expect_contains "$out" "^Topic: $t[[:space:]]+TopicId: [A-Za-z0-9_-]{22}[[:space:]]+PartitionCount: 3[[:space:]]+ReplicationFactor: 1[[:space:]]+Configs: .*retention.ms=3600000" "describe header" || return 1
	local p
	for p in 0 1 2; do
		expect_contains "$out" "Topic: $t[[:space:]]+Partition: $p[[:space:]]+Leader: 0[[:space:]]+Replicas: 0[[:space:]]+Isr: 0" "describe partition $p" || return 1
	done
	out=$(run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --alter --topic "$t" --partitions 5 2>&1) || fail "alter --partitions 5: $out" || return 1
	out=$(run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --describe --topic "$t" 2>&1) || fail "describe: $out" || return 1
	expect_contains "$out" "PartitionCount: 5" "describe after --alter --partitions 5" || return 1
	expect_contains "$out" "Partition: 4[[:space:]]+Leader: 0" "describe partition 4" || return 1
	out=$(run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --delete --topic "$t" 2>&1) || fail "delete: $out" || return 1
	local i
	for i in $(seq 1 20); do
		out=$(run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --list 2>&1) || fail "list: $out" || return 1
		grep -q -x -- "$t" <<<"$out" || return 0
		sleep 0.5
	done
	fail "$t still listed after --delete"
}

# Console producer (keys, headers, a codec) and console consumer (assigned partition, from the beginning).
cli_console_roundtrip() {
	local codec=$1 t=cli-console-$1-$COMPAT_RUN_ID n=50 out want
	run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" --partitions 1 >/dev/null || fail "create $t" || return 1
	console_lines $n "$codec value" | run_tool kafka-console-producer --bootstrap-server "$BOOTSTRAP" --topic "$t" \
		--compression-codec "$codec" --reader-property parse.key=true --reader-property parse.headers=true || fail "console producer exited $?" || return 1
	out=$(run_tool kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic "$t" --partition 0 --offset earliest --max-messages $n \
		--timeout-ms 20000 --formatter-property print.key=true --formatter-property print.headers=true --formatter-property print.offset=true 2>/dev/null)
	want=$(for ((i = 0; i < n; i++)); do printf 'Offset:%d\torigin:cli,seq:%d\tkey-%d\t%s value %d\n' $i $i $i "$codec" $i; done)
	if [ "$out" != "$want" ]; then
		diff <(echo "$want") <(echo "$out") | head -20
		fail "console consumer printed $(wc -l <<<"$out") lines that differ from the $n produced (first difference: $(diff <(echo "$want") <(echo "$out") | grep -m1 '^[<>]' | tr '\t' ' '))"
		return 1
	fi
}

cli_configs() {
	local t=cli-configs-$COMPAT_RUN_ID out
	run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" --partitions 1 >/dev/null || fail "create $t" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --alter --entity-type topics --entity-name "$t" --add-config retention.ms=3600000,max.message.bytes=200000 2>&1) || fail "alter: $out" || return 1
	expect_contains "$out" "Completed updating config for topic $t" "alter" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --describe --entity-type topics --entity-name "$t" 2>&1) || fail "describe: $out" || return 1
	echo "$out"
	expect_contains "$out" "^Dynamic configs for topic $t are:" "describe" || return 1
	expect_contains "$out" "retention.ms=3600000 sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:retention.ms=3600000" "describe retention.ms" || return 1
	expect_contains "$out" "max.message.bytes=200000 sensitive=false" "describe max.message.bytes" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --alter --entity-type topics --entity-name "$t" --delete-config max.message.bytes 2>&1) || fail "delete-config: $out" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --describe --entity-type topics --entity-name "$t" 2>&1) || fail "describe: $out" || return 1
	grep -q "max.message.bytes=200000" <<<"$out" && fail "max.message.bytes still set after --delete-config: $out" && return 1
	expect_contains "$out" "retention.ms=3600000" "describe after --delete-config" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --describe --entity-type brokers --entity-name 0 --all 2>&1) || fail "describe broker: $out" || return 1
	echo "$out" | head -5
	expect_contains "$out" "^All configs for broker 0 are:" "describe broker --all" || return 1
	expect_contains "$out" "^  num.partitions=[0-9]+ sensitive=false" "describe broker num.partitions" || return 1
	expect_contains "$out" "^  log.dirs=" "describe broker log.dirs" || return 1
}

# cli_quotas: kafka-configs adding, describing and removing client quotas
# (users, clients, user+client, ips, defaults). The expected lines are
# what Kafka 4.3.1's kafka-configs prints for the same commands against a
# Kafka 4.3.1 broker (ConfigCommand: "Completed updating config for
# client <name>.", "Completed updating default config for clients in the
# cluster.", "Quota configs for client-id '<name>' are key=value" with the
# value a Java double). Describing users alone also asks for SCRAM
# credentials (DescribeUserScramCredentials), so users are described
# together with a client id here.
cli_quotas() {
	local c=cli-quota-$COMPAT_RUN_ID u=cli-user-$COMPAT_RUN_ID ip=10.77.0.1 out
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --alter --entity-type clients --entity-name "$c" --add-config producer_byte_rate=1048576,consumer_byte_rate=2097152 2>&1) || fail "alter client: $out" || return 1
	expect_contains "$out" "^Completed updating config for client $c\.$" "alter client" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --alter --entity-type users --entity-name "$u" --entity-type clients --entity-default --add-config request_percentage=12.5 2>&1) || fail "alter user+default client: $out" || return 1
	expect_contains "$out" "^Completed updating config for user $u\.$" "alter user+default client" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --alter --entity-type ips --entity-name "$ip" --add-config connection_creation_rate=100 2>&1) || fail "alter ip: $out" || return 1
	expect_contains "$out" "^Completed updating config for ip $ip\.$" "alter ip" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --alter --entity-type clients --entity-default --add-config producer_byte_rate=1000000000 2>&1) || fail "alter default client: $out" || return 1
	expect_contains "$out" "^Completed updating default config for clients in the cluster\.$" "alter default client" || return 1
	# Kafka's validation reaches the tool as an error.
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --alter --entity-type clients --entity-name "$c" --add-config producer_byte_rate=1.5 2>&1) && fail "fractional rate accepted: $out" && return 1
	expect_contains "$out" "InvalidRequestException: producer_byte_rate cannot be a fractional value\." "fractional rate" || return 1

	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --describe --entity-type clients --entity-name "$c" 2>&1) || fail "describe client: $out" || return 1
	echo "$out"
	expect_contains "$out" "^Quota configs for client-id '$c' are .*producer_byte_rate=1048576\.0" "describe client producer_byte_rate" || return 1
	expect_contains "$out" "^Quota configs for client-id '$c' are .*consumer_byte_rate=2097152\.0" "describe client consumer_byte_rate" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --describe --entity-type users --entity-name "$u" --entity-type clients --entity-default 2>&1) || fail "describe user+default client: $out" || return 1
	echo "$out"
	expect_contains "$out" "^Quota configs for user-principal '$u', the default client-id are request_percentage=12\.5$" "describe user+default client" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --describe --entity-type ips --entity-name "$ip" 2>&1) || fail "describe ip: $out" || return 1
	echo "$out"
	expect_contains "$out" "^Quota configs for ip '$ip' are connection_creation_rate=100\.0$" "describe ip" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --describe --entity-type clients --entity-default 2>&1) || fail "describe default client: $out" || return 1
	expect_contains "$out" "^Quota configs for the default client-id are producer_byte_rate=1\.0E9$" "describe default client" || return 1

	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --alter --entity-type clients --entity-name "$c" --delete-config producer_byte_rate 2>&1) || fail "delete-config: $out" || return 1
	expect_contains "$out" "^Completed updating config for client $c\.$" "delete-config" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --describe --entity-type clients --entity-name "$c" 2>&1) || fail "describe after delete: $out" || return 1
	expect_contains "$out" "^Quota configs for client-id '$c' are consumer_byte_rate=2097152\.0$" "describe after --delete-config" || return 1
	for args in "--entity-type clients --entity-name $c --delete-config consumer_byte_rate" "--entity-type clients --entity-default --delete-config producer_byte_rate" \
		"--entity-type ips --entity-name $ip --delete-config connection_creation_rate" "--entity-type users --entity-name $u --entity-type clients --entity-default --delete-config request_percentage"; do
		# shellcheck disable=SC2086
		out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --alter $args 2>&1) || fail "remove ($args): $out" || return 1
	done
	out=$(run_tool kafka-configs --bootstrap-server "$BOOTSTRAP" --describe --entity-type clients --entity-name "$c" 2>&1) || fail "describe after removing all: $out" || return 1
	[[ -z "$out" ]] || fail "quotas left after removing them all: $out" || return 1
}

cli_get_offsets() {
	local t=cli-offsets-$COMPAT_RUN_ID out
	run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" --partitions 2 >/dev/null || fail "create $t" || return 1
	# 6 records to partition 0, 4 to partition 1 (console producer with an explicit partition is not available: use two topics' worth of keys).
	printf 'a\n%.0s' 1 2 3 4 5 6 | run_tool kafka-console-producer --bootstrap-server "$BOOTSTRAP" --topic "$t" --producer-property partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner >/dev/null || fail "produce" || return 1
	out=$(run_tool kafka-get-offsets --bootstrap-server "$BOOTSTRAP" --topic "$t" 2>&1) || fail "get-offsets: $out" || return 1
	echo "$out"
	local sum
	sum=$(awk -F: -v t="$t" '$1 == t { s += $3; n++ } END { print n ":" s }' <<<"$out")
	[ "$sum" = "2:6" ] || fail "latest offsets of the 2 partitions should sum to 6; printed: $(tr '\n' ' ' <<<"$out")" || return 1
	out=$(run_tool kafka-get-offsets --bootstrap-server "$BOOTSTRAP" --topic "$t" --time earliest 2>&1) || fail "get-offsets --time earliest: $out" || return 1
	[ "$(sort <<<"$out")" = "$(printf '%s:0:0\n%s:1:0' "$t" "$t")" ] || fail "--time earliest printed: $(tr '\n' ' ' <<<"$out")" || return 1
	out=$(run_tool kafka-get-offsets --bootstrap-server "$BOOTSTRAP" --topic-partitions "$t:0" --time -1 2>&1) || fail "get-offsets --topic-partitions: $out" || return 1
	grep -q -E "^$t:0:[0-9]+$" <<<"$out" && [ "$(wc -l <<<"$out")" = 1 ] || fail "--topic-partitions $t:0 printed: $(tr '\n' ' ' <<<"$out")" || return 1
	out=$(run_tool kafka-get-offsets --bootstrap-server "$BOOTSTRAP" --topic "$t" --time max-timestamp 2>&1) || fail "get-offsets --time max-timestamp: $out" || return 1
	echo "$out"
	# Kafka answers the offset of the first record with the largest timestamp: check against what a consumer sees.
	local p recs want
	for p in 0 1; do
		recs=$(run_tool kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic "$t" --partition $p --offset earliest --timeout-ms 5000 \
			--formatter-property print.timestamp=true --formatter-property print.offset=true 2>/dev/null)
		want=$(awk -F'\t' '{ split($1, a, ":"); split($2, b, ":"); if (NR == 1 || a[2] > max) { max = a[2]; off = b[2] } } END { print off }' <<<"$recs")
		grep -q -x "$t:$p:$want" <<<"$out" || fail "--time max-timestamp printed $(grep "^$t:$p:" <<<"$out"), want $t:$p:$want (records: $(tr '\t\n' ' |' <<<"$recs"))" || return 1
	done
}

cli_delete_records() {
	local t=cli-delete-records-$COMPAT_RUN_ID out json
	run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" --partitions 1 >/dev/null || fail "create $t" || return 1
	seq 0 9 | run_tool kafka-console-producer --bootstrap-server "$BOOTSTRAP" --topic "$t" || fail "produce" || return 1
	json=$(mktemp)
	printf '{"partitions": [{"topic": "%s", "partition": 0, "offset": 4}], "version": 1}\n' "$t" >"$json"
	out=$(run_tool kafka-delete-records --bootstrap-server "$BOOTSTRAP" --offset-json-file "$json" 2>&1) || fail "delete-records: $out" || return 1
	rm -f "$json"
	echo "$out"
	expect_contains "$out" "partition: $t-0[[:space:]]+low_watermark: 4" "delete-records" || return 1
	out=$(run_tool kafka-get-offsets --bootstrap-server "$BOOTSTRAP" --topic "$t" --time earliest 2>&1)
	[ "$out" = "$t:0:4" ] || fail "earliest after delete-records: $out, want $t:0:4" || return 1
	out=$(run_tool kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic "$t" --partition 0 --offset earliest --max-messages 6 --timeout-ms 15000 2>/dev/null)
	[ "$out" = "$(seq 4 9)" ] || fail "consumed after delete-records: $(tr '\n' ' ' <<<"$out"), want 4..9" || return 1
}

cli_log_dirs() {
	local t=cli-log-dirs-$COMPAT_RUN_ID out json
	run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" --partitions 2 >/dev/null || fail "create $t" || return 1
	# One record: one partition has data, the other is empty (Kafka lists it with size 0).
	echo one-record | run_tool kafka-console-producer --bootstrap-server "$BOOTSTRAP" --topic "$t" || fail "produce" || return 1
	out=$(run_tool kafka-log-dirs --bootstrap-server "$BOOTSTRAP" --describe --topic-list "$t" 2>&1) || fail "log-dirs: $out" || return 1
	echo "$out"
	json=$(grep '^{' <<<"$out")
	"$DEBIAN_PYTHON" - "$t" "$json" <<-'EOF' || return 1
		import json, sys
		t, doc = sys.argv[1], json.loads(sys.argv[2])
		b = doc["brokers"]
		assert len(b) == 1 and b[0]["broker"] == 0, "brokers: %r" % b
		parts = {p["partition"]: p for d in b[0]["logDirs"] for p in d["partitions"]}
		assert set(parts) == {t + "-0", t + "-1"}, "log-dirs lists partitions %s of %s-0 and %s-1 (Kafka lists every partition of the topic, size 0 when empty)" % (sorted(parts), t, t)
		sizes = sorted(p["size"] for p in parts.values())
		assert sizes[0] == 0 and sizes[1] > 10, "sizes %r, want one empty partition and one with a record" % parts
		assert all(d["error"] is None for d in b[0]["logDirs"]), b[0]["logDirs"]
	EOF
}

cli_broker_api_versions() {
	local out api missing=()
	out=$(run_tool kafka-broker-api-versions --bootstrap-server "$BOOTSTRAP" 2>&1) || fail "broker-api-versions: $out" || return 1
	echo "$out"
	expect_contains "$out" "^$BOOTSTRAP \(id: 0 rack: null isFenced: false\) -> \($" "broker line" || return 1
	# The APIs Samsa implements (or is about to), each must be listed as usable by this tool release.
	for api in Produce Fetch ListOffsets Metadata ApiVersions CreateTopics DeleteTopics DeleteRecords InitProducerId \
		OffsetForLeaderEpoch DescribeConfigs AlterConfigs CreatePartitions IncrementalAlterConfigs DescribeCluster \
		DescribeTopicPartitions DescribeLogDirs FindCoordinator JoinGroup SyncGroup Heartbeat LeaveGroup OffsetCommit \
		OffsetFetch DescribeGroups ListGroups DeleteGroups OffsetDelete; do
		grep -q -E "^	$api\([0-9]+\): [0-9]+( to [0-9]+)? \[usable: [0-9]+\]" <<<"$out" || missing+=("$api")
	done
	[ ${#missing[@]} -eq 0 ] || fail "not listed as usable: ${missing[*]} ($(grep -E "^	($(IFS='|'; echo "${missing[*]}"))\(" <<<"$out" | tr -d '\t' | tr '\n' ' '))"
}

cli_perf() {
	local t=cli-perf-$COMPAT_RUN_ID out n=20000
	run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" --partitions 3 >/dev/null || fail "create $t" || return 1
	out=$(run_tool kafka-producer-perf-test --topic "$t" --num-records $n --record-size 100 --throughput -1 \
		--producer-props bootstrap.servers="$BOOTSTRAP" acks=all compression.type=lz4 2>&1) || fail "producer-perf-test: $(tail -3 <<<"$out")" || return 1
	echo "$out"
	expect_contains "$out" "^$n records sent, [0-9.]+ records/sec" "producer-perf-test summary" || return 1
	out=$(run_tool kafka-get-offsets --bootstrap-server "$BOOTSTRAP" --topic "$t" 2>&1)
	[ "$(awk -F: '{ s += $3 } END { print s }' <<<"$out")" = $n ] || fail "log end offsets after perf test: $(tr '\n' ' ' <<<"$out"), want a sum of $n" || return 1
	echo "$out" >"$WORK_DIR/cli-perf-topic"
}

cli_consumer_perf() {
	local t=cli-perf-$COMPAT_RUN_ID out n=20000
	out=$(run_tool kafka-consumer-perf-test --bootstrap-server "$BOOTSTRAP" --topic "$t" --messages $n --timeout 20000 2>&1) || fail "consumer-perf-test: $(tail -3 <<<"$out")" || return 1
	echo "$out"
	# start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, ...
	local nmsg
	nmsg=$(tail -1 <<<"$out" | awk -F', ' '{ print $5 }')
	[ "$nmsg" = $n ] || fail "consumer-perf-test consumed '$nmsg' messages, want $n: $(tail -1 <<<"$out")" || return 1
}

# Two console consumers in one group, then kafka-consumer-groups --list/--describe.
cli_consumer_groups() {
	local t=cli-groups-$COMPAT_RUN_ID g=cli-group-$COMPAT_RUN_ID out dir
	dir=$(mktemp -d)
	run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" --partitions 4 >/dev/null || fail "create $t" || return 1
	local c
	for c in 1 2; do
		"$KBIN/kafka-console-consumer.sh" --bootstrap-server "$BOOTSTRAP" --topic "$t" --group "$g" --timeout-ms 25000 \
			--consumer-property auto.commit.interval.ms=200 --formatter-property print.partition=true --formatter-property print.offset=true \
			>"$dir/c$c.out" 2>"$dir/c$c.err" &
		echo $! >"$dir/c$c.pid"
	done
	# Wait for both members to be in the group (describe --members shows 2 rows), then produce.
	local i members=0
	for i in $(seq 1 60); do
		out=$(run_tool kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --describe --group "$g" --members 2>&1)
		members=$(grep -c -E "^$g[[:space:]]" <<<"$out")
		[ "$members" = 2 ] && grep -q -E "^$g[[:space:]].*[[:space:]][12][[:space:]]*$" <<<"$out" && break
		sleep 0.5
	done
	if [ "$members" != 2 ]; then
		kill "$(cat "$dir/c1.pid")" "$(cat "$dir/c2.pid")" 2>/dev/null
		wait 2>/dev/null
		fail "the two console consumers did not form a group of 2 within 30s; consumer-groups --describe --members printed: $(tr '\n' '|' <<<"$out" | head -c 300); consumer stderr: $(grep -v -E '^\s+at |deprecated' "$dir/c1.err" | head -3 | tr '\n' '|')"
		return 1
	fi
	echo "$out"
	seq 1 40 | sed 's/^/value-/' | run_tool kafka-console-producer --bootstrap-server "$BOOTSTRAP" --topic "$t" \
		--producer-property partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner || fail "produce" || return 1
	for i in $(seq 1 60); do
		[ "$(cat "$dir/c1.out" "$dir/c2.out" | grep -c value-)" -ge 40 ] && break
		sleep 0.5
	done
	sleep 1 # let auto-commit run
	out=$(run_tool kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --describe --group "$g" 2>&1)
	echo "$out"
	kill "$(cat "$dir/c1.pid")" "$(cat "$dir/c2.pid")" 2>/dev/null
	wait 2>/dev/null
	local got
	got=$(cat "$dir/c1.out" "$dir/c2.out" | awk -F'\t' '/value-/ { print $3 }' | sort -t- -k2 -n | uniq)
	[ "$got" = "$(seq 1 40 | sed 's/^/value-/')" ] || fail "the group consumed $(wc -l <<<"$got") distinct of 40 values" || return 1
	[ -s "$dir/c1.out" ] && [ -s "$dir/c2.out" ] || fail "one member consumed nothing (c1: $(wc -l <"$dir/c1.out") lines, c2: $(wc -l <"$dir/c2.out") lines)" || return 1
	local dup
	dup=$(cat "$dir/c1.out" "$dir/c2.out" | grep value- | sort | uniq -d | head -1)
	[ -z "$dup" ] || fail "record delivered twice: $dup" || return 1
	# GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
	local rows
	rows=$(awk -v g="$g" -v t="$t" '$1 == g && $2 == t && $4 == $5 && $6 == 0 && $4 > 0' <<<"$out" | wc -l)
	[ "$rows" = 4 ] || fail "consumer-groups --describe: want 4 partitions with CURRENT-OFFSET = LOG-END-OFFSET > 0 and LAG 0; printed: $(tr '\n' '|' <<<"$out")" || return 1
	[ "$(awk -v g="$g" '$1 == g { print $7 }' <<<"$out" | sort -u | wc -l)" = 2 ] || fail "consumer-groups --describe: want 2 consumer ids: $(tr '\n' '|' <<<"$out")" || return 1
	out=$(run_tool kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --list 2>&1)
	expect_contains "$out" "^$g$" "consumer-groups --list" || return 1
	rm -rf "$dir"
	echo "$t $g" >"$WORK_DIR/cli-group"
}

# After cli_consumer_groups: --reset-offsets on the now empty group, a consumer resumes there, --delete.
cli_reset_offsets() {
	[ -f "$WORK_DIR/cli-group" ] || fail "needs the group of consumer-groups, which failed" || return 1
	local t g out
	read -r t g <"$WORK_DIR/cli-group"
	for i in $(seq 1 30); do
		out=$(run_tool kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --describe --group "$g" --state 2>&1)
		grep -q -E "[[:space:]]Empty[[:space:]]" <<<"$out" && break
		sleep 0.5
	done
	expect_contains "$out" "[[:space:]]Empty[[:space:]]+0[[:space:]]*$" "--describe --state (group empty)" || return 1
	out=$(run_tool kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --reset-offsets --group "$g" --topic "$t" --to-earliest --dry-run 2>&1) || fail "--reset-offsets --dry-run: $out" || return 1
	echo "$out"
	[ "$(awk -v g="$g" '$1 == g && $4 == 0' <<<"$out" | wc -l)" = 4 ] || fail "--reset-offsets --to-earliest --dry-run: want NEW-OFFSET 0 for 4 partitions: $(tr '\n' '|' <<<"$out")" || return 1
	out=$(run_tool kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --reset-offsets --group "$g" --topic "$t:0" --to-offset 3 --execute 2>&1) || fail "--reset-offsets --to-offset 3 --execute: $out" || return 1
	echo "$out"
	out=$(run_tool kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --describe --group "$g" --offsets 2>&1)
	echo "$out"
	awk -v g="$g" -v t="$t" '$1 == g && $2 == t && $3 == 0 && $4 == 3' <<<"$out" | grep -q . || fail "after --to-offset 3 partition 0 does not show CURRENT-OFFSET 3: $(tr '\n' '|' <<<"$out")" || return 1
	local end0
	end0=$(awk -v g="$g" -v t="$t" '$1 == g && $2 == t && $3 == 0 { print $5 }' <<<"$out")
	out=$(run_tool kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic "$t" --group "$g" --max-messages $((end0 - 3)) --timeout-ms 20000 \
		--formatter-property print.partition=true --formatter-property print.offset=true 2>&1)
	echo "$out"
	local first
	first=$(grep -m1 -E "^Partition:0" <<<"$out")
	[[ "$first" == Partition:0$'\t'Offset:3$'\t'* ]] || fail "a consumer of the reset group read '$first' first from partition 0, want offset 3: $(tr '\n' '|' <<<"$out" | head -c 300)" || return 1
	[ "$(grep -c '^Partition:' <<<"$out")" = $((end0 - 3)) ] || fail "consumed $(grep -c '^Partition:' <<<"$out") records after the reset, want $((end0 - 3))" || return 1
	out=$(run_tool kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --delete --group "$g" 2>&1) || fail "--delete: $out" || return 1
	expect_contains "$out" "Deletion of requested consumer groups \('$g'\) was successful" "--delete" || return 1
	out=$(run_tool kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --list 2>&1)
	grep -q -x -- "$g" <<<"$out" && fail "$g still listed after --delete" && return 1
	return 0
}

# Kafka's own formatters read Samsa's __consumer_offsets: a simple commit
# (reset-offsets) shows up in OffsetsMessageFormatter's JSON with its group,
# topic, partition and offset; a console consumer's group in
# GroupMetadataMessageFormatter's with protocol type consumer.
cli_offsets_topic_formatters() {
	local t=cli-offsets-fmt g=cli-offsets-fmt-group g2=cli-offsets-fmt-members out
	run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" --partitions 2 >/dev/null || fail "create $t" || return 1
	console_lines 6 "fmt" | run_tool kafka-console-producer --bootstrap-server "$BOOTSTRAP" --topic "$t" --reader-property parse.key=true --reader-property parse.headers=true || fail "produce" || return 1
	run_tool kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --reset-offsets --group "$g" --topic "$t:1" --to-offset 2 --execute >/dev/null 2>&1 || fail "--reset-offsets --execute" || return 1
	run_tool kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic "$t" --group "$g2" --from-beginning --max-messages 6 --timeout-ms 20000 >/dev/null 2>&1 || fail "group consumer" || return 1
	out=$(run_tool kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic __consumer_offsets --from-beginning --timeout-ms 10000 \
		--formatter org.apache.kafka.tools.consumer.OffsetsMessageFormatter 2>/dev/null)
	echo "$out"
	expect_contains "$out" "\"group\":\"$g\",\"topic\":\"$t\",\"partition\":1\}.*\"offset\":2," "OffsetsMessageFormatter (reset-offsets commit)" || return 1
	expect_contains "$out" "\"group\":\"$g2\",\"topic\":\"$t\",\"partition\":[01]\}.*\"offset\":[1-9]" "OffsetsMessageFormatter (group consumer commit)" || return 1
	out=$(run_tool kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic __consumer_offsets --from-beginning --timeout-ms 10000 \
		--formatter org.apache.kafka.tools.consumer.GroupMetadataMessageFormatter 2>/dev/null)
	echo "$out"
	expect_contains "$out" "\"group\":\"$g2\"\}.*\"protocolType\":\"consumer\"" "GroupMetadataMessageFormatter" || return 1
}

# table TEXT: kafka-transactions.sh's tables (ToolsUtils.prettyPrintTable:
# cells padded to the column width, each followed by a tab) with the
# padding removed, one tab-separated line per row.
table() { sed -E 's/ +\t/\t/g; s/\t$//' <<<"$1"; }

# kafka-transactions.sh list/describe/describe-producers/find-hanging/abort
# around a transaction left open by a Java transactional producer that
# halts without ending it (src/OpenTxn.java). Every expected line is what
# Kafka 4.3.1 printed for the same sequence (measured against a KRaft
# node started from the same jars).
cli_transactions() {
	local t=cli-txn-$COMPAT_RUN_ID id=cli-txn-id-$COMPAT_RUN_ID out rc row pid before after
	run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" --partitions 2 >/dev/null || fail "create $t" || return 1
	before=$(date +%s%3N)
	cmdlog "java OpenTxn.java $BOOTSTRAP $t $id 3 120000"
	out=$(java -cp "$TOOLS_DIR/target/lib/*" "$TOOLS_DIR/src/OpenTxn.java" "$BOOTSTRAP" "$t" "$id" 3 120000 2>&1)
	grep -q -x "first_offset=0" <<<"$out" || fail "the transactional producer did not write its 3 records at offset 0: $(tail -3 <<<"$out" | tr '\n' '|')" || return 1
	after=$(date +%s%3N)

	out=$(run_tool kafka-transactions --bootstrap-server "$BOOTSTRAP" list 2>&1) || fail "list: $out" || return 1
	echo "$out"
	out=$(table "$out")
	[ "$(head -1 <<<"$out")" = $'TransactionalId\tCoordinator\tProducerId\tTransactionState' ] || fail "list header: $(head -1 <<<"$out")" || return 1
	row=$(awk -F'\t' -v id="$id" '$1 == id' <<<"$out")
	pid=$(cut -f3 <<<"$row")
	[[ "$row" =~ ^$id$'\t'0$'\t'[0-9]+$'\t'Ongoing$ ]] || fail "list row of $id: '$row', want '$id 0 <producer id> Ongoing'" || return 1

	out=$(run_tool kafka-transactions --bootstrap-server "$BOOTSTRAP" describe --transactional-id "$id" 2>&1) || fail "describe: $out" || return 1
	echo "$out"
	out=$(table "$out")
	[ "$(head -1 <<<"$out")" = $'CoordinatorId\tTransactionalId\tProducerId\tProducerEpoch\tTransactionState\tTransactionTimeoutMs\tCurrentTransactionStartTimeMs\tTransactionDurationMs\tTopicPartitions' ] ||
		fail "describe header: $(head -1 <<<"$out")" || return 1
	row=$(sed -n 2p <<<"$out")
	local start
	start=$(cut -f7 <<<"$row")
	[[ "$row" =~ ^0$'\t'$id$'\t'$pid$'\t'0$'\t'Ongoing$'\t'120000$'\t'[0-9]+$'\t'[0-9]+$'\t'$t-0$ ]] && [ "$start" -ge "$before" ] && [ "$start" -le "$after" ] ||
		fail "describe row: '$row', want '0 $id $pid 0 Ongoing 120000 <start in [$before, $after]> <duration> $t-0'" || return 1

	out=$(run_tool kafka-transactions --bootstrap-server "$BOOTSTRAP" describe --transactional-id "no-such-$id" 2>&1) && fail "describe of an unknown id exited 0: $out" && return 1
	[ "$out" = "Failed to describe transaction state of transactional-id \`no-such-$id\`: DescribeTransactions request for transactionalId \`no-such-$id\` failed because the ID could not be found. Enable debug logging for additional detail." ] ||
		fail "describe of an unknown id printed: $out" || return 1

	local ph=$'ProducerId\tProducerEpoch\tLatestCoordinatorEpoch\tLastSequence\tLastTimestamp\tCurrentTransactionStartOffset'
	out=$(run_tool kafka-transactions --bootstrap-server "$BOOTSTRAP" describe-producers --topic "$t" --partition 0 2>&1) || fail "describe-producers: $out" || return 1
	echo "$out"
	out=$(table "$out")
	row=$(sed -n 2p <<<"$out")
	[ "$(head -1 <<<"$out")" = "$ph" ] && [ "$(wc -l <<<"$out")" = 2 ] && [[ "$row" =~ ^$pid$'\t'0$'\t'-1$'\t'2$'\t'[0-9]+$'\t'0$ ]] ||
		fail "describe-producers partition 0: '$(tr '\t\n' ' |' <<<"$out")', want one row '$pid 0 -1 2 <last timestamp> 0'" || return 1
	local ts
	ts=$(cut -f5 <<<"$row")
	[ "$ts" -ge "$before" ] && [ "$ts" -le "$after" ] || fail "describe-producers LastTimestamp $ts not in [$before, $after]" || return 1
	out=$(run_tool kafka-transactions --bootstrap-server "$BOOTSTRAP" describe-producers --topic "$t" --partition 1 2>&1) || fail "describe-producers partition 1: $out" || return 1
	[ "$(table "$out")" = "$ph" ] || fail "describe-producers of the untouched partition 1 printed: $(tr '\t\n' ' |' <<<"$out"), want the header only" || return 1

	# The open transaction is known to its coordinator with this partition,
	# so it is not hanging, even when every open transaction is a candidate.
	local hh=$'Topic\tPartition\tProducerId\tProducerEpoch\tCoordinatorEpoch\tStartOffset\tLastTimestamp\tDuration(min)' args
	for args in "--broker-id 0" "--broker-id 0 --max-transaction-timeout 0" "--topic $t --partition 0 --max-transaction-timeout 0"; do
		# shellcheck disable=SC2086
		out=$(run_tool kafka-transactions --bootstrap-server "$BOOTSTRAP" find-hanging $args 2>&1) || fail "find-hanging $args: $out" || return 1
		[ "$(table "$out")" = "$hh" ] || fail "find-hanging $args printed: $(tr '\t\n' ' |' <<<"$out"), want the header only" || return 1
	done

	out=$(run_tool kafka-transactions --bootstrap-server "$BOOTSTRAP" abort --topic "$t" --partition 0 --start-offset 1 2>&1) && fail "abort at a wrong start offset exited 0: $out" && return 1
	[ "$out" = "Could not find any open transactions starting at offset 1 on partition $t-0" ] || fail "abort at a wrong start offset printed: $out" || return 1
	before=$(date +%s%3N)
	out=$(run_tool kafka-transactions --bootstrap-server "$BOOTSTRAP" abort --topic "$t" --partition 0 --start-offset 0 2>&1) || fail "abort: $out" || return 1
	[ -z "$out" ] || fail "abort printed '$out', want nothing" || return 1
	after=$(date +%s%3N)
	out=$(run_tool kafka-transactions --bootstrap-server "$BOOTSTRAP" describe-producers --topic "$t" --partition 0 2>&1) || fail "describe-producers after abort: $out" || return 1
	echo "$out"
	row=$(table "$out" | sed -n 2p)
	[[ "$row" =~ ^$pid$'\t'0$'\t'0$'\t'2$'\t'[0-9]+$'\t'None$ ]] || fail "describe-producers after abort: '$row', want '$pid 0 0 2 <marker timestamp> None'" || return 1
	ts=$(cut -f5 <<<"$row")
	[ "$ts" -ge "$before" ] && [ "$ts" -le "$after" ] || fail "describe-producers LastTimestamp after abort $ts, want the marker's time in [$before, $after]" || return 1
	# A read_committed consumer now sees the partition up to its end: the 3 records aborted, the marker at 3.
	out=$(run_tool kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic "$t" --partition 0 --offset earliest --isolation-level read_committed --timeout-ms 3000 2>/dev/null)
	[ -z "$out" ] || fail "read_committed consumer read aborted records: $(tr '\n' '|' <<<"$out")" || return 1
	out=$(run_tool kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic "$t" --partition 0 --offset earliest --isolation-level read_uncommitted --max-messages 3 --timeout-ms 10000 2>/dev/null)
	[ "$out" = "$(printf 'open %d\n' 0 1 2)" ] || fail "read_uncommitted consumer read: $(tr '\n' '|' <<<"$out"), want open 0..2" || return 1
	# The coordinator still holds the transaction (Kafka's abort only writes the partition's marker).
	out=$(run_tool kafka-transactions --bootstrap-server "$BOOTSTRAP" list 2>&1) || fail "list after abort: $out" || return 1
	row=$(table "$out" | awk -F'\t' -v id="$id" '$1 == id')
	[ "$row" = "$id"$'\t0\t'"$pid"$'\tOngoing' ] || fail "list after abort: '$row', want '$id 0 $pid Ongoing'" || return 1
}

cli_cross_write() {
	local t i
	t=$(cross_topic cli)
	run_tool kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$t" --partitions 1 >/dev/null || fail "create $t" || return 1
	for ((i = 0; i < CROSS_COUNT; i++)); do printf 'origin:cli\tkey-%d\tcli value %d\n' $i $i; done |
		run_tool kafka-console-producer --bootstrap-server "$BOOTSTRAP" --topic "$t" --reader-property parse.key=true --reader-property parse.headers=true ||
		fail "console producer exited $?"
}

cli_cross_check() {
	local w=$1 t out want i
	t=$(cross_topic "$w")
	out=$(run_tool kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic "$t" --partition 0 --offset earliest --max-messages $CROSS_COUNT \
		--timeout-ms 15000 --formatter-property print.key=true --formatter-property print.headers=true --formatter-property print.offset=true 2>/dev/null)
	want=$(for ((i = 0; i < CROSS_COUNT; i++)); do printf 'Offset:%d\torigin:%s\tkey-%d\t%s value %d\n' $i "$w" $i "$w" $i; done)
	[ "$out" = "$want" ] || fail "console consumer printed: $(head -3 <<<"$out" | tr '\t\n' ' |'), want: $(head -3 <<<"$want" | tr '\t\n' ' |')"
}

# cli_security: on a Samsa of its own with PLAINTEXT, SASL_SSL (SCRAM-SHA-512)
# and SSL (client certificates required, CN mapped to the user name)
# listeners and the authorizer on, kafka-configs makes a SCRAM user over
# PLAINTEXT as a user would; the user is refused until kafka-acls grants
# it a topic and groups; kafka-topics and the console producer then work
# over SASL_SSL as that user, the console consumer over SSL with a client
# certificate; kafka-acls --list and --remove work, and a wrong password
# is refused. The TLS
# material is made by mkcerts for this run.
cli_security() {
	local dir pid out t=cli-security-$COMPAT_RUN_ID p1 p2 p3 slog i
	dir=$(mktemp -d "${TMPDIR:-/tmp}/samsa-compat-sec.XXXXXX")
	(cd "$REPO_DIR" && go run ./compat-tests/clients/tools/mkcerts "$dir" client-pw) || fail "mkcerts" || return 1
	p1=127.0.0.1:$(free_port) p2=127.0.0.1:$(free_port) p3=127.0.0.1:$(free_port)
	slog=$LOG_DIR/samsa-security.log
	cmdlog "samsa listeners=PLAINTEXT://$p1,SASL_SSL://$p2,SSL://$p3 (log $slog)"
	"$REPO_DIR/bin/samsa" --override "listeners=PLAINTEXT://$p1,SASL_SSL://$p2,SSL://$p3" --override "log.dirs=$dir/data" \
		--override sasl.enabled.mechanisms=SCRAM-SHA-512 --override ssl.keystore.type=PEM \
		--override "ssl.keystore.location=$dir/server.pem" --override ssl.truststore.type=PEM \
		--override "ssl.truststore.location=$dir/ca.pem" --override ssl.client.auth=required \
		--override 'ssl.principal.mapping.rules=RULE:^CN=([^,]+),.*$/$1/,DEFAULT' \
		--override authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer \
		--override super.users=User:ANONYMOUS >>"$slog" 2>&1 &
	pid=$!
	# shellcheck disable=SC2064
	trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null" RETURN
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/${p3%:*}/${p3#*:}") 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null || fail "Samsa with security listeners did not start: $(tail -3 "$slog" | tr '\n' ' ')" || return 1
	printf '%s\n' "security.protocol=SASL_SSL" "sasl.mechanism=SCRAM-SHA-512" \
		'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-pw";' \
		"ssl.truststore.type=PEM" "ssl.truststore.location=$dir/ca.pem" >"$dir/sasl.properties"
	sed 's/alice-pw/wrong-pw/' "$dir/sasl.properties" >"$dir/bad.properties"
	printf '%s\n' "security.protocol=SSL" "ssl.truststore.type=PEM" "ssl.truststore.location=$dir/ca.pem" \
		"ssl.keystore.type=PKCS12" "ssl.keystore.location=$dir/client.p12" "ssl.keystore.password=client-pw" >"$dir/ssl.properties"

	out=$(run_tool kafka-configs --bootstrap-server "$p1" --alter --add-config 'SCRAM-SHA-512=[iterations=8192,password=alice-pw]' --entity-type users --entity-name alice 2>&1) || fail "add SCRAM user: $out" || return 1
	expect_contains "$out" "Completed updating config for user alice" "add SCRAM user" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$p1" --describe --entity-type users --entity-name alice 2>&1) || fail "describe user: $out" || return 1
	echo "$out"
	expect_contains "$out" "SCRAM-SHA-512=iterations=8192" "describe user" || return 1
	# alice may do nothing until kafka-acls grants it (the PLAINTEXT
	# listener's User:ANONYMOUS is the super user here).
	out=$(run_tool kafka-topics --bootstrap-server "$p2" --command-config "$dir/sasl.properties" --create --topic "$t" --partitions 1 2>&1) && fail "alice created $t without ACLs: $out" && return 1
	expect_contains "$out" "TopicAuthorizationException|Authorization failed" "create without ACLs" || return 1
	out=$(run_tool kafka-acls --bootstrap-server "$p1" --add --allow-principal User:alice --operation Create --operation Write --operation Read --topic "$t" 2>&1) || fail "kafka-acls --add topic: $out" || return 1
	out=$(run_tool kafka-acls --bootstrap-server "$p1" --add --allow-principal User:alice --operation Read --group '*' 2>&1) || fail "kafka-acls --add group: $out" || return 1
	out=$(run_tool kafka-acls --bootstrap-server "$p1" --list --topic "$t" 2>&1) || fail "kafka-acls --list: $out" || return 1
	echo "$out"
	expect_contains "$out" "principal=User:alice, host=\*, operation=WRITE, permissionType=ALLOW" "kafka-acls --list" || return 1
	out=$(run_tool kafka-topics --bootstrap-server "$p2" --command-config "$dir/sasl.properties" --create --topic "$t" --partitions 1 2>&1) || fail "create over SASL_SSL: $out" || return 1
	expect_contains "$out" "^Created topic $t\.$" "create over SASL_SSL" || return 1
	printf 'one\ntwo\nthree\n' | run_tool kafka-console-producer --bootstrap-server "$p2" --command-config "$dir/sasl.properties" --topic "$t" >/dev/null 2>&1 || fail "produce over SASL_SSL" || return 1
	out=$(run_tool kafka-console-consumer --bootstrap-server "$p3" --command-config "$dir/ssl.properties" --topic "$t" --from-beginning --max-messages 3 --timeout-ms 20000 2>/dev/null) || fail "consume over SSL: $out" || return 1
	[ "$out" = $'one\ntwo\nthree' ] || fail "consumed over SSL: $(tr '\n' '|' <<<"$out")" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$p1" --alter --add-config 'producer_byte_rate=1048576,consumer_byte_rate=2097152' --entity-type users --entity-name alice 2>&1) || fail "add quota: $out" || return 1
	expect_contains "$out" "Completed updating config for user alice" "add quota" || return 1
	out=$(run_tool kafka-configs --bootstrap-server "$p1" --describe --entity-type users --entity-name alice 2>&1) || fail "describe quota: $out" || return 1
	echo "$out"
	expect_contains "$out" "Quota configs for user-principal 'alice' are .*producer_byte_rate=1048576" "describe quota" || return 1
	out=$(run_tool kafka-acls --bootstrap-server "$p1" --remove --force --allow-principal User:alice --operation Write --topic "$t" 2>&1) || fail "kafka-acls --remove: $out" || return 1
	out=$(run_tool kafka-acls --bootstrap-server "$p1" --list --topic "$t" 2>&1) || fail "kafka-acls --list: $out" || return 1
	grep -q "operation=WRITE" <<<"$out" && fail "WRITE still listed after --remove: $out" && return 1
	out=$(run_tool kafka-topics --bootstrap-server "$p2" --command-config "$dir/bad.properties" --list 2>&1) && fail "a wrong password listed topics: $out" && return 1
	expect_contains "$out" "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512" "wrong password" || return 1
	grep -q -E 'alice-pw|wrong-pw' "$slog" && fail "a password is in Samsa's log" && return 1
	return 0
}

cli_scenarios() {
	local codec
	run_scenario cli topics-create-describe-alter-delete -- cli_topics
	for codec in none gzip snappy lz4 zstd; do
		run_scenario cli "roundtrip-$codec" -- cli_console_roundtrip "$codec"
	done
	run_scenario cli configs-alter-describe -- cli_configs
	run_scenario cli client-quotas -- cli_quotas
	run_scenario cli get-offsets -- cli_get_offsets
	run_scenario cli delete-records -- cli_delete_records
	run_scenario cli log-dirs -- cli_log_dirs
	run_scenario cli broker-api-versions -- cli_broker_api_versions
	run_scenario cli producer-perf-test -- cli_perf
	run_scenario cli consumer-perf-test -- cli_consumer_perf
	run_scenario cli consumer-groups -- cli_consumer_groups
	run_scenario cli consumer-groups-reset-offsets -- cli_reset_offsets
	run_scenario cli offsets-topic-formatters -- cli_offsets_topic_formatters
	run_scenario cli transactions -- cli_transactions
	run_scenario cli cross-write -- cli_cross_write
	run_scenario cli security-scram-sasl-ssl-and-ssl-client-cert -- cli_security
}

cli_cross_read() {
	run_scenario cli "cross-read-from-$1" -- cli_cross_check "$1"
}
