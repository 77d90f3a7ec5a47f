/* plan.c -- the diff between desired and actual for one listener, and region-wide garbage
 * collection (see plan.h). Pure: reads the structs it is given, returns a plan. */
#include "controller/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "controller/certcheck.h"
#include "controller/naming.h"

#define OOM(x)                                                                                     \
    do {                                                                                           \
        if (!(x))                                                                                  \
            goto oom;                                                                              \
    } while (0)

/* What the plan knows of one certificate of the region. */
struct cinfo {
    const struct elb_cert *c;
    bool ours;            /* prefix AND cluster (and record, where there are descriptions) */
    bool has_rec;         /* the description is a record of our cluster (renamed or not) */
    struct ctl_record rec;
    struct ctl_name_parts np;
    bool np_ok;
    int dig;              /* 0 not computed, 1 digest known, -1 unknown */
    char digest[65];
};

/* A certificate the listener should hold: an existing one (ci >= 0) or one this plan
 * creates (name). */
struct ref {
    const char *id;   /* borrowed from the certificate list; NULL when created */
    const char *name; /* borrowed */
    bool ours;
};

struct ctx {
    const struct ctl_settings *s;
    const struct ctl_desired *d;
    const char *region;
    struct cinfo *ci;
    size_t n;
    const struct elb_listener_list *listeners;
    const struct elb_listener *self; /* NULL for garbage collection alone */
    /* The listener's bindings after this plan (when self_changed). */
    bool self_changed;
    const char *post_default;
    const char **post_sni;
    size_t n_post_sni;
    struct ctl_plan *plan;
    const struct ctl_listener_want *want;
    const char *key;       /* the listener key being planned (NULL for GC alone) */
    const char *rec_bound; /* the runtime record's certificate not ours that the controller
                              bound as default (annotation-selected), or NULL */
};

const char *ctl_action_kind_name(enum ctl_action_kind k)
{
    switch (k) {
    case CTL_ACT_CREATE: return "create";
    case CTL_ACT_RENAME: return "rename";
    case CTL_ACT_RECORD_REPLACED: return "record_replaced";
    case CTL_ACT_SET_LISTENER: return "set_listener";
    case CTL_ACT_RESTORE: return "restore";
    case CTL_ACT_FORGET_REPLACED: return "forget_replaced";
    case CTL_ACT_DELETE: return "delete";
    }
    return "unknown";
}

static void ref_cleanup(struct ctl_cert_ref *r)
{
    free(r->id);
    free(r->name);
    r->id = r->name = NULL;
}

static void action_cleanup(struct ctl_action *a)
{
    free(a->why);
    free(a->name);
    free(a->description);
    free(a->secret_ns);
    free(a->secret_name);
    free(a->fingerprint);
    free(a->imported_id);
    free(a->cert_id);
    free(a->listener_id);
    ref_cleanup(&a->default_cert);
    for (size_t i = 0; i < a->n_sni; i++)
        ref_cleanup(&a->sni[i]);
    free(a->sni);
    memset(a, 0, sizeof(*a));
}

void ctl_plan_free(struct ctl_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        action_cleanup(&p->actions[i]);
    free(p->actions);
    ctl_problems_cleanup(&p->problems);
    free(p);
}

static struct ctl_action *act_push(struct ctl_plan *p, enum ctl_action_kind kind, const char *why)
{
    struct ctl_action *v = realloc(p->actions, (p->n + 1) * sizeof(*v));
    if (!v)
        return NULL;
    p->actions = v;
    struct ctl_action *a = &v[p->n];
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    if (!(a->why = strdup(why)))
        return NULL;
    p->n++;
    return a;
}

static bool dup_into(char **dst, const char *src)
{
    if (!src)
        return true;
    *dst = strdup(src);
    return *dst != NULL;
}

static bool streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static void cinfo_cleanup(struct cinfo *ci, size_t n)
{
    for (size_t i = 0; ci && i < n; i++)
        ctl_record_cleanup(&ci[i].rec);
    free(ci);
}

static struct cinfo *cinfo_build(const struct ctl_settings *s, const struct elb_cert_list *certs)
{
    size_t n = certs ? certs->n : 0;
    struct cinfo *ci = calloc(n ? n : 1, sizeof(*ci));
    if (!ci)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const struct elb_cert *c = &certs->items[i];
        ci[i].c = c;
        ci[i].np_ok = ctl_name_parse(c->name, &ci[i].np);
        ci[i].ours = ctl_cert_is_ours(c, s->cluster_id, &s->limits, NULL);
        if (s->limits.description_max > 0 && c->description &&
            ctl_record_parse(c->description, &ci[i].rec, NULL) == CS_OK) {
            if (strcmp(ci[i].rec.cluster, s->cluster_id) == 0)
                ci[i].has_rec = true;
            else
                ctl_record_cleanup(&ci[i].rec);
        }
    }
    return ci;
}

