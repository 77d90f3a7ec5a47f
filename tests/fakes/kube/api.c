/* api.c -- request handling of fake-kube-apiserver: faults, bearer-token auth, routing of
 * /api and /apis paths, the verbs (get, list, watch, create, update, patch, delete, and the
 * /status subresource), server-set metadata, the validation the real server does for these
 * types, and Status objects as the real server writes them. fk_api_handle() takes a parsed
 * request and fills a response without touching a socket, so a fuzzer can drive it. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/codec.h"
#include "common/json.h"
#include "common/util.h"
#include "tests/fakes/kube/fk.h"

/* ---- small helpers ---- */

char *fk_json_print(const cJSON *j)
{
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    if (!t)
        return NULL;
    char *out = strdup(t);
    cJSON_free(t); /* wiped by the cleansing allocator */
    return out;
}

void fk_uuid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)cs_rand_u64();
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

static bool dns_label_n(const char *s, size_t n)
{
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && i > 0 && i < n - 1))
            return false;
    }
    return true;
}

bool fk_valid_dns_label(const char *s)
{
    return dns_label_n(s, strlen(s));
}

bool fk_valid_dns_subdomain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!dns_label_n(p, len))
            return false;
        if (!dot)
            return true;
        p = dot + 1;
    }
}

static const char SUBDOMAIN_MSG[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char LABEL_MSG[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

static const char *query_get(const struct fk_request *req, const char *key)
{
    for (size_t i = 0; i < req->nquery; i++)
        if (req->query[i].key && strcmp(req->query[i].key, key) == 0)
            return req->query[i].value ? req->query[i].value : "";
    return NULL;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || !isdigit((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_long(const char *s, long *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

void fk_response_cleanup(struct fk_response *resp)
{
    if (resp->body)
        cs_secure_free(resp->body, resp->body_len);
    fk_watch_free(resp->watch);
    memset(resp, 0, sizeof(*resp));
}

static void set_body(struct fk_response *resp, int status, char *body)
{
    if (resp->body)
        cs_secure_free(resp->body, resp->body_len);
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = body;
    resp->body_len = body ? strlen(body) : 0;
    if (!body) { /* out of memory: still an answer */
        resp->status = 500;
        resp->content_type = "text/plain";
        resp->body = strdup("out of memory");
        resp->body_len = resp->body ? strlen(resp->body) : 0;
    }
}

static void set_buf(struct fk_response *resp, int status, struct cs_buf *b)
{
    size_t len = b->len;
    char *body = cs_buf_take(b);
    set_body(resp, status, body);
    if (body)
        resp->body_len = len;
}

/* ---- Status objects ---- */

/* details: NULL or an object (ownership passes). */
static char *status_build(int code, const char *reason, const char *message, cJSON *details,
                          cJSON *meta)
{
    char *out = NULL;
    cJSON *j = cJSON_CreateObject();
    if (!j)
        goto out;
    cJSON_AddStringToObject(j, "kind", "Status");
    cJSON_AddStringToObject(j, "apiVersion", "v1");
    cJSON_AddItemToObject(j, "metadata", meta ? meta : cJSON_CreateObject());
    meta = NULL;
    cJSON_AddStringToObject(j, "status", code >= 200 && code < 300 ? "Success" : "Failure");
    if (message)
        cJSON_AddStringToObject(j, "message", message);
    if (reason)
        cJSON_AddStringToObject(j, "reason", reason);
    if (details) {
        cJSON_AddItemToObject(j, "details", details);
        details = NULL;
    }
    cJSON_AddNumberToObject(j, "code", code);
    out = fk_json_print(j);
out:
    cJSON_Delete(j);
    cJSON_Delete(details);
    cJSON_Delete(meta);
    return out;
}

static cJSON *details_for(const char *name, const struct fk_type *t, bool kind_is_kind)
{
    cJSON *d = cJSON_CreateObject();
    if (!d)
        return NULL;
    if (name)
        cJSON_AddStringToObject(d, "name", name);
    if (t && t->group[0])
        cJSON_AddStringToObject(d, "group", t->group);
    if (t)
        cJSON_AddStringToObject(d, "kind", kind_is_kind ? t->kind : t->resource);
    return d;
}

char *fk_status_json(int code, const char *reason, const char *message, const char *name,
                     const struct fk_type *t, bool kind_is_kind)
{
    return status_build(code, reason, message,
                        name || t ? details_for(name, t, kind_is_kind) : NULL, NULL);
}

static void status(struct fk_response *resp, int code, const char *reason, const char *message,
                   const char *name, const struct fk_type *t)
{
    set_body(resp, code, fk_status_json(code, reason, message, name, t, false));
}

static void bad_request(struct fk_response *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void bad_request(struct fk_response *resp, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    set_body(resp, 400, status_build(400, "BadRequest", msg, NULL, NULL));
}

static void not_found(struct fk_response *resp, const struct fk_type *t, const char *name)
{
    char q[128], msg[512];
    fk_type_qualified(t, q, sizeof(q));
    snprintf(msg, sizeof(msg), "%s \"%s\" not found", q, name);
    status(resp, 404, "NotFound", msg, name, t);
}

static void ns_not_found(struct fk_response *resp, const char *ns)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "namespaces \"%s\" not found", ns);
    status(resp, 404, "NotFound", msg, ns, &fk_types[0]);
}

static void conflict(struct fk_response *resp, const struct fk_type *t, const char *name,
                     const char *why)
{
    char q[128], msg[768];
    fk_type_qualified(t, q, sizeof(q));
    snprintf(msg, sizeof(msg), "Operation cannot be fulfilled on %s \"%s\": %s", q, name, why);
    status(resp, 409, "Conflict", msg, name, t);
}

static void no_resource(struct fk_response *resp)
{
    set_body(resp, 404,
             status_build(404, "NotFound", "the server could not find the requested resource",
                          cJSON_CreateObject(), NULL));
}

static void method_not_allowed(struct fk_response *resp)
{
    set_body(resp, 405,
             status_build(405, "MethodNotAllowed",
                          "the server does not allow this method on the requested resource",
                          cJSON_CreateObject(), NULL));
}

/* 422 with one cause, as field validation reports it. */
static void invalid(struct fk_response *resp, const struct fk_type *t, const char *name,
                    const char *field, const char *cause_reason, const char *detail)
{
    char msg[1536];
    snprintf(msg, sizeof(msg), "%s \"%s\" is invalid: %s: %s", t->kind, name ? name : "", field,
             detail);
    cJSON *d = details_for(name ? name : "", t, true);
    cJSON *causes = cJSON_AddArrayToObject(d, "causes");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "reason", cause_reason);
    cJSON_AddStringToObject(c, "message", detail);
    cJSON_AddStringToObject(c, "field", field);
    cJSON_AddItemToArray(causes, c);
    set_body(resp, 422, status_build(422, "Invalid", msg, d, NULL));
}

static void unsupported_media(struct fk_response *resp, const char *accepted)
{
    char msg[512];
    snprintf(msg, sizeof(msg),
             "the body of the request was in an unknown format - accepted media types include: "
             "%s",
             accepted);
    set_body(resp, 415, status_build(415, "UnsupportedMediaType", msg, NULL, NULL));
}

static void internal_error(struct fk_response *resp, const char *what)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "Internal error occurred: %s", what);
    cJSON *d = cJSON_CreateObject();
    cJSON *causes = cJSON_AddArrayToObject(d, "causes");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "message", what);
    cJSON_AddItemToArray(causes, c);
    set_body(resp, 500, status_build(500, "InternalError", msg, d, NULL));
}

static void object_response(struct fk_response *resp, int code, const struct fk_obj *o)
{
    struct cs_buf b;
    cs_buf_init_secret(&b, 0);
    if (fk_obj_append_full(&b, o) != CS_OK) {
        cs_buf_free(&b);
        internal_error(resp, "out of memory");
        return;
    }
    set_buf(resp, code, &b);
    cs_buf_free(&b);
}

/* ---- stats ---- */

enum verb { V_GET, V_LIST, V_WATCH, V_CREATE, V_UPDATE, V_PATCH, V_DELETE, V_OTHER, V_N };
static const char *const verb_names[V_N] = {"get",    "list",  "watch",  "create",
                                            "update", "patch", "delete", "other"};

struct fk_stats {
    unsigned long counts[V_N][FK_NTYPES + 1];
    unsigned long total, faults_429, faults_500, unauthorized;
};

static void count(struct fk_server *srv, enum verb v, const struct fk_type *t)
{
    pthread_mutex_lock(&srv->cfg_mu);
    srv->stats->counts[v][t ? fk_type_index(t) : FK_NTYPES]++;
    pthread_mutex_unlock(&srv->cfg_mu);
}

void fk_stats_count(struct fk_server *srv, const char *verb, const char *resource)
{
    enum verb v = V_OTHER;
    for (int i = 0; i < V_N; i++)
        if (strcmp(verb_names[i], verb) == 0)
            v = (enum verb)i;
    const struct fk_type *t = NULL;
    for (size_t i = 0; resource && i < FK_NTYPES; i++)
        if (strcmp(fk_types[i].resource, resource) == 0)
            t = &fk_types[i];
    count(srv, v, t);
}

char *fk_stats_json(struct fk_server *srv)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *req = cJSON_AddObjectToObject(j, "requests");
    pthread_mutex_lock(&srv->cfg_mu);
    for (int v = 0; v < V_N; v++) {
        cJSON *per = NULL;
        for (size_t t = 0; t <= FK_NTYPES; t++) {
            unsigned long n = srv->stats->counts[v][t];
            if (!n)
                continue;
            if (!per)
                per = cJSON_AddObjectToObject(req, verb_names[v]);
            cJSON_AddNumberToObject(per, t < FK_NTYPES ? fk_types[t].resource : "other",
                                    (double)n);
        }
    }
    cJSON_AddNumberToObject(j, "requests_total", (double)srv->stats->total);
    cJSON_AddNumberToObject(j, "faults_429", (double)srv->stats->faults_429);
    cJSON_AddNumberToObject(j, "faults_500", (double)srv->stats->faults_500);
    cJSON_AddNumberToObject(j, "unauthorized", (double)srv->stats->unauthorized);
    pthread_mutex_unlock(&srv->cfg_mu);
    pthread_mutex_lock(&srv->store.mu);
    cJSON_AddNumberToObject(j, "watches_open", srv->store.watches_open);
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", (unsigned long long)srv->store.rv);
    cJSON_AddStringToObject(j, "resourceVersion", rv);
    cJSON *objs = cJSON_AddObjectToObject(j, "objects");
    for (size_t t = 0; t < FK_NTYPES; t++)
        cJSON_AddNumberToObject(objs, fk_types[t].resource, (double)srv->store.count[t]);
    cJSON_AddNumberToObject(j, "history", (double)(srv->store.hist_len - 1));
    pthread_mutex_unlock(&srv->store.mu);
    char *out = fk_json_print(j);
    cJSON_Delete(j);
    return out;
}

