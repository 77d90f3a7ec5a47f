/* test_k8s_reflector.c -- the reflector against a scripted server: paged first list, watch
 * from the list RV with bookmarks and a timeout in [300, 600), RV following every event,
 * re-watch after a normal close, back-off without relist on 5xx/429, relist on a 410 ERROR
 * event and on a 410 status with Replace emitting deletes for vanished objects, an expired
 * continue token restarting the list, and a prompt stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/json.h"
#include "common/log.h"
#include "k8s/reflector.h"

#include "test_k8s_server.c"

#define ITEM(name, rv, fp)                                                                      \
    "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\",\"resourceVersion\":\"" rv      \
    "\"},\"type\":\"kubernetes.io/tls\",\"data\":{\"fp\":\"" fp "\"}}"
#define EVENT(type, name, rv, fp) "{\"type\":\"" type "\",\"object\":" ITEM(name, rv, fp) "}\n"
#define BOOKMARK(rv)                                                                            \
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Secret\",\"metadata\":{\"resourceVersion\":" \
    "\"" rv "\"}}}\n"
#define LIST(rv, cont, ...)                                                                     \
    "{\"kind\":\"SecretList\",\"metadata\":{\"resourceVersion\":\"" rv "\"" cont "},"           \
    "\"items\":[" __VA_ARGS__ "]}"

struct item {
    char fp[16];
};

static void *extract(const cJSON *obj, void *ud)
{
    struct item *it = calloc(1, sizeof(*it));
    const char *fp = cs_json_path_str(obj, "data.fp");
    snprintf(it->fp, sizeof(it->fp), "%s", fp ? fp : "-");
    return it;
}

static void free_item(void *item, void *ud)
{
    free(item);
}

struct rec {
    pthread_mutex_t lock;
    char log[4096];
};

static void logf_(struct rec *r, char op, const struct k8s_obj *o)
{
    pthread_mutex_lock(&r->lock);
    size_t l = strlen(r->log);
    snprintf(r->log + l, sizeof(r->log) - l, "%c%s=%s ", op, k8s_obj_name(o),
             ((const struct item *)k8s_obj_item(o))->fp);
    pthread_mutex_unlock(&r->lock);
}

static void on_add(const struct k8s_obj *o, void *ud) { logf_(ud, '+', o); }
static void on_update(const struct k8s_obj *old, const struct k8s_obj *o, void *ud)
{
    logf_(ud, '~', o);
}
static void on_delete(const struct k8s_obj *o, void *ud) { logf_(ud, '-', o); }

static bool log_has(struct rec *r, const char *s)
{
    pthread_mutex_lock(&r->lock);
    bool yes = strstr(r->log, s) != NULL;
    pthread_mutex_unlock(&r->lock);
    return yes;
}

/* The store's content as "name=fp name=fp " sorted. */
static void dump(struct k8s_store *s, char *out, size_t n)
{
    struct k8s_obj **v;
    size_t k;
    out[0] = '\0';
    assert_int_equal(k8s_store_list(s, &v, &k, NULL), CS_OK);
    for (size_t i = 0; i < k; i++) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s=%s ", k8s_obj_name(v[i]),
                 ((const struct item *)k8s_obj_item(v[i]))->fp);
    }
    k8s_store_list_free(v, k);
}

struct fixture {
    struct tsrv *srv;
    struct k8s_client *client;
    struct k8s_store *store;
    struct k8s_reflector *refl;
    struct rec rec;
};

static void start(struct fixture *f, tsrv_fn fn, void *ud, const struct k8s_reflector_opts *o)
{
    memset(&f->rec, 0, sizeof(f->rec));
    pthread_mutex_init(&f->rec.lock, NULL);
    f->srv = tsrv_start(fn, ud);
    struct k8s_config *cfg = k8s_config_alloc();
    cfg->server = strdup(f->srv->url);
    struct k8s_client_opts co = {.timeout_ms = 5000};
    assert_int_equal(k8s_client_new(cfg, &co, &f->client, NULL), CS_OK);
    k8s_config_free(cfg);
    struct k8s_store_opts so = {.extract = extract,
                                .free_item = free_item,
                                .handlers = {on_add, on_update, on_delete, &f->rec}};
    assert_int_equal(k8s_store_new(&so, &f->store, NULL), CS_OK);
    assert_int_equal(k8s_reflector_new(f->client, f->store, o, &f->refl, NULL), CS_OK);
    assert_int_equal(k8s_reflector_start(f->refl, NULL), CS_OK);
}

