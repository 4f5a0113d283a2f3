#!/usr/bin/env bash
# Fetch Apache Cassandra's server jars (org.apache.cassandra:cassandra-all and its runtime
# dependencies) from Maven Central into labrys's cache, once per version.
#
# Cassandra has no Debian package, and its binary tarball is not on a package registry,
# but Maven Central serves the server itself as cassandra-all: a throwaway pom with that
# one dependency and `mvn dependency:copy-dependencies` gives every jar CassandraDaemon
# needs (about 100 jars, 67 MB). labrys writes the configuration the tarball would have
# supplied itself (labrys/targets/_cassandra_config.py).
#
# Where: ${XDG_CACHE_HOME:-$HOME/.cache}/labrys/cassandra/VERSION/lib, outside the
# repository (labrys/targets/_cassandra_jars.py computes the same path). Maven's own
# repository goes beside it (…/cassandra/m2), so nothing lands in ~/.m2.
#
# - Already fetched (VERSION/.complete exists): one line, exit 0, no Maven at all.
# - No java or mvn: one line saying what to install, exit 0 (the Cassandra tests then
#   skip and say why); scripts/system-packages/targets.txt lists both for make setup.
#
# Usage: scripts/fetch-cassandra.sh [VERSION]     (default 5.0.9)
set -euo pipefail
version="${1:-5.0.9}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/labrys/cassandra"
dest="$cache/$version"

if [ -f "$dest/.complete" ]; then
    echo "cassandra $version: jars already in $dest/lib"
    exit 0
fi
for tool in java mvn; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "cassandra $version: skipped (no $tool on PATH; install openjdk-17-jre-headless" \
             "and maven, e.g. with make setup as root)"
        exit 0
    fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>labrys</groupId>
  <artifactId>cassandra-jars</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>$version</version>
    </dependency>
  </dependencies>
</project>
EOF
rm -rf "$dest"
mkdir -p "$dest"
echo "cassandra $version: fetching cassandra-all and its runtime dependencies with Maven"
# Maven's output is kept and shown only if it fails (its quiet mode still prints
# terminal colour codes).
if ! mvn -B -q -Dstyle.color=never -f "$work/pom.xml" -Dmaven.repo.local="$cache/m2" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dest/lib" \
        > "$work/mvn.log" 2>&1; then
    tail -n 20 "$work/mvn.log" >&2
    echo "cassandra $version: Maven could not fetch org.apache.cassandra:cassandra-all:$version" >&2
    rm -rf "$dest"
    exit 1
fi
touch "$dest/.complete"
echo "cassandra $version: $(ls "$dest/lib" | wc -l) jars in $dest/lib"
