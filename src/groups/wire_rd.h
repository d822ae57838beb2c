/* groups/wire_rd.h — the field-naming reader and buffer-appending encoder shared by the groups codecs
 * (raft_wire.c, sync_wire.c): a decoder that records the path of the first failing field ("Append.
 * entries[3].body.payload") with its offset, the checked readers of varints, bools, ids, byte strings,
 * tags and counts (capped before anything is allocated), and the begin/end pair that appends an encoding
 * to a caller's buffer or leaves it untouched on failure. Header-only: every function is static inline. */
#ifndef MK_GROUPS_WIRE_RD_H
#define MK_GROUPS_WIRE_RD_H

#include "core/codec.h"
#include "core/error.h"
#include "mosaik/groups.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct rd {
    mk_dec_t d;
    const char *msg, *arr, *inner, *arr2;
    size_t idx, idx2;
    char field[96];
} rd_t;

static inline void rd_init(rd_t *r, const void *p, size_t n, const char *msg) {
    memset(r, 0, sizeof *r);
    mk_dec_init(&r->d, p, n);
    r->msg = msg;
}

static inline void rd_put(char *buf, size_t cap, size_t *at, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static inline void rd_put(char *buf, size_t cap, size_t *at, const char *fmt, ...) {
    if (*at >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *at, cap - *at, fmt, ap);
    va_end(ap);
    if (n > 0) *at = (size_t)n >= cap - *at ? cap : *at + (size_t)n;
}

/* Records `name` (NULL: the innermost context) as the failing field if an error was just set. */
static inline void rd_note(rd_t *r, const char *name) {
    if (r->d.err == MK_OK || r->field[0]) return;
    size_t at = 0;
    char *f = r->field;
    const size_t cap = sizeof r->field;
    if (r->msg) rd_put(f, cap, &at, "%s", r->msg);
    if (r->arr) rd_put(f, cap, &at, "%s%s[%zu]", at ? "." : "", r->arr, r->idx);
    if (r->inner) rd_put(f, cap, &at, "%s%s", at ? "." : "", r->inner);
    if (r->arr2) rd_put(f, cap, &at, "%s%s[%zu]", at ? "." : "", r->arr2, r->idx2);
    if (name) rd_put(f, cap, &at, "%s%s", at ? "." : "", name);
    if (!at) rd_put(f, cap, &at, "%s", "message");
}

static inline void r_fail(rd_t *r, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void r_fail(rd_t *r, const char *name, const char *fmt, ...) {
    if (r->d.err) return;
    char cause[MK_DEC_WHAT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cause, sizeof cause, fmt, ap);
    va_end(ap);
    mk_dec_fail(&r->d, "%s", cause);
    rd_note(r, name);
}

/* Like r_fail, with the offset reported at `at` (a position inside the input). */
static inline void r_fail_at(rd_t *r, const uint8_t *at, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline void r_fail_at(rd_t *r, const uint8_t *at, const char *name, const char *fmt, ...) {
    if (r->d.err) return;
    char cause[MK_DEC_WHAT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cause, sizeof cause, fmt, ap);
    va_end(ap);
    const uint8_t *here = r->d.p;
    r->d.p = at;
    mk_dec_fail(&r->d, "%s", cause);
    r->d.p = here;
    rd_note(r, name);
}

static inline uint64_t r_u64(rd_t *r, const char *name) {
    uint64_t v = mk_dec_u64(&r->d);
    rd_note(r, name);
    return v;
}

static inline uint32_t r_u32(rd_t *r, const char *name) {
    uint32_t v = mk_dec_u32(&r->d);
    rd_note(r, name);
    return v;
}

static inline uint8_t r_u8(rd_t *r, const char *name) {
    uint8_t v = mk_dec_u8(&r->d);
    rd_note(r, name);
    return v;
}

static inline bool r_bool(rd_t *r, const char *name) {
    bool v = mk_dec_bool(&r->d);
    rd_note(r, name);
    return v;
}

static inline void r_id(rd_t *r, const char *name, mk_id_t *out) {
    mk_dec_id(&r->d, out);
    rd_note(r, name);
}

/* option<id>: false and a zero id when absent. */
static inline bool r_opt_id(rd_t *r, const char *name, mk_id_t *out) {
    bool some = mk_dec_option(&r->d);
    rd_note(r, name);
    if (some) r_id(r, name, out);
    return some && mk_dec_ok(&r->d);
}

static inline mk_bytes_t r_bytes(rd_t *r, const char *name) {
    mk_bytes_t v = mk_dec_bytes(&r->d);
    rd_note(r, name);
    return v;
}

static inline uint32_t r_tag(rd_t *r, const char *name, uint32_t ntags) {
    uint32_t v = mk_dec_tag(&r->d, ntags);
    rd_note(r, name);
    return v;
}

/* A sequence count: at most cap, and no more elements than the bytes left could hold. */
static inline size_t r_count(rd_t *r, const char *name, size_t min_elem_bytes, size_t cap) {
    const uint8_t *at = r->d.p;
    uint64_t n = r_u64(r, name);
    if (!mk_dec_ok(&r->d)) return 0;
    size_t left = mk_dec_remaining(&r->d);
    if (n > cap) r_fail_at(r, at, name, "count %llu > cap %zu", (unsigned long long)n, cap);
    else if (n > left / min_elem_bytes)
        r_fail_at(r, at, name, "count %llu x %zu > %zu bytes left", (unsigned long long)n, min_elem_bytes, left);
    return mk_dec_ok(&r->d) ? (size_t)n : 0;
}


/* The encoder writes straight into the caller's buffer; on failure its length is put back. */
static inline void enc_begin(mk_enc_t *w, mk_buf_t *out) {
    mk_enc_init(w, 0);
    w->out = *out;
    *out = (mk_buf_t)MK_BUF_INIT;
}

static inline int enc_end(mk_enc_t *w, mk_buf_t *out, size_t start, mk_error_t *e, const char *what) {
    int rc = w->err;
    if (rc != MK_OK) w->out.len = start;
    *out = w->out;
    w->out = (mk_buf_t)MK_BUF_INIT;
    if (rc != MK_OK) return mk_err_set(e, MK_ENOMEM, what, "out of memory");
    return MK_OK;
}

static inline bool bytes_ok(const void *p, size_t n) { return p != NULL || n == 0; }

#endif
