/* ucloud.c -- the UCloud ULB backend (design.md §5; UCloudDoc-Team/api ulb-api pages).
 *
 * Every call is a form-encoded POST of Action, Region, ProjectId, PublicKey, the action's
 * parameters and Signature (ucloud_sign.c); every answer is JSON with RetCode (0: success).
 * Classic ULB VServers hold one certificate: BindSSL when none, UpdateSSLBinding with the
 * listener named (never unbind-then-bind, never a project-wide replace). Application load
 * balancers (ALB, IDs "alb-...", listeners "als-...") are another product with their own
 * actions: listed by DescribeLoadBalancers, read by DescribeListeners; the default certificate
 * is replaced by UpdateListenerAttribute Certificates.0, SNI certificates are added and removed
 * by AddSSLBinding / DeleteSSLBinding SSLIds.N, in an order that never leaves the listener
 * without a default (uc_set_alb).
 * Request bodies with private keys are secret buffers; SSLContent read back is stripped of
 * anything but CERTIFICATE blocks. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/codec.h"
#include "common/util.h"
#include "elb/backend.h"
#include "elb/transport.h"
#include "elb/ucloud_alb.h"
#include "elb/ucloud_sign.h"

#define UC_DEFAULT_ENDPOINT "https://api.ucloud.cn"
#define UC_PAGE_DEFAULT 100
#define UC_MAX_ITEMS 1000000
#define UC_NAME_MAX 50 /* RetCode 4114; Terraform says 63: the stricter */
#define UC_MAX_PARAMS 96
#define UC_SNI_MAX 25

struct uc_provider {
    struct elb_provider base;
    struct elb_transport tr;
    char *endpoint;
    char *project_id;
    struct cs_kvfile *creds;
    const char *public_key, *private_key; /* borrowed from creds */
    int page_size;
    struct elb_limits limits;
};

static struct uc_provider *uc(struct elb_provider *p)
{
    return (struct uc_provider *)p;
}

/* A JSON number as a long, or def when it is not an integer in [lo, hi] (no UB on 1e300). */
static long bounded_long(const cJSON *v, long lo, long hi, long def)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)lo && v->valuedouble <= (double)hi))
        return def;
    return (long)v->valuedouble;
}

/* ---- pure helpers ---------------------------------------------------------------------- */

bool elb_ucloud_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > UC_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

enum cs_code elb_ucloud_map_retcode(long retcode, const char *action)
{
    switch (retcode) {
    case 0:
        return CS_OK;
    case 153: /* API request too frequent */
        return CS_ETHROTTLED;
    case 150: /* service unavailable */
    case 4072: /* get ULB failed, retry later (also seen for a missing ULB: see the message) */
    case 4078: /* delete ssl failed, retry later */
    case 4079: /* get ssl failed, retry later (also seen for a missing SSLId) */
    case 4999:
        return CS_ESERVER;
    case 4108: /* SSL certificate in use (taken as the refusal to delete a bound one) */
        return CS_EINUSE;
    case 4207: /* quota */
        return CS_EQUOTA;
    case 4088: /* vserver does not exist */
    case 4143:
    case 4210: /* resource does not exist */
        return CS_ENOTFOUND;
    case 63072: /* vserver already has a certificate */
        return CS_ECONFLICT;
    case 4111: /* invalid certificate content */
    case 4114: /* name too long */
    case 4993:
    case 4997:
    case 160: /* missing action */
    case 161: /* missing parameter */
    case 230: /* parameter invalid */
        return CS_EINVAL;
    default:
        break;
    }
    if ((retcode >= 170 && retcode <= 179) || retcode == 299) /* signature, user, IAM */
        return CS_EAUTH;
    (void)action;
    return CS_EINVAL;
}

enum cs_code elb_ucloud_map_answer(long status, const char *body, size_t len, struct cs_err *err)
{
    enum cs_code code;
    if (status != 200) {
        if (status == 429)
            code = CS_ETHROTTLED;
        else if (status >= 500)
            code = CS_ESERVER;
        else if (status == 401 || status == 403)
            code = CS_EAUTH;
        else if (status == 404)
            code = CS_ENOTFOUND;
        else if (status >= 400)
            code = CS_EINVAL;
        else
            code = CS_EPROTO;
        return cs_err_set(err, code, status, "ucloud: HTTP %ld", status);
    }
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *rc = root ? cJSON_GetObjectItemCaseSensitive(root, "RetCode") : NULL;
    if (!cJSON_IsObject(root) || !cJSON_IsNumber(rc)) {
        cJSON_Delete(root);
        return cs_err_set(err, CS_EPROTO, status, "ucloud: answer without RetCode");
    }
    long retcode = bounded_long(rc, -2147483647L, 2147483647L, -1);
    if (retcode == -1 && rc->valuedouble != -1) {
        cJSON_Delete(root);
        return cs_err_set(err, CS_EPROTO, status, "ucloud: RetCode out of range");
    }
    const char *action = cs_json_str(root, "Action");
    if (retcode == 0) {
        cJSON_Delete(root);
        return CS_OK;
    }
    code = elb_ucloud_map_retcode(retcode, action);
    const char *msg = cs_json_str(root, "Message");
    /* The documented texts of 4072/4079 say "failed, retry later"; a missing resource is told
     * by the message. */
    if ((code == CS_EINVAL || code == CS_ESERVER) && msg &&
        (strcasestr(msg, "not exist") || strcasestr(msg, "not found") || strstr(msg, "不存在")))
        code = CS_ENOTFOUND;
    const char *rid = cs_json_str(root, "RequestUUID");
    if (err) {
        char m[300];
        snprintf(m, sizeof(m), "%s", msg ? msg : "error");
        cs_err_set(err, code, status, "ucloud: %s (RetCode %ld, %s%s%s)", m, retcode,
                   action ? action : "?", rid ? ", request " : "", rid ? rid : "");
        snprintf(err->provider_code, sizeof(err->provider_code), "%ld", retcode);
    }
    cJSON_Delete(root);
    return code;
}

static cJSON *parse_ok_body(const char *body, size_t len, struct cs_err *err)
{
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        cs_err_set(err, CS_EPROTO, 0, "ucloud: answer is not a JSON object");
        return NULL;
    }
    return root;
}

static bool dup_str(char **dst, const cJSON *obj, const char *key)
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

/* Copies only the CERTIFICATE blocks of pem (never a key) into a new string. */
static char *certs_only(const char *pem)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    struct cs_buf b;
    cs_buf_init(&b, 1024 * 1024);
    for (const char *p = pem; (p = strstr(p, begin)) != NULL;) {
        const char *e = strstr(p, end);
        if (!e)
            break;
        e += sizeof(end) - 1;
        if (cs_buf_add(&b, p, (size_t)(e - p)) || cs_buf_addc(&b, '\n'))
            break;
        p = e;
    }
    char *s = b.len ? cs_buf_take(&b) : NULL;
    cs_buf_free(&b);
    return s;
}

static int64_t time_field_ms(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    int64_t ms = 0;
    if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1e11)
        return (int64_t)v->valuedouble * 1000; /* UCloud times are Unix seconds */
    if (cJSON_IsString(v) && cs_parse_time(v->valuestring, &ms))
        return ms;
    return 0;
}

static enum cs_code parse_bindings(const cJSON *obj, struct elb_cert *c)
{
    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(obj, "Relations");
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(obj, "BindedTargetSet");
    const cJSON *arr = cJSON_IsArray(rel) ? rel : set;
    bool v2 = arr == rel;
    if (!arr || cJSON_IsNull(arr))
        return CS_OK;
    if (!cJSON_IsArray(arr))
        return CS_EPROTO;
    c->bindings_known = true;
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (n == 0)
        return CS_OK;
    if (n > 100000)
        return CS_EPROTO;
    c->bindings = calloc(n, sizeof(*c->bindings));
    if (!c->bindings)
        return CS_ENOMEM;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsObject(it))
            return CS_EPROTO;
        struct elb_binding *b = &c->bindings[c->n_bindings];
        c->n_bindings++;
        if (!dup_str(&b->lb_id, it, v2 ? "LoadBalancerId" : "ULBId") ||
            !dup_str(&b->listener_id, it, v2 ? "ListenerId" : "VServerId"))
            return CS_EPROTO;
        b->is_default = v2 ? cs_json_bool(it, "IsDefault", false) : true;
    }
    return CS_OK;
}

