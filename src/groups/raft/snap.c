/* groups/raft/snap.c — the consensus side of snapshots (spec 40 §7.2, §8.2): the configuration in force
 * at an index (also below the log's base, from the snapshot it was compacted into), SNAPSHOT_MARKER
 * proposals on the leader, the snapshot-sync mode of a follower (started instead of log replay with
 * MK_SYNC_SNAPSHOT, or by NeedSnapshot from a leader that compacted what it needs), installing a fetched
 * snapshot as the new base of the log, and compaction. The state machine's part (creating, streaming and
 * installing items) is the driver's: the core only says when a snapshot is wanted and takes the result. */
#include "groups/raft/raft_int.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static void rconfig_from_body(mk_rconfig_t *out, mk_index_t index, const mk_raft_body_t *b) {
    memset(out, 0, sizeof *out);
    out->index = index;
    out->origin = b->config.origin;
    out->nvoters = b->config.nvoters;
    memcpy(out->voters, b->config.voters, b->config.nvoters * sizeof *out->voters);
}

bool mk_raft_config_at(mk_raft_t *r, mk_index_t index, mk_raft_body_t *out, mk_index_t *at) {
    memset(out, 0, sizeof *out);
    out->kind = MK_ENTRY_CONFIG;
    for (size_t k = r->config_log.n; k-- > 0;) {
        mk_index_t idx = r->config_log.v[k];
        if (idx > index) continue;
        mk_log_entry_t e;
        if (r->store->vt->get(r->store->self, idx, &e) != MK_OK || e.kind != MK_ENTRY_CONFIG ||
            mk_raft_body_decode(MK_ENTRY_CONFIG, e.body, e.len, out, NULL) != MK_OK)
            return false;
        if (at) *at = idx;
        return true;
    }
    if (!r->base_config.nvoters || r->base_config.index > index) return false;
    out->config.origin = r->base_config.origin;
    out->config.nvoters = r->base_config.nvoters;
    memcpy(out->config.voters, r->base_config.voters, r->base_config.nvoters * sizeof *out->config.voters);
    if (at) *at = r->base_config.index;
    return true;
}

void mk_raft_base_config_set(mk_raft_t *r, mk_index_t index, const mk_raft_body_t *b) {
    rconfig_from_body(&r->base_config, index, b);
}

int mk_raft_propose_marker(mk_raft_t *r, int64_t now, const mk_peer_id_t *requester, uint64_t req_id,
                           uint64_t requested_at_ms) {
    r->now = now;
    if (r->fatal || r->role != MK_RAFT_LEADER) return MK_EOFFLINE;
    /* one pending marker per requester: an uncommitted one for it is enough */
    for (size_t i = 0; i < r->npending_markers; i++)
        if (mk_id_eq(&r->pending_markers[i].peer, requester) && r->pending_markers[i].index > r->commit) return MK_EALREADY;
    mk_raft_body_t b = {.kind = MK_ENTRY_SNAPSHOT_MARKER};
    b.marker.requester = *requester;
    b.marker.req_id = req_id;
    b.marker.requested_at_ms = requested_at_ms;
    mk_buf_t body = MK_BUF_INIT;
    int rc = mk_raft_body_encode(&b, &body, NULL);
    mk_index_t at = 0;
    if (rc == MK_OK) rc = mk_raft_append_local(r, MK_ENTRY_SNAPSHOT_MARKER, body.ptr, body.len, &at);
    mk_buf_free(&body);
    if (rc != MK_OK) return rc;
    size_t slot = r->npending_markers;
    for (size_t i = 0; i < r->npending_markers; i++)
        if (r->pending_markers[i].index <= r->commit || mk_id_eq(&r->pending_markers[i].peer, requester)) slot = i;
    if (slot == r->npending_markers) {
        if (slot == MK_RAFT_MAX_PEERS) slot = 0;  /* full of pending markers: reuse (they only throttle) */
        else r->npending_markers++;
    }
    r->pending_markers[slot].peer = *requester;
    r->pending_markers[slot].index = at;
    r->append_due = true;
    return MK_OK;
}

bool mk_raft_snapshot_begin(mk_raft_t *r, const mk_peer_id_t *leader, mk_index_t leader_commit) {
    if (r->snap_active) return true;
    if (!r->cfg.snapshot_sync) return false;
    mk_raft_sync_abort(r);
    r->snap_active = true;
    r->ev_snapshot_wanted = true;
    r->snap_leader_commit = leader_commit;
    (void)leader;
    return true;
}

