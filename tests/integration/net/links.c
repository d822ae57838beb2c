/* integration/net/links — link behaviour on two loopback networks: close codes in both directions,
 * backpressure, readiness fds, exporter secrets, RTT, blocking calls on the loop thread. */
#include "support/mkt_net.h"

#include "net/net.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ALPN "/test/links"

static bool fd_readable(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void close_with_code_delivers_earlier_frames_then_code(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    mk_error_t e;
    for (int i = 0; i < 10; i++) assert_int_equal(mk_link_send(p.a, &i, sizeof i, mkt_ms(1000), &e), MK_OK);
    assert_int_equal(mk_link_close(p.a, MK_CLOSE_SUCCESS, "done", mkt_ms(2000), &e), MK_OK);
    for (int i = 0; i < 10; i++) {
        mk_frame_t f = MK_FRAME_INIT;
        assert_int_equal(mk_link_recv(p.b, &f, mkt_ms(2000), &e), MK_OK);
        assert_int_equal(f.len, sizeof i);
        assert_memory_equal(f.data, &i, sizeof i);
        mk_frame_free(&f);
    }
    mk_frame_t f = MK_FRAME_INIT;
    assert_int_equal(mk_link_recv(p.b, &f, mkt_ms(2000), &e), MK_ECLOSED);
    assert_int_equal(e.close_code, MK_CLOSE_SUCCESS);
    assert_true(e.close_remote);
    assert_non_null(strstr(e.msg, "done"));
    assert_int_equal(mk_link_send(p.a, "x", 1, 0, &e), MK_ECLOSED);
    assert_int_equal(mk_link_send(p.b, "x", 1, 0, &e), MK_ECLOSED);
    mkt_pair_close(&p);
}

static void free_open_link_peer_sees_cancelled(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    mk_link_free(p.a);
    p.a = NULL;
    mk_error_t e;
    mk_frame_t f = MK_FRAME_INIT;
    assert_int_equal(mk_link_recv(p.b, &f, mkt_ms(2000), &e), MK_ECLOSED);
    assert_int_equal(e.close_code, MK_CLOSE_CANCELLED);
    assert_true(e.close_remote);
    mkt_pair_close(&p);
}

static void cut_socket_reports_unexpected_close_on_both_ends(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    mk_link_test_cut(p.a);
    mk_error_t e;
    mk_frame_t f = MK_FRAME_INIT;
    assert_int_equal(mk_link_recv(p.a, &f, mkt_ms(2000), &e), MK_ECLOSED);
    assert_int_equal(e.close_code, MK_CLOSE_UNEXPECTED);
    assert_false(e.close_remote);
    assert_int_equal(mk_link_recv(p.b, &f, mkt_ms(2000), &e), MK_ECLOSED);
    assert_int_equal(e.close_code, MK_CLOSE_UNEXPECTED);
    mkt_pair_close(&p);
}

static void simultaneous_closes_each_report_a_code(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    mk_error_t ea, eb;
    int ra = mk_link_close(p.a, 1200, "a", mkt_ms(2000), &ea);
    int rb = mk_link_close(p.b, 1300, "b", mkt_ms(2000), &eb);
    assert_true(ra == MK_OK || (ra == MK_ECLOSED && ea.close_code == 1300));
    assert_true(rb == MK_OK || (rb == MK_ECLOSED && eb.close_code == 1200));
    assert_int_equal(mk_link_close(p.a, 0, NULL, 0, &ea), MK_EINVAL);
    assert_int_equal(mk_link_close(p.a, 150, NULL, 0, &ea), MK_EINVAL);
    mkt_pair_close(&p);
}

static void small_buffers(mk_network_config_t *cfg) {
    cfg->write_buffer_bytes = 64 * 1024;
    cfg->read_buffer_bytes = 64 * 1024;
}

static void stalled_receiver_makes_send_full_then_all_frames_arrive(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, small_buffers);
    mk_error_t e;
    static uint8_t chunk[16384];
    int sent = 0, rc = MK_OK, full_streak = 0;
    double t0 = mkt_now();
    /* Fill until the queue stays full: socket buffers absorb a lot before TCP pushes back. */
    while (mkt_now() - t0 < T(20) && full_streak < 5) {
        memcpy(chunk, &sent, sizeof sent);
        rc = mk_link_send(p.a, chunk, sizeof chunk, 0, &e);
        if (rc == MK_EFULL) {
            full_streak++;
            struct timespec ts = {0, 40 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        assert_int_equal(rc, MK_OK);
        full_streak = 0;
        sent++;
        mk_link_info_t info;
        mk_link_info(p.a, &info);
        assert_true(info.queued_out <= 64 * 1024 + sizeof chunk + 4);
    }
    assert_int_equal(rc, MK_EFULL);
    /* A timed send waits while the queue is full and gives up with ETIMEDOUT. The kernel may still take
     * a little more meanwhile (buffer autotuning): such sends succeed and count, the next one waits. */
    int timed = MK_OK;
    for (int tries = 0; tries < 50; tries++) {
        timed = mk_link_send(p.a, chunk, sizeof chunk, mkt_ms(300), &e);
        if (timed != MK_OK) break;
        sent++;
        memcpy(chunk, &sent, sizeof sent);
    }
    assert_int_equal(timed, MK_ETIMEDOUT);
    assert_true(mkt_metric(p.na, "mosaik_network_send_full", NULL) >= 1);
    for (int i = 0; i < sent; i++) {
        mk_frame_t f = MK_FRAME_INIT;
        assert_int_equal(mk_link_recv(p.b, &f, mkt_ms(5000), &e), MK_OK);
        int seq;
        memcpy(&seq, f.data, sizeof seq);
        assert_int_equal(seq, i);
        mk_frame_free(&f);
    }
    mk_link_info_t after;
    mk_link_info(p.a, &after);
    int last = mk_link_send(p.a, chunk, sizeof chunk, mkt_ms(5000), &e);
    if (last != MK_OK) fail_msg("send after drain: %s (queued %zu, sent %d)", e.msg, after.queued_out, sent);
    mkt_pair_close(&p);
}

static void oversized_send_is_refused_locally(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    mk_error_t e;
    uint8_t *big = calloc(1, (16u << 20) + 1);
    assert_int_equal(mk_link_send(p.a, big, (16u << 20) + 1, 0, &e), MK_E2BIG);
    free(big);
    mkt_pair_close(&p);
}

static void link_fd_is_readable_exactly_while_a_frame_waits(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    mk_error_t e;
    int fd = mk_link_fd(p.b);
    assert_true(fd >= 0);
    assert_false(fd_readable(fd));
    assert_int_equal(mk_link_send(p.a, "hi", 2, mkt_ms(1000), &e), MK_OK);
    MKT_WAIT_UNTIL(fd_readable(fd), 2);
    mk_frame_t f = MK_FRAME_INIT;
    assert_int_equal(mk_link_recv(p.b, &f, 0, &e), MK_OK);
    mk_frame_free(&f);
    assert_false(fd_readable(fd));
    assert_int_equal(mk_link_recv(p.b, &f, 0, &e), MK_EAGAIN);
    mk_link_close(p.a, MK_CLOSE_SUCCESS, NULL, mkt_ms(1000), &e);
    MKT_WAIT_UNTIL(fd_readable(fd), 2);  /* readable once closed */
    mkt_pair_close(&p);
}

static void listener_fd_is_readable_while_a_link_waits(void **state) {
    (void)state;
    mk_network_t *a = mkt_net_new(NULL), *b = mkt_net_new(NULL);
    mk_error_t e;
    mk_listener_t *lb = mk_network_listen(b, ALPN, 0, &e);
    assert_false(fd_readable(mk_listener_fd(lb)));
    mk_link_t *out = mkt_dial(a, b, ALPN);
    MKT_WAIT_UNTIL(fd_readable(mk_listener_fd(lb)), 2);
    mk_link_t *in = mk_listener_accept(lb, 0, &e);
    assert_non_null(in);
    assert_false(fd_readable(mk_listener_fd(lb)));
    mk_link_free(in);
    mk_link_free(out);
    mk_listener_free(lb);
    mk_network_free(a);
    mk_network_free(b);
}

static void exporter_matches_at_both_ends_and_differs_across_labels(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    mk_id_t xa, xb, other, ctx2;
    assert_int_equal(mk_link_export(p.a, "EXPORTER-test", NULL, 0, &xa), MK_OK);
    assert_int_equal(mk_link_export(p.b, "EXPORTER-test", NULL, 0, &xb), MK_OK);
    assert_memory_equal(xa.b, xb.b, 32);
    assert_int_equal(mk_link_export(p.a, "EXPORTER-other", NULL, 0, &other), MK_OK);
    assert_memory_not_equal(xa.b, other.b, 32);
    assert_int_equal(mk_link_export(p.a, "EXPORTER-test", "c", 1, &ctx2), MK_OK);
    assert_memory_not_equal(xa.b, ctx2.b, 32);
    mk_link_t *second = mkt_dial(p.na, p.nb, ALPN);
    mk_id_t xs;
    assert_int_equal(mk_link_export(second, "EXPORTER-test", NULL, 0, &xs), MK_OK);
    assert_memory_not_equal(xa.b, xs.b, 32);
    mk_link_free(second);
    mkt_pair_close(&p);
}

static void rtt_is_sampled_after_round_trips(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    mk_error_t e;
    for (int i = 0; i < 100; i++) {
        mk_frame_t f = MK_FRAME_INIT;
        assert_int_equal(mk_link_send(p.a, "p", 1, mkt_ms(1000), &e), MK_OK);
        assert_int_equal(mk_link_recv(p.b, &f, mkt_ms(1000), &e), MK_OK);
        mk_frame_free(&f);
        assert_int_equal(mk_link_send(p.b, "q", 1, mkt_ms(1000), &e), MK_OK);
        assert_int_equal(mk_link_recv(p.a, &f, mkt_ms(1000), &e), MK_OK);
        mk_frame_free(&f);
    }
    uint32_t srtt = 0, var = 0;
    assert_int_equal(mk_link_rtt(p.a, &srtt, &var), MK_OK);
    assert_true(srtt > 0 && srtt < 10000);
    mkt_pair_close(&p);
}

typedef struct loop_probe { mk_link_t *link; int recv_rc, accept_code; mk_listener_t *lis; } loop_probe_t;

static void probe_on_loop(mk_network_t *n, void *arg) {
    (void)n;
    loop_probe_t *pr = arg;
    mk_frame_t f = MK_FRAME_INIT;
    mk_error_t e;
    pr->recv_rc = mk_link_recv(pr->link, &f, 1000, &e);
    mk_listener_accept(pr->lis, 1000, &e);
    pr->accept_code = e.code;
}

static void blocking_call_on_loop_thread_returns_edeadlk(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    loop_probe_t pr = {.link = p.b, .lis = p.lb};
    assert_int_equal(mk_loop_call(p.nb, probe_on_loop, &pr, mkt_ms(2000), NULL), MK_OK);
    assert_int_equal(pr.recv_rc, MK_EDEADLK);
    assert_int_equal(pr.accept_code, MK_EDEADLK);
    mkt_pair_close(&p);
}

static void sleep_on_loop(mk_network_t *n, void *arg) {
    (void)n;
    (void)arg;
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static void slow_loop_callback_logs_one_watchdog_warning(void **state) {
    (void)state;
    mk_network_t *n = mkt_net_new(NULL);
    mkt_log_clear();
    assert_int_equal(mk_loop_call(n, sleep_on_loop, NULL, mkt_ms(2000), NULL), MK_OK);
    MKT_WAIT_UNTIL(mkt_log_contains("blocked the loop"), 2);
    assert_int_equal(mkt_log_count("blocked the loop"), 1);
    mk_network_free(n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(close_with_code_delivers_earlier_frames_then_code),
        cmocka_unit_test(free_open_link_peer_sees_cancelled),
        cmocka_unit_test(cut_socket_reports_unexpected_close_on_both_ends),
        cmocka_unit_test(simultaneous_closes_each_report_a_code),
        cmocka_unit_test(stalled_receiver_makes_send_full_then_all_frames_arrive),
        cmocka_unit_test(oversized_send_is_refused_locally),
        cmocka_unit_test(link_fd_is_readable_exactly_while_a_frame_waits),
        cmocka_unit_test(listener_fd_is_readable_while_a_link_waits),
        cmocka_unit_test(exporter_matches_at_both_ends_and_differs_across_labels),
        cmocka_unit_test(rtt_is_sampled_after_round_trips),
        cmocka_unit_test(blocking_call_on_loop_thread_returns_edeadlk),
        cmocka_unit_test(slow_loop_callback_logs_one_watchdog_warning),
    };
    return mkt_run("integration.net.links", tests, sizeof tests / sizeof tests[0]);
}
