/* bench.c -- fake-elb figures (not a test: no timing assertions): in-process, with signed
 * requests, how long creating N certificates takes, and listing pages over N certificates
 * (Huawei by marker, UCloud by Offset). Run: fake-elb-bench [N] (default 10000). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "tests/fakes/elb/testlib.h"

#define CERTS "/v3/" T_HW_PROJECT "/elb/certificates"

static double per(uint64_t ms, int n)
{
    return n ? (double)ms / n : 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    if (n <= 0 || n > 1000000)
        return 2;
    cs_json_init();
    struct fe_test t;
    char *seed = fe_test_seed(n + 10, n + 10);
    fe_test_init(&t, seed);
    free(seed);
    char *cert, *key;
    fe_test_make_cert("bench.example.test", "bench.example.test", 30, &cert, &key);
    cJSON *r = cJSON_CreateObject();
    cJSON *o = cJSON_AddObjectToObject(r, "certificate");
    cJSON_AddStringToObject(o, "name", "bench");
    cJSON_AddStringToObject(o, "certificate", cert);
    cJSON_AddStringToObject(o, "private_key", key);
    char *body = cJSON_PrintUnformatted(r);

    uint64_t t0 = cs_now_ms();
    for (int i = 0; i < n; i++)
        if (fe_test_hw(&t, "POST", CERTS, NULL, body) != 201)
            return 1;
    uint64_t create_ms = cs_now_ms() - t0;

    t0 = cs_now_ms();
    char marker[80] = "";
    int pages = 0, seen = 0;
    for (;;) {
        char q[160];
        snprintf(q, sizeof(q), "limit=100%s%s", marker[0] ? "&marker=" : "", marker);
        if (fe_test_hw(&t, "GET", CERTS, q, NULL) != 200)
            return 1;
        seen += cJSON_GetArraySize(cs_json_path(t.json, "certificates"));
        pages++;
        const char *next = fe_test_str(&t, "page_info.next_marker");
        if (!next)
            break;
        snprintf(marker, sizeof(marker), "%s", next);
    }
    uint64_t page_ms = cs_now_ms() - t0;

    t0 = cs_now_ms();
    if (fe_test_hw(&t, "GET", CERTS, "limit=2000", NULL) != 200)
        return 1;
    uint64_t big_ms = cs_now_ms() - t0;

    const char *p[] = {"Action", "CreateSSL", "Region", "cn-bj2", "SSLName", "bench",
                       "UserCert", cert, "PrivateKey", key, NULL};
    t0 = cs_now_ms();
    for (int i = 0; i < n; i++)
        if (fe_test_uc(&t, p) != 0)
            return 1;
    uint64_t uc_create_ms = cs_now_ms() - t0;
    char off[16];
    snprintf(off, sizeof(off), "%d", n - 100 > 0 ? n - 100 : 0);
    const char *d[] = {"Action", "DescribeSSL", "Region", "cn-bj2", "Offset", off, "Limit", "100",
                       NULL};
    t0 = cs_now_ms();
    for (int i = 0; i < 10; i++)
        if (fe_test_uc(&t, d) != 0)
            return 1;
    uint64_t uc_page_ms = cs_now_ms() - t0;

    printf("certificates: %d per cloud\n", n);
    printf("huawei CreateCertificate: %.3f ms each (%llu ms total)\n", per(create_ms, n),
           (unsigned long long)create_ms);
    printf("huawei ListCertificates limit=100 by marker: %d pages, %d items, %.3f ms per page\n",
           pages, seen, per(page_ms, pages));
    printf("huawei ListCertificates limit=2000: %llu ms\n", (unsigned long long)big_ms);
    printf("ucloud CreateSSL: %.3f ms each (%llu ms total)\n", per(uc_create_ms, n),
           (unsigned long long)uc_create_ms);
    printf("ucloud DescribeSSL Offset=%s Limit=100: %.3f ms each\n", off, per(uc_page_ms, 10));
    cJSON_free(body);
    cJSON_Delete(r);
    free(cert);
    cs_secure_free_str(key);
    fe_test_cleanup(&t);
    return 0;
}
