/* run.c -- `elb-certsync run`: configuration, clients, metrics, leader election, signals,
 * and an orderly shutdown. */
#include "controller/run.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "controller/config.h"
#include "controller/controller.h"
#include "controller/httpd.h"
#include "controller/metrics.h"
#include "elb/elb.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/events.h"
#include "k8s/lease.h"

#define SYNC_LOG_INTERVAL_MS 10000
#define EVENT_FLUSH_MS 1000

struct run_state {
    struct ctl_controller *ctl;
    struct ctl_metric *m_requests;
    struct ctl_metric *m_request_seconds;
    struct ctl_metric *m_leader;
    atomic_bool elected;
    atomic_bool lost;
};

static void observe_provider(void *ud, const char *op, enum cs_code outcome, uint64_t ms)
{
    struct run_state *st = ud;
    const char *v[] = {op, outcome == CS_OK ? "ok" : cs_code_name(outcome)};
    ctl_metric_inc(st->m_requests, v, 1);
    const char *w[] = {op};
    ctl_metric_observe(st->m_request_seconds, w, (double)ms / 1000.0);
}

static void on_started_leading(void *ud)
{
    struct run_state *st = ud;
    atomic_store(&st->elected, true);
    ctl_metric_set(st->m_leader, NULL, 1);
    cs_log_info("leader election won");
}

static void on_stopped_leading(void *ud)
{
    struct run_state *st = ud;
    if (atomic_exchange(&st->elected, false))
        atomic_store(&st->lost, true);
    ctl_metric_set(st->m_leader, NULL, 0);
}

static bool probe_ready(void *ud, char *reason, size_t n)
{
    struct run_state *st = ud;
    return st->ctl && ctl_controller_ready(st->ctl, reason, n);
}

static void default_identity(char *out, size_t n)
{
    if (gethostname(out, n) != 0 || !out[0])
        snprintf(out, n, "elb-certsync-%ld", (long)getpid());
    out[n - 1] = '\0';
}

