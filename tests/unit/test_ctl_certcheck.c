/* test_ctl_certcheck.c -- certificate validation and fingerprints (controller/certcheck.c),
 * on chains generated at test time: RSA 2048 and ECDSA P-256 leaves under an intermediate and
 * a root; expired, not yet valid, mismatched key, encrypted key, wrong order, garbage, empty,
 * too long a chain, unsupported key types and sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "common/json.h"
#include "controller/certcheck.h"
#include "tests/unit/test_ctl_support.h"

struct material {
    EVP_PKEY *root_key, *inter_key, *rsa_leaf_key, *ec_leaf_key, *other_ec, *rsa1024, *k1,
        *ed;
    X509 *root, *inter, *rsa_leaf, *ec_leaf, *expired_leaf, *future_leaf, *expired_inter,
        *k1_leaf, *ed_leaf, *rsa1024_leaf, *other_root;
    char *rsa_chain, *ec_chain, *rsa_key_pkcs8, *rsa_key_trad, *rsa_key_enc, *ec_key_pkcs8,
        *ec_key_trad, *other_ec_key;
};

static struct material M;

static const char *const SANS[] = {"shop.example.com", "WWW.Example.com", "shop.example.com",
                                   NULL};

static int setup(void **state)
{
    int64_t nb = TC_NOW_MS - 30 * TC_DAY_MS, na = TC_NOW_MS + 60 * TC_DAY_MS;
    M.root_key = tc_key_ec("P-256");
    M.inter_key = tc_key_ec("P-256");
    M.rsa_leaf_key = tc_key_rsa(2048);
    M.ec_leaf_key = tc_key_ec("P-256");
    M.other_ec = tc_key_ec("P-256");
    M.rsa1024 = tc_key_rsa(1024);
    M.k1 = tc_key_ec("secp256k1");
    M.ed = tc_key_ed25519();
    M.root = tc_cert("Test Root", NULL, M.root_key, NULL, NULL, nb, na + 365 * TC_DAY_MS, true);
    M.inter = tc_cert("Test Intermediate", NULL, M.inter_key, M.root, M.root_key, nb,
                      na + 100 * TC_DAY_MS, true);
    M.rsa_leaf = tc_cert("shop.example.com", SANS, M.rsa_leaf_key, M.inter, M.inter_key, nb, na,
                         false);
    M.ec_leaf = tc_cert("api.example.com", NULL, M.ec_leaf_key, M.inter, M.inter_key, nb, na,
                        false);
    M.expired_leaf = tc_cert("old.example.com", NULL, M.ec_leaf_key, M.inter, M.inter_key,
                             nb - 400 * TC_DAY_MS, TC_NOW_MS - TC_DAY_MS, false);
    M.future_leaf = tc_cert("new.example.com", NULL, M.ec_leaf_key, M.inter, M.inter_key,
                            TC_NOW_MS + TC_DAY_MS, na, false);
    M.expired_inter = tc_cert("Test Intermediate", NULL, M.inter_key, M.root, M.root_key,
                              nb - 400 * TC_DAY_MS, TC_NOW_MS - 2 * TC_DAY_MS, true);
    M.k1_leaf = tc_cert("k1.example.com", NULL, M.k1, M.inter, M.inter_key, nb, na, false);
    M.ed_leaf = tc_cert("ed.example.com", NULL, M.ed, M.inter, M.inter_key, nb, na, false);
    M.rsa1024_leaf = tc_cert("small.example.com", NULL, M.rsa1024, M.inter, M.inter_key, nb, na,
                             false);
    M.other_root = tc_cert("Other Root", NULL, M.other_ec, NULL, NULL, nb, na, true);
    X509 *rc[] = {M.rsa_leaf, M.inter, M.root};
    M.rsa_chain = tc_pem_certs(rc, 3);
    X509 *ec[] = {M.ec_leaf, M.inter};
    M.ec_chain = tc_pem_certs(ec, 2);
    M.rsa_key_pkcs8 = tc_pem_key(M.rsa_leaf_key, "pkcs8");
    M.rsa_key_trad = tc_pem_key(M.rsa_leaf_key, "traditional");
    M.rsa_key_enc = tc_pem_key(M.rsa_leaf_key, "encrypted");
    M.ec_key_pkcs8 = tc_pem_key(M.ec_leaf_key, "pkcs8");
    M.ec_key_trad = tc_pem_key(M.ec_leaf_key, "traditional");
    M.other_ec_key = tc_pem_key(M.other_ec, "pkcs8");
    return 0;
}

static int teardown(void **state)
{
    EVP_PKEY *keys[] = {M.root_key, M.inter_key, M.rsa_leaf_key, M.ec_leaf_key,
                        M.other_ec, M.rsa1024, M.k1, M.ed};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        EVP_PKEY_free(keys[i]);
    X509 *certs[] = {M.root, M.inter, M.rsa_leaf, M.ec_leaf, M.expired_leaf, M.future_leaf,
                     M.expired_inter, M.k1_leaf, M.ed_leaf, M.rsa1024_leaf, M.other_root};
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
        X509_free(certs[i]);
    char *s[] = {M.rsa_chain, M.ec_chain, M.rsa_key_pkcs8, M.rsa_key_trad, M.rsa_key_enc,
                 M.ec_key_pkcs8, M.ec_key_trad, M.other_ec_key};
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        free(s[i]);
    return 0;
}

static struct ctl_certcheck check(const char *crt, const char *key, const struct elb_limits *lim)
{
    struct ctl_certcheck cc;
    struct cs_err err;
    assert_int_equal(ctl_certcheck_run(crt, crt ? strlen(crt) : 0, key, key ? strlen(key) : 0,
                                       lim, TC_NOW_MS, &cc, &err),
                     CS_OK);
    return cc;
}

static void test_valid_rsa_chain(void **state)
{
    struct elb_limits lim = tc_limits_huawei();
    struct ctl_certcheck cc = check(M.rsa_chain, M.rsa_key_pkcs8, &lim);
    assert_int_equal(cc.status, CTL_CERT_OK);
    assert_string_equal(cc.reason, "");
    assert_int_equal(cc.chain_len, 3);
    assert_string_equal(cc.key_type, "RSA");
    assert_int_equal(cc.key_bits, 2048);
    assert_int_equal(strlen(cc.fingerprint), 64);
    assert_int_equal(strlen(cc.chain_digest), 64);
    assert_string_not_equal(cc.fingerprint, cc.chain_digest);
    /* CN first, then the SANs, lowercase, de-duplicated. */
    assert_int_equal(cc.n_domains, 2);
    assert_string_equal(cc.domains[0], "shop.example.com");
    assert_string_equal(cc.domains[1], "www.example.com");
    assert_int_equal(cc.not_after_ms, TC_NOW_MS + 60 * TC_DAY_MS);
    ctl_certcheck_cleanup(&cc);
    ctl_certcheck_cleanup(&cc); /* twice is fine */
}

