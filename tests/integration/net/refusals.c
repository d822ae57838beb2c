/* integration/net/refusals — opens that must fail, and how: wrong PeerId (MK_EIDENTITY naming both ids),
 * unknown ALPN (MK_EPROTO, close 100), another network (MK_EWRONGNET, 101), own PeerId, no address,
 * closed port, reserved ALPN, configuration errors naming the field. */
#include "support/mkt_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ALPN "/test/refuse"

static void other_network(mk_network_config_t *cfg) { cfg->network_id = mk_id_from_str("some-other-network"); }

static void dial_with_wrong_peer_id_fails_with_identity_error(void **state) {
    (void)state;
    mk_network_t *a = mkt_net_new(NULL), *b = mkt_net_new(NULL), *c = mkt_net_new(NULL);
    mk_error_t e;
    mk_listener_t *lb = mk_network_listen(b, ALPN, 0, &e);
    assert_non_null(lb);
    mk_peer_addr_t to;
    mk_network_addr(b, &to);
    to.peer = mk_network_peer_id(c);  /* b's addresses, c's identity */
    double t0 = mkt_now();
    mk_link_t *l = mk_link_open(a, &to, ALPN, 0, mkt_ms(5000), &e);
    assert_null(l);
    assert_int_equal(e.code, MK_EIDENTITY);
    assert_true(mkt_now() - t0 < T(2));
    char sb[MK_ID_SHORT_LEN + 1], sc[MK_ID_SHORT_LEN + 1];
    mk_peer_id_t pb = mk_network_peer_id(b), pc = mk_network_peer_id(c);
    assert_non_null(strstr(e.msg, mk_id_short(&pb, sb)));
    assert_non_null(strstr(e.msg, mk_id_short(&pc, sc)));
    assert_null(mk_listener_accept(lb, 200, &e));  /* b's handler never ran */
    MKT_WAIT_UNTIL(mkt_metric(a, "mosaik_network_connections_active", NULL) == 0, 2);
    MKT_WAIT_UNTIL(mkt_metric(b, "mosaik_network_connections_active", NULL) == 0, 2);
    mk_listener_free(lb);
    mk_network_free(a);
    mk_network_free(b);
    mk_network_free(c);
}

static void dial_unknown_alpn_fails_with_close_100(void **state) {
    (void)state;
    mk_network_t *a = mkt_net_new(NULL), *b = mkt_net_new(NULL);
    mk_peer_addr_t to;
    mk_network_addr(b, &to);
    mk_error_t e;
    assert_null(mk_link_open(a, &to, "/test/nobody-listens", 0, mkt_ms(5000), &e));
    assert_int_equal(e.code, MK_EPROTO);
    assert_int_equal(e.close_code, MK_CLOSE_INVALID_ALPN);
    assert_true(e.close_remote);
    mk_network_free(a);
    mk_network_free(b);
}

static void dial_other_network_fails_with_wrongnet_and_acceptor_never_sees_it(void **state) {
    (void)state;
    mk_network_t *a = mkt_net_new(other_network), *b = mkt_net_new(NULL);
    mk_error_t e;
    mk_listener_t *lb = mk_network_listen(b, ALPN, 0, &e);
    mk_peer_addr_t to;
    mk_network_addr(b, &to);
    assert_null(mk_link_open(a, &to, ALPN, 0, mkt_ms(5000), &e));
    assert_int_equal(e.code, MK_EWRONGNET);
    assert_int_equal(e.close_code, MK_CLOSE_DIFFERENT_NETWORK);
    assert_non_null(strstr(e.msg, "network"));
    assert_null(mk_listener_accept(lb, 300, &e));
    mk_listener_free(lb);
    mk_network_free(a);
    mk_network_free(b);
}

