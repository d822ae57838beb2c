/* groups/groups_int.h — the groups runtime's private state, shared by runtime.c (the subsystem: ALPN,
 * accept, catalog watch, ticks), bond.c (bond links: dial, handshake, heartbeats, messages, tickets),
 * group.c (a joined group: the Raft driver, apply, calls, published status) and api.c (the public
 * calls). Everything below is touched on the loop thread only, except what `mu` guards in mk_group. */
#ifndef MK_GROUPS_GROUPS_INT_H
#define MK_GROUPS_GROUPS_INT_H

#include "core/metrics.h"
#include "core/readyfd.h"
#include "groups/bond_wire.h"
#include "groups/machine.h"
#include "groups/raft/raft.h"
#include "groups/sync/replay.h"
#include "mosaik/discovery.h"
#include "mosaik/groups.h"
#include "net/net.h"

#include <pthread.h>
#include <stdatomic.h>

#define MK_GROUPS_ALPN "/mosaik/groups/1"
#define MK_GROUPS_TICK_MS 20
#define MK_GROUPS_MAX_CANDS 256

typedef struct mk_groups mk_groups_t;
typedef struct mk_gstate mk_gstate_t;

typedef enum { MK_BOND_DIALING, MK_BOND_HANDSHAKE, MK_BOND_LIVE, MK_BOND_CLOSED } mk_bond_state_t;

/* One bond link (dialed or accepted). An accepted link has no group until its HandshakeStart names one. */
typedef struct mk_bond {
    mk_groups_t *gs;
    mk_gstate_t *g;
    mk_link_t *link;
    mk_peer_id_t peer;
    bool dialer;
    mk_bond_state_t state;
    uint64_t incarnation;          /* the peer's, from its handshake */
    mk_id_t bond_id;
    uint8_t exporter[MK_BOND_EXPORTER_LEN];
    struct event *timer;           /* handshake deadline, then heartbeat ticks */
    struct event *ticket_ev;       /* ticket expiry re-validation */
    int64_t last_rx, last_tx, since;
    uint32_t missed;
    mk_peer_id_t *reported;        /* topology: peers the other side reported bonded */
    size_t nreported, capreported;
    struct mk_bond *next;          /* in g->bonds, or gs->handshakes while groupless */
} mk_bond_t;

/* A candidate member seen in the catalog (dial bookkeeping). */
typedef struct mk_gcand {
    mk_peer_id_t peer;
    int64_t first_seen, next_dial_at;
    uint32_t backoff_ms;
    bool blocked;                  /* after 30_403 / 30_405: until the peer's entry changes */
    mk_entry_version_t blocked_version;
    bool unknown_retry;            /* 401 seen: one retry after a catalog sync */
    bool seen;                     /* mark for the catalog pass */
} mk_gcand_t;

/* A public call in flight (command, query or range wait). Shared by the caller and the loop: refs. */
typedef enum { MK_CALL_CMD, MK_CALL_QUERY, MK_CALL_RANGE } mk_call_kind_t;
typedef struct mk_gcall {
    atomic_int refs;
    mk_gstate_t *g;
    mk_call_kind_t kind;
    bool wait_applied;             /* execute (else feed) */
    bool done, abandoned, proposed;
    int status;
    mk_error_t err;
    mk_cmd_outcome_t out;
    uint64_t req_id;
    mk_bytes_t *cmds;              /* owned copies until proposed */
    size_t ncmds;
    int64_t deadline;              /* loop: monotonic ms, -1 none (queries: query_timeout) */
    /* query */
    mk_consistency_t consistency;
    void *q;
    size_t qlen;
    mk_index_t read_index;
    bool read_ok;
    mk_query_result_t result;
    /* async */
    mk_group_cmd_cb cb;
    void *ud;
    struct mk_gcall *next;
} mk_gcall_t;

/* A snapshot this node holds for requesters (taken right after a fresh SNAPSHOT_MARKER). */
typedef struct mk_goffer {
    mk_cursor_t anchor;
    mk_sm_snapshot_t *snap;
    uint64_t items;
    mk_buf_t header;
    int64_t expires;                 /* monotonic ms: dropped when not fetched for snapshot_ttl */
    struct mk_goffer *next;
} mk_goffer_t;

