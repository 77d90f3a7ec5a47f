/* test_ctl_desired.c -- the desired state (controller/desired.c): one Ingress, several
 * sharing a listener, missing / invalid / wrong-type / cross-namespace Secrets, SNI overflow,
 * annotation-selected and imported certificates, regions, expiry warnings, bad annotations,
 * other classes, determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "controller/desired.h"
#include "controller/naming.h"
#include "tests/unit/test_ctl_support.h"

struct store {
    struct ctl_secret s[16];
    size_t n;
};

static const struct ctl_secret *lookup(void *ud, const char *ns, const char *name)
{
    struct store *st = ud;
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->s[i].ns, ns) == 0 && strcmp(st->s[i].name, name) == 0)
            return &st->s[i];
    return NULL;
}

static struct ctl_secret *add_secret(struct store *st, const char *ns, const char *name,
                                     const char *seed)
{
    tc_secret(&st->s[st->n], ns, name, seed, TC_NOW_MS + 90 * TC_DAY_MS);
    return &st->s[st->n++];
}

static void store_cleanup(struct store *st)
{
    for (size_t i = 0; i < st->n; i++)
        ctl_secret_cleanup(&st->s[i]);
}

static struct ctl_settings settings(void)
{
    return (struct ctl_settings){.cluster_id = "prod", .ingress_class = "cce",
                                 .default_region = "cn-north-4", .default_port = 443,
                                 .provider = CTL_PROVIDER_HUAWEI, .limits = tc_limits_huawei(),
                                 .now_ms = TC_NOW_MS, .expiry_warn_days = 14};
}

struct world {
    struct ctl_ingress ing[8];
    size_t n;
    struct store st;
    struct ctl_desired *d;
};

static void world_cleanup(struct world *w)
{
    for (size_t i = 0; i < w->n; i++)
        ctl_ingress_cleanup(&w->ing[i]);
    store_cleanup(&w->st);
    ctl_desired_free(w->d);
}

static void compute(struct world *w, const struct ctl_settings *s)
{
    ctl_desired_free(w->d);
    w->d = NULL;
    assert_int_equal(ctl_desired_compute(s, w->ing, w->n, lookup, &w->st, &w->d, NULL), CS_OK);
}

static size_t count_kind(const struct ctl_desired *d, enum ctl_problem_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < d->problems.n; i++)
        n += d->problems.items[i].kind == k;
    return n;
}

static const struct ctl_problem *find_problem(const struct ctl_desired *d, enum ctl_problem_kind k)
{
    for (size_t i = 0; i < d->problems.n; i++)
        if (d->problems.items[i].kind == k)
            return &d->problems.items[i];
    return NULL;
}

#define A(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_one_ingress(void **state)
{
    struct world w = {0};
    struct ctl_settings s = settings();
    add_secret(&w.st, "shop", "web", "v1");
    add_secret(&w.st, "shop", "api", "v2");
    tc_ingress(&w.ing[w.n++], "shop", "web", 100, "cce", A("kubernetes.io/elb.id=lb-1"),
               A("web:shop.example.com", "api:api.example.com"));
    compute(&w, &s);
    assert_int_equal(w.d->n, 1);
    assert_false(w.d->incomplete);
    assert_int_equal(w.d->problems.n, 0);
    const struct ctl_listener_want *l = &w.d->listeners[0];
    assert_string_equal(l->key, "cn-north-4/lb-1/port:443");
    assert_ptr_equal(ctl_desired_find(w.d, "cn-north-4/lb-1/port:443"), l);
    assert_null(ctl_desired_find(w.d, "cn-north-4/lb-1/port:80"));
    assert_string_equal(l->region, "cn-north-4");
    assert_string_equal(l->lb_id, "lb-1");
    assert_null(l->listener_id);
    assert_int_equal(l->port, 443);
    assert_int_equal(l->n_certs, 2);
    assert_int_equal(l->certs[0].kind, CTL_WANT_MANAGED);
    assert_string_equal(l->certs[0].secret_name, "web");
    assert_string_equal(l->certs[0].fingerprint, w.st.s[0].fingerprint);
    char *name = NULL;
    assert_int_equal(ctl_name_managed("prod", "shop", "web", w.st.s[0].fingerprint, &s.limits,
                                      &name, NULL),
                     CS_OK);
    assert_string_equal(l->certs[0].name, name);
    free(name);
    assert_string_equal(l->certs[1].secret_name, "api");
    assert_int_equal(l->n_ingresses, 1);
    assert_string_equal(l->ingresses[0], "shop/web");
    world_cleanup(&w);
}

/* First-created Ingress gives the default; ties broken by namespace/name; SNI de-duplicated
 * across Ingresses; the later Ingress that wanted another default is told. */
