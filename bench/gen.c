/* gen.c -- bench-gen: the data set of the elb-certsync benchmarks.
 *
 * Writes, into one directory, everything a benchmark run seeds the emulators with:
 *   kube-seed.json   a List for fake-kube-apiserver --seed: Namespaces, N TLS Secrets (leaf +
 *                    CA chain, RSA-2048, about 4 KB), N Ingresses (one per listener, class cce),
 *                    and OTHER Secrets of other types (Opaque, service-account tokens, docker
 *                    configs, Helm releases) that the controller must never pay for;
 *   elb-seed.json    a fake-elb --state seed for both clouds: N/100 load balancers (at least 1)
 *                    x 100 HTTPS listeners (fewer when N < 100), each listener with a
 *                    pre-existing default certificate of its load balancer;
 *   rotations.json   new material (new serial, new key) for the first R Secrets, in order: what
 *                    the rotation phases PUT;
 *   meta.json        the parameters, written last: its presence marks a complete data set.
 *
 * Generating one RSA-2048 key per Secret would take minutes, so keys come from a pool
 * (--key-pool, 64 by default); every leaf certificate is distinct (serial, CN, SAN), so every
 * Secret still has its own fingerprint. These are throw-away benchmark keys on the
 * benchmark's own disk (directory 0700, files 0600), never anyone's real key.
 *
 * Names and IDs are fixed functions of the index (bench.py relies on them):
 *   Secret/Ingress i: namespace bench-NNN (NNN = i / 100), tls-IIIII / web-IIIII,
 *   load balancer lb-bench-NNN, port 20000 + i % 100, host hIIIII.bench.test. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/err.h"

#define PER_LB 100        /* listeners per load balancer */
#define BASE_PORT 20000
#define HW_PROJECT "b0e0c0000000400080000000000000b1"
#define HW_REGION "cn-north-4"
#define UC_PROJECT "org-bench1"
#define UC_REGION "cn-bj2"
#define MAX_SECRETS 1000000

struct opts {
    long secrets;
    long other;     /* -1: 9 x secrets */
    long rotations; /* -1: min(secrets, 1100) */
    int key_pool;
    const char *out;
};

struct ca {
    EVP_PKEY *key;
    X509 *crt;
    char *pem;
};

/* ---- small helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: filler bytes of the other Secrets (no need for real randomness there). */
static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* Base64 (one line) of len bytes; NULL on allocation failure. */
static char *b64(const unsigned char *p, size_t len)
{
    char *s = malloc(4 * ((len + 2) / 3) + 1);
    if (s)
        EVP_EncodeBlock((unsigned char *)s, p, (int)len);
    return s;
}

/* The contents of a memory BIO as a NUL-terminated string. */
static char *bio_string(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *s = malloc((size_t)n + 1);
    if (s) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    return s;
}

static char *cert_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (b && PEM_write_bio_X509(b, x))
        s = bio_string(b);
    BIO_free(b);
    return s;
}

static char *key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (b && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL))
        s = bio_string(b);
    BIO_free(b);
    return s;
}

/* Writes s as the body of a JSON string (PEM text: only newlines need escaping). */
static void json_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\n')
            fputs("\\n", f);
        else if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else
            fputc(*s, f);
    }
}

static enum cs_code add_ext(X509 *x, X509 *issuer, int nid, const char *value, struct cs_err *err)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!e || !X509_add_ext(x, e, -1)) {
        X509_EXTENSION_free(e);
        return cs_err_set(err, CS_EINVAL, 0, "cannot add extension %s", OBJ_nid2sn(nid));
    }
    X509_EXTENSION_free(e);
    return CS_OK;
}

/* A certificate for key, CN cn (and SAN dns when not NULL), signed by ca (self-signed when
 * ca is NULL: the CA itself). *out only on success. */
