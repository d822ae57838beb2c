/* groups/raft/sync.c — log-replay state sync inside the core (spec 40 §3.5, §8.1): a follower whose log
 * ends before the leader's AppendEntries and whose commit lags the leader's by more than replay_batch
 * runs a catch-up session (groups/sync/replay.c) against its bonded same-origin peers and answers the
 * leader reject{syncing} meanwhile; the leader then sends that peer only heartbeats. Fetched entries are
 * committed ones: they are written with the follower rules and raise the commit index chunk by chunk.
 * Every node also answers the sync requests of others from its store (committed entries only).
 * Live entries that arrive meanwhile are buffered (syncbuf.c) and go through the follower rules when the
 * session ends; the follower then answers the leader, which resumes replication after them. */
#include "groups/raft/raft_int.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_REPLAY_BATCH 2000u
#define DEFAULT_FETCH_TIMEOUT_MS 25000u
#define DEFAULT_MAX_MESSAGE (4u << 20)

static uint32_t replay_batch(const mk_raft_t *r) {
    return r->cfg.sync.replay_batch ? r->cfg.sync.replay_batch : DEFAULT_REPLAY_BATCH;
}

static bool same_origin(const mk_rpeer_t *p, const mk_id_t *origin) {
    return p->bonded && p->hello && p->has_origin && mk_id_eq(&p->origin, origin);
}

void mk_raft_sync_abort(mk_raft_t *r) {
    if (!r->sync) return;
    mk_replay_free(r->sync);
    r->sync = NULL;
}

bool mk_raft_sync_maybe_start(mk_raft_t *r, const mk_rpeer_t *leader, const mk_raft_msg_t *m) {
    if (r->sync || r->snap_active) return true;
    /* measured from the end of our log: entries we hold need no fetching, only applying */
    mk_index_t have = mk_raft_last(r).index;
    if (!m->has_origin || m->append.commit <= have || m->append.commit - have <= replay_batch(r)) return false;
    if (r->now < r->sync_retry_at) return false;  /* a session just found nothing to fetch: plain replication */
    if (r->meta.has_origin && !mk_id_eq(&r->meta.origin, &m->origin)) return false;
    if (r->cfg.snapshot_sync && r->cfg.sync.kind == MK_SYNC_SNAPSHOT)  /* §8.2: instead of log replay */
        return mk_raft_snapshot_begin(r, &leader->id, m->append.commit);
    bool ok;
    mk_term_t ct = mk_raft_term_at(r, r->commit, &ok);
    if (!ok) return false;
    mk_replay_peer_t peers[MK_RAFT_MAX_PEERS];
    size_t n = 0;
    for (size_t i = 0; i < r->npeers; i++)
        if (same_origin(&r->peers[i], &m->origin))
            peers[n++] = (mk_replay_peer_t){.id = r->peers[i].id, .leader = mk_id_eq(&r->peers[i].id, &leader->id)};
    if (!n) return false;
    mk_replay_config_t cfg = {.sid = mk_raft_rand(r) | 1,
                              .commit = r->commit,
                              .commit_term = ct,
                              .target = m->append.commit,
                              .replay_batch = replay_batch(r),
                              .fetch_timeout_ms = r->cfg.sync.replay_fetch_timeout_ms ? r->cfg.sync.replay_fetch_timeout_ms
                                                                                      : DEFAULT_FETCH_TIMEOUT_MS,
                              .peers = peers,
                              .npeers = n};
    r->sync = mk_replay_new(&cfg, r->now, &r->err);
    if (!r->sync) return false;
    r->sync_origin = m->origin;
    r->sync_sessions++;
    return true;
}

void mk_raft_sync_peer(mk_raft_t *r, const mk_rpeer_t *p, bool up) {
    if (!r->sync) return;
    if (!up) mk_replay_peer_down(r->sync, r->now, &p->id);
    else if (same_origin(p, &r->sync_origin))
        mk_replay_peer_up(r->sync, r->now, &p->id, r->has_leader && mk_id_eq(&r->leader, &p->id));
}

/* A session aims at the commit index of the leader that started it; another leader may know less (its
 * commit can lag: nobody could then serve the target). The next AppendEntries decides anew. */
void mk_raft_sync_leader(mk_raft_t *r) {
    mk_raft_sync_abort(r);
    mk_raft_sbuf_clear(r);
}

