#!/usr/bin/env python3
"""scenarios.py -- the end-to-end scenarios of elb-certsync: the real controller binary
against fake-kube-apiserver and fake-elb, driven with the real kubectl, for one provider.

    scenarios.py --bin-dir build/bin --provider huawei|ucloud [--keep] [--include-failing]
                 [--list] [SCENARIO...]

Each scenario gets a fresh world (harness.Env): both fakes, a seed with the account's own
certificates, a temporary directory; after it, the invariants every scenario must keep are
checked (the other cluster's and the user's certificates untouched, no key material in the
controller's logs or in Events). Exit status 0 when every scenario run passed.

Scenarios that fail because of a known bug elsewhere are marked `failing="why"`: they are
run only with --include-failing, and --list leaves them out (ctest registers what --list
prints)."""

import argparse
import os
import re
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import eventually  # noqa: E402

SCENARIOS = []


def scenario(failing=None, providers=("huawei", "ucloud")):
    """Registers a scenario for the given providers. failing: a reason (all providers) or
    {provider: reason} for a scenario that fails because of a known bug elsewhere."""
    def wrap(fn):
        SCENARIOS.append((fn.__name__, fn, failing, tuple(providers)))
        return fn
    return wrap


def failing_reason(failing, provider):
    if isinstance(failing, dict):
        return failing.get(provider)
    return failing


NS = "shop"
CLUSTER = "e2e"
T_REACT = 30      # deadline for the controller to react to a change (watch-driven)
T_RESYNC = 45     # deadline for something only a full resync (10 s) does


# ---- helpers ----

def name_re(cluster, readable):
    return re.compile(r"^k8s_plb_default_%s_%s_[0-9a-f]{12}$"
                      % (re.escape(cluster), re.escape(readable)))


def managed_default(env, port=443, alb=False, cluster=CLUSTER, readable=None, not_ids=()):
    """The managed certificate bound as the listener's default, or None."""
    state = env.elb_state()
    l = env.listener(port, alb, state)
    if not l.default or l.default in not_ids:
        return None
    c = env.cert(l.default, state)
    if c is None or not c.name.startswith("k8s_plb_default_%s_" % cluster):
        return None
    if readable and not name_re(cluster, readable).match(c.name):
        return None
    return c


def wait_managed_default(env, port=443, alb=False, cluster=CLUSTER, readable=None, not_ids=(),
                         timeout=T_REACT):
    return eventually(lambda: managed_default(env, port, alb, cluster, readable, not_ids),
                      timeout, "a managed certificate (%s) as default of port %d%s"
                      % (readable or cluster, port, " (ALB)" if alb else ""))


def pem_first(pem):
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem, re.S)
    return re.sub(r"\s", "", m.group(0)) if m else None


def sni_target(env):
    """(port, alb) of a listener that holds SNI certificates: Huawei's 443 listener, UCloud's
    ALB listener (classic VServers hold one certificate)."""
    return (443, False) if env.provider.name == "huawei" else (443, True)


def web(env, cert, name="web", secret="web-tls", port=443, alb=False, ns=NS, hosts=None,
        annotations=None):
    hosts = hosts or ["%s.example.test" % name]
    return [env.namespace(ns), env.tls_secret(ns, secret, cert),
            env.ingress(ns, name, [(secret, hosts)], port=port, alb=alb,
                        annotations=annotations)]


def full_sync_time(c):
    return h.metric_sum(c.metrics(), "elb_certsync_last_full_sync_timestamp_seconds")


def wait_full_sync(env, c, timeout=T_RESYNC):
    """Waits until controller c has finished a full resync that started after this call."""
    before = full_sync_time(c)
    eventually(lambda: full_sync_time(c) > before and c.metrics(), timeout,
               "a full resync of %s" % c.name, interval=0.25)
    # a resync enqueues every listener: wait for the queue to drain too
    eventually(lambda: h.metric_sum(c.metrics(), "elb_certsync_queue_depth") == 0, timeout,
               "%s's queue to drain" % c.name, interval=0.1)


def no_orphans(env, cluster=CLUSTER, state=None):
    """Every managed certificate of the cluster is bound to some listener."""
    orphans = [c for c in env.managed(cluster, state) if not c.bindings]
    return not orphans, orphans


def warning(env, reason, name=None, ns=NS, kube=None, reasons=None):
    """Warning Events of reason (or any of reasons) on ns/name."""
    out = []
    for e in env.find_events(type="Warning", kube=kube):
        if (reasons and e.get("reason") in reasons) or e.get("reason") == reason:
            io = e.get("involvedObject", {})
            if name is None or (io.get("name") == name and io.get("namespace") == ns):
                out.append(e)
    return out