static void test_shared_listener(void **state)
{
    struct world w = {0};
    struct ctl_settings s = settings();
    add_secret(&w.st, "a", "x", "ax");
    add_secret(&w.st, "b", "y", "by");
    add_secret(&w.st, "b", "shared", "bs");
    add_secret(&w.st, "c", "z", "cz");
    tc_ingress(&w.ing[w.n++], "b", "second", 200, "cce", A("kubernetes.io/elb.id=lb-1"),
               A("y", "shared"));
    tc_ingress(&w.ing[w.n++], "c", "third", 200, "cce", A("kubernetes.io/elb.id=lb-1"), A("z"));
    tc_ingress(&w.ing[w.n++], "a", "first", 100, "cce", A("kubernetes.io/elb.id=lb-1"), A("x"));
    tc_ingress(&w.ing[w.n++], "b", "again", 300, "cce", A("kubernetes.io/elb.id=lb-1"),
               A("shared", "y"));
    compute(&w, &s);
    assert_int_equal(w.d->n, 1);
    const struct ctl_listener_want *l = &w.d->listeners[0];
    assert_int_equal(l->n_ingresses, 4);
    assert_string_equal(l->ingresses[0], "a/first");
    assert_string_equal(l->ingresses[1], "b/second"); /* same time as c/third: b < c */
    assert_string_equal(l->ingresses[2], "c/third");
    assert_string_equal(l->ingresses[3], "b/again");
    assert_int_equal(l->n_certs, 4);
    assert_string_equal(l->certs[0].secret_name, "x");
    assert_string_equal(l->certs[1].secret_name, "y");
    assert_string_equal(l->certs[2].secret_name, "shared");
    assert_string_equal(l->certs[3].secret_name, "z");
    assert_int_equal(count_kind(w.d, CTL_PROB_CONFLICT), 3);
    const struct ctl_problem *p = find_problem(w.d, CTL_PROB_CONFLICT);
    assert_non_null(strstr(p->message, "default certificate is Secret a/x, from Ingress a/first"));
    /* Input order does not matter. */
    struct ctl_ingress tmp = w.ing[0];
    w.ing[0] = w.ing[3];
    w.ing[3] = tmp;
    struct ctl_desired *d1 = w.d;
    w.d = NULL;
    compute(&w, &s);
    assert_int_equal(d1->listeners[0].n_certs, w.d->listeners[0].n_certs);
    for (size_t i = 0; i < d1->listeners[0].n_certs; i++)
        assert_string_equal(d1->listeners[0].certs[i].name, w.d->listeners[0].certs[i].name);
    assert_int_equal(d1->problems.n, w.d->problems.n);
    for (size_t i = 0; i < d1->problems.n; i++)
        assert_string_equal(d1->problems.items[i].message, w.d->problems.items[i].message);
    ctl_desired_free(d1);
    world_cleanup(&w);
}

