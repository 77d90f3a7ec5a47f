/* certcheck.c -- validation and fingerprints of tls.crt + tls.key on OpenSSL 3 (see
 * certcheck.h). Nothing here does I/O; key bytes are read in place through a memory BIO. */
#include "controller/certcheck.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/codec.h"
#include "common/util.h"

#define DEFAULT_PEM_MAX ((size_t)1024 * 1024)
#define MAX_CHAIN_PARSE 64  /* we stop reading a tls.crt beyond this many certificates */
#define MAX_DOMAINS 1000

struct chain {
    X509 *certs[MAX_CHAIN_PARSE];
    size_t n;
    bool more; /* more certificates than MAX_CHAIN_PARSE */
};

static void chain_free(struct chain *c)
{
    for (size_t i = 0; i < c->n; i++)
        X509_free(c->certs[i]);
    c->n = 0;
}

static void verdict(struct ctl_certcheck *out, enum ctl_cert_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void verdict(struct ctl_certcheck *out, enum ctl_cert_status st, const char *fmt, ...)
{
    out->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
}

static bool contains(const void *hay, size_t n, const char *needle)
{
    return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* Reads every certificate of a PEM text. Returns false when a block does not decode. */
static bool read_chain(const void *pem, size_t len, struct chain *c)
{
    bool ok = false;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return false;
    ERR_clear_error();
    for (;;) {
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!x)
            break;
        if (c->n == MAX_CHAIN_PARSE) {
            X509_free(x);
            c->more = true;
            break;
        }
        c->certs[c->n++] = x;
    }
    unsigned long e = ERR_peek_last_error();
    /* The normal end of the text: no further "-----BEGIN CERTIFICATE-----". */
    ok = c->more || e == 0 ||
         (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
    ERR_clear_error();
    BIO_free(bio);
    return ok;
}

static int refuse_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(bool *)u = true;
    return -1;
}

static int64_t asn1_ms(const ASN1_TIME *t, bool *ok)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
        *ok = false;
        return 0;
    }
    return (int64_t)timegm(&tm) * 1000;
}

static void hash_der(EVP_MD_CTX *md, const unsigned char *der, int len)
{
    unsigned char pre[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                            (unsigned char)(len >> 8), (unsigned char)len};
    EVP_DigestUpdate(md, pre, 4);
    EVP_DigestUpdate(md, der, (size_t)len);
}

/* SHA-256 over the tag and the DER of every certificate (and of the key when given). */
static bool digest(const struct chain *c, EVP_PKEY *pkey, const char *tag, char out[65])
{
    bool ok = false;
    unsigned char md_out[32];
    unsigned int md_len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        goto out;
    EVP_DigestUpdate(md, tag, strlen(tag) + 1);
    for (size_t i = 0; i < c->n; i++) {
        unsigned char *der = NULL;
        int len = i2d_X509(c->certs[i], &der);
        if (len <= 0)
            goto out;
        hash_der(md, der, len);
        OPENSSL_free(der);
    }
    if (pkey) {
        unsigned char *der = NULL;
        int len = i2d_PrivateKey(pkey, &der);
        if (len <= 0)
            goto out;
        hash_der(md, der, len);
        OPENSSL_clear_free(der, (size_t)len);
    }
    if (EVP_DigestFinal_ex(md, md_out, &md_len) != 1 || md_len != 32)
        goto out;
    cs_hex(md_out, 32, out);
    ok = true;
out:
    EVP_MD_CTX_free(md);
    return ok;
}

