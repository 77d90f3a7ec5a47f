/* test_ctl_support.h -- test material for the controller's unit tests: keys and certificate
 * chains generated at test time with OpenSSL (no private key is committed), and builders of
 * the model structs. */
#ifndef TEST_CTL_SUPPORT_H
#define TEST_CTL_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "controller/model.h"

#define TC_DAY_MS ((int64_t)86400 * 1000)
/* 2026-06-01T00:00:00Z: the tests' "now". */
#define TC_NOW_MS ((int64_t)1780272000 * 1000)

EVP_PKEY *tc_key_rsa(int bits);
EVP_PKEY *tc_key_ec(const char *group); /* "P-256", "secp256k1", ... */
EVP_PKEY *tc_key_ed25519(void);

/* A certificate for key, signed by issuer_key (self-signed when issuer is NULL), valid
 * [nb_ms, na_ms]. sans: NULL-terminated DNS names, may be NULL. */
X509 *tc_cert(const char *cn, const char *const *sans, EVP_PKEY *key, X509 *issuer,
              EVP_PKEY *issuer_key, int64_t nb_ms, int64_t na_ms, bool ca);

/* PEM of the certificates in order; malloc'd. */
char *tc_pem_certs(X509 *const *certs, size_t n);
/* PEM of a private key: "pkcs8", "traditional", or "encrypted" (AES, passphrase "x"). */
char *tc_pem_key(EVP_PKEY *key, const char *form);

/* Limits like Huawei's (names 255, descriptions 255, SNI 50, chain 11) and UCloud's (names
 * 50, no description, SNI 25). */
struct elb_limits tc_limits_huawei(void);
struct elb_limits tc_limits_ucloud(void);

/* Builders for the model: NULL-terminated lists of "key=value" annotations and "secret" or
 * "secret:host1,host2" TLS entries. */
void tc_ingress(struct ctl_ingress *ing, const char *ns, const char *name, int64_t created_ms,
                const char *class_name, const char *const *annotations,
                const char *const *tls);
/* A valid Secret store entry with a fingerprint derived from seed. */
void tc_secret(struct ctl_secret *s, const char *ns, const char *name, const char *seed,
               int64_t not_after_ms);

#endif
