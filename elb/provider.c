/* provider.c -- elb_provider_new (chooses the backend by cfg->kind), the dispatchers (which
 * also time every operation for the observe callback), cleanup and deep-copy functions of
 * elb.h, and small helpers shared by the backends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "elb/backend.h"
#include "elb/elb.h"

enum cs_code elb_provider_new(const struct elb_provider_config *cfg, struct elb_provider **out,
                              struct cs_err *err)
{
    enum cs_code rc;
    struct elb_provider *p = NULL;
    if (!cfg || !cfg->kind || !out)
        return cs_err_set(err, CS_EINVAL, 0, "provider: no kind given (huawei or ucloud)");
    if (strcmp(cfg->kind, "huawei") == 0)
        rc = elb_huawei_new(cfg, &p, err);
    else if (strcmp(cfg->kind, "ucloud") == 0)
        rc = elb_ucloud_new(cfg, &p, err);
    else
        return cs_err_set(err, CS_EINVAL, 0, "provider: unknown kind %s (huawei or ucloud)",
                          cfg->kind);
    if (rc)
        return rc;
    p->observe = cfg->observe;
    p->observe_ud = cfg->observe_ud;
    *out = p;
    return CS_OK;
}

void elb_provider_free(struct elb_provider *p)
{
    if (p)
        p->ops->destroy(p);
}

static const char *region_or_default(const struct elb_provider *p, const char *region)
{
    return region ? region : p->default_region;
}

static enum cs_code observed(struct elb_provider *p, const char *op, uint64_t start,
                             enum cs_code rc)
{
    if (p->observe)
        p->observe(p->observe_ud, op, rc, cs_now_ms() - start);
    return rc;
}

static enum cs_code bad_call(struct cs_err *err)
{
    return cs_err_set(err, CS_EINVAL, 0, "provider: missing argument");
}

const struct elb_limits *elb_limits(const struct elb_provider *p)
{
    return p->ops->limits(p);
}

enum cs_code elb_list_certs(struct elb_provider *p, const char *region, struct elb_cert_list *out,
                            struct cs_err *err)
{
    if (!p || !out)
        return bad_call(err);
    uint64_t t0 = cs_now_ms();
    return observed(p, "list_certs", t0,
                    p->ops->list_certs(p, region_or_default(p, region), out, err));
}

enum cs_code elb_get_cert(struct elb_provider *p, const char *region, const char *id,
                          struct elb_cert *out, struct cs_err *err)
{
    if (!p || !id || !id[0] || !out)
        return bad_call(err);
    uint64_t t0 = cs_now_ms();
    return observed(p, "get_cert", t0,
                    p->ops->get_cert(p, region_or_default(p, region), id, out, err));
}

enum cs_code elb_create_cert(struct elb_provider *p, const char *region,
                             const struct elb_cert_spec *spec, struct elb_cert *out,
                             struct cs_err *err)
{
    if (!p || !spec || !out)
        return bad_call(err);
    uint64_t t0 = cs_now_ms();
    return observed(p, "create_cert", t0,
                    p->ops->create_cert(p, region_or_default(p, region), spec, out, err));
}

enum cs_code elb_delete_cert(struct elb_provider *p, const char *region, const char *id,
                             struct cs_err *err)
{
    if (!p || !id || !id[0])
        return bad_call(err);
    uint64_t t0 = cs_now_ms();
    return observed(p, "delete_cert", t0,
                    p->ops->delete_cert(p, region_or_default(p, region), id, err));
}

enum cs_code elb_rename_cert(struct elb_provider *p, const char *region, const char *id,
                             const char *new_name, struct cs_err *err)
{
    if (!p || !id || !id[0] || !new_name)
        return bad_call(err);
    uint64_t t0 = cs_now_ms();
    return observed(p, "rename_cert", t0,
                    p->ops->rename_cert(p, region_or_default(p, region), id, new_name, err));
}

enum cs_code elb_find_listener(struct elb_provider *p, const char *region,
                               const struct elb_listener_ref *ref, struct elb_listener *out,
                               struct cs_err *err)
{
    if (!p || !ref || !out)
        return bad_call(err);
    uint64_t t0 = cs_now_ms();
    return observed(p, "find_listener", t0,
                    p->ops->find_listener(p, region_or_default(p, region), ref, out, err));
}

enum cs_code elb_list_listeners(struct elb_provider *p, const char *region,
                                struct elb_listener_list *out, struct cs_err *err)
{
    if (!p || !out)
        return bad_call(err);
    uint64_t t0 = cs_now_ms();
    return observed(p, "list_listeners", t0,
                    p->ops->list_listeners(p, region_or_default(p, region), out, err));
}

enum cs_code elb_set_listener_certs(struct elb_provider *p, const char *region,
                                    const struct elb_listener *current, const char *default_id,
                                    const char *const *sni_ids, size_t n_sni,
                                    struct cs_err *err)
{
    if (!p || !current || !current->id || (n_sni && !sni_ids))
        return bad_call(err);
    for (size_t i = 0; i < n_sni; i++)
        if (!sni_ids[i] || !sni_ids[i][0])
            return bad_call(err);
    uint64_t t0 = cs_now_ms();
    return observed(p, "set_listener_certs", t0,
                    p->ops->set_listener_certs(p, region_or_default(p, region), current,
                                               default_id, sni_ids, n_sni, err));
}

/* ---- cleanup and copies ---------------------------------------------------------------- */

