/* unit/groups/test_sync_wire.c — the state-sync codec (spec 40 §8.2 snapshot header, §8.3 messages): golden
 * bytes written out by hand from the format, both ways; round trips of every message with edge values;
 * every refused form (truncated, trailing, bad counts, bad kinds, bad ranges and terms) with the field its
 * error names; the encoder's matching refusals; and the store-backed FetchEntriesResponse cut to a byte
 * limit at entry boundaries. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "groups/sync_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mk_id_t O, A, B;

static int setup(void **state) {
    (void)state;
    for (int i = 0; i < 32; i++) {
        O.b[i] = (uint8_t)i;
        A.b[i] = 0x11;
        B.b[i] = 0x22;
    }
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------------------- */

/* Parses space-separated hex bytes; the tokens O, A and B stand for those ids' 32 bytes. */
static size_t hex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        const mk_id_t *id = *s == 'O' ? &O : *s == 'A' ? &A : *s == 'B' ? &B : NULL;
        if (id) {
            assert_true(n + 32 <= cap);
            memcpy(out + n, id->b, 32);
            n += 32;
            s++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(s, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static void assert_buf_hex(const mk_buf_t *b, const char *want_hex) {
    uint8_t want[512];
    size_t n = hex(want_hex, want, sizeof want);
    assert_int_equal(b->len, n);
    if (n) assert_memory_equal(b->ptr, want, n);
}

static void expect_refused(const uint8_t *in, size_t n, const char *field, const char *cause) {
    mk_gsync_msg_t m;
    memset(&m, 0xee, sizeof m);
    mk_error_t e;
    memset(&e, 0, sizeof e);
    int rc = mk_gsync_msg_decode(in, n, &m, &e);
    if (rc != MK_EPROTO) fail_msg("want MK_EPROTO, got %d (%zu bytes)", rc, n);
    assert_int_equal(e.code, MK_EPROTO);
    if (field && !strstr(e.msg, field)) fail_msg("want field \"%s\" in \"%s\"", field, e.msg);
    if (cause && !strstr(e.msg, cause)) fail_msg("want cause \"%s\" in \"%s\"", cause, e.msg);
    mk_gsync_msg_t zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&m, &zero, sizeof m);  /* zeroed: nothing to free */
}

/* Decoding the bytes of `h` must fail with MK_EPROTO and an error naming `field` (and `cause`, if any). */
static void refused_hex(const char *h, const char *field, const char *cause) {
    uint8_t in[512];
    size_t n = hex(h, in, sizeof in);
    expect_refused(in, n, field, cause);
}

static void expect_einval(const mk_gsync_msg_t *m, const char *what) {
    mk_buf_t out = MK_BUF_INIT;
    assert_int_equal(mk_buf_append(&out, "zz", 2), MK_OK);
    mk_error_t e;
    memset(&e, 0, sizeof e);
    assert_int_equal(mk_gsync_msg_encode(m, &out, &e), MK_EINVAL);
    assert_int_equal(e.code, MK_EINVAL);
    if (what && !strstr(e.msg, what)) fail_msg("want \"%s\" in \"%s\"", what, e.msg);
    assert_int_equal(out.len, 2);  /* unchanged */
    mk_buf_free(&out);
}

static bool bytes_eq(const void *a, size_t an, const void *b, size_t bn) {
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static bool cursor_eq(mk_cursor_t a, mk_cursor_t b) { return a.term == b.term && a.index == b.index; }

/* Field-by-field equality (views compared by content). */
static bool msg_eq(const mk_gsync_msg_t *a, const mk_gsync_msg_t *b) {
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case MK_GSYNC_AVAIL_REQ: return a->avail_req.sid == b->avail_req.sid;
    case MK_GSYNC_AVAIL_RESP:
        return a->avail_resp.sid == b->avail_resp.sid && a->avail_resp.first == b->avail_resp.first &&
               a->avail_resp.last == b->avail_resp.last;
    case MK_GSYNC_FETCH_REQ:
        return a->fetch_req.sid == b->fetch_req.sid && a->fetch_req.first == b->fetch_req.first &&
               a->fetch_req.last == b->fetch_req.last;
    case MK_GSYNC_FETCH_RESP:
        if (a->fetch_resp.sid != b->fetch_resp.sid || a->fetch_resp.first != b->fetch_resp.first ||
            a->fetch_resp.prev_term != b->fetch_resp.prev_term || a->fetch_resp.nentries != b->fetch_resp.nentries)
            return false;
        for (size_t i = 0; i < a->fetch_resp.nentries; i++) {
            const mk_log_entry_t *x = &a->fetch_resp.entries[i], *y = &b->fetch_resp.entries[i];
            if (x->index != y->index || x->term != y->term || x->kind != y->kind ||
                !bytes_eq(x->body, x->len, y->body, y->len))
                return false;
        }
        return true;
    case MK_GSYNC_REQ_SNAPSHOT: return a->req_snapshot.req_id == b->req_snapshot.req_id;
    case MK_GSYNC_SNAPSHOT_READY:
        return a->snapshot_ready.req_id == b->snapshot_ready.req_id &&
               cursor_eq(a->snapshot_ready.anchor, b->snapshot_ready.anchor) &&
               a->snapshot_ready.item_count == b->snapshot_ready.item_count &&
               bytes_eq(a->snapshot_ready.header.ptr, a->snapshot_ready.header.len, b->snapshot_ready.header.ptr,
                        b->snapshot_ready.header.len);
    case MK_GSYNC_FETCH_DATA_REQ:
        return cursor_eq(a->fetch_data_req.anchor, b->fetch_data_req.anchor) &&
               a->fetch_data_req.from == b->fetch_data_req.from && a->fetch_data_req.to == b->fetch_data_req.to;
    case MK_GSYNC_FETCH_DATA_RESP:
        if (!cursor_eq(a->fetch_data_resp.anchor, b->fetch_data_resp.anchor) ||
            a->fetch_data_resp.from != b->fetch_data_resp.from || a->fetch_data_resp.gone != b->fetch_data_resp.gone ||
            a->fetch_data_resp.nitems != b->fetch_data_resp.nitems)
            return false;
        for (size_t i = 0; i < a->fetch_data_resp.nitems; i++)
            if (!bytes_eq(a->fetch_data_resp.items[i].ptr, a->fetch_data_resp.items[i].len,
                          b->fetch_data_resp.items[i].ptr, b->fetch_data_resp.items[i].len))
                return false;
        return true;
    }
    return false;
}

/* Encodes m, decodes it back (equal), re-encodes (same bytes); every strict prefix and one trailing byte
 * are refused. */
static void round_trip(const mk_gsync_msg_t *m) {
    mk_buf_t b = MK_BUF_INIT, b2 = MK_BUF_INIT;
    mk_error_t e;
    if (mk_gsync_msg_encode(m, &b, &e) != MK_OK) fail_msg("encode: %s", e.msg);
    mk_gsync_msg_t d;
    if (mk_gsync_msg_decode(b.ptr, b.len, &d, &e) != MK_OK) fail_msg("decode: %s", e.msg);
    assert_true(msg_eq(m, &d));
    assert_int_equal(mk_gsync_msg_encode(&d, &b2, NULL), MK_OK);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.ptr, b.ptr, b.len);
    mk_gsync_msg_free(&d);
    mk_gsync_msg_free(&d);  /* idempotent */
    uint8_t *t = malloc(b.len + 1);
    assert_non_null(t);
    memcpy(t, b.ptr, b.len);
    for (size_t k = 0; k < b.len; k++) expect_refused(t, k, k ? mk_gsync_msg_kind_name(m->kind) : "tag", NULL);
    t[b.len] = 0;
    expect_refused(t, b.len + 1, NULL, "trailing");
    free(t);
    mk_buf_free(&b);
    mk_buf_free(&b2);
}

