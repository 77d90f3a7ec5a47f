/* codec.c -- encodings and digests on OpenSSL. */
#include "common/codec.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <string.h>

enum cs_code cs_base64_decode(const char *in, size_t len, struct cs_buf *out, struct cs_err *err)
{
    /* EVP_DecodeUpdate skips whitespace, handles line breaks and padding, rejects the rest. */
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    if (!ctx)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    enum cs_code rc = CS_OK;
    EVP_DecodeInit(ctx);
    size_t start = out->len;
    unsigned char chunk[3 * 256 + 3];
    size_t pos = 0;
    int finished = 0;
    while (pos < len) {
        int n = (int)(len - pos > 1024 ? 1024 : len - pos);
        int outl = 0;
        /* 1024 input bytes decode to at most 768 bytes, plus up to 3 buffered. */
        int r = EVP_DecodeUpdate(ctx, chunk, &outl, (const unsigned char *)in + pos, n);
        if (r < 0) {
            rc = cs_err_set(err, CS_EINVAL, 0, "invalid base64");
            goto out;
        }
        if (outl > 0 && (rc = cs_buf_add(out, chunk, (size_t)outl)) != CS_OK) {
            cs_err_set(err, rc, 0, "base64: output too large");
            goto out;
        }
        pos += (size_t)n;
        if (r == 0) {
            finished = 1;
            break;
        }
    }
    /* Anything after the padding must be whitespace. */
    for (; finished && pos < len; pos++) {
        char c = in[pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t' && c != '=') {
            rc = cs_err_set(err, CS_EINVAL, 0, "invalid base64: data after padding");
            goto out;
        }
    }
    int outl = 0;
    if (EVP_DecodeFinal(ctx, chunk, &outl) < 0) {
        rc = cs_err_set(err, CS_EINVAL, 0, "invalid base64: truncated");
        goto out;
    }
    if (outl > 0 && (rc = cs_buf_add(out, chunk, (size_t)outl)) != CS_OK)
        cs_err_set(err, rc, 0, "base64: output too large");
out:
    OPENSSL_cleanse(chunk, sizeof(chunk));
    EVP_ENCODE_CTX_free(ctx);
    if (rc != CS_OK) {
        /* Leave the buffer as it was. */
        if (out->ptr && out->len > start) {
            if (out->secret)
                OPENSSL_cleanse(out->ptr + start, out->len - start);
            out->len = start;
            out->ptr[start] = '\0';
        }
    }
    return rc;
}

enum cs_code cs_base64_encode(const void *in, size_t len, struct cs_buf *out)
{
    const unsigned char *p = in;
    unsigned char chunk[4 * 256 + 1];
    while (len > 0) {
        size_t n = len > 3 * 256 ? 3 * 256 : len;
        int outl = EVP_EncodeBlock(chunk, p, (int)n);
        enum cs_code rc = cs_buf_add(out, chunk, (size_t)outl);
        if (rc)
            return rc;
        p += n;
        len -= n;
    }
    return CS_OK;
}

void cs_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void cs_sha256(const void *data, size_t len, unsigned char out[32])
{
    SHA256(data, len, out);
}

void cs_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    SHA256(data, len, md);
    cs_hex(md, 32, out);
}

void cs_sha1_hex(const void *data, size_t len, char out[41])
{
    unsigned char md[20];
    SHA1(data, len, md);
    cs_hex(md, 20, out);
}

void cs_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    unsigned char out[32])
{
    unsigned int outl = 32;
    HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &outl);
}

enum cs_code cs_url_encode(struct cs_buf *out, const char *s, size_t len)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        enum cs_code rc;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            rc = cs_buf_addc(out, (char)c);
        } else {
            char enc[3] = {'%', digits[c >> 4], digits[c & 15]};
            rc = cs_buf_add(out, enc, 3);
        }
        if (rc)
            return rc;
    }
    return CS_OK;
}