int ctl_run_main(int argc, char **argv)
{
    struct ctl_config cfg;
    bool help = false;
    struct cs_err err;
    cs_err_clear(&err);
    if (ctl_config_parse(argc - 1, argv + 1, &cfg, &help, &err) != CS_OK) {
        fprintf(stderr, "elb-certsync run: %s\n", err.message);
        return 2;
    }
    if (help) {
        ctl_config_usage(stdout);
        return 0;
    }
    cs_json_init();
    cs_log_configure(cfg.log_level, cfg.log_format);

    int code = 2;
    struct k8s_config *kcfg = NULL;
    struct k8s_client *kube = NULL;
    struct elb_provider *provider = NULL;
    struct ctl_metrics *metrics = NULL;
    struct k8s_recorder *recorder = NULL;
    struct k8s_elector *elector = NULL;
    struct ctl_httpd *httpd = NULL;
    struct run_state st = {0};
    bool workers_done = true;

    /* Signals go to sigtimedwait in this thread only: block them before any thread starts. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct k8s_config_opts ko = {.kubeconfig = cfg.kubeconfig, .context = cfg.kube_context};
    if (k8s_config_load(&ko, &kcfg, &err) != CS_OK) {
        cs_log_error("cannot load the Kubernetes configuration", "error", err.message);
        goto out;
    }
    bool in_cluster = kcfg->origin && strcmp(kcfg->origin, "in-cluster") == 0;
    struct k8s_client_opts kopts = {.user_agent = "elb-certsync/" CS_VERSION_STRING};
    if (k8s_client_new(kcfg, &kopts, &kube, &err) != CS_OK) {
        cs_log_error("cannot create the Kubernetes client", "error", err.message);
        goto out;
    }

    if (!(metrics = ctl_metrics_new()))
        goto out;
    double req_buckets[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    st.m_requests = ctl_metrics_add(metrics, CTL_COUNTER, "elb_certsync_provider_requests_total",
                                    "Load-balancer API operations by operation and outcome.",
                                    "operation,outcome", NULL, 0);
    st.m_request_seconds =
        ctl_metrics_add(metrics, CTL_HISTOGRAM, "elb_certsync_provider_request_duration_seconds",
                        "Load-balancer API operation latency, retries included.", "operation",
                        req_buckets, sizeof(req_buckets) / sizeof(req_buckets[0]));
    st.m_leader = ctl_metrics_add(metrics, CTL_GAUGE, "elb_certsync_leader",
                                  "1 while this replica is the leader.", NULL, NULL, 0);
    ctl_metric_set(st.m_leader, NULL, 0);

    bool loose = false;
    struct elb_provider_config pc = {
        .kind = cfg.provider,
        .endpoint = cfg.endpoint,
        .region = cfg.region,
        .project_id = cfg.project_id,
        .credentials_file = cfg.credentials_file,
        .ca_file = cfg.provider_ca_file,
        .qps = cfg.provider_qps,
        .burst = cfg.provider_burst,
        .timeout_ms = (long)cfg.provider_timeout_ms,
        .max_retries = -1,
        .observe = observe_provider,
        .observe_ud = &st,
        .loose_permissions = &loose,
    };
    if (elb_provider_new(&pc, &provider, &err) != CS_OK) {
        cs_log_error("cannot create the load-balancer provider", "provider", cfg.provider,
                     "error", err.message);
        goto out;
    }
    if (loose)
        cs_log_warn("the credentials file is readable by group or others: restrict it to its "
                    "owner (chmod 600)",
                    "file", cfg.credentials_file);

    char identity[256];
    if (cfg.identity)
        snprintf(identity, sizeof(identity), "%s", cfg.identity);
    else
        default_identity(identity, sizeof(identity));
    struct k8s_recorder_opts ro = {.component = "elb-certsync", .instance = identity};
    if (k8s_recorder_new(kube, &ro, &recorder, &err) != CS_OK) {
        cs_log_error("cannot create the Event recorder", "error", err.message);
        goto out;
    }

    struct ctl_controller_opts co = {
        .cfg = &cfg, .kube = kube, .provider = provider, .metrics = metrics, .recorder = recorder};
    if (ctl_controller_new(&co, &st.ctl, &err) != CS_OK) {
        cs_log_error("cannot create the controller", "error", err.message);
        goto out;
    }

    bool leader_elect = cfg.leader_elect == CTL_ON || (cfg.leader_elect == CTL_AUTO && in_cluster);
    if (leader_elect) {
        const char *lease_ns = cfg.lease_namespace ? cfg.lease_namespace
                                                   : (in_cluster ? k8s_client_namespace(kube)
                                                                 : "default");
        struct k8s_elector_opts eo = {
            .ns = lease_ns,
            .name = cfg.lease_name,
            .identity = identity,
            .lease_duration_ms = cfg.lease_duration_ms,
            .renew_deadline_ms = cfg.renew_deadline_ms,
            .retry_period_ms = cfg.retry_period_ms,
            .on_started_leading = on_started_leading,
            .on_stopped_leading = on_stopped_leading,
            .ud = &st,
        };
        if (k8s_elector_new(kube, &eo, &elector, &err) != CS_OK) {
            cs_log_error("cannot create the leader elector", "error", err.message);
            goto out;
        }
    }

    /* From here on, failures are runtime ones. */
    code = 1;
    struct ctl_httpd_opts ho = {.addr = cfg.metrics_addr, .metrics = metrics, .ready = probe_ready,
                                .ud = &st};
    if (ctl_httpd_start(&ho, &httpd, &err) != CS_OK) {
        cs_log_error("cannot serve health and metrics", "addr", cfg.metrics_addr, "error",
                     err.message);
        goto out;
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", ctl_httpd_port(httpd));
    cs_log_info("starting", "version", CS_VERSION_STRING, "cluster_id", cfg.cluster_id,
                "provider", cfg.provider, "region", cfg.region, "ingress_class",
                cfg.ingress_class, "namespace", cfg.namespace_ ? cfg.namespace_ : "(all)",
                "kubernetes", kcfg->server, "metrics_port", port, "leader_elect",
                leader_elect ? "true" : "false", "identity", identity, "dry_run",
                cfg.dry_run ? "true" : "false");

    if (ctl_controller_start_informers(st.ctl, &err) != CS_OK) {
        cs_log_error("cannot start watching the cluster", "error", err.message);
        goto out;
    }
    if (elector && k8s_elector_start(elector, &err) != CS_OK) {
        cs_log_error("cannot start leader election", "error", err.message);
        goto out;
    }
    if (!elector) {
        atomic_store(&st.elected, true);
        ctl_metric_set(st.m_leader, NULL, 1);
    }

    /* The main loop: signals, and starting work once elected AND the caches are synced (a
     * reconcile against an empty store would see no Ingress and undo everything). */
    bool synced = false, working = false;
    uint64_t last_wait_log = cs_now_ms();
    code = 0;
    for (;;) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000000L};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT) {
            cs_log_info("signal received: shutting down", "signal",
                        sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (atomic_load(&st.lost)) {
            cs_log_error("leadership lost: exiting so that this replica restarts as a candidate");
            code = 1;
            break;
        }
        if (!synced) {
            synced = ctl_controller_wait_synced(st.ctl, 0);
            if (synced) {
                cs_log_info("caches synced");
            } else if (cs_now_ms() - last_wait_log > SYNC_LOG_INTERVAL_MS) {
                cs_log_info("waiting for the first list of Ingresses and Secrets");
                last_wait_log = cs_now_ms();
            }
        }
        if (synced && !working && atomic_load(&st.elected)) {
            ctl_controller_start_leading(st.ctl);
            working = true;
        }
    }

    /* Shutdown: finish reconciles in flight (bounded), then release the lease — only when
     * nothing is still writing, or a successor could act while a write of ours lands. */
    workers_done = ctl_controller_stop_leading(st.ctl, cfg.shutdown_grace_ms);
    if (elector) {
        if (workers_done) {
            k8s_elector_stop(elector);
        } else {
            cs_log_warn("not releasing the lease: a reconcile is still in flight; the next "
                        "leader takes over when the lease expires");
        }
    }
    ctl_controller_stop_informers(st.ctl);
    if (recorder)
        k8s_recorder_flush(recorder, EVENT_FLUSH_MS);
    cs_log_info("stopped");
out:
    if (!workers_done) {
        /* Threads still hold the controller: leave the rest to process exit. */
        fflush(NULL);
        _exit(code);
    }
    ctl_httpd_stop(httpd);
    if (elector && workers_done)
        k8s_elector_free(elector);
    ctl_controller_free(st.ctl);
    k8s_recorder_free(recorder);
    elb_provider_free(provider);
    ctl_metrics_free(metrics);
    k8s_client_free(kube);
    k8s_config_free(kcfg);
    ctl_config_cleanup(&cfg);
    return code;
}
