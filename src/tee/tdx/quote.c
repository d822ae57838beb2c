/* tee/tdx/quote.c — the sans-I/O DCAP quote parser (spec 60 §5): versions 4 and 5 (TD report 1.0 and
 * 1.5), every length checked against the input before use, the zero tail after the signature data, the
 * shape of the embedded PEM chain. No allocation, no crypto; pointers into the caller's buffer. */
#include "mosaik/tdx.h"

#include "core/error.h"

#include <string.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static bool is_ws(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static bool is_b64(uint8_t c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
           c == '=';
}

/* 2–4 CERTIFICATE blocks with base64 bodies; whitespace between them; NULs only at the end. */
static int check_pem(const uint8_t *p, size_t n, mk_error_t *e) {
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    const size_t nb = sizeof begin - 1, ne = sizeof end - 1;
    while (n > 0 && p[n - 1] == 0) n--;
    size_t i = 0, blocks = 0;
    for (;;) {
        while (i < n && is_ws(p[i])) i++;
        if (i == n) break;
        if (n - i < nb || memcmp(p + i, begin, nb) != 0)
            return MK_ERR(e, MK_EPROTO, "pck chain: unexpected byte at %zu (expected a BEGIN CERTIFICATE line)", i);
        i += nb;
        size_t digits = 0;
        while (i < n && (is_ws(p[i]) || is_b64(p[i]))) {
            if (!is_ws(p[i])) digits++;
            i++;
        }
        if (n - i < ne || memcmp(p + i, end, ne) != 0)
            return MK_ERR(e, MK_EPROTO, "pck chain: bad byte in certificate %zu at %zu", blocks + 1, i);
        if (digits == 0 || digits % 4 != 0)
            return MK_ERR(e, MK_EPROTO, "pck chain: certificate %zu is not whole base64", blocks + 1);
        i += ne;
        if (++blocks > 4) return MK_ERR(e, MK_EPROTO, "pck chain: more than 4 certificates");
    }
    if (blocks < 2) return MK_ERR(e, MK_EPROTO, "pck chain: %zu certificate(s), need 2 to 4", blocks);
    return MK_OK;
}

