/* unit/tee/test_mock_provider.c — quote providers and the process-wide TDX worker (spec 60 §8): the
 * mock provider quotes through the worker (REPORTDATA checked, measurements, availability probed once
 * and cached), a slow fake provider times out (MK_ETIMEDOUT) and its late result is discarded safely
 * while the next request gets its own quote, bad provider output is refused (MK_EPROTO) and provider
 * errors pass through, freeing a provider waits for its running request and ends its queued ones
 * (MK_ETERMINATED), blocking calls refuse a network loop thread (MK_EBUSY, availability false), and a
 * forked child quotes with a worker of its own. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/tdx.h"

#include <stdio.h>

#include "core/error.h"
#include "core/time.h"
#include "net/net.h"
#include "support/mkt.h"
#include "support/mkt_net.h"
#include "tee/tdx/provider.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static mk_tdx_mock_t *mock_of(uint8_t seed) {
    mk_tdx_mock_config_t c = {0};
    memset(c.seed, seed, sizeof c.seed);
    for (int i = 0; i < 48; i++) c.measurements.mrtd.b[i] = (uint8_t)i;
    memset(c.measurements.rtmr[3].b, 0x33, 48);
    mk_tdx_mock_t *m = mk_tdx_mock_new(&c, NULL);
    assert_non_null(m);
    return m;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {}
}

/* ---- a fake provider: a mock quote after a delay, or a chosen failure ---- */

typedef enum { FAKE_OK, FAKE_WRONG_RD, FAKE_GARBAGE, FAKE_ENOTSUP } fake_mode_t;

typedef struct fake {
    mk_tdx_mock_t *m;
    atomic_int delay_ms;
    fake_mode_t mode;
    atomic_int calls, finished, destroyed_after_finish, destroyed;
} fake_t;

static int fake_quote(void *ctx, const uint8_t rd[64], mk_buf_t *q, mk_error_t *e) {
    fake_t *f = ctx;
    atomic_fetch_add(&f->calls, 1);
    int delay = atomic_load(&f->delay_ms);
    if (delay) sleep_ms(delay);
    int rc = MK_OK;
    if (f->mode == FAKE_ENOTSUP) {
        rc = MK_ERR(e, MK_ENOTSUP, "fake: not a TDX guest");
    } else if (f->mode == FAKE_GARBAGE) {
        rc = mk_buf_append(q, "not a quote", 11);
    } else {
        uint8_t other[64];
        memcpy(other, rd, 64);
        if (f->mode == FAKE_WRONG_RD) other[63] ^= 1;
        rc = mk_tdx_mock_quote(f->m, other, q, e);
    }
    atomic_fetch_add(&f->finished, 1);
    return rc;
}

static void fake_destroy(void *ctx) {
    fake_t *f = ctx;
    atomic_store(&f->destroyed_after_finish, atomic_load(&f->finished) == atomic_load(&f->calls));
    atomic_store(&f->destroyed, 1);
}

static const mk_tdx_provider_ops_t FAKE_OPS = {.name = "fake", .quote = fake_quote, .destroy = fake_destroy};

static void rd_of(uint8_t rd[64], uint8_t v) {
    for (int i = 0; i < 64; i++) rd[i] = (uint8_t)(v ^ i);
}

static void assert_carries(const mk_buf_t *q, const uint8_t rd[64]) {
    mk_tdx_quote_t pq;
    assert_int_equal(mk_tdx_quote_parse(q->ptr, q->len, &pq, NULL), MK_OK);
    assert_memory_equal(pq.report_data, rd, 64);
}

/* ---- tests ---- */

static void test_mock_provider(void **state) {
    (void)state;
    mk_tdx_mock_t *m = mock_of(1);
    mk_tdx_provider_t *p = mk_tdx_mock_provider(m);
    assert_non_null(p);
    uint8_t rd[64];
    rd_of(rd, 0x5A);
    mk_buf_t q = MK_BUF_INIT;
    mk_error_t e = {0};
    assert_int_equal(mk_tdx_provider_quote(p, rd, mkt_ms(5000), &q, &e), MK_OK);
    assert_carries(&q, rd);
    /* the same bytes as a direct mock quote */
    mk_buf_t d = MK_BUF_INIT;
    assert_int_equal(mk_tdx_mock_quote(m, rd, &d, NULL), MK_OK);
    assert_int_equal(d.len, q.len);
    assert_memory_equal(d.ptr, q.ptr, q.len);
    assert_true(mk_tdx_provider_available(p, mkt_ms(5000)));
    mk_measurements_t ms;
    assert_int_equal(mk_tdx_local_measurements(p, mkt_ms(5000), &ms, &e), MK_OK);
    for (int i = 0; i < 48; i++) assert_int_equal(ms.mrtd.b[i], i);
    uint8_t r3[48];
    memset(r3, 0x33, 48);
    assert_memory_equal(ms.rtmr[3].b, r3, 48);
    assert_int_equal(mk_tdx_provider_quote(NULL, rd, 10, &q, &e), MK_EINVAL);
    mk_tdx_provider_free(NULL);
    mk_buf_free(&d);
    mk_buf_free(&q);
    mk_tdx_provider_free(p);
    mk_tdx_mock_free(m);
}

