/* mosaik/groups.h — replicated groups (spec 40): log positions, leadership preferences, the state
 * machine and log store interfaces with their built-ins (the NoOp machine, the in-memory and LMDB
 * stores), the consensus, sync and group configurations, the group identity, and the runtime: joining,
 * commands, queries, status and waits. Every call taking timeout_ms accepts -1 (no limit); err may be
 * NULL. State machine and event callbacks run on the network's loop thread and must not block. */
#ifndef MOSAIK_GROUPS_H
#define MOSAIK_GROUPS_H

#include "mosaik/core.h"
#include "mosaik/id.h"
#include "mosaik/tickets.h"
#include "mosaik/network.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t mk_index_t, mk_term_t;
/* A log position; index 0 / term 0 is the empty log. */
typedef struct { mk_term_t term; mk_index_t index; } mk_cursor_t;
typedef struct { mk_term_t term; mk_index_t first, last; } mk_index_range_t;

typedef enum { MK_LEAD_NORMAL, MK_LEAD_RELUCTANT, MK_LEAD_OBSERVER } mk_lead_kind_t;
/* Normal; Reluctant{factor ≥ 1} multiplies election timer and bootstrap delay; Observer never votes or leads. */
typedef struct { mk_lead_kind_t kind; uint32_t factor; } mk_leadership_t;
#define MK_LEADERSHIP_RELUCTANT_DEFAULT ((mk_leadership_t){MK_LEAD_RELUCTANT, 3})

/* ---- group key (spec 40 §1): the shared secret of a group; it never leaves the process ---- */

typedef struct { mk_id_t secret; } mk_group_key_t;
/* 32 bytes from OpenSSL's CSPRNG (RAND_bytes); aborts the process if the CSPRNG fails. Any thread. */
mk_group_key_t mk_group_key_random(void);
/* mk_id_from_str rules: exactly 64 hex digits are the key bytes, any other string is BLAKE3-hashed.
 * s must not be NULL. Pure. */
mk_group_key_t mk_group_key_from_secret(const char *s);
/* The 32 bytes as they are. Pure. */
mk_group_key_t mk_group_key_from_bytes(const uint8_t bytes[32]);
/* The validator's 32-byte signature (mk_ticket_validator_signature): anyone knowing the validator's
 * settings can compute it, so the tickets are the real gate. v must not be NULL. Pure. */
mk_group_key_t mk_group_key_from_validator(const mk_ticket_validator_t *v);
/* "ab****cd": the first and last key bytes in lowercase hex around four stars, NUL-terminated
 * (9 of the 16 bytes used). Safe to log. Pure. */
void mk_group_key_display(const mk_group_key_t *k, char out[16]);

/* ---- state machine (spec 40 §6): callbacks run on the group's loop thread ---- */

typedef struct mk_apply_ctx mk_apply_ctx_t;
/* The cursor applied before this call / of the entry (or batch end) being applied / its term. */
mk_cursor_t mk_apply_ctx_committed(const mk_apply_ctx_t *c);
mk_cursor_t mk_apply_ctx_position(const mk_apply_ctx_t *c);
mk_term_t mk_apply_ctx_term(const mk_apply_ctx_t *c);
/* The group's and the network's ids (valid during the call). */
const mk_id_t *mk_apply_ctx_group_id(const mk_apply_ctx_t *c);
const mk_id_t *mk_apply_ctx_network_id(const mk_apply_ctx_t *c);
/* Stops the group (MK_ETERMINATED) rather than letting replicas diverge; why is copied. */
void mk_apply_ctx_fail(const mk_apply_ctx_t *c, const char *why);

typedef struct { mk_index_t index; mk_term_t term; const void *data; size_t len; } mk_sm_entry_t;
typedef struct mk_sm_snapshot mk_sm_snapshot_t;
typedef struct mk_item_writer mk_item_writer_t;
/* Appends one snapshot item (copied). MK_OK, MK_ENOMEM, MK_E2BIG. */
int mk_item_writer_put(mk_item_writer_t *w, const void *item, size_t len);

