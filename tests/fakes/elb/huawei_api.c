/* huawei_api.c -- the emulated Huawei Cloud ELB v3 API (design.md §6): SDK-HMAC-SHA256
 * verification as API Gateway does it, then certificates, listeners and load balancers under
 * /v3/{project_id}/elb/. Called with the server lock held. Error codes the public
 * documentation does not give are the emulator's choice, listed in README.md. */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/json.h"
#include "common/util.h"
#include "elb/huawei_sign.h"
#include "tests/fakes/elb/fake_elb.h"

#define HW_NAME_MAX 255
#define HW_CERT_MAX 65536
#define HW_KEY_MAX 8192
#define HW_DOMAIN_MAX 10000
#define HW_DOMAINS_MAX 100
#define HW_LIST_MAX 2000 /* ELB lists at most 2000 per page, the default too */
#define HW_SNI_MAX 50
#define HW_SNI_DOMAINS_MAX 200
#define HW_SKEW_MS (15 * 60 * 1000) /* API Gateway: X-Sdk-Date within 15 minutes */

/* Error codes (README.md says which are confirmed and which are the emulator's choice). */
#define E_AUTH "APIGW.0301"
#define E_FORBIDDEN_PROJECT "APIGW.0302"
#define E_BAD_REQUEST "ELB.8901"
#define E_IN_USE "ELB.8902"
#define E_PROTECTED "ELB.8903"
#define E_NOT_FOUND "ELB.8904"
#define E_QUOTA "ELB.8905"
#define E_BAD_CERT "ELB.1011"

void fe_hw_error(struct fe_response *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error_msg", msg);
    cJSON_AddStringToObject(j, "error_code", code);
    cJSON_AddStringToObject(j, "request_id", resp->request_id);
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cs_buf_reset(&resp->body);
    resp->status = status;
    if (!s || cs_buf_adds(&resp->body, s) != CS_OK) {
        cs_buf_reset(&resp->body);
        resp->status = 500;
    }
    cJSON_free(s);
    cJSON_Delete(j);
}

/* ---- routing ---- */

struct hw_route {
    char project[128];
    char coll[32];  /* certificates | listeners | loadbalancers */
    char id[128];   /* "" for the collection */
};

static bool parse_route(const char *path, struct hw_route *r)
{
    memset(r, 0, sizeof(*r));
    if (strncmp(path, "/v3/", 4) != 0)
        return false;
    const char *p = path + 4;
    const char *slash = strchr(p, '/');
    if (!slash || slash == p || (size_t)(slash - p) >= sizeof(r->project))
        return false;
    memcpy(r->project, p, (size_t)(slash - p));
    p = slash;
    if (strncmp(p, "/elb/", 5) != 0)
        return false;
    p += 5;
    slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= sizeof(r->coll))
        return false;
    memcpy(r->coll, p, n);
    if (slash) {
        const char *id = slash + 1;
        size_t m = strlen(id);
        if (m == 0 || m >= sizeof(r->id) || strchr(id, '/'))
            return false;
        memcpy(r->id, id, m);
    }
    return true;
}

const char *fe_hw_operation(const char *method, const char *path)
{
    struct hw_route r;
    if (!parse_route(path, &r))
        return NULL;
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    bool put = strcmp(method, "PUT") == 0, del = strcmp(method, "DELETE") == 0;
    if (strcmp(r.coll, "certificates") == 0) {
        if (!r.id[0])
            return get ? "ListCertificates" : post ? "CreateCertificate" : NULL;
        if (strcmp(r.id, "batch-delete") == 0 && post)
            return "BatchDeleteCertificates";
        return get ? "ShowCertificate" : put ? "UpdateCertificate" : del ? "DeleteCertificate" : NULL;
    }
    if (strcmp(r.coll, "listeners") == 0) {
        if (!r.id[0])
            return get ? "ListListeners" : NULL;
        return get ? "ShowListener" : put ? "UpdateListener" : NULL;
    }
    if (strcmp(r.coll, "loadbalancers") == 0) {
        if (!r.id[0])
            return get ? "ListLoadBalancers" : NULL;
        return get ? "ShowLoadBalancer" : NULL;
    }
    return NULL;
}

/* ---- authentication ---- */

static bool parse_sdk_date(const char *s, int64_t *ms)
{
    /* YYYYMMDDTHHMMSSZ */
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9'))
            return false;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
    tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
    tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
    tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
    tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    *ms = (int64_t)timegm(&tm) * 1000;
    return true;
}

struct authz {
    char access[256];
    char signed_headers[1024];
    char signature[128];
};

/* "SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex" */
static bool parse_authz(const char *v, struct authz *a)
{
    memset(a, 0, sizeof(*a));
    static const char scheme[] = "SDK-HMAC-SHA256 ";
    if (!v || strncmp(v, scheme, sizeof(scheme) - 1) != 0)
        return false;
    const char *p = v + sizeof(scheme) - 1;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        if (!eq)
            return false;
        const char *end = strchr(eq, ',');
        if (!end)
            end = eq + strlen(eq);
        size_t klen = (size_t)(eq - p), vlen = (size_t)(end - eq - 1);
        char *dst = NULL;
        size_t cap = 0;
        if (klen == 6 && memcmp(p, "Access", 6) == 0) {
            dst = a->access;
            cap = sizeof(a->access);
        } else if (klen == 13 && memcmp(p, "SignedHeaders", 13) == 0) {
            dst = a->signed_headers;
            cap = sizeof(a->signed_headers);
        } else if (klen == 9 && memcmp(p, "Signature", 9) == 0) {
            dst = a->signature;
            cap = sizeof(a->signature);
        }
        if (dst) {
            while (vlen && eq[vlen] == ' ')
                vlen--;
            if (vlen >= cap)
                return false;
            memcpy(dst, eq + 1, vlen);
            dst[vlen] = '\0';
        }
        p = end;
    }
    return a->access[0] && a->signed_headers[0] && a->signature[0];
}

static const char *find_sig(const char *authz)
{
    const char *s = strstr(authz, "Signature=");
    return s ? s + 10 : NULL;
}

static const char *find_signed_headers(const char *authz, size_t *len)
{
    const char *s = strstr(authz, "SignedHeaders=");
    if (!s)
        return NULL;
    s += 14;
    const char *e = strchr(s, ',');
    *len = e ? (size_t)(e - s) : strlen(s);
    return s;
}

static void mask_ak(const char *ak, char out[16])
{
    snprintf(out, 16, "%.4s****", ak);
}

