/* test_k8s_config.c -- kubeconfig and in-cluster configuration: good and bad kubeconfigs
 * (a table), relative paths, tokenFile, contexts, the in-cluster files from a temporary
 * directory, and the loading order. No error message may contain a credential. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "k8s/config.h"

/* base64 of "CA-PEM", "CERT-PEM", "KEY-SECRET-PEM" */
#define CA_B64 "Q0EtUEVN"
#define CERT_B64 "Q0VSVC1QRU0="
#define KEY_B64 "S0VZLVNFQ1JFVC1QRU0="
#define TOKEN "tok-SECRET-123"

static char tmpdir[256];

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static int setup(void **state)
{
    cs_json_init();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_k8s_config.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

#define GOOD_YAML \
    "apiVersion: v1\n" \
    "kind: Config\n" \
    "current-context: dev\n" \
    "clusters:\n" \
    "- name: c1\n" \
    "  cluster:\n" \
    "    server: https://10.1.2.3:6443/\n" \
    "    certificate-authority-data: " CA_B64 "\n" \
    "    tls-server-name: kubernetes.default\n" \
    "- name: c2\n" \
    "  cluster:\n" \
    "    server: http://127.0.0.1:8080\n" \
    "    insecure-skip-tls-verify: true\n" \
    "contexts:\n" \
    "- name: dev\n" \
    "  context: {cluster: c1, user: u1, namespace: shop}\n" \
    "- name: other\n" \
    "  context:\n" \
    "    cluster: c2\n" \
    "    user: u2\n" \
    "users:\n" \
    "- name: u1\n" \
    "  user:\n" \
    "    client-certificate-data: " CERT_B64 "\n" \
    "    client-key-data: " KEY_B64 "\n" \
    "- name: u2\n" \
    "  user:\n" \
    "    token: " TOKEN "\n"
static const char GOOD[] = GOOD_YAML;

static void test_good_current_context(void **state)
{
    struct k8s_config *cfg = NULL;
    struct cs_err e;
    assert_int_equal(k8s_config_parse_kubeconfig(GOOD, strlen(GOOD), "mem", NULL, NULL, &cfg, &e),
                     CS_OK);
    assert_string_equal(cfg->server, "https://10.1.2.3:6443");
    assert_string_equal(cs_buf_str(&cfg->ca_pem), "CA-PEM");
    assert_null(cfg->ca_file);
    assert_string_equal(cfg->tls_server_name, "kubernetes.default");
    assert_false(cfg->insecure_skip_verify);
    assert_string_equal(cs_buf_str(&cfg->client_cert_pem), "CERT-PEM");
    assert_string_equal(cs_buf_str(&cfg->client_key_pem), "KEY-SECRET-PEM");
    assert_true(cfg->client_key_pem.secret);
    assert_int_equal(cfg->token.len, 0);
    assert_string_equal(cfg->namespace, "shop");
    assert_string_equal(cfg->origin, "mem");
    k8s_config_free(cfg);
}

static void test_context_override(void **state)
{
    struct k8s_config *cfg = NULL;
    assert_int_equal(
        k8s_config_parse_kubeconfig(GOOD, strlen(GOOD), "mem", NULL, "other", &cfg, NULL), CS_OK);
    assert_string_equal(cfg->server, "http://127.0.0.1:8080");
    assert_true(cfg->insecure_skip_verify);
    assert_string_equal(cs_buf_str(&cfg->token), TOKEN);
    assert_true(cfg->token.secret);
    assert_string_equal(cfg->namespace, "default");
    assert_int_equal(cfg->client_key_pem.len, 0);
    k8s_config_free(cfg);
}

static void test_json_kubeconfig(void **state)
{
    const char *j = "{\"current-context\":\"x\",\"contexts\":[{\"name\":\"x\",\"context\":"
                    "{\"cluster\":\"c\"}}],\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":"
                    "\"https://[::1]:443\"}}]}";
    struct k8s_config *cfg = NULL;
    assert_int_equal(k8s_config_parse_kubeconfig(j, strlen(j), "j", NULL, NULL, &cfg, NULL),
                     CS_OK);
    assert_string_equal(cfg->server, "https://[::1]:443");
    assert_int_equal(cfg->token.len, 0);
    k8s_config_free(cfg);
}

struct bad_case {
    const char *name;
    const char *yaml;
    const char *context;
    enum cs_code code;
    const char *must_mention;
};

#define HEAD                                                                                   \
    "current-context: a\n"                                                                     \
    "contexts:\n- name: a\n  context: {cluster: c, user: u}\n"
#define CLUSTER "clusters:\n- name: c\n  cluster: {server: 'https://h:1'}\n"

static const struct bad_case BAD[] = {
    {"empty", "", NULL, CS_EINVAL, "not a YAML mapping"},
    {"scalar", "hello", NULL, CS_EINVAL, "not a YAML mapping"},
    {"syntax", "a: [1, 2\nb: c\n", NULL, CS_EINVAL, "line"},
    {"tabs", "a:\n\t- b\n", NULL, CS_EINVAL, "line"},
    {"no current context", "contexts: []\n", NULL, CS_EINVAL, "current-context"},
    {"unknown context", GOOD_YAML, "nope", CS_EINVAL, "nope"},
    {"context without cluster", "current-context: a\ncontexts:\n- name: a\n  context: {user: u}\n",
     NULL, CS_EINVAL, "cluster: missing"},
    {"context not a mapping", "current-context: a\ncontexts:\n- name: a\n  context: 3\n", NULL,
     CS_EINVAL, "no context object"},
    {"contexts not a list", "current-context: a\ncontexts: {a: 1}\n", NULL, CS_EINVAL,
     "not a list"},
    {"unknown cluster", HEAD "users:\n- name: u\n  user: {}\n", NULL, CS_EINVAL, "clusters"},
    {"missing server", HEAD "clusters:\n- name: c\n  cluster: {}\nusers:\n- name: u\n  user: {}\n",
     NULL, CS_EINVAL, "server: missing"},
    {"server not a URL",
     HEAD "clusters:\n- name: c\n  cluster: {server: 'h:1'}\nusers:\n- name: u\n  user: {}\n", NULL,
     CS_EINVAL, "server"},
    {"server a list",
     HEAD "clusters:\n- name: c\n  cluster: {server: [a]}\nusers:\n- name: u\n  user: {}\n", NULL,
     CS_EINVAL, "server: not a string"},
    {"unknown user", HEAD CLUSTER, NULL, CS_EINVAL, "users"},
    {"bad CA base64",
     HEAD "clusters:\n- name: c\n  cluster: {server: 'https://h:1', certificate-authority-data: "
          "'!!!notb64'}\nusers:\n- name: u\n  user: {}\n",
     NULL, CS_EINVAL, "certificate-authority-data"},
    {"CA with insecure",
     HEAD "clusters:\n- name: c\n  cluster: {server: 'https://h:1', certificate-authority-data: "
          "Q0E=, insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {}\n",
     NULL, CS_EINVAL, "insecure-skip-tls-verify"},
    {"bad bool",
     HEAD "clusters:\n- name: c\n  cluster: {server: 'https://h:1', insecure-skip-tls-verify: "
          "maybe}\nusers:\n- name: u\n  user: {}\n",
     NULL, CS_EINVAL, "not a boolean"},
    {"proxy", HEAD "clusters:\n- name: c\n  cluster: {server: 'https://h:1', proxy-url: "
                   "'http://p'}\nusers:\n- name: u\n  user: {}\n",
     NULL, CS_EUNSUPPORTED, "proxy-url"},
    {"bad key base64",
     HEAD CLUSTER "users:\n- name: u\n  user: {client-certificate-data: " CERT_B64
                  ", client-key-data: 'S0VZ!!SECRET'}\n",
     NULL, CS_EINVAL, "client-key-data"},
    {"cert without key", HEAD CLUSTER "users:\n- name: u\n  user: {client-certificate-data: " CERT_B64
                                      "}\n",
     NULL, CS_EINVAL, "without client key"},
    {"key without cert", HEAD CLUSTER "users:\n- name: u\n  user: {client-key-data: " KEY_B64 "}\n",
     NULL, CS_EINVAL, "without client certificate"},
    {"exec plugin",
     HEAD CLUSTER "users:\n- name: u\n  user:\n    exec:\n      command: aws\n      args: [eks]\n",
     NULL, CS_EUNSUPPORTED, "exec"},
    {"auth provider", HEAD CLUSTER "users:\n- name: u\n  user:\n    auth-provider: {name: gcp}\n",
     NULL, CS_EUNSUPPORTED, "auth-provider"},
    {"basic auth",
     HEAD CLUSTER "users:\n- name: u\n  user: {username: admin, password: " TOKEN "}\n", NULL,
     CS_EUNSUPPORTED, "username"},
    {"impersonation", HEAD CLUSTER "users:\n- name: u\n  user: {token: " TOKEN ", as: root}\n", NULL,
     CS_EUNSUPPORTED, "impersonation"},
    {"missing key file",
     HEAD CLUSTER "users:\n- name: u\n  user: {client-certificate: /nonexistent/c.pem, "
                  "client-key: /nonexistent/k.pem}\n",
     NULL, CS_EINVAL, "client-certificate"},
    {"missing token file", HEAD CLUSTER "users:\n- name: u\n  user: {tokenFile: /nonexistent/t}\n",
     NULL, CS_EINVAL, "tokenFile"},
    {"token a mapping", HEAD CLUSTER "users:\n- name: u\n  user: {token: {a: b}}\n", NULL,
     CS_EINVAL, "token: not a string"},
};

static void test_bad_kubeconfigs(void **state)
{
    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        const struct bad_case *c = &BAD[i];
        struct k8s_config *cfg = (struct k8s_config *)0x1;
        struct cs_err e;
        enum cs_code rc = k8s_config_parse_kubeconfig(c->yaml, strlen(c->yaml), "bad.yaml", NULL,
                                                      c->context, &cfg, &e);
        if (rc != c->code || !strstr(e.message, c->must_mention)) {
            print_error("case '%s': got %s '%s'\n", c->name, cs_code_name(rc), e.message);
            fail();
        }
        assert_ptr_equal(cfg, (struct k8s_config *)0x1); /* untouched on failure */
        assert_non_null(strstr(e.message, "bad.yaml"));
        /* never a value */
        assert_null(strstr(e.message, "SECRET"));
        assert_null(strstr(e.message, "S0VZ"));
    }
}

