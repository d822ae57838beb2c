/* core/blake3.c — portable BLAKE3, written from the BLAKE3 specification: chunk state, the compression
 * function, the chaining-value stack that merges complete subtrees, and root output for any length. */
#include "core/blake3.h"

#include <string.h>

enum { CHUNK_START = 1, CHUNK_END = 2, PARENT = 4, ROOT = 8, KEYED_HASH = 16 };

static const uint32_t IV[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                               0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};
static const uint8_t PERM[16] = {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8};

static inline uint32_t rotr(uint32_t x, int n) { return x >> n | x << (32 - n); }

static inline void g(uint32_t *s, int a, int b, int c, int d, uint32_t x, uint32_t y) {
    s[a] = s[a] + s[b] + x;
    s[d] = rotr(s[d] ^ s[a], 16);
    s[c] = s[c] + s[d];
    s[b] = rotr(s[b] ^ s[c], 12);
    s[a] = s[a] + s[b] + y;
    s[d] = rotr(s[d] ^ s[a], 8);
    s[c] = s[c] + s[d];
    s[b] = rotr(s[b] ^ s[c], 7);
}

static inline uint32_t load32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* The compression function: 7 rounds over a 16-word state; out receives all 16 output words. */
static void compress(const uint32_t cv[8], const uint8_t block[64], uint8_t block_len, uint64_t counter,
                     uint8_t flags, uint32_t out[16]) {
    uint32_t m[16], t[16], s[16];
    for (int i = 0; i < 16; i++) m[i] = load32(block + 4 * i);
    memcpy(s, cv, 32);
    s[8] = IV[0], s[9] = IV[1], s[10] = IV[2], s[11] = IV[3];
    s[12] = (uint32_t)counter, s[13] = (uint32_t)(counter >> 32), s[14] = block_len, s[15] = flags;
    for (int r = 0; r < 7; r++) {
        g(s, 0, 4, 8, 12, m[0], m[1]);
        g(s, 1, 5, 9, 13, m[2], m[3]);
        g(s, 2, 6, 10, 14, m[4], m[5]);
        g(s, 3, 7, 11, 15, m[6], m[7]);
        g(s, 0, 5, 10, 15, m[8], m[9]);
        g(s, 1, 6, 11, 12, m[10], m[11]);
        g(s, 2, 7, 8, 13, m[12], m[13]);
        g(s, 3, 4, 9, 14, m[14], m[15]);
        if (r < 6) {
            for (int i = 0; i < 16; i++) t[i] = m[PERM[i]];
            memcpy(m, t, sizeof m);
        }
    }
    for (int i = 0; i < 8; i++) {
        out[i] = s[i] ^ s[i + 8];
        out[i + 8] = s[i + 8] ^ cv[i];
    }
}

static void compress_cv(uint32_t cv[8], const uint8_t block[64], uint8_t len, uint64_t counter, uint8_t flags) {
    uint32_t out[16];
    compress(cv, block, len, counter, flags, out);
    memcpy(cv, out, 32);
}

static void init_with(mk_blake3_t *h, const uint32_t key[8], uint8_t flags) {
    memset(h, 0, sizeof *h);
    memcpy(h->key, key, 32);
    memcpy(h->cv, key, 32);
    h->flags = flags;
}

void mk_blake3_init(mk_blake3_t *h) { init_with(h, IV, 0); }

void mk_blake3_init_keyed(mk_blake3_t *h, const uint8_t key[32]) {
    uint32_t k[8];
    for (int i = 0; i < 8; i++) k[i] = load32(key + 4 * i);
    init_with(h, k, KEYED_HASH);
}

static size_t chunk_len(const mk_blake3_t *h) { return (size_t)h->blocks_compressed * 64 + h->block_len; }

static uint8_t start_flag(const mk_blake3_t *h) { return h->blocks_compressed == 0 ? CHUNK_START : 0; }

