/* examples/bootstrap.c — a bootstrap node is just a network configuration (spec 70 §3.4).
 *
 *   bootstrap -n NETWORK -s SECRET [-t TAG]... [-p PEER]... [-l IP:PORT]
 *       runs a node with a stable identity, prints its address line and waits for SIGINT/SIGTERM,
 *       then departs gracefully;
 *   bootstrap -n NETWORK --join ADDR
 *       starts an ordinary node that bootstraps from ADDR, waits for the first catalog sync, prints
 *       the peers it learned (short id and tags) and exits.
 *
 * Secrets and network names go through mk_id_from_str: the same string always gives the same key. */
#include <mosaik/mosaik.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST 16

static int usage(void) {
    fprintf(stderr, "usage: bootstrap -n NETWORK -s SECRET [-t TAG]... [-p PEER]... [-l IP:PORT]\n"
                    "       bootstrap -n NETWORK --join ADDR\n");
    return 2;
}

/* The bootstrap node: runs until SIGINT or SIGTERM. */
static int serve(mk_network_config_t *cfg) {
    sigset_t set;  /* blocked before any thread starts, then taken with sigwait */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    mk_error_t e;
    mk_network_t *n = mk_network_new(cfg, &e);
    if (!n) {
        fprintf(stderr, "bootstrap: %s\n", e.msg);
        return 1;
    }
    char addr[MK_ADDR_STR_MAX];
    mk_network_addr_str(n, addr, sizeof addr);
    printf("%s\n", addr);  /* others list this as their bootstrap peer */
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    mk_network_free(n);  /* a signed departure, then Close 204 on every link */
    return 0;
}

/* The other side: join through addr, sync once, list the peers. */
static int join(mk_network_config_t *cfg, const char *addr) {
    const char *boot[] = {addr, NULL};
    cfg->discovery.bootstrap = boot;
    mk_error_t e;
    mk_network_t *n = mk_network_new(cfg, &e);
    if (!n) {
        fprintf(stderr, "bootstrap --join: %s\n", e.msg);
        return 1;
    }
    int rc = mk_discovery_sync_with(n, addr, 5000, &e);  /* blocks until the catalogs are merged */
    if (rc != MK_OK) {
        fprintf(stderr, "bootstrap --join: catalog sync with %s failed: %s\n", addr, e.msg);
        mk_network_free(n);
        return 1;
    }
    mk_catalog_t *c = mk_discovery_catalog(n);
    printf("%zu peer(s) learned from %.10s\n", mk_catalog_count(c), addr);
    mk_catalog_iter_t it;
    mk_catalog_iter_init(&it, c, 0);
    const mk_peer_entry_t *p;
    while ((p = mk_catalog_next(&it))) {
        char id[MK_ID_SHORT_LEN + 1];
        printf("  %s  tags:", mk_id_short(mk_peer_entry_id(p), id));
        const mk_id_t *tags;
        size_t k = mk_peer_entry_tags(p, &tags);
        mk_id_t boot_tag = mk_id_from_str("bootstrap");  /* tags are ids: names we know can be shown */
        for (size_t i = 0; i < k; i++) {
            char t[MK_ID_SHORT_LEN + 1];
            printf(" %s", mk_id_eq(&tags[i], &boot_tag) ? "bootstrap" : mk_id_short(&tags[i], t));
        }
        printf("%s\n", k ? "" : " none");
    }
    mk_catalog_free(c);
    mk_network_free(n);
    return 0;
}

int main(int argc, char **argv) {
    const char *network = NULL, *secret = NULL, *listen = NULL, *join_addr = NULL;
    const char *tags[MAX_LIST + 1] = {0}, *peers[MAX_LIST + 1] = {0};
    size_t ntags = 0, npeers = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return usage();
        if (!strcmp(a, "-n")) network = v;
        else if (!strcmp(a, "-s")) secret = v;
        else if (!strcmp(a, "-l")) listen = v;
        else if (!strcmp(a, "--join")) join_addr = v;
        else if (!strcmp(a, "-t") && ntags < MAX_LIST) tags[ntags++] = v;
        else if (!strcmp(a, "-p") && npeers < MAX_LIST) peers[npeers++] = v;
        else return usage();
        i++;
    }
    if (!network || (!secret && !join_addr)) return usage();
    if (!ntags && !join_addr) tags[ntags++] = "bootstrap";

    mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
    cfg.network = network;                 /* the name all nodes share */
    mk_secret_key_t sk;
    if (secret) {
        mk_secret_key_from_str(secret, &sk);  /* a stable peer id across restarts */
        cfg.secret_key = &sk;
    }
    cfg.bind[0] = listen ? listen : join_addr ? "0.0.0.0:0" : "0.0.0.0:19791";
    cfg.discovery.tags = tags;
    cfg.discovery.bootstrap = npeers ? peers : NULL;
    cfg.discovery.no_auto_bootstrap = true;  /* contacts are given explicitly here */
    int rc = join_addr ? join(&cfg, join_addr) : serve(&cfg);
    if (secret) mk_secret_key_wipe(&sk);
    return rc;
}
