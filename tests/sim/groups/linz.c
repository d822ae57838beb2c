/* tests/sim/groups/linz.c — the register linearizability checker of linz.h: a Wing & Gong search over
 * linearization prefixes with Lowe's just-in-time rule (an op may come next only if no op still to
 * linearize returned before its invoke) and memoisation of visited (linearized set, value) states, as
 * Porcupine does; breadth-first by number of known ops linearized, so that unknown outcomes are
 * searched in a normal form and a state also stands for those that used more unknown ops (see below). */
#include "sim/groups/linz.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Normal form for unknown writes and CASes. Take any valid linearization and rewrite it until none
 * of these applies: drop an unknown op that changes nothing (a CAS on another value, a write of the
 * current value); drop an unknown op whose effect is overwritten by a write before any CAS or known
 * read observes it; drop unknown ops at the end; drop a run (maximal sequence) of unknown ops that ends
 * on the value it began on; move a run that precedes a known READ or failed CAS which would also
 * succeed on the run's starting value to just after that op; swap in, for an unknown op, an identical
 * one (same kind and arguments) invoked earlier and not used; where a run starts with WRITE x from
 * value v while an unknown CAS(v → x) is invoked and unused, use the CAS there and the write where the
 * CAS was used, if it was. Each step keeps the order valid (unknown ops never have to precede anything,
 * so they may move later or go; no known op sees another value) and the rewriting ends (fewer unknown
 * ops, or writes later, or runs later, or earlier twins). In the result every run of unknown ops is
 * followed by a known READ or CAS that needs it (it fails on the value the run began on), only its first
 * op may be a write, no unknown op is a no-op, identical unknown ops are used in invoke order, and no
 * run starts with WRITE x where such a CAS would do. The search builds only linearizations of this
 * form: one step adds a run (possibly empty) and the known op after it.
 *
 * Memoisation. A state after a step is (K, v, U): known ops linearized, value, unknown ops used. It can
 * do all that (K, v, U') can when U ⊆ U' (unused unknown ops can be used later or left out), or more
 * generally when each op of U \ U' can be matched to a distinct op of U' \ U that serves as well (an
 * unknown WRITE y for an unknown CAS(x → y)): then (K, v, U) "covers" (K, v, U'). The search goes level
 * by level (|K| = 0, 1, ...; a step adds one known op), keeping for each (K, v) of a level only states
 * no other covers: a covered new state is dropped, kept ones the new one covers go. A level is complete
 * before it is expanded, so nothing is expanded twice; the history is linearizable iff level |known
 * ops| is reached. Within a step, run states (value, U) are pruned the same way. */

/* A known op, in return order (its rank). */
typedef struct kop {
    int64_t arg, arg2, ret, invoke, ret_us;
    size_t orig; /* index in the caller's array */
    linz_kind_t kind;
    bool ok;
} kop_t;

/* An unknown WRITE or CAS, sorted by (kind, arg, arg2, invoke): identical ones form a group. */
typedef struct uop {
    int64_t arg, arg2, invoke;
    size_t orig;
    linz_kind_t kind;
} uop_t;

/* States of one level. A projection (pw words: the known set K, then the value) has one more word:
 * 1 + the first of its unknown sets (0: none). An unknown set (uw words) has one more word: 1 + the
 * next set of the same projection, or of the free list. Projections are found through an
 * open-addressing table of 1 + their index (power-of-two size, at most half full). */
typedef struct level {
    uint64_t *proj;
    size_t np, pcap;
    uint64_t *sets;
    size_t ns, scap, free_head, live;
    uint32_t *table;
    size_t tcap;
} level_t;

typedef struct search {
    const kop_t *k;
    size_t nk, kw;           /* known ops; words of K */
    const int64_t *sufmin;   /* sufmin[r]: least invoke among known ranks ≥ r */
    const uop_t *u;
    size_t nu, uw;           /* unknown ops; words of U */
    const size_t *gstart;    /* group g: unknown ops gstart[g] .. gstart[g + 1] - 1 */
    size_t ng;
    size_t pw;               /* kw + 1 */
    size_t bytes, max_bytes; /* memory of both levels */
    uint64_t steps, max_steps;
    level_t *next;           /* the level being filled */
    size_t next_k;           /* its |K| */
    uint64_t *key;           /* scratch: one projection */
    uint32_t *cand;          /* scratch: known candidates of the state being expanded */
    /* scratch for runs: run states (value, U, next group to try) and the DFS path over them */
    int64_t *rv;
    uint64_t *ru;
    size_t *rg, *re, *rs;    /* groups still to try: rg .. re - 1 */
    size_t nrun, rcap;
    size_t nwg;              /* groups 0 .. nwg - 1 are writes, the rest CASes by (expected, new) */
} search_t;

enum { C_PRESENT = 0, C_ADDED = 1, C_FULL = -1, C_NOMEM = -2, C_LIMIT = -3, C_DONE = 2 };

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    x ^= x >> 31;
    return x;
}

static size_t key_hash(const uint64_t *s, size_t words) {
    uint64_t h = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < words; i++) h = mix64(h ^ s[i]) + i;
    return (size_t)h;
}

