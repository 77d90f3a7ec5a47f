/* testlib.c -- helpers for fake-elb's tests (see testlib.h). Test certificates and keys are
 * generated at run time and never written to disk. */
#include "tests/fakes/elb/testlib.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "common/json.h"
#include "common/util.h"
#include "elb/huawei_sign.h"
#include "elb/ucloud_sign.h"

static void die(const char *what)
{
    fprintf(stderr, "testlib: %s\n", what);
    abort();
}

static char *bio_string(BIO *b)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *s = malloc((size_t)n + 1);
    if (!s)
        die("out of memory");
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    return s;
}

void fe_test_make_cert(const char *cn, const char *sans, int days, char **cert_pem,
                       char **key_pem)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!pkey || !x)
        die("key generation");
    X509_set_version(x, 2);
    unsigned char serial[8];
    RAND_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    long secs = (long)days * 86400;
    if (days >= 0) {
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), secs);
    } else {
        X509_gmtime_adj(X509_getm_notBefore(x), 2 * secs);
        X509_gmtime_adj(X509_getm_notAfter(x), secs);
    }
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, pkey);
    if (sans && *sans) {
        char ext[2048] = "";
        const char *p = sans;
        while (*p) {
            const char *c = strchr(p, ',');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            snprintf(ext + strlen(ext), sizeof(ext) - strlen(ext), "%sDNS:%.*s",
                     ext[0] ? "," : "", (int)n, p);
            p += n + (c ? 1 : 0);
        }
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, ext);
        if (!e)
            die("SAN extension");
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (!X509_sign(x, pkey, EVP_sha256()))
        die("signing");
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    if (!PEM_write_bio_X509(cb, x) ||
        !PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL))
        die("PEM");
    *cert_pem = bio_string(cb);
    *key_pem = bio_string(kb);
    BIO_free(cb);
    BIO_free(kb);
    X509_free(x);
    EVP_PKEY_free(pkey);
}

char *fe_test_encrypt_key(const char *key_pem)
{
    BIO *in = BIO_new_mem_buf(key_pem, -1);
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
    BIO *out = BIO_new(BIO_s_mem());
    if (!pkey ||
        !PEM_write_bio_PKCS8PrivateKey(out, pkey, EVP_aes_128_cbc(), "passphrase", 10, NULL,
                                       NULL))
        die("encrypting a key");
    char *s = bio_string(out);
    BIO_free(in);
    BIO_free(out);
    EVP_PKEY_free(pkey);
    return s;
}

static void add_cert(cJSON *obj, const char *field, const char *cn)
{
    char *cert, *key;
    fe_test_make_cert(cn, cn, 365, &cert, &key);
    cJSON_AddStringToObject(obj, field, cert);
    free(cert);
    cs_secure_free_str(key);
}

