/* test_k8s_fake.c -- the k8s client against the real fake-kube-apiserver binary, over TLS
 * with a bearer token read from the kubeconfig it writes: a Secret reflector (field selector
 * type=kubernetes.io/tls, split chunks, bookmarks) survives dropped watches, a compaction
 * (410 → relist) and 429/500 storms, with its store equal to the server's state afterwards;
 * and leader election between two electors.
 *
 * Usage: test_k8s_fake PATH-TO-fake-kube-apiserver */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "k8s/lease.h"
#include "k8s/reflector.h"

extern char **environ;

static const char *fake_bin;
static char dir[256];
static pid_t fake_pid;
static struct k8s_client *client;

#define WAIT_FOR(cond, ms)                                                                     \
    do {                                                                                       \
        uint64_t wait_deadline_ = cs_now_ms() + (ms);                                          \
        while (!(cond) && cs_now_ms() < wait_deadline_)                                        \
            cs_sleep_ms(20);                                                                   \
    } while (0)

static const struct k8s_resource fake_ctl = {"_fake", "", "", "", false, false};

/* POST /_fake/<what> with an optional JSON body. */
static enum cs_code control(const char *what, const char *body)
{
    struct k8s_resource r = fake_ctl;
    r.plural = what;
    cJSON *b = body ? cJSON_Parse(body) : NULL;
    struct k8s_call call = {.method = "POST", .res = &r, .body = b};
    enum cs_code rc = k8s_do(client, &call, NULL, NULL);
    cJSON_Delete(b);
    return rc;
}