static void test_available_cached(void **state) {
    (void)state;
    mk_tdx_mock_t *m = mock_of(2);
    fake_t f = {.m = m};
    mk_tdx_provider_t *p = mk_tdx_provider_new(&FAKE_OPS, &f);
    assert_true(mk_tdx_provider_available(p, mkt_ms(5000)));
    assert_true(mk_tdx_provider_available(p, mkt_ms(5000)));
    assert_int_equal(atomic_load(&f.calls), 1);
    mk_tdx_provider_free(p);
    fake_t g = {.m = m, .mode = FAKE_ENOTSUP};
    p = mk_tdx_provider_new(&FAKE_OPS, &g);
    assert_false(mk_tdx_provider_available(p, mkt_ms(5000)));
    assert_false(mk_tdx_provider_available(p, mkt_ms(5000)));
    assert_int_equal(atomic_load(&g.calls), 1);
    mk_tdx_provider_free(p);
    mk_tdx_mock_free(m);
}

static void test_bad_output(void **state) {
    (void)state;
    mk_tdx_mock_t *m = mock_of(3);
    const struct { fake_mode_t mode; int code; } cases[] = {
        {FAKE_WRONG_RD, MK_EPROTO}, {FAKE_GARBAGE, MK_EPROTO}, {FAKE_ENOTSUP, MK_ENOTSUP}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_t f = {.m = m, .mode = cases[i].mode};
        mk_tdx_provider_t *p = mk_tdx_provider_new(&FAKE_OPS, &f);
        uint8_t rd[64];
        rd_of(rd, 1);
        mk_buf_t q = MK_BUF_INIT;
        mk_error_t e = {0};
        assert_int_equal(mk_tdx_provider_quote(p, rd, mkt_ms(5000), &q, &e), cases[i].code);
        assert_int_equal(e.code, cases[i].code);
        assert_int_equal(q.len, 0);
        mk_tdx_provider_free(p);
    }
    mk_tdx_mock_free(m);
}

static void test_timeout_and_late_result(void **state) {
    (void)state;
    mk_tdx_mock_t *m = mock_of(4);
    fake_t f = {.m = m, .delay_ms = mkt_ms(400)};
    mk_tdx_provider_t *p = mk_tdx_provider_new(&FAKE_OPS, &f);
    uint8_t rd1[64], rd2[64];
    rd_of(rd1, 1);
    rd_of(rd2, 2);
    mk_buf_t q = MK_BUF_INIT;
    mk_error_t e = {0};
    int64_t t0 = mk_now_ms();
    assert_int_equal(mk_tdx_provider_quote(p, rd1, 30, &q, &e), MK_ETIMEDOUT);
    assert_true(mk_now_ms() - t0 < mkt_ms(300));
    assert_int_equal(q.len, 0);
    /* the next request queues behind the abandoned one and gets its own quote */
    atomic_store(&f.delay_ms, 0);
    assert_int_equal(mk_tdx_provider_quote(p, rd2, mkt_ms(5000), &q, &e), MK_OK);
    assert_carries(&q, rd2);
    assert_int_equal(atomic_load(&f.calls), 2);
    mk_buf_free(&q);
    /* a timed-out request still running when the provider is freed: free waits for it */
    atomic_store(&f.delay_ms, mkt_ms(200));
    assert_int_equal(mk_tdx_provider_quote(p, rd1, 10, &q, &e), MK_ETIMEDOUT);
    mk_tdx_provider_free(p);
    assert_int_equal(atomic_load(&f.destroyed), 1);
    assert_int_equal(atomic_load(&f.destroyed_after_finish), 1);
    mk_tdx_mock_free(m);
}

typedef struct waiter {
    mk_tdx_provider_t *p;
    int timeout_ms, rc;
    pthread_t th;
} waiter_t;

static void *waiter_main(void *arg) {
    waiter_t *w = arg;
    uint8_t rd[64] = {9};
    mk_buf_t q = MK_BUF_INIT;
    w->rc = mk_tdx_provider_quote(w->p, rd, w->timeout_ms, &q, NULL);
    mk_buf_free(&q);
    return NULL;
}

