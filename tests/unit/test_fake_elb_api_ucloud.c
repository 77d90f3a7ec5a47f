/* test_fake_elb_api_ucloud.c -- fake-elb's UCloud ULB emulation, driven in-process through
 * fe_server_handle with requests signed by elb_sign: the gateway's RetCodes (missing Action or
 * Signature, bad signature, unknown PublicKey, unknown Action, Region, project), CreateSSL in
 * its three forms, name rules, quota, PEM checks, DescribeSSL paging, bindings (one
 * certificate per classic VServer, in-use refusal, cross-region refusal, UpdateSSLBinding
 * scopes), console protection of managed names, DescribeULB/DescribeVServer (classic ULBs
 * only: application load balancers have their own actions, test_fake_elb_api_alb.c), JSON
 * and GET. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"
#include "common/json.h"
#include "common/util.h"
#include "elb/ucloud_sign.h"
#include "tests/fakes/elb/testlib.h"

static int setup(void **state)
{
    struct fe_test *t = calloc(1, sizeof(*t));
    char *seed = fe_test_seed(5, 6);
    fe_test_init(t, seed);
    free(seed);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    fe_test_cleanup(*state);
    free(*state);
    return 0;
}

static char *create_ssl(struct fe_test *t, const char *region, const char *name)
{
    char *cert, *key;
    fe_test_make_cert("u.example.test", "u.example.test,www.u.example.test", 30, &cert, &key);
    const char *p[] = {"Action", "CreateSSL", "Region", region, "ProjectId", T_UC_PROJECT,
                       "SSLName", name, "UserCert", cert, "PrivateKey", key, NULL};
    assert_int_equal(fe_test_uc(t, p), 0);
    free(cert);
    cs_secure_free_str(key);
    assert_string_equal(fe_test_str(t, "Action"), "CreateSSLResponse");
    const char *id = fe_test_str(t, "SSLId");
    assert_non_null(id);
    assert_memory_equal(id, "ssl-", 4);
    return strdup(id);
}

static void test_gateway_codes(void **state)
{
    struct fe_test *t = *state;
    const char *ok[] = {"Action", "DescribeSSL", "Region", "cn-bj2", NULL};
    assert_int_equal(fe_test_uc(t, ok), 0);
    assert_string_equal(fe_test_str(t, "Action"), "DescribeSSLResponse");
    assert_int_equal(fe_test_uc_full(t, T_UC_PUB, "wrong-private-key", false, ok), 171);
    assert_int_equal(fe_test_uc_full(t, "nobody", T_UC_PRIV, false, ok), 172);
    const char *no_region[] = {"Action", "DescribeSSL", NULL};
    assert_int_equal(fe_test_uc(t, no_region), 230);
    const char *bad_region[] = {"Action", "DescribeSSL", "Region", "us-ca", NULL};
    assert_int_equal(fe_test_uc(t, bad_region), 230);
    const char *bad_project[] = {"Action", "DescribeSSL", "Region", "cn-bj2", "ProjectId",
                                 "org-nope", NULL};
    assert_int_equal(fe_test_uc(t, bad_project), 292);
    const char *bad_action[] = {"Action", "DescribeUHostInstance", "Region", "cn-bj2", NULL};
    assert_int_equal(fe_test_uc(t, bad_action), 161);
    assert_string_equal(fe_test_str(t, "Action"), "DescribeUHostInstanceResponse");
    /* unsigned and action-less requests */
    struct fe_request req = {.method = "GET", .target = "/?Action=DescribeSSL&Region=cn-bj2",
                             .now_ms = t->now_ms};
    fe_server_handle(t->server, &req, &t->resp);
    assert_non_null(strstr(cs_buf_str(&t->resp.body), "\"RetCode\":170"));
    req.target = "/";
    fe_server_handle(t->server, &req, &t->resp);
    assert_int_equal(t->resp.status, 200);
    assert_non_null(strstr(cs_buf_str(&t->resp.body), "\"RetCode\":160"));
    req.target = "/?Action=%zz";
    fe_server_handle(t->server, &req, &t->resp);
    assert_non_null(strstr(cs_buf_str(&t->resp.body), "\"RetCode\":230"));
    /* the documented vector's parameters, signed as GET query with a tampered value */
    const char *p[] = {"Action", "DescribeSSL", "Region", "cn-bj2", "Limit", "10", NULL};
    assert_int_equal(fe_test_uc_full(t, T_UC_PUB, T_UC_PRIV, true, p), 0);
}