static void finish(struct fixture *f)
{
    k8s_reflector_stop(f->refl);
    k8s_reflector_stop(f->refl); /* twice is fine */
    k8s_reflector_free(f->refl);
    k8s_store_free(f->store);
    k8s_client_free(f->client);
    tsrv_stop(f->srv);
    pthread_mutex_destroy(&f->rec.lock);
}

/* ---- the main scenario ---- */

static void scenario_fn(const struct tsrv_req *req, struct tsrv_resp *resp, void *ud)
{
    int *step = ud;
    bool watch = strstr(req->query, "watch=1") != NULL;
    (*step)++;
    switch (*step) {
    case 1: /* first page */
        tsrv_set_body(resp, 200, LIST("10", ",\"continue\":\"c1\"", ITEM("a", "5", "a1") "," ITEM("b", "6", "b1")));
        break;
    case 2:
        tsrv_set_body(resp, 200, LIST("10", "", ITEM("c", "7", "c1")));
        break;
    case 3: /* watch from 10: events then a normal close */
        tsrv_chunk(resp, EVENT("ADDED", "d", "11", "d1") EVENT("MODIFIED", "a", "12", "a2"));
        tsrv_chunk(resp, BOOKMARK("13"));
        break;
    case 4: /* re-watch from 13: a server error, back off, no relist */
        tsrv_status(resp, 500, "InternalError", "etcd leader changed");
        break;
    case 5:
        tsrv_status(resp, 429, "TooManyRequests", "slow down");
        break;
    case 6: /* watch from 13 again: too old */
        tsrv_chunk(resp, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
                         "\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old "
                         "resource version: 13 (30)\",\"reason\":\"Expired\",\"code\":410}}\n");
        break;
    case 7: /* relist */
        tsrv_set_body(resp, 200, LIST("30", "", ITEM("b", "6", "b1") "," ITEM("c", "25", "c2") "," ITEM("e", "26", "e1")));
        break;
    case 8: /* a 410 as a status this time */
        tsrv_status(resp, 410, "Gone", "gone");
        break;
    case 9:
        tsrv_set_body(resp, 200, LIST("31", "", ITEM("b", "6", "b1") "," ITEM("c", "25", "c2") "," ITEM("e", "26", "e1")));
        break;
    case 10:
        tsrv_chunk(resp, EVENT("DELETED", "c", "32", "c2"));
        resp->end = TSRV_END_HANG;
        break;
    default: /* should not be reached while the test runs */
        tsrv_status(resp, 500, "InternalError", "script exhausted");
        break;
    }
    (void)watch;
}

