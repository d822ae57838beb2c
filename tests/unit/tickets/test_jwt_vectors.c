/* unit/tickets/test_jwt_vectors.c — the shared JWT vectors (tests/data/jwt/vectors.json, made with
 * Node's jose; see its README): each token, judged by a validator built from the vector's settings
 * at the vector's time, gets the expected verdict, reason and expiry — with the keys given as hex,
 * as PEM and, for EC keys, as uncompressed points. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/tickets.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static json_t *doc;

static int load(void **state) {
    (void)state;
    json_error_t je;
    doc = json_load_file(MK_TEST_DATA_DIR "/jwt/vectors.json", 0, &je);
    if (!doc) fail_msg("cannot read vectors.json: %s (line %d)", je.text, je.line);
    return 0;
}

static int unload(void **state) {
    (void)state;
    json_decref(doc);
    return 0;
}

static mk_jwt_alg_t alg_of(const char *name) {
    static const char *const names[] = {"", "HS256", "HS384", "HS512", "ES256", "ES256K", "ES384", "ES512", "EdDSA"};
    for (int i = 1; i <= 8; i++)
        if (!strcmp(names[i], name)) return (mk_jwt_alg_t)i;
    fail_msg("unknown alg %s", name);
    return MK_JWT_END;
}

typedef enum { FORM_HEX, FORM_PEM, FORM_UNCOMPRESSED } form_t;

/* The verifying key named `name` in the file, in the requested form. */
static mk_jwt_key_t key_of(const char *name, form_t form) {
    json_t *k = json_object_get(json_object_get(doc, "keys"), name);
    assert_non_null(k);
    mk_jwt_alg_t alg = alg_of(json_string_value(json_object_get(k, "alg")));
    if (alg <= MK_JWT_HS512) return (mk_jwt_key_t)MK_JWT_KEY_HEX(alg, json_string_value(json_object_get(k, "secret_hex")));
    if (form == FORM_PEM) return (mk_jwt_key_t)MK_JWT_KEY_PEM(alg, json_string_value(json_object_get(k, "public_pem")));
    if (alg == MK_JWT_EDDSA) return (mk_jwt_key_t)MK_JWT_KEY_HEX(alg, json_string_value(json_object_get(k, "public_raw_hex")));
    const char *field = form == FORM_UNCOMPRESSED ? "public_sec1_uncompressed_hex" : "public_sec1_compressed_hex";
    return (mk_jwt_key_t)MK_JWT_KEY_HEX(alg, json_string_value(json_object_get(k, field)));
}

static mk_ticket_reason_t reason_of(const char *r) {
    if (!strcmp(r, "expired")) return MK_TICKET_EXPIRED;
    if (!strcmp(r, "not_yet_valid")) return MK_TICKET_NOT_YET_VALID;
    if (!strcmp(r, "missing_exp")) return MK_TICKET_POLICY;
    if (!strcmp(r, "issuer") || !strcmp(r, "claim")) return MK_TICKET_CLAIM_MISMATCH;
    if (!strcmp(r, "signature")) return MK_TICKET_BAD_SIGNATURE;
    if (!strcmp(r, "alg_not_allowed")) return MK_TICKET_UNSUPPORTED;
    fail_msg("unknown reason %s", r);
    return MK_TICKET_INTERNAL;
}

