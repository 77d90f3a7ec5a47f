/* log.h -- structured, one-line logs: key=value text or JSON.
 *
 *   cs_log_info("certificate rotated", "ingress", "shop/web", "old", old_id, "new", new_id);
 *
 * Arguments after the message are key, value pairs of strings (a NULL value prints as "").
 * Thread-safe: each line is written whole. Never pass key material or credentials. */
#ifndef CS_LOG_H
#define CS_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum cs_log_level { CS_LOG_DEBUG = 0, CS_LOG_INFO, CS_LOG_WARN, CS_LOG_ERROR, CS_LOG_OFF };
enum cs_log_format { CS_LOG_TEXT = 0, CS_LOG_JSON };

/* Receives every finished line (without the trailing newline). */
typedef void (*cs_log_sink_fn)(const char *line, void *ud);

void cs_log_configure(enum cs_log_level level, enum cs_log_format format);
/* NULL restores the default sink (stderr). */
void cs_log_set_sink(cs_log_sink_fn fn, void *ud);
bool cs_log_enabled(enum cs_log_level level);

/* Parse "debug|info|warn|error" and "text|json"; return false on anything else. */
bool cs_log_parse_level(const char *s, enum cs_log_level *out);
bool cs_log_parse_format(const char *s, enum cs_log_format *out);

void cs_log_kv(enum cs_log_level level, const char *msg, ...) __attribute__((sentinel));

#define cs_log_debug(...) cs_log_kv(CS_LOG_DEBUG, __VA_ARGS__, (const char *)NULL)
#define cs_log_info(...) cs_log_kv(CS_LOG_INFO, __VA_ARGS__, (const char *)NULL)
#define cs_log_warn(...) cs_log_kv(CS_LOG_WARN, __VA_ARGS__, (const char *)NULL)
#define cs_log_error(...) cs_log_kv(CS_LOG_ERROR, __VA_ARGS__, (const char *)NULL)

#endif
