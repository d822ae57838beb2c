/* unit/tee/tdx_ticket_util.h — helpers shared by the TDX ticket and validator tests: a mock with fixed
 * measurements, an extra, a mock-quoted ticket for it, a trust with the mock root, and hand-made zstd
 * frames (raw blocks) for the decoder's limits. Header-only, included by test_tdx_ticket*.c and
 * test_tdx_validator.c. */
#ifndef MKT_TDX_TICKET_UTIL_H
#define MKT_TDX_TICKET_UTIL_H

#include "core/codec.h"
#include "mosaik/tdx.h"

#include <zstd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_NOW 1751328000LL /* 2025-07-01, inside the mock chain's validity */

static inline mk_tdx_mock_t *t_mock(uint8_t seed, uint8_t mrtd_fill, bool debug) {
    mk_tdx_mock_config_t c = {0};
    memset(c.seed, seed, sizeof c.seed);
    memset(c.measurements.mrtd.b, mrtd_fill, 48);
    for (int r = 0; r < 4; r++) memset(c.measurements.rtmr[r].b, 0x20 + r, 48);
    if (debug) {
        c.td_attributes[0] = 0x01;        /* DEBUG */
        c.td_attributes[3] = 0x10;        /* SEPT_VE_DISABLE (bit 28) */
    }
    mk_error_t e = {0};
    mk_tdx_mock_t *m = mk_tdx_mock_new(&c, &e);
    if (!m) fprintf(stderr, "%s\n", e.msg);
    assert_non_null(m);
    return m;
}

static inline mk_tdx_extra_t t_extra(void) {
    mk_tdx_extra_t x;
    memset(&x, 0, sizeof x);
    x.peer_id = mk_id_from_str("peer-a");
    x.network_id = mk_id_from_str("net-1");
    x.started_at_s = T_NOW - 3600;
    x.quoted_at_s = T_NOW - 10;
    x.expires = T_NOW + 3600;
    return x;
}

/* A quote carrying the REPORTDATA of x (or rd_of when non-NULL). */
static inline void t_quote(mk_tdx_mock_t *m, const mk_tdx_extra_t *x, mk_buf_t *q) {
    uint8_t rd[64];
    mk_tdx_extra_report_data(x, rd);
    assert_int_equal(mk_tdx_mock_quote(m, rd, q, NULL), MK_OK);
}

static inline mk_ticket_t *t_ticket(mk_tdx_mock_t *m, const mk_tdx_extra_t *x) {
    mk_buf_t q = MK_BUF_INIT;
    t_quote(m, x, &q);
    mk_ticket_t *t = NULL;
    mk_error_t e = {0};
    int rc = mk_tdx_ticket_make(q.ptr, q.len, x, &t, &e);
    if (rc != MK_OK) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, MK_OK);
    mk_buf_free(&q);
    return t;
}

static inline mk_tdx_trust_t *t_trust(const mk_tdx_mock_t *m, bool allow_debug) {
    mk_tdx_trust_config_t c = {.root_pem = mk_tdx_mock_root_pem(m), .allow_debug = allow_debug};
    mk_error_t e = {0};
    mk_tdx_trust_t *t = mk_tdx_trust_new(&c, &e);
    if (!t) fprintf(stderr, "%s\n", e.msg);
    assert_non_null(t);
    return t;
}

/* One zstd frame of raw blocks around content: dict_id 0 = none; window_log 0 = single segment (window =
 * content size), else a window descriptor of 2^window_log; with_size false = no content size. Appends. */
static inline void t_frame(mk_buf_t *out, const uint8_t *content, size_t n, uint8_t dict_id, unsigned window_log,
                           bool with_size) {
    uint8_t h[16];
    size_t k = 0;
    h[k++] = 0x28, h[k++] = 0xB5, h[k++] = 0x2F, h[k++] = 0xFD;
    bool single = window_log == 0 && with_size;
    uint8_t fhd = (uint8_t)((dict_id ? 1 : 0) | (single ? 0x20 : 0) | (with_size ? 0x80 : 0)); /* FCS 4 bytes */
    h[k++] = fhd;
    if (!single) h[k++] = (uint8_t)(((window_log ? window_log : 17) - 10) << 3);
    if (dict_id) h[k++] = dict_id;
    if (with_size)
        for (int i = 0; i < 4; i++) h[k++] = (uint8_t)(n >> (8 * i));
    assert_int_equal(mk_buf_append(out, h, k), MK_OK);
    size_t off = 0;
    do {
        size_t b = n - off > 65536 ? 65536 : n - off;
        uint32_t bh = (uint32_t)(((off + b == n) ? 1u : 0u) | (uint32_t)b << 3);
        uint8_t bb[3] = {(uint8_t)bh, (uint8_t)(bh >> 8), (uint8_t)(bh >> 16)};
        assert_int_equal(mk_buf_append(out, bb, 3), MK_OK);
        assert_int_equal(mk_buf_append(out, content + off, b), MK_OK);
        off += b;
    } while (off < n);
}

/* Re-encodes a codec content with zstd level 3. */
static inline void zpack(const mk_buf_t *raw, mk_buf_t *z) {
    z->cap = ZSTD_compressBound(raw->len);
    z->ptr = malloc(z->cap);
    z->len = ZSTD_compress(z->ptr, ZSTD_compressBound(raw->len), raw->ptr, raw->len, 3);
    assert_false(ZSTD_isError(z->len));
}

/* The codec content for x with quote q, tag and At value chosen freely, then extra bytes. */
static inline void encode(const mk_buf_t *q, const mk_tdx_extra_t *x, uint32_t tag, int64_t at, size_t extra, mk_buf_t *z) {
    mk_enc_t enc;
    mk_enc_init(&enc, 0);
    mk_enc_bytes(&enc, q->ptr, q->len);
    mk_enc_id(&enc, &x->peer_id);
    mk_enc_id(&enc, &x->network_id);
    mk_enc_svar(&enc, x->started_at_s);
    mk_enc_svar(&enc, x->quoted_at_s);
    mk_enc_tag(&enc, tag);
    if (tag >= 1) mk_enc_svar(&enc, at);
    for (size_t i = 0; i < extra; i++) mk_enc_u8(&enc, 0);
    mk_buf_t raw = MK_BUF_INIT;
    assert_int_equal(mk_enc_finish(&enc, &raw), MK_OK);
    zpack(&raw, z);
    mk_buf_free(&raw);
}

#endif
