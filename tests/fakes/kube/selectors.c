/* selectors.c -- label selectors (=, ==, !=, in, notin, exists, !exists, gt, lt) and field
 * selectors (=, ==, !=, with \ escapes), parsed and matched as the real API server does
 * (k8s.io/apimachinery pkg/labels/selector.go and pkg/fields/selector.go). Pure functions. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fakes/kube/fk.h"

const char *fk_labels_get(const char *packed, const char *key)
{
    if (!packed)
        return NULL;
    for (const char *p = packed; *p;) {
        const char *v = p + strlen(p) + 1;
        if (strcmp(p, key) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

/* ---- label selectors ---- */

enum label_op { OP_EXISTS, OP_NOT_EXISTS, OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_GT, OP_LT };

struct fk_label_req {
    char *key;
    enum label_op op;
    char **values;
    size_t nvalues;
    long long num;
};

struct fk_label_selector {
    struct fk_label_req *reqs;
    size_t n;
};

enum tok { T_EOS, T_IDENT, T_NOT, T_EQ, T_DEQ, T_NE, T_IN, T_NOTIN, T_OPEN, T_CLOSE, T_COMMA,
           T_GT, T_LT, T_BAD };

struct lexer {
    const char *s;
    size_t pos;
    char ident[320];
};

static bool special(char c)
{
    return c == '!' || c == '=' || c == ',' || c == '(' || c == ')' || c == '<' || c == '>' ||
           isspace((unsigned char)c) || c == '\0';
}

static enum tok lex(struct lexer *lx)
{
    const char *s = lx->s;
    while (isspace((unsigned char)s[lx->pos]))
        lx->pos++;
    char c = s[lx->pos];
    switch (c) {
    case '\0':
        return T_EOS;
    case '(':
        lx->pos++;
        return T_OPEN;
    case ')':
        lx->pos++;
        return T_CLOSE;
    case ',':
        lx->pos++;
        return T_COMMA;
    case '<':
        lx->pos++;
        return T_LT;
    case '>':
        lx->pos++;
        return T_GT;
    case '!':
        lx->pos++;
        if (s[lx->pos] == '=') {
            lx->pos++;
            return T_NE;
        }
        return T_NOT;
    case '=':
        lx->pos++;
        if (s[lx->pos] == '=') {
            lx->pos++;
            return T_DEQ;
        }
        return T_EQ;
    default:
        break;
    }
    size_t n = 0;
    while (!special(s[lx->pos])) {
        if (n + 1 >= sizeof(lx->ident))
            return T_BAD;
        lx->ident[n++] = s[lx->pos++];
    }
    lx->ident[n] = '\0';
    if (strcmp(lx->ident, "in") == 0)
        return T_IN;
    if (strcmp(lx->ident, "notin") == 0)
        return T_NOTIN;
    return T_IDENT;
}

static enum tok peek(struct lexer *lx)
{
    size_t save = lx->pos;
    char id[sizeof(lx->ident)];
    memcpy(id, lx->ident, sizeof(id));
    enum tok t = lex(lx);
    lx->pos = save;
    memcpy(lx->ident, id, sizeof(id));
    return t;
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* A label value or the name part of a key: at most 63 of [-A-Za-z0-9_.], alphanumeric at
 * both ends; values may be empty. */
static bool valid_label_name(const char *s, bool allow_empty)
{
    size_t n = strlen(s);
    if (n == 0)
        return allow_empty;
    if (n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char(s[i]))
            return false;
    return true;
}

static bool valid_label_key(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash)
        return valid_label_name(s, false);
    if (strchr(slash + 1, '/'))
        return false;
    char prefix[254];
    size_t pn = (size_t)(slash - s);
    if (pn == 0 || pn >= sizeof(prefix))
        return false;
    memcpy(prefix, s, pn);
    prefix[pn] = '\0';
    return fk_valid_dns_subdomain(prefix) && valid_label_name(slash + 1, false);
}

static void req_cleanup(struct fk_label_req *r)
{
    free(r->key);
    for (size_t i = 0; i < r->nvalues; i++)
        free(r->values[i]);
    free(r->values);
}