static void test_truncated_kubeconfig(void **state)
{
    /* Every prefix of a good file either parses or fails cleanly (no crash, no leak). */
    size_t n = strlen(GOOD);
    int ok = 0;
    for (size_t i = 0; i < n; i++) {
        struct k8s_config *cfg = NULL;
        struct cs_err e;
        if (k8s_config_parse_kubeconfig(GOOD, i, "t", NULL, NULL, &cfg, &e) == CS_OK) {
            ok++;
            k8s_config_free(cfg);
        } else {
            assert_null(strstr(e.message, "SECRET"));
        }
    }
    /* the last user entry is not needed by the current context: a few prefixes parse */
    assert_true(ok > 0);
}

static void test_relative_paths(void **state)
{
    char sub[300], kc[400];
    snprintf(sub, sizeof(sub), "%s/rel", tmpdir);
    mkdir(sub, 0700);
    write_file(sub, "ca.pem", "CA-FILE");
    write_file(sub, "c.pem", "CERT-FILE");
    write_file(sub, "k.pem", "KEY-FILE");
    write_file(sub, "tok", "TOKEN-FILE\n");
    write_file(sub, "config",
               "current-context: a\n"
               "contexts:\n- name: a\n  context: {cluster: c, user: u}\n"
               "clusters:\n- name: c\n  cluster: {server: 'https://h:1', certificate-authority: "
               "ca.pem}\n"
               "users:\n- name: u\n  user: {client-certificate: c.pem, client-key: ./k.pem, "
               "tokenFile: tok, token: inline}\n");
    snprintf(kc, sizeof(kc), "%s/config", sub);
    struct k8s_config *cfg = NULL;
    struct cs_err e;
    assert_int_equal(k8s_config_load_kubeconfig(kc, NULL, &cfg, &e), CS_OK);
    char expect[400];
    snprintf(expect, sizeof(expect), "%s/ca.pem", sub);
    assert_string_equal(cfg->ca_file, expect);
    snprintf(expect, sizeof(expect), "%s/tok", sub);
    assert_string_equal(cfg->token_file, expect);
    assert_int_equal(cfg->token.len, 0); /* the file wins over the inline token */
    assert_string_equal(cs_buf_str(&cfg->client_cert_pem), "CERT-FILE");
    assert_string_equal(cs_buf_str(&cfg->client_key_pem), "KEY-FILE");
    k8s_config_free(cfg);

    assert_int_equal(k8s_config_load_kubeconfig("/nonexistent/kc", NULL, &cfg, &e), CS_ENOTFOUND);
    assert_non_null(strstr(e.message, "/nonexistent/kc"));
}

