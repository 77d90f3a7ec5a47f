/* patch.c -- the PATCH bodies the fake accepts: RFC 7386 JSON merge patch, strategic merge
 * patch as far as it differs from a merge patch for the types served here (directives
 * $patch, $retainKeys, $setElementOrder/..., $deleteFromPrimitiveList/..., none of which may
 * end up stored; lists are replaced, as for every list of these types without a merge key),
 * and RFC 6902 JSON patch. Pure functions on cJSON trees. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "tests/fakes/kube/fk.h"

static const char DEL_PRIM[] = "$deleteFromPrimitiveList/";

/* Removes strategic-merge directives from a value copied out of a patch. */
static void strip_directives(cJSON *v)
{
    if (cJSON_IsObject(v)) {
        cJSON *c = v->child;
        while (c) {
            cJSON *next = c->next;
            if (c->string && c->string[0] == '$')
                cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
            else
                strip_directives(c);
            c = next;
        }
    } else if (cJSON_IsArray(v)) {
        cJSON *c = v->child;
        while (c) {
            cJSON *next = c->next;
            /* {"$patch":"delete", ...} elements ask to remove an element by merge key: with
             * the list replaced they have nothing left to say. */
            if (cJSON_IsObject(c) && cJSON_GetObjectItemCaseSensitive(c, "$patch"))
                cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
            else
                strip_directives(c);
            c = next;
        }
    }
}

static enum cs_code set_member(cJSON *obj, const char *key, cJSON *val)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
        /* (ReplaceItemInObject also names the new item; ReplaceItemViaPointer would not) */
        if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, val)) {
            cJSON_Delete(val);
            return CS_ENOMEM;
        }
        return CS_OK;
    }
    if (!cJSON_AddItemToObject(obj, key, val)) {
        cJSON_Delete(val);
        return CS_ENOMEM;
    }
    return CS_OK;
}

static enum cs_code delete_from_list(cJSON *obj, const char *field, const cJSON *values)
{
    cJSON *list = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!cJSON_IsArray(list) || !cJSON_IsArray(values))
        return CS_OK;
    cJSON *c = list->child;
    while (c) {
        cJSON *next = c->next;
        const cJSON *v;
        cJSON_ArrayForEach(v, values)
        {
            if (cJSON_Compare(c, v, true)) {
                cJSON_Delete(cJSON_DetachItemViaPointer(list, c));
                break;
            }
        }
        c = next;
    }
    return CS_OK;
}

static enum cs_code merge_into(cJSON *obj, const cJSON *patch, bool smp, int depth,
                               struct cs_err *err)
{
    enum cs_code rc = CS_OK;
    if (depth > 100)
        return cs_err_set(err, CS_EINVAL, 400, "patch nested too deeply");
    const cJSON *c;
    cJSON_ArrayForEach(c, patch)
    {
        const char *key = c->string;
        if (!key)
            continue;
        if (smp && key[0] == '$') {
            if (strncmp(key, DEL_PRIM, sizeof(DEL_PRIM) - 1) == 0)
                delete_from_list(obj, key + sizeof(DEL_PRIM) - 1, c);
            else if (strcmp(key, "$patch") != 0 && strcmp(key, "$retainKeys") != 0 &&
                     strncmp(key, "$setElementOrder/", 17) != 0)
                return cs_err_set(err, CS_EINVAL, 400, "unknown patch directive: %s", key);
            continue;
        }
        if (cJSON_IsNull(c)) {
            cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
            continue;
        }
        if (cJSON_IsObject(c)) {
            const char *pd = smp ? cs_json_str(c, "$patch") : NULL;
            if (pd && strcmp(pd, "delete") == 0) {
                cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
                continue;
            }
            if (pd && strcmp(pd, "replace") != 0 && strcmp(pd, "merge") != 0)
                return cs_err_set(err, CS_EINVAL, 400, "unknown patch type: %s", pd);
            cJSON *existing = cJSON_GetObjectItemCaseSensitive(obj, key);
            if (cJSON_IsObject(existing) && !(pd && strcmp(pd, "replace") == 0)) {
                if ((rc = merge_into(existing, c, smp, depth + 1, err)) != CS_OK)
                    return rc;
                continue;
            }
            cJSON *fresh = cJSON_CreateObject();
            if (!fresh)
                return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
            if ((rc = merge_into(fresh, c, smp, depth + 1, err)) != CS_OK) {
                cJSON_Delete(fresh);
                return rc;
            }
            if (set_member(obj, key, fresh) != CS_OK)
                return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
            continue;
        }
        cJSON *v = cJSON_Duplicate(c, true);
        if (!v)
            return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
        if (smp)
            strip_directives(v);
        if (set_member(obj, key, v) != CS_OK)
            return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
    }
    const cJSON *retain = smp ? cJSON_GetObjectItemCaseSensitive(patch, "$retainKeys") : NULL;
    if (cJSON_IsArray(retain)) {
        cJSON *m = obj->child;
        while (m) {
            cJSON *next = m->next;
            bool keep = false;
            const cJSON *k;
            cJSON_ArrayForEach(k, retain)
            {
                if (cJSON_IsString(k) && strcmp(k->valuestring, m->string) == 0)
                    keep = true;
            }
            if (!keep)
                cJSON_Delete(cJSON_DetachItemViaPointer(obj, m));
            m = next;
        }
    }
    return rc;
}

