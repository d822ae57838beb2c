/* discovery/events.c — the peer-event ring and its subscriptions: sequence numbers, lag detection
 * (MK_ELAGGED once, then the oldest kept event), draining after close, readiness fds and callbacks. */
#include "discovery/events.h"

#include "core/error.h"
#include "core/readyfd.h"
#include "core/time.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Locks: `mu` guards the slots, head/count, `closed`, the loop thread and every subscription's cursor
 * and fd; `cb_mu` (recursive) is held by the pusher while it runs callbacks and guards the
 * subscription list (changed under both), `fn`/`ctx`, `dead` and `in_callbacks`. Order: cb_mu → mu.
 * A callback may call any subscription function on the pushing thread (next() included: it takes only
 * mu); mk_discovery_events_free / _set_callback from another thread wait until running callbacks are
 * done, so once they return the old callback never runs again. A subscription freed from inside a
 * callback is marked dead and freed after that push's round. */

struct mk_discovery_events {
    struct mk_discovery_events *next;
    mk_event_ring_t *ring;
    uint64_t cursor;  /* seq of the next event to hand out */
    mk_readyfd_t fd;
    void (*fn)(void *ctx, const mk_peer_event_t *ev);
    void *ctx;
    bool dead;
};

struct mk_event_ring {
    _Atomic uint32_t refs;
    pthread_mutex_t mu, cb_mu;
    pthread_cond_t cv;
    mk_peer_event_t *slots;  /* event seq s lives in slots[s % cap]; each holds the ring's entry reference */
    uint32_t cap;
    uint64_t head;   /* seq of the next event; events [head − count, head) are kept */
    uint64_t count;
    bool closed, has_loop, in_callbacks, has_dead;
    pthread_t loop;
    mk_discovery_events_t *subs;
};

