/* reconcile.c -- one listener: desired → view → plan → execute, with Events and metrics. */
#include "controller/reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "controller/certcheck.h"
#include "controller/naming.h"
#include "controller/objects.h"
#include "controller/plan.h"

#define REQUEUE_IN_USE_MS 30000     /* a delete refused because still bound: look again */
#define REQUEUE_SECRET_MOVED_MS 1000 /* the Secret changed since the plan: the store follows */

bool ctl_listener_key_parse(const char *key, char *region, size_t region_size, char *lb_id,
                            size_t lb_size, char *listener_id, size_t lid_size, int *port)
{
    const char *s1 = strchr(key, '/');
    const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2 || strchr(s2 + 1, '/'))
        return false;
    size_t rn = (size_t)(s1 - key), ln = (size_t)(s2 - s1 - 1);
    if (rn == 0 || rn >= region_size || ln == 0 || ln >= lb_size)
        return false;
    memcpy(region, key, rn);
    region[rn] = '\0';
    memcpy(lb_id, s1 + 1, ln);
    lb_id[ln] = '\0';
    const char *rest = s2 + 1;
    listener_id[0] = '\0';
    *port = 0;
    if (strncmp(rest, "listener:", 9) == 0) {
        size_t n = strlen(rest + 9);
        if (n == 0 || n >= lid_size)
            return false;
        memcpy(listener_id, rest + 9, n + 1);
        return true;
    }
    if (strncmp(rest, "port:", 5) == 0) {
        /* Canonical digits only (no sign, space or leading zero): keys are compared as text. */
        const char *d = rest + 5;
        if (*d < '1' || *d > '9' || strspn(d, "0123456789") != strlen(d) || strlen(d) > 5)
            return false;
        long p = strtol(d, NULL, 10);
        if (p > 65535)
            return false;
        *port = (int)p;
        return true;
    }
    return false;
}

static void count(struct ctl_metric *m, const char *a, const char *b)
{
    const char *v[] = {a, b};
    ctl_metric_inc(m, v, 1);
}

static const struct ctl_ingress *find_ingress(const struct ctl_ingress *ings, size_t n,
                                              const char *ns_name)
{
    const char *slash = strchr(ns_name, '/');
    if (!slash)
        return NULL;
    size_t nsl = (size_t)(slash - ns_name);
    for (size_t i = 0; i < n; i++)
        if (strlen(ings[i].ns) == nsl && strncmp(ings[i].ns, ns_name, nsl) == 0 &&
            strcmp(ings[i].name, slash + 1) == 0)
            return &ings[i];
    return NULL;
}

static bool want_has_ingress(const struct ctl_listener_want *w, const char *ns, const char *name)
{
    for (size_t i = 0; w && i < w->n_ingresses; i++) {
        const char *s = w->ingresses[i];
        size_t nsl = strlen(ns);
        if (strncmp(s, ns, nsl) == 0 && s[nsl] == '/' && strcmp(s + nsl + 1, name) == 0)
            return true;
    }
    return false;
}

/* Every Ingress of the listener gets the Event. */
static void emit_listener(struct ctl_reconciler *r, const struct ctl_listener_want *w,
                          const struct ctl_ingress *ings, size_t n, const char *type,
                          const char *reason, const char *msg)
{
    for (size_t i = 0; w && i < w->n_ingresses; i++) {
        const struct ctl_ingress *ing = find_ingress(ings, n, w->ingresses[i]);
        if (ing && r->emit)
            r->emit(r->emit_ud, ing->ns, ing->name, ing->uid, type, reason, msg);
    }
}

/* Problems become Warning Events on their Ingress (when it is one of this listener's), else
 * a log line. */
