/* test_common.c -- unit tests of common/: errors, buffers, codecs, credentials files,
 * back-off, token bucket, time formats, logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/buf.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/json.h"
#include "common/kvfile.h"
#include "common/log.h"
#include "common/map.h"
#include "common/util.h"

static void test_err_set_and_prefix(void **state)
{
    struct cs_err e;
    assert_int_equal(cs_err_set(&e, CS_ETHROTTLED, 429, "slow down %d", 3), CS_ETHROTTLED);
    assert_true(e.retryable);
    assert_int_equal(e.http_status, 429);
    assert_string_equal(e.message, "slow down 3");
    cs_err_prefix(&e, "list %s", "certs");
    assert_string_equal(e.message, "list certs: slow down 3");
    assert_int_equal(cs_err_set(NULL, CS_EINVAL, 0, "x"), CS_EINVAL);
    cs_err_set(&e, CS_EINVAL, 400, NULL);
    assert_false(e.retryable);
    assert_string_equal(cs_code_name(CS_ENOTFOUND), "not_found");
    assert_string_equal(cs_code_name((enum cs_code)999), "unknown");
}

static void test_buf_bounds(void **state)
{
    struct cs_buf b;
    cs_buf_init(&b, 8);
    assert_int_equal(cs_buf_adds(&b, "12345678"), CS_OK);
    assert_int_equal(cs_buf_addc(&b, '9'), CS_ETOOBIG);
    assert_int_equal(b.len, 8);
    assert_string_equal(cs_buf_str(&b), "12345678");
    cs_buf_consume(&b, 3);
    assert_string_equal(cs_buf_str(&b), "45678");
    assert_int_equal(cs_buf_addf(&b, "%d", 12), CS_OK);
    assert_string_equal(cs_buf_str(&b), "4567812");
    assert_int_equal(cs_buf_addf(&b, "%s", "xx"), CS_ETOOBIG);
    char *s = cs_buf_take(&b);
    assert_string_equal(s, "4567812");
    free(s);
    assert_int_equal(b.len, 0);
    assert_string_equal(cs_buf_str(&b), "");
    cs_buf_free(&b);
    cs_buf_free(&b); /* twice is fine */
}

static void test_buf_secret_growth(void **state)
{
    struct cs_buf b;
    cs_buf_init_secret(&b, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(cs_buf_addf(&b, "k%03d", i), CS_OK);
    assert_int_equal(b.len, 4000);
    assert_memory_equal(b.ptr + 3996, "k999", 4);
    cs_buf_reset(&b);
    assert_int_equal(b.len, 0);
    cs_buf_free(&b);
}

static void test_base64(void **state)
{
    struct cs_buf out;
    struct cs_err e;
    cs_buf_init(&out, 0);
    assert_int_equal(cs_base64_decode("aGVsbG8gd29ybGQ=", 16, &out, &e), CS_OK);
    assert_string_equal(cs_buf_str(&out), "hello world");
    cs_buf_reset(&out);
    const char *wrapped = "aGVs\nbG8g\r\nd29y bGQ=\n";
    assert_int_equal(cs_base64_decode(wrapped, strlen(wrapped), &out, &e), CS_OK);
    assert_string_equal(cs_buf_str(&out), "hello world");
    cs_buf_reset(&out);
    assert_int_equal(cs_base64_decode("", 0, &out, &e), CS_OK);
    assert_int_equal(out.len, 0);
    assert_int_equal(cs_base64_decode("a$==", 4, &out, &e), CS_EINVAL);
    assert_int_equal(out.len, 0);
    assert_int_equal(cs_base64_decode("aGk=aGk=", 8, &out, &e), CS_EINVAL);
    /* round trip of every length up to 300 bytes */
    unsigned char raw[300];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof(raw); n += 7) {
        struct cs_buf enc, dec;
        cs_buf_init(&enc, 0);
        cs_buf_init(&dec, 0);
        assert_int_equal(cs_base64_encode(raw, n, &enc), CS_OK);
        assert_int_equal(cs_base64_decode(cs_buf_str(&enc), enc.len, &dec, &e), CS_OK);
        assert_int_equal(dec.len, n);
        if (n)
            assert_memory_equal(dec.ptr, raw, n);
        cs_buf_free(&enc);
        cs_buf_free(&dec);
    }
    cs_buf_free(&out);
}