static bool bit_get(const uint64_t *bits, size_t i) { return bits[i / 64] >> (i % 64) & 1u; }

/* The index of the lowest set bit of d ≠ 0 (de Bruijn). */
static size_t ctz64(uint64_t d) {
    static const unsigned char pos[64] = {
        0,  1,  2,  53, 3,  7,  54, 27, 4,  38, 41, 8,  34, 55, 48, 28, 62, 5,  39, 46, 44, 42,
        22, 9,  24, 35, 59, 56, 49, 18, 29, 11, 63, 52, 6,  26, 37, 40, 33, 47, 61, 45, 43, 21,
        23, 58, 17, 10, 51, 25, 36, 32, 60, 20, 57, 16, 50, 31, 19, 15, 30, 14, 13, 12};
    return pos[((d & (~d + 1)) * UINT64_C(0x022fdd63cc95386d)) >> 58];
}

/* Whether a state that used the unknown ops in a can do all that one with the same known set and
 * value that used b can: each op of a \ b matches a distinct op of b \ a as flexible — for an unknown
 * CAS(x → y), a WRITE y (invoked in time, b's state having used it). A subset is the common case;
 * otherwise this only looks for such writes, and may say no when unsure. */
static bool covers(search_t *s, const uint64_t *a, const uint64_t *b) {
    size_t i = 0;
    while (i < s->uw && !(a[i] & ~b[i])) i++;
    if (i == s->uw) return true;
    if (!s->nwg) return false;
    const size_t nwops = s->gstart[s->nwg]; /* unknown writes come first */
    struct { int64_t y; size_t n; } need[8];
    size_t nn = 0;
    for (; i < s->uw; i++) {
        for (uint64_t d = a[i] & ~b[i]; d; d &= d - 1) {
            size_t j = i * 64 + ctz64(d);
            s->steps++;
            if (j < nwops) return false;
            size_t t = 0;
            while (t < nn && need[t].y != s->u[j].arg2) t++;
            if (t == nn) {
                if (nn == sizeof need / sizeof need[0]) return false;
                need[nn].y = s->u[j].arg2;
                need[nn++].n = 0;
            }
            need[t].n++;
        }
    }
    for (size_t t = 0; t < nn; t++) {
        size_t l = 0, h = s->nwg; /* the WRITE group of value need[t].y */
        while (l < h) {
            size_t mid = l + (h - l) / 2;
            if (s->u[s->gstart[mid]].arg < need[t].y)
                l = mid + 1;
            else
                h = mid;
        }
        if (l == s->nwg || s->u[s->gstart[l]].arg != need[t].y) return false;
        size_t spare = 0;
        for (size_t k = s->gstart[l]; k < s->gstart[l + 1]; k++) spare += bit_get(b, k) && !bit_get(a, k);
        s->steps += s->gstart[l + 1] - s->gstart[l];
        if (spare < need[t].n) return false;
    }
    return true;
}

static void bit_set(uint64_t *bits, size_t i) { bits[i / 64] |= UINT64_C(1) << (i % 64); }

/* Grows p (capacity *cap elements of elem bytes) to at least need elements within the memory bound;
 * returns the array, moved or not, and sets *rc (C_ADDED, C_FULL or C_NOMEM). */
