/* annotations.h -- the Ingress annotations the controller honours: one table (name, default,
 * example, meaning) that the README is generated from or checked against, and a parser that
 * reports every bad value as a precise problem tied to the Ingress.
 *
 * CCE defines kubernetes.io/elb.id, elb.port, elb.class, elb.tls-certificate-ids and
 * kubernetes.io/ingress.class; the elb-certsync.io/ ones are this controller's own. */
#ifndef CTL_ANNOTATIONS_H
#define CTL_ANNOTATIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "controller/model.h"
#include "controller/problems.h"

#define CTL_ANN_ELB_ID "kubernetes.io/elb.id"
#define CTL_ANN_ELB_PORT "kubernetes.io/elb.port"
#define CTL_ANN_ELB_CLASS "kubernetes.io/elb.class"
#define CTL_ANN_CERT_IDS "kubernetes.io/elb.tls-certificate-ids"
#define CTL_ANN_INGRESS_CLASS "kubernetes.io/ingress.class"
#define CTL_ANN_LISTENER_ID "elb-certsync.io/listener-id"
#define CTL_ANN_REGION "elb-certsync.io/region"
#define CTL_ANN_USSL_IDS "elb-certsync.io/ussl-ids"
#define CTL_ANN_SCM_IDS "elb-certsync.io/scm-certificate-ids"

#define CTL_MAX_IDS 100 /* most IDs one list annotation may hold */

struct ctl_annotation_spec {
    const char *name;
    const char *default_value; /* "" when none (required or optional without default) */
    const char *example;
    const char *meaning;
};

extern const struct ctl_annotation_spec ctl_annotation_table[];
extern const size_t ctl_annotation_count;

/* What an Ingress's annotations say. */
struct ctl_ingress_opts {
    char *lb_id;        /* kubernetes.io/elb.id */
    int port;           /* kubernetes.io/elb.port, or the settings' default port */
    char *listener_id;  /* elb-certsync.io/listener-id; NULL: find the listener by port */
    char *region;       /* elb-certsync.io/region, or the settings' default region */
    char *elb_class;    /* "union" | "performance" | NULL */
    char **cert_ids;    /* kubernetes.io/elb.tls-certificate-ids: first = default */
    size_t n_cert_ids;
    char **imported_ids; /* USSL IDs (UCloud) or SCM certificate IDs (Huawei) */
    size_t n_imported_ids;
};

/* Appends the table as Markdown (| Annotation | Default | Example | Meaning |), for the
 * README and for checking it against the code. */
enum cs_code ctl_annotations_markdown(struct cs_buf *out);

void ctl_ingress_opts_cleanup(struct ctl_ingress_opts *o);

/* Parses and validates every annotation of ing. Each bad value becomes one problem
 * (CTL_PROB_BAD_ANNOTATION, naming the annotation and the value's fault) in problems.
 * Returns CS_OK and fills *out when all were good; CS_EINVAL when any was bad (*out is then
 * untouched); CS_ENOMEM. */
enum cs_code ctl_annotations_parse(const struct ctl_ingress *ing, const struct ctl_settings *s,
                                   struct ctl_ingress_opts *out, struct ctl_problems *problems,
                                   struct cs_err *err);

/* The Ingress's class: spec.ingressClassName, else the legacy annotation; NULL when none. */
const char *ctl_ingress_class(const struct ctl_ingress *ing);
/* Whether the Ingress is of the controller's class. */
bool ctl_ingress_is_ours(const struct ctl_ingress *ing, const struct ctl_settings *s);

#endif
