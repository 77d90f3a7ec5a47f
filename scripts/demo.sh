#!/usr/bin/env bash
# demo.sh -- the newcomer's first run of elb-certsync, on one machine, on loopback only.
#
# Installs what is needed (scripts/deps.sh), builds (scripts/build.sh), starts the two
# emulators (fake-kube-apiserver over TLS, fake-elb seeded with tests/data/fake-elb/demo-seed.json)
# on 127.0.0.1, applies a Namespace, a TLS Secret and an Ingress with kubectl, runs the
# controller, shows the managed certificate bound on the emulated load balancer, rotates the
# Secret with a certificate made on the spot by OpenSSL, shows the new one bound and the old one
# deleted, and stops everything it started (unless --keep). Exit 0 only if the rotation really
# happened; otherwise a message saying what did not happen, and the tail of the controller log.
#
# Private keys: generated test keys, written (mode 0600, in a 0700 directory) only for as long
# as kubectl needs them, never printed; removed at exit in every case.
#
#   bash scripts/demo.sh [--provider huawei|ucloud] [--keep] [--no-build] [--bin-dir DIR]
#                        [--work-dir DIR] [--timeout SECONDS]
set -euo pipefail
umask 077

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SEED=$ROOT/tests/data/fake-elb/demo-seed.json
DATA=$ROOT/tests/data/demo
CLUSTER_ID=demo
HOST=shop.example.com

usage() {
  cat <<EOF
usage: bash scripts/demo.sh [options]

Shows elb-certsync keeping a load balancer's HTTPS certificate in step with a Kubernetes TLS
Secret, against local emulators of Kubernetes and the cloud (127.0.0.1 only, nothing else).

  --provider huawei|ucloud  which cloud's load balancer to emulate (default huawei)
  --keep                    leave the emulators and the controller running at the end, to keep
                            playing; the demo prints how to stop them
  --no-build                do not run scripts/deps.sh and scripts/build.sh
  --bin-dir DIR             where elb-certsync, fake-elb and fake-kube-apiserver are
                            (default: build/bin of this checkout)
  --work-dir DIR            new or empty directory for the kubeconfig, logs and certificates
                            (default: a fresh one under \${TMPDIR:-/tmp})
  --timeout SECONDS         bound of each wait (default 20)
  -h, --help                this text
EOF
}

die_usage() {
  echo "demo.sh: $*" >&2
  echo "Try: bash scripts/demo.sh --help" >&2
  exit 2
}

PROVIDER=huawei
KEEP=0
BUILD=1
BIN_DIR=
WORK=
TIMEOUT=20
while [ $# -gt 0 ]; do
  case $1 in
    --provider) [ $# -ge 2 ] || die_usage "--provider needs a value"; PROVIDER=$2; shift 2 ;;
    --provider=*) PROVIDER=${1#*=}; shift ;;
    --keep) KEEP=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --bin-dir) [ $# -ge 2 ] || die_usage "--bin-dir needs a value"; BIN_DIR=$2; shift 2 ;;
    --bin-dir=*) BIN_DIR=${1#*=}; shift ;;
    --work-dir) [ $# -ge 2 ] || die_usage "--work-dir needs a value"; WORK=$2; shift 2 ;;
    --work-dir=*) WORK=${1#*=}; shift ;;
    --timeout) [ $# -ge 2 ] || die_usage "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
    --timeout=*) TIMEOUT=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die_usage "unknown argument: $1" ;;
  esac
done
case $PROVIDER in
  huawei|ucloud) ;;
  *) die_usage "--provider must be huawei or ucloud, not '$PROVIDER'" ;;
esac
case $TIMEOUT in
  ''|*[!0-9]*) die_usage "--timeout must be a whole number of seconds, not '$TIMEOUT'" ;;
