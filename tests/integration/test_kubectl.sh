#!/usr/bin/env bash
# test_kubectl.sh -- drives the real kubectl (1.32) against fake-kube-apiserver over HTTPS
# with the kubeconfig it writes: create -f (Namespace, TLS Secret, Ingress), get -o json,
# client-side apply of a changed Ingress (GET then strategic-merge PATCH), get -w seeing the
# change, delete, and a wrong token refused with Unauthorized.
# The fake serves no OpenAPI document, so commands that validate get --validate=false.
#
#   test_kubectl.sh FAKE_KUBE_APISERVER_BINARY DATA_DIR
set -euo pipefail
fake=$1
data=$2
command -v kubectl >/dev/null || { echo "kubectl not installed" >&2; exit 1; }
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$fake" --listen 127.0.0.1:0 --tls --port-file "$work/port" --kubeconfig-out "$work/kubeconfig" \
  --ca-out "$work/ca.pem" --quiet &
pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || fail "the server did not write its port file"
export KUBECONFIG=$work/kubeconfig
k() { timeout 20 kubectl --request-timeout=10s "$@"; }

grep -q "server: https://127.0.0.1:$(cat "$work/port")" "$KUBECONFIG" || fail "kubeconfig server"
grep -q "BEGIN CERTIFICATE" "$work/ca.pem" || fail "CA file"

# A TLS secret manifest, made by kubectl itself (client-side, no request).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/tls.key" \
  -out "$work/tls.crt" -days 30 -subj /CN=shop.example.com 2>/dev/null
k create secret tls web-tls -n shop --cert="$work/tls.crt" --key="$work/tls.key" \
  --dry-run=client -o json > "$work/secret.json"
cat > "$work/ns.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: shop
YAML

# create -f
k create -f "$work/ns.yaml" --validate=false | grep -q "namespace/shop created" || fail "create ns"
k create -f "$work/secret.json" --validate=false | grep -q "secret/web-tls created" || fail "create secret"
k create -f "$data/ingress-web.json" --validate=false | grep -q "ingress.networking.k8s.io/web created" \
  || fail "create ingress"
# a second create is AlreadyExists
if k create -f "$data/ingress-web.json" --validate=false 2>"$work/err"; then fail "duplicate create"; fi
grep -q 'AlreadyExists' "$work/err" || grep -q 'already exists' "$work/err" || fail "AlreadyExists: $(cat "$work/err")"

# get -o json
k get secret web-tls -n shop -o json > "$work/s.json"
python3 - "$work/s.json" "$work/tls.crt" <<'PY'
import base64, json, sys
s = json.load(open(sys.argv[1]))
assert s["kind"] == "Secret" and s["apiVersion"] == "v1", s.get("kind")
assert s["type"] == "kubernetes.io/tls"
assert base64.b64decode(s["data"]["tls.crt"]) == open(sys.argv[2], "rb").read()
m = s["metadata"]
assert m["namespace"] == "shop" and m["name"] == "web-tls" and m["uid"] and m["resourceVersion"]
assert m["creationTimestamp"].endswith("Z")
PY
k get ingress web -n shop -o json > "$work/i1.json"
python3 - "$work/i1.json" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
assert i["kind"] == "Ingress" and i["apiVersion"] == "networking.k8s.io/v1"
assert i["metadata"]["generation"] == 1
assert i["spec"]["tls"][0]["secretName"] == "web-tls"
assert i["status"] == {"loadBalancer": {}}
PY
k get secrets -n shop -o name | grep -qx "secret/web-tls" || fail "get -o name"
k get secrets -A --field-selector type=kubernetes.io/tls -o name | grep -qx "secret/web-tls" \
  || fail "field selector"
if k get ingress -n shop --field-selector spec.x=y 2>"$work/err"; then fail "bad field selector"; fi
grep -q 'is not a known field selector' "$work/err" || fail "field selector message: $(cat "$work/err")"

# A watch, started before the change (get -w: list, then watch from the list's RV).
timeout 15 kubectl get ingress web -n shop -w -o json --request-timeout=8s > "$work/watch.out" \
  2>"$work/watch.err" &
wpid=$!
for _ in $(seq 100); do grep -q '"kind": "Ingress"' "$work/watch.out" 2>/dev/null && break; sleep 0.05; done

# client-side apply of a changed ingress: GET, then a strategic merge PATCH
sed 's/"number": 80/"number": 8080/' "$data/ingress-web.json" > "$work/ingress2.json"
k apply -f "$work/ingress2.json" --validate=false | grep -q "ingress.networking.k8s.io/web configured" \
  || fail "apply"
k get ingress web -n shop -o json > "$work/i2.json"
python3 - "$work/i2.json" <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
port = i["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"]
assert port == 8080, port
assert i["metadata"]["generation"] == 2, i["metadata"]["generation"]
ann = i["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
assert '"number":8080' in ann
assert not any(k.startswith("$") for k in i["metadata"]), "directive stored"
PY
# apply again without change: no new resourceVersion
rv1=$(k get ingress web -n shop -o jsonpath='{.metadata.resourceVersion}')
k apply -f "$work/ingress2.json" --validate=false >/dev/null
rv2=$(k get ingress web -n shop -o jsonpath='{.metadata.resourceVersion}')
[ "$rv1" = "$rv2" ] || fail "no-op apply changed resourceVersion $rv1 -> $rv2"

for _ in $(seq 100); do grep -q '"number": 8080' "$work/watch.out" && break; sleep 0.05; done
grep -q '"number": 8080' "$work/watch.out" || fail "get -w did not see the change: $(cat "$work/watch.err")"
kill "$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true

# delete
k delete -f "$work/ingress2.json" | grep -q 'ingress.networking.k8s.io "web" deleted' || fail "delete ingress"
k delete secret web-tls -n shop | grep -q 'secret "web-tls" deleted' || fail "delete secret"
if k get secret web-tls -n shop 2>"$work/err"; then fail "secret still there"; fi
grep -q 'NotFound\|not found' "$work/err" || fail "NotFound: $(cat "$work/err")"
k delete namespace shop | grep -q 'namespace "shop" deleted' || fail "delete ns"

# a generator command sends protobuf: refused with a clear 415 Status
if k create secret generic g --from-literal=a=b 2>"$work/err"; then fail "protobuf accepted"; fi
grep -q 'accepted media types include: application/json' "$work/err" || fail "415: $(cat "$work/err")"

# a wrong token is Unauthorized
sed 's/token: .*/token: "wrong"/' "$KUBECONFIG" > "$work/bad"
if KUBECONFIG=$work/bad k get secrets 2>"$work/err"; then fail "wrong token accepted"; fi
grep -q 'Unauthorized' "$work/err" || fail "Unauthorized: $(cat "$work/err")"

# SIGTERM ends it with 0
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
echo "ok"
