/* groups/raft/repl.c — the leader's side and the log flow (spec 40 §3.4–§3.6, §4): becoming leader
 * (NOOP, progress reset), per-peer PROBE / REPLICATE with pipelining and batching, heartbeats,
 * CheckQuorum, the follower's AppendEntries rules with conflict hints, commit by a majority of the
 * latest configuration's voters on current-term entries, ReadIndex rounds, proposals, forwarding and
 * exactly-once sessions. */
#include "groups/raft/raft_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- leadership ---- */

void mk_raft_become_leader(mk_raft_t *r) {
    mk_raft_sync_abort(r);
    mk_raft_sbuf_clear(r);
    if (r->role != MK_RAFT_LEADER) r->ev_role = true;
    r->role = MK_RAFT_LEADER;
    if (!r->has_leader || !mk_id_eq(&r->leader, &r->cfg.self)) r->ev_leader = true;
    r->has_leader = true;
    r->leader = r->cfg.self;
    r->leader_since = r->quorum_ok_at = r->now;
    r->heartbeat_due = r->now + (int64_t)r->cfg.cc.heartbeat_interval_ms;
    mk_index_t next = mk_raft_last(r).index + 1;
    for (size_t i = 0; i < r->npeers; i++) {
        mk_rpeer_t *p = &r->peers[i];
        p->next = next;
        p->match = 0;
        p->state = MK_PROG_PROBE;
        p->inflight = 0;
        p->read_seq = 0;
    }
    mk_raft_append_local(r, MK_ENTRY_NOOP, NULL, 0, &r->noop_index);
    mk_raft_sessions_rebuild(r);
    mk_raft_broadcast(r, false);
    mk_raft_maybe_commit(r);
}

void mk_raft_lost_leadership(mk_raft_t *r) {
    r->noop_index = 0;
    for (size_t i = 0; i < r->reads.n; i++) {  /* reads waiting for a confirmation this node cannot give */
        mk_pending_read_t *pr = &r->reads.v[i];
        if (pr->local) {
            mk_raft_read_t *o = MK_VEC_PUSH(&r->out_reads);
            if (o) *o = (mk_raft_read_t){.req_id = pr->req_id, .ok = false};
        } else {
            mk_raft_msg_t m = {.kind = MK_RAFT_READ_INDEX_RESP, .read_index_resp = {.req_id = pr->req_id, .ok = false}};
            mk_raft_send(r, &pr->from, &m);
        }
    }
    r->reads.n = 0;
    r->sessions.n = 0;
    r->nrecent = r->recent_at = 0;
}

/* ---- sending entries ---- */

static void send_append(mk_raft_t *r, mk_rpeer_t *p, mk_index_t prev, mk_index_t upto, mk_index_t *sent_last) {
    bool ok;
    mk_term_t prev_term = mk_raft_term_at(r, prev, &ok);
    mk_index_t first_held, last_held;
    r->store->vt->available(r->store->self, &first_held, &last_held);
    if (ok && upto > prev && prev + 1 < first_held) ok = false;  /* the entries after prev are compacted too */
    if (!ok) {  /* compacted below what the peer needs: it must install a snapshot (§8.2) */
        mk_raft_msg_t ns = {.kind = MK_RAFT_NEED_SNAPSHOT, .need_snapshot = {.term = r->hs.term, .leader_commit = r->commit}};
        mk_raft_send(r, &p->id, &ns);
        if (p->state != MK_PROG_SYNCING) {
            p->syncing_since = r->now;
            p->next = mk_raft_last(r).index + 1;  /* it buffers what follows */
        }
        p->state = MK_PROG_SYNCING;
        p->inflight = 0;
        p->sync_hint = 0;
        if (sent_last) *sent_last = prev;
        return;
    }
    mk_log_entry_t ents[256];
    size_t n = 0;
    size_t cap = r->cfg.cc.max_append_entries < 256 ? r->cfg.cc.max_append_entries : 256;
    if (upto > prev &&
        r->store->vt->get_range(r->store->self, prev + 1, upto, r->cfg.cc.max_append_bytes, ents, cap, &n) != MK_OK)
        n = 0;
    mk_raft_msg_t m = {.kind = MK_RAFT_APPEND};
    m.append.term = r->hs.term;
    m.append.prev = (mk_cursor_t){.term = prev_term, .index = prev};
    m.append.commit = r->commit;
    m.append.read_seq = r->read_seq;
    m.append.entries = ents;
    m.append.nentries = n;
    mk_raft_send(r, &p->id, &m);
    if (sent_last) *sent_last = prev + n;
}

