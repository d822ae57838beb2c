/* tee/tdx/verify.c — verification of raw quotes, steps 2–8 of spec 60 §6.2: parse, vendor, quote
 * signature, QE report signature, QE binding, PCK chain (OpenSSL, strict, explicit time, pinned root,
 * revocation from the collateral's CRLs) and the collateral checks; plus the OpenSSL helpers the other
 * files of this folder share and the names of statuses and checks. */
#include "tee/tdx/tdx_int.h"

#include "core/error.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <string.h>
#include <time.h>

static const uint8_t INTEL_QE_VENDOR[16] = {0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9,
                                            0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07};

const char *mk_tcb_status_str(mk_tcb_status_t s) {
    static const char *const names[] = {"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
                                        "ConfigurationAndSWHardeningNeeded", "OutOfDate",
                                        "OutOfDateConfigurationNeeded", "Revoked", "Unknown"};
    return (unsigned)s <= MK_TCB_UNKNOWN ? names[s] : "Unknown";
}

const char *mk_tdx_check_str(mk_tdx_check_t c) {
    static const char *const names[] = {"ok", "decode", "parse", "vendor", "quote_sig", "qe_sig", "qe_binding",
                                        "pck_chain", "collateral", "td_attributes", "report_data", "measurements",
                                        "peer", "network", "max_age", "not_before", "lifetime", "expired"};
    return (unsigned)c <= MK_TDX_CHK_EXPIRED ? names[c] : "unknown";
}

/* ---- helpers ---- */

bool mk_tdx_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t n) {
    if (!hex || hex_len != 2 * n) return false;
    for (size_t i = 0; i < hex_len; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0) return false;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] = (uint8_t)(out[i / 2] | v);
    }
    return true;
}

bool mk_tdx_ecdsa_verify(EVP_PKEY *key, const uint8_t sig[64], const void *msg, size_t len) {
    if (!key) return false;
    bool ok = false;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (es && r && s && ctx && !BN_is_zero(r) && !BN_is_zero(s) && ECDSA_SIG_set0(es, r, s)) {
        r = s = NULL; /* owned by es now */
        int der_len = i2d_ECDSA_SIG(es, &der);
        ok = der_len > 0 && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(ctx, der, (size_t)der_len, msg, len) == 1;
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* A P-256 public key from x‖y (04 prefix added); NULL when not a point of the curve. */
static EVP_PKEY *p256_key(const uint8_t xy[64]) {
    uint8_t pt[65];
    pt[0] = 0x04;
    memcpy(pt + 1, xy, 64);
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
                           OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt), OSSL_PARAM_END};
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return k;
}

static bool is_p256(EVP_PKEY *k) {
    char group[32];
    size_t n = 0;
    bool ok = k && EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_group_name(k, group, sizeof group, &n) == 1 &&
              strcmp(group, "prime256v1") == 0;
    ERR_clear_error();
    return ok;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

bool mk_tdx_asn1_time(const ASN1_TIME *t, int64_t *out) {
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
        ERR_clear_error();
        return false;
    }
    *out = days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday) * 86400 +
           tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
    return true;
}

static bool digits(const char *s, size_t n, unsigned *v) {
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        *v = *v * 10 + (unsigned)(s[i] - '0');
    }
    return true;
}

bool mk_tdx_parse_date(const char *s, int64_t *out) {
    unsigned y, mo, d, h, mi, se;
    if (!s || strlen(s) < 20) return false;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
        s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se))
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return false;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (p[0] != 'Z' || p[1] != '\0') return false;
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59) return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap) return false;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return true;
}

STACK_OF(X509) *mk_tdx_pem_certs(const void *p, size_t len) {
    if (len > INT32_MAX) return NULL;
    BIO *bio = BIO_new_mem_buf(p, (int)len);
    STACK_OF(X509) *sk = sk_X509_new_null();
    bool ok = bio && sk;
    while (ok) {
        X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (!x) {
            unsigned long err = ERR_peek_last_error();
            ok = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
            break;
        }
        if (sk_X509_num(sk) >= 4 || !sk_X509_push(sk, x)) {
            X509_free(x);
            ok = false;
        }
    }
    ERR_clear_error();
    BIO_free(bio);
    if (!ok || sk_X509_num(sk) == 0) {
        sk_X509_pop_free(sk, X509_free);
        return NULL;
    }
    return sk;
}

