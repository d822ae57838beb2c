/* integration/streams/smoke — spec 30 §10 items 1, 2, 5, 7 and 8 on loopback: one producer and two
 * consumers exchange 100 datums in order with matching statistics; two streams stay apart; a lone
 * producer is offline (try_send MK_EOFFLINE, send times out) until a consumer comes; freeing the
 * network wakes blocked calls with MK_ECLOSED; max_consumers admits exactly that many. */
#include "support/mkt_disc.h"

#include "mosaik/streams.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define N 4
static mk_network_t *nets[N];

static void start(size_t n) { mkt_disc_cluster(nets, n, NULL); }

static int teardown(void **state) {
    (void)state;
    mkt_disc_free_all(nets, N);
    return 0;
}

static void one_producer_two_consumers_get_every_datum_in_order(void **state) {
    (void)state;
    start(3);
    mk_error_t e;
    mk_producer_t *p = mk_producer_open(nets[0], "t.data", NULL, &e);
    assert_non_null(p);
    mk_consumer_t *c1 = mk_consumer_open(nets[1], "t.data", NULL, &e), *c2 = mk_consumer_open(nets[2], "t.data", NULL, &e);
    assert_non_null(c1);
    assert_non_null(c2);
    assert_int_equal(mk_consumer_wait(c1, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_consumer_wait(c2, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_wait(p, MK_WHEN_MIN(2), mkt_ms(3000), &e), MK_OK);
    assert_true(mk_producer_is_online(p));
    uint64_t sum = 0;
    for (int i = 0; i < 100; i++) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "datum-%d", i);
        sum += (uint64_t)n;
        assert_int_equal(mk_producer_send(p, buf, (size_t)n, mkt_ms(2000), &e), MK_OK);
    }
    mk_consumer_t *cs[2] = {c1, c2};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 100; i++) {
            mk_datum_t d = MK_DATUM_INIT;
            if (mk_consumer_recv(cs[k], &d, mkt_ms(3000), &e) != MK_OK) fail_msg("consumer %d datum %d: %s", k, i, e.msg);
            char want[32];
            int n = snprintf(want, sizeof want, "datum-%d", i);
            assert_int_equal(d.len, (size_t)n);
            assert_memory_equal(d.data, want, (size_t)n);
            mk_peer_id_t pid = mk_network_peer_id(nets[0]);
            assert_true(mk_id_eq(&d.producer, &pid));
            mk_datum_free(&d);
        }
        mk_datum_t none = MK_DATUM_INIT;
        assert_int_equal(mk_consumer_try_recv(cs[k], &none), MK_EAGAIN);
        mk_stream_stats_t st;
        assert_int_equal(mk_consumer_stats(cs[k], &st), MK_OK);
        assert_int_equal(st.datums, 100);
        assert_int_equal(st.bytes, sum);
    }
    mk_producer_stats_t ps;
    assert_int_equal(mk_producer_stats(p, &ps), MK_OK);
    assert_int_equal(ps.accepted, 100);
    /* the metrics agree */
    assert_true(mkt_metric(nets[0], "mosaik_streams_producer_items_sent", NULL) == 200);
    assert_true(mkt_metric(nets[0], "mosaik_streams_producer_consumers", NULL) == 2);
    assert_true(mkt_metric(nets[1], "mosaik_streams_consumer_items_received", NULL) == 100);
    assert_true(mkt_metric(nets[0], "mosaik_streams_producers_active", NULL) == 1);
    assert_int_equal(ps.total.datums, 200);  /* 100 to each channel */
    /* vectors both ways */
    mk_send_item_t items[3] = {{"a", 1}, {"bb", 2}, {"ccc", 3}};
    size_t taken = 0;
    assert_int_equal(mk_producer_send_many(p, items, 3, &taken, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(taken, 3);
    mk_datum_t many[8];
    size_t got = 0, total = 0;
    while (total < 3) {
        assert_int_equal(mk_consumer_recv_many(c1, many, 8, &got, mkt_ms(2000), &e), MK_OK);
        for (size_t i = 0; i < got; i++) {
            assert_int_equal(many[i].len, total + i + 1);
            mk_datum_free(&many[i]);
        }
        total += got;
    }
    mk_consumer_free(c1);
    mk_consumer_free(c2);
    mk_producer_free(p);
}

static void streams_stay_apart_and_lone_producers_are_offline(void **state) {
    (void)state;
    start(2);
    mk_error_t e;
    mk_producer_t *a = mk_producer_open(nets[0], "stream1234", NULL, &e), *b = mk_producer_open(nets[0], "stream5678", NULL, &e);
    assert_non_null(a);
    assert_non_null(b);
    /* offline while nobody consumes */
    assert_false(mk_producer_is_online(a));
    assert_int_equal(mk_producer_try_send(a, "x", 1, &e), MK_EOFFLINE);
    assert_int_equal(mk_producer_send(a, "x", 1, mkt_ms(200), &e), MK_ETIMEDOUT);
    mk_consumer_t *ca = mk_consumer_open(nets[1], "stream1234", NULL, &e), *cb = mk_consumer_open(nets[1], "stream5678", NULL, &e);
    assert_true(mk_consumer_is_online(ca));  /* a consumer is online at once by default */
    assert_int_equal(mk_producer_wait_online(a, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_wait_online(b, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_send(a, "only-a", 6, mkt_ms(1000), &e), MK_OK);
    assert_int_equal(mk_producer_send(b, "only-b", 6, mkt_ms(1000), &e), MK_OK);
    mk_datum_t d = MK_DATUM_INIT;
    assert_int_equal(mk_consumer_recv(ca, &d, mkt_ms(2000), &e), MK_OK);
    assert_memory_equal(d.data, "only-a", 6);
    mk_datum_free(&d);
    assert_int_equal(mk_consumer_recv(cb, &d, mkt_ms(2000), &e), MK_OK);
    assert_memory_equal(d.data, "only-b", 6);
    mk_datum_free(&d);
    assert_int_equal(mk_consumer_try_recv(ca, &d), MK_EAGAIN);
    /* the consumer leaves: offline again */
    mk_consumer_free(ca);
    assert_int_equal(mk_producer_wait(a, MK_WHEN_UNSUBSCRIBED, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(mk_producer_try_send(a, "x", 1, &e), MK_EOFFLINE);
    /* a second handle shares the sink; fail_if_exists refuses */
    mk_producer_t *a2 = mk_producer_open(nets[0], "stream1234", NULL, &e);
    assert_non_null(a2);
    mk_producer_config_t strict = {.fail_if_exists = true};
    assert_null(mk_producer_open(nets[0], "stream1234", &strict, &e));
    assert_int_equal(e.code, MK_EEXIST);
    mk_producer_free(a2);
    mk_consumer_free(cb);
    mk_producer_free(a);
    mk_producer_free(b);
}

typedef struct blocked {
    mk_consumer_t *c;
    int rc;
} blocked_t;

static void *blocked_recv(void *arg) {
    blocked_t *b = arg;
    mk_datum_t d = MK_DATUM_INIT;
    b->rc = mk_consumer_recv(b->c, &d, -1, NULL);
    mk_datum_free(&d);
    return NULL;
}

static void freeing_the_network_wakes_blocked_calls(void **state) {
    (void)state;
    start(2);
    mk_error_t e;
    mk_producer_t *p = mk_producer_open(nets[0], "t.closed", NULL, &e);
    mk_consumer_t *c = mk_consumer_open(nets[1], "t.closed", NULL, &e);
    assert_int_equal(mk_producer_wait_online(p, mkt_ms(3000), &e), MK_OK);
    blocked_t b = {c, 0};
    pthread_t th;
    pthread_create(&th, NULL, blocked_recv, &b);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double t0 = mkt_now();
    mk_network_free(nets[1]);
    nets[1] = NULL;
    pthread_join(th, NULL);
    assert_int_equal(b.rc, MK_ECLOSED);
    assert_true(mkt_now() - t0 < T(1) + 1.5);
    mk_datum_t d = MK_DATUM_INIT;
    assert_int_equal(mk_consumer_try_recv(c, &d), MK_ECLOSED);  /* and later calls */
    mk_consumer_free(c);
    /* the producer's channel ended with 204: offline */
    assert_int_equal(mk_producer_wait(p, MK_WHEN_UNSUBSCRIBED, mkt_ms(2000), &e), MK_OK);
    mk_network_free(nets[0]);
    nets[0] = NULL;
    assert_int_equal(mk_producer_try_send(p, "x", 1, &e), MK_ECLOSED);
    mk_producer_free(p);
}

static void max_consumers_admits_exactly_that_many(void **state) {
    (void)state;
    start(4);
    mk_error_t e;
    mk_producer_config_t pc = {.max_consumers = 2};
    mk_producer_t *p = mk_producer_open(nets[0], "t.capacity", &pc, &e);
    mk_backoff_t fast = {.initial_ms = 100, .max_interval_ms = 400, .multiplier = 1.5, .randomization = 0.5};
    mk_consumer_config_t cc = {.backoff = &fast};
    mk_consumer_t *cs[3];
    for (int i = 0; i < 3; i++) cs[i] = mk_consumer_open(nets[i + 1], "t.capacity", &cc, &e);
    assert_int_equal(mk_producer_wait(p, MK_WHEN_MIN(2), mkt_ms(3000), &e), MK_OK);
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    assert_true(mk_producer_check(p, MK_WHEN_MIN(2)));
    assert_false(mk_producer_check(p, MK_WHEN_MIN(3)));
    mk_producer_stats_t st;
    mk_producer_stats(p, &st);
    assert_true(st.refused >= 1);  /* the third was refused with 10_509 and keeps retrying */
    /* one leaves: the refused one gets in */
    int subscribed = -1;
    for (int i = 0; i < 3 && subscribed < 0; i++)
        if (mk_consumer_check(cs[i], MK_WHEN_SUBSCRIBED)) subscribed = i;
    assert_true(subscribed >= 0);
    mk_consumer_free(cs[subscribed]);
    cs[subscribed] = NULL;
    const mk_when_t below2 = {.min_peers = 2, .unmet = true};
    assert_int_equal(mk_producer_wait(p, &below2, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(mk_producer_wait(p, MK_WHEN_MIN(2), mkt_ms(3000), &e), MK_OK);
    for (int i = 0; i < 3; i++)
        if (cs[i]) assert_true(mk_consumer_check(cs[i], MK_WHEN_SUBSCRIBED));
    for (int i = 0; i < 3; i++) mk_consumer_free(cs[i]);
    mk_producer_free(p);
}

/* §10.4: freeing the last handle withdraws the stream; the consumer sees 204 and is unsubscribed. */
static bool lists_stream(mk_network_t *n, const char *name) {
    const mk_peer_entry_t *me = mk_discovery_me(n);
    mk_id_t id = mk_stream_id(name);
    bool has = me && mk_peer_entry_has_stream(me, &id);
    mk_peer_entry_unref(me);
    return has;
}

static void freeing_the_last_handle_withdraws_the_stream(void **state) {
    (void)state;
    start(2);
    mk_error_t e;
    mk_producer_t *p1 = mk_producer_open(nets[0], "t.withdraw", NULL, &e), *p2 = mk_producer_open(nets[0], "t.withdraw", NULL, &e);
    mk_consumer_t *c = mk_consumer_open(nets[1], "t.withdraw", NULL, &e);
    assert_int_equal(mk_consumer_wait(c, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    MKT_WAIT_UNTIL(lists_stream(nets[0], "t.withdraw"), 1);
    mk_producer_free(p1);  /* one handle left: it still sends */
    assert_int_equal(mk_producer_send(p2, "still", 5, mkt_ms(1000), &e), MK_OK);
    mk_datum_t d = MK_DATUM_INIT;
    assert_int_equal(mk_consumer_recv(c, &d, mkt_ms(2000), &e), MK_OK);
    mk_datum_free(&d);
    mk_producer_free(p2);
    MKT_WAIT_UNTIL(!lists_stream(nets[0], "t.withdraw"), 1);
    assert_int_equal(mk_consumer_wait(c, MK_WHEN_UNSUBSCRIBED, mkt_ms(2000), &e), MK_OK);
    mk_channel_info_t *v;
    size_t n;
    assert_int_equal(mk_consumer_producers(c, &v, &n, &e), MK_OK);
    for (size_t i = 0; i < n; i++) assert_int_equal(v[i].stats.last_close, MK_CLOSE_GRACEFUL_SHUTDOWN);
    mk_channel_info_free(v, n);
    mk_consumer_free(c);
}

/* §10.20: three producers × 1000 datums; each of two consumers on one node gets all 3000, in order
 * per producer. */
static void many_producers_to_many_consumers(void **state) {
    (void)state;
    start(4);
    mk_error_t e;
    mk_producer_t *ps[3];
    for (int i = 0; i < 3; i++) ps[i] = mk_producer_open(nets[i + 1], "t.many", NULL, &e);
    mk_consumer_t *a = mk_consumer_open(nets[0], "t.many", NULL, &e), *b = mk_consumer_open(nets[0], "t.many", NULL, &e);
    assert_int_equal(mk_consumer_wait(a, MK_WHEN_MIN(3), mkt_ms(5000), &e), MK_OK);
    assert_int_equal(mk_consumer_wait(b, MK_WHEN_MIN(3), mkt_ms(5000), &e), MK_OK);
    for (int k = 0; k < 1000; k++)
        for (int i = 0; i < 3; i++) {
            int tag[2] = {i, k};
            assert_int_equal(mk_producer_send(ps[i], tag, sizeof tag, mkt_ms(2000), &e), MK_OK);
        }
    mk_consumer_t *cs[2] = {a, b};
    for (int j = 0; j < 2; j++) {
        int next[3] = {0, 0, 0};
        for (int got = 0; got < 3000; got++) {
            mk_datum_t d = MK_DATUM_INIT;
            if (mk_consumer_recv(cs[j], &d, mkt_ms(3000), &e) != MK_OK) fail_msg("consumer %d after %d: %s", j, got, e.msg);
            int tag[2];
            memcpy(tag, d.data, sizeof tag);
            assert_int_equal(tag[1], next[tag[0]]);  /* in order per producer */
            next[tag[0]]++;
            mk_datum_free(&d);
        }
    }
    mk_consumer_free(a);
    mk_consumer_free(b);
    for (int i = 0; i < 3; i++) mk_producer_free(ps[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(one_producer_two_consumers_get_every_datum_in_order, teardown),
        cmocka_unit_test_teardown(streams_stay_apart_and_lone_producers_are_offline, teardown),
        cmocka_unit_test_teardown(freeing_the_network_wakes_blocked_calls, teardown),
        cmocka_unit_test_teardown(max_consumers_admits_exactly_that_many, teardown),
        cmocka_unit_test_teardown(freeing_the_last_handle_withdraws_the_stream, teardown),
        cmocka_unit_test_teardown(many_producers_to_many_consumers, teardown),
    };
    return mkt_run("integration.streams.smoke", tests, sizeof tests / sizeof tests[0]);
}
