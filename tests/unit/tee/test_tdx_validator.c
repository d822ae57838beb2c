/* unit/tee/test_tdx_validator.c — the Tdx validator (spec 60 §6.2, §7, §12 TDX items 4 and 5) with mock
 * quotes under a trust holding the mock root: a valid ticket and its expiry (the minimum of expires,
 * quoted_at + max_age and the chain's / collateral's end); every extra field changed after quoting →
 * REPORT_DATA; peer and network mismatch; expiry, max_age (past and future), not_before and max_lifetime
 * (incl. NEVER) exactly at their boundaries; DECODE for hostile encodings; the criteria truth table
 * (baseline × variants); the validator signature (its formula, equality of identical settings and group
 * keys, every setting and a non-default trust change it, the default trust does not; require_own and
 * from_local through the mock provider equal explicit values; a static def equals the builder); frozen
 * builders; debug TDs; the real Intel quotes fail at REPORT_DATA, mock tickets at PCK_CHAIN with the
 * default trust; the cache (collateral swaps and time are honoured; concurrent use); the static form
 * through mk_ticket_validate and its prepare errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/groups.h"
#include "tee/tdx/validator_int.h"
#include "tickets/validator.h"
#include "unit/tee/tdx_data.h"
#include "unit/tee/tdx_ticket_util.h"

#include <pthread.h>

#define NOW_MS (T_NOW * 1000)
#define DAY 86400LL

static mk_tdx_mock_t *M;
static mk_tdx_trust_t *TRUST;

static int setup(void **state) {
    (void)state;
    M = t_mock(3, 0x11, false);
    TRUST = t_trust(M, false);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    mk_tdx_trust_free(TRUST);
    mk_tdx_mock_free(M);
    return 0;
}

static mk_ticket_peer_t peer_of(const mk_tdx_extra_t *x) {
    mk_ticket_peer_t p = {.peer_id = x->peer_id, .network_id = x->network_id, .entry = NULL};
    return p;
}

/* A frozen validator (owned by the caller through its builder). */
static mk_tdx_validator_t *builder(void) {
    mk_tdx_validator_t *b = mk_tdx_validator_new();
    assert_non_null(b);
    assert_int_equal(mk_tdx_validator_trust(b, TRUST), MK_OK);
    return b;
}

static mk_ticket_verdict_t run(const mk_ticket_validator_t *v, const mk_ticket_t *t, const mk_tdx_extra_t *x,
                               int64_t now_ms) {
    mk_ticket_peer_t p = peer_of(x);
    mk_ticket_verdict_t out;
    mk_ticket_validate(v, t->data, t->len, &p, now_ms, &out);
    return out;
}

#define assert_verdict(vd, chk, rsn)                                                                        \
    do {                                                                                                    \
        if ((vd).code != (int)(chk) || (vd).reason != (rsn))                                                 \
            fail_msg("got %s/%s (%s), want %s/%s", mk_tdx_check_str((mk_tdx_check_t)(vd).code),             \
                     mk_ticket_reason_str((vd).reason), (vd).detail, mk_tdx_check_str(chk), mk_ticket_reason_str(rsn)); \
        assert_false((vd).valid);                                                                           \
        assert_true((vd).detail[0] != '\0');                                                                \
    } while (0)

#define assert_valid(vd)                                                                                     \
    do {                                                                                                    \
        if (!(vd).valid) fail_msg("invalid: %s/%s (%s)", mk_tdx_check_str((mk_tdx_check_t)(vd).code),          \
                                  mk_ticket_reason_str((vd).reason), (vd).detail);                          \
    } while (0)

static void valid_and_expiry(void **state) {
    (void)state;
    mk_tdx_extra_t x = t_extra();
    mk_ticket_t *t = t_ticket(M, &x);
    mk_tdx_validator_t *b = builder();
    const mk_ticket_validator_t *v = mk_tdx_validator_get(b);
    assert_non_null(v);
    mk_id_t cls = mk_ticket_validator_class(v), want = mk_tdx_class();
    assert_memory_equal(cls.b, want.b, 32);
    assert_string_equal(v->vt->kind, "tdx");
    mk_ticket_verdict_t vd = run(v, t, &x, NOW_MS);
    assert_valid(vd);
    assert_int_equal(vd.expires, x.expires * 1000);
    assert_int_equal(vd.reason, MK_TICKET_OK);
    mk_tdx_validator_free(b);

    /* max_age folds in: quoted_at + max_age earlier than expires */
    b = builder();
    mk_tdx_validator_max_age(b, 100);
    vd = run(mk_tdx_validator_get(b), t, &x, NOW_MS);
    assert_valid(vd);
    assert_int_equal(vd.expires, (x.quoted_at_s + 100) * 1000);
    mk_tdx_validator_free(b);

    /* NEVER without max_age: the chain's end, not NEVER */
    mk_tdx_extra_t n = t_extra();
    n.expires = MK_EXPIRES_NEVER;
    mk_ticket_t *tn = t_ticket(M, &n);
    mk_tdx_report_t rep;
    {
        mk_tdx_ticket_t *d = NULL;
        assert_int_equal(mk_tdx_ticket_from(tn, &d, NULL), MK_OK);
        mk_buf_t q = MK_BUF_INIT;
        t_quote(M, &n, &q);
        assert_int_equal(mk_tdx_quote_verify(q.ptr, q.len, TRUST, T_NOW, &rep, NULL, NULL), MK_OK);
        mk_buf_free(&q);
        mk_tdx_ticket_free(d);
    }
    assert_true(rep.valid_until_s > T_NOW && rep.valid_until_s < INT64_MAX);
    b = builder();
    v = mk_tdx_validator_get(b);
    vd = run(v, tn, &n, NOW_MS);
    assert_valid(vd);
    assert_int_equal(vd.expires, rep.valid_until_s * 1000);
    mk_tdx_validator_free(b);

    /* with collateral: its nextUpdate when that is the earliest */
    mk_buf_t j = MK_BUF_INIT;
    assert_int_equal(mk_tdx_mock_collateral(M, MK_TCB_UP_TO_DATE, T_NOW - DAY, T_NOW + 30 * DAY, false, &j, NULL), MK_OK);
    mk_tdx_trust_config_t tc = {.root_pem = mk_tdx_mock_root_pem(M), .collateral_json = j.ptr};
    mk_tdx_trust_t *tr = mk_tdx_trust_new(&tc, NULL);
    assert_non_null(tr);
    b = mk_tdx_validator_new();
    mk_tdx_validator_trust(b, tr);
    vd = run(mk_tdx_validator_get(b), tn, &n, NOW_MS);
    assert_valid(vd);
    assert_int_equal(vd.expires, (T_NOW + 30 * DAY) * 1000);
    /* and the three terms at once: max_age the smallest */
    mk_tdx_validator_free(b);
    b = mk_tdx_validator_new();
    mk_tdx_validator_trust(b, tr);
    mk_tdx_validator_max_age(b, 50);
    vd = run(mk_tdx_validator_get(b), t, &x, NOW_MS);
    assert_valid(vd);
    assert_int_equal(vd.expires, (x.quoted_at_s + 50) * 1000);
    mk_tdx_validator_free(b);
    mk_tdx_trust_free(tr);
    mk_buf_free(&j);
    mk_ticket_free(tn);
    mk_ticket_free(t);
}

