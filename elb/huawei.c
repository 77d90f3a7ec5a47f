/* huawei.c -- the Huawei Cloud ELB v3 backend (design.md §6).
 *
 * Certificates under /v3/{project_id}/elb/certificates, listeners under .../listeners, every
 * request signed with SDK-HMAC-SHA256 (huawei_sign.c) and sent through the shared transport.
 * Request bodies that carry a private key are built in secret buffers; certificate answers are
 * received as secret (the account may echo private keys) and the key is never kept. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/codec.h"
#include "common/util.h"
#include "elb/backend.h"
#include "elb/huawei_sign.h"
#include "elb/transport.h"

#define HW_DEFAULT_ENDPOINT "https://elb.{region}.myhuaweicloud.com"
#define HW_PAGE_MAX 2000          /* ELB lists at most 2000 per page */
#define HW_MAX_ITEMS 1000000      /* a bound on list answers, against a looping server */
#define HW_NAME_MAX 255
#define HW_DESCRIPTION_MAX 255
#define HW_CERT_MAX 65536
#define HW_KEY_MAX 8192
#define HW_CHAIN_MAX 11
#define HW_SNI_MAX 50

struct hw_provider {
    struct elb_provider base;
    struct elb_transport tr;
    char *endpoint;
    char *project_spec;
    struct cs_kvfile *creds;
    const char *ak, *sk, *token; /* borrowed from creds */
    int page_size;
    struct elb_limits limits;
};

static struct hw_provider *hw(struct elb_provider *p)
{
    return (struct hw_provider *)p;
}

/* ---- pure helpers ---------------------------------------------------------------------- */

enum cs_code elb_hw_project_for_region(const char *spec, const char *default_region,
                                       const char *region, char **out, struct cs_err *err)
{
    if (!spec || !spec[0])
        return cs_err_set(err, CS_EINVAL, 0, "huawei: no project ID configured");
    if (!region || !region[0])
        return cs_err_set(err, CS_EINVAL, 0, "huawei: no region given");
    if (!strchr(spec, '=')) {
        if (strchr(spec, ','))
            return cs_err_set(err, CS_EINVAL, 0,
                              "huawei: project ID list must be region=ID,region=ID");
        if (default_region && strcmp(region, default_region) != 0)
            return cs_err_set(err, CS_EINVAL, 0,
                              "huawei: no project ID for region %s (give region=ID,...)",
                              region);
        *out = strdup(spec);
        return *out ? CS_OK : cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    }
    size_t rlen = strlen(region);
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (!eq || eq == p || eq + 1 == p + n)
            return cs_err_set(err, CS_EINVAL, 0,
                              "huawei: project ID list must be region=ID,region=ID");
        if ((size_t)(eq - p) == rlen && memcmp(p, region, rlen) == 0) {
            *out = strndup(eq + 1, (size_t)(p + n - eq - 1));
            return *out ? CS_OK : cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        }
        p += n + (comma ? 1 : 0);
    }
    return cs_err_set(err, CS_EINVAL, 0, "huawei: no project ID for region %s", region);
}

static bool contains_ci(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

enum cs_code elb_hw_map_error(long status, const char *body, size_t len, const char *request_id,
                              enum elb_hw_op op, struct cs_err *err)
{
    enum cs_code code;
    char pcode[64] = "";
    char msg[300] = "";
    char rid[128] = "";
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    if (root) {
        const char *c = cs_json_str(root, "error_code");
        const char *m = cs_json_str(root, "error_msg");
        if (!c)
            c = cs_json_path_str(root, "error.code");
        if (!m)
            m = cs_json_path_str(root, "error.message");
        if (!m)
            m = cs_json_str(root, "message");
        const char *r = cs_json_str(root, "request_id");
        if (c)
            snprintf(pcode, sizeof(pcode), "%s", c);
        if (m)
            snprintf(msg, sizeof(msg), "%s", m);
        if (r)
            snprintf(rid, sizeof(rid), "%s", r);
    }
    if (!rid[0] && request_id)
        snprintf(rid, sizeof(rid), "%s", request_id);

    /* Quota first: its status varies (400, 403, 409) across Huawei services. The ELB code is
     * not published in the pages we could read; the message is ("Quota exceeded ..."). */
    bool quota = contains_ci(msg, "quota exceed") || contains_ci(msg, "exceeds the quota") ||
                 contains_ci(msg, "insufficient quota") || contains_ci(msg, "quota is not enough");
    if (strcmp(pcode, "ELB.8905") == 0) /* the emulator's choice, unconfirmed */
        quota = true;
    if (strcmp(pcode, "APIGW.0308") == 0 || status == 429)
        code = CS_ETHROTTLED;
    else if (quota && status >= 400 && status < 500)
        code = CS_EQUOTA;
    else if (status == 401 || status == 403 || strncmp(pcode, "APIGW.03", 8) == 0 ||
             strncmp(pcode, "APIGW.01", 8) == 0)
        code = CS_EAUTH;
    else if (status == 404)
        code = CS_ENOTFOUND;
    else if (status == 409)
        code = op == ELB_HW_OP_DELETE_CERT ? CS_EINUSE : CS_ECONFLICT;
    else if (status >= 500)
        code = CS_ESERVER;
    else if (status >= 400)
        code = CS_EINVAL;
    else
        code = CS_EPROTO;

    if (err) {
        cs_err_set(err, code, status, "huawei: %s%s%s (HTTP %ld%s%s)", msg[0] ? msg : "error",
                   pcode[0] ? " " : "", pcode, status, rid[0] ? ", request_id " : "", rid);
        snprintf(err->provider_code, sizeof(err->provider_code), "%s", pcode);
    }
    cJSON_Delete(root);
    return code;
}

static bool jdup_ok(char **dst, const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        *dst = NULL;
        return true;
    }
    if (!cJSON_IsString(v))
        return false;
    *dst = strdup(v->valuestring);
    return *dst != NULL;
}

