/* groups/raft/raft.c — the consensus engine's lifecycle, ready batches, timers, elections (PreVote,
 * RequestVote, stickiness, CheckQuorum's step-down lives in repl.c) and message dispatch with the term
 * rules of spec 40 §3.4. Sans-I/O: see raft.h. */
#include "groups/raft/raft_int.h"

#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

void *mk_raft_vec_push(void *vec, size_t elem) {
    struct { void *v; size_t n, cap; } *g = vec;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        void *v = realloc(g->v, cap * elem);
        if (!v) return NULL;
        g->v = v;
        g->cap = cap;
    }
    void *slot = (char *)g->v + g->n++ * elem;
    memset(slot, 0, elem);
    return slot;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t mk_raft_rand(mk_raft_t *r) {  /* xoshiro256** */
    uint64_t *s = r->rng, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    return out;
}

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

const char *mk_raft_role_name(mk_raft_role_t role) {
    static const char *const names[] = {"follower", "pre-candidate", "candidate", "leader"};
    return role <= MK_RAFT_LEADER ? names[role] : "?";
}

void mk_raft_fatal(mk_raft_t *r, const char *why) {
    if (r->fatal) return;
    r->fatal = true;
    snprintf(r->fatal_why, sizeof r->fatal_why, "%s", why);
}

mk_rpeer_t *mk_raft_peer(mk_raft_t *r, const mk_peer_id_t *id) {
    for (size_t i = 0; i < r->npeers; i++)
        if (mk_id_eq(&r->peers[i].id, id)) return &r->peers[i];
    return NULL;
}

/* ---- the log through the store ---- */

mk_cursor_t mk_raft_last(mk_raft_t *r) { return r->store->vt->last(r->store->self); }

mk_term_t mk_raft_term_at(mk_raft_t *r, mk_index_t i, bool *ok) {
    mk_term_t t = 0;
    bool found = r->store->vt->term_at(r->store->self, i, &t) == MK_OK;
    if (ok) *ok = found;
    return found ? t : 0;
}

int mk_raft_store_append(mk_raft_t *r, const mk_log_entry_t *e, size_t n) {
    int rc = r->store->vt->append(r->store->self, e, n);
    if (rc != MK_OK) {
        mk_raft_fatal(r, "the log store refused an append");
        return rc;
    }
    r->log_dirty = true;
    for (size_t i = 0; i < n; i++) mk_raft_config_on_append(r, &e[i]);
    return MK_OK;
}

int mk_raft_store_truncate(mk_raft_t *r, mk_index_t from) {
    if (from <= r->commit) {  /* a committed entry is never removed: a leader asking for it is broken */
        mk_raft_fatal(r, "asked to truncate at or below the commit index");
        return MK_EINVAL;
    }
    int rc = r->store->vt->truncate(r->store->self, from);
    if (rc != MK_OK) {
        mk_raft_fatal(r, "the log store refused a truncation");
        return rc;
    }
    r->log_dirty = true;
    if (r->synced >= from) r->synced = from - 1;
    if (r->pending_synced >= from) r->pending_synced = from - 1;
    mk_raft_config_on_truncate(r, from);
    return MK_OK;
}

int mk_raft_append_local(mk_raft_t *r, uint8_t kind, const void *body, size_t len, mk_index_t *index) {
    mk_log_entry_t e = {.index = mk_raft_last(r).index + 1, .term = r->hs.term, .kind = kind, .body = body, .len = len};
    int rc = mk_raft_store_append(r, &e, 1);
    if (rc == MK_OK && index) *index = e.index;
    return rc;
}

/* ---- messages out ---- */

void mk_raft_send(mk_raft_t *r, const mk_peer_id_t *to, mk_raft_msg_t *m) {
    m->has_origin = r->meta.has_origin;
    if (m->has_origin) m->origin = r->meta.origin;
    mk_raft_send_t *s = MK_VEC_PUSH(&r->out);
    if (!s) return;  /* out of memory: the message is lost, as on a lossy link */
    s->to = *to;
    s->bytes = (mk_buf_t)MK_BUF_INIT;
    if (mk_raft_msg_encode(m, &s->bytes, &r->err) != MK_OK) {
        mk_buf_free(&s->bytes);
        r->out.n--;
    }
}

/* ---- roles and terms ---- */

static uint32_t factor(const mk_raft_t *r) {
    return r->cfg.preference.kind == MK_LEAD_RELUCTANT && r->cfg.preference.factor ? r->cfg.preference.factor : 1;
}

