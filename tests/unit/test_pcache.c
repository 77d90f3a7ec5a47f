/* test_pcache.c -- controller/pcache.c, the per-region provider view, over an in-test provider
 * (a struct elb_provider whose ops read in-memory lists and count their calls): bulk loads,
 * slices (exactly what one listener's plan needs, nothing else of a big region), listeners
 * fetched on demand, the indexes after the controller's own writes, region copies, counts, and
 * concurrent slicing, refreshing and writing (labelled threaded: runs under TSan).
 *
 * Built with -DPCACHE_BENCH it is instead a benchmark printing slice and refresh times at
 * 10,000 certificates and listeners (figures, not assertions). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/codec.h"
#include "common/json.h"
#include "common/util.h"
#include "controller/certcheck.h"
#include "controller/desired.h"
#include "controller/naming.h"
#include "controller/pcache.h"
#include "elb/elb.h"

#define CLUSTER "test"
#define REGION "r1"
#define LB "lb-1"

/* ---------------------------------------------------------------- the in-test provider */

struct fake {
    struct elb_provider base; /* the common head: must be first */
    struct elb_limits lim;
    pthread_mutex_t lock; /* guards certs and listeners */
    struct elb_cert *certs;
    size_t n_certs, cap_certs;
    struct elb_listener *listeners;
    size_t n_listeners, cap_listeners;
    atomic_int list_certs_calls;
    atomic_int list_listeners_calls;
    atomic_int find_calls;
    enum cs_code fail_list; /* returned by list_certs when set */
    /* Called inside list_listeners after the lists were taken (the provider has answered,
     * the cache has not swapped yet): the controller's writes racing a refresh. */
    void (*during_list)(void *ud);
    void *during_list_ud;
};

static struct fake *fake_of(struct elb_provider *p)
{
    return (struct fake *)p;
}

static void fake_destroy(struct elb_provider *p)
{
    (void)p;
}

static const struct elb_limits *fake_limits(const struct elb_provider *p)
{
    return &((const struct fake *)p)->lim;
}

static enum cs_code fake_list_certs(struct elb_provider *p, const char *region,
                                    struct elb_cert_list *out, struct cs_err *err)
{
    struct fake *f = fake_of(p);
    atomic_fetch_add(&f->list_certs_calls, 1);
    if (f->fail_list)
        return cs_err_set(err, f->fail_list, 0, "list_certs failed (test)");
    if (strcmp(region, REGION) != 0) {
        out->items = NULL;
        out->n = 0;
        return CS_OK;
    }
    pthread_mutex_lock(&f->lock);
    struct elb_cert_list l = {calloc(f->n_certs + 1, sizeof(struct elb_cert)), 0};
    assert_non_null(l.items);
    for (size_t i = 0; i < f->n_certs; i++)
        assert_int_equal(elb_cert_copy(&f->certs[i], &l.items[l.n++]), CS_OK);
    pthread_mutex_unlock(&f->lock);
    *out = l;
    return CS_OK;
}

static enum cs_code fake_list_listeners(struct elb_provider *p, const char *region,
                                        struct elb_listener_list *out, struct cs_err *err)
{
    (void)err;
    struct fake *f = fake_of(p);
    atomic_fetch_add(&f->list_listeners_calls, 1);
    struct elb_listener_list l = {NULL, 0};
    if (strcmp(region, REGION) == 0) {
        pthread_mutex_lock(&f->lock);
        l.items = calloc(f->n_listeners + 1, sizeof(struct elb_listener));
        assert_non_null(l.items);
        for (size_t i = 0; i < f->n_listeners; i++)
            assert_int_equal(elb_listener_copy(&f->listeners[i], &l.items[l.n++]), CS_OK);
        pthread_mutex_unlock(&f->lock);
    }
    if (f->during_list)
        f->during_list(f->during_list_ud);
    *out = l;
    return CS_OK;
}

static enum cs_code fake_find_listener(struct elb_provider *p, const char *region,
                                       const struct elb_listener_ref *ref,
                                       struct elb_listener *out, struct cs_err *err)
{
    struct fake *f = fake_of(p);
    atomic_fetch_add(&f->find_calls, 1);
    enum cs_code rc = CS_ENOTFOUND;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; strcmp(region, REGION) == 0 && i < f->n_listeners; i++) {
        const struct elb_listener *l = &f->listeners[i];
        bool match = ref->listener_id ? strcmp(l->id, ref->listener_id) == 0
                                      : strcmp(l->lb_id, ref->lb_id) == 0 && l->port == ref->port;
        if (match) {
            rc = elb_listener_copy(l, out);
            break;
        }
    }
    pthread_mutex_unlock(&f->lock);
    return rc == CS_ENOTFOUND ? cs_err_set(err, rc, 404, "no such listener (test)") : rc;
}

static enum cs_code fake_unsupported(struct cs_err *err)
{
    return cs_err_set(err, CS_EUNSUPPORTED, 0, "not in the test provider");
}

static enum cs_code fake_get_cert(struct elb_provider *p, const char *region, const char *id,
                                  struct elb_cert *out, struct cs_err *err)
{
    (void)p, (void)region, (void)id, (void)out;
    return fake_unsupported(err);
}

static enum cs_code fake_create_cert(struct elb_provider *p, const char *region,
                                     const struct elb_cert_spec *spec, struct elb_cert *out,
                                     struct cs_err *err)
{
    (void)p, (void)region, (void)spec, (void)out;
    return fake_unsupported(err);
}

static enum cs_code fake_delete_cert(struct elb_provider *p, const char *region, const char *id,
                                     struct cs_err *err)
{
    (void)p, (void)region, (void)id;
    return fake_unsupported(err);
}

static enum cs_code fake_rename_cert(struct elb_provider *p, const char *region, const char *id,
                                     const char *name, struct cs_err *err)
{
    (void)p, (void)region, (void)id, (void)name;
    return fake_unsupported(err);
}

static enum cs_code fake_set_certs(struct elb_provider *p, const char *region,
                                   const struct elb_listener *current, const char *def,
                                   const char *const *sni, size_t n_sni, struct cs_err *err)
{
    (void)p, (void)region, (void)current, (void)def, (void)sni, (void)n_sni;
    return fake_unsupported(err);
}

static const struct elb_provider_ops fake_ops = {
    .name = "test",
    .destroy = fake_destroy,
    .limits = fake_limits,
    .list_certs = fake_list_certs,
    .get_cert = fake_get_cert,
    .create_cert = fake_create_cert,
    .delete_cert = fake_delete_cert,
    .rename_cert = fake_rename_cert,
    .find_listener = fake_find_listener,
    .list_listeners = fake_list_listeners,
    .set_listener_certs = fake_set_certs,
};

