/* unit/core/test_codec.c — the wire codec of spec 10 §2.1: every vector both ways, 10^5 seeded random
 * round trips per type, each rejection with its cause and offset, sticky errors, depth and count guards,
 * map key order, the encoder limit, strict UTF-8, and that decoding never allocates (counted by a malloc
 * hook: the sanitizer allocator's hooks under ASan/TSan, else glibc malloc interposed in this program). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/codec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- allocation counting ---------------------------------------------------------------------- */

#include "support/alloc_count.h"

/* ---- helpers ---------------------------------------------------------------------------------- */

static size_t parse_hex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = 0;
    for (const char *s = hex; *s;) {
        if (*s == ' ') {
            s++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(s, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* Finishes e and fails unless it produced exactly the bytes of hex. */
static void assert_encoded(mk_enc_t *e, const char *hex) {
    uint8_t want[64];
    size_t n = parse_hex(hex, want, sizeof want);
    mk_buf_t out;
    assert_int_equal(mk_enc_finish(e, &out), MK_OK);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.ptr, want, n);
    mk_buf_free(&out);
}

typedef struct hexdec { uint8_t bytes[64]; mk_dec_t d; } hexdec_t;

static mk_dec_t *hexdec(hexdec_t *h, const char *hex) {
    size_t n = parse_hex(hex, h->bytes, sizeof h->bytes);
    mk_dec_init(&h->d, h->bytes, n);
    return &h->d;
}

static void assert_rejected(const mk_dec_t *d, const char *cause) {
    assert_int_equal(d->err, MK_EPROTO);
    if (!strstr(d->what, cause)) fail_msg("want cause \"%s\", got \"%s\"", cause, d->what);
}

/* ---- spec vectors, both ways ------------------------------------------------------------------- */

static const struct { uint64_t v; unsigned bits; const char *hex; } UVAR_VECTORS[] = {
    {0, 32, "00"}, {127, 32, "7f"}, {128, 32, "80 01"}, {300, 32, "ac 02"}, {16384, 32, "80 80 01"},
    {UINT32_MAX, 32, "ff ff ff ff 0f"}, {UINT64_MAX, 64, "ff ff ff ff ff ff ff ff ff 01"},
    {UINT16_MAX, 16, "ff ff 03"},
};

static const struct { int64_t v; unsigned bits; const char *hex; } SVAR_VECTORS[] = {
    {-1, 32, "01"}, {1, 32, "02"}, {-64, 32, "7f"}, {64, 32, "80 01"}, {INT32_MIN, 32, "ff ff ff ff 0f"},
    {INT64_MIN, 64, "ff ff ff ff ff ff ff ff ff 01"}, {INT64_MAX, 64, "fe ff ff ff ff ff ff ff ff 01"},
};

static void uvar_vectors_encode_and_decode_exactly(void **state) {
    for (size_t i = 0; i < sizeof UVAR_VECTORS / sizeof UVAR_VECTORS[0]; i++) {
        mk_enc_t e;
        mk_enc_init(&e, 0);
        mk_enc_uvar(&e, UVAR_VECTORS[i].v);
        assert_encoded(&e, UVAR_VECTORS[i].hex);
        hexdec_t h;
        mk_dec_t *d = hexdec(&h, UVAR_VECTORS[i].hex);
        assert_true(mk_dec_uvar(d, UVAR_VECTORS[i].bits) == UVAR_VECTORS[i].v);
        assert_int_equal(mk_dec_finish(d), MK_OK);
    }
}

static void svar_vectors_encode_and_decode_exactly(void **state) {
    for (size_t i = 0; i < sizeof SVAR_VECTORS / sizeof SVAR_VECTORS[0]; i++) {
        mk_enc_t e;
        mk_enc_init(&e, 0);
        mk_enc_svar(&e, SVAR_VECTORS[i].v);
        assert_encoded(&e, SVAR_VECTORS[i].hex);
        hexdec_t h;
        mk_dec_t *d = hexdec(&h, SVAR_VECTORS[i].hex);
        assert_true(mk_dec_svar(d, SVAR_VECTORS[i].bits) == SVAR_VECTORS[i].v);
        assert_int_equal(mk_dec_finish(d), MK_OK);
    }
}

static void float_bytes_and_option_vectors_round_trip(void **state) {
    mk_enc_t e;
    hexdec_t h;
    mk_enc_init(&e, 0);
    mk_enc_f32(&e, 1.0f);
    assert_encoded(&e, "00 00 80 3f");
    assert_true(mk_dec_f32(hexdec(&h, "00 00 80 3f")) == 1.0f);
    assert_int_equal(mk_dec_finish(&h.d), MK_OK);

    mk_enc_init(&e, 0);
    mk_enc_f64(&e, -2.5);
    assert_encoded(&e, "00 00 00 00 00 00 04 c0");
    assert_true(mk_dec_f64(hexdec(&h, "00 00 00 00 00 00 04 c0")) == -2.5);
    assert_int_equal(mk_dec_finish(&h.d), MK_OK);

    mk_enc_init(&e, 0);
    mk_enc_bytes(&e, "abc", 3);
    assert_encoded(&e, "03 61 62 63");
    mk_enc_init(&e, 0);
    mk_enc_str(&e, "abc");
    assert_encoded(&e, "03 61 62 63");
    mk_bytes_t s = mk_dec_str(hexdec(&h, "03 61 62 63"));
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.ptr, "abc", 3);
    assert_ptr_equal(s.ptr, h.bytes + 1);  /* a view, not a copy */
    assert_int_equal(mk_dec_finish(&h.d), MK_OK);

    mk_enc_init(&e, 0);
    mk_enc_option(&e, true);
    mk_enc_u8(&e, 5);
    assert_encoded(&e, "01 05");
    mk_dec_t *d = hexdec(&h, "01 05");
    assert_true(mk_dec_option(d));
    assert_int_equal(mk_dec_u8(d), 5);
    assert_int_equal(mk_dec_finish(d), MK_OK);

    mk_enc_init(&e, 0);
    mk_enc_option(&e, false);
    assert_encoded(&e, "00");
    assert_false(mk_dec_option(hexdec(&h, "00")));
    assert_int_equal(mk_dec_finish(&h.d), MK_OK);
}

static void id_and_raw_have_no_length_prefix(void **state) {
    mk_id_t id;
    for (int i = 0; i < 32; i++) id.b[i] = (uint8_t)i;
    mk_enc_t e;
    mk_enc_init(&e, 0);
    mk_enc_id(&e, &id);
    mk_enc_raw(&e, "xy", 2);
    mk_buf_t out;
    assert_int_equal(mk_enc_finish(&e, &out), MK_OK);
    assert_int_equal(out.len, 34);
    assert_memory_equal(out.ptr, id.b, 32);
    mk_dec_t d;
    mk_dec_init(&d, out.ptr, out.len);
    mk_id_t back;
    char xy[2];
    mk_dec_id(&d, &back);
    mk_dec_raw(&d, xy, 2);
    assert_memory_equal(back.b, id.b, 32);
    assert_memory_equal(xy, "xy", 2);
    assert_int_equal(mk_dec_finish(&d), MK_OK);
    mk_buf_free(&out);
}

/* ---- rejections ------------------------------------------------------------------------------- */

enum as { AS_U16, AS_U32, AS_U64, AS_BOOL, AS_OPTION, AS_BYTES, AS_STR, AS_TAG3, AS_U8_THEN_FINISH };

static void decode_as(mk_dec_t *d, enum as how) {
    switch (how) {
    case AS_U16: mk_dec_uvar(d, 16); break;
    case AS_U32: mk_dec_uvar(d, 32); break;
    case AS_U64: mk_dec_uvar(d, 64); break;
    case AS_BOOL: mk_dec_bool(d); break;
    case AS_OPTION: mk_dec_option(d); break;
    case AS_BYTES: mk_dec_bytes(d); break;
    case AS_STR: mk_dec_str(d); break;
    case AS_TAG3: mk_dec_tag(d, 3); break;
    case AS_U8_THEN_FINISH: mk_dec_u8(d); break;
    }
    mk_dec_finish(d);
}

static const struct { const char *hex; enum as how; const char *what; } REJECTIONS[] = {
    /* the spec's list */
    {"80 00", AS_U32, "non-canonical varint at 0"},
    {"ff ff ff ff 1f", AS_U32, "varint overflow for u32 at 0"},
    {"02", AS_BOOL, "bad bool 0x02 at 0"},
    {"03 61 62", AS_BYTES, "truncated: length 3 > 2 left at 0"},
    {"02 c0 80", AS_STR, "invalid UTF-8 at 1"},
    /* varints */
    {"ff 80 00", AS_U32, "non-canonical varint at 0"},
    {"80", AS_U32, "truncated varint at 0"},
    {"ff ff 04", AS_U16, "varint overflow for u16 at 0"},
    {"ff ff 83", AS_U16, "varint too long for u16 at 0"},
    {"ff ff ff ff ff ff ff ff ff 02", AS_U64, "varint overflow for u64 at 0"},
    {"ff ff ff ff ff ff ff ff ff 81 00", AS_U64, "varint too long for u64 at 0"},
    {"ff ff ff ff 8f 00", AS_U32, "varint too long for u32 at 0"},
    /* other bytes */
    {"02", AS_OPTION, "bad option byte 0x02 at 0"},
    {"ff", AS_BOOL, "bad bool 0xff at 0"},
    {"03", AS_TAG3, "enum tag 3 out of range (< 3) at 0"},
    {"", AS_BOOL, "truncated: need 1, have 0 at 0"},
    {"05 01", AS_U8_THEN_FINISH, "1 trailing bytes at 1"},
    /* strings: overlongs, surrogates, range, broken sequences */
    {"03 e0 80 80", AS_STR, "invalid UTF-8 at 1"},
    {"04 f0 80 80 80", AS_STR, "invalid UTF-8 at 1"},
    {"04 61 ed a0 80", AS_STR, "invalid UTF-8 at 2"},
    {"04 f4 90 80 80", AS_STR, "invalid UTF-8 at 1"},
    {"01 80", AS_STR, "invalid UTF-8 at 1"},
    {"02 e2 82", AS_STR, "invalid UTF-8 at 1"},
    {"01 f5", AS_STR, "invalid UTF-8 at 1"},
    {"02 c1 bf", AS_STR, "invalid UTF-8 at 1"},
};

static void each_listed_rejection_gives_eproto_with_cause_and_offset(void **state) {
    for (size_t i = 0; i < sizeof REJECTIONS / sizeof REJECTIONS[0]; i++) {
        hexdec_t h;
        mk_dec_t *d = hexdec(&h, REJECTIONS[i].hex);
        decode_as(d, REJECTIONS[i].how);
        if (d->err != MK_EPROTO || strcmp(d->what, REJECTIONS[i].what) != 0)
            fail_msg("input %s: want \"%s\", got %d \"%s\"", REJECTIONS[i].hex, REJECTIONS[i].what, d->err, d->what);
    }
}

static void varint_width_limits_accept_the_maximum_of_each_type(void **state) {
    hexdec_t h;
    assert_true(mk_dec_uvar(hexdec(&h, "80 80 04"), 32) == 65536);  /* fine as u32 … */
    mk_dec_uvar(hexdec(&h, "80 80 04"), 16);                       /* … too big for u16 */
    assert_rejected(&h.d, "varint overflow for u16");
    assert_true(mk_dec_svar(hexdec(&h, "ff ff 03"), 16) == INT16_MIN);
    assert_true(mk_dec_svar(hexdec(&h, "fe ff 03"), 16) == INT16_MAX);
    mk_dec_uvar(hexdec(&h, "00"), 0);
    assert_int_equal(h.d.err, MK_EINVAL);  /* a caller bug, not bad input */
}

static void errors_are_sticky_and_keep_the_first_cause(void **state) {
    hexdec_t h;
    mk_dec_t *d = hexdec(&h, "05 02 80 00 07");
    assert_int_equal(mk_dec_u8(d), 5);
    assert_false(mk_dec_bool(d));
    assert_rejected(d, "bad bool 0x02 at 1");
    assert_int_equal(mk_dec_offset(d), 1);
    assert_true(mk_dec_uvar(d, 32) == 0);
    assert_int_equal(mk_dec_u8(d), 0);
    assert_null(mk_dec_bytes(d).ptr);
    assert_int_equal(mk_dec_offset(d), 1);  /* nothing advanced */
    assert_int_equal(mk_dec_finish(d), MK_EPROTO);
    assert_string_equal(d->what, "bad bool 0x02 at 1");
    mk_error_t err;
    assert_int_equal(mk_dec_finish_err(d, &err, "Subscribe"), MK_EPROTO);
    assert_string_equal(err.msg, "Subscribe: bad bool 0x02 at 1");
    assert_int_equal(mk_dec_fail(d, "later"), MK_EPROTO);
    assert_string_equal(d->what, "bad bool 0x02 at 1");
}

static void semantic_failure_records_cause_and_offset(void **state) {
    hexdec_t h;
    mk_dec_t *d = hexdec(&h, "07 00");
    assert_int_equal(mk_dec_u8(d), 7);
    assert_int_equal(mk_dec_fail(d, "unknown version %d", 7), MK_EPROTO);
    assert_string_equal(d->what, "unknown version 7 at 1");
}

/* ---- depth, counts and allocation -------------------------------------------------------------- */

static void depth_32_is_accepted_and_33_rejected(void **state) {
    mk_dec_t d;
    mk_dec_init(&d, NULL, 0);
    for (int i = 0; i < 32; i++) assert_true(mk_dec_enter(&d));
    for (int i = 0; i < 32; i++) mk_dec_leave(&d);
    assert_int_equal(mk_dec_finish(&d), MK_OK);
    mk_dec_init(&d, NULL, 0);
    for (int i = 0; i < 32; i++) assert_true(mk_dec_enter(&d));
    assert_false(mk_dec_enter(&d));
    assert_rejected(&d, "nesting deeper than 32 at 0");
}

static void count_of_2_pow_32_in_10_bytes_fails_without_allocating(void **state) {
    assert_true(alloc_hook_install());
    hexdec_t h;
    hexdec(&h, "80 80 80 80 10 01 02 03 04 05");  /* 2^32, then 5 bytes */
    g_allocs = 0;
    g_counting = 1;
    mk_dec_t *d = &h.d;
    size_t n = mk_dec_count(d, 1);
    int rc = mk_dec_finish(d);
    g_counting = 0;
    assert_int_equal(n, 0);
    assert_int_equal(rc, MK_EPROTO);
    assert_string_equal(d->what, "count too large: 4294967296 x 1 > 5 left at 0");
    assert_int_equal(g_allocs, 0);
    /* the hook really counts: an allocation while counting is seen */
    g_counting = 1;
    void *volatile probe = malloc(16);
    g_counting = 0;
    free(probe);
    assert_int_equal(g_allocs, 1);
}

static void count_is_checked_against_element_size(void **state) {
    hexdec_t h;
    mk_dec_t *d = hexdec(&h, "03 01 02 03 04 05 06");
    assert_int_equal(mk_dec_count(d, 2), 3);  /* 3 × 2 = 6 bytes left */
    d = hexdec(&h, "03 01 02 03 04 05 06");
    assert_int_equal(mk_dec_count(d, 3), 0);
    assert_rejected(d, "count too large: 3 x 3 > 6 left at 0");
    d = hexdec(&h, "00");
    assert_int_equal(mk_dec_count(d, 0), 0);
    assert_int_equal(d->err, MK_EINVAL);
}

static void decoding_random_input_with_every_getter_never_allocates(void **state) {
    assert_true(alloc_hook_install());
    uint8_t buf[64];
    uint64_t x = 42;
    g_allocs = 0;
    for (int round = 0; round < 20000; round++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (uint8_t)(x >> 56);
        }
        mk_dec_t d;
        mk_id_t id;
        uint8_t raw[3];
        mk_dec_keys_t keys = MK_DEC_KEYS_INIT;
        g_counting = 1;
        mk_dec_init(&d, buf, (size_t)round % sizeof buf);
        for (int step = 0; step < 24 && mk_dec_ok(&d); step++) {
            const uint8_t *key = d.p;
            switch ((unsigned)(x >> (step % 60)) % 14) {
            case 0: mk_dec_u8(&d); break;
            case 1: mk_dec_bool(&d); break;
            case 2: mk_dec_uvar(&d, 64); break;
            case 3: mk_dec_svar(&d, 32); break;
            case 4: mk_dec_f32(&d); break;
            case 5: mk_dec_f64(&d); break;
            case 6: mk_dec_bytes(&d); break;
            case 7: mk_dec_str(&d); break;
            case 8: mk_dec_id(&d, &id); break;
            case 9: mk_dec_raw(&d, raw, sizeof raw); break;
            case 10: mk_dec_option(&d); break;
            case 11: mk_dec_tag(&d, 5); break;
            case 12: mk_dec_count(&d, 2); break;
            default: mk_dec_uvar(&d, 16); mk_dec_key_next(&d, &keys, key); break;
            }
        }
        mk_dec_finish(&d);
        g_counting = 0;
    }
    assert_int_equal(g_allocs, 0);
}

