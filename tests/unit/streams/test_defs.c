/* unit/streams/test_defs.c — static stream definitions (spec 30 §1, §10.3): ids from names (64 hex
 * decoded), each side's configuration (predicates and validators ANDed, top level first; the side's
 * online_when over the top level's), and the refusals naming the field. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/streams.h"

#include <string.h>

static bool p1(void *ctx, const mk_peer_info_t *p) { (void)ctx; (void)p; return true; }
static bool p2(void *ctx, const mk_peer_info_t *p) { (void)ctx; (void)p; return true; }
static bool p3(void *ctx, const mk_peer_info_t *p) { (void)ctx; (void)p; return true; }

static const mk_stream_def_t BOTH = MK_STREAM_DEF("named.stream", .max_consumers = 8, .require = {MK_PRED(p1)},
                                                  .producer.require = {MK_PRED(p2)}, .consumer.require = {MK_PRED(p3)},
                                                  .producer.online_when = MK_WHEN_MIN(2));
static const mk_stream_def_t PONLY = MK_PRODUCER_DEF("p.only", .require = {MK_PRED(p1)});
static const mk_stream_def_t CONLY_BAD = MK_CONSUMER_DEF("c.only", .max_consumers = 3);
static const mk_stream_def_t HEX =
    MK_STREAM_DEF("1a1504561deab99fbf6f675339a53ea220562b68c18a8f02809aaf7ee59ea0b7");
static const mk_stream_def_t BARE = MK_STREAM_DEF("x");

static void ids_come_from_names(void **state) {
    (void)state;
    mk_id_t a = mk_stream_def_id(&BOTH), b = mk_id_from_str("named.stream");
    assert_true(mk_id_eq(&a, &b));
    mk_id_t h = mk_stream_def_id(&HEX);
    char hex[65];
    assert_string_equal(mk_id_hex(&h, hex), "1a1504561deab99fbf6f675339a53ea220562b68c18a8f02809aaf7ee59ea0b7");
    mk_id_t x = mk_stream_def_id(&BARE), y = mk_stream_id("x");
    assert_true(mk_id_eq(&x, &y));
}

static void each_side_gets_its_keys(void **state) {
    (void)state;
    mk_producer_config_t pc;
    mk_consumer_config_t cc;
    mk_error_t e;
    assert_int_equal(mk_stream_def_producer_config(&BOTH, &pc, &e), MK_OK);
    assert_int_equal(pc.max_consumers, 8);
    assert_ptr_equal(pc.require[0].fn, p1);  /* top level first, then the side's */
    assert_ptr_equal(pc.require[1].fn, p2);
    assert_null(pc.require[2].fn);
    assert_int_equal(pc.online_when->min_peers, 2);
    assert_int_equal(mk_stream_def_consumer_config(&BOTH, &cc, &e), MK_OK);
    assert_ptr_equal(cc.require[0].fn, p1);
    assert_ptr_equal(cc.require[1].fn, p3);
    assert_null(cc.online_when);
    /* the wrong side, or the other side's key, is refused naming it */
    assert_int_equal(mk_stream_def_consumer_config(&PONLY, &cc, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "producer-only"));
    assert_int_equal(mk_stream_def_producer_config(&PONLY, &pc, &e), MK_OK);
    assert_int_equal(mk_stream_def_consumer_config(&CONLY_BAD, &cc, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "max_consumers"));
    mk_stream_def_t noname = MK_STREAM_DEF(NULL);
    assert_int_equal(mk_stream_def_producer_config(&noname, &pc, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "name"));
    assert_null(mk_consumer_open_def(NULL, &PONLY, NULL, &e));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_come_from_names),
        cmocka_unit_test(each_side_gets_its_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
