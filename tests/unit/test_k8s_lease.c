/* test_k8s_lease.c -- leader election against a tiny in-test Lease server that enforces
 * resourceVersion preconditions: creation race (the loser gets 409), waiting while the lease
 * is held, takeover after expiry by the local clock (injected), conflict on a stale RV,
 * release, and two running electors: one leader at a time, hand-over on stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/json.h"
#include "common/log.h"
#include "k8s/lease.h"

#include "test_k8s_server.c"

struct lease_srv {
    bool exists;
    long rv;
    cJSON *obj;
    int force_404_gets; /* pretend it does not exist yet (a read that raced a create) */
    bool bump_after_get; /* someone else writes right after our next read */
    int puts, posts, conflicts;
};

static void answer_obj(struct lease_srv *l, struct tsrv_resp *resp, int status)
{
    char rv[32];
    snprintf(rv, sizeof(rv), "%ld", l->rv);
    cJSON *md = cJSON_GetObjectItem(l->obj, "metadata");
    cJSON_DeleteItemFromObject(md, "resourceVersion");
    cJSON_AddStringToObject(md, "resourceVersion", rv);
    char *s = cJSON_PrintUnformatted(l->obj);
    tsrv_set_body(resp, status, s);
    cJSON_free(s);
}

static void lease_fn(const struct tsrv_req *req, struct tsrv_resp *resp, void *ud)
{
    struct lease_srv *l = ud;
    const char *base = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases";
    if (strncmp(req->path, base, strlen(base)) != 0) {
        tsrv_status(resp, 404, "NotFound", "no such path");
        return;
    }
    bool named = strcmp(req->path + strlen(base), "/certsync") == 0;
    if (strcmp(req->method, "GET") == 0 && named) {
        if (!l->exists || l->force_404_gets > 0) {
            if (l->force_404_gets > 0)
                l->force_404_gets--;
            tsrv_status(resp, 404, "NotFound", "leases.coordination.k8s.io \\\"certsync\\\" not found");
            return;
        }
        answer_obj(l, resp, 200);
        if (l->bump_after_get) {
            l->bump_after_get = false;
            l->rv++;
        }
    } else if (strcmp(req->method, "POST") == 0 && !named) {
        l->posts++;
        if (l->exists) {
            tsrv_status(resp, 409, "AlreadyExists", "leases \\\"certsync\\\" already exists");
            return;
        }
        cJSON_Delete(l->obj);
        l->obj = cJSON_Parse(req->body.ptr);
        l->exists = true;
        l->rv++;
        answer_obj(l, resp, 201);
    } else if (strcmp(req->method, "PUT") == 0 && named) {
        l->puts++;
        cJSON *b = cJSON_Parse(req->body.ptr);
        const char *rv = cs_json_path_str(b, "metadata.resourceVersion");
        char cur[32];
        snprintf(cur, sizeof(cur), "%ld", l->rv);
        if (!l->exists || !rv || strcmp(rv, cur) != 0) {
            l->conflicts++;
            cJSON_Delete(b);
            tsrv_status(resp, 409, "Conflict",
                        "Operation cannot be fulfilled on leases.coordination.k8s.io "
                        "\\\"certsync\\\": the object has been modified");
            return;
        }
        cJSON_Delete(l->obj);
        l->obj = b;
        l->rv++;
        answer_obj(l, resp, 200);
    } else {
        tsrv_status(resp, 405, "MethodNotAllowed", "no");
    }
}

static const char *server_holder(struct tsrv *s, struct lease_srv *l, char *out, size_t n)
{
    pthread_mutex_lock(&s->lock);
    const char *h = l->obj ? cs_json_path_str(l->obj, "spec.holderIdentity") : NULL;
    snprintf(out, n, "%s", h ? h : "(none)");
    pthread_mutex_unlock(&s->lock);
    return out;
}

static long server_transitions(struct tsrv *s, struct lease_srv *l)
{
    pthread_mutex_lock(&s->lock);
    long t = (long)cs_json_int(cJSON_GetObjectItem(l->obj, "spec"), "leaseTransitions", -1);
    pthread_mutex_unlock(&s->lock);
    return t;
}

struct fake_clock {
    uint64_t ms;
};

