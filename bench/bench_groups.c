/* bench/bench_groups.c — groups side by side with etcd 3.4 (spec 40 §12, spec 80 §12(c)): 3- and
 * 5-member clusters on 127.0.0.1, "memory" (libmosaik in-memory log vs etcd on tmpfs) and "durable"
 * (libmosaik LMDB SYNC_ALWAYS vs etcd on disk), 64-byte commands (etcd: 64 B values, 16 B keys),
 * closed loop with W ∈ {1, 64, 1024} requests in flight from one client, then an open loop at 50 % of
 * the closed-loop peak. Reports commands/s and latency p50/p99/p99.9.
 *
 * Output: one JSON line per row on stdout (then ratio lines libmosaik ÷ etcd), progress and the final
 * side-by-side table on stderr, so stdout stays JSON lines. The etcd side lives in bench/groups/etcd_*.c,
 * the libmosaik side in bench/groups/mosaik_rows.c, rows and table in
 * bench/groups/rows.c.
 *
 *   bench_groups [--smoke] [--warmup S] [--seconds S] [--nodes 3,5] [--storage memory|durable|both]
 *                [--windows 1,64,1024] [--system all|etcd|libmosaik] [--no-open] [--spread] [--run-id ID]
 *
 * Defaults: 10 s warm-up, 30 s measured, nodes 3,5, both storages, W 1,64,1024, open loop on.
 * --smoke: 0.5 s warm-up, 1 s measured, 3 members, W 1,64 (flags after it still override).
 * A missing etcd prints "etcd: not installed (./build.sh deps bench)", gives skipped rows, exits 0.
 * Environment: MK_ETCD (etcd binary), MK_BENCH_DISK_DIR (where "durable" data dirs go; default
 * $TMPDIR or /var/tmp), MK_BENCH_RUN_ID. */
#include "groups/rows.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(void) {
    fprintf(stderr, "usage: bench_groups [--smoke] [--warmup S] [--seconds S] [--nodes 3,5] "
                    "[--storage memory|durable|both] [--windows 1,64,1024] [--system all|etcd|libmosaik] "
                    "[--no-open] [--spread] [--run-id ID]\n");
}

/* "1,64,1024" → out[], returns the count (0 on a bad list). */
static size_t parse_list(const char *s, int *out, size_t cap) {
    size_t n = 0;
    while (*s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0 || v > 100000) return 0;
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return 0;
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--mosaik-node")) return mosaik_node_main(argc, argv);
    bench_opts_t o = {
        .warmup_s = 10, .measure_s = 30, .nodes = {3, 5}, .memory = true, .durable = true,
        .windows = {1, 64, 1024}, .n_windows = 3, .open_loop = true, .open_fraction = 0.5,
        .value_size = 64, .key_size = 16,
    };
    for (int i = 1; i < argc; i++)  /* --smoke first, so that explicit flags override it */
        if (!strcmp(argv[i], "--smoke")) {
            o.smoke = true;
            o.warmup_s = 0.5, o.measure_s = 1;
            o.nodes[0] = 3, o.nodes[1] = 0;
            o.windows[0] = 1, o.windows[1] = 64, o.n_windows = 2;
        }
    const char *sys = "all";
    char run_id[64];
    const char *env_id = getenv("MK_BENCH_RUN_ID");
    if (env_id && *env_id) snprintf(run_id, sizeof run_id, "%s", env_id);
    else {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(run_id, sizeof run_id, "%04d%02d%02dT%02d%02d%02dZ-%d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)getpid());
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--smoke")) continue;
        if (!strcmp(a, "--no-open")) o.open_loop = false;
        else if (!strcmp(a, "--spread")) o.spread = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 0;
        } else if (!v) {
            usage();
            return 2;
        } else if (!strcmp(a, "--warmup")) o.warmup_s = atof(v), i++;
        else if (!strcmp(a, "--seconds")) o.measure_s = atof(v), i++;
        else if (!strcmp(a, "--run-id")) snprintf(run_id, sizeof run_id, "%s", v), i++;
        else if (!strcmp(a, "--system")) sys = v, i++;
        else if (!strcmp(a, "--storage")) {
            o.memory = !strcmp(v, "memory") || !strcmp(v, "both");
            o.durable = !strcmp(v, "durable") || !strcmp(v, "both");
            i++;
        } else if (!strcmp(a, "--nodes")) {
            int n[2] = {0, 0};
            if (!parse_list(v, n, 2)) {
                usage();
                return 2;
            }
            o.nodes[0] = n[0], o.nodes[1] = n[1];
            i++;
        } else if (!strcmp(a, "--windows")) {
            o.n_windows = parse_list(v, o.windows, BENCH_MAX_W);
            i++;
        } else {
            usage();
            return 2;
        }
    }
    if (o.warmup_s < 0 || o.measure_s <= 0 || o.n_windows == 0 || (!o.memory && !o.durable) ||
        (strcmp(sys, "all") && strcmp(sys, "etcd") && strcmp(sys, "libmosaik"))) {
        usage();
        return 2;
    }
    o.run_id = run_id;
    setenv("MK_DHT", "off", 0);
    signal(SIGPIPE, SIG_IGN);

    bench_rows_t rows = {.opts = &o, .json = stdout};
    if (!strcmp(sys, "all") || !strcmp(sys, "libmosaik")) run_mosaik_rows(&o, &rows);
    if (!strcmp(sys, "all") || !strcmp(sys, "etcd")) run_etcd_rows(&o, &rows);
    bench_rows_finish(&rows, stderr);
    bench_rows_free(&rows);
    return 0;
}
