/* tickets/jwt_validate.c — the JWT validator (spec 60 §3.2, §3.3, §3.5): configuration checks and key
 * parsing (prepare), the fourteen ordered checks of a token, the validator signature, and heap
 * validators holding a deep copy of their configuration. */
#include "tickets/b64url.h"
#include "tickets/jwt_key.h"
#include "tickets/validator.h"

#include "core/error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct jwt_state {
    mk_jwt_parsed_key_t keys[MK_JWT_MAX_KEYS];
    size_t nkeys;
} jwt_state_t;

static const char *const REGISTERED[] = {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", NULL};

bool mk_jwt_claim_name_registered(const char *name);
bool mk_jwt_claim_name_registered(const char *name) {
    for (size_t i = 0; REGISTERED[i]; i++)
        if (!strcmp(REGISTERED[i], name)) return true;
    return false;
}

mk_id_t mk_jwt_class(void) { return mk_id_from_str("mosaik.tickets.jwt.v1"); }

static mk_id_t jwt_class_id(const void *cfg) {
    (void)cfg;
    return mk_jwt_class();
}

static size_t count_keys(const mk_jwt_config_t *c) {
    size_t n = 0;
    while (n < MK_JWT_MAX_KEYS && c->keys[n].alg != MK_JWT_END) n++;
    return n;
}

static size_t count_list(const char *const *v) {
    size_t n = 0;
    while (n < MK_JWT_MAX_LIST && v[n]) n++;
    return n;
}

static size_t count_claims(const mk_jwt_claim_t *v) {
    size_t n = 0;
    while (n < MK_JWT_MAX_CLAIMS && v[n].name) n++;
    return n;
}

/* ---- prepare ---- */

static void jwt_release(void *state) {
    jwt_state_t *s = state;
    if (!s) return;
    for (size_t i = 0; i < s->nkeys; i++) mk_jwt_key_free(&s->keys[i]);
    free(s);
}

static int jwt_prepare(const void *cfgp, void **state, mk_error_t *e) {
    const mk_jwt_config_t *c = cfgp;
    *state = NULL;
    if (!c) return MK_ERR(e, MK_EINVAL, "jwt: no configuration");
    size_t nk = count_keys(c);
    if (nk == 0) return MK_ERR(e, MK_EINVAL, "jwt.keys: at least one verifying key is needed");
    size_t nc = count_claims(c->claims);
    for (size_t i = 0; i < nc; i++) {
        const mk_jwt_claim_t *cl = &c->claims[i];
        if (!cl->name[0]) return MK_ERR(e, MK_EINVAL, "jwt.claims[%zu]: empty name", i);
        if (mk_jwt_claim_name_registered(cl->name))
            return MK_ERR(e, MK_EINVAL, "jwt.claims[%zu]: \"%s\" is a registered claim (use the matching option)", i,
                          cl->name);
        if (cl->kind != MK_JV_STR && cl->kind != MK_JV_INT && cl->kind != MK_JV_BOOL)
            return MK_ERR(e, MK_EINVAL, "jwt.claims[%zu] \"%s\": a required value is a string, integer or boolean", i,
                          cl->name);
        if (cl->kind == MK_JV_STR && !cl->s) return MK_ERR(e, MK_EINVAL, "jwt.claims[%zu] \"%s\": no string", i, cl->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->claims[j].name, cl->name))
                return MK_ERR(e, MK_EINVAL, "jwt.claims: \"%s\" is required twice", cl->name);
    }
    if (c->subject && !c->subject[0]) return MK_ERR(e, MK_EINVAL, "jwt.subject: empty (NULL means the peer id)");
    for (size_t i = 0; i < count_list(c->issuers); i++)
        if (!c->issuers[i][0]) return MK_ERR(e, MK_EINVAL, "jwt.issuers[%zu]: empty", i);
    for (size_t i = 0; i < count_list(c->audiences); i++)
        if (!c->audiences[i][0]) return MK_ERR(e, MK_EINVAL, "jwt.audiences[%zu]: empty", i);
    jwt_state_t *s = calloc(1, sizeof *s);
    if (!s) return MK_ERR(e, MK_ENOMEM, "out of memory");
    for (size_t i = 0; i < nk; i++) {
        mk_error_t ke;
        if (mk_jwt_key_parse_public(&c->keys[i], &s->keys[i], &ke) != MK_OK) {
            jwt_release(s);
            return MK_ERR(e, MK_EINVAL, "jwt.keys[%zu]: %s", i, ke.msg);
        }
        s->nkeys++;
    }
    *state = s;
    return MK_OK;
}

