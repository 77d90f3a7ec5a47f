/* faults.c -- fault settings and request counters of fake-elb (the /_fake/faults and
 * /_fake/stats endpoints). Callers hold the server lock. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "tests/fakes/elb/fake_elb.h"

static const char *cloud_name(enum fe_cloud c)
{
    return c == FE_HUAWEI ? "huawei" : "ucloud";
}

void fe_stats_cleanup(struct fe_stats *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = 0; j < s->items[i].n_outcomes; j++)
            free(s->items[i].outcomes[j].outcome);
        free(s->items[i].outcomes);
        free(s->items[i].op);
    }
    free(s->items);
    memset(s, 0, sizeof(*s));
}

/* Counting must never fail a request: on allocation failure the count is lost, nothing else. */
void fe_stats_count(struct fe_stats *s, enum fe_cloud cloud, const char *op, const char *outcome)
{
    struct fe_stat *st = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].cloud == cloud && strcmp(s->items[i].op, op) == 0)
            st = &s->items[i];
    if (!st) {
        struct fe_stat *items = realloc(s->items, (s->n + 1) * sizeof(*items));
        if (!items)
            return;
        s->items = items;
        st = &s->items[s->n];
        memset(st, 0, sizeof(*st));
        st->cloud = cloud;
        if (!(st->op = strdup(op)))
            return;
        s->n++;
    }
    st->count++;
    for (size_t j = 0; j < st->n_outcomes; j++) {
        if (strcmp(st->outcomes[j].outcome, outcome) == 0) {
            st->outcomes[j].count++;
            return;
        }
    }
    struct fe_stat_outcome *o = realloc(st->outcomes, (st->n_outcomes + 1) * sizeof(*o));
    if (!o)
        return;
    st->outcomes = o;
    if (!(o[st->n_outcomes].outcome = strdup(outcome)))
        return;
    o[st->n_outcomes].count = 1;
    st->n_outcomes++;
}

/* {"huawei": {"Op": N}, "ucloud": {...}, "outcomes": {"huawei": {"Op": {"ok": N, "ELB.8902": M}}}} */
cJSON *fe_stats_to_json(const struct fe_stats *s)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *outcomes = cJSON_AddObjectToObject(root, "outcomes");
    cJSON *by_cloud[2], *out_cloud[2];
    for (int c = 0; c < 2; c++) {
        by_cloud[c] = cJSON_AddObjectToObject(root, cloud_name((enum fe_cloud)c));
        out_cloud[c] = cJSON_AddObjectToObject(outcomes, cloud_name((enum fe_cloud)c));
    }
    if (!root || !outcomes || !by_cloud[0] || !by_cloud[1] || !out_cloud[0] || !out_cloud[1])
        goto fail;
    for (size_t i = 0; i < s->n; i++) {
        const struct fe_stat *st = &s->items[i];
        if (!cJSON_AddNumberToObject(by_cloud[st->cloud], st->op, (double)st->count))
            goto fail;
        cJSON *o = cJSON_AddObjectToObject(out_cloud[st->cloud], st->op);
        if (!o)
            goto fail;
        for (size_t j = 0; j < st->n_outcomes; j++)
            if (!cJSON_AddNumberToObject(o, st->outcomes[j].outcome,
                                         (double)st->outcomes[j].count))
                goto fail;
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

static enum cs_code rate(const cJSON *j, const char *key, double *out, struct cs_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v)
        return CS_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 1)
        return cs_err_set(err, CS_EINVAL, 400, "%s must be a number in [0, 1]", key);
    *out = v->valuedouble;
    return CS_OK;
}

enum cs_code fe_faults_from_json(const cJSON *j, struct fe_faults *f, struct cs_err *err)
{
    if (!cJSON_IsObject(j))
        return cs_err_set(err, CS_EINVAL, 400, "faults must be a JSON object");
    struct fe_faults t = *f;
    static const char *const known[] = {"latency_ms", "error_500_rate", "throttle_rate",
                                        "lost_response_rate"};
    for (const cJSON *it = j->child; it; it = it->next) {
        bool ok = false;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            ok = ok || (it->string && strcmp(it->string, known[k]) == 0);
        if (!ok)
            return cs_err_set(err, CS_EINVAL, 400, "unknown fault field");
    }
    const cJSON *lat = cJSON_GetObjectItemCaseSensitive(j, "latency_ms");
    if (lat) {
        /* bounded so that a stuck setting cannot hold shutdown for long */
        if (!cJSON_IsNumber(lat) || !isfinite(lat->valuedouble) || lat->valuedouble < 0 ||
            lat->valuedouble > 60000)
            return cs_err_set(err, CS_EINVAL, 400, "latency_ms must be a number in [0, 60000]");
        t.latency_ms = (uint64_t)lat->valuedouble;
    }
    enum cs_code rc;
    if ((rc = rate(j, "error_500_rate", &t.error_500_rate, err)) != CS_OK ||
        (rc = rate(j, "throttle_rate", &t.throttle_rate, err)) != CS_OK ||
        (rc = rate(j, "lost_response_rate", &t.lost_response_rate, err)) != CS_OK)
        return rc;
    *f = t;
    return CS_OK;
}

cJSON *fe_faults_to_json(const struct fe_faults *f)
{
    cJSON *j = cJSON_CreateObject();
    if (!j || !cJSON_AddNumberToObject(j, "latency_ms", (double)f->latency_ms) ||
        !cJSON_AddNumberToObject(j, "error_500_rate", f->error_500_rate) ||
        !cJSON_AddNumberToObject(j, "throttle_rate", f->throttle_rate) ||
        !cJSON_AddNumberToObject(j, "lost_response_rate", f->lost_response_rate)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}