static void report_problems(struct ctl_reconciler *r, const char *key,
                            const struct ctl_problems *p, const struct ctl_listener_want *w,
                            const struct ctl_ingress *ings, size_t n)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct ctl_problem *pr = &p->items[i];
        const char *reason = ctl_problem_reason(pr->kind);
        bool mine = pr->listener ? strcmp(pr->listener, key) == 0
                                 : (pr->ingress_ns && want_has_ingress(w, pr->ingress_ns,
                                                                       pr->ingress_name));
        if (!mine)
            continue;
        const char *v[] = {reason};
        ctl_metric_inc(r->m.problems, v, 1);
        if (pr->ingress_ns && pr->ingress_name) {
            const struct ctl_ingress *ing = NULL;
            for (size_t j = 0; j < n && !ing; j++)
                if (strcmp(ings[j].ns, pr->ingress_ns) == 0 &&
                    strcmp(ings[j].name, pr->ingress_name) == 0)
                    ing = &ings[j];
            if (ing && r->emit)
                r->emit(r->emit_ud, ing->ns, ing->name, ing->uid, "Warning", reason, pr->message);
        } else if (w) {
            emit_listener(r, w, ings, n, "Warning", reason, pr->message);
        } else if (r->former && r->emit) {
            /* No Ingress needs the listener any more: the Event goes to the last one that
             * did (kubectl get events shows it after the Ingress is gone). */
            char ns[256], name[256], uid[128];
            if (r->former(r->former_ud, key, ns, sizeof(ns), name, sizeof(name), uid,
                          sizeof(uid)))
                r->emit(r->emit_ud, ns, name, uid, "Warning", reason, pr->message);
        }
        cs_log_warn(pr->message, "listener", key, "reason", reason, "ingress",
                    pr->ingress_name ? pr->ingress_name : "", "namespace",
                    pr->ingress_ns ? pr->ingress_ns : "");
    }
}

struct created {
    char *name;
    char *id;
};

struct exec {
    struct ctl_reconciler *r;
    const struct ctl_settings *s;
    const char *region;
    const char *key;
    struct ctl_pcache_slice *slice;
    struct created *made;
    size_t n_made;
    size_t writes;
    bool in_use_refusal;
    bool record_pending;
    char record[2 * CTL_ID_MAX + 2];
};

static const char *resolve(const struct exec *x, const struct ctl_cert_ref *ref)
{
    if (ref->id)
        return ref->id;
    for (size_t i = 0; ref->name && i < x->n_made; i++)
        if (strcmp(x->made[i].name, ref->name) == 0)
            return x->made[i].id;
    return NULL;
}

/* Fetches the Secret again and checks it still is what the plan was made for. */
static enum cs_code fetch_material(struct exec *x, const struct ctl_action *a, struct cs_buf *crt,
                                   struct cs_buf *key, struct cs_err *err)
{
    cJSON *sec = NULL;
    enum cs_code rc = k8s_get(x->r->kube, &k8s_res_secrets, a->secret_ns, a->secret_name, &sec,
                              err);
    if (rc != CS_OK) {
        cs_err_prefix(err, "get Secret %s/%s", a->secret_ns, a->secret_name);
        return rc;
    }
    rc = ctl_secret_material(sec, crt, key, err);
    cJSON_Delete(sec);
    if (rc != CS_OK)
        return rc;
    struct ctl_certcheck cc;
    memset(&cc, 0, sizeof(cc));
    rc = ctl_certcheck_run(crt->ptr ? crt->ptr : "", crt->len, key->ptr ? key->ptr : "", key->len,
                           &x->s->limits, x->s->now_ms, &cc, err);
    if (rc == CS_OK && (cc.status != CTL_CERT_OK || strcmp(cc.fingerprint, a->fingerprint) != 0))
        rc = cs_err_set(err, CS_ECONFLICT, 0, "Secret %s/%s changed since the plan was made",
                        a->secret_ns, a->secret_name);
    ctl_certcheck_cleanup(&cc);
    return rc;
}

