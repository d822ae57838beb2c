/* support/mkt_disc.c — discovery fixtures for integration tests (see mkt_disc.h). */
#include "support/mkt_disc.h"

#include "net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mkt_disc_fast(mk_network_config_t *cfg) {
    mk_discovery_config_t *d = &cfg->discovery;
    d->announce_interval_ms = 1000;
    d->purge_after_ms = 10000;
    d->gossip_flush_ms = 100;
    d->sync_interval_ms = 5000;
    d->shuffle_interval_ms = 5000;
    d->rtt_probe_interval_ms = 1000;
    d->departure_window_ms = 300;
    d->no_auto_bootstrap = true;
}

mk_network_t *mkt_disc_node(const char *contact, void (*tweak)(mk_network_config_t *cfg)) {
    static __thread const char *boot[2];
    boot[0] = contact;
    boot[1] = NULL;
    mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
    cfg.network_id = mkt_network_id();
    cfg.bind[0] = "127.0.0.1:0";
    cfg.shutdown_linger_ms = 500;
    mkt_disc_fast(&cfg);
    if (contact) cfg.discovery.bootstrap = boot;
    if (tweak) tweak(&cfg);
    mk_error_t e;
    mk_network_t *n = mk_network_new(&cfg, &e);
    if (!n) fail_msg("mk_network_new: %s", e.msg);
    return n;
}

void mkt_disc_addr(mk_network_t *n, char *buf, size_t cap) {
    int rc = mk_network_addr_str(n, buf, cap);
    if (rc < 0 || (size_t)rc >= cap) fail_msg("mk_network_addr_str failed (%d)", rc);
}

size_t mkt_disc_count(mk_network_t *n) {
    mk_catalog_t *c = mk_discovery_catalog(n);
    size_t k = c ? mk_catalog_count(c) : 0;
    mk_catalog_free(c);
    return k;
}

bool mkt_disc_complete(mk_network_t *const *nets, size_t n) {
    for (size_t i = 0; i < n; i++) {
        mk_catalog_t *c = mk_discovery_catalog(nets[i]);
        if (!c) return false;
        bool ok = mk_catalog_count(c) == n - 1;
        for (size_t j = 0; ok && j < n; j++) {
            if (j == i) continue;
            mk_peer_id_t id = mk_network_peer_id(nets[j]);
            ok = mk_catalog_get(c, &id) != NULL;
        }
        mk_catalog_free(c);
        if (!ok) return false;
    }
    return true;
}

void mkt_disc_wait_complete(mk_network_t *const *nets, size_t n, double secs) {
    double t0 = mkt_now();
    while (!mkt_disc_complete(nets, n)) {
        if (mkt_now() - t0 > T(secs)) {
            fprintf(stderr, "catalog sizes after %.1f s (want %zu each):", mkt_now() - t0, n - 1);
            for (size_t i = 0; i < n; i++) fprintf(stderr, " %zu", mkt_disc_count(nets[i]));
            fprintf(stderr, "\n");
            fail_msg("catalogs did not complete within %.1f s", T(secs));
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

bool mkt_disc_overlay_connected(mk_network_t *const *nets, size_t n) {
    bool *seen = calloc(n, sizeof *seen);
    size_t *queue = calloc(n, sizeof *queue);
    size_t head = 0, tail = 0, reached = 1;
    seen[0] = true;
    queue[tail++] = 0;
    while (head < tail) {
        size_t i = queue[head++];
        mk_peer_id_t view[64];
        size_t k = mk_discovery_active_view(nets[i], view, 64);
        if (k > 64) k = 64;
        for (size_t a = 0; a < k; a++) {
            for (size_t j = 0; j < n; j++) {
                mk_peer_id_t id = mk_network_peer_id(nets[j]);
                if (!seen[j] && mk_id_eq(&id, &view[a])) {
                    seen[j] = true;
                    reached++;
                    queue[tail++] = j;
                }
            }
        }
    }
    free(seen);
    free(queue);
    return reached == n;
}

const mk_peer_entry_t *mkt_disc_entry(mk_network_t *n, const mk_peer_id_t *peer) {
    mk_catalog_t *c = mk_discovery_catalog(n);
    if (!c) return NULL;
    const mk_peer_entry_t *e = mk_catalog_get(c, peer);
    if (e) mk_peer_entry_ref(e);
    mk_catalog_free(c);
    return e;
}

void mkt_network_kill(mk_network_t *n) {
    mk_network_test_kill(n);
}

bool mkt_disc_wait_event(mk_discovery_events_t *s, mk_peer_event_kind_t kind, const mk_peer_id_t *peer,
                         double secs, mk_peer_event_t *out) {
    double t0 = mkt_now();
    for (;;) {
        double left = T(secs) - (mkt_now() - t0);
        if (left <= 0) return false;
        uint64_t lagged = 0;
        mk_error_t e;
        int rc = mk_discovery_events_next(s, out, &lagged, (int)(left * 1000) + 1, &e);
        if (rc == MK_ETIMEDOUT) return false;
        if (rc == MK_ELAGGED) continue;
        if (rc != MK_OK) fail_msg("mk_discovery_events_next: %s", e.msg);
        if (out->kind == kind && (!peer || mk_id_eq(&out->peer, peer))) return true;
        mk_peer_event_clear(out);
    }
}

void mkt_disc_cluster(mk_network_t **nets, size_t n, char *boot) {
    char addr[MK_ADDR_STR_MAX];
    nets[0] = mkt_disc_node(NULL, NULL);
    mkt_disc_addr(nets[0], addr, sizeof addr);
    if (boot) memcpy(boot, addr, sizeof addr);
    for (size_t i = 1; i < n; i++) nets[i] = mkt_disc_node(addr, NULL);
    mkt_disc_wait_complete(nets, n, 5);
}

void mkt_disc_free_all(mk_network_t **nets, size_t n) {
    for (size_t i = 0; i < n; i++) {
        mk_network_free(nets[i]);
        nets[i] = NULL;
    }
}
