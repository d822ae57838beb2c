/* fuzz/fuzz_framer.c — the chunk-fed framer: byte 0 picks the frame limit and seeds the chunking, the rest
 * is the stream. Fed in one piece and in random chunks, the framer must yield the same frames and end the
 * same way (same status and message); the frames re-encode to exactly the bytes consumed; the framer's
 * memory never exceeds max(limit, 1024) nor about twice the bytes fed. The peeking path (parse_header +
 * frame_body on the contiguous stream) must agree too. */
#include "net/framer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_check.h"

typedef struct outcome {
    mk_buf_t frames;  /* every frame re-encoded, concatenated */
    size_t count;
    int status;       /* 0: input exhausted; < 0: error */
    char msg[256];
} outcome_t;

static void record(outcome_t *o, const mk_framed_t *fr) {
    uint8_t h[4];
    mk_frame_header_encode(fr->hdr.control, fr->hdr.len, h);
    CHECK(mk_buf_append(&o->frames, h, 4) == MK_OK);
    if (fr->hdr.control) {  /* decoded control frames re-encode to the same body */
        mk_buf_t again = MK_BUF_INIT;
        CHECK(mk_control_encode(&fr->control, &again) == MK_OK);
        CHECK(again.len == 4 + (size_t)fr->hdr.len);
        CHECK(memcmp(again.ptr, h, 4) == 0);
        CHECK(fr->hdr.len == 0 || memcmp((uint8_t *)again.ptr + 4, fr->body, fr->hdr.len) == 0);
        mk_buf_free(&again);
    }
    CHECK(mk_buf_append(&o->frames, fr->body, fr->hdr.len) == MK_OK);
    o->count++;
}

/* Feeds the stream in chunks (chunk_seed 0 = one piece) and records what comes out. */
static void run(const uint8_t *in, size_t n, uint32_t max_frame, uint64_t chunk_seed, outcome_t *o) {
    memset(o, 0, sizeof *o);
    mk_framer_t f;
    mk_framer_init(&f, max_frame);
    size_t limit = max_frame > MK_CONTROL_BODY_MAX ? max_frame : MK_CONTROL_BODY_MAX, fed = 0;
    uint64_t s = chunk_seed;
    while (fed < n && o->status == 0) {
        size_t chunk = n - fed;
        if (chunk_seed) {
            size_t r = (size_t)fuzz_next_rand(&s);
            chunk = r % 4 == 0 ? r % 3 : r % 64;  /* often tiny, sometimes empty */
            if (chunk > n - fed) chunk = n - fed;
        }
        const uint8_t *p = in + fed;
        size_t left = chunk;
        for (;;) {
            mk_framed_t fr;
            mk_error_t e;
            int rc = mk_framer_feed(&f, &p, &left, &fr, &e);
            CHECK(mk_framer_memory(&f) <= limit);
            CHECK(mk_framer_memory(&f) <= 2 * (fed + chunk - left) + 1);
            if (rc == 1) {
                record(o, &fr);
                continue;
            }
            if (rc < 0) {
                CHECK(rc == e.code);
                CHECK(rc == MK_EPROTO);
                CHECK(e.close_code == 400);
                CHECK(mk_frame_error_reason(&e)[0] != 0);
                snprintf(o->msg, sizeof o->msg, "%s", e.msg);
                o->status = rc;
            } else {
                CHECK(rc == 0 && left == 0);
            }
            break;
        }
        fed += chunk;
    }
    mk_framer_free(&f);
}

/* The peeking path of a link layer: header from 4 bytes, body once it is all there. */
static void run_peeking(const uint8_t *in, size_t n, uint32_t max_frame, outcome_t *o) {
    memset(o, 0, sizeof *o);
    size_t at = 0;
    while (n - at >= 4) {
        mk_frame_hdr_t hdr;
        mk_framed_t fr;
        mk_error_t e;
        int rc = mk_frame_parse_header(in + at, max_frame, &hdr, &e);
        if (rc == MK_OK && n - at - 4 < hdr.len) break;  /* body not all there */
        if (rc == MK_OK) rc = mk_frame_body(&hdr, in + at + 4, &fr, &e);
        if (rc != MK_OK) {
            snprintf(o->msg, sizeof o->msg, "%s", e.msg);
            o->status = rc;
            return;
        }
        record(o, &fr);
        at += 4 + (size_t)hdr.len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const uint32_t LIMITS[4] = {16u << 20, 0, 64, 3000};
    uint32_t max_frame = LIMITS[data[0] % 4];
    const uint8_t *in = data + 1;
    size_t n = size - 1;

    outcome_t whole, chunked, peeked;
    run(in, n, max_frame, 0, &whole);
    run(in, n, max_frame, 0x9e3779b97f4a7c15ull ^ data[0] ^ ((uint64_t)size << 8), &chunked);
    run_peeking(in, n, max_frame, &peeked);

    CHECK(whole.frames.len <= n);
    CHECK(whole.frames.len == 0 || memcmp(whole.frames.ptr, in, whole.frames.len) == 0);
    const outcome_t *others[2] = {&chunked, &peeked};
    for (int i = 0; i < 2; i++) {
        const outcome_t *o = others[i];
        CHECK(o->count == whole.count);
        CHECK(o->status == whole.status);
        CHECK(strcmp(o->msg + strcspn(o->msg, ":"), whole.msg + strcspn(whole.msg, ":")) == 0);
        CHECK(o->frames.len == whole.frames.len);
        CHECK(o->frames.len == 0 || memcmp(o->frames.ptr, whole.frames.ptr, o->frames.len) == 0);
    }
    mk_buf_free(&whole.frames);
    mk_buf_free(&chunked.frames);
    mk_buf_free(&peeked.frames);
    return 0;
}
