/* metrics.c -- Prometheus registry and text exposition. */
#include "controller/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEP '\x1f' /* joins label values into a series key: cannot occur in them */
#define MAX_LABELS 8

struct series {
    char *key; /* label values joined by SEP */
    struct series *next;
    double value;    /* counter, gauge; histogram: sum */
    double *counts;  /* histogram: per bucket (cumulative on render), then +Inf */
    double count;
};

struct ctl_metric {
    struct ctl_metrics *reg;
    enum ctl_metric_type type;
    char *name;
    char *help;
    char *label_names[MAX_LABELS];
    size_t n_labels;
    double *buckets;
    size_t n_buckets;
    struct series **table;
    size_t table_size;
    size_t n_series;
    struct ctl_metric *next;
};

struct ctl_metrics {
    pthread_mutex_t lock; /* guards every family and series */
    struct ctl_metric *first, *last;
};

struct ctl_metrics *ctl_metrics_new(void)
{
    struct ctl_metrics *r = calloc(1, sizeof(*r));
    if (r)
        pthread_mutex_init(&r->lock, NULL);
    return r;
}

static void free_series(struct series *s)
{
    free(s->key);
    free(s->counts);
    free(s);
}

void ctl_metrics_free(struct ctl_metrics *reg)
{
    if (!reg)
        return;
    struct ctl_metric *m = reg->first;
    while (m) {
        struct ctl_metric *next = m->next;
        for (size_t i = 0; i < m->table_size; i++) {
            struct series *s = m->table[i];
            while (s) {
                struct series *sn = s->next;
                free_series(s);
                s = sn;
            }
        }
        free(m->table);
        for (size_t i = 0; i < m->n_labels; i++)
            free(m->label_names[i]);
        free(m->name);
        free(m->help);
        free(m->buckets);
        free(m);
        m = next;
    }
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

static void free_metric(struct ctl_metric *m)
{
    for (size_t i = 0; i < m->n_labels; i++)
        free(m->label_names[i]);
    free(m->table);
    free(m->name);
    free(m->help);
    free(m->buckets);
    free(m);
}

struct ctl_metric *ctl_metrics_add(struct ctl_metrics *reg, enum ctl_metric_type type,
                                   const char *name, const char *help, const char *labels,
                                   const double *buckets, size_t n_buckets)
{
    struct ctl_metric *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->reg = reg;
    m->type = type;
    m->name = strdup(name);
    m->help = strdup(help ? help : "");
    m->table_size = 64;
    m->table = calloc(m->table_size, sizeof(*m->table));
    if (!m->name || !m->help || !m->table)
        goto fail;
    if (labels && *labels) {
        const char *p = labels;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            if (m->n_labels == MAX_LABELS || n == 0)
                goto fail;
            if (!(m->label_names[m->n_labels++] = strndup(p, n)))
                goto fail;
            p += n + (comma ? 1 : 0);
        }
    }
    if (type == CTL_HISTOGRAM) {
        m->buckets = malloc((n_buckets ? n_buckets : 1) * sizeof(double));
        if (!m->buckets)
            goto fail;
        for (size_t i = 0; i < n_buckets; i++) {
            if (i && buckets[i] <= buckets[i - 1])
                goto fail;
            m->buckets[i] = buckets[i];
        }
        m->n_buckets = n_buckets;
    }
    pthread_mutex_lock(&reg->lock);
    for (struct ctl_metric *o = reg->first; o; o = o->next) {
        if (strcmp(o->name, name) == 0) {
            pthread_mutex_unlock(&reg->lock);
            goto fail;
        }
    }
    if (reg->last)
        reg->last->next = m;
    else
        reg->first = m;
    reg->last = m;
    pthread_mutex_unlock(&reg->lock);
    return m;
fail:
    free_metric(m);
    return NULL;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static char *series_key(const struct ctl_metric *m, const char *const *values)
{
    size_t len = 1;
    for (size_t i = 0; i < m->n_labels; i++)
        len += strlen(values && values[i] ? values[i] : "") + 1;
    char *k = malloc(len);
    if (!k)
        return NULL;
    char *p = k;
    for (size_t i = 0; i < m->n_labels; i++) {
        const char *v = values && values[i] ? values[i] : "";
        size_t n = strlen(v);
        memcpy(p, v, n);
        p += n;
        *p++ = SEP;
    }
    *p = '\0';
    return k;
}

static void grow_table(struct ctl_metric *m)
{
    size_t n = m->table_size * 4;
    struct series **t = calloc(n, sizeof(*t));
    if (!t)
        return;
    for (size_t i = 0; i < m->table_size; i++) {
        struct series *s = m->table[i];
        while (s) {
            struct series *next = s->next;
            size_t b = hash_str(s->key) % n;
            s->next = t[b];
            t[b] = s;
            s = next;
        }
    }
    free(m->table);
    m->table = t;
    m->table_size = n;
}

/* Lock held. */
static struct series *find_series(struct ctl_metric *m, const char *const *values, bool create)
{
    char *key = series_key(m, values);
    if (!key)
        return NULL;
    size_t b = hash_str(key) % m->table_size;
    for (struct series *s = m->table[b]; s; s = s->next) {
        if (strcmp(s->key, key) == 0) {
            free(key);
            return s;
        }
    }
    if (!create) {
        free(key);
        return NULL;
    }
    struct series *s = calloc(1, sizeof(*s));
    if (!s) {
        free(key);
        return NULL;
    }
    s->key = key;
    if (m->type == CTL_HISTOGRAM) {
        s->counts = calloc(m->n_buckets + 1, sizeof(double));
        if (!s->counts) {
            free_series(s);
            return NULL;
        }
    }
    if (m->n_series + 1 > m->table_size * 2) {
        grow_table(m);
        b = hash_str(key) % m->table_size;
    }
    s->next = m->table[b];
    m->table[b] = s;
    m->n_series++;
    return s;
}

void ctl_metric_inc(struct ctl_metric *m, const char *const *values, double delta)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->reg->lock);
    struct series *s = find_series(m, values, true);
    if (s)
        s->value += delta;
    pthread_mutex_unlock(&m->reg->lock);
}

