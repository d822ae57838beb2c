/* fuzz/fuzz_bond_handshake.c — HandshakeStart / HandshakeEnd (spec 40 §2.2): the input is tried as both.
 * Any bytes decode or are refused with MK_EPROTO, a terminated message and a zeroed output; at most
 * MK_BOND_MAX_BONDS bond views, each inside the input, back to back and at least 66 bytes; a decoded
 * handshake re-encodes to the same bytes. Each bond view is also fed to discovery's SignedEntry
 * decoder, as the runtime does next. */
#include "discovery/entry.h"
#include "fuzz/fuzz_check.h"
#include "groups/bond_wire.h"

#include <stdlib.h>
#include <string.h>

static int all_zero(const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

static mk_bond_handshake_t H, AGAIN; /* 4 KiB each: kept off the stack */

static void one(const uint8_t *copy, size_t size, bool start) {
    mk_error_t e;
    int rc = (start ? mk_bond_hs_start_decode : mk_bond_hs_end_decode)(copy, size, &H, &e);
    if (rc != MK_OK) {
        CHECK(rc == MK_EPROTO && e.code == MK_EPROTO && memchr(e.msg, 0, sizeof e.msg) != NULL);
        CHECK(all_zero(&H, sizeof H));
        return;
    }
    CHECK(H.nbonds <= MK_BOND_MAX_BONDS);
    if (!start) CHECK(all_zero(&H.network_id, 32) && all_zero(&H.group_id, 32));
    const uint8_t *end = copy + size;
    for (size_t i = 0; i < H.nbonds; i++) {
        const uint8_t *b = H.bonds[i].ptr;
        CHECK(H.bonds[i].len >= 66 && H.bonds[i].len <= MK_ENTRY_MAX_BYTES);
        CHECK(b >= copy && b < end && H.bonds[i].len <= (size_t)(end - b));
        if (i > 0) CHECK(b == (const uint8_t *)H.bonds[i - 1].ptr + H.bonds[i - 1].len);
        const mk_peer_entry_t *pe = NULL;
        mk_entry_reject_t why;
        if (mk_entry_decode_signed(b, H.bonds[i].len, &pe, &why, NULL) == MK_OK) {
            (void)mk_entry_verify(pe);
            mk_peer_entry_unref(pe);
        }
    }
    if (H.nbonds) CHECK((const uint8_t *)H.bonds[H.nbonds - 1].ptr + H.bonds[H.nbonds - 1].len == end);
    mk_buf_t out = MK_BUF_INIT;
    CHECK((start ? mk_bond_hs_start_encode : mk_bond_hs_end_encode)(&H, &out, NULL) == MK_OK);
    CHECK(out.len == size && memcmp(out.ptr, copy, size) == 0);
    CHECK((start ? mk_bond_hs_start_decode : mk_bond_hs_end_decode)(out.ptr, out.len, &AGAIN, NULL) == MK_OK);
    CHECK(AGAIN.nbonds == H.nbonds && AGAIN.incarnation == H.incarnation);
    CHECK(memcmp(AGAIN.proof, H.proof, sizeof H.proof) == 0);
    mk_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1); /* exactly the input: ASan sees any overread */
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    one(copy, size, true);
    one(copy, size, false);
    free(copy);
    return 0;
}
