/* fuzz_elb_ucloud.c -- libFuzzer target: the UCloud ULB answer parsers (DescribeSSL,
 * DescribeULB, DescribeLoadBalancers, DescribeListeners, CreateSSL, RetCode mapping) on
 * arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "elb/backend.h"
#include "elb/ucloud_alb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        cs_json_init();
        init = 1;
    }
    const char *s = (const char *)data;
    size_t n = 0;
    long total = 0;
    struct elb_cert_list certs = {0};
    elb_ucloud_parse_ssl_page(s, size, &certs, &n, &total, NULL);
    elb_cert_list_cleanup(&certs);

    struct elb_listener_list ls = {0};
    elb_ucloud_parse_ulb_page(s, size, &ls, &n, &total, NULL);
    elb_ucloud_parse_alb_listeners(s, size, "alb-1", &ls, &n, &total, NULL);
    elb_ucloud_parse_alb_lbs(s, size, &ls, &n, &total, NULL);
    elb_listener_list_cleanup(&ls);

    char *id = NULL;
    if (elb_ucloud_parse_create(s, size, &id, NULL) == CS_OK)
        free(id);

    struct cs_err err;
    elb_ucloud_map_answer(200, s, size, &err);
    return 0;
}
