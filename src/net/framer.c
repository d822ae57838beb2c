/* net/framer.c — link framing and control frames (see framer.h), built on the codec. */
#include "net/framer.h"

#include "core/codec.h"
#include "core/error.h"
#include "mosaik/network.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* A framer keeps a body buffer this large across frames; a larger one is released before the next frame. */
#define FRAMER_KEEP_BYTES (64u * 1024u)

/* Marks an error record as a protocol violation that closes the link with 400. */
static int close_400(mk_error_t *e, int rc) {
    if (e) e->close_code = MK_CLOSE_PROTOCOL_VIOLATION;
    return rc;
}
#define VIOLATION(e, ...) close_400((e), MK_ERR((e), MK_EPROTO, __VA_ARGS__))

/* ---- pure parsing and encoding ------------------------------------------------------------------- */

void mk_frame_header_encode(bool control, uint32_t len, uint8_t h[4]) {
    assert(len <= MK_FRAME_LEN_MASK);
    uint32_t v = (len & MK_FRAME_LEN_MASK) | (control ? MK_FRAME_CONTROL_BIT : 0);
    h[0] = (uint8_t)(v >> 24);
    h[1] = (uint8_t)(v >> 16);
    h[2] = (uint8_t)(v >> 8);
    h[3] = (uint8_t)v;
}

int mk_frame_parse_header(const uint8_t h[4], uint32_t max_frame, mk_frame_hdr_t *out, mk_error_t *e) {
    uint32_t v = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    out->control = (v & MK_FRAME_CONTROL_BIT) != 0;
    out->len = v & MK_FRAME_LEN_MASK;
    if (out->control && out->len > MK_CONTROL_BODY_MAX)
        return VIOLATION(e, "control frame too large: %u > %u", out->len, MK_CONTROL_BODY_MAX);
    if (!out->control && out->len > max_frame)
        return VIOLATION(e, "frame too large: %u > %u", out->len, max_frame);
    return MK_OK;
}

int mk_control_decode(const uint8_t *body, size_t n, mk_control_t *out, mk_error_t *e) {
    memset(out, 0, sizeof *out);
    if (n > MK_CONTROL_BODY_MAX) return VIOLATION(e, "control frame too large: %zu > %u", n, MK_CONTROL_BODY_MAX);
    mk_dec_t d;
    mk_dec_init(&d, body, n);
    uint32_t tag = mk_dec_u32(&d);
    const char *name = "control frame";
    if (d.err == MK_OK && tag == MK_CONTROL_HELLO) {
        name = "Hello";
        out->kind = MK_CONTROL_HELLO;
        out->hello.version = mk_dec_u32(&d);
        mk_dec_id(&d, &out->hello.network_id);
        out->hello.max_frame = mk_dec_u32(&d);
    } else if (d.err == MK_OK && tag == MK_CONTROL_CLOSE) {
        name = "Close";
        out->kind = MK_CONTROL_CLOSE;
        out->close.code = mk_dec_u32(&d);
        const uint8_t *at = d.p;
        mk_bytes_t reason = mk_dec_str(&d);
        if (d.err == MK_OK && reason.len > MK_CONTROL_REASON_MAX) {
            d.p = at;  /* report the offset of the reason */
            mk_dec_fail(&d, "reason too long: %zu > %u", reason.len, MK_CONTROL_REASON_MAX);
        }
        out->close.reason = reason.ptr;
        out->close.reason_len = reason.len;
    } else if (d.err == MK_OK) {
        d.p = d.start;
        mk_dec_fail(&d, "reserved control tag %u", tag);
    }
    if (mk_dec_finish(&d) != MK_OK) {
        int rc = VIOLATION(e, "%s: %s", name, d.what);
        memset(out, 0, sizeof *out);
        return rc;
    }
    return MK_OK;
}

int mk_frame_body(const mk_frame_hdr_t *hdr, const uint8_t *body, mk_framed_t *out, mk_error_t *e) {
    out->hdr = *hdr;
    out->body = body;
    if (!hdr->control) {
        memset(&out->control, 0, sizeof out->control);
        return MK_OK;
    }
    return mk_control_decode(body, hdr->len, &out->control, e);
}

