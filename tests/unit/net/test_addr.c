/* unit/net/test_addr.c — the peer address text form of spec 10 §3.2 (mk_peer_addr_parse/format): round
 * trips with IPv4, IPv6 and 8 addresses, a bare PeerId, the snprintf contract, and every malformed form
 * refused with MK_EINVAL and a message naming the faulty part. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/network.h"
#include "support/mkt.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define PEER_HEX "7e886b34916da6bd655bc8ed96713f089f07f14c080b9ec2bc2606faa4d67db9"

/* Parses s, formats it and expects exactly s back (our canonical text form). */
static void assert_round_trip(const char *s, uint8_t naddrs) {
    mk_peer_addr_t a, b;
    mk_error_t e = {0};
    assert_int_equal(mk_peer_addr_parse(s, &a, &e), MK_OK);
    assert_int_equal(a.naddrs, naddrs);
    char buf[MK_ADDR_STR_MAX];
    int n = mk_peer_addr_format(&a, buf, sizeof buf);
    assert_int_equal(n, (int)strlen(s));
    assert_string_equal(buf, s);
    assert_int_equal(mk_peer_addr_parse(buf, &b, &e), MK_OK);
    assert_memory_equal(&a, &b, sizeof a);
}

static void ipv4_address_round_trips_and_fields_are_exact(void **state) {
    const char *s = PEER_HEX "@127.0.0.1:40123";
    assert_round_trip(s, 1);
    mk_peer_addr_t a;
    assert_int_equal(mk_peer_addr_parse(s, &a, NULL), MK_OK);
    char hex[MK_ID_HEX_LEN + 1];
    assert_string_equal(mk_id_hex(&a.peer, hex), PEER_HEX);
    const struct sockaddr_in *in = (const struct sockaddr_in *)&a.addrs[0];
    assert_int_equal(in->sin_family, AF_INET);
    assert_int_equal(ntohs(in->sin_port), 40123);
    assert_int_equal(ntohl(in->sin_addr.s_addr), 0x7f000001u);
}

