/* bench/groups/rows.h — the result rows of bench_groups and the options every system's runner gets.
 * Owns: bench_opts_t (the plan: member counts, storages, windows, durations), bench_row_t (one
 * measured row, whatever the system), the row list that prints each row as a JSON line when it is
 * added, and the closing side-by-side table with the libmosaik ÷ etcd ratio columns.
 *
 * The runners, one per system: run_etcd_rows (bench/groups/etcd_rows.c) and run_mosaik_rows
 * (bench/groups/mosaik_rows.c); the table pairs their rows by (nodes, storage, mode, W) — W only for
 * closed rows. */
#ifndef MK_BENCH_GROUPS_ROWS_H
#define MK_BENCH_GROUPS_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define BENCH_MAX_W 8       /* entries of bench_opts_t.windows */

typedef struct bench_opts {
    bool smoke;
    double warmup_s, measure_s;         /* per row: warm-up (discarded), then the measured window */
    int nodes[2];                       /* member counts to run, 0 = unused slot (3 and 5; smoke: 3) */
    bool memory, durable;               /* which storages to run */
    int windows[BENCH_MAX_W];           /* closed-loop W values (outstanding requests) */
    size_t n_windows;
    bool open_loop;                     /* after the closed rows of a (nodes, storage): 50 % of the peak */
    double open_fraction;               /* 0.5 */
    bool spread;                        /* etcd only: an extra row sending round-robin to all members */
    const char *run_id;
    size_t value_size, key_size;        /* 64 and 16 */
} bench_opts_t;

typedef struct bench_row {
    char system[16];        /* "etcd" or "libmosaik" — the two sides of the table */
    char impl[40];          /* e.g. "etcd-3.4.23-gateway", "libmosaik-mem" (JSON only) */
    int nodes;
    char storage[8];        /* "memory" or "durable" */
    int W;                  /* closed: outstanding requests; open: most allowed in flight */
    char mode[8];           /* "closed" or "open" */
    char target[16];        /* "leader" (default), "spread", "via-follower" */
    char status[8];         /* "ok", "skipped", "failed" */
    char reason[200];       /* for skipped and failed rows */
    double offered_per_s;   /* open loop only: the arrival rate */
    double cmds_per_s;      /* completed commands per second in the measured window */
    double p50_us, p99_us, p999_us, max_us;
    long completed, errors; /* in the measured window */
    double cpu_us;          /* CPU per command, client + servers, measured window; < 0 unknown */
    double fsyncs_s;        /* WAL fsyncs per second on the leader (etcd: /metrics); < 0 unknown */
    char note[120];         /* free text for the JSON line (e.g. where the data dir lives) */
} bench_row_t;

/* A fresh row with the unknown markers set (cpu_us, fsyncs_s = -1). */
bench_row_t bench_row_init(const char *system, const char *impl, int nodes, const char *storage, int W,
                           const char *mode);

typedef struct bench_rows {
    bench_row_t *v;
    size_t n, cap;
    const bench_opts_t *opts;
    FILE *json;             /* where rows go as they are added (stdout) */
} bench_rows_t;

/* Appends a copy of *r and prints it as one JSON line. */
void bench_rows_add(bench_rows_t *rows, const bench_row_t *r);

/* The best closed-loop cmds_per_s of one system at (nodes, storage), 0 when there is none. */
double bench_rows_peak(const bench_rows_t *rows, const char *system, int nodes, const char *storage);

/* Ratio lines (JSON, "system":"ratio") for every pair present on both sides, then the human-readable
 * side-by-side table to `table` with "n/a" where a side is missing. */
void bench_rows_finish(const bench_rows_t *rows, FILE *table);

void bench_rows_free(bench_rows_t *rows);

/* ---- the runners, one per system ---- */

/* bench/groups/etcd_rows.c: etcd 3.4 through its v3 JSON gateway. Always returns 0; a missing etcd
 * gives skipped rows and the line "etcd: not installed (./build.sh deps bench)" on stderr. */
int run_etcd_rows(const bench_opts_t *opts, bench_rows_t *rows);

/* bench/groups/mosaik_rows.c: libmosaik groups, one process per member, the client on the leader. */
int run_mosaik_rows(const bench_opts_t *opts, bench_rows_t *rows);
/* `bench_groups --mosaik-node NODES BOOT LMDB_DIR|-`: a follower member process of those rows. */
int mosaik_node_main(int argc, char **argv);

#endif
