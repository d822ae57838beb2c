/* discovery/catalog.h — catalog snapshots (spec 20 §2.1): immutable refcounted views of the catalog
 * built on the loop and read from any thread; the publisher holding the newest one; watches that wake
 * on new snapshots (§2.3). The public mk_catalog_* readers are implemented in catalog.c. */
#ifndef MK_DISCOVERY_CATALOG_H
#define MK_DISCOVERY_CATALOG_H

#include "discovery/entry.h"
#include "discovery/rtt.h"

typedef struct mk_catalog_params {
    uint64_t seq;
    uint32_t purge_after_ms;
    uint32_t max_rtt_ms;     /* 0 = no RTT filter */
    mk_rtt_tracker_t *rtt;   /* referenced by the snapshot (may be NULL) */
} mk_catalog_params_t;

/* Builds a snapshot of n entries sorted by PeerId (each gets a reference) and the local entry. The
 * peers with a known SRTT above max_rtt at build time are marked hidden. MK_OK or MK_ENOMEM. */
int mk_catalog_build(const mk_peer_entry_t *const *sorted, size_t n, const mk_peer_entry_t *local,
                     const mk_catalog_params_t *p, mk_catalog_t **out);
/* Test hook: a fixed "now" (wall ms) for the staleness checks of this snapshot; 0 = the real clock. */
void mk_catalog_set_now(mk_catalog_t *c, int64_t now_ms);

typedef struct mk_catalog_pub mk_catalog_pub_t;
mk_catalog_pub_t *mk_catalog_pub_new(void);
void mk_catalog_pub_unref(mk_catalog_pub_t *p);  /* NULL ok */
/* loop: makes snap current (takes the caller's reference) and wakes every watch. */
void mk_catalog_pub_publish(mk_catalog_pub_t *p, mk_catalog_t *snap);
/* Any thread: the current snapshot (new reference), NULL once closed. */
mk_catalog_t *mk_catalog_pub_current(mk_catalog_pub_t *p);
/* The network is stopping: waits end with MK_ETERMINATED, current() returns NULL. Idempotent. */
void mk_catalog_pub_close(mk_catalog_pub_t *p);
/* A watch on the publisher; the current snapshot counts as seen. */
mk_catalog_watch_t *mk_catalog_watch_new(mk_catalog_pub_t *p, mk_error_t *e);

#endif
