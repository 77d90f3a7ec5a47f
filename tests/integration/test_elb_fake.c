/* test_elb_fake.c -- both ELB clients against the real fake-elb binary on 127.0.0.1: every
 * operation (UCloud classic VServers and ALB listeners), pagination over 1,000+ certificates,
 * error kinds (in use, not found, auth, quota), throttling honoured, lost create answers
 * recovered without duplicates, and
 * `elb-certsync api GET ...` run as a program. argv[1]: fake-elb, argv[2]: elb-certsync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/http.h"
#include "common/json.h"
#include "common/util.h"
#include "elb/backend.h"
#include "elb/elb.h"
#include "tests/fakes/elb/testlib.h"

extern char **environ;

static const char *fake_bin, *cli_bin;

struct fx {
    char dir[64];
    char seed_path[128], port_path[128], hw_cred[128], uc_cred[128], bad_cred[128];
    pid_t pid;
    int port;
    char base[64];
    struct cs_http_client *http;
    struct elb_provider *hw, *uc;
    char *cert_pem, *key_pem;
};

static void write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s, f);
    assert_int_equal(fclose(f), 0);
    chmod(path, 0600);
}

#define ODD_ALB "ulb-actually-alb"
#define ODD_ALB_LISTENER "vserver-alb8443"

/* The seed of fake-elb's own tests, plus n extra Huawei certificates (for paging) and one
 * more UCloud ALB. */
static char *seed_with(int extra, int hw_quota)
{
    char *seed = fe_test_seed(hw_quota, 100);
    cJSON *root = cJSON_Parse(seed);
    free(seed);
    cJSON *certs = (cJSON *)cs_json_path(root, "huawei.certificates");
    const cJSON *first = cJSON_GetArrayItem(certs, 0);
    for (int i = 0; i < extra; i++) {
        cJSON *c = cJSON_Duplicate(first, 1);
        char id[40], name[40];
        snprintf(id, sizeof(id), "%032x", 0x10000 + i);
        snprintf(name, sizeof(name), "bulk-%04d", i);
        cJSON_ReplaceItemInObject(c, "id", cJSON_CreateString(id));
        cJSON_ReplaceItemInObject(c, "name", cJSON_CreateString(name));
        cJSON_AddItemToArray(certs, c);
    }
    /* An application load balancer whose ID does not look like one (the e2e seeds have
     * such): found through DescribeListeners once DescribeULB does not know it. */
    cJSON *alb = cJSON_CreateObject();
    cJSON_AddStringToObject(alb, "ULBId", ODD_ALB);
    cJSON_AddStringToObject(alb, "Region", "cn-bj2");
    cJSON_AddStringToObject(alb, "ProjectId", T_UC_PROJECT);
    cJSON_AddStringToObject(alb, "ULBType", "alb");
    cJSON *l = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(alb, "VServers"), l);
    cJSON_AddStringToObject(l, "VServerId", ODD_ALB_LISTENER);
    cJSON_AddNumberToObject(l, "FrontendPort", 8443);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(l, "SSLIds"), cJSON_CreateString(T_UC_SEED_CERT));
    cJSON_AddItemToArray((cJSON *)cs_json_path(root, "ucloud.ulbs"), alb);
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

/* POST /_fake/faults is a partial update: "{}" changes nothing */
#define FAULTS_OFF "{\"throttle_rate\":0,\"error_500_rate\":0,\"lost_response_rate\":0}"

static struct elb_provider *provider(struct fx *f, const char *kind, const char *cred)
{
    struct elb_provider_config cfg = {
        .kind = kind,
        .endpoint = f->base,
        .region = strcmp(kind, "huawei") == 0 ? "cn-north-4" : "cn-bj2",
        .project_id = strcmp(kind, "huawei") == 0 ? T_HW_PROJECT : T_UC_PROJECT,
        .credentials_file = cred,
        .timeout_ms = 2000,
        /* generous: faults are random (a 0.6 failure rate per attempt exhausts 21 attempts
         * with probability 2e-5; 7 attempts failed one run in ten) */
        .max_retries = 20,
        .retry_initial_ms = 1,
        .retry_max_ms = 20,
        .page_size = 100,
    };
    struct elb_provider *p = NULL;
    struct cs_err err;
    if (elb_provider_new(&cfg, &p, &err) != CS_OK)
        fprintf(stderr, "provider: %s\n", err.message);
    return p;
}

