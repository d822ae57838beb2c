/* unit/discovery/test_merge_rules.c — the sans-I/O catalog store against spec 20 §1.4 row by row (the
 * order of the checks matters: cheap checks come before the signature), tombstones, unsigned vs signed,
 * purge timing, capacity and departures; plus the RTT tracker's RFC 6298 smoothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "discovery/rtt.h"
#include "discovery/store.h"

#include <stdlib.h>
#include <string.h>

#define NOW 1700000000000LL
#define PURGE 300000u
#define DRIFT 10000u

static mk_network_id_t NET;
static mk_peer_id_t SELF;

static const mk_peer_entry_t *entry(const char *who, const mk_network_id_t *net, uint64_t start, uint64_t update,
                                    const char *tag, const char *signer) {
    mk_secret_key_t sk, sg;
    mk_secret_key_from_str(who, &sk);
    mk_secret_key_from_str(signer ? signer : who, &sg);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    mk_entry_draft_init(d, net ? net : &NET, &pub);
    d->version = (mk_entry_version_t){start, update};
    if (tag) {
        mk_id_t t = mk_id_from_str(tag);
        mk_entry_draft_add_tag(d, &t);
    }
    const mk_peer_entry_t *e = NULL;
    if (signer && strcmp(signer, who) != 0) {
        /* a signature by another key: seal with the right one, then re-sign the body with the wrong one */
        assert_int_equal(mk_entry_draft_seal(d, &sk, &e, NULL), MK_OK);
        uint8_t *w = malloc(e->wire_len);
        memcpy(w, e->wire, e->wire_len);
        mk_entry_sign_body(e->wire + e->body_off, e->body_len, &sg, w + e->wire_len - 64);
        const mk_peer_entry_t *f = NULL;
        assert_int_equal(mk_entry_from_wire(w, e->wire_len, true, &f, NULL, NULL), MK_OK);
        mk_peer_entry_unref(e);
        e = f;
    } else {
        assert_int_equal(mk_entry_draft_seal(d, &sk, &e, NULL), MK_OK);
    }
    mk_entry_draft_free(d);
    free(d);
    return e;
}

static mk_store_t *store(uint32_t max_peers) {
    NET = mk_id_from_str("net");
    mk_secret_key_t sk;
    mk_secret_key_from_str("self", &sk);
    SELF = mk_secret_key_public(&sk);
    mk_store_params_t p = {.network = NET, .self = SELF, .purge_after_ms = PURGE, .max_time_drift_ms = DRIFT,
                           .max_peers = max_peers};
    return mk_store_new(&p);
}

static int offer(mk_store_t *s, const mk_peer_entry_t *e, int64_t now, mk_store_result_t *res) {
    int v = mk_store_offer(s, e->wire, e->wire_len, now, res);
    mk_peer_entry_unref(res->entry);
    res->entry = NULL;
    return v;
}

static void each_row_of_the_table(void **state) {
    (void)state;
    mk_store_t *s = store(10);
    mk_store_result_t r;
    uint64_t t = (uint64_t)NOW;
    /* 1 malformed */
    assert_int_equal(mk_store_offer(s, "\x01\x02", 2, NOW, &r), MK_STORE_REJECTED);
    assert_int_equal(r.reject, MK_REJ_MALFORMED);
    /* 2 wrong network beats a bad signature */
    mk_network_id_t other = mk_id_from_str("other");
    const mk_peer_entry_t *e = entry("a", &other, t, t, NULL, "zz");
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_REJECTED);
    assert_int_equal(r.reject, MK_REJ_WRONG_NETWORK);
    mk_peer_entry_unref(e);
    /* 3 self */
    e = entry("self", NULL, t, t + 5, NULL, NULL);
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_SELF);
    mk_peer_entry_unref(e);
    /* 4 future beats a bad signature; now + drift is still fine */
    e = entry("a", NULL, t, t + DRIFT + 1, NULL, "zz");
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_REJECTED);
    assert_int_equal(r.reject, MK_REJ_FUTURE);
    mk_peer_entry_unref(e);
    /* 5 stale */
    e = entry("a", NULL, t - PURGE - 10, t - PURGE - 1, NULL, NULL);
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_REJECTED);
    assert_int_equal(r.reject, MK_REJ_STALE);
    mk_peer_entry_unref(e);
    /* 8 bad signature */
    e = entry("a", NULL, t, t, NULL, "zz");
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_REJECTED);
    assert_int_equal(r.reject, MK_REJ_BAD_SIGNATURE);
    mk_peer_entry_unref(e);
    /* new, duplicate (6), updated with and without content change */
    e = entry("a", NULL, t, t + DRIFT, "x", NULL);
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_NEW);
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_DUPLICATE);
    mk_peer_entry_unref(e);
    e = entry("a", NULL, t, t + DRIFT - 1, "x", NULL);  /* older */
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_DUPLICATE);
    mk_peer_entry_unref(e);
    e = entry("a", NULL, t + 1, t + 2, "x", NULL);  /* newer start wins lexicographically */
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_UPDATED);
    assert_false(r.content_changed);
    mk_peer_entry_unref(e);
    e = entry("a", NULL, t + 1, t + 3, "y", NULL);
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_UPDATED);
    assert_true(r.content_changed);
    mk_peer_entry_unref(e);
    mk_store_free(s);
}

