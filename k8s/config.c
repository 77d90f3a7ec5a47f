/* config.c -- the configuration object and the order in which sources are tried. */
#include "k8s/config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

/* Bigger than any real CA bundle, token or kubeconfig; a guard against reading /dev/zero. */
#define MAX_CONFIG_FILE ((size_t)4 * 1024 * 1024)

struct k8s_config *k8s_config_alloc(void)
{
    struct k8s_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return NULL;
    cs_buf_init(&cfg->ca_pem, MAX_CONFIG_FILE);
    cs_buf_init(&cfg->client_cert_pem, MAX_CONFIG_FILE);
    cs_buf_init_secret(&cfg->client_key_pem, MAX_CONFIG_FILE);
    cs_buf_init_secret(&cfg->token, MAX_CONFIG_FILE);
    return cfg;
}

void k8s_config_free(struct k8s_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->server);
    free(cfg->ca_file);
    cs_buf_free(&cfg->ca_pem);
    free(cfg->tls_server_name);
    cs_buf_free(&cfg->client_cert_pem);
    cs_buf_free(&cfg->client_key_pem);
    cs_buf_free(&cfg->token);
    free(cfg->token_file);
    free(cfg->namespace);
    free(cfg->origin);
    free(cfg);
}

enum cs_code k8s_read_file(const char *path, struct cs_buf *b, const char *what,
                           struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    char chunk[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return cs_err_set(err, e == ENOENT ? CS_ENOTFOUND : CS_EINVAL, 0, "%s %s: %s", what,
                          path, strerror(e));
    }
    cs_buf_reset(b);
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cs_err_set(err, CS_EIO, 0, "%s %s: %s", what, path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (cs_buf_add(b, chunk, (size_t)n) != CS_OK) {
            rc = cs_err_set(err, CS_ETOOBIG, 0, "%s %s: larger than %zu bytes", what, path,
                            b->max);
            goto out;
        }
    }
out:
    /* chunk may have held a token or a key */
    OPENSSL_cleanse(chunk, sizeof(chunk));
    close(fd);
    if (rc != CS_OK)
        cs_buf_reset(b);
    return rc;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

enum cs_code k8s_config_load(const struct k8s_config_opts *opts, struct k8s_config **out,
                             struct cs_err *err)
{
    static const struct k8s_config_opts none = {0};
    if (!opts)
        opts = &none;
    if (opts->kubeconfig && *opts->kubeconfig)
        return k8s_config_load_kubeconfig(opts->kubeconfig, opts->context, out, err);

    /* In-cluster first, as the controller normally runs in a pod. A context override makes
     * sense only for kubeconfig files, so it skips this step. */
    if (!opts->context) {
        enum cs_code rc = k8s_config_load_incluster(opts->incluster_root, out, err);
        if (rc != CS_ENOTFOUND)
            return rc;
    }

    /* KUBECONFIG: the first file of the list that exists (client-go merges them all; we do
     * not). */
    const char *list = getenv("KUBECONFIG");
    if (list && *list) {
        char *copy = strdup(list);
        if (!copy)
            return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        char *save = NULL;
        for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
            if (file_exists(p)) {
                enum cs_code rc = k8s_config_load_kubeconfig(p, opts->context, out, err);
                free(copy);
                return rc;
            }
        }
        free(copy);
    }

    const char *home = opts->home ? opts->home : getenv("HOME");
    if (home && *home) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/.kube/config", home);
        if (file_exists(path))
            return k8s_config_load_kubeconfig(path, opts->context, out, err);
    }
    return cs_err_set(err, CS_ENOTFOUND, 0,
                      "no Kubernetes configuration: not in a cluster "
                      "(KUBERNETES_SERVICE_HOST unset), no file in KUBECONFIG, no "
                      "~/.kube/config");
}
