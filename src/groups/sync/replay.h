/* groups/sync/replay.h — log-replay state sync (spec 40 §8.1), sans-I/O: no clock, sockets or threads;
 * every input carries `now` (ms, any monotonic origin). It owns three things:
 *   - the catch-up SESSION of a lagging node: asks every bonded same-origin peer for its committed range,
 *     fetches [C + 1, T] from them in parallel in chunks of ≤ replay_batch (non-leaders first, one request
 *     in flight per peer), survives timeouts, gone ranges and bad peers, and releases the fetched
 *     (committed) entries strictly in index order as "writes" for the driver;
 *   - the PROVIDER answers every node gives to AvailabilityRequest / FetchEntriesRequest from its store;
 *   - the APPLY RULE that writes replicated entries into a store (same term: skip; other term: truncate
 *     there, never at or below the commit index; missing: append), shared with the runtime's
 *     AppendEntries path.
 * Outputs are queues of (peer, encoded StateSync bytes) like groups/raft/raft.h's ready batch; the driver
 * wraps each in BondMessage::StateSync. The event loop and tests/sim drive the same code. */
#ifndef MK_GROUPS_SYNC_REPLAY_H
#define MK_GROUPS_SYNC_REPLAY_H

#include "groups/sync_wire.h"
#include "mosaik/groups.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- outgoing messages ------------------------------------------------------------------------------- */

/* One message to send: encoded sync message bytes (the BondMessage::StateSync payload), owned. */
typedef struct mk_gsync_send {
    mk_peer_id_t to;
    mk_buf_t bytes;
} mk_gsync_send_t;

/* A growable queue of messages to send. */
typedef struct mk_gsync_outbox {
    mk_gsync_send_t *v;
    size_t n, cap;
} mk_gsync_outbox_t;
#define MK_GSYNC_OUTBOX_INIT {NULL, 0, 0}

/* Frees every queued message and empties the queue (the array is kept for reuse). */
void mk_gsync_outbox_clear(mk_gsync_outbox_t *o);
/* Frees every queued message and the array; the outbox is MK_GSYNC_OUTBOX_INIT afterwards. */
void mk_gsync_outbox_free(mk_gsync_outbox_t *o);

/* ---- the apply rule (spec 40 §3.5, §8.1) ------------------------------------------------------------- */

typedef struct mk_gsync_apply_result {
    size_t skipped;              /* entries already present with the same term (or compacted) */
    size_t appended;             /* entries appended at the end */
    mk_index_t truncated_from;   /* the log was cut from this index before appending; 0: no truncation */
} mk_gsync_apply_result_t;

/* Writes the replicated entries e[0..n) (e[i].index = prev.index + 1 + i) into store: prev must match
 * (term_at(prev.index) == prev.term, or prev lies below the store's base, i.e. was compacted); then per
 * entry, same term → skip, other term → truncate from there and append the rest, missing → append. A
 * truncation at or below `commit` is never made. Returns MK_OK (res filled; may be NULL), MK_EINVAL (e not
 * contiguous from prev.index + 1; nothing written), MK_ENOTFOUND (prev beyond the log or its term
 * differs; nothing written), MK_EPROTO (an entry conflicts with one at or below commit; nothing written —
 * under correct Raft this never happens: the caller treats it as fatal), or a store error from truncate /
 * append (the log may then be cut but not refilled; also fatal). Does not call store.sync. */
int mk_gsync_apply_entries(mk_log_store_t *store, mk_index_t commit, mk_cursor_t prev, const mk_log_entry_t *e,
                           size_t n, mk_gsync_apply_result_t *res);

/* ---- provider (every node) --------------------------------------------------------------------------- */

/* Answers one decoded request from peer `from` out of store and queues the encoded answer on out:
 * AvailabilityRequest → AvailabilityResponse{sid, first stored, min(last stored, commit)} (first = last + 1
 * when nothing is offered); FetchEntriesRequest{first, last} → the FetchEntriesResponse of
 * mk_gsync_fetch_resp_from_store over [first, min(last, commit)] within max_bytes (gone when nothing of it
 * is held). max_bytes bounds the encoded sync message: the frame limit minus the envelope. MK_OK (one
 * message queued), MK_ENOTSUP (not a request a log provider answers: responses, snapshot messages;
 * nothing queued), MK_ENOMEM, or a store error (nothing queued). */
int mk_gsync_provide(mk_log_store_t *store, mk_index_t commit, size_t max_bytes, const mk_peer_id_t *from,
                     const mk_gsync_msg_t *m, mk_gsync_outbox_t *out, mk_error_t *e);

/* ---- session (the lagging node) ---------------------------------------------------------------------- */

typedef struct mk_replay mk_replay_t;

/* A bonded peer of the same origin; `leader` marks the current leader (asked last). */
typedef struct mk_replay_peer {
    mk_peer_id_t id;
    bool leader;
} mk_replay_peer_t;

