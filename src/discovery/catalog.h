/* discovery/catalog.h — catalog snapshots (spec 20 §2.1): immutable refcounted views of the catalog
 * built on the loop and read from any thread; the publisher holding the newest one; watches that wake
 * on new snapshots (§2.3). The public mk_catalog_* and mk_peer_info_* functions of
 * include/mosaik/discovery.h are implemented in catalog.c.
 *
 * Visibility: the peer view of a snapshot never holds the local node; a signed entry is visible while
 * update + purge_after ≥ now (wall clock read at call time, so an old snapshot stops showing a peer
 * that went stale since); a peer whose SRTT was known and above max_rtt when the snapshot was built is
 * hidden unless MK_CAT_IGNORE_MAX_RTT. Nothing else about a snapshot ever changes. */
#ifndef MK_DISCOVERY_CATALOG_H
#define MK_DISCOVERY_CATALOG_H

#include "discovery/entry.h"
#include "discovery/rtt.h"

/* ---- snapshots ---- */

typedef struct mk_catalog_params {
    uint64_t seq;            /* grows with every snapshot of a publisher, first one ≥ 1 */
    uint32_t purge_after_ms;
    uint32_t max_rtt_ms;     /* 0 = no RTT filter */
    mk_rtt_tracker_t *rtt;   /* referenced by the snapshot for live RTT (may be NULL = no samples) */
} mk_catalog_params_t;

/* Builds a snapshot of the n entries of `sorted` (strictly ascending PeerId; each gets a reference;
 * an entry of the local peer is left out) and the local entry (referenced; may be NULL). Peers whose
 * SRTT is known and above max_rtt now are marked hidden. O(n) (+ one RTT lookup per entry with
 * max_rtt). MK_OK + *out (one reference) or MK_ENOMEM. */
int mk_catalog_build(const mk_peer_entry_t *const *sorted, size_t n, const mk_peer_entry_t *local,
                     const mk_catalog_params_t *p, mk_catalog_t **out);

/* The public readers with an explicit wall-clock `now_ms` instead of mk_unix_ms() (tests, and callers
 * that already read the clock). Same contracts as mk_catalog_count / _get / _peer_info / _iter_init. */
size_t mk_catalog_count_at(const mk_catalog_t *c, int64_t now_ms);
const mk_peer_entry_t *mk_catalog_get_at(const mk_catalog_t *c, const mk_peer_id_t *peer, int64_t now_ms);
int mk_catalog_peer_info_at(const mk_catalog_t *c, const mk_peer_id_t *peer, int64_t now_ms, mk_peer_info_t *out);
void mk_catalog_iter_init_at(mk_catalog_iter_t *it, const mk_catalog_t *c, unsigned flags, int64_t now_ms);

/* How many peer entries the snapshot holds, visible or not (local excluded). */
size_t mk_catalog_size(const mk_catalog_t *c);
/* True when the peer is in the snapshot but hidden by max_rtt (decided at build time). */
bool mk_catalog_rtt_hidden(const mk_catalog_t *c, const mk_peer_id_t *peer);

/* ---- publisher (one per network) ---- */

typedef struct mk_catalog_pub mk_catalog_pub_t;

/* A publisher without a snapshot (one reference), or NULL (out of memory). */
mk_catalog_pub_t *mk_catalog_pub_new(void);
/* Drops one reference (NULL ok). Every watch holds one, so handles outlive the network. */
void mk_catalog_pub_unref(mk_catalog_pub_t *p);
/* Declares the calling thread the loop thread: a watch wait that would block on it returns
 * MK_EDEADLK. Optional; without it no thread is refused. */
void mk_catalog_pub_bind_loop(mk_catalog_pub_t *p);
/* Loop thread: makes snap current (takes over the caller's reference; its seq must exceed the previous
 * one's), wakes waiting watches, then runs every watch callback on this thread. After close the
 * snapshot is dropped and nobody is woken. Not reentrant: one publishing thread at a time. */
void mk_catalog_pub_publish(mk_catalog_pub_t *p, mk_catalog_t *snap);
/* Any thread: the current snapshot (new reference); NULL before the first publish and once closed. */
mk_catalog_t *mk_catalog_pub_current(mk_catalog_pub_t *p);
/* The network is stopping: current() returns NULL from now on; a watch still hands out the last
 * unseen snapshot, then its waits return MK_ETERMINATED (and its fd stays readable). Idempotent. */
void mk_catalog_pub_close(mk_catalog_pub_t *p);

/* A watch on the publisher (holds a reference to it); the current snapshot counts as seen. NULL +
 * e (MK_EINVAL, MK_ENOMEM, MK_EIO for the fd) on failure. Released with mk_catalog_watch_free. */
mk_catalog_watch_t *mk_catalog_watch_new(mk_catalog_pub_t *p, mk_error_t *e);

#endif
