/* unit/tee/test_tdx_quote.c — the quote parser (spec 60 §5, §12 TDX item 1): the three real quotes parse
 * to the values their README lists (zero tail accepted); v5 layouts (body types 2 and 3) built from a
 * real quote parse with the body 6 bytes later; unsupported version / key / TEE / body type give
 * MK_ENOTSUP; truncation at every length, a non-zero tail byte and bad PEM shapes give MK_EPROTO naming
 * the field. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/tdx.h"
#include "unit/tee/tdx_data.h"

static const char ZERO48[] =
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";

typedef struct expect {
    const char *file, *user_data, *tee_tcb_svn, *mrseam, *td_attributes, *mrtd, *rtmr[4], *report_data, *ak;
    const char *qe_mrenclave;
    uint16_t qe_isvsvn;
} expect_t;

static const expect_t EXPECT[] = {
    {"tdx_quote_v4_a.bin", "889b7d6ff9df2405b240a830e73faf3d00000000", "06010300000000000000000000000000",
     "5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1",
     "0000001000000000",
     "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
     {"44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0",
      "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378",
      "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132", ZERO48},
     "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20",
     "c78ac5859b9f567238fad82ad63202bc516ee7ad14ec1d9adfc633e4cf5f71f73d6138ce76d0d9c1443f695464d1ed419c37ce696e70e95a5b317894a5897907",
     "e5a3a7b5d830c2953b98534c6c59a3a34fdc34e933f7f5898f0a85cf08846bca", 6},
    {"quote_pck_1.bin", "eecbe2e60cf2c34f55d1fbc929eb853b00000000", "04010200000000000000000000000000",
     "9790d89a10210ec6968a773cee2ca05b5aa97309f36727a968527be4606fc19e6f73acce350946c9d46a9bf7a63f8430",
     "0000001000000000",
     "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
     {"09d4783e89e3b7d2c784c4bed0d179b75bf810a6018a22392b660cc7ec0382f6fb44ac6ad79a86b4db600269fa7f71e5",
      "d606878135b93a0a7cdcc23b0d5810981ad49ca0e4e7491c55d2f098e3437676d9a323e405a4a6011eb3c2e36f4c830f",
      "31c8c669ed89b0d68305807a87a0ee1e8febd8ed1bbbbaeb2ff71d4a549d9284e01b8b23a1ea2e455ea68a3416c1ed3f", ZERO48},
     "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
     "50ac6edc206da156c80391e1c0506c456d575e1c3f6d4ce7f956e52d539e4fffd0ccd91efd445632313bff22047bc9c1188ca455f7d20fce206ea4830099b83c",
     "e5a3a7b5d830c2953b98534c6c59a3a34fdc34e933f7f5898f0a85cf08846bca", 6},
    {"quote_v4_b.bin", "28fa333a41ec7e302625d24f400f3f2400000000", "04010200000000000000000000000000",
     "9790d89a10210ec6968a773cee2ca05b5aa97309f36727a968527be4606fc19e6f73acce350946c9d46a9bf7a63f8430",
     "0000001000000080",
     "f2dd2696f69b950645832bdc095ffd11247eeff687eeacdb57a58d2ddb9a9f94fea40c961e19460c00ffa31420ecbc18",
     {"0998204508d58dcbfebe5e11c48669f7a921ac2da744dfb7d014ecdff2acdff1c9f665fdad52aadacf296a1df9909eb2",
      "383d100224f1716aeb431f7cb3cf028197dbd872487f27b0f6329ab17647dc9953c7014109818634f879e6550bc60f93",
      "eecfc42ff4d49278bfdbb0c77e570f4490cff10a2ee1ac11fbd2c2b49fa6cfa3cf1a1cb755c72522dd8a689e9d47906a", ZERO48},
     "278e753482976c8a7351fe2113609c7350d491cdae3d449eefc202fa41b2ad6840239cc2ba084c2d594b4e6dabeae0fcbf71c96daf0d0c9ecf0e9810c0457900",
     "7aac15abe68a4571ae7d0d0de5765ecb2b76c89890e38a66fd861e76f2608e40fdf39a81de66f69bdc7ab862b59fac83dbdc28162b3b002c55b963578aa6e33b",
     "86fc4e0ec2c5ddcebac97062c0a0142a97c18a7a755147bcbc3fe17d6529781d", 5},
};

static void readme_values(void **state) {
    (void)state;
    for (size_t k = 0; k < 3; k++) {
        const expect_t *x = &EXPECT[k];
        size_t n;
        uint8_t *q = (uint8_t *)tdx_read(x->file, &n);
        assert_int_equal(n, 5006);
        mk_tdx_quote_t p;
        mk_error_t e = {0};
        assert_int_equal(mk_tdx_quote_parse(q, n, &p, &e), MK_OK);
        assert_int_equal(p.version, 4);
        assert_int_equal(p.ak_type, 2);
        assert_int_equal(p.tee_type, 0x81);
        assert_int_equal(p.body_type, 2);
        assert_int_equal(p.qe_svn, 0);
        assert_int_equal(p.pce_svn, 0);
        assert_int_equal(p.signed_len, 632);
        assert_int_equal(p.body_off, 48);
        assert_hex_equal(p.qe_vendor_id, "939a7233f79c4ca9940a0db3957f0607");
        assert_hex_equal(p.user_data, x->user_data);
        assert_hex_equal(p.tee_tcb_svn, x->tee_tcb_svn);
        assert_hex_equal(p.mrseam, x->mrseam);
        assert_hex_equal(p.mrsignerseam, ZERO48);
        assert_hex_equal(p.seam_attributes, "0000000000000000");
        assert_hex_equal(p.td_attributes, x->td_attributes);
        assert_hex_equal(p.xfam, "e702060000000000");
        assert_hex_equal(p.m.mrtd.b, x->mrtd);
        for (int r = 0; r < 4; r++) assert_hex_equal(p.m.rtmr[r].b, x->rtmr[r]);
        assert_hex_equal(p.mrconfigid, ZERO48);
        assert_hex_equal(p.mrowner, ZERO48);
        assert_hex_equal(p.mrownerconfig, ZERO48);
        assert_hex_equal(p.report_data, x->report_data);
        assert_hex_equal(p.tee_tcb_svn2, "00000000000000000000000000000000");
        assert_hex_equal(p.mrservicetd, ZERO48);
        assert_false(mk_tdx_quote_is_debug(&p));
        /* pointers into the buffer at the README's offsets */
        assert_ptr_equal(p.signature, q + 636);
        assert_ptr_equal(p.attestation_key, q + 700);
        assert_hex_equal(p.attestation_key, x->ak);
        assert_ptr_equal(p.qe_report, q + 770);
        assert_hex_equal(p.qe_report + 64, x->qe_mrenclave);
        assert_hex_equal(p.qe_report + 128, "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
        assert_int_equal(p.qe_report[256] | p.qe_report[257] << 8, 2);
        assert_int_equal(p.qe_report[258] | p.qe_report[259] << 8, x->qe_isvsvn);
        assert_ptr_equal(p.qe_report_sig, q + 1154);
        assert_ptr_equal(p.qe_auth, q + 1220);
        assert_int_equal(p.qe_auth_len, 32);
        for (int i = 0; i < 32; i++) assert_int_equal(p.qe_auth[i], i);
        assert_ptr_equal(p.pck_pem, q + 1258);
        assert_int_equal(p.pck_pem_len, 3678);
        assert_int_equal(p.pck_pem[3677], 0); /* NUL-terminated inside its size */
        assert_memory_equal(p.pck_pem, "-----BEGIN CERTIFICATE-----", 27);
        /* the README's measurements in hex form */
        char hex[97];
        mk_measurement_to_hex(&p.m.mrtd, hex);
        assert_string_equal(hex, x->mrtd);
        free(q);
    }
}

