/* test_metrics.c -- the Prometheus registry and the health/metrics HTTP endpoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http.h"
#include "controller/httpd.h"
#include "controller/metrics.h"

static char *render(struct ctl_metrics *r)
{
    struct cs_buf b;
    cs_buf_init(&b, 0);
    assert_int_equal(ctl_metrics_render(r, &b), CS_OK);
    return cs_buf_take(&b);
}

static void test_counter_gauge_text(void **state)
{
    struct ctl_metrics *r = ctl_metrics_new();
    struct ctl_metric *c = ctl_metrics_add(r, CTL_COUNTER, "elb_certsync_reconciles_total",
                                           "Reconciles by result.", "result", NULL, 0);
    struct ctl_metric *g = ctl_metrics_add(r, CTL_GAUGE, "elb_certsync_leader",
                                           "1 when leading.", NULL, NULL, 0);
    assert_non_null(c);
    assert_non_null(g);
    assert_null(ctl_metrics_add(r, CTL_GAUGE, "elb_certsync_leader", "dup", NULL, NULL, 0));
    const char *ok[] = {"success"}, *bad[] = {"error"};
    ctl_metric_inc(c, ok, 1);
    ctl_metric_inc(c, ok, 2);
    ctl_metric_inc(c, bad, 1);
    ctl_metric_set(g, NULL, 1);
    assert_true(ctl_metric_value(c, ok) == 3.0);
    char *t = render(r);
    assert_string_equal(t, "# HELP elb_certsync_reconciles_total Reconciles by result.\n"
                           "# TYPE elb_certsync_reconciles_total counter\n"
                           "elb_certsync_reconciles_total{result=\"error\"} 1\n"
                           "elb_certsync_reconciles_total{result=\"success\"} 3\n"
                           "# HELP elb_certsync_leader 1 when leading.\n"
                           "# TYPE elb_certsync_leader gauge\n"
                           "elb_certsync_leader 1\n");
    free(t);
    ctl_metrics_free(r);
}

static void test_histogram_and_escaping(void **state)
{
    struct ctl_metrics *r = ctl_metrics_new();
    double buckets[] = {0.1, 1};
    struct ctl_metric *h = ctl_metrics_add(r, CTL_HISTOGRAM, "lat_seconds", "Latency\\n.",
                                           "op,outcome", buckets, 2);
    const char *v[] = {"create_cert", "ok"};
    ctl_metric_observe(h, v, 0.05);
    ctl_metric_observe(h, v, 0.5);
    ctl_metric_observe(h, v, 3);
    struct ctl_metric *g = ctl_metrics_add(r, CTL_GAUGE, "exp", "x", "secret", NULL, 0);
    const char *odd[] = {"a\"b\\c\nd"};
    ctl_metric_set(g, odd, 1.5);
    char *t = render(r);
    assert_non_null(strstr(t, "# HELP lat_seconds Latency\\\\n.\n"));
    assert_non_null(strstr(t, "lat_seconds_bucket{op=\"create_cert\",outcome=\"ok\",le=\"0.1\"} 1\n"
                              "lat_seconds_bucket{op=\"create_cert\",outcome=\"ok\",le=\"1\"} 2\n"
                              "lat_seconds_bucket{op=\"create_cert\",outcome=\"ok\",le=\"+Inf\"} 3\n"
                              "lat_seconds_sum{op=\"create_cert\",outcome=\"ok\"} 3.5499999999999998\n"
                              "lat_seconds_count{op=\"create_cert\",outcome=\"ok\"} 3\n"));
    assert_non_null(strstr(t, "exp{secret=\"a\\\"b\\\\c\\nd\"} 1.5\n"));
    free(t);
    ctl_metric_remove(g, odd);
    t = render(r);
    assert_null(strstr(t, "exp{"));
    free(t);
    /* bad families */
    double unsorted[] = {1, 0.5};
    assert_null(ctl_metrics_add(r, CTL_HISTOGRAM, "h2", "x", NULL, unsorted, 2));
    assert_null(ctl_metrics_add(r, CTL_GAUGE, "g2", "x", "a,,b", NULL, 0));
    ctl_metrics_free(r);
}

