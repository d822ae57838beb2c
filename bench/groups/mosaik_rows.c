/* bench/groups/mosaik_rows.c — the libmosaik side of bench_groups: for each member count and storage,
 * a group of one process per node on 127.0.0.1 (TLS links, like etcd's members): this process is
 * node 0 and the client, the others are this binary re-executed with --mosaik-node. Node 0 is Normal,
 * the others Reluctant, so node 0 leads and the client submits to the leader. Commands are 64 bytes;
 * the closed loop keeps W submissions (mk_group_submit, MK_SUBMIT_APPLIED) in flight, each completion
 * submitting the next; latency = submit → applied on the submitting node. Then an open loop at
 * open_fraction of the closed-loop peak. memory = in-memory log, durable = LMDB SYNC_ALWAYS in
 * $MK_BENCH_DISK_DIR / $TMPDIR / /var/tmp (where the etcd durable rows keep their data). */
#include "rows.h"

#include <mosaik/mosaik.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_NODES 8
#define CMD_BYTES 64

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- the counter-free bench machine: commands are counted, nothing else ---- */

typedef struct { uint64_t applied; } sink_t;

static mk_id_t sink_sig(void *self) {
    (void)self;
    return mk_id_from_str("bench.groups.sink.v1");
}
static void sink_apply(void *self, const mk_apply_ctx_t *ctx, const void *cmd, size_t len) {
    (void)ctx, (void)cmd, (void)len;
    ((sink_t *)self)->applied++;
}
static int sink_query(void *self, const void *q, size_t len, mk_buf_t *out) {
    (void)self, (void)q, (void)len, (void)out;
    return MK_OK;
}
static mk_leadership_t lead_reluctant(void *self) {
    (void)self;
    return MK_LEADERSHIP_RELUCTANT_DEFAULT;
}
static const mk_state_machine_t SINK = {.signature = sink_sig, .apply = sink_apply, .query = sink_query};
static const mk_state_machine_t SINK_RELUCTANT = {
    .signature = sink_sig, .apply = sink_apply, .query = sink_query, .leadership = lead_reluctant};

static const char *disk_dir(void) {
    const char *d = getenv("MK_BENCH_DISK_DIR");
    if (!d || !*d) d = getenv("TMPDIR");
    return d && *d ? d : "/var/tmp";
}

static mk_network_t *node_network(const char *boot) {
    const char *bootv[] = {boot, NULL};
    mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
    cfg.network = "bench.groups";
    cfg.bind[0] = "127.0.0.1:0";
    cfg.discovery.no_auto_bootstrap = true;
    cfg.discovery.announce_interval_ms = 1000;
    cfg.discovery.gossip_flush_ms = 50;
    if (boot) cfg.discovery.bootstrap = bootv;
    mk_error_t e;
    mk_network_t *n = mk_network_new(&cfg, &e);
    if (!n) fprintf(stderr, "libmosaik: network: %s\n", e.msg);
    return n;
}

static mk_group_t *node_group(mk_network_t *n, int nodes, const char *lmdb_dir, bool leader, sink_t *sink) {
    mk_group_config_t gc = MK_GROUP_CONFIG_DEFAULT;
    gc.key = mk_group_key_from_secret("bench.groups.key");
    gc.machine = leader ? &SINK : &SINK_RELUCTANT;
    gc.machine_self = sink;
    gc.consensus.bootstrap_expect = (uint32_t)nodes;
    gc.consensus.bootstrap_delay_ms = 200;
    mk_error_t e;
    if (lmdb_dir) {
        mk_lmdb_config_t lc = MK_LMDB_CONFIG_DEFAULT;
        lc.path = lmdb_dir;
        lc.map_size = (size_t)1 << 30;
        gc.store = mk_log_store_lmdb(&lc, &e);
        if (!gc.store) {
            fprintf(stderr, "libmosaik: lmdb %s: %s\n", lmdb_dir, e.msg);
            return NULL;
        }
    }
    mk_group_t *g = mk_group_join(n, &gc, &e);
    if (!g) fprintf(stderr, "libmosaik: join: %s\n", e.msg);
    return g;
}