/* Returns the credential that signed req, or NULL with resp filled. */
static const struct fe_hw_cred *hw_authenticate(const struct fe_state *st,
                                                const struct fe_request *req, const char *path,
                                                const struct fe_params *query,
                                                struct fe_response *resp, const char **outcome)
{
    const struct fe_hw_cred *cred = NULL, *found = NULL;
    struct elb_query_param *qp = NULL;
    struct cs_http_header *hs = NULL;
    struct cs_buf mine;
    cs_buf_init(&mine, 8192);
    struct authz a;
    char masked[16];
    *outcome = E_AUTH;

    const char *av = fe_req_header(req, "Authorization");
    if (!av) {
        fe_hw_error(resp, 401, E_AUTH,
                    "Incorrect IAM authentication information: Authorization header not found");
        goto out;
    }
    if (!parse_authz(av, &a)) {
        fe_hw_error(resp, 401, E_AUTH,
                    "Incorrect IAM authentication information: unsupported or malformed "
                    "Authorization (expected SDK-HMAC-SHA256)");
        goto out;
    }
    int64_t date_ms = 0;
    if (!parse_sdk_date(fe_req_header(req, "X-Sdk-Date"), &date_ms)) {
        fe_hw_error(resp, 401, E_AUTH,
                    "Incorrect IAM authentication information: X-Sdk-Date missing or not "
                    "YYYYMMDDTHHMMSSZ");
        goto out;
    }
    for (size_t i = 0; i < st->n_hw_creds; i++)
        if (strcmp(st->hw_creds[i].ak, a.access) == 0)
            found = &st->hw_creds[i];
    if (!found) {
        mask_ak(a.access, masked);
        fe_hw_error(resp, 401, E_AUTH,
                    "Incorrect IAM authentication information: Get secretKey failed,ak:%s,err:ak "
                    "not exist",
                    masked);
        goto out;
    }
    int64_t skew = req->now_ms - date_ms;
    if (skew > HW_SKEW_MS || skew < -HW_SKEW_MS) {
        fe_hw_error(resp, 401, E_AUTH,
                    "Incorrect IAM authentication information: calc ak sk signature "
                    "fail:signature expired");
        goto out;
    }

    /* Recompute over the received request with exactly the headers it says it signed. */
    size_t n_signed = 1;
    for (const char *p = a.signed_headers; *p; p++)
        n_signed += *p == ';';
    hs = calloc(n_signed, sizeof(*hs));
    qp = calloc(query->n ? query->n : 1, sizeof(*qp));
    if (!hs || !qp) {
        fe_hw_error(resp, 500, "APIGW.0103", "out of memory");
        *outcome = "APIGW.0103";
        goto out;
    }
    size_t nh = 0;
    bool missing = false;
    char names[sizeof(a.signed_headers)];
    memcpy(names, a.signed_headers, sizeof(names));
    char *save = NULL;
    for (char *name = strtok_r(names, ";", &save); name; name = strtok_r(NULL, ";", &save)) {
        if (strcmp(name, "host") == 0)
            continue; /* the signer signs the Host it is given */
        const char *v = fe_req_header(req, name);
        if (!v) {
            missing = true;
            break;
        }
        hs[nh].name = name;
        hs[nh].value = v;
        nh++;
    }
    for (size_t i = 0; i < query->n; i++) {
        qp[i].key = query->items[i].key;
        qp[i].value = query->items[i].value;
    }
    const char *host = fe_req_header(req, "Host");
    struct elb_hw_sign_input in = {
        .method = req->method,
        .host = host ? host : "",
        .path = path,
        .query = qp,
        .n_query = query->n,
        .headers = hs,
        .n_headers = nh,
        .body = req->body ? req->body : "",
        .body_len = req->body_len,
    };
    bool good = false;
    if (!missing && host && elb_hw_sign(&in, found->ak, found->sk, &mine, NULL) == CS_OK) {
        const char *want = find_sig(cs_buf_str(&mine));
        size_t want_sh_len = 0;
        const char *want_sh = find_signed_headers(cs_buf_str(&mine), &want_sh_len);
        good = want && want_sh && strlen(want) == strlen(a.signature) &&
               CRYPTO_memcmp(want, a.signature, strlen(want)) == 0 &&
               strlen(a.signed_headers) == want_sh_len &&
               memcmp(want_sh, a.signed_headers, want_sh_len) == 0;
    }
    if (!good) {
        fe_hw_error(resp, 401, E_AUTH,
                    "Incorrect IAM authentication information: verify aksk signature fail");
        goto out;
    }
    if (found->security_token) {
        const char *tok = fe_req_header(req, "X-Security-Token");
        if (!tok || strlen(tok) != strlen(found->security_token) ||
            CRYPTO_memcmp(tok, found->security_token, strlen(tok)) != 0) {
            fe_hw_error(resp, 401, E_AUTH,
                        "Incorrect IAM authentication information: decrypt token fail");
            goto out;
        }
    }
    cred = found;
    *outcome = "ok";
out:
    cs_buf_free(&mine);
    free(hs);
    free(qp);
    return cred;
}

/* ---- JSON views ---- */

static cJSON *csv_array(const char *csv)
{
    cJSON *a = cJSON_CreateArray();
    const char *p = csv ? csv : "";
    while (a && *p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n) {
            char *s = strndup(p, n);
            if (s)
                cJSON_AddItemToArray(a, cJSON_CreateString(s));
            free(s);
        }
        p += n + (c ? 1 : 0);
    }
    return a;
}

static cJSON *cert_json(const struct fe_state *st, const struct fe_hw_cert *c)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "id", c->id);
    cJSON_AddStringToObject(j, "project_id", c->project_id);
    cJSON_AddStringToObject(j, "name", c->name);
    cJSON_AddStringToObject(j, "description", c->description);
    cJSON_AddStringToObject(j, "type", c->type);
    cJSON_AddStringToObject(j, "domain", c->domain);
    cJSON_AddStringToObject(j, "certificate", c->certificate);
    /* With the account's private-key echo off (the default) the key reads back masked. */
    cJSON_AddStringToObject(j, "private_key",
                            !c->private_key ? "" : st->hw_key_echo ? c->private_key : "*****");
    cJSON_AddBoolToObject(j, "admin_state_up", true);
    cJSON_AddStringToObject(j, "created_at", c->created_at);
    cJSON_AddStringToObject(j, "updated_at", c->updated_at);
    cJSON_AddStringToObject(j, "expire_time", c->expire_time);
    cJSON_AddStringToObject(j, "common_name", c->common_name);
    cJSON_AddStringToObject(j, "fingerprint", c->fingerprint);
    cJSON_AddItemToObject(j, "subject_alternative_names", csv_array(c->sans));
    cJSON_AddStringToObject(j, "source", c->source);
    cJSON_AddStringToObject(j, "scm_certificate_id", c->scm_certificate_id);
    cJSON_AddStringToObject(j, "protection_status", c->protection_status);
    cJSON_AddStringToObject(j, "protection_reason", c->protection_reason);
    cJSON_AddStringToObject(j, "enterprise_project_id", c->enterprise_project_id);
    return j;
}

