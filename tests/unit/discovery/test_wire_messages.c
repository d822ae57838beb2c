/* unit/discovery/test_wire_messages.c — discovery wire messages (spec 20 §3.6, §4, §5): golden bytes in
 * the spec's field order, round trips, reserved tags, truncation at every offset, trailing bytes, the
 * sample limit, non-ascending digests, and 1 MiB frame splitting of sync replies. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "discovery/wire.h"

#include <stdlib.h>
#include <string.h>

static const mk_peer_entry_t *entry_of(const char *who, size_t ticket_bytes) {
    mk_secret_key_t sk;
    mk_secret_key_from_str(who, &sk);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    mk_network_id_t net = mk_id_from_str("wire-net");
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    mk_entry_draft_init(d, &net, &pub);
    d->version = (mk_entry_version_t){1, 2};
    uint8_t *blob = calloc(1, ticket_bytes ? ticket_bytes : 1);
    if (ticket_bytes) {
        mk_ticket_t t = {mk_id_from_str("blob"), blob, ticket_bytes};
        assert_int_equal(mk_entry_draft_add_ticket(d, &t), MK_OK);
    }
    const mk_peer_entry_t *e = NULL;
    assert_int_equal(mk_entry_draft_seal(d, &sk, &e, NULL), MK_OK);
    mk_entry_draft_free(d);
    free(d);
    free(blob);
    return e;
}

static void golden_small_messages(void **state) {
    (void)state;
    mk_buf_t b = MK_BUF_INIT;
    assert_int_equal(mk_wire_encode_disconnect(true, &b), MK_OK);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.ptr, "\x05\x01", 2);
    mk_buf_free(&b);
    assert_int_equal(mk_wire_encode_announce_ping(300, &b), MK_OK);  /* tag 10, varint 300 = ac 02 */
    assert_memory_equal(b.ptr, "\x0a\xac\x02", 3);
    mk_buf_free(&b);
    mk_network_id_t net = mk_id_from_str("wire-net");
    assert_int_equal(mk_wire_encode_ping(&net, 1, &b), MK_OK);  /* /mosaik/ping: 00 net nonce */
    assert_int_equal(b.len, 34);
    assert_int_equal(((uint8_t *)b.ptr)[0], 0);
    assert_memory_equal((uint8_t *)b.ptr + 1, net.b, 32);
    assert_int_equal(((uint8_t *)b.ptr)[33], 1);
    mk_buf_free(&b);
    /* SyncHello with an empty digest: 00 net summary(BLAKE3 of nothing) 00 */
    assert_int_equal(mk_wire_encode_sync_hello(&net, NULL, 0, &b), MK_OK);
    assert_int_equal(b.len, 66);
    mk_id_t empty = mk_id_hash("", 0);
    assert_memory_equal((uint8_t *)b.ptr + 33, empty.b, 32);
    assert_int_equal(((uint8_t *)b.ptr)[65], 0);
    mk_buf_free(&b);
}

static void announce_round_trips_keep_entry_bytes(void **state) {
    (void)state;
    const mk_peer_entry_t *e = entry_of("alice", 0);
    mk_bytes_t eb = {e->wire, e->wire_len};
    mk_network_id_t net = mk_id_from_str("wire-net");
    mk_buf_t b = MK_BUF_INIT;
    mk_wire_msg_t m;
    assert_int_equal(mk_wire_encode_neighbor(&net, eb, true, &b), MK_OK);
    assert_int_equal(mk_wire_decode_announce(b.ptr, b.len, &m, NULL), MK_OK);
    assert_int_equal(m.kind, MK_WIRE_NEIGHBOR);
    assert_true(m.flag);
    assert_memory_equal(m.network.b, net.b, 32);
    assert_int_equal(m.entry.len, e->wire_len);
    assert_memory_equal(m.entry.ptr, e->wire, e->wire_len);
    mk_peer_id_t who;
    assert_int_equal(mk_wire_entry_peer(m.entry, &who), MK_OK);
    assert_memory_equal(who.b, e->peer.b, 32);
    mk_wire_msg_free(&m);
    /* truncation at every offset and a trailing byte fail */
    for (size_t cut = 0; cut < b.len; cut++) assert_int_not_equal(mk_wire_decode_announce(b.ptr, cut, &m, NULL), MK_OK);
    mk_buf_append(&b, "", 1);
    mk_error_t err;
    assert_int_equal(mk_wire_decode_announce(b.ptr, b.len, &m, &err), MK_EPROTO);
    assert_non_null(strstr(err.msg, "trailing"));
    mk_buf_free(&b);
    /* Entries of three */
    const mk_peer_entry_t *v[3] = {e, e, e};
    assert_int_equal(mk_wire_encode_entries(v, 3, &b), MK_OK);
    assert_int_equal(mk_wire_decode_announce(b.ptr, b.len, &m, NULL), MK_OK);
    assert_int_equal(m.nentries, 3);
    mk_wire_msg_free(&m);
    mk_buf_free(&b);
    /* a sample of 9 entries is refused */
    mk_bytes_t nine[9];
    for (int i = 0; i < 9; i++) nine[i] = eb;
    uint8_t frame[4096];
    size_t n = 0;
    frame[n++] = MK_WIRE_SHUFFLE_REPLY;
    memcpy(frame + n, net.b, 32), n += 32;
    frame[n++] = 9;
    for (int i = 0; i < 9 && n + e->wire_len < sizeof frame; i++) memcpy(frame + n, nine[i].ptr, nine[i].len), n += nine[i].len;
    assert_int_equal(mk_wire_decode_announce(frame, n, &m, &err), MK_EPROTO);
    mk_peer_entry_unref(e);
}