void mk_raft_reset_election_timer(mk_raft_t *r) {
    uint64_t jitter = r->cfg.cc.election_timeout_jitter_ms ? mk_raft_rand(r) % r->cfg.cc.election_timeout_jitter_ms : 0;
    r->election_deadline = r->now + (int64_t)((r->cfg.cc.election_timeout_ms + jitter) * factor(r));
}

static void set_role(mk_raft_t *r, mk_raft_role_t role) {
    if (r->role != role) r->ev_role = true;
    if (r->role == MK_RAFT_LEADER && role != MK_RAFT_LEADER) mk_raft_lost_leadership(r);
    r->role = role;
}

static void set_leader(mk_raft_t *r, const mk_peer_id_t *leader) {
    bool had = r->has_leader;
    if (!leader) {
        r->has_leader = false;
        if (had) r->ev_leader = true;
        return;
    }
    bool changed = !had || !mk_id_eq(&r->leader, leader);
    if (changed) r->ev_leader = true;
    r->has_leader = true;
    r->leader = *leader;
    if (changed) mk_raft_sync_leader(r);
}

void mk_raft_set_term(mk_raft_t *r, mk_term_t term) {
    if (term <= r->hs.term) return;
    r->hs.term = term;
    r->hs.has_vote = false;
    r->state_dirty = true;
}

void mk_raft_become_follower(mk_raft_t *r, mk_term_t term, const mk_peer_id_t *leader) {
    mk_raft_set_term(r, term);
    set_role(r, MK_RAFT_FOLLOWER);
    set_leader(r, leader);
    mk_raft_reset_election_timer(r);
}

static bool can_campaign(const mk_raft_t *r) {
    return r->meta.has_origin && r->cfg.preference.kind != MK_LEAD_OBSERVER && mk_raft_self_voter(r);
}

static size_t granted_votes(mk_raft_t *r) {
    size_t n = mk_raft_self_voter(r) ? 1 : 0;
    for (size_t i = 0; i < r->npeers; i++)
        if (r->peers[i].granted && mk_raft_counts(r, &r->peers[i])) n++;
    return n;
}

void mk_raft_campaign(mk_raft_t *r, bool pre_vote) {
    mk_raft_sync_abort(r);  /* a campaigner does not catch up from others */
    for (size_t i = 0; i < r->npeers; i++) r->peers[i].granted = false;
    set_leader(r, NULL);
    mk_raft_msg_t m = {.kind = pre_vote ? MK_RAFT_PRE_VOTE : MK_RAFT_VOTE};
    if (pre_vote) {
        set_role(r, MK_RAFT_PRE_CANDIDATE);
        m.vote.term = r->hs.term + 1;
    } else {
        set_role(r, MK_RAFT_CANDIDATE);
        r->hs.term++;
        r->hs.has_vote = true;
        r->hs.vote_peer = r->cfg.self;
        r->hs.vote_inc = r->meta.incarnation;
        r->state_dirty = true;
        m.vote.term = r->hs.term;
    }
    mk_raft_reset_election_timer(r);
    if (granted_votes(r) >= mk_raft_quorum(r)) {  /* a one-voter configuration */
        if (pre_vote) mk_raft_campaign(r, false);
        else mk_raft_become_leader(r);
        return;
    }
    m.vote.last = mk_raft_last(r);
    for (size_t i = 0; i < r->npeers; i++)
        if (mk_raft_counts(r, &r->peers[i])) mk_raft_send(r, &r->peers[i].id, &m);
}

static bool log_up_to_date(mk_raft_t *r, mk_cursor_t cand) {
    mk_cursor_t own = mk_raft_last(r);
    return cand.term > own.term || (cand.term == own.term && cand.index >= own.index);
}

static void on_pre_vote(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m) {
    bool recent = r->ever_accepted && r->now - r->last_accept_at < (int64_t)r->cfg.cc.election_timeout_ms;
    bool grant = r->role != MK_RAFT_LEADER && !recent && m->vote.term > r->hs.term && log_up_to_date(r, m->vote.last) &&
                 r->cfg.preference.kind != MK_LEAD_OBSERVER;
    mk_raft_msg_t resp = {.kind = MK_RAFT_PRE_VOTE_RESP, .vote_resp = {.term = grant ? m->vote.term : r->hs.term,
                                                                        .granted = grant}};
    mk_raft_send(r, &p->id, &resp);
}

