/* unit/net/test_framer.c — link framing of spec 10 §2.2: every vector produced and parsed exactly, any split
 * of a 3-frame stream gives the same frames, oversize headers refused after exactly 4 bytes without
 * allocating, control frame errors (reserved tag, oversize body, long reason, truncated Hello, trailing
 * bytes), zero-copy views, body ownership transfer, the framer's memory bound and Close reason fitting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "net/framer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB16 (16u * 1024u * 1024u)

/* ---- allocation counting (same hook as unit/core/test_codec.c) --------------------------------- */

#include "support/alloc_count.h"

/* ---- helpers ---------------------------------------------------------------------------------- */

/* Hex with spaces; "N" stands for the 32 network id bytes 00..1f. */
static size_t parse_hex(const char *hex, uint8_t *out, size_t cap) {
    size_t n = 0;
    for (const char *s = hex; *s;) {
        if (*s == ' ') {
            s++;
        } else if (*s == 'N') {
            for (int i = 0; i < 32; i++) out[n++] = (uint8_t)i;
            s++;
        } else {
            unsigned v;
            assert_int_equal(sscanf(s, "%2x", &v), 1);
            assert_true(n < cap);
            out[n++] = (uint8_t)v;
            s += 2;
        }
    }
    return n;
}

static void assert_buf_hex(const mk_buf_t *b, const char *hex) {
    uint8_t want[600];
    size_t n = parse_hex(hex, want, sizeof want);
    assert_int_equal(b->len, n);
    assert_memory_equal(b->ptr, want, n);
}

static mk_network_id_t id_00_to_1f(void) {
    mk_network_id_t id;
    for (int i = 0; i < 32; i++) id.b[i] = (uint8_t)i;
    return id;
}

/* Feeds the whole input in one call sequence; returns the frame count, appending each frame re-encoded
 * (header + body) to out. The last status goes to *status (0 when all input was consumed). */
static size_t feed_all(mk_framer_t *f, const uint8_t *p, size_t n, mk_buf_t *out, int *status, mk_error_t *e) {
    size_t frames = 0;
    mk_framed_t fr;
    int rc;
    while ((rc = mk_framer_feed(f, &p, &n, &fr, e)) == 1) {
        uint8_t h[4];
        mk_frame_header_encode(fr.hdr.control, fr.hdr.len, h);
        assert_int_equal(mk_buf_append(out, h, 4), MK_OK);
        assert_int_equal(mk_buf_append(out, fr.body, fr.hdr.len), MK_OK);
        if (fr.hdr.control) {  /* the decoded control message re-encodes to the same frame */
            mk_buf_t again = MK_BUF_INIT;
            assert_int_equal(mk_control_encode(&fr.control, &again), MK_OK);
            assert_int_equal(again.len, 4 + fr.hdr.len);
            assert_memory_equal((uint8_t *)again.ptr + 4, fr.body, fr.hdr.len);
            mk_buf_free(&again);
        }
        frames++;
    }
    *status = rc;
    return frames;
}

/* ---- vectors ---------------------------------------------------------------------------------- */

static const char *const HELLO_HEX = "80000026 00 01 N 80808008";
static const char *const CLOSE_400_HEX = "80000013 01 9003 0f 6672616d6520746f6f206c61726765";

static void vectors_are_produced_exactly(void **state) {
    mk_buf_t b = MK_BUF_INIT;
    assert_int_equal(mk_frame_encode_data("test", 4, MIB16, &b), MK_OK);
    assert_buf_hex(&b, "00000004 74657374");
    mk_buf_free(&b);
    mk_network_id_t id = id_00_to_1f();
    assert_int_equal(mk_control_encode_hello(1, &id, MIB16, &b), MK_OK);
    assert_buf_hex(&b, HELLO_HEX);
    mk_buf_free(&b);
    assert_int_equal(mk_control_encode_close(204, "", &b), MK_OK);
    assert_buf_hex(&b, "80000004 01 cc01 00");
    mk_buf_free(&b);
    assert_int_equal(mk_control_encode_close(400, "frame too large", &b), MK_OK);
    assert_buf_hex(&b, CLOSE_400_HEX);
    mk_buf_free(&b);
    assert_int_equal(mk_control_encode_close(10413, NULL, &b), MK_OK);
    assert_buf_hex(&b, "80000004 01 ad51 00");
    mk_buf_free(&b);
}