static void test_valid_ec_chain(void **state)
{
    struct elb_limits lim = tc_limits_ucloud();
    struct ctl_certcheck cc = check(M.ec_chain, M.ec_key_pkcs8, &lim);
    assert_int_equal(cc.status, CTL_CERT_OK);
    assert_string_equal(cc.key_type, "EC P-256");
    assert_int_equal(cc.chain_len, 2);
    assert_int_equal(cc.n_domains, 1);
    assert_string_equal(cc.domains[0], "api.example.com");
    ctl_certcheck_cleanup(&cc);
}

/* The fingerprint ignores the encoding: PKCS#1/SEC1 vs PKCS#8 keys, extra text and line
 * endings around the blocks. It covers the key: same chain, other key -> other fingerprint;
 * the chain digest covers only the chain. */
static void test_fingerprint_canonical(void **state)
{
    struct elb_limits lim = tc_limits_huawei();
    struct ctl_certcheck a = check(M.rsa_chain, M.rsa_key_pkcs8, &lim);
    struct ctl_certcheck b = check(M.rsa_chain, M.rsa_key_trad, &lim);
    assert_int_equal(b.status, CTL_CERT_OK);
    assert_string_equal(a.fingerprint, b.fingerprint);
    assert_string_equal(a.chain_digest, b.chain_digest);

    char *noisy = malloc(strlen(M.rsa_chain) * 2 + 64);
    strcpy(noisy, "# issued by Test Root\r\n");
    for (const char *p = M.rsa_chain; *p; p++) {
        size_t n = strlen(noisy);
        if (*p == '\n') {
            noisy[n++] = '\r';
        }
        noisy[n++] = *p;
        noisy[n] = '\0';
    }
    strcat(noisy, "\r\n\r\n");
    struct ctl_certcheck c = check(noisy, M.rsa_key_pkcs8, &lim);
    assert_int_equal(c.status, CTL_CERT_OK);
    assert_string_equal(a.fingerprint, c.fingerprint);

    struct ctl_certcheck e1 = check(M.ec_chain, M.ec_key_pkcs8, &lim);
    struct ctl_certcheck e2 = check(M.ec_chain, M.ec_key_trad, &lim);
    assert_int_equal(e2.status, CTL_CERT_OK);
    assert_string_equal(e1.fingerprint, e2.fingerprint);
    assert_string_not_equal(a.fingerprint, e1.fingerprint);

    /* Key-only change: a chain re-issued for another key changes both; the same leaf with
     * another (mismatching) key is refused, never fingerprinted as valid. */
    X509 *re = tc_cert("api.example.com", NULL, M.other_ec, M.inter, M.inter_key,
                       TC_NOW_MS - 30 * TC_DAY_MS, TC_NOW_MS + 60 * TC_DAY_MS, false);
    X509 *rc[] = {re, M.inter};
    char *rechain = tc_pem_certs(rc, 2);
    struct ctl_certcheck f = check(rechain, M.other_ec_key, &lim);
    assert_int_equal(f.status, CTL_CERT_OK);
    assert_string_not_equal(f.fingerprint, e1.fingerprint);

    /* The chain digest equals what ctl_chain_digest computes from a read-back PEM. */
    char d[65];
    assert_int_equal(ctl_chain_digest(M.ec_chain, strlen(M.ec_chain), d, NULL), CS_OK);
    assert_string_equal(d, e1.chain_digest);
    struct cs_err err;
    assert_int_equal(ctl_chain_digest("garbage", 7, d, &err), CS_EINVAL);
    assert_int_equal(ctl_chain_digest(NULL, 0, d, &err), CS_EINVAL);

    free(rechain);
    X509_free(re);
    free(noisy);
    ctl_certcheck_cleanup(&a);
    ctl_certcheck_cleanup(&b);
    ctl_certcheck_cleanup(&c);
    ctl_certcheck_cleanup(&e1);
    ctl_certcheck_cleanup(&e2);
    ctl_certcheck_cleanup(&f);
}

