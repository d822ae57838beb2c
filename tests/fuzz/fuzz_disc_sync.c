/* fuzz/fuzz_disc_sync.c — catalog-sync messages (spec 20 §4): strict decoding (ascending digests, counts
 * within the frame), and accepted SyncHello frames re-encode to the same bytes when their summary is
 * the one we compute. */
#include "discovery/wire.h"
#include "fuzz/fuzz_check.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mk_sync_msg_t m;
    mk_error_t err;
    if (mk_wire_decode_sync(data, size, &m, &err) != MK_OK) return 0;
    for (size_t i = 1; i < m.ndigest; i++) CHECK(memcmp(m.digest[i - 1].peer.b, m.digest[i].peer.b, 32) < 0);
    if (m.kind == MK_SYNC_HELLO) {
        mk_id_t sum = mk_sync_summary(m.digest, m.ndigest);
        if (mk_id_eq(&sum, &m.summary)) {
            mk_buf_t out = MK_BUF_INIT;
            CHECK(mk_wire_encode_sync_hello(&m.network, m.digest, m.ndigest, &out) == MK_OK);
            CHECK(out.len == size && memcmp(out.ptr, data, size) == 0);
            mk_buf_free(&out);
        }
    }
    for (size_t i = 0; i < m.nentries; i++)
        CHECK((const uint8_t *)m.entries[i].ptr >= data &&
              (const uint8_t *)m.entries[i].ptr + m.entries[i].len <= data + size);
    mk_sync_msg_free(&m);
    return 0;
}
