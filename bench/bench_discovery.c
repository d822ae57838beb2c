/* bench/bench_discovery.c — discovery convergence and message cost (spec 20 §12), in process on
 * loopback: for N = 10, 50, 100 nodes started against one bootstrap node, the time until every catalog
 * is complete, then the announce frames and entries sent network-wide during a steady-state window of
 * one announce interval, side by side with the naive baseline (every node announcing to every node it
 * knows: N·(N−1) frames per round). Prints JSON lines; `--smoke` runs N = 10 only. */
#include <mosaik/mosaik.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double metric_sum(mk_network_t *const *nets, int n, const char *name) {
    double total = 0;
    size_t len = strlen(name);
    for (int i = 0; i < n; i++) {
        mk_buf_t out = MK_BUF_INIT;
        if (mk_metrics_render(nets[i], &out, NULL) != MK_OK) continue;
        mk_buf_append(&out, "", 1);
        for (char *line = out.ptr; line && *line;) {
            char *next = strchr(line, '\n');
            if (next) *next++ = 0;
            if (line[0] != '#' && !strncmp(line, name, len) && (line[len] == '{' || line[len] == ' ')) {
                char *sp = strrchr(line, ' ');
                if (sp) total += strtod(sp + 1, NULL);
            }
            line = next;
        }
        mk_buf_free(&out);
    }
    return total;
}

static bool complete(mk_network_t *const *nets, int n) {
    for (int i = 0; i < n; i++) {
        mk_catalog_t *c = mk_discovery_catalog(nets[i]);
        bool ok = c && mk_catalog_count(c) == (size_t)(n - 1);
        mk_catalog_free(c);
        if (!ok) return false;
    }
    return true;
}

static mk_network_t *node(const mk_network_id_t *net, const char *boot, uint32_t announce_ms) {
    const char *list[] = {boot, NULL};
    mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
    cfg.network_id = *net;
    cfg.bind[0] = "127.0.0.1:0";
    cfg.shutdown_linger_ms = 300;
    cfg.discovery.no_auto_bootstrap = true;
    cfg.discovery.announce_interval_ms = announce_ms;
    cfg.discovery.purge_after_ms = 20 * announce_ms;
    cfg.discovery.gossip_flush_ms = 200;
    if (boot) cfg.discovery.bootstrap = list;
    mk_error_t e;
    mk_network_t *n = mk_network_new(&cfg, &e);
    if (!n) {
        fprintf(stderr, "bench_discovery: %s\n", e.msg);
        exit(1);
    }
    return n;
}

static void run(int n, const char *run_id) {
    const uint32_t announce_ms = 2000;
    mk_network_id_t net = mk_id_random();
    mk_network_t **nets = calloc((size_t)n, sizeof *nets);
    nets[0] = node(&net, NULL, announce_ms);
    char boot[MK_ADDR_STR_MAX];
    mk_network_addr_str(nets[0], boot, sizeof boot);
    double t0 = now_s();
    for (int i = 1; i < n; i++) nets[i] = node(&net, boot, announce_ms);
    bool ok = false;
    while (now_s() - t0 < 60) {
        if ((ok = complete(nets, n))) break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    double converge = now_s() - t0;
    /* steady state: one announce interval */
    double f0 = metric_sum(nets, n, "mosaik_discovery_gossip_frames_sent");
    double e0 = metric_sum(nets, n, "mosaik_discovery_gossip_entries_sent");
    double d0 = metric_sum(nets, n, "mosaik_discovery_gossip_duplicates");
    struct timespec win = {announce_ms / 1000, (long)(announce_ms % 1000) * 1000000};
    nanosleep(&win, NULL);
    double frames = metric_sum(nets, n, "mosaik_discovery_gossip_frames_sent") - f0;
    double entries = metric_sum(nets, n, "mosaik_discovery_gossip_entries_sent") - e0;
    double dups = metric_sum(nets, n, "mosaik_discovery_gossip_duplicates") - d0;
    double baseline = (double)n * (double)(n - 1);
    printf("{\"bench\":\"discovery\",\"run\":\"%s\",\"nodes\":%d,\"complete\":%s,\"converge_s\":%.3f,"
           "\"frames_per_round\":%.0f,\"entries_per_round\":%.0f,\"duplicates_per_round\":%.0f,"
           "\"baseline_frames_per_round\":%.0f,\"frames_ratio_vs_baseline\":%.3f}\n",
           run_id, n, ok ? "true" : "false", converge, frames, entries, dups, baseline,
           baseline > 0 ? frames / baseline : 0.0);
    fflush(stdout);
    for (int i = 0; i < n; i++) mk_network_free(nets[i]);
    free(nets);
}

int main(int argc, char **argv) {
    bool smoke = false;
    const char *run_id = "local";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) smoke = true;
        else if (!strcmp(argv[i], "--run-id") && i + 1 < argc) run_id = argv[++i];
        else {
            fprintf(stderr, "usage: bench_discovery [--smoke] [--run-id ID]\n");
            return 2;
        }
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
        rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    mk_log_set_level(NULL, MK_LOG_ERROR);
    run(10, run_id);
    if (!smoke) {
        run(50, run_id);
        run(100, run_id);
    }
    return 0;
}