static void on_vote(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m) {
    /* stickiness: a follower of a live leader, or a leader that passed CheckQuorum, drops it unread */
    int64_t et = (int64_t)r->cfg.cc.election_timeout_ms;
    mk_rpeer_t *lp = r->has_leader ? mk_raft_peer(r, &r->leader) : NULL;
    bool leader_bonded = lp && lp->bonded;  /* a departed leader holds no one (leadership transfer) */
    if ((r->role == MK_RAFT_FOLLOWER && leader_bonded && r->ever_accepted && r->now - r->last_accept_at < et) ||
        (r->role == MK_RAFT_LEADER && r->now - r->quorum_ok_at < et))
        return;
    if (m->vote.term > r->hs.term) mk_raft_become_follower(r, m->vote.term, NULL);
    bool grant = false;
    if (m->vote.term == r->hs.term && r->cfg.preference.kind != MK_LEAD_OBSERVER && log_up_to_date(r, m->vote.last)) {
        bool free_vote = !r->hs.has_vote;
        bool same = r->hs.has_vote && mk_id_eq(&r->hs.vote_peer, &p->id) && r->hs.vote_inc == p->inc;
        grant = free_vote || same;
    }
    if (grant) {
        if (!r->hs.has_vote) {
            r->hs.has_vote = true;
            r->hs.vote_peer = p->id;
            r->hs.vote_inc = p->inc;
            r->state_dirty = true;  /* persisted before the reply leaves: the driver syncs first */
        }
        mk_raft_reset_election_timer(r);
    }
    mk_raft_msg_t resp = {.kind = MK_RAFT_VOTE_RESP, .vote_resp = {.term = r->hs.term, .granted = grant}};
    mk_raft_send(r, &p->id, &resp);
}

static void on_vote_resp(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m, bool pre) {
    if (pre) {
        if (!m->vote_resp.granted) {
            if (m->vote_resp.term > r->hs.term) mk_raft_become_follower(r, m->vote_resp.term, NULL);
            return;
        }
        if (r->role != MK_RAFT_PRE_CANDIDATE || m->vote_resp.term != r->hs.term + 1) return;
        p->granted = true;
        if (granted_votes(r) >= mk_raft_quorum(r)) mk_raft_campaign(r, false);
        return;
    }
    if (r->role != MK_RAFT_CANDIDATE || m->vote_resp.term != r->hs.term || !m->vote_resp.granted) return;
    p->granted = true;
    if (granted_votes(r) >= mk_raft_quorum(r)) mk_raft_become_leader(r);
}

/* ---- lifecycle ---- */

mk_raft_t *mk_raft_new(const mk_raft_config_t *cfg, int64_t now, mk_error_t *e) {
    if (!cfg || !cfg->store || !cfg->store->vt) {
        MK_ERR(e, MK_EINVAL, "raft: config or store is NULL");
        return NULL;
    }
    if (mk_consensus_config_check(&cfg->cc, e) != MK_OK) return NULL;
    if (cfg->preference.kind == MK_LEAD_RELUCTANT && cfg->preference.factor < 1) {
        MK_ERR(e, MK_EINVAL, "raft: a Reluctant preference needs factor ≥ 1");
        return NULL;
    }
    mk_raft_t *r = calloc(1, sizeof *r);
    if (!r) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    r->cfg = *cfg;
    r->store = cfg->store;
    r->now = r->created_at = now;
    uint64_t x = cfg->seed;
    for (int i = 0; i < 4; i++) r->rng[i] = splitmix(&x);
    if (r->store->vt->load_state(r->store->self, &r->hs, &r->meta) != MK_OK || mk_raft_config_load(r) != MK_OK) {
        MK_ERR(e, MK_EIO, "raft: cannot load the hard state or the log");
        free(r->config_log.v);
        free(r);
        return NULL;
    }
    mk_cursor_t last = mk_raft_last(r);
    mk_index_t first, last_stored;
    r->store->vt->available(r->store->self, &first, &last_stored);
    if (cfg->base_config && cfg->base_config->kind == MK_ENTRY_CONFIG && cfg->base_config->config.nvoters) {
        mk_raft_base_config_set(r, cfg->base_config_index, cfg->base_config);
        if (!r->config.nvoters) r->config = r->base_config;
    }
    r->commit = r->hs.commit < last.index ? r->hs.commit : last.index;
    if (r->commit < first - 1) r->commit = first - 1;  /* the base is committed */
    r->applied = r->applying = first - 1;  /* the machine is rebuilt from the start of the log */
    if (cfg->applied > r->applied && cfg->applied <= last.index) {  /* or from a restored snapshot */
        r->applied = r->applying = cfg->applied;
        if (r->commit < cfg->applied) r->commit = cfg->applied;
    }
    r->synced = r->pending_synced = last.index;
    r->role = MK_RAFT_FOLLOWER;
    mk_raft_reset_election_timer(r);
    r->hello_due = true;
    return r;
}

