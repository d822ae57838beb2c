/* unit/discovery/test_events.c — the peer-event ring (spec 20 §2.3): a lagging subscription gets
 * MK_ELAGGED with the number lost once, then the oldest kept event (backlog 8, 20 unread → 12); new
 * subscriptions see only later events; the fd is readable exactly when next() would not wait; next()
 * blocks and wakes on a push from another thread; close delivers what is pending, then MK_ETERMINATED;
 * callbacks run on the pushing thread; events own their entry reference; MK_EDEADLK on the loop thread.
 * Runs under ASan: every reference taken is dropped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "discovery/events.h"

#include "core/time.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static mk_peer_id_t peer_n(unsigned i) {
    mk_peer_id_t p;
    memset(p.b, 0, sizeof p.b);
    p.b[0] = (uint8_t)i;
    p.b[1] = (uint8_t)(i >> 8);
    return p;
}

static const mk_peer_entry_t *make_entry(const char *who) {
    mk_network_id_t net = mk_id_from_str("events-test-net");
    mk_secret_key_t sk;
    mk_secret_key_from_str(who, &sk);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    assert_non_null(d);
    mk_entry_draft_init(d, &net, &pub);
    d->version = (mk_entry_version_t){1000, 1000};
    const mk_peer_entry_t *e = NULL;
    assert_int_equal(mk_entry_draft_seal(d, NULL, &e, NULL), MK_OK);
    mk_entry_draft_free(d);
    free(d);
    return e;
}

static uint32_t refs_of(const mk_peer_entry_t *e) { return atomic_load(&((mk_peer_entry_t *)(uintptr_t)e)->refs); }

static bool fd_readable(const mk_discovery_events_t *s) {
    struct pollfd pfd = {.fd = mk_discovery_events_fd(s), .events = POLLIN};
    return poll(&pfd, 1, 0) == 1;
}

static uint64_t push_n(mk_event_ring_t *r, unsigned i) {
    mk_peer_id_t p = peer_n(i);
    return mk_event_ring_push(r, MK_PEER_DISCOVERED, &p, NULL, false, 0);
}

static void lagging_subscription_gets_elagged_once_then_the_oldest_kept_event(void **state) {
    (void)state;
    mk_event_ring_t *r = mk_event_ring_new(8);
    mk_discovery_events_t *s = mk_event_ring_subscribe(r, NULL);
    assert_non_null(s);
    for (unsigned i = 1; i <= 20; i++) assert_int_equal(push_n(r, i), i);
    mk_peer_event_t ev;
    uint64_t lagged = 99;
    mk_error_t err;
    assert_int_equal(mk_discovery_events_next(s, &ev, &lagged, 0, &err), MK_ELAGGED);
    assert_int_equal(lagged, 12);
    assert_int_equal(err.code, MK_ELAGGED);
    assert_null(ev.entry);
    for (unsigned i = 13; i <= 20; i++) {
        assert_int_equal(mk_discovery_events_next(s, &ev, &lagged, 0, NULL), MK_OK);
        assert_int_equal(lagged, 0);
        assert_int_equal(ev.seq, i);
        assert_int_equal(ev.kind, MK_PEER_DISCOVERED);
        mk_peer_id_t want = peer_n(i);
        assert_memory_equal(ev.peer.b, want.b, 32);
        mk_peer_event_clear(&ev);
    }
    assert_int_equal(mk_discovery_events_next(s, &ev, &lagged, 0, NULL), MK_ETIMEDOUT);
    /* lagging again later is reported again, with the new count */
    for (unsigned i = 21; i <= 30; i++) push_n(r, i);
    assert_int_equal(mk_discovery_events_next(s, &ev, &lagged, 0, NULL), MK_ELAGGED);
    assert_int_equal(lagged, 2);
    assert_int_equal(mk_discovery_events_next(s, &ev, NULL, 0, NULL), MK_OK);  /* lagged may be NULL */
    assert_int_equal(ev.seq, 23);
    mk_discovery_events_free(s);
    mk_event_ring_unref(r);
}

