/* state.c -- the emulated clouds' state: loading it from a seed, the certificate indexes, and
 * the /_fake/state view (certificates with their bindings, load balancers, listeners; never a
 * private key). Callers hold the server lock. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/json.h"
#include "common/util.h"
#include "tests/fakes/elb/fake_elb.h"

void fe_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];
    for (size_t i = 0; i < n; i += 2 * sizeof(b)) {
        if (RAND_bytes(b, sizeof(b)) != 1)
            for (size_t k = 0; k < sizeof(b); k++)
                b[k] = (unsigned char)cs_rand_u64();
        for (size_t k = 0; k < 2 * sizeof(b) && i + k < n; k++)
            out[i + k] = hex[(b[k / 2] >> ((k & 1) ? 0 : 4)) & 15];
    }
    out[n] = '\0';
}

void fe_now_string(int64_t wall_ms, char out[32])
{
    cs_format_time(wall_ms, false, out); /* Huawei: yyyy-MM-dd'T'HH:mm:ss'Z' */
}

/* ---- Huawei certificates ---- */

void fe_hw_cert_free(struct fe_hw_cert *c)
{
    if (!c)
        return;
    free(c->project_id);
    free(c->name);
    free(c->description);
    free(c->type);
    free(c->certificate);
    cs_secure_free_str(c->private_key);
    free(c->domain);
    free(c->source);
    free(c->scm_certificate_id);
    free(c->protection_status);
    free(c->protection_reason);
    free(c->enterprise_project_id);
    free(c->common_name);
    free(c->fingerprint);
    free(c->sans);
    free(c);
}

size_t fe_hw_cert_lower_bound(const struct fe_state *st, const char *id)
{
    size_t lo = 0, hi = st->n_hw_certs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(st->hw_certs[mid]->id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct fe_hw_cert *fe_hw_cert_find(const struct fe_state *st, const char *id)
{
    size_t i = fe_hw_cert_lower_bound(st, id);
    return i < st->n_hw_certs && strcmp(st->hw_certs[i]->id, id) == 0 ? st->hw_certs[i] : NULL;
}

enum cs_code fe_hw_cert_insert(struct fe_state *st, struct fe_hw_cert *c)
{
    if (st->n_hw_certs == st->cap_hw_certs) {
        size_t cap = st->cap_hw_certs ? st->cap_hw_certs * 2 : 64;
        struct fe_hw_cert **a = realloc(st->hw_certs, cap * sizeof(*a));
        if (!a)
            return CS_ENOMEM;
        st->hw_certs = a;
        st->cap_hw_certs = cap;
    }
    size_t i = fe_hw_cert_lower_bound(st, c->id);
    if (i < st->n_hw_certs && strcmp(st->hw_certs[i]->id, c->id) == 0)
        return CS_ECONFLICT;
    memmove(&st->hw_certs[i + 1], &st->hw_certs[i], (st->n_hw_certs - i) * sizeof(*st->hw_certs));
    st->hw_certs[i] = c;
    st->n_hw_certs++;
    return CS_OK;
}

void fe_hw_cert_remove(struct fe_state *st, const char *id)
{
    size_t i = fe_hw_cert_lower_bound(st, id);
    if (i >= st->n_hw_certs || strcmp(st->hw_certs[i]->id, id) != 0)
        return;
    fe_hw_cert_free(st->hw_certs[i]);
    memmove(&st->hw_certs[i], &st->hw_certs[i + 1],
            (st->n_hw_certs - i - 1) * sizeof(*st->hw_certs));
    st->n_hw_certs--;
}

const char *fe_hw_project_region(const struct fe_state *st, const char *project_id)
{
    for (size_t i = 0; project_id && i < st->n_hw_projects; i++)
        if (strcmp(st->hw_projects[i].id, project_id) == 0)
            return st->hw_projects[i].region;
    return NULL;
}

static bool set_str(char **dst, const char *v)
{
    char *d = strdup(v ? v : "");
    if (!d)
        return false;
    free(*dst);
    *dst = d;
    return true;
}

enum cs_code fe_hw_cert_derive(struct fe_hw_cert *c, char *why, size_t why_size)
{
    struct fe_pem_info info;
    /* A CA certificate (type client) has no key; a server certificate is checked against its
     * key when there is one (callers that require a key check its presence first). */
    bool server = strcmp(c->type, "client") != 0;
    enum cs_code rc =
        fe_pem_check(c->certificate, server ? c->private_key : NULL, &info, why, why_size);
    if (rc != CS_OK)
        return rc;
    rc = CS_ENOMEM;
    if (!set_str(&c->common_name, info.common_name) || !set_str(&c->fingerprint, info.sha1_hex) ||
        !set_str(&c->sans, info.sans))
        goto out;
    fe_now_string(info.not_after_ms, c->expire_time);
    rc = CS_OK;
out:
    fe_pem_info_cleanup(&info);
    return rc;
}

/* ---- UCloud certificates ---- */

void fe_uc_cert_free(struct fe_uc_cert *c)
{
    if (!c)
        return;
    free(c->id);
    free(c->region);
    free(c->project);
    free(c->name);
    free(c->user_cert);
    free(c->ca_cert);
    cs_secure_free_str(c->private_key);
    free(c->ussl_id);
    free(c->domains);
    free(c);
}

struct fe_uc_cert *fe_uc_cert_find(const struct fe_state *st, const char *region,
                                   const char *project, const char *id)
{
    for (size_t i = 0; id && i < st->n_uc_certs; i++) {
        struct fe_uc_cert *c = st->uc_certs[i];
        if (strcmp(c->id, id) == 0 && strcmp(c->region, region) == 0 &&
            strcmp(c->project, project) == 0)
            return c;
    }
    return NULL;
}

enum cs_code fe_uc_cert_append(struct fe_state *st, struct fe_uc_cert *c)
{
    if (st->n_uc_certs == st->cap_uc_certs) {
        size_t cap = st->cap_uc_certs ? st->cap_uc_certs * 2 : 64;
        struct fe_uc_cert **a = realloc(st->uc_certs, cap * sizeof(*a));
        if (!a)
            return CS_ENOMEM;
        st->uc_certs = a;
        st->cap_uc_certs = cap;
    }
    c->seq = ++st->uc_seq;
    st->uc_certs[st->n_uc_certs++] = c;
    return CS_OK;
}

void fe_uc_cert_remove(struct fe_state *st, const struct fe_uc_cert *c)
{
    for (size_t i = 0; i < st->n_uc_certs; i++) {
        if (st->uc_certs[i] == c) {
            fe_uc_cert_free(st->uc_certs[i]);
            memmove(&st->uc_certs[i], &st->uc_certs[i + 1],
                    (st->n_uc_certs - i - 1) * sizeof(*st->uc_certs));
            st->n_uc_certs--;
            return;
        }
    }
}

enum cs_code fe_uc_cert_derive(struct fe_uc_cert *c, char *why, size_t why_size)
{
    struct cs_buf chain;
    cs_buf_init(&chain, 1 << 20);
    struct fe_pem_info info;
    memset(&info, 0, sizeof(info));
    enum cs_code rc = CS_ENOMEM;
    if (cs_buf_adds(&chain, c->user_cert) != CS_OK)
        goto out;
    if (c->ca_cert && *c->ca_cert &&
        ((chain.len && chain.ptr[chain.len - 1] != '\n' && cs_buf_addc(&chain, '\n') != CS_OK) ||
         cs_buf_adds(&chain, c->ca_cert) != CS_OK))
        goto out;
    if ((rc = fe_pem_check(cs_buf_str(&chain), c->private_key, &info, why, why_size)) != CS_OK)
        goto out;
    rc = CS_ENOMEM;
    if (c->source == 0 && !set_str(&c->domains, info.sans[0] ? info.sans : info.common_name))
        goto out;
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t mdlen = 0;
    /* HashValue: 32 hex digits in the documented example, so MD5 of the content */
    if (!EVP_Q_digest(NULL, "MD5", NULL, chain.ptr, chain.len, md, &mdlen) || mdlen != 16) {
        snprintf(why, why_size, "cannot digest the certificate");
        rc = CS_EINVAL;
        goto out;
    }
    cs_hex(md, mdlen, c->hash);
    c->not_before = info.not_before_ms / 1000;
    c->not_after = info.not_after_ms / 1000;
    rc = CS_OK;
out:
    fe_pem_info_cleanup(&info);
    cs_buf_free(&chain);
    return rc;
}

/* ---- loading a seed ---- */

struct seed_ctx {
    struct cs_err *err;
    char where[128];
};

static enum cs_code bad(struct seed_ctx *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static enum cs_code bad(struct seed_ctx *sc, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cs_err_set(sc->err, CS_EINVAL, 0, "seed %s: %s", sc->where, msg);
}

/* A string member: required (NULL returned and error set when absent) or optional (def). */
static enum cs_code str_field(struct seed_ctx *sc, const cJSON *o, const char *key, bool required,
                              const char *def, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return bad(sc, "\"%s\" is required", key);
        if (!def) {
            *out = NULL;
            return CS_OK;
        }
        return (*out = strdup(def)) ? CS_OK : CS_ENOMEM;
    }
    if (!cJSON_IsString(v))
        return bad(sc, "\"%s\" must be a string", key);
    if (required && !*v->valuestring)
        return bad(sc, "\"%s\" must not be empty", key);
    return (*out = strdup(v->valuestring)) ? CS_OK : CS_ENOMEM;
}

static const cJSON *array_field(struct seed_ctx *sc, const cJSON *o, const char *key,
                                enum cs_code *rc)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *rc = CS_OK;
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsArray(v))
        *rc = bad(sc, "\"%s\" must be an array", key);
    return cJSON_IsArray(v) ? v : NULL;
}

