/* core/metrics.c — the metrics registry: the catalog table, series storage (sorted per family, behind
 * one mutex), lock-free updates, the Prometheus text rendering, the series visitor and the catalog
 * markdown table. Contracts in core/metrics.h. */
#include "core/metrics.h"
#include "core/log.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- catalog ----------------------------------------------------------------------------------- */

#define MK_UNPAREN_(...) __VA_ARGS__
#define MK_METRIC_DEF_(id, name_, type_, help_, labels_)                                             \
    [MK_M_##id] = { .name = name_, .type = MK_METRIC_##type_, .help = help_,                          \
                    .labels = { MK_UNPAREN_ labels_ } },
const mk_metric_def_t mk_metric_catalog[MK_M__COUNT] = { MK_METRICS_CATALOG(MK_METRIC_DEF_) };
#undef MK_METRIC_DEF_

const double mk_metrics_seconds_bounds[MK_METRICS_NBOUNDS + 1] = {
    50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3,
    1, 2.5, 5, 10, INFINITY,
};

const mk_metric_def_t *mk_metric_def_find(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < MK_M__COUNT; i++)
        if (strcmp(mk_metric_catalog[i].name, name) == 0) return &mk_metric_catalog[i];
    return NULL;
}

size_t mk_metric_def_nlabels(const mk_metric_def_t *d) {
    size_t n = 0;
    while (n < MK_METRICS_MAX_LABELS && d->labels[n]) n++;
    return n;
}

/* ---- storage ----------------------------------------------------------------------------------- */

struct mk_counter { _Atomic uint64_t value; };
struct mk_gauge { _Atomic int64_t value; };
struct mk_hist {
    _Atomic uint64_t buckets[MK_METRICS_NBOUNDS + 1]; /* per bucket, not cumulative; last = +Inf */
    _Atomic uint64_t sum_bits;                         /* a double's bits */
};

typedef char label_value_t[MK_METRICS_MAX_VALUE + 1];

/* A series' label values in catalog label order. */
typedef struct series_key {
    label_value_t values[MK_METRICS_MAX_LABELS];
} series_key_t;

typedef struct series {
    const mk_metric_def_t *def;
    size_t nlabels;
    series_key_t key;
    union {
        struct mk_counter counter;
        struct mk_gauge gauge;
        struct mk_hist hist;
    } u;
} series_t;

typedef struct family {
    series_t **items; /* sorted by values */
    size_t len, cap;
} family_t;

struct mk_registry {
    pthread_mutex_t lock;
    size_t nconst;
    label_value_t const_names[MK_METRICS_MAX_CONST_LABELS];
    label_value_t const_values[MK_METRICS_MAX_CONST_LABELS];
    size_t nseries;
    series_t *dropped; /* mosaik_metrics_series_dropped, never removed */
    bool cap_warned;   /* the cap warning is logged once per registry */
    family_t families[MK_M__COUNT];
};

#ifdef MK_TEST_HOOKS
static atomic_bool g_lenient;
void mk_metrics_test_set_lenient(bool on) { atomic_store(&g_lenient, on); }
#endif

/* A call that breaks the catalog: a bug in libmosaik, never remote input. */
static void *catalog_violation(const char *name, const char *what) {
    MK_LOGF(MK_MOD_METRICS, MK_LOG_ERROR, NULL, "metrics: %.80s: %s", name ? name : "(null)", what);
    bool strict = true;
#ifdef MK_TEST_HOOKS
    strict = !atomic_load(&g_lenient);
#endif
    assert(!strict && "metrics catalog violation");
    (void)strict;
    return NULL;
}

/* Length of the well-formed UTF-8 sequence at p (1…4), 0 if p does not start one. */
static size_t utf8_seq_len(const unsigned char *p) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

