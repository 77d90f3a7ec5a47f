/* types.c -- the resource types fake-kube-apiserver serves, with the facts discovery reports
 * about them (kind, scope, short names, subresources) and the server behaviour that differs
 * between them (generation, create-on-update, field selectors). */
#include <stdio.h>
#include <string.h>

#include "tests/fakes/kube/fk.h"

/* Order matters only for the index used by the store. */
const struct fk_type fk_types[FK_NTYPES] = {
    {.resource = "namespaces", .singular = "namespace", .kind = "Namespace",
     .list_kind = "NamespaceList", .group = "", .version = "v1", .api_version = "v1",
     .short_names = "ns", .namespaced = false, .has_status = true, .fields = FK_FIELDS_NAMESPACE,
     .storage_hash = "Q3oi5N2YM8M="},
    {.resource = "secrets", .singular = "secret", .kind = "Secret", .list_kind = "SecretList",
     .group = "", .version = "v1", .api_version = "v1", .short_names = "", .namespaced = true,
     .fields = FK_FIELDS_SECRET, .storage_hash = "S6u1pOWzb84="},
    {.resource = "configmaps", .singular = "configmap", .kind = "ConfigMap",
     .list_kind = "ConfigMapList", .group = "", .version = "v1", .api_version = "v1",
     .short_names = "cm", .namespaced = true, .fields = FK_FIELDS_META,
     .storage_hash = "qFsyl6wFWjQ="},
    {.resource = "events", .singular = "event", .kind = "Event", .list_kind = "EventList",
     .group = "", .version = "v1", .api_version = "v1", .short_names = "ev", .namespaced = true,
     .create_on_update = true, .fields = FK_FIELDS_EVENT, .storage_hash = "r2yiGXH7wu8="},
    {.resource = "ingresses", .singular = "ingress", .kind = "Ingress",
     .list_kind = "IngressList", .group = "networking.k8s.io", .version = "v1",
     .api_version = "networking.k8s.io/v1", .short_names = "ing", .namespaced = true,
     .has_status = true, .has_generation = true, .fields = FK_FIELDS_META,
     .storage_hash = "39NQlfNR+bo="},
    {.resource = "ingressclasses", .singular = "ingressclass", .kind = "IngressClass",
     .list_kind = "IngressClassList", .group = "networking.k8s.io", .version = "v1",
     .api_version = "networking.k8s.io/v1", .short_names = "", .namespaced = false,
     .has_generation = true, .fields = FK_FIELDS_META, .storage_hash = "l/iqIbDgFyQ="},
    {.resource = "leases", .singular = "lease", .kind = "Lease", .list_kind = "LeaseList",
     .group = "coordination.k8s.io", .version = "v1", .api_version = "coordination.k8s.io/v1",
     .short_names = "", .namespaced = true, .fields = FK_FIELDS_META,
     .storage_hash = "gqkMMb/YqFM="},
};

size_t fk_type_index(const struct fk_type *t)
{
    return (size_t)(t - fk_types);
}

const struct fk_type *fk_type_by_resource(const char *group, const char *version,
                                          const char *resource)
{
    for (size_t i = 0; i < FK_NTYPES; i++) {
        const struct fk_type *t = &fk_types[i];
        if (strcmp(t->group, group) == 0 && strcmp(t->version, version) == 0 &&
            strcmp(t->resource, resource) == 0)
            return t;
    }
    return NULL;
}

const struct fk_type *fk_type_by_kind(const char *api_version, const char *kind)
{
    if (!api_version || !kind)
        return NULL;
    for (size_t i = 0; i < FK_NTYPES; i++)
        if (strcmp(fk_types[i].api_version, api_version) == 0 &&
            strcmp(fk_types[i].kind, kind) == 0)
            return &fk_types[i];
    return NULL;
}

void fk_type_qualified(const struct fk_type *t, char *out, size_t n)
{
    if (t->group[0])
        snprintf(out, n, "%s.%s", t->resource, t->group);
    else
        snprintf(out, n, "%s", t->resource);
}