static int setup(void **state)
{
    cs_json_init();
    cs_log_configure(CS_LOG_OFF, CS_LOG_TEXT);
    snprintf(dir, sizeof(dir), "/tmp/test_k8s_fake.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    char port_file[300], kc[300];
    snprintf(port_file, sizeof(port_file), "%s/port", dir);
    snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
    char *argv[] = {(char *)fake_bin, "--listen", "127.0.0.1:0", "--port-file", port_file,
                    "--kubeconfig-out", kc, "--tls", "--quiet", "--bookmark-interval-ms", "300",
                    "--watch-history", "100000", "--fault-split-chunks", NULL};
    if (posix_spawn(&fake_pid, fake_bin, NULL, NULL, argv, environ) != 0)
        return -1;
    WAIT_FOR(access(port_file, F_OK) == 0 && access(kc, F_OK) == 0, 10000);
    struct k8s_config *cfg = NULL;
    struct cs_err e;
    if (k8s_config_load_kubeconfig(kc, NULL, &cfg, &e) != CS_OK) {
        fprintf(stderr, "kubeconfig: %s\n", e.message);
        return -1;
    }
    /* the fake speaks TLS with its own CA and wants a bearer token */
    if (strncmp(cfg->server, "https://127.0.0.1:", 18) != 0 || cfg->ca_pem.len == 0 ||
        cfg->token.len == 0)
        return -1;
    struct k8s_client_opts co = {.timeout_ms = 10000};
    enum cs_code rc = k8s_client_new(cfg, &co, &client, &e);
    k8s_config_free(cfg);
    if (rc != CS_OK)
        return -1;
    const char *namespaces[] = {"shop", "blog", "kube-system"};
    for (int i = 0; i < 3; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{"
                                     "\"name\":\"%s\"}}", namespaces[i]);
        cJSON *ns = cJSON_Parse(body);
        rc = k8s_create(client, &k8s_res_namespaces, NULL, ns, NULL, &e);
        cJSON_Delete(ns);
        if (rc != CS_OK && rc != CS_ECONFLICT) {
            fprintf(stderr, "namespace: %s\n", e.message);
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    k8s_client_free(client);
    int st = 0;
    if (fake_pid > 0) {
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, &st, 0);
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ---- Secrets: writes that retry through injected faults ---- */

static enum cs_code with_retry(enum cs_code (*fn)(void *), void *arg)
{
    enum cs_code rc = CS_OK;
    for (int i = 0; i < 50; i++) {
        rc = fn(arg);
        if (rc != CS_ETHROTTLED && rc != CS_ESERVER && rc != CS_EIO && rc != CS_ETIMEDOUT)
            return rc;
        cs_sleep_ms(20);
    }
    return rc;
}

struct secret_op {
    const char *ns;
    char name[64];
    const char *type;
    char fp[32];
    bool del;
};

static enum cs_code do_secret(void *p)
{
    struct secret_op *op = p;
    if (op->del) {
        enum cs_code rc = k8s_delete(client, &k8s_res_secrets, op->ns, op->name, NULL);
        return rc == CS_ENOTFOUND ? CS_OK : rc;
    }
    char body[512];
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"%s\",\"annotations\":{\"fp\":\"%s\"}},\"type\":\"%s\","
             "\"data\":{\"tls.crt\":\"Q0VSVA==\",\"tls.key\":\"S0VZ\"}}",
             op->name, op->ns, op->fp, op->type);
    cJSON *obj = cJSON_Parse(body);
    enum cs_code rc = k8s_create(client, &k8s_res_secrets, op->ns, obj, NULL, NULL);
    if (rc == CS_ECONFLICT) { /* exists: replace it (PUT without RV: unconditional) */
        rc = k8s_update(client, &k8s_res_secrets, op->ns, op->name, obj, NULL, NULL);
    }
    cJSON_Delete(obj);
    return rc;
}

static void put_secret(const char *ns, const char *name, const char *type, const char *fp)
{
    struct secret_op op = {.ns = ns, .type = type};
    snprintf(op.name, sizeof(op.name), "%s", name);
    snprintf(op.fp, sizeof(op.fp), "%s", fp);
    assert_int_equal(with_retry(do_secret, &op), CS_OK);
}

static void del_secret(const char *ns, const char *name)
{
    struct secret_op op = {.ns = ns, .del = true};
    snprintf(op.name, sizeof(op.name), "%s", name);
    assert_int_equal(with_retry(do_secret, &op), CS_OK);
}

/* The store keeps only "fingerprint@rv": what a controller would keep. */
static void *extract(const cJSON *obj, void *ud)
{
    const char *fp = cs_json_path_str(obj, "metadata.annotations.fp");
    char *s = NULL;
    if (asprintf(&s, "%s", fp ? fp : "-") < 0)
        return NULL;
    return s;
}

static void free_item(void *item, void *ud)
{
    free(item);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "ns/name=fp@rv ..." of the server's TLS Secrets, sorted (a consistent list). */
static enum cs_code server_state(char *out, size_t n)
{
    cJSON *list = NULL;
    struct k8s_list_opts lo = {.field_selector = "type=kubernetes.io/tls"};
    enum cs_code rc = k8s_list(client, &k8s_res_secrets, NULL, &lo, &list, NULL);
    if (rc != CS_OK)
        return rc;
    /* sort by key: collect then order */
    size_t k = (size_t)cJSON_GetArraySize(cJSON_GetObjectItem(list, "items"));
    char **lines = calloc(k ? k : 1, sizeof(*lines));
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items")) {
        const char *fp = cs_json_path_str(it, "metadata.annotations.fp");
        assert_true(asprintf(&lines[i++], "%s/%s=%s@%s", cs_json_path_str(it, "metadata.namespace"),
                             cs_json_path_str(it, "metadata.name"), fp ? fp : "-",
                             cs_json_path_str(it, "metadata.resourceVersion")) > 0);
    }
    qsort(lines, k, sizeof(*lines), cmp_str);
    out[0] = '\0';
    for (i = 0; i < k; i++) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s ", lines[i]);
        free(lines[i]);
    }
    free(lines);
    cJSON_Delete(list);
    return CS_OK;
}

static void store_state(struct k8s_store *s, char *out, size_t n)
{
    struct k8s_obj **v;
    size_t k;
    out[0] = '\0';
    assert_int_equal(k8s_store_list(s, &v, &k, NULL), CS_OK);
    char **lines = calloc(k ? k : 1, sizeof(*lines));
    for (size_t i = 0; i < k; i++)
        assert_true(asprintf(&lines[i], "%s=%s@%s", k8s_obj_key(v[i]),
                             (const char *)k8s_obj_item(v[i]), k8s_obj_rv(v[i])) > 0);
    qsort(lines, k, sizeof(*lines), cmp_str);
    for (size_t i = 0; i < k; i++) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s ", lines[i]);
        free(lines[i]);
    }
    free(lines);
    k8s_store_list_free(v, k);
}

static bool converged(struct k8s_store *s, char *srv, char *st, size_t n)
{
    if (server_state(srv, n) != CS_OK)
        return false;
    store_state(s, st, n);
    return strcmp(srv, st) == 0;
}

#define STATE_MAX 65536

static void expect_converged(struct k8s_store *s)
{
    char *srv = malloc(STATE_MAX), *st = malloc(STATE_MAX);
    WAIT_FOR(converged(s, srv, st, STATE_MAX), 20000);
    if (strcmp(srv, st) != 0)
        print_error("server: %s\nstore:  %s\n", srv, st);
    assert_string_equal(srv, st);
    free(srv);
    free(st);
}

static void mutate(int round)
{
    char name[32], fp[32];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "tls-%d", (i * 7 + round) % 12);
        snprintf(fp, sizeof(fp), "r%d-%d", round, i);
        put_secret(i % 2 ? "shop" : "blog", name, "kubernetes.io/tls", fp);
    }
    snprintf(name, sizeof(name), "tls-%d", round % 12);
    del_secret("shop", name);
    put_secret("shop", "opaque", "Opaque", "never-in-store");
}

