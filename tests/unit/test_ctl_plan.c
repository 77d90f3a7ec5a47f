/* test_ctl_plan.c -- the plan (controller/plan.c), executed against an in-memory load
 * balancer: first bind, rotation order (create -> bind -> delete), key-only rotation, invalid
 * Secret keeps the binding, steady state empty, a crash after every step converges without
 * duplicates, foreign / user / bound certificates never deleted, restore of the replaced
 * default and the no-restore case, drift (deleted, renamed, modified), annotation-selected and
 * imported certificates, single-certificate listeners, UCloud (no descriptions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "controller/certcheck.h"
#include "controller/naming.h"
#include "controller/plan.h"
#include "tests/unit/test_ctl_support.h"

#define REGION "cn-north-4"
#define LKEY REGION "/lb-1/port:443"

/* ---- an in-memory load balancer ---- */

struct lb {
    struct elb_cert c[32];
    size_t n;
    struct elb_listener l[3];
    size_t nl;
    int next;
    bool descriptions;
    char *record; /* the runtime's replaced-default record for listener ls-1 */
    int refused_deletes;
};

static char *sdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void cert_free(struct elb_cert *c)
{
    free(c->id);
    free(c->name);
    free(c->description);
    free(c->certificate);
    free(c->imported_id);
    memset(c, 0, sizeof(*c));
}

static void listener_free(struct elb_listener *l)
{
    free(l->id);
    free(l->lb_id);
    free(l->default_cert_id);
    for (size_t i = 0; i < l->n_sni; i++)
        free(l->sni_cert_ids[i]);
    free(l->sni_cert_ids);
    memset(l, 0, sizeof(*l));
}

static void lb_free(struct lb *b)
{
    for (size_t i = 0; i < b->n; i++)
        cert_free(&b->c[i]);
    for (size_t i = 0; i < b->nl; i++)
        listener_free(&b->l[i]);
    free(b->record);
    memset(b, 0, sizeof(*b));
}

static const char *lb_add_cert(struct lb *b, const char *id, const char *name, const char *desc,
                               const char *pem)
{
    struct elb_cert *c = &b->c[b->n++];
    memset(c, 0, sizeof(*c));
    c->id = strdup(id);
    c->name = sdup(name);
    c->description = b->descriptions ? sdup(desc) : NULL;
    c->certificate = sdup(pem);
    return c->id;
}

static void lb_set(struct elb_listener *l, const char *def, const char *const *sni)
{
    free(l->default_cert_id);
    for (size_t i = 0; i < l->n_sni; i++)
        free(l->sni_cert_ids[i]);
    free(l->sni_cert_ids);
    l->default_cert_id = sdup(def);
    l->n_sni = 0;
    l->sni_cert_ids = calloc(8, sizeof(char *));
    for (size_t i = 0; sni && sni[i]; i++)
        l->sni_cert_ids[l->n_sni++] = strdup(sni[i]);
}

static struct elb_listener *lb_add_listener(struct lb *b, const char *id, const char *def,
                                            const char *const *sni)
{
    struct elb_listener *l = &b->l[b->nl++];
    memset(l, 0, sizeof(*l));
    l->id = strdup(id);
    l->lb_id = strdup("lb-1");
    l->port = 443;
    lb_set(l, def, sni);
    return l;
}

static void lb_copy(const struct lb *src, struct lb *dst)
{
    memset(dst, 0, sizeof(*dst));
    dst->descriptions = src->descriptions;
    dst->next = src->next;
    dst->record = sdup(src->record);
    for (size_t i = 0; i < src->n; i++) {
        const struct elb_cert *c = &src->c[i];
        struct elb_cert *d = &dst->c[dst->n++];
        memset(d, 0, sizeof(*d));
        d->id = sdup(c->id);
        d->name = sdup(c->name);
        d->description = sdup(c->description);
        d->certificate = sdup(c->certificate);
        d->imported_id = sdup(c->imported_id);
        d->source = c->source;
    }
    for (size_t i = 0; i < src->nl; i++) {
        const struct elb_listener *l = &src->l[i];
        struct elb_listener *m = lb_add_listener(dst, l->id, l->default_cert_id, NULL);
        m->kind = l->kind;
        for (size_t j = 0; j < l->n_sni; j++)
            m->sni_cert_ids[m->n_sni++] = strdup(l->sni_cert_ids[j]);
    }
}

static struct elb_cert *lb_cert(struct lb *b, const char *id)
{
    for (size_t i = 0; i < b->n; i++)
        if (id && strcmp(b->c[i].id, id) == 0)
            return &b->c[i];
    return NULL;
}

static bool lb_bound(const struct lb *b, const char *id)
{
    for (size_t i = 0; i < b->nl; i++) {
        if (b->l[i].default_cert_id && strcmp(b->l[i].default_cert_id, id) == 0)
            return true;
        for (size_t j = 0; j < b->l[i].n_sni; j++)
            if (strcmp(b->l[i].sni_cert_ids[j], id) == 0)
                return true;
    }
    return false;
}

/* Content the "provider" stores for each Secret name: the PEM it reads back (or NULL). */
static const char *g_pem_for_create;

struct names {
    char name[8][256];
    char id[8][32];
    size_t n;
};

static const char *resolve(struct names *nm, const struct ctl_cert_ref *r)
{
    if (r->id)
        return r->id;
    for (size_t i = 0; i < nm->n; i++)
        if (strcmp(nm->name[i], r->name) == 0)
            return nm->id[i];
    fail_msg("reference to %s not created before", r->name);
    return NULL;
}

