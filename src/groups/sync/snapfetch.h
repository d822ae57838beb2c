/* groups/sync/snapfetch.h — the requester side of snapshot sync (spec 40 §8.2), sans-I/O: no clock,
 * sockets or threads; every input carries `now` (ms, any monotonic origin). It owns the FETCH SESSION of
 * a node that installs a snapshot: it asks the leader for one (RequestSnapshot, re-sent every
 * request_timeout until a usable offer arrives), collects the SnapshotReady offers of its req_id, chooses
 * an anchor, fetches that anchor's items in parallel from every peer that offered it (chunks of
 * ≤ snapshot_batch, one request in flight per peer, fetch_timeout each) and releases the items strictly
 * in order for the driver to feed to the machine's install_begin / install_put / install_end. It does not
 * own the install itself (machine, store reset, consensus state), nor the provider side (answering
 * RequestSnapshot / FetchDataRequest).
 *
 * Rules chosen here (the spec leaves them open):
 *   - Usable anchor: anchor.index ≥ commit and, when min_first ≠ 0, anchor.index + 1 ≥ min_first, with at
 *     least one live offer (an offerer not down and not dropped for that anchor). Offers below commit are
 *     ignored for good; a second offer of a known anchor whose item_count or header differs from the
 *     first is ignored (it cannot be the same snapshot).
 *   - Choice: the highest usable anchor (by index, then term), decided in mk_snapfetch_ready so that every
 *     offer of one loop turn is seen first. Every offer of an anchor covers all its items, so a usable
 *     anchor is always fully fetchable from its live offerers. A strictly higher usable anchor replaces the
 *     current one at once, whatever the progress (progress is dropped, the driver restarts the install):
 *     a higher anchor leaves fewer buffered entries to replay and its snapshots are the freshest. When the
 *     current anchor loses its last live offerer (or stops being usable after mk_snapfetch_set_min_first),
 *     the session falls back to the next best usable anchor; if none is left it re-sends RequestSnapshot
 *     to the leader at once, then every request_timeout, and waits for new offers.
 *   - Offers are dropped for the anchor, for the session, when the peer answers gone, sends more items than
 *     asked, or leaves a request unanswered for fetch_timeout (no retry: a provider that stays silent that
 *     long is gone or overloaded, and the leader can always make a new snapshot); the chunk goes back to be
 *     reassigned. A re-offer of a dropped (peer, anchor) is ignored. mk_snapfetch_peer_down forgets all the
 *     peer's offers without that mark (a re-bonded peer may offer again).
 *   - Chunks go to idle live offerers, non-leaders first, in the order their offers arrived; only chunks
 *     starting within window_chunks × snapshot_batch items of the next item to release are asked for,
 *     which bounds the reorder buffer. A response with fewer items than asked (cut to the frame) keeps the
 *     items and puts the rest of the chunk back to be asked again.
 *   - A peer whose request concerned an anchor given up since stays busy until it answers (ignored) or
 *     times out, so that it never has two requests in flight.
 *   - RequestSnapshot: sent at creation when the leader is known; when no usable offer is held it is re-sent
 *     every request_timeout to the leader current at that moment. A change of leader does not send by
 *     itself unless a send is due and no leader was known (it is then sent at once). The req_id never
 *     changes within a session.
 *
 * Outputs are a queue of (peer, encoded StateSync bytes) like groups/sync/replay.h's, plus the install
 * steps of the ready batch. The event loop and tests/sim drive the same code. */
#ifndef MK_GROUPS_SYNC_SNAPFETCH_H
#define MK_GROUPS_SYNC_SNAPFETCH_H

#include "groups/sync/replay.h"  /* mk_gsync_send_t, mk_gsync_outbox_t */
#include "groups/sync_wire.h"
#include "mosaik/groups.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct mk_snapfetch mk_snapfetch_t;

typedef struct mk_snapfetch_config {
    uint64_t req_id;                 /* RequestSnapshot id, echoed in SnapshotReady (draw it at random) */
    mk_index_t commit;               /* C: own commit index; an anchor must have index ≥ C */
    mk_index_t min_first;            /* first buffered live index, 0 = none: anchor.index + 1 ≥ min_first */
    uint32_t snapshot_batch;         /* items per FetchDataRequest, ≥ 1 (capped at MK_GSYNC_MAX_ITEMS) */
    uint32_t request_timeout_ms;     /* snapshot_request_timeout, ≥ 1 */
    uint32_t fetch_timeout_ms;       /* snapshot_fetch_timeout, ≥ 1 */
    uint32_t window_chunks;          /* fetch at most this many chunks ahead of the next item to release;
                                        bounds the reorder buffer. 0 = 16 */
    const mk_peer_id_t *leader;      /* the current leader, copied; NULL = unknown */
} mk_snapfetch_config_t;

/* One ready batch. The driver handles it in this order:
 *   1. send msgs (each wrapped in BondMessage::StateSync);
 *   2. restart → machine install_end(false): the install begun earlier is abandoned;
 *   3. begin → machine install_begin(item_count) for `anchor`;
 *   4. items → machine install_put(items[i]) for each, in order (item numbers items_from + i);
 *   5. done → machine install_end(true), then store.reset_to(anchor), commit = applied = anchor, config,
 *      origin and session table from `header` (mk_gsync_snap_header_decode), buffered entries above the
 *      anchor through the normal rules, reply to the leader.
 * `restart` may come without `begin` (the anchor was lost and no other is usable yet: begin follows in a
 * later batch); `begin` and `done` may come together (zero items, or everything arrived in one turn). */
