/* map.h -- a string-keyed hash map (chained, grows by 4x), and a small sorted string set.
 * Not thread-safe: the owner guards it. Keys are copied; values are the caller's. */
#ifndef CS_MAP_H
#define CS_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct cs_map_entry {
    char *key;
    void *value;
    struct cs_map_entry *next;
};

struct cs_map {
    struct cs_map_entry **buckets;
    size_t n_buckets;
    size_t len;
};

void cs_map_init(struct cs_map *m);
/* free_value (may be NULL) is called on every value. */
void cs_map_cleanup(struct cs_map *m, void (*free_value)(void *));
void *cs_map_get(const struct cs_map *m, const char *key);
/* Inserts or replaces; *old (may be NULL) receives the replaced value (NULL if none). */
enum cs_code cs_map_put(struct cs_map *m, const char *key, void *value, void **old);
/* Removes key; returns its value (NULL if absent). */
void *cs_map_remove(struct cs_map *m, const char *key);

/* Iteration: for (e = cs_map_first(m, &it); e; e = cs_map_next(m, &it)). Do not modify the
 * map while iterating. */
struct cs_map_iter {
    size_t bucket;
    struct cs_map_entry *e;
};
struct cs_map_entry *cs_map_first(const struct cs_map *m, struct cs_map_iter *it);
struct cs_map_entry *cs_map_next(const struct cs_map *m, struct cs_map_iter *it);

/* A sorted set of strings (small sets: binary search, memmove insert). */
struct cs_strset {
    char **items;
    size_t n, cap;
};

void cs_strset_cleanup(struct cs_strset *s);
enum cs_code cs_strset_add(struct cs_strset *s, const char *v);
bool cs_strset_remove(struct cs_strset *s, const char *v);
bool cs_strset_has(const struct cs_strset *s, const char *v);
/* For cs_map values: frees a heap-allocated set. */
void cs_strset_free(void *set);

/* Convenience for maps of sets: adds/removes member to the set under key (created and
 * dropped as needed). */
enum cs_code cs_map_set_add(struct cs_map *m, const char *key, const char *member);
void cs_map_set_remove(struct cs_map *m, const char *key, const char *member);

#endif
