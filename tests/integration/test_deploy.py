#!/usr/bin/env python3
"""The deployment's own checks: every overlay renders with kubectl kustomize, every object
parses and is well-formed, RBAC grants exactly what the controller calls, the Deployment is
locked down, every ConfigMap setting is a real flag, and the container image's runtime
packages cover the binary's shared libraries.

usage: test_deploy.py SOURCE_DIR ELB_CERTSYNC_BINARY [--no-image]

--no-image skips the image-library check (sanitizer builds link their runtimes).
"""
import os
import re
import subprocess
import sys

import yaml

SRC, BINARY = sys.argv[1], sys.argv[2]
CHECK_IMAGE = "--no-image" not in sys.argv[3:]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


# What the controller calls, by (API group, resource) -> verbs. The end-to-end test checks the
# other direction: that the controller makes no call outside these.
CLUSTER_CALLS = {
    ("networking.k8s.io", "ingresses"): {"get", "list", "watch"},
    ("networking.k8s.io", "ingressclasses"): {"get", "list", "watch"},
    ("", "secrets"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
}
NAMESPACED_CALLS = {
    ("networking.k8s.io", "ingresses"): {"get", "list", "watch"},
    ("", "secrets"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
}
LEASE_CALLS = {("coordination.k8s.io", "leases"): {"get", "create", "update"}}


def render(path):
    out = subprocess.run(["kubectl", "kustomize", os.path.join(SRC, path)],
                         capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, f"{path}: kubectl kustomize failed: {out.stderr.strip()}")
    docs = [d for d in yaml.safe_load_all(out.stdout) if d is not None]
    check(len(docs) > 0, f"{path}: rendered nothing")
    return docs


def grants(rules):
    got = {}
    for r in rules:
        check(set(r) <= {"apiGroups", "resources", "verbs", "resourceNames"},
              f"unexpected rule fields {sorted(r)}")
        check("*" not in r.get("verbs", []) and "*" not in r.get("resources", []),
              f"wildcard in rule {r}")
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                got.setdefault((g, res), set()).update(r.get("verbs", []))
    return got


def flags_of_binary():
    out = subprocess.run([BINARY, "run", "--help"], capture_output=True, text=True, timeout=30)
    check(out.returncode == 0, f"elb-certsync run --help exited {out.returncode}")
    return set(re.findall(r"env (ELB_CERTSYNC_[A-Z_]+)", out.stdout))


def check_overlay(path, cluster_calls):
    docs = render(path)
    kinds = {}
    for d in docs:
        for field in ("apiVersion", "kind", "metadata"):
            check(field in d, f"{path}: object without {field}: {str(d)[:80]}")
        name = d.get("metadata", {}).get("name")
        check(bool(name), f"{path}: {d.get('kind')} without a name")
        kinds.setdefault(d["kind"], []).append(d)

    roles = kinds.get("ClusterRole", [])
    watched = [r for r in kinds.get("Role", []) if r["metadata"]["name"] != "elb-certsync-leader-election"]
    main_rules = grants(sum((r["rules"] for r in roles + watched), []))
    check(main_rules == cluster_calls,
          f"{path}: RBAC grants {main_rules}, the controller calls {cluster_calls}")
    lease_roles = [r for r in kinds.get("Role", []) if r["metadata"]["name"] == "elb-certsync-leader-election"]
    check(len(lease_roles) == 1, f"{path}: one leader-election Role expected")
    if lease_roles:
        check(grants(lease_roles[0]["rules"]) == LEASE_CALLS, f"{path}: lease Role grants too much")
        check(lease_roles[0]["metadata"].get("namespace") == "elb-certsync",
              f"{path}: the lease Role must live in the controller's namespace")

    deps = kinds.get("Deployment", [])
    check(len(deps) == 1, f"{path}: one Deployment expected")
    if deps:
        dep = deps[0]
        spec = dep["spec"]["template"]["spec"]
        check(dep["spec"]["replicas"] == 2, f"{path}: 2 replicas expected")
        check(spec.get("automountServiceAccountToken") is False,
              f"{path}: the legacy token must not be automounted")
        psc = spec.get("securityContext", {})
        check(psc.get("runAsNonRoot") is True, f"{path}: runAsNonRoot")
        check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{path}: seccomp")
        c = spec["containers"][0]
        sc = c.get("securityContext", {})
        check(sc.get("readOnlyRootFilesystem") is True, f"{path}: read-only root filesystem")
        check(sc.get("allowPrivilegeEscalation") is False, f"{path}: privilege escalation")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{path}: drop ALL capabilities")
        check(c["livenessProbe"]["httpGet"]["path"] == "/healthz", f"{path}: liveness probe")
        check(c["readinessProbe"]["httpGet"]["path"] == "/readyz", f"{path}: readiness probe")
        res = c.get("resources", {})
        check("memory" in res.get("limits", {}) and "cpu" in res.get("requests", {}),
              f"{path}: resource requests and limits")
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        check(vols.get("credentials", {}).get("secret", {}).get("defaultMode") == 0o400,
              f"{path}: credentials mounted from a Secret, mode 0400")
        proj = vols.get("kube-api-access", {}).get("projected", {}).get("sources", [])
        tok = [s["serviceAccountToken"] for s in proj if "serviceAccountToken" in s]
        check(tok and tok[0].get("expirationSeconds", 0) <= 3600, f"{path}: short-lived token")

    check(len(kinds.get("PodDisruptionBudget", [])) == 1, f"{path}: a PodDisruptionBudget")
    svcs = kinds.get("Service", [])
    check(svcs and svcs[0]["metadata"].get("annotations", {}).get("prometheus.io/scrape") == "true",
          f"{path}: metrics Service with scrape annotation")

    known = flags_of_binary()
    for cm in kinds.get("ConfigMap", []):
        for k in cm.get("data", {}):
            check(k in known, f"{path}: ConfigMap sets {k}, which is not a flag of run")
    for c in deps[0]["spec"]["template"]["spec"]["containers"] if deps else []:
        for e in c.get("env", []):
            check(e["name"] in known, f"{path}: env {e['name']} is not a flag of run")
    return kinds


def check_image_libraries():
    dockerfile = open(os.path.join(SRC, "Dockerfile")).read()
    m = re.search(r"^# runtime-packages: (.+)$", dockerfile, re.M)
    check(m is not None, "Dockerfile: no '# runtime-packages:' line")
    if not m:
        return
    declared = set(m.group(1).split())
    install = re.search(r"FROM debian:bookworm-slim AS runtime(.*?)COPY", dockerfile, re.S)
    check(install and all(p in install.group(1) for p in declared),
          "Dockerfile: the runtime stage does not install every declared package")
    ldd = subprocess.run(["ldd", BINARY], capture_output=True, text=True, timeout=30).stdout
    needed = set()
    for line in ldd.splitlines():
        m2 = re.search(r"=> (/\S+)", line)
        if not m2:
            continue
        path = os.path.realpath(m2.group(1))
        owner = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if owner.returncode != 0:  # merged-usr: try the /lib spelling
            owner = subprocess.run(["dpkg", "-S", path.replace("/usr/lib/", "/lib/", 1)],
                                   capture_output=True, text=True)
        check(owner.returncode == 0, f"ldd: no Debian package owns {path}")
        pkg = owner.stdout.split(":")[0]
        needed.add(pkg)
    # The C library and what it pulls are in every Debian image.
    base = {"libc6", "libgcc-s1", "zlib1g"}
    direct = {"libcurl4", "libssl3", "libyaml-0-2", "libcjson1", "libmicrohttpd12"}
    check(direct <= needed, f"ldd: expected {sorted(direct)} among {sorted(needed)}")
    check(direct <= declared, f"Dockerfile runtime packages {sorted(declared)} miss {sorted(direct - declared)}")
    # Everything else ldd names must be pulled in by a declared package's dependencies.
    deps_out = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends",
                               "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                               "--no-enhances", *sorted(declared)],
                              capture_output=True, text=True, timeout=120).stdout
    closure = set(re.findall(r"^(\S+)$", deps_out, re.M)) | declared
    closure = {p.split(":")[0] for p in closure}
    missing = sorted(p for p in needed - base if p not in closure)
    check(not missing, f"libraries not pulled in by the runtime stage: {missing}")


def check_readme():
    """The README documents every flag, annotation, metric and Event reason the code has."""
    readme = open(os.path.join(SRC, "README.md")).read()
    out = subprocess.run([BINARY, "run", "--help"], capture_output=True, text=True, timeout=30).stdout
    for flag in re.findall(r"^  (--[a-z-]+)", out, re.M):
        check(f"`{flag}`" in readme or f"{flag}`" in readme, f"README: flag {flag} undocumented")
    ann = open(os.path.join(SRC, "controller/annotations.h")).read()
    for a in re.findall(r'#define CTL_ANN_\w+ "([^"]+)"', ann):
        check(f"`{a}`" in readme, f"README: annotation {a} undocumented")
    code = ""
    for d in ("controller",):
        for f in os.listdir(os.path.join(SRC, d)):
            if f.endswith(".c"):
                code += open(os.path.join(SRC, d, f)).read()
    for m in set(re.findall(r'"(elb_certsync_[a-z_]+)"', code)):
        check(f"`{m}`" in readme, f"README: metric {m} undocumented")
    for r in set(re.findall(r'return "([A-Z][A-Za-z]+)"', open(os.path.join(SRC, "controller/problems.c")).read())):
        check(r == "Unknown" or f"`{r}`" in readme, f"README: Event reason {r} undocumented")
    for r in set(re.findall(r'"(?:Warning|Normal)",\s*"([A-Z][A-Za-z]+)"', code)) | set(
            re.findall(r'\? "(Certificate[A-Za-z]+)"\s*:\s*"(Certificate[A-Za-z]+)"', code) and
            sum(re.findall(r'\? "(Certificate[A-Za-z]+)"\s*:\s*"(Certificate[A-Za-z]+)"', code), ()) or ()):
        check(f"`{r}`" in readme, f"README: Event reason {r} undocumented")


check_readme()
check_overlay("deploy/overlays/huawei", CLUSTER_CALLS)
u = check_overlay("deploy/overlays/ucloud", CLUSTER_CALLS)
check(any(ic["metadata"]["name"] == "ulb" for ic in u.get("IngressClass", [])),
      "ucloud overlay: IngressClass ulb")
check_overlay("deploy/examples/huawei-one-namespace", NAMESPACED_CALLS)
if CHECK_IMAGE:
    check_image_libraries()

for f in failures:
    print("FAIL:", f)
print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
sys.exit(1 if failures else 0)
