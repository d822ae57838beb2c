/* discovery/store.h — the catalog's state as plain data (sans-I/O, loop-owned, no clocks): one entry
 * per peer (signed or unsigned), the local entry apart, tombstones of graceful departures, and the
 * merge rules of spec 20 §1.3/§1.4/§2.2/§2.4/§3.5. Iteration is in PeerId (memcmp) order. */
#ifndef MK_DISCOVERY_STORE_H
#define MK_DISCOVERY_STORE_H

#include "discovery/entry.h"

typedef struct mk_store mk_store_t;

typedef struct mk_store_params {
    mk_network_id_t network;
    mk_peer_id_t self;
    uint32_t purge_after_ms, max_time_drift_ms, max_peers;
} mk_store_params_t;

/* Verdicts of mk_store_offer (and of unsigned inserts: NEW, UPDATED, IGNORED, FULL). */
enum {
    MK_STORE_NEW = 1,    /* peer absent before: stored */
    MK_STORE_UPDATED,    /* newer version stored */
    MK_STORE_DUPLICATE,  /* not newer than the stored signed version */
    MK_STORE_DEPARTED,   /* not newer than the peer's tombstone */
    MK_STORE_SELF,       /* our own id: ignored (self_newer tells whether it beats our version) */
    MK_STORE_REJECTED,   /* reject/why say why */
    MK_STORE_IGNORED,    /* unsigned insert while a signed entry exists */
    MK_STORE_FULL,       /* unsigned insert at max_peers */
};

typedef struct mk_store_result {
    const mk_peer_entry_t *entry; /* NEW/UPDATED: the stored entry; SELF: the received one (new reference) */
    bool content_changed;         /* UPDATED: content differs from the replaced entry */
    bool replaced_unsigned;       /* NEW/UPDATED replaced an unsigned entry of that peer */
    bool self_newer;              /* SELF: the received version is above our local one */
    mk_peer_id_t peer;            /* the offered entry's peer and version (all verdicts but malformed) */
    mk_entry_version_t version;
    mk_entry_reject_t reject;     /* REJECTED only */
    char why[160];                /* REJECTED only: the cause */
} mk_store_result_t;

mk_store_t *mk_store_new(const mk_store_params_t *p);
void mk_store_free(mk_store_t *s);
/* The local signed entry (kept apart; not part of the peer set). Takes a new reference. */
void mk_store_set_local(mk_store_t *s, const mk_peer_entry_t *local);
const mk_peer_entry_t *mk_store_local(const mk_store_t *s);

/* Classifies a received SignedEntry in the order of §1.4 and stores it when New/Updated. Returns the
 * verdict; res->entry holds a new reference when set (release it). */
int mk_store_offer(mk_store_t *s, const void *p, size_t len, int64_t now_ms, mk_store_result_t *res);
/* Same for an entry already decoded (signature still checked here). */
int mk_store_offer_entry(mk_store_t *s, const mk_peer_entry_t *e, int64_t now_ms, mk_store_result_t *res);

/* Unsigned entries (§1.3): MK_STORE_NEW/UPDATED, IGNORED (a signed one exists), FULL; MK_EINVAL for our
 * own id, MK_EWRONGNET for another network. */
int mk_store_insert_unsigned(mk_store_t *s, const mk_peer_entry_t *e);
/* Removes the entry of a peer (signed or unsigned): the removed entry (owned reference) or NULL. */
const mk_peer_entry_t *mk_store_remove(mk_store_t *s, const mk_peer_id_t *peer);
/* Removes every unsigned entry, calling gone(ctx, entry) for each (borrowed during the call). */
void mk_store_clear_unsigned(mk_store_t *s, void (*gone)(void *ctx, const mk_peer_entry_t *e), void *ctx);

/* Lookup (borrowed; valid until the entry is replaced or removed). */
const mk_peer_entry_t *mk_store_get(const mk_store_t *s, const mk_peer_id_t *peer);
bool mk_store_has_peer(const mk_store_t *s, const mk_peer_id_t *peer);
/* Entries in PeerId order: count and i-th (borrowed). */
size_t mk_store_size(const mk_store_t *s);
const mk_peer_entry_t *mk_store_at(const mk_store_t *s, size_t i);

/* Earliest wall-clock ms at which a signed entry or a tombstone expires; -1 if none. */
int64_t mk_store_next_expiry(const mk_store_t *s);
/* Removes signed entries with update + purge_after < now (gone(ctx, entry) for each, borrowed during the
 * call) and expired tombstones. */
void mk_store_purge(mk_store_t *s, int64_t now_ms, void (*gone)(void *ctx, const mk_peer_entry_t *e), void *ctx);

/* Departures (§3.5). */
enum {
    MK_STORE_DEPART_ACCEPTED = 1, /* entry removed (if any) and tombstone set */
    MK_STORE_DEPART_IGNORED,      /* older than what we hold, or already departed */
    MK_STORE_DEPART_BAD_SIGNATURE,
    MK_STORE_DEPART_OUT_OF_WINDOW, /* |now − at| > max_time_drift */
    MK_STORE_DEPART_SELF,
};
/* *last receives the removed entry (owned reference) or NULL. */
int mk_store_apply_departure(mk_store_t *s, const mk_departure_t *d, int64_t now_ms, const mk_peer_entry_t **last);

typedef struct mk_store_counts {
    size_t signed_peers, unsigned_peers, tombstones;
} mk_store_counts_t;
void mk_store_counts(const mk_store_t *s, mk_store_counts_t *out);

/* Catalog-sync digest item: a signed entry's peer and version. */
typedef struct mk_digest_item {
    mk_peer_id_t peer;
    mk_entry_version_t version;
} mk_digest_item_t;
/* The digest of signed, non-stale entries including the local one, PeerId order, into a malloc'd array
 * (*out, free it); returns the count (0 with *out NULL on ENOMEM or when empty). */
size_t mk_store_digest(const mk_store_t *s, int64_t now_ms, mk_digest_item_t **out);

#endif