void mk_raft_free(mk_raft_t *r) {
    if (!r) return;
    for (size_t i = 0; i < r->out.n; i++) mk_buf_free(&r->out.v[i].bytes);
    for (size_t i = 0; i < r->fwds.n; i++) {
        for (size_t k = 0; k < r->fwds.v[i].n; k++) free((void *)r->fwds.v[i].cmds[k].ptr);
        free(r->fwds.v[i].cmds);
    }
    free(r->out.v);
    free(r->out_reads.v);
    free(r->out_results.v);
    free(r->reads.v);
    free(r->fwds.v);
    free(r->sessions.v);
    free(r->config_log.v);
    mk_raft_sync_abort(r);
    mk_raft_sbuf_clear(r);
    mk_gsync_outbox_free(&r->out_sync);
    free(r);
}

/* ---- inputs ---- */

void mk_raft_peer_up(mk_raft_t *r, int64_t now, const mk_peer_id_t *peer, uint64_t incarnation) {
    r->now = now;
    if (r->fatal || mk_id_eq(peer, &r->cfg.self)) return;
    mk_rpeer_t *p = mk_raft_peer(r, peer);
    if (!p) {
        if (r->npeers == MK_RAFT_MAX_PEERS) return;
        p = &r->peers[r->npeers++];
        memset(p, 0, sizeof *p);
        p->id = *peer;
    }
    if (p->inc != incarnation) {  /* a restarted peer (or a new one): its Hello and progress start over */
        p->hello = false;
        p->match = 0;
    }
    p->inc = incarnation;
    p->bonded = true;
    p->bonded_at = p->last_heard = now;
    p->unbonded_since = 0;
    p->state = MK_PROG_PROBE;
    p->next = mk_raft_last(r).index + 1;
    p->inflight = 0;
    p->granted = false;
    mk_raft_send_hello(r, peer);
    mk_raft_sync_peer(r, p, true);
    if (r->role == MK_RAFT_LEADER) mk_raft_replicate_to(r, p, false);
}

void mk_raft_peer_down(mk_raft_t *r, int64_t now, const mk_peer_id_t *peer) {
    r->now = now;
    mk_rpeer_t *p = mk_raft_peer(r, peer);
    if (!p || !p->bonded) return;
    p->bonded = false;
    p->unbonded_since = now;
    p->inflight = 0;
    p->state = MK_PROG_PROBE;
    mk_raft_sync_peer(r, p, false);
    mk_raft_divergence_check(r);
}