static ssize_t find_id(const struct ctx *x, const char *id)
{
    for (size_t i = 0; id && i < x->n; i++)
        if (streq(x->ci[i].c->id, id))
            return (ssize_t)i;
    return -1;
}

static bool listener_holds(const struct elb_listener *l, const char *id)
{
    if (!l || !id)
        return false;
    if (streq(l->default_cert_id, id))
        return true;
    for (size_t i = 0; i < l->n_sni; i++)
        if (streq(l->sni_cert_ids[i], id))
            return true;
    return false;
}

/* Whether the certificate is bound anywhere in the provider's view, with this plan's own
 * binding of the listener applied. */
static bool bound(const struct ctx *x, const struct elb_cert *c)
{
    const char *self_id = x->self ? x->self->id : NULL;
    if (x->self) {
        if (x->self_changed) {
            if (streq(x->post_default, c->id))
                return true;
            for (size_t i = 0; i < x->n_post_sni; i++)
                if (streq(x->post_sni[i], c->id))
                    return true;
        } else if (listener_holds(x->self, c->id)) {
            return true;
        }
    }
    for (size_t i = 0; x->listeners && i < x->listeners->n; i++) {
        const struct elb_listener *l = &x->listeners->items[i];
        if (self_id && streq(l->id, self_id))
            continue;
        if (listener_holds(l, c->id))
            return true;
    }
    for (size_t i = 0; c->bindings_known && i < c->n_bindings; i++)
        if (!self_id || !x->self_changed || !streq(c->bindings[i].listener_id, self_id))
            return true;
    return false;
}

static bool held_by_self(const struct ctx *x, const char *id)
{
    return listener_holds(x->self, id);
}

static const char *digest_of(struct cinfo *ci)
{
    if (ci->dig == 0) {
        ci->dig = -1;
        if (ci->c->chain_digest && strlen(ci->c->chain_digest) == 64) {
            memcpy(ci->digest, ci->c->chain_digest, 65);
            ci->dig = 1;
        } else if (ci->c->certificate &&
            ctl_chain_digest(ci->c->certificate, strlen(ci->c->certificate), ci->digest, NULL) ==
                CS_OK)
            ci->dig = 1;
    }
    return ci->dig == 1 ? ci->digest : NULL;
}

/* Whether an existing certificate holds the content the entry wants. */
static bool content_ok(struct cinfo *ci, const struct ctl_cert_want *w)
{
    if (ci->has_rec && !streq(ci->rec.fingerprint, w->fingerprint))
        return false;
    if (!ci->np_ok || strncmp(ci->np.hash, w->fingerprint, CTL_NAME_HASH_LEN) != 0)
        return false;
    if (w->kind == CTL_WANT_MANAGED && w->chain_digest && *w->chain_digest) {
        const char *d = digest_of(ci);
        if (d && strcmp(d, w->chain_digest) != 0)
            return false;
    }
    return true;
}

/* A certificate of ours someone renamed: the name says nothing, the content must not differ. */
static bool content_ok_renamed(struct cinfo *ci, const struct ctl_cert_want *w)
{
    if (!w->chain_digest || !*w->chain_digest)
        return true;
    const char *d = digest_of(ci);
    return !d || strcmp(d, w->chain_digest) == 0;
}

/* The preferred of two candidates: bound on this listener, then bound anywhere, then the
 * smallest ID (deterministic). */
static bool better(const struct ctx *x, ssize_t cand, ssize_t best)
{
    if (best < 0)
        return true;
    const struct elb_cert *a = x->ci[cand].c, *b = x->ci[best].c;
    bool sa = held_by_self(x, a->id), sb = held_by_self(x, b->id);
    if (sa != sb)
        return sa;
    bool ba = bound(x, a), bb = bound(x, b);
    if (ba != bb)
        return ba;
    return strcmp(a->id ? a->id : "", b->id ? b->id : "") < 0;
}

