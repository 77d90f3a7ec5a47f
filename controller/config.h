/* config.h -- the configuration of `elb-certsync run`: flags, their environment variables,
 * defaults, validation, and the --help text, all from one table. */
#ifndef CTL_CONFIG_H
#define CTL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "common/log.h"

enum ctl_tristate { CTL_AUTO = -1, CTL_OFF = 0, CTL_ON = 1 };

struct ctl_config {
    char *kubeconfig;
    char *kube_context;
    char *cluster_id;
    char *provider;
    char *region;
    char *project_id;
    char *endpoint;
    char *credentials_file;
    char *provider_ca_file;
    char *ingress_class;
    char *namespace_; /* watch only this namespace; NULL: all */
    uint64_t resync_period_ms;
    int workers;
    double provider_qps;
    int provider_burst;
    uint64_t provider_timeout_ms;
    char *metrics_addr;
    enum ctl_tristate leader_elect; /* AUTO: on when running in a cluster */
    char *lease_namespace;          /* NULL: the pod's namespace in-cluster, else "default" */
    char *lease_name;
    char *identity;                 /* NULL: the host name */
    uint64_t lease_duration_ms;
    uint64_t renew_deadline_ms;
    uint64_t retry_period_ms;
    bool dry_run;
    enum cs_log_format log_format;
    enum cs_log_level log_level;
    int expiry_warning_days;
    int default_port;
    uint64_t shutdown_grace_ms;
};

/* Fills cfg from argv (after the subcommand), then the environment for what argv did not
 * set, then defaults, and validates. On a bad flag, value or combination: CS_EINVAL with a
 * message naming the flag. *help_requested is set (and CS_OK returned) for -h/--help. */
enum cs_code ctl_config_parse(int argc, char **argv, struct ctl_config *cfg,
                              bool *help_requested, struct cs_err *err);
void ctl_config_cleanup(struct ctl_config *cfg);
void ctl_config_usage(FILE *out);

/* "90s", "10m", "1h30m", "500ms", "2h", or a plain number of seconds. */
bool ctl_parse_duration_ms(const char *s, uint64_t *out);

#endif
