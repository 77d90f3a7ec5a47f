/* test_ctl_support.c -- test material for the controller's unit tests (see the header). */
#include "tests/unit/test_ctl_support.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "common/codec.h"

static void die(const char *what)
{
    (void)what;
    abort();
}

EVP_PKEY *tc_key_rsa(int bits)
{
    EVP_PKEY *k = EVP_RSA_gen((unsigned)bits);
    if (!k)
        die("rsa");
    return k;
}

EVP_PKEY *tc_key_ec(const char *group)
{
    EVP_PKEY *k = EVP_EC_gen(group);
    if (!k)
        die("ec");
    return k;
}

EVP_PKEY *tc_key_ed25519(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!k)
        die("ed25519");
    return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext || !X509_add_ext(x, ext, -1))
        die("ext");
    X509_EXTENSION_free(ext);
}

X509 *tc_cert(const char *cn, const char *const *sans, EVP_PKEY *key, X509 *issuer,
              EVP_PKEY *issuer_key, int64_t nb_ms, int64_t na_ms, bool ca)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(nb_ms / 1000));
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(na_ms / 1000));
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    add_ext(x, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    add_ext(x, issuer, NID_subject_key_identifier, "hash");
    if (sans && sans[0]) {
        char buf[2048] = "";
        for (size_t i = 0; sans[i]; i++) {
            strcat(buf, i ? ",DNS:" : "DNS:");
            strcat(buf, sans[i]);
        }
        add_ext(x, issuer, NID_subject_alt_name, buf);
    }
    if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
        die("sign");
    return x;
}

static char *bio_take(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *s = malloc((size_t)n + 1);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    BIO_free(b);
    return s;
}

char *tc_pem_certs(X509 *const *certs, size_t n)
{
    BIO *b = BIO_new(BIO_s_mem());
    for (size_t i = 0; i < n; i++)
        PEM_write_bio_X509(b, certs[i]);
    return bio_take(b);
}

char *tc_pem_key(EVP_PKEY *key, const char *form)
{
    BIO *b = BIO_new(BIO_s_mem());
    int ok;
    if (strcmp(form, "traditional") == 0)
        ok = PEM_write_bio_PrivateKey_traditional(b, key, NULL, NULL, 0, NULL, NULL);
    else if (strcmp(form, "encrypted") == 0)
        ok = PEM_write_bio_PrivateKey(b, key, EVP_aes_128_cbc(), (unsigned char *)"x", 1, NULL,
                                      NULL);
    else
        ok = PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
    if (!ok)
        die("pem key");
    return bio_take(b);
}

struct elb_limits tc_limits_huawei(void)
{
    return (struct elb_limits){.name_max = 255, .name_extra_chars = "-_.", .description_max = 255,
                               .max_sni = 50, .cert_pem_max = 65536, .key_pem_max = 8192,
                               .chain_max = 11, .rsa = true, .ecdsa = true, .rsa_min_bits = 2048,
                               .rsa_max_bits = 4096, .can_rename = true, .can_import = true};
}

struct elb_limits tc_limits_ucloud(void)
{
    return (struct elb_limits){.name_max = 50, .name_extra_chars = "-_.", .description_max = 0,
                               .max_sni = 25, .cert_pem_max = 65536, .key_pem_max = 8192,
                               .chain_max = 10, .rsa = true, .ecdsa = true, .rsa_min_bits = 2048,
                               .rsa_max_bits = 4096, .can_rename = true, .can_import = true,
                               .reports_bindings = true};
}

void tc_ingress(struct ctl_ingress *ing, const char *ns, const char *name, int64_t created_ms,
                const char *class_name, const char *const *annotations, const char *const *tls)
{
    memset(ing, 0, sizeof(*ing));
    ing->ns = strdup(ns);
    ing->name = strdup(name);
    ing->uid = strdup("uid");
    ing->created_ms = created_ms;
    ing->class_name = class_name ? strdup(class_name) : NULL;
    for (size_t i = 0; annotations && annotations[i]; i++) {
        ing->annotations = realloc(ing->annotations, (i + 1) * sizeof(struct ctl_kv));
        const char *eq = strchr(annotations[i], '=');
        ing->annotations[i].key = strndup(annotations[i], (size_t)(eq - annotations[i]));
        ing->annotations[i].value = strdup(eq + 1);
        ing->n_annotations = i + 1;
    }
    for (size_t i = 0; tls && tls[i]; i++) {
        ing->tls = realloc(ing->tls, (i + 1) * sizeof(struct ctl_tls_entry));
        struct ctl_tls_entry *t = &ing->tls[i];
        memset(t, 0, sizeof(*t));
        const char *colon = strchr(tls[i], ':');
        t->secret_name = colon ? strndup(tls[i], (size_t)(colon - tls[i])) : strdup(tls[i]);
        if (colon) {
            char *hosts = strdup(colon + 1), *save = NULL;
            for (char *h = strtok_r(hosts, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
                t->hosts = realloc(t->hosts, (t->n_hosts + 1) * sizeof(char *));
                t->hosts[t->n_hosts++] = strdup(h);
            }
            free(hosts);
        }
        ing->n_tls = i + 1;
    }
}

void tc_secret(struct ctl_secret *s, const char *ns, const char *name, const char *seed,
               int64_t not_after_ms)
{
    memset(s, 0, sizeof(*s));
    s->ns = strdup(ns);
    s->name = strdup(name);
    s->type = strdup(CTL_SECRET_TYPE_TLS);
    cs_sha256_hex(seed, strlen(seed), s->fingerprint);
    char chain_seed[256];
    snprintf(chain_seed, sizeof(chain_seed), "chain:%s", seed);
    cs_sha256_hex(chain_seed, strlen(chain_seed), s->chain_digest);
    s->status = CTL_CERT_OK;
    s->not_before_ms = TC_NOW_MS - 30 * TC_DAY_MS;
    s->not_after_ms = not_after_ms;
}
