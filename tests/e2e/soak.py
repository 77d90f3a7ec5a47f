#!/usr/bin/env python3
"""soak.py -- the fault-injection soak test of elb-certsync (issue 6): two leader-electing
replicas of the real controller against fake-kube-apiserver and fake-elb, for one provider,
while a seeded chaos loop rotates Secrets, creates, changes and deletes Ingresses, SIGKILLs
replicas (and restarts them), drops watches and compacts the API server's history (410
storms), with provider faults on for the whole run and watches cut every few seconds.

    soak.py --bin-dir build/bin --provider huawei|ucloud [--duration SECONDS] [--seed N]
            [--keep] [--resync SECONDS] [--include-failing] [--tolerate BUG]...
            [--elb-certsync PATH] [--fake-elb PATH] [--fake-kube-apiserver PATH]
    soak.py --bin-dir build/bin --provider huawei --repro replaced-record-lost

At the end the faults are turned off and, within a bounded time, the load balancer must equal
the desired state computed from the final Ingresses and Secrets as the API server holds them:
 - each listener in play: default = the current certificate of the first TLS entry of its
   first-created Ingress, SNI = every other entry (Huawei; UCloud classic VServers hold one
   certificate), each a managed certificate of this cluster; a listener with no Ingress left
   has its original default back and no SNI;
 - zero managed certificates of this cluster bound nowhere (orphans);
 - every certificate present at the start (the user's, another cluster's, and on Huawei one
   with our cluster's prefix but the user's description) present and identical (every field
   but its bindings), and the other cluster's listener bound exactly as seeded;
and it must stay so through one more full resync of the leader. During the whole run a
sampler thread checks every listener in play in every snapshot of the emulator: a default
certificate that exists, SNI certificates that exist, and only the listener's own original or
managed certificates of this cluster bound. Finally every replica must exit 0 on SIGTERM, no
replica may have died other than by our SIGKILL or by its documented exit on a lost lease,
and no controller log line nor Event may carry private-key material (PEM markers and slices
of every generated key), and no plan may ever have meant to delete or rename a certificate
that was there before. Exit status 0 when all of this holds.

A listener left in a state that matches a known controller bug (KNOWN_BUGS) fails the run
with the bug's name, except bugs scenarios.py already marks failing (UCloud's release), which
are printed as tolerated unless --include-failing is given, as scenarios.py does. --repro runs
the minimal reproduction of a bug the soak found instead of the soak.

Built on harness.py (Env, CertFactory, the provider views); nothing here edits it."""

import argparse
import base64
import json
import os
import random
import re
import signal
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import eventually  # noqa: E402

CLUSTER = "e2e"       # the harness seeds an impostor with this cluster ID in its name
NS = "soak"
LEASE_NS = "elb-certsync"
LEASE_NAME = "elb-certsync"  # the controller's default --lease-name

# Listeners in play, by port: the harness's three and two more of our own, all on the
# provider's main load balancer; SNI_PORT gets Ingresses with several TLS entries on Huawei.
PORTS = (443, 8443, 9443, 10443, 11443)
SNI_PORT = 443
FOREIGN_PORT = 7443   # bound to another cluster's certificates: must never change
EXTRA_LISTENERS = {10443: "original", 11443: "spare"}  # port -> role of its seeded default

N_SECRETS = 6
VERSIONS = 4          # pre-generated certificates per Secret (rotation cycles through them)
MAX_INGS_PER_LISTENER = 2

REFLECTOR_MAX_BACKOFF_S = 60
LEASE_S = 4
# Leader election: short, so that a SIGKILLed leader is replaced within seconds.
LEASE_ARGS = ["--lease-namespace", LEASE_NS, "--lease-duration", "%ds" % LEASE_S,
              "--renew-deadline", "3s", "--retry-period", "500ms"]

# Faults of the issue: 20% provider 500s, 10% throttling, 5% lost responses; watches cut.
ELB_FAULTS = {"error_500_rate": 0.2, "throttle_rate": 0.1, "lost_response_rate": 0.05}
ELB_FAULTS_OFF = {"error_500_rate": 0, "throttle_rate": 0, "lost_response_rate": 0,
                  "latency_ms": 0}  # partial updates: explicit zeros
DROP_WATCH_MS = 3000

# Chaos operations and their weights.
OPS = (("rotate", 30), ("ingress_create", 18), ("ingress_delete", 14), ("ingress_update", 10),
       ("kill", 10), ("drop_watches", 9), ("compact", 9))


# Known controller bugs whose signature the end check recognises. A deviation that matches a
# bug marked `gated` (already known and marked failing in scenarios.py, which leaves those
# scenarios out of ctest) is reported and does not fail the run unless --include-failing is
# given; any other known bug fails the run, with its name in the message, unless tolerated
# explicitly with --tolerate NAME (for looking past it at the rest; ctest never does).
KNOWN_BUGS = {
    "record-lost-on-restart": {
        "providers": ("huawei", "ucloud"), "gated": True,
        "what": "a documented limit (README, Known limits): the default a listener had before "
                "the controller first bound it is kept in the process's memory where no "
                "certificate description can carry it (UCloud; a Huawei certificate shared by "
                "several listeners records one); after a restart or a failover, deleting the "
                "listener's last Ingress leaves the managed certificate as its default, with a "
                "NoCertificateToRestore warning (soak.py --repro replaced-record-lost)"},
}


def pem_first(pem):
    """The first certificate of a PEM text, whitespace removed (how content is compared)."""
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem or "", re.S)
    return re.sub(r"\s", "", m.group(0)) if m else None