/* Huawei-like (descriptions hold the record) or UCloud-like (names only). */
static struct fake *fake_new(bool descriptions)
{
    struct fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->base.ops = &fake_ops;
    f->base.default_region = strdup(REGION);
    f->lim = (struct elb_limits){.name_max = descriptions ? 255 : 50,
                                 .name_extra_chars = "-_.",
                                 .description_max = descriptions ? 255 : 0,
                                 .max_sni = 50,
                                 .cert_pem_max = 65536,
                                 .key_pem_max = 8192,
                                 .chain_max = 11,
                                 .rsa = true,
                                 .ecdsa = true,
                                 .rsa_min_bits = 2048,
                                 .rsa_max_bits = 4096,
                                 .can_rename = true,
                                 .reports_bindings = !descriptions};
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

static void fake_free(struct fake *f)
{
    for (size_t i = 0; i < f->n_certs; i++)
        elb_cert_cleanup(&f->certs[i]);
    free(f->certs);
    for (size_t i = 0; i < f->n_listeners; i++)
        elb_listener_cleanup(&f->listeners[i]);
    free(f->listeners);
    pthread_mutex_destroy(&f->lock);
    free(f->base.default_region);
    free(f);
}

/* Takes ownership of c's strings. */
static void fake_add_cert(struct fake *f, struct elb_cert *c)
{
    pthread_mutex_lock(&f->lock);
    if (f->n_certs == f->cap_certs) {
        f->cap_certs = f->cap_certs ? 2 * f->cap_certs : 64;
        f->certs = realloc(f->certs, f->cap_certs * sizeof(*f->certs));
        assert_non_null(f->certs);
    }
    f->certs[f->n_certs++] = *c;
    memset(c, 0, sizeof(*c));
    pthread_mutex_unlock(&f->lock);
}

/* sni: NULL-terminated, may be NULL. */
static void fake_add_listener(struct fake *f, const char *id, const char *lb, int port,
                              const char *def, const char *const *sni)
{
    struct elb_listener l;
    memset(&l, 0, sizeof(l));
    l.id = strdup(id);
    l.lb_id = strdup(lb);
    l.name = strdup(id);
    l.protocol = strdup("HTTPS");
    l.port = port;
    l.default_cert_id = def ? strdup(def) : NULL;
    for (size_t i = 0; sni && sni[i]; i++) {
        l.sni_cert_ids = realloc(l.sni_cert_ids, (i + 1) * sizeof(char *));
        l.sni_cert_ids[i] = strdup(sni[i]);
        l.n_sni = i + 1;
    }
    pthread_mutex_lock(&f->lock);
    if (f->n_listeners == f->cap_listeners) {
        f->cap_listeners = f->cap_listeners ? 2 * f->cap_listeners : 64;
        f->listeners = realloc(f->listeners, f->cap_listeners * sizeof(*f->listeners));
        assert_non_null(f->listeners);
    }
    f->listeners[f->n_listeners++] = l;
    pthread_mutex_unlock(&f->lock);
}

/* ---------------------------------------------------------------- certificates */

static void fp_of(const char *seed, char out[65])
{
    cs_sha256_hex(seed, strlen(seed), out);
}

/* A certificate of cluster `cluster` for Secret ns/secret with content `seed`: named with
 * ctl_name_managed, its record (where the provider has descriptions) from ctl_record_init +
 * ctl_record_format, optionally saying it replaced rep_cert on rep_listener. */
static struct elb_cert managed_cert(const struct fake *f, const char *id, const char *cluster,
                                    const char *ns, const char *secret, const char *seed,
                                    const char *rep_listener, const char *rep_cert)
{
    struct elb_cert c;
    memset(&c, 0, sizeof(c));
    char fp[65];
    fp_of(seed, fp);
    c.id = strdup(id);
    assert_int_equal(ctl_name_managed(cluster, ns, secret, fp, &f->lim, &c.name, NULL), CS_OK);
    if (f->lim.description_max) {
        struct ctl_record rec;
        assert_int_equal(ctl_record_init(&rec, cluster, ns, secret, fp, NULL), CS_OK);
        if (rep_listener) {
            rec.replaced_listener = strdup(rep_listener);
            rec.replaced_cert = strdup(rep_cert);
        }
        assert_int_equal(ctl_record_format(&rec, f->lim.description_max, &c.description, NULL),
                         CS_OK);
        ctl_record_cleanup(&rec);
    }
    c.fingerprint = strdup(fp);
    c.domains = strdup("shop.example.com");
    c.not_after_ms = INT64_C(1900000000000);
    return c;
}

static struct elb_cert user_cert(const char *id, const char *name, const char *description)
{
    struct elb_cert c;
    memset(&c, 0, sizeof(c));
    c.id = strdup(id);
    c.name = strdup(name);
    c.description = description ? strdup(description) : NULL;
    return c;
}

static void add_managed(struct fake *f, const char *id, const char *ns, const char *secret,
                        const char *seed, const char *rep_listener, const char *rep_cert)
{
    struct elb_cert c = managed_cert(f, id, CLUSTER, ns, secret, seed, rep_listener, rep_cert);
    fake_add_cert(f, &c);
}

static void add_user(struct fake *f, const char *id, const char *name, const char *description)
{
    struct elb_cert c = user_cert(id, name, description);
    fake_add_cert(f, &c);
}

/* The expected name of Secret ns/secret with content seed. */
static char *expected_name(const struct fake *f, const char *ns, const char *secret,
                           const char *seed)
{
    char fp[65], *name = NULL;
    fp_of(seed, fp);
    assert_int_equal(ctl_name_managed(CLUSTER, ns, secret, fp, &f->lim, &name, NULL), CS_OK);
    return name;
}

/* ---------------------------------------------------------------- wants */

/* A listener want built in the test; strings owned (freed by want_free). */
struct want {
    struct ctl_listener_want w;
};

static void want_init(struct want *w, const char *lb, const char *listener_id, int port)
{
    memset(w, 0, sizeof(*w));
    w->w.region = strdup(REGION);
    w->w.lb_id = strdup(lb);
    w->w.listener_id = listener_id ? strdup(listener_id) : NULL;
    w->w.port = port;
    w->w.key = ctl_listener_key(REGION, lb, listener_id, port);
}

static struct ctl_cert_want *want_add(struct want *w, enum ctl_want_kind kind)
{
    w->w.certs = realloc(w->w.certs, (w->w.n_certs + 1) * sizeof(*w->w.certs));
    assert_non_null(w->w.certs);
    struct ctl_cert_want *c = &w->w.certs[w->w.n_certs++];
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    return c;
}

/* A MANAGED entry for Secret ns/secret with content seed (name, readable, fingerprint). */
static void want_managed(struct want *w, const struct fake *f, const char *ns,
                         const char *secret, const char *seed)
{
    struct ctl_cert_want *c = want_add(w, CTL_WANT_MANAGED);
    char fp[65], readable[256];
    fp_of(seed, fp);
    c->secret_ns = strdup(ns);
    c->secret_name = strdup(secret);
    c->fingerprint = strdup(fp);
    c->name = expected_name(f, ns, secret, seed);
    assert_int_equal(ctl_name_readable(CLUSTER, ns, secret, &f->lim, readable, NULL), CS_OK);
    c->readable = strdup(readable);
}

static void want_keep(struct want *w, const struct fake *f, const char *ns, const char *secret)
{
    struct ctl_cert_want *c = want_add(w, CTL_WANT_KEEP);
    char readable[256];
    c->secret_ns = strdup(ns);
    c->secret_name = strdup(secret);
    assert_int_equal(ctl_name_readable(CLUSTER, ns, secret, &f->lim, readable, NULL), CS_OK);
    c->readable = strdup(readable);
}

static void want_selected(struct want *w, const char *cert_id)
{
    want_add(w, CTL_WANT_SELECTED)->cert_id = strdup(cert_id);
}

static void want_free(struct want *w)
{
    for (size_t i = 0; i < w->w.n_certs; i++) {
        struct ctl_cert_want *c = &w->w.certs[i];
        free(c->secret_ns);
        free(c->secret_name);
        free(c->fingerprint);
        free(c->chain_digest);
        free(c->name);
        free(c->readable);
        free(c->cert_id);
        free(c->imported_id);
    }
    free(w->w.certs);
    free(w->w.key);
    free(w->w.region);
    free(w->w.lb_id);
    free(w->w.listener_id);
    memset(w, 0, sizeof(*w));
}

/* ---------------------------------------------------------------- slice checks */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The slice's certificate IDs are exactly `ids` (NULL-terminated, any order). */
static void assert_cert_ids(const struct ctl_pcache_slice *s, const char *const *ids)
{
    size_t n = 0;
    while (ids[n])
        n++;
    const char **got = calloc(s->certs.n + 1, sizeof(*got));
    const char **want = calloc(n + 1, sizeof(*want));
    for (size_t i = 0; i < s->certs.n; i++)
        got[i] = s->certs.items[i].id;
    memcpy(want, ids, n * sizeof(*want));
    qsort(got, s->certs.n, sizeof(*got), cmp_str);
    qsort(want, n, sizeof(*want), cmp_str);
    char gs[4096] = "", ws[4096] = "";
    for (size_t i = 0; i < s->certs.n; i++)
        snprintf(gs + strlen(gs), sizeof(gs) - strlen(gs), "%s ", got[i]);
    for (size_t i = 0; i < n; i++)
        snprintf(ws + strlen(ws), sizeof(ws) - strlen(ws), "%s ", want[i]);
    free(got);
    free(want);
    if (strcmp(gs, ws) != 0)
        fail_msg("slice certificates: got [%s], expected [%s]", gs, ws);
}

static void assert_listener_ids(const struct ctl_pcache_slice *s, const char *const *ids)
{
    size_t n = 0;
    while (ids[n])
        n++;
    const char **got = calloc(s->listeners.n + 1, sizeof(*got));
    const char **want = calloc(n + 1, sizeof(*want));
    for (size_t i = 0; i < s->listeners.n; i++)
        got[i] = s->listeners.items[i].id;
    memcpy(want, ids, n * sizeof(*want));
    qsort(got, s->listeners.n, sizeof(*got), cmp_str);
    qsort(want, n, sizeof(*want), cmp_str);
    char gs[4096] = "", ws[4096] = "";
    for (size_t i = 0; i < s->listeners.n; i++)
        snprintf(gs + strlen(gs), sizeof(gs) - strlen(gs), "%s ", got[i]);
    for (size_t i = 0; i < n; i++)
        snprintf(ws + strlen(ws), sizeof(ws) - strlen(ws), "%s ", want[i]);
    free(got);
    free(want);
    if (strcmp(gs, ws) != 0)
        fail_msg("slice listeners: got [%s], expected [%s]", gs, ws);
}

static const struct elb_cert *slice_cert(const struct ctl_pcache_slice *s, const char *id)
{
    for (size_t i = 0; i < s->certs.n; i++)
        if (strcmp(s->certs.items[i].id, id) == 0)
            return &s->certs.items[i];
    return NULL;
}

static const struct elb_listener *slice_listener(const struct ctl_pcache_slice *s,
                                                 const char *id)
{
    for (size_t i = 0; i < s->listeners.n; i++)
        if (strcmp(s->listeners.items[i].id, id) == 0)
            return &s->listeners.items[i];
    return NULL;
}

/* ---------------------------------------------------------------- the big region */

/* n unrelated certificates and listeners: ours for other Secrets, another cluster's, users'
 * (some with our prefix), each bound by a listener of its own on another load balancer. */
static void add_bulk(struct fake *f, size_t n)
{
    char id[64], lid[64], secret[64], seed[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "bulk-c-%05zu", i);
        snprintf(lid, sizeof(lid), "bulk-l-%05zu", i);
        snprintf(secret, sizeof(secret), "s%zu", i);
        snprintf(seed, sizeof(seed), "bulk-%zu", i);
        switch (i % 4) {
        case 0:
            add_managed(f, id, "bulk", secret, seed, NULL, NULL);
            break;
        case 1: {
            struct elb_cert c = managed_cert(f, id, "prod", "shop", "web", seed, NULL, NULL);
            fake_add_cert(f, &c);
            break;
        }
        case 2:
            add_user(f, id, seed, "a user's certificate");
            break;
        default: {
            /* Our prefix and cluster, but no record: not ours where descriptions exist. */
            char name[128];
            snprintf(name, sizeof(name), CTL_NAME_PREFIX CLUSTER "_bulk.u%zu_%012zx", i, i);
            add_user(f, id, name, NULL);
            break;
        }
        }
        fake_add_listener(f, lid, "lb-bulk", (int)(1000 + i % 60000), id, NULL);
    }
}

