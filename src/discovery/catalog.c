/* discovery/catalog.c — snapshots (sorted entry arrays with call-time staleness and build-time RTT
 * hiding), the publisher and watches. Readers take references; nothing here runs protocol logic. */
#include "discovery/catalog.h"

#include "core/error.h"
#include "core/readyfd.h"
#include "core/time.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct mk_catalog {
    _Atomic int refs;
    uint64_t seq;
    const mk_peer_entry_t *local;
    const mk_peer_entry_t **v;
    bool *hidden;
    size_t n;
    uint32_t purge_after_ms, max_rtt_ms;
    mk_rtt_tracker_t *rtt;
    int64_t fixed_now;
    _Atomic int64_t count_until;  /* the cached count holds while now < count_until */
    _Atomic size_t count_cache;
};

int mk_catalog_build(const mk_peer_entry_t *const *sorted, size_t n, const mk_peer_entry_t *local,
                     const mk_catalog_params_t *p, mk_catalog_t **out) {
    *out = NULL;
    mk_catalog_t *c = calloc(1, sizeof *c);
    if (!c) return MK_ENOMEM;
    if (n && (!(c->v = malloc(n * sizeof *c->v)) || !(c->hidden = calloc(n, sizeof *c->hidden)))) {
        free(c->v);
        free(c);
        return MK_ENOMEM;
    }
    atomic_init(&c->refs, 1);
    atomic_init(&c->count_until, INT64_MIN);
    c->seq = p->seq;
    c->purge_after_ms = p->purge_after_ms;
    c->max_rtt_ms = p->max_rtt_ms;
    c->rtt = mk_rtt_ref(p->rtt);
    c->local = mk_peer_entry_ref(local);
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        c->v[i] = mk_peer_entry_ref(sorted[i]);
        int64_t srtt;
        if (p->max_rtt_ms && p->rtt && mk_rtt_get(p->rtt, &sorted[i]->peer, &srtt, NULL, NULL, NULL))
            c->hidden[i] = srtt > (int64_t)p->max_rtt_ms * 1000;
    }
    *out = c;
    return MK_OK;
}

void mk_catalog_set_now(mk_catalog_t *c, int64_t now_ms) {
    c->fixed_now = now_ms;
    atomic_store(&c->count_until, INT64_MIN);
}

static int64_t now_of(const mk_catalog_t *c) { return c->fixed_now ? c->fixed_now : mk_unix_ms(); }

mk_catalog_t *mk_catalog_ref(const mk_catalog_t *c) {
    mk_catalog_t *m = (mk_catalog_t *)(uintptr_t)c;
    if (m) atomic_fetch_add(&m->refs, 1);
    return m;
}

void mk_catalog_free(const mk_catalog_t *c) {
    mk_catalog_t *m = (mk_catalog_t *)(uintptr_t)c;
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1) return;
    for (size_t i = 0; i < m->n; i++) mk_peer_entry_unref(m->v[i]);
    mk_peer_entry_unref(m->local);
    mk_rtt_unref(m->rtt);
    free(m->v);
    free(m->hidden);
    free(m);
}

uint64_t mk_catalog_seq(const mk_catalog_t *c) { return c->seq; }
const mk_peer_entry_t *mk_catalog_local(const mk_catalog_t *c) { return c->local; }

static bool expired(const mk_catalog_t *c, const mk_peer_entry_t *e, int64_t now) {
    return e->is_signed && (int64_t)(e->version.update_ms + c->purge_after_ms) < now;
}

static bool visible(const mk_catalog_t *c, size_t i, int64_t now, unsigned flags) {
    const mk_peer_entry_t *e = c->v[i];
    if ((flags & MK_CAT_SIGNED_ONLY) && !e->is_signed) return false;
    if ((flags & MK_CAT_UNSIGNED_ONLY) && e->is_signed) return false;
    if (expired(c, e, now)) return false;
    if (c->hidden[i] && !(flags & MK_CAT_IGNORE_MAX_RTT)) return false;
    return true;
}

