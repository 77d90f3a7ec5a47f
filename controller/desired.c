/* desired.c -- the desired state from Ingresses and the Secrets store (see desired.h). */
#include "controller/desired.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "controller/annotations.h"
#include "controller/naming.h"

#define OOM(x)                                                                                     \
    do {                                                                                           \
        if (!(x))                                                                                  \
            goto oom;                                                                              \
    } while (0)

static void want_cleanup(struct ctl_cert_want *w)
{
    free(w->secret_ns);
    free(w->secret_name);
    free(w->fingerprint);
    free(w->chain_digest);
    free(w->name);
    free(w->readable);
    free(w->cert_id);
    free(w->imported_id);
    memset(w, 0, sizeof(*w));
}

static void listener_cleanup(struct ctl_listener_want *l)
{
    free(l->key);
    free(l->region);
    free(l->lb_id);
    free(l->listener_id);
    for (size_t i = 0; i < l->n_certs; i++)
        want_cleanup(&l->certs[i]);
    free(l->certs);
    for (size_t i = 0; i < l->n_ingresses; i++)
        free(l->ingresses[i]);
    free(l->ingresses);
    memset(l, 0, sizeof(*l));
}

void ctl_desired_free(struct ctl_desired *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        listener_cleanup(&d->listeners[i]);
    free(d->listeners);
    ctl_problems_cleanup(&d->problems);
    free(d);
}

char *ctl_listener_key(const char *region, const char *lb_id, const char *listener_id, int port)
{
    char *k = NULL;
    int n = listener_id ? asprintf(&k, "%s/%s/listener:%s", region, lb_id, listener_id)
                        : asprintf(&k, "%s/%s/port:%d", region, lb_id, port);
    return n < 0 ? NULL : k;
}

const struct ctl_listener_want *ctl_desired_find(const struct ctl_desired *d, const char *key)
{
    for (size_t i = 0; d && key && i < d->n; i++)
        if (strcmp(d->listeners[i].key, key) == 0)
            return &d->listeners[i];
    return NULL;
}

void ctl_cert_want_describe(const struct ctl_cert_want *w, char *buf, size_t len)
{
    switch (w->kind) {
    case CTL_WANT_MANAGED:
    case CTL_WANT_KEEP:
        snprintf(buf, len, "Secret %s/%s", w->secret_ns, w->secret_name);
        break;
    case CTL_WANT_SELECTED:
        snprintf(buf, len, "certificate %s", w->cert_id);
        break;
    case CTL_WANT_IMPORTED:
        snprintf(buf, len, "imported certificate %s", w->imported_id);
        break;
    }
}

static bool same_want(const struct ctl_cert_want *a, const struct ctl_cert_want *b)
{
    switch (a->kind) {
    case CTL_WANT_MANAGED:
    case CTL_WANT_KEEP:
        return (b->kind == CTL_WANT_MANAGED || b->kind == CTL_WANT_KEEP) &&
               strcmp(a->secret_ns, b->secret_ns) == 0 &&
               strcmp(a->secret_name, b->secret_name) == 0;
    case CTL_WANT_SELECTED:
        return b->kind == CTL_WANT_SELECTED && strcmp(a->cert_id, b->cert_id) == 0;
    case CTL_WANT_IMPORTED:
        return b->kind == CTL_WANT_IMPORTED && strcmp(a->imported_id, b->imported_id) == 0;
    }
    return false;
}

static int cmp_ingress(const void *pa, const void *pb)
{
    const struct ctl_ingress *a = *(const struct ctl_ingress *const *)pa;
    const struct ctl_ingress *b = *(const struct ctl_ingress *const *)pb;
    if (a->created_ms != b->created_ms)
        return a->created_ms < b->created_ms ? -1 : 1;
    int c = strcmp(a->ns, b->ns);
    return c ? c : strcmp(a->name, b->name);
}