esac
if [ ${#TIMEOUT} -gt 3 ] || [ "$TIMEOUT" -lt 1 ] || [ "$TIMEOUT" -gt 600 ]; then die_usage "--timeout must be 1..600 seconds"; fi

# The demo's choices per cloud: the load balancer of the seed, and the Ingress class the
# controller answers to (cce on Huawei CCE, ulb as deploy/overlays/ucloud ships it).
if [ "$PROVIDER" = huawei ]; then
  CLOUD="Huawei Cloud ELB (v3 API)"; LB=lb-demo-1; PORT=443; CLASS=cce
  INGRESS=$DATA/ingress-huawei.yaml
else
  CLOUD="UCloud ULB (classic load balancer)"; LB=ulb-demo0001; PORT=443; CLASS=ulb
  INGRESS=$DATA/ingress-ucloud.yaml
fi

# Loopback never goes through a proxy (curl and libcurl honour no_proxy; kubectl too).
export no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
unset KUBECONFIG

# ---- output ----

now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
T0=$(now_us)
elapsed() { local d=$(( ($(now_us) - T0) / 100000 )); printf '%d.%d' $((d / 10)) $((d % 10)); }
STEP=0
step() { STEP=$((STEP + 1)); printf '\n[%5s s] %d. %s\n' "$(elapsed)" "$STEP" "$*"; }
say() { printf '           %s\n' "$@"; }
indent() { sed 's/^/           /'; }
# print_cmd ARGV...: a command as it would be typed, '--flag value' kept together, wrapped.
print_cmd() {
  local line=$1 w
  shift
  while [ $# -gt 0 ]; do
    w=$1; shift
    if [ "${w#--}" != "$w" ] && [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then w="$w $1"; shift; fi
    if [ $(( ${#line} + ${#w} )) -gt 84 ]; then say "$line \\"; line="    $w"; else line="$line $w"; fi
  done
  say "$line"
}

# ---- state of the run, for cleanup ----

CTL_PID=
KUBE_PID=
ELB_PID=
STOPPED=0

# Python helpers (stdlib only): the seed, the emulator's state, the API's answers. Few calls:
# a Python start costs 0.1-0.5 s on a busy machine, so each wait is one call polling inside.
read -r -d '' PYHELPER <<'PY' || true
import base64, hashlib, json, os, socket, sys, time

def fp_hex(pem):
    """SHA-256 over the DER of the first certificate of a PEM text, lowercase hex."""
    begin = pem.index("-----BEGIN CERTIFICATE-----") + len("-----BEGIN CERTIFICATE-----")
    end = pem.index("-----END CERTIFICATE-----", begin)
    return hashlib.sha256(base64.b64decode("".join(pem[begin:end].split()))).hexdigest()

def get_state(endpoint):
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(endpoint + "/_fake/state", timeout=5) as r:
        return json.loads(r.read())

def certs(provider, state):
    """{id: (name, pem)} of the provider's certificates in the emulator."""
    if provider == "huawei":
        return {c["id"]: (c["name"], c.get("certificate", "")) for c in state["huawei"]["certificates"]}
    return {c["SSLId"]: (c["SSLName"], c.get("UserCert", "")) for c in state["ucloud"]["certificates"]}

def listener_default(provider, state, lb, listener):
    if provider == "huawei":
        for b in state["huawei"]["loadbalancers"]:
            for l in b["listeners"] if b["id"] == lb else []:
                if l["id"] == listener:
                    return l["default_tls_container_ref"]
    else:
        for u in state["ucloud"]["ulbs"]:
            for v in u["VServers"] if u["ULBId"] == lb else []:
                if v["VServerId"] == listener:
                    # a classic VServer holds one certificate: its first is the default
                    return v["SSLIds"][0] if v["SSLIds"] else None
    raise ValueError("listener %s of %s is not in the emulator's state" % (listener, lb))

def cmd_seed(provider, seed_path, lb, port, cred_path):
    """Region, project, listener and its certificate of the demo's load balancer, from the
    seed; a free loopback port for the controller's metrics; writes the seed's api-role
    credentials to cred_path (0600, a new file)."""
    seed = json.load(open(seed_path))[provider]
    port = int(port)
    if provider == "huawei":
        b = [x for x in seed["loadbalancers"] if x["id"] == lb]
        if not b:
            raise ValueError("seed %s: no load balancer %s" % (seed_path, lb))
        b = b[0]
        region = [p["region"] for p in seed["projects"] if p["id"] == b["project_id"]][0]
        project = b["project_id"]
        ls = [l for l in b["listeners"] if l["protocol"] == "HTTPS" and l["port"] == port]
        listener = ls[0]["id"] if ls else None
        original = ls[0]["default_tls_container_ref"] if ls else None
        names = {c["id"]: c["name"] for c in seed["certificates"]}
        cred = [c for c in seed["credentials"] if c["role"] == "api"][0]
        text = "HUAWEICLOUD_SDK_AK=%s\nHUAWEICLOUD_SDK_SK=%s\n" % (cred["ak"], cred["sk"])
    else:
        u = [x for x in seed["ulbs"] if x["ULBId"] == lb]
        if not u:
            raise ValueError("seed %s: no ULB %s" % (seed_path, lb))
        u = u[0]
        region, project = u["Region"], u["ProjectId"]
        vs = [v for v in u["VServers"] if v["Protocol"] == "HTTPS" and v["FrontendPort"] == port]
        listener = vs[0]["VServerId"] if vs else None
        original = vs[0]["SSLIds"][0] if vs and vs[0]["SSLIds"] else None
        names = {c["SSLId"]: c["SSLName"] for c in seed["certificates"]}
        cred = [c for c in seed["credentials"] if c["role"] == "api"][0]
        text = "UCLOUD_PUBLIC_KEY=%s\nUCLOUD_PRIVATE_KEY=%s\n" % (cred["public_key"], cred["private_key"])
    if not listener or not original:
        raise ValueError("seed %s: %s has no HTTPS listener with a certificate on port %d"
                         % (seed_path, lb, port))
    fd = os.open(cred_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    # the controller's --metrics-addr needs a concrete port (it writes no port file)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        metrics_port = s.getsockname()[1]
    print("region=%s\nproject=%s\nlistener=%s\noriginal=%s\noriginal_name=%s\nmetrics_port=%d"
          % (region, project, listener, original, names.get(original, "?"), metrics_port))

def running(pid):
    try:
        st = open("/proc/%s/stat" % pid).read()
    except OSError:
        return False
    return st.rsplit(")", 1)[1].split()[0] != "Z"

def cmd_wait(provider, endpoint, lb, listener, want_fp, gone_id, original, pem_out, pid, timeout):
    """Polls the emulator every 0.2 s until the listener's default certificate is a managed
    one of this cluster holding the certificate of fingerprint want_fp and, unless gone_id is
    '-', certificate gone_id no longer exists; then writes the bound PEM to pem_out and prints
    'ID NAME ORIGINAL_KEPT'. Exit 3 after timeout seconds, 4 if the controller exits, saying
    what is there instead."""
    want = want_fp.replace(":", "").lower()
    deadline = time.monotonic() + float(timeout)
    while True:
        if not running(pid):
            print("the controller exited")
            sys.exit(4)
        try:
            state = get_state(endpoint)
            cs = certs(provider, state)
            cur = listener_default(provider, state, lb, listener)
            name, pem = cs.get(cur, ("(unknown)", ""))
            problems = []
            if not name.startswith("k8s_plb_default_demo_"):
                problems.append("the listener's default certificate is %s (%s), not a managed one"
                                % (cur, name))
            elif not pem or fp_hex(pem) != want:
                problems.append("the listener's default certificate %s (%s) is not the Secret's"
                                % (cur, name))
            if gone_id != "-" and gone_id in cs:
                problems.append("the old certificate %s (%s) still exists" % (gone_id, cs[gone_id][0]))
            if not problems:
                with open(pem_out, "w") as f:
                    f.write(pem)
                print(cur, name, "yes" if original in cs else "no")
                return
            last = "; ".join(problems)
        except (OSError, ValueError, KeyError) as e:
            last = "cannot read the emulator's state: %s" % e
        if time.monotonic() >= deadline:
            print("after %s s: %s" % (timeout, last))
            sys.exit(3)
        time.sleep(0.2)

def cmd_api_listener(provider):
    """The listener's certificates from the API's JSON answer on stdin: a line to show, then
    '=' and the default certificate's ID."""
    d = json.load(sys.stdin)
    if provider == "huawei":
        l = d["listener"]
        print("default_tls_container_ref: %s   sni_container_refs: %s"
              % (l["default_tls_container_ref"], l["sni_container_refs"]))
        print("=" + (l["default_tls_container_ref"] or ""))
    else:
        if d.get("RetCode") != 0 or not d.get("DataSet"):
            raise ValueError("DescribeVServer: RetCode %s %s" % (d.get("RetCode"), d.get("Message")))
        ssl_set = d["DataSet"][0].get("SSLSet") or []
        print("SSLSet: %s" % ", ".join("%s (%s)" % (s["SSLId"], s["SSLName"]) for s in ssl_set))
        print("=" + (ssl_set[0]["SSLId"] if ssl_set else ""))

def cmd_api_ssl_count():
    """TotalCount of a UCloud DescribeSSL answer on stdin."""
    d = json.load(sys.stdin)
    if d.get("RetCode") != 0:
        raise ValueError("DescribeSSL: RetCode %s %s" % (d.get("RetCode"), d.get("Message")))
    print(d.get("TotalCount", len(d.get("DataSet") or [])))

cmds = {"seed": cmd_seed, "wait": cmd_wait, "api-listener": cmd_api_listener,
        "api-ssl-count": cmd_api_ssl_count}
try:
    cmds[sys.argv[1]](*sys.argv[2:])
except (OSError, ValueError, KeyError, IndexError) as e:
    print("%s: %s" % (type(e).__name__, e), file=sys.stderr)
    sys.exit(2)
except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the shell reports it
    sys.exit(130)
PY
py() { python3 -c "$PYHELPER" "$@"; }

# ---- processes ----

# Whether PID runs (a zombie does not: it has exited and waits to be reaped).
running() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ]
}

# stop_proc NAME PID SECONDS: SIGTERM, then SIGKILL after SECONDS; prints the exit status.
stop_proc() {
  local name=$1 pid=$2 secs=$3 st=0 deadline
  [ -n "$pid" ] || return 0
  if running "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(now_us) + secs * 1000000 ))
    while running "$pid" && [ "$(now_us)" -lt "$deadline" ]; do sleep 0.1; done
    if running "$pid"; then
      say "$name (pid $pid) did not stop within ${secs} s: killed"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || st=$?
  say "stopped $name (pid $pid, exit status $st)"
}

stop_all() {
  [ "$STOPPED" = 0 ] || return 0
  STOPPED=1
  # The controller first: on SIGTERM it finishes reconciles in flight and exits 0.
  stop_proc elb-certsync "$CTL_PID" 10
  stop_proc fake-kube-apiserver "$KUBE_PID" 5
  stop_proc fake-elb "$ELB_PID" 5
}

remove_keys() {
  [ -n "$WORK" ] && [ -d "$WORK/certs" ] || return 0
  find "$WORK/certs" -name '*.key' -type f -exec rm -f {} + 2>/dev/null || true
}

controller_log_tail() {
  local log=$WORK/logs/elb-certsync.log
  if [ -n "$CTL_PID" ] && [ -s "$log" ]; then
    echo "  last lines of the controller log ($log):" >&2
    tail -n 25 "$log" | sed 's/^/    /' >&2
  fi
}

fail() {
  printf '\nFAILED: %s\n' "$*" >&2
  controller_log_tail
  exit 1
}

INTERRUPTED=0
on_exit() {
  local rc=$?
  # Cleanup must run to its end: no errexit, and a closed stdout (| head) must not stop it.
  set +e
  trap - EXIT
  trap '' INT TERM HUP PIPE
  local kept=0
  if [ "$KEEP" = 1 ] && [ "$INTERRUPTED" = 0 ] && [ "$STOPPED" = 0 ] && [ -n "$ELB_PID$KUBE_PID$CTL_PID" ]; then
    kept=1
    printf '\nStill running, as asked (--keep): stop them with\n    bash %s/stop.sh\n' "$WORK"
  elif [ -n "$ELB_PID$KUBE_PID$CTL_PID" ] && [ "$STOPPED" = 0 ]; then
    printf '\nStopping everything this demo started\n'
    stop_all
  fi
  remove_keys
  # The credentials file stays only while what uses it runs (stop.sh removes it then).
  if [ "$kept" = 0 ] && [ -n "$WORK" ]; then
    rm -f "$WORK/credentials"
  fi
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    printf '\nWork directory: %s (kubeconfig, logs, certificates; private keys removed)\n' "$WORK"
    [ "$kept" = 1 ] || printf 'Remove it when done: rm -rf %s\n' "$WORK"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'INTERRUPTED=1; echo; echo "demo.sh: interrupted" >&2; exit 130' INT
trap 'INTERRUPTED=1; echo "demo.sh: terminated" >&2; exit 143' TERM
# The terminal went away, or the reader of our output did (bash scripts/demo.sh | head):
# stop everything, silently.
trap 'INTERRUPTED=1; exec >/dev/null 2>&1; exit 129' HUP
trap 'INTERRUPTED=1; exec >/dev/null 2>&1; exit 141' PIPE

# wait_port_file NAME PID FILE: the port the process wrote, once it serves.
wait_port_file() {
  local name=$1 pid=$2 file=$3 deadline=$(( $(now_us) + TIMEOUT * 1000000 ))
  while [ "$(now_us)" -lt "$deadline" ]; do
    if [ -s "$file" ]; then cat "$file"; return 0; fi
    running "$pid" || { tail -n 20 "$WORK/logs/$name.log" >&2; fail "$name exited before serving"; }
    sleep 0.02
  done
  fail "$name did not start serving within $TIMEOUT s (log: $WORK/logs/$name.log)"
}

# ---- 0. what is needed ----

need_tools() {
  local t missing=()
  for t in kubectl openssl curl python3; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] || fail "missing ${missing[*]}: run 'bash scripts/deps.sh' (or drop --no-build)"
}

if [ -z "$WORK" ]; then
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/elb-certsync-demo.XXXXXX")
else
  if [ -e "$WORK" ] && [ -n "$(ls -A "$WORK" 2>/dev/null)" ]; then
    WORK=; die_usage "--work-dir must be new or empty (nothing in it is overwritten)"
  fi
  mkdir -p "$WORK"
  WORK=$(cd "$WORK" && pwd)
fi
chmod 700 "$WORK"
mkdir -p "$WORK/logs" "$WORK/certs" "$WORK/kubectl-cache"

echo "elb-certsync demo: $CLOUD, against local emulators (everything on 127.0.0.1)"
say "elb-certsync watches Kubernetes Ingresses and their TLS Secrets, and keeps the load balancer's" \
    "HTTPS certificate in step: it uploads the Secret's certificate and binds it to the listener;" \
    "when the Secret changes, it binds the new certificate first, then deletes the old one." \
    "work directory: $WORK"

if [ "$BUILD" = 1 ]; then
  step "Installing what is needed (scripts/deps.sh: Debian packages, only those missing)"
  bash "$ROOT/scripts/deps.sh" || fail "scripts/deps.sh failed"
  step "Building (scripts/build.sh; a few minutes the first time; output in logs/build.log)"
  # Progress in steps of 10% from CMake's '[ 42%] ...' lines; everything goes to the log.
  if ! bash "$ROOT/scripts/build.sh" 2>&1 | tee "$WORK/logs/build.log" | awk '
      /^\[ *[0-9]+%\]/ { s = $0; sub(/^\[ */, "", s); sub(/%.*/, "", s); p = s + 0
                         if (p >= nx) { printf "           %3d%% built\n", p; fflush(); nx = p - p % 10 + 10 } }'; then
    tail -n 30 "$WORK/logs/build.log" >&2
    fail "the build failed (full output: $WORK/logs/build.log)"
  fi
  say "built in $(elapsed) s; the demo itself starts now"
  T0=$(now_us)
fi
[ -n "$BIN_DIR" ] || BIN_DIR=$ROOT/build/bin
BIN_DIR=$(cd "$BIN_DIR" 2>/dev/null && pwd) ||
  fail "$BIN_DIR: no such directory (build first: bash scripts/build.sh; or give --bin-dir)"
for b in elb-certsync fake-elb fake-kube-apiserver; do
  [ -x "$BIN_DIR/$b" ] || fail "$BIN_DIR/$b is missing: build first (bash scripts/build.sh), or drop --no-build"
done
need_tools
CTL=$BIN_DIR/elb-certsync
KUBE_ARGS=(--kubeconfig "$WORK/kubeconfig" --cache-dir "$WORK/kubectl-cache" --request-timeout=10s)
kc() { timeout 30 kubectl "${KUBE_ARGS[@]}" "$@"; }

# No ELB_CERTSYNC_* variable of the caller's environment may change what the demo runs.
CLEAN_ENV=()
for v in $(compgen -e); do
  case $v in ELB_CERTSYNC_*) CLEAN_ENV+=(-u "$v") ;; esac
done

# ---- 1. the emulators ----

step "Starting the emulators on 127.0.0.1 (any free port)"
"$BIN_DIR/fake-kube-apiserver" --listen 127.0.0.1:0 --tls --port-file "$WORK/kube.port" \
  --kubeconfig-out "$WORK/kubeconfig" --ca-out "$WORK/ca.pem" --quiet \
  </dev/null >"$WORK/logs/fake-kube-apiserver.log" 2>&1 &
KUBE_PID=$!
echo "$KUBE_PID fake-kube-apiserver $BIN_DIR/fake-kube-apiserver" >>"$WORK/pids"
"$BIN_DIR/fake-elb" --listen 127.0.0.1:0 --port-file "$WORK/elb.port" --state "$SEED" --quiet \
  </dev/null >"$WORK/logs/fake-elb.log" 2>&1 &
ELB_PID=$!
echo "$ELB_PID fake-elb $BIN_DIR/fake-elb" >>"$WORK/pids"
KUBE_PORT=$(wait_port_file fake-kube-apiserver "$KUBE_PID" "$WORK/kube.port")
ELB_PORT=$(wait_port_file fake-elb "$ELB_PID" "$WORK/elb.port")
ENDPOINT=http://127.0.0.1:$ELB_PORT
chmod 600 "$WORK/kubeconfig"
# The stop command of --keep: stops exactly these processes (not a reused PID).
cat >"$WORK/stop.sh" <<'EOF'
# Stops what `scripts/demo.sh --keep` left running (the PIDs in ./pids), then removes the
# demo's credentials file. Run: bash stop.sh
cd "$(dirname "$0")" || exit 1
running() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; [ "${s%% *}" != Z ]; }
ours() { local c; c=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null) || return 1; [ "${c%%$'\n'*}" = "$2" ]; }
tac pids | while read -r pid name bin; do
  if running "$pid" && ours "$pid" "$bin"; then
    kill -TERM "$pid"
    for _ in $(seq 100); do running "$pid" || break; sleep 0.1; done
    if running "$pid"; then kill -KILL "$pid"; echo "killed $name (pid $pid)"; else echo "stopped $name (pid $pid)"; fi
  fi
done
rm -f credentials
EOF
say "fake-kube-apiserver  https://127.0.0.1:$KUBE_PORT  pid $KUBE_PID  a Kubernetes API server (TLS, bearer token)" \
    "                     its kubeconfig: $WORK/kubeconfig" \
    "fake-elb             $ENDPOINT  pid $ELB_PID  the clouds' load-balancer APIs (signed requests)" \
    "                     seeded with tests/data/fake-elb/demo-seed.json"

SEEDINFO=$(py seed "$PROVIDER" "$SEED" "$LB" "$PORT" "$WORK/credentials") ||
  fail "cannot read the demo's load balancer $LB from $SEED"
REGION=; PROJECT=; LISTENER=; ORIGINAL=; ORIG_NAME=; METRICS_PORT=
while IFS='=' read -r k v; do
  case $k in
    region) REGION=$v ;; project) PROJECT=$v ;; listener) LISTENER=$v ;; original) ORIGINAL=$v ;;
    original_name) ORIG_NAME=$v ;; metrics_port) METRICS_PORT=$v ;;
  esac