typedef struct mk_state_machine {
    mk_id_t (*signature)(void *self);                                                  /* required */
    void (*apply)(void *self, const mk_apply_ctx_t *ctx, const void *cmd, size_t len); /* required; deterministic */
    void (*apply_batch)(void *self, const mk_apply_ctx_t *ctx, const mk_sm_entry_t *e, size_t n); /* optional */
    int (*query)(void *self, const void *q, size_t len, mk_buf_t *result);             /* required; read-only */
    mk_leadership_t (*leadership)(void *self);                                         /* optional: Normal */
    /* optional snapshot set: all or none */
    mk_sm_snapshot_t *(*snapshot_create)(void *self);
    uint64_t (*snapshot_len)(const mk_sm_snapshot_t *s);
    int (*snapshot_read)(const mk_sm_snapshot_t *s, uint64_t from, uint64_t to, mk_item_writer_t *w);
    void (*snapshot_free)(mk_sm_snapshot_t *s);
    void *(*install_begin)(void *self, uint64_t n_items);
    int (*install_put)(void *self, void *inst, const void *item, size_t len);
    int (*install_end)(void *self, void *inst, bool ok);
    void (*destroy)(void *self);                                                       /* optional */
} mk_state_machine_t;

/* Ignores commands, answers every query with an empty result, no snapshots (leader election only). */
extern const mk_state_machine_t MK_NOOP_MACHINE;

/* ---- log storage (spec 40 §7.1) ---- */

enum { MK_ENTRY_COMMAND = 0, MK_ENTRY_NOOP = 1, MK_ENTRY_CONFIG = 2, MK_ENTRY_SNAPSHOT_MARKER = 3 };
/* One log entry; body is borrowed (valid until the next call on the store that returned it). */
typedef struct { mk_index_t index; mk_term_t term; uint8_t kind; const void *body; size_t len; } mk_log_entry_t;
/* Hard state: the current term, the vote (peer and incarnation) and the commit hint. */
typedef struct { mk_term_t term; bool has_vote; mk_id_t vote_peer; uint64_t vote_inc; mk_index_t commit; } mk_hard_state_t;
typedef struct { uint64_t incarnation; bool has_origin, has_commands; mk_id_t origin; } mk_store_meta_t;

/* A store's operations (all on one thread at a time). Contracts:
 * append: entries contiguous from last + 1, terms never below the last one, known kinds (else
 * MK_EINVAL, nothing stored), copied. available: stored range
 * (first > last when none). get / get_range: an entry / a prefix of [first, last] within max_bytes
 * (at least one entry) and cap, MK_ENOTFOUND outside the stored range. truncate: deletes ≥ from.
 * last: last cursor, or the base when nothing is stored. term_at: 0 → 0, the base index → base term,
 * else the stored term or MK_ENOTFOUND. prune_prefix: deletes ≤ upto, (upto, term_at(upto)) becomes
 * the base. reset_to: deletes everything, c becomes the base. load_state / save_state: hard state and
 * meta (a fresh store loads zeros with a random non-zero incarnation). sync: earlier writes durable.
 * Snapshot area (optional; all four or none): snap_begin starts a pending snapshot (dropping any pending
 * one), snap_put adds its next item, snap_commit makes it the stored one (atomic, durable), snap_open
 * gives the stored one's anchor, header and items (MK_ENOTFOUND when none). */
typedef struct mk_log_store_vtbl {
    int (*append)(void *s, const mk_log_entry_t *e, size_t n);
    void (*available)(void *s, mk_index_t *first, mk_index_t *last);
    int (*get)(void *s, mk_index_t i, mk_log_entry_t *out);
    int (*get_range)(void *s, mk_index_t first, mk_index_t last, size_t max_bytes, mk_log_entry_t *out, size_t cap,
                     size_t *n);
    int (*truncate)(void *s, mk_index_t from);
    mk_cursor_t (*last)(void *s);
    int (*term_at)(void *s, mk_index_t i, mk_term_t *out);
    int (*prune_prefix)(void *s, mk_index_t upto);
    int (*reset_to)(void *s, mk_cursor_t c);
    int (*load_state)(void *s, mk_hard_state_t *hs, mk_store_meta_t *meta);
    int (*save_state)(void *s, const mk_hard_state_t *hs, const mk_store_meta_t *meta);
    int (*sync)(void *s);
    void (*destroy)(void *s);
    int (*snap_begin)(void *s, mk_cursor_t anchor, const void *hdr, size_t len);
    int (*snap_put)(void *s, const void *item, size_t len);
    int (*snap_commit)(void *s);
    int (*snap_open)(void *s, mk_cursor_t *anchor, mk_buf_t *hdr, mk_item_writer_t *items);
} mk_log_store_vtbl_t;
typedef struct mk_log_store { const mk_log_store_vtbl_t *vt; void *self; } mk_log_store_t;

