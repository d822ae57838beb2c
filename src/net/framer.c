/* net/framer.c — link framing and control frames (see framer.h). */
#include "net/framer.h"

#include "core/error.h"

#include <string.h>

void mk_frame_header_encode(bool control, uint32_t len, uint8_t h[4]) {
    uint32_t v = (len & MK_FRAME_LEN_MASK) | (control ? 0x80000000u : 0);
    h[0] = (uint8_t)(v >> 24);
    h[1] = (uint8_t)(v >> 16);
    h[2] = (uint8_t)(v >> 8);
    h[3] = (uint8_t)v;
}

int mk_frame_parse_header(const uint8_t h[4], uint32_t max_frame, mk_frame_hdr_t *out, mk_error_t *e) {
    uint32_t v = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    out->control = (v & 0x80000000u) != 0;
    out->len = v & MK_FRAME_LEN_MASK;
    if (out->control && out->len > MK_CONTROL_BODY_MAX)
        return MK_ERR(e, MK_EPROTO, "control frame too large: %u > %u", out->len, MK_CONTROL_BODY_MAX);
    if (!out->control && out->len > max_frame)
        return MK_ERR(e, MK_EPROTO, "frame too large: %u > %u", out->len, max_frame);
    return MK_OK;
}

/* Minimal canonical u32 varint reader for control bodies. */
static bool read_u32(const uint8_t **p, const uint8_t *end, uint32_t *out, const char **why) {
    uint64_t v = 0;
    for (unsigned i = 0; i < 5; i++) {
        if (*p >= end) {
            *why = "truncated varint";
            return false;
        }
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (i > 0 && b == 0) {
                *why = "non-canonical varint";
                return false;
            }
            if (v > UINT32_MAX) {
                *why = "varint overflows u32";
                return false;
            }
            *out = (uint32_t)v;
            return true;
        }
    }
    *why = "varint longer than 5 bytes";
    return false;
}

static bool valid_utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
        else return false;
        if (i + len > n) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += len;
    }
    return true;
}

int mk_control_decode(const uint8_t *body, size_t n, mk_control_t *out, mk_error_t *e) {
    const uint8_t *p = body, *end = body + n;
    const char *why = NULL;
    uint32_t tag;
    memset(out, 0, sizeof *out);
    if (!read_u32(&p, end, &tag, &why)) return MK_ERR(e, MK_EPROTO, "control tag: %s", why);
    if (tag == MK_CONTROL_HELLO) {
        out->kind = MK_CONTROL_HELLO;
        if (!read_u32(&p, end, &out->hello.version, &why)) return MK_ERR(e, MK_EPROTO, "Hello version: %s", why);
        if (end - p < 32) return MK_ERR(e, MK_EPROTO, "Hello network_id: truncated");
        memcpy(out->hello.network_id.b, p, 32);
        p += 32;
        if (!read_u32(&p, end, &out->hello.max_frame, &why)) return MK_ERR(e, MK_EPROTO, "Hello max_frame: %s", why);
    } else if (tag == MK_CONTROL_CLOSE) {
        out->kind = MK_CONTROL_CLOSE;
        uint32_t len;
        if (!read_u32(&p, end, &out->close.code, &why)) return MK_ERR(e, MK_EPROTO, "Close code: %s", why);
        if (!read_u32(&p, end, &len, &why)) return MK_ERR(e, MK_EPROTO, "Close reason length: %s", why);
        if (len > MK_CONTROL_REASON_MAX)
            return MK_ERR(e, MK_EPROTO, "Close reason too long: %u > %u", len, MK_CONTROL_REASON_MAX);
        if ((size_t)(end - p) < len) return MK_ERR(e, MK_EPROTO, "Close reason: truncated");
        if (!valid_utf8(p, len)) return MK_ERR(e, MK_EPROTO, "Close reason: invalid UTF-8");
        out->close.reason = p;
        out->close.reason_len = len;
        p += len;
    } else {
        return MK_ERR(e, MK_EPROTO, "unknown control tag %u", tag);
    }
    if (p != end) return MK_ERR(e, MK_EPROTO, "%zu trailing bytes after control message", (size_t)(end - p));
    return MK_OK;
}

static size_t put_u32(uint8_t *p, uint32_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static int append_control(mk_buf_t *out, const uint8_t *body, size_t n) {
    uint8_t h[4];
    mk_frame_header_encode(true, (uint32_t)n, h);
    int rc = mk_buf_reserve(out, n + 4);
    if (rc) return rc;
    mk_buf_append(out, h, 4);
    return mk_buf_append(out, body, n);
}

int mk_control_encode_hello(uint32_t version, const mk_network_id_t *id, uint32_t max_frame, mk_buf_t *out) {
    uint8_t body[5 + 5 + 32 + 5];
    size_t n = put_u32(body, MK_CONTROL_HELLO);
    n += put_u32(body + n, version);
    memcpy(body + n, id->b, 32);
    n += 32;
    n += put_u32(body + n, max_frame);
    return append_control(out, body, n);
}

int mk_control_encode_close(uint32_t code, const char *reason, mk_buf_t *out) {
    size_t rlen = reason ? strlen(reason) : 0;
    if (rlen > MK_CONTROL_REASON_MAX) return MK_EINVAL;
    uint8_t body[5 + 5 + 5 + MK_CONTROL_REASON_MAX];
    size_t n = put_u32(body, MK_CONTROL_CLOSE);
    n += put_u32(body + n, code);
    n += put_u32(body + n, (uint32_t)rlen);
    if (rlen) memcpy(body + n, reason, rlen);
    n += rlen;
    return append_control(out, body, n);
}

void mk_framer_init(mk_framer_t *f, uint32_t max_frame) {
    memset(f, 0, sizeof *f);
    f->max_frame = max_frame;
}

void mk_framer_free(mk_framer_t *f) { mk_buf_free(&f->buf); }

int mk_framer_next(mk_framer_t *f, const uint8_t **p, size_t *n, mk_framed_t *out, mk_error_t *e) {
    if (f->failed) return MK_ERR(e, MK_EPROTO, "framer already failed");
    for (;;) {
        uint8_t *b = f->buf.ptr;
        if (f->buf.len >= 4) {
            mk_frame_hdr_t hdr;
            if (mk_frame_parse_header(b, f->max_frame, &hdr, e) != MK_OK) {
                f->failed = true;
                return MK_EPROTO;
            }
            size_t want = 4 + (size_t)hdr.len;
            if (f->buf.len < want) {
                size_t take = want - f->buf.len;
                if (take > *n) take = *n;
                if (take && mk_buf_append(&f->buf, *p, take) != MK_OK) return MK_ERR(e, MK_ENOMEM, "out of memory");
                *p += take;
                *n -= take;
                b = f->buf.ptr;
            }
            if (f->buf.len == want) {
                out->hdr = hdr;
                out->body = b + 4;
                f->buf.len = 0;  /* bytes stay valid until the next append */
                return 1;
            }
            return 0;
        }
        size_t take = 4 - f->buf.len;
        if (take > *n) take = *n;
        if (take == 0) return 0;
        if (mk_buf_append(&f->buf, *p, take) != MK_OK) return MK_ERR(e, MK_ENOMEM, "out of memory");
        *p += take;
        *n -= take;
    }
}