class Sampler(threading.Thread):
    """Samples the emulator's state in a loop until stopped, recording every moment a
    listener's default certificate was missing or not one of the allowed ones."""

    def __init__(self, env, port, alb, allowed_fn):
        super().__init__(daemon=True)
        self.env, self.port, self.alb, self.allowed_fn = env, port, alb, allowed_fn
        self.stop_ev = threading.Event()
        self.samples = 0
        self.bad = []
        self.error = None

    def run(self):
        try:
            while not self.stop_ev.is_set():
                state = self.env.elb_state()
                l = self.env.listener(self.port, self.alb, state)
                self.samples += 1
                if not l.default or self.env.cert(l.default, state) is None:
                    self.bad.append("listener without a certificate: %r" % l)
                elif l.default not in self.allowed_fn(state):
                    self.bad.append("unexpected default %s" % l.default)
        except Exception as e:  # reported by stop()
            self.error = e

    def stop(self):
        self.stop_ev.set()
        self.join(15)
        if self.error:
            raise AssertionError("sampler failed: %s" % self.error)
        assert self.samples > 0, "the sampler took no sample"
        assert not self.bad, "%d bad samples of %d, first: %s" % (len(self.bad), self.samples,
                                                                  self.bad[:3])
        return self.samples


# ---- scenarios ----

@scenario()
def create_and_rotate(env):
    """An Ingress with a TLS Secret gets a managed certificate bound as the listener's
    default; updating the Secret binds a new certificate and deletes the old one, and at no
    moment is the listener without a certificate."""
    c1 = env.cert_for("web-v1", ["web.example.test"])
    env.apply(*web(env, c1))
    ctl = env.start_controller()
    m1 = wait_managed_default(env, readable="shop.web-tls")
    state = env.elb_state()
    assert len(env.managed(CLUSTER, state)) == 1, env.managed(CLUSTER, state)
    assert pem_first(m1.pem) == pem_first(c1.crt), "the uploaded certificate is not the Secret's"
    assert env.cert(env.provider.ids["original"], state), "the original default was deleted"
    if env.provider.name == "huawei":
        rec = re.match(r"^elb-certsync/v1;c=e2e;s=shop/web-tls;f=([0-9a-f]{64})(;r=.*)?$",
                       m1.description)
        assert rec, "ownership record: %r" % m1.description
        assert rec.group(1).startswith(m1.name[-12:]), (rec.group(1), m1.name)
        assert m1.raw["protection_status"] == "consoleProtection", m1.raw["protection_status"]
    m = ctl.metrics()
    assert h.metric_sum(m, "elb_certsync_reconciles_total") > 0, "no reconcile counted"
    # The gauge follows the controller's writes (the first resync is 10 s away).
    eventually(lambda: h.metric_sum(ctl.metrics(), "elb_certsync_managed_certificates") == 1,
               5, "the managed-certificates gauge at 1")
    assert not warning(env, None, "web", reasons={"InvalidCertificate", "SecretNotFound"}), \
        "unexpected Warning Events"

    c2 = env.cert_for("web-v2", ["web.example.test"])
    # Allowed defaults during the rotation: the old certificate or any managed one of ours
    # (the sampler also checks that it exists in the same state snapshot).
    sampler = Sampler(env, 443, False,
                      lambda st: {m1.id} | {c.id for c in env.managed(CLUSTER, st)})
    sampler.start()
    try:
        def rotated():
            return managed_default(env, readable="shop.web-tls", not_ids=(m1.id,))
        env.apply(env.tls_secret(NS, "web-tls", c2))
        m2 = eventually(rotated, T_REACT, "the rotated certificate bound")
        eventually(lambda: env.cert(m1.id) is None, T_REACT, "the old certificate deleted")
    finally:
        samples = sampler.stop()
    assert pem_first(m2.pem) == pem_first(c2.crt)
    assert m2.name != m1.name
    managed = env.managed(CLUSTER)
    assert [c.id for c in managed] == [m2.id], managed
    print("    rotation sampled %d times, never without a certificate" % samples)


@scenario()
def sni_second_entry(env):
    """A second TLS entry is bound as SNI (Huawei listener, UCloud ALB listener); removing the
    entry unbinds it and collects its certificate."""
    port, alb = sni_target(env)
    a = env.cert_for("a", ["a.example.test"])
    b = env.cert_for("b", ["b.example.test"])
    env.apply(env.namespace(NS), env.tls_secret(NS, "a-tls", a), env.tls_secret(NS, "b-tls", b),
              env.ingress(NS, "multi", [("a-tls", ["a.example.test"]),
                                        ("b-tls", ["b.example.test"])], port=port, alb=alb))
    env.start_controller()
    ma = wait_managed_default(env, port, alb, readable="shop.a-tls")

    def sni_bound():
        st = env.elb_state()
        l = env.listener(port, alb, st)
        sni = [env.cert(i, st) for i in l.sni]
        return l.default == ma.id and len(sni) == 1 and sni[0] and \
            name_re(CLUSTER, "shop.b-tls").match(sni[0].name) and sni[0]
    mb = eventually(sni_bound, T_REACT, "b bound as SNI")
    assert pem_first(mb.pem) == pem_first(b.crt)

    env.apply(env.ingress(NS, "multi", [("a-tls", ["a.example.test"])], port=port, alb=alb))
    eventually(lambda: env.listener(port, alb).sni == [], T_REACT, "SNI unbound")
    eventually(lambda: env.cert(mb.id) is None, T_REACT, "b's certificate collected")
    assert env.listener(port, alb).default == ma.id


