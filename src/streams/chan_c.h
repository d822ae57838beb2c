/* streams/chan_c.h — the consumer side of one stream channel as a pure state machine (spec 30 §2.3,
 * §6, §9): after our Subscribe, frames from the producer go in, one action comes out per frame —
 * the channel was accepted, a datum to deliver, a Dropped count, or a close with its code. No I/O,
 * no clock, no allocation; the I/O glue (consumer.c) and fuzz_streams_consumer_session drive it. */
#ifndef MK_STREAMS_CHAN_C_H
#define MK_STREAMS_CHAN_C_H

#include "mosaik/core.h"
#include "mosaik/id.h"

#include <stdint.h>

typedef enum { MK_CHAN_C_AWAIT_ACCEPTED = 0, MK_CHAN_C_CONNECTED, MK_CHAN_C_CLOSED } mk_chan_c_phase_t;

typedef struct mk_chan_c {
    mk_chan_c_phase_t phase;
    mk_id_t network, stream;   /* what our Subscribe asked for */
    uint64_t datums, bytes, dropped;
} mk_chan_c_t;

typedef enum {
    MK_CHAN_C_NONE = 0,        /* nothing to do (frames after a close) */
    MK_CHAN_C_ACCEPTED,        /* the producer accepted: the channel is Connected */
    MK_CHAN_C_DATUM,           /* deliver .datum (a view into the frame) */
    MK_CHAN_C_DROPPED,         /* the producer dropped .dropped datums for us */
    MK_CHAN_C_CLOSE,           /* close the link with .close_code (.why names the cause); park */
} mk_chan_c_action_kind_t;

typedef struct mk_chan_c_action {
    mk_chan_c_action_kind_t kind;
    mk_bytes_t datum;
    uint64_t dropped;
    uint32_t close_code;       /* 400, 101 or 10_404 */
    const char *why;           /* static text */
} mk_chan_c_action_t;

/* A channel whose Subscribe for (network, stream) was just sent. */
void mk_chan_c_init(mk_chan_c_t *c, const mk_id_t *network, const mk_id_t *stream);
/* One data frame's payload from the producer; fills *out. Pure. */
void mk_chan_c_frame(mk_chan_c_t *c, const uint8_t *p, size_t n, mk_chan_c_action_t *out);

#endif
