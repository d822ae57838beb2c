/* fuzz/fuzz_streams_consumer_session.c — what a producer may send a consumer after its Subscribe (spec
 * 30 §11): the input is cut into frames by the link framer and fed to the consumer channel's state
 * machine (streams/chan_c). It never crashes and keeps no memory; it ends Connected, still waiting,
 * or closed with a code of §6 (400, 101, 10_404) and stays closed; the datums it hands out are
 * exactly the Datum frames that followed a valid Accepted, in order, as an independent reading of
 * the frames finds them. Byte 0 picks whether the expected ids are the golden ones. */
#include "fuzz/fuzz_check.h"
#include "mosaik/network.h"
#include "net/framer.h"
#include "streams/chan_c.h"
#include "streams/wire.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    mk_id_t net, stream;
    for (int i = 0; i < 32; i++) {  /* the ids of the §6 vectors, or ones no input carries by chance */
        net.b[i] = data[0] & 1 ? (uint8_t)i : 0xA5;
        stream.b[i] = data[0] & 1 ? (uint8_t)(0x20 + i) : 0x5A;
    }
    mk_chan_c_t ch;
    mk_chan_c_init(&ch, &net, &stream);
    mk_framer_t f;
    mk_framer_init(&f, 1u << 20);
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    bool model_connected = false, model_closed = false;
    uint64_t model_datums = 0, model_bytes = 0, model_dropped = 0, got = 0;
    for (;;) {
        mk_framed_t fr;
        mk_error_t e;
        int rc = mk_framer_feed(&f, &p, &left, &fr, &e);
        if (rc != 1) break;
        if (fr.hdr.control) continue;  /* link control frames never reach the channel */
        mk_chan_c_action_t a;
        bool was_closed = ch.phase == MK_CHAN_C_CLOSED;
        mk_chan_c_frame(&ch, fr.body, fr.hdr.len, &a);
        if (was_closed) {
            CHECK(a.kind == MK_CHAN_C_NONE && ch.phase == MK_CHAN_C_CLOSED);
            continue;
        }
        /* the independent reading */
        mk_smsg_t m;
        bool ok = mk_smsg_decode(fr.body, fr.hdr.len, &m, NULL) == MK_OK;
        if (!model_connected) {
            bool accept = ok && m.kind == MK_SMSG_ACCEPTED && mk_id_eq(&m.network, &net) && mk_id_eq(&m.stream, &stream);
            if (accept) {
                CHECK(a.kind == MK_CHAN_C_ACCEPTED && ch.phase == MK_CHAN_C_CONNECTED);
                model_connected = true;
            } else {
                CHECK(a.kind == MK_CHAN_C_CLOSE && ch.phase == MK_CHAN_C_CLOSED && a.why && a.why[0]);
                uint32_t want = !ok || m.kind != MK_SMSG_ACCEPTED ? MK_CLOSE_PROTOCOL_VIOLATION
                                : !mk_id_eq(&m.network, &net)     ? MK_CLOSE_DIFFERENT_NETWORK
                                                                  : MK_CLOSE_STREAM_NOT_FOUND;
                CHECK(a.close_code == want);
                model_closed = true;
            }
            continue;
        }
        if (ok && m.kind == MK_SMSG_DATUM) {
            CHECK(a.kind == MK_CHAN_C_DATUM);
            CHECK(a.datum.len == fr.hdr.len - 1 && (a.datum.len == 0 || a.datum.ptr == fr.body + 1));
            model_datums++;
            model_bytes += a.datum.len;
            got++;
        } else if (ok && m.kind == MK_SMSG_DROPPED) {
            CHECK(a.kind == MK_CHAN_C_DROPPED && a.dropped == m.dropped && a.dropped >= 1);
            model_dropped += m.dropped;
        } else {
            CHECK(a.kind == MK_CHAN_C_CLOSE && a.close_code == MK_CLOSE_PROTOCOL_VIOLATION);
            model_closed = true;
        }
    }
    mk_framer_free(&f);
    CHECK(ch.datums == model_datums && got == model_datums);
    CHECK(ch.bytes == model_bytes && ch.dropped == model_dropped);
    CHECK(model_closed ? ch.phase == MK_CHAN_C_CLOSED
                       : ch.phase == (model_connected ? MK_CHAN_C_CONNECTED : MK_CHAN_C_AWAIT_ACCEPTED));
    return 0;
}