/* `bench_groups --mosaik-node NODES BOOT LMDB_DIR|-`: a follower process; runs until stdin closes. */
int mosaik_node_main(int argc, char **argv) {
    if (argc != 5) return 2;
    int nodes = atoi(argv[2]);
    const char *lmdb = strcmp(argv[4], "-") ? argv[4] : NULL;
    mk_network_t *n = node_network(argv[3]);
    if (!n) return 1;
    sink_t sink = {0};
    mk_group_t *g = node_group(n, nodes, lmdb, false, &sink);
    if (!g) return 1;
    char c;
    while (read(0, &c, 1) > 0) {}
    mk_group_leave(g);
    mk_network_free(n);
    return 0;
}

/* ---- load ---- */

typedef struct load {
    mk_group_t *g;
    pthread_mutex_t mu;
    double *lat;             /* latencies in µs, measured window only */
    size_t nlat, caplat;
    atomic_long inflight, completed_total, errors_total;
    atomic_bool measuring, stop;
    int W;
    uint8_t cmd[CMD_BYTES];
} load_t;

typedef struct slot {
    load_t *L;
    double t0;
    bool closed;             /* resubmit on completion */
} slot_t;

static void record(load_t *L, double us) {
    if (!atomic_load(&L->measuring)) return;
    pthread_mutex_lock(&L->mu);
    if (L->nlat == L->caplat) {
        size_t cap = L->caplat ? L->caplat * 2 : 1 << 20;
        double *v = realloc(L->lat, cap * sizeof *v);
        if (v) L->lat = v, L->caplat = cap;
    }
    if (L->nlat < L->caplat) L->lat[L->nlat++] = us;
    pthread_mutex_unlock(&L->mu);
}

static int submit(slot_t *s);

static void on_done(void *ud, int status, const mk_cmd_outcome_t *out) {
    (void)out;
    slot_t *s = ud;
    load_t *L = s->L;
    if (status == MK_OK) {
        atomic_fetch_add(&L->completed_total, 1);
        record(L, (now_s() - s->t0) * 1e6);
    } else {
        atomic_fetch_add(&L->errors_total, 1);
    }
    if (s->closed && !atomic_load(&L->stop) && submit(s) == MK_OK) return;
    atomic_fetch_sub(&L->inflight, 1);
    if (!s->closed) free(s);
}

static int submit(slot_t *s) {
    mk_bytes_t b = {s->L->cmd, CMD_BYTES};
    s->t0 = s->closed ? now_s() : s->t0;
    return mk_group_submit(s->L->g, &b, 1, MK_SUBMIT_APPLIED, -1, on_done, s);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p) {
    if (!n) return 0;
    size_t i = (size_t)ceil(p / 100.0 * (double)n);
    if (i > 0) i--;
    return v[i < n ? i : n - 1];
}