/* Executes the first k actions of p, as the runtime would. */
static void lb_apply(struct lb *b, const struct ctl_plan *p, size_t k)
{
    struct names nm = {0};
    for (size_t i = 0; i < k && i < p->n; i++) {
        const struct ctl_action *a = &p->actions[i];
        switch (a->kind) {
        case CTL_ACT_CREATE: {
            char id[32];
            snprintf(id, sizeof(id), "cert-%d", ++b->next);
            lb_add_cert(b, id, a->name, a->description, g_pem_for_create);
            if (a->imported_id) {
                b->c[b->n - 1].source = ELB_CERT_SOURCE_IMPORTED;
                b->c[b->n - 1].imported_id = strdup(a->imported_id);
            }
            snprintf(nm.name[nm.n], sizeof(nm.name[0]), "%s", a->name);
            snprintf(nm.id[nm.n++], sizeof(nm.id[0]), "%s", id);
            break;
        }
        case CTL_ACT_RENAME: {
            struct elb_cert *c = lb_cert(b, a->cert_id);
            assert_non_null(c);
            free(c->name);
            c->name = strdup(a->name);
            break;
        }
        case CTL_ACT_SET_LISTENER:
        case CTL_ACT_RESTORE: {
            struct elb_listener *l = NULL;
            for (size_t j = 0; j < b->nl; j++)
                if (strcmp(b->l[j].id, a->listener_id) == 0)
                    l = &b->l[j];
            assert_non_null(l);
            const char *sni[8] = {0};
            for (size_t j = 0; j < a->n_sni; j++)
                sni[j] = resolve(&nm, &a->sni[j]);
            const char *def = resolve(&nm, &a->default_cert);
            assert_non_null(lb_cert(b, def)); /* never bind what does not exist */
            lb_set(l, def, sni);
            break;
        }
        case CTL_ACT_DELETE: {
            struct elb_cert *c = lb_cert(b, a->cert_id);
            if (!c)
                break;
            if (lb_bound(b, a->cert_id)) { /* the provider refuses: in use */
                b->refused_deletes++;
                break;
            }
            cert_free(c);
            *c = b->c[--b->n];
            memset(&b->c[b->n], 0, sizeof(b->c[0]));
            break;
        }
        case CTL_ACT_RECORD_REPLACED: { /* as the runtime keeps it */
            char v[300];
            snprintf(v, sizeof(v), "%s%s%s", a->cert_id, a->default_cert.id ? " " : "",
                     a->default_cert.id ? a->default_cert.id : "");
            free(b->record);
            b->record = strdup(v);
            break;
        }
        case CTL_ACT_FORGET_REPLACED:
            free(b->record);
            b->record = NULL;
            break;
        }
    }
}

/* ---- the controller's side ---- */

struct world {
    struct ctl_settings s;
    struct ctl_secret sec[4];
    size_t n_sec;
    struct ctl_ingress ing[2];
    size_t n_ing;
    struct ctl_desired *d;
};

static const struct ctl_secret *lookup(void *ud, const char *ns, const char *name)
{
    struct world *w = ud;
    for (size_t i = 0; i < w->n_sec; i++)
        if (strcmp(w->sec[i].ns, ns) == 0 && strcmp(w->sec[i].name, name) == 0)
            return &w->sec[i];
    return NULL;
}

static void world_init(struct world *w, bool ucloud)
{
    memset(w, 0, sizeof(*w));
    w->s = (struct ctl_settings){.cluster_id = "prod", .ingress_class = "cce",
                                 .default_region = REGION, .default_port = 443,
                                 .provider = ucloud ? CTL_PROVIDER_UCLOUD : CTL_PROVIDER_HUAWEI,
                                 .limits = ucloud ? tc_limits_ucloud() : tc_limits_huawei(),
                                 .now_ms = TC_NOW_MS, .expiry_warn_days = 0};
}

static struct ctl_secret *world_secret(struct world *w, const char *name, const char *seed)
{
    struct ctl_secret *s = &w->sec[w->n_sec++];
    tc_secret(s, "shop", name, seed, TC_NOW_MS + 90 * TC_DAY_MS);
    return s;
}

static void world_ingress(struct world *w, const char *const *ann, const char *const *tls)
{
    size_t i = w->n_ing++;
    tc_ingress(&w->ing[i], "shop", i ? "web2" : "web", 10 + (int64_t)i, "cce", ann, tls);
}

static void world_desire(struct world *w)
{
    ctl_desired_free(w->d);
    w->d = NULL;
    assert_int_equal(ctl_desired_compute(&w->s, w->ing, w->n_ing, lookup, w, &w->d, NULL), CS_OK);
}

static void world_free(struct world *w)
{
    for (size_t i = 0; i < w->n_sec; i++)
        ctl_secret_cleanup(&w->sec[i]);
    for (size_t i = 0; i < w->n_ing; i++)
        ctl_ingress_cleanup(&w->ing[i]);
    ctl_desired_free(w->d);
}

static struct ctl_plan *plan(struct world *w, struct lb *b)
{
    struct elb_cert_list cl = {.items = b->c, .n = b->n};
    struct elb_listener_list ll = {.items = b->l, .n = b->nl};
    struct ctl_plan_input in = {.settings = &w->s, .desired = w->d, .region = REGION,
                                .listener_key = LKEY, .listener = &b->l[0], .certs = &cl,
                                .listeners = &ll, .replaced_default = b->record};
    struct ctl_plan *p = NULL;
    assert_int_equal(ctl_plan_listener(&in, &p, NULL), CS_OK);
    return p;
}

/* The region-wide collection, as the runtime's resync runs it (the full desired state). */
static struct ctl_plan *gc_plan(struct world *w, struct lb *b)
{
    struct elb_cert_list cl = {.items = b->c, .n = b->n};
    struct elb_listener_list ll = {.items = b->l, .n = b->nl};
    struct ctl_plan *p = NULL;
    assert_int_equal(ctl_plan_gc(&w->s, w->d, REGION, &cl, &ll, &p, NULL), CS_OK);
    return p;
}

/* Plans and executes until the listener's plan and then the region's collection are empty;
 * returns the number of rounds. */
static int converge(struct world *w, struct lb *b)
{
    for (int round = 0; round < 6; round++) {
        struct ctl_plan *p = plan(w, b);
        size_t n = p->n;
        lb_apply(b, p, n);
        ctl_plan_free(p);
        if (n > 0)
            continue;
        p = gc_plan(w, b);
        n = p->n;
        lb_apply(b, p, n);
        ctl_plan_free(p);
        if (n == 0)
            return round;
    }
    fail_msg("plan does not converge");
    return -1;
}

