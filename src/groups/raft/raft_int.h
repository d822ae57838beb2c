/* groups/raft/raft_int.h — the consensus engine's private state and the functions its three files
 * share: raft.c (lifecycle, ready batches, timers, elections, dispatch), repl.c (replication, commit,
 * read index, proposals and forwarding) and member.c (configurations, Hello, bootstrap, automatic
 * membership, divergent origins). */
#ifndef MK_GROUPS_RAFT_RAFT_INT_H
#define MK_GROUPS_RAFT_RAFT_INT_H

#include "groups/raft/raft.h"
#include "groups/sync/replay.h"

#define MK_RAFT_MAX_PEERS 64
#define MK_RAFT_APPLY_BATCH 1024

/* SYNCING: the peer catches up from its peers (log replay); it gets heartbeats only. */
typedef enum { MK_PROG_PROBE, MK_PROG_REPLICATE, MK_PROG_SYNCING } mk_prog_state_t;

typedef struct mk_rpeer {
    mk_peer_id_t id;
    uint64_t inc;               /* incarnation of the current bond */
    bool bonded;
    int64_t bonded_at, unbonded_since, last_heard;
    /* from its Hello */
    bool hello, has_origin, has_commands;
    mk_id_t origin;
    mk_cursor_t last;
    mk_index_t commit;
    mk_leadership_t pref;
    /* leader's progress */
    mk_prog_state_t state;
    mk_index_t next, match;
    uint32_t inflight;
    int64_t sent_at;            /* last AppendEntries with entries or probe */
    int64_t acked_at;           /* last response */
    int64_t progress_at;        /* match last moved (or the pipeline was reset) */
    uint64_t read_seq;          /* highest read round it echoed */
    mk_index_t sync_hint;       /* SYNCING: the index after its log, from its last reject{syncing} */
    int64_t syncing_since;      /* SYNCING: when it entered that state */
    /* election */
    bool granted;               /* in the current (pre-)vote */
} mk_rpeer_t;

typedef struct mk_rconfig {
    mk_index_t index;           /* of its CONFIG entry (0: none) */
    mk_id_t origin;
    size_t nvoters;
    mk_raft_voter_t voters[MK_RAFT_MAX_VOTERS];
} mk_rconfig_t;

typedef struct mk_pending_read {
    uint64_t req_id;
    bool local;                 /* this node's own request, else a follower's */
    mk_peer_id_t from;
    mk_index_t read_index;
    uint64_t seq;               /* the heartbeat round that confirms it; 0 = waiting for a current-term commit */
} mk_pending_read_t;

typedef struct mk_pending_fwd {  /* a proposal of this node not yet assigned */
    uint64_t req_id, session, seq;
    mk_bytes_t *cmds;           /* owned copies */
    size_t n;
    int64_t deadline;           /* forward_timeout from the last (re)send, or for a leader to appear */
    bool sent;                  /* a Forward left: an unacknowledged one may have been appended */
    mk_peer_id_t sent_to;
    int resends;
} mk_pending_fwd_t;

typedef struct mk_recent_fwd {  /* leader: forwards already appended, so a repeated one is re-acknowledged */
    mk_peer_id_t from;
    uint64_t req_id;
    mk_index_range_t range;
} mk_recent_fwd_t;
#define MK_RAFT_RECENT_FWDS 256

typedef struct mk_session {
    uint64_t id, last_seq;
    mk_index_range_t range;     /* of last_seq */
} mk_session_t;

typedef struct mk_sbuf_entry {  /* a buffered live entry; body owned */
    mk_index_t index;
    mk_term_t term, prev_term;
    uint8_t kind;
    uint8_t *body;
    size_t len;
} mk_sbuf_entry_t;

/* Growable arrays for the ready batch. */
#define MK_VEC(T) struct { T *v; size_t n, cap; }

