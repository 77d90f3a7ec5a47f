/* certcheck.h -- validation and fingerprints of a TLS Secret's tls.crt + tls.key (OpenSSL 3).
 *
 * Checks, in this order, and reports the first failure as a specific sentence: both present,
 * PEM sizes within the provider's limits, tls.crt decodes (leaf first, then the chain),
 * tls.key decodes and is not passphrase-encrypted, key type and size the provider accepts,
 * the key matches the leaf, chain length, chain order (each certificate issued by the next),
 * validity period against now (every certificate of the chain).
 *
 * The key bytes are the caller's (a secret buffer): they are read in place, never copied
 * into memory that is not cleansed, and never put into a message.
 *
 * fingerprint = SHA-256 over a canonical form: "elb-certsync-fp-v1", then the DER of every
 * certificate and the DER of the private key, each length-prefixed. A re-encoded but
 * identical Secret (PKCS#1 vs PKCS#8, other line breaks, comments between blocks) keeps its
 * fingerprint; a key-only change changes it (ingress-gce hashes the certificate only).
 * chain_digest = SHA-256 over "elb-certsync-chain-v1" and the DER of every certificate: what
 * a provider's read-back certificate (never the key) can be compared with. */
#ifndef CTL_CERTCHECK_H
#define CTL_CERTCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "controller/model.h"
#include "elb/elb.h"

struct ctl_certcheck {
    enum ctl_cert_status status;
    char reason[256];       /* "" when OK */
    char fingerprint[65];   /* "" when the chain or the key did not decode */
    char chain_digest[65];  /* "" when the chain did not decode */
    int64_t not_before_ms;  /* leaf; 0 when unknown */
    int64_t not_after_ms;
    char **domains;         /* leaf CN then DNS SANs, lowercase, de-duplicated */
    size_t n_domains;
    size_t chain_len;
    char key_type[16];      /* "RSA", "EC P-256", ... ("" when unknown) */
    int key_bits;
};

/* Runs every check. Returns CS_OK when the check ran (the verdict is in out->status, a bad
 * certificate is not an error of this function), CS_ENOMEM otherwise. now_ms: ms since the
 * epoch. limits may be NULL (no provider restriction). */
enum cs_code ctl_certcheck_run(const void *crt, size_t crt_len, const void *key, size_t key_len,
                               const struct elb_limits *limits, int64_t now_ms,
                               struct ctl_certcheck *out, struct cs_err *err);
void ctl_certcheck_cleanup(struct ctl_certcheck *c);

/* The chain digest of a PEM chain as a provider reads it back (certificates only; anything
 * else in the text is ignored). CS_EINVAL when no certificate decodes. */
enum cs_code ctl_chain_digest(const char *pem, size_t len, char out[65], struct cs_err *err);

/* Fills a store entry from a Secret's fields: runs certcheck and keeps only the verdict,
 * the digests, the validity and the domains. *out is filled only on success. */
enum cs_code ctl_secret_fill(const char *ns, const char *name, const char *type, const void *crt,
                             size_t crt_len, const void *key, size_t key_len,
                             const struct elb_limits *limits, int64_t now_ms,
                             struct ctl_secret *out, struct cs_err *err);

#endif
