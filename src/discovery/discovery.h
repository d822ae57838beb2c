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
/* True once the network began shutting down (loop thread). */
bool mk_disc_stopping(const mk_disc_t *d);

#endif
