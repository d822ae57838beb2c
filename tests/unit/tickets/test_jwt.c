/* unit/tickets/test_jwt.c — our JWT builder and validator (spec 60 §3, §12 JWT items 1–3): round trips
 * for every algorithm and key form, the builder's exact output, validator signatures (fingerprints,
 * key order, claim order, every option), and the rejections with their reasons: tampering, wrong key,
 * alg none and confusion, crit, DER and out-of-range ECDSA signatures, time and claim checks, number
 * ranges, duplicate members, padding, extra segments and size. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tickets/b64url.h"
#include "tickets/jwt_key.h"

#include <jansson.h>
#include <openssl/ecdsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_S 1893456000LL /* 2030-01-01 */
#define NOW_MS (NOW_S * 1000)
#define JWT_CLASS_HEX "4586eafab50d29f2ad5212e08f84d0a789cd6a565ce8d344652b1b7b60973d8c"

static json_t *doc;
static mk_id_t PEER;
static mk_ticket_peer_t peer;

static int load(void **state) {
    (void)state;
    doc = json_load_file(MK_TEST_DATA_DIR "/jwt/vectors.json", 0, NULL);
    assert_non_null(doc);
    PEER = mk_id_from_str("jwt-unit-peer");
    peer = (mk_ticket_peer_t){.peer_id = PEER, .network_id = mk_id_from_str("jwt-unit")};
    return 0;
}

static int unload(void **state) {
    (void)state;
    json_decref(doc);
    return 0;
}

static const char *keyfield(const char *alg, const char *field) {
    return json_string_value(json_object_get(json_object_get(json_object_get(doc, "keys"), alg), field));
}

static const char *const NAMES[] = {"", "HS256", "HS384", "HS512", "ES256", "ES256K", "ES384", "ES512", "EdDSA"};

/* The vector file's private key of alg in a form (0 hex, 1 raw, 2 pem). */
static mk_jwt_signer_t *signer_of(mk_jwt_alg_t alg, int form) {
    const char *n = NAMES[alg];
    const char *hex = alg <= MK_JWT_HS512 ? keyfield(n, "secret_hex")
                      : alg == MK_JWT_EDDSA ? keyfield(n, "private_seed_hex") : keyfield(n, "private_scalar_hex");
    uint8_t raw[256];
    size_t len = strlen(hex) / 2;
    for (size_t i = 0; i < len; i++) sscanf(hex + 2 * i, "%2hhx", &raw[i]);
    mk_jwt_key_t k = form == 0 ? (mk_jwt_key_t)MK_JWT_KEY_HEX(alg, hex)
                     : form == 1 ? (mk_jwt_key_t)MK_JWT_KEY_RAW(alg, raw, len)
                                 : (mk_jwt_key_t)MK_JWT_KEY_PEM(alg, keyfield(n, "private_pem"));
    mk_error_t e;
    mk_jwt_signer_t *s = mk_jwt_signer_new(&k, &e);
    if (!s) fail_msg("%s signer (form %d): %s", n, form, e.msg);
    return s;
}

static mk_jwt_key_t public_of(mk_jwt_alg_t alg, int form) {
    const char *n = NAMES[alg];
    if (alg <= MK_JWT_HS512) return (mk_jwt_key_t)MK_JWT_KEY_HEX(alg, keyfield(n, "secret_hex"));
    if (form == 2) return (mk_jwt_key_t)MK_JWT_KEY_PEM(alg, keyfield(n, "public_pem"));
    if (alg == MK_JWT_EDDSA) return (mk_jwt_key_t)MK_JWT_KEY_HEX(alg, keyfield(n, "public_raw_hex"));
    return (mk_jwt_key_t)MK_JWT_KEY_HEX(alg, keyfield(n, form == 1 ? "public_sec1_uncompressed_hex" : "public_sec1_compressed_hex"));
}

static mk_ticket_verdict_t judge(const mk_jwt_config_t *cfg, const char *token) {
    mk_ticket_validator_t v = MK_JWT_VALIDATOR(cfg);
    mk_ticket_verdict_t out;
    mk_ticket_validate(&v, (const uint8_t *)token, strlen(token), &peer, NOW_MS, &out);
    return out;
}

