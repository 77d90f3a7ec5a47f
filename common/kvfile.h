/* kvfile.h -- KEY=VALUE credentials files (comments with '#', blank lines ignored).
 *
 * Values are kept in memory that is cleansed when the file is freed. A value may be quoted
 * with single or double quotes; "export KEY=VALUE" is accepted. */
#ifndef CS_KVFILE_H
#define CS_KVFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct cs_kvfile;

/* Reads path. *loose_permissions is set when the file is readable by group or others (the
 * caller warns). Errors name the path and the line number, never a value. */
enum cs_code cs_kvfile_load(const char *path, struct cs_kvfile **out, bool *loose_permissions,
                            struct cs_err *err);
/* Parses text already in memory (origin names it in error messages). */
enum cs_code cs_kvfile_parse(const char *text, size_t len, const char *origin,
                             struct cs_kvfile **out, struct cs_err *err);
/* The value for key, or NULL. Borrowed: valid until cs_kvfile_free. */
const char *cs_kvfile_get(const struct cs_kvfile *kv, const char *key);
void cs_kvfile_free(struct cs_kvfile *kv);

#endif
