# kcat (librdkafka) from Debian's packages. Sourced by run.sh; see
# lib/common.sh for run_scenario and record.

kcat_setup() {
	ensure_apt kcat || return 1
	record_version "kcat" "$(kcat -V 2>&1 | grep -m1 -o -E 'kcat - .*|Version [^ ]+' | head -1) ($(dpkg-query -W -f='${Version}' kcat), librdkafka $(dpkg-query -W -f='${Version}' librdkafka1))"
}

kfail() { echo "FAIL: $*"; return 1; }

kcat_() { cmdlog "kcat $*"; kcat -b "$BOOTSTRAP" "$@"; }

# kcat_roundtrip CODEC: 200 keyed records with headers into 3 partitions, read back.
kcat_roundtrip() {
	local codec=$1 t=kcat-roundtrip-$1-$COMPAT_RUN_ID n=200 out
	kcat_create "$t" 3 || return 1
	seq 0 $((n - 1)) | awk -v c="$codec" '{ printf "k%d\tv%d-%s\n", $1, $1, c }' |
		kcat_ -P -t "$t" -K '\t' -H "tag=$codec" -H origin=kcat -X compression.codec="$codec" -X enable.idempotence=true ||
		kfail "producing with $codec failed" || return 1
	out=$(kcat_ -C -t "$t" -o beginning -e -q -f '%p\t%o\t%k\t%s\t%h\n') || kfail "consume: $out" || return 1
	echo "$out" >&2
	"$DEBIAN_PYTHON" - "$codec" "$n" "$out" <<-'EOF'
		import sys, collections
		codec, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
		lines = [l.split("\t") for l in out.splitlines() if l]
		def fail(m): print("FAIL: " + m); sys.exit(1)
		if len(lines) != n: fail("consumed %d records, produced %d" % (len(lines), n))
		byp = collections.defaultdict(list)
		for p, o, k, v, h in lines:
		    if v != "v%s-%s" % (k[1:], codec): fail("key %s has value %s" % (k, v))
		    if h != "tag=%s,origin=kcat" % codec: fail("key %s has headers %r" % (k, h))
		    byp[p].append((int(o), int(k[1:])))
		if len(byp) != 3: fail("records in %d partitions, want 3" % len(byp))
		for p, recs in byp.items():
		    offs = [o for o, _ in recs]
		    if offs != list(range(len(offs))): fail("partition %s offsets %s..., want 0.. dense" % (p, offs[:10]))
		    seqs = [s for _, s in recs]
		    if seqs != sorted(seqs): fail("partition %s out of produce order: %s" % (p, seqs[:20]))
	EOF
}

