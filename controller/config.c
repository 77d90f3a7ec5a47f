/* config.c -- flags and environment of `elb-certsync run`. */
#include "controller/config.h"

#include "controller/naming.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { T_STRING, T_INT, T_DOUBLE, T_DURATION, T_BOOL, T_TRISTATE, T_LOGFMT, T_LOGLEVEL };

struct opt {
    const char *flag; /* without the leading "--" */
    enum opt_type type;
    size_t offset;
    const char *def;  /* default as text; NULL: none */
    const char *help;
};

#define OFF(f) offsetof(struct ctl_config, f)

static const struct opt opts[] = {
    {"cluster-id", T_STRING, OFF(cluster_id), NULL,
     "Identifies this cluster in the name and ownership record of every certificate it manages, "
     "unique per cloud account (required; 1-12 of a-z, 0-9 and '-', no '-' at either end)"},
    {"provider", T_STRING, OFF(provider), "huawei", "Load-balancer provider: huawei or ucloud"},
    {"region", T_STRING, OFF(region), NULL, "Default region of the load balancers (required)"},
    {"project-id", T_STRING, OFF(project_id), NULL,
     "Huawei: project ID, or region=ID,region=ID for several regions; UCloud: project ID"},
    {"endpoint", T_STRING, OFF(endpoint), NULL,
     "Provider API base URL (default: the cloud's public endpoint; may contain {region})"},
    {"credentials-file", T_STRING, OFF(credentials_file), NULL,
     "KEY=VALUE file with the provider's credentials (required)"},
    {"provider-ca-file", T_STRING, OFF(provider_ca_file), NULL,
     "Extra CA bundle to trust for the provider endpoint"},
    {"provider-qps", T_DOUBLE, OFF(provider_qps), "5", "Client-side limit of provider requests per second"},
    {"provider-burst", T_INT, OFF(provider_burst), "10", "Burst of the provider rate limit"},
    {"provider-timeout", T_DURATION, OFF(provider_timeout_ms), "30s", "Timeout of one provider request"},
    {"kubeconfig", T_STRING, OFF(kubeconfig), NULL,
     "kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)"},
    {"context", T_STRING, OFF(kube_context), NULL, "kubeconfig context (default: current-context)"},
    {"ingress-class", T_STRING, OFF(ingress_class), "cce", "Ingress class this controller serves"},
    {"namespace", T_STRING, OFF(namespace_), NULL,
     "Watch only this namespace (RBAC can then be a Role); default: all namespaces"},
    {"resync-period", T_DURATION, OFF(resync_period_ms), "10m",
     "Full resync: every listener reconciled, provider certificates listed once"},
    {"workers", T_INT, OFF(workers), "2", "Concurrent reconciles"},
    {"expiry-warning-days", T_INT, OFF(expiry_warning_days), "30",
     "Warn (Event) when a certificate expires within this many days"},
    {"default-port", T_INT, OFF(default_port), "443",
     "Listener port when an Ingress has no kubernetes.io/elb.port annotation"},
    {"metrics-addr", T_STRING, OFF(metrics_addr), ":8080",
     "Address of /healthz, /readyz and /metrics (HOST:PORT; empty HOST: all interfaces)"},
    {"leader-elect", T_TRISTATE, OFF(leader_elect), "auto",
     "Leader election on a Lease: true, false or auto (on when running in a cluster)"},
    {"lease-namespace", T_STRING, OFF(lease_namespace), NULL,
     "Namespace of the Lease (default: the pod's namespace in a cluster, else default)"},
    {"lease-name", T_STRING, OFF(lease_name), "elb-certsync", "Name of the Lease"},
    {"identity", T_STRING, OFF(identity), NULL, "Leader-election identity (default: host name)"},
    {"lease-duration", T_DURATION, OFF(lease_duration_ms), "15s", "Lease duration"},
    {"renew-deadline", T_DURATION, OFF(renew_deadline_ms), "10s", "Leader gives up if not renewed by then"},
    {"retry-period", T_DURATION, OFF(retry_period_ms), "2s", "Interval of lease attempts"},
    {"shutdown-grace", T_DURATION, OFF(shutdown_grace_ms), "4s",
     "On SIGTERM: time for in-flight reconciles before the lease is released"},
    {"dry-run", T_BOOL, OFF(dry_run), "false",
     "Read everything, log the plan, write nothing to the load balancer"},
    {"log-format", T_LOGFMT, OFF(log_format), "text", "text or json"},
    {"log-level", T_LOGLEVEL, OFF(log_level), "info", "debug, info, warn or error"},
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static void env_name(const char *flag, char *out, size_t n)
{
    size_t i = (size_t)snprintf(out, n, "ELB_CERTSYNC_");
    for (; *flag && i + 1 < n; flag++)
        out[i++] = *flag == '-' ? '_' : (char)toupper((unsigned char)*flag);
    out[i] = '\0';
}

bool ctl_parse_duration_ms(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double plain = strtod(s, &end);
    if (*end == '\0' && errno == 0) {
        if (plain < 0 || plain > 1e9)
            return false;
        *out = (uint64_t)(plain * 1000.0);
        return true;
    }
    uint64_t total = 0;
    const char *p = s;
    while (*p) {
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || v < 0)
            return false;
        p = end;
        double unit;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else if (*p == 's') {
            unit = 1000;
            p++;
        } else if (*p == 'm') {
            unit = 60000;
            p++;
        } else if (*p == 'h') {
            unit = 3600000;
            p++;
        } else {
            return false;
        }
        double add = v * unit;
        if (add > 1e12)
            return false;
        total += (uint64_t)add;
    }
    *out = total;
    return true;
}

