/* test_k8s_events.c -- the Event recorder against a scripted server: the Event body, repeats
 * PATCHed (count, lastTimestamp) instead of created, a vanished Event re-created, the bounded
 * de-duplication cache, the bounded queue dropping (and counting) when the server is slow,
 * and key material never sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/json.h"
#include "common/log.h"
#include "k8s/events.h"

#include "test_k8s_server.c"

struct ev_srv {
    int posts, patches;
    int patch_404; /* answer the next PATCHes with 404 */
    int delay_ms;
    cJSON *last_post;
    cJSON *last_patch;
    char last_patch_path[512];
};

static void ev_fn(const struct tsrv_req *req, struct tsrv_resp *resp, void *ud)
{
    struct ev_srv *s = ud;
    if (s->delay_ms)
        cs_sleep_ms((uint64_t)s->delay_ms);
    if (strcmp(req->method, "POST") == 0) {
        s->posts++;
        cJSON_Delete(s->last_post);
        s->last_post = cJSON_Parse(req->body.ptr);
        tsrv_set_body(resp, 201, req->body.ptr);
    } else if (strcmp(req->method, "PATCH") == 0) {
        s->patches++;
        snprintf(s->last_patch_path, sizeof(s->last_patch_path), "%s", req->path);
        if (s->patch_404 > 0) {
            s->patch_404--;
            tsrv_status(resp, 404, "NotFound", "events not found");
            return;
        }
        cJSON_Delete(s->last_patch);
        s->last_patch = cJSON_Parse(req->body.ptr);
        assert_string_equal(req->content_type, "application/merge-patch+json");
        tsrv_set_body(resp, 200, "{}");
    } else {
        tsrv_status(resp, 405, "MethodNotAllowed", "no");
    }
}

static struct k8s_client *client_for(struct tsrv *s)
{
    struct k8s_config *cfg = k8s_config_alloc();
    cfg->server = strdup(s->url);
    struct k8s_client *c = NULL;
    assert_int_equal(k8s_client_new(cfg, NULL, &c, NULL), CS_OK);
    k8s_config_free(cfg);
    return c;
}

static const struct k8s_object_ref WEB = {.kind = "Ingress",
                                          .api_version = "networking.k8s.io/v1",
                                          .ns = "shop",
                                          .name = "web",
                                          .uid = "uid-1",
                                          .resource_version = "42"};

static void test_create_and_dedup(void **state)
{
    struct ev_srv es = {0};
    struct tsrv *srv = tsrv_start(ev_fn, &es);
    struct k8s_client *c = client_for(srv);
    struct k8s_recorder *r = NULL;
    struct k8s_recorder_opts o = {.component = "elb-certsync", .instance = "pod-1"};
    assert_int_equal(k8s_recorder_new(c, &o, &r, NULL), CS_OK);

    assert_true(k8s_recorder_emit(r, &WEB, K8S_EVENT_WARNING, "InvalidSecret", "bad key"));
    assert_true(k8s_recorder_flush(r, 5000));
    assert_int_equal(es.posts, 1);
    cJSON *ev = es.last_post;
    assert_string_equal(cs_json_path_str(ev, "metadata.namespace"), "shop");
    assert_memory_equal(cs_json_path_str(ev, "metadata.name"), "web.", 4);
    assert_string_equal(cs_json_path_str(ev, "involvedObject.kind"), "Ingress");
    assert_string_equal(cs_json_path_str(ev, "involvedObject.name"), "web");
    assert_string_equal(cs_json_path_str(ev, "involvedObject.namespace"), "shop");
    assert_string_equal(cs_json_path_str(ev, "involvedObject.uid"), "uid-1");
    assert_string_equal(cs_json_path_str(ev, "involvedObject.apiVersion"), "networking.k8s.io/v1");
    assert_string_equal(cs_json_path_str(ev, "involvedObject.resourceVersion"), "42");
    assert_string_equal(cs_json_str(ev, "reason"), "InvalidSecret");
    assert_string_equal(cs_json_str(ev, "message"), "bad key");
    assert_string_equal(cs_json_str(ev, "type"), "Warning");
    assert_string_equal(cs_json_path_str(ev, "source.component"), "elb-certsync");
    assert_string_equal(cs_json_str(ev, "reportingComponent"), "elb-certsync");
    assert_string_equal(cs_json_str(ev, "reportingInstance"), "pod-1");
    int64_t t;
    assert_true(cs_parse_time(cs_json_str(ev, "firstTimestamp"), &t));
    assert_true(cs_parse_time(cs_json_str(ev, "lastTimestamp"), &t));
    assert_int_equal(cs_json_int(ev, "count", 0), 1);
    char name[256];
    snprintf(name, sizeof(name), "%s", cs_json_path_str(ev, "metadata.name"));

    /* the same again: PATCH count 2, then 3 */
    assert_true(k8s_recorder_emit(r, &WEB, K8S_EVENT_WARNING, "InvalidSecret", "bad key"));
    assert_true(k8s_recorder_emit(r, &WEB, K8S_EVENT_WARNING, "InvalidSecret", "bad key"));
    assert_true(k8s_recorder_flush(r, 5000));
    assert_int_equal(es.posts, 1);
    assert_int_equal(es.patches, 2);
    assert_int_equal(cs_json_int(es.last_patch, "count", 0), 3);
    assert_non_null(cs_json_str(es.last_patch, "lastTimestamp"));
    char path[600];
    snprintf(path, sizeof(path), "/api/v1/namespaces/shop/events/%s", name);
    assert_string_equal(es.last_patch_path, path);

    /* a different message, type or object: a new Event */
    assert_true(k8s_recorder_emit(r, &WEB, K8S_EVENT_WARNING, "InvalidSecret", "expired"));
    assert_true(k8s_recorder_emit(r, &WEB, K8S_EVENT_NORMAL, "InvalidSecret", "bad key"));
    struct k8s_object_ref cls = {.kind = "IngressClass", .name = "cce"};
    assert_true(k8s_recorder_emit(r, &cls, K8S_EVENT_NORMAL, "Synced", "ok"));
    assert_true(k8s_recorder_flush(r, 5000));
    assert_int_equal(es.posts, 4);
    /* cluster-scoped: the Event lives in "default", no namespace in involvedObject */
    assert_string_equal(cs_json_path_str(es.last_post, "metadata.namespace"), "default");
    assert_null(cs_json_path_str(es.last_post, "involvedObject.namespace"));

    /* the Event vanished on the server (TTL): PATCH 404 → a new POST */
    es.patch_404 = 1;
    assert_true(k8s_recorder_emit(r, &WEB, K8S_EVENT_WARNING, "InvalidSecret", "bad key"));
    assert_true(k8s_recorder_flush(r, 5000));
    assert_int_equal(es.posts, 5);
    assert_int_equal(cs_json_int(es.last_post, "count", 0), 1);

    /* key material is never sent, long messages are cut */
    assert_true(k8s_recorder_emit(r, &WEB, K8S_EVENT_WARNING, "Oops",
                                  "got -----BEGIN PRIVATE KEY-----\nMIIE..."));
    assert_true(k8s_recorder_flush(r, 5000));
    assert_null(strstr(cs_json_str(es.last_post, "message"), "MIIE"));
    assert_non_null(strstr(cs_json_str(es.last_post, "message"), "withheld"));
    char big[3000];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_true(k8s_recorder_emit(r, &WEB, K8S_EVENT_NORMAL, "Long", big));
    assert_true(k8s_recorder_flush(r, 5000));
    assert_int_equal(strlen(cs_json_str(es.last_post, "message")), 1024);

    struct k8s_recorder_stats st;
    k8s_recorder_get_stats(r, &st);
    assert_int_equal(st.emitted, 9);
    assert_int_equal(st.created, 7);
    assert_int_equal(st.patched, 2);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.failed, 0);

    /* bad input is dropped, counted */
    struct k8s_object_ref noname = {.kind = "Ingress"};
    assert_false(k8s_recorder_emit(r, &noname, K8S_EVENT_NORMAL, "X", "y"));
    k8s_recorder_free(r);
    k8s_client_free(c);
    tsrv_stop(srv);
    cJSON_Delete(es.last_post);
    cJSON_Delete(es.last_patch);
}