void fk_label_selector_free(struct fk_label_selector *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++)
        req_cleanup(&sel->reqs[i]);
    free(sel->reqs);
    free(sel);
}

static enum cs_code add_value(struct fk_label_req *r, const char *v)
{
    char **nv = realloc(r->values, (r->nvalues + 1) * sizeof(*nv));
    if (!nv)
        return CS_ENOMEM;
    r->values = nv;
    if (!(r->values[r->nvalues] = strdup(v)))
        return CS_ENOMEM;
    r->nvalues++;
    return CS_OK;
}

#define PARSE_FAIL(...)                                                                        \
    do {                                                                                       \
        rc = cs_err_set(err, CS_EINVAL, 400, "unable to parse requirement: " __VA_ARGS__);     \
        goto out;                                                                              \
    } while (0)

static enum cs_code parse_req(struct lexer *lx, struct fk_label_req *r, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    enum tok t = lex(lx);
    bool negated = false;
    if (t == T_NOT) {
        negated = true;
        t = lex(lx);
    }
    if (t == T_IN || t == T_NOTIN)
        t = T_IDENT; /* keywords are names in key position */
    if (t != T_IDENT)
        PARSE_FAIL("found '%s', expected: identifier", t == T_EOS ? "" : "operator");
    if (!valid_label_key(lx->ident))
        PARSE_FAIL("invalid label key \"%s\": name part must consist of alphanumeric "
                   "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                   "character",
                   lx->ident);
    if (!(r->key = strdup(lx->ident)))
        return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
    enum tok op = peek(lx);
    if (negated) {
        if (op != T_COMMA && op != T_EOS)
            PARSE_FAIL("exists (!) must be followed by a key only: \"%s\"", r->key);
        r->op = OP_NOT_EXISTS;
        goto out;
    }
    if (op == T_COMMA || op == T_EOS) {
        r->op = OP_EXISTS;
        goto out;
    }
    lex(lx);
    switch (op) {
    case T_EQ:
    case T_DEQ:
    case T_NE: {
        r->op = op == T_NE ? OP_NE : OP_EQ;
        enum tok v = peek(lx);
        const char *val = "";
        if (v == T_IDENT || v == T_IN || v == T_NOTIN) {
            lex(lx);
            val = lx->ident;
        } else if (v != T_COMMA && v != T_EOS) {
            PARSE_FAIL("found unexpected token after operator on key \"%s\"", r->key);
        }
        if (!valid_label_name(val, true))
            PARSE_FAIL("invalid label value: \"%s\": a valid label must be an empty string or "
                       "consist of alphanumeric characters, '-', '_' or '.', and must start and "
                       "end with an alphanumeric character",
                       val);
        if (add_value(r, val) != CS_OK)
            return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
        break;
    }
    case T_IN:
    case T_NOTIN: {
        r->op = op == T_IN ? OP_IN : OP_NOTIN;
        if (lex(lx) != T_OPEN)
            PARSE_FAIL("found '%s', expected: '('", lx->ident);
        bool need_value = true;
        for (;;) {
            enum tok v = lex(lx);
            if (v == T_CLOSE)
                break;
            if (v == T_IDENT || v == T_IN || v == T_NOTIN) {
                if (!need_value)
                    PARSE_FAIL("found '%s', expected: ',' or ')'", lx->ident);
                if (!valid_label_name(lx->ident, true))
                    PARSE_FAIL("invalid label value: \"%s\"", lx->ident);
                if (add_value(r, lx->ident) != CS_OK)
                    return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
                need_value = false;
            } else if (v == T_COMMA) {
                if (need_value && add_value(r, "") != CS_OK)
                    return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
                need_value = true;
            } else {
                PARSE_FAIL("found '%s', expected: ',', ')' or identifier",
                           v == T_EOS ? "" : "operator");
            }
        }
        if (r->nvalues == 0)
            PARSE_FAIL("for 'in', 'notin' operators, values set can't be empty");
        break;
    }
    case T_GT:
    case T_LT: {
        r->op = op == T_GT ? OP_GT : OP_LT;
        if (lex(lx) != T_IDENT)
            PARSE_FAIL("for 'Gt', 'Lt' operators, exactly one value is required");
        char *end;
        errno = 0;
        r->num = strtoll(lx->ident, &end, 10);
        if (errno || *end || end == lx->ident)
            PARSE_FAIL("for 'Gt', 'Lt' operators, the value must be an integer");
        break;
    }
    default:
        PARSE_FAIL("found '%s', expected: in, notin, =, ==, !=, gt, lt", lx->ident);
    }
out:
    return rc;
}