static enum cs_code do_merge(cJSON **target, const cJSON *patch, bool smp, struct cs_err *err)
{
    if (!cJSON_IsObject(patch)) {
        cJSON *v = cJSON_Duplicate(patch, true);
        if (!v)
            return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
        cJSON_Delete(*target);
        *target = v;
        return CS_OK;
    }
    const char *pd = smp ? cs_json_str(patch, "$patch") : NULL;
    if (!cJSON_IsObject(*target) || (pd && strcmp(pd, "replace") == 0)) {
        cJSON *fresh = cJSON_CreateObject();
        if (!fresh)
            return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
        enum cs_code rc = merge_into(fresh, patch, smp, 0, err);
        if (rc != CS_OK) {
            cJSON_Delete(fresh);
            return rc;
        }
        cJSON_Delete(*target);
        *target = fresh;
        return CS_OK;
    }
    return merge_into(*target, patch, smp, 0, err);
}

enum cs_code fk_merge_patch(cJSON **target, const cJSON *patch, struct cs_err *err)
{
    return do_merge(target, patch, false, err);
}

enum cs_code fk_strategic_patch(cJSON **target, const cJSON *patch, struct cs_err *err)
{
    return do_merge(target, patch, true, err);
}

/* ---- RFC 6902 ---- */

/* Decodes the next reference token of a JSON pointer (~1 is '/', ~0 is '~'). */
static bool next_token(const char **p, char *tok, size_t n)
{
    if (**p != '/')
        return false;
    (*p)++;
    size_t o = 0;
    while (**p && **p != '/') {
        char c = **p;
        if (c == '~') {
            (*p)++;
            if (**p == '0')
                c = '~';
            else if (**p == '1')
                c = '/';
            else
                return false;
        }
        if (o + 1 >= n)
            return false;
        tok[o++] = c;
        (*p)++;
    }
    tok[o] = '\0';
    return true;
}

static bool array_index(const char *tok, int size, bool allow_end, int *out)
{
    if (allow_end && strcmp(tok, "-") == 0) {
        *out = size;
        return true;
    }
    if (!*tok || (tok[0] == '0' && tok[1]))
        return false;
    char *end;
    errno = 0;
    long v = strtol(tok, &end, 10);
    if (errno || *end || v < 0 || v > (allow_end ? size : size - 1))
        return false;
    *out = (int)v;
    return true;
}

/* Finds the container of the value a pointer names; *last receives the final token. */
static cJSON *resolve_parent(cJSON *root, const char *ptr, char *last, size_t n)
{
    cJSON *cur = root;
    const char *p = ptr;
    char tok[512];
    if (!next_token(&p, tok, sizeof(tok)))
        return NULL;
    while (*p) {
        cJSON *nx = NULL;
        if (cJSON_IsObject(cur)) {
            nx = cJSON_GetObjectItemCaseSensitive(cur, tok);
        } else if (cJSON_IsArray(cur)) {
            int i;
            if (array_index(tok, cJSON_GetArraySize(cur), false, &i))
                nx = cJSON_GetArrayItem(cur, i);
        }
        if (!nx)
            return NULL;
        cur = nx;
        if (!next_token(&p, tok, sizeof(tok)))
            return NULL;
    }
    if (strlen(tok) >= n)
        return NULL;
    strcpy(last, tok);
    return cur;
}

static cJSON *get_at(cJSON *root, const char *ptr)
{
    if (*ptr == '\0')
        return root;
    char last[512];
    cJSON *parent = resolve_parent(root, ptr, last, sizeof(last));
    if (cJSON_IsObject(parent))
        return cJSON_GetObjectItemCaseSensitive(parent, last);
    int i;
    if (cJSON_IsArray(parent) && array_index(last, cJSON_GetArraySize(parent), false, &i))
        return cJSON_GetArrayItem(parent, i);
    return NULL;
}

static cJSON *detach_at(cJSON *root, const char *ptr)
{
    char last[512];
    cJSON *parent = resolve_parent(root, ptr, last, sizeof(last));
    if (cJSON_IsObject(parent))
        return cJSON_DetachItemFromObjectCaseSensitive(parent, last);
    int i;
    if (cJSON_IsArray(parent) && array_index(last, cJSON_GetArraySize(parent), false, &i))
        return cJSON_DetachItemFromArray(parent, i);
    return NULL;
}

