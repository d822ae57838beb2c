/* integration/streams/flow — spec 30 §10 items 16–18 on loopback: per-channel and total statistics,
 * reconnection after cut sockets and after a producer restart with the same key, giving up after
 * the backoff's max_elapsed when a producer vanishes without a close, and a lagging consumer
 * disconnected with 10_413 (then reconnected) while a draining one gets every datum; with lagging
 * disconnects off, the slow one is told how many it missed. */
#include "support/mkt_disc.h"

#include "mosaik/streams.h"
#include "net/net.h"
#include "streams/streams.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 3
static mk_network_t *nets[N];
static char boot[MK_ADDR_STR_MAX];

static void start(size_t n) { mkt_disc_cluster(nets, n, boot); }

static int teardown(void **state) {
    (void)state;
    mkt_disc_free_all(nets, N);
    return 0;
}

static void recv_one(mk_consumer_t *c, const char *want) {
    mk_datum_t d = MK_DATUM_INIT;
    mk_error_t e;
    if (mk_consumer_recv(c, &d, mkt_ms(3000), &e) != MK_OK) fail_msg("recv: %s", e.msg);
    assert_int_equal(d.len, strlen(want));
    assert_memory_equal(d.data, want, d.len);
    mk_datum_free(&d);
}

static mk_stream_stats_t chan_stats(mk_channel_info_t *v, size_t n, const mk_peer_id_t *peer) {
    for (size_t i = 0; i < n; i++)
        if (mk_id_eq(&v[i].consumer_id, peer) || mk_id_eq(&v[i].producer_id, peer)) return v[i].stats;
    fail_msg("no channel with that peer");
    return (mk_stream_stats_t){0};
}

