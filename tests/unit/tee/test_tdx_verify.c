/* unit/tee/test_tdx_verify.c — DCAP verification of the real quotes (spec 60 §6, §12 TDX items 1 and 2):
 * the built-in root equals the shared PEM (fingerprint 44a0196b…); all three quotes pass steps 2–7; with
 * the collateral v4_a is UpToDate without advisories, pck_1 and v4_b fail at COLLATERAL (POLICY); stale or
 * not-yet-valid collateral is EXPIRED; byte flips fail at the step that covers them; other roots, times
 * outside the chain, require_collateral, the accept mask and collateral swaps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/tdx.h"
#include "unit/tee/tdx_data.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>

static const char *const QUOTES[] = {"tdx_quote_v4_a.bin", "quote_pck_1.bin", "quote_v4_b.bin"};
static char *collateral;
static mk_tdx_trust_t *with_coll;

static int setup(void **state) {
    (void)state;
    collateral = tdx_read("tdx_quote_v4_a.collateral.json", NULL);
    mk_error_t e = {0};
    mk_tdx_trust_config_t cfg = {.collateral_json = collateral};
    with_coll = mk_tdx_trust_new(&cfg, &e);
    if (!with_coll) fail_msg("trust: %s", e.msg);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    mk_tdx_trust_free(with_coll);
    free(collateral);
    return 0;
}

typedef struct verdict {
    int rc;
    mk_tdx_check_t chk;
    mk_ticket_reason_t reason;
    mk_tdx_report_t rep;
    mk_error_t e;
} verdict_t;

static verdict_t run(const uint8_t *q, size_t n, const mk_tdx_trust_t *t, int64_t now) {
    verdict_t v;
    memset(&v, 0, sizeof v);
    v.rc = mk_tdx_quote_verify_ex(q, n, t, now, &v.rep, &v.chk, &v.reason, &v.e);
    if (v.rc == MK_OK) {
        assert_int_equal(v.chk, MK_TDX_CHK_OK);
        assert_int_equal(v.reason, MK_TICKET_OK);
    } else {
        assert_int_equal(v.e.code, v.rc);
        assert_true(v.e.msg[0] != '\0');
        assert_int_not_equal(v.reason, MK_TICKET_OK);
    }
    return v;
}

#define expect(v, check, rsn)                                                                                     \
    do {                                                                                                          \
        if ((v).chk != (check) || (v).reason != (rsn))                                                            \
            fail_msg("got %s/%s (%s), want %s/%s", mk_tdx_check_str((v).chk), mk_ticket_reason_str((v).reason),   \
                     (v).e.msg, mk_tdx_check_str(check), mk_ticket_reason_str(rsn));                              \
    } while (0)

static void builtin_root(void **state) {
    (void)state;
    char *pem = tdx_read("intel_sgx_root_ca.pem", NULL);
    assert_string_equal(mk_tdx_intel_root_pem(), pem);
    free(pem);
    uint8_t fp[32];
    mk_tdx_trust_root_fingerprint(NULL, fp);
    assert_hex_equal(fp, "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
    mk_tdx_trust_t *t = mk_tdx_trust_new(NULL, NULL);
    assert_non_null(t);
    assert_true(mk_tdx_trust_is_default(t));
    mk_tdx_trust_root_fingerprint(t, fp);
    assert_hex_equal(fp, "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
    assert_ptr_equal(mk_tdx_trust_ref(t), t);
    mk_tdx_trust_free(t);
    mk_tdx_trust_free(t);
    mk_tdx_trust_free(NULL);
    assert_true(mk_tdx_trust_is_default(with_coll)); /* collateral is optional in the default */
    mk_tdx_trust_config_t c = {.allow_debug = true};
    t = mk_tdx_trust_new(&c, NULL);
    assert_false(mk_tdx_trust_is_default(t));
    mk_tdx_trust_free(t);
    c = (mk_tdx_trust_config_t){.accept_tcb = MK_TCB_ACCEPT_DEFAULT | MK_TCB_ACCEPT(MK_TCB_OUT_OF_DATE)};
    t = mk_tdx_trust_new(&c, NULL);
    assert_false(mk_tdx_trust_is_default(t));
    mk_tdx_trust_free(t);
    c = (mk_tdx_trust_config_t){.require_collateral = true};
    t = mk_tdx_trust_new(&c, NULL);
    assert_false(mk_tdx_trust_is_default(t));
    mk_tdx_trust_free(t);
    c = (mk_tdx_trust_config_t){.root_pem = mk_tdx_intel_root_pem()};
    t = mk_tdx_trust_new(&c, NULL);
    assert_true(mk_tdx_trust_is_default(t)); /* the same root given explicitly */
    mk_tdx_trust_free(t);
    mk_error_t e = {0};
    c = (mk_tdx_trust_config_t){.root_pem = "not a certificate"};
    assert_null(mk_tdx_trust_new(&c, &e));
    assert_int_equal(e.code, MK_EINVAL);
    assert_non_null(strstr(e.msg, "root_pem"));
}