static void test_secret_problems(void **state)
{
    struct world w = {0};
    struct ctl_settings s = settings();
    add_secret(&w.st, "shop", "good", "g");
    struct ctl_secret *bad = add_secret(&w.st, "shop", "bad", "b");
    bad->status = CTL_CERT_KEY_MISMATCH;
    bad->reason = strdup("tls.key does not match the certificate in tls.crt");
    struct ctl_secret *opaque = add_secret(&w.st, "shop", "opaque", "o");
    free(opaque->type);
    opaque->type = strdup("Opaque");
    struct ctl_secret *expired = add_secret(&w.st, "shop", "expired", "e");
    expired->not_after_ms = TC_NOW_MS - TC_DAY_MS;
    struct ctl_secret *soon = add_secret(&w.st, "shop", "soon", "s");
    soon->not_after_ms = TC_NOW_MS + 3 * TC_DAY_MS;
    add_secret(&w.st, "other", "web", "x");
    tc_ingress(&w.ing[w.n++], "shop", "web", 1, "cce", A("kubernetes.io/elb.id=lb-1"),
               A("good", "bad", "missing", "opaque", "other/web", "expired", "soon", "Bad_Name"));
    compute(&w, &s);
    const struct ctl_listener_want *l = &w.d->listeners[0];
    /* good, bad (kept), expired (kept), soon */
    assert_int_equal(l->n_certs, 4);
    assert_int_equal(l->certs[0].kind, CTL_WANT_MANAGED);
    assert_int_equal(l->certs[1].kind, CTL_WANT_KEEP);
    assert_string_equal(l->certs[1].secret_name, "bad");
    assert_null(l->certs[1].name);
    assert_string_equal(l->certs[1].readable, "shop.bad");
    assert_int_equal(l->certs[2].kind, CTL_WANT_KEEP);
    assert_string_equal(l->certs[2].secret_name, "expired");
    assert_int_equal(l->certs[3].kind, CTL_WANT_MANAGED);
    assert_int_equal(count_kind(w.d, CTL_PROB_SECRET_INVALID), 2);
    assert_int_equal(count_kind(w.d, CTL_PROB_SECRET_MISSING), 2);
    assert_int_equal(count_kind(w.d, CTL_PROB_SECRET_TYPE), 1);
    assert_int_equal(count_kind(w.d, CTL_PROB_CROSS_NAMESPACE), 1);
    assert_int_equal(count_kind(w.d, CTL_PROB_EXPIRING), 1);
    for (size_t i = 0; i < w.d->problems.n; i++) {
        const struct ctl_problem *p = &w.d->problems.items[i];
        assert_string_equal(p->ingress_ns, "shop");
        assert_string_equal(p->ingress_name, "web");
        switch (p->kind) {
        case CTL_PROB_SECRET_INVALID:
            assert_true(strstr(p->message, "tls.key does not match the certificate") ||
                        strstr(p->message, "expired on 2026-05-31T00:00:00Z"));
            assert_non_null(strstr(p->message, "keeps the certificate it has"));
            break;
        case CTL_PROB_SECRET_MISSING:
            assert_true(strstr(p->message, "Secret shop/missing (spec.tls[2]) not found") ||
                        strstr(p->message, "\"Bad_Name\" is not a valid Secret name"));
            break;
        case CTL_PROB_SECRET_TYPE:
            assert_non_null(strstr(p->message, "of type \"Opaque\""));
            break;
        case CTL_PROB_CROSS_NAMESPACE:
            assert_non_null(strstr(p->message, "\"other/web\" refers to another namespace"));
            break;
        case CTL_PROB_EXPIRING:
            assert_non_null(strstr(p->message, "Secret shop/soon expires on 2026-06-04T00:00:00Z (in 3 days)"));
            break;
        default:
            fail_msg("unexpected problem %s", p->message);
        }
    }
    /* The problems are sorted and reasons are named. */
    assert_string_equal(ctl_problem_reason(CTL_PROB_SECRET_MISSING), "SecretNotFound");
    world_cleanup(&w);
}

