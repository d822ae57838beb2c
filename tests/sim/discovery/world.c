/* tests/sim/discovery/world.c — a discovery-sim world: keys and stores of every node (derived from
 * the seed), the id → node index, and teardown. */
#include "sim/discovery/links.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_id(const void *a, const void *b) {
    return memcmp(a, b, sizeof(mk_peer_id_t));
}

int dworld_init(dworld_t *w, sim_t *s, const dparams_t *p) {
    memset(w, 0, sizeof *w);
    w->s = s;
    w->p = *p;
    w->departed = -1;
    w->epoch_ms = 1800000000000LL;
    w->net = mk_id_from_str("discovery-sim");
    w->count = p->n + (p->forger ? 1 : 0);
    w->nodes = calloc(w->count, sizeof *w->nodes);
    w->index = calloc(w->count, sizeof *w->index);
    if (!w->nodes || !w->index) return -1;
    for (uint32_t i = 0; i < w->count; i++) {
        dnode_t *n = &w->nodes[i];
        n->w = w;
        n->idx = i;
        char seed[64];
        snprintf(seed, sizeof seed, "discovery-sim/%llu/%u", (unsigned long long)s->seed, i);
        mk_secret_key_from_str(seed, &n->sk);
        n->id = mk_secret_key_public(&n->sk);
        n->skew_ms = sim_range(s, -200, 200);
        mk_entry_draft_init(&n->draft, &w->net, &n->id);
        mk_sock_addr_t a = {0};
        a.kind = MK_ADDR_IPV4;
        a.port = (uint16_t)(10000 + i % 50000);
        a.ip[0] = 10;
        a.ip[1] = (uint8_t)(i >> 16);
        a.ip[2] = (uint8_t)(i >> 8);
        a.ip[3] = (uint8_t)i;
        mk_entry_draft_set_addrs(&n->draft, &a, 1);
        mk_store_params_t sp = {.network = w->net, .self = n->id, .purge_after_ms = p->purge_after_ms,
                                .max_time_drift_ms = 10000, .max_peers = 10000};
        mk_hpv_params_t hp = {.self = n->id, .active = p->active, .passive = p->passive,
                              .shuffle_interval_ms = p->shuffle_ms, .seed = sim_rand(s)};
        n->store = mk_store_new(&sp);
        n->hpv = mk_hpv_new(&hp);
        if (!n->store || !n->hpv) return -1;
        for (int t = 0; t < T_COUNT; t++) n->armed_at[t] = -1;
        w->index[i].id = n->id;
        w->index[i].idx = i;
    }
    qsort(w->index, w->count, sizeof *w->index, by_id);
    return 0;
}

int64_t dworld_find(const dworld_t *w, const mk_peer_id_t *id) {
    size_t lo = 0, hi = w->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(w->index[mid].id.b, id->b, sizeof id->b);
        if (c == 0) return w->index[mid].idx;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

void dworld_free(dworld_t *w) {
    /* stop every node, then let the frames and timers in flight run out (they find nobody) */
    for (uint32_t i = 0; i < w->count; i++) dnode_kill(&w->nodes[i]);
    bool violated = w->s->violated;
    w->s->violated = false;
    sim_run_until(w->s, INT64_MAX);
    w->s->violated = violated;
    for (uint32_t i = 0; i < w->count; i++) {
        dnode_t *n = &w->nodes[i];
        mk_store_free(n->store);
        mk_hpv_free(n->hpv);
        mk_peer_entry_unref(n->local);
        mk_entry_draft_free(&n->draft);
        mk_secret_key_wipe(&n->sk);
    }
    for (size_t i = 0; i < w->nforged; i++) mk_peer_entry_unref(w->forged[i]);
    free(w->forged);
    free(w->nodes);
    free(w->index);
    memset(w, 0, sizeof *w);
}