static const char *managed_name(struct world *w, const char *secret)
{
    static char buf[4][256];
    static int k;
    const struct ctl_secret *s = lookup(w, "shop", secret);
    char *n = NULL;
    assert_int_equal(ctl_name_managed("prod", "shop", secret, s->fingerprint, &w->s.limits, &n, NULL),
                     CS_OK);
    char *out = buf[k++ % 4];
    snprintf(out, 256, "%s", n);
    free(n);
    return out;
}

static const char *name_of(struct lb *b, const char *id)
{
    struct elb_cert *c = lb_cert(b, id);
    return c ? c->name : "(missing)";
}

static size_t count_name(const struct lb *b, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += b->c[i].name && strcmp(b->c[i].name, name) == 0;
    return n;
}

static size_t count_problem(const struct ctl_plan *p, enum ctl_problem_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < p->problems.n; i++)
        n += p->problems.items[i].kind == k;
    return n;
}

#define A(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ANN_LB A("kubernetes.io/elb.id=lb-1")

/* A managed certificate as the plan would have created it. */
static const char *add_managed(struct world *w, struct lb *b, const char *id, const char *secret,
                               const char *seed, const char *replaced)
{
    struct ctl_secret tmp;
    tc_secret(&tmp, "shop", secret, seed, TC_NOW_MS + TC_DAY_MS);
    char *name = NULL, *desc = NULL;
    assert_int_equal(ctl_name_managed("prod", "shop", secret, tmp.fingerprint, &w->s.limits, &name,
                                      NULL),
                     CS_OK);
    struct ctl_record r;
    assert_int_equal(ctl_record_init(&r, "prod", "shop", secret, tmp.fingerprint, NULL), CS_OK);
    if (replaced) {
        r.replaced_listener = strdup("ls-1");
        r.replaced_cert = strdup(replaced);
    }
    assert_int_equal(ctl_record_format(&r, 255, &desc, NULL), CS_OK);
    lb_add_cert(b, id, name, desc, NULL);
    ctl_record_cleanup(&r);
    ctl_secret_cleanup(&tmp);
    free(name);
    free(desc);
    return id;
}

/* ---- tests ---- */

static void test_first_bind(void **state)
{
    struct world w;
    world_init(&w, false);
    world_secret(&w, "web", "v1");
    world_ingress(&w, ANN_LB, A("web"));
    world_desire(&w);
    struct lb b = {.descriptions = true};
    lb_add_cert(&b, "user-1", "my-cert", "", NULL);
    lb_add_listener(&b, "ls-1", "user-1", NULL);

    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(p->n, 3);
    assert_int_equal(p->actions[0].kind, CTL_ACT_CREATE);
    assert_string_equal(p->actions[0].name, managed_name(&w, "web"));
    assert_string_equal(p->actions[0].secret_ns, "shop");
    assert_string_equal(p->actions[0].secret_name, "web");
    assert_string_equal(p->actions[0].fingerprint, w.sec[0].fingerprint);
    assert_string_equal(p->actions[0].why, "new certificate");
    /* The record says who we are and which certificate the listener had. */
    struct ctl_record r;
    assert_int_equal(ctl_record_parse(p->actions[0].description, &r, NULL), CS_OK);
    assert_string_equal(r.cluster, "prod");
    assert_string_equal(r.replaced_listener, "ls-1");
    assert_string_equal(r.replaced_cert, "user-1");
    ctl_record_cleanup(&r);
    assert_int_equal(p->actions[1].kind, CTL_ACT_RECORD_REPLACED);
    assert_string_equal(p->actions[1].cert_id, "user-1");
    assert_int_equal(p->actions[2].kind, CTL_ACT_SET_LISTENER);
    assert_null(p->actions[2].default_cert.id);
    assert_string_equal(p->actions[2].default_cert.name, managed_name(&w, "web"));
    assert_int_equal(p->actions[2].n_sni, 0);
    assert_int_equal(p->problems.n, 0);
    lb_apply(&b, p, p->n);
    ctl_plan_free(p);
    assert_string_equal(name_of(&b, b.l[0].default_cert_id), managed_name(&w, "web"));
    assert_non_null(lb_cert(&b, "user-1")); /* the user's certificate is kept */
    /* Steady state: no action. */
    p = plan(&w, &b);
    assert_int_equal(p->n, 0);
    assert_int_equal(p->problems.n, 0);
    ctl_plan_free(p);
    lb_free(&b);
    world_free(&w);
}

/* Rotation: create, then bind, then delete; the record of the replaced default is carried to
 * the new certificate. */
static void test_rotation_order(void **state)
{
    struct world w;
    world_init(&w, false);
    world_secret(&w, "web", "v2");
    world_ingress(&w, ANN_LB, A("web"));
    world_desire(&w);
    struct lb b = {.descriptions = true};
    lb_add_cert(&b, "user-1", "my-cert", NULL, NULL);
    add_managed(&w, &b, "old", "web", "v1", "user-1");
    lb_add_listener(&b, "ls-1", "old", NULL);
    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(p->n, 3);
    assert_int_equal(p->actions[0].kind, CTL_ACT_CREATE);
    assert_string_equal(p->actions[0].why, "rotation");
    assert_non_null(strstr(p->actions[0].description, ";r=ls-1,user-1"));
    assert_int_equal(p->actions[1].kind, CTL_ACT_SET_LISTENER);
    assert_int_equal(p->actions[2].kind, CTL_ACT_DELETE);
    assert_string_equal(p->actions[2].cert_id, "old");
    lb_apply(&b, p, p->n);
    ctl_plan_free(p);
    assert_int_equal(b.refused_deletes, 0);
    assert_null(lb_cert(&b, "old"));
    assert_int_equal(converge(&w, &b), 0);
    lb_free(&b);
    world_free(&w);
}

/* A key-only change (same chain digest, other key): the fingerprint covers the key, so the
 * certificate rotates. */