size_t mk_catalog_count(const mk_catalog_t *c) {
    mk_catalog_t *m = (mk_catalog_t *)(uintptr_t)c;
    int64_t now = now_of(c);
    if (now < atomic_load(&m->count_until)) return atomic_load(&m->count_cache);
    size_t k = 0;
    int64_t until = INT64_MAX;
    for (size_t i = 0; i < c->n; i++) {
        if (!visible(c, i, now, 0)) continue;
        k++;
        if (c->v[i]->is_signed) {
            int64_t x = (int64_t)(c->v[i]->version.update_ms + c->purge_after_ms) + 1;
            if (x < until) until = x;
        }
    }
    atomic_store(&m->count_cache, k);
    atomic_store(&m->count_until, c->fixed_now ? INT64_MIN : until);
    return k;
}

static bool find(const mk_catalog_t *c, const mk_peer_id_t *peer, size_t *at) {
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = memcmp(c->v[mid]->peer.b, peer->b, 32);
        if (r == 0) {
            *at = mid;
            return true;
        }
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

const mk_peer_entry_t *mk_catalog_get(const mk_catalog_t *c, const mk_peer_id_t *peer) {
    size_t i;
    if (!c || !peer || !find(c, peer, &i) || !visible(c, i, now_of(c), 0)) return NULL;
    return c->v[i];
}

int mk_catalog_peer_info(const mk_catalog_t *c, const mk_peer_id_t *peer, mk_peer_info_t *out) {
    const mk_peer_entry_t *e = mk_catalog_get(c, peer);
    if (!e) return MK_ENOTFOUND;
    out->entry = e;
    out->rtt_us = out->rttvar_us = -1;
    out->rtt_samples = 0;
    int64_t s, v;
    uint32_t k;
    if (c->rtt && mk_rtt_get(c->rtt, peer, &s, &v, &k, NULL)) {
        out->rtt_us = s;
        out->rttvar_us = v;
        out->rtt_samples = k;
    }
    return MK_OK;
}

bool mk_peer_info_rtt_below(const mk_peer_info_t *p, uint64_t threshold_us) {
    return p->rtt_us < 0 || (uint64_t)p->rtt_us < threshold_us;
}

bool mk_peer_info_has_tag(const mk_peer_info_t *p, const char *name) {
    return p->entry && mk_peer_entry_has_tag(p->entry, name);
}

void mk_catalog_iter_init(mk_catalog_iter_t *it, const mk_catalog_t *c, unsigned flags) {
    it->c = c;
    it->pos = 0;
    it->now_ms = c ? now_of(c) : 0;
    it->flags = flags;
}

const mk_peer_entry_t *mk_catalog_next(mk_catalog_iter_t *it) {
    const mk_catalog_t *c = it->c;
    while (c && it->pos < c->n) {
        size_t i = it->pos++;
        if (visible(c, i, it->now_ms, it->flags)) return c->v[i];
    }
    return NULL;
}

/* ---- publisher and watches ---- */

struct mk_catalog_watch {
    struct mk_catalog_watch *next;
    mk_catalog_pub_t *pub;
    uint64_t seen;
    mk_readyfd_t fd;
    void (*fn)(void *ctx);
    void *ctx;
};

struct mk_catalog_pub {
    _Atomic int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mk_catalog_t *cur;
    bool closed;
    mk_catalog_watch_t *watches;
};

mk_catalog_pub_t *mk_catalog_pub_new(void) {
    mk_catalog_pub_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->mu, NULL);
    mk_cond_init(&p->cv);
    return p;
}

void mk_catalog_pub_unref(mk_catalog_pub_t *p) {
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1) return;
    mk_catalog_free(p->cur);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

