/* integration/streams/protocol — spec 30 §10.22 against a raw TLS client on /mosaik/streams/1.0: a
 * datum before Subscribe → 400, another network → 101, an unknown stream → 10_404, an unknown peer →
 * 401, a frame after Subscribe → 400, an unknown criteria tag → 400, silence past the handshake
 * timeout → closed; a valid Subscribe gets Accepted and then datums. */
#include "support/mkt_disc.h"
#include "support/mkt_raw.h"

#include "discovery/wire.h"
#include "mosaik/streams.h"
#include "streams/wire.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static mk_network_t *net;

static void short_handshake(mk_network_config_t *cfg) { cfg->streams.handshake_timeout_ms = 500; }

static int teardown(void **state) {
    (void)state;
    mk_network_free(net);
    net = NULL;
    return 0;
}

static mkt_raw_link_t *raw(const char *key) {
    mk_secret_key_t sk;
    mk_secret_key_from_str(key, &sk);
    mkt_raw_opts_t o = {.mode = MKT_RAW_TLS_ED25519, .alpn = MK_STREAMS_ALPN, .key = &sk};
    mk_error_t e;
    mkt_raw_link_t *r = mkt_raw_link(net, &o, &e);
    if (!r) fail_msg("mkt_raw_link: %s", e.msg);
    assert_int_equal(mkt_raw_send_hello(r, mkt_network_id()), MK_OK);
    return r;
}

static uint32_t close_code(mkt_raw_link_t *r) {
    uint32_t code = 0;
    char reason[256];
    if (mkt_raw_read_close(r, mkt_ms(3000), &code, reason, sizeof reason) != MK_OK) return 0;
    return code;
}

static void send_subscribe(mkt_raw_link_t *r, const mk_id_t *network, const mk_id_t *stream, uint8_t criteria) {
    mk_buf_t f = MK_BUF_INIT;
    assert_int_equal(mk_smsg_encode_subscribe(network, stream, 0, &f), MK_OK);
    ((uint8_t *)f.ptr)[f.len - 1] = criteria;
    assert_int_equal(mkt_raw_send_frame(r, f.ptr, f.len), MK_OK);
    mk_buf_free(&f);
}

/* Makes `key` a known peer of net (its signed entry fed to the catalog). */
static void make_known(const char *key) {
    mk_secret_key_t sk;
    mk_secret_key_from_str(key, &sk);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    mk_network_id_t nid = mkt_network_id();
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    mk_entry_draft_init(d, &nid, &pub);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    d->version = (mk_entry_version_t){now, now};
    const mk_peer_entry_t *e = NULL;
    assert_int_equal(mk_entry_draft_seal(d, &sk, &e, NULL), MK_OK);
    mk_error_t err;
    assert_int_equal(mk_discovery_feed(net, e->wire, e->wire_len, &err), MK_OK);
    mk_peer_entry_unref(e);
    mk_entry_draft_free(d);
    free(d);
}

static void hostile_handshakes_are_refused_with_their_codes(void **state) {
    (void)state;
    net = mkt_disc_node(NULL, short_handshake);
    mk_error_t e;
    mk_producer_config_t pc = {.online_when = MK_WHEN_MIN(0)};
    mk_producer_t *p = mk_producer_open(net, "t.proto", &pc, &e);
    mk_id_t nid = mkt_network_id(), sid = mk_stream_id("t.proto"), other = mk_id_from_str("elsewhere");
    make_known("raw-client");
    /* a datum first */
    mkt_raw_link_t *r = raw("raw-client");
    assert_int_equal(mkt_raw_send_frame(r, "\x02x", 2), MK_OK);
    assert_int_equal(close_code(r), MK_CLOSE_PROTOCOL_VIOLATION);
    mkt_raw_close(r);
    /* another network, an unknown stream, an unknown criteria tag */
    r = raw("raw-client");
    send_subscribe(r, &other, &sid, 0);
    assert_int_equal(close_code(r), MK_CLOSE_DIFFERENT_NETWORK);
    mkt_raw_close(r);
    r = raw("raw-client");
    send_subscribe(r, &nid, &other, 0);
    assert_int_equal(close_code(r), MK_CLOSE_STREAM_NOT_FOUND);
    mkt_raw_close(r);
    r = raw("raw-client");
    send_subscribe(r, &nid, &sid, 1);
    assert_int_equal(close_code(r), MK_CLOSE_PROTOCOL_VIOLATION);
    mkt_raw_close(r);
    /* a peer the node never heard of */
    r = raw("stranger");
    send_subscribe(r, &nid, &sid, 0);
    assert_int_equal(close_code(r), MK_CLOSE_UNKNOWN_PEER);
    mkt_raw_close(r);
    /* silence past the handshake timeout */
    r = raw("raw-client");
    assert_true(close_code(r) != 0);
    mkt_raw_close(r);
    /* a valid Subscribe: Accepted, then datums; any frame from the consumer after it → 400 */
    r = raw("raw-client");
    send_subscribe(r, &nid, &sid, 0);
    mkt_raw_frame_t f = {0};
    do {
        mkt_raw_frame_free(&f);
        assert_int_equal(mkt_raw_read_frame(r, &f, mkt_ms(3000)), MK_OK);
    } while (f.control);
    mk_smsg_t m;
    assert_int_equal(mk_smsg_decode(f.body.ptr, f.body.len, &m, NULL), MK_OK);
    assert_int_equal(m.kind, MK_SMSG_ACCEPTED);
    mkt_raw_frame_free(&f);
    assert_int_equal(mk_producer_send(p, "hello", 5, mkt_ms(1000), &e), MK_OK);
    do {
        mkt_raw_frame_free(&f);
        assert_int_equal(mkt_raw_read_frame(r, &f, mkt_ms(3000)), MK_OK);
    } while (f.control);
    assert_int_equal(mk_smsg_decode(f.body.ptr, f.body.len, &m, NULL), MK_OK);
    assert_int_equal(m.kind, MK_SMSG_DATUM);
    assert_int_equal(m.datum.len, 5);
    assert_memory_equal(m.datum.ptr, "hello", 5);
    mkt_raw_frame_free(&f);
    assert_int_equal(mkt_raw_send_frame(r, "\x02x", 2), MK_OK);
    assert_int_equal(close_code(r), MK_CLOSE_PROTOCOL_VIOLATION);
    mkt_raw_close(r);
    mk_producer_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(hostile_handshakes_are_refused_with_their_codes, teardown),
    };
    return mkt_run("integration.streams.protocol", tests, sizeof tests / sizeof tests[0]);
}
