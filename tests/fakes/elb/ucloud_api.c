/* ucloud_api.c -- the emulated UCloud ULB API (design.md §5): parameters from a query string,
 * a form body or a JSON body, the SHA-1 parameter signature, then the SSL certificate, ULB and
 * VServer actions. Every answer carries RetCode, Action ("<Action>Response") and Message.
 * Called with the server lock held. README.md lists the RetCodes and which are confirmed. */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/util.h"
#include "elb/ucloud_sign.h"
#include "tests/fakes/elb/fake_elb.h"

#define UC_NAME_MAX 50 /* RetCode 4114: names of at most 50 characters */
#define UC_MANAGED_PREFIX "k8s_plb_default"

enum {
    RC_THROTTLED = 153,
    RC_NO_ACTION = 160,
    RC_BAD_ACTION = 161,
    RC_NO_SIGNATURE = 170,
    RC_BAD_SIGNATURE = 171,
    RC_NO_USER = 172,
    RC_PARAMS = 230,
    RC_NO_PROJECT = 292,
    RC_DENIED = 299,
    RC_ULB_NOT_FOUND = 4072,
    RC_SSL_NOT_FOUND = 4079,
    RC_VSERVER_NOT_FOUND = 4088,
    RC_UNBIND_FAILED = 4106,
    RC_SSL_IN_USE = 4108,
    RC_SSL_INVALID = 4111,
    RC_NAME_TOO_LONG = 4114,
    RC_QUOTA = 4207,
    RC_ILLEGAL_CHARS = 4997,
    RC_FAILED = 4999,
    RC_ALREADY_BOUND = 63072,
};

static const char *const actions[] = {
    "CreateSSL",  "DescribeSSL",      "DescribeSSLV2", "DeleteSSL",   "UpdateSSLAttribute",
    "BindSSL",    "UnbindSSL",        "UpdateSSLBinding", "DescribeULB", "DescribeVServer",
    /* ALB (application load balancers: ulb-api/describe_load_balancers.md and friends) */
    "DescribeLoadBalancers", "DescribeListeners", "AddSSLBinding", "DeleteSSLBinding",
    "UpdateListenerAttribute",
};

bool fe_uc_known_action(const char *action)
{
    for (size_t i = 0; action && i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strcmp(actions[i], action) == 0)
            return true;
    return false;
}

static bool finish(struct fe_response *resp, cJSON *j, int http_status)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cs_buf_reset(&resp->body);
    bool ok = s && cs_buf_adds(&resp->body, s) == CS_OK;
    cJSON_free(s);
    resp->status = ok ? http_status : 500;
    if (!ok)
        cs_buf_reset(&resp->body);
    return ok;
}

void fe_uc_error(struct fe_response *resp, int http_status, const char *action, int retcode,
                 const char *fmt, ...)
{
    char msg[512], act[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(act, sizeof(act), "%.64sResponse", action ? action : "");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "RetCode", retcode);
    cJSON_AddStringToObject(j, "Action", act);
    cJSON_AddStringToObject(j, "Message", msg);
    finish(resp, j, http_status);
    cJSON_Delete(j);
}

/* ---- parameters ---- */

static enum cs_code json_params(const char *body, size_t len, struct fe_params *p)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    enum cs_code rc = CS_EINVAL;
    char num[64], key[160];
    if (!cJSON_IsObject(root))
        goto out;
    for (const cJSON *it = root->child; it; it = it->next) {
        const cJSON *vals = it;
        int n = 1;
        bool array = cJSON_IsArray(it);
        if (array) {
            n = cJSON_GetArraySize(it);
            vals = it->child;
        }
        for (int i = 0; i < n && vals; i++, vals = array ? vals->next : NULL) {
            const char *v;
            if (cJSON_IsString(vals)) {
                v = vals->valuestring;
            } else if (cJSON_IsNumber(vals)) {
                double d = vals->valuedouble;
                if (d == (double)(long long)d && d > -1e15 && d < 1e15)
                    snprintf(num, sizeof(num), "%lld", (long long)d);
                else
                    snprintf(num, sizeof(num), "%.17g", d);
                v = num;
            } else if (cJSON_IsBool(vals)) {
                v = cJSON_IsTrue(vals) ? "true" : "false";
            } else if (cJSON_IsNull(vals)) {
                continue;
            } else {
                goto out; /* nested objects are not UCloud parameters */
            }
            if (array)
                snprintf(key, sizeof(key), "%.140s.%d", it->string, i);
            else
                snprintf(key, sizeof(key), "%.140s", it->string);
            if ((rc = fe_params_add(p, key, strlen(key), v, strlen(v))) != CS_OK)
                goto out;
            rc = CS_EINVAL;
        }
    }
    rc = CS_OK;
out:
    cJSON_Delete(root);
    return rc;
}

enum cs_code fe_uc_params(const struct fe_request *req, const char *query,
                          struct fe_params *params)
{
    struct fe_params p = {0};
    enum cs_code rc = fe_params_parse(query, strlen(query), true, &p);
    if (rc != CS_OK)
        goto out;
    if (strcmp(req->method, "POST") == 0 && req->body_len) {
        const char *ct = fe_req_header(req, "Content-Type");
        if (ct && strncasecmp(ct, "application/json", 16) == 0) {
            rc = json_params(req->body, req->body_len, &p);
        } else {
            struct fe_params form = {0};
            if ((rc = fe_params_parse(req->body, req->body_len, true, &form)) != CS_OK)
                goto out;
            for (size_t i = 0; i < form.n && rc == CS_OK; i++)
                rc = fe_params_add(&p, form.items[i].key, strlen(form.items[i].key),
                                   form.items[i].value, strlen(form.items[i].value));
            fe_params_free(&form);
        }
        if (rc != CS_OK)
            goto out;
    }
    *params = p;
    memset(&p, 0, sizeof(p));
out:
    fe_params_free(&p);
    return rc;
}

/* ---- context and helpers ---- */

struct uc_ctx {
    struct fe_state *st;
    const struct fe_request *req;
    const struct fe_params *p;
    const struct fe_uc_cred *cred;
    const char *action;
    const char *region;
    const char *project;
    struct fe_response *resp;
    int *retcode;
    int64_t now_s;
};

