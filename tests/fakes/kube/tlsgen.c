/* tlsgen.c -- TLS material generated in memory at start: a self-signed CA and a server
 * certificate it signs, valid for 127.0.0.1 and localhost, both on ECDSA P-256 keys. Only the
 * CA certificate ever leaves the process (--ca-out, the kubeconfig); the keys are PEM in
 * memory for the HTTP server and are cleansed on cleanup. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "tests/fakes/kube/fk.h"

static char *bio_to_str(BIO *b)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    if (n <= 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return false;
    bool ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       bool ca)
{
    X509 *c = X509_new();
    if (!c)
        return NULL;
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(c))) {
        BN_free(bn);
        goto fail;
    }
    BN_free(bn);
    X509_set_version(c, 2);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 365L * 24 * 3600);
    X509_set_pubkey(c, key);
    X509_NAME *name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"fake-kube-apiserver",
                               -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
    X509 *iss = issuer ? issuer : c;
    bool ok = add_ext(c, iss, NID_subject_key_identifier, "hash");
    if (ca)
        ok = ok && add_ext(c, iss, NID_basic_constraints, "critical,CA:TRUE") &&
             add_ext(c, iss, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    else
        ok = ok && add_ext(c, iss, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(c, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment") &&
             add_ext(c, iss, NID_ext_key_usage, "serverAuth") &&
             add_ext(c, iss, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost") &&
             add_ext(c, iss, NID_authority_key_identifier, "keyid:always");
    if (!ok || X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()) == 0)
        goto fail;
    return c;
fail:
    X509_free(c);
    return NULL;
}

enum cs_code fk_tls_generate(struct fk_tls *out, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *srv_key = EVP_EC_gen("P-256");
    X509 *ca = NULL, *crt = NULL;
    BIO *b1 = BIO_new(BIO_s_mem()), *b2 = BIO_new(BIO_s_mem()), *b3 = BIO_new(BIO_s_mem());
    struct fk_tls t = {0};
    if (!ca_key || !srv_key || !b1 || !b2 || !b3) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "cannot generate keys");
        goto out;
    }
    if (!(ca = make_cert(ca_key, "fake-kube-apiserver-ca", NULL, NULL, true)) ||
        !(crt = make_cert(srv_key, "fake-kube-apiserver", ca, ca_key, false))) {
        rc = cs_err_set(err, CS_EIO, 0, "cannot make certificates");
        goto out;
    }
    if (PEM_write_bio_X509(b1, ca) != 1 || PEM_write_bio_X509(b2, crt) != 1 ||
        PEM_write_bio_PrivateKey(b3, srv_key, NULL, NULL, 0, NULL, NULL) != 1 ||
        !(t.ca_pem = bio_to_str(b1)) || !(t.cert_pem = bio_to_str(b2)) ||
        !(t.key_pem = bio_to_str(b3))) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "cannot encode certificates");
        goto out;
    }
    *out = t;
    memset(&t, 0, sizeof(t));
out:
    fk_tls_cleanup(&t);
    if (b3) {
        char *d;
        long n = BIO_get_mem_data(b3, &d);
        if (n > 0)
            OPENSSL_cleanse(d, (size_t)n);
    }
    BIO_free(b1);
    BIO_free(b2);
    BIO_free(b3);
    X509_free(ca);
    X509_free(crt);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    return rc;
}

void fk_tls_cleanup(struct fk_tls *t)
{
    free(t->ca_pem);
    free(t->cert_pem);
    cs_secure_free_str(t->key_pem);
    memset(t, 0, sizeof(*t));
}
