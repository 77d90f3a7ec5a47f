/* discovery.c -- what kubectl 1.32 and client-go read before anything else: /version, the
 * legacy discovery documents (/api APIVersions, /apis APIGroupList, /apis/G APIGroup, and the
 * APIResourceLists of /api/v1 and /apis/G/V), and the health endpoints. Aggregated discovery
 * (apidiscovery.k8s.io/v2) is not served: clients fall back to the legacy documents when the
 * answer's Content-Type is plain application/json. /openapi/v2 and /openapi/v3 are 404, so
 * kubectl needs --validate=false for commands that validate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "tests/fakes/kube/fk.h"

static cJSON *group_version(const char *group, const char *version)
{
    cJSON *v = cJSON_CreateObject();
    char gv[128];
    snprintf(gv, sizeof(gv), "%s/%s", group, version);
    cJSON_AddStringToObject(v, "groupVersion", gv);
    cJSON_AddStringToObject(v, "version", version);
    return v;
}

static cJSON *api_group(const char *group)
{
    cJSON *g = cJSON_CreateObject();
    cJSON_AddStringToObject(g, "name", group);
    cJSON *vs = cJSON_AddArrayToObject(g, "versions");
    cJSON_AddItemToArray(vs, group_version(group, "v1"));
    cJSON_AddItemToObject(g, "preferredVersion", group_version(group, "v1"));
    return g;
}

static const char *const groups[] = {"networking.k8s.io", "coordination.k8s.io"};

static cJSON *resource_list(const char *group, const char *version)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "kind", "APIResourceList");
    char gv[128];
    if (group[0]) {
        cJSON_AddStringToObject(j, "apiVersion", "v1");
        snprintf(gv, sizeof(gv), "%s/%s", group, version);
    } else {
        snprintf(gv, sizeof(gv), "%s", version);
    }
    cJSON_AddStringToObject(j, "groupVersion", gv);
    cJSON *rs = cJSON_AddArrayToObject(j, "resources");
    for (size_t i = 0; i < FK_NTYPES; i++) {
        const struct fk_type *t = &fk_types[i];
        if (strcmp(t->group, group) != 0 || strcmp(t->version, version) != 0)
            continue;
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "name", t->resource);
        cJSON_AddStringToObject(r, "singularName", t->singular);
        cJSON_AddBoolToObject(r, "namespaced", t->namespaced);
        cJSON_AddStringToObject(r, "kind", t->kind);
        static const char *const verbs[] = {"create", "delete", "get", "list",
                                            "patch",  "update", "watch"};
        cJSON_AddItemToObject(r, "verbs", cJSON_CreateStringArray(verbs, 7));
        if (t->short_names[0]) {
            cJSON *sn = cJSON_AddArrayToObject(r, "shortNames");
            char buf[64];
            snprintf(buf, sizeof(buf), "%s", t->short_names);
            char *save = NULL;
            for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save))
                cJSON_AddItemToArray(sn, cJSON_CreateString(s));
        }
        cJSON_AddStringToObject(r, "storageVersionHash", t->storage_hash);
        cJSON_AddItemToArray(rs, r);
        if (t->has_status) {
            cJSON *st = cJSON_CreateObject();
            char name[64];
            snprintf(name, sizeof(name), "%s/status", t->resource);
            cJSON_AddStringToObject(st, "name", name);
            cJSON_AddStringToObject(st, "singularName", "");
            cJSON_AddBoolToObject(st, "namespaced", t->namespaced);
            cJSON_AddStringToObject(st, "kind", t->kind);
            static const char *const sv[] = {"get", "patch", "update"};
            cJSON_AddItemToObject(st, "verbs", cJSON_CreateStringArray(sv, 3));
            cJSON_AddItemToArray(rs, st);
        }
    }
    return j;
}

static void answer(struct fk_response *resp, cJSON *j)
{
    char *s = fk_json_print(j);
    cJSON_Delete(j);
    resp->status = s ? 200 : 500;
    resp->content_type = "application/json";
    resp->body = s ? s : strdup("{}");
    resp->body_len = resp->body ? strlen(resp->body) : 0;
}

bool fk_discovery(struct fk_server *srv, const char *path, struct fk_response *resp)
{
    char p[256];
    size_t n = strlen(path);
    if (n >= sizeof(p))
        return false;
    memcpy(p, path, n + 1);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    if (strcmp(p, "/version") == 0) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "major", "1");
        cJSON_AddStringToObject(j, "minor", "32");
        cJSON_AddStringToObject(j, "gitVersion", "v1.32.4-fake");
        cJSON_AddStringToObject(j, "gitCommit", "0000000000000000000000000000000000000000");
        cJSON_AddStringToObject(j, "gitTreeState", "clean");
        cJSON_AddStringToObject(j, "buildDate", "2025-04-22T00:00:00Z");
        cJSON_AddStringToObject(j, "goVersion", "go1.23.8");
        cJSON_AddStringToObject(j, "compiler", "gc");
        cJSON_AddStringToObject(j, "platform", "linux/amd64");
        answer(resp, j);
        return true;
    }
    if (strcmp(p, "/healthz") == 0 || strcmp(p, "/livez") == 0 || strcmp(p, "/readyz") == 0) {
        resp->status = 200;
        resp->content_type = "text/plain; charset=utf-8";
        resp->body = strdup("ok");
        resp->body_len = resp->body ? 2 : 0;
        return true;
    }
    if (strcmp(p, "/api") == 0) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "kind", "APIVersions");
        cJSON *vs = cJSON_AddArrayToObject(j, "versions");
        cJSON_AddItemToArray(vs, cJSON_CreateString("v1"));
        cJSON *sa = cJSON_AddArrayToObject(j, "serverAddressByClientCIDRs");
        cJSON *a = cJSON_CreateObject();
        char addr[64];
        pthread_mutex_lock(&srv->cfg_mu);
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", srv->port);
        pthread_mutex_unlock(&srv->cfg_mu);
        cJSON_AddStringToObject(a, "clientCIDR", "0.0.0.0/0");
        cJSON_AddStringToObject(a, "serverAddress", addr);
        cJSON_AddItemToArray(sa, a);
        answer(resp, j);
        return true;
    }
    if (strcmp(p, "/apis") == 0) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "kind", "APIGroupList");
        cJSON_AddStringToObject(j, "apiVersion", "v1");
        cJSON *gs = cJSON_AddArrayToObject(j, "groups");
        for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
            cJSON_AddItemToArray(gs, api_group(groups[i]));
        answer(resp, j);
        return true;
    }
    if (strcmp(p, "/api/v1") == 0) {
        answer(resp, resource_list("", "v1"));
        return true;
    }
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        char gp[128], gvp[128];
        snprintf(gp, sizeof(gp), "/apis/%s", groups[i]);
        snprintf(gvp, sizeof(gvp), "/apis/%s/v1", groups[i]);
        if (strcmp(p, gp) == 0) {
            cJSON *g = api_group(groups[i]);
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "kind", "APIGroup");
            cJSON_AddStringToObject(j, "apiVersion", "v1");
            while (g->child) {
                cJSON *c = g->child;
                char *k = c->string;
                c->string = NULL;
                cJSON_DetachItemViaPointer(g, c);
                cJSON_AddItemToObject(j, k, c);
                cJSON_free(k);
            }
            cJSON_Delete(g);
            answer(resp, j);
            return true;
        }
        if (strcmp(p, gvp) == 0) {
            answer(resp, resource_list(groups[i], "v1"));
            return true;
        }
    }
    return false;
}