enum crt_kind {
    C_RSA_CHAIN, C_EC_CHAIN, C_EMPTY, C_NULL, C_GARBAGE, C_WRONG_ORDER, C_INTER_ONLY_MISSING,
    C_EXPIRED, C_FUTURE, C_EXPIRED_INTER, C_K1, C_ED, C_RSA1024, C_TRUNCATED, C_BAD_BASE64,
    C_WITH_KEY, C_LONG_CHAIN, C_HUGE, C_FOREIGN_ROOT,
};
enum key_kind { K_RSA, K_RSA_ENC, K_EC, K_OTHER_EC, K_EMPTY, K_GARBAGE, K_K1, K_ED, K_RSA1024,
                K_HUGE, K_TRUNCATED, K_CERT_AS_KEY };

static char *make_crt(enum crt_kind k)
{
    switch (k) {
    case C_RSA_CHAIN: return strdup(M.rsa_chain);
    case C_EC_CHAIN: return strdup(M.ec_chain);
    case C_EMPTY: return strdup("");
    case C_NULL: return NULL;
    case C_GARBAGE: return strdup("this is not a certificate\n");
    case C_WRONG_ORDER: { X509 *c[] = {M.ec_leaf, M.root, M.inter}; return tc_pem_certs(c, 3); }
    case C_INTER_ONLY_MISSING: { X509 *c[] = {M.ec_leaf, M.root}; return tc_pem_certs(c, 2); }
    case C_EXPIRED: { X509 *c[] = {M.expired_leaf, M.inter}; return tc_pem_certs(c, 2); }
    case C_FUTURE: { X509 *c[] = {M.future_leaf, M.inter}; return tc_pem_certs(c, 2); }
    case C_EXPIRED_INTER: { X509 *c[] = {M.ec_leaf, M.expired_inter}; return tc_pem_certs(c, 2); }
    case C_K1: { X509 *c[] = {M.k1_leaf, M.inter}; return tc_pem_certs(c, 2); }
    case C_ED: { X509 *c[] = {M.ed_leaf, M.inter}; return tc_pem_certs(c, 2); }
    case C_RSA1024: { X509 *c[] = {M.rsa1024_leaf, M.inter}; return tc_pem_certs(c, 2); }
    case C_TRUNCATED: { char *s = strdup(M.ec_chain); s[strlen(s) / 3] = '\0'; return s; }
    case C_BAD_BASE64: {
        char *s = strdup(M.ec_chain);
        char *body = strchr(s, '\n') + 1;
        body[10] = '!';
        body[11] = '*';
        return s;
    }
    case C_WITH_KEY: {
        char *s = malloc(strlen(M.ec_chain) + strlen(M.ec_key_pkcs8) + 1);
        strcpy(s, M.ec_chain);
        strcat(s, M.ec_key_pkcs8);
        return s;
    }
    case C_LONG_CHAIN: {
        X509 *c[12] = {M.ec_leaf, M.inter, M.root};
        for (size_t i = 3; i < 12; i++)
            c[i] = M.root;
        return tc_pem_certs(c, 12);
    }
    case C_HUGE: { char *s = malloc(70000); memset(s, 'A', 69999); s[69999] = '\0'; return s; }
    case C_FOREIGN_ROOT: { X509 *c[] = {M.ec_leaf, M.other_root}; return tc_pem_certs(c, 2); }
    }
    return NULL;
}