/* ---- object normalisation ---- */

static const char *const meta_order[] = {
    "name",        "generateName",    "namespace",      "selfLink",    "uid",
    "resourceVersion", "generation",  "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "managedFields", NULL};

/* Puts metadata first and its members in the order the real server writes them. */
static bool canonical_order(cJSON *obj)
{
    cJSON *meta = cJSON_DetachItemFromObjectCaseSensitive(obj, "metadata");
    if (!meta)
        return false;
    cJSON *m2 = cJSON_CreateObject();
    if (!m2) {
        cJSON_Delete(meta);
        return false;
    }
    for (size_t i = 0; meta_order[i]; i++) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(meta, meta_order[i]);
        if (v)
            cJSON_AddItemToObject(m2, meta_order[i], v);
    }
    while (meta->child) {
        cJSON *v = meta->child;
        char *k = v->string;
        v->string = NULL;
        cJSON_DetachItemViaPointer(meta, v);
        cJSON_AddItemToObject(m2, k, v);
        cJSON_free(k);
    }
    cJSON_Delete(meta);
    /* metadata first */
    m2->next = obj->child;
    if (obj->child) {
        m2->prev = obj->child->prev;
        obj->child->prev = m2;
    } else {
        m2->prev = m2;
    }
    obj->child = m2;
    m2->string = NULL;
    char *k = (char *)cJSON_malloc(9);
    if (!k)
        return false;
    memcpy(k, "metadata", 9);
    m2->string = k;
    return true;
}

static bool set_str(cJSON *obj, const char *key, const char *v)
{
    cJSON *s = cJSON_CreateString(v);
    if (!s)
        return false;
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, s);
    return cJSON_AddItemToObject(obj, key, s);
}

static bool set_item(cJSON *obj, const char *key, cJSON *v)
{
    if (!v)
        return false;
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    return cJSON_AddItemToObject(obj, key, v);
}

static bool valid_config_key(const char *k)
{
    if (!*k || strlen(k) > 253 || strcmp(k, ".") == 0 || strcmp(k, "..") == 0 ||
        strncmp(k, "..", 2) == 0)
        return false;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return false;
    return true;
}

/* Decoding errors (400): a field of the wrong JSON type. */
static bool check_string_map(const cJSON *m, const struct fk_type *t, const char *what,
                             struct fk_response *resp)
{
    if (!m || cJSON_IsNull(m))
        return true;
    if (!cJSON_IsObject(m)) {
        bad_request(resp, "%s in version \"%s\" cannot be handled as a %s: json: cannot "
                    "unmarshal into Go struct field %s of type map[string]string",
                    t->kind, t->api_version, t->kind, what);
        return false;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, m)
    {
        if (!cJSON_IsString(c)) {
            bad_request(resp, "%s in version \"%s\" cannot be handled as a %s: json: cannot "
                        "unmarshal into Go struct field %s of type string",
                        t->kind, t->api_version, t->kind, what);
            return false;
        }
    }
    return true;
}

/* Secrets: stringData folded into data, base64 and key checks, tls keys, size limit. */
static bool normalise_secret(cJSON *obj, const char *name, const struct fk_type *t,
                             struct fk_response *resp)
{
    bool ok = false;
    struct cs_buf dec;
    cs_buf_init_secret(&dec, 0);
    cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "data");
    cJSON *sd = cJSON_GetObjectItemCaseSensitive(obj, "stringData");
    if (!check_string_map(data, t, "Secret.data", resp) ||
        !check_string_map(sd, t, "Secret.stringData", resp))
        goto out;
    if (cJSON_IsNull(data)) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, "data");
        data = NULL;
    }
    if (cJSON_IsObject(sd) && sd->child) {
        if (!data && !(data = cJSON_AddObjectToObject(obj, "data")))
            goto oom;
        const cJSON *c;
        cJSON_ArrayForEach(c, sd)
        {
            struct cs_buf enc;
            cs_buf_init_secret(&enc, 0);
            if (cs_base64_encode(c->valuestring, strlen(c->valuestring), &enc) != CS_OK ||
                !set_str(data, c->string, cs_buf_str(&enc))) {
                cs_buf_free(&enc);
                goto oom;
            }
            cs_buf_free(&enc);
        }
    }
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "stringData");
    size_t total = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, data)
    {
        if (!valid_config_key(c->string)) {
            char field[300], detail[600];
            snprintf(field, sizeof(field), "data[%s]", c->string);
            snprintf(detail, sizeof(detail),
                     "Invalid value: \"%s\": a valid config key must consist of alphanumeric "
                     "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                     "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                     c->string);
            invalid(resp, t, name, field, "FieldValueInvalid", detail);
            goto out;
        }
        cs_buf_reset(&dec);
        if (cs_base64_decode(c->valuestring, strlen(c->valuestring), &dec, NULL) != CS_OK) {
            bad_request(resp, "Secret in version \"v1\" cannot be handled as a Secret: illegal "
                        "base64 data in data[%s]", c->string);
            goto out;
        }
        total += dec.len;
    }
    if (total > 1024 * 1024) {
        invalid(resp, t, name, "data", "FieldValueTooLong",
                "Too long: may not be more than 1048576 bytes");
        goto out;
    }
    const char *type = cs_json_str(obj, "type");
    if (!type || !*type) {
        if (!set_str(obj, "type", "Opaque"))
            goto oom;
        type = "Opaque";
    }
    if (strcmp(type, "kubernetes.io/tls") == 0) {
        static const char *const need[] = {"tls.crt", "tls.key"};
        for (size_t i = 0; i < 2; i++) {
            if (!cJSON_GetObjectItemCaseSensitive(data, need[i])) {
                char field[64];
                snprintf(field, sizeof(field), "data[%s]", need[i]);
                invalid(resp, t, name, field, "FieldValueRequired", "Required value");
                goto out;
            }
        }
    }
    ok = true;
    goto out;
oom:
    internal_error(resp, "out of memory");
out:
    cs_buf_free(&dec);
    return ok;
}

/* Checks and completes an object for create or update: metadata, type-specific defaults.
 * Returns false with resp filled on bad input. */
static bool normalise(cJSON *obj, const struct fk_type *t, const char *name,
                      struct fk_response *resp)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (!check_string_map(cJSON_GetObjectItemCaseSensitive(meta, "labels"), t,
                          "ObjectMeta.metadata.labels", resp) ||
        !check_string_map(cJSON_GetObjectItemCaseSensitive(meta, "annotations"), t,
                          "ObjectMeta.metadata.annotations", resp))
        return false;
    if (t == &fk_types[1])
        return normalise_secret(obj, name, t, resp);
    if (t == &fk_types[2]) { /* configmaps */
        if (!check_string_map(cJSON_GetObjectItemCaseSensitive(obj, "data"), t, "ConfigMap.data",
                              resp))
            return false;
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(obj, "data"))
        {
            if (!valid_config_key(c->string)) {
                char field[300];
                snprintf(field, sizeof(field), "data[%s]", c->string);
                invalid(resp, t, name, field, "FieldValueInvalid",
                        "a valid config key must consist of alphanumeric characters, '-', '_' "
                        "or '.'");
                return false;
            }
        }
    }
    if (t == &fk_types[6]) { /* leases: spec fields have types the real decoder enforces */
        const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
        const cJSON *ld = cJSON_GetObjectItemCaseSensitive(spec, "leaseDurationSeconds");
        const cJSON *hi = cJSON_GetObjectItemCaseSensitive(spec, "holderIdentity");
        if ((ld && !cJSON_IsNumber(ld) && !cJSON_IsNull(ld)) ||
            (hi && !cJSON_IsString(hi) && !cJSON_IsNull(hi))) {
            bad_request(resp, "Lease in version \"v1\" cannot be handled as a Lease: json: "
                        "cannot unmarshal spec field");
            return false;
        }
    }
    return true;
}