static enum cs_code parse_ssl(const cJSON *obj, struct elb_cert *out, struct cs_err *err)
{
    struct elb_cert c;
    memset(&c, 0, sizeof(c));
    if (!cJSON_IsObject(obj))
        return cs_err_set(err, CS_EPROTO, 0, "ucloud: certificate is not an object");
    const char *id = cs_json_str(obj, "SSLId");
    if (!id || !id[0])
        return cs_err_set(err, CS_EPROTO, 0, "ucloud: certificate without SSLId");
    c.id = strdup(id);
    if (!c.id || !dup_str(&c.name, obj, "SSLName") || !dup_str(&c.fingerprint, obj, "HashValue") ||
        !dup_str(&c.imported_id, obj, "USSLId"))
        goto bad;
    const cJSON *dom = cJSON_GetObjectItemCaseSensitive(obj, "Domains");
    if (cJSON_IsString(dom) && !(c.domains = strdup(dom->valuestring)))
        goto bad;
    if (!c.domains) {
        const cJSON *dn = cJSON_GetObjectItemCaseSensitive(obj, "DNSNames");
        if (cJSON_IsString(dn) && !(c.domains = strdup(dn->valuestring)))
            goto bad;
    }
    const char *content = cs_json_str(obj, "SSLContent");
    const char *user = cs_json_str(obj, "UserCert");
    if (content && content[0]) {
        c.certificate = certs_only(content);
    } else if (user && user[0]) {
        struct cs_buf b;
        cs_buf_init(&b, 1024 * 1024);
        const char *ca = cs_json_str(obj, "CaCert");
        if (cs_buf_adds(&b, user) == CS_OK && ca && ca[0] && b.len && b.ptr[b.len - 1] != '\n')
            cs_buf_addc(&b, '\n');
        if (ca)
            cs_buf_adds(&b, ca);
        c.certificate = certs_only(cs_buf_str(&b));
        cs_buf_free(&b);
    }
    c.created_ms = time_field_ms(obj, "CreateTime");
    c.not_after_ms = time_field_ms(obj, "NotAfter");
    c.source = bounded_long(cJSON_GetObjectItemCaseSensitive(obj, "SSLSource"), 0, 9, 0) == 1 || (c.imported_id && c.imported_id[0])
                   ? ELB_CERT_SOURCE_IMPORTED
                   : ELB_CERT_SOURCE_UPLOADED;
    enum cs_code rc = parse_bindings(obj, &c);
    if (rc == CS_ENOMEM) {
        elb_cert_cleanup(&c);
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    }
    if (rc)
        goto bad;
    *out = c;
    return CS_OK;
bad:
    elb_cert_cleanup(&c);
    return cs_err_set(err, CS_EPROTO, 0, "ucloud: certificate %s: malformed", id);
}

static long total_of(const cJSON *root)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "TotalCount");
    return bounded_long(t, 0, 1L << 40, -1);
}

enum cs_code elb_ucloud_parse_ssl_page(const char *body, size_t len, struct elb_cert_list *list,
                                       size_t *n_page, long *total, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    size_t added = 0;
    cJSON *root = parse_ok_body(body, len, err);
    if (!root)
        return CS_EPROTO;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "DataSet");
    if (!items || cJSON_IsNull(items)) {
        *n_page = 0;
        *total = total_of(root);
        goto out;
    }
    if (!cJSON_IsArray(items)) {
        rc = cs_err_set(err, CS_EPROTO, 0, "ucloud: DataSet is not an array");
        goto out;
    }
    size_t n = (size_t)cJSON_GetArraySize(items);
    if (list->n + n > UC_MAX_ITEMS) {
        rc = cs_err_set(err, CS_ETOOBIG, 0, "ucloud: too many certificates");
        goto out;
    }
    struct elb_cert *grown = realloc(list->items, (list->n + n + 1) * sizeof(*grown));
    if (!grown) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    list->items = grown;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        rc = parse_ssl(it, &list->items[list->n + added], err);
        if (rc)
            goto out;
        added++;
    }
    list->n += added;
    added = 0;
    *n_page = n;
    *total = total_of(root);
out:
    for (size_t i = 0; i < added; i++)
        elb_cert_cleanup(&list->items[list->n + i]);
    cJSON_Delete(root);
    return rc;
}

static bool is_alb_type(const char *t)
{
    return t && (strcasecmp(t, "alb") == 0 || strcasecmp(t, "Application") == 0);
}

/* One listener from a classic VServer (or an ALB listener shown the same way). */
static enum cs_code parse_vserver(const cJSON *vs, const char *lb_id, bool alb,
                                  struct elb_listener *out)
{
    struct elb_listener l;
    memset(&l, 0, sizeof(l));
    l.kind = alb ? ELB_LISTENER_SNI : ELB_LISTENER_SINGLE;
    const char *id = cs_json_str(vs, "VServerId");
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(vs, "FrontendPort");
    if (!id || !id[0] || (port && !cJSON_IsNumber(port)))
        return CS_EPROTO;
    if (port && (port->valuedouble < 0 || port->valuedouble > 65535))
        return CS_EPROTO;
    l.port = port ? port->valueint : 0;
    if (!(l.id = strdup(id)) || !(l.lb_id = strdup(lb_id)) ||
        !dup_str(&l.name, vs, "VServerName") || !dup_str(&l.protocol, vs, "Protocol"))
        goto bad;
    /* The real API answers SSLSet[]{SSLId,...}; accept SSLIds[] too. */
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(vs, "SSLSet");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(vs, "SSLIds");
    const cJSON *arr = cJSON_IsArray(set) ? set : ids;
    if (arr && !cJSON_IsNull(arr)) {
        if (!cJSON_IsArray(arr))
            goto bad;
        size_t n = (size_t)cJSON_GetArraySize(arr);
        if (n > 1000)
            goto bad;
        if (n > 1) {
            l.sni_cert_ids = calloc(n - 1, sizeof(*l.sni_cert_ids));
            if (!l.sni_cert_ids)
                goto bad;
        }
        const cJSON *it;
        size_t i = 0;
        cJSON_ArrayForEach(it, arr)
        {
            const char *sid = cJSON_IsString(it) ? it->valuestring : cs_json_str(it, "SSLId");
            if (!sid)
                goto bad;
            char *d = strdup(sid);
            if (!d)
                goto bad;
            if (i++ == 0)
                l.default_cert_id = d;
            else
                l.sni_cert_ids[l.n_sni++] = d;
        }
    }
    *out = l;
    return CS_OK;
bad:
    elb_listener_cleanup(&l);
    return CS_EPROTO;
}

static bool listener_is_https(const struct elb_listener *l)
{
    return l->protocol && strcasecmp(l->protocol, "HTTPS") == 0;
}

