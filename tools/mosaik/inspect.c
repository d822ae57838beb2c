/* tools/mosaik/inspect.c — `mosaik inspect` (spec 70 §2.4): joins the network as a node tagged
 * mosaik.inspect, probes every catalog peer at most every 10 s (8 at a time) unless --no-probe, and
 * shows the catalog: live full-screen on a TTY (redrawn every --interval, `q` or Ctrl+C quits), as
 * plain snapshots every interval when stdout is not a TTY, or once (--once, --json) after the first
 * catalog sync and 1 s without news (at most --wait). Departs gracefully on exit; 3 when a one-shot
 * answer has fewer than --min-peers peers. */
#include "inspect.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static const char *USAGE =
    "usage: mosaik inspect -n NETWORK -p ADDR... [--interval S] [--once] [--json] [--wait S] [--min-peers N]\n"
    "                      [--name STRING]... [--no-probe] [--include-self] [network options]\n"
    "Joins NETWORK as a node tagged mosaik.inspect and shows its catalog: live on a terminal (q quits),\n"
    "a snapshot every --interval otherwise; --once or --json print one answer and exit (3 if fewer than\n"
    "--min-peers peers). Network options: -s/--secret, --secret-file, -l/--listen, --advertise, -t/--tag,\n"
    "--no-dht, --mdns, --no-relay, --metrics, --shutdown-timeout.\n";

enum { OPT_INTERVAL = 300, OPT_ONCE, OPT_JSON, OPT_WAIT, OPT_MIN_PEERS, OPT_NAME, OPT_NO_PROBE, OPT_INCLUDE_SELF };

static const struct option INSPECT_OPTS[] = {
    {"interval", required_argument, NULL, OPT_INTERVAL}, {"once", no_argument, NULL, OPT_ONCE},
    {"json", no_argument, NULL, OPT_JSON},               {"wait", required_argument, NULL, OPT_WAIT},
    {"min-peers", required_argument, NULL, OPT_MIN_PEERS}, {"name", required_argument, NULL, OPT_NAME},
    {"no-probe", no_argument, NULL, OPT_NO_PROBE},       {"include-self", no_argument, NULL, OPT_INCLUDE_SELF},
    {NULL, 0, NULL, 0}};

static int seconds_arg(const char *opt, const char *arg, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || !end || *end || !(v > 0) || v > 86400) {
        fprintf(stderr, "mosaik inspect: %s '%s': expected seconds (0 < s ≤ 86400)\n", opt, arg);
        return CLI_USAGE;
    }
    *out = v;
    return CLI_OK;
}

static int on_extra(int c, const char *arg, void *ctx) {
    inspect_opts_t *o = ctx;
    switch (c) {
    case OPT_INTERVAL: return seconds_arg("--interval", arg, &o->interval_s);
    case OPT_WAIT: return seconds_arg("--wait", arg, &o->wait_s);
    case OPT_ONCE: o->once = true; return CLI_OK;
    case OPT_JSON: o->json = true; return CLI_OK;
    case OPT_NO_PROBE: o->no_probe = true; return CLI_OK;
    case OPT_INCLUDE_SELF: o->include_self = true; return CLI_OK;
    case OPT_MIN_PEERS: {
        char *end = NULL;
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (errno || !end || *end || v < 0 || v > 1000000) {
            fprintf(stderr, "mosaik inspect: --min-peers '%s': expected a count ≥ 0\n", arg);
            return CLI_USAGE;
        }
        o->min_peers = v;
        return CLI_OK;
    }
    case OPT_NAME:
        if (o->nnames >= CLI_MAX_LIST) {
            fprintf(stderr, "mosaik inspect: at most %d --name\n", CLI_MAX_LIST);
            return CLI_USAGE;
        }
        o->names[o->nnames++] = arg;
        return CLI_OK;
    default: return CLI_USAGE;
    }
}

/* ---- probes ---- */

typedef struct probe_round {
    mk_network_t *n;
    mk_peer_id_t *ids;
    size_t count;
    _Atomic size_t next;
    int timeout_ms;
} probe_round_t;

