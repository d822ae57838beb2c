/* support/mkt_disc.h — discovery fixtures for integration tests: nodes with fast test timings, one
 * bootstrap contact, waits for complete catalogs, overlay checks, and killing a node without a
 * departure (spec 20 §11 helpers). */
#ifndef MKT_DISC_H
#define MKT_DISC_H

#include "support/mkt_net.h"

/* Test timings: announce 1 s, purge 10 s, gossip flush 100 ms, sync 5 s, shuffle 5 s, probes 1 s. */
void mkt_disc_fast(mk_network_config_t *cfg);
/* A node with mkt_disc_fast timings, bootstrapping from `contact` (an address string, or NULL),
 * then `tweak` (may be NULL). Fails the test on error. */
mk_network_t *mkt_disc_node(const char *contact, void (*tweak)(mk_network_config_t *cfg));
/* The node's address string "<hex>@127.0.0.1:port" (static buffer per call site: copy it). */
void mkt_disc_addr(mk_network_t *n, char *buf, size_t cap);
/* Number of peers in the node's current catalog view. */
size_t mkt_disc_count(mk_network_t *n);
/* True when every node's catalog holds exactly the other n − 1 nodes. */
bool mkt_disc_complete(mk_network_t *const *nets, size_t n);
/* Waits ≤ T(secs) for complete catalogs; on failure prints each node's count and fails the test. */
void mkt_disc_wait_complete(mk_network_t *const *nets, size_t n, double secs);
/* True when the union of active views connects all n nodes (BFS from node 0). */
bool mkt_disc_overlay_connected(mk_network_t *const *nets, size_t n);
/* The entry of `peer` in n's current catalog (new reference) or NULL. */
const mk_peer_entry_t *mkt_disc_entry(mk_network_t *n, const mk_peer_id_t *peer);
/* Starts n nodes (n ≤ cap of nets) that all bootstrap from nets[0] and waits ≤ T(5) for complete
 * catalogs; the contact address goes to boot (MK_ADDR_STR_MAX bytes) when boot is not NULL. */
void mkt_disc_cluster(mk_network_t **nets, size_t n, char *boot);
/* Frees nets[0..n) (NULL entries skipped) and sets them to NULL. */
void mkt_disc_free_all(mk_network_t **nets, size_t n);
/* Frees a node without a departure or Close frames (sockets cut), like a crash. */
void mkt_network_kill(mk_network_t *n);
/* Waits ≤ T(secs) for an event of `kind` about `peer` on s (other events are skipped); fills *out
 * (clear it with mk_peer_event_clear). Returns false on timeout. */
bool mkt_disc_wait_event(mk_discovery_events_t *s, mk_peer_event_kind_t kind, const mk_peer_id_t *peer,
                         double secs, mk_peer_event_t *out);

#endif
