#!/usr/bin/env bash
# Fetch the JUnit XML schema that CI systems validate test reports against: the Jenkins
# xUnit plugin's junit-10.xsd, which pytest ships in its source distribution on PyPI
# (testing/example_scripts/junit-10.xsd, used by pytest's own tests of --junitxml).
# tests/unit/test_suite_report.py validates `labrys suite --junit` output against it.
#
# It comes through pip, the package registry's own client, into the venv; it is never
# copied into the repository. Once fetched, later runs do nothing.
#
# Usage: scripts/fetch-junit-xsd.sh        (VENV=path overrides .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
out="$VENV/share/labrys/junit-10.xsd"
if [ -s "$out" ]; then
    exit 0
fi
version="$("$VENV/bin/python" -c 'import pytest; print(pytest.__version__)')"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$VENV/bin/pip" download -q --no-deps --no-binary :all: -d "$tmp" "pytest==$version"
mkdir -p "$(dirname "$out")"
tar -xzf "$tmp"/pytest-*.tar.gz -O --wildcards '*/testing/example_scripts/junit-10.xsd' > "$out.tmp"
mv "$out.tmp" "$out"
echo "JUnit schema: $out (from pytest $version's source distribution)"