/* Copies v (NULL = "") cut to MK_METRICS_MAX_VALUE bytes on a character boundary, invalid bytes → '?'. */
static void copy_value(label_value_t out, const char *v) {
    const unsigned char *p = (const unsigned char *)(v ? v : "");
    size_t o = 0;
    while (*p) {
        size_t n = utf8_seq_len(p);
        const unsigned char *src = n ? p : (const unsigned char *)"?";
        size_t take = n ? n : 1;
        if (o + take > MK_METRICS_MAX_VALUE) break;
        memcpy(out + o, src, take);
        o += take;
        p += take;
    }
    out[o] = '\0';
}

static bool valid_label_name(const char *s) {
    if (!s || !*s || strlen(s) > MK_METRICS_MAX_VALUE) return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && (i == 0 || c < '0' || c > '9')) return false;
    }
    return true;
}

/* Fills values (catalog order) from kv; false unless kv names exactly the row's labels once each. */
static bool key_from_kv(const mk_metric_def_t *d, const char *const *kv, series_key_t *key) {
    size_t nl = mk_metric_def_nlabels(d), npairs = 0;
    while (kv && kv[2 * npairs]) {
        if (++npairs > MK_METRICS_MAX_LABELS) return false;
    }
    if (npairs != nl) return false;
    for (size_t j = 0; j < nl; j++) {
        size_t found = 0;
        for (size_t i = 0; i < npairs; i++) {
            if (strcmp(kv[2 * i], d->labels[j]) != 0) continue;
            found++;
            copy_value(key->values[j], kv[2 * i + 1]);
        }
        if (found != 1) return false;
    }
    return true;
}

static int cmp_key(const series_t *s, const series_key_t *key) {
    for (size_t j = 0; j < s->nlabels; j++) {
        int c = strcmp(s->key.values[j], key->values[j]);
        if (c) return c;
    }
    return 0;
}

/* Binary search; returns the series or NULL with *pos = its insertion point. */
static series_t *family_find(const family_t *f, const series_key_t *key, size_t *pos) {
    size_t lo = 0, hi = f->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key(f->items[mid], key);
        if (c == 0) {
            *pos = mid;
            return f->items[mid];
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *pos = lo;
    return NULL;
}

/* Creates a series at pos (lock held). NULL on ENOMEM or when the cap is reached (counted). */
static series_t *family_insert(mk_registry_t *r, family_t *f, size_t pos, const mk_metric_def_t *d,
                               const series_key_t *key) {
    if (r->nseries >= MK_METRICS_MAX_SERIES) {
        if (r->dropped) atomic_fetch_add_explicit(&r->dropped->u.counter.value, 1, memory_order_relaxed);
        if (!r->cap_warned)
            MK_LOGF(MK_MOD_METRICS, MK_LOG_WARN, NULL, "metrics: %d series reached, dropping %s and later ones",
                    MK_METRICS_MAX_SERIES, d->name);
        r->cap_warned = true;
        return NULL;
    }
    if (f->len == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        series_t **items = realloc(f->items, cap * sizeof *items);
        if (!items) return NULL;
        f->items = items;
        f->cap = cap;
    }
    series_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->def = d;
    s->nlabels = mk_metric_def_nlabels(d);
    if (key) s->key = *key;
    memmove(&f->items[pos + 1], &f->items[pos], (f->len - pos) * sizeof *f->items);
    f->items[pos] = s;
    f->len++;
    r->nseries++;
    return s;
}

static family_t *family_of(mk_registry_t *r, const mk_metric_def_t *d) {
    return &r->families[d - mk_metric_catalog];
}

static series_t *lookup_or_create(mk_registry_t *r, const char *name, mk_metric_type_t type,
                                  const char *const *kv) {
    if (!r) return NULL;
    const mk_metric_def_t *d = mk_metric_def_find(name);
    if (!d) return catalog_violation(name, "not in the metrics catalog");
    if (d->type != type) return catalog_violation(name, "used with another type than its catalog row");
    series_key_t key;
    if (!key_from_kv(d, kv, &key)) return catalog_violation(name, "label names differ from the catalog");
    pthread_mutex_lock(&r->lock);
    family_t *f = family_of(r, d);
    size_t pos;
    series_t *s = family_find(f, &key, &pos);
    if (!s) s = family_insert(r, f, pos, d, &key);
    pthread_mutex_unlock(&r->lock);
    return s;
}

/* ---- lifecycle --------------------------------------------------------------------------------- */

static bool is_catalog_label(const char *name) {
    if (strcmp(name, "le") == 0) return true;
    for (size_t i = 0; i < MK_M__COUNT; i++)
        for (size_t j = 0; j < MK_METRICS_MAX_LABELS && mk_metric_catalog[i].labels[j]; j++)
            if (strcmp(mk_metric_catalog[i].labels[j], name) == 0) return true;
    return false;
}

mk_registry_t *mk_registry_new(const char *const *const_kv) {
    mk_registry_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    for (size_t i = 0; const_kv && const_kv[2 * i]; i++) {
        const char *k = const_kv[2 * i];
        bool dup = false;
        for (size_t j = 0; j < r->nconst; j++) dup = dup || strcmp(r->const_names[j], k) == 0;
        if (i >= MK_METRICS_MAX_CONST_LABELS || !valid_label_name(k) || dup || is_catalog_label(k)) {
            MK_LOGF(MK_MOD_METRICS, MK_LOG_ERROR, NULL, "metrics: bad constant label %.80s", k);
            free(r);
            return NULL;
        }
        memcpy(r->const_names[i], k, strlen(k) + 1);
        copy_value(r->const_values[i], const_kv[2 * i + 1]);
        r->nconst++;
    }
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return NULL;
    }
    const mk_metric_def_t *d = &mk_metric_catalog[MK_M_METRICS_SERIES_DROPPED];
    r->dropped = family_insert(r, family_of(r, d), 0, d, NULL);
    if (!r->dropped) {
        mk_registry_free(r);
        return NULL;
    }
    return r;
}

