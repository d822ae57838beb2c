/* integration/net/timeouts — spec 10 §7 item 11 (handshake deadlines): a TCP connection that stays silent,
 * or stalls half-way through the TLS handshake, is cut after handshake_timeout_ms ± T(0.5); a TLS link
 * that never sends Hello gets Close 104; a Hello that arrives in time is not cut; a MK_LINK_PIPELINE
 * open to a node of another network succeeds and its first recv reports MK_ECLOSED with code 101. */
#include "support/mkt_net.h"
#include "support/mkt_raw.h"

#include "net/framer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define ALPN "/test/timeouts"
#define HANDSHAKE_MS 1000

static void one_second_handshake(mk_network_config_t *cfg) { cfg->handshake_timeout_ms = HANDSHAKE_MS; }

static void other_network(mk_network_config_t *cfg) { cfg->network_id = mk_id_from_str("timeouts-elsewhere"); }

static double hs_failures(mk_network_t *n, const char *reason) {
    char sub[64];
    snprintf(sub, sizeof sub, "reason=\"%s\"", reason);
    return mkt_metric(n, "mosaik_network_handshake_failures", sub);
}

/* Fails unless `elapsed` is handshake_timeout_ms ± T(0.5). */
static void assert_cut_on_time(double elapsed, const char *what) {
    double expected = HANDSHAKE_MS / 1000.0;
    if (fabs(elapsed - expected) > T(0.5))
        fail_msg("%s ended after %.3f s, expected %.3f ± %.3f s", what, elapsed, expected, T(0.5));
}

static void connect_and_stay_silent_is_cut_after_handshake_timeout(void **state) {
    (void)state;
    mk_network_t *n = mkt_net_new(one_second_handshake);
    double f0 = hs_failures(n, "timeout");
    mkt_raw_opts_t o = {.mode = MKT_RAW_TCP};
    mk_error_t e;
    double t0 = mkt_now();
    mkt_raw_link_t *r = mkt_raw_link(n, &o, &e);
    if (!r) fail_msg("mkt_raw_link: %s", e.msg);
    MKT_WAIT_UNTIL(mkt_metric(n, "mosaik_network_handshakes_pending", NULL) == 1, 1);
    assert_int_equal(mkt_raw_wait_eof(r, mkt_ms(HANDSHAKE_MS) + mkt_ms(3000)), MK_OK);
    assert_cut_on_time(mkt_now() - t0, "a silent TCP connection");
    mkt_raw_close(r);
    MKT_WAIT_UNTIL(mkt_metric(n, "mosaik_network_handshakes_pending", NULL) == 0, 1);
    MKT_WAIT_UNTIL(hs_failures(n, "timeout") >= f0 + 1, 1);
    mk_network_free(n);
}

static void stall_midway_through_client_hello_is_cut_after_handshake_timeout(void **state) {
    (void)state;
    mk_network_t *n = mkt_net_new(one_second_handshake);
    mk_buf_t hello = MK_BUF_INIT;
    assert_int_equal(mkt_raw_client_hello(ALPN, &hello), MK_OK);
    assert_true(hello.len > 40);
    mkt_raw_opts_t o = {.mode = MKT_RAW_TCP};
    double t0 = mkt_now();
    mkt_raw_link_t *r = mkt_raw_link(n, &o, NULL);
    assert_non_null(r);
    assert_int_equal(mkt_raw_send(r, hello.ptr, hello.len / 2), MK_OK);  /* half a ClientHello */
    assert_int_equal(mkt_raw_wait_eof(r, mkt_ms(HANDSHAKE_MS) + mkt_ms(3000)), MK_OK);
    assert_cut_on_time(mkt_now() - t0, "a half-sent ClientHello");
    mkt_raw_close(r);
    mk_buf_free(&hello);
    MKT_WAIT_UNTIL(mkt_metric(n, "mosaik_network_handshakes_pending", NULL) == 0, 1);
    mk_network_free(n);
}

static void tls_without_hello_gets_close_104(void **state) {
    (void)state;
    mk_network_t *n = mkt_net_new(one_second_handshake);
    mk_error_t e;
    mk_listener_t *l = mk_network_listen(n, ALPN, 0, &e);
    assert_non_null(l);
    mkt_raw_opts_t o = {.mode = MKT_RAW_TLS_ED25519, .alpn = ALPN};
    double t0 = mkt_now();
    mkt_raw_link_t *r = mkt_raw_link(n, &o, &e);
    if (!r) fail_msg("mkt_raw_link: %s", e.msg);
    mkt_raw_frame_t f;
    assert_int_equal(mkt_raw_read_frame(r, &f, mkt_ms(2000)), MK_OK);  /* the node's Hello comes at once */
    assert_int_equal(f.kind, MK_CONTROL_HELLO);
    mkt_raw_frame_free(&f);
    assert_int_equal(mkt_raw_read_frame(r, &f, mkt_ms(HANDSHAKE_MS) + mkt_ms(3000)), MK_OK);
    double elapsed = mkt_now() - t0;
    assert_true(f.control);
    assert_int_equal(f.kind, MK_CONTROL_CLOSE);
    assert_int_equal(f.close_code, MK_CLOSE_HANDSHAKE_TIMEOUT);
    mkt_raw_frame_free(&f);
    assert_cut_on_time(elapsed, "a TLS link without Hello");
    assert_int_equal(mkt_raw_wait_eof(r, mkt_ms(3000)), MK_OK);
    mkt_raw_close(r);
    assert_null(mk_listener_accept(l, 0, &e));  /* never verified, never handed over */
    MKT_WAIT_UNTIL(mkt_metric(n, "mosaik_network_connections_closed", "code=\"104\"") >= 1, 1);
    MKT_WAIT_UNTIL(mkt_metric(n, "mosaik_network_handshakes_pending", NULL) == 0, 1);
    mk_listener_free(l);
    mk_network_free(n);
}

