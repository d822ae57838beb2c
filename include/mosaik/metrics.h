/* mosaik/metrics.h — reading a network's metrics: the Prometheus text rendering and a per-series
 * visitor for feeding another monitoring system. The catalog of metrics is in docs (generated from
 * src/core/metrics_catalog.h); the HTTP endpoint is enabled by mk_network_config_t.metrics_addr. */
#ifndef MOSAIK_METRICS_H
#define MOSAIK_METRICS_H

#include "mosaik/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mk_network mk_network_t;

typedef enum { MK_METRIC_COUNTER, MK_METRIC_GAUGE, MK_METRIC_HISTOGRAM } mk_metric_type_t;

/* One series as seen by mk_metrics_foreach. Every pointer is valid during the callback only.
 * Labels: the constant ones (`network`, `peer`) first, then the metric's own in catalog order.
 * Histograms: `nbuckets` upper bounds in seconds, ascending, the last one +Inf; `cumulative[i]` counts
 * observations <= bounds[i], so cumulative[nbuckets - 1] == count. Unused fields are zero/NULL. */
typedef struct mk_metric_sample {
    const char *name;                   /* rendered name, e.g. "mosaik_network_connections_opened" */
    mk_metric_type_t type;
    size_t nlabels;
    const char *const *label_names;
    const char *const *label_values;
    uint64_t counter;                   /* MK_METRIC_COUNTER */
    int64_t gauge;                      /* MK_METRIC_GAUGE */
    size_t nbuckets;                    /* MK_METRIC_HISTOGRAM, from here on */
    const double *bounds;
    const uint64_t *cumulative;
    double sum;
    uint64_t count;
} mk_metric_sample_t;

/* Appends the Prometheus text exposition (format 0.0.4) of every series of n to out — the same text
 * the HTTP endpoint serves. Any thread. MK_EINVAL for NULL arguments, MK_ENOMEM (out keeps what it
 * had before the call), MK_ETERMINATED once the network is stopping. */
int mk_metrics_render(mk_network_t *n, mk_buf_t *out, mk_error_t *e);

/* Calls fn once per series, families in catalog order, series sorted by label values. Any thread;
 * fn runs on the calling thread while the registry is locked, so it must be quick and must not call
 * back into libmosaik. MK_EINVAL for NULL arguments, MK_ETERMINATED once the network is stopping. */
int mk_metrics_foreach(mk_network_t *n, void (*fn)(void *ctx, const mk_metric_sample_t *s), void *ctx,
                       mk_error_t *e);

#ifdef __cplusplus
}
#endif
#endif