enum cs_code elb_hw_parse_cert(const cJSON *obj, struct elb_cert *out, struct cs_err *err)
{
    struct elb_cert c;
    memset(&c, 0, sizeof(c));
    if (!cJSON_IsObject(obj))
        return cs_err_set(err, CS_EPROTO, 0, "huawei: certificate is not an object");
    const char *id = cs_json_str(obj, "id");
    if (!id || !id[0])
        return cs_err_set(err, CS_EPROTO, 0, "huawei: certificate without id");
    c.id = strdup(id);
    if (!c.id || !jdup_ok(&c.name, obj, "name") || !jdup_ok(&c.description, obj, "description") ||
        !jdup_ok(&c.fingerprint, obj, "fingerprint") ||
        !jdup_ok(&c.certificate, obj, "certificate") || !jdup_ok(&c.domains, obj, "domain") ||
        !jdup_ok(&c.imported_id, obj, "scm_certificate_id")) {
        elb_cert_cleanup(&c);
        return cs_err_set(err, CS_EPROTO, 0, "huawei: certificate %s: a field has a bad type",
                          id);
    }
    const char *exp = cs_json_str(obj, "expire_time");
    if (exp && exp[0] && !cs_parse_time(exp, &c.not_after_ms))
        c.not_after_ms = 0;
    const char *cr = cs_json_str(obj, "created_at");
    if (cr && cr[0] && !cs_parse_time(cr, &c.created_ms))
        c.created_ms = 0;
    const char *src = cs_json_str(obj, "source");
    c.source = (src && strcasecmp(src, "scm") == 0) || (c.imported_id && c.imported_id[0])
                   ? ELB_CERT_SOURCE_IMPORTED
                   : ELB_CERT_SOURCE_UPLOADED;
    const char *prot = cs_json_str(obj, "protection_status");
    c.protected_ = prot && strcmp(prot, "consoleProtection") == 0;
    c.bindings_known = false; /* Huawei does not say: derive from listeners */
    *out = c;
    return CS_OK;
}

static cJSON *parse_body(const char *body, size_t len, struct cs_err *err)
{
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        cs_err_set(err, CS_EPROTO, 0, "huawei: answer is not a JSON object");
        return NULL;
    }
    return root;
}

enum cs_code elb_hw_parse_cert_response(const char *body, size_t len, struct elb_cert *out,
                                        struct cs_err *err)
{
    cJSON *root = parse_body(body, len, err);
    if (!root)
        return CS_EPROTO;
    enum cs_code rc =
        elb_hw_parse_cert(cJSON_GetObjectItemCaseSensitive(root, "certificate"), out, err);
    cJSON_Delete(root);
    return rc;
}

/* The marker for the next page: page_info.next_marker when the server gives one, else the
 * last item's ID when the page was full (the documented way), else none. */
static enum cs_code next_marker_of(const cJSON *root, const cJSON *items, size_t n,
                                   int page_size, char **next, struct cs_err *err)
{
    *next = NULL;
    if (n == 0)
        return CS_OK;
    const cJSON *pi = cJSON_GetObjectItemCaseSensitive(root, "page_info");
    const char *nm = NULL;
    bool have_page_info = cJSON_IsObject(pi);
    if (have_page_info)
        nm = cs_json_str(pi, "next_marker");
    if (nm && nm[0]) {
        *next = strdup(nm);
    } else if (!have_page_info && page_size > 0 && n >= (size_t)page_size) {
        const char *last = cs_json_str(cJSON_GetArrayItem(items, (int)n - 1), "id");
        if (!last)
            return cs_err_set(err, CS_EPROTO, 0, "huawei: last item without id");
        *next = strdup(last);
    } else {
        return CS_OK;
    }
    return *next ? CS_OK : cs_err_set(err, CS_ENOMEM, 0, "out of memory");
}

enum cs_code elb_hw_parse_cert_page(const char *body, size_t len, int page_size,
                                    struct elb_cert_list *list, size_t *n_page,
                                    char **next_marker, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct elb_cert *grown = NULL;
    size_t added = 0;
    cJSON *root = parse_body(body, len, err);
    if (!root)
        return CS_EPROTO;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "certificates");
    if (!cJSON_IsArray(items)) {
        rc = cs_err_set(err, CS_EPROTO, 0, "huawei: answer has no certificates array");
        goto out;
    }
    size_t n = (size_t)cJSON_GetArraySize(items);
    if (list->n + n > HW_MAX_ITEMS) {
        rc = cs_err_set(err, CS_ETOOBIG, 0, "huawei: too many certificates");
        goto out;
    }
    grown = realloc(list->items, (list->n + n + 1) * sizeof(*grown));
    if (!grown) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    list->items = grown;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        rc = elb_hw_parse_cert(it, &list->items[list->n + added], err);
        if (rc)
            goto out;
        added++;
    }
    char *next = NULL;
    rc = next_marker_of(root, items, n, page_size, &next, err);
    if (rc)
        goto out;
    list->n += added;
    added = 0;
    *n_page = n;
    *next_marker = next;
out:
    for (size_t i = 0; i < added; i++)
        elb_cert_cleanup(&list->items[list->n + i]);
    cJSON_Delete(root);
    return rc;
}

static enum cs_code parse_listener(const cJSON *obj, struct elb_listener *out,
                                   struct cs_err *err)
{
    struct elb_listener l;
    memset(&l, 0, sizeof(l));
    l.kind = ELB_LISTENER_SNI;
    if (!cJSON_IsObject(obj))
        return cs_err_set(err, CS_EPROTO, 0, "huawei: listener is not an object");
    const char *id = cs_json_str(obj, "id");
    if (!id || !id[0])
        return cs_err_set(err, CS_EPROTO, 0, "huawei: listener without id");
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(obj, "protocol_port");
    const cJSON *lbs = cJSON_GetObjectItemCaseSensitive(obj, "loadbalancers");
    const cJSON *sni = cJSON_GetObjectItemCaseSensitive(obj, "sni_container_refs");
    l.id = strdup(id);
    if (!l.id || !jdup_ok(&l.name, obj, "name") || !jdup_ok(&l.protocol, obj, "protocol") ||
        !jdup_ok(&l.default_cert_id, obj, "default_tls_container_ref") ||
        (port && !cJSON_IsNumber(port)) || (lbs && !cJSON_IsArray(lbs) && !cJSON_IsNull(lbs)) ||
        (sni && !cJSON_IsArray(sni) && !cJSON_IsNull(sni)))
        goto bad;
    if (port) {
        if (port->valuedouble < 0 || port->valuedouble > 65535)
            goto bad;
        l.port = port->valueint;
    }
    if (l.default_cert_id && !l.default_cert_id[0]) {
        free(l.default_cert_id);
        l.default_cert_id = NULL;
    }
    const cJSON *lb0 = cJSON_IsArray(lbs) ? cJSON_GetArrayItem(lbs, 0) : NULL;
    if (lb0) {
        const char *lbid = cs_json_str(lb0, "id");
        if (!lbid || !(l.lb_id = strdup(lbid)))
            goto bad;
    }
    if (cJSON_IsArray(sni)) {
        size_t n = (size_t)cJSON_GetArraySize(sni);
        if (n > 10000)
            goto bad;
        if (n) {
            l.sni_cert_ids = calloc(n, sizeof(*l.sni_cert_ids));
            if (!l.sni_cert_ids)
                goto bad;
        }
        const cJSON *s;
        cJSON_ArrayForEach(s, sni)
        {
            if (!cJSON_IsString(s) || !(l.sni_cert_ids[l.n_sni] = strdup(s->valuestring)))
                goto bad;
            l.n_sni++;
        }
    }
    *out = l;
    return CS_OK;
bad:
    elb_listener_cleanup(&l);
    return cs_err_set(err, CS_EPROTO, 0, "huawei: listener %s: malformed", id);
}