/* Parses one whole frame given in hex with the framer and with the pure functions; both must agree. */
static mk_framed_t parse_one(const char *hex, uint8_t *storage) {
    size_t n = parse_hex(hex, storage, 600);
    mk_frame_hdr_t hdr;
    mk_framed_t pure, fed;
    assert_int_equal(mk_frame_parse_header(storage, MIB16, &hdr, NULL), MK_OK);
    assert_int_equal(4 + hdr.len, n);
    assert_int_equal(mk_frame_body(&hdr, storage + 4, &pure, NULL), MK_OK);
    mk_framer_t f;
    mk_framer_init(&f, MIB16);
    const uint8_t *p = storage;
    assert_int_equal(mk_framer_feed(&f, &p, &n, &fed, NULL), 1);
    assert_int_equal(n, 0);
    assert_ptr_equal(fed.body, storage + 4);  /* whole frame in the input: a view, no copy */
    assert_int_equal(fed.hdr.control, pure.hdr.control);
    assert_int_equal(fed.hdr.len, pure.hdr.len);
    assert_int_equal(fed.control.kind, pure.control.kind);
    mk_framer_free(&f);
    return pure;
}

static void vectors_are_parsed_exactly(void **state) {
    uint8_t s[600];
    mk_framed_t fr = parse_one("00000004 74657374", s);
    assert_false(fr.hdr.control);
    assert_int_equal(fr.hdr.len, 4);
    assert_memory_equal(fr.body, "test", 4);

    fr = parse_one(HELLO_HEX, s);
    mk_network_id_t id = id_00_to_1f();
    assert_true(fr.hdr.control);
    assert_int_equal(fr.control.kind, MK_CONTROL_HELLO);
    assert_int_equal(fr.control.hello.version, 1);
    assert_memory_equal(fr.control.hello.network_id.b, id.b, 32);
    assert_int_equal(fr.control.hello.max_frame, MIB16);

    static const struct { const char *hex; uint32_t code; const char *reason; } CLOSES[] = {
        {"80000004 01 cc01 00", 204, ""},
        {"80000013 01 9003 0f 6672616d6520746f6f206c61726765", 400, "frame too large"},
        {"80000004 01 ad51 00", 10413, ""},
    };
    for (size_t i = 0; i < 3; i++) {
        fr = parse_one(CLOSES[i].hex, s);
        assert_int_equal(fr.control.kind, MK_CONTROL_CLOSE);
        assert_int_equal(fr.control.close.code, CLOSES[i].code);
        assert_int_equal(fr.control.close.reason_len, strlen(CLOSES[i].reason));
        assert_memory_equal(fr.control.close.reason, CLOSES[i].reason, fr.control.close.reason_len);
    }
}

static void empty_data_frame_is_legal(void **state) {
    uint8_t s[600];
    mk_framed_t fr = parse_one("00000000", s);
    assert_false(fr.hdr.control);
    assert_int_equal(fr.hdr.len, 0);
}

/* ---- oversize headers -------------------------------------------------------------------------- */

static void oversize_header_is_refused_after_exactly_4_bytes_without_allocating(void **state) {
    assert_true(alloc_hook_install());
    const uint8_t stream[] = {0x01, 0x00, 0x00, 0x01, 0xaa, 0xbb, 0xcc};
    mk_framer_t f;
    mk_framer_init(&f, MIB16);
    mk_framed_t fr;
    mk_error_t e;
    const uint8_t *p = stream;
    g_allocs = 0;
    g_counting = 1;
    for (int i = 0; i < 3; i++) {  /* one byte at a time: nothing to decide yet */
        size_t one = 1;
        assert_int_equal(mk_framer_feed(&f, &p, &one, &fr, &e), 0);
        assert_int_equal(one, 0);
    }
    size_t n = sizeof stream - 3;
    int rc = mk_framer_feed(&f, &p, &n, &fr, &e);
    g_counting = 0;
    assert_int_equal(rc, MK_EPROTO);
    assert_int_equal(n, sizeof stream - 4);  /* the 4th byte decided; the body was never read */
    assert_int_equal(g_allocs, 0);
    assert_int_equal(mk_framer_memory(&f), 0);
    assert_int_equal(e.close_code, 400);
    assert_string_equal(mk_frame_error_reason(&e), "frame too large: 16777217 > 16777216");
    mk_error_t again;
    assert_int_equal(mk_framer_feed(&f, &p, &n, &fr, &again), MK_EPROTO);  /* sticky */
    assert_string_equal(again.msg, e.msg);
    mk_framer_free(&f);
}

