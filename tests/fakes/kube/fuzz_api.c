/* fuzz_api.c -- libFuzzer target of fake-kube-apiserver's request handling: the input is
 * "METHOD\nPATH\nQUERY\nCONTENT-TYPE\nBODY" (QUERY as k=v&k=v, undecoded), handed to
 * fk_api_handle() on one long-lived server, so that state built by earlier inputs is
 * exercised too. Watches are read for a few bytes and freed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "tests/fakes/kube/fk.h"

static struct fk_server srv;
static int ready;

static char *take_line(char **p, char *end)
{
    char *s = *p;
    char *nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl)
        nl = end;
    *nl = '\0';
    *p = nl < end ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        cs_json_init();
        if (fk_server_init(&srv, 64) != CS_OK)
            abort();
        ready = 1;
    }
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *p = buf, *end = buf + size;
    struct fk_request req = {0};
    req.method = take_line(&p, end);
    req.path = take_line(&p, end);
    char *query = take_line(&p, end);
    req.content_type = take_line(&p, end);
    req.body = p;
    req.body_len = (size_t)(end - p);
    char *save = NULL;
    for (char *kv = strtok_r(query, "&", &save); kv && req.nquery < FK_MAX_QUERY;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        req.query[req.nquery++] = (struct fk_kv){kv, eq ? eq + 1 : ""};
    }
    struct fk_response resp;
    fk_api_handle(&srv, &req, &resp);
    if (resp.watch) {
        /* never block: drop it first, then read what is already there */
        pthread_mutex_lock(&srv.store.mu);
        srv.store.drop_gen++;
        pthread_mutex_unlock(&srv.store.mu);
        char chunk[256];
        for (int i = 0; i < 4 && fk_watch_read(resp.watch, chunk, sizeof(chunk)) > 0; i++) {
        }
    }
    fk_response_cleanup(&resp);
    free(buf);
    return 0;
}
