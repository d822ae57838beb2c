/* unit/core/test_id.c — identifiers: every vector of spec 10 §1, the string rule at and around 64 hex
 * digits (63/65 bytes, "0x…", non-hex, embedded NULs), strict parsing, display forms, ordering,
 * derivations, from_u64 and random ids. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/id.h"

#include <ctype.h>
#include <string.h>

#define HEX4 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX4_UPPER "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"

/* Fails unless id's full hex form is want_hex. */
static void assert_id_hex(const mk_id_t *id, const char *want_hex) {
    char hex[MK_ID_HEX_LEN + 1];
    assert_string_equal(mk_id_hex(id, hex), want_hex);
}

static mk_id_t must_parse(const char *hex) {
    mk_id_t id;
    assert_int_equal(mk_id_parse_hex(hex, &id), MK_OK);
    return id;
}

/* ---- spec vectors ------------------------------------------------------------------------------ */

static void from_str_empty_is_official_blake3_of_empty_input(void **state) {
    mk_id_t id = mk_id_from_str("");
    assert_id_hex(&id, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
}

static void from_str_names_hash_to_spec_vectors(void **state) {
    mk_id_t my_app = mk_id_from_str("my-app"), other = mk_id_from_str("other-app");
    assert_id_hex(&my_app, "e03989181c8f0a8f6d7dd41c2780886a44dce46ee9419d91d2c2b99851afd811");
    assert_id_hex(&other, "e6729defb2da7963fd052dec13669b76bbe9de307a1a7704257b711f7366121a");
    char short_form[MK_ID_SHORT_LEN + 1];
    assert_string_equal(mk_id_short(&my_app, short_form), "e03989181c");
}

static void derive_str_of_my_app_matches_spec_vector(void **state) {
    mk_id_t my_app = mk_id_from_str("my-app");
    mk_id_t child = mk_id_derive_str(&my_app, "sub-identifier");
    assert_id_hex(&child, "095a4ff7cade1d452486a5b1efd9782ecb05cce4dc96b6111c2e0dd0ed6fdb1c");
    mk_id_t same = mk_id_derive(&my_app, "sub-identifier", strlen("sub-identifier"));
    assert_true(mk_id_eq(&child, &same));
}

static void hashed_of_my_app_matches_spec_vector(void **state) {
    mk_id_t my_app = mk_id_from_str("my-app");
    mk_id_t h = mk_id_hashed(&my_app);
    assert_id_hex(&h, "21f05ec6832d1ad19b928e6081ef5012203fa09a16a189e0ddbea9fcdb5b472f");
}

static void from_parts_prefix_suffix_matches_spec_vector(void **state) {
    const mk_bytes_t parts[2] = {{"prefix", 6}, {"suffix", 6}};
    mk_id_t id = mk_id_from_parts(parts, 2);
    assert_id_hex(&id, "5e3762aa32795d2cb21be3f092410de31cf145942bd8a8714c2b2a2d130482f9");
    mk_id_t joined = mk_id_hash("prefixsuffix", 12);
    assert_true(mk_id_eq(&id, &joined));
    /* Empty parts contribute nothing; no parts at all is the hash of empty input. */
    const mk_bytes_t with_empty[4] = {{NULL, 0}, {"prefix", 6}, {"", 0}, {"suffix", 6}};
    mk_id_t id2 = mk_id_from_parts(with_empty, 4);
    assert_true(mk_id_eq(&id, &id2));
    mk_id_t none = mk_id_from_parts(NULL, 0);
    assert_id_hex(&none, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
}

static void from_str_64_hex_digits_either_case_decoded(void **state) {
    static const uint8_t want_head[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    mk_id_t lower = mk_id_from_str(HEX4), upper = mk_id_from_str(HEX4_UPPER);
    for (int i = 0; i < 4; i++) assert_memory_equal(lower.b + 8 * i, want_head, 8);
    assert_true(mk_id_eq(&lower, &upper));
    assert_id_hex(&upper, HEX4);
}

static void from_str_63_hex_digits_hashed_to_spec_vector(void **state) {
    char s[64];
    memcpy(s, HEX4, 63);
    s[63] = '\0';
    mk_id_t id = mk_id_from_str(s);
    assert_id_hex(&id, "c3057f3c98aee9501593ebe9ed6e1f204bca4e29534cd675bfa4585913a9d887");
}

static void from_str_63_hex_digits_and_g_hashed_to_spec_vector(void **state) {
    char s[65];
    memcpy(s, HEX4, 63);
    s[63] = 'g';
    s[64] = '\0';
    mk_id_t id = mk_id_from_str(s);
    assert_id_hex(&id, "cb7ea191ffb84e78c0ba7150f2734dacf6739206d00475d72ccfac01a7d6995c");
}

static void from_u64_42_puts_little_endian_value_in_last_8_bytes(void **state) {
    mk_id_t id = mk_id_from_u64(42);
    assert_id_hex(&id, "0000000000000000000000000000000000000000000000002a00000000000000");
    mk_id_t big = mk_id_from_u64(UINT64_C(0x0102030405060708));
    static const uint8_t want_tail[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    assert_memory_equal(big.b + 24, want_tail, 8);
    assert_true(mk_id_is_zero(&MK_ID_ZERO));
    mk_id_t zero = mk_id_from_u64(0);
    assert_true(mk_id_is_zero(&zero));
}

/* ---- the string rule around its edges ---------------------------------------------------------- */

static void from_str_65_byte_hex_string_hashed_over_all_bytes(void **state) {
    const char *s = HEX4 "0";
    mk_id_t id = mk_id_from_str(s), want = mk_id_hash(s, 65), decoded = mk_id_from_str(HEX4);
    assert_true(mk_id_eq(&id, &want));
    assert_false(mk_id_eq(&id, &decoded));
}

static void from_str_0x_prefixed_hex_hashed_not_decoded(void **state) {
    const char *s = "0x" HEX4;
    mk_id_t id = mk_id_from_str(s), want = mk_id_hash(s, 66), decoded = mk_id_from_str(HEX4);
    assert_true(mk_id_eq(&id, &want));
    assert_false(mk_id_eq(&id, &decoded));
    /* "0x" plus 62 digits is 64 bytes but not all hex: hashed too. */
    char s64[65];
    memcpy(s64, "0x", 2);
    memcpy(s64 + 2, HEX4, 62);
    s64[64] = '\0';
    mk_id_t id64 = mk_id_from_str(s64), want64 = mk_id_hash(s64, 64);
    assert_true(mk_id_eq(&id64, &want64));
}

static void from_str_whitespace_is_not_trimmed(void **state) {
    mk_id_t padded = mk_id_from_str(" my-app"), plain = mk_id_from_str("my-app");
    assert_false(mk_id_eq(&padded, &plain));
    mk_id_t want = mk_id_hash(" my-app", 7);
    assert_true(mk_id_eq(&padded, &want));
}

static void from_strn_embedded_nul_hashes_every_byte(void **state) {
    static const char s[] = {'a', 'b', '\0', 'c', 'd'};
    mk_id_t id = mk_id_from_strn(s, sizeof s), want = mk_id_hash(s, sizeof s), prefix = mk_id_from_str("ab");
    assert_true(mk_id_eq(&id, &want));
    assert_false(mk_id_eq(&id, &prefix));
    /* 64 bytes that would be hex but for one NUL: hashed over all 64 bytes. */
    char hexnul[64];
    memcpy(hexnul, HEX4, 64);
    hexnul[10] = '\0';
    mk_id_t id64 = mk_id_from_strn(hexnul, 64), want64 = mk_id_hash(hexnul, 64);
    assert_true(mk_id_eq(&id64, &want64));
}

static void from_strn_uses_exactly_len_bytes(void **state) {
    mk_id_t decoded = mk_id_from_strn(HEX4 "trailing", 64), want = mk_id_from_str(HEX4);
    assert_true(mk_id_eq(&decoded, &want));
    mk_id_t part = mk_id_from_strn("my-app-and-more", 6), my_app = mk_id_from_str("my-app");
    assert_true(mk_id_eq(&part, &my_app));
}

/* Every byte value in the last position of 63 valid digits: accepted exactly for [0-9a-fA-F]. */
static void parse_hex_each_byte_value_accepted_only_if_hex_digit(void **state) {
    for (int c = 1; c < 256; c++) {
        char s[65];
        memcpy(s, HEX4, 63);
        s[63] = (char)c;
        s[64] = '\0';
        mk_id_t id = MK_ID_ZERO;
        int rc = mk_id_parse_hex(s, &id);
        bool is_hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (is_hex != (rc == MK_OK)) fail_msg("byte %#x: parse_hex returned %d", c, rc);
        mk_id_t via_rule = mk_id_from_str(s), hashed = mk_id_hash(s, 64);
        if (is_hex) {
            int want = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
            assert_int_equal(id.b[31], 0xe0 | want);
            assert_true(mk_id_eq(&via_rule, &id));
        } else {
            assert_true(mk_id_eq(&via_rule, &hashed));
        }
    }
}

/* ---- strict parsers ---------------------------------------------------------------------------- */

static void parse_hex_wrong_lengths_and_non_hex_rejected_output_untouched(void **state) {
    char s63[64], s65[66], gap[65];
    memcpy(s63, HEX4, 63);
    s63[63] = '\0';
    memcpy(s65, HEX4 "a", 66);
    memcpy(gap, HEX4, 65);
    gap[31] = ' ';
    const char *bad[] = {"", "00", s63, s65, "0x" HEX4, gap, "my-app"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mk_id_t out = mk_id_from_u64(7);
        assert_int_equal(mk_id_parse_hex(bad[i], &out), MK_EINVAL);
        mk_id_t seven = mk_id_from_u64(7);
        assert_true(mk_id_eq(&out, &seven));
        mk_peer_id_t peer = MK_ID_ZERO;
        assert_int_equal(mk_peer_id_parse(bad[i], &peer), MK_EINVAL);
    }
    mk_id_t out;
    assert_int_equal(mk_id_parse_hex(NULL, &out), MK_EINVAL);
    assert_int_equal(mk_id_parse_hex(HEX4, NULL), MK_EINVAL);
}

static void parse_hex_upper_case_accepted_and_displayed_lower(void **state) {
    mk_id_t upper = must_parse(HEX4_UPPER), lower = must_parse(HEX4);
    assert_true(mk_id_eq(&upper, &lower));
    assert_id_hex(&upper, HEX4);
    mk_peer_id_t peer;
    assert_int_equal(mk_peer_id_parse("D75A980182B10AB7D54BFED3C964073A0EE172F3DAA62325AF021A68F707511A", &peer),
                     MK_OK);
    assert_id_hex(&peer, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
}

static void hex_and_short_forms_round_trip_lowercase(void **state) {
    const char *mixed = "FfEeDdCcBbAa99887766554433221100ffeeddccbbaa99887766554433221100";
    mk_id_t id = must_parse(mixed);
    char hex[MK_ID_HEX_LEN + 1], short_form[MK_ID_SHORT_LEN + 1];
    memset(hex, 'X', sizeof hex);
    memset(short_form, 'X', sizeof short_form);
    assert_ptr_equal(mk_id_hex(&id, hex), hex);
    assert_ptr_equal(mk_id_short(&id, short_form), short_form);
    assert_int_equal(strlen(hex), MK_ID_HEX_LEN);
    assert_int_equal(strlen(short_form), MK_ID_SHORT_LEN);
    for (size_t i = 0; i < MK_ID_HEX_LEN; i++) assert_int_equal(hex[i], tolower((unsigned char)mixed[i]));
    assert_string_equal(short_form, "ffeeddccbb");
    mk_id_t back = must_parse(hex);
    assert_true(mk_id_eq(&back, &id));
}

/* ---- comparison, zero, random ------------------------------------------------------------------ */

static void cmp_orders_bytewise_from_first_byte(void **state) {
    mk_id_t low = MK_ID_ZERO, high_first = MK_ID_ZERO, high_last = MK_ID_ZERO;
    high_first.b[0] = 1;
    high_last.b[31] = 0xff;
    assert_true(mk_id_cmp(&low, &high_last) < 0);
    assert_true(mk_id_cmp(&high_last, &low) > 0);
    assert_true(mk_id_cmp(&high_last, &high_first) < 0);  /* the first byte outranks the last */
    assert_true(mk_id_cmp(&high_first, &high_last) > 0);
    mk_id_t copy = high_last;
    assert_int_equal(mk_id_cmp(&copy, &high_last), 0);
    assert_true(mk_id_eq(&copy, &high_last));
    assert_false(mk_id_eq(&low, &high_last));
    /* Unsigned bytes: 0x80 sorts above 0x7f. */
    mk_id_t b7f = MK_ID_ZERO, b80 = MK_ID_ZERO;
    b7f.b[5] = 0x7f;
    b80.b[5] = 0x80;
    assert_true(mk_id_cmp(&b7f, &b80) < 0);
}

static void is_zero_false_when_any_byte_set(void **state) {
    mk_id_t id = MK_ID_ZERO;
    assert_true(mk_id_is_zero(&id));
    for (size_t i = 0; i < 32; i++) {
        id = MK_ID_ZERO;
        id.b[i] = 1;
        assert_false(mk_id_is_zero(&id));
    }
}

static void random_ids_are_nonzero_and_distinct(void **state) {
    mk_id_t a = mk_id_random(), b = mk_id_random();
    assert_false(mk_id_is_zero(&a));
    assert_false(mk_id_eq(&a, &b));
}

static void derive_depends_on_parent_and_info(void **state) {
    mk_id_t p1 = mk_id_from_str("p1"), p2 = mk_id_from_str("p2");
    mk_id_t a = mk_id_derive_str(&p1, "x"), b = mk_id_derive_str(&p2, "x"), c = mk_id_derive_str(&p1, "y");
    assert_false(mk_id_eq(&a, &b));
    assert_false(mk_id_eq(&a, &c));
    uint8_t concat[33];
    memcpy(concat, p1.b, 32);
    concat[32] = 'x';
    mk_id_t want = mk_id_hash(concat, sizeof concat);
    assert_true(mk_id_eq(&a, &want));
    mk_id_t empty_info = mk_id_derive(&p1, NULL, 0), hashed = mk_id_hashed(&p1);
    assert_true(mk_id_eq(&empty_info, &hashed));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(from_str_empty_is_official_blake3_of_empty_input),
        cmocka_unit_test(from_str_names_hash_to_spec_vectors),
        cmocka_unit_test(derive_str_of_my_app_matches_spec_vector),
        cmocka_unit_test(hashed_of_my_app_matches_spec_vector),
        cmocka_unit_test(from_parts_prefix_suffix_matches_spec_vector),
        cmocka_unit_test(from_str_64_hex_digits_either_case_decoded),
        cmocka_unit_test(from_str_63_hex_digits_hashed_to_spec_vector),
        cmocka_unit_test(from_str_63_hex_digits_and_g_hashed_to_spec_vector),
        cmocka_unit_test(from_u64_42_puts_little_endian_value_in_last_8_bytes),
        cmocka_unit_test(from_str_65_byte_hex_string_hashed_over_all_bytes),
        cmocka_unit_test(from_str_0x_prefixed_hex_hashed_not_decoded),
        cmocka_unit_test(from_str_whitespace_is_not_trimmed),
        cmocka_unit_test(from_strn_embedded_nul_hashes_every_byte),
        cmocka_unit_test(from_strn_uses_exactly_len_bytes),
        cmocka_unit_test(parse_hex_each_byte_value_accepted_only_if_hex_digit),
        cmocka_unit_test(parse_hex_wrong_lengths_and_non_hex_rejected_output_untouched),
        cmocka_unit_test(parse_hex_upper_case_accepted_and_displayed_lower),
        cmocka_unit_test(hex_and_short_forms_round_trip_lowercase),
        cmocka_unit_test(cmp_orders_bytewise_from_first_byte),
        cmocka_unit_test(is_zero_false_when_any_byte_set),
        cmocka_unit_test(random_ids_are_nonzero_and_distinct),
        cmocka_unit_test(derive_depends_on_parent_and_info),
    };
    return cmocka_run_group_tests_name("unit.core.id", tests, NULL, NULL);
}