static void test_digests_and_urlencode(void **state)
{
    char hex[65];
    cs_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char sha1[41];
    cs_sha1_hex("abc", 3, sha1);
    assert_string_equal(sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
    /* RFC 4231 test case 2 */
    unsigned char mac[32];
    cs_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    cs_hex(mac, 32, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    struct cs_buf b;
    cs_buf_init(&b, 0);
    const char *s = "a/b?c=d&e ~_.-\xe8\xaf\x81";
    assert_int_equal(cs_url_encode(&b, s, strlen(s)), CS_OK);
    assert_string_equal(cs_buf_str(&b), "a%2Fb%3Fc%3Dd%26e%20~_.-%E8%AF%81");
    cs_buf_free(&b);
}

static void test_kvfile_parse(void **state)
{
    const char *text = "# credentials\n"
                       "HUAWEICLOUD_SDK_AK=AK123\n"
                       "  export HUAWEICLOUD_SDK_SK = \"s e c r e t\"  \n"
                       "\n"
                       "EMPTY=\n"
                       "Q='single'\n"
                       "HUAWEICLOUD_SDK_AK=AK456\n";
    struct cs_kvfile *kv = NULL;
    struct cs_err e;
    assert_int_equal(cs_kvfile_parse(text, strlen(text), "creds", &kv, &e), CS_OK);
    assert_string_equal(cs_kvfile_get(kv, "HUAWEICLOUD_SDK_AK"), "AK456");
    assert_string_equal(cs_kvfile_get(kv, "HUAWEICLOUD_SDK_SK"), "s e c r e t");
    assert_string_equal(cs_kvfile_get(kv, "EMPTY"), "");
    assert_string_equal(cs_kvfile_get(kv, "Q"), "single");
    assert_null(cs_kvfile_get(kv, "MISSING"));
    cs_kvfile_free(kv);

    const char *bad = "OK=1\nthis line has no equals sign secretvalue\n";
    kv = NULL;
    assert_int_equal(cs_kvfile_parse(bad, strlen(bad), "creds", &kv, &e), CS_EINVAL);
    assert_null(kv);
    assert_string_equal(e.message, "creds:2: expected KEY=VALUE");
    assert_null(strstr(e.message, "secretvalue"));
    const char *badkey = "1KEY=x\n";
    assert_int_equal(cs_kvfile_parse(badkey, strlen(badkey), "c", &kv, &e), CS_EINVAL);
    cs_kvfile_free(NULL);
}

static void test_kvfile_load_permissions(void **state)
{
    char path[] = "/tmp/cs-kvfile-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "A=1\n", 4), 4);
    close(fd);
    chmod(path, 0600);
    struct cs_kvfile *kv = NULL;
    bool loose = true;
    struct cs_err e;
    assert_int_equal(cs_kvfile_load(path, &kv, &loose, &e), CS_OK);
    assert_false(loose);
    assert_string_equal(cs_kvfile_get(kv, "A"), "1");
    cs_kvfile_free(kv);
    chmod(path, 0644);
    assert_int_equal(cs_kvfile_load(path, &kv, &loose, &e), CS_OK);
    assert_true(loose);
    cs_kvfile_free(kv);
    unlink(path);
    assert_int_equal(cs_kvfile_load(path, &kv, &loose, &e), CS_ENOTFOUND);
    assert_non_null(strstr(e.message, path));
}

static void test_backoff(void **state)
{
    struct cs_backoff b;
    cs_backoff_init(&b, 800, 30000, 2.0, 0.0, 120000);
    uint64_t now = 1000;
    uint64_t expect[] = {800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
        assert_int_equal(cs_backoff_next(&b, now += 10), expect[i]);
    /* two quiet minutes reset it */
    assert_int_equal(cs_backoff_next(&b, now + 120000), 800);
    cs_backoff_reset(&b);
    assert_int_equal(cs_backoff_next(&b, now + 120001), 800);

    /* jitter stays inside [d, d * 1.5] */
    cs_backoff_init(&b, 100, 1000, 2.0, 0.5, 0);
    for (int i = 0; i < 200; i++) {
        uint64_t base = b.current_ms;
        uint64_t d = cs_backoff_next(&b, 5);
        assert_true(d >= base && d <= base + base / 2);
    }
}

static void test_token_bucket(void **state)
{
    struct cs_token_bucket tb;
    cs_token_bucket_init(&tb, 10.0, 2.0); /* 10/s, burst 2 */
    uint64_t t = 1000;
    assert_int_equal(cs_token_bucket_reserve(&tb, t), 0);
    assert_int_equal(cs_token_bucket_reserve(&tb, t), 0);
    assert_int_equal(cs_token_bucket_reserve(&tb, t), 100); /* third waits one interval */
    assert_int_equal(cs_token_bucket_reserve(&tb, t), 200);
    /* 300 ms later: the two reservations are paid, one token is there again */
    assert_int_equal(cs_token_bucket_reserve(&tb, t + 300), 0);
    /* never more than burst after a long pause */
    t += 100000;
    assert_int_equal(cs_token_bucket_reserve(&tb, t), 0);
    assert_int_equal(cs_token_bucket_reserve(&tb, t), 0);
    assert_true(cs_token_bucket_reserve(&tb, t) > 0);
    cs_token_bucket_cleanup(&tb);
    cs_token_bucket_init(&tb, 0, 1); /* unlimited */
    for (int i = 0; i < 100; i++)
        assert_int_equal(cs_token_bucket_reserve(&tb, 1), 0);
    cs_token_bucket_cleanup(&tb);
}

static void test_time_formats(void **state)
{
    char out[32];
    cs_format_time(1795412701123LL, true, out);
    assert_string_equal(out, "2026-11-23T05:45:01.123000Z");
    cs_format_time(1795412701123LL, false, out);
    assert_string_equal(out, "2026-11-23T05:45:01Z");
    int64_t ms;
    assert_true(cs_parse_time("2026-11-23T05:45:01.123000Z", &ms));
    assert_int_equal(ms, 1795412701123LL);
    assert_true(cs_parse_time("2026-11-23T05:45:01Z", &ms));
    assert_int_equal(ms, 1795412701000LL);
    assert_true(cs_parse_time("2026-11-23T05:45:01.5Z", &ms));
    assert_int_equal(ms, 1795412701500LL);
    assert_false(cs_parse_time("2026-11-23T05:45:01", &ms));
    assert_false(cs_parse_time("2026-11-23T05:45:01.Z", &ms));
    assert_false(cs_parse_time("yesterday", &ms));
    assert_false(cs_parse_time(NULL, &ms));
}

struct captured {
    char lines[8][512];
    int n;
};

static void capture(const char *line, void *ud)
{
    struct captured *c = ud;
    if (c->n < 8)
        snprintf(c->lines[c->n++], sizeof(c->lines[0]), "%s", line);
}

static void test_log_formats(void **state)
{
    struct captured c = {0};
    cs_log_set_sink(capture, &c);
    cs_log_configure(CS_LOG_INFO, CS_LOG_TEXT);
    cs_log_debug("hidden");
    cs_log_info("certificate rotated", "ingress", "shop/web", "note", "a \"b\"\nc");
    cs_log_configure(CS_LOG_DEBUG, CS_LOG_JSON);
    cs_log_warn("x", "k", "v", "empty", NULL);
    cs_log_set_sink(NULL, NULL);
    cs_log_configure(CS_LOG_INFO, CS_LOG_TEXT);
    assert_int_equal(c.n, 2);
    assert_non_null(strstr(c.lines[0], " level=info msg=\"certificate rotated\" ingress=shop/web "
                                       "note=\"a \\\"b\\\"\\nc\""));
    assert_null(strchr(c.lines[0], '\n'));
    assert_non_null(strstr(c.lines[1], "\"level\":\"warn\",\"msg\":\"x\",\"k\":\"v\",\"empty\":\"\"}"));
    enum cs_log_level l;
    enum cs_log_format f;
    assert_true(cs_log_parse_level("error", &l));
    assert_int_equal(l, CS_LOG_ERROR);
    assert_false(cs_log_parse_level("verbose", &l));
    assert_true(cs_log_parse_format("json", &f));
    assert_false(cs_log_parse_format("xml", &f));
}

static void test_json_helpers(void **state)
{
    cs_json_init();
    cJSON *o = cJSON_Parse("{\"metadata\":{\"name\":\"web\",\"generation\":3},"
                           "\"ok\":true,\"n\":\"x\"}");
    assert_non_null(o);
    assert_string_equal(cs_json_path_str(o, "metadata.name"), "web");
    assert_null(cs_json_path_str(o, "metadata.generation"));
    assert_null(cs_json_path_str(o, "metadata.missing.deeper"));
    assert_int_equal(cs_json_int(cs_json_path(o, "metadata"), "generation", -1), 3);
    assert_int_equal(cs_json_int(o, "n", -1), -1);
    cJSON *big = cJSON_Parse("{\"huge\":1e300,\"neg\":-1e300,\"ok\":42}");
    assert_int_equal(cs_json_int(big, "huge", -7), -7);
    assert_int_equal(cs_json_int(big, "neg", -7), -7);
    assert_int_equal(cs_json_int(big, "ok", -7), 42);
    cJSON_Delete(big);
    assert_true(cs_json_bool(o, "ok", false));
    assert_false(cs_json_bool(o, "missing", false));
    assert_null(cs_json_str(o, "ok"));
    char *printed = cJSON_PrintUnformatted(o);
    assert_non_null(strstr(printed, "\"name\":\"web\""));
    cJSON_free(printed);
    cJSON_Delete(o);
}

static void test_map_and_sets(void **state)
{
    struct cs_map m;
    cs_map_init(&m);
    assert_null(cs_map_get(&m, "x"));
    assert_null(cs_map_remove(&m, "x"));
    char keys[2000][8];
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        assert_int_equal(cs_map_put(&m, keys[i], keys[i], NULL), CS_OK);
    }
    assert_int_equal(m.len, 2000);
    void *old = NULL;
    assert_int_equal(cs_map_put(&m, "k7", "seven", &old), CS_OK);
    assert_ptr_equal(old, keys[7]);
    assert_string_equal(cs_map_get(&m, "k7"), "seven");
    assert_int_equal(m.len, 2000);
    size_t seen = 0;
    struct cs_map_iter it;
    for (struct cs_map_entry *e = cs_map_first(&m, &it); e; e = cs_map_next(&m, &it))
        seen++;
    assert_int_equal(seen, 2000);
    for (int i = 0; i < 2000; i += 2)
        assert_non_null(cs_map_remove(&m, keys[i]));
    assert_int_equal(m.len, 1000);
    assert_null(cs_map_get(&m, "k10"));
    assert_ptr_equal(cs_map_get(&m, "k11"), keys[11]);
    cs_map_cleanup(&m, NULL);

    /* map of sets */
    cs_map_init(&m);
    assert_int_equal(cs_map_set_add(&m, "shop/tls", "shop/web"), CS_OK);
    assert_int_equal(cs_map_set_add(&m, "shop/tls", "shop/api"), CS_OK);
    assert_int_equal(cs_map_set_add(&m, "shop/tls", "shop/web"), CS_OK);
    struct cs_strset *s = cs_map_get(&m, "shop/tls");
    assert_int_equal(s->n, 2);
    assert_string_equal(s->items[0], "shop/api");
    assert_true(cs_strset_has(s, "shop/web"));
    assert_false(cs_strset_has(s, "shop/web-2"));
    cs_map_set_remove(&m, "shop/tls", "shop/api");
    cs_map_set_remove(&m, "shop/tls", "shop/web");
    assert_null(cs_map_get(&m, "shop/tls"));
    cs_map_set_add(&m, "a", "1");
    cs_map_cleanup(&m, cs_strset_free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set_and_prefix),
        cmocka_unit_test(test_buf_bounds),
        cmocka_unit_test(test_buf_secret_growth),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_digests_and_urlencode),
        cmocka_unit_test(test_kvfile_parse),
        cmocka_unit_test(test_kvfile_load_permissions),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_token_bucket),
        cmocka_unit_test(test_time_formats),
        cmocka_unit_test(test_log_formats),
        cmocka_unit_test(test_json_helpers),
        cmocka_unit_test(test_map_and_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