void mk_registry_free(mk_registry_t *r) {
    if (!r) return;
    for (size_t i = 0; i < MK_M__COUNT; i++) {
        for (size_t j = 0; j < r->families[i].len; j++) free(r->families[i].items[j]);
        free(r->families[i].items);
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* ---- handles and updates ----------------------------------------------------------------------- */

mk_counter_t *mk_metrics_counter(mk_registry_t *r, const char *name, const char *const *kv) {
    series_t *s = lookup_or_create(r, name, MK_METRIC_COUNTER, kv);
    return s ? &s->u.counter : NULL;
}

mk_gauge_t *mk_metrics_gauge(mk_registry_t *r, const char *name, const char *const *kv) {
    series_t *s = lookup_or_create(r, name, MK_METRIC_GAUGE, kv);
    return s ? &s->u.gauge : NULL;
}

mk_hist_t *mk_metrics_hist(mk_registry_t *r, const char *name, const char *const *kv) {
    series_t *s = lookup_or_create(r, name, MK_METRIC_HISTOGRAM, kv);
    return s ? &s->u.hist : NULL;
}

void mk_counter_add(mk_counter_t *c, uint64_t n) {
    if (c) atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

void mk_gauge_set(mk_gauge_t *g, int64_t v) {
    if (g) atomic_store_explicit(&g->value, v, memory_order_relaxed);
}

void mk_gauge_add(mk_gauge_t *g, int64_t d) {
    if (g) atomic_fetch_add_explicit(&g->value, d, memory_order_relaxed);
}

void mk_hist_observe(mk_hist_t *h, double seconds) {
    if (!h || isnan(seconds)) return;
    size_t i = 0;
    while (i < MK_METRICS_NBOUNDS && seconds > mk_metrics_seconds_bounds[i]) i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&h->sum_bits, memory_order_relaxed), next;
    do {
        double sum;
        memcpy(&sum, &old, sizeof sum);
        sum += seconds;
        memcpy(&next, &sum, sizeof next);
    } while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old, next, memory_order_relaxed,
                                                    memory_order_relaxed));
}

uint64_t mk_counter_value(const mk_counter_t *c) {
    return c ? atomic_load_explicit(&((mk_counter_t *)c)->value, memory_order_relaxed) : 0;
}