/* ---- map keys, encoder limit, UTF-8 ---------------------------------------------------------------- */

/* Decodes a map<string, u8>; returns the decoder's status. */
static int decode_str_u8_map(const char *hex) {
    hexdec_t h;
    mk_dec_t *d = hexdec(&h, hex);
    mk_dec_keys_t keys = MK_DEC_KEYS_INIT;
    size_t n = mk_dec_count(d, 2);
    for (size_t i = 0; i < n && mk_dec_ok(d); i++) {
        const uint8_t *key = d->p;
        mk_dec_str(d);
        mk_dec_key_next(d, &keys, key);
        mk_dec_u8(d);
    }
    return mk_dec_finish(d);
}

static void map_keys_must_ascend_strictly_by_encoded_bytes(void **state) {
    /* by encoded bytes the length prefix comes first: "a" (01 61) < "b" (01 62) < "aa" (02 61 61) */
    assert_int_equal(decode_str_u8_map("03 01 61 00 01 62 00 02 61 61 00"), MK_OK);
    assert_int_equal(decode_str_u8_map("03 01 61 00 02 61 61 00 01 62 00"), MK_EPROTO);
    assert_int_equal(decode_str_u8_map("02 01 62 00 01 61 00"), MK_EPROTO);
    hexdec_t h;
    mk_dec_t *d = hexdec(&h, "02 01 62 00 01 61 00");
    mk_dec_keys_t keys = MK_DEC_KEYS_INIT;
    mk_dec_count(d, 2);
    for (int i = 0; i < 2; i++) {
        const uint8_t *key = d->p;
        mk_dec_str(d);
        mk_dec_key_next(d, &keys, key);
        mk_dec_u8(d);
    }
    assert_rejected(d, "unsorted map key at 4");
    d = hexdec(&h, "02 01 61 00 01 61 00");
    keys = (mk_dec_keys_t)MK_DEC_KEYS_INIT;
    mk_dec_count(d, 2);
    for (int i = 0; i < 2; i++) {
        const uint8_t *key = d->p;
        mk_dec_str(d);
        mk_dec_key_next(d, &keys, key);
        mk_dec_u8(d);
    }
    assert_rejected(d, "duplicate map key at 4");
    /* "b" (01 62) sorts after "aa" (02 61 61) by encoded bytes: the length prefix comes first */
    assert_true(mk_key_cmp("\x01" "b", 2, "\x02" "aa", 3) < 0);
    assert_true(mk_key_cmp("ab", 2, "abc", 3) < 0);
    assert_int_equal(mk_key_cmp("ab", 2, "ab", 2), 0);
}

