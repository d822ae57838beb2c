/* tee/tdx/ticket.c — TDX tickets (spec 60 §4): the class id, the extra signature and the REPORTDATA it
 * fixes, encoding (core codec, then one zstd frame at level 3 with the content size) and strict decoding
 * (exactly one frame filling the data, known content size ≤ 64 KiB, no dictionary, window ≤ 128 KiB, the
 * codec with no trailing bytes, then the quote parse and the REPORTDATA binding), accessors.
 *
 * A decoded ticket is one allocation holding the extra, the parsed quote and the quote bytes the parsed
 * quote points into. Pure and thread-safe; nothing here verifies a signature (validator.c does). */
#include "tee/tdx/tdx_int.h"

#include "core/codec.h"
#include "core/error.h"
#include "mosaik/discovery.h"

#include <stdlib.h>
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader: exported by the shared library too */
#include <zstd.h>

#define TICKET_ZSTD_LEVEL 3
#define TICKET_MAX_CONTENT 65536u        /* declared decompressed size */
#define TICKET_MAX_WINDOW (1ull << 17)   /* window log ≤ 17 */
#define DEC_ERR(e, ...) mk_err_set((e), MK_EPROTO, "mk_tdx_ticket_decode", __VA_ARGS__)

struct mk_tdx_ticket {
    mk_tdx_extra_t extra;
    mk_tdx_quote_t quote; /* parsed (zero when decoded without the parse) */
    size_t quote_len;
    uint8_t quote_bytes[]; /* what quote's pointers point into */
};

mk_id_t mk_tdx_class(void) { return mk_id_from_str("mosaik.tee.tdx.ticket.v1"); }

static void i64le(int64_t v, uint8_t out[8]) {
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(u >> (8 * i));
}

mk_id_t mk_tdx_extra_signature(const mk_tdx_extra_t *x) {
    uint8_t b[8];
    mk_id_t s = mk_id_from_str("mosaik.tdx.ticket.extra");
    s = mk_id_derive(&s, x->peer_id.b, 32);
    s = mk_id_derive(&s, x->network_id.b, 32);
    i64le(x->started_at_s, b);
    s = mk_id_derive(&s, b, 8);
    i64le(x->quoted_at_s, b);
    s = mk_id_derive(&s, b, 8);
    if (x->expires == MK_EXPIRES_NEVER)
        memset(b, 0, 8);
    else
        i64le(x->expires, b);
    return mk_id_derive(&s, b, 8);
}

void mk_tdx_extra_report_data(const mk_tdx_extra_t *x, uint8_t out[64]) {
    mk_id_t s = mk_tdx_extra_signature(x);
    memcpy(out, s.b, 32);
    memset(out + 32, 0, 32);
}

/* expires is NEVER or whole seconds in (0, INT64_MAX / 1000]: the bound keeps its millisecond form
 * representable (spec 60 §1.3) and distinct from NEVER. */
bool mk_tdx_expires_ok(int64_t expires) {
    return expires == MK_EXPIRES_NEVER || (expires > 0 && expires <= INT64_MAX / 1000);
}

int mk_tdx_ticket_make(const uint8_t *q, size_t len, const mk_tdx_extra_t *x, mk_ticket_t **out, mk_error_t *e) {
    if (out) *out = NULL;
    if (!q || !x || !out) return MK_ERR(e, MK_EINVAL, "quote, extra or out is NULL");
    if (len > MK_TDX_MAX_QUOTE) return MK_ERR(e, MK_E2BIG, "quote of %zu bytes exceeds %d", len, MK_TDX_MAX_QUOTE);
    if (!mk_tdx_expires_ok(x->expires))
        return MK_ERR(e, MK_EINVAL, "extra.expires: %lld is neither NEVER nor whole seconds in (0, 2^63/1000)",
                      (long long)x->expires);
    mk_tdx_quote_t pq;
    mk_error_t pe = {0};
    int rc = mk_tdx_quote_parse(q, len, &pq, &pe);
    if (rc != MK_OK) return MK_ERR(e, rc, "the quote does not parse (%s)", pe.msg);
    uint8_t rd[64];
    mk_tdx_extra_report_data(x, rd);
    if (memcmp(rd, pq.report_data, 64) != 0)
        return MK_ERR(e, MK_EINVAL, "the quote's REPORTDATA is not the extra signature followed by 32 zeros");

    mk_enc_t enc;
    mk_enc_init(&enc, TICKET_MAX_CONTENT);
    mk_enc_bytes(&enc, q, len);
    mk_enc_id(&enc, &x->peer_id);
    mk_enc_id(&enc, &x->network_id);
    mk_enc_svar(&enc, x->started_at_s);
    mk_enc_svar(&enc, x->quoted_at_s);
    if (x->expires == MK_EXPIRES_NEVER) {
        mk_enc_tag(&enc, 0);
    } else {
        mk_enc_tag(&enc, 1);
        mk_enc_svar(&enc, x->expires);
    }
    mk_buf_t raw = MK_BUF_INIT;
    rc = mk_enc_finish(&enc, &raw);
    if (rc != MK_OK) return MK_ERR(e, rc, "encoding failed");

    size_t cap = ZSTD_compressBound(raw.len);
    uint8_t *z = malloc(cap);
    if (!z) {
        mk_buf_free(&raw);
        return MK_ERR(e, MK_ENOMEM, "out of memory");
    }
    size_t zn = ZSTD_compress(z, cap, raw.ptr, raw.len, TICKET_ZSTD_LEVEL); /* writes the content size */
    mk_buf_free(&raw);
    if (ZSTD_isError(zn)) {
        free(z);
        return MK_ERR(e, MK_ENOMEM, "zstd: %s", ZSTD_getErrorName(zn));
    }
    if (zn > MK_TICKET_MAX_BYTES) {
        free(z);
        return MK_ERR(e, MK_E2BIG, "compressed ticket of %zu bytes exceeds %d", zn, MK_TICKET_MAX_BYTES);
    }
    mk_id_t cls = mk_tdx_class();
    *out = mk_ticket_new(&cls, z, zn, e);
    free(z);
    return *out ? MK_OK : (e ? e->code : MK_ENOMEM);
}

