/* unit/core/test_keys.c — Ed25519 identities: RFC 8032 vectors (public key and signature), the spec's
 * mk_secret_key_from_str("node-0") vector, strict key parsing, sign/verify round trips, rejection of
 * every flipped bit in message and signature, malformed public keys, and wiping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/id.h"

#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

#define RFC1_SEED "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define RFC1_PUB "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define RFC1_SIG                                                                                         \
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd2" \
    "5bf5f0595bbe24655141438e7a100b"
#define RFC2_SEED "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"
#define RFC2_PUB "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
#define RFC2_SIG                                                                                         \
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c38" \
    "7b2eaeb4302aeeb00d291612bb0c00"

static void unhex(const char *hex, uint8_t *out, size_t n) {
    assert_int_equal(strlen(hex), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void assert_id_hex(const mk_id_t *id, const char *want_hex) {
    char hex[MK_ID_HEX_LEN + 1];
    assert_string_equal(mk_id_hex(id, hex), want_hex);
}

static mk_secret_key_t key_from_hex(const char *hex) {
    mk_secret_key_t sk;
    assert_int_equal(mk_secret_key_parse_hex(hex, &sk), MK_OK);
    return sk;
}

/* ---- vectors ------------------------------------------------------------------------------------ */

static void rfc8032_test1_seed_gives_public_key_and_empty_message_signature(void **state) {
    mk_secret_key_t sk = key_from_hex(RFC1_SEED);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    assert_id_hex(&pub, RFC1_PUB);

    uint8_t sig[64], want[64];
    unhex(RFC1_SIG, want, sizeof want);
    assert_int_equal(mk_ed25519_sign(&sk, "", 0, sig), MK_OK);
    assert_memory_equal(sig, want, 64);
    assert_int_equal(mk_ed25519_sign(&sk, NULL, 0, sig), MK_OK);  /* NULL with n == 0 is the empty message */
    assert_memory_equal(sig, want, 64);
    assert_int_equal(mk_ed25519_verify(&pub, "", 0, want), MK_OK);
    assert_int_equal(mk_ed25519_verify(&pub, NULL, 0, want), MK_OK);
}

static void rfc8032_test2_one_byte_message_signature_matches(void **state) {
    mk_secret_key_t sk = key_from_hex(RFC2_SEED);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    assert_id_hex(&pub, RFC2_PUB);
    uint8_t sig[64], want[64];
    const uint8_t msg[1] = {0x72};
    unhex(RFC2_SIG, want, sizeof want);
    assert_int_equal(mk_ed25519_sign(&sk, msg, 1, sig), MK_OK);
    assert_memory_equal(sig, want, 64);
    assert_int_equal(mk_ed25519_verify(&pub, msg, 1, sig), MK_OK);
}

static void secret_key_from_str_node0_matches_spec_vector(void **state) {
    mk_secret_key_t sk;
    mk_secret_key_from_str("node-0", &sk);
    mk_id_t seed;
    memcpy(seed.b, sk.seed, 32);
    assert_id_hex(&seed, "7b4cef95e42178fc7ba3cb8470cd4b40413d47bdd00b1d588f9d2b78d9b80ebd");
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    assert_id_hex(&pub, "7e886b34916da6bd655bc8ed96713f089f07f14c080b9ec2bc2606faa4d67db9");
}

static void secret_key_from_str_64_hex_digits_used_as_seed(void **state) {
    mk_secret_key_t from_str, parsed = key_from_hex(RFC1_SEED);
    mk_secret_key_from_str(RFC1_SEED, &from_str);
    assert_memory_equal(from_str.seed, parsed.seed, 32);
    mk_peer_id_t pub = mk_secret_key_public(&from_str);
    assert_id_hex(&pub, RFC1_PUB);
}

/* ---- parsing ------------------------------------------------------------------------------------ */

static void secret_key_parse_hex_strict_rejects_and_accepts_upper_case(void **state) {
    mk_secret_key_t sk;
    memset(&sk, 0x5a, sizeof sk);
    assert_int_equal(mk_secret_key_parse_hex("node-0", &sk), MK_EINVAL);
    assert_int_equal(mk_secret_key_parse_hex(RFC1_SEED "0", &sk), MK_EINVAL);
    assert_int_equal(mk_secret_key_parse_hex("0x" RFC1_SEED, &sk), MK_EINVAL);
    assert_int_equal(mk_secret_key_parse_hex("", &sk), MK_EINVAL);
    assert_int_equal(mk_secret_key_parse_hex(NULL, &sk), MK_EINVAL);
    for (size_t i = 0; i < sizeof sk.seed; i++) assert_int_equal(sk.seed[i], 0x5a);  /* untouched */

    mk_secret_key_t upper = key_from_hex("9D61B19DEFFD5A60BA844AF492EC2CC44449C5697B326919703BAC031CAE7F60");
    mk_secret_key_t lower = key_from_hex(RFC1_SEED);
    assert_memory_equal(upper.seed, lower.seed, 32);
}

static void peer_id_parse_is_strict_hex(void **state) {
    mk_peer_id_t peer;
    assert_int_equal(mk_peer_id_parse(RFC1_PUB, &peer), MK_OK);
    assert_id_hex(&peer, RFC1_PUB);
    assert_int_equal(mk_peer_id_parse("node-0", &peer), MK_EINVAL);
    assert_int_equal(mk_peer_id_parse(RFC1_PUB "00", &peer), MK_EINVAL);
    assert_id_hex(&peer, RFC1_PUB);
}

/* ---- signing ------------------------------------------------------------------------------------ */