static void reserved_and_unknown_tags_are_refused(void **state) {
    (void)state;
    uint8_t f[2] = {12, 0};
    mk_wire_msg_t m;
    mk_error_t err;
    assert_int_equal(mk_wire_decode_announce(f, 1, &m, &err), MK_EPROTO);
    f[0] = 31;
    assert_int_equal(mk_wire_decode_announce(f, 1, &m, &err), MK_EPROTO);
    f[0] = 32;
    assert_int_equal(mk_wire_decode_announce(f, 1, &m, &err), MK_EPROTO);
    mk_sync_msg_t s;
    f[0] = 3;
    assert_int_equal(mk_wire_decode_sync(f, 1, &s, &err), MK_EPROTO);
}

static void digests_must_ascend(void **state) {
    (void)state;
    mk_network_id_t net = mk_id_from_str("wire-net");
    mk_digest_item_t items[2] = {{mk_id_from_u64(2), {1, 1}}, {mk_id_from_u64(1), {1, 1}}};
    if (memcmp(items[0].peer.b, items[1].peer.b, 32) < 0) {
        mk_digest_item_t t = items[0];
        items[0] = items[1];
        items[1] = t;
    }
    mk_buf_t b = MK_BUF_INIT;
    assert_int_equal(mk_wire_encode_sync_hello(&net, items, 2, &b), MK_OK);  /* encoder does not sort */
    mk_sync_msg_t s;
    mk_error_t err;
    assert_int_equal(mk_wire_decode_sync(b.ptr, b.len, &s, &err), MK_EPROTO);
    assert_non_null(strstr(err.msg, "ascending"));
    mk_buf_free(&b);
    mk_digest_item_t t = items[0];
    items[0] = items[1];
    items[1] = t;
    assert_int_equal(mk_wire_encode_sync_hello(&net, items, 2, &b), MK_OK);
    assert_int_equal(mk_wire_decode_sync(b.ptr, b.len, &s, &err), MK_OK);
    assert_int_equal(s.ndigest, 2);
    mk_id_t sum = mk_sync_summary(items, 2);
    assert_memory_equal(s.summary.b, sum.b, 32);
    mk_sync_msg_free(&s);
    mk_buf_free(&b);
}

static void sync_replies_split_at_one_mebibyte(void **state) {
    (void)state;
    const mk_peer_entry_t *big = entry_of("big", 30000);  /* ≈ 30 KiB each */
    const mk_peer_entry_t *v[80];
    for (int i = 0; i < 80; i++) v[i] = big;  /* ≈ 2.4 MiB in all */
    size_t pos = 0, frames = 0;
    bool more = true;
    while (pos < 80) {
        mk_buf_t b = MK_BUF_INIT;
        size_t used = 0;
        if (frames == 0) assert_int_equal(mk_wire_encode_sync_reply(false, NULL, 0, v + pos, 80 - pos, false, &used, &b), MK_OK);
        else assert_int_equal(mk_wire_encode_sync_entries(v + pos, 80 - pos, false, &used, &b), MK_OK);
        assert_true(b.len <= MK_WIRE_FRAME_MAX);
        mk_sync_msg_t s;
        assert_int_equal(mk_wire_decode_sync(b.ptr, b.len, &s, NULL), MK_OK);
        assert_int_equal(s.nentries, used);
        more = s.more;
        mk_sync_msg_free(&s);
        mk_buf_free(&b);
        pos += used;
        frames++;
        assert_int_equal(more, pos < 80);
    }
    assert_true(frames >= 3);
    assert_false(more);
    mk_peer_entry_unref(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_small_messages),
        cmocka_unit_test(announce_round_trips_keep_entry_bytes),
        cmocka_unit_test(reserved_and_unknown_tags_are_refused),
        cmocka_unit_test(digests_must_ascend),
        cmocka_unit_test(sync_replies_split_at_one_mebibyte),
    };
    return cmocka_run_group_tests_name("unit.discovery.wire_messages", tests, NULL, NULL);
}