static enum cs_code exec_create(struct exec *x, const struct ctl_action *a, struct cs_err *err)
{
    struct elb_cert_spec spec = {
        .name = a->name,
        .description = a->description,
        .protection_reason = x->r->protection_reason,
        .imported_id = a->imported_id,
    };
    struct cs_buf crt, key;
    cs_buf_init_secret(&crt, 1024 * 1024);
    cs_buf_init_secret(&key, 1024 * 1024);
    struct elb_cert made;
    memset(&made, 0, sizeof(made));
    enum cs_code rc = CS_OK;
    if (!a->imported_id) {
        if ((rc = fetch_material(x, a, &crt, &key, err)) != CS_OK)
            goto out;
        spec.certificate_pem = cs_buf_str(&crt);
        spec.private_key_pem = cs_buf_str(&key);
    }
    x->writes++;
    rc = elb_create_cert(x->r->provider, x->region, &spec, &made, err);
    if (rc != CS_OK) {
        cs_err_prefix(err, "create certificate %s", a->name);
        goto out;
    }
    struct created *grown = realloc(x->made, (x->n_made + 1) * sizeof(*grown));
    if (!grown) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    x->made = grown;
    x->made[x->n_made].name = strdup(a->name);
    x->made[x->n_made].id = strdup(made.id ? made.id : "");
    x->n_made++;
    ctl_pcache_put_cert(x->r->pcache, x->region, &made);
    cs_log_info("certificate created", "listener", x->key, "name", a->name, "id", made.id,
                "secret", a->secret_name ? a->secret_name : "", "namespace",
                a->secret_ns ? a->secret_ns : "", "imported", a->imported_id, "why", a->why);
out:
    elb_cert_cleanup(&made);
    cs_buf_free(&crt);
    cs_buf_free(&key);
    return rc;
}

static enum cs_code exec_set(struct exec *x, const struct ctl_action *a, struct cs_err *err)
{
    const char *def = resolve(x, &a->default_cert);
    const char **sni = calloc(a->n_sni ? a->n_sni : 1, sizeof(*sni));
    if (!sni)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    enum cs_code rc = CS_OK;
    if (!def) {
        rc = cs_err_set(err, CS_EINVAL, 0, "plan names certificate %s, which was not created",
                        a->default_cert.name ? a->default_cert.name : "?");
        goto out;
    }
    for (size_t i = 0; i < a->n_sni; i++) {
        if (!(sni[i] = resolve(x, &a->sni[i]))) {
            rc = cs_err_set(err, CS_EINVAL, 0, "plan names SNI certificate %s, not created",
                            a->sni[i].name ? a->sni[i].name : "?");
            goto out;
        }
    }
    x->writes++;
    rc = elb_set_listener_certs(x->r->provider, x->region, &x->slice->listener, def, sni,
                                a->n_sni, err);
    if (rc == CS_ENOTFOUND)
        ctl_pcache_forget_listener(x->r->pcache, x->region, x->slice->listener.id);
    if (rc != CS_OK) {
        cs_err_prefix(err, "bind listener %s", x->slice->listener.id);
        goto out;
    }
    ctl_pcache_set_bindings(x->r->pcache, x->region, x->slice->listener.id, def, sni, a->n_sni);
    char n_sni[16];
    snprintf(n_sni, sizeof(n_sni), "%zu", a->n_sni);
    cs_log_info(a->kind == CTL_ACT_RESTORE ? "listener default restored" : "listener bound",
                "listener", x->key, "listener_id", x->slice->listener.id, "default", def, "sni",
                n_sni, "previous_default", x->slice->listener.default_cert_id, "why", a->why);
out:
    free(sni);
    return rc;
}