enum cs_code elb_hw_parse_listener_response(const char *body, size_t len,
                                            struct elb_listener *out, struct cs_err *err)
{
    cJSON *root = parse_body(body, len, err);
    if (!root)
        return CS_EPROTO;
    enum cs_code rc =
        parse_listener(cJSON_GetObjectItemCaseSensitive(root, "listener"), out, err);
    cJSON_Delete(root);
    return rc;
}

enum cs_code elb_hw_parse_listener_page(const char *body, size_t len, int page_size,
                                        struct elb_listener_list *list, size_t *n_page,
                                        char **next_marker, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    size_t added = 0;
    cJSON *root = parse_body(body, len, err);
    if (!root)
        return CS_EPROTO;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "listeners");
    if (!cJSON_IsArray(items)) {
        rc = cs_err_set(err, CS_EPROTO, 0, "huawei: answer has no listeners array");
        goto out;
    }
    size_t n = (size_t)cJSON_GetArraySize(items);
    if (list->n + n > HW_MAX_ITEMS) {
        rc = cs_err_set(err, CS_ETOOBIG, 0, "huawei: too many listeners");
        goto out;
    }
    struct elb_listener *grown = realloc(list->items, (list->n + n + 1) * sizeof(*grown));
    if (!grown) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    list->items = grown;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        rc = parse_listener(it, &list->items[list->n + added], err);
        if (rc)
            goto out;
        added++;
    }
    char *next = NULL;
    rc = next_marker_of(root, items, n, page_size, &next, err);
    if (rc)
        goto out;
    list->n += added;
    added = 0;
    *n_page = n;
    *next_marker = next;
out:
    for (size_t i = 0; i < added; i++)
        elb_listener_cleanup(&list->items[list->n + i]);
    cJSON_Delete(root);
    return rc;
}

static size_t count_certs(const char *pem)
{
    size_t n = 0;
    for (const char *p = pem; (p = strstr(p, "-----BEGIN CERTIFICATE-----")) != NULL; p++)
        n++;
    return n;
}

static enum cs_code print_json(cJSON *root, struct cs_buf *out, struct cs_err *err)
{
    char *s = cJSON_PrintUnformatted(root);
    if (!s)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    enum cs_code rc = cs_buf_adds(out, s);
    cJSON_free(s); /* cleansed by the cs_json_init hooks */
    if (rc)
        return cs_err_set(err, rc, 0, "request body too large");
    return CS_OK;
}

enum cs_code elb_hw_build_create_body(const struct elb_cert_spec *spec, struct cs_buf *out,
                                      struct cs_err *err)
{
    enum cs_code rc;
    cJSON *root = NULL;
    if (!spec->name || !spec->name[0])
        return cs_err_set(err, CS_EINVAL, 0, "huawei: certificate name is empty");
    if (strlen(spec->name) > HW_NAME_MAX)
        return cs_err_set(err, CS_EINVAL, 0, "huawei: certificate name longer than %d",
                          HW_NAME_MAX);
    if (spec->description && strlen(spec->description) > HW_DESCRIPTION_MAX)
        return cs_err_set(err, CS_EINVAL, 0, "huawei: description longer than %d",
                          HW_DESCRIPTION_MAX);
    if (spec->protection_reason && strlen(spec->protection_reason) > HW_DESCRIPTION_MAX)
        return cs_err_set(err, CS_EINVAL, 0, "huawei: protection reason longer than %d",
                          HW_DESCRIPTION_MAX);
    bool imported = spec->imported_id && spec->imported_id[0];
    if (!imported) {
        if (!spec->certificate_pem || !spec->certificate_pem[0] || !spec->private_key_pem ||
            !spec->private_key_pem[0])
            return cs_err_set(err, CS_EINVAL, 0,
                              "huawei: certificate and private key are both required");
        if (strlen(spec->certificate_pem) > HW_CERT_MAX)
            return cs_err_set(err, CS_EINVAL, 0, "huawei: certificate longer than %d",
                              HW_CERT_MAX);
        if (strlen(spec->private_key_pem) > HW_KEY_MAX)
            return cs_err_set(err, CS_EINVAL, 0, "huawei: private key longer than %d",
                              HW_KEY_MAX);
        size_t chain = count_certs(spec->certificate_pem);
        if (chain == 0)
            return cs_err_set(err, CS_EINVAL, 0, "huawei: no PEM certificate given");
        if (chain > HW_CHAIN_MAX)
            return cs_err_set(err, CS_EINVAL, 0, "huawei: chain of %zu certificates (at most %d)",
                              chain, HW_CHAIN_MAX);
    }
    root = cJSON_CreateObject();
    cJSON *c = cJSON_AddObjectToObject(root, "certificate");
    bool ok = c && cJSON_AddStringToObject(c, "name", spec->name) &&
              cJSON_AddStringToObject(c, "type", "server");
    if (ok && spec->description)
        ok = cJSON_AddStringToObject(c, "description", spec->description) != NULL;
    if (ok && imported)
        ok = cJSON_AddStringToObject(c, "source", "scm") &&
             cJSON_AddStringToObject(c, "scm_certificate_id", spec->imported_id);
    if (ok && !imported)
        ok = cJSON_AddStringToObject(c, "certificate", spec->certificate_pem) &&
             cJSON_AddStringToObject(c, "private_key", spec->private_key_pem);
    if (ok && spec->protection_reason && spec->protection_reason[0])
        ok = cJSON_AddStringToObject(c, "protection_status", "consoleProtection") &&
             cJSON_AddStringToObject(c, "protection_reason", spec->protection_reason);
    if (!ok) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    rc = print_json(root, out, err);
out:
    cJSON_Delete(root);
    return rc;
}

