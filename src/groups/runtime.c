/* groups/runtime.c — the groups subsystem of a network (spec 40): configuration defaults, the
 * /mosaik/groups/1 acceptor, the catalog watch that drives bond formation, and the shutdown order
 * (groups end their calls, send Departure and close their bonds with 204 before the network closes
 * the rest). */
#include "groups/groups.h"
#include "groups/groups_int.h"

#include "core/error.h"
#include "core/time.h"
#include "discovery/entry.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

int64_t mk_groups_now(void) { return mk_now_ms(); }

uint64_t mk_groups_rand(void) {
    uint64_t v = 0;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1) v = (uint64_t)mk_now_us() * 0x9e3779b97f4a7c15ull;
    return v;
}

mk_groups_t *mk_groups_of(mk_network_t *n) { return n ? mk_net_subsystem(n, MK_SUBSYS_GROUPS) : NULL; }

mk_gstate_t *mk_groups_find(mk_groups_t *gs, const mk_id_t *id) {
    for (mk_gstate_t *g = gs->groups; g; g = g->next)
        if (mk_id_eq(&g->id, id)) return g;
    return NULL;
}

static void on_accept(mk_network_t *n, void *ctx, mk_link_t *l) {
    (void)n;
    mk_bond_accept(ctx, l);
}

static void on_catalog(void *ctx) {
    mk_groups_t *gs = ctx;
    if (gs->stopping || !gs->groups) return;
    mk_catalog_t *cat = mk_discovery_catalog(gs->n);
    if (!cat) return;
    const mk_peer_entry_t *local = mk_catalog_local(cat);
    bool local_changed = false;
    if (local && mk_peer_entry_is_signed(local)) {
        mk_entry_version_t v = mk_peer_entry_version(local);
        local_changed = v.start_ms != gs->local_version.start_ms || v.update_ms != gs->local_version.update_ms;
        gs->local_version = v;
    }
    for (mk_gstate_t *g = gs->groups; g; g = g->next) {
        if (g->terminated) continue;
        if (local_changed) mk_bond_send_entry_update(g, local);
        mk_bond_catalog_pass(g, cat);
    }
    mk_catalog_free(cat);
}

static void groups_start(mk_network_t *n, void *state) {
    mk_groups_t *gs = state;
    gs->watch = mk_catalog_watch(n, NULL);
    if (gs->watch) mk_catalog_watch_set_callback(gs->watch, on_catalog, gs);
}

static void groups_stop(mk_network_t *n, void *state) {
    (void)n;
    mk_groups_t *gs = state;
    gs->stopping = true;
    if (gs->watch) mk_catalog_watch_set_callback(gs->watch, NULL, NULL);
    while (gs->handshakes) mk_bond_close(gs->handshakes, MK_CLOSE_GRACEFUL_SHUTDOWN, "shutting down");
    for (mk_gstate_t *g = gs->groups; g; g = g->next) {
        mk_gstate_depart(g);
        mk_gstate_terminate(g, "the network is shutting down");
    }
}

static void groups_destroy(void *state) {
    mk_groups_t *gs = state;
    if (!gs) return;
    while (gs->groups) {
        mk_gstate_t *g = gs->groups;
        gs->groups = g->next;
        mk_gstate_shutdown(g);
        atomic_store(&g->net_gone, true);
        mk_gstate_unhold(g);
    }
    if (gs->watch) mk_catalog_watch_free(gs->watch);
    free(gs);
}

int mk_groups_install(mk_network_t *n, const mk_groups_config_t *cfg, mk_error_t *e) {
    mk_groups_t *gs = calloc(1, sizeof *gs);
    if (!gs) return MK_ERR(e, MK_ENOMEM, "out of memory");
    gs->n = n;
    gs->net_id = mk_network_id(n);
    gs->self = mk_network_peer_id(n);
    if (cfg) gs->cfg = *cfg;
    if (!gs->cfg.handshake_timeout_ms) gs->cfg.handshake_timeout_ms = 2000;
    if (!gs->cfg.max_pending_handshakes) gs->cfg.max_pending_handshakes = 256;
    mk_registry_t *r = mk_net_registry(n);
    gs->m_active = mk_metrics_gauge(r, "mosaik_groups_active", NULL);
    int rc = mk_net_register(n, MK_GROUPS_ALPN, on_accept, gs, e);
    mk_subsystem_t s = {.state = gs, .start = groups_start, .stop = groups_stop, .destroy = groups_destroy};
    if (rc == MK_OK) rc = mk_net_install(n, MK_SUBSYS_GROUPS, &s, e);
    if (rc != MK_OK) groups_destroy(gs);
    return rc;
}
