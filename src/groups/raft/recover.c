/* groups/raft/recover.c — leaving a configuration whose majority is gone for good (spec 40 §3.7,
 * 01-decisions): the operator's escape hatch mk_raft_unsafe_recover (like etcd's force-new-cluster) and
 * its automatic use by in-memory groups whose voters were mostly replaced by new incarnations. The node
 * writes, at a new term, a CONFIG of itself plus its bonded same-origin non-observers and campaigns.
 * Entries the lost voters committed beyond this node's log may be lost: that is why durable groups
 * never do this on their own. */
#include "groups/raft/raft_int.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

static int cmp_voter(const void *a, const void *b) {
    return mk_id_cmp(&((const mk_raft_voter_t *)a)->peer, &((const mk_raft_voter_t *)b)->peer);
}

static int cmp_peer_id(const void *a, const void *b) {
    return mk_id_cmp(&(*(mk_rpeer_t *const *)a)->id, &(*(mk_rpeer_t *const *)b)->id);
}

static bool candidate_peer(const mk_raft_t *r, const mk_rpeer_t *p) {
    return p->bonded && p->hello && p->has_origin && mk_id_eq(&p->origin, &r->meta.origin) &&
           p->pref.kind != MK_LEAD_OBSERVER;
}

/* The last time this node knew a live leader (its own leadership included). */
static int64_t leader_seen_at(const mk_raft_t *r) {
    int64_t t = r->created_at;
    if (r->ever_accepted && r->last_accept_at > t) t = r->last_accept_at;
    if (r->leader_since > t) t = r->leader_since;
    if (r->recovered_at > t) t = r->recovered_at;
    return t;
}

int mk_raft_unsafe_recover(mk_raft_t *r, int64_t now, mk_error_t *e) {
    r->now = now;
    if (r->fatal) return MK_ERR(e, MK_ETERMINATED, "the consensus core stopped");
    if (!r->meta.has_origin) return MK_ERR(e, MK_EINVAL, "this node holds no history to recover");
    if (r->cfg.preference.kind == MK_LEAD_OBSERVER) return MK_ERR(e, MK_EINVAL, "an observer cannot lead a recovery");
    if (r->role == MK_RAFT_LEADER) return MK_ERR(e, MK_EALREADY, "this node leads already");
    if (now - leader_seen_at(r) < (int64_t)r->cfg.cc.election_timeout_ms)
        return MK_ERR(e, MK_EBUSY, "a leader was seen within election_timeout");
    mk_rpeer_t *others[MK_RAFT_MAX_PEERS];
    size_t nothers = 0;
    for (size_t i = 0; i < r->npeers; i++)
        if (candidate_peer(r, &r->peers[i])) others[nothers++] = &r->peers[i];
    qsort(others, nothers, sizeof *others, cmp_peer_id);
    mk_raft_body_t b = {.kind = MK_ENTRY_CONFIG};
    b.config.origin = r->meta.origin;
    b.config.voters[b.config.nvoters++] = (mk_raft_voter_t){r->cfg.self, r->meta.incarnation};
    for (size_t i = 0; i < nothers && b.config.nvoters < r->cfg.cc.max_voters; i++)
        b.config.voters[b.config.nvoters++] = (mk_raft_voter_t){others[i]->id, others[i]->inc};
    qsort(b.config.voters, b.config.nvoters, sizeof *b.config.voters, cmp_voter);
    mk_buf_t body = MK_BUF_INIT;
    int rc = mk_raft_body_encode(&b, &body, e);
    if (rc != MK_OK) return rc;
    mk_raft_sync_abort(r);
    mk_raft_become_follower(r, r->hs.term + 1, NULL);  /* a new term: no vote, no leader */
    rc = mk_raft_append_local(r, MK_ENTRY_CONFIG, body.ptr, body.len, NULL);
    mk_buf_free(&body);
    if (rc != MK_OK) return MK_ERR(e, rc, "the log store refused the recovery configuration");
    r->recovered_at = now;
    r->recoveries++;
    r->ev_recovered = true;
    mk_raft_campaign(r, false);
    return MK_OK;
}

/* The voters of the last CONFIG entry at or below the commit index (the current one if none is). */
static bool committed_config(mk_raft_t *r, mk_raft_body_t *out) {
    for (size_t k = r->config_log.n; k-- > 0;) {
        mk_index_t idx = r->config_log.v[k];
        if (idx > r->commit) continue;
        mk_log_entry_t e;
        if (r->store->vt->get(r->store->self, idx, &e) != MK_OK || e.kind != MK_ENTRY_CONFIG) return false;
        return mk_raft_body_decode(MK_ENTRY_CONFIG, e.body, e.len, out, NULL) == MK_OK;
    }
    out->kind = MK_ENTRY_CONFIG;
    out->config.origin = r->config.origin;
    out->config.nvoters = r->config.nvoters;
    memcpy(out->config.voters, r->config.voters, r->config.nvoters * sizeof *r->config.voters);
    return r->config.nvoters > 0;
}

/* In-memory groups (01-decisions): a majority of the configuration's voters is bonded again as new
 * incarnations (restarted without their disks), no leader for 2 × voter_removal_timeout, and this node
 * holds the most advanced log among its bonded same-origin peers (lowest PeerId on ties). */
void mk_raft_auto_recover_tick(mk_raft_t *r) {
    if (!r->cfg.auto_recover || !r->meta.has_origin || r->role == MK_RAFT_LEADER || r->fatal ||
        r->cfg.preference.kind == MK_LEAD_OBSERVER || !r->config.nvoters)
        return;
    if (r->now - leader_seen_at(r) < 2 * (int64_t)r->cfg.cc.voter_removal_timeout_ms) return;
    /* judged on the last committed configuration: a leader may already have appended (uncommitted)
     * the removal of a restarted voter, which alone would hide the lost majority */
    mk_raft_body_t cfg;
    if (!committed_config(r, &cfg)) return;
    size_t replaced = 0;
    for (size_t i = 0; i < cfg.config.nvoters; i++) {
        const mk_raft_voter_t *v = &cfg.config.voters[i];
        if (mk_id_eq(&v->peer, &r->cfg.self)) {
            if (v->incarnation != r->meta.incarnation) replaced++;
            continue;
        }
        const mk_rpeer_t *p = mk_raft_peer(r, &v->peer);
        if (p && p->bonded && p->inc != v->incarnation) replaced++;
    }
    if (replaced < cfg.config.nvoters / 2 + 1) return;
    mk_cursor_t own = mk_raft_last(r);
    for (size_t i = 0; i < r->npeers; i++) {
        const mk_rpeer_t *p = &r->peers[i];
        if (!candidate_peer(r, p)) continue;
        bool ahead = p->last.term > own.term || (p->last.term == own.term && p->last.index > own.index);
        bool tie = p->last.term == own.term && p->last.index == own.index;
        if (ahead || (tie && mk_id_cmp(&p->id, &r->cfg.self) < 0)) return;  /* that one recovers */
    }
    mk_raft_unsafe_recover(r, r->now, NULL);
}
