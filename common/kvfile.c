/* kvfile.c -- KEY=VALUE credentials files. */
#include "common/kvfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/util.h"

struct kv_entry {
    char *key;
    char *value; /* secret */
};

struct cs_kvfile {
    struct kv_entry *entries;
    size_t n;
};

void cs_kvfile_free(struct cs_kvfile *kv)
{
    if (!kv)
        return;
    for (size_t i = 0; i < kv->n; i++) {
        free(kv->entries[i].key);
        cs_secure_free_str(kv->entries[i].value);
    }
    free(kv->entries);
    free(kv);
}

const char *cs_kvfile_get(const struct cs_kvfile *kv, const char *key)
{
    if (!kv)
        return NULL;
    /* The last assignment wins, as in a shell. */
    for (size_t i = kv->n; i > 0; i--)
        if (strcmp(kv->entries[i - 1].key, key) == 0)
            return kv->entries[i - 1].value;
    return NULL;
}

static bool valid_key(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

enum cs_code cs_kvfile_parse(const char *text, size_t len, const char *origin,
                             struct cs_kvfile **out, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct cs_kvfile *kv = calloc(1, sizeof(*kv));
    if (!kv)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    size_t line_no = 0;
    size_t pos = 0;
    while (pos < len) {
        line_no++;
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        const char *l = text + pos;
        size_t n = end - pos;
        pos = end + 1;
        while (n && isspace((unsigned char)*l))
            l++, n--;
        while (n && isspace((unsigned char)l[n - 1]))
            n--;
        if (n == 0 || l[0] == '#')
            continue;
        if (n > 7 && strncmp(l, "export ", 7) == 0) {
            l += 7;
            n -= 7;
            while (n && isspace((unsigned char)*l))
                l++, n--;
        }
        const char *eq = memchr(l, '=', n);
        if (!eq) {
            rc = cs_err_set(err, CS_EINVAL, 0, "%s:%zu: expected KEY=VALUE", origin, line_no);
            goto fail;
        }
        size_t klen = (size_t)(eq - l);
        while (klen && isspace((unsigned char)l[klen - 1]))
            klen--;
        if (!valid_key(l, klen)) {
            rc = cs_err_set(err, CS_EINVAL, 0, "%s:%zu: invalid key", origin, line_no);
            goto fail;
        }
        const char *v = eq + 1;
        size_t vlen = n - (size_t)(v - l);
        while (vlen && isspace((unsigned char)*v))
            v++, vlen--;
        if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
            v++;
            vlen -= 2;
        }
        struct kv_entry *grown = realloc(kv->entries, (kv->n + 1) * sizeof(*grown));
        if (!grown) {
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto fail;
        }
        kv->entries = grown;
        struct kv_entry *e = &kv->entries[kv->n];
        e->key = strndup(l, klen);
        e->value = strndup(v, vlen);
        if (!e->key || !e->value) {
            free(e->key);
            cs_secure_free_str(e->value);
            rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
            goto fail;
        }
        kv->n++;
    }
    *out = kv;
    return CS_OK;
fail:
    cs_kvfile_free(kv);
    return rc;
}

enum cs_code cs_kvfile_load(const char *path, struct cs_kvfile **out, bool *loose_permissions,
                            struct cs_err *err)
{
    enum cs_code rc;
    struct cs_buf text;
    cs_buf_init_secret(&text, 1024 * 1024);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cs_err_set(err, errno == ENOENT ? CS_ENOTFOUND : CS_EIO, 0, "%s: %s", path,
                          strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && loose_permissions)
        *loose_permissions = (st.st_mode & 077) != 0;
    char chunk[4096];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = cs_err_set(err, CS_EIO, 0, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        if ((rc = cs_buf_add(&text, chunk, (size_t)r)) != CS_OK) {
            cs_err_set(err, rc, 0, "%s: file too large", path);
            goto out;
        }
    }
    rc = cs_kvfile_parse(cs_buf_str(&text), text.len, path, out, err);
out:
    OPENSSL_cleanse(chunk, sizeof(chunk));
    close(fd);
    cs_buf_free(&text);
    return rc;
}
