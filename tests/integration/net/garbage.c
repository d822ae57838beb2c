/* integration/net/garbage — spec 10 §7 item 8, scaled to run in seconds: hundreds of hostile connections
 * (random bytes without TLS, TLS with an RSA or no certificate, TLS without ALPN, TLS then random bytes,
 * connect-and-silence, TLS-and-silence, ClientHellos trickled a byte at a time) against one node with a
 * 500 ms handshake timeout. The node must not crash, its normal link keeps working throughout, pending
 * handshakes return to 0 within handshake_timeout_ms + T(1), failure/violation counters grow, warnings
 * stay rate-limited, and no fd is left behind. */
#include "support/mkt_net.h"
#include "support/mkt_raw.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define ALPN "/test/garbage"
#define CONNECTIONS 210
#define HANDSHAKE_MS 500
#define MAX_SILENT CONNECTIONS
#define SLOW_LINKS 8

enum garbage_kind {
    PLAIN_RANDOM = 0,   /* random bytes, no TLS, then gone */
    TLS_RSA_CERT,       /* TLS with an RSA-2048 certificate */
    TLS_NO_CERT,        /* TLS without any client certificate */
    TLS_NO_ALPN,        /* TLS, Ed25519, no ALPN offered → Close 100 */
    TLS_RANDOM,         /* TLS, Ed25519, valid ALPN, then random bytes, then gone */
    TCP_SILENT,         /* TCP connect, then nothing (kept open) */
    TLS_SILENT,         /* TLS up, then no Hello (kept open) → Close 104 */
    KIND_COUNT
};

static void short_handshake(mk_network_config_t *cfg) {
    cfg->handshake_timeout_ms = HANDSHAKE_MS;
    cfg->shutdown_linger_ms = 200;
}

static double metric_sub(mk_network_t *n, const char *name, const char *label, const char *value) {
    char sub[96];
    snprintf(sub, sizeof sub, "%s=\"%s\"", label, value);
    return mkt_metric(n, name, sub);
}

/* One ping-pong on the established pair. */
static void ping_pair(mkt_pair_t *p, uint32_t seq) {
    mk_error_t e;
    assert_int_equal(mk_link_send(p->a, &seq, sizeof seq, mkt_ms(2000), &e), MK_OK);
    mk_frame_t f = MK_FRAME_INIT;
    if (mk_link_recv(p->b, &f, mkt_ms(2000), &e) != MK_OK) fail_msg("normal link stalled at ping %u: %s", seq, e.msg);
    assert_int_equal(f.len, sizeof seq);
    assert_memory_equal(f.data, &seq, sizeof seq);
    mk_frame_free(&f);
    assert_int_equal(mk_link_send(p->b, &seq, sizeof seq, mkt_ms(2000), &e), MK_OK);
    if (mk_link_recv(p->a, &f, mkt_ms(2000), &e) != MK_OK) fail_msg("normal link stalled at pong %u: %s", seq, e.msg);
    assert_memory_equal(f.data, &seq, sizeof seq);
    mk_frame_free(&f);
}

static mkt_raw_link_t *try_raw(mk_network_t *n, mkt_raw_mode_t mode, const char *alpn) {
    mkt_raw_opts_t o = {.mode = mode, .alpn = alpn, .timeout_ms = mkt_ms(3000)};
    return mkt_raw_link(n, &o, NULL);
}

static void send_random(mkt_raw_link_t *r, size_t max) {
    uint8_t buf[4096];
    size_t n = 1 + (size_t)(mkt_rand() % (max < sizeof buf ? max : sizeof buf));
    mkt_rand_bytes(buf, n);
    (void)mkt_raw_send(r, buf, n);  /* the node may already have hung up */
}

/* ---- the slow-handshake thread: real ClientHellos trickled one byte per 100 ms ---- */

typedef struct slow_run {
    mk_network_t *node;
    int opened, cut;            /* connections made / cut by the node */
    double worst_cut_s;         /* longest connect → cut */
    int sent_all;               /* a whole ClientHello went out before the cut (should not happen) */
} slow_run_t;

static bool link_ended(mkt_raw_link_t *r) { return mkt_raw_wait_eof(r, 0) == MK_OK; }