/* Parent node chaining value of two children. */
static void parent_cv(const uint32_t l[8], const uint32_t r[8], const uint32_t key[8], uint8_t flags,
                      uint32_t out[8]) {
    uint8_t block[64];
    for (int i = 0; i < 8; i++) {
        store32(block + 4 * i, l[i]);
        store32(block + 32 + 4 * i, r[i]);
    }
    memcpy(out, key, 32);
    compress_cv(out, block, 64, 0, flags | PARENT);
}

/* Pushes a finished chunk's CV, merging completed subtrees (one merge per trailing zero bit). */
static void push_cv(mk_blake3_t *h, uint32_t cv[8], uint64_t total_chunks) {
    while ((total_chunks & 1) == 0) {
        h->cv_stack_len--;
        parent_cv(h->cv_stack[h->cv_stack_len], cv, h->key, h->flags, cv);
        total_chunks >>= 1;
    }
    memcpy(h->cv_stack[h->cv_stack_len++], cv, 32);
}

void mk_blake3_update(mk_blake3_t *h, const void *in, size_t n) {
    const uint8_t *p = in;
    while (n > 0) {
        if (chunk_len(h) == MK_BLAKE3_CHUNK_LEN) {  /* the chunk is complete and more input follows */
            uint32_t cv[8];
            memcpy(cv, h->cv, 32);
            compress_cv(cv, h->block, h->block_len, h->chunk_counter, h->flags | start_flag(h) | CHUNK_END);
            h->chunk_counter++;
            push_cv(h, cv, h->chunk_counter);
            memcpy(h->cv, h->key, 32);
            h->blocks_compressed = 0;
            h->block_len = 0;
            memset(h->block, 0, 64);
        }
        if (h->block_len == 64) {  /* a full block with more input after it: compress it */
            compress_cv(h->cv, h->block, 64, h->chunk_counter, h->flags | start_flag(h));
            h->blocks_compressed++;
            h->block_len = 0;
            memset(h->block, 0, 64);
        }
        size_t want = 64 - h->block_len;
        size_t take = want < n ? want : n;
        memcpy(h->block + h->block_len, p, take);
        h->block_len = (uint8_t)(h->block_len + take);
        p += take;
        n -= take;
    }
}

void mk_blake3_finalize_xof(const mk_blake3_t *h, uint8_t *out, size_t outlen) {
    /* Output node: the last chunk's final block, then parents up the stack. */
    uint32_t in_cv[8];
    uint8_t block[64];
    uint8_t block_len, flags;
    uint64_t counter = h->chunk_counter;
    memcpy(in_cv, h->cv, 32);
    memcpy(block, h->block, 64);
    block_len = h->block_len;
    flags = (uint8_t)(h->flags | start_flag(h) | CHUNK_END);
    for (size_t i = h->cv_stack_len; i > 0; i--) {
        uint32_t child[8];
        compress_cv(in_cv, block, block_len, counter, flags);
        memcpy(child, in_cv, 32);
        for (int k = 0; k < 8; k++) {
            store32(block + 4 * k, h->cv_stack[i - 1][k]);
            store32(block + 32 + 4 * k, child[k]);
        }
        memcpy(in_cv, h->key, 32);
        block_len = 64;
        counter = 0;
        flags = (uint8_t)(h->flags | PARENT);
    }
    uint64_t out_counter = 0;
    while (outlen > 0) {
        uint32_t words[16];
        uint8_t bytes[64];
        compress(in_cv, block, block_len, out_counter++, (uint8_t)(flags | ROOT), words);
        for (int k = 0; k < 16; k++) store32(bytes + 4 * k, words[k]);
        size_t take = outlen < 64 ? outlen : 64;
        memcpy(out, bytes, take);
        out += take;
        outlen -= take;
    }
}

void mk_blake3_finalize(const mk_blake3_t *h, uint8_t out[32]) { mk_blake3_finalize_xof(h, out, 32); }

void mk_blake3(const void *in, size_t n, uint8_t out[32]) {
    mk_blake3_t h;
    mk_blake3_init(&h);
    mk_blake3_update(&h, in, n);
    mk_blake3_finalize(&h, out);
}
