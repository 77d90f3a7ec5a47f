/* testlib.h -- helpers for fake-elb's tests: test certificates made with OpenSSL at run time,
 * seeds built around them, and requests signed with the project's signers, driven straight
 * into fe_server_handle (unit tests) or sent over HTTP (integration test). */
#ifndef FAKE_ELB_TESTLIB_H
#define FAKE_ELB_TESTLIB_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "tests/fakes/elb/fake_elb.h"

/* Test-only credentials and IDs used by fe_test_seed(). */
#define T_HW_PROJECT "0605767e8a00d5632f30c0190dde1f2b" /* cn-north-4 */
#define T_HW_PROJECT2 "b2c4e8f0a1d3c5e7f9a1b3c5d7e9f0a2" /* ap-southeast-1 */
#define T_HW_AK "TESTAKAPI0000001"
#define T_HW_SK "test-sk-api"
#define T_HW_CONSOLE_AK "TESTAKCONSOLE001"
#define T_HW_CONSOLE_SK "test-sk-console"
#define T_HW_SEED_CERT "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define T_HW_PROTECTED_CERT "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define T_HW_OTHER_REGION_CERT "cccccccccccccccccccccccccccccccc"
#define T_HW_LISTENER "listener-https-443"
#define T_HW_LISTENER_HTTP "listener-http-80"
#define T_UC_PUB "test-public-key-api"
#define T_UC_PRIV "test-private-key-api"
#define T_UC_CONSOLE_PUB "test-public-key-console"
#define T_UC_CONSOLE_PRIV "test-private-key-console"
#define T_UC_PROJECT "org-test01"
#define T_UC_SEED_CERT "ssl-seed0001"
#define T_UC_MANAGED_CERT "ssl-managed1"
#define T_UC_SH2_CERT "ssl-sh2cert1"
#define T_UC_ALB "alb-test0001"           /* ALB in cn-bj2, default certificate T_UC_SEED_CERT */
#define T_UC_ALB_LISTENER "als-test0443"  /* its HTTPS listener */
#define T_UC_ALB_HTTP "als-test0080"      /* its HTTP listener */
#define T_UC_ALB_SH2 "alb-test0002"       /* ALB in cn-sh2 */
#define T_UC_ALB_SH2_LISTENER "als-test1443"

/* A fresh EC P-256 key and a certificate for cn (and the comma-separated DNS names sans,
 * NULL for none), valid for days days (negative: already expired). Both malloc'd; the key is
 * freed with cs_secure_free_str. */
void fe_test_make_cert(const char *cn, const char *sans, int days, char **cert_pem,
                       char **key_pem);
/* The same key as PEM encrypted with a passphrase. */
char *fe_test_encrypt_key(const char *key_pem);

/* A seed with both clouds (quotas hw_quota and uc_quota), certificates made for it. */
char *fe_test_seed(int hw_quota, int uc_quota);

struct fe_test {
    struct fe_server *server;
    struct fe_response resp;
    cJSON *json; /* the last response body parsed, or NULL */
    int64_t now_ms;
};

void fe_test_init(struct fe_test *t, const char *seed);
void fe_test_cleanup(struct fe_test *t);

/* A signed Huawei request (query: "k=v&k=v", unencoded values without '&' or '='; NULL for
 * none). project_header: the X-Project-Id to send, NULL for none. date_ms: the X-Sdk-Date,
 * 0 for now. Returns the status, or -1 when the signer refuses the request. */
int fe_test_hw_full(struct fe_test *t, const char *method, const char *path, const char *query,
                    const char *body, const char *ak, const char *sk, const char *project_header,
                    int64_t date_ms);
/* Signs body but sends sent_body (a request changed on the way). */
int fe_test_hw_tampered(struct fe_test *t, const char *method, const char *path,
                        const char *query, const char *body, const char *sent_body,
                        const char *ak, const char *sk, const char *project_header,
                        int64_t date_ms);
int fe_test_hw(struct fe_test *t, const char *method, const char *path, const char *query,
               const char *body);

/* A signed UCloud request: params is a NULL-terminated list of key, value strings; sent as a
 * form POST (json: as a JSON POST). Returns RetCode (-1 when the answer has none, or the
 * signer refuses the parameters). */
int fe_test_uc_full(struct fe_test *t, const char *pub, const char *priv, bool json,
                    const char *const *params);
int fe_test_uc(struct fe_test *t, const char *const *params);

/* A control request (/_fake/...). Returns the status. */
int fe_test_ctl(struct fe_test *t, const char *method, const char *path, const char *body);

/* The string at a dotted path of the last JSON answer, or NULL. */
const char *fe_test_str(const struct fe_test *t, const char *path);

#endif
