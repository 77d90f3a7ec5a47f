/* huawei_sign.c -- Huawei Cloud SDK-HMAC-SHA256 request signing (design.md §6).
 *
 * Follows huaweicloud-sdk-go-v3 core/auth/signer/signer.go: canonical URI with every path
 * segment percent-encoded and a trailing '/', canonical query sorted by key then value,
 * canonical headers "lowercase-name:trimmed-value\n" sorted by name (host always among them),
 * hex(sha256(body)), string to sign "SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex(sha256(canonical))>",
 * signature hex(HMAC-SHA256(SK, string to sign)). The shared vectors decide every doubt. */
#include "elb/huawei_sign.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/codec.h"

#define HW_ALGORITHM "SDK-HMAC-SHA256"

struct hdr {
    char *name;        /* lowercase */
    const char *value; /* borrowed, untrimmed */
    size_t value_len;  /* after trimming */
    size_t value_off;  /* leading whitespace skipped */
};

static int cmp_param(const void *a, const void *b)
{
    const struct elb_query_param *x = *(const struct elb_query_param *const *)a;
    const struct elb_query_param *y = *(const struct elb_query_param *const *)b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return strcmp(x->value ? x->value : "", y->value ? y->value : "");
}

static int cmp_hdr(const void *a, const void *b)
{
    const struct hdr *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static enum cs_code add_canonical_uri(struct cs_buf *out, const char *path)
{
    enum cs_code rc = CS_OK;
    const char *p = path ? path : "";
    size_t start = out->len;
    /* Each segment between '/' is encoded on its own, the separators are kept. */
    while (*p && rc == CS_OK) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        rc = cs_url_encode(out, p, n);
        if (rc == CS_OK && slash)
            rc = cs_buf_addc(out, '/');
        p += n + (slash ? 1 : 0);
    }
    if (rc == CS_OK && (out->len == start || out->ptr[out->len - 1] != '/'))
        rc = cs_buf_addc(out, '/');
    return rc;
}

static enum cs_code add_canonical_query(struct cs_buf *out, const struct elb_query_param *q,
                                        size_t n)
{
    enum cs_code rc = CS_OK;
    const struct elb_query_param **sorted = NULL;
    if (n == 0)
        return CS_OK;
    sorted = calloc(n, sizeof(*sorted));
    if (!sorted)
        return CS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        sorted[i] = &q[i];
    qsort(sorted, n, sizeof(*sorted), cmp_param);
    for (size_t i = 0; i < n && rc == CS_OK; i++) {
        const char *v = sorted[i]->value ? sorted[i]->value : "";
        if (i)
            rc = cs_buf_addc(out, '&');
        if (rc == CS_OK)
            rc = cs_url_encode(out, sorted[i]->key, strlen(sorted[i]->key));
        if (rc == CS_OK)
            rc = cs_buf_addc(out, '=');
        if (rc == CS_OK)
            rc = cs_url_encode(out, v, strlen(v));
    }
    free(sorted);
    return rc;
}