int mk_tdx_chain_verify(X509 *root, STACK_OF(X509) *certs, size_t want_len, int64_t now, int64_t *not_after,
                        const char *what, mk_ticket_reason_t *reason, mk_error_t *e) {
    *reason = MK_TICKET_INTERNAL;
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    int rc = MK_OK;
    if (!st || !ctx || !untrusted || X509_STORE_add_cert(st, root) != 1) {
        rc = TDX_ERR(e, MK_ENOMEM, "%s: cannot set up the certificate store", what);
        goto out;
    }
    for (int i = 1; i < sk_X509_num(certs); i++)
        if (!sk_X509_push(untrusted, sk_X509_value(certs, i))) {
            rc = TDX_ERR(e, MK_ENOMEM, "%s: cannot set up the certificate store", what);
            goto out;
        }
    if (X509_STORE_CTX_init(ctx, st, sk_X509_value(certs, 0), untrusted) != 1) {
        rc = TDX_ERR(e, MK_ENOMEM, "%s: cannot set up the certificate store", what);
        goto out;
    }
    X509_VERIFY_PARAM *pm = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_flags(pm, X509_V_FLAG_X509_STRICT);
    X509_VERIFY_PARAM_set_time(pm, (time_t)now);
    if (X509_verify_cert(ctx) != 1) {
        int err = X509_STORE_CTX_get_error(ctx);
        *reason = err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID ? MK_TICKET_EXPIRED
                                                                                              : MK_TICKET_UNTRUSTED;
        rc = TDX_ERR(e, MK_EDENIED, "%s: certificate %d of the chain: %s", what, X509_STORE_CTX_get_error_depth(ctx),
                    X509_verify_cert_error_string(err));
        goto out;
    }
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    if (!chain || (size_t)sk_X509_num(chain) != want_len) {
        *reason = MK_TICKET_UNTRUSTED;
        rc = TDX_ERR(e, MK_EDENIED, "%s: chain of %d certificates, expected %zu", what, chain ? sk_X509_num(chain) : 0, want_len);
        goto out;
    }
    /* every certificate given must be part of the chain: no unused (hence unchecked) extras */
    for (int i = 0; i < sk_X509_num(certs); i++) {
        bool found = false;
        for (int k = 0; k < sk_X509_num(chain) && !found; k++) found = X509_cmp(sk_X509_value(certs, i), sk_X509_value(chain, k)) == 0;
        if (!found) {
            *reason = MK_TICKET_UNTRUSTED;
            rc = TDX_ERR(e, MK_EDENIED, "%s: certificate %d is not part of the verified chain", what, i);
            goto out;
        }
    }
    int64_t na = INT64_MAX;
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        int64_t t;
        if (X509_get_signature_nid(x) != NID_ecdsa_with_SHA256 || !is_p256(X509_get0_pubkey(x))) {
            *reason = MK_TICKET_UNTRUSTED;
            rc = TDX_ERR(e, MK_EDENIED, "%s: certificate %d of the chain is not ECDSA P-256 with SHA-256", what, i);
            goto out;
        }
        if (!mk_tdx_asn1_time(X509_get0_notAfter(x), &t)) {
            *reason = MK_TICKET_UNTRUSTED;
            rc = TDX_ERR(e, MK_EDENIED, "%s: certificate %d of the chain: unreadable notAfter", what, i);
            goto out;
        }
        if (t < na) na = t;
    }
    *not_after = na;
    *reason = MK_TICKET_OK;
out:
    ERR_clear_error();
    sk_X509_free(untrusted);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    return rc;
}

/* True when the subject CN of x ends in suffix. */
static bool cn_ends_with(X509 *x, const char *suffix) {
    X509_NAME *n = X509_get_subject_name(x);
    int idx = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
    if (idx < 0) return false;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx));
    if (!s) return false;
    const unsigned char *d = ASN1_STRING_get0_data(s);
    size_t len = (size_t)ASN1_STRING_length(s), sl = strlen(suffix);
    return len >= sl && memcmp(d + len - sl, suffix, sl) == 0 && memchr(d, 0, len) == NULL;
}

