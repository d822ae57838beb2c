/* discovery/rtt.c — RFC 6298 RTT smoothing per peer in a sorted array behind one mutex. */
#include "discovery/rtt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct rtt_rec {
    mk_peer_id_t peer;
    int64_t srtt, rttvar, last_ms;
    uint32_t samples;
} rtt_rec_t;

struct mk_rtt_tracker {
    _Atomic int refs;
    pthread_mutex_t mu;
    rtt_rec_t *v;
    size_t n, cap;
};

mk_rtt_tracker_t *mk_rtt_new(void) {
    mk_rtt_tracker_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    atomic_init(&t->refs, 1);
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

mk_rtt_tracker_t *mk_rtt_ref(mk_rtt_tracker_t *t) {
    if (t) atomic_fetch_add(&t->refs, 1);
    return t;
}

void mk_rtt_unref(mk_rtt_tracker_t *t) {
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1) return;
    pthread_mutex_destroy(&t->mu);
    free(t->v);
    free(t);
}

static size_t find(const mk_rtt_tracker_t *t, const mk_peer_id_t *peer, bool *found) {
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(t->v[mid].peer.b, peer->b, 32);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = false;
    return lo;
}

void mk_rtt_record(mk_rtt_tracker_t *t, const mk_peer_id_t *peer, uint32_t rtt_us, int64_t now_ms) {
    pthread_mutex_lock(&t->mu);
    bool found;
    size_t i = find(t, peer, &found);
    int64_t r = rtt_us;
    if (!found) {
        if (t->n == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 16;
            rtt_rec_t *v = realloc(t->v, cap * sizeof *v);
            if (!v) {
                pthread_mutex_unlock(&t->mu);
                return;
            }
            t->v = v;
            t->cap = cap;
        }
        memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof *t->v);
        t->v[i] = (rtt_rec_t){.peer = *peer, .srtt = r, .rttvar = r / 2, .last_ms = now_ms, .samples = 1};
        t->n++;
    } else {
        rtt_rec_t *x = &t->v[i];
        int64_t diff = x->srtt > r ? x->srtt - r : r - x->srtt;
        x->rttvar = (3 * x->rttvar + diff) / 4;
        x->srtt = (7 * x->srtt + r) / 8;
        x->last_ms = now_ms;
        x->samples++;
    }
    pthread_mutex_unlock(&t->mu);
}

bool mk_rtt_get(mk_rtt_tracker_t *t, const mk_peer_id_t *peer, int64_t *srtt_us, int64_t *rttvar_us,
                uint32_t *samples, int64_t *last_ms) {
    pthread_mutex_lock(&t->mu);
    bool found;
    size_t i = find(t, peer, &found);
    if (found) {
        if (srtt_us) *srtt_us = t->v[i].srtt;
        if (rttvar_us) *rttvar_us = t->v[i].rttvar;
        if (samples) *samples = t->v[i].samples;
        if (last_ms) *last_ms = t->v[i].last_ms;
    }
    pthread_mutex_unlock(&t->mu);
    return found;
}

void mk_rtt_forget(mk_rtt_tracker_t *t, const mk_peer_id_t *peer) {
    pthread_mutex_lock(&t->mu);
    bool found;
    size_t i = find(t, peer, &found);
    if (found) {
        memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof *t->v);
        t->n--;
    }
    pthread_mutex_unlock(&t->mu);
}

size_t mk_rtt_stale(mk_rtt_tracker_t *t, const mk_peer_id_t *cand, size_t n, int64_t older_than_ms, mk_peer_id_t *out,
                    size_t cap) {
    size_t k = 0;
    int64_t *age = malloc((cap ? cap : 1) * sizeof *age);
    if (!age) return 0;
    pthread_mutex_lock(&t->mu);
    for (size_t c = 0; c < n; c++) {
        bool found;
        size_t i = find(t, &cand[c], &found);
        int64_t last = found ? t->v[i].last_ms : INT64_MIN;
        if (found && last >= older_than_ms) continue;
        /* insertion into the oldest-first list of at most cap */
        size_t pos = k;
        while (pos > 0 && age[pos - 1] > last) pos--;
        if (pos >= cap) continue;
        size_t end = k < cap ? k : cap - 1;
        memmove(&out[pos + 1], &out[pos], (end - pos) * sizeof *out);
        memmove(&age[pos + 1], &age[pos], (end - pos) * sizeof *age);
        out[pos] = cand[c];
        age[pos] = last;
        if (k < cap) k++;
    }
    pthread_mutex_unlock(&t->mu);
    free(age);
    return k;
}