static void header_limits_are_inclusive(void **state) {
    mk_frame_hdr_t hdr;
    mk_error_t e;
    const uint8_t data_max[4] = {0, 0, 0, 10}, data_over[4] = {0, 0, 0, 11};
    const uint8_t ctl_max[4] = {0x80, 0, 0x04, 0x00}, ctl_over[4] = {0x80, 0, 0x04, 0x01};
    assert_int_equal(mk_frame_parse_header(data_max, 10, &hdr, &e), MK_OK);
    assert_int_equal(mk_frame_parse_header(data_over, 10, &hdr, &e), MK_EPROTO);
    assert_string_equal(mk_frame_error_reason(&e), "frame too large: 11 > 10");
    assert_int_equal(mk_frame_parse_header(ctl_max, 10, &hdr, &e), MK_OK);
    assert_int_equal(mk_frame_parse_header(ctl_over, 10, &hdr, &e), MK_EPROTO);
    assert_true(hdr.control);  /* filled even on failure */
    assert_int_equal(hdr.len, 1025);
    assert_int_equal(e.close_code, 400);
    assert_string_equal(mk_frame_error_reason(&e), "control frame too large: 1025 > 1024");
}

/* ---- control frame errors ---------------------------------------------------------------------- */

/* Feeds one frame given in hex; the framer must fail with MK_EPROTO, close 400 and this reason. */
static void assert_frame_refused(const char *hex, const char *reason) {
    static uint8_t s[2048];
    size_t n = parse_hex(hex, s, sizeof s);
    mk_framer_t f;
    mk_framer_init(&f, MIB16);
    mk_framed_t fr;
    mk_error_t e;
    const uint8_t *p = s;
    assert_int_equal(mk_framer_feed(&f, &p, &n, &fr, &e), MK_EPROTO);
    assert_int_equal(e.code, MK_EPROTO);
    assert_int_equal(e.close_code, 400);
    if (strcmp(mk_frame_error_reason(&e), reason) != 0)
        fail_msg("%s: want \"%s\", got \"%s\"", hex, reason, e.msg);
    mk_framer_free(&f);
}

static void control_frame_errors_close_with_400_naming_the_cause(void **state) {
    assert_frame_refused("80000001 02", "control frame: reserved control tag 2 at 0");
    assert_frame_refused("80000002 ff 01", "control frame: reserved control tag 255 at 0");
    assert_frame_refused("80000000", "control frame: truncated varint at 0");
    assert_frame_refused("80000005 00 01 00 01 02", "Hello: truncated: need 32, have 3 at 2");
    assert_frame_refused("80000027 00 81 00 N 80808008", "Hello: non-canonical varint at 1");
    assert_frame_refused("80000002 80 00", "control frame: non-canonical varint at 0");
    assert_frame_refused("80000004 01 8000 00", "Close: non-canonical varint at 1");
    assert_frame_refused("80000005 01 cc01 00 ff", "Close: 1 trailing bytes at 4");
    assert_frame_refused("80000005 01 cc01 01 c0", "Close: invalid UTF-8 at 4");
    assert_frame_refused("80000005 01 cc01 05 61", "Close: truncated: length 5 > 1 left at 3");
    assert_frame_refused("80000401", "control frame too large: 1025 > 1024");
    /* a 300-byte reason fits the 1024-byte body but not the 256-byte reason limit */
    char hex[2048];
    int k = snprintf(hex, sizeof hex, "80000131 01 cc01 ac02 ");
    for (int i = 0; i < 300; i++) k += snprintf(hex + k, sizeof hex - (size_t)k, "61");
    assert_frame_refused(hex, "Close: reason too long: 300 > 256 at 3");
}