/* The object's own kind and apiVersion, when given, must be those of the URL. */
static bool check_kind(const cJSON *obj, const struct fk_type *t, struct fk_response *resp)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(obj, "kind");
    const cJSON *av = cJSON_GetObjectItemCaseSensitive(obj, "apiVersion");
    if ((k && !cJSON_IsString(k)) || (av && !cJSON_IsString(av))) {
        bad_request(resp, "couldn't get version/kind; json parse error: kind and apiVersion "
                    "must be strings");
        return false;
    }
    if (av && strcmp(av->valuestring, t->api_version) != 0) {
        bad_request(resp, "the API version in the data (%s) does not match the expected API "
                    "version (%s)", av->valuestring, t->api_version);
        return false;
    }
    if (k && strcmp(k->valuestring, t->kind) != 0) {
        bad_request(resp, "%s in version \"%s\" cannot be handled as a %s: no kind \"%s\" is "
                    "registered for version \"%s\"", t->kind, t->version, t->kind,
                    k->valuestring, t->api_version);
        return false;
    }
    return true;
}

static cJSON *parse_body(const struct fk_request *req, struct fk_response *resp)
{
    if (!req->body || req->body_len == 0) {
        bad_request(resp, "the body of the request is empty");
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, false);
    if (!j) {
        long off = end ? (long)(end - req->body) : 0;
        bad_request(resp, "couldn't get version/kind; json parse error: invalid JSON near "
                    "offset %ld", off);
        return NULL;
    }
    return j;
}

/* The media type of a Content-Type header, lowercased, without parameters. */
static void media_type(const char *ct, char *out, size_t n)
{
    size_t i = 0;
    if (ct) {
        while (*ct == ' ')
            ct++;
        for (; ct[i] && ct[i] != ';' && ct[i] != ' ' && i + 1 < n; i++)
            out[i] = (char)tolower((unsigned char)ct[i]);
    }
    out[i] = '\0';
}

static bool json_body_type(const struct fk_request *req, struct fk_response *resp)
{
    char mt[128];
    media_type(req->content_type, mt, sizeof(mt));
    if (mt[0] == '\0' || strcmp(mt, "application/json") == 0)
        return true;
    /* kubectl's generators (create secret tls, create namespace) send protobuf and do not
     * fall back: this server speaks JSON only (manifests go as JSON). */
    unsupported_media(resp, "application/json");
    return false;
}

/* ---- the verbs ---- */

struct target {
    const struct fk_type *type;
    const char *ns;   /* NULL for cluster-scoped or all namespaces */
    const char *name; /* NULL for a collection */
    const char *sub;  /* NULL or "status" */
};

static void make_key(const struct fk_type *t, const char *ns, const char *name, char *out,
                     size_t n)
{
    if (t->namespaced)
        snprintf(out, n, "%s/%s", ns ? ns : "", name);
    else
        snprintf(out, n, "%s", name);
}

static bool dry_run(const struct fk_request *req)
{
    const char *d = query_get(req, "dryRun");
    return d && strcmp(d, "All") == 0;
}

static void now_str(char out[32])
{
    cs_format_time(cs_wall_ms(), false, out);
}

static bool namespace_ready(struct fk_server *srv, const char *ns, struct fk_response *resp);

/* Creates obj (owned) with the lock held. */
static void create_locked(struct fk_server *srv, const struct fk_type *t, const char *ns,
                          cJSON *obj, bool dry, struct fk_response *resp)
{
    struct fk_store *s = &srv->store;
    struct fk_obj *o = NULL;
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const char *name = cs_json_str(meta, "name");
    char genname[300];
    if (!name || !*name) {
        const char *gen = cs_json_str(meta, "generateName");
        if (!gen || !*gen) {
            invalid(resp, t, "", "metadata.name", "FieldValueRequired",
                    "Required value: name or generateName is required");
            goto out;
        }
        /* As the real server: 5 characters from a consonant-and-digit alphabet. */
        static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
        for (int tries = 0; tries < 8; tries++) {
            size_t gl = strlen(gen) > 58 ? 58 : strlen(gen);
            memcpy(genname, gen, gl);
            for (int i = 0; i < 5; i++)
                genname[gl + i] = alpha[cs_rand_u64() % (sizeof(alpha) - 1)];
            genname[gl + 5] = '\0';
            char key[600];
            make_key(t, ns, genname, key, sizeof(key));
            if (!fk_store_get(s, t, key))
                break;
        }
        if (!set_str(meta, "name", genname))
            goto oom;
        name = cs_json_str(meta, "name");
    }
    bool valid = t == &fk_types[0] ? fk_valid_dns_label(name) : fk_valid_dns_subdomain(name);
    if (!valid) {
        char detail[1024];
        snprintf(detail, sizeof(detail), "Invalid value: \"%s\": %s", name,
                 t == &fk_types[0] ? LABEL_MSG : SUBDOMAIN_MSG);
        invalid(resp, t, name, "metadata.name", "FieldValueInvalid", detail);
        goto out;
    }
    const char *rv = cs_json_str(meta, "resourceVersion");
    if (rv && *rv) {
        internal_error(resp, "resourceVersion should not be set on objects to be created");
        goto out;
    }
    if (t->namespaced && !namespace_ready(srv, ns, resp))
        goto out;
    if (!normalise(obj, t, name, resp))
        goto out;
    char key[600];
    make_key(t, ns, name, key, sizeof(key));
    if (fk_store_get(s, t, key)) {
        char q[128], msg[512];
        fk_type_qualified(t, q, sizeof(q));
        snprintf(msg, sizeof(msg), "%s \"%s\" already exists", q, name);
        status(resp, 409, "AlreadyExists", msg, name, t);
        goto out;
    }
    /* Server-set metadata. */
    char uid[37], ts[32];
    fk_uuid(uid);
    now_str(ts);
    if (!set_str(meta, "uid", uid) || !set_str(meta, "creationTimestamp", ts))
        goto oom;
    if (t->namespaced) {
        if (!set_str(meta, "namespace", ns))
            goto oom;
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
    }
    static const char *const drop[] = {"deletionTimestamp", "deletionGracePeriodSeconds",
                                       "managedFields", "selfLink"};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        cJSON_DeleteItemFromObjectCaseSensitive(meta, drop[i]);
    if (t->has_generation && !set_item(meta, "generation", cJSON_CreateNumber(1)))
        goto oom;
    if (t == &fk_types[4]) { /* an Ingress starts with an empty status */
        cJSON *st = cJSON_CreateObject();
        if (!st || !cJSON_AddObjectToObject(st, "loadBalancer") || !set_item(obj, "status", st))
            goto oom;
    }
    if (t == &fk_types[0]) { /* Namespace defaults */
        cJSON *labels = cJSON_GetObjectItemCaseSensitive(meta, "labels");
        if (!labels && !(labels = cJSON_AddObjectToObject(meta, "labels")))
            goto oom;
        if (!set_str(labels, "kubernetes.io/metadata.name", name))
            goto oom;
        cJSON *spec = cJSON_CreateObject();
        cJSON *fin = cJSON_CreateArray();
        if (!spec || !fin || !cJSON_AddItemToArray(fin, cJSON_CreateString("kubernetes")) ||
            !cJSON_AddItemToObject(spec, "finalizers", fin) || !set_item(obj, "spec", spec))
            goto oom;
        cJSON *st = cJSON_CreateObject();
        if (!st || !cJSON_AddStringToObject(st, "phase", "Active") || !set_item(obj, "status", st))
            goto oom;
    }
    if (!set_str(meta, "resourceVersion", "") || !canonical_order(obj))
        goto oom;
    struct cs_err err;
    if (fk_obj_build(t, obj, s->rv + 1, &o, &err) != CS_OK) {
        internal_error(resp, err.message);
        goto out;
    }
    if (!dry) {
        fk_obj_ref(o);
        if (fk_store_commit(s, FK_EV_ADDED, o) != CS_OK) {
            fk_obj_unref(o);
            goto oom;
        }
    }
    object_response(resp, 201, o);
    goto out;
oom:
    internal_error(resp, "out of memory");
out:
    fk_obj_unref(o);
    cJSON_Delete(obj);
}

