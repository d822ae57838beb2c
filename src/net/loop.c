/* net/loop.c — the network's event-loop thread: command queue with eventfd wake-up, blocking calls
 * with timeouts, the loop-health heartbeat and the callback watchdog. */
#include "net/net_internal.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <errno.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MK_DRAIN_MAX 256
#define MK_WATCHDOG_US 100000
#define MK_HEARTBEAT_MS 100

static void wake(mk_network_t *n) {
    uint64_t one = 1;
    ssize_t w = write(n->wake_fd, &one, sizeof one);
    (void)w;  /* EAGAIN means the counter is already non-zero: the loop wakes anyway */
}

int mk_loop_post(mk_network_t *n, mk_loop_fn fn, void *arg, void (*dispose)(void *arg)) {
    mk_cmd_t *c = malloc(sizeof *c);
    if (!c) {
        if (dispose) dispose(arg);
        return MK_ENOMEM;
    }
    c->next = NULL;
    c->fn = fn;
    c->arg = arg;
    c->dispose = dispose;
    pthread_mutex_lock(&n->qmu);
    if (atomic_load(&n->state) != MK_NET_ONLINE) {
        pthread_mutex_unlock(&n->qmu);
        free(c);
        if (dispose) dispose(arg);
        return MK_ETERMINATED;
    }
    bool was_empty = n->qhead == NULL;
    if (n->qtail) n->qtail->next = c;
    else n->qhead = c;
    n->qtail = c;
    n->qlen++;
    pthread_mutex_unlock(&n->qmu);
    if (was_empty) wake(n);
    return MK_OK;
}

static void watchdog_check(mk_network_t *n, int64_t start_us, const char *what) {
    int64_t took = mk_now_us() - start_us;
    if (took > MK_WATCHDOG_US)
        MK_LOGF_RL(MK_MOD_NET, MK_LOG_WARN, n->self_short, "loop callback %s blocked the loop for %lld ms", what,
                   (long long)(took / 1000));
}

static void on_wake(evutil_socket_t fd, short what, void *arg) {
    mk_network_t *n = arg;
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
    (void)what;
    for (int i = 0; i < MK_DRAIN_MAX; i++) {
        pthread_mutex_lock(&n->qmu);
        mk_cmd_t *c = n->qhead;
        if (c) {
            n->qhead = c->next;
            if (!n->qhead) n->qtail = NULL;
            n->qlen--;
        }
        size_t left = n->qlen;
        pthread_mutex_unlock(&n->qmu);
        if (!c) break;
        int64_t t0 = mk_now_us();
        c->fn(n, c->arg);
        watchdog_check(n, t0, "command");
        free(c);
        mk_gauge_set(n->m_queued, (int64_t)left);
    }
    pthread_mutex_lock(&n->qmu);
    bool more = n->qhead != NULL;
    pthread_mutex_unlock(&n->qmu);
    if (more) wake(n);  /* leave room for I/O, come back next iteration */
}

/* Completion record of mk_loop_call, shared by the caller and the loop. */
typedef struct call_rec {
    _Atomic int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    mk_loop_fn fn;
    void *arg;
} call_rec_t;

static void call_rec_put(call_rec_t *r) {
    if (atomic_fetch_sub(&r->refs, 1) == 1) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        free(r);
    }
}

static void call_run(mk_network_t *n, void *arg) {
    call_rec_t *r = arg;
    r->fn(n, r->arg);
    pthread_mutex_lock(&r->mu);
    r->done = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    call_rec_put(r);
}

static void call_dispose(void *arg) { call_rec_put(arg); }

