/* discovery/catalog.c — catalog snapshots (a sorted array of shared entry references with call-time
 * staleness and build-time RTT hiding), the publisher holding the current one, and watches (condvar,
 * readiness fd, callback). Readers take references; nothing here runs protocol logic. */
#include "discovery/catalog.h"

#include "core/error.h"
#include "core/readyfd.h"
#include "core/time.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The expiry times (update + purge_after) of the signed entries a snapshot shows, ascending; built on
 * the first count and then immutable. */
typedef struct expiry_table {
    size_t n;
    int64_t at[];
} expiry_table_t;

struct mk_catalog {
    _Atomic uint32_t refs;
    uint64_t seq;
    uint32_t purge_after_ms, max_rtt_ms;
    const mk_peer_entry_t *local;
    const mk_peer_entry_t **v;  /* PeerId order, local peer excluded */
    bool *rtt_hidden;           /* per entry; NULL when there is no RTT filter */
    size_t n, n_shown;          /* n_shown: entries not hidden by max_rtt */
    mk_rtt_tracker_t *rtt;
    /* mk_catalog_count: count(now) = n_shown − #{at < now}. expired_hint caches that number; it is
     * valid while at[hint − 1] < now ≤ at[hint], i.e. until the next expiry (one word: never torn). */
    _Atomic(expiry_table_t *) expiries;
    _Atomic size_t expired_hint;
};

/* ---- building ---- */

int mk_catalog_build(const mk_peer_entry_t *const *sorted, size_t n, const mk_peer_entry_t *local,
                     const mk_catalog_params_t *p, mk_catalog_t **out) {
    *out = NULL;
    mk_catalog_t *c = calloc(1, sizeof *c);
    if (!c) return MK_ENOMEM;
    if (n && !(c->v = malloc(n * sizeof *c->v))) {
        free(c);
        return MK_ENOMEM;
    }
    if (n && p->max_rtt_ms && p->rtt && !(c->rtt_hidden = calloc(n, sizeof *c->rtt_hidden))) {
        free(c->v);
        free(c);
        return MK_ENOMEM;
    }
    atomic_init(&c->refs, 1);
    atomic_init(&c->expiries, NULL);
    atomic_init(&c->expired_hint, 0);
    c->seq = p->seq;
    c->purge_after_ms = p->purge_after_ms;
    c->max_rtt_ms = p->max_rtt_ms;
    c->rtt = mk_rtt_ref(p->rtt);
    c->local = mk_peer_entry_ref(local);
    const int64_t limit_us = (int64_t)p->max_rtt_ms * 1000;
    for (size_t i = 0; i < n; i++) {
        const mk_peer_entry_t *e = sorted[i];
        assert(i == 0 || memcmp(sorted[i - 1]->peer.b, e->peer.b, sizeof e->peer.b) < 0);
        if (local && memcmp(e->peer.b, local->peer.b, sizeof e->peer.b) == 0) continue;
        size_t k = c->n++;
        c->v[k] = mk_peer_entry_ref(e);
        int64_t srtt;
        if (c->rtt_hidden && mk_rtt_get(p->rtt, &e->peer, &srtt, NULL, NULL, NULL) && srtt > limit_us)
            c->rtt_hidden[k] = true;
        else
            c->n_shown++;
    }
    *out = c;
    return MK_OK;
}

mk_catalog_t *mk_catalog_ref(const mk_catalog_t *c) {
    mk_catalog_t *m = (mk_catalog_t *)(uintptr_t)c;
    if (m) atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void mk_catalog_free(const mk_catalog_t *c) {
    mk_catalog_t *m = (mk_catalog_t *)(uintptr_t)c;
    if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < m->n; i++) mk_peer_entry_unref(m->v[i]);
    mk_peer_entry_unref(m->local);
    mk_rtt_unref(m->rtt);
    free(atomic_load(&m->expiries));
    free(m->v);
    free(m->rtt_hidden);
    free(m);
}

uint64_t mk_catalog_seq(const mk_catalog_t *c) { return c ? c->seq : 0; }
const mk_peer_entry_t *mk_catalog_local(const mk_catalog_t *c) { return c ? c->local : NULL; }
size_t mk_catalog_size(const mk_catalog_t *c) { return c ? c->n : 0; }

/* ---- visibility ---- */

/* The last wall ms at which a signed entry is shown (update + purge_after, saturated). */
static int64_t expiry_of(const mk_catalog_t *c, const mk_peer_entry_t *e) {
    if (e->version.update_ms > (uint64_t)(INT64_MAX - c->purge_after_ms)) return INT64_MAX;
    return (int64_t)e->version.update_ms + c->purge_after_ms;
}

static bool rtt_hidden_at(const mk_catalog_t *c, size_t i) { return c->rtt_hidden && c->rtt_hidden[i]; }