static char *sign(const mk_jwt_builder_t *b) {
    mk_buf_t t = MK_BUF_INIT;
    mk_error_t e;
    if (mk_jwt_sign(b, &PEER, NOW_MS, &t, &e) != MK_OK) fail_msg("sign: %s", e.msg);
    return t.ptr;  /* NUL-terminated */
}

/* A token with arbitrary header and claims JSON, signed by s (sig_override: NULL = a real signature). */
static char *forge(const mk_jwt_signer_t *s, const char *header, const char *claims, const uint8_t *sig_override,
                   size_t sig_len) {
    mk_buf_t b = MK_BUF_INIT;
    mk_b64url_encode((const uint8_t *)header, strlen(header), &b);
    mk_buf_append(&b, ".", 1);
    mk_b64url_encode((const uint8_t *)claims, strlen(claims), &b);
    uint8_t sig[MK_JWT_MAX_SIG];
    size_t n = sig_len;
    if (!sig_override) {
        /* sign as the builder does: the signer's key over header.claims */
        assert_int_equal(mk_jwt_key_sign(mk_jwt_signer_key(s), b.ptr, b.len, sig, &n, NULL), MK_OK);
        sig_override = sig;
    }
    mk_buf_append(&b, ".", 1);
    mk_b64url_encode(sig_override, n, &b);
    mk_buf_append(&b, "", 1);
    return b.ptr;
}

static mk_jwt_config_t base_cfg(mk_jwt_alg_t alg) {
    mk_jwt_config_t c;
    memset(&c, 0, sizeof c);
    c.keys[0] = public_of(alg, 0);
    return c;
}

/* ---- round trips ---- */

static void builder_to_validator_round_trips_for_every_algorithm_and_key_form(void **state) {
    (void)state;
    for (mk_jwt_alg_t alg = MK_JWT_HS256; alg <= MK_JWT_EDDSA; alg++) {
        for (int sf = 0; sf < 3; sf++) {
            if (alg <= MK_JWT_HS512 && sf == 2) continue;  /* secrets have no PEM */
            mk_jwt_signer_t *s = signer_of(alg, sf);
            assert_int_equal(mk_jwt_signer_alg(s), alg);
            mk_jwt_builder_t b = {.signer = s, .issuer = "my-app", .audience = "stream", .expires_in_s = 600,
                                  .claims = {MK_JWT_CLAIM_STR("role", "writer"), MK_JWT_CLAIM_INT("level", 3)}};
            char *tok = sign(&b);
            for (int vf = 0; vf < 3; vf++) {
                mk_jwt_config_t c = {.keys = {public_of(alg, vf)}, .issuers = {"my-app"}, .audiences = {"stream"},
                                     .claims = {MK_JWT_CLAIM_STR("role", "writer"), MK_JWT_CLAIM_INT("level", 3)}};
                mk_ticket_verdict_t v = judge(&c, tok);
                if (!v.valid) fail_msg("%s signer form %d, key form %d: %s (%s)", NAMES[alg], sf, vf, mk_ticket_reason_str(v.reason), v.detail);
                assert_int_equal(v.expires, (NOW_S + 600) * 1000);
            }
            /* the signer's public key is the verifying key */
            uint8_t pub[1024];
            size_t n = mk_jwt_signer_public(s, pub, sizeof pub);
            mk_jwt_config_t c = {.keys = {MK_JWT_KEY_RAW(alg, pub, n)}};
            c.issuers[0] = "my-app";
            c.audiences[0] = "stream";
            assert_true(judge(&c, tok).valid);
            free(tok);
            mk_jwt_signer_free(s);
        }
        /* a generated key round-trips too */
        mk_error_t e;
        mk_jwt_signer_t *g = mk_jwt_signer_generate(alg, &e);
        assert_non_null(g);
        mk_jwt_builder_t b = {.signer = g, .expires_in_s = 60};
        char *tok = sign(&b);
        uint8_t pub[1024];
        size_t n = mk_jwt_signer_public(g, pub, sizeof pub);
        mk_jwt_config_t c = {.keys = {MK_JWT_KEY_RAW(alg, pub, n)}};
        assert_true(judge(&c, tok).valid);
        free(tok);
        mk_jwt_signer_free(g);
    }
}