void mk_raft_step(mk_raft_t *r, int64_t now, const mk_peer_id_t *from, const mk_raft_msg_t *m) {
    r->now = now;
    if (r->fatal) return;
    mk_rpeer_t *p = mk_raft_peer(r, from);
    if (!p || !p->bonded) return;
    p->last_heard = now;
    if (m->kind == MK_RAFT_HELLO) {
        mk_raft_on_hello(r, p, m);
        return;
    }
    if (!mk_raft_origin_ok(r, m)) return;
    switch (m->kind) {
    case MK_RAFT_PRE_VOTE: on_pre_vote(r, p, m); return;
    case MK_RAFT_PRE_VOTE_RESP: on_vote_resp(r, p, m, true); return;
    case MK_RAFT_VOTE: on_vote(r, p, m); return;
    case MK_RAFT_FORWARD: mk_raft_on_forward(r, p, m); return;
    case MK_RAFT_FORWARD_ACK: mk_raft_on_forward_ack(r, m); return;
    case MK_RAFT_FORWARD_NACK: mk_raft_on_forward_nack(r, p, m); return;
    case MK_RAFT_READ_INDEX_REQ: mk_raft_on_read_req(r, p, m); return;
    case MK_RAFT_READ_INDEX_RESP: mk_raft_on_read_resp(r, m); return;
    case MK_RAFT_TIMEOUT_NOW:  /* our leader hands over: campaign now, without PreVote */
        if (m->timeout_now.term == r->hs.term && r->role == MK_RAFT_FOLLOWER && r->has_leader &&
            mk_id_eq(&r->leader, from) && can_campaign(r))
            mk_raft_campaign(r, false);
        return;
    default: break;
    }
    /* messages with a term: a higher one makes us a follower, a lower one is stale */
    mk_term_t term = m->kind == MK_RAFT_APPEND        ? m->append.term
                     : m->kind == MK_RAFT_APPEND_RESP ? m->append_resp.term
                     : m->kind == MK_RAFT_VOTE_RESP   ? m->vote_resp.term
                     : m->kind == MK_RAFT_NEED_SNAPSHOT ? m->need_snapshot.term
                                                         : 0;
    if (term > r->hs.term) mk_raft_become_follower(r, term, m->kind == MK_RAFT_APPEND ? from : NULL);
    if (term < r->hs.term) {
        if (m->kind == MK_RAFT_APPEND) {  /* tell the stale leader our term */
            mk_raft_msg_t resp = {.kind = MK_RAFT_APPEND_RESP,
                                  .append_resp = {.term = r->hs.term, .success = false, .conflict_index = 0}};
            mk_raft_send(r, from, &resp);
        }
        return;
    }
    switch (m->kind) {
    case MK_RAFT_APPEND: mk_raft_on_append(r, p, m); return;
    case MK_RAFT_APPEND_RESP: mk_raft_on_append_resp(r, p, m); return;
    case MK_RAFT_VOTE_RESP: on_vote_resp(r, p, m, false); return;
    case MK_RAFT_NEED_SNAPSHOT: mk_raft_on_need_snapshot(r, p, m); return;
    default: return;
    }
}

bool mk_raft_transfer(mk_raft_t *r, int64_t now, mk_peer_id_t *to) {
    r->now = now;
    if (r->fatal || r->role != MK_RAFT_LEADER) return false;
    if (r->append_due) {
        r->append_due = false;
        mk_raft_broadcast(r, false);
        mk_raft_maybe_commit(r);
    }
    mk_rpeer_t *best = NULL;
    for (size_t i = 0; i < r->npeers; i++) {
        mk_rpeer_t *p = &r->peers[i];
        if (!mk_raft_counts(r, p) || (p->hello && p->pref.kind == MK_LEAD_OBSERVER)) continue;
        bool normal = !p->hello || p->pref.kind == MK_LEAD_NORMAL;
        bool best_normal = best && (!best->hello || best->pref.kind == MK_LEAD_NORMAL);
        if (!best || p->match > best->match || (p->match == best->match && normal && !best_normal)) best = p;
    }
    if (!best) return false;
    mk_raft_replicate_to(r, best, false);
    mk_raft_msg_t m = {.kind = MK_RAFT_TIMEOUT_NOW, .timeout_now = {.term = r->hs.term}};
    mk_raft_send(r, &best->id, &m);
    if (to) *to = best->id;
    return true;
}

void mk_raft_tick(mk_raft_t *r, int64_t now) {
    r->now = now;
    if (r->fatal) return;
    if (!r->meta.has_origin) mk_raft_bootstrap_tick(r);
    if (r->role == MK_RAFT_LEADER) {
        mk_raft_leader_tick(r);
    } else if (can_campaign(r) && now >= r->election_deadline) {
        if (r->role == MK_RAFT_FOLLOWER) mk_raft_campaign(r, true);
        else mk_raft_become_follower(r, r->hs.term, NULL);  /* a campaign that timed out: start over later */
    }
    mk_raft_fwd_tick(r);
    mk_raft_sync_tick(r);
    mk_raft_auto_recover_tick(r);
    mk_raft_hello_check(r);
}

/* ---- ready batches ---- */