enum cs_code fk_label_selector_parse(const char *s, struct fk_label_selector **out,
                                     struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct fk_label_selector *sel = calloc(1, sizeof(*sel));
    if (!sel)
        return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
    struct lexer lx = {.s = s ? s : ""};
    if (peek(&lx) == T_EOS)
        goto done;
    for (;;) {
        struct fk_label_req *nr = realloc(sel->reqs, (sel->n + 1) * sizeof(*nr));
        if (!nr) {
            rc = cs_err_set(err, CS_ENOMEM, 500, "out of memory");
            goto out;
        }
        sel->reqs = nr;
        memset(&sel->reqs[sel->n], 0, sizeof(*nr));
        sel->n++;
        if ((rc = parse_req(&lx, &sel->reqs[sel->n - 1], err)) != CS_OK)
            goto out;
        enum tok t = lex(&lx);
        if (t == T_EOS)
            break;
        if (t != T_COMMA) {
            rc = cs_err_set(err, CS_EINVAL, 400,
                            "unable to parse requirement: found '%s', expected: ',' or 'end of "
                            "string'",
                            t == T_IDENT ? lx.ident : "operator");
            goto out;
        }
    }
done:
    *out = sel;
    sel = NULL;
out:
    fk_label_selector_free(sel);
    return rc;
}

static bool has_value(const struct fk_label_req *r, const char *v)
{
    for (size_t i = 0; i < r->nvalues; i++)
        if (strcmp(r->values[i], v) == 0)
            return true;
    return false;
}

bool fk_label_selector_match(const struct fk_label_selector *sel, const char *packed)
{
    if (!sel)
        return true;
    for (size_t i = 0; i < sel->n; i++) {
        const struct fk_label_req *r = &sel->reqs[i];
        const char *v = fk_labels_get(packed, r->key);
        bool ok;
        switch (r->op) {
        case OP_EXISTS:
            ok = v != NULL;
            break;
        case OP_NOT_EXISTS:
            ok = v == NULL;
            break;
        case OP_EQ:
        case OP_IN:
            ok = v && has_value(r, v);
            break;
        case OP_NE:
        case OP_NOTIN:
            ok = !v || !has_value(r, v);
            break;
        case OP_GT:
        case OP_LT: {
            if (!v) {
                ok = false;
                break;
            }
            char *end;
            errno = 0;
            long long n = strtoll(v, &end, 10);
            if (errno || *end || end == v) {
                ok = false;
                break;
            }
            ok = r->op == OP_GT ? n > r->num : n < r->num;
            break;
        }
        default:
            ok = false;
        }
        if (!ok)
            return false;
    }
    return true;
}

/* ---- field selectors ---- */

struct field_term {
    char *field;
    char *value;
    bool negated;
};

struct fk_field_selector {
    struct field_term *terms;
    size_t n;
};

void fk_field_selector_free(struct fk_field_selector *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++) {
        free(sel->terms[i].field);
        free(sel->terms[i].value);
    }
    free(sel->terms);
    free(sel);
}

static const char *const event_fields[] = {
    "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
    "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
    "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type", NULL};

static bool field_supported(enum fk_field_set set, const char *f)
{
    if (strcmp(f, "metadata.name") == 0 || strcmp(f, "metadata.namespace") == 0)
        return true;
    switch (set) {
    case FK_FIELDS_SECRET:
        return strcmp(f, "type") == 0;
    case FK_FIELDS_NAMESPACE:
        return strcmp(f, "status.phase") == 0;
    case FK_FIELDS_EVENT:
        for (size_t i = 0; event_fields[i]; i++)
            if (strcmp(f, event_fields[i]) == 0)
                return true;
        return false;
    default:
        return false;
    }
}