static void *grow(search_t *s, void *p, size_t *cap, size_t elem, size_t need, int *rc) {
    *rc = C_ADDED;
    if (need <= *cap) return p;
    size_t room = *cap + (s->max_bytes > s->bytes ? (s->max_bytes - s->bytes) / elem : 0);
    size_t ncap = *cap ? *cap * 2 : 64;
    if (ncap < need) ncap = need;
    if (ncap > room) ncap = room;
    if (ncap < need) {
        *rc = C_FULL;
        return p;
    }
    void *q = realloc(p, ncap * elem);
    if (!q) {
        *rc = C_NOMEM;
        return p;
    }
    s->bytes += (ncap - *cap) * elem;
    *cap = ncap;
    return q;
}

static int table_grow(search_t *s, level_t *l) {
    size_t cap = l->tcap ? l->tcap * 2 : 16;
    if (s->bytes + cap * sizeof(uint32_t) > s->max_bytes) return C_FULL;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return C_NOMEM;
    for (size_t i = 0; i < l->np; i++) {
        size_t j = key_hash(l->proj + i * (s->pw + 1), s->pw) & (cap - 1);
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = (uint32_t)(i + 1);
    }
    s->bytes += (cap - l->tcap) * sizeof(uint32_t);
    free(l->table);
    l->table = t;
    l->tcap = cap;
    return C_ADDED;
}

static void level_clear(level_t *l) {
    if (l->tcap) memset(l->table, 0, l->tcap * sizeof *l->table);
    l->np = l->ns = l->free_head = l->live = 0;
}

static void level_free(level_t *l) {
    free(l->proj);
    free(l->sets);
    free(l->table);
}

/* Adds state (key, uset) to level l unless a stored state of the same projection covers it
 * (C_PRESENT); the stored ones it covers go. */
static int level_add(search_t *s, level_t *l, const uint64_t *key, const uint64_t *uset) {
    const size_t ps = s->pw + 1, us = s->uw + 1;
    size_t pi = SIZE_MAX, slot = 0;
    if (l->tcap) {
        slot = key_hash(key, s->pw) & (l->tcap - 1);
        for (; l->table[slot]; slot = (slot + 1) & (l->tcap - 1))
            if (!memcmp(l->proj + (size_t)(l->table[slot] - 1) * ps, key, s->pw * sizeof *key)) {
                pi = l->table[slot] - 1u;
                break;
            }
    }
    if (pi != SIZE_MAX) {
        uint64_t *link = &l->proj[pi * ps + s->pw];
        while (*link) {
            size_t si = (size_t)*link - 1;
            uint64_t *e = &l->sets[si * us];
            s->steps++;
            if (covers(s, e, uset)) return C_PRESENT;
            if (covers(s, uset, e)) { /* e goes; a kept one may still cover uset, then also e */
                *link = e[s->uw];
                e[s->uw] = l->free_head;
                l->free_head = si + 1;
                l->live--;
                continue;
            }
            link = &e[s->uw];
        }
    }
    size_t si;
    if (l->free_head) {
        si = l->free_head - 1;
    } else {
        int r;
        l->sets = grow(s, l->sets, &l->scap, us * sizeof(uint64_t), l->ns + 1, &r);
        if (r != C_ADDED) return r;
        si = l->ns;
    }
    if (pi == SIZE_MAX) {
        int r = C_ADDED;
        if ((l->np + 1) * 2 > l->tcap) r = table_grow(s, l);
        if (r == C_ADDED) l->proj = grow(s, l->proj, &l->pcap, ps * sizeof(uint64_t), l->np + 1, &r);
        if (r != C_ADDED) return r;
        pi = l->np++;
        memcpy(&l->proj[pi * ps], key, s->pw * sizeof *key);
        l->proj[pi * ps + s->pw] = 0;
        slot = key_hash(key, s->pw) & (l->tcap - 1);
        while (l->table[slot]) slot = (slot + 1) & (l->tcap - 1);
        l->table[slot] = (uint32_t)(pi + 1);
    }
    if (si == l->ns)
        l->ns++;
    else
        l->free_head = (size_t)l->sets[si * us + s->uw];
    memcpy(&l->sets[si * us], uset, s->uw * sizeof *uset);
    l->sets[si * us + s->uw] = l->proj[pi * ps + s->pw];
    l->proj[pi * ps + s->pw] = si + 1;
    l->live++;
    return C_ADDED;
}

