/* ucloud_alb.h -- internals of the UCloud backend for application load balancers (ALB), for
 * its tests and fuzz targets: the parser of DescribeLoadBalancers answers. (The parser of
 * DescribeListeners answers, elb_ucloud_parse_alb_listeners, is declared in backend.h.) */
#ifndef ELB_UCLOUD_ALB_H
#define ELB_UCLOUD_ALB_H

#include <stddef.h>

#include "common/err.h"
#include "elb/elb.h"

/* One page of DescribeLoadBalancers (Type=Application, ShowDetail=true): appends the HTTPS
 * listeners of every application load balancer to list (kind ELB_LISTENER_SNI, lb_id the
 * balancer's LoadBalancerId). *n_page receives the number of load balancers on the page,
 * *total TotalCount (-1 when absent). Network load balancers are skipped. */
enum cs_code elb_ucloud_parse_alb_lbs(const char *body, size_t len,
                                      struct elb_listener_list *list, size_t *n_page,
                                      long *total, struct cs_err *err);

#endif