enum cs_code elb_ucloud_parse_ulb_page(const char *body, size_t len,
                                       struct elb_listener_list *list, size_t *n_page,
                                       long *total, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct elb_listener_list add = {0};
    cJSON *root = parse_ok_body(body, len, err);
    if (!root)
        return CS_EPROTO;
    const cJSON *ulbs = cJSON_GetObjectItemCaseSensitive(root, "DataSet");
    size_t n = 0;
    if (ulbs && !cJSON_IsNull(ulbs)) {
        if (!cJSON_IsArray(ulbs)) {
            rc = cs_err_set(err, CS_EPROTO, 0, "ucloud: DataSet is not an array");
            goto out;
        }
        const cJSON *u;
        cJSON_ArrayForEach(u, ulbs)
        {
            n++;
            const char *lb = cs_json_str(u, "ULBId");
            const cJSON *vss = cJSON_GetObjectItemCaseSensitive(u, "VServerSet");
            if (!lb || (vss && !cJSON_IsArray(vss) && !cJSON_IsNull(vss))) {
                rc = cs_err_set(err, CS_EPROTO, 0, "ucloud: malformed ULB");
                goto out;
            }
            bool alb = is_alb_type(cs_json_str(u, "ULBType"));
            const cJSON *vs;
            cJSON_ArrayForEach(vs, (cJSON_IsArray(vss) ? vss : NULL))
            {
                if (list->n + add.n >= UC_MAX_ITEMS) {
                    rc = cs_err_set(err, CS_ETOOBIG, 0, "ucloud: too many listeners");
                    goto out;
                }
                struct elb_listener l;
                if (parse_vserver(vs, lb, alb, &l)) {
                    rc = cs_err_set(err, CS_EPROTO, 0, "ucloud: malformed VServer in %s", lb);
                    goto out;
                }
                if (!listener_is_https(&l)) {
                    elb_listener_cleanup(&l);
                    continue;
                }
                struct elb_listener *g = realloc(add.items, (add.n + 1) * sizeof(*g));
                if (!g) {
                    elb_listener_cleanup(&l);
                    rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
                    goto out;
                }
                add.items = g;
                add.items[add.n++] = l;
            }
        }
    }
    if (add.n) {
        struct elb_listener *g = realloc(list->items, (list->n + add.n) * sizeof(*g));
        if (!g) {
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto out;
        }
        list->items = g;
        memcpy(list->items + list->n, add.items, add.n * sizeof(*g));
        list->n += add.n;
        free(add.items);
        memset(&add, 0, sizeof(add));
    }
    *n_page = n;
    *total = total_of(root);
out:
    elb_listener_list_cleanup(&add);
    cJSON_Delete(root);
    return rc;
}

/* One ALB listener of DescribeListeners or DescribeLoadBalancers (ulb-api/describe_listeners.md:
 * ListenerId, Name, ListenerPort, ListenerProtocol, Certificates[]{SSLId, IsDefault}). Sets
 * *https to whether it is an HTTPS listener; out is filled only for those. The answer does not
 * name the load balancer: lb_id does. */
static enum cs_code parse_alb_listener(const cJSON *it, const char *lb_id, bool *https,
                                       struct elb_listener *out)
{
    struct elb_listener l;
    memset(&l, 0, sizeof(l));
    l.kind = ELB_LISTENER_SNI;
    *https = false;
    if (!cJSON_IsObject(it))
        return CS_EPROTO;
    const char *id = cs_json_str(it, "ListenerId");
    /* The document's table (and the SDKs' models) say ListenerPort/ListenerProtocol, its
     * example ListenPort/ListenProtocol: accept both. */
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(it, "ListenerPort");
    if (!port)
        port = cJSON_GetObjectItemCaseSensitive(it, "ListenPort");
    const char *proto = cs_json_str(it, "ListenerProtocol");
    if (!proto)
        proto = cs_json_str(it, "ListenProtocol");
    const cJSON *certs = cJSON_GetObjectItemCaseSensitive(it, "Certificates");
    if (!id || !id[0] || (port && !cJSON_IsNumber(port)) ||
        (certs && !cJSON_IsArray(certs) && !cJSON_IsNull(certs)))
        return CS_EPROTO;
    if (!proto || strcasecmp(proto, "HTTPS") != 0)
        return CS_OK;
    if (port && (port->valuedouble < 0 || port->valuedouble > 65535))
        return CS_EPROTO;
    l.port = port ? port->valueint : 0;
    size_t nc = cJSON_IsArray(certs) ? (size_t)cJSON_GetArraySize(certs) : 0;
    bool ok = nc <= 1000 && (l.id = strdup(id)) && (l.lb_id = strdup(lb_id ? lb_id : "")) &&
              (l.protocol = strdup(proto)) && dup_str(&l.name, it, "Name") &&
              (nc == 0 || (l.sni_cert_ids = calloc(nc, sizeof(char *))));
    const cJSON *c;
    cJSON_ArrayForEach(c, (ok && nc ? certs : NULL))
    {
        const char *sid = cJSON_IsObject(c) ? cs_json_str(c, "SSLId") : NULL;
        char *d = sid && sid[0] ? strdup(sid) : NULL;
        if (!d) {
            ok = false;
            break;
        }
        /* Exactly one default; a second "default" (never seen) is kept as SNI rather than
         * lost. */
        if (cs_json_bool(c, "IsDefault", false) && !l.default_cert_id)
            l.default_cert_id = d;
        else
            l.sni_cert_ids[l.n_sni++] = d;
    }
    if (!ok) {
        elb_listener_cleanup(&l);
        return CS_EPROTO;
    }
    *https = true;
    *out = l;
    return CS_OK;
}

/* Appends the HTTPS listeners of the ALB listener array ls to add. */
static enum cs_code add_alb_listeners(const cJSON *ls, const char *lb_id, size_t base,
                                      struct elb_listener_list *add, struct cs_err *err)
{
    if (ls && !cJSON_IsNull(ls) && !cJSON_IsArray(ls))
        return cs_err_set(err, CS_EPROTO, 0, "ucloud: Listeners is not an array");
    const cJSON *it;
    cJSON_ArrayForEach(it, (cJSON_IsArray(ls) ? ls : NULL))
    {
        struct elb_listener l;
        bool https = false;
        if (base + add->n >= UC_MAX_ITEMS)
            return cs_err_set(err, CS_ETOOBIG, 0, "ucloud: too many listeners");
        if (parse_alb_listener(it, lb_id, &https, &l) != CS_OK)
            return cs_err_set(err, CS_EPROTO, 0, "ucloud: malformed ALB listener");
        if (!https)
            continue;
        struct elb_listener *g = realloc(add->items, (add->n + 1) * sizeof(*g));
        if (!g) {
            elb_listener_cleanup(&l);
            return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        }
        add->items = g;
        add->items[add->n++] = l;
    }
    return CS_OK;
}

/* Moves add's items to the end of list (add is emptied). */
static enum cs_code append_listeners(struct elb_listener_list *list,
                                     struct elb_listener_list *add, struct cs_err *err)
{
    if (!add->n)
        return CS_OK;
    struct elb_listener *g = realloc(list->items, (list->n + add->n) * sizeof(*g));
    if (!g)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    list->items = g;
    memcpy(list->items + list->n, add->items, add->n * sizeof(*g));
    list->n += add->n;
    free(add->items);
    memset(add, 0, sizeof(*add));
    return CS_OK;
}

enum cs_code elb_ucloud_parse_alb_listeners(const char *body, size_t len, const char *lb_id,
                                            struct elb_listener_list *list, size_t *n_page,
                                            long *total, struct cs_err *err)
{
    struct elb_listener_list add = {0};
    cJSON *root = parse_ok_body(body, len, err);
    if (!root)
        return CS_EPROTO;
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(root, "Listeners");
    enum cs_code rc = add_alb_listeners(ls, lb_id, list->n, &add, err);
    if (rc == CS_OK)
        rc = append_listeners(list, &add, err);
    if (rc == CS_OK) {
        *n_page = cJSON_IsArray(ls) ? (size_t)cJSON_GetArraySize(ls) : 0;
        *total = total_of(root);
    }
    elb_listener_list_cleanup(&add);
    cJSON_Delete(root);
    return rc;
}

enum cs_code elb_ucloud_parse_alb_lbs(const char *body, size_t len,
                                      struct elb_listener_list *list, size_t *n_page,
                                      long *total, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct elb_listener_list add = {0};
    cJSON *root = parse_ok_body(body, len, err);
    if (!root)
        return CS_EPROTO;
    const cJSON *lbs = cJSON_GetObjectItemCaseSensitive(root, "LoadBalancers");
    if (lbs && !cJSON_IsNull(lbs) && !cJSON_IsArray(lbs)) {
        rc = cs_err_set(err, CS_EPROTO, 0, "ucloud: LoadBalancers is not an array");
        goto out;
    }
    const cJSON *lb;
    cJSON_ArrayForEach(lb, (cJSON_IsArray(lbs) ? lbs : NULL))
    {
        const char *id = cJSON_IsObject(lb) ? cs_json_str(lb, "LoadBalancerId") : NULL;
        if (!id || !id[0]) {
            rc = cs_err_set(err, CS_EPROTO, 0, "ucloud: load balancer without LoadBalancerId");
            goto out;
        }
        const char *type = cs_json_str(lb, "Type");
        if (type && strcmp(type, "Application") != 0)
            continue; /* network load balancers hold no certificates */
        rc = add_alb_listeners(cJSON_GetObjectItemCaseSensitive(lb, "Listeners"), id, list->n,
                               &add, err);
        if (rc)
            goto out;
    }
    if ((rc = append_listeners(list, &add, err)) != CS_OK)
        goto out;
    *n_page = cJSON_IsArray(lbs) ? (size_t)cJSON_GetArraySize(lbs) : 0;
    *total = total_of(root);
out:
    elb_listener_list_cleanup(&add);
    cJSON_Delete(root);
    return rc;
}