int mk_tdx_quote_parse(const uint8_t *q, size_t len, mk_tdx_quote_t *out, mk_error_t *e) {
    if (!out || (!q && len)) return MK_ERR(e, MK_EINVAL, "quote or out is NULL");
    mk_tdx_quote_t r;
    memset(&r, 0, sizeof r);
    if (len > MK_TDX_MAX_QUOTE) return MK_ERR(e, MK_EPROTO, "quote: %zu bytes, more than %d", len, MK_TDX_MAX_QUOTE);
    if (len < 48) return MK_ERR(e, MK_EPROTO, "header: truncated (%zu of 48 bytes)", len);
    r.version = rd16(q);
    if (r.version != 4 && r.version != 5) return MK_ERR(e, MK_ENOTSUP, "version: %u not supported", r.version);
    r.ak_type = rd16(q + 2);
    if (r.ak_type != 2) return MK_ERR(e, MK_ENOTSUP, "attestation key type: %u not supported", r.ak_type);
    r.tee_type = rd32(q + 4);
    if (r.tee_type != 0x81) return MK_ERR(e, MK_ENOTSUP, "tee type: 0x%x not supported", r.tee_type);
    r.qe_svn = rd16(q + 8);
    r.pce_svn = rd16(q + 10);
    memcpy(r.qe_vendor_id, q + 12, 16);
    memcpy(r.user_data, q + 28, 20);
    size_t body_size;
    if (r.version == 4) {
        r.body_type = 2;
        r.body_off = 48;
        body_size = 584;
    } else {
        if (len < 54) return MK_ERR(e, MK_EPROTO, "body descriptor: truncated");
        r.body_type = rd16(q + 48);
        uint32_t bs = rd32(q + 50);
        if (r.body_type != 2 && r.body_type != 3)
            return MK_ERR(e, MK_ENOTSUP, "body type: %u not supported", r.body_type);
        if (bs != (r.body_type == 2 ? 584u : 648u))
            return MK_ERR(e, MK_EPROTO, "body size: %u for body type %u", bs, r.body_type);
        r.body_off = 54;
        body_size = bs;
    }
    size_t s = r.body_off + body_size;
    if (len < s) return MK_ERR(e, MK_EPROTO, "body: truncated");
    const uint8_t *b = q + r.body_off;
    memcpy(r.tee_tcb_svn, b, 16);
    memcpy(r.mrseam, b + 16, 48);
    memcpy(r.mrsignerseam, b + 64, 48);
    memcpy(r.seam_attributes, b + 112, 8);
    memcpy(r.td_attributes, b + 120, 8);
    memcpy(r.xfam, b + 128, 8);
    memcpy(r.m.mrtd.b, b + 136, 48);
    memcpy(r.mrconfigid, b + 184, 48);
    memcpy(r.mrowner, b + 232, 48);
    memcpy(r.mrownerconfig, b + 280, 48);
    for (size_t i = 0; i < 4; i++) memcpy(r.m.rtmr[i].b, b + 328 + 48 * i, 48);
    memcpy(r.report_data, b + 520, 64);
    if (body_size == 648) {
        memcpy(r.tee_tcb_svn2, b + 584, 16);
        memcpy(r.mrservicetd, b + 600, 48);
    }
    r.signed_len = s;

    /* signature data */
    if (len - s < 4) return MK_ERR(e, MK_EPROTO, "signature data length: truncated");
    uint32_t L = rd32(q + s);
    if (L > len - s - 4) return MK_ERR(e, MK_EPROTO, "signature data length: %u exceeds the quote", L);
    if (L < 134) return MK_ERR(e, MK_EPROTO, "signature data length: %u is too short", L);
    const uint8_t *sd = q + s + 4;
    r.signature = sd;
    r.attestation_key = sd + 64;
    uint16_t cert_type = rd16(sd + 128);
    if (cert_type != 6) return MK_ERR(e, MK_EPROTO, "certification data type: %u, expected 6", cert_type);
    uint32_t C = rd32(sd + 130);
    if (C != L - 134) return MK_ERR(e, MK_EPROTO, "certification data size: %u, expected %u", C, L - 134);
    const uint8_t *cd = sd + 134;
    if (C < 456) return MK_ERR(e, MK_EPROTO, "qe report certification data: truncated");
    r.qe_report = cd;
    r.qe_report_sig = cd + 384;
    size_t A = rd16(cd + 448);
    if (A > 4096) return MK_ERR(e, MK_EPROTO, "qe auth data size: %zu exceeds 4096", A);
    if (A > C - 456) return MK_ERR(e, MK_EPROTO, "qe auth data size: %zu exceeds the certification data", A);
    r.qe_auth = cd + 450;
    r.qe_auth_len = A;
    uint16_t inner = rd16(cd + 450 + A);
    if (inner != 5) return MK_ERR(e, MK_EPROTO, "inner certification data type: %u, expected 5", inner);
    uint32_t P = rd32(cd + 452 + A);
    if (P != C - 456 - A) return MK_ERR(e, MK_EPROTO, "pck chain size: %u, expected %zu", P, C - 456 - A);
    r.pck_pem = cd + 456 + A;
    r.pck_pem_len = P;
    for (size_t i = s + 4 + L; i < len; i++)
        if (q[i] != 0) return MK_ERR(e, MK_EPROTO, "tail: non-zero byte at %zu after the signature data", i);
    int rc = check_pem(r.pck_pem, r.pck_pem_len, e);
    if (rc != MK_OK) return rc;
    *out = r;
    return MK_OK;
}

bool mk_tdx_quote_is_debug(const mk_tdx_quote_t *q) { return q && (q->td_attributes[0] & 1u) != 0; }
