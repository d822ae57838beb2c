/* unit/core/test_readyfd.c — readiness fds are readable exactly while set, setting is idempotent,
 * and time helpers: monotonic clocks never go back, deadlines lie ahead, condvars time out on time. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/readyfd.h"
#include "core/time.h"
#include "mosaik/core.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

static bool readable(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void readable_exactly_while_set(void **state) {
    (void)state;
    mk_readyfd_t r;
    assert_int_equal(mk_readyfd_init(&r), MK_OK);
    int fd = mk_readyfd_fd(&r);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_false(readable(fd));
    mk_readyfd_set(&r, true);
    assert_true(readable(fd));
    mk_readyfd_set(&r, true);  /* idempotent: one clear undoes any number of sets */
    assert_true(readable(fd));
    mk_readyfd_set(&r, false);
    assert_false(readable(fd));
    mk_readyfd_set(&r, false);
    assert_false(readable(fd));
    for (int i = 0; i < 100; i++) {
        mk_readyfd_set(&r, i % 2 == 0);
        assert_int_equal(readable(fd), i % 2 == 0);
    }
    mk_readyfd_close(&r);
    mk_readyfd_close(&r);  /* second close is harmless */
    mk_readyfd_set(&r, true);  /* and so is use after close */
}

static void clocks_are_monotonic_and_plausible(void **state) {
    (void)state;
    int64_t a = mk_now_us(), ms = mk_now_ms();
    for (int i = 0; i < 1000; i++) {
        int64_t b = mk_now_us();
        assert_true(b >= a);
        a = b;
    }
    assert_true(mk_now_ms() >= ms);
    assert_true(mk_unix_ms() > 1704067200000LL);  /* after 2024-01-01 */
}

static void condvar_deadline_times_out_not_early(void **state) {
    (void)state;
    pthread_cond_t c;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    assert_int_equal(mk_cond_init(&c), MK_OK);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct timespec d = mk_deadline_ts(50);
    assert_true(d.tv_sec > now.tv_sec || (d.tv_sec == now.tv_sec && d.tv_nsec > now.tv_nsec));
    int64_t t0 = mk_now_ms();
    pthread_mutex_lock(&m);
    int rc = 0;
    while (rc == 0) rc = pthread_cond_timedwait(&c, &m, &d);  /* spurious wakeups loop */
    pthread_mutex_unlock(&m);
    assert_int_equal(rc, ETIMEDOUT);
    assert_true(mk_now_ms() - t0 >= 49);
    pthread_cond_destroy(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readable_exactly_while_set),
        cmocka_unit_test(clocks_are_monotonic_and_plausible),
        cmocka_unit_test(condvar_deadline_times_out_not_early),
    };
    return cmocka_run_group_tests_name("unit.core.readyfd", tests, NULL, NULL);
}
