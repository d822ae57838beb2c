/* unit/core/test_metrics.c — the metrics registry (golden render, sorting, cap, removal, concurrency,
 * visitor, catalog checks, label value rules) and the strict Prometheus text checker itself. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/metrics.h"
#include "support/prom_check.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define CONST_LABELS KV("network", "7e886b3491", "peer", "d75a980182")

static char *render(mk_registry_t *r, size_t *len) {
    mk_buf_t b = MK_BUF_INIT;
    assert_int_equal(mk_registry_render(r, &b), MK_OK);
    assert_int_equal(mk_buf_append(&b, "", 1), MK_OK);
    *len = b.len - 1;
    return b.ptr;
}

static void assert_prom_valid(const char *text, size_t len) {
    char why[256];
    int rc = mkt_prom_check(text, len, why, sizeof why);
    if (rc != 0) fail_msg("prom_check: %s", why);
}

/* ---- rendering --------------------------------------------------------------------------------- */

static void render_one_series_per_type_matches_golden(void **state) {
    mk_registry_t *r = mk_registry_new(CONST_LABELS);
    assert_non_null(r);
    mk_counter_t *c = mk_metrics_counter(r, "mosaik_network_connections_opened",
                                         KV("dir", "in", "alpn", "/x\"y\\z\nw"));
    mk_gauge_t *g = mk_metrics_gauge(r, "mosaik_network_connections_active", KV("alpn", "/echo"));
    mk_hist_t *h = mk_metrics_hist(r, MK_METRIC_NAME(NETWORK_HANDSHAKE_SECONDS), KV("dir", "out"));
    assert_non_null(c);
    assert_non_null(g);
    assert_non_null(h);
    mk_counter_add(c, 2);
    mk_counter_add(c, 1);
    mk_gauge_set(g, 5);
    mk_gauge_add(g, -7);
    mk_hist_observe(h, 0.25);
    mk_hist_observe(h, 0.001953125);
    mk_hist_observe(h, 7);
    mk_hist_observe(h, 20);
    mk_hist_observe(h, NAN);

#define L "network=\"7e886b3491\",peer=\"d75a980182\""
#define B(le, n) "mosaik_network_handshake_seconds_bucket{" L ",dir=\"out\",le=\"" le "\"} " n "\n"
    static const char golden[] =
        "# HELP mosaik_network_connections_opened verified links (dir in/out)\n"
        "# TYPE mosaik_network_connections_opened counter\n"
        "mosaik_network_connections_opened{" L ",alpn=\"/x\\\"y\\\\z\\nw\",dir=\"in\"} 3\n"
        "# HELP mosaik_network_connections_active established links\n"
        "# TYPE mosaik_network_connections_active gauge\n"
        "mosaik_network_connections_active{" L ",alpn=\"/echo\"} -2\n"
        "# HELP mosaik_network_handshake_seconds TCP start to link verified\n"
        "# TYPE mosaik_network_handshake_seconds histogram\n"
        B("5e-05", "0") B("0.0001", "0") B("0.00025", "0") B("0.0005", "0") B("0.001", "0")
        B("0.0025", "1") B("0.005", "1") B("0.01", "1") B("0.025", "1") B("0.05", "1") B("0.1", "1")
        B("0.25", "2") B("0.5", "2") B("1", "2") B("2.5", "2") B("5", "2") B("10", "3") B("+Inf", "4")
        "mosaik_network_handshake_seconds_sum{" L ",dir=\"out\"} 27.251953125\n"
        "mosaik_network_handshake_seconds_count{" L ",dir=\"out\"} 4\n"
        "# HELP mosaik_metrics_series_dropped series not created because the registry was full\n"
        "# TYPE mosaik_metrics_series_dropped counter\n"
        "mosaik_metrics_series_dropped{" L "} 0\n";
#undef B
#undef L
    size_t len;
    char *text = render(r, &len);
    if (strcmp(text, golden) != 0) {
        size_t i = 0;
        while (text[i] == golden[i]) i++;
        fail_msg("render differs at byte %zu: got \"%.60s\" want \"%.60s\"", i, text + i, golden + i);
    }
    assert_prom_valid(text, len);
    free(text);
    mk_registry_free(r);
}