static ssize_t resolve_managed(const struct ctx *x, const struct ctl_cert_want *w)
{
    ssize_t best = -1;
    for (size_t i = 0; i < x->n; i++)
        if (x->ci[i].ours && streq(x->ci[i].c->name, w->name) && content_ok(&x->ci[i], w) &&
            better(x, (ssize_t)i, best))
            best = (ssize_t)i;
    return best;
}

static ssize_t resolve_imported(const struct ctx *x, const struct ctl_cert_want *w)
{
    ssize_t best = -1;
    for (size_t i = 0; i < x->n; i++) {
        const struct elb_cert *c = x->ci[i].c;
        if (c->source != ELB_CERT_SOURCE_IMPORTED || !streq(c->imported_id, w->imported_id))
            continue;
        if (best >= 0 && x->ci[best].ours != x->ci[i].ours) {
            /* A user's own copy first: it is never ours to collect. */
            if (x->ci[best].ours)
                best = (ssize_t)i;
            continue;
        }
        if (better(x, (ssize_t)i, best))
            best = (ssize_t)i;
    }
    return best;
}

/* The provider's listener a desired one names, when the view has it. */
static const struct elb_listener *want_listener(const struct ctx *x,
                                                const struct ctl_listener_want *l)
{
    for (size_t i = 0; x->listeners && i < x->listeners->n; i++) {
        const struct elb_listener *e = &x->listeners->items[i];
        if (streq(e->lb_id, l->lb_id) &&
            (l->listener_id ? streq(e->id, l->listener_id) : e->port == l->port))
            return e;
    }
    return NULL;
}

/* Whether some desired listener of the region chooses (resolves to) or selects this one.
 * A listener that holds a single certificate wants its default only: what its other TLS
 * entries name can never be bound there. */
static bool wanted(const struct ctx *x, size_t idx)
{
    const struct elb_cert *c = x->ci[idx].c;
    for (size_t i = 0; x->d && i < x->d->n; i++) {
        const struct ctl_listener_want *l = &x->d->listeners[i];
        if (!streq(l->region, x->region))
            continue;
        const struct elb_listener *e = want_listener(x, l);
        size_t n_certs = e && e->kind == ELB_LISTENER_SINGLE && l->n_certs > 1 ? 1 : l->n_certs;
        for (size_t j = 0; j < n_certs; j++) {
            const struct ctl_cert_want *w = &l->certs[j];
            ssize_t r = -1;
            if (w->kind == CTL_WANT_SELECTED && streq(w->cert_id, c->id))
                return true;
            if (w->kind == CTL_WANT_MANAGED && streq(w->name, c->name))
                r = resolve_managed(x, w);
            else if (w->kind == CTL_WANT_IMPORTED && streq(w->imported_id, c->imported_id))
                r = resolve_imported(x, w);
            if (r == (ssize_t)idx)
                return true;
        }
    }
    return false;
}

/* DELETE for every certificate of ours in the region that nothing wants or holds. A
 * listener's plan (x->self set) sees the desired state of the Ingresses that concern that
 * listener only, and certificates another worker may have just created and not yet bound:
 * it deletes only what the listener itself held before the plan (what it replaces or
 * unbinds). Everything else is the region-wide collection's (ctl_plan_gc), which sees every
 * Ingress. (UCloud names cut to 50 characters can share their readable part between
 * Secrets: a neighbour's certificate in a listener's slice must not look like an orphan.) */
static enum cs_code plan_deletes(struct ctx *x, const char *why)
{
    if (x->d && x->d->incomplete)
        return CS_OK; /* an Ingress we could not read may still need them */
    for (size_t i = 0; i < x->n; i++) {
        const struct elb_cert *c = x->ci[i].c;
        if (!x->ci[i].ours || !c->id || (x->self && !held_by_self(x, c->id)) || bound(x, c) ||
            wanted(x, i))
            continue;
        struct ctl_action *a = act_push(x->plan, CTL_ACT_DELETE, why);
        if (!a || !dup_into(&a->cert_id, c->id) || !dup_into(&a->name, c->name))
            return CS_ENOMEM;
    }
    return CS_OK;
}