static cJSON *listener_json(const struct fe_hw_listener *l)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "id", l->id);
    cJSON_AddStringToObject(j, "name", l->name);
    cJSON_AddStringToObject(j, "description", "");
    cJSON_AddStringToObject(j, "protocol", l->protocol);
    cJSON_AddNumberToObject(j, "protocol_port", l->port);
    cJSON_AddStringToObject(j, "project_id", l->lb->project_id);
    cJSON_AddBoolToObject(j, "admin_state_up", true);
    cJSON *lbs = cJSON_AddArrayToObject(j, "loadbalancers");
    cJSON *ref = cJSON_CreateObject();
    cJSON_AddStringToObject(ref, "id", l->lb->id);
    cJSON_AddItemToArray(lbs, ref);
    if (l->default_tls)
        cJSON_AddStringToObject(j, "default_tls_container_ref", l->default_tls);
    else
        cJSON_AddNullToObject(j, "default_tls_container_ref");
    cJSON_AddNullToObject(j, "client_ca_tls_container_ref");
    cJSON *sni = cJSON_AddArrayToObject(j, "sni_container_refs");
    for (size_t i = 0; sni && i < l->n_sni; i++)
        cJSON_AddItemToArray(sni, cJSON_CreateString(l->sni[i]));
    cJSON_AddStringToObject(j, "sni_match_algo", l->sni_match_algo);
    cJSON_AddStringToObject(j, "created_at", l->created_at);
    cJSON_AddStringToObject(j, "updated_at", l->updated_at);
    return j;
}

static cJSON *lb_json(const struct fe_hw_lb *lb)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "id", lb->id);
    cJSON_AddStringToObject(j, "name", lb->name);
    cJSON_AddStringToObject(j, "description", "");
    cJSON_AddStringToObject(j, "project_id", lb->project_id);
    cJSON_AddStringToObject(j, "provisioning_status", "ACTIVE");
    cJSON_AddStringToObject(j, "operating_status", "ONLINE");
    cJSON_AddBoolToObject(j, "admin_state_up", true);
    cJSON *ls = cJSON_AddArrayToObject(j, "listeners");
    for (size_t i = 0; ls && i < lb->n_listeners; i++) {
        cJSON *ref = cJSON_CreateObject();
        cJSON_AddStringToObject(ref, "id", lb->listeners[i].id);
        cJSON_AddItemToArray(ls, ref);
    }
    return j;
}

/* Answers {"request_id": ..., key: item} with status; takes item. */
static void reply(struct fe_response *resp, int status, const char *key, cJSON *item)
{
    cJSON *j = cJSON_CreateObject();
    if (!j || !item) {
        cJSON_Delete(j);
        cJSON_Delete(item);
        fe_hw_error(resp, 500, "ELB.9001", "out of memory");
        return;
    }
    cJSON_AddStringToObject(j, "request_id", resp->request_id);
    cJSON_AddItemToObject(j, key, item);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    cs_buf_reset(&resp->body);
    if (!s || cs_buf_adds(&resp->body, s) != CS_OK) {
        cJSON_free(s);
        fe_hw_error(resp, 500, "ELB.9001", "out of memory");
        return;
    }
    cJSON_free(s);
    resp->status = status;
}

/* ---- request context ---- */

struct hw_ctx {
    struct fe_server *s;
    struct fe_state *st;
    const struct fe_request *req;
    const struct fe_hw_cred *cred;
    const char *project;
    const struct fe_params *query;
    struct fe_response *resp;
    const char **outcome;
};

static void fail(struct hw_ctx *x, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct hw_ctx *x, int status, const char *code, const char *fmt, ...)
{
    char msg[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fe_hw_error(x->resp, status, code, "%s", msg);
    *x->outcome = code;
}

/* Parses the body as {"<wrapper>": {...}}; NULL (with the error answered) otherwise. */
static cJSON *parse_wrapped(struct hw_ctx *x, const char *wrapper, const cJSON **inner)
{
    cJSON *root = x->req->body_len ? cJSON_ParseWithLength(x->req->body, x->req->body_len) : NULL;
    const cJSON *in = root ? cJSON_GetObjectItemCaseSensitive(root, wrapper) : NULL;
    if (!cJSON_IsObject(in)) {
        cJSON_Delete(root);
        fail(x, 400, E_BAD_REQUEST, "Invalid request body: expected {\"%s\": {...}}", wrapper);
        return NULL;
    }
    *inner = in;
    return root;
}

/* An optional string member no longer than max; false (answered) on a wrong type or size. */
static bool opt_str(struct hw_ctx *x, const cJSON *o, const char *key, size_t max,
                    const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v)
        return true;
    if (!cJSON_IsString(v)) {
        fail(x, 400, E_BAD_REQUEST, "Invalid input for field/attribute %s: not a string", key);
        return false;
    }
    if (strlen(v->valuestring) > max) {
        fail(x, 400, E_BAD_REQUEST, "Invalid input for field/attribute %s: longer than %zu",
             key, max);
        return false;
    }
    *out = v->valuestring;
    return true;
}

static bool domain_label_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

/* Huawei's domain field: comma-separated names, at most 100, "*." only as the first label. */
static bool domains_ok(const char *csv)
{
    size_t count = 0;
    const char *p = csv;
    if (!*p)
        return true;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (n == 0 || ++count > HW_DOMAINS_MAX)
            return false;
        const char *q = p, *end = p + n;
        if (n >= 2 && q[0] == '*' && q[1] == '.')
            q += 2;
        while (q < end) {
            const char *dot = memchr(q, '.', (size_t)(end - q));
            size_t m = dot ? (size_t)(dot - q) : (size_t)(end - q);
            if (!domain_label_ok(q, m))
                return false;
            q += m + (dot ? 1 : 0);
            if (dot && q == end)
                return false;
        }
        if (!c)
            return true;
        p = c + 1;
    }
}

static struct fe_hw_cert *project_cert(struct hw_ctx *x, const char *id)
{
    struct fe_hw_cert *c = fe_hw_cert_find(x->st, id);
    return c && strcmp(c->project_id, x->project) == 0 ? c : NULL;
}

static const struct fe_hw_listener *cert_user(const struct fe_state *st, const char *id)
{
    for (size_t i = 0; i < st->n_hw_lbs; i++)
        for (size_t k = 0; k < st->hw_lbs[i].n_listeners; k++) {
            const struct fe_hw_listener *l = &st->hw_lbs[i].listeners[k];
            if (l->default_tls && strcmp(l->default_tls, id) == 0)
                return l;
            for (size_t m = 0; m < l->n_sni; m++)
                if (strcmp(l->sni[m], id) == 0)
                    return l;
        }
    return NULL;
}