void mk_raft_replicate_to(mk_raft_t *r, mk_rpeer_t *p, bool heartbeat) {
    if (!p->bonded) return;
    mk_index_t last = mk_raft_last(r).index;
    int64_t hb = (int64_t)r->cfg.cc.heartbeat_interval_ms;
    if (p->state == MK_PROG_SYNCING) {  /* it fetches from its peers: new entries (it buffers them) and heartbeats */
        if (p->next <= last) {
            while (p->state == MK_PROG_SYNCING && p->next <= last) {
                mk_index_t sent;
                send_append(r, p, p->next - 1, last, &sent);
                if (sent < p->next) break;
                p->next = sent + 1;
            }
            p->sent_at = r->now;
        } else if (heartbeat) {
            send_append(r, p, p->next - 1, p->next - 1, NULL);
        }
        return;
    }
    if (p->state == MK_PROG_PROBE) {
        if (!heartbeat && p->inflight && r->now - p->sent_at < hb) return;  /* one probe outstanding */
        mk_index_t sent;
        send_append(r, p, p->next - 1, last, &sent);
        p->inflight = 1;
        p->sent_at = r->now;
        return;
    }
    bool sent_any = false;
    while (p->inflight < r->cfg.cc.max_inflight_appends && p->next <= last) {
        mk_index_t sent = p->next - 1;
        send_append(r, p, p->next - 1, last, &sent);
        if (sent < p->next) break;
        p->next = sent + 1;
        p->inflight++;
        p->sent_at = r->now;
        sent_any = true;
    }
    /* a heartbeat names the last entry sent: a follower holding it confirms it (lost responses cannot
     * stall the pipeline), one that lacks it rejects and the peer falls back to probing */
    if (heartbeat && !sent_any) send_append(r, p, p->next - 1, p->next - 1, NULL);
}

void mk_raft_broadcast(mk_raft_t *r, bool heartbeat) {
    for (size_t i = 0; i < r->npeers; i++) mk_raft_replicate_to(r, &r->peers[i], heartbeat);
}

/* ---- follower ---- */

/* Entries a correct leader can send: terms never decreasing from prev.term and never above its own. */
static bool entries_plausible(const mk_raft_msg_t *m) {
    mk_term_t t = m->append.prev.term;
    for (size_t i = 0; i < m->append.nentries; i++) {
        const mk_log_entry_t *e = &m->append.entries[i];
        if (e->term < t || e->term > m->append.term) return false;
        t = e->term;
    }
    return true;
}

bool mk_raft_prev_matches(mk_raft_t *r, mk_cursor_t prev) {
    if (prev.index <= r->commit) return true;  /* committed (maybe compacted): it matches */
    if (prev.index > mk_raft_last(r).index) return false;
    bool ok;
    mk_term_t t = mk_raft_term_at(r, prev.index, &ok);
    return ok && t == prev.term;
}

void mk_raft_on_append(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m) {
    if (!entries_plausible(m)) return;  /* no correct leader sends this: ignored, nothing written */
    /* same term: p leads it (a candidate or pre-candidate of this term steps back) */
    if (r->role != MK_RAFT_FOLLOWER || !r->has_leader || !mk_id_eq(&r->leader, &p->id))
        mk_raft_become_follower(r, r->hs.term, &p->id);
    r->last_accept_at = r->now;
    r->ever_accepted = true;
    mk_raft_reset_election_timer(r);
    mk_raft_msg_t resp = {.kind = MK_RAFT_APPEND_RESP};
    resp.append_resp.term = r->hs.term;
    resp.append_resp.read_seq = m->append.read_seq;
    /* catching up from peers: entries that follow our log are taken as usual (a leader that needs this
     * node for its quorum falls back to them), the others are buffered until the session ends (§8.1) */
    if ((r->sync || r->snap_active) && !mk_raft_prev_matches(r, m->append.prev)) {
        mk_raft_sbuf_add(r, m);
        resp.append_resp.syncing = true;
        resp.append_resp.conflict_index = mk_raft_last(r).index + 1;
        mk_raft_send(r, &p->id, &resp);
        return;
    }
    mk_raft_follow(r, p, m, &resp);
    if (!r->fatal) mk_raft_send(r, &p->id, &resp);
}

