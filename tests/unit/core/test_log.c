/* unit/core/test_log.c — logging: MK_LOG spec parsing (valid, invalid, untouched on error), per-module
 * levels, the line format seen by a sink, escaping of control characters, the 1024-byte cut, and the
 * per-call-site rate limit with its "(N suppressed)" suffix. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/log.h"

#include <regex.h>
#include <stdio.h>
#include <string.h>

/* ---- a capturing sink ---- */

static char last_line[2048];
static char last_module[32];
static int lines;

static void capture(void *ctx, mk_log_level_t lvl, const char *module, const char *line) {
    (void)ctx;
    (void)lvl;
    snprintf(last_line, sizeof last_line, "%s", line);
    snprintf(last_module, sizeof last_module, "%s", module);
    lines++;
}

static int setup(void **state) {
    (void)state;
    lines = 0;
    last_line[0] = 0;
    mk_log_set_sink(capture, NULL);
    mk_log_set_level(NULL, MK_LOG_INFO);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    mk_log_set_sink(NULL, NULL);
    return 0;
}

/* ---- spec parsing ---- */

static void parse_plain_level_sets_every_module(void **state) {
    (void)state;
    mk_log_level_t d = MK_LOG_OFF, lv[MK_MOD__COUNT];
    assert_int_equal(mk_log_parse_spec("debug", &d, lv), MK_OK);
    assert_int_equal(d, MK_LOG_DEBUG);
    for (int i = 0; i < MK_MOD__COUNT; i++) assert_int_equal(lv[i], MK_LOG_DEBUG);
}

static void parse_module_overrides_keep_default_elsewhere(void **state) {
    (void)state;
    mk_log_level_t d = MK_LOG_OFF, lv[MK_MOD__COUNT];
    assert_int_equal(mk_log_parse_spec("warn,net=trace,groups=off", &d, lv), MK_OK);
    assert_int_equal(d, MK_LOG_WARN);
    assert_int_equal(lv[MK_MOD_NET], MK_LOG_TRACE);
    assert_int_equal(lv[MK_MOD_GROUPS], MK_LOG_OFF);
    assert_int_equal(lv[MK_MOD_CORE], MK_LOG_WARN);
    assert_int_equal(lv[MK_MOD_TDX], MK_LOG_WARN);
}

static void parse_rejects_bad_specs_and_leaves_output_untouched(void **state) {
    (void)state;
    static const char *bad[] = {"loud", "net=", "=debug", "nosuchmodule=debug", "net=loud", "info,,", "info,net",
                                "net=debug=trace"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mk_log_level_t d = MK_LOG_ERROR, lv[MK_MOD__COUNT];
        for (int m = 0; m < MK_MOD__COUNT; m++) lv[m] = MK_LOG_ERROR;
        if (mk_log_parse_spec(bad[i], &d, lv) != MK_EINVAL) fail_msg("spec \"%s\" was accepted", bad[i]);
        assert_int_equal(d, MK_LOG_ERROR);
        for (int m = 0; m < MK_MOD__COUNT; m++) assert_int_equal(lv[m], MK_LOG_ERROR);
    }
}

/* ---- levels ---- */

static void set_level_per_module_gates_lines(void **state) {
    (void)state;
    assert_int_equal(mk_log_set_level("net", MK_LOG_DEBUG), MK_OK);
    assert_int_equal(mk_log_set_level("nosuch", MK_LOG_DEBUG), MK_EINVAL);
    assert_int_equal(mk_log_get_level("net"), MK_LOG_DEBUG);
    assert_true(mk_log_enabled(MK_MOD_NET, MK_LOG_DEBUG));
    assert_false(mk_log_enabled(MK_MOD_GROUPS, MK_LOG_DEBUG));
    MK_LOGF(MK_MOD_GROUPS, MK_LOG_DEBUG, NULL, "hidden %d", 1);
    assert_int_equal(lines, 0);
    MK_LOGF(MK_MOD_NET, MK_LOG_DEBUG, NULL, "shown %d", 2);
    assert_int_equal(lines, 1);
    assert_string_equal(last_module, "net");
    mk_log_set_level(NULL, MK_LOG_OFF);
    MK_LOGF(MK_MOD_NET, MK_LOG_ERROR, NULL, "off means off");
    assert_int_equal(lines, 1);
}

/* ---- line format ---- */

