/* unit/tee/test_tdx_collateral.c — collateral inputs (spec 60 §6.1, §6.3 item 4): the PCK leaf's SGX
 * extension read by our DER walker (README values; truncation and corruption fail cleanly) and
 * mk_tdx_collateral_from_pcs rebuilding the shared collateral from PCS-like pieces (bodies with the
 * signed object cut byte-exactly, URL-encoded and plain issuer-chain headers, DER CRLs), which then
 * verifies the same way. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/tdx.h"
#include "tee/tdx/tdx_int.h"
#include "unit/tee/tdx_data.h"

#include <jansson.h>
#include <openssl/pem.h>

/* The leaf certificate of a quote's PCK chain. */
static X509 *leaf_of(const char *file) {
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read(file, &n);
    BIO *b = BIO_new_mem_buf(q + 1258, 3677);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    assert_non_null(x);
    BIO_free(b);
    free(q);
    return x;
}

static uint8_t *ext_der(X509 *x, size_t *len) {
    ASN1_OBJECT *o = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
    int i = X509_get_ext_by_OBJ(x, o, -1);
    ASN1_OBJECT_free(o);
    assert_true(i >= 0);
    ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(x, i));
    *len = (size_t)ASN1_STRING_length(v);
    uint8_t *d = malloc(*len);
    memcpy(d, ASN1_STRING_get0_data(v), *len);
    return d;
}

static void pck_extension(void **state) {
    (void)state;
    static const struct {
        const char *file, *fmspc, *cpusvn;
        uint32_t pcesvn;
    } want[] = {{"tdx_quote_v4_a.bin", "b0c06f000000", "03030202040100050000000000000000", 11},
                {"quote_pck_1.bin", "b0c06f000000", "02020202030100030000000000000000", 11},
                {"quote_v4_b.bin", "90c06f000000", "02020202030100030000000000000000", 13}};
    for (size_t k = 0; k < 3; k++) {
        X509 *x = leaf_of(want[k].file);
        mk_tdx_pck_ext_t e1, e2;
        mk_error_t e = {0};
        assert_int_equal(mk_tdx_pck_ext_from_cert(x, &e1, &e), MK_OK);
        assert_hex_equal(e1.fmspc, want[k].fmspc);
        assert_hex_equal(e1.cpusvn, want[k].cpusvn);
        assert_hex_equal(e1.comp, want[k].cpusvn);
        assert_hex_equal(e1.pceid, "0000");
        assert_int_equal(e1.pcesvn, want[k].pcesvn);
        size_t n;
        uint8_t *d = ext_der(x, &n);
        assert_int_equal(mk_tdx_pck_ext_parse(d, n, &e2, NULL), MK_OK);
        assert_memory_equal(&e1, &e2, sizeof e1);
        /* every truncation fails; every single-byte change is either rejected or parsed, never a crash */
        for (size_t l = 0; l < n; l++) {
            uint8_t *c = malloc(l ? l : 1);
            memcpy(c, d, l);
            assert_int_equal(mk_tdx_pck_ext_parse(c, l, &e2, &e), MK_EPROTO);
            free(c);
        }
        size_t rejected = 0;
        for (size_t i = 0; i < n; i++) {
            d[i] ^= 0xFF;
            if (mk_tdx_pck_ext_parse(d, n, &e2, NULL) != MK_OK) rejected++;
            d[i] ^= 0xFF;
        }
        assert_true(rejected > n / 2);
        free(d);
        X509_free(x);
    }
    /* hand-made: duplicates, negative and oversized integers, a CPUSVN that differs */
    mk_tdx_pck_ext_t out;
    mk_error_t e = {0};
    static const uint8_t empty[] = {0x30, 0x00};
    assert_int_equal(mk_tdx_pck_ext_parse(empty, sizeof empty, &out, &e), MK_EPROTO);
    assert_non_null(strstr(e.msg, "tcb"));
    static const uint8_t indefinite[] = {0x30, 0x80, 0x00, 0x00};
    assert_int_equal(mk_tdx_pck_ext_parse(indefinite, sizeof indefinite, &out, NULL), MK_EPROTO);
    static const uint8_t long_nonminimal[] = {0x30, 0x81, 0x00};
    assert_int_equal(mk_tdx_pck_ext_parse(long_nonminimal, sizeof long_nonminimal, &out, NULL), MK_EPROTO);
    X509 *x = leaf_of("tdx_quote_v4_a.bin");
    size_t n;
    uint8_t *d = ext_der(x, &n);
    /* component .2.1 = 3 is at "060B2A864886F84D010D010201 020103": make it -1 (0xFF) and 256 (2 bytes) */
    static const uint8_t c1[] = {0x06, 0x0B, 0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01, 0x02, 0x01, 0x02, 0x01};
    uint8_t *at = NULL;
    for (size_t i = 0; i + sizeof c1 < n; i++)
        if (!memcmp(d + i, c1, sizeof c1)) at = d + i + sizeof c1;
    assert_non_null(at);
    uint8_t was = *at;
    *at = 0xFF;
    assert_int_equal(mk_tdx_pck_ext_parse(d, n, &out, &e), MK_EPROTO);
    assert_non_null(strstr(e.msg, ".2.1 "));
    *at = 0x04; /* component 4 ≠ CPUSVN[0] = 3 */
    assert_int_equal(mk_tdx_pck_ext_parse(d, n, &out, &e), MK_EPROTO);
    assert_non_null(strstr(e.msg, "cpusvn"));
    *at = was;
    /* .2.2 renamed .2.1: a duplicate */
    bool renamed = false;
    for (size_t i = 0; i + sizeof c1 < n; i++)
        if (!memcmp(d + i, c1, 12) && d[i + 12] == 0x02) { /* the OID …1.13.1.2.2 */
            renamed = true;
            d[i + 12] = 0x01;
            break;
        }
    assert_true(renamed);
    assert_int_equal(mk_tdx_pck_ext_parse(d, n, &out, &e), MK_EPROTO);
    assert_non_null(strstr(e.msg, "duplicate"));
    free(d);
    X509_free(x);
}

