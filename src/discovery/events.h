/* discovery/events.h — the peer-event ring (spec 20 §2.3): one bounded ring per network filled on the
 * loop, read by subscriptions on any thread with lag reporting. The public mk_discovery_events_*
 * readers are implemented in events.c. */
#ifndef MK_DISCOVERY_EVENTS_H
#define MK_DISCOVERY_EVENTS_H

#include "discovery/entry.h"

typedef struct mk_event_ring mk_event_ring_t;

mk_event_ring_t *mk_event_ring_new(uint32_t capacity);
void mk_event_ring_unref(mk_event_ring_t *r);  /* NULL ok */
/* loop: appends an event (entry: new reference taken; may be NULL), wakes readers, runs callbacks. */
void mk_event_ring_push(mk_event_ring_t *r, mk_peer_event_kind_t kind, const mk_peer_id_t *peer,
                        const mk_peer_entry_t *entry, bool content_changed, mk_depart_reason_t reason);
/* No more events: readers drain what is left, then get MK_ETERMINATED. Idempotent. */
void mk_event_ring_close(mk_event_ring_t *r);
/* A subscription that sees only events pushed after this call. */
mk_discovery_events_t *mk_event_ring_subscribe(mk_event_ring_t *r, mk_error_t *e);

#endif