/* The scene of the slice tests (Huawei-like provider):
 *
 * l-1 (lb-1:443)  default c-def (ours shop/web v1, r= l-1,u-orig), SNI u-sni (a user's)
 * l-2 (lb-1:8443) default c-web-old (ours shop/web v0)
 * l-3 (lb-2:443)  default u-other, SNI u-orig
 * l-4 (lb-2:444)  default c-unrelated (ours bulk2/x)
 * l-5 (lb-2:445)  default c-api (ours shop/api, a KEEP entry of l-1's want)
 *
 * c-new      ours shop/web v2: the want's expected name, not bound yet
 * u-sel      a user's certificate the want selects by ID
 * c-long     ours for a Secret whose names only fit the record as h=
 * u-same     a user's certificate that happens to carry the want's expected name
 * c-prod     cluster "prod"'s certificate for shop/web: not ours
 * u-prefix   our prefix and cluster, shop.web readable, no record: not ours
 */
static const char LONG_NS[] = "a-namespace-with-a-name-of-the-longest-length-allowed-sixty-thr";
static char long_secret[254];

static void scene(struct fake *f)
{
    /* Three labels of 60 (a Secret name's labels are DNS labels): 182 characters. */
    memset(long_secret, 'x', 182);
    long_secret[60] = long_secret[121] = '.';
    long_secret[182] = '\0';
    add_managed(f, "c-def", "shop", "web", "v1", "l-1", "u-orig");
    add_user(f, "u-orig", "customer-original", NULL);
    add_user(f, "u-sni", "customer-sni", "");
    add_managed(f, "c-web-old", "shop", "web", "v0", NULL, NULL);
    add_managed(f, "c-new", "shop", "web", "v2", NULL, NULL);
    add_user(f, "u-sel", "selected", NULL);
    add_managed(f, "c-long", LONG_NS, long_secret, "long-v1", NULL, NULL);
    add_managed(f, "c-api", "shop", "api", "api-v1", NULL, NULL);
    add_managed(f, "c-unrelated", "bulk2", "x", "x-v1", NULL, NULL);
    add_user(f, "u-other", "other", NULL);
    char *same = expected_name(f, "shop", "web", "v2");
    add_user(f, "u-same", same, "uploaded by hand");
    free(same);
    struct elb_cert c = managed_cert(f, "c-prod", "prod", "shop", "web", "v2", NULL, NULL);
    fake_add_cert(f, &c);
    char name[128];
    snprintf(name, sizeof(name), CTL_NAME_PREFIX CLUSTER "_shop.web_0123456789ab");
    add_user(f, "u-prefix", name, NULL);
    static const char *const sni1[] = {"u-sni", NULL};
    static const char *const sni3[] = {"u-orig", NULL};
    fake_add_listener(f, "l-1", LB, 443, "c-def", sni1);
    fake_add_listener(f, "l-2", LB, 8443, "c-web-old", NULL);
    fake_add_listener(f, "l-3", "lb-2", 443, "u-other", sni3);
    fake_add_listener(f, "l-4", "lb-2", 444, "c-unrelated", NULL);
    fake_add_listener(f, "l-5", "lb-2", 445, "c-api", NULL);
}

/* l-1's want: shop/web v2 (default), u-sel selected, the long Secret, shop/api kept. */
static void scene_want(struct want *w, const struct fake *f)
{
    want_init(w, LB, NULL, 443);
    want_managed(w, f, "shop", "web", "v2");
    want_selected(w, "u-sel");
    want_managed(w, f, LONG_NS, long_secret, "long-v2");
    want_keep(w, f, "shop", "api");
}

static const char *const scene_certs[] = {"c-def",  "u-orig", "u-sni", "c-web-old", "c-new",
                                          "u-sel",  "c-long", "c-api", "u-same",    NULL};
static const char *const scene_listeners[] = {"l-1", "l-2", "l-3", "l-5", NULL};

/* ---------------------------------------------------------------- tests */

/* A self-signed EC certificate as PEM (malloc'd). */
static char *make_pem(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(k);
    assert_non_null(x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"digest.example.test", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, k);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(k);
    return out;
}

/* The view keeps the chain digest plans compare, not the PEM (memory at scale). */
static void test_keeps_digest_not_pem(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    scene(f);
    char *pem = make_pem();
    char want[65];
    assert_int_equal(ctl_chain_digest(pem, strlen(pem), want, NULL), CS_OK);
    struct elb_cert u = user_cert("u-pem", "with-pem", NULL);
    u.certificate = pem;
    fake_add_cert(f, &u);
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    struct ctl_pcache_slice s;
    assert_int_equal(ctl_pcache_slice_extra(c, REGION, LB, NULL, 443, NULL, "u-pem", &s, NULL),
                     CS_OK);
    const struct elb_cert *got = NULL;
    for (size_t i = 0; i < s.certs.n; i++)
        if (strcmp(s.certs.items[i].id, "u-pem") == 0)
            got = &s.certs.items[i];
    assert_non_null(got);
    assert_null(got->certificate);
    assert_non_null(got->chain_digest);
    assert_string_equal(got->chain_digest, want);
    ctl_pcache_slice_cleanup(&s);
    ctl_pcache_free(c);
    fake_free(f);
}

