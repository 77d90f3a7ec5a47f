/* ucloud_sign.h -- UCloud API parameter signature (design.md §5).
 *
 * Sort all parameters (PublicKey included, Signature excluded) by name, concatenate name and
 * value unescaped, append the private key, SHA-1, lowercase hex. Arrays must already be
 * flattened to Name.0, Name.1, ... Used by the ULB client to sign and by fake-elb to verify. */
#ifndef ELB_UCLOUD_SIGN_H
#define ELB_UCLOUD_SIGN_H

#include <stddef.h>

#include "common/err.h"
#include "elb/param.h"

/* params must not contain "Signature" (it is skipped if present). out: 40 hex chars + NUL. */
enum cs_code elb_ucloud_signature(const struct elb_query_param *params, size_t n,
                                  const char *private_key, char out[41], struct cs_err *err);

#endif
