# kafkajs (npm, pinned in package.json / package-lock.json, installed with
# `npm ci` into clients/node/node_modules). Sourced by run.sh.

NODE_DIR=$COMPAT_DIR/clients/node

kafkajs_setup() {
	command -v node >/dev/null && command -v npm >/dev/null || ensure_apt nodejs npm || return 1
	if [ ! -f "$NODE_DIR/node_modules/.package-lock.json" ] || [ "$NODE_DIR/package-lock.json" -nt "$NODE_DIR/node_modules/.package-lock.json" ]; then
		(cd "$NODE_DIR" && npm ci --no-audit --no-fund) >&2 || return 1
	fi
	record_version "kafkajs" "$(node -p 'require(process.argv[1] + "/node_modules/kafkajs/package.json").version' "$NODE_DIR") (kafkajs-snappy $(node -p 'require(process.argv[1] + "/node_modules/kafkajs-snappy/package.json").version' "$NODE_DIR"), kafkajs-lz4 $(node -p 'require(process.argv[1] + "/node_modules/kafkajs-lz4/package.json").version' "$NODE_DIR"); Node $(node --version))"
}

kafkajs_run() { node "$NODE_DIR/kafkajs_compat.js" "$@"; }

kafkajs_scenarios() {
	local codec
	for codec in none gzip snappy lz4; do
		run_scenario kafkajs "produce-$codec" -- kafkajs_run produce "$codec"
	done
	for codec in none gzip snappy lz4; do
		run_scenario kafkajs "roundtrip-$codec" -- kafkajs_run roundtrip "$codec"
	done
	run_scenario kafkajs admin-topics -- kafkajs_run admin-topics
	run_scenario kafkajs list-offsets -- kafkajs_run list-offsets
	run_scenario kafkajs consumer-group-autocommit -- kafkajs_run consumer-group
	run_scenario kafkajs admin-groups -- kafkajs_run admin-groups
	run_scenario kafkajs offsets-reset -- kafkajs_run offsets-reset
	run_scenario kafkajs cross-write -- kafkajs_run cross-write
}

kafkajs_cross_read() {
	run_scenario kafkajs "cross-read-from-$1" -- kafkajs_run cross-read "$1"
}
