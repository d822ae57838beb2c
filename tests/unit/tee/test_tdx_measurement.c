/* unit/tee/test_tdx_measurement.c — measurements and criteria (spec 60 §7, §12 TDX item 5 criteria
 * vectors): hex round trip and rejects, register access, matching, and signatures equal to vectors
 * computed independently (tests/data/tdx/criteria_vectors.py, a from-scratch BLAKE3). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/tdx.h"
#include "unit/tee/tdx_data.h"

static const char MRTD[] =
    "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";
static const char RTMR0[] =
    "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0";

static void hex_round_trip(void **state) {
    (void)state;
    mk_measurement_t m;
    char out[97];
    assert_int_equal(mk_measurement_from_hex(MRTD, &m), MK_OK);
    mk_measurement_to_hex(&m, out);
    assert_string_equal(out, MRTD);
    char upper[97];
    for (size_t i = 0; i < 97; i++) upper[i] = (char)(MRTD[i] >= 'a' && MRTD[i] <= 'f' ? MRTD[i] - 32 : MRTD[i]);
    mk_measurement_t u;
    assert_int_equal(mk_measurement_from_hex(upper, &u), MK_OK);
    assert_memory_equal(u.b, m.b, 48);
    mk_measurement_to_hex(&u, out);
    assert_string_equal(out, MRTD); /* printed lowercase */
}

static void hex_rejects(void **state) {
    (void)state;
    mk_measurement_t m, before;
    memset(&m, 0xAA, sizeof m);
    before = m;
    char buf[200];
    assert_int_equal(mk_measurement_from_hex("", &m), MK_EINVAL);
    memcpy(buf, MRTD, 95);
    buf[95] = '\0'; /* 95 digits */
    assert_int_equal(mk_measurement_from_hex(buf, &m), MK_EINVAL);
    snprintf(buf, sizeof buf, "%s0", MRTD); /* 97 */
    assert_int_equal(mk_measurement_from_hex(buf, &m), MK_EINVAL);
    snprintf(buf, sizeof buf, "%s00", MRTD); /* 98 */
    assert_int_equal(mk_measurement_from_hex(buf, &m), MK_EINVAL);
    for (size_t i = 0; i < 96; i += 7) {
        snprintf(buf, sizeof buf, "%s", MRTD);
        buf[i] = 'g';
        assert_int_equal(mk_measurement_from_hex(buf, &m), MK_EINVAL);
        buf[i] = ' ';
        assert_int_equal(mk_measurement_from_hex(buf, &m), MK_EINVAL);
    }
    snprintf(buf, sizeof buf, "0x%s", MRTD);
    buf[96] = '\0';
    assert_int_equal(mk_measurement_from_hex(buf, &m), MK_EINVAL);
    assert_int_equal(mk_measurement_from_hex(NULL, &m), MK_EINVAL);
    assert_memory_equal(&m, &before, sizeof m); /* untouched on failure */
}

static void registers(void **state) {
    (void)state;
    mk_measurements_t ms;
    for (size_t i = 0; i < sizeof ms; i++) ((uint8_t *)&ms)[i] = (uint8_t)i;
    assert_ptr_equal(mk_measurements_reg(&ms, MK_TDX_MRTD), &ms.mrtd);
    for (int r = 0; r < 4; r++) assert_ptr_equal(mk_measurements_reg(&ms, (mk_tdx_reg_t)(MK_TDX_RTMR0 + r)), &ms.rtmr[r]);
    assert_null(mk_measurements_reg(&ms, (mk_tdx_reg_t)5));
}

static void matching(void **state) {
    (void)state;
    mk_measurements_t ms;
    memset(&ms, 0, sizeof ms);
    assert_int_equal(mk_measurement_from_hex(MRTD, &ms.mrtd), MK_OK);
    assert_int_equal(mk_measurement_from_hex(RTMR0, &ms.rtmr[0]), MK_OK);
    mk_tdx_criteria_t any = MK_TDX_CRITERIA_ANY;
    assert_true(mk_tdx_criteria_matches(&any, &ms));
    mk_tdx_criteria_t c = MK_TDX_CRITERIA_ANY;
    mk_tdx_criteria_require(&c, MK_TDX_MRTD, &ms.mrtd);
    assert_true(mk_tdx_criteria_matches(&c, &ms));
    mk_measurements_t other = ms;
    other.mrtd.b[47] ^= 1;
    assert_false(mk_tdx_criteria_matches(&c, &other));
    other = ms;
    other.rtmr[3].b[0] ^= 1; /* not required: still matches */
    assert_true(mk_tdx_criteria_matches(&c, &other));
    mk_tdx_criteria_t all = MK_TDX_CRITERIA_ANY;
    mk_tdx_criteria_from_measurements(&all, &ms);
    assert_int_equal(all.required, MK_TDX_REG_ALL);
    assert_true(mk_tdx_criteria_matches(&all, &ms));
    assert_false(mk_tdx_criteria_matches(&all, &other));
    for (int r = 0; r < 5; r++) {
        mk_measurements_t x = ms;
        ((mk_measurement_t *)mk_measurements_reg(&x, (mk_tdx_reg_t)r))->b[5] ^= 0x80;
        assert_false(mk_tdx_criteria_matches(&all, &x));
    }
}

