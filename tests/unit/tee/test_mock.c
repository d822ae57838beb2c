/* unit/tee/test_mock.c — the TDX mock on its own (spec 60 §8, §12 TDX item 3), checked with plain
 * OpenSSL rather than the library's verifier: quote structure for v4, v5/2 and v5/3 (header, body
 * fields, defaults, QE report, QE auth data and binding, PEM chain), both signatures, the PCK chain under
 * X509_V_FLAG_X509_STRICT with the mock root as the only trust anchor (and its validity window), the
 * leaf's SGX extension, certificates identical across mocks and processes for one seed and different
 * for another, the collateral's shape, signatures, CRLs and dates, and config validation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mock_check.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const uint8_t INTEL_QE_VENDOR[16] = {0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9,
                                            0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07};

static mk_tdx_mock_config_t cfg_of(uint8_t seed_byte, uint16_t version, uint16_t body) {
    mk_tdx_mock_config_t c = {.quote_version = version, .body_type = body};
    memset(c.seed, seed_byte, sizeof c.seed);
    memset(c.measurements.mrtd.b, 0xA0, 48);
    for (int i = 0; i < 4; i++) memset(c.measurements.rtmr[i].b, 0xB0 + i, 48);
    return c;
}

static void rd_of(uint8_t rd[64], uint8_t v) {
    for (int i = 0; i < 64; i++) rd[i] = (uint8_t)(v + i);
}

static void check_quote(uint16_t version, uint16_t body_type, size_t want_body) {
    mk_tdx_mock_config_t c = cfg_of(7, version, body_type);
    mk_error_t e = {0};
    mk_tdx_mock_t *m = mk_tdx_mock_new(&c, &e);
    assert_non_null(m);
    uint8_t rd[64];
    rd_of(rd, 0x40);
    mk_buf_t q = MK_BUF_INIT;
    assert_int_equal(mk_tdx_mock_quote(m, rd, &q, &e), MK_OK);
    const uint8_t *p = q.ptr;
    mq_t x = mq_of(p);
    /* header */
    assert_int_equal(rd16(p), version ? version : 4);
    assert_int_equal(rd16(p + 2), 2);
    assert_int_equal(rd32(p + 4), 0x81);
    assert_memory_equal(p + 12, INTEL_QE_VENDOR, 16);
    assert_true(p[44] == 0 && p[45] == 0 && p[46] == 0 && p[47] == 0);
    if (version == 5) {
        assert_int_equal(rd16(p + 48), body_type);
        assert_int_equal(rd32(p + 50), want_body);
    }
    assert_int_equal(x.body_len, want_body);
    assert_int_equal(x.total, q.len);
    /* body */
    static const uint8_t tcb[16] = {6, 1, 3}, attr[8] = {0, 0, 0, 0x10};
    assert_memory_equal(x.body, tcb, 16);
    assert_memory_equal(x.body + 120, attr, 8);
    assert_false(x.body[120] & 1);
    assert_memory_equal(x.body + 136, c.measurements.mrtd.b, 48);
    for (int i = 0; i < 4; i++) assert_memory_equal(x.body + 328 + 48 * i, c.measurements.rtmr[i].b, 48);
    assert_memory_equal(x.body + 520, rd, 64);
    if (want_body == 648) assert_memory_equal(x.body + 584, tcb, 16);
    /* signature data */
    assert_int_equal(rd32(p + x.s), q.len - x.s - 4);
    assert_int_equal(rd16(p + x.s + 132), 6);
    assert_int_equal(rd32(p + x.s + 134), q.len - x.s - 138);
    assert_int_equal(rd16(x.qe + 256), 2); /* ISVPRODID */
    assert_int_equal(rd16(x.qe + 258), 8); /* ISVSVN */
    assert_false(x.qe[48] & 0x02);          /* no debug */
    assert_int_equal(x.auth_len, 32);
    for (uint8_t i = 0; i < 32; i++) assert_int_equal(x.auth[i], i);
    assert_int_equal(rd16(x.auth + 32), 5);
    uint8_t bind[96], h[32];
    memcpy(bind, x.ak, 64);
    memcpy(bind + 64, x.auth, 32);
    SHA256(bind, sizeof bind, h);
    assert_memory_equal(x.qe + 320, h, 32);
    static const uint8_t zero32[32];
    assert_memory_equal(x.qe + 352, zero32, 32);
    assert_int_equal(x.pem[x.pem_len - 1], 0);
    assert_int_equal(x.pem + x.pem_len, p + q.len);
    /* signatures, with plain OpenSSL */
    EVP_PKEY *ak = pkey_from_xy(x.ak);
    assert_non_null(ak);
    assert_true(verify_rs(ak, p, x.s, x.sig));
    X509 *chain[4] = {0};
    assert_int_equal(certs_of((const char *)x.pem, x.pem_len - 1, chain, 4), 3);
    assert_true(verify_rs(X509_get0_pubkey(chain[0]), x.qe, 384, x.qe_sig));
    /* tampering breaks them */
    uint8_t *w = (uint8_t *)q.ptr;
    w[x.body_off + 136] ^= 1;
    assert_false(verify_rs(ak, p, x.s, x.sig));
    w[x.body_off + 136] ^= 1;
    if (version == 5) { /* the body descriptor is signed too */
        w[48] ^= 1;
        assert_false(verify_rs(ak, p, x.s, x.sig));
        w[48] ^= 1;
    }
    for (int i = 0; i < 3; i++) X509_free(chain[i]);
    EVP_PKEY_free(ak);
    mk_buf_free(&q);
    mk_tdx_mock_free(m);
}

