/* naming.c -- names and ownership records of managed certificates (see naming.h). */
#include "controller/naming.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/codec.h"

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_hex_lower(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

enum cs_code ctl_cluster_id_check(const char *id, struct cs_err *err)
{
    if (!id || !*id)
        return cs_err_set(err, CS_EINVAL, 0, "cluster ID is empty");
    size_t n = strlen(id);
    if (n > CTL_CLUSTER_ID_MAX)
        return cs_err_set(err, CS_EINVAL, 0,
                          "cluster ID is %zu characters long, at most %d are allowed", n,
                          CTL_CLUSTER_ID_MAX);
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(id[i]) && id[i] != '-')
            return cs_err_set(err, CS_EINVAL, 0,
                              "cluster ID may hold only a-z, 0-9 and '-' (character %zu is not)",
                              i + 1);
    if (id[0] == '-' || id[n - 1] == '-')
        return cs_err_set(err, CS_EINVAL, 0, "cluster ID must begin and end with a-z or 0-9");
    return CS_OK;
}

bool ctl_provider_id_valid(const char *s)
{
    if (!s || !*s || strlen(s) > CTL_ID_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!is_alnum(*p) && !strchr("._:-", *p))
            return false;
    return true;
}

bool ctl_dns_label_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

bool ctl_dns_subdomain_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (i == start || !is_lower_alnum(s[start]) || !is_lower_alnum(s[i - 1]))
                return false;
            start = i + 1;
        } else if (!is_lower_alnum(s[i]) && s[i] != '-') {
            return false;
        }
    }
    return true;
}

static size_t name_max(const struct elb_limits *lim)
{
    return lim && lim->name_max ? lim->name_max : 255;
}

/* A character of the readable part: kept when the provider allows it, else '-'. '_' is our
 * field delimiter and never kept. */
static char readable_char(char c, const struct elb_limits *lim)
{
    if (is_alnum(c))
        return c;
    const char *extra = lim && lim->name_extra_chars ? lim->name_extra_chars : "";
    if (c != '_' && c != '\0' && strchr(extra, c))
        return c;
    if (strchr(extra, '-'))
        return '-';
    return 'x';
}

/* Writes the readable part "a.b" cut to the budget left by the provider's name_max. */
static enum cs_code readable(const char *cluster, const char *a, const char *b,
                             const struct elb_limits *lim, char out[256], struct cs_err *err)
{
    size_t fixed = strlen(CTL_NAME_PREFIX) + strlen(cluster) + 1 + 1 + CTL_NAME_HASH_LEN;
    size_t max = name_max(lim);
    size_t budget = max > fixed ? max - fixed : 0;
    if (budget > 255)
        budget = 255;
    if (budget < CTL_READABLE_MIN)
        return cs_err_set(err, CS_EINVAL, 0,
                          "the provider's certificate names (at most %zu characters) leave no "
                          "room for a readable part",
                          max);
    size_t la = strlen(a), lb = strlen(b);
    if (la + 1 + lb > budget) {
        /* Share the budget: each part gets half, and what one does not need goes to the
         * other. */
        size_t half = (budget - 1) / 2;
        size_t want_a = lb < budget - 1 - half ? budget - 1 - lb : half;
        if (la > want_a)
            la = want_a;
        if (lb > budget - 1 - la)
            lb = budget - 1 - la;
    }
    char *p = out;
    char sep = readable_char('.', lim);
    for (size_t i = 0; i < la; i++)
        *p++ = readable_char(a[i], lim);
    *p++ = sep;
    for (size_t i = 0; i < lb; i++)
        *p++ = readable_char(b[i], lim);
    *p = '\0';
    return CS_OK;
}

enum cs_code ctl_name_readable(const char *cluster, const char *ns, const char *secret,
                               const struct elb_limits *lim, char out[256], struct cs_err *err)
{
    enum cs_code rc = ctl_cluster_id_check(cluster, err);
    if (rc != CS_OK)
        return rc;
    return readable(cluster, ns ? ns : "", secret ? secret : "", lim, out, err);
}