@scenario(providers=("ucloud",))
def classic_vserver_one_certificate(env):
    """A UCloud classic VServer holds one certificate: an Ingress with two TLS entries on it
    gets the first bound as the default, a Warning Event about the second, and nothing left
    over on the load balancer."""
    a = env.cert_for("a", ["a.example.test"])
    b = env.cert_for("b", ["b.example.test"])
    env.apply(env.namespace(NS), env.tls_secret(NS, "a-tls", a), env.tls_secret(NS, "b-tls", b),
              env.ingress(NS, "classic", [("a-tls", ["a.example.test"]),
                                          ("b-tls", ["b.example.test"])], port=443))
    ctl = env.start_controller()
    eventually(lambda: warning(env, None, "classic",
                               reasons={"TooManyCertificates", "ListenerUnusable"}),
               T_REACT, "a Warning Event about the second certificate")
    m = wait_managed_default(env, 443, readable="shop.a-tls")
    assert pem_first(m.pem) == pem_first(a.crt)
    wait_full_sync(env, ctl)
    st = env.elb_state()
    assert env.listener(443, state=st).sni == []
    ok, orphans = no_orphans(env, state=st)
    assert ok, "left over: %r" % orphans


@scenario()
def delete_restores_original(env):
    """Deleting the Ingress unbinds its SNI certificates, restores the listener's default to
    the certificate it had before the controller first bound it, and garbage-collects every
    managed certificate."""
    port, alb = sni_target(env)
    a = env.cert_for("a", ["a.example.test"])
    b = env.cert_for("b", ["b.example.test"])
    env.apply(env.namespace(NS), env.tls_secret(NS, "a-tls", a), env.tls_secret(NS, "b-tls", b),
              env.ingress(NS, "multi", [("a-tls", ["a.example.test"]),
                                        ("b-tls", ["b.example.test"])], port=port, alb=alb))
    env.start_controller()
    ma = wait_managed_default(env, port, alb, readable="shop.a-tls")
    eventually(lambda: len(env.listener(port, alb).sni) == 1, T_REACT, "SNI bound")
    orig = env.provider.ids["original"]
    env.delete("ingress", NS, "multi")

    def restored():
        st = env.elb_state()
        l = env.listener(port, alb, st)
        return l.default == orig and l.sni == [] and not env.managed(CLUSTER, st)
    eventually(restored, T_REACT, "original default restored, SNI empty, managed ones collected")
    assert env.cert(ma.id) is None


def _bind_then_lose_original(env):
    c = env.cert_for("web", ["web.example.test"])
    env.apply(*web(env, c, port=9443))
    ctl = env.start_controller()
    m = wait_managed_default(env, 9443, readable="shop.web-tls")
    spare = env.provider.ids["spare"]
    env.provider.api_delete_cert(env, "api", spare)  # unbound now, so the cloud allows it
    assert env.cert(spare) is None
    return ctl, m


@scenario()
def delete_without_original(env):
    """When the certificate the listener had before was deleted by someone, deleting the
    Ingress leaves the last managed certificate as the default (an HTTPS listener needs one)
    and does not delete it, through later resyncs."""
    ctl, m = _bind_then_lose_original(env)
    env.delete("ingress", NS, "web")
    wait_full_sync(env, ctl)
    l = env.listener(9443)
    assert l.default == m.id, l
    assert env.cert(m.id) is not None, "the listener's only certificate was deleted"


@scenario()
def delete_without_original_warns(env):
    """Same, with the controller's view fresh (a full resync after the original was
    deleted): design section 3 wants a Warning Event saying the managed certificate stays
    as the default."""
    ctl, m = _bind_then_lose_original(env)
    wait_full_sync(env, ctl)
    env.delete("ingress", NS, "web")
    eventually(lambda: env.find_events(reason="NoCertificateToRestore"), T_RESYNC,
               "a NoCertificateToRestore Event")
    assert env.listener(9443).default == m.id


