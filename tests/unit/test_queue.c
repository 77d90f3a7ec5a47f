/* test_queue.c -- the rate-limited de-duplicating work queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "controller/queue.h"

static struct ctl_queue *fast_queue(void)
{
    struct ctl_queue_opts o = {.base_delay_ms = 10, .max_delay_ms = 80, .qps = 1e6, .burst = 1e6};
    return ctl_queue_new(&o);
}

static void test_dedup_and_fifo(void **state)
{
    struct ctl_queue *q = fast_queue();
    ctl_queue_add(q, "a");
    ctl_queue_add(q, "b");
    ctl_queue_add(q, "a");
    ctl_queue_add(q, "c");
    assert_int_equal(ctl_queue_len(q), 3);
    const char *order[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        char *k = ctl_queue_get_timeout(q, 100);
        assert_non_null(k);
        assert_string_equal(k, order[i]);
        ctl_queue_done(q, k);
        free(k);
    }
    assert_null(ctl_queue_get_timeout(q, 20));
    ctl_queue_shutdown(q);
    ctl_queue_free(q);
}

static void test_dirty_while_processing(void **state)
{
    struct ctl_queue *q = fast_queue();
    ctl_queue_add(q, "k");
    char *k = ctl_queue_get_timeout(q, 100);
    assert_string_equal(k, "k");
    /* added while processing: not handed out twice, but comes back after done */
    ctl_queue_add(q, "k");
    ctl_queue_add(q, "k");
    assert_int_equal(ctl_queue_len(q), 0);
    assert_null(ctl_queue_get_timeout(q, 20));
    ctl_queue_done(q, k);
    free(k);
    assert_int_equal(ctl_queue_len(q), 1);
    k = ctl_queue_get_timeout(q, 100);
    assert_string_equal(k, "k");
    ctl_queue_done(q, k);
    free(k);
    assert_int_equal(ctl_queue_len(q), 0);
    ctl_queue_shutdown(q);
    ctl_queue_free(q);
}

static void test_add_after_and_earliest_wins(void **state)
{
    struct ctl_queue *q = fast_queue();
    ctl_queue_add_after(q, "late", 10000);
    ctl_queue_add_after(q, "soon", 30);
    ctl_queue_add_after(q, "late", 40); /* sooner than before: wins */
    ctl_queue_add_after(q, "soon", 10000); /* later than pending: ignored */
    assert_int_equal(ctl_queue_len(q), 0);
    assert_int_equal(ctl_queue_delayed(q), 2);
    char *k = ctl_queue_get_timeout(q, 2000);
    assert_string_equal(k, "soon");
    ctl_queue_done(q, k);
    free(k);
    k = ctl_queue_get_timeout(q, 2000);
    assert_string_equal(k, "late");
    ctl_queue_done(q, k);
    free(k);
    assert_null(ctl_queue_get_timeout(q, 50)); /* the stale 10 s entries hand out nothing */
    /* an immediate add of a delayed key makes it ready at once, and only once */
    ctl_queue_add_after(q, "x", 10000);
    ctl_queue_add(q, "x");
    k = ctl_queue_get_timeout(q, 100);
    assert_string_equal(k, "x");
    ctl_queue_done(q, k);
    free(k);
    assert_null(ctl_queue_get_timeout(q, 30));
    ctl_queue_shutdown(q);
    ctl_queue_free(q);
}

static void test_rate_limited_backoff(void **state)
{
    struct ctl_queue *q = fast_queue();
    uint64_t expect[] = {10, 20, 40, 80, 80, 80};
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        assert_int_equal(ctl_queue_add_rate_limited(q, "f"), expect[i]);
        assert_int_equal(ctl_queue_failures(q, "f"), i + 1);
        char *k = ctl_queue_get_timeout(q, 2000);
        assert_string_equal(k, "f");
        ctl_queue_done(q, k);
        free(k);
    }
    ctl_queue_forget(q, "f");
    assert_int_equal(ctl_queue_failures(q, "f"), 0);
    assert_int_equal(ctl_queue_add_rate_limited(q, "f"), 10);
    ctl_queue_forget(q, "f");
    char *k = ctl_queue_get_timeout(q, 2000);
    assert_string_equal(k, "f");
    ctl_queue_done(q, k);
    free(k);
    ctl_queue_shutdown(q);
    ctl_queue_free(q);
}

static void test_overall_bucket(void **state)
{
    struct ctl_queue_opts o = {.base_delay_ms = 1, .max_delay_ms = 1000, .qps = 10, .burst = 2};
    struct ctl_queue *q = ctl_queue_new(&o);
    /* distinct keys, no per-key history: the overall bucket spaces them 100 ms apart */
    assert_true(ctl_queue_add_rate_limited(q, "k1") <= 1);
    assert_true(ctl_queue_add_rate_limited(q, "k2") <= 1);
    uint64_t d3 = ctl_queue_add_rate_limited(q, "k3");
    uint64_t d4 = ctl_queue_add_rate_limited(q, "k4");
    assert_true(d3 >= 90 && d3 <= 110);
    assert_true(d4 >= 190 && d4 <= 210);
    ctl_queue_shutdown(q);
    ctl_queue_free(q);
}

struct pool {
    struct ctl_queue *q;
    atomic_int processed;
    atomic_int in_flight[64];
    atomic_int overlap;
};

static void *worker(void *p)
{
    struct pool *pl = p;
    char *k;
    while ((k = ctl_queue_get(pl->q)) != NULL) {
        int idx = atoi(k + 1);
        if (atomic_fetch_add(&pl->in_flight[idx], 1) != 0)
            atomic_fetch_add(&pl->overlap, 1);
        cs_sleep_ms(1);
        atomic_fetch_sub(&pl->in_flight[idx], 1);
        atomic_fetch_add(&pl->processed, 1);
        ctl_queue_done(pl->q, k);
        free(k);
    }
    return NULL;
}

static void test_workers_never_share_a_key(void **state)
{
    struct pool pl = {.q = fast_queue()};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, &pl);
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 64; i++) {
            char key[8];
            snprintf(key, sizeof(key), "k%d", i);
            ctl_queue_add(pl.q, key);
        }
    }
    /* wait until drained */
    for (int i = 0; i < 500 && (ctl_queue_len(pl.q) > 0); i++)
        cs_sleep_ms(10);
    cs_sleep_ms(50);
    ctl_queue_shutdown(pl.q);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&pl.overlap), 0);
    /* de-duplication: far fewer than 50 * 64 runs, at least one per key */
    int n = atomic_load(&pl.processed);
    assert_true(n >= 64 && n < 50 * 64);
    ctl_queue_free(pl.q);
}

static void *blocked_getter(void *p)
{
    return ctl_queue_get(p);
}

static void test_shutdown_wakes_getters(void **state)
{
    struct ctl_queue *q = fast_queue();
    pthread_t th;
    pthread_create(&th, NULL, blocked_getter, q);
    cs_sleep_ms(20);
    ctl_queue_shutdown(q);
    void *r = (void *)1;
    pthread_join(th, &r);
    assert_null(r);
    assert_true(ctl_queue_is_shutdown(q));
    ctl_queue_add(q, "after"); /* ignored */
    assert_int_equal(ctl_queue_len(q), 0);
    ctl_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup_and_fifo),
        cmocka_unit_test(test_dirty_while_processing),
        cmocka_unit_test(test_add_after_and_earliest_wins),
        cmocka_unit_test(test_rate_limited_backoff),
        cmocka_unit_test(test_overall_bucket),
        cmocka_unit_test(test_workers_never_share_a_key),
        cmocka_unit_test(test_shutdown_wakes_getters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
