/* tools/mosaik/node_cmds.c — the network subcommands of `mosaik`: `bootstrap` (a long-lived node that
 * others list as their contact; MOSAIK_BOOTSTRAP_* environment; prints its address line; departs
 * gracefully on SIGINT/SIGTERM) and `inspect` (joins as a node tagged mosaik.inspect and prints the
 * catalog once, as text or JSON). */
#include <mosaik/mosaik.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

int cmd_bootstrap(int argc, char **argv);
int cmd_inspect(int argc, char **argv);

#define MAX_LIST 32

typedef struct node_opts {
    const char *network, *secret, *listen;
    const char *peers[MAX_LIST + 1];
    const char *tags[MAX_LIST + 1];
    size_t npeers, ntags;
    bool no_dht, quiet;
    double shutdown_timeout;
} node_opts_t;

static int env_bool(const char *name, bool *out) {
    const char *v = getenv(name);
    if (!v) return 0;
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes")) *out = true;
    else if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no")) *out = false;
    else {
        fprintf(stderr, "mosaik: %s must be 1/0, true/false or yes/no, got '%s'\n", name, v);
        return 2;
    }
    return 0;
}

/* Splits s (owned copy kept for the process lifetime) at any of seps into list. */
static int split_into(const char *s, const char *seps, const char **list, size_t *n, const char *what) {
    char *copy = strdup(s), *save = NULL;
    for (char *t = strtok_r(copy, seps, &save); t; t = strtok_r(NULL, seps, &save)) {
        if (*n >= MAX_LIST) {
            fprintf(stderr, "mosaik: at most %d %s\n", MAX_LIST, what);
            return 2;
        }
        list[(*n)++] = t;
    }
    return 0;
}

static mk_network_t *start_node(const node_opts_t *o, bool quiet_banner, mk_secret_key_t *sk_out) {
    mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
    mk_secret_key_t sk;
    if (o->secret) mk_secret_key_from_str(o->secret, &sk);
    else mk_secret_key_generate(&sk);
    cfg.secret_key = &sk;
    if (o->network) cfg.network = o->network;
    else cfg.network_id = mk_id_random();
    cfg.bind[0] = o->listen;
    cfg.discovery.bootstrap = o->npeers ? o->peers : NULL;
    cfg.discovery.tags = o->tags;
    cfg.discovery.no_auto_bootstrap = o->no_dht;
    mk_error_t e;
    mk_network_t *n = mk_network_new(&cfg, &e);
    if (!n) fprintf(stderr, "mosaik: cannot start the node: %s\n", e.msg);
    if (sk_out) *sk_out = sk;
    (void)quiet_banner;
    mk_secret_key_wipe(&sk);
    return n;
}

static const struct option NODE_OPTS[] = {
    {"network", required_argument, NULL, 'n'}, {"network-id", required_argument, NULL, 'n'},
    {"secret", required_argument, NULL, 's'},  {"peer", required_argument, NULL, 'p'},
    {"tag", required_argument, NULL, 't'},     {"listen", required_argument, NULL, 'l'},
    {"no-dht", no_argument, NULL, 'D'},        {"no-relay", no_argument, NULL, 'R'},
    {"shutdown-timeout", required_argument, NULL, 'T'}, {"quiet", no_argument, NULL, 'q'},
    {"json", no_argument, NULL, 'j'},          {"once", no_argument, NULL, 'o'},
    {"wait", required_argument, NULL, 'w'},    {"min-peers", required_argument, NULL, 'm'},
    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};

typedef struct extra_opts {
    bool json, once;
    double wait_s;
    long min_peers;
} extra_opts_t;

static int parse_node_opts(int argc, char **argv, node_opts_t *o, extra_opts_t *x, const char *cmd) {
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:s:p:t:l:qh", NODE_OPTS, NULL)) != -1) {
        switch (c) {
        case 'n': o->network = optarg; break;
        case 's': o->secret = optarg; break;
        case 'p':
            if (o->npeers >= MAX_LIST) return fprintf(stderr, "mosaik %s: too many --peer\n", cmd), 2;
            o->peers[o->npeers++] = optarg;
            break;
        case 't':
            if (split_into(optarg, ",", o->tags, &o->ntags, "tags")) return 2;
            break;
        case 'l': o->listen = optarg; break;
        case 'D': o->no_dht = true; break;
        case 'R': break;  /* no relay exists: accepted, no effect */
        case 'T': o->shutdown_timeout = atof(optarg); break;
        case 'q': o->quiet = true; break;
        case 'j': x->json = true; break;
        case 'o': x->once = true; break;
        case 'w': x->wait_s = atof(optarg); break;
        case 'm': x->min_peers = atol(optarg); break;
        case 'h':
            printf("usage: mosaik %s -n NETWORK [-s SECRET] [-p ADDR]... [-t TAG]... [-l IP:PORT] [--no-dht]%s\n", cmd,
                   !strcmp(cmd, "inspect") ? " [--json] [--once] [--wait S] [--min-peers N]" : "");
            return 1;
        default: return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mosaik %s: unexpected argument '%s'\n", cmd, argv[optind]);
        return 2;
    }
    return 0;
}