char *fe_test_seed(int hw_quota, int uc_quota)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *hw = cJSON_AddObjectToObject(root, "huawei");
    cJSON *a, *o, *l, *ls;

    a = cJSON_AddArrayToObject(hw, "projects");
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", T_HW_PROJECT);
    cJSON_AddStringToObject(o, "region", "cn-north-4");
    cJSON_AddItemToArray(a, o);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", T_HW_PROJECT2);
    cJSON_AddStringToObject(o, "region", "ap-southeast-1");
    cJSON_AddItemToArray(a, o);
    a = cJSON_AddArrayToObject(hw, "credentials");
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ak", T_HW_AK);
    cJSON_AddStringToObject(o, "sk", T_HW_SK);
    cJSON_AddStringToObject(o, "role", "api");
    cJSON_AddItemToArray(a, o);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ak", T_HW_CONSOLE_AK);
    cJSON_AddStringToObject(o, "sk", T_HW_CONSOLE_SK);
    cJSON_AddStringToObject(o, "role", "console");
    cJSON_AddItemToArray(a, o);
    o = cJSON_AddObjectToObject(hw, "quota");
    cJSON_AddNumberToObject(o, "certificates", hw_quota);
    a = cJSON_AddArrayToObject(hw, "certificates");
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", T_HW_SEED_CERT);
    cJSON_AddStringToObject(o, "project_id", T_HW_PROJECT);
    cJSON_AddStringToObject(o, "name", "seed-default");
    add_cert(o, "certificate", "seed.example.test");
    cJSON_AddItemToArray(a, o);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", T_HW_PROTECTED_CERT);
    cJSON_AddStringToObject(o, "project_id", T_HW_PROJECT);
    cJSON_AddStringToObject(o, "name", "k8s_plb_default_shop_web_0123abcd");
    cJSON_AddStringToObject(o, "protection_status", "consoleProtection");
    cJSON_AddStringToObject(o, "protection_reason", "CCE cluster c1");
    add_cert(o, "certificate", "protected.example.test");
    cJSON_AddItemToArray(a, o);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", T_HW_OTHER_REGION_CERT);
    cJSON_AddStringToObject(o, "project_id", T_HW_PROJECT2);
    cJSON_AddStringToObject(o, "name", "other-region");
    add_cert(o, "certificate", "other.example.test");
    cJSON_AddItemToArray(a, o);
    a = cJSON_AddArrayToObject(hw, "loadbalancers");
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", "lb-1");
    cJSON_AddStringToObject(o, "project_id", T_HW_PROJECT);
    cJSON_AddStringToObject(o, "name", "elb-1");
    ls = cJSON_AddArrayToObject(o, "listeners");
    l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "id", T_HW_LISTENER);
    cJSON_AddStringToObject(l, "protocol", "HTTPS");
    cJSON_AddNumberToObject(l, "port", 443);
    cJSON_AddStringToObject(l, "default_tls_container_ref", T_HW_SEED_CERT);
    cJSON_AddItemToArray(ls, l);
    l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "id", T_HW_LISTENER_HTTP);
    cJSON_AddStringToObject(l, "protocol", "HTTP");
    cJSON_AddNumberToObject(l, "port", 80);
    cJSON_AddItemToArray(ls, l);
    cJSON_AddItemToArray(a, o);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", "lb-2");
    cJSON_AddStringToObject(o, "project_id", T_HW_PROJECT2);
    ls = cJSON_AddArrayToObject(o, "listeners");
    l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "id", "listener-sg-443");
    cJSON_AddNumberToObject(l, "port", 443);
    cJSON_AddStringToObject(l, "default_tls_container_ref", T_HW_OTHER_REGION_CERT);
    cJSON_AddItemToArray(ls, l);
    cJSON_AddItemToArray(a, o);

    cJSON *uc = cJSON_AddObjectToObject(root, "ucloud");
    a = cJSON_AddArrayToObject(uc, "projects");
    cJSON_AddItemToArray(a, cJSON_CreateString(T_UC_PROJECT));
    a = cJSON_AddArrayToObject(uc, "regions");
    cJSON_AddItemToArray(a, cJSON_CreateString("cn-bj2"));
    cJSON_AddItemToArray(a, cJSON_CreateString("cn-sh2"));
    a = cJSON_AddArrayToObject(uc, "credentials");
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "public_key", T_UC_PUB);
    cJSON_AddStringToObject(o, "private_key", T_UC_PRIV);
    cJSON_AddItemToArray(a, o);
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "public_key", T_UC_CONSOLE_PUB);
    cJSON_AddStringToObject(o, "private_key", T_UC_CONSOLE_PRIV);
    cJSON_AddStringToObject(o, "role", "console");
    cJSON_AddItemToArray(a, o);
    o = cJSON_AddObjectToObject(uc, "quota");
    cJSON_AddNumberToObject(o, "certificates", uc_quota);
    a = cJSON_AddArrayToObject(uc, "ussl");
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "USSLId", "ussl-test0001");
    cJSON_AddStringToObject(o, "Domains", "ussl.example.test");
    add_cert(o, "UserCert", "ussl.example.test");
    cJSON_AddItemToArray(a, o);
    a = cJSON_AddArrayToObject(uc, "certificates");
    const char *certs[][3] = {{T_UC_SEED_CERT, "cn-bj2", "seed-default"},
                              {T_UC_MANAGED_CERT, "cn-bj2", "k8s_plb_default_shop_web_0123"},
                              {T_UC_SH2_CERT, "cn-sh2", "in-shanghai"}};
    for (size_t i = 0; i < 3; i++) {
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "SSLId", certs[i][0]);
        cJSON_AddStringToObject(o, "Region", certs[i][1]);
        cJSON_AddStringToObject(o, "ProjectId", T_UC_PROJECT);
        cJSON_AddStringToObject(o, "SSLName", certs[i][2]);
        add_cert(o, "UserCert", "uc.example.test");
        cJSON_AddItemToArray(a, o);
    }
    a = cJSON_AddArrayToObject(uc, "ulbs");
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ULBId", "ulb-classic1");
    cJSON_AddStringToObject(o, "Region", "cn-bj2");
    cJSON_AddStringToObject(o, "ProjectId", T_UC_PROJECT);
    cJSON_AddStringToObject(o, "ULBType", "classic");
    ls = cJSON_AddArrayToObject(o, "VServers");
    l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "VServerId", "vserver-https443");
    cJSON_AddNumberToObject(l, "FrontendPort", 443);
    cJSON *ids = cJSON_AddArrayToObject(l, "SSLIds");
    cJSON_AddItemToArray(ids, cJSON_CreateString(T_UC_SEED_CERT));
    cJSON_AddItemToArray(ls, l);
    l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "VServerId", "vserver-http80");
    cJSON_AddStringToObject(l, "Protocol", "HTTP");
    cJSON_AddNumberToObject(l, "FrontendPort", 80);
    cJSON_AddItemToArray(ls, l);
    cJSON_AddItemToArray(a, o);
    o = cJSON_CreateObject();
    /* An application load balancer: its HTTPS listener has the seeded certificate as its
     * default (ALB HTTPS listeners always have one), its HTTP listener none. */
    cJSON_AddStringToObject(o, "ULBId", T_UC_ALB);
    cJSON_AddStringToObject(o, "Name", "alb-one");
    cJSON_AddStringToObject(o, "Region", "cn-bj2");
    cJSON_AddStringToObject(o, "ProjectId", T_UC_PROJECT);
    cJSON_AddStringToObject(o, "ULBType", "alb");
    ls = cJSON_AddArrayToObject(o, "VServers");
    l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "VServerId", T_UC_ALB_LISTENER);
    cJSON_AddStringToObject(l, "VServerName", "https-443");
    cJSON_AddNumberToObject(l, "FrontendPort", 443);
    ids = cJSON_AddArrayToObject(l, "SSLIds");
    cJSON_AddItemToArray(ids, cJSON_CreateString(T_UC_SEED_CERT));
    cJSON_AddItemToArray(ls, l);
    l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "VServerId", T_UC_ALB_HTTP);
    cJSON_AddStringToObject(l, "Protocol", "HTTP");
    cJSON_AddNumberToObject(l, "FrontendPort", 80);
    cJSON_AddItemToArray(ls, l);
    cJSON_AddItemToArray(a, o);
    /* A second ALB in another region: never visible from cn-bj2. */
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ULBId", T_UC_ALB_SH2);
    cJSON_AddStringToObject(o, "Region", "cn-sh2");
    cJSON_AddStringToObject(o, "ProjectId", T_UC_PROJECT);
    cJSON_AddStringToObject(o, "ULBType", "alb");
    ls = cJSON_AddArrayToObject(o, "VServers");
    l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "VServerId", T_UC_ALB_SH2_LISTENER);
    cJSON_AddNumberToObject(l, "FrontendPort", 443);
    ids = cJSON_AddArrayToObject(l, "SSLIds");
    cJSON_AddItemToArray(ids, cJSON_CreateString(T_UC_SH2_CERT));
    cJSON_AddItemToArray(ls, l);
    cJSON_AddItemToArray(a, o);

    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char *copy = s ? strdup(s) : NULL;
    cJSON_free(s);
    if (!copy)
        die("out of memory");
    return copy;
}