static void render_without_labels_omits_braces(void **state) {
    mk_registry_t *r = mk_registry_new(NULL);
    assert_non_null(r);
    mk_gauge_set(mk_metrics_gauge(r, "mosaik_network_handshakes_pending", NULL), 9);
    size_t len;
    char *text = render(r, &len);
    assert_non_null(strstr(text, "\nmosaik_network_handshakes_pending 9\n"));
    assert_non_null(strstr(text, "\nmosaik_metrics_series_dropped 0\n"));
    assert_prom_valid(text, len);
    free(text);
    mk_registry_free(r);
}

static void render_series_unordered_creation_sorted_by_label_values(void **state) {
    mk_registry_t *r = mk_registry_new(CONST_LABELS);
    const char *alpns[] = { "b", "a", "c", "aa" };
    for (size_t i = 0; i < 4; i++)
        mk_counter_add(mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", alpns[i])), i + 1);
    mk_counter_add(mk_metrics_counter(r, "mosaik_network_connections_closed",
                                      KV("alpn", "x", "code", "400", "by", "remote")), 1);
    mk_counter_add(mk_metrics_counter(r, "mosaik_network_connections_closed",
                                      KV("by", "local", "code", "200", "alpn", "x")), 1);
    mk_counter_add(mk_metrics_counter(r, "mosaik_network_connections_closed",
                                      KV("alpn", "a", "code", "400", "by", "local")), 1);
    size_t len;
    char *text = render(r, &len);
    const char *order[] = { /* families in catalog order: connections_closed before frames_sent */
        "alpn=\"a\",code=\"400\",by=\"local\"", "alpn=\"x\",code=\"200\",by=\"local\"",
        "alpn=\"x\",code=\"400\",by=\"remote\"",
        "alpn=\"a\"} 2", "alpn=\"aa\"} 4", "alpn=\"b\"} 1", "alpn=\"c\"} 3",
    };
    const char *prev = text;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const char *at = strstr(text, order[i]);
        assert_non_null(at);
        assert_true(at > prev);
        prev = at;
    }
    assert_prom_valid(text, len);
    free(text);
    mk_registry_free(r);
}

/* ---- handles, cap, removal --------------------------------------------------------------------- */

static void lookup_same_series_any_kv_order_returns_same_handle(void **state) {
    mk_registry_t *r = mk_registry_new(CONST_LABELS);
    mk_counter_t *a = mk_metrics_counter(r, "mosaik_network_connections_opened", KV("alpn", "/a", "dir", "in"));
    mk_counter_t *b = mk_metrics_counter(r, "mosaik_network_connections_opened", KV("dir", "in", "alpn", "/a"));
    mk_counter_t *other = mk_metrics_counter(r, "mosaik_network_connections_opened", KV("dir", "out", "alpn", "/a"));
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, other);
    assert_int_equal(mk_registry_series_count(r), 3);
    mk_registry_free(r);
}

