/* test_config.c -- flags, environment variables, defaults and validation of `run`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/config.h"

#define ARGV(...) ((char *[]){__VA_ARGS__})
#define ARGC(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
#define BASE "--cluster-id", "prod-1", "--region", "cn-north-4", "--project-id", "p1", \
             "--credentials-file", "/etc/creds"

static void clear_env(void)
{
    const char *vars[] = {"ELB_CERTSYNC_CLUSTER_ID", "ELB_CERTSYNC_REGION",
                          "ELB_CERTSYNC_WORKERS", "ELB_CERTSYNC_DRY_RUN",
                          "ELB_CERTSYNC_PROVIDER"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

static void test_defaults(void **state)
{
    clear_env();
    struct ctl_config c;
    bool help;
    struct cs_err e;
    assert_int_equal(ctl_config_parse(ARGC(BASE), ARGV(BASE), &c, &help, &e), CS_OK);
    assert_false(help);
    assert_string_equal(c.cluster_id, "prod-1");
    assert_string_equal(c.provider, "huawei");
    assert_string_equal(c.ingress_class, "cce");
    assert_int_equal(c.resync_period_ms, 600000);
    assert_int_equal(c.workers, 2);
    assert_int_equal(c.leader_elect, CTL_AUTO);
    assert_string_equal(c.lease_name, "elb-certsync");
    assert_int_equal(c.lease_duration_ms, 15000);
    assert_int_equal(c.renew_deadline_ms, 10000);
    assert_int_equal(c.retry_period_ms, 2000);
    assert_int_equal(c.default_port, 443);
    assert_int_equal(c.expiry_warning_days, 30);
    assert_false(c.dry_run);
    assert_null(c.namespace_);
    assert_string_equal(c.metrics_addr, ":8080");
    assert_int_equal(c.log_format, CS_LOG_TEXT);
    ctl_config_cleanup(&c);
}

static void test_flags_env_precedence(void **state)
{
    clear_env();
    setenv("ELB_CERTSYNC_WORKERS", "7", 1);
    setenv("ELB_CERTSYNC_DRY_RUN", "true", 1);
    setenv("ELB_CERTSYNC_PROVIDER", "ucloud", 1);
    struct ctl_config c;
    bool help;
    struct cs_err e;
    assert_int_equal(ctl_config_parse(ARGC(BASE, "--workers=3", "--leader-elect", "false",
                                           "--log-format", "json", "--resync-period", "1h30m",
                                           "--namespace", "shop"),
                                      ARGV(BASE, "--workers=3", "--leader-elect", "false",
                                           "--log-format", "json", "--resync-period", "1h30m",
                                           "--namespace", "shop"),
                                      &c, &help, &e),
                     CS_OK);
    assert_int_equal(c.workers, 3);             /* flag beats env */
    assert_true(c.dry_run);                     /* env beats default */
    assert_string_equal(c.provider, "ucloud");  /* env */
    assert_int_equal(c.leader_elect, CTL_OFF);
    assert_int_equal(c.log_format, CS_LOG_JSON);
    assert_int_equal(c.resync_period_ms, 5400000);
    assert_string_equal(c.namespace_, "shop");
    ctl_config_cleanup(&c);
    clear_env();
}

static void test_errors(void **state)
{
    clear_env();
    struct {
        int argc;
        char **argv;
        const char *want;
    } cases[] = {
        {ARGC("--region", "r", "--project-id", "p", "--credentials-file", "f"),
         ARGV("--region", "r", "--project-id", "p", "--credentials-file", "f"),
         "--cluster-id is required"},
        {ARGC(BASE, "--cluster-id", "Prod"), ARGV(BASE, "--cluster-id", "Prod"),
         "--cluster-id \"Prod\""},
        {ARGC(BASE, "--cluster-id", "a-very-long-cluster-name"),
         ARGV(BASE, "--cluster-id", "a-very-long-cluster-name"), "--cluster-id"},
        {ARGC(BASE, "--cluster-id", "prod-"), ARGV(BASE, "--cluster-id", "prod-"),
         "--cluster-id \"prod-\""},
        {ARGC(BASE, "--cluster-id", "prod_1"), ARGV(BASE, "--cluster-id", "prod_1"),
         "--cluster-id \"prod_1\""},
        {ARGC(BASE, "--provider", "aws"), ARGV(BASE, "--provider", "aws"), "--provider \"aws\""},
        {ARGC(BASE, "--workers", "0"), ARGV(BASE, "--workers", "0"), "--workers 0"},
        {ARGC(BASE, "--workers", "two"), ARGV(BASE, "--workers", "two"),
         "invalid value \"two\" for --workers"},
        {ARGC(BASE, "--resync-period", "5s"), ARGV(BASE, "--resync-period", "5s"),
         "--resync-period: at least 10s"},
        {ARGC(BASE, "--resync-period", "10 minutes"), ARGV(BASE, "--resync-period", "10 minutes"),
         "invalid value"},
        {ARGC(BASE, "--bogus"), ARGV(BASE, "--bogus"), "unknown flag --bogus"},
        {ARGC(BASE, "--region"), ARGV(BASE, "--region"), "--region needs a value"},
        {ARGC(BASE, "stray"), ARGV(BASE, "stray"), "unexpected argument \"stray\""},
        {ARGC(BASE, "--renew-deadline", "20s"), ARGV(BASE, "--renew-deadline", "20s"),
         "lease-duration > renew-deadline"},
        {ARGC(BASE, "--log-level", "loud"), ARGV(BASE, "--log-level", "loud"), "--log-level"},
        {ARGC(BASE, "--default-port", "70000"), ARGV(BASE, "--default-port", "70000"),
         "--default-port"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ctl_config c;
        bool help;
        struct cs_err e;
        assert_int_equal(ctl_config_parse(cases[i].argc, cases[i].argv, &c, &help, &e), CS_EINVAL);
        if (!strstr(e.message, cases[i].want)) {
            fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, e.message, cases[i].want);
            fail();
        }
    }
}

static void test_help_and_usage(void **state)
{
    struct ctl_config c;
    bool help;
    assert_int_equal(ctl_config_parse(ARGC("--help"), ARGV("--help"), &c, &help, NULL), CS_OK);
    assert_true(help);
    char buf[16384] = "";
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
    ctl_config_usage(f);
    fclose(f);
    assert_non_null(strstr(buf, "--cluster-id VALUE"));
    assert_non_null(strstr(buf, "env ELB_CERTSYNC_CLUSTER_ID"));
    assert_non_null(strstr(buf, "--dry-run\n"));
    assert_non_null(strstr(buf, "env ELB_CERTSYNC_RESYNC_PERIOD, default 10m"));
}

static void test_durations(void **state)
{
    struct {
        const char *in;
        bool ok;
        uint64_t ms;
    } cases[] = {
        {"90", true, 90000},    {"1.5", true, 1500},  {"500ms", true, 500},
        {"10m", true, 600000},  {"2h", true, 7200000}, {"1h30m10s", true, 5410000},
        {"", false, 0},         {"m", false, 0},      {"10x", false, 0},
        {"-5s", false, 0},      {"10m ", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t ms = 0;
        assert_int_equal(ctl_parse_duration_ms(cases[i].in, &ms), cases[i].ok);
        if (cases[i].ok)
            assert_int_equal(ms, cases[i].ms);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_flags_env_precedence),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_help_and_usage),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
