#!/usr/bin/env bash
# Installs every Debian package that the build, the tests and the demo need.
# Safe to run any number of times: it only calls apt-get when something is missing.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config git ca-certificates openssl curl
  libcurl4-openssl-dev libssl-dev libyaml-dev libcjson-dev libcmocka-dev libmicrohttpd-dev
  clang libclang-rt-dev valgrind python3 python3-yaml
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# kubectl: any recent one on PATH will do; otherwise Debian's kubernetes-client provides it.
if ! command -v kubectl >/dev/null 2>&1; then
  missing+=(kubernetes-client)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