/* Namespaced objects need their namespace (the NamespaceLifecycle admission plugin). */
static bool namespace_ready(struct fk_server *srv, const char *ns, struct fk_response *resp)
{
    if (fk_store_get(&srv->store, &fk_types[0], ns))
        return true;
    if (!srv->auto_namespaces) {
        ns_not_found(resp, ns);
        return false;
    }
    cJSON *n = cJSON_CreateObject();
    cJSON *m = cJSON_AddObjectToObject(n, "metadata");
    if (!m || !cJSON_AddStringToObject(m, "name", ns)) {
        cJSON_Delete(n);
        internal_error(resp, "out of memory");
        return false;
    }
    struct fk_response tmp = {0};
    create_locked(srv, &fk_types[0], NULL, n, false, &tmp);
    bool ok = tmp.status == 201;
    if (!ok) {
        *resp = tmp;
        return false;
    }
    fk_response_cleanup(&tmp);
    return true;
}

static void do_create(struct fk_server *srv, const struct target *tg,
                      const struct fk_request *req, struct fk_response *resp)
{
    if (!json_body_type(req, resp))
        return;
    cJSON *obj = parse_body(req, resp);
    if (!obj)
        return;
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        bad_request(resp, "couldn't get version/kind; json parse error: the body is not an "
                    "object");
        return;
    }
    if (!check_kind(obj, tg->type, resp)) {
        cJSON_Delete(obj);
        return;
    }
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (!meta) {
        meta = cJSON_AddObjectToObject(obj, "metadata");
    } else if (!cJSON_IsObject(meta)) {
        cJSON_Delete(obj);
        bad_request(resp, "%s in version \"%s\" cannot be handled as a %s: metadata must be an "
                    "object", tg->type->kind, tg->type->version, tg->type->kind);
        return;
    }
    const char *bns = cs_json_str(meta, "namespace");
    if (tg->type->namespaced && bns && *bns && strcmp(bns, tg->ns) != 0) {
        cJSON_Delete(obj);
        bad_request(resp, "the namespace of the provided object does not match the namespace "
                    "sent on the request");
        return;
    }
    pthread_mutex_lock(&srv->store.mu);
    create_locked(srv, tg->type, tg->ns, obj, dry_run(req), resp);
    pthread_mutex_unlock(&srv->store.mu);
}

static int64_t meta_int(const cJSON *obj, const char *key, int64_t def)
{
    return cs_json_int(cJSON_GetObjectItemCaseSensitive(obj, "metadata"), key, def);
}

/* Turns the proposed new state (owned) of an existing object into the stored one: server
 * fields kept, status or spec kept depending on the subresource, generation, no-op updates
 * short-circuited as etcd's GuaranteedUpdate does. Lock held. */
static void update_locked(struct fk_server *srv, const struct fk_type *t, struct fk_obj *cur,
                          cJSON *obj, const char *sub, bool dry, struct fk_response *resp)
{
    struct fk_store *s = &srv->store;
    struct fk_obj *o = NULL;
    cJSON *old = fk_obj_parse(cur);
    if (!old)
        goto oom;
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (!cJSON_IsObject(meta)) {
        bad_request(resp, "%s in version \"%s\" cannot be handled as a %s: metadata must be an "
                    "object", t->kind, t->version, t->kind);
        goto out;
    }
    const char *rv = cs_json_str(meta, "resourceVersion");
    char currv[32];
    snprintf(currv, sizeof(currv), "%llu", (unsigned long long)cur->rv);
    if (rv && *rv && strcmp(rv, currv) != 0) {
        conflict(resp, t, cur->name,
                 "the object has been modified; please apply your changes to the latest version "
                 "and try again");
        goto out;
    }
    const char *uid = cs_json_str(meta, "uid");
    const char *olduid = cs_json_path_str(old, "metadata.uid");
    if (uid && *uid && olduid && strcmp(uid, olduid) != 0) {
        char why[256];
        snprintf(why, sizeof(why), "Precondition failed: UID in precondition: %s, UID in object "
                 "meta: %s", uid, olduid);
        conflict(resp, t, cur->name, why);
        goto out;
    }
    if (sub && strcmp(sub, "status") == 0) {
        /* The status subresource changes status only. */
        cJSON *st = cJSON_DetachItemFromObjectCaseSensitive(obj, "status");
        cJSON_Delete(obj);
        obj = old;
        old = NULL;
        cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
        if (st && !cJSON_AddItemToObject(obj, "status", st)) {
            cJSON_Delete(st);
            goto oom;
        }
        old = fk_obj_parse(cur);
        if (!old)
            goto oom;
        meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    } else {
        if (!normalise(obj, t, cur->name, resp))
            goto out;
        if (t->has_status) {
            cJSON *st = cJSON_GetObjectItemCaseSensitive(old, "status");
            cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
            if (st && !cJSON_AddItemToObject(obj, "status", cJSON_Duplicate(st, true)))
                goto oom;
        }
        if (t == &fk_types[1]) {
            const char *ot = cs_json_str(old, "type");
            const char *nt = cs_json_str(obj, "type");
            if (ot && nt && strcmp(ot, nt) != 0) {
                char detail[300];
                snprintf(detail, sizeof(detail), "Invalid value: \"%s\": field is immutable", nt);
                invalid(resp, t, cur->name, "type", "FieldValueInvalid", detail);
                goto out;
            }
        }
        if (t == &fk_types[0]) { /* the namespace's spec and its name label are the server's */
            cJSON *spec = cJSON_GetObjectItemCaseSensitive(old, "spec");
            cJSON_DeleteItemFromObjectCaseSensitive(obj, "spec");
            if (spec && !cJSON_AddItemToObject(obj, "spec", cJSON_Duplicate(spec, true)))
                goto oom;
            cJSON *labels = cJSON_GetObjectItemCaseSensitive(meta, "labels");
            if (!labels && !(labels = cJSON_AddObjectToObject(meta, "labels")))
                goto oom;
            if (!set_str(labels, "kubernetes.io/metadata.name", cur->name))
                goto oom;
        }
    }
    /* Identity and server-set fields come from the stored object. */
    const cJSON *om = cJSON_GetObjectItemCaseSensitive(old, "metadata");
    if (!set_str(meta, "name", cur->name))
        goto oom;
    if (t->namespaced) {
        if (!set_str(meta, "namespace", cur->ns))
            goto oom;
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
    }
    static const char *const keep[] = {"uid", "creationTimestamp", "deletionTimestamp",
                                       "deletionGracePeriodSeconds"};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(meta, keep[i]);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(om, keep[i]);
        if (v && !cJSON_AddItemToObject(meta, keep[i], cJSON_Duplicate(v, true)))
            goto oom;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "selfLink");
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "generateName");
    const cJSON *ogn = cJSON_GetObjectItemCaseSensitive(om, "generateName");
    if (ogn && !cJSON_AddItemToObject(meta, "generateName", cJSON_Duplicate(ogn, true)))
        goto oom;
    if (t->has_generation) {
        int64_t gen = meta_int(old, "generation", 1);
        if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(old, "spec"),
                           cJSON_GetObjectItemCaseSensitive(obj, "spec"), true))
            gen++;
        if (!set_item(meta, "generation", cJSON_CreateNumber((double)gen)))
            goto oom;
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "generation");
    }
    if (!canonical_order(obj))
        goto oom;
    /* A no-op update keeps the resourceVersion and sends no event. */
    struct cs_err err;
    if (fk_obj_build(t, obj, cur->rv, &o, &err) != CS_OK) {
        internal_error(resp, err.message);
        goto out;
    }
    if (o->body_len == cur->body_len && memcmp(o->body, cur->body, cur->body_len) == 0) {
        object_response(resp, 200, cur);
        goto out;
    }
    fk_obj_unref(o);
    o = NULL;
    if (fk_obj_build(t, obj, s->rv + 1, &o, &err) != CS_OK) {
        internal_error(resp, err.message);
        goto out;
    }
    if (!dry) {
        fk_obj_ref(o);
        if (fk_store_commit(s, FK_EV_MODIFIED, o) != CS_OK) {
            fk_obj_unref(o);
            goto oom;
        }
    }
    object_response(resp, 200, o);
    goto out;
oom:
    internal_error(resp, "out of memory");
out:
    fk_obj_unref(o);
    cJSON_Delete(obj);
    cJSON_Delete(old);
}