static void a_new_subscription_sees_only_later_events(void **state) {
    (void)state;
    mk_event_ring_t *r = mk_event_ring_new(16);
    mk_discovery_events_t *early = mk_event_ring_subscribe(r, NULL);
    for (unsigned i = 1; i <= 3; i++) push_n(r, i);
    mk_discovery_events_t *late = mk_event_ring_subscribe(r, NULL);
    mk_peer_event_t ev;
    assert_int_equal(mk_discovery_events_next(late, &ev, NULL, 0, NULL), MK_ETIMEDOUT);
    assert_false(fd_readable(late));
    push_n(r, 4);
    assert_int_equal(mk_discovery_events_next(late, &ev, NULL, 0, NULL), MK_OK);
    assert_int_equal(ev.seq, 4);
    mk_peer_event_clear(&ev);
    /* the early one still has all four */
    for (uint64_t want = 1; want <= 4; want++) {
        assert_int_equal(mk_discovery_events_next(early, &ev, NULL, 0, NULL), MK_OK);
        assert_int_equal(ev.seq, want);
        mk_peer_event_clear(&ev);
    }
    mk_discovery_events_free(early);
    mk_discovery_events_free(late);
    mk_event_ring_unref(r);
}

static void the_fd_is_readable_exactly_when_next_would_not_wait(void **state) {
    (void)state;
    mk_event_ring_t *r = mk_event_ring_new(2);
    mk_discovery_events_t *s = mk_event_ring_subscribe(r, NULL);
    mk_peer_event_t ev;
    uint64_t lagged;
    assert_false(fd_readable(s));
    push_n(r, 1);
    assert_true(fd_readable(s));
    assert_true(fd_readable(s));  /* level: polling does not consume it */
    push_n(r, 2);
    assert_int_equal(mk_discovery_events_next(s, &ev, &lagged, 0, NULL), MK_OK);
    mk_peer_event_clear(&ev);
    assert_true(fd_readable(s));  /* one left */
    assert_int_equal(mk_discovery_events_next(s, &ev, &lagged, 0, NULL), MK_OK);
    mk_peer_event_clear(&ev);
    assert_false(fd_readable(s));
    assert_int_equal(mk_discovery_events_next(s, &ev, &lagged, 0, NULL), MK_ETIMEDOUT);
    assert_false(fd_readable(s));
    /* lag: readable, and still readable after MK_ELAGGED since the kept events follow */
    for (unsigned i = 3; i <= 6; i++) push_n(r, i);
    assert_true(fd_readable(s));
    assert_int_equal(mk_discovery_events_next(s, &ev, &lagged, 0, NULL), MK_ELAGGED);
    assert_true(fd_readable(s));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mk_discovery_events_next(s, &ev, &lagged, 0, NULL), MK_OK);
        mk_peer_event_clear(&ev);
    }
    assert_false(fd_readable(s));
    /* close: next() returns MK_ETERMINATED at once, so the fd stays readable */
    mk_event_ring_close(r);
    assert_true(fd_readable(s));
    assert_int_equal(mk_discovery_events_next(s, &ev, &lagged, 0, NULL), MK_ETERMINATED);
    assert_true(fd_readable(s));
    mk_discovery_events_free(s);
    mk_event_ring_unref(r);
}

typedef struct pusher {
    mk_event_ring_t *r;
    int delay_ms;
    unsigned n;
    bool close_instead;
    pthread_t thread;
} pusher_t;

static void *push_later(void *arg) {
    pusher_t *p = arg;
    usleep((useconds_t)p->delay_ms * 1000);
    p->thread = pthread_self();
    if (p->close_instead) mk_event_ring_close(p->r);
    else
        for (unsigned i = 1; i <= p->n; i++) push_n(p->r, 100 + i);
    return NULL;
}

static void next_blocks_and_wakes_on_a_push_from_another_thread(void **state) {
    (void)state;
    mk_event_ring_t *r = mk_event_ring_new(8);
    mk_discovery_events_t *s = mk_event_ring_subscribe(r, NULL);
    mk_peer_event_t ev;
    int64_t t0 = mk_now_ms();
    assert_int_equal(mk_discovery_events_next(s, &ev, NULL, 60, NULL), MK_ETIMEDOUT);
    assert_true(mk_now_ms() - t0 >= 55);
    pusher_t p = {.r = r, .delay_ms = 50, .n = 1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, push_later, &p), 0);
    t0 = mk_now_ms();
    assert_int_equal(mk_discovery_events_next(s, &ev, NULL, -1, NULL), MK_OK);
    assert_true(mk_now_ms() - t0 < 5000);
    pthread_join(th, NULL);
    mk_peer_id_t want = peer_n(101);
    assert_memory_equal(ev.peer.b, want.b, 32);
    mk_peer_event_clear(&ev);
    mk_discovery_events_free(s);
    mk_event_ring_unref(r);
}