void ctl_metric_set(struct ctl_metric *m, const char *const *values, double v)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->reg->lock);
    struct series *s = find_series(m, values, true);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&m->reg->lock);
}

void ctl_metric_observe(struct ctl_metric *m, const char *const *values, double v)
{
    if (!m || m->type != CTL_HISTOGRAM)
        return;
    pthread_mutex_lock(&m->reg->lock);
    struct series *s = find_series(m, values, true);
    if (s) {
        size_t i = 0;
        while (i < m->n_buckets && v > m->buckets[i])
            i++;
        s->counts[i] += 1;
        s->count += 1;
        s->value += v;
    }
    pthread_mutex_unlock(&m->reg->lock);
}

void ctl_metric_remove(struct ctl_metric *m, const char *const *values)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->reg->lock);
    char *key = series_key(m, values);
    if (key) {
        struct series **pp = &m->table[hash_str(key) % m->table_size];
        while (*pp) {
            if (strcmp((*pp)->key, key) == 0) {
                struct series *s = *pp;
                *pp = s->next;
                free_series(s);
                m->n_series--;
                break;
            }
            pp = &(*pp)->next;
        }
        free(key);
    }
    pthread_mutex_unlock(&m->reg->lock);
}

double ctl_metric_value(struct ctl_metric *m, const char *const *values)
{
    if (!m)
        return 0;
    pthread_mutex_lock(&m->reg->lock);
    struct series *s = find_series(m, values, false);
    double v = s ? (m->type == CTL_HISTOGRAM ? s->count : s->value) : 0;
    pthread_mutex_unlock(&m->reg->lock);
    return v;
}