static bool role_console(const cJSON *o)
{
    const char *r = cs_json_str(o, "role");
    return r && strcmp(r, "console") == 0;
}

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static enum cs_code load_hw_cert(struct seed_ctx *sc, struct fe_state *st, const cJSON *o,
                                 int64_t now)
{
    enum cs_code rc;
    struct fe_hw_cert *c = calloc(1, sizeof(*c));
    char *id = NULL;
    char why[160] = "";
    if (!c)
        return CS_ENOMEM;
    if ((rc = str_field(sc, o, "id", false, NULL, &id)) != CS_OK)
        goto out;
    if (id && !id_ok(id)) {
        rc = bad(sc, "\"id\" must be 1-64 characters of [A-Za-z0-9_-]");
        goto out;
    }
    if (id)
        snprintf(c->id, sizeof(c->id), "%s", id);
    else
        fe_random_hex(c->id, 32);
    if ((rc = str_field(sc, o, "project_id", true, NULL, &c->project_id)) != CS_OK ||
        (rc = str_field(sc, o, "name", false, "", &c->name)) != CS_OK ||
        (rc = str_field(sc, o, "description", false, "", &c->description)) != CS_OK ||
        (rc = str_field(sc, o, "type", false, "server", &c->type)) != CS_OK ||
        (rc = str_field(sc, o, "certificate", true, NULL, &c->certificate)) != CS_OK ||
        (rc = str_field(sc, o, "private_key", false, NULL, &c->private_key)) != CS_OK ||
        (rc = str_field(sc, o, "domain", false, "", &c->domain)) != CS_OK ||
        (rc = str_field(sc, o, "source", false, "", &c->source)) != CS_OK ||
        (rc = str_field(sc, o, "scm_certificate_id", false, "", &c->scm_certificate_id)) != CS_OK ||
        (rc = str_field(sc, o, "protection_status", false, "nonProtection",
                        &c->protection_status)) != CS_OK ||
        (rc = str_field(sc, o, "protection_reason", false, "", &c->protection_reason)) != CS_OK ||
        (rc = str_field(sc, o, "enterprise_project_id", false, "0",
                        &c->enterprise_project_id)) != CS_OK)
        goto out;
    if (!fe_hw_project_region(st, c->project_id)) {
        rc = bad(sc, "\"project_id\" is not one of huawei.projects");
        goto out;
    }
    if (strcmp(c->protection_status, "nonProtection") != 0 &&
        strcmp(c->protection_status, "consoleProtection") != 0) {
        rc = bad(sc, "\"protection_status\" must be nonProtection or consoleProtection");
        goto out;
    }
    /* Seeds may hold certificates without their keys: the key is checked only when given. */
    rc = fe_hw_cert_derive(c, why, sizeof(why));
    if (rc == CS_EINVAL) {
        rc = bad(sc, "invalid certificate: %s", why);
        goto out;
    }
    if (rc != CS_OK)
        goto out;
    const char *created = cs_json_str(o, "created_at");
    const char *updated = cs_json_str(o, "updated_at");
    fe_now_string(now, c->created_at);
    if (created)
        snprintf(c->created_at, sizeof(c->created_at), "%s", created);
    snprintf(c->updated_at, sizeof(c->updated_at), "%s", updated ? updated : c->created_at);
    if ((rc = fe_hw_cert_insert(st, c)) == CS_ECONFLICT) {
        rc = bad(sc, "duplicate certificate id");
        goto out;
    }
    if (rc == CS_OK)
        c = NULL;
out:
    free(id);
    fe_hw_cert_free(c);
    return rc;
}

