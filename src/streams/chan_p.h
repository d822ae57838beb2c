/* streams/chan_p.h — the producer's data path, sans-I/O (spec 30 §2.3, §9): one ring of buffer_size
 * datum slots per sink and one read cursor per Connected channel. A datum is stored once; each slot
 * counts the cursors that still have to hand it to their link, so it is released as soon as the last
 * one did. A cursor whose unsent backlog would exceed the ring is overrun: it becomes lagging (the
 * caller closes its channel with 10_413) or, in drop-oldest mode, skips the oldest datum and owes a
 * Dropped{n} before its next one. Fan-out costs O(1) per datum plus the per-link writes. No I/O, no
 * clock, no locks: sink.c and tests/sim/streams-sim drive it on one thread. */
#ifndef MK_STREAMS_CHAN_P_H
#define MK_STREAMS_CHAN_P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mk_fan_cursor mk_fan_cursor_t;
struct mk_fan_cursor {
    mk_fan_cursor_t *next;    /* in the ring's list */
    uint64_t pos;             /* sequence number of the next datum to hand to the link */
    uint64_t owed_dropped;    /* drop-oldest: Dropped{n} the write function must send before a datum */
    uint64_t dropped;         /* datums skipped for this cursor in all */
    bool attached;
    bool lagging;             /* overrun in disconnect mode: detached, its channel must close (10_413) */
    bool blocked;             /* the last write found the link full: wait for it to become writable */
};

typedef struct mk_fan_slot {
    void *datum;
    uint32_t need;            /* cursors that have not handed it to their link yet */
} mk_fan_slot_t;

typedef struct mk_fan {
    mk_fan_slot_t *slots;
    uint32_t cap;
    bool drop_oldest;
    uint64_t head, tail;      /* sequence numbers: slots [head, tail) are held */
    mk_fan_cursor_t *cursors;
    size_t ncursors;
    uint64_t dropped;         /* drop-oldest: datums skipped by all cursors together */
    void (*release)(void *datum);  /* drops the ring's reference to a datum */
} mk_fan_t;

/* Hands one datum to cursor c's link, first sending Dropped{c->owed_dropped} (then zeroing it) when
 * it is non-zero. Returns 0 when the datum was taken, MK_EFULL when the link's window is full and
 * the datum was not taken (a Dropped already sent is fine), any other MK_E* when the link failed. */
typedef int (*mk_fan_write_fn)(void *ctx, mk_fan_cursor_t *c, void *datum);

/* A ring of cap (≥ 1) slots. MK_OK or MK_ENOMEM. */
int mk_fan_init(mk_fan_t *f, uint32_t cap, bool drop_oldest, void (*release)(void *datum));
/* Releases every held datum; cursors are left detached. */
void mk_fan_free(mk_fan_t *f);
/* A new cursor starts at the ring's tail: it receives datums pushed from now on. */
void mk_fan_attach(mk_fan_t *f, mk_fan_cursor_t *c);
/* Removes c (idempotent); the slots it still needed are released when no one else needs them. */
void mk_fan_detach(mk_fan_t *f, mk_fan_cursor_t *c);
/* Stores datum (the ring takes the caller's reference) for every attached cursor. With the ring full
 * the oldest slot is evicted first and the cursors still on it are overrun (see top). Returns how many
 * cursors became lagging. With no cursor attached the datum is released at once. */
size_t mk_fan_push(mk_fan_t *f, void *datum);
/* Writes c's backlog in order until it is caught up (returns 0), the link is full (MK_EFULL: c->blocked
 * set until the next flush) or the link failed (that code; the caller closes the channel). *written
 * (may be NULL) grows by the datums handed over. */
int mk_fan_flush(mk_fan_t *f, mk_fan_cursor_t *c, mk_fan_write_fn write, void *ctx, uint64_t *written);
/* Datums c still has to hand over. */
static inline uint64_t mk_fan_backlog(const mk_fan_t *f, const mk_fan_cursor_t *c) {
    return c->attached ? f->tail - c->pos : 0;
}
/* Datums held by the ring. */
static inline uint64_t mk_fan_held(const mk_fan_t *f) { return f->tail - f->head; }

#endif