static void builder_output_is_exact(void **state) {
    (void)state;
    mk_jwt_signer_t *s = signer_of(MK_JWT_HS256, 0);
    mk_jwt_builder_t b = {.signer = s, .issuer = "iss", .subject = "sub", .audience = "aud",
                          .expires_at = (NOW_S + 10) * 1000 + 999, .not_before_s = NOW_S - 5, .issued_at_s = NOW_S - 1,
                          .token_id = "id-1",
                          .claims = {MK_JWT_CLAIM_BOOL("z", true), MK_JWT_CLAIM_JSON("a", "{\"k\":[1,2]}"),
                                     MK_JWT_CLAIM_STR("m", "x\"y")}};
    char *tok = sign(&b);
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    uint8_t raw[512];
    size_t n;
    assert_true(mk_b64url_decode(tok, (size_t)(d1 - tok), raw, &n));
    assert_int_equal(n, strlen("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"));
    assert_memory_equal(raw, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", n);
    assert_true(mk_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), raw, &n));
    raw[n] = 0;
    char want[256];
    snprintf(want, sizeof want,
             "{\"iss\":\"iss\",\"sub\":\"sub\",\"aud\":\"aud\",\"exp\":%lld,\"nbf\":%lld,\"iat\":%lld,\"jti\":\"id-1\","
             "\"a\":{\"k\":[1,2]},\"m\":\"x\\\"y\",\"z\":true}",
             NOW_S + 10, NOW_S - 5, NOW_S - 1);
    assert_string_equal((char *)raw, want);
    free(tok);
    /* registered names and unparsable JSON values are refused */
    mk_buf_t t = MK_BUF_INIT;
    mk_error_t e;
    mk_jwt_builder_t bad = {.signer = s, .claims = {MK_JWT_CLAIM_STR("exp", "1")}};
    assert_int_equal(mk_jwt_sign(&bad, &PEER, NOW_MS, &t, &e), MK_EINVAL);
    mk_jwt_builder_t bad2 = {.signer = s, .claims = {MK_JWT_CLAIM_JSON("x", "{nope")}};
    assert_int_equal(mk_jwt_sign(&bad2, &PEER, NOW_MS, &t, &e), MK_EINVAL);
    /* expires_at NEVER → no exp; the validator then needs allow_non_expiring */
    mk_jwt_builder_t never = {.signer = s, .expires_at = MK_EXPIRES_NEVER};
    tok = sign(&never);
    mk_jwt_config_t c = base_cfg(MK_JWT_HS256);
    assert_int_equal(judge(&c, tok).reason, MK_TICKET_POLICY);
    c.allow_non_expiring = true;
    mk_ticket_verdict_t v = judge(&c, tok);
    assert_true(v.valid);
    assert_true(v.expires == MK_EXPIRES_NEVER);
    free(tok);
    /* a ticket wraps the token */
    mk_ticket_t *tk = NULL;
    mk_jwt_builder_t one = {.signer = s, .expires_in_s = 5};
    assert_int_equal(mk_jwt_build_ticket(&one, &PEER, NOW_MS, &tk, &e), MK_OK);
    mk_id_t cls = mk_jwt_class();
    assert_true(mk_id_eq(&tk->cls, &cls));
    mk_ticket_free(tk);
    mk_jwt_signer_free(s);
}

/* ---- signatures ---- */