static int start_with(void **state, int extra, int hw_quota)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/elb-it.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->seed_path, sizeof(f->seed_path), "%s/seed.json", f->dir);
    snprintf(f->port_path, sizeof(f->port_path), "%s/port", f->dir);
    snprintf(f->hw_cred, sizeof(f->hw_cred), "%s/hw.env", f->dir);
    snprintf(f->uc_cred, sizeof(f->uc_cred), "%s/uc.env", f->dir);
    snprintf(f->bad_cred, sizeof(f->bad_cred), "%s/bad.env", f->dir);
    char *seed = seed_with(extra, hw_quota);
    write_file(f->seed_path, seed);
    cJSON_free(seed);
    write_file(f->hw_cred, "HUAWEICLOUD_SDK_AK=" T_HW_AK "\nHUAWEICLOUD_SDK_SK=" T_HW_SK "\n");
    write_file(f->uc_cred, "UCLOUD_PUBLIC_KEY=" T_UC_PUB "\nUCLOUD_PRIVATE_KEY=" T_UC_PRIV "\n");
    write_file(f->bad_cred, "HUAWEICLOUD_SDK_AK=" T_HW_AK "\nHUAWEICLOUD_SDK_SK=wrong\n");
    char *argv[] = {(char *)fake_bin, "--listen", "127.0.0.1:0", "--port-file", f->port_path,
                    "--state", f->seed_path, "--quiet", NULL};
    if (posix_spawn(&f->pid, fake_bin, NULL, NULL, argv, environ) != 0)
        return -1;
    for (int i = 0; i < 1000 && !f->port; i++) {
        FILE *pf = fopen(f->port_path, "r");
        if (pf) {
            if (fscanf(pf, "%d", &f->port) != 1)
                f->port = 0;
            fclose(pf);
        }
        if (!f->port)
            cs_sleep_ms(10);
    }
    if (!f->port)
        return -1;
    snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->port);
    struct cs_http_client_opts o = {.connect_timeout_ms = 2000};
    if (cs_http_client_new(&o, &f->http, NULL) != CS_OK)
        return -1;
    f->hw = provider(f, "huawei", f->hw_cred);
    f->uc = provider(f, "ucloud", f->uc_cred);
    if (!f->hw || !f->uc)
        return -1;
    fe_test_make_cert("web.example.test", "web.example.test", 30, &f->cert_pem, &f->key_pem);
    *state = f;
    return 0;
}

static int start(void **state)
{
    return start_with(state, 0, 1000);
}

static int start_bulk(void **state)
{
    return start_with(state, 1005, 5000);
}

static int start_small_quota(void **state)
{
    return start_with(state, 0, 3);
}

static int stop(void **state)
{
    struct fx *f = *state;
    if (!f)
        return 0;
    elb_provider_free(f->hw);
    elb_provider_free(f->uc);
    cs_http_client_free(f->http);
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
    }
    free(f->cert_pem);
    cs_secure_free_str(f->key_pem);
    unlink(f->seed_path);
    unlink(f->port_path);
    unlink(f->hw_cred);
    unlink(f->uc_cred);
    unlink(f->bad_cred);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* A control request; returns the parsed JSON answer (caller deletes). */
static cJSON *ctl(struct fx *f, const char *method, const char *path, const char *body)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", f->base, path);
    struct cs_http_header h[] = {{"Content-Type", "application/json"}};
    struct cs_http_request req = {.method = method, .url = url, .headers = h, .n_headers = 1,
                                  .body = body, .body_len = body ? strlen(body) : 0,
                                  .timeout_ms = 5000};
    struct cs_http_response resp;
    cs_http_response_init(&resp);
    assert_int_equal(cs_http_do(f->http, &req, &resp, NULL), CS_OK);
    assert_int_equal(resp.status / 100, 2);
    cJSON *j = cJSON_ParseWithLength(resp.body.ptr, resp.body.len);
    cs_http_response_cleanup(&resp);
    return j;
}

