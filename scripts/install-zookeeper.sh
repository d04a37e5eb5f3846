#!/usr/bin/env bash
# Downloads Apache ZooKeeper's server jars (internal/zktest/pom.xml: the
# version Apache Kafka 3.9 ships) and their runtime dependencies from Maven
# Central into internal/zktest/target/lib, for the cluster tests
# (internal/zktest). A no-op when that was done for this very pom.xml.
set -euo pipefail
dir=$(cd "$(dirname "$0")/../internal/zktest" && pwd)
stamp=$dir/target/lib/.pom.sha256
sum=$(sha256sum "$dir/pom.xml" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then exit 0; fi
echo "install-zookeeper: downloading ZooKeeper jars from Maven Central" >&2
rm -rf "$dir/target/lib"
(cd "$dir" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=target/lib) >&2
echo "$sum" >"$stamp"