/* A problem for every Ingress on the listener (or the listener alone). */
static enum cs_code problem(struct ctx *x, enum ctl_problem_kind kind, const char *msg)
{
    const char *key = x->want ? x->want->key : x->key;
    char lkey[300];
    if (!key) {
        snprintf(lkey, sizeof(lkey), "%s/%s/listener:%s", x->region,
                 x->self && x->self->lb_id ? x->self->lb_id : "",
                 x->self && x->self->id ? x->self->id : "");
        key = lkey;
    }
    if (!x->want || x->want->n_ingresses == 0)
        return ctl_problems_add(&x->plan->problems, kind, NULL, NULL, key, "%s", msg);
    for (size_t i = 0; i < x->want->n_ingresses; i++) {
        const char *ing = x->want->ingresses[i];
        const char *slash = strchr(ing, '/');
        char ns[256];
        snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - ing) : 0, ing);
        if (ctl_problems_add(&x->plan->problems, kind, ns, slash ? slash + 1 : ing, key, "%s",
                             msg) != CS_OK)
            return CS_ENOMEM;
    }
    return CS_OK;
}

struct refs {
    struct ref *v;
    size_t n;
};

static bool refs_add(struct refs *r, const char *id, const char *name, bool ours)
{
    for (size_t i = 0; i < r->n; i++)
        if ((id && streq(r->v[i].id, id)) || (!id && !r->v[i].id && streq(r->v[i].name, name)))
            return true;
    struct ref *v = realloc(r->v, (r->n + 1) * sizeof(*v));
    if (!v)
        return false;
    r->v = v;
    v[r->n++] = (struct ref){.id = id, .name = name, .ours = ours};
    return true;
}

static bool set_ref(struct ctl_cert_ref *dst, const struct ref *src)
{
    return dup_into(&dst->id, src->id) && dup_into(&dst->name, src->name);
}

/* A SET_LISTENER/RESTORE action from refs (the first is the default). */
static enum cs_code push_set(struct ctx *x, enum ctl_action_kind kind, const char *why,
                             const struct refs *r)
{
    struct ctl_action *a = act_push(x->plan, kind, why);
    OOM(a);
    OOM(dup_into(&a->listener_id, x->self->id));
    OOM(set_ref(&a->default_cert, &r->v[0]));
    if (r->n > 1) {
        OOM(a->sni = calloc(r->n - 1, sizeof(*a->sni)));
        for (size_t i = 1; i < r->n; i++) {
            a->n_sni++;
            OOM(set_ref(&a->sni[i - 1], &r->v[i]));
        }
    }
    /* The listener's bindings after the call, for the deletes that follow. */
    x->self_changed = true;
    x->post_default = r->v[0].id;
    free(x->post_sni);
    OOM(x->post_sni = calloc(r->n ? r->n : 1, sizeof(*x->post_sni)));
    x->n_post_sni = 0;
    for (size_t i = 1; i < r->n; i++)
        if (r->v[i].id)
            x->post_sni[x->n_post_sni++] = r->v[i].id;
    return CS_OK;
oom:
    return CS_ENOMEM;
}

/* Whether the listener already holds exactly refs (default equal, SNI equal as sets). */
static bool listener_matches(const struct elb_listener *l, const struct refs *r)
{
    if (r->n == 0 || !r->v[0].id || !streq(l->default_cert_id, r->v[0].id))
        return false;
    size_t want_sni = r->n - 1;
    for (size_t i = 1; i < r->n; i++) {
        if (!r->v[i].id)
            return false;
        bool found = false;
        for (size_t j = 0; j < l->n_sni && !found; j++)
            found = streq(l->sni_cert_ids[j], r->v[i].id);
        if (!found)
            return false;
    }
    size_t distinct = 0;
    for (size_t j = 0; j < l->n_sni; j++) {
        bool seen = false;
        for (size_t k = 0; k < j && !seen; k++)
            seen = streq(l->sni_cert_ids[k], l->sni_cert_ids[j]);
        distinct += !seen;
    }
    return distinct == want_sni;
}

/* The replaced default this listener's records know: the runtime's record first, else the
 * r= field of one of our certificates' descriptions (smallest ID first). */
static const char *known_replaced(const struct ctx *x, const char *external)
{
    if (external && *external)
        return external;
    const char *best = NULL, *best_id = NULL;
    for (size_t i = 0; i < x->n; i++) {
        const struct cinfo *ci = &x->ci[i];
        if (ci->ours && ci->has_rec && streq(ci->rec.replaced_listener, x->self->id) &&
            (!best_id || strcmp(ci->c->id ? ci->c->id : "", best_id) < 0)) {
            best = ci->rec.replaced_cert;
            best_id = ci->c->id ? ci->c->id : "";
        }
    }
    return best;
}