static void names(void **state) {
    (void)state;
    assert_string_equal(mk_tcb_status_str(MK_TCB_UP_TO_DATE), "UpToDate");
    assert_string_equal(mk_tcb_status_str(MK_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED),
                        "ConfigurationAndSWHardeningNeeded");
    assert_string_equal(mk_tcb_status_str(MK_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED), "OutOfDateConfigurationNeeded");
    assert_string_equal(mk_tcb_status_str(MK_TCB_REVOKED), "Revoked");
    assert_string_equal(mk_tcb_status_str(MK_TCB_UNKNOWN), "Unknown");
    assert_string_equal(mk_tcb_status_str((mk_tcb_status_t)99), "Unknown");
    assert_string_equal(mk_tdx_check_str(MK_TDX_CHK_OK), "ok");
    assert_string_equal(mk_tdx_check_str(MK_TDX_CHK_QUOTE_SIG), "quote_sig");
    assert_string_equal(mk_tdx_check_str(MK_TDX_CHK_PCK_CHAIN), "pck_chain");
    assert_string_equal(mk_tdx_check_str(MK_TDX_CHK_EXPIRED), "expired");
    assert_string_equal(mk_tdx_check_str((mk_tdx_check_t)99), "unknown");
}

/* Steps 2–7 with the default trust, at the test time and anywhere inside the chain's validity. */
static void genuine_without_collateral(void **state) {
    (void)state;
    static const int64_t not_after[] = {1959722751, 1946507032, 1935265945}; /* the leaves' notAfter */
    for (int k = 0; k < 3; k++) {
        size_t n;
        uint8_t *q = (uint8_t *)tdx_read(QUOTES[k], &n);
        verdict_t v = run(q, n, NULL, TDX_NOW);
        expect(v, MK_TDX_CHK_OK, MK_TICKET_OK);
        assert_int_equal(v.rep.tcb, MK_TCB_UNKNOWN);
        assert_false(v.rep.collateral_used);
        assert_int_equal(v.rep.valid_until_s, not_after[k]);
        assert_string_equal(v.rep.advisories, "");
        v = run(q, n, NULL, 1900000000); /* 2030 */
        expect(v, MK_TDX_CHK_OK, MK_TICKET_OK);
        assert_int_equal(mk_tdx_quote_verify(q, n, NULL, TDX_NOW, NULL, NULL, NULL), MK_OK);
        /* outside the chain's validity: before the leaf, after the leaf / intermediate */
        for (int64_t when = 1500000000; when <= 2100000000; when += 600000000) {
            v = run(q, n, NULL, when);
            expect(v, MK_TDX_CHK_PCK_CHAIN, MK_TICKET_EXPIRED);
            assert_int_equal(v.rc, MK_EDENIED);
        }
        v = run(q, n, NULL, not_after[k] + 1);
        expect(v, MK_TDX_CHK_PCK_CHAIN, MK_TICKET_EXPIRED);
        free(q);
    }
}