@scenario()
def invalid_secrets_keep_binding(env):
    """A Secret that turns invalid (bad PEM, key of another certificate, expired) leaves the
    binding untouched and raises a Warning Event on the Ingress; a valid one later is
    rotated in as usual. An Ingress whose Secret is invalid from the start leaves the
    listener's original default alone."""
    cases = [("badpem", 443), ("mismatch", 8443), ("expired", 9443)]
    objs = [env.namespace(NS)]
    for name, port in cases:
        objs += web(env, env.cert_for(name, ["%s.example.test" % name]), name=name,
                    secret=name + "-tls", port=port)[1:]
    env.apply(*objs)
    env.start_controller()
    bound = {name: wait_managed_default(env, port, readable="shop.%s-tls" % name)
             for name, port in cases}
    creates = env.elb_ops().get(env.provider.create_op, 0)

    other = env.cert_for("other", ["other.example.test"])
    good = env.cert_for("badpem-v2", ["badpem.example.test"])
    expired = env.expired_cert("expired-v2", ["expired.example.test"])
    bad_pem = "-----BEGIN CERTIFICATE-----\nMIIBnotbase64@@@@\n-----END CERTIFICATE-----\n"
    env.apply(env.tls_secret(NS, "badpem-tls", crt=bad_pem, key=good.key),
              env.tls_secret(NS, "mismatch-tls", crt=good.crt, key=other.key),
              env.tls_secret(NS, "expired-tls", expired))
    for name, _ in cases:
        eventually(lambda: warning(env, "InvalidCertificate", name), T_REACT,
                   "an InvalidCertificate Warning Event on %s" % name)
    msgs = {name: " ".join(e.get("message", "") for e in warning(env, "InvalidCertificate", name))
            for name, _ in cases}
    assert re.search(r"expir", msgs["expired"], re.I), msgs["expired"]
    assert re.search(r"match|key", msgs["mismatch"], re.I), msgs["mismatch"]
    state = env.elb_state()
    for name, port in cases:
        l = env.listener(port, state=state)
        assert l.default == bound[name].id, "%s: binding changed: %r" % (name, l)
        assert env.cert(bound[name].id, state), "%s: certificate deleted" % name
    assert env.elb_ops().get(env.provider.create_op, 0) == creates, "an invalid Secret was uploaded"

    # a valid Secret again: rotated in, the old one collected
    env.apply(env.tls_secret(NS, "badpem-tls", good))
    m2 = wait_managed_default(env, 443, readable="shop.badpem-tls", not_ids=(bound["badpem"].id,))
    assert pem_first(m2.pem) == pem_first(good.crt)
    eventually(lambda: env.cert(bound["badpem"].id) is None, T_REACT, "old certificate collected")

    # invalid from the start: nothing uploaded, the original default stays
    env.apply(env.namespace("fresh"), env.tls_secret("fresh", "exp-tls", expired),
              env.ingress("fresh", "exp", [("exp-tls", ["expired.example.test"])], port=443,
                          alb=False, annotations={"kubernetes.io/elb.port": "443"}))
    eventually(lambda: warning(env, "InvalidCertificate", "exp", ns="fresh"), T_REACT,
               "an InvalidCertificate Warning Event on fresh/exp")


@scenario()
def cross_namespace_refused(env):
    """spec.tls[].secretName "other/web-tls" is refused with a Warning Event: nothing is
    read, uploaded or bound."""
    c = env.cert_for("web", ["web.example.test"])
    env.apply(env.namespace(NS), env.namespace("other"), env.tls_secret("other", "web-tls", c),
              env.ingress(NS, "web", [("other/web-tls", ["web.example.test"])]))
    env.start_controller()
    eventually(lambda: warning(env, "CrossNamespaceSecret", "web"), T_REACT,
               "a CrossNamespaceSecret Warning Event")
    assert env.elb_writes() == 0, env.elb_ops()
    assert env.listener(443).default == env.provider.ids["original"]
    assert not env.managed(CLUSTER)


def _bind_selected(env):
    sel = env.provider.ids["selected"]
    c = env.cert_for("web", ["web.example.test"])
    env.apply(*web(env, c, annotations={"kubernetes.io/elb.tls-certificate-ids": sel}))
    ctl = env.start_controller()
    eventually(lambda: env.listener(443).default == sel, T_REACT, "the selected certificate bound")
    assert not env.managed(CLUSTER), "a Secret was uploaded although the annotation wins"
    assert env.elb_ops().get(env.provider.create_op, 0) == 0
    return ctl, sel


@scenario()
def annotation_selected_certificate(env):
    """kubernetes.io/elb.tls-certificate-ids binds an existing certificate (it wins over
    spec.tls); the controller never modifies or deletes it, also after the Ingress is gone."""
    ctl, sel = _bind_selected(env)
    env.delete("ingress", NS, "web")
    wait_full_sync(env, ctl)
    state = env.elb_state()
    assert env.cert(sel, state) is not None, "the selected certificate was deleted"
    assert env.cert(sel, state).name == "user-selected"
    assert env.listener(443, state=state).default in (sel, env.provider.ids["original"])
    ops = env.elb_ops()
    assert not any(ops.get(o) for o in ("DeleteCertificate", "UpdateCertificate", "DeleteSSL",
                                         "UpdateSSLAttribute")), ops


@scenario()
def annotation_selected_restores_original(env):
    """Deleting the Ingress should restore the default the listener had before the
    controller bound the selected certificate (as it does for managed ones)."""
    ctl, sel = _bind_selected(env)
    env.delete("ingress", NS, "web")
    eventually(lambda: env.listener(443).default == env.provider.ids["original"], T_RESYNC,
               "the original default restored")
    assert env.cert(sel) is not None