static void debug_bit(void **state) {
    (void)state;
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    q[48 + 120] |= 1; /* TDATTRIBUTES bit 0 (the parser does not check signatures) */
    mk_tdx_quote_t p;
    assert_int_equal(mk_tdx_quote_parse(q, n, &p, NULL), MK_OK);
    assert_true(mk_tdx_quote_is_debug(&p));
    free(q);
}

static void truncation(void **state) {
    (void)state;
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    for (size_t len = 0; len < n; len++) {
        uint8_t *c = malloc(len ? len : 1); /* exact size: ASan sees any read past it */
        assert_non_null(c);
        memcpy(c, q, len);
        mk_tdx_quote_t p;
        mk_error_t e = {0};
        int rc = mk_tdx_quote_parse(c, len, &p, &e);
        if (len >= 4936) { /* only the zero tail is cut */
            assert_int_equal(rc, MK_OK);
        } else {
            assert_int_equal(rc, MK_EPROTO);
            assert_int_equal(e.code, MK_EPROTO);
            assert_true(strlen(e.msg) > 0);
        }
        free(c);
    }
    free(q);
}

static void expect_fail(const uint8_t *q, size_t n, int code, const char *needle) {
    mk_tdx_quote_t p;
    mk_error_t e = {0};
    int rc = mk_tdx_quote_parse(q, n, &p, &e);
    if (rc != code || !strstr(e.msg, needle)) fail_msg("got %d \"%s\", want %d \"%s\"", rc, e.msg, code, needle);
}