static void test_quote_v4(void **state) { (void)state; check_quote(0, 0, 584); check_quote(4, 2, 584); }
static void test_quote_v5_body2(void **state) { (void)state; check_quote(5, 2, 584); }
static void test_quote_v5_body3(void **state) { (void)state; check_quote(5, 3, 648); }

static void test_config_errors(void **state) {
    (void)state;
    mk_error_t e = {0};
    mk_tdx_mock_config_t c = cfg_of(1, 6, 0);
    assert_null(mk_tdx_mock_new(&c, &e));
    assert_int_equal(e.code, MK_EINVAL);
    c = cfg_of(1, 4, 3);
    assert_null(mk_tdx_mock_new(&c, &e));
    c = cfg_of(1, 5, 1);
    assert_null(mk_tdx_mock_new(&c, &e));
    assert_null(mk_tdx_mock_new(NULL, &e));
    /* explicit TEE_TCB_SVN and TDATTRIBUTES are carried as given */
    c = cfg_of(1, 0, 0);
    c.tee_tcb_svn[0] = 9;
    c.tee_tcb_svn[1] = 2;
    c.td_attributes[0] = 1;
    mk_tdx_mock_t *m = mk_tdx_mock_new(&c, &e);
    uint8_t rd[64] = {0};
    mk_buf_t q = MK_BUF_INIT;
    assert_int_equal(mk_tdx_mock_quote(m, rd, &q, &e), MK_OK);
    assert_memory_equal((uint8_t *)q.ptr + 48, c.tee_tcb_svn, 16);
    assert_memory_equal((uint8_t *)q.ptr + 48 + 120, c.td_attributes, 8);
    mk_buf_free(&q);
    mk_tdx_mock_free(m);
}

static int verify_chain_at(X509 *root, X509 *inter, X509 *leaf, time_t t) {
    X509_STORE *st = X509_STORE_new();
    X509_STORE_add_cert(st, root);
    STACK_OF(X509) *un = sk_X509_new_null();
    sk_X509_push(un, inter);
    X509_STORE_CTX *cx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(cx, st, leaf, un);
    X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(cx);
    X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_X509_STRICT);
    X509_VERIFY_PARAM_set_time(vp, t);
    int ok = X509_verify_cert(cx);
    int err = X509_STORE_CTX_get_error(cx);
    if (ok == 1 && sk_X509_num(X509_STORE_CTX_get0_chain(cx)) != 3) ok = 0;
    X509_STORE_CTX_free(cx);
    sk_X509_free(un);
    X509_STORE_free(st);
    return ok == 1 ? 0 : (err ? err : -1);
}

static void cn_is(X509 *x, const char *cn) {
    char buf[128];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf) > 0);
    assert_string_equal(buf, cn);
}

