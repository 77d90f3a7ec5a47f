/* objects.h -- from Kubernetes JSON to the core's model: what the Ingress and Secret stores
 * keep of each object (their extract functions), and a Secret's key material for an upload.
 *
 * A Secret's tls.crt and tls.key are decoded into cleansed buffers, validated, and dropped:
 * the store keeps the verdict and the fingerprints only (controller/model.h). */
#ifndef CTL_OBJECTS_H
#define CTL_OBJECTS_H

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/err.h"
#include "controller/model.h"
#include "elb/elb.h"

/* The extract functions' context: borrowed, must outlive the stores. */
struct ctl_objects_ctx {
    const char *ingress_class;        /* keep Ingresses of this class, and those with none */
    const struct elb_limits *limits;  /* for Secret validation */
};

/* An Ingress (networking.k8s.io/v1) as the model needs it. CS_EPROTO when metadata.name or
 * metadata.namespace is missing. */
enum cs_code ctl_ingress_from_json(const cJSON *obj, struct ctl_ingress *out, struct cs_err *err);

/* tls.crt and tls.key of a Secret, base64-decoded into crt and key (initialise key with
 * cs_buf_init_secret). A missing field leaves its buffer empty; bad base64 is CS_EINVAL
 * naming the field. */
enum cs_code ctl_secret_material(const cJSON *secret, struct cs_buf *crt, struct cs_buf *key,
                                 struct cs_err *err);

/* k8s_store extract/free functions; ud is a struct ctl_objects_ctx. The Ingress store keeps
 * struct ctl_ingress, the Secret store struct ctl_secret (validated at now). */
void *ctl_ingress_extract(const cJSON *obj, void *ud);
void ctl_ingress_item_free(void *item, void *ud);
void *ctl_secret_extract(const cJSON *obj, void *ud);
void ctl_secret_item_free(void *item, void *ud);

#endif
