/* core/codec.c — the wire codec of spec 10 §2.1 (see codec.h): encoder, canonical-only decoder, UTF-8. */
#include "core/codec.h"

#include "core/error.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- encoder --------------------------------------------------------------------------------------- */

void mk_enc_init(mk_enc_t *e, size_t limit) {
    e->out = (mk_buf_t)MK_BUF_INIT;
    e->limit = limit ? limit : SIZE_MAX;
    e->err = MK_OK;
}

/* Room for n more bytes at the end of the output, or NULL with the sticky error set. */
static uint8_t *enc_room(mk_enc_t *e, size_t n) {
    if (e->err) return NULL;
    if (n > e->limit || e->out.len > e->limit - n) {
        e->err = MK_E2BIG;
        return NULL;
    }
    if (e->out.cap - e->out.len < n && mk_buf_reserve(&e->out, n) != MK_OK) {
        e->err = MK_ENOMEM;
        return NULL;
    }
    return (uint8_t *)e->out.ptr + e->out.len;
}

static void enc_put(mk_enc_t *e, const void *p, size_t n) {
    if (n == 0) return;
    uint8_t *dst = enc_room(e, n);
    if (!dst) return;
    memcpy(dst, p, n);
    e->out.len += n;
}

void mk_enc_u8(mk_enc_t *e, uint8_t v) { enc_put(e, &v, 1); }

void mk_enc_i8(mk_enc_t *e, int8_t v) { mk_enc_u8(e, (uint8_t)v); }

void mk_enc_bool(mk_enc_t *e, bool v) { mk_enc_u8(e, v ? 1 : 0); }

void mk_enc_option(mk_enc_t *e, bool present) { mk_enc_u8(e, present ? 1 : 0); }

void mk_enc_uvar(mk_enc_t *e, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    enc_put(e, tmp, n);
}

void mk_enc_svar(mk_enc_t *e, int64_t v) {
    uint64_t u = (uint64_t)v;
    mk_enc_uvar(e, (u << 1) ^ (0 - (u >> 63)));
}

void mk_enc_count(mk_enc_t *e, size_t n) { mk_enc_uvar(e, n); }

void mk_enc_tag(mk_enc_t *e, uint32_t tag) { mk_enc_uvar(e, tag); }

static void put_le(uint8_t *dst, uint64_t bits, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = (uint8_t)(bits >> (8 * i));
}

void mk_enc_f32(mk_enc_t *e, float v) {
    uint32_t bits;
    uint8_t tmp[4];
    memcpy(&bits, &v, sizeof bits);
    put_le(tmp, bits, 4);
    enc_put(e, tmp, 4);
}

void mk_enc_f64(mk_enc_t *e, double v) {
    uint64_t bits;
    uint8_t tmp[8];
    memcpy(&bits, &v, sizeof bits);
    put_le(tmp, bits, 8);
    enc_put(e, tmp, 8);
}

void mk_enc_raw(mk_enc_t *e, const void *p, size_t n) { enc_put(e, p, n); }

void mk_enc_bytes(mk_enc_t *e, const void *p, size_t n) {
    mk_enc_uvar(e, n);
    enc_put(e, p, n);
}

void mk_enc_strn(mk_enc_t *e, const char *s, size_t n) {
    if (e->err) return;
    if (!mk_utf8_valid(s, n, NULL)) {
        e->err = MK_EINVAL;
        return;
    }
    mk_enc_bytes(e, s, n);
}

void mk_enc_str(mk_enc_t *e, const char *s) { mk_enc_strn(e, s, s ? strlen(s) : 0); }

void mk_enc_id(mk_enc_t *e, const mk_id_t *id) { enc_put(e, id->b, sizeof id->b); }

int mk_enc_finish(mk_enc_t *e, mk_buf_t *out) {
    int rc = e->err;
    if (rc != MK_OK || !out) {
        mk_buf_free(&e->out);
        if (out) *out = (mk_buf_t)MK_BUF_INIT;
    } else {
        *out = e->out;
        e->out = (mk_buf_t)MK_BUF_INIT;
    }
    e->err = MK_OK;
    return rc;
}

int mk_key_cmp(const void *a, size_t a_len, const void *b, size_t b_len) {
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0) return c;
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

/* ---- decoder --------------------------------------------------------------------------------------- */

static const uint8_t EMPTY_INPUT[1];

void mk_dec_init(mk_dec_t *d, const void *p, size_t n) {
    const uint8_t *b = p ? p : EMPTY_INPUT;
    assert(p || n == 0);
    d->start = d->p = b;
    d->end = p ? b + n : b;
    d->err = MK_OK;
    d->what[0] = 0;
    d->depth = 0;
}

/* Sets the sticky error (first one wins): "<cause> at <offset of at>"; a long cause is cut, never the
 * offset. Returns false for tail calls. */
