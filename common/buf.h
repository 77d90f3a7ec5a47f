/* buf.h -- a growable byte buffer with a hard upper bound (after curl's dynbuf).
 *
 * Always NUL-terminated. A buffer marked secret is cleansed (OPENSSL_cleanse) whenever its
 * memory is released or moved, so key material never lingers in freed heap. */
#ifndef CS_BUF_H
#define CS_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct cs_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max;  /* the most bytes it may hold; appends beyond fail with CS_ETOOBIG */
    bool secret; /* cleanse on reset, growth and free */
};

#define CS_BUF_DEFAULT_MAX ((size_t)64 * 1024 * 1024)

void cs_buf_init(struct cs_buf *b, size_t max);
/* Like cs_buf_init, for buffers that will hold private keys or credentials. */
void cs_buf_init_secret(struct cs_buf *b, size_t max);
void cs_buf_free(struct cs_buf *b);
/* Empties the buffer, keeping its memory (cleansed if secret). */
void cs_buf_reset(struct cs_buf *b);

enum cs_code cs_buf_add(struct cs_buf *b, const void *data, size_t len);
enum cs_code cs_buf_adds(struct cs_buf *b, const char *s);
enum cs_code cs_buf_addc(struct cs_buf *b, char c);
enum cs_code cs_buf_addf(struct cs_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum cs_code cs_buf_vaddf(struct cs_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Returns the content as a malloc'd string the caller frees, and empties the buffer.
 * Never NULL: an empty buffer gives "". Returns NULL only when out of memory. */
char *cs_buf_take(struct cs_buf *b);

/* Drops the first n bytes (for stream parsers). */
void cs_buf_consume(struct cs_buf *b, size_t n);

static inline const char *cs_buf_str(const struct cs_buf *b)
{
    return b->ptr ? b->ptr : "";
}

#endif
