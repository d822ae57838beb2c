/* unit/core/test_error.c — status codes and error records: every code has a distinct name and text,
 * unknown codes are labelled, MK_ERR fills "<function>: <cause>", tolerates NULL and truncates. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/error.h"

#include <errno.h>
#include <string.h>

static void every_code_has_a_distinct_name_and_text(void **state) {
    (void)state;
    assert_string_equal(mk_status_name(MK_OK), "MK_OK");
    for (int c = MK_ENOCOMMANDS; c < 0; c++) {
        if (c == -7) continue;  /* reserved */
        const char *name = mk_status_name(c);
        if (!name) fail_msg("code %d has no name", c);
        const char *text = mk_strerror(c);
        assert_int_equal(strncmp(text, name, strlen(name)), 0);
        assert_true(strlen(text) > strlen(name) + 2);
        for (int d = MK_ENOCOMMANDS; d < c; d++)
            if (d != -7) assert_string_not_equal(name, mk_status_name(d));
    }
    assert_null(mk_status_name(-7));
    assert_null(mk_status_name(-1000));
    assert_string_equal(mk_strerror(-1000), "MK_E?: unknown status code");
    assert_string_equal(mk_strerror(12345), "MK_E?: unknown status code");
}

static int fails_here(mk_error_t *e) { return MK_ERR(e, MK_EINVAL, "field %s out of range (%d > %d)", "port", 70000, 65535); }

static void err_macro_names_the_function_and_cause(void **state) {
    (void)state;
    mk_error_t e;
    memset(&e, 0x5a, sizeof e);
    assert_int_equal(fails_here(&e), MK_EINVAL);
    assert_int_equal(e.code, MK_EINVAL);
    assert_string_equal(e.msg, "fails_here: field port out of range (70000 > 65535)");
    assert_int_equal(e.close_code, 0);
    assert_int_equal(e.sys_errno, 0);
    assert_int_equal(e.ssl_err, 0);
    assert_int_equal(fails_here(NULL), MK_EINVAL);  /* NULL record is allowed */
}

static void sys_errors_record_errno_and_long_causes_are_cut(void **state) {
    (void)state;
    mk_error_t e, copy;
    assert_int_equal(MK_ERR_SYS(&e, MK_EIO, ECONNREFUSED, "connect to %s", "127.0.0.1:1"), MK_EIO);
    assert_int_equal(e.sys_errno, ECONNREFUSED);
    assert_non_null(strstr(e.msg, "connect to 127.0.0.1:1"));
    char big[1000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = 0;
    MK_ERR(&e, MK_E2BIG, "%s", big);
    assert_true(strlen(e.msg) < sizeof e.msg);
    mk_err_copy(&copy, &e);
    assert_memory_equal(&copy, &e, sizeof e);
    mk_err_copy(NULL, &e);
    mk_err_copy(&copy, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_a_distinct_name_and_text),
        cmocka_unit_test(err_macro_names_the_function_and_cause),
        cmocka_unit_test(sys_errors_record_errno_and_long_causes_are_cut),
    };
    return cmocka_run_group_tests_name("unit.core.error", tests, NULL, NULL);
}