/* ---- validate ---- */

static json_t *parse_part(const char *p, size_t n) {
    uint8_t *raw = malloc(mk_b64url_decoded_len(n));
    size_t len = 0;
    json_t *j = NULL;
    if (raw && mk_b64url_decode(p, n, raw, &len)) j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static bool json_str_eq(json_t *v, const char *s) {
    return json_is_string(v) && json_string_length(v) == strlen(s) && memcmp(json_string_value(v), s, strlen(s)) == 0;
}

/* A numeric date: a JSON integer in [0, 2^63 − 1]. */
static bool get_time(json_t *claims, const char *name, bool *present, int64_t *out) {
    json_t *v = json_object_get(claims, name);
    *present = v != NULL;
    if (!v) return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

static void validate_claims(const mk_jwt_config_t *c, json_t *claims, const mk_ticket_peer_t *peer, int64_t now_ms,
                            mk_ticket_verdict_t *out) {
    int64_t now = now_ms >= 0 ? now_ms / 1000 : -((999 - now_ms) / 1000);  /* floor */
    /* 5: types */
    static const char *const strings[] = {"iss", "sub", "jti"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(claims, strings[i]);
        if (v && !json_is_string(v)) {
            mk_verdict_invalid(out, MK_TICKET_MALFORMED, 5, "claim %s is not a string", strings[i]);
            return;
        }
    }
    json_t *aud = json_object_get(claims, "aud");
    if (aud && !json_is_string(aud)) {
        bool ok = json_is_array(aud);
        for (size_t i = 0; ok && i < json_array_size(aud); i++) ok = json_is_string(json_array_get(aud, i));
        if (!ok) {
            mk_verdict_invalid(out, MK_TICKET_MALFORMED, 5, "claim aud is neither a string nor an array of strings");
            return;
        }
    }
    bool has_exp, has_nbf, has_iat;
    int64_t exp = 0, nbf = 0, iat = 0;
    if (!get_time(claims, "exp", &has_exp, &exp) || !get_time(claims, "nbf", &has_nbf, &nbf) ||
        !get_time(claims, "iat", &has_iat, &iat)) {
        mk_verdict_invalid(out, MK_TICKET_MALFORMED, 5, "exp, nbf or iat is not a non-negative integer");
        return;
    }
    /* 6: issuer */
    size_t ni = count_list(c->issuers);
    if (ni) {
        json_t *iss = json_object_get(claims, "iss");
        bool ok = false;
        for (size_t i = 0; iss && !ok && i < ni; i++) ok = json_str_eq(iss, c->issuers[i]);
        if (!ok) {
            mk_verdict_invalid(out, MK_TICKET_CLAIM_MISMATCH, 6, iss ? "issuer not allowed" : "no issuer");
            return;
        }
    }
    /* 7: subject */
    char hex[MK_ID_HEX_LEN + 1];
    const char *want = c->subject;
    if (!want) {
        if (!peer) {
            mk_verdict_invalid(out, MK_TICKET_INTERNAL, 7, "no peer to compare the subject with");
            return;
        }
        want = mk_id_hex(&peer->peer_id, hex);
    }
    json_t *sub = json_object_get(claims, "sub");
    if (!sub || !json_str_eq(sub, want)) {
        mk_verdict_invalid(out, MK_TICKET_CLAIM_MISMATCH, 7, sub ? "subject is not the expected one" : "no subject");
        return;
    }
    /* 8–11: time */
    if (has_nbf && nbf > now) {
        mk_verdict_invalid(out, MK_TICKET_NOT_YET_VALID, 8, "not before %lld", (long long)nbf);
        return;
    }
    if (!has_exp && !c->allow_non_expiring) {
        mk_verdict_invalid(out, MK_TICKET_POLICY, 9, "no exp and non-expiring tokens are not allowed");
        return;
    }
    if (has_exp && exp <= now) {
        mk_verdict_invalid(out, MK_TICKET_EXPIRED, 9, "expired at %lld", (long long)exp);
        return;
    }
    if (c->max_lifetime_s && has_exp && (uint64_t)(exp - now) > c->max_lifetime_s) {
        mk_verdict_invalid(out, MK_TICKET_POLICY, 10, "lifetime %llds exceeds max_lifetime %llus", (long long)(exp - now),
                           (unsigned long long)c->max_lifetime_s);
        return;
    }
    if (c->max_age_s) {
        if (!has_iat) {
            mk_verdict_invalid(out, MK_TICKET_POLICY, 11, "max_age needs iat");
            return;
        }
        if (now > iat && (uint64_t)(now - iat) > c->max_age_s) {
            mk_verdict_invalid(out, MK_TICKET_EXPIRED, 11, "issued %llds ago, max_age %llus", (long long)(now - iat),
                               (unsigned long long)c->max_age_s);
            return;
        }
    }
    /* 12: audience */
    size_t na = count_list(c->audiences);
    if (na) {
        bool ok = false;
        for (size_t i = 0; aud && !ok && i < na; i++) {
            if (json_is_string(aud)) ok = json_str_eq(aud, c->audiences[i]);
            else
                for (size_t j = 0; !ok && j < json_array_size(aud); j++) ok = json_str_eq(json_array_get(aud, j), c->audiences[i]);
        }
        if (!ok) {
            mk_verdict_invalid(out, MK_TICKET_CLAIM_MISMATCH, 12, aud ? "audience not allowed" : "no audience");
            return;
        }
    }
    /* 13: required claims, same JSON type and value */
    for (size_t i = 0; i < count_claims(c->claims); i++) {
        const mk_jwt_claim_t *cl = &c->claims[i];
        json_t *v = json_object_get(claims, cl->name);
        bool ok = v && ((cl->kind == MK_JV_STR && json_str_eq(v, cl->s)) ||
                        (cl->kind == MK_JV_INT && json_is_integer(v) && json_integer_value(v) == cl->i) ||
                        (cl->kind == MK_JV_BOOL && json_is_boolean(v) && json_boolean_value(v) == cl->b));
        if (!ok) {
            mk_verdict_invalid(out, MK_TICKET_CLAIM_MISMATCH, 13, "claim %.60s %s", cl->name, v ? "differs" : "missing");
            return;
        }
    }
    /* 14: the expiry */
    mk_expiration_t expires = MK_EXPIRES_NEVER;
    if (has_exp) {
        if (exp > INT64_MAX / 1000) {
            mk_verdict_invalid(out, MK_TICKET_MALFORMED, 14, "exp %lld is out of range", (long long)exp);
            return;
        }
        expires = exp * 1000;
    }
    if (c->max_age_s && has_iat) {
        int64_t until = c->max_age_s > (uint64_t)(INT64_MAX - iat) ? INT64_MAX : iat + (int64_t)c->max_age_s;
        mk_expiration_t by_age = until > INT64_MAX / 1000 ? MK_EXPIRES_NEVER - 1 : until * 1000;
        if (by_age < expires) expires = by_age;
    }
    mk_verdict_valid(out, expires);
}

static void check_signed(const mk_jwt_config_t *c, const jwt_state_t *s, const char *t, size_t len, const char *d1,
                         const char *d2, const uint8_t *sig, size_t sig_len, const mk_ticket_peer_t *peer,
                         int64_t now_ms, mk_ticket_verdict_t *out);

static void jwt_validate(const void *cfgp, void *state, const uint8_t *data, size_t len, const mk_ticket_peer_t *peer,
                         int64_t now_ms, mk_ticket_verdict_t *out) {
    const mk_jwt_config_t *c = cfgp;
    const jwt_state_t *s = state;
    if (!s) {
        mk_verdict_invalid(out, MK_TICKET_INTERNAL, 0, "validator not prepared");
        return;
    }
    /* 1: shape */
    if (!data || len == 0 || len > MK_JWT_MAX_TOKEN) {
        mk_verdict_invalid(out, MK_TICKET_MALFORMED, 1, "token of %zu bytes (1 to %d)", len, MK_JWT_MAX_TOKEN);
        return;
    }
    const char *t = (const char *)data;
    const char *d1 = memchr(t, '.', len), *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - t)) : NULL;
    /* An empty signature part passes this step so that an unsigned token (alg none) is refused for its
     * algorithm at step 3, as the shared vectors expect; with a real algorithm it fails at step 4. */
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - t)) || d1 == t || d2 == d1 + 1) {
        mk_verdict_invalid(out, MK_TICKET_MALFORMED, 1, "not three dot-separated parts with a header and claims");
        return;
    }
    size_t cn = (size_t)(d2 - d1 - 1), sn = len - (size_t)(d2 + 1 - t);
    uint8_t *sig = malloc(mk_b64url_decoded_len(sn));
    size_t sig_len = 0;
    if (!sig) {
        mk_verdict_invalid(out, MK_TICKET_INTERNAL, 1, "out of memory");
        return;
    }
    if (!mk_b64url_decode(d2 + 1, sn, sig, &sig_len)) {
        free(sig);
        mk_verdict_invalid(out, MK_TICKET_MALFORMED, 1, "signature is not strict base64url");
        return;
    }
    {
        /* the claims part must decode too before anything is interpreted */
        uint8_t *tmp = malloc(mk_b64url_decoded_len(cn));
        size_t tl;
        bool ok = tmp && mk_b64url_decode(d1 + 1, cn, tmp, &tl);
        free(tmp);
        if (!ok) {
            free(sig);
            mk_verdict_invalid(out, MK_TICKET_MALFORMED, 1, "claims are not strict base64url");
            return;
        }
    }
    check_signed(c, s, t, len, d1, d2, sig, sig_len, peer, now_ms, out);
    free(sig);
}