static enum cs_code build_name(const char *cluster, const char *a, const char *b,
                               const char *hash, const struct elb_limits *lim, char **out,
                               struct cs_err *err)
{
    char part[256];
    enum cs_code rc = readable(cluster, a, b, lim, part, err);
    if (rc != CS_OK)
        return rc;
    char *name = NULL;
    if (asprintf(&name, "%s%s_%s_%.*s", CTL_NAME_PREFIX, cluster, part, CTL_NAME_HASH_LEN,
                 hash) < 0)
        return cs_err_set(err, CS_ENOMEM, 0, "out of memory");
    *out = name;
    return CS_OK;
}

enum cs_code ctl_name_managed(const char *cluster, const char *ns, const char *secret,
                              const char *fingerprint, const struct elb_limits *lim, char **out,
                              struct cs_err *err)
{
    enum cs_code rc = ctl_cluster_id_check(cluster, err);
    if (rc != CS_OK)
        return rc;
    if (!ctl_dns_label_valid(ns))
        return cs_err_set(err, CS_EINVAL, 0, "invalid namespace name");
    if (!ctl_dns_subdomain_valid(secret))
        return cs_err_set(err, CS_EINVAL, 0, "invalid Secret name");
    if (!fingerprint || strlen(fingerprint) != 64 || !is_hex_lower(fingerprint, 64))
        return cs_err_set(err, CS_EINVAL, 0, "fingerprint is not 64 lowercase hex digits");
    return build_name(cluster, ns, secret, fingerprint, lim, out, err);
}

void ctl_imported_fingerprint(const char *imported_id, char out[65])
{
    struct cs_buf b;
    cs_buf_init(&b, 4096);
    if (cs_buf_adds(&b, "imported:") == CS_OK && cs_buf_adds(&b, imported_id) == CS_OK)
        cs_sha256_hex(b.ptr, b.len, out);
    else
        cs_sha256_hex("", 0, out);
    cs_buf_free(&b);
}

enum cs_code ctl_name_imported(const char *cluster, const char *imported_id,
                               const struct elb_limits *lim, char **out, struct cs_err *err)
{
    enum cs_code rc = ctl_cluster_id_check(cluster, err);
    if (rc != CS_OK)
        return rc;
    if (!ctl_provider_id_valid(imported_id))
        return cs_err_set(err, CS_EINVAL, 0, "invalid imported certificate ID");
    char fp[65];
    ctl_imported_fingerprint(imported_id, fp);
    return build_name(cluster, "imported", imported_id, fp, lim, out, err);
}

bool ctl_name_parse(const char *name, struct ctl_name_parts *out)
{
    size_t np = strlen(CTL_NAME_PREFIX);
    if (!name || strncmp(name, CTL_NAME_PREFIX, np) != 0)
        return false;
    const char *c = name + np;
    const char *u1 = strchr(c, '_');
    if (!u1)
        return false;
    const char *r = u1 + 1;
    const char *u2 = strchr(r, '_');
    if (!u2)
        return false;
    const char *h = u2 + 1;
    if (strchr(h, '_'))
        return false;
    size_t lc = (size_t)(u1 - c), lr = (size_t)(u2 - r);
    if (lc == 0 || lc > CTL_CLUSTER_ID_MAX || lr == 0 || lr > 255 ||
        strlen(h) != CTL_NAME_HASH_LEN || !is_hex_lower(h, CTL_NAME_HASH_LEN))
        return false;
    struct ctl_name_parts p;
    memcpy(p.cluster, c, lc);
    p.cluster[lc] = '\0';
    if (ctl_cluster_id_check(p.cluster, NULL) != CS_OK)
        return false;
    memcpy(p.readable, r, lr);
    p.readable[lr] = '\0';
    memcpy(p.hash, h, CTL_NAME_HASH_LEN + 1);
    if (out)
        *out = p;
    return true;
}

void ctl_record_cleanup(struct ctl_record *r)
{
    if (!r)
        return;
    free(r->secret_ns);
    free(r->secret_name);
    free(r->replaced_listener);
    free(r->replaced_cert);
    memset(r, 0, sizeof(*r));
}

void ctl_secret_hash(const char *ns, const char *name, char out[CTL_SECRET_HASH_LEN + 1])
{
    char hex[65];
    struct cs_buf b;
    cs_buf_init(&b, 1024);
    if (cs_buf_addf(&b, "%s/%s", ns, name) == CS_OK)
        cs_sha256_hex(b.ptr, b.len, hex);
    else
        cs_sha256_hex("", 0, hex);
    cs_buf_free(&b);
    memcpy(out, hex, CTL_SECRET_HASH_LEN);
    out[CTL_SECRET_HASH_LEN] = '\0';
}

