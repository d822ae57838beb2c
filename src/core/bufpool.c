/* core/bufpool.c — the small-block pool (see bufpool.h): a mutex-protected free list of blocks, each
 * preceded by a 16-byte header naming its pool (NULL for malloc'd buffers). */
#include "core/bufpool.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef union hdr {
    mk_bufpool_t *pool;         /* NULL: plain malloc */
    union hdr *next_free;       /* while idle in the pool */
    max_align_t align_;
} hdr_t;

struct mk_bufpool {
    pthread_mutex_t mu;
    hdr_t *free_list;           /* mu */
    size_t nfree, max_free;     /* mu */
    size_t block_size;
    _Atomic size_t outstanding; /* blocks handed out */
    _Atomic bool closed;
    _Atomic size_t refs;        /* the creator's + one per holder + one per outstanding block */
};

static void pool_destroy(mk_bufpool_t *p) {
    for (hdr_t *h = p->free_list, *next; h; h = next) {
        next = h->next_free;
        free(h);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static void pool_unref(mk_bufpool_t *p) {
    if (atomic_fetch_sub(&p->refs, 1) == 1) pool_destroy(p);
}

mk_bufpool_t *mk_bufpool_new(size_t block_size, size_t max_free) {
    mk_bufpool_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    p->block_size = block_size;
    p->max_free = max_free;
    atomic_init(&p->outstanding, 0);
    atomic_init(&p->closed, false);
    atomic_init(&p->refs, 1);
    return p;
}

void mk_bufpool_close(mk_bufpool_t *p) {
    if (!p) return;
    atomic_store(&p->closed, true);
    pthread_mutex_lock(&p->mu);
    hdr_t *idle = p->free_list;
    p->free_list = NULL;
    p->nfree = 0;
    pthread_mutex_unlock(&p->mu);
    for (hdr_t *next; idle; idle = next) {
        next = idle->next_free;
        free(idle);
    }
    pool_unref(p);
}

void *mk_bufpool_alloc(mk_bufpool_t *p, size_t n) {
    hdr_t *h = NULL;
    if (p && n <= p->block_size) {
        pthread_mutex_lock(&p->mu);
        if ((h = p->free_list)) {
            p->free_list = h->next_free;
            p->nfree--;
        }
        pthread_mutex_unlock(&p->mu);
        if (!h && !(h = malloc(sizeof *h + p->block_size))) return NULL;
        h->pool = p;
        atomic_fetch_add(&p->refs, 1);
        atomic_fetch_add_explicit(&p->outstanding, 1, memory_order_relaxed);
        return h + 1;
    }
    if (n > SIZE_MAX - sizeof *h || !(h = malloc(sizeof *h + n))) return NULL;
    h->pool = NULL;
    return h + 1;
}

void mk_bufpool_free(void *ptr) {
    if (!ptr) return;
    hdr_t *h = (hdr_t *)ptr - 1;
    mk_bufpool_t *p = h->pool;
    if (!p) {
        free(h);
        return;
    }
    atomic_fetch_sub_explicit(&p->outstanding, 1, memory_order_relaxed);
    bool kept = false;
    if (!atomic_load_explicit(&p->closed, memory_order_relaxed)) {
        pthread_mutex_lock(&p->mu);
        if (p->nfree < p->max_free && !atomic_load(&p->closed)) {
            h->next_free = p->free_list;
            p->free_list = h;
            p->nfree++;
            kept = true;
        }
        pthread_mutex_unlock(&p->mu);
    }
    if (!kept) free(h);
    pool_unref(p);
}

mk_bufpool_t *mk_bufpool_retain(mk_bufpool_t *p) {
    if (p) atomic_fetch_add(&p->refs, 1);
    return p;
}

void mk_bufpool_release(mk_bufpool_t *p) {
    if (p) pool_unref(p);
}

size_t mk_bufpool_outstanding(const mk_bufpool_t *p) {
    return p ? atomic_load(&((mk_bufpool_t *)p)->outstanding) : 0;
}
