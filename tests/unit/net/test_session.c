/* unit/net/test_session.c — the sans-I/O link session (net/session.h): the Hello exchange, data before
 * Hello, a second Hello, a Hello from another network (both short ids in the reason), Close received,
 * transport end, the handshake timeout before and after OPEN, nothing after CLOSED, and the send limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "net/session.h"
#include "support/mkt.h"

#include <string.h>

#define OUR_LIMIT (16u << 20)

static mk_network_id_t net_a(void) { return mk_id_from_str("session-net-a"); }
static mk_network_id_t net_b(void) { return mk_id_from_str("session-net-b"); }

static void start(mk_link_session_t *s) {
    mk_network_id_t a = net_a();
    mk_sess_init(s, &a, OUR_LIMIT);
    assert_int_equal(s->state, MK_SESS_HANDSHAKE);
}

static void open_session(mk_link_session_t *s, uint32_t peer_limit) {
    start(s);
    mk_network_id_t a = net_a();
    mk_sess_action_t act = mk_sess_on_hello(s, MK_LINK_VERSION, &a, peer_limit);
    assert_int_equal(act.kind, MK_SESS_OPENED);
    assert_int_equal(s->state, MK_SESS_OPEN);
}

static void assert_send_close(const mk_sess_action_t *act, const mk_link_session_t *s, uint32_t code) {
    assert_int_equal(act->kind, MK_SESS_SEND_CLOSE);
    assert_int_equal(act->code, code);
    assert_false(act->remote);
    assert_int_equal(s->state, MK_SESS_CLOSED);
    assert_int_equal(s->close_code, code);
    assert_false(s->close_remote);
    assert_string_equal(s->close_reason, act->reason);
}

static void hello_with_our_network_opens_and_data_is_delivered(void **state) {
    mk_link_session_t s;
    open_session(&s, 4096);
    assert_int_equal(s.version, MK_LINK_VERSION);
    assert_int_equal(s.peer_max_frame, 4096);
    mk_sess_action_t act = mk_sess_on_data(&s);
    assert_int_equal(act.kind, MK_SESS_DELIVER);
    assert_int_equal(s.state, MK_SESS_OPEN);
}

static void data_before_hello_sends_close_400(void **state) {
    mk_link_session_t s;
    start(&s);
    mk_sess_action_t act = mk_sess_on_data(&s);
    assert_send_close(&act, &s, MK_CLOSE_PROTOCOL_VIOLATION);
    assert_non_null(strstr(act.reason, "Hello"));
}

static void hello_with_other_network_sends_close_101_naming_both_short_ids(void **state) {
    mk_link_session_t s;
    start(&s);
    mk_network_id_t a = net_a(), b = net_b();
    mk_sess_action_t act = mk_sess_on_hello(&s, MK_LINK_VERSION, &b, 4096);
    assert_send_close(&act, &s, MK_CLOSE_DIFFERENT_NETWORK);
    char ours[MK_ID_SHORT_LEN + 1], theirs[MK_ID_SHORT_LEN + 1];
    assert_non_null(strstr(act.reason, mk_id_short(&a, ours)));
    assert_non_null(strstr(act.reason, mk_id_short(&b, theirs)));
    assert_int_equal(s.peer_max_frame, 0);  /* a refused Hello sets nothing */
}

static void second_hello_sends_close_400(void **state) {
    mk_link_session_t s;
    open_session(&s, 4096);
    mk_network_id_t a = net_a();
    mk_sess_action_t act = mk_sess_on_hello(&s, MK_LINK_VERSION, &a, 4096);
    assert_send_close(&act, &s, MK_CLOSE_PROTOCOL_VIOLATION);
    assert_non_null(strstr(act.reason, "Hello"));
}