static void encoder_over_limit_fails_sticky_with_etoobig(void **state) {
    mk_enc_t e;
    mk_enc_init(&e, 4);
    mk_enc_raw(&e, "abcd", 4);  /* exactly the limit */
    assert_int_equal(e.err, MK_OK);
    mk_enc_u8(&e, 1);
    assert_int_equal(e.err, MK_E2BIG);
    assert_int_equal(mk_enc_finish(&e, NULL), MK_E2BIG);
    mk_enc_init(&e, 3);
    mk_enc_uvar(&e, 300);
    mk_enc_bytes(&e, "xy", 2);  /* the length fits (3 bytes), the payload would make 5 */
    assert_int_equal(mk_enc_finish(&e, NULL), MK_E2BIG);
    mk_enc_init(&e, 3);
    mk_enc_uvar(&e, 300);
    mk_enc_raw(&e, "xy", 2);  /* would make 4 bytes */
    mk_enc_u8(&e, 1);         /* would fit, but the error is sticky */
    assert_int_equal(mk_enc_len(&e), 2);
    mk_buf_t out = {(void *)1, 9, 9};
    assert_int_equal(mk_enc_finish(&e, &out), MK_E2BIG);
    assert_null(out.ptr);
    assert_int_equal(out.len, 0);
    mk_enc_init(&e, 0);  /* 0 = no limit */
    for (int i = 0; i < 100000; i++) mk_enc_u8(&e, 7);
    assert_int_equal(mk_enc_finish(&e, NULL), MK_OK);
}

