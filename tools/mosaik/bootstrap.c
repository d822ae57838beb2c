/* tools/mosaik/bootstrap.c — `mosaik bootstrap` (spec 70 §2.1: a long-lived node others list as their
 * contact; MOSAIK_BOOTSTRAP_* environment; exactly one address line on stdout; banner and peer events
 * on stderr; graceful departure on SIGINT/SIGTERM) and `mosaik beacon` (§2.2: the same node with the
 * Rust CLI's defaults: --network required, tag beacon-node, no environment). */
#include "cli.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *BOOTSTRAP_USAGE =
    "usage: mosaik bootstrap [-n NETWORK] [-s SECRET | --secret-file PATH] [-p ADDR]... [-t TAG]...\n"
    "                        [-l IP:PORT] [--advertise IP:PORT]... [--metrics IP:PORT] [--no-dht] [--mdns]\n"
    "                        [--no-relay] [--shutdown-timeout S] [-v|-vv|-q]\n"
    "Runs a bootstrap node; prints its address line <peer id>@ip:port on stdout. Every option has a\n"
    "MOSAIK_BOOTSTRAP_* variable (NETWORK_ID SECRET SECRET_FILE PEERS TAGS LISTEN ADVERTISE METRICS NO_DHT\n"
    "MDNS NO_RELAY LOGGING QUIET); the command line wins.\n";

static const char *BEACON_USAGE =
    "usage: mosaik beacon -n NETWORK [-s SECRET | --secret-file PATH] [-p ADDR]... [-t TAG]... [-l IP:PORT]\n"
    "                     [--advertise IP:PORT]... [--metrics IP:PORT] [--no-dht] [--mdns] [--no-relay]\n"
    "                     [--shutdown-timeout S] [-v|-vv|-q]\n"
    "The bootstrap node with the Rust CLI's defaults (tag beacon-node, no environment variables).\n";

/* A tag's name when it is one we know (ours or a well-known one), else its short hex. */
static const char *tag_name(const cli_net_t *o, const mk_id_t *tag, char *buf, size_t cap) {
    static const char *known[] = {"bootstrap", "beacon-node", "mosaik.inspect", NULL};
    for (size_t i = 0; i < o->ntags; i++) {
        mk_id_t id = mk_id_from_str(o->tags[i]);
        if (mk_id_eq(&id, tag)) return o->tags[i];
    }
    for (size_t i = 0; known[i]; i++) {
        mk_id_t id = mk_id_from_str(known[i]);
        if (mk_id_eq(&id, tag)) return known[i];
    }
    (void)cap;
    return mk_id_short(tag, buf);
}

/* Takes every pending event; logs them unless quiet. */
static void log_events(const cli_net_t *o, mk_discovery_events_t *evs, bool quiet) {
    mk_peer_event_t ev;
    uint64_t lagged = 0;
    int rc;
    while ((rc = mk_discovery_events_next(evs, &ev, &lagged, 0, NULL)) == MK_OK || rc == MK_ELAGGED) {
        if (rc == MK_ELAGGED) {
            if (!quiet) fprintf(stderr, "(%llu peer events skipped)\n", (unsigned long long)lagged);
            continue;
        }
        if (quiet) {
            mk_peer_event_clear(&ev);
            continue;
        }
        char id[MK_ID_SHORT_LEN + 1], tags[256] = "";
        if (ev.entry) {
            const mk_id_t *t;
            size_t nt = mk_peer_entry_tags(ev.entry, &t);
            for (size_t i = 0; i < nt && strlen(tags) < sizeof tags - 80; i++) {
                char b[MK_ID_SHORT_LEN + 1];
                strcat(tags, i ? "," : " tags ");
                strcat(tags, tag_name(o, &t[i], b, sizeof b));
            }
        }
        mk_id_short(&ev.peer, id);
        if (ev.kind == MK_PEER_DISCOVERED) fprintf(stderr, "peer %s joined%s\n", id, tags);
        else if (ev.kind == MK_PEER_UPDATED && ev.content_changed) fprintf(stderr, "peer %s changed%s\n", id, tags);
        else if (ev.kind == MK_PEER_DEPARTED)
            fprintf(stderr, "peer %s %s\n", id, ev.reason == MK_DEPART_STALE ? "purged (no announcement within purge_after)"
                                                : ev.reason == MK_DEPART_GRACEFUL ? "departed" : "removed");
        mk_peer_event_clear(&ev);
    }
}

