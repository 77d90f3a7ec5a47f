/* fuzz_k8s_watch.c -- libFuzzer target for the watch stream parser. The first byte chooses
 * how the input is cut into feeds, so that framing across boundaries is exercised too. */
#include <stddef.h>
#include <stdint.h>

#include "common/json.h"
#include "k8s/watch.h"

static enum cs_code sink(enum k8s_watch_type t, const cJSON *obj, void *ud, struct cs_err *err)
{
    (*(unsigned *)ud)++;
    return cJSON_IsObject(obj) ? CS_OK : CS_EPROTO;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cs_json_init();
    if (size == 0)
        return 0;
    size_t step = (size_t)(data[0] % 17) + 1;
    data++;
    size--;
    unsigned n = 0;
    struct k8s_watch_parser *p = NULL;
    if (k8s_watch_parser_new(4096, sink, &n, &p, NULL) != CS_OK)
        return 0;
    enum cs_code rc = CS_OK;
    for (size_t off = 0; off < size && rc == CS_OK; off += step)
        rc = k8s_watch_parser_feed(p, (const char *)data + off, off + step > size ? size - off : step,
                                   NULL);
    k8s_watch_parser_finish(p, NULL);
    k8s_watch_parser_free(p);
    return 0;
}