static enum cs_code exec_action(struct exec *x, const struct ctl_action *a, struct cs_err *err)
{
    struct ctl_reconciler *r = x->r;
    enum cs_code rc;
    switch (a->kind) {
    case CTL_ACT_CREATE:
        return exec_create(x, a, err);
    case CTL_ACT_RENAME:
        x->writes++;
        rc = elb_rename_cert(r->provider, x->region, a->cert_id, a->name, err);
        if (rc == CS_OK) {
            ctl_pcache_rename_cert(r->pcache, x->region, a->cert_id, a->name);
            cs_log_info("certificate renamed back", "listener", x->key, "id", a->cert_id, "name",
                        a->name, "why", a->why);
        }
        return rc;
    case CTL_ACT_RECORD_REPLACED:
        /* "<replaced>" or "<replaced> <selected default bound>" (plan.c reads it back),
         * written once the whole plan succeeded: a record means the binding happened. */
        if (a->default_cert.id)
            snprintf(x->record, sizeof(x->record), "%s %s", a->cert_id, a->default_cert.id);
        else
            snprintf(x->record, sizeof(x->record), "%s", a->cert_id);
        x->record_pending = true;
        return CS_OK;
    case CTL_ACT_FORGET_REPLACED:
        return r->record_set ? r->record_set(r->record_ud, x->key, NULL) : CS_OK;
    case CTL_ACT_SET_LISTENER:
    case CTL_ACT_RESTORE:
        return exec_set(x, a, err);
    case CTL_ACT_DELETE:
        x->writes++;
        rc = elb_delete_cert(r->provider, x->region, a->cert_id, err);
        if (rc == CS_OK || rc == CS_ENOTFOUND) {
            ctl_pcache_remove_cert(r->pcache, x->region, a->cert_id);
            cs_log_info("certificate deleted", "listener", x->key, "id", a->cert_id, "name",
                        a->name, "why", a->why);
            return CS_OK;
        }
        if (rc == CS_EINUSE) {
            /* Still bound somewhere in the provider's view: never forced, looked at later. */
            x->in_use_refusal = true;
            cs_log_info("certificate still in use: delete deferred", "listener", x->key, "id",
                        a->cert_id, "name", a->name);
            return CS_OK;
        }
        return rc;
    }
    return cs_err_set(err, CS_EINVAL, 0, "unknown action");
}

static void log_plan(const char *key, const struct ctl_plan *plan, bool dry_run)
{
    for (size_t i = 0; i < plan->n; i++) {
        const struct ctl_action *a = &plan->actions[i];
        char n_sni[16];
        snprintf(n_sni, sizeof(n_sni), "%zu", a->n_sni);
        cs_log_kv(dry_run ? CS_LOG_INFO : CS_LOG_DEBUG, dry_run ? "dry-run: would" : "plan",
                  "listener", key, "action", ctl_action_kind_name(a->kind), "why", a->why,
                  "name", a->name, "id", a->cert_id, "default",
                  a->default_cert.id ? a->default_cert.id : a->default_cert.name, "sni",
                  (a->kind == CTL_ACT_SET_LISTENER || a->kind == CTL_ACT_RESTORE) ? n_sni : NULL,
                  (const char *)NULL);
    }
}

/* Turns a failure into what the queue should do, and Events where a person must act. */
static void classify(struct ctl_reconciler *r, const struct cs_err *e,
                     const struct ctl_listener_want *w, const struct ctl_ingress *ings, size_t n,
                     struct ctl_reconcile_result *out)
{
    out->err = *e;
    switch (e->code) {
    case CS_ETHROTTLED:
        out->status = e->retry_after_ms > 0 ? CTL_RECONCILE_REQUEUE : CTL_RECONCILE_RETRY;
        out->retry_after_ms = (uint64_t)e->retry_after_ms;
        break;
    case CS_ECONFLICT:
        out->status = CTL_RECONCILE_REQUEUE;
        out->retry_after_ms = REQUEUE_SECRET_MOVED_MS;
        break;
    case CS_EQUOTA:
        emit_listener(r, w, ings, n, "Warning", "QuotaExceeded", e->message);
        out->status = CTL_RECONCILE_RETRY;
        break;
    case CS_EINVAL:
        emit_listener(r, w, ings, n, "Warning", "ProviderRejected", e->message);
        out->status = CTL_RECONCILE_GIVE_UP;
        break;
    default:
        if (e->code == CS_EAUTH || e->code == CS_ENOTFOUND)
            emit_listener(r, w, ings, n, "Warning", "ProviderError", e->message);
        out->status = CTL_RECONCILE_RETRY;
    }
}