static void with_collateral(void **state) {
    (void)state;
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    verdict_t v = run(q, n, with_coll, TDX_NOW);
    expect(v, MK_TDX_CHK_OK, MK_TICKET_OK);
    assert_int_equal(v.rep.tcb, MK_TCB_UP_TO_DATE);
    assert_true(v.rep.collateral_used);
    assert_string_equal(v.rep.advisories, "");
    assert_int_equal(v.rep.valid_until_s, 1752919235); /* the PCK CRL's nextUpdate, the earliest */
    /* the collateral's windows: before issue, after the next update */
    v = run(q, n, with_coll, 1748736000);
    expect(v, MK_TDX_CHK_COLLATERAL, MK_TICKET_EXPIRED);
    v = run(q, n, with_coll, 1754006400);
    expect(v, MK_TDX_CHK_COLLATERAL, MK_TICKET_EXPIRED);
    v = run(q, n, with_coll, 1752919235); /* the last second of the PCK CRL */
    expect(v, MK_TDX_CHK_OK, MK_TICKET_OK);
    v = run(q, n, with_coll, 1752919236);
    expect(v, MK_TDX_CHK_COLLATERAL, MK_TICKET_EXPIRED);
    v = run(q, n, with_coll, 1750329146); /* QE identity issued one second later */
    expect(v, MK_TDX_CHK_COLLATERAL, MK_TICKET_EXPIRED);
    v = run(q, n, with_coll, 1750329147);
    expect(v, MK_TDX_CHK_OK, MK_TICKET_OK);
    free(q);
    /* pck_1: no TCB level matches; v4_b: another platform (FMSPC) */
    q = (uint8_t *)tdx_read("quote_pck_1.bin", &n);
    v = run(q, n, with_coll, TDX_NOW);
    expect(v, MK_TDX_CHK_COLLATERAL, MK_TICKET_POLICY);
    assert_non_null(strstr(v.e.msg, "no tcb level"));
    assert_int_equal(v.rc, MK_EDENIED);
    free(q);
    q = (uint8_t *)tdx_read("quote_v4_b.bin", &n);
    v = run(q, n, with_coll, TDX_NOW);
    expect(v, MK_TDX_CHK_COLLATERAL, MK_TICKET_POLICY);
    assert_non_null(strstr(v.e.msg, "fmspc"));
    free(q);
}

/* §12 TDX item 2: every byte of the signed region, the QE report and the QE auth data. */
static void byte_flips(void **state) {
    (void)state;
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    for (size_t i = 0; i < 632; i++) {
        q[i] ^= 0xFF;
        verdict_t v = run(q, n, NULL, TDX_NOW);
        if (i < 8)
            expect(v, MK_TDX_CHK_PARSE, MK_TICKET_UNSUPPORTED); /* version, key type, TEE type */
        else if (i >= 12 && i < 28)
            expect(v, MK_TDX_CHK_VENDOR, MK_TICKET_UNSUPPORTED);
        else
            expect(v, MK_TDX_CHK_QUOTE_SIG, MK_TICKET_BAD_SIGNATURE);
        q[i] ^= 0xFF;
    }
    for (size_t i = 636; i < 764; i++) { /* the signature and the attestation key */
        q[i] ^= 0x01;
        verdict_t v = run(q, n, NULL, TDX_NOW);
        expect(v, MK_TDX_CHK_QUOTE_SIG, MK_TICKET_BAD_SIGNATURE);
        q[i] ^= 0x01;
    }
    for (size_t i = 770; i < 1218; i++) { /* QE report and its signature */
        q[i] ^= 0xFF;
        verdict_t v = run(q, n, NULL, TDX_NOW);
        expect(v, MK_TDX_CHK_QE_SIG, MK_TICKET_BAD_SIGNATURE);
        assert_int_equal(v.rc, MK_EBADSIG);
        q[i] ^= 0xFF;
    }
    for (size_t i = 1220; i < 1252; i++) {
        q[i] ^= 0xFF;
        verdict_t v = run(q, n, NULL, TDX_NOW);
        expect(v, MK_TDX_CHK_QE_BINDING, MK_TICKET_BINDING);
        q[i] ^= 0xFF;
    }
    for (size_t i = 4936; i < n; i++) {
        q[i] = 0x01;
        verdict_t v = run(q, n, NULL, TDX_NOW);
        expect(v, MK_TDX_CHK_PARSE, MK_TICKET_MALFORMED);
        assert_int_equal(v.rc, MK_EPROTO);
        q[i] = 0;
    }
    verdict_t v = run(q, n, NULL, TDX_NOW);
    expect(v, MK_TDX_CHK_OK, MK_TICKET_OK);
    free(q);
}

