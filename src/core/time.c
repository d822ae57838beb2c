/* core/time.c — monotonic and wall clocks, and monotonic condition variables. */
#include "core/time.h"

#include "mosaik/core.h"

#include <errno.h>
#include <stdint.h>

int64_t mk_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t mk_now_ms(void) { return mk_now_us() / 1000; }

int64_t mk_unix_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec mk_deadline_ts(int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (timeout_ms < 0) timeout_ms = 0;
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int mk_cond_init(pthread_cond_t *c) {
    pthread_condattr_t a;
    if (pthread_condattr_init(&a) != 0) return MK_ENOMEM;
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return rc ? MK_ENOMEM : MK_OK;
}

int64_t mk_deadline_from(int timeout_ms) { return timeout_ms < 0 ? -1 : mk_now_ms() + timeout_ms; }

int mk_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms) {
    if (deadline_ms < 0) {
        pthread_cond_wait(cv, mu);
        return MK_OK;
    }
    int64_t left = deadline_ms - mk_now_ms();
    if (left <= 0) return MK_ETIMEDOUT;
    struct timespec ts = mk_deadline_ts((int)(left > INT32_MAX ? INT32_MAX : left));
    int rc = pthread_cond_timedwait(cv, mu, &ts);
    return rc == ETIMEDOUT ? MK_ETIMEDOUT : MK_OK;
}
