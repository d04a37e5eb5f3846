# kafka-python from Debian's python3-kafka (with python3-snappy, python3-lz4
# and python3-zstandard for its codecs), run with Debian's /usr/bin/python3.
# Sourced by run.sh.

KAFKA_PY=$COMPAT_DIR/clients/python/kafka_python_compat.py

kafka_python_setup() {
	ensure_apt python3-kafka python3-snappy python3-lz4 python3-zstandard || return 1
	record_version "kafka-python" "$("$DEBIAN_PYTHON" -c 'import kafka; print(kafka.__version__)') (Python $("$DEBIAN_PYTHON" -c 'import platform; print(platform.python_version())'))"
}

kafka_python_scenarios() {
	local codec
	for codec in none gzip snappy lz4 zstd; do
		run_scenario kafka-python "roundtrip-$codec" -- "$DEBIAN_PYTHON" "$KAFKA_PY" roundtrip "$codec"
	done
	run_scenario kafka-python admin-topics -- "$DEBIAN_PYTHON" "$KAFKA_PY" admin-topics
	run_scenario kafka-python list-offsets -- "$DEBIAN_PYTHON" "$KAFKA_PY" list-offsets
	run_scenario kafka-python consumer-group-autocommit -- "$DEBIAN_PYTHON" "$KAFKA_PY" group-autocommit
	run_scenario kafka-python consumer-group-manual-commit -- "$DEBIAN_PYTHON" "$KAFKA_PY" group-manual-commit
	run_scenario kafka-python admin-groups -- "$DEBIAN_PYTHON" "$KAFKA_PY" admin-groups
	run_scenario kafka-python offsets-reset -- "$DEBIAN_PYTHON" "$KAFKA_PY" offsets-reset
	run_scenario kafka-python cross-write -- "$DEBIAN_PYTHON" "$KAFKA_PY" cross-write
}

kafka_python_cross_read() {
	run_scenario kafka-python "cross-read-from-$1" -- "$DEBIAN_PYTHON" "$KAFKA_PY" cross-read "$1"
}