static enum cs_code str_array(struct seed_ctx *sc, const cJSON *o, const char *key, char ***out,
                              size_t *n_out)
{
    enum cs_code rc;
    const cJSON *a = array_field(sc, o, key, &rc);
    *out = NULL;
    *n_out = 0;
    if (!a)
        return rc;
    size_t n = (size_t)cJSON_GetArraySize(a);
    char **v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return CS_ENOMEM;
    size_t i = 0;
    for (const cJSON *it = a->child; it; it = it->next, i++) {
        if (!cJSON_IsString(it) || !*it->valuestring) {
            rc = bad(sc, "\"%s\" must hold non-empty strings", key);
            goto fail;
        }
        if (!(v[i] = strdup(it->valuestring))) {
            rc = CS_ENOMEM;
            goto fail;
        }
    }
    *out = v;
    *n_out = n;
    return CS_OK;
fail:
    for (size_t k = 0; k < n; k++)
        free(v[k]);
    free(v);
    return rc;
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static enum cs_code hw_cert_ref_ok(struct seed_ctx *sc, const struct fe_state *st,
                                   const char *project, const char *id)
{
    const struct fe_hw_cert *c = fe_hw_cert_find(st, id);
    if (!c || strcmp(c->project_id, project) != 0)
        return bad(sc, "certificate %s is not a certificate of project %s", id, project);
    return CS_OK;
}

static enum cs_code load_hw_lb(struct seed_ctx *sc, struct fe_state *st, const cJSON *o,
                               struct fe_hw_lb *lb, int64_t now)
{
    enum cs_code rc;
    if ((rc = str_field(sc, o, "id", true, NULL, &lb->id)) != CS_OK ||
        (rc = str_field(sc, o, "project_id", true, NULL, &lb->project_id)) != CS_OK ||
        (rc = str_field(sc, o, "name", false, "", &lb->name)) != CS_OK)
        return rc;
    if (!fe_hw_project_region(st, lb->project_id))
        return bad(sc, "\"project_id\" is not one of huawei.projects");
    const cJSON *ls = array_field(sc, o, "listeners", &rc);
    if (rc != CS_OK)
        return rc;
    size_t n = ls ? (size_t)cJSON_GetArraySize(ls) : 0;
    if (n && !(lb->listeners = calloc(n, sizeof(*lb->listeners))))
        return CS_ENOMEM;
    for (const cJSON *it = ls ? ls->child : NULL; it; it = it->next) {
        struct fe_hw_listener *l = &lb->listeners[lb->n_listeners++];
        l->lb = lb;
        if (!cJSON_IsObject(it))
            return bad(sc, "listeners must be objects");
        if ((rc = str_field(sc, it, "id", true, NULL, &l->id)) != CS_OK ||
            (rc = str_field(sc, it, "name", false, "", &l->name)) != CS_OK ||
            (rc = str_field(sc, it, "protocol", false, "HTTPS", &l->protocol)) != CS_OK ||
            (rc = str_field(sc, it, "default_tls_container_ref", false, NULL, &l->default_tls)) !=
                CS_OK ||
            (rc = str_field(sc, it, "sni_match_algo", false, "", &l->sni_match_algo)) != CS_OK ||
            (rc = str_array(sc, it, "sni_container_refs", &l->sni, &l->n_sni)) != CS_OK)
            return rc;
        const cJSON *port = cJSON_GetObjectItemCaseSensitive(it, "port");
        if (!port)
            port = cJSON_GetObjectItemCaseSensitive(it, "protocol_port");
        if (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535)
            return bad(sc, "listener %s: \"port\" must be a number in [1, 65535]", l->id);
        l->port = port->valueint;
        if (l->default_tls && !*l->default_tls) {
            free(l->default_tls);
            l->default_tls = NULL;
        }
        if (l->default_tls && (rc = hw_cert_ref_ok(sc, st, lb->project_id, l->default_tls)))
            return rc;
        for (size_t k = 0; k < l->n_sni; k++)
            if ((rc = hw_cert_ref_ok(sc, st, lb->project_id, l->sni[k])) != CS_OK)
                return rc;
        fe_now_string(now, l->created_at);
        memcpy(l->updated_at, l->created_at, sizeof(l->updated_at));
    }
    return CS_OK;
}

static enum cs_code load_huawei(struct seed_ctx *sc, struct fe_state *st, const cJSON *hw,
                                int64_t now)
{
    enum cs_code rc;
    const cJSON *a;
    size_t i;

    st->hw_quota = 120; /* ELB's default certificate quota */
    st->hw_key_echo = false;
    if (!hw)
        return CS_OK;
    snprintf(sc->where, sizeof(sc->where), "huawei");
    if (!cJSON_IsObject(hw))
        return bad(sc, "must be an object");
    const cJSON *q = cs_json_path(hw, "quota.certificates");
    if (q) {
        if (!cJSON_IsNumber(q) || q->valuedouble < 0 || q->valuedouble > 1e7)
            return bad(sc, "quota.certificates must be a number in [0, 10000000]");
        st->hw_quota = (size_t)q->valuedouble;
    }
    st->hw_key_echo = cs_json_bool(hw, "private_key_echo", false);

    if (!(a = array_field(sc, hw, "projects", &rc)) && rc != CS_OK)
        return rc;
    if (a && !(st->hw_projects = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*st->hw_projects))))
        return CS_ENOMEM;
    i = 0;
    for (const cJSON *it = a ? a->child : NULL; it; it = it->next, i++) {
        snprintf(sc->where, sizeof(sc->where), "huawei.projects[%zu]", i);
        struct fe_hw_project *p = &st->hw_projects[st->n_hw_projects++];
        if ((rc = str_field(sc, it, "id", true, NULL, &p->id)) != CS_OK ||
            (rc = str_field(sc, it, "region", true, NULL, &p->region)) != CS_OK)
            return rc;
    }

    snprintf(sc->where, sizeof(sc->where), "huawei");
    if (!(a = array_field(sc, hw, "credentials", &rc)) && rc != CS_OK)
        return rc;
    if (a && !(st->hw_creds = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*st->hw_creds))))
        return CS_ENOMEM;
    i = 0;
    for (const cJSON *it = a ? a->child : NULL; it; it = it->next, i++) {
        snprintf(sc->where, sizeof(sc->where), "huawei.credentials[%zu]", i);
        struct fe_hw_cred *c = &st->hw_creds[st->n_hw_creds++];
        c->console = role_console(it);
        if ((rc = str_field(sc, it, "ak", true, NULL, &c->ak)) != CS_OK ||
            (rc = str_field(sc, it, "sk", true, NULL, &c->sk)) != CS_OK ||
            (rc = str_field(sc, it, "security_token", false, NULL, &c->security_token)) != CS_OK)
            return rc;
    }

    snprintf(sc->where, sizeof(sc->where), "huawei");
    if (!(a = array_field(sc, hw, "certificates", &rc)) && rc != CS_OK)
        return rc;
    i = 0;
    for (const cJSON *it = a ? a->child : NULL; it; it = it->next, i++) {
        snprintf(sc->where, sizeof(sc->where), "huawei.certificates[%zu]", i);
        if (!cJSON_IsObject(it))
            return bad(sc, "must be an object");
        if ((rc = load_hw_cert(sc, st, it, now)) != CS_OK)
            return rc;
    }

    snprintf(sc->where, sizeof(sc->where), "huawei");
    if (!(a = array_field(sc, hw, "loadbalancers", &rc)) && rc != CS_OK)
        return rc;
    if (a && !(st->hw_lbs = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*st->hw_lbs))))
        return CS_ENOMEM;
    i = 0;
    for (const cJSON *it = a ? a->child : NULL; it; it = it->next, i++) {
        snprintf(sc->where, sizeof(sc->where), "huawei.loadbalancers[%zu]", i);
        if (!cJSON_IsObject(it))
            return bad(sc, "must be an object");
        if ((rc = load_hw_lb(sc, st, it, &st->hw_lbs[st->n_hw_lbs++], now)) != CS_OK)
            return rc;
    }
    return CS_OK;
}