/* ---- steps 2–8 ---- */

static int code_of(mk_ticket_reason_t r) {
    switch (r) {
    case MK_TICKET_MALFORMED: return MK_EPROTO;
    case MK_TICKET_UNSUPPORTED: return MK_ENOTSUP;
    case MK_TICKET_BAD_SIGNATURE:
    case MK_TICKET_BINDING: return MK_EBADSIG;
    case MK_TICKET_INTERNAL: return MK_ENOMEM;
    default: return MK_EDENIED;
    }
}

int mk_tdx_quote_verify_ex(const uint8_t *q, size_t len, const mk_tdx_trust_t *t, int64_t now_s,
                           mk_tdx_report_t *rep, mk_tdx_check_t *failed, mk_ticket_reason_t *reason,
                           mk_error_t *e) {
    mk_tdx_report_t r;
    memset(&r, 0, sizeof r);
    r.tcb = MK_TCB_UNKNOWN;
    r.valid_until_s = INT64_MAX;
    mk_tdx_check_t chk = MK_TDX_CHK_OK;
    mk_ticket_reason_t rsn = MK_TICKET_OK;
    mk_error_t err = {0};
    STACK_OF(X509) *certs = NULL;
    EVP_PKEY *ak = NULL;
    mk_tdx_coll_t *coll = NULL;
    mk_tdx_quote_t qt;

    if (!t) t = mk_tdx_trust_default();
    if (!t) {
        chk = MK_TDX_CHK_PARSE, rsn = MK_TICKET_INTERNAL;
        TDX_ERR(&err, MK_ENOMEM, "cannot make the default trust");
        goto out;
    }
    /* 2. PARSE: structure, then the PEM certificates */
    int rc = mk_tdx_quote_parse(q, len, &qt, &err);
    if (rc != MK_OK) {
        chk = MK_TDX_CHK_PARSE, rsn = rc == MK_ENOTSUP ? MK_TICKET_UNSUPPORTED : MK_TICKET_MALFORMED;
        goto out;
    }
    certs = mk_tdx_pem_certs(qt.pck_pem, qt.pck_pem_len);
    if (!certs || sk_X509_num(certs) < 2) {
        chk = MK_TDX_CHK_PARSE, rsn = MK_TICKET_MALFORMED;
        TDX_ERR(&err, MK_EPROTO, "parse: a certificate of the pck chain does not decode");
        goto out;
    }
    /* 3. VENDOR */
    if (memcmp(qt.qe_vendor_id, INTEL_QE_VENDOR, 16) != 0) {
        chk = MK_TDX_CHK_VENDOR, rsn = MK_TICKET_UNSUPPORTED;
        TDX_ERR(&err, MK_ENOTSUP, "vendor: the QE vendor id is not Intel's");
        goto out;
    }
    /* 4. QUOTE_SIG */
    ak = p256_key(qt.attestation_key);
    if (!ak || !mk_tdx_ecdsa_verify(ak, qt.signature, q, qt.signed_len)) {
        chk = MK_TDX_CHK_QUOTE_SIG, rsn = MK_TICKET_BAD_SIGNATURE;
        TDX_ERR(&err, MK_EBADSIG, ak ? "quote_sig: the quote signature does not verify"
                                    : "quote_sig: the attestation key is not a P-256 point");
        goto out;
    }
    /* 5. QE_SIG */
    X509 *leaf = sk_X509_value(certs, 0);
    EVP_PKEY *lk = X509_get0_pubkey(leaf);
    if (!is_p256(lk) || !mk_tdx_ecdsa_verify(lk, qt.qe_report_sig, qt.qe_report, 384)) {
        chk = MK_TDX_CHK_QE_SIG, rsn = MK_TICKET_BAD_SIGNATURE;
        TDX_ERR(&err, MK_EBADSIG, is_p256(lk) ? "qe_sig: the QE report signature does not verify with the pck leaf"
                                              : "qe_sig: the pck leaf key is not P-256");
        goto out;
    }
    /* 6. QE_BINDING */
    {
        uint8_t h[32];
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        bool hashed = mc && EVP_DigestInit_ex(mc, EVP_sha256(), NULL) == 1 &&
                      EVP_DigestUpdate(mc, qt.attestation_key, 64) == 1 &&
                      EVP_DigestUpdate(mc, qt.qe_auth, qt.qe_auth_len) == 1 && EVP_DigestFinal_ex(mc, h, NULL) == 1;
        EVP_MD_CTX_free(mc);
        if (!hashed) {
            chk = MK_TDX_CHK_QE_BINDING, rsn = MK_TICKET_INTERNAL;
            TDX_ERR(&err, MK_ENOMEM, "qe_binding: SHA-256 failed");
            goto out;
        }
        static const uint8_t zero[32];
        if (memcmp(h, qt.qe_report + 320, 32) != 0 || memcmp(qt.qe_report + 352, zero, 32) != 0) {
            chk = MK_TDX_CHK_QE_BINDING, rsn = MK_TICKET_BINDING;
            TDX_ERR(&err, MK_EBADSIG, "qe_binding: the QE report data is not SHA-256(attestation key, QE auth data)");
            goto out;
        }
    }
    /* 7. PCK_CHAIN */
    int64_t na = INT64_MAX;
    if (mk_tdx_chain_verify(t->root, certs, 3, now_s, &na, "pck_chain", &rsn, &err) != MK_OK) {
        chk = MK_TDX_CHK_PCK_CHAIN;
        goto out;
    }
    r.valid_until_s = na;
    X509 *inter = sk_X509_value(certs, 1);
    if (!cn_ends_with(inter, "PCK Platform CA") && !cn_ends_with(inter, "PCK Processor CA")) {
        chk = MK_TDX_CHK_PCK_CHAIN, rsn = MK_TICKET_UNTRUSTED;
        TDX_ERR(&err, MK_EDENIED, "pck_chain: the intermediate is neither a PCK Platform CA nor a PCK Processor CA");
        goto out;
    }
    coll = mk_tdx_trust_collateral(t);
    if (coll) {
        X509_REVOKED *rv = NULL;
        if (X509_CRL_get0_by_cert(coll->root_crl, &rv, inter) == 1 || X509_CRL_get0_by_cert(coll->pck_crl, &rv, leaf) == 1) {
            ERR_clear_error();
            chk = MK_TDX_CHK_PCK_CHAIN, rsn = MK_TICKET_REVOKED;
            TDX_ERR(&err, MK_EDENIED, "pck_chain: a certificate of the pck chain is revoked");
            goto out;
        }
        ERR_clear_error();
    }
    /* 8. COLLATERAL */
    if (!coll) {
        if (t->require_collateral) {
            chk = MK_TDX_CHK_COLLATERAL, rsn = MK_TICKET_POLICY;
            TDX_ERR(&err, MK_EDENIED, "collateral: required but none is configured");
            goto out;
        }
    } else {
        mk_tdx_coll_input_t in = {.q = &qt, .leaf = leaf, .intermediate = inter, .t = t, .now = now_s};
        r.collateral_used = true;
        if (mk_tdx_collateral_check(&in, coll, &r, &rsn, &err) != MK_OK) {
            chk = MK_TDX_CHK_COLLATERAL;
            goto out;
        }
    }
out:
    mk_tdx_coll_unref(coll);
    EVP_PKEY_free(ak);
    sk_X509_pop_free(certs, X509_free);
    ERR_clear_error();
    if (chk != MK_TDX_CHK_OK) {
        err.code = code_of(rsn);
    }
    if (rep) *rep = r;
    if (failed) *failed = chk;
    if (reason) *reason = rsn;
    if (chk != MK_TDX_CHK_OK) {
        if (e) *e = err;
        return err.code;
    }
    return MK_OK;
}

int mk_tdx_quote_verify(const uint8_t *q, size_t len, const mk_tdx_trust_t *t, int64_t now_s, mk_tdx_report_t *rep,
                        mk_tdx_check_t *failed, mk_error_t *e) {
    return mk_tdx_quote_verify_ex(q, len, t, now_s, rep, failed, NULL, e);
}