static void fail(struct uc_ctx *x, int retcode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct uc_ctx *x, int retcode, const char *fmt, ...)
{
    char msg[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fe_uc_error(x->resp, 200, x->action, retcode, "%s", msg);
    *x->retcode = retcode;
}

/* {"RetCode":0,"Action":...} plus the members of extra (taken; may be NULL). */
static void ok(struct uc_ctx *x, cJSON *extra)
{
    char act[160];
    snprintf(act, sizeof(act), "%.64sResponse", x->action);
    cJSON *j = cJSON_CreateObject();
    if (!j) {
        cJSON_Delete(extra);
        return fail(x, RC_FAILED, "out of memory");
    }
    cJSON_AddNumberToObject(j, "RetCode", 0);
    cJSON_AddStringToObject(j, "Action", act);
    cJSON_AddStringToObject(j, "Message", "");
    while (extra && extra->child) {
        cJSON *item = cJSON_DetachItemViaPointer(extra, extra->child);
        cJSON_AddItemToObject(j, item->string, item);
    }
    cJSON_Delete(extra);
    if (!finish(x->resp, j, 200))
        *x->retcode = RC_FAILED;
    else
        *x->retcode = 0;
    cJSON_Delete(j);
}

static const char *need(struct uc_ctx *x, const char *key)
{
    const char *v = fe_params_get(x->p, key);
    if (!v || !*v) {
        fail(x, RC_PARAMS, "Missing params [%s]", key);
        return NULL;
    }
    return v;
}

static bool int_param(struct uc_ctx *x, const char *key, long def, long *out)
{
    const char *v = fe_params_get(x->p, key);
    *out = def;
    if (!v)
        return true;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 0 || n > 100000000) {
        fail(x, RC_PARAMS, "Params [%s] not available", key);
        return false;
    }
    *out = n;
    return true;
}

static bool name_ok(struct uc_ctx *x, const char *name)
{
    if (strlen(name) > UC_NAME_MAX) {
        fail(x, RC_NAME_TOO_LONG, "名称长度最大支持50个字符 (name longer than %d)", UC_NAME_MAX);
        return false;
    }
    for (const char *c = name; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.')) {
            fail(x, RC_ILLEGAL_CHARS, "输入中包含非法字符 (SSLName allows letters, digits, -_.)");
            return false;
        }
    }
    return true;
}

static bool managed_name(const struct fe_uc_cert *c)
{
    return strncmp(c->name, UC_MANAGED_PREFIX, strlen(UC_MANAGED_PREFIX)) == 0;
}

/* Console users cannot modify or delete managed certificates (binding stays allowed). */
static bool console_refused(struct uc_ctx *x, const struct fe_uc_cert *c)
{
    if (!x->cred->console || !managed_name(c))
        return false;
    fail(x, RC_DENIED, "IAM 权限校验未通过: certificate %.64s is managed (%s*) and cannot be "
                       "modified from the console",
         c->id, UC_MANAGED_PREFIX);
    return true;
}

static struct fe_uc_cert *cert_or_fail(struct uc_ctx *x, const char *id)
{
    struct fe_uc_cert *c = fe_uc_cert_find(x->st, x->region, x->project, id);
    if (!c)
        fail(x, RC_SSL_NOT_FOUND, "SSL certificate %.64s not found in region %.32s", id,
             x->region);
    return c;
}

static bool in_scope(const struct uc_ctx *x, const struct fe_uc_ulb *u)
{
    return strcmp(u->region, x->region) == 0 && strcmp(u->project, x->project) == 0;
}

/* A load balancer of the request's region and project, of either kind. */
static struct fe_uc_ulb *find_any_lb(struct uc_ctx *x, const char *id)
{
    for (size_t i = 0; id && i < x->st->n_uc_ulbs; i++) {
        struct fe_uc_ulb *u = &x->st->uc_ulbs[i];
        if (strcmp(u->id, id) == 0 && in_scope(x, u))
            return u;
    }
    return NULL;
}

/* A classic ULB: the ULB actions (DescribeULB, DescribeVServer, BindSSL, UnbindSSL) know
 * nothing of application load balancers, which have their own actions. */
static struct fe_uc_ulb *find_ulb(struct uc_ctx *x, const char *id)
{
    struct fe_uc_ulb *u = find_any_lb(x, id);
    return u && !u->alb ? u : NULL;
}

static struct fe_uc_ulb *find_alb(struct uc_ctx *x, const char *id)
{
    struct fe_uc_ulb *u = find_any_lb(x, id);
    return u && u->alb ? u : NULL;
}

static struct fe_uc_vserver *find_vserver(struct fe_uc_ulb *u, const char *id)
{
    for (size_t i = 0; id && i < u->n_vservers; i++)
        if (strcmp(u->vservers[i].id, id) == 0)
            return &u->vservers[i];
    return NULL;
}

static bool has_ssl(const struct fe_uc_vserver *v, const char *id)
{
    for (size_t i = 0; i < v->n_ssl; i++)
        if (strcmp(v->ssl_ids[i], id) == 0)
            return true;
    return false;
}

static bool bound_anywhere(const struct fe_state *st, const struct fe_uc_cert *c)
{
    for (size_t i = 0; i < st->n_uc_ulbs; i++) {
        const struct fe_uc_ulb *u = &st->uc_ulbs[i];
        if (strcmp(u->region, c->region) != 0 || strcmp(u->project, c->project) != 0)
            continue;
        for (size_t k = 0; k < u->n_vservers; k++)
            if (has_ssl(&u->vservers[k], c->id))
                return true;
    }
    return false;
}

static bool vs_add(struct fe_uc_vserver *v, const char *id)
{
    char **a = realloc(v->ssl_ids, (v->n_ssl + 1) * sizeof(*a));
    if (!a)
        return false;
    v->ssl_ids = a;
    if (!(a[v->n_ssl] = strdup(id)))
        return false;
    v->n_ssl++;
    return true;
}

/* Removes id from v's certificates at index from or later. */
static void vs_remove_from(struct fe_uc_vserver *v, const char *id, size_t from)
{
    for (size_t i = from; i < v->n_ssl; i++) {
        if (strcmp(v->ssl_ids[i], id) == 0) {
            free(v->ssl_ids[i]);
            memmove(&v->ssl_ids[i], &v->ssl_ids[i + 1], (v->n_ssl - i - 1) * sizeof(char *));
            v->n_ssl--;
            return;
        }
    }
}

static void vs_remove(struct fe_uc_vserver *v, const char *id)
{
    vs_remove_from(v, id, 0);
}

/* ---- JSON views ---- */

static char *ssl_content(const struct fe_uc_cert *c)
{
    struct cs_buf b;
    cs_buf_init(&b, 1 << 20);
    if (cs_buf_adds(&b, c->user_cert) != CS_OK ||
        (c->ca_cert && *c->ca_cert && cs_buf_adds(&b, "\n") != CS_OK) ||
        (c->ca_cert && cs_buf_adds(&b, c->ca_cert) != CS_OK)) {
        cs_buf_free(&b);
        return NULL;
    }
    return cs_buf_take(&b);
}

