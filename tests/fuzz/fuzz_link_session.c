/* fuzz/fuzz_link_session.c — the sans-I/O link session (net/session.h) fed events in any order: the input is
 * read as a sequence of events (data, Hello with fuzzed version/network/max_frame, Close with fuzzed code and
 * reason bytes, violation, handshake timeout, transport end, local close, send-limit query). Each action must
 * match a small reference model of the state table; once CLOSED the session stays closed, later events do
 * nothing and the recorded code/side/reason never change; every SEND_CLOSE/ENDED code is a §4.9 link code
 * (100–104, 200, 204, 400) or the code that was fed in; reasons stay NUL-terminated within 256 bytes. */
#include "net/session.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_check.h"

#define LOCAL_LIMIT 4096u

typedef struct {
    const uint8_t *p;
    size_t n;
} input_t;

static uint8_t take_u8(input_t *in) {
    if (in->n == 0) return 0;
    in->n--;
    return *in->p++;
}

static uint32_t take_u32(input_t *in) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = v << 8 | take_u8(in);
    return v;
}

static bool is_link_code(uint32_t c) {
    return (c >= 100 && c <= 104) || c == 200 || c == 204 || c == 400;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    input_t in = {data, size};
    mk_network_id_t ours = mk_id_from_str("fuzz-net"), other = mk_id_from_str("fuzz-other");
    mk_link_session_t s;
    mk_sess_init(&s, &ours, LOCAL_LIMIT);
    uint32_t fed_code = 0;  /* the code of the last Close received or local close requested */
    bool fed = false;
    bool was_closed = false;
    mk_link_session_t at_close;
    memset(&at_close, 0, sizeof at_close);

    while (in.n > 0) {
        mk_sess_state_t before = s.state;
        mk_sess_action_kind_t want = MK_SESS_NONE;
        uint32_t want_code = 0;
        bool want_remote = false;
        mk_sess_action_t a;
        uint8_t op = take_u8(&in) % 8;
        switch (op) {
        case 0:
            a = mk_sess_on_data(&s);
            if (before == MK_SESS_OPEN) want = MK_SESS_DELIVER;
            else if (before == MK_SESS_HANDSHAKE) want = MK_SESS_SEND_CLOSE, want_code = 400;
            break;
        case 1: {
            uint8_t flags = take_u8(&in);
            uint32_t version = flags & 1 ? take_u32(&in) : (uint32_t)(flags >> 4);
            uint32_t max_frame = take_u32(&in);
            const mk_network_id_t *net = flags & 2 ? &other : &ours;
            a = mk_sess_on_hello(&s, version, net, max_frame);
            if (before == MK_SESS_OPEN) want = MK_SESS_SEND_CLOSE, want_code = 400;
            else if (before == MK_SESS_HANDSHAKE) {
                if (version == 0 || max_frame == 0) want = MK_SESS_SEND_CLOSE, want_code = 400;
                else if (net == &other) want = MK_SESS_SEND_CLOSE, want_code = 101;
                else want = MK_SESS_OPENED;
            }
            if (a.kind == MK_SESS_OPENED) {
                CHECK(s.peer_max_frame == max_frame);
                CHECK(s.version >= 1 && s.version <= MK_LINK_VERSION);
            }
            break;
        }
        case 2: {
            uint32_t code = take_u32(&in);
            uint8_t len = take_u8(&in);
            char reason[300];
            size_t rlen = len;
            for (size_t i = 0; i < rlen; i++) reason[i] = (char)take_u8(&in);
            if (len & 1) rlen += 40;  /* sometimes over the 256-byte cap */
            for (size_t i = len; i < rlen; i++) reason[i] = 'r';
            if (before != MK_SESS_CLOSED) fed_code = code, fed = true;
            a = mk_sess_on_close(&s, code, reason, rlen);
            if (before != MK_SESS_CLOSED) want = MK_SESS_ENDED, want_code = code, want_remote = true;
            break;
        }
        case 3:
            a = mk_sess_on_violation(&s, "frame", "fuzzed violation");
            if (before != MK_SESS_CLOSED) want = MK_SESS_SEND_CLOSE, want_code = 400;
            break;
        case 4:
            a = mk_sess_on_handshake_timeout(&s);
            if (before == MK_SESS_HANDSHAKE) want = MK_SESS_SEND_CLOSE, want_code = 104;
            break;
        case 5:
            a = mk_sess_on_transport_end(&s, take_u8(&in) & 1 ? NULL : "EOF");
            if (before != MK_SESS_CLOSED) want = MK_SESS_ENDED, want_code = 103;
            break;
        case 6: {
            uint32_t code = take_u32(&in);
            if (before != MK_SESS_CLOSED) fed_code = code, fed = true;
            a = mk_sess_local_close(&s, code, "local");
            if (before != MK_SESS_CLOSED) want = MK_SESS_SEND_CLOSE, want_code = code;
            break;
        }
        default:
            memset(&a, 0, sizeof a);
            CHECK(mk_sess_send_limit(&s) == (s.peer_max_frame ? s.peer_max_frame : LOCAL_LIMIT));
            if (s.state == MK_SESS_HANDSHAKE) CHECK(mk_sess_send_limit(&s) == LOCAL_LIMIT);
            break;
        }

        CHECK(a.kind == want);
        CHECK(memchr(a.reason, 0, sizeof a.reason) != NULL);
        CHECK(memchr(s.close_reason, 0, sizeof s.close_reason) != NULL);
        if (a.kind == MK_SESS_SEND_CLOSE || a.kind == MK_SESS_ENDED) {
            CHECK(a.code == want_code);
            CHECK(a.remote == want_remote);
            CHECK(is_link_code(a.code) || (fed && a.code == fed_code));
            CHECK(s.state == MK_SESS_CLOSED);
            CHECK(s.close_code == a.code && s.close_remote == a.remote);
            CHECK(strcmp(s.close_reason, a.reason) == 0);
            CHECK(strlen(a.reason) <= MK_CLOSE_REASON_MAX);
        }
        if (was_closed) {
            CHECK(s.state == MK_SESS_CLOSED);
            CHECK(a.kind == MK_SESS_NONE);
            CHECK(s.close_code == at_close.close_code && s.close_remote == at_close.close_remote);
            CHECK(memcmp(s.close_reason, at_close.close_reason, sizeof s.close_reason) == 0);
        } else if (s.state == MK_SESS_CLOSED) {
            was_closed = true;
            at_close = s;
        }
        if (before == MK_SESS_OPEN) CHECK(s.state != MK_SESS_HANDSHAKE);
        if (s.state == MK_SESS_OPEN) CHECK(s.peer_max_frame != 0);
    }
    return 0;
}