struct mk_raft {
    mk_raft_config_t cfg;
    mk_log_store_t *store;
    uint64_t rng[4];
    /* persistent */
    mk_hard_state_t hs;
    mk_store_meta_t meta;
    bool state_dirty, log_dirty;  /* hard state / meta / log written since the last ready */
    bool append_due;            /* leader: proposals appended since the last ready, not yet sent */
    bool fatal;                 /* an internal invariant broke: the core stops */
    char fatal_why[128];
    /* volatile */
    mk_raft_role_t role;
    bool has_leader;
    mk_peer_id_t leader;
    mk_index_t commit, applied, applying;  /* applying: handed out in a ready batch, not yet advanced */
    mk_index_t synced;          /* own log durable up to here */
    mk_index_t pending_synced;  /* becomes `synced` at advance */
    int64_t created_at;
    int64_t election_deadline, heartbeat_due, last_accept_at, quorum_ok_at;
    bool ever_accepted;
    mk_index_t noop_index;      /* leader: first entry of its term (committed → may serve reads / change config) */
    int64_t leader_since;
    uint64_t read_seq;
    bool diverged;
    /* membership */
    mk_rconfig_t config;        /* latest CONFIG in the log */
    MK_VEC(mk_index_t) config_log;  /* indices of the CONFIG entries in the log, ascending */
    mk_rpeer_t peers[MK_RAFT_MAX_PEERS];
    size_t npeers;
    bool hello_due;             /* our Hello fields changed */
    int64_t hello_sent_at;
    mk_cursor_t hello_last;
    mk_index_t hello_commit;
    bool hello_has_origin, hello_has_commands;
    /* client side */
    MK_VEC(mk_pending_read_t) reads;
    MK_VEC(mk_pending_fwd_t) fwds;
    MK_VEC(mk_session_t) sessions;  /* leader: last seq per session (rebuilt at election) */
    mk_recent_fwd_t recent[MK_RAFT_RECENT_FWDS];  /* leader: ring of this term's appended forwards */
    size_t nrecent, recent_at;
    /* state sync (sync.c) */
    mk_replay_t *sync;          /* follower: a log-replay session in progress */
    mk_id_t sync_origin;
    int64_t sync_retry_at;      /* no new session before this (the last one found nothing to fetch) */
    uint64_t sync_sessions;
    mk_gsync_outbox_t out_sync; /* sync messages to send (sessions and provider answers) */
    bool ev_sync_stuck;
    /* live entries that arrived during a session, replayed through the follower rules at its end (syncbuf.c) */
    MK_VEC(mk_sbuf_entry_t) sbuf;
    size_t sbuf_bytes;
    mk_term_t sbuf_term;        /* leader term they came with */
    mk_index_t sbuf_commit;     /* highest leader commit index seen with them */
    uint64_t sbuf_read_seq;
    uint64_t syncing_fallbacks; /* leader: catching-up voters switched to AppendEntries (repl.c) */
    /* snapshots (snap.c) */
    mk_rconfig_t base_config;   /* the configuration in force at the log's base (from its snapshot) */
    struct { mk_peer_id_t peer; mk_index_t index; } pending_markers[MK_RAFT_MAX_PEERS];
    size_t npending_markers;
    bool snap_active;           /* follower: a snapshot sync is under way (the driver fetches) */
    bool ev_snapshot_wanted;
    mk_index_t snap_leader_commit;
    uint64_t snap_installs;
    /* recovery (recover.c) */
    int64_t recovered_at;
    uint64_t recoveries;
    bool ev_recovered;
    /* output */
    MK_VEC(mk_raft_send_t) out;
    MK_VEC(mk_raft_read_t) out_reads;
    MK_VEC(mk_raft_result_t) out_results;
    bool ev_role, ev_leader, ev_config, ev_diverged;
    int64_t now;
    mk_error_t err;             /* scratch for codec calls */
};

/* Appends one zeroed element to a MK_VEC, returning it (NULL when out of memory). */
void *mk_raft_vec_push(void *vec, size_t elem);
#define MK_VEC_PUSH(vecp) ((__typeof__((vecp)->v))mk_raft_vec_push((vecp), sizeof *(vecp)->v))

/* ---- raft.c ---- */
uint64_t mk_raft_rand(mk_raft_t *r);
mk_rpeer_t *mk_raft_peer(mk_raft_t *r, const mk_peer_id_t *id);       /* NULL when unknown */
void mk_raft_send(mk_raft_t *r, const mk_peer_id_t *to, mk_raft_msg_t *m);  /* fills the envelope, encodes, queues */
mk_cursor_t mk_raft_last(mk_raft_t *r);
mk_term_t mk_raft_term_at(mk_raft_t *r, mk_index_t i, bool *ok);
void mk_raft_become_follower(mk_raft_t *r, mk_term_t term, const mk_peer_id_t *leader);
void mk_raft_set_term(mk_raft_t *r, mk_term_t term);                   /* adopts a higher term: no vote */
void mk_raft_reset_election_timer(mk_raft_t *r);
void mk_raft_campaign(mk_raft_t *r, bool pre_vote);
/* Appends entries at the end of the log (term = current term for local appends); updates config and meta. */
int mk_raft_append_local(mk_raft_t *r, uint8_t kind, const void *body, size_t len, mk_index_t *index);
int mk_raft_store_append(mk_raft_t *r, const mk_log_entry_t *e, size_t n);
int mk_raft_store_truncate(mk_raft_t *r, mk_index_t from);
void mk_raft_fatal(mk_raft_t *r, const char *why);