enum cs_code elb_ucloud_parse_create(const char *body, size_t len, char **ssl_id,
                                     struct cs_err *err)
{
    cJSON *root = parse_ok_body(body, len, err);
    if (!root)
        return CS_EPROTO;
    const char *id = cs_json_str(root, "SSLId");
    enum cs_code rc = CS_OK;
    if (!id || !id[0])
        rc = cs_err_set(err, CS_EPROTO, 0, "ucloud: CreateSSL answer without SSLId");
    else if (!(*ssl_id = strdup(id)))
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    cJSON_Delete(root);
    return rc;
}

/* ---- requests -------------------------------------------------------------------------- */

struct uc_params {
    struct elb_query_param p[UC_MAX_PARAMS];
    size_t n;
    char num[8][24]; /* storage for formatted numbers */
    size_t n_num;
    char names[32][32]; /* storage for flattened array names (SSLIds.0, ...) */
    size_t n_names;
};

static bool uc_add(struct uc_params *ps, const char *k, const char *v)
{
    if (ps->n >= UC_MAX_PARAMS || !k || !v)
        return false;
    ps->p[ps->n++] = (struct elb_query_param){k, v};
    return true;
}

static bool uc_add_num(struct uc_params *ps, const char *k, long v)
{
    if (ps->n_num >= 8)
        return false;
    char *s = ps->num[ps->n_num++];
    snprintf(s, sizeof(ps->num[0]), "%ld", v);
    return uc_add(ps, k, s);
}

static bool uc_add_indexed(struct uc_params *ps, const char *base, size_t i, const char *v)
{
    if (ps->n_names >= 32)
        return false;
    char *s = ps->names[ps->n_names++];
    snprintf(s, sizeof(ps->names[0]), "%s.%zu", base, i);
    return uc_add(ps, s, v);
}

struct uc_req {
    struct uc_provider *p;
    const char *action;
    struct elb_query_param all[UC_MAX_PARAMS + 8];
    size_t n_all;
    char sig[41];
    struct cs_buf body; /* secret: CreateSSL carries a private key */
    char *url;
    struct cs_http_header hdrs[2];
};

static void uc_req_cleanup(struct uc_req *r)
{
    cs_buf_free(&r->body);
    free(r->url);
    r->url = NULL;
}

