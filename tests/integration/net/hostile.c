/* integration/net/hostile — a hostile peer (mkt_raw_link) against one node (spec 10 §7 item 7 and the
 * framing rules of §2.2/§4.3): an oversize header after Hello gets Close 400 without buffering 16 MiB;
 * data before Hello, a second Hello and a reserved control tag get 400; a frame cut off by EOF ends the
 * link (103); a foreign network id gets 101, an unknown ALPN 100, our own PeerId is refused. Each time the
 * node keeps serving its other links and new ones, and the matching counter rises. */
#include "support/mkt_net.h"
#include "support/mkt_raw.h"

#include "net/framer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALPN "/test/hostile"
#define MIB (1024u * 1024u)

/* ---- helpers ---- */

static mkt_raw_link_t *raw_to(mk_network_t *n, const char *alpn) {
    mk_error_t e;
    mkt_raw_opts_t o = {.mode = MKT_RAW_TLS_ED25519, .alpn = alpn};
    mkt_raw_link_t *r = mkt_raw_link(n, &o, &e);
    if (!r) fail_msg("mkt_raw_link: %s", e.msg);
    return r;
}

/* Reads the node's Hello, which it sends as soon as TLS is up, and checks it. */
static void expect_node_hello(mkt_raw_link_t *r, mk_network_t *n) {
    mkt_raw_frame_t f;
    assert_int_equal(mkt_raw_read_frame(r, &f, mkt_ms(3000)), MK_OK);
    assert_true(f.control);
    assert_int_equal(f.kind, MK_CONTROL_HELLO);
    assert_int_equal(f.hello_version, 1);
    mk_network_id_t id = mk_network_id(n);
    assert_memory_equal(f.hello_network_id.b, id.b, 32);
    assert_int_equal(f.hello_max_frame, 16u << 20);
    mkt_raw_frame_free(&f);
}

/* The node's next frames end with Close(code) whose reason holds `reason_sub`, then the stream ends. */
static void expect_close_then_eof(mkt_raw_link_t *r, uint32_t code, const char *reason_sub) {
    uint32_t got = 0;
    char reason[300];
    int rc = mkt_raw_read_close(r, mkt_ms(3000), &got, reason, sizeof reason);
    if (rc != MK_OK) fail_msg("no Close frame: %s (%s)", mk_strerror(rc), mkt_raw_why(r));
    if (got != code) fail_msg("Close %u \"%s\", expected %u", got, reason, code);
    if (reason_sub && !strstr(reason, reason_sub)) fail_msg("Close reason \"%s\" lacks \"%s\"", reason, reason_sub);
    assert_int_equal(mkt_raw_wait_eof(r, mkt_ms(3000)), MK_OK);
}

/* Frames flow both ways over an established pair. */
static void assert_pair_flows(mkt_pair_t *p, int frames) {
    mk_error_t e;
    for (int i = 0; i < frames; i++) {
        assert_int_equal(mk_link_send(p->a, &i, sizeof i, mkt_ms(2000), &e), MK_OK);
        assert_int_equal(mk_link_send(p->b, &i, sizeof i, mkt_ms(2000), &e), MK_OK);
    }
    for (int i = 0; i < frames; i++) {
        mk_frame_t fa = MK_FRAME_INIT, fb = MK_FRAME_INIT;
        assert_int_equal(mk_link_recv(p->b, &fb, mkt_ms(2000), &e), MK_OK);
        assert_int_equal(mk_link_recv(p->a, &fa, mkt_ms(2000), &e), MK_OK);
        assert_int_equal(fa.len, sizeof i);
        assert_int_equal(fb.len, sizeof i);
        assert_memory_equal(fa.data, &i, sizeof i);
        assert_memory_equal(fb.data, &i, sizeof i);
        mk_frame_free(&fa);
        mk_frame_free(&fb);
    }
}