/* Sampled PEM bytes: a non-base64 byte is PARSE; another base64 digit breaks the DER (PARSE), a
 * signature (PCK_CHAIN) or, inside the leaf's key, the QE report signature (QE_SIG). */
static void pem_flips(void **state) {
    (void)state;
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    const char *pem = (const char *)q + 1258;
    size_t second = (size_t)(strstr(pem + 10, "-----BEGIN") - pem);
    size_t counts[MK_TDX_CHK_EXPIRED + 1] = {0};
    for (size_t i = 0; i < 3677; i += 7) {
        uint8_t was = q[1258 + i];
        if (was == '\n') continue;
        for (int kind = 0; kind < 2; kind++) {
            q[1258 + i] = kind == 0 ? (uint8_t)'*' : (uint8_t)(was == 'A' ? 'B' : was == '-' ? '+' : 'A');
            verdict_t v = run(q, n, NULL, TDX_NOW);
            counts[v.chk]++;
            if (v.chk == MK_TDX_CHK_QE_SIG) {
                assert_true(i < second); /* only the leaf's key can break the QE signature */
            } else if (v.chk != MK_TDX_CHK_PARSE && v.chk != MK_TDX_CHK_PCK_CHAIN) {
                fail_msg("pem byte %zu ('%c' -> '%c'): %s (%s)", i, was, q[1258 + i], mk_tdx_check_str(v.chk), v.e.msg);
            }
            q[1258 + i] = was;
        }
    }
    assert_true(counts[MK_TDX_CHK_PARSE] > 0);
    assert_true(counts[MK_TDX_CHK_PCK_CHAIN] > 0);
    print_message("pem flips: %zu parse, %zu qe_sig, %zu pck_chain\n", counts[MK_TDX_CHK_PARSE],
                  counts[MK_TDX_CHK_QE_SIG], counts[MK_TDX_CHK_PCK_CHAIN]);
    free(q);
}

/* A self-signed P-256 certificate with the Intel root's subject, as PEM (caller frees). */
static char *other_root(void) {
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(k);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_time_adj_ex(X509_getm_notBefore(x), -4000, 0, (time_t[]){TDX_NOW});
    X509_time_adj_ex(X509_getm_notAfter(x), 4000, 0, (time_t[]){TDX_NOW});
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"Intel SGX Root CA", -1, -1, 0);
    X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"Intel Corporation", -1, -1, 0);
    X509_set_issuer_name(x, nm);
    X509_set_pubkey(x, k);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *data;
    long len = BIO_get_mem_data(b, &data);
    char *out = malloc((size_t)len + 1);
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(k);
    return out;
}