done <<<"$SEEDINFO"
say "load balancer $LB (region $REGION, project $PROJECT): HTTPS listener $LISTENER on port $PORT" \
    "its certificate: $ORIGINAL ($ORIG_NAME), put there before the demo"

API_ARGS=(--provider "$PROVIDER" --endpoint "$ENDPOINT" --region "$REGION" --project-id "$PROJECT"
          --credentials-file "$WORK/credentials")
api() { env "${CLEAN_ENV[@]}" timeout 30 "$CTL" api "${API_ARGS[@]}" "$@"; }
# The command as a person would type it (the credentials stay in their file).
api_cmdline() { echo "$CTL api ${API_ARGS[*]} $*"; }

# ---- 2. a certificate ----

# make_cert NAME DAYS: a self-signed RSA 2048 certificate for $HOST in certs/NAME.{crt,key}.
make_cert() {
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$2" -subj "/CN=$HOST" \
    -addext "subjectAltName=DNS:$HOST" -keyout "$WORK/certs/$1.key" -out "$WORK/certs/$1.crt" \
    >"$WORK/logs/openssl.log" 2>&1 || { cat "$WORK/logs/openssl.log" >&2; fail "openssl req failed"; }
  chmod 600 "$WORK/certs/$1.key"
}
# describe_cert PEM_FILE: subject, serial, expiry and SHA-256 fingerprint; sets FP.
describe_cert() {
  local out
  out=$(openssl x509 -in "$1" -noout -subject -serial -enddate -fingerprint -sha256) ||
    fail "openssl cannot read $1"
  grep -iv 'fingerprint=' <<<"$out" | indent
  FP=$(grep -i 'fingerprint=' <<<"$out" | sed 's/.*=//')
  [ -n "$FP" ] || fail "openssl printed no fingerprint for $1"
  say "SHA-256 fingerprint=$FP"
}

