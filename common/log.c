/* log.c -- structured log lines. The level, format and sink are the only global state. */
#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER; /* guards the four below */
static enum cs_log_level log_level = CS_LOG_INFO;
static enum cs_log_format log_format = CS_LOG_TEXT;
static cs_log_sink_fn log_sink;
static void *log_sink_ud;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void cs_log_configure(enum cs_log_level level, enum cs_log_format format)
{
    pthread_mutex_lock(&log_lock);
    log_level = level;
    log_format = format;
    pthread_mutex_unlock(&log_lock);
}

void cs_log_set_sink(cs_log_sink_fn fn, void *ud)
{
    pthread_mutex_lock(&log_lock);
    log_sink = fn;
    log_sink_ud = ud;
    pthread_mutex_unlock(&log_lock);
}

bool cs_log_enabled(enum cs_log_level level)
{
    pthread_mutex_lock(&log_lock);
    bool on = level >= log_level;
    pthread_mutex_unlock(&log_lock);
    return on;
}

bool cs_log_parse_level(const char *s, enum cs_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (enum cs_log_level)i;
            return true;
        }
    }
    return false;
}

bool cs_log_parse_format(const char *s, enum cs_log_format *out)
{
    if (s && strcmp(s, "text") == 0) {
        *out = CS_LOG_TEXT;
        return true;
    }
    if (s && strcmp(s, "json") == 0) {
        *out = CS_LOG_JSON;
        return true;
    }
    return false;
}

static void add_json_string(struct cs_buf *b, const char *s)
{
    cs_buf_addc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            cs_buf_adds(b, "\\\"");
            break;
        case '\\':
            cs_buf_adds(b, "\\\\");
            break;
        case '\n':
            cs_buf_adds(b, "\\n");
            break;
        case '\r':
            cs_buf_adds(b, "\\r");
            break;
        case '\t':
            cs_buf_adds(b, "\\t");
            break;
        default:
            if (*p < 0x20)
                cs_buf_addf(b, "\\u%04x", *p);
            else
                cs_buf_addc(b, (char)*p);
        }
    }
    cs_buf_addc(b, '"');
}

static void add_text_value(struct cs_buf *b, const char *s)
{
    bool quote = *s == '\0';
    for (const char *p = s; *p && !quote; p++)
        quote = *p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20;
    if (quote)
        add_json_string(b, s); /* the same escaping keeps the line on one line */
    else
        cs_buf_adds(b, s);
}

void cs_log_kv(enum cs_log_level level, const char *msg, ...)
{
    if (level >= CS_LOG_OFF || !cs_log_enabled(level))
        return;

    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);

    pthread_mutex_lock(&log_lock);
    enum cs_log_format format = log_format;
    pthread_mutex_unlock(&log_lock);

    struct cs_buf b;
    cs_buf_init(&b, 64 * 1024);
    if (format == CS_LOG_JSON) {
        cs_buf_addf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_names[level]);
        add_json_string(&b, msg ? msg : "");
    } else {
        cs_buf_addf(&b, "ts=%s level=%s msg=", ts, level_names[level]);
        add_text_value(&b, msg ? msg : "");
    }
    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        if (!v)
            v = "";
        if (format == CS_LOG_JSON) {
            cs_buf_addc(&b, ',');
            add_json_string(&b, k);
            cs_buf_addc(&b, ':');
            add_json_string(&b, v);
        } else {
            cs_buf_addf(&b, " %s=", k);
            add_text_value(&b, v);
        }
    }
    va_end(ap);
    if (format == CS_LOG_JSON)
        cs_buf_addc(&b, '}');

    pthread_mutex_lock(&log_lock);
    if (log_sink) {
        log_sink(cs_buf_str(&b), log_sink_ud);
    } else {
        fputs(cs_buf_str(&b), stderr);
        fputc('\n', stderr);
        fflush(stderr);
    }
    pthread_mutex_unlock(&log_lock);
    cs_buf_free(&b);
}