static void test_list_watch_relist(void **state)
{
    int step = 0;
    struct fixture f;
    struct k8s_reflector_opts o = {.res = &k8s_res_secrets,
                                   .ns = "ns",
                                   .field_selector = "type=kubernetes.io/tls",
                                   .page_size = 2,
                                   .backoff_initial_ms = 20,
                                   .backoff_max_ms = 100};
    start(&f, scenario_fn, &step, &o);
    assert_true(k8s_reflector_wait_synced(f.refl, 5000));
    WAIT_FOR(log_has(&f.rec, "-c=c2"), 10000);

    char line[4096], content[1024], rv[64];
    dump(f.store, content, sizeof(content));
    assert_string_equal(content, "b=b1 e=e1 ");
    k8s_reflector_last_rv(f.refl, rv, sizeof(rv));
    assert_string_equal(rv, "32");
    pthread_mutex_lock(&f.rec.lock);
    assert_string_equal(f.rec.log,
                        /* first list */
                        "+a=a1 +b=b1 +c=c1 "
                        /* first watch */
                        "+d=d1 ~a=a2 "
                        /* relist after the ERROR event: every listed key, then the vanished */
                        "~b=b1 ~c=c2 +e=e1 -a=a2 -d=d1 "
                        /* relist after the 410 status */
                        "~b=b1 ~c=c2 ~e=e1 "
                        /* last watch */
                        "-c=c2 ");
    pthread_mutex_unlock(&f.rec.lock);

    /* what the client asked for */
    tsrv_line(f.srv, 0, line, sizeof(line));
    assert_string_equal(line, "GET /api/v1/namespaces/ns/secrets?fieldSelector=type%3Dkubernetes."
                              "io%2Ftls&resourceVersion=0&limit=2");
    tsrv_line(f.srv, 1, line, sizeof(line));
    assert_string_equal(line, "GET /api/v1/namespaces/ns/secrets?fieldSelector=type%3Dkubernetes."
                              "io%2Ftls&continue=c1&limit=2");
    const char *watch_rv[] = {"10", "13", "13", "13", NULL, "30", NULL, "31"};
    for (int i = 2; i < 10; i++) {
        if (!watch_rv[i - 2])
            continue;
        char expect[256];
        snprintf(expect, sizeof(expect),
                 "GET /api/v1/namespaces/ns/secrets?watch=1&resourceVersion=%s&"
                 "allowWatchBookmarks=true&timeoutSeconds=",
                 watch_rv[i - 2]);
        tsrv_line(f.srv, i, line, sizeof(line));
        assert_memory_equal(line, expect, strlen(expect));
        long t = strtol(line + strlen(expect), NULL, 10);
        assert_true(t >= 300 && t < 600);
        assert_non_null(strstr(line, "&fieldSelector=type%3Dkubernetes.io%2Ftls"));
    }
    tsrv_line(f.srv, 6, line, sizeof(line));
    assert_non_null(strstr(line, "resourceVersion=0&limit=2")); /* the relists */
    tsrv_line(f.srv, 8, line, sizeof(line));
    assert_non_null(strstr(line, "resourceVersion=0&limit=2"));

    struct k8s_reflector_stats st;
    k8s_reflector_get_stats(f.refl, &st);
    assert_int_equal(st.lists, 3);
    assert_int_equal(st.gone, 2);
    assert_int_equal(st.errors, 2);
    assert_int_equal(st.watches, 6);
    /* stop while a watch hangs: prompt (bounded by the cancel flag) */
    finish(&f);
    assert_int_equal(step, 10);
}

/* ---- an expired continue token ---- */

static void continue_fn(const struct tsrv_req *req, struct tsrv_resp *resp, void *ud)
{
    int *step = ud;
    (*step)++;
    if (*step == 1)
        tsrv_set_body(resp, 200, LIST("10", ",\"continue\":\"c1\"", ITEM("a", "5", "a1")));
    else if (*step == 2)
        tsrv_status(resp, 410, "Expired", "The provided continue parameter is too old");
    else if (*step == 3)
        tsrv_set_body(resp, 200, LIST("20", "", ITEM("x", "15", "x1")));
    else {
        resp->stream = true;
        resp->status = 200;
        resp->end = TSRV_END_HANG;
    }
}

static void test_expired_continue(void **state)
{
    int step = 0;
    struct fixture f;
    struct k8s_reflector_opts o = {.res = &k8s_res_secrets, .page_size = 1};
    start(&f, continue_fn, &step, &o);
    assert_true(k8s_reflector_wait_synced(f.refl, 5000));
    char content[256], line[1024];
    dump(f.store, content, sizeof(content));
    /* the page from the abandoned list never reached the store */
    assert_string_equal(content, "x=x1 ");
    pthread_mutex_lock(&f.rec.lock);
    assert_string_equal(f.rec.log, "+x=x1 ");
    pthread_mutex_unlock(&f.rec.lock);
    tsrv_line(f.srv, 2, line, sizeof(line));
    assert_string_equal(line, "GET /api/v1/secrets?resourceVersion=0&limit=1");
    WAIT_FOR(tsrv_count(f.srv) >= 4, 5000);
    tsrv_line(f.srv, 3, line, sizeof(line));
    assert_non_null(strstr(line, "watch=1&resourceVersion=20&"));
    finish(&f);
}

/* ---- failures before the first list; stop during a long back-off ---- */

static void failing_fn(const struct tsrv_req *req, struct tsrv_resp *resp, void *ud)
{
    tsrv_status(resp, 503, "ServiceUnavailable", "not ready");
}