static bool protected_from(const struct hw_ctx *x, const struct fe_hw_cert *c)
{
    return x->cred->console && strcmp(c->protection_status, "consoleProtection") == 0;
}

/* ---- certificates ---- */

static bool set_dup(char **dst, const char *v, bool secret)
{
    char *d = strdup(v);
    if (!d)
        return false;
    if (secret)
        cs_secure_free_str(*dst);
    else
        free(*dst);
    *dst = d;
    return true;
}

static void create_cert(struct hw_ctx *x)
{
    const cJSON *o;
    cJSON *root = parse_wrapped(x, "certificate", &o);
    struct fe_hw_cert *c = NULL;
    char why[160] = "";
    if (!root)
        return;
    const char *name, *desc, *type, *cert, *key, *domain, *pstatus, *preason, *eps;
    if (!opt_str(x, o, "name", HW_NAME_MAX, &name) ||
        !opt_str(x, o, "description", HW_NAME_MAX, &desc) ||
        !opt_str(x, o, "type", 16, &type) || !opt_str(x, o, "certificate", HW_CERT_MAX, &cert) ||
        !opt_str(x, o, "private_key", HW_KEY_MAX, &key) ||
        !opt_str(x, o, "domain", HW_DOMAIN_MAX, &domain) ||
        !opt_str(x, o, "protection_status", 32, &pstatus) ||
        !opt_str(x, o, "protection_reason", HW_NAME_MAX, &preason) ||
        !opt_str(x, o, "enterprise_project_id", 64, &eps))
        goto out;
    type = type ? type : "server";
    bool server = strcmp(type, "server") == 0 || strcmp(type, "server_sm") == 0;
    if (!server && strcmp(type, "client") != 0) {
        fail(x, 400, E_BAD_REQUEST, "Invalid input for field/attribute type: %s", type);
        goto out;
    }
    if (!cert || !*cert) {
        fail(x, 400, E_BAD_REQUEST, "Invalid input for field/attribute certificate: required");
        goto out;
    }
    if (server && (!key || !*key)) {
        fail(x, 400, E_BAD_REQUEST, "Invalid input for field/attribute private_key: required "
                                    "for a server certificate");
        goto out;
    }
    pstatus = pstatus ? pstatus : "nonProtection";
    if (strcmp(pstatus, "nonProtection") != 0 && strcmp(pstatus, "consoleProtection") != 0) {
        fail(x, 400, E_BAD_REQUEST, "Invalid input for field/attribute protection_status");
        goto out;
    }
    if (domain && !domains_ok(domain)) {
        fail(x, 400, E_BAD_REQUEST, "Invalid input for field/attribute domain");
        goto out;
    }
    size_t used = 0;
    for (size_t i = 0; i < x->st->n_hw_certs; i++)
        used += strcmp(x->st->hw_certs[i]->project_id, x->project) == 0;
    if (used >= x->st->hw_quota) {
        fail(x, 409, E_QUOTA, "Quota exceeded for resources: ['certificate'] (%zu)",
             x->st->hw_quota);
        goto out;
    }
    if (!(c = calloc(1, sizeof(*c))))
        goto nomem;
    fe_random_hex(c->id, 32);
    while (fe_hw_cert_find(x->st, c->id))
        fe_random_hex(c->id, 32);
    if (!(c->project_id = strdup(x->project)) || !(c->name = strdup(name ? name : "")) ||
        !(c->description = strdup(desc ? desc : "")) || !(c->type = strdup(type)) ||
        !(c->certificate = strdup(cert)) || (server && !(c->private_key = strdup(key))) ||
        !(c->domain = strdup(domain ? domain : "")) || !(c->source = strdup("")) ||
        !(c->scm_certificate_id = strdup("")) || !(c->protection_status = strdup(pstatus)) ||
        !(c->protection_reason = strdup(preason ? preason : "")) ||
        !(c->enterprise_project_id = strdup(eps ? eps : "0")))
        goto nomem;
    enum cs_code rc = fe_hw_cert_derive(c, why, sizeof(why));
    if (rc == CS_EINVAL) {
        fail(x, 400, E_BAD_CERT, "Invalid certificate or private key: %s", why);
        goto out;
    }
    if (rc != CS_OK)
        goto nomem;
    fe_now_string(x->req->now_ms, c->created_at);
    memcpy(c->updated_at, c->created_at, sizeof(c->updated_at));
    if (fe_hw_cert_insert(x->st, c) != CS_OK)
        goto nomem;
    reply(x->resp, 201, "certificate", cert_json(x->st, c));
    c = NULL;
    goto out;
nomem:
    fail(x, 500, "ELB.9001", "out of memory");
out:
    fe_hw_cert_free(c);
    cJSON_Delete(root);
}

static void show_cert(struct hw_ctx *x, const char *id)
{
    struct fe_hw_cert *c = project_cert(x, id);
    if (!c)
        return fail(x, 404, E_NOT_FOUND, "Certificate %.64s could not be found.", id);
    reply(x->resp, 200, "certificate", cert_json(x->st, c));
}