static void *slow_main(void *arg) {
    slow_run_t *s = arg;
    mk_buf_t hello = MK_BUF_INIT;
    if (mkt_raw_client_hello(ALPN, &hello) != MK_OK) return NULL;
    mkt_raw_link_t *links[SLOW_LINKS] = {0};
    double started[SLOW_LINKS];
    size_t pos[SLOW_LINKS] = {0};
    for (int i = 0; i < SLOW_LINKS; i++) {
        links[i] = try_raw(s->node, MKT_RAW_TCP, NULL);
        started[i] = mkt_now();
        if (links[i]) s->opened++;
    }
    double give_up = mkt_now() + HANDSHAKE_MS / 1000.0 + T(3);
    for (int live = s->opened; live > 0 && mkt_now() < give_up;) {
        live = 0;
        for (int i = 0; i < SLOW_LINKS; i++) {
            if (!links[i]) continue;
            bool gone = link_ended(links[i]) ||
                        (pos[i] < hello.len && mkt_raw_send(links[i], (uint8_t *)hello.ptr + pos[i], 1) != MK_OK);
            if (!gone && pos[i] < hello.len && ++pos[i] == hello.len) s->sent_all++;
            if (gone) {
                double took = mkt_now() - started[i];
                if (took > s->worst_cut_s) s->worst_cut_s = took;
                s->cut++;
                mkt_raw_close(links[i]);
                links[i] = NULL;
            } else {
                live++;
            }
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < SLOW_LINKS; i++) mkt_raw_close(links[i]);
    mk_buf_free(&hello);
    return NULL;
}

/* ---- the case ---- */

static void garbage_connections_leave_node_serving_and_clean(void **state) {
    (void)state;
    int fds0 = mkt_count_fds();
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, short_handshake);
    mk_network_t *node = p.nb;
    double tls0 = metric_sub(node, "mosaik_network_handshake_failures", "reason", "tls");
    double alpn0 = metric_sub(node, "mosaik_network_handshake_failures", "reason", "alpn");
    double timeout0 = metric_sub(node, "mosaik_network_handshake_failures", "reason", "timeout");
    double viol0 = mkt_metric(node, "mosaik_network_protocol_violations", NULL);
    double c104_0 = metric_sub(node, "mosaik_network_connections_closed", "code", "104");
    double c400_0 = metric_sub(node, "mosaik_network_connections_closed", "code", "400");
    mkt_log_clear();
    double t_start = mkt_now();

    slow_run_t slow = {.node = node};
    pthread_t slow_thread;
    assert_int_equal(pthread_create(&slow_thread, NULL, slow_main, &slow), 0);

    mkt_raw_link_t *silent_tcp[MAX_SILENT], *silent_tls[MAX_SILENT];
    int nsilent_tcp = 0, nsilent_tls = 0, made[KIND_COUNT] = {0}, close100 = 0;
    uint32_t seq = 0;
    for (int i = 0; i < CONNECTIONS; i++) {
        enum garbage_kind kind = (enum garbage_kind)(i % KIND_COUNT);
        mkt_raw_link_t *r = NULL;
        switch (kind) {
        case PLAIN_RANDOM:
            r = try_raw(node, MKT_RAW_TCP, NULL);
            if (r) send_random(r, 4096);
            break;
        case TLS_RSA_CERT:
            r = try_raw(node, MKT_RAW_TLS_RSA, ALPN);
            if (r) (void)mkt_raw_send_hello(r, mkt_network_id());
            break;
        case TLS_NO_CERT:
            r = try_raw(node, MKT_RAW_TLS_NO_CERT, ALPN);
            if (r) (void)mkt_raw_send_hello(r, mkt_network_id());
            break;
        case TLS_NO_ALPN: {
            r = try_raw(node, MKT_RAW_TLS_ED25519, NULL);
            uint32_t code = 0;
            if (r && mkt_raw_read_close(r, mkt_ms(2000), &code, NULL, 0) == MK_OK && code == MK_CLOSE_INVALID_ALPN)
                close100++;
            break;
        }
        case TLS_RANDOM:
            r = try_raw(node, MKT_RAW_TLS_ED25519, ALPN);
            if (r) send_random(r, 2048);
            break;
        case TCP_SILENT:
            r = try_raw(node, MKT_RAW_TCP, NULL);
            if (r) {
                silent_tcp[nsilent_tcp++] = r;
                made[kind]++;
                continue;
            }
            break;
        case TLS_SILENT:
            r = try_raw(node, MKT_RAW_TLS_ED25519, ALPN);
            if (r) {
                silent_tls[nsilent_tls++] = r;
                made[kind]++;
                continue;
            }
            break;
        case KIND_COUNT: break;
        }
        if (r) made[kind]++;
        mkt_raw_close(r);
        if (i % 10 == 9) ping_pair(&p, seq++);
    }
    double t_last = mkt_now();

    /* connections that reach TCP always get in: nothing was refused for a limit */
    for (int k = 0; k < KIND_COUNT; k++)
        if (k != TLS_RSA_CERT && k != TLS_NO_CERT && made[k] < CONNECTIONS / KIND_COUNT)
            fail_msg("kind %d: only %d of %d connections were made", k, made[k], CONNECTIONS / KIND_COUNT);
    assert_int_equal(close100, made[TLS_NO_ALPN]);

    /* every handshake still pending is cut within handshake_timeout_ms + T(1) of the last connection */
    double limit = HANDSHAKE_MS / 1000.0 + T(1) - (mkt_now() - t_last);
    MKT_WAIT_UNTIL(mkt_metric(node, "mosaik_network_handshakes_pending", NULL) == 0, limit > 0.1 ? limit : 0.1);
    for (int i = 0; i < nsilent_tcp; i++) {
        if (mkt_raw_wait_eof(silent_tcp[i], mkt_ms(1000)) != MK_OK) fail_msg("silent TCP connection %d not cut", i);
        mkt_raw_close(silent_tcp[i]);
    }
    for (int i = 0; i < nsilent_tls; i++) {
        uint32_t code = 0;
        int rc = mkt_raw_read_close(silent_tls[i], mkt_ms(1000), &code, NULL, 0);
        if (rc != MK_OK || code != MK_CLOSE_HANDSHAKE_TIMEOUT)
            fail_msg("silent TLS connection %d: %s, close code %u (%s)", i, mk_strerror(rc), code,
                     mkt_raw_why(silent_tls[i]));
        mkt_raw_close(silent_tls[i]);
    }
    pthread_join(slow_thread, NULL);
    assert_int_equal(slow.opened, SLOW_LINKS);
    assert_int_equal(slow.cut, SLOW_LINKS);
    assert_int_equal(slow.sent_all, 0);
    if (slow.worst_cut_s > HANDSHAKE_MS / 1000.0 + T(1))
        fail_msg("a trickled handshake lived %.2f s (timeout %d ms)", slow.worst_cut_s, HANDSHAKE_MS);

    /* the counters saw it all */
    MKT_WAIT_UNTIL(metric_sub(node, "mosaik_network_handshake_failures", "reason", "tls") >=
                       tls0 + made[TLS_RSA_CERT] + made[TLS_NO_CERT], 2);
    MKT_WAIT_UNTIL(metric_sub(node, "mosaik_network_handshake_failures", "reason", "alpn") >= alpn0 + close100, 2);
    MKT_WAIT_UNTIL(metric_sub(node, "mosaik_network_handshake_failures", "reason", "timeout") >=
                       timeout0 + nsilent_tcp + SLOW_LINKS, 2);
    MKT_WAIT_UNTIL(metric_sub(node, "mosaik_network_connections_closed", "code", "104") >= c104_0 + nsilent_tls, 2);
    assert_true(mkt_metric(node, "mosaik_network_protocol_violations", NULL) > viol0);

    print_message("garbage: %d connections + %d trickled in %.2f s; tls failures +%.0f, alpn +%.0f, timeouts +%.0f, "
                  "violations +%.0f, 104 closes +%.0f\n",
                  CONNECTIONS, SLOW_LINKS, mkt_now() - t_start,
                  metric_sub(node, "mosaik_network_handshake_failures", "reason", "tls") - tls0,
                  metric_sub(node, "mosaik_network_handshake_failures", "reason", "alpn") - alpn0,
                  metric_sub(node, "mosaik_network_handshake_failures", "reason", "timeout") - timeout0,
                  mkt_metric(node, "mosaik_network_protocol_violations", NULL) - viol0,
                  metric_sub(node, "mosaik_network_connections_closed", "code", "104") - c104_0);

    /* 400 closes log at warn, rate-limited to about one line per second */
    double elapsed = mkt_now() - t_start;
    double closes400 = metric_sub(node, "mosaik_network_connections_closed", "code", "400") - c400_0;
    size_t warn_lines = mkt_log_count("code=400");
    if ((double)warn_lines > elapsed + 2)
        fail_msg("%zu warn lines for %.0f closes with 400 in %.1f s", warn_lines, closes400, elapsed);

    /* the normal peer still works, and a new link opens */
    ping_pair(&p, seq++);
    mk_link_t *a2 = mkt_dial(p.na, node, ALPN);
    mk_error_t e;
    mk_link_t *b2 = mk_listener_accept(p.lb, mkt_ms(2000), &e);
    assert_non_null(b2);
    assert_int_equal(mk_link_send(a2, "after", 5, mkt_ms(2000), &e), MK_OK);
    mk_frame_t f = MK_FRAME_INIT;
    assert_int_equal(mk_link_recv(b2, &f, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(f.len, 5);
    mk_frame_free(&f);
    mk_link_free(a2);
    mk_link_free(b2);
    assert_int_equal(mkt_metric(node, "mosaik_network_handshakes_pending", NULL), 0);
    mkt_pair_close(&p);
    /* every node fd is closed by mk_network_free; allow the kernel a moment for the test's own */
    double t_fd = mkt_now();
    while (mkt_count_fds() > fds0 && mkt_now() - t_fd < T(2)) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (mkt_count_fds() != fds0) {
        mkt_print_fds();
        fail_msg("%d fds open, %d before the test", mkt_count_fds(), fds0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(garbage_connections_leave_node_serving_and_clean),
    };
    return mkt_run("integration.net.garbage", tests, sizeof tests / sizeof tests[0]);
}