const char *mk_frame_error_reason(const mk_error_t *e) {
    const char *sep = strstr(e->msg, ": ");
    return sep ? sep + 2 : e->msg;
}

/* Appends header + body as one frame, all or nothing. */
static int append_frame(bool control, const void *body, size_t n, mk_buf_t *out) {
    uint8_t h[4];
    mk_frame_header_encode(control, (uint32_t)n, h);
    if (mk_buf_reserve(out, 4 + n) != MK_OK) return MK_ENOMEM;
    mk_buf_append(out, h, 4);
    mk_buf_append(out, body, n);
    return MK_OK;
}

int mk_frame_encode_data(const void *p, size_t n, uint32_t max_frame, mk_buf_t *out) {
    if (n > max_frame || n > MK_FRAME_LEN_MASK) return MK_E2BIG;
    return append_frame(false, p, n, out);
}

/* Finishes a control body encoder and appends it as a control frame. */
static int append_control(mk_enc_t *enc, mk_buf_t *out) {
    mk_buf_t body;
    int rc = mk_enc_finish(enc, &body);
    assert(rc != MK_E2BIG);
    if (rc == MK_OK) rc = append_frame(true, body.ptr, body.len, out);
    mk_buf_free(&body);
    return rc;
}

int mk_control_encode_hello(uint32_t version, const mk_network_id_t *id, uint32_t max_frame, mk_buf_t *out) {
    mk_enc_t enc;
    mk_enc_init(&enc, MK_CONTROL_BODY_MAX);
    mk_enc_tag(&enc, MK_CONTROL_HELLO);
    mk_enc_u32(&enc, version);
    mk_enc_id(&enc, id);
    mk_enc_u32(&enc, max_frame);
    return append_control(&enc, out);
}

int mk_control_encode_close_n(uint32_t code, const void *reason, size_t len, mk_buf_t *out) {
    if (len > MK_CONTROL_REASON_MAX || !mk_utf8_valid(reason, len, NULL)) return MK_EINVAL;
    mk_enc_t enc;
    mk_enc_init(&enc, MK_CONTROL_BODY_MAX);
    mk_enc_tag(&enc, MK_CONTROL_CLOSE);
    mk_enc_u32(&enc, code);
    mk_enc_strn(&enc, reason, len);
    return append_control(&enc, out);
}

/* Copies s into out (≤ 256 bytes, valid UTF-8): invalid bytes become '?', a character that does not fit
 * whole ends the copy. Returns the length. */
static size_t fit_reason(const char *s, char out[MK_CONTROL_REASON_MAX]) {
    size_t n = 0, len = strlen(s), i = 0;
    while (i < len) {
        /* scan only what can still fit (+3 so a character cut by the window shows as a cut, not '?') */
        size_t window = len - i, room = MK_CONTROL_REASON_MAX - n + 3, bad = 0, step;
        if (window > room) window = room;
        if (mk_utf8_valid(s + i, window, &bad)) bad = window;
        if (bad == 0) {
            step = 1;  /* the byte at i starts an invalid sequence */
            if (n + 1 > MK_CONTROL_REASON_MAX) break;
            out[n++] = '?';
        } else {
            /* copy the valid run [i, i + bad), stopping before a character that would not fit */
            step = bad;
            if (n + step > MK_CONTROL_REASON_MAX) {
                step = MK_CONTROL_REASON_MAX - n;
                while (step > 0 && ((uint8_t)s[i + step] & 0xc0) == 0x80) step--;
                memcpy(out + n, s + i, step);
                n += step;
                break;
            }
            memcpy(out + n, s + i, step);
            n += step;
        }
        i += step;
    }
    return n;
}

int mk_control_encode_close(uint32_t code, const char *reason, mk_buf_t *out) {
    char fitted[MK_CONTROL_REASON_MAX];
    size_t len = fit_reason(reason ? reason : "", fitted);
    return mk_control_encode_close_n(code, fitted, len, out);
}

int mk_control_encode(const mk_control_t *c, mk_buf_t *out) {
    if (c->kind == MK_CONTROL_HELLO)
        return mk_control_encode_hello(c->hello.version, &c->hello.network_id, c->hello.max_frame, out);
    if (c->kind == MK_CONTROL_CLOSE)
        return mk_control_encode_close_n(c->close.code, c->close.reason, c->close.reason_len, out);
    return MK_EINVAL;
}