bool mk_raft_ready(mk_raft_t *r, mk_raft_ready_t *out) {
    memset(out, 0, sizeof *out);
    if (r->append_due) {
        r->append_due = false;
        if (r->role == MK_RAFT_LEADER) {
            mk_raft_broadcast(r, false);
            mk_raft_maybe_commit(r);
        }
    }
    mk_raft_sync_ready(r);  /* fetched entries are written (and synced) in this batch */
    mk_raft_hello_check(r);
    if (r->state_dirty) {
        r->hs.commit = r->commit;
        if (r->store->vt->save_state(r->store->self, &r->hs, &r->meta) != MK_OK)
            mk_raft_fatal(r, "the log store refused the hard state");
    }
    out->must_sync = r->state_dirty || r->log_dirty;
    out->may_send_before_sync = r->role == MK_RAFT_LEADER && !r->state_dirty;
    r->pending_synced = mk_raft_last(r).index;
    out->msgs = r->out.v;
    out->nmsgs = r->out.n;
    r->out.v = NULL, r->out.n = r->out.cap = 0;
    out->reads = r->out_reads.v;
    out->nreads = r->out_reads.n;
    r->out_reads.v = NULL, r->out_reads.n = r->out_reads.cap = 0;
    out->results = r->out_results.v;
    out->nresults = r->out_results.n;
    r->out_results.v = NULL, r->out_results.n = r->out_results.cap = 0;
    out->sync_msgs = r->out_sync.v;
    out->nsync_msgs = r->out_sync.n;
    r->out_sync = (mk_gsync_outbox_t)MK_GSYNC_OUTBOX_INIT;
    out->sync_stuck = r->ev_sync_stuck;
    r->ev_sync_stuck = false;
    out->recovered = r->ev_recovered;
    r->ev_recovered = false;
    out->snapshot_wanted = r->ev_snapshot_wanted;
    r->ev_snapshot_wanted = false;
    out->apply_from = r->applied + 1;
    out->apply_to = r->commit < r->applied + MK_RAFT_APPLY_BATCH ? r->commit : r->applied + MK_RAFT_APPLY_BATCH;
    r->applying = out->apply_to > r->applied ? out->apply_to : r->applied;
    out->role_changed = r->ev_role;
    out->leader_changed = r->ev_leader;
    out->config_changed = r->ev_config;
    out->diverged = r->ev_diverged;
    r->ev_role = r->ev_leader = r->ev_config = r->ev_diverged = false;
    r->state_dirty = r->log_dirty = false;
    return out->must_sync || out->nmsgs || out->nsync_msgs || out->sync_stuck || out->recovered ||
           out->snapshot_wanted || out->nreads ||
           out->nresults ||
           out->apply_to >= out->apply_from ||
           out->role_changed || out->leader_changed || out->config_changed || out->diverged;
}

void mk_raft_advance(mk_raft_t *r, mk_raft_ready_t *rd, mk_index_t applied) {
    for (size_t i = 0; i < rd->nmsgs; i++) mk_buf_free(&rd->msgs[i].bytes);
    free(rd->msgs);
    mk_gsync_outbox_t sync = {rd->sync_msgs, rd->nsync_msgs, rd->nsync_msgs};
    mk_gsync_outbox_free(&sync);
    free(rd->reads);
    free(rd->results);
    memset(rd, 0, sizeof *rd);
    if (applied > r->applied) r->applied = applied;
    mk_index_t before = r->synced;
    if (r->pending_synced > r->synced) r->synced = r->pending_synced;
    if (r->role == MK_RAFT_LEADER && r->synced != before) mk_raft_maybe_commit(r);
}

/* ---- status ---- */

void mk_raft_status(const mk_raft_t *r, mk_raft_status_t *out) {
    memset(out, 0, sizeof *out);
    out->role = r->role;
    out->term = r->hs.term;
    out->has_leader = r->has_leader;
    out->leader = r->leader;
    out->is_voter = mk_raft_self_voter(r);
    out->has_origin = r->meta.has_origin;
    out->origin = r->meta.origin;
    out->diverged = r->diverged;
    out->fatal = r->fatal;
    out->syncing = r->sync != NULL;
    out->sync_sessions = r->sync_sessions;
    out->recoveries = r->recoveries;
    out->snapshotting = r->snap_active;
    out->has_commands = r->meta.has_commands;
    out->snapshot_installs = r->snap_installs;
    out->commit = r->commit;
    out->applied = r->applied;
    out->last = r->store->vt->last(r->store->self);
    out->incarnation = r->meta.incarnation;
    out->online = r->role == MK_RAFT_LEADER ? r->noop_index && r->commit >= r->noop_index
                                            : r->has_leader && r->ever_accepted && !r->sync && !r->snap_active &&
                                                  r->now - r->last_accept_at < (int64_t)r->cfg.cc.election_timeout_ms;
    out->nvoters = r->config.nvoters;
    memcpy(out->voters, r->config.voters, r->config.nvoters * sizeof *out->voters);
}
