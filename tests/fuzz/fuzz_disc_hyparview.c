/* fuzz/fuzz_disc_hyparview.c — the overlay state machine under arbitrary event sequences: after every
 * input |active| ≤ A, |passive| ≤ P, the views are disjoint and never hold the local id. Each input byte
 * pair is (event, peer index among 12 ids). */
#include "discovery/hyparview.h"
#include "fuzz/fuzz_check.h"

#include <string.h>

#define PEERS 12

static void check(const mk_hpv_t *h, const mk_peer_id_t *self, uint32_t A, uint32_t P) {
    mk_hpv_sizes_t s;
    mk_hpv_sizes(h, &s);
    CHECK(s.active <= A && s.passive <= P);
    mk_peer_id_t act[64];
    size_t na = mk_hpv_active(h, act, 64);
    for (size_t i = 0; i < na; i++) {
        CHECK(!mk_id_eq(&act[i], self));
        CHECK(!mk_hpv_is_passive(h, &act[i]));
        for (size_t j = i + 1; j < na; j++) CHECK(!mk_id_eq(&act[i], &act[j]));
    }
    CHECK(!mk_hpv_is_passive(h, self));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mk_peer_id_t ids[PEERS];
    for (int i = 0; i < PEERS; i++) ids[i] = mk_id_from_u64((uint64_t)i + 1);
    const uint32_t A = 3, P = 5;
    mk_hpv_params_t p = {.self = ids[0], .active = A, .passive = P, .shuffle_interval_ms = 1000, .seed = 7};
    mk_hpv_t *h = mk_hpv_new(&p);
    if (!h) return 0;
    int64_t now = 0;
    for (size_t i = 0; i + 1 < size; i += 2) {
        const mk_peer_id_t *a = &ids[data[i + 1] % PEERS], *b = &ids[(data[i + 1] / PEERS) % PEERS];
        uint8_t ttl = (uint8_t)(data[i + 1] % 8);
        now += 100;
        switch (data[i] % 13) {
        case 0: mk_hpv_on_join(h, a, now); break;
        case 1: mk_hpv_on_neighbor(h, a, data[i] & 0x80, now); break;
        case 2: mk_hpv_on_welcome(h, a, now); break;
        case 3: mk_hpv_on_neighbor_reply(h, a, data[i] & 0x80, now); break;
        case 4: mk_hpv_on_forward_join(h, a, b, ttl, now); break;
        case 5: mk_hpv_on_disconnect(h, a, data[i] & 0x80, now); break;
        case 6: mk_hpv_on_link_down(h, a, data[i] & 0x80, now); break;
        case 7: mk_hpv_on_dial_failed(h, a, now); break;
        case 8: mk_hpv_on_shuffle(h, a, b, ttl, ids, data[i + 1] % 9, now); break;
        case 9: mk_hpv_on_shuffle_reply(h, a, ids + 3, data[i + 1] % 9, now); break;
        case 10: mk_hpv_learned(h, a); break;
        case 11: mk_hpv_forget(h, a, now); break;
        default: mk_hpv_tick(h, now + 10000); break;
        }
        mk_hpv_effect_t ef;
        while (mk_hpv_next_effect(h, &ef)) CHECK(ef.nsample <= MK_HPV_SAMPLE_MAX);
        check(h, &ids[0], A, P);
    }
    mk_hpv_free(h);
    return 0;
}