struct mk_gstate {
    mk_groups_t *gs;
    mk_network_t *n;
    mk_id_t id;
    char short_id[12];
    mk_group_config_t cfg;         /* validators array copied (refs held) */
    const mk_ticket_validator_t **validators;
    mk_group_key_t key;
    const mk_state_machine_t *machine;
    void *machine_self;
    mk_leadership_t pref;
    mk_log_store_t *store;
    mk_raft_t *raft;
    uint64_t incarnation;
    int refs;                      /* handles (loop) */
    bool terminated, leaving;
    char fail_why[128];
    mk_bond_t *bonds;
    mk_gcand_t cands[MK_GROUPS_MAX_CANDS];
    size_t ncands;
    struct event *tick_ev;
    /* calls (loop) */
    uint64_t next_req;
    mk_gcall_t *backlog, *backlog_tail;   /* waiting for room (max_pending_commands) or to propose */
    mk_gcall_t *proposed;                 /* proposed, waiting for their result */
    mk_gcall_t *applying;                 /* assigned, waiting for local apply (execute, range waits) */
    mk_gcall_t *reading;                  /* strong queries */
    size_t npending;
    uint64_t session, seq;
    mk_index_t applied;
    mk_term_t applied_term;
    /* exactly-once apply filter: session → last applied seq (linear; max_sessions bounded) */
    struct { uint64_t session, seq; mk_index_t at; } *sessions;
    size_t nsessions;
    bool has_commands;
    /* snapshots (snapshots.c, snapfetch_drive.c) */
    mk_goffer_t *offers;
    mk_index_t compacted_at;           /* applied index of the last compaction snapshot */
    bool store_snapshot_due;           /* a fetched snapshot was installed: store it (the log starts after it) */
    struct mk_snapfetch *fetch;        /* requester: a snapshot fetch in progress */
    void *install;                     /* the machine's install handle of that fetch */
    struct event *fetch_ev;            /* the fetch's timer */
    /* published copy (mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mk_group_status_t pub;
    uint64_t pub_seq, pub_bonds_seq;      /* published changes / bond-set changes (mu) */
    uint64_t bonds_seq, bonds_published, ticks;  /* loop */
    mk_bond_info_t *pub_bonds;
    size_t pub_nbonds;
    mk_bond_edge_t *pub_edges;
    size_t pub_nedges;
    mk_readyfd_t ready;
    atomic_int holds;              /* the subsystem's (until left or destroyed) + one per handle */
    atomic_bool net_gone;          /* the network was freed: handles may only leave */
    atomic_size_t ncalls;          /* command calls not yet finished (max_pending_commands) */
    struct event *kick_ev;         /* deferred processing: proposals of one loop turn go out together */
    /* test hooks */
    bool force_dial;
    uint64_t closes[8];            /* 30_400, 30_403, 30_404, 30_405, 30_408, 30_429, 400, other */
    /* metrics */
    mk_gauge_t *m_committed, *m_voters, *m_bonds;
    mk_counter_t *m_commands, *m_sync_sessions, *m_recoveries, *m_elections, *m_leader_changes, *m_tx_bytes, *m_rx_bytes, *m_tx_msgs, *m_rx_msgs;
    uint64_t last_sync_sessions;
    mk_raft_role_t last_role;
    bool last_has_leader;
    mk_peer_id_t last_leader;
    struct mk_gstate *next;
};


/* The public handle: one per mk_group_join call. */
struct mk_group {
    mk_gstate_t *g;
    mk_network_t *n;
};

struct mk_groups {
    mk_network_t *n;
    mk_network_id_t net_id;
    mk_peer_id_t self;
    mk_groups_config_t cfg;
    mk_gstate_t *groups;
    mk_bond_t *handshakes;         /* accepted links waiting for HandshakeStart */
    size_t nhandshakes;
    mk_catalog_watch_t *watch;
    mk_entry_version_t local_version;  /* of the local entry last sent as PeerEntryUpdate */
    bool stopping;
    mk_gauge_t *m_active;
};

/* runtime.c */
mk_groups_t *mk_groups_of(mk_network_t *n);
mk_gstate_t *mk_groups_find(mk_groups_t *gs, const mk_id_t *id);
int64_t mk_groups_now(void);
uint64_t mk_groups_rand(void);

