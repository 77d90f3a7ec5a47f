/* plan.h -- the plan: the ordered provider actions that bring one listener (and its region's
 * managed certificates) from what the provider last said to the desired state.
 *
 * Order: CREATE (missing managed certificates; idempotent by name: a certificate of the
 * expected name, ours, with the right content is reused), RENAME (drift repair of a managed
 * certificate someone renamed, where the record proves it ours), RECORD_REPLACED (persist the
 * certificate a first managed default replaces), SET_LISTENER or RESTORE (one call: default +
 * SNI, only when they differ; a rotation binds the new certificate before anything is
 * deleted), FORGET_REPLACED, DELETE (certificates that are ours by prefix AND cluster ID, not
 * annotation-selected, not the choice of any desired listener of the region, and bound to no
 * listener in the provider's view after this plan's binding; a provider's in-use refusal is
 * "retry later", never forced).
 *
 * Steps are derived from state, never remembered: after executing any prefix of a plan (a
 * crash between steps), computing the plan again from the new state converges to the same end
 * state without duplicates; in steady state the plan is empty.
 *
 * The replaced-default record: the ownership record (description) of a managed certificate
 * created to become a listener's first managed default carries r=<listener>,<replaced>; the
 * runtime also persists RECORD_REPLACED where it keeps records (e.g. a ConfigMap: the only
 * place on providers without descriptions, and the place that survives a rotation on shared
 * certificates) and gives it back as replaced_default. The plan reads both. */
#ifndef CTL_PLAN_H
#define CTL_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "controller/desired.h"
#include "controller/model.h"
#include "controller/problems.h"
#include "elb/elb.h"

enum ctl_action_kind {
    CTL_ACT_CREATE = 0,
    CTL_ACT_RENAME,
    CTL_ACT_RECORD_REPLACED,
    CTL_ACT_SET_LISTENER,
    CTL_ACT_RESTORE,
    CTL_ACT_FORGET_REPLACED,
    CTL_ACT_DELETE,
};

/* A certificate an action refers to: an existing one by id, or (id NULL) the one the CREATE
 * of that name earlier in the same plan made: the runtime maps names to the IDs it got. */
struct ctl_cert_ref {
    char *id;
    char *name;
};

struct ctl_action {
    enum ctl_action_kind kind;
    char *why;          /* short reason for logs and Events: "new certificate", "rotation",
                           "drift: modified", "restore", "garbage collection", ... */
    /* CREATE: name, description (NULL where the provider has none), the Secret to fetch and
     * the fingerprint it must still have (else requeue), or imported_id. RENAME: cert_id,
     * name (the new name). DELETE: cert_id, name (for logs). RECORD_REPLACED: listener_id,
     * cert_id (the replaced certificate). FORGET_REPLACED: listener_id. SET_LISTENER,
     * RESTORE: listener_id, default_cert, sni. */
    char *name;
    char *description;
    char *secret_ns;
    char *secret_name;
    char *fingerprint;
    char *imported_id;
    char *cert_id;
    char *listener_id;
    struct ctl_cert_ref default_cert;
    struct ctl_cert_ref *sni;
    size_t n_sni;
};

struct ctl_plan {
    struct ctl_action *actions;
    size_t n;
    struct ctl_problems problems; /* drift, missing selected certificates, no restore, ... */
};

struct ctl_plan_input {
    const struct ctl_settings *settings;
    const struct ctl_desired *desired;         /* every listener (all regions) */
    const char *region;                        /* the listener's region */
    const char *listener_key;                  /* the desired key (desired.h) of the listener */
    const struct elb_listener *listener;       /* the listener as last read */
    const struct elb_cert_list *certs;         /* every certificate of the region, last read */
    const struct elb_listener_list *listeners; /* every HTTPS listener of the region */
    const char *replaced_default;              /* the runtime's record for this listener, or NULL */
};

/* The plan for one listener. When no desired listener has listener_key, no Ingress needs it
 * any more: its managed certificates are unbound, the replaced default restored. */
enum cs_code ctl_plan_listener(const struct ctl_plan_input *in, struct ctl_plan **out,
                               struct cs_err *err);

/* Region-wide garbage collection alone (e.g. after a listener or load balancer was deleted):
 * DELETE actions only. */
enum cs_code ctl_plan_gc(const struct ctl_settings *s, const struct ctl_desired *desired,
                         const char *region, const struct elb_cert_list *certs,
                         const struct elb_listener_list *listeners, struct ctl_plan **out,
                         struct cs_err *err);

void ctl_plan_free(struct ctl_plan *p);

const char *ctl_action_kind_name(enum ctl_action_kind k);

#endif