def key_slices(cert):
    """Distinctive pieces of a generated key that must never appear in a log or Event: the
    harness's (middle of the PEM body, middle of the base64 of the PEM) and the end of the
    body (the start of every key of a type is the same ASN.1 header, not distinctive)."""
    body = "".join(l for l in cert.key.splitlines() if l and not l.startswith("-----"))
    return [s for s in cert.key_slices() + [body[-40:-8]] if len(s) >= 24]


# ---- provider views by listener ID (the harness's look listeners up by its fixed ports) ----

class Views:
    """Where each listener in play is, per provider, and how to read it from /_fake/state."""

    def __init__(self, provider):
        self.name = provider
        hw = provider == "huawei"
        base = h.Huawei.listeners if hw else h.UCloud.listeners
        self.lb = h.Huawei.lb if hw else h.UCloud.lb
        self.ids = {}
        for port in PORTS:
            self.ids[port] = base.get(port) or ("%s-soak-%d" % ("listener" if hw else "vserver",
                                                                port))
        self.foreign_id = "%s-soak-%d" % ("listener" if hw else "vserver", FOREIGN_PORT)
        self.sni = hw  # UCloud classic VServers hold one certificate (its ALB is not emulated)

    def listener(self, state, lid):
        if self.name == "huawei":
            for lb in state["huawei"]["loadbalancers"]:
                for l in lb["listeners"]:
                    if l["id"] == lid:
                        return h.Listener(lid, l["default_tls_container_ref"],
                                          l["sni_container_refs"])
        else:
            for u in state["ucloud"]["ulbs"]:
                for v in u["VServers"]:
                    if v["VServerId"] == lid:
                        ids = v["SSLIds"]
                        return h.Listener(lid, ids[0] if ids else None, ids[1:])
        return h.Listener(lid, None, [], exists=False)

    def certs(self, state):
        return (h.Huawei if self.name == "huawei" else h.UCloud).certs(state)


def cert_identity(c):
    """Everything of a certificate record but its bindings (which the controller may change
    for the listeners' originals): name, description, content, timestamps, protection."""
    return {k: v for k, v in c.raw.items() if k not in ("listeners", "BindedTargetSet",
                                                         "Relations")}


# ---- the sampler ----

class MultiSampler(threading.Thread):
    """Samples the emulator's state in a loop until stopped. In every snapshot, every listener
    in play must have a default certificate that exists, SNI certificates that exist, and
    only its own original or managed certificates of this cluster bound; the other cluster's
    listener must be bound exactly as seeded. (harness.Sampler, generalised to many
    listeners and to SNI.)"""

    def __init__(self, soak):
        super().__init__(daemon=True)
        self.soak = soak
        self.stop_ev = threading.Event()
        self.samples = 0
        self.n_bad = 0
        self.bad = []      # the first few, with their time into the run
        self.error = None

    def check(self, state):
        s = self.soak
        certs = {c.id: c for c in s.views.certs(state)}
        managed = {c.id for c in s.managed(state)}
        problems = []
        for port in PORTS:
            lid = s.views.ids[port]
            l = s.views.listener(state, lid)
            if not l.exists:
                problems.append("listener %s gone" % lid)
                continue
            if not l.default or l.default not in certs:
                problems.append("listener %s without a certificate: %r" % (lid, l))
            elif l.default != s.original[port] and l.default not in managed:
                problems.append("listener %s: default %s (%s) is neither its original nor ours"
                                % (lid, l.default, certs[l.default].name))
            for i in l.sni:
                if i not in certs:
                    problems.append("listener %s: SNI certificate %s does not exist" % (lid, i))
                elif i not in managed:
                    problems.append("listener %s: SNI %s (%s) is not ours"
                                    % (lid, i, certs[i].name))
        f = s.views.listener(state, s.views.foreign_id)
        if (f.default, f.sni) != s.foreign_binding:
            problems.append("the other cluster's listener changed: %r" % f)
        return problems

    def run(self):
        try:
            while not self.stop_ev.is_set():
                state = self.soak.env.elb_state()
                self.samples += 1
                problems = self.check(state)
                if problems:
                    self.n_bad += 1
                    if len(self.bad) < 5:
                        self.bad.append("t=%.1fs: %s" % (self.soak.elapsed(),
                                                         "; ".join(problems)))
                self.stop_ev.wait(0.05)
        except Exception as e:  # reported by stop()
            self.error = "%s: %s" % (type(e).__name__, e)

    def stop(self):
        self.stop_ev.set()
        self.join(15)


# ---- the replicas ----

class Replica:
    """One replica slot (a pod): its identity stays, its process (incarnation) changes."""

    def __init__(self, ident):
        self.ident = ident
        self.incarnations = []   # harness Controller objects, oldest first
        self.restart_at = None   # monotonic time of a pending restart
        self.seen_dead = set()   # incarnations whose death is accounted for

    @property
    def current(self):
        return self.incarnations[-1] if self.incarnations else None

    def alive(self):
        return self.current is not None and self.current.proc.alive()


# ---- the soak ----