# kcat_create TOPIC PARTITIONS: kcat cannot create topics with a partition count; use a Metadata auto-create of
# a 1-partition topic when PARTITIONS is 1, else the Kafka CLI.
kcat_create() {
	local out
	out=$("$COMPAT_DIR/bin/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --topic "$1" --partitions "$2" 2>&1) || kfail "creating $1: $out"
}

kcat_metadata() {
	local t=kcat-metadata-$COMPAT_RUN_ID out
	kcat_create "$t" 4 || return 1
	out=$(kcat_ -L -J -t "$t") || kfail "kcat -L: $out" || return 1
	echo "$out"
	"$DEBIAN_PYTHON" - "$t" "$BOOTSTRAP" "$out" <<-'EOF'
		import json, sys
		t, bs, md = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
		def fail(m): print("FAIL: " + m); sys.exit(1)
		b = md["brokers"]
		if len(b) != 1 or b[0]["id"] != 0 or b[0]["name"] != bs: fail("brokers %r, want one: 0 at %s" % (b, bs))
		tt = [x for x in md["topics"] if x["topic"] == t]
		if len(tt) != 1: fail("topic %s not in metadata" % t)
		ps = tt[0]["partitions"]
		if sorted(p["partition"] for p in ps) != [0, 1, 2, 3]: fail("partitions %r" % ps)
		for p in ps:
		    if p["leader"] != 0 or [r["id"] for r in p["replicas"]] != [0] or [r["id"] for r in p["isrs"]] != [0]:
		        fail("partition %r" % p)
	EOF
}

# Offsets by time (-Q): -2 beginning, -1 end, and a real timestamp.
kcat_offsets() {
	local t=kcat-offsets-$COMPAT_RUN_ID out mid
	kcat_create "$t" 1 || return 1
	seq 0 4 | kcat_ -P -t "$t" -p 0 || kfail "produce" || return 1
	sleep 0.05
	mid=$(($(date +%s%N) / 1000000))
	sleep 0.05
	seq 5 9 | kcat_ -P -t "$t" -p 0 || kfail "produce" || return 1
	out=$(kcat_ -Q -t "$t:0:-1") || kfail "kcat -Q -1: $out" || return 1
	grep -q -E "^$t \[0\] offset 10$" <<<"$out" || kfail "kcat -Q $t:0:-1 printed '$out', want offset 10" || return 1
	out=$(kcat_ -Q -t "$t:0:-2") || kfail "kcat -Q -2: $out" || return 1
	grep -q -E "^$t \[0\] offset 0$" <<<"$out" || kfail "kcat -Q $t:0:-2 printed '$out', want offset 0" || return 1
	out=$(kcat_ -Q -t "$t:0:$mid") || kfail "kcat -Q ts: $out" || return 1
	grep -q -E "^$t \[0\] offset 5$" <<<"$out" || kfail "kcat -Q $t:0:<time between the two batches> printed '$out', want offset 5" || return 1
	# Consume from an offset relative to the end (-o -3) and from a timestamp (-o s@ts).
	out=$(kcat_ -C -t "$t" -p 0 -o -3 -e -q -f '%o:%s\n') || kfail "consume -o -3: $out" || return 1
	[ "$out" = "$(printf '7:7\n8:8\n9:9')" ] || kfail "kcat -C -o -3 printed $(tr '\n' ' ' <<<"$out"), want 7:7 8:8 9:9" || return 1
	out=$(kcat_ -C -t "$t" -p 0 -o "s@$mid" -e -q -f '%o\n') || kfail "consume -o s@: $out" || return 1
	[ "$(head -1 <<<"$out")" = 5 ] || kfail "kcat -C -o s@<mid> started at $(head -1 <<<"$out"), want 5" || return 1
}

# Two balanced consumers (-G) in one group, then a third member resumes from the commits.
kcat_group() {
	local t=kcat-group-$COMPAT_RUN_ID g=kcat-group-$COMPAT_RUN_ID dir i
	dir=$(mktemp -d)
	kcat_create "$t" 4 || return 1
	for i in 1 2; do
		kcat -b "$BOOTSTRAP" -G "$g" -X auto.offset.reset=earliest -X auto.commit.interval.ms=100 -X session.timeout.ms=6000 \
			-f '%p\t%o\t%s\n' "$t" >"$dir/c$i.out" 2>"$dir/c$i.err" &
		echo $! >"$dir/c$i.pid"
	done
	local ok=
	for i in $(seq 1 100); do
		if grep -q "assigned:" "$dir/c1.err" && grep -q "assigned:" "$dir/c2.err" &&
			[ "$(grep "assigned:" "$dir/c1.err" | tail -1 | grep -o "\[[0-9]\]" | wc -l)" = 2 ] &&
			[ "$(grep "assigned:" "$dir/c2.err" | tail -1 | grep -o "\[[0-9]\]" | wc -l)" = 2 ]; then
			ok=1
			break
		fi
		sleep 0.3
	done
	if [ -z "$ok" ]; then
		kill "$(cat "$dir/c1.pid")" "$(cat "$dir/c2.pid")" 2>/dev/null
		wait 2>/dev/null
		cat "$dir/c1.err" >&2
		kfail "the two kcat -G members did not split the 4 partitions within 30s; member 1 stderr: $(grep -v '^\s*$' "$dir/c1.err" | tail -2 | tr '\n' '|')"
		return 1
	fi
	# Keyed, so murmur2 spreads them over the 4 partitions (keyless records stick to one partition for a while).
	seq 1 40 | awk '{ printf "k%d\tvalue-%d\n", $1, $1 }' | kcat_ -P -t "$t" -K '\t' -X partitioner=murmur2 || kfail "produce" || return 1
	for i in $(seq 1 60); do
		[ "$(cat "$dir/c1.out" "$dir/c2.out" | grep -c value-)" -ge 40 ] && break
		sleep 0.3
	done
	sleep 0.5
	kill -TERM "$(cat "$dir/c1.pid")" "$(cat "$dir/c2.pid")" 2>/dev/null
	wait 2>/dev/null
	cat "$dir"/*.err >&2
	local got
	got=$(cat "$dir/c1.out" "$dir/c2.out" | cut -f3 | grep value- | sort -t- -k2 -n)
	[ "$got" = "$(seq 1 40 | sed 's/^/value-/')" ] || kfail "the group consumed $(wc -l <<<"$got") records, want each of the 40 exactly once" || return 1
	grep -q value- "$dir/c1.out" && grep -q value- "$dir/c2.out" || kfail "one member consumed nothing" || return 1
	# A new member starts at the committed offsets: it sees only the 5 records produced now.
	seq 41 45 | sed 's/^/value-/' | kcat_ -P -t "$t" || kfail "produce" || return 1
	local out
	out=$(timeout 30 kcat -b "$BOOTSTRAP" -G "$g" -X auto.offset.reset=earliest -c 5 -f '%s\n' -q "$t" 2>&1)
	[ "$(sort -t- -k2 -n <<<"$out")" = "$(seq 41 45 | sed 's/^/value-/')" ] || kfail "a new member after the commits read: $(tr '\n' ' ' <<<"$out" | head -c 300), want value-41..45" || return 1
	rm -rf "$dir"
}

kcat_cross_write() {
	local t
	t=$(cross_topic kcat)
	kcat_create "$t" 1 || return 1
	seq 0 $((CROSS_COUNT - 1)) | awk '{ printf "key-%d\tkcat value %d\n", $1, $1 }' | kcat_ -P -t "$t" -p 0 -K '\t' -H origin=kcat || kfail "produce"
}

kcat_cross_check() {
	local w=$1 out want
	out=$(kcat_ -C -t "$(cross_topic "$w")" -p 0 -o beginning -e -q -f '%o\t%k\t%s\t%h\n') || kfail "consume: $out" || return 1
	want=$(for ((i = 0; i < CROSS_COUNT; i++)); do printf '%d\tkey-%d\t%s value %d\torigin=%s\n' $i $i "$w" $i "$w"; done)
	[ "$out" = "$want" ] || kfail "kcat printed: $(head -3 <<<"$out" | tr '\t\n' ' |'), want: $(head -3 <<<"$want" | tr '\t\n' ' |')"
}

kcat_scenarios() {
	local codec
	for codec in none gzip snappy lz4 zstd; do
		run_scenario kcat "roundtrip-$codec" -- kcat_roundtrip "$codec"
	done
	run_scenario kcat metadata -- kcat_metadata
	run_scenario kcat list-offsets -- kcat_offsets
	run_scenario kcat consumer-group -- kcat_group
	run_scenario kcat cross-write -- kcat_cross_write
}

kcat_cross_read() {
	run_scenario kcat "cross-read-from-$1" -- kcat_cross_check "$1"
}