static cJSON *bindings_json(const struct fe_state *st, const struct fe_uc_cert *c, bool v2)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < st->n_uc_ulbs; i++) {
        const struct fe_uc_ulb *u = &st->uc_ulbs[i];
        if (strcmp(u->region, c->region) != 0 || strcmp(u->project, c->project) != 0)
            continue;
        for (size_t k = 0; k < u->n_vservers; k++) {
            const struct fe_uc_vserver *v = &u->vservers[k];
            if (!has_ssl(v, c->id))
                continue;
            cJSON *b = cJSON_CreateObject();
            if (!b || !cJSON_AddItemToArray(a, b)) {
                cJSON_Delete(b);
                cJSON_Delete(a);
                return NULL;
            }
            if (v2) {
                cJSON_AddStringToObject(b, "LoadBalancerId", u->id);
                cJSON_AddStringToObject(b, "LoadBalancerName", u->name);
                cJSON_AddStringToObject(b, "ListenerId", v->id);
                cJSON_AddStringToObject(b, "ListenerName", v->name);
                cJSON_AddBoolToObject(b, "IsDefault", strcmp(v->ssl_ids[0], c->id) == 0);
            } else {
                cJSON_AddStringToObject(b, "ULBId", u->id);
                cJSON_AddStringToObject(b, "ULBName", u->name);
                cJSON_AddStringToObject(b, "VServerId", v->id);
                cJSON_AddStringToObject(b, "VServerName", v->name);
            }
        }
    }
    return a;
}

/* SSLContent reads back the certificate chain only: the emulator never echoes a private key
 * (the documented example shows one; a client must not rely on it). */
static cJSON *cert_json(const struct fe_state *st, const struct fe_uc_cert *c, bool v2)
{
    cJSON *j = cJSON_CreateObject();
    char *content = ssl_content(c);
    if (!j || !content) {
        cJSON_Delete(j);
        free(content);
        return NULL;
    }
    cJSON_AddStringToObject(j, "SSLId", c->id);
    cJSON_AddStringToObject(j, "SSLName", c->name);
    cJSON_AddStringToObject(j, "SSLType", "Pem");
    cJSON_AddStringToObject(j, "SSLContent", content);
    cJSON_AddNumberToObject(j, "CreateTime", (double)c->create_time);
    cJSON_AddStringToObject(j, "HashValue", c->hash);
    cJSON_AddNumberToObject(j, "SSLSource", c->source);
    if (c->source == 1)
        cJSON_AddStringToObject(j, "USSLId", c->ussl_id ? c->ussl_id : "");
    cJSON_AddStringToObject(j, "Domains", c->domains);
    cJSON_AddNumberToObject(j, "NotBefore", (double)c->not_before);
    cJSON_AddNumberToObject(j, "NotAfter", (double)c->not_after);
    cJSON_AddItemToObject(j, "BindedTargetSet", bindings_json(st, c, false));
    if (v2) {
        cJSON_AddStringToObject(j, "DNSNames", c->domains);
        cJSON_AddItemToObject(j, "Relations", bindings_json(st, c, true));
    }
    free(content);
    return j;
}

static cJSON *vserver_json(struct uc_ctx *x, const struct fe_uc_vserver *v)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "VServerId", v->id);
    cJSON_AddStringToObject(j, "VServerName", v->name);
    cJSON_AddStringToObject(j, "Protocol", v->protocol);
    cJSON_AddNumberToObject(j, "FrontendPort", v->port);
    cJSON_AddStringToObject(j, "ListenType", "RequestProxy");
    cJSON *set = cJSON_AddArrayToObject(j, "SSLSet");
    for (size_t i = 0; set && i < v->n_ssl; i++) {
        const struct fe_uc_cert *c = fe_uc_cert_find(x->st, x->region, x->project, v->ssl_ids[i]);
        cJSON *cj = c ? cert_json(x->st, c, false) : NULL;
        if (cj)
            cJSON_AddItemToArray(set, cj);
    }
    return j;
}

static cJSON *ulb_json(struct uc_ctx *x, const struct fe_uc_ulb *u)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "ULBId", u->id);
    cJSON_AddStringToObject(j, "Name", u->name);
    cJSON_AddStringToObject(j, "ULBName", u->name);
    /* DescribeULB lists classic ULBs only; the documented example's type is "OuterMode"
     * (ulb-api/describe_ulb.md). */
    cJSON_AddStringToObject(j, "ULBType", "OuterMode");
    cJSON *vs = cJSON_AddArrayToObject(j, "VServerSet");
    for (size_t i = 0; vs && i < u->n_vservers; i++)
        cJSON_AddItemToArray(vs, vserver_json(x, &u->vservers[i]));
    return j;
}

/* ---- actions ---- */

static void create_ssl(struct uc_ctx *x)
{
    struct fe_uc_cert *c = NULL;
    char why[160] = "";
    const char *name = need(x, "SSLName");
    if (!name || !name_ok(x, name))
        return;
    const char *type = fe_params_get(x->p, "SSLType");
    if (type && strcmp(type, "Pem") != 0)
        return fail(x, RC_PARAMS, "Params [SSLType] not available (only Pem)");
    size_t used = 0;
    for (size_t i = 0; i < x->st->n_uc_certs; i++)
        used += strcmp(x->st->uc_certs[i]->region, x->region) == 0 &&
                strcmp(x->st->uc_certs[i]->project, x->project) == 0;
    if (used >= x->st->uc_quota)
        return fail(x, RC_QUOTA, "您的配额不足 (certificate quota %zu reached)", x->st->uc_quota);
    if (!(c = calloc(1, sizeof(*c))))
        goto nomem;
    const char *ussl = fe_params_get(x->p, "USSLId");
    const char *content = fe_params_get(x->p, "SSLContent");
    if (ussl && *ussl) {
        const struct fe_uc_ussl *u = NULL;
        for (size_t i = 0; i < x->st->n_uc_ussl; i++)
            if (strcmp(x->st->uc_ussl[i].id, ussl) == 0)
                u = &x->st->uc_ussl[i];
        if (!u) {
            fail(x, RC_SSL_NOT_FOUND, "USSL certificate %.64s not found", ussl);
            goto out;
        }
        c->source = 1;
        if (!(c->ussl_id = strdup(u->id)) || !(c->user_cert = strdup(u->user_cert)) ||
            (u->ca_cert && !(c->ca_cert = strdup(u->ca_cert))) ||
            !(c->domains = strdup(u->domains)))
            goto nomem;
    } else if (content && *content) {
        if (fe_pem_split(content, &c->user_cert, &c->private_key) != CS_OK) {
            fail(x, RC_SSL_INVALID, "SSL证书内容无效: SSLContent must hold the certificate chain "
                                    "and exactly one private key");
            goto out;
        }
    } else {
        const char *cert = need(x, "UserCert");
        const char *key = cert ? need(x, "PrivateKey") : NULL;
        if (!cert || !key)
            goto out;
        const char *ca = fe_params_get(x->p, "CaCert");
        if (!(c->user_cert = strdup(cert)) || !(c->private_key = strdup(key)) ||
            (ca && *ca && !(c->ca_cert = strdup(ca))))
            goto nomem;
    }
    enum cs_code rc = fe_uc_cert_derive(c, why, sizeof(why));
    if (rc == CS_EINVAL) {
        fail(x, RC_SSL_INVALID, "SSL证书内容无效 (invalid certificate: %s)", why);
        goto out;
    }
    if (rc != CS_OK)
        goto nomem;
    char rnd[9];
    char id[16];
    do {
        fe_random_hex(rnd, 8);
        snprintf(id, sizeof(id), "ssl-%s", rnd);
    } while (fe_uc_cert_find(x->st, x->region, x->project, id));
    if (!(c->id = strdup(id)) || !(c->name = strdup(name)) || !(c->region = strdup(x->region)) ||
        !(c->project = strdup(x->project)) || (!c->domains && !(c->domains = strdup(""))))
        goto nomem;
    c->create_time = x->now_s;
    if (fe_uc_cert_append(x->st, c) != CS_OK)
        goto nomem;
    c = NULL;
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddStringToObject(extra, "SSLId", id);
    ok(x, extra);
    goto out;
nomem:
    fail(x, RC_FAILED, "out of memory");
out:
    fe_uc_cert_free(c);
}