/* Adds v (owned) at ptr; replace_only requires the member to exist. */
static bool add_at(cJSON **root, const char *ptr, cJSON *v, bool replace_only)
{
    if (*ptr == '\0') {
        cJSON_Delete(*root);
        *root = v;
        return true;
    }
    char last[512];
    cJSON *parent = resolve_parent(*root, ptr, last, sizeof(last));
    if (cJSON_IsObject(parent)) {
        if (cJSON_GetObjectItemCaseSensitive(parent, last))
            return cJSON_ReplaceItemInObjectCaseSensitive(parent, last, v);
        if (replace_only)
            return false;
        return cJSON_AddItemToObject(parent, last, v);
    }
    int i;
    if (cJSON_IsArray(parent)) {
        int size = cJSON_GetArraySize(parent);
        if (!array_index(last, size, !replace_only, &i))
            return false;
        if (replace_only)
            return cJSON_ReplaceItemInArray(parent, i, v);
        /* (cJSON 1.7.15's InsertItemInArray does not insert: move the tail aside instead) */
        cJSON *tail = cJSON_CreateArray();
        if (!tail)
            return false;
        for (int k = i; k < size; k++)
            cJSON_AddItemToArray(tail, cJSON_DetachItemFromArray(parent, i));
        bool ok = cJSON_AddItemToArray(parent, v);
        while (tail->child)
            cJSON_AddItemToArray(parent, cJSON_DetachItemFromArray(tail, 0));
        cJSON_Delete(tail);
        return ok;
    }
    return false;
}

enum cs_code fk_json_patch(cJSON **target, const cJSON *ops, struct cs_err *err)
{
    if (!cJSON_IsArray(ops))
        return cs_err_set(err, CS_EINVAL, 400, "json patch must be an array of operations");
    const cJSON *op;
    cJSON_ArrayForEach(op, ops)
    {
        const char *name = cs_json_str(op, "op");
        const char *path = cs_json_str(op, "path");
        const char *from = cs_json_str(op, "from");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(op, "value");
        if (!name || !path || (*path && *path != '/'))
            return cs_err_set(err, CS_EINVAL, 400, "json patch operation needs op and path");
        if (strcmp(name, "add") == 0 || strcmp(name, "replace") == 0 ||
            strcmp(name, "test") == 0) {
            if (!value)
                return cs_err_set(err, CS_EINVAL, 400, "json patch %s needs a value", name);
            if (strcmp(name, "test") == 0) {
                cJSON *cur = get_at(*target, path);
                if (!cur || !cJSON_Compare(cur, value, true))
                    return cs_err_set(err, CS_EINVAL, 422, "testing value %s failed", path);
                continue;
            }
            cJSON *v = cJSON_Duplicate(value, true);
            if (!v)
                return cs_err_set(err, CS_ENOMEM, 500, "out of memory");
            if (!add_at(target, path, v, strcmp(name, "replace") == 0)) {
                cJSON_Delete(v);
                return cs_err_set(err, CS_EINVAL, 422, "%s operation does not apply: doc is "
                                  "missing path: \"%s\"", name, path);
            }
        } else if (strcmp(name, "remove") == 0) {
            cJSON *v = *path ? detach_at(*target, path) : NULL;
            if (!v)
                return cs_err_set(err, CS_EINVAL, 422,
                                  "remove operation does not apply: doc is missing path: \"%s\"",
                                  path);
            cJSON_Delete(v);
        } else if (strcmp(name, "move") == 0 || strcmp(name, "copy") == 0) {
            if (!from || (*from && *from != '/'))
                return cs_err_set(err, CS_EINVAL, 400, "json patch %s needs from", name);
            bool move = strcmp(name, "move") == 0;
            size_t fl = strlen(from);
            if (move && strncmp(path, from, fl) == 0 && (path[fl] == '/' || path[fl] == '\0') &&
                path[fl] == '/')
                return cs_err_set(err, CS_EINVAL, 422, "move from a location into its child");
            cJSON *v;
            if (move) {
                if (strcmp(path, from) == 0)
                    continue;
                v = *from ? detach_at(*target, from) : NULL;
            } else {
                cJSON *src = get_at(*target, from);
                v = src ? cJSON_Duplicate(src, true) : NULL;
            }
            if (!v)
                return cs_err_set(err, CS_EINVAL, 422, "%s operation does not apply: doc is "
                                  "missing from path: \"%s\"", name, from);
            if (!add_at(target, path, v, false)) {
                cJSON_Delete(v);
                return cs_err_set(err, CS_EINVAL, 422, "%s operation does not apply: doc is "
                                  "missing path: \"%s\"", name, path);
            }
        } else {
            return cs_err_set(err, CS_EINVAL, 400, "Unexpected kind: %s", name);
        }
    }
    return CS_OK;
}