static void validator_signature_follows_its_configuration(void **state) {
    (void)state;
    char hex[65];
    mk_id_t cls = mk_jwt_class();
    /* H("mosaik.tickets.jwt.v1"), as `mosaik id mosaik.tickets.jwt.v1` prints it */
    assert_string_equal(mk_id_hex(&cls, hex), JWT_CLASS_HEX);
    /* fingerprint = D(H(label), key bytes) */
    mk_jwt_parsed_key_t k;
    mk_jwt_key_t hs = public_of(MK_JWT_HS256, 0);
    assert_int_equal(mk_jwt_key_parse_public(&hs, &k, NULL), MK_OK);
    mk_id_t label = mk_id_from_str("hs256");
    mk_id_t want = mk_id_derive(&label, k.secret, k.secret_len);
    assert_true(mk_id_eq(&k.fingerprint, &want));
    mk_jwt_key_free(&k);
    mk_jwt_key_t ed = public_of(MK_JWT_EDDSA, 0);
    assert_int_equal(mk_jwt_key_parse_public(&ed, &k, NULL), MK_OK);
    label = mk_id_from_str("EdDsa");
    want = mk_id_derive(&label, k.pub, 32);
    assert_true(mk_id_eq(&k.fingerprint, &want));
    mk_jwt_key_free(&k);

    mk_jwt_config_t a = {.keys = {public_of(MK_JWT_HS256, 0), public_of(MK_JWT_ES256, 0)},
                         .claims = {MK_JWT_CLAIM_STR("role", "w"), MK_JWT_CLAIM_INT("n", 1)}};
    mk_ticket_validator_t va = MK_JWT_VALIDATOR(&a);
    mk_id_t sa = mk_ticket_validator_signature(&va);
    /* claim order does not matter */
    mk_jwt_config_t b = a;
    b.claims[0] = a.claims[1];
    b.claims[1] = a.claims[0];
    mk_ticket_validator_t vb = MK_JWT_VALIDATOR(&b);
    mk_id_t sb = mk_ticket_validator_signature(&vb);
    assert_true(mk_id_eq(&sa, &sb));
    /* key order does */
    b = a;
    b.keys[0] = a.keys[1];
    b.keys[1] = a.keys[0];
    sb = mk_ticket_validator_signature(&vb);
    assert_false(mk_id_eq(&sa, &sb));
    /* and every option */
    for (int opt = 0; opt < 9; opt++) {
        b = a;
        switch (opt) {
        case 0: b.allow_non_expiring = true; break;
        case 1: b.issuers[0] = "x"; break;
        case 2: b.audiences[0] = "x"; break;
        case 3: b.subject = "x"; break;
        case 4: b.max_lifetime_s = 1; break;
        case 5: b.max_age_s = 1; break;
        case 6: b.claims[1] = (mk_jwt_claim_t)MK_JWT_CLAIM_STR("n", "1"); break;  /* "1" ≠ 1 */
        case 7: b.claims[2] = (mk_jwt_claim_t)MK_JWT_CLAIM_BOOL("b", false); break;
        case 8: b.keys[2] = public_of(MK_JWT_EDDSA, 0); break;
        }
        sb = mk_ticket_validator_signature(&vb);
        if (mk_id_eq(&sa, &sb)) fail_msg("option %d does not change the signature", opt);
    }
    /* a heap validator of the same configuration has the same signature */
    mk_error_t e;
    const mk_ticket_validator_t *h = mk_jwt_validator_new(&a, &e);
    assert_non_null(h);
    mk_id_t sh = mk_ticket_validator_signature(h);
    assert_true(mk_id_eq(&sa, &sh));
    mk_ticket_validator_unref(mk_ticket_validator_ref(h));
    mk_ticket_validator_unref(h);
}

