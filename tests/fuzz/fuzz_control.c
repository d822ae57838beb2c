/* fuzz/fuzz_control.c — control frame bodies (Hello, Close): the input is one body. Accepted bodies must
 * encode back to identical bytes (with the right control header) and decode again to the same message;
 * Close reasons must be valid UTF-8 of at most 256 bytes; rejections must be MK_EPROTO closing with 400 and
 * a reason; the framer, fed the same body as a control frame, must reach the same verdict. */
#include "core/codec.h"
#include "net/framer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_check.h"

static bool same_control(const mk_control_t *a, const mk_control_t *b) {
    if (a->kind != b->kind) return false;
    if (a->kind == MK_CONTROL_HELLO)
        return a->hello.version == b->hello.version && a->hello.max_frame == b->hello.max_frame &&
               memcmp(a->hello.network_id.b, b->hello.network_id.b, 32) == 0;
    return a->close.code == b->close.code && a->close.reason_len == b->close.reason_len &&
           (a->close.reason_len == 0 || memcmp(a->close.reason, b->close.reason, a->close.reason_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mk_control_t c;
    mk_error_t e;
    int rc = mk_control_decode(data, size, &c, &e);

    /* the same body through the framer as a control frame */
    if (size <= MK_FRAME_LEN_MASK) {
        uint8_t *frame = malloc(4 + size);
        CHECK(frame != NULL);
        mk_frame_header_encode(true, (uint32_t)size, frame);
        if (size) memcpy(frame + 4, data, size);
        mk_framer_t f;
        mk_framer_init(&f, 0);
        const uint8_t *p = frame;
        size_t n = 4 + size;
        mk_framed_t fr;
        mk_error_t fe;
        int frc = mk_framer_feed(&f, &p, &n, &fr, &fe);
        if (size > MK_CONTROL_BODY_MAX) {
            CHECK(frc == MK_EPROTO && n == size);  /* refused right after the header */
            CHECK(rc == MK_EPROTO);
        } else if (rc == MK_OK) {
            CHECK(frc == 1 && n == 0 && fr.hdr.control && same_control(&fr.control, &c));
        } else {
            CHECK(frc == rc && strcmp(fe.msg, e.msg) == 0);
        }
        mk_framer_free(&f);
        free(frame);
    }

    if (rc != MK_OK) {
        CHECK(rc == MK_EPROTO && e.code == MK_EPROTO);
        CHECK(e.close_code == 400);
        CHECK(mk_frame_error_reason(&e)[0] != 0);
        return 0;
    }
    CHECK(size <= MK_CONTROL_BODY_MAX);
    CHECK(c.kind == MK_CONTROL_HELLO || c.kind == MK_CONTROL_CLOSE);
    if (c.kind == MK_CONTROL_CLOSE) {
        CHECK(c.close.reason_len <= MK_CONTROL_REASON_MAX);
        CHECK(mk_utf8_valid(c.close.reason, c.close.reason_len, NULL));
        CHECK(c.close.reason_len == 0 || (c.close.reason >= data && c.close.reason + c.close.reason_len <= data + size));
    }
    mk_buf_t out = MK_BUF_INIT;
    CHECK(mk_control_encode(&c, &out) == MK_OK);
    CHECK(out.len == 4 + size);
    mk_frame_hdr_t hdr;
    CHECK(mk_frame_parse_header(out.ptr, 0, &hdr, NULL) == MK_OK);
    CHECK(hdr.control && hdr.len == size);
    CHECK(size == 0 || memcmp((uint8_t *)out.ptr + 4, data, size) == 0);
    mk_control_t again;
    CHECK(mk_control_decode((uint8_t *)out.ptr + 4, size, &again, NULL) == MK_OK);
    CHECK(same_control(&again, &c));
    mk_buf_free(&out);
    return 0;
}
