/* unit/tee/test_tdx_ticket.c — TDX tickets (spec 60 §4, §12 TDX item 4, decoding side): class id and extra
 * signature vectors, make → from round trip with every accessor, make's refusals, the strict decoder
 * (zstd: declared size over 64 KiB, unknown size, two frames, trailing bytes, a dictionary id, a window
 * over 2^17, truncation; codec: trailing bytes, tag 2, At ≤ 0 or unrepresentable in ms; the quote; both
 * halves of the REPORTDATA binding) and the class check of mk_tdx_ticket_from. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "unit/tee/tdx_ticket_util.h"

#include <zstd.h>

static mk_tdx_mock_t *M;

static int setup(void **state) {
    (void)state;
    M = t_mock(3, 0x11, false);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    mk_tdx_mock_free(M);
    return 0;
}

static void class_and_extra_signature(void **state) {
    (void)state;
    mk_id_t c = mk_tdx_class(), h = mk_id_from_str("mosaik.tee.tdx.ticket.v1");
    assert_memory_equal(c.b, h.b, 32);
    /* the extra signature by its definition */
    mk_tdx_extra_t x = t_extra();
    mk_id_t s = mk_id_from_str("mosaik.tdx.ticket.extra");
    s = mk_id_derive(&s, x.peer_id.b, 32);
    s = mk_id_derive(&s, x.network_id.b, 32);
    int64_t v[3] = {x.started_at_s, x.quoted_at_s, x.expires};
    for (int i = 0; i < 3; i++) {
        uint8_t b[8];
        for (int k = 0; k < 8; k++) b[k] = (uint8_t)((uint64_t)v[i] >> (8 * k));
        s = mk_id_derive(&s, b, 8);
    }
    mk_id_t got = mk_tdx_extra_signature(&x);
    assert_memory_equal(got.b, s.b, 32);
    uint8_t rd[64], zero[32] = {0};
    mk_tdx_extra_report_data(&x, rd);
    assert_memory_equal(rd, s.b, 32);
    assert_memory_equal(rd + 32, zero, 32);
    /* NEVER hashes 8 zero bytes; every field changes the signature */
    mk_tdx_extra_t n = x;
    n.expires = MK_EXPIRES_NEVER;
    mk_id_t sn = mk_tdx_extra_signature(&n), z = mk_id_from_str("mosaik.tdx.ticket.extra");
    z = mk_id_derive(&z, x.peer_id.b, 32);
    z = mk_id_derive(&z, x.network_id.b, 32);
    for (int i = 0; i < 2; i++) {
        uint8_t b[8];
        for (int k = 0; k < 8; k++) b[k] = (uint8_t)((uint64_t)v[i] >> (8 * k));
        z = mk_id_derive(&z, b, 8);
    }
    z = mk_id_derive(&z, zero, 8);
    assert_memory_equal(sn.b, z.b, 32);
    for (int f = 0; f < 5; f++) {
        mk_tdx_extra_t y = x;
        if (f == 0) y.peer_id.b[0] ^= 1;
        if (f == 1) y.network_id.b[31] ^= 1;
        if (f == 2) y.started_at_s++;
        if (f == 3) y.quoted_at_s++;
        if (f == 4) y.expires++;
        mk_id_t sy = mk_tdx_extra_signature(&y);
        assert_memory_not_equal(sy.b, got.b, 32);
    }
}