static void bad_configurations_are_refused_naming_the_setting(void **state) {
    (void)state;
    mk_error_t e;
    mk_jwt_config_t c = {0};
    assert_null(mk_jwt_validator_new(&c, &e));  /* no key */
    assert_non_null(strstr(e.msg, "jwt.keys"));
    c = base_cfg(MK_JWT_HS256);
    c.claims[0] = (mk_jwt_claim_t)MK_JWT_CLAIM_STR("sub", "x");
    assert_null(mk_jwt_validator_new(&c, &e));
    assert_non_null(strstr(e.msg, "registered"));
    const char *cases[][2] = {
        {"HS256", "00112233"},                                                        /* short secret */
        {"ES256", "02aaaa"},                                                          /* wrong length */
        /* the generator with y + 1: off the curve */
        {"ES256", "046B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C2964FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F6"},
        {"EdDSA", "0011"},
        {"ES256", "zz9c7632acb649494b71a3891649dc322ad379bd2ad4df378dee6226f1b325b850"}, /* not hex */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mk_jwt_alg_t alg = MK_JWT_END;
        for (int a = 1; a <= 8; a++)
            if (!strcmp(NAMES[a], cases[i][0])) alg = (mk_jwt_alg_t)a;
        mk_jwt_config_t bad = {.keys = {MK_JWT_KEY_HEX(alg, cases[i][1])}};
        mk_ticket_validator_t v = MK_JWT_VALIDATOR(&bad);
        if (mk_ticket_validator_check(&v, &e) != MK_EINVAL) fail_msg("case %zu accepted", i);
        assert_non_null(strstr(e.msg, "jwt.keys[0]"));
    }
    /* a PEM of another key type */
    mk_jwt_config_t wrong = {.keys = {MK_JWT_KEY_PEM(MK_JWT_ES384, keyfield("ES256", "public_pem"))}};
    mk_ticket_validator_t v = MK_JWT_VALIDATOR(&wrong);
    assert_int_equal(mk_ticket_validator_check(&v, &e), MK_EINVAL);
    /* a scalar of 0 or ≥ n for a signer */
    mk_jwt_key_t zero = MK_JWT_KEY_HEX(MK_JWT_ES256, "0000000000000000000000000000000000000000000000000000000000000000");
    assert_null(mk_jwt_signer_new(&zero, &e));
    mk_jwt_key_t big = MK_JWT_KEY_HEX(MK_JWT_ES256, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    assert_null(mk_jwt_signer_new(&big, &e));
    /* a static validator with a bad configuration judges nothing valid */
    mk_ticket_verdict_t out;
    mk_ticket_validate(&v, (const uint8_t *)"a.b.c", 5, &peer, NOW_MS, &out);
    assert_int_equal(out.reason, MK_TICKET_INTERNAL);
}

/* ---- rejections ---- */

static void every_changed_character_is_rejected(void **state) {
    (void)state;
    mk_jwt_alg_t algs[] = {MK_JWT_HS256, MK_JWT_ES256, MK_JWT_EDDSA};
    for (size_t a = 0; a < 3; a++) {
        mk_jwt_signer_t *s = signer_of(algs[a], 0);
        mk_jwt_builder_t b = {.signer = s, .issuer = "my-app", .expires_in_s = 600};
        char *tok = sign(&b);
        mk_jwt_config_t c = base_cfg(algs[a]);
        c.issuers[0] = "my-app";
        assert_true(judge(&c, tok).valid);
        size_t n = strlen(tok);
        for (size_t i = 0; i < n; i++) {
            char saved = tok[i];
            const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
            for (int k = 0; k < 2; k++) {
                size_t na = strlen(alphabet), at = strchr(alphabet, saved) ? (size_t)(strchr(alphabet, saved) - alphabet) : 0;
                tok[i] = alphabet[(at + 1 + (size_t)k * 7) % na];
                if (tok[i] == saved) tok[i] = saved == 'A' ? 'B' : 'A';
                mk_ticket_verdict_t v = judge(&c, tok);
                if (v.valid) fail_msg("%s: changing char %zu ('%c' → '%c') still validates", NAMES[algs[a]], i, saved, tok[i]);
            }
            tok[i] = saved;
        }
        free(tok);
        mk_jwt_signer_free(s);
    }
}

static void confusion_none_crit_and_wrong_keys_are_refused(void **state) {
    (void)state;
    mk_jwt_signer_t *hs = signer_of(MK_JWT_HS256, 0), *es = signer_of(MK_JWT_ES256, 0);
    char cl[256], hex[65];
    snprintf(cl, sizeof cl, "{\"sub\":\"%s\",\"exp\":%lld}", mk_id_hex(&PEER, hex), NOW_S + 100);
    mk_jwt_config_t hcfg = base_cfg(MK_JWT_HS256), ecfg = base_cfg(MK_JWT_ES256), edcfg = base_cfg(MK_JWT_EDDSA);
    /* wrong key of the right algorithm */
    mk_jwt_signer_t *other = mk_jwt_signer_generate(MK_JWT_HS256, NULL);
    mk_jwt_builder_t b = {.signer = other, .expires_in_s = 60};
    char *t = sign(&b);
    assert_int_equal(judge(&hcfg, t).reason, MK_TICKET_BAD_SIGNATURE);
    free(t);
    mk_jwt_signer_free(other);
    /* alg none, with an empty and a non-empty signature */
    t = forge(hs, "{\"alg\":\"none\"}", cl, (const uint8_t *)"", 0);
    assert_int_equal(judge(&hcfg, t).reason, MK_TICKET_UNSUPPORTED);
    free(t);
    t = forge(hs, "{\"alg\":\"none\"}", cl, (const uint8_t *)"xyz", 3);
    assert_int_equal(judge(&ecfg, t).reason, MK_TICKET_UNSUPPORTED);
    free(t);
    /* HS256 MACed with the EC / Ed public key bytes, given to EC and Ed validators */
    for (int which = 0; which < 2; which++) {
        mk_jwt_alg_t pa = which ? MK_JWT_EDDSA : MK_JWT_ES256;
        mk_jwt_parsed_key_t pk;
        mk_jwt_key_t pub = public_of(pa, 0);
        assert_int_equal(mk_jwt_key_parse_public(&pub, &pk, NULL), MK_OK);
        uint8_t secret[64] = {0};
        memcpy(secret, pk.pub, pk.pub_len);
        mk_jwt_signer_t *mac = mk_jwt_signer_new(&(mk_jwt_key_t)MK_JWT_KEY_RAW(MK_JWT_HS256, secret, 33), NULL);
        assert_non_null(mac);
        mk_jwt_builder_t bm = {.signer = mac, .expires_in_s = 60};
        t = sign(&bm);
        assert_int_equal(judge(which ? &edcfg : &ecfg, t).reason, MK_TICKET_UNSUPPORTED);
        free(t);
        mk_jwt_signer_free(mac);
        mk_jwt_key_free(&pk);
    }
    /* an ES256 token given to an HS validator */
    mk_jwt_builder_t be = {.signer = es, .expires_in_s = 60};
    t = sign(&be);
    assert_int_equal(judge(&hcfg, t).reason, MK_TICKET_UNSUPPORTED);
    free(t);
    /* lowercase alg and crit */
    t = forge(hs, "{\"alg\":\"hs256\"}", cl, NULL, 0);
    assert_int_equal(judge(&hcfg, t).reason, MK_TICKET_UNSUPPORTED);
    free(t);
    t = forge(hs, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", cl, NULL, 0);
    assert_int_equal(judge(&hcfg, t).reason, MK_TICKET_UNSUPPORTED);
    free(t);
    /* ECDSA: DER instead of r‖s, and r or s of 0 or ≥ n */
    t = forge(es, "{\"alg\":\"ES256\"}", cl, NULL, 0);
    assert_true(judge(&ecfg, t).valid);
    const char *sigpart = strrchr(t, '.') + 1;
    uint8_t rs[64];
    size_t rsl;
    assert_true(mk_b64url_decode(sigpart, strlen(sigpart), rs, &rsl));
    ECDSA_SIG *der_sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(der_sig, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL));
    uint8_t *der = NULL;
    int der_len = i2d_ECDSA_SIG(der_sig, &der);
    char *t2 = forge(es, "{\"alg\":\"ES256\"}", cl, der, (size_t)der_len);
    assert_int_equal(judge(&ecfg, t2).reason, MK_TICKET_BAD_SIGNATURE);
    free(t2);
    OPENSSL_free(der);
    ECDSA_SIG_free(der_sig);
    static const uint8_t order[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    for (int k = 0; k < 4; k++) {
        uint8_t bad[64];
        memcpy(bad, rs, 64);
        uint8_t *part = bad + (k & 1) * 32;
        if (k < 2) memset(part, 0, 32);
        else memcpy(part, order, 32);
        t2 = forge(es, "{\"alg\":\"ES256\"}", cl, bad, 64);
        assert_int_equal(judge(&ecfg, t2).reason, MK_TICKET_BAD_SIGNATURE);
        free(t2);
    }
    free(t);
    mk_jwt_signer_free(hs);
    mk_jwt_signer_free(es);
}

typedef struct claim_case {
    const char *claims;          /* %s = the peer hex */
    mk_ticket_reason_t reason;   /* MK_TICKET_OK = valid */
} claim_case_t;

static void claim_checks_give_their_reasons(void **state) {
    (void)state;
    mk_jwt_signer_t *hs = signer_of(MK_JWT_HS256, 0);
    char hex[65];
    mk_id_hex(&PEER, hex);
    /* NOW_S = 1893456000 */
    claim_case_t cases[] = {
        {"{\"sub\":\"%s\",\"exp\":1893456100}", MK_TICKET_OK},
        {"{\"sub\":\"%s\",\"exp\":1893456000}", MK_TICKET_EXPIRED},           /* exp = now */
        {"{\"sub\":\"%s\",\"exp\":1893455999}", MK_TICKET_EXPIRED},           /* exp = now − 1 */
        {"{\"sub\":\"%s\",\"exp\":1893456100,\"nbf\":1893456001}", MK_TICKET_NOT_YET_VALID},
        {"{\"sub\":\"%s\",\"exp\":1893456100,\"nbf\":1893456000}", MK_TICKET_OK},
        {"{\"sub\":\"someone-else\",\"exp\":1893456100}", MK_TICKET_CLAIM_MISMATCH},
        {"{\"exp\":1893456100}", MK_TICKET_CLAIM_MISMATCH},                 /* no sub */
        {"{\"sub\":\"%s\"}", MK_TICKET_POLICY},                              /* no exp */
        {"{\"sub\":\"%s\",\"exp\":4611686018427387904}", MK_TICKET_MALFORMED}, /* 2^62: ×1000 overflows */
        {"{\"sub\":\"%s\",\"exp\":9223372036854775808}", MK_TICKET_MALFORMED}, /* > 2^63 − 1 */
        {"{\"sub\":\"%s\",\"exp\":1893456100.5}", MK_TICKET_MALFORMED},
        {"{\"sub\":\"%s\",\"exp\":1.8934561e9}", MK_TICKET_MALFORMED},
        {"{\"sub\":\"%s\",\"exp\":\"1893456100\"}", MK_TICKET_MALFORMED},
        {"{\"sub\":\"%s\",\"exp\":-1}", MK_TICKET_MALFORMED},
        {"{\"sub\":1,\"exp\":1893456100}", MK_TICKET_MALFORMED},
        {"{\"sub\":\"%s\",\"exp\":1893456100,\"aud\":[\"a\",2]}", MK_TICKET_MALFORMED},
        {"{\"sub\":\"%s\",\"exp\":1893456100,\"exp\":1893456200}", MK_TICKET_MALFORMED}, /* duplicate member */
        {"[1,2]", MK_TICKET_MALFORMED},
    };
    mk_jwt_config_t c = base_cfg(MK_JWT_HS256);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cl[512];
        const char *at = strstr(cases[i].claims, "%s");  /* the peer hex goes where %s is */
        if (at) snprintf(cl, sizeof cl, "%.*s%s%s", (int)(at - cases[i].claims), cases[i].claims, hex, at + 2);
        else snprintf(cl, sizeof cl, "%s", cases[i].claims);
        char *t = forge(hs, "{\"alg\":\"HS256\"}", cl, NULL, 0);
        mk_ticket_verdict_t v = judge(&c, t);
        if (v.reason != cases[i].reason)
            fail_msg("case %zu (%s): %s (%s), expected %s", i, cl, mk_ticket_reason_str(v.reason), v.detail,
                     mk_ticket_reason_str(cases[i].reason));
        free(t);
    }
    /* audiences, issuers, custom claims of the right type, lifetimes */
    char cl[512];
    snprintf(cl, sizeof cl,
             "{\"iss\":\"a\",\"sub\":\"%s\",\"aud\":[\"x\",\"stream\"],\"exp\":1893456100,\"iat\":1893455990,"
             "\"role\":\"writer\",\"n\":1,\"ok\":true}", hex);
    char *t = forge(hs, "{\"alg\":\"HS256\"}", cl, NULL, 0);
    c.audiences[0] = "stream";
    c.issuers[0] = "b";
    c.issuers[1] = "a";
    c.claims[0] = (mk_jwt_claim_t)MK_JWT_CLAIM_STR("role", "writer");
    c.claims[1] = (mk_jwt_claim_t)MK_JWT_CLAIM_INT("n", 1);
    c.claims[2] = (mk_jwt_claim_t)MK_JWT_CLAIM_BOOL("ok", true);
    mk_ticket_verdict_t v = judge(&c, t);
    assert_true(v.valid);
    assert_int_equal(v.expires, 1893456100LL * 1000);
    c.claims[1] = (mk_jwt_claim_t)MK_JWT_CLAIM_STR("n", "1");  /* "1" ≠ 1 */
    assert_int_equal(judge(&c, t).reason, MK_TICKET_CLAIM_MISMATCH);
    c.claims[1] = (mk_jwt_claim_t)MK_JWT_CLAIM_INT("n", 1);
    c.audiences[0] = "other";
    assert_int_equal(judge(&c, t).reason, MK_TICKET_CLAIM_MISMATCH);
    c.audiences[0] = "stream";
    c.issuers[1] = NULL;
    assert_int_equal(judge(&c, t).reason, MK_TICKET_CLAIM_MISMATCH);
    c.issuers[1] = "a";
    c.max_lifetime_s = 99;  /* exp − now = 100 */
    assert_int_equal(judge(&c, t).reason, MK_TICKET_POLICY);
    c.max_lifetime_s = 100;
    assert_true(judge(&c, t).valid);
    c.max_age_s = 9;  /* issued 10 s ago */
    assert_int_equal(judge(&c, t).reason, MK_TICKET_EXPIRED);
    c.max_age_s = 30;  /* expiry folded: iat + 30 < exp */
    v = judge(&c, t);
    assert_true(v.valid);
    assert_int_equal(v.expires, (1893455990LL + 30) * 1000);
    free(t);
    snprintf(cl, sizeof cl, "{\"sub\":\"%s\",\"exp\":1893456100}", hex);
    t = forge(hs, "{\"alg\":\"HS256\"}", cl, NULL, 0);
    c.audiences[0] = NULL;
    c.issuers[0] = NULL;
    memset(c.claims, 0, sizeof c.claims);
    assert_int_equal(judge(&c, t).reason, MK_TICKET_POLICY);  /* max_age without iat */
    free(t);
    mk_jwt_signer_free(hs);
}

static void shape_errors_are_malformed(void **state) {
    (void)state;
    mk_jwt_signer_t *hs = signer_of(MK_JWT_HS256, 0);
    mk_jwt_builder_t b = {.signer = hs, .expires_in_s = 60};
    char *t = sign(&b);
    mk_jwt_config_t c = base_cfg(MK_JWT_HS256);
    assert_true(judge(&c, t).valid);
    size_t n = strlen(t);
    char buf[MK_JWT_MAX_TOKEN + 64];
    snprintf(buf, sizeof buf, "%s=", t);  /* padding */
    assert_int_equal(judge(&c, buf).reason, MK_TICKET_MALFORMED);
    snprintf(buf, sizeof buf, "%s.AAAA", t);  /* a fourth segment */
    assert_int_equal(judge(&c, buf).reason, MK_TICKET_MALFORMED);
    snprintf(buf, sizeof buf, ".%s", strchr(t, '.'));  /* empty header */
    assert_int_equal(judge(&c, buf).reason, MK_TICKET_MALFORMED);
    memset(buf, 'A', sizeof buf);  /* oversize */
    buf[MK_JWT_MAX_TOKEN + 1] = 0;
    buf[10] = buf[20] = '.';
    assert_int_equal(judge(&c, buf).reason, MK_TICKET_MALFORMED);
    /* a header length ≡ 1 mod 4, and non-zero trailing bits */
    snprintf(buf, sizeof buf, "A%s", t);
    assert_int_equal(judge(&c, buf).reason, MK_TICKET_MALFORMED);
    uint8_t two[2] = {'{', '}'};
    mk_buf_t e2 = MK_BUF_INIT;
    mk_b64url_encode(two, 2, &e2);  /* "e30" */
    assert_int_equal(e2.len, 3);
    assert_memory_equal(e2.ptr, "e30", 3);
    uint8_t out[8];
    size_t ol;
    assert_false(mk_b64url_decode("e31", 3, out, &ol));  /* trailing bits set */
    assert_true(mk_b64url_decode("e30", 3, out, &ol));
    mk_buf_free(&e2);
    (void)n;
    free(t);
    mk_jwt_signer_free(hs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builder_to_validator_round_trips_for_every_algorithm_and_key_form),
        cmocka_unit_test(builder_output_is_exact),
        cmocka_unit_test(validator_signature_follows_its_configuration),
        cmocka_unit_test(bad_configurations_are_refused_naming_the_setting),
        cmocka_unit_test(every_changed_character_is_rejected),
        cmocka_unit_test(confusion_none_crit_and_wrong_keys_are_refused),
        cmocka_unit_test(claim_checks_give_their_reasons),
        cmocka_unit_test(shape_errors_are_malformed),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