/* Splits s at unescaped commas; unescapes \\, \, and \= in values (fields.ParseSelector). */
static enum cs_code parse_term(const char *t, size_t n, struct field_term *out, struct cs_err *err)
{
    /* The first position where an operator starts, preferring "!=" then "==" then "=". */
    size_t i;
    size_t oplen = 0;
    for (i = 0; i < n; i++) {
        if (t[i] == '\\') {
            i++;
            continue;
        }
        if (i + 1 < n && t[i] == '!' && t[i + 1] == '=') {
            oplen = 2;
            out->negated = true;
            break;
        }
        if (i + 1 < n && t[i] == '=' && t[i + 1] == '=') {
            oplen = 2;
            break;
        }
        if (t[i] == '=') {
            oplen = 1;
            break;
        }
    }
    if (oplen == 0)
        return cs_err_set(err, CS_EINVAL, 400, "invalid selector: '%.*s'; can't understand '%.*s'",
                          (int)n, t, (int)n, t);
    if (!(out->field = strndup(t, i)))
        return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
    const char *v = t + i + oplen;
    size_t vn = n - i - oplen;
    if (!(out->value = malloc(vn + 1)))
        return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
    size_t o = 0;
    for (size_t k = 0; k < vn; k++) {
        if (v[k] == '\\') {
            if (k + 1 >= vn || (v[k + 1] != '\\' && v[k + 1] != ',' && v[k + 1] != '='))
                return cs_err_set(err, CS_EINVAL, 400,
                                  "invalid field selector: invalid escape sequence in '%.*s'",
                                  (int)vn, v);
            k++;
        }
        out->value[o++] = v[k];
    }
    out->value[o] = '\0';
    return CS_OK;
}

enum cs_code fk_field_selector_parse(const char *s, enum fk_field_set set,
                                     struct fk_field_selector **out, struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    struct fk_field_selector *sel = calloc(1, sizeof(*sel));
    if (!sel)
        return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
    const char *p = s ? s : "";
    if (*p == '\0')
        goto done;
    for (;;) {
        size_t n = 0;
        while (p[n] && p[n] != ',') {
            if (p[n] == '\\' && p[n + 1])
                n++;
            n++;
        }
        struct field_term *nt = realloc(sel->terms, (sel->n + 1) * sizeof(*nt));
        if (!nt) {
            rc = cs_err_set(err, CS_ENOMEM, 500, "out of memory");
            goto out;
        }
        sel->terms = nt;
        memset(&sel->terms[sel->n], 0, sizeof(*nt));
        sel->n++;
        if ((rc = parse_term(p, n, &sel->terms[sel->n - 1], err)) != CS_OK)
            goto out;
        const char *f = sel->terms[sel->n - 1].field;
        if (!field_supported(set, f)) {
            if (set == FK_FIELDS_META)
                rc = cs_err_set(err, CS_EINVAL, 400,
                                "\"%s\" is not a known field selector: only \"metadata.name\", "
                                "\"metadata.namespace\"",
                                f);
            else
                rc = cs_err_set(err, CS_EINVAL, 400, "field label not supported: %s", f);
            goto out;
        }
        if (!p[n])
            break;
        p += n + 1;
    }
done:
    *out = sel;
    sel = NULL;
out:
    fk_field_selector_free(sel);
    return rc;
}

static const char *field_value(const struct fk_fields *f, const char *field)
{
    if (strcmp(field, "metadata.name") == 0)
        return f->name ? f->name : "";
    if (strcmp(field, "metadata.namespace") == 0)
        return f->ns ? f->ns : "";
    const char *v = fk_labels_get(f->extra, field);
    return v ? v : "";
}

bool fk_field_selector_match(const struct fk_field_selector *sel, const struct fk_fields *f)
{
    if (!sel)
        return true;
    for (size_t i = 0; i < sel->n; i++) {
        bool eq = strcmp(field_value(f, sel->terms[i].field), sel->terms[i].value) == 0;
        if (eq == sel->terms[i].negated)
            return false;
    }
    return true;
}

const char *fk_field_selector_exact(const struct fk_field_selector *sel, const char *field)
{
    if (!sel)
        return NULL;
    for (size_t i = 0; i < sel->n; i++)
        if (!sel->terms[i].negated && strcmp(sel->terms[i].field, field) == 0)
            return sel->terms[i].value;
    return NULL;
}