int64_t mk_gauge_value(const mk_gauge_t *g) {
    return g ? atomic_load_explicit(&((mk_gauge_t *)g)->value, memory_order_relaxed) : 0;
}

uint64_t mk_hist_count(const mk_hist_t *h) {
    uint64_t n = 0;
    for (size_t i = 0; h && i <= MK_METRICS_NBOUNDS; i++)
        n += atomic_load_explicit(&((mk_hist_t *)h)->buckets[i], memory_order_relaxed);
    return n;
}

/* ---- removal ----------------------------------------------------------------------------------- */

static void family_delete_at(mk_registry_t *r, family_t *f, size_t pos) {
    free(f->items[pos]);
    memmove(&f->items[pos], &f->items[pos + 1], (f->len - pos - 1) * sizeof *f->items);
    f->len--;
    r->nseries--;
}

void mk_metrics_remove(mk_registry_t *r, const char *name, const char *const *kv) {
    if (!r) return;
    const mk_metric_def_t *d = mk_metric_def_find(name);
    if (!d) {
        catalog_violation(name, "not in the metrics catalog");
        return;
    }
    series_key_t key;
    if (!key_from_kv(d, kv, &key)) {
        catalog_violation(name, "label names differ from the catalog");
        return;
    }
    pthread_mutex_lock(&r->lock);
    family_t *f = family_of(r, d);
    size_t pos;
    series_t *s = family_find(f, &key, &pos);
    if (s && s != r->dropped) family_delete_at(r, f, pos);
    pthread_mutex_unlock(&r->lock);
}

size_t mk_metrics_remove_label(mk_registry_t *r, const char *label, const char *value) {
    if (!r || !label) return 0;
    label_value_t v;
    copy_value(v, value);
    size_t removed = 0;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < MK_M__COUNT; i++) {
        const mk_metric_def_t *d = &mk_metric_catalog[i];
        for (size_t j = 0; j < MK_METRICS_MAX_LABELS && d->labels[j]; j++) {
            if (strcmp(d->labels[j], label) != 0) continue;
            family_t *f = &r->families[i];
            for (size_t k = f->len; k-- > 0;) {
                if (strcmp(f->items[k]->key.values[j], v) != 0) continue;
                family_delete_at(r, f, k);
                removed++;
            }
        }
    }
    pthread_mutex_unlock(&r->lock);
    return removed;
}

size_t mk_registry_series_count(mk_registry_t *r) {
    if (!r) return 0;
    pthread_mutex_lock(&r->lock);
    size_t n = r->nseries;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* ---- reading ----------------------------------------------------------------------------------- */

/* A consistent-enough copy of a histogram: count is the sum of the buckets read, so the +Inf
 * bucket always equals _count even while other threads observe. */
typedef struct hist_snapshot {
    uint64_t cumulative[MK_METRICS_NBOUNDS + 1];
    double sum;
    uint64_t count;
} hist_snapshot_t;

static void hist_snapshot(const struct mk_hist *h, hist_snapshot_t *out) {
    uint64_t total = 0;
    for (size_t i = 0; i <= MK_METRICS_NBOUNDS; i++) {
        total += atomic_load_explicit(&((struct mk_hist *)h)->buckets[i], memory_order_relaxed);
        out->cumulative[i] = total;
    }
    uint64_t bits = atomic_load_explicit(&((struct mk_hist *)h)->sum_bits, memory_order_relaxed);
    memcpy(&out->sum, &bits, sizeof out->sum);
    out->count = total;
}

void mk_registry_foreach(mk_registry_t *r, void (*fn)(void *ctx, const mk_metric_sample_t *s), void *ctx) {
    if (!r || !fn) return;
    const char *names[MK_METRICS_MAX_CONST_LABELS + MK_METRICS_MAX_LABELS];
    const char *values[MK_METRICS_MAX_CONST_LABELS + MK_METRICS_MAX_LABELS];
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < MK_M__COUNT; i++) {
        const family_t *f = &r->families[i];
        for (size_t k = 0; k < f->len; k++) {
            const series_t *s = f->items[k];
            mk_metric_sample_t sample = { .name = s->def->name, .type = s->def->type };
            for (size_t j = 0; j < r->nconst; j++) {
                names[j] = r->const_names[j];
                values[j] = r->const_values[j];
            }
            for (size_t j = 0; j < s->nlabels; j++) {
                names[r->nconst + j] = s->def->labels[j];
                values[r->nconst + j] = s->key.values[j];
            }
            sample.nlabels = r->nconst + s->nlabels;
            sample.label_names = names;
            sample.label_values = values;
            hist_snapshot_t hs;
            if (s->def->type == MK_METRIC_COUNTER) {
                sample.counter = mk_counter_value(&s->u.counter);
            } else if (s->def->type == MK_METRIC_GAUGE) {
                sample.gauge = mk_gauge_value(&s->u.gauge);
            } else {
                hist_snapshot(&s->u.hist, &hs);
                sample.nbuckets = MK_METRICS_NBOUNDS + 1;
                sample.bounds = mk_metrics_seconds_bounds;
                sample.cumulative = hs.cumulative;
                sample.sum = hs.sum;
                sample.count = hs.count;
            }
            fn(ctx, &sample);
        }
    }
    pthread_mutex_unlock(&r->lock);
}

