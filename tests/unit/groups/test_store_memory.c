/* unit/groups/test_store_memory.c — the in-memory log store against the store conformance suite,
 * plus the NoOp machine and the consensus configuration check (spec 40 §6, §7.1, §9). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>

#include "groups/machine.h"
#include "store_suite.h"

static mk_log_store_t *make_memory(void) { return mk_log_store_memory(); }

static void the_noop_machine_ignores_and_answers_empty(void **state) {
    (void)state;
    mk_id_t sig = MK_NOOP_MACHINE.signature(NULL);
    mk_id_t want = mk_id_from_str("mosaik_noop_state_machine");
    assert_memory_equal(sig.b, want.b, sizeof sig.b);
    mk_apply_ctx_t ctx = {.term = 2};
    MK_NOOP_MACHINE.apply(NULL, &ctx, "x", 1);
    mk_buf_t out = MK_BUF_INIT;
    assert_int_equal(MK_NOOP_MACHINE.query(NULL, "q", 1, &out), MK_OK);
    assert_int_equal(out.len, 0);
    assert_null(MK_NOOP_MACHINE.snapshot_create);
    assert_null(MK_NOOP_MACHINE.leadership);
    assert_int_equal(mk_apply_ctx_term(&ctx), 2);
    mk_apply_ctx_fail(&ctx, "boom");
    mk_apply_ctx_fail(&ctx, "second");  /* the first cause stays */
    assert_true(ctx.failed);
    assert_string_equal(ctx.why, "boom");
}

static void consensus_config_is_validated_field_by_field(void **state) {
    (void)state;
    mk_consensus_config_t c = MK_CONSENSUS_CONFIG_DEFAULT;
    mk_error_t e;
    assert_int_equal(mk_consensus_config_check(&c, &e), MK_OK);
    c.election_timeout_ms = 1000;  /* = 2 × heartbeat */
    assert_int_equal(mk_consensus_config_check(&c, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "election_timeout_ms"));
    c = (mk_consensus_config_t)MK_CONSENSUS_CONFIG_DEFAULT;
    c.heartbeat_jitter_ms = 500;
    assert_int_equal(mk_consensus_config_check(&c, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "heartbeat_jitter_ms"));
    c = (mk_consensus_config_t)MK_CONSENSUS_CONFIG_DEFAULT;
    c.max_voters = 33;
    assert_int_equal(mk_consensus_config_check(&c, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "max_voters"));
    c.max_voters = 0;
    assert_int_equal(mk_consensus_config_check(&c, &e), MK_EINVAL);
    c = (mk_consensus_config_t)MK_CONSENSUS_CONFIG_DEFAULT;
    c.bootstrap_expect = 0;
    assert_int_equal(mk_consensus_config_check(&c, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "bootstrap_expect"));
    assert_int_equal(mk_consensus_config_check(NULL, &e), MK_EINVAL);
}

int main(void) {
    suite_make = make_memory;
    const struct CMUnitTest tests[] = {
        MK_STORE_SUITE_TESTS,
        cmocka_unit_test(the_noop_machine_ignores_and_answers_empty),
        cmocka_unit_test(consensus_config_is_validated_field_by_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
