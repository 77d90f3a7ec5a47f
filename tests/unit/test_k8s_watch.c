/* test_k8s_watch.c -- the watch stream parser: the same stream fed whole, split at every byte
 * offset, byte by byte and in random pieces must give the same events; malformed, truncated
 * and oversized input gives clear, sticky errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "k8s/watch.h"

/* Strings with braces, brackets, escaped quotes and backslashes; events with and without the
 * newline; CRLF; a bookmark; an ERROR with a Status. */
static const char STREAM[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a{b}\",\"resourceVersion\":\"1\"},"
    "\"data\":{\"tls.key\":\"LS0t\\\"}{[]\\\\\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\\u007d\",\"resourceVersion\":"
    "\"2\"},\"list\":[[1,2],{\"x\":[]}]}}"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"\\\\\",\"resourceVersion\":\"3\"}}}"
    "\r\n\r\n"
    "  {\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"4\"}}}\n"
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n";

static const char EXPECT[] = "ADDED:a{b}:1 MODIFIED:a}:2 DELETED:\\:3 BOOKMARK:-:4 ERROR:-:- ";

struct sink {
    char log[2048];
    int n;
    int stop_at;
};

static enum cs_code record(enum k8s_watch_type t, const cJSON *obj, void *ud, struct cs_err *err)
{
    struct sink *s = ud;
    const char *name = cs_json_path_str(obj, "metadata.name");
    const char *rv = cs_json_path_str(obj, "metadata.resourceVersion");
    size_t l = strlen(s->log);
    snprintf(s->log + l, sizeof(s->log) - l, "%s:%s:%s ", k8s_watch_type_name(t),
             name ? name : "-", rv ? rv : "-");
    if (++s->n == s->stop_at)
        return cs_err_set(err, CS_ECANCELED, 0, "enough");
    return CS_OK;
}

static void run_pieces(const size_t *cuts, size_t n_cuts, struct sink *s)
{
    struct k8s_watch_parser *p = NULL;
    assert_int_equal(k8s_watch_parser_new(0, record, s, &p, NULL), CS_OK);
    size_t prev = 0, len = strlen(STREAM);
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        struct cs_err e;
        enum cs_code rc = k8s_watch_parser_feed(p, STREAM + prev, end - prev, &e);
        if (rc != CS_OK)
            print_error("feed [%zu,%zu): %s\n", prev, end, e.message);
        assert_int_equal(rc, CS_OK);
        prev = end;
    }
    assert_int_equal(k8s_watch_parser_finish(p, NULL), CS_OK);
    assert_int_equal(k8s_watch_parser_events(p), 5);
    k8s_watch_parser_free(p);
}

static void test_whole(void **state)
{
    struct sink s = {0};
    run_pieces(NULL, 0, &s);
    assert_string_equal(s.log, EXPECT);
}

static void test_every_offset(void **state)
{
    size_t len = strlen(STREAM);
    for (size_t cut = 0; cut <= len; cut++) {
        struct sink s = {0};
        run_pieces(&cut, 1, &s);
        assert_string_equal(s.log, EXPECT);
    }
}

static void test_byte_by_byte(void **state)
{
    size_t len = strlen(STREAM);
    size_t *cuts = malloc(len * sizeof(*cuts));
    for (size_t i = 0; i < len; i++)
        cuts[i] = i;
    struct sink s = {0};
    run_pieces(cuts, len, &s);
    assert_string_equal(s.log, EXPECT);
    free(cuts);
}

static void test_random_pieces(void **state)
{
    size_t len = strlen(STREAM);
    srand(12345);
    for (int round = 0; round < 300; round++) {
        size_t cuts[64], n = 0, pos = 0;
        while (n < 64) {
            pos += 1 + (size_t)rand() % 40;
            if (pos >= len)
                break;
            cuts[n++] = pos;
        }
        struct sink s = {0};
        run_pieces(cuts, n, &s);
        assert_string_equal(s.log, EXPECT);
    }
}

struct bad_case {
    const char *name;
    const char *input;
    size_t max;
    enum cs_code feed_code;   /* from feed */
    enum cs_code finish_code; /* from finish, when feed succeeded */
    int events;
};

