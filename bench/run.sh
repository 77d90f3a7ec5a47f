#!/usr/bin/env bash
# run.sh -- runs the elb-certsync benchmarks (bench/README.md): the real controller against
# fake-kube-apiserver and fake-elb on 127.0.0.1, at 100, 1,000 and 10,000 TLS Secrets.
#
#   bash bench/run.sh [--sizes 100,1000,10000] [--quick] [--provider huawei|ucloud]
#                     [--steady-seconds 60] [--bin-dir DIR] [--json FILE] [bench.py flags...]
#
# Binaries come from the release build (build-release/bin, made by `scripts/build.sh release`
# when missing) unless --bin-dir says otherwise. The data generator (bench-gen) is taken from
# the bin directory when a CMake build made it, else compiled here with cc. Generated data
# sets are cached per size in <bin-dir>/../bench-data. Figures go to bench/results/latest.json
# unless --json says otherwise. Never part of ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=""
json="$root/bench/results/latest.json"
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir=$2; shift 2 ;;
    --bin-dir=*) bin_dir=${1#*=}; shift ;;
    --json) json=$2; shift 2 ;;
    --json=*) json=${1#*=}; shift ;;
    -h|--help)
      sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
      exec python3 "$root/bench/bench.py" --help ;;
    *) pass+=("$1"); shift ;;
  esac
done

if [ -z "$bin_dir" ]; then
  bin_dir="$root/build-release/bin"
  if [ ! -x "$bin_dir/elb-certsync" ] || [ ! -x "$bin_dir/fake-elb" ] ||
     [ ! -x "$bin_dir/fake-kube-apiserver" ]; then
    echo "bench: no release build in $bin_dir: building it (scripts/build.sh release)" >&2
    bash "$root/scripts/build.sh" release
  fi
fi
bin_dir=$(cd "$bin_dir" && pwd)
for b in elb-certsync fake-elb fake-kube-apiserver; do
  if [ ! -x "$bin_dir/$b" ]; then
    echo "bench: missing $bin_dir/$b (build it first)" >&2
    exit 2
  fi
done

data_dir="$(dirname "$bin_dir")/bench-data"
mkdir -p "$data_dir"
chmod 700 "$data_dir"
gen="$bin_dir/bench-gen"
if [ ! -x "$gen" ]; then
  gen="$data_dir/bench-gen"
  if [ ! -x "$gen" ] || [ "$root/bench/gen.c" -nt "$gen" ]; then
    echo "bench: compiling bench-gen into $data_dir" >&2
    ${CC:-cc} -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$root" \
      "$root/bench/gen.c" "$root/common/err.c" -lcrypto -o "$gen.tmp"
    mv "$gen.tmp" "$gen"
  fi
fi

exec python3 "$root/bench/bench.py" --bin-dir "$bin_dir" --gen "$gen" --data-dir "$data_dir" \
  --json "$json" ${pass[@]+"${pass[@]}"}
