/* ucloud_sign.c -- UCloud API parameter signature (design.md §5, UCloudDoc-Team/api
 * summary/signature.md): parameters sorted by name, name and value concatenated unescaped,
 * private key appended, SHA-1, lowercase hex.
 *
 * The string signed holds the private key (and, for CreateSSL, a certificate's private key):
 * it lives in a secret buffer and is cleansed when done. */
#include "elb/ucloud_sign.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/codec.h"

static int cmp_param(const void *a, const void *b)
{
    const struct elb_query_param *x = *(const struct elb_query_param *const *)a;
    const struct elb_query_param *y = *(const struct elb_query_param *const *)b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    /* A repeated name is a caller bug; ordering by value keeps the result deterministic. */
    return strcmp(x->value ? x->value : "", y->value ? y->value : "");
}

enum cs_code elb_ucloud_signature(const struct elb_query_param *params, size_t n,
                                  const char *private_key, char out[41], struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    const struct elb_query_param **sorted = NULL;
    struct cs_buf s;
    cs_buf_init_secret(&s, 0);

    if (!private_key || !private_key[0] || !out || (n && !params)) {
        rc = cs_err_set(err, CS_EINVAL, 0, "ucloud sign: missing private key or parameters");
        goto out;
    }
    if (n) {
        sorted = calloc(n, sizeof(*sorted));
        if (!sorted) {
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto out;
        }
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!params[i].key || !params[i].key[0]) {
            rc = cs_err_set(err, CS_EINVAL, 0, "ucloud sign: parameter without a name");
            goto out;
        }
        if (strcmp(params[i].key, "Signature") == 0)
            continue;
        sorted[m++] = &params[i];
    }
    if (m)
        qsort(sorted, m, sizeof(*sorted), cmp_param);
    for (size_t i = 0; i < m && rc == CS_OK; i++) {
        rc = cs_buf_adds(&s, sorted[i]->key);
        if (rc == CS_OK && sorted[i]->value)
            rc = cs_buf_adds(&s, sorted[i]->value);
    }
    if (rc == CS_OK)
        rc = cs_buf_adds(&s, private_key);
    if (rc) {
        rc = cs_err_set(err, rc, 0, "ucloud sign: string to sign: %s", cs_code_name(rc));
        goto out;
    }
    cs_sha1_hex(s.ptr, s.len, out);
out:
    free(sorted);
    cs_buf_free(&s);
    return rc;
}
