/* unit/tickets/test_tickets.c — tickets and the ticket rule (spec 60 §1, §2): ticket ids and copies,
 * reason names, the peer-entry queries over mixed classes, one validator's verdict (latest accepted
 * expiry, MISSING, last rejection), the rule over several validators (earliest expiry, first failure),
 * validator references, and admission gates whose expiry timers re-arm on a refreshed ticket and
 * revoke on failure (a real event loop driven by a fake wall clock). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "discovery/entry.h"
#include "discovery/ticket_gate.h"
#include "tickets/validator.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a fake validator: data "ok:<expires ms>" is valid until then, anything else is refused ---- */

typedef struct fake_cfg {
    const char *cls;
    int validated;  /* calls */
} fake_cfg_t;

static mk_id_t fake_class(const void *cfg) { return mk_id_from_str(((const fake_cfg_t *)cfg)->cls); }
static mk_id_t fake_sig(const void *cfg) {
    mk_id_t c = fake_class(cfg);
    return mk_id_derive(&c, "v1", 2);
}
static void fake_validate(const void *cfg, void *state, const uint8_t *data, size_t len, const mk_ticket_peer_t *peer,
                          int64_t now_ms, mk_ticket_verdict_t *out) {
    (void)state;
    (void)peer;
    ((fake_cfg_t *)(uintptr_t)cfg)->validated++;
    char buf[64] = {0};
    memcpy(buf, data, len < 63 ? len : 63);
    long long exp;
    if (sscanf(buf, "ok:%lld", &exp) == 1) {
        if (exp <= now_ms) mk_verdict_invalid(out, MK_TICKET_EXPIRED, 0, "expired");
        else mk_verdict_valid(out, exp);
    } else {
        mk_verdict_invalid(out, MK_TICKET_POLICY, 7, "refused %s", buf);
    }
}
static const mk_ticket_validator_vt_t fake_vt = {
    .kind = "fake", .class_id = fake_class, .signature = fake_sig, .validate = fake_validate};

static mk_network_id_t NET;

/* An entry of peer `who` carrying tickets "cls=data" (NULL-terminated list). */
static const mk_peer_entry_t *entry_with(const char *who, const char *const *tickets) {
    mk_secret_key_t sk;
    mk_secret_key_from_str(who, &sk);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    mk_entry_draft_init(d, &NET, &pub);
    d->version = (mk_entry_version_t){1000, 2000};
    for (size_t i = 0; tickets && tickets[i]; i++) {
        const char *eq = strchr(tickets[i], '=');
        mk_ticket_t t = {mk_id_from_strn(tickets[i], (size_t)(eq - tickets[i])), (const uint8_t *)eq + 1, strlen(eq + 1)};
        assert_int_equal(mk_entry_draft_add_ticket(d, &t), MK_OK);
    }
    const mk_peer_entry_t *e = NULL;
    assert_int_equal(mk_entry_draft_seal(d, &sk, &e, NULL), MK_OK);
    mk_entry_draft_free(d);
    free(d);
    return e;
}

static int setup(void **state) {
    (void)state;
    NET = mk_id_from_str("tickets-unit");
    return 0;
}

static void ticket_ids_copies_and_reason_names(void **state) {
    (void)state;
    mk_id_t cls = mk_id_from_str("some.class");
    mk_error_t e;
    mk_ticket_t *t = mk_ticket_new(&cls, "data", 4, &e);
    assert_non_null(t);
    mk_id_t want = mk_id_derive(&cls, "data", 4);
    mk_id_t got = mk_ticket_id(t);
    assert_true(mk_id_eq(&got, &want));
    assert_memory_equal(t->data, "data", 4);
    mk_ticket_free(t);
    uint8_t *big = calloc(1, MK_TICKET_MAX_BYTES + 1);
    assert_null(mk_ticket_new(&cls, big, MK_TICKET_MAX_BYTES + 1, &e));
    assert_int_equal(e.code, MK_E2BIG);
    t = mk_ticket_new(&cls, big, MK_TICKET_MAX_BYTES, &e);
    assert_non_null(t);
    mk_ticket_free(t);
    free(big);
    assert_string_equal(mk_ticket_reason_str(MK_TICKET_OK), "ok");
    assert_string_equal(mk_ticket_reason_str(MK_TICKET_CLAIM_MISMATCH), "claim_mismatch");
    assert_string_equal(mk_ticket_reason_str(MK_TICKET_INTERNAL), "internal");
    assert_string_equal(mk_ticket_reason_str((mk_ticket_reason_t)99), "unknown");
}

