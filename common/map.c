/* map.c -- string hash map and sorted string set. */
#include "common/map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void cs_map_init(struct cs_map *m)
{
    memset(m, 0, sizeof(*m));
}

void cs_map_cleanup(struct cs_map *m, void (*free_value)(void *))
{
    for (size_t i = 0; i < m->n_buckets; i++) {
        struct cs_map_entry *e = m->buckets[i];
        while (e) {
            struct cs_map_entry *next = e->next;
            if (free_value)
                free_value(e->value);
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof(*m));
}

void *cs_map_get(const struct cs_map *m, const char *key)
{
    if (!m->n_buckets)
        return NULL;
    for (struct cs_map_entry *e = m->buckets[hash_str(key) % m->n_buckets]; e; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e->value;
    return NULL;
}

static bool grow(struct cs_map *m)
{
    size_t n = m->n_buckets ? m->n_buckets * 4 : 16;
    struct cs_map_entry **b = calloc(n, sizeof(*b));
    if (!b)
        return false;
    for (size_t i = 0; i < m->n_buckets; i++) {
        struct cs_map_entry *e = m->buckets[i];
        while (e) {
            struct cs_map_entry *next = e->next;
            size_t k = hash_str(e->key) % n;
            e->next = b[k];
            b[k] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = n;
    return true;
}

enum cs_code cs_map_put(struct cs_map *m, const char *key, void *value, void **old)
{
    if (old)
        *old = NULL;
    if (m->n_buckets) {
        for (struct cs_map_entry *e = m->buckets[hash_str(key) % m->n_buckets]; e; e = e->next) {
            if (strcmp(e->key, key) == 0) {
                if (old)
                    *old = e->value;
                e->value = value;
                return CS_OK;
            }
        }
    }
    if ((m->len + 1 > m->n_buckets * 2 || !m->n_buckets) && !grow(m) && !m->n_buckets)
        return CS_ENOMEM;
    struct cs_map_entry *e = malloc(sizeof(*e));
    if (!e)
        return CS_ENOMEM;
    e->key = strdup(key);
    if (!e->key) {
        free(e);
        return CS_ENOMEM;
    }
    e->value = value;
    size_t k = hash_str(key) % m->n_buckets;
    e->next = m->buckets[k];
    m->buckets[k] = e;
    m->len++;
    return CS_OK;
}

void *cs_map_remove(struct cs_map *m, const char *key)
{
    if (!m->n_buckets)
        return NULL;
    struct cs_map_entry **pp = &m->buckets[hash_str(key) % m->n_buckets];
    for (; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->key, key) == 0) {
            struct cs_map_entry *e = *pp;
            void *v = e->value;
            *pp = e->next;
            free(e->key);
            free(e);
            m->len--;
            return v;
        }
    }
    return NULL;
}

struct cs_map_entry *cs_map_first(const struct cs_map *m, struct cs_map_iter *it)
{
    it->bucket = 0;
    it->e = NULL;
    return cs_map_next(m, it);
}

struct cs_map_entry *cs_map_next(const struct cs_map *m, struct cs_map_iter *it)
{
    if (it->e && it->e->next) {
        it->e = it->e->next;
        return it->e;
    }
    size_t start = it->e ? it->bucket + 1 : it->bucket;
    for (size_t i = start; i < m->n_buckets; i++) {
        if (m->buckets[i]) {
            it->bucket = i;
            it->e = m->buckets[i];
            return it->e;
        }
    }
    it->e = NULL;
    it->bucket = m->n_buckets;
    return NULL;
}

static size_t lower_bound(const struct cs_strset *s, const char *v)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(s->items[mid], v) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void cs_strset_cleanup(struct cs_strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i]);
    free(s->items);
    memset(s, 0, sizeof(*s));
}

enum cs_code cs_strset_add(struct cs_strset *s, const char *v)
{
    size_t i = lower_bound(s, v);
    if (i < s->n && strcmp(s->items[i], v) == 0)
        return CS_OK;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        char **ni = realloc(s->items, cap * sizeof(*ni));
        if (!ni)
            return CS_ENOMEM;
        s->items = ni;
        s->cap = cap;
    }
    char *d = strdup(v);
    if (!d)
        return CS_ENOMEM;
    memmove(s->items + i + 1, s->items + i, (s->n - i) * sizeof(*s->items));
    s->items[i] = d;
    s->n++;
    return CS_OK;
}

bool cs_strset_remove(struct cs_strset *s, const char *v)
{
    size_t i = lower_bound(s, v);
    if (i >= s->n || strcmp(s->items[i], v) != 0)
        return false;
    free(s->items[i]);
    memmove(s->items + i, s->items + i + 1, (s->n - i - 1) * sizeof(*s->items));
    s->n--;
    return true;
}

bool cs_strset_has(const struct cs_strset *s, const char *v)
{
    size_t i = lower_bound(s, v);
    return i < s->n && strcmp(s->items[i], v) == 0;
}

void cs_strset_free(void *set)
{
    if (!set)
        return;
    cs_strset_cleanup(set);
    free(set);
}

enum cs_code cs_map_set_add(struct cs_map *m, const char *key, const char *member)
{
    struct cs_strset *s = cs_map_get(m, key);
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s)
            return CS_ENOMEM;
        if (cs_map_put(m, key, s, NULL) != CS_OK) {
            free(s);
            return CS_ENOMEM;
        }
    }
    return cs_strset_add(s, member);
}

void cs_map_set_remove(struct cs_map *m, const char *key, const char *member)
{
    struct cs_strset *s = cs_map_get(m, key);
    if (!s)
        return;
    cs_strset_remove(s, member);
    if (s->n == 0)
        cs_strset_free(cs_map_remove(m, key));
}