static void tail_and_fields(void **state) {
    (void)state;
    size_t n;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    for (size_t i = 4936; i < n; i++) {
        q[i] = 1;
        expect_fail(q, n, MK_EPROTO, "tail");
        q[i] = 0;
    }
    uint8_t save[4];
    /* unsupported */
    q[0] = 3;
    expect_fail(q, n, MK_ENOTSUP, "version");
    q[0] = 4;
    q[2] = 3;
    expect_fail(q, n, MK_ENOTSUP, "attestation key type");
    q[2] = 2;
    q[4] = 0;
    expect_fail(q, n, MK_ENOTSUP, "tee type");
    q[4] = 0x81;
    /* lengths */
    memcpy(save, q + 632, 4);
    q[632]++;
    expect_fail(q, n, MK_EPROTO, "certification data size");
    q[632] = 0xFF, q[633] = 0xFF;
    expect_fail(q, n, MK_EPROTO, "signature data length");
    memcpy(q + 632, save, 4);
    q[764] = 5;
    expect_fail(q, n, MK_EPROTO, "certification data type");
    q[764] = 6;
    q[1218] = 0x21; /* 33: the next field moves */
    expect_fail(q, n, MK_EPROTO, "inner certification data type");
    q[1218] = 0x20, q[1219] = 0x10; /* 4128 */
    expect_fail(q, n, MK_EPROTO, "exceeds 4096");
    q[1218] = 0xA0, q[1219] = 0x0F; /* 4000 */
    expect_fail(q, n, MK_EPROTO, "exceeds the certification data");
    q[1218] = 0x20, q[1219] = 0;
    q[1252] = 4;
    expect_fail(q, n, MK_EPROTO, "inner certification data type");
    q[1252] = 5;
    memcpy(save, q + 1254, 4);
    q[1254]--;
    expect_fail(q, n, MK_EPROTO, "pck chain size");
    memcpy(q + 1254, save, 4);
    mk_tdx_quote_t p;
    assert_int_equal(mk_tdx_quote_parse(q, n, &p, NULL), MK_OK);
    assert_int_equal(mk_tdx_quote_parse(q, MK_TDX_MAX_QUOTE + 1, &p, NULL), MK_EPROTO);
    free(q);
}

/* A copy of the quote whose PEM part is replaced by pem (sizes patched, no tail). */
static uint8_t *with_pem(const uint8_t *q, const char *pem, size_t pem_len, size_t *out_len) {
    size_t n = 1258 + pem_len;
    uint8_t *c = malloc(n);
    assert_non_null(c);
    memcpy(c, q, 1258);
    memcpy(c + 1258, pem, pem_len);
    uint32_t L = (uint32_t)(n - 636), C = (uint32_t)(n - 770), P = (uint32_t)pem_len;
    for (int i = 0; i < 4; i++) {
        c[632 + i] = (uint8_t)(L >> 8 * i);
        c[766 + i] = (uint8_t)(C >> 8 * i);
        c[1254 + i] = (uint8_t)(P >> 8 * i);
    }
    *out_len = n;
    return c;
}

static void pem_shape(void **state) {
    (void)state;
    size_t n, m;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    const char *pem = (const char *)q + 1258;
    size_t plen = 3677; /* without the NUL */
    const char *second = strstr(pem + 10, "-----BEGIN");
    assert_non_null(second);
    /* the original text as is, with CRLF-free extra whitespace and many trailing NULs: accepted */
    static char buf[16384];
    memcpy(buf, pem, plen);
    memcpy(buf + plen, "\n \t\n\0\0\0\0", 8);
    uint8_t *c = with_pem(q, buf, plen + 8, &m);
    mk_tdx_quote_t p;
    mk_error_t e = {0};
    assert_int_equal(mk_tdx_quote_parse(c, m, &p, &e), MK_OK);
    free(c);
    /* one certificate only */
    c = with_pem(q, pem, (size_t)(second - pem), &m);
    expect_fail(c, m, MK_EPROTO, "1 certificate");
    free(c);
    /* five certificates */
    size_t used = 0;
    for (int i = 0; i < 2; i++) memcpy(buf + used, pem, plen), used += plen;
    memcpy(buf + used, pem, (size_t)(second - pem)), used += (size_t)(second - pem);
    c = with_pem(q, buf, used, &m);
    expect_fail(c, m, MK_EPROTO, "more than 4");
    free(c);
    /* text between blocks, a NUL inside, a non-base64 byte, a truncated END line */
    const char *bad[] = {"junk\n", "\0\n"};
    for (size_t k = 0; k < 2; k++) {
        size_t first = (size_t)(second - pem), bl = k == 0 ? 5 : 2;
        memcpy(buf, pem, first);
        memcpy(buf + first, bad[k], bl);
        memcpy(buf + first + bl, second, plen - first);
        c = with_pem(q, buf, plen + bl, &m);
        expect_fail(c, m, MK_EPROTO, "pck chain");
        free(c);
    }
    memcpy(buf, pem, plen);
    buf[100] = '*';
    c = with_pem(q, buf, plen, &m);
    expect_fail(c, m, MK_EPROTO, "pck chain");
    free(c);
    c = with_pem(q, pem, plen - 3, &m);
    expect_fail(c, m, MK_EPROTO, "pck chain");
    free(c);
    free(q);
}

