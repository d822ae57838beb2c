/* tee/tdx/validator.c — the Tdx validator (spec 60 §6.2, §7): the sixteen ordered checks of a TDX ticket,
 * the validator signature, the verification cache, the heap validators the builder makes and the static
 * form over an mk_tdx_def_t (validator_def.c parses it into the same configuration).
 *
 * Cache: verifying a quote (steps 2–8: two ECDSA verifies and an X.509 chain, more with collateral) costs
 * milliseconds, and owners re-validate a peer's tickets whenever its entry changes. Each prepared state
 * keeps the last 64 successful outcomes of steps 2–8, keyed by BLAKE3 of the ticket data, with the time
 * of the verification, the trust's collateral at that time (a held reference, so a swap misses) and the
 * report. An outcome is reused for now in [verified_at, report.valid_until): everything steps 2–8 check
 * stays true going forward in time until the earliest notAfter / nextUpdate. Failures are not cached.
 * validate may run on several loop threads at once on one shared state: a mutex guards the cache, and
 * the verification itself runs outside it. Steps 1 and 9–16 always run. */
#include "tee/tdx/validator_int.h"

#include "core/error.h"
#include "tickets/validator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the cache ---- */

typedef struct cache_entry {
    bool used;
    mk_id_t key;
    int64_t verified_at_s;
    mk_tdx_coll_t *coll; /* held reference; NULL = none */
    mk_tdx_report_t rep;
} cache_entry_t;

struct tdx_cache {
    pthread_mutex_t mu;
    size_t next; /* ring position */
    cache_entry_t e[TDX_CACHE_SIZE];
};