/* A new in-memory store (nothing survives the process). NULL when out of memory. Any thread. */
mk_log_store_t *mk_log_store_memory(void);

/* ALWAYS: each sync is on disk when it returns (the safety guarantee needs it); NONE: flushed ≤ every 100 ms. */
typedef enum { MK_LMDB_SYNC_ALWAYS, MK_LMDB_SYNC_NONE } mk_lmdb_sync_t;
/* The store's directory (created 0700); the map (0 = 1 GiB) doubles when full up to map_size_max (0 = 64 GiB). */
typedef struct { const char *path; size_t map_size, map_size_max; mk_lmdb_sync_t sync; } mk_lmdb_config_t;
#define MK_LMDB_CONFIG_DEFAULT \
    {.path = NULL, .map_size = (size_t)1 << 30, .map_size_max = (size_t)64 << 30, .sync = MK_LMDB_SYNC_ALWAYS}
/* A durable store with a snapshot area in cfg->path (spec 40 §7.2); NULL + err naming the cause. Any thread. */
mk_log_store_t *mk_log_store_lmdb(const mk_lmdb_config_t *cfg, mk_error_t *err);
/* Destroys a store that no group owns. NULL is a no-op. */
void mk_log_store_free(mk_log_store_t *s);

/* ---- consensus configuration (spec 40 §9) ---- */

typedef struct mk_consensus_config {
    uint32_t heartbeat_interval_ms, heartbeat_jitter_ms, max_missed_heartbeats;
    uint32_t election_timeout_ms, election_timeout_jitter_ms, bootstrap_delay_ms;
    uint32_t forward_timeout_ms, query_timeout_ms, voter_removal_timeout_ms, max_voters, bootstrap_expect;
    uint32_t max_append_entries, max_append_bytes, max_inflight_appends;
    uint32_t max_command_bytes, max_pending_commands, max_sessions;
    bool exactly_once;
} mk_consensus_config_t;
#define MK_CONSENSUS_CONFIG_DEFAULT                                                                             \
    {.heartbeat_interval_ms = 500, .heartbeat_jitter_ms = 150, .max_missed_heartbeats = 10,                    \
     .election_timeout_ms = 2000, .election_timeout_jitter_ms = 500, .bootstrap_delay_ms = 3000,               \
     .forward_timeout_ms = 2000, .query_timeout_ms = 2000, .voter_removal_timeout_ms = 30000, .max_voters = 5, \
     .bootstrap_expect = 1, .max_append_entries = 1024, .max_append_bytes = 1u << 20,                         \
     .max_inflight_appends = 64, .max_command_bytes = 1u << 20, .max_pending_commands = 65536,                \
     .max_sessions = 4096, .exactly_once = false}
/* MK_OK or MK_EINVAL naming the field: election_timeout > 2 × heartbeat_interval, heartbeat_jitter <
 * heartbeat_interval, 1 ≤ max_voters ≤ 32, bootstrap_expect ≥ 1, non-zero batching limits. */
int mk_consensus_config_check(const mk_consensus_config_t *c, mk_error_t *e);

/* ---- state sync configuration (spec 40 §8, §9) ---- */

typedef enum { MK_SYNC_LOG_REPLAY, MK_SYNC_SNAPSHOT } mk_sync_kind_t;
/* Everything but sync_buffer_max_bytes is part of the GroupId (through the sync signature, §8.3): the
 * snapshot fields only when kind is MK_SYNC_SNAPSHOT. */