static enum cs_code add_domain(struct ctl_certcheck *out, const unsigned char *s, int len)
{
    if (len <= 0 || len > 253 || out->n_domains >= MAX_DOMAINS)
        return CS_OK;
    for (int i = 0; i < len; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return CS_OK; /* not a host name: left out */
    char *d = strndup((const char *)s, (size_t)len);
    if (!d)
        return CS_ENOMEM;
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (size_t i = 0; i < out->n_domains; i++)
        if (strcmp(out->domains[i], d) == 0) {
            free(d);
            return CS_OK;
        }
    char **v = realloc(out->domains, (out->n_domains + 1) * sizeof(*v));
    if (!v) {
        free(d);
        return CS_ENOMEM;
    }
    out->domains = v;
    out->domains[out->n_domains++] = d;
    return CS_OK;
}

static enum cs_code collect_domains(X509 *leaf, struct ctl_certcheck *out)
{
    enum cs_code rc = CS_OK;
    const X509_NAME *subj = X509_get_subject_name(leaf);
    int idx = subj ? X509_NAME_get_index_by_NID(subj, NID_commonName, -1) : -1;
    if (idx >= 0) {
        const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
        unsigned char *utf8 = NULL;
        int len = cn ? ASN1_STRING_to_UTF8(&utf8, cn) : -1;
        if (len > 0)
            rc = add_domain(out, utf8, len);
        OPENSSL_free(utf8);
        if (rc != CS_OK)
            return rc;
    }
    GENERAL_NAMES *sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans) && rc == CS_OK; i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
        if (gn->type == GEN_DNS)
            rc = add_domain(out, ASN1_STRING_get0_data(gn->d.dNSName),
                            ASN1_STRING_length(gn->d.dNSName));
    }
    GENERAL_NAMES_free(sans);
    return rc;
}

/* Key type and size against the provider's limits; fills key_type/key_bits. */
static bool key_accepted(EVP_PKEY *pkey, const struct elb_limits *lim, struct ctl_certcheck *out)
{
    int id = EVP_PKEY_get_base_id(pkey);
    int bits = EVP_PKEY_get_bits(pkey);
    out->key_bits = bits;
    if (id == EVP_PKEY_RSA) {
        snprintf(out->key_type, sizeof(out->key_type), "RSA");
        if (lim && !lim->rsa) {
            verdict(out, CTL_CERT_KEY_UNSUPPORTED, "RSA keys are not accepted by the provider");
            return false;
        }
        int min = lim && lim->rsa_min_bits ? lim->rsa_min_bits : 2048;
        int max = lim && lim->rsa_max_bits ? lim->rsa_max_bits : 8192;
        if (bits < min || bits > max) {
            verdict(out, CTL_CERT_KEY_UNSUPPORTED,
                    "RSA key of %d bits: the provider accepts %d to %d bits", bits, min, max);
            return false;
        }
        return true;
    }
    if (id == EVP_PKEY_EC) {
        char group[64] = "";
        size_t glen = 0;
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &glen);
        const char *curve = strcmp(group, "prime256v1") == 0  ? "P-256"
                            : strcmp(group, "secp384r1") == 0 ? "P-384"
                            : strcmp(group, "secp521r1") == 0 ? "P-521"
                                                              : NULL;
        snprintf(out->key_type, sizeof(out->key_type), "EC %s", curve ? curve : "other");
        if (lim && !lim->ecdsa) {
            verdict(out, CTL_CERT_KEY_UNSUPPORTED, "ECDSA keys are not accepted by the provider");
            return false;
        }
        if (!curve) {
            verdict(out, CTL_CERT_KEY_UNSUPPORTED,
                    "ECDSA key on curve %s: only P-256, P-384 and P-521 are accepted",
                    group[0] ? group : "(unnamed)");
            return false;
        }
        return true;
    }
    snprintf(out->key_type, sizeof(out->key_type), "other");
    verdict(out, CTL_CERT_KEY_UNSUPPORTED,
            "tls.key is neither an RSA nor an ECDSA key: the provider accepts only those");
    return false;
}

static void ordinal(size_t i, size_t n, char *buf, size_t len)
{
    if (i == 0 && n == 1)
        snprintf(buf, len, "the certificate in tls.crt");
    else if (i == 0)
        snprintf(buf, len, "the leaf certificate (1) in tls.crt");
    else
        snprintf(buf, len, "certificate %zu of the chain in tls.crt", i + 1);
}

