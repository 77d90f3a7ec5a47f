#!/usr/bin/env bash
# test_demo.sh -- runs scripts/demo.sh (the README's first command) as a newcomer would, with
# the binaries of the build tree under test, and checks what it claims against facts:
#   1. usage errors: exit 2 with a message, nothing started, nothing of the user's touched;
#   2. huawei: exit 0; the IDs it prints as bound/deleted tell a real rotation (first bound =
#      deleted, second bound differs); every process it started has stopped, the controller
#      with status 0; no private key in its output or left on disk; the credentials file gone;
#   3. ucloud with --keep: the same from the output, then the kept emulator's state must agree
#      (listener on the new certificate, old one gone, the listener's previous one kept); no
#      slice of the Secret's real key in the output or any log; the printed stop command
#      stops every process;
#   4. a controller that never binds (run with --dry-run through a wrapper): exit 1 within the
#      --timeout, a message saying what did not happen, the controller log's tail, and
#      everything stopped and cleaned as in 2;
#   5. an emulator that exits at start: exit 1, its log shown, the other one stopped;
#   6. `demo.sh | head`: the reader goes away (SIGPIPE), everything is stopped all the same;
#   7. SIGTERM once the controller is ready, even with --keep: everything stopped, nothing kept.
#
#   test_demo.sh BIN_DIR      (BIN_DIR holds elb-certsync, fake-elb, fake-kube-apiserver)
set -euo pipefail

# Processes that `demo.sh --keep` leaves are orphaned when it exits. Become a child subreaper
# (prctl PR_SET_CHILD_SUBREAPER, kept across exec) so that they are reaped here once stopped,
# not left as zombies under an init that may not reap.
if [ -z "${TEST_DEMO_REAPER:-}" ] && command -v python3 >/dev/null; then
  export TEST_DEMO_REAPER=1
  exec python3 -c 'import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
except (OSError, AttributeError):
    pass
# Python ignores SIGPIPE, and an ignored signal is inherited: give the demo the default, as in
# a terminal (case 6 depends on it).
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' bash "$0" "$@"
fi

[ $# -eq 1 ] || { echo "usage: test_demo.sh BIN_DIR" >&2; exit 2; }
BIN=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEMO=$ROOT/scripts/demo.sh
for t in kubectl openssl curl python3; do
  command -v "$t" >/dev/null || { echo "FAIL: $t is not installed" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/test-demo.XXXXXX")

running() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ]
}
# ours PID NAME: PID's command line names NAME (elb-certsync, fake-elb, fake-kube-apiserver):
# not a reused PID. (The name, not the path: a wrapper script execs the real binary.)
ours() { local c; c=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1; [[ $c == *"$2"* ]]; }