static void banner(const cli_net_t *o, mk_network_t *n, const char *title, const char *addr, bool beacon) {
    char b1[32], b2[32];
    mk_network_id_t nid = mk_network_id(n);
    mk_peer_id_t me = mk_network_peer_id(n);
    fprintf(stderr, "%s\n", title);
    fprintf(stderr, "  network : %s  (%s%s%s)\n", cli_id_prefix(&nid, b1, sizeof b1),
            o->network_from_user ? "from \"" : "random", o->network_from_user ? o->network : "",
            o->network_from_user ? "\"" : ": pass -n");
    fprintf(stderr, "  peer id : %s  (%s)\n", cli_id_prefix(&me, b2, sizeof b2),
            o->secret_file ? "stable: from --secret-file" : o->secret ? "stable: from --secret" : "random: changes at restart");
    fprintf(stderr, "  listen  : %s\n", o->listen);
    fprintf(stderr, "  address : %s\n", addr);
    if (beacon) {
        fprintf(stderr, "  ips     :");
        const char *at = strchr(addr, '@');
        fprintf(stderr, " %s\n", at ? at + 1 : addr);
    }
    fprintf(stderr, "  tags    :");
    for (size_t i = 0; i < o->ntags; i++) fprintf(stderr, " %s", o->tags[i]);
    fprintf(stderr, "\n  peers   :");
    if (!o->npeers) fprintf(stderr, " none");
    for (size_t i = 0; i < o->npeers; i++) fprintf(stderr, " %s", o->peers[i]);
    fprintf(stderr, "\n");
    if (beacon) fprintf(stderr, "  relays  : %s\n", o->no_relay ? "disabled" : "none");
    else fprintf(stderr, "  relay   : not built%s\n", o->no_relay ? " (--no-relay has no effect)" : "");
    fprintf(stderr, "  dht     : %s\n", o->no_dht ? "off (--no-dht)" : "not built yet (the auto-bootstrap arrives later)");
    if (o->metrics) fprintf(stderr, "  metrics : http://%s/metrics\n", o->metrics);
    fprintf(stderr, "Press Ctrl+C to stop.\n");
}

static int run_node(cli_net_t *o, const char *cmd, bool beacon) {
    cli_apply_log_level(o, MK_LOG_INFO);
    if (!beacon && !o->network_from_user)
        fprintf(stderr, "mosaik %s: no --network: using a random network id nobody else shares\n", cmd);
    if (!o->secret_from_user)
        fprintf(stderr, "mosaik %s: no --secret: the peer id changes at every start\n", cmd);
    int sigfd = cli_signals_open();
    bool usage_error;
    mk_network_t *n = cli_net_start(o, cmd, &usage_error);
    if (!n) return usage_error ? CLI_USAGE : CLI_FAIL;
    double started = cli_now();
    char addr[MK_ADDR_STR_MAX];
    mk_network_addr_str(n, addr, sizeof addr);
    printf("%s\n", addr);  /* the only line stdout ever gets */
    fflush(stdout);
    if (!o->quiet && cli_verbosity >= 0) banner(o, n, beacon ? "mosaik beacon node" : "mosaik bootstrap node", addr, beacon);
    mk_discovery_events_t *evs = mk_discovery_events(n, NULL);
    for (;;) {
        struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = evs ? mk_discovery_events_fd(evs) : -1, .events = POLLIN}};
        if (poll(p, 2, 1000) < 0) continue;
        if (p[1].revents && evs) log_events(o, evs, o->quiet || cli_verbosity < 0);
        if (p[0].revents) {
            int sig = cli_signal_wait(sigfd, 0);
            if (sig == SIGUSR1) cli_status_line(n, started);
            else if (sig == SIGINT || sig == SIGTERM) break;
        }
    }
    mk_discovery_events_free(evs);
    if (!o->quiet && cli_verbosity >= 0) fprintf(stderr, "departing...\n");
    cli_shutdown(n, sigfd, o->shutdown_timeout_s);
    return CLI_OK;
}

static int bootstrap_main(cli_net_t *o, int argc, char **argv) {
    int rc = cli_net_env(o);
    if (rc) return rc;
    rc = cli_net_parse(argc, argv, "bootstrap", o, NULL, NULL, NULL, BOOTSTRAP_USAGE);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!o->ntags) {
        o->tags[o->ntags++] = "bootstrap";
        o->tags[o->ntags] = NULL;
    }
    return run_node(o, "bootstrap", false);
}

int cmd_bootstrap(int argc, char **argv) {
    cli_net_t o = {.listen = "0.0.0.0:19791", .shutdown_timeout_s = 5};
    int rc = bootstrap_main(&o, argc, argv);
    cli_net_release(&o);
    return rc;
}

static int beacon_main(cli_net_t *o, int argc, char **argv) {
    int rc = cli_net_parse(argc, argv, "beacon", o, NULL, NULL, NULL, BEACON_USAGE);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (!o->network_from_user) {
        fprintf(stderr, "mosaik beacon: --network is required\n");
        return CLI_USAGE;
    }
    if (!o->ntags) {
        o->tags[o->ntags++] = "beacon-node";
        o->tags[o->ntags] = NULL;
    }
    return run_node(o, "beacon", true);
}

int cmd_beacon(int argc, char **argv) {
    cli_net_t o = {.listen = "0.0.0.0:19791", .shutdown_timeout_s = 5};
    int rc = beacon_main(&o, argc, argv);
    cli_net_release(&o);
    return rc;
}
