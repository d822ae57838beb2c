/* tests/sim/sim.c — the simulation kernel: event heap, virtual clock, PRNG, trace digest, violations,
 * common options. */
#include "sim/sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ---- */

static uint64_t env_u64(const char *name, uint64_t dflt) {
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : dflt;
}

int sim_opts_parse(int argc, char **argv, uint64_t default_seeds, sim_opts_t *o) {
    o->seeds = env_u64("MK_SIM_SEEDS", default_seeds);
    o->seed = env_u64("MK_SIM_SEED", 1);
    o->trace = env_u64("MK_SIM_TRACE", 0) != 0;
    bool one = getenv("MK_SIM_SEED") && !getenv("MK_SIM_SEEDS");
    int out = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seeds") && i + 1 < argc) {
            o->seeds = strtoull(argv[++i], NULL, 10);
            one = false;
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            o->seed = strtoull(argv[++i], NULL, 10);
            one = true;
        } else if (!strcmp(argv[i], "--trace")) {
            o->trace = true;
        } else {
            argv[out++] = argv[i];
        }
    }
    uint64_t divisor = env_u64("MK_SIM_SEED_DIVISOR", 1);  /* the sanitizer stage runs a tenth */
    if (divisor > 1) o->seeds /= divisor;
    if (one) o->seeds = 1;
    if (o->seeds == 0) o->seeds = 1;
    argv[out] = NULL;
    return out;
}

/* ---- PRNG: xoshiro256** seeded through splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sim_rand(sim_t *s) {
    uint64_t *r = s->rng;
    uint64_t out = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;
    r[2] ^= r[0];
    r[3] ^= r[1];
    r[1] ^= r[2];
    r[0] ^= r[3];
    r[2] ^= t;
    r[3] = rotl(r[3], 45);
    return out;
}

uint64_t sim_below(sim_t *s, uint64_t n) { return n ? sim_rand(s) % n : 0; }

int64_t sim_range(sim_t *s, int64_t lo, int64_t hi) {
    return hi <= lo ? lo : lo + (int64_t)sim_below(s, (uint64_t)(hi - lo) + 1);
}

/* ---- lifecycle and heap ---- */

void sim_init(sim_t *s, const char *prog, uint64_t seed, bool trace) {
    memset(s, 0, sizeof *s);
    s->prog = prog;
    s->seed = seed;
    s->trace = trace;
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    mk_blake3_init(&s->digest);
}

void sim_free(sim_t *s) {
    free(s->heap);
    s->heap = NULL;
    s->nheap = s->capheap = 0;
}

static bool before(const sim_event_t *a, const sim_event_t *b) {
    return a->at_us != b->at_us ? a->at_us < b->at_us : a->seq < b->seq;
}

void sim_at(sim_t *s, int64_t at_us, sim_fn fn, void *a, uint64_t b) {
    if (at_us < s->now_us) at_us = s->now_us;
    if (s->nheap == s->capheap) {
        size_t cap = s->capheap ? s->capheap * 2 : 1024;
        sim_event_t *h = realloc(s->heap, cap * sizeof *h);
        if (!h) {
            fprintf(stderr, "%s: out of memory for the event heap\n", s->prog);
            exit(2);
        }
        s->heap = h;
        s->capheap = cap;
    }
    size_t i = s->nheap++;
    sim_event_t ev = {at_us, s->seq++, fn, a, b};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&ev, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = ev;
}

static sim_event_t pop(sim_t *s) {
    sim_event_t top = s->heap[0], last = s->heap[--s->nheap];
    size_t i = 0, n = s->nheap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const sim_event_t *cand = &last;
        if (l < n && before(&s->heap[l], cand)) m = l, cand = &s->heap[l];
        if (r < n && before(&s->heap[r], cand)) m = r;
        if (m == i) break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (n) s->heap[i] = last;
    return top;
}

bool sim_run_until(sim_t *s, int64_t until_us) {
    while (!s->violated && s->nheap && s->heap[0].at_us <= until_us) {
        sim_event_t ev = pop(s);
        s->now_us = ev.at_us;
        s->events++;
        ev.fn(s, ev.a, ev.b);
    }
    if (!s->violated && s->now_us < until_us) s->now_us = until_us;
    return !s->violated;
}

/* ---- trace and violations ---- */

void sim_trace(sim_t *s, uint32_t node, uint32_t kind, uint64_t arg, const char *text) {
    uint8_t rec[24];
    uint64_t t = (uint64_t)s->now_us;
    memcpy(rec, &t, 8);
    memcpy(rec + 8, &node, 4);
    memcpy(rec + 12, &kind, 4);
    memcpy(rec + 16, &arg, 8);
    mk_blake3_update(&s->digest, rec, sizeof rec);
    if (s->trace)
        printf("t=%lld.%06lld node=%u %s\n", (long long)(s->now_us / 1000000), (long long)(s->now_us % 1000000),
               node, text ? text : "");
}

void sim_digest_hex(const sim_t *s, char out[17]) {
    uint8_t d[MK_BLAKE3_OUT_LEN];
    mk_blake3_finalize(&s->digest, d);
    for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

void sim_violate(sim_t *s, const char *invariant, const char *fmt, ...) {
    if (s->violated) return;
    s->violated = true;
    snprintf(s->invariant, sizeof s->invariant, "%s", invariant);
    char detail[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(s->violation, sizeof s->violation, "%s: seed %llu violated %s at event %llu (t=%.3f s); replay: "
             "tests/sim/%s --seed %llu --trace", s->prog, (unsigned long long)s->seed, invariant,
             (unsigned long long)s->events, (double)s->now_us / 1e6, s->prog, (unsigned long long)s->seed);
    printf("%s\n  %s\n", s->violation, detail);
    fflush(stdout);
}