static uint64_t fake_now(void *ud)
{
    return ((struct fake_clock *)ud)->ms;
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

static struct k8s_elector *elector(struct k8s_client *c, const char *id, struct fake_clock *clk)
{
    struct k8s_elector_opts o = {.ns = "kube-system",
                                 .name = "certsync",
                                 .identity = id,
                                 .clock_ms = clk ? fake_now : NULL,
                                 .clock_ud = clk};
    struct k8s_elector *e = NULL;
    assert_int_equal(k8s_elector_new(c, &o, &e, NULL), CS_OK);
    return e;
}

static void test_steps(void **state)
{
    struct lease_srv l = {0};
    struct tsrv *s = tsrv_start(lease_fn, &l);
    struct k8s_client *c = client_for(s);
    struct fake_clock ca = {1000}, cb = {5000};
    struct k8s_elector *a = elector(c, "pod-a", &ca), *b = elector(c, "pod-b", &cb);
    bool acq;
    char h[64];
    struct cs_err e;

    /* creation race: both read 404, a creates, b's POST gets 409 */
    l.force_404_gets = 1;
    assert_int_equal(k8s_elector_try(a, &acq, &e), CS_OK);
    assert_true(acq);
    l.force_404_gets = 1;
    assert_int_equal(k8s_elector_try(b, &acq, &e), CS_OK);
    assert_false(acq);
    assert_int_equal(l.posts, 2);
    assert_string_equal(server_holder(s, &l, h, sizeof(h)), "pod-a");
    assert_int_equal(server_transitions(s, &l), 0);

    /* held and fresh: b waits (no write) */
    int puts = l.puts;
    assert_int_equal(k8s_elector_try(b, &acq, &e), CS_OK);
    assert_false(acq);
    assert_int_equal(l.puts, puts);
    k8s_elector_holder(b, h, sizeof(h));
    assert_string_equal(h, "pod-a");

    /* a renews: a PUT, still a */
    assert_int_equal(k8s_elector_try(a, &acq, &e), CS_OK);
    assert_true(acq);
    assert_int_equal(l.puts, puts + 1);
    assert_int_equal(server_transitions(s, &l), 0);

    /* b's clock: 14 s after it saw the renewal, not expired (15 s) */
    assert_int_equal(k8s_elector_try(b, &acq, &e), CS_OK); /* sees the renewed record */
    assert_false(acq);
    cb.ms += 14000;
    assert_int_equal(k8s_elector_try(b, &acq, &e), CS_OK);
    assert_false(acq);

    /* expired by b's clock: takeover, transitions + 1 */
    cb.ms += 1001;
    assert_int_equal(k8s_elector_try(b, &acq, &e), CS_OK);
    assert_true(acq);
    assert_string_equal(server_holder(s, &l, h, sizeof(h)), "pod-b");
    assert_int_equal(server_transitions(s, &l), 1);

    /* a sees b holding: a does not get it back, and knows who holds it */
    assert_int_equal(k8s_elector_try(a, &acq, &e), CS_OK);
    assert_false(acq);
    k8s_elector_holder(a, h, sizeof(h));
    assert_string_equal(h, "pod-b");

    /* stale resourceVersion: b reads, someone writes, b's PUT gets 409 → not acquired */
    l.bump_after_get = true;
    int conflicts = l.conflicts;
    assert_int_equal(k8s_elector_try(b, &acq, &e), CS_OK);
    assert_false(acq);
    assert_int_equal(l.conflicts, conflicts + 1);
    /* next round succeeds */
    assert_int_equal(k8s_elector_try(b, &acq, &e), CS_OK);
    assert_true(acq);

    /* release: empty holder; a can take it at once (no expiry wait) */
    assert_int_equal(k8s_elector_release(a, &e), CS_OK); /* not a's: no write */
    puts = l.puts;
    assert_int_equal(k8s_elector_release(b, &e), CS_OK);
    assert_int_equal(l.puts, puts + 1);
    assert_string_equal(server_holder(s, &l, h, sizeof(h)), "");
    assert_int_equal(k8s_elector_try(a, &acq, &e), CS_OK);
    assert_true(acq);
    assert_int_equal(server_transitions(s, &l), 2);

    /* bad options */
    struct k8s_elector_opts bad = {.ns = "x", .name = "y", .identity = "z",
                                   .lease_duration_ms = 1000, .renew_deadline_ms = 2000};
    struct k8s_elector *x = NULL;
    assert_int_equal(k8s_elector_new(c, &bad, &x, &e), CS_EINVAL);
    bad.identity = "";
    assert_int_equal(k8s_elector_new(c, &bad, &x, &e), CS_EINVAL);

    k8s_elector_free(a);
    k8s_elector_free(b);
    k8s_client_free(c);
    tsrv_stop(s);
    cJSON_Delete(l.obj);
}

struct counters {
    atomic_int started, stopped;
};

static void started(void *ud) { atomic_fetch_add(&((struct counters *)ud)->started, 1); }
static void stopped(void *ud) { atomic_fetch_add(&((struct counters *)ud)->stopped, 1); }

static void test_two_running_electors(void **state)
{
    struct lease_srv l = {0};
    struct tsrv *s = tsrv_start(lease_fn, &l);
    struct k8s_client *c = client_for(s);
    struct counters ka = {0}, kb = {0};
    struct k8s_elector_opts o = {.ns = "kube-system",
                                 .name = "certsync",
                                 .lease_duration_ms = 1000,
                                 .renew_deadline_ms = 600,
                                 .retry_period_ms = 50,
                                 .on_started_leading = started,
                                 .on_stopped_leading = stopped};
    struct k8s_elector *a = NULL, *b = NULL;
    o.identity = "pod-a";
    o.ud = &ka;
    assert_int_equal(k8s_elector_new(c, &o, &a, NULL), CS_OK);
    o.identity = "pod-b";
    o.ud = &kb;
    assert_int_equal(k8s_elector_new(c, &o, &b, NULL), CS_OK);
    assert_int_equal(k8s_elector_start(a, NULL), CS_OK);
    assert_int_equal(k8s_elector_start(b, NULL), CS_OK);

    WAIT_FOR(k8s_elector_is_leader(a) || k8s_elector_is_leader(b), 5000);
    /* never two leaders, over many samples */
    int leaders_seen = 0;
    for (int i = 0; i < 100; i++) {
        bool la = k8s_elector_is_leader(a), lb = k8s_elector_is_leader(b);
        assert_false(la && lb);
        leaders_seen += la || lb;
        cs_sleep_ms(5);
    }
    assert_true(leaders_seen > 0);
    struct k8s_elector *leader = k8s_elector_is_leader(a) ? a : b;
    struct k8s_elector *other = leader == a ? b : a;
    struct counters *kl = leader == a ? &ka : &kb, *ko = leader == a ? &kb : &ka;
    assert_int_equal(atomic_load(&kl->started), 1);
    assert_int_equal(atomic_load(&ko->started), 0);

    /* the leader stops: it releases, the other takes over without waiting for expiry */
    k8s_elector_stop(leader);
    assert_false(k8s_elector_is_leader(leader));
    assert_int_equal(atomic_load(&kl->stopped), 1);
    WAIT_FOR(k8s_elector_is_leader(other), 5000);
    assert_true(k8s_elector_is_leader(other));
    assert_int_equal(atomic_load(&ko->started), 1);
    char h[64];
    assert_string_equal(server_holder(s, &l, h, sizeof(h)), leader == a ? "pod-b" : "pod-a");

    k8s_elector_stop(other);
    assert_int_equal(atomic_load(&ko->stopped), 1);
    assert_string_equal(server_holder(s, &l, h, sizeof(h)), "");
    k8s_elector_free(a);
    k8s_elector_free(b);
    k8s_client_free(c);
    tsrv_stop(s);
    cJSON_Delete(l.obj);
}

/* The server goes away: the leader gives up within the renew deadline. */
struct down_ctx {
    atomic_bool down;
    struct lease_srv l;
};

static void down_fn(const struct tsrv_req *req, struct tsrv_resp *resp, void *ud)
{
    struct down_ctx *d = ud;
    if (atomic_load(&d->down)) {
        tsrv_status(resp, 503, "ServiceUnavailable", "down");
        return;
    }
    lease_fn(req, resp, &d->l);
}

static void test_lost_when_renewals_fail(void **state)
{
    struct down_ctx ctx = {0};
    struct tsrv *s = tsrv_start(down_fn, &ctx);
    struct k8s_client *c = client_for(s);
    struct counters k = {0};
    struct k8s_elector_opts o = {.ns = "kube-system",
                                 .name = "certsync",
                                 .identity = "pod-a",
                                 .lease_duration_ms = 1000,
                                 .renew_deadline_ms = 400,
                                 .retry_period_ms = 50,
                                 .on_started_leading = started,
                                 .on_stopped_leading = stopped,
                                 .ud = &k};
    struct k8s_elector *a = NULL;
    assert_int_equal(k8s_elector_new(c, &o, &a, NULL), CS_OK);
    assert_int_equal(k8s_elector_start(a, NULL), CS_OK);
    WAIT_FOR(k8s_elector_is_leader(a), 5000);
    assert_true(k8s_elector_is_leader(a));
    atomic_store(&ctx.down, true);
    WAIT_FOR(atomic_load(&k.stopped) == 1, 5000);
    assert_int_equal(atomic_load(&k.stopped), 1);
    assert_false(k8s_elector_is_leader(a));
    /* back up: it becomes leader again (its own record, renewed) */
    atomic_store(&ctx.down, false);
    WAIT_FOR(atomic_load(&k.started) == 2, 5000);
    assert_int_equal(atomic_load(&k.started), 2);
    k8s_elector_free(a);
    assert_int_equal(atomic_load(&k.stopped), 2);
    k8s_client_free(c);
    tsrv_stop(s);
    cJSON_Delete(ctx.l.obj);
}

int main(void)
{
    cs_json_init();
    cs_log_configure(CS_LOG_OFF, CS_LOG_TEXT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps),
        cmocka_unit_test(test_two_running_electors),
        cmocka_unit_test(test_lost_when_renewals_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