/* A ticket whose quote was made for x but that carries y. */
static mk_ticket_t *mismatched(const mk_tdx_extra_t *x, const mk_tdx_extra_t *y) {
    mk_buf_t q = MK_BUF_INIT, z = MK_BUF_INIT;
    t_quote(M, x, &q);
    encode(&q, y, y->expires == MK_EXPIRES_NEVER ? 0 : 1, y->expires, 0, &z);
    mk_id_t cls = mk_tdx_class();
    mk_ticket_t *t = mk_ticket_new(&cls, z.ptr, z.len, NULL);
    mk_buf_free(&q);
    mk_buf_free(&z);
    return t;
}

static void report_data_binding(void **state) {
    (void)state;
    mk_tdx_validator_t *b = builder();
    const mk_ticket_validator_t *v = mk_tdx_validator_get(b);
    mk_tdx_extra_t x = t_extra();
    for (int f = 0; f < 6; f++) {
        mk_tdx_extra_t y = x;
        switch (f) {
        case 0: y.peer_id.b[5] ^= 1; break;
        case 1: y.network_id.b[0] ^= 0x80; break;
        case 2: y.started_at_s--; break;
        case 3: y.quoted_at_s++; break;
        case 4: y.expires++; break;
        case 5: y.expires = MK_EXPIRES_NEVER; break;
        }
        mk_ticket_t *t = mismatched(&x, &y);
        mk_ticket_verdict_t vd = run(v, t, &y, NOW_MS); /* the peer is what the ticket claims */
        assert_verdict(vd, MK_TDX_CHK_REPORT_DATA, MK_TICKET_BINDING);
        mk_ticket_free(t);
    }
    /* the second half of REPORTDATA must be zero too */
    uint8_t rd[64];
    mk_tdx_extra_report_data(&x, rd);
    rd[63] = 1;
    mk_buf_t q = MK_BUF_INIT, z = MK_BUF_INIT;
    assert_int_equal(mk_tdx_mock_quote(M, rd, &q, NULL), MK_OK);
    encode(&q, &x, 1, x.expires, 0, &z);
    mk_ticket_peer_t p = peer_of(&x);
    mk_ticket_verdict_t vd;
    mk_ticket_validate(v, z.ptr, z.len, &p, NOW_MS, &vd);
    assert_verdict(vd, MK_TDX_CHK_REPORT_DATA, MK_TICKET_BINDING);
    mk_buf_free(&q);
    mk_buf_free(&z);
    mk_tdx_validator_free(b);
}

static void peer_and_network(void **state) {
    (void)state;
    mk_tdx_validator_t *b = builder();
    const mk_ticket_validator_t *v = mk_tdx_validator_get(b);
    mk_tdx_extra_t x = t_extra();
    mk_ticket_t *t = t_ticket(M, &x);
    mk_ticket_peer_t p = peer_of(&x);
    mk_ticket_verdict_t vd;
    p.peer_id = mk_id_from_str("peer-b");
    mk_ticket_validate(v, t->data, t->len, &p, NOW_MS, &vd);
    assert_verdict(vd, MK_TDX_CHK_PEER, MK_TICKET_BINDING);
    p = peer_of(&x);
    p.network_id = mk_id_from_str("net-2");
    mk_ticket_validate(v, t->data, t->len, &p, NOW_MS, &vd);
    assert_verdict(vd, MK_TDX_CHK_NETWORK, MK_TICKET_BINDING);
    mk_ticket_validate(v, t->data, t->len, NULL, NOW_MS, &vd);
    assert_verdict(vd, MK_TDX_CHK_PEER, MK_TICKET_BINDING);
    mk_ticket_free(t);
    mk_tdx_validator_free(b);
}