/* CPU seconds of this process and the children so far. */
static double cpu_of(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    unsigned long ut = 0, st = 0;
    /* fields after ")": state(3) … utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double cpu_all(const pid_t *kids, int nkids) {
    double c = cpu_of(getpid());
    for (int i = 0; i < nkids; i++) c += cpu_of(kids[i]);
    return c;
}

static void finish_row(bench_row_t *r, load_t *L, double secs, double cpu, long completed, long errors) {
    pthread_mutex_lock(&L->mu);
    qsort(L->lat, L->nlat, sizeof *L->lat, cmp_d);
    r->p50_us = pct(L->lat, L->nlat, 50);
    r->p99_us = pct(L->lat, L->nlat, 99);
    r->p999_us = pct(L->lat, L->nlat, 99.9);
    r->max_us = L->nlat ? L->lat[L->nlat - 1] : 0;
    L->nlat = 0;
    pthread_mutex_unlock(&L->mu);
    r->completed = completed;
    r->errors = errors;
    r->cmds_per_s = (double)completed / secs;
    r->cpu_us = completed ? cpu * 1e6 / (double)completed : -1;
    snprintf(r->status, sizeof r->status, "%s", completed ? "ok" : "failed");
    if (!completed) snprintf(r->reason, sizeof r->reason, "no command completed");
}

static void drain(load_t *L) {
    atomic_store(&L->stop, true);
    double lim = now_s() + 30;
    while (atomic_load(&L->inflight) > 0 && now_s() < lim) sleep_s(0.005);
    atomic_store(&L->stop, false);
}

static void closed_row(const bench_opts_t *o, load_t *L, bench_row_t *r, const pid_t *kids, int nkids) {
    L->W = r->W;
    slot_t *slots = calloc((size_t)r->W, sizeof *slots);
    atomic_store(&L->measuring, false);
    for (int i = 0; i < r->W; i++) {
        slots[i] = (slot_t){.L = L, .closed = true};
        atomic_fetch_add(&L->inflight, 1);
        if (submit(&slots[i]) != MK_OK) atomic_fetch_sub(&L->inflight, 1);
    }
    sleep_s(o->warmup_s);
    long c0 = atomic_load(&L->completed_total), e0 = atomic_load(&L->errors_total);
    double cpu0 = cpu_all(kids, nkids), t0 = now_s();
    atomic_store(&L->measuring, true);
    sleep_s(o->measure_s);
    atomic_store(&L->measuring, false);
    double t1 = now_s(), cpu1 = cpu_all(kids, nkids);
    long c1 = atomic_load(&L->completed_total), e1 = atomic_load(&L->errors_total);
    drain(L);
    free(slots);
    finish_row(r, L, t1 - t0, cpu1 - cpu0, c1 - c0, e1 - e0);
}

static void open_row(const bench_opts_t *o, load_t *L, bench_row_t *r, double rate, const pid_t *kids, int nkids) {
    r->offered_per_s = rate;
    r->W = 4096;
    double start = now_s(), interval = 1.0 / rate, end_warm = start + o->warmup_s, end = end_warm + o->measure_s;
    long c0 = 0, e0 = 0;
    double cpu0 = 0;
    bool measuring = false;
    for (long k = 0;; k++) {
        double due = start + (double)k * interval, t = now_s();
        if (due >= end) break;
        if (!measuring && due >= end_warm) {
            measuring = true;
            c0 = atomic_load(&L->completed_total), e0 = atomic_load(&L->errors_total);
            cpu0 = cpu_all(kids, nkids);
            atomic_store(&L->measuring, true);
        }
        if (due > t) sleep_s(due - t);
        if (atomic_load(&L->inflight) >= r->W) continue;  /* counted as not offered */
        slot_t *s = malloc(sizeof *s);
        *s = (slot_t){.L = L, .t0 = due, .closed = false};
        atomic_fetch_add(&L->inflight, 1);
        if (submit(s) != MK_OK) {
            atomic_fetch_sub(&L->inflight, 1);
            atomic_fetch_add(&L->errors_total, 1);
            free(s);
        }
    }
    atomic_store(&L->measuring, false);
    double cpu1 = cpu_all(kids, nkids);
    long c1 = atomic_load(&L->completed_total), e1 = atomic_load(&L->errors_total);
    drain(L);
    finish_row(r, L, o->measure_s, cpu1 - cpu0, c1 - c0, e1 - e0);
}

/* ---- one (nodes, storage) configuration ---- */

static void skip_all(const bench_opts_t *o, bench_rows_t *rows, int nodes, bool durable, const char *why) {
    for (size_t wi = 0; wi <= o->n_windows; wi++) {
        bool open = wi == o->n_windows;
        if (open && !o->open_loop) continue;
        bench_row_t r = bench_row_init("libmosaik", durable ? "libmosaik-lmdb" : "libmosaik-mem", nodes,
                                       durable ? "durable" : "memory", open ? 0 : o->windows[wi], open ? "open" : "closed");
        snprintf(r.status, sizeof r.status, "failed");
        snprintf(r.reason, sizeof r.reason, "%s", why);
        bench_rows_add(rows, &r);
    }
}