static void wait_for_signal(double timeout_s, void (*tick)(void *), void *ctx) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = signalfd(-1, &set, SFD_CLOEXEC);
    double waited = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 1000) == 1) break;
        waited += 1;
        if (tick) tick(ctx);
        if (timeout_s > 0 && waited >= timeout_s) break;
    }
    close(fd);
}

typedef struct watcher {
    mk_discovery_events_t *ev;
} watcher_t;

static void log_events(void *ctx) {
    watcher_t *w = ctx;
    mk_peer_event_t ev;
    uint64_t lagged;
    while (mk_discovery_events_next(w->ev, &ev, &lagged, 0, NULL) == MK_OK) {
        char id[MK_ID_SHORT_LEN + 1];
        const char *what = ev.kind == MK_PEER_DISCOVERED ? "joined" : ev.kind == MK_PEER_UPDATED ? "updated" : "departed";
        if (ev.kind != MK_PEER_UPDATED || ev.content_changed)
            fprintf(stderr, "peer %s %s%s\n", mk_id_short(&ev.peer, id), what,
                    ev.kind == MK_PEER_DEPARTED ? (ev.reason == MK_DEPART_STALE ? " (purged)" : " (gracefully)") : "");
        mk_peer_event_clear(&ev);
    }
}

int cmd_bootstrap(int argc, char **argv) {
    node_opts_t o = {.listen = "0.0.0.0:19791", .shutdown_timeout = 5};
    extra_opts_t x = {0};
    const char *env;
    if ((env = getenv("MOSAIK_BOOTSTRAP_NETWORK_ID"))) o.network = env;
    if ((env = getenv("MOSAIK_BOOTSTRAP_SECRET"))) o.secret = env;
    if ((env = getenv("MOSAIK_BOOTSTRAP_LISTEN"))) o.listen = env;
    if ((env = getenv("MOSAIK_BOOTSTRAP_PEERS")) && split_into(env, " ;", o.peers, &o.npeers, "peers")) return 2;
    if ((env = getenv("MOSAIK_BOOTSTRAP_TAGS")) && split_into(env, ",", o.tags, &o.ntags, "tags")) return 2;
    bool b;
    if (env_bool("MOSAIK_BOOTSTRAP_NO_DHT", &o.no_dht) || env_bool("MOSAIK_BOOTSTRAP_QUIET", &o.quiet) ||
        env_bool("MOSAIK_BOOTSTRAP_NO_RELAY", &b))
        return 2;
    int rc = parse_node_opts(argc, argv, &o, &x, "bootstrap");
    if (rc) return rc == 1 ? 0 : rc;
    if (!o.ntags) o.tags[o.ntags++] = "bootstrap";
    o.tags[o.ntags] = NULL;
    o.peers[o.npeers] = NULL;
    if (!o.network) fprintf(stderr, "mosaik bootstrap: no --network: using a random network id\n");
    if (!o.secret) fprintf(stderr, "mosaik bootstrap: no --secret: the peer id changes at every start\n");
    if (o.quiet) mk_log_set_level(NULL, MK_LOG_OFF);
    mk_network_t *n = start_node(&o, o.quiet, NULL);
    if (!n) return 1;
    char addr[MK_ADDR_STR_MAX];
    mk_network_addr_str(n, addr, sizeof addr);
    printf("%s\n", addr);
    fflush(stdout);
    if (!o.quiet) {
        mk_network_id_t id = mk_network_id(n);
        char hex[MK_ID_HEX_LEN + 1];
        fprintf(stderr, "mosaik bootstrap node\n  network : %s\n  address : %s\n  tags    :", mk_id_hex(&id, hex), addr);
        for (size_t i = 0; i < o.ntags; i++) fprintf(stderr, " %s", o.tags[i]);
        fprintf(stderr, "\n  peers   : %zu\n  relay   : not built (--no-relay has no effect)\n"
                        "  dht     : not built yet\nPress Ctrl+C to stop.\n", o.npeers);
    }
    watcher_t w = {mk_discovery_events(n, NULL)};
    wait_for_signal(0, o.quiet ? NULL : log_events, &w);
    mk_discovery_events_free(w.ev);
    mk_network_free(n);  /* signed departure, Close 204 */
    return 0;
}

static void json_str_hex(const mk_id_t *id) {
    char hex[MK_ID_HEX_LEN + 1];
    printf("\"%s\"", mk_id_hex(id, hex));
}

