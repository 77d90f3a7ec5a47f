/* server.c -- fake-elb's request handler: routes a request to the control endpoints
 * (/_fake/...), the Huawei ELB v3 API (/v3/...) or the UCloud API (/), applies the injected
 * faults (to the cloud APIs only) and counts every cloud request by operation and outcome.
 * One lock guards the state, the counters and the fault settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/util.h"
#include "tests/fakes/elb/fake_elb.h"

void fe_response_init(struct fe_response *r)
{
    memset(r, 0, sizeof(*r));
    cs_buf_init(&r->body, CS_BUF_DEFAULT_MAX);
    r->status = 500;
}

void fe_response_cleanup(struct fe_response *r)
{
    if (r)
        cs_buf_free(&r->body);
}

const char *fe_req_header(const struct fe_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (req->headers[i].name && strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value ? req->headers[i].value : "";
    return NULL;
}

enum cs_code fe_server_new(const char *seed_json, size_t len, const struct fe_faults *faults,
                           struct fe_server **out, struct cs_err *err)
{
    struct fe_server *s = calloc(1, sizeof(*s));
    enum cs_code rc;
    if (!s)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    if (faults)
        s->faults = *faults;
    s->seed = cJSON_ParseWithLength(seed_json ? seed_json : "{}", seed_json ? len : 2);
    if (!s->seed) {
        rc = cs_err_set(err, CS_EINVAL, 0, "seed: not valid JSON");
        goto fail;
    }
    if ((rc = fe_state_load(s->seed, &s->state, err)) != CS_OK)
        goto fail;
    *out = s;
    return CS_OK;
fail:
    fe_server_free(s);
    return rc;
}

void fe_server_free(struct fe_server *s)
{
    if (!s)
        return;
    fe_state_free(s->state);
    cJSON_Delete(s->seed);
    fe_stats_cleanup(&s->stats);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Answers a control endpoint with j (taken). */
static void json_reply(struct fe_response *resp, int status, cJSON *j)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    cs_buf_reset(&resp->body);
    if (!s || cs_buf_adds(&resp->body, s) != CS_OK) {
        cs_buf_reset(&resp->body);
        cs_buf_adds(&resp->body, "{\"error\":\"out of memory\"}");
        status = 500;
    }
    cJSON_free(s);
    resp->status = status;
}

static void ctl_error(struct fe_response *resp, int status, const char *msg)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    json_reply(resp, status, j);
}

static cJSON *status_ok(void)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "ok");
    return j;
}

static void handle_control(struct fe_server *s, const struct fe_request *req, const char *path,
                           struct fe_response *resp)
{
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
    struct cs_err err;
    cs_err_clear(&err);
    if (req->body_too_big)
        return ctl_error(resp, 413, "request body too large");
    if (strcmp(path, "/_fake/healthz") == 0) {
        if (!get)
            return ctl_error(resp, 405, "use GET");
        return json_reply(resp, 200, status_ok());
    }
    if (strcmp(path, "/_fake/state") == 0) {
        if (!get)
            return ctl_error(resp, 405, "use GET");
        pthread_mutex_lock(&s->lock);
        cJSON *j = fe_state_to_json(s->state);
        pthread_mutex_unlock(&s->lock);
        return json_reply(resp, 200, j);
    }
    if (strcmp(path, "/_fake/stats") == 0) {
        if (!get)
            return ctl_error(resp, 405, "use GET");
        pthread_mutex_lock(&s->lock);
        cJSON *j = fe_stats_to_json(&s->stats);
        pthread_mutex_unlock(&s->lock);
        return json_reply(resp, 200, j);
    }
    if (strcmp(path, "/_fake/stats/reset") == 0) {
        if (!post)
            return ctl_error(resp, 405, "use POST");
        pthread_mutex_lock(&s->lock);
        fe_stats_cleanup(&s->stats);
        pthread_mutex_unlock(&s->lock);
        return json_reply(resp, 200, status_ok());
    }
    if (strcmp(path, "/_fake/faults") == 0) {
        if (post) {
            cJSON *body = cJSON_ParseWithLength(req->body ? req->body : "", req->body_len);
            pthread_mutex_lock(&s->lock);
            enum cs_code rc = fe_faults_from_json(body, &s->faults, &err);
            pthread_mutex_unlock(&s->lock);
            cJSON_Delete(body);
            if (rc != CS_OK)
                return ctl_error(resp, 400, err.message);
        } else if (!get) {
            return ctl_error(resp, 405, "use GET or POST");
        }
        pthread_mutex_lock(&s->lock);
        cJSON *j = fe_faults_to_json(&s->faults);
        pthread_mutex_unlock(&s->lock);
        return json_reply(resp, 200, j);
    }
    if (strcmp(path, "/_fake/reset") == 0) {
        if (!post)
            return ctl_error(resp, 405, "use POST");
        struct fe_state *fresh = NULL;
        pthread_mutex_lock(&s->lock);
        enum cs_code rc = fe_state_load(s->seed, &fresh, &err);
        if (rc == CS_OK) {
            fe_state_free(s->state);
            s->state = fresh;
        }
        pthread_mutex_unlock(&s->lock);
        if (rc != CS_OK)
            return ctl_error(resp, 500, err.message);
        return json_reply(resp, 200, status_ok());
    }
    ctl_error(resp, 404, "no such control endpoint");
}