static void do_update(struct fk_server *srv, const struct target *tg,
                      const struct fk_request *req, struct fk_response *resp)
{
    if (!json_body_type(req, resp))
        return;
    cJSON *obj = parse_body(req, resp);
    if (!obj)
        return;
    if (!cJSON_IsObject(obj) || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(obj, "metadata"))) {
        cJSON_Delete(obj);
        bad_request(resp, "%s in version \"%s\" cannot be handled as a %s: metadata must be an "
                    "object", tg->type->kind, tg->type->version, tg->type->kind);
        return;
    }
    if (!check_kind(obj, tg->type, resp)) {
        cJSON_Delete(obj);
        return;
    }
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const char *bname = cs_json_str(meta, "name");
    const char *bns = cs_json_str(meta, "namespace");
    if (!bname || strcmp(bname, tg->name) != 0) {
        bad_request(resp, "the name of the object (%s) does not match the name on the URL (%s)",
                    bname ? bname : "", tg->name);
        cJSON_Delete(obj);
        return;
    }
    if (tg->type->namespaced && bns && *bns && strcmp(bns, tg->ns) != 0) {
        cJSON_Delete(obj);
        bad_request(resp, "the namespace of the provided object does not match the namespace "
                    "sent on the request");
        return;
    }
    char key[600];
    make_key(tg->type, tg->ns, tg->name, key, sizeof(key));
    pthread_mutex_lock(&srv->store.mu);
    struct fk_obj *cur = fk_store_get(&srv->store, tg->type, key);
    if (!cur) {
        if (tg->type->create_on_update && !tg->sub) {
            cJSON_DeleteItemFromObjectCaseSensitive(meta, "resourceVersion");
            create_locked(srv, tg->type, tg->ns, obj, dry_run(req), resp);
        } else {
            cJSON_Delete(obj);
            not_found(resp, tg->type, tg->name);
        }
    } else {
        update_locked(srv, tg->type, cur, obj, tg->sub, dry_run(req), resp);
    }
    pthread_mutex_unlock(&srv->store.mu);
}

static void do_patch(struct fk_server *srv, const struct target *tg,
                     const struct fk_request *req, struct fk_response *resp)
{
    char mt[128];
    media_type(req->content_type, mt, sizeof(mt));
    enum { MERGE, STRATEGIC, JSONPATCH } kind;
    if (strcmp(mt, "application/merge-patch+json") == 0)
        kind = MERGE;
    else if (strcmp(mt, "application/strategic-merge-patch+json") == 0)
        kind = STRATEGIC;
    else if (strcmp(mt, "application/json-patch+json") == 0)
        kind = JSONPATCH;
    else {
        /* Server-side apply (application/apply-patch+yaml) is not implemented. */
        unsupported_media(resp, "application/json-patch+json, application/merge-patch+json, "
                                "application/strategic-merge-patch+json");
        return;
    }
    cJSON *patch = parse_body(req, resp);
    if (!patch)
        return;
    if (kind != JSONPATCH && !cJSON_IsObject(patch)) {
        cJSON_Delete(patch);
        bad_request(resp, "json: cannot unmarshal the patch into an object");
        return;
    }
    char key[600];
    make_key(tg->type, tg->ns, tg->name, key, sizeof(key));
    pthread_mutex_lock(&srv->store.mu);
    struct fk_obj *cur = fk_store_get(&srv->store, tg->type, key);
    cJSON *obj = NULL;
    if (!cur) {
        not_found(resp, tg->type, tg->name);
        goto out;
    }
    if (!(obj = fk_obj_parse(cur))) {
        internal_error(resp, "stored object unreadable");
        goto out;
    }
    if (!cJSON_AddStringToObject(obj, "kind", tg->type->kind) ||
        !cJSON_AddStringToObject(obj, "apiVersion", tg->type->api_version)) {
        internal_error(resp, "out of memory");
        goto out;
    }
    struct cs_err err;
    cs_err_clear(&err);
    enum cs_code rc = kind == MERGE       ? fk_merge_patch(&obj, patch, &err)
                      : kind == STRATEGIC ? fk_strategic_patch(&obj, patch, &err)
                                          : fk_json_patch(&obj, patch, &err);
    if (rc != CS_OK) {
        if (err.http_status == 422)
            set_body(resp, 422, status_build(422, "Invalid", err.message, NULL, NULL));
        else if (rc == CS_ENOMEM)
            internal_error(resp, "out of memory");
        else
            bad_request(resp, "%s", err.message);
        goto out;
    }
    if (!cJSON_IsObject(obj) || !check_kind(obj, tg->type, resp)) {
        if (!resp->status)
            bad_request(resp, "the patched object is not an object");
        goto out;
    }
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const char *pname = cs_json_str(meta, "name");
    if (pname && strcmp(pname, cur->name) != 0) {
        bad_request(resp, "the name of the object (%s) does not match the name on the URL (%s)",
                    pname, cur->name);
        goto out;
    }
    update_locked(srv, tg->type, cur, obj, tg->sub, dry_run(req), resp);
    obj = NULL;
out:
    pthread_mutex_unlock(&srv->store.mu);
    cJSON_Delete(obj);
    cJSON_Delete(patch);
}

/* Removes one object (lock held); returns the DELETED version (a reference) or NULL. */
static struct fk_obj *remove_locked(struct fk_store *s, struct fk_obj *cur, bool dry)
{
    cJSON *j = fk_obj_parse(cur);
    struct fk_obj *o = NULL;
    if (!j || fk_obj_build(cur->type, j, s->rv + 1, &o, NULL) != CS_OK) {
        cJSON_Delete(j);
        return NULL;
    }
    cJSON_Delete(j);
    if (!dry) {
        fk_obj_ref(o);
        if (fk_store_commit(s, FK_EV_DELETED, o) != CS_OK) {
            fk_obj_unref(o);
            fk_obj_unref(o);
            return NULL;
        }
    }
    return o;
}

static void do_delete(struct fk_server *srv, const struct target *tg,
                      const struct fk_request *req, struct fk_response *resp)
{
    cJSON *opts = NULL;
    if (req->body && req->body_len) {
        if (!(opts = cJSON_ParseWithLength(req->body, req->body_len)) || !cJSON_IsObject(opts)) {
            cJSON_Delete(opts);
            bad_request(resp, "couldn't get version/kind; json parse error: invalid "
                        "DeleteOptions");
            return;
        }
    }
    bool dry = dry_run(req);
    const cJSON *dr = cJSON_GetObjectItemCaseSensitive(opts, "dryRun");
    if (cJSON_IsArray(dr) && cJSON_GetArraySize(dr) > 0)
        dry = true;
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(opts, "preconditions");
    const char *puid = cs_json_str(pre, "uid");
    const char *prv = cs_json_str(pre, "resourceVersion");
    char key[600];
    make_key(tg->type, tg->ns, tg->name, key, sizeof(key));
    struct fk_store *s = &srv->store;
    pthread_mutex_lock(&s->mu);
    struct fk_obj *cur = fk_store_get(s, tg->type, key);
    cJSON *cj = NULL;
    struct fk_obj *gone = NULL;
    if (!cur) {
        not_found(resp, tg->type, tg->name);
        goto out;
    }
    if (!(cj = fk_obj_parse(cur))) {
        internal_error(resp, "stored object unreadable");
        goto out;
    }
    const char *uid = cs_json_path_str(cj, "metadata.uid");
    char currv[32], why[300];
    snprintf(currv, sizeof(currv), "%llu", (unsigned long long)cur->rv);
    if (puid && uid && strcmp(puid, uid) != 0) {
        snprintf(why, sizeof(why), "Precondition failed: UID in precondition: %s, UID in object "
                 "meta: %s", puid, uid);
        conflict(resp, tg->type, tg->name, why);
        goto out;
    }
    if (prv && strcmp(prv, currv) != 0) {
        snprintf(why, sizeof(why), "Precondition failed: ResourceVersion in precondition: %s, "
                 "ResourceVersion in object meta: %s", prv, currv);
        conflict(resp, tg->type, tg->name, why);
        goto out;
    }
    if (tg->type == &fk_types[0]) {
        /* Namespace deletion removes its content first (finalised at once here). */
        for (size_t i = 0; !dry && i < FK_NTYPES; i++) {
            if (!fk_types[i].namespaced)
                continue;
            char prefix[300];
            snprintf(prefix, sizeof(prefix), "%s/", tg->name);
            for (;;) {
                struct fk_obj *o = fk_skiplist_obj(fk_skiplist_seek(s->items[i], prefix, true));
                if (!o || strncmp(o->key, prefix, strlen(prefix)) != 0)
                    break;
                struct fk_obj *d = remove_locked(s, o, false);
                if (!d) {
                    internal_error(resp, "out of memory");
                    goto out;
                }
                fk_obj_unref(d);
            }
        }
    }
    if (!(gone = remove_locked(s, cur, dry))) {
        internal_error(resp, "out of memory");
        goto out;
    }
    if (tg->type == &fk_types[0]) {
        /* The real server answers with the namespace, now Terminating. */
        cJSON *j = fk_obj_parse(gone);
        char ts[32];
        now_str(ts);
        cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "metadata");
        cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
        struct fk_obj *shown = NULL;
        if (j && m && set_str(m, "deletionTimestamp", ts) && (!st || set_str(st, "phase", "Terminating")) &&
            canonical_order(j) && fk_obj_build(tg->type, j, gone->rv, &shown, NULL) == CS_OK)
            object_response(resp, 200, shown);
        else
            internal_error(resp, "out of memory");
        cJSON_Delete(j);
        fk_obj_unref(shown);
        goto out;
    }
    cJSON *d = details_for(tg->name, tg->type, false);
    if (uid)
        cJSON_AddStringToObject(d, "uid", uid);
    set_body(resp, 200, status_build(200, NULL, NULL, d, NULL));
out:
    pthread_mutex_unlock(&s->mu);
    fk_obj_unref(gone);
    cJSON_Delete(cj);
    cJSON_Delete(opts);
}

