/* unit/sim/test_linz.c — the register linearizability checker of tests/sim/groups/linz.c: hand-made
 * sequential, concurrent and classic non-linearizable histories, CAS semantics, unknown outcomes (chains,
 * identical ops, choices between them), input checks and bounds, agreement with a brute-force search on
 * 24000 small random histories, and 300-op histories generated from real executions (pass; fail once
 * one read is corrupted), including highly concurrent ones that must finish. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/groups/linz.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------------ */

static linz_op_t W(int64_t v, int64_t inv, int64_t ret) {
    return (linz_op_t){.kind = LINZ_WRITE, .arg = v, .invoke_us = inv, .return_us = ret};
}
static linz_op_t R(int64_t v, int64_t inv, int64_t ret) {
    return (linz_op_t){.kind = LINZ_READ, .ret = v, .invoke_us = inv, .return_us = ret};
}
static linz_op_t C(int64_t expect, int64_t v, bool ok, int64_t inv, int64_t ret) {
    return (linz_op_t){.kind = LINZ_CAS, .arg = expect, .arg2 = v, .cas_ok = ok, .invoke_us = inv, .return_us = ret};
}
/* The same op without a response; the junk return time and result must be ignored. */
static linz_op_t U(linz_op_t o) {
    o.unknown = true;
    o.return_us = o.invoke_us - 1000;
    o.cas_ok = !o.cas_ok;
    o.ret = 77777;
    return o;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void expect(const linz_op_t *ops, size_t n, int64_t initial, bool want, int line) {
    char why[256];
    memset(why, 'x', sizeof why);
    bool got = linz_check_register(ops, n, initial, why, sizeof why);
    if (got != want) fail_msg("line %d: expected %s, got %s (%s)", line, want ? "linearizable" : "violation",
                              got ? "linearizable" : "violation", why);
    if (got)
        assert_string_equal(why, "");
    else
        assert_true(strlen(why) > 10 && strlen(why) < sizeof why);
}
#define OK(init, ...)                                                                                  \
    do {                                                                                               \
        const linz_op_t h_[] = {__VA_ARGS__};                                                          \
        expect(h_, N(h_), init, true, __LINE__);                                                       \
    } while (0)
#define BAD(init, ...)                                                                                 \
    do {                                                                                               \
        const linz_op_t h_[] = {__VA_ARGS__};                                                          \
        expect(h_, N(h_), init, false, __LINE__);                                                      \
    } while (0)

/* splitmix64 */
static uint64_t rnd(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}
static int64_t rnd_in(uint64_t *s, int64_t lo, int64_t hi) { /* [lo, hi] */
    return lo + (int64_t)(rnd(s) % (uint64_t)(hi - lo + 1));
}
static bool chance(uint64_t *s, unsigned pct) { return rnd(s) % 100 < pct; }

/* ---- hand-made histories ------------------------------------------------------------------------ */

static void empty_and_single_ops(void **state) {
    (void)state;
    char why[64] = "junk";
    assert_true(linz_check_register(NULL, 0, 5, why, sizeof why));
    assert_string_equal(why, "");
    assert_true(linz_check_register(NULL, 0, 5, NULL, 0));
    OK(5, R(5, 0, 1));
    BAD(5, R(4, 0, 1));
    OK(0, W(3, 0, 0));
    OK(-9, R(-9, 10, 10), R(-9, 10, 10)); /* zero-length intervals */
}

static void sequential_histories(void **state) {
    (void)state;
    OK(0, R(0, 0, 1), W(1, 2, 3), R(1, 4, 5), W(2, 6, 7), R(2, 8, 9), R(2, 10, 11));
    BAD(0, W(1, 0, 1), R(2, 2, 3));
    BAD(0, W(1, 0, 1), W(2, 2, 3), R(1, 4, 5));
    BAD(0, R(1, 0, 1), W(1, 2, 3)); /* reads the future */
    /* order of the array does not matter, only times */
    OK(0, R(2, 8, 9), W(2, 6, 7), R(1, 4, 5), W(1, 2, 3));
    BAD(0, R(1, 8, 9), W(2, 6, 7), R(1, 4, 5), W(1, 2, 3));
}

static void concurrent_overlaps(void **state) {
    (void)state;
    /* two concurrent writes, both before the reads: only W1 then W2 explains reading 2 twice */
    OK(0, W(1, 0, 10), W(2, 0, 10), R(2, 20, 30), R(2, 40, 50));
    OK(0, W(1, 0, 10), W(2, 0, 10), R(1, 20, 30), R(1, 40, 50));
    BAD(0, W(1, 0, 10), W(2, 0, 10), R(1, 20, 30), R(2, 40, 50));
    BAD(0, W(1, 0, 10), W(2, 0, 10), R(0, 20, 30));
    /* a read overlapping two sequential writes sees either, or the old value before the first */
    OK(0, W(1, 0, 10), W(2, 20, 30), R(0, 5, 25));
    OK(0, W(1, 0, 10), W(2, 20, 30), R(1, 5, 25));
    OK(0, W(1, 0, 10), W(2, 20, 30), R(2, 5, 25));
    BAD(0, W(1, 0, 10), W(2, 20, 30), R(0, 11, 25));
    /* touching intervals are concurrent: the read may come before the write that "returned" then */
    OK(0, W(1, 0, 10), R(0, 10, 20));
    BAD(0, W(1, 0, 10), R(0, 11, 20));
    /* three writers and reads that pin one order: 3, then 1, then 2 */
    OK(0, W(1, 0, 100), W(2, 0, 100), W(3, 0, 100), R(3, 10, 20), R(1, 30, 40), R(2, 50, 60), R(2, 110, 120));
    BAD(0, W(1, 0, 100), W(2, 0, 100), W(3, 0, 100), R(3, 10, 20), R(1, 30, 40), R(2, 50, 60), R(3, 110, 120));
}

static void classic_violations(void **state) {
    (void)state;
    /* a read returns a value overwritten before the read began */
    BAD(0, W(1, 0, 10), W(2, 20, 30), R(1, 40, 50));
    /* two sequential reads see the new then the old value (during one long write) */
    OK(0, W(1, 0, 100), R(0, 10, 20), R(1, 30, 40));
    BAD(0, W(1, 0, 100), R(1, 10, 20), R(0, 30, 40));
    /* stale read after a completed write; the explanation names that read (op #1) */
    const linz_op_t h[] = {W(1, 0, 10), R(0, 20, 30)};
    char why[256];
    assert_false(linz_check_register(h, N(h), 0, why, sizeof why));
    assert_non_null(strstr(why, "op #1 "));
    assert_non_null(strstr(why, "READ -> 0"));
    /* the latest op nobody gets past is named, not the first one that fails somewhere */
    const linz_op_t h2[] = {W(1, 0, 10), R(1, 20, 30), R(0, 20, 40), W(5, 50, 60), R(5, 70, 80)};
    assert_false(linz_check_register(h2, N(h2), 0, why, sizeof why));
    assert_non_null(strstr(why, "op #2 "));
    /* a truncated explanation stays a string */
    char small[8];
    assert_false(linz_check_register(h, N(h), 0, small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_false(linz_check_register(h, N(h), 0, NULL, 0));
}

static void cas_semantics(void **state) {
    (void)state;
    OK(0, W(1, 0, 1), C(1, 2, true, 2, 3), R(2, 4, 5));
    BAD(0, C(1, 2, true, 2, 3));                       /* swapped although the value was 0 */
    BAD(0, W(1, 0, 1), C(1, 2, false, 2, 3));          /* failed although the value was 1 */
    OK(0, C(1, 2, false, 2, 3), R(0, 4, 5));           /* failure changes nothing */
    BAD(0, C(1, 2, false, 2, 3), R(2, 4, 5));
    BAD(0, W(1, 0, 1), C(1, 2, true, 2, 3), R(1, 4, 5)); /* success did change it */
    /* two concurrent CAS(0 → x): one wins, the other fails */
    OK(0, C(0, 1, true, 0, 10), C(0, 2, false, 0, 10), R(1, 20, 30));
    BAD(0, C(0, 1, true, 0, 10), C(0, 2, true, 0, 10));
    BAD(0, C(0, 1, true, 0, 10), C(0, 2, false, 0, 10), R(2, 20, 30));
    /* both may succeed when they chain: 0 → 1 → 0 */
    OK(0, C(0, 1, true, 0, 10), C(1, 0, true, 0, 10), R(0, 20, 30));
    BAD(0, C(0, 1, true, 0, 10), C(1, 0, true, 0, 10), R(1, 20, 30));
    /* a failed CAS is only explained by a concurrent write landing first */
    OK(0, C(0, 1, false, 0, 10), W(5, 5, 15), R(5, 20, 30));
    BAD(0, C(0, 1, false, 0, 10), W(5, 11, 15), R(5, 20, 30));
    /* CAS whose new value equals the expected one */
    OK(3, C(3, 3, true, 0, 1), R(3, 2, 3));
}

static void unknown_writes(void **state) {
    (void)state;
    /* must have happened: only it wrote 5 */
    OK(0, W(1, 0, 10), U(W(5, 15, 0)), R(5, 20, 30));
    BAD(0, W(1, 0, 10), R(5, 20, 30));
    /* but not before its invoke */
    BAD(0, W(1, 0, 10), U(W(5, 40, 0)), R(5, 20, 30));
    /* it may land long after its invoke, between two reads */
    OK(0, U(W(5, 0, 0)), R(0, 10, 20), R(0, 30, 40), R(5, 50, 60), R(5, 70, 80));
    /* once, at one instant: 5 then 1 then 5 again needs a second write of 5 */
    BAD(0, W(1, 0, 10), U(W(5, 15, 0)), R(5, 20, 30), W(1, 40, 50), R(5, 60, 70));
    OK(0, W(1, 0, 10), U(W(5, 15, 0)), R(1, 20, 30), W(1, 40, 50), R(5, 60, 70));
    /* and it may never happen at all */
    OK(0, U(W(5, 0, 0)), R(0, 10, 20), R(0, 30, 40));
    OK(0, U(W(5, 0, 0)), U(W(6, 0, 0)), U(W(7, 1, 0)), R(0, 10, 20), W(2, 30, 40), R(2, 50, 60));
    /* unknown ops do not excuse anything they could not cause */
    BAD(0, U(W(5, 0, 0)), W(1, 10, 20), R(0, 30, 40));
    /* two unknown writes, both needed, in one order */
    OK(0, U(W(5, 0, 0)), U(W(6, 0, 0)), R(6, 10, 20), R(5, 30, 40));
    BAD(0, U(W(5, 0, 0)), U(W(6, 0, 0)), R(6, 10, 20), R(5, 30, 40), R(6, 50, 60));
    /* an unknown write explains a failed CAS */
    OK(0, U(W(7, 0, 0)), C(0, 1, false, 10, 20));
    BAD(0, C(0, 1, false, 10, 20));
    /* an unknown read constrains nothing */
    OK(0, U(R(42, 0, 0)), W(1, 5, 6), U(R(-3, 7, 0)), R(1, 8, 9));
}

static void unknown_cas(void **state) {
    (void)state;
    OK(0, W(1, 0, 10), U(C(1, 2, true, 15, 0)), R(2, 20, 30));
    OK(0, W(1, 0, 10), U(C(1, 2, true, 15, 0)), R(1, 20, 30), R(2, 40, 50));
    BAD(0, W(1, 0, 10), U(C(1, 2, true, 15, 0)), R(2, 20, 30), R(1, 40, 50));
    OK(0, W(1, 0, 10), U(C(1, 2, false, 15, 0)), R(1, 20, 30)); /* never, or failed */
    /* it swaps only when the value is its expected one */
    BAD(0, W(1, 0, 10), U(C(3, 4, true, 15, 0)), R(4, 20, 30));
    /* chains of unknown ops: a write then a CAS on top of it */
    OK(0, U(W(3, 0, 0)), U(C(3, 4, true, 0, 0)), R(4, 10, 20));
    OK(0, U(C(3, 4, true, 0, 0)), U(W(3, 0, 0)), R(4, 10, 20));
    BAD(0, U(C(3, 4, true, 0, 0)), U(W(3, 25, 0)), R(4, 10, 20));
    OK(0, U(W(3, 0, 0)), U(C(3, 4, true, 0, 0)), U(C(4, 5, true, 0, 0)), R(5, 10, 20), R(5, 30, 40));
    BAD(0, U(W(3, 0, 0)), U(C(3, 4, true, 0, 0)), U(C(4, 5, true, 0, 0)), R(5, 10, 20), R(4, 30, 40));
    /* an unknown CAS and a known one racing for the same expected value */
    OK(0, U(C(0, 1, true, 0, 0)), C(0, 2, false, 0, 10), R(1, 20, 30));
    BAD(0, U(C(0, 1, true, 0, 0)), C(0, 2, true, 0, 10), R(1, 20, 30));
    /* two injections of 2: from 0 either op serves, from 5 only the write; so the CAS goes first */
    OK(0, U(W(2, 0, 0)), U(C(0, 2, true, 0, 0)), R(2, 10, 20), W(0, 30, 40), R(2, 50, 60));
    OK(0, U(W(2, 0, 0)), U(C(0, 2, true, 0, 0)), R(2, 10, 20), W(5, 30, 40), R(2, 50, 60));
    BAD(0, U(W(2, 0, 0)), U(C(0, 2, true, 25, 0)), R(2, 10, 20), W(5, 30, 40), R(2, 50, 60));
    OK(0, U(W(2, 0, 0)), U(C(0, 2, true, 25, 0)), R(2, 10, 20), W(0, 30, 40), R(2, 50, 60));
    /* 7 is reached by WRITE 3, CAS 3 → 5, CAS 5 → 7 or by WRITE 5, CAS 5 → 7; only the second leaves
     * WRITE 3 for the read of 3 */
    OK(0, U(W(3, 0, 0)), U(C(3, 5, true, 0, 0)), U(W(5, 0, 0)), U(C(5, 7, true, 0, 0)), R(7, 10, 20), W(0, 30, 40),
       R(3, 50, 60));
    BAD(0, U(W(3, 0, 0)), U(C(3, 5, true, 0, 0)), U(W(5, 0, 0)), U(C(5, 7, true, 0, 0)), R(7, 10, 20), W(0, 30, 40),
        R(3, 50, 60), R(7, 70, 80));
    /* a state that used one WRITE 1 does not cover one that used two CASes to 1 in its place */
    OK(0, U(W(2, 21, 0)), U(C(2, 1, true, 18, 0)), U(C(1, 2, true, 13, 0)), U(W(1, 15, 0)), U(C(2, 1, true, 19, 0)),
       R(0, 1, 11), C(2, 0, true, 10, 22), C(1, 0, false, 23, 25), R(1, 33, 40), C(2, 2, true, 42, 54));
}

static void identical_unknown_ops(void **state) {
    (void)state;
    /* each is used at most once, and not before its own invoke */
    OK(0, U(W(5, 0, 0)), U(W(5, 30, 0)), R(5, 10, 20), W(1, 21, 22), R(5, 40, 50));
    OK(0, U(W(5, 0, 0)), U(W(5, 45, 0)), R(5, 10, 20), W(1, 21, 22), R(5, 40, 50));
    BAD(0, U(W(5, 0, 0)), U(W(5, 55, 0)), R(5, 10, 20), W(1, 21, 22), R(5, 40, 50));
    BAD(0, U(W(5, 0, 0)), R(5, 10, 20), W(1, 21, 22), R(5, 40, 50));
    OK(0, U(W(5, 0, 0)), U(W(5, 0, 0)), U(W(5, 0, 0)), R(5, 1, 2), W(1, 3, 4), R(5, 5, 6), W(1, 7, 8), R(5, 9, 10));
    BAD(0, U(W(5, 0, 0)), U(W(5, 0, 0)), U(W(5, 0, 0)), R(5, 1, 2), W(1, 3, 4), R(5, 5, 6), W(1, 7, 8), R(5, 9, 10),
        W(1, 11, 12), R(5, 13, 14));
    /* identical unknown CASes: 0 → 1 twice needs the value back at 0 in between */
    OK(0, U(C(0, 1, true, 0, 0)), U(C(0, 1, true, 0, 0)), R(1, 1, 2), W(0, 3, 4), R(1, 5, 6));
    BAD(0, U(C(0, 1, true, 0, 0)), U(C(0, 1, true, 0, 0)), R(1, 1, 2), W(7, 3, 4), R(1, 5, 6));
}

static void bad_input_and_limits(void **state) {
    (void)state;
    char why[256];
    linz_op_t h[] = {W(1, 0, 10), R(1, 20, 15)};
    assert_false(linz_check_register(h, N(h), 0, why, sizeof why));
    assert_int_equal(linz_check_register_ex(h, N(h), 0, NULL, NULL, why, sizeof why), LINZ_BAD_INPUT);
    assert_non_null(strstr(why, "op #1 returns"));
    h[1] = U(R(1, 20, 15)); /* the return of an unknown op is not looked at */
    assert_true(linz_check_register(h, N(h), 0, why, sizeof why));
    h[1].kind = (linz_kind_t)7;
    assert_int_equal(linz_check_register_ex(h, N(h), 0, NULL, NULL, why, sizeof why), LINZ_BAD_INPUT);
    assert_string_equal(linz_result_name(LINZ_BAD_INPUT), "bad-input");
    assert_string_equal(linz_result_name(LINZ_OK), "ok");

    /* 12 concurrent writes and a read no order explains: every subset of them is a state */
    linz_op_t big[13];
    for (int i = 0; i < 12; i++) big[i] = W(i + 1, 0, 100);
    big[12] = R(99, 50, 60);
    linz_stats_t st;
    assert_int_equal(linz_check_register_ex(big, N(big), 0, NULL, &st, why, sizeof why), LINZ_VIOLATION);
    assert_true(st.states > 4000);
    assert_int_equal(st.ops, 13);
    assert_int_equal(st.best_depth, 12);
    assert_non_null(strstr(why, "op #12 (READ -> 99"));
    linz_limits_t lim = {.max_steps = 100};
    assert_int_equal(linz_check_register_ex(big, N(big), 0, &lim, &st, why, sizeof why), LINZ_LIMIT);
    assert_int_equal(strncmp(why, "search limit: 100 steps", 23), 0);
    assert_true(st.steps > 100 && st.steps < 200);
    assert_false(linz_check_register(big, N(big), 0, why, 0)); /* the defaults decide it */
    lim = (linz_limits_t){.max_cache_bytes = 4096};
    assert_int_equal(linz_check_register_ex(big, N(big), 0, &lim, &st, why, sizeof why), LINZ_LIMIT);
    assert_non_null(strstr(why, "search limit: state memory full (4096 bytes"));
    assert_true(st.states > 0);
    /* the same bounds do not get in the way of a small history */
    const linz_op_t small[] = {W(1, 0, 10), R(1, 5, 15), C(1, 2, true, 20, 30)};
    assert_int_equal(linz_check_register_ex(small, N(small), 0, &lim, &st, why, sizeof why), LINZ_OK);
    assert_false(linz_check_register_ex(NULL, LINZ_MAX_OPS + 1u, 0, NULL, NULL, why, sizeof why) == LINZ_OK);
    assert_non_null(strstr(why, "too many ops"));
}

/* ---- brute force -------------------------------------------------------------------------------- */

/* Every order of the ops (unknown ones optional) that respects real time, by plain recursion. */
static bool bf(const linz_op_t *ops, size_t n, uint32_t placed, int64_t value) {
    bool all = true;
    for (size_t i = 0; i < n; i++)
        if (!ops[i].unknown && !(placed >> i & 1u)) all = false;
    if (all) return true;
    for (size_t i = 0; i < n; i++) {
        const linz_op_t *o = &ops[i];
        if (placed >> i & 1u || (o->unknown && o->kind == LINZ_READ)) continue;
        bool ready = true;
        for (size_t j = 0; j < n; j++)
            if (j != i && !(placed >> j & 1u) && !ops[j].unknown && ops[j].return_us < o->invoke_us) ready = false;
        if (!ready) continue;
        int64_t nv = value;
        bool ok = true;
        if (o->kind == LINZ_WRITE)
            nv = o->arg;
        else if (o->kind == LINZ_READ)
            ok = value == o->ret;
        else if (o->unknown)
            nv = value == o->arg ? o->arg2 : value;
        else if (o->cas_ok)
            ok = value == o->arg, nv = o->arg2;
        else
            ok = value != o->arg;
        if (ok && bf(ops, n, placed | 1u << i, nv)) return true;
    }
    return false;
}

/* ---- histories from real executions ------------------------------------------------------------- */

typedef struct gen {
    int clients;
    size_t n;
    int64_t gap, len;    /* think time before an invoke; invoke → effect and effect → return */
    int64_t domain;      /* values 1..domain; 0: every written value unique */
    unsigned unknown_pct;
} gen_t;

typedef struct genop {
    linz_op_t op;
    int64_t at;          /* when it took effect */
    bool happened;
} genop_t;

static int genop_cmp(const void *a, const void *b) {
    const genop_t *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Runs cfg->n ops of cfg->clients clients against one register (each op taking effect at one instant
 * inside its interval; an unknown op, abandoned by its client after a timeout, takes effect later or
 * never) and records them, in effect order. Returns the final value. */
static int64_t gen_history(uint64_t *s, const gen_t *cfg, int64_t initial, genop_t *out) {
    int64_t free_at[8] = {0};
    for (size_t i = 0; i < cfg->n; i++) {
        int c = 0;
        for (int k = 1; k < cfg->clients; k++)
            if (free_at[k] < free_at[c]) c = k;
        genop_t *g = &out[i];
        memset(g, 0, sizeof *g);
        g->op.invoke_us = free_at[c] + rnd_in(s, 0, cfg->gap);
        g->op.unknown = chance(s, cfg->unknown_pct);
        g->happened = !g->op.unknown || chance(s, 50);
        if (g->op.unknown) {
            g->at = g->op.invoke_us + rnd_in(s, 0, 20 * cfg->len);
            g->op.return_us = -1;
            free_at[c] = g->op.invoke_us + 3 * cfg->len; /* the client's timeout */
        } else {
            g->at = g->op.invoke_us + rnd_in(s, 0, cfg->len);
            g->op.return_us = g->at + rnd_in(s, 0, cfg->len);
            free_at[c] = g->op.return_us + (chance(s, 50) ? 0 : 1);
        }
    }
    qsort(out, cfg->n, sizeof *out, genop_cmp);
    int64_t v = initial, next = 1000;
    for (size_t i = 0; i < cfg->n; i++) {
        linz_op_t *o = &out[i].op;
        unsigned k = (unsigned)(rnd(s) % 10);
        o->kind = k < 4 ? LINZ_WRITE : k < 8 ? LINZ_READ : LINZ_CAS;
        int64_t fresh = cfg->domain ? rnd_in(s, 1, cfg->domain) : next++;
        if (o->kind == LINZ_WRITE) o->arg = fresh;
        if (o->kind == LINZ_CAS) {
            o->arg = chance(s, 60) ? v : cfg->domain ? rnd_in(s, 1, cfg->domain) : rnd_in(s, 1000, next);
            o->arg2 = fresh;
        }
        if (!out[i].happened) {
            o->ret = -5;
            continue;
        }
        if (o->kind == LINZ_WRITE) v = o->arg;
        if (o->kind == LINZ_READ) o->ret = v;
        if (o->kind == LINZ_CAS) {
            o->cas_ok = v == o->arg;
            if (o->cas_ok) v = o->arg2;
        }
    }
    return v;
}

/* ---- randomized tests --------------------------------------------------------------------------- */

static void agrees_with_brute_force(void **state) {
    (void)state;
    uint64_t s = 42;
    int yes = 0, no = 0;
    for (int trial = 0; trial < 20000; trial++) {
        linz_op_t ops[8];
        size_t n = (size_t)rnd_in(&s, 1, 8);
        int64_t init = rnd_in(&s, 0, 2);
        if (trial % 3 == 0) {
            /* noise: random ops, results and intervals over a small value domain */
            for (size_t i = 0; i < n; i++) {
                int64_t inv = rnd_in(&s, 0, 20);
                ops[i] = (linz_op_t){.kind = (linz_kind_t)rnd_in(&s, 0, 2), .arg = rnd_in(&s, 0, 2),
                                     .arg2 = rnd_in(&s, 0, 2), .ret = rnd_in(&s, 0, 2), .cas_ok = chance(&s, 50),
                                     .unknown = chance(&s, 30), .invoke_us = inv,
                                     .return_us = inv + rnd_in(&s, 0, 8)};
            }
        } else {
            /* a real execution, then perhaps a few results, flags or times changed */
            genop_t g[8];
            gen_t cfg = {.clients = (int)rnd_in(&s, 1, 4), .n = n, .gap = 3, .len = 4, .domain = rnd_in(&s, 2, 4),
                         .unknown_pct = (unsigned)rnd_in(&s, 0, 60)};
            gen_history(&s, &cfg, init, g);
            for (size_t i = 0; i < n; i++) ops[i] = g[i].op;
            for (int f = (int)rnd_in(&s, 0, 2); f > 0; f--) {
                linz_op_t *o = &ops[rnd(&s) % n];
                if (o->kind == LINZ_READ) o->ret = rnd_in(&s, 0, 4);
                if (o->kind == LINZ_CAS && chance(&s, 50)) o->cas_ok = !o->cas_ok;
                else if (o->kind != LINZ_READ) o->arg = rnd_in(&s, 0, 4);
                if (chance(&s, 20)) o->unknown = !o->unknown;
                if (chance(&s, 20)) o->invoke_us += rnd_in(&s, -3, 3);
                if (o->return_us < o->invoke_us) o->return_us = o->invoke_us;
            }
        }
        bool want = bf(ops, n, 0, init);
        char why[256];
        linz_stats_t st;
        linz_result_t r = linz_check_register_ex(ops, n, init, NULL, &st, why, sizeof why);
        if (r != (want ? LINZ_OK : LINZ_VIOLATION)) {
            for (size_t i = 0; i < n; i++)
                print_message("  op %zu: kind %d arg %" PRId64 " arg2 %" PRId64 " ret %" PRId64
                              " ok %d unknown %d [%" PRId64 ", %" PRId64 "]\n",
                              i, (int)ops[i].kind, ops[i].arg, ops[i].arg2, ops[i].ret, ops[i].cas_ok,
                              ops[i].unknown, ops[i].invoke_us, ops[i].return_us);
            fail_msg("trial %d (initial %" PRId64 "): brute force says %d, checker %s (%s)", trial, init, want,
                     linz_result_name(r), why);
        }
        if (want)
            yes++;
        else
            no++;
    }
    print_message("  brute force: %d linearizable, %d not\n", yes, no);
    assert_true(yes > 5000 && no > 5000);
}

/* A pool of unknown WRITEs and CASes invoked early, over a few values, and a few sequential known ops:
 * chains of unknown ops and choices between them. */
static void agrees_with_brute_force_on_unknown_pools(void **state) {
    (void)state;
    uint64_t s = 99;
    int yes = 0, no = 0;
    for (int trial = 0; trial < 4000; trial++) {
        linz_op_t ops[11];
        size_t nu = (size_t)rnd_in(&s, 1, 6), nk = (size_t)rnd_in(&s, 1, 5), n = nu + nk;
        int64_t dom = rnd_in(&s, 2, 8);
        for (size_t i = 0; i < nu; i++)
            ops[i] = (linz_op_t){.kind = chance(&s, 40) ? LINZ_WRITE : LINZ_CAS, .arg = rnd_in(&s, 0, dom),
                                 .arg2 = rnd_in(&s, 0, dom), .unknown = true, .invoke_us = rnd_in(&s, 0, 30)};
        for (size_t i = 0; i < nk; i++) {
            int64_t inv = (int64_t)i * 10 + rnd_in(&s, 0, 3);
            unsigned k = (unsigned)rnd_in(&s, 0, 9);
            ops[nu + i] = (linz_op_t){.kind = k < 5 ? LINZ_READ : k < 8 ? LINZ_WRITE : LINZ_CAS,
                                      .arg = rnd_in(&s, 0, dom), .arg2 = rnd_in(&s, 0, dom), .ret = rnd_in(&s, 0, dom),
                                      .cas_ok = chance(&s, 50), .invoke_us = inv, .return_us = inv + rnd_in(&s, 0, 12)};
        }
        bool want = bf(ops, n, 0, 0);
        char why[256];
        linz_result_t r = linz_check_register_ex(ops, n, 0, NULL, NULL, why, sizeof why);
        if (r != (want ? LINZ_OK : LINZ_VIOLATION))
            fail_msg("trial %d: brute force says %d, checker %s (%s)", trial, want, linz_result_name(r), why);
        if (want)
            yes++;
        else
            no++;
    }
    print_message("  brute force (unknown pools): %d linearizable, %d not\n", yes, no);
    assert_true(yes > 800 && no > 800);
}

static const linz_op_t *ops_of(const genop_t *g, size_t n, linz_op_t *ops) {
    for (size_t i = 0; i < n; i++) ops[i] = g[i].op;
    /* shuffle: the checker must not depend on the array's order */
    uint64_t s = n * 7919u;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rnd(&s) % i);
        linz_op_t t = ops[i - 1];
        ops[i - 1] = ops[j];
        ops[j] = t;
    }
    return ops;
}

static void real_300_op_histories_pass_and_corruptions_fail(void **state) {
    (void)state;
    enum { NOPS = 300 };
    genop_t g[NOPS];
    linz_op_t ops[NOPS];
    char why[256];
    int stale_done = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        uint64_t s = seed;
        gen_t cfg = {.clients = 3 + (int)(seed % 3), .n = NOPS, .gap = 20, .len = 30, .domain = seed % 4 == 3 ? 4 : 0,
                     .unknown_pct = seed % 2 ? 10 : 0};
        gen_history(&s, &cfg, 0, g);
        linz_stats_t st;
        linz_result_t r = linz_check_register_ex(ops_of(g, NOPS, ops), NOPS, 0, NULL, &st, why, sizeof why);
        if (r != LINZ_OK) fail_msg("seed %" PRIu64 ": %s (%s)", seed, linz_result_name(r), why);

        /* one read returns a value nobody wrote */
        size_t k;
        do k = (size_t)(rnd(&s) % NOPS);
        while (g[k].op.kind != LINZ_READ || g[k].op.unknown);
        genop_t keep = g[k];
        g[k].op.ret = 123456789;
        r = linz_check_register_ex(ops_of(g, NOPS, ops), NOPS, 0, NULL, NULL, why, sizeof why);
        if (r != LINZ_VIOLATION) fail_msg("seed %" PRIu64 ": corrupted read: %s (%s)", seed, linz_result_name(r), why);
        assert_non_null(strstr(why, "READ -> 123456789"));
        g[k] = keep;

        /* one read returns a stale value: x was written by A, A returned before B (which replaced x)
         * was invoked and B returned before the read was invoked; values are unique, so nothing else
         * wrote x. */
        if (cfg.domain) continue;
        size_t a = SIZE_MAX, b = SIZE_MAX, rd = SIZE_MAX;
        size_t prev = SIZE_MAX;
        for (size_t i = 0; i < NOPS && rd == SIZE_MAX; i++) {
            const genop_t *x = &g[i];
            bool sets = x->happened && (x->op.kind == LINZ_WRITE || (x->op.kind == LINZ_CAS && x->op.cas_ok));
            if (!sets) continue;
            if (prev != SIZE_MAX && !g[prev].op.unknown && !x->op.unknown &&
                g[prev].op.return_us < x->op.invoke_us) {
                for (size_t j = i + 1; j < NOPS; j++)
                    if (g[j].op.kind == LINZ_READ && !g[j].op.unknown && g[j].op.invoke_us > x->op.return_us &&
                        g[j].op.ret != (g[prev].op.kind == LINZ_WRITE ? g[prev].op.arg : g[prev].op.arg2)) {
                        a = prev, b = i, rd = j;
                        break;
                    }
            }
            prev = i;
        }
        if (rd == SIZE_MAX) continue;
        assert_true(g[b].op.return_us < g[rd].op.invoke_us);
        g[rd].op.ret = g[a].op.kind == LINZ_WRITE ? g[a].op.arg : g[a].op.arg2;
        r = linz_check_register_ex(ops_of(g, NOPS, ops), NOPS, 0, NULL, NULL, why, sizeof why);
        if (r != LINZ_VIOLATION) fail_msg("seed %" PRIu64 ": stale read: %s", seed, linz_result_name(r));
        stale_done++;
    }
    assert_true(stale_done >= 10);
}

static void concurrent_300_op_histories_finish(void **state) {
    (void)state;
    enum { NOPS = 300 };
    genop_t g[NOPS];
    linz_op_t ops[NOPS];
    char why[256];
    /* 5 clients with long overlapping intervals, few distinct values, unknown outcomes */
    const gen_t cfgs[] = {
        {.clients = 5, .n = NOPS, .gap = 2, .len = 200, .domain = 0, .unknown_pct = 0},
        {.clients = 5, .n = NOPS, .gap = 2, .len = 200, .domain = 3, .unknown_pct = 0},
        {.clients = 5, .n = NOPS, .gap = 2, .len = 200, .domain = 0, .unknown_pct = 20},
        {.clients = 5, .n = NOPS, .gap = 2, .len = 200, .domain = 3, .unknown_pct = 20},
    };
    for (size_t c = 0; c < N(cfgs); c++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            uint64_t s = seed * 1000 + c;
            gen_history(&s, &cfgs[c], 0, g);
            linz_stats_t st;
            linz_result_t r = linz_check_register_ex(ops_of(g, NOPS, ops), NOPS, 0, NULL, &st, why, sizeof why);
            print_message("  config %zu seed %" PRIu64 ": %s, %" PRIu64 " steps, %zu states\n", c, seed,
                          linz_result_name(r), st.steps, st.states);
            /* it returns; when it decides, the history (a real execution) is linearizable */
            assert_true(r == LINZ_OK || r == LINZ_LIMIT);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_and_single_ops),
        cmocka_unit_test(sequential_histories),
        cmocka_unit_test(concurrent_overlaps),
        cmocka_unit_test(classic_violations),
        cmocka_unit_test(cas_semantics),
        cmocka_unit_test(unknown_writes),
        cmocka_unit_test(unknown_cas),
        cmocka_unit_test(identical_unknown_ops),
        cmocka_unit_test(bad_input_and_limits),
        cmocka_unit_test(agrees_with_brute_force),
        cmocka_unit_test(agrees_with_brute_force_on_unknown_pools),
        cmocka_unit_test(real_300_op_histories_pass_and_corruptions_fail),
        cmocka_unit_test(concurrent_300_op_histories_finish),
    };
    return cmocka_run_group_tests_name("unit.sim.linz", tests, NULL, NULL);
}
