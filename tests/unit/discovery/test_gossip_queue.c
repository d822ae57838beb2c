/* unit/discovery/test_gossip_queue.c — one neighbour's gossip queue (spec 20 §3.2): newest version per
 * peer only, urgent items due at once, the rest after the flush interval, batches bounded by bytes, and
 * copies the neighbour already holds dropped; plus the entry's cached signature check. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "discovery/gossip_queue.h"

#include <stdlib.h>
#include <string.h>

static const mk_peer_entry_t *entry(const char *who, uint64_t update) {
    mk_secret_key_t sk;
    mk_secret_key_from_str(who, &sk);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    mk_network_id_t net = mk_id_from_str("net");
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    mk_entry_draft_init(d, &net, &pub);
    d->version = (mk_entry_version_t){1000, update};
    const mk_peer_entry_t *e = NULL;
    assert_int_equal(mk_entry_draft_seal(d, &sk, &e, NULL), MK_OK);
    mk_entry_draft_free(d);
    free(d);
    return e;
}

static void push_keeps_only_the_newest_version_per_peer(void **state) {
    (void)state;
    mk_gossip_queue_t *q = mk_gossip_queue_new(1000);
    const mk_peer_entry_t *a1 = entry("a", 10), *a2 = entry("a", 20), *b = entry("b", 10);
    mk_gossip_queue_push(q, a1, false, 0);
    mk_gossip_queue_push(q, b, false, 0);
    mk_gossip_queue_push(q, a2, false, 0);
    mk_gossip_queue_push(q, a1, false, 0);  /* older than what is queued: ignored */
    assert_int_equal(mk_gossip_queue_len(q), 2);
    const mk_peer_entry_t *out[4];
    assert_int_equal(mk_gossip_queue_take(q, out, 4, 1 << 20), 2);
    assert_ptr_equal(out[0], a2);
    assert_ptr_equal(out[1], b);
    for (int i = 0; i < 2; i++) mk_peer_entry_unref(out[i]);
    mk_peer_entry_unref(a1);
    mk_peer_entry_unref(a2);
    mk_peer_entry_unref(b);
    mk_gossip_queue_free(q);
}

static void urgent_items_are_due_at_once_and_others_after_the_interval(void **state) {
    (void)state;
    mk_gossip_queue_t *q = mk_gossip_queue_new(1000);
    const mk_peer_entry_t *a = entry("a", 10), *b = entry("b", 10);
    assert_int_equal(mk_gossip_queue_next_due(q, 0), -1);
    mk_gossip_queue_push(q, a, false, 5000);
    assert_false(mk_gossip_queue_due(q, 5999));
    assert_int_equal(mk_gossip_queue_next_due(q, 5400), 600);
    assert_true(mk_gossip_queue_due(q, 6000));
    mk_gossip_queue_push(q, b, true, 5100);
    assert_true(mk_gossip_queue_due(q, 5100));
    assert_int_equal(mk_gossip_queue_next_due(q, 5100), 0);
    const mk_peer_entry_t *out[4];
    size_t k = mk_gossip_queue_take(q, out, 4, 1 << 20);
    assert_int_equal(k, 2);
    for (size_t i = 0; i < k; i++) mk_peer_entry_unref(out[i]);
    assert_false(mk_gossip_queue_due(q, 99999));  /* empty: urgency is gone with the items */
    mk_peer_entry_unref(a);
    mk_peer_entry_unref(b);
    mk_gossip_queue_free(q);
}

static void take_stops_at_the_byte_bound_but_always_moves_one(void **state) {
    (void)state;
    mk_gossip_queue_t *q = mk_gossip_queue_new(1);
    const mk_peer_entry_t *a = entry("a", 10), *b = entry("b", 10), *c = entry("c", 10);
    mk_gossip_queue_push(q, a, false, 0);
    mk_gossip_queue_push(q, b, false, 0);
    mk_gossip_queue_push(q, c, false, 0);
    const mk_peer_entry_t *out[4];
    assert_int_equal(mk_gossip_queue_take(q, out, 4, 1), 1);  /* one even over the bound */
    mk_peer_entry_unref(out[0]);
    assert_int_equal(mk_gossip_queue_take(q, out, 4, a->wire_len * 2), 2);
    mk_peer_entry_unref(out[0]);
    mk_peer_entry_unref(out[1]);
    assert_int_equal(mk_gossip_queue_len(q), 0);
    mk_peer_entry_unref(a);
    mk_peer_entry_unref(b);
    mk_peer_entry_unref(c);
    mk_gossip_queue_free(q);
}

