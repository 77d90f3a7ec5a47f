/* err.c -- error codes and the error struct. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const code_names[] = {
    [CS_OK] = "ok",
    [CS_ENOMEM] = "out_of_memory",
    [CS_EINVAL] = "invalid",
    [CS_EIO] = "io",
    [CS_ETIMEDOUT] = "timeout",
    [CS_EPROTO] = "protocol",
    [CS_ENOTFOUND] = "not_found",
    [CS_ECONFLICT] = "conflict",
    [CS_EINUSE] = "in_use",
    [CS_ETHROTTLED] = "throttled",
    [CS_EAUTH] = "auth",
    [CS_EGONE] = "gone",
    [CS_EQUOTA] = "quota",
    [CS_ESERVER] = "server",
    [CS_EUNSUPPORTED] = "unsupported",
    [CS_ECANCELED] = "canceled",
    [CS_ETOOBIG] = "too_big",
};

const char *cs_code_name(enum cs_code code)
{
    if ((unsigned)code < sizeof(code_names) / sizeof(code_names[0]) && code_names[code])
        return code_names[code];
    return "unknown";
}

bool cs_code_retryable(enum cs_code code)
{
    switch (code) {
    case CS_EIO:
    case CS_ETIMEDOUT:
    case CS_ETHROTTLED:
    case CS_ESERVER:
        return true;
    default:
        return false;
    }
}

void cs_err_clear(struct cs_err *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

enum cs_code cs_err_set(struct cs_err *err, enum cs_code code, long http_status, const char *fmt,
                        ...)
{
    if (!err)
        return code;
    memset(err, 0, sizeof(*err));
    err->code = code;
    err->http_status = http_status;
    err->retryable = cs_code_retryable(code);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return code;
}

void cs_err_prefix(struct cs_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[256];
    char old[sizeof(err->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof(old));
    /* Truncation is fine: the message is for people. */
    size_t n = strnlen(prefix, sizeof(err->message) - 1);
    memcpy(err->message, prefix, n);
    size_t rest = sizeof(err->message) - n;
    if (rest > 3) {
        memcpy(err->message + n, ": ", 2);
        size_t m = strnlen(old, rest - 3);
        memcpy(err->message + n + 2, old, m);
        err->message[n + 2 + m] = '\0';
    } else {
        err->message[n] = '\0';
    }
}