mk_event_ring_t *mk_event_ring_new(uint32_t capacity) {
    mk_event_ring_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->cap = capacity ? capacity : 1;
    if (!(r->slots = calloc(r->cap, sizeof *r->slots))) {
        free(r);
        return NULL;
    }
    pthread_mutexattr_t ra;
    pthread_mutexattr_init(&ra);
    pthread_mutexattr_settype(&ra, PTHREAD_MUTEX_RECURSIVE);
    int rc = pthread_mutex_init(&r->cb_mu, &ra);
    pthread_mutexattr_destroy(&ra);
    if (rc != 0 || mk_cond_init(&r->cv) != MK_OK) {
        if (rc == 0) pthread_mutex_destroy(&r->cb_mu);
        free(r->slots);
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    atomic_init(&r->refs, 1);
    r->head = 1;
    return r;
}

void mk_event_ring_unref(mk_event_ring_t *r) {
    if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1) return;
    assert(!r->subs);  /* each subscription holds a reference */
    for (uint32_t i = 0; i < r->cap; i++) mk_peer_entry_unref(r->slots[i].entry);
    free(r->slots);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->cb_mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

void mk_event_ring_bind_loop(mk_event_ring_t *r) {
    pthread_mutex_lock(&r->mu);
    r->loop = pthread_self();
    r->has_loop = true;
    pthread_mutex_unlock(&r->mu);
}

/* Under mu: next() would return without waiting. */
static bool would_not_wait(const mk_event_ring_t *r, const mk_discovery_events_t *s) {
    return s->cursor < r->head || r->closed;
}

static void sub_destroy(mk_discovery_events_t *s) {
    mk_readyfd_close(&s->fd);
    free(s);
}

/* Holding cb_mu, outside callbacks: unlinks and frees the subscriptions marked dead; returns how many. */
static unsigned sweep_dead(mk_event_ring_t *r) {
    unsigned k = 0;
    pthread_mutex_lock(&r->mu);
    for (mk_discovery_events_t **pp = &r->subs; *pp;) {
        mk_discovery_events_t *s = *pp;
        if (!s->dead) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        sub_destroy(s);
        k++;
    }
    r->has_dead = false;
    pthread_mutex_unlock(&r->mu);
    return k;
}

uint64_t mk_event_ring_push(mk_event_ring_t *r, mk_peer_event_kind_t kind, const mk_peer_id_t *peer,
                            const mk_peer_entry_t *entry, bool content_changed, mk_depart_reason_t reason) {
    pthread_mutex_lock(&r->mu);
    if (r->closed) {
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    uint64_t seq = r->head++;
    mk_peer_event_t *slot = &r->slots[seq % r->cap];
    const mk_peer_entry_t *evicted = slot->entry;
    *slot = (mk_peer_event_t){.kind = kind, .peer = *peer, .seq = seq, .entry = mk_peer_entry_ref(entry),
                              .content_changed = content_changed, .reason = reason};
    if (r->count < r->cap) r->count++;
    mk_peer_event_t ev = *slot;
    mk_peer_entry_ref(ev.entry);  /* the callbacks' copy outlives a later eviction */
    for (mk_discovery_events_t *s = r->subs; s; s = s->next) mk_readyfd_set(&s->fd, true);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    mk_peer_entry_unref(evicted);

    pthread_mutex_lock(&r->cb_mu);
    r->in_callbacks = true;
    for (mk_discovery_events_t *s = r->subs; s; s = s->next)
        if (!s->dead && s->fn) s->fn(s->ctx, &ev);
    r->in_callbacks = false;
    unsigned dropped = r->has_dead ? sweep_dead(r) : 0;
    pthread_mutex_unlock(&r->cb_mu);
    mk_peer_entry_unref(ev.entry);
    while (dropped--) mk_event_ring_unref(r);  /* the references of subscriptions freed in callbacks */
    return seq;
}

void mk_event_ring_close(mk_event_ring_t *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->closed = true;
    for (mk_discovery_events_t *s = r->subs; s; s = s->next) mk_readyfd_set(&s->fd, true);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

mk_discovery_events_t *mk_event_ring_subscribe(mk_event_ring_t *r, mk_error_t *e) {
    if (!r) {
        MK_ERR(e, MK_EINVAL, "no event ring");
        return NULL;
    }
    mk_discovery_events_t *s = calloc(1, sizeof *s);
    if (!s) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    if (mk_readyfd_init(&s->fd) != MK_OK) {
        free(s);
        MK_ERR(e, MK_EIO, "cannot create the readiness fd");
        return NULL;
    }
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    s->ring = r;
    pthread_mutex_lock(&r->cb_mu);
    pthread_mutex_lock(&r->mu);
    s->cursor = r->head;
    s->next = r->subs;
    r->subs = s;
    if (r->closed) mk_readyfd_set(&s->fd, true);
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_unlock(&r->cb_mu);
    return s;
}

static bool on_loop(const mk_event_ring_t *r) { return r->has_loop && pthread_equal(r->loop, pthread_self()); }

int mk_discovery_events_next(mk_discovery_events_t *s, mk_peer_event_t *out, uint64_t *lagged, int timeout_ms,
                             mk_error_t *e) {
    if (lagged) *lagged = 0;
    if (out) memset(out, 0, sizeof *out);
    if (!s || !out) return MK_ERR(e, MK_EINVAL, "NULL %s", s ? "out" : "subscription");
    mk_event_ring_t *r = s->ring;
    int64_t deadline = mk_deadline_from(timeout_ms);
    bool timed_out = false;
    int rc;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        uint64_t oldest = r->head - r->count;
        if (s->cursor < oldest) {
            uint64_t lost = oldest - s->cursor;
            s->cursor = oldest;
            if (lagged) *lagged = lost;
            rc = MK_ERR(e, MK_ELAGGED, "%llu events lost (backlog %u); re-read the catalog",
                        (unsigned long long)lost, r->cap);
            break;
        }
        if (s->cursor < r->head) {
            *out = r->slots[s->cursor % r->cap];
            mk_peer_entry_ref(out->entry);
            s->cursor++;
            rc = MK_OK;
            break;
        }
        if (r->closed) {
            rc = MK_ERR(e, MK_ETERMINATED, "the network is stopping");
            break;
        }
        if (timeout_ms == 0 || timed_out) {
            rc = MK_ERR(e, MK_ETIMEDOUT, "no peer event within %d ms", timeout_ms);
            break;
        }
        if (on_loop(r)) {
            rc = MK_ERR(e, MK_EDEADLK, "waiting on the network's loop thread");
            break;
        }
        timed_out = mk_cond_wait_ms(&r->cv, &r->mu, deadline) == MK_ETIMEDOUT;
    }
    mk_readyfd_set(&s->fd, would_not_wait(r, s));
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void mk_peer_event_clear(mk_peer_event_t *ev) {
    if (!ev) return;
    mk_peer_entry_unref(ev->entry);
    memset(ev, 0, sizeof *ev);
}

int mk_discovery_events_fd(const mk_discovery_events_t *s) { return s ? mk_readyfd_fd(&s->fd) : -1; }

void mk_discovery_events_set_callback(mk_discovery_events_t *s, void (*fn)(void *ctx, const mk_peer_event_t *ev),
                                      void *ctx) {
    if (!s) return;
    pthread_mutex_lock(&s->ring->cb_mu);
    s->fn = fn;
    s->ctx = ctx;
    pthread_mutex_unlock(&s->ring->cb_mu);
}

void mk_discovery_events_free(mk_discovery_events_t *s) {
    if (!s) return;
    mk_event_ring_t *r = s->ring;
    pthread_mutex_lock(&r->cb_mu);
    if (r->in_callbacks) {  /* inside a callback on the pushing thread: freed after the round */
        s->dead = true;
        s->fn = NULL;
        r->has_dead = true;
        pthread_mutex_unlock(&r->cb_mu);
        return;
    }
    pthread_mutex_lock(&r->mu);
    for (mk_discovery_events_t **pp = &r->subs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_unlock(&r->cb_mu);
    sub_destroy(s);
    mk_event_ring_unref(r);
}