static void do_get(struct fk_server *srv, const struct target *tg, struct fk_response *resp)
{
    char key[600];
    make_key(tg->type, tg->ns, tg->name, key, sizeof(key));
    pthread_mutex_lock(&srv->store.mu);
    struct fk_obj *cur = fk_store_get(&srv->store, tg->type, key);
    if (cur)
        object_response(resp, 200, cur);
    else
        not_found(resp, tg->type, tg->name);
    pthread_mutex_unlock(&srv->store.mu);
}

static const char CONTINUE_EXPIRED[] =
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list.";

static bool parse_selectors(const struct fk_type *t, const struct fk_request *req,
                            struct fk_label_selector **ls, struct fk_field_selector **fs,
                            struct fk_response *resp)
{
    struct cs_err err;
    const char *l = query_get(req, "labelSelector");
    const char *f = query_get(req, "fieldSelector");
    *ls = NULL;
    *fs = NULL;
    if (l && *l && fk_label_selector_parse(l, ls, &err) != CS_OK) {
        bad_request(resp, "%s", err.message);
        return false;
    }
    if (f && *f && fk_field_selector_parse(f, t->fields, fs, &err) != CS_OK) {
        fk_label_selector_free(*ls);
        *ls = NULL;
        bad_request(resp, "%s", err.message);
        return false;
    }
    return true;
}

static void do_watch(struct fk_server *srv, const struct target *tg,
                     const struct fk_request *req, struct fk_response *resp)
{
    struct fk_watch_opts o = {.type = tg->type};
    const char *rv = query_get(req, "resourceVersion");
    if (rv && *rv) {
        if (!parse_u64(rv, &o.rv)) {
            bad_request(resp, "invalid resource version: \"%s\"", rv);
            return;
        }
        o.has_rv = true;
    }
    long timeout = 0;
    const char *ts = query_get(req, "timeoutSeconds");
    if (ts && (!parse_long(ts, &timeout) || timeout < 0)) {
        bad_request(resp, "invalid timeoutSeconds: \"%s\"", ts);
        return;
    }
    if (!ts) /* the real server picks one in [minRequestTimeout, 2*minRequestTimeout) */
        timeout = 1800 + (long)(cs_rand_u64() % 1800);
    o.timeout_s = timeout;
    const char *bm = query_get(req, "allowWatchBookmarks");
    o.bookmarks = bm && (strcmp(bm, "true") == 0 || strcmp(bm, "1") == 0);
    pthread_mutex_lock(&srv->store.mu);
    uint64_t cur = srv->store.rv;
    pthread_mutex_unlock(&srv->store.mu);
    if (o.has_rv && o.rv > cur) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Too large resource version: %llu, current: %llu",
                 (unsigned long long)o.rv, (unsigned long long)cur);
        cJSON *d = cJSON_CreateObject();
        cJSON *causes = cJSON_AddArrayToObject(d, "causes");
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "reason", "ResourceVersionTooLarge");
        cJSON_AddStringToObject(c, "message", "Too large resource version");
        cJSON_AddItemToArray(causes, c);
        cJSON_AddNumberToObject(d, "retryAfterSeconds", 1);
        set_body(resp, 504, status_build(504, "Timeout", msg, d, NULL));
        return;
    }
    if (!parse_selectors(tg->type, req, &o.labels, &o.fields, resp))
        return;
    if (tg->ns && !(o.ns = strdup(tg->ns))) {
        fk_label_selector_free(o.labels);
        fk_field_selector_free(o.fields);
        internal_error(resp, "out of memory");
        return;
    }
    struct fk_watch *w = fk_watch_new(srv, &o);
    if (!w) {
        internal_error(resp, "out of memory");
        return;
    }
    resp->status = 200;
    resp->content_type = "application/json";
    resp->watch = w;
}

static void do_list(struct fk_server *srv, const struct target *tg,
                    const struct fk_request *req, struct fk_response *resp)
{
    struct fk_label_selector *ls = NULL;
    struct fk_field_selector *fs = NULL;
    struct fk_list_page page = {0};
    char *start = NULL, *token = NULL;
    struct cs_buf b;
    cs_buf_init_secret(&b, (size_t)2 << 30);
    long limit = 0;
    const char *ls_ = query_get(req, "limit");
    if (ls_ && *ls_ && !parse_long(ls_, &limit)) {
        bad_request(resp, "invalid limit: \"%s\"", ls_);
        goto out;
    }
    if (limit < 0)
        limit = 0;
    const char *cont = query_get(req, "continue");
    const char *rv = query_get(req, "resourceVersion");
    const char *match = query_get(req, "resourceVersionMatch");
    uint64_t snapshot = 0;
    int64_t crv = 0;
    struct cs_err err;
    if (cont && *cont) {
        if (rv && *rv) {
            bad_request(resp, "specifying resource version is not allowed when using continue");
            goto out;
        }
        if (fk_continue_decode(cont, &crv, &start, &err) != CS_OK) {
            bad_request(resp, "%s", err.message);
            goto out;
        }
        if (crv == 0 || crv < -1) {
            bad_request(resp, "continue key is not valid: incorrect encoded start "
                        "resourceVersion (version meta.k8s.io/v1)");
            goto out;
        }
        snapshot = crv > 0 ? (uint64_t)crv : 0;
    } else if (rv && *rv) {
        uint64_t r;
        if (!parse_u64(rv, &r)) {
            bad_request(resp, "invalid resource version: \"%s\"", rv);
            goto out;
        }
        if (match && strcmp(match, "Exact") == 0)
            snapshot = r;
        else if (match && *match && strcmp(match, "NotOlderThan") != 0) {
            bad_request(resp, "resourceVersionMatch: Unsupported value: \"%s\"", match);
            goto out;
        }
    } else if (match && *match) {
        bad_request(resp, "resourceVersionMatch is forbidden unless resourceVersion is provided");
        goto out;
    }
    if (!parse_selectors(tg->type, req, &ls, &fs, resp))
        goto out;
    /* Keys in the store are "ns/name"; continue tokens hold them relative to the list. */
    char full_start[700];
    if (start)
        snprintf(full_start, sizeof(full_start), "%s%s%s", tg->ns ? tg->ns : "",
                 tg->ns ? "/" : "", start);
    struct fk_list_query q = {.type = tg->type,
                              .ns = tg->type->namespaced ? tg->ns : NULL,
                              .labels = ls,
                              .fields = fs,
                              .limit = limit,
                              .start_after = start ? full_start : NULL,
                              .snapshot_rv = snapshot};
    pthread_mutex_lock(&srv->store.mu);
    if (snapshot > srv->store.rv) {
        uint64_t cur = srv->store.rv;
        pthread_mutex_unlock(&srv->store.mu);
        char msg[128];
        snprintf(msg, sizeof(msg), "Too large resource version: %llu, current: %llu",
                 (unsigned long long)snapshot, (unsigned long long)cur);
        set_body(resp, 504, status_build(504, "Timeout", msg, NULL, NULL));
        goto out;
    }
    enum cs_code rc = fk_store_list(&srv->store, &q, &page, &err);
    if (rc == CS_EGONE) {
        pthread_mutex_unlock(&srv->store.mu);
        cJSON *meta = cJSON_CreateObject();
        char *tok = start ? fk_continue_encode(-1, start) : NULL;
        if (tok)
            cJSON_AddStringToObject(meta, "continue", tok);
        free(tok);
        if (cont && *cont)
            set_body(resp, 410, status_build(410, "Expired", CONTINUE_EXPIRED, NULL, meta));
        else {
            char msg[128];
            snprintf(msg, sizeof(msg), "too old resource version: %llu",
                     (unsigned long long)snapshot);
            set_body(resp, 410, status_build(410, "Expired", msg, NULL, meta));
        }
        goto out;
    }
    if (rc != CS_OK) {
        pthread_mutex_unlock(&srv->store.mu);
        internal_error(resp, err.message);
        goto out;
    }
    cs_buf_addf(&b, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":"
                "\"%llu\"", tg->type->list_kind, tg->type->api_version,
                (unsigned long long)page.rv);
    if (page.more) {
        const char *rel = page.last_key;
        if (tg->type->namespaced && tg->ns)
            rel += strlen(tg->ns) + 1;
        if (!(token = fk_continue_encode((int64_t)page.rv, rel))) {
            pthread_mutex_unlock(&srv->store.mu);
            internal_error(resp, "out of memory");
            goto out;
        }
        cs_buf_addf(&b, ",\"continue\":\"%s\"", token);
        if (page.remaining >= 0)
            cs_buf_addf(&b, ",\"remainingItemCount\":%ld", page.remaining);
    }
    cs_buf_adds(&b, "},\"items\":[");
    /* One allocation of the exact size, filled once: a list may be 100 MB. */
    size_t need = b.len + 2;
    for (size_t i = 0; i < page.n; i++)
        need += page.items[i]->body_len + 1;
    char *body = malloc(need + 1);
    if (body) {
        char *p = body;
        memcpy(p, b.ptr, b.len);
        p += b.len;
        for (size_t i = 0; i < page.n; i++) {
            if (i)
                *p++ = ',';
            memcpy(p, page.items[i]->body, page.items[i]->body_len);
            p += page.items[i]->body_len;
        }
        *p++ = ']';
        *p++ = '}';
        *p = '\0';
        need = (size_t)(p - body);
    }
    fk_list_page_cleanup(&page); /* drops references: needs the lock */
    pthread_mutex_unlock(&srv->store.mu);
    if (!body) {
        internal_error(resp, "out of memory");
        goto out;
    }
    set_body(resp, 200, body);
    resp->body_len = need;
out:
    if (page.items) {
        pthread_mutex_lock(&srv->store.mu);
        fk_list_page_cleanup(&page);
        pthread_mutex_unlock(&srv->store.mu);
    }
    cs_buf_free(&b);
    fk_label_selector_free(ls);
    fk_field_selector_free(fs);
    free(start);
    free(token);
}

