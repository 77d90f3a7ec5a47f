/* codec.h -- encodings and digests, on OpenSSL: base64, hex, SHA-256, HMAC-SHA256, SHA-1,
 * and RFC 3986 percent-encoding. */
#ifndef CS_CODEC_H
#define CS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* Standard base64 (with padding; whitespace and newlines ignored) into out. out may be a
 * secret buffer: decoded key material then never sits in an unwiped temporary. */
enum cs_code cs_base64_decode(const char *in, size_t len, struct cs_buf *out, struct cs_err *err);
enum cs_code cs_base64_encode(const void *in, size_t len, struct cs_buf *out);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void cs_hex(const unsigned char *in, size_t n, char *out);

void cs_sha256(const void *data, size_t len, unsigned char out[32]);
void cs_sha256_hex(const void *data, size_t len, char out[65]);
void cs_sha1_hex(const void *data, size_t len, char out[41]);
void cs_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    unsigned char out[32]);

/* Appends s percent-encoded: A-Z a-z 0-9 - _ . ~ kept, everything else %XX (uppercase). */
enum cs_code cs_url_encode(struct cs_buf *out, const char *s, size_t len);

#endif