static char *lower_dup(const char *s)
{
    char *d = strdup(s);
    if (d)
        for (char *p = d; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    return d;
}

static void hdr_set_value(struct hdr *h, const char *v)
{
    size_t len = strlen(v);
    size_t off = 0;
    while (off < len && isspace((unsigned char)v[off]))
        off++;
    while (len > off && isspace((unsigned char)v[len - 1]))
        len--;
    h->value = v;
    h->value_off = off;
    h->value_len = len - off;
}

/* Builds the canonical request into out, and the signed-header list into signed_headers. */
static enum cs_code canonical(const struct elb_hw_sign_input *in, struct cs_buf *out,
                              struct cs_buf *signed_headers, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct hdr *hs = NULL;
    size_t nh = 0;
    bool have_date = false;

    if (!in || !in->method || !in->host || !in->path || (in->n_headers && !in->headers) ||
        (in->n_query && !in->query) || (in->body_len && !in->body)) {
        rc = cs_err_set(err, CS_EINVAL, 0, "huawei sign: incomplete request");
        goto out;
    }
    for (size_t i = 0; i < in->n_query; i++) {
        if (!in->query[i].key) {
            rc = cs_err_set(err, CS_EINVAL, 0, "huawei sign: query parameter without a name");
            goto out;
        }
    }
    hs = calloc(in->n_headers + 1, sizeof(*hs));
    if (!hs) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < in->n_headers; i++) {
        const struct cs_http_header *h = &in->headers[i];
        if (!h->name || !h->name[0] || !h->value) {
            rc = cs_err_set(err, CS_EINVAL, 0, "huawei sign: header without name or value");
            goto out;
        }
        if (strcasecmp(h->name, "host") == 0)
            continue; /* in->host is the one signed */
        if (strcasecmp(h->name, "authorization") == 0)
            continue;
        for (size_t j = 0; j < nh; j++) {
            if (strcasecmp(hs[j].name, h->name) == 0) {
                rc = cs_err_set(err, CS_EINVAL, 0, "huawei sign: header %s given twice",
                                h->name);
                goto out;
            }
        }
        hs[nh].name = lower_dup(h->name);
        if (!hs[nh].name) {
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto out;
        }
        hdr_set_value(&hs[nh], h->value);
        if (strcmp(hs[nh].name, "x-sdk-date") == 0)
            have_date = hs[nh].value_len > 0;
        nh++;
    }
    if (!have_date) {
        rc = cs_err_set(err, CS_EINVAL, 0, "huawei sign: X-Sdk-Date header missing");
        goto out;
    }
    hs[nh].name = strdup("host");
    if (!hs[nh].name) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    hdr_set_value(&hs[nh], in->host);
    nh++;
    qsort(hs, nh, sizeof(*hs), cmp_hdr);

    char method[16];
    size_t ml = strlen(in->method);
    if (ml == 0 || ml >= sizeof(method)) {
        rc = cs_err_set(err, CS_EINVAL, 0, "huawei sign: bad method");
        goto out;
    }
    for (size_t i = 0; i <= ml; i++)
        method[i] = (char)toupper((unsigned char)in->method[i]);

    rc = cs_buf_adds(out, method);
    if (rc == CS_OK)
        rc = cs_buf_addc(out, '\n');
    if (rc == CS_OK)
        rc = add_canonical_uri(out, in->path);
    if (rc == CS_OK)
        rc = cs_buf_addc(out, '\n');
    if (rc == CS_OK)
        rc = add_canonical_query(out, in->query, in->n_query);
    if (rc == CS_OK)
        rc = cs_buf_addc(out, '\n');
    for (size_t i = 0; i < nh && rc == CS_OK; i++) {
        rc = cs_buf_adds(out, hs[i].name);
        if (rc == CS_OK)
            rc = cs_buf_addc(out, ':');
        if (rc == CS_OK)
            rc = cs_buf_add(out, hs[i].value + hs[i].value_off, hs[i].value_len);
        if (rc == CS_OK)
            rc = cs_buf_addc(out, '\n');
        if (rc == CS_OK && i)
            rc = cs_buf_addc(signed_headers, ';');
        if (rc == CS_OK)
            rc = cs_buf_adds(signed_headers, hs[i].name);
    }
    if (rc == CS_OK)
        rc = cs_buf_addc(out, '\n');
    if (rc == CS_OK)
        rc = cs_buf_add(out, cs_buf_str(signed_headers), signed_headers->len);
    if (rc == CS_OK)
        rc = cs_buf_addc(out, '\n');
    if (rc == CS_OK) {
        char hex[65];
        cs_sha256_hex(in->body_len ? in->body : "", in->body_len, hex);
        rc = cs_buf_adds(out, hex);
    }
    if (rc != CS_OK)
        rc = cs_err_set(err, rc, 0, "huawei sign: canonical request: %s", cs_code_name(rc));
out:
    if (hs)
        for (size_t i = 0; i < nh; i++)
            free(hs[i].name);
    free(hs);
    return rc;
}

enum cs_code elb_hw_canonical_request(const struct elb_hw_sign_input *in, struct cs_buf *out,
                                      struct cs_err *err)
{
    struct cs_buf sh;
    cs_buf_init(&sh, 64 * 1024);
    enum cs_code rc = canonical(in, out, &sh, err);
    cs_buf_free(&sh);
    return rc;
}

static const char *find_date(const struct elb_hw_sign_input *in, size_t *len)
{
    for (size_t i = 0; i < in->n_headers; i++) {
        if (strcasecmp(in->headers[i].name, "x-sdk-date") == 0) {
            struct hdr h;
            hdr_set_value(&h, in->headers[i].value);
            *len = h.value_len;
            return h.value + h.value_off;
        }
    }
    return NULL;
}

enum cs_code elb_hw_sign(const struct elb_hw_sign_input *in, const char *ak, const char *sk,
                         struct cs_buf *authorization, struct cs_err *err)
{
    enum cs_code rc;
    struct cs_buf creq, sh, sts;
    cs_buf_init(&creq, 0);
    cs_buf_init(&sh, 64 * 1024);
    cs_buf_init(&sts, 4096);

    if (!ak || !ak[0] || !sk || !sk[0] || !authorization) {
        rc = cs_err_set(err, CS_EINVAL, 0, "huawei sign: missing access key or secret key");
        goto out;
    }
    rc = canonical(in, &creq, &sh, err);
    if (rc)
        goto out;
    size_t dlen = 0;
    const char *date = find_date(in, &dlen);
    char creq_hex[65];
    cs_sha256_hex(creq.ptr, creq.len, creq_hex);
    rc = cs_buf_addf(&sts, HW_ALGORITHM "\n%.*s\n%s", (int)dlen, date, creq_hex);
    if (rc) {
        rc = cs_err_set(err, rc, 0, "huawei sign: string to sign: %s", cs_code_name(rc));
        goto out;
    }
    unsigned char mac[32];
    char mac_hex[65];
    cs_hmac_sha256(sk, strlen(sk), sts.ptr, sts.len, mac);
    cs_hex(mac, sizeof(mac), mac_hex);
    rc = cs_buf_addf(authorization, HW_ALGORITHM " Access=%s, SignedHeaders=%s, Signature=%s",
                     ak, cs_buf_str(&sh), mac_hex);
    if (rc)
        rc = cs_err_set(err, rc, 0, "huawei sign: authorization: %s", cs_code_name(rc));
out:
    cs_buf_free(&creq);
    cs_buf_free(&sh);
    cs_buf_free(&sts);
    return rc;
}