/* ---- Prometheus text --------------------------------------------------------------------------- */

typedef struct writer {
    mk_buf_t *b;
    int rc;
} writer_t;

static void put(writer_t *w, const char *s, size_t n) {
    if (w->rc == MK_OK) w->rc = mk_buf_append(w->b, s, n);
}

static void put_str(writer_t *w, const char *s) { put(w, s, strlen(s)); }

/* Writes s with `\` → `\\`, newline → `\n` and, when quoted, `"` → `\"`. */
static void put_escaped(writer_t *w, const char *s, bool quoted) {
    size_t start = 0, i = 0;
    for (; s[i]; i++) {
        const char *rep = NULL;
        if (s[i] == '\\') rep = "\\\\";
        else if (s[i] == '\n') rep = "\\n";
        else if (quoted && s[i] == '"') rep = "\\\"";
        if (!rep) continue;
        put(w, s + start, i - start);
        put_str(w, rep);
        start = i + 1;
    }
    put(w, s + start, i - start);
}

/* Shortest text that reads back as v, spelled as Go's strconv.FormatFloat(v, 'g', -1, 64) (what
 * Prometheus clients print: "5e-05", "0.0001", "10", "1e+06"), '.' whatever the locale; "+Inf",
 * "-Inf", "NaN" for the non-finite values. */
static void format_double(char out[40], double v) {
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char tmp[40];
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(tmp, sizeof tmp, "%.*e", digits - 1, v);
        if (strtod(tmp, NULL) == v) break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", digits - 1, v);
    int exp = atoi(strchr(tmp, 'e') + 1);
    if (exp >= -4 && exp < 6) snprintf(tmp, sizeof tmp, "%.*f", digits - 1 - exp > 0 ? digits - 1 - exp : 0, v);
    size_t o = 0;
    bool in_point = false;
    for (size_t i = 0; tmp[i]; i++) { /* the locale's decimal point, whatever its bytes, becomes '.' */
        char c = tmp[i];
        bool plain = (c >= '0' && c <= '9') || c == 'e' || c == '+' || c == '-';
        if (plain) out[o++] = c;
        else if (!in_point) out[o++] = '.';
        in_point = !plain;
    }
    out[o] = '\0';
}

static void put_labels(writer_t *w, const mk_registry_t *r, const series_t *s, const char *le) {
    if (r->nconst + s->nlabels == 0 && !le) return;
    const char *sep = "{";
    for (size_t j = 0; j < r->nconst + s->nlabels; j++) {
        bool c = j < r->nconst;
        put_str(w, sep);
        put_str(w, c ? r->const_names[j] : s->def->labels[j - r->nconst]);
        put_str(w, "=\"");
        put_escaped(w, c ? r->const_values[j] : s->key.values[j - r->nconst], true);
        put_str(w, "\"");
        sep = ",";
    }
    if (le) {
        put_str(w, sep);
        put_str(w, "le=\"");
        put_str(w, le);
        put_str(w, "\"");
    }
    put_str(w, "}");
}

