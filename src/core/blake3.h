/* core/blake3.h — the project's own portable BLAKE3: hash, keyed-hash and derive-key modes, one-shot
 * and incremental, with extendable output (XOF). No global state: every function is thread-safe as long
 * as each hasher is used by one thread at a time. */
#ifndef MK_CORE_BLAKE3_H
#define MK_CORE_BLAKE3_H

#include <stddef.h>
#include <stdint.h>

#define MK_BLAKE3_OUT_LEN 32
#define MK_BLAKE3_KEY_LEN 32
#define MK_BLAKE3_BLOCK_LEN 64
#define MK_BLAKE3_CHUNK_LEN 1024
/* 2^54 chunks of 1 KiB cover 2^64 bytes of input: the stack of complete subtrees never grows deeper. */
#define MK_BLAKE3_MAX_DEPTH 54

/* Incremental hasher. Plain value: may be copied (a copy continues independently); needs no free. */
typedef struct mk_blake3 {
    uint32_t key[8];                            /* IV, the key, or the derived context key */
    uint32_t chunk_cv[8];                       /* chaining value inside the current chunk */
    uint64_t chunk_counter;                     /* index of the current chunk */
    uint8_t block[MK_BLAKE3_BLOCK_LEN];         /* buffered bytes of the current block */
    uint8_t block_len;                          /* bytes in block (0..64) */
    uint8_t blocks_compressed;                  /* blocks of the current chunk already compressed */
    uint8_t mode_flags;                         /* 0, KEYED_HASH or DERIVE_KEY_MATERIAL */
    uint8_t stack_len;                          /* entries in cv_stack */
    uint32_t cv_stack[MK_BLAKE3_MAX_DEPTH][8];  /* chaining values of complete subtrees, oldest first */
} mk_blake3_t;

/* Starts a hasher in hash mode. h must not be NULL. */
void mk_blake3_init(mk_blake3_t *h);
/* Starts a hasher in keyed-hash mode with a 32-byte key (copied). */
void mk_blake3_init_keyed(mk_blake3_t *h, const uint8_t key[MK_BLAKE3_KEY_LEN]);
/* Starts a hasher in derive-key mode; context is a NUL-terminated string, hashed immediately (not kept). */
void mk_blake3_init_derive_key(mk_blake3_t *h, const char *context);
/* Absorbs n bytes (in may be NULL when n == 0). Any split of the input gives the same result. */
void mk_blake3_update(mk_blake3_t *h, const void *in, size_t n);
/* Writes outlen bytes of output (XOF; the first 32 are the default hash). Does not modify h: it may be
 * updated further or finalized again. out may be NULL when outlen == 0. */
void mk_blake3_finalize_xof(const mk_blake3_t *h, uint8_t *out, size_t outlen);
/* The default 32-byte output; same contract as mk_blake3_finalize_xof. */
void mk_blake3_finalize(const mk_blake3_t *h, uint8_t out[MK_BLAKE3_OUT_LEN]);
/* One-shot hash mode: out = BLAKE3(in[0..n)). in may be NULL when n == 0. */
void mk_blake3(const void *in, size_t n, uint8_t out[MK_BLAKE3_OUT_LEN]);

#endif
