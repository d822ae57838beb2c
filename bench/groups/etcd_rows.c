/* bench/groups/etcd_rows.c — the etcd side of bench_groups: for each member count and storage, a fresh
 * etcd 3.4 cluster per row (so every row starts from an empty database), closed-loop puts at each W to
 * the leader, then the open loop at a fraction (50 %) of the best closed-loop rate of that cluster
 * shape, and optionally a `spread` row (round-robin over all members, like a client without leader
 * discovery). "memory" = data dirs on tmpfs (/dev/shm) plus --unsafe-no-fsync when the binary has it
 * (3.4.23 does not); "durable" = data dirs on disk ($MK_BENCH_DISK_DIR, $TMPDIR or /var/tmp).
 *
 * Target: the leader, found with POST /v3/maintenance/status (the member whose member_id equals the
 * reported leader), not simply member 0 — a put sent to a follower costs an extra forward. */
#include "etcd_cluster.h"
#include "etcd_load.h"
#include "rows.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WAL_FSYNCS "etcd_disk_wal_fsync_duration_seconds_count"

typedef struct window {
    const etcd_cluster_t *c;
    double cpu0, cpu_s;             /* CPU of all members in the measured window */
} window_t;

static void on_window(void *ctx, bool start) {
    window_t *w = ctx;
    double now = etcd_cluster_cpu_s(w->c);
    if (start) w->cpu0 = now;
    else w->cpu_s = now - w->cpu0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct plan_row {
    int nodes, W;
    bool memory, spread;
    double rate;                    /* > 0: open loop */
} plan_row_t;

static void run_one(const bench_opts_t *o, const char *impl, bool can_nofsync, const plan_row_t *pr,
                    bench_rows_t *rows) {
    bench_row_t r = bench_row_init("etcd", impl, pr->nodes, pr->memory ? "memory" : "durable", pr->W,
                                   pr->rate > 0 ? "open" : "closed");
    if (pr->spread) snprintf(r.target, sizeof r.target, "spread");
    r.offered_per_s = pr->rate;
    static int seq;
    char token[96];
    snprintf(token, sizeof token, "mk-%s-%d", o->run_id ? o->run_id : "bench", ++seq);
    if (pr->rate > 0)
        fprintf(stderr, "etcd: %d members, %s, open loop at %.0f puts/s ...\n", pr->nodes, r.storage, pr->rate);
    else
        fprintf(stderr, "etcd: %d members, %s, closed loop W=%d%s ...\n", pr->nodes, r.storage, pr->W,
                pr->spread ? " spread over all members" : "");

    etcd_cluster_t c;
    char err[600];
    if (etcd_cluster_start(&c, pr->nodes, pr->memory, pr->memory && can_nofsync, token, 30.0, err, sizeof err) != 0) {
        snprintf(r.status, sizeof r.status, "failed");
        snprintf(r.reason, sizeof r.reason, "cluster start: %.180s", err);
        fprintf(stderr, "etcd: %s\n", r.reason);
        bench_rows_add(rows, &r);
        return;
    }
    snprintf(r.note, sizeof r.note, "data on %s%s; leader e%d", c.on_tmpfs ? "tmpfs" : "disk",
             c.unsafe_no_fsync ? " with --unsafe-no-fsync" : "", c.leader + 1);
    if (!pr->memory && c.on_tmpfs)
        snprintf(r.note, sizeof r.note, "WARNING: the durable data dir is on tmpfs (set MK_BENCH_DISK_DIR)");

    window_t w = {.c = &c};
    load_params_t lp = {
        .ports = pr->spread ? c.client_port : &c.client_port[c.leader],
        .n_ports = pr->spread ? c.n : 1,
        .conns = pr->W,
        .rate = pr->rate,
        .warmup_s = o->warmup_s,
        .measure_s = o->measure_s,
        .drain_s = 5.0,
        .key_size = o->key_size,
        .value_size = o->value_size,
        .seed = UINT64_C(0x6d6f7361696b) ^ (uint64_t)(unsigned)pr->W,
        .on_window = on_window,
        .ctx = &w,
    };
    int leader = c.leader;
    double f0 = etcd_metric(&c, leader, WAL_FSYNCS), t0 = now_s();
    load_result_t lr;
    int rc = etcd_load_run(&lp, &lr);
    double f1 = etcd_metric(&c, leader, WAL_FSYNCS), t1 = now_s();
    if (etcd_cluster_find_leader(&c, 2.0) == 0 && c.leader != leader) {
        size_t len = strlen(r.note);
        snprintf(r.note + len, sizeof r.note - len, "; leader changed to e%d during the row", c.leader + 1);
    }
    etcd_cluster_stop(&c);

    if (rc != 0) {
        snprintf(r.status, sizeof r.status, "failed");
        snprintf(r.reason, sizeof r.reason, "client: %.180s", lr.error);
    } else if (lr.completed == 0 || lr.secs <= 0) {
        snprintf(r.status, sizeof r.status, "failed");
        snprintf(r.reason, sizeof r.reason, "no successful put in the measured window (%ld errors)", lr.errors);
    } else {
        r.completed = lr.completed;
        r.errors = lr.errors + lr.dropped;
        r.cmds_per_s = (double)lr.completed / lr.secs;
        r.p50_us = lr.p50_us, r.p99_us = lr.p99_us, r.p999_us = lr.p999_us, r.max_us = lr.max_us;
        r.cpu_us = (lr.client_cpu_s + w.cpu_s) * 1e6 / (double)lr.completed;
        if (f0 >= 0 && f1 >= f0) r.fsyncs_s = (f1 - f0) / (t1 - t0);  /* leader, over the whole row */
        size_t len = strlen(r.note);
        len += (size_t)snprintf(r.note + len, sizeof r.note - len, "; client %.0f us CPU/put",
                                lr.client_cpu_s * 1e6 / (double)lr.completed);
        if (len >= sizeof r.note) len = sizeof r.note - 1;
        if (lr.errors || lr.dropped || lr.reconnects)
            snprintf(r.note + len, sizeof r.note - len, "; %ld errors, %ld dropped, %ld reconnects", lr.errors,
                     lr.dropped, lr.reconnects);
    }
    if (strcmp(r.status, "ok") != 0) fprintf(stderr, "etcd: %s\n", r.reason);
    else
        fprintf(stderr, "      %.0f puts/s, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms\n", r.cmds_per_s, r.p50_us / 1e3,
                r.p99_us / 1e3, r.p999_us / 1e3);
    bench_rows_add(rows, &r);
}

static void skipped(const char *impl, const plan_row_t *pr, const char *reason, bench_rows_t *rows) {
    bench_row_t r = bench_row_init("etcd", impl, pr->nodes, pr->memory ? "memory" : "durable", pr->W,
                                   pr->rate != 0 ? "open" : "closed");
    if (pr->spread) snprintf(r.target, sizeof r.target, "spread");
    snprintf(r.status, sizeof r.status, "skipped");
    snprintf(r.reason, sizeof r.reason, "%s", reason);
    bench_rows_add(rows, &r);
}

int run_etcd_rows(const bench_opts_t *o, bench_rows_t *rows) {
    char version[32], impl[40];
    bool can_nofsync = false;
    bool have = etcd_probe(version, sizeof version, &can_nofsync);
    snprintf(impl, sizeof impl, "etcd-%.20s-gateway", have ? version : "3.4");
    if (!have) fprintf(stderr, "etcd: not installed (./build.sh deps bench)\n");
    else fprintf(stderr, "etcd: %s, --unsafe-no-fsync %s\n", version, can_nofsync ? "available" : "not available (tmpfs only)");
    int w_max = 1;
    for (size_t i = 0; i < o->n_windows; i++)
        if (o->windows[i] > w_max) w_max = o->windows[i];
    for (int ni = 0; ni < 2; ni++) {
        int nodes = o->nodes[ni];
        if (nodes <= 0) continue;
        for (int si = 0; si < 2; si++) {
            bool memory = si == 0;
            if ((memory && !o->memory) || (!memory && !o->durable)) continue;
            for (size_t wi = 0; wi < o->n_windows; wi++) {
                plan_row_t pr = {nodes, o->windows[wi], memory, false, 0};
                if (have) run_one(o, impl, can_nofsync, &pr, rows);
                else skipped(impl, &pr, "etcd: not installed (./build.sh deps bench)", rows);
            }
            if (o->open_loop) {
                double peak = bench_rows_peak(rows, "etcd", nodes, memory ? "memory" : "durable");
                plan_row_t pr = {nodes, w_max, memory, false, peak * o->open_fraction};
                if (!have) {
                    pr.rate = -1;
                    skipped(impl, &pr, "etcd: not installed (./build.sh deps bench)", rows);
                } else if (peak <= 0) {
                    pr.rate = -1;
                    skipped(impl, &pr, "no closed-loop peak to derive the open-loop rate from", rows);
                } else {
                    run_one(o, impl, can_nofsync, &pr, rows);
                }
            }
            if (o->spread) {
                plan_row_t pr = {nodes, w_max, memory, true, 0};
                if (have) run_one(o, impl, can_nofsync, &pr, rows);
                else skipped(impl, &pr, "etcd: not installed (./build.sh deps bench)", rows);
            }
        }
    }
    return 0;
}