static void describe_ssl(struct uc_ctx *x, bool v2)
{
    long offset, limit;
    if (!int_param(x, "Offset", 0, &offset) || !int_param(x, "Limit", 20, &limit))
        return;
    if (limit == 0)
        limit = 20;
    const char *id = fe_params_get(x->p, "SSLId");
    cJSON *set = cJSON_CreateArray();
    long total = 0;
    for (size_t i = 0; set && i < x->st->n_uc_certs; i++) {
        const struct fe_uc_cert *c = x->st->uc_certs[i];
        if (strcmp(c->region, x->region) != 0 || strcmp(c->project, x->project) != 0 ||
            (id && *id && strcmp(c->id, id) != 0))
            continue;
        if (total >= offset && total < offset + limit) {
            cJSON *cj = cert_json(x->st, c, v2);
            if (!cj || !cJSON_AddItemToArray(set, cj)) {
                cJSON_Delete(cj);
                cJSON_Delete(set);
                return fail(x, RC_FAILED, "out of memory");
            }
        }
        total++;
    }
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "TotalCount", (double)total);
    cJSON_AddItemToObject(extra, "DataSet", set);
    ok(x, extra);
}

static void delete_ssl(struct uc_ctx *x)
{
    const char *id = need(x, "SSLId");
    struct fe_uc_cert *c = id ? cert_or_fail(x, id) : NULL;
    if (!c || console_refused(x, c))
        return;
    if (bound_anywhere(x->st, c))
        return fail(x, RC_SSL_IN_USE, "SSL证书已被占用，请释放后重试 (certificate %.64s is bound)",
                    id);
    fe_uc_cert_remove(x->st, c);
    ok(x, NULL);
}

static void update_ssl_attribute(struct uc_ctx *x)
{
    const char *id = need(x, "SSLId");
    const char *name = id ? need(x, "SSLName") : NULL;
    if (!name || !name_ok(x, name))
        return;
    struct fe_uc_cert *c = cert_or_fail(x, id);
    if (!c || console_refused(x, c))
        return;
    char *d = strdup(name);
    if (!d)
        return fail(x, RC_FAILED, "out of memory");
    free(c->name);
    c->name = d;
    ok(x, NULL);
}

struct target {
    struct fe_uc_cert *cert;
    struct fe_uc_ulb *ulb;
    struct fe_uc_vserver *vs;
};

static bool bind_target(struct uc_ctx *x, struct target *t)
{
    const char *id = need(x, "SSLId");
    const char *ulb = id ? need(x, "ULBId") : NULL;
    const char *vs = ulb ? need(x, "VServerId") : NULL;
    if (!vs)
        return false;
    /* Looked up in the request's region: a certificate of another region is not found, so it
     * can never be bound across regions. */
    if (!(t->cert = cert_or_fail(x, id)))
        return false;
    if (!(t->ulb = find_ulb(x, ulb))) {
        fail(x, RC_ULB_NOT_FOUND, "ULB %.64s not found in region %.32s", ulb, x->region);
        return false;
    }
    if (!(t->vs = find_vserver(t->ulb, vs))) {
        fail(x, RC_VSERVER_NOT_FOUND, "指定Vserver不存在 (VServer %.64s)", vs);
        return false;
    }
    return true;
}

static void bind_ssl(struct uc_ctx *x)
{
    struct target t;
    if (!bind_target(x, &t))
        return;
    if (strcmp(t.vs->protocol, "HTTPS") != 0)
        return fail(x, RC_PARAMS, "Params [VServerId] not available: VServer protocol is %.16s",
                    t.vs->protocol);
    /* A classic ULB VServer holds one certificate; the misspelling is the cloud's own. */
    if ((!t.ulb->alb && t.vs->n_ssl >= 1) || has_ssl(t.vs, t.cert->id))
        return fail(x, RC_ALREADY_BOUND, "ulb vserver alredy bind ssl");
    if (t.vs->n_ssl >= FE_UC_ALB_CERTS_MAX)
        return fail(x, RC_FAILED, "操作失败: at most %d certificates per listener",
                    FE_UC_ALB_CERTS_MAX);
    if (!vs_add(t.vs, t.cert->id))
        return fail(x, RC_FAILED, "out of memory");
    ok(x, NULL);
}

static void unbind_ssl(struct uc_ctx *x)
{
    struct target t;
    if (!bind_target(x, &t))
        return;
    if (!has_ssl(t.vs, t.cert->id))
        return fail(x, RC_UNBIND_FAILED, "解绑失败 (certificate %.64s is not bound to %.64s)",
                    t.cert->id, t.vs->id);
    vs_remove(t.vs, t.cert->id);
    ok(x, NULL);
}

static bool replace_in(struct fe_uc_vserver *v, const char *old_id, const char *new_id)
{
    for (size_t i = 0; i < v->n_ssl; i++) {
        if (strcmp(v->ssl_ids[i], old_id) != 0)
            continue;
        if (has_ssl(v, new_id)) {
            /* Already bound there (an ALB SNI certificate): when the old one was the
             * default, the new one takes its place as the default, so that the listener
             * never ends without one. */
            bool was_default = i == 0;
            vs_remove(v, old_id);
            if (was_default && strcmp(v->ssl_ids[0], new_id) != 0) {
                for (size_t k = 1; k < v->n_ssl; k++) {
                    if (strcmp(v->ssl_ids[k], new_id) == 0) {
                        char *d = v->ssl_ids[k];
                        memmove(&v->ssl_ids[1], &v->ssl_ids[0], k * sizeof(char *));
                        v->ssl_ids[0] = d;
                        break;
                    }
                }
            }
            return true;
        }
        char *d = strdup(new_id);
        if (!d)
            return false;
        free(v->ssl_ids[i]); /* in place: the default stays the default */
        v->ssl_ids[i] = d;
        return true;
    }
    return true;
}