/* Whether known op o accepts value v; sets *nv. */
static bool known_apply(const kop_t *o, int64_t v, int64_t *nv) {
    *nv = v;
    switch (o->kind) {
    case LINZ_WRITE:
        *nv = o->arg;
        return true;
    case LINZ_READ:
        return v == o->ret;
    case LINZ_CAS:
        if (!o->ok) return v != o->arg;
        if (v != o->arg) return false;
        *nv = o->arg2;
        return true;
    }
    return false;
}

/* Adds to the next level the state after known rank r on top of (K, value nv) with unknown set uset. */
static int emit(search_t *s, const uint64_t *kset, size_t r, int64_t nv, const uint64_t *uset) {
    memcpy(s->key, kset, s->kw * sizeof *kset);
    bit_set(s->key, r);
    s->key[s->kw] = (uint64_t)nv;
    int rc = level_add(s, s->next, s->key, uset);
    if (rc == C_ADDED && s->next_k == s->nk) return C_DONE;
    return rc;
}

/* Makes room for need run states. */
static int run_reserve(search_t *s, size_t need) {
    if (need <= s->rcap) return C_ADDED;
    size_t a = s->rcap, b = s->rcap, c = s->rcap, d = s->rcap, e = s->rcap;
    int r;
    s->rv = grow(s, s->rv, &a, sizeof *s->rv, need, &r);
    if (r == C_ADDED) s->ru = grow(s, s->ru, &b, (s->uw ? s->uw : 1) * sizeof *s->ru, a, &r);
    if (r == C_ADDED) s->rg = grow(s, s->rg, &c, sizeof *s->rg, a, &r);
    if (r == C_ADDED) s->rs = grow(s, s->rs, &d, sizeof *s->rs, a, &r);
    if (r == C_ADDED) s->re = grow(s, s->re, &e, sizeof *s->re, a, &r);
    if (r != C_ADDED) return r;
    s->rcap = a;
    return C_ADDED;
}

/* The CAS groups expecting value a: lo .. hi - 1. */
static void cas_range(const search_t *s, int64_t a, size_t *lo, size_t *hi) {
    size_t l = s->nwg, h = s->ng;
    while (l < h) {
        size_t mid = l + (h - l) / 2;
        if (s->u[s->gstart[mid]].arg < a)
            l = mid + 1;
        else
            h = mid;
    }
    *lo = l;
    h = s->ng;
    while (l < h) {
        size_t mid = l + (h - l) / 2;
        if (s->u[s->gstart[mid]].arg <= a)
            l = mid + 1;
        else
            h = mid;
    }
    *hi = l;
}

/* The first unknown op of group g not in uset, or SIZE_MAX. */
static size_t group_next(const search_t *s, size_t g, const uint64_t *uset) {
    for (size_t i = s->gstart[g]; i < s->gstart[g + 1]; i++)
        if (!bit_get(uset, i)) return i;
    return SIZE_MAX;
}

/* Expands state (K, v, U) of the current level into the next. *r0 gets the rank of the first known op
 * not in K (the return that bounds the candidates). */