__attribute__((format(printf, 4, 0)))
static bool vfail_at(mk_dec_t *d, int code, const uint8_t *at, const char *fmt, va_list ap) {
    if (d->err) return false;
    char suffix[32];
    int sn = snprintf(suffix, sizeof suffix, " at %zu", (size_t)(at - d->start));
    size_t suffix_len = sn > 0 ? (size_t)sn : 0;
    int cn = vsnprintf(d->what, sizeof d->what - suffix_len, fmt, ap);
    size_t cause_len = cn < 0 ? 0 : (size_t)cn;
    if (cause_len > sizeof d->what - suffix_len - 1) cause_len = sizeof d->what - suffix_len - 1;
    memcpy(d->what + cause_len, suffix, suffix_len + 1);
    d->err = code;
    return false;
}

__attribute__((format(printf, 4, 5)))
static bool fail_at(mk_dec_t *d, int code, const uint8_t *at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail_at(d, code, at, fmt, ap);
    va_end(ap);
    return false;
}

int mk_dec_fail(mk_dec_t *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail_at(d, MK_EPROTO, d->p, fmt, ap);
    va_end(ap);
    return d->err;
}

/* Returns the next n bytes and advances, or NULL ("truncated") without advancing. */
static const uint8_t *take(mk_dec_t *d, size_t n) {
    if (d->err) return NULL;
    if ((size_t)(d->end - d->p) < n) {
        fail_at(d, MK_EPROTO, d->p, "truncated: need %zu, have %zu", n, (size_t)(d->end - d->p));
        return NULL;
    }
    const uint8_t *p = d->p;
    d->p += n;
    return p;
}

uint8_t mk_dec_u8(mk_dec_t *d) {
    const uint8_t *p = take(d, 1);
    return p ? *p : 0;
}

int8_t mk_dec_i8(mk_dec_t *d) {
    uint8_t u = mk_dec_u8(d);
    return u < 0x80 ? (int8_t)u : (int8_t)(-(int)(0x100 - u));
}

/* A byte that must be 00 or 01; `name` is "bool" or "option byte". */
static bool dec_flag(mk_dec_t *d, const char *name) {
    if (d->err) return false;
    if (d->p < d->end && *d->p > 1) return fail_at(d, MK_EPROTO, d->p, "bad %s 0x%02x", name, *d->p);
    return mk_dec_u8(d) == 1;
}

bool mk_dec_bool(mk_dec_t *d) { return dec_flag(d, "bool"); }

bool mk_dec_option(mk_dec_t *d) { return dec_flag(d, "option byte"); }

uint64_t mk_dec_uvar(mk_dec_t *d, unsigned bits) {
    if (d->err) return 0;
    if (bits == 0 || bits > 64) return fail_at(d, MK_EINVAL, d->p, "bad varint width %u", bits), 0;
    const uint8_t *p = d->p;
    if (bits >= 7 && p < d->end && *p < 0x80) {  /* one-byte fast path */
        d->p++;
        return *p;
    }
    unsigned max_bytes = (bits + 6) / 7;
    uint64_t v = 0;
    for (unsigned i = 0;; i++) {
        if (p + i >= d->end) return fail_at(d, MK_EPROTO, p, "truncated varint"), 0;
        uint8_t b = p[i];
        if (i == max_bytes - 1) {
            if (b & 0x80) return fail_at(d, MK_EPROTO, p, "varint too long for u%u", bits), 0;
            unsigned left = bits - 7 * i;  /* value bits the last byte may carry: 1…7 */
            if (left < 7 && (b >> left) != 0) return fail_at(d, MK_EPROTO, p, "varint overflow for u%u", bits), 0;
        }
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (b == 0 && i > 0) return fail_at(d, MK_EPROTO, p, "non-canonical varint"), 0;
            d->p = p + i + 1;
            return v;
        }
    }
}

int64_t mk_dec_svar(mk_dec_t *d, unsigned bits) {
    uint64_t u = mk_dec_uvar(d, bits);
    uint64_t mag = u >> 1;  /* ≤ 2^63 − 1 */
    return (u & 1) ? -(int64_t)mag - 1 : (int64_t)mag;
}

