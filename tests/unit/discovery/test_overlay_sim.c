/* unit/discovery/test_overlay_sim.c — HyParView (spec 20 §3.1) driven without sockets: 50 state
 * machines exchange their effects instantly; all join through node 0. The overlay must end connected,
 * every active view within 1..A, views symmetric enough to carry gossip, and the invariants must hold
 * at every step. Also the join, eviction and ForwardJoin rules on small cases. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "discovery/hyparview.h"

#include <stdlib.h>
#include <string.h>

#define N 50
#define A 5
#define P 30

static mk_hpv_t *h[N];
static mk_peer_id_t ids[N];
static int64_t now;

static int idx(const mk_peer_id_t *p) {
    for (int i = 0; i < N; i++)
        if (mk_id_eq(&ids[i], p)) return i;
    return -1;
}

static void invariants(int i) {
    mk_hpv_sizes_t s;
    mk_hpv_sizes(h[i], &s);
    assert_true(s.active <= A && s.passive <= P);
    mk_peer_id_t act[32];
    size_t na = mk_hpv_active(h[i], act, 32);
    for (size_t k = 0; k < na; k++) {
        assert_false(mk_id_eq(&act[k], &ids[i]));
        assert_false(mk_hpv_is_passive(h[i], &act[k]));
    }
}

/* Delivers every queued effect of every node until all queues are empty. */
static void pump(void) {
    bool any = true;
    int rounds = 0;
    while (any && rounds++ < 10000) {
        any = false;
        for (int i = 0; i < N; i++) {
            if (!h[i]) continue;
            mk_hpv_effect_t ef;
            while (mk_hpv_next_effect(h[i], &ef)) {
                any = true;
                int j = idx(&ef.peer);
                if (j < 0 || !h[j]) continue;
                switch (ef.kind) {
                case MK_HPV_OPEN:
                    if (ef.open_kind == MK_HPV_OPEN_JOIN) mk_hpv_on_join(h[j], &ids[i], now);
                    else if (ef.open_kind != MK_HPV_OPEN_SHUFFLE_REPLY)
                        mk_hpv_on_neighbor(h[j], &ids[i], ef.open_kind == MK_HPV_OPEN_NEIGHBOR_HIGH, now);
                    break;
                case MK_HPV_SEND:
                    switch (ef.msg) {
                    case MK_HPV_MSG_WELCOME: mk_hpv_on_welcome(h[j], &ids[i], now); break;
                    case MK_HPV_MSG_NEIGHBOR_REPLY: mk_hpv_on_neighbor_reply(h[j], &ids[i], ef.accept, now); break;
                    case MK_HPV_MSG_FORWARD_JOIN: mk_hpv_on_forward_join(h[j], &ids[i], &ef.about, ef.ttl, now); break;
                    case MK_HPV_MSG_DISCONNECT: mk_hpv_on_disconnect(h[j], &ids[i], ef.alive, now); break;
                    case MK_HPV_MSG_SHUFFLE:
                        mk_hpv_on_shuffle(h[j], &ids[i], &ef.about, ef.ttl, ef.sample, ef.nsample, now);
                        break;
                    case MK_HPV_MSG_SHUFFLE_REPLY: mk_hpv_on_shuffle_reply(h[j], &ids[i], ef.sample, ef.nsample, now); break;
                    }
                    break;
                default: break;
                }
                invariants(j);
            }
            invariants(i);
        }
    }
}

static bool connected(void) {
    bool seen[N] = {false};
    int queue[N], head = 0, tail = 0, reached = 1;
    seen[0] = true;
    queue[tail++] = 0;
    while (head < tail) {
        int i = queue[head++];
        mk_peer_id_t act[32];
        size_t na = mk_hpv_active(h[i], act, 32);
        for (size_t k = 0; k < na; k++) {
            int j = idx(&act[k]);
            if (j >= 0 && !seen[j]) {
                seen[j] = true;
                reached++;
                queue[tail++] = j;
            }
        }
    }
    return reached == N;
}