void fe_test_init(struct fe_test *t, const char *seed)
{
    struct cs_err err;
    cs_json_init();
    memset(t, 0, sizeof(*t));
    if (fe_server_new(seed, strlen(seed), NULL, &t->server, &err) != CS_OK) {
        fprintf(stderr, "testlib: %s\n", err.message);
        abort();
    }
    fe_response_init(&t->resp);
    t->now_ms = cs_wall_ms();
}

void fe_test_cleanup(struct fe_test *t)
{
    cJSON_Delete(t->json);
    fe_response_cleanup(&t->resp);
    fe_server_free(t->server);
    memset(t, 0, sizeof(*t));
}

static void run(struct fe_test *t, const struct fe_request *req)
{
    cJSON_Delete(t->json);
    t->json = NULL;
    fe_server_handle(t->server, req, &t->resp);
    if (t->resp.body.len)
        t->json = cJSON_ParseWithLength(t->resp.body.ptr, t->resp.body.len);
}

int fe_test_hw_full(struct fe_test *t, const char *method, const char *path, const char *query,
                    const char *body, const char *ak, const char *sk, const char *project_header,
                    int64_t date_ms)
{
    return fe_test_hw_tampered(t, method, path, query, body, body, ak, sk, project_header,
                               date_ms);
}