/* ---- member.c ---- */
int mk_raft_config_load(mk_raft_t *r);                                  /* scans the log for CONFIG entries */
void mk_raft_config_on_append(mk_raft_t *r, const mk_log_entry_t *e);   /* a CONFIG / COMMAND entry was stored */
void mk_raft_config_on_truncate(mk_raft_t *r, mk_index_t from);
bool mk_raft_is_voter(const mk_raft_t *r, const mk_peer_id_t *id, uint64_t inc);
bool mk_raft_self_voter(const mk_raft_t *r);
bool mk_raft_counts(const mk_raft_t *r, const mk_rpeer_t *p);           /* a bonded voter of the right incarnation */
size_t mk_raft_quorum(const mk_raft_t *r);                              /* majority of the voters */
void mk_raft_hello_check(mk_raft_t *r);                                 /* sends Hello to everyone when fields changed */
void mk_raft_send_hello(mk_raft_t *r, const mk_peer_id_t *to);
void mk_raft_on_hello(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m);
void mk_raft_divergence_check(mk_raft_t *r);
void mk_raft_bootstrap_tick(mk_raft_t *r);
void mk_raft_membership_tick(mk_raft_t *r);
bool mk_raft_origin_ok(mk_raft_t *r, const mk_raft_msg_t *m);           /* false: ignore the message */

/* ---- repl.c ---- */
void mk_raft_become_leader(mk_raft_t *r);
void mk_raft_broadcast(mk_raft_t *r, bool heartbeat);                   /* leader: to every bonded peer */
void mk_raft_replicate_to(mk_raft_t *r, mk_rpeer_t *p, bool heartbeat);
void mk_raft_on_append(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m);
void mk_raft_on_append_resp(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m);
void mk_raft_maybe_commit(mk_raft_t *r);
void mk_raft_leader_tick(mk_raft_t *r);
void mk_raft_on_forward(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m);
void mk_raft_on_forward_ack(mk_raft_t *r, const mk_raft_msg_t *m);
void mk_raft_on_forward_nack(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m);
void mk_raft_on_read_req(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m);
void mk_raft_on_read_resp(mk_raft_t *r, const mk_raft_msg_t *m);
void mk_raft_reads_check(mk_raft_t *r);                                 /* leader: confirm rounds */
void mk_raft_fwd_tick(mk_raft_t *r);                                    /* deadlines, (re)sends */
void mk_raft_lost_leadership(mk_raft_t *r);                             /* fail leader-side reads */
void mk_raft_sessions_rebuild(mk_raft_t *r);

/* ---- snap.c ---- */
void mk_raft_base_config_set(mk_raft_t *r, mk_index_t index, const mk_raft_body_t *b);
/* Follower: enters snapshot-sync mode (true), or false when this node cannot take snapshots. */
bool mk_raft_snapshot_begin(mk_raft_t *r, const mk_peer_id_t *leader, mk_index_t leader_commit);
void mk_raft_on_need_snapshot(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m);

/* ---- recover.c ---- */
void mk_raft_auto_recover_tick(mk_raft_t *r);

/* ---- sync.c ---- */
/* Follower, prev beyond its log: starts a session when the leader's commit is more than replay_batch
 * ahead (or one runs): true when the answer must say syncing. */
bool mk_raft_sync_maybe_start(mk_raft_t *r, const mk_rpeer_t *leader, const mk_raft_msg_t *m);
void mk_raft_sync_abort(mk_raft_t *r);
void mk_raft_sync_peer(mk_raft_t *r, const mk_rpeer_t *p, bool up);  /* bond / Hello changes */
void mk_raft_sync_leader(mk_raft_t *r);                              /* the known leader changed */
void mk_raft_sync_tick(mk_raft_t *r);
void mk_raft_sync_ready(mk_raft_t *r);                               /* session outputs into the batch */

/* ---- syncbuf.c ---- */
/* Follower in a session, m's prev beyond its log: keeps m's entries (contiguous run, bounded). */
void mk_raft_sbuf_add(mk_raft_t *r, const mk_raft_msg_t *m);
/* A session ended: the buffered run goes through the follower rules and the leader gets the answer. */
void mk_raft_sbuf_flush(mk_raft_t *r);
void mk_raft_sbuf_clear(mk_raft_t *r);
/* The follower rules of AppendEntries (§3.5) with prev known to match or lie beyond the log; fills resp. */
void mk_raft_follow(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m, mk_raft_msg_t *resp);
/* Whether prev lies in our log with the same term (or at or below the commit index). */
bool mk_raft_prev_matches(mk_raft_t *r, mk_cursor_t prev);

#endif