static char *make_key(enum key_kind k)
{
    switch (k) {
    case K_RSA: return strdup(M.rsa_key_pkcs8);
    case K_RSA_ENC: return strdup(M.rsa_key_enc);
    case K_EC: return strdup(M.ec_key_pkcs8);
    case K_OTHER_EC: return strdup(M.other_ec_key);
    case K_EMPTY: return strdup("");
    case K_GARBAGE: return strdup("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n");
    case K_K1: return tc_pem_key(M.k1, "pkcs8");
    case K_ED: return tc_pem_key(M.ed, "pkcs8");
    case K_RSA1024: return tc_pem_key(M.rsa1024, "pkcs8");
    case K_HUGE: { char *s = malloc(9000); memset(s, 'A', 8999); s[8999] = '\0'; return s; }
    case K_TRUNCATED: { char *s = strdup(M.ec_key_pkcs8); s[strlen(s) / 2] = '\0'; return s; }
    case K_CERT_AS_KEY: return strdup(M.ec_chain);
    }
    return NULL;
}

struct case_ {
    const char *what;
    enum crt_kind crt;
    enum key_kind key;
    bool ucloud;
    enum ctl_cert_status want;
    const char *reason; /* substring expected in the reason */
};

static const struct case_ CASES[] = {
    {"rsa ok", C_RSA_CHAIN, K_RSA, false, CTL_CERT_OK, ""},
    {"ec ok", C_EC_CHAIN, K_EC, true, CTL_CERT_OK, ""},
    {"empty crt", C_EMPTY, K_EC, false, CTL_CERT_EMPTY, "tls.crt is missing or empty"},
    {"missing crt", C_NULL, K_EC, false, CTL_CERT_EMPTY, "tls.crt is missing or empty"},
    {"empty key", C_EC_CHAIN, K_EMPTY, false, CTL_CERT_EMPTY, "tls.key is missing or empty"},
    {"garbage crt", C_GARBAGE, K_EC, false, CTL_CERT_BAD_PEM, "tls.crt holds no PEM certificate"},
    {"truncated crt", C_TRUNCATED, K_EC, false, CTL_CERT_BAD_PEM, "does not decode"},
    {"bad base64 crt", C_BAD_BASE64, K_EC, false, CTL_CERT_BAD_PEM, "certificate 1 does not decode"},
    {"key in crt", C_WITH_KEY, K_EC, false, CTL_CERT_BAD_PEM, "tls.crt contains a private key"},
    {"garbage key", C_EC_CHAIN, K_GARBAGE, false, CTL_CERT_BAD_PEM, "tls.key does not decode"},
    {"truncated key", C_EC_CHAIN, K_TRUNCATED, false, CTL_CERT_BAD_PEM, "tls.key does not decode"},
    {"certificate as key", C_EC_CHAIN, K_CERT_AS_KEY, false, CTL_CERT_BAD_PEM, "tls.key does not decode"},
    {"encrypted key", C_RSA_CHAIN, K_RSA_ENC, false, CTL_CERT_KEY_ENCRYPTED, "encrypted with a passphrase"},
    {"mismatched key", C_EC_CHAIN, K_OTHER_EC, false, CTL_CERT_KEY_MISMATCH,
     "tls.key does not match the certificate in tls.crt"},
    {"rsa key for ec cert", C_EC_CHAIN, K_RSA, false, CTL_CERT_KEY_MISMATCH, "does not match"},
    {"wrong order", C_WRONG_ORDER, K_EC, false, CTL_CERT_CHAIN_ORDER,
     "chain out of order: certificate 2 did not issue certificate 1"},
    {"missing intermediate", C_INTER_ONLY_MISSING, K_EC, false, CTL_CERT_CHAIN_ORDER,
     "certificate 2 did not issue certificate 1"},
    {"foreign root", C_FOREIGN_ROOT, K_EC, false, CTL_CERT_CHAIN_ORDER, "certificate 2 did not issue"},
    {"expired", C_EXPIRED, K_EC, false, CTL_CERT_EXPIRED, "expired on 2026-05-31T00:00:00Z"},
    {"not yet valid", C_FUTURE, K_EC, false, CTL_CERT_NOT_YET_VALID, "not valid before 2026-06-02"},
    {"expired intermediate", C_EXPIRED_INTER, K_EC, false, CTL_CERT_EXPIRED,
     "certificate 2 of the chain in tls.crt expired on 2026-05-30"},
    {"secp256k1", C_K1, K_K1, false, CTL_CERT_KEY_UNSUPPORTED, "secp256k1"},
    {"ed25519", C_ED, K_ED, false, CTL_CERT_KEY_UNSUPPORTED, "neither an RSA nor an ECDSA key"},
    {"rsa 1024", C_RSA1024, K_RSA1024, false, CTL_CERT_KEY_UNSUPPORTED,
     "RSA key of 1024 bits: the provider accepts 2048 to 4096 bits"},
    {"chain of 12 (huawei 11)", C_LONG_CHAIN, K_EC, false, CTL_CERT_CHAIN_TOO_LONG,
     "tls.crt holds 12 certificates, the provider accepts at most 11"},
    {"huge crt", C_HUGE, K_EC, false, CTL_CERT_TOO_LARGE, "tls.crt is 69999 bytes, the provider accepts at most 65536"},
    {"huge key", C_EC_CHAIN, K_HUGE, false, CTL_CERT_TOO_LARGE, "tls.key is 8999 bytes, the provider accepts at most 8192"},
};

