#!/usr/bin/env bash
# test_kubectl_watch.sh -- fake-kube-apiserver's watch, list-paging and fault behaviour over
# real HTTP on loopback: 410 ERROR event after compaction and past the bounded history,
# bookmarks, synthetic ADDED events from RV 0, selector exits as DELETED, drop-watches,
# fault-drop-watch-ms, split chunks parsed as a byte stream, 429/500 fault rates, paged lists
# at one RV with continue tokens that expire, 400/404/413 Status answers, SIGTERM.
#
#   test_kubectl_watch.sh FAKE_KUBE_APISERVER_BINARY
set -euo pipefail
fake=$1
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$fake" --listen 127.0.0.1:0 --port-file "$work/port" --watch-history 50 \
  --bookmark-interval-ms 200 --quiet &
pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { echo "no port file" >&2; exit 1; }

timeout 90 python3 - "$(cat "$work/port")" <<'PY'
import http.client, json, socket, sys, threading, time

PORT = int(sys.argv[1])
NS = "/api/v1/namespaces/default/secrets"

def req(method, path, body=None, ctype="application/json"):
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    headers = {"Content-Type": ctype} if body is not None else {}
    c.request(method, path, body=json.dumps(body) if isinstance(body, (dict, list)) else body,
              headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), (json.loads(data) if data[:1] in (b"{", b"[") else data)

def secret(name, labels=None, typ="Opaque"):
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "labels": labels or {}}, "type": typ,
            "data": {"k": "dg=="}}

def create(name, **kw):
    st, _, o = req("POST", NS, secret(name, **kw))
    assert st == 201, (st, o)
    return o

class Watch:
    """A watch read as a raw byte stream: events are lines, whatever the chunking."""
    def __init__(self, query):
        self.c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=15)
        self.c.request("GET", NS + "?watch=true&" + query)
        self.r = self.c.getresponse()
        self.status = self.r.status
        self.buf = b""
        self.ended = False
    def next(self, timeout=5):
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            if time.time() > deadline:
                raise AssertionError("no event in time")
            try:
                chunk = self.r.read1(4096)
            except (http.client.IncompleteRead, ConnectionError):
                chunk = b""
            if not chunk:
                self.ended = True
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)
    def close(self):
        self.c.close()

def current_rv():
    st, _, l = req("GET", NS)
    return l["metadata"]["resourceVersion"]

checks = 0
def check(cond, what):
    global checks
    if not cond:
        raise AssertionError(what)
    checks += 1

# --- RV 0: synthetic ADDED of the current state, then live events with kind/apiVersion
create("a1", labels={"app": "a"})
w = Watch("resourceVersion=0&timeoutSeconds=5")
check(w.status == 200, "watch status")
ev = w.next()
check(ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "a1", ev)
check(ev["object"]["kind"] == "Secret" and ev["object"]["apiVersion"] == "v1", "kind on watch")
create("a2")
ev = w.next()
check(ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "a2", ev)
st, _, _ = req("DELETE", NS + "/a2")
ev = w.next()
check(ev["type"] == "DELETED" and ev["object"]["data"] == {"k": "dg=="}, "DELETED carries last state")
check(int(ev["object"]["metadata"]["resourceVersion"]) > int(current_rv()) - 1, "delete RV")
w.close()

# --- list items carry no kind; a selector exit is a DELETED
st, _, l = req("GET", NS)
check(all("kind" not in i for i in l["items"]), "list items without kind")
rv = current_rv()
w = Watch("resourceVersion=%s&labelSelector=app%%3Da&timeoutSeconds=5" % rv)
st, _, o = req("PATCH", NS + "/a1", {"metadata": {"labels": {"app": "b"}}},
               "application/merge-patch+json")
check(st == 200, (st, o))
ev = w.next()
check(ev["type"] == "DELETED" and ev["object"]["metadata"]["labels"]["app"] == "a", ev)
check(ev["object"]["metadata"]["resourceVersion"] == o["metadata"]["resourceVersion"], "exit RV")
w.close()

# --- bookmarks: only metadata.resourceVersion
rv = current_rv()
w = Watch("resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=3" % rv)
ev = w.next()
check(ev["type"] == "BOOKMARK", ev)
check(ev["object"]["metadata"]["resourceVersion"] == rv, ev)
check(set(ev["object"]["metadata"]) <= {"resourceVersion", "creationTimestamp"}, ev)
w.close()

# --- timeoutSeconds ends the stream normally
w = Watch("resourceVersion=%s&timeoutSeconds=1" % current_rv())
t0 = time.time()
check(w.next(5) is None and w.ended, "timeout ends the stream")
check(time.time() - t0 < 4, "timeout bounded")

# --- 410 after compaction: HTTP 200, one ERROR event, then the end
old = current_rv()
create("c1")
st, _, _ = req("POST", "/_fake/compact")
check(st == 200, "compact")
w = Watch("resourceVersion=%s" % old)
check(w.status == 200, "410 comes as 200 + ERROR")
ev = w.next()
check(ev["type"] == "ERROR" and ev["object"]["code"] == 410 and ev["object"]["reason"] == "Expired", ev)
check(ev["object"]["message"].startswith("too old resource version: %s (" % old), ev)
check(w.next() is None, "stream ends after 410")
# a watch from the compaction RV itself is fine
w = Watch("resourceVersion=%s&timeoutSeconds=2" % current_rv())
create("c2")
check(w.next()["object"]["metadata"]["name"] == "c2", "watch after compact")
w.close()

# --- bounded history (--watch-history 50)
old = current_rv()
for i in range(60):
    create("h%02d" % i)