static void hello_with_version_0_or_max_frame_0_sends_close_400(void **state) {
    mk_link_session_t s;
    mk_network_id_t a = net_a();
    start(&s);
    mk_sess_action_t act = mk_sess_on_hello(&s, 0, &a, 4096);
    assert_send_close(&act, &s, MK_CLOSE_PROTOCOL_VIOLATION);
    start(&s);
    act = mk_sess_on_hello(&s, MK_LINK_VERSION, &a, 0);
    assert_send_close(&act, &s, MK_CLOSE_PROTOCOL_VIOLATION);
}

static void hello_with_newer_version_negotiates_ours(void **state) {
    mk_link_session_t s;
    start(&s);
    mk_network_id_t a = net_a();
    mk_sess_action_t act = mk_sess_on_hello(&s, 7, &a, 4096);
    assert_int_equal(act.kind, MK_SESS_OPENED);
    assert_int_equal(s.version, MK_LINK_VERSION);
}

static void close_received_ends_remote_with_code_and_reason(void **state) {
    mk_link_session_t s;
    open_session(&s, 4096);
    mk_sess_action_t act = mk_sess_on_close(&s, 200, "done", 4);
    assert_int_equal(act.kind, MK_SESS_ENDED);
    assert_int_equal(act.code, 200);
    assert_true(act.remote);
    assert_string_equal(act.reason, "done");
    assert_int_equal(s.state, MK_SESS_CLOSED);
    assert_int_equal(s.close_code, 200);
    assert_true(s.close_remote);
    assert_string_equal(s.close_reason, "done");
}

static void close_received_during_handshake_ends_remote(void **state) {
    mk_link_session_t s;
    start(&s);
    mk_sess_action_t act = mk_sess_on_close(&s, 10413, "", 0);
    assert_int_equal(act.kind, MK_SESS_ENDED);
    assert_int_equal(act.code, 10413);
    assert_true(act.remote);
    assert_string_equal(act.reason, "");
}

static void close_reason_longer_than_256_is_cut(void **state) {
    mk_link_session_t s;
    open_session(&s, 4096);
    char reason[300];
    memset(reason, 'x', sizeof reason);
    mk_sess_action_t act = mk_sess_on_close(&s, 400, reason, sizeof reason);
    assert_int_equal(act.kind, MK_SESS_ENDED);
    assert_int_equal(strlen(act.reason), MK_CLOSE_REASON_MAX);
    assert_int_equal(strlen(s.close_reason), MK_CLOSE_REASON_MAX);
}

static void transport_end_ends_local_103_with_the_cause(void **state) {
    mk_link_session_t s;
    open_session(&s, 4096);
    mk_sess_action_t act = mk_sess_on_transport_end(&s, "ECONNRESET");
    assert_int_equal(act.kind, MK_SESS_ENDED);
    assert_int_equal(act.code, MK_CLOSE_UNEXPECTED);
    assert_false(act.remote);
    assert_string_equal(act.reason, "ECONNRESET");
    assert_int_equal(s.state, MK_SESS_CLOSED);
    assert_int_equal(s.close_code, MK_CLOSE_UNEXPECTED);
}

static void handshake_timeout_in_handshake_sends_close_104(void **state) {
    mk_link_session_t s;
    start(&s);
    mk_sess_action_t act = mk_sess_on_handshake_timeout(&s);
    assert_send_close(&act, &s, MK_CLOSE_HANDSHAKE_TIMEOUT);
    assert_true(strlen(act.reason) > 0);
}

static void handshake_timeout_after_open_does_nothing(void **state) {
    mk_link_session_t s;
    open_session(&s, 4096);
    mk_sess_action_t act = mk_sess_on_handshake_timeout(&s);
    assert_int_equal(act.kind, MK_SESS_NONE);
    assert_int_equal(s.state, MK_SESS_OPEN);
}

static void violation_sends_close_400_with_the_cause(void **state) {
    mk_link_session_t s;
    open_session(&s, 4096);
    mk_sess_action_t act = mk_sess_on_violation(&s, "frame", "frame too large: 5000 > 4096");
    assert_send_close(&act, &s, MK_CLOSE_PROTOCOL_VIOLATION);
    assert_string_equal(act.reason, "frame too large: 5000 > 4096");
    assert_string_equal(act.what, "frame");
}