static int expand(search_t *s, const uint64_t *kset, int64_t v, const uint64_t *uset, size_t *r0out) {
    size_t r0 = 0;
    while (r0 < s->nk && bit_get(kset, r0)) r0++;
    *r0out = r0;
    if (r0 == s->nk) return C_DONE; /* cannot happen: such a state is on the last level */
    const int64_t tmin = s->k[r0].ret_us;
    size_t nc = 0;
    for (size_t r = r0; r < s->nk && s->sufmin[r] <= tmin; r++) {
        s->steps++;
        if (!bit_get(kset, r) && s->k[r].invoke <= tmin) s->cand[nc++] = (uint32_t)r;
    }
    /* no run */
    for (size_t c = 0; c < nc; c++) {
        int64_t nv;
        s->steps++;
        if (!known_apply(&s->k[s->cand[c]], v, &nv)) continue;
        int rc = emit(s, kset, s->cand[c], nv, uset);
        if (rc != C_ADDED && rc != C_PRESENT) return rc;
    }
    if (!s->ng) return C_ADDED;
    /* Runs: a DFS over run states (value, U) from the start (v, U), which alone may take a write; then
     * only CASes expecting the current value. A run state is kept (to extend) when such a CAS exists. */
    const size_t uw = s->uw;
    int rr = run_reserve(s, 1);
    if (rr != C_ADDED) return rr;
    s->rv[0] = v;
    memcpy(s->ru, uset, uw * sizeof *uset);
    s->rg[0] = 0;
    s->re[0] = s->nwg;
    s->nrun = 1;
    s->rs[0] = 0;
    size_t depth = 1;
    bool root_cas = false; /* the start has moved on from writes to CASes */
    while (depth) {
        if (s->steps > s->max_steps) return C_LIMIT;
        size_t cur = s->rs[depth - 1];
        if (s->rg[cur] >= s->re[cur]) {
            if (cur == 0 && !root_cas) {
                root_cas = true;
                cas_range(s, v, &s->rg[0], &s->re[0]);
            } else {
                depth--;
            }
            continue;
        }
        size_t g = s->rg[cur]++;
        s->steps++;
        size_t ui = group_next(s, g, s->ru + cur * uw);
        if (ui == SIZE_MAX) continue;
        const uop_t *u = &s->u[ui];
        if (u->invoke > tmin) continue;
        int64_t nv;
        if (u->kind == LINZ_WRITE) {
            if (u->arg == v) continue;
            /* an available unknown CAS(v → x) serves as well as WRITE x and keeps the write for later */
            size_t lo, hi;
            cas_range(s, v, &lo, &hi);
            bool cas_too = false;
            for (size_t h = lo; h < hi && !cas_too; h++) {
                s->steps++;
                if (s->u[s->gstart[h]].arg2 != u->arg) continue;
                size_t ci = group_next(s, h, s->ru);
                cas_too = ci != SIZE_MAX && s->u[ci].invoke <= tmin;
            }
            if (cas_too) continue;
            nv = u->arg;
        } else {
            if (u->arg2 == u->arg) continue;
            nv = u->arg2;
        }
        size_t ni = s->nrun;
        if ((rr = run_reserve(s, ni + 1)) != C_ADDED) return rr;
        uint64_t *nu = s->ru + ni * uw;
        memcpy(nu, s->ru + cur * uw, uw * sizeof *nu);
        bit_set(nu, ui);
        /* a kept run state with this value and fewer unknown ops used (the start, when back at v) did
         * all this one could */
        bool dominated = false;
        for (size_t j = 0; j < ni && !dominated; j++) {
            s->steps++;
            dominated = s->rv[j] == nv && covers(s, s->ru + j * uw, nu);
        }
        if (dominated) continue;
        /* the known op after the run must need it */
        for (size_t c = 0; c < nc; c++) {
            int64_t kv, unused;
            const kop_t *o = &s->k[s->cand[c]];
            s->steps++;
            if (!known_apply(o, nv, &kv) || known_apply(o, v, &unused)) continue;
            int rc = emit(s, kset, s->cand[c], kv, nu);
            if (rc != C_ADDED && rc != C_PRESENT) return rc;
        }
        size_t lo, hi;
        cas_range(s, nv, &lo, &hi);
        if (lo == hi) continue; /* no CAS can extend it */
        s->rv[ni] = nv;
        s->rg[ni] = lo;
        s->re[ni] = hi;
        s->nrun++;
        s->rs[depth++] = ni;
    }
    return C_ADDED;
}

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t cap, const char *fmt, ...) {
    if (!why || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

static void describe(const linz_op_t *o, char *buf, size_t cap) {
    switch (o->kind) {
    case LINZ_WRITE: snprintf(buf, cap, "WRITE %" PRId64, o->arg); break;
    case LINZ_READ: snprintf(buf, cap, "READ -> %" PRId64, o->ret); break;
    case LINZ_CAS:
        snprintf(buf, cap, "CAS %" PRId64 " -> %" PRId64 "%s", o->arg, o->arg2,
                 o->unknown ? "" : o->cas_ok ? " ok" : " failed");
        break;
    default: snprintf(buf, cap, "kind %d", (int)o->kind); break;
    }
}

const char *linz_result_name(linz_result_t r) {
    switch (r) {
    case LINZ_OK: return "ok";
    case LINZ_VIOLATION: return "violation";
    case LINZ_LIMIT: return "limit";
    case LINZ_BAD_INPUT: return "bad-input";
    case LINZ_NOMEM: return "nomem";
    }
    return "?";
}

static int kop_cmp(const void *a, const void *b) {
    const kop_t *x = a, *y = b;
    if (x->ret_us != y->ret_us) return x->ret_us < y->ret_us ? -1 : 1;
    if (x->invoke != y->invoke) return x->invoke < y->invoke ? -1 : 1;
    return x->orig < y->orig ? -1 : x->orig > y->orig;
}

static int uop_cmp(const void *a, const void *b) {
    const uop_t *x = a, *y = b;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    if (x->arg != y->arg) return x->arg < y->arg ? -1 : 1;
    if (x->arg2 != y->arg2) return x->arg2 < y->arg2 ? -1 : 1;
    if (x->invoke != y->invoke) return x->invoke < y->invoke ? -1 : 1;
    return x->orig < y->orig ? -1 : x->orig > y->orig;
}

linz_result_t linz_check_register_ex(const linz_op_t *ops, size_t n, int64_t initial,
                                     const linz_limits_t *limits, linz_stats_t *stats, char *why,
                                     size_t why_cap) {
    linz_stats_t st = {0};
    if (stats) *stats = st;
    say(why, why_cap, "%s", "");
    if (n > LINZ_MAX_OPS) {
        say(why, why_cap, "too many ops (%zu > %u)", n, LINZ_MAX_OPS);
        return LINZ_LIMIT;
    }
    if (n && !ops) {
        say(why, why_cap, "no ops array");
        return LINZ_BAD_INPUT;
    }
    size_t nk = 0, nu = 0;
    for (size_t i = 0; i < n; i++) {
        const linz_op_t *o = &ops[i];
        if (o->kind != LINZ_WRITE && o->kind != LINZ_READ && o->kind != LINZ_CAS) {
            say(why, why_cap, "op #%zu: unknown kind %d", i, (int)o->kind);
            return LINZ_BAD_INPUT;
        }
        if (!o->unknown && o->return_us < o->invoke_us) {
            say(why, why_cap, "op #%zu returns (%" PRId64 ") before its invoke (%" PRId64 ")", i, o->return_us,
                o->invoke_us);
            return LINZ_BAD_INPUT;
        }
        if (!o->unknown)
            nk++;
        else if (o->kind != LINZ_READ) /* an unknown read observes nothing anyone can check */
            nu++;
    }
    st.ops = nk + nu;
    if (nk == 0) {
        if (stats) *stats = st;
        return LINZ_OK;
    }

    search_t s = {.nk = nk, .nu = nu, .kw = (nk + 63) / 64, .uw = (nu + 63) / 64,
                  .max_bytes = limits && limits->max_cache_bytes ? limits->max_cache_bytes
                                                                 : LINZ_DEFAULT_MAX_CACHE_BYTES,
                  .max_steps = limits && limits->max_steps ? limits->max_steps : LINZ_DEFAULT_MAX_STEPS};
    s.pw = s.kw + 1;
    linz_result_t res = LINZ_NOMEM;
    level_t lv[2] = {{0}, {0}};
    kop_t *k = malloc(nk * sizeof *k);
    int64_t *sufmin = malloc(nk * sizeof *sufmin);
    uop_t *u = malloc((nu ? nu : 1) * sizeof *u);
    size_t *gstart = malloc((nu + 1) * sizeof *gstart);
    uint64_t *root = calloc(s.pw + s.uw + 1, sizeof *root);
    s.key = malloc(s.pw * sizeof *s.key);
    s.cand = malloc(nk * sizeof *s.cand);
    if (!k || !sufmin || !u || !gstart || !root || !s.key || !s.cand) goto nomem;
    s.bytes = nk * (sizeof *k + sizeof *sufmin + sizeof *s.cand) + (nu + 1) * (sizeof *u + sizeof *gstart);

    nk = nu = 0;
    for (size_t i = 0; i < n; i++) {
        const linz_op_t *o = &ops[i];
        if (!o->unknown)
            k[nk++] = (kop_t){.arg = o->arg, .arg2 = o->arg2, .ret = o->ret, .invoke = o->invoke_us,
                              .ret_us = o->return_us, .orig = i, .kind = o->kind, .ok = o->cas_ok};
        else if (o->kind != LINZ_READ)
            u[nu++] = (uop_t){.arg = o->arg, .arg2 = o->kind == LINZ_CAS ? o->arg2 : 0, .invoke = o->invoke_us,
                              .orig = i, .kind = o->kind};
    }
    qsort(k, nk, sizeof *k, kop_cmp);
    sufmin[nk - 1] = k[nk - 1].invoke;
    for (size_t r = nk - 1; r-- > 0;) sufmin[r] = k[r].invoke < sufmin[r + 1] ? k[r].invoke : sufmin[r + 1];
    qsort(u, nu, sizeof *u, uop_cmp);
    for (size_t i = 0; i < nu; i++)
        if (i == 0 || u[i].kind != u[i - 1].kind || u[i].arg != u[i - 1].arg || u[i].arg2 != u[i - 1].arg2)
            gstart[s.ng++] = i;
    gstart[s.ng] = nu;
    while (s.nwg < s.ng && u[gstart[s.nwg]].kind == LINZ_WRITE) s.nwg++;
    s.k = k;
    s.sufmin = sufmin;
    s.u = u;
    s.gstart = gstart;

    /* Level 0: nothing linearized. */
    root[s.kw] = (uint64_t)initial;
    level_t *cur = &lv[0];
    s.next = cur;
    int rc = level_add(&s, cur, root, root + s.pw);
    size_t best_r0 = 0, best_k = 0;
    int64_t best_v = initial;
    for (size_t depth = 0; rc == C_ADDED; depth++) {
        if (cur->live == 0) break; /* nothing reached this level */
        st.best_depth = depth;
        level_t *nx = cur == &lv[0] ? &lv[1] : &lv[0];
        level_clear(nx);
        s.next = nx;
        s.next_k = depth + 1;
        const size_t ps = s.pw + 1, us = s.uw + 1;
        for (size_t pi = 0; pi < cur->np && rc == C_ADDED; pi++) {
            const uint64_t *key = &cur->proj[pi * ps];
            for (uint64_t link = key[s.pw]; link && rc == C_ADDED; link = cur->sets[(size_t)(link - 1) * us + s.uw]) {
                size_t r0;
                st.states++;
                rc = expand(&s, key, (int64_t)key[s.kw], &cur->sets[(size_t)(link - 1) * us], &r0);
                if (r0 >= best_r0) {
                    best_r0 = r0;
                    best_k = depth;
                    best_v = (int64_t)key[s.kw];
                }
                if (rc == C_PRESENT) rc = C_ADDED;
                if (rc == C_ADDED && s.steps > s.max_steps) rc = C_LIMIT;
            }
        }
        cur = nx;
    }

    st.steps = s.steps;
    switch (rc) {
    case C_DONE:
        res = LINZ_OK;
        st.best_depth = nk;
        break;
    case C_ADDED: {
        res = LINZ_VIOLATION;
        const linz_op_t *o = &ops[k[best_r0].orig];
        char d[96];
        describe(o, d, sizeof d);
        say(why, why_cap, "not linearizable: op #%zu (%s, invoke %" PRId64 ", return %" PRId64 ") cannot be "
            "placed before it returns; at best %zu of %zu known ops linearized by then (one such state: "
            "register = %" PRId64 ")", k[best_r0].orig, d, o->invoke_us, o->return_us, best_k, nk, best_v);
        break;
    }
    case C_LIMIT:
        res = LINZ_LIMIT;
        say(why, why_cap, "search limit: %" PRIu64 " steps (%zu of %zu known ops linearized at best)", s.max_steps,
            st.best_depth, nk);
        break;
    case C_FULL:
        res = LINZ_LIMIT;
        say(why, why_cap, "search limit: state memory full (%zu bytes; %zu of %zu known ops linearized at best)",
            s.max_bytes, st.best_depth, nk);
        break;
    default:
        goto nomem;
    }
    goto out;

nomem:
    res = LINZ_NOMEM;
    say(why, why_cap, "out of memory");
out:
    if (stats) *stats = st;
    level_free(&lv[0]);
    level_free(&lv[1]);
    free(s.rv);
    free(s.ru);
    free(s.rg);
    free(s.rs);
    free(s.re);
    free(s.cand);
    free(s.key);
    free(root);
    free(gstart);
    free(u);
    free(sufmin);
    free(k);
    return res;
}

bool linz_check_register(const linz_op_t *ops, size_t n, int64_t initial, char *why, size_t why_cap) {
    return linz_check_register_ex(ops, n, initial, NULL, NULL, why, why_cap) == LINZ_OK;
}
