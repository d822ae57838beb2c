/* support/mkt.h — the test support library: time factor, wait-for-condition, log capture, seeds,
 * leak guards and the cmocka runner wrapper. */
#ifndef MKT_H
#define MKT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* MK_TIME_FACTOR (0.1–100, default 1; invalid → warning and 1). */
double mkt_time_factor(void);
/* ms × factor. */
int mkt_ms(int ms);
/* seconds × factor. */
double T(double s);
/* Monotonic seconds. */
double mkt_now(void);
/* Seed from MK_TEST_SEED or the clock, printed once to stderr. */
uint64_t mkt_seed(void);
/* Deterministic random numbers from the seed. */
uint64_t mkt_rand(void);
void mkt_rand_bytes(void *p, size_t n);
/* Threads of this process (/proc/self/task) and open fds (/proc/self/fd). */
int mkt_count_threads(void);
int mkt_count_fds(void);
/* Lists this process's open fds and their targets on stderr (for leak reports). */
void mkt_print_fds(void);
/* Log capture: every line at debug and above is kept in a ring; lines at or above the live level
 * (MK_LOG, default warn) still go to stderr. */
void mkt_log_capture_begin(void);
void mkt_log_dump_tail(int n);
bool mkt_log_contains(const char *needle);
size_t mkt_log_count(const char *needle);
void mkt_log_clear(void);
/* Runs a cmocka group with MK_TEST_FILTER and log capture; dumps the log tail on failure. */
int mkt_run(const char *group, const struct CMUnitTest *tests, size_t n);
/* The same with a group setup and teardown (run once around all tests). */
int mkt_run_group(const char *group, const struct CMUnitTest *tests, size_t n, CMFixtureFunction setup,
                  CMFixtureFunction teardown);
/* Non-failing wait: true once pred(arg) holds, false after T(secs). */
bool mkt_wait_until(bool (*pred)(void *arg), void *arg, double secs);

/* Re-evaluates expr every ≤ 10 ms until true; fails the test after T(secs). */
#define MKT_WAIT_UNTIL(expr, secs)                                                                      \
    do {                                                                                               \
        double mkt_t0_ = mkt_now(), mkt_lim_ = T(secs);                                                \
        while (!(expr)) {                                                                              \
            if (mkt_now() - mkt_t0_ > mkt_lim_)                                                        \
                fail_msg("%s:%d: timed out after %.2f s waiting for: %s", __FILE__, __LINE__,          \
                         mkt_now() - mkt_t0_, #expr);                                                  \
            struct timespec mkt_ts_ = {0, 5 * 1000 * 1000};                                            \
            nanosleep(&mkt_ts_, NULL);                                                                 \
        }                                                                                              \
    } while (0)

#include <time.h>

#endif