static bool cache_get(tdx_cache_t *c, const mk_id_t *key, const mk_tdx_coll_t *coll, int64_t now_s,
                      mk_tdx_report_t *rep) {
    bool hit = false;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < TDX_CACHE_SIZE && !hit; i++) {
        cache_entry_t *x = &c->e[i];
        if (x->used && x->coll == coll && x->verified_at_s <= now_s && now_s < x->rep.valid_until_s &&
            memcmp(x->key.b, key->b, 32) == 0) {
            *rep = x->rep;
            hit = true;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static void cache_put(tdx_cache_t *c, const mk_id_t *key, mk_tdx_coll_t *coll, int64_t now_s,
                      const mk_tdx_report_t *rep) {
    mk_tdx_coll_t *old = NULL;
    pthread_mutex_lock(&c->mu);
    cache_entry_t *x = NULL;
    for (size_t i = 0; i < TDX_CACHE_SIZE && !x; i++) /* the same ticket again: refresh in place */
        if (c->e[i].used && c->e[i].coll == coll && memcmp(c->e[i].key.b, key->b, 32) == 0) x = &c->e[i];
    if (!x) {
        x = &c->e[c->next];
        c->next = (c->next + 1) % TDX_CACHE_SIZE;
    }
    old = x->used ? x->coll : NULL;
    x->used = true;
    x->key = *key;
    x->verified_at_s = now_s;
    x->coll = mk_tdx_coll_ref(coll);
    x->rep = *rep;
    pthread_mutex_unlock(&c->mu);
    mk_tdx_coll_unref(old);
}

tdx_cache_t *tdx_cache_new(void) {
    tdx_cache_t *c = calloc(1, sizeof *c);
    if (c) pthread_mutex_init(&c->mu, NULL);
    return c;
}

void tdx_cache_free(tdx_cache_t *c) {
    if (!c) return;
    for (size_t i = 0; i < TDX_CACHE_SIZE; i++)
        if (c->e[i].used) mk_tdx_coll_unref(c->e[i].coll);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

size_t tdx_cache_count(const tdx_state_t *s) {
    size_t n = 0;
    pthread_mutex_lock(&s->cache->mu);
    for (size_t i = 0; i < TDX_CACHE_SIZE; i++) n += s->cache->e[i].used;
    pthread_mutex_unlock(&s->cache->mu);
    return n;
}

/* ---- configuration ---- */

void tdx_conf_clear(tdx_conf_t *c) {
    free(c->variants);
    mk_tdx_trust_free(c->trust);
    memset(c, 0, sizeof *c);
}

int tdx_conf_add_variant(tdx_conf_t *c, const mk_tdx_criteria_t *v) {
    mk_tdx_criteria_t *n = realloc(c->variants, (c->n_variants + 1) * sizeof *n);
    if (!n) return MK_ENOMEM;
    c->variants = n;
    c->variants[c->n_variants++] = *v;
    return MK_OK;
}

static mk_id_t derive_u64(const mk_id_t *s, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    return mk_id_derive(s, b, 8);
}

mk_id_t tdx_conf_signature(const tdx_conf_t *c) {
    mk_id_t t = mk_tdx_class();
    mk_id_t cs = mk_tdx_criteria_signature(&c->baseline);
    t = mk_id_derive(&t, cs.b, 32);
    for (size_t i = 0; i < c->n_variants; i++) {
        cs = mk_tdx_criteria_signature(&c->variants[i]);
        t = mk_id_derive(&t, cs.b, 32);
    }
    t = derive_u64(&t, c->max_age_s);
    t = derive_u64(&t, (uint64_t)c->not_before_s); /* i64le */
    t = derive_u64(&t, c->max_lifetime_s);
    if (c->trust && !mk_tdx_trust_is_default(c->trust)) {
        static const char label[] = "libmosaik.tdx.trust.v1";
        uint8_t b[sizeof label - 1 + 32 + 4 + 2], *p = b;
        memcpy(p, label, sizeof label - 1), p += sizeof label - 1;
        mk_tdx_trust_root_fingerprint(c->trust, p), p += 32;
        for (int i = 0; i < 4; i++) *p++ = (uint8_t)(c->trust->accept >> (8 * i));
        *p++ = c->trust->require_collateral ? 1 : 0;
        *p++ = c->trust->allow_debug ? 1 : 0;
        t = mk_id_derive(&t, b, (size_t)(p - b));
    }
    return t;
}

/* ---- validation ---- */

/* The cause of an error without the "function: " prefix verify_ex puts in front. */
static const char *cause_of(const mk_error_t *e) {
    static const char pfx[] = "mk_tdx_quote_verify: ";
    return strncmp(e->msg, pfx, sizeof pfx - 1) == 0 ? e->msg + sizeof pfx - 1 : e->msg;
}

static int64_t sat_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return a > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t sat_ms(int64_t s) {
    int64_t r;
    if (__builtin_mul_overflow(s, (int64_t)1000, &r)) return s > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static const char *const REG_NAMES[5] = {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3"};

/* The first required register of c that m does not match, or -1. */
static int first_mismatch(const mk_tdx_criteria_t *c, const mk_measurements_t *m) {
    for (int r = MK_TDX_MRTD; r <= MK_TDX_RTMR3; r++)
        if ((c->required & MK_TDX_REG_BIT(r)) &&
            memcmp(c->value[r].b, mk_measurements_reg(m, (mk_tdx_reg_t)r)->b, 48) != 0)
            return r;
    return -1;
}

#define FAIL(reason, chk, ...)                                                  \
    do {                                                                        \
        mk_verdict_invalid(out, (reason), (int)(chk), __VA_ARGS__);             \
        goto done;                                                              \
    } while (0)

void tdx_validate_state(tdx_state_t *s, const uint8_t *data, size_t len, const mk_ticket_peer_t *peer,
                        int64_t now_ms, mk_ticket_verdict_t *out) {
    const tdx_conf_t *c = &s->conf;
    mk_tdx_ticket_t *tk = NULL;
    mk_tdx_coll_t *coll = NULL;
    mk_error_t err = {0};
    int64_t now = mk_tdx_floor_s(now_ms);
    const mk_tdx_trust_t *trust = c->trust ? c->trust : mk_tdx_trust_default();
    if (!trust) FAIL(MK_TICKET_INTERNAL, MK_TDX_CHK_PARSE, "cannot make the default trust");

    /* 1. DECODE (the quote is parsed at step 2, the binding checked at step 10) */
    int rc = mk_tdx_ticket_decode_ex(data, len, 0, &tk, &err);
    if (rc != MK_OK) {
        const char *m = strncmp(err.msg, "mk_tdx_ticket_decode: ", 22) == 0 ? err.msg + 22 : err.msg;
        FAIL(rc == MK_ENOMEM ? MK_TICKET_INTERNAL : MK_TICKET_MALFORMED, MK_TDX_CHK_DECODE, "decode: %s", m);
    }
    size_t qlen = 0;
    const uint8_t *qb = mk_tdx_ticket_quote_bytes(tk, &qlen);

    /* 2–8. the quote (cached on success) */
    mk_tdx_report_t rep;
    mk_id_t key = mk_id_hash(data, len);
    coll = mk_tdx_trust_collateral(trust);
    if (!cache_get(s->cache, &key, coll, now, &rep)) {
        mk_tdx_check_t failed = MK_TDX_CHK_OK;
        mk_ticket_reason_t reason = MK_TICKET_OK;
        if (mk_tdx_quote_verify_ex(qb, qlen, trust, now, &rep, &failed, &reason, &err) != MK_OK)
            FAIL(reason, failed, "%s", cause_of(&err));
        cache_put(s->cache, &key, coll, now, &rep);
    }
    if (mk_tdx_ticket_parse_quote(tk, &err) != MK_OK) /* parsed by verify_ex already: cannot fail */
        FAIL(MK_TICKET_MALFORMED, MK_TDX_CHK_PARSE, "%s", err.msg);
    const mk_tdx_quote_t *q = mk_tdx_ticket_quote(tk);
    const mk_tdx_extra_t *x = mk_tdx_ticket_extra(tk);

    /* 9. TD_ATTRIBUTES */
    if (mk_tdx_quote_is_debug(q) && !trust->allow_debug)
        FAIL(MK_TICKET_POLICY, MK_TDX_CHK_TD_ATTRIBUTES, "debug TD (TDATTRIBUTES.DEBUG set) and the trust refuses debug");
    /* 10. REPORT_DATA */
    {
        uint8_t rd[64];
        mk_tdx_extra_report_data(x, rd);
        if (memcmp(rd, q->report_data, 32) != 0)
            FAIL(MK_TICKET_BINDING, MK_TDX_CHK_REPORT_DATA, "REPORTDATA is not the signature of the ticket's extra data");
        if (memcmp(rd + 32, q->report_data + 32, 32) != 0)
            FAIL(MK_TICKET_BINDING, MK_TDX_CHK_REPORT_DATA, "REPORTDATA[32..64] is not zero");
    }
    /* 11. MEASUREMENTS */
    {
        int r = first_mismatch(&c->baseline, &q->m);
        if (r >= 0) FAIL(MK_TICKET_MEASUREMENT, MK_TDX_CHK_MEASUREMENTS, "%s differs from the baseline", REG_NAMES[r]);
        bool any = c->n_variants == 0;
        for (size_t i = 0; i < c->n_variants && !any; i++) any = mk_tdx_criteria_matches(&c->variants[i], &q->m);
        if (!any) FAIL(MK_TICKET_MEASUREMENT, MK_TDX_CHK_MEASUREMENTS, "none of the %zu variants matches", c->n_variants);
    }
    /* 12. PEER, NETWORK */
    if (!peer) FAIL(MK_TICKET_BINDING, MK_TDX_CHK_PEER, "no peer to bind the ticket to");
    if (memcmp(x->peer_id.b, peer->peer_id.b, 32) != 0)
        FAIL(MK_TICKET_BINDING, MK_TDX_CHK_PEER, "the ticket names another peer id");
    if (memcmp(x->network_id.b, peer->network_id.b, 32) != 0)
        FAIL(MK_TICKET_BINDING, MK_TDX_CHK_NETWORK, "the ticket names another network id");
    /* 13. MAX_AGE: now − quoted_at > max_age, or quoted more than 60 s in the future */
    if (c->max_age_s) {
        if (x->quoted_at_s > sat_add(now, 60))
            FAIL(MK_TICKET_POLICY, MK_TDX_CHK_MAX_AGE, "quoted %llds in the future (60 s allowed)",
                 (long long)(x->quoted_at_s - now));
        if (now > x->quoted_at_s && (uint64_t)now - (uint64_t)x->quoted_at_s > c->max_age_s)
            FAIL(MK_TICKET_EXPIRED, MK_TDX_CHK_MAX_AGE, "quoted %llus ago, max_age %llus",
                 (unsigned long long)((uint64_t)now - (uint64_t)x->quoted_at_s), (unsigned long long)c->max_age_s);
    }
    /* 14. NOT_BEFORE */
    if (c->not_before_s && x->quoted_at_s < c->not_before_s)
        FAIL(MK_TICKET_NOT_YET_VALID, MK_TDX_CHK_NOT_BEFORE, "quoted at %lld, before not_before %lld",
             (long long)x->quoted_at_s, (long long)c->not_before_s);
    /* 15. LIFETIME */
    if (c->max_lifetime_s) {
        if (x->expires == MK_EXPIRES_NEVER)
            FAIL(MK_TICKET_POLICY, MK_TDX_CHK_LIFETIME, "never expires, max_lifetime %llus",
                 (unsigned long long)c->max_lifetime_s);
        if (x->expires < x->quoted_at_s)
            FAIL(MK_TICKET_POLICY, MK_TDX_CHK_LIFETIME, "expires before it was quoted");
        if ((uint64_t)x->expires - (uint64_t)x->quoted_at_s > c->max_lifetime_s)
            FAIL(MK_TICKET_POLICY, MK_TDX_CHK_LIFETIME, "lifetime %llus exceeds max_lifetime %llus",
                 (unsigned long long)((uint64_t)x->expires - (uint64_t)x->quoted_at_s),
                 (unsigned long long)c->max_lifetime_s);
    }
    /* 16. EXPIRED */
    if (x->expires != MK_EXPIRES_NEVER && x->expires <= now)
        FAIL(MK_TICKET_EXPIRED, MK_TDX_CHK_EXPIRED, "expired at %lld", (long long)x->expires);

    {
        mk_expiration_t exp = x->expires == MK_EXPIRES_NEVER ? MK_EXPIRES_NEVER : x->expires * 1000;
        if (c->max_age_s) {
            int64_t until = c->max_age_s > (uint64_t)INT64_MAX ? INT64_MAX : sat_add(x->quoted_at_s, (int64_t)c->max_age_s);
            exp = min64(exp, sat_ms(until));
        }
        if (rep.valid_until_s != INT64_MAX) exp = min64(exp, sat_ms(rep.valid_until_s));
        mk_verdict_valid(out, exp);
    }
done:
    mk_tdx_coll_unref(coll);
    mk_tdx_ticket_free(tk);
}

/* ---- states and the heap validator ---- */

tdx_state_t *tdx_state_new(tdx_conf_t *c) {
    tdx_state_t *s = calloc(1, sizeof *s);
    if (!s || !(s->cache = tdx_cache_new())) {
        free(s);
        return NULL;
    }
    s->conf = *c; /* takes the variants and the trust reference */
    memset(c, 0, sizeof *c);
    return s;
}

void tdx_state_free(tdx_state_t *s) {
    if (!s) return;
    tdx_conf_clear(&s->conf);
    tdx_cache_free(s->cache);
    free(s);
}

static mk_id_t tdx_class_id(const void *cfg) {
    (void)cfg;
    return mk_tdx_class();
}

/* Heap validators: cfg is the state's own tdx_conf_t. */
static mk_id_t heap_signature(const void *cfg) { return tdx_conf_signature(cfg); }

static void heap_validate(const void *cfg, void *state, const uint8_t *data, size_t len, const mk_ticket_peer_t *peer,
                          int64_t now_ms, mk_ticket_verdict_t *out) {
    (void)cfg;
    if (!state) {
        mk_verdict_invalid(out, MK_TICKET_INTERNAL, 0, "validator not prepared");
        return;
    }
    tdx_validate_state(state, data, len, peer, now_ms, out);
}

static const mk_ticket_validator_vt_t tdx_heap_vt = {
    .kind = "tdx",
    .class_id = tdx_class_id,
    .signature = heap_signature,
    .validate = heap_validate,
};

static void heap_destroy(mk_validator_heap_t *h) {
    tdx_state_free(h->state);
    free(h);
}

const mk_ticket_validator_t *tdx_heap_validator_new(tdx_conf_t *c) {
    mk_validator_heap_t *h = calloc(1, sizeof *h);
    tdx_state_t *s = h ? tdx_state_new(c) : NULL;
    if (!s) {
        free(h);
        return NULL;
    }
    atomic_init(&h->refs, 1);
    h->state = s;
    h->destroy = heap_destroy;
    h->self = (mk_ticket_validator_t){.vt = &tdx_heap_vt, .cfg = &s->conf, .heap_ = h};
    return &h->self;
}

/* ---- static validators (cfg = mk_tdx_def_t) ---- */

static int def_prepare(const void *cfg, void **state, mk_error_t *e) {
    *state = NULL;
    tdx_conf_t c;
    int rc = tdx_conf_from_def(cfg, true, &c, e);
    if (rc != MK_OK) return rc;
    tdx_state_t *s = tdx_state_new(&c);
    if (!s) {
        tdx_conf_clear(&c);
        return MK_ERR(e, MK_ENOMEM, "out of memory");
    }
    *state = s;
    return MK_OK;
}

static void def_release(void *state) { tdx_state_free(state); }

static mk_id_t def_signature(const void *cfg) {
    tdx_conf_t c;
    if (tdx_conf_from_def(cfg, false, &c, NULL) != MK_OK) return MK_ID_ZERO; /* cannot be prepared either */
    mk_id_t s = tdx_conf_signature(&c);
    tdx_conf_clear(&c);
    return s;
}

static void def_validate(const void *cfg, void *state, const uint8_t *data, size_t len, const mk_ticket_peer_t *peer,
                         int64_t now_ms, mk_ticket_verdict_t *out) {
    heap_validate(cfg, state, data, len, peer, now_ms, out);
}

const mk_ticket_validator_vt_t mk_tdx_validator_vt = {
    .kind = "tdx",
    .class_id = tdx_class_id,
    .signature = def_signature,
    .prepare = def_prepare,
    .release = def_release,
    .validate = def_validate,
};