static void put_sample(writer_t *w, const mk_registry_t *r, const series_t *s, const char *suffix,
                       const char *le, const char *value) {
    put_str(w, s->def->name);
    put_str(w, suffix);
    put_labels(w, r, s, le);
    put_str(w, " ");
    put_str(w, value);
    put_str(w, "\n");
}

static void put_series(writer_t *w, const mk_registry_t *r, const series_t *s) {
    char num[40];
    if (s->def->type == MK_METRIC_COUNTER) {
        snprintf(num, sizeof num, "%" PRIu64, mk_counter_value(&s->u.counter));
        put_sample(w, r, s, "", NULL, num);
        return;
    }
    if (s->def->type == MK_METRIC_GAUGE) {
        snprintf(num, sizeof num, "%" PRId64, mk_gauge_value(&s->u.gauge));
        put_sample(w, r, s, "", NULL, num);
        return;
    }
    hist_snapshot_t hs;
    hist_snapshot(&s->u.hist, &hs);
    char le[40];
    for (size_t i = 0; i <= MK_METRICS_NBOUNDS; i++) {
        format_double(le, mk_metrics_seconds_bounds[i]);
        snprintf(num, sizeof num, "%" PRIu64, hs.cumulative[i]);
        put_sample(w, r, s, "_bucket", le, num);
    }
    format_double(num, hs.sum);
    put_sample(w, r, s, "_sum", NULL, num);
    snprintf(num, sizeof num, "%" PRIu64, hs.count);
    put_sample(w, r, s, "_count", NULL, num);
}

static const char *type_name(mk_metric_type_t t) {
    return t == MK_METRIC_COUNTER ? "counter" : t == MK_METRIC_GAUGE ? "gauge" : "histogram";
}

int mk_registry_render(mk_registry_t *r, mk_buf_t *out) {
    if (!r || !out) return MK_EINVAL;
    writer_t w = { out, MK_OK };
    size_t start = out->len;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < MK_M__COUNT && w.rc == MK_OK; i++) {
        const family_t *f = &r->families[i];
        if (f->len == 0) continue;
        const mk_metric_def_t *d = &mk_metric_catalog[i];
        put_str(&w, "# HELP ");
        put_str(&w, d->name);
        put_str(&w, " ");
        put_escaped(&w, d->help, false);
        put_str(&w, "\n# TYPE ");
        put_str(&w, d->name);
        put_str(&w, " ");
        put_str(&w, type_name(d->type));
        put_str(&w, "\n");
        for (size_t k = 0; k < f->len; k++) put_series(&w, r, f->items[k]);
    }
    pthread_mutex_unlock(&r->lock);
    if (w.rc != MK_OK) out->len = start;
    return w.rc;
}

/* ---- docs -------------------------------------------------------------------------------------- */

int mk_metrics_catalog_markdown(mk_buf_t *out) {
    if (!out) return MK_EINVAL;
    writer_t w = { out, MK_OK };
    size_t start = out->len;
    put_str(&w, "| metric | type | labels | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < MK_M__COUNT; i++) {
        const mk_metric_def_t *d = &mk_metric_catalog[i];
        put_str(&w, "| `");
        put_str(&w, d->name);
        put_str(&w, "` | ");
        put_str(&w, type_name(d->type));
        put_str(&w, " | ");
        size_t nl = mk_metric_def_nlabels(d);
        if (nl == 0) put_str(&w, "—");
        for (size_t j = 0; j < nl; j++) {
            put_str(&w, j ? ", `" : "`");
            put_str(&w, d->labels[j]);
            put_str(&w, "`");
        }
        put_str(&w, " | ");
        for (const char *p = d->help; *p; p++) put_str(&w, *p == '|' ? "\\|" : (char[2]){ *p, 0 });
        put_str(&w, " |\n");
    }
    if (w.rc != MK_OK) out->len = start;
    return w.rc;
}
