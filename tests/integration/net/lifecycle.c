/* integration/net/lifecycle — many networks started and stopped from several threads without leaks
 * (threads and fds back to where they were), shutdown waking blocked callers, peers seeing 204, and
 * handles that outlive their network failing cleanly. */
#include "support/mkt_net.h"

#include <pthread.h>
#include <string.h>

#define ALPN "/test/life"
#define NETS 50
#define THREADS 8

static mk_network_t *nets[NETS];
static mk_listener_t *listeners[NETS];

static void *start_some(void *arg) {
    int t = (int)(intptr_t)arg;
    for (int i = t; i < NETS; i += THREADS) {
        mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
        cfg.network_id = mkt_network_id();
        cfg.bind[0] = "127.0.0.1:0";
        cfg.shutdown_linger_ms = 300;
        nets[i] = mk_network_new(&cfg, NULL);
        if (nets[i]) listeners[i] = mk_network_listen(nets[i], ALPN, 0, NULL);
    }
    return NULL;
}

static void *exchange_some(void *arg) {
    int t = (int)(intptr_t)arg;
    for (int i = t; i < NETS; i += THREADS) {
        mk_network_t *next = nets[(i + 1) % NETS];
        mk_peer_addr_t to;
        mk_network_addr(next, &to);
        mk_link_t *l = mk_link_open(nets[i], &to, ALPN, 0, mkt_ms(5000), NULL);
        if (!l) continue;
        mk_link_send(l, "hello", 5, mkt_ms(1000), NULL);
        mk_link_free(l);
    }
    return NULL;
}

static void *free_some(void *arg) {
    int t = (int)(intptr_t)arg;
    for (int i = t; i < NETS; i += THREADS) {
        mk_listener_free(listeners[i]);
        mk_network_free(nets[i]);
    }
    return NULL;
}

static void run_threads(void *(*fn)(void *)) {
    pthread_t th[THREADS];
    for (intptr_t t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, fn, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
}

static void fifty_networks_start_talk_and_stop_without_leaks(void **state) {
    (void)state;
    int threads0 = mkt_count_threads(), fds0 = mkt_count_fds();
    run_threads(start_some);
    for (int i = 0; i < NETS; i++) {
        assert_non_null(nets[i]);
        assert_non_null(listeners[i]);
    }
    assert_int_equal(mkt_count_threads(), threads0 + NETS);
    run_threads(exchange_some);
    int accepted = 0;
    for (int i = 0; i < NETS; i++) {
        mk_link_t *l = mk_listener_accept(listeners[i], mkt_ms(2000), NULL);
        if (l) {
            accepted++;
            mk_link_free(l);
        }
    }
    assert_int_equal(accepted, NETS);
    run_threads(free_some);
    assert_int_equal(mkt_count_threads(), threads0);
    assert_int_equal(mkt_count_fds(), fds0);
}

typedef struct blocked {
    mk_link_t *link;
    mk_listener_t *lis;
    int rc;
    double returned_at;
} blocked_t;

static void *blocked_recv(void *arg) {
    blocked_t *b = arg;
    mk_frame_t f = MK_FRAME_INIT;
    mk_error_t e;
    b->rc = mk_link_recv(b->link, &f, -1, &e);
    b->returned_at = mkt_now();
    return NULL;
}

static void *blocked_accept(void *arg) {
    blocked_t *b = arg;
    mk_error_t e;
    mk_link_t *l = mk_listener_accept(b->lis, -1, &e);
    b->rc = l ? MK_OK : e.code;
    b->returned_at = mkt_now();
    return NULL;
}

static void free_wakes_blocked_callers_and_peer_sees_204(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    blocked_t r = {.link = p.b}, a = {.lis = p.lb};
    pthread_t tr, ta;
    pthread_create(&tr, NULL, blocked_recv, &r);
    pthread_create(&ta, NULL, blocked_accept, &a);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);  /* let both block */
    double t0 = mkt_now();
    mk_network_free(p.nb);
    p.nb = NULL;
    pthread_join(tr, NULL);
    pthread_join(ta, NULL);
    assert_int_equal(r.rc, MK_ECLOSED);
    assert_true(r.returned_at - t0 < T(1.5));
    assert_true(a.rc == MK_ETERMINATED || a.rc == MK_ECLOSED);
    assert_true(a.returned_at - t0 < T(1.5));
    /* the dialer's side sees the graceful shutdown code */
    mk_frame_t f = MK_FRAME_INIT;
    mk_error_t e;
    assert_int_equal(mk_link_recv(p.a, &f, mkt_ms(2000), &e), MK_ECLOSED);
    assert_int_equal(e.close_code, MK_CLOSE_GRACEFUL_SHUTDOWN);
    assert_true(e.close_remote);
    /* surviving handles of the freed network fail cleanly until freed */
    assert_int_equal(mk_link_send(p.b, "x", 1, 0, &e), MK_ECLOSED);
    assert_int_equal(mk_link_recv(p.b, &f, 0, &e), MK_ECLOSED);
    assert_null(mk_listener_accept(p.lb, 0, &e));
    mk_id_t x;
    assert_int_equal(mk_link_export(p.b, "EXPORTER-x", NULL, 0, &x), MK_ECLOSED);
    mk_link_free(p.a);
    mk_link_free(p.b);
    mk_listener_free(p.lb);
    mk_network_free(p.na);
}

static void free_with_a_peer_that_never_reads_is_bounded(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    static uint8_t chunk[65536];
    mk_error_t e;
    while (mk_link_send(p.a, chunk, sizeof chunk, 0, &e) == MK_OK) {
    }
    double t0 = mkt_now();
    mk_link_free(p.a);
    p.a = NULL;
    mk_network_free(p.na);
    p.na = NULL;
    assert_true(mkt_now() - t0 < 0.5 + T(1));  /* shutdown_linger_ms is 500 in the fixtures */
    mk_link_free(p.b);
    mk_listener_free(p.lb);
    mk_network_free(p.nb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fifty_networks_start_talk_and_stop_without_leaks),
        cmocka_unit_test(free_wakes_blocked_callers_and_peer_sees_204),
        cmocka_unit_test(free_with_a_peer_that_never_reads_is_bounded),
    };
    return mkt_run("integration.net.lifecycle", tests, sizeof tests / sizeof tests[0]);
}