static int cmp_listener(const void *pa, const void *pb)
{
    return strcmp(((const struct ctl_listener_want *)pa)->key,
                  ((const struct ctl_listener_want *)pb)->key);
}

/* Entries of one Ingress. */
struct entries {
    struct ctl_cert_want *v;
    size_t n;
};

static void entries_cleanup(struct entries *e)
{
    for (size_t i = 0; i < e->n; i++)
        want_cleanup(&e->v[i]);
    free(e->v);
    memset(e, 0, sizeof(*e));
}

static struct ctl_cert_want *entries_push(struct entries *e)
{
    struct ctl_cert_want *v = realloc(e->v, (e->n + 1) * sizeof(*v));
    if (!v)
        return NULL;
    e->v = v;
    memset(&v[e->n], 0, sizeof(v[0]));
    return &v[e->n++];
}

/* The Ingress's entries from its spec.tls Secrets; problems for those that give none. */
static enum cs_code secret_entries(const struct ctl_settings *s, const struct ctl_ingress *ing,
                                   ctl_secret_lookup_fn lookup, void *ud, struct entries *e,
                                   struct ctl_problems *pr)
{
    const char *ns = ing->ns, *in = ing->name;
    for (size_t i = 0; i < ing->n_tls; i++) {
        const char *sn = ing->tls[i].secret_name;
        if (!sn || !*sn) {
            /* A TLS entry without a Secret: the default certificate of another controller;
             * nothing for us to bind. */
            continue;
        }
        if (strchr(sn, '/')) {
            OOM(ctl_problems_add(pr, CTL_PROB_CROSS_NAMESPACE, ns, in, NULL,
                                 "spec.tls[%zu].secretName \"%.253s\" refers to another namespace: "
                                 "refused, a Secret is only read from the Ingress's own namespace",
                                 i, sn) == CS_OK);
            continue;
        }
        if (!ctl_dns_subdomain_valid(sn)) {
            OOM(ctl_problems_add(pr, CTL_PROB_SECRET_MISSING, ns, in, NULL,
                                 "spec.tls[%zu].secretName \"%.253s\" is not a valid Secret name", i,
                                 sn) == CS_OK);
            continue;
        }
        const struct ctl_secret *sec = lookup ? lookup(ud, ns, sn) : NULL;
        if (!sec) {
            OOM(ctl_problems_add(pr, CTL_PROB_SECRET_MISSING, ns, in, NULL,
                                 "Secret %s/%s (spec.tls[%zu]) not found", ns, sn, i) == CS_OK);
            continue;
        }
        if (!ctl_secret_type_ok(sec->type)) {
            OOM(ctl_problems_add(pr, CTL_PROB_SECRET_TYPE, ns, in, NULL,
                                 "Secret %s/%s is of type \"%.64s\", not " CTL_SECRET_TYPE_TLS, ns,
                                 sn, sec->type ? sec->type : "") == CS_OK);
            continue;
        }
        struct ctl_cert_want *w = entries_push(e);
        OOM(w);
        OOM(w->secret_ns = strdup(ns));
        OOM(w->secret_name = strdup(sn));
        char readable[256];
        if (ctl_name_readable(s->cluster_id, ns, sn, &s->limits, readable, NULL) == CS_OK)
            OOM(w->readable = strdup(readable));
        char when[32];
        const char *invalid = NULL;
        char why[320];
        if (sec->status != CTL_CERT_OK) {
            invalid = sec->reason ? sec->reason : "invalid certificate";
        } else if (sec->not_after_ms && s->now_ms > sec->not_after_ms) {
            cs_format_time(sec->not_after_ms, false, when);
            snprintf(why, sizeof(why), "the certificate in tls.crt expired on %s", when);
            invalid = why;
        } else if (sec->not_before_ms && s->now_ms < sec->not_before_ms) {
            cs_format_time(sec->not_before_ms, false, when);
            snprintf(why, sizeof(why), "the certificate in tls.crt is not valid before %s", when);
            invalid = why;
        }
        char *name = NULL;
        if (!invalid && ctl_name_managed(s->cluster_id, ns, sn, sec->fingerprint, &s->limits,
                                         &name, NULL) != CS_OK)
            invalid = "the Secret has no usable fingerprint";
        if (invalid) {
            w->kind = CTL_WANT_KEEP;
            OOM(ctl_problems_add(pr, CTL_PROB_SECRET_INVALID, ns, in, NULL,
                                 "Secret %s/%s is not usable: %s; the listener keeps the "
                                 "certificate it has for it",
                                 ns, sn, invalid) == CS_OK);
            continue;
        }
        w->kind = CTL_WANT_MANAGED;
        w->name = name;
        OOM(w->fingerprint = strdup(sec->fingerprint));
        OOM(w->chain_digest = strdup(sec->chain_digest));
        int64_t left = sec->not_after_ms - s->now_ms;
        if (sec->not_after_ms && s->expiry_warn_days > 0 &&
            left < (int64_t)s->expiry_warn_days * 86400 * 1000) {
            cs_format_time(sec->not_after_ms, false, when);
            OOM(ctl_problems_add(pr, CTL_PROB_EXPIRING, ns, in, NULL,
                                 "the certificate of Secret %s/%s expires on %s (in %lld days)", ns,
                                 sn, when, (long long)(left / (86400 * 1000))) == CS_OK);
        }
    }
    return CS_OK;
oom:
    return CS_ENOMEM;
}