static void test_reflector_against_fake(void **state)
{
    struct k8s_store_opts so = {.extract = extract, .free_item = free_item};
    struct k8s_store *store = NULL;
    assert_int_equal(k8s_store_new(&so, &store, NULL), CS_OK);
    mutate(0);
    struct k8s_reflector_opts ro = {.res = &k8s_res_secrets,
                                    .field_selector = "type=kubernetes.io/tls",
                                    .page_size = 5,
                                    .backoff_initial_ms = 50,
                                    .backoff_max_ms = 500};
    struct k8s_reflector *r = NULL;
    assert_int_equal(k8s_reflector_new(client, store, &ro, &r, NULL), CS_OK);
    assert_int_equal(k8s_reflector_start(r, NULL), CS_OK);
    assert_true(k8s_reflector_wait_synced(r, 10000));
    expect_converged(store);

    /* events over the watch */
    mutate(1);
    expect_converged(store);

    /* dropped watches: re-watch from the last RV */
    assert_int_equal(control("drop-watches", NULL), CS_OK);
    mutate(2);
    expect_converged(store);

    /* compaction while the reflector is away: its re-watch gets 410 → relist. To be away
     * for sure, every request is answered 429 (Retry-After: 1 s) until its watch failed
     * once; then, within that second, the server moves on and forgets its history. */
    struct k8s_reflector_stats st;
    k8s_reflector_get_stats(r, &st);
    uint64_t lists = st.lists, errors = st.errors;
    assert_int_equal(control("faults", "{\"fault-429-rate\":1}"), CS_OK);
    assert_int_equal(control("drop-watches", NULL), CS_OK);
    WAIT_FOR((k8s_reflector_get_stats(r, &st), st.errors > errors), 10000);
    assert_int_equal(control("faults", "{\"fault-429-rate\":0}"), CS_OK);
    put_secret("shop", "while-away", "kubernetes.io/tls", "w1");
    assert_int_equal(control("compact", NULL), CS_OK);
    WAIT_FOR((k8s_reflector_get_stats(r, &st), st.lists > lists), 10000);
    assert_true(st.lists > lists);
    assert_true(st.gone >= 1);
    mutate(4);
    expect_converged(store);

    /* a storm of 429 and 500, with watches dropped every 300 ms */
    assert_int_equal(control("faults", "{\"fault-429-rate\":0.3,\"fault-500-rate\":0.2,"
                                       "\"fault-drop-watch-ms\":300}"),
                     CS_OK);
    for (int round = 5; round < 9; round++)
        mutate(round);
    cs_sleep_ms(1000);
    /* faults off (retry: the control call itself may be answered by a fault) */
    for (int i = 0; i < 50 && control("faults", "{\"fault-429-rate\":0,\"fault-500-rate\":0,"
                                                "\"fault-drop-watch-ms\":0}") != CS_OK;
         i++)
        cs_sleep_ms(20);
    expect_converged(store);
    k8s_reflector_get_stats(r, &st);
    assert_true(st.errors >= 1);

    k8s_reflector_free(r);
    k8s_store_free(store);
}

static void test_leader_election_against_fake(void **state)
{
    struct k8s_elector_opts o = {.ns = "kube-system",
                                 .name = "elb-certsync",
                                 .lease_duration_ms = 2000,
                                 .renew_deadline_ms = 1500,
                                 .retry_period_ms = 100};
    struct k8s_elector *a = NULL, *b = NULL;
    o.identity = "pod-a";
    assert_int_equal(k8s_elector_new(client, &o, &a, NULL), CS_OK);
    o.identity = "pod-b";
    assert_int_equal(k8s_elector_new(client, &o, &b, NULL), CS_OK);
    assert_int_equal(k8s_elector_start(a, NULL), CS_OK);
    assert_int_equal(k8s_elector_start(b, NULL), CS_OK);
    WAIT_FOR(k8s_elector_is_leader(a) || k8s_elector_is_leader(b), 10000);
    for (int i = 0; i < 50; i++) {
        assert_false(k8s_elector_is_leader(a) && k8s_elector_is_leader(b));
        cs_sleep_ms(10);
    }
    struct k8s_elector *leader = k8s_elector_is_leader(a) ? a : b;
    struct k8s_elector *other = leader == a ? b : a;
    assert_true(k8s_elector_is_leader(leader));

    cJSON *lease = NULL;
    assert_int_equal(k8s_get(client, &k8s_res_leases, "kube-system", "elb-certsync", &lease, NULL),
                     CS_OK);
    assert_string_equal(cs_json_path_str(lease, "spec.holderIdentity"),
                        leader == a ? "pod-a" : "pod-b");
    int64_t t;
    assert_true(cs_parse_time(cs_json_path_str(lease, "spec.renewTime"), &t));
    cJSON_Delete(lease);

    k8s_elector_stop(leader);
    WAIT_FOR(k8s_elector_is_leader(other), 10000);
    assert_true(k8s_elector_is_leader(other));
    k8s_elector_free(a);
    k8s_elector_free(b);
    assert_int_equal(k8s_get(client, &k8s_res_leases, "kube-system", "elb-certsync", &lease, NULL),
                     CS_OK);
    assert_string_equal(cs_json_path_str(lease, "spec.holderIdentity"), "");
    cJSON_Delete(lease);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-fake-kube-apiserver\n", argv[0]);
        return 2;
    }
    fake_bin = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reflector_against_fake),
        cmocka_unit_test(test_leader_election_against_fake),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