/* ---- routing ---- */

#define MAX_SEGS 10

static size_t split_path(char *p, char **segs)
{
    size_t n = 0;
    char *save = NULL;
    for (char *s = strtok_r(p, "/", &save); s && n < MAX_SEGS; s = strtok_r(NULL, "/", &save))
        segs[n++] = s;
    if (strtok_r(NULL, "/", &save))
        return MAX_SEGS + 1;
    return n;
}

static bool is_true(const char *v)
{
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static void route_resource(struct fk_server *srv, const struct fk_request *req, char **rest,
                           size_t n, const char *group, const char *version, bool legacy_watch,
                           struct fk_response *resp)
{
    struct target tg = {0};
    if (n >= 1 && strcmp(rest[0], "namespaces") == 0 && n >= 3 && group[0] == '\0' &&
        (strcmp(rest[2], "status") == 0 || strcmp(rest[2], "finalize") == 0) && n == 3) {
        tg = (struct target){.type = &fk_types[0], .name = rest[1], .sub = rest[2]};
    } else if (n >= 3 && strcmp(rest[0], "namespaces") == 0) {
        tg.type = fk_type_by_resource(group, version, rest[2]);
        if (!tg.type || !tg.type->namespaced || n > 5)
            return no_resource(resp);
        tg.ns = rest[1];
        tg.name = n >= 4 ? rest[3] : NULL;
        tg.sub = n == 5 ? rest[4] : NULL;
    } else if (n >= 1 && n <= 3) {
        tg.type = fk_type_by_resource(group, version, rest[0]);
        if (!tg.type)
            return no_resource(resp);
        tg.name = n >= 2 ? rest[1] : NULL;
        tg.sub = n == 3 ? rest[2] : NULL;
        if (tg.type->namespaced && tg.name) /* /api/v1/secrets/x is not a path */
            return no_resource(resp);
    } else {
        return no_resource(resp);
    }
    if (tg.sub && (strcmp(tg.sub, "status") != 0 || !tg.type->has_status))
        return no_resource(resp);
    if (tg.ns && !fk_valid_dns_label(tg.ns)) {
        ns_not_found(resp, tg.ns);
        return;
    }
    const char *m = req->method;
    if (!tg.name) {
        if (strcmp(m, "GET") == 0) {
            if (legacy_watch || is_true(query_get(req, "watch"))) {
                count(srv, V_WATCH, tg.type);
                return do_watch(srv, &tg, req, resp);
            }
            count(srv, V_LIST, tg.type);
            return do_list(srv, &tg, req, resp);
        }
        if (strcmp(m, "POST") == 0 && (tg.ns || !tg.type->namespaced)) {
            count(srv, V_CREATE, tg.type);
            return do_create(srv, &tg, req, resp);
        }
        return method_not_allowed(resp);
    }
    if (strcmp(m, "GET") == 0) {
        if (legacy_watch || is_true(query_get(req, "watch"))) {
            /* A watch of one object: a field selector on its name. */
            count(srv, V_WATCH, tg.type);
            struct fk_request r2 = *req;
            char sel[400];
            snprintf(sel, sizeof(sel), "metadata.name=%s", tg.name);
            if (r2.nquery < FK_MAX_QUERY)
                r2.query[r2.nquery++] = (struct fk_kv){"fieldSelector", sel};
            tg.name = NULL;
            for (size_t i = 0; i + 1 < r2.nquery; i++)
                if (strcmp(r2.query[i].key, "fieldSelector") == 0)
                    r2.query[i].key = "ignored-fieldSelector";
            return do_watch(srv, &tg, &r2, resp);
        }
        count(srv, V_GET, tg.type);
        return do_get(srv, &tg, resp);
    }
    if (strcmp(m, "PUT") == 0) {
        count(srv, V_UPDATE, tg.type);
        return do_update(srv, &tg, req, resp);
    }
    if (strcmp(m, "PATCH") == 0) {
        count(srv, V_PATCH, tg.type);
        return do_patch(srv, &tg, req, resp);
    }
    if (strcmp(m, "DELETE") == 0 && !tg.sub) {
        count(srv, V_DELETE, tg.type);
        return do_delete(srv, &tg, req, resp);
    }
    method_not_allowed(resp);
}

/* ---- faults and the control endpoints ---- */

enum cs_code fk_faults_from_json(struct fk_faults *f, const cJSON *j, struct cs_err *err)
{
    if (!cJSON_IsObject(j))
        return cs_err_set(err, CS_EINVAL, 400, "faults must be a JSON object");
    struct fk_faults n = *f;
    const cJSON *c;
    cJSON_ArrayForEach(c, j)
    {
        const char *k = c->string;
        if (strncmp(k, "--", 2) == 0)
            k += 2;
        if (strcmp(k, "fault-429-rate") == 0 || strcmp(k, "fault-500-rate") == 0) {
            if (!cJSON_IsNumber(c) || c->valuedouble < 0 || c->valuedouble > 1)
                return cs_err_set(err, CS_EINVAL, 400, "%s must be a number in [0, 1]", k);
            if (k[6] == '4')
                n.rate_429 = c->valuedouble;
            else
                n.rate_500 = c->valuedouble;
        } else if (strcmp(k, "fault-delay-ms") == 0 || strcmp(k, "fault-drop-watch-ms") == 0) {
            if (!cJSON_IsNumber(c) || c->valuedouble < 0 || c->valuedouble > 3600000)
                return cs_err_set(err, CS_EINVAL, 400, "%s must be milliseconds >= 0", k);
            if (k[6] == 'd' && k[7] == 'e')
                n.delay_ms = (long)c->valuedouble;
            else
                n.drop_watch_ms = (long)c->valuedouble;
        } else if (strcmp(k, "fault-split-chunks") == 0) {
            if (!cJSON_IsBool(c))
                return cs_err_set(err, CS_EINVAL, 400, "%s must be true or false", k);
            n.split_chunks = cJSON_IsTrue(c);
        } else {
            return cs_err_set(err, CS_EINVAL, 400, "unknown fault: %s", c->string);
        }
    }
    if (n.rate_429 + n.rate_500 > 1)
        return cs_err_set(err, CS_EINVAL, 400, "fault rates add up to more than 1");
    *f = n;
    return CS_OK;
}

static char *faults_json(struct fk_server *srv)
{
    cJSON *j = cJSON_CreateObject();
    pthread_mutex_lock(&srv->cfg_mu);
    struct fk_faults f = srv->faults;
    pthread_mutex_unlock(&srv->cfg_mu);
    cJSON_AddNumberToObject(j, "fault-429-rate", f.rate_429);
    cJSON_AddNumberToObject(j, "fault-500-rate", f.rate_500);
    cJSON_AddNumberToObject(j, "fault-delay-ms", (double)f.delay_ms);
    cJSON_AddNumberToObject(j, "fault-drop-watch-ms", (double)f.drop_watch_ms);
    cJSON_AddBoolToObject(j, "fault-split-chunks", f.split_chunks);
    char *out = fk_json_print(j);
    cJSON_Delete(j);
    return out;
}

static void control(struct fk_server *srv, const struct fk_request *req, const char *what,
                    struct fk_response *resp)
{
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    struct fk_store *s = &srv->store;
    if (strcmp(what, "healthz") == 0 && get) {
        set_body(resp, 200, strdup("ok"));
        resp->content_type = "text/plain; charset=utf-8";
    } else if (strcmp(what, "stats") == 0 && get) {
        set_body(resp, 200, fk_stats_json(srv));
    } else if (strcmp(what, "faults") == 0 && get) {
        set_body(resp, 200, faults_json(srv));
    } else if (strcmp(what, "faults") == 0 && post) {
        cJSON *j = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
        struct cs_err err;
        pthread_mutex_lock(&srv->cfg_mu);
        enum cs_code rc = j ? fk_faults_from_json(&srv->faults, j, &err)
                            : cs_err_set(&err, CS_EINVAL, 400, "the body must be a JSON object");
        pthread_mutex_unlock(&srv->cfg_mu);
        cJSON_Delete(j);
        if (rc != CS_OK) {
            bad_request(resp, "%s", err.message);
            return;
        }
        pthread_mutex_lock(&s->mu);
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->mu);
        set_body(resp, 200, faults_json(srv));
    } else if (strcmp(what, "drop-watches") == 0 && post) {
        pthread_mutex_lock(&s->mu);
        s->drop_gen++;
        int n = s->watches_open;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->mu);
        char out[64];
        snprintf(out, sizeof(out), "{\"dropped\":%d}", n);
        set_body(resp, 200, strdup(out));
    } else if (strcmp(what, "compact") == 0 && post) {
        pthread_mutex_lock(&s->mu);
        fk_store_compact(s);
        char out[64];
        snprintf(out, sizeof(out), "{\"compactedResourceVersion\":\"%llu\"}",
                 (unsigned long long)s->rv);
        pthread_mutex_unlock(&s->mu);
        set_body(resp, 200, strdup(out));
    } else if (strcmp(what, "healthz") == 0 || strcmp(what, "stats") == 0 ||
               strcmp(what, "faults") == 0 || strcmp(what, "drop-watches") == 0 ||
               strcmp(what, "compact") == 0) {
        method_not_allowed(resp);
    } else {
        no_resource(resp);
    }
}

