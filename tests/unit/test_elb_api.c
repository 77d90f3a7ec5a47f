/* test_elb_api.c -- the elb-certsync binary's `api --print-signed` reproduces every vector of
 * tests/data/elb/huawei-sdk-hmac-sha256.json and the UCloud documented vector, and bad usage
 * exits 2 with a message. Runs build/bin/elb-certsync as a child process (no network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json.h"

extern char **environ;

static char bin[4096];

/* Runs the binary with argv; stdout and stderr into out/errout; returns the exit status. */
static int run(char *const argv[], struct cs_buf *out, struct cs_buf *errout)
{
    int po[2], pe[2];
    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclose(&fa, po[0]);
    posix_spawn_file_actions_addclose(&fa, pe[0]);
    pid_t pid;
    /* The environment must not choose a provider behind the test's back. */
    char *env[] = {"PATH=/usr/bin:/bin", NULL};
    assert_int_equal(posix_spawn(&pid, bin, &fa, NULL, argv, env), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    char buf[4096];
    ssize_t n;
    /* Outputs are small: read stdout then stderr. */
    while ((n = read(po[0], buf, sizeof(buf))) > 0)
        cs_buf_add(out, buf, (size_t)n);
    while ((n = read(pe[0], buf, sizeof(buf))) > 0)
        cs_buf_add(errout, buf, (size_t)n);
    close(po[0]);
    close(pe[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct cs_buf b;
    cs_buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        cs_buf_add(&b, chunk, n);
    fclose(f);
    char *s = cs_buf_take(&b);
    cs_buf_free(&b);
    return s;
}

static void write_creds(char *path, const char *text)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_huawei_vectors(void **state)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/data/elb/huawei-sdk-hmac-sha256.json",
             getenv("CS_SOURCE_DIR"));
    char *text = read_file(path);
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    int count = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "vectors"))
    {
        char cred[64] = "/tmp/elb-api-cred-XXXXXX";
        char credtext[256];
        snprintf(credtext, sizeof(credtext), "HUAWEICLOUD_SDK_AK=%s\nHUAWEICLOUD_SDK_SK=%s\n",
                 cs_json_str(v, "ak"), cs_json_str(v, "sk"));
        write_creds(cred, credtext);
        const char *host = cs_json_str(v, "host");
        char endpoint[256];
        /* a host with a port is the emulator's; others are the public endpoints */
        snprintf(endpoint, sizeof(endpoint), "%s://%s", strchr(host, ':') ? "http" : "https",
                 host);
        const char *project = cs_json_path_str(v, "headers.X-Project-Id");
        char *argv[64];
        char owned[32][512];
        int a = 0, o = 0;
        argv[a++] = "elb-certsync";
        argv[a++] = "api";
        argv[a++] = "--provider=huawei";
        argv[a++] = "--endpoint";
        argv[a++] = endpoint;
        argv[a++] = "--region";
        argv[a++] = "any";
        argv[a++] = "--project-id";
        argv[a++] = (char *)project;
        argv[a++] = "--credentials-file";
        argv[a++] = cred;
        argv[a++] = "--print-signed";
        argv[a++] = (char *)cs_json_str(v, "method");
        argv[a++] = (char *)cs_json_str(v, "path");
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(v, "query"))
        {
            const cJSON *vals = it;
            const cJSON *e;
            if (cJSON_IsArray(it)) {
                cJSON_ArrayForEach(e, vals)
                {
                    snprintf(owned[o], sizeof(owned[o]), "%s=%s", it->string, e->valuestring);
                    argv[a++] = "--query";
                    argv[a++] = owned[o++];
                }
            } else {
                snprintf(owned[o], sizeof(owned[o]), "%s=%s", it->string, it->valuestring);
                argv[a++] = "--query";
                argv[a++] = owned[o++];
            }
        }
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(v, "headers"))
        {
            snprintf(owned[o], sizeof(owned[o]), "%s: %s", it->string, it->valuestring);
            argv[a++] = "--header";
            argv[a++] = owned[o++];
        }
        const char *body = cs_json_str(v, "body");
        if (body[0]) {
            argv[a++] = "--data";
            argv[a++] = (char *)body;
        }
        argv[a] = NULL;
        struct cs_buf out, err;
        cs_buf_init(&out, 0);
        cs_buf_init(&err, 0);
        int rc = run(argv, &out, &err);
        if (rc != 0)
            fprintf(stderr, "%s", cs_buf_str(&err));
        assert_int_equal(rc, 0);
        char want[512];
        snprintf(want, sizeof(want), "\nAuthorization: %s\n",
                 cs_json_str(v, "expected_authorization"));
        if (!strstr(cs_buf_str(&out), want))
            fprintf(stderr, "vector %d:\n%s", count, cs_buf_str(&out));
        assert_non_null(strstr(cs_buf_str(&out), want));
        /* The request line and the body are printed too; the secret key never is. */
        assert_true(strncmp(cs_buf_str(&out), cs_json_str(v, "method"),
                            strlen(cs_json_str(v, "method"))) == 0);
        if (body[0])
            assert_non_null(strstr(cs_buf_str(&out), body));
        assert_null(strstr(cs_buf_str(&out), cs_json_str(v, "sk")));
        cs_buf_free(&out);
        cs_buf_free(&err);
        unlink(cred);
        count++;
    }
    assert_true(count >= 16);
    cJSON_Delete(root);
    free(text);
}