static bool visible(const mk_catalog_t *c, size_t i, int64_t now, unsigned flags) {
    const mk_peer_entry_t *e = c->v[i];
    if ((flags & MK_CAT_SIGNED_ONLY) && !e->is_signed) return false;
    if ((flags & MK_CAT_UNSIGNED_ONLY) && e->is_signed) return false;
    if (rtt_hidden_at(c, i) && !(flags & MK_CAT_IGNORE_MAX_RTT)) return false;
    return !e->is_signed || expiry_of(c, e) >= now;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The snapshot's expiry table, built by the first reader that needs it; NULL when out of memory. */
static const expiry_table_t *expiry_table(const mk_catalog_t *c) {
    mk_catalog_t *m = (mk_catalog_t *)(uintptr_t)c;
    expiry_table_t *t = atomic_load_explicit(&m->expiries, memory_order_acquire);
    if (t) return t;
    size_t k = 0;
    for (size_t i = 0; i < c->n; i++) k += c->v[i]->is_signed && !rtt_hidden_at(c, i);
    if (!(t = malloc(sizeof *t + k * sizeof t->at[0]))) return NULL;
    t->n = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i]->is_signed && !rtt_hidden_at(c, i)) t->at[t->n++] = expiry_of(c, c->v[i]);
    qsort(t->at, t->n, sizeof t->at[0], cmp_i64);
    expiry_table_t *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&m->expiries, &none, t, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        free(t);  /* another reader published one first */
        t = none;
    }
    return t;
}

size_t mk_catalog_count_at(const mk_catalog_t *c, int64_t now_ms) {
    if (!c) return 0;
    const expiry_table_t *t = expiry_table(c);
    if (!t) {  /* out of memory: count the slow way */
        size_t k = 0;
        for (size_t i = 0; i < c->n; i++) k += visible(c, i, now_ms, 0);
        return k;
    }
    mk_catalog_t *m = (mk_catalog_t *)(uintptr_t)c;
    size_t k = atomic_load_explicit(&m->expired_hint, memory_order_relaxed);
    if (k > t->n || (k > 0 && t->at[k - 1] >= now_ms) || (k < t->n && t->at[k] < now_ms)) {
        size_t lo = 0, hi = t->n;  /* the first index with at ≥ now = how many have expired */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (t->at[mid] < now_ms) lo = mid + 1;
            else hi = mid;
        }
        k = lo;
        atomic_store_explicit(&m->expired_hint, k, memory_order_relaxed);
    }
    return c->n_shown - k;
}

size_t mk_catalog_count(const mk_catalog_t *c) { return mk_catalog_count_at(c, mk_unix_ms()); }