class Soak:
    def __init__(self, env, provider, rng, duration, resync, include_failing=False,
                 tolerate=()):
        self.env = env
        self.include_failing = include_failing
        self.tolerate = set(tolerate)
        self.known = []
        self.rng = rng
        self.duration = duration
        self.resync = resync
        self.views = Views(provider)
        self.t0 = time.monotonic()
        self.counts = {name: 0 for name, _ in OPS}
        self.counts.update(lease_lost_exits=0, restarts=0, leader_kills=0)
        self.failures = []       # problems found during the run (reported at the end)
        self.oplog = []
        self.replicas = [Replica("replica-a"), Replica("replica-b")]
        self.ing_seq = 0
        self.ingresses = {}      # name -> (port, [secret names]) as we last applied them
        self.secret_version = {}  # secret name -> index of its current version
        self.pool = {}           # secret name -> [Cert] versions
        self.dropped = 0         # watches cut by /_fake/drop-watches (their answers)
        self.sampler = None
        self.converge_s = None
        self.elb_stats = {}

    def elapsed(self):
        return time.monotonic() - self.t0

    def log(self, msg):
        line = "  [%6.1fs] %s" % (self.elapsed(), msg)
        self.oplog.append(line)
        print(line, flush=True)

    # -- setup --

    def make_certs(self):
        """The Secrets' certificate pool (openssl is slow: made before the run), and the
        extra certificates of the seed. Two threads: the machine has two cores."""
        f = self.env.certs
        jobs = []
        for i in range(N_SECRETS):
            for v in range(VERSIONS):
                # RSA for one version in three, ECDSA for the rest: both key types rotate
                jobs.append(("s%d" % i, v, "rsa:2048" if (i + v) % 3 == 0 else "ec"))
        results = {}
        lock = threading.Lock()
        # CertFactory numbers its files: one factory per thread, each in its own directory
        factories = [h.CertFactory(os.path.join(self.env.tmp, "pool%d" % k)) for k in (0, 1)]
        errors = []

        def work(k):
            try:
                for j, (sec, v, key) in enumerate(jobs):
                    if j % 2 != k:
                        continue
                    c = factories[k].self_signed("%s-v%d" % (sec, v), [self.host(sec)], key=key)
                    with lock:
                        results[(sec, v)] = c
            except Exception as e:
                errors.append(e)
        threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        if errors or len(results) != len(jobs):
            raise RuntimeError("certificate pool: %s" % (errors or "incomplete"))
        for i in range(N_SECRETS):
            sec = "s%d" % i
            self.pool[sec] = [results[(sec, v)] for v in range(VERSIONS)]
            self.env.made.extend(self.pool[sec])  # every key is checked against the logs
        self.soak_foreign = f.self_signed("soak-foreign", ["soak-foreign.example.test"],
                                          key="ec")

    @staticmethod
    def host(secret):
        return "%s.soak.example.test" % secret

    def seed_extra(self, seed):
        """Adds to the harness's seed: two more listeners of ours (5 in play), the other
        cluster's listener, and certificates named for this soak's Secrets but not ours: the
        other cluster's, and (Huawei) one with our cluster ID in the name and the user's
        description."""
        fp12 = "0123456789ab"
        fp = fp12 + "d" * 52
        hw, uc = seed["huawei"], seed["ucloud"]
        hw_ids = {c["name"]: c["id"] for c in hw["certificates"]}
        uc_ids = {c["SSLName"]: c["SSLId"] for c in uc["certificates"]}
        pem = self.soak_foreign.crt
        # Huawei
        hw["certificates"] += [
            {"id": "e2e0000000000000000000000000b001", "project_id": h.HW_PROJECT,
             "name": "k8s_plb_default_other_%s.s0-tls_%s" % (NS, fp12),
             "description": "elb-certsync/v1;c=other;s=%s/s0-tls;f=%s" % (NS, fp),
             "type": "server", "certificate": pem, "protection_status": "consoleProtection"},
            {"id": "e2e0000000000000000000000000b002", "project_id": h.HW_PROJECT,
             "name": "k8s_plb_default_%s_%s.s1-tls_%s" % (CLUSTER, NS, fp12),
             "description": "a user's certificate that happens to look managed",
             "type": "server", "certificate": pem, "protection_status": "nonProtection"}]
        lst = hw["loadbalancers"][0]["listeners"]
        for port, role in EXTRA_LISTENERS.items():
            lst.append({"id": "listener-soak-%d" % port, "name": "https-%d" % port,
                        "protocol": "HTTPS", "port": port,
                        "default_tls_container_ref": hw_ids["user-" + role],
                        "sni_container_refs": []})
        lst.append({"id": "listener-soak-%d" % FOREIGN_PORT, "name": "other-cluster",
                    "protocol": "HTTPS", "port": FOREIGN_PORT,
                    "default_tls_container_ref": hw_ids[self.env.foreign_name],
                    "sni_container_refs": ["e2e0000000000000000000000000b001"]})
        # UCloud (no descriptions: the name is the ownership mark, so no impostor)
        uc["certificates"].append(
            {"SSLId": "ssl-soakfrn1", "Region": h.UC_REGION, "ProjectId": h.UC_PROJECT,
             "SSLName": "k8s_plb_default_other_%s.s0-tls_%s" % (NS, fp12), "UserCert": pem})
        vs = uc["ulbs"][0]["VServers"]
        for port, role in EXTRA_LISTENERS.items():
            vs.append({"VServerId": "vserver-soak-%d" % port, "VServerName": "https-%d" % port,
                       "Protocol": "HTTPS", "FrontendPort": port,
                       "SSLIds": [uc_ids["user-" + role]]})
        vs.append({"VServerId": "vserver-soak-%d" % FOREIGN_PORT,
                   "VServerName": "other-cluster", "Protocol": "HTTPS",
                   "FrontendPort": FOREIGN_PORT, "SSLIds": ["ssl-soakfrn1"]})

    def start(self):
        env = self.env
        self.make_certs()
        env.start_fakes(seed_extra=self.seed_extra)
        state = env.elb_state()
        # what was there before anything ran: never to be touched
        self.seeded = {c.id: cert_identity(c) for c in self.views.certs(state)}
        self.original = {}
        for port in PORTS:
            l = self.views.listener(state, self.views.ids[port])
            assert l.exists and l.default, "seed: listener %d: %r" % (port, l)
            self.original[port] = l.default
        f = self.views.listener(state, self.views.foreign_id)
        assert f.exists and f.default, f
        self.foreign_binding = (f.default, list(f.sni))
        # the Kubernetes side: the namespaces, every Secret at version 0, a few Ingresses
        objs = [env.namespace(LEASE_NS), env.namespace(NS)]
        for i in range(N_SECRETS):
            sec = "s%d" % i
            self.secret_version[sec] = 0
            objs.append(env.tls_secret(NS, sec + "-tls", self.pool[sec][0]))
        env.apply(*objs)
        for port in (SNI_PORT, 8443, 10443):
            self.ingress_create(port=port)
        # faults on for the whole run, before the controllers start
        env.elb_faults(**ELB_FAULTS)
        env.kube_control("POST", "faults", {"fault-drop-watch-ms": DROP_WATCH_MS,
                                            "fault-split-chunks": True})
        self.sampler = MultiSampler(self)
        self.sampler.start()
        for r in self.replicas:
            self.start_replica(r)

    # -- replicas --

    def start_replica(self, r):
        n = len(r.incarnations)
        c = self.env.start_controller(
            cluster_id=CLUSTER, name="controller-%s-%d" % (r.ident, n), leader_elect=True,
            resync="%ds" % self.resync,
            extra=LEASE_ARGS + ["--identity", r.ident, "--provider-timeout", "3s"])
        r.incarnations.append(c)
        r.restart_at = None
        if n:
            self.counts["restarts"] += 1

    def leader(self):
        lease = self.env.get("lease", LEASE_NS, LEASE_NAME)
        return lease and lease["spec"].get("holderIdentity")

    def watch_replicas(self):
        """Accounts for replicas that died by themselves: a lost lease makes a replica exit 1
        (documented: it restarts as a candidate, as the Deployment would restart it); any
        other death (a crash, a sanitizer report) is a failure. Restarts what is due."""
        now = time.monotonic()
        for r in self.replicas:
            c = r.current
            if c is not None and not c.proc.alive() and id(c) not in r.seen_dead:
                r.seen_dead.add(id(c))
                if not c.proc.killed:
                    rc = c.proc.p.returncode
                    if rc == 1 and "leadership lost" in c.proc.log():
                        self.counts["lease_lost_exits"] += 1
                        self.log("%s exited after losing its lease (restarting)" % c.name)
                    else:
                        self.failures.append("%s died by itself with status %s: %s"
                                             % (c.name, rc, c.proc.log()[-1500:]))
                        self.log("%s died with status %s" % (c.name, rc))
                    r.restart_at = now + 0.5
            if r.restart_at is not None and now >= r.restart_at:
                self.start_replica(r)
                self.log("restarted %s as %s" % (r.ident, r.current.name))

    # -- chaos operations --

    def op_rotate(self):
        sec = self.rng.choice(sorted(self.pool))
        v = (self.secret_version[sec] + 1) % VERSIONS
        self.env.apply(self.env.tls_secret(NS, sec + "-tls", self.pool[sec][v]))
        self.secret_version[sec] = v
        used = sorted(n for n, (_, ss) in self.ingresses.items() if sec in ss)
        return "rotate %s-tls to v%d (used by %s)" % (sec, v, ", ".join(used) or "nothing")

    def _pick_entries(self, port):
        secrets = sorted(self.pool)
        n = self.rng.choice((1, 2, 3)) if (port == SNI_PORT and self.views.sni) else 1
        return self.rng.sample(secrets, n)

    def _ingress_obj(self, name, port, secrets):
        return self.env.ingress(NS, name, [(s + "-tls", [self.host(s)]) for s in secrets],
                                port=port)

    def ingress_create(self, port=None):
        if port is None:
            counts = {p: 0 for p in PORTS}
            for p, _ in self.ingresses.values():
                counts[p] += 1
            free = [p for p in PORTS if counts[p] < MAX_INGS_PER_LISTENER]
            if not free:
                return None
            # listeners with no Ingress first: most of the time, a fresh bind
            empty = [p for p in free if counts[p] == 0]
            port = self.rng.choice(empty if empty and self.rng.random() < 0.7 else free)
        self.ing_seq += 1
        name = "ing-%03d" % self.ing_seq
        secrets = self._pick_entries(port)
        self.env.apply(self._ingress_obj(name, port, secrets))
        self.ingresses[name] = (port, secrets)
        return "create ingress %s on %d with %s" % (name, port, ",".join(secrets))

    def op_ingress_create(self):
        return self.ingress_create()

    def op_ingress_delete(self):
        if not self.ingresses:
            return None
        name = self.rng.choice(sorted(self.ingresses))
        self.env.delete("ingress", NS, name)
        port, _ = self.ingresses.pop(name)
        return "delete ingress %s from %d" % (name, port)

    def op_ingress_update(self):
        """Other Secrets, or the same ones on another listener (the old one is released)."""
        if not self.ingresses:
            return None
        name = self.rng.choice(sorted(self.ingresses))
        port, secrets = self.ingresses[name]
        if self.rng.random() < 0.4:
            counts = {p: 0 for p in PORTS}
            for p, _ in self.ingresses.values():
                counts[p] += 1
            free = [p for p in PORTS if p != port and counts[p] < MAX_INGS_PER_LISTENER]
            if free:
                port = self.rng.choice(free)
                if port != SNI_PORT or not self.views.sni:
                    secrets = secrets[:1]
        else:
            secrets = self._pick_entries(port)
        self.env.apply(self._ingress_obj(name, port, secrets))
        self.ingresses[name] = (port, secrets)
        return "update ingress %s: %d with %s" % (name, port, ",".join(secrets))

    def op_kill(self):
        live = [r for r in self.replicas if r.alive()]
        if not live:
            return None
        lead = self.leader() if self.rng.random() < 0.6 else None
        pick = [r for r in live if r.ident == lead]
        r = pick[0] if pick else self.rng.choice(live)
        c = r.current
        c.proc.kill()
        r.seen_dead.add(id(c))
        # shorter than the lease: the same identity takes its lease back; longer: the other
        # replica takes over
        delay = self.rng.uniform(0.2, 8.0)
        r.restart_at = time.monotonic() + delay
        if r.ident == lead:
            self.counts["leader_kills"] += 1
        return "SIGKILL %s%s, restart in %.1fs" % (c.name, " (the leader)" if pick else "",
                                                   delay)

    def op_drop_watches(self):
        n = self.env.kube_control("POST", "drop-watches").get("dropped", 0)
        self.dropped += n
        return "drop watches (%d cut)" % n

    def op_compact(self):
        """Compaction, then the watches cut: every reflector re-watches from a compacted
        resourceVersion and gets 410 Expired, then relists."""
        rv = self.env.kube_control("POST", "compact").get("compactedResourceVersion")
        n = self.env.kube_control("POST", "drop-watches").get("dropped", 0)
        self.dropped += n
        return "compact at %s + drop watches (%d cut): 410 storm" % (rv, n)

    def weights(self):
        """OPS' weights, with Ingress creation and deletion leaning towards 3 to 6 Ingresses
        (most listeners busy, some free to be released and bound again)."""
        n = len(self.ingresses)
        w = dict(OPS)
        if n >= 6:
            w["ingress_create"] //= 4
        if n <= 3:
            w["ingress_delete"] = w["ingress_delete"] // 4 if n > 1 else 0
        return [w[name] for name, _ in OPS]

    def chaos(self):
        names = [n for n, _ in OPS]
        deadline = time.monotonic() + self.duration
        while time.monotonic() < deadline:
            self.watch_replicas()
            op = self.rng.choices(names, self.weights())[0]
            what = getattr(self, "op_" + op)()
            if what:
                self.counts[op] += 1
                self.log(what)
            # about one operation a second; replicas are checked (restarted) meanwhile
            until = time.monotonic() + self.rng.uniform(0.5, 1.5)
            while time.monotonic() < min(until, deadline):
                self.watch_replicas()
                time.sleep(0.1)
            if self.sampler.error:
                raise AssertionError("sampler failed: %s" % self.sampler.error)

    # -- the end --

    def managed(self, state):
        """Certificates named as this cluster's managed ones, less everything seeded."""
        prefix = "k8s_plb_default_%s_" % CLUSTER
        return [c for c in self.views.certs(state)
                if c.name.startswith(prefix) and c.id not in self.seeded]

    def desired(self):
        """{port: (default secret or None, [SNI secrets])} from the Ingresses and Secrets as
        the API server holds them (desired.h: first-created Ingress, ties by namespace/name,
        gives the default; SNI is every other entry, de-duplicated; UCloud classic VServers
        hold no SNI), and {secret: crt} of the Secrets. Cross-checked against what the soak
        applied, so a lost kubectl call cannot hide."""
        ings = (self.env.get("ingresses", NS) or {}).get("items", [])
        secs = (self.env.get("secrets", NS) or {}).get("items", [])
        crts = {}
        for s in secs:
            crts[s["metadata"]["name"]] = base64.b64decode(s["data"]["tls.crt"]).decode()
        seen = {}
        per_port = {}
        for i in ings:
            md = i["metadata"]
            port = int(md["annotations"]["kubernetes.io/elb.port"])
            entries = [t["secretName"] for t in i["spec"].get("tls", [])]
            seen[md["name"]] = (port, [e[:-len("-tls")] for e in entries])
            per_port.setdefault(port, []).append((md["creationTimestamp"], md["namespace"],
                                                  md["name"], entries))
        assert seen == self.ingresses, "the API server's Ingresses %r differ from the soak's %r" \
            % (seen, self.ingresses)
        for sec, v in self.secret_version.items():
            assert pem_first(crts.get(sec + "-tls")) == pem_first(self.pool[sec][v].crt), \
                "Secret %s-tls is not at the version the soak applied" % sec
        out = {}
        for port in PORTS:
            lst = sorted(per_port.get(port, []))  # RFC 3339 UTC strings sort as times
            if not lst:
                out[port] = (None, [])
                continue
            entries = []
            for _, _, _, es in lst:
                for e in es:
                    if e not in entries:
                        entries.append(e)
            out[port] = (entries[0], entries[1:] if self.views.sni else [])
        return out, crts

    def unreleased_bug(self, l, ours):
        """The documented limit a listener with no Ingress left matches when it still holds
        one of our certificates as its default (and no SNI), or None: only after a restart,
        where no description of ours records what the default replaced, and only when the
        controller said so (a NoCertificateToRestore warning naming the listener)."""
        if l.sni or l.default not in ours or self.counts.get("restarts", 0) == 0:
            return None
        if self.views.name == "huawei" and any(";r=%s," % l.key in (c.description or "")
                                               for c in ours.values()):
            return None
        for r in self.replicas:
            for c in r.incarnations:
                for line in c.log_lines():
                    if line.get("reason") == "NoCertificateToRestore" and \
                            l.key in line.get("msg", ""):
                        return "record-lost-on-restart"
        return None

    def final_problems(self, state, desired, crts, known=None):
        """What differs from the desired state (a list of messages); deviations tolerated as
        known bugs go to `known` instead."""
        problems = []
        known = known if known is not None else []
        certs = {c.id: c for c in self.views.certs(state)}
        ours = {c.id: c for c in self.managed(state)}
        for port in PORTS:
            lid = self.views.ids[port]
            l = self.views.listener(state, lid)
            want_def, want_sni = desired[port]
            if want_def is None:
                if l.default != self.original[port] or l.sni:
                    bug = self.unreleased_bug(l, ours)
                    msg = ("%d (%s, no Ingress): want the original %s and no SNI, have %r"
                           % (port, lid, self.original[port], l))
                    if bug and (bug in self.tolerate or
                                (KNOWN_BUGS[bug]["gated"] and not self.include_failing)):
                        known.append("%s [known bug %s]" % (msg, bug))
                    else:
                        problems.append(msg + (" [known bug %s: %s]"
                                               % (bug, KNOWN_BUGS[bug]["what"]) if bug else ""))
                continue
            d = ours.get(l.default)
            if d is None:
                problems.append("%d: default %s is not a managed certificate of ours (want %s)"
                                % (port, l.default, want_def))
            elif pem_first(d.pem) != pem_first(crts[want_def]):
                problems.append("%d: default %s (%s) is not %s's current certificate"
                                % (port, d.id, d.name, want_def))
            have = []
            for i in l.sni:
                c = ours.get(i)
                if c is None:
                    problems.append("%d: SNI %s is not a managed certificate of ours" % (port, i))
                else:
                    have.append(pem_first(c.pem))
            want = [pem_first(crts[s]) for s in want_sni]
            if sorted(have) != sorted(want):
                names = {pem_first(v): k for k, v in crts.items()}
                problems.append("%d: SNI %s, want %s" % (
                    port, [names.get(p, "?") for p in have], want_sni))
        orphans = [c for c in ours.values() if not c.bindings]
        if orphans:
            problems.append("orphaned managed certificates: %s" % ", ".join(
                "%s (%s)" % (c.id, c.name) for c in orphans))
        for cid, ident in self.seeded.items():
            c = certs.get(cid)
            if c is None:
                problems.append("seeded certificate %s (%s) deleted" % (cid, ident.get("name",
                                ident.get("SSLName"))))
            elif cert_identity(c) != ident:
                diff = sorted(k for k in set(ident) | set(cert_identity(c))
                              if ident.get(k) != cert_identity(c).get(k))
                problems.append("seeded certificate %s changed: %s" % (cid, ", ".join(diff)))
        f = self.views.listener(state, self.views.foreign_id)
        if (f.default, f.sni) != self.foreign_binding:
            problems.append("the other cluster's listener changed: %r" % f)
        return problems

    def converge(self):
        """Faults off, every replica running, then the state must reach the desired one within
        a bound (a couple of resync periods, plus a lease for a failover) and stay there
        through one more full resync of the leader."""
        env = self.env
        env.elb_faults(**ELB_FAULTS_OFF)
        env.kube_control("POST", "faults", {"fault-drop-watch-ms": 0,
                                            "fault-split-chunks": False})
        self.elb_stats = env.elb_stats()
        for r in self.replicas:
            self.watch_replicas()
            if not r.alive():
                self.start_replica(r)
                self.log("restarted %s as %s for the end" % (r.ident, r.current.name))
        desired, crts = self.desired()
        self.log("faults off; desired: %s" % ", ".join(
            "%d=%s%s" % (p, d or "original", "+" + "+".join(s) if s else "")
            for p, (d, s) in sorted(desired.items())))
        last = [None]

        def ok():
            self.known = []
            last[0] = self.final_problems(env.elb_state(), desired, crts, self.known)
            return not last[0]
        # A reflector whose watches kept failing backs off like client-go's, up to 30 s
        # jittered by up to +100% (k8s/reflector.c, common/backoff.h), before it relists: the
        # controller may be blind that long after the faults stop. Then a lease for a
        # failover, two resync periods, and a margin for a loaded machine.
        bound = REFLECTOR_MAX_BACKOFF_S + LEASE_S + 2 * self.resync + 15
        t = time.monotonic()
        try:
            eventually(ok, bound, "the desired state", interval=0.25)
        except h.Timeout:
            raise AssertionError("not converged %ds after the faults were turned off:\n  %s"
                                 % (bound, "\n  ".join(last[0])))
        self.converge_s = time.monotonic() - t
        self.log("converged in %.1fs" % self.converge_s)
        for k in self.known:
            self.log("tolerated: %s" % k)
        # ... and stays converged through a full resync of the leader (garbage collection)
        lead = eventually(lambda: self.leader() in ("replica-a", "replica-b") and self.leader(),
                          20, "a leader")
        c = [r for r in self.replicas if r.ident == lead][0].current

        def synced_at():
            return h.metric_sum(c.metrics(), "elb_certsync_last_full_sync_timestamp_seconds")
        before = synced_at()
        eventually(lambda: synced_at() > before, 2 * self.resync + 10,
                   "a full resync of %s" % c.name, interval=0.25)
        eventually(lambda: h.metric_sum(c.metrics(), "elb_certsync_queue_depth") == 0,
                   2 * self.resync, "%s's queue to drain" % c.name, interval=0.1)
        problems = self.final_problems(env.elb_state(), desired, crts, [])
        assert not problems, "converged, then lost it after a full resync:\n  %s" % \
            "\n  ".join(problems)

    def stop_replicas(self):
        """SIGTERM: each running replica must exit 0 promptly (released lease, clean
        shutdown; under ASan also no leak)."""
        live = [r.current for r in self.replicas if r.alive()]
        for c in live:
            c.proc.p.send_signal(signal.SIGTERM)
        for c in live:
            rc = c.proc.stop(timeout=15)
            if rc != 0:
                self.failures.append("%s exited with status %s on SIGTERM:\n%s"
                                     % (c.name, rc, c.proc.log()[-1500:]))

    def check_logs(self):
        """No private-key material in any incarnation's log (the harness's check_invariants
        covers the Events and its own key slices too), and no plan ever meant to delete or
        rename a certificate that was there before (a refused attempt leaves the state intact,
        so the state alone cannot tell)."""
        for r in self.replicas:
            for c in r.incarnations:
                for l in c.log_lines():
                    if l.get("id") in self.seeded and (
                            (l.get("msg") == "plan" and l.get("action") in ("delete", "rename"))
                            or l.get("msg") in ("certificate deleted", "certificate renamed back")):
                        self.failures.append("%s meant to %s seeded certificate %s: %s" % (
                            c.name, l.get("action") or l.get("msg"), l["id"], json.dumps(l)))
                log = c.proc.log()
                # covers BEGIN/END PRIVATE KEY, RSA/EC/ENCRYPTED PRIVATE KEY
                if "PRIVATE KEY" in log:
                    self.failures.append("%s logged a PEM key marker" % c.name)
                for cert in self.env.made:
                    if any(s in log for s in key_slices(cert)):
                        self.failures.append("%s logged key material of %s" % (c.name,
                                                                              cert.name))

    def summary(self):
        st = self.elb_stats
        outcomes = st.get("outcomes", {}).get(self.views.name, {})
        faults = {}
        total_ops = 0
        for op, res in outcomes.items():
            for k, n in res.items():
                total_ops += n
                if k != "ok":
                    faults[k] = faults.get(k, 0) + n
        kube = self.env._kube_stats_raw()
        req = kube.get("requests", {})
        lease = self.env.get("lease", LEASE_NS, LEASE_NAME) or {"spec": {}}
        print("soak summary (%s, %.0fs of chaos):" % (self.views.name, self.duration))
        print("  operations: %s" % ", ".join("%s=%d" % (k, v) for k, v in
                                             sorted(self.counts.items())))
        print("  replicas: %d incarnations, lease transitions %s" % (
            sum(len(r.incarnations) for r in self.replicas),
            lease["spec"].get("leaseTransitions")))
        print("  provider requests during the faults: %d, faults injected: %s" % (
            total_ops, ", ".join("%s=%d" % kv for kv in sorted(faults.items())) or "none"))
        print("  kube: watches opened %d, lists %d, watches cut by the soak %d (plus one every "
              "%d ms by the fault)" % (sum(req.get("watch", {}).values()),
                                       sum(req.get("list", {}).values()), self.dropped,
                                       DROP_WATCH_MS))
        backoffs = [int(l.get("retry_in_ms", 0)) for r in self.replicas for c in r.incarnations
                    for l in c.log_lines() if l.get("msg") in ("watch failed",
                                                               "list/relist needed")]
        print("  reflectors: %d watch failures/relists logged, longest back-off %.1fs" % (
            len(backoffs), max(backoffs or [0]) / 1000.0))
        acts = {}
        for r in self.replicas:
            for c in r.incarnations:
                for l in c.log_lines():
                    if l.get("msg") in ("certificate created", "certificate deleted",
                                        "listener bound", "listener default restored"):
                        acts[l["msg"]] = acts.get(l["msg"], 0) + 1
        print("  controller actions done: %s" % (", ".join(
            "%s=%d" % kv for kv in sorted(acts.items())) or "none"))
        print("  sampler: %d samples, %d bad" % (self.sampler.samples, self.sampler.n_bad))
        print("  converged %.1fs after the faults were turned off" % self.converge_s)
        for k in self.known:
            print("  tolerated (known bug): %s" % k)
        return faults

    def run(self):
        self.start()
        self.log("chaos for %ds" % self.duration)
        self.chaos()
        self.converge()
        self.sampler.stop()
        faults = self.summary()
        self.stop_replicas()
        self.check_logs()
        problems = list(self.failures)
        if self.sampler.error:
            problems.append("sampler failed: %s" % self.sampler.error)
        if self.sampler.samples == 0:
            problems.append("the sampler took no sample")
        if self.sampler.n_bad:
            problems.append("%d of %d samples bad, first: %s" % (
                self.sampler.n_bad, self.sampler.samples, "\n    ".join(self.sampler.bad)))
        if not faults:
            problems.append("no provider fault was injected: %r" % self.elb_stats)
        if self.counts["kill"] == 0 and self.duration >= 20:
            problems.append("no replica was killed in %ds of chaos" % self.duration)
        # the harness's invariants: foreign/selected/impostor present, no key material in
        # the controllers' logs or in Events (every incarnation is in env.controllers)
        try:
            self.env.check_invariants()
        except AssertionError as e:
            problems.append(str(e))
        if problems:
            raise AssertionError("soak failed:\n  " + "\n  ".join(problems))


