"""harness.py -- the end-to-end test harness of elb-certsync.

Starts, on 127.0.0.1 only, `fake-kube-apiserver --tls`, `fake-elb` with a seed written for the
test, and the real `elb-certsync run`; drives Kubernetes with the real kubectl (manifests only:
kubectl's generator commands send protobuf, which the fake refuses); makes certificates on the
spot with the openssl command line; and reads what happened from the emulator's state and
request counts, the fake API server's Events and request counts, and the controller's /metrics
and log.

Everything is bounded: every wait is `eventually(predicate, timeout)` with a deadline, every
process is stopped when the Env closes (also on failure and on SIGINT/SIGTERM), and the
temporary directory is removed unless `keep` is set.

Python 3 standard library only, plus PyYAML (python3-yaml) to read deploy/base/rbac.yaml.
"""

import base64
import json
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

# ---- waiting ----


class Timeout(AssertionError):
    pass


def eventually(predicate, timeout, what, interval=0.1):
    """Polls predicate until it returns a truthy value, which is returned; after timeout
    seconds raises Timeout naming `what` and the last value or exception seen. A deadline,
    never a measurement: scenarios assert on state, not on how long it took."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = predicate()
            if v:
                return v
            last = v
        except (AssertionError, KeyError, IndexError, ValueError, OSError) as e:
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() >= deadline:
            raise Timeout("timed out after %ss waiting for %s (last: %s)"
                          % (timeout, what, _short(last)))
        time.sleep(interval)


def _short(v, n=400):
    s = repr(v)
    return s if len(s) <= n else s[:n] + "..."


def free_port():
    """A port that was free a moment ago on 127.0.0.1 (the controller's --metrics-addr needs a
    concrete port: it writes no port file)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=10):
    """(status, body bytes) of one request to a loopback URL; HTTP errors are answers too."""
    assert url.startswith("http://127.0.0.1:"), url
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ---- processes ----


class Proc:
    """A child process with its output in a log file; stopped by stop() or kill()."""

    def __init__(self, name, argv, log_path, env=None, new_session=False):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                  stderr=subprocess.STDOUT, env=env,
                                  start_new_session=new_session)
        self.pid = self.p.pid
        self.killed = False

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after timeout seconds; returns the exit status."""
        if self.p.poll() is None:
            try:
                self.p.send_signal(signal.SIGTERM)
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        self._log.close()
        return self.p.returncode

    def kill(self):
        """SIGKILL (kill -9) and reap."""
        self.killed = True
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(10)
        self._log.close()
        return self.p.returncode

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def wait_port_file(path, proc, timeout=10):
    def ready():
        if not proc.alive():
            raise AssertionError("%s exited with %s before listening:\n%s"
                                 % (proc.name, proc.p.returncode, proc.log()[-2000:]))
        if os.path.exists(path):
            s = open(path).read().strip()
            return int(s) if s else None
        return None
    return eventually(ready, timeout, "%s port file" % proc.name, interval=0.02)


# ---- certificates (openssl command line) ----


class Cert:
    """A certificate and key made for a test: PEM strings, and the files they were written to
    in the Env's private directory."""

    def __init__(self, name, crt_pem, key_pem, crt_path, key_path):
        self.name = name
        self.crt = crt_pem
        self.key = key_pem
        self.crt_path = crt_path
        self.key_path = key_path

    def key_slices(self):
        """Distinctive pieces of the key that must never appear in a log: a slice of its PEM
        body, and a slice of the base64 of the whole PEM as it sits in the Secret's data."""
        body = "".join(l for l in self.key.splitlines() if l and not l.startswith("-----"))
        b64 = base64.b64encode(self.key.encode()).decode()
        mid = len(body) // 2
        midb = len(b64) // 2
        return [body[mid:mid + 32], b64[midb:midb + 32]]


_CA_CNF = """[ ca ]
default_ca = e2e
[ e2e ]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/new
serial = {dir}/serial
default_md = sha256
policy = pol
copy_extensions = copy
unique_subject = no
[ pol ]
commonName = supplied
"""