static bool parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0) {
        *out = false;
        return true;
    }
    return false;
}

static enum cs_code set_value(struct ctl_config *cfg, const struct opt *o, const char *v,
                              const char *origin, struct cs_err *err)
{
    char *base = (char *)cfg + o->offset;
    char *end;
    switch (o->type) {
    case T_STRING: {
        char **slot = (char **)base;
        char *dup = strdup(v);
        if (!dup)
            return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        free(*slot);
        *slot = dup;
        return CS_OK;
    }
    case T_INT: {
        errno = 0;
        long n = strtol(v, &end, 10);
        if (end == v || *end || errno || n < 0 || n > 1000000)
            break;
        *(int *)base = (int)n;
        return CS_OK;
    }
    case T_DOUBLE: {
        errno = 0;
        double d = strtod(v, &end);
        if (end == v || *end || errno || d < 0)
            break;
        *(double *)base = d;
        return CS_OK;
    }
    case T_DURATION: {
        uint64_t ms;
        if (!ctl_parse_duration_ms(v, &ms))
            break;
        *(uint64_t *)base = ms;
        return CS_OK;
    }
    case T_BOOL: {
        bool b;
        if (!parse_bool(v, &b))
            break;
        *(bool *)base = b;
        return CS_OK;
    }
    case T_TRISTATE: {
        bool b;
        if (strcmp(v, "auto") == 0)
            *(enum ctl_tristate *)base = CTL_AUTO;
        else if (parse_bool(v, &b))
            *(enum ctl_tristate *)base = b ? CTL_ON : CTL_OFF;
        else
            break;
        return CS_OK;
    }
    case T_LOGFMT:
        if (!cs_log_parse_format(v, (enum cs_log_format *)base))
            break;
        return CS_OK;
    case T_LOGLEVEL:
        if (!cs_log_parse_level(v, (enum cs_log_level *)base))
            break;
        return CS_OK;
    }
    return cs_err_set(err, CS_EINVAL, 0, "invalid value \"%s\" for %s", v, origin);
}

static const struct opt *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(opts[i].flag) == len && strncmp(opts[i].flag, name, len) == 0)
            return &opts[i];
    return NULL;
}

