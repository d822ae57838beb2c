/* fuzz/fuzz_bond_msg.c — BondMessage (spec 40 §2.3): any bytes decode or are refused with MK_EPROTO, a
 * terminated message and a zeroed output; every view lies inside the input; a decoded message
 * re-encodes to the same bytes, which decode again to the same message. */
#include "fuzz/fuzz_check.h"
#include "groups/bond_wire.h"

#include <stdlib.h>
#include <string.h>

static int inside(mk_bytes_t v, const uint8_t *data, size_t size) {
    if (v.len == 0) return v.ptr == NULL;
    const uint8_t *b = v.ptr;
    return b >= data && b <= data + size && v.len <= (size_t)(data + size - b);
}

static int all_zero(const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1); /* exactly the input: ASan sees any overread */
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    mk_bond_msg_t m, again;
    mk_error_t e;
    int rc = mk_bond_msg_decode(copy, size, &m, &e);
    if (rc != MK_OK) {
        CHECK(rc == MK_EPROTO && e.code == MK_EPROTO && memchr(e.msg, 0, sizeof e.msg) != NULL);
        CHECK(all_zero(&m, sizeof m));
    } else {
        CHECK((unsigned)m.kind < MK_BOND_MSG_KINDS);
        CHECK(inside(m.entry, copy, size) && inside(m.payload, copy, size));
        if (m.kind == MK_BOND_PEER_ENTRY_UPDATE || m.kind == MK_BOND_BOND_FORMED) CHECK(m.entry.len >= 66);
        if (m.kind == MK_BOND_RAFT || m.kind == MK_BOND_STATE_SYNC) CHECK(m.payload.len >= 1);
        mk_buf_t b = MK_BUF_INIT;
        CHECK(mk_bond_msg_encode(&m, &b, NULL) == MK_OK);
        CHECK(b.len == size && memcmp(b.ptr, copy, size) == 0);
        CHECK(mk_bond_msg_decode(b.ptr, b.len, &again, NULL) == MK_OK && again.kind == m.kind);
        CHECK(again.entry.len == m.entry.len && again.payload.len == m.payload.len);
        CHECK(memcmp(again.peer.b, m.peer.b, 32) == 0);
        mk_buf_free(&b);
    }
    free(copy);
    return 0;
}
