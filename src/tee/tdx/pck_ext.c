/* tee/tdx/pck_ext.c — our own bounds-checked DER walker for the Intel SGX extension of a PCK leaf
 * (OID 1.2.840.113741.1.13.1, spec 60 §6.3 item 4): component SVNs, PCESVN, CPUSVN, PCE-ID and FMSPC.
 * OpenSSL only finds the extension; its contents are read here (strict DER: minimal lengths, no
 * indefinite form, exact ends, no duplicates). Fuzzed by tests/fuzz/fuzz_tdx_pck_extension.c. */
#include "tee/tdx/tdx_int.h"

#include "core/error.h"

#include <string.h>

/* 1.2.840.113741.1.13.1 */
static const uint8_t SGX_OID[] = {0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01};

typedef struct der {
    const uint8_t *p;
    size_t n;
} der_t;

/* Reads one TLV from *d: its tag and contents; advances *d. */
static bool tlv(der_t *d, uint8_t *tag, der_t *val) {
    if (d->n < 2) return false;
    uint8_t t = d->p[0];
    if ((t & 0x1F) == 0x1F) return false; /* high tag numbers: never in this extension */
    size_t i = 1, len = d->p[i++];
    if (len & 0x80) {
        size_t k = len & 0x7F;
        if (k == 0 || k > 3 || d->n - i < k) return false; /* indefinite or absurdly long */
        if (d->p[i] == 0) return false;                     /* not minimal */
        len = 0;
        for (size_t j = 0; j < k; j++) len = len << 8 | d->p[i++];
        if (len < 0x80) return false; /* not minimal */
    }
    if (len > d->n - i) return false;
    *tag = t;
    val->p = d->p + i;
    val->n = len;
    d->p += i + len;
    d->n -= i + len;
    return true;
}

/* A non-negative minimal DER INTEGER of at most max. */
static bool der_uint(der_t v, uint32_t max, uint32_t *out) {
    if (v.n == 0 || v.n > 5) return false;
    if (v.p[0] & 0x80) return false;                                  /* negative */
    if (v.n > 1 && v.p[0] == 0 && !(v.p[1] & 0x80)) return false;     /* not minimal */
    uint64_t x = 0;
    for (size_t i = 0; i < v.n; i++) x = x << 8 | v.p[i];
    if (x > max) return false;
    *out = (uint32_t)x;
    return true;
}

/* The SGX sub-OID arc after the prefix: writes up to 2 arcs (each < 128); returns their count, 0 if the
 * OID is not under the prefix or uses multi-byte arcs. */
static size_t sgx_arcs(der_t oid, uint8_t arcs[2]) {
    if (oid.n <= sizeof SGX_OID || oid.n > sizeof SGX_OID + 2) return 0;
    if (memcmp(oid.p, SGX_OID, sizeof SGX_OID) != 0) return 0;
    size_t k = oid.n - sizeof SGX_OID;
    for (size_t i = 0; i < k; i++) {
        if (oid.p[sizeof SGX_OID + i] & 0x80) return 0;
        arcs[i] = oid.p[sizeof SGX_OID + i];
    }
    return k;
}

/* One SEQUENCE { OID, value }: the OID's arcs and the value's tag/contents. */
static bool pair(der_t seq, uint8_t arcs[2], size_t *narcs, uint8_t *vtag, der_t *val) {
    uint8_t t;
    der_t oid;
    if (!tlv(&seq, &t, &oid) || t != 0x06) return false;
    if (!tlv(&seq, vtag, val) || seq.n != 0) return false;
    *narcs = sgx_arcs(oid, arcs);
    return true;
}