static void close_delivers_pending_events_then_eterminated(void **state) {
    (void)state;
    mk_event_ring_t *r = mk_event_ring_new(8);
    mk_discovery_events_t *s = mk_event_ring_subscribe(r, NULL);
    mk_discovery_events_t *idle = mk_event_ring_subscribe(r, NULL);
    mk_peer_event_t ev;
    /* a forever-wait ends when the ring closes */
    pusher_t p = {.r = r, .delay_ms = 50, .close_instead = true};
    pthread_t th;
    mk_discovery_events_t *waiter = mk_event_ring_subscribe(r, NULL);
    push_n(r, 1);
    push_n(r, 2);
    assert_int_equal(pthread_create(&th, NULL, push_later, &p), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mk_discovery_events_next(waiter, &ev, NULL, 0, NULL), MK_OK);
        mk_peer_event_clear(&ev);
    }
    mk_error_t err;
    assert_int_equal(mk_discovery_events_next(waiter, &ev, NULL, -1, &err), MK_ETERMINATED);
    pthread_join(th, NULL);
    assert_int_equal(mk_event_ring_push(r, MK_PEER_DEPARTED, &ev.peer, NULL, false, MK_DEPART_STALE), 0);
    /* s had not read yet: both events first */
    for (uint64_t want = 1; want <= 2; want++) {
        assert_int_equal(mk_discovery_events_next(s, &ev, NULL, 1000, NULL), MK_OK);
        assert_int_equal(ev.seq, want);
        mk_peer_event_clear(&ev);
    }
    assert_int_equal(mk_discovery_events_next(s, &ev, NULL, 1000, NULL), MK_ETERMINATED);
    assert_int_equal(mk_discovery_events_next(s, &ev, NULL, 1000, NULL), MK_ETERMINATED);
    mk_event_ring_close(r);  /* idempotent */
    mk_discovery_events_t *after = mk_event_ring_subscribe(r, NULL);
    assert_int_equal(mk_discovery_events_next(after, &ev, NULL, -1, NULL), MK_ETERMINATED);
    mk_event_ring_unref(r);  /* the subscriptions keep the ring */
    mk_discovery_events_free(after);
    mk_discovery_events_free(waiter);
    mk_discovery_events_free(idle);
    mk_discovery_events_free(s);
}

static void events_own_their_entry_reference(void **state) {
    (void)state;
    const mk_peer_entry_t *e = make_entry("someone");
    mk_event_ring_t *r = mk_event_ring_new(1);
    mk_discovery_events_t *s = mk_event_ring_subscribe(r, NULL);
    assert_int_equal(mk_event_ring_push(r, MK_PEER_UPDATED, &e->peer, e, true, 0), 1);
    assert_int_equal(refs_of(e), 2);  /* the caller's and the ring's */
    mk_peer_event_t ev;
    assert_int_equal(mk_discovery_events_next(s, &ev, NULL, 0, NULL), MK_OK);
    assert_int_equal(ev.kind, MK_PEER_UPDATED);
    assert_true(ev.content_changed);
    assert_ptr_equal(ev.entry, e);
    assert_int_equal(refs_of(e), 3);
    /* evicting it from the ring leaves the reader's copy intact */
    mk_peer_id_t gone = peer_n(7);
    mk_event_ring_push(r, MK_PEER_DEPARTED, &gone, NULL, false, MK_DEPART_GRACEFUL);
    assert_int_equal(refs_of(e), 2);
    assert_memory_equal(mk_peer_entry_id(ev.entry)->b, e->peer.b, 32);
    mk_peer_event_clear(&ev);
    assert_null(ev.entry);
    assert_int_equal(refs_of(e), 1);
    mk_peer_event_clear(&ev);  /* clearing twice is harmless */
    mk_peer_event_t dep;
    assert_int_equal(mk_discovery_events_next(s, &dep, NULL, 0, NULL), MK_OK);
    assert_int_equal(dep.kind, MK_PEER_DEPARTED);
    assert_int_equal(dep.reason, MK_DEPART_GRACEFUL);
    assert_null(dep.entry);
    mk_peer_event_clear(&dep);
    /* the ring's last references go with it */
    mk_event_ring_push(r, MK_PEER_DISCOVERED, &e->peer, e, false, 0);
    assert_int_equal(refs_of(e), 2);
    mk_discovery_events_free(s);
    mk_event_ring_unref(r);
    assert_int_equal(refs_of(e), 1);
    mk_peer_entry_unref(e);
}

typedef struct cb_log {
    unsigned calls;
    uint64_t last_seq;
    pthread_t thread;
    mk_discovery_events_t *s;
    int drained;  /* events the callback read with next(…, 0) */
} cb_log_t;

static void count_cb(void *ctx, const mk_peer_event_t *ev) {
    cb_log_t *l = ctx;
    l->calls++;
    l->last_seq = ev->seq;
    l->thread = pthread_self();
    mk_peer_event_t got;
    while (mk_discovery_events_next(l->s, &got, NULL, 0, NULL) == MK_OK) {  /* next() works in a callback */
        l->drained++;
        mk_peer_event_clear(&got);
    }
}