def _delete_by_hand(env, rename=False):
    """Binds web (443) and, with rename, other (8443); then, by hand, rebinds 443 to the
    original and deletes web's certificate, and renames other's."""
    c = env.cert_for("web", ["web.example.test"])
    objs = web(env, c)
    if rename:
        objs += web(env, env.cert_for("other", ["other.example.test"]), name="other",
                    secret="other-tls", port=8443)[1:]
    env.apply(*objs)
    ctl = env.start_controller()
    m = wait_managed_default(env, readable="shop.web-tls")
    mr = wait_managed_default(env, 8443, readable="shop.other-tls") if rename else None
    orig = env.provider.ids["original"]
    env.provider.api_set_default(env, "console", 443, orig)  # console users may rebind
    rc, out = _api_no_check(env, "console", m.id)
    assert rc != 0 and env.cert(m.id) is not None, \
        "a console user deleted a protected certificate: %s" % out
    env.provider.api_delete_cert(env, "api", m.id)
    assert env.cert(m.id) is None
    if rename:
        env.api("api", ["PUT", "/v3/%s/elb/certificates/%s" % (h.HW_PROJECT, mr.id), "--data",
                        '{"certificate": {"name": "renamed-by-hand"}}'])
        assert env.cert(mr.id).name == "renamed-by-hand"
    return ctl, c, m, mr


@scenario()
def drift_repaired(env):
    """A managed certificate unbound and deleted on the load balancer by hand is restored
    from its Secret and bound again at the next resync. Console users cannot delete it
    (console protection); someone with API credentials can. On Huawei, one renamed by hand
    gets its name back, with a CertificateDrift Warning Event (UCloud has no descriptions:
    there the name is the only ownership mark, so a renamed certificate is no longer ours)."""
    rename = env.provider.name == "huawei"
    ctl, c, m, mr = _delete_by_hand(env, rename=rename)
    m2 = wait_managed_default(env, readable="shop.web-tls", timeout=T_RESYNC)
    assert m2.name == m.name, (m2.name, m.name)
    assert pem_first(m2.pem) == pem_first(c.crt)
    if rename:
        eventually(lambda: env.cert(mr.id).name == mr.name, T_RESYNC, "the name restored")
        eventually(lambda: warning(env, "CertificateDrift", "other"), T_REACT,
                   "a CertificateDrift Warning Event")
        assert env.listener(8443).default == mr.id
    assert len(env.managed(CLUSTER)) == (2 if rename else 1), env.managed(CLUSTER)


@scenario()
def drift_deleted_reported(env):
    """Design section 2: a managed certificate deleted on the load balancer is restored at
    the next reconcile "and an Event says so"."""
    _delete_by_hand(env)
    wait_managed_default(env, readable="shop.web-tls", timeout=T_RESYNC)
    eventually(lambda: warning(env, "CertificateDrift", "web"), T_REACT,
               "a CertificateDrift Warning Event")


def _api_no_check(env, role, cert_id):
    p = env.provider
    args = (["DELETE", "/v3/%s/elb/certificates/%s" % (h.HW_PROJECT, cert_id)]
            if p.name == "huawei" else ["DeleteSSL", "SSLId=" + cert_id])
    return env.api(role, args, check=False)


@scenario()
def foreign_certificates_untouched(env):
    """Certificates with the managed prefix that are not ours -- another cluster's, and (on
    Huawei) one with our cluster ID in the name but no ownership record -- survive a whole
    create / rotate / delete cycle of a Secret with the same namespace and name."""
    ids = env.provider.ids
    c1 = env.cert_for("web-v1", ["web.example.test"])
    env.apply(*web(env, c1, ns="default"))
    ctl = env.start_controller()
    m1 = wait_managed_default(env, readable="default.web-tls", not_ids=(ids.get("impostor"),))
    env.apply(env.tls_secret("default", "web-tls", env.cert_for("web-v2", ["web.example.test"])))
    wait_managed_default(env, readable="default.web-tls", not_ids=(m1.id, ids.get("impostor")))
    env.delete("ingress", "default", "web")
    wait_full_sync(env, ctl)  # listeners released, region garbage-collected
    state = env.elb_state()
    # check_invariants() then asserts the foreign (and impostor) certificates are intact
    foreign = env.cert(ids["foreign"], state)
    assert foreign and foreign.pem.strip(), foreign