static void test_refresh_and_ensure(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    scene(f);
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    assert_non_null(c);
    assert_int_equal(ctl_pcache_loaded_at(c, REGION), 0);
    char **regions = ctl_pcache_regions(c);
    assert_non_null(regions);
    assert_null(regions[0]);
    ctl_pcache_regions_free(regions);

    assert_int_equal(ctl_pcache_ensure(c, REGION, NULL), CS_OK);
    assert_int_equal(f->list_certs_calls, 1);
    assert_int_equal(f->list_listeners_calls, 1);
    assert_true(ctl_pcache_loaded_at(c, REGION) > 0);
    /* ensure on a loaded region does not list again; slices do not list either. */
    assert_int_equal(ctl_pcache_ensure(c, REGION, NULL), CS_OK);
    struct ctl_pcache_slice s;
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, NULL, &s, NULL), CS_OK);
    ctl_pcache_slice_cleanup(&s);
    assert_int_equal(f->list_certs_calls, 1);
    assert_int_equal(f->list_listeners_calls, 1);
    assert_int_equal(f->find_calls, 0);
    /* refresh always lists, once each. */
    assert_int_equal(ctl_pcache_refresh(c, REGION, NULL), CS_OK);
    assert_int_equal(f->list_certs_calls, 2);
    assert_int_equal(f->list_listeners_calls, 2);

    size_t ours = 0, all = 0;
    ctl_pcache_counts(c, REGION, &ours, &all);
    assert_int_equal(all, 13);
    /* c-def c-web-old c-new c-long c-api c-unrelated */
    assert_int_equal(ours, 6);
    ctl_pcache_counts(c, "elsewhere", &ours, &all);
    assert_int_equal(ours, 0);
    assert_int_equal(all, 0);

    /* A second region loads on its own. */
    assert_int_equal(ctl_pcache_ensure(c, "r2", NULL), CS_OK);
    assert_int_equal(f->list_certs_calls, 3);
    regions = ctl_pcache_regions(c);
    assert_non_null(regions[0]);
    assert_non_null(regions[1]);
    assert_null(regions[2]);
    qsort(regions, 2, sizeof(*regions), cmp_str);
    assert_string_equal(regions[0], REGION);
    assert_string_equal(regions[1], "r2");
    ctl_pcache_regions_free(regions);
    ctl_pcache_free(c);
    ctl_pcache_free(NULL);
    fake_free(f);
}

static void test_refresh_failure(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    scene(f);
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    f->fail_list = CS_ETHROTTLED;
    struct cs_err err;
    cs_err_clear(&err);
    assert_int_equal(ctl_pcache_ensure(c, REGION, &err), CS_ETHROTTLED);
    assert_int_equal(err.code, CS_ETHROTTLED);
    assert_int_equal(ctl_pcache_loaded_at(c, REGION), 0);
    struct ctl_pcache_slice s;
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, NULL, &s, NULL), CS_ETHROTTLED);
    struct elb_cert_list certs;
    struct elb_listener_list ls;
    assert_int_equal(ctl_pcache_region_copy(c, REGION, &certs, &ls, NULL), CS_ETHROTTLED);
    /* Once loaded, a failed refresh keeps the previous view. */
    f->fail_list = CS_OK;
    assert_int_equal(ctl_pcache_refresh(c, REGION, NULL), CS_OK);
    uint64_t at = ctl_pcache_loaded_at(c, REGION);
    f->fail_list = CS_ESERVER;
    assert_int_equal(ctl_pcache_refresh(c, REGION, NULL), CS_ESERVER);
    assert_int_equal(ctl_pcache_loaded_at(c, REGION), at);
    size_t ours, all;
    ctl_pcache_counts(c, REGION, &ours, &all);
    assert_int_equal(all, 13);
    ctl_pcache_free(c);
    fake_free(f);
}

/* The slice holds exactly what l-1's plan needs, in a region of 1,000 other certificates
 * and listeners; by port and by listener ID alike. */
static void test_slice_exact(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    scene(f);
    add_bulk(f, 1000);
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    struct want w;
    scene_want(&w, f);
    for (int by_id = 0; by_id < 2; by_id++) {
        struct ctl_pcache_slice s;
        assert_int_equal(ctl_pcache_slice(c, REGION, LB, by_id ? "l-1" : NULL, by_id ? 0 : 443,
                                          &w.w, &s, NULL),
                         CS_OK);
        assert_string_equal(s.listener.id, "l-1");
        assert_string_equal(s.listener.lb_id, LB);
        assert_int_equal(s.listener.port, 443);
        assert_string_equal(s.listener.default_cert_id, "c-def");
        assert_int_equal(s.listener.n_sni, 1);
        assert_string_equal(s.listener.sni_cert_ids[0], "u-sni");
        assert_cert_ids(&s, scene_certs);
        assert_listener_ids(&s, scene_listeners);
        /* Copies carry what the plan reads. */
        const struct elb_cert *def = slice_cert(&s, "c-def");
        assert_non_null(def->description);
        assert_non_null(strstr(def->description, ";r=l-1,u-orig"));
        assert_non_null(slice_listener(&s, "l-2")->default_cert_id);
        assert_string_equal(slice_listener(&s, "l-2")->default_cert_id, "c-web-old");
        ctl_pcache_slice_cleanup(&s);
        assert_null(s.certs.items);
    }
    /* Without a want: the listener, its bound certificates, what they replaced, and the
     * listeners binding any of them. */
    struct ctl_pcache_slice s;
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, NULL, &s, NULL), CS_OK);
    static const char *const bare_certs[] = {"c-def", "u-sni", "u-orig", NULL};
    static const char *const bare_listeners[] = {"l-1", "l-3", NULL};
    assert_cert_ids(&s, bare_certs);
    assert_listener_ids(&s, bare_listeners);
    ctl_pcache_slice_cleanup(&s);
    assert_int_equal(f->list_certs_calls, 1);
    assert_int_equal(f->find_calls, 0);
    want_free(&w);
    ctl_pcache_free(c);
    fake_free(f);
}

/* The controller's writes while a refresh's lists are in flight (the provider answered before
 * the write, the view is swapped after it) must survive the swap. */
struct race {
    struct ctl_pcache *c;
    struct fake *f;
    bool nested; /* another refresh starts and completes inside this one's lists */
    int fired;
};

static void race_writes(void *ud)
{
    struct race *x = ud;
    if (x->fired++)
        return;
    if (x->nested)
        assert_int_equal(ctl_pcache_refresh(x->c, REGION, NULL), CS_OK);
    /* What the controller does after creating c-fresh and binding it to l-1, and deleting
     * c-web-old: the provider has all of it, the lists just taken have none of it. */
    struct elb_cert nc = managed_cert(x->f, "c-fresh", CLUSTER, "shop", "web", "v3", NULL, NULL);
    ctl_pcache_put_cert(x->c, REGION, &nc);
    fake_add_cert(x->f, &nc);
    const char *sni[] = {"u-sni"};
    ctl_pcache_set_bindings(x->c, REGION, "l-1", "c-fresh", sni, 1);
    ctl_pcache_remove_cert(x->c, REGION, "c-web-old");
    ctl_pcache_rename_cert(x->c, REGION, "u-sel", "selected-renamed");
}