# Safety net: whatever a failed check left running is stopped (only the demo's own PIDs).
cleanup() {
  local f pid name
  for f in "$TMP"/*/pids; do
    [ -f "$f" ] || continue
    while read -r pid name _; do
      if running "$pid" && ours "$pid" "$name"; then kill -KILL "$pid" 2>/dev/null || true; fi
    done <"$f"
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

FAILS=0
# section NAME: prints how long the previous section took (figures for the log, never asserted).
SECTION='' SECTION_T=$SECONDS
section() {
  [ -z "$SECTION" ] || echo "test_demo: $SECTION took $((SECONDS - SECTION_T)) s"
  SECTION=$1 SECTION_T=$SECONDS
}
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }

# demo NAME ARGS...: runs the demo with work dir $TMP/NAME, output in $TMP/NAME.out; sets RC.
demo() {
  local name=$1
  shift
  RC=0
  timeout -k 5 100 bash "$DEMO" --no-build --bin-dir "${DEMO_BIN:-$BIN}" --work-dir "$TMP/$name" "$@" \
    </dev/null >"$TMP/$name.out" 2>&1 || RC=$?
}
show() { echo "---- output of demo $1 ----" >&2; cat "$TMP/$1.out" >&2; echo "----" >&2; }

# check_stopped NAME [N]: every process the demo recorded has stopped, and there were N (3).
check_stopped() {
  local pid name n=0 want=${2:-3}
  [ -s "$TMP/$1/pids" ] || { fail "$1: no pids file"; return; }
  while read -r pid name _; do
    n=$((n + 1))
    if running "$pid" && ours "$pid" "$name"; then fail "$1: $name (pid $pid) still runs"; fi
    grep -q "pid $pid" "$TMP/$1.out" || fail "$1: the output does not name $name's pid $pid"
  done <"$TMP/$1/pids"
  [ "$n" = "$want" ] || fail "$1: $n processes recorded, expected $want"
}

# check_no_keys NAME: no private key in the output or anywhere in the work dir, no credentials.
check_no_keys() {
  if grep -q 'PRIVATE KEY' "$TMP/$1.out"; then fail "$1: 'PRIVATE KEY' in the output"; fi
  if grep -rqs 'PRIVATE KEY' "$TMP/$1"; then
    fail "$1: a private key left in the work dir: $(grep -rls 'PRIVATE KEY' "$TMP/$1" | head -n 3)"
  fi
  if [ -n "$(find "$TMP/$1" -name '*.key' 2>/dev/null)" ]; then fail "$1: *.key files left"; fi
  [ ! -e "$TMP/$1/credentials" ] || fail "$1: the credentials file was left"
}

# parse_rotation NAME: sets ID1 (first bound), ID2 (second bound), GONE (deleted) from the
# output, and checks that they tell a rotation.
parse_rotation() {
  local out=$TMP/$1.out bound
  mapfile -t bound < <(sed -n 's/^ *bound: *certificate \([^ ]*\) (\(k8s_plb_default_demo_[^)]*\)).*/\1/p' "$out")
  GONE=$(sed -n 's/^ *deleted: *certificate \([^ ]*\) (k8s_plb_default_demo_.*no longer exists.*/\1/p' "$out")
  ID1=${bound[0]:-} ID2=${bound[1]:-}
  [ "${#bound[@]}" = 2 ] || { fail "$1: expected 2 'bound:' lines, got ${#bound[@]}"; return; }
  [ -n "$GONE" ] || { fail "$1: no 'deleted:' line"; return; }
  [ "$GONE" = "$ID1" ] || fail "$1: deleted $GONE, but the first bound certificate was $ID1"
  [ "$ID2" != "$ID1" ] || fail "$1: the same certificate $ID1 bound twice: no rotation"
  grep -qF "Rotation done in" "$out" || fail "$1: no 'Rotation done' line"
  grep -qF ": $ID1 -> $ID2 on listener" "$out" || fail "$1: the summary does not say $ID1 -> $ID2"
}

# ---- 1. usage errors ----
section usage

demo bad-provider --provider aws
[ "$RC" = 2 ] || fail "--provider aws: exit $RC, expected 2"
grep -q -- '--provider must be huawei or ucloud' "$TMP/bad-provider.out" || fail "--provider aws: no clear message"
[ ! -e "$TMP/bad-provider" ] || fail "--provider aws: the work dir was created anyway"

demo bad-timeout --timeout 0
[ "$RC" = 2 ] || fail "--timeout 0: exit $RC, expected 2"

mkdir -p "$TMP/used" && echo "mine" >"$TMP/used/notes.txt"
demo used
[ "$RC" = 2 ] || fail "non-empty --work-dir: exit $RC, expected 2"
grep -q 'must be new or empty' "$TMP/used.out" || fail "non-empty --work-dir: no clear message"
if [ "$(ls -A "$TMP/used")" != notes.txt ] || [ "$(cat "$TMP/used/notes.txt")" != mine ]; then
  fail "non-empty --work-dir: its content was touched"
fi

DEMO_BIN=$TMP/nowhere demo no-bin
[ "$RC" != 0 ] || fail "missing --bin-dir: exit 0"
grep -q -- '--bin-dir' "$TMP/no-bin.out" || fail "missing --bin-dir: no clear message"

# ---- 2. huawei ----
section huawei

demo huawei --provider huawei
if [ "$RC" != 0 ]; then show huawei; die "huawei: exit $RC"; fi
parse_rotation huawei
check_stopped huawei
check_no_keys huawei
for name in elb-certsync fake-kube-apiserver fake-elb; do
  grep -q "stopped $name (pid [0-9]*, exit status 0)" "$TMP/huawei.out" ||
    fail "huawei: $name did not exit 0 on SIGTERM"