/* RFC 3986 percent-encoding of everything but unreserved characters, as PCS does for its headers. */
static char *url_encode(const char *s) {
    char *o = malloc(3 * strlen(s) + 1), *p = o;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-_.~", c))
            *p++ = (char)c;
        else
            p += sprintf(p, "%%%02X", c);
    }
    *p = '\0';
    return o;
}

static uint8_t *unhex_alloc(const char *hex, size_t *n) {
    *n = strlen(hex) / 2;
    uint8_t *b = malloc(*n);
    tdx_unhex(hex, b, *n);
    return b;
}

typedef struct pieces {
    json_t *orig;
    char *tcb_body, *qe_body, *tcb_chain_enc;
    uint8_t *pck_crl, *root_crl;
    size_t pck_crl_len, root_crl_len;
} pieces_t;

static const char *F(const pieces_t *p, const char *k) { return json_string_value(json_object_get(p->orig, k)); }

static void make_pieces(pieces_t *p) {
    char *text = tdx_read("tdx_quote_v4_a.collateral.json", NULL);
    p->orig = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(p->orig);
    /* bodies as PCS serves them, with a distracting extra member whose string holds brackets and quotes */
    size_t tl = strlen(F(p, "tcb_info")) + 512, ql = strlen(F(p, "qe_identity")) + 512;
    p->tcb_body = malloc(tl);
    snprintf(p->tcb_body, tl, "{\"x\":\"}{[\\\"]\" , \"tcbInfo\":%s,\"signature\":\"%s\"}\n", F(p, "tcb_info"),
             F(p, "tcb_info_signature"));
    p->qe_body = malloc(ql);
    snprintf(p->qe_body, ql, " {\"enclaveIdentity\" : %s ,\n \"signature\":\"%s\", \"n\": [1, {\"a\": []}]}",
             F(p, "qe_identity"), F(p, "qe_identity_signature"));
    p->tcb_chain_enc = url_encode(F(p, "tcb_info_issuer_chain"));
    p->pck_crl = unhex_alloc(F(p, "pck_crl"), &p->pck_crl_len);
    p->root_crl = unhex_alloc(F(p, "root_ca_crl"), &p->root_crl_len);
}

static void free_pieces(pieces_t *p) {
    json_decref(p->orig);
    free(p->tcb_body);
    free(p->qe_body);
    free(p->tcb_chain_enc);
    free(p->pck_crl);
    free(p->root_crl);
}

static int build(const pieces_t *p, const char *tcb_body, const char *qe_body, const char *tcb_chain, mk_buf_t *out,
                 mk_error_t *e) {
    return mk_tdx_collateral_from_pcs(tcb_body, tcb_chain, qe_body, F(p, "qe_identity_issuer_chain"),
                                      (mk_bytes_t){p->pck_crl, p->pck_crl_len}, F(p, "pck_crl_issuer_chain"),
                                      (mk_bytes_t){p->root_crl, p->root_crl_len}, out, e);
}