static void test_refresh_keeps_racing_writes(void **state)
{
    (void)state;
    for (int mode = 0; mode < 4; mode++) {
        const int loaded = mode & 1;
        struct fake *f = fake_new(true);
        scene(f);
        struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
        if (loaded)
            assert_int_equal(ctl_pcache_ensure(c, REGION, NULL), CS_OK);
        size_t ours0 = 0, all0 = 0;
        ctl_pcache_counts(c, REGION, &ours0, &all0);
        struct race x = {.c = c, .f = f, .nested = mode & 2};
        f->during_list = race_writes;
        f->during_list_ud = &x;
        assert_int_equal(ctl_pcache_refresh(c, REGION, NULL), CS_OK);
        assert_int_equal(x.fired, x.nested ? 2 : 1);
        f->during_list = NULL;
        struct ctl_pcache_slice s;
        struct want w;
        want_init(&w, LB, NULL, 443);
        want_managed(&w, f, "shop", "web", "v3");
        want_selected(&w, "u-sel");
        assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL), CS_OK);
        if (!slice_cert(&s, "c-fresh"))
            fail_msg("loaded=%d nested=%d: the certificate created during the refresh is lost",
                     loaded, x.nested);
        assert_string_equal(s.listener.default_cert_id, "c-fresh");
        assert_null(slice_cert(&s, "c-web-old"));
        assert_string_equal(slice_cert(&s, "u-sel")->name, "selected-renamed");
        ctl_pcache_slice_cleanup(&s);
        want_free(&w);
        size_t ours, all;
        ctl_pcache_counts(c, REGION, &ours, &all);
        assert_int_equal(all, 13); /* 13 + c-fresh - c-web-old */
        assert_int_equal(ours, 6);
        /* The next refresh (nothing racing) does not replay them again: the view is the
         * provider's (which never deleted c-web-old nor renamed u-sel: they come back). */
        assert_int_equal(ctl_pcache_refresh(c, REGION, NULL), CS_OK);
        assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, NULL, &s, NULL), CS_OK);
        assert_string_equal(s.listener.default_cert_id, "c-def");
        ctl_pcache_slice_cleanup(&s);
        ctl_pcache_counts(c, REGION, &ours, &all);
        assert_int_equal(all, 14);
        assert_int_equal(ours, 7);
        ctl_pcache_free(c);
        fake_free(f);
    }
}

/* Each way a certificate enters the slice, alone. */
static void test_slice_each_index(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    scene(f);
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    struct ctl_pcache_slice s;
    static const char *const bound[] = {"c-def", "u-sni", "u-orig"};

    /* By expected name only (secret fields unset): c-new and u-same carry it. */
    struct want w;
    want_init(&w, LB, NULL, 443);
    struct ctl_cert_want *e = want_add(&w, CTL_WANT_MANAGED);
    e->name = expected_name(f, "shop", "web", "v2");
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL), CS_OK);
    const char *by_name[] = {bound[0], bound[1], bound[2], "c-new", "u-same", NULL};
    assert_cert_ids(&s, by_name);
    ctl_pcache_slice_cleanup(&s);
    want_free(&w);

    /* By selected ID only. */
    want_init(&w, LB, NULL, 443);
    want_selected(&w, "u-sel");
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL), CS_OK);
    const char *by_id[] = {bound[0], bound[1], bound[2], "u-sel", NULL};
    assert_cert_ids(&s, by_id);
    ctl_pcache_slice_cleanup(&s);
    want_free(&w);

    /* A selected ID the region does not have: nothing added, no error. */
    want_init(&w, LB, NULL, 443);
    want_selected(&w, "gone");
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL), CS_OK);
    const char *none[] = {bound[0], bound[1], bound[2], NULL};
    assert_cert_ids(&s, none);
    ctl_pcache_slice_cleanup(&s);
    want_free(&w);

    /* By record s= (Secret fields only, no name, no readable): every owned version. */
    want_init(&w, LB, NULL, 443);
    e = want_add(&w, CTL_WANT_KEEP);
    e->secret_ns = strdup("shop");
    e->secret_name = strdup("web");
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL), CS_OK);
    const char *by_s[] = {bound[0], bound[1], bound[2], "c-new", "c-web-old", NULL};
    assert_cert_ids(&s, by_s);
    static const char *const by_s_listeners[] = {"l-1", "l-2", "l-3", NULL};
    assert_listener_ids(&s, by_s_listeners);
    ctl_pcache_slice_cleanup(&s);
    want_free(&w);

    /* By record h= (the names did not fit the description). */
    want_init(&w, LB, NULL, 443);
    e = want_add(&w, CTL_WANT_KEEP);
    e->secret_ns = strdup(LONG_NS);
    e->secret_name = strdup(long_secret);
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL), CS_OK);
    const char *by_h[] = {bound[0], bound[1], bound[2], "c-long", NULL};
    assert_cert_ids(&s, by_h);
    assert_non_null(strstr(slice_cert(&s, "c-long")->description, ";h="));
    ctl_pcache_slice_cleanup(&s);
    want_free(&w);

    /* By readable part only: the owned certificates whose names carry it (not u-prefix,
     * which has the same readable part but is not ours, nor c-prod). */
    want_init(&w, LB, NULL, 443);
    e = want_add(&w, CTL_WANT_KEEP);
    e->readable = strdup("shop.web");
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL), CS_OK);
    assert_cert_ids(&s, by_s);
    ctl_pcache_slice_cleanup(&s);
    want_free(&w);

    /* A listener binding nothing, no want: just the listener. */
    fake_add_listener(f, "l-empty", LB, 9443, NULL, NULL);
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, "l-empty", 0, NULL, &s, NULL), CS_OK);
    const char *nothing[] = {NULL};
    assert_cert_ids(&s, nothing);
    const char *just[] = {"l-empty", NULL};
    assert_listener_ids(&s, just);
    assert_null(s.listener.default_cert_id);
    ctl_pcache_slice_cleanup(&s);
    /* The runtime's record names certificates neither bound nor ours: carried when asked
     * (an ID the view does not have is left out, an overlong one ignored). */
    char extra[400];
    snprintf(extra, sizeof(extra), "u-prefix c-prod nope %0200d", 7);
    assert_int_equal(ctl_pcache_slice_extra(c, REGION, LB, "l-empty", 0, NULL, extra, &s, NULL),
                     CS_OK);
    const char *recorded[] = {"u-prefix", "c-prod", NULL};
    assert_cert_ids(&s, recorded);
    ctl_pcache_slice_cleanup(&s);
    ctl_pcache_free(c);
    fake_free(f);
}

/* UCloud-like provider (no descriptions): ownership by name, found by the readable part. */
static void test_slice_names_only(void **state)
{
    (void)state;
    struct fake *f = fake_new(false);
    add_managed(f, "c-a", "shop", "web", "v1", NULL, NULL);
    add_managed(f, "c-b", "shop", "web", "v2", NULL, NULL);
    add_managed(f, "c-other", "shop", "api", "v1", NULL, NULL);
    struct elb_cert p = managed_cert(f, "c-prod", "prod", "shop", "web", "v1", NULL, NULL);
    fake_add_cert(f, &p);
    add_user(f, "u-1", "customer", NULL);
    add_bulk(f, 200);
    fake_add_listener(f, "vs-1", "ulb-1", 443, "c-a", NULL);
    fake_add_listener(f, "vs-2", "ulb-1", 444, "c-b", NULL);
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    struct want w;
    want_init(&w, "ulb-1", NULL, 443);
    want_managed(&w, f, "shop", "web", "v3");
    assert_null(f->certs[0].description);
    struct ctl_pcache_slice s;
    assert_int_equal(ctl_pcache_slice(c, REGION, "ulb-1", NULL, 443, &w.w, &s, NULL), CS_OK);
    const char *certs[] = {"c-a", "c-b", NULL};
    const char *ls[] = {"vs-1", "vs-2", NULL};
    assert_cert_ids(&s, certs);
    assert_listener_ids(&s, ls);
    ctl_pcache_slice_cleanup(&s);
    size_t ours, all;
    ctl_pcache_counts(c, REGION, &ours, &all);
    assert_int_equal(all, 205);
    /* c-a c-b c-other, and the bulk's ours (every 4th of 200) and the bulk's "our prefix
     * without record" ones (ours where there are no descriptions: every 4th). */
    assert_int_equal(ours, 3 + 50 + 50);
    want_free(&w);
    ctl_pcache_free(c);
    fake_free(f);
}

/* Regression: the replaced-certificate pass added to the set it was walking by index; a
 * sorted insert shifted the rest, so a certificate after one whose replaced ID sorts first
 * was never looked at, and what it replaced was missing from the slice. */
