/* groups/lifecycle.c — creating, publishing and freeing a joined group's state (spec 40 §1, §5): the
 * Raft core over the configured store, the tick and deferred-processing events, the metrics, and the
 * published copy (status, bonds, topology) with the events and readiness fd that follow its changes. */
#include "groups/groups_int.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

static void tick_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_gstate_t *g = arg;
    mk_gstate_tick(g);
    if (g->terminated) return;
    static const int every = 500 / MK_GROUPS_TICK_MS;  /* catalog pass: backoffs and delayed dials */
    if (++g->ticks % (uint64_t)every == 0) {
        mk_catalog_t *cat = mk_discovery_catalog(g->n);
        if (cat) {
            mk_bond_catalog_pass(g, cat);
            mk_catalog_free(cat);
        }
    }
}

static void kick_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_gstate_process(arg);
}

void mk_gstate_kick(mk_gstate_t *g) {
    if (g->kick_ev && !g->terminated) event_active(g->kick_ev, EV_TIMEOUT, 0);
}

mk_gstate_t *mk_gstate_new(mk_groups_t *gs, const mk_group_config_t *cfg, const mk_id_t *id, mk_error_t *e) {
    mk_gstate_t *g = calloc(1, sizeof *g);
    if (!g) {
        mk_log_store_free(cfg->store);
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    g->gs = gs;
    g->n = gs->n;
    g->id = *id;
    mk_id_short(id, g->short_id);
    g->cfg = *cfg;
    g->key = cfg->key;
    g->machine = cfg->machine ? cfg->machine : &MK_NOOP_MACHINE;
    g->machine_self = cfg->machine_self;
    g->pref = g->machine->leadership ? g->machine->leadership(g->machine_self) : (mk_leadership_t){MK_LEAD_NORMAL, 1};
    g->store = cfg->store;
    g->session = mk_groups_rand() | 1;
    atomic_init(&g->holds, 1);
    atomic_init(&g->net_gone, false);
    atomic_init(&g->ncalls, 0);
    pthread_mutex_init(&g->mu, NULL);
    mk_cond_init(&g->cv);
    int rc = mk_readyfd_init(&g->ready);
    if (rc != MK_OK) {
        MK_ERR(e, rc, "group: no readiness fd");
        goto fail;
    }
    if (cfg->n_validators) {
        g->validators = calloc(cfg->n_validators, sizeof *g->validators);
        if (!g->validators) goto oom;
        for (size_t i = 0; i < cfg->n_validators; i++) g->validators[i] = mk_ticket_validator_ref(cfg->validators[i]);
        g->cfg.validators = g->validators;
    }
    if (!g->store) g->store = mk_log_store_memory();
    if (!g->store) goto oom;
    uint32_t frame = mk_net_config(gs->n)->max_frame_size;
    mk_raft_body_t base;
    mk_index_t base_index = 0;
    int rrc = mk_gsnap_restore(g, &base, &base_index, e);
    if (rrc != MK_OK && rrc != MK_ENOTFOUND) goto fail;
    mk_raft_config_t rc_cfg = {.self = gs->self, .cc = cfg->consensus, .preference = g->pref, .store = g->store,
                               .base_config = rrc == MK_OK ? &base : NULL, .base_config_index = base_index,
                               .applied = rrc == MK_OK ? g->applied : 0,
                               .snapshot_sync = cfg->sync.kind == MK_SYNC_SNAPSHOT && mk_gsnap_capable(g),
                               .sync = cfg->sync, .max_message_bytes = frame > 4096 ? frame - 1024 : frame,
                               .seed = mk_groups_rand(), .auto_recover = cfg->store == NULL};
    g->raft = mk_raft_new(&rc_cfg, mk_groups_now(), e);
    if (!g->raft) goto fail;
    mk_raft_status_t st;
    mk_raft_status(g->raft, &st);
    g->incarnation = st.incarnation;
    g->tick_ev = event_new(mk_net_base(gs->n), -1, EV_PERSIST, tick_cb, g);
    g->kick_ev = event_new(mk_net_base(gs->n), -1, 0, kick_cb, g);
    if (!g->tick_ev || !g->kick_ev) goto oom;
    struct timeval tv = {0, MK_GROUPS_TICK_MS * 1000};
    event_add(g->tick_ev, &tv);
    mk_registry_t *r = mk_net_registry(gs->n);
    const char *kv[] = {"group", g->short_id, NULL};
    g->m_committed = mk_metrics_gauge(r, "mosaik_groups_raft_committed", kv);
    g->m_voters = mk_metrics_gauge(r, "mosaik_groups_raft_committee_voters", kv);
    g->m_bonds = mk_metrics_gauge(r, "mosaik_groups_bonds_active", kv);
    g->m_commands = mk_metrics_counter(r, "mosaik_groups_commands", kv);
    g->m_sync_sessions = mk_metrics_counter(r, "mosaik_groups_sync_sessions", kv);
    g->m_recoveries = mk_metrics_counter(r, "mosaik_groups_recoveries", kv);
    g->m_elections = mk_metrics_counter(r, "mosaik_groups_raft_elections", kv);
    g->m_leader_changes = mk_metrics_counter(r, "mosaik_groups_raft_leader_changes", kv);
    g->m_tx_bytes = mk_metrics_counter(r, "mosaik_groups_bonds_bytes_sent", kv);
    g->m_rx_bytes = mk_metrics_counter(r, "mosaik_groups_bonds_bytes_received", kv);
    g->m_tx_msgs = mk_metrics_counter(r, "mosaik_groups_bonds_messages_sent", kv);
    g->m_rx_msgs = mk_metrics_counter(r, "mosaik_groups_bonds_messages_received", kv);
    mk_gauge_add(gs->m_active, 1);
    g->last_role = MK_RAFT_FOLLOWER;
    mk_gstate_publish(g);
    MK_LOGF(MK_MOD_GROUPS, MK_LOG_INFO, mk_net_self(gs->n), "group %s: joined (incarnation %016llx, %s store)",
            g->short_id, (unsigned long long)g->incarnation, cfg->store ? "given" : "in-memory");
    return g;
oom:
    MK_ERR(e, MK_ENOMEM, "out of memory");
fail:
    g->terminated = true;
    mk_gstate_shutdown(g);
    mk_gstate_unhold(g);
    return NULL;
}

void mk_gstate_shutdown(mk_gstate_t *g) {
    if (!g->terminated) mk_gstate_terminate(g, "group shut down");
    while (g->bonds) mk_bond_close(g->bonds, MK_CLOSE_GRACEFUL_SHUTDOWN, "group left");
    if (g->tick_ev) event_free(g->tick_ev);
    if (g->kick_ev) event_free(g->kick_ev);
    g->tick_ev = g->kick_ev = NULL;
    mk_gsnap_fetch_stop(g);
    mk_gsnap_free_all(g);
    if (g->raft) {
        mk_raft_free(g->raft);
        g->raft = NULL;
        mk_gauge_add(g->gs->m_active, -1);
    }
    if (g->store) {
        mk_log_store_free(g->store);
        g->store = NULL;
    }
    if (g->machine && g->machine->destroy) g->machine->destroy(g->machine_self);
    g->machine = NULL;
}

void mk_gstate_unhold(mk_gstate_t *g) {
    if (atomic_fetch_sub(&g->holds, 1) != 1) return;
    for (size_t i = 0; g->validators && i < g->cfg.n_validators; i++) mk_ticket_validator_unref(g->validators[i]);
    free(g->validators);
    free(g->sessions);
    free(g->pub_bonds);
    free(g->pub_edges);
    mk_readyfd_close(&g->ready);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* ---- publishing ---- */

static int edge_cmp(const void *a, const void *b) { return memcmp(a, b, sizeof(mk_bond_edge_t)); }

static mk_bond_edge_t edge(const mk_id_t *x, const mk_id_t *y) {
    return memcmp(x->b, y->b, 32) < 0 ? (mk_bond_edge_t){*x, *y} : (mk_bond_edge_t){*y, *x};
}

/* Rebuilds the bond list and the topology (own bonds plus the edges live peers reported). */
static void build_bonds(mk_gstate_t *g, mk_bond_info_t **bonds, size_t *nb, mk_bond_edge_t **edges, size_t *ne) {
    size_t nlive = 0, nrep = 0;
    for (mk_bond_t *b = g->bonds; b; b = b->next)
        if (b->state == MK_BOND_LIVE) nlive++, nrep += b->nreported;
    *bonds = calloc(nlive ? nlive : 1, sizeof **bonds);
    *edges = calloc(nlive + nrep ? nlive + nrep : 1, sizeof **edges);
    *nb = *ne = 0;
    if (!*bonds || !*edges) return;
    for (mk_bond_t *b = g->bonds; b; b = b->next) {
        if (b->state != MK_BOND_LIVE) continue;
        mk_bond_info_t *i = &(*bonds)[(*nb)++];
        i->peer = b->peer;
        i->bond_id = b->bond_id;
        i->incarnation = b->incarnation;
        i->dialer = b->dialer;
        uint32_t srtt = 0, var = 0;
        if (b->link && mk_link_rtt(b->link, &srtt, &var) == MK_OK) i->rtt_us = srtt;
        (*edges)[(*ne)++] = edge(&g->gs->self, &b->peer);
        for (size_t k = 0; k < b->nreported; k++) (*edges)[(*ne)++] = edge(&b->peer, &b->reported[k]);
    }
    qsort(*edges, *ne, sizeof **edges, edge_cmp);
    size_t u = 0;
    for (size_t k = 0; k < *ne; k++)
        if (!u || edge_cmp(&(*edges)[u - 1], &(*edges)[k])) (*edges)[u++] = (*edges)[k];
    *ne = u;
}

void mk_gstate_publish(mk_gstate_t *g) {
    if (!g->raft) return;
    mk_raft_status_t st;
    mk_raft_status(g->raft, &st);
    mk_group_status_t s;
    memset(&s, 0, sizeof s);
    s.role = (mk_group_role_t)st.role;
    s.member = g->pref.kind == MK_LEAD_OBSERVER ? MK_MEMBER_OBSERVER : st.is_voter ? MK_MEMBER_VOTER : MK_MEMBER_LEARNER;
    s.term = st.term;
    s.has_leader = st.has_leader;
    if (st.has_leader) s.leader = st.leader;
    s.online = st.online;
    s.diverged = st.diverged;
    s.has_origin = st.has_origin;
    if (st.has_origin) s.origin = st.origin;
    s.commit_index = st.commit;
    s.committed = g->applied < st.commit ? g->applied : st.commit;
    s.last = st.last;
    s.terminated = g->terminated;
    s.n_voters = st.nvoters;
    for (size_t i = 0; i < st.nvoters && i < 32; i++) s.voters[i] = st.voters[i].peer;
    for (mk_bond_t *b = g->bonds; b; b = b->next) s.n_bonds += b->state == MK_BOND_LIVE;

    mk_group_status_t old;
    pthread_mutex_lock(&g->mu);
    old = g->pub;
    pthread_mutex_unlock(&g->mu);
    bool bonds_changed = g->bonds_seq != g->bonds_published;
    if (!bonds_changed && !memcmp(&old, &s, sizeof s)) return;

    mk_bond_info_t *bonds = NULL;
    mk_bond_edge_t *edges = NULL;
    size_t nb = 0, ne = 0;
    if (bonds_changed) build_bonds(g, &bonds, &nb, &edges, &ne);
    pthread_mutex_lock(&g->mu);
    g->pub = s;
    g->pub_seq++;
    if (bonds_changed) {
        free(g->pub_bonds);
        free(g->pub_edges);
        g->pub_bonds = bonds;
        g->pub_nbonds = nb;
        g->pub_edges = edges;
        g->pub_nedges = ne;
        g->bonds_published = g->bonds_seq;
        g->pub_bonds_seq++;
    }
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    mk_readyfd_set(&g->ready, true);

    mk_gauge_set(g->m_committed, (int64_t)s.committed);
    if (st.sync_sessions > g->last_sync_sessions) {
        mk_counter_add(g->m_sync_sessions, st.sync_sessions - g->last_sync_sessions);
        g->last_sync_sessions = st.sync_sessions;
    }
    mk_gauge_set(g->m_voters, (int64_t)s.n_voters);
    if (st.role != g->last_role) {
        if (st.role == MK_RAFT_CANDIDATE) mk_counter_add(g->m_elections, 1);
        g->last_role = st.role;
        mk_gstate_emit(g, MK_GROUP_EV_ROLE, NULL, 0);
    }
    if (st.has_leader != g->last_has_leader || (st.has_leader && !mk_id_eq(&st.leader, &g->last_leader))) {
        g->last_has_leader = st.has_leader;
        if (st.has_leader) {
            g->last_leader = st.leader;
            mk_counter_add(g->m_leader_changes, 1);
            char a[MK_ID_SHORT_LEN + 1];
            MK_LOGF(MK_MOD_GROUPS, MK_LOG_INFO, mk_net_self(g->n), "group %s: leader %s (term %llu)", g->short_id,
                    mk_id_short(&st.leader, a), (unsigned long long)st.term);
        }
        mk_gstate_emit(g, MK_GROUP_EV_LEADER, st.has_leader ? &st.leader : NULL, 0);
    }
    if (old.online != s.online) mk_gstate_emit(g, s.online ? MK_GROUP_EV_ONLINE : MK_GROUP_EV_OFFLINE, NULL, 0);
    if (old.committed != s.committed) mk_gstate_emit(g, MK_GROUP_EV_COMMITTED, NULL, s.committed);
}