static bool starts_with_ok(void *ctx, const uint8_t *data, size_t len) {
    (void)ctx;
    return len >= 3 && memcmp(data, "ok:", 3) == 0;
}

static void queries_and_one_validator_over_mixed_classes(void **state) {
    (void)state;
    const char *tk[] = {"a=ok:5000", "a=ok:9000", "a=bad", "b=ok:7000", NULL};
    const mk_peer_entry_t *e = entry_with("p1", tk);
    mk_id_t a = mk_id_from_str("a"), b = mk_id_from_str("b"), c = mk_id_from_str("c");
    const mk_ticket_t *out[4];
    assert_int_equal(mk_peer_entry_valid_tickets(e, &a, NULL, NULL, out, 4), 3);
    assert_int_equal(mk_peer_entry_valid_tickets(e, &a, starts_with_ok, NULL, out, 1), 2);  /* total, one copied */
    assert_true(mk_peer_entry_has_valid_ticket(e, &b, starts_with_ok, NULL));
    assert_false(mk_peer_entry_has_valid_ticket(e, &c, NULL, NULL));
    fake_cfg_t ca = {"a", 0}, cb = {"b", 0}, cc = {"c", 0};
    mk_ticket_validator_t va = MK_TICKET_VALIDATOR(&fake_vt, &ca), vb = MK_TICKET_VALIDATOR(&fake_vt, &cb),
                          vc = MK_TICKET_VALIDATOR(&fake_vt, &cc);
    mk_ticket_verdict_t v;
    mk_peer_entry_validate_ticket(e, &va, 1000, &v);
    assert_true(v.valid);
    assert_int_equal(v.expires, 9000);  /* the latest accepted */
    assert_int_equal(ca.validated, 3);  /* only tickets of its class */
    mk_peer_entry_validate_ticket(e, &va, 9500, &v);  /* both ok tickets expired by then */
    assert_false(v.valid);
    mk_peer_entry_validate_ticket(e, &vc, 1000, &v);
    assert_int_equal(v.reason, MK_TICKET_MISSING);
    const char *only_bad[] = {"a=bad", NULL};
    const mk_peer_entry_t *e2 = entry_with("p2", only_bad);
    mk_peer_entry_validate_ticket(e2, &va, 1000, &v);
    assert_int_equal(v.reason, MK_TICKET_POLICY);  /* the last rejection */
    assert_int_equal(v.code, 7);
    /* the rule: all must pass; the earliest expiry wins; the first failure is reported */
    const mk_ticket_validator_t *both[] = {&va, &vb};
    mk_peer_entry_validate_all(e, both, 2, 1000, &v);
    assert_true(v.valid);
    assert_int_equal(v.expires, 7000);
    const mk_ticket_validator_t *three[] = {&va, &vc, &vb};
    mk_peer_entry_validate_all(e, three, 3, 1000, &v);
    assert_int_equal(v.reason, MK_TICKET_MISSING);
    mk_peer_entry_validate_all(e, NULL, 0, 1000, &v);
    assert_true(v.valid);
    assert_true(v.expires == MK_EXPIRES_NEVER);
    mk_id_t va_cls = mk_ticket_validator_class(&va);
    assert_true(mk_id_eq(&va_cls, &a));
    mk_id_t s1 = mk_ticket_validator_signature(&va), s2 = fake_sig(&ca);
    assert_true(mk_id_eq(&s1, &s2));
    assert_ptr_equal(mk_ticket_validator_ref(&va), &va);  /* static: no-op */
    mk_ticket_validator_unref(&va);
    mk_peer_entry_unref(e);
    mk_peer_entry_unref(e2);
}

/* ---- gates ---- */

typedef struct gate_world {
    int64_t now;                        /* the fake wall clock */
    const mk_peer_entry_t *current;     /* what `latest` returns */
    int revoked;
    mk_ticket_verdict_t why;
} gate_world_t;

static const mk_peer_entry_t *latest(void *ctx) {
    gate_world_t *w = ctx;
    return w->current ? mk_peer_entry_ref(w->current) : NULL;
}
static void revoked(void *ctx, const mk_ticket_verdict_t *why) {
    gate_world_t *w = ctx;
    w->revoked++;
    w->why = *why;
}
static int64_t fake_now(void *ctx) { return ((gate_world_t *)ctx)->now; }

