/* watch.h -- the parser of a Kubernetes watch stream: {"type":T,"object":{...}} events, each
 * normally followed by "\n" (design §4).
 *
 * It parses a byte stream, not chunks: an event may span any number of feeds and one feed may
 * hold several events. Objects are framed by tracking JSON nesting (strings and escapes
 * included), so the newline is not relied on. Each event is limited in size; its bytes sit in
 * a secret buffer (Secret watches carry private keys) and are parsed with the cleansing cJSON
 * allocator. The first error sticks: later feeds return it again. */
#ifndef K8S_WATCH_H
#define K8S_WATCH_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum k8s_watch_type {
    K8S_WATCH_ADDED = 0,
    K8S_WATCH_MODIFIED,
    K8S_WATCH_DELETED,
    K8S_WATCH_BOOKMARK,
    K8S_WATCH_ERROR, /* object is a Status: 410 Expired/Gone means relist */
};

/* "ADDED", ... */
const char *k8s_watch_type_name(enum k8s_watch_type t);

/* Receives each event; object is borrowed (valid during the call). A return other than CS_OK
 * stops the stream: the feed returns that code. */
typedef enum cs_code (*k8s_watch_fn)(enum k8s_watch_type type, const cJSON *object, void *ud,
                                     struct cs_err *err);

struct k8s_watch_parser;

#define K8S_WATCH_DEFAULT_MAX_EVENT ((size_t)16 * 1024 * 1024)

/* max_event 0: K8S_WATCH_DEFAULT_MAX_EVENT. */
enum cs_code k8s_watch_parser_new(size_t max_event, k8s_watch_fn fn, void *ud,
                                  struct k8s_watch_parser **out, struct cs_err *err);
void k8s_watch_parser_free(struct k8s_watch_parser *p);

/* Feeds the next bytes of the stream: calls fn for every event completed by them. Errors:
 * CS_EPROTO (garbage, malformed event, unknown type), CS_ETOOBIG (event over the limit),
 * CS_ENOMEM, or the handler's code. */
enum cs_code k8s_watch_parser_feed(struct k8s_watch_parser *p, const char *data, size_t len,
                                   struct cs_err *err);
/* The stream ended: CS_EPROTO if it ended inside an event. */
enum cs_code k8s_watch_parser_finish(struct k8s_watch_parser *p, struct cs_err *err);
/* Events delivered so far. */
uint64_t k8s_watch_parser_events(const struct k8s_watch_parser *p);

#endif
