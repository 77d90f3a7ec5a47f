#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, then builds and runs every
# test plain (with valgrind over the unit tests), under AddressSanitizer + UndefinedBehavior-
# Sanitizer, the threaded tests under ThreadSanitizer, and each fuzz target for a short time.
#
#   scripts/test.sh            everything
#   scripts/test.sh quick      the plain build only
#
# Environment: JOBS (parallel build and test jobs, default: nproc), FUZZ_SECONDS (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mode=${1:-all}
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-10}

bash scripts/deps.sh

declare -a summary=()
failed=0

stage() { printf '\n==== %s ====\n' "$*"; }

run_ctest() { # name builddir ctest-args...
  local name=$1 dir=$2
  shift 2
  local start=$SECONDS rc=0
  (cd "$dir" && ctest --output-on-failure -j "$jobs" "$@") || rc=$?
  local took=$((SECONDS - start))
  if [ $rc -eq 0 ]; then
    summary+=("$name: ok (${took}s)")
  else
    summary+=("$name: FAILED (${took}s)")
    failed=1
  fi
}

build() { # dir [--target T] cmake-args...
  local dir=$1 target=()
  shift
  if [ "${1:-}" = --target ]; then target=(--target "$2"); shift 2; fi
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" "${target[@]}"
}

stage "plain build (gcc)"
build build -DVALGRIND=ON
run_ctest "plain" build -LE 'valgrind|fuzz'
[ "$mode" = quick ] && { printf '%s\n' "${summary[@]}"; exit $failed; }

stage "release build (the container image's build step)"
start=$SECONDS
if bash scripts/build.sh release && build-release/bin/elb-certsync version >/dev/null; then
  summary+=("release build: ok ($((SECONDS - start))s)")
else
  summary+=("release build: FAILED"); failed=1
fi

stage "valgrind (unit tests)"
run_ctest "valgrind" build -L valgrind

stage "AddressSanitizer + UndefinedBehaviorSanitizer"
build build-asan -DSANITIZE=address
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_ctest "asan+ubsan" build-asan -LE 'valgrind|fuzz'

stage "ThreadSanitizer (threaded tests)"
build build-tsan -DSANITIZE=thread
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  run_ctest "tsan" build-tsan -L threaded

stage "libFuzzer (${fuzz_seconds}s per target)"
CC=clang build build-fuzz --target fuzzers -DFUZZ=ON -DFUZZ_SECONDS="$fuzz_seconds"
run_ctest "fuzz" build-fuzz -L fuzz -j 1

printf '\n==== summary ====\n'
printf '%s\n' "${summary[@]}"
exit $failed
