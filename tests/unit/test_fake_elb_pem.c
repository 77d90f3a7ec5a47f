/* test_fake_elb_pem.c -- fake-elb's pure parts: the PEM checks behind ELB.1011 / 4111 (table
 * of good, mismatched, encrypted, truncated, oversized-chain and misplaced inputs), the
 * derived fields, splitting UCloud's all-in-one SSLContent, and percent-decoding of
 * parameters (malformed escapes, embedded NUL, '+' in forms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "tests/fakes/elb/testlib.h"

static void test_pem_check_table(void **state)
{
    (void)state;
    char *cert, *key, *cert2, *key2;
    fe_test_make_cert("a.example.test", "a.example.test,b.example.test", 30, &cert, &key);
    fe_test_make_cert("c.example.test", NULL, 30, &cert2, &key2);
    char *enc = fe_test_encrypt_key(key);
    char *half_cert = strndup(cert, strlen(cert) / 2);
    char *half_key = strndup(key, strlen(key) / 2);
    struct cs_buf chain11, chain12, keyed;
    cs_buf_init(&chain11, 1 << 20);
    cs_buf_init(&chain12, 1 << 20);
    cs_buf_init_secret(&keyed, 1 << 20);
    for (int i = 0; i < 11; i++)
        cs_buf_adds(&chain11, i ? cert2 : cert);
    cs_buf_adds(&chain12, cs_buf_str(&chain11));
    cs_buf_adds(&chain12, cert2);
    cs_buf_adds(&keyed, cert);
    cs_buf_adds(&keyed, key);
    struct {
        const char *cert;
        const char *key;
        enum cs_code want;
        const char *why;
    } cases[] = {
        {cert, key, CS_OK, ""},
        {cert, NULL, CS_OK, ""},
        {cs_buf_str(&chain11), key, CS_OK, ""},
        {cs_buf_str(&chain12), key, CS_EINVAL, "longer than 11"},
        {cert, key2, CS_EINVAL, "does not match"},
        {cert, enc, CS_EINVAL, "passphrase"},
        {cert, half_key, CS_EINVAL, "not a PEM private key"},
        {half_cert, key, CS_EINVAL, "not a PEM X.509"},
        {"", key, CS_EINVAL, "empty"},
        {"hello", NULL, CS_EINVAL, "not a PEM X.509"},
        {cs_buf_str(&keyed), key, CS_EINVAL, "holds a private key"},
        {cert, cert, CS_EINVAL, "not a PEM private key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fe_pem_info info;
        char why[160] = "";
        enum cs_code rc = fe_pem_check(cases[i].cert, cases[i].key, &info, why, sizeof(why));
        if (rc != cases[i].want || !strstr(why, cases[i].why))
            fail_msg("case %zu: rc %d why \"%s\"", i, rc, why);
        if (rc == CS_OK)
            fe_pem_info_cleanup(&info);
    }
    struct fe_pem_info info;
    assert_int_equal(fe_pem_check(cert, key, &info, NULL, 0), CS_OK);
    assert_string_equal(info.common_name, "a.example.test");
    assert_string_equal(info.sans, "a.example.test,b.example.test");
    assert_int_equal(info.n_sans, 2);
    assert_int_equal(strlen(info.sha1_hex), 40);
    assert_true(info.not_after_ms > cs_wall_ms());
    assert_true(info.not_before_ms < cs_wall_ms());
    assert_int_equal(info.chain_len, 1);
    fe_pem_info_cleanup(&info);

    cs_buf_free(&chain11);
    cs_buf_free(&chain12);
    cs_buf_free(&keyed);
    free(half_cert);
    cs_secure_free_str(half_key);
    free(cert);
    free(cert2);
    cs_secure_free_str(key);
    cs_secure_free_str(key2);
    cs_secure_free_str(enc);
}

static void test_pem_split(void **state)
{
    (void)state;
    char *cert, *key, *cert2, *key2;
    fe_test_make_cert("s.example.test", NULL, 30, &cert, &key);
    fe_test_make_cert("t.example.test", NULL, 30, &cert2, &key2);
    struct cs_buf b;
    cs_buf_init_secret(&b, 1 << 20);
    /* key between two certificates: certificates keep their order */
    cs_buf_adds(&b, cert);
    cs_buf_adds(&b, key);
    cs_buf_adds(&b, cert2);
    char *certs = NULL, *k = NULL;
    assert_int_equal(fe_pem_split(cs_buf_str(&b), &certs, &k), CS_OK);
    assert_ptr_equal(strstr(certs, "-----BEGIN CERTIFICATE-----"), certs);
    assert_non_null(strstr(certs, "-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----"));
    assert_null(strstr(certs, "PRIVATE KEY"));
    assert_non_null(strstr(k, "PRIVATE KEY"));
    free(certs);
    cs_secure_free_str(k);
    /* two keys, no key, no certificate, truncated block */
    cs_buf_adds(&b, key2);
    certs = k = NULL;
    assert_int_equal(fe_pem_split(cs_buf_str(&b), &certs, &k), CS_EINVAL);
    assert_int_equal(fe_pem_split(cert, &certs, &k), CS_EINVAL);
    assert_int_equal(fe_pem_split(key, &certs, &k), CS_EINVAL);
    assert_int_equal(fe_pem_split("-----BEGIN CERTIFICATE-----\nAAAA", &certs, &k), CS_EINVAL);
    assert_int_equal(fe_pem_split("", &certs, &k), CS_EINVAL);
    assert_int_equal(fe_pem_split(NULL, &certs, &k), CS_EINVAL);
    assert_null(certs);
    assert_null(k);
    cs_buf_free(&b);
    free(cert);
    free(cert2);
    cs_secure_free_str(key);
    cs_secure_free_str(key2);
}