static void time_boundaries(void **state) {
    (void)state;
    mk_tdx_extra_t x = t_extra();
    const int64_t Q = x.quoted_at_s, E = x.expires;
    mk_ticket_t *t = t_ticket(M, &x);
    mk_ticket_verdict_t vd;

    /* expires: valid until the last millisecond before E */
    mk_tdx_validator_t *b = builder();
    const mk_ticket_validator_t *v = mk_tdx_validator_get(b);
    vd = run(v, t, &x, E * 1000 - 1);
    assert_valid(vd);
    vd = run(v, t, &x, E * 1000);
    assert_verdict(vd, MK_TDX_CHK_EXPIRED, MK_TICKET_EXPIRED);
    mk_tdx_validator_free(b);

    /* max_age 100: now − Q = 100 passes, 101 fails; Q may be up to 60 s in the future */
    b = builder();
    mk_tdx_validator_max_age(b, 100);
    v = mk_tdx_validator_get(b);
    vd = run(v, t, &x, (Q + 100) * 1000 + 999);
    assert_valid(vd);
    assert_int_equal(vd.expires, (Q + 100) * 1000);
    vd = run(v, t, &x, (Q + 101) * 1000);
    assert_verdict(vd, MK_TDX_CHK_MAX_AGE, MK_TICKET_EXPIRED);
    vd = run(v, t, &x, (Q - 60) * 1000);
    assert_valid(vd);
    vd = run(v, t, &x, (Q - 60) * 1000 - 1);
    assert_verdict(vd, MK_TDX_CHK_MAX_AGE, MK_TICKET_POLICY);
    mk_tdx_validator_free(b);
    /* without max_age a future quote is no matter */
    b = builder();
    vd = run(mk_tdx_validator_get(b), t, &x, (Q - 3600) * 1000);
    assert_valid(vd);
    mk_tdx_validator_free(b);

    /* not_before: Q passes, Q + 1 fails */
    b = builder();
    mk_tdx_validator_not_before(b, Q);
    vd = run(mk_tdx_validator_get(b), t, &x, NOW_MS);
    assert_valid(vd);
    mk_tdx_validator_free(b);
    b = builder();
    mk_tdx_validator_not_before(b, Q + 1);
    vd = run(mk_tdx_validator_get(b), t, &x, NOW_MS);
    assert_verdict(vd, MK_TDX_CHK_NOT_BEFORE, MK_TICKET_NOT_YET_VALID);
    mk_tdx_validator_free(b);

    /* max_lifetime: E − Q passes, one less fails; NEVER fails; expiring before the quote fails */
    b = builder();
    mk_tdx_validator_max_lifetime(b, (uint64_t)(E - Q));
    v = mk_tdx_validator_get(b);
    vd = run(v, t, &x, NOW_MS);
    assert_valid(vd);
    mk_tdx_extra_t n = t_extra();
    n.expires = MK_EXPIRES_NEVER;
    mk_ticket_t *tn = t_ticket(M, &n);
    vd = run(v, tn, &n, NOW_MS);
    assert_verdict(vd, MK_TDX_CHK_LIFETIME, MK_TICKET_POLICY);
    mk_tdx_extra_t early = t_extra();
    early.expires = early.quoted_at_s - 1;
    mk_ticket_t *te = t_ticket(M, &early);
    vd = run(v, te, &early, NOW_MS);
    assert_verdict(vd, MK_TDX_CHK_LIFETIME, MK_TICKET_POLICY);
    mk_tdx_validator_free(b);
    b = builder();
    mk_tdx_validator_max_lifetime(b, (uint64_t)(E - Q - 1));
    vd = run(mk_tdx_validator_get(b), t, &x, NOW_MS);
    assert_verdict(vd, MK_TDX_CHK_LIFETIME, MK_TICKET_POLICY);
    mk_tdx_validator_free(b);
    /* without max_lifetime: NEVER is fine, an expiry before the quote is only EXPIRED */
    b = builder();
    v = mk_tdx_validator_get(b);
    vd = run(v, tn, &n, NOW_MS);
    assert_valid(vd);
    vd = run(v, te, &early, NOW_MS);
    assert_verdict(vd, MK_TDX_CHK_EXPIRED, MK_TICKET_EXPIRED);
    /* negative and far times convert without overflow */
    vd = run(v, t, &x, INT64_MIN);
    assert_false(vd.valid); /* long before the chain's notBefore */
    assert_int_equal(vd.code, MK_TDX_CHK_PCK_CHAIN);
    vd = run(v, tn, &n, INT64_MAX);
    assert_false(vd.valid);
    mk_tdx_validator_free(b);
    mk_ticket_free(te);
    mk_ticket_free(tn);
    mk_ticket_free(t);
}