static bool in_list(char **v, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static enum cs_code load_uc_cert(struct seed_ctx *sc, struct fe_state *st, const cJSON *o,
                                 int64_t now)
{
    enum cs_code rc;
    char why[160] = "";
    struct fe_uc_cert *c = calloc(1, sizeof(*c));
    if (!c)
        return CS_ENOMEM;
    if ((rc = str_field(sc, o, "SSLId", true, NULL, &c->id)) != CS_OK ||
        (rc = str_field(sc, o, "Region", true, NULL, &c->region)) != CS_OK ||
        (rc = str_field(sc, o, "ProjectId", true, NULL, &c->project)) != CS_OK ||
        (rc = str_field(sc, o, "SSLName", true, NULL, &c->name)) != CS_OK ||
        (rc = str_field(sc, o, "UserCert", true, NULL, &c->user_cert)) != CS_OK ||
        (rc = str_field(sc, o, "CaCert", false, NULL, &c->ca_cert)) != CS_OK ||
        (rc = str_field(sc, o, "PrivateKey", false, NULL, &c->private_key)) != CS_OK ||
        (rc = str_field(sc, o, "USSLId", false, NULL, &c->ussl_id)) != CS_OK ||
        (rc = str_field(sc, o, "Domains", false, NULL, &c->domains)) != CS_OK)
        goto out;
    if (!in_list(st->uc_regions, st->n_uc_regions, c->region) ||
        !in_list(st->uc_projects, st->n_uc_projects, c->project)) {
        rc = bad(sc, "Region and ProjectId must be among ucloud.regions and ucloud.projects");
        goto out;
    }
    c->source = (int)cs_json_int(o, "SSLSource", c->ussl_id ? 1 : 0);
    c->create_time = cs_json_int(o, "CreateTime", now / 1000);
    if ((rc = fe_uc_cert_derive(c, why, sizeof(why))) == CS_EINVAL) {
        rc = bad(sc, "invalid certificate: %s", why);
        goto out;
    }
    if (rc == CS_OK && !c->domains && !(c->domains = strdup("")))
        rc = CS_ENOMEM;
    if (rc != CS_OK)
        goto out;
    if (fe_uc_cert_find(st, c->region, c->project, c->id)) {
        rc = bad(sc, "duplicate SSLId");
        goto out;
    }
    if ((rc = fe_uc_cert_append(st, c)) == CS_OK)
        c = NULL;
out:
    fe_uc_cert_free(c);
    return rc;
}

static enum cs_code load_uc_ulb(struct seed_ctx *sc, struct fe_state *st, const cJSON *o,
                                struct fe_uc_ulb *u)
{
    enum cs_code rc;
    char *type = NULL;
    if ((rc = str_field(sc, o, "ULBId", true, NULL, &u->id)) != CS_OK ||
        (rc = str_field(sc, o, "Name", false, "", &u->name)) != CS_OK ||
        (rc = str_field(sc, o, "Region", true, NULL, &u->region)) != CS_OK ||
        (rc = str_field(sc, o, "ProjectId", true, NULL, &u->project)) != CS_OK ||
        (rc = str_field(sc, o, "ULBType", false, "classic", &type)) != CS_OK)
        goto out;
    if (!in_list(st->uc_regions, st->n_uc_regions, u->region) ||
        !in_list(st->uc_projects, st->n_uc_projects, u->project)) {
        rc = bad(sc, "Region and ProjectId must be among ucloud.regions and ucloud.projects");
        goto out;
    }
    if (strcmp(type, "classic") != 0 && strcmp(type, "alb") != 0) {
        rc = bad(sc, "\"ULBType\" must be classic or alb");
        goto out;
    }
    u->alb = strcmp(type, "alb") == 0;
    const cJSON *vs = array_field(sc, o, "VServers", &rc);
    if (rc != CS_OK)
        goto out;
    size_t n = vs ? (size_t)cJSON_GetArraySize(vs) : 0;
    if (n && !(u->vservers = calloc(n, sizeof(*u->vservers)))) {
        rc = CS_ENOMEM;
        goto out;
    }
    for (const cJSON *it = vs ? vs->child : NULL; it; it = it->next) {
        struct fe_uc_vserver *v = &u->vservers[u->n_vservers++];
        if (!cJSON_IsObject(it)) {
            rc = bad(sc, "VServers must be objects");
            goto out;
        }
        if ((rc = str_field(sc, it, "VServerId", true, NULL, &v->id)) != CS_OK ||
            (rc = str_field(sc, it, "VServerName", false, "", &v->name)) != CS_OK ||
            (rc = str_field(sc, it, "Protocol", false, "HTTPS", &v->protocol)) != CS_OK ||
            (rc = str_array(sc, it, "SSLIds", &v->ssl_ids, &v->n_ssl)) != CS_OK)
            goto out;
        const cJSON *port = cJSON_GetObjectItemCaseSensitive(it, "FrontendPort");
        if (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535) {
            rc = bad(sc, "VServer %s: \"FrontendPort\" must be a number in [1, 65535]", v->id);
            goto out;
        }
        v->port = port->valueint;
        if (!u->alb && v->n_ssl > 1) {
            rc = bad(sc, "VServer %s: a classic ULB VServer holds one certificate", v->id);
            goto out;
        }
        /* ALB (ulb-api/create_listener.md): an HTTPS listener is created with its default
         * certificate (Certificates is required for HTTPS) and the default can only be
         * replaced, never unbound; HTTP listeners hold none; 1 default + 25 SNI at most. */
        if (u->alb && strcmp(v->protocol, "HTTPS") == 0 && v->n_ssl == 0) {
            rc = bad(sc, "ALB listener %s: an HTTPS listener needs a default certificate "
                         "(SSLIds[0])", v->id);
            goto out;
        }
        if (u->alb && strcmp(v->protocol, "HTTPS") != 0 && v->n_ssl > 0) {
            rc = bad(sc, "ALB listener %s: only HTTPS listeners hold certificates", v->id);
            goto out;
        }
        if (u->alb && v->n_ssl > FE_UC_ALB_CERTS_MAX) {
            rc = bad(sc, "ALB listener %s: at most %d certificates (1 default + %d SNI)", v->id,
                     FE_UC_ALB_CERTS_MAX, FE_UC_ALB_CERTS_MAX - 1);
            goto out;
        }
        for (size_t k = 0; k < v->n_ssl; k++) {
            for (size_t j = 0; j < k; j++) {
                if (strcmp(v->ssl_ids[j], v->ssl_ids[k]) == 0) {
                    rc = bad(sc, "VServer %s: %s is listed twice", v->id, v->ssl_ids[k]);
                    goto out;
                }
            }
        }
        for (size_t k = 0; k < v->n_ssl; k++) {
            if (!fe_uc_cert_find(st, u->region, u->project, v->ssl_ids[k])) {
                rc = bad(sc, "VServer %s: %s is not a certificate of its region and project",
                         v->id, v->ssl_ids[k]);
                goto out;
            }
        }
    }
out:
    free(type);
    return rc;
}

static enum cs_code load_ucloud(struct seed_ctx *sc, struct fe_state *st, const cJSON *uc,
                                int64_t now)
{
    enum cs_code rc;
    const cJSON *a;
    size_t i;

    st->uc_quota = 100;
    if (!uc)
        return CS_OK;
    snprintf(sc->where, sizeof(sc->where), "ucloud");
    if (!cJSON_IsObject(uc))
        return bad(sc, "must be an object");
    const cJSON *q = cs_json_path(uc, "quota.certificates");
    if (q) {
        if (!cJSON_IsNumber(q) || q->valuedouble < 0 || q->valuedouble > 1e7)
            return bad(sc, "quota.certificates must be a number in [0, 10000000]");
        st->uc_quota = (size_t)q->valuedouble;
    }
    if ((rc = str_array(sc, uc, "projects", &st->uc_projects, &st->n_uc_projects)) != CS_OK ||
        (rc = str_array(sc, uc, "regions", &st->uc_regions, &st->n_uc_regions)) != CS_OK)
        return rc;

    if (!(a = array_field(sc, uc, "credentials", &rc)) && rc != CS_OK)
        return rc;
    if (a && !(st->uc_creds = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*st->uc_creds))))
        return CS_ENOMEM;
    i = 0;
    for (const cJSON *it = a ? a->child : NULL; it; it = it->next, i++) {
        snprintf(sc->where, sizeof(sc->where), "ucloud.credentials[%zu]", i);
        struct fe_uc_cred *c = &st->uc_creds[st->n_uc_creds++];
        c->console = role_console(it);
        if ((rc = str_field(sc, it, "public_key", true, NULL, &c->public_key)) != CS_OK ||
            (rc = str_field(sc, it, "private_key", true, NULL, &c->private_key)) != CS_OK)
            return rc;
    }

    snprintf(sc->where, sizeof(sc->where), "ucloud");
    if (!(a = array_field(sc, uc, "ussl", &rc)) && rc != CS_OK)
        return rc;
    if (a && !(st->uc_ussl = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*st->uc_ussl))))
        return CS_ENOMEM;
    i = 0;
    for (const cJSON *it = a ? a->child : NULL; it; it = it->next, i++) {
        snprintf(sc->where, sizeof(sc->where), "ucloud.ussl[%zu]", i);
        struct fe_uc_ussl *u = &st->uc_ussl[st->n_uc_ussl++];
        if ((rc = str_field(sc, it, "USSLId", true, NULL, &u->id)) != CS_OK ||
            (rc = str_field(sc, it, "Name", false, "", &u->name)) != CS_OK ||
            (rc = str_field(sc, it, "UserCert", true, NULL, &u->user_cert)) != CS_OK ||
            (rc = str_field(sc, it, "CaCert", false, NULL, &u->ca_cert)) != CS_OK ||
            (rc = str_field(sc, it, "Domains", false, "", &u->domains)) != CS_OK)
            return rc;
    }

    snprintf(sc->where, sizeof(sc->where), "ucloud");
    if (!(a = array_field(sc, uc, "certificates", &rc)) && rc != CS_OK)
        return rc;
    i = 0;
    for (const cJSON *it = a ? a->child : NULL; it; it = it->next, i++) {
        snprintf(sc->where, sizeof(sc->where), "ucloud.certificates[%zu]", i);
        if (!cJSON_IsObject(it))
            return bad(sc, "must be an object");
        if ((rc = load_uc_cert(sc, st, it, now)) != CS_OK)
            return rc;
    }

    snprintf(sc->where, sizeof(sc->where), "ucloud");
    if (!(a = array_field(sc, uc, "ulbs", &rc)) && rc != CS_OK)
        return rc;
    if (a && !(st->uc_ulbs = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*st->uc_ulbs))))
        return CS_ENOMEM;
    i = 0;
    for (const cJSON *it = a ? a->child : NULL; it; it = it->next, i++) {
        snprintf(sc->where, sizeof(sc->where), "ucloud.ulbs[%zu]", i);
        if (!cJSON_IsObject(it))
            return bad(sc, "must be an object");
        if ((rc = load_uc_ulb(sc, st, it, &st->uc_ulbs[st->n_uc_ulbs++])) != CS_OK)
            return rc;
    }
    return CS_OK;
}

