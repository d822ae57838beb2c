/* tests/sim/groups/model.h — the Raft simulator's world (spec 40 §11.2): nodes running the real
 * consensus core over crash-aware stores, a network of bonds with delays, drops, duplicates and
 * (asymmetric) partitions, clients on a register and a counter, and the invariant checkers. world.c
 * owns nodes, network and bonds; snaps.c snapshots (fetch, offers, compaction, restore); clients.c the
 * workload and its histories; checks.c the invariants. */
#ifndef MK_SIM_GROUPS_MODEL_H
#define MK_SIM_GROUPS_MODEL_H

#include "groups/raft/raft_int.h"
#include "sim/groups/simstore.h"
#include "sim/sim.h"

#define GMAX 7
#define NKEYS 3
#define MS 1000LL
#define SEC 1000000LL

typedef struct gparams {
    int n;
    uint32_t max_voters, bootstrap_expect;
    int drop_pct, dup_pct;          /* per message */
    bool faults;                    /* partitions, crashes */
    bool amnesia;                   /* in-memory nodes may restart empty */
    bool exactly_once;
    bool dynamic_quorum;            /* the Rust-like quorum (a mutation the checker must catch) */
    int64_t fault_us;               /* faults happen before this time; then quiet */
    int64_t quiet_us;
} gparams_t;

typedef enum { OP_WRITE, OP_READ, OP_CAS, OP_INC, OP_CREAD } op_kind_t;
typedef enum { ST_PROPOSED, ST_ASSIGNED, ST_READING, ST_OK, ST_FAIL, ST_UNKNOWN } op_state_t;

typedef struct gop {
    uint64_t id;
    int client, node;
    op_kind_t kind;
    int key;
    int64_t arg, arg2, ret;
    bool cas_ok;
    op_state_t st;
    int64_t invoke_us, return_us;
    mk_index_range_t range;
    mk_index_t read_index;
    uint64_t node_life;             /* the node's life when issued: a crash voids it */
    mk_index_t applied_at;          /* the log index it was applied at (0: not yet) */
    bool has_origin;                /* the history it belongs to: its node's origin when issued, else when */
    mk_id_t origin;                 /* assigned / read (split bootstraps can leave two histories) */
} gop_t;

typedef struct gworld gworld_t;

typedef struct gsess {              /* exactly-once: the last seq applied per session (the runtime's table) */
    uint64_t session, seq, at;
} gsess_t;

typedef struct gsnap {              /* a snapshot of the machine: registers, counter, header (config, origin,
                                       has_commands and the session table, as mk_gsnap_header) */
    mk_cursor_t anchor;
    int64_t reg[NKEYS], counter;
    mk_buf_t header;
    uint64_t items;                 /* NKEYS registers, the counter, then w->snap_pad filler items */
    int64_t expires_ms;             /* an offer: dropped once this passes on its node's clock */
} gsnap_t;

typedef struct ginstall {           /* a snapshot being installed: items so far */
    bool open;
    uint64_t count, next;
    int64_t reg[NKEYS], counter;
    bool bad;                       /* an item out of order or not what the snapshot holds */
} ginstall_t;

typedef struct gnode {
    gworld_t *w;
    int idx;
    mk_peer_id_t id;
    bool alive, durable;
    bool leaving;                   /* a planned departure: the process has ended (nothing is processed,
                                       its messages in flight still arrive) until its bonds are gone */
    uint64_t life;                  /* restarts */
    mk_leadership_t pref;
    simstore_t *store;
    mk_raft_t *raft;
    int32_t skew_ppm;
    bool syncing;                   /* a ready batch waits for its (slow) sync */
    mk_raft_ready_t pending;
    /* the applied state machine */
    int64_t reg[NKEYS], counter;
    gsess_t *sess;                  /* exactly-once table (only with p.exactly_once) */
    size_t nsess, capsess;
    mk_term_t applied_term;
    mk_index_t compacted_at;        /* applied index of the last compaction snapshot (or install/restore) */
    /* snapshots (snaps.c) */
    struct mk_snapfetch *fetch;     /* a snapshot fetch in progress (the core asked: snapshot_wanted) */
    int64_t fetch_started_us;
    ginstall_t inst;
    gsnap_t *offers;                /* snapshots taken at markers, kept for their requesters */
    size_t noffers;
    mk_index_t applied, last_commit;
    mk_raft_role_t last_role;
    mk_term_t last_term;
    mk_index_t last_config;
} gnode_t;

typedef struct gslot {              /* one (index, term) seen in some log: its content and predecessor */
    mk_term_t term, prev_term;
    uint64_t hash;
} gslot_t;

typedef struct gcfg {               /* a committed CONFIG entry: its index and voters (a bitmask of nodes) */
    mk_index_t index;
    unsigned voters;
} gcfg_t;