static void ipv6_address_round_trips(void **state) {
    assert_round_trip(PEER_HEX "@[::1]:9", 1);
    assert_round_trip(PEER_HEX "@[2001:db8::42]:65535", 1);
    mk_peer_addr_t a;
    assert_int_equal(mk_peer_addr_parse(PEER_HEX "@[::1]:9", &a, NULL), MK_OK);
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a.addrs[0];
    assert_int_equal(in6->sin6_family, AF_INET6);
    assert_int_equal(ntohs(in6->sin6_port), 9);
    assert_true(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
}

static void eight_mixed_addresses_round_trip(void **state) {
    const char *s = PEER_HEX "@10.0.0.1:1,[::1]:2,192.168.1.254:3,[fe80::1]:4,1.2.3.4:5,[2001:db8::1]:6,"
                             "255.255.255.255:7,0.0.0.0:0";
    assert_round_trip(s, 8);
}

static void bare_peer_id_parses_with_no_address(void **state) {
    assert_round_trip(PEER_HEX, 0);
}

static void uppercase_peer_id_is_accepted_and_formatted_lowercase(void **state) {
    char up[sizeof PEER_HEX + 16];
    snprintf(up, sizeof up, "%s@1.2.3.4:5", PEER_HEX);
    for (size_t i = 0; i < 64; i++)
        if (up[i] >= 'a' && up[i] <= 'f') up[i] = (char)(up[i] - 'a' + 'A');
    mk_peer_addr_t a;
    assert_int_equal(mk_peer_addr_parse(up, &a, NULL), MK_OK);
    char buf[MK_ADDR_STR_MAX];
    mk_peer_addr_format(&a, buf, sizeof buf);
    assert_string_equal(buf, PEER_HEX "@1.2.3.4:5");
}

static void format_follows_the_snprintf_contract(void **state) {
    mk_peer_addr_t a;
    const char *s = PEER_HEX "@127.0.0.1:40123";
    assert_int_equal(mk_peer_addr_parse(s, &a, NULL), MK_OK);
    char small[10];
    memset(small, 'z', sizeof small);
    assert_int_equal(mk_peer_addr_format(&a, small, sizeof small), (int)strlen(s));
    assert_int_equal(small[9], 0);
    assert_memory_equal(small, s, 9);
    assert_int_equal(mk_peer_addr_format(&a, NULL, 0), (int)strlen(s));
    a.naddrs = MK_ADDR_MAX + 1;
    assert_int_equal(mk_peer_addr_format(&a, small, sizeof small), MK_EINVAL);
}

/* Each malformed form: MK_EINVAL and a message containing `needle`. */
static void assert_refused(const char *s, const char *needle) {
    mk_peer_addr_t a;
    mk_error_t e;
    memset(&e, 0, sizeof e);
    int rc = mk_peer_addr_parse(s, &a, &e);
    if (rc != MK_EINVAL) fail_msg("\"%s\" gave %d, expected MK_EINVAL", s, rc);
    assert_int_equal(e.code, MK_EINVAL);
    if (!strstr(e.msg, needle)) fail_msg("\"%s\": message \"%s\" lacks \"%s\"", s, e.msg, needle);
}

static void malformed_forms_are_refused_naming_the_part(void **state) {
    char id63[64];
    memcpy(id63, PEER_HEX, 63);
    id63[63] = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s@1.2.3.4:5", id63);
    assert_refused(buf, "peer id");
    assert_refused(id63, "peer id");
    snprintf(buf, sizeof buf, "%sg@1.2.3.4:5", id63);
    assert_refused(buf, "peer id");
    assert_refused("0x" PEER_HEX "@1.2.3.4:5", "peer id");
    assert_refused("", "peer id");
    assert_refused("@1.2.3.4:5", "peer id");
    assert_refused(PEER_HEX "@1.2.3.4", "missing port");
    assert_refused(PEER_HEX "@1.2.3.4:", "port");
    assert_refused(PEER_HEX "@1.2.3.4:65536", "port");
    assert_refused(PEER_HEX "@1.2.3.4:-1", "port");
    assert_refused(PEER_HEX "@1.2.3.4:80x", "port");
    assert_refused(PEER_HEX "@[::1]", "missing port");
    assert_refused(PEER_HEX "@1.2.3.4:5,", "trailing");
    assert_refused(PEER_HEX "@1.2.3.4:5,,1.2.3.4:6", "address 1");
    assert_refused(PEER_HEX "@[fe80::1%eth0]:1", "zone");
    assert_refused(PEER_HEX "@::1:9", "brackets");
    assert_refused(PEER_HEX "@", "no address");
    assert_refused(PEER_HEX "@1.2.3:4", "IPv4");
    assert_refused(PEER_HEX "@256.1.1.1:4", "IPv4");
    assert_refused(PEER_HEX "@localhost:4", "IPv4");
    assert_refused(PEER_HEX "@[::1:9", "]");
    assert_refused(PEER_HEX "@[::1]x:9", "]");
    assert_refused(PEER_HEX "@[]:9", "IPv6");
    assert_refused(PEER_HEX "@[1.2.3.4]:9", "IPv6");
}

static void nine_addresses_are_refused(void **state) {
    char s[MK_ADDR_STR_MAX];
    int k = snprintf(s, sizeof s, "%s@", PEER_HEX);
    for (int i = 0; i < 9; i++) k += snprintf(s + k, sizeof s - (size_t)k, "%s10.0.0.%d:%d", i ? "," : "", i, i + 1);
    assert_refused(s, "more than 8");
}

static void text_at_the_length_limit_is_refused(void **state) {
    char s[MK_ADDR_STR_MAX + 8];
    int k = snprintf(s, sizeof s, "%s@1.2.3.4:5", PEER_HEX);
    while (k < MK_ADDR_STR_MAX) s[k++] = ' ';
    s[k] = 0;
    assert_refused(s, "longer than");
}

static void null_arguments_are_refused(void **state) {
    mk_peer_addr_t a;
    mk_error_t e = {0};
    assert_int_equal(mk_peer_addr_parse(NULL, &a, &e), MK_EINVAL);
    assert_int_equal(mk_peer_addr_parse(PEER_HEX, NULL, &e), MK_EINVAL);
    assert_true(strlen(e.msg) > 0);
    char buf[8];
    assert_int_equal(mk_peer_addr_format(NULL, buf, sizeof buf), MK_EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ipv4_address_round_trips_and_fields_are_exact),
        cmocka_unit_test(ipv6_address_round_trips),
        cmocka_unit_test(eight_mixed_addresses_round_trip),
        cmocka_unit_test(bare_peer_id_parses_with_no_address),
        cmocka_unit_test(uppercase_peer_id_is_accepted_and_formatted_lowercase),
        cmocka_unit_test(format_follows_the_snprintf_contract),
        cmocka_unit_test(malformed_forms_are_refused_naming_the_part),
        cmocka_unit_test(nine_addresses_are_refused),
        cmocka_unit_test(text_at_the_length_limit_is_refused),
        cmocka_unit_test(null_arguments_are_refused),
    };
    return mkt_run("unit.net.addr", tests, sizeof tests / sizeof tests[0]);
}
