/* kubeconfig.c -- reads a kubeconfig file (YAML, via libyaml's document loader) into a
 * struct k8s_config: the selected context's cluster, user and namespace.
 *
 * Only the fields design.md §4 lists are understood; features we do not implement (exec
 * plugins, auth providers, basic auth, impersonation, proxies) are refused by name rather
 * than silently ignored, because ignoring them would authenticate as someone else or
 * connect somewhere else. Scalars are cleansed before the document is freed: a kubeconfig
 * may hold a client key and a token. libyaml's scanner grows its scalar buffers with
 * realloc, which we cannot reach; that residue is a known limit. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/codec.h"
#include "common/util.h"
#include "k8s/config.h"

/* Path-ish names in messages are bounded so that the message never truncates the field. */
#define NAME_MAX_MSG 128

struct kc {
    yaml_document_t doc;
    const char *origin;
    const char *base_dir;
    struct cs_err *err;
};

static yaml_node_t *node(struct kc *k, int id)
{
    return id ? yaml_document_get_node(&k->doc, id) : NULL;
}

/* Value node of key in a mapping, or NULL. */
static yaml_node_t *map_get(struct kc *k, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = node(k, p->key);
        if (kn && kn->type == YAML_SCALAR_NODE &&
            strcmp((const char *)kn->data.scalar.value, key) == 0)
            return node(k, p->value);
    }
    return NULL;
}

/* A scalar's text, NULL when absent; a present non-scalar or a YAML null is an error. */
static enum cs_code scalar(struct kc *k, yaml_node_t *map, const char *key, const char *where,
                           const char **out)
{
    yaml_node_t *v = map_get(k, map, key);
    *out = NULL;
    if (!v)
        return CS_OK;
    if (v->type != YAML_SCALAR_NODE)
        return cs_err_set(k->err, CS_EINVAL, 0, "kubeconfig %s: %s.%s: not a string", k->origin,
                          where, key);
    const char *s = (const char *)v->data.scalar.value;
    /* "~", "null" and an empty plain scalar are YAML's null: treat as absent. */
    if (v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0))
        return CS_OK;
    *out = s;
    return CS_OK;
}

static enum cs_code boolean(struct kc *k, yaml_node_t *map, const char *key, const char *where,
                            bool *out)
{
    const char *s;
    enum cs_code rc = scalar(k, map, key, where, &s);
    if (rc != CS_OK)
        return rc;
    *out = false;
    if (!s)
        return CS_OK;
    /* YAML 1.1 booleans, which is what kubectl's YAML library accepts. */
    static const char *const yes[] = {"true", "yes", "on", "y"};
    static const char *const no[] = {"false", "no", "off", "n"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return CS_OK;
        }
        if (strcasecmp(s, no[i]) == 0)
            return CS_OK;
    }
    return cs_err_set(k->err, CS_EINVAL, 0, "kubeconfig %s: %s.%s: not a boolean", k->origin,
                      where, key);
}

/* The inner object ("cluster", "user", "context") of the named entry of a list. */
static enum cs_code named(struct kc *k, yaml_node_t *root, const char *list, const char *inner,
                          const char *name, yaml_node_t **out)
{
    yaml_node_t *seq = map_get(k, root, list);
    if (seq && seq->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = seq->data.sequence.items.start;
             it < seq->data.sequence.items.top; it++) {
            yaml_node_t *entry = node(k, *it);
            yaml_node_t *n = map_get(k, entry, "name");
            if (n && n->type == YAML_SCALAR_NODE &&
                strcmp((const char *)n->data.scalar.value, name) == 0) {
                yaml_node_t *v = map_get(k, entry, inner);
                if (!v || v->type != YAML_MAPPING_NODE)
                    return cs_err_set(k->err, CS_EINVAL, 0,
                                      "kubeconfig %s: %s[%.*s]: no %s object", k->origin, list,
                                      NAME_MAX_MSG, name, inner);
                *out = v;
                return CS_OK;
            }
        }
    } else if (seq && !(seq->type == YAML_SCALAR_NODE && !*seq->data.scalar.value)) {
        return cs_err_set(k->err, CS_EINVAL, 0, "kubeconfig %s: %s: not a list", k->origin, list);
    }
    return cs_err_set(k->err, CS_EINVAL, 0, "kubeconfig %s: %s: no entry named \"%.*s\"",
                      k->origin, list, NAME_MAX_MSG, name);
}