static const struct bad_case BAD[] = {
    {"garbage first", "hello", 0, CS_EPROTO, CS_OK, 0},
    {"array", "[{\"type\":\"ADDED\",\"object\":{}}]", 0, CS_EPROTO, CS_OK, 0},
    {"garbage after", "{\"type\":\"ADDED\",\"object\":{}}\nxyz", 0, CS_EPROTO, CS_OK, 1},
    {"bad json", "{\"type\":}", 0, CS_EPROTO, CS_OK, 0},
    {"mismatched", "{\"type\":\"ADDED\",\"object\":{]}", 0, CS_EPROTO, CS_OK, 0},
    {"no type", "{\"object\":{}}", 0, CS_EPROTO, CS_OK, 0},
    {"type not string", "{\"type\":1,\"object\":{}}", 0, CS_EPROTO, CS_OK, 0},
    {"unknown type", "{\"type\":\"EXPLODED\",\"object\":{}}", 0, CS_EPROTO, CS_OK, 0},
    {"no object", "{\"type\":\"ADDED\"}", 0, CS_EPROTO, CS_OK, 0},
    {"object not object", "{\"type\":\"ADDED\",\"object\":\"x\"}", 0, CS_EPROTO, CS_OK, 0},
    {"truncated", "{\"type\":\"ADDED\",\"object\":{\"a\":\"}", 0, CS_OK, CS_EPROTO, 0},
    {"truncated after one", "{\"type\":\"ADDED\",\"object\":{}}{", 0, CS_OK, CS_EPROTO, 1},
    {"too big", "{\"type\":\"ADDED\",\"object\":{\"a\":\"0123456789\"}}", 30, CS_ETOOBIG, CS_OK, 0},
    {"exactly the limit", "{\"type\":\"ADDED\",\"object\":{}}", 28, CS_OK, CS_OK, 1},
    {"one over the limit", "{\"type\":\"ADDED\",\"object\":{}}", 27, CS_ETOOBIG, CS_OK, 0},
    {"empty", "", 0, CS_OK, CS_OK, 0},
    {"whitespace", " \n\r\n\t", 0, CS_OK, CS_OK, 0},
};

static void test_bad_streams(void **state)
{
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        const struct bad_case *c = &BAD[i];
        /* whole and byte by byte must agree */
        for (int mode = 0; mode < 2; mode++) {
            struct sink s = {0};
            struct k8s_watch_parser *p = NULL;
            struct cs_err e;
            cs_err_clear(&e);
            assert_int_equal(k8s_watch_parser_new(c->max, record, &s, &p, NULL), CS_OK);
            enum cs_code rc = CS_OK;
            size_t len = strlen(c->input);
            if (mode == 0)
                rc = k8s_watch_parser_feed(p, c->input, len, &e);
            for (size_t j = 0; mode == 1 && j < len && rc == CS_OK; j++)
                rc = k8s_watch_parser_feed(p, c->input + j, 1, &e);
            if (rc != c->feed_code || s.n != c->events) {
                print_error("case '%s' mode %d: feed %s (%s), %d events\n", c->name, mode,
                            cs_code_name(rc), e.message, s.n);
                fail();
            }
            if (rc != CS_OK) {
                assert_non_null(strstr(e.message, "watch stream"));
                /* sticky */
                assert_int_equal(k8s_watch_parser_feed(p, "{}", 2, &e), rc);
                assert_int_equal(k8s_watch_parser_finish(p, &e), rc);
            } else {
                assert_int_equal(k8s_watch_parser_finish(p, &e), c->finish_code);
            }
            k8s_watch_parser_free(p);
        }
    }
}

static void test_handler_stops(void **state)
{
    struct sink s = {.stop_at = 2};
    struct k8s_watch_parser *p = NULL;
    struct cs_err e;
    assert_int_equal(k8s_watch_parser_new(0, record, &s, &p, NULL), CS_OK);
    assert_int_equal(k8s_watch_parser_feed(p, STREAM, strlen(STREAM), &e), CS_ECANCELED);
    assert_string_equal(e.message, "enough");
    assert_int_equal(s.n, 2);
    assert_int_equal(k8s_watch_parser_feed(p, STREAM, strlen(STREAM), &e), CS_ECANCELED);
    assert_int_equal(s.n, 2);
    k8s_watch_parser_free(p);
    k8s_watch_parser_free(NULL);
    assert_string_equal(k8s_watch_type_name((enum k8s_watch_type)99), "UNKNOWN");
}

static void test_big_event_spanning_feeds(void **state)
{
    /* a 1 MiB Secret arriving in 1000-byte pieces */
    size_t n = 1024 * 1024;
    char *big = malloc(n + 100);
    int h = snprintf(big, 100, "{\"type\":\"ADDED\",\"object\":{\"data\":\"");
    memset(big + h, 'k', n - (size_t)h - 4);
    memcpy(big + n - 4, "\"}}\n", 4);
    struct sink s = {0};
    struct k8s_watch_parser *p = NULL;
    assert_int_equal(k8s_watch_parser_new(n, record, &s, &p, NULL), CS_OK);
    for (size_t off = 0; off < n; off += 1000)
        assert_int_equal(k8s_watch_parser_feed(p, big + off, off + 1000 > n ? n - off : 1000,
                                               NULL),
                         CS_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(k8s_watch_parser_finish(p, NULL), CS_OK);
    k8s_watch_parser_free(p);
    free(big);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole),
        cmocka_unit_test(test_every_offset),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_random_pieces),
        cmocka_unit_test(test_bad_streams),
        cmocka_unit_test(test_handler_stops),
        cmocka_unit_test(test_big_event_spanning_feeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