enum cs_code ctl_record_init(struct ctl_record *r, const char *cluster, const char *secret_ns,
                             const char *secret_name, const char *fingerprint,
                             struct cs_err *err)
{
    struct ctl_record t = {0};
    enum cs_code rc = ctl_cluster_id_check(cluster, err);
    if (rc != CS_OK)
        goto out;
    rc = cs_err_set(err, CS_EINVAL, 0, "fingerprint is not 64 lowercase hex digits");
    if (!fingerprint || strlen(fingerprint) != 64 || !is_hex_lower(fingerprint, 64))
        goto out;
    strcpy(t.cluster, cluster);
    strcpy(t.fingerprint, fingerprint);
    if (secret_ns || secret_name) {
        rc = cs_err_set(err, CS_EINVAL, 0, "invalid Secret namespace or name");
        if (!ctl_dns_label_valid(secret_ns) || !ctl_dns_subdomain_valid(secret_name))
            goto out;
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        if (!(t.secret_ns = strdup(secret_ns)) || !(t.secret_name = strdup(secret_name)))
            goto out;
        ctl_secret_hash(secret_ns, secret_name, t.secret_hash);
    }
    cs_err_clear(err);
    *r = t;
    memset(&t, 0, sizeof(t));
    rc = CS_OK;
out:
    ctl_record_cleanup(&t);
    return rc;
}

enum cs_code ctl_record_format(const struct ctl_record *r, size_t max, char **out,
                               struct cs_err *err)
{
    enum cs_code rc;
    struct cs_buf b;
    cs_buf_init(&b, 4096);
    bool with_r = r->replaced_listener && r->replaced_cert;
    if (with_r && (!ctl_provider_id_valid(r->replaced_listener) ||
                   !ctl_provider_id_valid(r->replaced_cert))) {
        rc = cs_err_set(err, CS_EINVAL, 0, "replaced certificate or listener ID is invalid");
        goto out;
    }
    for (int pass = 0; pass < 2; pass++) {
        cs_buf_reset(&b);
        rc = cs_buf_addf(&b, "%s;c=%s", CTL_RECORD_VERSION, r->cluster);
        if (rc == CS_OK && r->secret_hash[0]) {
            if (pass == 0 && r->secret_ns && r->secret_name)
                rc = cs_buf_addf(&b, ";s=%s/%s", r->secret_ns, r->secret_name);
            else
                rc = cs_buf_addf(&b, ";h=%s", r->secret_hash);
        }
        if (rc == CS_OK)
            rc = cs_buf_addf(&b, ";f=%s", r->fingerprint);
        if (rc == CS_OK && with_r)
            rc = cs_buf_addf(&b, ";r=%s,%s", r->replaced_listener, r->replaced_cert);
        if (rc != CS_OK) {
            cs_err_set(err, rc, 0, "cannot format ownership record");
            goto out;
        }
        if (b.len <= max)
            break;
    }
    if (b.len > max) {
        rc = cs_err_set(err, CS_ETOOBIG, 0,
                        "ownership record needs %zu characters, the provider allows %zu", b.len,
                        max);
        goto out;
    }
    char *s = cs_buf_take(&b);
    if (!s) {
        rc = cs_err_set(err, CS_ENOMEM, 0, "out of memory");
        goto out;
    }
    *out = s;
    rc = CS_OK;
out:
    cs_buf_free(&b);
    return rc;
}

/* Takes "key=" off *p and returns the value up to the next ';' (or end) in a malloc'd
 * string; NULL when the field is not there or out of memory (*oom says which). */
static char *take_field(const char **p, const char *key, bool *oom)
{
    size_t kl = strlen(key);
    if (**p != ';' || strncmp(*p + 1, key, kl) != 0 || (*p)[1 + kl] != '=')
        return NULL;
    const char *v = *p + kl + 2;
    const char *end = strchr(v, ';');
    size_t n = end ? (size_t)(end - v) : strlen(v);
    char *s = strndup(v, n);
    if (!s)
        *oom = true;
    *p = v + n;
    return s;
}

