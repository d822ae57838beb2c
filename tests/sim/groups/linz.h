/* tests/sim/groups/linz.h — linearizability checker for one read/write/compare-and-swap register (spec 40
 * §11.2): a Wing & Gong search over linearization prefixes with Lowe's just-in-time rule and
 * memoisation of visited (linearized set, register value) states, as Porcupine does, taken breadth-first
 * so that unknown outcomes cost little (linz.c explains). Plain C17, libc only, no globals; the
 * simulator splits its history per key and checks each sub-history (≤ 300 operations) on its own. */
#ifndef MK_SIM_GROUPS_LINZ_H
#define MK_SIM_GROUPS_LINZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { LINZ_WRITE, LINZ_READ, LINZ_CAS } linz_kind_t;

/* One operation: it takes effect at one instant in [invoke_us, return_us]. Operation p precedes q in
 * real time only when p.return_us < q.invoke_us; equal times count as concurrent. */
typedef struct linz_op {
    linz_kind_t kind;
    int64_t arg;                  /* WRITE: value; CAS: expected */
    int64_t arg2;                 /* CAS: new value */
    int64_t ret;                  /* READ: value read (when known) */
    bool cas_ok;                  /* CAS: whether it swapped (when known) */
    bool unknown;                 /* no response: it may have taken effect at any point after invoke, or never */
    int64_t invoke_us, return_us; /* return_us ignored when unknown; otherwise return_us >= invoke_us */
} linz_op_t;

/* Semantics: WRITE v sets v. READ returns the value. CAS(e, v) with cas_ok swaps e for v and requires
 * the value to be e; without cas_ok it changes nothing and requires the value to differ from e. An
 * unknown READ constrains nothing (dropped up front); an unknown WRITE or CAS may take effect at any
 * instant after its invoke or not at all (an unknown CAS swaps exactly when the value then equals e). */

typedef enum {
    LINZ_OK = 0,       /* linearizable */
    LINZ_VIOLATION,    /* proved not linearizable; why names the op that cannot be placed */
    LINZ_LIMIT,        /* gave up: step bound, memory bound or too many ops (undecided) */
    LINZ_BAD_INPUT,    /* a known op returns before its invoke, or an unknown kind */
    LINZ_NOMEM,        /* allocation failed (undecided) */
} linz_result_t;

/* Bounds of the search. A step is one elementary action (one candidate op tried, one stored state or
 * unknown op compared, one unknown op tried in a run): about 5 ns at -O2, 10 ns at -O0, 20 ns under
 * ASan, so the default step bound gives up after ~0.3 s / 0.5 s / 1 s. A stored state takes
 * 8 × (known/64 + unknown/64 + 3) bytes plus a hash slot; the memory bound covers the states of the
 * two levels alive at once and the scratch arrays. Beyond LINZ_MAX_OPS ops: LINZ_LIMIT at once.
 *
 * Cost. Known ops alone: about (ops) × (distinct (concurrent known ops linearized, value) pairs) states,
 * each O(concurrent ops) — for 300 ops of 5 clients a few thousand states and well under a million
 * steps, also with few distinct values. Unknown WRITEs and CASes are used only where a known result
 * needs them, identical ones count as one kind, so with unique written values (advised: e.g. client
 * id × 2^32 + sequence) even 60 % unknown outcomes take about 1M steps at most, as do ≤ 10 % unknown
 * outcomes over a few values. With ≥ 20 % unknown outcomes (CASes among them) over 5–20 values a few %
 * of 300-op histories exhaust the bounds: LINZ_LIMIT, never a wrong verdict. */
#define LINZ_DEFAULT_MAX_STEPS       50000000u
#define LINZ_DEFAULT_MAX_CACHE_BYTES ((size_t)128 << 20)
#define LINZ_MAX_OPS                 1000000u

typedef struct linz_limits {
    uint64_t max_steps;     /* 0: LINZ_DEFAULT_MAX_STEPS */
    size_t max_cache_bytes; /* 0: LINZ_DEFAULT_MAX_CACHE_BYTES */
} linz_limits_t;

typedef struct linz_stats {
    uint64_t steps;         /* steps taken */
    size_t states;          /* states expanded (after memoisation) */
    size_t ops;             /* ops searched (unknown reads dropped) */
    size_t best_depth;      /* most known ops linearized in one state */
} linz_stats_t;

/* True when some total order of the ops (each taking effect at one instant between its invoke and
 * return; unknown ones anywhere after invoke, or not at all) explains every known result, starting
 * from `initial`. On false, writes a one-line explanation into why (when why_cap > 0; on true why
 * becomes ""): for a violation, "not linearizable: op #i (...) cannot be placed before it returns; ..."
 * naming the op (index in ops) whose return no linearization gets past — the latest such in time, so the
 * history up to that return is the shortest prefix that cannot be linearized; "search limit: ..." when
 * the default bounds are hit (undecided: the caller treats that as a failure to investigate); or the
 * bad input / "out of memory". Ops may come in any order. Pure, no globals, thread-safe (re-entrant). */
bool linz_check_register(const linz_op_t *ops, size_t n, int64_t initial, char *why, size_t why_cap);

/* The same with explicit bounds (NULL: defaults) and statistics (NULL: not wanted). */
linz_result_t linz_check_register_ex(const linz_op_t *ops, size_t n, int64_t initial,
                                     const linz_limits_t *limits, linz_stats_t *stats, char *why,
                                     size_t why_cap);

/* "ok", "violation", "limit", "bad-input", "nomem". */
const char *linz_result_name(linz_result_t r);

#endif
