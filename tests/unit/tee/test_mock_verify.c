/* unit/tee/test_mock_verify.c — mock quotes and mock collateral through the library's DCAP verifier
 * (spec 60 §6, §12 TDX item 3): with the default trust mock quotes fail at PCK_CHAIN, with the mock root
 * they pass (v4, v5/2, v5/3; status UNKNOWN without collateral); mock collateral yields every TCB status,
 * accepted or rejected per the accept mask (Revoked → REVOKED, always); revoke_leaf → REVOKED; stale or
 * not yet issued collateral → EXPIRED; another seed's collateral does not fit; tampering is caught;
 * the DEBUG bit is reported by mk_tdx_quote_is_debug (step 9 itself is the validator's). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/tdx.h"

#include <stdio.h>
#include <string.h>

#define NOW 1751328000LL /* 2025-07-01 */
#define DAY 86400LL

static mk_tdx_mock_t *mock_of(uint8_t seed, uint16_t version, uint16_t body) {
    mk_tdx_mock_config_t c = {.quote_version = version, .body_type = body};
    memset(c.seed, seed, sizeof c.seed);
    memset(c.measurements.mrtd.b, 0x11, 48);
    mk_error_t e = {0};
    mk_tdx_mock_t *m = mk_tdx_mock_new(&c, &e);
    if (!m) fprintf(stderr, "%s\n", e.msg);
    assert_non_null(m);
    return m;
}

static void quote_of(mk_tdx_mock_t *m, mk_buf_t *q) {
    uint8_t rd[64];
    for (int i = 0; i < 64; i++) rd[i] = (uint8_t)(i * 7);
    assert_int_equal(mk_tdx_mock_quote(m, rd, q, NULL), MK_OK);
}

static mk_tdx_trust_t *trust_of(const char *root, const char *coll, uint32_t accept) {
    mk_tdx_trust_config_t c = {.root_pem = root, .collateral_json = coll, .accept_tcb = accept};
    mk_error_t e = {0};
    mk_tdx_trust_t *t = mk_tdx_trust_new(&c, &e);
    if (!t) fprintf(stderr, "%s\n", e.msg);
    assert_non_null(t);
    return t;
}

/* Verifies and returns the failed step (OK on success); *reason and *tcb filled. */
static mk_tdx_check_t verify(const mk_buf_t *q, const mk_tdx_trust_t *t, int64_t now, mk_ticket_reason_t *reason,
                             mk_tcb_status_t *tcb) {
    mk_tdx_report_t rep;
    memset(&rep, 0, sizeof rep);
    mk_tdx_check_t failed = MK_TDX_CHK_OK;
    mk_ticket_reason_t rsn = MK_TICKET_OK;
    mk_error_t e = {0};
    int rc = mk_tdx_quote_verify_ex(q->ptr, q->len, t, now, &rep, &failed, &rsn, &e);
    if (rc != MK_OK) print_message("verify: %s (step %s)\n", e.msg, mk_tdx_check_str(failed));
    assert_true((rc == MK_OK) == (failed == MK_TDX_CHK_OK));
    if (reason) *reason = rsn;
    if (tcb) *tcb = rep.tcb;
    return failed;
}

static void check_layout(uint16_t version, uint16_t body) {
    mk_tdx_mock_t *m = mock_of(1, version, body);
    mk_buf_t q = MK_BUF_INIT;
    quote_of(m, &q);
    mk_tdx_quote_t pq;
    assert_int_equal(mk_tdx_quote_parse(q.ptr, q.len, &pq, NULL), MK_OK);
    assert_int_equal(pq.version, version ? version : 4);
    assert_int_equal(pq.body_type, body ? body : 2);
    assert_int_equal(pq.signed_len, (version == 5 ? 54u : 48u) + (body == 3 ? 648u : 584u));
    assert_int_equal(pq.qe_auth_len, 32);
    assert_false(mk_tdx_quote_is_debug(&pq));
    uint8_t mrtd[48];
    memset(mrtd, 0x11, 48);
    assert_memory_equal(pq.m.mrtd.b, mrtd, 48);
    /* default trust: the Intel root does not know the mock root */
    mk_ticket_reason_t r;
    mk_tcb_status_t tcb;
    assert_int_equal(verify(&q, NULL, NOW, &r, NULL), MK_TDX_CHK_PCK_CHAIN);
    assert_int_equal(r, MK_TICKET_UNTRUSTED);
    /* the mock root: genuine, status unknown without collateral */
    mk_tdx_trust_t *t = trust_of(mk_tdx_mock_root_pem(m), NULL, 0);
    assert_int_equal(verify(&q, t, NOW, &r, &tcb), MK_TDX_CHK_OK);
    assert_int_equal(tcb, MK_TCB_UNKNOWN);
    /* and with collateral: UpToDate */
    mk_buf_t j = MK_BUF_INIT;
    assert_int_equal(mk_tdx_mock_collateral(m, MK_TCB_UP_TO_DATE, NOW - DAY, NOW + 30 * DAY, false, &j, NULL), MK_OK);
    assert_int_equal(mk_tdx_trust_set_collateral(t, j.ptr, NULL), MK_OK);
    assert_int_equal(verify(&q, t, NOW, &r, &tcb), MK_TDX_CHK_OK);
    assert_int_equal(tcb, MK_TCB_UP_TO_DATE);
    /* tampering */
    uint8_t *w = q.ptr;
    w[pq.body_off + 136] ^= 1;
    assert_int_equal(verify(&q, t, NOW, NULL, NULL), MK_TDX_CHK_QUOTE_SIG);
    w[pq.body_off + 136] ^= 1;
    mk_buf_free(&j);
    mk_tdx_trust_free(t);
    mk_buf_free(&q);
    mk_tdx_mock_free(m);
}