done
# Under the sanitizer builds: no report in any log of the three programs.
if grep -lE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$TMP"/huawei/logs/*.log; then
  fail "huawei: a sanitizer report in the logs above"
fi
grep -q 'CertificateRotated' "$TMP/huawei.out" || fail "huawei: no CertificateRotated Event shown"
grep -q 'ELB.8904 (HTTP 404)' "$TMP/huawei.out" || fail "huawei: the API's 404 for the old certificate is not shown"
if [ ! -s "$TMP/huawei/kubeconfig" ] || [ ! -s "$TMP/huawei/logs/elb-certsync.log" ]; then
  fail "huawei: the kubeconfig and the logs were not kept"
fi
[ "$(stat -c %a "$TMP/huawei")" = 700 ] || fail "huawei: work dir mode $(stat -c %a "$TMP/huawei")"
[ "$FAILS" = 0 ] || show huawei

# ---- 3. ucloud, --keep ----
section ucloud-keep

demo keep --provider ucloud --keep
if [ "$RC" != 0 ]; then show keep; die "ucloud --keep: exit $RC"; fi
parse_rotation keep
W=$TMP/keep
while read -r pid name _; do
  if ! running "$pid" || ! ours "$pid" "$name"; then fail "--keep: $name (pid $pid) is not running"; fi
done <"$W/pids"
grep -qF "bash $W/stop.sh" "$TMP/keep.out" || fail "--keep: the stop command is not printed"
grep -qF "export KUBECONFIG=\$PWD/kubeconfig" "$TMP/keep.out" || fail "--keep: no kubeconfig to keep playing"

# The emulator's state agrees with what the demo printed.
python3 - "http://127.0.0.1:$(cat "$W/elb.port")" "$ID1" "$ID2" <<'PY' || fail "--keep: the emulator's state disagrees"
import json, sys, urllib.request
endpoint, old, new = sys.argv[1:]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
st = json.load(opener.open(endpoint + "/_fake/state", timeout=5))["ucloud"]
ids = {c["SSLId"]: c["SSLName"] for c in st["certificates"]}
vs = [v for u in st["ulbs"] if u["ULBId"] == "ulb-demo0001" for v in u["VServers"]
      if v["VServerId"] == "vserver-https443"][0]
problems = []
if vs["SSLIds"] != [new]:
    problems.append("the VServer holds %s, expected [%s]" % (vs["SSLIds"], new))
if old in ids:
    problems.append("the old certificate %s still exists" % old)
if not ids.get(new, "").startswith("k8s_plb_default_demo_shop.web-tls_"):
    problems.append("the new certificate is named %r" % ids.get(new))
if "ssl-demo0001" not in ids:
    problems.append("the VServer's previous certificate ssl-demo0001 was deleted")
if problems:
    print("; ".join(problems), file=sys.stderr)
    sys.exit(1)
PY

# The Secret's real key (from the kept API server) appears nowhere the demo wrote or printed.
KEYB64=$(timeout 30 kubectl --kubeconfig "$W/kubeconfig" --cache-dir "$W/kubectl-cache" \
  --request-timeout=10s get secret web-tls -n shop -o 'jsonpath={.data.tls\.key}') ||
  fail "--keep: cannot read the Secret back"