# ---- minimal reproductions of what the soak found (not in ctest while they fail) ----

def repro_replaced_record_lost(env):
    """KNOWN_BUGS["record-lost-on-restart"] in the fewest steps: one Secret, an Ingress on 443
    (its certificate is created there and its description records 443's original), a second
    Ingress with the same Secret on 8443 (the existing certificate is bound; what 8443 had is
    remembered only in memory), a clean restart, then the 8443 Ingress deleted: 8443 must get
    its original default back."""
    import scenarios as sc
    env.start_fakes()
    c = env.cert_for("web", ["web.example.test"])
    env.apply(env.namespace("shop"), env.tls_secret("shop", "web-tls", c),
              env.ingress("shop", "a", [("web-tls", ["web.example.test"])], port=443))
    ctl = env.start_controller()
    m = sc.wait_managed_default(env, 443, readable="shop.web-tls")
    env.apply(env.ingress("shop", "b", [("web-tls", ["web.example.test"])], port=8443))
    eventually(lambda: env.listener(8443).default == m.id, sc.T_REACT,
               "8443 bound to the shared certificate")
    rc = ctl.proc.stop()
    assert rc == 0, rc
    ctl = env.start_controller(name="controller-restarted")
    sc.wait_full_sync(env, ctl)
    env.delete("ingress", "shop", "b")
    orig = env.provider.ids["original"]
    try:
        eventually(lambda: env.listener(8443).default == orig, sc.T_RESYNC,
                   "8443's original default restored")
    except h.Timeout:
        st = env.elb_state()
        raise AssertionError("8443 not restored: %r; certificates of ours: %s" % (
            env.listener(8443, state=st), ["%s %s %s" % (x.id, x.name, x.description)
                                           for x in env.managed(CLUSTER, st)]))