void mk_catalog_pub_publish(mk_catalog_pub_t *p, mk_catalog_t *snap) {
    pthread_mutex_lock(&p->mu);
    mk_catalog_t *old = p->cur;
    p->cur = snap;
    uint64_t seq = snap ? snap->seq : 0;
    for (mk_catalog_watch_t *w = p->watches; w; w = w->next)
        if (seq > w->seen) mk_readyfd_set(&w->fd, true);
    pthread_cond_broadcast(&p->cv);
    /* callbacks run outside the lock; the watch list only changes on this (loop) thread or under mu by
     * create/free, so collect first */
    void (*fns[64])(void *);
    void *ctxs[64];
    size_t nf = 0;
    for (mk_catalog_watch_t *w = p->watches; w && nf < 64; w = w->next)
        if (w->fn) {
            fns[nf] = w->fn;
            ctxs[nf++] = w->ctx;
        }
    pthread_mutex_unlock(&p->mu);
    mk_catalog_free(old);
    for (size_t i = 0; i < nf; i++) fns[i](ctxs[i]);
}

mk_catalog_t *mk_catalog_pub_current(mk_catalog_pub_t *p) {
    pthread_mutex_lock(&p->mu);
    mk_catalog_t *c = p->closed ? NULL : mk_catalog_ref(p->cur);
    pthread_mutex_unlock(&p->mu);
    return c;
}

void mk_catalog_pub_close(mk_catalog_pub_t *p) {
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    for (mk_catalog_watch_t *w = p->watches; w; w = w->next) mk_readyfd_set(&w->fd, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

mk_catalog_watch_t *mk_catalog_watch_new(mk_catalog_pub_t *p, mk_error_t *e) {
    mk_catalog_watch_t *w = calloc(1, sizeof *w);
    if (!w || mk_readyfd_init(&w->fd) != MK_OK) {
        free(w);
        MK_ERR(e, MK_ENOMEM, "cannot create a watch");
        return NULL;
    }
    atomic_fetch_add(&p->refs, 1);
    w->pub = p;
    pthread_mutex_lock(&p->mu);
    w->seen = p->cur ? p->cur->seq : 0;
    w->next = p->watches;
    p->watches = w;
    if (p->closed) mk_readyfd_set(&w->fd, true);
    pthread_mutex_unlock(&p->mu);
    return w;
}

int mk_catalog_watch_changed(mk_catalog_watch_t *w, int timeout_ms, mk_error_t *e) {
    mk_catalog_pub_t *p = w->pub;
    int64_t deadline = mk_deadline_from(timeout_ms);
    pthread_mutex_lock(&p->mu);
    int rc = MK_OK;
    for (;;) {
        if (p->cur && p->cur->seq > w->seen) break;
        if (p->closed) {
            rc = MK_ERR(e, MK_ETERMINATED, "the network is stopping");
            break;
        }
        if (timeout_ms == 0 || mk_cond_wait_ms(&p->cv, &p->mu, deadline) == MK_ETIMEDOUT) {
            rc = MK_ERR(e, MK_ETIMEDOUT, "no catalog change within %d ms", timeout_ms);
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

mk_catalog_t *mk_catalog_watch_latest(mk_catalog_watch_t *w) {
    mk_catalog_pub_t *p = w->pub;
    pthread_mutex_lock(&p->mu);
    mk_catalog_t *c = mk_catalog_ref(p->cur);
    if (c) w->seen = c->seq;
    if (!p->closed) mk_readyfd_set(&w->fd, false);
    pthread_mutex_unlock(&p->mu);
    return c;
}

int mk_catalog_watch_fd(const mk_catalog_watch_t *w) { return mk_readyfd_fd(&w->fd); }

void mk_catalog_watch_set_callback(mk_catalog_watch_t *w, void (*fn)(void *ctx), void *ctx) {
    pthread_mutex_lock(&w->pub->mu);
    w->fn = fn;
    w->ctx = ctx;
    pthread_mutex_unlock(&w->pub->mu);
}

void mk_catalog_watch_free(mk_catalog_watch_t *w) {
    if (!w) return;
    mk_catalog_pub_t *p = w->pub;
    pthread_mutex_lock(&p->mu);
    for (mk_catalog_watch_t **pp = &p->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    pthread_mutex_unlock(&p->mu);
    mk_readyfd_close(&w->fd);
    free(w);
    mk_catalog_pub_unref(p);
}
