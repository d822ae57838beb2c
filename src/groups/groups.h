/* groups/groups.h — installing the groups subsystem into a network (called by node.c). */
#ifndef MK_GROUPS_GROUPS_H
#define MK_GROUPS_GROUPS_H

#include "mosaik/network.h"

/* Caller thread, before mk_net_start: registers /mosaik/groups/1 and the subsystem hooks. */
int mk_groups_install(mk_network_t *n, const mk_groups_config_t *cfg, mk_error_t *e);

#endif