@scenario()
def two_clusters_one_account(env):
    """Two controllers with different cluster IDs, each with its own API server, share one
    cloud account: each manages, rotates and collects only its own certificates, even with
    Secrets and Ingresses of the same names, through full resyncs (garbage collection) that
    see the other's certificates."""
    kube_b = env.start_kube("kube-b")
    env.apply(*web(env, env.cert_for("a-v1", ["web.example.test"]), port=443))
    env.apply(*web(env, env.cert_for("b-v1", ["web.example.test"]), port=8443), kube=kube_b)
    a = env.start_controller(cluster_id="e2e-a")
    b = env.start_controller(cluster_id="e2e-b", kube=kube_b)
    ma = wait_managed_default(env, 443, cluster="e2e-a", readable="shop.web-tls")
    mb = wait_managed_default(env, 8443, cluster="e2e-b", readable="shop.web-tls")
    env.apply(env.tls_secret(NS, "web-tls", env.cert_for("a-v2", ["web.example.test"])))
    ma2 = wait_managed_default(env, 443, cluster="e2e-a", not_ids=(ma.id,))
    eventually(lambda: env.cert(ma.id) is None, T_REACT, "a's old certificate collected")
    assert env.cert(mb.id) is not None, "a deleted b's certificate"
    env.apply(env.tls_secret(NS, "web-tls", env.cert_for("b-v2", ["web.example.test"])),
              kube=kube_b)
    mb2 = wait_managed_default(env, 8443, cluster="e2e-b", not_ids=(mb.id,))
    eventually(lambda: env.cert(mb.id) is None, T_REACT, "b's old certificate collected")
    assert env.cert(ma2.id) is not None, "b deleted a's certificate"
    # both resync (and garbage-collect) with the other's certificates in view
    wait_full_sync(env, a)
    wait_full_sync(env, b)
    state = env.elb_state()
    assert [c.id for c in env.managed("e2e-a", state)] == [ma2.id], env.managed("e2e-a", state)
    assert [c.id for c in env.managed("e2e-b", state)] == [mb2.id], env.managed("e2e-b", state)
    assert env.listener(443, state=state).default == ma2.id
    assert env.listener(8443, state=state).default == mb2.id


@scenario()
def crash_between_create_and_rebind(env):
    """kill -9 right after the new certificate is created and before the listener is
    rebound (the emulator delays every answer), then a restart: no duplicate certificate,
    the new one bound, the old one collected."""
    c1 = env.cert_for("web-v1", ["web.example.test"])
    env.apply(*web(env, c1))
    ctl = env.start_controller()
    m1 = wait_managed_default(env, readable="shop.web-tls")
    op = env.provider.create_op
    creates = env.elb_ops().get(op, 0)
    env.elb_faults(latency_ms=1500)
    env.apply(env.tls_secret(NS, "web-tls", env.cert_for("web-v2", ["web.example.test"])))
    eventually(lambda: env.elb_ops().get(op, 0) > creates, T_REACT, "the create request",
               interval=0.005)
    ctl.proc.kill()
    env.elb_faults(latency_ms=0)
    # the create is carried out when its answer is delayed: wait for it to land
    eventually(lambda: len(env.managed(CLUSTER)) == 2, 10, "the new certificate created")
    assert env.listener(443).default == m1.id, "the listener was rebound before the kill"
    env.start_controller(name="controller-restarted")
    m2 = wait_managed_default(env, readable="shop.web-tls", not_ids=(m1.id,))
    eventually(lambda: env.cert(m1.id) is None, T_REACT, "the old certificate collected")
    managed = env.managed(CLUSTER)
    assert [c.id for c in managed] == [m2.id], "duplicates: %r" % managed


@scenario()
def leader_election_failover(env):
    """Two replicas with leader election: one leads (Lease holder, elb_certsync_leader 1) and
    only it writes; after kill -9 of the leader the other takes over and keeps the
    certificates in step."""
    env.apply(env.namespace("elb-certsync"))
    c1 = env.cert_for("web-v1", ["web.example.test"])
    env.apply(*web(env, c1))
    le = ["--lease-namespace", "elb-certsync", "--lease-duration", "3s", "--renew-deadline",
          "2s", "--retry-period", "500ms"]
    ra = env.start_controller(name="replica-a", leader_elect=True,
                              extra=le + ["--identity", "replica-a"])
    rb = env.start_controller(name="replica-b", leader_elect=True,
                              extra=le + ["--identity", "replica-b"])
    reps = {"replica-a": ra, "replica-b": rb}

    def holder():
        lease = env.get("lease", "elb-certsync", "elb-certsync")
        return lease and lease["spec"].get("holderIdentity") in reps and \
            lease["spec"]["holderIdentity"]
    lead = eventually(holder, T_REACT, "a Lease holder")
    leader, follower = reps[lead], reps["replica-b" if lead == "replica-a" else "replica-a"]
    eventually(lambda: h.metric_sum(leader.metrics(), "elb_certsync_leader") == 1, T_REACT,
               "elb_certsync_leader 1 on the leader")
    m1 = wait_managed_default(env, readable="shop.web-tls")
    assert h.metric_sum(follower.metrics(), "elb_certsync_leader") == 0
    assert h.metric_sum(follower.metrics(), "elb_certsync_actions_total") == 0, \
        "the follower acted"
    leader.proc.kill()
    eventually(lambda: holder() == follower.name, T_REACT, "the follower takes the Lease")
    eventually(lambda: h.metric_sum(follower.metrics(), "elb_certsync_leader") == 1, T_REACT,
               "elb_certsync_leader 1 on the new leader")
    env.apply(env.tls_secret(NS, "web-tls", env.cert_for("web-v2", ["web.example.test"])))
    wait_managed_default(env, readable="shop.web-tls", not_ids=(m1.id,))
    eventually(lambda: env.cert(m1.id) is None, T_REACT, "the old certificate collected")