/* Builds a v5 quote of body type bt from the v4 one: header, descriptor, body (+64 bytes for 1.5). */
static uint8_t *v5_of(const uint8_t *q, size_t n, uint16_t bt, size_t *out_len) {
    size_t extra = bt == 3 ? 64 : 0, len = n + 6 + extra;
    uint8_t *c = calloc(1, len);
    assert_non_null(c);
    memcpy(c, q, 48);
    c[0] = 5;
    c[48] = (uint8_t)bt;
    uint32_t bs = bt == 3 ? 648 : 584;
    for (int i = 0; i < 4; i++) c[50 + i] = (uint8_t)(bs >> 8 * i);
    memcpy(c + 54, q + 48, 584);
    if (bt == 3) {
        memset(c + 54 + 584, 0x5A, 16); /* TEE_TCB_SVN_2 */
        memset(c + 54 + 600, 0xA5, 48); /* MRSERVICETD */
    }
    memcpy(c + 54 + bs, q + 632, n - 632);
    *out_len = len;
    return c;
}

static void v5_layouts(void **state) {
    (void)state;
    size_t n, m;
    uint8_t *q = (uint8_t *)tdx_read("tdx_quote_v4_a.bin", &n);
    mk_tdx_quote_t v4;
    assert_int_equal(mk_tdx_quote_parse(q, n, &v4, NULL), MK_OK);
    for (uint16_t bt = 2; bt <= 3; bt++) {
        uint8_t *c = v5_of(q, n, bt, &m);
        mk_tdx_quote_t p;
        mk_error_t e = {0};
        assert_int_equal(mk_tdx_quote_parse(c, m, &p, &e), MK_OK);
        assert_int_equal(p.version, 5);
        assert_int_equal(p.body_type, bt);
        assert_int_equal(p.body_off, 54);
        assert_int_equal(p.signed_len, bt == 3 ? 54 + 648 : 54 + 584);
        assert_memory_equal(&p.m, &v4.m, sizeof p.m);
        assert_memory_equal(p.report_data, v4.report_data, 64);
        assert_memory_equal(p.tee_tcb_svn, v4.tee_tcb_svn, 16);
        assert_int_equal(p.pck_pem_len, v4.pck_pem_len);
        if (bt == 3) {
            assert_int_equal(p.tee_tcb_svn2[15], 0x5A);
            assert_int_equal(p.mrservicetd[0], 0xA5);
        }
        /* the descriptor is checked: SGX body, unknown type, wrong size */
        c[48] = 1;
        expect_fail(c, m, MK_ENOTSUP, "body type");
        c[48] = 4;
        expect_fail(c, m, MK_ENOTSUP, "body type");
        c[48] = (uint8_t)bt;
        c[50] ^= 0x10;
        expect_fail(c, m, MK_EPROTO, "body size");
        c[50] ^= 0x10;
        /* truncation */
        for (size_t len = 0; len < 54 + 584 + 200; len++) assert_int_not_equal(mk_tdx_quote_parse(c, len, &p, NULL), MK_OK);
        /* a signed v5 quote needs its own signature: this one reaches QUOTE_SIG */
        mk_tdx_check_t chk;
        assert_int_equal(mk_tdx_quote_verify(c, m, NULL, TDX_NOW, NULL, &chk, NULL), MK_EBADSIG);
        assert_int_equal(chk, MK_TDX_CHK_QUOTE_SIG);
        free(c);
    }
    free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readme_values), cmocka_unit_test(debug_bit), cmocka_unit_test(truncation),
        cmocka_unit_test(tail_and_fields), cmocka_unit_test(pem_shape), cmocka_unit_test(v5_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