/* The description for a certificate this plan creates. */
static enum cs_code create_description(const struct ctx *x, const struct ctl_cert_want *w,
                                       const char *replaced, char **out)
{
    *out = NULL;
    if (x->s->limits.description_max == 0)
        return CS_OK;
    struct ctl_record r;
    enum cs_code rc = ctl_record_init(&r, x->s->cluster_id,
                                      w->kind == CTL_WANT_MANAGED ? w->secret_ns : NULL,
                                      w->kind == CTL_WANT_MANAGED ? w->secret_name : NULL,
                                      w->fingerprint, NULL);
    if (rc != CS_OK)
        return rc;
    if (replaced && x->self->id && ctl_provider_id_valid(replaced) &&
        ctl_provider_id_valid(x->self->id)) {
        if (!(r.replaced_listener = strdup(x->self->id)) || !(r.replaced_cert = strdup(replaced))) {
            ctl_record_cleanup(&r);
            return CS_ENOMEM;
        }
    }
    rc = ctl_record_format(&r, x->s->limits.description_max, out, NULL);
    if (rc == CS_ETOOBIG && r.replaced_listener) {
        /* The runtime's record (RECORD_REPLACED) keeps it; the description cannot. */
        free(r.replaced_listener);
        free(r.replaced_cert);
        r.replaced_listener = r.replaced_cert = NULL;
        rc = ctl_record_format(&r, x->s->limits.description_max, out, NULL);
    }
    ctl_record_cleanup(&r);
    return rc;
}

/* The listener has Ingresses: bind what they want. */
static enum cs_code plan_want(struct ctx *x, const char *external_replaced)
{
    enum cs_code rc = CS_ENOMEM;
    const struct ctl_listener_want *want = x->want;
    const struct elb_listener *self = x->self;
    struct refs r = {0};
    /* CREATE entries, remembered so that the default's description can carry the record. */
    const struct ctl_cert_want **creates = calloc(want->n_certs ? want->n_certs : 1, sizeof(*creates));
    size_t n_creates = 0;
    bool rotation = false;
    char msg[600];
    OOM(creates);

    /* Bound certificates that no longer exist: drift (deleted). */
    const char *held[1 + 64];
    size_t n_held = 0;
    if (self->default_cert_id)
        held[n_held++] = self->default_cert_id;
    for (size_t i = 0; i < self->n_sni && n_held < sizeof(held) / sizeof(held[0]); i++)
        held[n_held++] = self->sni_cert_ids[i];
    for (size_t i = 0; i < n_held; i++)
        if (find_id(x, held[i]) < 0) {
            snprintf(msg, sizeof(msg),
                     "certificate %.128s bound to listener %.128s no longer exists on the load "
                     "balancer: it is replaced",
                     held[i], self->id ? self->id : "");
            OOM(problem(x, CTL_PROB_DRIFT, msg) == CS_OK);
        }