static enum cs_code selected_entries(const struct ctl_settings *s,
                                     const struct ctl_ingress_opts *o, struct entries *e)
{
    for (size_t i = 0; i < o->n_cert_ids; i++) {
        struct ctl_cert_want *w = entries_push(e);
        OOM(w);
        w->kind = CTL_WANT_SELECTED;
        OOM(w->cert_id = strdup(o->cert_ids[i]));
    }
    for (size_t i = 0; i < o->n_imported_ids; i++) {
        struct ctl_cert_want *w = entries_push(e);
        OOM(w);
        w->kind = CTL_WANT_IMPORTED;
        OOM(w->imported_id = strdup(o->imported_ids[i]));
        char fp[65];
        ctl_imported_fingerprint(o->imported_ids[i], fp);
        OOM(w->fingerprint = strdup(fp));
        if (ctl_name_imported(s->cluster_id, o->imported_ids[i], &s->limits, &w->name, NULL) !=
            CS_OK)
            return CS_EINVAL;
    }
    return CS_OK;
oom:
    return CS_ENOMEM;
}

static enum cs_code want_copy(const struct ctl_cert_want *src, struct ctl_cert_want *dst)
{
    memset(dst, 0, sizeof(*dst));
    dst->kind = src->kind;
#define DUP(f) OOM(!src->f || (dst->f = strdup(src->f)))
    DUP(secret_ns);
    DUP(secret_name);
    DUP(fingerprint);
    DUP(chain_digest);
    DUP(name);
    DUP(readable);
    DUP(cert_id);
    DUP(imported_id);
#undef DUP
    return CS_OK;
oom:
    want_cleanup(dst);
    return CS_ENOMEM;
}

static struct ctl_listener_want *listener_get(struct ctl_desired *d, const char *key,
                                              const struct ctl_ingress_opts *o, bool *created)
{
    *created = false;
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->listeners[i].key, key) == 0)
            return &d->listeners[i];
    struct ctl_listener_want *v = realloc(d->listeners, (d->n + 1) * sizeof(*v));
    if (!v)
        return NULL;
    d->listeners = v;
    struct ctl_listener_want *l = &v[d->n];
    memset(l, 0, sizeof(*l));
    if (!(l->key = strdup(key)) || !(l->region = strdup(o->region)) ||
        !(l->lb_id = strdup(o->lb_id)) || (o->listener_id && !(l->listener_id = strdup(o->listener_id)))) {
        listener_cleanup(l);
        return NULL;
    }
    l->port = o->port;
    d->n++;
    *created = true;
    return l;
}