/* Without LoadBalancerId and ListenerId it replaces every binding of OldSSLId in the project
 * (and region), as the documentation says. */
static void update_ssl_binding(struct uc_ctx *x)
{
    const char *old_id = need(x, "OldSSLId");
    const char *new_id = old_id ? need(x, "NewSSLId") : NULL;
    if (!new_id)
        return;
    const char *lb_id = fe_params_get(x->p, "LoadBalancerId");
    const char *ls_id = fe_params_get(x->p, "ListenerId");
    lb_id = lb_id && *lb_id ? lb_id : NULL;
    ls_id = ls_id && *ls_id ? ls_id : NULL;
    if (!cert_or_fail(x, old_id) || !cert_or_fail(x, new_id))
        return;
    struct fe_uc_ulb *only_ulb = NULL;
    if (lb_id && !(only_ulb = find_any_lb(x, lb_id)))
        return fail(x, RC_ULB_NOT_FOUND, "ULB %.64s not found in region %.32s", lb_id, x->region);
    if (ls_id) {
        bool found = false;
        for (size_t i = 0; i < x->st->n_uc_ulbs && !found; i++) {
            struct fe_uc_ulb *u = &x->st->uc_ulbs[i];
            if ((only_ulb && u != only_ulb) || strcmp(u->region, x->region) != 0 ||
                strcmp(u->project, x->project) != 0)
                continue;
            found = find_vserver(u, ls_id) != NULL;
        }
        if (!found)
            return fail(x, RC_VSERVER_NOT_FOUND, "指定Vserver不存在 (VServer %.64s)", ls_id);
    }
    for (size_t i = 0; i < x->st->n_uc_ulbs; i++) {
        struct fe_uc_ulb *u = &x->st->uc_ulbs[i];
        if ((only_ulb && u != only_ulb) || strcmp(u->region, x->region) != 0 ||
            strcmp(u->project, x->project) != 0)
            continue;
        for (size_t k = 0; k < u->n_vservers; k++) {
            if (ls_id && strcmp(u->vservers[k].id, ls_id) != 0)
                continue;
            if (!replace_in(&u->vservers[k], old_id, new_id))
                return fail(x, RC_FAILED, "out of memory");
        }
    }
    ok(x, NULL);
}

static void describe_ulb(struct uc_ctx *x)
{
    long offset, limit;
    if (!int_param(x, "Offset", 0, &offset) || !int_param(x, "Limit", 20, &limit))
        return;
    if (limit == 0)
        limit = 20;
    const char *id = fe_params_get(x->p, "ULBId");
    cJSON *set = cJSON_CreateArray();
    long total = 0;
    for (size_t i = 0; set && i < x->st->n_uc_ulbs; i++) {
        const struct fe_uc_ulb *u = &x->st->uc_ulbs[i];
        if (u->alb || !in_scope(x, u) || (id && *id && strcmp(u->id, id) != 0))
            continue;
        if (total >= offset && total < offset + limit)
            cJSON_AddItemToArray(set, ulb_json(x, u));
        total++;
    }
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "TotalCount", (double)total);
    cJSON_AddItemToObject(extra, "DataSet", set);
    ok(x, extra);
}

static void describe_vserver(struct uc_ctx *x)
{
    const char *ulb = need(x, "ULBId");
    if (!ulb)
        return;
    struct fe_uc_ulb *u = find_ulb(x, ulb);
    if (!u)
        return fail(x, RC_ULB_NOT_FOUND, "ULB %.64s not found in region %.32s", ulb, x->region);
    const char *vs = fe_params_get(x->p, "VServerId");
    if (vs && *vs && !find_vserver(u, vs))
        return fail(x, RC_VSERVER_NOT_FOUND, "指定Vserver不存在 (VServer %.64s)", vs);
    cJSON *set = cJSON_CreateArray();
    long total = 0;
    for (size_t i = 0; set && i < u->n_vservers; i++) {
        if (vs && *vs && strcmp(u->vservers[i].id, vs) != 0)
            continue;
        cJSON_AddItemToArray(set, vserver_json(x, &u->vservers[i]));
        total++;
    }
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "TotalCount", (double)total);
    cJSON_AddItemToObject(extra, "DataSet", set);
    ok(x, extra);
}


/* ---- ALB: application load balancers and their listeners ----
 *
 * ulb-api/describe_load_balancers.md, describe_listeners.md, update_listener_attribute.md,
 * add_ssl_binding(_json).md, delete_ssl_binding(_json).md. An HTTPS listener has exactly one
 * default certificate (Certificates, at most 1 element, set by UpdateListenerAttribute) that
 * can be replaced but never unbound (the ALB console guide), and up to 25 SNI ("extension")
 * certificates added and removed with SSLIds.N. The RetCodes for the refusals are the
 * emulator's choices (README.md): the public pages document none for ALB. */

#define UC_ALB_PAGE_DEFAULT 100 /* DescribeLoadBalancers / DescribeListeners: Limit default */
#define UC_ALB_NAME_MAX 255     /* listener Name and Remark: [1-255] / [0-255] */
#define UC_SSLIDS_MAX 100       /* SSLIds.N read per request */

static cJSON *alb_listener_json(const struct fe_uc_vserver *v)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    bool https = strcmp(v->protocol, "HTTPS") == 0;
    cJSON_AddStringToObject(j, "ListenerId", v->id);
    cJSON_AddStringToObject(j, "Name", v->name);
    cJSON_AddStringToObject(j, "Remark", v->remark ? v->remark : "");
    /* The field table says ListenerPort/ListenerProtocol (its example ListenPort/
     * ListenProtocol); the SDKs' models follow the table. */
    cJSON_AddNumberToObject(j, "ListenerPort", v->port);
    cJSON_AddStringToObject(j, "ListenerProtocol", v->protocol);
    cJSON *certs = cJSON_AddArrayToObject(j, "Certificates");
    for (size_t i = 0; certs && https && i < v->n_ssl; i++) {
        cJSON *c = cJSON_CreateObject();
        if (!c || !cJSON_AddItemToArray(certs, c)) {
            cJSON_Delete(c);
            cJSON_Delete(j);
            return NULL;
        }
        cJSON_AddStringToObject(c, "SSLId", v->ssl_ids[i]);
        cJSON_AddBoolToObject(c, "IsDefault", i == 0);
    }
    cJSON_AddStringToObject(j, "SecurityPolicyId", https ? "Default" : "");
    cJSON_AddNumberToObject(j, "IdleTimeout", 60);
    cJSON_AddStringToObject(j, "Scheduler", "Roundrobin");
    cJSON_AddBoolToObject(j, "CompressionEnabled", false);
    cJSON_AddBoolToObject(j, "HTTP2Enabled", false);
    cJSON_AddBoolToObject(j, "RedirectEnabled", false);
    cJSON_AddArrayToObject(j, "Targets");
    cJSON_AddArrayToObject(j, "Rules");
    cJSON_AddStringToObject(j, "State", "None");
    return j;
}