static void encoder_refuses_invalid_utf8_strings(void **state) {
    mk_enc_t e;
    mk_enc_init(&e, 0);
    mk_enc_strn(&e, "\xc0\x80", 2);
    assert_int_equal(mk_enc_finish(&e, NULL), MK_EINVAL);
    mk_enc_init(&e, 0);
    mk_enc_strn(&e, "a\0b", 3);  /* U+0000 is valid UTF-8 */
    assert_encoded(&e, "03 61 00 62");
}

static void utf8_boundaries_accept_exactly_the_valid_scalars(void **state) {
    static const char *const valid[] = {"\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
                                        "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"};
    static const char *const invalid[] = {"\xc0\xaf", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf",
                                          "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
                                          "\xe2\x28\xa1", "\xbf", "\xfe", "\xff"};
    size_t bad = 99;
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        assert_true(mk_utf8_valid(valid[i], strlen(valid[i]), NULL));
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        assert_false(mk_utf8_valid(invalid[i], strlen(invalid[i]), &bad));
        assert_int_equal(bad, 0);
    }
    assert_false(mk_utf8_valid("ok\xe2\x82", 4, &bad));  /* cut sequence at the end */
    assert_int_equal(bad, 2);
}

/* ---- seeded random round trips ------------------------------------------------------------------ */

