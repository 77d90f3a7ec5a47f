#!/usr/bin/env python3
"""bench.py -- the benchmarks of elb-certsync: scale, speed and memory of the real controller.

Starts, on 127.0.0.1 only, fake-kube-apiserver (TLS, seeded with N TLS Secrets, N Ingresses and
9N Secrets of other types), fake-elb (seeded with N/100 load balancers x 100 HTTPS listeners,
no injected latency) and the real `elb-certsync run`, and measures, per size N:

  cold start     controller start -> every listener bound to its Secret's certificate (the
                 moment is the last "listener bound" log line; checked against /_fake/state),
                 with the Kubernetes and provider requests it took and the CPU per reconcile;
  memory         peak resident set (VmHWM) of the controller, at convergence and at the end;
  steady state   S seconds without changes: provider writes (goal 0), provider list rounds vs
                 resync periods, CPU per (no-op) reconcile of the resyncs;
  watch events   CPU per TLS Secret / Ingress watch event (label-only changes), and what
                 changes to 1,000 Secrets of other types cost (goal: nothing: not watched);
  rotation       Secret update (PATCH sent) -> listener bound to the new certificate (the
                 controller's JSON log, millisecond timestamps), p50/p99 at 1/s and 100/s.

Prints one table per size (figure, value, goal), a growth table, and writes JSON. Every wait is
bounded, every process is stopped at the end (also on failure and SIGINT/SIGTERM).
Python 3 standard library only.
"""

import argparse
import base64
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import harness  # noqa: E402  (the e2e harness: processes, ports, metrics)
from harness import free_port, metric_sum, parse_metrics  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024

# Provider operation names as fake-elb counts them.
WRITES = {
    "huawei": ("CreateCertificate", "UpdateCertificate", "DeleteCertificate",
               "BatchDeleteCertificates", "UpdateListener"),
    "ucloud": ("CreateSSL", "DeleteSSL", "BindSSL", "UnbindSSL", "UpdateSSLBinding",
               "AddSSLBinding", "DeleteSSLBinding", "UpdateSSLAttribute"),
}
CERT_LISTS = {"huawei": ("ListCertificates",), "ucloud": ("DescribeSSL", "DescribeSSLV2")}
BIND_OPS = {"huawei": ("UpdateListener",), "ucloud": ("UpdateSSLBinding", "BindSSL")}


class BenchError(Exception):
    pass


# ---- small helpers ----