static void callbacks_run_on_the_pushing_thread_for_every_event(void **state) {
    (void)state;
    mk_event_ring_t *r = mk_event_ring_new(4);
    mk_discovery_events_t *s = mk_event_ring_subscribe(r, NULL);
    cb_log_t log = {.s = s};
    mk_discovery_events_set_callback(s, count_cb, &log);
    push_n(r, 1);
    assert_int_equal(log.calls, 1);
    assert_int_equal(log.last_seq, 1);
    assert_int_equal(log.drained, 1);
    assert_true(pthread_equal(log.thread, pthread_self()));
    pusher_t p = {.r = r, .n = 5};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, push_later, &p), 0);
    pthread_join(th, NULL);
    assert_int_equal(log.calls, 6);
    assert_int_equal(log.last_seq, 6);
    assert_int_equal(log.drained, 6);
    assert_true(pthread_equal(log.thread, p.thread));
    assert_false(fd_readable(s));
    mk_discovery_events_set_callback(s, NULL, NULL);
    push_n(r, 7);
    assert_int_equal(log.calls, 6);
    assert_true(fd_readable(s));
    mk_discovery_events_free(s);
    mk_event_ring_unref(r);
}

/* 100 subscriptions with callbacks: every one is called (no fixed cap). */
static void every_subscription_gets_its_callback(void **state) {
    (void)state;
    enum { N = 100 };
    mk_event_ring_t *r = mk_event_ring_new(4);
    mk_discovery_events_t *subs[N];
    cb_log_t logs[N];
    memset(logs, 0, sizeof logs);
    for (int i = 0; i < N; i++) {
        subs[i] = mk_event_ring_subscribe(r, NULL);
        logs[i].s = subs[i];
        mk_discovery_events_set_callback(subs[i], count_cb, &logs[i]);
    }
    push_n(r, 1);
    for (int i = 0; i < N; i++) assert_int_equal(logs[i].calls, 1);
    for (int i = 0; i < N; i++) mk_discovery_events_free(subs[i]);
    mk_event_ring_unref(r);
}

static void free_self_cb(void *ctx, const mk_peer_event_t *ev) {
    cb_log_t *l = ctx;
    (void)ev;
    l->calls++;
    mk_discovery_events_free(l->s);  /* a subscription may end itself from its callback */
    l->s = NULL;
}

static void a_subscription_freed_in_its_callback_is_released_after_the_round(void **state) {
    (void)state;
    mk_event_ring_t *r = mk_event_ring_new(4);
    cb_log_t a = {0}, b = {0};
    a.s = mk_event_ring_subscribe(r, NULL);
    b.s = mk_event_ring_subscribe(r, NULL);
    mk_discovery_events_set_callback(a.s, free_self_cb, &a);
    mk_discovery_events_set_callback(b.s, free_self_cb, &b);
    push_n(r, 1);
    push_n(r, 2);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    mk_event_ring_unref(r);  /* last reference: ASan reports anything left */
}

static void *next_on_bound_loop(void *arg) {
    mk_event_ring_t *r = arg;
    mk_event_ring_bind_loop(r);
    mk_discovery_events_t *s = mk_event_ring_subscribe(r, NULL);
    mk_peer_event_t ev;
    intptr_t waiting = mk_discovery_events_next(s, &ev, NULL, 100, NULL);
    intptr_t polling = mk_discovery_events_next(s, &ev, NULL, 0, NULL);
    push_n(r, 1);
    intptr_t ready = mk_discovery_events_next(s, &ev, NULL, 100, NULL);  /* would not wait: fine */
    mk_peer_event_clear(&ev);
    mk_discovery_events_free(s);
    return (void *)(waiting * 10000 + polling * 100 + ready);
}

static void waiting_on_the_loop_thread_is_refused(void **state) {
    (void)state;
    mk_event_ring_t *r = mk_event_ring_new(4);
    pthread_t th;
    void *res;
    assert_int_equal(pthread_create(&th, NULL, next_on_bound_loop, r), 0);
    pthread_join(th, &res);
    assert_int_equal((intptr_t)res, MK_EDEADLK * 10000 + MK_ETIMEDOUT * 100 + MK_OK);
    mk_event_ring_unref(r);
}