/* Steps 2–14 once the three parts decode. */
static void check_signed(const mk_jwt_config_t *c, const jwt_state_t *s, const char *t, size_t len, const char *d1,
                         const char *d2, const uint8_t *sig, size_t sig_len, const mk_ticket_peer_t *peer,
                         int64_t now_ms, mk_ticket_verdict_t *out) {
    size_t hn = (size_t)(d1 - t), cn = (size_t)(d2 - d1 - 1);
    (void)len;
    /* 2: header */
    json_t *hdr = parse_part(t, hn);
    if (!hdr) {
        mk_verdict_invalid(out, MK_TICKET_MALFORMED, 2, "header is not a JSON object");
        return;
    }
    json_t *alg = json_object_get(hdr, "alg");
    if (!json_is_string(alg)) {
        json_decref(hdr);
        mk_verdict_invalid(out, MK_TICKET_MALFORMED, 2, "header has no string alg");
        return;
    }
    if (json_object_get(hdr, "crit")) {
        json_decref(hdr);
        mk_verdict_invalid(out, MK_TICKET_UNSUPPORTED, 2, "crit header parameters are not supported");
        return;
    }
    /* 3: the alg must be that of a configured key */
    mk_jwt_alg_t a = mk_jwt_alg_from_name(json_string_value(alg), json_string_length(alg));
    bool have = false;
    for (size_t i = 0; a != MK_JWT_END && i < s->nkeys; i++) have |= s->keys[i].alg == a;
    if (!have) {
        mk_verdict_invalid(out, MK_TICKET_UNSUPPORTED, 3, "alg \"%.20s\" is not that of a configured key",
                           json_string_value(alg));
        json_decref(hdr);
        return;
    }
    json_decref(hdr);
    /* 4: signature */
    bool verified = false;
    for (size_t i = 0; !verified && i < s->nkeys; i++)
        if (s->keys[i].alg == a)
            verified = mk_jwt_key_verify(&s->keys[i], (const uint8_t *)t, (size_t)(d2 - t), sig, sig_len);
    if (!verified) {
        mk_verdict_invalid(out, MK_TICKET_BAD_SIGNATURE, 4, "%s signature does not verify", mk_jwt_alg_name(a));
        return;
    }
    /* 5–14: claims */
    json_t *claims = parse_part(d1 + 1, cn);
    if (!claims) {
        mk_verdict_invalid(out, MK_TICKET_MALFORMED, 5, "claims are not a JSON object");
        return;
    }
    validate_claims(c, claims, peer, now_ms, out);
    json_decref(claims);
}

