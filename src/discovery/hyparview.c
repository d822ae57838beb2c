/* discovery/hyparview.c — HyParView (spec 20 §3.1) as a pure state machine: views as small arrays,
 * pending link attempts, a splitmix64 PRNG, and an effect queue for the runtime. */
#include "discovery/hyparview.h"

#include <stdlib.h>
#include <string.h>

#define REPAIR_MS 2000
#define JOIN_RETRY_MS 5000
#define PENDING_TIMEOUT_MS 10000
#define MAX_PENDING 8

typedef struct pending {
    mk_peer_id_t peer;
    mk_hpv_open_kind_t kind;
    int64_t since;
} pending_t;

struct mk_hpv {
    mk_hpv_params_t p;
    mk_peer_id_t *active, *passive;
    size_t na, np;
    pending_t pend[MAX_PENDING];
    size_t npend;
    mk_peer_id_t sent_sample[MK_HPV_SAMPLE_MAX]; /* what our last shuffle offered (evicted first) */
    size_t nsent;
    uint64_t rng;
    int64_t next_repair, next_shuffle, next_join;
    mk_hpv_effect_t *fx;
    size_t nfx, capfx, headfx;
};

/* ---- helpers ---- */

static uint64_t rnd(mk_hpv_t *h) {
    uint64_t z = (h->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int64_t jitter(mk_hpv_t *h, int64_t base) {  /* base × U(0.5, 1.5) */
    return base / 2 + (int64_t)(rnd(h) % (uint64_t)(base > 0 ? base : 1));
}

static ptrdiff_t index_of(const mk_peer_id_t *v, size_t n, const mk_peer_id_t *id) {
    for (size_t i = 0; i < n; i++)
        if (mk_id_eq(&v[i], id)) return (ptrdiff_t)i;
    return -1;
}

static void remove_at(mk_peer_id_t *v, size_t *n, size_t i) {
    v[i] = v[*n - 1];
    (*n)--;
}

static bool is_self(const mk_hpv_t *h, const mk_peer_id_t *id) { return mk_id_eq(&h->p.self, id); }

static void emit(mk_hpv_t *h, const mk_hpv_effect_t *ef) {
    if (h->nfx == h->capfx) {
        if (h->headfx) {  /* compact first */
            memmove(h->fx, h->fx + h->headfx, (h->nfx - h->headfx) * sizeof *h->fx);
            h->nfx -= h->headfx;
            h->headfx = 0;
        }
        if (h->nfx == h->capfx) {
            size_t cap = h->capfx ? 2 * h->capfx : 16;
            mk_hpv_effect_t *v = realloc(h->fx, cap * sizeof *v);
            if (!v) return;
            h->fx = v;
            h->capfx = cap;
        }
    }
    h->fx[h->nfx++] = *ef;
}

static void send_msg(mk_hpv_t *h, const mk_peer_id_t *to, mk_hpv_msg_t msg, mk_hpv_effect_t *ef) {
    ef->kind = MK_HPV_SEND;
    ef->peer = *to;
    ef->msg = msg;
    emit(h, ef);
}

static void simple(mk_hpv_t *h, mk_hpv_effect_kind_t kind, const mk_peer_id_t *peer) {
    mk_hpv_effect_t ef = {.kind = kind, .peer = *peer};
    emit(h, &ef);
}

static ptrdiff_t pending_of(const mk_hpv_t *h, const mk_peer_id_t *peer) {
    for (size_t i = 0; i < h->npend; i++)
        if (mk_id_eq(&h->pend[i].peer, peer)) return (ptrdiff_t)i;
    return -1;
}

static void pending_drop(mk_hpv_t *h, const mk_peer_id_t *peer) {
    ptrdiff_t i = pending_of(h, peer);
    if (i >= 0) h->pend[i] = h->pend[--h->npend];
}

static void open_link(mk_hpv_t *h, const mk_peer_id_t *peer, mk_hpv_open_kind_t kind, int64_t now) {
    if (pending_of(h, peer) >= 0 || h->npend == MAX_PENDING) return;
    h->pend[h->npend++] = (pending_t){*peer, kind, now};
    mk_hpv_effect_t ef = {.kind = MK_HPV_OPEN, .peer = *peer, .open_kind = kind};
    emit(h, &ef);
}

/* ---- views ---- */

static void passive_add(mk_hpv_t *h, const mk_peer_id_t *peer) {
    if (is_self(h, peer) || index_of(h->active, h->na, peer) >= 0 || index_of(h->passive, h->np, peer) >= 0) return;
    if (h->p.passive == 0) return;
    if (h->np == h->p.passive) {
        /* evict what our last shuffle sent first, else a random member */
        ptrdiff_t victim = -1;
        for (size_t i = 0; i < h->nsent && victim < 0; i++) victim = index_of(h->passive, h->np, &h->sent_sample[i]);
        if (victim < 0) victim = (ptrdiff_t)(rnd(h) % h->np);
        remove_at(h->passive, &h->np, (size_t)victim);
    }
    h->passive[h->np++] = *peer;
}

static void active_drop(mk_hpv_t *h, size_t i, bool to_passive) {
    mk_peer_id_t peer = h->active[i];
    remove_at(h->active, &h->na, i);
    simple(h, MK_HPV_ACTIVE_REMOVED, &peer);
    if (to_passive) passive_add(h, &peer);
}

/* Makes room for one more active member by evicting a random one (Disconnect{alive=true}). */
static void evict_random(mk_hpv_t *h) {
    if (h->na < h->p.active) return;
    size_t i = (size_t)(rnd(h) % h->na);
    mk_peer_id_t victim = h->active[i];
    mk_hpv_effect_t ef = {.alive = true};
    send_msg(h, &victim, MK_HPV_MSG_DISCONNECT, &ef);
    simple(h, MK_HPV_CLOSE, &victim);
    active_drop(h, i, true);
}

static bool active_add(mk_hpv_t *h, const mk_peer_id_t *peer, bool evict) {
    if (is_self(h, peer)) return false;
    if (index_of(h->active, h->na, peer) >= 0) return true;
    if (h->na >= h->p.active) {
        if (!evict) return false;
        evict_random(h);
    }
    ptrdiff_t pi = index_of(h->passive, h->np, peer);
    if (pi >= 0) remove_at(h->passive, &h->np, (size_t)pi);
    h->active[h->na++] = *peer;
    pending_drop(h, peer);
    simple(h, MK_HPV_ACTIVE_ADDED, peer);
    return true;
}

static const mk_peer_id_t *random_active_except(mk_hpv_t *h, const mk_peer_id_t *a, const mk_peer_id_t *b) {
    mk_peer_id_t *cand[64];
    size_t k = 0;
    for (size_t i = 0; i < h->na && k < 64; i++)
        if ((!a || !mk_id_eq(&h->active[i], a)) && (!b || !mk_id_eq(&h->active[i], b))) cand[k++] = &h->active[i];
    return k ? cand[rnd(h) % k] : NULL;
}

/* Tries one random passive peer that is not being dialed. */
static void repair_one(mk_hpv_t *h, int64_t now) {
    if (h->na >= h->p.active || h->np == 0) return;
    size_t start = (size_t)(rnd(h) % h->np);
    for (size_t j = 0; j < h->np; j++) {
        const mk_peer_id_t *c = &h->passive[(start + j) % h->np];
        if (pending_of(h, c) >= 0) continue;
        open_link(h, c, h->na == 0 ? MK_HPV_OPEN_NEIGHBOR_HIGH : MK_HPV_OPEN_NEIGHBOR_LOW, now);
        return;
    }
}

/* ---- lifecycle ---- */

mk_hpv_t *mk_hpv_new(const mk_hpv_params_t *p) {
    mk_hpv_t *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->p = *p;
    if (h->p.active == 0) h->p.active = 1;
    h->active = calloc(h->p.active, sizeof *h->active);
    h->passive = calloc(h->p.passive ? h->p.passive : 1, sizeof *h->passive);
    if (!h->active || !h->passive) {
        mk_hpv_free(h);
        return NULL;
    }
    h->rng = p->seed ? p->seed : 0x5eed;
    return h;
}

void mk_hpv_free(mk_hpv_t *h) {
    if (!h) return;
    free(h->active);
    free(h->passive);
    free(h->fx);
    free(h);
}

void mk_hpv_sizes(const mk_hpv_t *h, mk_hpv_sizes_t *out) {
    out->active = h->na;
    out->passive = h->np;
}

bool mk_hpv_is_active(const mk_hpv_t *h, const mk_peer_id_t *peer) { return index_of(h->active, h->na, peer) >= 0; }
bool mk_hpv_is_passive(const mk_hpv_t *h, const mk_peer_id_t *peer) { return index_of(h->passive, h->np, peer) >= 0; }

size_t mk_hpv_active(const mk_hpv_t *h, mk_peer_id_t *out, size_t cap) {
    for (size_t i = 0; i < h->na && i < cap; i++) out[i] = h->active[i];
    return h->na;
}

/* ---- inputs ---- */

void mk_hpv_on_join(mk_hpv_t *h, const mk_peer_id_t *peer, int64_t now) {
    (void)now;
    if (is_self(h, peer)) return;
    bool fresh = index_of(h->active, h->na, peer) < 0;
    active_add(h, peer, true);
    mk_hpv_effect_t ef = {0};
    send_msg(h, peer, MK_HPV_MSG_WELCOME, &ef);
    if (!fresh) return;
    for (size_t i = 0; i < h->na; i++) {
        if (mk_id_eq(&h->active[i], peer)) continue;
        mk_hpv_effect_t fj = {.about = *peer, .ttl = MK_HPV_ARWL};
        send_msg(h, &h->active[i], MK_HPV_MSG_FORWARD_JOIN, &fj);
    }
}

void mk_hpv_on_neighbor(mk_hpv_t *h, const mk_peer_id_t *peer, bool high, int64_t now) {
    (void)now;
    bool ok = !is_self(h, peer) && active_add(h, peer, high);
    mk_hpv_effect_t ef = {.accept = ok};
    send_msg(h, peer, MK_HPV_MSG_NEIGHBOR_REPLY, &ef);
    if (!ok) {
        simple(h, MK_HPV_CLOSE, peer);
        passive_add(h, peer);
    }
}

void mk_hpv_on_welcome(mk_hpv_t *h, const mk_peer_id_t *peer, int64_t now) {
    (void)now;
    pending_drop(h, peer);
    active_add(h, peer, true);
}

void mk_hpv_on_neighbor_reply(mk_hpv_t *h, const mk_peer_id_t *peer, bool accept, int64_t now) {
    pending_drop(h, peer);
    if (accept) {
        active_add(h, peer, true);
        return;
    }
    simple(h, MK_HPV_CLOSE, peer);
    passive_add(h, peer);
    /* no immediate retry: while the view is short, the tick tries one Neighbor{low} every 2 s ± 50 %
     * (retrying at once loops among full nodes that keep refusing) */
    (void)now;
}

void mk_hpv_on_forward_join(mk_hpv_t *h, const mk_peer_id_t *from, const mk_peer_id_t *joiner, uint8_t ttl,
                            int64_t now) {
    if (is_self(h, joiner)) return;
    bool only_sender = h->na == 1 && mk_id_eq(&h->active[0], from);
    if (ttl == 0 || only_sender || h->na == 0) {
        if (index_of(h->active, h->na, joiner) < 0) open_link(h, joiner, MK_HPV_OPEN_NEIGHBOR_HIGH, now);
        return;
    }
    if (ttl == MK_HPV_PRWL) passive_add(h, joiner);
    const mk_peer_id_t *next = random_active_except(h, from, joiner);
    if (!next) {
        if (index_of(h->active, h->na, joiner) < 0) open_link(h, joiner, MK_HPV_OPEN_NEIGHBOR_HIGH, now);
        return;
    }
    mk_hpv_effect_t ef = {.about = *joiner, .ttl = (uint8_t)(ttl - 1)};
    send_msg(h, next, MK_HPV_MSG_FORWARD_JOIN, &ef);
}

void mk_hpv_on_disconnect(mk_hpv_t *h, const mk_peer_id_t *peer, bool alive, int64_t now) {
    ptrdiff_t i = index_of(h->active, h->na, peer);
    simple(h, MK_HPV_CLOSE, peer);
    if (i >= 0) active_drop(h, (size_t)i, alive);
    if (!alive) {
        ptrdiff_t j = index_of(h->passive, h->np, peer);
        if (j >= 0) remove_at(h->passive, &h->np, (size_t)j);
    }
    repair_one(h, now);
}

void mk_hpv_on_link_down(mk_hpv_t *h, const mk_peer_id_t *peer, bool graceful, int64_t now) {
    ptrdiff_t i = index_of(h->active, h->na, peer);
    pending_drop(h, peer);
    if (i >= 0) active_drop(h, (size_t)i, graceful);
    repair_one(h, now);
}

void mk_hpv_on_dial_failed(mk_hpv_t *h, const mk_peer_id_t *peer, int64_t now) {
    pending_drop(h, peer);
    ptrdiff_t j = index_of(h->passive, h->np, peer);
    if (j >= 0) remove_at(h->passive, &h->np, (size_t)j);
    repair_one(h, now);
}

static void merge_sample(mk_hpv_t *h, const mk_peer_id_t *sample, size_t k) {
    for (size_t i = 0; i < k; i++) passive_add(h, &sample[i]);
}

void mk_hpv_on_shuffle(mk_hpv_t *h, const mk_peer_id_t *from, const mk_peer_id_t *origin, uint8_t ttl,
                       const mk_peer_id_t *sample, size_t k, int64_t now) {
    (void)now;
    if (is_self(h, origin)) return;
    if (ttl > 0 && h->na > 1) {
        const mk_peer_id_t *next = random_active_except(h, from, origin);
        if (next) {
            mk_hpv_effect_t ef = {.about = *origin, .ttl = (uint8_t)(ttl - 1), .nsample = k > MK_HPV_SAMPLE_MAX ? MK_HPV_SAMPLE_MAX : k};
            memcpy(ef.sample, sample, ef.nsample * sizeof *sample);
            send_msg(h, next, MK_HPV_MSG_SHUFFLE, &ef);
            return;
        }
    }
    /* the last holder answers the origin with as many passive peers */
    mk_hpv_effect_t ef = {.nsample = 0};
    size_t want = k > MK_HPV_SAMPLE_MAX ? MK_HPV_SAMPLE_MAX : k;
    for (size_t i = 0; i < h->np && ef.nsample < want; i++) ef.sample[ef.nsample++] = h->passive[i];
    h->nsent = ef.nsample;
    memcpy(h->sent_sample, ef.sample, ef.nsample * sizeof *ef.sample);
    send_msg(h, origin, MK_HPV_MSG_SHUFFLE_REPLY, &ef);
    merge_sample(h, sample, k);
    passive_add(h, origin);
}

void mk_hpv_on_shuffle_reply(mk_hpv_t *h, const mk_peer_id_t *peer, const mk_peer_id_t *sample, size_t k,
                             int64_t now) {
    (void)peer;
    (void)now;
    merge_sample(h, sample, k);
}

void mk_hpv_learned(mk_hpv_t *h, const mk_peer_id_t *peer) {
    if (h->np < h->p.passive) passive_add(h, peer);
}

void mk_hpv_forget(mk_hpv_t *h, const mk_peer_id_t *peer, int64_t now) {
    pending_drop(h, peer);
    ptrdiff_t i = index_of(h->active, h->na, peer);
    if (i >= 0) {
        simple(h, MK_HPV_CLOSE, peer);
        active_drop(h, (size_t)i, false);
    }
    ptrdiff_t j = index_of(h->passive, h->np, peer);
    if (j >= 0) remove_at(h->passive, &h->np, (size_t)j);
    if (i >= 0) repair_one(h, now);
}

void mk_hpv_tick(mk_hpv_t *h, int64_t now) {
    for (size_t i = 0; i < h->npend;) {  /* forget attempts that never answered */
        if (now - h->pend[i].since > PENDING_TIMEOUT_MS) h->pend[i] = h->pend[--h->npend];
        else i++;
    }
    if (now >= h->next_repair) {
        if (h->na == 0 && h->np && now >= h->next_join) {  /* join through up to 3 known peers */
            for (int t = 0; t < 3 && h->npend < MAX_PENDING; t++) {
                const mk_peer_id_t *c = &h->passive[rnd(h) % h->np];
                open_link(h, c, MK_HPV_OPEN_JOIN, now);
            }
            h->next_join = now + jitter(h, JOIN_RETRY_MS);
        } else if (h->na < h->p.active) {
            repair_one(h, now);
        }
        h->next_repair = now + jitter(h, REPAIR_MS);
    }
    if (now >= h->next_shuffle) {
        if (h->next_shuffle && h->na) {
            mk_hpv_effect_t ef = {.about = h->p.self, .ttl = MK_HPV_ARWL};
            ef.sample[ef.nsample++] = h->p.self;
            for (size_t i = 0; i < h->na && i < 3; i++) ef.sample[ef.nsample++] = h->active[(i + rnd(h)) % h->na];
            for (size_t i = 0; i < h->np && i < 4; i++) ef.sample[ef.nsample++] = h->passive[(i + rnd(h)) % h->np];
            h->nsent = ef.nsample;
            memcpy(h->sent_sample, ef.sample, ef.nsample * sizeof *ef.sample);
            const mk_peer_id_t *to = &h->active[rnd(h) % h->na];
            send_msg(h, to, MK_HPV_MSG_SHUFFLE, &ef);
        }
        h->next_shuffle = now + jitter(h, h->p.shuffle_interval_ms ? h->p.shuffle_interval_ms : 60000);
    }
}

bool mk_hpv_next_effect(mk_hpv_t *h, mk_hpv_effect_t *out) {
    if (h->headfx >= h->nfx) {
        h->headfx = h->nfx = 0;
        return false;
    }
    *out = h->fx[h->headfx++];
    return true;
}

int64_t mk_hpv_next_timer_ms(const mk_hpv_t *h, int64_t now) {
    int64_t next = h->next_repair < h->next_shuffle ? h->next_repair : h->next_shuffle;
    int64_t left = next - now;
    return left > 0 ? left : 0;
}