static void test_chain(void **state) {
    (void)state;
    mk_tdx_mock_config_t c = cfg_of(3, 0, 0);
    mk_tdx_mock_t *m = mk_tdx_mock_new(&c, NULL);
    uint8_t rd[64] = {0};
    mk_buf_t q = MK_BUF_INIT;
    assert_int_equal(mk_tdx_mock_quote(m, rd, &q, NULL), MK_OK);
    mq_t x = mq_of(q.ptr);
    X509 *ch[4] = {0}, *root = NULL;
    assert_int_equal(certs_of((const char *)x.pem, x.pem_len - 1, ch, 4), 3);
    assert_int_equal(certs_of(mk_tdx_mock_root_pem(m), strlen(mk_tdx_mock_root_pem(m)), &root, 1), 1);
    assert_int_equal(X509_cmp(root, ch[2]), 0);
    cn_is(ch[0], "libmosaik Mock PCK Certificate");
    cn_is(ch[1], "libmosaik Mock PCK Platform CA");
    cn_is(ch[2], "libmosaik TDX Mock Root CA");
    assert_int_equal(X509_get_signature_nid(ch[0]), NID_ecdsa_with_SHA256);
    assert_int_equal(verify_chain_at(root, ch[1], ch[0], 1751328000), 0);
    assert_int_equal(verify_chain_at(root, ch[1], ch[0], 4070908000), 0); /* 2098 */
    assert_int_equal(verify_chain_at(root, ch[1], ch[0], 1546300800), X509_V_ERR_CERT_NOT_YET_VALID); /* 2019 */
    assert_int_equal(verify_chain_at(root, ch[1], ch[0], 4102444800), X509_V_ERR_CERT_HAS_EXPIRED); /* 2100 */
    /* key usage and basic constraints as Intel's */
    assert_int_equal(X509_check_ca(ch[0]), 0);
    assert_true(X509_check_ca(ch[1]) > 0);
    assert_true(X509_get_key_usage(ch[0]) & KU_DIGITAL_SIGNATURE);
    assert_true(X509_get_key_usage(ch[1]) & KU_KEY_CERT_SIGN);
    assert_non_null(X509_get0_subject_key_id(ch[0]));
    assert_non_null(X509_get0_authority_key_id(ch[0]));
    /* the SGX extension: FMSPC, PCE-ID, PCESVN, CPUSVN in Intel's structure */
    ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
    int at = X509_get_ext_by_OBJ(ch[0], oid, -1);
    assert_true(at >= 0);
    ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(ch[0], at));
    const uint8_t *d = ASN1_STRING_get0_data(v);
    size_t n = (size_t)ASN1_STRING_length(v);
    static const uint8_t fmspc_item[] = {0x30, 0x14, 0x06, 0x0A, 0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D,
                                         0x01, 0x04, 0x04, 0x06, 0x30, 0x80, 0x6F, 0x00, 0x00, 0x00};
    static const uint8_t pcesvn_item[] = {0x30, 0x10, 0x06, 0x0B, 0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D,
                                          0x01, 0x0D, 0x01, 0x02, 0x11, 0x02, 0x01, 0x0B};
    assert_non_null(memmem(d, n, fmspc_item, sizeof fmspc_item));
    assert_non_null(memmem(d, n, pcesvn_item, sizeof pcesvn_item));
    const uint8_t *pd = d;
    ASN1_TYPE *t = d2i_ASN1_TYPE(NULL, &pd, (long)n); /* well-formed DER filling the extension */
    assert_non_null(t);
    assert_ptr_equal(pd, d + n);
    ASN1_TYPE_free(t);
    ASN1_OBJECT_free(oid);
    for (int i = 0; i < 3; i++) X509_free(ch[i]);
    X509_free(root);
    mk_buf_free(&q);
    mk_tdx_mock_free(m);
}

static char *root_pem_of(uint8_t seed_byte) {
    mk_tdx_mock_config_t c = cfg_of(seed_byte, 0, 0);
    mk_tdx_mock_t *m = mk_tdx_mock_new(&c, NULL);
    assert_non_null(m);
    char *s = strdup(mk_tdx_mock_root_pem(m));
    mk_tdx_mock_free(m);
    return s;
}