int mk_loop_call(mk_network_t *n, mk_loop_fn fn, void *arg, int timeout_ms, mk_error_t *e) {
    if (mk_network_on_loop(n)) {
        if (timeout_ms != 0) return MK_ERR(e, MK_EDEADLK, "blocking call on the loop thread");
        fn(n, arg);
        return MK_OK;
    }
    call_rec_t *r = calloc(1, sizeof *r);
    if (!r) return MK_ERR(e, MK_ENOMEM, "out of memory");
    atomic_init(&r->refs, 2);
    pthread_mutex_init(&r->mu, NULL);
    mk_cond_init(&r->cv);
    r->fn = fn;
    r->arg = arg;
    int rc = mk_loop_post(n, call_run, r, call_dispose);
    if (rc) {
        call_rec_put(r);
        return MK_ERR(e, rc, "network is stopping");
    }
    int64_t deadline = mk_deadline_from(timeout_ms);
    pthread_mutex_lock(&r->mu);
    while (!r->done && rc == MK_OK) rc = mk_cond_wait_ms(&r->cv, &r->mu, deadline);
    bool done = r->done;
    pthread_mutex_unlock(&r->mu);
    call_rec_put(r);
    if (!done) return MK_ERR(e, MK_ETIMEDOUT, "loop did not run the call within %d ms", timeout_ms);
    return MK_OK;
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg) {
    mk_network_t *n = arg;
    int64_t now = mk_now_us();
    int64_t late = now - n->heartbeat_due_us;
    mk_hist_observe(n->m_loop_lag, late > 0 ? (double)late / 1e6 : 0.0);
    n->heartbeat_due_us = now + MK_HEARTBEAT_MS * 1000;
    (void)fd;
    (void)what;
}

/* True on every network's loop thread (set once when the thread starts). */
static _Thread_local bool tls_on_loop;

bool mk_loop_current_is_any(void) { return tls_on_loop; }

static void *loop_main(void *arg) {
    mk_network_t *n = arg;
    tls_on_loop = true;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    atomic_store(&n->loop_tid, pthread_self());
    event_base_loop(n->base, EVLOOP_NO_EXIT_ON_EMPTY);
    /* A bufferevent freed during the last turn is destroyed later by finalizer callbacks, which
     * libevent 2.1's event_base_free can skip (leaking its buffers and SSL); more non-blocking turns
     * run them while everything else is already quiet (a TLS bufferevent's finalizer frees its
     * underlying one, whose finalizer then needs a turn of its own; many links can be closing at
     * once on a busy node). */
    for (int i = 0; i < 8; i++) event_base_loop(n->base, EVLOOP_NONBLOCK);
    return NULL;
}

int mk_loop_start(mk_network_t *n, mk_error_t *e) {
    n->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->wake_fd < 0) return MK_ERR_SYS(e, MK_EIO, errno, "eventfd: %s", strerror(errno));
    n->wake_ev = event_new(n->base, n->wake_fd, EV_READ | EV_PERSIST, on_wake, n);
    n->heartbeat = event_new(n->base, -1, EV_PERSIST, on_heartbeat, n);
    if (!n->wake_ev || !n->heartbeat) return MK_ERR(e, MK_ENOMEM, "cannot create loop events");
    struct timeval hb = {0, MK_HEARTBEAT_MS * 1000};
    event_add(n->wake_ev, NULL);
    n->heartbeat_due_us = mk_now_us() + MK_HEARTBEAT_MS * 1000;
    event_add(n->heartbeat, &hb);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    int rc = pthread_create(&n->thread, &attr, loop_main, n);
    pthread_attr_destroy(&attr);
    if (rc) return MK_ERR_SYS(e, MK_EIO, rc, "pthread_create: %s", strerror(rc));
    char name[16];
    snprintf(name, sizeof name, "mk-%s", n->self_short);
    pthread_setname_np(n->thread, name);
    return MK_OK;
}

void mk_loop_stop_and_join(mk_network_t *n, mk_loop_fn last) {
    /* The queue refuses new posts once STOPPING; enqueue the last command directly. */
    mk_cmd_t *c = calloc(1, sizeof *c);
    if (c) {
        c->fn = last;
        pthread_mutex_lock(&n->qmu);
        if (n->qtail) n->qtail->next = c;
        else n->qhead = c;
        n->qtail = c;
        n->qlen++;
        pthread_mutex_unlock(&n->qmu);
        wake(n);
    } else {
        abort();  /* cannot stop the loop without 32 bytes of memory */
    }
    pthread_join(n->thread, NULL);
    /* Drop commands that never ran. */
    pthread_mutex_lock(&n->qmu);
    mk_cmd_t *q = n->qhead;
    n->qhead = n->qtail = NULL;
    n->qlen = 0;
    pthread_mutex_unlock(&n->qmu);
    while (q) {
        mk_cmd_t *next = q->next;
        if (q->dispose) q->dispose(q->arg);
        free(q);
        q = next;
    }
    if (n->wake_ev) event_free(n->wake_ev);
    if (n->heartbeat) event_free(n->heartbeat);
    n->wake_ev = n->heartbeat = NULL;
    if (n->wake_fd >= 0) close(n->wake_fd);
    n->wake_fd = -1;
}