static long stat_of(struct fx *f, const char *cloud, const char *op)
{
    cJSON *s = ctl(f, "GET", "/_fake/stats", NULL);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, cloud), op);
    long n = cJSON_IsNumber(c) ? (long)c->valuedouble : 0;
    cJSON_Delete(s);
    return n;
}

static size_t count_named(const struct elb_cert_list *l, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].name && strcmp(l->items[i].name, name) == 0)
            n++;
    return n;
}

/* ---- Huawei ---------------------------------------------------------------------------- */

static void test_hw_every_operation(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct elb_cert_list l = {0};
    assert_int_equal(elb_list_certs(f->hw, NULL, &l, &err), CS_OK);
    size_t before = l.n;
    assert_true(before >= 2); /* the seed's certificates of cn-north-4 */
    elb_cert_list_cleanup(&l);

    struct elb_cert_spec spec = {.name = "k8s_plb_default_shop_web_11aa22bb",
                                 .description = "{\"cluster\":\"c1\"}",
                                 .certificate_pem = f->cert_pem,
                                 .private_key_pem = f->key_pem,
                                 .protection_reason = "elb-certsync cluster c1"};
    struct elb_cert c;
    assert_int_equal(elb_create_cert(f->hw, NULL, &spec, &c, &err), CS_OK);
    assert_string_equal(c.name, spec.name);
    assert_true(c.protected_);
    char *id = strdup(c.id);
    elb_cert_cleanup(&c);

    assert_int_equal(elb_get_cert(f->hw, NULL, id, &c, &err), CS_OK);
    assert_string_equal(c.description, spec.description);
    assert_true(elb_pem_leaf_equal(c.certificate, f->cert_pem));
    elb_cert_cleanup(&c);

    assert_int_equal(elb_rename_cert(f->hw, NULL, id, "k8s_plb_default_shop_web_renamed", &err),
                     CS_OK);
    assert_int_equal(elb_get_cert(f->hw, NULL, id, &c, &err), CS_OK);
    assert_string_equal(c.name, "k8s_plb_default_shop_web_renamed");
    elb_cert_cleanup(&c);

    struct elb_listener_ref ref = {.lb_id = "lb-1", .port = 443};
    struct elb_listener li;
    assert_int_equal(elb_find_listener(f->hw, NULL, &ref, &li, &err), CS_OK);
    assert_string_equal(li.id, T_HW_LISTENER);
    assert_string_equal(li.default_cert_id, T_HW_SEED_CERT);
    const char *sni[] = {T_HW_SEED_CERT};
    assert_int_equal(elb_set_listener_certs(f->hw, NULL, &li, id, sni, 1, &err), CS_OK);
    elb_listener_cleanup(&li);
    struct elb_listener_ref byid = {.listener_id = T_HW_LISTENER};
    assert_int_equal(elb_find_listener(f->hw, NULL, &byid, &li, &err), CS_OK);
    assert_string_equal(li.default_cert_id, id);
    assert_int_equal(li.n_sni, 1);

    struct elb_listener_list ll = {0};
    assert_int_equal(elb_list_listeners(f->hw, NULL, &ll, &err), CS_OK);
    assert_true(ll.n >= 1);
    for (size_t i = 0; i < ll.n; i++)
        assert_string_equal(ll.items[i].protocol, "HTTPS");
    elb_listener_list_cleanup(&ll);

    /* Bound: refused with "in use"; unbound: deleted; then gone. */
    assert_int_equal(elb_delete_cert(f->hw, NULL, id, &err), CS_EINUSE);
    assert_int_equal(elb_set_listener_certs(f->hw, NULL, &li, T_HW_SEED_CERT, NULL, 0, &err),
                     CS_OK);
    elb_listener_cleanup(&li);
    assert_int_equal(elb_delete_cert(f->hw, NULL, id, &err), CS_OK);
    assert_int_equal(elb_get_cert(f->hw, NULL, id, &c, &err), CS_ENOTFOUND);
    assert_int_equal(elb_delete_cert(f->hw, NULL, id, &err), CS_ENOTFOUND);
    free(id);

    /* Not found kinds, invalid content, bad credentials. */
    struct elb_listener_ref nolb = {.lb_id = "lb-none", .port = 443};
    assert_int_equal(elb_find_listener(f->hw, NULL, &nolb, &li, &err), CS_ENOTFOUND);
    struct elb_cert_spec bad = spec;
    bad.certificate_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_int_equal(elb_create_cert(f->hw, NULL, &bad, &c, &err), CS_EINVAL);
    assert_true(err.provider_code[0] != '\0');
    struct elb_provider *wrong = provider(f, "huawei", f->bad_cred);
    assert_non_null(wrong);
    assert_int_equal(elb_list_certs(wrong, NULL, &l, &err), CS_EAUTH);
    elb_provider_free(wrong);
}

