/* json.h -- cJSON set-up and small helpers shared by every module.
 *
 * cs_json_init() installs allocation hooks under which every cJSON allocation is cleansed
 * when freed: Kubernetes Secrets and certificate uploads pass through cJSON, and their key
 * material must not linger in freed heap. Call it once at start, before any cJSON use. */
#ifndef CS_JSON_H
#define CS_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

void cs_json_init(void);

/* The string at obj[key], or NULL when absent or not a string. */
const char *cs_json_str(const cJSON *obj, const char *key);
/* Follows a dotted path of object keys ("metadata.name"); NULL when any step is missing. */
const cJSON *cs_json_path(const cJSON *obj, const char *path);
const char *cs_json_path_str(const cJSON *obj, const char *path);
/* The number at obj[key] as an integer, or def. */
int64_t cs_json_int(const cJSON *obj, const char *key, int64_t def);
bool cs_json_bool(const cJSON *obj, const char *key, bool def);

#endif