static enum cs_code add_entries(struct ctl_listener_want *l, const struct entries *e)
{
    for (size_t i = 0; i < e->n; i++) {
        bool dup = false;
        for (size_t j = 0; j < l->n_certs && !dup; j++)
            dup = same_want(&l->certs[j], &e->v[i]);
        if (dup)
            continue;
        struct ctl_cert_want *v = realloc(l->certs, (l->n_certs + 1) * sizeof(*v));
        if (!v)
            return CS_ENOMEM;
        l->certs = v;
        if (want_copy(&e->v[i], &l->certs[l->n_certs]) != CS_OK)
            return CS_ENOMEM;
        l->n_certs++;
    }
    return CS_OK;
}

static enum cs_code add_ingress_ref(struct ctl_listener_want *l, const struct ctl_ingress *ing)
{
    char **v = realloc(l->ingresses, (l->n_ingresses + 1) * sizeof(*v));
    if (!v)
        return CS_ENOMEM;
    l->ingresses = v;
    if (asprintf(&v[l->n_ingresses], "%s/%s", ing->ns, ing->name) < 0)
        return CS_ENOMEM;
    l->n_ingresses++;
    return CS_OK;
}

/* Leaves out what the listener cannot hold and reports it to every Ingress on it. */
static enum cs_code trim_sni(const struct ctl_settings *s, struct ctl_listener_want *l,
                             struct ctl_problems *pr)
{
    size_t max = 1 + s->limits.max_sni;
    if (l->n_certs <= max)
        return CS_OK;
    char left[1024] = "";
    size_t used = 0;
    for (size_t i = max; i < l->n_certs; i++) {
        char d[300];
        ctl_cert_want_describe(&l->certs[i], d, sizeof(d));
        if (used < sizeof(left) - 1)
            used += (size_t)snprintf(left + used, sizeof(left) - used, "%s%s", i > max ? ", " : "", d);
        want_cleanup(&l->certs[i]);
    }
    size_t total = l->n_certs;
    l->n_certs = max;
    for (size_t i = 0; i < l->n_ingresses; i++) {
        char ns[256], name[256];
        const char *slash = strchr(l->ingresses[i], '/');
        snprintf(ns, sizeof(ns), "%.*s", (int)(slash - l->ingresses[i]), l->ingresses[i]);
        snprintf(name, sizeof(name), "%s", slash + 1);
        if (ctl_problems_add(pr, CTL_PROB_SNI_OVERFLOW, ns, name, l->key,
                             "listener %s would need %zu certificates, it holds at most %zu "
                             "(1 default + %zu SNI): left out %s",
                             l->key, total, max, s->limits.max_sni, left) != CS_OK)
            return CS_ENOMEM;
    }
    return CS_OK;
}

enum cs_code ctl_desired_compute(const struct ctl_settings *s, const struct ctl_ingress *ings,
                                 size_t n_ings, ctl_secret_lookup_fn lookup, void *lookup_ud,
                                 struct ctl_desired **out, struct cs_err *err)
{
    enum cs_code rc = CS_ENOMEM;
    struct ctl_desired *d = calloc(1, sizeof(*d));
    const struct ctl_ingress **order = calloc(n_ings ? n_ings : 1, sizeof(*order));
    char **first_class = NULL; /* per listener: kubernetes.io/elb.class of its first Ingress */
    size_t n_first = 0;
    struct entries e = {0};
    struct ctl_ingress_opts o = {0};
    char *key = NULL;
    if (!d || !order)
        goto out;
    if (ctl_cluster_id_check(s->cluster_id, err) != CS_OK) {
        rc = CS_EINVAL;
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_ings; i++)
        if (ctl_ingress_is_ours(&ings[i], s))
            order[n++] = &ings[i];
    qsort(order, n, sizeof(*order), cmp_ingress);
    first_class = calloc(n ? n : 1, sizeof(*first_class));
    if (!first_class)
        goto out;
    n_first = n;