int fe_test_hw_tampered(struct fe_test *t, const char *method, const char *path,
                        const char *query, const char *body, const char *sent_body,
                        const char *ak, const char *sk, const char *project_header,
                        int64_t date_ms)
{
    struct elb_query_param qp[64];
    size_t nq = 0;
    char qcopy[4096];
    struct cs_buf target, authz;
    cs_buf_init(&target, 1 << 20);
    cs_buf_init(&authz, 8192);
    cs_buf_adds(&target, path);
    snprintf(qcopy, sizeof(qcopy), "%s", query ? query : "");
    char *save = NULL;
    for (char *kv = strtok_r(qcopy, "&", &save); kv && nq < 64; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        qp[nq].key = kv;
        qp[nq].value = eq ? eq + 1 : "";
        cs_buf_addc(&target, nq ? '&' : '?');
        cs_url_encode(&target, qp[nq].key, strlen(qp[nq].key));
        cs_buf_addc(&target, '=');
        cs_url_encode(&target, qp[nq].value, strlen(qp[nq].value));
        nq++;
    }
    char date[32];
    time_t secs = (time_t)((date_ms ? date_ms : t->now_ms) / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
    struct cs_http_header signed_h[3] = {
        {"Content-Type", "application/json"},
        {"X-Sdk-Date", date},
        {"X-Project-Id", project_header},
    };
    size_t n_signed = project_header ? 3 : 2;
    const char *host = "127.0.0.1:8443";
    struct elb_hw_sign_input in = {
        .method = method,
        .host = host,
        .path = path,
        .query = qp,
        .n_query = nq,
        .headers = signed_h,
        .n_headers = n_signed,
        .body = body ? body : "",
        .body_len = body ? strlen(body) : 0,
    };
    if (elb_hw_sign(&in, ak, sk, &authz, NULL) != CS_OK) {
        cs_buf_free(&target);
        cs_buf_free(&authz);
        return -1; /* the signer refuses the request (e.g. an empty method) */
    }
    struct cs_http_header all[5];
    size_t n = 0;
    for (size_t i = 0; i < n_signed; i++)
        all[n++] = signed_h[i];
    all[n++] = (struct cs_http_header){"Host", host};
    all[n++] = (struct cs_http_header){"Authorization", cs_buf_str(&authz)};
    struct fe_request req = {
        .method = method,
        .target = cs_buf_str(&target),
        .headers = all,
        .n_headers = n,
        .body = sent_body ? sent_body : "",
        .body_len = sent_body ? strlen(sent_body) : 0,
        .now_ms = t->now_ms,
    };
    run(t, &req);
    cs_buf_free(&target);
    cs_buf_free(&authz);
    return t->resp.status;
}

int fe_test_hw(struct fe_test *t, const char *method, const char *path, const char *query,
               const char *body)
{
    return fe_test_hw_full(t, method, path, query, body, T_HW_AK, T_HW_SK, T_HW_PROJECT, 0);
}

int fe_test_uc_full(struct fe_test *t, const char *pub, const char *priv, bool json,
                    const char *const *params)
{
    struct elb_query_param qp[64];
    size_t n = 0;
    for (size_t i = 0; params[i] && params[i + 1] && n < 63; i += 2) {
        qp[n].key = params[i];
        qp[n].value = params[i + 1];
        n++;
    }
    qp[n].key = "PublicKey";
    qp[n].value = pub;
    n++;
    char sig[41];
    if (elb_ucloud_signature(qp, n, priv, sig, NULL) != CS_OK)
        return -1; /* the signer refuses the parameters */
    struct cs_buf body;
    cs_buf_init(&body, 1 << 20);
    cJSON *j = json ? cJSON_CreateObject() : NULL;
    for (size_t i = 0; i <= n; i++) {
        const char *k = i < n ? qp[i].key : "Signature";
        const char *v = i < n ? qp[i].value : sig;
        if (json) {
            cJSON_AddStringToObject(j, k, v);
        } else {
            if (i)
                cs_buf_addc(&body, '&');
            cs_url_encode(&body, k, strlen(k));
            cs_buf_addc(&body, '=');
            cs_url_encode(&body, v, strlen(v));
        }
    }
    if (json) {
        char *s = cJSON_PrintUnformatted(j);
        cs_buf_adds(&body, s);
        cJSON_free(s);
        cJSON_Delete(j);
    }
    struct cs_http_header h[1] = {
        {"Content-Type", json ? "application/json" : "application/x-www-form-urlencoded"}};
    struct fe_request req = {
        .method = "POST",
        .target = "/",
        .headers = h,
        .n_headers = 1,
        .body = cs_buf_str(&body),
        .body_len = body.len,
        .now_ms = t->now_ms,
    };
    run(t, &req);
    cs_buf_free(&body);
    const cJSON *rc = t->json ? cJSON_GetObjectItemCaseSensitive(t->json, "RetCode") : NULL;
    return cJSON_IsNumber(rc) ? rc->valueint : -1;
}

int fe_test_uc(struct fe_test *t, const char *const *params)
{
    return fe_test_uc_full(t, T_UC_PUB, T_UC_PRIV, false, params);
}

int fe_test_ctl(struct fe_test *t, const char *method, const char *path, const char *body)
{
    struct fe_request req = {
        .method = method,
        .target = path,
        .body = body ? body : "",
        .body_len = body ? strlen(body) : 0,
        .now_ms = t->now_ms,
    };
    run(t, &req);
    return t->resp.status;
}

const char *fe_test_str(const struct fe_test *t, const char *path)
{
    return t->json ? cs_json_path_str(t->json, path) : NULL;
}
