/* problems.h -- what the controller reports as Warning Events: each problem is tied to the
 * Ingress it concerns (or, for a listener no Ingress needs any more, to the listener alone).
 * desired.c and plan.c append to a ctl_problems list; the runtime turns it into Events. */
#ifndef CTL_PROBLEMS_H
#define CTL_PROBLEMS_H

#include <stddef.h>

#include "common/err.h"

enum ctl_problem_kind {
    CTL_PROB_BAD_ANNOTATION = 0, /* an annotation value the controller cannot use */
    CTL_PROB_SECRET_MISSING,     /* spec.tls[].secretName names no Secret */
    CTL_PROB_SECRET_TYPE,        /* the Secret is not kubernetes.io/tls (or IngressTLS) */
    CTL_PROB_SECRET_INVALID,     /* certcheck refused it: the binding is kept */
    CTL_PROB_CROSS_NAMESPACE,    /* secretName "ns/name": refused, never read */
    CTL_PROB_EXPIRING,           /* valid, but expires within expiry_warn_days */
    CTL_PROB_SNI_OVERFLOW,       /* more certificates than the listener holds */
    CTL_PROB_CONFLICT,           /* Ingresses sharing a listener disagree */
    CTL_PROB_CERT_NOT_FOUND,     /* an annotation-selected certificate does not exist */
    CTL_PROB_DRIFT,              /* a managed certificate was deleted, renamed or modified */
    CTL_PROB_NO_RESTORE,         /* no certificate to restore: the managed default stays */
    CTL_PROB_LISTENER,           /* the listener cannot be used as asked */
};

struct ctl_problem {
    enum ctl_problem_kind kind;
    char *ingress_ns;   /* NULL when tied to no Ingress */
    char *ingress_name;
    char *listener;     /* the listener key (desired.h), NULL when not about one */
    char *message;      /* one sentence, never key material */
};

struct ctl_problems {
    struct ctl_problem *items;
    size_t n;
    size_t cap;
};

/* The Event reason for a kind, CamelCase ("SecretNotFound", "InvalidCertificate", ...). */
const char *ctl_problem_reason(enum ctl_problem_kind kind);

enum cs_code ctl_problems_add(struct ctl_problems *p, enum ctl_problem_kind kind,
                              const char *ingress_ns, const char *ingress_name,
                              const char *listener, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void ctl_problems_cleanup(struct ctl_problems *p);
/* Sorts by ingress namespace, name, listener, kind, message (deterministic output). */
void ctl_problems_sort(struct ctl_problems *p);

#endif
