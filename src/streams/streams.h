/* streams/streams.h — installing the streams subsystem into a network (called by node.c). */
#ifndef MK_STREAMS_STREAMS_H
#define MK_STREAMS_STREAMS_H

#include "mosaik/network.h"

/* Caller thread, before mk_net_start: registers /mosaik/streams/1.0 and the subsystem hooks. */
int mk_streams_install(mk_network_t *n, const mk_streams_config_t *cfg, mk_error_t *e);

#ifdef MK_TEST_HOOKS
/* Test hook: cuts the sockets of every consumer link of n without a close frame (both ends see 103). */
void mk_streams_test_cut(mk_network_t *n);
#endif

#endif