static void capacity_counts_signed_and_unsigned(void **state) {
    (void)state;
    mk_store_t *s = store(2);
    mk_store_result_t r;
    uint64_t t = (uint64_t)NOW;
    const mk_peer_entry_t *a = entry("a", NULL, t, t, NULL, NULL), *b = entry("b", NULL, t, t, NULL, NULL),
                          *c = entry("c", NULL, t, t, NULL, NULL);
    assert_int_equal(offer(s, a, NOW, &r), MK_STORE_NEW);
    assert_int_equal(offer(s, b, NOW, &r), MK_STORE_NEW);
    assert_int_equal(offer(s, c, NOW, &r), MK_STORE_REJECTED);
    assert_int_equal(r.reject, MK_REJ_FULL);
    mk_peer_entry_unref(a);
    mk_peer_entry_unref(b);
    mk_peer_entry_unref(c);
    mk_store_free(s);
}

static void tombstones_block_late_copies_but_not_restarts(void **state) {
    (void)state;
    mk_store_t *s = store(10);
    mk_store_result_t r;
    uint64_t t = (uint64_t)NOW;
    const mk_peer_entry_t *e = entry("a", NULL, t - 100, t - 50, NULL, NULL);
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_NEW);
    mk_secret_key_t sk;
    mk_secret_key_from_str("a", &sk);
    mk_departure_t dep = {.peer = e->peer, .version = e->version, .at_ms = t};
    mk_departure_sign(&dep, &NET, &sk);
    const mk_peer_entry_t *last = NULL;
    /* stamped too far from now: ignored */
    mk_departure_t old = dep;
    old.at_ms = t - 60000;
    mk_departure_sign(&old, &NET, &sk);
    assert_int_equal(mk_store_apply_departure(s, &old, NOW, &last), MK_STORE_DEPART_OUT_OF_WINDOW);
    mk_departure_t forged = dep;
    forged.sig[0] ^= 1;
    assert_int_equal(mk_store_apply_departure(s, &forged, NOW, &last), MK_STORE_DEPART_BAD_SIGNATURE);
    assert_int_equal(mk_store_apply_departure(s, &dep, NOW, &last), MK_STORE_DEPART_ACCEPTED);
    assert_non_null(last);
    mk_peer_entry_unref(last);
    assert_false(mk_store_has_peer(s, &e->peer));
    assert_int_equal(mk_store_apply_departure(s, &dep, NOW, &last), MK_STORE_DEPART_IGNORED);
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_DEPARTED);  /* the late copy */
    mk_peer_entry_unref(e);
    e = entry("a", NULL, t, t, NULL, NULL);  /* restarted: larger start */
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_NEW);
    mk_peer_entry_unref(e);
    mk_store_free(s);
}