enum cs_code elb_hw_build_listener_body(const char *default_id, const char *const *sni_ids,
                                        size_t n_sni, struct cs_buf *out, struct cs_err *err)
{
    if (!default_id || !default_id[0])
        return cs_err_set(err, CS_EINVAL, 0,
                          "huawei: an HTTPS listener needs a default certificate");
    if (n_sni > HW_SNI_MAX)
        return cs_err_set(err, CS_EINVAL, 0, "huawei: %zu SNI certificates (at most %d)", n_sni,
                          HW_SNI_MAX);
    for (size_t i = 0; i < n_sni; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(sni_ids[i], sni_ids[j]) == 0)
                return cs_err_set(err, CS_EINVAL, 0, "huawei: SNI certificate %s given twice",
                                  sni_ids[i]);
    cJSON *root = cJSON_CreateObject();
    cJSON *l = cJSON_AddObjectToObject(root, "listener");
    cJSON *arr = l ? cJSON_AddArrayToObject(l, "sni_container_refs") : NULL;
    bool ok = arr && cJSON_AddStringToObject(l, "default_tls_container_ref", default_id);
    for (size_t i = 0; ok && i < n_sni; i++) {
        cJSON *s = cJSON_CreateString(sni_ids[i]);
        ok = s && cJSON_AddItemToArray(arr, s);
    }
    enum cs_code rc = ok ? print_json(root, out, err)
                         : cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    cJSON_Delete(root);
    return rc;
}

/* ---- requests -------------------------------------------------------------------------- */

#define HW_MAX_HEADERS 24

struct hw_req {
    struct hw_provider *p;
    enum elb_hw_op op;
    const char *method;
    char *origin, *host, *prefix, *project;
    struct cs_buf path; /* prefix + /v3/{project}/elb/..., not encoded */
    struct cs_buf url;
    const struct elb_query_param *query;
    size_t n_query;
    const struct cs_http_header *extra; /* caller's headers (api command) */
    size_t n_extra;
    const char *body;
    size_t body_len;
    /* per attempt */
    char date[32];
    struct cs_buf auth;
    struct cs_http_header hdrs[HW_MAX_HEADERS];
    size_t n_hdrs;
};

static void hw_req_cleanup(struct hw_req *r)
{
    free(r->origin);
    free(r->host);
    free(r->prefix);
    free(r->project);
    cs_buf_free(&r->path);
    cs_buf_free(&r->url);
    cs_buf_free(&r->auth);
}

static enum cs_code add_encoded_path(struct cs_buf *out, const char *path)
{
    enum cs_code rc = CS_OK;
    for (const char *p = path; *p && rc == CS_OK;) {
        if (*p == '/') {
            rc = cs_buf_addc(out, '/');
            p++;
            continue;
        }
        size_t n = strcspn(p, "/");
        rc = cs_url_encode(out, p, n);
        p += n;
    }
    return rc;
}

/* Sets up r for region; rel is the path after /v3/{project}/elb (e.g. "/certificates"), or,
 * when raw, the whole path as given by a person. */
static enum cs_code hw_req_init(struct hw_req *r, struct hw_provider *p, const char *region,
                                const char *method, const char *rel, bool raw,
                                struct cs_err *err)
{
    enum cs_code rc;
    memset(r, 0, sizeof(*r));
    r->p = p;
    r->method = method;
    cs_buf_init(&r->path, 16 * 1024);
    cs_buf_init(&r->url, 64 * 1024);
    cs_buf_init(&r->auth, 4096);
    rc = elb_endpoint_parse(p->endpoint, region, &r->origin, &r->host, &r->prefix, err);
    if (rc)
        return rc;
    rc = elb_hw_project_for_region(p->project_spec, p->base.default_region, region, &r->project,
                                   err);
    if (rc)
        return rc;
    if (raw)
        rc = cs_buf_addf(&r->path, "%s%s%s", r->prefix, rel[0] == '/' ? "" : "/", rel);
    else
        rc = cs_buf_addf(&r->path, "%s/v3/%s/elb%s", r->prefix, r->project, rel);
    if (rc)
        return cs_err_set(err, rc, 0, "huawei: path too long");
    return CS_OK;
}

static enum cs_code hw_build_url(struct hw_req *r, struct cs_err *err)
{
    cs_buf_reset(&r->url);
    enum cs_code rc = cs_buf_adds(&r->url, r->origin);
    if (rc == CS_OK)
        rc = add_encoded_path(&r->url, cs_buf_str(&r->path));
    for (size_t i = 0; i < r->n_query && rc == CS_OK; i++) {
        rc = cs_buf_addc(&r->url, i ? '&' : '?');
        if (rc == CS_OK)
            rc = cs_url_encode(&r->url, r->query[i].key, strlen(r->query[i].key));
        if (rc == CS_OK)
            rc = cs_buf_addc(&r->url, '=');
        const char *v = r->query[i].value ? r->query[i].value : "";
        if (rc == CS_OK)
            rc = cs_url_encode(&r->url, v, strlen(v));
    }
    return rc ? cs_err_set(err, rc, 0, "huawei: URL too long") : CS_OK;
}

static const char *extra_header(const struct hw_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_extra; i++)
        if (strcasecmp(r->extra[i].name, name) == 0)
            return r->extra[i].value;
    return NULL;
}

/* Builds headers and signature for one attempt: a fresh X-Sdk-Date unless the caller gave
 * one (the api command, for reproducible signatures). */