static void test_hw_pagination_over_1000(void **state)
{
    struct fx *f = *state;
    cJSON_Delete(ctl(f, "POST", "/_fake/stats/reset", "{}"));
    struct elb_cert_list l = {0};
    struct cs_err err;
    assert_int_equal(elb_list_certs(f->hw, NULL, &l, &err), CS_OK);
    assert_true(l.n >= 1007);
    for (size_t i = 1; i < l.n; i++)
        assert_string_not_equal(l.items[i].id, l.items[i - 1].id);
    assert_int_equal(count_named(&l, "bulk-0000"), 1);
    assert_int_equal(count_named(&l, "bulk-1004"), 1);
    /* page size 100: eleven pages (the last may be empty) */
    long pages = stat_of(f, "huawei", "ListCertificates");
    assert_true(pages >= 11 && pages <= 12);
    elb_cert_list_cleanup(&l);
}

static void test_hw_throttling_and_lost_creates(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    cJSON_Delete(ctl(f, "POST", "/_fake/faults", "{\"throttle_rate\":0.4}"));
    struct elb_cert_list l = {0};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(elb_list_certs(f->hw, NULL, &l, &err), CS_OK);
        elb_cert_list_cleanup(&l);
    }
    cJSON_Delete(ctl(f, "POST", "/_fake/faults",
                        "{\"throttle_rate\":0,\"lost_response_rate\":0.5}"));
    char names[6][64];
    for (int i = 0; i < 6; i++) {
        snprintf(names[i], sizeof(names[i]), "k8s_plb_default_ns_lost%d_abcd", i);
        struct elb_cert_spec spec = {.name = names[i], .description = "d",
                                     .certificate_pem = f->cert_pem,
                                     .private_key_pem = f->key_pem};
        struct elb_cert c;
        enum cs_code rc = elb_create_cert(f->hw, NULL, &spec, &c, &err);
        assert_int_equal(rc, CS_OK);
        assert_string_equal(c.name, names[i]);
        elb_cert_cleanup(&c);
    }
    cJSON_Delete(ctl(f, "POST", "/_fake/faults", FAULTS_OFF));
    assert_int_equal(elb_list_certs(f->hw, NULL, &l, &err), CS_OK);
    for (int i = 0; i < 6; i++)
        assert_int_equal(count_named(&l, names[i]), 1); /* never a duplicate */
    elb_cert_list_cleanup(&l);
}

static void test_hw_quota(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct elb_cert c;
    enum cs_code rc = CS_OK;
    for (int i = 0; i < 5 && rc == CS_OK; i++) {
        char name[64];
        snprintf(name, sizeof(name), "q%d", i);
        struct elb_cert_spec spec = {.name = name, .certificate_pem = f->cert_pem,
                                     .private_key_pem = f->key_pem};
        rc = elb_create_cert(f->hw, NULL, &spec, &c, &err);
        if (rc == CS_OK)
            elb_cert_cleanup(&c);
    }
    assert_int_equal(rc, CS_EQUOTA);
    assert_false(err.retryable);
}