class CertFactory:
    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self._ca = None
        self._n = 0

    def _run(self, argv):
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (" ".join(argv[:3]), r.stderr.decode()[-1000:]))

    def _paths(self, name):
        self._n += 1
        base = os.path.join(self.dir, "%02d-%s" % (self._n, name))
        return base + ".crt", base + ".key"

    def _read(self, name, crt, key):
        os.chmod(key, 0o600)
        return Cert(name, open(crt).read(), open(key).read(), crt, key)

    @staticmethod
    def _san(hosts):
        return "subjectAltName=" + ",".join("DNS:" + h for h in hosts)

    def self_signed(self, name, hosts, days=90, key="rsa:2048"):
        """A self-signed certificate for hosts (the first is the CN), RSA 2048 by default."""
        crt, keyf = self._paths(name)
        argv = ["openssl", "req", "-x509", "-newkey", key, "-nodes", "-keyout", keyf,
                "-out", crt, "-days", str(days), "-subj", "/CN=" + hosts[0],
                "-addext", self._san(hosts)]
        if key.startswith("ec"):
            argv[4:5] = ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        self._run(argv)
        return self._read(name, crt, keyf)

    def _ensure_ca(self):
        if self._ca:
            return self._ca
        d = os.path.join(self.dir, "ca")
        os.makedirs(os.path.join(d, "new"), mode=0o700)
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(_CA_CNF.format(dir=d))
        crt, key = os.path.join(d, "ca.crt"), os.path.join(d, "ca.key")
        self._run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                   "-out", crt, "-days", "3650", "-subj", "/CN=elb-certsync e2e test CA"])
        self._ca = (d, crt, key)
        return self._ca

    def ca_signed(self, name, hosts, startdate, enddate):
        """A certificate signed by the Env's test CA with the given validity (openssl ca
        -startdate/-enddate, YYYYMMDDHHMMSSZ): how OpenSSL 3.0 makes an expired one. tls.crt
        is the leaf followed by the CA."""
        d, ca_crt, ca_key = self._ensure_ca()
        crt, key = self._paths(name)
        csr = crt + ".csr"
        self._run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                   "-out", csr, "-subj", "/CN=" + hosts[0], "-addext", self._san(hosts)])
        self._run(["openssl", "ca", "-batch", "-notext", "-config", os.path.join(d, "ca.cnf"),
                   "-cert", ca_crt, "-keyfile", ca_key, "-in", csr, "-out", crt,
                   "-startdate", startdate, "-enddate", enddate])
        with open(crt, "a") as f:
            f.write(open(ca_crt).read())
        return self._read(name, crt, key)

    def expired(self, name, hosts):
        return self.ca_signed(name, hosts, "20200101000000Z", "20200201000000Z")


