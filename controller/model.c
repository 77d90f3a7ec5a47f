/* model.c -- cleanup and small accessors of the model structs (model.h). */
#include "controller/model.h"

#include <stdlib.h>
#include <string.h>

void ctl_ingress_cleanup(struct ctl_ingress *ing)
{
    if (!ing)
        return;
    free(ing->ns);
    free(ing->name);
    free(ing->uid);
    free(ing->class_name);
    for (size_t i = 0; i < ing->n_annotations; i++) {
        free(ing->annotations[i].key);
        free(ing->annotations[i].value);
    }
    free(ing->annotations);
    for (size_t i = 0; i < ing->n_tls; i++) {
        free(ing->tls[i].secret_name);
        for (size_t j = 0; j < ing->tls[i].n_hosts; j++)
            free(ing->tls[i].hosts[j]);
        free(ing->tls[i].hosts);
    }
    free(ing->tls);
    memset(ing, 0, sizeof(*ing));
}

void ctl_secret_cleanup(struct ctl_secret *s)
{
    if (!s)
        return;
    free(s->ns);
    free(s->name);
    free(s->type);
    free(s->reason);
    for (size_t i = 0; i < s->n_domains; i++)
        free(s->domains[i]);
    free(s->domains);
    memset(s, 0, sizeof(*s));
}

const char *ctl_ingress_annotation(const struct ctl_ingress *ing, const char *key)
{
    for (size_t i = 0; i < ing->n_annotations; i++)
        if (ing->annotations[i].key && strcmp(ing->annotations[i].key, key) == 0)
            return ing->annotations[i].value ? ing->annotations[i].value : "";
    return NULL;
}

bool ctl_secret_type_ok(const char *type)
{
    return type && (strcmp(type, CTL_SECRET_TYPE_TLS) == 0 || strcmp(type, CTL_SECRET_TYPE_CCE) == 0);
}
