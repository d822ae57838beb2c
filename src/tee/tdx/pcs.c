/* tee/tdx/pcs.c — mk_tdx_collateral_from_pcs (spec 60 §6.1): builds the collateral JSON from Intel PCS /
 * PCCS responses. The signed `tcbInfo` / `enclaveIdentity` values are cut out of the response bodies
 * byte-exactly by a string-aware bracket scanner (never re-serialised); issuer-chain headers are
 * percent-decoded when URL-encoded; DER CRLs become hex. */
#include "tee/tdx/tdx_int.h"

#include "core/error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static bool ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Skips a JSON string starting at s[*i] == '"'; *i ends after the closing quote. */
static bool skip_string(const char *s, size_t n, size_t *i) {
    if (*i >= n || s[*i] != '"') return false;
    for (size_t k = *i + 1; k < n; k++) {
        if (s[k] == '\\') {
            k++;
            continue;
        }
        if (s[k] == '"') {
            *i = k + 1;
            return true;
        }
        if ((unsigned char)s[k] < 0x20) return false;
    }
    return false;
}

/* Skips one JSON value at s[*i] (objects and arrays by bracket depth, strings aware of escapes). */
static bool skip_value(const char *s, size_t n, size_t *i) {
    if (*i >= n) return false;
    char c = s[*i];
    if (c == '"') return skip_string(s, n, i);
    if (c == '{' || c == '[') {
        size_t depth = 0, k = *i;
        while (k < n) {
            char d = s[k];
            if (d == '"') {
                if (!skip_string(s, n, &k)) return false;
                continue;
            }
            if (d == '{' || d == '[') depth++;
            else if (d == '}' || d == ']') {
                if (depth == 0) return false;
                if (--depth == 0) {
                    *i = k + 1;
                    return true;
                }
            }
            k++;
        }
        return false;
    }
    size_t k = *i;
    while (k < n && !ws(s[k]) && s[k] != ',' && s[k] != '}' && s[k] != ']') k++;
    if (k == *i) return false;
    *i = k;
    return true;
}

/* The raw text of the value of top-level key `key` in the object body. */
static bool cut(const char *s, const char *key, const char **val, size_t *len) {
    size_t n = strlen(s), i = 0, kl = strlen(key);
    bool found = false;
    while (i < n && ws(s[i])) i++;
    if (i >= n || s[i] != '{') return false;
    i++;
    for (;;) {
        while (i < n && ws(s[i])) i++;
        if (i < n && s[i] == '}') break;
        size_t ks = i;
        if (!skip_string(s, n, &i)) return false;
        bool match = i - ks == kl + 2 && !memcmp(s + ks + 1, key, kl);
        while (i < n && ws(s[i])) i++;
        if (i >= n || s[i] != ':') return false;
        i++;
        while (i < n && ws(s[i])) i++;
        size_t vs = i;
        if (!skip_value(s, n, &i)) return false;
        if (match) {
            if (found) return false; /* duplicate key */
            found = true;
            *val = s + vs;
            *len = i - vs;
        }
        while (i < n && ws(s[i])) i++;
        if (i < n && s[i] == ',') {
            i++;
            continue;
        }
        if (i < n && s[i] == '}') break;
        return false;
    }
    i++;
    while (i < n && ws(s[i])) i++;
    return found && i == n;
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes a header value into a new string ('+' stays '+': PEM base64 uses it). */
static char *url_decode(const char *s) {
    size_t n = strlen(s);
    char *o = malloc(n + 1);
    if (!o) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(o);
                return NULL;
            }
            o[j++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            o[j++] = s[i];
        }
    }
    o[j] = '\0';
    return o;
}

static json_t *hex_of(mk_bytes_t b) {
    static const char digits[] = "0123456789abcdef";
    if (b.len > (SIZE_MAX - 1) / 2) return NULL;
    char *h = malloc(2 * b.len + 1);
    if (!h) return NULL;
    const uint8_t *p = b.ptr;
    for (size_t i = 0; i < b.len; i++) {
        h[2 * i] = digits[p[i] >> 4];
        h[2 * i + 1] = digits[p[i] & 15];
    }
    json_t *s = json_stringn(h, 2 * b.len);
    free(h);
    return s;
}

