#!/usr/bin/env bash
# System tools the test suite drives (installed from Debian's packages, never by hand):
#   chromium, zbar-tools              the buyer's HTML report in a real browser, its QR code
#   golang-go, golang-golang-x-mod-dev Go's reference tlog/note check of our proofs
# Idempotent and quiet: installs only what is missing. Needs root (as on CI).
set -euo pipefail
want=(chromium zbar-tools golang-go golang-golang-x-mod-dev)
missing=()
for pkg in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: missing ${missing[*]}; run as root: sudo $0" >&2
    exit 1
fi
echo "install-test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