static enum cs_code hw_prepare(void *ud, struct cs_http_request *req, struct cs_err *err)
{
    struct hw_req *r = ud;
    enum cs_code rc;
    const char *date = extra_header(r, "X-Sdk-Date");
    if (!date) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(r->date, sizeof(r->date), "%Y%m%dT%H%M%SZ", &tm);
        date = r->date;
    }
    r->n_hdrs = 0;
    const char *ct = extra_header(r, "Content-Type");
    const char *pid = extra_header(r, "X-Project-Id");
    r->hdrs[r->n_hdrs++] = (struct cs_http_header){"Content-Type", ct ? ct : "application/json"};
    r->hdrs[r->n_hdrs++] = (struct cs_http_header){"X-Project-Id", pid ? pid : r->project};
    r->hdrs[r->n_hdrs++] = (struct cs_http_header){"X-Sdk-Date", date};
    if (r->p->token && !extra_header(r, "X-Security-Token"))
        r->hdrs[r->n_hdrs++] = (struct cs_http_header){"X-Security-Token", r->p->token};
    for (size_t i = 0; i < r->n_extra; i++) {
        const char *n = r->extra[i].name;
        if (strcasecmp(n, "X-Sdk-Date") == 0 || strcasecmp(n, "Content-Type") == 0 ||
            strcasecmp(n, "X-Project-Id") == 0 || strcasecmp(n, "Host") == 0 ||
            strcasecmp(n, "Authorization") == 0)
            continue;
        if (r->n_hdrs >= HW_MAX_HEADERS - 2)
            return cs_err_set(err, CS_EINVAL, 0, "huawei: too many headers");
        r->hdrs[r->n_hdrs++] = r->extra[i];
    }
    struct elb_hw_sign_input in = {
        .method = r->method,
        .host = r->host,
        .path = cs_buf_str(&r->path),
        .query = r->query,
        .n_query = r->n_query,
        .headers = r->hdrs,
        .n_headers = r->n_hdrs,
        .body = r->body,
        .body_len = r->body_len,
    };
    cs_buf_reset(&r->auth);
    rc = elb_hw_sign(&in, r->p->ak, r->p->sk, &r->auth, err);
    if (rc)
        return rc;
    r->hdrs[r->n_hdrs++] = (struct cs_http_header){"Host", r->host};
    r->hdrs[r->n_hdrs++] = (struct cs_http_header){"Authorization", cs_buf_str(&r->auth)};
    rc = hw_build_url(r, err);
    if (rc)
        return rc;
    req->method = r->method;
    req->url = cs_buf_str(&r->url);
    req->headers = r->hdrs;
    req->n_headers = r->n_hdrs;
    req->body = r->body;
    req->body_len = r->body_len;
    req->secret_response = true; /* certificate answers may echo a private key */
    return CS_OK;
}

static enum cs_code hw_classify(void *ud, const struct cs_http_response *resp,
                                struct cs_err *err)
{
    struct hw_req *r = ud;
    if (resp->status >= 200 && resp->status < 300)
        return CS_OK;
    char rid[128] = "";
    cs_http_response_header(resp, "X-Request-Id", rid, sizeof(rid));
    enum cs_code rc = elb_hw_map_error(resp->status, resp->body.ptr, resp->body.len,
                                       rid[0] ? rid : NULL, r->op, err);
    if (err && rc == CS_ETHROTTLED)
        err->retry_after_ms = cs_http_retry_after_ms(resp);
    return rc;
}

static enum cs_code hw_send(struct hw_req *r, bool idempotent, struct cs_http_response *resp,
                            struct cs_err *err)
{
    struct elb_call call = {
        .idempotent = idempotent, .prepare = hw_prepare, .classify = hw_classify, .ud = r};
    return elb_transport_call(&r->p->tr, &call, resp, err);
}

/* ---- operations ------------------------------------------------------------------------ */

static int page_size_of(const struct hw_provider *p)
{
    return p->page_size > 0 && p->page_size <= HW_PAGE_MAX ? p->page_size : HW_PAGE_MAX;
}

/* Every certificate matching the filters, all pages. */
static enum cs_code hw_list_certs_filtered(struct hw_provider *p, const char *region,
                                          const struct elb_query_param *filters, size_t nf,
                                          struct elb_cert_list *out, struct cs_err *err)
{
    enum cs_code rc;
    struct elb_cert_list list = {0};
    struct cs_http_response resp;
    struct hw_req r;
    char *marker = NULL;
    char limit[16];
    struct elb_query_param q[16];
    int ps = page_size_of(p);
    snprintf(limit, sizeof(limit), "%d", ps);
    cs_http_response_init(&resp);
    rc = hw_req_init(&r, p, region, "GET", "/certificates", false, err);
    if (rc)
        goto out;
    if (nf > 12) {
        rc = cs_err_set(err, CS_EINVAL, 0, "huawei: too many filters");
        goto out;
    }
    for (;;) {
        size_t nq = 0;
        q[nq++] = (struct elb_query_param){"limit", limit};
        if (marker)
            q[nq++] = (struct elb_query_param){"marker", marker};
        for (size_t i = 0; i < nf; i++)
            q[nq++] = filters[i];
        r.query = q;
        r.n_query = nq;
        rc = hw_send(&r, true, &resp, err);
        if (rc)
            goto out;
        size_t n = 0;
        char *next = NULL;
        rc = elb_hw_parse_cert_page(resp.body.ptr, resp.body.len, ps, &list, &n, &next, err);
        if (rc)
            goto out;
        if (!next)
            break;
        if (marker && strcmp(marker, next) == 0) {
            free(next);
            rc = cs_err_set(err, CS_EPROTO, 0, "huawei: list repeats marker %s", marker);
            goto out;
        }
        free(marker);
        marker = next;
    }
    *out = list;
    memset(&list, 0, sizeof(list));
out:
    elb_cert_list_cleanup(&list);
    free(marker);
    cs_http_response_cleanup(&resp);
    hw_req_cleanup(&r);
    return rc;
}

static enum cs_code hw_list_certs(struct elb_provider *bp, const char *region,
                                  struct elb_cert_list *out, struct cs_err *err)
{
    return hw_list_certs_filtered(hw(bp), region, NULL, 0, out, err);
}

static enum cs_code hw_cert_path(struct cs_buf *b, const char *id)
{
    return cs_buf_addf(b, "/certificates/%s", id);
}

static enum cs_code hw_get_cert(struct elb_provider *bp, const char *region, const char *id,
                                struct elb_cert *out, struct cs_err *err)
{
    struct hw_provider *p = hw(bp);
    struct cs_http_response resp;
    struct hw_req r;
    struct cs_buf rel;
    cs_buf_init(&rel, 4096);
    cs_http_response_init(&resp);
    enum cs_code rc = hw_cert_path(&rel, id);
    if (rc) {
        rc = cs_err_set(err, CS_EINVAL, 0, "huawei: certificate ID too long");
        memset(&r, 0, sizeof(r));
        goto out;
    }
    rc = hw_req_init(&r, p, region, "GET", cs_buf_str(&rel), false, err);
    if (rc == CS_OK)
        rc = hw_send(&r, true, &resp, err);
    if (rc == CS_OK)
        rc = elb_hw_parse_cert_response(resp.body.ptr, resp.body.len, out, err);
out:
    cs_buf_free(&rel);
    cs_http_response_cleanup(&resp);
    hw_req_cleanup(&r);
    return rc;
}