static void test_stop_during_backoff(void **state)
{
    struct fixture f;
    struct k8s_reflector_opts o = {.res = &k8s_res_ingresses,
                                   .backoff_initial_ms = 60000,
                                   .backoff_max_ms = 60000};
    start(&f, failing_fn, NULL, &o);
    WAIT_FOR(tsrv_count(f.srv) >= 1, 5000);
    assert_false(k8s_reflector_wait_synced(f.refl, 50));
    assert_false(k8s_reflector_has_synced(f.refl));
    uint64_t t0 = cs_now_ms();
    finish(&f); /* returns well before the 60 s back-off */
    assert_true(cs_now_ms() - t0 < 30000);
}

/* ---- a watch that goes silent is broken ---- */

static void silent_fn(const struct tsrv_req *req, struct tsrv_resp *resp, void *ud)
{
    int *step = ud;
    (*step)++;
    if (!strstr(req->query, "watch=1")) {
        tsrv_set_body(resp, 200, LIST("10", "", ITEM("a", "5", "a1")));
    } else if (*step == 2) {
        tsrv_chunk(resp, BOOKMARK("11")); /* then silence */
        resp->end = TSRV_END_HANG;
    } else {
        tsrv_chunk(resp, EVENT("MODIFIED", "a", "12", "a2"));
        resp->end = TSRV_END_HANG;
    }
}

static void test_silent_watch(void **state)
{
    int step = 0;
    struct fixture f;
    /* a 1 s server timeout and a 200 ms margin: silence beyond 1.2 s is a broken watch */
    struct k8s_reflector_opts o = {.res = &k8s_res_secrets,
                                   .watch_timeout_min_s = 1,
                                   .watch_timeout_max_s = 1,
                                   .idle_margin_ms = 200,
                                   .backoff_initial_ms = 10};
    start(&f, silent_fn, &step, &o);
    WAIT_FOR(log_has(&f.rec, "~a=a2"), 10000);
    assert_true(log_has(&f.rec, "~a=a2"));
    char line[1024];
    tsrv_line(f.srv, 2, line, sizeof(line));
    /* re-watched from the bookmark's RV, without a relist */
    assert_non_null(strstr(line, "watch=1&resourceVersion=11&allowWatchBookmarks=true&"
                                 "timeoutSeconds=1"));
    finish(&f);
}

/* ---- a watch cut mid-stream ---- */

static void drop_fn(const struct tsrv_req *req, struct tsrv_resp *resp, void *ud)
{
    int *step = ud;
    (*step)++;
    if (*step == 1) {
        tsrv_set_body(resp, 200, LIST("10", "", ITEM("a", "5", "a1")));
    } else if (*step == 2) { /* an event, then the connection breaks */
        tsrv_chunk(resp, EVENT("ADDED", "b", "11", "b1"));
        resp->end = TSRV_END_DROP;
    } else if (*step == 3) {
        tsrv_chunk(resp, EVENT("MODIFIED", "b", "12", "b2"));
        resp->end = TSRV_END_HANG;
    } else {
        tsrv_status(resp, 500, "InternalError", "script exhausted");
    }
}

/* client-go treats a watch stream that breaks after it delivered as a normal close: re-watch
 * from the last RV at once. With a one-minute back-off, anything else would miss the wait. */
static void test_dropped_watch(void **state)
{
    int step = 0;
    struct fixture f;
    struct k8s_reflector_opts o = {.res = &k8s_res_secrets, .backoff_initial_ms = 60000,
                                   .backoff_max_ms = 60000};
    start(&f, drop_fn, &step, &o);
    WAIT_FOR(log_has(&f.rec, "~b=b2"), 10000);
    assert_true(log_has(&f.rec, "~b=b2"));
    char line[1024];
    tsrv_line(f.srv, 2, line, sizeof(line));
    assert_non_null(strstr(line, "watch=1&resourceVersion=11&"));
    struct k8s_reflector_stats st;
    k8s_reflector_get_stats(f.refl, &st);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.drops, 1);
    assert_int_equal(st.lists, 1);
    finish(&f);
}

int main(void)
{
    cs_json_init();
    cs_log_configure(CS_LOG_OFF, CS_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_watch_relist),
        cmocka_unit_test(test_expired_continue),
        cmocka_unit_test(test_stop_during_backoff),
        cmocka_unit_test(test_silent_watch),
        cmocka_unit_test(test_dropped_watch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