static void hello_before_deadline_keeps_link_open_past_it(void **state) {
    (void)state;
    mk_network_t *n = mkt_net_new(one_second_handshake);
    mk_error_t e;
    mk_listener_t *l = mk_network_listen(n, ALPN, 0, &e);
    assert_non_null(l);
    mkt_raw_opts_t o = {.mode = MKT_RAW_TLS_ED25519, .alpn = ALPN};
    mkt_raw_link_t *r = mkt_raw_link(n, &o, &e);
    if (!r) fail_msg("mkt_raw_link: %s", e.msg);
    struct timespec half = {0, HANDSHAKE_MS / 2 * 1000 * 1000};
    nanosleep(&half, NULL);  /* late, but within the deadline */
    assert_int_equal(mkt_raw_send_hello(r, mkt_network_id()), MK_OK);
    mk_link_t *got = mk_listener_accept(l, mkt_ms(2000), &e);
    assert_non_null(got);
    /* well past the deadline: no Close from the node, and the link carries frames both ways */
    mkt_raw_frame_t f;
    assert_int_equal(mkt_raw_read_frame(r, &f, mkt_ms(2000)), MK_OK);
    assert_int_equal(f.kind, MK_CONTROL_HELLO);
    mkt_raw_frame_free(&f);
    assert_int_equal(mkt_raw_read_frame(r, &f, HANDSHAKE_MS + 500), MK_ETIMEDOUT);
    assert_int_equal(mkt_raw_send_frame(r, "late", 4), MK_OK);
    mk_frame_t fr = MK_FRAME_INIT;
    assert_int_equal(mk_link_recv(got, &fr, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(fr.len, 4);
    assert_memory_equal(fr.data, "late", 4);
    mk_frame_free(&fr);
    assert_int_equal(mk_link_send(got, "ok", 2, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(mkt_raw_read_frame(r, &f, mkt_ms(2000)), MK_OK);
    assert_false(f.control);
    assert_int_equal(f.len, 2);
    assert_memory_equal(f.body.ptr, "ok", 2);
    mkt_raw_frame_free(&f);
    mk_link_free(got);
    mkt_raw_close(r);
    mk_listener_free(l);
    mk_network_free(n);
}

static void pipeline_open_to_other_network_succeeds_then_recv_reports_101(void **state) {
    (void)state;
    mk_network_t *a = mkt_net_new(other_network), *b = mkt_net_new(NULL);
    mk_error_t e;
    mk_listener_t *lb = mk_network_listen(b, ALPN, 0, &e);
    assert_non_null(lb);
    mk_peer_addr_t to;
    mk_network_addr(b, &to);
    mk_link_t *l = mk_link_open(a, &to, ALPN, MK_LINK_PIPELINE, mkt_ms(5000), &e);
    if (!l) fail_msg("pipelined open failed: %s", e.msg);
    mk_frame_t f = MK_FRAME_INIT;
    int rc = mk_link_recv(l, &f, mkt_ms(3000), &e);
    if (rc == MK_OK) mk_frame_free(&f);
    assert_int_equal(rc, MK_ECLOSED);
    assert_int_equal(e.close_code, MK_CLOSE_DIFFERENT_NETWORK);
    assert_int_equal(mk_link_send(l, "x", 1, 0, &e), MK_ECLOSED);
    assert_null(mk_listener_accept(lb, mkt_ms(300), &e));  /* b never hands the link over */
    mk_link_free(l);
    mk_listener_free(lb);
    mk_network_free(a);
    mk_network_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_and_stay_silent_is_cut_after_handshake_timeout),
        cmocka_unit_test(stall_midway_through_client_hello_is_cut_after_handshake_timeout),
        cmocka_unit_test(tls_without_hello_gets_close_104),
        cmocka_unit_test(hello_before_deadline_keeps_link_open_past_it),
        cmocka_unit_test(pipeline_open_to_other_network_succeeds_then_recv_reports_101),
    };
    return mkt_run("integration.net.timeouts", tests, sizeof tests / sizeof tests[0]);
}
