/* core/readyfd.h — readiness file descriptors: readable exactly while a condition holds.
 * The owner calls mk_readyfd_set(true/false) as the condition changes; users only poll the fd. */
#ifndef MK_CORE_READYFD_H
#define MK_CORE_READYFD_H

#include <stdbool.h>

typedef struct mk_readyfd { int rfd, wfd; bool ready, armed; } mk_readyfd_t;

/* eventfd (EFD_NONBLOCK|EFD_CLOEXEC), or a pipe where eventfd is missing. MK_EIO on failure. */
int  mk_readyfd_init(mk_readyfd_t *r);
void mk_readyfd_close(mk_readyfd_t *r);
/* Makes the fd readable (true) or drains it (false). Idempotent. Caller serialises calls. While
 * disarmed only the state is kept: no system call. */
void mk_readyfd_set(mk_readyfd_t *r, bool ready);
/* A new readyfd is armed. Disarming suits a condition that flips per datum and whose fd few users
 * ask for: mk_readyfd_arm (under the same serialisation as set) brings the fd in line with the state
 * and keeps it armed; it returns the fd. */
static inline void mk_readyfd_disarm(mk_readyfd_t *r) { r->armed = false; }
int mk_readyfd_arm(mk_readyfd_t *r);
static inline int mk_readyfd_fd(const mk_readyfd_t *r) { return r->rfd; }

#endif