static void bad_arguments_are_refused(void **state) {
    (void)state;
    mk_peer_event_t ev;
    uint64_t lagged = 5;
    mk_error_t err;
    assert_int_equal(mk_discovery_events_next(NULL, &ev, &lagged, 0, &err), MK_EINVAL);
    assert_int_equal(lagged, 0);
    assert_null(mk_event_ring_subscribe(NULL, &err));
    assert_int_equal(err.code, MK_EINVAL);
    assert_int_equal(mk_discovery_events_fd(NULL), -1);
    mk_discovery_events_free(NULL);
    mk_peer_event_clear(NULL);
    /* capacity 0 keeps one event */
    mk_event_ring_t *r = mk_event_ring_new(0);
    mk_discovery_events_t *s = mk_event_ring_subscribe(r, NULL);
    push_n(r, 1);
    push_n(r, 2);
    assert_int_equal(mk_discovery_events_next(s, &ev, &lagged, 0, NULL), MK_ELAGGED);
    assert_int_equal(lagged, 1);
    assert_int_equal(mk_discovery_events_next(s, &ev, &lagged, 0, NULL), MK_OK);
    assert_int_equal(ev.seq, 2);
    mk_discovery_events_free(s);
    mk_event_ring_unref(r);
}

/* The loop pushes all the time while another thread subscribes, sets a callback whose context lives
 * on the heap, frees the subscription and then the context: no callback may run after free returned
 * (ASan would report the use after free). */
typedef struct churn {
    mk_event_ring_t *r;
    _Atomic bool stop;
} churn_t;

static void *push_until_stopped(void *arg) {
    churn_t *c = arg;
    for (unsigned i = 0; !atomic_load(&c->stop); i++) {
        push_n(c->r, i);
        sched_yield();
    }
    return NULL;
}

/* Touches its context before and after a short spin, widening the window a late call would hit. */
static void touch_cb(void *ctx, const mk_peer_event_t *ev) {
    unsigned *hits = ctx;
    (void)ev;
    (*hits)++;
    for (int64_t end = mk_now_us() + 20; mk_now_us() < end;) {
    }
    (*hits)++;
}

static void touch_atomic_cb(void *ctx, const mk_peer_event_t *ev) {
    (void)ev;
    atomic_fetch_add((_Atomic unsigned *)ctx, 1);
}

static void no_callback_runs_after_free_returned(void **state) {
    (void)state;
    churn_t c = {.r = mk_event_ring_new(4)};
    atomic_init(&c.stop, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, push_until_stopped, &c), 0);
    int64_t until = mk_now_ms() + 300;  /* ≤ 1000 rounds or 300 ms: valgrind serialises the threads */
    for (int i = 0; i < 1000 && (i < 20 || mk_now_ms() < until); i++) {
        mk_discovery_events_t *s = mk_event_ring_subscribe(c.r, NULL);
        unsigned *hits = calloc(1, sizeof *hits);
        mk_discovery_events_set_callback(s, touch_cb, hits);
        if (i % 2 == 0) usleep(20);
        mk_peer_event_t ev;
        if (mk_discovery_events_next(s, &ev, NULL, 0, NULL) == MK_OK) mk_peer_event_clear(&ev);
        mk_discovery_events_free(s);
        free(hits);
    }
    /* the callbacks do run meanwhile: one more context sees hits within 2 s */
    _Atomic unsigned last = 0;
    mk_discovery_events_t *h = mk_event_ring_subscribe(c.r, NULL);
    mk_discovery_events_set_callback(h, touch_atomic_cb, &last);
    for (int64_t end = mk_now_ms() + 2000; atomic_load(&last) == 0 && mk_now_ms() < end;) usleep(1000);
    mk_discovery_events_free(h);
    assert_true(atomic_load(&last) > 0);
    atomic_store(&c.stop, true);
    pthread_join(th, NULL);
    mk_event_ring_unref(c.r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lagging_subscription_gets_elagged_once_then_the_oldest_kept_event),
        cmocka_unit_test(a_new_subscription_sees_only_later_events),
        cmocka_unit_test(the_fd_is_readable_exactly_when_next_would_not_wait),
        cmocka_unit_test(next_blocks_and_wakes_on_a_push_from_another_thread),
        cmocka_unit_test(close_delivers_pending_events_then_eterminated),
        cmocka_unit_test(events_own_their_entry_reference),
        cmocka_unit_test(callbacks_run_on_the_pushing_thread_for_every_event),
        cmocka_unit_test(every_subscription_gets_its_callback),
        cmocka_unit_test(a_subscription_freed_in_its_callback_is_released_after_the_round),
        cmocka_unit_test(waiting_on_the_loop_thread_is_refused),
        cmocka_unit_test(bad_arguments_are_refused),
        cmocka_unit_test(no_callback_runs_after_free_returned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