static void fifty_nodes_joining_one_contact_form_a_connected_overlay(void **state) {
    (void)state;
    for (int i = 0; i < N; i++) {
        ids[i] = mk_id_from_u64((uint64_t)i * 7919 + 1);
        mk_hpv_params_t p = {.self = ids[i], .active = A, .passive = P, .shuffle_interval_ms = 60000,
                             .seed = (uint64_t)i + 1};
        h[i] = mk_hpv_new(&p);
    }
    for (int i = 1; i < N; i++) {
        /* the runtime's contact dial: a Join to node 0, answered with Welcome */
        mk_hpv_on_join(h[0], &ids[i], now);
        pump();
    }
    for (int t = 0; t < 20; t++) {  /* a few repair/shuffle rounds */
        now += 3000;
        for (int i = 0; i < N; i++) mk_hpv_tick(h[i], now);
        pump();
    }
    assert_true(connected());
    for (int i = 0; i < N; i++) {
        mk_hpv_sizes_t s;
        mk_hpv_sizes(h[i], &s);
        if (s.active < 1 || s.active > A) fail_msg("node %d has %zu active neighbours", i, s.active);
    }
    for (int i = 0; i < N; i++) mk_hpv_free(h[i]);
}

static void a_full_contact_evicts_one_member_to_passive_and_forwards_the_join(void **state) {
    (void)state;
    mk_peer_id_t self = mk_id_from_u64(1000);
    mk_hpv_params_t p = {.self = self, .active = 2, .passive = 4, .seed = 3};
    mk_hpv_t *x = mk_hpv_new(&p);
    mk_peer_id_t a = mk_id_from_u64(1), b = mk_id_from_u64(2), c = mk_id_from_u64(3);
    mk_hpv_on_join(x, &a, 0);
    mk_hpv_on_join(x, &b, 0);
    mk_hpv_effect_t ef;
    while (mk_hpv_next_effect(x, &ef)) {}
    mk_hpv_on_join(x, &c, 0);
    int disconnects = 0, forwards = 0, welcomes = 0;
    while (mk_hpv_next_effect(x, &ef)) {
        if (ef.kind == MK_HPV_SEND && ef.msg == MK_HPV_MSG_DISCONNECT) {
            assert_true(ef.alive);
            disconnects++;
        }
        if (ef.kind == MK_HPV_SEND && ef.msg == MK_HPV_MSG_FORWARD_JOIN) {
            assert_int_equal(ef.ttl, MK_HPV_ARWL);
            assert_true(mk_id_eq(&ef.about, &c));
            forwards++;
        }
        if (ef.kind == MK_HPV_SEND && ef.msg == MK_HPV_MSG_WELCOME) welcomes++;
    }
    assert_int_equal(disconnects, 1);
    assert_int_equal(forwards, 1);
    assert_int_equal(welcomes, 1);
    assert_true(mk_hpv_is_active(x, &c));
    mk_hpv_sizes_t s;
    mk_hpv_sizes(x, &s);
    assert_int_equal(s.active, 2);
    assert_int_equal(s.passive, 1);  /* the evicted member */
    /* ForwardJoin with ttl 0 opens a Neighbor{high} link to the joiner */
    mk_peer_id_t j = mk_id_from_u64(9);
    mk_hpv_on_forward_join(x, &a, &j, 0, 0);
    bool opened = false;
    while (mk_hpv_next_effect(x, &ef))
        opened |= ef.kind == MK_HPV_OPEN && ef.open_kind == MK_HPV_OPEN_NEIGHBOR_HIGH && mk_id_eq(&ef.peer, &j);
    assert_true(opened);
    /* the local id never enters a view */
    mk_hpv_learned(x, &self);
    mk_hpv_on_join(x, &self, 0);
    assert_false(mk_hpv_is_active(x, &self) || mk_hpv_is_passive(x, &self));
    mk_hpv_free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fifty_nodes_joining_one_contact_form_a_connected_overlay),
        cmocka_unit_test(a_full_contact_evicts_one_member_to_passive_and_forwards_the_join),
    };
    return cmocka_run_group_tests_name("unit.discovery.overlay_sim", tests, NULL, NULL);
}
