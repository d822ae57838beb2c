/* examples/demo.c — the README demo (`mosaik-demo`): three nodes in one process on loopback. Nodes 1
 * and 2 know only node 0's address; discovery (gossip + catalog sync) gives every node the full
 * catalog, which the demo prints once converged. The nodes also connect pairwise over TLS 1.3 links,
 * ping each other and print the kernel-measured RTT. Then n0 produces a stream the others consume,
 * and each prints the datums it received. Finally the three form a replicated group: they elect a
 * leader, replicate a counter through Raft, and the leader is shut down once to show fail-over.
 * Later subsystems extend it (collections). */
#include <mosaik/mosaik.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NODES 3
#define PINGS 200
#define ALPN "/demo/ping"

static double time_factor(void) {
    const char *s = getenv("MK_TIME_FACTOR");
    double f = s ? atof(s) : 1.0;
    return f >= 0.1 && f <= 100 ? f : 1.0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double start;
static int deadline_ms;

static void fail(const char *phase, const char *why) {
    printf("DEMO FAILED at %s: %s\nrerun with MK_LOG=debug\n", phase, why);
    exit(1);
}

typedef struct echo_arg { mk_listener_t *listener; int links; } echo_arg_t;

/* Answers every frame of one accepted link with the same bytes until the dialer closes it. */
static void *echo_link(void *p) {
    mk_link_t *l = p;
    for (;;) {
        mk_frame_t f = MK_FRAME_INIT;
        mk_error_t e;
        if (mk_link_recv(l, &f, deadline_ms, &e) != MK_OK) break;  /* closed by the dialer */
        int rc = mk_link_send(l, f.data, f.len, deadline_ms, &e);
        mk_frame_free(&f);
        if (rc != MK_OK) fail("ping", e.msg);
    }
    mk_link_free(l);
    return NULL;
}

/* Each node accepts one link from every node with a lower index and echoes on each. */
static void *echo_main(void *p) {
    echo_arg_t *a = p;
    pthread_t t[NODES];
    for (int i = 0; i < a->links; i++) {
        mk_error_t e;
        mk_link_t *l = mk_listener_accept(a->listener, deadline_ms, &e);
        if (!l) fail("connect", e.msg);
        pthread_create(&t[i], NULL, echo_link, l);
    }
    for (int i = 0; i < a->links; i++) pthread_join(t[i], NULL);
    return NULL;
}

/* Streams: n0 produces "demo.prices", every other node consumes it; 5 datums each way of the fan-out. */
static void stream_demo(mk_network_t **nets) {
    mk_error_t e;
    mk_producer_t *p = mk_producer_open(nets[0], "demo.prices", NULL, &e);
    if (!p) fail("stream", e.msg);
    mk_consumer_t *c[NODES];
    for (int i = 1; i < NODES; i++)
        if (!(c[i] = mk_consumer_open(nets[i], "demo.prices", NULL, &e))) fail("stream", e.msg);
    if (mk_producer_wait(p, MK_WHEN_MIN(NODES - 1), deadline_ms, &e) != MK_OK) fail("stream", e.msg);
    printf("[%5.2fs] stream     n0 produces demo.prices, %d consumers subscribed\n", now_s() - start, NODES - 1);
    for (int k = 0; k < 5; k++) {
        char datum[32];
        int n = snprintf(datum, sizeof datum, "price %d.%02d", 100 + k, (25 * k) % 100);
        if (mk_producer_send(p, datum, (size_t)n, deadline_ms, &e) != MK_OK) fail("stream", e.msg);
    }
    for (int i = 1; i < NODES; i++) {
        char line[256];
        size_t len = 0;
        for (int k = 0; k < 5; k++) {
            mk_datum_t d = MK_DATUM_INIT;
            if (mk_consumer_recv(c[i], &d, deadline_ms, &e) != MK_OK) fail("stream", e.msg);
            len += (size_t)snprintf(line + len, sizeof line - len, "%s\"%.*s\"", k ? ", " : "", (int)d.len, (const char *)d.data);
            mk_datum_free(&d);
        }
        mk_stream_stats_t st;
        mk_consumer_stats(c[i], &st);
        char stats[128];
        mk_stream_stats_format(&st, stats, sizeof stats);
        printf("[%5.2fs] received   n%d: %s (%s)\n", now_s() - start, i, line, stats);
        mk_consumer_free(c[i]);
    }
    mk_producer_free(p);
}

/* ---- groups: a replicated counter ---- */

typedef struct counter { int64_t value; } counter_t;

static mk_id_t counter_signature(void *self) {
    (void)self;
    return mk_id_from_str("demo.counter.v1");
}

static void counter_apply(void *self, const mk_apply_ctx_t *ctx, const void *cmd, size_t len) {
    (void)ctx;
    int64_t delta;
    if (len != sizeof delta) return;  /* commands are deterministic: a malformed one is ignored everywhere */
    memcpy(&delta, cmd, sizeof delta);
    ((counter_t *)self)->value += delta;
}

static int counter_query(void *self, const void *q, size_t len, mk_buf_t *out) {
    (void)q;
    (void)len;
    out->ptr = malloc(sizeof(int64_t));
    if (!out->ptr) return MK_ENOMEM;
    memcpy(out->ptr, &((counter_t *)self)->value, sizeof(int64_t));
    out->len = sizeof(int64_t);
    return MK_OK;
}

static const mk_state_machine_t COUNTER = {
    .signature = counter_signature, .apply = counter_apply, .query = counter_query};

static int64_t counter_read(mk_group_t *g) {
    mk_query_result_t r;
    mk_error_t e;
    if (mk_group_query(g, NULL, 0, MK_STRONG, deadline_ms, &r, &e) != MK_OK) fail("group query", e.msg);
    int64_t v = 0;
    if (r.len == sizeof v) memcpy(&v, r.data, sizeof v);
    mk_query_result_free(&r);
    return v;
}

static int wait_leader(mk_group_t **groups, mk_network_t **nets, const char *phase) {
    for (int i = 0; i < NODES; i++) {
        if (!groups[i]) continue;
        mk_group_cond_t c = {.what = MK_WHEN_LEADER_ELECTED};
        mk_error_t e;
        if (mk_group_wait(groups[i], &c, deadline_ms, NULL, &e) != MK_OK) fail(phase, e.msg);
    }
    for (;;) {
        for (int i = 0; i < NODES; i++)
            if (groups[i] && mk_group_is_leader(groups[i])) return i;
        if ((now_s() - start) * 1000 > 3 * deadline_ms) fail(phase, "no node became leader");
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    (void)nets;
}

static void group_demo(mk_network_t **nets, mk_listener_t **listeners) {
    counter_t counters[NODES] = {{0}};
    mk_group_t *groups[NODES];
    char sh[MK_ID_SHORT_LEN + 1];
    for (int i = 0; i < NODES; i++) {
        mk_group_config_t cfg = MK_GROUP_CONFIG_DEFAULT;
        cfg.key = mk_group_key_from_secret("demo counter group");
        cfg.machine = &COUNTER;
        cfg.machine_self = &counters[i];
        cfg.consensus.heartbeat_interval_ms = 100;  /* quicker than the defaults, for a short demo */
        cfg.consensus.heartbeat_jitter_ms = 30;
        cfg.consensus.election_timeout_ms = 600;
        cfg.consensus.election_timeout_jitter_ms = 200;
        cfg.consensus.bootstrap_delay_ms = 300;
        cfg.consensus.bootstrap_expect = NODES;
        mk_error_t e;
        groups[i] = mk_group_join(nets[i], &cfg, &e);
        if (!groups[i]) fail("group join", e.msg);
    }
    printf("[%5.2fs] group      %s joined by all nodes (Raft, in-memory log)\n", now_s() - start,
           mk_id_short(mk_group_id(groups[0]), sh));
    int leader = wait_leader(groups, nets, "group election");
    mk_peer_id_t lid = mk_network_peer_id(nets[leader]);
    printf("[%5.2fs] leader     n%d %s elected\n", now_s() - start, leader, mk_id_short(&lid, sh));
    for (int i = 0; i < NODES; i++) {
        int64_t delta = 10 * (i + 1);
        mk_cmd_outcome_t o;
        mk_error_t e;
        if (mk_group_execute(groups[i], &delta, sizeof delta, deadline_ms, &o, &e) != MK_OK) fail("execute", e.msg);
        printf("[%5.2fs] execute    n%d +%lld -> log index %llu%s\n", now_s() - start, i, (long long)delta,
               (unsigned long long)o.range.first, i == leader ? " (leader)" : " (forwarded to the leader)");
    }
    for (int i = 0; i < NODES; i++)
        printf("[%5.2fs] counter    n%d reads %lld (strong read)\n", now_s() - start, i, (long long)counter_read(groups[i]));
    /* fail-over: the leader's node shuts down */
    mk_group_leave(groups[leader]);
    groups[leader] = NULL;
    mk_listener_free(listeners[leader]);
    listeners[leader] = NULL;
    mk_network_free(nets[leader]);
    nets[leader] = NULL;
    printf("[%5.2fs] stop       n%d (the leader) shut down; it handed leadership over first\n", now_s() - start, leader);
    int next = wait_leader(groups, nets, "fail-over");
    mk_peer_id_t nid = mk_network_peer_id(nets[next]);
    printf("[%5.2fs] leader     n%d %s took over\n", now_s() - start, next, mk_id_short(&nid, sh));
    for (int i = 0; i < NODES; i++) {
        if (!groups[i]) continue;
        int64_t delta = 100;
        mk_error_t e;
        if (mk_group_execute(groups[i], &delta, sizeof delta, deadline_ms, NULL, &e) != MK_OK) fail("execute", e.msg);
    }
    for (int i = 0; i < NODES; i++) {
        if (!groups[i]) continue;
        int64_t v = counter_read(groups[i]);
        printf("[%5.2fs] counter    n%d reads %lld: nothing committed was lost\n", now_s() - start, i, (long long)v);
        if (v != 260) fail("fail-over", "the counter lost a committed command");
    }
    for (int i = 0; i < NODES; i++)
        if (groups[i]) mk_group_leave(groups[i]);
}

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    deadline_ms = (int)(10000 * time_factor());
    start = now_s();
    mk_network_t *nets[NODES];
    mk_listener_t *listeners[NODES];
    mk_id_t netid = mk_id_random();
    char hex[MK_ID_HEX_LEN + 1], sh[MK_ID_SHORT_LEN + 1];
    mk_id_hex(&netid, hex);
    printf("libmosaik %s demo: %d nodes on 127.0.0.1, network %s (random)\n", MK_VERSION_STRING, NODES,
           mk_id_short(&netid, sh));
    char boot_addr[MK_ADDR_STR_MAX] = "";
    for (int i = 0; i < NODES; i++) {
        mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
        cfg.network = hex;
        cfg.bind[0] = "127.0.0.1:0";
        const char *boot[] = {boot_addr, NULL};
        const char *tags_boot[] = {"bootstrap", NULL}, *tags_demo[] = {"demo", NULL};
        cfg.discovery.no_auto_bootstrap = true;  /* loopback only: no public DHT */
        cfg.discovery.tags = i == 0 ? tags_boot : tags_demo;
        if (i > 0) cfg.discovery.bootstrap = boot;
        mk_error_t e;
        nets[i] = mk_network_new(&cfg, &e);
        if (!nets[i]) fail("start", e.msg);
        listeners[i] = mk_network_listen(nets[i], ALPN, 8, &e);
        if (!listeners[i]) fail("start", e.msg);
        char addr[MK_ADDR_STR_MAX];
        mk_network_addr_str(nets[i], addr, sizeof addr);
        mk_peer_id_t id = mk_network_peer_id(nets[i]);
        printf("[%5.2fs] start      n%d %s %s%s\n", now_s() - start, i, mk_id_short(&id, sh), strchr(addr, '@') + 1,
               i == 0 ? "  (bootstrap for the others)" : "");
        if (i == 0) snprintf(boot_addr, sizeof boot_addr, "%s", addr);
    }
    /* discovery: wait until every node lists the other two, then print the catalogs */
    for (;;) {
        int complete = 0;
        for (int i = 0; i < NODES; i++) {
            mk_catalog_t *c = mk_discovery_catalog(nets[i]);
            complete += c && mk_catalog_count(c) == NODES - 1;
            mk_catalog_free(c);
        }
        if (complete == NODES) break;
        if ((now_s() - start) * 1000 > deadline_ms) fail("discovery", "catalogs did not converge");
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    printf("[%5.2fs] discovery  catalogs converged through n0 (gossip + catalog sync)\n", now_s() - start);
    for (int i = 0; i < NODES; i++) {
        mk_catalog_t *c = mk_discovery_catalog(nets[i]);
        mk_catalog_iter_t it;
        mk_catalog_iter_init(&it, c, 0);
        const mk_peer_entry_t *pe;
        mk_peer_id_t me = mk_network_peer_id(nets[i]);
        printf("[%5.2fs] catalog    n%d %s sees:", now_s() - start, i, mk_id_short(&me, sh));
        while ((pe = mk_catalog_next(&it))) {
            const mk_sock_addr_t *addrs;
            size_t na = mk_peer_entry_addrs(pe, &addrs);
            printf(" %s:%u%s", mk_id_short(mk_peer_entry_id(pe), sh), na ? addrs[0].port : 0,
                   mk_peer_entry_has_tag(pe, "bootstrap") ? "[bootstrap]" : "[demo]");
        }
        printf("\n");
        mk_catalog_free(c);
    }
    /* node i accepts one link from every node with a lower index */
    pthread_t echo[NODES];
    echo_arg_t args[NODES];
    for (int i = 0; i < NODES; i++) {
        args[i] = (echo_arg_t){listeners[i], i};
        pthread_create(&echo[i], NULL, echo_main, &args[i]);
    }
    mk_link_t *out[NODES][NODES] = {{0}};
    for (int i = 0; i < NODES; i++) {
        for (int j = i + 1; j < NODES; j++) {
            mk_peer_addr_t to;
            mk_error_t e;
            mk_network_addr(nets[j], &to);
            out[i][j] = mk_link_open(nets[i], &to, ALPN, 0, deadline_ms, &e);
            if (!out[i][j]) fail("connect", e.msg);
        }
    }
    printf("[%5.2fs] connect    %d TLS 1.3 links, every pair of nodes\n", now_s() - start, NODES * (NODES - 1) / 2);
    for (int i = 0; i < NODES; i++) {
        for (int j = i + 1; j < NODES; j++) {
            mk_link_t *l = out[i][j];
            double worst = 0;
            for (int k = 0; k < PINGS; k++) {
                double t0 = now_s();
                uint32_t seq = (uint32_t)k;
                mk_error_t e;
                mk_frame_t f = MK_FRAME_INIT;
                if (mk_link_send(l, &seq, sizeof seq, deadline_ms, &e) != MK_OK) fail("ping", e.msg);
                if (mk_link_recv(l, &f, deadline_ms, &e) != MK_OK) fail("ping", e.msg);
                if (f.len != sizeof seq || memcmp(f.data, &seq, sizeof seq) != 0) fail("ping", "echo mismatch");
                mk_frame_free(&f);
                double dt = now_s() - t0;
                if (dt > worst) worst = dt;
            }
            uint32_t srtt = 0, var = 0;
            mk_link_rtt(l, &srtt, &var);
            mk_peer_id_t a = mk_network_peer_id(nets[i]), b = mk_network_peer_id(nets[j]);
            char sa[MK_ID_SHORT_LEN + 1], sb[MK_ID_SHORT_LEN + 1];
            printf("[%5.2fs] rtt        n%d %s <-> n%d %s: tcp srtt %u us (var %u us), %d pings, slowest %.0f us\n",
                   now_s() - start, i, mk_id_short(&a, sa), j, mk_id_short(&b, sb), srtt, var, PINGS, worst * 1e6);
        }
    }
    stream_demo(nets);
    for (int i = 0; i < NODES; i++)
        for (int j = i + 1; j < NODES; j++) mk_link_close(out[i][j], MK_CLOSE_SUCCESS, "demo done", deadline_ms, NULL);
    for (int i = 0; i < NODES; i++) pthread_join(echo[i], NULL);
    for (int i = 0; i < NODES; i++)
        for (int j = i + 1; j < NODES; j++) mk_link_free(out[i][j]);
    group_demo(nets, listeners);
    for (int i = 0; i < NODES; i++) {
        if (!nets[i]) continue;
        mk_listener_free(listeners[i]);
        mk_network_free(nets[i]);
    }
    printf("[%5.2fs] shutdown   %d nodes stopped\n", now_s() - start, NODES);
    printf("DEMO OK in %.1f s\nnext: ./build.sh test | docs/\n", now_s() - start);
    return 0;
}