#define ROUNDS 100000

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A random value with a random magnitude, so short and long varints are both common. */
static uint64_t random_magnitude(uint64_t *s) { return splitmix(s) >> (splitmix(s) % 64); }

static size_t uvar_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

/* Finishes e, decodes with check(), requires consumption of every byte. */
#define ROUND_TRIP(encode, decode_and_check)                        \
    do {                                                            \
        mk_enc_t e_;                                                \
        mk_buf_t b_;                                                \
        mk_enc_init(&e_, 0);                                        \
        encode;                                                     \
        assert_int_equal(mk_enc_finish(&e_, &b_), MK_OK);           \
        mk_dec_t d_;                                                \
        mk_dec_init(&d_, b_.ptr, b_.len);                           \
        decode_and_check;                                           \
        if (mk_dec_finish(&d_) != MK_OK) fail_msg("%s", d_.what);   \
        mk_buf_free(&b_);                                           \
    } while (0)

static void random_integers_round_trip(void **state) {
    uint64_t s = 0x5eed0001;
    for (int i = 0; i < ROUNDS; i++) {
        uint64_t v = random_magnitude(&s);
        uint8_t u8 = (uint8_t)v;
        int8_t i8 = (int8_t)((int)(v % 256) - 128);
        uint16_t u16 = (uint16_t)v;
        uint32_t u32 = (uint32_t)v;
        int16_t i16 = (int16_t)((int64_t)(v % 65536) - 32768);
        int32_t i32 = (int32_t)((int64_t)(v % 4294967296ull) - 2147483648ll);
        int64_t i64 = (v & 1) ? -(int64_t)(v >> 1) - 1 : (int64_t)(v >> 1);
        bool bo = v & 1;
        ROUND_TRIP(mk_enc_u8(&e_, u8), assert_int_equal(mk_dec_u8(&d_), u8));
        ROUND_TRIP(mk_enc_i8(&e_, i8), assert_int_equal(mk_dec_i8(&d_), i8));
        ROUND_TRIP(mk_enc_bool(&e_, bo), assert_int_equal(mk_dec_bool(&d_), bo));
        ROUND_TRIP(mk_enc_u16(&e_, u16), assert_int_equal(mk_dec_u16(&d_), u16));
        ROUND_TRIP(mk_enc_u32(&e_, u32), assert_int_equal(mk_dec_u32(&d_), u32));
        ROUND_TRIP(mk_enc_u64(&e_, v), (assert_true(mk_dec_u64(&d_) == v), assert_int_equal(b_.len, uvar_len(v))));
        ROUND_TRIP(mk_enc_i16(&e_, i16), assert_int_equal(mk_dec_i16(&d_), i16));
        ROUND_TRIP(mk_enc_i32(&e_, i32), assert_int_equal(mk_dec_i32(&d_), i32));
        ROUND_TRIP(mk_enc_i64(&e_, i64), assert_true(mk_dec_i64(&d_) == i64));
        ROUND_TRIP(mk_enc_tag(&e_, u32 % 9), assert_int_equal(mk_dec_tag(&d_, 9), u32 % 9));
    }
}