static void test_params(void **state)
{
    (void)state;
    struct {
        const char *in;
        bool plus;
        enum cs_code rc;
        size_t n;
        const char *k0, *v0;
    } cases[] = {
        {"", false, CS_OK, 0, NULL, NULL},
        {"a=1", false, CS_OK, 1, "a", "1"},
        {"a=1&&b=2&", false, CS_OK, 2, "a", "1"},
        {"a", false, CS_OK, 1, "a", ""},
        {"a=x+y", false, CS_OK, 1, "a", "x+y"},
        {"a=x+y", true, CS_OK, 1, "a", "x y"},
        {"a%3Db=c%26d", false, CS_OK, 1, "a=b", "c&d"},
        {"a=%2", false, CS_EINVAL, 0, NULL, NULL},
        {"a=%zz", false, CS_EINVAL, 0, NULL, NULL},
        {"a=%00", false, CS_EINVAL, 0, NULL, NULL},
        {"%=1", false, CS_EINVAL, 0, NULL, NULL},
        {"k=%E4%B8%AD", false, CS_OK, 1, "k", "\xe4\xb8\xad"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fe_params p = {0};
        enum cs_code rc = fe_params_parse(cases[i].in, strlen(cases[i].in), cases[i].plus, &p);
        if (rc != cases[i].rc)
            fail_msg("case %zu: rc %d", i, rc);
        assert_int_equal(p.n, cases[i].n);
        if (cases[i].k0) {
            assert_string_equal(p.items[0].key, cases[i].k0);
            assert_string_equal(p.items[0].value, cases[i].v0);
            assert_string_equal(fe_params_get(&p, cases[i].k0), cases[i].v0);
        }
        assert_null(fe_params_get(&p, "missing"));
        fe_params_free(&p);
    }
    /* repeated keys are kept in order */
    struct fe_params p = {0};
    assert_int_equal(fe_params_parse("id=1&id=2", 9, false, &p), CS_OK);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.items[1].value, "2");
    fe_params_free(&p);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pem_check_table),
        cmocka_unit_test(test_pem_split),
        cmocka_unit_test(test_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