static void test_slice_every_replaced(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    add_managed(f, "c-a", "shop", "a", "a1", "l-8", "a-orig");
    add_managed(f, "c-b", "shop", "b", "b1", "l-9", "x-b-orig");
    add_managed(f, "c-c", "shop", "c", "c1", "l-7", "b-orig");
    add_user(f, "a-orig", "a-orig", NULL);
    add_user(f, "b-orig", "b-orig", NULL);
    add_user(f, "x-b-orig", "x-b-orig", NULL);
    fake_add_listener(f, "l-8", "lb-8", 443, "a-orig", NULL);
    fake_add_listener(f, "l-x", "lb-x", 443, "x-b-orig", NULL);
    fake_add_listener(f, "l-9", "lb-9", 443, "c-b", (const char *const[]){"c-a", "c-c", NULL});
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    struct ctl_pcache_slice s;
    assert_int_equal(ctl_pcache_slice(c, REGION, "lb-9", NULL, 443, NULL, &s, NULL), CS_OK);
    const char *certs[] = {"c-a", "c-b", "c-c", "a-orig", "b-orig", "x-b-orig", NULL};
    const char *ls[] = {"l-9", "l-8", "l-x", NULL};
    assert_cert_ids(&s, certs);
    assert_listener_ids(&s, ls);
    ctl_pcache_slice_cleanup(&s);
    ctl_pcache_free(c);
    fake_free(f);
}

/* A listener the view lacks is read with find_listener once and kept; one the provider lacks
 * is CS_ENOTFOUND. */
static void test_slice_fetches_missing(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    scene(f);
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    assert_int_equal(ctl_pcache_ensure(c, REGION, NULL), CS_OK);
    /* Created after the list. */
    static const char *const sni[] = {"c-api", NULL};
    fake_add_listener(f, "l-new", LB, 7443, "c-new", sni);
    struct ctl_pcache_slice s;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 7443, NULL, &s, NULL), CS_OK);
        assert_string_equal(s.listener.id, "l-new");
        const char *certs[] = {"c-new", "c-api", NULL};
        const char *ls[] = {"l-new", "l-5", NULL};
        assert_cert_ids(&s, certs);
        assert_listener_ids(&s, ls);
        ctl_pcache_slice_cleanup(&s);
        assert_int_equal(f->find_calls, 1);
    }
    /* Kept: found by ID too, and it now binds c-new for other slices. */
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, "l-new", 0, NULL, &s, NULL), CS_OK);
    ctl_pcache_slice_cleanup(&s);
    assert_int_equal(f->find_calls, 1);
    struct want w;
    want_init(&w, LB, NULL, 443);
    want_managed(&w, f, "shop", "web", "v2");
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL), CS_OK);
    assert_non_null(slice_listener(&s, "l-new"));
    ctl_pcache_slice_cleanup(&s);
    want_free(&w);

    /* By ID, not in the view. */
    fake_add_listener(f, "l-new2", "lb-9", 443, NULL, NULL);
    assert_int_equal(ctl_pcache_slice(c, REGION, "lb-9", "l-new2", 0, NULL, &s, NULL), CS_OK);
    assert_string_equal(s.listener.id, "l-new2");
    ctl_pcache_slice_cleanup(&s);
    assert_int_equal(f->find_calls, 2);

    /* None. */
    struct cs_err err;
    cs_err_clear(&err);
    memset(&s, 0x5A, sizeof(s));
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 1, NULL, &s, &err), CS_ENOTFOUND);
    assert_int_equal(err.code, CS_ENOTFOUND);
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, "nope", 0, NULL, &s, NULL), CS_ENOTFOUND);
    assert_int_equal(f->find_calls, 4);
    assert_int_equal(f->list_certs_calls, 1);

    /* Forgotten: read again at the next slice. */
    ctl_pcache_forget_listener(c, REGION, "l-1");
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, NULL, &s, NULL), CS_OK);
    assert_string_equal(s.listener.id, "l-1");
    ctl_pcache_slice_cleanup(&s);
    assert_int_equal(f->find_calls, 5);
    ctl_pcache_free(c);
    fake_free(f);
}

/* The controller's own writes keep every index right. */
static void test_writes_keep_indexes(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    scene(f);
    add_bulk(f, 100);
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    assert_int_equal(ctl_pcache_ensure(c, REGION, NULL), CS_OK);
    struct want w;
    scene_want(&w, f);
    struct ctl_pcache_slice s;
    size_t ours0, all0, ours, all;
    ctl_pcache_counts(c, REGION, &ours0, &all0);

    /* put: the new version of the long Secret (found by h=) and of shop/web (by name). */
    struct elb_cert nc = managed_cert(f, "c-long-2", CLUSTER, LONG_NS, long_secret, "long-v2",
                                      NULL, NULL);
    ctl_pcache_put_cert(c, REGION, &nc);
    ctl_pcache_counts(c, REGION, &ours, &all);
    assert_int_equal(all, all0 + 1);
    assert_int_equal(ours, ours0 + 1);
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL), CS_OK);
    assert_non_null(slice_cert(&s, "c-long-2"));
    ctl_pcache_slice_cleanup(&s);
    /* put again (same ID, now with a record saying it replaced something): no double count. */
    elb_cert_cleanup(&nc);
    nc = managed_cert(f, "c-long-2", CLUSTER, LONG_NS, long_secret, "long-v2", "l-1",
                      "bulk-c-00002");
    ctl_pcache_put_cert(c, REGION, &nc);
    ctl_pcache_counts(c, REGION, &ours, &all);
    assert_int_equal(all, all0 + 1);
    assert_int_equal(ours, ours0 + 1);
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL), CS_OK);
    assert_non_null(strstr(slice_cert(&s, "c-long-2")->description, "bulk-c-00002"));
    assert_non_null(slice_cert(&s, "bulk-c-00002"));   /* what it says it replaced */
    assert_non_null(slice_listener(&s, "bulk-l-00002")); /* and who binds that */
    ctl_pcache_slice_cleanup(&s);
    elb_cert_cleanup(&nc);
    /* A foreign certificate put: counted in all, not in ours. */
    struct elb_cert uc = user_cert("u-put", "whatever", NULL);
    ctl_pcache_put_cert(c, REGION, &uc);
    elb_cert_cleanup(&uc);
    ctl_pcache_counts(c, REGION, &ours, &all);
    assert_int_equal(all, all0 + 2);
    assert_int_equal(ours, ours0 + 1);
    /* A put without ID, or into a region never loaded, is ignored. */
    struct elb_cert noid = user_cert("x", "y", NULL);
    free(noid.id);
    noid.id = NULL;
    ctl_pcache_put_cert(c, REGION, &noid);
    elb_cert_cleanup(&noid);
    nc = managed_cert(f, "c-elsewhere", CLUSTER, "shop", "web", "v9", NULL, NULL);
    ctl_pcache_put_cert(c, "never-loaded", &nc);
    elb_cert_cleanup(&nc);
    ctl_pcache_counts(c, REGION, &ours, &all);
    assert_int_equal(all, all0 + 2);
    ctl_pcache_counts(c, "never-loaded", &ours, &all);
    assert_int_equal(all, 0);

    /* set_bindings: l-1 moves to c-new + c-long-2; c-def and u-sni stay in the slice only
     * through the want (c-def by s=) or not at all (u-sni). */
    const char *sni[] = {"c-long-2"};
    ctl_pcache_set_bindings(c, REGION, "l-1", "c-new", sni, 1);
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL), CS_OK);
    assert_string_equal(s.listener.default_cert_id, "c-new");
    assert_int_equal(s.listener.n_sni, 1);
    assert_string_equal(s.listener.sni_cert_ids[0], "c-long-2");
    assert_null(slice_cert(&s, "u-sni"));
    assert_non_null(slice_cert(&s, "c-def"));
    /* c-def no longer bound: its replaced u-orig comes in only by c-def's record. */
    assert_non_null(slice_cert(&s, "u-orig"));
    /* c-long-2's record brings bulk-c-00002 and its listener. */
    assert_non_null(slice_listener(&s, "bulk-l-00002"));
    ctl_pcache_slice_cleanup(&s);
    /* bound_by follows: l-1 binds c-new now, so a slice of l-2 that wants shop/web sees it. */
    struct want w2;
    want_init(&w2, LB, NULL, 8443);
    want_keep(&w2, f, "shop", "web");
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 8443, &w2.w, &s, NULL), CS_OK);
    assert_non_null(slice_listener(&s, "l-1"));
    assert_string_equal(slice_listener(&s, "l-1")->default_cert_id, "c-new");
    ctl_pcache_slice_cleanup(&s);
    /* ... and l-3, which bound u-orig, is no longer reached through l-1's old default: a
     * bare slice of a listener binding u-sni finds no one else. */
    fake_add_listener(f, "l-sni", "lb-3", 443, "u-sni", NULL);
    assert_int_equal(ctl_pcache_slice(c, REGION, "lb-3", NULL, 443, NULL, &s, NULL), CS_OK);
    const char *only_sni[] = {"l-sni", NULL};
    assert_listener_ids(&s, only_sni);
    ctl_pcache_slice_cleanup(&s);
    /* Unbinding everything. */
    ctl_pcache_set_bindings(c, REGION, "l-1", NULL, NULL, 0);
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, NULL, &s, NULL), CS_OK);
    assert_null(s.listener.default_cert_id);
    assert_int_equal(s.listener.n_sni, 0);
    assert_int_equal(s.certs.n, 0);
    const char *just_l1[] = {"l-1", NULL};
    assert_listener_ids(&s, just_l1);
    ctl_pcache_slice_cleanup(&s);
    /* Bindings of a listener the view does not have: ignored. */
    ctl_pcache_set_bindings(c, REGION, "nope", "c-new", NULL, 0);

    /* rename: c-web-old gets a name of another Secret's; the indexes follow. */
    char *api_name = expected_name(f, "shop", "api", "api-v1");
    ctl_pcache_rename_cert(c, REGION, "c-web-old", api_name);
    ctl_pcache_counts(c, REGION, &ours, &all);
    /* Its record still says shop/web, but its name's hash no longer matches: not ours. */
    assert_int_equal(ours, ours0);
    struct want wa;
    want_init(&wa, LB, NULL, 443);
    struct ctl_cert_want *e = want_add(&wa, CTL_WANT_MANAGED);
    e->name = strdup(api_name);
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &wa.w, &s, NULL), CS_OK);
    assert_non_null(slice_cert(&s, "c-web-old")); /* by its new name */
    assert_non_null(slice_cert(&s, "c-api"));
    assert_string_equal(slice_cert(&s, "c-web-old")->name, api_name);
    ctl_pcache_slice_cleanup(&s);
    want_free(&wa);
    /* ... and the old name no longer finds it. */
    struct want wo;
    want_init(&wo, LB, NULL, 443);
    e = want_add(&wo, CTL_WANT_MANAGED);
    e->name = expected_name(f, "shop", "web", "v0");
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &wo.w, &s, NULL), CS_OK);
    assert_null(slice_cert(&s, "c-web-old"));
    ctl_pcache_slice_cleanup(&s);
    want_free(&wo);
    /* Renamed back: ours again. */
    char *old_name = expected_name(f, "shop", "web", "v0");
    ctl_pcache_rename_cert(c, REGION, "c-web-old", old_name);
    ctl_pcache_counts(c, REGION, &ours, &all);
    assert_int_equal(ours, ours0 + 1);
    ctl_pcache_rename_cert(c, REGION, "nope", old_name); /* ignored */
    free(old_name);
    free(api_name);

    /* remove: gone from every index. */
    ctl_pcache_remove_cert(c, REGION, "c-new");
    ctl_pcache_remove_cert(c, REGION, "c-new"); /* twice: no-op */
    ctl_pcache_remove_cert(c, REGION, "nope");
    ctl_pcache_counts(c, REGION, &ours, &all);
    assert_int_equal(ours, ours0);
    assert_int_equal(all, all0 + 1);
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL), CS_OK);
    assert_null(slice_cert(&s, "c-new"));
    assert_non_null(slice_cert(&s, "u-same")); /* the user's one of the same name stays */
    ctl_pcache_slice_cleanup(&s);
    /* A listener still binding a removed certificate: the slice lists the binding, not the
     * certificate (the plan sees a dangling ID). */
    ctl_pcache_set_bindings(c, REGION, "l-1", "c-def", NULL, 0);
    ctl_pcache_remove_cert(c, REGION, "c-def");
    assert_int_equal(ctl_pcache_slice(c, REGION, LB, NULL, 443, NULL, &s, NULL), CS_OK);
    assert_string_equal(s.listener.default_cert_id, "c-def");
    assert_int_equal(s.certs.n, 0);
    ctl_pcache_slice_cleanup(&s);

    /* A refresh replaces the view with the provider's: the writes above were only ours. */
    assert_int_equal(ctl_pcache_refresh(c, REGION, NULL), CS_OK);
    ctl_pcache_counts(c, REGION, &ours, &all);
    assert_int_equal(ours, ours0);
    assert_int_equal(all, all0);
    want_free(&w);
    want_free(&w2);
    ctl_pcache_free(c);
    fake_free(f);
}