static bool find(const mk_catalog_t *c, const mk_peer_id_t *peer, size_t *at) {
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = memcmp(c->v[mid]->peer.b, peer->b, sizeof peer->b);
        if (r == 0) {
            *at = mid;
            return true;
        }
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

const mk_peer_entry_t *mk_catalog_get_at(const mk_catalog_t *c, const mk_peer_id_t *peer, int64_t now_ms) {
    size_t i;
    if (!c || !peer || !find(c, peer, &i) || !visible(c, i, now_ms, 0)) return NULL;
    return c->v[i];
}

const mk_peer_entry_t *mk_catalog_get(const mk_catalog_t *c, const mk_peer_id_t *peer) {
    return mk_catalog_get_at(c, peer, mk_unix_ms());
}

bool mk_catalog_rtt_hidden(const mk_catalog_t *c, const mk_peer_id_t *peer) {
    size_t i;
    return c && peer && c->rtt_hidden && find(c, peer, &i) && c->rtt_hidden[i];
}

int mk_catalog_peer_info_at(const mk_catalog_t *c, const mk_peer_id_t *peer, int64_t now_ms, mk_peer_info_t *out) {
    const mk_peer_entry_t *e = mk_catalog_get_at(c, peer, now_ms);
    if (!e) return MK_ENOTFOUND;
    if (!out) return MK_EINVAL;
    *out = (mk_peer_info_t){.entry = e, .rtt_us = -1, .rttvar_us = -1, .rtt_samples = 0};
    int64_t srtt, rttvar;
    uint32_t samples;
    if (c->rtt && mk_rtt_get(c->rtt, peer, &srtt, &rttvar, &samples, NULL)) {
        out->rtt_us = srtt;
        out->rttvar_us = rttvar;
        out->rtt_samples = samples;
    }
    return MK_OK;
}

int mk_catalog_peer_info(const mk_catalog_t *c, const mk_peer_id_t *peer, mk_peer_info_t *out) {
    return mk_catalog_peer_info_at(c, peer, mk_unix_ms(), out);
}

bool mk_peer_info_rtt_below(const mk_peer_info_t *p, uint64_t threshold_us) {
    return p->rtt_us < 0 || (uint64_t)p->rtt_us < threshold_us;
}

bool mk_peer_info_has_tag(const mk_peer_info_t *p, const char *name) {
    return p && p->entry && name && mk_peer_entry_has_tag(p->entry, name);
}

void mk_catalog_iter_init_at(mk_catalog_iter_t *it, const mk_catalog_t *c, unsigned flags, int64_t now_ms) {
    *it = (mk_catalog_iter_t){.c = c, .pos = 0, .now_ms = now_ms, .flags = flags};
}

void mk_catalog_iter_init(mk_catalog_iter_t *it, const mk_catalog_t *c, unsigned flags) {
    mk_catalog_iter_init_at(it, c, flags, mk_unix_ms());
}

const mk_peer_entry_t *mk_catalog_next(mk_catalog_iter_t *it) {
    const mk_catalog_t *c = it->c;
    while (c && it->pos < c->n) {
        size_t i = it->pos++;
        if (visible(c, i, it->now_ms, it->flags)) return c->v[i];
    }
    return NULL;
}

/* ---- publisher and watches ----
 * Locks: `mu` guards the current snapshot, `closed`, the loop thread, every watch's `seen` and fd;
 * `cb_mu` (recursive) is held by the publisher while it runs callbacks and guards the watch list
 * (changed under both), `fn`/`ctx`, `dead` and `in_callbacks`. Order: cb_mu → mu. A callback may call
 * any watch function on the publishing thread; mk_catalog_watch_free / _set_callback from another
 * thread wait until running callbacks are done, so once they return the old callback never runs
 * again. A watch freed from inside a callback is marked dead and freed after that publish's round. */

struct mk_catalog_watch {
    struct mk_catalog_watch *next;
    mk_catalog_pub_t *pub;
    uint64_t seen;  /* seq of the last snapshot handed out (or current at creation) */
    mk_readyfd_t fd;
    void (*fn)(void *ctx);
    void *ctx;
    bool dead;
};

struct mk_catalog_pub {
    _Atomic uint32_t refs;
    pthread_mutex_t mu, cb_mu;
    pthread_cond_t cv;
    mk_catalog_t *cur;
    bool closed, has_loop, in_callbacks, has_dead;
    pthread_t loop;
    mk_catalog_watch_t *watches;
};

mk_catalog_pub_t *mk_catalog_pub_new(void) {
    mk_catalog_pub_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutexattr_t ra;
    pthread_mutexattr_init(&ra);
    pthread_mutexattr_settype(&ra, PTHREAD_MUTEX_RECURSIVE);
    int rc = pthread_mutex_init(&p->cb_mu, &ra);
    pthread_mutexattr_destroy(&ra);
    if (rc != 0) {
        free(p);
        return NULL;
    }
    if (mk_cond_init(&p->cv) != MK_OK) {
        pthread_mutex_destroy(&p->cb_mu);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    atomic_init(&p->refs, 1);
    return p;
}

void mk_catalog_pub_unref(mk_catalog_pub_t *p) {
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    assert(!p->watches);  /* each watch holds a reference */
    mk_catalog_free(p->cur);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->cb_mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

void mk_catalog_pub_bind_loop(mk_catalog_pub_t *p) {
    pthread_mutex_lock(&p->mu);
    p->loop = pthread_self();
    p->has_loop = true;
    pthread_mutex_unlock(&p->mu);
}

static void watch_destroy(mk_catalog_watch_t *w) {
    mk_readyfd_close(&w->fd);
    free(w);
}

/* Holding cb_mu, outside callbacks: unlinks and frees the watches marked dead; returns how many. */
static unsigned sweep_dead(mk_catalog_pub_t *p) {
    unsigned k = 0;
    pthread_mutex_lock(&p->mu);
    for (mk_catalog_watch_t **pp = &p->watches; *pp;) {
        mk_catalog_watch_t *w = *pp;
        if (!w->dead) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        watch_destroy(w);
        k++;
    }
    p->has_dead = false;
    pthread_mutex_unlock(&p->mu);
    return k;
}

void mk_catalog_pub_publish(mk_catalog_pub_t *p, mk_catalog_t *snap) {
    pthread_mutex_lock(&p->mu);
    if (p->closed) {
        pthread_mutex_unlock(&p->mu);
        mk_catalog_free(snap);
        return;
    }
    mk_catalog_t *old = p->cur;
    p->cur = snap;
    uint64_t seq = snap ? snap->seq : 0;
    for (mk_catalog_watch_t *w = p->watches; w; w = w->next)
        if (seq > w->seen) mk_readyfd_set(&w->fd, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    mk_catalog_free(old);

    pthread_mutex_lock(&p->cb_mu);
    p->in_callbacks = true;
    for (mk_catalog_watch_t *w = p->watches; w; w = w->next)
        if (!w->dead && w->fn) w->fn(w->ctx);
    p->in_callbacks = false;
    unsigned dropped = p->has_dead ? sweep_dead(p) : 0;
    pthread_mutex_unlock(&p->cb_mu);
    while (dropped--) mk_catalog_pub_unref(p);  /* the references of watches freed in callbacks */
}

mk_catalog_t *mk_catalog_pub_current(mk_catalog_pub_t *p) {
    if (!p) return NULL;
    pthread_mutex_lock(&p->mu);
    mk_catalog_t *c = p->closed ? NULL : mk_catalog_ref(p->cur);
    pthread_mutex_unlock(&p->mu);
    return c;
}

void mk_catalog_pub_close(mk_catalog_pub_t *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    for (mk_catalog_watch_t *w = p->watches; w; w = w->next) mk_readyfd_set(&w->fd, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

mk_catalog_watch_t *mk_catalog_watch_new(mk_catalog_pub_t *p, mk_error_t *e) {
    if (!p) {
        MK_ERR(e, MK_EINVAL, "no publisher");
        return NULL;
    }
    mk_catalog_watch_t *w = calloc(1, sizeof *w);
    if (!w) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    if (mk_readyfd_init(&w->fd) != MK_OK) {
        free(w);
        MK_ERR(e, MK_EIO, "cannot create the readiness fd");
        return NULL;
    }
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    w->pub = p;
    pthread_mutex_lock(&p->cb_mu);
    pthread_mutex_lock(&p->mu);
    w->seen = p->cur ? p->cur->seq : 0;
    w->next = p->watches;
    p->watches = w;
    if (p->closed) mk_readyfd_set(&w->fd, true);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->cb_mu);
    return w;
}

static bool on_loop(const mk_catalog_pub_t *p) { return p->has_loop && pthread_equal(p->loop, pthread_self()); }

int mk_catalog_watch_changed(mk_catalog_watch_t *w, int timeout_ms, mk_error_t *e) {
    if (!w) return MK_ERR(e, MK_EINVAL, "NULL watch");
    mk_catalog_pub_t *p = w->pub;
    int64_t deadline = mk_deadline_from(timeout_ms);
    bool timed_out = false;
    int rc;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->cur && p->cur->seq > w->seen) {
            rc = MK_OK;
            break;
        }
        if (p->closed) {
            rc = MK_ERR(e, MK_ETERMINATED, "the network is stopping");
            break;
        }
        if (timeout_ms == 0 || timed_out) {
            rc = MK_ERR(e, MK_ETIMEDOUT, "no new catalog snapshot within %d ms",
                        timeout_ms);
            break;
        }
        if (on_loop(p)) {
            rc = MK_ERR(e, MK_EDEADLK, "waiting on the network's loop thread");
            break;
        }
        timed_out = mk_cond_wait_ms(&p->cv, &p->mu, deadline) == MK_ETIMEDOUT;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

mk_catalog_t *mk_catalog_watch_latest(mk_catalog_watch_t *w) {
    if (!w) return NULL;
    mk_catalog_pub_t *p = w->pub;
    pthread_mutex_lock(&p->mu);
    mk_catalog_t *c = mk_catalog_ref(p->cur);
    if (c && c->seq > w->seen) w->seen = c->seq;
    mk_readyfd_set(&w->fd, p->closed);
    pthread_mutex_unlock(&p->mu);
    return c;
}

int mk_catalog_watch_fd(const mk_catalog_watch_t *w) { return w ? mk_readyfd_fd(&w->fd) : -1; }

void mk_catalog_watch_set_callback(mk_catalog_watch_t *w, void (*fn)(void *ctx), void *ctx) {
    if (!w) return;
    pthread_mutex_lock(&w->pub->cb_mu);
    w->fn = fn;
    w->ctx = ctx;
    pthread_mutex_unlock(&w->pub->cb_mu);
}

void mk_catalog_watch_free(mk_catalog_watch_t *w) {
    if (!w) return;
    mk_catalog_pub_t *p = w->pub;
    pthread_mutex_lock(&p->cb_mu);
    if (p->in_callbacks) {  /* inside a callback on the publishing thread: freed after the round */
        w->dead = true;
        w->fn = NULL;
        p->has_dead = true;
        pthread_mutex_unlock(&p->cb_mu);
        return;
    }
    pthread_mutex_lock(&p->mu);
    for (mk_catalog_watch_t **pp = &p->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->cb_mu);
    watch_destroy(w);
    mk_catalog_pub_unref(p);
}
