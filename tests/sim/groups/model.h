/* tests/sim/groups/model.h — the Raft simulator's world (spec 40 §11.2): nodes running the real
 * consensus core over crash-aware stores, a network of bonds with delays, drops, duplicates and
 * (asymmetric) partitions, clients on a register and a counter, and the invariant checkers. world.c
 * owns nodes, network and bonds; clients.c the workload and its histories; checks.c the invariants. */
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

typedef struct gnode {
    gworld_t *w;
    int idx;
    mk_peer_id_t id;
    bool alive, durable;
    uint64_t life;                  /* restarts */
    mk_leadership_t pref;
    simstore_t *store;
    mk_raft_t *raft;
    int32_t skew_ppm;
    bool syncing;                   /* a ready batch waits for its (slow) sync */
    mk_raft_ready_t pending;
    /* the applied state machine */
    int64_t reg[NKEYS], counter;
    mk_index_t applied, last_commit;
    mk_raft_role_t last_role;
    mk_term_t last_term;
    mk_index_t last_config;
} gnode_t;

typedef struct gslot {              /* one (index, term) seen in some log: its content and predecessor */
    mk_term_t term, prev_term;
    uint64_t hash;
} gslot_t;

typedef struct gorigin {            /* what every node of one history agrees on */
    mk_id_t origin;
    struct { gslot_t *v; size_t n; } *seen;  /* seen[index - 1]: every (term) at that index */
    size_t nseen;
    struct { mk_term_t term; uint64_t hash; } *committed;
    size_t ncommitted, cap;
    struct { mk_term_t term; int node; } *leaders;
    size_t nleaders, capleaders;
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
};

/* world.c */
void gw_init(gworld_t *w, sim_t *s, const gparams_t *p);
void gw_free(gworld_t *w);
int64_t gw_node_now(const gworld_t *w, const gnode_t *n);
void gw_start(gworld_t *w);                          /* nodes up, bonds, ticks */
void gw_process(gworld_t *w, gnode_t *n);             /* drain the ready batches of n */
void gw_crash(gworld_t *w, int i, bool amnesia);
void gw_restart(gworld_t *w, int i);
void gw_partition(gworld_t *w, const int *side, bool one_way);  /* side[i] ∈ {0,1}; one_way: only 0→1 cut */
void gw_heal(gworld_t *w);
void gw_faults(gworld_t *w);                          /* schedules random faults until p.fault_us */
int gw_leader(gworld_t *w);                           /* the live leader of the highest term, -1 if none */

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
uint64_t gk_entry_hash(const mk_log_entry_t *e);

#endif
