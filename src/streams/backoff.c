/* streams/backoff.c — the reconnect schedule (see backoff.h). */
#include "streams/backoff.h"

#include "core/error.h"

#include <string.h>

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int mk_backoff_check(const mk_backoff_params_t *p, mk_error_t *e) {
    if (!p) return MK_ERR(e, MK_EINVAL, "backoff: NULL");
    if (p->initial_ms == 0) return MK_ERR(e, MK_EINVAL, "backoff.initial_ms: must be > 0");
    if (!(p->multiplier >= 1.0)) return MK_ERR(e, MK_EINVAL, "backoff.multiplier: %g is below 1", p->multiplier);
    if (!(p->randomization >= 0.0 && p->randomization <= 1.0))
        return MK_ERR(e, MK_EINVAL, "backoff.randomization: %g is outside [0, 1]", p->randomization);
    if (p->max_interval_ms && p->max_interval_ms < p->initial_ms)
        return MK_ERR(e, MK_EINVAL, "backoff.max_interval_ms: %u is below initial_ms %u", p->max_interval_ms, p->initial_ms);
    return MK_OK;
}

void mk_backoff_reset(mk_backoff_state_t *s) { memset(s, 0, sizeof *s); }

int64_t mk_backoff_next(mk_backoff_state_t *s, const mk_backoff_params_t *p, int64_t now_ms, uint64_t *rng) {
    if (s->streak_start_ms == 0) {  /* the first failure of a streak: retry at once */
        s->streak_start_ms = now_ms > 0 ? now_ms : 1;
        s->attempts = 1;
        s->interval_ms = p->initial_ms;
        return 0;
    }
    if (p->max_elapsed_ms && now_ms - s->streak_start_ms >= (int64_t)p->max_elapsed_ms) return -1;
    double base = s->interval_ms;
    double cap = p->max_interval_ms ? (double)p->max_interval_ms : 1e12;
    if (base > cap) base = cap;
    s->interval_ms = base * p->multiplier > cap ? cap : base * p->multiplier;
    s->attempts++;
    double r = p->randomization;
    double u = (double)(splitmix(rng) >> 11) / (double)(1ull << 53);  /* [0, 1) */
    double d = base * (1.0 - r + 2.0 * r * u);
    return d < 1 ? 1 : (int64_t)d;
}
