/* naming.h -- names and ownership records of managed certificates.
 *
 * A managed certificate is named
 *
 *     k8s_plb_default_<cluster>_<readable>_<hash>
 *
 * <cluster>  the controller's cluster ID: 1-12 characters of a-z, 0-9 and '-', neither first
 *            nor last a '-' (fits UCloud's 50-character names, which carry no description);
 * <readable> "<namespace>.<secret>" (or "imported.<id>"), characters the provider refuses
 *            replaced by '-', cut so that the whole name fits the provider's name_max; never
 *            contains '_';
 * <hash>     the first 12 hex digits of the content fingerprint (certcheck.h), so the same
 *            content gets the same name and creation is idempotent by name.
 *
 * Where the provider has a description field (Huawei, <= 255), it holds the ownership record
 *
 *     elb-certsync/v1;c=<cluster>;s=<ns>/<name>;f=<fingerprint>[;r=<listener-id>,<cert-id>]
 *
 * with "h=<16 hex of SHA-256 over ns/name>" instead of "s=" when the names are too long to
 * fit, and no s/h at all for certificates imported from the cloud's certificate service.
 * r= records the certificate this one replaced as a listener's default (restored when no
 * Ingress needs the listener any more). Fields are in this order, each exactly once: parsing
 * is exact, never a substring match.
 *
 * A certificate is ours only when its name parses with our prefix AND our cluster ID, and,
 * where the provider has descriptions, the record parses with the same cluster and a
 * fingerprint that begins with the name's hash. */
#ifndef CTL_NAMING_H
#define CTL_NAMING_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "elb/elb.h"

#define CTL_NAME_PREFIX "k8s_plb_default_"
#define CTL_CLUSTER_ID_MAX 12
#define CTL_NAME_HASH_LEN 12
#define CTL_READABLE_MIN 8
#define CTL_RECORD_VERSION "elb-certsync/v1"
#define CTL_SECRET_HASH_LEN 16
#define CTL_ID_MAX 128 /* longest provider ID the controller accepts */

/* CS_OK when id is a valid cluster ID; CS_EINVAL with a message saying why otherwise. */
enum cs_code ctl_cluster_id_check(const char *id, struct cs_err *err);

/* Whether s is a provider certificate/listener/load-balancer ID the controller accepts:
 * 1-128 characters of A-Z a-z 0-9 . _ : - */
bool ctl_provider_id_valid(const char *s);

/* The name of the managed certificate for Secret ns/secret with content fingerprint (64
 * lowercase hex). *out is malloc'd. CS_EINVAL when an argument is malformed or the provider's
 * name_max leaves fewer than CTL_READABLE_MIN characters for the readable part. */
enum cs_code ctl_name_managed(const char *cluster, const char *ns, const char *secret,
                              const char *fingerprint, const struct elb_limits *lim, char **out,
                              struct cs_err *err);
/* The name of the load balancer's copy of a certificate imported from the cloud's
 * certificate service; its hash covers the imported ID (ctl_imported_fingerprint). */
enum cs_code ctl_name_imported(const char *cluster, const char *imported_id,
                               const struct elb_limits *lim, char **out, struct cs_err *err);
/* The fingerprint recorded for an imported certificate: SHA-256 hex of "imported:" + id. */
void ctl_imported_fingerprint(const char *imported_id, char out[65]);

struct ctl_name_parts {
    char cluster[CTL_CLUSTER_ID_MAX + 1];
    char readable[256];
    char hash[CTL_NAME_HASH_LEN + 1];
};

/* Parses a name of the form above, exactly; false for anything else. */
bool ctl_name_parse(const char *name, struct ctl_name_parts *out);

struct ctl_record {
    char cluster[CTL_CLUSTER_ID_MAX + 1];
    char *secret_ns;   /* NULL when only secret_hash is recorded, or for imported ones */
    char *secret_name;
    char secret_hash[CTL_SECRET_HASH_LEN + 1]; /* "" for imported ones */
    char fingerprint[65];
    char *replaced_listener; /* NULL when this certificate replaced nothing */
    char *replaced_cert;
};

void ctl_record_cleanup(struct ctl_record *r);
/* The record for a managed certificate. secret_ns/secret_name NULL for imported ones. */
enum cs_code ctl_record_init(struct ctl_record *r, const char *cluster, const char *secret_ns,
                             const char *secret_name, const char *fingerprint,
                             struct cs_err *err);
/* Formats r in at most max characters (falling back to h= when s= does not fit); *out is
 * malloc'd. CS_ETOOBIG when even that does not fit. */
enum cs_code ctl_record_format(const struct ctl_record *r, size_t max, char **out,
                               struct cs_err *err);
/* Parses a description; CS_EINVAL (with the reason) for anything not exactly a record. */
enum cs_code ctl_record_parse(const char *s, struct ctl_record *out, struct cs_err *err);
/* Whether the record names Secret ns/name (exactly, or by its hash). */
bool ctl_record_is_secret(const struct ctl_record *r, const char *ns, const char *name);
/* The 16-hex hash of "ns/name" used by h=. */
void ctl_secret_hash(const char *ns, const char *name, char out[CTL_SECRET_HASH_LEN + 1]);

/* Whether c is ours (see top of file). When rec is not NULL and the provider has
 * descriptions, the parsed record is stored there (caller cleans up) on true. */
bool ctl_cert_is_ours(const struct elb_cert *c, const char *cluster, const struct elb_limits *lim,
                      struct ctl_record *rec);

/* Kubernetes name syntax: a namespace is a DNS label (1-63 of a-z 0-9 '-', alphanumeric at
 * both ends); a Secret name a DNS subdomain (1-253, labels of that form joined by '.'). */
bool ctl_dns_label_valid(const char *s);
bool ctl_dns_subdomain_valid(const char *s);

/* The readable part the name of Secret ns/secret gets (for matching a certificate to its
 * Secret where there is no description). out holds at least 256 bytes. */
enum cs_code ctl_name_readable(const char *cluster, const char *ns, const char *secret,
                               const struct elb_limits *lim, char out[256], struct cs_err *err);

#endif
