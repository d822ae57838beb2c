/* core/blake3.c — portable BLAKE3, written from the BLAKE3 specification: the compression function,
 * chunk chaining, the stack of complete-subtree chaining values (merged as soon as a subtree is complete
 * and more input is known to follow), and root output of any length. Whole blocks and whole chunks are
 * compressed straight from the caller's buffer; only a chunk's trailing block is buffered, because it
 * may turn out to be the root. */
#include "core/blake3.h"

#include <string.h>

enum {
    CHUNK_START = 1 << 0,
    CHUNK_END = 1 << 1,
    PARENT = 1 << 2,
    ROOT = 1 << 3,
    KEYED_HASH = 1 << 4,
    DERIVE_KEY_CONTEXT = 1 << 5,
    DERIVE_KEY_MATERIAL = 1 << 6,
};

static const uint32_t IV[8] = {0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
                               0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u};

/* Message word order of each of the 7 rounds: round r uses the permutation
 * {2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8} applied r times to the identity. */
static const uint8_t SCHEDULE[7][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t rotr32(uint32_t x, unsigned n) { return (x >> n) | (x << (32u - n)); }

static inline uint32_t load32_le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store32_le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

#define G(a, b, c, d, x, y)                  \
    do {                                     \
        s[a] = s[a] + s[b] + (x);            \
        s[d] = rotr32(s[d] ^ s[a], 16);      \
        s[c] = s[c] + s[d];                  \
        s[b] = rotr32(s[b] ^ s[c], 12);      \
        s[a] = s[a] + s[b] + (y);            \
        s[d] = rotr32(s[d] ^ s[a], 8);       \
        s[c] = s[c] + s[d];                  \
        s[b] = rotr32(s[b] ^ s[c], 7);       \
    } while (0)

/* The 7-round compression of one 64-byte block; leaves the full 16-word state in s. */
static void compress_state(const uint32_t cv[8], const uint8_t block[64], uint32_t block_len,
                           uint64_t counter, uint32_t flags, uint32_t s[16]) {
    uint32_t m[16];
    for (int i = 0; i < 16; i++) m[i] = load32_le(block + 4 * i);
    for (int i = 0; i < 8; i++) s[i] = cv[i];
    s[8] = IV[0], s[9] = IV[1], s[10] = IV[2], s[11] = IV[3];
    s[12] = (uint32_t)counter, s[13] = (uint32_t)(counter >> 32), s[14] = block_len, s[15] = flags;
    for (int r = 0; r < 7; r++) {
        const uint8_t *w = SCHEDULE[r];
        G(0, 4, 8, 12, m[w[0]], m[w[1]]);
        G(1, 5, 9, 13, m[w[2]], m[w[3]]);
        G(2, 6, 10, 14, m[w[4]], m[w[5]]);
        G(3, 7, 11, 15, m[w[6]], m[w[7]]);
        G(0, 5, 10, 15, m[w[8]], m[w[9]]);
        G(1, 6, 11, 12, m[w[10]], m[w[11]]);
        G(2, 7, 8, 13, m[w[12]], m[w[13]]);
        G(3, 4, 9, 14, m[w[14]], m[w[15]]);
    }
}

/* Compression truncated to a chaining value, updating cv in place. */
static void compress_in_place(uint32_t cv[8], const uint8_t block[64], uint32_t block_len, uint64_t counter,
                              uint32_t flags) {
    uint32_t s[16];
    compress_state(cv, block, block_len, counter, flags, s);
    for (int i = 0; i < 8; i++) cv[i] = s[i] ^ s[i + 8];
}

/* Full 64-byte output block (used for root output). */
static void compress_xof(const uint32_t cv[8], const uint8_t block[64], uint32_t block_len, uint64_t counter,
                         uint32_t flags, uint8_t out[64]) {
    uint32_t s[16];
    compress_state(cv, block, block_len, counter, flags, s);
    for (int i = 0; i < 8; i++) {
        store32_le(out + 4 * i, s[i] ^ s[i + 8]);
        store32_le(out + 32 + 4 * i, s[i + 8] ^ cv[i]);
    }
}

/* The 64-byte block of a parent node: left child's CV, then the right child's. */
static void parent_block(const uint32_t left[8], const uint32_t right[8], uint8_t block[64]) {
    for (int i = 0; i < 8; i++) {
        store32_le(block + 4 * i, left[i]);
        store32_le(block + 32 + 4 * i, right[i]);
    }
}

static void init_with_key(mk_blake3_t *h, const uint32_t key[8], uint8_t mode_flags) {
    memset(h, 0, sizeof *h);
    memcpy(h->key, key, sizeof h->key);
    memcpy(h->chunk_cv, key, sizeof h->chunk_cv);
    h->mode_flags = mode_flags;
}

void mk_blake3_init(mk_blake3_t *h) { init_with_key(h, IV, 0); }

void mk_blake3_init_keyed(mk_blake3_t *h, const uint8_t key[MK_BLAKE3_KEY_LEN]) {
    uint32_t words[8];
    for (int i = 0; i < 8; i++) words[i] = load32_le(key + 4 * i);
    init_with_key(h, words, KEYED_HASH);
}

void mk_blake3_init_derive_key(mk_blake3_t *h, const char *context) {
    uint8_t context_key[32];
    uint32_t words[8];
    init_with_key(h, IV, DERIVE_KEY_CONTEXT);
    mk_blake3_update(h, context, strlen(context));
    mk_blake3_finalize(h, context_key);
    for (int i = 0; i < 8; i++) words[i] = load32_le(context_key + 4 * i);
    init_with_key(h, words, DERIVE_KEY_MATERIAL);
}

static uint32_t chunk_start_flag(const mk_blake3_t *h) { return h->blocks_compressed == 0 ? CHUNK_START : 0; }

/* Adds the CV of a finished, non-final chunk. total_chunks counts the chunks finished so far, this one
 * included: each trailing zero bit of it marks a subtree that this chunk completes, merged now. */
static void push_chunk_cv(mk_blake3_t *h, const uint32_t chunk_cv[8], uint64_t total_chunks) {
    uint32_t cv[8];
    uint8_t block[64];
    memcpy(cv, chunk_cv, sizeof cv);
    while ((total_chunks & 1) == 0) {
        h->stack_len--;
        parent_block(h->cv_stack[h->stack_len], cv, block);
        memcpy(cv, h->key, sizeof cv);
        compress_in_place(cv, block, 64, 0, (uint32_t)h->mode_flags | PARENT);
        total_chunks >>= 1;
    }
    memcpy(h->cv_stack[h->stack_len], cv, sizeof cv);
    h->stack_len++;
}

/* Closes the current chunk (its final block is buffered, and more input follows) and starts the next. */
static void finish_buffered_chunk(mk_blake3_t *h) {
    compress_in_place(h->chunk_cv, h->block, h->block_len, h->chunk_counter,
                      (uint32_t)h->mode_flags | chunk_start_flag(h) | CHUNK_END);
    h->chunk_counter++;
    push_chunk_cv(h, h->chunk_cv, h->chunk_counter);
    memcpy(h->chunk_cv, h->key, sizeof h->chunk_cv);
    h->blocks_compressed = 0;
    h->block_len = 0;
}

/* Hashes one whole chunk straight from the input; the caller knows more input follows it. */
static void hash_whole_chunk(mk_blake3_t *h, const uint8_t *p) {
    uint32_t cv[8];
    uint32_t flags = h->mode_flags;
    memcpy(cv, h->key, sizeof cv);
    for (int i = 0; i < 16; i++) {
        uint32_t block_flags = flags | (i == 0 ? CHUNK_START : 0) | (i == 15 ? CHUNK_END : 0);
        compress_in_place(cv, p + 64 * i, 64, h->chunk_counter, block_flags);
    }
    h->chunk_counter++;
    push_chunk_cv(h, cv, h->chunk_counter);
}

void mk_blake3_update(mk_blake3_t *h, const void *in, size_t n) {
    const uint8_t *p = in;
    while (n > 0) {
        size_t chunk_used = (size_t)h->blocks_compressed * 64 + h->block_len;
        if (chunk_used == MK_BLAKE3_CHUNK_LEN) {
            finish_buffered_chunk(h);
            chunk_used = 0;
        }
        if (chunk_used == 0 && n > MK_BLAKE3_CHUNK_LEN) {
            hash_whole_chunk(h, p);
            p += MK_BLAKE3_CHUNK_LEN;
            n -= MK_BLAKE3_CHUNK_LEN;
            continue;
        }
        if (h->block_len == 64) {  /* a full block, not the chunk's last, with input after it */
            compress_in_place(h->chunk_cv, h->block, 64, h->chunk_counter,
                              (uint32_t)h->mode_flags | chunk_start_flag(h));
            h->blocks_compressed++;
            h->block_len = 0;
        }
        /* Whole blocks straight from the input while another byte of this chunk follows each. */
        while (h->block_len == 0 && n > 64 && h->blocks_compressed < 15) {
            compress_in_place(h->chunk_cv, p, 64, h->chunk_counter, (uint32_t)h->mode_flags | chunk_start_flag(h));
            h->blocks_compressed++;
            p += 64;
            n -= 64;
        }
        size_t room = 64u - h->block_len;
        size_t take = n < room ? n : room;
        memcpy(h->block + h->block_len, p, take);
        h->block_len = (uint8_t)(h->block_len + take);
        p += take;
        n -= take;
    }
}

void mk_blake3_finalize_xof(const mk_blake3_t *h, uint8_t *out, size_t outlen) {
    /* The output node starts as the current chunk's last block; each stacked subtree, youngest first,
     * then becomes the left sibling of what we have, and the parent becomes the output node. */
    uint32_t cv[8];
    uint8_t block[64] = {0};
    uint32_t block_len = h->block_len;
    uint64_t counter = h->chunk_counter;
    uint32_t flags = (uint32_t)h->mode_flags | chunk_start_flag(h) | CHUNK_END;
    memcpy(cv, h->chunk_cv, sizeof cv);
    memcpy(block, h->block, h->block_len);
    for (size_t i = h->stack_len; i > 0; i--) {
        compress_in_place(cv, block, block_len, counter, flags);
        parent_block(h->cv_stack[i - 1], cv, block);
        memcpy(cv, h->key, sizeof cv);
        block_len = 64;
        counter = 0;
        flags = (uint32_t)h->mode_flags | PARENT;
    }
    uint8_t out_block[64];
    for (uint64_t out_counter = 0; outlen > 0; out_counter++) {
        compress_xof(cv, block, block_len, out_counter, flags | ROOT, out_block);
        size_t take = outlen < 64 ? outlen : 64;
        memcpy(out, out_block, take);
        out += take;
        outlen -= take;
    }
}

void mk_blake3_finalize(const mk_blake3_t *h, uint8_t out[MK_BLAKE3_OUT_LEN]) {
    mk_blake3_finalize_xof(h, out, MK_BLAKE3_OUT_LEN);
}

void mk_blake3(const void *in, size_t n, uint8_t out[MK_BLAKE3_OUT_LEN]) {
    mk_blake3_t h;
    mk_blake3_init(&h);
    mk_blake3_update(&h, in, n);
    mk_blake3_finalize(&h, out);
}