enum cs_code fe_state_load(const cJSON *seed, struct fe_state **out, struct cs_err *err)
{
    struct seed_ctx sc = {.err = err, .where = "root"};
    struct fe_state *st = calloc(1, sizeof(*st));
    enum cs_code rc = CS_ENOMEM;
    if (!st)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    if (!cJSON_IsObject(seed)) {
        rc = bad(&sc, "must be a JSON object");
        goto out;
    }
    for (const cJSON *it = seed->child; it; it = it->next) {
        if (strcmp(it->string, "huawei") != 0 && strcmp(it->string, "ucloud") != 0) {
            rc = bad(&sc, "unknown member \"%.64s\" (expected huawei, ucloud)", it->string);
            goto out;
        }
    }
    int64_t now = cs_wall_ms();
    if ((rc = load_huawei(&sc, st, cJSON_GetObjectItemCaseSensitive(seed, "huawei"), now)) !=
            CS_OK ||
        (rc = load_ucloud(&sc, st, cJSON_GetObjectItemCaseSensitive(seed, "ucloud"), now)) !=
            CS_OK)
        goto out;
    *out = st;
    st = NULL;
out:
    if (rc == CS_ENOMEM)
        cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    fe_state_free(st);
    return rc;
}

void fe_state_free(struct fe_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_hw_projects; i++) {
        free(st->hw_projects[i].id);
        free(st->hw_projects[i].region);
    }
    free(st->hw_projects);
    for (size_t i = 0; i < st->n_hw_creds; i++) {
        free(st->hw_creds[i].ak);
        cs_secure_free_str(st->hw_creds[i].sk);
        cs_secure_free_str(st->hw_creds[i].security_token);
    }
    free(st->hw_creds);
    for (size_t i = 0; i < st->n_hw_certs; i++)
        fe_hw_cert_free(st->hw_certs[i]);
    free(st->hw_certs);
    for (size_t i = 0; i < st->n_hw_lbs; i++) {
        struct fe_hw_lb *lb = &st->hw_lbs[i];
        for (size_t k = 0; k < lb->n_listeners; k++) {
            struct fe_hw_listener *l = &lb->listeners[k];
            free(l->id);
            free(l->name);
            free(l->protocol);
            free(l->default_tls);
            free_strs(l->sni, l->n_sni);
            free(l->sni_match_algo);
        }
        free(lb->listeners);
        free(lb->id);
        free(lb->project_id);
        free(lb->name);
    }
    free(st->hw_lbs);
    free_strs(st->uc_projects, st->n_uc_projects);
    free_strs(st->uc_regions, st->n_uc_regions);
    for (size_t i = 0; i < st->n_uc_creds; i++) {
        free(st->uc_creds[i].public_key);
        cs_secure_free_str(st->uc_creds[i].private_key);
    }
    free(st->uc_creds);
    for (size_t i = 0; i < st->n_uc_certs; i++)
        fe_uc_cert_free(st->uc_certs[i]);
    free(st->uc_certs);
    for (size_t i = 0; i < st->n_uc_ulbs; i++) {
        struct fe_uc_ulb *u = &st->uc_ulbs[i];
        for (size_t k = 0; k < u->n_vservers; k++) {
            free(u->vservers[k].id);
            free(u->vservers[k].name);
            free(u->vservers[k].remark);
            free(u->vservers[k].protocol);
            free_strs(u->vservers[k].ssl_ids, u->vservers[k].n_ssl);
        }
        free(u->vservers);
        free(u->id);
        free(u->name);
        free(u->region);
        free(u->project);
    }
    free(st->uc_ulbs);
    for (size_t i = 0; i < st->n_uc_ussl; i++) {
        free(st->uc_ussl[i].id);
        free(st->uc_ussl[i].name);
        free(st->uc_ussl[i].user_cert);
        free(st->uc_ussl[i].ca_cert);
        free(st->uc_ussl[i].domains);
    }
    free(st->uc_ussl);
    free(st);
}

