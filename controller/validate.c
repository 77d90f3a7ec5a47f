/* validate.c -- `elb-certsync validate`: checks a certificate and key (files, or a Secret by
 * namespace/name) against a provider's rules, for admins before they update a Secret. Prints
 * the verdict and what the controller would see; never the key. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "controller/certcheck.h"
#include "controller/naming.h"
#include "controller/objects.h"
#include "controller/run.h"
#include "elb/elb.h"
#include "k8s/client.h"
#include "k8s/config.h"

static const char usage[] =
    "Usage: elb-certsync validate [--provider huawei|ucloud] (--cert FILE --key FILE | "
    "--secret NAMESPACE/NAME [--kubeconfig FILE] [--context NAME]) [--cluster-id ID]\n"
    "\n"
    "Checks a certificate chain and its key against the provider's rules: PEM, key match, chain\n"
    "order, validity dates, key type and size, sizes. With --cluster-id, also prints the name\n"
    "the managed certificate would get. Exit 0: valid; 1: not valid; 2: usage or I/O error.\n"
    "The provider also comes from ELB_CERTSYNC_PROVIDER (default huawei).\n";

static int read_file(const char *path, struct cs_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(path);
        return -1;
    }
    char chunk[4096];
    ssize_t n;
    int rc = 0;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
        if (cs_buf_add(out, chunk, (size_t)n) != CS_OK) {
            fprintf(stderr, "%s: too large\n", path);
            rc = -1;
            break;
        }
    }
    if (n < 0) {
        perror(path);
        rc = -1;
    }
    OPENSSL_cleanse(chunk, sizeof(chunk));
    close(fd);
    return rc;
}

static int fetch_secret(const char *ref, const char *kubeconfig, const char *context,
                        struct cs_buf *crt, struct cs_buf *key, char *ns, size_t ns_size,
                        char *name, size_t name_size)
{
    const char *slash = strchr(ref, '/');
    if (!slash || slash == ref || !slash[1] || (size_t)(slash - ref) >= ns_size ||
        strlen(slash + 1) >= name_size) {
        fprintf(stderr, "elb-certsync validate: --secret wants NAMESPACE/NAME\n");
        return 2;
    }
    memcpy(ns, ref, (size_t)(slash - ref));
    ns[slash - ref] = '\0';
    snprintf(name, name_size, "%s", slash + 1);
    struct cs_err err;
    cs_err_clear(&err);
    struct k8s_config *cfg = NULL;
    struct k8s_client *kube = NULL;
    cJSON *sec = NULL;
    int rc = 2;
    struct k8s_config_opts ko = {.kubeconfig = kubeconfig, .context = context};
    if (k8s_config_load(&ko, &cfg, &err) != CS_OK || k8s_client_new(cfg, NULL, &kube, &err) != CS_OK ||
        k8s_get(kube, &k8s_res_secrets, ns, name, &sec, &err) != CS_OK) {
        fprintf(stderr, "elb-certsync validate: %s\n", err.message);
        goto out;
    }
    const char *type = cs_json_str(sec, "type");
    if (!ctl_secret_type_ok(type))
        printf("warning: Secret %s/%s has type %s; the controller reads kubernetes.io/tls "
               "(and IngressTLS) only\n",
               ns, name, type ? type : "(none)");
    if (ctl_secret_material(sec, crt, key, &err) != CS_OK) {
        printf("not valid: %s\n", err.message);
        rc = 1;
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(sec);
    k8s_client_free(kube);
    k8s_config_free(cfg);
    return rc;
}

int ctl_validate_main(int argc, char **argv)
{
    const char *provider = getenv("ELB_CERTSYNC_PROVIDER");
    const char *cert_file = NULL, *key_file = NULL, *secret = NULL, *kubeconfig = NULL;
    const char *context = NULL, *cluster = NULL;
    if (!provider || !*provider)
        provider = "huawei";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--provider") == 0)
            slot = &provider;
        else if (strcmp(a, "--cert") == 0)
            slot = &cert_file;
        else if (strcmp(a, "--key") == 0)
            slot = &key_file;
        else if (strcmp(a, "--secret") == 0)
            slot = &secret;
        else if (strcmp(a, "--kubeconfig") == 0)
            slot = &kubeconfig;
        else if (strcmp(a, "--context") == 0)
            slot = &context;
        else if (strcmp(a, "--cluster-id") == 0)
            slot = &cluster;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "elb-certsync validate: %s %s\n\n%s", slot ? "missing value for" : "unknown argument", a, usage);
            return 2;
        }
        *slot = argv[++i];
    }
    const struct elb_limits *lim = elb_limits_of(provider);
    if (!lim) {
        fprintf(stderr, "elb-certsync validate: --provider \"%s\": want huawei or ucloud\n",
                provider);
        return 2;
    }
    if (!secret == !(cert_file && key_file) || (secret && (cert_file || key_file))) {
        fprintf(stderr, "elb-certsync validate: give --cert and --key, or --secret\n\n%s", usage);
        return 2;
    }
    struct cs_err err;
    if (cluster && ctl_cluster_id_check(cluster, &err) != CS_OK) {
        fprintf(stderr, "elb-certsync validate: --cluster-id: %s\n", err.message);
        return 2;
    }
    cs_json_init();
    struct cs_buf crt, key;
    cs_buf_init_secret(&crt, 1024 * 1024);
    cs_buf_init_secret(&key, 1024 * 1024);
    char ns[256] = "file", name[256] = "file";
    int rc = 2;
    if (secret) {
        rc = fetch_secret(secret, kubeconfig, context, &crt, &key, ns, sizeof(ns), name,
                          sizeof(name));
        if (rc != 0)
            goto out;
    } else if (read_file(cert_file, &crt) != 0 || read_file(key_file, &key) != 0) {
        goto out;
    }
    struct ctl_certcheck cc;
    memset(&cc, 0, sizeof(cc));
    if (ctl_certcheck_run(cs_buf_str(&crt), crt.len, cs_buf_str(&key), key.len, lim, cs_wall_ms(),
                          &cc, &err) != CS_OK) {
        fprintf(stderr, "elb-certsync validate: %s\n", err.message);
        goto out;
    }
    if (cc.status != CTL_CERT_OK) {
        printf("not valid for %s: %s\n", provider, cc.reason);
        rc = 1;
    } else {
        char before[32], after[32];
        cs_format_time(cc.not_before_ms, false, before);
        cs_format_time(cc.not_after_ms, false, after);
        printf("valid for %s\n  key:          %s%s%d bits\n  chain:        %zu certificate%s\n"
               "  valid:        %s to %s (%lld days left)\n  fingerprint:  %s\n  domains:     ",
               provider, cc.key_type, cc.key_type[0] ? ", " : "", cc.key_bits, cc.chain_len,
               cc.chain_len == 1 ? "" : "s", before, after,
               (long long)((cc.not_after_ms - cs_wall_ms()) / 86400000LL), cc.fingerprint);
        for (size_t i = 0; i < cc.n_domains; i++)
            printf(" %s", cc.domains[i]);
        printf("\n");
        if (cluster) {
            char *cert_name = NULL;
            if (ctl_name_managed(cluster, secret ? ns : "default", secret ? name : "file",
                                 cc.fingerprint, lim, &cert_name, &err) == CS_OK)
                printf("  managed name: %s%s\n", cert_name,
                       secret ? "" : " (for a Secret default/file)");
            free(cert_name);
        }
        rc = 0;
    }
    ctl_certcheck_cleanup(&cc);
out:
    cs_buf_free(&crt);
    cs_buf_free(&key);
    return rc;
}
