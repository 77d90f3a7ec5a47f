/* metrics.h -- a small Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format (version 0.0.4). Thread-safe. */
#ifndef CTL_METRICS_H
#define CTL_METRICS_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

enum ctl_metric_type { CTL_COUNTER, CTL_GAUGE, CTL_HISTOGRAM };

struct ctl_metrics;
struct ctl_metric;

struct ctl_metrics *ctl_metrics_new(void);
void ctl_metrics_free(struct ctl_metrics *reg);

/* Registers a family. labels: comma-separated label names ("" or NULL for none). buckets:
 * histogram upper bounds, increasing (+Inf is implied). Returns NULL when out of memory or
 * when the name is already registered. The family lives as long as the registry. */
struct ctl_metric *ctl_metrics_add(struct ctl_metrics *reg, enum ctl_metric_type type,
                                   const char *name, const char *help, const char *labels,
                                   const double *buckets, size_t n_buckets);

/* values: one per label name, in order (NULL when the family has no labels). */
void ctl_metric_inc(struct ctl_metric *m, const char *const *values, double delta);
void ctl_metric_set(struct ctl_metric *m, const char *const *values, double v);
void ctl_metric_observe(struct ctl_metric *m, const char *const *values, double v);
/* Drops one series (e.g. the expiry of a certificate that is gone). */
void ctl_metric_remove(struct ctl_metric *m, const char *const *values);
/* The current value of a counter or gauge series (0 when absent); for tests and status. */
double ctl_metric_value(struct ctl_metric *m, const char *const *values);

/* Appends the whole registry in the text format, families in registration order, series
 * sorted by label values. */
enum cs_code ctl_metrics_render(struct ctl_metrics *reg, struct cs_buf *out);

#endif
