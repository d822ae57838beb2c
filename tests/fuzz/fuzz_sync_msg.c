/* fuzz/fuzz_sync_msg.c — state-sync messages and the snapshot header (spec 40 §8.2, §8.3): any bytes
 * decode or are refused with MK_EPROTO, a terminated message and nothing to free; every view lies inside
 * the input; decoded entries keep the rules (index = first + i, kinds ≤ 3, terms ≥ 1 and never falling);
 * a decoded message re-encodes to the same bytes, which decode again to the same bytes. The input is also
 * tried as a snapshot header. */
#include "fuzz/fuzz_check.h"
#include "groups/sync_wire.h"

#include <stdlib.h>
#include <string.h>

static int inside(const void *p, size_t n, const uint8_t *data, size_t size) {
    if (n == 0) return 1;
    const uint8_t *b = p;
    return b >= data && b <= data + size && n <= (size_t)(data + size - b);
}

static int all_zero(const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

static void check_entries(const mk_gsync_msg_t *m, const uint8_t *data, size_t size) {
    size_t n = m->fetch_resp.nentries;
    CHECK(m->fetch_resp.first >= 1 && n <= MK_GSYNC_MAX_ENTRIES);
    if (n == 0) {
        CHECK(m->fetch_resp.prev_term == 0 && m->fetch_resp.entries == NULL);
        return;
    }
    CHECK((m->fetch_resp.first == 1) == (m->fetch_resp.prev_term == 0));
    mk_term_t floor = m->fetch_resp.prev_term ? m->fetch_resp.prev_term : 1;
    for (size_t i = 0; i < n; i++) {
        const mk_log_entry_t *en = &m->fetch_resp.entries[i];
        CHECK(en->index == m->fetch_resp.first + i && en->kind <= MK_ENTRY_SNAPSHOT_MARKER);
        CHECK(en->term >= floor);
        floor = en->term;
        CHECK(inside(en->body, en->len, data, size));
        CHECK(mk_raft_body_decode(en->kind, en->body, en->len, NULL, NULL) == MK_OK);
    }
}

static void header_round_trip(const uint8_t *p, size_t n) {
    mk_gsync_snap_header_t h;
    mk_error_t e;
    if (mk_gsync_snap_header_decode(p, n, &h, &e) != MK_OK) {
        CHECK(e.code == MK_EPROTO && memchr(e.msg, 0, sizeof e.msg) != NULL);
        CHECK(all_zero(&h, sizeof h));
        return;
    }
    CHECK(h.config_index >= 1 && h.nvoters >= 1 && h.nvoters <= MK_RAFT_MAX_VOTERS);
    CHECK(inside(h.sessions.ptr, h.sessions.len, p, n));
    mk_buf_t out = MK_BUF_INIT;
    CHECK(mk_gsync_snap_header_encode(&h, &out, NULL) == MK_OK);
    CHECK(out.len == n && memcmp(out.ptr, p, n) == 0);
    mk_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = malloc(size ? size : 1);  /* exactly the input: ASan sees any overread */
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    mk_gsync_msg_t m, again;
    mk_error_t e;
    int rc = mk_gsync_msg_decode(copy, size, &m, &e);
    if (rc != MK_OK) {
        CHECK(rc == MK_EPROTO && e.code == MK_EPROTO && memchr(e.msg, 0, sizeof e.msg) != NULL);
        CHECK(all_zero(&m, sizeof m));  /* nothing to free */
    } else {
        CHECK((unsigned)m.kind < MK_GSYNC_MSG_KINDS);
        switch (m.kind) {
        case MK_GSYNC_AVAIL_RESP: CHECK(m.avail_resp.first >= 1 && m.avail_resp.first - 1 <= m.avail_resp.last); break;
        case MK_GSYNC_FETCH_REQ: CHECK(m.fetch_req.first >= 1 && m.fetch_req.first <= m.fetch_req.last); break;
        case MK_GSYNC_FETCH_RESP: check_entries(&m, copy, size); break;
        case MK_GSYNC_SNAPSHOT_READY:
            CHECK(m.snapshot_ready.anchor.index >= 1 && m.snapshot_ready.anchor.term >= 1);
            CHECK(inside(m.snapshot_ready.header.ptr, m.snapshot_ready.header.len, copy, size));
            header_round_trip(m.snapshot_ready.header.ptr, m.snapshot_ready.header.len);
            break;
        case MK_GSYNC_FETCH_DATA_REQ: CHECK(m.fetch_data_req.from < m.fetch_data_req.to); break;
        case MK_GSYNC_FETCH_DATA_RESP:
            CHECK(m.fetch_data_resp.gone == (m.fetch_data_resp.nitems == 0));
            CHECK(m.fetch_data_resp.nitems <= MK_GSYNC_MAX_ITEMS);
            for (size_t i = 0; i < m.fetch_data_resp.nitems; i++)
                CHECK(inside(m.fetch_data_resp.items[i].ptr, m.fetch_data_resp.items[i].len, copy, size));
            break;
        default: break;
        }
        mk_buf_t b = MK_BUF_INIT;
        CHECK(mk_gsync_msg_encode(&m, &b, NULL) == MK_OK);
        CHECK(b.len == size && memcmp(b.ptr, copy, size) == 0);
        CHECK(mk_gsync_msg_decode(b.ptr, b.len, &again, NULL) == MK_OK && again.kind == m.kind);
        mk_buf_t b2 = MK_BUF_INIT;
        CHECK(mk_gsync_msg_encode(&again, &b2, NULL) == MK_OK);
        CHECK(b2.len == b.len && memcmp(b2.ptr, b.ptr, b.len) == 0);
        mk_buf_free(&b2);
        mk_gsync_msg_free(&again);
        mk_buf_free(&b);
        mk_gsync_msg_free(&m);
    }
    header_round_trip(copy, size);
    free(copy);
    return 0;
}