/* Runs the loop for `ms` × 4 of real time (timers due within `ms` fire, even on a loaded machine). */
static void run_for(struct event_base *b, int ms) {
    struct timeval tv = {0, ms * 4 * 1000};
    event_base_loopexit(b, &tv);
    event_base_dispatch(b);
}

static void gate_rearms_on_renewal_and_revokes_on_failure(void **state) {
    (void)state;
    struct event_base *base = event_base_new();
    gate_world_t w = {.now = 1000000};
    fake_cfg_t ca = {"a", 0};
    mk_ticket_validator_t va = MK_TICKET_VALIDATOR(&fake_vt, &ca);
    const mk_ticket_validator_t *vs[] = {&va};
    mk_ticket_gate_ops_t ops = {.latest = latest, .revoked = revoked, .now_ms = fake_now};
    mk_ticket_gate_t *g = mk_ticket_gate_new(base, vs, 1, &ops, &w);
    /* admitted until now + 30 ms */
    char t1[32];
    snprintf(t1, sizeof t1, "a=ok:%lld", (long long)(w.now + 30));
    const char *tk1[] = {t1, NULL};
    w.current = entry_with("p", tk1);
    mk_ticket_verdict_t v;
    mk_ticket_gate_check(g, w.current, &v);
    assert_true(v.valid);
    assert_int_equal(mk_ticket_gate_armed(g), w.now + 30);
    /* the peer refreshes before expiry: the timer fires, re-judges the latest entry and re-arms */
    char t2[32];
    snprintf(t2, sizeof t2, "a=ok:%lld", (long long)(w.now + 80));
    const char *tk2[] = {t2, NULL};
    mk_peer_entry_unref(w.current);
    w.current = entry_with("p", tk2);
    w.now += 30;
    run_for(base, 60);
    assert_int_equal(w.revoked, 0);
    assert_int_equal(mk_ticket_gate_armed(g), w.now + 50);
    /* the clock has not reached the expiry when the timer fires (clock stepped back): wait on */
    w.now += 10;
    run_for(base, 60);
    assert_int_equal(w.revoked, 0);
    /* no refresh: at the expiry the peer is revoked with the validator's reason */
    w.now += 40;
    run_for(base, 80);
    assert_int_equal(w.revoked, 1);
    assert_int_equal(w.why.reason, MK_TICKET_EXPIRED);
    assert_true(mk_ticket_gate_armed(g) == MK_EXPIRES_NEVER);
    /* an invalid entry at a check disarms without calling revoked (the owner decides) */
    const char *bad[] = {"a=bad", NULL};
    mk_peer_entry_unref(w.current);
    w.current = entry_with("p", bad);
    mk_ticket_gate_check(g, w.current, &v);
    assert_false(v.valid);
    assert_int_equal(w.revoked, 1);
    /* a peer whose entry is gone is revoked as MISSING when the timer fires */
    mk_peer_entry_unref(w.current);
    snprintf(t1, sizeof t1, "a=ok:%lld", (long long)(w.now + 20));
    w.current = entry_with("p", tk1);
    mk_ticket_gate_check(g, w.current, &v);
    assert_true(v.valid);
    mk_peer_entry_unref(w.current);
    w.current = NULL;
    w.now += 20;
    run_for(base, 50);
    assert_int_equal(w.revoked, 2);
    assert_int_equal(w.why.reason, MK_TICKET_MISSING);
    mk_ticket_gate_free(g);
    event_base_free(base);
    /* delays: due, never, capped */
    assert_int_equal(mk_expiry_delay_ms(100, 200), 0);
    assert_int_equal(mk_expiry_delay_ms(MK_EXPIRES_NEVER, 0), -1);
    assert_int_equal(mk_expiry_delay_ms(INT64_MAX - 1, 0), MK_EXPIRY_MAX_DELAY_MS);
    assert_int_equal(mk_expiry_delay_ms(1500, 1000), 500);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ticket_ids_copies_and_reason_names),
        cmocka_unit_test(queries_and_one_validator_over_mixed_classes),
        cmocka_unit_test(gate_rearms_on_renewal_and_revokes_on_failure),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
