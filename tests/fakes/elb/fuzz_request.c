/* fuzz_request.c -- libFuzzer target over fake-elb's whole request handling (routing, query
 * and form parsing, JSON bodies, both clouds' handlers, control endpoints).
 *
 * Input: a mode byte, then "METHOD\nTARGET\n" and the body. Mode 0 sends the request as is
 * (exercising the gateways' refusals); mode 1 signs it as Huawei SDK-HMAC-SHA256 and mode 2
 * as a UCloud form request with the test credentials, so that the fuzzer reaches the API
 * handlers behind the signature checks. The server is reset to its seed every 256 inputs so
 * that state stays small. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/util.h"
#include "elb/huawei_sign.h"
#include "tests/fakes/elb/testlib.h"

static struct fe_test t;
static unsigned runs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void raw(const char *method, const char *target, const char *body, size_t len)
{
    struct cs_http_header h[] = {{"Content-Type", "application/json"}};
    struct fe_request req = {.method = method, .target = target, .headers = h, .n_headers = 1,
                             .body = body, .body_len = len, .now_ms = t.now_ms};
    fe_server_handle(t.server, &req, &t.resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!t.server) {
        char *seed = fe_test_seed(50, 50);
        fe_test_init(&t, seed);
        free(seed);
    }
    if (size < 1 || size > 65536)
        return 0;
    char *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    int mode = data[0] % 3;
    char *method = copy;
    char *nl = strchr(method, '\n');
    char *target = nl ? nl + 1 : NULL;
    char *nl2 = target ? strchr(target, '\n') : NULL;
    if (!nl || !nl2 || nl - method > 16) {
        free(copy);
        return 0;
    }
    *nl = '\0';
    *nl2 = '\0';
    char *body = nl2 + 1;
    size_t body_len = (size - 1) - (size_t)(body - copy);
    if (mode == 0) {
        raw(method, target, body, body_len);
    } else if (mode == 1) {
        char *q = strchr(target, '?');
        if (q)
            *q++ = '\0';
        /* the query helper wants "k=v&k=v" without escapes */
        if (!q || !strchr(q, '%'))
            fe_test_hw(&t, method, target, q, body);
    } else {
        /* body as "k=v\nk=v": a UCloud parameter list */
        const char *params[64];
        size_t n = 0;
        char *save = NULL;
        for (char *line = strtok_r(body, "\n", &save); line && n < 62;
             line = strtok_r(NULL, "\n", &save)) {
            char *eq = strchr(line, '=');
            if (!eq)
                continue;
            *eq = '\0';
            params[n++] = line;
            params[n++] = eq + 1;
        }
        params[n] = NULL;
        fe_test_uc(&t, params);
    }
    if (++runs % 256 == 0)
        raw("POST", "/_fake/reset", "", 0);
    free(copy);
    return 0;
}
