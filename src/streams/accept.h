/* streams/accept.h — the producer side of one stream channel, sans-I/O (spec 30 §2.2, §6, §9): the
 * acceptor decides a consumer's Subscribe over a lookup interface, checking in the spec's order —
 * network (101), stream (10_404), peer known (401), require predicates and tickets (10_403),
 * capacity (10_509) — and once accepted any further frame is a protocol violation (400). No I/O, no
 * clock, no allocation; sink.c and fuzz_streams_producer_session drive it. */
#ifndef MK_STREAMS_ACCEPT_H
#define MK_STREAMS_ACCEPT_H

#include "mosaik/core.h"
#include "mosaik/id.h"

#include <stdbool.h>
#include <stdint.h>

/* What the acceptor asks, in this order, each only if the previous passed. why: static text. */
typedef struct mk_accept_ops {
    bool (*has_stream)(void *ctx, const mk_id_t *stream);
    bool (*peer_known)(void *ctx, const mk_id_t *stream);
    bool (*allowed)(void *ctx, const mk_id_t *stream, const char **why);  /* predicates, then tickets */
    bool (*has_capacity)(void *ctx, const mk_id_t *stream);
} mk_accept_ops_t;

typedef enum { MK_CHAN_P_AWAIT_SUBSCRIBE = 0, MK_CHAN_P_CONNECTED, MK_CHAN_P_CLOSED } mk_chan_p_phase_t;

typedef struct mk_chan_p {
    mk_chan_p_phase_t phase;
    mk_id_t stream;           /* once connected */
} mk_chan_p_t;

typedef struct mk_chan_p_action {
    uint32_t close_code;      /* 0 = accepted (send Accepted for .stream) or nothing to do */
    bool accepted;
    mk_id_t stream;
    const char *why;          /* static text when closing */
} mk_chan_p_action_t;

void mk_chan_p_init(mk_chan_p_t *c);
/* One data frame's payload from the consumer; fills *out. Pure apart from the lookups. */
void mk_chan_p_frame(mk_chan_p_t *c, const mk_id_t *our_network, const uint8_t *p, size_t n, const mk_accept_ops_t *ops,
                     void *ctx, mk_chan_p_action_t *out);

#endif