/* Adds the body's signed value and its signature; key = "tcbInfo" or "enclaveIdentity". */
static int add_signed(json_t *o, const char *body, const char *key, const char *field, const char *sig_field,
                      mk_error_t *e) {
    const char *v, *sig;
    size_t vl, sl;
    if (!body || !cut(body, key, &v, &vl) || v[0] != '{')
        return MK_ERR(e, MK_EPROTO, "%s body: no top-level \"%s\" object", field, key);
    if (!cut(body, "signature", &sig, &sl) || sl < 2 || sig[0] != '"' || memchr(sig, '\\', sl))
        return MK_ERR(e, MK_EPROTO, "%s body: no plain \"signature\" string", field);
    json_t *jv = json_stringn(v, vl), *js = json_stringn(sig + 1, sl - 2);
    if (!jv || !js || json_object_set_new(o, field, jv) || json_object_set_new(o, sig_field, js)) {
        json_decref(js);
        return MK_ERR(e, MK_EPROTO, "%s body: not valid UTF-8", field);
    }
    return MK_OK;
}

static int add_chain(json_t *o, const char *hdr, const char *field, mk_error_t *e) {
    if (!hdr) return MK_ERR(e, MK_EINVAL, "%s: missing", field);
    char *pem = strchr(hdr, '%') ? url_decode(hdr) : strdup(hdr);
    if (!pem) return MK_ERR(e, MK_EINVAL, "%s: bad percent-encoding", field);
    json_t *s = json_string(pem);
    free(pem);
    if (!s || json_object_set_new(o, field, s)) return MK_ERR(e, MK_EINVAL, "%s: not text", field);
    return MK_OK;
}

int mk_tdx_collateral_from_pcs(const char *tcb_body, const char *tcb_chain, const char *qe_body,
                               const char *qe_chain, mk_bytes_t pck_crl, const char *pck_crl_chain,
                               mk_bytes_t root_crl, mk_buf_t *json, mk_error_t *e) {
    if (!json) return MK_ERR(e, MK_EINVAL, "json is NULL");
    if ((!pck_crl.ptr && pck_crl.len) || (!root_crl.ptr && root_crl.len)) return MK_ERR(e, MK_EINVAL, "crl is NULL");
    json_t *o = json_object();
    if (!o) return MK_ERR(e, MK_ENOMEM, "out of memory");
    int rc;
    json_t *pc = hex_of(pck_crl), *rcrl = hex_of(root_crl);
    if ((rc = add_chain(o, pck_crl_chain, "pck_crl_issuer_chain", e)) != MK_OK) goto out;
    if (!pc || !rcrl || json_object_set(o, "root_ca_crl", rcrl) || json_object_set(o, "pck_crl", pc)) {
        rc = MK_ERR(e, MK_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = add_chain(o, tcb_chain, "tcb_info_issuer_chain", e)) != MK_OK ||
        (rc = add_signed(o, tcb_body, "tcbInfo", "tcb_info", "tcb_info_signature", e)) != MK_OK ||
        (rc = add_chain(o, qe_chain, "qe_identity_issuer_chain", e)) != MK_OK ||
        (rc = add_signed(o, qe_body, "enclaveIdentity", "qe_identity", "qe_identity_signature", e)) != MK_OK)
        goto out;
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        rc = MK_ERR(e, MK_ENOMEM, "out of memory");
        goto out;
    }
    /* the result must be collateral the verifier accepts in shape */
    mk_tdx_coll_t *c = mk_tdx_coll_parse(text, strlen(text), e);
    if (!c)
        rc = e ? e->code : MK_EPROTO;
    else
        rc = mk_buf_append(json, text, strlen(text));
    mk_tdx_coll_unref(c);
    free(text);
out:
    json_decref(pc);
    json_decref(rcrl);
    json_decref(o);
    return rc;
}