static cJSON *alb_json(const struct fe_uc_ulb *u, bool detail)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "LoadBalancerId", u->id);
    cJSON_AddStringToObject(j, "Type", "Application");
    cJSON_AddStringToObject(j, "Name", u->name);
    cJSON_AddStringToObject(j, "Remark", "");
    cJSON_AddStringToObject(j, "IPVersion", "IPv4");
    cJSON_AddStringToObject(j, "Status", "Normal");
    cJSON *ls = cJSON_AddArrayToObject(j, "Listeners"); /* empty unless ShowDetail */
    for (size_t i = 0; ls && detail && i < u->n_vservers; i++) {
        cJSON *l = alb_listener_json(&u->vservers[i]);
        if (!l || !cJSON_AddItemToArray(ls, l)) {
            cJSON_Delete(l);
            cJSON_Delete(j);
            return NULL;
        }
    }
    return j;
}

/* A boolean parameter: absent gives def; "true"/"false" (any case) or 1/0; else 230. */
static bool bool_param(struct uc_ctx *x, const char *key, bool def, bool *out)
{
    const char *v = fe_params_get(x->p, key);
    *out = def;
    if (!v)
        return true;
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = true;
    else if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = false;
    else {
        fail(x, RC_PARAMS, "Params [%s] not available", key);
        return false;
    }
    return true;
}

/* The values of an array parameter Base.0, Base.1, ... (borrowed from the parameters).
 * Indexes must run from 0 without gaps; a bare "Base" (not an array) is refused. *n is 0
 * when the array is absent. */
static bool array_param(struct uc_ctx *x, const char *base, const char **vals, size_t max,
                        size_t *n)
{
    size_t blen = strlen(base), seen = 0;
    *n = 0;
    for (size_t i = 0; i < x->p->n; i++) {
        const char *k = x->p->items[i].key;
        if (strncmp(k, base, blen) != 0)
            continue;
        if (k[blen] == '\0') {
            fail(x, RC_PARAMS, "Params [%s] not available: send %s.0, %s.1, ...", base, base,
                 base);
            return false;
        }
        if (k[blen] == '.')
            seen++;
    }
    char key[64];
    for (size_t i = 0; i < max; i++) {
        snprintf(key, sizeof(key), "%s.%zu", base, i);
        const char *v = fe_params_get(x->p, key);
        if (!v)
            break;
        if (!*v) {
            fail(x, RC_PARAMS, "Params [%s] not available", key);
            return false;
        }
        vals[(*n)++] = v;
    }
    if (seen != *n) {
        fail(x, RC_PARAMS, "Params [%s] not available: indexes must run from 0 without gaps, "
                           "at most %zu",
             base, max);
        return false;
    }
    return true;
}

/* LoadBalancerId and ListenerId of an ALB listener of the request's region and project. */
static bool alb_target(struct uc_ctx *x, struct fe_uc_ulb **lb, struct fe_uc_vserver **ls)
{
    const char *lb_id = need(x, "LoadBalancerId");
    const char *ls_id = lb_id ? need(x, "ListenerId") : NULL;
    if (!ls_id)
        return false;
    if (!(*lb = find_alb(x, lb_id))) {
        fail(x, RC_ULB_NOT_FOUND, "负载均衡实例不存在 (application load balancer %.64s not "
                                  "found in region %.32s)",
             lb_id, x->region);
        return false;
    }
    if (!(*ls = find_vserver(*lb, ls_id))) {
        fail(x, RC_VSERVER_NOT_FOUND, "监听器不存在 (listener %.64s not found in %.64s)", ls_id,
             lb_id);
        return false;
    }
    return true;
}

static bool https_listener(struct uc_ctx *x, const struct fe_uc_vserver *v)
{
    if (strcmp(v->protocol, "HTTPS") == 0)
        return true;
    fail(x, RC_PARAMS, "Params [ListenerId] not available: listener protocol is %.16s "
                       "(certificates need HTTPS)",
         v->protocol);
    return false;
}

/* The SSLIds.N of the request: at least one, no repeats, each a certificate of the region. */
static bool ssl_ids_param(struct uc_ctx *x, const char **ids, size_t *n)
{
    if (!array_param(x, "SSLIds", ids, UC_SSLIDS_MAX, n))
        return false;
    if (*n == 0) {
        fail(x, RC_PARAMS, "Missing params [SSLIds.0]");
        return false;
    }
    for (size_t i = 0; i < *n; i++) {
        for (size_t k = 0; k < i; k++) {
            if (strcmp(ids[k], ids[i]) == 0) {
                fail(x, RC_PARAMS, "Params [SSLIds.%zu] not available: %.64s given twice", i,
                     ids[i]);
                return false;
            }
        }
        if (!cert_or_fail(x, ids[i]))
            return false;
    }
    return true;
}

static void describe_load_balancers(struct uc_ctx *x)
{
    long offset, limit;
    bool detail;
    const char *ids[UC_SSLIDS_MAX];
    size_t n_ids;
    if (!int_param(x, "Offset", 0, &offset) ||
        !int_param(x, "Limit", UC_ALB_PAGE_DEFAULT, &limit) ||
        !bool_param(x, "ShowDetail", false, &detail) ||
        !array_param(x, "LoadBalancerIds", ids, UC_SSLIDS_MAX, &n_ids))
        return;
    if (limit == 0)
        limit = UC_ALB_PAGE_DEFAULT;
    const char *type = fe_params_get(x->p, "Type");
    if (type && strcmp(type, "Application") != 0 && strcmp(type, "Network") != 0)
        return fail(x, RC_PARAMS, "Params [Type] not available (Application or Network)");
    bool network = type && strcmp(type, "Network") == 0; /* NLBs are not emulated: none */
    cJSON *set = cJSON_CreateArray();
    long total = 0;
    for (size_t i = 0; set && !network && i < x->st->n_uc_ulbs; i++) {
        const struct fe_uc_ulb *u = &x->st->uc_ulbs[i];
        if (!u->alb || !in_scope(x, u))
            continue;
        bool wanted = n_ids == 0;
        for (size_t k = 0; k < n_ids && !wanted; k++)
            wanted = strcmp(ids[k], u->id) == 0;
        if (!wanted)
            continue;
        if (total >= offset && total < offset + limit) {
            cJSON *j = alb_json(u, detail);
            if (!j || !cJSON_AddItemToArray(set, j)) {
                cJSON_Delete(j);
                cJSON_Delete(set);
                return fail(x, RC_FAILED, "out of memory");
            }
        }
        total++;
    }
    if (!set)
        return fail(x, RC_FAILED, "out of memory");
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "TotalCount", (double)total);
    cJSON_AddItemToObject(extra, "LoadBalancers", set);
    ok(x, extra);
}

