/* fuzz/fuzz_streams_producer_session.c — what a consumer may send a producer (spec 30 §11): the input
 * is cut into frames by the link framer and fed to the acceptor and producer channel (streams/accept)
 * over a fake lookup whose answers come from byte 0. It never crashes and keeps no memory; the first
 * data frame decides — accepted only for a well-formed Subscribe of our network when every lookup
 * passes, otherwise closed with the code of the first failing check (400, 101, 10_404, 401, 10_403,
 * 10_509) having asked nothing past it; after acceptance any frame closes with 400; once closed,
 * nothing more happens. */
#include "fuzz/fuzz_check.h"
#include "mosaik/network.h"
#include "net/framer.h"
#include "streams/accept.h"
#include "streams/wire.h"

#include <string.h>

typedef struct facts {
    bool pass[4];  /* stream, known, allowed, capacity */
    int asked;
} facts_t;
static bool f_stream(void *ctx, const mk_id_t *s) {
    (void)s;
    facts_t *f = ctx;
    CHECK(f->asked++ == 0);
    return f->pass[0];
}
static bool f_known(void *ctx, const mk_id_t *s) {
    (void)s;
    facts_t *f = ctx;
    CHECK(f->asked++ == 1);
    return f->pass[1];
}
static bool f_allowed(void *ctx, const mk_id_t *s, const char **why) {
    (void)s;
    facts_t *f = ctx;
    CHECK(f->asked++ == 2);
    if (!f->pass[2]) *why = "ticket expired";
    return f->pass[2];
}
static bool f_capacity(void *ctx, const mk_id_t *s) {
    (void)s;
    facts_t *f = ctx;
    CHECK(f->asked++ == 3);
    return f->pass[3];
}
static const mk_accept_ops_t OPS = {f_stream, f_known, f_allowed, f_capacity};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    mk_id_t net;
    for (int i = 0; i < 32; i++) net.b[i] = data[0] & 0x10 ? (uint8_t)i : 0xA5;  /* the §6 vectors' network */
    facts_t facts = {.pass = {data[0] & 1, data[0] & 2, data[0] & 4, data[0] & 8}};
    mk_chan_p_t ch;
    mk_chan_p_init(&ch);
    mk_framer_t f;
    mk_framer_init(&f, 1u << 20);
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    int frames = 0;
    for (;;) {
        mk_framed_t fr;
        mk_error_t e;
        if (mk_framer_feed(&f, &p, &left, &fr, &e) != 1) break;
        if (fr.hdr.control) continue;
        mk_chan_p_phase_t before = ch.phase;
        facts.asked = 0;
        mk_chan_p_action_t a;
        mk_chan_p_frame(&ch, &net, fr.body, fr.hdr.len, &OPS, &facts, &a);
        frames++;
        if (before == MK_CHAN_P_CLOSED) {
            CHECK(!a.accepted && a.close_code == 0 && facts.asked == 0 && ch.phase == MK_CHAN_P_CLOSED);
            continue;
        }
        if (before == MK_CHAN_P_CONNECTED) {
            CHECK(!a.accepted && a.close_code == MK_CLOSE_PROTOCOL_VIOLATION && facts.asked == 0);
            CHECK(ch.phase == MK_CHAN_P_CLOSED);
            continue;
        }
        /* the first frame: the independent reading */
        mk_smsg_t m;
        bool ok = mk_smsg_decode(fr.body, fr.hdr.len, &m, NULL) == MK_OK && m.kind == MK_SMSG_SUBSCRIBE;
        uint32_t want = 0;
        int want_asked = 0;
        if (!ok) want = MK_CLOSE_PROTOCOL_VIOLATION;
        else if (!mk_id_eq(&m.network, &net)) want = MK_CLOSE_DIFFERENT_NETWORK;
        else {
            static const uint32_t CODES[4] = {MK_CLOSE_STREAM_NOT_FOUND, MK_CLOSE_UNKNOWN_PEER, MK_CLOSE_STREAM_NOT_ALLOWED,
                                              MK_CLOSE_STREAM_NO_CAPACITY};
            for (int i = 0; i < 4 && !want; i++) {
                want_asked = i + 1;
                if (!facts.pass[i]) want = CODES[i];
            }
        }
        CHECK(facts.asked == want_asked);
        if (want) {
            CHECK(!a.accepted && a.close_code == want && a.why && a.why[0] && ch.phase == MK_CHAN_P_CLOSED);
        } else {
            CHECK(a.accepted && a.close_code == 0 && mk_id_eq(&a.stream, &m.stream) && ch.phase == MK_CHAN_P_CONNECTED);
        }
    }
    mk_framer_free(&f);
    CHECK(frames > 0 || ch.phase == MK_CHAN_P_AWAIT_SUBSCRIBE);
    return 0;
}
