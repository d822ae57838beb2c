/* streams/accept.c — the producer channel's handshake decision and frame rules, sans-I/O (see
 * accept.h). */
#include "streams/accept.h"

#include "mosaik/network.h"
#include "streams/wire.h"

#include <string.h>

void mk_chan_p_init(mk_chan_p_t *c) { memset(c, 0, sizeof *c); }

static void close_with(mk_chan_p_t *c, uint32_t code, const char *why, mk_chan_p_action_t *out) {
    c->phase = MK_CHAN_P_CLOSED;
    out->close_code = code;
    out->why = why;
}

void mk_chan_p_frame(mk_chan_p_t *c, const mk_id_t *our_network, const uint8_t *p, size_t n, const mk_accept_ops_t *ops,
                     void *ctx, mk_chan_p_action_t *out) {
    memset(out, 0, sizeof *out);
    if (c->phase == MK_CHAN_P_CLOSED) return;
    if (c->phase == MK_CHAN_P_CONNECTED) {
        close_with(c, MK_CLOSE_PROTOCOL_VIOLATION, "no frames are expected from a consumer after Subscribe", out);
        return;
    }
    mk_smsg_t m;
    if (mk_smsg_decode(p, n, &m, NULL) != MK_OK) {
        close_with(c, MK_CLOSE_PROTOCOL_VIOLATION, "malformed stream message from the consumer", out);
        return;
    }
    const char *why = NULL;
    if (m.kind != MK_SMSG_SUBSCRIBE) close_with(c, MK_CLOSE_PROTOCOL_VIOLATION, "the first frame must be Subscribe", out);
    else if (!mk_id_eq(&m.network, our_network)) close_with(c, MK_CLOSE_DIFFERENT_NETWORK, "another network", out);
    else if (!ops->has_stream(ctx, &m.stream)) close_with(c, MK_CLOSE_STREAM_NOT_FOUND, "no such stream here", out);
    else if (!ops->peer_known(ctx, &m.stream))
        close_with(c, MK_CLOSE_UNKNOWN_PEER, "unknown peer: sync catalogs and retry", out);
    else if (!ops->allowed(ctx, &m.stream, &why)) close_with(c, MK_CLOSE_STREAM_NOT_ALLOWED, why ? why : "not allowed", out);
    else if (!ops->has_capacity(ctx, &m.stream)) close_with(c, MK_CLOSE_STREAM_NO_CAPACITY, "no capacity", out);
    else {
        c->phase = MK_CHAN_P_CONNECTED;
        c->stream = m.stream;
        out->accepted = true;
        out->stream = m.stream;
    }
}
