/* buf.c -- bounded growable buffer. */
#include "common/buf.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cs_buf_init(struct cs_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max ? max : CS_BUF_DEFAULT_MAX;
}

void cs_buf_init_secret(struct cs_buf *b, size_t max)
{
    cs_buf_init(b, max);
    b->secret = true;
}

void cs_buf_free(struct cs_buf *b)
{
    if (!b)
        return;
    if (b->ptr && b->secret)
        OPENSSL_cleanse(b->ptr, b->cap);
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void cs_buf_reset(struct cs_buf *b)
{
    if (b->ptr) {
        if (b->secret)
            OPENSSL_cleanse(b->ptr, b->cap);
        b->ptr[0] = '\0';
    }
    b->len = 0;
}

static enum cs_code grow(struct cs_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return CS_ETOOBIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return CS_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *p;
    if (b->secret) {
        /* realloc could leave a copy of the secret behind: move it by hand. */
        p = malloc(cap);
        if (!p)
            return CS_ENOMEM;
        if (b->ptr) {
            memcpy(p, b->ptr, b->len + 1);
            OPENSSL_cleanse(b->ptr, b->cap);
            free(b->ptr);
        }
    } else {
        p = realloc(b->ptr, cap);
        if (!p)
            return CS_ENOMEM;
    }
    b->ptr = p;
    b->cap = cap;
    return CS_OK;
}

enum cs_code cs_buf_add(struct cs_buf *b, const void *data, size_t len)
{
    enum cs_code rc = grow(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return CS_OK;
}

enum cs_code cs_buf_adds(struct cs_buf *b, const char *s)
{
    return cs_buf_add(b, s, strlen(s));
}

enum cs_code cs_buf_addc(struct cs_buf *b, char c)
{
    return cs_buf_add(b, &c, 1);
}

enum cs_code cs_buf_vaddf(struct cs_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return CS_EINVAL;
    enum cs_code rc = grow(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return CS_OK;
}

enum cs_code cs_buf_addf(struct cs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum cs_code rc = cs_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *cs_buf_take(struct cs_buf *b)
{
    if (!b->ptr) {
        char *s = malloc(1);
        if (s)
            s[0] = '\0';
        return s;
    }
    char *s = b->ptr;
    b->ptr = NULL;
    b->len = b->cap = 0;
    return s;
}

void cs_buf_consume(struct cs_buf *b, size_t n)
{
    if (n >= b->len) {
        cs_buf_reset(b);
        return;
    }
    memmove(b->ptr, b->ptr + n, b->len - n);
    if (b->secret)
        OPENSSL_cleanse(b->ptr + b->len - n, n);
    b->len -= n;
    b->ptr[b->len] = '\0';
}