static void test_sni_overflow(void **state)
{
    struct world w = {0};
    struct ctl_settings s = settings();
    s.limits.max_sni = 2;
    add_secret(&w.st, "shop", "s1", "1");
    add_secret(&w.st, "shop", "s2", "2");
    add_secret(&w.st, "shop", "s3", "3");
    add_secret(&w.st, "shop", "s4", "4");
    add_secret(&w.st, "shop", "s5", "5");
    tc_ingress(&w.ing[w.n++], "shop", "a", 1, "cce", A("kubernetes.io/elb.id=lb-1"),
               A("s1", "s2", "s3"));
    tc_ingress(&w.ing[w.n++], "shop", "b", 2, "cce", A("kubernetes.io/elb.id=lb-1"),
               A("s1", "s4", "s5"));
    compute(&w, &s);
    const struct ctl_listener_want *l = &w.d->listeners[0];
    assert_int_equal(l->n_certs, 3);
    assert_string_equal(l->certs[2].secret_name, "s3");
    assert_int_equal(count_kind(w.d, CTL_PROB_SNI_OVERFLOW), 2); /* one per Ingress */
    const struct ctl_problem *p = find_problem(w.d, CTL_PROB_SNI_OVERFLOW);
    assert_non_null(strstr(p->message, "would need 5 certificates, it holds at most 3"));
    assert_non_null(strstr(p->message, "left out Secret shop/s4, Secret shop/s5"));
    world_cleanup(&w);
}

/* tls-certificate-ids wins over Secrets (as on CCE); imported IDs become IMPORTED entries. */
static void test_annotation_selected(void **state)
{
    struct world w = {0};
    struct ctl_settings s = settings();
    add_secret(&w.st, "shop", "web", "w");
    tc_ingress(&w.ing[w.n++], "shop", "web", 1, "cce",
               A("kubernetes.io/elb.id=lb-1", "kubernetes.io/elb.tls-certificate-ids=c1,c2"),
               A("web"));
    tc_ingress(&w.ing[w.n++], "shop", "imp", 2, "cce",
               A("kubernetes.io/elb.id=lb-2", "elb-certsync.io/scm-certificate-ids=scs1"), NULL);
    compute(&w, &s);
    assert_int_equal(w.d->n, 2);
    const struct ctl_listener_want *l = ctl_desired_find(w.d, "cn-north-4/lb-1/port:443");
    assert_int_equal(l->n_certs, 2);
    assert_int_equal(l->certs[0].kind, CTL_WANT_SELECTED);
    assert_string_equal(l->certs[0].cert_id, "c1");
    assert_string_equal(l->certs[1].cert_id, "c2");
    l = ctl_desired_find(w.d, "cn-north-4/lb-2/port:443");
    assert_int_equal(l->n_certs, 1);
    assert_int_equal(l->certs[0].kind, CTL_WANT_IMPORTED);
    assert_string_equal(l->certs[0].imported_id, "scs1");
    assert_non_null(strstr(l->certs[0].name, "k8s_plb_default_prod_imported.scs1_"));
    world_cleanup(&w);
}

