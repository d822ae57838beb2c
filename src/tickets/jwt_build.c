/* tickets/jwt_build.c — JWT signers and the token builder (spec 60 §3.4): header exactly
 * {"alg":…,"typ":"JWT"}, claims in the order iss, sub, aud, exp, nbf, iat, jti, then custom claims by
 * name, whole seconds, signed with the signer's key (ECDSA as raw r‖s). */
#include "tickets/b64url.h"
#include "tickets/jwt_key.h"

#include "core/error.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

bool mk_jwt_claim_name_registered(const char *name);  /* jwt_validate.c */

struct mk_jwt_signer {
    mk_jwt_parsed_key_t key;
};

static mk_jwt_signer_t *wrap(mk_jwt_parsed_key_t *k, mk_error_t *e) {
    mk_jwt_signer_t *s = malloc(sizeof *s);
    if (!s) {
        mk_jwt_key_free(k);
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    s->key = *k;
    return s;
}

mk_jwt_signer_t *mk_jwt_signer_new(const mk_jwt_key_t *private_key, mk_error_t *e) {
    mk_jwt_parsed_key_t k;
    if (mk_jwt_key_parse_private(private_key, &k, e) != MK_OK) return NULL;
    return wrap(&k, e);
}

mk_jwt_signer_t *mk_jwt_signer_generate(mk_jwt_alg_t alg, mk_error_t *e) {
    mk_jwt_parsed_key_t k;
    if (mk_jwt_key_generate(alg, &k, e) != MK_OK) return NULL;
    return wrap(&k, e);
}

const mk_jwt_parsed_key_t *mk_jwt_signer_key(const mk_jwt_signer_t *s) { return s ? &s->key : NULL; }

mk_jwt_alg_t mk_jwt_signer_alg(const mk_jwt_signer_t *s) { return s ? s->key.alg : MK_JWT_END; }

size_t mk_jwt_signer_public(const mk_jwt_signer_t *s, uint8_t *out, size_t cap) {
    if (!s) return 0;
    const uint8_t *p = s->key.secret ? s->key.secret : s->key.pub;
    size_t n = s->key.secret ? s->key.secret_len : s->key.pub_len;
    if (out && n <= cap) memcpy(out, p, n);
    return n;
}

void mk_jwt_signer_free(mk_jwt_signer_t *s) {
    if (!s) return;
    mk_jwt_key_free(&s->key);
    free(s);
}

/* ---- building ---- */

static int cmp_claims(const void *a, const void *b) {
    return strcmp((*(const mk_jwt_claim_t *const *)a)->name, (*(const mk_jwt_claim_t *const *)b)->name);
}

static int set_custom(json_t *o, const mk_jwt_claim_t *cl, mk_error_t *e) {
    json_t *v = NULL;
    switch (cl->kind) {
    case MK_JV_STR: v = cl->s ? json_string(cl->s) : NULL; break;
    case MK_JV_INT: v = json_integer(cl->i); break;
    case MK_JV_BOOL: v = json_boolean(cl->b); break;
    case MK_JV_JSON: v = cl->s ? json_loads(cl->s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL) : NULL; break;
    default: break;
    }
    if (!v) return MK_ERR(e, MK_EINVAL, "jwt builder: claim \"%s\" has no valid value (kind %d)", cl->name, (int)cl->kind);
    json_object_set_new(o, cl->name, v);
    return MK_OK;
}

/* The claims object (insertion order = output order). */
static json_t *claims_json(const mk_jwt_builder_t *b, const mk_id_t *peer, int64_t now_ms, mk_error_t *e) {
    int64_t now = now_ms >= 0 ? now_ms / 1000 : -((999 - now_ms) / 1000);
    json_t *o = json_object();
    if (!o) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    char hex[MK_ID_HEX_LEN + 1];
    if (b->issuer) json_object_set_new(o, "iss", json_string(b->issuer));
    if (b->subject) json_object_set_new(o, "sub", json_string(b->subject));
    else if (peer) json_object_set_new(o, "sub", json_string(mk_id_hex(peer, hex)));
    if (b->audience) json_object_set_new(o, "aud", json_string(b->audience));
    if (b->expires_at && b->expires_at != MK_EXPIRES_NEVER) {
        int64_t x = b->expires_at >= 0 ? b->expires_at / 1000 : -((999 - b->expires_at) / 1000);
        if (x < 0) {
            json_decref(o);
            MK_ERR(e, MK_EINVAL, "jwt builder: expires_at before 1970");
            return NULL;
        }
        json_object_set_new(o, "exp", json_integer(x));
    } else if (!b->expires_at && b->expires_in_s) {
        if (b->expires_in_s > (uint64_t)(INT64_MAX / 1000 - (now > 0 ? now : 0))) {
            json_decref(o);
            MK_ERR(e, MK_EINVAL, "jwt builder: expires_in_s %llu is out of range", (unsigned long long)b->expires_in_s);
            return NULL;
        }
        json_object_set_new(o, "exp", json_integer(now + (int64_t)b->expires_in_s));
    }
    if (b->not_before_s) json_object_set_new(o, "nbf", json_integer(b->not_before_s));
    json_object_set_new(o, "iat", json_integer(b->issued_at_s ? b->issued_at_s : now));
    if (b->token_id) json_object_set_new(o, "jti", json_string(b->token_id));
    const mk_jwt_claim_t *sorted[MK_JWT_MAX_CLAIMS];
    size_t n = 0;
    while (n < MK_JWT_MAX_CLAIMS && b->claims[n].name) {
        if (mk_jwt_claim_name_registered(b->claims[n].name) || !b->claims[n].name[0]) {
            json_decref(o);
            MK_ERR(e, MK_EINVAL, "jwt builder: claim \"%s\" is registered or empty (use the builder's fields)",
                   b->claims[n].name);
            return NULL;
        }
        sorted[n] = &b->claims[n];
        n++;
    }
    qsort(sorted, n, sizeof *sorted, cmp_claims);
    for (size_t i = 0; i < n; i++) {
        if (json_object_get(o, sorted[i]->name)) {
            json_decref(o);
            MK_ERR(e, MK_EINVAL, "jwt builder: claim \"%s\" given twice", sorted[i]->name);
            return NULL;
        }
        if (set_custom(o, sorted[i], e) != MK_OK) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

int mk_jwt_sign(const mk_jwt_builder_t *b, const mk_id_t *peer, int64_t now_ms, mk_buf_t *token, mk_error_t *e) {
    if (!b || !b->signer || !token) return MK_ERR(e, MK_EINVAL, "jwt builder: no signer or output");
    if (!b->subject && !peer) return MK_ERR(e, MK_EINVAL, "jwt builder: no subject and no peer");
    const char *alg = mk_jwt_alg_name(b->signer->key.alg);
    json_t *claims = claims_json(b, peer, now_ms, e);
    if (!claims) return e ? e->code : MK_EINVAL;
    char *cj = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(claims);
    char hj[64];
    int hl = snprintf(hj, sizeof hj, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    mk_buf_t out = MK_BUF_INIT;
    int rc = cj ? MK_OK : MK_ENOMEM;
    if (rc == MK_OK) rc = mk_b64url_encode((const uint8_t *)hj, (size_t)hl, &out);
    if (rc == MK_OK) rc = mk_buf_append(&out, ".", 1);
    if (rc == MK_OK) rc = mk_b64url_encode((const uint8_t *)cj, strlen(cj), &out);
    free(cj);
    uint8_t sig[MK_JWT_MAX_SIG];
    size_t sig_len = 0;
    if (rc == MK_OK && (rc = mk_jwt_key_sign(&b->signer->key, out.ptr, out.len, sig, &sig_len, e)) != MK_OK) {
        mk_buf_free(&out);
        return rc;
    }
    if (rc == MK_OK) rc = mk_buf_append(&out, ".", 1);
    if (rc == MK_OK) rc = mk_b64url_encode(sig, sig_len, &out);
    if (rc == MK_OK && out.len > MK_JWT_MAX_TOKEN)
        rc = MK_ERR(e, MK_E2BIG, "jwt builder: the token has %zu bytes (at most %d)", out.len, MK_JWT_MAX_TOKEN);
    if (rc == MK_OK) rc = mk_buf_append(token, out.ptr, out.len);
    if (rc == MK_OK && mk_buf_reserve(token, 1) == MK_OK) ((char *)token->ptr)[token->len] = 0;
    mk_buf_free(&out);
    if (rc == MK_ENOMEM) MK_ERR(e, MK_ENOMEM, "out of memory");
    return rc;
}

int mk_jwt_build_ticket(const mk_jwt_builder_t *b, const mk_id_t *peer, int64_t now_ms, mk_ticket_t **out,
                        mk_error_t *e) {
    *out = NULL;
    mk_buf_t tok = MK_BUF_INIT;
    int rc = mk_jwt_sign(b, peer, now_ms, &tok, e);
    if (rc != MK_OK) return rc;
    mk_id_t cls = mk_jwt_class();
    *out = mk_ticket_new(&cls, tok.ptr, tok.len, e);
    mk_buf_free(&tok);
    return *out ? MK_OK : (e ? e->code : MK_ENOMEM);
}