def _many(env):
    """Ingresses on three listeners: on Huawei one of them with SNI (two certificates: four
    in all); on UCloud classic VServers with one certificate each (three in all; the ALB
    listener is covered by sni_second_entry). Returns the expected number of certificates."""
    sni = env.provider.name == "huawei"
    objs = [env.namespace(NS)]
    for n in ("a", "b", "c", "d"):
        objs.append(env.tls_secret(NS, n + "-tls", env.cert_for(n, ["%s.example.test" % n])))
    objs.append(env.ingress(NS, "sni", [("a-tls", ["a.example.test"])] +
                            ([("b-tls", ["b.example.test"])] if sni else []), port=443))
    objs.append(env.ingress(NS, "c", [("c-tls", ["c.example.test"])], port=8443))
    objs.append(env.ingress(NS, "d", [("d-tls", ["d.example.test"])], port=9443))
    env.apply(*objs)
    return 4 if sni else 3


def _converged(env, n_certs, not_ids=()):
    st = env.elb_state()
    la = env.listener(443, False, st)
    ok = managed_default(env, 443, readable="shop.a-tls", not_ids=not_ids) and \
        len(la.sni) == n_certs - 3 and \
        managed_default(env, 8443, readable="shop.c-tls", not_ids=not_ids) and \
        managed_default(env, 9443, readable="shop.d-tls", not_ids=not_ids)
    return ok and st


@scenario()
def provider_faults_converge(env):
    """With 10% 500 errors and 10% throttling on every provider request, the controller
    converges (creates, SNI, rotation) and leaves no orphaned or duplicate certificates."""
    n_certs = _many(env)
    env.elb_faults(error_500_rate=0.1, throttle_rate=0.1)
    ctl = env.start_controller()
    st = eventually(lambda: _converged(env, n_certs), 60, "convergence under faults")
    before = {c.id for c in env.managed(CLUSTER, st)}
    env.apply(env.tls_secret(NS, "a-tls", env.cert_for("a-v2", ["a.example.test"])),
              env.tls_secret(NS, "c-tls", env.cert_for("c-v2", ["c.example.test"])))
    eventually(lambda: managed_default(env, 443, readable="shop.a-tls", not_ids=before) and
               managed_default(env, 8443, readable="shop.c-tls", not_ids=before), 60,
               "rotation under faults")
    outcomes = env.elb_stats().get("outcomes", {}).get(env.provider.name, {})
    env.elb_faults(error_500_rate=0, throttle_rate=0)
    wait_full_sync(env, ctl, timeout=60)
    st = env.elb_state()
    ok, orphans = no_orphans(env, state=st)
    assert ok, "orphaned certificates: %r" % orphans
    names = [c.name for c in env.managed(CLUSTER, st)]
    assert len(names) == len(set(names)) == n_certs, names
    assert outcomes, "no fault was injected: %r" % env.elb_stats()
    print("    outcomes under faults: %s" % outcomes)


@scenario()
def lost_responses_no_duplicates(env):
    """With 15% of provider answers lost after the operation was carried out, the
    controller converges without duplicate certificates (creates are found again by name)."""
    n_certs = _many(env)
    env.elb_faults(lost_response_rate=0.15)
    ctl = env.start_controller(extra=["--provider-timeout", "3s"])
    eventually(lambda: _converged(env, n_certs), 60, "convergence with lost answers")
    env.elb_faults(lost_response_rate=0)
    wait_full_sync(env, ctl, timeout=60)
    st = env.elb_state()
    names = [c.name for c in env.managed(CLUSTER, st)]
    assert len(names) == len(set(names)) == n_certs, "duplicates or leftovers: %r" % names
    ok, orphans = no_orphans(env, state=st)
    assert ok, orphans


@scenario()
def dry_run_writes_nothing(env):
    """--dry-run reads everything and plans, but no write reaches the load balancer."""
    c = env.cert_for("web", ["web.example.test"])
    env.apply(*web(env, c))
    ctl = env.start_controller(extra=["--dry-run"])
    # the first reconcile of the listener, planned with the Ingress in view, and done
    eventually(lambda: h.metric_sum(ctl.metrics(), "elb_certsync_reconciles_total",
                                    result="success") > 0 and
               h.metric_sum(ctl.metrics(), "elb_certsync_queue_depth") == 0,
               T_REACT, "a reconcile")
    assert any(l.get("msg") == "dry-run: would" and l.get("action") == "create"
               for l in ctl.log_lines()), "no create was planned"
    ops = env.elb_ops()
    assert env.elb_writes() == 0, ops
    reads = sum(v for k, v in ops.items() if k not in env.provider.writes)
    assert reads > 0, "dry run read nothing: %r" % ops
    assert env.listener(443).default == env.provider.ids["original"]