static void channel_statistics_count_what_was_sent(void **state) {
    (void)state;
    start(3);
    mk_error_t e;
    mk_producer_t *p = mk_producer_open(nets[0], "t.stats", NULL, &e);
    mk_consumer_t *c1 = mk_consumer_open(nets[1], "t.stats", NULL, &e);
    assert_int_equal(mk_producer_wait_online(p, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_send(p, "test", 4, mkt_ms(1000), &e), MK_OK);
    recv_one(c1, "test");
    mk_consumer_t *c2 = mk_consumer_open(nets[2], "t.stats", NULL, &e);
    assert_int_equal(mk_producer_wait(p, MK_WHEN_MIN(2), mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_send(p, "data2", 5, mkt_ms(1000), &e), MK_OK);
    recv_one(c1, "data2");
    recv_one(c2, "data2");
    mk_peer_id_t id1 = mk_network_peer_id(nets[1]), id2 = mk_network_peer_id(nets[2]), id0 = mk_network_peer_id(nets[0]);
    mk_channel_info_t *v;
    size_t n;
    assert_int_equal(mk_producer_consumers(p, &v, &n, &e), MK_OK);
    assert_int_equal(n, 2);
    mk_stream_stats_t s1 = chan_stats(v, n, &id1), s2 = chan_stats(v, n, &id2);
    assert_int_equal(s1.datums, 2);
    assert_int_equal(s1.bytes, 9);
    assert_int_equal(s2.datums, 1);
    assert_int_equal(s2.bytes, 5);
    assert_true(s1.connected_at_ms > 0);
    char line[256];
    mk_channel_info_format(&v[0], line, sizeof line);
    assert_non_null(strstr(line, "Connected"));
    mk_channel_info_free(v, n);
    assert_int_equal(mk_consumer_producers(c1, &v, &n, &e), MK_OK);
    assert_int_equal(n, 1);
    mk_stream_stats_t cs = chan_stats(v, n, &id0);
    assert_int_equal(cs.datums, 2);
    assert_int_equal(cs.bytes, 9);
    assert_int_equal(v[0].state, MK_CHANNEL_CONNECTED);
    mk_channel_info_free(v, n);
    mk_consumer_free(c1);
    mk_consumer_free(c2);
    mk_producer_free(p);
}

static mk_stream_stats_t only_channel(mk_consumer_t *c) {
    mk_channel_info_t *v;
    size_t n;
    mk_error_t e;
    assert_int_equal(mk_consumer_producers(c, &v, &n, &e), MK_OK);
    assert_int_equal(n, 1);
    mk_stream_stats_t s = v[0].stats;
    mk_channel_info_free(v, n);
    return s;
}

static mk_secret_key_t producer_key;
static void fixed_key(mk_network_config_t *cfg) { cfg->secret_key = &producer_key; }

/* n0 bootstraps n1, whose key derives from key_name so that it can be restarted as the same peer. */
static void start_with_fixed_producer(const char *key_name) {
    mk_secret_key_from_str(key_name, &producer_key);
    nets[0] = mkt_disc_node(NULL, NULL);
    mkt_disc_addr(nets[0], boot, sizeof boot);
    nets[1] = mkt_disc_node(boot, fixed_key);
    mkt_disc_wait_complete(nets, 2, 5);
}

static mk_consumer_t *reconnecting_consumer;
static bool reconnected_once(void *arg) {
    (void)arg;
    return only_channel(reconnecting_consumer).reconnects >= 1 &&
           mk_consumer_check(reconnecting_consumer, MK_WHEN_SUBSCRIBED);
}

static void consumers_reconnect_after_cuts_and_restarts(void **state) {
    (void)state;
    start_with_fixed_producer("streams-flow-producer");
    mk_error_t e;
    mk_producer_t *p = mk_producer_open(nets[1], "t.reconnect", NULL, &e);
    mk_backoff_t fast = {.initial_ms = 100, .max_interval_ms = 500, .multiplier = 1.5, .randomization = 0.2};
    mk_consumer_config_t cc = {.backoff = &fast};
    mk_consumer_t *c = mk_consumer_open(nets[0], "t.reconnect", &cc, &e);
    assert_int_equal(mk_consumer_wait(c, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    /* (a) sockets cut without a close frame: Connecting, then Connected again */
    mk_streams_test_cut(nets[0]);
    /* the Connecting state may last only a few ms (the first retry of a streak is immediate), so the
     * test waits for its trace — one reconnect on the same channel — rather than for the gap itself */
    reconnecting_consumer = c;
    MKT_WAIT_UNTIL(reconnected_once(NULL), 3);
    assert_int_equal(only_channel(c).reconnects, 1);
    assert_int_equal(mk_producer_wait_online(p, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_send(p, "after-cut", 9, mkt_ms(1000), &e), MK_OK);
    recv_one(c, "after-cut");
    /* (b) the producer's node goes away gracefully (204) and comes back with the same key */
    mk_producer_free(p);
    mk_network_free(nets[1]);
    assert_int_equal(mk_consumer_wait(c, MK_WHEN_UNSUBSCRIBED, mkt_ms(2000), &e), MK_OK);
    nets[1] = mkt_disc_node(boot, fixed_key);
    p = mk_producer_open(nets[1], "t.reconnect", NULL, &e);
    assert_int_equal(mk_consumer_wait(c, MK_WHEN_SUBSCRIBED, mkt_ms(5000), &e), MK_OK);
    assert_int_equal(mk_producer_wait_online(p, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_send(p, "restarted", 9, mkt_ms(1000), &e), MK_OK);
    recv_one(c, "restarted");
    mk_consumer_free(c);
    mk_producer_free(p);
}

static mk_channel_state_t only_state(mk_consumer_t *c) {
    mk_channel_info_t *v;
    size_t n;
    mk_error_t e;
    assert_int_equal(mk_consumer_producers(c, &v, &n, &e), MK_OK);
    mk_channel_state_t s = n ? v[0].state : MK_CHANNEL_TERMINATED;
    mk_channel_info_free(v, n);
    return s;
}

static void a_vanished_producer_is_given_up_after_max_elapsed(void **state) {
    (void)state;
    start_with_fixed_producer("streams-flow-vanishing");
    mk_error_t e;
    mk_producer_t *p = mk_producer_open(nets[1], "t.vanish", NULL, &e);
    mk_backoff_t give_up = {.initial_ms = 100, .max_interval_ms = 300, .max_elapsed_ms = 2000, .multiplier = 1.5,
                            .randomization = 0.2};
    mk_consumer_config_t cc = {.backoff = &give_up};
    mk_consumer_t *c = mk_consumer_open(nets[0], "t.vanish", &cc, &e);
    assert_int_equal(mk_consumer_wait(c, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    /* the producer's node dies without a close frame or a departure: every redial fails */
    double t0 = mkt_now();
    mk_network_test_kill(nets[1]);
    nets[1] = NULL;
    mk_producer_free(p);  /* a handle outlives its network */
    MKT_WAIT_UNTIL(only_state(c) == MK_CHANNEL_TERMINATED, 6);
    double gave_up = mkt_now() - t0;
    assert_true(gave_up >= 1.8);
    assert_true(gave_up <= 2.0 + T(1) + 0.5);
    assert_false(mk_consumer_check(c, MK_WHEN_SUBSCRIBED));
    /* its restart publishes a new entry version: the same consumer subscribes again */
    nets[1] = mkt_disc_node(boot, fixed_key);
    p = mk_producer_open(nets[1], "t.vanish", NULL, &e);
    assert_int_equal(mk_consumer_wait(c, MK_WHEN_SUBSCRIBED, mkt_ms(5000), &e), MK_OK);
    assert_int_equal(mk_producer_wait_online(p, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_send(p, "back", 4, mkt_ms(1000), &e), MK_OK);
    recv_one(c, "back");
    mk_consumer_free(c);
    mk_producer_free(p);
}

static mk_consumer_t *slow_consumer;
static bool drained_and_reconnected(void *arg) {
    (void)arg;
    mk_datum_t d = MK_DATUM_INIT;
    while (mk_consumer_try_recv(slow_consumer, &d) == MK_OK) mk_datum_free(&d);
    mk_stream_stats_t s = only_channel(slow_consumer);
    return s.reconnects >= 1 && mk_consumer_check(slow_consumer, MK_WHEN_SUBSCRIBED);
}

static void a_lagging_consumer_is_cut_off_while_another_keeps_up(void **state) {
    (void)state;
    start(3);
    mk_error_t e;
    mk_producer_config_t pc = {.buffer_size = 64};
    mk_producer_t *p = mk_producer_open(nets[0], "t.lagging", &pc, &e);
    mk_backoff_t fast = {.initial_ms = 100, .max_interval_ms = 500, .multiplier = 1.5, .randomization = 0.2};
    mk_consumer_config_t slow = {.queue_datums = 16, .backoff = &fast};
    mk_consumer_t *a = mk_consumer_open(nets[1], "t.lagging", NULL, &e), *b = mk_consumer_open(nets[2], "t.lagging", &slow, &e);
    assert_int_equal(mk_producer_wait(p, MK_WHEN_MIN(2), mkt_ms(3000), &e), MK_OK);
    enum { TOTAL = 20000, SIZE = 4096 };
    uint8_t *buf = calloc(1, SIZE);
    int got = 0;
    for (int i = 0; i < TOTAL; i++) {
        memcpy(buf, &i, sizeof i);
        int rc;
        while ((rc = mk_producer_send(p, buf, SIZE, mkt_ms(5000), &e)) == MK_EOFFLINE) {}
        assert_int_equal(rc, MK_OK);
        /* the sender never gets more than 256 ahead of A */
        while (i - got >= 256) {
            mk_datum_t d = MK_DATUM_INIT;
            assert_int_equal(mk_consumer_recv(a, &d, mkt_ms(5000), &e), MK_OK);
            int seq;
            memcpy(&seq, d.data, sizeof seq);
            assert_int_equal(seq, got);
            got++;
            mk_datum_free(&d);
        }
    }
    while (got < TOTAL) {
        mk_datum_t d = MK_DATUM_INIT;
        assert_int_equal(mk_consumer_recv(a, &d, mkt_ms(5000), &e), MK_OK);
        int seq;
        memcpy(&seq, d.data, sizeof seq);
        assert_int_equal(seq, got);
        got++;
        mk_datum_free(&d);
    }
    mk_producer_stats_t ps;
    mk_producer_stats(p, &ps);
    assert_true(ps.lagging_disconnects >= 1);
    assert_int_equal(only_channel(a).dropped, 0);
    /* B drains (only then does it read the 10_413 its paused link holds) and is Connected again */
    slow_consumer = b;
    MKT_WAIT_UNTIL(drained_and_reconnected(NULL), 3);
    free(buf);
    mk_consumer_free(a);
    mk_consumer_free(b);
    mk_producer_free(p);
}

/* §10.17 with disconnect_lagging off: no 10_413; the slow consumer's received + dropped = sent. */
static void with_lagging_off_the_slow_consumer_is_told_what_it_missed(void **state) {
    (void)state;
    start(3);
    mk_error_t e;
    mk_producer_config_t pc = {.buffer_size = 64, .disconnect_lagging = MK_TOGGLE_OFF};
    mk_producer_t *p = mk_producer_open(nets[0], "t.dropping", &pc, &e);
    mk_consumer_config_t slow = {.queue_datums = 16};
    mk_consumer_t *a = mk_consumer_open(nets[1], "t.dropping", NULL, &e), *b = mk_consumer_open(nets[2], "t.dropping", &slow, &e);
    assert_int_equal(mk_producer_wait(p, MK_WHEN_MIN(2), mkt_ms(3000), &e), MK_OK);
    enum { TOTAL = 5000, SIZE = 4096 };
    uint8_t *buf = calloc(1, SIZE);
    int got = 0;
    for (int i = 0; i < TOTAL; i++) {
        memcpy(buf, &i, sizeof i);
        assert_int_equal(mk_producer_send(p, buf, SIZE, mkt_ms(5000), &e), MK_OK);
        while (i - got >= 256) {
            mk_datum_t d = MK_DATUM_INIT;
            assert_int_equal(mk_consumer_recv(a, &d, mkt_ms(5000), &e), MK_OK);
            got++;
            mk_datum_free(&d);
        }
    }
    while (got < TOTAL) {
        mk_datum_t d = MK_DATUM_INIT;
        assert_int_equal(mk_consumer_recv(a, &d, mkt_ms(5000), &e), MK_OK);
        got++;
        mk_datum_free(&d);
    }
    long b_got = 0;
    double t0 = mkt_now();
    for (;;) {
        mk_datum_t d = MK_DATUM_INIT;
        while (mk_consumer_recv(b, &d, 200, &e) == MK_OK) {
            b_got++;
            mk_datum_free(&d);
        }
        mk_stream_stats_t bs = only_channel(b);
        if ((uint64_t)b_got + bs.dropped == TOTAL) break;
        if (mkt_now() - t0 > T(5)) fail_msg("slow consumer: %ld received + %llu dropped != %d", b_got,
                                            (unsigned long long)bs.dropped, TOTAL);
    }
    mk_producer_stats_t ps;
    mk_producer_stats(p, &ps);
    assert_int_equal(ps.lagging_disconnects, 0);
    assert_int_equal(only_channel(a).dropped, 0);
    assert_true(only_channel(b).dropped > 0);
    free(buf);
    mk_consumer_free(a);
    mk_consumer_free(b);
    mk_producer_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(channel_statistics_count_what_was_sent, teardown),
        cmocka_unit_test_teardown(consumers_reconnect_after_cuts_and_restarts, teardown),
        cmocka_unit_test_teardown(a_vanished_producer_is_given_up_after_max_elapsed, teardown),
        cmocka_unit_test_teardown(a_lagging_consumer_is_cut_off_while_another_keeps_up, teardown),
        cmocka_unit_test_teardown(with_lagging_off_the_slow_consumer_is_told_what_it_missed, teardown),
    };
    return mkt_run("integration.streams.flow", tests, sizeof tests / sizeof tests[0]);
}
