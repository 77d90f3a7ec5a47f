/* test_fake_elb_api_alb.c -- fake-elb's UCloud application load balancer (ALB) actions,
 * driven in-process through fe_server_handle with requests signed by elb_sign:
 * DescribeLoadBalancers, DescribeListeners, AddSSLBinding, DeleteSSLBinding and
 * UpdateListenerAttribute (parameters as documented in the UCloudDoc-Team/api ulb-api pages),
 * their refusals (unknown load balancer, listener or certificate, another region's, a
 * certificate already bound, the default unbound, 25 SNI certificates, malformed SSLIds.N and
 * Certificates.N), all-or-nothing changes, JSON arrays, console credentials, statistics,
 * /_fake/state, and the seed rules for ALB listeners. */
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

#define UC_QUOTA 40

static int setup(void **state)
{
    struct fe_test *t = calloc(1, sizeof(*t));
    char *seed = fe_test_seed(5, UC_QUOTA);
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

static char *cert, *key; /* one test certificate, made once, uploaded under many names */

/* A new certificate in region. */
static char *create_ssl(struct fe_test *t, const char *region, const char *name)
{
    if (!cert)
        fe_test_make_cert("alb.example.test", "alb.example.test,www.alb.example.test", 30,
                          &cert, &key);
    const char *p[] = {"Action", "CreateSSL", "Region", region, "SSLName", name,
                       "UserCert", cert,   "PrivateKey", key, NULL};
    assert_int_equal(fe_test_uc(t, p), 0);
    return strdup(fe_test_str(t, "SSLId"));
}

/* The ALB listener's certificates as /_fake/state holds them: "default,sni1,sni2". */
static const char *state_certs(struct fe_test *t, const char *lb, const char *listener)
{
    static char out[4096];
    out[0] = '\0';
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/state", NULL), 200);
    for (const cJSON *u = cs_json_path(t->json, "ucloud.ulbs")->child; u; u = u->next) {
        if (strcmp(cs_json_str(u, "ULBId"), lb) != 0)
            continue;
        for (const cJSON *v = cs_json_path(u, "VServers")->child; v; v = v->next) {
            if (strcmp(cs_json_str(v, "VServerId"), listener) != 0)
                continue;
            const cJSON *id;
            cJSON_ArrayForEach(id, cJSON_GetObjectItem(v, "SSLIds"))
            {
                size_t l = strlen(out);
                snprintf(out + l, sizeof(out) - l, "%s%s", l ? "," : "", id->valuestring);
            }
            return out;
        }
    }
    fail_msg("listener %s of %s not in the state", listener, lb);
    return NULL;
}

/* The Certificates of the one listener of the last DescribeListeners: "id:D,id:S". */
static const char *answer_certs(const cJSON *listener)
{
    static char out[4096];
    out[0] = '\0';
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(listener, "Certificates"))
    {
        size_t l = strlen(out);
        snprintf(out + l, sizeof(out) - l, "%s%s:%s", l ? "," : "", cs_json_str(c, "SSLId"),
                 cJSON_IsTrue(cJSON_GetObjectItem(c, "IsDefault")) ? "D" : "S");
    }
    return out;
}

/* ---- DescribeLoadBalancers ---- */

