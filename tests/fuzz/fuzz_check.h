/* fuzz/fuzz_check.h — CHECK(cond): a property every fuzz target asserts on its input; a violation prints
 * where and aborts, which libFuzzer reports as a crash with the input saved. */
#ifndef MK_FUZZ_CHECK_H
#define MK_FUZZ_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* A small LCG for targets that cut their input into pseudo-random read chunks. */
static inline uint64_t fuzz_next_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

#endif