static void test_key_only_rotation(void **state)
{
    struct world w;
    world_init(&w, false);
    struct ctl_secret *s = world_secret(&w, "web", "key-2");
    struct ctl_secret old;
    tc_secret(&old, "shop", "web", "key-1", TC_NOW_MS + TC_DAY_MS);
    strcpy(s->chain_digest, old.chain_digest); /* same chain */
    ctl_secret_cleanup(&old);
    world_ingress(&w, ANN_LB, A("web"));
    world_desire(&w);
    struct lb b = {.descriptions = true};
    add_managed(&w, &b, "old", "web", "key-1", NULL);
    lb_add_listener(&b, "ls-1", "old", NULL);
    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(p->n, 3);
    assert_int_equal(p->actions[0].kind, CTL_ACT_CREATE);
    assert_int_equal(p->actions[2].kind, CTL_ACT_DELETE);
    ctl_plan_free(p);
    lb_free(&b);
    world_free(&w);
}

/* An invalid Secret keeps the certificate bound for it; nothing is deleted. */
static void test_invalid_secret_keeps_binding(void **state)
{
    for (int ucloud = 0; ucloud < 2; ucloud++) {
        struct world w;
        world_init(&w, ucloud);
        struct ctl_secret *s = world_secret(&w, "web", "v2");
        s->status = CTL_CERT_EXPIRED;
        s->reason = strdup("the certificate in tls.crt expired on 2026-01-01T00:00:00Z");
        world_secret(&w, "api", "a1");
        world_ingress(&w, ANN_LB, A("web", "api"));
        world_desire(&w);
        struct lb b = {.descriptions = !ucloud};
        add_managed(&w, &b, "old", "web", "v1", NULL);
        lb_add_listener(&b, "ls-1", "old", NULL);
        struct ctl_plan *p = plan(&w, &b);
        /* api is added as SNI; web's certificate stays the default. */
        assert_int_equal(p->n, 2);
        assert_int_equal(p->actions[0].kind, CTL_ACT_CREATE);
        assert_int_equal(p->actions[1].kind, CTL_ACT_SET_LISTENER);
        assert_string_equal(p->actions[1].default_cert.id, "old");
        assert_int_equal(p->actions[1].n_sni, 1);
        lb_apply(&b, p, p->n);
        ctl_plan_free(p);
        assert_int_equal(converge(&w, &b), 0);
        assert_string_equal(b.l[0].default_cert_id, "old");
        lb_free(&b);
        world_free(&w);
    }
}

/* The end state of a scenario, as names: listener default, SNI names sorted, certificates. */
static void snapshot(struct lb *b, char *out, size_t len)
{
    const char *names[40];
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        names[n++] = b->c[i].name ? b->c[i].name : "";
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                const char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    snprintf(out, len, "default=%s sni=%zu record=%s certs=", name_of(b, b->l[0].default_cert_id),
             b->l[0].n_sni, b->record ? b->record : "-");
    for (size_t i = 0; i < n; i++) {
        strncat(out, names[i], len - strlen(out) - 1);
        strncat(out, ",", len - strlen(out) - 1);
    }
}

typedef void (*scenario_fn)(struct world *w, struct lb *b);

static void sc_first_bind(struct world *w, struct lb *b)
{
    world_secret(w, "web", "v1");
    world_secret(w, "api", "a1");
    world_ingress(w, ANN_LB, A("web", "api"));
    lb_add_cert(b, "user-1", "my-cert", NULL, NULL);
    lb_add_listener(b, "ls-1", "user-1", NULL);
}

static void sc_rotation(struct world *w, struct lb *b)
{
    world_secret(w, "web", "v2");
    world_secret(w, "api", "a2");
    world_ingress(w, ANN_LB, A("web", "api"));
    lb_add_cert(b, "user-1", "my-cert", NULL, NULL);
    add_managed(w, b, "old-web", "web", "v1", "user-1");
    add_managed(w, b, "old-api", "api", "a1", NULL);
    lb_add_listener(b, "ls-1", "old-web", A("old-api"));
}

static void sc_restore(struct world *w, struct lb *b)
{
    lb_add_cert(b, "user-1", "my-cert", NULL, NULL);
    add_managed(w, b, "old-web", "web", "v1", "user-1");
    add_managed(w, b, "old-api", "api", "a1", NULL);
    lb_add_listener(b, "ls-1", "old-web", A("old-api", "user-1"));
}

/* A crash after any step: planning again from the state it left converges to the same end
 * state as an uninterrupted run, with no duplicate certificate and no refused delete. */
static void crash_everywhere(scenario_fn sc, bool ucloud)
{
    struct world w;
    struct lb base = {.descriptions = !ucloud}, ref;
    world_init(&w, ucloud);
    sc(&w, &base);
    if (ucloud && !base.record && lb_cert(&base, "user-1") && base.n > 1)
        base.record = strdup("user-1"); /* UCloud: the record lives with the runtime */
    world_desire(&w);
    lb_copy(&base, &ref);
    converge(&w, &ref);
    char want[2048];
    snapshot(&ref, want, sizeof(want));
    struct ctl_plan *full = plan(&w, &base);
    assert_true(full->n > 0);
    for (size_t k = 0; k <= full->n; k++) {
        struct lb b;
        lb_copy(&base, &b);
        lb_apply(&b, full, k);
        converge(&w, &b);
        char got[2048];
        snapshot(&b, got, sizeof(got));
        if (strcmp(got, want) != 0)
            fail_msg("crash after step %zu: %s\n want %s", k, got, want);
        for (size_t i = 0; i < b.n; i++)
            assert_int_equal(count_name(&b, b.c[i].name), 1);
        assert_int_equal(b.refused_deletes, 0);
        lb_free(&b);
    }
    ctl_plan_free(full);
    lb_free(&ref);
    lb_free(&base);
    world_free(&w);
}

static void test_crash_after_each_step(void **state)
{
    for (int ucloud = 0; ucloud < 2; ucloud++) {
        crash_everywhere(sc_first_bind, ucloud);
        crash_everywhere(sc_rotation, ucloud);
        crash_everywhere(sc_restore, ucloud);
    }
}

