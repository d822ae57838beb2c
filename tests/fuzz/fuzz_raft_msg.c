/* fuzz/fuzz_raft_msg.c — Raft messages and entry bodies (spec 40 §3.3, §3.10): any bytes decode or are
 * refused with a terminated message and nothing to free; every view lies inside the input; a decoded
 * message re-encodes to the same bytes, which decode again; each AppendEntries entry body decodes and
 * re-encodes to its own bytes. The input is also tried as a body of every entry kind. */
#include "fuzz/fuzz_check.h"
#include "groups/raft_wire.h"

#include <stdlib.h>
#include <string.h>

static int inside(const void *p, size_t n, const uint8_t *data, size_t size) {
    if (n == 0) return 1;
    const uint8_t *b = p;
    return b >= data && b <= data + size && n <= (size_t)(data + size - b);
}

/* A body decodes → it re-encodes to the same bytes; its payload view stays inside. */
static void body_round_trip(uint8_t kind, const void *p, size_t n, const uint8_t *data, size_t size) {
    mk_raft_body_t b;
    mk_error_t e;
    if (mk_raft_body_decode(kind, p, n, &b, &e) != MK_OK) {
        CHECK(memchr(e.msg, 0, sizeof e.msg) != NULL && e.code == MK_EPROTO);
        return;
    }
    CHECK(b.kind == kind);
    if (kind == MK_ENTRY_COMMAND) CHECK(inside(b.command.payload.ptr, b.command.payload.len, data, size));
    if (kind == MK_ENTRY_CONFIG) CHECK(b.config.nvoters >= 1 && b.config.nvoters <= MK_RAFT_MAX_VOTERS);
    mk_buf_t out = MK_BUF_INIT;
    CHECK(mk_raft_body_encode(&b, &out, NULL) == MK_OK);
    CHECK(out.len == n && (n == 0 || memcmp(out.ptr, p, n) == 0));
    mk_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);  /* exactly the input: ASan sees any overread */
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    mk_raft_msg_t m, again;
    mk_error_t e;
    int rc = mk_raft_msg_decode(copy, size, &m, &e);
    if (rc != MK_OK) {
        CHECK(rc == MK_EPROTO && e.code == MK_EPROTO && memchr(e.msg, 0, sizeof e.msg) != NULL);
        CHECK(m.kind == 0 && m.append.entries == NULL);  /* zeroed: nothing to free */
    } else {
        CHECK((unsigned)m.kind < MK_RAFT_MSG_KINDS);
        if (m.kind == MK_RAFT_APPEND) {
            CHECK(m.append.nentries <= MK_RAFT_MAX_ENTRIES);
            for (size_t i = 0; i < m.append.nentries; i++) {
                const mk_log_entry_t *en = &m.append.entries[i];
                CHECK(en->index == m.append.prev.index + 1 + i && en->kind <= MK_ENTRY_SNAPSHOT_MARKER);
                CHECK(inside(en->body, en->len, copy, size));
                body_round_trip(en->kind, en->body, en->len, copy, size);
            }
        }
        if (m.kind == MK_RAFT_FORWARD) {
            CHECK(m.forward.ncommands >= 1 && m.forward.ncommands <= MK_RAFT_MAX_COMMANDS);
            for (size_t i = 0; i < m.forward.ncommands; i++)
                CHECK(inside(m.forward.commands[i].ptr, m.forward.commands[i].len, copy, size));
        }
        mk_buf_t b = MK_BUF_INIT;
        CHECK(mk_raft_msg_encode(&m, &b, NULL) == MK_OK);
        CHECK(b.len == size && memcmp(b.ptr, copy, size) == 0);
        CHECK(mk_raft_msg_decode(b.ptr, b.len, &again, NULL) == MK_OK && again.kind == m.kind);
        mk_buf_t b2 = MK_BUF_INIT;
        CHECK(mk_raft_msg_encode(&again, &b2, NULL) == MK_OK);
        CHECK(b2.len == b.len && memcmp(b2.ptr, b.ptr, b.len) == 0);
        mk_buf_free(&b2);
        mk_raft_msg_free(&again);
        mk_buf_free(&b);
        mk_raft_msg_free(&m);
    }
    /* the raw input as an entry body of each kind (and one beyond) */
    for (uint8_t kind = 0; kind <= 4; kind++) body_round_trip(kind, copy, size, copy, size);
    free(copy);
    return 0;
}