typedef struct gorigin {            /* what every node of one history agrees on */
    mk_id_t origin;
    struct { gslot_t *v; size_t n; } *seen;  /* seen[index - 1]: every (term) at that index */
    size_t nseen;
    struct { mk_term_t term; uint64_t hash; uint64_t state; bool has_state; } *committed;  /* state: the
                                       machine's state hash right after applying that index */
    size_t ncommitted, cap;
    struct { mk_term_t term; int node; } *leaders;
    size_t nleaders, capleaders;
    gcfg_t *cfgs;                   /* every committed CONFIG entry, in order (compaction-proof history) */
    size_t ncfgs, capcfgs;
} gorigin_t;

struct gworld {
    sim_t *s;
    gparams_t p;
    mk_consensus_config_t cc;
    gnode_t nodes[GMAX];
    bool link[GMAX][GMAX];          /* i can send to j */
    bool bond[GMAX][GMAX];
    bool bond_pending[GMAX][GMAX];
    int64_t silent_since[GMAX][GMAX];
    uint64_t epoch[GMAX][GMAX];
    int64_t last_at[GMAX][GMAX];    /* when the last message scheduled from i to j arrives */
    int64_t probe1_since[GMAX][GMAX];  /* leader i has replicated to j from index 1 over a compacted log since */
    gorigin_t origins[4];
    size_t norigins;
    gop_t *ops;
    size_t nops, capops;
    uint64_t next_op;
    int nclients;
    bool clients_on;
    int client_node[8];             /* -1: pick at random per op */
    uint64_t client_session[8], client_seq[8];  /* exactly-once: a fresh session after any failure */
    int64_t last_amnesia_us;
    uint64_t stats_msgs, stats_elections, stats_crashes, stats_partitions, stats_configs, stats_transfers, stats_sync_msgs;
    uint32_t replay_batch;
    /* snapshots: sync kind, compaction and the knobs of this seed (snaps.c) */
    bool snap_sync;                 /* MK_SYNC_SNAPSHOT (snapshot_sync in the core) instead of log replay */
    uint64_t snapshot_every, retain;  /* compaction (0: never) */
    uint32_t snapshot_batch, snapshot_ttl_ms, snapshot_request_ms, snapshot_fetch_ms;
    uint32_t snap_pad;              /* filler items per snapshot (more chunks to fetch) */
    size_t snap_budget;             /* bytes per FetchDataResponse (cut short like a frame) */
    bool install_unstored;          /* as the runtime: a fetched snapshot is not written to the store's area */
    bool covered_call_fails;        /* as the runtime: a call under an installed snapshot ends "superseded" */
    bool mutate_offer;              /* test mutation: offered snapshots count one increment too many */
    bool ever_based;                /* some log was compacted or reset to a snapshot */
    bool strict_known;              /* formerly known core issues are violations (default; --lenient-known) */
    const char *known_issue;        /* the known core issue that stopped this run (tolerated), or NULL */
    int64_t deadlock_since[GMAX];   /* leader i has been stuck on the snapshot-marker deadlock since */
    uint64_t stats_fetches, stats_installs, stats_fetch_aborts, stats_markers, stats_offers, stats_data_reqs;
    uint64_t stats_direct_offers;  /* leader offers of its applied state to a voter the quorum waits for */
    uint64_t stats_compactions, stats_restores, stats_dups_filtered, stats_covered_calls;
    int64_t stats_install_max_us;   /* snapshot_wanted → installed */
    /* leadership hand-overs: the first leader of a later term after a transfer is the chosen voter (ok)
     * or another node (failed: an ordinary election took over) */
    struct { bool pending; int from, to; mk_term_t term; int64_t at_us; } xfer;
    uint64_t stats_xfer_ok, stats_xfer_failed;
    int64_t stats_xfer_ok_us, stats_xfer_max_us;  /* transfer → the new leader: sum over successes, max over all */
};

/* world.c */
void gw_init(gworld_t *w, sim_t *s, const gparams_t *p);
void gw_free(gworld_t *w);
int64_t gw_node_now(const gworld_t *w, const gnode_t *n);
void gw_start(gworld_t *w);                          /* nodes up, bonds, ticks */
void gw_process(gworld_t *w, gnode_t *n);             /* drain the ready batches of n */
void gw_crash(gworld_t *w, int i, bool amnesia);
/* A planned departure of leader i, as the runtime's mk_gstate_depart: leadership handed over
 * (mk_raft_transfer: entries and TimeoutNow to the chosen voter), Departure to every other bonded peer
 * (arriving no later than the TimeoutNow), then to the chosen one (after it), and the process ends: i
 * processes nothing more. False (nothing done) when i is not a live leader or has no voter to hand over
 * to. *end_us: when its last message has arrived; the caller stops the node (gw_crash) then. */
bool gw_leave(gworld_t *w, int i, int64_t *end_us);
void gw_restart(gworld_t *w, int i);
void gw_partition(gworld_t *w, const int *side, bool one_way);  /* side[i] ∈ {0,1}; one_way: only 0→1 cut */
void gw_heal(gworld_t *w);
void gw_faults(gworld_t *w);
int gw_node_of(gworld_t *w, const mk_peer_id_t *id);  /* -1: none */
/* Leader l is stuck on the snapshot-marker deadlock (a core liveness bug, fixed: repl.c syncing_fallback,
 * mk_raft_quorum_waits_for): it holds an uncommitted SNAPSHOT_MARKER, and a quorum of its configuration is
 * reachable only by counting voters that are in snapshot-sync mode. */