static void set_incluster(const char *root)
{
    char p[400];
    mkdir(root, 0700);
    write_file(root, "token", "SA-TOKEN");
    write_file(root, "ca.crt", "CA");
    write_file(root, "namespace", "kube-system\n");
    (void)p;
}

static void test_incluster(void **state)
{
    char root[300];
    snprintf(root, sizeof(root), "%s/sa", tmpdir);
    set_incluster(root);
    struct k8s_config *cfg = NULL;
    struct cs_err e;

    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    assert_int_equal(k8s_config_load_incluster(root, &cfg, &e), CS_ENOTFOUND);

    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(k8s_config_load_incluster(root, &cfg, &e), CS_OK);
    assert_string_equal(cfg->server, "https://10.96.0.1:443");
    assert_string_equal(cfg->namespace, "kube-system");
    char expect[400];
    snprintf(expect, sizeof(expect), "%s/token", root);
    assert_string_equal(cfg->token_file, expect);
    snprintf(expect, sizeof(expect), "%s/ca.crt", root);
    assert_string_equal(cfg->ca_file, expect);
    k8s_config_free(cfg);

    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    assert_int_equal(k8s_config_load_incluster(root, &cfg, &e), CS_OK);
    assert_string_equal(cfg->server, "https://[fd00::1]:443");
    k8s_config_free(cfg);

    setenv("KUBERNETES_SERVICE_PORT", "44x", 1);
    assert_int_equal(k8s_config_load_incluster(root, &cfg, &e), CS_EINVAL);
    assert_non_null(strstr(e.message, "KUBERNETES_SERVICE_PORT"));
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);

    /* no namespace file: "default" */
    char p[400];
    snprintf(p, sizeof(p), "%s/namespace", root);
    unlink(p);
    assert_int_equal(k8s_config_load_incluster(root, &cfg, &e), CS_OK);
    assert_string_equal(cfg->namespace, "default");
    k8s_config_free(cfg);

    /* no token: a clear error naming the file */
    snprintf(p, sizeof(p), "%s/token", root);
    unlink(p);
    assert_int_equal(k8s_config_load_incluster(root, &cfg, &e), CS_ENOTFOUND);
    assert_non_null(strstr(e.message, "token"));
    write_file(root, "token", "");
    assert_int_equal(k8s_config_load_incluster(root, &cfg, &e), CS_EINVAL);
    assert_non_null(strstr(e.message, "empty"));
    write_file(root, "token", "SA-TOKEN");
    snprintf(p, sizeof(p), "%s/ca.crt", root);
    unlink(p);
    assert_int_equal(k8s_config_load_incluster(root, &cfg, &e), CS_EINVAL);
    assert_non_null(strstr(e.message, "ca.crt"));
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_load_order(void **state)
{
    char root[300], home[300], kdir[300], kc1[400], kc2[400];
    snprintf(root, sizeof(root), "%s/order-sa", tmpdir);
    snprintf(home, sizeof(home), "%s/home", tmpdir);
    snprintf(kdir, sizeof(kdir), "%s/home/.kube", tmpdir);
    set_incluster(root);
    mkdir(home, 0700);
    mkdir(kdir, 0700);
#define KC_FMT                                                                                 \
    "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"                         \
    "clusters:\n- name: c\n  cluster: {server: 'https://%s:1'}\n"                                 \
    "- name: d\n  cluster: {server: 'https://d:1'}\n"
    char text[400];
    snprintf(text, sizeof(text), KC_FMT, "home");
    write_file(kdir, "config", text);
    snprintf(text, sizeof(text), KC_FMT, "envfile");
    write_file(tmpdir, "envfile", text);
    snprintf(kc1, sizeof(kc1), "%s/missing", tmpdir);
    snprintf(kc2, sizeof(kc2), "%s/envfile", tmpdir);

    struct k8s_config *cfg = NULL;
    struct cs_err e;
    struct k8s_config_opts o = {.incluster_root = root, .home = home};

    /* in-cluster first */
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    char list[900];
    snprintf(list, sizeof(list), "%s:%s", kc1, kc2);
    setenv("KUBECONFIG", list, 1);
    assert_int_equal(k8s_config_load(&o, &cfg, &e), CS_OK);
    assert_string_equal(cfg->server, "https://10.0.0.1:6443");
    k8s_config_free(cfg);

    /* then the first existing KUBECONFIG file */
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(k8s_config_load(&o, &cfg, &e), CS_OK);
    assert_string_equal(cfg->server, "https://envfile:1");
    k8s_config_free(cfg);

    /* then ~/.kube/config */
    setenv("KUBECONFIG", kc1, 1);
    assert_int_equal(k8s_config_load(&o, &cfg, &e), CS_OK);
    assert_string_equal(cfg->server, "https://home:1");
    k8s_config_free(cfg);

    /* an explicit path wins over everything, a context override applies to it */
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    o.kubeconfig = kc2;
    assert_int_equal(k8s_config_load(&o, &cfg, &e), CS_OK);
    assert_string_equal(cfg->server, "https://envfile:1");
    k8s_config_free(cfg);
    o.kubeconfig = NULL;

    /* nothing at all */
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    unsetenv("KUBECONFIG");
    o.home = tmpdir;
    assert_int_equal(k8s_config_load(&o, &cfg, &e), CS_ENOTFOUND);
    assert_non_null(strstr(e.message, "KUBECONFIG"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_current_context),
        cmocka_unit_test(test_context_override),
        cmocka_unit_test(test_json_kubeconfig),
        cmocka_unit_test(test_bad_kubeconfigs),
        cmocka_unit_test(test_truncated_kubeconfig),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_incluster),
        cmocka_unit_test(test_load_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