static void hexid(const mk_id_t *id, const char *want) {
    char h[65];
    mk_id_hex(id, h);
    assert_string_equal(h, want);
}

static void signature_vectors(void **state) {
    (void)state;
    mk_measurement_t mrtd, rtmr0, zero, fill;
    assert_int_equal(mk_measurement_from_hex(MRTD, &mrtd), MK_OK);
    assert_int_equal(mk_measurement_from_hex(RTMR0, &rtmr0), MK_OK);
    memset(&zero, 0, sizeof zero);
    mk_tdx_criteria_t c = MK_TDX_CRITERIA_ANY;
    mk_id_t any = mk_tdx_criteria_signature(&c);
    hexid(&any, "3b000e646edb8d04184a929f13bb44c343bfbfb74fde13aa0dd1e058cca552b2");
    mk_tdx_criteria_require(&c, MK_TDX_MRTD, &mrtd);
    mk_id_t s1 = mk_tdx_criteria_signature(&c);
    hexid(&s1, "a4983140c24a202818739609e41f096c7233ff4d41c039db50229a472a3a2260");
    mk_tdx_criteria_require(&c, MK_TDX_RTMR0, &rtmr0);
    mk_id_t s2 = mk_tdx_criteria_signature(&c);
    hexid(&s2, "b01b01440ed89648643db2d1572a4d7d8bceecce3584a2fc6e2da6f5f94ecef1");
    mk_tdx_criteria_t z = MK_TDX_CRITERIA_ANY;
    mk_tdx_criteria_require(&z, MK_TDX_RTMR3, &zero);
    mk_id_t s3 = mk_tdx_criteria_signature(&z);
    hexid(&s3, "374217565a6f61604ba86896eff22ef3f616f3bf5d02ba473976a22205351bc0");
    /* the fillers are 09h, 01h, 02h, 03h, 04h: requiring exactly them is indistinguishable from "any",
     * and any other filler changes the signature */
    static const uint8_t fillers[5] = {0x09, 0x01, 0x02, 0x03, 0x04};
    mk_tdx_criteria_t f = MK_TDX_CRITERIA_ANY;
    for (int r = 0; r < 5; r++) {
        mk_tdx_criteria_t one = MK_TDX_CRITERIA_ANY;
        memset(fill.b, fillers[r], 48);
        mk_tdx_criteria_require(&one, (mk_tdx_reg_t)r, &fill);
        mk_id_t a = mk_tdx_criteria_signature(&one);
        assert_memory_equal(a.b, any.b, 32);
        mk_tdx_criteria_require(&f, (mk_tdx_reg_t)r, &fill);
        for (int other = 0; other < 5; other++) {
            if (other == r) continue;
            mk_tdx_criteria_t wrong = MK_TDX_CRITERIA_ANY;
            memset(fill.b, fillers[other], 48);
            mk_tdx_criteria_require(&wrong, (mk_tdx_reg_t)r, &fill);
            mk_id_t w = mk_tdx_criteria_signature(&wrong);
            assert_memory_not_equal(w.b, any.b, 32);
        }
    }
    mk_id_t sf = mk_tdx_criteria_signature(&f);
    hexid(&sf, "3b000e646edb8d04184a929f13bb44c343bfbfb74fde13aa0dd1e058cca552b2");
    /* equal criteria, equal signatures; the order of require calls does not matter */
    mk_tdx_criteria_t a = MK_TDX_CRITERIA_ANY, b = MK_TDX_CRITERIA_ANY;
    mk_tdx_criteria_require(&a, MK_TDX_MRTD, &mrtd);
    mk_tdx_criteria_require(&a, MK_TDX_RTMR0, &rtmr0);
    mk_tdx_criteria_require(&b, MK_TDX_RTMR0, &rtmr0);
    mk_tdx_criteria_require(&b, MK_TDX_MRTD, &mrtd);
    mk_id_t sa = mk_tdx_criteria_signature(&a), sb = mk_tdx_criteria_signature(&b);
    assert_memory_equal(sa.b, sb.b, 32);
    /* the same value in another register is another signature */
    mk_tdx_criteria_t moved = MK_TDX_CRITERIA_ANY;
    mk_tdx_criteria_require(&moved, MK_TDX_RTMR1, &mrtd);
    mk_id_t sm = mk_tdx_criteria_signature(&moved);
    assert_memory_not_equal(sm.b, s1.b, 32);
    /* a stale value under a cleared bit does not count */
    mk_tdx_criteria_t stale = MK_TDX_CRITERIA_ANY;
    stale.value[2] = mrtd;
    mk_id_t ss = mk_tdx_criteria_signature(&stale);
    assert_memory_equal(ss.b, any.b, 32);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hex_round_trip), cmocka_unit_test(hex_rejects), cmocka_unit_test(registers),
        cmocka_unit_test(matching),       cmocka_unit_test(signature_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