/* ---- signature (§3.5) ---- */

static mk_id_t derive_str(const mk_id_t *s, const char *str) { return mk_id_derive(s, str, strlen(str)); }

/* Canonical JSON of a required claim value into buf. */
static size_t canonical_value(const mk_jwt_claim_t *cl, char *buf, size_t cap) {
    if (cl->kind == MK_JV_INT) return (size_t)snprintf(buf, cap, "%lld", (long long)cl->i);
    if (cl->kind == MK_JV_BOOL) return (size_t)snprintf(buf, cap, "%s", cl->b ? "true" : "false");
    size_t k = 0;
    if (k < cap) buf[k++] = '"';
    for (const unsigned char *p = (const unsigned char *)(cl->s ? cl->s : ""); *p && k + 8 < cap; p++) {
        switch (*p) {
        case '"': k += (size_t)snprintf(buf + k, cap - k, "\\\""); break;
        case '\\': k += (size_t)snprintf(buf + k, cap - k, "\\\\"); break;
        case '\b': k += (size_t)snprintf(buf + k, cap - k, "\\b"); break;
        case '\f': k += (size_t)snprintf(buf + k, cap - k, "\\f"); break;
        case '\n': k += (size_t)snprintf(buf + k, cap - k, "\\n"); break;
        case '\r': k += (size_t)snprintf(buf + k, cap - k, "\\r"); break;
        case '\t': k += (size_t)snprintf(buf + k, cap - k, "\\t"); break;
        default:
            if (*p < 0x20) k += (size_t)snprintf(buf + k, cap - k, "\\u%04x", *p);
            else buf[k++] = (char)*p;
        }
    }
    if (k < cap) buf[k++] = '"';
    return k;
}

