/* tools/mosaik/cli.c — shared parts of the `mosaik` subcommands: network options and their
 * MOSAIK_BOOTSTRAP_* variables, log levels, starting a node, signals, status line, bounded shutdown. */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

int cli_verbosity = 0;
int cli_color = 2;

enum { OPT_SECRET_FILE = 256, OPT_ADVERTISE, OPT_NO_RELAY, OPT_NO_DHT, OPT_MDNS, OPT_METRICS, OPT_SHUTDOWN };

static const struct option NET_OPTS[] = {
    {"network", required_argument, NULL, 'n'},      {"network-id", required_argument, NULL, 'n'},
    {"secret", required_argument, NULL, 's'},       {"secret-file", required_argument, NULL, OPT_SECRET_FILE},
    {"peer", required_argument, NULL, 'p'},         {"listen", required_argument, NULL, 'l'},
    {"advertise", required_argument, NULL, OPT_ADVERTISE}, {"tag", required_argument, NULL, 't'},
    {"no-relay", no_argument, NULL, OPT_NO_RELAY},  {"no-dht", no_argument, NULL, OPT_NO_DHT},
    {"mdns", no_argument, NULL, OPT_MDNS},          {"metrics", required_argument, NULL, OPT_METRICS},
    {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN},
    {"quiet", no_argument, NULL, 'q'},              {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
};
#define NET_NOPTS (sizeof NET_OPTS / sizeof NET_OPTS[0])

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *cli_duration(double s, char *buf, size_t cap) {
    long t = s < 0 ? 0 : (long)s;
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(buf, cap, "%ldm", t / 60);
    else snprintf(buf, cap, "%lds", t);
    return buf;
}

const char *cli_id_prefix(const mk_id_t *id, char *buf, size_t cap) {
    char hex[MK_ID_HEX_LEN + 1];
    mk_id_hex(id, hex);
    snprintf(buf, cap, "%.12s…", hex);
    return buf;
}

/* ---- lists ---- */

void cli_net_release(cli_net_t *o) {
    for (size_t i = 0; i < o->nowned; i++) free(o->owned[i]);
    o->nowned = 0;
}

/* Splits a copy of s (kept in o until cli_net_release) at any of seps, appending to list (capacity
 * CLI_MAX_LIST). */
static int split_into(cli_net_t *o, const char *cmd, const char *s, const char *seps, const char **list, size_t *n,
                      const char *what) {
    if (o->nowned >= sizeof o->owned / sizeof o->owned[0]) {
        fprintf(stderr, "mosaik %s: too many list options\n", cmd);
        return CLI_USAGE;
    }
    char *copy = strdup(s), *save = NULL;
    if (!copy) return CLI_FAIL;
    o->owned[o->nowned++] = copy;
    for (char *t = strtok_r(copy, seps, &save); t; t = strtok_r(NULL, seps, &save)) {
        if (*n >= CLI_MAX_LIST) {
            fprintf(stderr, "mosaik %s: at most %d %s\n", cmd, CLI_MAX_LIST, what);
            return CLI_USAGE;
        }
        list[(*n)++] = t;
    }
    list[*n] = NULL;
    return CLI_OK;
}

int cli_check_peer(const char *cmd, const char *addr) {
    mk_peer_id_t id;
    if (strlen(addr) == 64 && mk_peer_id_parse(addr, &id) == MK_OK) {
        fprintf(stderr, "mosaik %s: --peer %.12s…: a bare peer id is not enough; give its address too, "
                        "as <peer id>@host:port (libmosaik has no id-to-address lookup)\n", cmd, addr);
        return CLI_USAGE;
    }
    if (strchr(addr, '@')) {
        mk_peer_addr_t a;
        mk_error_t e;
        if (mk_peer_addr_parse(addr, &a, &e) != MK_OK || a.naddrs == 0) {
            fprintf(stderr, "mosaik %s: --peer '%s': %s\n", cmd, addr, a.naddrs == 0 ? "no address after '@'" : e.msg);
            return CLI_USAGE;
        }
    } else if (!strchr(addr, ':')) {
        fprintf(stderr, "mosaik %s: --peer '%s': expected [<peer id>@]host:port\n", cmd, addr);
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* ---- environment ---- */

static int env_bool(const char *name, bool *out) {
    const char *v = getenv(name);
    if (!v) return CLI_OK;
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes")) *out = true;
    else if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no")) *out = false;
    else {
        fprintf(stderr, "mosaik: %s must be 1/0, true/false or yes/no, got '%s'\n", name, v);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_net_env(cli_net_t *o) {
    const char *v;
    int rc = CLI_OK;
    if ((v = getenv("MOSAIK_BOOTSTRAP_NETWORK_ID"))) o->network = v, o->network_from_user = true;
    if ((v = getenv("MOSAIK_BOOTSTRAP_SECRET"))) o->secret = v;
    if ((v = getenv("MOSAIK_BOOTSTRAP_SECRET_FILE"))) o->secret_file = v;
    if ((v = getenv("MOSAIK_BOOTSTRAP_LISTEN"))) o->listen = v;
    if ((v = getenv("MOSAIK_BOOTSTRAP_METRICS"))) o->metrics = v;
    if ((v = getenv("MOSAIK_BOOTSTRAP_PEERS")) && (rc = split_into(o, "bootstrap", v, " ;", o->peers, &o->npeers, "peers")))
        return rc;
    for (size_t i = 0; i < o->npeers; i++)
        if ((rc = cli_check_peer("bootstrap", o->peers[i]))) return rc;
    if ((v = getenv("MOSAIK_BOOTSTRAP_TAGS")) && (rc = split_into(o, "bootstrap", v, ",", o->tags, &o->ntags, "tags")))
        return rc;
    if ((v = getenv("MOSAIK_BOOTSTRAP_ADVERTISE")) &&
        (rc = split_into(o, "bootstrap", v, " ;,", o->advertise, &o->nadvertise, "advertised addresses")))
        return rc;
    if ((rc = env_bool("MOSAIK_BOOTSTRAP_NO_RELAY", &o->no_relay)) || (rc = env_bool("MOSAIK_BOOTSTRAP_NO_DHT", &o->no_dht)) ||
        (rc = env_bool("MOSAIK_BOOTSTRAP_MDNS", &o->mdns)) || (rc = env_bool("MOSAIK_BOOTSTRAP_QUIET", &o->quiet)))
        return rc;
    if ((v = getenv("MOSAIK_BOOTSTRAP_LOGGING"))) {
        if (!strcmp(v, "0") || !strcasecmp(v, "info")) o->verbose = 0;
        else if (!strcmp(v, "1") || !strcasecmp(v, "debug")) o->verbose = 1;
        else if (!strcmp(v, "2") || !strcasecmp(v, "trace")) o->verbose = 2;
        else {
            fprintf(stderr, "mosaik: MOSAIK_BOOTSTRAP_LOGGING must be 0, 1, 2, info, debug or trace, got '%s'\n", v);
            return CLI_USAGE;
        }
    }
    return CLI_OK;
}

/* ---- command line ---- */

static int positive_seconds(const char *cmd, const char *opt, const char *arg, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || !end || *end || !(v > 0) || v > 86400) {
        fprintf(stderr, "mosaik %s: %s '%s': expected seconds (0 < s ≤ 86400)\n", cmd, opt, arg);
        return CLI_USAGE;
    }
    *out = v;
    return CLI_OK;
}

int cli_net_parse(int argc, char **argv, const char *cmd, cli_net_t *o, const struct option *extra, cli_extra_fn on_extra,
                  void *ctx, const char *usage) {
    size_t nx = 0;
    while (extra && extra[nx].name) nx++;
    struct option *all = calloc(NET_NOPTS + nx + 1, sizeof *all);
    if (!all) return CLI_FAIL;
    memcpy(all, NET_OPTS, sizeof NET_OPTS);
    if (nx) memcpy(all + NET_NOPTS, extra, nx * sizeof *extra);
    /* a list given on the command line replaces the one from the environment */
    bool cl_peers = false, cl_tags = false, cl_adv = false;
    int c, rc = CLI_OK;
    optind = 1;
    opterr = 0;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, ":n:s:p:l:t:qvh", all, NULL)) != -1) {
        switch (c) {
        case 'n': o->network = optarg, o->network_from_user = true; break;
        case 's': o->secret = optarg; break;
        case OPT_SECRET_FILE: o->secret_file = optarg; break;
        case 'p':
            if (!cl_peers) o->npeers = 0, cl_peers = true;
            if ((rc = cli_check_peer(cmd, optarg))) break;
            if (o->npeers >= CLI_MAX_LIST) {
                fprintf(stderr, "mosaik %s: at most %d --peer\n", cmd, CLI_MAX_LIST);
                rc = CLI_USAGE;
                break;
            }
            o->peers[o->npeers++] = optarg;
            o->peers[o->npeers] = NULL;
            break;
        case 'l': o->listen = optarg; break;
        case OPT_ADVERTISE:
            if (!cl_adv) o->nadvertise = 0, cl_adv = true;
            rc = split_into(o, cmd, optarg, ",", o->advertise, &o->nadvertise, "advertised addresses");
            break;
        case 't':
            if (!cl_tags) o->ntags = 0, cl_tags = true;
            rc = split_into(o, cmd, optarg, ",", o->tags, &o->ntags, "tags");
            break;
        case OPT_NO_RELAY: o->no_relay = true; break;
        case OPT_NO_DHT: o->no_dht = true; break;
        case OPT_MDNS: o->mdns = true; break;
        case OPT_METRICS: o->metrics = optarg; break;
        case OPT_SHUTDOWN: rc = positive_seconds(cmd, "--shutdown-timeout", optarg, &o->shutdown_timeout_s); break;
        case 'q': o->quiet = true; break;
        case 'v': o->verbose++; break;
        case 'h':
            printf("%s", usage);
            free(all);
            return -1;
        case ':':
            fprintf(stderr, "mosaik %s: option '%s' needs a value\n", cmd, argv[optind - 1]);
            rc = CLI_USAGE;
            break;
        case '?':
            fprintf(stderr, "mosaik %s: unknown option '%s' (try --help)\n", cmd, argv[optind - 1]);
            rc = CLI_USAGE;
            break;
        default:
            rc = on_extra ? on_extra(c, optarg, ctx) : CLI_USAGE;
            break;
        }
    }
    free(all);
    if (rc != CLI_OK) return rc;
    if (optind < argc) {
        fprintf(stderr, "mosaik %s: unexpected argument '%s'\n", cmd, argv[optind]);
        return CLI_USAGE;
    }
    if (o->secret && o->secret_file) {
        fprintf(stderr, "mosaik %s: --secret and --secret-file exclude each other\n", cmd);
        return CLI_USAGE;
    }
    if (o->quiet && (o->verbose > 0 || cli_verbosity > 0)) {
        fprintf(stderr, "mosaik %s: -q and -v exclude each other\n", cmd);
        return CLI_USAGE;
    }
    o->secret_from_user = o->secret || o->secret_file;
    return CLI_OK;
}

void cli_apply_log_level(const cli_net_t *o, mk_log_level_t dflt) {
    int v = o->verbose > cli_verbosity ? o->verbose : cli_verbosity;
    if (o->quiet || cli_verbosity < 0) mk_log_set_level(NULL, MK_LOG_OFF);
    else if (v >= 2) mk_log_set_level(NULL, MK_LOG_TRACE);
    else if (v == 1) mk_log_set_level(NULL, MK_LOG_DEBUG);
    else if (!getenv("MK_LOG")) mk_log_set_level(NULL, dflt);
}

/* ---- the node ---- */

static int read_secret_file(const char *cmd, const char *path, char *out, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "mosaik %s: --secret-file %s: %s\n", cmd, path, strerror(errno));
        return CLI_USAGE;
    }
    bool ok = fgets(out, (int)cap, f) != NULL;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "mosaik %s: --secret-file %s: empty\n", cmd, path);
        return CLI_USAGE;
    }
    out[strcspn(out, "\r\n")] = 0;
    if (!*out) {
        fprintf(stderr, "mosaik %s: --secret-file %s: the first line is empty\n", cmd, path);
        return CLI_USAGE;
    }
    return CLI_OK;
}