/* Certificates of another cluster, user certificates with our prefix, unrelated ones and
 * certificates bound elsewhere are never deleted; our orphans are. */
static void test_never_touched(void **state)
{
    struct world w;
    world_init(&w, false);
    world_secret(&w, "web", "v1");
    world_ingress(&w, ANN_LB, A("web"));
    world_desire(&w);
    struct lb b = {.descriptions = true};
    const char *fp = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char desc[256];
    snprintf(desc, sizeof(desc), "elb-certsync/v1;c=other;s=shop/web;f=%s", fp);
    lb_add_cert(&b, "foreign", "k8s_plb_default_other_shop.web_0123456789ab", desc, NULL);
    lb_add_cert(&b, "cce-user", "k8s_plb_default_shop.web_0123456789ab", NULL, NULL);
    lb_add_cert(&b, "user-prefix", "k8s_plb_default_prod_mine_0123456789ab", "mine", NULL);
    lb_add_cert(&b, "user", "my-cert", NULL, NULL);
    add_managed(&w, &b, "orphan", "gone", "g1", NULL);
    add_managed(&w, &b, "bound-elsewhere", "gone2", "g2", NULL);
    lb_add_listener(&b, "ls-1", "user", NULL);
    lb_add_listener(&b, "ls-2", "bound-elsewhere", NULL);
    converge(&w, &b);
    assert_non_null(lb_cert(&b, "foreign"));
    assert_non_null(lb_cert(&b, "cce-user"));
    assert_non_null(lb_cert(&b, "user-prefix"));
    assert_non_null(lb_cert(&b, "user"));
    assert_non_null(lb_cert(&b, "bound-elsewhere"));
    assert_null(lb_cert(&b, "orphan"));
    assert_int_equal(b.refused_deletes, 0);
    /* Region-wide garbage collection alone agrees. */
    add_managed(&w, &b, "orphan-2", "gone3", "g3", NULL);
    struct elb_cert_list cl = {.items = b.c, .n = b.n};
    struct elb_listener_list ll = {.items = b.l, .n = b.nl};
    struct ctl_plan *p = NULL;
    assert_int_equal(ctl_plan_gc(&w.s, w.d, REGION, &cl, &ll, &p, NULL), CS_OK);
    assert_int_equal(p->n, 1);
    assert_int_equal(p->actions[0].kind, CTL_ACT_DELETE);
    assert_string_equal(p->actions[0].cert_id, "orphan-2");
    ctl_plan_free(p);
    /* A provider that reports bindings: bound there means not deleted. */
    struct elb_binding bd = {.lb_id = "lb-9", .listener_id = "ls-9", .is_default = true};
    struct elb_cert *o2 = lb_cert(&b, "orphan-2");
    o2->bindings = &bd;
    o2->n_bindings = 1;
    o2->bindings_known = true;
    cl.items = b.c;
    assert_int_equal(ctl_plan_gc(&w.s, w.d, REGION, &cl, &ll, &p, NULL), CS_OK);
    assert_int_equal(p->n, 0);
    ctl_plan_free(p);
    o2->bindings = NULL;
    o2->n_bindings = 0;
    lb_free(&b);
    world_free(&w);
}

/* No Ingress needs the listener: the replaced default comes back, ours are collected. */
static void test_restore(void **state)
{
    struct world w;
    world_init(&w, false);
    world_desire(&w);
    struct lb b = {.descriptions = true};
    sc_restore(&w, &b);
    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(p->n, 4);
    assert_int_equal(p->actions[0].kind, CTL_ACT_RESTORE);
    assert_string_equal(p->actions[0].default_cert.id, "user-1");
    assert_int_equal(p->actions[0].n_sni, 0); /* user-1 is the default now, ours are gone */
    assert_int_equal(p->actions[1].kind, CTL_ACT_FORGET_REPLACED);
    assert_int_equal(p->actions[2].kind, CTL_ACT_DELETE);
    assert_int_equal(p->actions[3].kind, CTL_ACT_DELETE);
    lb_apply(&b, p, p->n);
    ctl_plan_free(p);
    assert_string_equal(b.l[0].default_cert_id, "user-1");
    assert_int_equal(b.n, 1);
    assert_int_equal(converge(&w, &b), 0);
    lb_free(&b);
    world_free(&w);
}

/* Nothing to restore: the managed default stays (an HTTPS listener needs one), with a
 * problem; the SNI certificates of ours are unbound and collected. */
static void test_no_restore(void **state)
{
    struct world w;
    world_init(&w, false);
    world_desire(&w);
    struct lb b = {.descriptions = true};
    add_managed(&w, &b, "old-web", "web", "v1", "user-gone");
    add_managed(&w, &b, "old-api", "api", "a1", NULL);
    lb_add_listener(&b, "ls-1", "old-web", A("old-api"));
    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(count_problem(p, CTL_PROB_NO_RESTORE), 1);
    assert_non_null(strstr(p->problems.items[0].message, "no longer exists"));
    /* keyed by the listener key planned, so that the runtime reports it (to the Ingress
     * that last used the listener) */
    assert_string_equal(p->problems.items[0].listener, LKEY);
    assert_int_equal(p->n, 2);
    assert_int_equal(p->actions[0].kind, CTL_ACT_SET_LISTENER);
    assert_string_equal(p->actions[0].default_cert.id, "old-web");
    assert_int_equal(p->actions[0].n_sni, 0);
    assert_int_equal(p->actions[1].kind, CTL_ACT_DELETE);
    assert_string_equal(p->actions[1].cert_id, "old-api");
    lb_apply(&b, p, p->n);
    ctl_plan_free(p);
    p = plan(&w, &b);
    assert_int_equal(p->n, 0); /* old-web stays, bound */
    assert_int_equal(count_problem(p, CTL_PROB_NO_RESTORE), 1);
    ctl_plan_free(p);
    /* Once someone else rebinds the listener, it is collected. */
    lb_set(&b.l[0], NULL, NULL);
    lb_add_cert(&b, "user-2", "theirs", NULL, NULL);
    lb_set(&b.l[0], "user-2", NULL);
    converge(&w, &b);
    assert_null(lb_cert(&b, "old-web"));
    lb_free(&b);
    world_free(&w);
}