static enum cs_code uc_req_init(struct uc_req *r, struct uc_provider *p, const char *region,
                                const char *action, const struct elb_query_param *params,
                                size_t n, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    char *origin = NULL, *host = NULL, *prefix = NULL;
    memset(r, 0, sizeof(*r));
    r->p = p;
    r->action = action;
    cs_buf_init_secret(&r->body, 256 * 1024);
    if (n > UC_MAX_PARAMS)
        return cs_err_set(err, CS_EINVAL, 0, "ucloud: too many parameters");
    rc = elb_endpoint_parse(p->endpoint, region, &origin, &host, &prefix, err);
    if (rc)
        return rc;
    if (asprintf(&r->url, "%s%s/", origin, prefix) < 0) {
        r->url = NULL;
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    r->all[r->n_all++] = (struct elb_query_param){"Action", action};
    if (region && region[0])
        r->all[r->n_all++] = (struct elb_query_param){"Region", region};
    if (p->project_id && p->project_id[0])
        r->all[r->n_all++] = (struct elb_query_param){"ProjectId", p->project_id};
    r->all[r->n_all++] = (struct elb_query_param){"PublicKey", p->public_key};
    for (size_t i = 0; i < n; i++) {
        const char *k = params[i].key;
        if (!k || !k[0] || !params[i].value) {
            rc = cs_err_set(err, CS_EINVAL, 0, "ucloud: parameter without name or value");
            goto out;
        }
        if (!strcmp(k, "Action") || !strcmp(k, "PublicKey") || !strcmp(k, "Signature")) {
            rc = cs_err_set(err, CS_EINVAL, 0, "ucloud: parameter %s is set by the client", k);
            goto out;
        }
        bool replaced = false;
        for (size_t j = 0; j < r->n_all; j++) {
            if (strcmp(r->all[j].key, k) == 0) {
                if (j < 3 && (!strcmp(k, "Region") || !strcmp(k, "ProjectId"))) {
                    r->all[j].value = params[i].value; /* an explicit override */
                    replaced = true;
                    break;
                }
                rc = cs_err_set(err, CS_EINVAL, 0, "ucloud: parameter %s given twice", k);
                goto out;
            }
        }
        if (!replaced)
            r->all[r->n_all++] = params[i];
    }
    rc = elb_ucloud_signature(r->all, r->n_all, p->private_key, r->sig, err);
    if (rc)
        goto out;
    for (size_t i = 0; i <= r->n_all && rc == CS_OK; i++) {
        const char *k = i < r->n_all ? r->all[i].key : "Signature";
        const char *v = i < r->n_all ? r->all[i].value : r->sig;
        if (i)
            rc = cs_buf_addc(&r->body, '&');
        if (rc == CS_OK)
            rc = cs_url_encode(&r->body, k, strlen(k));
        if (rc == CS_OK)
            rc = cs_buf_addc(&r->body, '=');
        if (rc == CS_OK)
            rc = cs_url_encode(&r->body, v, strlen(v));
    }
    if (rc)
        rc = cs_err_set(err, rc, 0, "ucloud: request too large");
    r->hdrs[0] = (struct cs_http_header){"Content-Type", "application/x-www-form-urlencoded"};
out:
    free(origin);
    free(host);
    free(prefix);
    return rc;
}

static enum cs_code uc_prepare(void *ud, struct cs_http_request *req, struct cs_err *err)
{
    struct uc_req *r = ud;
    (void)err;
    req->method = "POST";
    req->url = r->url;
    req->headers = r->hdrs;
    req->n_headers = 1;
    req->body = r->body.ptr;
    req->body_len = r->body.len;
    req->secret_response = true;
    return CS_OK;
}

static enum cs_code uc_classify(void *ud, const struct cs_http_response *resp,
                                struct cs_err *err)
{
    (void)ud;
    enum cs_code rc = elb_ucloud_map_answer(resp->status, resp->body.ptr, resp->body.len, err);
    if (rc == CS_ETHROTTLED && err)
        err->retry_after_ms = cs_http_retry_after_ms(resp);
    return rc;
}

/* One action: answer body in resp on success. */
static enum cs_code uc_call(struct uc_provider *p, const char *region, const char *action,
                            const struct uc_params *ps, bool idempotent,
                            struct cs_http_response *resp, struct cs_err *err)
{
    struct uc_req r;
    enum cs_code rc = uc_req_init(&r, p, region, action, ps ? ps->p : NULL, ps ? ps->n : 0, err);
    if (rc == CS_OK) {
        struct elb_call call = {
            .idempotent = idempotent, .prepare = uc_prepare, .classify = uc_classify, .ud = &r};
        rc = elb_transport_call(&p->tr, &call, resp, err);
    }
    uc_req_cleanup(&r);
    return rc;
}

static int uc_page(const struct uc_provider *p)
{
    return p->page_size > 0 ? p->page_size : UC_PAGE_DEFAULT;
}

static enum cs_code oom(struct cs_err *err)
{
    return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
}

/* ---- certificates ---------------------------------------------------------------------- */

static enum cs_code uc_describe_ssl(struct uc_provider *p, const char *region, const char *id,
                                    struct elb_cert_list *out, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct elb_cert_list list = {0};
    struct cs_http_response resp;
    cs_http_response_init(&resp);
    long offset = 0;
    int limit = uc_page(p);
    for (;;) {
        struct uc_params ps = {.n = 0};
        if ((id && !uc_add(&ps, "SSLId", id)) || !uc_add_num(&ps, "Offset", offset) ||
            !uc_add_num(&ps, "Limit", limit)) {
            rc = oom(err);
            goto out;
        }
        rc = uc_call(p, region, "DescribeSSL", &ps, true, &resp, err);
        if (rc)
            goto out;
        size_t n = 0;
        long total = -1;
        rc = elb_ucloud_parse_ssl_page(resp.body.ptr, resp.body.len, &list, &n, &total, err);
        if (rc)
            goto out;
        offset += (long)n;
        if (n == 0 || id || (total >= 0 && offset >= total) || (total < 0 && n < (size_t)limit))
            break;
    }
    *out = list;
    memset(&list, 0, sizeof(list));
out:
    elb_cert_list_cleanup(&list);
    cs_http_response_cleanup(&resp);
    return rc;
}

static enum cs_code uc_list_certs(struct elb_provider *bp, const char *region,
                                  struct elb_cert_list *out, struct cs_err *err)
{
    return uc_describe_ssl(uc(bp), region, NULL, out, err);
}

static enum cs_code uc_get_cert(struct elb_provider *bp, const char *region, const char *id,
                                struct elb_cert *out, struct cs_err *err)
{
    struct elb_cert_list l = {0};
    enum cs_code rc = uc_describe_ssl(uc(bp), region, id, &l, err);
    if (rc)
        return rc;
    rc = cs_err_set(err, CS_ENOTFOUND, 0, "ucloud: certificate %s not found", id);
    for (size_t i = 0; i < l.n; i++) {
        if (l.items[i].id && strcmp(l.items[i].id, id) == 0) {
            *out = l.items[i];
            memset(&l.items[i], 0, sizeof(l.items[i]));
            cs_err_clear(err);
            rc = CS_OK;
            break;
        }
    }
    elb_cert_list_cleanup(&l);
    return rc;
}

/* Splits a PEM chain into the first certificate and the rest. */
static enum cs_code split_chain(const char *pem, char **user, char **ca)
{
    static const char end[] = "-----END CERTIFICATE-----";
    const char *e = strstr(pem, end);
    if (!e || !strstr(pem, "-----BEGIN CERTIFICATE-----"))
        return CS_EINVAL;
    e += sizeof(end) - 1;
    if (*e == '\r')
        e++;
    if (*e == '\n')
        e++;
    *user = strndup(pem, (size_t)(e - pem));
    const char *rest = strstr(e, "-----BEGIN CERTIFICATE-----");
    *ca = rest ? strdup(rest) : NULL;
    if (!*user || (rest && !*ca)) {
        free(*user);
        free(*ca);
        return CS_ENOMEM;
    }
    return CS_OK;
}

static enum cs_code uc_find_created(struct uc_provider *p, const char *region,
                                    const struct elb_cert_spec *spec, struct elb_cert *out,
                                    bool *found, struct cs_err *err)
{
    struct elb_cert_list l = {0};
    *found = false;
    enum cs_code rc = uc_describe_ssl(p, region, NULL, &l, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < l.n; i++) {
        struct elb_cert *c = &l.items[i];
        if (!c->name || strcmp(c->name, spec->name) != 0)
            continue;
        if (spec->imported_id && spec->imported_id[0]) {
            if (!c->imported_id || strcmp(c->imported_id, spec->imported_id) != 0)
                continue;
        } else if (c->certificate && !elb_pem_leaf_equal(c->certificate, spec->certificate_pem)) {
            continue;
        }
        *out = *c;
        memset(c, 0, sizeof(*c));
        *found = true;
        break;
    }
    elb_cert_list_cleanup(&l);
    return CS_OK;
}

static enum cs_code uc_create_cert(struct elb_provider *bp, const char *region,
                                   const struct elb_cert_spec *spec, struct elb_cert *out,
                                   struct cs_err *err)
{
    struct uc_provider *p = uc(bp);
    enum cs_code rc;
    char *user = NULL, *ca = NULL, *id = NULL;
    struct cs_http_response resp;
    struct cs_backoff bo;
    struct uc_params ps = {.n = 0};
    cs_http_response_init(&resp);
    cs_backoff_init(&bo, p->tr.backoff_initial_ms, p->tr.backoff_max_ms, 2.0, 0.5, 0);
    if (!elb_ucloud_name_ok(spec->name)) {
        rc = cs_err_set(err, CS_EINVAL, 0,
                        "ucloud: certificate name must be 1..%d letters, digits, '-', '_', '.'",
                        UC_NAME_MAX);
        goto out;
    }
    bool imported = spec->imported_id && spec->imported_id[0];
    if (imported) {
        if (!uc_add(&ps, "SSLName", spec->name) || !uc_add(&ps, "USSLId", spec->imported_id)) {
            rc = oom(err);
            goto out;
        }
    } else {
        if (!spec->certificate_pem || !spec->private_key_pem || !spec->private_key_pem[0]) {
            rc = cs_err_set(err, CS_EINVAL, 0,
                            "ucloud: certificate and private key are both required");
            goto out;
        }
        rc = split_chain(spec->certificate_pem, &user, &ca);
        if (rc) {
            rc = cs_err_set(err, rc, 0, "ucloud: no PEM certificate given");
            goto out;
        }
        if (!uc_add(&ps, "SSLName", spec->name) || !uc_add(&ps, "SSLType", "Pem") ||
            !uc_add(&ps, "UserCert", user) || !uc_add(&ps, "PrivateKey", spec->private_key_pem) ||
            (ca && !uc_add(&ps, "CaCert", ca))) {
            rc = oom(err);
            goto out;
        }
    }
    for (int attempt = 0;; attempt++) {
        rc = uc_call(p, region, "CreateSSL", &ps, false, &resp, err);
        if (rc == CS_OK) {
            rc = elb_ucloud_parse_create(resp.body.ptr, resp.body.len, &id, err);
            if (rc)
                goto out;
            struct elb_cert c;
            memset(&c, 0, sizeof(c));
            c.id = id;
            id = NULL;
            c.name = strdup(spec->name);
            c.certificate = imported ? NULL : certs_only(spec->certificate_pem);
            c.imported_id = imported ? strdup(spec->imported_id) : NULL;
            c.source = imported ? ELB_CERT_SOURCE_IMPORTED : ELB_CERT_SOURCE_UPLOADED;
            c.bindings_known = true;
            c.created_ms = cs_wall_ms();
            if (!c.name || (imported && !c.imported_id)) {
                elb_cert_cleanup(&c);
                rc = oom(err);
                goto out;
            }
            *out = c;
            goto out;
        }
        if (rc != CS_ETIMEDOUT && rc != CS_EIO && rc != CS_ESERVER)
            goto out;
        /* Lost answer: the certificate may exist. Find it by name and content first. */
        struct cs_err lerr;
        bool found = false;
        enum cs_code lrc = uc_find_created(p, region, spec, out, &found, &lerr);
        if (lrc == CS_OK && found) {
            rc = CS_OK;
            cs_err_clear(err);
            goto out;
        }
        if (lrc != CS_OK || attempt >= p->tr.max_retries)
            goto out;
        cs_sleep_ms(cs_backoff_next(&bo, cs_now_ms()));
    }
out:
    cs_secure_free_str(user);
    cs_secure_free_str(ca);
    free(id);
    cs_http_response_cleanup(&resp);
    OPENSSL_cleanse(&ps, sizeof(ps));
    return rc;
}

static enum cs_code uc_simple(struct uc_provider *p, const char *region, const char *action,
                              const struct uc_params *ps, bool idempotent, struct cs_err *err)
{
    struct cs_http_response resp;
    cs_http_response_init(&resp);
    enum cs_code rc = uc_call(p, region, action, ps, idempotent, &resp, err);
    cs_http_response_cleanup(&resp);
    return rc;
}

static enum cs_code uc_delete_cert(struct elb_provider *bp, const char *region, const char *id,
                                   struct cs_err *err)
{
    struct uc_params ps = {.n = 0};
    if (!uc_add(&ps, "SSLId", id))
        return oom(err);
    return uc_simple(uc(bp), region, "DeleteSSL", &ps, true, err);
}

static enum cs_code uc_rename_cert(struct elb_provider *bp, const char *region, const char *id,
                                   const char *new_name, struct cs_err *err)
{
    struct uc_params ps = {.n = 0};
    if (!elb_ucloud_name_ok(new_name))
        return cs_err_set(err, CS_EINVAL, 0,
                          "ucloud: certificate name must be 1..%d letters, digits, '-', '_', '.'",
                          UC_NAME_MAX);
    if (!uc_add(&ps, "SSLId", id) || !uc_add(&ps, "SSLName", new_name))
        return oom(err);
    return uc_simple(uc(bp), region, "UpdateSSLAttribute", &ps, true, err);
}

/* ---- listeners ------------------------------------------------------------------------- */

static bool is_alb_id(const char *lb)
{
    return lb && strncmp(lb, "alb-", 4) == 0;
}

/* One page of a listing action, appended to list; *n_page counts what Offset counts. */
typedef enum cs_code (*uc_page_fn)(const char *body, size_t len, const char *lb,
                                   struct elb_listener_list *list, size_t *n_page, long *total,
                                   struct cs_err *err);

static enum cs_code page_ulb(const char *body, size_t len, const char *lb,
                             struct elb_listener_list *list, size_t *n, long *total,
                             struct cs_err *err)
{
    (void)lb;
    return elb_ucloud_parse_ulb_page(body, len, list, n, total, err);
}

static enum cs_code page_alb_listeners(const char *body, size_t len, const char *lb,
                                       struct elb_listener_list *list, size_t *n, long *total,
                                       struct cs_err *err)
{
    return elb_ucloud_parse_alb_listeners(body, len, lb, list, n, total, err);
}

static enum cs_code page_albs(const char *body, size_t len, const char *lb,
                              struct elb_listener_list *list, size_t *n, long *total,
                              struct cs_err *err)
{
    (void)lb;
    return elb_ucloud_parse_alb_lbs(body, len, list, n, total, err);
}

struct uc_listing {
    const char *action;
    const char *key1, *val1; /* fixed parameters (NULL: none) */
    const char *key2, *val2;
    uc_page_fn parse;
    const char *lb;          /* given to parse */
    bool first_page_only;    /* one load balancer asked for by ID */
    bool no_action_is_empty; /* RetCode 161 ("Action not exist"): nothing to list */
};

/* Every page of a listing (Offset/Limit) into out; *n_items (optional) sums the pages'
 * counts. */
static enum cs_code uc_list_pages(struct uc_provider *p, const char *region,
                                  const struct uc_listing *q, struct elb_listener_list *out,
                                  size_t *n_items, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct elb_listener_list list = {0};
    struct cs_http_response resp;
    cs_http_response_init(&resp);
    long offset = 0;
    int limit = uc_page(p);
    size_t items = 0;
    for (;;) {
        struct uc_params ps = {.n = 0};
        if ((q->key1 && !uc_add(&ps, q->key1, q->val1)) ||
            (q->key2 && !uc_add(&ps, q->key2, q->val2)) || !uc_add_num(&ps, "Offset", offset) ||
            !uc_add_num(&ps, "Limit", limit)) {
            rc = oom(err);
            goto out;
        }
        struct cs_err cerr;
        cs_err_clear(&cerr);
        rc = uc_call(p, region, q->action, &ps, true, &resp, &cerr);
        if (rc != CS_OK && q->no_action_is_empty && strcmp(cerr.provider_code, "161") == 0) {
            rc = CS_OK;
            break;
        }
        if (rc) {
            if (err)
                *err = cerr;
            goto out;
        }
        size_t n = 0;
        long total = -1;
        rc = q->parse(resp.body.ptr, resp.body.len, q->lb, &list, &n, &total, err);
        if (rc)
            goto out;
        items += n;
        offset += (long)n;
        if (n == 0 || q->first_page_only || (total >= 0 && offset >= total) ||
            (total < 0 && n < (size_t)limit))
            break;
    }
    *out = list;
    memset(&list, 0, sizeof(list));
    if (n_items)
        *n_items = items;
out:
    elb_listener_list_cleanup(&list);
    cs_http_response_cleanup(&resp);
    return rc;
}

/* HTTPS VServers of one ULB (lb set) or of all ULBs (lb NULL), all pages. */
static enum cs_code uc_describe_ulb(struct uc_provider *p, const char *region, const char *lb,
                                    struct elb_listener_list *out, size_t *n_ulbs,
                                    struct cs_err *err)
{
    struct uc_listing q = {.action = "DescribeULB", .key1 = lb ? "ULBId" : NULL, .val1 = lb,
                           .parse = page_ulb, .first_page_only = lb != NULL};
    return uc_list_pages(p, region, &q, out, n_ulbs, err);
}

/* The HTTPS listeners of application load balancer lb (DescribeListeners, all pages). Never
 * by ListenerId: with it the API ignores LoadBalancerId, and the answer does not say which
 * balancer a listener belongs to, so a listener of another balancer would pass for lb's. */
static enum cs_code uc_describe_alb(struct uc_provider *p, const char *region, const char *lb,
                                    struct elb_listener_list *out, struct cs_err *err)
{
    struct uc_listing q = {.action = "DescribeListeners", .key1 = "LoadBalancerId", .val1 = lb,
                           .parse = page_alb_listeners, .lb = lb};
    return uc_list_pages(p, region, &q, out, NULL, err);
}

/* The HTTPS listeners of every application load balancer of the region: DescribeLoadBalancers
 * (Type=Application, ShowDetail=true: listeners are included only with ShowDetail), all pages.
 * DescribeULB lists classic ULBs only. An answer "Action not exist" (RetCode 161: no ALB API
 * in this endpoint) counts as no ALB rather than failing the classic listeners too. */
static enum cs_code uc_describe_albs(struct uc_provider *p, const char *region,
                                     struct elb_listener_list *out, struct cs_err *err)
{
    struct uc_listing q = {.action = "DescribeLoadBalancers", .key1 = "Type",
                           .val1 = "Application", .key2 = "ShowDetail", .val2 = "true",
                           .parse = page_albs, .no_action_is_empty = true};
    return uc_list_pages(p, region, &q, out, NULL, err);
}

/* Every HTTPS listener of the region: classic VServers, then ALB listeners. */
static enum cs_code uc_list_all(struct uc_provider *p, const char *region,
                                struct elb_listener_list *out, struct cs_err *err)
{
    struct elb_listener_list classic = {0}, alb = {0};
    enum cs_code rc = uc_describe_ulb(p, region, NULL, &classic, NULL, err);
    if (rc == CS_OK)
        rc = uc_describe_albs(p, region, &alb, err);
    if (rc == CS_OK)
        rc = append_listeners(&classic, &alb, err);
    if (rc == CS_OK) {
        *out = classic;
        memset(&classic, 0, sizeof(classic));
    }
    elb_listener_list_cleanup(&classic);
    elb_listener_list_cleanup(&alb);
    return rc;
}

static enum cs_code uc_list_listeners(struct elb_provider *bp, const char *region,
                                      struct elb_listener_list *out, struct cs_err *err)
{
    return uc_list_all(uc(bp), region, out, err);
}

/* A listener by load balancer and port or ID. An "alb-" balancer (the documented form of ALB
 * IDs) is read with DescribeListeners; any other with DescribeULB, and when no classic ULB has
 * that ID, with DescribeListeners too (an ALB whose ID does not look like one). Without a
 * load balancer, every listener of the region is searched. */
static enum cs_code uc_find_listener(struct elb_provider *bp, const char *region,
                                     const struct elb_listener_ref *ref, struct elb_listener *out,
                                     struct cs_err *err)
{
    struct uc_provider *p = uc(bp);
    struct elb_listener_list l = {0};
    enum cs_code rc;
    bool by_id = ref->listener_id && ref->listener_id[0];
    bool has_lb = ref->lb_id && ref->lb_id[0];
    if (!by_id && (!has_lb || ref->port <= 0 || ref->port > 65535))
        return cs_err_set(err, CS_EINVAL, 0,
                          "ucloud: a listener is found by ID or by load balancer and port");
    size_t ulbs = 0;
    if (!has_lb) {
        rc = uc_list_all(p, region, &l, err);
        ulbs = 1;
    } else if (is_alb_id(ref->lb_id)) {
        rc = uc_describe_alb(p, region, ref->lb_id, &l, err);
        ulbs = 1;
    } else {
        rc = uc_describe_ulb(p, region, ref->lb_id, &l, &ulbs, err);
        /* An unknown ULBId: an empty DataSet (or, should DescribeULB refuse it, not found). */
        if ((rc == CS_OK && ulbs == 0) || rc == CS_ENOTFOUND) {
            ulbs = 0;
            elb_listener_list_cleanup(&l);
            struct cs_err aerr;
            cs_err_clear(&aerr);
            rc = uc_describe_alb(p, region, ref->lb_id, &l, &aerr);
            if (rc == CS_OK)
                ulbs = 1;
            else if (rc == CS_ENOTFOUND)
                rc = CS_OK; /* neither kind: reported below */
            else if (err)
                *err = aerr;
        }
    }
    if (rc == CS_ENOTFOUND && has_lb) {
        elb_listener_list_cleanup(&l);
        return cs_err_set(err, CS_ENOTFOUND, 0, "ucloud: load balancer %s not found",
                          ref->lb_id);
    }
    if (rc)
        return rc;
    if (has_lb && ulbs == 0)
        rc = cs_err_set(err, CS_ENOTFOUND, 0, "ucloud: load balancer %s not found", ref->lb_id);
    else if (by_id)
        rc = cs_err_set(err, CS_ENOTFOUND, 0, "ucloud: HTTPS listener %s not found",
                        ref->listener_id);
    else
        rc = cs_err_set(err, CS_ENOTFOUND, 0, "ucloud: no HTTPS listener on port %d of %s",
                        ref->port, ref->lb_id);
    for (size_t i = 0; i < l.n; i++) {
        struct elb_listener *x = &l.items[i];
        bool match = by_id ? strcmp(x->id, ref->listener_id) == 0 : x->port == ref->port;
        if (match && has_lb && (!x->lb_id || strcmp(x->lb_id, ref->lb_id) != 0))
            match = false;
        if (match) {
            *out = *x;
            memset(x, 0, sizeof(*x));
            cs_err_clear(err);
            rc = CS_OK;
            break;
        }
    }
    elb_listener_list_cleanup(&l);
    return rc;
}

static bool in_list(const char *id, const char *const *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] && strcmp(ids[i], id) == 0)
            return true;
    return false;
}