/* After a create whose answer was lost: the certificate of that name (and content), if the
 * create did happen. *found is set on success. */
static enum cs_code hw_find_created(struct hw_provider *p, const char *region,
                                    const struct elb_cert_spec *spec, struct elb_cert *found,
                                    bool *was_found, struct cs_err *err)
{
    struct elb_cert_list list = {0};
    struct elb_query_param f[] = {{"name", spec->name}};
    *was_found = false;
    enum cs_code rc = hw_list_certs_filtered(p, region, f, 1, &list, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < list.n; i++) {
        const struct elb_cert *c = &list.items[i];
        if (!c->name || strcmp(c->name, spec->name) != 0)
            continue;
        if (spec->description && (!c->description || strcmp(c->description, spec->description)))
            continue;
        if (spec->imported_id && spec->imported_id[0]) {
            if (!c->imported_id || strcmp(c->imported_id, spec->imported_id) != 0)
                continue;
        } else if (c->certificate && !elb_pem_leaf_equal(c->certificate, spec->certificate_pem)) {
            continue;
        }
        rc = elb_cert_copy(c, found);
        if (rc)
            rc = cs_err_set(err, rc, 0, "out of memory");
        else
            *was_found = true;
        break;
    }
    elb_cert_list_cleanup(&list);
    return rc;
}

static enum cs_code hw_create_cert(struct elb_provider *bp, const char *region,
                                   const struct elb_cert_spec *spec, struct elb_cert *out,
                                   struct cs_err *err)
{
    struct hw_provider *p = hw(bp);
    struct cs_http_response resp;
    struct hw_req r;
    struct cs_buf body;
    struct cs_backoff bo;
    cs_buf_init_secret(&body, 128 * 1024);
    cs_http_response_init(&resp);
    memset(&r, 0, sizeof(r));
    cs_backoff_init(&bo, p->tr.backoff_initial_ms, p->tr.backoff_max_ms, 2.0, 0.5, 0);
    enum cs_code rc = elb_hw_build_create_body(spec, &body, err);
    if (rc)
        goto out;
    rc = hw_req_init(&r, p, region, "POST", "/certificates", false, err);
    if (rc)
        goto out;
    r.op = ELB_HW_OP_CREATE_CERT;
    r.body = body.ptr;
    r.body_len = body.len;
    for (int attempt = 0;; attempt++) {
        rc = hw_send(&r, false, &resp, err);
        if (rc == CS_OK) {
            rc = elb_hw_parse_cert_response(resp.body.ptr, resp.body.len, out, err);
            goto out;
        }
        if (rc != CS_ETIMEDOUT && rc != CS_EIO && rc != CS_ESERVER)
            goto out;
        /* The answer was lost or the server failed: the certificate may exist now. Look it
         * up by its (content-derived, idempotent) name before trying again. */
        struct cs_err lerr;
        bool found = false;
        enum cs_code lrc = hw_find_created(p, region, spec, out, &found, &lerr);
        if (lrc == CS_OK && found) {
            rc = CS_OK;
            cs_err_clear(err);
            goto out;
        }
        if (lrc != CS_OK || attempt >= p->tr.max_retries)
            goto out; /* the create's own error: its outcome is unknown */
        cs_sleep_ms(cs_backoff_next(&bo, cs_now_ms()));
    }
out:
    cs_buf_free(&body);
    cs_http_response_cleanup(&resp);
    hw_req_cleanup(&r);
    return rc;
}

static enum cs_code hw_simple(struct hw_provider *p, const char *region, const char *method,
                              const char *rel, enum elb_hw_op op, const char *body,
                              size_t body_len, struct cs_http_response *resp,
                              struct cs_err *err)
{
    struct hw_req r;
    enum cs_code rc = hw_req_init(&r, p, region, method, rel, false, err);
    if (rc == CS_OK) {
        r.op = op;
        r.body = body;
        r.body_len = body_len;
        rc = hw_send(&r, true, resp, err);
    }
    hw_req_cleanup(&r);
    return rc;
}

static enum cs_code hw_delete_cert(struct elb_provider *bp, const char *region, const char *id,
                                   struct cs_err *err)
{
    struct cs_http_response resp;
    struct cs_buf rel;
    cs_buf_init(&rel, 4096);
    cs_http_response_init(&resp);
    enum cs_code rc = hw_cert_path(&rel, id);
    if (rc)
        rc = cs_err_set(err, CS_EINVAL, 0, "huawei: certificate ID too long");
    else
        rc = hw_simple(hw(bp), region, "DELETE", cs_buf_str(&rel), ELB_HW_OP_DELETE_CERT, NULL,
                       0, &resp, err);
    cs_buf_free(&rel);
    cs_http_response_cleanup(&resp);
    return rc;
}

static enum cs_code hw_rename_cert(struct elb_provider *bp, const char *region, const char *id,
                                   const char *new_name, struct cs_err *err)
{
    struct cs_http_response resp;
    struct cs_buf rel, body;
    cs_buf_init(&rel, 4096);
    cs_buf_init(&body, 4096);
    cs_http_response_init(&resp);
    enum cs_code rc;
    cJSON *root = NULL;
    if (!new_name[0] || strlen(new_name) > HW_NAME_MAX) {
        rc = cs_err_set(err, CS_EINVAL, 0, "huawei: certificate name must be 1..%d characters",
                        HW_NAME_MAX);
        goto out;
    }
    root = cJSON_CreateObject();
    cJSON *c = cJSON_AddObjectToObject(root, "certificate");
    if (!c || !cJSON_AddStringToObject(c, "name", new_name)) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    rc = print_json(root, &body, err);
    if (rc)
        goto out;
    if (hw_cert_path(&rel, id)) {
        rc = cs_err_set(err, CS_EINVAL, 0, "huawei: certificate ID too long");
        goto out;
    }
    rc = hw_simple(hw(bp), region, "PUT", cs_buf_str(&rel), ELB_HW_OP_OTHER, body.ptr, body.len,
                   &resp, err);
out:
    cJSON_Delete(root);
    cs_buf_free(&rel);
    cs_buf_free(&body);
    cs_http_response_cleanup(&resp);
    return rc;
}