/* Bad annotations somewhere: no restore, no delete. */
static void test_incomplete_holds(void **state)
{
    struct world w;
    world_init(&w, false);
    world_ingress(&w, A("kubernetes.io/elb.id=lb 1"), A("web"));
    world_desire(&w);
    assert_true(w.d->incomplete);
    struct lb b = {.descriptions = true};
    sc_restore(&w, &b);
    add_managed(&w, &b, "orphan", "gone", "g", NULL);
    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(p->n, 0);
    ctl_plan_free(p);
    lb_free(&b);
    world_free(&w);
}

static void test_drift_deleted(void **state)
{
    struct world w;
    world_init(&w, false);
    world_secret(&w, "web", "v1");
    world_ingress(&w, ANN_LB, A("web"));
    world_desire(&w);
    struct lb b = {.descriptions = true};
    lb_add_listener(&b, "ls-1", "vanished", NULL);
    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(count_problem(p, CTL_PROB_DRIFT), 1);
    assert_non_null(strstr(p->problems.items[0].message, "vanished"));
    assert_int_equal(p->n, 2);
    assert_int_equal(p->actions[0].kind, CTL_ACT_CREATE);
    assert_int_equal(p->actions[1].kind, CTL_ACT_SET_LISTENER);
    lb_apply(&b, p, p->n);
    ctl_plan_free(p);
    assert_int_equal(converge(&w, &b), 0);
    lb_free(&b);
    world_free(&w);
}

static void test_drift_renamed(void **state)
{
    struct world w;
    world_init(&w, false);
    world_secret(&w, "web", "v1");
    world_ingress(&w, ANN_LB, A("web"));
    world_desire(&w);
    struct lb b = {.descriptions = true};
    add_managed(&w, &b, "mine", "web", "v1", NULL);
    free(b.c[0].name);
    b.c[0].name = strdup("someone-renamed-it");
    lb_add_listener(&b, "ls-1", "mine", NULL);
    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(count_problem(p, CTL_PROB_DRIFT), 1);
    assert_non_null(strstr(p->problems.items[0].message, "renamed to \"someone-renamed-it\""));
    assert_int_equal(p->n, 1);
    assert_int_equal(p->actions[0].kind, CTL_ACT_RENAME);
    assert_string_equal(p->actions[0].cert_id, "mine");
    assert_string_equal(p->actions[0].name, managed_name(&w, "web"));
    lb_apply(&b, p, p->n);
    ctl_plan_free(p);
    assert_int_equal(converge(&w, &b), 0);
    assert_int_equal(b.n, 1);
    lb_free(&b);
    world_free(&w);
}

/* Content changed behind our back (the provider reads back another chain): recreated,
 * rebound, the modified one collected. */