/* Decompresses exactly one frame filling data into a new buffer of its declared size. */
static uint8_t *unzstd(const uint8_t *data, size_t len, size_t *out_len, mk_error_t *e) {
    if (len == 0 || len > MK_TICKET_MAX_BYTES) {
        DEC_ERR(e, "ticket of %zu bytes (1 to %d)", len, MK_TICKET_MAX_BYTES);
        return NULL;
    }
    ZSTD_frameHeader fh;
    size_t hr = ZSTD_getFrameHeader(&fh, data, len);
    if (hr != 0) {
        DEC_ERR(e, "zstd: %s", ZSTD_isError(hr) ? "not a zstd frame" : "truncated frame header");
        return NULL;
    }
    if (fh.frameType != ZSTD_frame) {
        DEC_ERR(e, "zstd: a skippable frame");
        return NULL;
    }
    unsigned long long cs = ZSTD_getFrameContentSize(data, len);
    if (cs == ZSTD_CONTENTSIZE_UNKNOWN || cs == ZSTD_CONTENTSIZE_ERROR || cs != fh.frameContentSize) {
        DEC_ERR(e, "zstd: the frame does not declare its content size");
        return NULL;
    }
    if (cs > TICKET_MAX_CONTENT) {
        DEC_ERR(e, "zstd: declared content size %llu exceeds %u", cs, TICKET_MAX_CONTENT);
        return NULL;
    }
    if (fh.dictID != 0) {
        DEC_ERR(e, "zstd: the frame needs dictionary %u", fh.dictID);
        return NULL;
    }
    if (fh.windowSize > TICKET_MAX_WINDOW) {
        DEC_ERR(e, "zstd: window of %llu bytes exceeds 2^17", fh.windowSize);
        return NULL;
    }
    size_t fl = ZSTD_findFrameCompressedSize(data, len);
    if (ZSTD_isError(fl)) {
        DEC_ERR(e, "zstd: the frame is truncated or corrupt");
        return NULL;
    }
    if (fl != len) {
        DEC_ERR(e, "zstd: %zu bytes after the frame", len - fl);
        return NULL;
    }
    uint8_t *buf = malloc(cs ? (size_t)cs : 1);
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    if (!buf || !dc || ZSTD_isError(ZSTD_DCtx_setParameter(dc, ZSTD_d_windowLogMax, 17))) {
        free(buf);
        ZSTD_freeDCtx(dc);
        mk_err_set(e, MK_ENOMEM, "mk_tdx_ticket_decode", "out of memory");
        return NULL;
    }
    size_t n = ZSTD_decompressDCtx(dc, buf, (size_t)cs, data, len);
    ZSTD_freeDCtx(dc);
    if (ZSTD_isError(n) || n != cs) {
        free(buf);
        DEC_ERR(e, "zstd: %s", ZSTD_isError(n) ? ZSTD_getErrorName(n) : "decompressed size differs from the declared one");
        return NULL;
    }
    *out_len = n;
    return buf;
}