static void test_cases(void **state)
{
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        const struct case_ *c = &CASES[i];
        struct elb_limits lim = c->ucloud ? tc_limits_ucloud() : tc_limits_huawei();
        char *crt = make_crt(c->crt), *key = make_key(c->key);
        struct ctl_certcheck cc = check(crt, key, &lim);
        if (cc.status != c->want || !strstr(cc.reason, c->reason))
            fail_msg("case '%s': status %d reason '%s', want %d '%s'", c->what, cc.status,
                     cc.reason, c->want, c->reason);
        /* A message never carries key material. */
        assert_null(strstr(cc.reason, "BEGIN"));
        assert_null(strstr(cc.reason, "MII"));
        ctl_certcheck_cleanup(&cc);
        free(crt);
        free(key);
    }
}

static void test_limits_per_provider(void **state)
{
    /* RSA or ECDSA refused by a provider that does not take them. */
    struct elb_limits lim = tc_limits_huawei();
    lim.ecdsa = false;
    struct ctl_certcheck cc = check(M.ec_chain, M.ec_key_pkcs8, &lim);
    assert_int_equal(cc.status, CTL_CERT_KEY_UNSUPPORTED);
    assert_non_null(strstr(cc.reason, "ECDSA keys are not accepted"));
    ctl_certcheck_cleanup(&cc);
    lim = tc_limits_huawei();
    lim.rsa = false;
    cc = check(M.rsa_chain, M.rsa_key_pkcs8, &lim);
    assert_int_equal(cc.status, CTL_CERT_KEY_UNSUPPORTED);
    ctl_certcheck_cleanup(&cc);
    lim = tc_limits_huawei();
    lim.chain_max = 2;
    cc = check(M.rsa_chain, M.rsa_key_pkcs8, &lim);
    assert_int_equal(cc.status, CTL_CERT_CHAIN_TOO_LONG);
    ctl_certcheck_cleanup(&cc);
    /* No limits: defaults apply and a good chain passes. */
    cc = check(M.rsa_chain, M.rsa_key_pkcs8, NULL);
    assert_int_equal(cc.status, CTL_CERT_OK);
    ctl_certcheck_cleanup(&cc);
}