static void drop_known_removes_copies_the_neighbour_holds_and_keeps_newer_ones(void **state) {
    (void)state;
    mk_gossip_queue_t *q = mk_gossip_queue_new(1000);
    const mk_peer_entry_t *a = entry("a", 20), *b = entry("b", 20), *c = entry("c", 20);
    mk_gossip_queue_push(q, a, true, 0);
    mk_gossip_queue_push(q, b, false, 0);
    mk_gossip_queue_push(q, c, false, 0);
    /* the neighbour sent us a@20: our copy is nothing new to it */
    assert_true(mk_gossip_queue_drop_known(q, &a->peer, a->version));
    /* it sent us b@10: our b@20 is newer and stays */
    assert_false(mk_gossip_queue_drop_known(q, &b->peer, (mk_entry_version_t){1000, 10}));
    /* c@30 beats our c@20 */
    assert_true(mk_gossip_queue_drop_known(q, &c->peer, (mk_entry_version_t){1000, 30}));
    assert_false(mk_gossip_queue_drop_known(q, &a->peer, a->version));  /* nothing left of a */
    assert_int_equal(mk_gossip_queue_len(q), 1);
    const mk_peer_entry_t *out[2];
    assert_int_equal(mk_gossip_queue_take(q, out, 2, 1 << 20), 1);
    assert_ptr_equal(out[0], b);
    mk_peer_entry_unref(out[0]);
    mk_gossip_queue_push(q, a, true, 0);
    assert_true(mk_gossip_queue_drop_known(q, &a->peer, a->version));
    assert_false(mk_gossip_queue_due(q, 0));  /* the urgent item went: nothing is due */
    mk_peer_entry_unref(a);
    mk_peer_entry_unref(b);
    mk_peer_entry_unref(c);
    mk_gossip_queue_free(q);
}

static void verify_result_is_cached_and_a_flipped_bit_fails(void **state) {
    (void)state;
    const mk_peer_entry_t *a = entry("a", 10);
    assert_true(mk_entry_verify(a));  /* sealed by its owner: valid */
    uint8_t *w = malloc(a->wire_len);
    memcpy(w, a->wire, a->wire_len);
    w[a->wire_len - 5] ^= 0x20;
    const mk_peer_entry_t *bad = NULL;
    assert_int_equal(mk_entry_from_wire(w, a->wire_len, true, &bad, NULL, NULL), MK_OK);
    assert_false(mk_entry_verify(bad));
    assert_false(mk_entry_verify(bad));  /* the cached answer is the same */
    uint8_t *w2 = malloc(a->wire_len);
    memcpy(w2, a->wire, a->wire_len);
    const mk_peer_entry_t *good = NULL;
    assert_int_equal(mk_entry_from_wire(w2, a->wire_len, true, &good, NULL, NULL), MK_OK);
    assert_true(mk_entry_verify(good));  /* decoded bytes are checked, then cached */
    assert_true(mk_entry_verify(good));
    mk_peer_entry_unref(a);
    mk_peer_entry_unref(bad);
    mk_peer_entry_unref(good);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(push_keeps_only_the_newest_version_per_peer),
        cmocka_unit_test(urgent_items_are_due_at_once_and_others_after_the_interval),
        cmocka_unit_test(take_stops_at_the_byte_bound_but_always_moves_one),
        cmocka_unit_test(drop_known_removes_copies_the_neighbour_holds_and_keeps_newer_ones),
        cmocka_unit_test(verify_result_is_cached_and_a_flipped_bit_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
