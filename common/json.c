/* json.c -- cJSON with a cleansing allocator, and accessors. */
#include "common/json.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Each block carries its size in front, so that free can cleanse it. */
typedef union {
    size_t size;
    max_align_t align;
} block_head;

static void *cleansing_malloc(size_t n)
{
    block_head *h = malloc(sizeof(block_head) + n);
    if (!h)
        return NULL;
    h->size = n;
    return h + 1;
}

static void cleansing_free(void *p)
{
    if (!p)
        return;
    block_head *h = (block_head *)p - 1;
    OPENSSL_cleanse(p, h->size);
    free(h);
}

static pthread_once_t json_once = PTHREAD_ONCE_INIT;

static void json_init_once(void)
{
    cJSON_Hooks hooks = {.malloc_fn = cleansing_malloc, .free_fn = cleansing_free};
    cJSON_InitHooks(&hooks);
}

void cs_json_init(void)
{
    pthread_once(&json_once, json_init_once);
}

const char *cs_json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON *cs_json_path(const cJSON *obj, const char *path)
{
    char key[128];
    const char *p = path;
    while (obj && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof(key))
            return NULL;
        memcpy(key, p, n);
        key[n] = '\0';
        obj = cJSON_GetObjectItemCaseSensitive(obj, key);
        p += n + (dot ? 1 : 0);
    }
    return obj;
}

const char *cs_json_path_str(const cJSON *obj, const char *path)
{
    const cJSON *v = cs_json_path(obj, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int64_t cs_json_int(const cJSON *obj, const char *key, int64_t def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    /* Out of range (or NaN) would make the conversion undefined: the default instead. */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= -9.2e18 && v->valuedouble <= 9.2e18))
        return def;
    return (int64_t)v->valuedouble;
}

bool cs_json_bool(const cJSON *obj, const char *key, bool def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}
