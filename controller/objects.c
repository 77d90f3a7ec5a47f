/* objects.c -- Kubernetes JSON to the controller's model. */
#include "controller/objects.h"

#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/json.h"
#include "common/util.h"
#include "controller/annotations.h"
#include "controller/certcheck.h"

static enum cs_code dup_str(const char *s, char **out)
{
    *out = NULL;
    if (!s)
        return CS_OK;
    *out = strdup(s);
    return *out ? CS_OK : CS_ENOMEM;
}

enum cs_code ctl_ingress_from_json(const cJSON *obj, struct ctl_ingress *out, struct cs_err *err)
{
    struct ctl_ingress ing;
    memset(&ing, 0, sizeof(ing));
    const char *ns = cs_json_path_str(obj, "metadata.namespace");
    const char *name = cs_json_path_str(obj, "metadata.name");
    if (!ns || !name)
        return cs_err_set(err, CS_EPROTO, 0, "Ingress without metadata.namespace or name");
    enum cs_code rc = CS_ENOMEM;
    if (dup_str(ns, &ing.ns) || dup_str(name, &ing.name) ||
        dup_str(cs_json_path_str(obj, "metadata.uid"), &ing.uid) ||
        dup_str(cs_json_path_str(obj, "spec.ingressClassName"), &ing.class_name))
        goto fail;
    int64_t created = 0;
    if (cs_parse_time(cs_json_path_str(obj, "metadata.creationTimestamp"), &created))
        ing.created_ms = created;

    const cJSON *ann = cs_json_path(obj, "metadata.annotations");
    if (cJSON_IsObject(ann)) {
        size_t n = (size_t)cJSON_GetArraySize(ann);
        ing.annotations = calloc(n ? n : 1, sizeof(*ing.annotations));
        if (!ing.annotations)
            goto fail;
        const cJSON *a;
        cJSON_ArrayForEach(a, ann)
        {
            if (!cJSON_IsString(a) || !a->string)
                continue;
            struct ctl_kv *kv = &ing.annotations[ing.n_annotations];
            if (dup_str(a->string, &kv->key) || dup_str(a->valuestring, &kv->value)) {
                free(kv->key);
                goto fail;
            }
            ing.n_annotations++;
        }
    }

    const cJSON *tls = cs_json_path(obj, "spec.tls");
    if (cJSON_IsArray(tls)) {
        size_t n = (size_t)cJSON_GetArraySize(tls);
        ing.tls = calloc(n ? n : 1, sizeof(*ing.tls));
        if (!ing.tls)
            goto fail;
        const cJSON *t;
        cJSON_ArrayForEach(t, tls)
        {
            struct ctl_tls_entry *e = &ing.tls[ing.n_tls];
            /* An entry without secretName (TLS from a default certificate) is kept: desired
             * state reports it rather than shifting which entry is the default. */
            if (dup_str(cs_json_str(t, "secretName"), &e->secret_name))
                goto fail;
            ing.n_tls++;
            const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(t, "hosts");
            if (!cJSON_IsArray(hosts))
                continue;
            size_t nh = (size_t)cJSON_GetArraySize(hosts);
            e->hosts = calloc(nh ? nh : 1, sizeof(*e->hosts));
            if (!e->hosts)
                goto fail;
            const cJSON *h;
            cJSON_ArrayForEach(h, hosts)
            {
                if (!cJSON_IsString(h))
                    continue;
                if (dup_str(h->valuestring, &e->hosts[e->n_hosts]))
                    goto fail;
                e->n_hosts++;
            }
        }
    }
    *out = ing;
    return CS_OK;
fail:
    ctl_ingress_cleanup(&ing);
    return cs_err_set(err, rc, 0, "out of memory");
}

static enum cs_code decode_field(const cJSON *data, const char *field, struct cs_buf *out,
                                 struct cs_err *err)
{
    const char *v = cs_json_str(data, field);
    if (!v)
        return CS_OK;
    enum cs_code rc = cs_base64_decode(v, strlen(v), out, NULL);
    if (rc == CS_EINVAL)
        return cs_err_set(err, rc, 0, "%s is not valid base64", field);
    if (rc != CS_OK)
        return cs_err_set(err, rc, 0, "%s: cannot decode (%s)", field, cs_code_name(rc));
    return CS_OK;
}

enum cs_code ctl_secret_material(const cJSON *secret, struct cs_buf *crt, struct cs_buf *key,
                                 struct cs_err *err)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(secret, "data");
    enum cs_code rc = decode_field(data, "tls.crt", crt, err);
    if (rc == CS_OK)
        rc = decode_field(data, "tls.key", key, err);
    return rc;
}

void *ctl_ingress_extract(const cJSON *obj, void *ud)
{
    const struct ctl_objects_ctx *ctx = ud;
    struct ctl_ingress *ing = calloc(1, sizeof(*ing));
    if (!ing)
        return NULL;
    if (ctl_ingress_from_json(obj, ing, NULL) != CS_OK) {
        free(ing);
        return NULL;
    }
    /* Keep ours and the unclassed (a default IngressClass may make them ours). */
    const char *cls = ctl_ingress_class(ing);
    if (cls && ctx && ctx->ingress_class && strcmp(cls, ctx->ingress_class) != 0) {
        ctl_ingress_cleanup(ing);
        free(ing);
        return NULL;
    }
    return ing;
}

void ctl_ingress_item_free(void *item, void *ud)
{
    ctl_ingress_cleanup(item);
    free(item);
}

void *ctl_secret_extract(const cJSON *obj, void *ud)
{
    const struct ctl_objects_ctx *ctx = ud;
    const char *ns = cs_json_path_str(obj, "metadata.namespace");
    const char *name = cs_json_path_str(obj, "metadata.name");
    const char *type = cs_json_str(obj, "type");
    if (!ns || !name || !ctl_secret_type_ok(type))
        return NULL;
    struct ctl_secret *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    struct cs_buf crt, key;
    cs_buf_init_secret(&crt, 1024 * 1024);
    cs_buf_init_secret(&key, 1024 * 1024);
    struct cs_err err;
    cs_err_clear(&err);
    enum cs_code rc = ctl_secret_material(obj, &crt, &key, &err);
    if (rc == CS_OK) {
        rc = ctl_secret_fill(ns, name, type, crt.ptr ? crt.ptr : "", crt.len,
                             key.ptr ? key.ptr : "", key.len, ctx ? ctx->limits : NULL,
                             cs_wall_ms(), s, &err);
    } else if (rc == CS_EINVAL) {
        /* Undecodable: kept as an invalid Secret, so that its Ingresses get a Warning. */
        s->status = CTL_CERT_BAD_PEM;
        s->ns = strdup(ns);
        s->name = strdup(name);
        s->type = strdup(type);
        s->reason = strdup(err.message);
        rc = s->ns && s->name && s->type && s->reason ? CS_OK : CS_ENOMEM;
    }
    cs_buf_free(&crt);
    cs_buf_free(&key);
    if (rc != CS_OK) {
        ctl_secret_cleanup(s);
        free(s);
        return NULL;
    }
    return s;
}

void ctl_secret_item_free(void *item, void *ud)
{
    ctl_secret_cleanup(item);
    free(item);
}