static void close_encoder_fits_any_reason_and_close_n_is_strict(void **state) {
    char long_reason[400];
    memset(long_reason, 'r', sizeof long_reason);
    memcpy(long_reason + 254, "\xe2\x82\xac", 3);  /* € straddles the 256-byte limit */
    long_reason[sizeof long_reason - 1] = 0;
    mk_buf_t b = MK_BUF_INIT;
    assert_int_equal(mk_control_encode_close(400, long_reason, &b), MK_OK);
    mk_framed_t fr;
    mk_frame_hdr_t hdr;
    assert_int_equal(mk_frame_parse_header(b.ptr, MIB16, &hdr, NULL), MK_OK);
    assert_int_equal(mk_frame_body(&hdr, (uint8_t *)b.ptr + 4, &fr, NULL), MK_OK);
    assert_int_equal(fr.control.close.reason_len, 254);  /* cut before the € */
    mk_buf_free(&b);

    assert_int_equal(mk_control_encode_close(400, "bad \xff byte", &b), MK_OK);
    assert_buf_hex(&b, "8000000e 01 9003 0a 626164203f2062797465");  /* "bad ? byte" */
    mk_buf_free(&b);

    assert_int_equal(mk_control_encode_close_n(400, long_reason, 257, &b), MK_EINVAL);
    assert_int_equal(mk_control_encode_close_n(400, "\xc0\x80", 2, &b), MK_EINVAL);
    assert_int_equal(b.len, 0);
    assert_int_equal(mk_control_encode_close_n(7, "a\0b", 3, &b), MK_OK);
    assert_buf_hex(&b, "80000006 01 07 03 610062");
    mk_buf_free(&b);
    assert_int_equal(mk_frame_encode_data("abc", 3, 2, &b), MK_E2BIG);
}

/* ---- splits, views, ownership, memory ---------------------------------------------------------- */

/* Hello, a 40-byte data frame, Close 200 "done". */
static size_t three_frame_stream(uint8_t *out) {
    mk_buf_t b = MK_BUF_INIT;
    mk_network_id_t id = id_00_to_1f();
    uint8_t payload[40];
    for (int i = 0; i < 40; i++) payload[i] = (uint8_t)(i * 7);
    assert_int_equal(mk_control_encode_hello(1, &id, MIB16, &b), MK_OK);
    assert_int_equal(mk_frame_encode_data(payload, sizeof payload, MIB16, &b), MK_OK);
    assert_int_equal(mk_control_encode_close(200, "done", &b), MK_OK);
    memcpy(out, b.ptr, b.len);
    size_t n = b.len;
    mk_buf_free(&b);
    return n;
}

static void every_split_of_a_3_frame_stream_gives_the_same_frames(void **state) {
    uint8_t s[256];
    size_t n = three_frame_stream(s);
    assert_int_equal(n, 42 + 44 + 12);
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i; j <= n; j++) {  /* two split points: three chunks */
            mk_framer_t f;
            mk_framer_init(&f, MIB16);
            mk_buf_t out = MK_BUF_INIT;
            size_t frames = 0;
            int rc;
            frames += feed_all(&f, s, i, &out, &rc, NULL);
            assert_int_equal(rc, 0);
            frames += feed_all(&f, s + i, j - i, &out, &rc, NULL);
            assert_int_equal(rc, 0);
            frames += feed_all(&f, s + j, n - j, &out, &rc, NULL);
            assert_int_equal(rc, 0);
            assert_int_equal(frames, 3);
            assert_int_equal(out.len, n);  /* the frames re-encode to the stream itself */
            assert_memory_equal(out.ptr, s, n);
            mk_buf_free(&out);
            mk_framer_free(&f);
        }
    }
}