/* bond.c */
void mk_bond_accept(mk_groups_t *gs, mk_link_t *l);
void mk_bond_dial(mk_gstate_t *g, const mk_peer_entry_t *e);
void mk_bond_close(mk_bond_t *b, uint32_t code, const char *why);
/* Sends one Raft / sync payload to peer's live bond (dropped if none). */
void mk_bond_send_payload(mk_gstate_t *g, const mk_peer_id_t *peer, mk_bond_msg_kind_t kind, const mk_buf_t *p);
/* Departure on live bonds: to `only` (NULL: all), except `skip` (NULL: none). */
void mk_bond_send_departure(mk_gstate_t *g, const mk_peer_id_t *only, const mk_peer_id_t *skip);
mk_bond_t *mk_bond_live(mk_gstate_t *g, const mk_peer_id_t *peer);
bool mk_bond_dialing(mk_gstate_t *g, const mk_peer_id_t *peer);
/* Catalog pass for g: dials candidates, re-validates bonded peers' tickets. */
void mk_bond_catalog_pass(mk_gstate_t *g, const mk_catalog_t *cat);
void mk_bond_count_close(mk_gstate_t *g, uint32_t code);
void mk_bond_send_entry_update(mk_gstate_t *g, const mk_peer_entry_t *local);

/* group.c */
void mk_gstate_process(mk_gstate_t *g);            /* drains the Raft core's ready batches */
void mk_gstate_publish(mk_gstate_t *g);            /* publishes status, bonds, topology; wakes waiters */
void mk_gstate_bond_up(mk_gstate_t *g, mk_bond_t *b);
void mk_gstate_bond_down(mk_gstate_t *g, mk_bond_t *b);
void mk_gstate_on_raft(mk_gstate_t *g, mk_bond_t *b, const uint8_t *p, size_t n);
void mk_gstate_on_sync(mk_gstate_t *g, mk_bond_t *b, const uint8_t *p, size_t n);
void mk_gstate_emit(mk_gstate_t *g, mk_group_ev_kind_t kind, const mk_id_t *peer, mk_index_t index);
void mk_gstate_terminate(mk_gstate_t *g, const char *why);
/* A planned departure: a leader hands leadership over (TimeoutNow), Departure goes on every bond. */
void mk_gstate_depart(mk_gstate_t *g);
mk_gstate_t *mk_gstate_new(mk_groups_t *gs, const mk_group_config_t *cfg, const mk_id_t *id, mk_error_t *e);
void mk_gstate_shutdown(mk_gstate_t *g);           /* frees the loop-side resources; idempotent */
void mk_gstate_unhold(mk_gstate_t *g);             /* drops one hold; the last frees the memory */
void mk_gstate_kick(mk_gstate_t *g);               /* processes at the end of this loop turn */
void mk_gcall_finish(mk_gstate_t *g, mk_gcall_t *c, int status);
void mk_gcall_release(mk_gcall_t *c);
void mk_gstate_submit(mk_gstate_t *g, mk_gcall_t *c);  /* loop: a new command call */
void mk_gstate_query(mk_gstate_t *g, mk_gcall_t *c);   /* loop: a new query call */
void mk_gstate_range(mk_gstate_t *g, mk_gcall_t *c);   /* loop: a new range wait */
void mk_gstate_tick(mk_gstate_t *g);

/* snapshots.c */
bool mk_gsnap_capable(const mk_gstate_t *g);
int mk_gsnap_header(mk_gstate_t *g, mk_index_t anchor, mk_buf_t *out);
int mk_gsnap_take_sessions(mk_gstate_t *g, const mk_gsync_snap_header_t *h);
void mk_gsnap_on_marker(mk_gstate_t *g, mk_cursor_t at, const mk_raft_body_t *b);
bool mk_gsnap_on_sync(mk_gstate_t *g, const mk_peer_id_t *from, const mk_gsync_msg_t *m);
void mk_gsnap_tick(mk_gstate_t *g);
void mk_gsnap_free_all(mk_gstate_t *g);
void mk_gsnap_maybe_compact(mk_gstate_t *g);
/* Rebuilds the machine from the store's snapshot: MK_OK (base config and its index filled, g->applied
 * set), MK_ENOTFOUND (none stored: start from the log), or an error. */
int mk_gsnap_restore(mk_gstate_t *g, mk_raft_body_t *base, mk_index_t *base_index, mk_error_t *e);

/* snapfetch_drive.c: the requester's fetch (spec 40 §8.2) */
void mk_gsnap_fetch_start(mk_gstate_t *g);
void mk_gsnap_fetch_step(mk_gstate_t *g, const mk_peer_id_t *from, const mk_gsync_msg_t *m);
void mk_gsnap_fetch_stop(mk_gstate_t *g);
void mk_gsnap_fetch_peer_down(mk_gstate_t *g, const mk_peer_id_t *peer);
void mk_gsnap_fetch_leader(mk_gstate_t *g, const mk_peer_id_t *leader);

#endif