static void test_get_query_signed(void **state)
{
    struct fe_test *t = *state;
    struct elb_query_param qp[] = {{"Action", "DescribeSSL"}, {"Region", "cn-bj2"},
                                   {"PublicKey", T_UC_PUB}, {"Limit", "1"}};
    char sig[41];
    assert_int_equal(elb_ucloud_signature(qp, 4, T_UC_PRIV, sig, NULL), CS_OK);
    char target[512];
    snprintf(target, sizeof(target),
             "/?Action=DescribeSSL&Region=cn-bj2&PublicKey=%s&Limit=1&Signature=%s", T_UC_PUB, sig);
    struct fe_request req = {.method = "GET", .target = target, .now_ms = t->now_ms};
    fe_server_handle(t->server, &req, &t->resp);
    assert_non_null(strstr(cs_buf_str(&t->resp.body), "\"RetCode\":0"));
    assert_non_null(strstr(cs_buf_str(&t->resp.body), "\"TotalCount\":2"));
    snprintf(target, sizeof(target),
             "/?Action=DescribeSSL&Region=cn-bj2&PublicKey=%s&Limit=2&Signature=%s", T_UC_PUB, sig);
    fe_server_handle(t->server, &req, &t->resp);
    assert_non_null(strstr(cs_buf_str(&t->resp.body), "\"RetCode\":171"));
}

static void test_create_forms_and_rules(void **state)
{
    struct fe_test *t = *state;
    char *id = create_ssl(t, "cn-bj2", "k8s_plb_default_a.b-c_1");
    /* SSLContent: key first, then the certificate */
    char *cert, *key;
    fe_test_make_cert("all.example.test", NULL, 30, &cert, &key);
    struct cs_buf all;
    cs_buf_init_secret(&all, 1 << 20);
    cs_buf_adds(&all, key);
    cs_buf_adds(&all, cert);
    const char *p1[] = {"Action", "CreateSSL", "Region", "cn-bj2", "SSLName", "all-in-one",
                        "SSLContent", cs_buf_str(&all), NULL};
    assert_int_equal(fe_test_uc(t, p1), 0);
    /* SSLContent without a key */
    const char *p2[] = {"Action", "CreateSSL", "Region", "cn-bj2", "SSLName", "nokey",
                        "SSLContent", cert, NULL};
    assert_int_equal(fe_test_uc(t, p2), 4111);
    /* import from USSL */
    const char *p3[] = {"Action", "CreateSSL", "Region", "cn-bj2", "SSLName", "imported",
                        "USSLId", "ussl-test0001", NULL};
    assert_int_equal(fe_test_uc(t, p3), 0);
    char *imported = strdup(fe_test_str(t, "SSLId"));
    const char *p4[] = {"Action", "CreateSSL", "Region", "cn-bj2", "SSLName", "imported",
                        "USSLId", "ussl-nope", NULL};
    assert_int_equal(fe_test_uc(t, p4), 4079);
    /* names: 50 fine, 51 too long, bad characters, empty */
    char n50[51], n51[52];
    memset(n50, 'a', 50);
    n50[50] = '\0';
    memset(n51, 'a', 51);
    n51[51] = '\0';
    const char *p5[] = {"Action", "CreateSSL", "Region", "cn-bj2", "SSLName", n51,
                        "UserCert", cert, "PrivateKey", key, NULL};
    assert_int_equal(fe_test_uc(t, p5), 4114);
    const char *p6[] = {"Action", "CreateSSL", "Region", "cn-bj2", "SSLName", "bad name!",
                        "UserCert", cert, "PrivateKey", key, NULL};
    assert_int_equal(fe_test_uc(t, p6), 4997);
    const char *p7[] = {"Action", "CreateSSL", "Region", "cn-bj2", "UserCert", cert,
                        "PrivateKey", key, NULL};
    assert_int_equal(fe_test_uc(t, p7), 230);
    /* mismatched key, encrypted key, garbage */
    char *cert2, *key2;
    fe_test_make_cert("other.example.test", NULL, 30, &cert2, &key2);
    char *enc = fe_test_encrypt_key(key);
    const char *p8[] = {"Action", "CreateSSL", "Region", "cn-bj2", "SSLName", "mismatch",
                        "UserCert", cert, "PrivateKey", key2, NULL};
    assert_int_equal(fe_test_uc(t, p8), 4111);
    const char *p9[] = {"Action", "CreateSSL", "Region", "cn-bj2", "SSLName", "enc",
                        "UserCert", cert, "PrivateKey", enc, NULL};
    assert_int_equal(fe_test_uc(t, p9), 4111);
    assert_null(strstr(cs_buf_str(&t->resp.body), "PRIVATE KEY"));
    const char *p10[] = {"Action", "CreateSSL", "Region", "cn-bj2", "SSLName", n50,
                         "UserCert", "junk", "PrivateKey", key, NULL};
    assert_int_equal(fe_test_uc(t, p10), 4111);
    /* quota 6 per project and region: 2 seeded + 3 created; one more, then 4207 */
    assert_int_equal(fe_test_uc(t, (const char *[]){"Action", "CreateSSL", "Region", "cn-bj2",
                                                    "SSLName", n50, "UserCert", cert,
                                                    "PrivateKey", key, NULL}),
                     0);
    assert_int_equal(fe_test_uc(t, (const char *[]){"Action", "CreateSSL", "Region", "cn-bj2",
                                                    "SSLName", "over", "UserCert", cert,
                                                    "PrivateKey", key, NULL}),
                     4207);
    /* cn-sh2 has its own */
    free(create_ssl(t, "cn-sh2", "fine"));
    /* DescribeSSL: the chain only, never the key; USSL fields */
    const char *d[] = {"Action", "DescribeSSL", "Region", "cn-bj2", "SSLId", imported, NULL};
    assert_int_equal(fe_test_uc(t, d), 0);
    const cJSON *e = cs_json_path(t->json, "DataSet")->child;
    assert_int_equal(cs_json_int(e, "SSLSource", -1), 1);
    assert_string_equal(cs_json_str(e, "USSLId"), "ussl-test0001");
    const char *d2[] = {"Action", "DescribeSSL", "Region", "cn-bj2", "Limit", "100", NULL};
    assert_int_equal(fe_test_uc(t, d2), 0);
    assert_int_equal(cs_json_int(t->json, "TotalCount", -1), 6);
    assert_null(strstr(cs_buf_str(&t->resp.body), "PRIVATE KEY"));
    cs_buf_free(&all);
    free(cert);
    free(cert2);
    cs_secure_free_str(key);
    cs_secure_free_str(key2);
    cs_secure_free_str(enc);
    free(imported);
    free(id);
}

