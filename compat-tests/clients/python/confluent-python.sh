# confluent-kafka-python (librdkafka) from Debian's python3-confluent-kafka,
# run with Debian's /usr/bin/python3. Sourced by run.sh.

CONFLUENT_PY=$COMPAT_DIR/clients/python/confluent_compat.py

confluent_python_setup() {
	ensure_apt python3-confluent-kafka || return 1
	record_version "confluent-python" "$("$DEBIAN_PYTHON" -c 'import confluent_kafka as c; print("confluent-kafka %s, librdkafka %s" % (c.version()[0], c.libversion()[0]))') (Python $("$DEBIAN_PYTHON" -c 'import platform; print(platform.python_version())'))"
}

confluent_python_scenarios() {
	local codec
	for codec in none gzip snappy lz4 zstd; do
		run_scenario confluent-python "roundtrip-$codec" -- "$DEBIAN_PYTHON" "$CONFLUENT_PY" roundtrip "$codec"
	done
	run_scenario confluent-python admin-topics -- "$DEBIAN_PYTHON" "$CONFLUENT_PY" admin-topics
	run_scenario confluent-python list-offsets -- "$DEBIAN_PYTHON" "$CONFLUENT_PY" list-offsets
	run_scenario confluent-python consumer-group-autocommit -- "$DEBIAN_PYTHON" "$CONFLUENT_PY" group-autocommit
	run_scenario confluent-python consumer-group-manual-commit -- "$DEBIAN_PYTHON" "$CONFLUENT_PY" group-manual-commit
	run_scenario confluent-python admin-groups -- "$DEBIAN_PYTHON" "$CONFLUENT_PY" admin-groups
	run_scenario confluent-python offsets-reset -- "$DEBIAN_PYTHON" "$CONFLUENT_PY" offsets-reset
	run_scenario confluent-python transactions -- "$DEBIAN_PYTHON" "$CONFLUENT_PY" transactions
	run_scenario confluent-python cross-write -- "$DEBIAN_PYTHON" "$CONFLUENT_PY" cross-write
}

confluent_python_cross_read() {
	run_scenario confluent-python "cross-read-from-$1" -- "$DEBIAN_PYTHON" "$CONFLUENT_PY" cross-read "$1"
}
