/* test_reconcile_key.c -- ctl_listener_key_parse (reconcile.c): both key forms of desired.h,
 * the round trip with ctl_listener_key, and malformed keys (a table each). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/desired.h"
#include "controller/reconcile.h"

struct key_case {
    const char *key;
    bool ok;
    const char *region;
    const char *lb;
    const char *listener; /* "" for the port form */
    int port;
};

static const struct key_case key_cases[] = {
    {"cn-north-4/lb-1/port:443", true, "cn-north-4", "lb-1", "", 443},
    {"cn-north-4/lb-1/port:1", true, "cn-north-4", "lb-1", "", 1},
    {"cn-north-4/lb-1/port:65535", true, "cn-north-4", "lb-1", "", 65535},
    {"cn-north-4/lb-1/listener:5e1c-77", true, "cn-north-4", "lb-1", "5e1c-77", 0},
    {"r/l/listener:x", true, "r", "l", "x", 0},
    {"cn-bj2/ulb-abc/listener:vserver-xyz", true, "cn-bj2", "ulb-abc", "vserver-xyz", 0},
    /* A listener ID may hold ':' (only '/' separates). */
    {"r/lb/listener:a:b", true, "r", "lb", "a:b", 0},
    /* Malformed. */
    {"", false, NULL, NULL, NULL, 0},
    {"r", false, NULL, NULL, NULL, 0},
    {"r/lb", false, NULL, NULL, NULL, 0},
    {"r/lb/", false, NULL, NULL, NULL, 0},
    {"/lb/port:443", false, NULL, NULL, NULL, 0},
    {"r//port:443", false, NULL, NULL, NULL, 0},
    {"r/lb/port:", false, NULL, NULL, NULL, 0},
    {"r/lb/port:0", false, NULL, NULL, NULL, 0},
    {"r/lb/port:65536", false, NULL, NULL, NULL, 0},
    /* non-canonical ports: keys are compared as text */
    {"r/lb/port: 443", false, NULL, NULL, NULL, 0},
    {"r/lb/port:+443", false, NULL, NULL, NULL, 0},
    {"r/lb/port:0443", false, NULL, NULL, NULL, 0},
    {"r/lb/port:443 ", false, NULL, NULL, NULL, 0},
    {"r/lb/port:9999999999999999999999", false, NULL, NULL, NULL, 0},
    {"r/lb/port:-1", false, NULL, NULL, NULL, 0},
    {"r/lb/port:443x", false, NULL, NULL, NULL, 0},
    {"r/lb/port:99999999999999999999", false, NULL, NULL, NULL, 0},
    {"r/lb/port:443/", false, NULL, NULL, NULL, 0},
    {"r/lb/listener:", false, NULL, NULL, NULL, 0},
    {"r/lb/listener:a/b", false, NULL, NULL, NULL, 0},
    {"r/lb/Listener:a", false, NULL, NULL, NULL, 0},
    {"r/lb/PORT:443", false, NULL, NULL, NULL, 0},
    {"r/lb/443", false, NULL, NULL, NULL, 0},
    {"r/lb/id:443", false, NULL, NULL, NULL, 0},
    {"r/lb/port443", false, NULL, NULL, NULL, 0},
    {"r/a/b/port:443", false, NULL, NULL, NULL, 0},
};

static void test_key_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
        const struct key_case *c = &key_cases[i];
        char region[64], lb[64], lid[64];
        int port = -7;
        /* Pre-fill with garbage: a successful parse must overwrite every output. */
        memset(region, 'X', sizeof(region));
        memset(lb, 'X', sizeof(lb));
        memset(lid, 'X', sizeof(lid));
        bool ok = ctl_listener_key_parse(c->key, region, sizeof(region), lb, sizeof(lb), lid,
                                         sizeof(lid), &port);
        if (ok != c->ok)
            fail_msg("case %zu (%s): parse returned %d, expected %d", i, c->key, ok, c->ok);
        if (!c->ok)
            continue;
        assert_string_equal(region, c->region);
        assert_string_equal(lb, c->lb);
        assert_string_equal(lid, c->listener);
        assert_int_equal(port, c->port);
    }
}

/* Every key ctl_listener_key builds parses back to its parts. */
static void test_key_round_trip(void **state)
{
    (void)state;
    static const struct {
        const char *region, *lb, *listener;
        int port;
    } parts[] = {
        {"cn-north-4", "0f3b8e9a-lb", NULL, 443},
        {"cn-north-4", "0f3b8e9a-lb", NULL, 1},
        {"cn-north-4", "0f3b8e9a-lb", NULL, 65535},
        {"ap-southeast-1", "lb", "2b9c41a0-91c3-4b7e-8a1e-000000000001", 0},
        {"cn-bj2", "ulb-xyz", "vserver-1", 0},
        {"r", "l", "i", 0},
    };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        char *k = ctl_listener_key(parts[i].region, parts[i].lb, parts[i].listener,
                                   parts[i].port);
        assert_non_null(k);
        char region[64], lb[64], lid[64];
        int port = -1;
        assert_true(ctl_listener_key_parse(k, region, sizeof(region), lb, sizeof(lb), lid,
                                           sizeof(lid), &port));
        assert_string_equal(region, parts[i].region);
        assert_string_equal(lb, parts[i].lb);
        assert_string_equal(lid, parts[i].listener ? parts[i].listener : "");
        assert_int_equal(port, parts[i].listener ? 0 : parts[i].port);
        /* And building again from the parsed parts gives the same key. */
        char *again = ctl_listener_key(region, lb, lid[0] ? lid : NULL, port);
        assert_non_null(again);
        assert_string_equal(again, k);
        free(again);
        free(k);
    }
}

/* Parts that do not fit the caller's buffers are refused, never truncated or overrun. */
static void test_key_buffer_sizes(void **state)
{
    (void)state;
    char region[8], lb[8], lid[8];
    int port;
    /* Exactly size - 1 characters fit. */
    assert_true(ctl_listener_key_parse("1234567/abcdefg/listener:ABCDEFG", region,
                                       sizeof(region), lb, sizeof(lb), lid, sizeof(lid), &port));
    assert_string_equal(region, "1234567");
    assert_string_equal(lb, "abcdefg");
    assert_string_equal(lid, "ABCDEFG");
    assert_false(ctl_listener_key_parse("12345678/lb/port:443", region, sizeof(region), lb,
                                        sizeof(lb), lid, sizeof(lid), &port));
    assert_false(ctl_listener_key_parse("r/abcdefgh/port:443", region, sizeof(region), lb,
                                        sizeof(lb), lid, sizeof(lid), &port));
    assert_false(ctl_listener_key_parse("r/lb/listener:ABCDEFGH", region, sizeof(region), lb,
                                        sizeof(lb), lid, sizeof(lid), &port));
    /* A region that does not fit is refused even when the rest is well formed. */
    char tiny[1];
    assert_false(ctl_listener_key_parse("r/lb/port:443", tiny, sizeof(tiny), lb, sizeof(lb), lid,
                                        sizeof(lid), &port));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_table),
        cmocka_unit_test(test_key_round_trip),
        cmocka_unit_test(test_key_buffer_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
