/* tee/tdx/network.h — installs the TDX extension of a network (spec 60 §9; the public calls are in
 * mosaik/tdx.h). Used by node.c only. */
#ifndef MK_TEE_TDX_NETWORK_H
#define MK_TEE_TDX_NETWORK_H

#include "mosaik/tdx.h"

/* Installs the extension before the network starts; provider NULL = configfs-tsm on first use
 * (borrowed otherwise). */
int mk_tdx_net_install(mk_network_t *n, mk_tdx_provider_t *provider, mk_error_t *e);
/* Stops and joins the refresh thread; called before the network is freed, not on its loop thread. */
void mk_tdx_net_shutdown(mk_network_t *n);

#endif
