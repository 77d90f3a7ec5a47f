/* fuzz_elb_huawei.c -- libFuzzer target: the Huawei ELB v3 answer parsers (certificate pages,
 * single certificates, listener pages and answers, error bodies) on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "elb/backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        cs_json_init();
        init = 1;
    }
    const char *s = (const char *)data;
    struct elb_cert_list certs = {0};
    size_t n = 0;
    char *next = NULL;
    if (elb_hw_parse_cert_page(s, size, 2, &certs, &n, &next, NULL) == CS_OK)
        free(next);
    elb_cert_list_cleanup(&certs);

    struct elb_cert c;
    if (elb_hw_parse_cert_response(s, size, &c, NULL) == CS_OK)
        elb_cert_cleanup(&c);

    struct elb_listener_list ls = {0};
    next = NULL;
    if (elb_hw_parse_listener_page(s, size, 2, &ls, &n, &next, NULL) == CS_OK)
        free(next);
    elb_listener_list_cleanup(&ls);

    struct elb_listener l;
    if (elb_hw_parse_listener_response(s, size, &l, NULL) == CS_OK)
        elb_listener_cleanup(&l);

    struct cs_err err;
    elb_hw_map_error(size ? 400 + data[0] % 200 : 500, s, size, NULL, ELB_HW_OP_DELETE_CERT,
                     &err);
    return 0;
}