static void from_pcs(void **state) {
    (void)state;
    pieces_t p;
    make_pieces(&p);
    mk_buf_t out = MK_BUF_INIT;
    mk_error_t e = {0};
    assert_int_equal(mk_buf_append(&out, "", 0), MK_OK);
    int rc = build(&p, p.tcb_body, p.qe_body, p.tcb_chain_enc, &out, &e);
    if (rc != MK_OK) fail_msg("%s", e.msg);
    char *json = strndup(out.ptr, out.len);
    json_t *got = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(got);
    assert_true(json_equal(got, p.orig)); /* same nine strings, byte for byte */
    json_decref(got);
    /* and it verifies the same way */
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    mk_tdx_trust_config_t c = {.collateral_json = json};
    mk_tdx_trust_t *t = mk_tdx_trust_new(&c, &e);
    assert_non_null(t);
    mk_tdx_report_t rep;
    mk_tdx_check_t chk;
    assert_int_equal(mk_tdx_quote_verify(q, n, t, TDX_NOW, &rep, &chk, &e), MK_OK);
    assert_int_equal(rep.tcb, MK_TCB_UP_TO_DATE);
    mk_tdx_trust_free(t);
    free(q);
    free(json);
    mk_buf_free(&out);
    /* plain PEM headers work too */
    assert_int_equal(build(&p, p.tcb_body, p.qe_body, F(&p, "tcb_info_issuer_chain"), &out, &e), MK_OK);
    mk_buf_free(&out);
    free_pieces(&p);
}

static void from_pcs_rejects(void **state) {
    (void)state;
    pieces_t p;
    make_pieces(&p);
    mk_buf_t out = MK_BUF_INIT;
    mk_error_t e = {0};
    char body[8192];
    const char *bad_bodies[] = {
        "", "{}", "[]", "{\"signature\":\"00\"}", "{\"tcbInfo\":[],\"signature\":\"00\"}",
        "{\"tcbInfo\":{},\"tcbInfo\":{},\"signature\":\"00\"}", "{\"tcbInfo\":{\"a\":\"}\"},\"signature\":\"00\"} x",
        "{\"tcbInfo\":{\"a\":\"}\"}", "{\"tcbInfo\":{\"a\":1},\"signature\":\"0\\u0030\"}",
    };
    for (size_t i = 0; i < sizeof bad_bodies / sizeof *bad_bodies; i++) {
        assert_int_not_equal(build(&p, bad_bodies[i], p.qe_body, p.tcb_chain_enc, &out, &e), MK_OK);
        assert_int_equal(out.len, 0); /* nothing appended on failure */
    }
    /* truncated bodies */
    size_t bl = strlen(p.tcb_body);
    for (size_t l = 0; l + 2 < bl; l += 11) {
        memcpy(body, p.tcb_body, l);
        body[l] = '\0';
        assert_int_not_equal(build(&p, body, p.qe_body, p.tcb_chain_enc, &out, &e), MK_OK);
    }
    /* the signed object changed: built fine (we never re-serialise) but the signature fails later */
    snprintf(body, sizeof body, "%s", p.tcb_body);
    char *v = strstr(body, "\"version\":3");
    assert_non_null(v);
    v[10] = '4';
    assert_int_equal(build(&p, body, p.qe_body, p.tcb_chain_enc, &out, &e), MK_OK);
    mk_buf_free(&out);
    /* bad percent-encoding, missing header, NULL CRL */
    assert_int_equal(build(&p, p.tcb_body, p.qe_body, "%2", &out, &e), MK_EINVAL);
    assert_int_equal(build(&p, p.tcb_body, p.qe_body, "%zz", &out, &e), MK_EINVAL);
    assert_int_equal(build(&p, p.tcb_body, p.qe_body, NULL, &out, &e), MK_EINVAL);
    assert_int_equal(mk_tdx_collateral_from_pcs(p.tcb_body, p.tcb_chain_enc, p.qe_body, F(&p, "qe_identity_issuer_chain"),
                                                (mk_bytes_t){NULL, 3}, F(&p, "pck_crl_issuer_chain"),
                                                (mk_bytes_t){p.root_crl, p.root_crl_len}, &out, &e),
                     MK_EINVAL);
    /* a CRL that is not DER */
    assert_int_equal(mk_tdx_collateral_from_pcs(p.tcb_body, p.tcb_chain_enc, p.qe_body, F(&p, "qe_identity_issuer_chain"),
                                                (mk_bytes_t){"abc", 3}, F(&p, "pck_crl_issuer_chain"),
                                                (mk_bytes_t){p.root_crl, p.root_crl_len}, &out, &e),
                     MK_EPROTO);
    assert_non_null(strstr(e.msg, "pck_crl"));
    assert_int_equal(out.len, 0);
    mk_buf_free(&out);
    free_pieces(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pck_extension),
        cmocka_unit_test(from_pcs),
        cmocka_unit_test(from_pcs_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