# ---- Prometheus text ----


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} from the text exposition format."""
    out = {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = line_re.match(line)
        if not m:
            continue
        labels = frozenset(label_re.findall(m.group(3) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(4))
        except ValueError:
            pass
    return out


def metric_sum(metrics, name, **labels):
    """The sum of every series of name whose labels include the given ones."""
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and want <= set(ls))


# ---- providers: the seed, the state view, direct requests ----


HW_PROJECT = "0e2e5eed0000400080000000000000a1"
HW_REGION = "cn-north-4"
UC_PROJECT = "org-e2e01"
UC_REGION = "cn-bj2"

# Writes each cloud counts in /_fake/stats (operation names are the clouds' own).
HW_WRITES = ("CreateCertificate", "UpdateCertificate", "DeleteCertificate",
             "BatchDeleteCertificates", "UpdateListener")
UC_WRITES = ("CreateSSL", "DeleteSSL", "BindSSL", "UnbindSSL", "UpdateSSLBinding",
             "AddSSLBinding", "DeleteSSLBinding", "UpdateSSLAttribute", "UpdateListenerAttribute")


class Listener:
    """A listener as the emulator holds it: default certificate and SNI certificates."""

    def __init__(self, key, default, sni, exists=True):
        self.key = key
        self.default = default
        self.sni = list(sni)
        self.exists = exists

    def __repr__(self):
        return "Listener(%s default=%s sni=%s)" % (self.key, self.default, self.sni)


class CertView:
    """A certificate as the emulator holds it, the same for both clouds."""

    def __init__(self, id, name, description, bindings, pem, raw):
        self.raw = raw
        self.id = id
        self.name = name
        self.description = description
        self.bindings = bindings  # [(lb, listener, is_default)]
        self.pem = pem

    def __repr__(self):
        return "Cert(%s %s)" % (self.id, self.name)


class Huawei:
    name = "huawei"
    writes = HW_WRITES
    create_op = "CreateCertificate"
    lb = "lb-e2e-1"
    lb_alt = "lb-e2e-1"  # load balancer of the listener that holds SNI
    # listener id by port; Huawei listeners are found by the controller by port too
    listeners = {443: "listener-e2e-443", 8443: "listener-e2e-8443", 9443: "listener-e2e-9443"}
    sni_capable = True

    def __init__(self, ids):
        self.ids = ids  # seeded certificate IDs by role

    def controller_args(self, endpoint):
        return ["--provider", "huawei", "--region", HW_REGION, "--project-id", HW_PROJECT,
                "--endpoint", endpoint]

    @staticmethod
    def credentials(role):
        return ("HUAWEICLOUD_SDK_AK=E2EAK%s\nHUAWEICLOUD_SDK_SK=e2e-sk-%s-not-a-secret\n"
                % (role.upper().ljust(11, "0"), role))

    def seed_part(self, certs):
        """certs: {role: (id, name, description, pem)}"""
        cert_objs = []
        for role, (cid, name, desc, pem) in certs.items():
            cert_objs.append({"id": cid, "project_id": HW_PROJECT, "name": name,
                              "description": desc, "type": "server", "certificate": pem,
                              "protection_status": "nonProtection"})
        orig, spare = certs["original"][0], certs["spare"][0]
        return {
            "projects": [{"id": HW_PROJECT, "region": HW_REGION}],
            "credentials": [
                {"ak": "E2EAK" + "API".ljust(11, "0"), "sk": "e2e-sk-api-not-a-secret",
                 "role": "api"},
                {"ak": "E2EAK" + "CONSOLE".ljust(11, "0"), "sk": "e2e-sk-console-not-a-secret",
                 "role": "console"}],
            "quota": {"certificates": 120},
            "loadbalancers": [{
                "id": self.lb, "project_id": HW_PROJECT, "name": "e2e-elb",
                "listeners": [
                    {"id": lid, "name": "https-%d" % port, "protocol": "HTTPS", "port": port,
                     "default_tls_container_ref": spare if port == 9443 else orig,
                     "sni_container_refs": []}
                    for port, lid in sorted(self.listeners.items())] + [
                    {"id": "listener-e2e-80", "name": "http-80", "protocol": "HTTP",
                     "port": 80, "default_tls_container_ref": None,
                     "sni_container_refs": []}]}],
            "certificates": cert_objs,
        }

    def annotations(self, port, alb=False):
        return {"kubernetes.io/elb.id": self.lb, "kubernetes.io/elb.port": str(port)}

    @staticmethod
    def certs(state):
        out = []
        for c in state["huawei"]["certificates"]:
            b = [(x["loadbalancer_id"], x["listener_id"], x["default"]) for x in c["listeners"]]
            out.append(CertView(c["id"], c["name"], c.get("description", ""), b,
                                c.get("certificate", ""), c))
        return out

    def listener(self, state, port, alb=False):
        lid = self.listeners[port]
        for lb in state["huawei"]["loadbalancers"]:
            for l in lb["listeners"]:
                if l["id"] == lid:
                    return Listener(lid, l["default_tls_container_ref"], l["sni_container_refs"])
        return Listener(lid, None, [], exists=False)

    def listener_keys(self):
        return [(p, False) for p in self.listeners]

    # direct requests, as a person with the console (or another tool) would make them
    def api_set_default(self, env, role, port, cert_id, alb=False):
        return env.api(role, ["PUT", "/v3/%s/elb/listeners/%s" % (HW_PROJECT, self.listeners[port]),
                              "--data", json.dumps({"listener": {
                                  "default_tls_container_ref": cert_id}})])

    def api_delete_cert(self, env, role, cert_id):
        return env.api(role, ["DELETE", "/v3/%s/elb/certificates/%s" % (HW_PROJECT, cert_id)])


class UCloud:
    name = "ucloud"
    writes = UC_WRITES
    create_op = "CreateSSL"
    lb = "ulb-e2e-classic"
    lb_alt = "ulb-e2e-alb"
    listeners = {443: "vserver-e2e-443", 8443: "vserver-e2e-8443", 9443: "vserver-e2e-9443"}
    alb_listener = "vserver-e2e-alb443"
    sni_capable = False  # classic VServers hold one certificate; the ALB listener holds SNI

    def __init__(self, ids):
        self.ids = ids

    def controller_args(self, endpoint):
        return ["--provider", "ucloud", "--region", UC_REGION, "--project-id", UC_PROJECT,
                "--endpoint", endpoint]

    @staticmethod
    def credentials(role):
        return ("UCLOUD_PUBLIC_KEY=e2e-public-key-%s\nUCLOUD_PRIVATE_KEY=e2e-private-key-%s-"
                "not-a-secret\n" % (role, role))

    def seed_part(self, certs):
        cert_objs = []
        for role, (cid, name, desc, pem) in certs.items():
            cert_objs.append({"SSLId": cid, "Region": UC_REGION, "ProjectId": UC_PROJECT,
                              "SSLName": name, "UserCert": pem})
        orig, spare = certs["original"][0], certs["spare"][0]
        return {
            "projects": [UC_PROJECT],
            "regions": [UC_REGION],
            "credentials": [
                {"public_key": "e2e-public-key-api",
                 "private_key": "e2e-private-key-api-not-a-secret", "role": "api"},
                {"public_key": "e2e-public-key-console",
                 "private_key": "e2e-private-key-console-not-a-secret", "role": "console"}],
            "quota": {"certificates": 100},
            "ulbs": [
                {"ULBId": self.lb, "Name": "e2e-classic", "Region": UC_REGION,
                 "ProjectId": UC_PROJECT, "ULBType": "classic",
                 "VServers": [
                     {"VServerId": vid, "VServerName": "https-%d" % port, "Protocol": "HTTPS",
                      "FrontendPort": port, "SSLIds": [spare if port == 9443 else orig]}
                     for port, vid in sorted(self.listeners.items())] + [
                     {"VServerId": "vserver-e2e-80", "VServerName": "http-80",
                      "Protocol": "HTTP", "FrontendPort": 80, "SSLIds": []}]},
                {"ULBId": self.lb_alt, "Name": "e2e-alb", "Region": UC_REGION,
                 "ProjectId": UC_PROJECT, "ULBType": "alb",
                 "VServers": [{"VServerId": self.alb_listener, "VServerName": "alb-443",
                               "Protocol": "HTTPS", "FrontendPort": 443,
                               "SSLIds": [orig]}]}],
            "certificates": cert_objs,
        }

    def annotations(self, port, alb=False):
        return {"kubernetes.io/elb.id": self.lb_alt if alb else self.lb,
                "kubernetes.io/elb.port": str(port)}

    @staticmethod
    def certs(state):
        out = []
        for c in state["ucloud"]["certificates"]:
            b = [(x["ULBId"], x["VServerId"], None) for x in c["BindedTargetSet"]]
            out.append(CertView(c["SSLId"], c["SSLName"], "", b, c.get("UserCert", ""), c))
        return out

    def listener(self, state, port, alb=False):
        lb = self.lb_alt if alb else self.lb
        vid = self.alb_listener if alb else self.listeners[port]
        for u in state["ucloud"]["ulbs"]:
            if u["ULBId"] != lb:
                continue
            for v in u["VServers"]:
                if v["VServerId"] == vid:
                    ids = v["SSLIds"]
                    # the first certificate of a VServer is its default (fake-elb, IsDefault)
                    return Listener(vid, ids[0] if ids else None, ids[1:])
        return Listener(vid, None, [], exists=False)

    def listener_keys(self):
        return [(p, False) for p in self.listeners] + [(443, True)]

    def api_set_default(self, env, role, port, cert_id, alb=False):
        state = env.elb_state()
        cur = self.listener(state, port, alb).default
        vid = self.alb_listener if alb else self.listeners[port]
        return env.api(role, ["UpdateSSLBinding", "OldSSLId=" + cur, "NewSSLId=" + cert_id,
                              "LoadBalancerId=" + (self.lb_alt if alb else self.lb),
                              "ListenerId=" + vid])

    def api_delete_cert(self, env, role, cert_id):
        return env.api(role, ["DeleteSSL", "SSLId=" + cert_id])


PROVIDERS = {"huawei": Huawei, "ucloud": UCloud}


# ---- the environment of one scenario ----


class Controller:
    def __init__(self, proc, metrics_port, cluster_id, name):
        self.proc = proc
        self.metrics_port = metrics_port
        self.cluster_id = cluster_id
        self.name = name

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.metrics_port, path)

    def metrics(self):
        st, body = http("GET", self.url("/metrics"))
        if st != 200:
            raise AssertionError("/metrics answered %d" % st)
        return parse_metrics(body.decode())

    def log_lines(self):
        """The controller's JSON log lines (non-JSON lines are skipped)."""
        out = []
        for line in self.proc.log().splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out