def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def wait_for(pred, timeout, what, interval=0.05):
    """Polls pred until truthy (returned); BenchError after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
            if v:
                return v
            last = v
        except (OSError, ValueError, KeyError, http.client.HTTPException) as e:
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() >= deadline:
            raise BenchError("timed out after %.0f s waiting for %s (last: %r)"
                             % (timeout, what, last))
        time.sleep(interval)


def get_json(url, timeout=30, method="GET"):
    assert url.startswith("http://127.0.0.1:"), url
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body = r.read()
    return json.loads(body) if body else {}


def pct(values, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(math.ceil(p / 100.0 * len(s))) - 1))
    return s[k]


# ---- processes ----

class Proc(harness.Proc):
    """harness.Proc in its own session (the benchmark stops its children itself, also on
    Ctrl-C), with the /proc figures the benchmark reads."""

    def __init__(self, name, argv, log_path):
        super().__init__(name, argv, log_path, new_session=True)

    def cpu_seconds(self):
        """utime + stime of the whole process (all threads), seconds."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def status(self, key):
        """A kB figure of /proc/PID/status (VmHWM, VmRSS), in bytes."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise ValueError("no %s" % key)

    def tail(self, n=3000):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - n))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def wait_port_file(path, proc, timeout):
    def ready():
        if not proc.alive():
            raise BenchError("%s exited with %s before listening:\n%s"
                             % (proc.name, proc.p.returncode, proc.tail()))
        if os.path.exists(path):
            s = open(path).read().strip()
            return int(s) if s else None
        return None
    return wait_for(ready, timeout, "%s port file" % proc.name, interval=0.05)


class LogReader:
    """Incremental reader of the controller's JSON log lines."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""

    def read(self):
        out = []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
            self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            line = line.strip()
            if line.startswith(b"{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out


def ts_of(line):
    """The log line's timestamp (2026-11-23T10:00:00.123Z) as seconds since the epoch."""
    t = line["ts"]
    secs = time.mktime(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    return secs + float("0" + t[19:-1]) if len(t) > 20 else secs


# ---- the Kubernetes side ----

class Kube:
    """Direct HTTPS requests to fake-kube-apiserver with the kubeconfig's token (kubectl would
    be far too slow for 100 updates per second)."""

    def __init__(self, port, ca, token):
        self.port = port
        self.ctx = ssl.create_default_context(cafile=ca)
        self.token = token

    def conn(self):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)

    def patch(self, conn, path, body):
        conn.request("PATCH", path, body=json.dumps(body).encode(),
                     headers={"Authorization": "Bearer " + self.token,
                              "Content-Type": "application/merge-patch+json"})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise BenchError("PATCH %s: %d %s" % (path, r.status, data[:300]))

    def stats(self):
        c = self.conn()
        try:
            c.request("GET", "/_fake/stats")
            r = c.getresponse()
            return json.loads(r.read())
        finally:
            c.close()


def kube_delta(a, b):
    """{verb: {resource: n}} of the requests between two /_fake/stats answers."""
    out = {}
    for verb, per in b.get("requests", {}).items():
        for res, n in per.items():
            d = n - a.get("requests", {}).get(verb, {}).get(res, 0)
            if d:
                out.setdefault(verb, {})[res] = d
    return out


def kube_total(delta):
    return sum(n for per in delta.values() for n in per.values())


def kube_brief(delta):
    """By verb (the JSON has verb and resource): "get 100, list 4, watch 4"."""
    return ", ".join("%s %d" % (v, sum(per.values())) for v, per in sorted(delta.items())) \
        or "none"


def secret_path(ns, name):
    return "/api/v1/namespaces/%s/secrets/%s" % (ns, name)


# ---- one size ----

class Run:
    def __init__(self, args, size, data_dir, meta):
        self.args = args
        self.size = size
        self.data = data_dir
        self.meta = meta
        self.provider = args.provider
        self.pmeta = meta[self.provider]
        self.tmp = tempfile.mkdtemp(prefix="elb-certsync-bench-")
        os.chmod(self.tmp, 0o700)
        self.procs = []
        self.fig = {"size": size, "provider": self.provider}
        self.rows = []  # (figure, value, goal, met: True/False/None)

    # -- infrastructure --

    def spawn(self, name, argv):
        p = Proc(name, argv, os.path.join(self.tmp, name + ".log"))
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.alive():
                try:
                    p.p.send_signal(signal.SIGTERM)
                except OSError:
                    pass
        for p in reversed(self.procs):
            try:
                p.stop(timeout=10)
            except Exception as e:  # keep stopping the others
                log("stopping %s: %s" % (p.name, e))
        if self.args.keep:
            log("kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def row(self, figure, value, goal="", met=None):
        self.rows.append((figure, value, goal, met))

    def bin(self, name):
        p = os.path.join(self.args.bin_dir, name)
        if not os.access(p, os.X_OK):
            raise BenchError("missing binary %s (build it first)" % p)
        return p

    def listener_key(self, i):
        return "%s/lb-bench-%03d/port:%d" % (self.pmeta["region"], i // 100,
                                             self.meta["base_port"] + i % 100)

    # -- controller views --

    def metrics(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                    timeout=30) as r:
            return parse_metrics(r.read().decode())

    def elb_stats(self):
        return get_json(self.elb + "/_fake/stats")

    def elb_reset_stats(self):
        get_json(self.elb + "/_fake/stats/reset", method="POST")

    def elb_ops(self, stats):
        return dict(stats.get(self.provider, {}))

    def writes(self, ops):
        return sum(ops.get(o, 0) for o in WRITES[self.provider])

    def reads(self, ops):
        w = set(WRITES[self.provider])
        return sum(n for o, n in ops.items() if o not in w)

    def reconciles(self, m=None):
        return metric_sum(m or self.metrics(), "elb_certsync_reconciles_total")

    def settle(self, timeout, what, still=1.5):
        """Waits until the controller's CPU time stopped moving for `still` seconds: the end
        of its work, seen from /proc only (a /metrics scrape costs the controller CPU too:
        see "CPU per /metrics scrape"). Returns the CPU seconds at that point."""
        state = {"cpu": None, "since": None}

        def still_enough():
            cpu = self.ctl.cpu_seconds()
            now = time.monotonic()
            if cpu != state["cpu"]:
                state["cpu"], state["since"] = cpu, now
                return None
            return cpu if now - state["since"] >= still else None
        return wait_for(still_enough, timeout, what, interval=0.1)

    def quiet(self, timeout, what):
        """Waits until the queue is empty and the reconcile count stopped moving (0.5 s)."""
        state = {"last": None, "since": None}

        def settled():
            m = self.metrics()
            n = self.reconciles(m)
            depth = metric_sum(m, "elb_certsync_queue_depth")
            now = time.monotonic()
            if depth == 0 and n == state["last"]:
                return now - state["since"] >= 0.5
            state["last"], state["since"] = n, now
            return False
        wait_for(settled, timeout, what, interval=0.1)

    # -- start --

    def start(self):
        a = self.args
        kdir = os.path.join(self.tmp, "kube")
        os.makedirs(kdir, mode=0o700)
        kport_file = os.path.join(kdir, "port")
        self.kubeconfig = os.path.join(kdir, "kubeconfig")
        ca = os.path.join(kdir, "ca.pem")
        t = time.monotonic()
        self.kube_proc = self.spawn("fake-kube-apiserver", [
            self.bin("fake-kube-apiserver"), "--listen", "127.0.0.1:0", "--tls",
            "--port-file", kport_file, "--kubeconfig-out", self.kubeconfig, "--ca-out", ca,
            "--seed", os.path.join(self.data, "kube-seed.json"), "--quiet",
            "--watch-history", "20000"])
        eport_file = os.path.join(self.tmp, "elb.port")
        self.elb_proc = self.spawn("fake-elb", [
            self.bin("fake-elb"), "--listen", "127.0.0.1:0", "--port-file", eport_file,
            "--state", os.path.join(self.data, "elb-seed.json"), "--quiet"])
        kport = wait_port_file(kport_file, self.kube_proc, 300)
        eport = wait_port_file(eport_file, self.elb_proc, 300)
        self.fig["fakes_start_s"] = time.monotonic() - t
        token = None
        for line in open(self.kubeconfig):
            m = re.match(r'\s*token:\s*"?([^"\s]+)"?', line)
            if m:
                token = m.group(1)
        if not token:
            raise BenchError("no token in the fake's kubeconfig")
        self.kube = Kube(kport, ca, token)
        self.elb = "http://127.0.0.1:%d" % eport
        self.fig["fake_kube_rss_mib"] = self.kube_proc.status("VmRSS") / MIB
        cred = os.path.join(self.tmp, "credentials")
        fd = os.open(cred, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            if self.provider == "huawei":
                f.write("HUAWEICLOUD_SDK_AK=%s\nHUAWEICLOUD_SDK_SK=%s\n"
                        % (self.pmeta["ak"], self.pmeta["sk"]))
            else:
                f.write("UCLOUD_PUBLIC_KEY=%s\nUCLOUD_PRIVATE_KEY=%s\n"
                        % (self.pmeta["public_key"], self.pmeta["private_key"]))
        self.metrics_port = free_port()
        self.argv = [self.bin("elb-certsync"), "run", "--cluster-id", "bench",
                     "--provider", self.provider, "--region", self.pmeta["region"],
                     "--project-id", self.pmeta["project"], "--endpoint", self.elb,
                     "--credentials-file", cred, "--kubeconfig", self.kubeconfig,
                     "--metrics-addr", "127.0.0.1:%d" % self.metrics_port,
                     "--leader-elect", "false", "--log-format", "json", "--log-level", "info",
                     "--provider-qps", str(a.provider_qps),
                     "--provider-burst", str(a.provider_burst),
                     "--resync-period", "%ds" % a.resync_seconds, "--workers", str(a.workers)]
        self.fig["controller_flags"] = " ".join(self.argv[2:]).replace(self.tmp, "$TMP")
        if a.wrap:
            # profiling (valgrind --tool=massif|callgrind ...): figures are the tool's, not
            # the controller's alone
            self.argv = a.wrap.split() + self.argv
            self.fig["wrapped_in"] = a.wrap

    # -- phases --

    def cold_start(self):
        n = self.size
        self.elb_reset_stats()
        k0 = self.kube.stats()
        wall0 = time.time()
        t0 = time.monotonic()
        self.ctl = self.spawn("controller", self.argv)
        self.logs = LogReader(self.ctl.log_path)
        bind_ops = BIND_OPS[self.provider]
        ready_at = [None]

        def bound_all():
            if not self.ctl.alive():
                raise BenchError("controller exited with %s:\n%s"
                                 % (self.ctl.p.returncode, self.ctl.tail()))
            if ready_at[0] is None:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/readyz"
                                                % self.metrics_port, timeout=5) as r:
                        if r.status == 200:
                            ready_at[0] = time.monotonic() - t0
                except (urllib.error.URLError, OSError):
                    pass
            ops = self.elb_ops(self.elb_stats())
            return sum(ops.get(o, 0) for o in bind_ops) >= n
        wait_for(bound_all, self.args.converge_timeout, "%d listeners bound" % n, interval=0.1)
        detected = time.monotonic() - t0
        cpu = self.settle(300, "the controller to settle after the cold start")
        self.quiet(120, "the queue to drain after the cold start")
        m = self.metrics()
        k1 = self.kube.stats()
        ops = self.elb_ops(self.elb_stats())
        hwm = self.ctl.status("VmHWM")
        rss = self.ctl.status("VmRSS")
        # The moment: the last "listener bound" line (ms timestamps, same clock as time.time).
        last_bound = None
        n_bound = 0
        for line in self.logs.read():
            if line.get("msg") == "listener bound":
                n_bound += 1
                t = ts_of(line)
                last_bound = t if last_bound is None or t > last_bound else last_bound
        converged = (last_bound - wall0) if last_bound else detected
        ok, bad = self.check_state()
        kd = kube_delta(k0, k1)
        recs = self.reconciles(m)
        f = self.fig
        f.update({
            "cold_start_s": converged, "cold_start_detected_s": detected,
            "ready_s": ready_at[0], "listeners_converged": ok, "listeners_wrong": bad,
            "bound_log_lines": n_bound, "kube_requests": kd, "kube_requests_total":
            kube_total(kd), "provider_ops": ops, "provider_reads": self.reads(ops),
            "provider_writes": self.writes(ops), "cold_cpu_s": cpu,
            "cold_reconciles": recs, "cold_cpu_per_reconcile_ms":
            1000 * cpu / recs if recs else None, "rss_converged_mib": rss / MIB,
            "hwm_converged_mib": hwm / MIB})
        goal_t = 10.0
        self.row("cold start to converged", "%.2f s" % converged, "< %.0f s" % goal_t,
                 converged < goal_t if n >= 10000 else None)
        self.row("  ready (/readyz 200)", "%.2f s" % ready_at[0] if ready_at[0] else "?")
        self.row("  listeners on their Secret's certificate", "%d / %d" % (ok, n),
                 "all", ok == n)
        self.row("  Kubernetes requests", "%d (%s)" % (kube_total(kd), kube_brief(kd)))
        self.row("  provider reads", "%d (%s)" % (self.reads(ops), ", ".join(
            "%s %d" % (o, c) for o, c in sorted(ops.items())
            if o not in WRITES[self.provider])), "by page, not per Ingress (< N/10)",
            self.reads(ops) < n / 10)
        self.row("  provider writes", "%d (%s)" % (self.writes(ops), ", ".join(
            "%s %d" % (o, c) for o, c in sorted(ops.items()) if o in WRITES[self.provider])),
            "%d (create + bind each)" % (2 * n), self.writes(ops) == 2 * n)
        self.row("  CPU, total / per reconcile", "%.2f s / %.3f ms" % (
            cpu, f["cold_cpu_per_reconcile_ms"] or 0))
        self.row("peak RSS at convergence (VmHWM)", "%.1f MiB" % (hwm / MIB), "< 32 MiB",
                 hwm < 32 * MIB if n >= 10000 else None)
        self.row("  RSS after convergence (VmRSS)", "%.1f MiB" % (rss / MIB))

    def check_state(self):
        """Counts listeners whose default certificate is a managed one (our name prefix) for
        their own Secret's host (the emulator's domains of the certificate: names are cut to
        the provider's length, UCloud's 50 characters, so the name alone cannot tell)."""
        state = get_json(self.elb + "/_fake/state", timeout=120)
        n = self.size
        want = {}
        if self.provider == "huawei":
            certs = {c["id"]: (c["name"], c.get("common_name", "") + "," + c.get("domain", ""))
                     for c in state["huawei"]["certificates"]}
            for lb in state["huawei"]["loadbalancers"]:
                for lst in lb["listeners"]:
                    want[(lb["id"], lst["protocol_port"])] = certs.get(
                        lst["default_tls_container_ref"], ("", ""))
        else:
            certs = {c["SSLId"]: (c["SSLName"], c.get("Domains", ""))
                     for c in state["ucloud"]["certificates"]}
            for u in state["ucloud"]["ulbs"]:
                for v in u["VServers"]:
                    ids = v.get("SSLIds") or []
                    want[(u["ULBId"], v["FrontendPort"])] = certs.get(ids[0], ("", "")) \
                        if ids else ("", "")
        ok = 0
        for i in range(n):
            name, domains = want.get(("lb-bench-%03d" % (i // 100),
                                      self.meta["base_port"] + i % 100), ("", ""))
            if name.startswith("k8s_plb_default_bench_") and \
                    ("h%05d.bench.test" % i) in re.split(r"[,\s]+", domains):
                ok += 1
        return ok, n - ok

    def steady(self):
        s = self.args.steady_seconds
        self.quiet(120, "the queue to drain before the steady state")
        self.logs.read()
        self.elb_reset_stats()
        k0 = self.kube.stats()
        c0 = self.ctl.cpu_seconds()
        r0 = self.reconciles()
        time.sleep(s)
        # a resync started inside the window is counted, and its reconciles finish first
        syncs = [l for l in self.logs.read() if l.get("msg") == "full sync queued"]
        c1 = self.settle(300, "the resync's reconciles to finish", still=3)
        self.quiet(120, "the resync's reconciles to finish")
        ops = self.elb_ops(self.elb_stats())
        k1 = self.kube.stats()
        r1 = self.reconciles()
        lists = sum(ops.get(o, 0) for o in CERT_LISTS[self.provider])
        periods = s / float(self.args.resync_seconds)
        allowed = int(math.ceil(periods))
        kd = kube_delta(k0, k1)
        recs = r1 - r0
        f = self.fig
        f.update({"steady_seconds": s, "steady_provider_ops": ops,
                  "steady_provider_writes": self.writes(ops), "steady_full_syncs": len(syncs),
                  "steady_cert_list_requests": lists, "steady_kube_requests": kd,
                  "steady_cpu_s": c1 - c0, "steady_reconciles": recs,
                  "steady_cpu_per_reconcile_ms": 1000 * (c1 - c0) / recs if recs else None})
        self.row("steady state (%d s, resync %d s): provider writes"
                 % (s, self.args.resync_seconds), "%d" % self.writes(ops), "0",
                 self.writes(ops) == 0)
        self.row("  full syncs / certificate list requests",
                 "%d / %d (%s)" % (len(syncs), lists, ", ".join(
                     "%s %d" % (o, c) for o, c in sorted(ops.items())) or "no provider calls"),
                 "<= 1 list per period (%d)" % allowed, len(syncs) <= allowed)
        self.row("  Kubernetes requests", "%d (%s)" % (kube_total(kd), kube_brief(kd)))
        self.row("  CPU, total / per no-op reconcile", "%.2f s / %s (%d reconciles)" % (
            c1 - c0, "%.3f ms" % f["steady_cpu_per_reconcile_ms"]
            if recs else "-", recs))

    def patch_many(self, paths, body):
        conn = self.kube.conn()
        try:
            for p in paths:
                self.kube.patch(conn, p, body)
        finally:
            conn.close()

    def watch_events(self):
        n = self.size
        k = min(n, self.args.events)
        phases = [
            ("other Secrets", "other", [secret_path("bench-%03d" % (j % self.meta["load_balancers"]),
                                                    "other-%06d" % j) for j in range(k)]),
            ("TLS Secrets", "tls", [secret_path("bench-%03d" % (i // 100), "tls-%05d" % i)
                                    for i in range(k)]),
            ("Ingresses", "ingress", ["/apis/networking.k8s.io/v1/namespaces/bench-%03d/"
                                      "ingresses/web-%05d" % (i // 100, i) for i in range(k)]),
        ]
        for label, key, paths in phases:
            self.sync_window(5 + k / 200.0, "%s events" % label)
            self.logs.read()
            self.elb_reset_stats()
            c0 = self.ctl.cpu_seconds()
            r0 = self.reconciles()
            body = {"metadata": {"labels": {"bench-touched": str(int(time.time()))}}}
            self.patch_many(paths, body)
            c1 = self.settle(120, "the controller to settle after the %s events" % label)
            self.quiet(120, "the controller to settle after the %s events" % label)
            r1 = self.reconciles()
            ops = self.elb_ops(self.elb_stats())
            per = 1000 * (c1 - c0) / k
            resyncs = len([l for l in self.logs.read() if l.get("msg") == "full sync queued"])
            note = " (%d resync(s) during)" % resyncs if resyncs else ""
            self.fig["event_%s" % key] = {"events": k, "cpu_s": c1 - c0, "reconciles": r1 - r0,
                                          "provider_writes": self.writes(ops),
                                          "cpu_per_event_ms": per, "resyncs_during": resyncs}
            if key == "other":
                self.row("%d changes to %s: controller CPU%s" % (k, label, note),
                         "%.2f s (%d reconciles)" % (c1 - c0, r1 - r0),
                         "0 reconciles, ~0 CPU (never delivered)",
                         (r1 - r0) == 0 and c1 - c0 < 0.05 if not resyncs else None)
            else:
                self.row("CPU per %s watch event (label change)%s" % (
                    {"tls": "TLS Secret", "ingress": "Ingress"}[key], note),
                         "%.3f ms (%d reconciles, %d writes)" % (per, r1 - r0,
                                                                 self.writes(ops)),
                         "0 writes", self.writes(ops) == 0)

    def rotations(self, rate, count, first, material):
        """Sends count Secret updates at rate per second (items first.. of material) and
        measures, for each, the time until its listener was bound to the new certificate."""
        self.sync_window(count / float(rate) + 5, "rotations at %g/s" % rate)
        self.logs.read()
        m0 = self.metrics()
        self.elb_reset_stats()
        c0 = self.ctl.cpu_seconds()
        items = material[first:first + count]
        sent = {}
        errors = []
        senders = max(1, min(4, int(rate // 25) or 1))
        start = time.time() + 0.2

        def sender(idx):
            conn = self.kube.conn()
            try:
                for j in range(idx, len(items), senders):
                    it = items[j]
                    delay = start + j / float(rate) - time.time()
                    if delay > 0:
                        time.sleep(delay)
                    t = time.time()
                    self.kube.patch(conn, secret_path(it["namespace"], it["name"]),
                                    {"data": {"tls.crt": it["tls.crt"],
                                              "tls.key": it["tls.key"]}})
                    sent[it["index"]] = t
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                conn.close()
        threads = [threading.Thread(target=sender, args=(i,)) for i in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(count / float(rate) + 120)
        if errors:
            raise BenchError("rotation updates failed: %s" % errors[0])
        send_span = max(sent.values()) - min(sent.values()) if len(sent) > 1 else 0.0
        want = {self.listener_key(i): i for i in sent}
        bound = {}
        overlap = [0]  # resyncs queued while the phase ran (lines read since the start)

        def all_bound():
            for line in self.logs.read():
                if line.get("msg") == "full sync queued":
                    overlap[0] += 1
                if line.get("msg") != "listener bound":
                    continue
                i = want.get(line.get("listener"))
                if i is None or i in bound:
                    continue
                t = ts_of(line)
                if t >= sent[i] - 0.001:  # ms timestamps
                    bound[i] = t
            return len(bound) == len(sent)
        wait_for(all_bound, self.args.rotation_timeout,
                 "%d rotated listeners to be bound" % len(sent), interval=0.1)
        c1 = self.settle(120, "the rotations' deletes to finish")
        self.quiet(120, "the rotations' deletes to finish")
        overlap[0] += len([l for l in self.logs.read() if l.get("msg") == "full sync queued"])
        m1 = self.metrics()
        ops = self.elb_ops(self.elb_stats())
        lat = [max(0.0, bound[i] - sent[i]) * 1000 for i in sent]

        # The emulator's share: the controller's own provider-request histogram (create and
        # bind: the calls on the path from update to binding), mean per call over the phase.
        def op_mean(op):
            s = (metric_sum(m1, "elb_certsync_provider_request_duration_seconds_sum", operation=op) -
                 metric_sum(m0, "elb_certsync_provider_request_duration_seconds_sum", operation=op))
            c = (metric_sum(m1, "elb_certsync_provider_request_duration_seconds_count",
                      operation=op) -
                 metric_sum(m0, "elb_certsync_provider_request_duration_seconds_count",
                      operation=op))
            return 1000 * s / c if c else 0.0
        prov_ms = op_mean("create_cert") + op_mean("set_listener")
        net = [max(0.0, x - prov_ms) for x in lat]
        recs = self.reconciles(m1) - self.reconciles(m0)
        key = "rotation_%g_per_s" % rate
        res = {"count": len(lat), "achieved_rate": (len(sent) - 1) / send_span if send_span
               else None, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "max_ms": max(lat),
               "provider_ms_per_rotation": prov_ms, "p50_excl_provider_ms": pct(net, 50),
               "p99_excl_provider_ms": pct(net, 99), "provider_ops": ops,
               "cpu_s": c1 - c0, "reconciles": recs, "resyncs_during": overlap[0],
               "cpu_per_reconcile_ms": 1000 * (c1 - c0) / recs if recs else None}
        self.fig[key] = res
        goal = "p99 < 100 ms" if rate >= 100 else ""
        met = res["p99_excl_provider_ms"] < 100 if rate >= 100 else None
        self.row("rotation at %g/s (%d, sent at %.1f/s%s): p50 / p99" % (
            rate, len(lat), res["achieved_rate"] or rate,
            ", %d resync(s) during" % overlap[0] if overlap[0] else ""),
            "%.0f / %.0f ms (max %.0f)" % (res["p50_ms"], res["p99_ms"], res["max_ms"]))
        self.row("  excluding provider calls (%.1f ms mean)" % prov_ms,
                 "%.0f / %.0f ms" % (res["p50_excl_provider_ms"], res["p99_excl_provider_ms"]),
                 goal, met)
        self.row("  provider writes", ", ".join(
            "%s %d" % (o, c) for o, c in sorted(ops.items()) if o in WRITES[self.provider]),
            "create + bind + delete each")
        self.row("  CPU per rotation reconcile", "%.3f ms (%d reconciles)" % (
            res["cpu_per_reconcile_ms"] or 0, recs))

    def sync_window(self, need, what):
        """Starts a measured phase where no resync lands in it when possible: a full sync
        queues every listener in front of the measured work (its cost is the steady-state
        phase's figure). If the next resync is due within `need` seconds, waits for it and
        for its reconciles to finish. Phases longer than the period cannot avoid one: they
        start right after one, and the rows say how many resyncs ran during them."""
        self.quiet(120, "the queue to drain before the %s" % what)
        if self.args.quick:
            return  # a smoke run does not wait for resyncs: the rows say when one ran
        period = self.args.resync_seconds
        last = metric_sum(self.metrics(), "elb_certsync_last_full_sync_timestamp_seconds")
        if not last or (need < period and time.time() - last + need < period):
            return
        wait_for(lambda: metric_sum(self.metrics(), "elb_certsync_last_full_sync_timestamp_seconds")
                 > last, period + 30, "the next resync", interval=0.1)
        # the sync's region-wide garbage collection is queued 2 s after its listeners
        now = metric_sum(self.metrics(), "elb_certsync_last_full_sync_timestamp_seconds")
        time.sleep(max(0.0, now + 2.5 - time.time()))
        self.quiet(120, "the resync before the %s to finish" % what)

    def scrape_cost(self, n=20):
        """CPU of the controller per /metrics scrape (it renders one expiry series per TLS
        Secret), from n scrapes of an idle controller."""
        self.settle(60, "the controller to be idle before the scrapes")
        c0 = self.ctl.cpu_seconds()
        size = 0
        for _ in range(n):
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                        timeout=30) as r:
                size = len(r.read())
        c1 = self.ctl.cpu_seconds()
        per = 1000 * (c1 - c0) / n
        self.fig["metrics_scrape"] = {"cpu_ms": per, "bytes": size}
        self.row("CPU per /metrics scrape", "%.2f ms (%d KiB)" % (per, size // 1024))

    def finish(self):
        self.scrape_cost()
        hwm = self.ctl.status("VmHWM")
        self.fig["hwm_end_mib"] = hwm / MIB
        self.fig["rss_end_mib"] = self.ctl.status("VmRSS") / MIB
        self.fig["cpu_total_s"] = self.ctl.cpu_seconds()
        self.row("peak RSS over the whole run (VmHWM)", "%.1f MiB" % (hwm / MIB), "< 32 MiB",
                 hwm < 32 * MIB if self.size >= 10000 else None)
        t = time.monotonic()
        rc = self.ctl.stop(15)
        self.fig["sigterm_exit_s"] = time.monotonic() - t
        self.fig["exit_code"] = rc
        self.row("SIGTERM to exit", "%.2f s, exit %s" % (self.fig["sigterm_exit_s"], rc),
                 "exit 0 within 5 s", rc == 0 and self.fig["sigterm_exit_s"] < 5)
        key_leak = self.scan_log_for_keys()
        self.row("private key material in the controller's log", "%d lines" % key_leak, "0",
                 key_leak == 0)

    def scan_log_for_keys(self):
        """Lines of the log holding a slice of any rotated Secret's key (base64 or PEM body)."""
        slices = []
        for it in self.material[:50]:
            b = it["tls.key"]
            slices.append(b[len(b) // 2:len(b) // 2 + 32])
            pem = base64.b64decode(b).decode()
            body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
            slices.append(body[len(body) // 2:len(body) // 2 + 32])
        n = 0
        with open(self.ctl.log_path, "r", errors="replace") as f:
            for line in f:
                if any(s in line for s in slices):
                    n += 1
        return n

    def run(self):
        a = self.args
        log("size %d: starting the emulators (seed: %d Secrets, %d Ingresses)"
            % (self.size, self.size + self.meta["other_secrets"], self.size))
        self.start()
        log("size %d: cold start" % self.size)
        self.cold_start()
        log("size %d: steady state, %d s" % (self.size, a.steady_seconds))
        self.steady()
        log("size %d: watch events" % self.size)
        self.watch_events()
        with open(os.path.join(self.data, "rotations.json")) as f:
            self.material = json.load(f)
        avail = len(self.material)
        slow = min(avail, a.slow_rotations)
        fast = min(avail - slow, int(100 * a.fast_seconds))
        log("size %d: %d rotations at 1/s" % (self.size, slow))
        self.rotations(1, slow, 0, self.material)
        if fast > 0:
            log("size %d: %d rotations at 100/s" % (self.size, fast))
            self.rotations(100, fast, slow, self.material)
        self.finish()


# ---- tables ----

def print_table(title, rows, out=sys.stdout):
    w1 = max([len(r[0]) for r in rows] + [6])
    w2 = max([len(r[1]) for r in rows] + [5])
    print("\n" + title, file=out)
    print("%-*s  %-*s  %s" % (w1, "figure", w2, "value", "goal"), file=out)
    print("%s  %s  %s" % ("-" * w1, "-" * w2, "-" * 30), file=out)
    for fig, val, goal, met in rows:
        mark = "" if met is None else ("  [met]" if met else "  [MISSED]")
        print("%-*s  %-*s  %s%s" % (w1, fig, w2, val, goal, mark), file=out)
    out.flush()


def growth_rows(results):
    rows = []
    keys = [("cold start", "cold_start_s", "%.2f s"),
            ("peak RSS (VmHWM)", "hwm_end_mib", "%.1f MiB"),
            ("CPU, cold start", "cold_cpu_s", "%.2f s"),
            ("CPU per reconcile (cold)", "cold_cpu_per_reconcile_ms", "%.3f ms"),
            ("CPU per no-op reconcile", "steady_cpu_per_reconcile_ms", "%.3f ms"),
            ("Kubernetes requests (cold)", "kube_requests_total", "%d"),
            ("provider reads (cold)", "provider_reads", "%d")]
    for label, key, fmt in keys:
        vals = [r.get(key) for r in results]
        cells = []
        for v in vals:
            cells.append(fmt % v if v is not None else "-")
        ratios = []
        for prev, cur, rp, rc in zip(vals, vals[1:], results, results[1:]):
            if prev and cur is not None:
                growth = rc["size"] / float(rp["size"])
                ratios.append("x%.1f per x%g" % (cur / prev, growth))
        rows.append((label, " | ".join(cells), ", ".join(ratios)))
    for rate in (1, 100):
        k = "rotation_%g_per_s" % rate
        cells = ["%.0f ms" % r[k]["p99_ms"] if k in r else "-" for r in results]
        rows.append(("rotation p99 at %d/s" % rate, " | ".join(cells), ""))
    return rows


def print_growth(results, out=sys.stdout):
    rows = growth_rows(results)
    head = " | ".join("N=%d" % r["size"] for r in results)
    w1 = max(len(r[0]) for r in rows)
    w2 = max([len(r[1]) for r in rows] + [len(head)])
    print("\ngrowth (goal: time and memory linear or better: ratio <= the size ratio)", file=out)
    print("%-*s  %-*s  %s" % (w1, "figure", w2, head, "ratio"), file=out)
    print("%s  %s  %s" % ("-" * w1, "-" * w2, "-" * 30), file=out)
    for label, cells, ratio in rows:
        print("%-*s  %-*s  %s" % (w1, label, w2, cells, ratio), file=out)
    out.flush()


# ---- data ----

def ensure_data(args, size):
    d = os.path.join(args.data_dir, str(size))
    meta = os.path.join(d, "meta.json")
    if not os.path.exists(meta):
        log("generating the data set for %d Secrets in %s (key pool of %d RSA-2048 keys)"
            % (size, d, args.key_pool))
        os.makedirs(args.data_dir, mode=0o700, exist_ok=True)
        r = subprocess.run([args.gen, "--secrets", str(size), "--key-pool", str(args.key_pool),
                            "--out", d], timeout=1800)
        if r.returncode != 0:
            raise BenchError("bench-gen failed for %d" % size)
    with open(meta) as f:
        return d, json.load(f)


def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_mib": mem,
            "loadavg": open("/proc/loadavg").read().split()[:3]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=None, help="comma-separated (default 100,1000,10000; "
                    "--quick: 100,1000)")
    ap.add_argument("--quick", action="store_true", help="smoke run: short phases")
    ap.add_argument("--provider", choices=("huawei", "ucloud"), default="huawei")
    ap.add_argument("--steady-seconds", type=int, default=None, help="default 60 (quick 10)")
    ap.add_argument("--resync-seconds", type=int, default=None,
                    help="controller --resync-period during the run (default: half the "
                    "steady-state window, at least 10 s: the controller's minimum)")
    ap.add_argument("--provider-qps", type=int, default=5000,
                    help="controller --provider-qps (default 5000: the emulator, not a "
                    "cloud's rate limit, is what is measured)")
    ap.add_argument("--provider-burst", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--events", type=int, default=1000, help="watch events per kind")
    ap.add_argument("--slow-rotations", type=int, default=None, help="at 1/s (default 20, "
                    "quick 5)")
    ap.add_argument("--fast-seconds", type=float, default=None, help="duration at 100/s "
                    "(default 10, quick 3)")
    ap.add_argument("--converge-timeout", type=float, default=600)
    ap.add_argument("--rotation-timeout", type=float, default=180)
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--gen", required=True, help="the bench-gen binary")
    ap.add_argument("--data-dir", required=True, help="cache of generated data sets")
    ap.add_argument("--key-pool", type=int, default=64)
    ap.add_argument("--json", required=True, help="where to write the figures")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--wrap", default="", help="command prefix for the controller, e.g. "
                    "'valgrind --tool=massif --massif-out-file=/tmp/m.out' (profiling only)")
    args = ap.parse_args()
    if args.sizes is None:
        args.sizes = "100,1000" if args.quick else "100,1000,10000"
    if args.steady_seconds is None:
        args.steady_seconds = 10 if args.quick else 60
    if args.resync_seconds is None:
        args.resync_seconds = max(10, args.steady_seconds // 2)
    if args.slow_rotations is None:
        args.slow_rotations = 5 if args.quick else 20
    if args.fast_seconds is None:
        args.fast_seconds = 3 if args.quick else 10
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not sizes or any(s < 1 or s > 100000 for s in sizes):
        ap.error("--sizes: numbers in 1..100000")

    current = [None]

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)

    results = []
    report = {"machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                             time.gmtime()),
              "provider": args.provider, "quick": args.quick,
              "settings": {"resync_seconds": args.resync_seconds,
                           "provider_qps": args.provider_qps,
                           "provider_burst": args.provider_burst, "workers": args.workers,
                           "steady_seconds": args.steady_seconds, "key_pool": args.key_pool},
              "sizes": results}
    status = 0
    try:
        for size in sizes:
            d, meta = ensure_data(args, size)
            run = Run(args, size, d, meta)
            current[0] = run
            try:
                run.run()
            finally:
                run.close()
                current[0] = None
            run.fig["table"] = [list(r) for r in run.rows]
            run.fig["data"] = meta
            results.append(run.fig)
            print_table("N = %d TLS Secrets + %d other Secrets, %d Ingresses on %d load "
                        "balancers (%s, keys from a pool of %d RSA-2048)"
                        % (size, meta["other_secrets"], size, meta["load_balancers"],
                           args.provider, meta["key_pool"]), run.rows)
        if len(results) > 1:
            print_growth(results)
    except (BenchError, KeyboardInterrupt) as e:
        log("FAILED: %s" % (e if str(e) else type(e).__name__))
        status = 1
    finally:
        if current[0] is not None:
            current[0].close()
        report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        report["ok"] = status == 0
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json + ".tmp", "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)
        os.replace(args.json + ".tmp", args.json)
        log("figures written to %s" % args.json)
    return status


if __name__ == "__main__":
    sys.exit(main())