static void test_describe_paging(void **state)
{
    struct fe_test *t = *state;
    for (int i = 0; i < 3; i++)
        free(create_ssl(t, "cn-bj2", "page"));
    /* 5 in cn-bj2 in creation order; pages of 2 */
    char seen[5][32];
    int n = 0;
    for (int off = 0; off < 6; off += 2) {
        char o[8];
        snprintf(o, sizeof(o), "%d", off);
        const char *p[] = {"Action", "DescribeSSL", "Region", "cn-bj2", "Offset", o, "Limit", "2",
                           NULL};
        assert_int_equal(fe_test_uc(t, p), 0);
        assert_int_equal(cs_json_int(t->json, "TotalCount", -1), 5);
        for (const cJSON *it = cs_json_path(t->json, "DataSet")->child; it; it = it->next) {
            assert_true(n < 5);
            snprintf(seen[n++], sizeof(seen[0]), "%s", cs_json_str(it, "SSLId"));
        }
    }
    assert_int_equal(n, 5);
    assert_string_equal(seen[0], T_UC_SEED_CERT);
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < i; k++)
            assert_string_not_equal(seen[i], seen[k]);
    const char *bad[] = {"Action", "DescribeSSL", "Region", "cn-bj2", "Limit", "-1", NULL};
    assert_int_equal(fe_test_uc(t, bad), 230);
    /* V2 has Relations */
    const char *v2[] = {"Action", "DescribeSSLV2", "Region", "cn-bj2", "SSLId", T_UC_SEED_CERT,
                        NULL};
    assert_int_equal(fe_test_uc(t, v2), 0);
    /* bound to the classic VServer and as the ALB listener's default: both relations */
    const cJSON *rel = cs_json_path(cs_json_path(t->json, "DataSet")->child, "Relations");
    assert_int_equal(cJSON_GetArraySize(rel), 2);
    assert_string_equal(cs_json_str(rel->child, "ListenerId"), "vserver-https443");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(rel->child, "IsDefault")));
    assert_string_equal(cs_json_str(rel->child->next, "LoadBalancerId"), T_UC_ALB);
    assert_string_equal(cs_json_str(rel->child->next, "ListenerId"), T_UC_ALB_LISTENER);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(rel->child->next, "IsDefault")));
}

