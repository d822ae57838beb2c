/* groups/snapfetch_drive.c — the requester's snapshot fetch on the loop thread (spec 40 §8.2): drives the
 * sans-I/O session of groups/sync/snapfetch.c (RequestSnapshot to the leader, offers, parallel FetchData),
 * feeds the fetched items to the machine's install_begin / install_put / install_end in order, and
 * installs the result into the consensus core (the log restarts at the anchor). */
#include "groups/groups_int.h"

#include "core/error.h"
#include "core/log.h"
#include "groups/sync/snapfetch.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define LOG(g, lvl, ...) MK_LOGF(MK_MOD_GROUPS, lvl, mk_net_self((g)->n), __VA_ARGS__)

static void pump(mk_gstate_t *g);

static void fetch_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_gstate_t *g = arg;
    if (!g->fetch) return;
    mk_snapfetch_tick(g->fetch, mk_groups_now());
    pump(g);
}

void mk_gsnap_fetch_stop(mk_gstate_t *g) {
    if (g->install && g->machine) g->machine->install_end(g->machine_self, g->install, false);
    g->install = NULL;
    mk_snapfetch_free(g->fetch);
    g->fetch = NULL;
    if (g->fetch_ev) event_free(g->fetch_ev);
    g->fetch_ev = NULL;
}

/* Gives up this fetch; the consensus core leaves snapshot mode (the next AppendEntries may start over). */
static void give_up(mk_gstate_t *g, const char *why) {
    LOG(g, MK_LOG_WARN, "group %s: snapshot sync abandoned: %s", g->short_id, why);
    mk_gsnap_fetch_stop(g);
    if (g->raft) mk_raft_snapshot_abort(g->raft, mk_groups_now());
}

void mk_gsnap_fetch_start(mk_gstate_t *g) {
    if (g->fetch) return;
    if (!mk_gsnap_capable(g)) {
        mk_raft_snapshot_abort(g->raft, mk_groups_now());
        return;
    }
    mk_raft_status_t st;
    mk_raft_status(g->raft, &st);
    const mk_sync_config_t *sc = &g->cfg.sync;
    mk_snapfetch_config_t cfg = {.req_id = mk_groups_rand() | 1,
                                 .commit = st.commit,
                                 .snapshot_batch = sc->snapshot_batch ? sc->snapshot_batch : 2000,
                                 .request_timeout_ms = sc->snapshot_request_timeout_ms ? sc->snapshot_request_timeout_ms
                                                                                       : 15000,
                                 .fetch_timeout_ms = sc->snapshot_fetch_timeout_ms ? sc->snapshot_fetch_timeout_ms : 5000,
                                 .leader = st.has_leader ? &st.leader : NULL};
    mk_error_t e;
    g->fetch = mk_snapfetch_new(&cfg, mk_groups_now(), &e);
    g->fetch_ev = g->fetch ? event_new(mk_net_base(g->n), -1, 0, fetch_timer, g) : NULL;
    if (!g->fetch || !g->fetch_ev) {
        give_up(g, g->fetch ? "out of memory" : e.msg);
        return;
    }
    LOG(g, MK_LOG_INFO, "group %s: far behind (commit %llu): fetching a snapshot", g->short_id,
        (unsigned long long)st.commit);
    pump(g);
}

void mk_gsnap_fetch_step(mk_gstate_t *g, const mk_peer_id_t *from, const mk_gsync_msg_t *m) {
    if (!g->fetch) return;
    mk_snapfetch_step(g->fetch, mk_groups_now(), from, m);
    pump(g);
}

void mk_gsnap_fetch_peer_down(mk_gstate_t *g, const mk_peer_id_t *peer) {
    if (!g->fetch) return;
    mk_snapfetch_peer_down(g->fetch, mk_groups_now(), peer);
    pump(g);
}

void mk_gsnap_fetch_leader(mk_gstate_t *g, const mk_peer_id_t *leader) {
    if (!g->fetch) return;
    mk_snapfetch_set_leader(g->fetch, mk_groups_now(), leader);
    pump(g);
}

/* The last item arrived: the machine swaps to the new state, the core restarts its log at the anchor. */
static bool finish(mk_gstate_t *g, const mk_snapfetch_ready_t *rd) {
    mk_gsync_snap_header_t h;
    mk_raft_status_t st;
    mk_raft_status(g->raft, &st);
    if (mk_gsync_snap_header_decode(rd->header.ptr, rd->header.len, &h, NULL) != MK_OK || rd->anchor.index <= st.commit) {
        give_up(g, "the snapshot header does not decode, or the anchor is no longer ahead");
        return false;
    }
    int rc = g->machine->install_end(g->machine_self, g->install, true);
    g->install = NULL;
    if (rc != MK_OK) {
        mk_gstate_terminate(g, "the state machine refused a fetched snapshot");
        return false;
    }
    mk_raft_body_t cfg = {.kind = MK_ENTRY_CONFIG};
    cfg.config.origin = h.origin;
    cfg.config.nvoters = h.nvoters;
    memcpy(cfg.config.voters, h.voters, h.nvoters * sizeof *h.voters);
    mk_error_t e;
    rc = mk_raft_install_snapshot(g->raft, mk_groups_now(), rd->anchor, &cfg, h.config_index, h.has_commands, &e);
    if (rc != MK_OK) {
        mk_gstate_terminate(g, "the consensus core refused a fetched snapshot after the machine installed it");
        return false;
    }
    mk_gsnap_take_sessions(g, &h);
    g->applied = g->compacted_at = rd->anchor.index;
    g->applied_term = rd->anchor.term;
    g->store_snapshot_due = true;  /* the log now starts after the anchor: a restart needs the snapshot */
    LOG(g, MK_LOG_INFO, "group %s: installed a snapshot at %llu (%llu items)", g->short_id,
        (unsigned long long)rd->anchor.index, (unsigned long long)rd->item_count);
    return true;
}

static void pump(mk_gstate_t *g) {
    mk_snapfetch_ready_t rd;
    while (g->fetch && mk_snapfetch_ready(g->fetch, &rd)) {
        for (size_t i = 0; i < rd.nmsgs; i++) mk_bond_send_payload(g, &rd.msgs[i].to, MK_BOND_STATE_SYNC, &rd.msgs[i].bytes);
        if (rd.restart && g->install) {
            g->machine->install_end(g->machine_self, g->install, false);
            g->install = NULL;
        }
        if (rd.begin) {
            g->install = g->machine->install_begin(g->machine_self, rd.item_count);
            if (!g->install) {
                mk_snapfetch_advance(g->fetch, &rd);
                give_up(g, "the state machine cannot begin an install");
                return;
            }
        }
        for (size_t i = 0; i < rd.nitems; i++) {
            if (g->machine->install_put(g->machine_self, g->install, rd.items[i].ptr, rd.items[i].len) != MK_OK) {
                mk_snapfetch_advance(g->fetch, &rd);
                give_up(g, "the state machine refused a snapshot item");
                return;
            }
        }
        if (rd.done) {
            bool ok = g->install && finish(g, &rd);
            if (g->fetch) mk_snapfetch_advance(g->fetch, &rd);
            mk_gsnap_fetch_stop(g);
            if (ok) mk_gstate_kick(g);
            return;
        }
        mk_snapfetch_advance(g->fetch, &rd);
    }
    if (!g->fetch) return;
    int64_t at = mk_snapfetch_next_deadline(g->fetch);
    if (at == INT64_MAX) return;
    int64_t ms = at - mk_groups_now();
    if (ms < 1) ms = 1;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(g->fetch_ev, &tv);
}
