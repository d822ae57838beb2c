/* core/blake3.h — our portable BLAKE3 (hash mode, keyed mode, extendable output). */
#ifndef MK_CORE_BLAKE3_H
#define MK_CORE_BLAKE3_H

#include <stddef.h>
#include <stdint.h>

#define MK_BLAKE3_OUT_LEN 32
#define MK_BLAKE3_BLOCK_LEN 64
#define MK_BLAKE3_CHUNK_LEN 1024

typedef struct mk_blake3 {
    uint32_t key[8];
    uint32_t cv[8];          /* chaining value of the current chunk */
    uint8_t block[64];
    uint8_t block_len;
    uint8_t blocks_compressed;
    uint8_t flags;
    uint64_t chunk_counter;
    uint32_t cv_stack[54][8];
    uint8_t cv_stack_len;
} mk_blake3_t;

/* Hash mode. */
void mk_blake3_init(mk_blake3_t *h);
/* Keyed mode with a 32-byte key. */
void mk_blake3_init_keyed(mk_blake3_t *h, const uint8_t key[32]);
void mk_blake3_update(mk_blake3_t *h, const void *in, size_t n);
/* Writes outlen bytes of output (XOF); the hasher may be finalized again or updated further. */
void mk_blake3_finalize_xof(const mk_blake3_t *h, uint8_t *out, size_t outlen);
void mk_blake3_finalize(const mk_blake3_t *h, uint8_t out[32]);
/* One-shot hash mode. */
void mk_blake3(const void *in, size_t n, uint8_t out[32]);

#endif