/* SSLIds.0.. of ids on listener cur: AddSSLBinding or DeleteSSLBinding, skipped when empty. */
static enum cs_code uc_alb_sni_call(struct uc_provider *p, const char *region,
                                    const struct elb_listener *cur, const char *action,
                                    const char *const *ids, size_t n, struct cs_err *err)
{
    struct uc_params ps = {.n = 0};
    if (n == 0)
        return CS_OK;
    if (!uc_add(&ps, "LoadBalancerId", cur->lb_id) || !uc_add(&ps, "ListenerId", cur->id))
        return oom(err);
    for (size_t i = 0; i < n; i++)
        if (!uc_add_indexed(&ps, "SSLIds", i, ids[i]))
            return oom(err);
    return uc_simple(p, region, action, &ps, false, err);
}

/* An ALB listener: the default by UpdateListenerAttribute Certificates.0 (it can be replaced,
 * never unbound), SNI certificates by AddSSLBinding / DeleteSSLBinding SSLIds.N. The order
 * keeps every wanted hostname served:
 *   1. add the new SNI certificates (a rotated SNI certificate is served before the old one
 *      goes) -- unless that would pass the 25 SNI limit, in which case step 3 comes first:
 *      the certificates it removes are not wanted anyway;
 *   2. replace the default (the replaced one is no longer bound to the listener; a new
 *      default that was an SNI certificate stops being one);
 *   3. remove the SNI certificates no longer wanted;
 *   4. the old default, when it is wanted as SNI: it can only be added once it is no longer
 *      the default (its hostnames fall back to the new default in between).
 * The changes are computed against the listener as read just now (DescribeListeners), not
 * against the caller's view, which may be stale: the calls are incremental, and adding a
 * certificate already bound or removing one no longer bound is refused. A failure stops at
 * that step; the listener keeps a default throughout, and the next reconcile starts from what
 * the provider then reports. */
