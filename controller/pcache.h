/* pcache.h -- the controller's view of the provider, per region: every certificate and every
 * HTTPS listener, listed in bulk (all pages) at start and at each resync, and kept current by
 * the controller's own writes in between. A reconcile reads from it, never lists: in steady
 * state the provider sees one certificate list and one listener list per region and resync
 * period, and no writes.
 *
 * Indexes give each reconcile only the part of the region its listener's plan needs (the
 * listener, what it binds, what its desired entries name, the owned certificates of its
 * Secrets, and every listener binding any of those), so a reconcile costs what one listener
 * costs, not what the region holds. Thread-safe; no provider call is made under the lock. */
#ifndef CTL_PCACHE_H
#define CTL_PCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "controller/desired.h"
#include "elb/elb.h"

struct ctl_pcache;

struct ctl_pcache *ctl_pcache_new(struct elb_provider *p, const char *cluster_id);
void ctl_pcache_free(struct ctl_pcache *c);

/* Lists the region's certificates and HTTPS listeners and replaces its view. */
enum cs_code ctl_pcache_refresh(struct ctl_pcache *c, const char *region, struct cs_err *err);
/* Refreshes the region unless it has been loaded already. */
enum cs_code ctl_pcache_ensure(struct ctl_pcache *c, const char *region, struct cs_err *err);
/* Monotonic time of the region's last refresh (0: never). */
uint64_t ctl_pcache_loaded_at(struct ctl_pcache *c, const char *region);
/* The regions loaded so far, as a NULL-terminated malloc'd array of malloc'd strings. */
char **ctl_pcache_regions(struct ctl_pcache *c);
void ctl_pcache_regions_free(char **regions);

/* What one listener's plan needs, copied out (the caller owns it). */
struct ctl_pcache_slice {
    struct elb_listener listener;     /* as last read */
    struct elb_cert_list certs;
    struct elb_listener_list listeners;
};
void ctl_pcache_slice_cleanup(struct ctl_pcache_slice *s);

/* The slice for the listener at (lb_id, listener_id or port) of region, with want (NULL when
 * no Ingress needs the listener any more). A listener the view does not have is read from the
 * provider (and kept). CS_ENOTFOUND when the provider has no such listener. */
enum cs_code ctl_pcache_slice(struct ctl_pcache *c, const char *region, const char *lb_id,
                              const char *listener_id, int port,
                              const struct ctl_listener_want *want,
                              struct ctl_pcache_slice *out, struct cs_err *err);
/* The same, also carrying the certificates named in extra_ids (space-separated IDs: the
 * runtime's replaced-default record, whose certificates are neither bound nor ours). */
enum cs_code ctl_pcache_slice_extra(struct ctl_pcache *c, const char *region, const char *lb_id,
                                    const char *listener_id, int port,
                                    const struct ctl_listener_want *want, const char *extra_ids,
                                    struct ctl_pcache_slice *out, struct cs_err *err);

/* A full copy of the region's view (for region-wide garbage collection). */
enum cs_code ctl_pcache_region_copy(struct ctl_pcache *c, const char *region,
                                    struct elb_cert_list *certs,
                                    struct elb_listener_list *listeners, struct cs_err *err);

/* Updates after the controller's own writes. */
void ctl_pcache_put_cert(struct ctl_pcache *c, const char *region, const struct elb_cert *cert);
void ctl_pcache_remove_cert(struct ctl_pcache *c, const char *region, const char *id);
void ctl_pcache_rename_cert(struct ctl_pcache *c, const char *region, const char *id,
                            const char *name);
void ctl_pcache_set_bindings(struct ctl_pcache *c, const char *region, const char *listener_id,
                             const char *default_id, const char *const *sni, size_t n_sni);
/* Forgets what the view says of one listener (it is read again at the next slice). */
void ctl_pcache_forget_listener(struct ctl_pcache *c, const char *region,
                                const char *listener_id);

/* Listener keys (desired.h, port form) of every listener of region that binds a certificate
 * of ours: the ones a resync must look at even when no Ingress maps to them any more.
 * NULL-terminated malloc'd array; free with ctl_pcache_regions_free. */
char **ctl_pcache_listeners_with_ours(struct ctl_pcache *c, const char *region);

/* Counts for metrics: managed (ours) certificates and all certificates of a region. */
void ctl_pcache_counts(struct ctl_pcache *c, const char *region, size_t *ours, size_t *all);

#endif