typedef struct mk_sync_config {
    mk_sync_kind_t kind;
    uint32_t replay_batch, replay_fetch_timeout_ms;
    uint32_t snapshot_batch, snapshot_ttl_ms, snapshot_request_timeout_ms, snapshot_fetch_timeout_ms;
    size_t sync_buffer_max_bytes;
} mk_sync_config_t;
#define MK_SYNC_CONFIG_DEFAULT                                                                            \
    {.kind = MK_SYNC_LOG_REPLAY, .replay_batch = 2000, .replay_fetch_timeout_ms = 25000,                 \
     .snapshot_batch = 2000, .snapshot_ttl_ms = 10000, .snapshot_request_timeout_ms = 15000,             \
     .snapshot_fetch_timeout_ms = 5000, .sync_buffer_max_bytes = (size_t)64 << 20}

/* ---- group events (spec 40 §5) ---- */

typedef enum {
    MK_GROUP_EV_ROLE, MK_GROUP_EV_LEADER, MK_GROUP_EV_ONLINE, MK_GROUP_EV_OFFLINE, MK_GROUP_EV_COMMITTED,
    MK_GROUP_EV_CONFIG, MK_GROUP_EV_BOND_UP, MK_GROUP_EV_BOND_DOWN, MK_GROUP_EV_DIVERGED, MK_GROUP_EV_SYNC_STUCK,
    MK_GROUP_EV_TERMINATED
} mk_group_ev_kind_t;
typedef struct { mk_group_ev_kind_t kind; mk_id_t peer; mk_index_t index; } mk_group_event_t;

/* ---- group configuration (spec 40 §9, §10) ---- */

typedef struct mk_group_config {
    mk_group_key_t key;
    const mk_state_machine_t *machine; void *machine_self;      /* NULL machine: MK_NOOP_MACHINE */
    mk_consensus_config_t consensus;
    mk_sync_config_t sync;
    mk_log_store_t *store;                                      /* NULL: in-memory */
    const mk_ticket_validator_t *const *validators;             /* in this order; part of the GroupId */
    size_t n_validators;
    uint64_t snapshot_every, retain_entries;
    void (*on_event)(void *ud, const mk_group_event_t *ev);
    void *event_ud;
} mk_group_config_t;
/* The key is all zeros here: set one (mk_group_key_from_secret, …) before use. */
#define MK_GROUP_CONFIG_DEFAULT                                                                          \
    {.key = {{{0}}}, .machine = NULL, .machine_self = NULL, .consensus = MK_CONSENSUS_CONFIG_DEFAULT, \
     .sync = MK_SYNC_CONFIG_DEFAULT, .store = NULL, .validators = NULL, .n_validators = 0,             \
     .snapshot_every = 100000, .retain_entries = 10000, .on_event = NULL, .event_ud = NULL}

/* The GroupId cfg would join (spec 40 §1), without joining: BLAKE3(key), then derive with the
 * consensus digest, the machine's signature (called once, with machine_self), the sync signature and
 * each validator's signature in order. Validates first: MK_EINVAL naming the field (consensus fields as
 * mk_consensus_config_check, sync.kind, machine->signature, validators / validators[i]). Any thread,
 * provided the machine's signature callback is. */
int mk_group_id_for(const mk_group_config_t *cfg, mk_id_t *out, mk_error_t *err);

/* ---- the runtime (spec 40 §1–§5) ---- */

typedef struct mk_group mk_group_t;

/* Joins the group cfg describes on net (validated as mk_group_id_for; the store, if any, is owned by
 * the group from here on, even when the join fails). Joining the same GroupId again returns the same
 * group with one more reference if machine and machine_self are identical, else fails MK_EEXIST. The
 * GroupId is listed in the local discovery entry; members bond through discovery. NULL + err on
 * failure. Any thread but the loop's; blocks ≤ 10 s for the loop. */
mk_group_t *mk_group_join(mk_network_t *net, const mk_group_config_t *cfg, mk_error_t *err);
/* Releases one reference; the last ends pending calls (MK_ETERMINATED), sends Departure on every bond,
 * closes them with 204 and frees the group (the machine's destroy runs). NULL ok. Not on the loop. */