python3 - "$KEYB64" "$TMP/keep.out" "$W"/logs/*.log <<'PY' || fail "--keep: key material leaked"
import base64, sys
b64, files = sys.argv[1], sys.argv[2:]
pem = base64.b64decode(b64).decode()
assert "PRIVATE KEY" in pem, "the Secret holds no key"
body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
slices = [body[i:i + 32] for i in range(0, len(body) - 32, 200)] + [b64[len(b64) // 2:][:32]]
bad = [f for f in files for s in slices if s in open(f, errors="replace").read()]
if bad:
    print("key material in: %s" % sorted(set(bad)), file=sys.stderr)
    sys.exit(1)
PY

timeout 30 bash "$W/stop.sh" >"$TMP/stop.out" 2>&1 || fail "stop.sh failed: $(cat "$TMP/stop.out")"
check_stopped keep
check_no_keys keep
[ "$(grep -c '^stopped ' "$TMP/stop.out")" = 3 ] || fail "stop.sh: $(cat "$TMP/stop.out")"
[ "$FAILS" = 0 ] || show keep

# ---- 4. a controller that never binds ----
section never-bound

mkdir -p "$TMP/dry-bin"
ln -s "$BIN/fake-elb" "$BIN/fake-kube-apiserver" "$TMP/dry-bin/"
cat >"$TMP/dry-bin/elb-certsync" <<EOF
#!/bin/sh
# elb-certsync with --dry-run on 'run': reads everything, writes nothing to the load balancer.
if [ "\$1" = run ]; then exec "$BIN/elb-certsync" "\$@" --dry-run; fi
exec "$BIN/elb-certsync" "\$@"
EOF
chmod +x "$TMP/dry-bin/elb-certsync"
DEMO_BIN=$TMP/dry-bin demo never --timeout 3
[ "$RC" = 1 ] || { show never; fail "never bound: exit $RC, expected 1"; }
grep -q '^FAILED: after 3 s: .*not a managed one' "$TMP/never.out" ||
  fail "never bound: no clear message of what did not happen"
grep -q 'dry-run: would' "$TMP/never.out" || fail "never bound: the controller log's tail is not shown"
if grep -q 'Rotation done' "$TMP/never.out"; then fail "never bound: claims a rotation"; fi
check_stopped never
check_no_keys never
[ "$FAILS" = 0 ] || show never

# ---- 5. an emulator that does not start ----
section broken-emulator

mkdir -p "$TMP/broken-bin"
ln -s "$BIN/elb-certsync" "$BIN/fake-kube-apiserver" "$TMP/broken-bin/"
printf '#!/bin/sh\necho "fake-elb: seed: invalid (for the test)" >&2\nexit 1\n' >"$TMP/broken-bin/fake-elb"
chmod +x "$TMP/broken-bin/fake-elb"
DEMO_BIN=$TMP/broken-bin demo broken
[ "$RC" = 1 ] || { show broken; fail "broken emulator: exit $RC, expected 1"; }
grep -q '^FAILED: fake-elb exited before serving' "$TMP/broken.out" || fail "broken emulator: no clear message"
grep -q 'seed: invalid (for the test)' "$TMP/broken.out" || fail "broken emulator: its log is not shown"
check_stopped broken 2
check_no_keys broken
[ "$FAILS" = 0 ] || show broken

# ---- 6. the reader of the output goes away (bash scripts/demo.sh | head) ----
section pipe

timeout -k 5 60 bash "$DEMO" --no-build --bin-dir "$BIN" --work-dir "$TMP/pipe" </dev/null 2>&1 |
  head -n 10 >"$TMP/pipe.out" || true
check_stopped pipe 2
check_no_keys pipe

# ---- 7. SIGTERM in the middle (with --keep: an interrupted demo keeps nothing) ----
section sigterm

bash "$DEMO" --no-build --bin-dir "$BIN" --work-dir "$TMP/term" --keep </dev/null >"$TMP/term.out" 2>&1 &
DEMO_PID=$!
deadline=$((SECONDS + 60))
until grep -q 'ready (GET /readyz: 200)' "$TMP/term.out" || [ $SECONDS -ge $deadline ] ||
      ! running "$DEMO_PID"; do
  sleep 0.1
done
grep -q 'ready (GET /readyz: 200)' "$TMP/term.out" || fail "sigterm: the controller did not get ready"
kill -TERM "$DEMO_PID"
deadline=$((SECONDS + 30))
while running "$DEMO_PID" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
if running "$DEMO_PID"; then kill -KILL "$DEMO_PID"; fail "sigterm: the demo did not exit within 30 s"; fi
RC=0
wait "$DEMO_PID" || RC=$?
[ "$RC" = 143 ] || fail "sigterm: exit $RC, expected 143"
check_stopped term
check_no_keys term
[ "$FAILS" = 0 ] || show term

section end
if [ "$FAILS" != 0 ]; then
  echo "test_demo: $FAILS check(s) failed" >&2
  exit 1
fi
echo "test_demo: ok (huawei rotation $(sed -n 's/^Rotation done in \([0-9.]* s\).*/\1/p' "$TMP/huawei.out"), ucloud --keep, usage errors, never-bound controller, broken emulator, | head, SIGTERM)"