static void test_bindings(void **state)
{
    struct fe_test *t = *state;
    char *a = create_ssl(t, "cn-bj2", "a");
    /* classic VServer holds one certificate */
    const char *bind[] = {"Action", "BindSSL", "Region", "cn-bj2", "SSLId", a, "ULBId",
                          "ulb-classic1", "VServerId", "vserver-https443", NULL};
    assert_int_equal(fe_test_uc(t, bind), 63072);
    assert_string_equal(fe_test_str(t, "Message"), "ulb vserver alredy bind ssl");
    /* the bound seed certificate cannot be deleted */
    const char *del_seed[] = {"Action", "DeleteSSL", "Region", "cn-bj2", "SSLId", T_UC_SEED_CERT,
                              NULL};
    assert_int_equal(fe_test_uc(t, del_seed), 4108);
    /* a certificate of another region cannot be bound */
    const char *cross[] = {"Action", "BindSSL", "Region", "cn-bj2", "SSLId", T_UC_SH2_CERT,
                           "ULBId", "ulb-classic1", "VServerId", "vserver-http80", NULL};
    assert_int_equal(fe_test_uc(t, cross), 4079);
    const char *cross2[] = {"Action", "BindSSL", "Region", "cn-sh2", "SSLId", T_UC_SH2_CERT,
                            "ULBId", "ulb-classic1", "VServerId", "vserver-https443", NULL};
    assert_int_equal(fe_test_uc(t, cross2), 4072);
    /* HTTP VServers take no certificate; unknown VServer */
    const char *http[] = {"Action", "BindSSL", "Region", "cn-bj2", "SSLId", a, "ULBId",
                          "ulb-classic1", "VServerId", "vserver-http80", NULL};
    assert_int_equal(fe_test_uc(t, http), 230);
    const char *novs[] = {"Action", "BindSSL", "Region", "cn-bj2", "SSLId", a, "ULBId",
                          "ulb-classic1", "VServerId", "vserver-nope", NULL};
    assert_int_equal(fe_test_uc(t, novs), 4088);
    /* rotate with UpdateSSLBinding on the listener */
    const char *upd[] = {"Action", "UpdateSSLBinding", "Region", "cn-bj2", "OldSSLId",
                         T_UC_SEED_CERT, "NewSSLId", a, "LoadBalancerId", "ulb-classic1",
                         "ListenerId", "vserver-https443", NULL};
    assert_int_equal(fe_test_uc(t, upd), 0);
    /* still the ALB listener's default: not deletable yet */
    assert_int_equal(fe_test_uc(t, del_seed), 4108);
    /* The ULB actions know classic ULBs only: an application load balancer is not one. */
    const char *bind_alb[] = {"Action", "BindSSL", "Region", "cn-bj2", "SSLId", a, "ULBId",
                              T_UC_ALB, "VServerId", T_UC_ALB_LISTENER, NULL};
    assert_int_equal(fe_test_uc(t, bind_alb), 4072);
    const char *unbind_alb[] = {"Action", "UnbindSSL", "Region", "cn-bj2", "SSLId",
                                T_UC_SEED_CERT, "ULBId", T_UC_ALB, "VServerId",
                                T_UC_ALB_LISTENER, NULL};
    assert_int_equal(fe_test_uc(t, unbind_alb), 4072);
    const char *vs_alb[] = {"Action", "DescribeVServer", "Region", "cn-bj2", "ULBId", T_UC_ALB,
                            NULL};
    assert_int_equal(fe_test_uc(t, vs_alb), 4072);
    const char *ulbs[] = {"Action", "DescribeULB", "Region", "cn-bj2", NULL};
    assert_int_equal(fe_test_uc(t, ulbs), 0);
    assert_int_equal(cs_json_int(t->json, "TotalCount", -1), 1);
    assert_string_equal(cs_json_str(cs_json_path(t->json, "DataSet")->child, "ULBId"),
                        "ulb-classic1");
    const char *one_alb[] = {"Action", "DescribeULB", "Region", "cn-bj2", "ULBId", T_UC_ALB,
                             NULL};
    assert_int_equal(fe_test_uc(t, one_alb), 0);
    assert_int_equal(cs_json_int(t->json, "TotalCount", -1), 0);
    /* UpdateSSLBinding without scope replaces every binding, classic and ALB alike: the
     * ALB listener's default stays a default */
    char *b = create_ssl(t, "cn-bj2", "b");
    const char *all[] = {"Action", "UpdateSSLBinding", "Region", "cn-bj2", "OldSSLId", a,
                         "NewSSLId", b, NULL};
    assert_int_equal(fe_test_uc(t, all), 0);
    const char *all_seed[] = {"Action", "UpdateSSLBinding", "Region", "cn-bj2", "OldSSLId",
                              T_UC_SEED_CERT, "NewSSLId", b, NULL};
    assert_int_equal(fe_test_uc(t, all_seed), 0);
    assert_int_equal(fe_test_uc(t, del_seed), 0);
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/state", NULL), 200);
    int with_b = 0;
    for (const cJSON *u = cs_json_path(t->json, "ucloud.ulbs")->child; u; u = u->next)
        for (const cJSON *v = cs_json_path(u, "VServers")->child; v; v = v->next) {
            const cJSON *def = cJSON_GetObjectItem(v, "DefaultSSLId");
            if (cJSON_IsString(def)) {
                assert_string_not_equal(def->valuestring, a);
                with_b += strcmp(def->valuestring, b) == 0;
            }
        }
    assert_int_equal(with_b, 2);
    /* unbind from the classic VServer, then a second unbind is refused */
    const char *unbind[] = {"Action", "UnbindSSL", "Region", "cn-bj2", "SSLId", b, "ULBId",
                            "ulb-classic1", "VServerId", "vserver-https443", NULL};
    assert_int_equal(fe_test_uc(t, unbind), 0);
    assert_int_equal(fe_test_uc(t, unbind), 4106);
    const char *vs[] = {"Action", "DescribeVServer", "Region", "cn-bj2", "ULBId", "ulb-classic1",
                        "VServerId", "vserver-https443", NULL};
    assert_int_equal(fe_test_uc(t, vs), 0);
    assert_int_equal(cJSON_GetArraySize(cs_json_path(cs_json_path(t->json, "DataSet")->child,
                                                     "SSLSet")),
                     0);
    const char *no_ulb[] = {"Action", "DescribeVServer", "Region", "cn-bj2", NULL};
    assert_int_equal(fe_test_uc(t, no_ulb), 230);
    free(a);
    free(b);
}