void mk_group_leave(mk_group_t *g);
/* The GroupId (valid while g is). Any thread. */
const mk_id_t *mk_group_id(const mk_group_t *g);

/* The outcome of a command call: the range the batch took (range.term = the term it was appended in),
 * whether it was assigned, whether an unacknowledged forward may have been applied, and its
 * exactly-once (session, seq) (0 without exactly-once). */
typedef struct { mk_index_range_t range; bool assigned, maybe_applied; uint64_t session, seq; } mk_cmd_outcome_t;

/* Appends the commands (copied) as one contiguous range and waits until this node has applied it:
 * MK_OK, MK_EOFFLINE (not assigned or superseded; see out->maybe_applied), MK_ENOCOMMANDS, MK_E2BIG,
 * MK_ETIMEDOUT (after assignment when out->assigned: continue with mk_group_wait_range),
 * MK_ETERMINATED. out may be NULL. Any thread but the loop's. */
int mk_group_execute(mk_group_t *g, const void *cmd, size_t len, int timeout_ms, mk_cmd_outcome_t *out,
                     mk_error_t *err);
int mk_group_execute_many(mk_group_t *g, const mk_bytes_t *cmds, size_t n, int timeout_ms, mk_cmd_outcome_t *out,
                          mk_error_t *err);
/* The same, returning once the leader assigned the range (not yet applied). */
int mk_group_feed(mk_group_t *g, const void *cmd, size_t len, int timeout_ms, mk_cmd_outcome_t *out, mk_error_t *err);
int mk_group_feed_many(mk_group_t *g, const mk_bytes_t *cmds, size_t n, int timeout_ms, mk_cmd_outcome_t *out,
                       mk_error_t *err);
/* Re-submits a batch that ended MK_EOFFLINE under its (session, seq): applied at most once overall with
 * exactly_once (without it this is a plain new submission). wait_applied: execute, else feed. */
int mk_group_resubmit(mk_group_t *g, const mk_cmd_outcome_t *prev, const mk_bytes_t *cmds, size_t n,
                      bool wait_applied, int timeout_ms, mk_cmd_outcome_t *out, mk_error_t *err);
enum { MK_SUBMIT_ASSIGNED = 0, MK_SUBMIT_APPLIED = 1 }; /* flags of mk_group_submit: feed / execute */
/* Called once per submission on the loop thread, in submission order per group; must not block. */
typedef void (*mk_group_cmd_cb)(void *ud, int status, const mk_cmd_outcome_t *out);
/* Asynchronous form: MK_OK (cb follows), MK_EAGAIN (max_pending_commands reached: nothing queued),
 * MK_ENOCOMMANDS, MK_E2BIG, MK_ETERMINATED. Never blocks. Any thread. */
int mk_group_submit(mk_group_t *g, const mk_bytes_t *cmds, size_t n, unsigned flags, int timeout_ms,
                    mk_group_cmd_cb cb, void *ud);
/* Waits until a fed range is applied locally: MK_OK, MK_EOFFLINE (superseded), MK_ETIMEDOUT,
 * MK_ETERMINATED. */
int mk_group_wait_range(mk_group_t *g, const mk_index_range_t *r, int timeout_ms, mk_error_t *err);

typedef enum { MK_WEAK, MK_STRONG } mk_consistency_t;
/* data is the machine's answer (free with mk_query_result_free); position = applied index it reflects. */
typedef struct { void *data; size_t len; mk_index_t position; } mk_query_result_t;
/* WEAK: the machine's query on this node now. STRONG: linearizable (ReadIndex through the leader,
 * bounded by query_timeout; MK_EOFFLINE when it cannot be confirmed). MK_ETERMINATED, MK_ETIMEDOUT. */
int mk_group_query(mk_group_t *g, const void *q, size_t len, mk_consistency_t c, int timeout_ms,
                   mk_query_result_t *out, mk_error_t *err);
void mk_query_result_free(mk_query_result_t *r);

typedef enum { MK_ROLE_FOLLOWER, MK_ROLE_PRE_CANDIDATE, MK_ROLE_CANDIDATE, MK_ROLE_LEADER } mk_group_role_t;
typedef enum { MK_MEMBER_VOTER, MK_MEMBER_LEARNER, MK_MEMBER_OBSERVER } mk_member_kind_t;
/* A published copy of the group's state. committed = committed and applied here; commit_index = the raw
 * commit index. */