/* Accepts on l until the link from `peer` arrives; links from others (raw peers) are freed. */
static mk_link_t *accept_from(mk_listener_t *l, mk_peer_id_t peer) {
    mk_error_t e;
    for (;;) {
        mk_link_t *got = mk_listener_accept(l, mkt_ms(3000), &e);
        if (!got) fail_msg("mk_listener_accept: %s", e.msg);
        mk_peer_id_t who = mk_link_peer(got);
        if (mk_id_eq(&who, &peer)) return got;
        mk_link_free(got);
    }
}

/* A fresh link from na to nb opens and carries a frame. */
static void assert_new_link_opens(mkt_pair_t *p) {
    mk_link_t *a = mkt_dial(p->na, p->nb, ALPN);
    mk_link_t *b = accept_from(p->lb, mk_network_peer_id(p->na));
    mk_error_t e;
    assert_int_equal(mk_link_send(a, "fresh", 5, mkt_ms(2000), &e), MK_OK);
    mk_frame_t f = MK_FRAME_INIT;
    assert_int_equal(mk_link_recv(b, &f, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.data, "fresh", 5);
    mk_frame_free(&f);
    mk_link_free(a);
    mk_link_free(b);
}

static double violations(mk_network_t *n, const char *what) {
    char sub[64];
    snprintf(sub, sizeof sub, "what=\"%s\"", what);
    return mkt_metric(n, "mosaik_network_protocol_violations", sub);
}

static double closed_with(mk_network_t *n, const char *code, const char *by) {
    char sub[64];
    snprintf(sub, sizeof sub, "code=\"%s\"", code);
    double total = 0;
    mk_buf_t out = MK_BUF_INIT;  /* sum only the series carrying both labels */
    if (mk_metrics_render(n, &out, NULL) != MK_OK) return 0;
    mk_buf_append(&out, "", 1);
    char bysub[32];
    snprintf(bysub, sizeof bysub, "by=\"%s\"", by);
    for (char *line = out.ptr; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (strncmp(line, "mosaik_network_connections_closed{", 34) == 0 && strstr(line, sub) &&
            strstr(line, bysub)) {
            char *sp = strrchr(line, ' ');
            if (sp) total += strtod(sp + 1, NULL);
        }
        line = next;
    }
    mk_buf_free(&out);
    return total;
}

static double hs_failures(mk_network_t *n, const char *reason) {
    char sub[64];
    snprintf(sub, sizeof sub, "reason=\"%s\"", reason);
    return mkt_metric(n, "mosaik_network_handshake_failures", sub);
}

/* Process memory now: resident set and C heap. */
typedef struct mem_sample { size_t rss, heap; } mem_sample_t;

static mem_sample_t mem_now(void) { return (mem_sample_t){mkt_raw_rss_bytes(), mkt_raw_heap_bytes()}; }

/* Fails when either measure grew by 16 MiB or more since `before`. */
static void assert_no_16mib_growth(mem_sample_t before, mem_sample_t after, const char *when) {
    if (after.rss >= before.rss + 16 * MIB) fail_msg("RSS grew from %zu to %zu bytes %s", before.rss, after.rss, when);
    if (after.heap >= before.heap + 16 * MIB)
        fail_msg("heap grew from %zu to %zu bytes %s", before.heap, after.heap, when);
}

/* Samples memory for T(secs) (the node works on its own thread) and returns the largest values seen. */
static mem_sample_t mem_peak_for(double secs) {
    mem_sample_t peak = mem_now();
    double end = mkt_now() + T(secs);
    while (mkt_now() < end) {
        mem_sample_t m = mem_now();
        if (m.rss > peak.rss) peak.rss = m.rss;
        if (m.heap > peak.heap) peak.heap = m.heap;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return peak;
}

static int restore_log_capture(void **state) {
    (void)state;
    mkt_log_capture_begin();
    return 0;
}

/* ---- cases ---- */

static void send_oversize_header_after_hello_gets_400_and_node_keeps_serving(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    double v0 = violations(p.nb, "oversize"), c0 = closed_with(p.nb, "400", "local");
    mem_sample_t m0 = mem_now();
    assert_true(m0.rss > 0);

    mkt_raw_link_t *r = raw_to(p.nb, ALPN);
    assert_string_equal(mkt_raw_alpn(r), ALPN);
    expect_node_hello(r, p.nb);
    assert_int_equal(mkt_raw_send_hello(r, mkt_network_id()), MK_OK);
    assert_int_equal(mkt_raw_send_header(r, 0x01000001u), MK_OK);  /* 16 MiB + 1 data frame */
    expect_close_then_eof(r, MK_CLOSE_PROTOCOL_VIOLATION, "frame too large");
    assert_no_16mib_growth(m0, mem_now(), "after an oversize header");
    mkt_raw_close(r);

    MKT_WAIT_UNTIL(violations(p.nb, "oversize") >= v0 + 1, 2);
    MKT_WAIT_UNTIL(closed_with(p.nb, "400", "local") >= c0 + 1, 2);
    assert_pair_flows(&p, 100);
    assert_new_link_opens(&p);
    mkt_pair_close(&p);
}

static void send_data_before_hello_gets_400(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    double v0 = violations(p.nb, "hello");
    mkt_raw_link_t *r = raw_to(p.nb, ALPN);
    assert_int_equal(mkt_raw_send_frame(r, "early", 5), MK_OK);
    expect_close_then_eof(r, MK_CLOSE_PROTOCOL_VIOLATION, "before Hello");
    mkt_raw_close(r);
    MKT_WAIT_UNTIL(violations(p.nb, "hello") >= v0 + 1, 2);
    mk_error_t e;
    assert_null(mk_listener_accept(p.lb, mkt_ms(200), &e));  /* never handed to the listener */
    assert_pair_flows(&p, 10);
    assert_new_link_opens(&p);
    mkt_pair_close(&p);
}

static void send_second_hello_gets_400(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    double v0 = violations(p.nb, "hello");
    mkt_raw_link_t *r = raw_to(p.nb, ALPN);
    assert_int_equal(mkt_raw_send_hello(r, mkt_network_id()), MK_OK);
    assert_int_equal(mkt_raw_send_frame(r, "ok", 2), MK_OK);
    assert_int_equal(mkt_raw_send_hello(r, mkt_network_id()), MK_OK);
    expect_close_then_eof(r, MK_CLOSE_PROTOCOL_VIOLATION, "second Hello");
    mkt_raw_close(r);
    MKT_WAIT_UNTIL(violations(p.nb, "hello") >= v0 + 1, 2);
    /* the raw link was verified: the listener got it, with the frame sent before the violation */
    mk_link_t *got = mk_listener_accept(p.lb, mkt_ms(2000), NULL);
    assert_non_null(got);
    mk_error_t e;
    mk_frame_t f = MK_FRAME_INIT;
    assert_int_equal(mk_link_recv(got, &f, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(f.len, 2);
    mk_frame_free(&f);
    assert_int_equal(mk_link_recv(got, &f, mkt_ms(2000), &e), MK_ECLOSED);
    assert_int_equal(e.close_code, MK_CLOSE_PROTOCOL_VIOLATION);
    assert_false(e.close_remote);
    mk_link_free(got);
    assert_pair_flows(&p, 10);
    mkt_pair_close(&p);
}

static void send_reserved_control_tag_gets_400_before_and_after_hello(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    double v0 = violations(p.nb, "control");
    static const uint8_t tag2[] = {0x80, 0x00, 0x00, 0x01, 0x02};  /* control frame, body = enum tag 2 */
    for (int after_hello = 0; after_hello <= 1; after_hello++) {
        mkt_raw_link_t *r = raw_to(p.nb, ALPN);
        if (after_hello) assert_int_equal(mkt_raw_send_hello(r, mkt_network_id()), MK_OK);
        assert_int_equal(mkt_raw_send(r, tag2, sizeof tag2), MK_OK);
        expect_close_then_eof(r, MK_CLOSE_PROTOCOL_VIOLATION, NULL);
        mkt_raw_close(r);
    }
    /* a control frame announcing more than 1024 bytes is refused from its header */
    mkt_raw_link_t *r = raw_to(p.nb, ALPN);
    assert_int_equal(mkt_raw_send_hello(r, mkt_network_id()), MK_OK);
    assert_int_equal(mkt_raw_send_header(r, 0x80000401u), MK_OK);
    expect_close_then_eof(r, MK_CLOSE_PROTOCOL_VIOLATION, "control frame too large");
    mkt_raw_close(r);
    MKT_WAIT_UNTIL(violations(p.nb, "control") >= v0 + 3, 2);
    assert_pair_flows(&p, 10);
    assert_new_link_opens(&p);
    mkt_pair_close(&p);
}

static void cut_off_max_size_frame_then_eof_ends_link_without_buffering(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    double c0 = closed_with(p.nb, "103", "local");
    mem_sample_t m0 = mem_now();
    mkt_raw_link_t *r = raw_to(p.nb, ALPN);
    expect_node_hello(r, p.nb);
    assert_int_equal(mkt_raw_send_hello(r, mkt_network_id()), MK_OK);
    uint8_t garbage[4096];
    mkt_rand_bytes(garbage, sizeof garbage);
    assert_int_equal(mkt_raw_send_header(r, 16u << 20), MK_OK);  /* exactly the limit: legal */
    assert_int_equal(mkt_raw_send(r, garbage, sizeof garbage), MK_OK);
    mk_link_t *got = mk_listener_accept(p.lb, mkt_ms(2000), NULL);  /* the raw link was verified */
    assert_non_null(got);
    assert_no_16mib_growth(m0, mem_peak_for(0.2), "while a 16 MiB frame was pending");
    assert_int_equal(mkt_raw_shutdown(r, false), MK_OK);  /* EOF without close_notify or Close */
    assert_int_equal(mkt_raw_wait_eof(r, mkt_ms(3000)), MK_OK);
    mkt_raw_close(r);

    mk_error_t e;
    mk_frame_t f = MK_FRAME_INIT;
    assert_int_equal(mk_link_recv(got, &f, mkt_ms(3000), &e), MK_ECLOSED);  /* the partial frame is dropped */
    assert_int_equal(e.close_code, MK_CLOSE_UNEXPECTED);
    assert_false(e.close_remote);
    mk_link_free(got);
    MKT_WAIT_UNTIL(closed_with(p.nb, "103", "local") >= c0 + 1, 2);
    assert_pair_flows(&p, 10);
    assert_new_link_opens(&p);
    mkt_pair_close(&p);
}

static void send_hello_with_foreign_network_id_gets_101(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    double f0 = hs_failures(p.nb, "network");
    mkt_raw_link_t *r = raw_to(p.nb, ALPN);
    assert_int_equal(mkt_raw_send_hello(r, mk_id_from_str("some-other-network")), MK_OK);
    expect_close_then_eof(r, MK_CLOSE_DIFFERENT_NETWORK, "network");
    mkt_raw_close(r);
    MKT_WAIT_UNTIL(hs_failures(p.nb, "network") >= f0 + 1, 2);
    mk_error_t e;
    assert_null(mk_listener_accept(p.lb, mkt_ms(200), &e));
    assert_pair_flows(&p, 10);
    mkt_pair_close(&p);
}

static void offer_unknown_alpn_gets_100_before_any_hello(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    double f0 = hs_failures(p.nb, "alpn");
    mkt_raw_link_t *r = raw_to(p.nb, "/test/nobody-listens");
    assert_string_equal(mkt_raw_alpn(r), "/test/nobody-listens");  /* selected so that Close 100 can follow */
    mkt_raw_frame_t f;
    assert_int_equal(mkt_raw_read_frame(r, &f, mkt_ms(3000)), MK_OK);
    assert_true(f.control);
    assert_int_equal(f.kind, MK_CONTROL_CLOSE);  /* the first frame: no Hello for an unrouted ALPN */
    assert_int_equal(f.close_code, MK_CLOSE_INVALID_ALPN);
    mkt_raw_frame_free(&f);
    assert_int_equal(mkt_raw_wait_eof(r, mkt_ms(3000)), MK_OK);
    mkt_raw_close(r);
    MKT_WAIT_UNTIL(hs_failures(p.nb, "alpn") >= f0 + 1, 2);
    assert_pair_flows(&p, 10);
    mkt_pair_close(&p);
}

static void send_close_before_hello_ends_link_quietly(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    double v0 = mkt_metric(p.nb, "mosaik_network_protocol_violations", NULL);
    double c0 = closed_with(p.nb, "200", "remote");
    mkt_raw_link_t *r = raw_to(p.nb, ALPN);
    assert_int_equal(mkt_raw_send_close(r, MK_CLOSE_SUCCESS, "never mind"), MK_OK);
    /* a Close is valid before Hello: nothing is echoed, the node just ends the link */
    mkt_raw_frame_t f;
    int rc;
    while ((rc = mkt_raw_read_frame(r, &f, mkt_ms(3000))) == MK_OK) {
        assert_int_equal(f.kind, MK_CONTROL_HELLO);
        mkt_raw_frame_free(&f);
    }
    assert_int_equal(rc, MK_ECLOSED);
    mkt_raw_close(r);
    MKT_WAIT_UNTIL(closed_with(p.nb, "200", "remote") >= c0 + 1, 2);
    assert_true(mkt_metric(p.nb, "mosaik_network_protocol_violations", NULL) == v0);
    assert_pair_flows(&p, 10);
    mkt_pair_close(&p);
}

/* Log sink counting warn-or-worse lines that mention the node's own PeerId being presented. */
static void own_id_warn_sink(void *ctx, mk_log_level_t lvl, const char *module, const char *line) {
    (void)module;
    if (lvl <= MK_LOG_WARN && strstr(line, "own PeerId")) (*(int *)ctx)++;
}

static void present_node_own_peer_id_is_refused_with_warning(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    static int warnings;  /* static: the sink must never point into a dead frame */
    warnings = 0;
    mk_log_set_sink(own_id_warn_sink, &warnings);
    double f0 = hs_failures(p.nb, "identity");
    mk_secret_key_t sk;
    mk_network_secret_key(p.nb, &sk);
    mkt_raw_opts_t o = {.mode = MKT_RAW_TLS_ED25519, .alpn = ALPN, .key = &sk};
    mk_error_t e;
    mkt_raw_link_t *r = mkt_raw_link(p.nb, &o, &e);
    mk_secret_key_wipe(&sk);
    if (r) {  /* TLS 1.3: the client finishes first; the node's refusal arrives as an alert or EOF */
        mkt_raw_frame_t f;
        int rc = mkt_raw_read_frame(r, &f, mkt_ms(3000));
        if (rc == MK_OK) {
            mkt_raw_frame_free(&f);
            fail_msg("the node sent a frame to a peer presenting its own PeerId");
        }
        assert_int_equal(rc, MK_ECLOSED);
        mkt_raw_close(r);
    }
    MKT_WAIT_UNTIL(hs_failures(p.nb, "identity") >= f0 + 1, 2);
    assert_null(mk_listener_accept(p.lb, mkt_ms(200), &e));
    mkt_log_capture_begin();  /* back to the capture sink (the teardown does it too, after a failure) */
    assert_true(warnings >= 1);  /* spec 10 §4.1: refused and logged at warn */
    assert_pair_flows(&p, 10);
    mkt_pair_close(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(send_oversize_header_after_hello_gets_400_and_node_keeps_serving),
        cmocka_unit_test(send_data_before_hello_gets_400),
        cmocka_unit_test(send_second_hello_gets_400),
        cmocka_unit_test(send_reserved_control_tag_gets_400_before_and_after_hello),
        cmocka_unit_test(cut_off_max_size_frame_then_eof_ends_link_without_buffering),
        cmocka_unit_test(send_hello_with_foreign_network_id_gets_101),
        cmocka_unit_test(offer_unknown_alpn_gets_100_before_any_hello),
        cmocka_unit_test(send_close_before_hello_ends_link_quietly),
        cmocka_unit_test_teardown(present_node_own_peer_id_is_refused_with_warning, restore_log_capture),
    };
    return mkt_run("integration.net.hostile", tests, sizeof tests / sizeof tests[0]);
}