int cmd_inspect(int argc, char **argv) {
    node_opts_t o = {.listen = "0.0.0.0:0", .shutdown_timeout = 5};
    extra_opts_t x = {.wait_s = 5, .min_peers = 1};
    int rc = parse_node_opts(argc, argv, &o, &x, "inspect");
    if (rc) return rc == 1 ? 0 : rc;
    if (!o.network) {
        fprintf(stderr, "mosaik inspect: --network is required\n");
        return 2;
    }
    o.tags[0] = "mosaik.inspect";
    o.tags[1] = NULL;
    o.ntags = 1;
    o.peers[o.npeers] = NULL;
    mk_log_set_level(NULL, MK_LOG_WARN);
    mk_network_t *n = start_node(&o, true, NULL);
    if (!n) return 1;
    /* wait until no new entry arrived for 1 s, or --wait */
    mk_catalog_watch_t *w = mk_catalog_watch(n, NULL);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double left = x.wait_s - ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9);
        if (left <= 0) break;
        int quiet_ms = left < 1 ? (int)(left * 1000) : 1000;
        if (mk_catalog_watch_changed(w, quiet_ms, NULL) != MK_OK) {
            mk_catalog_t *c = mk_discovery_catalog(n);
            size_t k = c ? mk_catalog_count(c) : 0;
            mk_catalog_free(c);
            if ((long)k >= x.min_peers) break;
            continue;
        }
        mk_catalog_free(mk_catalog_watch_latest(w));
    }
    mk_catalog_watch_free(w);
    mk_catalog_t *c = mk_discovery_catalog(n);
    size_t count = c ? mk_catalog_count(c) : 0;
    mk_catalog_iter_t it;
    mk_catalog_iter_init(&it, c, 0);
    const mk_peer_entry_t *p;
    mk_network_id_t nid = mk_network_id(n);
    mk_peer_id_t self = mk_network_peer_id(n);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    if (x.json) {
        printf("{\"schema\":\"mosaik.inspect/1\",\"network\":");
        json_str_hex(&nid);
        printf(",\"self\":");
        json_str_hex(&self);
        printf(",\"observed_at_ms\":%lld,\"peers\":[", (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000);
        bool first = true;
        while ((p = mk_catalog_next(&it))) {
            printf("%s{\"id\":", first ? "" : ",");
            first = false;
            json_str_hex(mk_peer_entry_id(p));
            printf(",\"addrs\":[");
            const mk_sock_addr_t *a;
            size_t na = mk_peer_entry_addrs(p, &a);
            for (size_t i = 0; i < na; i++) {
                if (a[i].kind == MK_ADDR_IPV4)
                    printf("%s\"%u.%u.%u.%u:%u\"", i ? "," : "", a[i].ip[0], a[i].ip[1], a[i].ip[2], a[i].ip[3], a[i].port);
                else
                    printf("%s\"[v6]:%u\"", i ? "," : "", a[i].port);
            }
            printf("],\"tags\":[");
            const mk_id_t *tags;
            size_t nt = mk_peer_entry_tags(p, &tags);
            for (size_t i = 0; i < nt; i++) {
                const char *known[] = {"bootstrap", "mosaik.inspect", "beacon-node", NULL};
                const char *name = NULL;
                for (size_t k = 0; known[k] && !name; k++) {
                    mk_id_t id = mk_id_from_str(known[k]);
                    if (mk_id_eq(&id, &tags[i])) name = known[k];
                }
                printf("%s", i ? "," : "");
                if (name) printf("\"%s\"", name);
                else json_str_hex(&tags[i]);
            }
            mk_peer_info_t info;
            mk_catalog_peer_info(c, mk_peer_entry_id(p), &info);
            mk_entry_version_t v = mk_peer_entry_version(p);
            printf("],\"streams\":[],\"groups\":[],\"tickets\":[],\"started_at_ms\":%llu,\"updated_at_ms\":%llu,"
                   "\"rtt_ms\":",
                   (unsigned long long)v.start_ms, (unsigned long long)v.update_ms);
            if (info.rtt_us >= 0) printf("%.3f", (double)info.rtt_us / 1000.0);
            else printf("null");
            printf(",\"protocol\":\"%s\"}", mk_peer_entry_agent(p));
        }
        printf("],\"streams\":[],\"groups\":[]}\n");
    } else {
        char sh[MK_ID_SHORT_LEN + 1], sh2[MK_ID_SHORT_LEN + 1];
        printf("mosaik inspect  network %s  self %s  peers %zu\n", mk_id_short(&nid, sh), mk_id_short(&self, sh2), count);
        printf("PEER        ADDRESS                 RTT ms  TAGS\n");
        while ((p = mk_catalog_next(&it))) {
            char addr[MK_ADDR_STR_MAX];
            mk_peer_entry_addr_format(p, addr, sizeof addr);
            const char *at = strchr(addr, '@');
            mk_peer_info_t info;
            mk_catalog_peer_info(c, mk_peer_entry_id(p), &info);
            printf("%s  %-22s  %6.2f  %zu tag(s)\n", mk_id_short(mk_peer_entry_id(p), sh), at ? at + 1 : "-",
                   info.rtt_us >= 0 ? (double)info.rtt_us / 1000.0 : -1.0, mk_peer_entry_tags(p, NULL));
        }
    }
    fflush(stdout);
    mk_catalog_free(c);
    mk_network_free(n);
    return (long)count >= x.min_peers ? 0 : 3;
}