void mk_raft_snapshot_abort(mk_raft_t *r, int64_t now) {
    r->now = now;
    if (!r->snap_active) return;
    r->snap_active = false;
    if (!r->sync) mk_raft_sbuf_flush(r);
}

void mk_raft_on_need_snapshot(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m) {
    if (r->role != MK_RAFT_FOLLOWER || !r->has_leader || !mk_id_eq(&r->leader, &p->id)) return;
    r->last_accept_at = r->now;  /* a live leader: no election while we fetch */
    r->ever_accepted = true;
    mk_raft_reset_election_timer(r);
    if (!mk_raft_snapshot_begin(r, &p->id, m->need_snapshot.leader_commit)) r->ev_sync_stuck = true;
}

int mk_raft_install_snapshot(mk_raft_t *r, int64_t now, mk_cursor_t anchor, const mk_raft_body_t *config,
                             mk_index_t config_index, bool has_commands, mk_error_t *e) {
    r->now = now;
    if (r->fatal) return MK_ERR(e, MK_ETERMINATED, "the consensus core stopped");
    if (!config || config->kind != MK_ENTRY_CONFIG || !config->config.nvoters || config_index > anchor.index ||
        !anchor.index || !anchor.term)
        return MK_ERR(e, MK_EINVAL, "snapshot: bad anchor or configuration");
    if (r->meta.has_origin && !mk_id_eq(&r->meta.origin, &config->config.origin))
        return MK_ERR(e, MK_EINVAL, "snapshot: of another origin");
    if (anchor.index <= r->commit) {  /* nothing new: keep the log */
        mk_raft_snapshot_abort(r, now);
        return MK_ERR(e, MK_EALREADY, "snapshot at %llu is not above the commit index %llu",
                      (unsigned long long)anchor.index, (unsigned long long)r->commit);
    }
    /* Entries after the anchor that this node accepted meanwhile (a leader needing its vote sends them)
     * may have been acknowledged: when the log holds the anchor itself they stay, only the prefix goes. */
    bool ok;
    bool keep = anchor.index <= mk_raft_last(r).index && mk_raft_term_at(r, anchor.index, &ok) == anchor.term && ok;
    if (keep ? r->store->vt->prune_prefix(r->store->self, anchor.index) != MK_OK
             : r->store->vt->reset_to(r->store->self, anchor) != MK_OK) {
        mk_raft_fatal(r, "the log store refused to install a snapshot");
        return MK_ERR(e, MK_EIO, "the log store refused the snapshot");
    }
    r->log_dirty = true;
    mk_raft_base_config_set(r, config_index, config);
    size_t nkeep = 0;
    if (keep)
        for (size_t k = 0; k < r->config_log.n; k++)
            if (r->config_log.v[k] > anchor.index) r->config_log.v[nkeep++] = r->config_log.v[k];
    if (nkeep < r->config_log.n || !keep) {
        r->config_log.n = nkeep;
        if (!nkeep) r->config = r->base_config;
    }
    r->ev_config = true;
    if (!r->meta.has_origin) {
        r->meta.has_origin = true;
        r->meta.origin = config->config.origin;
    }
    if (has_commands) r->meta.has_commands = true;
    r->commit = r->applied = r->applying = anchor.index;
    r->hs.commit = anchor.index;
    r->state_dirty = true;
    if (!keep) r->synced = r->pending_synced = anchor.index;
    r->snap_installs++;
    mk_raft_sync_abort(r);
    mk_raft_snapshot_abort(r, now);  /* the session ended: buffered live entries follow the anchor */
    return MK_OK;
}

int mk_raft_compact(mk_raft_t *r, mk_index_t upto) {
    if (r->fatal) return MK_ETERMINATED;
    mk_index_t first, last;
    r->store->vt->available(r->store->self, &first, &last);
    if (upto < first || upto > r->applied || upto > r->commit) return MK_EINVAL;
    mk_raft_body_t cfg;
    mk_index_t at = 0;
    bool have = mk_raft_config_at(r, upto, &cfg, &at);
    if (r->store->vt->prune_prefix(r->store->self, upto) != MK_OK) return MK_EIO;
    if (have) mk_raft_base_config_set(r, at, &cfg);
    size_t keep = 0;
    for (size_t k = 0; k < r->config_log.n; k++)
        if (r->config_log.v[k] > upto) r->config_log.v[keep++] = r->config_log.v[k];
    r->config_log.n = keep;
    return MK_OK;
}