static void *probe_worker(void *arg) {
    probe_round_t *r = arg;
    size_t i;
    while ((i = atomic_fetch_add(&r->next, 1)) < r->count) {
        uint64_t rtt;
        mk_discovery_ping(r->n, &r->ids[i], NULL, r->timeout_ms, &rtt, NULL);  /* the sample lands in the catalog */
    }
    return NULL;
}

/* Pings every catalog peer once, 8 at a time, each within timeout_ms. */
static void probe_all(mk_network_t *n, int timeout_ms) {
    mk_catalog_t *c = mk_discovery_catalog(n);
    size_t count = c ? mk_catalog_count(c) : 0;
    probe_round_t r = {.n = n, .ids = count ? calloc(count, sizeof *r.ids) : NULL, .timeout_ms = timeout_ms};
    mk_catalog_iter_t it;
    mk_catalog_iter_init(&it, c, 0);
    const mk_peer_entry_t *p;
    while (r.ids && r.count < count && (p = mk_catalog_next(&it))) r.ids[r.count++] = *mk_peer_entry_id(p);
    mk_catalog_free(c);
    pthread_t th[8];
    size_t nth = 0;
    for (; nth < 8 && nth < r.count; nth++)
        if (pthread_create(&th[nth], NULL, probe_worker, &r) != 0) break;
    if (nth == 0 && r.count) probe_worker(&r);
    for (size_t i = 0; i < nth; i++) pthread_join(th[i], NULL);
    free(r.ids);
}

typedef struct prober {
    mk_network_t *n;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, running;
    struct { mk_peer_id_t id; double at; } *seen;  /* when each peer was last probed */
    size_t nseen, capseen;
} prober_t;

/* The catalog peers not probed within the last 10 s (marked as probed now), into ids. */
static size_t due_peers(prober_t *pr, mk_peer_id_t **ids) {
    mk_catalog_t *c = mk_discovery_catalog(pr->n);
    size_t count = c ? mk_catalog_count(c) : 0, k = 0;
    *ids = count ? calloc(count, sizeof **ids) : NULL;
    mk_catalog_iter_t it;
    mk_catalog_iter_init(&it, c, 0);
    const mk_peer_entry_t *p;
    double now = cli_now();
    while (*ids && k < count && (p = mk_catalog_next(&it))) {
        size_t j = 0;
        while (j < pr->nseen && !mk_id_eq(&pr->seen[j].id, mk_peer_entry_id(p))) j++;
        if (j < pr->nseen && now - pr->seen[j].at < 10) continue;
        if (j == pr->nseen) {
            if (pr->nseen == pr->capseen) {
                size_t cap = pr->capseen ? 2 * pr->capseen : 64;
                void *v = realloc(pr->seen, cap * sizeof *pr->seen);
                if (!v) break;
                pr->seen = v;
                pr->capseen = cap;
            }
            pr->seen[pr->nseen++].id = *mk_peer_entry_id(p);
        }
        pr->seen[j].at = now;
        (*ids)[k++] = *mk_peer_entry_id(p);
    }
    mk_catalog_free(c);
    return k;
}

/* Every second: probe the peers that are due (each at most every 10 s), 8 at a time. */
static void *prober_main(void *arg) {
    prober_t *pr = arg;
    for (;;) {
        probe_round_t r = {.n = pr->n, .timeout_ms = 2000};
        r.count = due_peers(pr, &r.ids);
        pthread_t th[8];
        size_t nth = 0;
        for (; nth < 8 && nth < r.count; nth++)
            if (pthread_create(&th[nth], NULL, probe_worker, &r) != 0) break;
        for (size_t i = 0; i < nth; i++) pthread_join(th[i], NULL);
        free(r.ids);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_mutex_lock(&pr->mu);
        while (!pr->stop && pthread_cond_timedwait(&pr->cv, &pr->mu, &until) == 0) {}
        bool stop = pr->stop;
        pthread_mutex_unlock(&pr->mu);
        if (stop) return NULL;
    }
}

static void prober_start(prober_t *pr, mk_network_t *n) {
    memset(pr, 0, sizeof *pr);
    pr->n = n;
    pthread_mutex_init(&pr->mu, NULL);
    pthread_cond_init(&pr->cv, NULL);
    pr->running = pthread_create(&pr->th, NULL, prober_main, pr) == 0;
}

