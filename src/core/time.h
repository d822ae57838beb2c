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

#endif