static void update_cert(struct hw_ctx *x, const char *id)
{
    struct fe_hw_cert *c = project_cert(x, id);
    const cJSON *o;
    cJSON *root = NULL;
    char why[160] = "";
    struct fe_pem_info info;
    memset(&info, 0, sizeof(info));
    if (!c)
        return fail(x, 404, E_NOT_FOUND, "Certificate %.64s could not be found.", id);
    if (protected_from(x, c))
        return fail(x, 403, E_PROTECTED,
                    "Certificate %.64s is protected (consoleProtection): it cannot be modified "
                    "from the console",
                    id);
    if (!(root = parse_wrapped(x, "certificate", &o)))
        return;
    const char *name, *desc, *cert, *key, *domain, *pstatus, *preason;
    if (!opt_str(x, o, "name", HW_NAME_MAX, &name) ||
        !opt_str(x, o, "description", HW_NAME_MAX, &desc) ||
        !opt_str(x, o, "certificate", HW_CERT_MAX, &cert) ||
        !opt_str(x, o, "private_key", HW_KEY_MAX, &key) ||
        !opt_str(x, o, "domain", HW_DOMAIN_MAX, &domain) ||
        !opt_str(x, o, "protection_status", 32, &pstatus) ||
        !opt_str(x, o, "protection_reason", HW_NAME_MAX, &preason))
        goto out;
    if (cJSON_GetObjectItemCaseSensitive(o, "type")) {
        fail(x, 400, E_BAD_REQUEST, "Invalid input: type cannot be updated");
        goto out;
    }
    if (pstatus && strcmp(pstatus, "nonProtection") != 0 &&
        strcmp(pstatus, "consoleProtection") != 0) {
        fail(x, 400, E_BAD_REQUEST, "Invalid input for field/attribute protection_status");
        goto out;
    }
    if (domain && !domains_ok(domain)) {
        fail(x, 400, E_BAD_REQUEST, "Invalid input for field/attribute domain");
        goto out;
    }
    bool server = strcmp(c->type, "client") != 0;
    if (cert || key) {
        /* Check the new pair before touching anything: a refused update loses nothing. */
        const char *k = key ? key : c->private_key;
        if (server && (!k || !*k)) {
            fail(x, 400, E_BAD_CERT, "Invalid certificate or private key: private key required");
            goto out;
        }
        if (fe_pem_check(cert ? cert : c->certificate, server ? k : NULL, &info, why,
                         sizeof(why)) != CS_OK) {
            fail(x, 400, E_BAD_CERT, "Invalid certificate or private key: %s", why);
            goto out;
        }
    }
    if ((name && !set_dup(&c->name, name, false)) ||
        (desc && !set_dup(&c->description, desc, false)) ||
        (domain && !set_dup(&c->domain, domain, false)) ||
        (pstatus && !set_dup(&c->protection_status, pstatus, false)) ||
        (preason && !set_dup(&c->protection_reason, preason, false)) ||
        (cert && !set_dup(&c->certificate, cert, false)) ||
        (key && server && !set_dup(&c->private_key, key, true))) {
        fail(x, 500, "ELB.9001", "out of memory");
        goto out;
    }
    if (cert || key) {
        if (!set_dup(&c->common_name, info.common_name, false) ||
            !set_dup(&c->fingerprint, info.sha1_hex, false) || !set_dup(&c->sans, info.sans, false)) {
            fail(x, 500, "ELB.9001", "out of memory");
            goto out;
        }
        fe_now_string(info.not_after_ms, c->expire_time);
    }
    fe_now_string(x->req->now_ms, c->updated_at);
    reply(x->resp, 200, "certificate", cert_json(x->st, c));
out:
    fe_pem_info_cleanup(&info);
    cJSON_Delete(root);
}

/* Deletes one certificate; returns NULL or the error code (answered unless batch). */
static const char *delete_one(struct hw_ctx *x, const char *id, bool answer)
{
    struct fe_hw_cert *c = project_cert(x, id);
    if (!c) {
        if (answer)
            fail(x, 404, E_NOT_FOUND, "Certificate %.64s could not be found.", id);
        return E_NOT_FOUND;
    }
    if (protected_from(x, c)) {
        if (answer)
            fail(x, 403, E_PROTECTED,
                 "Certificate %.64s is protected (consoleProtection): it cannot be deleted "
                 "from the console",
                 id);
        return E_PROTECTED;
    }
    const struct fe_hw_listener *l = cert_user(x->st, c->id);
    if (l) {
        if (answer)
            fail(x, 409, E_IN_USE, "Certificate %.64s is in use by listener %.64s.", id, l->id);
        return E_IN_USE;
    }
    fe_hw_cert_remove(x->st, id);
    return NULL;
}

static void delete_cert(struct hw_ctx *x, const char *id)
{
    if (delete_one(x, id, true))
        return;
    x->resp->status = 204;
    cs_buf_reset(&x->resp->body);
}

static void batch_delete(struct hw_ctx *x)
{
    cJSON *root = x->req->body_len ? cJSON_ParseWithLength(x->req->body, x->req->body_len) : NULL;
    const cJSON *ids = root ? cJSON_GetObjectItemCaseSensitive(root, "certificates") : NULL;
    cJSON *out = NULL;
    if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) == 0) {
        fail(x, 400, E_BAD_REQUEST,
             "Invalid request body: expected {\"certificates\": [ids]} with at least one id");
        goto done;
    }
    for (const cJSON *it = ids->child; it; it = it->next) {
        if (!cJSON_IsString(it) || !*it->valuestring) {
            fail(x, 400, E_BAD_REQUEST, "Invalid request body: certificate ids must be strings");
            goto done;
        }
    }
    if (!(out = cJSON_CreateArray()))
        goto nomem;
    for (const cJSON *it = ids->child; it; it = it->next) {
        const char *code = delete_one(x, it->valuestring, false);
        cJSON *r = cJSON_CreateObject();
        if (!r || !cJSON_AddItemToArray(out, r)) {
            cJSON_Delete(r);
            goto nomem;
        }
        cJSON_AddStringToObject(r, "id", it->valuestring);
        if (!code) {
            cJSON_AddStringToObject(r, "ret_status", "successful");
        } else if (strcmp(code, E_NOT_FOUND) == 0) {
            cJSON_AddStringToObject(r, "ret_status", "not found");
        } else {
            cJSON_AddStringToObject(r, "ret_status", "failed");
            cJSON_AddStringToObject(r, "ret_code", code);
        }
    }
    reply(x->resp, 200, "certificates", out);
    out = NULL;
    goto done;
nomem:
    fail(x, 500, "ELB.9001", "out of memory");
done:
    cJSON_Delete(out);
    cJSON_Delete(root);
}

/* ---- listing ---- */

struct page {
    int limit;
    bool reverse;
    const char *marker;
};

static bool parse_page(struct hw_ctx *x, struct page *pg)
{
    pg->limit = HW_LIST_MAX;
    pg->reverse = false;
    pg->marker = fe_params_get(x->query, "marker");
    const char *l = fe_params_get(x->query, "limit");
    if (l) {
        char *end = NULL;
        long v = strtol(l, &end, 10);
        if (!*l || *end || v < 0 || v > HW_LIST_MAX) {
            fail(x, 400, E_BAD_REQUEST, "Invalid input for limit: must be an integer in [0, %d]",
                 HW_LIST_MAX);
            return false;
        }
        if (v > 0)
            pg->limit = (int)v; /* 0 takes the default */
    }
    const char *r = fe_params_get(x->query, "page_reverse");
    if (r) {
        if (strcmp(r, "true") != 0 && strcmp(r, "false") != 0) {
            fail(x, 400, E_BAD_REQUEST, "Invalid input for page_reverse: must be true or false");
            return false;
        }
        pg->reverse = strcmp(r, "true") == 0;
    }
    return true;
}

/* Whether value passes every filter named key in the query (repeatable: any of the values). */
static bool filter_ok(const struct fe_params *q, const char *key, const char *value)
{
    bool any = false, hit = false;
    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->items[i].key, key) != 0)
            continue;
        any = true;
        hit = hit || (value && strcmp(q->items[i].value, value) == 0);
    }
    return !any || hit;
}

