/* param.h -- a request parameter (query or form field), not encoded. */
#ifndef ELB_PARAM_H
#define ELB_PARAM_H

/* A key may repeat. */
struct elb_query_param {
    const char *key;
    const char *value;
};

#endif
