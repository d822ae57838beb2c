/* unit/core/test_blake3.c — our BLAKE3 against every official test vector (hash, keyed and derive-key
 * modes, default and full extended output), one-shot and incremental with random split points, and the
 * hasher's contract (finalize is repeatable, updates may follow, copies are independent). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/blake3.h"
#include "blake3_vectors.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_VECTORS (sizeof BLAKE3_VECTORS / sizeof BLAKE3_VECTORS[0])
#define MAX_INPUT 102400
#define RANDOM_SPLITTINGS 1000

static uint8_t g_input[MAX_INPUT];

/* The official input pattern: byte i = i % 251. */
static void fill_input(void) {
    for (size_t i = 0; i < MAX_INPUT; i++) g_input[i] = (uint8_t)(i % 251);
}

static int setup_input(void **state) {
    fill_input();
    return 0;
}

static uint8_t hex_nibble(char c) {
    if (c >= '0' && c <= '9') return (uint8_t)(c - '0');
    if (c >= 'a' && c <= 'f') return (uint8_t)(c - 'a' + 10);
    fail_msg("bad hex digit '%c' in the vector table", c);
    return 0;
}

static void unhex(const char *hex, uint8_t *out, size_t n) {
    assert_int_equal(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(hex_nibble(hex[2 * i]) << 4 | hex_nibble(hex[2 * i + 1]));
}

static void assert_bytes_equal(const uint8_t *got, const uint8_t *want, size_t n, const char *what, size_t len) {
    if (memcmp(got, want, n) != 0) {
        for (size_t i = 0; i < n; i++)
            if (got[i] != want[i]) fail_msg("%s, input_len %zu: first difference at output byte %zu", what, len, i);
    }
}

/* Deterministic PRNG (splitmix64); the seed comes from MK_TEST_SEED or is fixed, so failures replay. */
static uint64_t g_seed, g_rng;

static void seed_rng(void) {
    const char *env = getenv("MK_TEST_SEED");
    g_seed = env && *env ? strtoull(env, NULL, 0) : UINT64_C(0x6d6f7361696b);
    g_rng = g_seed;
}

static uint64_t rng_next(void) {
    uint64_t z = (g_rng += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static size_t rng_below(size_t bound) { return bound ? (size_t)(rng_next() % bound) : 0; }

/* A random piece length: mostly small, sometimes around block and chunk sizes, sometimes large. */
static size_t random_piece(size_t left) {
    static const size_t limits[] = {4, 70, 1100, 5000};
    size_t piece = rng_below(limits[rng_below(4)] + 1);
    return piece < left ? piece : left;
}

/* Hashes in[0..n) through random update() splits (zero-length updates included) into outlen bytes. */
static void hash_randomly_split(const uint8_t *in, size_t n, uint8_t *out, size_t outlen) {
    mk_blake3_t h;
    mk_blake3_init(&h);
    size_t off = 0;
    while (off < n) {
        size_t piece = random_piece(n - off);
        mk_blake3_update(&h, in + off, piece);
        off += piece;
    }
    mk_blake3_update(&h, in + n, 0);
    mk_blake3_finalize_xof(&h, out, outlen);
}

/* ---- official vectors -------------------------------------------------------------------------- */

static void hash_official_vectors_one_shot_and_xof_match(void **state) {
    for (size_t v = 0; v < N_VECTORS; v++) {
        const struct blake3_vector *tv = &BLAKE3_VECTORS[v];
        uint8_t want[BLAKE3_VECTOR_OUT_LEN], got[BLAKE3_VECTOR_OUT_LEN], got32[32];
        unhex(tv->hash, want, sizeof want);

        mk_blake3(g_input, tv->input_len, got32);
        assert_bytes_equal(got32, want, 32, "one-shot", tv->input_len);

        mk_blake3_t h;
        mk_blake3_init(&h);
        mk_blake3_update(&h, g_input, tv->input_len);
        mk_blake3_finalize_xof(&h, got, sizeof got);
        assert_bytes_equal(got, want, sizeof want, "hasher XOF", tv->input_len);
        mk_blake3_finalize(&h, got32);
        assert_bytes_equal(got32, want, 32, "hasher finalize", tv->input_len);
    }
}

static void keyed_hash_official_vectors_match(void **state) {
    for (size_t v = 0; v < N_VECTORS; v++) {
        const struct blake3_vector *tv = &BLAKE3_VECTORS[v];
        uint8_t want[BLAKE3_VECTOR_OUT_LEN], got[BLAKE3_VECTOR_OUT_LEN];
        unhex(tv->keyed_hash, want, sizeof want);
        mk_blake3_t h;
        mk_blake3_init_keyed(&h, (const uint8_t *)BLAKE3_VECTOR_KEY);
        mk_blake3_update(&h, g_input, tv->input_len);
        mk_blake3_finalize_xof(&h, got, sizeof got);
        assert_bytes_equal(got, want, sizeof want, "keyed XOF", tv->input_len);
    }
}

static void derive_key_official_vectors_match(void **state) {
    for (size_t v = 0; v < N_VECTORS; v++) {
        const struct blake3_vector *tv = &BLAKE3_VECTORS[v];
        uint8_t want[BLAKE3_VECTOR_OUT_LEN], got[BLAKE3_VECTOR_OUT_LEN];
        unhex(tv->derive_key, want, sizeof want);
        mk_blake3_t h;
        mk_blake3_init_derive_key(&h, BLAKE3_VECTOR_CONTEXT);
        mk_blake3_update(&h, g_input, tv->input_len);
        mk_blake3_finalize_xof(&h, got, sizeof got);
        assert_bytes_equal(got, want, sizeof want, "derive-key XOF", tv->input_len);
    }
}

/* ---- incremental hashing ----------------------------------------------------------------------- */

static void update_random_splits_of_vector_inputs_match_official_output(void **state) {
    seed_rng();
    for (int i = 0; i < RANDOM_SPLITTINGS; i++) {
        const struct blake3_vector *tv = &BLAKE3_VECTORS[(size_t)i % N_VECTORS];
        uint8_t want[BLAKE3_VECTOR_OUT_LEN], got[BLAKE3_VECTOR_OUT_LEN];
        unhex(tv->hash, want, sizeof want);
        hash_randomly_split(g_input, tv->input_len, got, sizeof got);
        if (memcmp(got, want, sizeof want) != 0)
            fail_msg("splitting %d of input_len %zu differs (MK_TEST_SEED=%#" PRIx64 ")", i, tv->input_len, g_seed);
    }
}

static void update_random_splits_of_random_inputs_equal_one_shot(void **state) {
    seed_rng();
    static uint8_t data[20000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)rng_next();
    for (int i = 0; i < RANDOM_SPLITTINGS; i++) {
        size_t n = rng_below(sizeof data + 1);
        const uint8_t *in = data + rng_below(sizeof data - n + 1);
        uint8_t want[32], got[32];
        mk_blake3(in, n, want);
        hash_randomly_split(in, n, got, sizeof got);
        if (memcmp(got, want, sizeof want) != 0)
            fail_msg("splitting %d of a %zu-byte input differs (MK_TEST_SEED=%#" PRIx64 ")", i, n, g_seed);
    }
}

static void update_byte_at_a_time_over_chunk_boundaries_equals_one_shot(void **state) {
    static const size_t lens[] = {1023, 1024, 1025, 2047, 2048, 2049, 4096, 4097, 8193};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        uint8_t want[32], got[32];
        mk_blake3_t h;
        mk_blake3_init(&h);
        for (size_t i = 0; i < lens[k]; i++) mk_blake3_update(&h, g_input + i, 1);
        mk_blake3_finalize(&h, got);
        mk_blake3(g_input, lens[k], want);
        assert_bytes_equal(got, want, 32, "byte at a time", lens[k]);
    }
}

/* ---- hasher contract --------------------------------------------------------------------------- */

static void finalize_repeated_then_update_continues_the_stream(void **state) {
    uint8_t first[32], again[32], full[32], want_full[32];
    mk_blake3_t h;
    mk_blake3_init(&h);
    mk_blake3_update(&h, g_input, 3000);
    mk_blake3_finalize(&h, first);
    mk_blake3_finalize(&h, again);
    assert_memory_equal(first, again, 32);
    mk_blake3(g_input, 3000, want_full);
    assert_memory_equal(first, want_full, 32);

    mk_blake3_update(&h, g_input + 3000, 5000);
    mk_blake3_finalize(&h, full);
    mk_blake3(g_input, 8000, want_full);
    assert_memory_equal(full, want_full, 32);
    assert_memory_not_equal(full, first, 32);
}

static void finalize_xof_every_length_is_prefix_of_longer_output(void **state) {
    uint8_t longest[300], shorter[300];
    mk_blake3_t h;
    mk_blake3_init(&h);
    mk_blake3_update(&h, g_input, 2049);
    mk_blake3_finalize_xof(&h, longest, sizeof longest);
    for (size_t len = 0; len <= sizeof shorter; len++) {
        memset(shorter, 0xAA, sizeof shorter);
        mk_blake3_finalize_xof(&h, len ? shorter : NULL, len);
        assert_memory_equal(shorter, longest, len);
        for (size_t i = len; i < sizeof shorter; i++) assert_int_equal(shorter[i], 0xAA);
    }
}

static void hasher_copy_continues_independently(void **state) {
    uint8_t a[32], b[32], want_a[32], want_b[32];
    mk_blake3_t h, copy;
    mk_blake3_init(&h);
    mk_blake3_update(&h, g_input, 1500);
    copy = h;
    mk_blake3_update(&h, g_input + 1500, 1000);
    mk_blake3_update(&copy, g_input + 1500, 10);
    mk_blake3_finalize(&h, a);
    mk_blake3_finalize(&copy, b);
    mk_blake3(g_input, 2500, want_a);
    mk_blake3(g_input, 1510, want_b);
    assert_memory_equal(a, want_a, 32);
    assert_memory_equal(b, want_b, 32);
}

static void one_shot_null_input_of_zero_length_is_empty_hash(void **state) {
    uint8_t got[32], want[32];
    mk_blake3(NULL, 0, got);
    unhex("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", want, 32);
    assert_memory_equal(got, want, 32);
}

static void keyed_and_derive_modes_differ_from_hash_mode(void **state) {
    uint8_t plain[32], keyed[32], derived[32], zero_key[32] = {0};
    mk_blake3_t h;
    mk_blake3(g_input, 100, plain);
    mk_blake3_init_keyed(&h, zero_key);
    mk_blake3_update(&h, g_input, 100);
    mk_blake3_finalize(&h, keyed);
    mk_blake3_init_derive_key(&h, "");
    mk_blake3_update(&h, g_input, 100);
    mk_blake3_finalize(&h, derived);
    assert_memory_not_equal(plain, keyed, 32);
    assert_memory_not_equal(plain, derived, 32);
    assert_memory_not_equal(keyed, derived, 32);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_official_vectors_one_shot_and_xof_match),
        cmocka_unit_test(keyed_hash_official_vectors_match),
        cmocka_unit_test(derive_key_official_vectors_match),
        cmocka_unit_test(update_random_splits_of_vector_inputs_match_official_output),
        cmocka_unit_test(update_random_splits_of_random_inputs_equal_one_shot),
        cmocka_unit_test(update_byte_at_a_time_over_chunk_boundaries_equals_one_shot),
        cmocka_unit_test(finalize_repeated_then_update_continues_the_stream),
        cmocka_unit_test(finalize_xof_every_length_is_prefix_of_longer_output),
        cmocka_unit_test(hasher_copy_continues_independently),
        cmocka_unit_test(one_shot_null_input_of_zero_length_is_empty_hash),
        cmocka_unit_test(keyed_and_derive_modes_differ_from_hash_mode),
    };
    return cmocka_run_group_tests_name("unit.core.blake3", tests, setup_input, NULL);
}