/* ---- the /_fake/state view ---- */

static cJSON *str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *hw_cert_state(const struct fe_state *st, const struct fe_hw_cert *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *bound = NULL;
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "id", c->id);
    cJSON_AddStringToObject(j, "project_id", c->project_id);
    cJSON_AddStringToObject(j, "region", fe_hw_project_region(st, c->project_id));
    cJSON_AddStringToObject(j, "name", c->name);
    cJSON_AddStringToObject(j, "description", c->description);
    cJSON_AddStringToObject(j, "type", c->type);
    cJSON_AddStringToObject(j, "domain", c->domain);
    cJSON_AddStringToObject(j, "common_name", c->common_name);
    cJSON_AddStringToObject(j, "fingerprint", c->fingerprint);
    cJSON_AddStringToObject(j, "expire_time", c->expire_time);
    cJSON_AddStringToObject(j, "created_at", c->created_at);
    cJSON_AddStringToObject(j, "updated_at", c->updated_at);
    cJSON_AddStringToObject(j, "protection_status", c->protection_status);
    cJSON_AddStringToObject(j, "protection_reason", c->protection_reason);
    cJSON_AddStringToObject(j, "source", c->source);
    cJSON_AddStringToObject(j, "certificate", c->certificate);
    cJSON_AddBoolToObject(j, "has_private_key", c->private_key != NULL);
    if (!(bound = cJSON_AddArrayToObject(j, "listeners")))
        goto fail;
    for (size_t i = 0; i < st->n_hw_lbs; i++) {
        const struct fe_hw_lb *lb = &st->hw_lbs[i];
        for (size_t k = 0; k < lb->n_listeners; k++) {
            const struct fe_hw_listener *l = &lb->listeners[k];
            bool def = l->default_tls && strcmp(l->default_tls, c->id) == 0;
            bool sni = in_list(l->sni, l->n_sni, c->id);
            if (!def && !sni)
                continue;
            cJSON *b = cJSON_CreateObject();
            if (!b || !cJSON_AddItemToArray(bound, b)) {
                cJSON_Delete(b);
                goto fail;
            }
            cJSON_AddStringToObject(b, "loadbalancer_id", lb->id);
            cJSON_AddStringToObject(b, "listener_id", l->id);
            cJSON_AddBoolToObject(b, "default", def);
            cJSON_AddBoolToObject(b, "sni", sni);
        }
    }
    return j;
