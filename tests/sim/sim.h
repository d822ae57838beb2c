/* tests/sim/sim.h — the deterministic simulation kernel shared by the simulators (spec 80 §6): one
 * thread, a virtual clock in microseconds, an event heap ordered by (time, insertion), a seeded
 * xoshiro256** PRNG, a running BLAKE3 digest of the trace, invariant violations in the standard form
 * and the common command line (--seeds, --seed, --trace and the MK_SIM_* variables). */
#ifndef MK_SIM_H
#define MK_SIM_H

#include "core/blake3.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim sim_t;
typedef void (*sim_fn)(sim_t *s, void *a, uint64_t b);

typedef struct sim_event {
    int64_t at_us;
    uint64_t seq;
    sim_fn fn;
    void *a;
    uint64_t b;
} sim_event_t;

struct sim {
    const char *prog;        /* the simulator's name, for messages */
    uint64_t seed;
    int64_t now_us;
    uint64_t events;         /* events run so far */
    uint64_t rng[4];
    sim_event_t *heap;
    size_t nheap, capheap;
    uint64_t seq;
    bool trace;              /* print trace lines */
    mk_blake3_t digest;      /* of every trace record */
    bool violated;
    char invariant[64];      /* the first violated invariant */
    char violation[512];
};

/* Options common to every simulator; the model reads its own from argv/env itself. */
typedef struct sim_opts {
    uint64_t seeds;          /* --seeds N / MK_SIM_SEEDS: how many seeds from `seed` */
    uint64_t seed;           /* --seed S / MK_SIM_SEED: the first seed */
    bool trace;              /* --trace / MK_SIM_TRACE=1 */
} sim_opts_t;

/* Parses the common options (removing them from argv; returns the new argc). defaults_seeds is used
 * unless --seeds/--seed/MK_SIM_* say otherwise; --seed alone runs that one seed. */
int sim_opts_parse(int argc, char **argv, uint64_t default_seeds, sim_opts_t *o);

void sim_init(sim_t *s, const char *prog, uint64_t seed, bool trace);
void sim_free(sim_t *s);
/* Schedules fn(s, a, b) at absolute virtual time at_us (≥ now). */
void sim_at(sim_t *s, int64_t at_us, sim_fn fn, void *a, uint64_t b);
/* Runs events until the heap is empty, time passes until_us, or a violation is recorded. Returns
 * false when a violation stopped it. */
bool sim_run_until(sim_t *s, int64_t until_us);
/* PRNG: uniform 64 bits; uniform in [0, n); uniform in [lo, hi]. */
uint64_t sim_rand(sim_t *s);
uint64_t sim_below(sim_t *s, uint64_t n);
int64_t sim_range(sim_t *s, int64_t lo, int64_t hi);
/* Adds a fixed-size record to the trace digest; prints the text when tracing. */
void sim_trace(sim_t *s, uint32_t node, uint32_t kind, uint64_t arg, const char *text);
/* The trace digest so far as 16 hex chars. */
void sim_digest_hex(const sim_t *s, char out[17]);
/* Records the first violation of `invariant` and prints the replay line. */
void sim_violate(sim_t *s, const char *invariant, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