void elb_cert_cleanup(struct elb_cert *c)
{
    if (!c)
        return;
    free(c->id);
    free(c->name);
    free(c->description);
    free(c->fingerprint);
    free(c->certificate);
    free(c->chain_digest);
    free(c->domains);
    free(c->imported_id);
    for (size_t i = 0; i < c->n_bindings; i++) {
        free(c->bindings[i].lb_id);
        free(c->bindings[i].listener_id);
    }
    free(c->bindings);
    memset(c, 0, sizeof(*c));
}

void elb_cert_list_cleanup(struct elb_cert_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        elb_cert_cleanup(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void elb_listener_cleanup(struct elb_listener *l)
{
    if (!l)
        return;
    free(l->id);
    free(l->lb_id);
    free(l->name);
    free(l->protocol);
    free(l->default_cert_id);
    for (size_t i = 0; i < l->n_sni; i++)
        free(l->sni_cert_ids[i]);
    free(l->sni_cert_ids);
    memset(l, 0, sizeof(*l));
}

void elb_listener_list_cleanup(struct elb_listener_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        elb_listener_cleanup(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static bool dup_into(char **dst, const char *src)
{
    if (!src) {
        *dst = NULL;
        return true;
    }
    *dst = strdup(src);
    return *dst != NULL;
}

enum cs_code elb_cert_copy(const struct elb_cert *src, struct elb_cert *out)
{
    struct elb_cert c;
    memset(&c, 0, sizeof(c));
    c.not_after_ms = src->not_after_ms;
    c.created_ms = src->created_ms;
    c.source = src->source;
    c.protected_ = src->protected_;
    c.bindings_known = src->bindings_known;
    if (!dup_into(&c.id, src->id) || !dup_into(&c.name, src->name) ||
        !dup_into(&c.description, src->description) ||
        !dup_into(&c.fingerprint, src->fingerprint) ||
        !dup_into(&c.certificate, src->certificate) ||
        !dup_into(&c.chain_digest, src->chain_digest) || !dup_into(&c.domains, src->domains) ||
        !dup_into(&c.imported_id, src->imported_id))
        goto fail;
    if (src->n_bindings) {
        c.bindings = calloc(src->n_bindings, sizeof(*c.bindings));
        if (!c.bindings)
            goto fail;
        for (size_t i = 0; i < src->n_bindings; i++) {
            c.n_bindings = i + 1;
            c.bindings[i].is_default = src->bindings[i].is_default;
            if (!dup_into(&c.bindings[i].lb_id, src->bindings[i].lb_id) ||
                !dup_into(&c.bindings[i].listener_id, src->bindings[i].listener_id))
                goto fail;
        }
    }
    *out = c;
    return CS_OK;
fail:
    elb_cert_cleanup(&c);
    memset(out, 0, sizeof(*out));
    return CS_ENOMEM;
}

enum cs_code elb_listener_copy(const struct elb_listener *src, struct elb_listener *out)
{
    struct elb_listener l;
    memset(&l, 0, sizeof(l));
    l.port = src->port;
    l.kind = src->kind;
    if (!dup_into(&l.id, src->id) || !dup_into(&l.lb_id, src->lb_id) ||
        !dup_into(&l.name, src->name) || !dup_into(&l.protocol, src->protocol) ||
        !dup_into(&l.default_cert_id, src->default_cert_id))
        goto fail;
    if (src->n_sni) {
        l.sni_cert_ids = calloc(src->n_sni, sizeof(*l.sni_cert_ids));
        if (!l.sni_cert_ids)
            goto fail;
        for (size_t i = 0; i < src->n_sni; i++) {
            l.n_sni = i + 1;
            if (!dup_into(&l.sni_cert_ids[i], src->sni_cert_ids[i]))
                goto fail;
        }
    }
    *out = l;
    return CS_OK;
fail:
    elb_listener_cleanup(&l);
    memset(out, 0, sizeof(*out));
    return CS_ENOMEM;
}

/* ---- helpers shared by the backends ---------------------------------------------------- */

enum cs_code elb_credentials_load(const char *path, const char *const *required, size_t n,
                                  struct cs_kvfile **out, bool *loose_permissions,
                                  struct cs_err *err)
{
    struct cs_kvfile *kv = NULL;
    bool loose = false;
    if (!path || !path[0])
        return cs_err_set(err, CS_EINVAL, 0, "no credentials file given");
    enum cs_code rc = cs_kvfile_load(path, &kv, &loose, err);
    if (rc) {
        cs_err_prefix(err, "credentials file");
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        const char *v = cs_kvfile_get(kv, required[i]);
        if (!v || !v[0]) {
            cs_kvfile_free(kv);
            return cs_err_set(err, CS_EINVAL, 0, "credentials file %s: %s is missing or empty",
                              path, required[i]);
        }
    }
    if (loose_permissions)
        *loose_permissions = loose;
    *out = kv;
    return CS_OK;
}

/* Appends the base64 bodies of the first max CERTIFICATE blocks of pem, whitespace removed. */
static void cert_bodies(const char *pem, size_t max, struct cs_buf *out)
{
    size_t n = 0;
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    const char *p = pem;
    while (p && n++ < max && (p = strstr(p, begin)) != NULL) {
        p += sizeof(begin) - 1;
        const char *e = strstr(p, end);
        if (!e)
            break;
        for (const char *q = p; q < e; q++)
            if (*q != ' ' && *q != '\t' && *q != '\r' && *q != '\n')
                cs_buf_addc(out, *q);
        cs_buf_addc(out, '|');
        p = e + sizeof(end) - 1;
    }
}

static bool pem_equal(const char *a, const char *b, size_t max)
{
    if (!a || !b)
        return false;
    struct cs_buf x, y;
    cs_buf_init(&x, 0);
    cs_buf_init(&y, 0);
    cert_bodies(a, max, &x);
    cert_bodies(b, max, &y);
    bool eq = x.len > 0 && x.len == y.len && memcmp(x.ptr, y.ptr, x.len) == 0;
    cs_buf_free(&x);
    cs_buf_free(&y);
    return eq;
}

bool elb_pem_certs_equal(const char *a, const char *b)
{
    return pem_equal(a, b, SIZE_MAX);
}

bool elb_pem_leaf_equal(const char *a, const char *b)
{
    return pem_equal(a, b, 1);
}

const struct elb_limits *elb_limits_of(const char *kind)
{
    if (kind && strcmp(kind, "huawei") == 0)
        return &elb_hw_limits;
    if (kind && strcmp(kind, "ucloud") == 0)
        return &elb_uc_limits;
    return NULL;
}
