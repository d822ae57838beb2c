/* integration/streams/conditions — spec 30 §10 items 14–15 on loopback: condition objects over a
 * producer's consumers (each interval reported once; fresh objects report a current interval;
 * clones invert; the fd is readable exactly while poll would succeed; a callback reports each interval
 * once) and consumer conditions with tags. */
#include "support/mkt_disc.h"

#include "mosaik/streams.h"

#include <poll.h>

#define N 4
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(producer_conditions_report_each_interval_once, teardown),
        cmocka_unit_test_teardown(consumer_conditions_with_tags, teardown),
    };
    return mkt_run("integration.streams.conditions", tests, sizeof tests / sizeof tests[0]);
}