/* An absolute path for p: relative paths are relative to the kubeconfig's directory. */
static char *resolve(struct kc *k, const char *p)
{
    char *out = NULL;
    if (p[0] == '/' || !k->base_dir || !*k->base_dir)
        return strdup(p);
    if (asprintf(&out, "%s/%s", k->base_dir, p) < 0)
        return NULL;
    return out;
}

/* Fills b from key-data (base64) or key (a file path), whichever is present. */
static enum cs_code data_or_file(struct kc *k, yaml_node_t *map, const char *where,
                                 const char *data_key, const char *file_key, struct cs_buf *b,
                                 bool *present)
{
    const char *data, *file;
    enum cs_code rc;
    *present = false;
    if ((rc = scalar(k, map, data_key, where, &data)) != CS_OK ||
        (rc = scalar(k, map, file_key, where, &file)) != CS_OK)
        return rc;
    if (data) {
        struct cs_err e;
        if ((rc = cs_base64_decode(data, strlen(data), b, &e)) != CS_OK)
            return cs_err_set(k->err, rc, 0, "kubeconfig %s: %s.%s: %s", k->origin, where,
                              data_key, e.message);
        if (b->len == 0)
            return cs_err_set(k->err, CS_EINVAL, 0, "kubeconfig %s: %s.%s: empty", k->origin,
                              where, data_key);
        *present = true;
        return CS_OK;
    }
    if (file) {
        char *path = resolve(k, file);
        if (!path)
            return cs_err_set(k->err, CS_ENOMEM, 0, "out of memory");
        char what[512];
        snprintf(what, sizeof(what), "kubeconfig %.200s: %s.%s:", k->origin, where, file_key);
        rc = k8s_read_file(path, b, what, k->err);
        if (rc == CS_ENOTFOUND) { /* a configuration error, not a missing object */
            rc = CS_EINVAL;
            if (k->err)
                k->err->code = rc;
        }
        free(path);
        if (rc == CS_OK)
            *present = true;
        return rc;
    }
    return CS_OK;
}

static enum cs_code refuse(struct kc *k, yaml_node_t *map, const char *where,
                           const char *const *keys, const char *const *names)
{
    for (size_t i = 0; keys[i]; i++) {
        yaml_node_t *v = map_get(k, map, keys[i]);
        if (v && !(v->type == YAML_SCALAR_NODE && !*v->data.scalar.value))
            return cs_err_set(k->err, CS_EUNSUPPORTED, 0, "kubeconfig %s: %s.%s: %s not supported",
                              k->origin, where, keys[i], names[i]);
    }
    return CS_OK;
}

static enum cs_code load_cluster(struct kc *k, yaml_node_t *root, const char *name,
                                 struct k8s_config *cfg)
{
    yaml_node_t *cl;
    enum cs_code rc;
    char where[NAME_MAX_MSG + 32];
    if ((rc = named(k, root, "clusters", "cluster", name, &cl)) != CS_OK)
        return rc;
    snprintf(where, sizeof(where), "clusters[%.*s].cluster", NAME_MAX_MSG, name);

    static const char *const bad[] = {"proxy-url", NULL};
    static const char *const bad_names[] = {"a proxy", NULL};
    if ((rc = refuse(k, cl, where, bad, bad_names)) != CS_OK)
        return rc;

