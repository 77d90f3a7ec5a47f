/* config.h -- where the Kubernetes API is and how to authenticate to it.
 *
 * Two sources, as client-go has: a kubeconfig file (kubeconfig.c) and the in-cluster service
 * account (incluster.c). k8s_config_load picks one the way client-go's default loading rules
 * do, minus the multi-file merge: an explicit path wins; otherwise in-cluster when its
 * environment is present, then the first existing file of KUBECONFIG, then ~/.kube/config.
 *
 * Credentials (client key, token) are kept in secret buffers, cleansed on free. Errors name
 * the file and the field, never a value. */
#ifndef K8S_CONFIG_H
#define K8S_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define K8S_INCLUSTER_ROOT "/var/run/secrets/kubernetes.io/serviceaccount"

struct k8s_config {
    char *server;          /* base URL without trailing '/': "https://10.0.0.1:443" */
    char *ca_file;         /* PEM bundle path (absolute), or NULL */
    struct cs_buf ca_pem;  /* or the bundle itself (certificate-authority-data) */
    bool insecure_skip_verify;
    char *tls_server_name; /* verify the server as this name, or NULL */
    struct cs_buf client_cert_pem;
    struct cs_buf client_key_pem; /* secret */
    struct cs_buf token;          /* secret; empty when token_file is used or no token */
    char *token_file;             /* re-read by the client (absolute path), or NULL */
    char *namespace;              /* the context's namespace, "default" when unset */
    char *origin;                 /* for messages: the kubeconfig path or "in-cluster" */
};

struct k8s_config_opts {
    const char *kubeconfig; /* explicit path (--kubeconfig): only this file is read */
    const char *context;    /* override current-context, or NULL */
    /* Test seams; NULL means the real thing. */
    const char *incluster_root; /* default K8S_INCLUSTER_ROOT */
    const char *home;           /* default $HOME */
};

/* The default loading order described above. */
enum cs_code k8s_config_load(const struct k8s_config_opts *opts, struct k8s_config **out,
                             struct cs_err *err);

/* Reads one kubeconfig file. Relative paths inside it are resolved against its directory.
 * context NULL: current-context. Exec plugins, auth providers, basic auth, impersonation and
 * proxies are refused with CS_EUNSUPPORTED naming the field. */
enum cs_code k8s_config_load_kubeconfig(const char *path, const char *context,
                                        struct k8s_config **out, struct cs_err *err);

/* Parses kubeconfig text already in memory. origin names it in messages; base_dir resolves
 * relative paths (NULL: the current directory). */
enum cs_code k8s_config_parse_kubeconfig(const char *text, size_t len, const char *origin,
                                         const char *base_dir, const char *context,
                                         struct k8s_config **out, struct cs_err *err);

/* The service account: KUBERNETES_SERVICE_HOST/PORT and root/{token,ca.crt,namespace}.
 * root NULL: K8S_INCLUSTER_ROOT. CS_ENOTFOUND when the environment variables are absent. */
enum cs_code k8s_config_load_incluster(const char *root, struct k8s_config **out,
                                       struct cs_err *err);

void k8s_config_free(struct k8s_config *cfg);

/* Internal to the k8s module (config.c): an empty config with initialised buffers, and a
 * whole-file reader into b (secret or not, as b was initialised). */
struct k8s_config *k8s_config_alloc(void);
enum cs_code k8s_read_file(const char *path, struct cs_buf *b, const char *what,
                           struct cs_err *err);

#endif