static int cmp_claim_names(const void *a, const void *b) {
    return strcmp((*(const mk_jwt_claim_t *const *)a)->name, (*(const mk_jwt_claim_t *const *)b)->name);
}

static mk_id_t jwt_signature(const void *cfgp) {
    const mk_jwt_config_t *c = cfgp;
    mk_id_t s = mk_jwt_class();
    for (size_t i = 0; i < count_keys(c); i++) {
        mk_jwt_parsed_key_t k;
        mk_id_t fp = {{0}};
        if (mk_jwt_key_parse_public(&c->keys[i], &k, NULL) == MK_OK) {
            fp = k.fingerprint;
            mk_jwt_key_free(&k);
        }
        const char *name = mk_jwt_alg_name(c->keys[i].alg);
        mk_id_t t = derive_str(&s, name ? name : "?");
        s = mk_id_derive(&t, fp.b, 32);
    }
    uint8_t flag = c->allow_non_expiring ? 1 : 0;
    s = mk_id_derive(&s, &flag, 1);
    for (int pass = 0; pass < 2; pass++) {
        const char *const *list = pass ? c->audiences : c->issuers;
        char joined[MK_JWT_MAX_LIST * 256] = "";
        size_t k = 0;
        for (size_t i = 0; i < count_list(list); i++)
            k += (size_t)snprintf(joined + k, k < sizeof joined ? sizeof joined - k : 0, "%s%s", i ? "," : "", list[i]);
        s = mk_id_derive(&s, joined, k < sizeof joined ? k : sizeof joined - 1);
    }
    s = derive_str(&s, c->subject ? c->subject : "");
    uint8_t le[8];
    for (int pass = 0; pass < 2; pass++) {
        uint64_t v = pass ? c->max_age_s : c->max_lifetime_s;
        for (int i = 0; i < 8; i++) le[i] = (uint8_t)(v >> (8 * i));
        s = mk_id_derive(&s, le, 8);
    }
    const mk_jwt_claim_t *sorted[MK_JWT_MAX_CLAIMS];
    size_t n = count_claims(c->claims);
    for (size_t i = 0; i < n; i++) sorted[i] = &c->claims[i];
    qsort(sorted, n, sizeof *sorted, cmp_claim_names);
    for (size_t i = 0; i < n; i++) {
        char val[2048];
        size_t vl = canonical_value(sorted[i], val, sizeof val);
        mk_id_t t = derive_str(&s, sorted[i]->name);
        s = mk_id_derive(&t, val, vl < sizeof val ? vl : sizeof val);
    }
    return s;
}