static void finish(struct ctl_reconciler *r, uint64_t t0, struct ctl_reconcile_result *out)
{
    static const char *const names[] = {"success", "requeue", "error", "gave_up"};
    const char *v[] = {names[out->status]};
    ctl_metric_inc(r->m.reconciles, v, 1);
    ctl_metric_observe(r->m.duration, NULL, (double)(cs_now_ms() - t0) / 1000.0);
}

void ctl_reconcile_listener(struct ctl_reconciler *r, const struct ctl_settings *settings,
                            const char *key, const struct ctl_ingress *ings, size_t n_ings,
                            ctl_secret_lookup_fn lookup, void *lookup_ud,
                            struct ctl_reconcile_result *out)
{
    uint64_t t0 = cs_now_ms();
    memset(out, 0, sizeof(*out));
    struct ctl_desired *desired = NULL;
    struct ctl_plan *plan = NULL;
    struct ctl_pcache_slice slice;
    memset(&slice, 0, sizeof(slice));
    struct exec x = {.r = r, .s = settings, .key = key, .slice = &slice};
    struct cs_err e;
    cs_err_clear(&e);

    char region[128], lb[160], lid[160];
    int port;
    if (!ctl_listener_key_parse(key, region, sizeof(region), lb, sizeof(lb), lid, sizeof(lid),
                                &port)) {
        cs_err_set(&out->err, CS_EINVAL, 0, "malformed listener key %s", key);
        out->status = CTL_RECONCILE_GIVE_UP;
        goto done;
    }
    x.region = region;

    if (ctl_desired_compute(settings, ings, n_ings, lookup, lookup_ud, &desired, &e) != CS_OK) {
        classify(r, &e, NULL, ings, n_ings, out);
        goto done;
    }
    const struct ctl_listener_want *want = ctl_desired_find(desired, key);
    report_problems(r, key, &desired->problems, want, ings, n_ings);

    const char *record = r->record_get ? r->record_get(r->record_ud, key) : NULL;
    if (ctl_pcache_slice_extra(r->pcache, region, lb, lid[0] ? lid : NULL, port, want, record,
                               &slice, &e) != CS_OK) {
        if (e.code == CS_ENOTFOUND) {
            char msg[600];
            if (lid[0])
                snprintf(msg, sizeof(msg), "no HTTPS listener %.150s on load balancer %.150s in "
                         "region %.100s", lid, lb, region);
            else
                snprintf(msg, sizeof(msg), "no HTTPS listener on port %d of load balancer %.150s "
                         "in region %.100s", port, lb, region);
            emit_listener(r, want, ings, n_ings, "Warning", "ListenerNotFound", msg);
            out->err = e;
            out->status = CTL_RECONCILE_RETRY;
        } else {
            classify(r, &e, want, ings, n_ings, out);
        }
        goto done;
    }

    struct ctl_plan_input in = {
        .settings = settings,
        .desired = desired,
        .region = region,
        .listener_key = key,
        .listener = &slice.listener,
        .certs = &slice.certs,
        .listeners = &slice.listeners,
        .replaced_default = record,
    };
    if (ctl_plan_listener(&in, &plan, &e) != CS_OK) {
        classify(r, &e, want, ings, n_ings, out);
        goto done;
    }
    report_problems(r, key, &plan->problems, want, ings, n_ings);
    out->actions = plan->n;
    log_plan(key, plan, r->dry_run);
    if (plan->n == 0 || r->dry_run) {
        out->status = CTL_RECONCILE_DONE;
        goto done;
    }

