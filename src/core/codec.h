/* core/codec.h — the postcard-style wire codec (spec 10 §2.1): a growing encoder with a size limit and a
 * non-allocating, canonical-only decoder with sticky errors, a depth guard, count checks and map key order.
 *
 * Threads: an mk_enc_t / mk_dec_t belongs to one thread at a time; the functions keep no global state.
 * Errors are sticky: after the first failure every call is a no-op (getters return zero and do not
 * advance) and the first cause is kept. Decoding never allocates; views point into the input. */
#ifndef MK_CORE_CODEC_H
#define MK_CORE_CODEC_H

#include "mosaik/core.h"
#include "mosaik/id.h"

#define MK_DEC_MAX_DEPTH 32u  /* mk_dec_enter fails on the 33rd level */
#define MK_DEC_WHAT_MAX 64u

/* ---- encoder --------------------------------------------------------------------------------------- */

typedef struct mk_enc {
    mk_buf_t out;   /* bytes so far (owned until mk_enc_finish) */
    size_t limit;   /* growing past it sets MK_E2BIG; mk_enc_init turns 0 into SIZE_MAX */
    int err;        /* first error: MK_E2BIG, MK_ENOMEM or MK_EINVAL (bad string), else MK_OK */
} mk_enc_t;

/* Starts an empty encoder; limit 0 = no limit. Allocates nothing yet. */
void mk_enc_init(mk_enc_t *e, size_t limit);
/* One raw byte. */
void mk_enc_u8(mk_enc_t *e, uint8_t v);
/* One raw two's complement byte (no zigzag). */
void mk_enc_i8(mk_enc_t *e, int8_t v);
/* 00 or 01. */
void mk_enc_bool(mk_enc_t *e, bool v);
/* Unsigned LEB128 (u16/u32/u64, sizes, counts, enum tags). */
void mk_enc_uvar(mk_enc_t *e, uint64_t v);
/* Zigzag then LEB128 (i16/i32/i64: the same bytes whatever the width). */
void mk_enc_svar(mk_enc_t *e, int64_t v);
/* IEEE-754 little-endian, bit-exact (NaN payloads and -0.0 kept). */
void mk_enc_f32(mk_enc_t *e, float v);
void mk_enc_f64(mk_enc_t *e, double v);
/* Varint length ‖ n raw bytes (p may be NULL when n == 0). */
void mk_enc_bytes(mk_enc_t *e, const void *p, size_t n);
/* Like mk_enc_bytes for a string; invalid UTF-8 sets MK_EINVAL (our decoders would refuse it). */
void mk_enc_strn(mk_enc_t *e, const char *s, size_t n);
/* mk_enc_strn of a NUL-terminated string (NULL = ""). */
void mk_enc_str(mk_enc_t *e, const char *s);
/* n raw bytes, no prefix: fixed arrays. */
void mk_enc_raw(mk_enc_t *e, const void *p, size_t n);
/* The id's 32 raw bytes. */
void mk_enc_id(mk_enc_t *e, const mk_id_t *id);
/* Option marker: 00 (None) or 01 (Some; the value follows). */
void mk_enc_option(mk_enc_t *e, bool present);
/* Sequence/map element count (varint). */
void mk_enc_count(mk_enc_t *e, size_t n);
/* Enum variant tag (varint u32). */
void mk_enc_tag(mk_enc_t *e, uint32_t tag);
static inline void mk_enc_u16(mk_enc_t *e, uint16_t v) { mk_enc_uvar(e, v); }
static inline void mk_enc_u32(mk_enc_t *e, uint32_t v) { mk_enc_uvar(e, v); }
static inline void mk_enc_u64(mk_enc_t *e, uint64_t v) { mk_enc_uvar(e, v); }
static inline void mk_enc_i16(mk_enc_t *e, int16_t v) { mk_enc_svar(e, v); }
static inline void mk_enc_i32(mk_enc_t *e, int32_t v) { mk_enc_svar(e, v); }
static inline void mk_enc_i64(mk_enc_t *e, int64_t v) { mk_enc_svar(e, v); }
/* Bytes written so far; after an error, what was written before it (check e->err). */
static inline size_t mk_enc_len(const mk_enc_t *e) { return e->out.len; }
/* Ends encoding. MK_OK: *out receives the bytes (caller frees with mk_buf_free). Error: returns the first
 * sticky error and *out is MK_BUF_INIT. out may be NULL to discard. e is empty afterwards either way. */
int mk_enc_finish(mk_enc_t *e, mk_buf_t *out);

/* Compares two encoded map keys: negative / 0 / positive like memcmp, a proper prefix sorts first. Encoders
 * of maps sort their entries with it (keys strictly ascending by encoded bytes). Pure. */
int mk_key_cmp(const void *a, size_t a_len, const void *b, size_t b_len);

/* ---- decoder --------------------------------------------------------------------------------------- */

typedef struct mk_dec {
    const uint8_t *p, *end, *start;
    int err;                      /* MK_OK, MK_EPROTO (bad input) or MK_EINVAL (caller bug, e.g. bits 0) */
    char what[MK_DEC_WHAT_MAX];   /* first cause with its offset: "varint overflow at 17" */
    uint8_t depth;
} mk_dec_t;

