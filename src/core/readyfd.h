/* core/readyfd.h — readiness file descriptors: readable exactly while a condition holds.
 * The owner calls mk_readyfd_set(true/false) as the condition changes; users only poll the fd. */
#ifndef MK_CORE_READYFD_H
#define MK_CORE_READYFD_H

#include <stdbool.h>

typedef struct mk_readyfd { int rfd, wfd; bool ready; } mk_readyfd_t;

/* eventfd (EFD_NONBLOCK|EFD_CLOEXEC), or a pipe where eventfd is missing. MK_EIO on failure. */
int  mk_readyfd_init(mk_readyfd_t *r);
void mk_readyfd_close(mk_readyfd_t *r);
/* Makes the fd readable (true) or drains it (false). Idempotent. Caller serialises calls. */
void mk_readyfd_set(mk_readyfd_t *r, bool ready);
static inline int mk_readyfd_fd(const mk_readyfd_t *r) { return r->rfd; }

#endif