static void lookup_catalog_violation_returns_null(void **state) {
#ifndef MK_TEST_HOOKS
    skip(); /* without the hook a violation asserts */
#else
    mk_metrics_test_set_lenient(true);
    mk_registry_t *r = mk_registry_new(CONST_LABELS);
    assert_null(mk_metrics_counter(r, "mosaik_not_a_metric", NULL));
    assert_null(mk_metrics_counter(r, NULL, NULL));
    assert_null(mk_metrics_gauge(r, "mosaik_network_frames_sent", KV("alpn", "a")));   /* is a counter */
    assert_null(mk_metrics_counter(r, "mosaik_network_frames_sent", NULL));             /* label missing */
    assert_null(mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", "a", "dir", "in")));
    assert_null(mk_metrics_counter(r, "mosaik_network_frames_sent", KV("peer", "a")));  /* wrong name */
    assert_null(mk_metrics_counter(r, "mosaik_network_connections_opened", KV("alpn", "a", "alpn", "b")));
    assert_null(mk_metrics_counter(NULL, "mosaik_network_frames_sent", KV("alpn", "a")));
    mk_metrics_remove(r, "mosaik_not_a_metric", NULL);
    assert_int_equal(mk_registry_series_count(r), 1);
    mk_metrics_test_set_lenient(false);
    mk_registry_free(r);
#endif
}

static void update_null_handles_are_ignored(void **state) {
    mk_counter_add(NULL, 1);
    mk_gauge_set(NULL, 1);
    mk_gauge_add(NULL, 1);
    mk_hist_observe(NULL, 1.0);
    assert_int_equal(mk_counter_value(NULL), 0);
    assert_int_equal(mk_gauge_value(NULL), 0);
    assert_int_equal(mk_hist_count(NULL), 0);
}

static void create_over_series_cap_drops_and_counts(void **state) {
    mk_registry_t *r = mk_registry_new(CONST_LABELS);
    size_t created = 0;
    mk_counter_t *first = NULL;
    char alpn[16];
    for (int i = 0; i < MK_METRICS_MAX_SERIES + 5; i++) {
        snprintf(alpn, sizeof alpn, "a%05d", i);
        mk_counter_t *c = mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", alpn));
        mk_counter_add(c, 1); /* NULL for dropped series: harmless */
        if (c) created++;
        if (i == 0) first = c;
    }
    assert_int_equal(created, MK_METRICS_MAX_SERIES - 1); /* the dropped counter holds one slot */
    assert_int_equal(mk_registry_series_count(r), MK_METRICS_MAX_SERIES);
    /* existing series are still found at the cap */
    assert_ptr_equal(mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", "a00000")), first);
    size_t len;
    char *text = render(r, &len);
    double dropped = 0;
    assert_true(mkt_prom_value(text, len, "mosaik_metrics_series_dropped", NULL, &dropped));
    assert_true(dropped == 6.0);
    assert_prom_valid(text, len);
    free(text);
    /* a removal frees a slot */
    mk_metrics_remove(r, "mosaik_network_frames_sent", KV("alpn", "a00001"));
    assert_non_null(mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", "new")));
    assert_null(mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", "newer")));
    mk_registry_free(r);
}

static void remove_series_disappears_and_recreates_at_zero(void **state) {
    mk_registry_t *r = mk_registry_new(CONST_LABELS);
    mk_counter_t *a = mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", "a"));
    mk_counter_add(a, 5);
    mk_counter_add(mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", "b")), 7);
    mk_metrics_remove(r, "mosaik_network_frames_sent", KV("alpn", "a"));
    mk_metrics_remove(r, "mosaik_network_frames_sent", KV("alpn", "never")); /* no-op */
    mk_metrics_remove(r, "mosaik_metrics_series_dropped", NULL);             /* refused */
    assert_int_equal(mk_registry_series_count(r), 2);
    size_t len;
    char *text = render(r, &len);
    assert_null(strstr(text, "alpn=\"a\""));
    assert_non_null(strstr(text, "alpn=\"b\"} 7"));
    assert_non_null(strstr(text, "mosaik_metrics_series_dropped{"));
    free(text);
    assert_int_equal(mk_counter_value(mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", "a"))), 0);
    mk_metrics_remove(r, "mosaik_network_frames_sent", KV("alpn", "a"));
    mk_metrics_remove(r, "mosaik_network_frames_sent", KV("alpn", "b"));
    text = render(r, &len);
    assert_null(strstr(text, "mosaik_network_frames_sent")); /* empty family: no HELP/TYPE either */
    free(text);
    mk_registry_free(r);
}

static void remove_label_deletes_every_series_of_that_value(void **state) {
    mk_registry_t *r = mk_registry_new(CONST_LABELS);
    mk_counter_add(mk_metrics_counter(r, "mosaik_groups_raft_elections", KV("group", "g1")), 1);
    mk_gauge_set(mk_metrics_gauge(r, "mosaik_groups_bonds_active", KV("group", "g1")), 2);
    mk_counter_add(mk_metrics_counter(r, "mosaik_groups_raft_elections", KV("group", "g2")), 3);
    mk_counter_add(mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", "g1")), 4);
    assert_int_equal(mk_metrics_remove_label(r, "group", "g1"), 2);
    assert_int_equal(mk_metrics_remove_label(r, "network", "7e886b3491"), 0); /* constant labels stay */
    assert_int_equal(mk_registry_series_count(r), 3);
    size_t len;
    char *text = render(r, &len);
    assert_null(strstr(text, "group=\"g1\""));
    assert_non_null(strstr(text, "group=\"g2\"} 3"));
    assert_non_null(strstr(text, "alpn=\"g1\"} 4"));
    free(text);
    mk_registry_free(r);
}

/* ---- label values and constant labels ---------------------------------------------------------- */

static void create_long_or_invalid_value_is_cut_on_utf8_boundary(void **state) {
    mk_registry_t *r = mk_registry_new(CONST_LABELS);
    char long_value[101], expect[128];
    memset(long_value, 'x', 100);
    long_value[100] = '\0';
    mk_counter_t *a = mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", long_value));
    long_value[70] = '\0'; /* same first 64 bytes: same series */
    assert_ptr_equal(mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", long_value)), a);
    char accented[80];
    memset(accented, 'a', 63);
    strcpy(accented + 63, "\xc3\xa9"); /* é would end at byte 65 */
    mk_counter_add(mk_metrics_counter(r, "mosaik_network_frames_received", KV("alpn", accented)), 1);
    mk_counter_add(mk_metrics_counter(r, "mosaik_network_send_full", KV("alpn", "ok\xff\xc3(\xe2\x82\xac")), 1);
    mk_counter_add(mk_metrics_counter(r, "mosaik_network_egress_bytes", KV("alpn", NULL)), 1);
    size_t len;
    char *text = render(r, &len);
    memset(long_value, 'x', 64);
    long_value[64] = '\0';
    snprintf(expect, sizeof expect, "alpn=\"%s\"} 0", long_value);
    assert_non_null(strstr(text, expect));
    snprintf(expect, sizeof expect, "alpn=\"%.63s\"} 1", accented);
    assert_non_null(strstr(text, expect));
    assert_non_null(strstr(text, "alpn=\"ok?\?(\xe2\x82\xac\"} 1")); /* \? avoids a trigraph */
    assert_non_null(strstr(text, "mosaik_network_egress_bytes{network=\"7e886b3491\",peer=\"d75a980182\",alpn=\"\"} 1"));
    assert_prom_valid(text, len);
    free(text);
    mk_registry_free(r);
}

static void registry_new_bad_constant_labels_returns_null(void **state) {
    assert_null(mk_registry_new(KV("a", "1", "b", "2", "c", "3", "d", "4", "e", "5")));
    assert_null(mk_registry_new(KV("1x", "v")));
    assert_null(mk_registry_new(KV("net", "v", "net", "w")));
    assert_null(mk_registry_new(KV("group", "v"))); /* would repeat a catalog label */
    assert_null(mk_registry_new(KV("le", "v")));
    mk_registry_t *r = mk_registry_new(KV("a", "1", "b", "2", "c", "3", "d", "4"));
    assert_non_null(r);
    mk_registry_free(r);
}

/* ---- concurrency ------------------------------------------------------------------------------- */

#define THREADS 4
#define ROUNDS 100000

typedef struct shared {
    mk_registry_t *r;
    mk_counter_t *handles[THREADS];
    _Atomic int stop;
    int bad_renders, renders;
} shared_t;

typedef struct worker { shared_t *sh; int index; } worker_t;

static void *update_worker(void *arg) {
    worker_t *w = arg;
    mk_counter_t *c = mk_metrics_counter(w->sh->r, "mosaik_network_frames_sent", KV("alpn", "/shared"));
    mk_gauge_t *g = mk_metrics_gauge(w->sh->r, "mosaik_network_connections_active", KV("alpn", "/shared"));
    mk_hist_t *h = mk_metrics_hist(w->sh->r, "mosaik_network_rtt_seconds", NULL);
    w->sh->handles[w->index] = c;
    for (int i = 0; i < ROUNDS; i++) {
        mk_counter_add(c, 1);
        mk_gauge_add(g, (i & 1) ? -1 : 2);
        mk_hist_observe(h, (i % 3) ? 0.0005 : 3.0);
    }
    return NULL;
}

static void *render_worker(void *arg) {
    shared_t *sh = arg;
    while (!sh->stop) {
        mk_buf_t b = MK_BUF_INIT;
        if (mk_registry_render(sh->r, &b) != MK_OK || mkt_prom_check(b.ptr, b.len, NULL, 0) != 0) sh->bad_renders++;
        sh->renders++;
        mk_buf_free(&b);
    }
    return NULL;
}

static void update_from_four_threads_sums_exactly(void **state) {
    shared_t sh = { .r = mk_registry_new(CONST_LABELS) };
    pthread_t th[THREADS], renderer;
    worker_t w[THREADS];
    assert_int_equal(pthread_create(&renderer, NULL, render_worker, &sh), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){ &sh, i };
        assert_int_equal(pthread_create(&th[i], NULL, update_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    sh.stop = 1;
    pthread_join(renderer, NULL);
    for (int i = 1; i < THREADS; i++) assert_ptr_equal(sh.handles[i], sh.handles[0]);
    assert_int_equal(mk_counter_value(sh.handles[0]), (uint64_t)THREADS * ROUNDS);
    assert_int_equal(mk_gauge_value(mk_metrics_gauge(sh.r, "mosaik_network_connections_active", KV("alpn", "/shared"))),
                     (int64_t)THREADS * ROUNDS / 2);
    mk_hist_t *h = mk_metrics_hist(sh.r, "mosaik_network_rtt_seconds", NULL);
    assert_int_equal(mk_hist_count(h), (uint64_t)THREADS * ROUNDS);
    assert_int_equal(sh.bad_renders, 0);
    assert_true(sh.renders > 0);
    size_t len;
    char *text = render(sh.r, &len);
    double v = 0, slow = 0, fast = 0;
    assert_true(mkt_prom_value(text, len, "mosaik_network_rtt_seconds_sum", NULL, &v));
    double expect_slow = (double)THREADS * (ROUNDS / 3 + 1), expect_fast = (double)THREADS * ROUNDS - expect_slow;
    assert_true(fabs(v - (expect_slow * 3.0 + expect_fast * 0.0005)) < 1e-6 * v);
    assert_true(mkt_prom_value(text, len, "mosaik_network_rtt_seconds_bucket", KV("le", "0.0005"), &fast));
    assert_true(mkt_prom_value(text, len, "mosaik_network_rtt_seconds_bucket", KV("le", "2.5"), &slow));
    assert_true(fast == expect_fast && slow == expect_fast);
    free(text);
    mk_registry_free(sh.r);
}

/* ---- visitor ----------------------------------------------------------------------------------- */

typedef struct visit {
    int counters, gauges, hists;
    bool labels_ok, hist_ok;
    char names[8][64];
} visit_t;

static void on_sample(void *ctx, const mk_metric_sample_t *s) {
    visit_t *v = ctx;
    int i = v->counters + v->gauges + v->hists;
    if (i < 8) snprintf(v->names[i], sizeof v->names[i], "%s", s->name);
    v->labels_ok = v->labels_ok && s->nlabels >= 2 && strcmp(s->label_names[0], "network") == 0 &&
                   strcmp(s->label_values[1], "d75a980182") == 0;
    if (s->type == MK_METRIC_COUNTER) v->counters++;
    if (s->type == MK_METRIC_GAUGE) v->gauges++;
    if (s->type != MK_METRIC_HISTOGRAM) return;
    v->hists++;
    v->hist_ok = s->nbuckets == MK_METRICS_NBOUNDS + 1 && isinf(s->bounds[s->nbuckets - 1]) &&
                 s->cumulative[s->nbuckets - 1] == s->count && s->count == 2 && s->cumulative[0] == 1 &&
                 fabs(s->sum - 1.00001) < 1e-12 && s->nlabels == 3 &&
                 strcmp(s->label_names[2], "dir") == 0 && strcmp(s->label_values[2], "in") == 0;
}

static void foreach_visits_every_series_in_render_order(void **state) {
    mk_registry_t *r = mk_registry_new(CONST_LABELS);
    mk_counter_add(mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", "b")), 1);
    mk_counter_add(mk_metrics_counter(r, "mosaik_network_frames_sent", KV("alpn", "a")), 1);
    mk_gauge_set(mk_metrics_gauge(r, "mosaik_discovery_catalog_size", NULL), 3);
    mk_hist_t *h = mk_metrics_hist(r, "mosaik_network_handshake_seconds", KV("dir", "in"));
    mk_hist_observe(h, 0.00001);
    mk_hist_observe(h, 1.0);
    visit_t v = { .labels_ok = true };
    mk_registry_foreach(r, on_sample, &v);
    assert_int_equal(v.counters, 3); /* two frames_sent + series_dropped */
    assert_int_equal(v.gauges, 1);
    assert_int_equal(v.hists, 1);
    assert_true(v.labels_ok);
    assert_true(v.hist_ok);
    assert_string_equal(v.names[0], "mosaik_discovery_catalog_size");
    assert_string_equal(v.names[4], "mosaik_metrics_series_dropped");
    mk_registry_free(r);
}

/* ---- catalog ----------------------------------------------------------------------------------- */

static bool valid_name(const char *s, bool colon) {
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return s[0] != '\0';
}

static void catalog_rows_are_unique_valid_and_documented(void **state) {
    mk_buf_t md = MK_BUF_INIT;
    assert_int_equal(mk_metrics_catalog_markdown(&md), MK_OK);
    assert_int_equal(mk_buf_append(&md, "", 1), MK_OK);
    size_t lines = 0;
    for (const char *p = md.ptr; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, MK_M__COUNT + 2);
    assert_non_null(strstr(md.ptr, "| `mosaik_network_connections_closed` | counter | `alpn`, `code`, `by` |"));
    assert_non_null(strstr(md.ptr, "| `mosaik_network_rtt_seconds` | histogram | — |"));
    for (size_t i = 0; i < MK_M__COUNT; i++) {
        const mk_metric_def_t *d = &mk_metric_catalog[i];
        assert_true(valid_name(d->name, true));
        assert_int_equal(strncmp(d->name, "mosaik_", 7), 0);
        assert_true(d->help[0] != '\0');
        assert_ptr_equal(mk_metric_def_find(d->name), d);
        char row[160];
        snprintf(row, sizeof row, "| `%s` |", d->name);
        assert_non_null(strstr(md.ptr, row));
        if (d->type == MK_METRIC_HISTOGRAM) assert_non_null(strstr(d->name, "_seconds"));
        for (size_t j = 0; j < mk_metric_def_nlabels(d); j++) {
            assert_true(valid_name(d->labels[j], false));
            assert_true(strcmp(d->labels[j], "network") && strcmp(d->labels[j], "peer") && strcmp(d->labels[j], "le"));
        }
        for (size_t k = i + 1; k < MK_M__COUNT; k++) assert_string_not_equal(d->name, mk_metric_catalog[k].name);
    }
    assert_null(mk_metric_def_find("mosaik_nope"));
    mk_buf_free(&md);
}

/* ---- the checker itself ------------------------------------------------------------------------ */

static void check_valid_expositions_pass(void **state) {
    static const char text[] =
        "# A free comment\n"
        "# HELP http_requests Total requests with \\\\ and \\n.\n"
        "# TYPE http_requests counter\n"
        "http_requests{method=\"post\",code=\"200\",} 1027 1395066363000\n"
        "http_requests{method=\"post\",code=\"400\"}    3 1395066363000\n"
        "\n"
        "metric_without_timestamp_and_labels 12.47\n"
        "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
        "# TYPE rpc_duration_seconds summary\n"
        "rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
        "rpc_duration_seconds_sum 1.7560473e+07\n"
        "rpc_duration_seconds_count 2693\n"
        "# TYPE h histogram\n"
        "h_bucket{le=\"0.05\"} 24054\n"
        "h_bucket{le=\"1\"} 33444\n"
        "h_bucket{le=\"+Inf\"} 144320\n"
        "h_sum 53423\n"
        "h_count 144320\n"
        "h_bucket{x=\"\\\"\\n\",le=\"+Inf\"} 0\n"
        "h_count{x=\"\\\"\\n\"} 0\n"
        "h_sum{x=\"\\\"\\n\"} NaN\n";
    assert_prom_valid(text, sizeof text - 1);
    assert_int_equal(mkt_prom_check("", 0, NULL, 0), 0);
    double v = 0;
    assert_true(mkt_prom_value(text, sizeof text - 1, "h_count", KV("x", "\"\n"), &v));
    assert_true(v == 0.0);
    assert_true(mkt_prom_value(text, sizeof text - 1, "http_requests", KV("code", "400"), &v));
    assert_true(v == 3.0);
    assert_false(mkt_prom_value(text, sizeof text - 1, "http_requests", KV("code", "500"), &v));
}

static void check_malformed_expositions_fail_with_cause(void **state) {
    static const struct { const char *text, *cause; } bad[] = {
        { "a 1", "newline" },
        { "a{x=\"\\t\"} 1\n", "escape" },
        { "a{x=\"\"\"} 1\n", "expected" },
        { "a{x=\"\xff\"} 1\n", "UTF-8" },
        { "a{__x=\"1\"} 1\n", "reserved" },
        { "a{x=\"1\",x=\"2\"} 1\n", "repeated label" },
        { "a{x=1} 1\n", "expected =\"" },
        { "1a 1\n", "metric name" },
        { "a 1x\n", "value" },
        { "a 0x10\n", "value" },
        { "a inf\n", "value" },
        { "a 1 1.5\n", "timestamp" },
        { "a  1 \n", "blank" },
        { " a 1\n", "blank" },
        { "a 1\na 2\n", "repeated" },
        { "a 1\nb 1\na{x=\"1\"} 1\n", "contiguous" },
        { "a 1\n# TYPE a counter\n", "after its samples" },
        { "# TYPE a counter\n# TYPE a counter\n", "second TYPE" },
        { "# TYPE a countr\n", "unknown TYPE" },
        { "# HELP a bad \\q escape\n", "escape" },
        { "# TYPE a counter\na -1\n", "counter" },
        { "# TYPE h histogram\nh 1\n", "without _bucket" },
        { "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", "!= _count" },
        { "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", "cumulative" },
        { "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n", "increasing" },
        { "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", "+Inf" },
        { "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n", "_count" },
        { "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", "_sum" },
        { "# TYPE h histogram\nh_bucket 1\n", "le" },
        { "# TYPE h histogram\nh_count{le=\"1\"} 1\n", "le" },
        { "a 1\0\n", "NUL" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char why[200];
        size_t n = strlen(bad[i].text) + (strcmp(bad[i].cause, "NUL") == 0 ? 2 : 0);
        int rc = mkt_prom_check(bad[i].text, n, why, sizeof why);
        if (rc != -1 || !strstr(why, bad[i].cause))
            fail_msg("case %zu (%s): rc %d why \"%s\", wanted \"%s\"", i, bad[i].text, rc, why, bad[i].cause);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(render_one_series_per_type_matches_golden),
        cmocka_unit_test(render_without_labels_omits_braces),
        cmocka_unit_test(render_series_unordered_creation_sorted_by_label_values),
        cmocka_unit_test(lookup_same_series_any_kv_order_returns_same_handle),
        cmocka_unit_test(lookup_catalog_violation_returns_null),
        cmocka_unit_test(update_null_handles_are_ignored),
        cmocka_unit_test(create_over_series_cap_drops_and_counts),
        cmocka_unit_test(remove_series_disappears_and_recreates_at_zero),
        cmocka_unit_test(remove_label_deletes_every_series_of_that_value),
        cmocka_unit_test(create_long_or_invalid_value_is_cut_on_utf8_boundary),
        cmocka_unit_test(registry_new_bad_constant_labels_returns_null),
        cmocka_unit_test(update_from_four_threads_sums_exactly),
        cmocka_unit_test(foreach_visits_every_series_in_render_order),
        cmocka_unit_test(catalog_rows_are_unique_valid_and_documented),
        cmocka_unit_test(check_valid_expositions_pass),
        cmocka_unit_test(check_malformed_expositions_fail_with_cause),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
