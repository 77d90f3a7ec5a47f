/* model.h -- the plain structs the controller's pure core works on.
 *
 * The runtime fills them from the Kubernetes stores (Ingresses, TLS Secrets) and from its
 * flags; desired.c and plan.c read them and never do I/O. A Secret is kept as its validation
 * verdict and content fingerprint, never its key or chain: memory matters at 10,000 Secrets,
 * and the runtime fetches the Secret again when it must upload it.
 *
 * Strings are malloc'd and owned by the struct; *_cleanup frees them (NULL-safe). */
#ifndef CTL_MODEL_H
#define CTL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elb/elb.h"

/* The Secret types the controller reads: Kubernetes' own and CCE's IngressTLS. */
#define CTL_SECRET_TYPE_TLS "kubernetes.io/tls"
#define CTL_SECRET_TYPE_CCE "IngressTLS"

enum ctl_provider_kind {
    CTL_PROVIDER_HUAWEI = 0,
    CTL_PROVIDER_UCLOUD,
};

struct ctl_kv {
    char *key;
    char *value;
};

/* One spec.tls[] entry. */
struct ctl_tls_entry {
    char *secret_name; /* as written: a "ns/name" form is refused, never read */
    char **hosts;
    size_t n_hosts;
};

/* An Ingress as the controller needs it. */
struct ctl_ingress {
    char *ns;
    char *name;
    char *uid;
    int64_t created_ms;  /* metadata.creationTimestamp */
    char *class_name;    /* spec.ingressClassName; NULL when unset (the legacy annotation
                            kubernetes.io/ingress.class is read from annotations) */
    struct ctl_kv *annotations;
    size_t n_annotations;
    struct ctl_tls_entry *tls;
    size_t n_tls;
};

/* The verdict of certcheck.c on a Secret's tls.crt + tls.key. */
enum ctl_cert_status {
    CTL_CERT_OK = 0,
    CTL_CERT_EMPTY,           /* tls.crt or tls.key missing or empty */
    CTL_CERT_TOO_LARGE,       /* PEM longer than the provider accepts */
    CTL_CERT_BAD_PEM,         /* does not decode */
    CTL_CERT_KEY_ENCRYPTED,   /* passphrase-protected key */
    CTL_CERT_KEY_UNSUPPORTED, /* key type or size the provider refuses */
    CTL_CERT_KEY_MISMATCH,    /* tls.key is not the leaf's key */
    CTL_CERT_CHAIN_TOO_LONG,
    CTL_CERT_CHAIN_ORDER,     /* certificate i+1 did not issue certificate i */
    CTL_CERT_NOT_YET_VALID,
    CTL_CERT_EXPIRED,
};

/* A TLS Secret as the store keeps it. */
struct ctl_secret {
    char *ns;
    char *name;
    char *type;
    char fingerprint[65];  /* SHA-256 hex over chain and key (certcheck.h); "" if unknown */
    char chain_digest[65]; /* SHA-256 hex over the chain only, for drift checks; "" if unknown */
    enum ctl_cert_status status;
    char *reason;          /* NULL when OK; never key material */
    int64_t not_before_ms; /* leaf validity; 0 when unknown */
    int64_t not_after_ms;
    char **domains;        /* leaf CN and DNS SANs, lowercase, de-duplicated */
    size_t n_domains;
};

/* What the pure functions need of the controller's configuration. */
struct ctl_settings {
    const char *cluster_id;     /* naming.h: ctl_cluster_id_valid() */
    const char *ingress_class;  /* e.g. "cce"; Ingresses of other classes are ignored */
    const char *default_region;
    int default_port;           /* listener port when kubernetes.io/elb.port is unset */
    enum ctl_provider_kind provider;
    struct elb_limits limits;
    int64_t now_ms;             /* wall clock, ms since the epoch */
    int expiry_warn_days;       /* warn when a certificate expires within this many days */
};

void ctl_ingress_cleanup(struct ctl_ingress *ing);
void ctl_secret_cleanup(struct ctl_secret *s);

/* The value of annotation key, or NULL. */
const char *ctl_ingress_annotation(const struct ctl_ingress *ing, const char *key);

/* Whether a Secret type is one the controller reads. */
bool ctl_secret_type_ok(const char *type);

#endif