fail:
    cJSON_Delete(j);
    return NULL;
}

static cJSON *strs(char **v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

static cJSON *uc_cert_state(const struct fe_state *st, const struct fe_uc_cert *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *bound;
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "SSLId", c->id);
    cJSON_AddStringToObject(j, "Region", c->region);
    cJSON_AddStringToObject(j, "ProjectId", c->project);
    cJSON_AddStringToObject(j, "SSLName", c->name);
    cJSON_AddNumberToObject(j, "SSLSource", c->source);
    cJSON_AddItemToObject(j, "USSLId", str_or_null(c->ussl_id));
    cJSON_AddStringToObject(j, "Domains", c->domains);
    cJSON_AddStringToObject(j, "HashValue", c->hash);
    cJSON_AddNumberToObject(j, "CreateTime", (double)c->create_time);
    cJSON_AddNumberToObject(j, "NotAfter", (double)c->not_after);
    cJSON_AddStringToObject(j, "UserCert", c->user_cert);
    cJSON_AddItemToObject(j, "CaCert", str_or_null(c->ca_cert));
    cJSON_AddBoolToObject(j, "HasPrivateKey", c->private_key != NULL);
    if (!(bound = cJSON_AddArrayToObject(j, "BindedTargetSet")))
        goto fail;
    for (size_t i = 0; i < st->n_uc_ulbs; i++) {
        const struct fe_uc_ulb *u = &st->uc_ulbs[i];
        if (strcmp(u->region, c->region) != 0 || strcmp(u->project, c->project) != 0)
            continue;
        for (size_t k = 0; k < u->n_vservers; k++) {
            if (!in_list(u->vservers[k].ssl_ids, u->vservers[k].n_ssl, c->id))
                continue;
            cJSON *b = cJSON_CreateObject();
            if (!b || !cJSON_AddItemToArray(bound, b)) {
                cJSON_Delete(b);
                goto fail;
            }
            cJSON_AddStringToObject(b, "ULBId", u->id);
            cJSON_AddStringToObject(b, "VServerId", u->vservers[k].id);
            cJSON_AddStringToObject(b, "ULBType", u->alb ? "alb" : "classic");
            cJSON_AddBoolToObject(b, "IsDefault", strcmp(u->vservers[k].ssl_ids[0], c->id) == 0);
        }
    }
    return j;
fail:
    cJSON_Delete(j);
    return NULL;
}

