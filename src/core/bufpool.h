/* core/bufpool.h — a thread-safe pool of small fixed-size blocks, so that small datums (spec 30 §9:
 * ≤ 256 B) are not a malloc/free pair each, often on two different threads. Requests larger than
 * the block size fall back to malloc behind the same interface, so a caller never needs to know
 * where a buffer came from. The pool lives until its creator closed it and every block came back:
 * buffers may outlive the network that made them. */
#ifndef MK_CORE_BUFPOOL_H
#define MK_CORE_BUFPOOL_H

#include <stddef.h>

typedef struct mk_bufpool mk_bufpool_t;

/* A pool of blocks of block_size bytes keeping at most max_free idle blocks. NULL when out of memory.
 * Any thread. */
mk_bufpool_t *mk_bufpool_new(size_t block_size, size_t max_free);
/* Drops the creator's reference; the idle blocks are freed and the pool goes when its last block
 * is freed. NULL is a no-op. Any thread. */
void mk_bufpool_close(mk_bufpool_t *p);
/* n bytes (16-aligned): a pool block when n ≤ the block size, else malloc; p NULL → malloc. NULL when
 * out of memory. Free with mk_bufpool_free. Any thread. */
void *mk_bufpool_alloc(mk_bufpool_t *p, size_t n);
/* Returns a buffer from mk_bufpool_alloc (NULL is a no-op). Any thread. */
void mk_bufpool_free(void *ptr);
/* Holders other than the creator (objects that allocate from p and may outlive its creator). */
mk_bufpool_t *mk_bufpool_retain(mk_bufpool_t *p);
void mk_bufpool_release(mk_bufpool_t *p);
/* Blocks currently handed out by p (for tests). */
size_t mk_bufpool_outstanding(const mk_bufpool_t *p);

#endif