static void test_many_series(void **state)
{
    struct ctl_metrics *r = ctl_metrics_new();
    struct ctl_metric *g = ctl_metrics_add(r, CTL_GAUGE, "cert_expiry", "x", "namespace,secret",
                                           NULL, 0);
    char ns[16], name[16];
    for (int i = 0; i < 5000; i++) {
        snprintf(ns, sizeof(ns), "ns%d", i % 10);
        snprintf(name, sizeof(name), "s%d", i);
        const char *v[] = {ns, name};
        ctl_metric_set(g, v, i);
    }
    const char *v[] = {"ns7", "s4997"};
    assert_true(ctl_metric_value(g, v) == 4997.0);
    ctl_metrics_free(r);
}

static bool not_ready(void *ud, char *reason, size_t n)
{
    snprintf(reason, n, "initial sync not done");
    return *(bool *)ud;
}

static long get(int port, const char *path, const char *method, char *body, size_t n)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    struct cs_http_client_opts o = {0};
    struct cs_http_client *c;
    assert_int_equal(cs_http_client_new(&o, &c, NULL), CS_OK);
    struct cs_http_request rq = {.method = method, .url = url, .timeout_ms = 5000};
    struct cs_http_response rs;
    cs_http_response_init(&rs);
    assert_int_equal(cs_http_do(c, &rq, &rs, NULL), CS_OK);
    snprintf(body, n, "%s", cs_buf_str(&rs.body));
    long st = rs.status;
    cs_http_response_cleanup(&rs);
    cs_http_client_free(c);
    return st;
}

static void test_httpd_endpoints(void **state)
{
    struct ctl_metrics *r = ctl_metrics_new();
    struct ctl_metric *g = ctl_metrics_add(r, CTL_GAUGE, "up_test", "x", NULL, NULL, 0);
    ctl_metric_set(g, NULL, 7);
    bool ready = false;
    struct ctl_httpd_opts o = {.addr = "127.0.0.1:0", .metrics = r, .ready = not_ready, .ud = &ready};
    struct ctl_httpd *h = NULL;
    assert_int_equal(ctl_httpd_start(&o, &h, NULL), CS_OK);
    int port = ctl_httpd_port(h);
    assert_true(port > 0);
    char body[4096];
    assert_int_equal(get(port, "/healthz", "GET", body, sizeof(body)), 200);
    assert_int_equal(get(port, "/readyz", "GET", body, sizeof(body)), 503);
    assert_string_equal(body, "not ok: initial sync not done\n");
    ready = true;
    assert_int_equal(get(port, "/readyz", "GET", body, sizeof(body)), 200);
    assert_int_equal(get(port, "/metrics", "GET", body, sizeof(body)), 200);
    assert_non_null(strstr(body, "up_test 7\n"));
    assert_int_equal(get(port, "/nope", "GET", body, sizeof(body)), 404);
    assert_int_equal(get(port, "/metrics", "POST", body, sizeof(body)), 405);
    ctl_httpd_stop(h);
    ctl_metrics_free(r);
    struct cs_err e;
    o.addr = "nonsense";
    assert_int_equal(ctl_httpd_start(&o, &h, &e), CS_EINVAL);
    o.addr = "example.com:80";
    assert_int_equal(ctl_httpd_start(&o, &h, &e), CS_EINVAL);
}

static void test_parse_listen_addr(void **state)
{
    char host[64];
    int port;
    assert_true(ctl_parse_listen_addr(":8080", host, sizeof(host), &port));
    assert_string_equal(host, "");
    assert_int_equal(port, 8080);
    assert_true(ctl_parse_listen_addr("127.0.0.1:0", host, sizeof(host), &port));
    assert_string_equal(host, "127.0.0.1");
    assert_true(ctl_parse_listen_addr("[::1]:9", host, sizeof(host), &port));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9);
    assert_false(ctl_parse_listen_addr("8080", host, sizeof(host), &port));
    assert_false(ctl_parse_listen_addr(":70000", host, sizeof(host), &port));
    assert_false(ctl_parse_listen_addr("::1:80", host, sizeof(host), &port));
    assert_false(ctl_parse_listen_addr("[::1]80", host, sizeof(host), &port));
    assert_false(ctl_parse_listen_addr("h:", host, sizeof(host), &port));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge_text),
        cmocka_unit_test(test_histogram_and_escaping),
        cmocka_unit_test(test_many_series),
        cmocka_unit_test(test_httpd_endpoints),
        cmocka_unit_test(test_parse_listen_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