static void test_v4(void **state) { (void)state; check_layout(0, 0); }
static void test_v5_body2(void **state) { (void)state; check_layout(5, 2); }
static void test_v5_body3(void **state) { (void)state; check_layout(5, 3); }

static void test_every_status(void **state) {
    (void)state;
    mk_tdx_mock_t *m = mock_of(2, 5, 3);
    mk_buf_t q = MK_BUF_INIT;
    quote_of(m, &q);
    for (int s = MK_TCB_UP_TO_DATE; s <= MK_TCB_REVOKED; s++) {
        mk_buf_t j = MK_BUF_INIT;
        assert_int_equal(mk_tdx_mock_collateral(m, (mk_tcb_status_t)s, NOW - DAY, NOW + 30 * DAY, false, &j, NULL),
                         MK_OK);
        mk_tdx_trust_t *dflt = trust_of(mk_tdx_mock_root_pem(m), j.ptr, 0);
        mk_tdx_trust_t *all = trust_of(mk_tdx_mock_root_pem(m), j.ptr, 0x7Fu);
        mk_tdx_trust_t *only = trust_of(mk_tdx_mock_root_pem(m), j.ptr, MK_TCB_ACCEPT(s));
        mk_ticket_reason_t r;
        mk_tcb_status_t tcb = MK_TCB_UNKNOWN;
        mk_tdx_check_t got = verify(&q, dflt, NOW, &r, &tcb);
        if (s == MK_TCB_REVOKED) {
            assert_int_equal(got, MK_TDX_CHK_COLLATERAL);
            assert_int_equal(r, MK_TICKET_REVOKED);
            assert_int_equal(verify(&q, all, NOW, &r, NULL), MK_TDX_CHK_COLLATERAL); /* never accepted */
            assert_int_equal(r, MK_TICKET_REVOKED);
        } else if (MK_TCB_ACCEPT_DEFAULT & MK_TCB_ACCEPT(s)) {
            assert_int_equal(got, MK_TDX_CHK_OK);
            assert_int_equal(tcb, s);
        } else { /* OutOfDate, OutOfDateConfigurationNeeded: opt-in only */
            assert_int_equal(got, MK_TDX_CHK_COLLATERAL);
            assert_int_equal(r, MK_TICKET_POLICY);
            assert_int_equal(verify(&q, all, NOW, &r, &tcb), MK_TDX_CHK_OK);
            assert_int_equal(tcb, s);
            assert_int_equal(verify(&q, only, NOW, &r, &tcb), MK_TDX_CHK_OK);
        }
        if (s != MK_TCB_UP_TO_DATE && s != MK_TCB_REVOKED) { /* a mask without s rejects it */
            mk_tdx_trust_t *up = trust_of(mk_tdx_mock_root_pem(m), j.ptr, MK_TCB_ACCEPT(MK_TCB_UP_TO_DATE));
            assert_int_equal(verify(&q, up, NOW, &r, NULL), MK_TDX_CHK_COLLATERAL);
            assert_int_equal(r, MK_TICKET_POLICY);
            mk_tdx_trust_free(up);
        }
        mk_tdx_trust_free(dflt);
        mk_tdx_trust_free(all);
        mk_tdx_trust_free(only);
        mk_buf_free(&j);
    }
    mk_buf_free(&q);
    mk_tdx_mock_free(m);
}