static void round_trip(void **state) {
    (void)state;
    for (int never = 0; never < 2; never++) {
        mk_tdx_extra_t x = t_extra();
        if (never) x.expires = MK_EXPIRES_NEVER;
        x.started_at_s = -5; /* any int64 */
        mk_buf_t q = MK_BUF_INIT;
        t_quote(M, &x, &q);
        mk_ticket_t *t = NULL;
        assert_int_equal(mk_tdx_ticket_make(q.ptr, q.len, &x, &t, NULL), MK_OK);
        mk_id_t cls = mk_tdx_class();
        assert_memory_equal(t->cls.b, cls.b, 32);
        assert_true(t->len < q.len); /* compressed */
        /* a zstd frame with the content size */
        assert_true(ZSTD_getFrameContentSize(t->data, t->len) != ZSTD_CONTENTSIZE_UNKNOWN);
        mk_tdx_ticket_t *d = NULL;
        mk_error_t e = {0};
        assert_int_equal(mk_tdx_ticket_from(t, &d, &e), MK_OK);
        const mk_tdx_extra_t *dx = mk_tdx_ticket_extra(d);
        assert_memory_equal(dx->peer_id.b, x.peer_id.b, 32);
        assert_memory_equal(dx->network_id.b, x.network_id.b, 32);
        assert_int_equal(dx->started_at_s, -5);
        assert_int_equal(dx->quoted_at_s, x.quoted_at_s);
        assert_int_equal(dx->expires, x.expires);
        const mk_tdx_quote_t *pq = mk_tdx_ticket_quote(d);
        mk_tdx_quote_t ref;
        assert_int_equal(mk_tdx_quote_parse(q.ptr, q.len, &ref, NULL), MK_OK);
        assert_memory_equal(pq->report_data, ref.report_data, 64);
        assert_memory_equal(&pq->m, &ref.m, sizeof ref.m);
        assert_int_equal(pq->version, 4);
        /* the parsed quote points into the ticket's own copy */
        assert_true(pq->pck_pem < (const uint8_t *)q.ptr || pq->pck_pem >= (const uint8_t *)q.ptr + q.len);
        assert_int_equal(mk_tdx_ticket_uptime_s(d, 5), 5);         /* 0.005 s − (−5 s) */
        assert_int_equal(mk_tdx_ticket_uptime_s(d, -5000), 0);     /* at the start */
        assert_int_equal(mk_tdx_ticket_uptime_s(d, -9999), 0);     /* before the start */
        assert_int_equal(mk_tdx_ticket_uptime_s(d, 1999), 6);      /* floor */
        mk_tdx_ticket_free(d);
        /* decode over the same bytes */
        assert_int_equal(mk_tdx_ticket_decode(t->data, t->len, &d, NULL), MK_OK);
        mk_tdx_ticket_free(d);
        mk_ticket_free(t);
        mk_buf_free(&q);
    }
}

static void make_refuses(void **state) {
    (void)state;
    mk_tdx_extra_t x = t_extra();
    mk_buf_t q = MK_BUF_INIT;
    t_quote(M, &x, &q);
    mk_ticket_t *t = (mk_ticket_t *)1;
    mk_error_t e = {0};
    mk_tdx_extra_t y = x;
    y.quoted_at_s++; /* the quote carries x's REPORTDATA */
    assert_int_equal(mk_tdx_ticket_make(q.ptr, q.len, &y, &t, &e), MK_EINVAL);
    assert_null(t);
    assert_non_null(strstr(e.msg, "REPORTDATA"));
    int64_t bad[] = {0, -1, INT64_MAX / 1000 + 1, INT64_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        y = x;
        y.expires = bad[i];
        assert_int_equal(mk_tdx_ticket_make(q.ptr, q.len, &y, &t, &e), MK_EINVAL);
        assert_non_null(strstr(e.msg, "expires"));
    }
    uint8_t junk[700] = {4};
    assert_int_not_equal(mk_tdx_ticket_make(junk, sizeof junk, &x, &t, &e), MK_OK);
    assert_null(t);
    assert_int_equal(mk_tdx_ticket_make(NULL, 0, &x, &t, &e), MK_EINVAL);
    assert_int_equal(mk_tdx_ticket_make(q.ptr, MK_TDX_MAX_QUOTE + 1, &x, &t, &e), MK_E2BIG);
    mk_buf_free(&q);
}

/* The codec content of a fresh ticket for x. */
static void content_of(const mk_tdx_extra_t *x, mk_buf_t *raw) {
    mk_ticket_t *t = t_ticket(M, x);
    unsigned long long n = ZSTD_getFrameContentSize(t->data, t->len);
    assert_true(n < 65536);
    raw->ptr = malloc((size_t)n);
    raw->cap = (size_t)n;
    raw->len = ZSTD_decompress(raw->ptr, (size_t)n, t->data, t->len);
    assert_int_equal(raw->len, n);
    mk_ticket_free(t);
}

static int decode_msg(const mk_buf_t *b, const char *want) {
    mk_tdx_ticket_t *d = (mk_tdx_ticket_t *)1;
    mk_error_t e = {0};
    int rc = mk_tdx_ticket_decode(b->ptr, b->len, &d, &e);
    if (rc == MK_OK) {
        mk_tdx_ticket_free(d);
        return rc;
    }
    assert_null(d);
    if (want && !strstr(e.msg, want)) fail_msg("\"%s\" lacks \"%s\"", e.msg, want);
    assert_non_null(strstr(e.msg, "mk_tdx_ticket_decode: "));
    return rc;
}