static bool authorized(struct fk_server *srv, const struct fk_request *req)
{
    if (!srv->token)
        return true;
    const char *a = req->authorization;
    if (!a || strncasecmp(a, "Bearer ", 7) != 0)
        return false;
    a += 7;
    while (*a == ' ')
        a++;
    size_t n = strlen(srv->token);
    return strlen(a) == n && CRYPTO_memcmp(a, srv->token, n) == 0;
}

void fk_api_handle(struct fk_server *srv, const struct fk_request *req, struct fk_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    char *path = NULL;
    if (!req->method || !req->path) {
        bad_request(resp, "malformed request");
        return;
    }
    if (strncmp(req->path, "/_fake/", 7) == 0) {
        if (req->body_too_big)
            goto too_big;
        control(srv, req, req->path + 7, resp);
        return;
    }
    pthread_mutex_lock(&srv->cfg_mu);
    srv->stats->total++;
    struct fk_faults f = srv->faults;
    pthread_mutex_unlock(&srv->cfg_mu);
    if (!authorized(srv, req)) {
        pthread_mutex_lock(&srv->cfg_mu);
        srv->stats->unauthorized++;
        pthread_mutex_unlock(&srv->cfg_mu);
        set_body(resp, 401, status_build(401, "Unauthorized", "Unauthorized", NULL, NULL));
        return;
    }
    if (f.delay_ms > 0) {
        /* In steps, so that a shutdown is not held up. */
        uint64_t end = cs_now_ms() + (uint64_t)f.delay_ms;
        for (uint64_t now = cs_now_ms(); now < end; now = cs_now_ms()) {
            pthread_mutex_lock(&srv->store.mu);
            bool stop = srv->store.shutting_down;
            pthread_mutex_unlock(&srv->store.mu);
            if (stop)
                break;
            cs_sleep_ms(end - now < 50 ? end - now : 50);
        }
    }
    double r = (f.rate_429 > 0 || f.rate_500 > 0) ? cs_rand_unit() : 1.0;
    if (r < f.rate_429) {
        pthread_mutex_lock(&srv->cfg_mu);
        srv->stats->faults_429++;
        pthread_mutex_unlock(&srv->cfg_mu);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "retryAfterSeconds", 1);
        set_body(resp, 429, status_build(429, "TooManyRequests",
                                         "Too many requests, please try again later.", d, NULL));
        resp->retry_after = 1;
        resp->fault_injected = true;
        return;
    }
    if (r < f.rate_429 + f.rate_500) {
        pthread_mutex_lock(&srv->cfg_mu);
        srv->stats->faults_500++;
        pthread_mutex_unlock(&srv->cfg_mu);
        internal_error(resp, "fault injected by fake-kube-apiserver");
        resp->fault_injected = true;
        return;
    }
    if (req->body_too_big)
        goto too_big;
    if (fk_discovery(srv, req->path, resp)) {
        if (strcmp(req->method, "GET") != 0 && resp->status == 200) {
            fk_response_cleanup(resp);
            method_not_allowed(resp);
        }
        count(srv, V_OTHER, NULL);
        return;
    }
    if (!(path = strdup(req->path))) {
        internal_error(resp, "out of memory");
        return;
    }
    char *segs[MAX_SEGS];
    size_t n = split_path(path, segs);
    if (n > MAX_SEGS) {
        no_resource(resp);
    } else if (n >= 2 && strcmp(segs[0], "api") == 0 && strcmp(segs[1], "v1") == 0) {
        bool w = n >= 3 && strcmp(segs[2], "watch") == 0;
        route_resource(srv, req, segs + 2 + w, n - 2 - w, "", "v1", w, resp);
    } else if (n >= 3 && strcmp(segs[0], "apis") == 0) {
        bool w = n >= 4 && strcmp(segs[3], "watch") == 0;
        route_resource(srv, req, segs + 3 + w, n - 3 - w, segs[1], segs[2], w, resp);
    } else {
        no_resource(resp);
    }
    free(path);
    return;
too_big:
    set_body(resp, 413, status_build(413, "RequestEntityTooLarge",
                                     "Request entity too large: limit is 3145728", NULL, NULL));
}

/* ---- server set-up ---- */

enum cs_code fk_server_init(struct fk_server *srv, size_t hist_max)
{
    memset(srv, 0, sizeof(*srv));
    if (fk_store_init(&srv->store, hist_max) != CS_OK)
        return CS_ENOMEM;
    pthread_mutex_init(&srv->cfg_mu, NULL);
    srv->bookmark_interval_ms = 60000;
    if (!(srv->stats = calloc(1, sizeof(*srv->stats)))) {
        fk_server_cleanup(srv);
        return CS_ENOMEM;
    }
    /* The namespaces every cluster has. */
    static const char *const ns[] = {"default", "kube-node-lease", "kube-public", "kube-system"};
    pthread_mutex_lock(&srv->store.mu);
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        cJSON *n = cJSON_CreateObject();
        cJSON *m = cJSON_AddObjectToObject(n, "metadata");
        cJSON_AddStringToObject(m, "name", ns[i]);
        struct fk_response r;
        memset(&r, 0, sizeof(r));
        create_locked(srv, &fk_types[0], NULL, n, false, &r);
        bool ok = r.status == 201;
        fk_response_cleanup(&r);
        if (!ok) {
            pthread_mutex_unlock(&srv->store.mu);
            fk_server_cleanup(srv);
            return CS_ENOMEM;
        }
    }
    pthread_mutex_unlock(&srv->store.mu);
    return CS_OK;
}

void fk_server_cleanup(struct fk_server *srv)
{
    fk_store_cleanup(&srv->store);
    pthread_mutex_destroy(&srv->cfg_mu);
    free(srv->stats);
    srv->stats = NULL;
    cs_secure_free_str(srv->token);
    srv->token = NULL;
}

enum cs_code fk_server_seed(struct fk_server *srv, const char *json, size_t len,
                            struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    cJSON *j = cJSON_ParseWithLength(json, len);
    if (!j)
        return cs_err_set(err, CS_EINVAL, 0, "seed file: invalid JSON");
    const cJSON *items = cJSON_IsArray(j) ? j : cJSON_GetObjectItemCaseSensitive(j, "items");
    if (!cJSON_IsArray(items)) {
        rc = cs_err_set(err, CS_EINVAL, 0, "seed file: expected an array or a List");
        goto out;
    }
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        const struct fk_type *t = fk_type_by_kind(cs_json_str(it, "apiVersion"),
                                                  cs_json_str(it, "kind"));
        if (!t) {
            rc = cs_err_set(err, CS_EINVAL, 0, "seed file: item %d: unsupported kind %s %s", i,
                            cs_json_str(it, "apiVersion") ? cs_json_str(it, "apiVersion") : "?",
                            cs_json_str(it, "kind") ? cs_json_str(it, "kind") : "?");
            goto out;
        }
        const char *ns = cs_json_path_str(it, "metadata.namespace");
        if (t->namespaced && (!ns || !*ns))
            ns = "default";
        char *body = cJSON_PrintUnformatted(it);
        char nsbuf[256];
        snprintf(nsbuf, sizeof(nsbuf), "%s", ns ? ns : "");
        struct fk_request req = {.method = "POST", .body = body,
                                 .body_len = body ? strlen(body) : 0,
                                 .content_type = "application/json"};
        struct target tg = {.type = t, .ns = t->namespaced ? nsbuf : NULL};
        struct fk_response resp;
        memset(&resp, 0, sizeof(resp));
        do_create(srv, &tg, &req, &resp);
        cJSON_free(body);
        if (resp.status != 201) {
            cJSON *st = resp.body ? cJSON_Parse(resp.body) : NULL;
            rc = cs_err_set(err, CS_EINVAL, 0, "seed file: item %d: %s", i,
                            cs_json_str(st, "message") ? cs_json_str(st, "message")
                                                       : "cannot create");
            cJSON_Delete(st);
            fk_response_cleanup(&resp);
            goto out;
        }
        fk_response_cleanup(&resp);
        i++;
    }
out:
    cJSON_Delete(j);
    return rc;
}
