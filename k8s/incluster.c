/* incluster.c -- configuration from the pod's service account, as client-go's
 * rest.InClusterConfig: KUBERNETES_SERVICE_HOST/PORT, and the token, CA bundle and namespace
 * files that the kubelet mounts. The token is a bound token that rotates: the client re-reads
 * token_file (client.c), so it is only checked here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "k8s/config.h"

static char *join(const char *dir, const char *file)
{
    char *out = NULL;
    return asprintf(&out, "%s/%s", dir, file) < 0 ? NULL : out;
}

enum cs_code k8s_config_load_incluster(const char *root, struct k8s_config **out,
                                       struct cs_err *err)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    struct k8s_config *cfg = NULL;
    struct cs_buf ns;
    char *ns_path = NULL;
    enum cs_code rc = CS_OK;
    cs_buf_init(&ns, 4096);
    if (!root)
        root = K8S_INCLUSTER_ROOT;
    if (!host || !*host || !port || !*port)
        return cs_err_set(err, CS_ENOTFOUND, 0,
                          "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must "
                          "both be set");
    if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
        return cs_err_set(err, CS_EINVAL, 0, "in-cluster: KUBERNETES_SERVICE_PORT: not a port");
    if (strpbrk(host, "/[]@ ?#"))
        return cs_err_set(err, CS_EINVAL, 0, "in-cluster: KUBERNETES_SERVICE_HOST: not a host");
    if (!(cfg = k8s_config_alloc()))
        goto nomem;
    /* An IPv6 literal goes in brackets (net.JoinHostPort). */
    bool v6 = strchr(host, ':') != NULL;
    if (asprintf(&cfg->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0) {
        cfg->server = NULL;
        goto nomem;
    }
    if (!(cfg->token_file = join(root, "token")) || !(cfg->ca_file = join(root, "ca.crt")) ||
        !(ns_path = join(root, "namespace")) || !(cfg->origin = strdup("in-cluster")))
        goto nomem;
    if ((rc = k8s_read_file(cfg->token_file, &cfg->token, "in-cluster: token", err)) != CS_OK)
        goto out;
    if (cfg->token.len == 0) {
        rc = cs_err_set(err, CS_EINVAL, 0, "in-cluster: token %s: empty", cfg->token_file);
        goto out;
    }
    cs_buf_reset(&cfg->token); /* the client reads the file itself */
    if (access(cfg->ca_file, R_OK) != 0) {
        rc = cs_err_set(err, CS_EINVAL, 0, "in-cluster: ca.crt %s: not readable", cfg->ca_file);
        goto out;
    }
    rc = k8s_read_file(ns_path, &ns, "in-cluster: namespace", err);
    if (rc == CS_OK) {
        const char *s = cs_buf_str(&ns);
        size_t n = strcspn(s, " \t\r\n");
        cfg->namespace = strndup(s, n);
        if (cfg->namespace && !*cfg->namespace) {
            free(cfg->namespace);
            cfg->namespace = NULL;
        }
    } else if (rc != CS_ENOTFOUND) {
        goto out;
    }
    rc = CS_OK;
    cs_err_clear(err);
    if (!cfg->namespace && !(cfg->namespace = strdup("default")))
        goto nomem;
    *out = cfg;
    cfg = NULL;
    goto out;
nomem:
    rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
out:
    free(ns_path);
    cs_buf_free(&ns);
    k8s_config_free(cfg);
    return rc;
}