static void test_api_command(void **state)
{
    struct fx *f = *state;
    char path[128];
    snprintf(path, sizeof(path), "/v3/%s/elb/certificates", T_HW_PROJECT);
    char out_path[160];
    snprintf(out_path, sizeof(out_path), "%s/api.out", f->dir);
    char *argv[] = {(char *)cli_bin, "api", "--provider", "huawei", "--endpoint", f->base,
                    "--region", "cn-north-4", "--project-id", T_HW_PROJECT,
                    "--credentials-file", f->hw_cred, "GET", path, "--query", "limit=1", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    char *env[] = {"PATH=/usr/bin:/bin", NULL};
    assert_int_equal(posix_spawn(&pid, cli_bin, &fa, NULL, argv, env), 0);
    posix_spawn_file_actions_destroy(&fa);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    FILE *o = fopen(out_path, "r");
    assert_non_null(o);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, o);
    fclose(o);
    buf[n] = '\0';
    unlink(out_path);
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "certificates")), 1);
    cJSON_Delete(j);

    /* UCloud through the same command */
    char *uargv[] = {(char *)cli_bin, "api", "--provider", "ucloud", "--endpoint", f->base,
                     "--region", "cn-bj2", "--project-id", T_UC_PROJECT, "--credentials-file",
                     f->uc_cred, "DescribeSSL", "Limit=5", NULL};
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(posix_spawn(&pid, cli_bin, &fa, NULL, uargv, env), 0);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(WEXITSTATUS(st), 0);
    o = fopen(out_path, "r");
    assert_non_null(o);
    n = fread(buf, 1, sizeof(buf) - 1, o);
    fclose(o);
    buf[n] = '\0';
    unlink(out_path);
    j = cJSON_Parse(buf);
    assert_non_null(j);
    assert_int_equal(cs_json_int(j, "RetCode", -1), 0);
    cJSON_Delete(j);
}

/* ---- UCloud ---------------------------------------------------------------------------- */