static uint64_t get_le(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

float mk_dec_f32(mk_dec_t *d) {
    const uint8_t *p = take(d, 4);
    uint32_t bits = p ? (uint32_t)get_le(p, 4) : 0;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

double mk_dec_f64(mk_dec_t *d) {
    const uint8_t *p = take(d, 8);
    uint64_t bits = p ? get_le(p, 8) : 0;
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

mk_bytes_t mk_dec_bytes(mk_dec_t *d) {
    mk_bytes_t out = {NULL, 0};
    const uint8_t *at = d->p;
    uint64_t n = mk_dec_uvar(d, 64);
    if (d->err) return out;
    if (n > (uint64_t)(d->end - d->p)) {
        fail_at(d, MK_EPROTO, at, "truncated: length %llu > %zu left", (unsigned long long)n,
                (size_t)(d->end - d->p));
        return out;
    }
    out.ptr = d->p;
    out.len = (size_t)n;
    d->p += n;
    return out;
}

mk_bytes_t mk_dec_str(mk_dec_t *d) {
    mk_bytes_t s = mk_dec_bytes(d);
    size_t bad;
    if (d->err || mk_utf8_valid(s.ptr, s.len, &bad)) return s;
    fail_at(d, MK_EPROTO, (const uint8_t *)s.ptr + bad, "invalid UTF-8");
    return (mk_bytes_t){NULL, 0};
}

mk_bytes_t mk_dec_raw_view(mk_dec_t *d, size_t n) {
    const uint8_t *p = take(d, n);
    return p ? (mk_bytes_t){p, n} : (mk_bytes_t){NULL, 0};
}

void mk_dec_raw(mk_dec_t *d, void *out, size_t n) {
    const uint8_t *p = take(d, n);
    if (p) memcpy(out, p, n);
    else if (n) memset(out, 0, n);
}

void mk_dec_id(mk_dec_t *d, mk_id_t *out) { mk_dec_raw(d, out->b, sizeof out->b); }

uint32_t mk_dec_tag(mk_dec_t *d, uint32_t ntags) {
    const uint8_t *at = d->p;
    uint32_t tag = (uint32_t)mk_dec_uvar(d, 32);
    if (d->err) return 0;
    if (tag >= ntags) return fail_at(d, MK_EPROTO, at, "enum tag %u out of range (< %u)", tag, ntags), 0;
    return tag;
}

size_t mk_dec_count(mk_dec_t *d, size_t min_elem_bytes) {
    const uint8_t *at = d->p;
    if (d->err) return 0;
    if (min_elem_bytes == 0) return fail_at(d, MK_EINVAL, at, "zero-sized sequence element"), 0;
    uint64_t n = mk_dec_uvar(d, 64);
    if (d->err) return 0;
    size_t left = (size_t)(d->end - d->p);
    if (n > left / min_elem_bytes)
        return fail_at(d, MK_EPROTO, at, "count too large: %llu x %zu > %zu left", (unsigned long long)n,
                       min_elem_bytes, left), 0;
    return (size_t)n;
}

bool mk_dec_enter(mk_dec_t *d) {
    if (d->err) return false;
    if (d->depth >= MK_DEC_MAX_DEPTH) return fail_at(d, MK_EPROTO, d->p, "nesting deeper than %u", MK_DEC_MAX_DEPTH);
    d->depth++;
    return true;
}

void mk_dec_leave(mk_dec_t *d) {
    assert(d->depth > 0);
    if (d->depth > 0) d->depth--;
}

bool mk_dec_key_next(mk_dec_t *d, mk_dec_keys_t *keys, const uint8_t *key_start) {
    if (d->err) return false;
    assert(key_start >= d->start && key_start <= d->p);
    size_t len = (size_t)(d->p - key_start);
    if (keys->have_prev) {
        int c = mk_key_cmp(keys->prev, keys->prev_len, key_start, len);
        if (c == 0) return fail_at(d, MK_EPROTO, key_start, "duplicate map key");
        if (c > 0) return fail_at(d, MK_EPROTO, key_start, "unsorted map key");
    }
    keys->prev = key_start;
    keys->prev_len = len;
    keys->have_prev = true;
    return true;
}

int mk_dec_finish(mk_dec_t *d) {
    if (d->err) return d->err;
    if (d->p != d->end) fail_at(d, MK_EPROTO, d->p, "%zu trailing bytes", (size_t)(d->end - d->p));
    return d->err;
}

int mk_dec_finish_err(mk_dec_t *d, mk_error_t *e, const char *msg_name) {
    int rc = mk_dec_finish(d);
    if (rc != MK_OK) mk_err_set(e, rc, msg_name, "%s", d->what);
    return rc;
}

/* ---- UTF-8 ----------------------------------------------------------------------------------------- */

bool mk_utf8_valid(const void *p, size_t n, size_t *bad_at) {
    const uint8_t *s = p;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint8_t lo = 0x80, hi = 0xbf;  /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) len = 2;
        else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            if (c == 0xe0) lo = 0xa0;        /* overlong */
            else if (c == 0xed) hi = 0x9f;   /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            if (c == 0xf0) lo = 0x90;        /* overlong */
            else if (c == 0xf4) hi = 0x8f;   /* above U+10FFFF */
        } else {
            goto bad;                         /* continuation byte, C0/C1 overlong lead, F5…FF */
        }
        if (n - i < len || s[i + 1] < lo || s[i + 1] > hi) goto bad;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80) goto bad;
        i += len;
    }
    return true;
bad:
    if (bad_at) *bad_at = i;
    return false;
}
