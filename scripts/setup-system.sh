#!/usr/bin/env bash
# Install the Debian packages listed in scripts/system-packages/*.txt, and those named as
# arguments (the targets' own, which `make setup` reads from labrys.targets), that are missing.
# Quick when nothing is missing: one dpkg query, no apt-get at all.
set -euo pipefail
cd "$(dirname "$0")/.."

wanted=$( (cat scripts/system-packages/*.txt; printf '%s\n' "$@") | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for pkg in $wanted; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "labrys setup: these Debian packages are missing: ${missing[*]}" >&2
  echo "labrys setup: run 'sudo make setup' once, or install them with apt-get" >&2
  exit 1
fi
echo "labrys setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Daemons from these packages must not start on the host: labrys starts its own, on
# its own nodes. policy-rc.d is Debian's switch for that, restored afterwards.
policy=/usr/sbin/policy-rc.d
had_policy=0; [[ -e $policy ]] && had_policy=1
if [[ $had_policy -eq 0 ]]; then printf '#!/bin/sh\nexit 101\n' > $policy; chmod +x $policy; fi
trap '[[ $had_policy -eq 0 ]] && rm -f $policy' EXIT
apt-get update -qq || true
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