/* A COMMAND entry body {session, seq, payload}. */
static mk_buf_t command_body(uint64_t session, uint64_t seq, const char *payload) {
    mk_raft_body_t body;
    memset(&body, 0, sizeof body);
    body.kind = MK_ENTRY_COMMAND;
    body.command.session = session;
    body.command.seq = seq;
    body.command.payload = (mk_bytes_t){payload, strlen(payload)};
    mk_buf_t out = MK_BUF_INIT;
    assert_int_equal(mk_raft_body_encode(&body, &out, NULL), MK_OK);
    return out;
}

/* The snapshot header used below: {O, config_index 1, [(A, 7)], has_commands, "xyz"}: 72 bytes. */
#define HEADER_HEX "O 01 01 A 07 01 03 78 79 7a"

/* ---- golden vectors --------------------------------------------------------------------------------------- */

static void test_golden_simple(void **state) {
    (void)state;
    static const struct {
        const char *hex;
        mk_gsync_msg_t m;
    } cases[] = {
        {"00 00", {.kind = MK_GSYNC_AVAIL_REQ}},
        {"00 ff ff ff ff ff ff ff ff ff 01", {.kind = MK_GSYNC_AVAIL_REQ, .avail_req = {UINT64_MAX}}},
        {"01 ac 02 01 7f", {.kind = MK_GSYNC_AVAIL_RESP, .avail_resp = {300, 1, 127}}},
        {"01 07 01 00", {.kind = MK_GSYNC_AVAIL_RESP, .avail_resp = {7, 1, 0}}},  /* nothing offered */
        {"02 2a 80 01 ff 01", {.kind = MK_GSYNC_FETCH_REQ, .fetch_req = {42, 128, 255}}},
        {"03 05 09 00 00", {.kind = MK_GSYNC_FETCH_RESP, .fetch_resp = {.sid = 5, .first = 9}}},  /* gone */
        {"04 e8 07", {.kind = MK_GSYNC_REQ_SNAPSHOT, .req_snapshot = {1000}}},
        {"06 03 0a 00 d0 0f", {.kind = MK_GSYNC_FETCH_DATA_REQ, .fetch_data_req = {{3, 10}, 0, 2000}}},
        {"07 03 0a 05 00 01", {.kind = MK_GSYNC_FETCH_DATA_RESP, .fetch_data_resp = {.anchor = {3, 10}, .from = 5,
                                                                                   .gone = true}}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mk_buf_t b = MK_BUF_INIT;
        assert_int_equal(mk_gsync_msg_encode(&cases[i].m, &b, NULL), MK_OK);
        assert_buf_hex(&b, cases[i].hex);
        mk_gsync_msg_t d;
        assert_int_equal(mk_gsync_msg_decode(b.ptr, b.len, &d, NULL), MK_OK);
        assert_true(msg_eq(&d, &cases[i].m));
        mk_gsync_msg_free(&d);
        mk_buf_free(&b);
        round_trip(&cases[i].m);
    }
}

/* FetchEntriesResponse{sid 5, first 2, prev_term 1, [NOOP@1, COMMAND@2 {0, 1, "hi"}]}, by hand. */
static void test_golden_fetch_resp(void **state) {
    (void)state;
    const char *want = "03 05 02 01 02"  /* tag, sid, first, prev_term, 2 entries */
                       " 01 01 00"       /* term 1, NOOP, empty body */
                       " 02 00 05 00 01 02 68 69";  /* term 2, COMMAND, body {session 0, seq 1, "hi"} */
    uint8_t in[64];
    size_t n = hex(want, in, sizeof in);
    mk_gsync_msg_t d;
    mk_error_t e;
    if (mk_gsync_msg_decode(in, n, &d, &e) != MK_OK) fail_msg("%s", e.msg);
    assert_int_equal(d.kind, MK_GSYNC_FETCH_RESP);
    assert_int_equal(d.fetch_resp.sid, 5);
    assert_int_equal(d.fetch_resp.first, 2);
    assert_int_equal(d.fetch_resp.prev_term, 1);
    assert_int_equal(d.fetch_resp.nentries, 2);
    const mk_log_entry_t *en = d.fetch_resp.entries;
    assert_int_equal(en[0].index, 2);
    assert_int_equal(en[0].term, 1);
    assert_int_equal(en[0].kind, MK_ENTRY_NOOP);
    assert_int_equal(en[0].len, 0);
    assert_int_equal(en[1].index, 3);
    assert_int_equal(en[1].term, 2);
    assert_int_equal(en[1].kind, MK_ENTRY_COMMAND);
    assert_ptr_equal(en[1].body, in + 11);  /* a view into the input */
    assert_int_equal(en[1].len, 5);
    mk_buf_t b = MK_BUF_INIT;
    assert_int_equal(mk_gsync_msg_encode(&d, &b, NULL), MK_OK);
    assert_buf_hex(&b, want);
    mk_buf_free(&b);
    /* the same from an encoder input built by hand */
    mk_buf_t body = command_body(0, 1, "hi");
    mk_log_entry_t entries[2] = {{.index = 2, .term = 1, .kind = MK_ENTRY_NOOP},
                                 {.index = 3, .term = 2, .kind = MK_ENTRY_COMMAND, .body = body.ptr, .len = body.len}};
    mk_gsync_msg_t m = {.kind = MK_GSYNC_FETCH_RESP,
                       .fetch_resp = {.sid = 5, .first = 2, .prev_term = 1, .entries = entries, .nentries = 2}};
    assert_int_equal(mk_gsync_msg_encode(&m, &b, NULL), MK_OK);
    assert_buf_hex(&b, want);
    assert_true(msg_eq(&m, &d));
    mk_buf_free(&b);
    mk_gsync_msg_free(&d);
    round_trip(&m);
    mk_buf_free(&body);
}

/* SnapshotReady{req_id 9, anchor (2, 5), item_count 1000, header} and FetchDataResponse{(3, 10), 0, ["a",
 * ""], not gone}, by hand. */
static void test_golden_snapshot(void **state) {
    (void)state;
    uint8_t hdr[128];
    size_t hn = hex(HEADER_HEX, hdr, sizeof hdr);
    assert_int_equal(hn, 72);
    mk_gsync_snap_header_t h;
    mk_error_t e;
    if (mk_gsync_snap_header_decode(hdr, hn, &h, &e) != MK_OK) fail_msg("%s", e.msg);
    assert_true(mk_id_eq(&h.origin, &O));
    assert_int_equal(h.config_index, 1);
    assert_int_equal(h.nvoters, 1);
    assert_true(mk_id_eq(&h.voters[0].peer, &A));
    assert_int_equal(h.voters[0].incarnation, 7);
    assert_true(h.has_commands);
    assert_ptr_equal(h.sessions.ptr, hdr + 69);
    assert_int_equal(h.sessions.len, 3);
    mk_buf_t b = MK_BUF_INIT;
    assert_int_equal(mk_gsync_snap_header_encode(&h, &b, NULL), MK_OK);
    assert_buf_hex(&b, HEADER_HEX);
    mk_buf_free(&b);

    const char *want = "05 09 02 05 e8 07 48 " HEADER_HEX;
    mk_gsync_msg_t m = {.kind = MK_GSYNC_SNAPSHOT_READY,
                       .snapshot_ready = {.req_id = 9, .anchor = {2, 5}, .item_count = 1000, .header = {hdr, hn}}};
    assert_int_equal(mk_gsync_msg_encode(&m, &b, NULL), MK_OK);
    assert_buf_hex(&b, want);
    mk_gsync_msg_t d;
    assert_int_equal(mk_gsync_msg_decode(b.ptr, b.len, &d, NULL), MK_OK);
    assert_true(msg_eq(&m, &d));
    assert_ptr_equal(d.snapshot_ready.header.ptr, (uint8_t *)b.ptr + 7);
    mk_gsync_msg_free(&d);
    mk_buf_free(&b);
    round_trip(&m);

    mk_bytes_t items[2] = {{"a", 1}, {NULL, 0}};
    mk_gsync_msg_t r = {.kind = MK_GSYNC_FETCH_DATA_RESP,
                       .fetch_data_resp = {.anchor = {3, 10}, .from = 0, .items = items, .nitems = 2}};
    assert_int_equal(mk_gsync_msg_encode(&r, &b, NULL), MK_OK);
    assert_buf_hex(&b, "07 03 0a 00 02 01 61 00 00");
    assert_int_equal(mk_gsync_msg_decode(b.ptr, b.len, &d, NULL), MK_OK);
    assert_true(msg_eq(&r, &d));
    mk_gsync_msg_free(&d);
    mk_buf_free(&b);
    round_trip(&r);
}

/* ---- round trips ------------------------------------------------------------------------------------------- */

static void test_round_trips(void **state) {
    (void)state;
    /* every entry kind with a valid body, terms rising, at the far end of the index space */
    mk_buf_t cmd = command_body(UINT64_MAX, 77, "payload");
    mk_raft_body_t cfgb;
    memset(&cfgb, 0, sizeof cfgb);
    cfgb.kind = MK_ENTRY_CONFIG;
    cfgb.config.origin = O;
    cfgb.config.nvoters = 2;
    cfgb.config.voters[0] = (mk_raft_voter_t){A, 1};
    cfgb.config.voters[1] = (mk_raft_voter_t){B, UINT64_MAX};
    mk_buf_t cfg = MK_BUF_INIT;
    assert_int_equal(mk_raft_body_encode(&cfgb, &cfg, NULL), MK_OK);
    mk_raft_body_t mk;
    memset(&mk, 0, sizeof mk);
    mk.kind = MK_ENTRY_SNAPSHOT_MARKER;
    mk.marker.requester = B;
    mk.marker.req_id = 3;
    mk.marker.requested_at_ms = 123456789;
    mk_buf_t marker = MK_BUF_INIT;
    assert_int_equal(mk_raft_body_encode(&mk, &marker, NULL), MK_OK);
    mk_index_t first = UINT64_MAX - 3;
    mk_log_entry_t en[4] = {
        {.index = first, .term = 9, .kind = MK_ENTRY_COMMAND, .body = cmd.ptr, .len = cmd.len},
        {.index = first + 1, .term = 9, .kind = MK_ENTRY_NOOP},
        {.index = first + 2, .term = 10, .kind = MK_ENTRY_CONFIG, .body = cfg.ptr, .len = cfg.len},
        {.index = first + 3, .term = UINT64_MAX, .kind = MK_ENTRY_SNAPSHOT_MARKER, .body = marker.ptr, .len = marker.len},
    };
    mk_gsync_msg_t m = {.kind = MK_GSYNC_FETCH_RESP,
                       .fetch_resp = {.sid = 1, .first = first, .prev_term = 9, .entries = en, .nentries = 4}};
    round_trip(&m);
    m.fetch_resp.prev_term = 1;  /* any prev_term ≤ the first entry's term */
    round_trip(&m);
    /* first 1: prev_term 0 */
    en[0].index = 1, en[1].index = 2, en[2].index = 3, en[3].index = 4;
    m.fetch_resp.first = 1;
    m.fetch_resp.prev_term = 0;
    round_trip(&m);

    /* the caps: MK_GSYNC_MAX_ENTRIES NOOP entries; MK_GSYNC_MAX_ITEMS items */
    mk_log_entry_t *many = calloc(MK_GSYNC_MAX_ENTRIES, sizeof *many);
    assert_non_null(many);
    for (size_t i = 0; i < MK_GSYNC_MAX_ENTRIES; i++)
        many[i] = (mk_log_entry_t){.index = 10 + i, .term = 2 + i / 1000, .kind = MK_ENTRY_NOOP};
    m = (mk_gsync_msg_t){.kind = MK_GSYNC_FETCH_RESP,
                        .fetch_resp = {.sid = 2, .first = 10, .prev_term = 2, .entries = many,
                                       .nentries = MK_GSYNC_MAX_ENTRIES}};
    mk_buf_t b = MK_BUF_INIT;
    assert_int_equal(mk_gsync_msg_encode(&m, &b, NULL), MK_OK);
    mk_gsync_msg_t d;
    assert_int_equal(mk_gsync_msg_decode(b.ptr, b.len, &d, NULL), MK_OK);
    assert_true(msg_eq(&m, &d));
    mk_gsync_msg_free(&d);
    mk_buf_free(&b);
    m.fetch_resp.nentries = MK_GSYNC_MAX_ENTRIES + 1;
    expect_einval(&m, "entries: 4097 > cap 4096");
    free(many);

    mk_bytes_t *items = calloc(MK_GSYNC_MAX_ITEMS, sizeof *items);
    assert_non_null(items);
    for (size_t i = 0; i < MK_GSYNC_MAX_ITEMS; i++) items[i] = (mk_bytes_t){"item", i % 5};
    m = (mk_gsync_msg_t){.kind = MK_GSYNC_FETCH_DATA_RESP,
                        .fetch_data_resp = {.anchor = {UINT64_MAX, UINT64_MAX}, .from = UINT64_MAX - MK_GSYNC_MAX_ITEMS + 1,
                                            .items = items, .nitems = MK_GSYNC_MAX_ITEMS}};
    assert_int_equal(mk_gsync_msg_encode(&m, &b, NULL), MK_OK);
    assert_int_equal(mk_gsync_msg_decode(b.ptr, b.len, &d, NULL), MK_OK);
    assert_true(msg_eq(&m, &d));
    mk_gsync_msg_free(&d);
    mk_buf_free(&b);
    m.fetch_data_resp.nitems = MK_GSYNC_MAX_ITEMS + 1;
    expect_einval(&m, "items: 16385 > cap 16384");
    free(items);

    /* the rest at their edges */
    mk_gsync_msg_t simple[] = {
        {.kind = MK_GSYNC_AVAIL_RESP, .avail_resp = {0, UINT64_MAX, UINT64_MAX}},
        {.kind = MK_GSYNC_AVAIL_RESP, .avail_resp = {1, UINT64_MAX, UINT64_MAX - 1}},
        {.kind = MK_GSYNC_FETCH_REQ, .fetch_req = {UINT64_MAX, 1, UINT64_MAX}},
        {.kind = MK_GSYNC_FETCH_REQ, .fetch_req = {3, 7, 7}},
        {.kind = MK_GSYNC_REQ_SNAPSHOT, .req_snapshot = {0}},
        {.kind = MK_GSYNC_FETCH_DATA_REQ, .fetch_data_req = {{1, 1}, UINT64_MAX - 1, UINT64_MAX}},
        {.kind = MK_GSYNC_FETCH_DATA_RESP, .fetch_data_resp = {.anchor = {1, 1}, .from = UINT64_MAX, .gone = true}},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) round_trip(&simple[i]);

    /* a header with 32 voters and a large session table */
    mk_gsync_snap_header_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->origin = B;
    h->config_index = UINT64_MAX;
    h->nvoters = MK_RAFT_MAX_VOTERS;
    for (size_t i = 0; i < MK_RAFT_MAX_VOTERS; i++) {
        memset(h->voters[i].peer.b, 0, 32);
        h->voters[i].peer.b[0] = (uint8_t)(i + 1);
        h->voters[i].incarnation = i;
    }
    uint8_t sess[3000];
    memset(sess, 0x5a, sizeof sess);
    h->sessions = (mk_bytes_t){sess, sizeof sess};
    mk_buf_t hb = MK_BUF_INIT;
    assert_int_equal(mk_gsync_snap_header_encode(h, &hb, NULL), MK_OK);
    mk_gsync_snap_header_t *h2 = calloc(1, sizeof *h2);
    assert_non_null(h2);
    assert_int_equal(mk_gsync_snap_header_decode(hb.ptr, hb.len, h2, NULL), MK_OK);
    assert_int_equal(h2->nvoters, MK_RAFT_MAX_VOTERS);
    assert_memory_equal(h2->voters, h->voters, sizeof h->voters);
    assert_int_equal(h2->config_index, UINT64_MAX);
    assert_false(h2->has_commands);
    assert_true(bytes_eq(h2->sessions.ptr, h2->sessions.len, sess, sizeof sess));
    m = (mk_gsync_msg_t){.kind = MK_GSYNC_SNAPSHOT_READY,
                        .snapshot_ready = {.req_id = UINT64_MAX, .anchor = {UINT64_MAX, UINT64_MAX},
                                           .item_count = 0, .header = {hb.ptr, hb.len}}};
    round_trip(&m);
    assert_int_equal(mk_gsync_snap_header_decode(hb.ptr, hb.len, NULL, NULL), MK_OK);  /* validate only */
    mk_buf_free(&hb);
    free(h);
    free(h2);
    mk_buf_free(&cmd);
    mk_buf_free(&cfg);
    mk_buf_free(&marker);
}

/* ---- refusals ------------------------------------------------------------------------------------------- */

static void test_refused_framing(void **state) {
    (void)state;
    refused_hex("", "tag", "truncated");
    refused_hex("08", "tag", "out of range");
    refused_hex("80 01", "tag", "out of range");
    refused_hex("80 00", "tag", NULL);                                  /* non-canonical tag */
    refused_hex("00 80 00", "AvailabilityRequest.sid", NULL);           /* non-canonical varint */
    refused_hex("00 ff ff ff ff ff ff ff ff ff 02", "AvailabilityRequest.sid", NULL);  /* > 64 bits */
    refused_hex("00 01 00", NULL, "trailing");
    refused_hex("04", "RequestSnapshot.req_id", "truncated");
}

static void test_refused_ranges(void **state) {
    (void)state;
    refused_hex("01 00 00 00", "AvailabilityResponse.first", "bad range");
    refused_hex("01 00 05 03", "AvailabilityResponse.first", "bad range [5, 3]");
    refused_hex("02 00 00 00", "FetchEntriesRequest.first", "empty range");
    refused_hex("02 00 05 04", "FetchEntriesRequest.first", "empty range [5, 4]");
    refused_hex("03 00 00 00 00", "FetchEntriesResponse.first", "index 0");
    refused_hex("06 00 01 00 01", "FetchDataRequest.anchor", "not after an entry");  /* term 0 */
    refused_hex("06 01 00 00 01", "FetchDataRequest.anchor", "not after an entry");  /* index 0 */
    refused_hex("06 01 01 05 05", "FetchDataRequest.from", "empty range [5, 5)");
    refused_hex("06 01 01 06 05", "FetchDataRequest.from", "empty range");
    refused_hex("07 01 01 00 00 00", "FetchDataResponse.items", "no items and not gone");
    refused_hex("07 01 01 00 01 00 01", "FetchDataResponse.gone", "gone with 1 items");
    refused_hex("07 00 01 00 01 00 00", "FetchDataResponse.anchor", NULL);
    refused_hex("07 01 01 ff ff ff ff ff ff ff ff ff 01 02 00 00 00", "FetchDataResponse.items", "overflow");
    refused_hex("07 01 01 00 01 00 02", "FetchDataResponse.gone", "bad bool");
    refused_hex("05 01 00 01 00 00", "SnapshotReady.anchor", "not after an entry");

    /* and the encoder refuses the same */
    mk_gsync_msg_t m = {.kind = MK_GSYNC_AVAIL_RESP, .avail_resp = {0, 5, 3}};
    expect_einval(&m, "AvailabilityResponse.first: bad range [5, 3]");
    m.avail_resp.first = 0;
    m.avail_resp.last = 0;
    expect_einval(&m, "AvailabilityResponse.first");
    m = (mk_gsync_msg_t){.kind = MK_GSYNC_FETCH_REQ, .fetch_req = {0, 5, 4}};
    expect_einval(&m, "FetchEntriesRequest.first: empty range");
    m = (mk_gsync_msg_t){.kind = MK_GSYNC_FETCH_RESP, .fetch_resp = {.first = 0}};
    expect_einval(&m, "FetchEntriesResponse.first: index 0");
    m = (mk_gsync_msg_t){.kind = MK_GSYNC_FETCH_DATA_REQ, .fetch_data_req = {{0, 1}, 0, 1}};
    expect_einval(&m, "FetchDataRequest.anchor");
    m.fetch_data_req.anchor = (mk_cursor_t){1, 1};
    m.fetch_data_req.from = 1;
    expect_einval(&m, "FetchDataRequest.from: empty range");
    mk_bytes_t item = {"x", 1};
    m = (mk_gsync_msg_t){.kind = MK_GSYNC_FETCH_DATA_RESP,
                        .fetch_data_resp = {.anchor = {1, 1}, .items = &item, .nitems = 1, .gone = true}};
    expect_einval(&m, "FetchDataResponse.gone: with 1 items");
    m.fetch_data_resp.gone = false;
    m.fetch_data_resp.nitems = 0;
    expect_einval(&m, "FetchDataResponse.items: none and not gone");
    m.fetch_data_resp.nitems = 2;
    m.fetch_data_resp.from = UINT64_MAX;
    expect_einval(&m, "FetchDataResponse.items: item number overflow");
    m.fetch_data_resp.from = 0;
    m.fetch_data_resp.items = NULL;
    expect_einval(&m, "FetchDataResponse.items: NULL");
    m = (mk_gsync_msg_t){.kind = (mk_gsync_msg_kind_t)8};
    expect_einval(&m, "kind: 8 > 7");
}

static void test_refused_entries(void **state) {
    (void)state;
    /* counts: over the cap (checked before the bytes left), more than the bytes left can hold */
    refused_hex("03 05 02 01 81 20", "FetchEntriesResponse.entries", "count 4097 > cap 4096");
    refused_hex("03 05 02 01 03 01 01 00", "FetchEntriesResponse.entries", "bytes left");
    refused_hex("03 05 02 01 02 01 01 00", "FetchEntriesResponse.entries", "bytes left");
    refused_hex("03 05 02 01 ff ff ff ff ff ff ff ff ff 01", "FetchEntriesResponse.entries", NULL);
    /* kinds */
    refused_hex("03 05 02 01 01 01 04 00", "FetchEntriesResponse.entries[0].kind", "entry kind 4 > 3");
    refused_hex("03 05 02 01 02 01 01 00 01 ff 00", "FetchEntriesResponse.entries[1].kind", "entry kind 255 > 3");
    /* terms: below prev_term, 0, falling */
    refused_hex("03 05 02 02 01 01 01 00", "FetchEntriesResponse.entries[0].term", "term 1 below 2");
    refused_hex("03 05 01 00 01 00 01 00", "FetchEntriesResponse.entries[0].term", "term 0 below 1");
    refused_hex("03 05 02 01 02 03 01 00 02 01 00", "FetchEntriesResponse.entries[1].term", "term 2 below 3");
    /* prev_term: must be 0 exactly at first 1, and 0 in a gone response */
    refused_hex("03 05 01 01 01 01 01 00", "FetchEntriesResponse.prev_term", "before index 1");
    refused_hex("03 05 02 00 01 01 01 00", "FetchEntriesResponse.prev_term", "before index 2");
    refused_hex("03 05 02 01 00", "FetchEntriesResponse.prev_term", "gone response");
    /* bodies: truncated, trailing inside the body, a body of the wrong kind */
    refused_hex("03 05 02 01 01 01 00 01 00", "FetchEntriesResponse.entries[0].body", "COMMAND");
    refused_hex("03 05 02 01 01 01 01 01 00", "FetchEntriesResponse.entries[0].body", "trailing");
    refused_hex("03 05 02 01 01 01 02 00", "FetchEntriesResponse.entries[0].body", "CONFIG");
    refused_hex("03 05 02 01 01 01 01 05 00", "FetchEntriesResponse.entries[0].body", "truncated");
    /* index overflow */
    refused_hex("03 05 ff ff ff ff ff ff ff ff ff 01 01 02 01 01 00 01 01 00", "FetchEntriesResponse.entries",
                "overflow");

    /* the encoder's matching refusals */
    mk_buf_t body = command_body(0, 1, "x");
    mk_log_entry_t en[2] = {{.index = 2, .term = 1, .kind = MK_ENTRY_COMMAND, .body = body.ptr, .len = body.len},
                            {.index = 3, .term = 1, .kind = MK_ENTRY_NOOP}};
    mk_gsync_msg_t m = {.kind = MK_GSYNC_FETCH_RESP,
                       .fetch_resp = {.sid = 1, .first = 2, .prev_term = 1, .entries = en, .nentries = 2}};
    mk_buf_t ok = MK_BUF_INIT;
    assert_int_equal(mk_gsync_msg_encode(&m, &ok, NULL), MK_OK);
    mk_buf_free(&ok);
    en[1].index = 4;
    expect_einval(&m, "entries[1].index: 4, not first + 1");
    en[1].index = 3;
    en[1].kind = 4;
    expect_einval(&m, "entries[1].kind: 4 > 3");
    en[1].kind = MK_ENTRY_NOOP;
    en[1].term = 0;
    expect_einval(&m, "entries[1].term: 0 below 1");
    en[1].term = 1;
    m.fetch_resp.prev_term = 2;
    expect_einval(&m, "entries[0].term: 1 below 2");
    m.fetch_resp.prev_term = 0;
    expect_einval(&m, "prev_term: 0 before index 2");
    m.fetch_resp.prev_term = 1;
    en[1].len = 1;
    en[1].body = "x";
    expect_einval(&m, "entries[1].body");
    en[1].body = NULL;
    expect_einval(&m, "entries[1].body: NULL with length 1");
    en[1].len = 0;
    m.fetch_resp.entries = NULL;
    expect_einval(&m, "entries: NULL with count 2");
    m.fetch_resp.entries = en;
    m.fetch_resp.first = UINT64_MAX;
    en[0].index = UINT64_MAX;
    expect_einval(&m, "entries: index overflow");
    m.fetch_resp.first = 1;
    m.fetch_resp.prev_term = 1;
    expect_einval(&m, "prev_term: 1 before index 1");
    m.fetch_resp.nentries = 0;
    expect_einval(&m, "prev_term: 1 in a gone response");
    mk_buf_free(&body);
}

static void test_refused_header(void **state) {
    (void)state;
    /* SnapshotReady carries a header that must decode, with config_index ≤ anchor.index */
    refused_hex("05 09 02 05 00 48 O 01 01 A 07 01 03 78 79", "SnapshotReady.header", "truncated");
    refused_hex("05 09 02 05 00 48 O 00 01 A 07 01 03 78 79 7a", "SnapshotReady.header", "config_index");
    refused_hex("05 09 02 05 00 24 O 01 00 00 00", "SnapshotReady.header", "no voters");
    refused_hex("05 09 02 05 00 66 O 01 02 B 01 A 01 00 00", "SnapshotReady.header", "voters not sorted");
    refused_hex("05 09 02 05 00 66 O 01 02 A 01 A 01 00 00", "SnapshotReady.header", "duplicate voter");
    refused_hex("05 09 02 05 00 48 O 01 01 A 07 02 03 78 79 7a", "SnapshotReady.header", "bad bool");
    refused_hex("05 09 02 05 00 49 O 01 01 A 07 01 03 78 79 7a 00", "SnapshotReady.header", "trailing");
    refused_hex("05 09 02 05 00 48 O 06 01 A 07 01 03 78 79 7a", "SnapshotReady.header.config_index",
                "config index 6 above the anchor 5");
    refused_hex("05 09 02 05 00 48 O 05 01 A 07 01 03 78 79", "SnapshotReady", NULL);  /* header past the end */
    /* config_index = anchor.index is fine */
    uint8_t in[256];
    size_t n = hex("05 09 02 05 00 48 O 05 01 A 07 01 03 78 79 7a", in, sizeof in);
    mk_gsync_msg_t d;
    assert_int_equal(mk_gsync_msg_decode(in, n, &d, NULL), MK_OK);
    mk_gsync_msg_free(&d);

    /* header on its own */
    uint8_t h[256];
    mk_error_t e;
    n = hex("O 01 21", h, sizeof h);
    assert_int_equal(mk_gsync_snap_header_decode(h, n, NULL, &e), MK_EPROTO);
    assert_non_null(strstr(e.msg, "voters"));
    assert_non_null(strstr(e.msg, "count 33 > cap 32"));

    /* encoder */
    mk_gsync_snap_header_t hd;
    memset(&hd, 0, sizeof hd);
    mk_buf_t out = MK_BUF_INIT;
    hd.nvoters = 1;
    assert_int_equal(mk_gsync_snap_header_encode(&hd, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "config_index"));
    hd.config_index = 1;
    hd.nvoters = 0;
    assert_int_equal(mk_gsync_snap_header_encode(&hd, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "no voters"));
    hd.nvoters = 33;
    assert_int_equal(mk_gsync_snap_header_encode(&hd, &out, &e), MK_EINVAL);
    hd.nvoters = 2;
    hd.voters[0].peer = B;
    hd.voters[1].peer = A;
    assert_int_equal(mk_gsync_snap_header_encode(&hd, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "voters[1].peer: voters not sorted"));
    hd.voters[0].peer = A;
    hd.voters[1].peer = B;
    hd.sessions = (mk_bytes_t){NULL, 4};
    assert_int_equal(mk_gsync_snap_header_encode(&hd, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "sessions"));
    assert_int_equal(out.len, 0);
    hd.sessions = (mk_bytes_t){NULL, 0};
    assert_int_equal(mk_gsync_snap_header_encode(&hd, &out, &e), MK_OK);
    /* SnapshotReady's encoder checks its header */
    mk_gsync_msg_t m = {.kind = MK_GSYNC_SNAPSHOT_READY,
                       .snapshot_ready = {.req_id = 1, .anchor = {1, 1}, .header = {out.ptr, out.len}}};
    mk_buf_t b = MK_BUF_INIT;
    assert_int_equal(mk_gsync_msg_encode(&m, &b, NULL), MK_OK);
    mk_buf_free(&b);
    m.snapshot_ready.header.len--;
    expect_einval(&m, "SnapshotReady.header");
    m.snapshot_ready.header.len++;
    ((uint8_t *)out.ptr)[32] = 2;  /* config_index 2 > anchor 1 */
    expect_einval(&m, "SnapshotReady.header.config_index: 2 above the anchor 1");
    m.snapshot_ready.anchor = (mk_cursor_t){0, 0};
    expect_einval(&m, "SnapshotReady.anchor");
    mk_buf_free(&out);
}

/* ---- FetchEntriesResponse from a store, cut to a byte limit ---------------------------------------------- */

static mk_log_store_t *filled_store(mk_index_t n, size_t payload_len) {
    mk_log_store_t *s = mk_log_store_memory();
    assert_non_null(s);
    char *payload = malloc(payload_len + 1);
    assert_non_null(payload);
    memset(payload, 'p', payload_len);
    payload[payload_len] = 0;
    for (mk_index_t i = 1; i <= n; i++) {
        mk_buf_t body = command_body(0, i, payload);
        mk_log_entry_t e = {.index = i, .term = 1 + i / 4, .kind = MK_ENTRY_COMMAND, .body = body.ptr, .len = body.len};
        assert_int_equal(s->vt->append(s->self, &e, 1), MK_OK);
        mk_buf_free(&body);
    }
    free(payload);
    return s;
}

static size_t fetch_from(mk_log_store_t *s, mk_index_t first, mk_index_t last, size_t max_bytes, mk_gsync_msg_t *d,
                         mk_buf_t *b) {
    size_t n = 99;
    *b = (mk_buf_t)MK_BUF_INIT;
    mk_error_t e;
    if (mk_gsync_fetch_resp_from_store(s, 42, first, last, max_bytes, b, &n, &e) != MK_OK) fail_msg("%s", e.msg);
    if (mk_gsync_msg_decode(b->ptr, b->len, d, &e) != MK_OK) fail_msg("%s", e.msg);
    assert_int_equal(d->kind, MK_GSYNC_FETCH_RESP);
    assert_int_equal(d->fetch_resp.sid, 42);
    assert_int_equal(d->fetch_resp.first, first);
    assert_int_equal(d->fetch_resp.nentries, n);
    return n;
}

static void test_fetch_resp_from_store(void **state) {
    (void)state;
    mk_log_store_t *s = filled_store(20, 100);  /* bodies of 103 bytes: 106-byte entries */
    mk_gsync_msg_t d;
    mk_buf_t b;
    /* no limit to speak of: all of [3, 12] */
    assert_int_equal(fetch_from(s, 3, 12, 1 << 20, &d, &b), 10);
    mk_term_t t;
    assert_int_equal(s->vt->term_at(s->self, 2, &t), MK_OK);
    assert_int_equal(d.fetch_resp.prev_term, t);
    for (size_t i = 0; i < 10; i++) {
        mk_log_entry_t want;
        assert_int_equal(s->vt->get(s->self, 3 + i, &want), MK_OK);
        const mk_log_entry_t *got = &d.fetch_resp.entries[i];
        assert_int_equal(got->index, want.index);
        assert_int_equal(got->term, want.term);
        assert_true(bytes_eq(got->body, got->len, want.body, want.len));
    }
    size_t full = b.len;
    mk_gsync_msg_free(&d);
    mk_buf_free(&b);
    /* every limit: the longest prefix whose whole message fits, at least one entry, entry boundaries */
    for (size_t limit = 0; limit <= full + 1; limit += 7) {
        size_t n = fetch_from(s, 3, 12, limit, &d, &b);
        assert_true(n >= 1);
        if (n > 1) assert_true(b.len <= limit);
        if (n < 10) {  /* one more entry would not have fitted */
            mk_buf_t more = MK_BUF_INIT;
            mk_gsync_msg_t m2 = d;
            m2.fetch_resp.nentries = n + 1;
            mk_log_entry_t *en = malloc((n + 1) * sizeof *en);
            assert_non_null(en);
            for (size_t i = 0; i <= n; i++) {
                mk_log_entry_t g;
                assert_int_equal(s->vt->get(s->self, 3 + i, &g), MK_OK);
                en[i] = g;
                uint8_t *copy = malloc(g.len);
                assert_non_null(copy);
                memcpy(copy, g.body, g.len);
                en[i].body = copy;
            }
            m2.fetch_resp.entries = en;
            assert_int_equal(mk_gsync_msg_encode(&m2, &more, NULL), MK_OK);
            assert_true(more.len > limit);
            for (size_t i = 0; i <= n; i++) free((void *)en[i].body);
            free(en);
            mk_buf_free(&more);
        }
        mk_gsync_msg_free(&d);
        mk_buf_free(&b);
    }
    /* last beyond the store: clamped; the entry cap */
    assert_int_equal(fetch_from(s, 18, 1000, 1 << 20, &d, &b), 3);
    mk_gsync_msg_free(&d);
    mk_buf_free(&b);
    /* pruned: gone (also for first beyond the log) */
    assert_int_equal(s->vt->prune_prefix(s->self, 5), MK_OK);
    assert_int_equal(fetch_from(s, 5, 10, 1 << 20, &d, &b), 0);
    assert_int_equal(d.fetch_resp.prev_term, 0);
    mk_gsync_msg_free(&d);
    mk_buf_free(&b);
    assert_int_equal(fetch_from(s, 6, 10, 1 << 20, &d, &b), 5);  /* the base's term is known */
    mk_gsync_msg_free(&d);
    mk_buf_free(&b);
    assert_int_equal(fetch_from(s, 21, 30, 1 << 20, &d, &b), 0);
    mk_gsync_msg_free(&d);
    mk_buf_free(&b);
    /* bad arguments */
    b = (mk_buf_t)MK_BUF_INIT;
    assert_int_equal(mk_gsync_fetch_resp_from_store(s, 1, 0, 3, 100, &b, NULL, NULL), MK_EINVAL);
    assert_int_equal(mk_gsync_fetch_resp_from_store(s, 1, 4, 3, 100, &b, NULL, NULL), MK_EINVAL);
    assert_int_equal(b.len, 0);
    mk_log_store_free(s);

    /* first 1: prev_term 0; more entries than the cap: cut at MK_GSYNC_MAX_ENTRIES */
    s = filled_store(MK_GSYNC_MAX_ENTRIES + 10, 0);
    assert_int_equal(fetch_from(s, 1, MK_GSYNC_MAX_ENTRIES + 10, SIZE_MAX, &d, &b), MK_GSYNC_MAX_ENTRIES);
    assert_int_equal(d.fetch_resp.prev_term, 0);
    mk_gsync_msg_free(&d);
    mk_buf_free(&b);
    mk_log_store_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_golden_simple, setup),
        cmocka_unit_test_setup(test_golden_fetch_resp, setup),
        cmocka_unit_test_setup(test_golden_snapshot, setup),
        cmocka_unit_test_setup(test_round_trips, setup),
        cmocka_unit_test_setup(test_refused_framing, setup),
        cmocka_unit_test_setup(test_refused_ranges, setup),
        cmocka_unit_test_setup(test_refused_entries, setup),
        cmocka_unit_test_setup(test_refused_header, setup),
        cmocka_unit_test_setup(test_fetch_resp_from_store, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