step "Making a TLS certificate for $HOST with OpenSSL (self-signed, RSA 2048, 90 days)"
say "openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj /CN=$HOST -addext subjectAltName=DNS:$HOST \\" \
    "    -keyout certs/v1.key -out certs/v1.crt"
make_cert v1 90
describe_cert "$WORK/certs/v1.crt"
FP1=$FP

# ---- 3. Kubernetes objects ----

# apply_secret NAME: the Secret shop/web-tls from certs/NAME.{crt,key}, then the key file goes.
# kubectl makes the manifest locally (--dry-run=client) and sends it as JSON with apply; the
# key travels through a pipe, never through argv or the terminal.
apply_secret() {
  local ok=1
  kc create secret tls web-tls -n shop --cert "$WORK/certs/$1.crt" --key "$WORK/certs/$1.key" \
    --dry-run=client -o yaml | kc apply --validate=false -f - | indent || ok=0
  rm -f "$WORK/certs/$1.key"
  [ "$ok" = 1 ] || fail "kubectl could not apply the Secret shop/web-tls"
}

step "Creating a Namespace, a TLS Secret and an Ingress with kubectl"
say "kubectl apply -f tests/data/demo/namespace.yaml"
kc apply --validate=false -f "$DATA/namespace.yaml" | indent || fail "kubectl could not apply the Namespace"
say "kubectl create secret tls web-tls -n shop --cert certs/v1.crt --key certs/v1.key --dry-run=client -o yaml | kubectl apply -f -"
apply_secret v1
say "kubectl apply -f ${INGRESS#"$ROOT"/}"
kc apply --validate=false -f "$INGRESS" | indent || fail "kubectl could not apply the Ingress"
say "the Ingress shop/web (class $CLASS) sends $HOST's TLS to Secret web-tls, and says where:" \
    "    kubernetes.io/elb.id: $LB" \
    "    kubernetes.io/elb.port: \"$PORT\""