    const char *server, *sni;
    if ((rc = scalar(k, cl, "server", where, &server)) != CS_OK)
        return rc;
    if (!server)
        return cs_err_set(k->err, CS_EINVAL, 0, "kubeconfig %s: %s.server: missing", k->origin,
                          where);
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0)
        return cs_err_set(k->err, CS_EINVAL, 0,
                          "kubeconfig %s: %s.server: not an http:// or https:// URL", k->origin,
                          where);
    if (!(cfg->server = strdup(server)))
        return cs_err_set(k->err, CS_ENOMEM, 0, "out of memory");
    size_t n = strlen(cfg->server);
    while (n > 8 && cfg->server[n - 1] == '/')
        cfg->server[--n] = '\0';

    const char *ca_data, *ca_file;
    if ((rc = scalar(k, cl, "certificate-authority-data", where, &ca_data)) != CS_OK ||
        (rc = scalar(k, cl, "certificate-authority", where, &ca_file)) != CS_OK ||
        (rc = boolean(k, cl, "insecure-skip-tls-verify", where, &cfg->insecure_skip_verify)) !=
            CS_OK ||
        (rc = scalar(k, cl, "tls-server-name", where, &sni)) != CS_OK)
        return rc;
    if (cfg->insecure_skip_verify && (ca_data || ca_file))
        return cs_err_set(k->err, CS_EINVAL, 0,
                          "kubeconfig %s: %s: a certificate authority together with "
                          "insecure-skip-tls-verify is not allowed",
                          k->origin, where);
    if (ca_data) {
        struct cs_err e;
        if ((rc = cs_base64_decode(ca_data, strlen(ca_data), &cfg->ca_pem, &e)) != CS_OK)
            return cs_err_set(k->err, rc, 0, "kubeconfig %s: %s.certificate-authority-data: %s",
                              k->origin, where, e.message);
        if (cfg->ca_pem.len == 0)
            return cs_err_set(k->err, CS_EINVAL, 0,
                              "kubeconfig %s: %s.certificate-authority-data: empty", k->origin,
                              where);
    } else if (ca_file) {
        if (!(cfg->ca_file = resolve(k, ca_file)))
            return cs_err_set(k->err, CS_ENOMEM, 0, "out of memory");
    }
    if (sni && !(cfg->tls_server_name = strdup(sni)))
        return cs_err_set(k->err, CS_ENOMEM, 0, "out of memory");
    return CS_OK;
}

static enum cs_code load_user(struct kc *k, yaml_node_t *root, const char *name,
                              struct k8s_config *cfg)
{
    yaml_node_t *u;
    enum cs_code rc;
    char where[NAME_MAX_MSG + 32];
    if ((rc = named(k, root, "users", "user", name, &u)) != CS_OK)
        return rc;
    snprintf(where, sizeof(where), "users[%.*s].user", NAME_MAX_MSG, name);

    static const char *const bad[] = {"exec", "auth-provider", "username", "password", "as",
                                      "as-uid", "as-groups", "as-user-extra", NULL};
    static const char *const bad_names[] = {
        "exec credential plugins are",  "auth providers are",  "basic authentication is",
        "basic authentication is",      "impersonation is",    "impersonation is",
        "impersonation is",             "impersonation is",    NULL};
    if ((rc = refuse(k, u, where, bad, bad_names)) != CS_OK)
        return rc;

    bool have_cert, have_key;
    if ((rc = data_or_file(k, u, where, "client-certificate-data", "client-certificate",
                           &cfg->client_cert_pem, &have_cert)) != CS_OK ||
        (rc = data_or_file(k, u, where, "client-key-data", "client-key", &cfg->client_key_pem,
                           &have_key)) != CS_OK)
        return rc;
    if (have_cert != have_key)
        return cs_err_set(k->err, CS_EINVAL, 0, "kubeconfig %s: %s: %s without %s", k->origin,
                          where, have_cert ? "client certificate" : "client key",
                          have_cert ? "client key" : "client certificate");

    const char *token, *token_file;
    if ((rc = scalar(k, u, "token", where, &token)) != CS_OK ||
        (rc = scalar(k, u, "tokenFile", where, &token_file)) != CS_OK)
        return rc;
    if (token_file) {
        /* As client-go: the file wins over an inline token, and is re-read as it rotates.
         * Read it once now so that a bad path is reported at start, naming the field. */
        if (!(cfg->token_file = resolve(k, token_file)))
            return cs_err_set(k->err, CS_ENOMEM, 0, "out of memory");
        char what[512];
        snprintf(what, sizeof(what), "kubeconfig %.200s: %s.tokenFile:", k->origin, where);
        if ((rc = k8s_read_file(cfg->token_file, &cfg->token, what, k->err)) != CS_OK) {
            if (k->err)
                k->err->code = CS_EINVAL;
            return CS_EINVAL;
        }
        cs_buf_reset(&cfg->token);
    } else if (token) {
        if ((rc = cs_buf_adds(&cfg->token, token)) != CS_OK)
            return cs_err_set(k->err, rc, 0, "kubeconfig %s: %s.token: too long", k->origin,
                              where);
    }
    return CS_OK;
}