/* ListenerId or LoadBalancerId (one is required; with ListenerId, LoadBalancerId is
 * ignored, as documented). */
static void describe_listeners(struct uc_ctx *x)
{
    long offset, limit;
    if (!int_param(x, "Offset", 0, &offset) ||
        !int_param(x, "Limit", UC_ALB_PAGE_DEFAULT, &limit))
        return;
    if (limit == 0)
        limit = UC_ALB_PAGE_DEFAULT;
    const char *ls_id = fe_params_get(x->p, "ListenerId");
    const char *lb_id = fe_params_get(x->p, "LoadBalancerId");
    ls_id = ls_id && *ls_id ? ls_id : NULL;
    lb_id = lb_id && *lb_id ? lb_id : NULL;
    struct fe_uc_ulb *only = NULL;
    const struct fe_uc_vserver *one = NULL;
    if (ls_id) {
        for (size_t i = 0; i < x->st->n_uc_ulbs && !one; i++) {
            struct fe_uc_ulb *u = &x->st->uc_ulbs[i];
            if (u->alb && in_scope(x, u))
                one = find_vserver(u, ls_id);
        }
        if (!one)
            return fail(x, RC_VSERVER_NOT_FOUND, "监听器不存在 (listener %.64s not found)",
                        ls_id);
    } else if (!lb_id) {
        return fail(x, RC_PARAMS, "Missing params [LoadBalancerId] (or ListenerId)");
    } else if (!(only = find_alb(x, lb_id))) {
        return fail(x, RC_ULB_NOT_FOUND, "负载均衡实例不存在 (application load balancer %.64s "
                                         "not found in region %.32s)",
                    lb_id, x->region);
    }
    cJSON *set = cJSON_CreateArray();
    long total = 0;
    size_t n = one ? 1 : only->n_vservers;
    for (size_t i = 0; set && i < n; i++) {
        const struct fe_uc_vserver *v = one ? one : &only->vservers[i];
        if (total >= offset && total < offset + limit) {
            cJSON *j = alb_listener_json(v);
            if (!j || !cJSON_AddItemToArray(set, j)) {
                cJSON_Delete(j);
                cJSON_Delete(set);
                return fail(x, RC_FAILED, "out of memory");
            }
        }
        total++;
    }
    if (!set)
        return fail(x, RC_FAILED, "out of memory");
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "TotalCount", (double)total);
    cJSON_AddItemToObject(extra, "Listeners", set);
    ok(x, extra);
}

/* SNI certificates only ("仅供SNI功能使用"); all checked before any is added. */
static void add_ssl_binding(struct uc_ctx *x)
{
    struct fe_uc_ulb *lb;
    struct fe_uc_vserver *v;
    const char *ids[UC_SSLIDS_MAX];
    size_t n;
    if (!alb_target(x, &lb, &v) || !https_listener(x, v) || !ssl_ids_param(x, ids, &n))
        return;
    if (v->n_ssl == 0)
        return fail(x, RC_PARAMS, "Params [ListenerId] not available: listener %.64s has no "
                                  "default certificate",
                    v->id);
    for (size_t i = 0; i < n; i++) {
        if (has_ssl(v, ids[i]))
            return fail(x, RC_ALREADY_BOUND, "证书已绑定 (certificate %.64s is already bound to "
                                             "listener %.64s as its %s certificate)",
                        ids[i], v->id, strcmp(v->ssl_ids[0], ids[i]) == 0 ? "default" : "SNI");
    }
    if (v->n_ssl + n > FE_UC_ALB_CERTS_MAX)
        return fail(x, RC_FAILED, "操作失败: listener %.64s would hold %zu SNI certificates "
                                  "(at most %d)",
                    v->id, v->n_ssl - 1 + n, FE_UC_ALB_CERTS_MAX - 1);
    char **a = realloc(v->ssl_ids, (v->n_ssl + n) * sizeof(*a));
    if (!a)
        return fail(x, RC_FAILED, "out of memory");
    v->ssl_ids = a;
    size_t added = 0;
    for (; added < n; added++)
        if (!(a[v->n_ssl + added] = strdup(ids[added])))
            break;
    if (added < n) {
        for (size_t i = 0; i < added; i++)
            free(a[v->n_ssl + i]);
        return fail(x, RC_FAILED, "out of memory");
    }
    v->n_ssl += n;
    ok(x, NULL);
}

/* SNI certificates only: the default can be replaced (UpdateListenerAttribute), never
 * unbound. All checked before any is removed. */
static void delete_ssl_binding(struct uc_ctx *x)
{
    struct fe_uc_ulb *lb;
    struct fe_uc_vserver *v;
    const char *ids[UC_SSLIDS_MAX];
    size_t n;
    if (!alb_target(x, &lb, &v) || !https_listener(x, v) || !ssl_ids_param(x, ids, &n))
        return;
    for (size_t i = 0; i < n; i++) {
        if (v->n_ssl && strcmp(v->ssl_ids[0], ids[i]) == 0)
            return fail(x, RC_UNBIND_FAILED, "解绑失败: %.64s is the default certificate of "
                                             "listener %.64s; a default certificate can only be "
                                             "replaced (UpdateListenerAttribute), not unbound",
                        ids[i], v->id);
        if (!has_ssl(v, ids[i]))
            return fail(x, RC_UNBIND_FAILED, "解绑失败 (certificate %.64s is not bound to "
                                             "listener %.64s)",
                        ids[i], v->id);
    }
    for (size_t i = 0; i < n; i++)
        vs_remove(v, ids[i]);
    ok(x, NULL);
}