static void prober_stop(prober_t *pr) {
    if (!pr->running) return;
    pthread_mutex_lock(&pr->mu);
    pr->stop = true;
    pthread_cond_signal(&pr->cv);
    pthread_mutex_unlock(&pr->mu);
    pthread_join(pr->th, NULL);
    pthread_cond_destroy(&pr->cv);
    pthread_mutex_destroy(&pr->mu);
    free(pr->seen);
}

/* ---- snapshots ---- */

static void snap_take(const inspect_opts_t *o, mk_network_t *n, double started, inspect_snap_t *s) {
    memset(s, 0, sizeof *s);
    s->cat = mk_discovery_catalog(n);
    s->count = s->cat ? mk_catalog_count(s->cat) : 0;
    s->self = o->include_self ? mk_discovery_me(n) : NULL;
    s->network = mk_network_id(n);
    s->me = mk_network_peer_id(n);
    size_t k = mk_discovery_active_view(n, s->active, 64);
    s->nactive = k < 64 ? k : 64;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    s->now_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    s->up_s = cli_now() - started;
}

static void snap_free(inspect_snap_t *s) {
    mk_catalog_free(s->cat);
    mk_peer_entry_unref(s->self);
    memset(s, 0, sizeof *s);
}

/* ---- one-shot: wait for the first sync and 1 s of quiet ---- */

/* Returns CLI_OK, or CLI_INTERRUPTED when a signal came first. */
static int settle(const inspect_opts_t *o, mk_network_t *n, int sigfd) {
    double end = cli_now() + o->wait_s;
    for (size_t i = 0; i < o->net.npeers; i++) {  /* the first catalog sync with each contact */
        int left = (int)((end - cli_now()) * 1000);
        if (left <= 0) break;
        mk_error_t e;
        if (mk_discovery_sync_with(n, o->net.peers[i], left, &e) != MK_OK)
            fprintf(stderr, "mosaik inspect: catalog sync with %s failed: %s\n", o->net.peers[i], e.msg);
        if (cli_signal_wait(sigfd, 0) == SIGINT) return CLI_INTERRUPTED;
    }
    mk_catalog_watch_t *w = mk_catalog_watch(n, NULL);
    for (;;) {
        double left = end - cli_now();
        if (left <= 0 || !w) break;
        int sig = cli_signal_wait(sigfd, 0);
        if (sig == SIGINT || sig == SIGTERM) {
            mk_catalog_watch_free(w);
            return CLI_INTERRUPTED;
        }
        int quiet_ms = left < 1 ? (int)(left * 1000) + 1 : 1000;
        if (mk_catalog_watch_changed(w, quiet_ms, NULL) != MK_OK) {
            mk_catalog_t *c = mk_discovery_catalog(n);
            long k = c ? (long)mk_catalog_count(c) : 0;
            mk_catalog_free(c);
            if (k >= o->min_peers) break;  /* quiet for 1 s with enough peers */
            continue;
        }
        mk_catalog_free(mk_catalog_watch_latest(w));
    }
    mk_catalog_watch_free(w);
    if (!o->no_probe) {
        double left = end - cli_now();
        probe_all(n, left > 2 ? 2000 : left > 0.2 ? (int)(left * 1000) : 200);
    }
    return CLI_OK;
}

/* ---- live ---- */

static bool use_color(void) {
    if (cli_color == 0) return false;
    if (cli_color == 1) return true;
    return isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
}

