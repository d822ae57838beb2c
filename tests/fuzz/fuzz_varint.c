/* fuzz/fuzz_varint.c — LEB128 and zigzag varints: byte 0 picks the width (16/32/64) and signedness, the rest
 * is decoded varint after varint. Each outcome must match an independent reference decoder written from the
 * spec's rules (accept/reject, value, length), accepted varints must re-encode to the bytes they came from,
 * and every 8-byte window taken as a value must survive encode → decode. */
#include "core/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_check.h"

/* Reference: collect the 7-bit groups first, then judge them. Returns the length, 0 = reject. */
static size_t ref_uvar(const uint8_t *p, size_t n, unsigned bits, uint64_t *value) {
    uint8_t groups[16];
    size_t count = 0;
    for (;;) {
        if (count == n || count == sizeof groups) return 0;  /* truncated, or absurdly long */
        groups[count] = p[count] & 0x7f;
        if (!(p[count++] & 0x80)) break;
    }
    size_t max_bytes = (bits + 6) / 7;
    if (count > max_bytes) return 0;                             /* too long */
    if (count > 1 && groups[count - 1] == 0) return 0;           /* non-canonical */
    /* value bits: all groups but the last carry 7; the last one may carry only what is left */
    unsigned last_bits = bits - 7 * (unsigned)(count - 1);
    if (last_bits < 7 && (groups[count - 1] >> last_bits) != 0) return 0;  /* overflow */
    uint64_t v = 0;
    for (size_t i = count; i-- > 0;) v = (v << 7) | groups[i];
    *value = v;
    return count;
}

static size_t uvar_len(uint64_t v) {
    size_t n = 1;
    while (v >>= 7) n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const unsigned WIDTHS[3] = {16, 32, 64};
    unsigned bits = WIDTHS[data[0] % 3];
    bool is_signed = (data[0] / 3) & 1;
    const uint8_t *in = data + 1;
    size_t n = size - 1;

    mk_dec_t d;
    mk_dec_init(&d, in, n);
    while (mk_dec_remaining(&d) > 0) {
        size_t at = mk_dec_offset(&d);
        uint64_t want = 0;
        size_t want_len = ref_uvar(in + at, n - at, bits, &want);
        uint64_t got;
        if (is_signed) {
            int64_t s = mk_dec_svar(&d, bits);
            got = ((uint64_t)s << 1) ^ (0 - ((uint64_t)s >> 63));  /* back to the zigzag form */
            if (d.err == MK_OK && bits < 64) {
                int64_t lim = (int64_t)1 << (bits - 1);
                CHECK(s >= -lim && s < lim);
            }
        } else {
            got = mk_dec_uvar(&d, bits);
        }
        if (want_len == 0) {
            CHECK(d.err == MK_EPROTO);
            CHECK(mk_dec_offset(&d) == at);  /* a failure does not advance */
            CHECK(strstr(d.what, "varint") != NULL);
            break;
        }
        CHECK(d.err == MK_OK);
        CHECK(got == want);
        CHECK(mk_dec_offset(&d) - at == want_len);
        mk_enc_t e;
        mk_buf_t out;
        mk_enc_init(&e, 0);
        if (is_signed) mk_enc_svar(&e, ((got & 1) ? -(int64_t)(got >> 1) - 1 : (int64_t)(got >> 1)));
        else mk_enc_uvar(&e, got);
        CHECK(mk_enc_finish(&e, &out) == MK_OK);
        CHECK(out.len == want_len && memcmp(out.ptr, in + at, want_len) == 0);
        mk_buf_free(&out);
    }

    /* values from the input bytes survive encode → decode at every width they fit */
    for (size_t off = 0; off + 8 <= n; off += 8) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v |= (uint64_t)in[off + (size_t)i] << (8 * i);
        v >>= in[off] % 64;
        mk_enc_t e;
        mk_buf_t out;
        mk_enc_init(&e, 0);
        mk_enc_uvar(&e, v);
        mk_enc_svar(&e, (int64_t)(v ^ (v << 1)));
        CHECK(mk_enc_finish(&e, &out) == MK_OK);
        CHECK(out.len >= uvar_len(v) + 1);
        mk_dec_t r;
        mk_dec_init(&r, out.ptr, out.len);
        CHECK(mk_dec_uvar(&r, 64) == v);
        CHECK(mk_dec_svar(&r, 64) == (int64_t)(v ^ (v << 1)));
        CHECK(mk_dec_finish(&r) == MK_OK);
        mk_dec_init(&r, out.ptr, uvar_len(v));
        uint32_t v32 = (uint32_t)mk_dec_uvar(&r, 32);
        CHECK(v > UINT32_MAX ? r.err == MK_EPROTO : (r.err == MK_OK && v32 == v));
        mk_buf_free(&out);
    }
    return 0;
}
