/* pem.c -- certificate and key checks of fake-elb, on OpenSSL: what both clouds refuse as
 * "invalid certificate" (Huawei ELB.1011, UCloud 4111), and the fields they derive from a
 * certificate (common name, SANs, validity, fingerprint). */
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/util.h"
#include "tests/fakes/elb/fake_elb.h"

void fe_pem_info_cleanup(struct fe_pem_info *info)
{
    if (!info)
        return;
    free(info->sans);
    memset(info, 0, sizeof(*info));
}

static void say(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t n, const char *fmt, ...)
{
    if (!why || !n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
}

/* A passphrase callback that refuses: an encrypted key then fails to load. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(bool *)u = true;
    return -1;
}

static int64_t asn1_ms(const ASN1_TIME *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return 0;
    return (int64_t)timegm(&tm) * 1000;
}

static enum cs_code collect_sans(X509 *x, struct fe_pem_info *info)
{
    struct cs_buf b;
    cs_buf_init(&b, 1 << 20);
    enum cs_code rc = CS_OK;
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type != GEN_DNS)
            continue;
        const unsigned char *s = ASN1_STRING_get0_data(gn->d.dNSName);
        int len = ASN1_STRING_length(gn->d.dNSName);
        if (len <= 0 || memchr(s, ',', (size_t)len) || memchr(s, '\0', (size_t)len))
            continue; /* a comma or NUL would break the comma-separated list: skip it */
        if ((b.len && (rc = cs_buf_addc(&b, ',')) != CS_OK) ||
            (rc = cs_buf_add(&b, s, (size_t)len)) != CS_OK)
            goto out;
        info->n_sans++;
    }
    info->sans = cs_buf_take(&b);
    if (!info->sans)
        rc = CS_ENOMEM;
out:
    GENERAL_NAMES_free(names);
    cs_buf_free(&b);
    return rc;
}

enum cs_code fe_pem_check(const char *cert_pem, const char *key_pem, struct fe_pem_info *info,
                          char *why, size_t why_size)
{
    enum cs_code rc = CS_EINVAL;
    BIO *bio = NULL;
    X509 *leaf = NULL;
    EVP_PKEY *pkey = NULL;
    struct fe_pem_info tmp;
    memset(&tmp, 0, sizeof(tmp));

    if (!cert_pem || !*cert_pem) {
        say(why, why_size, "certificate is empty");
        goto out;
    }
    if (strstr(cert_pem, "PRIVATE KEY")) {
        say(why, why_size, "certificate field holds a private key");
        goto out;
    }
    bio = BIO_new_mem_buf(cert_pem, -1);
    if (!bio) {
        rc = CS_ENOMEM;
        goto out;
    }
    for (;;) {
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!x)
            break;
        tmp.chain_len++;
        if (!leaf)
            leaf = x;
        else
            X509_free(x);
        if (tmp.chain_len > FE_CHAIN_MAX)
            break;
    }
    ERR_clear_error();
    if (!leaf) {
        say(why, why_size, "certificate is not a PEM X.509 certificate");
        goto out;
    }
    if (tmp.chain_len > FE_CHAIN_MAX) {
        say(why, why_size, "certificate chain longer than %d", FE_CHAIN_MAX);
        goto out;
    }
    if (key_pem) {
        BIO_free(bio);
        bio = BIO_new_mem_buf(key_pem, -1);
        if (!bio) {
            rc = CS_ENOMEM;
            goto out;
        }
        bool asked = false;
        pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &asked);
        ERR_clear_error();
        if (!pkey) {
            if (asked || strstr(key_pem, "ENCRYPTED"))
                say(why, why_size, "private key is protected by a passphrase");
            else
                say(why, why_size, "private key is not a PEM private key");
            goto out;
        }
        if (X509_check_private_key(leaf, pkey) != 1) {
            ERR_clear_error();
            say(why, why_size, "private key does not match the certificate");
            goto out;
        }
    }
    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, tmp.common_name,
                              (int)sizeof(tmp.common_name));
    tmp.not_before_ms = asn1_ms(X509_get0_notBefore(leaf));
    tmp.not_after_ms = asn1_ms(X509_get0_notAfter(leaf));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!X509_digest(leaf, EVP_sha1(), md, &mdlen) || mdlen != 20) {
        say(why, why_size, "cannot digest the certificate");
        goto out;
    }
    cs_hex(md, mdlen, tmp.sha1_hex);
    if ((rc = collect_sans(leaf, &tmp)) != CS_OK)
        goto out;
    *info = tmp;
    memset(&tmp, 0, sizeof(tmp));
    rc = CS_OK;
out:
    fe_pem_info_cleanup(&tmp);
    EVP_PKEY_free(pkey);
    X509_free(leaf);
    BIO_free(bio);
    return rc;
}

enum cs_code fe_pem_split(const char *content, char **certs_out, char **key_out)
{
    enum cs_code rc = CS_EINVAL;
    struct cs_buf certs, key;
    cs_buf_init(&certs, 1 << 20);
    cs_buf_init_secret(&key, 1 << 20);
    int n_keys = 0;
    const char *p = content ? content : "";
    for (;;) {
        const char *begin = strstr(p, "-----BEGIN ");
        if (!begin)
            break;
        const char *label = begin + 11;
        const char *label_end = strstr(label, "-----");
        if (!label_end)
            goto out;
        size_t label_len = (size_t)(label_end - label);
        const char *end = strstr(label_end, "-----END ");
        if (!end)
            goto out;
        const char *end_close = strstr(end + 9, "-----");
        if (!end_close)
            goto out;
        end_close += 5;
        size_t len = (size_t)(end_close - begin);
        bool is_key = label_len >= 11 && memmem(label, label_len, "PRIVATE KEY", 11);
        bool is_cert = label_len == 11 && memcmp(label, "CERTIFICATE", 11) == 0;
        struct cs_buf *dst = is_key ? &key : is_cert ? &certs : NULL;
        if (is_key)
            n_keys++;
        if (dst && (cs_buf_add(dst, begin, len) != CS_OK || cs_buf_addc(dst, '\n') != CS_OK)) {
            rc = CS_ENOMEM;
            goto out;
        }
        p = end_close;
    }
    if (!certs.len || n_keys != 1)
        goto out;
    char *c = cs_buf_take(&certs);
    char *k = cs_buf_take(&key);
    if (!c || !k) {
        free(c);
        cs_secure_free_str(k);
        rc = CS_ENOMEM;
        goto out;
    }
    *certs_out = c;
    *key_out = k;
    rc = CS_OK;
out:
    cs_buf_free(&certs);
    cs_buf_free(&key);
    return rc;
}