mk_network_t *cli_net_start(const cli_net_t *o, const char *cmd, bool *usage_error) {
    *usage_error = false;
    mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
    mk_secret_key_t sk;
    char line[512];
    if (o->secret_file) {
        if (read_secret_file(cmd, o->secret_file, line, sizeof line)) {
            *usage_error = true;
            return NULL;
        }
        mk_secret_key_from_str(line, &sk);
        memset(line, 0, sizeof line);
    } else if (o->secret) {
        mk_secret_key_from_str(o->secret, &sk);
    } else if (mk_secret_key_generate(&sk) != MK_OK) {
        fprintf(stderr, "mosaik %s: the random generator failed\n", cmd);
        return NULL;
    }
    cfg.secret_key = &sk;
    if (o->network) cfg.network = o->network;
    else cfg.network_id = mk_id_random();
    if (o->listen) cfg.bind[0] = o->listen;
    for (size_t i = 0; i < o->nadvertise && i < MK_ADDR_MAX; i++) cfg.advertise[i] = o->advertise[i];
    cfg.metrics_addr = o->metrics;
    double linger = o->shutdown_timeout_s > 0 ? o->shutdown_timeout_s : 5;
    cfg.shutdown_linger_ms = (uint32_t)(linger * 1000 > 60000 ? 60000 : linger * 1000);
    cfg.discovery.bootstrap = o->npeers ? o->peers : NULL;
    cfg.discovery.tags = o->ntags ? o->tags : NULL;
    cfg.discovery.no_auto_bootstrap = o->no_dht;
    cfg.discovery.mdns = o->mdns;
    mk_error_t e;
    mk_network_t *n = mk_network_new(&cfg, &e);
    mk_secret_key_wipe(&sk);
    if (!n) {
        fprintf(stderr, "mosaik %s: cannot start the node: %s\n", cmd, e.msg);
        *usage_error = e.code == MK_EINVAL;
    }
    return n;
}