static void split_body_is_assembled_and_can_be_taken_without_copy(void **state) {
    uint8_t s[256];
    size_t n = three_frame_stream(s);
    mk_framer_t f;
    mk_framer_init(&f, MIB16);
    mk_framed_t fr;
    const uint8_t *p = s;
    size_t first = 42 + 4 + 10;  /* Hello, the data header and 10 payload bytes */
    assert_int_equal(mk_framer_feed(&f, &p, &first, &fr, NULL), 1);
    assert_int_equal(mk_framer_feed(&f, &p, &first, &fr, NULL), 0);
    size_t rest = n - 56;
    assert_int_equal(mk_framer_feed(&f, &p, &rest, &fr, NULL), 1);
    assert_false(fr.hdr.control);
    assert_true(fr.body < s || fr.body >= s + n);  /* assembled in the framer's buffer */
    const uint8_t *assembled = fr.body;
    mk_buf_t owned;
    assert_int_equal(mk_framer_take_body(&f, &fr, &owned), MK_OK);
    assert_ptr_equal(owned.ptr, assembled);  /* moved, not copied */
    assert_int_equal(owned.len, 40);
    assert_memory_equal(owned.ptr, s + 46, 40);
    assert_int_equal(mk_framer_memory(&f), 0);
    mk_buf_free(&owned);
    assert_int_equal(mk_framer_feed(&f, &p, &rest, &fr, NULL), 1);  /* Close, a view into the input */
    assert_ptr_equal(fr.body, s + 90);
    assert_int_equal(mk_framer_take_body(&f, &fr, &owned), MK_OK);  /* copied */
    assert_ptr_not_equal(owned.ptr, fr.body);
    assert_memory_equal(owned.ptr, s + 90, 8);
    mk_buf_free(&owned);
    assert_int_equal(rest, 0);
    mk_framer_free(&f);
}

static void framer_memory_stays_within_the_frame_limit(void **state) {
    const uint32_t max = 100000;
    uint8_t *stream = malloc(4 + max + 4 + 3);
    assert_non_null(stream);
    mk_frame_header_encode(false, max, stream);
    for (uint32_t i = 0; i < max; i++) stream[4 + i] = (uint8_t)(i * 31);
    mk_frame_header_encode(false, 3, stream + 4 + max);
    memcpy(stream + 8 + max, "end", 3);
    mk_framer_t f;
    mk_framer_init(&f, max);
    mk_framed_t fr;
    const uint8_t *p = stream;
    size_t left = 4 + max + 7, got = 0;
    while (left > 0 && got == 0) {
        size_t chunk = left < 999 ? left : 999, before = chunk;
        int rc = mk_framer_feed(&f, &p, &chunk, &fr, NULL);
        assert_true(rc == 0 || rc == 1);
        assert_true(mk_framer_memory(&f) <= max);
        assert_true(mk_framer_memory(&f) <= 2 * (size_t)(p - stream));  /* grows only with bytes fed */
        left -= before - chunk;
        if (rc == 1) got = fr.hdr.len;
    }
    assert_int_equal(got, max);
    assert_memory_equal(fr.body, stream + 4, max);
    assert_int_equal(mk_framer_feed(&f, &p, &left, &fr, NULL), 1);
    assert_memory_equal(fr.body, "end", 3);
    assert_int_equal(mk_framer_memory(&f), 0);  /* a large buffer is released before the next frame */
    mk_framer_free(&f);
    free(stream);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vectors_are_produced_exactly),
        cmocka_unit_test(vectors_are_parsed_exactly),
        cmocka_unit_test(empty_data_frame_is_legal),
        cmocka_unit_test(oversize_header_is_refused_after_exactly_4_bytes_without_allocating),
        cmocka_unit_test(header_limits_are_inclusive),
        cmocka_unit_test(control_frame_errors_close_with_400_naming_the_cause),
        cmocka_unit_test(close_encoder_fits_any_reason_and_close_n_is_strict),
        cmocka_unit_test(every_split_of_a_3_frame_stream_gives_the_same_frames),
        cmocka_unit_test(split_body_is_assembled_and_can_be_taken_without_copy),
        cmocka_unit_test(framer_memory_stays_within_the_frame_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