int mk_tdx_pck_ext_parse(const uint8_t *der, size_t len, mk_tdx_pck_ext_t *out, mk_error_t *e) {
    if (!out || (!der && len)) return MK_ERR(e, MK_EINVAL, "der or out is NULL");
    mk_tdx_pck_ext_t x;
    memset(&x, 0, sizeof x);
    der_t d = {der, len}, top;
    uint8_t t;
    if (!tlv(&d, &t, &top) || t != 0x30 || d.n != 0)
        return MK_ERR(e, MK_EPROTO, "sgx extension: not one DER SEQUENCE");
    uint32_t seen = 0; /* bits 0–15 components, 16 pcesvn, 17 cpusvn, 18 pceid, 19 fmspc, 20 tcb, 21 ppid */
    while (top.n) {
        der_t el, val;
        uint8_t arcs[2], vt;
        size_t na;
        if (!tlv(&top, &t, &el) || t != 0x30 || !pair(el, arcs, &na, &vt, &val))
            return MK_ERR(e, MK_EPROTO, "sgx extension: malformed element");
        if (na != 1) continue; /* another OID: ignored */
        uint32_t bit;
        switch (arcs[0]) {
        case 1: bit = 1u << 21; break;
        case 2: bit = 1u << 20; break;
        case 3: bit = 1u << 18; break;
        case 4: bit = 1u << 19; break;
        default: continue; /* sgxType, platform instance, configuration: not used */
        }
        if (seen & bit) return MK_ERR(e, MK_EPROTO, "sgx extension: duplicate element .%u", arcs[0]);
        seen |= bit;
        if (arcs[0] == 1) {
            if (vt != 0x04 || val.n != 16) return MK_ERR(e, MK_EPROTO, "sgx extension: ppid is not 16 bytes");
        } else if (arcs[0] == 3) {
            if (vt != 0x04 || val.n != 2) return MK_ERR(e, MK_EPROTO, "sgx extension: pceid is not 2 bytes");
            memcpy(x.pceid, val.p, 2);
        } else if (arcs[0] == 4) {
            if (vt != 0x04 || val.n != 6) return MK_ERR(e, MK_EPROTO, "sgx extension: fmspc is not 6 bytes");
            memcpy(x.fmspc, val.p, 6);
        } else {
            if (vt != 0x30) return MK_ERR(e, MK_EPROTO, "sgx extension: tcb is not a SEQUENCE");
            while (val.n) {
                der_t tel, tv;
                uint8_t ta[2], tvt;
                size_t tn;
                if (!tlv(&val, &t, &tel) || t != 0x30 || !pair(tel, ta, &tn, &tvt, &tv))
                    return MK_ERR(e, MK_EPROTO, "sgx extension: malformed tcb element");
                if (tn != 2 || ta[0] != 2 || ta[1] < 1 || ta[1] > 18) continue;
                uint32_t b = 1u << (ta[1] - 1);
                if (seen & b) return MK_ERR(e, MK_EPROTO, "sgx extension: duplicate tcb element .2.%u", ta[1]);
                seen |= b;
                uint32_t v;
                if (ta[1] <= 16) {
                    if (tvt != 0x02 || !der_uint(tv, 255, &v))
                        return MK_ERR(e, MK_EPROTO, "sgx extension: component svn .2.%u is not an INTEGER 0-255", ta[1]);
                    x.comp[ta[1] - 1] = (uint8_t)v;
                } else if (ta[1] == 17) {
                    if (tvt != 0x02 || !der_uint(tv, 65535, &v))
                        return MK_ERR(e, MK_EPROTO, "sgx extension: pcesvn is not an INTEGER 0-65535");
                    x.pcesvn = v;
                } else {
                    if (tvt != 0x04 || tv.n != 16) return MK_ERR(e, MK_EPROTO, "sgx extension: cpusvn is not 16 bytes");
                    memcpy(x.cpusvn, tv.p, 16);
                }
            }
        }
    }
    if (!(seen & (1u << 20))) return MK_ERR(e, MK_EPROTO, "sgx extension: no tcb element");
    for (unsigned i = 0; i < 18; i++)
        if (!(seen & (1u << i))) return MK_ERR(e, MK_EPROTO, "sgx extension: missing tcb element .2.%u", i + 1);
    if (!(seen & (1u << 18))) return MK_ERR(e, MK_EPROTO, "sgx extension: missing pceid");
    if (!(seen & (1u << 19))) return MK_ERR(e, MK_EPROTO, "sgx extension: missing fmspc");
    if (memcmp(x.cpusvn, x.comp, 16) != 0)
        return MK_ERR(e, MK_EPROTO, "sgx extension: cpusvn differs from the component svns");
    *out = x;
    return MK_OK;
}

int mk_tdx_pck_ext_from_cert(X509 *cert, mk_tdx_pck_ext_t *out, mk_error_t *e) {
    ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
    if (!obj) return TDX_ERR(e, MK_ENOMEM, "cannot make the sgx extension oid");
    int idx = X509_get_ext_by_OBJ(cert, obj, -1);
    int dup = idx >= 0 ? X509_get_ext_by_OBJ(cert, obj, idx) : -1;
    ASN1_OBJECT_free(obj);
    if (idx < 0) return TDX_ERR(e, MK_EPROTO, "collateral: pck leaf: no sgx extension");
    if (dup >= 0) return TDX_ERR(e, MK_EPROTO, "collateral: pck leaf: two sgx extensions");
    ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
    if (!v) return TDX_ERR(e, MK_EPROTO, "collateral: pck leaf: empty sgx extension");
    return mk_tdx_pck_ext_parse(ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v), out, e);
}