static bool is_https(const struct elb_listener *l)
{
    return l->protocol &&
           (strcasecmp(l->protocol, "HTTPS") == 0 || strcasecmp(l->protocol, "TERMINATED_HTTPS") == 0);
}

/* Every listener matching the filters, all pages. */
static enum cs_code hw_list_listeners_filtered(struct hw_provider *p, const char *region,
                                              const struct elb_query_param *filters, size_t nf,
                                              struct elb_listener_list *out, struct cs_err *err)
{
    enum cs_code rc;
    struct elb_listener_list list = {0};
    struct cs_http_response resp;
    struct hw_req r;
    char *marker = NULL;
    char limit[16];
    struct elb_query_param q[16];
    int ps = page_size_of(p);
    snprintf(limit, sizeof(limit), "%d", ps);
    cs_http_response_init(&resp);
    rc = hw_req_init(&r, p, region, "GET", "/listeners", false, err);
    if (rc)
        goto out;
    for (;;) {
        size_t nq = 0;
        q[nq++] = (struct elb_query_param){"limit", limit};
        if (marker)
            q[nq++] = (struct elb_query_param){"marker", marker};
        for (size_t i = 0; i < nf && nq < 16; i++)
            q[nq++] = filters[i];
        r.query = q;
        r.n_query = nq;
        rc = hw_send(&r, true, &resp, err);
        if (rc)
            goto out;
        size_t n = 0;
        char *next = NULL;
        rc = elb_hw_parse_listener_page(resp.body.ptr, resp.body.len, ps, &list, &n, &next,
                                        err);
        if (rc)
            goto out;
        if (!next)
            break;
        if (marker && strcmp(marker, next) == 0) {
            free(next);
            rc = cs_err_set(err, CS_EPROTO, 0, "huawei: list repeats marker %s", marker);
            goto out;
        }
        free(marker);
        marker = next;
    }
    /* Keep only HTTPS listeners, whatever the server did with the filter. */
    size_t k = 0;
    for (size_t i = 0; i < list.n; i++) {
        if (is_https(&list.items[i]))
            list.items[k++] = list.items[i];
        else
            elb_listener_cleanup(&list.items[i]);
    }
    list.n = k;
    *out = list;
    memset(&list, 0, sizeof(list));
out:
    elb_listener_list_cleanup(&list);
    free(marker);
    cs_http_response_cleanup(&resp);
    hw_req_cleanup(&r);
    return rc;
}

static enum cs_code hw_list_listeners(struct elb_provider *bp, const char *region,
                                      struct elb_listener_list *out, struct cs_err *err)
{
    struct elb_query_param f[] = {{"protocol", "HTTPS"}};
    return hw_list_listeners_filtered(hw(bp), region, f, 1, out, err);
}

static enum cs_code hw_find_listener(struct elb_provider *bp, const char *region,
                                     const struct elb_listener_ref *ref, struct elb_listener *out,
                                     struct cs_err *err)
{
    struct hw_provider *p = hw(bp);
    enum cs_code rc;
    if (ref->listener_id && ref->listener_id[0]) {
        struct cs_http_response resp;
        struct cs_buf rel;
        struct elb_listener l;
        cs_buf_init(&rel, 4096);
        cs_http_response_init(&resp);
        rc = cs_buf_addf(&rel, "/listeners/%s", ref->listener_id);
        if (rc)
            rc = cs_err_set(err, CS_EINVAL, 0, "huawei: listener ID too long");
        else
            rc = hw_simple(p, region, "GET", cs_buf_str(&rel), ELB_HW_OP_OTHER, NULL, 0, &resp,
                           err);
        if (rc == CS_OK)
            rc = elb_hw_parse_listener_response(resp.body.ptr, resp.body.len, &l, err);
        cs_buf_free(&rel);
        cs_http_response_cleanup(&resp);
        if (rc)
            return rc;
        if (ref->lb_id && ref->lb_id[0] && (!l.lb_id || strcmp(l.lb_id, ref->lb_id) != 0)) {
            elb_listener_cleanup(&l);
            return cs_err_set(err, CS_ENOTFOUND, 0,
                              "huawei: listener %s is not on load balancer %s",
                              ref->listener_id, ref->lb_id);
        }
        *out = l;
        return CS_OK;
    }
    if (!ref->lb_id || !ref->lb_id[0] || ref->port <= 0 || ref->port > 65535)
        return cs_err_set(err, CS_EINVAL, 0,
                          "huawei: a listener is found by ID or by load balancer and port");
    char port[16];
    snprintf(port, sizeof(port), "%d", ref->port);
    struct elb_query_param f[] = {
        {"loadbalancer_id", ref->lb_id}, {"protocol_port", port}, {"protocol", "HTTPS"}};
    struct elb_listener_list list = {0};
    rc = hw_list_listeners_filtered(p, region, f, 3, &list, err);
    if (rc)
        return rc;
    rc = cs_err_set(err, CS_ENOTFOUND, 0, "huawei: no HTTPS listener on port %d of %s",
                    ref->port, ref->lb_id);
    for (size_t i = 0; i < list.n; i++) {
        struct elb_listener *l = &list.items[i];
        if (l->port == ref->port && l->lb_id && strcmp(l->lb_id, ref->lb_id) == 0) {
            *out = *l;
            memset(l, 0, sizeof(*l));
            cs_err_clear(err);
            rc = CS_OK;
            break;
        }
    }
    elb_listener_list_cleanup(&list);
    return rc;
}

static enum cs_code hw_set_listener_certs(struct elb_provider *bp, const char *region,
                                          const struct elb_listener *current,
                                          const char *default_id, const char *const *sni_ids,
                                          size_t n_sni, struct cs_err *err)
{
    struct cs_http_response resp;
    struct cs_buf rel, body;
    cs_buf_init(&rel, 4096);
    cs_buf_init(&body, 64 * 1024);
    cs_http_response_init(&resp);
    enum cs_code rc = elb_hw_build_listener_body(default_id, sni_ids, n_sni, &body, err);
    if (rc)
        goto out;
    if (cs_buf_addf(&rel, "/listeners/%s", current->id)) {
        rc = cs_err_set(err, CS_EINVAL, 0, "huawei: listener ID too long");
        goto out;
    }
    /* One PUT with the whole desired state: idempotent, so retried like a read. */
    rc = hw_simple(hw(bp), region, "PUT", cs_buf_str(&rel), ELB_HW_OP_OTHER, body.ptr, body.len,
                   &resp, err);
out:
    cs_buf_free(&rel);
    cs_buf_free(&body);
    cs_http_response_cleanup(&resp);
    return rc;
}