static enum cs_code make_cert(EVP_PKEY *key, const char *cn, const char *dns, long serial,
                              const struct ca *ca, X509 **out, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    if (!x || !name) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, ca ? X509_get_subject_name(ca->crt) : name);
    /* Valid since yesterday, for 397 days (no expiry warning within the default 30 days). */
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 397L * 86400);
    X509_set_pubkey(x, key);
    X509 *issuer = ca ? ca->crt : x;
    if (ca) {
        char san[300];
        snprintf(san, sizeof(san), "DNS:%s", dns);
        if ((rc = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE", err)) != CS_OK ||
            (rc = add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment",
                          err)) != CS_OK ||
            (rc = add_ext(x, issuer, NID_ext_key_usage, "serverAuth", err)) != CS_OK ||
            (rc = add_ext(x, issuer, NID_subject_key_identifier, "hash", err)) != CS_OK ||
            (rc = add_ext(x, issuer, NID_authority_key_identifier, "keyid", err)) != CS_OK ||
            (rc = add_ext(x, issuer, NID_subject_alt_name, san, err)) != CS_OK)
            goto out;
    } else {
        if ((rc = add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE", err)) != CS_OK ||
            (rc = add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign", err)) !=
                CS_OK ||
            (rc = add_ext(x, issuer, NID_subject_key_identifier, "hash", err)) != CS_OK)
            goto out;
    }
    if (!X509_sign(x, ca ? ca->key : key, EVP_sha256())) {
        rc = cs_err_set(err, CS_EINVAL, 0, "cannot sign the certificate of %s", cn);
        goto out;
    }
    *out = x;
    x = NULL;
out:
    X509_NAME_free(name);
    X509_free(x);
    return rc;
}

/* tls.crt (leaf + CA) and tls.key of Secret i with pool key k, base64. *crt_b64, *key_b64
 * only on success. */
static enum cs_code secret_material(const struct ca *ca, EVP_PKEY *k, const char *key_pem_text,
                                    long i, long serial, char **crt_b64, char **key_b64,
                                    struct cs_err *err)
{
    char host[64];
    snprintf(host, sizeof(host), "h%05ld.bench.test", i);
    X509 *leaf = NULL;
    char *pem = NULL, *chain = NULL, *c64 = NULL, *k64 = NULL;
    enum cs_code rc = make_cert(k, host, host, serial, ca, &leaf, err);
    if (rc != CS_OK)
        goto out;
    if (!(pem = cert_pem(leaf)) || asprintf(&chain, "%s%s", pem, ca->pem) < 0) {
        chain = NULL;
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    if (!(c64 = b64((const unsigned char *)chain, strlen(chain))) ||
        !(k64 = b64((const unsigned char *)key_pem_text, strlen(key_pem_text)))) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    *crt_b64 = c64;
    *key_b64 = k64;
    c64 = k64 = NULL;
out:
    X509_free(leaf);
    free(pem);
    free(chain);
    free(c64);
    free(k64);
    return rc;
}

/* ---- the files ---- */

static enum cs_code open_out(const char *dir, const char *name, char *tmp, size_t tmp_size,
                             FILE **out, struct cs_err *err)
{
    snprintf(tmp, tmp_size, "%s/%s.tmp", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return cs_err_set(err, CS_EIO, 0, "cannot create %s: %s", tmp, strerror(errno));
    }
    *out = f;
    return CS_OK;
}

/* Closes f and renames tmp to dir/name. */
static enum cs_code close_out(FILE *f, const char *tmp, const char *dir, const char *name,
                              struct cs_err *err)
{
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad)
        return cs_err_set(err, CS_EIO, 0, "cannot write %s", tmp);
    char final[4096];
    snprintf(final, sizeof(final), "%s/%s", dir, name);
    if (rename(tmp, final) != 0)
        return cs_err_set(err, CS_EIO, 0, "cannot rename %s: %s", tmp, strerror(errno));
    return CS_OK;
}

static const char *const other_types[] = {
    "Opaque", "kubernetes.io/service-account-token", "kubernetes.io/dockerconfigjson",
    "helm.sh/release.v1", "kubernetes.io/basic-auth", "Opaque"};

static void write_other_secret(FILE *f, long j, long n_ns)
{
    const char *type = other_types[j % (long)(sizeof(other_types) / sizeof(other_types[0]))];
    /* 300..1,300 bytes of filler, as base64: about what real clusters hold */
    unsigned char raw[1300];
    size_t len = 300 + (size_t)(rng_next() % 1000);
    for (size_t k = 0; k < len; k++)
        raw[k] = (unsigned char)rng_next();
    char *v = b64(raw, len);
    const char *key = strcmp(type, "kubernetes.io/dockerconfigjson") == 0 ? ".dockerconfigjson"
                      : strcmp(type, "kubernetes.io/service-account-token") == 0 ? "token"
                      : strcmp(type, "kubernetes.io/basic-auth") == 0           ? "password"
                      : strcmp(type, "helm.sh/release.v1") == 0                 ? "release"
                                                                                : "value";
    fprintf(f,
            ",\n{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":\"%s\",\"metadata\":"
            "{\"namespace\":\"bench-%03ld\",\"name\":\"other-%06ld\",\"labels\":{\"bench\":"
            "\"other\"}},\"data\":{\"%s\":\"%s\"}}",
            type, j % n_ns, j, key, v ? v : "");
    free(v);
}

static void write_ingress(FILE *f, long i)
{
    fprintf(f,
            ",\n{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"metadata\":"
            "{\"namespace\":\"bench-%03ld\",\"name\":\"web-%05ld\",\"annotations\":"
            "{\"kubernetes.io/elb.id\":\"lb-bench-%03ld\",\"kubernetes.io/elb.port\":\"%ld\"}},"
            "\"spec\":{\"ingressClassName\":\"cce\",\"tls\":[{\"secretName\":\"tls-%05ld\","
            "\"hosts\":[\"h%05ld.bench.test\"]}],\"rules\":[{\"host\":\"h%05ld.bench.test\","
            "\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":"
            "{\"service\":{\"name\":\"web\",\"port\":{\"number\":80}}}}]}}]}}",
            i / PER_LB, i, i / PER_LB, BASE_PORT + i % PER_LB, i, i, i);
}

/* The elb seed: both clouds, the same load balancers and ports. defaults[l] is load
 * balancer l's pre-existing default certificate (PEM). */
static void write_elb_seed(FILE *f, long n_secrets, long n_lb, char **defaults)
{
    fprintf(f, "{\"huawei\":{\"projects\":[{\"id\":\"%s\",\"region\":\"%s\"}],"
               "\"credentials\":[{\"ak\":\"BENCHAKAPI000000\",\"sk\":\"bench-sk-not-a-secret\","
               "\"role\":\"api\"}],\"quota\":{\"certificates\":%ld},\"certificates\":[",
            HW_PROJECT, HW_REGION, 3 * n_secrets + n_lb + 1000);
    for (long l = 0; l < n_lb; l++) {
        fprintf(f, "%s\n{\"id\":\"b0e0c0d0000000000000000000%06ld\",\"project_id\":\"%s\","
                   "\"name\":\"lb-default-%03ld\",\"description\":\"the listeners' own default\","
                   "\"type\":\"server\",\"certificate\":\"",
                l ? "," : "", l, HW_PROJECT, l);
        json_text(f, defaults[l]);
        fputs("\"}", f);
    }
    fputs("],\"loadbalancers\":[", f);
    for (long l = 0; l < n_lb; l++) {
        fprintf(f, "%s\n{\"id\":\"lb-bench-%03ld\",\"project_id\":\"%s\",\"name\":\"bench-%03ld\","
                   "\"listeners\":[",
                l ? "," : "", l, HW_PROJECT, l);
        long first = l * PER_LB, end = first + PER_LB < n_secrets ? first + PER_LB : n_secrets;
        for (long i = first; i < end; i++)
            fprintf(f, "%s{\"id\":\"lsn-%03ld-%03ld\",\"name\":\"https-%ld\",\"protocol\":\"HTTPS\","
                       "\"port\":%ld,\"default_tls_container_ref\":"
                       "\"b0e0c0d0000000000000000000%06ld\",\"sni_container_refs\":[]}",
                    i > first ? "," : "", l, i % PER_LB, BASE_PORT + i % PER_LB,
                    BASE_PORT + i % PER_LB, l);
        fputs("]}", f);
    }
    fprintf(f, "]},\n\"ucloud\":{\"projects\":[\"%s\"],\"regions\":[\"%s\"],"
               "\"credentials\":[{\"public_key\":\"bench-public-key\",\"private_key\":"
               "\"bench-private-key-not-a-secret\",\"role\":\"api\"}],"
               "\"quota\":{\"certificates\":%ld},\"certificates\":[",
            UC_PROJECT, UC_REGION, 3 * n_secrets + n_lb + 1000);
    for (long l = 0; l < n_lb; l++) {
        fprintf(f, "%s\n{\"SSLId\":\"ssl-b0%06lx\",\"Region\":\"%s\",\"ProjectId\":\"%s\","
                   "\"SSLName\":\"lb-default-%03ld\",\"UserCert\":\"",
                l ? "," : "", l, UC_REGION, UC_PROJECT, l);
        json_text(f, defaults[l]);
        fputs("\"}", f);
    }
    fputs("],\"ulbs\":[", f);
    for (long l = 0; l < n_lb; l++) {
        fprintf(f, "%s\n{\"ULBId\":\"lb-bench-%03ld\",\"Name\":\"bench-%03ld\",\"Region\":\"%s\","
                   "\"ProjectId\":\"%s\",\"ULBType\":\"classic\",\"VServers\":[",
                l ? "," : "", l, l, UC_REGION, UC_PROJECT);
        long first = l * PER_LB, end = first + PER_LB < n_secrets ? first + PER_LB : n_secrets;
        for (long i = first; i < end; i++)
            fprintf(f, "%s{\"VServerId\":\"vs-%03ld-%03ld\",\"VServerName\":\"https-%ld\","
                       "\"Protocol\":\"HTTPS\",\"FrontendPort\":%ld,\"SSLIds\":[\"ssl-b0%06lx\"]}",
                    i > first ? "," : "", l, i % PER_LB, BASE_PORT + i % PER_LB,
                    BASE_PORT + i % PER_LB, l);
        fputs("]}", f);
    }
    fputs("]}}\n", f);
}

static enum cs_code make_pool(int n, EVP_PKEY **keys, char **pems, struct cs_err *err)
{
    for (int k = 0; k < n; k++) {
        if (!(keys[k] = EVP_RSA_gen(2048)) || !(pems[k] = key_pem(keys[k])))
            return cs_err_set(err, CS_ENOMEM, 0, "cannot generate RSA key %d of the pool", k);
    }
    return CS_OK;
}

static enum cs_code generate(const struct opts *o, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    long n = o->secrets, n_lb = (n + PER_LB - 1) / PER_LB;
    long other = o->other >= 0 ? o->other : 9 * n;
    long rot = o->rotations >= 0 ? o->rotations : (n < 1100 ? n : 1100);
    if (rot > n)
        rot = n;
    struct ca ca = {0};
    EVP_PKEY **pool = calloc((size_t)o->key_pool, sizeof(*pool));
    char **pool_pem = calloc((size_t)o->key_pool, sizeof(*pool_pem));
    char **defaults = calloc((size_t)n_lb, sizeof(*defaults));
    FILE *f = NULL;
    char tmp[4096];
    char *c64 = NULL, *k64 = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!pool || !pool_pem || !defaults) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    if (mkdir(o->out, 0700) != 0 && errno != EEXIST) {
        rc = cs_err_set(err, CS_EIO, 0, "cannot create %s: %s", o->out, strerror(errno));
        goto out;
    }
    if ((rc = make_pool(o->key_pool, pool, pool_pem, err)) != CS_OK)
        goto out;
    if (!(ca.key = EVP_RSA_gen(2048))) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "cannot generate the CA key");
        goto out;
    }
    if ((rc = make_cert(ca.key, "elb-certsync bench CA", NULL, 1, NULL, &ca.crt, err)) != CS_OK)
        goto out;
    if (!(ca.pem = cert_pem(ca.crt))) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }

    /* kube-seed.json */
    if ((rc = open_out(o->out, "kube-seed.json", tmp, sizeof(tmp), &f, err)) != CS_OK)
        goto out;
    fputs("{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n"
          "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"IngressClass\",\"metadata\":"
          "{\"name\":\"cce\"},\"spec\":{\"controller\":\"elb-certsync.io/controller\"}}",
          f);
    for (long l = 0; l < n_lb; l++)
        fprintf(f, ",\n{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
                   "{\"name\":\"bench-%03ld\"}}",
                l);
    for (long i = 0; i < n; i++) {
        int k = (int)(i % o->key_pool);
        if ((rc = secret_material(&ca, pool[k], pool_pem[k], i, 1000 + i, &c64, &k64, err)) !=
            CS_OK)
            goto out;
        fprintf(f,
                ",\n{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":\"kubernetes.io/tls\","
                "\"metadata\":{\"namespace\":\"bench-%03ld\",\"name\":\"tls-%05ld\"},"
                "\"data\":{\"tls.crt\":\"%s\",\"tls.key\":\"%s\"}}",
                i / PER_LB, i, c64, k64);
        OPENSSL_cleanse(k64, strlen(k64));
        free(c64);
        free(k64);
        c64 = k64 = NULL;
        write_ingress(f, i);
        /* the other Secrets interleaved, as in a real cluster's etcd order */
        for (long j = i * other / n; j < (i + 1) * other / n; j++)
            write_other_secret(f, j, n_lb);
    }
    fputs("\n]}\n", f);
    rc = close_out(f, tmp, o->out, "kube-seed.json", err);
    f = NULL;
    if (rc != CS_OK)
        goto out;

    /* rotations.json: new serial and the next pool key, so both fingerprint parts change */
    if ((rc = open_out(o->out, "rotations.json", tmp, sizeof(tmp), &f, err)) != CS_OK)
        goto out;
    fputs("[", f);
    for (long i = 0; i < rot; i++) {
        int k = (int)((i + 1) % o->key_pool);
        if ((rc = secret_material(&ca, pool[k], pool_pem[k], i, 1000 + n + i, &c64, &k64,
                                  err)) != CS_OK)
            goto out;
        fprintf(f, "%s\n{\"namespace\":\"bench-%03ld\",\"name\":\"tls-%05ld\",\"index\":%ld,"
                   "\"tls.crt\":\"%s\",\"tls.key\":\"%s\"}",
                i ? "," : "", i / PER_LB, i, i, c64, k64);
        OPENSSL_cleanse(k64, strlen(k64));
        free(c64);
        free(k64);
        c64 = k64 = NULL;
    }
    fputs("\n]\n", f);
    rc = close_out(f, tmp, o->out, "rotations.json", err);
    f = NULL;
    if (rc != CS_OK)
        goto out;

    /* elb-seed.json: one pre-existing default certificate per load balancer */
    for (long l = 0; l < n_lb; l++) {
        char host[64];
        X509 *x = NULL;
        snprintf(host, sizeof(host), "default-%03ld.bench.test", l);
        if ((rc = make_cert(pool[l % o->key_pool], host, host, 500000 + l, &ca, &x, err)) !=
            CS_OK)
            goto out;
        defaults[l] = cert_pem(x);
        X509_free(x);
        if (!defaults[l]) {
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto out;
        }
    }
    if ((rc = open_out(o->out, "elb-seed.json", tmp, sizeof(tmp), &f, err)) != CS_OK)
        goto out;
    write_elb_seed(f, n, n_lb, defaults);
    rc = close_out(f, tmp, o->out, "elb-seed.json", err);
    f = NULL;
    if (rc != CS_OK)
        goto out;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    if ((rc = open_out(o->out, "meta.json", tmp, sizeof(tmp), &f, err)) != CS_OK)
        goto out;
    fprintf(f,
            "{\"secrets\":%ld,\"ingresses\":%ld,\"other_secrets\":%ld,\"load_balancers\":%ld,"
            "\"listeners_per_lb\":%d,\"base_port\":%d,\"rotations\":%ld,\"key_pool\":%d,"
            "\"key\":\"RSA-2048\",\"chain\":\"leaf+CA\",\"huawei\":{\"project\":\"%s\","
            "\"region\":\"%s\",\"ak\":\"BENCHAKAPI000000\",\"sk\":\"bench-sk-not-a-secret\"},"
            "\"ucloud\":{\"project\":\"%s\",\"region\":\"%s\",\"public_key\":"
            "\"bench-public-key\",\"private_key\":\"bench-private-key-not-a-secret\"},"
            "\"generate_seconds\":%.1f}\n",
            n, n, other, n_lb, n < PER_LB ? (int)n : PER_LB, BASE_PORT, rot, o->key_pool,
            HW_PROJECT, HW_REGION, UC_PROJECT, UC_REGION,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    rc = close_out(f, tmp, o->out, "meta.json", err);
    f = NULL;
out:
    if (f) {
        fclose(f);
        unlink(tmp);
    }
    if (k64)
        OPENSSL_cleanse(k64, strlen(k64));
    free(c64);
    free(k64);
    for (int k = 0; pool && k < o->key_pool; k++) {
        EVP_PKEY_free(pool[k]);
        if (pool_pem && pool_pem[k]) {
            OPENSSL_cleanse(pool_pem[k], strlen(pool_pem[k]));
            free(pool_pem[k]);
        }
    }
    for (long l = 0; defaults && l < n_lb; l++)
        free(defaults[l]);
    free(defaults);
    free(pool);
    free(pool_pem);
    EVP_PKEY_free(ca.key);
    X509_free(ca.crt);
    free(ca.pem);
    return rc;
}

