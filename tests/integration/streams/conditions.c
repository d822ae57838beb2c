/* integration/streams/conditions — spec 30 §10 items 9, 14–15 on loopback: producers' online_when
 * by count and by tags across six nodes, condition objects over a
 * producer's consumers (each interval reported once; fresh objects report a current interval;
 * clones invert; the fd is readable exactly while poll would succeed; a callback reports each interval
 * once) and consumer conditions with tags. */
#include "support/mkt_disc.h"

#include "mosaik/streams.h"

#include <poll.h>

#define N 6
static mk_network_t *nets[N];

static void start(size_t n) { mkt_disc_cluster(nets, n, NULL); }

static int teardown(void **state) {
    (void)state;
    mkt_disc_free_all(nets, N);
    return 0;
}

static bool readable(mk_cond_t *c) {
    struct pollfd p = {.fd = mk_cond_fd(c), .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

static _Atomic int callbacks;
static void on_interval(void *ctx, mk_cond_t *c) {
    (void)ctx;
    (void)c;
    callbacks++;
}

static void producer_conditions_report_each_interval_once(void **state) {
    (void)state;
    start(4);
    mk_error_t e;
    mk_producer_t *p = mk_producer_open(nets[0], "t.cond", NULL, &e);
    mk_cond_t *c1 = mk_producer_cond(p, MK_WHEN_SUBSCRIBED, &e), *c2 = mk_producer_cond(p, MK_WHEN_MIN(2), &e);
    mk_cond_t *c3 = mk_cond_clone(c2, true, &e), *c4 = mk_producer_cond(p, MK_WHEN_UNSUBSCRIBED, &e);
    assert_non_null(c1);
    assert_non_null(c3);
    assert_int_equal(mk_cond_poll(c1), MK_EAGAIN);
    assert_int_equal(mk_cond_poll(c2), MK_EAGAIN);
    assert_false(readable(c1));
    assert_true(readable(c3));  /* holds now: a fresh object reports it */
    assert_int_equal(mk_cond_poll(c3), MK_OK);
    assert_int_equal(mk_cond_poll(c3), MK_EAGAIN);
    assert_int_equal(mk_cond_poll(c4), MK_OK);
    mk_cond_t *cb = mk_producer_cond(p, MK_WHEN_MIN(2), &e);
    mk_cond_set_callback(cb, on_interval, NULL);
    /* first consumer */
    mk_consumer_t *k1 = mk_consumer_open(nets[1], "t.cond", NULL, &e);
    assert_int_equal(mk_cond_wait(c1, mkt_ms(3000), &e), MK_OK);
    assert_false(mk_cond_is_met(c2));
    /* second */
    mk_consumer_t *k2 = mk_consumer_open(nets[2], "t.cond", NULL, &e);
    assert_int_equal(mk_cond_wait(c2, mkt_ms(3000), &e), MK_OK);
    assert_false(readable(c2));
    mk_cond_t *f1 = mk_cond_clone(c1, false, &e), *f3 = mk_cond_clone(c3, false, &e);
    assert_int_equal(mk_cond_poll(f1), MK_OK);    /* fresh clones of held conditions report at once */
    assert_int_equal(mk_cond_poll(f3), MK_EAGAIN);
    MKT_WAIT_UNTIL(callbacks == 1, 2);
    /* one leaves: c3 (fewer than 2) starts a new interval */
    mk_consumer_free(k2);
    assert_int_equal(mk_cond_wait(c3, mkt_ms(3000), &e), MK_OK);
    /* a third comes: c2 reports again, the callback runs once more */
    mk_consumer_t *k3 = mk_consumer_open(nets[3], "t.cond", NULL, &e);
    assert_int_equal(mk_cond_wait(c2, mkt_ms(3000), &e), MK_OK);
    MKT_WAIT_UNTIL(callbacks == 2, 2);
    assert_int_equal(mk_cond_wait(c2, 200, &e), MK_ETIMEDOUT);  /* nothing new */
    mk_cond_free(f1);
    mk_cond_free(f3);
    mk_cond_free(cb);
    mk_cond_free(c1);
    mk_cond_free(c2);
    mk_cond_free(c3);
    mk_cond_free(c4);
    mk_consumer_free(k1);
    mk_consumer_free(k3);
    mk_producer_free(p);
}

static void consumer_conditions_with_tags(void **state) {
    (void)state;
    start(3);
    mk_error_t e;
    const char *tags[] = {"t1", "t2"};
    mk_consumer_t *c = mk_consumer_open(nets[0], "t.ctags", NULL, &e);
    assert_true(mk_consumer_is_online(c));  /* online at once by default */
    mk_cond_t *both = mk_consumer_cond(c, MK_WHEN_TAGS(2, "t1", "t2"), &e);
    mk_producer_t *p1 = mk_producer_open(nets[1], "t.ctags", NULL, &e);
    assert_int_equal(mk_discovery_add_tags(nets[1], tags, 2, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(mk_consumer_wait(c, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_cond_poll(both), MK_EAGAIN);  /* one tagged producer */
    mk_producer_t *p2 = mk_producer_open(nets[2], "t.ctags", NULL, &e);
    assert_int_equal(mk_discovery_add_tags(nets[2], tags, 2, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(mk_cond_wait(both, mkt_ms(3000), &e), MK_OK);
    mk_producer_free(p2);
    const mk_when_t not_both = {.min_peers = 2, .tags = (const char *const[]){"t1", "t2", NULL}, .unmet = true};
    assert_int_equal(mk_consumer_wait(c, &not_both, mkt_ms(3000), &e), MK_OK);
    mk_cond_free(both);
    mk_consumer_free(c);
    mk_producer_free(p1);
}

/* ---- online_when on producers (§10.9) ---- */

static void open_all(mk_network_t *n, mk_consumer_t **out) {
    mk_error_t e;
    const char *names[] = {"t.ow.a", "t.ow.b", "t.ow.c"};
    for (int i = 0; i < 3; i++) {
        out[i] = mk_consumer_open(n, names[i], NULL, &e);
        assert_non_null(out[i]);
    }
}

static void producers_go_online_by_count_and_by_tags(void **state) {
    (void)state;
    start(6);
    mk_error_t e;
    const char *t2[] = {"tag2"};
    assert_int_equal(mk_discovery_add_tags(nets[4], t2, 1, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(mk_discovery_add_tags(nets[5], t2, 1, mkt_ms(2000), &e), MK_OK);
    mk_producer_config_t two = {.online_when = MK_WHEN_MIN(2)};
    mk_producer_config_t tagged2 = {.online_when = MK_WHEN_TAGS(2, "tag2")};
    mk_producer_t *a = mk_producer_open(nets[0], "t.ow.a", &two, &e), *b = mk_producer_open(nets[0], "t.ow.b", NULL, &e),
                  *c = mk_producer_open(nets[1], "t.ow.c", &tagged2, &e);
    assert_true(a && b && c);
    mk_consumer_t *cs[6][3] = {{0}};
    /* n2 (untagged): B online, A has one consumer and stays offline, C offline */
    open_all(nets[2], cs[2]);
    assert_int_equal(mk_producer_wait_online(b, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_wait(a, MK_WHEN_MIN(1), mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_wait(c, MK_WHEN_MIN(1), mkt_ms(3000), &e), MK_OK);
    assert_false(mk_producer_is_online(a));
    assert_false(mk_producer_is_online(c));
    /* n3 (untagged): A online from two consumers; C still offline */
    open_all(nets[3], cs[3]);
    assert_int_equal(mk_producer_wait_online(a, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_wait(c, MK_WHEN_MIN(2), mkt_ms(3000), &e), MK_OK);
    assert_false(mk_producer_is_online(c));
    /* n4 (tag2): C has three consumers, one tagged: offline */
    open_all(nets[4], cs[4]);
    assert_int_equal(mk_producer_wait(c, MK_WHEN_MIN(3), mkt_ms(3000), &e), MK_OK);
    assert_false(mk_producer_is_online(c));
    assert_int_equal(mk_producer_try_send(c, "x", 1, &e), MK_EOFFLINE);
    /* n5 (tag2): C online */
    open_all(nets[5], cs[5]);
    assert_int_equal(mk_producer_wait_online(c, mkt_ms(3000), &e), MK_OK);
    assert_true(mk_producer_is_online(a) && mk_producer_is_online(b));
    /* n5 goes away: C offline within T(2), A and B stay online */
    for (int i = 0; i < 3; i++) mk_consumer_free(cs[5][i]);
    mk_network_free(nets[5]);
    nets[5] = NULL;
    MKT_WAIT_UNTIL(!mk_producer_is_online(c), 2);
    assert_true(mk_producer_is_online(a) && mk_producer_is_online(b));
    for (int n = 2; n <= 4; n++)
        for (int i = 0; i < 3; i++) mk_consumer_free(cs[n][i]);
    mk_producer_free(a);
    mk_producer_free(b);
    mk_producer_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(producers_go_online_by_count_and_by_tags, teardown),
        cmocka_unit_test_teardown(producer_conditions_report_each_interval_once, teardown),
        cmocka_unit_test_teardown(consumer_conditions_with_tags, teardown),
    };
    return mkt_run("integration.streams.conditions", tests, sizeof tests / sizeof tests[0]);
}