bool gw_snapshot_deadlock(gworld_t *w, int l);
/* Formerly known core issues, now fixed and checked (docs/internals/raft.md): snapshot_marker_deadlock
 * (above, for 5 s), compacted_prefix_probe (checks.c), append_below_base (world.c). With w->strict_known
 * (the default) it is the violation `name`; with --lenient-known the run stops here without a violation
 * (w->known_issue = name; the history recorded so far is still checked). Returns true when the run stops. */
bool gw_known_issue(gworld_t *w, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A liveness check failed at leader l: true (the run stopped, see gw_known_issue) if the snapshot-marker
 * deadlock explains it. */
bool gw_liveness_excused(gworld_t *w, int l, const char *what);
void gw_send(gworld_t *w, int from, int to, const mk_buf_t *bytes, bool sync);  /* over the bond, if up */                          /* schedules random faults until p.fault_us */
int gw_leader(gworld_t *w);                           /* the live leader of the highest term, -1 if none */
void gw_xfer_begin(gworld_t *w, int i, const mk_peer_id_t *to);  /* node i handed leadership to `to` */
void gw_on_leader(gworld_t *w, gnode_t *n);           /* n became leader: settles a pending hand-over */
void gw_xfer_end(gworld_t *w);                        /* the run ended: a pending hand-over failed */

/* snaps.c — the runtime's snapshot side (src/groups/snapshots.c, snapfetch_drive.c) for sim nodes */
void gs_params(gworld_t *w);                          /* draws this seed's snapshot knobs (gw_init) */
uint64_t gs_state_hash(const gnode_t *n);             /* registers, counter, session table */
bool gs_seen_before(gworld_t *w, gnode_t *n, uint64_t session, uint64_t seq, mk_index_t at);
void gs_on_marker(gworld_t *w, gnode_t *n, mk_cursor_t at, const mk_log_entry_t *e);  /* applying a marker */
bool gs_on_sync(gworld_t *w, gnode_t *n, int from, const mk_gsync_msg_t *m);  /* false: the core's message */
void gs_fetch_start(gworld_t *w, gnode_t *n);         /* the ready batch said snapshot_wanted */
void gs_fetch_leader(gworld_t *w, gnode_t *n);        /* the leader changed */
void gs_peer_down(gworld_t *w, gnode_t *n, int peer);
void gs_tick(gworld_t *w, gnode_t *n);                /* fetch timers, offer expiry */
void gs_idle(gworld_t *w, gnode_t *n);                /* no batch pending: pump the fetch, compact */
bool gs_restore(gworld_t *w, gnode_t *n, mk_raft_body_t *base, mk_index_t *base_index);  /* at boot */
void gs_drop(gnode_t *n);                             /* the process ended: fetch, offers, install gone */
void gs_free(gnode_t *n);

/* clients.c */
void gc_start(gworld_t *w, int nclients);
void gc_issue(gworld_t *w, int client, int node, op_kind_t kind, int key, int64_t arg, int64_t arg2);
gop_t *gc_op(gworld_t *w, uint64_t id);
void gc_on_result(gworld_t *w, gnode_t *n, const mk_raft_result_t *res);
void gc_on_read(gworld_t *w, gnode_t *n, const mk_raft_read_t *rd);
void gc_on_applied(gworld_t *w, gnode_t *n);          /* answers ops waiting on n's applied index */
void gc_on_crash(gworld_t *w, gnode_t *n);
bool gc_check_histories(gworld_t *w);                 /* linearizability and counter bounds */

/* checks.c */
void gk_on_leader(gworld_t *w, gnode_t *n);           /* election safety, leader completeness */
void gk_on_applied(gworld_t *w, gnode_t *n, const mk_log_entry_t *e);  /* state machine safety */
void gk_on_ready(gworld_t *w, gnode_t *n);            /* commit regression, config discipline, fatal */
void gk_log_matching(gworld_t *w);
void gk_on_append(void *ctx, const mk_log_entry_t *e, mk_term_t prev_term);  /* ctx: the gnode_t */
void gk_final(gworld_t *w);                           /* durability and convergence at the end */
void gk_on_state(gworld_t *w, gnode_t *n, mk_index_t index);  /* n's machine right after applying index */
void gk_on_snapshot(gworld_t *w, gnode_t *n, mk_cursor_t anchor, const char *how);  /* installed or restored */
mk_index_t gk_base(gnode_t *n);                       /* the index below which n's log is compacted */
bool gk_committed_term(gworld_t *w, gnode_t *n, mk_index_t index, mk_term_t *term);  /* in n's history */
/* The committed CONFIG entries of n's history (*count of them), and the highest index known committed. */
const gcfg_t *gk_configs(gworld_t *w, gnode_t *n, size_t *count, mk_index_t *committed);
uint64_t gk_entry_hash(const mk_log_entry_t *e);

#endif