static void test_secret_fill(void **state)
{
    struct elb_limits lim = tc_limits_huawei();
    struct ctl_secret s;
    assert_int_equal(ctl_secret_fill("shop", "web-tls", CTL_SECRET_TYPE_TLS, M.rsa_chain,
                                     strlen(M.rsa_chain), M.rsa_key_pkcs8,
                                     strlen(M.rsa_key_pkcs8), &lim, TC_NOW_MS, &s, NULL),
                     CS_OK);
    assert_string_equal(s.ns, "shop");
    assert_string_equal(s.name, "web-tls");
    assert_int_equal(s.status, CTL_CERT_OK);
    assert_null(s.reason);
    assert_int_equal(strlen(s.fingerprint), 64);
    assert_int_equal(s.n_domains, 2);
    ctl_secret_cleanup(&s);
    assert_int_equal(ctl_secret_fill("shop", "bad", CTL_SECRET_TYPE_TLS, M.ec_chain,
                                     strlen(M.ec_chain), M.other_ec_key, strlen(M.other_ec_key),
                                     &lim, TC_NOW_MS, &s, NULL),
                     CS_OK);
    assert_int_equal(s.status, CTL_CERT_KEY_MISMATCH);
    assert_string_equal(s.reason, "tls.key does not match the certificate in tls.crt");
    ctl_secret_cleanup(&s);
    ctl_secret_cleanup(NULL);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_rsa_chain),
        cmocka_unit_test(test_valid_ec_chain),
        cmocka_unit_test(test_fingerprint_canonical),
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_limits_per_provider),
        cmocka_unit_test(test_secret_fill),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