static enum cs_code load(struct kc *k, const char *context, struct k8s_config *cfg)
{
    enum cs_code rc;
    yaml_node_t *root = yaml_document_get_root_node(&k->doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        return cs_err_set(k->err, CS_EINVAL, 0, "kubeconfig %s: not a YAML mapping", k->origin);
    const char *cur = context;
    if (!cur && (rc = scalar(k, root, "current-context", "(top level)", &cur)) != CS_OK)
        return rc;
    if (!cur || !*cur)
        return cs_err_set(k->err, CS_EINVAL, 0,
                          "kubeconfig %s: current-context: missing (and no context given)",
                          k->origin);

    yaml_node_t *ctx;
    char where[NAME_MAX_MSG + 32];
    if ((rc = named(k, root, "contexts", "context", cur, &ctx)) != CS_OK)
        return rc;
    snprintf(where, sizeof(where), "contexts[%.*s].context", NAME_MAX_MSG, cur);
    const char *cluster, *user, *ns;
    if ((rc = scalar(k, ctx, "cluster", where, &cluster)) != CS_OK ||
        (rc = scalar(k, ctx, "user", where, &user)) != CS_OK ||
        (rc = scalar(k, ctx, "namespace", where, &ns)) != CS_OK)
        return rc;
    if (!cluster)
        return cs_err_set(k->err, CS_EINVAL, 0, "kubeconfig %s: %s.cluster: missing", k->origin,
                          where);
    if ((rc = load_cluster(k, root, cluster, cfg)) != CS_OK)
        return rc;
    if (user && (rc = load_user(k, root, user, cfg)) != CS_OK)
        return rc;
    if (!(cfg->namespace = strdup(ns ? ns : "default")) || !(cfg->origin = strdup(k->origin)))
        return cs_err_set(k->err, CS_ENOMEM, 0, "out of memory");
    return CS_OK;
}

static void cleanse_document(yaml_document_t *doc)
{
    for (yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++)
        if (n->type == YAML_SCALAR_NODE && n->data.scalar.value)
            OPENSSL_cleanse(n->data.scalar.value, n->data.scalar.length);
}

static void cleanse_parser(yaml_parser_t *p)
{
    if (p->buffer.start)
        OPENSSL_cleanse(p->buffer.start, (size_t)(p->buffer.end - p->buffer.start));
    if (p->raw_buffer.start)
        OPENSSL_cleanse(p->raw_buffer.start, (size_t)(p->raw_buffer.end - p->raw_buffer.start));
}

enum cs_code k8s_config_parse_kubeconfig(const char *text, size_t len, const char *origin,
                                         const char *base_dir, const char *context,
                                         struct k8s_config **out, struct cs_err *err)
{
    yaml_parser_t parser;
    struct kc k = {.origin = origin ? origin : "(memory)", .base_dir = base_dir, .err = err};
    struct k8s_config *cfg = NULL;
    bool have_doc = false;
    enum cs_code rc = CS_OK;

    if (!yaml_parser_initialize(&parser))
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &k.doc)) {
        /* libyaml's problem strings describe the syntax, never quote the input. */
        rc = cs_err_set(err, parser.error == YAML_MEMORY_ERROR ? CS_ENOMEM : CS_EINVAL, 0,
                        "kubeconfig %s: line %zu: %s", k.origin, parser.problem_mark.line + 1,
                        parser.problem ? parser.problem : "invalid YAML");
        goto out;
    }
    have_doc = true;
    if (!(cfg = k8s_config_alloc())) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    if ((rc = load(&k, context, cfg)) != CS_OK)
        goto out;
    *out = cfg;
    cfg = NULL;
out:
    k8s_config_free(cfg);
    if (have_doc) {
        cleanse_document(&k.doc);
        yaml_document_delete(&k.doc);
    }
    cleanse_parser(&parser);
    yaml_parser_delete(&parser);
    return rc;
}

enum cs_code k8s_config_load_kubeconfig(const char *path, const char *context,
                                        struct k8s_config **out, struct cs_err *err)
{
    struct cs_buf text;
    char *dir = NULL;
    enum cs_code rc;
    cs_buf_init_secret(&text, 4 * 1024 * 1024);
    if ((rc = k8s_read_file(path, &text, "kubeconfig", err)) != CS_OK)
        goto out;
    const char *slash = strrchr(path, '/');
    dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    rc = k8s_config_parse_kubeconfig(cs_buf_str(&text), text.len, path, dir, context, out, err);
out:
    free(dir);
    cs_buf_free(&text);
    return rc;
}