static void test_drift_modified(void **state)
{
    EVP_PKEY *k1 = tc_key_ec("P-256"), *k2 = tc_key_ec("P-256");
    X509 *c1 = tc_cert("a.example.com", NULL, k1, NULL, NULL, TC_NOW_MS - TC_DAY_MS,
                       TC_NOW_MS + 30 * TC_DAY_MS, false);
    X509 *c2 = tc_cert("b.example.com", NULL, k2, NULL, NULL, TC_NOW_MS - TC_DAY_MS,
                       TC_NOW_MS + 30 * TC_DAY_MS, false);
    char *pem1 = tc_pem_certs(&c1, 1), *pem2 = tc_pem_certs(&c2, 1);
    struct world w;
    world_init(&w, false);
    struct ctl_secret *s = world_secret(&w, "web", "v1");
    assert_int_equal(ctl_chain_digest(pem1, strlen(pem1), s->chain_digest, NULL), CS_OK);
    world_ingress(&w, ANN_LB, A("web"));
    world_desire(&w);
    struct lb b = {.descriptions = true};
    add_managed(&w, &b, "mine", "web", "v1", NULL);
    b.c[0].certificate = strdup(pem1);
    lb_add_listener(&b, "ls-1", "mine", NULL);
    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(p->n, 0); /* same content: steady */
    ctl_plan_free(p);
    free(b.c[0].certificate);
    b.c[0].certificate = strdup(pem2);
    p = plan(&w, &b);
    assert_int_equal(count_problem(p, CTL_PROB_DRIFT), 1);
    assert_non_null(strstr(p->problems.items[0].message, "was modified"));
    assert_int_equal(p->n, 3);
    assert_int_equal(p->actions[0].kind, CTL_ACT_CREATE);
    assert_int_equal(p->actions[1].kind, CTL_ACT_SET_LISTENER);
    assert_int_equal(p->actions[2].kind, CTL_ACT_DELETE);
    assert_string_equal(p->actions[2].cert_id, "mine");
    g_pem_for_create = pem1;
    lb_apply(&b, p, p->n);
    ctl_plan_free(p);
    assert_int_equal(converge(&w, &b), 0);
    assert_int_equal(b.n, 1);
    g_pem_for_create = NULL;
    lb_free(&b);
    world_free(&w);
    free(pem1);
    free(pem2);
    X509_free(c1);
    X509_free(c2);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

/* Annotation-selected certificates are bound, never deleted; a missing one is reported. */
static void test_selected(void **state)
{
    struct world w;
    world_init(&w, false);
    world_ingress(&w, A("kubernetes.io/elb.id=lb-1", "kubernetes.io/elb.tls-certificate-ids=sel-1,sel-2,nope"),
                  NULL);
    world_desire(&w);
    struct lb b = {.descriptions = true};
    lb_add_cert(&b, "sel-1", "theirs-1", NULL, NULL);
    add_managed(&w, &b, "sel-2", "web", "v1", NULL); /* even one of ours */
    add_managed(&w, &b, "old", "web", "v0", NULL);
    lb_add_listener(&b, "ls-1", "old", NULL);
    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(count_problem(p, CTL_PROB_CERT_NOT_FOUND), 1);
    assert_int_equal(p->n, 2);
    assert_int_equal(p->actions[0].kind, CTL_ACT_SET_LISTENER);
    assert_string_equal(p->actions[0].default_cert.id, "sel-1");
    assert_string_equal(p->actions[0].sni[0].id, "sel-2");
    assert_int_equal(p->actions[1].kind, CTL_ACT_DELETE);
    assert_string_equal(p->actions[1].cert_id, "old");
    lb_apply(&b, p, p->n);
    ctl_plan_free(p);
    assert_int_equal(converge(&w, &b), 0);
    assert_non_null(lb_cert(&b, "sel-2"));
    lb_free(&b);
    world_free(&w);
}

/* An annotation-selected default remembers the listener's own (with the runtime's record,
 * "<replaced> <bound>"), which is restored when no Ingress needs the listener any more, but
 * only while the selected one is still the default (nobody rebound it since). */
static void test_selected_restore(void **state)
{
    for (int rebound = 0; rebound < 2; rebound++) {
        struct world w;
        world_init(&w, rebound == 1);
        world_ingress(&w, A("kubernetes.io/elb.id=lb-1",
                            "kubernetes.io/elb.tls-certificate-ids=sel-1"), NULL);
        world_desire(&w);
        struct lb b = {.descriptions = rebound == 0};
        lb_add_cert(&b, "orig", "listener-own", NULL, NULL);
        lb_add_cert(&b, "sel-1", "theirs-1", NULL, NULL);
        lb_add_cert(&b, "other", "theirs-2", NULL, NULL);
        lb_add_listener(&b, "ls-1", "orig", NULL);
        struct ctl_plan *p = plan(&w, &b);
        assert_int_equal(p->n, 2);
        assert_int_equal(p->actions[0].kind, CTL_ACT_RECORD_REPLACED);
        assert_int_equal(p->actions[1].kind, CTL_ACT_SET_LISTENER);
        lb_apply(&b, p, p->n);
        ctl_plan_free(p);
        assert_string_equal(b.record, "orig sel-1");
        assert_int_equal(converge(&w, &b), 0);
        assert_int_equal(count_problem(p = plan(&w, &b), CTL_PROB_DRIFT), 0);
        ctl_plan_free(p);

        struct world gone;
        world_init(&gone, rebound == 1);
        world_desire(&gone);
        if (rebound)
            lb_set(&b.l[0], "other", NULL); /* someone's choice: left alone */
        p = plan(&gone, &b);
        assert_int_equal(p->n, rebound ? 1 : 2);
        if (!rebound) {
            assert_int_equal(p->actions[0].kind, CTL_ACT_RESTORE);
            assert_string_equal(p->actions[0].default_cert.id, "orig");
        }
        assert_int_equal(p->actions[p->n - 1].kind, CTL_ACT_FORGET_REPLACED);
        assert_int_equal(count_problem(p, CTL_PROB_NO_RESTORE), 0);
        lb_apply(&b, p, p->n);
        ctl_plan_free(p);
        assert_string_equal(b.l[0].default_cert_id, rebound ? "other" : "orig");
        assert_null(b.record);
        assert_int_equal(b.n, 3); /* none of them is ours: nothing deleted */
        assert_int_equal(converge(&gone, &b), 0);
        lb_free(&b);
        world_free(&gone);
        world_free(&w);
    }
}

/* Drift: after the controller bound the listener (the runtime's record exists), someone
 * rebinds it to its old certificate and deletes the managed one: re-created, bound again,
 * and reported. Without the record (the controller's first bind) nothing is reported. */
static void test_drift_rebound(void **state)
{
    struct world w;
    world_init(&w, false);
    world_secret(&w, "web", "v1");
    world_ingress(&w, ANN_LB, A("web"));
    world_desire(&w);
    struct lb b = {.descriptions = true};
    lb_add_cert(&b, "user-1", "my-cert", NULL, NULL);
    lb_add_listener(&b, "ls-1", "user-1", NULL);
    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(count_problem(p, CTL_PROB_DRIFT), 0);
    ctl_plan_free(p);
    assert_true(converge(&w, &b) > 0);
    assert_string_equal(b.record, "user-1");
    const char *mine = b.l[0].default_cert_id;
    assert_string_not_equal(mine, "user-1");
    /* by hand: rebind to user-1, delete ours */
    struct elb_cert *c = lb_cert(&b, mine);
    lb_set(&b.l[0], "user-1", NULL);
    cert_free(c);
    *c = b.c[--b.n];
    memset(&b.c[b.n], 0, sizeof(b.c[0]));
    p = plan(&w, &b);
    assert_int_equal(count_problem(p, CTL_PROB_DRIFT), 1);
    assert_non_null(strstr(p->problems.items[0].message, "changed to user-1"));
    assert_non_null(strstr(p->problems.items[0].message, "no longer exists"));
    assert_int_equal(p->actions[0].kind, CTL_ACT_CREATE);
    ctl_plan_free(p);
    assert_true(converge(&w, &b) > 0);
    assert_string_equal(b.record, "user-1"); /* the original is still what to restore */
    lb_free(&b);
    world_free(&w);
}

/* Imported certificates: the user's own copy is reused; else one is imported and bound. */
static void test_imported(void **state)
{
    struct world w;
    world_init(&w, true);
    world_ingress(&w, A("kubernetes.io/elb.id=lb-1", "elb-certsync.io/ussl-ids=ussl-1,ussl-2"), NULL);
    world_desire(&w);
    struct lb b = {.descriptions = false};
    lb_add_cert(&b, "copy-1", "user-import", NULL, NULL);
    b.c[0].source = ELB_CERT_SOURCE_IMPORTED;
    b.c[0].imported_id = strdup("ussl-1");
    lb_add_cert(&b, "def", "theirs", NULL, NULL);
    lb_add_listener(&b, "ls-1", "def", NULL);
    b.record = NULL;
    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(p->n, 3);
    assert_int_equal(p->actions[0].kind, CTL_ACT_CREATE);
    assert_string_equal(p->actions[0].imported_id, "ussl-2");
    assert_null(p->actions[0].description); /* UCloud: no description */
    /* the user's copy is not ours: the runtime remembers the default it replaces, and it */
    assert_int_equal(p->actions[1].kind, CTL_ACT_RECORD_REPLACED);
    assert_string_equal(p->actions[1].cert_id, "def");
    assert_string_equal(p->actions[1].default_cert.id, "copy-1");
    assert_int_equal(p->actions[2].kind, CTL_ACT_SET_LISTENER);
    assert_string_equal(p->actions[2].default_cert.id, "copy-1");
    lb_apply(&b, p, p->n);
    ctl_plan_free(p);
    assert_int_equal(converge(&w, &b), 0);
    lb_free(&b);
    world_free(&w);
}

/* A classic UCloud VServer holds one certificate: only the default is bound. */
static void test_single_listener(void **state)
{
    struct world w;
    world_init(&w, true);
    world_secret(&w, "web", "v1");
    world_secret(&w, "api", "a1");
    world_ingress(&w, ANN_LB, A("web", "api"));
    world_desire(&w);
    struct lb b = {.descriptions = false};
    lb_add_cert(&b, "user-1", "my-cert", NULL, NULL);
    lb_add_listener(&b, "ls-1", "user-1", NULL)->kind = ELB_LISTENER_SINGLE;
    struct ctl_plan *p = plan(&w, &b);
    assert_int_equal(count_problem(p, CTL_PROB_SNI_OVERFLOW), 1);
    assert_int_equal(p->n, 3); /* create web only, record, set */
    assert_int_equal(p->actions[0].kind, CTL_ACT_CREATE);
    assert_string_equal(p->actions[0].secret_name, "web");
    assert_int_equal(p->actions[1].kind, CTL_ACT_RECORD_REPLACED);
    assert_int_equal(p->actions[2].kind, CTL_ACT_SET_LISTENER);
    assert_int_equal(p->actions[2].n_sni, 0);
    lb_apply(&b, p, p->n);
    ctl_plan_free(p);
    assert_int_equal(converge(&w, &b), 0);
    assert_string_equal(b.record, "user-1");
    /* A managed certificate of a TLS entry that can never be bound there (left over from
     * when it was the first entry) is collected, not kept as wanted. */
    add_managed(&w, &b, "old-api", "api", "a1", NULL);
    p = plan(&w, &b); /* the listener did not hold it: the region's collection's */
    assert_int_equal(p->n, 0);
    ctl_plan_free(p);
    p = gc_plan(&w, &b);
    assert_int_equal(p->n, 1);
    assert_int_equal(p->actions[0].kind, CTL_ACT_DELETE);
    assert_string_equal(p->actions[0].cert_id, "old-api");
    lb_apply(&b, p, p->n);
    ctl_plan_free(p);
    assert_null(lb_cert(&b, "old-api"));
    assert_int_equal(converge(&w, &b), 0);
    lb_free(&b);
    world_free(&w);
}

/* A listener's plan sees only the Ingresses that concern it, and the slice may carry a
 * certificate of ours it never held (a neighbour's on UCloud, where names cut to 50 characters
 * can share their readable part, or one another worker just created): it leaves those to
 * the region's collection, which sees every Ingress. */
static void test_listener_plan_deletes_only_what_it_held(void **state)
{
    for (int ucloud = 0; ucloud < 2; ucloud++) {
        struct world w;
        world_init(&w, ucloud);
        world_secret(&w, "web", "v1");
        world_ingress(&w, ANN_LB, A("web"));
        world_desire(&w);
        struct lb b = {.descriptions = !ucloud};
        lb_add_cert(&b, "user-1", "my-cert", NULL, NULL);
        add_managed(&w, &b, "neighbour", "zzz", "z1", NULL);
        add_managed(&w, &b, "old-web", "web", "v0", NULL);
        lb_add_listener(&b, "ls-1", "old-web", NULL);
        struct ctl_plan *p = plan(&w, &b);
        for (size_t i = 0; i < p->n; i++)
            if (p->actions[i].kind == CTL_ACT_DELETE)
                assert_string_equal(p->actions[i].cert_id, "old-web"); /* held: replaced */
        assert_int_equal(p->actions[p->n - 1].kind, CTL_ACT_DELETE);
        lb_apply(&b, p, p->n);
        ctl_plan_free(p);
        assert_non_null(lb_cert(&b, "neighbour"));
        assert_null(lb_cert(&b, "old-web"));
        p = gc_plan(&w, &b); /* here no Ingress at all wants zzz */
        assert_int_equal(p->n, 1);
        assert_string_equal(p->actions[0].cert_id, "neighbour");
        ctl_plan_free(p);
        lb_free(&b);
        world_free(&w);
    }
}

static void test_bad_input(void **state)
{
    struct ctl_plan *p = NULL;
    struct cs_err err;
    assert_int_equal(ctl_plan_listener(NULL, &p, &err), CS_EINVAL);
    struct ctl_plan_input in = {0};
    assert_int_equal(ctl_plan_listener(&in, &p, &err), CS_EINVAL);
    assert_null(p);
    ctl_plan_free(NULL);
    assert_string_equal(ctl_action_kind_name(CTL_ACT_DELETE), "delete");
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_bind),
        cmocka_unit_test(test_rotation_order),
        cmocka_unit_test(test_key_only_rotation),
        cmocka_unit_test(test_invalid_secret_keeps_binding),
        cmocka_unit_test(test_crash_after_each_step),
        cmocka_unit_test(test_never_touched),
        cmocka_unit_test(test_restore),
        cmocka_unit_test(test_no_restore),
        cmocka_unit_test(test_incomplete_holds),
        cmocka_unit_test(test_drift_deleted),
        cmocka_unit_test(test_drift_renamed),
        cmocka_unit_test(test_drift_modified),
        cmocka_unit_test(test_selected),
        cmocka_unit_test(test_imported),
        cmocka_unit_test(test_selected_restore),
        cmocka_unit_test(test_listener_plan_deletes_only_what_it_held),
        cmocka_unit_test(test_drift_rebound),
        cmocka_unit_test(test_single_listener),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