static void line_has_timestamp_level_module_self_and_text(void **state) {
    (void)state;
    MK_LOGF(MK_MOD_STREAMS, MK_LOG_WARN, "7e886b3491", "consumer %s lagged by %d", "c1", 42);
    regex_t re;
    assert_int_equal(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                             "WARN  streams \\[7e886b3491\\] consumer c1 lagged by 42$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    int match = regexec(&re, last_line, 0, NULL, 0);
    regfree(&re);
    if (match != 0) fail_msg("unexpected line: %s", last_line);
    MK_LOGF(MK_MOD_CORE, MK_LOG_ERROR, NULL, "no self");
    assert_non_null(strstr(last_line, " core [-] no self"));
}

static void control_characters_are_escaped(void **state) {
    (void)state;
    MK_LOGF(MK_MOD_NET, MK_LOG_WARN, NULL, "peer said \"%s\"", "a\nb\rc\x01" "d\x7f");
    assert_non_null(strstr(last_line, "peer said \"a\\nb\\rc\\x01d\\x7f\""));
    assert_null(strchr(last_line, '\n'));
}

static void long_lines_are_cut_at_1024_bytes(void **state) {
    (void)state;
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    MK_LOGF(MK_MOD_NET, MK_LOG_WARN, NULL, "%s", big);
    size_t n = strlen(last_line);
    assert_true(n <= 1024);
    assert_true(n > 900);
    assert_int_equal(last_line[n - 1], 'x');
}

/* ---- rate limiting ---- */

static void rate_limit_passes_one_per_second_and_counts_the_rest(void **state) {
    (void)state;
    mk_log_ratelimit_t rl = {0};
    uint64_t sup = 99;
    assert_true(mk_log_ratelimit_pass(&rl, &sup));
    assert_int_equal(sup, 0);
    for (int i = 0; i < 5; i++) assert_false(mk_log_ratelimit_pass(&rl, &sup));
    atomic_store(&rl.last_ms, atomic_load(&rl.last_ms) - 1001);  /* a second went by */
    assert_true(mk_log_ratelimit_pass(&rl, &sup));
    assert_int_equal(sup, 5);
    assert_false(mk_log_ratelimit_pass(&rl, &sup));
}

static void rate_limited_macro_writes_once_then_reports_suppressed(void **state) {
    (void)state;
    for (int i = 0; i < 10; i++) MK_LOGF_RL(MK_MOD_NET, MK_LOG_WARN, NULL, "noisy peer %d", i);
    assert_int_equal(lines, 1);
    assert_non_null(strstr(last_line, "noisy peer 0"));
    mk_log_write_sup(MK_MOD_NET, MK_LOG_WARN, NULL, 9, "noisy peer %d", 10);
    assert_non_null(strstr(last_line, "noisy peer 10 (9 suppressed)"));
}

static void out_of_range_module_or_level_is_ignored(void **state) {
    (void)state;
    mk_log_write((mk_log_module_t)MK_MOD__COUNT, MK_LOG_ERROR, NULL, "bad module");
    mk_log_write(MK_MOD_NET, (mk_log_level_t)(MK_LOG_TRACE + 1), NULL, "bad level");
    mk_log_write(MK_MOD_NET, MK_LOG_OFF, NULL, "off level");
    assert_int_equal(lines, 0);
    assert_null(mk_log_module_name((mk_log_module_t)MK_MOD__COUNT));
    assert_string_equal(mk_log_module_name(MK_MOD_TDX), "tdx");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_plain_level_sets_every_module),
        cmocka_unit_test(parse_module_overrides_keep_default_elsewhere),
        cmocka_unit_test(parse_rejects_bad_specs_and_leaves_output_untouched),
        cmocka_unit_test_setup_teardown(set_level_per_module_gates_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(line_has_timestamp_level_module_self_and_text, setup, teardown),
        cmocka_unit_test_setup_teardown(control_characters_are_escaped, setup, teardown),
        cmocka_unit_test_setup_teardown(long_lines_are_cut_at_1024_bytes, setup, teardown),
        cmocka_unit_test(rate_limit_passes_one_per_second_and_counts_the_rest),
        cmocka_unit_test_setup_teardown(rate_limited_macro_writes_once_then_reports_suppressed, setup, teardown),
        cmocka_unit_test_setup_teardown(out_of_range_module_or_level_is_ignored, setup, teardown),
    };
    return cmocka_run_group_tests_name("unit.core.log", tests, NULL, NULL);
}