typedef struct mk_replay_config {
    uint64_t sid;                    /* session id, echoed by providers (draw it at random) */
    mk_index_t commit;               /* C: own commit index; fetching starts at C + 1 */
    mk_term_t commit_term;           /* term_at(C) in the own store (0 when C is 0) */
    mk_index_t target;               /* T: the leader's commit when the session starts */
    uint32_t replay_batch;           /* chunk size, ≥ 1 (capped at MK_GSYNC_MAX_ENTRIES) */
    uint32_t fetch_timeout_ms;       /* replay_fetch_timeout, ≥ 1 */
    uint32_t window_chunks;          /* fetch at most this many chunks ahead of the next index to release;
                                        bounds the reorder buffer. 0 = 16 */
    const mk_replay_peer_t *peers;   /* copied; duplicates are merged */
    size_t npeers;
} mk_replay_config_t;

/* A run of fetched committed entries to write, released in index order: write them with
 * mk_gsync_apply_entries(store, commit, prev, entries, n, …), then raise commit to their last index.
 * Bodies are owned by the session until mk_replay_advance. */
typedef struct mk_replay_write {
    mk_cursor_t prev;                /* (term, index) of the entry before entries[0] */
    const mk_log_entry_t *entries;   /* entries[i].index = prev.index + 1 + i */
    size_t n;
} mk_replay_write_t;

typedef struct mk_replay_ready {
    mk_gsync_send_t *msgs;            /* to send, in order */
    size_t nmsgs;
    mk_replay_write_t *writes;       /* to write, in order, contiguous */
    size_t nwrites;
    mk_index_t committed;            /* the last index released so far (C until the first write) */
    bool done;                       /* committed ≥ T: the session has finished */
    bool stuck;                      /* no bonded peer offers the next needed index (event + counter) */
    bool stuck_changed;              /* stuck flipped since the last batch */
} mk_replay_ready_t;

/* Starts a session and queues an AvailabilityRequest to every configured peer. C ≥ T makes it done at
 * once. NULL + e (MK_EINVAL naming the field: replay_batch, fetch_timeout_ms, peers) or MK_ENOMEM. */
mk_replay_t *mk_replay_new(const mk_replay_config_t *cfg, int64_t now, mk_error_t *e);
/* Frees the session, its queues and buffered entries. NULL is a no-op. */
void mk_replay_free(mk_replay_t *s);
/* A same-origin peer bonded (or re-bonded): it is (re)asked for its range; `leader` also makes it the
 * leader. A peer dropped for bad data stays dropped for the session. */
void mk_replay_peer_up(mk_replay_t *s, int64_t now, const mk_peer_id_t *peer, bool leader);
/* The bond to peer went down: its request in flight goes back to be reassigned. */
void mk_replay_peer_down(mk_replay_t *s, int64_t now, const mk_peer_id_t *peer);
/* The leader changed (NULL: unknown); only the order of assignment depends on it. */
void mk_replay_set_leader(mk_replay_t *s, int64_t now, const mk_peer_id_t *leader);
/* One decoded sync message from `from`. Consumes AvailabilityResponse and FetchEntriesResponse carrying
 * this session's sid (true); anything else is left to the caller (false). Stale or unexpected responses
 * are consumed and ignored. */
bool mk_replay_step(mk_replay_t *s, int64_t now, const mk_peer_id_t *from, const mk_gsync_msg_t *m);
/* Timers: a fetch unanswered for fetch_timeout drops the peer's range, re-asks it and reassigns the chunk;
 * unanswered AvailabilityRequests are resent; while stuck every peer is re-asked each fetch_timeout. */
void mk_replay_tick(mk_replay_t *s, int64_t now);
/* The earliest `now` at which mk_replay_tick has something to do (INT64_MAX: nothing pending). */
int64_t mk_replay_next_deadline(const mk_replay_t *s);

/* Hands out FetchEntriesRequests to the idle peers (here rather than in each input, so that every input
 * of one loop turn is seen before choosing: non-leaders first), then fills out. True when out holds
 * anything to do (messages, writes or a stuck change). out stays valid until mk_replay_advance, which
 * must come before the next input. */
bool mk_replay_ready(mk_replay_t *s, mk_replay_ready_t *out);
/* The batch was handled: messages sent (or dropped), writes applied. Frees them. */
void mk_replay_advance(mk_replay_t *s, mk_replay_ready_t *rd);

/* committed ≥ T. */
bool mk_replay_done(const mk_replay_t *s);
/* No usable peer offers the lowest index still to fetch, and none is still to answer for the first time. */
bool mk_replay_stuck(const mk_replay_t *s);

typedef struct mk_replay_status {
    mk_index_t commit, target;       /* C and T */
    mk_index_t released;             /* last index released (≥ C) */
    size_t npeers, nbusy, nbanned;   /* peers up / with a request in flight / dropped for bad data */
    size_t nheld;                    /* chunks received and waiting for an earlier one */
    bool done, stuck;
    mk_index_t stuck_at;             /* the index nobody offers (when stuck) */
} mk_replay_status_t;
/* A snapshot of the session's progress. */
void mk_replay_status(const mk_replay_t *s, mk_replay_status_t *out);

/* The request in flight to peer, if any: true and [*first, *last]. For tests and diagnostics. */
bool mk_replay_inflight(const mk_replay_t *s, const mk_peer_id_t *peer, mk_index_t *first, mk_index_t *last);

#endif