static bool roll(double rate)
{
    return rate > 0 && cs_rand_unit() < rate;
}

static void handle_huawei(struct fe_server *s, const struct fe_request *req, const char *path,
                          const char *query, struct fe_response *resp)
{
    const char *op = fe_hw_operation(req->method, path);
    const char *counted = op ? op : "Unknown";
    const char *outcome = "ok";
    fe_random_hex(resp->request_id, 32);

    pthread_mutex_lock(&s->lock);
    struct fe_faults f = s->faults;
    pthread_mutex_unlock(&s->lock);
    resp->delay_ms = f.latency_ms;

    if (req->body_too_big) {
        fe_hw_error(resp, 413, "APIGW.0201", "Request entity too large");
        outcome = "APIGW.0201";
    } else if (op && roll(f.throttle_rate)) {
        fe_hw_error(resp, 429, "APIGW.0308",
                    "The throttling threshold has been reached: policy user over ratelimit");
        outcome = "APIGW.0308";
    } else if (op && roll(f.error_500_rate)) {
        fe_hw_error(resp, 500, "ELB.9001", "Internal server error (injected)");
        outcome = "ELB.9001";
    }
    pthread_mutex_lock(&s->lock);
    if (!strcmp(outcome, "ok"))
        fe_hw_handle(s, req, path, query, op, resp, &outcome);
    if (op && !strcmp(outcome, "ok") && roll(f.lost_response_rate)) {
        resp->lose = true;
        outcome = "lost";
    }
    fe_stats_count(&s->stats, FE_HUAWEI, counted, outcome);
    pthread_mutex_unlock(&s->lock);
}

static void handle_ucloud(struct fe_server *s, const struct fe_request *req, const char *query,
                          struct fe_response *resp)
{
    struct fe_params params = {0};
    char outcome[16] = "ok";
    const char *action = "";
    const char *counted = "Unknown";
    int retcode = 0;
    bool parsed = false;

    pthread_mutex_lock(&s->lock);
    struct fe_faults f = s->faults;
    pthread_mutex_unlock(&s->lock);
    resp->delay_ms = f.latency_ms;

    if (req->body_too_big) {
        fe_uc_error(resp, 413, "", 230, "request body too large");
        retcode = 230;
    } else if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0) {
        fe_uc_error(resp, 405, "", 230, "use GET or POST");
        retcode = 230;
    } else if (fe_uc_params(req, query, &params) != CS_OK) {
        fe_uc_error(resp, 200, "", 230, "Params not available: malformed request parameters");
        retcode = 230;
    } else {
        parsed = true;
        action = fe_params_get(&params, "Action");
        action = action ? action : "";
        if (fe_uc_known_action(action))
            counted = action;
        if (*action && roll(f.throttle_rate)) {
            fe_uc_error(resp, 200, action, 153, "API 请求被限流 (throttled)");
            retcode = 153;
        } else if (*action && roll(f.error_500_rate)) {
            fe_uc_error(resp, 500, action, 150, "服务目前不可用 (service unavailable, injected)");
            retcode = 150;
        }
    }
    pthread_mutex_lock(&s->lock);
    if (retcode == 0 && parsed)
        fe_uc_handle(s, req, &params, resp, &retcode);
    if (retcode != 0)
        snprintf(outcome, sizeof(outcome), "%d", retcode);
    else if (fe_uc_known_action(action) && roll(f.lost_response_rate)) {
        resp->lose = true;
        snprintf(outcome, sizeof(outcome), "lost");
    }
    fe_stats_count(&s->stats, FE_UCLOUD, counted, outcome);
    pthread_mutex_unlock(&s->lock);
    fe_params_free(&params);
}

void fe_server_handle(struct fe_server *s, const struct fe_request *req, struct fe_response *resp)
{
    const char *target = req->target ? req->target : "";
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : strlen(target);
    const char *query = q ? q + 1 : "";
    char *path = NULL;
    cs_buf_reset(&resp->body);
    resp->status = 500;
    resp->lose = false;
    resp->delay_ms = 0;
    resp->request_id[0] = '\0';
    if (!req->method || fe_url_decode(target, plen, false, &path) != CS_OK) {
        fe_random_hex(resp->request_id, 32);
        fe_hw_error(resp, 400, "APIGW.0201", "API request error: malformed request target");
        return;
    }
    if (strncmp(path, "/_fake/", 7) == 0)
        handle_control(s, req, path, resp);
    else if (strncmp(path, "/v3/", 4) == 0)
        handle_huawei(s, req, path, query, resp);
    else if (strcmp(path, "/") == 0)
        handle_ucloud(s, req, query, resp);
    else {
        fe_random_hex(resp->request_id, 32);
        fe_hw_error(resp, 404, "APIGW.0101",
                    "The API does not exist or has not been published in the environment");
    }
    free(path);
}
