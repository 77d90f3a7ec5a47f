/* watch.c -- incremental framing and decoding of a watch event stream (see watch.h). */
#include "k8s/watch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"

struct k8s_watch_parser {
    struct cs_buf buf; /* secret: the bytes of an event that spans feeds */
    size_t max_event;
    k8s_watch_fn fn;
    void *ud;
    /* framing state of the event being read */
    bool in_event;
    bool in_string;
    bool escape;
    unsigned depth;
    size_t event_len; /* bytes of the current event so far */
    uint64_t offset;  /* bytes fed so far, for messages */
    uint64_t events;
    enum cs_code failed; /* sticky */
    struct cs_err failed_err;
};

static const char *const type_names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

const char *k8s_watch_type_name(enum k8s_watch_type t)
{
    return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "UNKNOWN";
}

enum cs_code k8s_watch_parser_new(size_t max_event, k8s_watch_fn fn, void *ud,
                                  struct k8s_watch_parser **out, struct cs_err *err)
{
    struct k8s_watch_parser *p = calloc(1, sizeof(*p));
    if (!p)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    p->max_event = max_event ? max_event : K8S_WATCH_DEFAULT_MAX_EVENT;
    cs_buf_init_secret(&p->buf, p->max_event + 1);
    p->fn = fn;
    p->ud = ud;
    *out = p;
    return CS_OK;
}

void k8s_watch_parser_free(struct k8s_watch_parser *p)
{
    if (!p)
        return;
    cs_buf_free(&p->buf);
    free(p);
}

uint64_t k8s_watch_parser_events(const struct k8s_watch_parser *p)
{
    return p->events;
}

static enum cs_code fail(struct k8s_watch_parser *p, struct cs_err *err, enum cs_code code,
                         const char *what)
{
    p->failed = code;
    cs_err_set(&p->failed_err, code, 0, "watch stream at byte %llu: %s",
               (unsigned long long)p->offset, what);
    if (err)
        *err = p->failed_err;
    return code;
}

/* Decodes one complete event and hands it to the receiver. */
static enum cs_code dispatch(struct k8s_watch_parser *p, const char *json, size_t len,
                             struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    cJSON *ev = cJSON_ParseWithLength(json, len);
    if (!ev)
        return fail(p, err, CS_EPROTO, "event is not valid JSON");
    const char *type = cs_json_str(ev, "type");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
    int t = -1;
    for (int i = 0; type && i < (int)(sizeof(type_names) / sizeof(type_names[0])); i++)
        if (strcmp(type, type_names[i]) == 0)
            t = i;
    if (!type) {
        rc = fail(p, err, CS_EPROTO, "event without a \"type\" string");
    } else if (t < 0) {
        rc = fail(p, err, CS_EPROTO, "unknown event type");
    } else if (!cJSON_IsObject(obj)) {
        rc = fail(p, err, CS_EPROTO, "event without an \"object\" object");
    } else {
        p->events++;
        struct cs_err herr;
        cs_err_clear(&herr);
        rc = p->fn ? p->fn((enum k8s_watch_type)t, obj, p->ud, &herr) : CS_OK;
        if (rc != CS_OK) {
            p->failed = rc;
            p->failed_err = herr;
            p->failed_err.code = rc;
            if (err)
                *err = p->failed_err;
        }
    }
    cJSON_Delete(ev);
    return rc;
}

enum cs_code k8s_watch_parser_feed(struct k8s_watch_parser *p, const char *data, size_t len,
                                   struct cs_err *err)
{
    if (p->failed) {
        if (err)
            *err = p->failed_err;
        return p->failed;
    }
    size_t seg = 0; /* where the current event's bytes start in data */
    for (size_t i = 0; i < len; i++, p->offset++) {
        char ch = data[i];
        if (!p->in_event) {
            if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
                continue;
            if (ch != '{')
                return fail(p, err, CS_EPROTO, "unexpected byte between events");
            p->in_event = true;
            p->depth = 0;
            p->event_len = 0;
            seg = i;
        }
        if (++p->event_len > p->max_event)
            return fail(p, err, CS_ETOOBIG, "event larger than the limit");
        if (p->in_string) {
            if (p->escape)
                p->escape = false;
            else if (ch == '\\')
                p->escape = true;
            else if (ch == '"')
                p->in_string = false;
            continue;
        }
        if (ch == '"') {
            p->in_string = true;
        } else if (ch == '{' || ch == '[') {
            p->depth++;
        } else if (ch == '}' || ch == ']') {
            if (--p->depth > 0)
                continue;
            /* The event is complete: parse it in place when it all came in this feed. */
            enum cs_code rc;
            p->in_event = false;
            if (p->buf.len == 0) {
                rc = dispatch(p, data + seg, i + 1 - seg, err);
            } else {
                rc = cs_buf_add(&p->buf, data + seg, i + 1 - seg);
                if (rc != CS_OK)
                    return fail(p, err, rc, "out of memory");
                rc = dispatch(p, p->buf.ptr, p->buf.len, err);
                cs_buf_reset(&p->buf);
            }
            if (rc != CS_OK) {
                p->offset++;
                return rc;
            }
        }
    }
    if (p->in_event && cs_buf_add(&p->buf, data + seg, len - seg) != CS_OK)
        return fail(p, err, CS_ENOMEM, "out of memory");
    return CS_OK;
}

enum cs_code k8s_watch_parser_finish(struct k8s_watch_parser *p, struct cs_err *err)
{
    if (p->failed) {
        if (err)
            *err = p->failed_err;
        return p->failed;
    }
    if (p->in_event)
        return fail(p, err, CS_EPROTO, "stream ended inside an event");
    return CS_OK;
}