static void dial_self_no_address_or_closed_port_fails_clearly(void **state) {
    (void)state;
    mk_network_t *a = mkt_net_new(NULL);
    mk_peer_addr_t self;
    mk_network_addr(a, &self);
    mk_error_t e;
    assert_null(mk_link_open(a, &self, ALPN, 0, mkt_ms(2000), &e));
    assert_int_equal(e.code, MK_EINVAL);

    mk_peer_addr_t nowhere = {.peer = mk_id_from_str("nobody"), .naddrs = 0};
    assert_null(mk_link_open(a, &nowhere, ALPN, 0, mkt_ms(2000), &e));
    assert_int_equal(e.code, MK_ENOTFOUND);

    /* a port with nothing listening: bind one, learn it, close it */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
    getsockname(s, (struct sockaddr *)&sin, &len);
    close(s);
    mk_peer_addr_t closed = {.peer = mk_id_from_str("closed"), .naddrs = 1};
    memcpy(&closed.addrs[0], &sin, sizeof sin);
    double t0 = mkt_now();
    assert_null(mk_link_open(a, &closed, ALPN, 0, mkt_ms(5000), &e));
    assert_int_equal(e.code, MK_EUNREACH);
    assert_true(mkt_now() - t0 < T(1));
    mk_network_free(a);
}

static void listen_on_reserved_or_duplicate_alpn_is_refused(void **state) {
    (void)state;
    mk_network_t *a = mkt_net_new(NULL);
    mk_error_t e;
    assert_null(mk_network_listen(a, "/mosaik/x", 0, &e));
    assert_int_equal(e.code, MK_EPERM);
    mk_listener_t *l = mk_network_listen(a, ALPN, 0, &e);
    assert_non_null(l);
    assert_null(mk_network_listen(a, ALPN, 0, &e));
    assert_int_equal(e.code, MK_EEXIST);
    mk_listener_free(l);
    l = mk_network_listen(a, ALPN, 0, &e);  /* free unregisters */
    assert_non_null(l);
    mk_listener_free(l);
    mk_network_free(a);
}

static void config_errors_name_the_field(void **state) {
    (void)state;
    mk_error_t e;
    mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
    assert_null(mk_network_new(&cfg, &e));
    assert_int_equal(e.code, MK_EINVAL);
    assert_non_null(strstr(e.msg, "network"));
    cfg.network = "x";
    cfg.bind[0] = "127.0.0.1:99999";
    assert_null(mk_network_new(&cfg, &e));
    assert_non_null(strstr(e.msg, "bind[0]"));
    cfg.bind[0] = "127.0.0.1:0";
    cfg.max_frame_size = 100;
    assert_null(mk_network_new(&cfg, &e));
    assert_non_null(strstr(e.msg, "max_frame_size"));
    cfg.max_frame_size = 0;
    cfg.metrics_addr = "nonsense";
    assert_null(mk_network_new(&cfg, &e));
    assert_non_null(strstr(e.msg, "metrics_addr"));
    cfg.metrics_addr = NULL;
    cfg.network_id = mk_id_from_str("y");
    assert_null(mk_network_new(&cfg, &e));
    assert_int_equal(e.code, MK_EINVAL);
}

static void bind_to_port_in_use_fails_with_eio_naming_bind(void **state) {
    (void)state;
    mk_network_t *a = mkt_net_new(NULL);
    mk_peer_addr_t addr;
    mk_network_addr(a, &addr);
    char text[MK_ADDR_STR_MAX], bind[64];
    mk_peer_addr_format(&addr, text, sizeof text);
    snprintf(bind, sizeof bind, "%s", strchr(text, '@') + 1);
    mk_network_config_t cfg = MK_NETWORK_CONFIG_DEFAULT;
    cfg.network = "x";
    cfg.bind[0] = bind;
    mk_error_t e;
    assert_null(mk_network_new(&cfg, &e));
    assert_int_equal(e.code, MK_EIO);
    assert_int_equal(e.sys_errno, EADDRINUSE);
    assert_non_null(strstr(e.msg, "bind[0]"));
    mk_network_free(a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dial_with_wrong_peer_id_fails_with_identity_error),
        cmocka_unit_test(dial_unknown_alpn_fails_with_close_100),
        cmocka_unit_test(dial_other_network_fails_with_wrongnet_and_acceptor_never_sees_it),
        cmocka_unit_test(dial_self_no_address_or_closed_port_fails_clearly),
        cmocka_unit_test(listen_on_reserved_or_duplicate_alpn_is_refused),
        cmocka_unit_test(config_errors_name_the_field),
        cmocka_unit_test(bind_to_port_in_use_fails_with_eio_naming_bind),
    };
    return mkt_run("integration.net.refusals", tests, sizeof tests / sizeof tests[0]);
}
