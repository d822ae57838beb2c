/* discovery/events.c — the peer-event ring and its subscriptions: sequence numbers, lag detection
 * (MK_ELAGGED once, then the oldest kept event), readiness fds and callbacks. */
#include "discovery/events.h"

#include "core/error.h"
#include "core/readyfd.h"
#include "core/time.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct ring_slot {
    mk_peer_event_t ev;  /* entry: the ring's reference */
} ring_slot_t;

struct mk_discovery_events {
    struct mk_discovery_events *next;
    mk_event_ring_t *ring;
    uint64_t cursor;  /* next seq to read */
    mk_readyfd_t fd;
    void (*fn)(void *ctx, const mk_peer_event_t *ev);
    void *ctx;
};

struct mk_event_ring {
    _Atomic int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ring_slot_t *slots;
    uint32_t cap;
    uint64_t head;   /* seq of the next event; events [head − count, head) are kept */
    uint64_t count;
    bool closed;
    mk_discovery_events_t *subs;
};

mk_event_ring_t *mk_event_ring_new(uint32_t capacity) {
    mk_event_ring_t *r = calloc(1, sizeof *r);
    if (!r || !(r->slots = calloc(capacity ? capacity : 1, sizeof *r->slots))) {
        free(r);
        return NULL;
    }
    atomic_init(&r->refs, 1);
    r->cap = capacity ? capacity : 1;
    r->head = 1;
    pthread_mutex_init(&r->mu, NULL);
    mk_cond_init(&r->cv);
    return r;
}

void mk_event_ring_unref(mk_event_ring_t *r) {
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
    for (uint32_t i = 0; i < r->cap; i++) mk_peer_entry_unref(r->slots[i].ev.entry);
    free(r->slots);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

static bool readable(const mk_event_ring_t *r, const mk_discovery_events_t *s) {
    return s->cursor < r->head || r->closed;
}

void mk_event_ring_push(mk_event_ring_t *r, mk_peer_event_kind_t kind, const mk_peer_id_t *peer,
                        const mk_peer_entry_t *entry, bool content_changed, mk_depart_reason_t reason) {
    pthread_mutex_lock(&r->mu);
    if (r->closed) {
        pthread_mutex_unlock(&r->mu);
        return;
    }
    ring_slot_t *slot = &r->slots[r->head % r->cap];
    const mk_peer_entry_t *dropped = slot->ev.entry;
    slot->ev = (mk_peer_event_t){.kind = kind, .peer = *peer, .seq = r->head, .entry = mk_peer_entry_ref(entry),
                                 .content_changed = content_changed, .reason = reason};
    r->head++;
    if (r->count < r->cap) r->count++;
    mk_peer_event_t copy = slot->ev;
    void (*fns[64])(void *, const mk_peer_event_t *);
    void *ctxs[64];
    size_t nf = 0;
    for (mk_discovery_events_t *s = r->subs; s; s = s->next) {
        mk_readyfd_set(&s->fd, true);
        if (s->fn && nf < 64) {
            fns[nf] = s->fn;
            ctxs[nf++] = s->ctx;
        }
    }
    mk_peer_entry_ref(copy.entry);  /* kept alive for the callbacks below */
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    mk_peer_entry_unref(dropped);
    for (size_t i = 0; i < nf; i++) fns[i](ctxs[i], &copy);
    mk_peer_entry_unref(copy.entry);
}

void mk_event_ring_close(mk_event_ring_t *r) {
    pthread_mutex_lock(&r->mu);
    r->closed = true;
    for (mk_discovery_events_t *s = r->subs; s; s = s->next) mk_readyfd_set(&s->fd, true);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

mk_discovery_events_t *mk_event_ring_subscribe(mk_event_ring_t *r, mk_error_t *e) {
    mk_discovery_events_t *s = calloc(1, sizeof *s);
    if (!s || mk_readyfd_init(&s->fd) != MK_OK) {
        free(s);
        MK_ERR(e, MK_ENOMEM, "cannot create a subscription");
        return NULL;
    }
    atomic_fetch_add(&r->refs, 1);
    s->ring = r;
    pthread_mutex_lock(&r->mu);
    s->cursor = r->head;
    s->next = r->subs;
    r->subs = s;
    if (r->closed) mk_readyfd_set(&s->fd, true);
    pthread_mutex_unlock(&r->mu);
    return s;
}

int mk_discovery_events_next(mk_discovery_events_t *s, mk_peer_event_t *out, uint64_t *lagged, int timeout_ms,
                             mk_error_t *e) {
    mk_event_ring_t *r = s->ring;
    memset(out, 0, sizeof *out);
    if (lagged) *lagged = 0;
    int64_t deadline = mk_deadline_from(timeout_ms);
    pthread_mutex_lock(&r->mu);
    int rc;
    for (;;) {
        uint64_t oldest = r->head - r->count;
        if (s->cursor < oldest) {
            uint64_t lost = oldest - s->cursor;
            s->cursor = oldest;
            if (lagged) *lagged = lost;
            rc = MK_ERR(e, MK_ELAGGED, "subscription fell %llu events behind (backlog %u)", (unsigned long long)lost,
                        r->cap);
            break;
        }
        if (s->cursor < r->head) {
            *out = r->slots[s->cursor % r->cap].ev;
            mk_peer_entry_ref(out->entry);
            s->cursor++;
            rc = MK_OK;
            break;
        }
        if (r->closed) {
            rc = MK_ERR(e, MK_ETERMINATED, "the network is stopping");
            break;
        }
        if (timeout_ms == 0 || mk_cond_wait_ms(&r->cv, &r->mu, deadline) == MK_ETIMEDOUT) {
            rc = MK_ERR(e, MK_ETIMEDOUT, "no peer event within %d ms", timeout_ms);
            break;
        }
    }
    if (!readable(r, s)) mk_readyfd_set(&s->fd, false);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void mk_peer_event_clear(mk_peer_event_t *ev) {
    if (!ev) return;
    mk_peer_entry_unref(ev->entry);
    memset(ev, 0, sizeof *ev);
}

int mk_discovery_events_fd(const mk_discovery_events_t *s) { return mk_readyfd_fd(&s->fd); }

void mk_discovery_events_set_callback(mk_discovery_events_t *s, void (*fn)(void *ctx, const mk_peer_event_t *ev),
                                      void *ctx) {
    pthread_mutex_lock(&s->ring->mu);
    s->fn = fn;
    s->ctx = ctx;
    pthread_mutex_unlock(&s->ring->mu);
}

void mk_discovery_events_free(mk_discovery_events_t *s) {
    if (!s) return;
    mk_event_ring_t *r = s->ring;
    pthread_mutex_lock(&r->mu);
    for (mk_discovery_events_t **pp = &r->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    pthread_mutex_unlock(&r->mu);
    mk_readyfd_close(&s->fd);
    free(s);
    mk_event_ring_unref(r);
}
