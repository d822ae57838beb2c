/* streams/streams.h — installing the streams subsystem into a network (called by node.c). */
#ifndef MK_STREAMS_STREAMS_H
#define MK_STREAMS_STREAMS_H

#include "mosaik/network.h"

/* Caller thread, before mk_net_start: registers /mosaik/streams/1.0 and the subsystem hooks. */
int mk_streams_install(mk_network_t *n, const mk_streams_config_t *cfg, mk_error_t *e);

#ifdef MK_TEST_HOOKS
/* Test hook: cuts the sockets of every consumer link of n without a close frame (both ends see 103). */
void mk_streams_test_cut(mk_network_t *n);
/* Test hook: writes payload as one raw data frame (no encoding, no checks) to the link of every
 * Connected channel of n's sink for stream, on the loop thread — a hostile producer. Returns the
 * number of links written, or a negative MK_E* code (the first failed write, or the loop's). */
int mk_streams_test_inject(mk_network_t *n, const mk_id_t *stream, const void *payload, size_t len);
#endif

#endif