static void test_ucloud_vector(void **state)
{
    char cred[64] = "/tmp/elb-api-cred-XXXXXX";
    write_creds(cred, "UCLOUD_PUBLIC_KEY=ucloudsomeone@example.com1296235120854146120\n"
                      "UCLOUD_PRIVATE_KEY=46f09bb9fab4f12dfc160dae12273d5332b5debe\n");
    char *argv[] = {"elb-certsync", "api", "--provider", "ucloud", "--region", "cn-bj2",
                    "--credentials-file", cred, "--print-signed", "DescribeUHostInstance",
                    "Limit=10", NULL};
    struct cs_buf out, err;
    cs_buf_init(&out, 0);
    cs_buf_init(&err, 0);
    assert_int_equal(run(argv, &out, &err), 0);
    assert_non_null(strstr(cs_buf_str(&out), "\nSignature=cba5cf5ec4d4233d206b1b54951e3787350a642f\n"));
    assert_null(strstr(cs_buf_str(&out), "46f09bb9fab4f12dfc160dae12273d5332b5debe"));
    cs_buf_free(&out);
    cs_buf_free(&err);
    unlink(cred);
}

static void test_bad_usage(void **state)
{
    char cred[64] = "/tmp/elb-api-cred-XXXXXX";
    write_creds(cred, "HUAWEICLOUD_SDK_AK=a\nHUAWEICLOUD_SDK_SK=b\n");
    struct {
        char *argv[16];
        int status;
        const char *msg;
    } cases[] = {
        {{"elb-certsync", "api", NULL}, 2, "--provider is required"},
        {{"elb-certsync", "api", "--provider", "aws", NULL}, 2, "unknown provider"},
        {{"elb-certsync", "api", "--provider", "huawei", "--region", "r", "--project-id", "p",
          "--credentials-file", cred, "GET", NULL}, 2, "METHOD PATH"},
        {{"elb-certsync", "api", "--provider", "huawei", "--region", "r", "--project-id", "p",
          "--credentials-file", cred, "GET", "x", NULL}, 2, "must start with '/'"},
        {{"elb-certsync", "api", "--provider", "huawei", "--region", "r", "--bogus", NULL}, 2,
         "unknown flag --bogus"},
        {{"elb-certsync", "api", "--provider", "huawei", "--region", "r", "--project-id", "p",
          "--credentials-file", cred, "GET", "/x", "--query", "novalue", NULL}, 2, "K=V"},
        {{"elb-certsync", "api", "--provider", "huawei", "--region", "r", "--project-id", "p",
          "--credentials-file", cred, "GET", "/x", "--header", "NoColon", NULL}, 2, "Name: value"},
        {{"elb-certsync", "api", "--provider", "ucloud", "--region", "r", "--credentials-file",
          cred, "DescribeSSL", "Limit", NULL}, 2, "K=V"},
        {{"elb-certsync", "api", "--provider", "huawei", "--region", "r", "--project-id", "p",
          "--credentials-file", "/nonexistent/creds", "GET", "/x", NULL}, 1, "/nonexistent/creds"},
        {{"elb-certsync", "api", "--provider", "huawei", "--region", NULL}, 2, "needs a value"},
        {{"elb-certsync", "nosuch", NULL}, 2, "unknown command"},
        {{"elb-certsync", "version", NULL}, 0, NULL},
        {{"elb-certsync", "help", "api", NULL}, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cs_buf out, err;
        cs_buf_init(&out, 0);
        cs_buf_init(&err, 0);
        int rc = run(cases[i].argv, &out, &err);
        if (rc != cases[i].status)
            fprintf(stderr, "case %zu: %s", i, cs_buf_str(&err));
        assert_int_equal(rc, cases[i].status);
        if (cases[i].msg)
            assert_non_null(strstr(cs_buf_str(&err), cases[i].msg));
        else
            assert_true(out.len > 0);
        cs_buf_free(&out);
        cs_buf_free(&err);
    }
    unlink(cred);
}

int main(void)
{
    cs_json_init();
    const char *bd = getenv("CS_BINARY_DIR");
    snprintf(bin, sizeof(bin), "%s/bin/elb-certsync", bd ? bd : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huawei_vectors),
        cmocka_unit_test(test_ucloud_vector),
        cmocka_unit_test(test_bad_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