# ---- 4. the controller ----

CTL_ARGS=(run --kubeconfig "$WORK/kubeconfig" --cluster-id "$CLUSTER_ID" --provider "$PROVIDER"
          --region "$REGION" --project-id "$PROJECT" --endpoint "$ENDPOINT"
          --credentials-file "$WORK/credentials" --ingress-class "$CLASS"
          --metrics-addr "127.0.0.1:$METRICS_PORT" --leader-elect false
          --resync-period 30s --shutdown-grace 1s)
step "Starting the controller"
print_cmd elb-certsync "${CTL_ARGS[@]}"
env "${CLEAN_ENV[@]}" "$CTL" "${CTL_ARGS[@]}" </dev/null >"$WORK/logs/elb-certsync.log" 2>&1 &
CTL_PID=$!
echo "$CTL_PID elb-certsync $CTL" >>"$WORK/pids"
deadline=$(( $(now_us) + TIMEOUT * 1000000 ))
while :; do
  running "$CTL_PID" || fail "the controller exited (see its log below)"
  code=$(curl -s --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$METRICS_PORT/readyz" 2>/dev/null) || true
  [ "$code" != 200 ] || break
  [ "$(now_us)" -lt "$deadline" ] || fail "the controller was not ready within $TIMEOUT s (GET /readyz: $code)"
  sleep 0.2
done
say "pid $CTL_PID, ready (GET /readyz: 200); log: logs/elb-certsync.log" \
    "it watches Ingresses of class $CLASS and TLS Secrets, and owns the certificates named k8s_plb_default_${CLUSTER_ID}_..."

# wait_bound FP GONE_ID PEM_OUT: polls the emulator (every 0.2 s, at most $TIMEOUT s) until the
# listener's default is the managed certificate of fingerprint FP and, unless GONE_ID is -,
# GONE_ID no longer exists. Sets BOUND_ID, BOUND_NAME and ORIG_KEPT (yes/no).
wait_bound() {
  local out
  if ! out=$(py wait "$PROVIDER" "$ENDPOINT" "$LB" "$LISTENER" "$1" "$2" "$ORIGINAL" "$3" \
               "$CTL_PID" "$TIMEOUT"); then
    [ -n "$out" ] || out="cannot read the state of the emulator"
    fail "$out"
  fi
  read -r BOUND_ID BOUND_NAME ORIG_KEPT <<<"$out"
}

# show_listener_api: the listener as the cloud's API shows it; fails unless its default is $1.
show_listener_api() {
  local out parsed
  if [ "$PROVIDER" = huawei ]; then
    say "\$ $(api_cmdline GET "/v3/$PROJECT/elb/listeners/$LISTENER")"
    out=$(api GET "/v3/$PROJECT/elb/listeners/$LISTENER" 2>&1) || fail "the API call failed: $out"
  else
    say "\$ $(api_cmdline DescribeVServer "ULBId=$LB" "VServerId=$LISTENER")"
    out=$(api DescribeVServer "ULBId=$LB" "VServerId=$LISTENER" 2>&1) || fail "the API call failed: $out"
  fi
  parsed=$(py api-listener "$PROVIDER" <<<"$out") || fail "unexpected API answer: $out"
  say "  -> $(head -n 1 <<<"$parsed")"
  [ "$(tail -n 1 <<<"$parsed")" = "=$1" ] || fail "the API shows another certificate on the listener than $1"
}

# ---- 5. bound ----

step "Waiting for the controller to upload the Secret's certificate and bind it to the listener"
wait_bound "$FP1" - "$WORK/certs/bound-v1.pem"
ID1=$BOUND_ID NAME1=$BOUND_NAME
say "bound:   certificate $ID1 ($NAME1) is the default certificate of listener $LISTENER" \
    "         name: managed prefix, cluster ID '$CLUSTER_ID', the Secret (shop.web-tls), a hash of its content" \
    "         on the load balancer, the same certificate as in the Secret (fingerprints match):"
describe_cert "$WORK/certs/bound-v1.pem"
[ "$ORIG_KEPT" = yes ] || fail "the listener's previous certificate $ORIGINAL was deleted"
say "the listener's previous certificate $ORIGINAL is kept: it comes back when the Ingress is deleted" \
    "the listener, as the cloud's API answers a signed request (the same command without --endpoint asks the real cloud):"
show_listener_api "$ID1"

# show_events REASON: kubectl get events -n shop, once an Event of REASON is there (bounded).
show_events() {
  local out='' deadline=$(( $(now_us) + 5000000 ))
  while :; do
    out=$(kc get events -n shop -o custom-columns='TYPE:.type,REASON:.reason,OBJECT:.involvedObject.name,COUNT:.count,MESSAGE:.message' \
      --sort-by=.lastTimestamp 2>&1) || true
    if grep -q " $1 " <<<"$out" || [ "$(now_us)" -ge "$deadline" ]; then break; fi
    sleep 0.2
  done
  say "kubectl get events -n shop"
  indent <<<"$out"
}

step "The Events the controller recorded on the Ingress"
show_events CertificateBound

# ---- 6. rotation ----

step "Rotating the Secret: a new certificate from OpenSSL, applied with kubectl as before"
make_cert v2 90
describe_cert "$WORK/certs/v2.crt"
FP2=$FP
[ "$FP1" != "$FP2" ] || fail "OpenSSL made the same certificate twice"
say "kubectl create secret tls web-tls -n shop --cert certs/v2.crt --key certs/v2.key --dry-run=client -o yaml | kubectl apply -f -"
apply_secret v2

step "Waiting for the new certificate to be bound and the old one to be deleted"
wait_bound "$FP2" "$ID1" "$WORK/certs/bound-v2.pem"
ID2=$BOUND_ID NAME2=$BOUND_NAME
[ "$ID2" != "$ID1" ] || fail "the listener still holds $ID1"
say "bound:   certificate $ID2 ($NAME2) is the default certificate of listener $LISTENER"
describe_cert "$WORK/certs/bound-v2.pem"
say "deleted: certificate $ID1 ($NAME1) no longer exists on the load balancer" \
    "what the controller did, from its log (create, then bind, then delete: the listener never went" \
    "without a certificate):"
grep -E 'msg="(certificate created|listener bound|certificate deleted)"' "$WORK/logs/elb-certsync.log" |
  sed 's/ listener=[^ ]* / /' | indent || true
show_listener_api "$ID2"
if [ "$PROVIDER" = huawei ]; then
  say "\$ $(api_cmdline GET "/v3/$PROJECT/elb/certificates/$ID1")"
  if out=$(api GET "/v3/$PROJECT/elb/certificates/$ID1" 2>&1); then
    fail "the API still shows the old certificate $ID1"
  fi
  grep -q 'HTTP 404' <<<"$out" || fail "unexpected API answer: $out"
  say "  -> $(grep -o 'ELB\.[0-9]* (HTTP 404[^)]*' <<<"$out" | head -n 1 | sed 's/, request_id.*//')): not found"
else
  say "\$ $(api_cmdline DescribeSSL "SSLId=$ID1")"
  out=$(api DescribeSSL "SSLId=$ID1" 2>&1) || fail "the API call failed: $out"
  n=$(py api-ssl-count <<<"$out") || fail "unexpected API answer: $out"
  [ "$n" = 0 ] || fail "the API still shows the old certificate $ID1"
  say "  -> TotalCount 0: not found"
fi
[ "$ORIG_KEPT" = yes ] || fail "the listener's previous certificate $ORIGINAL was deleted"
show_events CertificateRotated

# ---- 7. metrics ----

step "A few of the controller's metrics (Prometheus text on /metrics)"
say "curl -s http://127.0.0.1:$METRICS_PORT/metrics"
metrics=$(curl -s --noproxy '*' --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics") ||
  fail "GET /metrics failed"
grep -E '^elb_certsync_(reconciles_total|actions_total|managed_certificates|leader)[ {]' <<<"$metrics" | indent || true
say "(elb_certsync_managed_certificates: the managed certificates of this cluster on the load balancer, per region)"

echo
echo "Rotation done in $(elapsed) s: $ID1 -> $ID2 on listener $LISTENER of $LB."

# ---- 8. the end ----

if [ "$KEEP" = 0 ]; then
  step "Stopping everything this demo started"
  stop_all
fi

echo
if [ "$KEEP" = 1 ]; then
  echo "To keep playing (the emulators and the controller are still running):"
else
  again="bash scripts/demo.sh --keep --no-build"
  [ "$PROVIDER" = huawei ] || again="$again --provider $PROVIDER"
  [ "$BIN_DIR" = "$ROOT/build/bin" ] || again="$again --bin-dir $BIN_DIR"
  echo "To keep playing, run '$again': the emulators and the controller then stay up,"
  echo "and these commands work (they print where everything is):"
fi
if [ "$PROVIDER" = huawei ]; then
  list_cmd=$(api_cmdline GET "/v3/$PROJECT/elb/certificates")
else
  list_cmd=$(api_cmdline DescribeSSL)
fi
cat <<EOF
  cd $WORK && export KUBECONFIG=\$PWD/kubeconfig
  kubectl get ingress,secrets -n shop
  kubectl get events -n shop -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message
  # rotate again: the controller uploads the new certificate, rebinds, deletes the old one
  # (the emulator serves no OpenAPI document, hence --validate=false)
  openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj /CN=$HOST -keyout certs/v3.key -out certs/v3.crt
  kubectl create secret tls web-tls -n shop --cert certs/v3.crt --key certs/v3.key --dry-run=client -o yaml \\
    | kubectl apply --validate=false -f - && rm certs/v3.key
  # give the listener back the certificate it had before ($ORIGINAL)
  kubectl delete ingress web -n shop
  # ask the emulated cloud with a signed request (without --endpoint: the real cloud)
  $list_cmd
  curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep ^elb_certsync
  tail -f logs/elb-certsync.log
EOF
if [ "$KEEP" = 1 ]; then
  echo "  bash stop.sh   # stops the emulators and the controller"
fi