static int live_tty(const inspect_opts_t *o, mk_network_t *n, int sigfd, double started) {
    struct termios saved, raw;
    bool have_tty = tcgetattr(STDIN_FILENO, &saved) == 0;
    if (have_tty) {
        raw = saved;
        raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    fputs("\x1b[?1049h\x1b[?25l", stdout);  /* alternate screen, cursor hidden */
    bool bold = use_color();
    for (bool quit = false; !quit;) {
        inspect_snap_t s;
        snap_take(o, n, started, &s);
        char *text = inspect_render_text(o, &s, bold);
        snap_free(&s);
        printf("\x1b[H\x1b[2J%s", text ? text : "");
        fflush(stdout);
        free(text);
        double until = cli_now() + o->interval_s;
        while (!quit) {
            double left = until - cli_now();
            if (left <= 0) break;
            struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = have_tty ? STDIN_FILENO : -1, .events = POLLIN}};
            if (poll(p, 2, (int)(left * 1000) + 1) <= 0) continue;
            if (p[0].revents) {
                int sig = cli_signal_wait(sigfd, 0);
                if (sig == SIGINT || sig == SIGTERM) quit = true;
                else if (sig == SIGUSR1) cli_status_line(n, started);
            }
            if (p[1].revents) {
                char ch;
                while (read(STDIN_FILENO, &ch, 1) == 1)
                    if (ch == 'q' || ch == 'Q' || ch == 3) quit = true;
            }
        }
    }
    fputs("\x1b[?25h\x1b[?1049l", stdout);  /* the terminal as it was */
    fflush(stdout);
    if (have_tty) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    return CLI_OK;
}

static int live_plain(const inspect_opts_t *o, mk_network_t *n, int sigfd, double started) {
    for (;;) {
        inspect_snap_t s;
        snap_take(o, n, started, &s);
        char *text = inspect_render_text(o, &s, false);
        snap_free(&s);
        printf("%s\n", text ? text : "");
        fflush(stdout);
        free(text);
        double until = cli_now() + o->interval_s;
        for (;;) {
            double left = until - cli_now();
            if (left <= 0) break;
            int sig = cli_signal_wait(sigfd, (int)(left * 1000) + 1);
            if (sig == SIGINT || sig == SIGTERM) return CLI_OK;
            if (sig == SIGUSR1) cli_status_line(n, started);
        }
    }
}

/* ---- the command ---- */

static int inspect_main(inspect_opts_t *o, int argc, char **argv);

int cmd_inspect(int argc, char **argv) {
    inspect_opts_t o = {.net = {.listen = "0.0.0.0:0", .shutdown_timeout_s = 5}, .interval_s = 1, .wait_s = 5, .min_peers = 1};
    int rc = inspect_main(&o, argc, argv);
    cli_net_release(&o.net);
    return rc;
}

static int inspect_main(inspect_opts_t *o, int argc, char **argv) {
    int rc = cli_net_parse(argc, argv, "inspect", &o->net, INSPECT_OPTS, on_extra, o, USAGE);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!o->net.network_from_user) {
        fprintf(stderr, "mosaik inspect: --network is required\n");
        return CLI_USAGE;
    }
    /* tagged mosaik.inspect, plus any -t */
    if (o->net.ntags < CLI_MAX_LIST) o->net.tags[o->net.ntags++] = "mosaik.inspect";
    o->net.tags[o->net.ntags] = NULL;
    cli_apply_log_level(&o->net, MK_LOG_WARN);
    int sigfd = cli_signals_open();
    bool usage_error;
    mk_network_t *n = cli_net_start(&o->net, "inspect", &usage_error);
    if (!n) return usage_error ? CLI_USAGE : CLI_FAIL;
    double started = cli_now();
    bool one_shot = o->json || o->once;
    if (one_shot) {
        rc = settle(o, n, sigfd);
        if (rc == CLI_OK) {
            inspect_snap_t s;
            snap_take(o, n, started, &s);
            char *out = o->json ? inspect_render_json(o, &s) : inspect_render_text(o, &s, false);
            if (out) printf(o->json ? "%s\n" : "%s", out);
            else rc = CLI_FAIL;
            fflush(stdout);
            free(out);
            if (rc == CLI_OK && (long)s.count < o->min_peers) rc = CLI_NEGATIVE;
            snap_free(&s);
        }
    } else {
        prober_t pr = {0};
        if (!o->no_probe) prober_start(&pr, n);
        rc = isatty(STDOUT_FILENO) ? live_tty(o, n, sigfd, started) : live_plain(o, n, sigfd, started);
        prober_stop(&pr);
    }
    cli_shutdown(n, sigfd, o->net.shutdown_timeout_s);
    return rc;
}
