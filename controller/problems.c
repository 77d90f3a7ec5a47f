/* problems.c -- the list of problems reported as Warning Events (see problems.h). */
#include "controller/problems.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

const char *ctl_problem_reason(enum ctl_problem_kind kind)
{
    switch (kind) {
    case CTL_PROB_BAD_ANNOTATION: return "InvalidAnnotation";
    case CTL_PROB_SECRET_MISSING: return "SecretNotFound";
    case CTL_PROB_SECRET_TYPE: return "SecretWrongType";
    case CTL_PROB_SECRET_INVALID: return "InvalidCertificate";
    case CTL_PROB_CROSS_NAMESPACE: return "CrossNamespaceSecret";
    case CTL_PROB_EXPIRING: return "CertificateExpiring";
    case CTL_PROB_SNI_OVERFLOW: return "TooManyCertificates";
    case CTL_PROB_CONFLICT: return "ListenerConflict";
    case CTL_PROB_CERT_NOT_FOUND: return "CertificateNotFound";
    case CTL_PROB_DRIFT: return "CertificateDrift";
    case CTL_PROB_NO_RESTORE: return "NoCertificateToRestore";
    case CTL_PROB_LISTENER: return "ListenerUnusable";
    }
    return "Unknown";
}

enum cs_code ctl_problems_add(struct ctl_problems *p, enum ctl_problem_kind kind,
                              const char *ingress_ns, const char *ingress_name,
                              const char *listener, const char *fmt, ...)
{
    enum cs_code rc = CS_ENOMEM;
    struct ctl_problem pr = {.kind = kind};
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        msg = NULL;
        goto out;
    }
    pr.message = msg;
    msg = NULL;
    if ((ingress_ns && !(pr.ingress_ns = strdup(ingress_ns))) ||
        (ingress_name && !(pr.ingress_name = strdup(ingress_name))) ||
        (listener && !(pr.listener = strdup(listener))))
        goto out;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct ctl_problem *items = realloc(p->items, cap * sizeof(*items));
        if (!items)
            goto out;
        p->items = items;
        p->cap = cap;
    }
    p->items[p->n++] = pr;
    memset(&pr, 0, sizeof(pr));
    rc = CS_OK;
out:
    free(pr.ingress_ns);
    free(pr.ingress_name);
    free(pr.listener);
    free(pr.message);
    return rc;
}

void ctl_problems_cleanup(struct ctl_problems *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].ingress_ns);
        free(p->items[i].ingress_name);
        free(p->items[i].listener);
        free(p->items[i].message);
    }
    free(p->items);
    memset(p, 0, sizeof(*p));
}

static int cmp_opt(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "");
}

static int cmp_problem(const void *pa, const void *pb)
{
    const struct ctl_problem *a = pa, *b = pb;
    int c;
    if ((c = cmp_opt(a->ingress_ns, b->ingress_ns)) || (c = cmp_opt(a->ingress_name, b->ingress_name)) ||
        (c = cmp_opt(a->listener, b->listener)))
        return c;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return cmp_opt(a->message, b->message);
}

void ctl_problems_sort(struct ctl_problems *p)
{
    if (p->n > 1)
        qsort(p->items, p->n, sizeof(p->items[0]), cmp_problem);
}
