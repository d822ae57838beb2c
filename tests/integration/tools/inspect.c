/* integration/tools/inspect — `mosaik inspect` against a 4-node cluster (spec 70 §2.4): one node
 * produces a stream, one is in a group, one carries a JWT ticket. --json lists exactly those, checked
 * against the mosaik.inspect/1 schema with jansson; --once prints the table; too few peers exits 3;
 * without a TTY the table is printed every --interval until SIGTERM. */
#include "support/mkt_disc.h"
#include "support/mkt_tool.h"

#include "discovery/discovery.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* header {} . claims {"exp":1900000000,"sub":"x"} . signature "sig" (base64url, unverified) */
#define JWT "e30.eyJleHAiOjE5MDAwMDAwMDAsInN1YiI6IngifQ.c2ln"

static mk_network_t *nets[4];  /* bootstrap, stream producer, group member, ticket holder */
static char boot_addr[MK_ADDR_STR_MAX], net_hex[MK_ID_HEX_LEN + 1];
static mk_id_t stream_id, group_id;
static char out[65536], err[16384];

static int setup(void **state) {
    (void)state;
    nets[0] = mkt_disc_node(NULL, NULL);
    mkt_disc_addr(nets[0], boot_addr, sizeof boot_addr);
    for (int i = 1; i < 4; i++) nets[i] = mkt_disc_node(boot_addr, NULL);
    mk_error_t e;
    const char *tag[] = {"bootstrap"};
    assert_int_equal(mk_discovery_add_tags(nets[0], tag, 1, mkt_ms(2000), &e), MK_OK);
    stream_id = mk_id_from_str("oracle.price");
    group_id = mk_id_from_str("some-group");
    assert_int_equal(mk_disc_local_stream(nets[1], &stream_id, true, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(mk_disc_local_group(nets[2], &group_id, true, mkt_ms(2000), &e), MK_OK);
    mk_ticket_t t = {mk_id_from_str("mosaik.tickets.jwt.v1"), (const uint8_t *)JWT, strlen(JWT)};
    assert_int_equal(mk_discovery_add_ticket(nets[3], &t, mkt_ms(2000), &e), MK_OK);
    mkt_disc_wait_complete(nets, 4, 5);
    mk_network_id_t id = mk_network_id(nets[0]);
    mk_id_hex(&id, net_hex);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < 4; i++) mk_network_free(nets[i]);
    return 0;
}

static int inspect(const char *a0, ...) {
    char *argv[32] = {(char *)mkt_tool_path(), "inspect", "-n", net_hex, "-p", boot_addr, "-l", "127.0.0.1:0", "--no-dht"};
    int k = 9;
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && k < 31; a = va_arg(ap, const char *)) argv[k++] = (char *)a;
    va_end(ap);
    argv[k] = NULL;
    return mkt_tool_run(argv, NULL, NULL, 20, out, sizeof out, err, sizeof err);
}

static const char *hex_of(const mk_id_t *id, char *buf) { return mk_id_hex(id, buf); }

static json_t *field(json_t *o, const char *key, json_type type) {
    json_t *v = json_object_get(o, key);
    if (!v) fail_msg("inspect JSON: missing \"%s\"", key);
    if (json_typeof(v) != type && !(type == JSON_REAL && json_is_null(v)) &&
        !(type == JSON_TRUE && json_is_boolean(v)))
        fail_msg("inspect JSON: \"%s\" has type %d, want %d", key, (int)json_typeof(v), (int)type);
    return v;
}

