/* streams/cond.h — conditions over channels (spec 30 §4.1), sans-I/O: the evaluator (how many
 * Connected peers carry the tags and pass the predicate, against min_peers, inverted by unmet) and the
 * interval latch behind condition objects (each maximal interval during which a condition holds is
 * reported once; one that ends unreported is forgotten). Loop-owned. */
#ifndef MK_STREAMS_COND_H
#define MK_STREAMS_COND_H

#include "mosaik/streams.h"

/* Whether w holds over the Connected peers peers[0..n). A NULL w is "≥ 0": always met. */
bool mk_when_eval(const mk_when_t *w, const mk_peer_info_t *peers, size_t n);

/* A copy of src owning its tags (MK_OK or MK_ENOMEM; dst->tags NULL on failure). */
int mk_when_copy(mk_when_t *dst, const mk_when_t *src);
/* Frees the tags of a copy made by mk_when_copy. */
void mk_when_free(mk_when_t *w);

typedef struct mk_cond_latch {
    bool met;           /* the condition holds now */
    bool reported;      /* the current interval was reported */
    uint64_t intervals; /* intervals started so far */
} mk_cond_latch_t;

/* A fresh latch: an interval holding at creation counts as new and unreported. */
void mk_latch_init(mk_cond_latch_t *l, bool met);
/* The latest evaluation; true when it starts a new interval. */
bool mk_latch_update(mk_cond_latch_t *l, bool met);
/* An unreported interval is current. */
bool mk_latch_pending(const mk_cond_latch_t *l);
/* Reports the current interval if unreported: true when it did. */
bool mk_latch_take(mk_cond_latch_t *l);

#endif