static void unsigned_entries_yield_to_signed_ones(void **state) {
    (void)state;
    mk_store_t *s = store(10);
    mk_store_result_t r;
    uint64_t t = (uint64_t)NOW;
    mk_peer_id_t pa = mk_secret_key_public(&(mk_secret_key_t){{0}});
    mk_secret_key_t ska;
    mk_secret_key_from_str("a", &ska);
    pa = mk_secret_key_public(&ska);
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    mk_entry_draft_init(d, &NET, &pa);
    d->version = (mk_entry_version_t){t, t};
    const mk_peer_entry_t *u = NULL;
    assert_int_equal(mk_entry_draft_seal(d, NULL, &u, NULL), MK_OK);
    assert_int_equal(mk_store_insert_unsigned(s, u), MK_STORE_NEW);
    mk_store_counts_t c;
    mk_store_counts(s, &c);
    assert_int_equal(c.unsigned_peers, 1);
    const mk_peer_entry_t *sgn = entry("a", NULL, t, t, NULL, NULL);
    assert_int_equal(offer(s, sgn, NOW, &r), MK_STORE_UPDATED);
    assert_true(r.replaced_unsigned);
    assert_int_equal(mk_store_insert_unsigned(s, u), MK_STORE_IGNORED);
    mk_entry_draft_init(d, &NET, &SELF);
    const mk_peer_entry_t *me = NULL;
    assert_int_equal(mk_entry_draft_seal(d, NULL, &me, NULL), MK_OK);
    assert_int_equal(mk_store_insert_unsigned(s, me), MK_EINVAL);
    /* unsigned entries never expire; signed ones do, exactly after purge_after */
    mk_store_purge(s, NOW + PURGE, NULL, NULL);
    assert_true(mk_store_has_peer(s, &pa));
    mk_store_purge(s, NOW + PURGE + 1, NULL, NULL);
    assert_false(mk_store_has_peer(s, &pa));
    mk_peer_entry_unref(u);
    mk_peer_entry_unref(sgn);
    mk_peer_entry_unref(me);
    free(d);
    mk_store_free(s);
}

static void rtt_follows_rfc6298(void **state) {
    (void)state;
    mk_rtt_tracker_t *t = mk_rtt_new();
    mk_peer_id_t p = mk_id_from_str("p"), q = mk_id_from_str("q");
    mk_rtt_record(t, &p, 100000, 1);
    int64_t srtt, var;
    uint32_t k;
    assert_true(mk_rtt_get(t, &p, &srtt, &var, &k, NULL));
    assert_int_equal(srtt, 100000);
    assert_int_equal(var, 50000);
    for (int i = 0; i < 50; i++) mk_rtt_record(t, &p, 200000, 2 + i);
    assert_true(mk_rtt_get(t, &p, &srtt, &var, &k, NULL));
    assert_true(srtt > 195000);
    assert_int_equal(k, 51);
    assert_false(mk_rtt_get(t, &q, NULL, NULL, NULL, NULL));
    mk_peer_id_t cand[2] = {p, q}, out[2];
    assert_int_equal(mk_rtt_stale(t, cand, 2, 1000, out, 2), 2);  /* q (no sample) first, then p */
    assert_memory_equal(out[0].b, q.b, 32);
    mk_rtt_forget(t, &p);
    assert_false(mk_rtt_get(t, &p, NULL, NULL, NULL, NULL));
    mk_rtt_unref(t);
}

static void self_newer_needs_a_valid_signature_and_a_date_within_drift(void **state) {
    (void)state;
    mk_store_t *s = store(10);
    mk_store_result_t r;
    uint64_t t = (uint64_t)NOW;
    const mk_peer_entry_t *local = entry("self", NULL, t, t, NULL, NULL);
    mk_store_set_local(s, local);
    const mk_peer_entry_t *e = entry("self", NULL, t, t + 5, NULL, NULL);  /* our key, used elsewhere */
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_SELF);
    assert_true(r.self_newer);
    mk_peer_entry_unref(e);
    e = entry("self", NULL, t, t + 5, "x", "zz");  /* forged: someone else's signature */
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_SELF);
    assert_false(r.self_newer);
    mk_peer_entry_unref(e);
    e = entry("self", NULL, t, t + DRIFT + 1000, NULL, NULL);  /* genuine but beyond the drift */
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_SELF);
    assert_false(r.self_newer);
    mk_peer_entry_unref(e);
    e = entry("self", NULL, t - 10, t - 5, NULL, NULL);  /* older than ours */
    assert_int_equal(offer(s, e, NOW, &r), MK_STORE_SELF);
    assert_false(r.self_newer);
    mk_peer_entry_unref(e);
    mk_peer_entry_unref(local);
    mk_store_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_row_of_the_table),
        cmocka_unit_test(self_newer_needs_a_valid_signature_and_a_date_within_drift),
        cmocka_unit_test(capacity_counts_signed_and_unsigned),
        cmocka_unit_test(tombstones_block_late_copies_but_not_restarts),
        cmocka_unit_test(unsigned_entries_yield_to_signed_ones),
        cmocka_unit_test(rtt_follows_rfc6298),
    };
    return cmocka_run_group_tests_name("unit.discovery.merge_rules", tests, NULL, NULL);
}