static void test_bounded_cache(void **state)
{
    struct ev_srv es = {0};
    struct tsrv *srv = tsrv_start(ev_fn, &es);
    struct k8s_client *c = client_for(srv);
    struct k8s_recorder *r = NULL;
    struct k8s_recorder_opts o = {.component = "x", .cache_max = 2};
    assert_int_equal(k8s_recorder_new(c, &o, &r, NULL), CS_OK);
    const char *msgs[] = {"a", "b", "c", "a", "c"};
    for (int i = 0; i < 5; i++) {
        assert_true(k8s_recorder_emit(r, &WEB, K8S_EVENT_NORMAL, "R", msgs[i]));
        assert_true(k8s_recorder_flush(r, 5000));
    }
    /* a was evicted by c (cache of 2): a again is a new Event; c again is a PATCH */
    assert_int_equal(es.posts, 4);
    assert_int_equal(es.patches, 1);
    k8s_recorder_free(r);
    k8s_client_free(c);
    tsrv_stop(srv);
    cJSON_Delete(es.last_post);
    cJSON_Delete(es.last_patch);
}

static void test_queue_full_drops(void **state)
{
    struct ev_srv es = {.delay_ms = 300};
    struct tsrv *srv = tsrv_start(ev_fn, &es);
    struct k8s_client *c = client_for(srv);
    struct k8s_recorder *r = NULL;
    struct k8s_recorder_opts o = {.component = "x", .queue_max = 2};
    assert_int_equal(k8s_recorder_new(c, &o, &r, NULL), CS_OK);
    int accepted = 0;
    char msg[16];
    for (int i = 0; i < 20; i++) {
        snprintf(msg, sizeof(msg), "m%d", i);
        accepted += k8s_recorder_emit(r, &WEB, K8S_EVENT_NORMAL, "R", msg);
    }
    /* the sender holds at most one, the queue two: most are dropped, none block */
    assert_true(accepted >= 2 && accepted <= 3);
    assert_true(k8s_recorder_flush(r, 10000));
    struct k8s_recorder_stats st;
    k8s_recorder_get_stats(r, &st);
    assert_int_equal(st.emitted, (uint64_t)accepted);
    assert_int_equal(st.dropped, (uint64_t)(20 - accepted));
    assert_int_equal(st.created, (uint64_t)accepted);
    k8s_recorder_free(r);
    k8s_client_free(c);
    tsrv_stop(srv);
    cJSON_Delete(es.last_post);
}

int main(void)
{
    cs_json_init();
    cs_log_configure(CS_LOG_OFF, CS_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_dedup),
        cmocka_unit_test(test_bounded_cache),
        cmocka_unit_test(test_queue_full_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