/* ---- signals and shutdown ---- */

int cli_signals_open(void) {
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int cli_signal_wait(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (fd < 0 || poll(&p, 1, timeout_ms) != 1) return 0;
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof si) != (ssize_t)sizeof si) return 0;
    return (int)si.ssi_signo;
}

void cli_status_line(mk_network_t *n, double started) {
    mk_catalog_t *c = mk_discovery_catalog(n);
    mk_discovery_stats_t st;
    memset(&st, 0, sizeof st);
    mk_discovery_stats(n, &st);
    char up[32];
    fprintf(stderr, "status: peers=%zu links=%llu up=%s\n", c ? mk_catalog_count(c) : 0, (unsigned long long)st.active,
            cli_duration(cli_now() - started, up, sizeof up));
    mk_catalog_free(c);
}

typedef struct watchdog {
    int sigfd, stopfd;
    double timeout_s;
} watchdog_t;

static void *watchdog_main(void *arg) {
    watchdog_t *w = arg;
    double end = cli_now() + w->timeout_s + 1;
    for (;;) {
        double left = end - cli_now();
        if (left <= 0) {
            fprintf(stderr, "mosaik: shutdown took longer than %.0f s; exiting\n", w->timeout_s);
            _exit(0);
        }
        struct pollfd p[2] = {{.fd = w->stopfd, .events = POLLIN}, {.fd = w->sigfd, .events = POLLIN}};
        if (poll(p, w->sigfd >= 0 ? 2 : 1, (int)(left * 1000) + 1) <= 0) continue;
        if (p[0].revents) return NULL;
        if (p[1].revents) {
            struct signalfd_siginfo si;
            if (read(w->sigfd, &si, sizeof si) == (ssize_t)sizeof si && (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)) {
                fprintf(stderr, "mosaik: second signal: exiting without departing\n");
                _exit(CLI_INTERRUPTED);
            }
        }
    }
}

void cli_shutdown(mk_network_t *n, int sigfd, double timeout_s) {
    watchdog_t w = {sigfd, eventfd(0, EFD_CLOEXEC), timeout_s > 0 ? timeout_s : 5};
    pthread_t th;
    bool started = w.stopfd >= 0 && pthread_create(&th, NULL, watchdog_main, &w) == 0;
    mk_network_free(n);
    if (started) {
        uint64_t one = 1;
        if (write(w.stopfd, &one, sizeof one) != (ssize_t)sizeof one) {}
        pthread_join(th, NULL);
    }
    if (w.stopfd >= 0) close(w.stopfd);
}