static void decode_failures(void **state) {
    (void)state;
    mk_tdx_validator_t *b = builder();
    const mk_ticket_validator_t *v = mk_tdx_validator_get(b);
    mk_tdx_extra_t x = t_extra();
    mk_ticket_peer_t p = peer_of(&x);
    mk_ticket_verdict_t vd;
    mk_buf_t q = MK_BUF_INIT, z = MK_BUF_INIT;
    t_quote(M, &x, &q);
    struct { uint32_t tag; int64_t at; size_t extra; } cases[] = {{2, 5, 0}, {1, 0, 0}, {1, -7, 0}, {1, x.expires, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        encode(&q, &x, cases[i].tag, cases[i].at, cases[i].extra, &z);
        mk_ticket_validate(v, z.ptr, z.len, &p, NOW_MS, &vd);
        assert_verdict(vd, MK_TDX_CHK_DECODE, MK_TICKET_MALFORMED);
        mk_buf_free(&z);
    }
    /* zstd: two frames, a bomb, no content size */
    encode(&q, &x, 1, x.expires, 0, &z);
    {
        mk_buf_t once = MK_BUF_INIT;
        mk_buf_append(&once, z.ptr, z.len);
        mk_buf_append(&z, once.ptr, once.len);
        mk_buf_free(&once);
    }
    mk_ticket_validate(v, z.ptr, z.len, &p, NOW_MS, &vd);
    assert_verdict(vd, MK_TDX_CHK_DECODE, MK_TICKET_MALFORMED);
    assert_non_null(strstr(vd.detail, "after the frame"));
    mk_buf_free(&z);
    {
        size_t big = 1u << 20;
        uint8_t *zeros = calloc(1, big);
        z.cap = ZSTD_compressBound(big);
        z.ptr = malloc(z.cap);
        z.len = ZSTD_compress(z.ptr, z.cap, zeros, big, 3);
        mk_ticket_validate(v, z.ptr, z.len, &p, NOW_MS, &vd);
        assert_verdict(vd, MK_TDX_CHK_DECODE, MK_TICKET_MALFORMED);
        free(zeros);
        mk_buf_free(&z);
    }
    mk_ticket_validate(v, NULL, 0, &p, NOW_MS, &vd);
    assert_verdict(vd, MK_TDX_CHK_DECODE, MK_TICKET_MALFORMED);
    /* a quote that does not parse is a PARSE failure (step 2), not DECODE */
    mk_buf_t junk = MK_BUF_INIT;
    mk_buf_append(&junk, q.ptr, 700);
    encode(&junk, &x, 1, x.expires, 0, &z);
    mk_ticket_validate(v, z.ptr, z.len, &p, NOW_MS, &vd);
    assert_int_equal(vd.code, MK_TDX_CHK_PARSE);
    assert_int_equal(vd.reason, MK_TICKET_MALFORMED);
    mk_buf_free(&z);
    mk_buf_free(&junk);
    mk_buf_free(&q);
    mk_tdx_validator_free(b);
}

/* criteria requiring the mock's MRTD (0x11) or another value, on register r */
static mk_tdx_criteria_t crit(int kind /* 0 any, 1 match, 2 mismatch */, mk_tdx_reg_t r) {
    mk_tdx_criteria_t c = MK_TDX_CRITERIA_ANY;
    if (kind == 0) return c;
    mk_measurement_t m;
    memset(m.b, r == MK_TDX_MRTD ? 0x11 : 0x20 + (int)r - 1, 48);
    if (kind == 2) m.b[47] ^= 1;
    mk_tdx_criteria_require(&c, r, &m);
    return c;
}

static void criteria_truth_table(void **state) {
    (void)state;
    mk_tdx_extra_t x = t_extra();
    mk_ticket_t *t = t_ticket(M, &x);
    /* variants: none, [match], [mismatch], [mismatch, match], [mismatch, mismatch] */
    static const int VARIANTS[5][2] = {{0, 0}, {1, 0}, {2, 0}, {2, 1}, {2, 2}};
    static const size_t NV[5] = {0, 1, 1, 2, 2};
    for (int base = 0; base < 3; base++) {
        for (int vi = 0; vi < 5; vi++) {
            mk_tdx_criteria_t bc = crit(base, MK_TDX_RTMR2);
            mk_tdx_validator_t *b = mk_tdx_validator_baseline(&bc);
            mk_tdx_validator_trust(b, TRUST);
            for (size_t k = 0; k < NV[vi]; k++) {
                mk_tdx_criteria_t vc = crit(VARIANTS[vi][k], k ? MK_TDX_MRTD : MK_TDX_RTMR0);
                assert_int_equal(mk_tdx_validator_allow_variant(b, &vc), MK_OK);
            }
            bool want = base != 2 && (vi == 0 || vi == 1 || vi == 3);
            mk_ticket_verdict_t vd = run(mk_tdx_validator_get(b), t, &x, NOW_MS);
            if (want)
                assert_valid(vd);
            else
                assert_verdict(vd, MK_TDX_CHK_MEASUREMENTS, MK_TICKET_MEASUREMENT);
            if (!want && base == 2) assert_non_null(strstr(vd.detail, "rtmr2"));
            mk_tdx_validator_free(b);
        }
    }
    mk_ticket_free(t);
}

static mk_id_t d_u64(mk_id_t s, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    return mk_id_derive(&s, b, 8);
}

static mk_id_t sig_of(mk_tdx_validator_t *b) {
    mk_id_t s = mk_ticket_validator_signature(mk_tdx_validator_get(b));
    mk_tdx_validator_free(b);
    return s;
}

static void signature_formula(void **state) {
    (void)state;
    /* the criteria signature with fillers 9, 1, 2, 3, 4 for "any" */
    mk_tdx_criteria_t any = MK_TDX_CRITERIA_ANY;
    mk_id_t cs = mk_id_from_str("mosaik.tee.tdx.measurements-criteria.v1");
    static const uint8_t fill[5] = {9, 1, 2, 3, 4};
    for (int r = 0; r < 5; r++) {
        uint8_t f[48];
        memset(f, fill[r], 48);
        cs = mk_id_derive(&cs, f, 48);
    }
    mk_id_t got = mk_tdx_criteria_signature(&any);
    assert_memory_equal(got.b, cs.b, 32);

    /* §7: baseline, variants, max_age, not_before, max_lifetime; no trust line for the default trust */
    mk_tdx_criteria_t base = crit(1, MK_TDX_MRTD), var = crit(1, MK_TDX_RTMR1);
    mk_tdx_validator_t *b = mk_tdx_validator_baseline(&base);
    mk_tdx_validator_allow_variant(b, &var);
    mk_tdx_validator_max_age(b, 300);
    mk_tdx_validator_not_before(b, -2);
    mk_tdx_validator_max_lifetime(b, 7200);
    mk_id_t t = mk_tdx_class(), bs = mk_tdx_criteria_signature(&base), vs = mk_tdx_criteria_signature(&var);
    t = mk_id_derive(&t, bs.b, 32);
    t = mk_id_derive(&t, vs.b, 32);
    t = d_u64(t, 300);
    t = d_u64(t, (uint64_t)-2);
    t = d_u64(t, 7200);
    got = sig_of(b);
    assert_memory_equal(got.b, t.b, 32);

    /* with the mock trust: the trust line */
    b = mk_tdx_validator_baseline(&base);
    mk_tdx_validator_allow_variant(b, &var);
    mk_tdx_validator_max_age(b, 300);
    mk_tdx_validator_not_before(b, -2);
    mk_tdx_validator_max_lifetime(b, 7200);
    mk_tdx_validator_trust(b, TRUST);
    uint8_t line[22 + 32 + 4 + 2];
    memcpy(line, "libmosaik.tdx.trust.v1", 22);
    mk_tdx_trust_root_fingerprint(TRUST, line + 22);
    line[54] = 0x0F, line[55] = 0, line[56] = 0, line[57] = 0, line[58] = 0, line[59] = 0;
    mk_id_t tt = mk_id_derive(&t, line, sizeof line);
    got = sig_of(b);
    assert_memory_equal(got.b, tt.b, 32);
}

static void signature_settings(void **state) {
    (void)state;
    mk_tdx_criteria_t base = crit(1, MK_TDX_MRTD), var = crit(1, MK_TDX_RTMR1), var2 = crit(2, MK_TDX_RTMR3);
    enum { N = 13 };
    mk_id_t s[N];
    for (int i = 0; i < N; i++) {
        mk_tdx_validator_t *b = mk_tdx_validator_baseline(i == 1 ? &var : &base);
        if (i != 2) mk_tdx_validator_allow_variant(b, &var);
        if (i == 3) mk_tdx_validator_allow_variant(b, &var2);
        mk_tdx_validator_max_age(b, i == 4 ? 301 : 300);
        mk_tdx_validator_not_before(b, i == 5 ? 1 : 0);
        mk_tdx_validator_max_lifetime(b, i == 6 ? 1 : 0);
        mk_tdx_trust_config_t tc = {0};
        if (i == 7) tc.root_pem = mk_tdx_mock_root_pem(M);
        if (i == 8) tc.accept_tcb = MK_TCB_ACCEPT_DEFAULT | MK_TCB_ACCEPT(MK_TCB_OUT_OF_DATE);
        if (i == 9) tc.require_collateral = true;
        if (i == 10) tc.allow_debug = true;
        if (i == 11) tc.root_pem = mk_tdx_intel_root_pem(); /* explicit default: no change */
        if (i >= 7 && i <= 11) {
            mk_tdx_trust_t *tr = mk_tdx_trust_new(&tc, NULL);
            assert_non_null(tr);
            mk_tdx_validator_trust(b, tr);
            mk_tdx_trust_free(tr); /* the builder holds its own reference */
        }
        if (i == 12) { /* variants in another order */
            mk_tdx_validator_free(b);
            b = mk_tdx_validator_baseline(&base);
            mk_tdx_validator_allow_variant(b, &var2);
            mk_tdx_validator_allow_variant(b, &var);
            mk_tdx_validator_max_age(b, 300);
        }
        s[i] = sig_of(b);
    }
    /* 0 and 11 are equal (identical settings; explicit default trust); everything else differs */
    assert_memory_equal(s[0].b, s[11].b, 32);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (!(i == 0 && j == 11)) assert_memory_not_equal(s[i].b, s[j].b, 32);

    /* identical criteria → identical signatures → identical group keys */
    mk_tdx_validator_t *a = mk_tdx_validator_baseline(&base), *c = mk_tdx_validator_new();
    mk_tdx_validator_require(c, MK_TDX_MRTD, &base.value[MK_TDX_MRTD]);
    mk_tdx_validator_trust(a, TRUST);
    mk_tdx_validator_trust(c, TRUST);
    mk_group_key_t ka = mk_group_key_from_validator(mk_tdx_validator_get(a));
    mk_group_key_t kc = mk_group_key_from_validator(mk_tdx_validator_get(c));
    assert_memory_equal(&ka, &kc, sizeof ka);
    mk_id_t sa = mk_ticket_validator_signature(mk_tdx_validator_get(a));
    mk_id_t sc = mk_ticket_validator_signature(mk_tdx_validator_get(c));
    assert_memory_equal(sa.b, sc.b, 32);
    mk_tdx_validator_free(a);
    mk_tdx_validator_free(c);
}

static void require_own_and_def(void **state) {
    (void)state;
    mk_tdx_provider_t *p = mk_tdx_mock_provider(M);
    mk_error_t e = {0};
    /* require_own(all) = from_local = the explicit measurements */
    mk_tdx_validator_t *own = mk_tdx_validator_new();
    assert_int_equal(mk_tdx_validator_require_own(own, MK_TDX_REG_ALL, p, 10000, &e), MK_OK);
    mk_tdx_validator_t *loc = mk_tdx_validator_from_local(p, 10000, &e);
    assert_non_null(loc);
    mk_tdx_criteria_t all = MK_TDX_CRITERIA_ANY;
    mk_measurements_t m;
    memset(m.mrtd.b, 0x11, 48);
    for (int r = 0; r < 4; r++) memset(m.rtmr[r].b, 0x20 + r, 48);
    mk_tdx_criteria_from_measurements(&all, &m);
    mk_tdx_validator_t *exp = mk_tdx_validator_baseline(&all);
    mk_id_t s1 = sig_of(own), s2 = sig_of(loc), s3 = sig_of(exp);
    assert_memory_equal(s1.b, s3.b, 32);
    assert_memory_equal(s2.b, s3.b, 32);
    /* the mrtd macro alone */
    mk_tdx_validator_t *om = mk_tdx_validator_new();
    assert_int_equal(mk_tdx_validator_require_own_mrtd(om, p, 10000, &e), MK_OK);
    mk_tdx_validator_t *em = mk_tdx_validator_new();
    assert_int_equal(mk_tdx_validator_require_mrtd(em, &m.mrtd), MK_OK);
    s1 = sig_of(om), s2 = sig_of(em);
    assert_memory_equal(s1.b, s2.b, 32);
    mk_tdx_validator_t *bad = mk_tdx_validator_new();
    assert_int_equal(mk_tdx_validator_require_own(bad, 0, p, 10000, &e), MK_EINVAL);
    assert_int_equal(mk_tdx_validator_require_own(bad, 0x20, p, 10000, &e), MK_EINVAL);
    mk_tdx_validator_free(bad);

    /* static def = builder with the same settings */
    char mrtd[97], r1[97], r3[97];
    mk_measurement_to_hex(&m.mrtd, mrtd);
    mk_measurement_to_hex(&m.rtmr[1], r1);
    mk_measurement_to_hex(&m.rtmr[3], r3);
    mk_tdx_def_criteria_t vars[2] = {{.rtmr1 = r1}, {.rtmr3 = r3, .mrtd = mrtd}};
    mk_tdx_trust_config_t tc = {.root_pem = mk_tdx_mock_root_pem(M)};
    mk_tdx_def_t def = {.baseline = {.mrtd = mrtd}, .variants = vars, .n_variants = 2, .max_age_s = 600,
                        .max_lifetime_s = 86400, .not_before_s = 1700000000, .trust = &tc};
    mk_ticket_validator_t sv = MK_TDX_VALIDATOR(&def);
    mk_tdx_validator_t *b = mk_tdx_validator_new();
    assert_int_equal(mk_tdx_validator_require_hex(b, MK_TDX_MRTD, mrtd, &e), MK_OK);
    mk_tdx_criteria_t v1 = MK_TDX_CRITERIA_ANY, v2 = MK_TDX_CRITERIA_ANY;
    mk_tdx_criteria_require(&v1, MK_TDX_RTMR1, &m.rtmr[1]);
    mk_tdx_criteria_require(&v2, MK_TDX_MRTD, &m.mrtd);
    mk_tdx_criteria_require(&v2, MK_TDX_RTMR3, &m.rtmr[3]);
    mk_tdx_validator_allow_variant(b, &v1);
    mk_tdx_validator_allow_variant(b, &v2);
    mk_tdx_validator_max_age(b, 600);
    mk_tdx_validator_max_lifetime(b, 86400);
    mk_tdx_validator_not_before(b, 1700000000);
    mk_tdx_validator_trust(b, TRUST);
    mk_id_t ds = mk_ticket_validator_signature(&sv), bsig = mk_ticket_validator_signature(mk_tdx_validator_get(b));
    assert_memory_equal(ds.b, bsig.b, 32);
    /* and the static form validates through mk_ticket_validate like the builder's */
    mk_tdx_extra_t x = t_extra();
    mk_ticket_t *t = t_ticket(M, &x);
    assert_int_equal(mk_ticket_validator_check(&sv, &e), MK_OK);
    mk_ticket_verdict_t vd = run(&sv, t, &x, NOW_MS), vb = run(mk_tdx_validator_get(b), t, &x, NOW_MS);
    assert_valid(vd);
    assert_valid(vb);
    assert_int_equal(vd.expires, vb.expires);
    assert_int_equal(vd.expires, (x.quoted_at_s + 600) * 1000);
    /* upper-case hex is the same setting */
    char up[97];
    for (int i = 0; i < 97; i++) up[i] = (char)(mrtd[i] >= 'a' && mrtd[i] <= 'f' ? mrtd[i] - 32 : mrtd[i]);
    mk_tdx_def_t def_up = def;
    def_up.baseline.mrtd = up;
    mk_ticket_validator_t svu = MK_TDX_VALIDATOR(&def_up);
    mk_id_t dsu = mk_ticket_validator_signature(&svu);
    assert_memory_equal(dsu.b, ds.b, 32);
    /* prepare errors name the field */
    mk_tdx_def_criteria_t badv[1] = {{.rtmr2 = "abc"}};
    mk_tdx_def_t d2 = {.variants = badv, .n_variants = 1};
    mk_ticket_validator_t s2v = MK_TDX_VALIDATOR(&d2);
    assert_int_equal(mk_ticket_validator_check(&s2v, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "tdx.variants[0].rtmr2"));
    mk_ticket_validate(&s2v, t->data, t->len, NULL, NOW_MS, &vd);
    assert_false(vd.valid);
    assert_int_equal(vd.reason, MK_TICKET_INTERNAL);
    mk_tdx_def_t d3 = {.baseline = {.rtmr0 = "zz"}};
    mk_ticket_validator_t s3v = MK_TDX_VALIDATOR(&d3);
    assert_int_equal(mk_ticket_validator_check(&s3v, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "tdx.baseline.rtmr0"));
    mk_tdx_trust_config_t badt = {.root_pem = "not a pem"};
    mk_tdx_def_t d4 = {.trust = &badt};
    mk_ticket_validator_t s4v = MK_TDX_VALIDATOR(&d4);
    assert_int_equal(mk_ticket_validator_check(&s4v, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "tdx.trust"));
    mk_tdx_def_t d5 = {.n_variants = 1};
    mk_ticket_validator_t s5v = MK_TDX_VALIDATOR(&d5);
    assert_int_equal(mk_ticket_validator_check(&s5v, &e), MK_EINVAL);
    /* a default def: any genuine quote under the Intel root, so the mock ticket is untrusted */
    mk_tdx_def_t d6 = {0};
    mk_ticket_validator_t s6v = MK_TDX_VALIDATOR(&d6);
    vd = run(&s6v, t, &x, NOW_MS);
    assert_verdict(vd, MK_TDX_CHK_PCK_CHAIN, MK_TICKET_UNTRUSTED);
    mk_ticket_free(t);
    mk_tdx_validator_free(b);
    mk_tdx_provider_free(p);
}

static void frozen_builder(void **state) {
    (void)state;
    mk_tdx_provider_t *p = mk_tdx_mock_provider(M);
    mk_tdx_validator_t *b = builder();
    const mk_ticket_validator_t *v = mk_tdx_validator_get(b);
    assert_ptr_equal(mk_tdx_validator_get(b), v); /* the same validator again */
    mk_measurement_t m = {{0}};
    mk_tdx_criteria_t c = MK_TDX_CRITERIA_ANY;
    mk_error_t e = {0};
    assert_int_equal(mk_tdx_validator_require(b, MK_TDX_MRTD, &m), MK_EBUSY);
    assert_int_equal(mk_tdx_validator_require_hex(b, MK_TDX_MRTD, "00", &e), MK_EBUSY);
    assert_int_equal(mk_tdx_validator_require_own(b, MK_TDX_REG_ALL, p, 1000, &e), MK_EBUSY);
    assert_int_equal(mk_tdx_validator_allow_variant(b, &c), MK_EBUSY);
    assert_int_equal(mk_tdx_validator_max_age(b, 1), MK_EBUSY);
    assert_int_equal(mk_tdx_validator_max_lifetime(b, 1), MK_EBUSY);
    assert_int_equal(mk_tdx_validator_not_before(b, 1), MK_EBUSY);
    assert_int_equal(mk_tdx_validator_trust(b, TRUST), MK_EBUSY);
    /* a reference outlives the builder */
    mk_ticket_validator_ref(v);
    mk_tdx_validator_free(b);
    mk_tdx_extra_t x = t_extra();
    mk_ticket_t *t = t_ticket(M, &x);
    mk_ticket_verdict_t vd = run(v, t, &x, NOW_MS);
    assert_valid(vd);
    mk_ticket_validator_unref(v);
    mk_ticket_free(t);
    /* unfrozen: bad arguments */
    b = mk_tdx_validator_new();
    assert_int_equal(mk_tdx_validator_require_hex(b, MK_TDX_MRTD, "00", &e), MK_EINVAL);
    assert_int_equal(mk_tdx_validator_require_hex(b, (mk_tdx_reg_t)7, "00", &e), MK_EINVAL);
    assert_int_equal(mk_tdx_validator_require(b, (mk_tdx_reg_t)5, &m), MK_EINVAL);
    mk_tdx_validator_free(b);
    mk_tdx_provider_free(p);
}

static void debug_td(void **state) {
    (void)state;
    mk_tdx_mock_t *dm = t_mock(3, 0x11, true);
    mk_tdx_extra_t x = t_extra();
    mk_ticket_t *t = t_ticket(dm, &x);
    mk_tdx_validator_t *b = builder(); /* TRUST: the same seed, so the same root; no debug */
    mk_ticket_verdict_t vd = run(mk_tdx_validator_get(b), t, &x, NOW_MS);
    assert_verdict(vd, MK_TDX_CHK_TD_ATTRIBUTES, MK_TICKET_POLICY);
    mk_tdx_validator_free(b);
    mk_tdx_trust_t *dbg = t_trust(dm, true);
    b = mk_tdx_validator_new();
    mk_tdx_validator_trust(b, dbg);
    vd = run(mk_tdx_validator_get(b), t, &x, NOW_MS);
    assert_valid(vd);
    mk_tdx_validator_free(b);
    mk_tdx_trust_free(dbg);
    mk_ticket_free(t);
    mk_tdx_mock_free(dm);
}

static void real_and_default_trust(void **state) {
    (void)state;
    mk_tdx_validator_t *b = mk_tdx_validator_new(); /* the default trust */
    const mk_ticket_validator_t *v = mk_tdx_validator_get(b);
    static const char *const files[] = {"tdx_quote_v4_a.bin", "quote_pck_1.bin", "quote_v4_b.bin"};
    mk_tdx_extra_t x = t_extra();
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        char *q = tdx_read(files[i], &n);
        mk_buf_t qb = {.ptr = q, .len = n, .cap = n + 1}, z = MK_BUF_INIT;
        encode(&qb, &x, 1, x.expires, 0, &z);
        mk_ticket_peer_t p = peer_of(&x);
        mk_ticket_verdict_t vd;
        mk_ticket_validate(v, z.ptr, z.len, &p, 1751328000000LL, &vd);
        assert_verdict(vd, MK_TDX_CHK_REPORT_DATA, MK_TICKET_BINDING);
        mk_buf_free(&z);
        free(q);
    }
    /* a mock ticket under the default trust */
    mk_ticket_t *t = t_ticket(M, &x);
    mk_ticket_verdict_t vd = run(v, t, &x, NOW_MS);
    assert_verdict(vd, MK_TDX_CHK_PCK_CHAIN, MK_TICKET_UNTRUSTED);
    mk_ticket_free(t);
    mk_tdx_validator_free(b);
}

