/* streams/backoff.h — consumers' reconnect schedule (spec 30 §3.2, §7): the first attempt of a failure
 * streak is immediate, then initial × multiplierⁿ capped at max_interval, each randomised by
 * ±randomization, until max_elapsed after the streak's first failure (0 = never give up). The random
 * source is a splitmix64 state passed in, so a seed gives a fixed sequence. Pure. */
#ifndef MK_STREAMS_BACKOFF_H
#define MK_STREAMS_BACKOFF_H

#include "mosaik/core.h"

#include <stdbool.h>

typedef struct mk_backoff_params {
    uint32_t initial_ms, max_interval_ms, max_elapsed_ms;
    double multiplier, randomization;
} mk_backoff_params_t;

typedef struct mk_backoff_state {
    uint32_t attempts;         /* in the current streak */
    int64_t streak_start_ms;   /* first failure of the streak; 0 = no streak */
    double interval_ms;        /* the next un-randomised interval */
} mk_backoff_state_t;

/* MK_OK or MK_EINVAL naming the field (initial_ms 0, multiplier < 1, randomization outside [0, 1]). */
int mk_backoff_check(const mk_backoff_params_t *p, mk_error_t *e);
/* A failure at now_ms: the delay before the next attempt (0 = at once), or -1 when the streak has
 * lasted max_elapsed_ms (give up). */
int64_t mk_backoff_next(mk_backoff_state_t *s, const mk_backoff_params_t *p, int64_t now_ms, uint64_t *rng);
/* A success: the next failure starts a new streak. */
void mk_backoff_reset(mk_backoff_state_t *s);

#endif
