/* fuzz/fuzz_streams_msg.c — stream link messages (spec 30 §6, §11): any bytes decode or are refused
 * without reading past them; a decoded message re-encodes to the same bytes (Datum: tag and payload
 * as they were), which decode to an equal message. */
#include "fuzz/fuzz_check.h"
#include "streams/wire.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    mk_smsg_t m, again;
    mk_error_t e;
    if (mk_smsg_decode(copy, size, &m, &e) == MK_OK) {
        mk_buf_t b = MK_BUF_INIT;
        switch (m.kind) {
        case MK_SMSG_SUBSCRIBE: CHECK(mk_smsg_encode_subscribe(&m.network, &m.stream, m.criteria, &b) == MK_OK); break;
        case MK_SMSG_ACCEPTED: CHECK(mk_smsg_encode_accepted(&m.network, &m.stream, &b) == MK_OK); break;
        case MK_SMSG_DROPPED: CHECK(mk_smsg_encode_dropped(m.dropped, &b) == MK_OK); break;
        case MK_SMSG_DATUM:
            CHECK(m.datum.len == size - 1 && m.datum.ptr == copy + 1);
            mk_buf_append(&b, copy, size);
            break;
        }
        CHECK(b.len == size && memcmp(b.ptr, copy, size) == 0);
        CHECK(mk_smsg_decode(b.ptr, b.len, &again, NULL) == MK_OK && again.kind == m.kind);
        CHECK(mk_id_eq(&again.network, &m.network) && mk_id_eq(&again.stream, &m.stream) && again.dropped == m.dropped);
        mk_buf_free(&b);
    } else {
        CHECK(memchr(e.msg, 0, sizeof e.msg) != NULL);
    }
    free(copy);
    return 0;
}