static void test_listeners_with_ours(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    scene(f);
    add_bulk(f, 40);
    fake_add_listener(f, "l-sni-ours", "lb-3", 443, "u-other", (const char *const[]){"c-new",
                                                                                    NULL});
    fake_add_listener(f, "l-dangling", "lb-3", 444, "deleted-id", NULL);
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    char **keys = ctl_pcache_listeners_with_ours(c, REGION);
    assert_non_null(keys);
    assert_null(keys[0]); /* not loaded: nothing */
    ctl_pcache_regions_free(keys);
    assert_int_equal(ctl_pcache_ensure(c, REGION, NULL), CS_OK);
    keys = ctl_pcache_listeners_with_ours(c, REGION);
    size_t n = 0;
    while (keys[n])
        n++;
    qsort(keys, n, sizeof(*keys), cmp_str);
    /* l-1 (c-def), l-2 (c-web-old), l-4 (c-unrelated), l-5 (c-api), l-sni-ours (SNI), and
     * the 10 bulk listeners binding ours (every 4th of 40). Not l-3, not l-dangling. */
    char *expect[32];
    size_t ne = 0;
    expect[ne++] = ctl_listener_key(REGION, LB, NULL, 443);
    expect[ne++] = ctl_listener_key(REGION, LB, NULL, 8443);
    expect[ne++] = ctl_listener_key(REGION, "lb-2", NULL, 444);
    expect[ne++] = ctl_listener_key(REGION, "lb-2", NULL, 445);
    expect[ne++] = ctl_listener_key(REGION, "lb-3", NULL, 443);
    for (size_t i = 0; i < 40; i += 4)
        expect[ne++] = ctl_listener_key(REGION, "lb-bulk", NULL, (int)(1000 + i));
    qsort(expect, ne, sizeof(*expect), cmp_str);
    assert_int_equal(n, ne);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(keys[i], expect[i]);
    for (size_t i = 0; i < ne; i++)
        free(expect[i]);
    ctl_pcache_regions_free(keys);
    /* After our writes: l-1 rebound to a user's certificate drops out. */
    ctl_pcache_set_bindings(c, REGION, "l-1", "u-sel", NULL, 0);
    ctl_pcache_remove_cert(c, REGION, "c-api");
    keys = ctl_pcache_listeners_with_ours(c, REGION);
    char *l1 = ctl_listener_key(REGION, LB, NULL, 443);
    char *l5 = ctl_listener_key(REGION, "lb-2", NULL, 445);
    n = 0;
    for (; keys[n]; n++) {
        assert_string_not_equal(keys[n], l1);
        assert_string_not_equal(keys[n], l5);
    }
    assert_int_equal(n, ne - 2);
    free(l1);
    free(l5);
    ctl_pcache_regions_free(keys);
    ctl_pcache_free(c);
    fake_free(f);
}