static void local_close_sends_our_code(void **state) {
    mk_link_session_t s;
    open_session(&s, 4096);
    mk_sess_action_t act = mk_sess_local_close(&s, 200, "done");
    assert_send_close(&act, &s, 200);
    assert_string_equal(act.reason, "done");
}

/* Every event after CLOSED is NONE and leaves code, side and reason as they were. */
static void everything_after_closed_does_nothing(void **state) {
    for (int how = 0; how < 4; how++) {
        mk_link_session_t s;
        open_session(&s, 4096);
        mk_sess_action_t first;
        switch (how) {
        case 0: first = mk_sess_on_close(&s, 204, "bye", 3); break;
        case 1: first = mk_sess_on_transport_end(&s, "EOF"); break;
        case 2: first = mk_sess_local_close(&s, 102, "cancelled"); break;
        default: first = mk_sess_on_violation(&s, "control", "bad"); break;
        }
        assert_int_equal(s.state, MK_SESS_CLOSED);
        mk_link_session_t before = s;
        mk_network_id_t a = net_a(), b = net_b();
        mk_sess_action_t acts[] = {
            mk_sess_on_data(&s),
            mk_sess_on_hello(&s, 1, &a, 4096),
            mk_sess_on_hello(&s, 1, &b, 4096),
            mk_sess_on_close(&s, 400, "late", 4),
            mk_sess_on_violation(&s, "frame", "late"),
            mk_sess_on_handshake_timeout(&s),
            mk_sess_on_transport_end(&s, "late EOF"),
            mk_sess_local_close(&s, 200, "late"),
        };
        for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
            assert_int_equal(acts[i].kind, MK_SESS_NONE);
        }
        assert_int_equal(s.state, MK_SESS_CLOSED);
        assert_int_equal(s.close_code, first.code);
        assert_int_equal(s.close_remote, before.close_remote);
        assert_string_equal(s.close_reason, before.close_reason);
    }
}

static void send_limit_is_ours_until_the_peer_announces_its_own(void **state) {
    mk_link_session_t s;
    start(&s);
    assert_int_equal(mk_sess_send_limit(&s), OUR_LIMIT);
    mk_network_id_t a = net_a();
    assert_int_equal(mk_sess_on_hello(&s, 1, &a, 1024).kind, MK_SESS_OPENED);
    assert_int_equal(mk_sess_send_limit(&s), 1024);
    open_session(&s, 1u << 30);
    assert_int_equal(mk_sess_send_limit(&s), 1u << 30);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hello_with_our_network_opens_and_data_is_delivered),
        cmocka_unit_test(data_before_hello_sends_close_400),
        cmocka_unit_test(hello_with_other_network_sends_close_101_naming_both_short_ids),
        cmocka_unit_test(second_hello_sends_close_400),
        cmocka_unit_test(hello_with_version_0_or_max_frame_0_sends_close_400),
        cmocka_unit_test(hello_with_newer_version_negotiates_ours),
        cmocka_unit_test(close_received_ends_remote_with_code_and_reason),
        cmocka_unit_test(close_received_during_handshake_ends_remote),
        cmocka_unit_test(close_reason_longer_than_256_is_cut),
        cmocka_unit_test(transport_end_ends_local_103_with_the_cause),
        cmocka_unit_test(handshake_timeout_in_handshake_sends_close_104),
        cmocka_unit_test(handshake_timeout_after_open_does_nothing),
        cmocka_unit_test(violation_sends_close_400_with_the_cause),
        cmocka_unit_test(local_close_sends_our_code),
        cmocka_unit_test(everything_after_closed_does_nothing),
        cmocka_unit_test(send_limit_is_ours_until_the_peer_announces_its_own),
    };
    return mkt_run("unit.net.session", tests, sizeof tests / sizeof tests[0]);
}