cJSON *fe_state_to_json(const struct fe_state *st)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *hw = cJSON_AddObjectToObject(root, "huawei");
    cJSON *uc = cJSON_AddObjectToObject(root, "ucloud");
    cJSON *a;
    if (!root || !hw || !uc)
        goto fail;
    cJSON_AddNumberToObject(hw, "quota", (double)st->hw_quota);
    cJSON_AddBoolToObject(hw, "private_key_echo", st->hw_key_echo);
    if (!(a = cJSON_AddArrayToObject(hw, "projects")))
        goto fail;
    for (size_t i = 0; i < st->n_hw_projects; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddItemToArray(a, p);
        cJSON_AddStringToObject(p, "id", st->hw_projects[i].id);
        cJSON_AddStringToObject(p, "region", st->hw_projects[i].region);
    }
    if (!(a = cJSON_AddArrayToObject(hw, "certificates")))
        goto fail;
    for (size_t i = 0; i < st->n_hw_certs; i++) {
        cJSON *c = hw_cert_state(st, st->hw_certs[i]);
        if (!c || !cJSON_AddItemToArray(a, c)) {
            cJSON_Delete(c);
            goto fail;
        }
    }
    if (!(a = cJSON_AddArrayToObject(hw, "loadbalancers")))
        goto fail;
    for (size_t i = 0; i < st->n_hw_lbs; i++) {
        const struct fe_hw_lb *lb = &st->hw_lbs[i];
        cJSON *o = cJSON_CreateObject(), *ls;
        if (!o || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            goto fail;
        }
        cJSON_AddStringToObject(o, "id", lb->id);
        cJSON_AddStringToObject(o, "project_id", lb->project_id);
        cJSON_AddStringToObject(o, "name", lb->name);
        if (!(ls = cJSON_AddArrayToObject(o, "listeners")))
            goto fail;
        for (size_t k = 0; k < lb->n_listeners; k++) {
            const struct fe_hw_listener *l = &lb->listeners[k];
            cJSON *lj = cJSON_CreateObject();
            if (!lj || !cJSON_AddItemToArray(ls, lj)) {
                cJSON_Delete(lj);
                goto fail;
            }
            cJSON_AddStringToObject(lj, "id", l->id);
            cJSON_AddStringToObject(lj, "name", l->name);
            cJSON_AddStringToObject(lj, "protocol", l->protocol);
            cJSON_AddNumberToObject(lj, "protocol_port", l->port);
            cJSON_AddItemToObject(lj, "default_tls_container_ref", str_or_null(l->default_tls));
            cJSON_AddItemToObject(lj, "sni_container_refs", strs(l->sni, l->n_sni));
            cJSON_AddStringToObject(lj, "sni_match_algo", l->sni_match_algo);
        }
    }

    cJSON_AddNumberToObject(uc, "quota", (double)st->uc_quota);
    cJSON_AddItemToObject(uc, "projects", strs(st->uc_projects, st->n_uc_projects));
    cJSON_AddItemToObject(uc, "regions", strs(st->uc_regions, st->n_uc_regions));
    if (!(a = cJSON_AddArrayToObject(uc, "certificates")))
        goto fail;
    for (size_t i = 0; i < st->n_uc_certs; i++) {
        cJSON *c = uc_cert_state(st, st->uc_certs[i]);
        if (!c || !cJSON_AddItemToArray(a, c)) {
            cJSON_Delete(c);
            goto fail;
        }
    }
    if (!(a = cJSON_AddArrayToObject(uc, "ulbs")))
        goto fail;
    for (size_t i = 0; i < st->n_uc_ulbs; i++) {
        const struct fe_uc_ulb *u = &st->uc_ulbs[i];
        cJSON *o = cJSON_CreateObject(), *vs;
        if (!o || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            goto fail;
        }
        cJSON_AddStringToObject(o, "ULBId", u->id);
        cJSON_AddStringToObject(o, "Name", u->name);
        cJSON_AddStringToObject(o, "Region", u->region);
        cJSON_AddStringToObject(o, "ProjectId", u->project);
        cJSON_AddStringToObject(o, "ULBType", u->alb ? "alb" : "classic");
        if (!(vs = cJSON_AddArrayToObject(o, "VServers")))
            goto fail;
        for (size_t k = 0; k < u->n_vservers; k++) {
            const struct fe_uc_vserver *v = &u->vservers[k];
            cJSON *vj = cJSON_CreateObject();
            if (!vj || !cJSON_AddItemToArray(vs, vj)) {
                cJSON_Delete(vj);
                goto fail;
            }
            cJSON_AddStringToObject(vj, "VServerId", v->id);
            cJSON_AddStringToObject(vj, "VServerName", v->name);
            cJSON_AddStringToObject(vj, "Protocol", v->protocol);
            cJSON_AddNumberToObject(vj, "FrontendPort", v->port);
            /* SSLIds[0] is the default (kept as it was); the two members below say it
             * explicitly, and SNISSLIds are an ALB listener's extension certificates. */
            cJSON_AddItemToObject(vj, "SSLIds", strs(v->ssl_ids, v->n_ssl));
            cJSON_AddItemToObject(vj, "DefaultSSLId", str_or_null(v->n_ssl ? v->ssl_ids[0] : NULL));
            cJSON_AddItemToObject(vj, "SNISSLIds",
                                  strs(v->n_ssl ? v->ssl_ids + 1 : NULL, v->n_ssl ? v->n_ssl - 1 : 0));
            if (u->alb)
                cJSON_AddItemToObject(vj, "Remark", str_or_null(v->remark));
        }
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}
