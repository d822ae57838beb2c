/* tests/sim/discovery/model.h — the discovery model of discovery-sim: nodes built from the library's
 * sans-I/O pieces (HyParView state machine, store with the §1.4 merge rules, gossip queues, signed
 * entries, departures, digests) wired by a glue that mirrors src/discovery/announce.c and sync_io.c,
 * over simulated links (20 ± 10 ms per frame, FIFO per direction, no TLS). Entries travel as shared
 * immutable objects, so a signature is checked once per version (the entry's own cache). */
#ifndef MK_SIM_DISCOVERY_MODEL_H
#define MK_SIM_DISCOVERY_MODEL_H

#include "discovery/entry.h"
#include "discovery/gossip_queue.h"
#include "discovery/hyparview.h"
#include "discovery/store.h"
#include "discovery/wire.h"
#include "sim/sim.h"

typedef struct dnode dnode_t;
typedef struct dconn dconn_t;
typedef struct dlink dlink_t;
typedef struct dworld dworld_t;

enum { SYNC_HELLO = 100, SYNC_REPLY, SYNC_ENTRIES };

/* One frame in flight: an announce message (kind = mk_wire_kind_t) or a catalog-sync message. Entry
 * pointers are owned references. */
typedef struct dmsg {
    int kind;
    bool flag;
    uint8_t ttl;
    const mk_peer_entry_t *entry;
    const mk_peer_entry_t **ents;
    size_t nents;
    mk_peer_id_t *ids;
    size_t nids;
    mk_digest_item_t *digest;
    size_t ndigest;
    mk_departure_t dep;
} dmsg_t;

typedef enum { C_PENDING_IN = 0, C_DIALING, C_AWAIT_REPLY, C_ACTIVE, C_SHUFFLE_REPLY, C_CLOSING } dconn_state_t;

struct dconn {
    dconn_t *next;
    dnode_t *node;
    dlink_t *link;
    int end;                     /* 0 = dialer, 1 = acceptor */
    mk_peer_id_t peer;
    dconn_state_t state;
    int open_kind;
    mk_gossip_queue_t *queue;
    dmsg_t *pending_first;
    bool departed;
};

struct dlink {
    dnode_t *n[2];
    dconn_t *c[2];               /* NULL once that end is closed */
    int64_t last_us[2];          /* last delivery scheduled toward end i (FIFO) */
    int refs;                    /* live ends + events in flight */
};

typedef struct dstats {
    uint64_t frames, bytes, entries, duplicates, rejected_bad_sig, violations_closed, syncs;
} dstats_t;

enum { T_HPV, T_FLUSH, T_ANNOUNCE, T_BOOT, T_ANTI, T_PURGE, T_COUNT };

struct dnode {
    dworld_t *w;
    uint32_t idx;
    bool started, alive, left;
    mk_secret_key_t sk;
    mk_peer_id_t id;
    mk_entry_draft_t draft;
    const mk_peer_entry_t *local;
    mk_store_t *store;
    mk_hpv_t *hpv;
    dconn_t *conns;
    int64_t skew_ms;             /* wall-clock offset of this node */
    uint32_t gen[T_COUNT];       /* timer generations (a stale timer event is ignored) */
    int64_t armed_at[T_COUNT];   /* when each timer fires next (-1 = not armed) */
    uint32_t boot_backoff_ms;
    bool saw_departure;          /* applied the departure of w->departed */
};

typedef struct dparams {
    uint32_t n;                  /* honest nodes (node 0 is the bootstrap node) */
    int64_t join_window_us;      /* nodes start uniformly within it */
    uint32_t active, passive, announce_ms, gossip_flush_ms, shuffle_ms, sync_ms, purge_after_ms;
    int64_t delay_us, jitter_us; /* one-way frame delay: delay ± jitter */
    bool forger;                 /* one extra node that sends forged entries */
    bool mut_no_forward;         /* mutation: received entries are not gossiped on */
    bool mut_skip_verify;        /* mutation: forged entries pass as verified */
    bool mut_no_drop_known;      /* ablation: queued copies a neighbour already sent us still go out */
    bool baseline;               /* the Rust-like comparison: announce to every known peer, full catalog
                                    sync with every newly discovered peer, no forwarding */
} dparams_t;

struct dworld {
    sim_t *s;
    dparams_t p;
    mk_network_id_t net;
    dnode_t *nodes;
    uint32_t count;              /* n (+1 with the forger) */
    struct { mk_peer_id_t id; uint32_t idx; } *index;  /* sorted by id */
    dstats_t st;
    int64_t epoch_ms;            /* wall clock at t = 0 */
    /* invariant bookkeeping */
    int64_t departed;            /* index of the gracefully departed node, -1 */
    mk_entry_version_t departed_version;
    const mk_peer_entry_t **forged;
    size_t nforged, capforged;
};

/* World lifecycle (keys derived from the seed; nothing started). */
int dworld_init(dworld_t *w, sim_t *s, const dparams_t *p);
void dworld_free(dworld_t *w);
/* Node index of a peer id, or -1. */
int64_t dworld_find(const dworld_t *w, const mk_peer_id_t *id);
/* Starts node i now (bootstraps through node 0 unless it is node 0). */
void dnode_start(dnode_t *n);
/* Changes the local entry (adds a tag) and announces it. */
void dnode_add_tag(dnode_t *n, const char *tag);
/* Leaves gracefully (Depart, Disconnect, close) / crashes (links drop, nothing sent). */
void dnode_depart(dnode_t *n);
void dnode_kill(dnode_t *n);
/* The forger sends a forged newer entry of victim to its active neighbours. */
void dnode_forge(dnode_t *forger, dnode_t *victim);
/* Count of ACTIVE conns, and the peers of them into out (cap). */
size_t dnode_active_links(const dnode_t *n, uint32_t *out, size_t cap);
/* Wall clock of node n in ms. */
int64_t dnode_wall_ms(const dnode_t *n);

#endif