static void random_floats_round_trip_bit_exactly(void **state) {
    uint64_t s = 0x5eed0002;
    for (int i = 0; i < ROUNDS; i++) {
        uint64_t bits = splitmix(&s);
        uint32_t bits32 = (uint32_t)bits;
        float f;
        double g;
        memcpy(&f, &bits32, 4);
        memcpy(&g, &bits, 8);
        ROUND_TRIP(mk_enc_f32(&e_, f), {
            float back = mk_dec_f32(&d_);
            assert_memory_equal(&back, &f, 4);
        });
        ROUND_TRIP(mk_enc_f64(&e_, g), {
            double back = mk_dec_f64(&d_);
            assert_memory_equal(&back, &g, 8);
        });
    }
    ROUND_TRIP(mk_enc_f64(&e_, -0.0), assert_true(signbit(mk_dec_f64(&d_))));
}

/* Appends the UTF-8 form of a random scalar value (never a surrogate). */
static size_t random_scalar(uint64_t *s, char *out) {
    uint32_t cp;
    switch (splitmix(s) % 4) {
    case 0: cp = (uint32_t)(splitmix(s) % 0x80); break;
    case 1: cp = 0x80 + (uint32_t)(splitmix(s) % (0x800 - 0x80)); break;
    case 2: do cp = 0x800 + (uint32_t)(splitmix(s) % (0x10000 - 0x800)); while (cp >= 0xd800 && cp <= 0xdfff); break;
    default: cp = 0x10000 + (uint32_t)(splitmix(s) % (0x110000 - 0x10000)); break;
    }
    if (cp < 0x80) return out[0] = (char)cp, 1;
    if (cp < 0x800) return out[0] = (char)(0xc0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3f)), 2;
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static void random_bytes_strings_ids_and_options_round_trip(void **state) {
    uint64_t s = 0x5eed0003;
    char text[200 * 4];
    uint8_t blob[300];
    for (int i = 0; i < ROUNDS; i++) {
        size_t tn = 0, chars = splitmix(&s) % 20, bn = splitmix(&s) % (i % 100 == 0 ? sizeof blob : 24);
        for (size_t k = 0; k < chars; k++) tn += random_scalar(&s, text + tn);
        for (size_t k = 0; k < bn; k++) blob[k] = (uint8_t)splitmix(&s);
        mk_id_t id;
        for (size_t k = 0; k < 32; k++) id.b[k] = (uint8_t)splitmix(&s);
        bool present = splitmix(&s) & 1;
        uint32_t inner = (uint32_t)random_magnitude(&s);
        ROUND_TRIP(mk_enc_bytes(&e_, blob, bn), {
            mk_bytes_t v = mk_dec_bytes(&d_);
            assert_int_equal(v.len, bn);
            if (bn) assert_memory_equal(v.ptr, blob, bn);
            assert_int_equal(b_.len, uvar_len(bn) + bn);
        });
        ROUND_TRIP(mk_enc_strn(&e_, text, tn), {
            mk_bytes_t v = mk_dec_str(&d_);
            assert_int_equal(v.len, tn);
            if (tn) assert_memory_equal(v.ptr, text, tn);
        });
        ROUND_TRIP(mk_enc_id(&e_, &id), {
            mk_id_t back;
            mk_dec_id(&d_, &back);
            assert_memory_equal(back.b, id.b, 32);
        });
        ROUND_TRIP((mk_enc_option(&e_, present), present ? mk_enc_u32(&e_, inner) : (void)0), {
            assert_int_equal(mk_dec_option(&d_), present);
            if (present) assert_int_equal(mk_dec_u32(&d_), inner);
        });
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uvar_vectors_encode_and_decode_exactly),
        cmocka_unit_test(svar_vectors_encode_and_decode_exactly),
        cmocka_unit_test(float_bytes_and_option_vectors_round_trip),
        cmocka_unit_test(id_and_raw_have_no_length_prefix),
        cmocka_unit_test(each_listed_rejection_gives_eproto_with_cause_and_offset),
        cmocka_unit_test(varint_width_limits_accept_the_maximum_of_each_type),
        cmocka_unit_test(errors_are_sticky_and_keep_the_first_cause),
        cmocka_unit_test(semantic_failure_records_cause_and_offset),
        cmocka_unit_test(depth_32_is_accepted_and_33_rejected),
        cmocka_unit_test(count_of_2_pow_32_in_10_bytes_fails_without_allocating),
        cmocka_unit_test(count_is_checked_against_element_size),
        cmocka_unit_test(decoding_random_input_with_every_getter_never_allocates),
        cmocka_unit_test(map_keys_must_ascend_strictly_by_encoded_bytes),
        cmocka_unit_test(encoder_over_limit_fails_sticky_with_etoobig),
        cmocka_unit_test(encoder_refuses_invalid_utf8_strings),
        cmocka_unit_test(utf8_boundaries_accept_exactly_the_valid_scalars),
        cmocka_unit_test(random_integers_round_trip),
        cmocka_unit_test(random_floats_round_trip_bit_exactly),
        cmocka_unit_test(random_bytes_strings_ids_and_options_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