static bool cert_matches(const struct hw_ctx *x, const struct fe_hw_cert *c)
{
    const struct fe_params *q = x->query;
    return strcmp(c->project_id, x->project) == 0 && filter_ok(q, "id", c->id) &&
           filter_ok(q, "name", c->name) && filter_ok(q, "description", c->description) &&
           filter_ok(q, "domain", c->domain) && filter_ok(q, "type", c->type) &&
           filter_ok(q, "fingerprint", c->fingerprint) &&
           filter_ok(q, "common_name", c->common_name) &&
           filter_ok(q, "protection_status", c->protection_status) &&
           filter_ok(q, "source", c->source) &&
           filter_ok(q, "scm_certificate_id", c->scm_certificate_id) &&
           filter_ok(q, "enterprise_project_id", c->enterprise_project_id);
}

static void list_reply(struct hw_ctx *x, const char *key, cJSON *items, const char *first,
                       const char *last, bool more_before, bool more_after, bool reverse)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *pi = cJSON_CreateObject();
    int n = cJSON_GetArraySize(items);
    if (!j || !pi || !items) {
        cJSON_Delete(j);
        cJSON_Delete(pi);
        cJSON_Delete(items);
        return fail(x, 500, "ELB.9001", "out of memory");
    }
    cJSON_AddStringToObject(j, "request_id", x->resp->request_id);
    cJSON_AddItemToObject(j, key, items);
    /* previous_marker: the first item, when there is something before it (always when paging
     * forward); next_marker: the last item, when there is something after it. */
    if (n && (reverse ? more_before : true))
        cJSON_AddStringToObject(pi, "previous_marker", first);
    if (n && (reverse ? true : more_after))
        cJSON_AddStringToObject(pi, "next_marker", last);
    cJSON_AddNumberToObject(pi, "current_count", n);
    cJSON_AddItemToObject(j, "page_info", pi);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    cs_buf_reset(&x->resp->body);
    if (!s || cs_buf_adds(&x->resp->body, s) != CS_OK) {
        cJSON_free(s);
        return fail(x, 500, "ELB.9001", "out of memory");
    }
    cJSON_free(s);
    x->resp->status = 200;
}

static void list_certs(struct hw_ctx *x)
{
    struct page pg;
    if (!parse_page(x, &pg))
        return;
    struct fe_state *st = x->st;
    cJSON *items = cJSON_CreateArray();
    const struct fe_hw_cert **page = calloc((size_t)pg.limit, sizeof(*page));
    int n = 0;
    bool more_before = false, more_after = false;
    if (!items || !page) {
        cJSON_Delete(items);
        free(page);
        return fail(x, 500, "ELB.9001", "out of memory");
    }
    /* Ordered by id; a marker need not exist any more: paging resumes after where it was. */
    if (!pg.reverse) {
        size_t i = 0;
        if (pg.marker) {
            i = fe_hw_cert_lower_bound(st, pg.marker);
            if (i < st->n_hw_certs && strcmp(st->hw_certs[i]->id, pg.marker) == 0)
                i++;
        }
        for (; i < st->n_hw_certs; i++) {
            if (!cert_matches(x, st->hw_certs[i]))
                continue;
            if (n == pg.limit) {
                more_after = true;
                break;
            }
            page[n++] = st->hw_certs[i];
        }
        more_before = pg.marker != NULL;
    } else {
        size_t i = pg.marker ? fe_hw_cert_lower_bound(st, pg.marker) : st->n_hw_certs;
        while (i-- > 0) {
            if (!cert_matches(x, st->hw_certs[i]))
                continue;
            if (n == pg.limit) {
                more_before = true;
                break;
            }
            page[n++] = st->hw_certs[i];
        }
        for (int a = 0, b = n - 1; a < b; a++, b--) {
            const struct fe_hw_cert *t = page[a];
            page[a] = page[b];
            page[b] = t;
        }
        more_after = pg.marker != NULL;
    }
    for (int k = 0; k < n; k++) {
        cJSON *c = cert_json(st, page[k]);
        if (!c || !cJSON_AddItemToArray(items, c)) {
            cJSON_Delete(c);
            cJSON_Delete(items);
            free(page);
            return fail(x, 500, "ELB.9001", "out of memory");
        }
    }
    list_reply(x, "certificates", items, n ? page[0]->id : NULL, n ? page[n - 1]->id : NULL,
               more_before, more_after, pg.reverse);
    free(page);
}

/* Pages over items already filtered and sorted by id (listeners, load balancers: few). */
static void page_ids(struct hw_ctx *x, const char *key, const char **ids, cJSON **objs, size_t n,
                     const struct page *pg)
{
    size_t start = 0, end = n;
    if (!pg->reverse) {
        if (pg->marker)
            while (start < n && strcmp(ids[start], pg->marker) <= 0)
                start++;
        end = start + (size_t)pg->limit < n ? start + (size_t)pg->limit : n;
    } else {
        end = n;
        if (pg->marker)
            for (end = 0; end < n && strcmp(ids[end], pg->marker) < 0;)
                end++;
        start = end > (size_t)pg->limit ? end - (size_t)pg->limit : 0;
    }
    cJSON *items = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        if (i >= start && i < end && items)
            cJSON_AddItemToArray(items, objs[i]);
        else
            cJSON_Delete(objs[i]);
    }
    list_reply(x, key, items, end > start ? ids[start] : NULL, end > start ? ids[end - 1] : NULL,
               start > 0, end < n, pg->reverse);
}

struct idobj {
    const char *id;
    cJSON *obj;
};

static int cmp_idobj(const void *a, const void *b)
{
    return strcmp(((const struct idobj *)a)->id, ((const struct idobj *)b)->id);
}