class KubeServer:
    def __init__(self, env, name, extra=()):
        self.name = name
        d = os.path.join(env.tmp, name)
        os.makedirs(d, mode=0o700)
        self.kubeconfig = os.path.join(d, "kubeconfig")
        port_file = os.path.join(d, "port")
        self.proc = env.spawn(name, [env.bin("fake-kube-apiserver"), "--listen", "127.0.0.1:0",
                                     "--tls", "--port-file", port_file, "--kubeconfig-out",
                                     self.kubeconfig, "--ca-out", os.path.join(d, "ca.pem"),
                                     "--quiet"] + list(extra))
        self.port = wait_port_file(port_file, self.proc)
        self.base = "http://127.0.0.1:%d" % self.port  # only /_fake/ is plain: see control()
        self.cache_dir = os.path.join(d, "kubectl-cache")
        self.ca = os.path.join(d, "ca.pem")


class Env:
    """One scenario's world: the fakes, the controllers, the files, and their cleanup."""

    def __init__(self, bin_dir, provider, keep=False, source_dir=None):
        self.bin_dir = bin_dir
        self.source_dir = source_dir or os.path.abspath(
            os.path.join(os.path.dirname(__file__), "..", ".."))
        self.keep = keep
        self.tmp = tempfile.mkdtemp(prefix="elb-certsync-e2e-")
        os.chmod(self.tmp, 0o700)
        self.procs = []
        self.controllers = []
        self.certs = CertFactory(os.path.join(self.tmp, "certs"))
        self.made = []  # every Cert made, for the key-material check of the logs
        self.kube = None
        self.kube_servers = []
        self.elb_port = None
        self._ledger = None
        self.provider = None
        self.provider_name = provider
        self.closed = False

    # -- files and processes --

    # Explicit paths of the binaries (name -> path); others are looked up in bin_dir.
    binaries = {}

    def bin(self, name):
        p = Env.binaries.get(name) or os.path.join(self.bin_dir, name)
        if not os.access(p, os.X_OK):
            raise RuntimeError("missing binary %s (build it first)" % p)
        return p

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def write(self, name, text, mode=0o600):
        p = self.path(name)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def spawn(self, name, argv, env=None):
        p = Proc(name, argv, self.path("%s.log" % name), env=env)
        self.procs.append(p)
        return p

    def close(self, failed=False):
        if self.closed:
            return
        self.closed = True
        # SIGTERM to every process first, then wait for each: shutdowns overlap
        for p in self.procs:
            if p.alive():
                try:
                    p.p.send_signal(signal.SIGTERM)
                except OSError:
                    pass
        for p in reversed(self.procs):
            try:
                p.stop(timeout=8)
            except Exception as e:  # keep stopping the others
                print("e2e: stopping %s: %s" % (p.name, e), file=sys.stderr)
        if failed:
            for p in self.procs:
                if p.name.startswith("controller"):
                    tail = p.log()[-6000:]
                    print("---- %s log (tail) ----\n%s" % (p.name, tail), file=sys.stderr)
        if self.keep:
            print("e2e: kept %s" % self.tmp, file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the fakes --

    def start_fakes(self, seed_extra=None, elb_args=()):
        self.kube = self.start_kube("kube")
        self.start_elb(seed_extra, elb_args)

    def start_kube(self, name, extra=()):
        k = KubeServer(self, name, extra)
        self.kube_servers.append(k)
        return k

    def start_elb(self, seed_extra=None, elb_args=()):
        ids, seed_certs = self._seed_certs()
        hw, uc = Huawei(ids["huawei"]), UCloud(ids["ucloud"])
        seed = {"huawei": hw.seed_part(seed_certs["huawei"]),
                "ucloud": uc.seed_part(seed_certs["ucloud"])}
        if seed_extra:
            seed_extra(seed)
        self.seed = seed
        self.provider = hw if self.provider_name == "huawei" else uc
        seed_path = self.write("seed.json", json.dumps(seed, indent=1))
        port_file = self.path("elb.port")
        self.elb = self.spawn("fake-elb", [self.bin("fake-elb"), "--listen", "127.0.0.1:0",
                                           "--port-file", port_file, "--state", seed_path,
                                           "--quiet"] + list(elb_args))
        self.elb_port = wait_port_file(port_file, self.elb)
        self.endpoint = "http://127.0.0.1:%d" % self.elb_port
        self.cred_files = {}
        for role in ("api", "console"):
            self.cred_files[role] = self.write("credentials-%s" % role,
                                               self.provider.credentials(role), 0o600)

    def _seed_certs(self):
        """The pre-existing certificates of the account: the listeners' original default,
        one a user selects by annotation, and a user's own certificate that carries the
        managed prefix but another cluster's ID (it must never be touched)."""
        orig = self.certs.self_signed("seed-original", ["original.example.test"],
                                      key="ec")
        sel = self.certs.self_signed("seed-selected", ["selected.example.test"], key="ec")
        foreign = self.certs.self_signed("seed-foreign", ["foreign.example.test"], key="ec")
        spare = self.certs.self_signed("seed-spare", ["spare.example.test"], key="ec")
        fp = "0123456789ab" + "c" * 52
        self.foreign_name = "k8s_plb_default_other_default.web-tls_0123456789ab"
        self.impostor_name = "k8s_plb_default_e2e_default.web-tls_0123456789ab"
        hw_foreign_desc = "elb-certsync/v1;c=other;s=default/web-tls;f=" + fp
        ids = {
            "huawei": {"original": "e2e0000000000000000000000000a001",
                       "selected": "e2e0000000000000000000000000a002",
                       "foreign": "e2e0000000000000000000000000a003",
                       "spare": "e2e0000000000000000000000000a004",
                       "impostor": "e2e0000000000000000000000000a005"},
            "ucloud": {"original": "ssl-e2eorig1", "selected": "ssl-e2esel01",
                       "foreign": "ssl-e2eforn1", "spare": "ssl-e2espar1"},
        }
        certs = {}
        for cloud in ("huawei", "ucloud"):
            i = ids[cloud]
            certs[cloud] = {
                "original": (i["original"], "user-original", "the listener's own default",
                             orig.crt),
                "selected": (i["selected"], "user-selected", "a user's certificate", sel.crt),
                "foreign": (i["foreign"], self.foreign_name,
                            hw_foreign_desc if cloud == "huawei" else "", foreign.crt),
                "spare": (i["spare"], "user-spare", "the 9443 listener's own default",
                          spare.crt),
            }
        # Huawei: our prefix AND our cluster ID in the name, but the description is the
        # user's own, not an ownership record: not ours, never touched. (UCloud has no
        # descriptions: there the name alone is the ownership mark, by design.)
        certs["huawei"]["impostor"] = (ids["huawei"]["impostor"], self.impostor_name,
                                       "my own certificate, hands off", foreign.crt)
        return ids, certs

    def elb_state(self):
        st, body = http("GET", self.endpoint + "/_fake/state")
        assert st == 200, st
        return json.loads(body)

    def elb_stats(self):
        st, body = http("GET", self.endpoint + "/_fake/stats")
        assert st == 200, st
        return json.loads(body)

    def elb_faults(self, **faults):
        st, body = http("POST", self.endpoint + "/_fake/faults", faults)
        assert st == 200, (st, body)
        return json.loads(body) if body else {}

    def elb_ops(self, stats=None):
        """{operation: count} of this env's cloud."""
        return dict((stats or self.elb_stats()).get(self.provider.name, {}))

    def elb_writes(self, stats=None):
        ops = self.elb_ops(stats)
        return sum(ops.get(o, 0) for o in self.provider.writes)

    # -- provider views --

    def certs_now(self, state=None):
        return self.provider.certs(state or self.elb_state())

    def cert(self, cert_id, state=None):
        for c in self.certs_now(state):
            if c.id == cert_id:
                return c
        return None

    def listener(self, port=443, alb=False, state=None):
        return self.provider.listener(state or self.elb_state(), port, alb)

    def managed(self, cluster, state=None):
        """The certificates named as the cluster's managed ones, less the seeded impostor
        (our name, the user's description: not ours)."""
        prefix = "k8s_plb_default_%s_" % cluster
        seeded = set(self.provider.ids.values())
        return [c for c in self.certs_now(state)
                if c.name.startswith(prefix) and c.id not in seeded]

    def api(self, role, args, check=True):
        """elb-certsync api with the role's credentials (as a person or script would)."""
        argv = [self.bin("elb-certsync"), "api"] + self.provider.controller_args(
            self.endpoint) + ["--credentials-file", self.cred_files[role]] + args
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        out = r.stdout.decode("utf-8", "replace")
        if check and r.returncode != 0:
            raise AssertionError("elb-certsync api %s failed (%d): %s %s"
                                 % (args[:2], r.returncode, out[-500:], r.stderr.decode()[-500:]))
        return r.returncode, out

    # -- Kubernetes --

    def kubectl(self, args, stdin=None, check=True, kube=None, timeout=30):
        k = kube or self.kube
        before = self._kube_stats_raw(k) if self._ledger is not None and k is self.kube else None
        argv = ["kubectl", "--kubeconfig", k.kubeconfig, "--cache-dir", k.cache_dir,
                "--request-timeout=10s"] + args
        r = subprocess.run(argv, input=stdin.encode() if isinstance(stdin, str) else stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if before is not None:
            self._ledger_window(before)
        if check and r.returncode != 0:
            raise AssertionError("kubectl %s failed (%d): %s"
                                 % (" ".join(args[:3]), r.returncode, r.stderr.decode()[-800:]))
        return r

    def apply(self, *objs, kube=None):
        """kubectl apply -f - with the objects as a JSON List (manifests go as JSON; the fake
        serves no OpenAPI, so no client-side validation)."""
        doc = {"apiVersion": "v1", "kind": "List", "items": list(objs)}
        return self.kubectl(["apply", "--validate=false", "-f", "-"], stdin=json.dumps(doc),
                            kube=kube)

    def delete(self, kind, ns, name, kube=None):
        args = ["delete", kind, name, "--wait=false"]
        if ns:
            args += ["-n", ns]
        return self.kubectl(args, kube=kube)

    def get(self, kind, ns=None, name=None, kube=None):
        args = ["get", kind, "-o", "json"]
        if name:
            args.append(name)
        args += ["-n", ns] if ns else ([] if name else ["-A"])
        r = self.kubectl(args, kube=kube, check=False)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def events(self, kube=None):
        doc = self.get("events", kube=kube)
        return doc["items"] if doc else []

    def find_events(self, reason=None, type=None, name=None, ns=None, kube=None):
        out = []
        for e in self.events(kube):
            io = e.get("involvedObject", {})
            if reason and e.get("reason") != reason:
                continue
            if type and e.get("type") != type:
                continue
            if name and io.get("name") != name:
                continue
            if ns and io.get("namespace", e["metadata"].get("namespace")) != ns:
                continue
            out.append(e)
        return out

    def _kube_stats_raw(self, k=None):
        """GET /_fake/stats on the fake API server (TLS; the control endpoints need no
        token). Through kubectl get --raw would count as a request: use urllib with the CA."""
        k = k or self.kube
        ctx = ssl.create_default_context(cafile=k.ca)
        with urllib.request.urlopen("https://127.0.0.1:%d/_fake/stats" % k.port, context=ctx,
                                    timeout=10) as r:
            return json.loads(r.read())

    def kube_control(self, method, what, body=None, k=None):
        k = k or self.kube
        ctx = ssl.create_default_context(cafile=k.ca)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("https://127.0.0.1:%d/_fake/%s" % (k.port, what),
                                     data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    # The ledger: (verb, resource) pairs the controller sent, from the fake's request counts
    # in the gaps between kubectl calls (kubectl's own requests are never attributed to the
    # controller; the controller's requests made during a kubectl call are left out, which
    # can only make the RBAC check weaker, never wrong).
    def ledger_start(self):
        self._ledger = {}
        self._ledger_after = self._kube_stats_raw()

    def _ledger_window(self, before):
        self._ledger_add(self._ledger_after, before)
        self._ledger_after = self._kube_stats_raw()

    def _ledger_add(self, a, b):
        ra, rb = a.get("requests", {}), b.get("requests", {})
        for verb, per in rb.items():
            for res, n in per.items():
                d = n - ra.get(verb, {}).get(res, 0)
                if d > 0:
                    self._ledger[(verb, res)] = self._ledger.get((verb, res), 0) + d

    def ledger(self):
        now = self._kube_stats_raw()
        self._ledger_add(self._ledger_after, now)
        self._ledger_after = now
        return dict(self._ledger)

    # -- manifests --

    def namespace(self, name):
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}

    def tls_secret(self, ns, name, cert=None, crt=None, key=None, type="kubernetes.io/tls"):
        crt = crt if crt is not None else cert.crt
        key = key if key is not None else cert.key
        return {"apiVersion": "v1", "kind": "Secret", "type": type,
                "metadata": {"namespace": ns, "name": name},
                "data": {"tls.crt": base64.b64encode(crt.encode()).decode(),
                         "tls.key": base64.b64encode(key.encode()).decode()}}

    def ingress(self, ns, name, tls, port=443, alb=False, annotations=None,
                ingress_class="cce"):
        """tls: [(secretName, [hosts])]"""
        ann = dict(self.provider.annotations(port, alb))
        ann.update(annotations or {})
        hosts = [h for _, hs in tls for h in hs] or ["www.example.test"]
        return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"namespace": ns, "name": name, "annotations": ann},
                "spec": {"ingressClassName": ingress_class,
                         "tls": [{"secretName": s, "hosts": hs} for s, hs in tls],
                         "rules": [{"host": h, "http": {"paths": [{
                             "path": "/", "pathType": "Prefix",
                             "backend": {"service": {"name": "web",
                                                     "port": {"number": 80}}}}]}}
                                   for h in hosts]}}

    def cert_for(self, name, hosts, **kw):
        c = self.certs.self_signed(name, hosts, **kw)
        self.made.append(c)
        return c

    def expired_cert(self, name, hosts):
        c = self.certs.expired(name, hosts)
        self.made.append(c)
        return c

    # -- the controller --

    def start_controller(self, cluster_id="e2e", name=None, kube=None, extra=(),
                         resync="10s", leader_elect=False, wait_ready=True):
        name = name or "controller-%s-%d" % (cluster_id, len(self.controllers))
        kube = kube or self.kube
        port = free_port()
        argv = [self.bin("elb-certsync"), "run",
                "--kubeconfig", kube.kubeconfig,
                "--cluster-id", cluster_id,
                "--credentials-file", self.cred_files["api"],
                "--metrics-addr", "127.0.0.1:%d" % port,
                "--resync-period", resync,
                "--leader-elect", "true" if leader_elect else "false",
                "--log-format", "json", "--log-level", "debug",
                "--shutdown-grace", "1s",
                "--provider-qps", "50", "--provider-burst", "50",
                ] + self.provider.controller_args(self.endpoint) + list(extra)
        # No ELB_CERTSYNC_* variable from the caller's environment may change the run.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ELB_CERTSYNC_")}
        env.pop("KUBECONFIG", None)
        proc = self.spawn(name, argv, env=env)
        c = Controller(proc, port, cluster_id, name)
        self.controllers.append(c)
        if wait_ready:
            self.wait_healthy(c)
        return c

    def wait_healthy(self, c, timeout=20):
        def ok():
            if not c.proc.alive():
                raise AssertionError("%s exited with %s:\n%s" % (c.name, c.proc.p.returncode,
                                                                 c.proc.log()[-3000:]))
            try:
                st, _ = http("GET", c.url("/healthz"), timeout=2)
            except OSError:
                return False
            return st == 200
        eventually(ok, timeout, "%s /healthz" % c.name, interval=0.05)

    # -- invariants checked after every scenario --

    def stop_controllers(self):
        """SIGTERM to every controller still running: each must exit 0 promptly (a clean
        shutdown); one that exited by itself before is a failure too."""
        problems = []
        live = []
        for c in self.controllers:
            if c.proc.alive():
                live.append(c)
            elif not c.proc.killed:
                problems.append("%s exited by itself with status %s"
                                % (c.name, c.proc.p.returncode))
        for c in live:
            c.proc.p.send_signal(signal.SIGTERM)
        for c in live:
            rc = c.proc.stop(timeout=15)
            if rc != 0:
                problems.append("%s exited with status %s on SIGTERM" % (c.name, rc))
        if problems:
            raise AssertionError("; ".join(problems))

    def check_invariants(self):
        problems = []
        if self.provider is not None and self.elb.alive():
            state = self.elb_state()
            ids = self.provider.ids
            foreign = self.cert(ids["foreign"], state)
            if foreign is None:
                problems.append("the other cluster's certificate %s was deleted" % ids["foreign"])
            elif foreign.name != self.foreign_name:
                problems.append("the other cluster's certificate was renamed to %s" % foreign.name)
            if "impostor" in ids and self.cert(ids["impostor"], state) is None:
                problems.append("the user's certificate %s (our prefix, no record) was deleted"
                                % ids["impostor"])
            if self.cert(ids["selected"], state) is None:
                problems.append("the user's selected certificate %s was deleted" % ids["selected"])
        for c in self.controllers:
            log = c.proc.log()
            if "PRIVATE KEY" in log:
                problems.append("%s logged 'PRIVATE KEY'" % c.name)
            for cert in self.made:
                for s in cert.key_slices():
                    if s and s in log:
                        problems.append("%s logged key material of %s" % (c.name, cert.name))
        for k in self.kube_servers:
            if not k.proc.alive():
                continue
            text = json.dumps(self.events(kube=k))
            if "PRIVATE KEY" in text or any(s and s in text for c in self.made
                                            for s in c.key_slices()):
                problems.append("an Event on %s carries key material" % k.name)
        if problems:
            raise AssertionError("; ".join(problems))


def stop_on_signals(envs):
    """SIGTERM/SIGINT: raise KeyboardInterrupt so that every Env's close() runs."""
    def handler(sig, frame):
        raise KeyboardInterrupt("signal %d" % sig)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
