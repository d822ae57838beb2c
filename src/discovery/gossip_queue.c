/* discovery/gossip_queue.c — per-neighbour gossip queue: newest version per peer, urgent or delayed. */
#include "discovery/gossip_queue.h"

#include <stdlib.h>
#include <string.h>

typedef struct gq_item {
    const mk_peer_entry_t *e;
} gq_item_t;

struct mk_gossip_queue {
    gq_item_t *v;
    size_t n, cap;
    uint32_t flush_ms;
    bool urgent;
    int64_t oldest_ms;  /* when the oldest queued item arrived */
};

mk_gossip_queue_t *mk_gossip_queue_new(uint32_t flush_ms) {
    mk_gossip_queue_t *q = calloc(1, sizeof *q);
    if (q) q->flush_ms = flush_ms;
    return q;
}

void mk_gossip_queue_free(mk_gossip_queue_t *q) {
    if (!q) return;
    for (size_t i = 0; i < q->n; i++) mk_peer_entry_unref(q->v[i].e);
    free(q->v);
    free(q);
}

void mk_gossip_queue_push(mk_gossip_queue_t *q, const mk_peer_entry_t *e, bool urgent, int64_t now_ms) {
    for (size_t i = 0; i < q->n; i++) {
        if (!mk_id_eq(&q->v[i].e->peer, &e->peer)) continue;
        if (mk_entry_version_cmp(e->version, q->v[i].e->version) <= 0) return;
        mk_peer_entry_unref(q->v[i].e);
        q->v[i].e = mk_peer_entry_ref(e);
        q->urgent |= urgent;
        return;
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 16;
        gq_item_t *v = realloc(q->v, cap * sizeof *v);
        if (!v) return;
        q->v = v;
        q->cap = cap;
    }
    if (q->n == 0) q->oldest_ms = now_ms;
    q->v[q->n++].e = mk_peer_entry_ref(e);
    q->urgent |= urgent;
}

bool mk_gossip_queue_due(const mk_gossip_queue_t *q, int64_t now_ms) {
    return q->n && (q->urgent || now_ms - q->oldest_ms >= (int64_t)q->flush_ms);
}

int64_t mk_gossip_queue_next_due(const mk_gossip_queue_t *q, int64_t now_ms) {
    if (!q->n) return -1;
    if (q->urgent) return 0;
    int64_t left = q->oldest_ms + (int64_t)q->flush_ms - now_ms;
    return left > 0 ? left : 0;
}

size_t mk_gossip_queue_take(mk_gossip_queue_t *q, const mk_peer_entry_t **out, size_t cap, size_t max_bytes) {
    size_t k = 0, bytes = 0;
    while (k < q->n && k < cap && (k == 0 || bytes + q->v[k].e->wire_len <= max_bytes)) {
        bytes += q->v[k].e->wire_len;
        out[k] = q->v[k].e;
        k++;
    }
    if (k && q->n > k) memmove(q->v, q->v + k, (q->n - k) * sizeof *q->v);
    q->n -= k;
    if (!q->n) q->urgent = false;
    return k;
}

bool mk_gossip_queue_drop_known(mk_gossip_queue_t *q, const mk_peer_id_t *peer, mk_entry_version_t version) {
    for (size_t i = 0; i < q->n; i++) {
        if (!mk_id_eq(&q->v[i].e->peer, peer)) continue;
        if (mk_entry_version_cmp(q->v[i].e->version, version) > 0) return false;
        mk_peer_entry_unref(q->v[i].e);
        memmove(q->v + i, q->v + i + 1, (q->n - i - 1) * sizeof *q->v);  /* keep the queue's order */
        if (--q->n == 0) q->urgent = false;
        return true;
    }
    return false;
}

size_t mk_gossip_queue_len(const mk_gossip_queue_t *q) { return q->n; }