static enum cs_code validate(struct ctl_config *cfg, struct cs_err *err)
{
    if (!cfg->cluster_id)
        return cs_err_set(err, CS_EINVAL, 0,
                          "--cluster-id is required (or ELB_CERTSYNC_CLUSTER_ID)");
    struct cs_err why;
    if (ctl_cluster_id_check(cfg->cluster_id, &why) != CS_OK)
        return cs_err_set(err, CS_EINVAL, 0, "--cluster-id \"%s\": %s", cfg->cluster_id,
                          why.message);
    if (strcmp(cfg->provider, "huawei") != 0 && strcmp(cfg->provider, "ucloud") != 0)
        return cs_err_set(err, CS_EINVAL, 0, "--provider \"%s\": want huawei or ucloud",
                          cfg->provider);
    if (!cfg->region || !*cfg->region)
        return cs_err_set(err, CS_EINVAL, 0, "--region is required (or ELB_CERTSYNC_REGION)");
    if (!cfg->project_id || !*cfg->project_id)
        return cs_err_set(err, CS_EINVAL, 0,
                          "--project-id is required (or ELB_CERTSYNC_PROJECT_ID)");
    if (!cfg->credentials_file)
        return cs_err_set(err, CS_EINVAL, 0,
                          "--credentials-file is required (or ELB_CERTSYNC_CREDENTIALS_FILE)");
    if (cfg->workers < 1 || cfg->workers > 64)
        return cs_err_set(err, CS_EINVAL, 0, "--workers %d: want 1 to 64", cfg->workers);
    if (cfg->default_port < 1 || cfg->default_port > 65535)
        return cs_err_set(err, CS_EINVAL, 0, "--default-port %d: want 1 to 65535",
                          cfg->default_port);
    if (cfg->resync_period_ms < 10000)
        return cs_err_set(err, CS_EINVAL, 0, "--resync-period: at least 10s");
    if (!(cfg->lease_duration_ms > cfg->renew_deadline_ms &&
          cfg->renew_deadline_ms > cfg->retry_period_ms && cfg->retry_period_ms > 0))
        return cs_err_set(err, CS_EINVAL, 0,
                          "leader election needs lease-duration > renew-deadline > retry-period > 0");
    if (cfg->provider_qps <= 0)
        return cs_err_set(err, CS_EINVAL, 0, "--provider-qps must be more than 0");
    if (cfg->ingress_class && !*cfg->ingress_class)
        return cs_err_set(err, CS_EINVAL, 0, "--ingress-class must not be empty");
    return CS_OK;
}

enum cs_code ctl_config_parse(int argc, char **argv, struct ctl_config *cfg,
                              bool *help_requested, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    bool set[N_OPTS] = {false};
    memset(cfg, 0, sizeof(*cfg));
    *help_requested = false;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            *help_requested = true;
            return CS_OK;
        }
        if (strncmp(a, "--", 2) != 0) {
            rc = cs_err_set(err, CS_EINVAL, 0, "unexpected argument \"%s\"", a);
            goto fail;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o = find_opt(name, len);
        if (!o) {
            rc = cs_err_set(err, CS_EINVAL, 0, "unknown flag --%.*s (see --help)", (int)len, name);
            goto fail;
        }
        const char *v;
        if (eq) {
            v = eq + 1;
        } else if (o->type == T_BOOL) {
            v = "true";
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            rc = cs_err_set(err, CS_EINVAL, 0, "flag --%s needs a value", o->flag);
            goto fail;
        }
        char origin[64];
        snprintf(origin, sizeof(origin), "--%s", o->flag);
        if ((rc = set_value(cfg, o, v, origin, err)) != CS_OK)
            goto fail;
        set[o - opts] = true;
    }
    for (size_t i = 0; i < N_OPTS; i++) {
        if (set[i])
            continue;
        char env[64];
        env_name(opts[i].flag, env, sizeof(env));
        const char *v = getenv(env);
        if (v && *v) {
            if ((rc = set_value(cfg, &opts[i], v, env, err)) != CS_OK)
                goto fail;
        } else if (opts[i].def) {
            if ((rc = set_value(cfg, &opts[i], opts[i].def, opts[i].flag, err)) != CS_OK)
                goto fail;
        }
    }
    if ((rc = validate(cfg, err)) != CS_OK)
        goto fail;
    return CS_OK;
fail:
    ctl_config_cleanup(cfg);
    return rc;
}

void ctl_config_cleanup(struct ctl_config *cfg)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts[i].type == T_STRING) {
            char **slot = (char **)((char *)cfg + opts[i].offset);
            free(*slot);
            *slot = NULL;
        }
}

void ctl_config_usage(FILE *out)
{
    fprintf(out, "Usage: elb-certsync run [flags]\n\n"
                 "Keeps load-balancer HTTPS certificates in step with the TLS Secrets that "
                 "Ingresses reference.\nEvery flag can also be given as an environment variable "
                 "(shown after it); a flag wins over its variable.\n\nFlags:\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        char env[64];
        env_name(opts[i].flag, env, sizeof(env));
        fprintf(out, "  --%s%s\n      %s\n      env %s", opts[i].flag,
                opts[i].type == T_BOOL ? "" : " VALUE", opts[i].help, env);
        if (opts[i].def)
            fprintf(out, ", default %s", opts[i].def);
        fputc('\n', out);
    }
}