/* Starts decoding n bytes at p (p may be NULL when n == 0). The input must outlive every view. */
void mk_dec_init(mk_dec_t *d, const void *p, size_t n);
/* One raw byte. */
uint8_t mk_dec_u8(mk_dec_t *d);
int8_t mk_dec_i8(mk_dec_t *d);
/* 00 → false, 01 → true, anything else: "bad bool". */
bool mk_dec_bool(mk_dec_t *d);
/* Canonical LEB128 of a `bits`-wide unsigned (1…64; 16/32/64 in messages): at most ceil(bits/7) bytes, no
 * bits beyond the type, no final 00 after a continuation byte. */
uint64_t mk_dec_uvar(mk_dec_t *d, unsigned bits);
/* Zigzag of a `bits`-wide signed (16/32/64). */
int64_t mk_dec_svar(mk_dec_t *d, unsigned bits);
/* IEEE-754 little-endian, bit-exact. */
float mk_dec_f32(mk_dec_t *d);
double mk_dec_f64(mk_dec_t *d);
/* Varint length ‖ bytes: a view into the input (length checked against the bytes left first). */
mk_bytes_t mk_dec_bytes(mk_dec_t *d);
/* Like mk_dec_bytes, and strict UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF). Not NUL-terminated. */
mk_bytes_t mk_dec_str(mk_dec_t *d);
/* n raw bytes (fixed array) copied to out; out is zeroed on error. */
void mk_dec_raw(mk_dec_t *d, void *out, size_t n);
/* n raw bytes as a view into the input ({NULL, 0} on error). */
mk_bytes_t mk_dec_raw_view(mk_dec_t *d, size_t n);
/* 32 raw bytes; *out is zeroed on error. */
void mk_dec_id(mk_dec_t *d, mk_id_t *out);
/* Option marker: 00 → false, 01 → true (the value follows), anything else: "bad option byte". */
bool mk_dec_option(mk_dec_t *d);
/* Enum tag (varint u32); a tag ≥ ntags fails with "enum tag T out of range". */
uint32_t mk_dec_tag(mk_dec_t *d, uint32_t ntags);
/* Sequence/map count; fails unless count × min_elem_bytes ≤ bytes left, so callers may allocate count
 * elements afterwards. min_elem_bytes 0 (zero-sized elements) is a caller bug: MK_EINVAL. */
size_t mk_dec_count(mk_dec_t *d, size_t min_elem_bytes);
/* Depth guard around nested values: false (and a sticky error) past MK_DEC_MAX_DEPTH levels. Call
 * mk_dec_leave once for every mk_dec_enter that returned true. */
bool mk_dec_enter(mk_dec_t *d);
void mk_dec_leave(mk_dec_t *d);
/* Records a semantic error found by a message decoder ("unknown version 7") with the current offset;
 * keeps an earlier error. Returns d->err. */
int mk_dec_fail(mk_dec_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends a top-level message: MK_OK, the sticky error, or MK_EPROTO "N trailing bytes at OFF". */
int mk_dec_finish(mk_dec_t *d);
/* mk_dec_finish, and on failure fills e with "<msg_name>: <what>". */
int mk_dec_finish_err(mk_dec_t *d, mk_error_t *e, const char *msg_name);
static inline uint16_t mk_dec_u16(mk_dec_t *d) { return (uint16_t)mk_dec_uvar(d, 16); }
static inline uint32_t mk_dec_u32(mk_dec_t *d) { return (uint32_t)mk_dec_uvar(d, 32); }
static inline uint64_t mk_dec_u64(mk_dec_t *d) { return mk_dec_uvar(d, 64); }
static inline int16_t mk_dec_i16(mk_dec_t *d) { return (int16_t)mk_dec_svar(d, 16); }
static inline int32_t mk_dec_i32(mk_dec_t *d) { return (int32_t)mk_dec_svar(d, 32); }
static inline int64_t mk_dec_i64(mk_dec_t *d) { return mk_dec_svar(d, 64); }
/* Bytes consumed / left. */
static inline size_t mk_dec_offset(const mk_dec_t *d) { return (size_t)(d->p - d->start); }
static inline size_t mk_dec_remaining(const mk_dec_t *d) { return (size_t)(d->end - d->p); }
static inline bool mk_dec_ok(const mk_dec_t *d) { return d->err == MK_OK; }

/* Map key order. Usage, per map:
 *     mk_dec_keys_t keys = MK_DEC_KEYS_INIT;
 *     size_t n = mk_dec_count(d, MIN_KEY_BYTES + MIN_VALUE_BYTES);
 *     for (size_t i = 0; i < n && mk_dec_ok(d); i++) {
 *         const uint8_t *key_start = d->p;
 *         ...decode the key...
 *         mk_dec_key_next(d, &keys, key_start);   // "unsorted map key" / "duplicate map key"
 *         ...decode the value...
 *     }
 * The key's encoded bytes are [key_start, d->p); they must be strictly greater (mk_key_cmp) than the
 * previous key's. The tracker only holds views into the input. */
typedef struct mk_dec_keys {
    const uint8_t *prev;
    size_t prev_len;
    bool have_prev;
} mk_dec_keys_t;
#define MK_DEC_KEYS_INIT {NULL, 0, false}
/* Checks the key just decoded (from key_start to d->p) against the previous one; false on any error. */
bool mk_dec_key_next(mk_dec_t *d, mk_dec_keys_t *keys, const uint8_t *key_start);

/* ---- UTF-8 ----------------------------------------------------------------------------------------- */

/* Strict UTF-8 check (no overlongs, no surrogates, ≤ U+10FFFF; U+0000 allowed). On false, *bad_at (if
 * non-NULL) is the offset of the first byte of the invalid sequence. Pure. */
bool mk_utf8_valid(const void *p, size_t n, size_t *bad_at);

#endif