void mk_raft_follow(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m, mk_raft_msg_t *resp) {
    mk_cursor_t last = mk_raft_last(r);
    mk_cursor_t prev = m->append.prev;
    bool ok;
    mk_term_t t = mk_raft_term_at(r, prev.index, &ok);
    if (prev.index <= r->commit) t = prev.term, ok = true;  /* committed (maybe compacted): it matches */
    if (prev.index > last.index) {
        resp->append_resp.conflict_index = last.index + 1;
        resp->append_resp.syncing = p && mk_raft_sync_maybe_start(r, p, m);  /* far behind: log replay (§8.1) */
        if (resp->append_resp.syncing) mk_raft_sbuf_add(r, m);
        return;
    }
    if (!ok || t != prev.term) {
        /* hint: the first index of the conflicting term (never at or below our commit) */
        mk_index_t ci = prev.index;
        while (ci > r->commit + 1 && ci > 1) {
            bool ok2;
            if (mk_raft_term_at(r, ci - 1, &ok2) != t || !ok2) break;
            ci--;
        }
        resp->append_resp.conflict_term = t;
        resp->append_resp.conflict_index = ci ? ci : 1;
        return;
    }
    size_t i = 0;
    for (; i < m->append.nentries; i++) {  /* skip what we already have */
        const mk_log_entry_t *e = &m->append.entries[i];
        if (e->index <= r->commit) continue;  /* committed here already (maybe compacted): identical */
        if (e->index > mk_raft_last(r).index) break;
        bool ok3;
        if (mk_raft_term_at(r, e->index, &ok3) == e->term && ok3) continue;
        if (mk_raft_store_truncate(r, e->index) != MK_OK) return;
        break;
    }
    if (i < m->append.nentries && mk_raft_store_append(r, m->append.entries + i, m->append.nentries - i) != MK_OK) return;
    mk_index_t match = prev.index + m->append.nentries;
    mk_index_t c = m->append.commit < match ? m->append.commit : match;
    if (c > r->commit) r->commit = c;
    resp->append_resp.success = true;
    resp->append_resp.match = match;
}

/* ---- leader: responses and commit ---- */

static mk_index_t last_index_of_term(mk_raft_t *r, mk_term_t term) {
    mk_index_t first, last;
    r->store->vt->available(r->store->self, &first, &last);
    for (mk_index_t i = last; i >= first && i > 0; i--) {
        bool ok;
        mk_term_t t = mk_raft_term_at(r, i, &ok);
        if (!ok || t < term) return 0;
        if (t == term) return i;
    }
    return 0;
}

void mk_raft_on_append_resp(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m) {
    if (r->role != MK_RAFT_LEADER) return;
    p->acked_at = r->now;
    if (p->inflight) p->inflight--;
    if (m->append_resp.read_seq > p->read_seq) {
        p->read_seq = m->append_resp.read_seq;
        mk_raft_reads_check(r);
    }
    if (m->append_resp.success) {
        if (m->append_resp.match > p->match) {
            p->match = m->append_resp.match;
            p->progress_at = r->now;
            if (p->next <= p->match) p->next = p->match + 1;
            if (p->state == MK_PROG_PROBE || p->state == MK_PROG_SYNCING) {
                p->state = MK_PROG_REPLICATE;
                p->inflight = 0;
                p->next = p->match + 1;
            }
            mk_raft_maybe_commit(r);
            if (p->match + 1 >= p->next) p->inflight = 0;  /* everything sent is confirmed */
        } else if (p->state == MK_PROG_PROBE && m->append_resp.match == p->next - 1) {
            p->state = MK_PROG_REPLICATE;  /* an empty probe matched */
            p->inflight = 0;
            p->progress_at = r->now;
        } else if (p->state == MK_PROG_SYNCING) {  /* its session ended: resume after what it holds */
            p->state = MK_PROG_REPLICATE;
            p->inflight = 0;
            p->next = p->match + 1;
            p->progress_at = r->now;
        }
        mk_raft_replicate_to(r, p, false);
        return;
    }
    if (m->append_resp.syncing) {  /* it catches up from its peers; new entries and heartbeats until it is done */
        if (p->state != MK_PROG_SYNCING) {
            p->syncing_since = r->now;
            p->next = mk_raft_last(r).index + 1;  /* what it misses before comes from its peers */
        }
        p->state = MK_PROG_SYNCING;
        p->inflight = 0;
        p->sync_hint = m->append_resp.conflict_index;
        return;
    }
    /* rejected: move next back using the hint, never below match + 1 */
    mk_index_t next = m->append_resp.conflict_index;
    if (m->append_resp.conflict_term) {
        mk_index_t own = last_index_of_term(r, m->append_resp.conflict_term);
        if (own) next = own + 1;
    }
    if (next <= p->match) next = p->match + 1;
    if (next < 1) next = 1;
    mk_index_t last = mk_raft_last(r).index;
    if (next > last + 1) next = last + 1;
    p->next = next;
    p->state = MK_PROG_PROBE;
    p->inflight = 0;
    mk_raft_replicate_to(r, p, false);
}

