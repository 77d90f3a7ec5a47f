/* fuzz_ctl_objects.c -- libFuzzer target: Kubernetes objects as the controller's stores read
 * them (controller/objects.c): the input is parsed as JSON and given to the Ingress and
 * Secret extract functions and to the Secret material decoder, then the model's listener key
 * and class rules run on what came out. Anything is acceptable input; a crash, a leak or
 * undefined behaviour is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "controller/annotations.h"
#include "controller/desired.h"
#include "controller/objects.h"
#include "elb/elb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        cs_json_init();
        inited = 1;
    }
    if (size > 64 * 1024)
        return 0;
    cJSON *obj = cJSON_ParseWithLength((const char *)data, size);
    if (!obj)
        return 0;
    struct ctl_objects_ctx ctx = {.ingress_class = "cce", .limits = elb_limits_of("huawei")};

    struct ctl_ingress *ing = ctl_ingress_extract(obj, &ctx);
    if (ing) {
        struct ctl_settings s;
        memset(&s, 0, sizeof(s));
        s.cluster_id = "fuzz";
        s.ingress_class = "cce";
        s.default_region = "cn-north-4";
        s.default_port = 443;
        s.limits = *ctx.limits;
        (void)ctl_ingress_class(ing);
        (void)ctl_ingress_is_ours(ing, &s);
        struct ctl_ingress_opts o;
        memset(&o, 0, sizeof(o));
        struct ctl_problems pr = {0};
        if (ctl_annotations_parse(ing, &s, &o, &pr, NULL) == CS_OK)
            free(ctl_listener_key(o.region, o.lb_id, o.listener_id, o.port));
        ctl_ingress_opts_cleanup(&o);
        ctl_problems_cleanup(&pr);
        ctl_ingress_item_free(ing, &ctx);
    }

    struct ctl_secret *sec = ctl_secret_extract(obj, &ctx);
    if (sec)
        ctl_secret_item_free(sec, &ctx);

    struct cs_buf crt, key;
    cs_buf_init_secret(&crt, 1024 * 1024);
    cs_buf_init_secret(&key, 1024 * 1024);
    (void)ctl_secret_material(obj, &crt, &key, NULL);
    cs_buf_free(&crt);
    cs_buf_free(&key);
    cJSON_Delete(obj);
    return 0;
}
