/* params.c -- request parameters of fake-elb: percent-decoding and "a=1&b=2" lists (query
 * strings, UCloud form bodies). Values may carry private keys (UCloud PrivateKey), so every
 * list is cleansed when freed. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "tests/fakes/elb/fake_elb.h"

void fe_params_free(struct fe_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        cs_secure_free_str(p->items[i].key);
        cs_secure_free_str(p->items[i].value);
    }
    free(p->items);
    memset(p, 0, sizeof(*p));
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

enum cs_code fe_params_add(struct fe_params *p, const char *key, size_t klen, const char *value,
                           size_t vlen)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        struct fe_kv *items = realloc(p->items, cap * sizeof(*items));
        if (!items)
            return CS_ENOMEM;
        p->items = items;
        p->cap = cap;
    }
    char *k = dupn(key, klen);
    char *v = dupn(value, vlen);
    if (!k || !v) {
        free(k);
        cs_secure_free_str(v);
        return CS_ENOMEM;
    }
    p->items[p->n].key = k;
    p->items[p->n].value = v;
    p->n++;
    return CS_OK;
}

const char *fe_params_get(const struct fe_params *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].key, key) == 0)
            return p->items[i].value;
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

enum cs_code fe_url_decode(const char *s, size_t len, bool plus_is_space, char **out)
{
    char *d = malloc(len + 1);
    if (!d)
        return CS_ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) { /* bad escape, or an embedded NUL */
                cs_secure_free(d, len + 1);
                return CS_EINVAL;
            }
            d[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            d[j++] = ' ';
        } else {
            d[j++] = c;
        }
    }
    d[j] = '\0';
    *out = d;
    return CS_OK;
}

enum cs_code fe_params_parse(const char *s, size_t len, bool plus_is_space, struct fe_params *out)
{
    struct fe_params p = {0};
    enum cs_code rc = CS_OK;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(s + i, '=', j - i);
            size_t klen = eq ? (size_t)(eq - (s + i)) : j - i;
            const char *v = eq ? eq + 1 : s + j;
            size_t vlen = eq ? (size_t)(s + j - v) : 0;
            char *k = NULL, *val = NULL;
            if ((rc = fe_url_decode(s + i, klen, plus_is_space, &k)) != CS_OK)
                goto out;
            if ((rc = fe_url_decode(v, vlen, plus_is_space, &val)) != CS_OK) {
                cs_secure_free_str(k);
                goto out;
            }
            rc = fe_params_add(&p, k, strlen(k), val, strlen(val));
            cs_secure_free_str(k);
            cs_secure_free_str(val);
            if (rc != CS_OK)
                goto out;
        }
        i = j + 1;
    }
    *out = p;
    memset(&p, 0, sizeof(p));
out:
    fe_params_free(&p);
    return rc;
}