    for (size_t i = 0; i < want->n_certs; i++) {
        const struct ctl_cert_want *w = &want->certs[i];
        char d[300];
        ctl_cert_want_describe(w, d, sizeof(d));
        switch (w->kind) {
        case CTL_WANT_MANAGED: {
            ssize_t k = resolve_managed(x, w);
            if (k >= 0) {
                OOM(refs_add(&r, x->ci[k].c->id, x->ci[k].c->name, true));
                break;
            }
            /* Drift: modified (our name, other content) or renamed (our record, other name). */
            ssize_t renamed = -1;
            for (size_t j = 0; j < x->n; j++) {
                struct cinfo *ci = &x->ci[j];
                if (ci->ours && streq(ci->c->name, w->name)) {
                    snprintf(msg, sizeof(msg),
                             "managed certificate %.128s (%s) was modified on the load balancer: "
                             "a new one is created from the Secret and bound",
                             ci->c->id ? ci->c->id : "", d);
                    OOM(problem(x, CTL_PROB_DRIFT, msg) == CS_OK);
                } else if (!ci->ours && ci->has_rec && ci->c->id &&
                           streq(ci->rec.fingerprint, w->fingerprint) &&
                           ctl_record_is_secret(&ci->rec, w->secret_ns, w->secret_name) &&
                           x->s->limits.can_rename && content_ok_renamed(ci, w) &&
                           (renamed < 0 || strcmp(ci->c->id, x->ci[renamed].c->id) < 0)) {
                    renamed = (ssize_t)j;
                }
            }
            if (renamed >= 0) {
                const struct elb_cert *c = x->ci[renamed].c;
                snprintf(msg, sizeof(msg),
                         "managed certificate %.128s (%s) was renamed to \"%.128s\" on the load "
                         "balancer: its name is restored",
                         c->id, d, c->name ? c->name : "");
                OOM(problem(x, CTL_PROB_DRIFT, msg) == CS_OK);
                struct ctl_action *a = act_push(x->plan, CTL_ACT_RENAME, "drift: renamed");
                OOM(a && dup_into(&a->cert_id, c->id) && dup_into(&a->name, w->name));
                OOM(refs_add(&r, c->id, w->name, true));
                break;
            }
            /* A Secret already bound here under another name: this is a rotation. */
            for (size_t j = 0; j < n_held && !rotation; j++) {
                ssize_t k2 = find_id(x, held[j]);
                if (k2 >= 0 && x->ci[k2].ours &&
                    (x->ci[k2].has_rec ? ctl_record_is_secret(&x->ci[k2].rec, w->secret_ns, w->secret_name)
                                       : streq(x->ci[k2].np.readable, w->readable)))
                    rotation = true;
            }
            creates[n_creates++] = w;
            OOM(refs_add(&r, NULL, w->name, true));
            break;
        }
        case CTL_WANT_KEEP:
            /* An invalid Secret: keep whatever of ours is bound here for it. */
            for (size_t j = 0; j < n_held; j++) {
                ssize_t k = find_id(x, held[j]);
                if (k < 0 || !x->ci[k].ours)
                    continue;
                bool mine = x->ci[k].has_rec
                                ? ctl_record_is_secret(&x->ci[k].rec, w->secret_ns, w->secret_name)
                                : (w->readable && streq(x->ci[k].np.readable, w->readable));
                if (mine)
                    OOM(refs_add(&r, x->ci[k].c->id, x->ci[k].c->name, true));
            }
            break;
        case CTL_WANT_SELECTED: {
            ssize_t k = find_id(x, w->cert_id);
            if (k < 0) {
                snprintf(msg, sizeof(msg),
                         "certificate %.128s named in kubernetes.io/elb.tls-certificate-ids does "
                         "not exist in region %.64s",
                         w->cert_id, x->region);
                OOM(problem(x, CTL_PROB_CERT_NOT_FOUND, msg) == CS_OK);
                break;
            }
            OOM(refs_add(&r, x->ci[k].c->id, x->ci[k].c->name, x->ci[k].ours));
            break;
        }
        case CTL_WANT_IMPORTED: {
            ssize_t k = resolve_imported(x, w);
            if (k >= 0) {
                OOM(refs_add(&r, x->ci[k].c->id, x->ci[k].c->name, x->ci[k].ours));
                break;
            }
            creates[n_creates++] = w;
            OOM(refs_add(&r, NULL, w->name, true));
            break;
        }
        }
    }

    if (self->kind == ELB_LISTENER_SINGLE && r.n > 1) {
        snprintf(msg, sizeof(msg),
                 "listener %.128s holds a single certificate: only the default is bound, %zu "
                 "more are left out",
                 self->id ? self->id : "", r.n - 1);
        OOM(problem(x, CTL_PROB_SNI_OVERFLOW, msg) == CS_OK);
        r.n = 1;
    }

    /* The replaced-default record: when a first managed default replaces a certificate that
     * is not ours, or when a rotation must carry an existing record forward. */
    const char *cur = self->default_cert_id;
    ssize_t cur_k = find_id(x, cur);
    bool cur_ours = cur_k >= 0 && x->ci[cur_k].ours;
    bool default_changes = r.n > 0 && !(r.v[0].id && streq(r.v[0].id, cur));
    const char *prior = known_replaced(x, external_replaced);
    const char *record = NULL, *record_bound = NULL;
    bool record_new = false;
    if (default_changes && ((cur_k >= 0 && !cur_ours) || (prior && !r.v[0].ours))) {
        /* Binding over a certificate not ours (the listener's own the first time), or an
         * annotation-selected default: remember the original, and what the controller bound
         * when that is not ours. */
        record = prior ? prior : cur;
        record_new = true;
        record_bound = r.v[0].ours ? NULL : r.v[0].id;
    } else if (r.n > 0 && r.v[0].ours && prior) {
        record = prior; /* carried forward in the new default's description */
    }