static void zstd_limits(void **state) {
    (void)state;
    mk_tdx_extra_t x = t_extra();
    mk_buf_t raw = MK_BUF_INIT, f = MK_BUF_INIT;
    content_of(&x, &raw);
    /* the hand-made frame helper itself: single segment and window 2^17 pass */
    t_frame(&f, raw.ptr, raw.len, 0, 0, true);
    assert_int_equal(decode_msg(&f, NULL), MK_OK);
    mk_buf_free(&f);
    t_frame(&f, raw.ptr, raw.len, 0, 17, true);
    assert_int_equal(decode_msg(&f, NULL), MK_OK);
    /* trailing bytes, two frames, truncation */
    mk_buf_t g = MK_BUF_INIT;
    mk_buf_append(&g, f.ptr, f.len);
    mk_buf_append(&g, "", 1);
    assert_int_equal(decode_msg(&g, "1 bytes after the frame"), MK_EPROTO);
    g.len = f.len;
    mk_buf_append(&g, f.ptr, f.len);
    assert_int_equal(decode_msg(&g, "after the frame"), MK_EPROTO);
    g.len = f.len - 1;
    assert_int_equal(decode_msg(&g, "truncated"), MK_EPROTO);
    g.len = 3;
    assert_int_equal(decode_msg(&g, "zstd"), MK_EPROTO);
    g.len = 0;
    assert_int_equal(decode_msg(&g, "0 bytes"), MK_EPROTO);
    mk_buf_free(&g);
    mk_buf_free(&f);
    /* window 2^18, a dictionary, no content size */
    t_frame(&f, raw.ptr, raw.len, 0, 18, true);
    assert_int_equal(decode_msg(&f, "window"), MK_EPROTO);
    mk_buf_free(&f);
    t_frame(&f, raw.ptr, raw.len, 7, 0, true);
    assert_int_equal(decode_msg(&f, "dictionary"), MK_EPROTO);
    mk_buf_free(&f);
    t_frame(&f, raw.ptr, raw.len, 0, 17, false);
    assert_int_equal(decode_msg(&f, "content size"), MK_EPROTO);
    mk_buf_free(&f);
    {   /* the library's own encoder without the size */
        ZSTD_CCtx *cc = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
        mk_buf_t z = MK_BUF_INIT;
        z.cap = ZSTD_compressBound(raw.len);
        z.ptr = malloc(z.cap);
        z.len = ZSTD_compress2(cc, z.ptr, ZSTD_compressBound(raw.len), raw.ptr, raw.len);
        assert_false(ZSTD_isError(z.len));
        ZSTD_freeCCtx(cc);
        assert_int_equal(decode_msg(&z, "content size"), MK_EPROTO);
        mk_buf_free(&z);
    }
    {   /* a bomb: 1 MiB of zeros in a few bytes; and just over 64 KiB */
        size_t sizes[2] = {1u << 20, 65537};
        for (int i = 0; i < 2; i++) {
            uint8_t *zeros = calloc(1, sizes[i]);
            mk_buf_t z = MK_BUF_INIT;
            z.cap = ZSTD_compressBound(sizes[i]);
            z.ptr = malloc(z.cap);
            z.len = ZSTD_compress(z.ptr, ZSTD_compressBound(sizes[i]), zeros, sizes[i], 3);
            assert_true(z.len < 32768);
            assert_int_equal(decode_msg(&z, "declared content size"), MK_EPROTO);
            free(zeros);
            mk_buf_free(&z);
        }
    }
    /* a declared size that lies: the frame says 4 bytes more than its blocks hold */
    t_frame(&f, raw.ptr, raw.len, 0, 17, true);
    {
        uint8_t *p = f.ptr;
        uint32_t n = (uint32_t)raw.len + 4;
        for (int i = 0; i < 4; i++) p[6 + i] = (uint8_t)(n >> (8 * i));
    }
    assert_int_equal(decode_msg(&f, "zstd"), MK_EPROTO);
    mk_buf_free(&f);
    mk_buf_free(&raw);
}