static void usage(FILE *f)
{
    fputs("usage: bench-gen --secrets N --out DIR [--other M] [--rotations R] [--key-pool K]\n"
          "  --secrets N     TLS Secrets, Ingresses and HTTPS listeners (1..1000000)\n"
          "  --other M       Secrets of other types (default 9 x N)\n"
          "  --rotations R   rotation material for the first R Secrets (default min(N, 1100))\n"
          "  --key-pool K    RSA-2048 keys shared by the certificates (default 64)\n"
          "  --out DIR       output directory (created 0700)\n",
          f);
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    struct opts o = {.secrets = 0, .other = -1, .rotations = -1, .key_pool = 64, .out = NULL};
    static const struct option longopts[] = {
        {"secrets", required_argument, NULL, 's'}, {"other", required_argument, NULL, 'o'},
        {"rotations", required_argument, NULL, 'r'}, {"key-pool", required_argument, NULL, 'k'},
        {"out", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (!parse_long(optarg, 1, MAX_SECRETS, &o.secrets))
                goto bad;
            break;
        case 'o':
            if (!parse_long(optarg, 0, 10L * MAX_SECRETS, &o.other))
                goto bad;
            break;
        case 'r':
            if (!parse_long(optarg, 0, MAX_SECRETS, &o.rotations))
                goto bad;
            break;
        case 'k':
            if (!parse_long(optarg, 1, 4096, &v))
                goto bad;
            o.key_pool = (int)v;
            break;
        case 'd':
            o.out = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!o.secrets || !o.out || optind != argc) {
        usage(stderr);
        return 2;
    }
    struct cs_err err;
    cs_err_clear(&err);
    if (generate(&o, &err) != CS_OK) {
        fprintf(stderr, "bench-gen: %s\n", err.message);
        return 1;
    }
    return 0;
bad:
    fprintf(stderr, "bench-gen: bad value \"%s\"\n", optarg);
    usage(stderr);
    return 2;
}