static void test_revoked_leaf(void **state) {
    (void)state;
    mk_tdx_mock_t *m = mock_of(3, 0, 0);
    mk_buf_t q = MK_BUF_INIT, j = MK_BUF_INIT;
    quote_of(m, &q);
    assert_int_equal(mk_tdx_mock_collateral(m, MK_TCB_UP_TO_DATE, NOW - DAY, NOW + 30 * DAY, true, &j, NULL), MK_OK);
    mk_tdx_trust_t *t = trust_of(mk_tdx_mock_root_pem(m), j.ptr, 0);
    mk_ticket_reason_t r;
    mk_tdx_check_t got = verify(&q, t, NOW, &r, NULL);
    assert_true(got == MK_TDX_CHK_PCK_CHAIN || got == MK_TDX_CHK_COLLATERAL);
    assert_int_equal(r, MK_TICKET_REVOKED);
    mk_tdx_trust_free(t);
    mk_buf_free(&j);
    mk_buf_free(&q);
    mk_tdx_mock_free(m);
}

static void test_stale_collateral(void **state) {
    (void)state;
    mk_tdx_mock_t *m = mock_of(4, 0, 0);
    mk_buf_t q = MK_BUF_INIT, j = MK_BUF_INIT;
    quote_of(m, &q);
    assert_int_equal(mk_tdx_mock_collateral(m, MK_TCB_UP_TO_DATE, NOW - 40 * DAY, NOW - 10 * DAY, false, &j, NULL),
                     MK_OK);
    mk_tdx_trust_t *t = trust_of(mk_tdx_mock_root_pem(m), j.ptr, 0);
    mk_ticket_reason_t r;
    assert_int_equal(verify(&q, t, NOW, &r, NULL) != MK_TDX_CHK_OK, true);
    assert_int_equal(r, MK_TICKET_EXPIRED);
    assert_int_equal(verify(&q, t, NOW - 20 * DAY, &r, NULL), MK_TDX_CHK_OK); /* inside its window */
    assert_int_equal(verify(&q, t, NOW - 50 * DAY, &r, NULL) != MK_TDX_CHK_OK, true); /* before issue */
    assert_int_equal(r, MK_TICKET_EXPIRED);
    mk_tdx_trust_free(t);
    mk_buf_free(&j);
    mk_buf_free(&q);
    mk_tdx_mock_free(m);
}

static void test_other_seed(void **state) {
    (void)state;
    mk_tdx_mock_t *a = mock_of(5, 0, 0), *b = mock_of(6, 0, 0);
    mk_buf_t q = MK_BUF_INIT, j = MK_BUF_INIT;
    quote_of(a, &q);
    mk_tdx_trust_t *t = trust_of(mk_tdx_mock_root_pem(b), NULL, 0);
    mk_ticket_reason_t r;
    assert_int_equal(verify(&q, t, NOW, &r, NULL), MK_TDX_CHK_PCK_CHAIN);
    assert_int_equal(r, MK_TICKET_UNTRUSTED);
    mk_tdx_trust_free(t);
    /* a's root with b's collateral: b's signers are not under a's root */
    assert_int_equal(mk_tdx_mock_collateral(b, MK_TCB_UP_TO_DATE, NOW - DAY, NOW + DAY, false, &j, NULL), MK_OK);
    t = trust_of(mk_tdx_mock_root_pem(a), j.ptr, 0);
    assert_int_not_equal(verify(&q, t, NOW, &r, NULL), MK_TDX_CHK_OK);
    mk_tdx_trust_free(t);
    mk_buf_free(&j);
    mk_buf_free(&q);
    mk_tdx_mock_free(a);
    mk_tdx_mock_free(b);
}

static void test_debug_td(void **state) {
    (void)state;
    mk_tdx_mock_config_t c = {.td_attributes = {0x01, 0, 0, 0x10}};
    memset(c.seed, 7, sizeof c.seed);
    mk_tdx_mock_t *m = mk_tdx_mock_new(&c, NULL);
    mk_buf_t q = MK_BUF_INIT;
    quote_of(m, &q);
    mk_tdx_quote_t pq;
    assert_int_equal(mk_tdx_quote_parse(q.ptr, q.len, &pq, NULL), MK_OK);
    assert_true(mk_tdx_quote_is_debug(&pq));
    /* steps 2–8 do not look at it: still genuine */
    mk_tdx_trust_t *t = trust_of(mk_tdx_mock_root_pem(m), NULL, 0);
    assert_int_equal(verify(&q, t, NOW, NULL, NULL), MK_TDX_CHK_OK);
    mk_tdx_trust_free(t);
    mk_buf_free(&q);
    mk_tdx_mock_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4),           cmocka_unit_test(test_v5_body2),     cmocka_unit_test(test_v5_body3),
        cmocka_unit_test(test_every_status), cmocka_unit_test(test_revoked_leaf), cmocka_unit_test(test_stale_collateral),
        cmocka_unit_test(test_other_seed),   cmocka_unit_test(test_debug_td),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