    bool bound = false, rotated = false;
    enum cs_code rc_rec;
    for (size_t i = 0; i < plan->n; i++) {
        const struct ctl_action *a = &plan->actions[i];
        cs_err_clear(&e);
        enum cs_code rc = exec_action(&x, a, &e);
        count(r->m.actions, ctl_action_kind_name(a->kind), rc == CS_OK ? "ok" : cs_code_name(rc));
        if (rc != CS_OK) {
            cs_log_warn("action failed", "listener", key, "action",
                        ctl_action_kind_name(a->kind), "error", e.message, "code",
                        cs_code_name(e.code), "provider_code", e.provider_code);
            classify(r, &e, want, ings, n_ings, out);
            goto done;
        }
        if (a->kind == CTL_ACT_SET_LISTENER) {
            bound = true;
            rotated = rotated || (a->why && strcmp(a->why, "rotation") == 0);
        }
    }
    if (x.record_pending && r->record_set &&
        (rc_rec = r->record_set(r->record_ud, key, x.record)) != CS_OK)
        cs_log_warn("cannot keep the replaced-default record", "listener", key, "code",
                    cs_code_name(rc_rec));
    if (bound) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s listener %s of load balancer %s (%s)",
                 rotated ? "rotated the certificates of" : "bound the certificates of",
                 slice.listener.id, lb, region);
        emit_listener(r, want, ings, n_ings, "Normal",
                      rotated ? "CertificateRotated" : "CertificateBound", msg);
    }
    if (x.in_use_refusal) {
        out->status = CTL_RECONCILE_REQUEUE;
        out->retry_after_ms = REQUEUE_IN_USE_MS;
    } else {
        out->status = CTL_RECONCILE_DONE;
    }
done:
    out->writes = x.writes;
    for (size_t i = 0; i < x.n_made; i++) {
        free(x.made[i].name);
        free(x.made[i].id);
    }
    free(x.made);
    ctl_plan_free(plan);
    ctl_desired_free(desired);
    ctl_pcache_slice_cleanup(&slice);
    finish(r, t0, out);
}

void ctl_reconcile_gc(struct ctl_reconciler *r, const struct ctl_settings *settings,
                      const char *region, const struct ctl_ingress *ings, size_t n_ings,
                      ctl_secret_lookup_fn lookup, void *lookup_ud,
                      struct ctl_reconcile_result *out)
{
    uint64_t t0 = cs_now_ms();
    memset(out, 0, sizeof(*out));
    struct ctl_desired *desired = NULL;
    struct ctl_plan *plan = NULL;
    struct elb_cert_list certs = {0};
    struct elb_listener_list ls = {0};
    struct cs_err e;
    cs_err_clear(&e);
    struct exec x = {.r = r, .s = settings, .key = region, .region = region};
    if (ctl_desired_compute(settings, ings, n_ings, lookup, lookup_ud, &desired, &e) != CS_OK ||
        ctl_pcache_region_copy(r->pcache, region, &certs, &ls, &e) != CS_OK ||
        ctl_plan_gc(settings, desired, region, &certs, &ls, &plan, &e) != CS_OK) {
        classify(r, &e, NULL, ings, n_ings, out);
        goto done;
    }
    out->actions = plan->n;
    log_plan(region, plan, r->dry_run);
    for (size_t i = 0; !r->dry_run && i < plan->n; i++) {
        cs_err_clear(&e);
        enum cs_code rc = exec_action(&x, &plan->actions[i], &e);
        count(r->m.actions, ctl_action_kind_name(plan->actions[i].kind),
              rc == CS_OK ? "ok" : cs_code_name(rc));
        if (rc != CS_OK) {
            classify(r, &e, NULL, ings, n_ings, out);
            goto done;
        }
    }
    out->status = x.in_use_refusal ? CTL_RECONCILE_REQUEUE : CTL_RECONCILE_DONE;
    out->retry_after_ms = x.in_use_refusal ? REQUEUE_IN_USE_MS : 0;
done:
    out->writes = x.writes;
    ctl_plan_free(plan);
    ctl_desired_free(desired);
    elb_cert_list_cleanup(&certs);
    elb_listener_list_cleanup(&ls);
    finish(r, t0, out);
}