enum cs_code ctl_certcheck_run(const void *crt, size_t crt_len, const void *key, size_t key_len,
                               const struct elb_limits *limits, int64_t now_ms,
                               struct ctl_certcheck *out, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct ctl_certcheck r = {0};
    struct chain ch = {0};
    EVP_PKEY *pkey = NULL;
    BIO *kbio = NULL;
    size_t cert_max = limits && limits->cert_pem_max ? limits->cert_pem_max : DEFAULT_PEM_MAX;
    size_t key_max = limits && limits->key_pem_max ? limits->key_pem_max : DEFAULT_PEM_MAX;
    if (cert_max > INT_MAX)
        cert_max = INT_MAX;
    if (key_max > INT_MAX)
        key_max = INT_MAX;

    if (!crt || crt_len == 0) {
        verdict(&r, CTL_CERT_EMPTY, "tls.crt is missing or empty");
        goto done;
    }
    if (!key || key_len == 0) {
        verdict(&r, CTL_CERT_EMPTY, "tls.key is missing or empty");
        goto done;
    }
    if (crt_len > cert_max) {
        verdict(&r, CTL_CERT_TOO_LARGE, "tls.crt is %zu bytes, the provider accepts at most %zu",
                crt_len, cert_max);
        goto done;
    }
    if (key_len > key_max) {
        verdict(&r, CTL_CERT_TOO_LARGE, "tls.key is %zu bytes, the provider accepts at most %zu",
                key_len, key_max);
        goto done;
    }
    if (contains(crt, crt_len, "PRIVATE KEY-----")) {
        /* It would be uploaded as certificate content: refuse rather than leak it. */
        verdict(&r, CTL_CERT_BAD_PEM, "tls.crt contains a private key: only certificates belong there");
        goto done;
    }
    if (!read_chain(crt, crt_len, &ch)) {
        verdict(&r, CTL_CERT_BAD_PEM, "tls.crt: certificate %zu does not decode as PEM",
                ch.n + 1);
        goto done;
    }
    if (ch.n == 0) {
        verdict(&r, CTL_CERT_BAD_PEM, "tls.crt holds no PEM certificate");
        goto done;
    }
    r.chain_len = ch.n;
    if (!digest(&ch, NULL, "elb-certsync-chain-v1", r.chain_digest)) {
        verdict(&r, CTL_CERT_BAD_PEM, "tls.crt: a certificate does not re-encode as DER");
        goto done;
    }
    bool tok = true;
    r.not_before_ms = asn1_ms(X509_get0_notBefore(ch.certs[0]), &tok);
    r.not_after_ms = asn1_ms(X509_get0_notAfter(ch.certs[0]), &tok);
    if ((rc = collect_domains(ch.certs[0], &r)) != CS_OK)
        goto out;

    kbio = BIO_new_mem_buf(key, (int)key_len);
    if (!kbio) {
        rc = CS_ENOMEM;
        goto out;
    }
    bool asked = false;
    ERR_clear_error();
    pkey = PEM_read_bio_PrivateKey(kbio, NULL, refuse_passphrase, &asked);
    ERR_clear_error();
    if (!pkey) {
        if (asked || contains(key, key_len, "ENCRYPTED"))
            verdict(&r, CTL_CERT_KEY_ENCRYPTED,
                    "tls.key is encrypted with a passphrase: the provider needs it unencrypted");
        else
            verdict(&r, CTL_CERT_BAD_PEM, "tls.key does not decode as a PEM private key");
        goto done;
    }
    if (!key_accepted(pkey, limits, &r))
        goto done;
    if (X509_check_private_key(ch.certs[0], pkey) != 1) {
        ERR_clear_error();
        verdict(&r, CTL_CERT_KEY_MISMATCH, "tls.key does not match the certificate in tls.crt");
        goto done;
    }
    if (!digest(&ch, pkey, "elb-certsync-fp-v1", r.fingerprint)) {
        verdict(&r, CTL_CERT_BAD_PEM, "tls.key does not re-encode as DER");
        goto done;
    }
    size_t chain_max = limits && limits->chain_max ? limits->chain_max : MAX_CHAIN_PARSE;
    if (ch.more || ch.n > chain_max) {
        verdict(&r, CTL_CERT_CHAIN_TOO_LONG,
                "tls.crt holds %s%zu certificates, the provider accepts at most %zu",
                ch.more ? "more than " : "", ch.n, chain_max);
        goto done;
    }
    for (size_t i = 0; i + 1 < ch.n; i++) {
        EVP_PKEY *issuer_key = X509_get0_pubkey(ch.certs[i + 1]);
        if (X509_check_issued(ch.certs[i + 1], ch.certs[i]) != X509_V_OK || !issuer_key ||
            X509_verify(ch.certs[i], issuer_key) != 1) {
            ERR_clear_error();
            verdict(&r, CTL_CERT_CHAIN_ORDER,
                    "chain out of order: certificate %zu did not issue certificate %zu "
                    "(tls.crt must hold the leaf first, then each issuer)",
                    i + 2, i + 1);
            goto done;
        }
    }
    for (size_t i = 0; i < ch.n; i++) {
        bool ok = true;
        int64_t nb = asn1_ms(X509_get0_notBefore(ch.certs[i]), &ok);
        int64_t na = asn1_ms(X509_get0_notAfter(ch.certs[i]), &ok);
        char what[64], when[32];
        ordinal(i, ch.n, what, sizeof(what));
        if (!ok) {
            verdict(&r, CTL_CERT_BAD_PEM, "%s has an unreadable validity period", what);
            goto done;
        }
        if (now_ms < nb) {
            cs_format_time(nb, false, when);
            verdict(&r, CTL_CERT_NOT_YET_VALID, "%s is not valid before %s", what, when);
            goto done;
        }
        if (now_ms > na) {
            cs_format_time(na, false, when);
            verdict(&r, CTL_CERT_EXPIRED, "%s expired on %s", what, when);
            goto done;
        }
    }
    r.status = CTL_CERT_OK;
    r.reason[0] = '\0';
done:
    *out = r;
    memset(&r, 0, sizeof(r));
    rc = CS_OK;
out:
    if (rc != CS_OK)
        cs_err_set(err, rc, 0, "out of memory while checking the certificate");
    ctl_certcheck_cleanup(&r);
    EVP_PKEY_free(pkey);
    BIO_free(kbio);
    chain_free(&ch);
    ERR_clear_error();
    return rc;
}