static void test_determinism(void **state) {
    (void)state;
    char *a = root_pem_of(1), *b = root_pem_of(1), *c = root_pem_of(2);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    /* whole quotes too (deterministic signatures) */
    mk_tdx_mock_config_t cf = cfg_of(1, 5, 3);
    mk_tdx_mock_t *m1 = mk_tdx_mock_new(&cf, NULL), *m2 = mk_tdx_mock_new(&cf, NULL);
    uint8_t rd[64] = {1};
    mk_buf_t q1 = MK_BUF_INIT, q2 = MK_BUF_INIT;
    assert_int_equal(mk_tdx_mock_quote(m1, rd, &q1, NULL), MK_OK);
    assert_int_equal(mk_tdx_mock_quote(m2, rd, &q2, NULL), MK_OK);
    assert_int_equal(q1.len, q2.len);
    assert_memory_equal(q1.ptr, q2.ptr, q1.len);
    /* another process with the same seed makes the same root */
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        mk_tdx_mock_t *mc = mk_tdx_mock_new(&cf, NULL);
        const char *pem = mc ? mk_tdx_mock_root_pem(mc) : "";
        size_t n = strlen(pem), off = 0;
        while (off < n) {
            ssize_t w = write(fd[1], pem + off, n - off);
            if (w <= 0) break;
            off += (size_t)w;
        }
        _exit(off == n ? 0 : 1);
    }
    close(fd[1]);
    char buf[4096];
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
    buf[got] = 0;
    close(fd[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_string_equal(buf, a);
    mk_buf_free(&q1);
    mk_buf_free(&q2);
    mk_tdx_mock_free(m1);
    mk_tdx_mock_free(m2);
    free(a);
    free(b);
    free(c);
}

static X509_CRL *crl_of_hex(const char *hex) {
    size_t n = strlen(hex) / 2;
    uint8_t *der = malloc(n);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        der[i] = (uint8_t)v;
    }
    const uint8_t *p = der;
    X509_CRL *c = d2i_X509_CRL(NULL, &p, (long)n);
    free(der);
    return c;
}

static void rs_of_hex(const char *hex, uint8_t rs[64]) {
    assert_int_equal(strlen(hex), 128);
    for (size_t i = 0; i < 64; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        rs[i] = (uint8_t)v;
    }
}