static bool is_hex64(json_t *s) {
    const char *v = json_string_value(s);
    if (!v || strlen(v) != 64) return false;
    for (const char *p = v; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

static void json_lists_exactly_the_cluster(void **state) {
    (void)state;
    assert_int_equal(inspect("--json", "--name", "oracle.price", "--wait", "5", NULL), 0);
    json_error_t je;
    json_t *doc = json_loads(out, 0, &je);
    if (!doc) fail_msg("inspect --json printed invalid JSON (%s): %s", je.text, out);
    assert_string_equal(json_string_value(field(doc, "schema", JSON_STRING)), "mosaik.inspect/1");
    char h[MK_ID_HEX_LEN + 1];
    assert_string_equal(json_string_value(field(doc, "network", JSON_STRING)), net_hex);
    assert_true(is_hex64(field(doc, "self", JSON_STRING)));
    assert_true(json_integer_value(field(doc, "observed_at_ms", JSON_INTEGER)) > 1600000000000LL);
    json_t *peers = field(doc, "peers", JSON_ARRAY);
    assert_int_equal(json_array_size(peers), 4);
    const char *prev = "";
    bool saw_stream = false, saw_group = false, saw_ticket = false;
    for (size_t i = 0; i < 4; i++) {
        json_t *p = json_array_get(peers, i);
        json_t *id = field(p, "id", JSON_STRING);
        assert_true(is_hex64(id));
        assert_true(strcmp(prev, json_string_value(id)) < 0);  /* sorted by id */
        prev = json_string_value(id);
        assert_true(json_array_size(field(p, "addrs", JSON_ARRAY)) >= 1);
        field(p, "tags", JSON_ARRAY);
        json_t *streams = field(p, "streams", JSON_ARRAY), *groups = field(p, "groups", JSON_ARRAY),
               *tickets = field(p, "tickets", JSON_ARRAY);
        field(p, "started_at_ms", JSON_INTEGER);
        field(p, "updated_at_ms", JSON_INTEGER);
        field(p, "rtt_ms", JSON_REAL);
        assert_true(json_is_number(json_object_get(p, "rtt_ms")));  /* probed: every row has an RTT */
        field(p, "link", JSON_TRUE);
        field(p, "protocol", JSON_STRING);
        mk_peer_id_t pid;
        assert_int_equal(mk_peer_id_parse(json_string_value(id), &pid), MK_OK);
        for (int n = 0; n < 4; n++) {
            mk_peer_id_t want = mk_network_peer_id(nets[n]);
            if (!mk_id_eq(&want, &pid)) continue;
            assert_int_equal(json_array_size(streams), n == 1);
            assert_int_equal(json_array_size(groups), n == 2);
            assert_int_equal(json_array_size(tickets), n == 3);
            if (n == 0) assert_string_equal(json_string_value(json_array_get(field(p, "tags", JSON_ARRAY), 0)), "bootstrap");
            if (n == 1) {
                assert_string_equal(json_string_value(json_array_get(streams, 0)), hex_of(&stream_id, h));
                saw_stream = true;
            }
            if (n == 2) {
                assert_string_equal(json_string_value(json_array_get(groups, 0)), hex_of(&group_id, h));
                saw_group = true;
            }
            if (n == 3) {
                json_t *t = json_array_get(tickets, 0);
                mk_id_t cls = mk_id_from_str("mosaik.tickets.jwt.v1");
                assert_string_equal(json_string_value(field(t, "class", JSON_STRING)), hex_of(&cls, h));
                assert_string_equal(json_string_value(field(t, "kind", JSON_STRING)), "jwt");
                assert_int_equal(json_integer_value(field(t, "bytes", JSON_INTEGER)), strlen(JWT));
                assert_int_equal(json_integer_value(field(t, "expires_at_ms", JSON_INTEGER)), 1900000000000LL);
                assert_true(json_is_false(field(t, "verified", JSON_FALSE)));
                saw_ticket = true;
            }
        }
    }
    assert_true(saw_stream && saw_group && saw_ticket);
    json_t *streams = field(doc, "streams", JSON_ARRAY), *groups = field(doc, "groups", JSON_ARRAY);
    assert_int_equal(json_array_size(streams), 1);
    json_t *s = json_array_get(streams, 0);
    assert_string_equal(json_string_value(field(s, "id", JSON_STRING)), hex_of(&stream_id, h));
    assert_string_equal(json_string_value(field(s, "name", JSON_STRING)), "oracle.price");
    mk_peer_id_t producer = mk_network_peer_id(nets[1]);
    assert_string_equal(json_string_value(json_array_get(field(s, "producers", JSON_ARRAY), 0)), hex_of(&producer, h));
    assert_int_equal(json_array_size(groups), 1);
    json_t *g = json_array_get(groups, 0);
    assert_null(json_object_get(g, "name"));  /* no --name for it */
    mk_peer_id_t member = mk_network_peer_id(nets[2]);
    assert_string_equal(json_string_value(json_array_get(field(g, "members", JSON_ARRAY), 0)), hex_of(&member, h));
    json_decref(doc);
}

static void once_prints_the_table_and_too_few_peers_exit_3(void **state) {
    (void)state;
    assert_int_equal(inspect("--once", "--no-probe", "--include-self", "--name", "oracle.price", NULL), 0);
    assert_non_null(strstr(out, "mosaik inspect  network "));
    assert_non_null(strstr(out, "PEER        ADDRESS"));
    char sh[MK_ID_SHORT_LEN + 1];
    for (int i = 0; i < 4; i++) {
        mk_peer_id_t id = mk_network_peer_id(nets[i]);
        assert_non_null(strstr(out, mk_id_short(&id, sh)));
    }
    assert_non_null(strstr(out, "jwt("));            /* claimed time to expiry */
    assert_non_null(strstr(out, "oracle.price "));   /* the stream by its --name */
    assert_non_null(strstr(out, "mosaik.inspect"));  /* --include-self: our own row */
    assert_int_equal(inspect("--json", "--no-probe", "--min-peers", "10", "--wait", "1", NULL), 3);
    assert_int_equal(inspect("--json", "--wait", "never", NULL), 2);
}

static void without_a_tty_the_table_repeats_until_sigterm(void **state) {
    (void)state;
    char *argv[] = {(char *)mkt_tool_path(), "inspect", "-n", net_hex, "-p", boot_addr, "-l", "127.0.0.1:0", "--no-dht",
                    "--interval", "0.3", NULL};
    mkt_tool_proc_t p;
    char line[512];
    mkt_tool_start(&p, argv, NULL, line, sizeof line);
    assert_non_null(strstr(line, "mosaik inspect  network"));
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    assert_int_equal(mkt_tool_stop(&p, SIGTERM, 6, NULL), 0);
    size_t len = 0;
    ssize_t r;
    while (len + 1 < sizeof out && (r = read(p.out_fd, out + len, sizeof out - 1 - len)) > 0) len += (size_t)r;
    out[len] = 0;
    close(p.out_fd);
    assert_null(strchr(out, '\x1b'));  /* no escape codes */
    assert_non_null(strstr(out, "mosaik inspect  network"));  /* printed again after the first */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_lists_exactly_the_cluster),
        cmocka_unit_test(once_prints_the_table_and_too_few_peers_exit_3),
        cmocka_unit_test(without_a_tty_the_table_repeats_until_sigterm),
    };
    return mkt_run_group("integration.tools.inspect", tests, sizeof tests / sizeof tests[0], setup, teardown);
}