    /* Drift: the controller bound this listener before (the runtime's record, written once
     * the binding succeeded, says so), and its default
     * is now a certificate neither ours nor the selected one the controller bound: someone
     * rebound it on the load balancer (and maybe deleted the managed certificate). */
    if (default_changes && external_replaced && *external_replaced && cur_k >= 0 && !cur_ours &&
        !streq(cur, x->rec_bound)) {
        bool recreate = !r.v[0].id && r.v[0].ours;
        snprintf(msg, sizeof(msg),
                 "the default certificate of listener %.128s was changed to %.128s on the load "
                 "balancer%s: %s",
                 self->id ? self->id : "", cur,
                 recreate ? " and the managed certificate it had no longer exists" : "",
                 recreate ? "a new one is created from the Secret and bound"
                          : "the Ingress's certificate is bound again");
        OOM(problem(x, CTL_PROB_DRIFT, msg) == CS_OK);
    }

    for (size_t i = 0; i < n_creates; i++) {
        const struct ctl_cert_want *w = creates[i];
        bool is_default = r.n > 0 && !r.v[0].id && streq(r.v[0].name, w->name);
        bool in_plan = false;
        for (size_t j = 0; j < r.n && !in_plan; j++)
            in_plan = !r.v[j].id && streq(r.v[j].name, w->name);
        if (!in_plan)
            continue; /* left out (single-certificate listener) */
        const char *why = w->kind == CTL_WANT_IMPORTED ? "import"
                          : rotation                   ? "rotation"
                                                       : "new certificate";
        struct ctl_action *a = act_push(x->plan, CTL_ACT_CREATE, why);
        OOM(a);
        OOM(dup_into(&a->name, w->name) && dup_into(&a->fingerprint, w->fingerprint));
        if (w->kind == CTL_WANT_MANAGED)
            OOM(dup_into(&a->secret_ns, w->secret_ns) && dup_into(&a->secret_name, w->secret_name));
        else
            OOM(dup_into(&a->imported_id, w->imported_id));
        rc = create_description(x, w, is_default ? record : NULL, &a->description);
        if (rc != CS_OK)
            goto out;
        rc = CS_ENOMEM;
    }

    if (r.n > 0 && !listener_matches(self, &r)) {
        if (record_new) {
            struct ctl_action *a = act_push(x->plan, CTL_ACT_RECORD_REPLACED,
                                            record_bound ? "selected default" : "first default");
            OOM(a && dup_into(&a->listener_id, self->id) && dup_into(&a->cert_id, record));
            if (record_bound)
                OOM(dup_into(&a->default_cert.id, record_bound));
        }
        OOM(push_set(x, CTL_ACT_SET_LISTENER, rotation ? "rotation" : "bind", &r) == CS_OK);
    }
    rc = plan_deletes(x, "garbage collection");
    goto out;
oom:
    rc = CS_ENOMEM;
out:
    free(creates);
    free(r.v);
    return rc;
}

/* No Ingress needs the listener: unbind our certificates, restore the replaced default. */
static enum cs_code plan_release(struct ctx *x, const char *external_replaced)
{
    enum cs_code rc = CS_ENOMEM;
    const struct elb_listener *self = x->self;
    struct refs r = {0};
    char msg[600];
    if (x->d && x->d->incomplete)
        return CS_OK;
    ssize_t cur_k = find_id(x, self->default_cert_id);
    bool cur_ours = cur_k >= 0 && x->ci[cur_k].ours;
    bool sni_ours = false;
    for (size_t i = 0; i < self->n_sni; i++) {
        ssize_t k = find_id(x, self->sni_cert_ids[i]);
        sni_ours |= k >= 0 && x->ci[k].ours;
    }
    /* The default is the controller's to give back when it is ours, or the annotation-
     * selected certificate the runtime's record says the controller bound (and nobody
     * rebound since). */
    bool cur_selected = !cur_ours && x->rec_bound && streq(self->default_cert_id, x->rec_bound);
    bool cur_mine = cur_ours || cur_selected;
    const char *replaced = cur_mine ? known_replaced(x, external_replaced) : NULL;
    ssize_t rep_k = find_id(x, replaced);
    bool restore = cur_mine && rep_k >= 0 && !streq(replaced, self->default_cert_id);
    if (restore) {
        OOM(refs_add(&r, x->ci[rep_k].c->id, x->ci[rep_k].c->name, x->ci[rep_k].ours));
    } else if (self->default_cert_id) {
        if (cur_mine && !streq(replaced, self->default_cert_id)) {
            snprintf(msg, sizeof(msg),
                     "no Ingress needs listener %.128s any more, but %s: the %scertificate "
                     "%.128s stays its default until the listener is rebound or deleted",
                     self->id ? self->id : "",
                     replaced ? "the certificate it replaced no longer exists"
                              : "no replaced certificate was recorded",
                     cur_ours ? "managed " : "", self->default_cert_id);
            OOM(problem(x, CTL_PROB_NO_RESTORE, msg) == CS_OK);
        }
        OOM(refs_add(&r, self->default_cert_id, NULL, cur_ours));
    }
    for (size_t i = 0; i < self->n_sni; i++) {
        ssize_t k = find_id(x, self->sni_cert_ids[i]);
        if (k >= 0 && x->ci[k].ours)
            continue;
        OOM(refs_add(&r, self->sni_cert_ids[i], NULL, false));
    }
    if (restore) {
        OOM(push_set(x, CTL_ACT_RESTORE, "restore", &r) == CS_OK);
        struct ctl_action *a = act_push(x->plan, CTL_ACT_FORGET_REPLACED, "restored");
        OOM(a && dup_into(&a->listener_id, self->id));
    } else {
        if (sni_ours && r.n > 0)
            OOM(push_set(x, CTL_ACT_SET_LISTENER, "unbind", &r) == CS_OK);
        if (!cur_ours && external_replaced && *external_replaced) {
            struct ctl_action *a = act_push(x->plan, CTL_ACT_FORGET_REPLACED, "restored");
            OOM(a && dup_into(&a->listener_id, self->id));
        }
    }
    rc = plan_deletes(x, "garbage collection");
    goto out;
oom:
    rc = CS_ENOMEM;
out:
    free(r.v);
    return rc;
}

