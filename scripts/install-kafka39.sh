#!/usr/bin/env bash
# Downloads Apache Kafka 3.9's broker and command-line tools jars
# (interop/pom.xml: kafka_2.13, kafka-tools and slf4j-reload4j) and their
# runtime dependencies from Maven Central into interop/target/lib, for the
# mixed Kafka/Samsa cluster tests (package interop). A no-op when that was
# done for this very pom.xml.
set -euo pipefail
dir=$(cd "$(dirname "$0")/../interop" && pwd)
stamp=$dir/target/lib/.pom.sha256
sum=$(sha256sum "$dir/pom.xml" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then exit 0; fi
echo "install-kafka39: downloading Kafka 3.9 broker jars from Maven Central" >&2
rm -rf "$dir/target/lib"
(cd "$dir" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=target/lib) >&2
echo "$sum" >"$stamp"