static void cache_behaviour(void **state) {
    (void)state;
    mk_tdx_trust_t *tr = t_trust(M, false);
    mk_tdx_validator_t *b = mk_tdx_validator_new();
    mk_tdx_validator_trust(b, tr);
    const mk_ticket_validator_t *v = mk_tdx_validator_get(b);
    tdx_state_t *st = mk_validator_heap(v)->state;
    mk_tdx_extra_t x = t_extra();
    x.expires = MK_EXPIRES_NEVER;
    mk_ticket_t *t = t_ticket(M, &x);
    assert_int_equal(tdx_cache_count(st), 0);
    mk_ticket_verdict_t vd = run(v, t, &x, NOW_MS);
    assert_valid(vd);
    assert_int_equal(tdx_cache_count(st), 1);
    vd = run(v, t, &x, NOW_MS + 5000); /* a hit: still valid */
    assert_valid(vd);
    assert_int_equal(tdx_cache_count(st), 1);
    /* failures are not cached; a wrong peer is judged after the cached steps */
    mk_ticket_peer_t p = peer_of(&x);
    p.peer_id.b[0] ^= 1;
    mk_ticket_validate(v, t->data, t->len, &p, NOW_MS, &vd);
    assert_verdict(vd, MK_TDX_CHK_PEER, MK_TICKET_BINDING);
    /* past the chain's end the cached outcome is not used */
    vd = run(v, t, &x, 4102444800000LL + 86400000LL); /* 2100-01-02 */
    assert_verdict(vd, MK_TDX_CHK_PCK_CHAIN, MK_TICKET_EXPIRED);
    /* earlier than the cached verification: verified again (and valid) */
    vd = run(v, t, &x, NOW_MS - 1000);
    assert_valid(vd);
    /* a collateral swap: stale collateral fails although the quote was verified before */
    mk_buf_t j = MK_BUF_INIT;
    assert_int_equal(mk_tdx_mock_collateral(M, MK_TCB_UP_TO_DATE, T_NOW - 60 * DAY, T_NOW - 30 * DAY, false, &j, NULL),
                     MK_OK);
    assert_int_equal(mk_tdx_trust_set_collateral(tr, j.ptr, NULL), MK_OK);
    vd = run(v, t, &x, NOW_MS);
    assert_verdict(vd, MK_TDX_CHK_COLLATERAL, MK_TICKET_EXPIRED);
    mk_buf_free(&j);
    assert_int_equal(mk_tdx_mock_collateral(M, MK_TCB_UP_TO_DATE, T_NOW - DAY, T_NOW + DAY, true, &j, NULL), MK_OK);
    assert_int_equal(mk_tdx_trust_set_collateral(tr, j.ptr, NULL), MK_OK);
    vd = run(v, t, &x, NOW_MS);
    assert_verdict(vd, MK_TDX_CHK_PCK_CHAIN, MK_TICKET_REVOKED);
    assert_int_equal(mk_tdx_trust_set_collateral(tr, NULL, NULL), MK_OK);
    vd = run(v, t, &x, NOW_MS);
    assert_valid(vd);
    /* more tickets than the cache holds */
    for (int i = 0; i < 70; i++) {
        mk_tdx_extra_t y = x;
        y.started_at_s = i;
        mk_ticket_t *ty = t_ticket(M, &y);
        vd = run(v, ty, &y, NOW_MS);
        assert_valid(vd);
        mk_ticket_free(ty);
    }
    assert_int_equal(tdx_cache_count(st), TDX_CACHE_SIZE);
    mk_buf_free(&j);
    mk_ticket_free(t);
    mk_tdx_validator_free(b);
    mk_tdx_trust_free(tr);
}