static void another_root(void **state) {
    (void)state;
    char *pem = other_root();
    mk_tdx_trust_config_t c = {.root_pem = pem};
    mk_error_t e = {0};
    mk_tdx_trust_t *t = mk_tdx_trust_new(&c, &e);
    if (!t) fail_msg("%s", e.msg);
    assert_false(mk_tdx_trust_is_default(t));
    uint8_t fp[32];
    mk_tdx_trust_root_fingerprint(t, fp);
    assert_int_not_equal(fp[0] | fp[1] << 8, 0x44 | 0xa0 << 8);
    for (int k = 0; k < 3; k++) {
        size_t n;
        uint8_t *q = (uint8_t *)tdx_read(QUOTES[k], &n);
        verdict_t v = run(q, n, t, TDX_NOW);
        expect(v, MK_TDX_CHK_PCK_CHAIN, MK_TICKET_UNTRUSTED);
        free(q);
    }
    /* the real collateral under another root: its chains do not verify either */
    c.collateral_json = collateral;
    mk_tdx_trust_t *t2 = mk_tdx_trust_new(&c, &e);
    assert_non_null(t2);
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read(QUOTES[0], &n);
    verdict_t v = run(q, n, t2, TDX_NOW);
    expect(v, MK_TDX_CHK_PCK_CHAIN, MK_TICKET_UNTRUSTED);
    free(q);
    mk_tdx_trust_free(t2);
    mk_tdx_trust_free(t);
    free(pem);
}

static void policy_settings(void **state) {
    (void)state;
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    /* require_collateral without collateral */
    mk_tdx_trust_config_t c = {.require_collateral = true};
    mk_tdx_trust_t *t = mk_tdx_trust_new(&c, NULL);
    verdict_t v = run(q, n, t, TDX_NOW);
    expect(v, MK_TDX_CHK_COLLATERAL, MK_TICKET_POLICY);
    assert_non_null(strstr(v.e.msg, "collateral"));
    assert_int_equal(mk_tdx_trust_set_collateral(t, collateral, NULL), MK_OK);
    v = run(q, n, t, TDX_NOW);
    expect(v, MK_TDX_CHK_OK, MK_TICKET_OK);
    mk_tdx_trust_free(t);
    /* an accept mask without UpToDate */
    c = (mk_tdx_trust_config_t){.collateral_json = collateral, .accept_tcb = MK_TCB_ACCEPT(MK_TCB_SW_HARDENING_NEEDED)};
    t = mk_tdx_trust_new(&c, NULL);
    v = run(q, n, t, TDX_NOW);
    expect(v, MK_TDX_CHK_COLLATERAL, MK_TICKET_POLICY);
    assert_int_equal(v.rep.tcb, MK_TCB_UP_TO_DATE);
    assert_non_null(strstr(v.e.msg, "UpToDate"));
    mk_tdx_trust_free(t);
    /* Revoked in the mask is ignored: the default mask plus Revoked is still the default */
    c = (mk_tdx_trust_config_t){.accept_tcb = MK_TCB_ACCEPT_DEFAULT | MK_TCB_ACCEPT(MK_TCB_REVOKED)};
    t = mk_tdx_trust_new(&c, NULL);
    assert_true(mk_tdx_trust_is_default(t));
    mk_tdx_trust_free(t);
    free(q);
}

static void collateral_swap(void **state) {
    (void)state;
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    mk_tdx_trust_t *t = mk_tdx_trust_new(NULL, NULL);
    verdict_t v = run(q, n, t, TDX_NOW);
    assert_int_equal(v.rep.tcb, MK_TCB_UNKNOWN);
    assert_int_equal(mk_tdx_trust_set_collateral(t, collateral, NULL), MK_OK);
    v = run(q, n, t, TDX_NOW);
    expect(v, MK_TDX_CHK_OK, MK_TICKET_OK);
    assert_int_equal(v.rep.tcb, MK_TCB_UP_TO_DATE);
    mk_error_t e = {0};
    assert_int_equal(mk_tdx_trust_set_collateral(t, "{\"pck_crl\": 1}", &e), MK_EPROTO);
    assert_non_null(strstr(e.msg, "collateral"));
    v = run(q, n, t, TDX_NOW); /* the old collateral stays */
    assert_int_equal(v.rep.tcb, MK_TCB_UP_TO_DATE);
    v = run(q, n, t, 1754006400);
    expect(v, MK_TDX_CHK_COLLATERAL, MK_TICKET_EXPIRED);
    assert_int_equal(mk_tdx_trust_set_collateral(t, NULL, NULL), MK_OK);
    v = run(q, n, t, 1754006400); /* no collateral: only the chain's validity counts */
    expect(v, MK_TDX_CHK_OK, MK_TICKET_OK);
    assert_int_equal(v.rep.tcb, MK_TCB_UNKNOWN);
    mk_tdx_trust_free(t);
    free(q);
}

