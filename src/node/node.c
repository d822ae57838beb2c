/* node/node.c — the public constructor and destructor of a node: builds the network (net), installs
 * the subsystems above it (discovery, streams, groups, the TDX extension) and starts the loop, so that a
 * returned network is online with every handler installed. The only module that calls upward-facing
 * installers; nothing calls into it. */
#include "discovery/discovery.h"
#include "groups/groups.h"
#include "net/net.h"
#include "streams/streams.h"
#ifdef MK_WITH_TDX
#include "tee/tdx/network.h"
#endif

mk_network_t *mk_network_new(const mk_network_config_t *cfg, mk_error_t *e) {
    mk_network_t *n = mk_net_new(cfg, e);
    if (!n) return NULL;
    if (mk_discovery_install(n, &cfg->discovery, e) != MK_OK || mk_streams_install(n, &cfg->streams, e) != MK_OK ||
        mk_groups_install(n, &cfg->groups, e) != MK_OK ||
#ifdef MK_WITH_TDX
        mk_tdx_net_install(n, cfg->tdx_provider, e) != MK_OK ||
#endif
        mk_net_start(n, e) != MK_OK) {
        mk_net_free(n);
        return NULL;
    }
    return n;
}

void mk_network_free(mk_network_t *n) {
#ifdef MK_WITH_TDX
    if (n) mk_tdx_net_shutdown(n);  /* the refresh thread may wait for the loop: joined while it runs */
#endif
    mk_net_free(n);
}