enum cs_code ctl_plan_listener(const struct ctl_plan_input *in, struct ctl_plan **out,
                               struct cs_err *err)
{
    enum cs_code rc = CS_ENOMEM;
    struct ctx x = {0};
    if (!in || !in->settings || !in->listener || !in->region) {
        return cs_err_set(err, CS_EINVAL, 0, "plan needs settings, a region and the listener");
    }
    x.s = in->settings;
    x.d = in->desired;
    x.region = in->region;
    x.listeners = in->listeners;
    x.self = in->listener;
    x.want = ctl_desired_find(in->desired, in->listener_key);
    x.key = in->listener_key;
    /* The runtime's record: "<replaced>" or "<replaced> <bound selected default>". */
    char rec[2 * CTL_ID_MAX + 2];
    const char *replaced_default = in->replaced_default;
    if (replaced_default && strlen(replaced_default) < sizeof(rec)) {
        memcpy(rec, replaced_default, strlen(replaced_default) + 1);
        char *sp = strchr(rec, ' ');
        if (sp) {
            *sp = '\0';
            x.rec_bound = sp + 1;
        }
        replaced_default = rec;
    } else {
        replaced_default = NULL;
    }
    x.n = in->certs ? in->certs->n : 0;
    if (!(x.plan = calloc(1, sizeof(*x.plan))) || !(x.ci = cinfo_build(x.s, in->certs)))
        goto out;
    rc = x.want ? plan_want(&x, replaced_default) : plan_release(&x, replaced_default);
    if (rc != CS_OK)
        goto out;
    ctl_problems_sort(&x.plan->problems);
    *out = x.plan;
    x.plan = NULL;
out:
    if (rc != CS_OK)
        cs_err_set(err, rc, 0, "cannot compute the plan");
    cinfo_cleanup(x.ci, x.n);
    free(x.post_sni);
    ctl_plan_free(x.plan);
    return rc;
}

enum cs_code ctl_plan_gc(const struct ctl_settings *s, const struct ctl_desired *desired,
                         const char *region, const struct elb_cert_list *certs,
                         const struct elb_listener_list *listeners, struct ctl_plan **out,
                         struct cs_err *err)
{
    enum cs_code rc = CS_ENOMEM;
    struct ctx x = {.s = s, .d = desired, .region = region, .listeners = listeners};
    x.n = certs ? certs->n : 0;
    if (!(x.plan = calloc(1, sizeof(*x.plan))) || !(x.ci = cinfo_build(s, certs)))
        goto out;
    rc = plan_deletes(&x, "garbage collection");
    if (rc != CS_OK)
        goto out;
    *out = x.plan;
    x.plan = NULL;
out:
    if (rc != CS_OK)
        cs_err_set(err, rc, 0, "cannot compute the plan");
    cinfo_cleanup(x.ci, x.n);
    ctl_plan_free(x.plan);
    return rc;
}