int mk_tdx_ticket_decode_ex(const uint8_t *data, size_t len, unsigned flags, mk_tdx_ticket_t **out, mk_error_t *e) {
    if (out) *out = NULL;
    if (!out || (!data && len)) return mk_err_set(e, MK_EINVAL, "mk_tdx_ticket_decode", "data or out is NULL");
    size_t rn = 0;
    uint8_t *raw = unzstd(data, len, &rn, e);
    if (!raw) return e ? e->code : MK_EPROTO;

    mk_dec_t d;
    mk_dec_init(&d, raw, rn);
    mk_tdx_extra_t x;
    mk_bytes_t q = mk_dec_bytes(&d);
    if (mk_dec_ok(&d) && q.len > MK_TDX_MAX_QUOTE) mk_dec_fail(&d, "quote of %zu bytes exceeds %d", q.len, MK_TDX_MAX_QUOTE);
    mk_dec_id(&d, &x.peer_id);
    mk_dec_id(&d, &x.network_id);
    x.started_at_s = mk_dec_i64(&d);
    x.quoted_at_s = mk_dec_i64(&d);
    uint32_t tag = mk_dec_tag(&d, 2);
    x.expires = MK_EXPIRES_NEVER;
    if (mk_dec_ok(&d) && tag == 1) {
        x.expires = mk_dec_i64(&d);
        if (mk_dec_ok(&d) && (x.expires <= 0 || x.expires > INT64_MAX / 1000))
            mk_dec_fail(&d, "expires %lld out of (0, 2^63/1000)", (long long)x.expires);
    }
    int rc = mk_dec_finish(&d);
    if (rc != MK_OK) {
        DEC_ERR(e, "%s", d.what[0] ? d.what : "bad encoding");
        free(raw);
        return MK_EPROTO;
    }
    mk_tdx_ticket_t *t = malloc(sizeof *t + (q.len ? q.len : 1));
    if (!t) {
        free(raw);
        return mk_err_set(e, MK_ENOMEM, "mk_tdx_ticket_decode", "out of memory");
    }
    memset(t, 0, sizeof *t);
    t->extra = x;
    t->quote_len = q.len;
    if (q.len) memcpy(t->quote_bytes, q.ptr, q.len);
    free(raw);

    if (flags & MK_TDX_DEC_PARSE) {
        mk_error_t pe = {0};
        if (mk_tdx_quote_parse(t->quote_bytes, t->quote_len, &t->quote, &pe) != MK_OK) {
            DEC_ERR(e, "the quote does not parse (%s)", pe.msg);
            free(t);
            return MK_EPROTO;
        }
        if (flags & MK_TDX_DEC_BINDING) {
            uint8_t rd[64];
            mk_tdx_extra_report_data(&t->extra, rd);
            if (memcmp(rd, t->quote.report_data, 32) != 0) {
                DEC_ERR(e, "REPORTDATA[0..32] is not the extra signature");
                free(t);
                return MK_EPROTO;
            }
            if (memcmp(rd + 32, t->quote.report_data + 32, 32) != 0) {
                DEC_ERR(e, "REPORTDATA[32..64] is not zero");
                free(t);
                return MK_EPROTO;
            }
        }
    }
    *out = t;
    return MK_OK;
}

int mk_tdx_ticket_parse_quote(mk_tdx_ticket_t *t, mk_error_t *e) {
    return mk_tdx_quote_parse(t->quote_bytes, t->quote_len, &t->quote, e);
}

const uint8_t *mk_tdx_ticket_quote_bytes(const mk_tdx_ticket_t *t, size_t *len) {
    *len = t->quote_len;
    return t->quote_bytes;
}

int mk_tdx_ticket_decode(const uint8_t *data, size_t len, mk_tdx_ticket_t **out, mk_error_t *e) {
    return mk_tdx_ticket_decode_ex(data, len, MK_TDX_DEC_PARSE | MK_TDX_DEC_BINDING, out, e);
}

int mk_tdx_ticket_from(const mk_ticket_t *t, mk_tdx_ticket_t **out, mk_error_t *e) {
    if (out) *out = NULL;
    if (!t || !out) return mk_err_set(e, MK_EINVAL, "mk_tdx_ticket_from", "ticket or out is NULL");
    mk_id_t cls = mk_tdx_class();
    if (memcmp(cls.b, t->cls.b, 32) != 0)
        return mk_err_set(e, MK_EINVAL, "mk_tdx_ticket_from", "the ticket's class is not the TDX class");
    return mk_tdx_ticket_decode(t->data, t->len, out, e);
}

const mk_tdx_quote_t *mk_tdx_ticket_quote(const mk_tdx_ticket_t *t) { return t ? &t->quote : NULL; }
const mk_tdx_extra_t *mk_tdx_ticket_extra(const mk_tdx_ticket_t *t) { return t ? &t->extra : NULL; }

uint64_t mk_tdx_ticket_uptime_s(const mk_tdx_ticket_t *t, int64_t now_ms) {
    if (!t) return 0;
    int64_t now = mk_tdx_floor_s(now_ms);
    if (now <= t->extra.started_at_s) return 0;
    return (uint64_t)now - (uint64_t)t->extra.started_at_s; /* modular: exact even across the sign */
}

void mk_tdx_ticket_free(mk_tdx_ticket_t *t) { free(t); }
