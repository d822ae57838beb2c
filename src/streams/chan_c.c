/* streams/chan_c.c — the consumer channel's frame rules, sans-I/O (see chan_c.h). The first frame
 * must be an Accepted echoing our network and stream; then only Datum and Dropped may follow.
 * Anything else closes: 400 for a malformed or out-of-place frame, 101 for another network, 10_404
 * for another stream. */
#include "streams/chan_c.h"

#include "mosaik/network.h"
#include "streams/wire.h"

#include <string.h>

void mk_chan_c_init(mk_chan_c_t *c, const mk_id_t *network, const mk_id_t *stream) {
    memset(c, 0, sizeof *c);
    c->phase = MK_CHAN_C_AWAIT_ACCEPTED;
    c->network = *network;
    c->stream = *stream;
}

static void close_with(mk_chan_c_t *c, uint32_t code, const char *why, mk_chan_c_action_t *out) {
    c->phase = MK_CHAN_C_CLOSED;
    out->kind = MK_CHAN_C_CLOSE;
    out->close_code = code;
    out->why = why;
}

void mk_chan_c_frame(mk_chan_c_t *c, const uint8_t *p, size_t n, mk_chan_c_action_t *out) {
    memset(out, 0, sizeof *out);
    if (c->phase == MK_CHAN_C_CLOSED) return;
    mk_smsg_t m;
    if (mk_smsg_decode(p, n, &m, NULL) != MK_OK) {
        close_with(c, MK_CLOSE_PROTOCOL_VIOLATION, "malformed stream message from the producer", out);
        return;
    }
    if (c->phase == MK_CHAN_C_AWAIT_ACCEPTED) {
        if (m.kind != MK_SMSG_ACCEPTED) close_with(c, MK_CLOSE_PROTOCOL_VIOLATION, "the first frame must be Accepted", out);
        else if (!mk_id_eq(&m.network, &c->network))
            close_with(c, MK_CLOSE_DIFFERENT_NETWORK, "Accepted for another network", out);
        else if (!mk_id_eq(&m.stream, &c->stream)) close_with(c, MK_CLOSE_STREAM_NOT_FOUND, "Accepted for another stream", out);
        else {
            c->phase = MK_CHAN_C_CONNECTED;
            out->kind = MK_CHAN_C_ACCEPTED;
        }
        return;
    }
    switch (m.kind) {
    case MK_SMSG_DATUM:
        c->datums++;
        c->bytes += m.datum.len;
        out->kind = MK_CHAN_C_DATUM;
        out->datum = m.datum;
        return;
    case MK_SMSG_DROPPED:
        c->dropped += m.dropped;
        out->kind = MK_CHAN_C_DROPPED;
        out->dropped = m.dropped;
        return;
    default: close_with(c, MK_CLOSE_PROTOCOL_VIOLATION, "unexpected message after Accepted", out); return;
    }
}
