/* discovery/gossip_queue.h — one active neighbour's outgoing gossip (spec 20 §3.2): the newest version
 * per peer only, urgent items flushed at once, the rest at most every flush interval. Loop-owned. */
#ifndef MK_DISCOVERY_GOSSIP_QUEUE_H
#define MK_DISCOVERY_GOSSIP_QUEUE_H

#include "discovery/entry.h"

typedef struct mk_gossip_queue mk_gossip_queue_t;

mk_gossip_queue_t *mk_gossip_queue_new(uint32_t flush_ms);
void mk_gossip_queue_free(mk_gossip_queue_t *q);  /* NULL ok */
/* Queues e (new reference) unless a newer or equal version of that peer is already queued. */
void mk_gossip_queue_push(mk_gossip_queue_t *q, const mk_peer_entry_t *e, bool urgent, int64_t now_ms);
/* True when something should go out now (an urgent item, or the oldest waited flush_ms). */
bool mk_gossip_queue_due(const mk_gossip_queue_t *q, int64_t now_ms);
/* ms until due (0 = now), -1 when empty. */
int64_t mk_gossip_queue_next_due(const mk_gossip_queue_t *q, int64_t now_ms);
/* Takes up to cap queued entries totalling ≤ max_bytes (at least one) into out (references move to the
 * caller); returns how many. */
size_t mk_gossip_queue_take(mk_gossip_queue_t *q, const mk_peer_entry_t **out, size_t cap, size_t max_bytes);
/* The neighbour showed it holds `peer` at `version` (it sent it to us): a queued copy of that peer at
 * that version or older is dropped (true), since sending it back would only be a duplicate. */
bool mk_gossip_queue_drop_known(mk_gossip_queue_t *q, const mk_peer_id_t *peer, mk_entry_version_t version);
size_t mk_gossip_queue_len(const mk_gossip_queue_t *q);

#endif