/* The collateral with one field replaced (NULL value = removed). */
static char *edited(const char *field, const char *value) {
    json_t *o = json_loads(collateral, 0, NULL);
    assert_non_null(o);
    if (value)
        json_object_set_new(o, field, json_string(value));
    else
        json_object_del(o, field);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static const char *field_of(const char *field) {
    static char buf[8192];
    json_t *o = json_loads(collateral, 0, NULL);
    snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(o, field)));
    json_decref(o);
    return buf;
}

static void check_collateral(const char *json, mk_tdx_check_t chk, mk_ticket_reason_t reason) {
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    mk_tdx_trust_config_t c = {.collateral_json = json};
    mk_error_t e = {0};
    mk_tdx_trust_t *t = mk_tdx_trust_new(&c, &e);
    if (!t) fail_msg("trust: %s", e.msg);
    verdict_t v = run(q, n, t, TDX_NOW);
    expect(v, chk, reason);
    mk_tdx_trust_free(t);
    free(q);
}

static void tampered_collateral(void **state) {
    (void)state;
    static const char *const fields[] = {"pck_crl_issuer_chain", "root_ca_crl", "pck_crl", "tcb_info_issuer_chain",
                                         "tcb_info", "tcb_info_signature", "qe_identity_issuer_chain", "qe_identity",
                                         "qe_identity_signature"};
    for (size_t i = 0; i < 9; i++) { /* each field missing or not hex / PEM: rejected at trust_new */
        char *s = edited(fields[i], NULL);
        mk_error_t e = {0};
        mk_tdx_trust_config_t c = {.collateral_json = s};
        assert_null(mk_tdx_trust_new(&c, &e));
        assert_int_equal(e.code, MK_EPROTO);
        assert_non_null(strstr(e.msg, fields[i]));
        free(s);
        if (strcmp(fields[i], "tcb_info") && strcmp(fields[i], "qe_identity")) {
            s = edited(fields[i], "zz");
            c.collateral_json = s;
            assert_null(mk_tdx_trust_new(&c, &e));
            free(s);
        }
    }
    /* signed texts changed by one byte, a signature changed, crossed CRLs, chains swapped */
    char text[8192];
    snprintf(text, sizeof text, "%s", field_of("tcb_info"));
    text[strlen(text) - 3] ^= 1;
    char *s = edited("tcb_info", text);
    check_collateral(s, MK_TDX_CHK_COLLATERAL, MK_TICKET_UNTRUSTED);
    free(s);
    snprintf(text, sizeof text, "%s", field_of("qe_identity"));
    char *p = strstr(text, "\"isvprodid\":2");
    assert_non_null(p);
    p[12] = '3';
    s = edited("qe_identity", text);
    check_collateral(s, MK_TDX_CHK_COLLATERAL, MK_TICKET_UNTRUSTED);
    free(s);
    snprintf(text, sizeof text, "%s", field_of("tcb_info_signature"));
    text[5] = text[5] == '0' ? '1' : '0';
    s = edited("tcb_info_signature", text);
    check_collateral(s, MK_TDX_CHK_COLLATERAL, MK_TICKET_UNTRUSTED);
    free(s);
    s = edited("pck_crl", field_of("root_ca_crl"));
    check_collateral(s, MK_TDX_CHK_COLLATERAL, MK_TICKET_UNTRUSTED);
    free(s);
    s = edited("pck_crl_issuer_chain", field_of("tcb_info_issuer_chain"));
    check_collateral(s, MK_TDX_CHK_COLLATERAL, MK_TICKET_UNTRUSTED);
    free(s);
    /* QE identity signed by the TCB signing key over the TCB info's text: swapped texts */
    json_t *o = json_loads(collateral, 0, NULL);
    json_t *ti = json_copy(json_object_get(o, "tcb_info")), *ts = json_copy(json_object_get(o, "tcb_info_signature"));
    json_object_set(o, "tcb_info", json_object_get(o, "qe_identity"));
    json_object_set(o, "tcb_info_signature", json_object_get(o, "qe_identity_signature"));
    json_object_set_new(o, "qe_identity", ti);
    json_object_set_new(o, "qe_identity_signature", ts);
    s = json_dumps(o, 0);
    json_decref(o);
    check_collateral(s, MK_TDX_CHK_COLLATERAL, MK_TICKET_MALFORMED);
    free(s);
    /* not JSON, not an object, duplicate keys, truncated anywhere */
    const char *bad[] = {"", "[]", "\"x\"", "{\"tcb_info\":\"a\",\"tcb_info\":\"b\"}", "{"};
    for (size_t i = 0; i < 5; i++) {
        mk_tdx_trust_config_t c = {.collateral_json = bad[i]};
        mk_error_t e = {0};
        assert_null(mk_tdx_trust_new(&c, &e));
        assert_int_equal(e.code, MK_EPROTO);
    }
    size_t len = strlen(collateral);
    char *cut = malloc(len + 1);
    for (size_t l = 0; l < len; l += 13) {
        memcpy(cut, collateral, l);
        cut[l] = '\0';
        mk_tdx_trust_config_t c = {.collateral_json = cut};
        assert_null(mk_tdx_trust_new(&c, NULL));
    }
    free(cut);
}

