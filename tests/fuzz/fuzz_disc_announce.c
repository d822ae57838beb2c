/* fuzz/fuzz_disc_announce.c — announce, ping and sync frame decoders (spec 20 §3.6, §4, §5): no crash,
 * views stay inside the frame, limits hold, and accepted Entries/Depart frames re-encode identically. */
#include "discovery/wire.h"
#include "fuzz/fuzz_check.h"

#include <string.h>

static void inside(mk_bytes_t v, const uint8_t *data, size_t size) {
    if (!v.len) return;
    CHECK((const uint8_t *)v.ptr >= data && (const uint8_t *)v.ptr + v.len <= data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mk_wire_msg_t m;
    mk_error_t err;
    if (mk_wire_decode_announce(data, size, &m, &err) == MK_OK) {
        CHECK(m.kind < MK_WIRE_ANNOUNCE_TAGS);
        CHECK(m.nsample <= MK_WIRE_SAMPLE_MAX);
        inside(m.entry, data, size);
        for (size_t i = 0; i < m.nsample; i++) inside(m.sample[i], data, size);
        for (size_t i = 0; i < m.nentries; i++) inside(m.entries[i], data, size);
        if (m.kind == MK_WIRE_DEPART) {
            mk_buf_t out = MK_BUF_INIT;
            CHECK(mk_wire_encode_depart(m.entry, &out) == MK_OK);
            CHECK(out.len == size && memcmp(out.ptr, data, size) == 0);
            mk_buf_free(&out);
        }
        mk_wire_msg_free(&m);
    }
    mk_network_id_t net;
    uint64_t nonce;
    mk_bytes_t entry;
    if (mk_wire_decode_ping(data, size, &net, &nonce, &err) == MK_OK) {
        mk_buf_t out = MK_BUF_INIT;
        CHECK(mk_wire_encode_ping(&net, nonce, &out) == MK_OK);
        CHECK(out.len == size && memcmp(out.ptr, data, size) == 0);
        mk_buf_free(&out);
    }
    if (mk_wire_decode_pong(data, size, &nonce, &entry, &err) == MK_OK) inside(entry, data, size);
    return 0;
}