static bool listener_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > UC_ALB_NAME_MAX)
        return false;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (!(*c >= 0x80 || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
            return false; /* letters (also non-ASCII), digits and only -_. */
    return true;
}

/* Name, Remark and the default certificate (Certificates.0); absent parameters leave their
 * attribute unchanged. Everything is checked before anything changes. */
static void update_listener_attribute(struct uc_ctx *x)
{
    struct fe_uc_ulb *lb;
    struct fe_uc_vserver *v;
    const char *certs[2];
    size_t n_certs;
    if (!alb_target(x, &lb, &v) || !array_param(x, "Certificates", certs, 2, &n_certs))
        return;
    const char *name = fe_params_get(x->p, "Name");
    const char *remark = fe_params_get(x->p, "Remark");
    if (name && !listener_name_ok(name))
        return fail(x, RC_PARAMS, "Params [Name] not available: 1-%d letters, digits, -_.",
                    UC_ALB_NAME_MAX);
    if (remark && strlen(remark) > UC_ALB_NAME_MAX)
        return fail(x, RC_PARAMS, "Params [Remark] not available: at most %d characters",
                    UC_ALB_NAME_MAX);
    if (n_certs > 1)
        return fail(x, RC_PARAMS, "Params [Certificates] not available: one default "
                                  "certificate (Certificates.0) only");
    if (n_certs && (!https_listener(x, v) || !cert_or_fail(x, certs[0])))
        return;
    char *new_name = name ? strdup(name) : NULL;
    char *new_remark = remark ? strdup(remark) : NULL;
    char *new_default = n_certs ? strdup(certs[0]) : NULL;
    if ((name && !new_name) || (remark && !new_remark) || (n_certs && !new_default))
        goto nomem;
    if (new_default && v->n_ssl == 0) { /* not seeded (seeds give HTTPS a default) */
        char **grown = realloc(v->ssl_ids, sizeof(char *));
        if (!grown)
            goto nomem;
        v->ssl_ids = grown;
        v->ssl_ids[0] = new_default;
        v->n_ssl = 1;
        new_default = NULL;
    }
    if (new_default && strcmp(v->ssl_ids[0] ? v->ssl_ids[0] : "", new_default) != 0) {
        /* The new default leaves the SNI set if it was there; the old one is replaced, so
         * it is no longer bound to this listener. */
        vs_remove_from(v, new_default, 1);
        free(v->ssl_ids[0]);
        v->ssl_ids[0] = new_default;
        new_default = NULL;
    }
    if (new_name) {
        free(v->name);
        v->name = new_name;
        new_name = NULL;
    }
    if (new_remark) {
        free(v->remark);
        v->remark = new_remark;
        new_remark = NULL;
    }
    free(new_default);
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddStringToObject(extra, "ListenerId", v->id);
    ok(x, extra);
    return;
nomem:
    free(new_name);
    free(new_remark);
    free(new_default);
    fail(x, RC_FAILED, "out of memory");
}

static bool in_strs(char **v, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

void fe_uc_handle(struct fe_server *s, const struct fe_request *req,
                  const struct fe_params *params, struct fe_response *resp, int *retcode)
{
    struct fe_state *st = s->state;
    struct uc_ctx x = {.st = st, .req = req, .p = params, .resp = resp, .retcode = retcode};
    struct elb_query_param *qp = NULL;
    x.now_s = req->now_ms / 1000;
    x.action = fe_params_get(params, "Action");
    if (!x.action || !*x.action) {
        x.action = "";
        return fail(&x, RC_NO_ACTION, "缺少关键参数 Action (Missing Action)");
    }
    const char *sig = fe_params_get(params, "Signature");
    if (!sig || !*sig)
        return fail(&x, RC_NO_SIGNATURE, "缺少签名 (Missing Signature)");
    const char *pub = fe_params_get(params, "PublicKey");
    for (size_t i = 0; pub && i < st->n_uc_creds; i++)
        if (strcmp(st->uc_creds[i].public_key, pub) == 0)
            x.cred = &st->uc_creds[i];
    if (!x.cred)
        return fail(&x, RC_NO_USER, "用户不存在 (unknown PublicKey)");

    /* Every parameter but Signature, as received; the signer sorts them. */
    if (!(qp = calloc(params->n ? params->n : 1, sizeof(*qp))))
        return fail(&x, RC_FAILED, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < params->n; i++) {
        if (strcmp(params->items[i].key, "Signature") == 0)
            continue;
        qp[n].key = params->items[i].key;
        qp[n].value = params->items[i].value;
        n++;
    }
    char want[41];
    enum cs_code rc = elb_ucloud_signature(qp, n, x.cred->private_key, want, NULL);
    free(qp);
    if (rc != CS_OK || strlen(sig) != 40 || CRYPTO_memcmp(want, sig, 40) != 0)
        return fail(&x, RC_BAD_SIGNATURE, "签名错误 (Signature verification failed)");
    if (!fe_uc_known_action(x.action))
        return fail(&x, RC_BAD_ACTION, "Action 不存在 (Action %.64s not exist)", x.action);
    x.region = fe_params_get(params, "Region");
    if (!x.region || !*x.region)
        return fail(&x, RC_PARAMS, "Missing params [Region]");
    if (!in_strs(st->uc_regions, st->n_uc_regions, x.region))
        return fail(&x, RC_PARAMS, "Params [Region] not available");
    x.project = fe_params_get(params, "ProjectId");
    if (!x.project || !*x.project) /* the default project */
        x.project = st->n_uc_projects ? st->uc_projects[0] : "";
    if (!in_strs(st->uc_projects, st->n_uc_projects, x.project))
        return fail(&x, RC_NO_PROJECT, "项目不存在 (project %.64s not exist)", x.project);

    if (strcmp(x.action, "CreateSSL") == 0)
        create_ssl(&x);
    else if (strcmp(x.action, "DescribeSSL") == 0)
        describe_ssl(&x, false);
    else if (strcmp(x.action, "DescribeSSLV2") == 0)
        describe_ssl(&x, true);
    else if (strcmp(x.action, "DeleteSSL") == 0)
        delete_ssl(&x);
    else if (strcmp(x.action, "UpdateSSLAttribute") == 0)
        update_ssl_attribute(&x);
    else if (strcmp(x.action, "BindSSL") == 0)
        bind_ssl(&x);
    else if (strcmp(x.action, "UnbindSSL") == 0)
        unbind_ssl(&x);
    else if (strcmp(x.action, "UpdateSSLBinding") == 0)
        update_ssl_binding(&x);
    else if (strcmp(x.action, "DescribeULB") == 0)
        describe_ulb(&x);
    else if (strcmp(x.action, "DescribeVServer") == 0)
        describe_vserver(&x);
    else if (strcmp(x.action, "DescribeLoadBalancers") == 0)
        describe_load_balancers(&x);
    else if (strcmp(x.action, "DescribeListeners") == 0)
        describe_listeners(&x);
    else if (strcmp(x.action, "AddSSLBinding") == 0)
        add_ssl_binding(&x);
    else if (strcmp(x.action, "DeleteSSLBinding") == 0)
        delete_ssl_binding(&x);
    else if (strcmp(x.action, "UpdateListenerAttribute") == 0)
        update_listener_attribute(&x);
}