static void test_uc_every_operation(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    struct elb_cert_list l = {0};
    assert_int_equal(elb_list_certs(f->uc, NULL, &l, &err), CS_OK);
    assert_true(l.n >= 1);
    elb_cert_list_cleanup(&l);

    struct elb_cert_spec spec = {.name = "k8s_plb_c1_shop_web_11aa22bb",
                                 .certificate_pem = f->cert_pem,
                                 .private_key_pem = f->key_pem};
    struct elb_cert c;
    assert_int_equal(elb_create_cert(f->uc, NULL, &spec, &c, &err), CS_OK);
    char *id = strdup(c.id);
    elb_cert_cleanup(&c);
    assert_int_equal(elb_get_cert(f->uc, NULL, id, &c, &err), CS_OK);
    assert_string_equal(c.name, spec.name);
    assert_true(c.bindings_known);
    assert_int_equal(c.n_bindings, 0);
    assert_true(c.certificate == NULL || strstr(c.certificate, "PRIVATE KEY") == NULL);
    elb_cert_cleanup(&c);
    assert_int_equal(elb_rename_cert(f->uc, NULL, id, "k8s_plb_c1_renamed", &err), CS_OK);

    struct elb_listener_ref ref = {.lb_id = "ulb-classic1", .port = 443};
    struct elb_listener li;
    assert_int_equal(elb_find_listener(f->uc, NULL, &ref, &li, &err), CS_OK);
    assert_string_equal(li.id, "vserver-https443");
    assert_string_equal(li.default_cert_id, T_UC_SEED_CERT);
    assert_int_equal(li.kind, ELB_LISTENER_SINGLE);
    assert_int_equal(elb_set_listener_certs(f->uc, NULL, &li, id, NULL, 0, &err), CS_OK);
    elb_listener_cleanup(&li);
    assert_int_equal(elb_find_listener(f->uc, NULL, &ref, &li, &err), CS_OK);
    assert_string_equal(li.default_cert_id, id);
    assert_int_equal(elb_get_cert(f->uc, NULL, id, &c, &err), CS_OK);
    assert_int_equal(c.n_bindings, 1);
    elb_cert_cleanup(&c);

    assert_int_equal(elb_delete_cert(f->uc, NULL, id, &err), CS_EINUSE);
    assert_int_equal(elb_set_listener_certs(f->uc, NULL, &li, T_UC_SEED_CERT, NULL, 0, &err),
                     CS_OK);
    elb_listener_cleanup(&li);
    assert_int_equal(elb_delete_cert(f->uc, NULL, id, &err), CS_OK);
    assert_int_equal(elb_get_cert(f->uc, NULL, id, &c, &err), CS_ENOTFOUND);
    free(id);

    struct elb_listener_list ll = {0};
    assert_int_equal(elb_list_listeners(f->uc, NULL, &ll, &err), CS_OK);
    assert_true(ll.n >= 1);
    elb_listener_list_cleanup(&ll);

    /* lost creates: no duplicates */
    cJSON_Delete(ctl(f, "POST", "/_fake/faults", "{\"lost_response_rate\":0.5,\"throttle_rate\":0.2}"));
    char names[5][64];
    for (int i = 0; i < 5; i++) {
        snprintf(names[i], sizeof(names[i]), "k8s_plb_c1_lost%d", i);
        struct elb_cert_spec s2 = {.name = names[i], .certificate_pem = f->cert_pem,
                                   .private_key_pem = f->key_pem};
        assert_int_equal(elb_create_cert(f->uc, NULL, &s2, &c, &err), CS_OK);
        elb_cert_cleanup(&c);
    }
    cJSON_Delete(ctl(f, "POST", "/_fake/faults", FAULTS_OFF));
    assert_int_equal(elb_list_certs(f->uc, NULL, &l, &err), CS_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(count_named(&l, names[i]), 1);
    elb_cert_list_cleanup(&l);
}

/* ---- UCloud application load balancers ------------------------------------------------ */

/* The certificates of a listener as the emulator holds them: "default,sni,...". */
static const char *uc_listener_state(struct fx *f, const char *lb, const char *listener)
{
    static char out[2048];
    out[0] = '\0';
    cJSON *st = ctl(f, "GET", "/_fake/state", NULL);
    for (const cJSON *u = cs_json_path(st, "ucloud.ulbs")->child; u; u = u->next) {
        if (strcmp(cs_json_str(u, "ULBId"), lb) != 0)
            continue;
        for (const cJSON *v = cs_json_path(u, "VServers")->child; v; v = v->next) {
            if (strcmp(cs_json_str(v, "VServerId"), listener) != 0)
                continue;
            const cJSON *id;
            cJSON_ArrayForEach(id, cJSON_GetObjectItem(v, "SSLIds"))
            {
                size_t n = strlen(out);
                snprintf(out + n, sizeof(out) - n, "%s%s", n ? "," : "", id->valuestring);
            }
        }
    }
    cJSON_Delete(st);
    return out;
}

static char *uc_create(struct fx *f, const char *name)
{
    struct elb_cert_spec spec = {.name = name, .certificate_pem = f->cert_pem,
                                 .private_key_pem = f->key_pem};
    struct elb_cert c;
    struct cs_err err;
    assert_int_equal(elb_create_cert(f->uc, NULL, &spec, &c, &err), CS_OK);
    char *id = strdup(c.id);
    elb_cert_cleanup(&c);
    return id;
}

/* Finds the listener again and sets its certificates (the controller always passes the
 * listener as last read). */
static enum cs_code uc_set(struct fx *f, const struct elb_listener_ref *ref, const char *def,
                           const char *const *sni, size_t n)
{
    struct elb_listener li;
    struct cs_err err;
    assert_int_equal(elb_find_listener(f->uc, NULL, ref, &li, &err), CS_OK);
    enum cs_code rc = elb_set_listener_certs(f->uc, NULL, &li, def, sni, n, &err);
    elb_listener_cleanup(&li);
    return rc;
}

static void test_uc_alb_every_operation(void **state)
{
    struct fx *f = *state;
    struct cs_err err;
    char want[512];

    /* the region's listeners: the classic VServer and both ALB listeners (HTTPS only) */
    struct elb_listener_list ll = {0};
    assert_int_equal(elb_list_listeners(f->uc, NULL, &ll, &err), CS_OK);
    int seen = 0;
    for (size_t i = 0; i < ll.n; i++) {
        const struct elb_listener *x = &ll.items[i];
        if (strcmp(x->id, "vserver-https443") == 0) {
            assert_int_equal(x->kind, ELB_LISTENER_SINGLE);
            seen |= 1;
        } else if (strcmp(x->id, T_UC_ALB_LISTENER) == 0) {
            assert_int_equal(x->kind, ELB_LISTENER_SNI);
            assert_string_equal(x->lb_id, T_UC_ALB);
            assert_string_equal(x->default_cert_id, T_UC_SEED_CERT);
            assert_int_equal(x->port, 443);
            seen |= 2;
        } else if (strcmp(x->id, ODD_ALB_LISTENER) == 0) {
            assert_string_equal(x->lb_id, ODD_ALB);
            seen |= 4;
        } else {
            fail_msg("unexpected listener %s", x->id); /* HTTP ones, other regions' */
        }
    }
    assert_int_equal(seen, 7);
    elb_listener_list_cleanup(&ll);

    /* find: by balancer and port, by ID alone, a port without listener, an unknown balancer */
    struct elb_listener_ref ref = {.lb_id = T_UC_ALB, .port = 443};
    struct elb_listener li;
    assert_int_equal(elb_find_listener(f->uc, NULL, &ref, &li, &err), CS_OK);
    assert_string_equal(li.id, T_UC_ALB_LISTENER);
    assert_int_equal(li.kind, ELB_LISTENER_SNI);
    assert_string_equal(li.default_cert_id, T_UC_SEED_CERT);
    assert_int_equal(li.n_sni, 0);
    elb_listener_cleanup(&li);
    struct elb_listener_ref by_id = {.listener_id = T_UC_ALB_LISTENER};
    assert_int_equal(elb_find_listener(f->uc, NULL, &by_id, &li, &err), CS_OK);
    assert_string_equal(li.lb_id, T_UC_ALB);
    elb_listener_cleanup(&li);
    struct elb_listener_ref http = {.lb_id = T_UC_ALB, .port = 80};
    assert_int_equal(elb_find_listener(f->uc, NULL, &http, &li, &err), CS_ENOTFOUND);
    struct elb_listener_ref nope = {.lb_id = "alb-nope", .port = 443};
    assert_int_equal(elb_find_listener(f->uc, NULL, &nope, &li, &err), CS_ENOTFOUND);
    assert_non_null(strstr(err.message, "alb-nope"));
    struct elb_listener_ref nope2 = {.lb_id = "ulb-nope", .port = 443};
    assert_int_equal(elb_find_listener(f->uc, NULL, &nope2, &li, &err), CS_ENOTFOUND);

    char *a = uc_create(f, "k8s_plb_c1_shop_a_1111");
    char *b = uc_create(f, "k8s_plb_c1_shop_b_2222");
    char *c = uc_create(f, "k8s_plb_c1_shop_c_3333");
    char *a2 = uc_create(f, "k8s_plb_c1_shop_a_4444");

    /* set the default and an SNI certificate */
    const char *sni_b[] = {b};
    assert_int_equal(uc_set(f, &ref, a, sni_b, 1), CS_OK);
    snprintf(want, sizeof(want), "%s,%s", a, b);
    assert_string_equal(uc_listener_state(f, T_UC_ALB, T_UC_ALB_LISTENER), want);
    /* add an SNI certificate */
    const char *sni_bc[] = {b, c};
    assert_int_equal(uc_set(f, &ref, a, sni_bc, 2), CS_OK);
    snprintf(want, sizeof(want), "%s,%s,%s", a, b, c);
    assert_string_equal(uc_listener_state(f, T_UC_ALB, T_UC_ALB_LISTENER), want);
    /* the certificates report their bindings */
    struct elb_cert cert;
    assert_int_equal(elb_get_cert(f->uc, NULL, b, &cert, &err), CS_OK);
    assert_int_equal(cert.n_bindings, 1);
    assert_string_equal(cert.bindings[0].listener_id, T_UC_ALB_LISTENER);
    elb_cert_cleanup(&cert);
    /* delete refused while bound (as SNI and as default) */
    assert_int_equal(elb_delete_cert(f->uc, NULL, b, &err), CS_EINUSE);
    assert_int_equal(elb_delete_cert(f->uc, NULL, a, &err), CS_EINUSE);
    /* remove an SNI certificate; then it can go */
    const char *sni_c[] = {c};
    assert_int_equal(uc_set(f, &ref, a, sni_c, 1), CS_OK);
    snprintf(want, sizeof(want), "%s,%s", a, c);
    assert_string_equal(uc_listener_state(f, T_UC_ALB, T_UC_ALB_LISTENER), want);
    assert_int_equal(elb_delete_cert(f->uc, NULL, b, &err), CS_OK);
    /* rotate the default; the old one is unbound and can go */
    assert_int_equal(uc_set(f, &ref, a2, sni_c, 1), CS_OK);
    snprintf(want, sizeof(want), "%s,%s", a2, c);
    assert_string_equal(uc_listener_state(f, T_UC_ALB, T_UC_ALB_LISTENER), want);
    assert_int_equal(elb_delete_cert(f->uc, NULL, a, &err), CS_OK);
    /* swap the roles of the two */
    const char *sni_a2[] = {a2};
    assert_int_equal(uc_set(f, &ref, c, sni_a2, 1), CS_OK);
    snprintf(want, sizeof(want), "%s,%s", c, a2);
    assert_string_equal(uc_listener_state(f, T_UC_ALB, T_UC_ALB_LISTENER), want);
    /* back to the seeded default alone; then both go */
    assert_int_equal(uc_set(f, &ref, T_UC_SEED_CERT, NULL, 0), CS_OK);
    assert_string_equal(uc_listener_state(f, T_UC_ALB, T_UC_ALB_LISTENER), T_UC_SEED_CERT);
    assert_int_equal(elb_delete_cert(f->uc, NULL, c, &err), CS_OK);
    assert_int_equal(elb_delete_cert(f->uc, NULL, a2, &err), CS_OK);

    /* the ALB whose ID looks classic */
    char *d = uc_create(f, "k8s_plb_c1_shop_d_5555");
    struct elb_listener_ref odd = {.lb_id = ODD_ALB, .port = 8443};
    const char *sni_d[] = {d};
    assert_int_equal(uc_set(f, &odd, T_UC_SEED_CERT, sni_d, 1), CS_OK);
    snprintf(want, sizeof(want), "%s,%s", T_UC_SEED_CERT, d);
    assert_string_equal(uc_listener_state(f, ODD_ALB, ODD_ALB_LISTENER), want);
    assert_int_equal(uc_set(f, &odd, T_UC_SEED_CERT, NULL, 0), CS_OK);
    assert_int_equal(elb_delete_cert(f->uc, NULL, d, &err), CS_OK);

    /* every ALB call was one the emulator knows, counted under its name */
    assert_true(stat_of(f, "ucloud", "DescribeLoadBalancers") >= 1);
    assert_true(stat_of(f, "ucloud", "DescribeListeners") >= 10);
    assert_true(stat_of(f, "ucloud", "AddSSLBinding") >= 4);
    assert_true(stat_of(f, "ucloud", "DeleteSSLBinding") >= 3);
    assert_true(stat_of(f, "ucloud", "UpdateListenerAttribute") >= 4);
    assert_int_equal(stat_of(f, "ucloud", "Unknown"), 0);
    free(a);
    free(b);
    free(c);
    free(a2);
    free(d);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FAKE_ELB ELB_CERTSYNC\n", argv[0]);
        return 2;
    }
    fake_bin = argv[1];
    cli_bin = argv[2];
    cs_json_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hw_every_operation, start, stop),
        cmocka_unit_test_setup_teardown(test_hw_pagination_over_1000, start_bulk, stop),
        cmocka_unit_test_setup_teardown(test_hw_throttling_and_lost_creates, start, stop),
        cmocka_unit_test_setup_teardown(test_hw_quota, start_small_quota, stop),
        cmocka_unit_test_setup_teardown(test_api_command, start, stop),
        cmocka_unit_test_setup_teardown(test_uc_every_operation, start, stop),
        cmocka_unit_test_setup_teardown(test_uc_alb_every_operation, start, stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
