/* groups/raft/raft.h — the consensus engine of one group member, sans-I/O (spec 40 §3, §4): no clock,
 * no sockets, no threads; every input carries `now` (ms, any monotonic origin) and random choices come
 * from a PRNG seeded at creation. The driver (the groups runtime, or tests/sim) feeds bond events,
 * decoded messages, ticks, proposals and read requests, then drains mk_raft_ready:
 *   1. if must_sync, it calls store.sync (the core has already written the log and hard state through
 *      the store vtable; nothing leaves before it is durable, unless may_send_before_sync);
 *   2. it sends the encoded messages;
 *   3. it applies the committed entries [apply_from, apply_to] read from the store;
 *   4. it delivers read states and proposal results;
 * and finally calls mk_raft_advance. The same code runs on the event loop and in the simulator. */
#ifndef MK_GROUPS_RAFT_RAFT_H
#define MK_GROUPS_RAFT_RAFT_H

#include "groups/raft_wire.h"
#include "groups/sync_wire.h"
#include "mosaik/groups.h"

typedef struct mk_raft mk_raft_t;

typedef enum { MK_RAFT_FOLLOWER, MK_RAFT_PRE_CANDIDATE, MK_RAFT_CANDIDATE, MK_RAFT_LEADER } mk_raft_role_t;

typedef struct mk_raft_config {
    mk_peer_id_t self;
    mk_consensus_config_t cc;         /* checked with mk_consensus_config_check */
    mk_leadership_t preference;       /* from the machine */
    mk_log_store_t *store;            /* borrowed; the core reads and writes through it */
    mk_sync_config_t sync;            /* replay_batch, replay_fetch_timeout_ms (0 = 2000 / 25000) */
    size_t max_message_bytes;         /* bound of a sync answer (the frame limit minus headroom); 0 = 4 MiB */
    uint64_t seed;                    /* PRNG seed (timers, origin bytes) */
    /* In-memory stores only (01-decisions): recover on its own once a majority of the voters came back as
     * new incarnations and no leader existed for 2 × voter_removal_timeout. */
    bool auto_recover;
    /* The machine takes snapshots and sync.kind is MK_SYNC_SNAPSHOT: far-behind followers ask for a
     * snapshot instead of replaying the log (and NeedSnapshot is honoured). */
    bool snapshot_sync;
    /* The configuration in force at the store's base (from the stored snapshot's header), when the log
     * was compacted: NULL if the store holds its whole history. */
    const mk_raft_body_t *base_config;
    mk_index_t base_config_index;
    mk_index_t applied;               /* the machine already reflects the log up to here (a restored snapshot) */
    /* Test mutation only (the simulator shows its checker catches it): the quorum is a majority of the
     * voters currently bonded, as in the Rust crate, instead of a majority of the configuration. */
    bool test_dynamic_quorum;
} mk_raft_config_t;

/* One message to send (encoded BondMessage::Raft bytes, owned by the ready batch). */
typedef struct mk_raft_send {
    mk_peer_id_t to;
    mk_buf_t bytes;
} mk_raft_send_t;

/* A confirmed (ok) or failed read-index request of this node. */
typedef struct mk_raft_read {
    uint64_t req_id;
    bool ok;
    mk_index_t read_index;            /* serve the read once applied ≥ read_index */
} mk_raft_read_t;

/* The outcome of a proposal of this node: MK_OK with the range its commands took (assigned, not yet
 * committed), or MK_EOFFLINE (maybe_applied: a forward may have reached a leader unacknowledged). */
typedef struct mk_raft_result {
    uint64_t req_id;
    int status;
    bool maybe_applied;
    mk_index_range_t range;
} mk_raft_result_t;


typedef struct mk_raft_ready {
    bool must_sync;
    /* A leader whose batch changes no hard state may send before its sync completes (its own match
     * counts only synced entries): the driver can overlap its fsync with the followers'. */
    bool may_send_before_sync;
    mk_raft_send_t *msgs;
    size_t nmsgs;
    mk_index_t apply_from, apply_to;  /* apply_from > apply_to: nothing */
    mk_raft_read_t *reads;
    size_t nreads;
    mk_raft_result_t *results;
    size_t nresults;
    bool role_changed, leader_changed, config_changed, diverged;
    struct mk_gsync_send *sync_msgs;  /* state-sync messages (sessions, provider answers), after msgs */
    size_t nsync_msgs;
    bool sync_stuck;                  /* a session found no peer holding what it needs */
    bool recovered;                   /* this node wrote a recovery configuration (unsafe_recover) */
    bool snapshot_wanted;             /* start a snapshot fetch (mk_raft_install_snapshot / _abort end it) */
} mk_raft_ready_t;

/* Loads the hard state, meta and configuration from the store. NULL + e on a bad config or store. */
mk_raft_t *mk_raft_new(const mk_raft_config_t *cfg, int64_t now, mk_error_t *e);
void mk_raft_free(mk_raft_t *r);

/* A bond to peer came up (incarnation from its handshake) / went down. */
void mk_raft_peer_up(mk_raft_t *r, int64_t now, const mk_peer_id_t *peer, uint64_t incarnation);
void mk_raft_peer_down(mk_raft_t *r, int64_t now, const mk_peer_id_t *peer);
/* One decoded message from a bonded peer (messages from unbonded peers are ignored). */
void mk_raft_step(mk_raft_t *r, int64_t now, const mk_peer_id_t *from, const mk_raft_msg_t *m);
/* Timers: elections, heartbeats, CheckQuorum, bootstrap, membership, forward deadlines. */
void mk_raft_tick(mk_raft_t *r, int64_t now);
/* Proposes n ≥ 1 commands (copied) as one contiguous range; the outcome comes as a result with req_id.
 * session 0 = none. MK_OK (queued), MK_ENOCOMMANDS, MK_E2BIG (a command above max_command_bytes),
 * MK_EAGAIN (max_pending_commands reached). */