enum cs_code ctl_record_parse(const char *s, struct ctl_record *out, struct cs_err *err)
{
    struct ctl_record t = {0};
    bool oom = false;
    char *c = NULL, *sv = NULL, *hv = NULL, *fv = NULL, *rv = NULL;
    enum cs_code rc = CS_EINVAL;
    const char *why = "not an elb-certsync ownership record";
    size_t vl = strlen(CTL_RECORD_VERSION);
    if (!s || strncmp(s, CTL_RECORD_VERSION, vl) != 0 || (s[vl] != ';'))
        goto out;
    const char *p = s + vl;
    c = take_field(&p, "c", &oom);
    sv = take_field(&p, "s", &oom);
    if (!sv)
        hv = take_field(&p, "h", &oom);
    fv = take_field(&p, "f", &oom);
    rv = take_field(&p, "r", &oom);
    if (oom) {
        rc = CS_ENOMEM;
        why = "out of memory";
        goto out;
    }
    why = "ownership record is malformed";
    if (!c || !fv || *p != '\0')
        goto out;
    if (ctl_cluster_id_check(c, NULL) != CS_OK) {
        why = "ownership record has an invalid cluster ID";
        goto out;
    }
    if (strlen(fv) != 64 || !is_hex_lower(fv, 64)) {
        why = "ownership record has an invalid fingerprint";
        goto out;
    }
    strcpy(t.cluster, c);
    strcpy(t.fingerprint, fv);
    if (sv) {
        char *slash = strchr(sv, '/');
        if (!slash)
            goto out;
        *slash = '\0';
        if (!ctl_dns_label_valid(sv) || !ctl_dns_subdomain_valid(slash + 1)) {
            why = "ownership record has an invalid Secret reference";
            goto out;
        }
        if (!(t.secret_ns = strdup(sv)) || !(t.secret_name = strdup(slash + 1))) {
            rc = CS_ENOMEM;
            why = "out of memory";
            goto out;
        }
        ctl_secret_hash(t.secret_ns, t.secret_name, t.secret_hash);
    } else if (hv) {
        if (strlen(hv) != CTL_SECRET_HASH_LEN || !is_hex_lower(hv, CTL_SECRET_HASH_LEN))
            goto out;
        strcpy(t.secret_hash, hv);
    }
    if (rv) {
        char *comma = strchr(rv, ',');
        if (!comma)
            goto out;
        *comma = '\0';
        if (!ctl_provider_id_valid(rv) || !ctl_provider_id_valid(comma + 1)) {
            why = "ownership record has an invalid replaced-certificate entry";
            goto out;
        }
        if (!(t.replaced_listener = strdup(rv)) || !(t.replaced_cert = strdup(comma + 1))) {
            rc = CS_ENOMEM;
            why = "out of memory";
            goto out;
        }
    }
    *out = t;
    memset(&t, 0, sizeof(t));
    rc = CS_OK;
out:
    if (rc != CS_OK)
        cs_err_set(err, rc, 0, "%s", why);
    ctl_record_cleanup(&t);
    free(c);
    free(sv);
    free(hv);
    free(fv);
    free(rv);
    return rc;
}

bool ctl_record_is_secret(const struct ctl_record *r, const char *ns, const char *name)
{
    if (!r->secret_hash[0] || !ns || !name)
        return false;
    if (r->secret_ns && r->secret_name)
        return strcmp(r->secret_ns, ns) == 0 && strcmp(r->secret_name, name) == 0;
    char h[CTL_SECRET_HASH_LEN + 1];
    ctl_secret_hash(ns, name, h);
    return strcmp(h, r->secret_hash) == 0;
}

bool ctl_cert_is_ours(const struct elb_cert *c, const char *cluster, const struct elb_limits *lim,
                      struct ctl_record *rec)
{
    struct ctl_name_parts np;
    if (!c || !cluster || !ctl_name_parse(c->name, &np) || strcmp(np.cluster, cluster) != 0)
        return false;
    if (!lim || lim->description_max == 0)
        return true;
    struct ctl_record r;
    if (!c->description || ctl_record_parse(c->description, &r, NULL) != CS_OK)
        return false;
    bool ok = strcmp(r.cluster, cluster) == 0 &&
              strncmp(r.fingerprint, np.hash, CTL_NAME_HASH_LEN) == 0;
    if (ok && rec)
        *rec = r;
    else
        ctl_record_cleanup(&r);
    return ok;
}