const mk_ticket_validator_vt_t mk_jwt_validator_vt = {
    .kind = "jwt",
    .class_id = jwt_class_id,
    .signature = jwt_signature,
    .prepare = jwt_prepare,
    .release = jwt_release,
    .validate = jwt_validate,
};

/* ---- heap validators: a deep copy of the configuration ---- */

typedef struct jwt_heap {
    mk_validator_heap_t h;
    mk_jwt_config_t cfg;
    void *copies[MK_JWT_MAX_KEYS + 2 * MK_JWT_MAX_LIST + 1 + 2 * MK_JWT_MAX_CLAIMS];
    size_t ncopies;
} jwt_heap_t;

static void jwt_heap_destroy(mk_validator_heap_t *h) {
    jwt_heap_t *j = (jwt_heap_t *)h;
    jwt_release(h->state);
    for (size_t i = 0; i < j->ncopies; i++) free(j->copies[i]);
    free(j);
}

static const void *keep(jwt_heap_t *j, const void *p, size_t n) {
    if (!p) return NULL;
    void *c = malloc(n + 1);
    if (!c) return NULL;
    memcpy(c, p, n);
    ((char *)c)[n] = 0;
    j->copies[j->ncopies++] = c;
    return c;
}

static const char *keep_str(jwt_heap_t *j, const char *s) { return s ? keep(j, s, strlen(s)) : NULL; }

const mk_ticket_validator_t *mk_jwt_validator_new(const mk_jwt_config_t *c, mk_error_t *e) {
    if (!c) {
        MK_ERR(e, MK_EINVAL, "jwt: no configuration");
        return NULL;
    }
    jwt_heap_t *j = calloc(1, sizeof *j);
    if (!j) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    j->cfg = *c;
    bool ok = true;
    for (size_t i = 0; i < count_keys(c); i++) {
        const mk_jwt_key_t *k = &c->keys[i];
        size_t n = k->form == MK_KEY_RAW ? k->len : (k->len ? k->len : (k->data ? strlen(k->data) : 0));
        j->cfg.keys[i].data = keep(j, k->data, n);
        j->cfg.keys[i].len = n;
        ok &= !k->data || j->cfg.keys[i].data;
    }
    for (size_t i = 0; i < count_list(c->issuers); i++) ok &= (j->cfg.issuers[i] = keep_str(j, c->issuers[i])) != NULL;
    for (size_t i = 0; i < count_list(c->audiences); i++) ok &= (j->cfg.audiences[i] = keep_str(j, c->audiences[i])) != NULL;
    if (c->subject) ok &= (j->cfg.subject = keep_str(j, c->subject)) != NULL;
    for (size_t i = 0; i < count_claims(c->claims); i++) {
        ok &= (j->cfg.claims[i].name = keep_str(j, c->claims[i].name)) != NULL;
        if (c->claims[i].s) ok &= (j->cfg.claims[i].s = keep_str(j, c->claims[i].s)) != NULL;
    }
    if (!ok) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        jwt_heap_destroy(&j->h);
        return NULL;
    }
    if (jwt_prepare(&j->cfg, &j->h.state, e) != MK_OK) {
        jwt_heap_destroy(&j->h);
        return NULL;
    }
    atomic_init(&j->h.refs, 1);
    j->h.destroy = jwt_heap_destroy;
    j->h.self = (mk_ticket_validator_t){.vt = &mk_jwt_validator_vt, .cfg = &j->cfg, .heap_ = &j->h};
    return &j->h.self;
}