void ctl_certcheck_cleanup(struct ctl_certcheck *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_domains; i++)
        free(c->domains[i]);
    free(c->domains);
    memset(c, 0, sizeof(*c));
}

enum cs_code ctl_chain_digest(const char *pem, size_t len, char out[65], struct cs_err *err)
{
    struct chain ch = {0};
    enum cs_code rc = CS_EINVAL;
    if (!pem || len == 0 || len > INT_MAX || !read_chain(pem, len, &ch) || ch.n == 0 ||
        ch.more) {
        cs_err_set(err, CS_EINVAL, 0, "no PEM certificate chain to digest");
        goto out;
    }
    if (!digest(&ch, NULL, "elb-certsync-chain-v1", out)) {
        cs_err_set(err, CS_EINVAL, 0, "certificate does not re-encode as DER");
        goto out;
    }
    rc = CS_OK;
out:
    chain_free(&ch);
    return rc;
}

enum cs_code ctl_secret_fill(const char *ns, const char *name, const char *type, const void *crt,
                             size_t crt_len, const void *key, size_t key_len,
                             const struct elb_limits *limits, int64_t now_ms,
                             struct ctl_secret *out, struct cs_err *err)
{
    struct ctl_certcheck cc = {0};
    struct ctl_secret s = {0};
    enum cs_code rc = ctl_certcheck_run(crt, crt_len, key, key_len, limits, now_ms, &cc, err);
    if (rc != CS_OK)
        goto out;
    rc = CS_ENOMEM;
    if (!(s.ns = cs_strdup(ns)) || !(s.name = cs_strdup(name)) || (type && !(s.type = strdup(type))))
        goto out;
    if (cc.status != CTL_CERT_OK && !(s.reason = strdup(cc.reason)))
        goto out;
    s.status = cc.status;
    memcpy(s.fingerprint, cc.fingerprint, sizeof(s.fingerprint));
    memcpy(s.chain_digest, cc.chain_digest, sizeof(s.chain_digest));
    s.not_before_ms = cc.not_before_ms;
    s.not_after_ms = cc.not_after_ms;
    s.domains = cc.domains;
    s.n_domains = cc.n_domains;
    cc.domains = NULL;
    cc.n_domains = 0;
    *out = s;
    memset(&s, 0, sizeof(s));
    rc = CS_OK;
out:
    if (rc == CS_ENOMEM)
        cs_err_set(err, rc, 0, "out of memory");
    ctl_certcheck_cleanup(&cc);
    ctl_secret_cleanup(&s);
    return rc;
}
