/* core/metrics.h — the metrics registry (one per network): series handles taken once and updated
 * lock-free, the Prometheus text rendering, the per-series visitor and the catalog docs table.
 *
 * Rules (10-core-and-network §6):
 * - Every name must be in core/metrics_catalog.h with that type, and kv must carry exactly the
 *   catalog's label names (any order). A violation is a programming error: it asserts in debug builds
 *   (NDEBUG unset), logs an error and returns NULL otherwise.
 * - Label values longer than MK_METRICS_MAX_VALUE bytes are truncated to at most that many bytes on a
 *   UTF-8 character boundary; bytes that are not valid UTF-8 become '?'. Two values equal after this
 *   share a series. NULL values count as "".
 * - At most MK_METRICS_MAX_SERIES series per registry (the registry's own dropped counter included);
 *   creating more returns NULL and adds 1 to mosaik_metrics_series_dropped.
 * - Every update function accepts NULL and then does nothing, so a dropped series costs nothing.
 * - Lookups, removal, rendering and visiting take the registry mutex; updates are relaxed atomics.
 *   A handle stays valid until its series is removed or the registry is freed; the owner of a
 *   resource removes its series when the resource goes away and must not update them afterwards. */
#ifndef MK_CORE_METRICS_H
#define MK_CORE_METRICS_H

#include "mosaik/metrics.h"
#include "core/metrics_catalog.h"

#include <stdbool.h>

#define MK_METRICS_MAX_SERIES 10000
#define MK_METRICS_MAX_LABELS 4        /* a metric's own labels */
#define MK_METRICS_MAX_CONST_LABELS 4  /* constant labels given to mk_registry_new */
#define MK_METRICS_MAX_VALUE 64        /* bytes of a label value, without NUL */
#define MK_METRICS_NBOUNDS 17          /* finite histogram bounds; +Inf comes on top */

typedef struct mk_registry mk_registry_t;
typedef struct mk_counter mk_counter_t;
typedef struct mk_gauge mk_gauge_t;
typedef struct mk_hist mk_hist_t;

/* One catalog row. `labels` is NULL-padded: see mk_metric_def_nlabels. */
typedef struct mk_metric_def {
    const char *name;
    mk_metric_type_t type;
    const char *help;
    const char *labels[MK_METRICS_MAX_LABELS];
} mk_metric_def_t;

#define MK_METRIC_ID_(id, name, type, help, labels) MK_M_##id,
typedef enum { MK_METRICS_CATALOG(MK_METRIC_ID_) MK_M__COUNT } mk_metric_id_t;
#undef MK_METRIC_ID_

extern const mk_metric_def_t mk_metric_catalog[MK_M__COUNT];
/* Compile-time checked name of a catalog row: MK_METRIC_NAME(NETWORK_RTT_SECONDS). */
#define MK_METRIC_NAME(id) (mk_metric_catalog[MK_M_##id].name)

/* Upper bounds in seconds of every histogram: 50 µs … 10 s, then +Inf. */
extern const double mk_metrics_seconds_bounds[MK_METRICS_NBOUNDS + 1];

/* The catalog row called `name`, or NULL. Pure. */
const mk_metric_def_t *mk_metric_def_find(const char *name);
/* How many label names the row has (0…MK_METRICS_MAX_LABELS). Pure. */
size_t mk_metric_def_nlabels(const mk_metric_def_t *d);

/* New empty registry whose series all carry the constant labels const_kv ("k", "v", …, NULL; NULL =
 * none; ≤ MK_METRICS_MAX_CONST_LABELS pairs, names valid label names, copied, values cut as above).
 * Creates mosaik_metrics_series_dropped at once. NULL on allocation failure or bad const_kv. */
mk_registry_t *mk_registry_new(const char *const *const_kv);
/* Frees the registry and every series; all handles become invalid. NULL is a no-op. No concurrent use. */
void mk_registry_free(mk_registry_t *r);

/* Find-or-create the series name{kv} (kv = "k", "v", …, NULL; NULL = no labels) and return its handle,
 * stable until removal. NULL when r is NULL, on a catalog violation, the series cap or ENOMEM. Any thread. */
mk_counter_t *mk_metrics_counter(mk_registry_t *r, const char *name, const char *const *kv);
mk_gauge_t *mk_metrics_gauge(mk_registry_t *r, const char *name, const char *const *kv);
mk_hist_t *mk_metrics_hist(mk_registry_t *r, const char *name, const char *const *kv);

/* Lock-free updates from any thread; NULL handles are ignored. */
void mk_counter_add(mk_counter_t *c, uint64_t n);
void mk_gauge_set(mk_gauge_t *g, int64_t v);
void mk_gauge_add(mk_gauge_t *g, int64_t d);
/* Records one observation in seconds; NaN is ignored, values above 10 s land in +Inf only. */
void mk_hist_observe(mk_hist_t *h, double seconds);

/* Current values (0 for NULL handles). Any thread. */
uint64_t mk_counter_value(const mk_counter_t *c);
int64_t mk_gauge_value(const mk_gauge_t *g);
uint64_t mk_hist_count(const mk_hist_t *h);

/* Deletes the series name{kv} if present (its handle becomes invalid). No-op for unknown series; the
 * registry's own mosaik_metrics_series_dropped is never removed. Any thread. */
void mk_metrics_remove(mk_registry_t *r, const char *name, const char *const *kv);
/* Deletes every series of any metric that carries label `label` with value `value` (e.g. all
 * series of one group when it is freed). Returns how many were deleted. Any thread. */
size_t mk_metrics_remove_label(mk_registry_t *r, const char *label, const char *value);
/* Number of live series, the dropped counter included. Any thread. */
size_t mk_registry_series_count(mk_registry_t *r);

/* Appends the Prometheus text exposition 0.0.4 of every series to out: families in catalog order
 * (empty ones omitted) with # HELP and # TYPE, series sorted by label values. MK_OK, MK_EINVAL for
 * NULL arguments or MK_ENOMEM (out then keeps its previous content). Any thread. */
int mk_registry_render(mk_registry_t *r, mk_buf_t *out);
/* Calls fn for every series in render order while holding the registry lock: fn must not call
 * registry functions. Any thread. */
void mk_registry_foreach(mk_registry_t *r, void (*fn)(void *ctx, const mk_metric_sample_t *s), void *ctx);

/* Appends the catalog as a markdown table (| metric | type | labels | meaning |) for the docs.
 * MK_OK or MK_ENOMEM. Pure. */
int mk_metrics_catalog_markdown(mk_buf_t *out);

#ifdef MK_TEST_HOOKS
/* Test hook: when on, catalog violations only log and return NULL instead of asserting. */
void mk_metrics_test_set_lenient(bool on);
#endif

#endif