typedef struct mk_snapfetch_ready {
    mk_gsync_send_t *msgs;           /* to send, in order */
    size_t nmsgs;
    bool restart;                    /* call install_end(false) first */
    bool begin;                      /* call install_begin(item_count) */
    const mk_bytes_t *items;         /* to install_put, in order; views valid until mk_snapfetch_advance */
    size_t nitems;
    uint64_t items_from;             /* item number of items[0] */
    bool done;                       /* every item released: true in exactly one batch */
    bool chosen;                     /* an anchor is being fetched (the three fields below are set) */
    mk_cursor_t anchor;
    uint64_t item_count;
    mk_bytes_t header;               /* the SnapshotReady header (encoded mk_gsync_snap_header_t); a view
                                        valid until mk_snapfetch_free */
} mk_snapfetch_ready_t;

/* Starts a session and queues RequestSnapshot{req_id} to the leader when known. NULL + e (MK_EINVAL naming
 * the field: snapshot_batch, request_timeout_ms, fetch_timeout_ms) or MK_ENOMEM. */
mk_snapfetch_t *mk_snapfetch_new(const mk_snapfetch_config_t *cfg, int64_t now, mk_error_t *e);
/* Frees the session, its queues, offers and buffered items. NULL is a no-op. */
void mk_snapfetch_free(mk_snapfetch_t *s);

/* One decoded sync message from `from`. Consumes (true) SnapshotReady carrying this session's req_id (an
 * offer) and FetchDataResponse for an anchor offered to this session; anything else is left to the
 * caller (false). Stale, unexpected or late messages of this session are consumed and ignored. */
bool mk_snapfetch_step(mk_snapfetch_t *s, int64_t now, const mk_peer_id_t *from, const mk_gsync_msg_t *m);
/* The bond to peer went down: its request in flight goes back to be reassigned, its offers are forgotten. */
void mk_snapfetch_peer_down(mk_snapfetch_t *s, int64_t now, const mk_peer_id_t *peer);
/* The leader changed (NULL: unknown): later RequestSnapshots go to it; sent at once if one is due. */
void mk_snapfetch_set_leader(mk_snapfetch_t *s, int64_t now, const mk_peer_id_t *leader);
/* The first buffered live index changed (0: no buffer); the choice is re-checked at the next ready. */
void mk_snapfetch_set_min_first(mk_snapfetch_t *s, int64_t now, mk_index_t min_first);
/* Timers: a request unanswered for fetch_timeout drops that offer and reassigns the chunk; without a usable
 * offer RequestSnapshot is re-sent every request_timeout. */
void mk_snapfetch_tick(mk_snapfetch_t *s, int64_t now);
/* The earliest `now` at which mk_snapfetch_tick has something to do (INT64_MAX: nothing pending). */
int64_t mk_snapfetch_next_deadline(const mk_snapfetch_t *s);

/* Chooses (or replaces) the anchor and hands chunks to the idle offerers (here rather than in each input,
 * so that every input of one loop turn is seen first), then fills out. True when out holds anything to do.
 * out stays valid until mk_snapfetch_advance, which must come before the next input. */
bool mk_snapfetch_ready(mk_snapfetch_t *s, mk_snapfetch_ready_t *out);
/* The batch was handled (messages sent or dropped, install steps done). Frees it; rd (may be NULL) zeroed. */
void mk_snapfetch_advance(mk_snapfetch_t *s, mk_snapfetch_ready_t *rd);

/* Every item of the chosen anchor has been released (done may not have been handed out yet). */
bool mk_snapfetch_done(const mk_snapfetch_t *s);

typedef struct mk_snapfetch_status {
    uint64_t req_id;
    mk_index_t commit, min_first;
    bool chosen;                     /* an anchor is being fetched (or was, when done) */
    mk_cursor_t anchor;
    uint64_t item_count;
    uint64_t released;               /* items of the chosen anchor released so far */
    size_t nanchors;                 /* usable anchors offered */
    size_t nofferers;                /* live offerers of the chosen anchor */
    size_t nbusy;                    /* peers with a request in flight (any anchor) */
    size_t nheld;                    /* chunks received and waiting for an earlier one */
    uint32_t nrequests;              /* RequestSnapshots sent */
    uint32_t nswitches;              /* chosen anchors given up (replaced or lost) */
    uint32_t ndropped;               /* offers dropped (gone, timeout, bad data) */
    uint32_t nignored;               /* offers ignored (below commit, inconsistent, re-offers of a drop) */
    bool waiting;                    /* no usable offer: waiting for one, RequestSnapshot re-sent */
    bool done;
} mk_snapfetch_status_t;
/* A snapshot of the session's progress. */
void mk_snapfetch_status(const mk_snapfetch_t *s, mk_snapfetch_status_t *out);

/* The request in flight to peer, if any: true and its anchor and items [*from, *to). Pointers may be NULL.
 * For tests and diagnostics. */
bool mk_snapfetch_inflight(const mk_snapfetch_t *s, const mk_peer_id_t *peer, mk_cursor_t *anchor, uint64_t *from,
                           uint64_t *to);

#endif