static void add_number(struct cs_buf *out, double v)
{
    if (isnan(v))
        cs_buf_adds(out, "NaN");
    else if (isinf(v))
        cs_buf_adds(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        cs_buf_addf(out, "%.0f", v);
    else
        cs_buf_addf(out, "%.17g", v);
}

static void add_escaped(struct cs_buf *out, const char *s, size_t n, bool help)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            cs_buf_adds(out, "\\\\");
        else if (s[i] == '\n')
            cs_buf_adds(out, "\\n");
        else if (s[i] == '"' && !help)
            cs_buf_adds(out, "\\\"");
        else
            cs_buf_addc(out, s[i]);
    }
}

/* name{a="x",b="y"[,le="0.5"]} */
static void add_labels(struct cs_buf *out, const struct ctl_metric *m, const char *key,
                       const char *le)
{
    if (m->n_labels == 0 && !le)
        return;
    cs_buf_addc(out, '{');
    const char *p = key;
    for (size_t i = 0; i < m->n_labels; i++) {
        const char *end = strchr(p, SEP);
        if (i)
            cs_buf_addc(out, ',');
        cs_buf_addf(out, "%s=\"", m->label_names[i]);
        add_escaped(out, p, (size_t)(end - p), false);
        cs_buf_addc(out, '"');
        p = end + 1;
    }
    if (le)
        cs_buf_addf(out, "%sle=\"%s\"", m->n_labels ? "," : "", le);
    cs_buf_addc(out, '}');
}

static int cmp_series(const void *a, const void *b)
{
    return strcmp((*(struct series *const *)a)->key, (*(struct series *const *)b)->key);
}

enum cs_code ctl_metrics_render(struct ctl_metrics *reg, struct cs_buf *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    enum cs_code rc = CS_OK;
    pthread_mutex_lock(&reg->lock);
    for (struct ctl_metric *m = reg->first; m; m = m->next) {
        cs_buf_addf(out, "# HELP %s ", m->name);
        add_escaped(out, m->help, strlen(m->help), true);
        cs_buf_addf(out, "\n# TYPE %s %s\n", m->name, type_names[m->type]);
        struct series **all = malloc((m->n_series ? m->n_series : 1) * sizeof(*all));
        if (!all) {
            rc = CS_ENOMEM;
            break;
        }
        size_t n = 0;
        for (size_t i = 0; i < m->table_size; i++)
            for (struct series *s = m->table[i]; s; s = s->next)
                all[n++] = s;
        qsort(all, n, sizeof(*all), cmp_series);
        for (size_t i = 0; i < n; i++) {
            struct series *s = all[i];
            if (m->type != CTL_HISTOGRAM) {
                cs_buf_adds(out, m->name);
                add_labels(out, m, s->key, NULL);
                cs_buf_addc(out, ' ');
                add_number(out, s->value);
                cs_buf_addc(out, '\n');
                continue;
            }
            double cum = 0;
            for (size_t b = 0; b <= m->n_buckets; b++) {
                char le[64];
                cum += s->counts[b];
                if (b == m->n_buckets)
                    snprintf(le, sizeof(le), "+Inf");
                else
                    snprintf(le, sizeof(le), "%g", m->buckets[b]);
                cs_buf_addf(out, "%s_bucket", m->name);
                add_labels(out, m, s->key, le);
                cs_buf_addc(out, ' ');
                add_number(out, cum);
                cs_buf_addc(out, '\n');
            }
            cs_buf_addf(out, "%s_sum", m->name);
            add_labels(out, m, s->key, NULL);
            cs_buf_addc(out, ' ');
            add_number(out, s->value);
            cs_buf_addf(out, "\n%s_count", m->name);
            add_labels(out, m, s->key, NULL);
            cs_buf_addc(out, ' ');
            add_number(out, s->count);
            cs_buf_addc(out, '\n');
        }
        free(all);
    }
    pthread_mutex_unlock(&reg->lock);
    return rc;
}
