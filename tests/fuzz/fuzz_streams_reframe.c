/* fuzz/fuzz_streams_reframe.c — stream messages over the link framer (spec 30 §11): byte 0 picks the
 * frame limit and seeds the chunking, the rest is what a peer sent. Fed in one piece and in random
 * read chunks, the framer yields the same frames and the same end (status and message); every data
 * frame decodes to the same stream message either way (or is refused the same way); a length over
 * the limit is refused from its header, before the body is buffered (framer memory stays within
 * max(limit, control maximum) and about twice the bytes fed). */
#include "fuzz/fuzz_check.h"
#include "net/framer.h"
#include "streams/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct outcome {
    mk_buf_t log;   /* per frame: kind byte, then the decoded message's fields or the refusal code */
    size_t frames;
    int status;     /* 0: input exhausted; < 0: framer error */
    char msg[256];
} outcome_t;

static void record(outcome_t *o, const mk_framed_t *fr) {
    o->frames++;
    uint8_t kind = fr->hdr.control ? 0xC0 : 0xD0;
    CHECK(mk_buf_append(&o->log, &kind, 1) == MK_OK);
    if (fr->hdr.control) return;
    mk_smsg_t m;
    mk_error_t e;
    int rc = mk_smsg_decode(fr->body, fr->hdr.len, &m, &e);
    int32_t code = rc == MK_OK ? (int32_t)m.kind : rc;
    CHECK(mk_buf_append(&o->log, &code, sizeof code) == MK_OK);
    if (rc != MK_OK) {
        CHECK(rc == MK_EPROTO);
        return;
    }
    switch (m.kind) {
    case MK_SMSG_SUBSCRIBE:
    case MK_SMSG_ACCEPTED:
        CHECK(mk_buf_append(&o->log, &m.network, sizeof m.network) == MK_OK);
        CHECK(mk_buf_append(&o->log, &m.stream, sizeof m.stream) == MK_OK);
        CHECK(mk_buf_append(&o->log, &m.criteria, sizeof m.criteria) == MK_OK);
        break;
    case MK_SMSG_DATUM:
        CHECK(m.datum.len + 1 == fr->hdr.len);
        CHECK(mk_buf_append(&o->log, &m.datum.len, sizeof m.datum.len) == MK_OK);
        CHECK(m.datum.len == 0 || mk_buf_append(&o->log, m.datum.ptr, m.datum.len) == MK_OK);
        break;
    case MK_SMSG_DROPPED:
        CHECK(m.dropped >= 1);
        CHECK(mk_buf_append(&o->log, &m.dropped, sizeof m.dropped) == MK_OK);
        break;
    }
}

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
            chunk = r % 4 == 0 ? r % 3 : r % 200;
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
                CHECK(rc == MK_EPROTO && e.close_code == 400);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const uint32_t LIMITS[4] = {1u << 20, 65, 300, 4096};
    uint32_t max_frame = LIMITS[data[0] % 4];
    outcome_t whole, chunked;
    run(data + 1, size - 1, max_frame, 0, &whole);
    run(data + 1, size - 1, max_frame, 0x2545f4914f6cdd1dull ^ data[0] ^ ((uint64_t)size << 8), &chunked);
    CHECK(whole.frames == chunked.frames);
    CHECK(whole.status == chunked.status);
    CHECK(strcmp(whole.msg + strcspn(whole.msg, ":"), chunked.msg + strcspn(chunked.msg, ":")) == 0);
    CHECK(whole.log.len == chunked.log.len);
    CHECK(whole.log.len == 0 || memcmp(whole.log.ptr, chunked.log.ptr, whole.log.len) == 0);
    mk_buf_free(&whole.log);
    mk_buf_free(&chunked.log);
    return 0;
}
