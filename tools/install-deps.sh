#!/usr/bin/env bash
# Installs what building and testing nsqd needs on Debian 12 (bookworm). Idempotent.
set -euo pipefail
packages=(
  g++ meson ninja-build pkg-config
  liburing-dev
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev libboost-test1.81-dev
  libtomlplusplus-dev
  libsnappy-dev zlib1g-dev
  libssl-dev  # TLS (OpenSSL 3)
  openssl     # the command line tool: the TLS tests make their certificates with it
  python3
  systemd   # systemd-socket-activate and systemd-analyze, for the systemd tests
  curl      # HTTP over unix sockets in the tests
  dpkg-dev lintian   # tools/build-deb.sh and its test
)
# Node.js runs the interop tests with nsqjs from npm (any Node >= 18 will do).
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