static void test_console_protection(void **state)
{
    struct fe_test *t = *state;
    const char *rename[] = {"Action", "UpdateSSLAttribute", "Region", "cn-bj2", "SSLId",
                            T_UC_MANAGED_CERT, "SSLName", "mine", NULL};
    assert_int_equal(fe_test_uc_full(t, T_UC_CONSOLE_PUB, T_UC_CONSOLE_PRIV, false, rename), 299);
    const char *del[] = {"Action", "DeleteSSL", "Region", "cn-bj2", "SSLId", T_UC_MANAGED_CERT,
                         NULL};
    assert_int_equal(fe_test_uc_full(t, T_UC_CONSOLE_PUB, T_UC_CONSOLE_PRIV, false, del), 299);
    const char *bind[] = {"Action", "UpdateSSLBinding", "Region", "cn-bj2", "OldSSLId",
                          T_UC_SEED_CERT, "NewSSLId", T_UC_MANAGED_CERT, "LoadBalancerId",
                          "ulb-classic1", "ListenerId", "vserver-https443", NULL};
    assert_int_equal(fe_test_uc_full(t, T_UC_CONSOLE_PUB, T_UC_CONSOLE_PRIV, true, bind), 0);
    const char *rename_seed[] = {"Action", "UpdateSSLAttribute", "Region", "cn-bj2", "SSLId",
                                 T_UC_SEED_CERT, "SSLName", "mine", NULL};
    assert_int_equal(fe_test_uc_full(t, T_UC_CONSOLE_PUB, T_UC_CONSOLE_PRIV, false, rename_seed),
                     0);
    /* API credentials may */
    assert_int_equal(fe_test_uc(t, rename), 0);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gateway_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_query_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_forms_and_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bindings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_protection, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
