# A three-broker Samsa cluster on a real ZooKeeper (the jars of
# scripts/install-zookeeper.sh, the version Kafka 3.9 ships), driven by the
# Kafka command-line tools and the Java client of the other clients:
# kafka-topics --create --replication-factor 3 and --describe (leaders,
# replicas and ISR as Kafka prints them, before and after a leader is
# killed -9), console producer/consumer with acks=all, and the Java
# client's round trip, consumer group and transactions against the cluster.
# Sourced by run.sh; see lib/common.sh for run_scenario and record. The
# cluster is started in run.sh's shell and stopped at the end of
# cluster_scenarios.

CLUSTER_DIR=
CLUSTER_ZK_PID=
CLUSTER_ZK_PORT=
declare -A CLUSTER_PIDS CLUSTER_PORTS
CLUSTER_BOOTSTRAP=

cluster_setup() {
	cli_setup || return 1
	java_setup || return 1
	ensure_apt kcat || return 1
	"$REPO_DIR/scripts/install-zookeeper.sh" || return 1
	record_version "cluster zookeeper" "$(ls "$REPO_DIR"/internal/zktest/target/lib/zookeeper-[0-9]*.jar | sed 's/.*zookeeper-\(.*\)\.jar/\1/')"
}

# wait_port PORT PID: wait until PORT accepts connections (PID alive).
cluster_wait_port() {
	local i
	for i in $(seq 1 200); do
		kill -0 "$2" 2>/dev/null || return 1
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

cluster_start_zk() {
	CLUSTER_ZK_PORT=$(free_port)
	mkdir -p "$CLUSTER_DIR/zk"
	printf 'tickTime=500\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxClientCnxns=0\nminSessionTimeout=1000\n' \
		"$CLUSTER_DIR/zk" "$CLUSTER_ZK_PORT" >"$CLUSTER_DIR/zoo.cfg"
	java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$REPO_DIR/internal/zktest/target/lib/*" \
		org.apache.zookeeper.server.ZooKeeperServerMain "$CLUSTER_DIR/zoo.cfg" >>"$LOG_DIR/cluster-zookeeper.log" 2>&1 &
	CLUSTER_ZK_PID=$!
	cluster_wait_port "$CLUSTER_ZK_PORT" "$CLUSTER_ZK_PID"
}

# cluster_start_broker ID: start (or restart, same port and data) broker ID.
cluster_start_broker() {
	local id=$1 o overrides=()
	for o in $SAMSA_OVERRIDES; do overrides+=(--override "$o"); done
	[ -n "${CLUSTER_PORTS[$id]:-}" ] || CLUSTER_PORTS[$id]=$(free_port)
	mkdir -p "$CLUSTER_DIR/broker-$id"
	"$REPO_DIR/bin/samsa" \
		--override "listeners=PLAINTEXT://127.0.0.1:${CLUSTER_PORTS[$id]}" \
		--override "log.dirs=$CLUSTER_DIR/broker-$id" \
		--override "broker.id=$id" \
		--override "zookeeper.connect=127.0.0.1:$CLUSTER_ZK_PORT/kafka" \
		--override "zookeeper.session.timeout.ms=6000" \
		--override "offsets.topic.num.partitions=5" \
		--override "transaction.state.log.num.partitions=5" \
		"${overrides[@]}" >>"$LOG_DIR/cluster-broker-$id.log" 2>&1 &
	CLUSTER_PIDS[$id]=$!
	cluster_wait_port "${CLUSTER_PORTS[$id]}" "${CLUSTER_PIDS[$id]}"
}

cluster_stop() {
	local id
	for id in "${!CLUSTER_PIDS[@]}"; do
		kill -TERM "${CLUSTER_PIDS[$id]}" 2>/dev/null
	done
	for id in "${!CLUSTER_PIDS[@]}"; do
		wait "${CLUSTER_PIDS[$id]}" 2>/dev/null
	done
	[ -n "$CLUSTER_ZK_PID" ] && kill -TERM "$CLUSTER_ZK_PID" 2>/dev/null && wait "$CLUSTER_ZK_PID" 2>/dev/null
	CLUSTER_PIDS=()
	CLUSTER_ZK_PID=
	[ -n "$CLUSTER_DIR" ] && rm -rf "$CLUSTER_DIR"
}

# cluster_describe TOPIC: kafka-topics --describe at the cluster.
cluster_describe() {
	run_tool kafka-topics --bootstrap-server "$CLUSTER_BOOTSTRAP" --describe --topic "$1"
}

# cluster_wait_isr TOPIC N: wait until every partition line of --describe
# shows N in-sync replicas; prints the last output.
cluster_wait_isr() {
	local out i
	for i in $(seq 1 40); do
		out=$(cluster_describe "$1" 2>&1)
		if [ "$(grep -c -P '\tPartition: ' <<<"$out")" -gt 0 ] &&
			! grep -P '\tPartition: ' <<<"$out" | grep -v -q -P "\tIsr: [0-9]+(,[0-9]+){$(($2 - 1))}(\t|$)"; then
			printf '%s\n' "$out"
			return 0
		fi
		sleep 0.5
	done
	printf '%s\n' "$out"
	return 1
}

# cluster_wait_brokers: wait until every broker's metadata lists all
# three brokers. A broker learns of the others through the controller's
# UpdateMetadata after their registration in ZooKeeper, a moment after they
# accept connections (Kafka behaves the same), and a topic created before
# that fails with INVALID_REPLICATION_FACTOR.
cluster_wait_brokers() {
	local id i n
	for id in 1 2 3; do
		for i in $(seq 1 100); do
			n=$(kcat -b "127.0.0.1:${CLUSTER_PORTS[$id]}" -L -m 5 2>/dev/null | grep -c -E '^ +broker [0-9]+ at ')
			[ "$n" = 3 ] && break
			sleep 0.1
		done
		[ "$n" = 3 ] || return 1
	done
}

# ---------------------------------------------------------------- scenarios

cluster_topics_rf3() {
	local out
	out=$(run_tool kafka-topics --bootstrap-server "$CLUSTER_BOOTSTRAP" --create --topic cluster-rf3 --partitions 3 --replication-factor 3 2>&1) || fail "create: $out" || return 1
	expect_contains "$out" '^Created topic cluster-rf3\.$' "kafka-topics --create" || return 1
	out=$(cluster_wait_isr cluster-rf3 3) || fail "ISR of cluster-rf3 never reached 3: $(tr '\n' '|' <<<"$out")" || return 1
	echo "$out"
	expect_contains "$out" $'^Topic: cluster-rf3\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 3\tReplicationFactor: 3\tConfigs: ' "describe header" || return 1
	local p leaders=""
	for p in 0 1 2; do
		local line leader replicas isr
		line=$(grep -P "^\tTopic: cluster-rf3\tPartition: $p\t" <<<"$out") || fail "no line for partition $p" || return 1
		[[ $line =~ Leader:\ ([0-9]+)$'\t'Replicas:\ ([0-9,]+)$'\t'Isr:\ ([0-9,]+) ]] || fail "partition $p line: $line" || return 1
		leader=${BASH_REMATCH[1]} replicas=${BASH_REMATCH[2]} isr=${BASH_REMATCH[3]}
		# Kafka's assignment: the leader is the preferred (first) replica,
		# three distinct brokers, all in sync.
		[ "${replicas%%,*}" = "$leader" ] || fail "partition $p: leader $leader is not the first replica of $replicas" || return 1
		[ "$(tr ',' '\n' <<<"$replicas" | sort -u | wc -l)" = 3 ] || fail "partition $p: replicas $replicas" || return 1
		[ "$(tr ',' '\n' <<<"$isr" | sort | tr '\n' ' ')" = "$(tr ',' '\n' <<<"$replicas" | sort | tr '\n' ' ')" ] || fail "partition $p: ISR $isr, replicas $replicas" || return 1
		leaders+="$leader "
	done
	[ "$(tr ' ' '\n' <<<"$leaders" | grep -v '^$' | sort -u | wc -l)" = 3 ] || fail "leaders $leaders: the three partitions should be led by three brokers" || return 1
}

cluster_console_roundtrip() {
	local out i want
	want=$(for ((i = 0; i < 30; i++)); do printf 'cluster value %d\n' "$i"; done)
	run_tool kafka-console-producer --bootstrap-server "$CLUSTER_BOOTSTRAP" --topic cluster-rf3 \
		--producer-property acks=all <<<"$want" || fail "console producer failed" || return 1
	out=$(run_tool kafka-console-consumer --bootstrap-server "$CLUSTER_BOOTSTRAP" --topic cluster-rf3 --from-beginning \
		--max-messages 30 --timeout-ms 30000 --group cluster-console 2>/dev/null)
	[ "$(sort <<<"$out")" = "$(sort <<<"$want")" ] || fail "consumed: $(head -c 300 <<<"$out" | tr '\n' '|')" || return 1
}

# cluster_kcat: librdkafka (kcat) against the cluster: metadata lists
# the three brokers and, for every partition of cluster-rf3, three
# replicas all in sync; records produced with acks=all are consumed back.
cluster_kcat() {
	local out want i
	out=$(kcat -b "$CLUSTER_BOOTSTRAP" -L -t cluster-rf3 2>&1) || fail "kcat -L: $out" || return 1
	echo "$out"
	[ "$(grep -c -E '^ +broker [0-9]+ at ' <<<"$out")" = 3 ] || fail "kcat -L does not list three brokers" || return 1
	[ "$(grep -c -E 'partition [0-9]+, leader [0-9]+, replicas: [0-9]+,[0-9]+,[0-9]+, isrs: [0-9]+,[0-9]+,[0-9]+' <<<"$out")" = 3 ] ||
		fail "kcat -L: not every partition has three replicas in sync" || return 1
	want=$(for ((i = 0; i < 20; i++)); do printf 'kcat value %d\n' "$i"; done)
	kcat -b "$CLUSTER_BOOTSTRAP" -P -t cluster-rf3 -X acks=all <<<"$want" || fail "kcat produce failed" || return 1
	out=$(kcat -b "$CLUSTER_BOOTSTRAP" -C -t cluster-rf3 -o beginning -e -q 2>/dev/null | grep '^kcat value')
	[ "$(sort <<<"$out")" = "$(sort <<<"$want")" ] || fail "kcat consumed: $(head -c 300 <<<"$out" | tr '\n' '|')" || return 1
}

# cluster_leader_kill: kill -9 the leader of cluster-rf3-0; --describe
# shows another leader and an ISR without it; after its restart it is back
# in the ISR.
cluster_leader_kill() {
	local out leader newleader isr
	out=$(cluster_describe cluster-rf3)
	leader=$(grep -P '^\tTopic: cluster-rf3\tPartition: 0\t' <<<"$out" | grep -o -P 'Leader: \K[0-9]+') || fail "no leader: $out" || return 1
	echo "killing broker $leader (kill -9)"
	kill -KILL "${CLUSTER_PIDS[$leader]}"
	local i
	for i in $(seq 1 40); do
		out=$(run_tool kafka-topics --bootstrap-server "$(cluster_bootstrap_without "$leader")" --describe --topic cluster-rf3 2>/dev/null)
		newleader=$(grep -P '^\tTopic: cluster-rf3\tPartition: 0\t' <<<"$out" | grep -o -P 'Leader: \K[0-9]+')
		isr=$(grep -P '^\tTopic: cluster-rf3\tPartition: 0\t' <<<"$out" | grep -o -P 'Isr: \K[0-9,]+')
		if [ -n "$newleader" ] && [ "$newleader" != "$leader" ] && ! tr ',' '\n' <<<"$isr" | grep -q -x "$leader"; then
			break
		fi
		sleep 0.5
	done
	echo "$out"
	[ -n "$newleader" ] && [ "$newleader" != "$leader" ] || fail "leader still $newleader after killing $leader" || return 1
	tr ',' '\n' <<<"$isr" | grep -q -x "$leader" && { fail "ISR $isr still has the killed broker $leader"; return 1; }
	cluster_start_broker "$leader" || fail "broker $leader would not restart" || return 1
	cluster_wait_isr cluster-rf3 3 >/dev/null || fail "broker $leader did not rejoin the ISR" || return 1
}

# cluster_bootstrap_without ID: the bootstrap list without broker ID.
cluster_bootstrap_without() {
	local id out=()
	for id in 1 2 3; do
		[ "$id" = "$1" ] || out+=("127.0.0.1:${CLUSTER_PORTS[$id]}")
	done
	(IFS=,; echo "${out[*]}")
}

cluster_java() { BOOTSTRAP=$CLUSTER_BOOTSTRAP java_run "$@"; }

cluster_scenarios() {
	[ -n "${COMPAT_EXTERNAL_BOOTSTRAP:-}" ] && { log "cluster: skipped with COMPAT_EXTERNAL_BOOTSTRAP"; return 0; }
	CLUSTER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/samsa-compat-cluster.XXXXXX")
	if ! cluster_start_zk; then
		record cluster start FAIL 0 "ZooKeeper would not start: $(tail -3 "$LOG_DIR/cluster-zookeeper.log" | tr '\n' ' ')"
		cluster_stop
		return 0
	fi
	local id
	for id in 1 2 3; do
		if ! cluster_start_broker "$id"; then
			record cluster start FAIL 0 "broker $id would not start: $(tail -3 "$LOG_DIR/cluster-broker-$id.log" | tr '\n' ' ')"
			cluster_stop
			return 0
		fi
	done
	CLUSTER_BOOTSTRAP=127.0.0.1:${CLUSTER_PORTS[1]},127.0.0.1:${CLUSTER_PORTS[2]},127.0.0.1:${CLUSTER_PORTS[3]}
	export CLUSTER_BOOTSTRAP
	if ! cluster_wait_brokers; then
		record cluster start FAIL 0 "the brokers' metadata never listed all three brokers"
		cluster_stop
		return 0
	fi
	log "cluster: ZooKeeper on $CLUSTER_ZK_PORT, brokers at $CLUSTER_BOOTSTRAP"
	run_scenario cluster topics-create-describe-rf3 -- cluster_topics_rf3
	run_scenario cluster console-roundtrip-acks-all -- cluster_console_roundtrip
	run_scenario cluster kcat-metadata-roundtrip-acks-all -- cluster_kcat
	run_scenario cluster java-roundtrip -- cluster_java roundtrip none
	run_scenario cluster java-consumer-group-manual-commit -- cluster_java group-manual-commit
	run_scenario cluster java-transactions -- cluster_java transactions
	# In run.sh's shell: it kills and restarts a broker of the cluster.
	local out=$LOG_DIR/cluster/leader-kill9-describe.log start
	mkdir -p "$LOG_DIR/cluster"
	start=$(date +%s%N)
	if cluster_leader_kill >"$out" 2>&1 3>&1 </dev/null; then
		record cluster leader-kill9-describe PASS "$(elapsed "$start" "$(date +%s%N)")" ""
	else
		record cluster leader-kill9-describe FAIL "$(elapsed "$start" "$(date +%s%N)")" "$(failure_reason "$out")"
	fi
	for id in 1 2 3; do
		if grep -q -E '^panic|goroutine [0-9]+ \[running\]' "$LOG_DIR/cluster-broker-$id.log"; then
			record cluster "broker-$id-without-panic" FAIL 0 "$(grep -m1 -E '^panic' "$LOG_DIR/cluster-broker-$id.log")"
		else
			record cluster "broker-$id-without-panic" PASS 0 ""
		fi
	done
	cluster_stop
}