w = Watch("resourceVersion=%s" % old)
ev = w.next()
check(ev["type"] == "ERROR" and ev["object"]["code"] == 410, "history bound")
w.close()
# ...while a recent one still replays
recent = str(int(current_rv()) - 10)
w = Watch("resourceVersion=%s&timeoutSeconds=2" % recent)
names = [w.next()["object"]["metadata"]["name"] for _ in range(10)]
check(names == ["h%02d" % i for i in range(50, 60)], names)
w.close()

# --- paged lists: one RV across pages, continue, remainingItemCount, expiry
st, _, p1 = req("GET", NS + "?limit=20")
check(st == 200 and len(p1["items"]) == 20 and p1["metadata"].get("continue"), "page 1")
total = len(req("GET", NS)[2]["items"])
check(p1["metadata"]["remainingItemCount"] == total - 20, p1["metadata"])
create("a0")  # sorts before everything; must not appear in later pages of this list
st, _, p2 = req("GET", NS + "?limit=1000&continue=" + p1["metadata"]["continue"])
check(st == 200 and p2["metadata"]["resourceVersion"] == p1["metadata"]["resourceVersion"], "same RV")
names = [i["metadata"]["name"] for i in p1["items"] + p2["items"]]
check(len(names) == total and "a0" not in names and names == sorted(names), "consistent pages")
check("continue" not in p2["metadata"], "last page")
st, _, p1 = req("GET", NS + "?limit=5&fieldSelector=type%3DOpaque")
check("remainingItemCount" not in p1["metadata"], "no count with selectors")
create("z8")  # the list's RV is now older than what compaction keeps
req("POST", "/_fake/compact")
create("z9")
st, _, e = req("GET", NS + "?limit=5&continue=" + p1["metadata"]["continue"])
check(st == 410 and e["reason"] == "Expired" and e["metadata"].get("continue"), (st, e))
st, _, e = req("GET", NS + "?limit=5&continue=garbage!")
check(st == 400 and e["reason"] == "BadRequest", e)

# --- drop-watches closes open watches now
w = Watch("resourceVersion=%s&timeoutSeconds=30" % current_rv())
time.sleep(0.2)
st, _, d = req("POST", "/_fake/drop-watches")
check(st == 200 and d["dropped"] >= 1, d)
t0 = time.time()
check(w.next(5) is None and time.time() - t0 < 3, "dropped")

# --- fault-drop-watch-ms
req("POST", "/_fake/faults", {"fault-drop-watch-ms": 300})
w = Watch("resourceVersion=%s&timeoutSeconds=30" % current_rv())
t0 = time.time()
check(w.next(5) is None and time.time() - t0 < 3, "fault drop")
req("POST", "/_fake/faults", {"fault-drop-watch-ms": 0})

# --- split chunks: the stream still parses, event by event
req("POST", "/_fake/faults", {"fault-split-chunks": True})
start = current_rv()
for i in range(30):
    create("s%02d" % i, labels={"n": str(i)})
w = Watch("resourceVersion=%s&timeoutSeconds=5" % start)
got = [w.next()["object"]["metadata"]["name"] for _ in range(30)]
check(got == ["s%02d" % i for i in range(30)], got)
w.close()
st, _, f = req("GET", "/_fake/faults")
check(f["fault-split-chunks"] is True, f)
req("POST", "/_fake/faults", {"fault-split-chunks": False})

# --- fault rates: 429 with Retry-After, 500, watches included
req("POST", "/_fake/faults", {"fault-429-rate": 1})
st, h, e = req("GET", NS)
check(st == 429 and h.get("Retry-After") == "1" and e["reason"] == "TooManyRequests", (st, h, e))
w = Watch("resourceVersion=0")
check(w.status == 429, "watch 429")
w.close()
req("POST", "/_fake/faults", {"fault-429-rate": 0, "fault-500-rate": 1})
st, _, e = req("GET", NS + "/a1")
check(st == 500 and e["reason"] == "InternalError" and e["code"] == 500, e)
req("POST", "/_fake/faults", {"fault-500-rate": 0.5})
codes = [req("GET", NS + "/a1")[0] for _ in range(200)]
check(40 < codes.count(500) < 160 and codes.count(200) + codes.count(500) == 200, codes.count(500))
req("POST", "/_fake/faults", {"fault-500-rate": 0})
st, _, e = req("POST", "/_fake/faults", {"fault-429-rate": 2})
check(st == 400, "bad fault rate refused")

# --- Status answers
st, _, e = req("POST", NS, "{not json")
check(st == 400 and e["kind"] == "Status" and e["status"] == "Failure", e)
st, _, e = req("GET", "/api/v1/namespaces/default/widgets")
check(st == 404 and e["reason"] == "NotFound", e)
st, _, e = req("POST", NS, "{" + " " * (4 * 1024 * 1024) + "}")
check(st == 413 and e["reason"] == "RequestEntityTooLarge", e)
st, _, e = req("GET", NS + "/nope")
check(st == 404 and e["message"] == 'secrets "nope" not found' and e["details"] == {"name": "nope", "kind": "secrets"}, e)
st, _, o = req("GET", NS + "/a1")
stale = dict(o); stale["metadata"] = dict(o["metadata"], resourceVersion="1")
st, _, e = req("PUT", NS + "/a1", stale)
check(st == 409 and e["reason"] == "Conflict" and "the object has been modified" in e["message"], e)

st, _, s = req("GET", "/_fake/stats")
check(s["requests"]["watch"]["secrets"] >= 10 and s["watches_open"] >= 0, s)
print("ok: %d checks" % checks)
PY

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || { echo "exit status $rc after SIGTERM" >&2; exit 1; }
