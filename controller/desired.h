/* desired.h -- the desired state: from the Ingresses of the controller's class and the
 * Secrets store, what each load-balancer listener should serve, plus the problems to report.
 *
 * Per listener (region, load balancer, listener ID or port): the default certificate is the
 * first TLS entry of the first-created Ingress on it (ties broken by namespace/name); SNI is
 * every other entry of every Ingress on it, de-duplicated, within 1 + the provider's max_sni
 * (what is left out is reported). An Ingress's entries are its annotation-selected
 * certificates when it has any (kubernetes.io/elb.tls-certificate-ids, then imported ones),
 * else its spec.tls Secrets. Each entry is one of:
 *   MANAGED  a valid Secret: its fingerprint gives the expected certificate name (per region);
 *   KEEP     an invalid Secret: the listener keeps what it has for it, never unbinds it;
 *   SELECTED an existing load-balancer certificate, by ID: bound, never modified or deleted;
 *   IMPORTED a certificate of the cloud's certificate service, by its ID there.
 * A missing Secret, one of the wrong type or a cross-namespace reference contributes nothing
 * (and is reported). Output is sorted and deterministic. */
#ifndef CTL_DESIRED_H
#define CTL_DESIRED_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "controller/model.h"
#include "controller/problems.h"

enum ctl_want_kind {
    CTL_WANT_MANAGED = 0,
    CTL_WANT_KEEP,
    CTL_WANT_SELECTED,
    CTL_WANT_IMPORTED,
};

struct ctl_cert_want {
    enum ctl_want_kind kind;
    char *secret_ns;    /* MANAGED, KEEP */
    char *secret_name;
    char *fingerprint;  /* MANAGED (content); IMPORTED (ctl_imported_fingerprint) */
    char *chain_digest; /* MANAGED: compared with what the provider reads back */
    char *name;         /* MANAGED, IMPORTED: the certificate's expected name */
    char *readable;     /* MANAGED, KEEP: the readable part of the Secret's names */
    char *cert_id;      /* SELECTED */
    char *imported_id;  /* IMPORTED */
};

struct ctl_listener_want {
    char *key;         /* "region/lb/listener:ID" or "region/lb/port:N" */
    char *region;
    char *lb_id;
    char *listener_id; /* NULL: the HTTPS listener on port */
    int port;
    struct ctl_cert_want *certs; /* [0] is the default, the rest SNI */
    size_t n_certs;
    char **ingresses;  /* "ns/name", first-created first */
    size_t n_ingresses;
};

struct ctl_desired {
    struct ctl_listener_want *listeners; /* sorted by key */
    size_t n;
    struct ctl_problems problems;        /* sorted */
    /* Some Ingress of the class could not be mapped to a listener (bad annotations): plans
     * then neither restore nor delete anything, so that a typo loses nothing. */
    bool incomplete;
};

/* Looks a Secret up in the store; NULL when there is none. */
typedef const struct ctl_secret *(*ctl_secret_lookup_fn)(void *ud, const char *ns,
                                                          const char *name);

/* Computes the desired state from all Ingresses (those of other classes are ignored). */
enum cs_code ctl_desired_compute(const struct ctl_settings *s, const struct ctl_ingress *ings,
                                 size_t n_ings, ctl_secret_lookup_fn lookup, void *lookup_ud,
                                 struct ctl_desired **out, struct cs_err *err);
void ctl_desired_free(struct ctl_desired *d);

const struct ctl_listener_want *ctl_desired_find(const struct ctl_desired *d, const char *key);

/* The listener key for these coordinates into a malloc'd string (NULL when out of memory). */
char *ctl_listener_key(const char *region, const char *lb_id, const char *listener_id, int port);

/* A short human name of an entry for messages: "Secret shop/web", "certificate 6a4b...". */
void ctl_cert_want_describe(const struct ctl_cert_want *w, char *buf, size_t len);

#endif