static void test_collateral_shape(void **state) {
    (void)state;
    mk_tdx_mock_config_t c = cfg_of(5, 0, 0);
    mk_tdx_mock_t *m = mk_tdx_mock_new(&c, NULL);
    const int64_t issue = 1751328000, next = issue + 30 * 86400;
    for (int revoke = 0; revoke < 2; revoke++) {
        mk_buf_t j = MK_BUF_INIT;
        assert_int_equal(mk_tdx_mock_collateral(m, MK_TCB_SW_HARDENING_NEEDED, issue, next, revoke, &j, NULL), MK_OK);
        assert_int_equal(((char *)j.ptr)[j.len], 0);
        json_error_t je;
        json_t *o = json_loadb(j.ptr, j.len, 0, &je);
        assert_non_null(o);
        assert_int_equal(json_object_size(o), 9);
        static const char *const keys[] = {"pck_crl_issuer_chain", "root_ca_crl", "pck_crl", "tcb_info_issuer_chain",
                                           "tcb_info", "tcb_info_signature", "qe_identity_issuer_chain",
                                           "qe_identity", "qe_identity_signature"};
        for (size_t i = 0; i < 9; i++) assert_true(json_is_string(json_object_get(o, keys[i])));
        /* signatures by the TCB Signing cert, which chains to the root */
        const char *tchain = json_string_value(json_object_get(o, "tcb_info_issuer_chain"));
        X509 *tc[3] = {0};
        assert_int_equal(certs_of(tchain, strlen(tchain), tc, 3), 2);
        cn_is(tc[0], "libmosaik Mock TCB Signing");
        assert_int_equal(X509_verify(tc[0], X509_get0_pubkey(tc[1])), 1);
        static const char *const signed_[][2] = {{"tcb_info", "tcb_info_signature"},
                                                 {"qe_identity", "qe_identity_signature"}};
        for (int i = 0; i < 2; i++) {
            const char *text = json_string_value(json_object_get(o, signed_[i][0]));
            uint8_t rs[64];
            rs_of_hex(json_string_value(json_object_get(o, signed_[i][1])), rs);
            assert_true(verify_rs(X509_get0_pubkey(tc[0]), (const uint8_t *)text, strlen(text), rs));
        }
        json_t *ti = json_loads(json_string_value(json_object_get(o, "tcb_info")), 0, NULL);
        assert_string_equal(json_string_value(json_object_get(ti, "id")), "TDX");
        assert_int_equal(json_integer_value(json_object_get(ti, "version")), 3);
        assert_string_equal(json_string_value(json_object_get(ti, "fmspc")), "30806F000000");
        assert_string_equal(json_string_value(json_object_get(ti, "pceId")), "0000");
        assert_string_equal(json_string_value(json_object_get(ti, "issueDate")), "2025-07-01T00:00:00Z");
        assert_string_equal(json_string_value(json_object_get(ti, "nextUpdate")), "2025-07-31T00:00:00Z");
        json_t *lv = json_object_get(ti, "tcbLevels");
        assert_int_equal(json_array_size(lv), 3);
        assert_string_equal(json_string_value(json_object_get(json_array_get(lv, 1), "tcbStatus")), "SWHardeningNeeded");
        json_t *qi = json_loads(json_string_value(json_object_get(o, "qe_identity")), 0, NULL);
        assert_string_equal(json_string_value(json_object_get(qi, "id")), "TD_QE");
        assert_int_equal(json_integer_value(json_object_get(qi, "version")), 2);
        assert_int_equal(json_integer_value(json_object_get(qi, "isvprodid")), 2);
        json_decref(ti);
        json_decref(qi);
        /* CRLs: issuers, signatures, dates, the leaf's serial when revoked */
        X509 *root = NULL, *pc[3] = {0};
        certs_of(mk_tdx_mock_root_pem(m), strlen(mk_tdx_mock_root_pem(m)), &root, 1);
        const char *pchain = json_string_value(json_object_get(o, "pck_crl_issuer_chain"));
        assert_int_equal(certs_of(pchain, strlen(pchain), pc, 3), 2);
        cn_is(pc[0], "libmosaik Mock PCK Platform CA");
        X509_CRL *rc = crl_of_hex(json_string_value(json_object_get(o, "root_ca_crl")));
        X509_CRL *pk = crl_of_hex(json_string_value(json_object_get(o, "pck_crl")));
        assert_non_null(rc);
        assert_non_null(pk);
        assert_int_equal(X509_CRL_verify(rc, X509_get0_pubkey(root)), 1);
        assert_int_equal(X509_CRL_verify(pk, X509_get0_pubkey(pc[0])), 1);
        assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(pk), X509_get_subject_name(pc[0])), 0);
        assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_lastUpdate(pk), (time_t)issue), 0);
        assert_int_equal(ASN1_TIME_cmp_time_t(X509_CRL_get0_nextUpdate(pk), (time_t)next), 0);
        assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(rc)) <= 0); /* NULL stack = none */
        mk_buf_t q = MK_BUF_INIT;
        uint8_t rd[64] = {0};
        mk_tdx_mock_quote(m, rd, &q, NULL);
        mq_t x = mq_of(q.ptr);
        X509 *leaf = NULL;
        certs_of((const char *)x.pem, x.pem_len - 1, &leaf, 1);
        X509_REVOKED *rv = NULL;
        assert_int_equal(X509_CRL_get0_by_cert(pk, &rv, leaf), revoke ? 1 : 0);
        X509_free(leaf);
        mk_buf_free(&q);
        X509_CRL_free(rc);
        X509_CRL_free(pk);
        X509_free(root);
        for (int i = 0; i < 2; i++) {
            X509_free(pc[i]);
            X509_free(tc[i]);
        }
        json_decref(o);
        mk_buf_free(&j);
    }
    mk_buf_t j = MK_BUF_INIT;
    assert_int_equal(mk_tdx_mock_collateral(m, MK_TCB_UNKNOWN, issue, next, false, &j, NULL), MK_EINVAL);
    assert_int_equal(mk_tdx_mock_collateral(m, MK_TCB_UP_TO_DATE, issue, issue - 1, false, &j, NULL), MK_EINVAL);
    mk_tdx_mock_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_v4),       cmocka_unit_test(test_quote_v5_body2),
        cmocka_unit_test(test_quote_v5_body3), cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_chain),          cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_collateral_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