void mk_raft_sync_step(mk_raft_t *r, int64_t now, const mk_peer_id_t *from, const mk_gsync_msg_t *m) {
    r->now = now;
    if (r->fatal) return;
    mk_rpeer_t *p = mk_raft_peer(r, from);
    if (!p || !p->bonded) return;
    p->last_heard = now;
    if (r->sync && same_origin(p, &r->sync_origin) && mk_replay_step(r->sync, now, from, m)) return;
    /* provider: only a node with a history offers committed entries, and only to its own origin */
    if (!r->meta.has_origin || (p->hello && p->has_origin && !mk_id_eq(&p->origin, &r->meta.origin))) return;
    size_t max = r->cfg.max_message_bytes ? r->cfg.max_message_bytes : DEFAULT_MAX_MESSAGE;
    mk_gsync_provide(r->store, r->commit, max, from, m, &r->out_sync, &r->err);
}

void mk_raft_sync_tick(mk_raft_t *r) {
    if (r->sync) mk_replay_tick(r->sync, r->now);
}

/* Writes one released run of committed entries with the follower rules and raises the commit index. */
static bool write_run(mk_raft_t *r, const mk_replay_write_t *w) {
    bool ok;
    if (w->prev.index > mk_raft_last(r).index || mk_raft_term_at(r, w->prev.index, &ok) != w->prev.term || !ok) {
        mk_raft_fatal(r, "a fetched chunk does not follow the log");
        return false;
    }
    size_t i = 0;
    for (; i < w->n; i++) {
        const mk_log_entry_t *e = &w->entries[i];
        if (e->index > mk_raft_last(r).index) break;
        bool ok2;
        if (mk_raft_term_at(r, e->index, &ok2) == e->term && ok2) continue;
        if (mk_raft_store_truncate(r, e->index) != MK_OK) return false;  /* never at or below commit */
        break;
    }
    if (i < w->n && mk_raft_store_append(r, w->entries + i, w->n - i) != MK_OK) return false;
    mk_index_t last = w->prev.index + w->n;
    if (last > r->commit) r->commit = last;  /* fetched entries are committed */
    return true;
}

void mk_raft_sync_ready(mk_raft_t *r) {
    if (!r->sync || r->fatal) return;
    mk_replay_ready_t rd;
    if (mk_replay_ready(r->sync, &rd)) {
        for (size_t i = 0; i < rd.nmsgs; i++) {  /* hand the encoded messages over to the core's outbox */
            mk_gsync_send_t *s = r->out_sync.n < r->out_sync.cap ? &r->out_sync.v[r->out_sync.n] : NULL;
            if (!s) {
                size_t cap = r->out_sync.cap ? r->out_sync.cap * 2 : 8;
                void *v = realloc(r->out_sync.v, cap * sizeof *r->out_sync.v);
                if (!v) continue;  /* dropped: the session's timers re-ask */
                r->out_sync.v = v;
                r->out_sync.cap = cap;
                s = &r->out_sync.v[r->out_sync.n];
            }
            *s = rd.msgs[i];
            r->out_sync.n++;
            rd.msgs[i].bytes = (mk_buf_t)MK_BUF_INIT;
        }
        for (size_t i = 0; i < rd.nwrites && !r->fatal; i++) write_run(r, &rd.writes[i]);
        bool stuck = rd.stuck_changed && rd.stuck;
        mk_replay_advance(r->sync, &rd);
        if (stuck && r->cfg.snapshot_sync) {  /* the entries are pruned everywhere: a snapshot instead */
            mk_raft_snapshot_begin(r, r->has_leader ? &r->leader : NULL, 0);
            return;
        }
        if (stuck) {  /* nobody offers what we need: fall back to the leader's AppendEntries for a while */
            r->ev_sync_stuck = true;
            mk_raft_sync_abort(r);
            r->sync_retry_at = r->now + (int64_t)(r->cfg.sync.replay_fetch_timeout_ms ? r->cfg.sync.replay_fetch_timeout_ms
                                                                                      : DEFAULT_FETCH_TIMEOUT_MS);
            return;
        }
    }
    if (r->sync && mk_replay_done(r->sync)) {
        mk_raft_sync_abort(r);
        if (!r->snap_active) mk_raft_sbuf_flush(r);
    }
}