typedef struct worker { const mk_ticket_validator_t *v; mk_ticket_t *t[4]; mk_tdx_extra_t x[4]; int bad; } worker_t;

static void *work(void *arg) {
    worker_t *w = arg;
    for (int i = 0; i < 40; i++) {
        int k = i % 4;
        mk_ticket_peer_t p = peer_of(&w->x[k]);
        mk_ticket_verdict_t vd;
        mk_ticket_validate(w->v, w->t[k]->data, w->t[k]->len, &p, NOW_MS + i, &vd);
        if (!vd.valid) w->bad++;
    }
    return NULL;
}

static void concurrent(void **state) {
    (void)state;
    mk_tdx_validator_t *b = builder();
    worker_t w[3];
    memset(w, 0, sizeof w);
    mk_ticket_t *t[4];
    mk_tdx_extra_t x[4];
    for (int k = 0; k < 4; k++) {
        x[k] = t_extra();
        x[k].started_at_s += k;
        t[k] = t_ticket(M, &x[k]);
    }
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        w[i].v = mk_tdx_validator_get(b);
        memcpy(w[i].t, t, sizeof t);
        memcpy(w[i].x, x, sizeof x);
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    for (int k = 0; k < 4; k++) mk_ticket_free(t[k]);
    mk_tdx_validator_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_and_expiry),     cmocka_unit_test(report_data_binding),
        cmocka_unit_test(peer_and_network),     cmocka_unit_test(time_boundaries),
        cmocka_unit_test(decode_failures),      cmocka_unit_test(criteria_truth_table),
        cmocka_unit_test(signature_formula),    cmocka_unit_test(signature_settings),
        cmocka_unit_test(require_own_and_def),  cmocka_unit_test(frozen_builder),
        cmocka_unit_test(debug_td),             cmocka_unit_test(real_and_default_trust),
        cmocka_unit_test(cache_behaviour),      cmocka_unit_test(concurrent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
