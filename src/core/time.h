/* core/time.h — monotonic and wall clocks. Sans-I/O code takes `now` as an argument instead. */
#ifndef MK_CORE_TIME_H
#define MK_CORE_TIME_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds / microseconds on CLOCK_MONOTONIC. */
int64_t mk_now_ms(void);
int64_t mk_now_us(void);
/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t mk_unix_ms(void);
/* Absolute CLOCK_MONOTONIC deadline `timeout_ms` from now, for pthread_cond_timedwait on a
 * condvar created with mk_cond_init. */
struct timespec mk_deadline_ts(int timeout_ms);
/* Initialises a condition variable that waits on CLOCK_MONOTONIC. MK_OK or MK_ENOMEM. */
int mk_cond_init(pthread_cond_t *c);
/* Absolute monotonic deadline in ms for a timeout (-1 = none, stays -1). */
int64_t mk_deadline_from(int timeout_ms);
/* One wait on a mk_cond_init condvar until deadline_ms (-1 = no deadline): MK_OK (woken, maybe
 * spuriously) or MK_ETIMEDOUT. Caller holds mu and loops on its predicate. */
int mk_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms);

#endif