    for (size_t i = 0; i < n; i++) {
        const struct ctl_ingress *ing = order[i];
        bool has_ann = ctl_ingress_annotation(ing, CTL_ANN_CERT_IDS) ||
                       ctl_ingress_annotation(ing, CTL_ANN_USSL_IDS) ||
                       ctl_ingress_annotation(ing, CTL_ANN_SCM_IDS);
        if (ing->n_tls == 0 && !has_ann)
            continue; /* no certificate to serve: not our business */
        enum cs_code prc = ctl_annotations_parse(ing, s, &o, &d->problems, NULL);
        if (prc == CS_ENOMEM)
            goto out;
        if (prc != CS_OK) {
            d->incomplete = true;
            continue;
        }
        if (o.n_cert_ids || o.n_imported_ids)
            rc = selected_entries(s, &o, &e);
        else
            rc = secret_entries(s, ing, lookup, lookup_ud, &e, &d->problems);
        if (rc == CS_EINVAL) {
            d->incomplete = true;
            ctl_ingress_opts_cleanup(&o);
            entries_cleanup(&e);
            continue;
        }
        if (rc != CS_OK)
            goto out;
        rc = CS_ENOMEM;
        if (!(key = ctl_listener_key(o.region, o.lb_id, o.listener_id, o.port)))
            goto out;
        bool created;
        struct ctl_listener_want *l = listener_get(d, key, &o, &created);
        if (!l)
            goto out;
        size_t li = (size_t)(l - d->listeners);
        if (created) {
            if (o.elb_class && !(first_class[li] = strdup(o.elb_class)))
                goto out;
        } else {
            /* Several Ingresses on one listener: the first-created one chose the default. */
            char dw[300], mine[300];
            if (e.n > 0 && l->n_certs > 0 && !same_want(&l->certs[0], &e.v[0])) {
                ctl_cert_want_describe(&l->certs[0], dw, sizeof(dw));
                ctl_cert_want_describe(&e.v[0], mine, sizeof(mine));
                if (ctl_problems_add(&d->problems, CTL_PROB_CONFLICT, ing->ns, ing->name, key,
                                     "listener %s is shared: its default certificate is %s, from "
                                     "Ingress %s created first; %s is served by SNI",
                                     key, dw, l->ingresses[0], mine) != CS_OK)
                    goto out;
            }
            const char *fc = first_class[li];
            if (o.elb_class && fc && strcmp(o.elb_class, fc) != 0 &&
                ctl_problems_add(&d->problems, CTL_PROB_CONFLICT, ing->ns, ing->name, key,
                                 "kubernetes.io/elb.class is \"%s\" but Ingress %s on the same "
                                 "listener says \"%s\"",
                                 o.elb_class, l->ingresses[0], fc) != CS_OK)
                goto out;
        }
        if (add_ingress_ref(l, ing) != CS_OK || add_entries(l, &e) != CS_OK)
            goto out;
        free(key);
        key = NULL;
        ctl_ingress_opts_cleanup(&o);
        entries_cleanup(&e);
    }
    for (size_t i = 0; i < d->n; i++)
        if (trim_sni(s, &d->listeners[i], &d->problems) != CS_OK)
            goto out;
    if (d->n > 1)
        qsort(d->listeners, d->n, sizeof(d->listeners[0]), cmp_listener);
    ctl_problems_sort(&d->problems);
    *out = d;
    d = NULL;
    rc = CS_OK;
out:
    if (rc == CS_ENOMEM)
        cs_err_set(err, rc, 0, "out of memory");
    if (first_class) {
        for (size_t i = 0; i < n_first; i++)
            free(first_class[i]);
        free(first_class);
    }
    free(key);
    ctl_ingress_opts_cleanup(&o);
    entries_cleanup(&e);
    free(order);
    ctl_desired_free(d);
    return rc;
}