/* ---- raw requests (elb-certsync api) --------------------------------------------------- */

enum cs_code elb_hw_raw(struct elb_provider *bp, const struct elb_raw_request *q,
                        struct cs_buf *out, long *status, struct cs_err *err)
{
    struct hw_provider *p = hw(bp);
    struct cs_http_response resp;
    struct hw_req r;
    cs_http_response_init(&resp);
    if (strcmp(bp->ops->name, "huawei") != 0)
        return cs_err_set(err, CS_EINVAL, 0, "not a huawei provider");
    enum cs_code rc = hw_req_init(&r, p, q->region ? q->region : bp->default_region, q->method,
                                  q->path, true, err);
    if (rc)
        goto out;
    r.query = q->query;
    r.n_query = q->n_query;
    r.extra = q->headers;
    r.n_extra = q->n_headers;
    r.body = q->body;
    r.body_len = q->body_len;
    if (q->print_only) {
        struct cs_http_request req;
        memset(&req, 0, sizeof(req));
        rc = hw_prepare(&r, &req, err);
        if (rc)
            goto out;
        rc = cs_buf_addf(out, "%s %s\n", req.method, req.url);
        for (size_t i = 0; rc == CS_OK && i < req.n_headers; i++)
            rc = cs_buf_addf(out, "%s: %s\n", req.headers[i].name, req.headers[i].value);
        if (rc == CS_OK)
            rc = cs_buf_addc(out, '\n');
        if (rc == CS_OK && q->body_len)
            rc = cs_buf_add(out, q->body, q->body_len);
        if (rc)
            rc = cs_err_set(err, rc, 0, "output too large");
        goto out;
    }
    bool idempotent = strcasecmp(q->method, "GET") == 0 || strcasecmp(q->method, "PUT") == 0 ||
                      strcasecmp(q->method, "DELETE") == 0 || strcasecmp(q->method, "HEAD") == 0;
    rc = hw_send(&r, idempotent, &resp, err);
    if (status)
        *status = resp.status;
    if (resp.body.len && cs_buf_add(out, resp.body.ptr, resp.body.len) != CS_OK && rc == CS_OK)
        rc = cs_err_set(err, CS_ETOOBIG, 0, "answer too large");
out:
    cs_http_response_cleanup(&resp);
    hw_req_cleanup(&r);
    return rc;
}

/* ---- construction ---------------------------------------------------------------------- */

const struct elb_limits elb_hw_limits = {
    .name_max = HW_NAME_MAX,
    .name_extra_chars = "-_.",
    .description_max = HW_DESCRIPTION_MAX,
    .max_sni = HW_SNI_MAX,
    .cert_pem_max = HW_CERT_MAX,
    .key_pem_max = HW_KEY_MAX,
    .chain_max = HW_CHAIN_MAX,
    .rsa = true,
    .ecdsa = true,
    .rsa_min_bits = 2048,
    .rsa_max_bits = 4096,
    .can_rename = true,
    .can_import = true,
    .reports_bindings = false,
};

static const struct elb_limits *hw_limits(const struct elb_provider *bp)
{
    return &((const struct hw_provider *)bp)->limits;
}

static void hw_destroy(struct elb_provider *bp)
{
    struct hw_provider *p = hw(bp);
    elb_transport_cleanup(&p->tr);
    cs_kvfile_free(p->creds);
    free(p->endpoint);
    free(p->project_spec);
    free(p->base.default_region);
    free(p);
}

static const struct elb_provider_ops hw_ops = {
    .name = "huawei",
    .destroy = hw_destroy,
    .limits = hw_limits,
    .list_certs = hw_list_certs,
    .get_cert = hw_get_cert,
    .create_cert = hw_create_cert,
    .delete_cert = hw_delete_cert,
    .rename_cert = hw_rename_cert,
    .find_listener = hw_find_listener,
    .list_listeners = hw_list_listeners,
    .set_listener_certs = hw_set_listener_certs,
};

enum cs_code elb_huawei_new(const struct elb_provider_config *cfg, struct elb_provider **out,
                            struct cs_err *err)
{
    static const char *const required[] = {"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK"};
    enum cs_code rc;
    struct hw_provider *p = NULL;
    char *o = NULL, *h = NULL, *pre = NULL;
    if (!cfg->region || !cfg->region[0])
        return cs_err_set(err, CS_EINVAL, 0, "huawei: --region is required");
    if (!cfg->project_id || !cfg->project_id[0])
        return cs_err_set(err, CS_EINVAL, 0, "huawei: --project-id is required");
    p = calloc(1, sizeof(*p));
    if (!p)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    p->base.ops = &hw_ops;
    p->base.default_region = strdup(cfg->region);
    p->endpoint = strdup(cfg->endpoint && cfg->endpoint[0] ? cfg->endpoint : HW_DEFAULT_ENDPOINT);
    p->project_spec = strdup(cfg->project_id);
    if (!p->base.default_region || !p->endpoint || !p->project_spec) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto fail;
    }
    /* Check the configuration now rather than at the first call. */
    rc = elb_endpoint_parse(p->endpoint, cfg->region, &o, &h, &pre, err);
    if (rc)
        goto fail;
    char *pid = NULL;
    rc = elb_hw_project_for_region(p->project_spec, cfg->region, cfg->region, &pid, err);
    free(pid);
    if (rc)
        goto fail;
    rc = elb_credentials_load(cfg->credentials_file, required, 2, &p->creds,
                              cfg->loose_permissions, err);
    if (rc)
        goto fail;
    p->ak = cs_kvfile_get(p->creds, "HUAWEICLOUD_SDK_AK");
    p->sk = cs_kvfile_get(p->creds, "HUAWEICLOUD_SDK_SK");
    p->token = cs_kvfile_get(p->creds, "HUAWEICLOUD_SDK_SECURITY_TOKEN");
    if (p->token && !p->token[0])
        p->token = NULL;
    rc = elb_transport_init(&p->tr, cfg, err);
    if (rc)
        goto fail;
    p->page_size = cfg->page_size;
    p->limits = elb_hw_limits;
    free(o);
    free(h);
    free(pre);
    *out = &p->base;
    return CS_OK;
fail:
    free(o);
    free(h);
    free(pre);
    hw_destroy(&p->base);
    return rc;
}