static void page_idobjs(struct hw_ctx *x, const char *key, struct idobj *v, size_t n,
                        const struct page *pg)
{
    qsort(v, n, sizeof(*v), cmp_idobj);
    const char **ids = calloc(n ? n : 1, sizeof(*ids));
    cJSON **objs = calloc(n ? n : 1, sizeof(*objs));
    if (!ids || !objs) {
        for (size_t i = 0; i < n; i++)
            cJSON_Delete(v[i].obj);
        free(ids);
        free(objs);
        return fail(x, 500, "ELB.9001", "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        ids[i] = v[i].id;
        objs[i] = v[i].obj;
    }
    page_ids(x, key, ids, objs, n, pg);
    free(ids);
    free(objs);
}

static bool port_filter_ok(struct hw_ctx *x, int port, bool *bad)
{
    bool any = false, hit = false;
    for (size_t i = 0; i < x->query->n; i++) {
        if (strcmp(x->query->items[i].key, "protocol_port") != 0)
            continue;
        char *end = NULL;
        const char *v = x->query->items[i].value;
        long p = strtol(v, &end, 10);
        if (!*v || *end) {
            *bad = true;
            return false;
        }
        any = true;
        hit = hit || p == port;
    }
    return !any || hit;
}

static void list_listeners(struct hw_ctx *x)
{
    struct page pg;
    if (!parse_page(x, &pg))
        return;
    size_t total = 0;
    for (size_t i = 0; i < x->st->n_hw_lbs; i++)
        total += x->st->hw_lbs[i].n_listeners;
    struct idobj *v = calloc(total ? total : 1, sizeof(*v));
    size_t n = 0;
    if (!v)
        return fail(x, 500, "ELB.9001", "out of memory");
    for (size_t i = 0; i < x->st->n_hw_lbs; i++) {
        const struct fe_hw_lb *lb = &x->st->hw_lbs[i];
        if (strcmp(lb->project_id, x->project) != 0 ||
            !filter_ok(x->query, "loadbalancer_id", lb->id))
            continue;
        for (size_t k = 0; k < lb->n_listeners; k++) {
            const struct fe_hw_listener *l = &lb->listeners[k];
            bool bad = false;
            bool ok = port_filter_ok(x, l->port, &bad);
            if (bad) {
                for (size_t m = 0; m < n; m++)
                    cJSON_Delete(v[m].obj);
                free(v);
                return fail(x, 400, E_BAD_REQUEST, "Invalid input for protocol_port");
            }
            if (!ok || !filter_ok(x->query, "id", l->id) ||
                !filter_ok(x->query, "name", l->name) ||
                !filter_ok(x->query, "protocol", l->protocol) ||
                !filter_ok(x->query, "default_tls_container_ref", l->default_tls))
                continue;
            v[n].id = l->id;
            v[n].obj = listener_json(l);
            n++;
        }
    }
    page_idobjs(x, "listeners", v, n, &pg);
    free(v);
}

static struct fe_hw_listener *find_listener(struct hw_ctx *x, const char *id)
{
    for (size_t i = 0; i < x->st->n_hw_lbs; i++) {
        struct fe_hw_lb *lb = &x->st->hw_lbs[i];
        if (strcmp(lb->project_id, x->project) != 0)
            continue;
        for (size_t k = 0; k < lb->n_listeners; k++)
            if (strcmp(lb->listeners[k].id, id) == 0)
                return &lb->listeners[k];
    }
    return NULL;
}

static void show_listener(struct hw_ctx *x, const char *id)
{
    struct fe_hw_listener *l = find_listener(x, id);
    if (!l)
        return fail(x, 404, E_NOT_FOUND, "Listener %.64s could not be found.", id);
    reply(x->resp, 200, "listener", listener_json(l));
}

static bool tls_protocol(const char *p)
{
    return strcmp(p, "HTTPS") == 0 || strcmp(p, "TERMINATED_HTTPS") == 0 ||
           strcmp(p, "QUIC") == 0 || strcmp(p, "TLS") == 0;
}

/* The names a certificate serves for SNI: its domain field, else its SANs, else its CN. */
static const char *cert_domains(const struct fe_hw_cert *c)
{
    if (c->domain && *c->domain)
        return c->domain;
    if (c->sans && *c->sans)
        return c->sans;
    return c->common_name ? c->common_name : "";
}

/* Checks an SNI list: size, duplicates, existence, type, and no domain repeated across it. */
static bool sni_ok(struct hw_ctx *x, char **ids, size_t n)
{
    if (n > HW_SNI_MAX) {
        fail(x, 400, E_BAD_REQUEST, "Invalid input: at most %d SNI certificates", HW_SNI_MAX);
        return false;
    }
    struct cs_buf seen; /* ",d1,d2,...," for a simple membership test */
    cs_buf_init(&seen, 1 << 20);
    bool ok = false;
    size_t total = 0;
    if (cs_buf_addc(&seen, ',') != CS_OK)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < i; k++)
            if (strcmp(ids[i], ids[k]) == 0) {
                fail(x, 400, E_BAD_REQUEST, "Invalid input: SNI certificate %.64s repeated",
                     ids[i]);
                goto out;
            }
        const struct fe_hw_cert *c = project_cert(x, ids[i]);
        if (!c) {
            fail(x, 404, E_NOT_FOUND, "Certificate %.64s could not be found.", ids[i]);
            goto out;
        }
        if (strcmp(c->type, "client") == 0) {
            fail(x, 400, E_BAD_REQUEST, "Certificate %.64s is not a server certificate", c->id);
            goto out;
        }
        const char *p = cert_domains(c);
        if (!*p) {
            fail(x, 400, E_BAD_REQUEST, "SNI certificate %.64s has no domain", c->id);
            goto out;
        }
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            char needle[300];
            if (len && len < sizeof(needle) - 2) {
                snprintf(needle, sizeof(needle), ",%.*s,", (int)len, p);
                if (strstr(cs_buf_str(&seen), needle)) {
                    fail(x, 400, E_BAD_REQUEST,
                         "Invalid input: domain %.*s is repeated among the SNI certificates",
                         (int)len, p);
                    goto out;
                }
                if (++total > HW_SNI_DOMAINS_MAX) {
                    fail(x, 400, E_BAD_REQUEST,
                         "Invalid input: SNI certificates cover more than %d domains",
                         HW_SNI_DOMAINS_MAX);
                    goto out;
                }
                if (cs_buf_add(&seen, needle + 1, len + 1) != CS_OK)
                    goto nomem;
            }
            p += len + (comma ? 1 : 0);
        }
    }
    ok = true;
    goto out;
nomem:
    fail(x, 500, "ELB.9001", "out of memory");
out:
    cs_buf_free(&seen);
    return ok;
}