def _rbac_rules(source_dir):
    import yaml
    rules = []
    with open(os.path.join(source_dir, "deploy", "base", "rbac.yaml")) as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") in ("ClusterRole", "Role"):
                rules += doc.get("rules", [])
    return rules


GROUPS = {"secrets": "", "events": "", "namespaces": "", "configmaps": "",
          "ingresses": "networking.k8s.io", "ingressclasses": "networking.k8s.io",
          "leases": "coordination.k8s.io"}


@scenario()
def rbac_and_key_hygiene(env):
    """Every (verb, resource) the controller sent to the API server is granted by
    deploy/base/rbac.yaml, and no private-key material reaches its log (checked after every
    scenario too, with Events)."""
    env.apply(env.namespace("elb-certsync"))
    c1 = env.cert_for("web-v1", ["web.example.test"])
    env.apply(*web(env, c1))
    env.ledger_start()
    ctl = env.start_controller(leader_elect=True,
                               extra=["--lease-namespace", "elb-certsync"])
    m1 = wait_managed_default(env, readable="shop.web-tls")
    env.apply(env.tls_secret(NS, "web-tls", env.cert_for("web-v2", ["web.example.test"])))
    wait_managed_default(env, readable="shop.web-tls", not_ids=(m1.id,))
    other = env.cert_for("other", ["other.example.test"])
    env.apply(env.tls_secret(NS, "web-tls", crt=c1.crt, key=other.key))
    eventually(lambda: warning(env, "InvalidCertificate", "web"), T_REACT, "a Warning Event")
    wait_full_sync(env, ctl)  # repeats the Event: a PATCH of its count
    env.delete("ingress", NS, "web")
    eventually(lambda: h.metric_sum(ctl.metrics(), "elb_certsync_queue_depth") == 0, T_REACT,
               "the deletion handled")
    used = env.ledger()
    rules = _rbac_rules(env.source_dir)
    denied = []
    for (verb, res), n in sorted(used.items()):
        grp = GROUPS.get(res)
        ok = grp is not None and any(
            grp in r.get("apiGroups", []) and res in r.get("resources", [])
            and verb in r.get("verbs", []) for r in rules)
        if not ok:
            denied.append("%s %s (x%d)" % (verb, res, n))
    assert used, "no request of the controller was seen"
    assert not denied, "not granted by deploy/base/rbac.yaml: %s" % ", ".join(denied)
    print("    controller requests: %s" % ", ".join("%s %s" % k for k in sorted(used)))
    log = ctl.proc.log()
    assert "PRIVATE KEY" not in log
    for cert in env.made:
        for s in cert.key_slices():
            assert s not in log, "key material of %s in the log" % cert.name


# ---- runner ----

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bin"))
    for b in ("elb-certsync", "fake-elb", "fake-kube-apiserver"):
        ap.add_argument("--" + b, metavar="PATH", help="the %s binary (default: in --bin-dir)" % b)
    ap.add_argument("--provider", choices=sorted(h.PROVIDERS), default="huawei")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--include-failing", action="store_true",
                    help="also run scenarios marked failing (known bugs elsewhere)")
    ap.add_argument("--list", action="store_true", help="print the scenario names and exit")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()

    chosen = [(n, f, failing_reason(why, a.provider)) for n, f, why, provs in SCENARIOS
              if a.provider in provs]
    chosen = [c for c in chosen if not c[2] or a.include_failing or c[0] in a.names]
    if a.list:
        for n, _, _ in chosen:
            print(n)
        return 0
    known = {n for n, _, _, provs in SCENARIOS if a.provider in provs}
    unknown = [n for n in a.names if n not in known]
    if unknown:
        print("unknown scenario(s) for %s: %s" % (a.provider, ", ".join(unknown)),
              file=sys.stderr)
        return 2
    if a.names:
        chosen = [s for s in chosen if s[0] in a.names]
    for b in ("elb-certsync", "fake-elb", "fake-kube-apiserver"):
        p = getattr(a, b.replace("-", "_"))
        if p:
            h.Env.binaries[b] = os.path.abspath(p)
    h.stop_on_signals(None)
    failed = []
    for n, fn, why in chosen:
        env = h.Env(os.path.abspath(a.bin_dir), a.provider, keep=a.keep)
        t0 = time.monotonic()
        ok = False
        try:
            print("%s/%s%s" % (a.provider, n, " (known failing: %s)" % why if why else ""),
                  flush=True)
            env.start_fakes()
            fn(env)
            env.stop_controllers()
            env.check_invariants()
            ok = True
        except KeyboardInterrupt:
            env.close(failed=True)
            raise
        except Exception:
            traceback.print_exc()
        finally:
            env.close(failed=not ok)
        print("%s %s/%s (%.1fs)" % ("PASS" if ok else "FAIL", a.provider, n,
                                    time.monotonic() - t0), flush=True)
        if not ok:
            failed.append(n)
    if failed:
        print("failed: %s" % ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
