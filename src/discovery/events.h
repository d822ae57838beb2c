/* discovery/events.h — the peer-event ring (spec 20 §2.3): one bounded ring of events_backlog events
 * per network, filled on the loop and shared by every subscription; each subscription keeps its own
 * cursor (the seq it reads next) and reads on any thread. A subscription whose cursor fell out of the
 * ring gets MK_ELAGGED with the number lost, once, then continues at the oldest kept event. After
 * close, pending events are still delivered; then next() returns MK_ETERMINATED. The public
 * mk_discovery_events_* and mk_peer_event_clear functions are implemented in events.c. */
#ifndef MK_DISCOVERY_EVENTS_H
#define MK_DISCOVERY_EVENTS_H

#include "discovery/entry.h"

typedef struct mk_event_ring mk_event_ring_t;

/* A ring keeping the last `capacity` events (0 counts as 1), one reference; NULL when out of memory. */
mk_event_ring_t *mk_event_ring_new(uint32_t capacity);
/* Drops one reference (NULL ok). Every subscription holds one, so handles outlive the network. */
void mk_event_ring_unref(mk_event_ring_t *r);
/* Declares the calling thread the loop thread: a next() that would block on it returns MK_EDEADLK.
 * Optional; without it no thread is refused. */
void mk_event_ring_bind_loop(mk_event_ring_t *r);
/* Loop thread: appends an event with the next seq (the first is 1; entry: a new reference is taken,
 * NULL ok), evicting the oldest when full, wakes readers, then runs every subscription's callback on
 * this thread. Returns the seq, 0 when closed (the event is dropped). One pushing thread at a time. */
uint64_t mk_event_ring_push(mk_event_ring_t *r, mk_peer_event_kind_t kind, const mk_peer_id_t *peer,
                            const mk_peer_entry_t *entry, bool content_changed, mk_depart_reason_t reason);
/* No more events: readers drain what is left, then get MK_ETERMINATED (fds stay readable). Idempotent. */
void mk_event_ring_close(mk_event_ring_t *r);
/* A subscription that sees only events pushed after this call (holds a reference to the ring). NULL +
 * e (MK_EINVAL, MK_ENOMEM, MK_EIO for the fd) on failure. Released with mk_discovery_events_free. */
mk_discovery_events_t *mk_event_ring_subscribe(mk_event_ring_t *r, mk_error_t *e);

#endif
