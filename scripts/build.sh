#!/usr/bin/env bash
# Builds the project. `scripts/build.sh` builds build/ (what the tests and the demo use);
# `scripts/build.sh release` builds build-release/ as the container image does.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
case "${1:-dev}" in
  dev)     dir=build;         type=RelWithDebInfo ;;
  release) dir=build-release; type=Release ;;
  *) echo "usage: scripts/build.sh [dev|release]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" >/dev/null
cmake --build "$dir" -j "$jobs"