int mk_raft_propose(mk_raft_t *r, int64_t now, uint64_t req_id, const mk_bytes_t *cmds, size_t n, uint64_t session,
                    uint64_t seq);
/* Leadership transfer before a planned departure (01-decisions): a leader sends its entries and
 * TimeoutNow to the most caught-up bonded voter, which campaigns at once. The driver then sends
 * Departure to the others first and to *to last (a voter whose bond to the leader is down drops its
 * stickiness). False when not leader or no voter is bonded. */
bool mk_raft_transfer(mk_raft_t *r, int64_t now, mk_peer_id_t *to);
/* ---- snapshots (spec 40 §7.2, §8.2) ---- */
/* The CONFIG body in force at index (last CONFIG entry ≤ index, or the base configuration); *at its
 * index. False if unknown. */
bool mk_raft_config_at(mk_raft_t *r, mk_index_t index, mk_raft_body_t *out, mk_index_t *at);
/* Leader: appends SNAPSHOT_MARKER{requester, req_id, requested_at_ms} (one pending per requester).
 * MK_OK, MK_EALREADY (one is pending), MK_EOFFLINE (not leader). */
int mk_raft_propose_marker(mk_raft_t *r, int64_t now, const mk_peer_id_t *requester, uint64_t req_id,
                           uint64_t requested_at_ms);
/* Leader: true when the voter `peer` catches up from its peers (SYNCING) and the others that replicate
 * are too few for a quorum: a marker for it could never commit, so the driver offers it a snapshot of
 * its applied state at once (spec 40 §8.2 deviation, docs/internals/raft.md). */
bool mk_raft_quorum_waits_for(mk_raft_t *r, const mk_peer_id_t *peer);
/* The driver installed the machine state of a snapshot at `anchor` (config and has_commands from its
 * header): the log restarts empty with anchor as its base; commit = applied = anchor. MK_OK, MK_EALREADY
 * (not above the commit index: nothing changed), MK_EINVAL. Ends the snapshot-sync mode. When the log
 * already holds the anchor (entries accepted during the fetch), the entries after it are kept. */
int mk_raft_install_snapshot(mk_raft_t *r, int64_t now, mk_cursor_t anchor, const mk_raft_body_t *config,
                             mk_index_t config_index, bool has_commands, mk_error_t *e);
/* The driver gave up the snapshot fetch (the next AppendEntries may start another). */
void mk_raft_snapshot_abort(mk_raft_t *r, int64_t now);
/* Compaction: prunes the log up to `upto` (≤ applied and commit) after the driver stored a snapshot at
 * or above it. MK_OK, MK_EINVAL, MK_EIO. */
int mk_raft_compact(mk_raft_t *r, mk_index_t upto);
/* Operator escape hatch (spec 40 §3.7): on a node that has seen no leader for election_timeout, writes
 * at a new term a CONFIG of itself plus its bonded same-origin non-observers (≤ max_voters) and
 * campaigns. May lose committed entries. MK_OK, MK_EBUSY (a leader was seen lately), MK_EALREADY
 * (leader), MK_EINVAL (no history, or an observer), MK_ETERMINATED. */
int mk_raft_unsafe_recover(mk_raft_t *r, int64_t now, mk_error_t *e);
/* One decoded state-sync message (BondMessage::StateSync) from a bonded peer: feeds this node's
 * catch-up session, or is answered from the store (committed entries only). */
void mk_raft_sync_step(mk_raft_t *r, int64_t now, const mk_peer_id_t *from, const mk_gsync_msg_t *m);
/* Asks for a linearizable read index; the answer comes as a read state with req_id. */
void mk_raft_read_index(mk_raft_t *r, int64_t now, uint64_t req_id);

/* True when out holds anything to do. out stays valid until mk_raft_advance. */
bool mk_raft_ready(mk_raft_t *r, mk_raft_ready_t *out);
/* The batch was handled: the store synced (if asked), messages sent, entries up to `applied` applied. */
void mk_raft_advance(mk_raft_t *r, mk_raft_ready_t *rd, mk_index_t applied);

/* ---- status (read on the driver's thread) ---- */
typedef struct mk_raft_status {
    mk_raft_role_t role;
    mk_term_t term;
    bool has_leader, is_voter, has_origin, diverged, online, fatal, syncing;
    uint64_t sync_sessions;           /* log-replay sessions started so far */
    uint64_t recoveries;              /* recovery configurations written (manual or automatic) */
    bool snapshotting;                /* a snapshot sync is under way */
    bool has_commands;
    uint64_t snapshot_installs;
    mk_peer_id_t leader;
    mk_id_t origin;
    mk_index_t commit, applied;
    mk_cursor_t last;
    uint64_t incarnation;
    size_t nvoters;
    mk_raft_voter_t voters[MK_RAFT_MAX_VOTERS];
} mk_raft_status_t;
void mk_raft_status(const mk_raft_t *r, mk_raft_status_t *out);
const char *mk_raft_role_name(mk_raft_role_t role);

#endif