typedef struct {
    mk_group_role_t role;
    mk_member_kind_t member;
    mk_term_t term;
    bool has_leader, online, diverged, has_origin, terminated;
    mk_id_t leader, origin;
    mk_index_t commit_index, committed;
    mk_cursor_t last;
    size_t n_voters, n_bonds;
    mk_id_t voters[32];
} mk_group_status_t;
typedef struct { mk_id_t peer, bond_id; uint64_t incarnation; uint32_t rtt_us; bool dialer; } mk_bond_info_t;
typedef struct { mk_id_t a, b; } mk_bond_edge_t;

/* Getters read the last published copy and never block. Any thread. */
bool mk_group_leader(mk_group_t *g, mk_id_t *out);
bool mk_group_is_leader(mk_group_t *g);
mk_index_t mk_group_committed(mk_group_t *g);
mk_cursor_t mk_group_log_position(mk_group_t *g);
int mk_group_status(mk_group_t *g, mk_group_status_t *out);
/* Lists (free with mk_group_free_list): live bonds / the topology's edges (a < b). MK_OK, MK_ENOMEM. */
int mk_group_bonds(mk_group_t *g, mk_bond_info_t **out, size_t *n);
int mk_group_topology(mk_group_t *g, mk_bond_edge_t **out, size_t *n);
void mk_group_free_list(void *list);
/* Readable after any status change; read with mk_group_status, which drains it. */
int mk_group_fd(mk_group_t *g);

typedef enum {
    MK_WHEN_LEADER_ELECTED, MK_WHEN_LEADER_CHANGED, MK_WHEN_LEADER_IS, MK_WHEN_IS_LEADER, MK_WHEN_IS_FOLLOWER,
    MK_WHEN_ONLINE, MK_WHEN_OFFLINE, MK_WHEN_COMMITTED_REACHES, MK_WHEN_COMMITTED_ADVANCED,
    MK_WHEN_COMMITTED_CHANGED, MK_WHEN_LOG_REACHES, MK_WHEN_LOG_ADVANCED, MK_WHEN_LOG_CHANGED,
    MK_WHEN_BONDS_CHANGED
} mk_group_when_t;
typedef struct { mk_group_when_t what; mk_id_t peer; mk_index_t index; } mk_group_cond_t;
/* Waits until the condition holds (at once if it already does): MK_OK with *out (may be NULL) the
 * status that satisfied it, MK_ETIMEDOUT, MK_ETERMINATED, MK_EINVAL. Any thread but the loop's. */
int mk_group_wait(mk_group_t *g, const mk_group_cond_t *c, int timeout_ms, mk_group_status_t *out, mk_error_t *err);
/* Operator escape hatch, like etcd's force-new-cluster (spec 40 §3.7): on a node that has seen no leader
 * for election_timeout, writes at a new term a configuration of itself plus its bonded same-origin
 * non-observers (≤ max_voters) and campaigns; waits until it is online. MAY LOSE COMMITTED ENTRIES (those
 * the lost voters held beyond this log). MK_OK, MK_EBUSY (a leader was seen lately), MK_EALREADY (leads
 * already), MK_EINVAL (no history, observer), MK_ETIMEDOUT, MK_ETERMINATED. In-memory groups do this on
 * their own once a majority of the voters came back as new incarnations and no leader existed for
 * 2 × voter_removal_timeout; durable groups never do. Not on the loop thread. */
int mk_group_unsafe_recover(mk_group_t *g, int timeout_ms, mk_error_t *err);

#ifdef MK_TEST_HOOKS
/* Test hooks: cut every bond link of g without a frame; make this node dial peers regardless of the
 * lower-PeerId rule (both sides dial: duplicates); count of links closed with `code` by g. */
void mk_group_test_cut_bonds(mk_group_t *g);
void mk_group_test_force_dial(mk_group_t *g, bool on);
uint64_t mk_group_test_closes(mk_group_t *g, uint32_t code);
#endif

#ifdef __cplusplus
}
#endif

#endif