static void sign_verify_round_trip_over_message_sizes(void **state) {
    mk_secret_key_t sk;
    assert_int_equal(mk_secret_key_generate(&sk), MK_OK);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    assert_false(mk_id_is_zero(&pub));
    static uint8_t msg[70000];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 31 + 7);
    static const size_t sizes[] = {0, 1, 31, 32, 64, 1000, 70000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint8_t sig[64], again[64];
        assert_int_equal(mk_ed25519_sign(&sk, msg, sizes[k], sig), MK_OK);
        assert_int_equal(mk_ed25519_verify(&pub, msg, sizes[k], sig), MK_OK);
        assert_int_equal(mk_ed25519_sign(&sk, msg, sizes[k], again), MK_OK);
        assert_memory_equal(sig, again, 64);  /* Ed25519 is deterministic */
    }
    mk_secret_key_wipe(&sk);
}

static void verify_flipped_bit_in_message_or_signature_is_badsig(void **state) {
    mk_secret_key_t sk;
    mk_secret_key_from_str("node-0", &sk);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    uint8_t msg[48], sig[64];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)i;
    assert_int_equal(mk_ed25519_sign(&sk, msg, sizeof msg, sig), MK_OK);
    assert_int_equal(mk_ed25519_verify(&pub, msg, sizeof msg, sig), MK_OK);
    for (size_t bit = 0; bit < 8 * sizeof msg; bit++) {
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (mk_ed25519_verify(&pub, msg, sizeof msg, sig) != MK_EBADSIG) fail_msg("message bit %zu flipped", bit);
        msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (size_t bit = 0; bit < 8 * sizeof sig; bit++) {
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (mk_ed25519_verify(&pub, msg, sizeof msg, sig) != MK_EBADSIG) fail_msg("signature bit %zu flipped", bit);
        sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(mk_ed25519_verify(&pub, msg, sizeof msg - 1, sig), MK_EBADSIG);  /* truncated message */
    assert_int_equal(mk_ed25519_verify(&pub, msg, sizeof msg, sig), MK_OK);
    assert_int_equal(ERR_peek_error(), 0);  /* failures leave no OpenSSL errors queued */
}

static void verify_with_other_or_malformed_key_is_badsig(void **state) {
    mk_secret_key_t sk, other;
    mk_secret_key_from_str("node-0", &sk);
    mk_secret_key_from_str("node-1", &other);
    mk_peer_id_t other_pub = mk_secret_key_public(&other);
    uint8_t sig[64];
    assert_int_equal(mk_ed25519_sign(&sk, "hello", 5, sig), MK_OK);
    assert_int_equal(mk_ed25519_verify(&other_pub, "hello", 5, sig), MK_EBADSIG);
    mk_peer_id_t not_a_point;
    memset(not_a_point.b, 0xff, sizeof not_a_point.b);  /* y >= p: not an encoded curve point */
    assert_int_equal(mk_ed25519_verify(&not_a_point, "hello", 5, sig), MK_EBADSIG);
    assert_int_equal(mk_ed25519_verify(&MK_ID_ZERO, "hello", 5, sig), MK_EBADSIG);
    assert_int_equal(ERR_peek_error(), 0);
}

/* ---- generation and wiping --------------------------------------------------------------------- */

static void generate_gives_distinct_keys_and_peer_ids(void **state) {
    mk_secret_key_t a, b;
    assert_int_equal(mk_secret_key_generate(&a), MK_OK);
    assert_int_equal(mk_secret_key_generate(&b), MK_OK);
    assert_memory_not_equal(a.seed, b.seed, 32);
    mk_peer_id_t pa = mk_secret_key_public(&a), pb = mk_secret_key_public(&b);
    assert_false(mk_id_eq(&pa, &pb));
    mk_peer_id_t pa_again = mk_secret_key_public(&a);
    assert_true(mk_id_eq(&pa, &pa_again));
    mk_secret_key_wipe(&a);
    mk_secret_key_wipe(&b);
}

static void wipe_zeroes_every_seed_byte(void **state) {
    mk_secret_key_t sk;
    mk_secret_key_from_str("node-0", &sk);
    bool any_nonzero = false;
    for (size_t i = 0; i < sizeof sk.seed; i++) any_nonzero |= sk.seed[i] != 0;
    assert_true(any_nonzero);
    mk_secret_key_wipe(&sk);
    for (size_t i = 0; i < sizeof sk.seed; i++) assert_int_equal(sk.seed[i], 0);
    mk_secret_key_wipe(NULL);  /* no-op */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc8032_test1_seed_gives_public_key_and_empty_message_signature),
        cmocka_unit_test(rfc8032_test2_one_byte_message_signature_matches),
        cmocka_unit_test(secret_key_from_str_node0_matches_spec_vector),
        cmocka_unit_test(secret_key_from_str_64_hex_digits_used_as_seed),
        cmocka_unit_test(secret_key_parse_hex_strict_rejects_and_accepts_upper_case),
        cmocka_unit_test(peer_id_parse_is_strict_hex),
        cmocka_unit_test(sign_verify_round_trip_over_message_sizes),
        cmocka_unit_test(verify_flipped_bit_in_message_or_signature_is_badsig),
        cmocka_unit_test(verify_with_other_or_malformed_key_is_badsig),
        cmocka_unit_test(generate_gives_distinct_keys_and_peer_ids),
        cmocka_unit_test(wipe_zeroes_every_seed_byte),
    };
    return cmocka_run_group_tests_name("unit.core.keys", tests, NULL, NULL);
}