static void test_region_copy(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    scene(f);
    add_bulk(f, 300);
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    struct elb_cert_list certs;
    struct elb_listener_list ls;
    assert_int_equal(ctl_pcache_region_copy(c, REGION, &certs, &ls, NULL), CS_OK);
    assert_int_equal(f->list_certs_calls, 1); /* loads when needed */
    assert_int_equal(certs.n, f->n_certs);
    assert_int_equal(ls.n, f->n_listeners);
    /* Every provider certificate once, deep-copied. */
    for (size_t i = 0; i < f->n_certs; i++) {
        size_t found = 0;
        for (size_t j = 0; j < certs.n; j++)
            if (strcmp(certs.items[j].id, f->certs[i].id) == 0) {
                found++;
                assert_ptr_not_equal(certs.items[j].id, f->certs[i].id);
                if (f->certs[i].description)
                    assert_string_equal(certs.items[j].description, f->certs[i].description);
            }
        assert_int_equal(found, 1);
    }
    for (size_t i = 0; i < f->n_listeners; i++) {
        size_t found = 0;
        for (size_t j = 0; j < ls.n; j++)
            if (strcmp(ls.items[j].id, f->listeners[i].id) == 0)
                found++;
        assert_int_equal(found, 1);
    }
    elb_cert_list_cleanup(&certs);
    elb_listener_list_cleanup(&ls);
    /* Follows our writes. */
    ctl_pcache_remove_cert(c, REGION, "c-def");
    ctl_pcache_forget_listener(c, REGION, "l-2");
    assert_int_equal(ctl_pcache_region_copy(c, REGION, &certs, &ls, NULL), CS_OK);
    assert_int_equal(certs.n, f->n_certs - 1);
    assert_int_equal(ls.n, f->n_listeners - 1);
    for (size_t j = 0; j < certs.n; j++)
        assert_string_not_equal(certs.items[j].id, "c-def");
    elb_cert_list_cleanup(&certs);
    elb_listener_list_cleanup(&ls);
    /* An empty region. */
    assert_int_equal(ctl_pcache_region_copy(c, "empty", &certs, &ls, NULL), CS_OK);
    assert_int_equal(certs.n, 0);
    assert_int_equal(ls.n, 0);
    elb_cert_list_cleanup(&certs);
    elb_listener_list_cleanup(&ls);
    ctl_pcache_free(c);
    fake_free(f);
}

/* ---------------------------------------------------------------- threads */

struct th {
    struct ctl_pcache *c;
    struct fake *f;
    const struct ctl_listener_want *want;
    int id;
    int done;
};

static void *th_slicer(void *arg)
{
    struct th *t = arg;
    for (int i = 0; i < 200; i++) {
        struct ctl_pcache_slice s;
        const bool by_id = (i + t->id) % 2;
        if (ctl_pcache_slice(t->c, REGION, LB, by_id ? "l-1" : NULL, by_id ? 0 : 443, t->want,
                             &s, NULL) != CS_OK)
            abort();
        /* Never removed by anyone: always there. */
        if (strcmp(s.listener.id, "l-1") != 0 || !slice_cert(&s, "u-sel") ||
            !slice_cert(&s, "c-long") || !slice_listener(&s, "l-1"))
            abort();
        ctl_pcache_slice_cleanup(&s);
        size_t ours, all;
        ctl_pcache_counts(t->c, REGION, &ours, &all);
        if (all < 10)
            abort();
        t->done++;
    }
    return NULL;
}

static void *th_refresher(void *arg)
{
    struct th *t = arg;
    for (int i = 0; i < 20; i++) {
        if (ctl_pcache_refresh(t->c, REGION, NULL) != CS_OK)
            abort();
        char **keys = ctl_pcache_listeners_with_ours(t->c, REGION);
        ctl_pcache_regions_free(keys);
        struct elb_cert_list certs;
        struct elb_listener_list ls;
        if (ctl_pcache_region_copy(t->c, REGION, &certs, &ls, NULL) != CS_OK)
            abort();
        elb_cert_list_cleanup(&certs);
        elb_listener_list_cleanup(&ls);
        t->done++;
    }
    return NULL;
}

static void *th_writer(void *arg)
{
    struct th *t = arg;
    char id[64], seed[64];
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof(id), "w%d-%d", t->id, i);
        snprintf(seed, sizeof(seed), "w%d-%d", t->id, i);
        struct elb_cert nc = managed_cert(t->f, id, CLUSTER, "shop", "web", seed, NULL, NULL);
        ctl_pcache_put_cert(t->c, REGION, &nc);
        ctl_pcache_rename_cert(t->c, REGION, id, "renamed");
        const char *sni[] = {id, "u-sni"};
        ctl_pcache_set_bindings(t->c, REGION, t->id % 2 ? "l-2" : "l-3", id, sni, 2);
        if (i % 3 == 0)
            ctl_pcache_remove_cert(t->c, REGION, id);
        if (i % 50 == 0)
            ctl_pcache_forget_listener(t->c, REGION, "l-4");
        elb_cert_cleanup(&nc);
        t->done++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct fake *f = fake_new(true);
    scene(f);
    add_bulk(f, 200);
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    struct want w;
    scene_want(&w, f);
    enum { SLICERS = 3, WRITERS = 2 };
    struct th ts[SLICERS + WRITERS + 1];
    pthread_t tids[SLICERS + WRITERS + 1];
    for (int i = 0; i < SLICERS + WRITERS + 1; i++) {
        ts[i] = (struct th){.c = c, .f = f, .want = &w.w, .id = i};
        void *(*fn)(void *) = i < SLICERS ? th_slicer : i < SLICERS + WRITERS ? th_writer
                                                                               : th_refresher;
        assert_int_equal(pthread_create(&tids[i], NULL, fn, &ts[i]), 0);
    }
    for (int i = 0; i < SLICERS + WRITERS + 1; i++)
        assert_int_equal(pthread_join(tids[i], NULL), 0);
    for (int i = 0; i < SLICERS; i++)
        assert_int_equal(ts[i].done, 200);
    assert_int_equal(ts[SLICERS].done, 200);
    assert_int_equal(ts[SLICERS + WRITERS].done, 20);
    /* The provider was listed once per refresh (plus at most the first load's). */
    assert_true(f->list_certs_calls >= 20 && f->list_certs_calls <= 20 + SLICERS + WRITERS);
    /* A final refresh gives exactly the provider's view back. */
    assert_int_equal(ctl_pcache_refresh(c, REGION, NULL), CS_OK);
    size_t ours, all;
    ctl_pcache_counts(c, REGION, &ours, &all);
    assert_int_equal(all, f->n_certs);
    want_free(&w);
    ctl_pcache_free(c);
    fake_free(f);
}

#ifndef PCACHE_BENCH
int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refresh_and_ensure),
        cmocka_unit_test(test_keeps_digest_not_pem),
        cmocka_unit_test(test_refresh_failure),
        cmocka_unit_test(test_refresh_keeps_racing_writes),
        cmocka_unit_test(test_slice_exact),
        cmocka_unit_test(test_slice_each_index),
        cmocka_unit_test(test_slice_names_only),
        cmocka_unit_test(test_slice_every_replaced),
        cmocka_unit_test(test_slice_fetches_missing),
        cmocka_unit_test(test_writes_keep_indexes),
        cmocka_unit_test(test_listeners_with_ours),
        cmocka_unit_test(test_region_copy),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
/* The benchmark: 10,000 certificates and 10,000 listeners around the scene. */
int main(void)
{
    cs_json_init();
    struct fake *f = fake_new(true);
    scene(f);
    add_bulk(f, 10000);
    struct ctl_pcache *c = ctl_pcache_new(&f->base, CLUSTER);
    uint64_t t0 = cs_now_ms();
    enum { REFRESHES = 5, SLICES = 20000 };
    for (int i = 0; i < REFRESHES; i++)
        if (ctl_pcache_refresh(c, REGION, NULL) != CS_OK)
            return 1;
    uint64_t t1 = cs_now_ms();
    struct want w;
    scene_want(&w, f);
    size_t got = 0;
    for (int i = 0; i < SLICES; i++) {
        struct ctl_pcache_slice s;
        if (ctl_pcache_slice(c, REGION, LB, NULL, 443, &w.w, &s, NULL) != CS_OK)
            return 1;
        got += s.certs.n;
        ctl_pcache_slice_cleanup(&s);
    }
    uint64_t t2 = cs_now_ms();
    size_t ours, all;
    ctl_pcache_counts(c, REGION, &ours, &all);
    printf("region: %zu certificates (%zu ours), %zu listeners\n", all, ours, f->n_listeners);
    printf("refresh (list copy + index): %.1f ms each\n", (double)(t1 - t0) / REFRESHES);
    printf("slice (%zu certificates, 4 listeners): %.2f us each\n", got / SLICES,
           (double)(t2 - t1) * 1000.0 / SLICES);
    want_free(&w);
    ctl_pcache_free(c);
    fake_free(f);
    return 0;
}
#endif
