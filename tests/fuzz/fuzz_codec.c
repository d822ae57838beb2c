/* fuzz/fuzz_codec.c — codec primitives under a schema read from the input: byte 0 gives the number of fields,
 * the next bytes their types (with a parameter), the rest is the message. The message is decoded by that
 * schema while every decoded value is encoded again; accepted input must re-encode to identical bytes, and
 * rejected input must fail with MK_EPROTO and a cause carrying an offset; after every accepted field the
 * output equals the input consumed so far. */
#include "core/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_check.h"

enum {
    T_U8, T_I8, T_BOOL, T_U16, T_U32, T_U64, T_I16, T_I32, T_I64, T_F32, T_F64, T_BYTES, T_STR, T_ID,
    T_OPTION_U32, T_ENUM, T_SEQ_U16, T_MAP_STR_U32, T_NESTED, T_RAW5, T_COUNT
};

#define MAX_FIELDS 12

static void copy_field(mk_dec_t *d, mk_enc_t *e, unsigned type, unsigned param) {
    switch (type) {
    case T_U8: mk_enc_u8(e, mk_dec_u8(d)); break;
    case T_I8: mk_enc_i8(e, mk_dec_i8(d)); break;
    case T_BOOL: mk_enc_bool(e, mk_dec_bool(d)); break;
    case T_U16: mk_enc_u16(e, mk_dec_u16(d)); break;
    case T_U32: mk_enc_u32(e, mk_dec_u32(d)); break;
    case T_U64: mk_enc_u64(e, mk_dec_u64(d)); break;
    case T_I16: mk_enc_i16(e, mk_dec_i16(d)); break;
    case T_I32: mk_enc_i32(e, mk_dec_i32(d)); break;
    case T_I64: mk_enc_i64(e, mk_dec_i64(d)); break;
    case T_F32: mk_enc_f32(e, mk_dec_f32(d)); break;
    case T_F64: mk_enc_f64(e, mk_dec_f64(d)); break;
    case T_BYTES: {
        mk_bytes_t b = mk_dec_bytes(d);
        mk_enc_bytes(e, b.ptr, b.len);
        break;
    }
    case T_STR: {
        mk_bytes_t s = mk_dec_str(d);
        if (d->err == MK_OK) CHECK(mk_utf8_valid(s.ptr, s.len, NULL));
        mk_enc_strn(e, s.ptr, s.len);
        break;
    }
    case T_ID: {
        mk_id_t id;
        mk_dec_id(d, &id);
        mk_enc_id(e, &id);
        break;
    }
    case T_OPTION_U32: {
        bool present = mk_dec_option(d);
        mk_enc_option(e, present);
        if (present) mk_enc_u32(e, mk_dec_u32(d));
        break;
    }
    case T_ENUM: {  /* param + 1 variants; variant t carries t bytes */
        uint32_t tag = mk_dec_tag(d, param + 1);
        CHECK(d->err != MK_OK || tag <= param);
        mk_enc_tag(e, tag);
        for (uint32_t i = 0; i < tag && d->err == MK_OK; i++) mk_enc_u8(e, mk_dec_u8(d));
        break;
    }
    case T_SEQ_U16: {
        size_t n = mk_dec_count(d, 1);
        CHECK(n <= mk_dec_remaining(d));
        mk_enc_count(e, n);
        for (size_t i = 0; i < n && d->err == MK_OK; i++) mk_enc_u16(e, mk_dec_u16(d));
        break;
    }
    case T_MAP_STR_U32: {
        mk_dec_keys_t keys = MK_DEC_KEYS_INIT;
        size_t n = mk_dec_count(d, 2);
        CHECK(n * 2 <= mk_dec_remaining(d));
        mk_enc_count(e, n);
        for (size_t i = 0; i < n && d->err == MK_OK; i++) {
            const uint8_t *key = d->p;
            mk_bytes_t k = mk_dec_str(d);
            mk_dec_key_next(d, &keys, key);
            mk_enc_strn(e, k.ptr, k.len);
            mk_enc_u32(e, mk_dec_u32(d));
        }
        break;
    }
    case T_NESTED: {  /* param × 3 nested options around a u8 */
        unsigned levels = param * 3, entered = 0;
        bool present = true;
        while (entered < levels && present && mk_dec_enter(d)) {
            entered++;
            present = mk_dec_option(d);
            mk_enc_option(e, present);
        }
        if (d->err == MK_OK && present) mk_enc_u8(e, mk_dec_u8(d));
        CHECK(d->err != MK_OK || entered <= MK_DEC_MAX_DEPTH);
        while (entered--) mk_dec_leave(d);
        CHECK(d->depth == 0);
        break;
    }
    case T_RAW5: {
        uint8_t raw[5];
        mk_dec_raw(d, raw, sizeof raw);
        mk_enc_raw(e, raw, sizeof raw);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t nfields = 1 + data[0] % MAX_FIELDS;
    if (size < 1 + nfields) return 0;
    const uint8_t *schema = data + 1, *msg = data + 1 + nfields;
    size_t msg_len = size - 1 - nfields;

    mk_dec_t d;
    mk_enc_t e;
    mk_dec_init(&d, msg, msg_len);
    mk_enc_init(&e, 0);
    for (size_t i = 0; i < nfields && d.err == MK_OK; i++) {
        copy_field(&d, &e, schema[i] % T_COUNT, schema[i] / T_COUNT);
        if (d.err == MK_OK) {  /* every accepted field re-encodes to exactly the bytes it came from */
            CHECK(e.err == MK_OK);
            CHECK(mk_enc_len(&e) == mk_dec_offset(&d));
            CHECK(mk_dec_offset(&d) == 0 || memcmp(e.out.ptr, msg, mk_dec_offset(&d)) == 0);
        }
    }
    int rc = mk_dec_finish(&d);
    mk_buf_t out;
    int erc = mk_enc_finish(&e, &out);
    CHECK(erc == MK_OK);
    if (rc == MK_OK) {
        CHECK(out.len == msg_len);
        CHECK(msg_len == 0 || memcmp(out.ptr, msg, msg_len) == 0);
    } else {
        CHECK(rc == MK_EPROTO);
        CHECK(strstr(d.what, " at ") != NULL);
        CHECK(mk_dec_offset(&d) <= msg_len);
    }
    mk_buf_free(&out);
    return 0;
}