static void test_free_while_running(void **state) {
    (void)state;
    mk_tdx_mock_t *m = mock_of(5);
    /* a: slow, occupies the worker; b: its request waits in the queue */
    fake_t fa = {.m = m, .delay_ms = mkt_ms(300)}, fb = {.m = m};
    mk_tdx_provider_t *a = mk_tdx_provider_new(&FAKE_OPS, &fa), *b = mk_tdx_provider_new(&FAKE_OPS, &fb);
    waiter_t wa = {.p = a, .timeout_ms = -1}, wb = {.p = b, .timeout_ms = -1};
    pthread_create(&wa.th, NULL, waiter_main, &wa);
    while (atomic_load(&fa.calls) == 0) sleep_ms(1);
    pthread_create(&wb.th, NULL, waiter_main, &wb);
    while (mk_tdx_provider_pending(b) == 0) sleep_ms(1); /* wb's job is queued behind a's */
    mk_tdx_provider_free(b); /* ends the queued job at once */
    pthread_join(wb.th, NULL);
    assert_int_equal(wb.rc, MK_ETERMINATED);
    assert_int_equal(atomic_load(&fb.calls), 0);
    assert_int_equal(atomic_load(&fa.finished), 0); /* a's request is still running */
    mk_tdx_provider_free(a);                        /* waits for it */
    assert_int_equal(atomic_load(&fa.finished), 1);
    assert_int_equal(atomic_load(&fa.destroyed_after_finish), 1);
    pthread_join(wa.th, NULL);
    assert_int_equal(wa.rc, MK_OK);
    mk_tdx_mock_free(m);
}

typedef struct on_loop {
    mk_tdx_provider_t *p;
    int rc;
    bool avail, pred;
} on_loop_t;

static void on_loop_fn(mk_network_t *n, void *arg) {
    (void)n;
    on_loop_t *o = arg;
    uint8_t rd[64] = {0};
    mk_buf_t q = MK_BUF_INIT;
    o->pred = mk_tdx_on_loop_thread();
    o->rc = mk_tdx_provider_quote(o->p, rd, 1000, &q, NULL);
    o->avail = mk_tdx_provider_available(o->p, 1000);
    mk_buf_free(&q);
}

static void test_loop_thread(void **state) {
    (void)state;
    mk_tdx_mock_t *m = mock_of(6);
    mk_tdx_provider_t *p = mk_tdx_mock_provider(m);
    assert_false(mk_tdx_on_loop_thread());
    /* on a real network's loop thread */
    mk_network_t *n = mkt_net_new(NULL);
    on_loop_t o = {.p = p, .rc = 1};
    assert_int_equal(mk_loop_call(n, on_loop_fn, &o, mkt_ms(5000), NULL), MK_OK);
    assert_true(o.pred);
    assert_int_equal(o.rc, MK_EBUSY);
    assert_false(o.avail);
    mk_network_free(n);
    /* the availability cache was not poisoned by the refusal */
    assert_true(mk_tdx_provider_available(p, mkt_ms(5000)));
    /* and the test hook */
    mk_tdx_test_force_loop_thread(true);
    uint8_t rd[64] = {0};
    mk_buf_t q = MK_BUF_INIT;
    mk_measurements_t ms;
    assert_int_equal(mk_tdx_provider_quote(p, rd, 1000, &q, NULL), MK_EBUSY);
    assert_int_equal(mk_tdx_local_measurements(p, 1000, &ms, NULL), MK_EBUSY);
    mk_tdx_test_force_loop_thread(false);
    assert_int_equal(mk_tdx_provider_quote(p, rd, mkt_ms(5000), &q, NULL), MK_OK);
    mk_buf_free(&q);
    mk_tdx_provider_free(p);
    mk_tdx_mock_free(m);
}

#if defined(__SANITIZE_THREAD__)
#define MKT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MKT_TSAN 1
#endif
#endif

static void test_fork(void **state) {
    (void)state;
#ifdef MKT_TSAN
    skip(); /* TSan cannot start threads in a child forked from a multi-threaded process */
#endif
    mk_tdx_mock_t *m = mock_of(7);
    mk_tdx_provider_t *p = mk_tdx_mock_provider(m);
    uint8_t rd[64] = {7};
    mk_buf_t q = MK_BUF_INIT;
    assert_int_equal(mk_tdx_provider_quote(p, rd, mkt_ms(5000), &q, NULL), MK_OK); /* the worker runs */
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the child gets a worker of its own; it frees everything (memcheck runs there too) */
        mk_buf_t cq = MK_BUF_INIT;
        int rc = mk_tdx_provider_quote(p, rd, 5000, &cq, NULL);
        bool ok = rc == MK_OK && cq.len == q.len;
        mk_buf_free(&cq);
        mk_buf_free(&q);
        mk_tdx_provider_free(p);
        mk_tdx_mock_free(m);
        exit(ok ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    mk_buf_free(&q);
    mk_tdx_provider_free(p);
    mk_tdx_mock_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_mock_provider),      cmocka_unit_test(test_available_cached),
        cmocka_unit_test(test_bad_output),         cmocka_unit_test(test_timeout_and_late_result),
        cmocka_unit_test(test_free_while_running), cmocka_unit_test(test_loop_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