static void codec_rules(void **state) {
    (void)state;
    mk_tdx_extra_t x = t_extra();
    mk_buf_t q = MK_BUF_INIT, z = MK_BUF_INIT;
    t_quote(M, &x, &q);
    encode(&q, &x, 1, x.expires, 0, &z); /* the reference encoding decodes */
    assert_int_equal(decode_msg(&z, NULL), MK_OK);
    mk_buf_free(&z);
    encode(&q, &x, 1, x.expires, 1, &z);
    assert_int_equal(decode_msg(&z, "trailing"), MK_EPROTO);
    mk_buf_free(&z);
    encode(&q, &x, 2, x.expires, 0, &z);
    assert_int_equal(decode_msg(&z, "tag"), MK_EPROTO);
    mk_buf_free(&z);
    int64_t bad[] = {0, -1, INT64_MIN, INT64_MAX / 1000 + 1, INT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        encode(&q, &x, 1, bad[i], 0, &z);
        assert_int_equal(decode_msg(&z, "expires"), MK_EPROTO);
        mk_buf_free(&z);
    }
    /* NEVER with a value after the tag: trailing */
    {
        mk_tdx_extra_t n = x;
        n.expires = MK_EXPIRES_NEVER;
        mk_buf_t qn = MK_BUF_INIT;
        t_quote(M, &n, &qn);
        encode(&qn, &n, 0, 0, 0, &z);
        assert_int_equal(decode_msg(&z, NULL), MK_OK);
        mk_buf_free(&z);
        encode(&qn, &n, 0, 0, 1, &z);
        assert_int_equal(decode_msg(&z, "trailing"), MK_EPROTO);
        mk_buf_free(&z);
        mk_buf_free(&qn);
    }
    /* truncated codec content, a quote that does not parse */
    {
        mk_enc_t enc;
        mk_enc_init(&enc, 0);
        mk_enc_bytes(&enc, q.ptr, q.len);
        mk_enc_id(&enc, &x.peer_id);
        mk_buf_t raw = MK_BUF_INIT;
        mk_enc_finish(&enc, &raw);
        zpack(&raw, &z);
        assert_int_equal(decode_msg(&z, "mk_tdx_ticket_decode"), MK_EPROTO);
        mk_buf_free(&z);
        mk_buf_free(&raw);
        mk_buf_t junk = MK_BUF_INIT;
        mk_buf_append(&junk, q.ptr, 100);
        encode(&junk, &x, 1, x.expires, 0, &z);
        assert_int_equal(decode_msg(&z, "quote does not parse"), MK_EPROTO);
        mk_buf_free(&z);
        mk_buf_free(&junk);
    }
    /* binding: another extra, or a non-zero second half */
    {
        mk_tdx_extra_t y = x;
        y.started_at_s--;
        encode(&q, &y, 1, y.expires, 0, &z);
        assert_int_equal(decode_msg(&z, "REPORTDATA[0..32]"), MK_EPROTO);
        mk_buf_free(&z);
        uint8_t rd[64];
        mk_tdx_extra_report_data(&x, rd);
        rd[40] = 1;
        mk_buf_t q2 = MK_BUF_INIT;
        assert_int_equal(mk_tdx_mock_quote(M, rd, &q2, NULL), MK_OK);
        encode(&q2, &x, 1, x.expires, 0, &z);
        assert_int_equal(decode_msg(&z, "REPORTDATA[32..64]"), MK_EPROTO);
        mk_buf_free(&z);
        mk_buf_free(&q2);
    }
    mk_buf_free(&q);
}

static void from_checks_class(void **state) {
    (void)state;
    mk_tdx_extra_t x = t_extra();
    mk_ticket_t *t = t_ticket(M, &x);
    mk_id_t other = mk_id_from_str("mosaik.tickets.jwt.v1");
    mk_ticket_t *o = mk_ticket_new(&other, t->data, t->len, NULL);
    mk_tdx_ticket_t *d = (mk_tdx_ticket_t *)1;
    mk_error_t e = {0};
    assert_int_equal(mk_tdx_ticket_from(o, &d, &e), MK_EINVAL);
    assert_null(d);
    assert_non_null(strstr(e.msg, "class"));
    assert_int_equal(mk_tdx_ticket_from(NULL, &d, &e), MK_EINVAL);
    mk_ticket_free(o);
    mk_ticket_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(class_and_extra_signature), cmocka_unit_test(round_trip), cmocka_unit_test(make_refuses),
        cmocka_unit_test(zstd_limits), cmocka_unit_test(codec_rules), cmocka_unit_test(from_checks_class),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