static enum cs_code uc_set_alb(struct uc_provider *p, const char *region,
                               const struct elb_listener *listener, const char *default_id,
                               const char *const *sni, size_t n_sni, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    const char **add = NULL, **del = NULL, **late = NULL;
    size_t n_add = 0, n_del = 0, n_late = 0, n_want = 0;
    struct elb_listener_list now = {0};
    const struct elb_listener *cur = NULL;
    /* the default is not also an SNI certificate; repeats count once */
    for (size_t i = 0; i < n_sni; i++)
        n_want += sni[i] && sni[i][0] && strcmp(sni[i], default_id) != 0 &&
                  !in_list(sni[i], sni, i);
    if (n_want > UC_SNI_MAX)
        return cs_err_set(err, CS_EINVAL, 0, "ucloud: %zu SNI certificates (at most %d)",
                          n_want, UC_SNI_MAX);
    if ((rc = uc_describe_alb(p, region, listener->lb_id, &now, err)) != CS_OK)
        goto out;
    for (size_t i = 0; i < now.n && !cur; i++)
        if (strcmp(now.items[i].id, listener->id) == 0)
            cur = &now.items[i];
    if (!cur) {
        rc = cs_err_set(err, CS_ENOTFOUND, 0, "ucloud: HTTPS listener %s of %s not found",
                        listener->id, listener->lb_id);
        goto out;
    }
    const char *const *cur_sni = (const char *const *)cur->sni_cert_ids;
    const char *old_default = cur->default_cert_id;
    bool new_default = !old_default || strcmp(old_default, default_id) != 0;
    add = calloc(n_sni + 1, sizeof(*add));
    late = calloc(n_sni + 1, sizeof(*late));
    del = calloc(cur->n_sni + 1, sizeof(*del));
    if (!add || !late || !del) {
        rc = oom(err);
        goto out;
    }
    for (size_t i = 0; i < n_sni; i++) {
        if (!sni[i] || !sni[i][0] || strcmp(sni[i], default_id) == 0 ||
            in_list(sni[i], sni, i) || in_list(sni[i], cur_sni, cur->n_sni))
            continue;
        if (old_default && strcmp(sni[i], old_default) == 0)
            late[n_late++] = sni[i]; /* bound now, as the default */
        else
            add[n_add++] = sni[i];
    }
    for (size_t i = 0; i < cur->n_sni; i++)
        if (!in_list(cur_sni[i], sni, n_sni) && strcmp(cur_sni[i], default_id) != 0 &&
            !in_list(cur_sni[i], del, n_del))
            del[n_del++] = cur_sni[i];
    bool del_first = cur->n_sni + n_add > UC_SNI_MAX;
    if (del_first && (rc = uc_alb_sni_call(p, region, cur, "DeleteSSLBinding", del, n_del, err)))
        goto out;
    if ((rc = uc_alb_sni_call(p, region, cur, "AddSSLBinding", add, n_add, err)))
        goto out;
    if (new_default) {
        struct uc_params d = {.n = 0};
        if (!uc_add(&d, "LoadBalancerId", cur->lb_id) || !uc_add(&d, "ListenerId", cur->id) ||
            !uc_add(&d, "Certificates.0", default_id)) {
            rc = oom(err);
            goto out;
        }
        if ((rc = uc_simple(p, region, "UpdateListenerAttribute", &d, true, err)))
            goto out;
    }
    if (!del_first &&
        (rc = uc_alb_sni_call(p, region, cur, "DeleteSSLBinding", del, n_del, err)))
        goto out;
    rc = uc_alb_sni_call(p, region, cur, "AddSSLBinding", late, n_late, err);
out:
    free(add);
    free(del);
    free(late);
    elb_listener_list_cleanup(&now);
    return rc;
}