/* Listeners per region, load balancer and port or ID; sorted by key. */
static void test_regions_and_keys(void **state)
{
    struct world w = {0};
    struct ctl_settings s = settings();
    add_secret(&w.st, "shop", "web", "w");
    tc_ingress(&w.ing[w.n++], "shop", "eu", 1, "cce",
               A("kubernetes.io/elb.id=lb-1", "elb-certsync.io/region=eu-west-0"), A("web"));
    tc_ingress(&w.ing[w.n++], "shop", "cn", 2, "cce", A("kubernetes.io/elb.id=lb-1"), A("web"));
    tc_ingress(&w.ing[w.n++], "shop", "id", 3, "cce",
               A("kubernetes.io/elb.id=lb-1", "elb-certsync.io/listener-id=ls-7"), A("web"));
    tc_ingress(&w.ing[w.n++], "shop", "port", 4, "cce",
               A("kubernetes.io/elb.id=lb-1", "kubernetes.io/elb.port=8443"), A("web"));
    compute(&w, &s);
    assert_int_equal(w.d->n, 4);
    assert_string_equal(w.d->listeners[0].key, "cn-north-4/lb-1/listener:ls-7");
    assert_string_equal(w.d->listeners[1].key, "cn-north-4/lb-1/port:443");
    assert_string_equal(w.d->listeners[2].key, "cn-north-4/lb-1/port:8443");
    assert_string_equal(w.d->listeners[3].key, "eu-west-0/lb-1/port:443");
    assert_string_equal(w.d->listeners[3].region, "eu-west-0");
    assert_string_equal(w.d->listeners[0].listener_id, "ls-7");
    /* The same Secret has the same name in both regions; the plan creates one per region. */
    assert_string_equal(w.d->listeners[1].certs[0].name, w.d->listeners[3].certs[0].name);
    world_cleanup(&w);
}

/* Bad annotations: the Ingress is reported and left out, and the desired state is marked
 * incomplete so that no plan restores or deletes anything on its account. Ingresses of other
 * classes and without TLS are ignored silently. */
static void test_incomplete_and_ignored(void **state)
{
    struct world w = {0};
    struct ctl_settings s = settings();
    add_secret(&w.st, "shop", "web", "w");
    tc_ingress(&w.ing[w.n++], "shop", "typo", 1, "cce", A("kubernetes.io/elb.port=44x3"), A("web"));
    tc_ingress(&w.ing[w.n++], "shop", "nginx", 2, "nginx", A("kubernetes.io/elb.id=lb-1"), A("web"));
    tc_ingress(&w.ing[w.n++], "shop", "plain", 3, "cce", A("kubernetes.io/elb.id=lb-1"), NULL);
    compute(&w, &s);
    assert_int_equal(w.d->n, 0);
    assert_true(w.d->incomplete);
    assert_int_equal(w.d->problems.n, 2); /* bad port, missing elb.id */
    assert_int_equal(count_kind(w.d, CTL_PROB_BAD_ANNOTATION), 2);
    world_cleanup(&w);
    struct ctl_desired *d = NULL;
    assert_int_equal(ctl_desired_compute(&s, NULL, 0, lookup, NULL, &d, NULL), CS_OK);
    assert_int_equal(d->n, 0);
    assert_false(d->incomplete);
    ctl_desired_free(d);
    s.cluster_id = "Bad";
    struct cs_err err;
    assert_int_equal(ctl_desired_compute(&s, NULL, 0, lookup, NULL, &d, &err), CS_EINVAL);
}

static void test_class_conflict(void **state)
{
    struct world w = {0};
    struct ctl_settings s = settings();
    add_secret(&w.st, "shop", "web", "w");
    tc_ingress(&w.ing[w.n++], "shop", "a", 1, "cce",
               A("kubernetes.io/elb.id=lb-1", "kubernetes.io/elb.class=union"), A("web"));
    tc_ingress(&w.ing[w.n++], "shop", "b", 2, "cce",
               A("kubernetes.io/elb.id=lb-1", "kubernetes.io/elb.class=performance"), A("web"));
    compute(&w, &s);
    assert_int_equal(count_kind(w.d, CTL_PROB_CONFLICT), 1);
    const struct ctl_problem *p = find_problem(w.d, CTL_PROB_CONFLICT);
    assert_string_equal(p->ingress_name, "b");
    assert_non_null(strstr(p->message, "elb.class is \"performance\""));
    world_cleanup(&w);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_ingress),
        cmocka_unit_test(test_shared_listener),
        cmocka_unit_test(test_secret_problems),
        cmocka_unit_test(test_sni_overflow),
        cmocka_unit_test(test_annotation_selected),
        cmocka_unit_test(test_regions_and_keys),
        cmocka_unit_test(test_incomplete_and_ignored),
        cmocka_unit_test(test_class_conflict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