/* ---- chunk-fed framer ---------------------------------------------------------------------------- */

void mk_framer_init(mk_framer_t *f, uint32_t max_frame) {
    memset(f, 0, sizeof *f);
    f->max_frame = max_frame;
}

void mk_framer_free(mk_framer_t *f) {
    free(f->body);
    f->body = NULL;
    f->body_have = f->body_cap = 0;
}

/* Remembers the first failure in f and reports it. */
static int framer_fail(mk_framer_t *f, const mk_error_t *err, mk_error_t *e) {
    f->failed = true;
    f->err = *err;
    mk_err_copy(e, err);
    return err->code;
}

/* Makes room for `need` body bytes: at most doubling, never past the frame's length. */
static bool grow_body(mk_framer_t *f, size_t need) {
    if (need <= f->body_cap) return true;
    size_t cap = f->body_cap * 2 > need ? f->body_cap * 2 : need;
    if (cap > f->cur.len) cap = f->cur.len;
    uint8_t *p = realloc(f->body, cap);
    if (!p) return false;
    f->body = p;
    f->body_cap = cap;
    return true;
}

/* Completes the current frame with its whole body. */
static int deliver(mk_framer_t *f, const uint8_t *body, mk_framed_t *out, mk_error_t *e) {
    mk_error_t err;
    f->in_body = false;
    f->hdr_have = 0;
    f->body_have = 0;
    if (mk_frame_body(&f->cur, body, out, &err) != MK_OK) return framer_fail(f, &err, e);
    return 1;
}

int mk_framer_feed(mk_framer_t *f, const uint8_t **p, size_t *n, mk_framed_t *out, mk_error_t *e) {
    mk_error_t err;
    if (f->failed) {
        mk_err_copy(e, &f->err);
        return f->err.code;
    }
    if (!f->in_body && f->hdr_have == 0 && f->body_cap > FRAMER_KEEP_BYTES) mk_framer_free(f);
    if (!f->in_body) {
        const uint8_t *h;
        if (f->hdr_have == 0 && *n >= 4) {  /* whole header in the input: no copy */
            h = *p;
        } else {
            size_t want = 4u - f->hdr_have, got = *n < want ? *n : want;
            if (got) memcpy(f->hdr + f->hdr_have, *p, got);
            f->hdr_have = (uint8_t)(f->hdr_have + got);
            *p += got;
            *n -= got;
            if (f->hdr_have < 4) return 0;
            h = f->hdr;
        }
        int rc = mk_frame_parse_header(h, f->max_frame, &f->cur, &err);
        if (h != f->hdr) {
            *p += 4;
            *n -= 4;
        }
        f->hdr_have = 4;
        if (rc != MK_OK) return framer_fail(f, &err, e);
        f->in_body = true;
        f->body_have = 0;
        if (*n >= f->cur.len) {  /* whole body in the input: hand out a view */
            const uint8_t *body = *p;
            *p += f->cur.len;
            *n -= f->cur.len;
            return deliver(f, body, out, e);
        }
    }
    size_t want = f->cur.len - f->body_have, got = *n < want ? *n : want;
    if (got) {
        if (!grow_body(f, f->body_have + got)) {
            MK_ERR(&err, MK_ENOMEM, "out of memory buffering a %u-byte frame", f->cur.len);
            return framer_fail(f, &err, e);
        }
        memcpy(f->body + f->body_have, *p, got);
        f->body_have += got;
        *p += got;
        *n -= got;
    }
    if (f->body_have < f->cur.len) return 0;
    return deliver(f, f->body, out, e);
}

int mk_framer_take_body(mk_framer_t *f, const mk_framed_t *fr, mk_buf_t *out) {
    *out = (mk_buf_t)MK_BUF_INIT;
    if (fr->hdr.len == 0) return MK_OK;
    if (fr->body == f->body) {  /* assembled in our buffer: move it */
        out->ptr = f->body;
        out->len = fr->hdr.len;
        out->cap = f->body_cap;
        f->body = NULL;
        f->body_cap = 0;
        return MK_OK;
    }
    return mk_buf_append(out, fr->body, fr->hdr.len);
}
