/* discovery/discovery.h — the discovery runtime's entry points for the rest of the library: installing
 * discovery into a network (called by src/node before the loop starts) and small loop-side queries
 * that streams and groups use (the local entry's streams/groups). */
#ifndef MK_DISCOVERY_DISCOVERY_H
#define MK_DISCOVERY_DISCOVERY_H

#include "mosaik/discovery.h"

typedef struct mk_disc mk_disc_t;

/* Validates cfg, creates the runtime, registers the three ALPNs and installs the subsystem hooks.
 * Caller thread, before mk_net_start. MK_EINVAL names the faulty "discovery.<field>". */
int mk_discovery_install(mk_network_t *n, const mk_discovery_config_t *cfg, mk_error_t *e);
/* For the streams and groups subsystems (spec 20 §6): lists (present) or unlists a stream this node
 * produces / a group it is a member of in the local entry; a no-op makes no version. MK_E2BIG at the
 * entry's limit. timeout_ms as for mk_discovery_add_tags. Any thread but the loop's when waiting. */
int mk_disc_local_stream(mk_network_t *n, const mk_id_t *stream, bool present, int timeout_ms, mk_error_t *e);
int mk_disc_local_group(mk_network_t *n, const mk_id_t *group, bool present, int timeout_ms, mk_error_t *e);
/* Loop thread: pings peer at its catalog addresses (the sample is recorded); done runs on the loop.
 * MK_ENOTFOUND without an address, MK_ECLOSED when stopping (done is then not called). */
int mk_disc_ping_peer(mk_network_t *n, const mk_peer_id_t *peer,
                      void (*done)(void *ctx, int rc, uint64_t rtt_us, const mk_error_t *e), void *ctx);
/* Loop thread: a catalog sync with peer at its catalog addresses; done (may be NULL) runs on the loop. */
int mk_disc_sync_peer(mk_network_t *n, const mk_peer_id_t *peer, void (*done)(void *ctx, int rc, const mk_error_t *e),
                      void *ctx);
/* Loop thread: merges one SignedEntry received outside discovery (a groups handshake bond list, a
 * PeerEntryUpdate) with the usual checks (spec 20 §1.4); bad or stale entries are ignored and counted. */
void mk_disc_feed_signed(mk_network_t *n, const void *p, size_t len);
/* True once the network began shutting down (loop thread). */
bool mk_disc_stopping(const mk_disc_t *d);

#ifdef MK_TEST_HOOKS
/* Test hook (spec 20 §11 mkt_rtt_record): records an RTT sample as if measured, then publishes. */
int mk_discovery_test_rtt_record(mk_network_t *n, const mk_peer_id_t *peer, uint32_t rtt_us);
/* Test hook (spec 20 §11 mkt_drop_gossip): received Entries frames are ignored while set. Any thread. */
void mk_discovery_test_drop_gossip(mk_network_t *n, bool drop);
/* Test hook: the kernel's passive RTT samples are ignored while set, so probes do the measuring. */
void mk_discovery_test_no_passive_rtt(mk_network_t *n, bool off);
#endif

#endif