static void run_all(form_t form, bool heap) {
    json_t *vectors = json_object_get(doc, "vectors");
    mk_id_t peer_id;
    assert_int_equal(mk_id_parse_hex(json_string_value(json_object_get(doc, "peer_id")), &peer_id), MK_OK);
    mk_ticket_peer_t peer = {.peer_id = peer_id, .network_id = mk_id_from_str("jwt-vectors")};
    size_t i, checked = 0;
    json_t *v;
    json_array_foreach(vectors, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        json_t *val = json_object_get(v, "validator");
        mk_jwt_config_t cfg;
        memset(&cfg, 0, sizeof cfg);
        size_t j, nk = 0;
        json_t *x;
        json_array_foreach(json_object_get(val, "keys"), j, x) cfg.keys[nk++] = key_of(json_string_value(x), form);
        size_t n = 0;
        json_array_foreach(json_object_get(val, "issuers"), j, x) cfg.issuers[n++] = json_string_value(x);
        n = 0;
        json_array_foreach(json_object_get(val, "audiences"), j, x) cfg.audiences[n++] = json_string_value(x);
        json_t *sub = json_object_get(val, "subject");
        if (json_is_string(sub) && strcmp(json_string_value(sub), json_string_value(json_object_get(doc, "peer_id"))))
            cfg.subject = json_string_value(sub);  /* the peer id is the default */
        cfg.allow_non_expiring = json_is_true(json_object_get(val, "allow_non_expiring"));
        const char *cname;
        n = 0;
        json_object_foreach(json_object_get(val, "require_claims"), cname, x) {
            cfg.claims[n].name = cname;
            if (json_is_string(x)) cfg.claims[n] = (mk_jwt_claim_t)MK_JWT_CLAIM_STR(cname, json_string_value(x));
            else if (json_is_integer(x)) cfg.claims[n] = (mk_jwt_claim_t)MK_JWT_CLAIM_INT(cname, json_integer_value(x));
            else cfg.claims[n] = (mk_jwt_claim_t)MK_JWT_CLAIM_BOOL(cname, json_is_true(x));
            n++;
        }
        if (json_is_integer(json_object_get(val, "max_lifetime")))
            cfg.max_lifetime_s = (uint64_t)json_integer_value(json_object_get(val, "max_lifetime"));
        if (json_is_integer(json_object_get(val, "max_age")))
            cfg.max_age_s = (uint64_t)json_integer_value(json_object_get(val, "max_age"));
        int64_t now_ms = json_integer_value(json_object_get(val, "now")) * 1000;
        const char *token = json_string_value(json_object_get(v, "token"));
        mk_ticket_verdict_t out;
        mk_error_t e;
        if (heap) {
            const mk_ticket_validator_t *hv = mk_jwt_validator_new(&cfg, &e);
            if (!hv) fail_msg("%s: validator refused: %s", name, e.msg);
            mk_ticket_validate(hv, (const uint8_t *)token, strlen(token), &peer, now_ms, &out);
            mk_ticket_validator_unref(hv);
        } else {
            mk_ticket_validator_t sv = MK_JWT_VALIDATOR(&cfg);
            mk_ticket_validate(&sv, (const uint8_t *)token, strlen(token), &peer, now_ms, &out);
        }
        json_t *expect = json_object_get(v, "expect");
        bool want_valid = !strcmp(json_string_value(json_object_get(expect, "verdict")), "valid");
        if (out.valid != want_valid)
            fail_msg("%s: verdict %s (%s: %s), expected %s", name, out.valid ? "valid" : "invalid",
                     mk_ticket_reason_str(out.reason), out.detail, want_valid ? "valid" : "invalid");
        if (want_valid) {
            json_t *exp = json_object_get(expect, "expiration");
            mk_expiration_t want = json_is_string(exp) ? MK_EXPIRES_NEVER : json_integer_value(exp) * 1000;
            if (out.expires != want) fail_msg("%s: expires %lld, expected %lld", name, (long long)out.expires, (long long)want);
        } else {
            mk_ticket_reason_t want = reason_of(json_string_value(json_object_get(expect, "reason")));
            if (out.reason != want)
                fail_msg("%s: reason %s (%s), expected %s", name, mk_ticket_reason_str(out.reason), out.detail,
                         mk_ticket_reason_str(want));
        }
        checked++;
    }
    assert_int_equal(checked, 106);
}

static void every_vector_gives_its_verdict_with_hex_keys(void **state) {
    (void)state;
    run_all(FORM_HEX, false);
}

static void every_vector_gives_its_verdict_with_pem_keys(void **state) {
    (void)state;
    run_all(FORM_PEM, false);
}

static void every_vector_gives_its_verdict_with_uncompressed_points_in_heap_validators(void **state) {
    (void)state;
    run_all(FORM_UNCOMPRESSED, true);
}

/* One key has one fingerprint: compressed, uncompressed and PEM forms give the same signature. */
static void key_forms_give_one_validator_signature(void **state) {
    (void)state;
    const char *algs[] = {"ES256", "ES256K", "ES384", "ES512", "EdDSA"};
    for (size_t i = 0; i < 5; i++) {
        mk_jwt_config_t a = {.keys = {key_of(algs[i], FORM_HEX)}}, b = {.keys = {key_of(algs[i], FORM_PEM)}},
                        c = {.keys = {key_of(algs[i], FORM_UNCOMPRESSED)}};
        mk_ticket_validator_t va = MK_JWT_VALIDATOR(&a), vb = MK_JWT_VALIDATOR(&b), vc = MK_JWT_VALIDATOR(&c);
        mk_id_t sa = mk_ticket_validator_signature(&va), sb = mk_ticket_validator_signature(&vb),
                sc = mk_ticket_validator_signature(&vc);
        if (!mk_id_eq(&sa, &sb) || !mk_id_eq(&sa, &sc)) fail_msg("%s: key forms give different signatures", algs[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_vector_gives_its_verdict_with_hex_keys),
        cmocka_unit_test(every_vector_gives_its_verdict_with_pem_keys),
        cmocka_unit_test(every_vector_gives_its_verdict_with_uncompressed_points_in_heap_validators),
        cmocka_unit_test(key_forms_give_one_validator_signature),
    };
    return cmocka_run_group_tests(tests, load, unload);
}