static void test_describe_load_balancers(void **state)
{
    struct fe_test *t = *state;
    const char *all[] = {"Action", "DescribeLoadBalancers", "Region", "cn-bj2", NULL};
    assert_int_equal(fe_test_uc(t, all), 0);
    assert_string_equal(fe_test_str(t, "Action"), "DescribeLoadBalancersResponse");
    /* the classic ULB is not an application load balancer; the cn-sh2 ALB is not in scope */
    assert_int_equal(cs_json_int(t->json, "TotalCount", -1), 1);
    const cJSON *lb = cs_json_path(t->json, "LoadBalancers")->child;
    assert_non_null(lb);
    assert_null(lb->next);
    assert_string_equal(cs_json_str(lb, "LoadBalancerId"), T_UC_ALB);
    assert_string_equal(cs_json_str(lb, "Type"), "Application");
    assert_string_equal(cs_json_str(lb, "Name"), "alb-one");
    /* listeners only with ShowDetail */
    assert_int_equal(cJSON_GetArraySize(cs_json_path(lb, "Listeners")), 0);

    const char *detail[] = {"Action", "DescribeLoadBalancers", "Region", "cn-bj2", "ShowDetail",
                            "true", "Type", "Application", NULL};
    assert_int_equal(fe_test_uc(t, detail), 0);
    const cJSON *ls = cs_json_path(cs_json_path(t->json, "LoadBalancers")->child, "Listeners");
    assert_int_equal(cJSON_GetArraySize(ls), 2);
    assert_string_equal(cs_json_str(ls->child, "ListenerId"), T_UC_ALB_LISTENER);
    assert_string_equal(answer_certs(ls->child), T_UC_SEED_CERT ":D");
    assert_string_equal(cs_json_str(ls->child->next, "ListenerProtocol"), "HTTP");

    const char *other[] = {"Action", "DescribeLoadBalancers", "Region", "cn-sh2", NULL};
    assert_int_equal(fe_test_uc(t, other), 0);
    assert_string_equal(cs_json_str(cs_json_path(t->json, "LoadBalancers")->child,
                                    "LoadBalancerId"),
                        T_UC_ALB_SH2);

    /* LoadBalancerIds.N filter: unknown and classic IDs are simply not listed */
    const char *ids[] = {"Action", "DescribeLoadBalancers", "Region", "cn-bj2", "LoadBalancerIds.0",
                         "ulb-classic1", "LoadBalancerIds.1", "alb-nope", NULL};
    assert_int_equal(fe_test_uc(t, ids), 0);
    assert_int_equal(cs_json_int(t->json, "TotalCount", -1), 0);
    const char *ids2[] = {"Action", "DescribeLoadBalancers", "Region", "cn-bj2", "LoadBalancerIds.0",
                          T_UC_ALB, NULL};
    assert_int_equal(fe_test_uc(t, ids2), 0);
    assert_int_equal(cs_json_int(t->json, "TotalCount", -1), 1);
    /* paging */
    const char *page[] = {"Action", "DescribeLoadBalancers", "Region", "cn-bj2", "Offset", "1",
                          "Limit", "1", NULL};
    assert_int_equal(fe_test_uc(t, page), 0);
    assert_int_equal(cs_json_int(t->json, "TotalCount", -1), 1);
    assert_int_equal(cJSON_GetArraySize(cs_json_path(t->json, "LoadBalancers")), 0);
    /* network load balancers are not emulated: none */
    const char *nlb[] = {"Action", "DescribeLoadBalancers", "Region", "cn-bj2", "Type", "Network",
                         NULL};
    assert_int_equal(fe_test_uc(t, nlb), 0);
    assert_int_equal(cs_json_int(t->json, "TotalCount", -1), 0);

    /* malformed parameters */
    const char *bad[][10] = {
        {"Action", "DescribeLoadBalancers", "Region", "cn-bj2", "Type", "Classic", NULL},
        {"Action", "DescribeLoadBalancers", "Region", "cn-bj2", "ShowDetail", "maybe", NULL},
        {"Action", "DescribeLoadBalancers", "Region", "cn-bj2", "Limit", "x", NULL},
        {"Action", "DescribeLoadBalancers", "Region", "cn-bj2", "LoadBalancerIds.1", T_UC_ALB,
         NULL},
        {"Action", "DescribeLoadBalancers", "Region", "cn-bj2", "LoadBalancerIds", T_UC_ALB, NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(fe_test_uc(t, bad[i]), 230);
}

/* ---- DescribeListeners ---- */

static void test_describe_listeners(void **state)
{
    struct fe_test *t = *state;
    const char *by_lb[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "LoadBalancerId",
                           T_UC_ALB, NULL};
    assert_int_equal(fe_test_uc(t, by_lb), 0);
    assert_string_equal(fe_test_str(t, "Action"), "DescribeListenersResponse");
    assert_int_equal(cs_json_int(t->json, "TotalCount", -1), 2);
    const cJSON *l = cs_json_path(t->json, "Listeners")->child;
    assert_string_equal(cs_json_str(l, "ListenerId"), T_UC_ALB_LISTENER);
    assert_string_equal(cs_json_str(l, "Name"), "https-443");
    assert_int_equal(cs_json_int(l, "ListenerPort", -1), 443);
    assert_string_equal(cs_json_str(l, "ListenerProtocol"), "HTTPS");
    assert_string_equal(cs_json_str(l, "SecurityPolicyId"), "Default");
    assert_string_equal(answer_certs(l), T_UC_SEED_CERT ":D");
    assert_string_equal(cs_json_str(l->next, "ListenerId"), T_UC_ALB_HTTP);
    assert_int_equal(cs_json_int(l->next, "ListenerPort", -1), 80);
    assert_string_equal(answer_certs(l->next), "");

    /* with ListenerId, LoadBalancerId is ignored (as documented) */
    const char *by_id[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "ListenerId",
                           T_UC_ALB_HTTP, "LoadBalancerId", "alb-whatever", NULL};
    assert_int_equal(fe_test_uc(t, by_id), 0);
    assert_int_equal(cs_json_int(t->json, "TotalCount", -1), 1);
    assert_string_equal(cs_json_str(cs_json_path(t->json, "Listeners")->child, "ListenerId"),
                        T_UC_ALB_HTTP);
    /* paging: the second of two */
    const char *page[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "LoadBalancerId",
                          T_UC_ALB, "Offset", "1", "Limit", "1", NULL};
    assert_int_equal(fe_test_uc(t, page), 0);
    assert_int_equal(cs_json_int(t->json, "TotalCount", -1), 2);
    assert_int_equal(cJSON_GetArraySize(cs_json_path(t->json, "Listeners")), 1);
    assert_string_equal(cs_json_str(cs_json_path(t->json, "Listeners")->child, "ListenerId"),
                        T_UC_ALB_HTTP);

    /* refusals: unknown listener / load balancer (also: of another region, or a classic
     * ULB, which the ALB actions do not know), neither given, bad paging */
    const char *no_ls[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "ListenerId",
                           "als-nope", NULL};
    assert_int_equal(fe_test_uc(t, no_ls), 4088);
    assert_non_null(strstr(fe_test_str(t, "Message"), "not found"));
    const char *sh2_ls[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "ListenerId",
                            T_UC_ALB_SH2_LISTENER, NULL};
    assert_int_equal(fe_test_uc(t, sh2_ls), 4088);
    const char *no_lb[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "LoadBalancerId",
                           "alb-nope", NULL};
    assert_int_equal(fe_test_uc(t, no_lb), 4072);
    assert_non_null(strstr(fe_test_str(t, "Message"), "not found"));
    const char *sh2_lb[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "LoadBalancerId",
                            T_UC_ALB_SH2, NULL};
    assert_int_equal(fe_test_uc(t, sh2_lb), 4072);
    const char *classic[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "LoadBalancerId",
                             "ulb-classic1", NULL};
    assert_int_equal(fe_test_uc(t, classic), 4072);
    const char *neither[] = {"Action", "DescribeListeners", "Region", "cn-bj2", NULL};
    assert_int_equal(fe_test_uc(t, neither), 230);
    const char *bad_limit[] = {"Action", "DescribeListeners", "Region", "cn-bj2",
                               "LoadBalancerId", T_UC_ALB, "Limit", "-3", NULL};
    assert_int_equal(fe_test_uc(t, bad_limit), 230);
}

/* ---- AddSSLBinding / DeleteSSLBinding ---- */

static void test_add_delete_ssl_binding(void **state)
{
    struct fe_test *t = *state;
    char *a = create_ssl(t, "cn-bj2", "a");
    char *b = create_ssl(t, "cn-bj2", "b");
    char *c = create_ssl(t, "cn-bj2", "c");
    char want[256];
#define ALB_OP(action) "Action", action, "Region", "cn-bj2", "LoadBalancerId", T_UC_ALB, \
                       "ListenerId", T_UC_ALB_LISTENER

    const char *add_ab[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", a, "SSLIds.1", b, NULL};
    assert_int_equal(fe_test_uc(t, add_ab), 0);
    assert_string_equal(fe_test_str(t, "Action"), "AddSSLBindingResponse");
    snprintf(want, sizeof(want), "%s,%s,%s", T_UC_SEED_CERT, a, b);
    assert_string_equal(state_certs(t, T_UC_ALB, T_UC_ALB_LISTENER), want);
    const char *desc[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "ListenerId",
                          T_UC_ALB_LISTENER, NULL};
    assert_int_equal(fe_test_uc(t, desc), 0);
    snprintf(want, sizeof(want), "%s:D,%s:S,%s:S", T_UC_SEED_CERT, a, b);
    assert_string_equal(answer_certs(cs_json_path(t->json, "Listeners")->child), want);
    /* V2 relations say which role */
    const char *v2[] = {"Action", "DescribeSSLV2", "Region", "cn-bj2", "SSLId", a, NULL};
    assert_int_equal(fe_test_uc(t, v2), 0);
    const cJSON *rel = cs_json_path(cs_json_path(t->json, "DataSet")->child, "Relations");
    assert_int_equal(cJSON_GetArraySize(rel), 1);
    assert_string_equal(cs_json_str(rel->child, "LoadBalancerId"), T_UC_ALB);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(rel->child, "IsDefault")));

    /* Refusals, each leaving the listener exactly as it was. */
    snprintf(want, sizeof(want), "%s,%s,%s", T_UC_SEED_CERT, a, b);
    const char *again[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", c, "SSLIds.1", a, NULL};
    assert_int_equal(fe_test_uc(t, again), 63072); /* a is bound: c is not added either */
    assert_non_null(strstr(fe_test_str(t, "Message"), "SNI"));
    const char *dflt[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", T_UC_SEED_CERT, NULL};
    assert_int_equal(fe_test_uc(t, dflt), 63072);
    assert_non_null(strstr(fe_test_str(t, "Message"), "default"));
    const char *unknown[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", c, "SSLIds.1", "ssl-nope",
                             NULL};
    assert_int_equal(fe_test_uc(t, unknown), 4079);
    const char *cross[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", T_UC_SH2_CERT, NULL};
    assert_int_equal(fe_test_uc(t, cross), 4079);
    const char *dup[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", c, "SSLIds.1", c, NULL};
    assert_int_equal(fe_test_uc(t, dup), 230);
    const char *none[] = {ALB_OP("AddSSLBinding"), NULL};
    assert_int_equal(fe_test_uc(t, none), 230);
    assert_non_null(strstr(fe_test_str(t, "Message"), "SSLIds.0"));
    const char *gap[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", c, "SSLIds.2", "x", NULL};
    assert_int_equal(fe_test_uc(t, gap), 230);
    const char *bare[] = {ALB_OP("AddSSLBinding"), "SSLIds", c, NULL};
    assert_int_equal(fe_test_uc(t, bare), 230);
    const char *empty[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", "", NULL};
    assert_int_equal(fe_test_uc(t, empty), 230);
    const char *http[] = {"Action", "AddSSLBinding", "Region", "cn-bj2", "LoadBalancerId",
                          T_UC_ALB, "ListenerId", T_UC_ALB_HTTP, "SSLIds.0", c, NULL};
    assert_int_equal(fe_test_uc(t, http), 230);
    const char *no_lb[] = {"Action", "AddSSLBinding", "Region", "cn-bj2", "LoadBalancerId",
                           "alb-nope", "ListenerId", T_UC_ALB_LISTENER, "SSLIds.0", c, NULL};
    assert_int_equal(fe_test_uc(t, no_lb), 4072);
    const char *classic[] = {"Action", "AddSSLBinding", "Region", "cn-bj2", "LoadBalancerId",
                             "ulb-classic1", "ListenerId", "vserver-https443", "SSLIds.0", c,
                             NULL};
    assert_int_equal(fe_test_uc(t, classic), 4072);
    const char *no_ls[] = {"Action", "AddSSLBinding", "Region", "cn-bj2", "LoadBalancerId",
                           T_UC_ALB, "ListenerId", "als-nope", "SSLIds.0", c, NULL};
    assert_int_equal(fe_test_uc(t, no_ls), 4088);
    const char *other_lb[] = {"Action", "AddSSLBinding", "Region", "cn-bj2", "LoadBalancerId",
                              T_UC_ALB, "ListenerId", T_UC_ALB_SH2_LISTENER, "SSLIds.0", c,
                              NULL};
    assert_int_equal(fe_test_uc(t, other_lb), 4088);
    const char *no_listener_id[] = {"Action", "AddSSLBinding", "Region", "cn-bj2",
                                    "LoadBalancerId", T_UC_ALB, "SSLIds.0", c, NULL};
    assert_int_equal(fe_test_uc(t, no_listener_id), 230);
    assert_non_null(strstr(fe_test_str(t, "Message"), "ListenerId"));
    assert_string_equal(state_certs(t, T_UC_ALB, T_UC_ALB_LISTENER), want);

    /* a certificate bound as SNI cannot be deleted */
    const char *del_a[] = {"Action", "DeleteSSL", "Region", "cn-bj2", "SSLId", a, NULL};
    assert_int_equal(fe_test_uc(t, del_a), 4108);

    /* DeleteSSLBinding: never the default; only what is bound; all or nothing */
    const char *rm_default[] = {ALB_OP("DeleteSSLBinding"), "SSLIds.0", a, "SSLIds.1",
                                T_UC_SEED_CERT, NULL};
    assert_int_equal(fe_test_uc(t, rm_default), 4106);
    assert_non_null(strstr(fe_test_str(t, "Message"), "default"));
    const char *rm_unbound[] = {ALB_OP("DeleteSSLBinding"), "SSLIds.0", a, "SSLIds.1", c, NULL};
    assert_int_equal(fe_test_uc(t, rm_unbound), 4106);
    const char *rm_unknown[] = {ALB_OP("DeleteSSLBinding"), "SSLIds.0", "ssl-nope", NULL};
    assert_int_equal(fe_test_uc(t, rm_unknown), 4079);
    const char *rm_none[] = {ALB_OP("DeleteSSLBinding"), NULL};
    assert_int_equal(fe_test_uc(t, rm_none), 230);
    assert_string_equal(state_certs(t, T_UC_ALB, T_UC_ALB_LISTENER), want);
    const char *rm_a[] = {ALB_OP("DeleteSSLBinding"), "SSLIds.0", a, NULL};
    assert_int_equal(fe_test_uc(t, rm_a), 0);
    assert_string_equal(fe_test_str(t, "Action"), "DeleteSSLBindingResponse");
    snprintf(want, sizeof(want), "%s,%s", T_UC_SEED_CERT, b);
    assert_string_equal(state_certs(t, T_UC_ALB, T_UC_ALB_LISTENER), want);
    assert_int_equal(fe_test_uc(t, rm_a), 4106);
    assert_int_equal(fe_test_uc(t, del_a), 0); /* unbound: now deletable */
    const char *rm_b[] = {ALB_OP("DeleteSSLBinding"), "SSLIds.0", b, NULL};
    assert_int_equal(fe_test_uc(t, rm_b), 0);
    assert_string_equal(state_certs(t, T_UC_ALB, T_UC_ALB_LISTENER), T_UC_SEED_CERT);
    free(a);
    free(b);
    free(c);
}

static void test_sni_limit(void **state)
{
    struct fe_test *t = *state;
    char *ids[26];
    char names[26][16];
    for (int i = 0; i < 26; i++) {
        snprintf(names[i], sizeof(names[i]), "sni-%02d", i);
        ids[i] = create_ssl(t, "cn-bj2", names[i]);
    }
    /* 24 in one call, then the 25th: the limit */
    const char *p[64] = {ALB_OP("AddSSLBinding")};
    size_t n = 8;
    char keys[26][16];
    for (int i = 0; i < 24; i++) {
        snprintf(keys[i], sizeof(keys[i]), "SSLIds.%d", i);
        p[n++] = keys[i];
        p[n++] = ids[i];
    }
    p[n] = NULL;
    assert_int_equal(fe_test_uc(t, p), 0);
    /* two more would make 26 SNI certificates: refused, neither added */
    const char *two[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", ids[24], "SSLIds.1", ids[25], NULL};
    assert_int_equal(fe_test_uc(t, two), 4999);
    assert_non_null(strstr(fe_test_str(t, "Message"), "25"));
    const char *one[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", ids[24], NULL};
    assert_int_equal(fe_test_uc(t, one), 0);
    const char *last[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", ids[25], NULL};
    assert_int_equal(fe_test_uc(t, last), 4999);
    /* at the limit, the default can still be replaced (by one not bound there) */
    const char *dflt[] = {ALB_OP("UpdateListenerAttribute"), "Certificates.0", ids[25], NULL};
    assert_int_equal(fe_test_uc(t, dflt), 0);
    /* and one SNI removed makes room for one */
    const char *rm[] = {ALB_OP("DeleteSSLBinding"), "SSLIds.0", ids[0], NULL};
    assert_int_equal(fe_test_uc(t, rm), 0);
    const char *seed[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", T_UC_SEED_CERT, NULL};
    assert_int_equal(fe_test_uc(t, seed), 0);
    const char *desc[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "ListenerId",
                          T_UC_ALB_LISTENER, NULL};
    assert_int_equal(fe_test_uc(t, desc), 0);
    assert_int_equal(
        cJSON_GetArraySize(cs_json_path(cs_json_path(t->json, "Listeners")->child, "Certificates")),
        26);
    for (int i = 0; i < 26; i++)
        free(ids[i]);
}

/* ---- UpdateListenerAttribute ---- */

static void test_update_listener_attribute(void **state)
{
    struct fe_test *t = *state;
    char *a = create_ssl(t, "cn-bj2", "a");
    char *b = create_ssl(t, "cn-bj2", "b");
    char want[256];

    /* replace the default: the old one is no longer bound to the listener */
    const char *set_a[] = {ALB_OP("UpdateListenerAttribute"), "Certificates.0", a, NULL};
    assert_int_equal(fe_test_uc(t, set_a), 0);
    assert_string_equal(fe_test_str(t, "Action"), "UpdateListenerAttributeResponse");
    assert_string_equal(fe_test_str(t, "ListenerId"), T_UC_ALB_LISTENER);
    assert_string_equal(state_certs(t, T_UC_ALB, T_UC_ALB_LISTENER), a);
    /* the same again changes nothing */
    assert_int_equal(fe_test_uc(t, set_a), 0);
    assert_string_equal(state_certs(t, T_UC_ALB, T_UC_ALB_LISTENER), a);

    /* an SNI certificate made the default leaves the SNI set */
    const char *add[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", b, "SSLIds.1", T_UC_SEED_CERT, NULL};
    assert_int_equal(fe_test_uc(t, add), 0);
    const char *set_b[] = {ALB_OP("UpdateListenerAttribute"), "Certificates.0", b, NULL};
    assert_int_equal(fe_test_uc(t, set_b), 0);
    snprintf(want, sizeof(want), "%s,%s", b, T_UC_SEED_CERT);
    assert_string_equal(state_certs(t, T_UC_ALB, T_UC_ALB_LISTENER), want);
    const char *desc[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "ListenerId",
                          T_UC_ALB_LISTENER, NULL};
    assert_int_equal(fe_test_uc(t, desc), 0);
    snprintf(want, sizeof(want), "%s:D,%s:S", b, T_UC_SEED_CERT);
    assert_string_equal(answer_certs(cs_json_path(t->json, "Listeners")->child), want);

    /* Name and Remark; absent parameters change nothing */
    const char *rename[] = {ALB_OP("UpdateListenerAttribute"), "Name", "web.https_443",
                            "Remark", "managed by hand", NULL};
    assert_int_equal(fe_test_uc(t, rename), 0);
    assert_int_equal(fe_test_uc(t, desc), 0);
    const cJSON *l = cs_json_path(t->json, "Listeners")->child;
    assert_string_equal(cs_json_str(l, "Name"), "web.https_443");
    assert_string_equal(cs_json_str(l, "Remark"), "managed by hand");
    assert_string_equal(answer_certs(l), want);
    /* the HTTP listener takes a name but no certificate */
    const char *http_name[] = {"Action", "UpdateListenerAttribute", "Region", "cn-bj2",
                               "LoadBalancerId", T_UC_ALB, "ListenerId", T_UC_ALB_HTTP, "Name",
                               "plain", NULL};
    assert_int_equal(fe_test_uc(t, http_name), 0);

    /* Refusals, each changing nothing (not even the valid Name sent with them). */
    char long_name[300];
    memset(long_name, 'n', 256);
    long_name[256] = '\0';
    const char *refused[][16] = {
        {ALB_OP("UpdateListenerAttribute"), "Name", "x", "Certificates.0", a, "Certificates.1", b,
         NULL},
        {ALB_OP("UpdateListenerAttribute"), "Name", "x", "Certificates.0", "", NULL},
        {ALB_OP("UpdateListenerAttribute"), "Name", "x", "Certificates", a, NULL},
        {ALB_OP("UpdateListenerAttribute"), "Name", "x", "Certificates.1", a, NULL},
        {ALB_OP("UpdateListenerAttribute"), "Name", "bad name!", NULL},
        {ALB_OP("UpdateListenerAttribute"), "Name", "", NULL},
        {ALB_OP("UpdateListenerAttribute"), "Name", long_name, NULL},
        {ALB_OP("UpdateListenerAttribute"), "Name", "x", "Remark", long_name, NULL},
        {"Action", "UpdateListenerAttribute", "Region", "cn-bj2", "LoadBalancerId", T_UC_ALB,
         "ListenerId", T_UC_ALB_HTTP, "Name", "x", "Certificates.0", a, NULL},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_int_equal(fe_test_uc(t, refused[i]), 230);
    const char *unknown[] = {ALB_OP("UpdateListenerAttribute"), "Name", "x", "Certificates.0",
                             "ssl-nope", NULL};
    assert_int_equal(fe_test_uc(t, unknown), 4079);
    const char *cross[] = {ALB_OP("UpdateListenerAttribute"), "Certificates.0", T_UC_SH2_CERT,
                           NULL};
    assert_int_equal(fe_test_uc(t, cross), 4079);
    const char *no_lb[] = {"Action", "UpdateListenerAttribute", "Region", "cn-bj2",
                           "LoadBalancerId", "alb-nope", "ListenerId", T_UC_ALB_LISTENER,
                           "Certificates.0", a, NULL};
    assert_int_equal(fe_test_uc(t, no_lb), 4072);
    const char *no_ls[] = {"Action", "UpdateListenerAttribute", "Region", "cn-bj2",
                           "LoadBalancerId", T_UC_ALB, "ListenerId", "als-nope",
                           "Certificates.0", a, NULL};
    assert_int_equal(fe_test_uc(t, no_ls), 4088);
    const char *no_lb_id[] = {"Action", "UpdateListenerAttribute", "Region", "cn-bj2",
                              "ListenerId", T_UC_ALB_LISTENER, "Certificates.0", a, NULL};
    assert_int_equal(fe_test_uc(t, no_lb_id), 230);
    assert_int_equal(fe_test_uc(t, desc), 0);
    l = cs_json_path(t->json, "Listeners")->child;
    assert_string_equal(cs_json_str(l, "Name"), "web.https_443");
    assert_string_equal(answer_certs(l), want);

    /* the replaced default (a) is bound nowhere now: deletable */
    const char *del_a[] = {"Action", "DeleteSSL", "Region", "cn-bj2", "SSLId", a, NULL};
    assert_int_equal(fe_test_uc(t, del_a), 0);
    free(a);
    free(b);
}

/* A JSON body with real arrays ("SSLIds": [...], "Certificates": [...]), as the documented
 * JSON examples send them; the signature covers the flattened names. */
static int uc_json(struct fe_test *t, const char *json_head, const char *const *flat)
{
    struct elb_query_param qp[32];
    size_t n = 0;
    for (size_t i = 0; flat[i]; i += 2)
        qp[n++] = (struct elb_query_param){flat[i], flat[i + 1]};
    qp[n++] = (struct elb_query_param){"PublicKey", T_UC_PUB};
    char sig[41], body[2048];
    assert_int_equal(elb_ucloud_signature(qp, n, T_UC_PRIV, sig, NULL), CS_OK);
    /* json_head: the members before PublicKey and Signature, without the closing brace */
    snprintf(body, sizeof(body), "%s,\"PublicKey\":\"%s\",\"Signature\":\"%s\"}", json_head,
             T_UC_PUB, sig);
    struct cs_http_header h[1] = {{"Content-Type", "application/json"}};
    struct fe_request req = {.method = "POST",
                             .target = "/",
                             .headers = h,
                             .n_headers = 1,
                             .body = body,
                             .body_len = strlen(body),
                             .now_ms = t->now_ms};
    fe_response_cleanup(&t->resp);
    fe_response_init(&t->resp);
    fe_server_handle(t->server, &req, &t->resp);
    cJSON_Delete(t->json);
    t->json = cJSON_ParseWithLength(t->resp.body.ptr, t->resp.body.len);
    return (int)cs_json_int(t->json, "RetCode", -1);
}

static void test_json_arrays(void **state)
{
    struct fe_test *t = *state;
    char *a = create_ssl(t, "cn-bj2", "a");
    char *b = create_ssl(t, "cn-bj2", "b");
    char fmt[1024], want[256];
    snprintf(fmt, sizeof(fmt),
             "{\"Action\":\"AddSSLBinding\",\"Region\":\"cn-bj2\",\"LoadBalancerId\":\"%s\","
             "\"ListenerId\":\"%s\",\"SSLIds\":[\"%s\",\"%s\"]",
             T_UC_ALB, T_UC_ALB_LISTENER, a, b);
    const char *flat[] = {"Action", "AddSSLBinding", "Region", "cn-bj2", "LoadBalancerId",
                          T_UC_ALB, "ListenerId", T_UC_ALB_LISTENER, "SSLIds.0", a, "SSLIds.1",
                          b, NULL};
    assert_int_equal(uc_json(t, fmt, flat), 0);
    snprintf(want, sizeof(want), "%s,%s,%s", T_UC_SEED_CERT, a, b);
    assert_string_equal(state_certs(t, T_UC_ALB, T_UC_ALB_LISTENER), want);

    snprintf(fmt, sizeof(fmt),
             "{\"Action\":\"UpdateListenerAttribute\",\"Region\":\"cn-bj2\",\"LoadBalancerId\":"
             "\"%s\",\"ListenerId\":\"%s\",\"Certificates\":[\"%s\"]",
             T_UC_ALB, T_UC_ALB_LISTENER, a);
    const char *flat2[] = {"Action", "UpdateListenerAttribute", "Region", "cn-bj2",
                           "LoadBalancerId", T_UC_ALB, "ListenerId", T_UC_ALB_LISTENER,
                           "Certificates.0", a, NULL};
    assert_int_equal(uc_json(t, fmt, flat2), 0);
    snprintf(want, sizeof(want), "%s,%s", a, b);
    assert_string_equal(state_certs(t, T_UC_ALB, T_UC_ALB_LISTENER), want);
    /* signed over other names than those sent: refused */
    const char *flat3[] = {"Action", "UpdateListenerAttribute", "Region", "cn-bj2",
                           "LoadBalancerId", T_UC_ALB, "ListenerId", T_UC_ALB_LISTENER,
                           "Certificates", a, NULL};
    assert_int_equal(uc_json(t, fmt, flat3), 171);
    free(a);
    free(b);
}

/* Console credentials may bind and unbind (as with the classic actions); a signature made
 * with the wrong key is refused before anything changes. */
static void test_roles_and_signature(void **state)
{
    struct fe_test *t = *state;
    const char *add[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", T_UC_MANAGED_CERT, NULL};
    assert_int_equal(fe_test_uc_full(t, T_UC_PUB, "wrong-key", false, add), 171);
    assert_string_equal(state_certs(t, T_UC_ALB, T_UC_ALB_LISTENER), T_UC_SEED_CERT);
    assert_int_equal(fe_test_uc_full(t, T_UC_CONSOLE_PUB, T_UC_CONSOLE_PRIV, false, add), 0);
    const char *dflt[] = {ALB_OP("UpdateListenerAttribute"), "Certificates.0", T_UC_MANAGED_CERT,
                          NULL};
    assert_int_equal(fe_test_uc_full(t, T_UC_CONSOLE_PUB, T_UC_CONSOLE_PRIV, false, dflt), 0);
    const char *rm[] = {ALB_OP("DeleteSSLBinding"), "SSLIds.0", T_UC_MANAGED_CERT, NULL};
    assert_int_equal(fe_test_uc_full(t, T_UC_CONSOLE_PUB, T_UC_CONSOLE_PRIV, false, rm), 4106);
    /* ... but may not delete the managed certificate, bound or not */
    const char *del[] = {"Action", "DeleteSSL", "Region", "cn-bj2", "SSLId", T_UC_MANAGED_CERT,
                         NULL};
    assert_int_equal(fe_test_uc_full(t, T_UC_CONSOLE_PUB, T_UC_CONSOLE_PRIV, false, del), 299);
    /* another region's project scope: the ALB is not there */
    const char *other[] = {"Action", "AddSSLBinding", "Region", "cn-sh2", "LoadBalancerId",
                           T_UC_ALB, "ListenerId", T_UC_ALB_LISTENER, "SSLIds.0",
                           T_UC_SH2_CERT, NULL};
    assert_int_equal(fe_test_uc(t, other), 4072);
    const char *project[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "ProjectId",
                             "org-nope", "LoadBalancerId", T_UC_ALB, NULL};
    assert_int_equal(fe_test_uc(t, project), 292);
}

/* Every ALB action is counted under its name with its outcome; the state shows the roles. */
static void test_stats_and_state(void **state)
{
    struct fe_test *t = *state;
    char *a = create_ssl(t, "cn-bj2", "a");
    assert_int_equal(fe_test_ctl(t, "POST", "/_fake/stats/reset", NULL), 200);
    const char *add[] = {ALB_OP("AddSSLBinding"), "SSLIds.0", a, NULL};
    assert_int_equal(fe_test_uc(t, add), 0);
    assert_int_equal(fe_test_uc(t, add), 63072);
    const char *desc[] = {"Action", "DescribeListeners", "Region", "cn-bj2", "LoadBalancerId",
                          T_UC_ALB, NULL};
    assert_int_equal(fe_test_uc(t, desc), 0);
    const char *lbs[] = {"Action", "DescribeLoadBalancers", "Region", "cn-bj2", NULL};
    assert_int_equal(fe_test_uc(t, lbs), 0);
    const char *upd[] = {ALB_OP("UpdateListenerAttribute"), "Name", "n", NULL};
    assert_int_equal(fe_test_uc(t, upd), 0);
    const char *rm[] = {ALB_OP("DeleteSSLBinding"), "SSLIds.0", a, NULL};
    assert_int_equal(fe_test_uc(t, rm), 0);
    assert_int_equal(fe_test_uc(t, rm), 4106);
    const char *create[] = {"Action", "CreateListener", "Region", "cn-bj2", NULL};
    assert_int_equal(fe_test_uc(t, create), 161); /* not emulated */

    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/stats", NULL), 200);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "ucloud"), "AddSSLBinding", -1), 2);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "ucloud"), "DeleteSSLBinding", -1), 2);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "ucloud"), "DescribeListeners", -1), 1);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "ucloud"), "DescribeLoadBalancers", -1),
                     1);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "ucloud"), "UpdateListenerAttribute", -1),
                     1);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "ucloud"), "Unknown", -1), 1);
    const cJSON *o = cs_json_path(t->json, "outcomes.ucloud.AddSSLBinding");
    assert_int_equal(cs_json_int(o, "ok", -1), 1);
    assert_int_equal(cs_json_int(o, "63072", -1), 1);
    assert_int_equal(cs_json_int(cs_json_path(t->json, "outcomes.ucloud.DeleteSSLBinding"),
                                 "4106", -1),
                     1);

    /* /_fake/state: ULBType, SSLIds (default first), DefaultSSLId, SNISSLIds, IsDefault */
    assert_int_equal(fe_test_uc(t, add), 0);
    assert_int_equal(fe_test_ctl(t, "GET", "/_fake/state", NULL), 200);
    const cJSON *alb = NULL;
    for (const cJSON *u = cs_json_path(t->json, "ucloud.ulbs")->child; u; u = u->next)
        if (strcmp(cs_json_str(u, "ULBId"), T_UC_ALB) == 0)
            alb = u;
    assert_non_null(alb);
    assert_string_equal(cs_json_str(alb, "ULBType"), "alb");
    const cJSON *v = cs_json_path(alb, "VServers")->child;
    assert_string_equal(cs_json_str(v, "VServerName"), "n");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(v, "SSLIds")), 2);
    assert_string_equal(cs_json_str(v, "DefaultSSLId"), T_UC_SEED_CERT);
    assert_string_equal(cJSON_GetObjectItem(v, "SNISSLIds")->child->valuestring, a);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(v->next, "DefaultSSLId")));
    for (const cJSON *c = cs_json_path(t->json, "ucloud.certificates")->child; c; c = c->next) {
        if (strcmp(cs_json_str(c, "SSLId"), a) != 0)
            continue;
        const cJSON *b = cs_json_path(c, "BindedTargetSet")->child;
        assert_string_equal(cs_json_str(b, "ULBId"), T_UC_ALB);
        assert_string_equal(cs_json_str(b, "VServerId"), T_UC_ALB_LISTENER);
        assert_string_equal(cs_json_str(b, "ULBType"), "alb");
        assert_false(cJSON_IsTrue(cJSON_GetObjectItem(b, "IsDefault")));
    }
    /* reset brings the seeded listener back */
    assert_int_equal(fe_test_ctl(t, "POST", "/_fake/reset", NULL), 200);
    assert_string_equal(state_certs(t, T_UC_ALB, T_UC_ALB_LISTENER), T_UC_SEED_CERT);
    free(a);
}

/* ---- seeds ---- */

static char *alb_seed(const char *cert_pem, const char *protocol, int n_ids, const char *dup)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *uc = cJSON_AddObjectToObject(root, "ucloud");
    cJSON *a = cJSON_AddArrayToObject(uc, "projects");
    cJSON_AddItemToArray(a, cJSON_CreateString("org-x"));
    a = cJSON_AddArrayToObject(uc, "regions");
    cJSON_AddItemToArray(a, cJSON_CreateString("cn-bj2"));
    a = cJSON_AddArrayToObject(uc, "certificates");
    for (int i = 0; i < 27; i++) {
        cJSON *o = cJSON_CreateObject();
        char id[32];
        snprintf(id, sizeof(id), "ssl-%02d", i);
        cJSON_AddStringToObject(o, "SSLId", id);
        cJSON_AddStringToObject(o, "Region", "cn-bj2");
        cJSON_AddStringToObject(o, "ProjectId", "org-x");
        cJSON_AddStringToObject(o, "SSLName", id);
        cJSON_AddStringToObject(o, "UserCert", cert_pem);
        cJSON_AddItemToArray(a, o);
    }
    a = cJSON_AddArrayToObject(uc, "ulbs");
    cJSON *u = cJSON_CreateObject();
    cJSON_AddItemToArray(a, u);
    cJSON_AddStringToObject(u, "ULBId", "alb-seed");
    cJSON_AddStringToObject(u, "Region", "cn-bj2");
    cJSON_AddStringToObject(u, "ProjectId", "org-x");
    cJSON_AddStringToObject(u, "ULBType", "alb");
    cJSON *l = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(u, "VServers"), l);
    cJSON_AddStringToObject(l, "VServerId", "als-seed");
    cJSON_AddStringToObject(l, "Protocol", protocol);
    cJSON_AddNumberToObject(l, "FrontendPort", 443);
    cJSON *ids = cJSON_AddArrayToObject(l, "SSLIds");
    for (int i = 0; i < n_ids; i++) {
        char id[32];
        snprintf(id, sizeof(id), "ssl-%02d", i);
        cJSON_AddItemToArray(ids, cJSON_CreateString(id));
    }
    if (dup)
        cJSON_AddItemToArray(ids, cJSON_CreateString(dup));
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    char *copy = strdup(s);
    cJSON_free(s);
    return copy;
}

static void test_seed_rules(void **state)
{
    (void)state;
    char *pem, *pem_key;
    fe_test_make_cert("seed.example.test", NULL, 30, &pem, &pem_key);
    struct {
        const char *protocol;
        int n;
        const char *dup;
        const char *why; /* NULL: accepted */
    } cases[] = {
        {"HTTPS", 1, NULL, NULL},
        {"HTTPS", 26, NULL, NULL},
        {"HTTP", 0, NULL, NULL},
        {"HTTPS", 0, NULL, "needs a default certificate"},
        {"HTTPS", 27, NULL, "at most 26"},
        {"HTTP", 1, NULL, "only HTTPS listeners"},
        {"HTTPS", 2, "ssl-01", "listed twice"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *seed = alb_seed(pem, cases[i].protocol, cases[i].n, cases[i].dup);
        struct fe_server *s = NULL;
        struct cs_err err;
        memset(&err, 0, sizeof(err));
        enum cs_code rc = fe_server_new(seed, strlen(seed), NULL, &s, &err);
        if (cases[i].why) {
            assert_int_equal(rc, CS_EINVAL);
            assert_null(s);
            assert_non_null(strstr(err.message, cases[i].why));
            assert_non_null(strstr(err.message, "als-seed"));
        } else {
            assert_int_equal(rc, CS_OK);
            fe_server_free(s);
        }
        free(seed);
    }
    free(pem);
    cs_secure_free_str(pem_key);
}

int main(void)
{
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_describe_load_balancers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_listeners, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_delete_ssl_binding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sni_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_listener_attribute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_arrays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roles_and_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_and_state, setup, teardown),
        cmocka_unit_test(test_seed_rules),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    free(cert);
    cs_secure_free_str(key);
    return failed;
}