static enum cs_code uc_set_listener_certs(struct elb_provider *bp, const char *region,
                                          const struct elb_listener *cur, const char *default_id,
                                          const char *const *sni_ids, size_t n_sni,
                                          struct cs_err *err)
{
    struct uc_provider *p = uc(bp);
    if (!default_id || !default_id[0])
        return cs_err_set(err, CS_EINVAL, 0,
                          "ucloud: an HTTPS listener needs a default certificate");
    if (!cur->lb_id || !cur->lb_id[0])
        return cs_err_set(err, CS_EINVAL, 0, "ucloud: listener %s without load balancer ID",
                          cur->id);
    if (cur->kind == ELB_LISTENER_SNI)
        return uc_set_alb(p, region, cur, default_id, sni_ids, n_sni, err);
    if (n_sni)
        return cs_err_set(err, CS_EUNSUPPORTED, 0,
                          "ucloud: classic VServer %s holds one certificate (no SNI)", cur->id);
    if (cur->default_cert_id && strcmp(cur->default_cert_id, default_id) == 0)
        return CS_OK;
    struct uc_params ps = {.n = 0};
    if (!cur->default_cert_id) {
        if (!uc_add(&ps, "SSLId", default_id) || !uc_add(&ps, "ULBId", cur->lb_id) ||
            !uc_add(&ps, "VServerId", cur->id))
            return oom(err);
        return uc_simple(p, region, "BindSSL", &ps, false, err);
    }
    /* Replace in place, naming the listener: without LoadBalancerId and ListenerId UCloud
     * replaces every binding of the old certificate in the project. */
    if (!uc_add(&ps, "OldSSLId", cur->default_cert_id) || !uc_add(&ps, "NewSSLId", default_id) ||
        !uc_add(&ps, "LoadBalancerId", cur->lb_id) || !uc_add(&ps, "ListenerId", cur->id))
        return oom(err);
    return uc_simple(p, region, "UpdateSSLBinding", &ps, false, err);
}

/* ---- raw requests (elb-certsync api) --------------------------------------------------- */

static int cmp_key(const void *a, const void *b)
{
    const struct elb_query_param *x = a, *y = b;
    return strcmp(x->key, y->key);
}

enum cs_code elb_ucloud_raw(struct elb_provider *bp, const struct elb_raw_request *q,
                            struct cs_buf *out, long *status, struct cs_err *err)
{
    struct uc_provider *p = uc(bp);
    struct uc_req r;
    struct cs_http_response resp;
    cs_http_response_init(&resp);
    if (strcmp(bp->ops->name, "ucloud") != 0)
        return cs_err_set(err, CS_EINVAL, 0, "not a ucloud provider");
    if (!q->action || !q->action[0])
        return cs_err_set(err, CS_EINVAL, 0, "ucloud: no action given");
    enum cs_code rc = uc_req_init(&r, p, q->region ? q->region : bp->default_region, q->action,
                                  q->query, q->n_query, err);
    if (rc)
        goto out;
    if (q->print_only) {
        struct elb_query_param sorted[UC_MAX_PARAMS + 8];
        memcpy(sorted, r.all, r.n_all * sizeof(sorted[0]));
        qsort(sorted, r.n_all, sizeof(sorted[0]), cmp_key);
        rc = cs_buf_addf(out, "POST %s\nContent-Type: %s\n\n", r.url, r.hdrs[0].value);
        for (size_t i = 0; rc == CS_OK && i < r.n_all; i++)
            rc = cs_buf_addf(out, "%s=%s\n", sorted[i].key, sorted[i].value);
        if (rc == CS_OK)
            rc = cs_buf_addf(out, "Signature=%s\n\n%s\n", r.sig, cs_buf_str(&r.body));
        if (rc)
            rc = cs_err_set(err, rc, 0, "output too large");
        goto out;
    }
    bool idempotent = strncmp(q->action, "Describe", 8) == 0 || strncmp(q->action, "Get", 3) == 0;
    struct elb_call call = {
        .idempotent = idempotent, .prepare = uc_prepare, .classify = uc_classify, .ud = &r};
    rc = elb_transport_call(&p->tr, &call, &resp, err);
    if (status)
        *status = resp.status;
    if (resp.body.len && cs_buf_add(out, resp.body.ptr, resp.body.len) != CS_OK && rc == CS_OK)
        rc = cs_err_set(err, CS_ETOOBIG, 0, "answer too large");
out:
    uc_req_cleanup(&r);
    cs_http_response_cleanup(&resp);
    return rc;
}

/* ---- construction ---------------------------------------------------------------------- */

const struct elb_limits elb_uc_limits = {
    .name_max = UC_NAME_MAX,
    .name_extra_chars = "-_.",
    .description_max = 0,
    .max_sni = UC_SNI_MAX, /* ALB; classic VServers take none (CS_EUNSUPPORTED) */
    .cert_pem_max = 65536,
    .key_pem_max = 8192,
    .chain_max = 11,
    .rsa = true,
    .ecdsa = true,
    .rsa_min_bits = 2048,
    .rsa_max_bits = 4096,
    .can_rename = true,
    .can_import = true,
    .reports_bindings = true,
};

static const struct elb_limits *uc_limits(const struct elb_provider *bp)
{
    return &((const struct uc_provider *)bp)->limits;
}

static void uc_destroy(struct elb_provider *bp)
{
    struct uc_provider *p = uc(bp);
    elb_transport_cleanup(&p->tr);
    cs_kvfile_free(p->creds);
    free(p->endpoint);
    free(p->project_id);
    free(p->base.default_region);
    free(p);
}

static const struct elb_provider_ops uc_ops = {
    .name = "ucloud",
    .destroy = uc_destroy,
    .limits = uc_limits,
    .list_certs = uc_list_certs,
    .get_cert = uc_get_cert,
    .create_cert = uc_create_cert,
    .delete_cert = uc_delete_cert,
    .rename_cert = uc_rename_cert,
    .find_listener = uc_find_listener,
    .list_listeners = uc_list_listeners,
    .set_listener_certs = uc_set_listener_certs,
};

enum cs_code elb_ucloud_new(const struct elb_provider_config *cfg, struct elb_provider **out,
                            struct cs_err *err)
{
    static const char *const required[] = {"UCLOUD_PUBLIC_KEY", "UCLOUD_PRIVATE_KEY"};
    enum cs_code rc;
    char *o = NULL, *h = NULL, *pre = NULL;
    if (!cfg->region || !cfg->region[0])
        return cs_err_set(err, CS_EINVAL, 0, "ucloud: --region is required");
    struct uc_provider *p = calloc(1, sizeof(*p));
    if (!p)
        return oom(err);
    p->base.ops = &uc_ops;
    p->base.default_region = strdup(cfg->region);
    p->endpoint = strdup(cfg->endpoint && cfg->endpoint[0] ? cfg->endpoint : UC_DEFAULT_ENDPOINT);
    p->project_id = cfg->project_id ? strdup(cfg->project_id) : NULL;
    if (!p->base.default_region || !p->endpoint || (cfg->project_id && !p->project_id)) {
        rc = oom(err);
        goto fail;
    }
    rc = elb_endpoint_parse(p->endpoint, cfg->region, &o, &h, &pre, err);
    if (rc)
        goto fail;
    rc = elb_credentials_load(cfg->credentials_file, required, 2, &p->creds,
                              cfg->loose_permissions, err);
    if (rc)
        goto fail;
    p->public_key = cs_kvfile_get(p->creds, "UCLOUD_PUBLIC_KEY");
    p->private_key = cs_kvfile_get(p->creds, "UCLOUD_PRIVATE_KEY");
    rc = elb_transport_init(&p->tr, cfg, err);
    if (rc)
        goto fail;
    p->page_size = cfg->page_size;
    p->limits = elb_uc_limits;
    free(o);
    free(h);
    free(pre);
    *out = &p->base;
    return CS_OK;
fail:
    free(o);
    free(h);
    free(pre);
    uc_destroy(&p->base);
    return rc;
}