static void update_listener(struct hw_ctx *x, const char *id)
{
    struct fe_hw_listener *l = find_listener(x, id);
    const cJSON *o;
    cJSON *root;
    char **sni = NULL, *def = NULL;
    size_t n_sni = 0;
    if (!l)
        return fail(x, 404, E_NOT_FOUND, "Listener %.64s could not be found.", id);
    if (!(root = parse_wrapped(x, "listener", &o)))
        return;
    const cJSON *jdef = cJSON_GetObjectItemCaseSensitive(o, "default_tls_container_ref");
    const cJSON *jsni = cJSON_GetObjectItemCaseSensitive(o, "sni_container_refs");
    const char *algo, *name;
    if (!opt_str(x, o, "sni_match_algo", 32, &algo) || !opt_str(x, o, "name", HW_NAME_MAX, &name))
        goto out;
    if ((jdef || jsni) && !tls_protocol(l->protocol)) {
        fail(x, 400, E_BAD_REQUEST, "Listener %.64s (%s) does not take certificates", l->id,
             l->protocol);
        goto out;
    }
    if (algo && strcmp(algo, "wildcard") != 0 && strcmp(algo, "longest_suffix") != 0) {
        fail(x, 400, E_BAD_REQUEST, "Invalid input for sni_match_algo");
        goto out;
    }
    if (jdef) {
        if (!cJSON_IsNull(jdef) && !cJSON_IsString(jdef)) {
            fail(x, 400, E_BAD_REQUEST, "Invalid input for default_tls_container_ref");
            goto out;
        }
        const char *ref = cJSON_IsString(jdef) ? jdef->valuestring : NULL;
        if (!ref || !*ref) {
            /* An HTTPS listener always keeps a default certificate. */
            fail(x, 400, E_BAD_REQUEST,
                 "Listener %.64s: an HTTPS listener must have a default certificate", l->id);
            goto out;
        }
        const struct fe_hw_cert *c = project_cert(x, ref);
        if (!c) {
            fail(x, 404, E_NOT_FOUND, "Certificate %.64s could not be found.", ref);
            goto out;
        }
        if (strcmp(c->type, "client") == 0) {
            fail(x, 400, E_BAD_REQUEST, "Certificate %.64s is not a server certificate", ref);
            goto out;
        }
        if (!(def = strdup(ref)))
            goto nomem;
    }
    if (jsni) {
        if (!cJSON_IsArray(jsni)) {
            fail(x, 400, E_BAD_REQUEST, "Invalid input for sni_container_refs");
            goto out;
        }
        size_t n = (size_t)cJSON_GetArraySize(jsni);
        if (!(sni = calloc(n ? n : 1, sizeof(*sni))))
            goto nomem;
        for (const cJSON *it = jsni->child; it; it = it->next) {
            if (!cJSON_IsString(it) || !*it->valuestring) {
                fail(x, 400, E_BAD_REQUEST, "Invalid input for sni_container_refs");
                goto out;
            }
            if (!(sni[n_sni++] = strdup(it->valuestring)))
                goto nomem;
        }
        if (!sni_ok(x, sni, n_sni))
            goto out;
    }
    if ((algo && !set_dup(&l->sni_match_algo, algo, false)) ||
        (name && !set_dup(&l->name, name, false)))
        goto nomem;
    if (def) {
        free(l->default_tls);
        l->default_tls = def;
        def = NULL;
    }
    if (jsni) {
        for (size_t i = 0; i < l->n_sni; i++)
            free(l->sni[i]);
        free(l->sni);
        l->sni = sni;
        l->n_sni = n_sni;
        sni = NULL;
        n_sni = 0;
    }
    fe_now_string(x->req->now_ms, l->updated_at);
    reply(x->resp, 200, "listener", listener_json(l));
    goto out;
nomem:
    fail(x, 500, "ELB.9001", "out of memory");
out:
    for (size_t i = 0; i < n_sni; i++)
        free(sni[i]);
    free(sni);
    free(def);
    cJSON_Delete(root);
}

static void list_lbs(struct hw_ctx *x)
{
    struct page pg;
    if (!parse_page(x, &pg))
        return;
    struct idobj *v = calloc(x->st->n_hw_lbs ? x->st->n_hw_lbs : 1, sizeof(*v));
    size_t n = 0;
    if (!v)
        return fail(x, 500, "ELB.9001", "out of memory");
    for (size_t i = 0; i < x->st->n_hw_lbs; i++) {
        const struct fe_hw_lb *lb = &x->st->hw_lbs[i];
        if (strcmp(lb->project_id, x->project) != 0 || !filter_ok(x->query, "id", lb->id) ||
            !filter_ok(x->query, "name", lb->name))
            continue;
        v[n].id = lb->id;
        v[n].obj = lb_json(lb);
        n++;
    }
    page_idobjs(x, "loadbalancers", v, n, &pg);
    free(v);
}

static void show_lb(struct hw_ctx *x, const char *id)
{
    for (size_t i = 0; i < x->st->n_hw_lbs; i++) {
        const struct fe_hw_lb *lb = &x->st->hw_lbs[i];
        if (strcmp(lb->project_id, x->project) == 0 && strcmp(lb->id, id) == 0)
            return reply(x->resp, 200, "loadbalancer", lb_json(lb));
    }
    fail(x, 404, E_NOT_FOUND, "Loadbalancer %.64s could not be found.", id);
}

void fe_hw_handle(struct fe_server *s, const struct fe_request *req, const char *path,
                  const char *query, const char *op, struct fe_response *resp,
                  const char **outcome)
{
    struct fe_params q = {0};
    struct hw_route r;
    *outcome = "ok";
    if (!parse_route(path, &r) || !op) {
        fe_hw_error(resp, 404, "APIGW.0101",
                    "The API does not exist or has not been published in the environment");
        *outcome = "APIGW.0101";
        return;
    }
    if (fe_params_parse(query, strlen(query), false, &q) != CS_OK) {
        fe_hw_error(resp, 400, "APIGW.0201", "API request error: malformed query string");
        *outcome = "APIGW.0201";
        return;
    }
    const struct fe_hw_cred *cred = hw_authenticate(s->state, req, path, &q, resp, outcome);
    if (!cred)
        goto out;
    /* Project IDs are per region. The signed X-Project-Id scopes the credentials; a path that
     * names another project (or none the account has) is refused. */
    const char *xpid = fe_req_header(req, "X-Project-Id");
    if ((xpid && strcmp(xpid, r.project) != 0) || !fe_hw_project_region(s->state, r.project)) {
        fe_hw_error(resp, 403, E_FORBIDDEN_PROJECT,
                    "The IAM user is not authorized to access the API: project %.64s is not the "
                    "project of the request's credentials",
                    r.project);
        *outcome = E_FORBIDDEN_PROJECT;
        goto out;
    }
    struct hw_ctx x = {.s = s,
                       .st = s->state,
                       .req = req,
                       .cred = cred,
                       .project = r.project,
                       .query = &q,
                       .resp = resp,
                       .outcome = outcome};
    if (strcmp(op, "CreateCertificate") == 0)
        create_cert(&x);
    else if (strcmp(op, "ListCertificates") == 0)
        list_certs(&x);
    else if (strcmp(op, "ShowCertificate") == 0)
        show_cert(&x, r.id);
    else if (strcmp(op, "UpdateCertificate") == 0)
        update_cert(&x, r.id);
    else if (strcmp(op, "DeleteCertificate") == 0)
        delete_cert(&x, r.id);
    else if (strcmp(op, "BatchDeleteCertificates") == 0)
        batch_delete(&x);
    else if (strcmp(op, "ListListeners") == 0)
        list_listeners(&x);
    else if (strcmp(op, "ShowListener") == 0)
        show_listener(&x, r.id);
    else if (strcmp(op, "UpdateListener") == 0)
        update_listener(&x, r.id);
    else if (strcmp(op, "ListLoadBalancers") == 0)
        list_lbs(&x);
    else if (strcmp(op, "ShowLoadBalancer") == 0)
        show_lb(&x, r.id);
out:
    fe_params_free(&q);
}