/* Verifications on two threads while a third swaps the collateral in and out: each verdict is one of
 * the two consistent outcomes (with or without collateral), never a mix. */
typedef struct swap_ctx {
    mk_tdx_trust_t *t;
    const uint8_t *q;
    size_t n;
    int with, without;
} swap_ctx_t;

static void *verifier(void *arg) {
    swap_ctx_t *c = arg;
    for (int i = 0; i < 40; i++) {
        mk_tdx_report_t rep;
        mk_tdx_check_t chk;
        if (mk_tdx_quote_verify(c->q, c->n, c->t, TDX_NOW, &rep, &chk, NULL) != MK_OK) abort();
        if (rep.collateral_used && rep.tcb == MK_TCB_UP_TO_DATE && rep.valid_until_s == 1752919235)
            c->with++;
        else if (!rep.collateral_used && rep.tcb == MK_TCB_UNKNOWN && rep.valid_until_s == 1959722751)
            c->without++;
        else
            abort();
    }
    return NULL;
}

static void concurrent_swap(void **state) {
    (void)state;
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    mk_tdx_trust_t *t = mk_tdx_trust_new(NULL, NULL);
    swap_ctx_t a = {t, q, n, 0, 0}, b = a;
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, verifier, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, verifier, &b), 0);
    for (int i = 0; i < 30; i++) assert_int_equal(mk_tdx_trust_set_collateral(t, i % 2 ? NULL : collateral, NULL), MK_OK);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.with + a.without + b.with + b.without, 80);
    mk_tdx_trust_free(t);
    free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_root),     cmocka_unit_test(names),          cmocka_unit_test(genuine_without_collateral),
        cmocka_unit_test(with_collateral),  cmocka_unit_test(byte_flips),     cmocka_unit_test(pem_flips),
        cmocka_unit_test(another_root),     cmocka_unit_test(policy_settings), cmocka_unit_test(collateral_swap),
        cmocka_unit_test(tampered_collateral), cmocka_unit_test(concurrent_swap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