static void run_config(const bench_opts_t *o, bench_rows_t *rows, int nodes, bool durable) {
    char base[256] = "";
    if (durable) {
        snprintf(base, sizeof base, "%s/mk-bench-lmdb-XXXXXX", disk_dir());
        if (!mkdtemp(base)) {
            skip_all(o, rows, nodes, durable, "cannot create the LMDB directory");
            return;
        }
    }
    mk_network_t *n = node_network(NULL);
    if (!n) {
        skip_all(o, rows, nodes, durable, "network failed");
        return;
    }
    char addr[MK_ADDR_STR_MAX];
    mk_network_addr_str(n, addr, sizeof addr);
    pid_t kids[MAX_NODES];
    int pipes[MAX_NODES];
    int nkids = 0;
    for (int i = 1; i < nodes && i < MAX_NODES; i++) {
        int p[2];
        if (pipe(p) != 0) break;
        char nodes_s[16], dir[300];
        snprintf(nodes_s, sizeof nodes_s, "%d", nodes);
        if (durable) snprintf(dir, sizeof dir, "%s/node%d", base, i);
        else snprintf(dir, sizeof dir, "-");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p[0], 0);
        posix_spawn_file_actions_addclose(&fa, p[1]);
        char *args[] = {"bench_groups", "--mosaik-node", nodes_s, addr, dir, NULL};
        pid_t pid;
        int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(p[0]);
        if (rc != 0) {
            close(p[1]);
            break;
        }
        kids[nkids] = pid;
        pipes[nkids++] = p[1];
    }
    char dir0[300];
    snprintf(dir0, sizeof dir0, "%s/node0", base);
    sink_t sink = {0};
    mk_group_t *g = nkids == nodes - 1 ? node_group(n, nodes, durable ? dir0 : NULL, true, &sink) : NULL;
    bool ready = false;
    if (g) {
        mk_group_cond_t c = {.what = MK_WHEN_IS_LEADER};
        mk_error_t e;
        ready = mk_group_wait(g, &c, 30000, NULL, &e) == MK_OK;
        mk_group_status_t st;
        for (double lim = now_s() + 30; ready; sleep_s(0.01)) {  /* every member a voter */
            mk_group_status(g, &st);
            if (st.n_voters >= (size_t)(nodes < 5 ? nodes : 5) && st.online) break;
            if (now_s() > lim) ready = false;
        }
        if (!ready) fprintf(stderr, "libmosaik: %d nodes: no leader with all voters: %s\n", nodes, e.msg);
    }
    if (!ready) {
        skip_all(o, rows, nodes, durable, "the group did not form");
    } else {
        load_t L = {.g = g};
        pthread_mutex_init(&L.mu, NULL);
        memset(L.cmd, 'x', sizeof L.cmd);
        for (size_t wi = 0; wi < o->n_windows; wi++) {
            bench_row_t r = bench_row_init("libmosaik", durable ? "libmosaik-lmdb" : "libmosaik-mem", nodes,
                                           durable ? "durable" : "memory", o->windows[wi], "closed");
            fprintf(stderr, "libmosaik: %d nodes %s W=%d ...\n", nodes, r.storage, r.W);
            closed_row(o, &L, &r, kids, nkids);
            bench_rows_add(rows, &r);
        }
        if (o->open_loop) {
            double peak = bench_rows_peak(rows, "libmosaik", nodes, durable ? "durable" : "memory");
            bench_row_t r = bench_row_init("libmosaik", durable ? "libmosaik-lmdb" : "libmosaik-mem", nodes,
                                           durable ? "durable" : "memory", 0, "open");
            if (peak > 0) {
                fprintf(stderr, "libmosaik: %d nodes %s open loop at %.0f/s ...\n", nodes, r.storage, peak * o->open_fraction);
                open_row(o, &L, &r, peak * o->open_fraction, kids, nkids);
            } else {
                snprintf(r.status, sizeof r.status, "skipped");
                snprintf(r.reason, sizeof r.reason, "no closed-loop peak");
            }
            bench_rows_add(rows, &r);
        }
        free(L.lat);
        pthread_mutex_destroy(&L.mu);
    }
    if (g) mk_group_leave(g);
    mk_network_free(n);
    for (int i = 0; i < nkids; i++) close(pipes[i]);
    for (int i = 0; i < nkids; i++) {
        int st;
        double lim = now_s() + 10;
        while (waitpid(kids[i], &st, WNOHANG) == 0 && now_s() < lim) sleep_s(0.01);
        if (now_s() >= lim) {
            kill(kids[i], SIGKILL);
            waitpid(kids[i], &st, 0);
        }
    }
    if (durable) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
        if (system(cmd) != 0) fprintf(stderr, "libmosaik: could not remove %s\n", base);
    }
}

int run_mosaik_rows(const bench_opts_t *o, bench_rows_t *rows) {
    for (int ni = 0; ni < 2; ni++) {
        if (o->nodes[ni] <= 0) continue;
        if (o->memory) run_config(o, rows, o->nodes[ni], false);
        if (o->durable) run_config(o, rows, o->nodes[ni], true);
    }
    return 0;
}