REPROS = {"replaced-record-lost": (repro_replaced_record_lost, ("huawei",))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin"))
    for b in ("elb-certsync", "fake-elb", "fake-kube-apiserver"):
        ap.add_argument("--" + b, metavar="PATH", help="the %s binary (default: in --bin-dir)" % b)
    ap.add_argument("--provider", choices=sorted(h.PROVIDERS), default="huawei")
    ap.add_argument("--duration", type=float, default=60,
                    help="seconds of chaos (default 60; the end phase comes on top)")
    ap.add_argument("--seed", type=int, help="the chaos RNG's seed (default: from the clock; "
                    "printed, so that a run's sequence of operations can be replayed)")
    ap.add_argument("--resync", type=int, default=10, help="the controllers' --resync-period "
                    "in seconds (default and least: 10)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--include-failing", action="store_true",
                    help="fail on deviations matching known bugs already marked failing in "
                    "scenarios.py too (%s)" % ", ".join(
                        sorted(k for k, v in KNOWN_BUGS.items() if v["gated"])))
    ap.add_argument("--tolerate", action="append", default=[], choices=sorted(KNOWN_BUGS),
                    metavar="BUG", help="do not fail on deviations matching this known bug "
                    "(to look past it); one of: %s" % ", ".join(sorted(KNOWN_BUGS)))
    ap.add_argument("--repro", choices=sorted(REPROS), help="instead of the soak, run the "
                    "minimal reproduction of a bug the soak found")
    a = ap.parse_args()
    if a.duration <= 0 or a.resync < 10:
        ap.error("--duration must be positive, --resync at least 10 (the controller's least)")
    for b in ("elb-certsync", "fake-elb", "fake-kube-apiserver"):
        p = getattr(a, b.replace("-", "_"))
        if p:
            h.Env.binaries[b] = os.path.abspath(p)
    if a.repro:
        fn, provs = REPROS[a.repro]
        if a.provider not in provs:
            ap.error("--repro %s is for %s" % (a.repro, ", ".join(provs)))
        h.stop_on_signals(None)
        env = h.Env(os.path.abspath(a.bin_dir), a.provider, keep=a.keep)
        ok = False
        try:
            fn(env)
            ok = True
        except Exception:
            traceback.print_exc()
        finally:
            env.close(failed=not ok)
        print("%s repro %s/%s" % ("PASS" if ok else "FAIL", a.provider, a.repro), flush=True)
        return 0 if ok else 1
    seed = a.seed if a.seed is not None else int.from_bytes(os.urandom(4), "big")
    print("soak/%s: seed %d, %gs of chaos (replay: --seed %d)" % (a.provider, seed, a.duration,
                                                                  seed), flush=True)
    h.stop_on_signals(None)
    env = h.Env(os.path.abspath(a.bin_dir), a.provider, keep=a.keep)
    t0 = time.monotonic()
    ok = False
    soak = None
    try:
        soak = Soak(env, a.provider, random.Random(seed), a.duration, a.resync,
                    include_failing=a.include_failing, tolerate=a.tolerate)
        soak.run()
        ok = True
    except KeyboardInterrupt:
        env.close(failed=True)
        raise
    except Exception:
        traceback.print_exc()
        if soak is not None and soak.sampler is not None:
            soak.sampler.stop()
    finally:
        env.close(failed=not ok)
    print("%s soak/%s seed %d (%.1fs)" % ("PASS" if ok else "FAIL", a.provider, seed,
                                          time.monotonic() - t0), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