static int cmp_desc(const void *a, const void *b) {
    mk_index_t x = *(const mk_index_t *)a, y = *(const mk_index_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

void mk_raft_maybe_commit(mk_raft_t *r) {
    if (r->role != MK_RAFT_LEADER || !r->config.nvoters) return;
    mk_index_t matches[MK_RAFT_MAX_VOTERS];
    size_t n = 0;
    for (size_t i = 0; i < r->config.nvoters; i++) {
        const mk_raft_voter_t *v = &r->config.voters[i];
        mk_index_t m = 0;
        if (mk_id_eq(&v->peer, &r->cfg.self) && v->incarnation == r->meta.incarnation) m = r->synced;
        else {
            mk_rpeer_t *p = mk_raft_peer(r, &v->peer);
            if (p && p->bonded && p->inc == v->incarnation) m = p->match;
        }
        matches[n++] = m;
    }
    qsort(matches, n, sizeof *matches, cmp_desc);
    mk_index_t cand = matches[mk_raft_quorum(r) - 1];
    if (cand <= r->commit) return;
    bool ok;
    if (mk_raft_term_at(r, cand, &ok) != r->hs.term || !ok) return;  /* only current-term entries commit directly */
    r->commit = cand;
    mk_raft_reads_check(r);
    mk_raft_broadcast(r, true);  /* followers learn the new commit index now */
}

/* A peer that catches up from its peers cannot store new entries. When the leader has entries waiting
 * and too few voters replicate without such peers, a snapshot marker or anything else could wait for
 * ever (the snapshot needs the marker committed, the marker needs the peer): after an election timeout
 * those voters get plain AppendEntries from the end of their logs instead, which they accept. */
static size_t replicating_voters(const mk_raft_t *r) {
    size_t live = mk_raft_self_voter(r) ? 1 : 0;
    for (size_t i = 0; i < r->npeers; i++)
        if (mk_raft_counts(r, &r->peers[i]) && r->peers[i].state != MK_PROG_SYNCING) live++;
    return live;
}

bool mk_raft_quorum_waits_for(mk_raft_t *r, const mk_peer_id_t *peer) {
    if (r->role != MK_RAFT_LEADER) return false;
    mk_rpeer_t *p = mk_raft_peer(r, peer);
    return p && mk_raft_counts(r, p) && p->state == MK_PROG_SYNCING && replicating_voters(r) < mk_raft_quorum(r);
}

static void syncing_fallback(mk_raft_t *r, int64_t et) {
    mk_index_t last = mk_raft_last(r).index;
    if (r->commit >= last || replicating_voters(r) >= mk_raft_quorum(r)) return;
    for (size_t i = 0; i < r->npeers; i++) {
        mk_rpeer_t *p = &r->peers[i];
        if (!mk_raft_counts(r, p) || p->state != MK_PROG_SYNCING || r->now - p->syncing_since < et) continue;
        mk_index_t next = p->sync_hint ? p->sync_hint : p->match + 1;
        if (next <= p->match) next = p->match + 1;
        if (next > last + 1) next = last + 1;
        p->state = MK_PROG_PROBE;
        p->next = next;
        p->inflight = 0;
        r->syncing_fallbacks++;
        mk_raft_replicate_to(r, p, false);
    }
}

void mk_raft_leader_tick(mk_raft_t *r) {
    int64_t hb = (int64_t)r->cfg.cc.heartbeat_interval_ms, et = (int64_t)r->cfg.cc.election_timeout_ms;
    /* CheckQuorum over a sliding window: once the leader has led for election_timeout, a majority of
     * its voters (itself included) must have been heard within the last election_timeout, checked on
     * every tick, so a cut-off leader steps down within election_timeout + one tick */
    if (r->now - r->leader_since >= et) {
        size_t heard = mk_raft_self_voter(r) ? 1 : 0;
        for (size_t i = 0; i < r->npeers; i++)
            if (mk_raft_counts(r, &r->peers[i]) && r->now - r->peers[i].last_heard < et) heard++;
        if (heard < mk_raft_quorum(r)) {  /* cut off from a majority: step down, term unchanged */
            mk_raft_become_follower(r, r->hs.term, NULL);
            return;
        }
        r->quorum_ok_at = r->now;
    }
    for (size_t i = 0; i < r->npeers; i++) {  /* a pipeline that stopped making progress falls back to probing */
        mk_rpeer_t *p = &r->peers[i];
        if (p->state == MK_PROG_REPLICATE && p->match + 1 < p->next && r->now - p->progress_at > 4 * hb &&
            r->now - p->sent_at > 2 * hb) {
            p->state = MK_PROG_PROBE;
            p->next = p->match + 1;
            p->inflight = 0;
        }
    }
    syncing_fallback(r, et);
    if (r->now >= r->heartbeat_due) {
        r->heartbeat_due = r->now + hb;
        mk_raft_broadcast(r, true);
    }
    mk_raft_membership_tick(r);
    mk_raft_reads_check(r);
}

/* ---- read index ---- */

static void read_done(mk_raft_t *r, const mk_pending_read_t *pr, bool ok) {
    if (pr->local) {
        mk_raft_read_t *o = MK_VEC_PUSH(&r->out_reads);
        if (o) *o = (mk_raft_read_t){.req_id = pr->req_id, .ok = ok, .read_index = pr->read_index};
        return;
    }
    mk_raft_msg_t m = {.kind = MK_RAFT_READ_INDEX_RESP,
                       .read_index_resp = {.req_id = pr->req_id, .ok = ok, .read_index = pr->read_index}};
    mk_raft_send(r, &pr->from, &m);
}

static size_t read_acks(mk_raft_t *r, uint64_t seq) {
    size_t n = mk_raft_self_voter(r) ? 1 : 0;
    for (size_t i = 0; i < r->npeers; i++)
        if (mk_raft_counts(r, &r->peers[i]) && r->peers[i].read_seq >= seq) n++;
    return n;
}

void mk_raft_reads_check(mk_raft_t *r) {
    if (r->role != MK_RAFT_LEADER || !r->reads.n) return;
    bool can_index = r->noop_index && r->commit >= r->noop_index;
    bool round = false;
    size_t keep = 0;
    for (size_t i = 0; i < r->reads.n; i++) {
        mk_pending_read_t *pr = &r->reads.v[i];
        if (!pr->seq && can_index) {  /* a current-term entry is committed: the read index is known */
            pr->read_index = r->commit;
            pr->seq = r->read_seq + 1;
            round = true;
        }
        if (pr->seq && pr->seq <= r->read_seq && read_acks(r, pr->seq) >= mk_raft_quorum(r)) {
            read_done(r, pr, true);
            continue;
        }
        r->reads.v[keep++] = *pr;
    }
    r->reads.n = keep;
    if (round) {
        r->read_seq++;
        if (read_acks(r, r->read_seq) >= mk_raft_quorum(r)) {  /* a one-voter configuration confirms at once */
            mk_raft_reads_check(r);
            return;
        }
        mk_raft_broadcast(r, true);
    }
}

static void add_read(mk_raft_t *r, uint64_t req_id, bool local, const mk_peer_id_t *from) {
    mk_pending_read_t *pr = MK_VEC_PUSH(&r->reads);
    if (!pr) return;
    pr->req_id = req_id;
    pr->local = local;
    if (from) pr->from = *from;
    mk_raft_reads_check(r);
}

void mk_raft_read_index(mk_raft_t *r, int64_t now, uint64_t req_id) {
    r->now = now;
    if (r->role == MK_RAFT_LEADER) {
        add_read(r, req_id, true, NULL);
        return;
    }
    if (!r->has_leader) {
        mk_raft_read_t *o = MK_VEC_PUSH(&r->out_reads);
        if (o) *o = (mk_raft_read_t){.req_id = req_id, .ok = false};
        return;
    }
    mk_raft_msg_t m = {.kind = MK_RAFT_READ_INDEX_REQ, .read_index_req = {.req_id = req_id}};
    mk_raft_send(r, &r->leader, &m);
}

void mk_raft_on_read_req(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m) {
    if (r->role != MK_RAFT_LEADER) {
        mk_raft_msg_t resp = {.kind = MK_RAFT_READ_INDEX_RESP, .read_index_resp = {.req_id = m->read_index_req.req_id}};
        mk_raft_send(r, &p->id, &resp);
        return;
    }
    add_read(r, m->read_index_req.req_id, false, &p->id);
}

void mk_raft_on_read_resp(mk_raft_t *r, const mk_raft_msg_t *m) {
    mk_raft_read_t *o = MK_VEC_PUSH(&r->out_reads);
    if (o)
        *o = (mk_raft_read_t){.req_id = m->read_index_resp.req_id, .ok = m->read_index_resp.ok,
                              .read_index = m->read_index_resp.read_index};
}

/* ---- proposals, forwarding, sessions ---- */

static mk_session_t *session_of(mk_raft_t *r, uint64_t id) {
    for (size_t i = 0; i < r->sessions.n; i++)
        if (r->sessions.v[i].id == id) return &r->sessions.v[i];
    return NULL;
}

void mk_raft_sessions_rebuild(mk_raft_t *r) {
    r->sessions.n = 0;
    if (!r->cfg.cc.exactly_once) return;
    mk_index_t first, last;
    r->store->vt->available(r->store->self, &first, &last);
    for (mk_index_t i = first; i <= last; i++) {
        mk_log_entry_t e;
        mk_raft_body_t b;
        if (r->store->vt->get(r->store->self, i, &e) != MK_OK || e.kind != MK_ENTRY_COMMAND) continue;
        if (mk_raft_body_decode(MK_ENTRY_COMMAND, e.body, e.len, &b, NULL) != MK_OK || !b.command.session) continue;
        mk_session_t *s = session_of(r, b.command.session);
        if (!s && !(s = MK_VEC_PUSH(&r->sessions))) return;
        if (s->id && b.command.seq == s->last_seq) {
            s->range.last = i;
            continue;
        }
        *s = (mk_session_t){.id = b.command.session, .last_seq = b.command.seq,
                            .range = {.term = e.term, .first = i, .last = i}};
    }
}

typedef enum { APPENDED, DUPLICATE, OUT_OF_ORDER, FAILED } append_outcome_t;

/* The leader appends a batch as one contiguous range (or re-acknowledges a duplicate). */
static append_outcome_t leader_append(mk_raft_t *r, const mk_bytes_t *cmds, size_t n, uint64_t session, uint64_t seq,
                                      mk_index_range_t *range, uint64_t *expected) {
    mk_session_t *s = NULL;
    if (session && r->cfg.cc.exactly_once && (s = session_of(r, session))) {
        if (seq == s->last_seq) {
            *range = s->range;
            return DUPLICATE;
        }
        if (seq != s->last_seq + 1) {
            *expected = s->last_seq + 1;
            return OUT_OF_ORDER;
        }
    }
    mk_buf_t body = MK_BUF_INIT;
    mk_index_t first = mk_raft_last(r).index + 1;
    for (size_t i = 0; i < n; i++) {
        mk_raft_body_t b = {.kind = MK_ENTRY_COMMAND,
                            .command = {.session = session, .seq = seq, .payload = cmds[i]}};
        body.len = 0;
        if (mk_raft_body_encode(&b, &body, NULL) != MK_OK ||
            mk_raft_append_local(r, MK_ENTRY_COMMAND, body.ptr, body.len, NULL) != MK_OK) {
            mk_buf_free(&body);
            return FAILED;
        }
    }
    mk_buf_free(&body);
    *range = (mk_index_range_t){.term = r->hs.term, .first = first, .last = first + n - 1};
    if (session && r->cfg.cc.exactly_once) {
        if (!s && (s = MK_VEC_PUSH(&r->sessions))) s->id = session;
        if (s) {
            s->last_seq = seq;
            s->range = *range;
        }
    }
    r->append_due = true;  /* replicated at the next ready: a loop turn's proposals travel together */
    return APPENDED;
}

static void result(mk_raft_t *r, uint64_t req_id, int status, bool maybe, mk_index_range_t range) {
    mk_raft_result_t *o = MK_VEC_PUSH(&r->out_results);
    if (o) *o = (mk_raft_result_t){.req_id = req_id, .status = status, .maybe_applied = maybe, .range = range};
}

static void fwd_free(mk_pending_fwd_t *f) {
    for (size_t k = 0; k < f->n; k++) free((void *)f->cmds[k].ptr);
    free(f->cmds);
}

static void fwd_remove(mk_raft_t *r, size_t i) {
    fwd_free(&r->fwds.v[i]);
    r->fwds.v[i] = r->fwds.v[--r->fwds.n];
}

static void fwd_send_to(mk_raft_t *r, mk_pending_fwd_t *f, const mk_peer_id_t *to) {
    mk_raft_msg_t m = {.kind = MK_RAFT_FORWARD,
                       .forward = {.req_id = f->req_id, .session = f->session, .seq = f->seq, .commands = f->cmds,
                                   .ncommands = f->n}};
    mk_raft_send(r, to, &m);
    f->sent = true;  /* sticky: once a copy left, a failure can only be "maybe applied" */
    f->sent_to = *to;
    f->deadline = r->now + (int64_t)r->cfg.cc.forward_timeout_ms;
}

int mk_raft_propose(mk_raft_t *r, int64_t now, uint64_t req_id, const mk_bytes_t *cmds, size_t n, uint64_t session,
                    uint64_t seq) {
    r->now = now;
    if (!n || !cmds) return MK_ENOCOMMANDS;
    if (n > MK_RAFT_MAX_COMMANDS) return MK_E2BIG;
    for (size_t i = 0; i < n; i++)
        if (cmds[i].len > r->cfg.cc.max_command_bytes) return MK_E2BIG;
    if (r->fwds.n >= r->cfg.cc.max_pending_commands) return MK_EAGAIN;
    if (r->role == MK_RAFT_LEADER) {
        mk_index_range_t range = {0};
        uint64_t expected = 0;
        append_outcome_t o = leader_append(r, cmds, n, session, seq, &range, &expected);
        if (o == APPENDED || o == DUPLICATE) result(r, req_id, MK_OK, false, range);
        else result(r, req_id, MK_EOFFLINE, false, range);
        return MK_OK;
    }
    mk_pending_fwd_t *f = MK_VEC_PUSH(&r->fwds);
    if (!f) return MK_ENOMEM;
    f->req_id = req_id, f->session = session, f->seq = seq;
    f->cmds = calloc(n, sizeof *f->cmds);
    if (!f->cmds) {
        r->fwds.n--;
        return MK_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        void *copy = malloc(cmds[i].len ? cmds[i].len : 1);
        if (!copy) {
            f->n = i;
            fwd_remove(r, r->fwds.n - 1);
            return MK_ENOMEM;
        }
        if (cmds[i].len) memcpy(copy, cmds[i].ptr, cmds[i].len);
        f->cmds[i] = (mk_bytes_t){copy, cmds[i].len};
    }
    f->n = n;
    f->deadline = now + (int64_t)r->cfg.cc.forward_timeout_ms;  /* for a leader to appear */
    if (r->has_leader) fwd_send_to(r, f, &r->leader);
    return MK_OK;
}

void mk_raft_fwd_tick(mk_raft_t *r) {
    for (size_t i = 0; i < r->fwds.n;) {
        mk_pending_fwd_t *f = &r->fwds.v[i];
        if (r->role == MK_RAFT_LEADER && !f->sent) {  /* became leader while it waited */
            mk_index_range_t range = {0};
            uint64_t expected = 0;
            append_outcome_t o = leader_append(r, f->cmds, f->n, f->session, f->seq, &range, &expected);
            result(r, f->req_id, o == APPENDED || o == DUPLICATE ? MK_OK : MK_EOFFLINE, false, range);
            fwd_remove(r, i);
            continue;
        }
        if (!f->sent && r->has_leader && r->role != MK_RAFT_LEADER) fwd_send_to(r, f, &r->leader);
        if (r->now >= f->deadline) {
            result(r, f->req_id, MK_EOFFLINE, f->sent, (mk_index_range_t){0});
            fwd_remove(r, i);
            continue;
        }
        i++;
    }
}

static mk_pending_fwd_t *fwd_of(mk_raft_t *r, uint64_t req_id, size_t *at) {
    for (size_t i = 0; i < r->fwds.n; i++)
        if (r->fwds.v[i].req_id == req_id) {
            *at = i;
            return &r->fwds.v[i];
        }
    return NULL;
}

void mk_raft_on_forward(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m) {
    mk_raft_msg_t resp = {.kind = MK_RAFT_FORWARD_NACK, .forward_nack = {.req_id = m->forward.req_id}};
    if (r->role != MK_RAFT_LEADER) {
        resp.forward_nack.reason = MK_RAFT_NACK_NOT_LEADER;
        resp.forward_nack.has_leader = r->has_leader;
        resp.forward_nack.leader = r->leader;
        mk_raft_send(r, &p->id, &resp);
        return;
    }
    for (size_t i = 0; i < m->forward.ncommands; i++)
        if (m->forward.commands[i].len > r->cfg.cc.max_command_bytes) {
            resp.forward_nack.reason = MK_RAFT_NACK_TOO_LARGE;
            mk_raft_send(r, &p->id, &resp);
            return;
        }
    mk_index_range_t range = {0};
    uint64_t expected = 0;
    append_outcome_t o = OUT_OF_ORDER;
    for (size_t i = 0; i < r->nrecent; i++)  /* the same forward again (a retry or a duplicate): same range */
        if (r->recent[i].req_id == m->forward.req_id && mk_id_eq(&r->recent[i].from, &p->id)) {
            range = r->recent[i].range;
            o = DUPLICATE;
        }
    if (o != DUPLICATE) {
        o = leader_append(r, m->forward.commands, m->forward.ncommands, m->forward.session, m->forward.seq, &range,
                          &expected);
        if (o == APPENDED) {
            r->recent[r->recent_at] = (mk_recent_fwd_t){.from = p->id, .req_id = m->forward.req_id, .range = range};
            r->recent_at = (r->recent_at + 1) % MK_RAFT_RECENT_FWDS;
            if (r->nrecent < MK_RAFT_RECENT_FWDS) r->nrecent++;
        }
    }
    if (o == APPENDED || o == DUPLICATE) {
        mk_raft_msg_t ack = {.kind = MK_RAFT_FORWARD_ACK, .forward_ack = {.req_id = m->forward.req_id, .term = range.term,
                                                                          .first = range.first, .last = range.last}};
        mk_raft_send(r, &p->id, &ack);
        return;
    }
    resp.forward_nack.reason = o == OUT_OF_ORDER ? MK_RAFT_NACK_OUT_OF_ORDER : MK_RAFT_NACK_BUSY;
    resp.forward_nack.expected = expected;
    mk_raft_send(r, &p->id, &resp);
}

void mk_raft_on_forward_ack(mk_raft_t *r, const mk_raft_msg_t *m) {
    size_t at;
    if (!fwd_of(r, m->forward_ack.req_id, &at)) return;
    result(r, m->forward_ack.req_id, MK_OK, false,
           (mk_index_range_t){.term = m->forward_ack.term, .first = m->forward_ack.first, .last = m->forward_ack.last});
    fwd_remove(r, at);
}

void mk_raft_on_forward_nack(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m) {
    (void)p;
    size_t at;
    mk_pending_fwd_t *f = fwd_of(r, m->forward_nack.req_id, &at);
    if (!f) return;
    /* NOT_LEADER: retried at the leader it names, but only under an exactly-once session, whose
     * (session, seq) lets any leader recognise a copy already in its log. Without a session a retry
     * could apply the call twice (a delayed or duplicated copy may have reached an earlier leader), so
     * the call ends MK_EOFFLINE with maybe_applied and the caller decides. */
    mk_rpeer_t *hint = m->forward_nack.has_leader ? mk_raft_peer(r, &m->forward_nack.leader) : NULL;
    if (m->forward_nack.reason == MK_RAFT_NACK_NOT_LEADER && f->session && r->cfg.cc.exactly_once && f->resends < 3 &&
        hint && hint->bonded) {
        f->resends++;
        fwd_send_to(r, f, &hint->id);
        return;
    }
    result(r, f->req_id, MK_EOFFLINE, f->sent, (mk_index_range_t){0});
    fwd_remove(r, at);
}
