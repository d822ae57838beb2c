/* integration/discovery/rules — spec 20 §11 items 6–12 on live nodes: forged and tampered entries (via
 * feed and via a raw announce link after a valid Join), another network, entries dated in the future or
 * too old, unsigned inserts, event lag and watches, RTT with max_rtt, ping, and catalog sync. */
#include "support/mkt_disc.h"
#include "support/mkt_raw.h"

#include "discovery/discovery.h"
#include "discovery/entry.h"
#include "discovery/wire.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

static mk_network_t *a, *b;

static int teardown(void **state) {
    (void)state;
    mk_network_free(a);
    mk_network_free(b);
    a = b = NULL;
    return 0;
}

/* A signed entry of peer `who` (optionally signed by `signer`), on `net` (NULL = the test network). */
static const mk_peer_entry_t *forge(const char *who, const char *signer, const mk_network_id_t *net, int64_t update_off,
                                    const char *tag) {
    mk_secret_key_t sk, sg;
    mk_secret_key_from_str(who, &sk);
    mk_secret_key_from_str(signer ? signer : who, &sg);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    mk_network_id_t tn = mkt_network_id();
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    mk_entry_draft_init(d, net ? net : &tn, &pub);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    d->version = (mk_entry_version_t){now - 1000, (uint64_t)((int64_t)now + update_off)};
    if (tag) {
        mk_id_t t = mk_id_from_str(tag);
        mk_entry_draft_add_tag(d, &t);
    }
    const mk_peer_entry_t *e = NULL;
    assert_int_equal(mk_entry_draft_seal(d, &sk, &e, NULL), MK_OK);
    if (signer) {
        uint8_t *w = malloc(e->wire_len);
        memcpy(w, e->wire, e->wire_len);
        mk_entry_sign_body(e->wire + e->body_off, e->body_len, &sg, w + e->wire_len - 64);
        const mk_peer_entry_t *f = NULL;
        assert_int_equal(mk_entry_from_wire(w, e->wire_len, true, &f, NULL, NULL), MK_OK);
        mk_peer_entry_unref(e);
        e = f;
    }
    mk_entry_draft_free(d);
    free(d);
    return e;
}

static int feed(mk_network_t *n, const mk_peer_entry_t *e) {
    mk_error_t err;
    return mk_discovery_feed(n, e->wire, e->wire_len, &err);
}

static void feed_applies_every_rule(void **state) {
    (void)state;
    a = mkt_disc_node(NULL, NULL);
    const mk_peer_entry_t *ok = forge("x", NULL, NULL, 0, "t"), *bad = forge("x", "y", NULL, 10, NULL);
    mk_network_id_t other = mk_id_from_str("rules-other");
    const mk_peer_entry_t *foreign = forge("z", NULL, &other, 0, NULL), *future = forge("w", NULL, NULL, 60000, NULL),
                          *near = forge("v", NULL, NULL, 5000, NULL), *stale = forge("u", NULL, NULL, -20000, NULL);
    double bad0 = mkt_metric(a, "mosaik_discovery_entries_rejected", "bad_signature");
    assert_int_equal(feed(a, bad), MK_EBADSIG);
    assert_int_equal(feed(a, ok), MK_OK);
    assert_int_equal(feed(a, ok), MK_EALREADY);
    assert_int_equal(feed(a, foreign), MK_EWRONGNET);
    assert_int_equal(feed(a, future), MK_ESTALE);   /* now + 60 s: future */
    assert_int_equal(feed(a, near), MK_OK);         /* now + 5 s: within the drift */
    assert_int_equal(feed(a, stale), MK_ESTALE);    /* older than purge_after (10 s in tests) */
    /* a flipped bit in the signature of a newer version (an older one stops at the duplicate check) */
    const mk_peer_entry_t *newer = forge("x", NULL, NULL, 20, "t");
    uint8_t *w = malloc(newer->wire_len);
    memcpy(w, newer->wire, newer->wire_len);
    w[newer->wire_len - 1] ^= 1;
    mk_error_t err;
    assert_int_equal(mk_discovery_feed(a, w, newer->wire_len, &err), MK_EBADSIG);
    free(w);
    mk_peer_entry_unref(newer);
    assert_true(mkt_metric(a, "mosaik_discovery_entries_rejected", "bad_signature") >= bad0 + 2);
    assert_true(mkt_metric(a, "mosaik_discovery_entries_rejected", "future") >= 1);
    assert_true(mkt_metric(a, "mosaik_discovery_entries_rejected", "wrong_network") >= 1);
    assert_int_equal(mkt_disc_count(a), 2);
    const mk_peer_entry_t *got = mkt_disc_entry(a, &ok->peer);
    assert_non_null(got);
    assert_true(mk_peer_entry_has_tag(got, "t"));
    mk_peer_entry_unref(got);
    mk_peer_entry_unref(ok);
    mk_peer_entry_unref(bad);
    mk_peer_entry_unref(foreign);
    mk_peer_entry_unref(future);
    mk_peer_entry_unref(near);
    mk_peer_entry_unref(stale);
}

static void forged_gossip_after_join_closes_400(void **state) {
    (void)state;
    a = mkt_disc_node(NULL, NULL);
    /* the raw client presents key "mallory" and joins with its own valid entry */
    mk_secret_key_t sk;
    mk_secret_key_from_str("mallory", &sk);
    mkt_raw_opts_t o = {.mode = MKT_RAW_TLS_ED25519, .alpn = MK_ANNOUNCE_ALPN, .key = &sk};
    mk_error_t err;
    mkt_raw_link_t *r = mkt_raw_link(a, &o, &err);
    if (!r) fail_msg("mkt_raw_link: %s", err.msg);
    assert_int_equal(mkt_raw_send_hello(r, mkt_network_id()), MK_OK);
    const mk_peer_entry_t *me = forge("mallory", NULL, NULL, 0, NULL);
    mk_network_id_t net = mkt_network_id();
    mk_buf_t f = MK_BUF_INIT;
    assert_int_equal(mk_wire_encode_join(&net, (mk_bytes_t){me->wire, me->wire_len}, &f), MK_OK);
    assert_int_equal(mkt_raw_send_frame(r, f.ptr, f.len), MK_OK);
    mk_buf_free(&f);
    MKT_WAIT_UNTIL(mkt_disc_count(a) == 1, 3);
    /* then an entry for X signed by Y */
    double bad0 = mkt_metric(a, "mosaik_discovery_entries_rejected", "bad_signature");
    const mk_peer_entry_t *forged = forge("victim", "mallory", NULL, 0, "evil");
    assert_int_equal(mk_wire_encode_entries(&forged, 1, &f), MK_OK);
    assert_int_equal(mkt_raw_send_frame(r, f.ptr, f.len), MK_OK);
    mk_buf_free(&f);
    uint32_t code = 0;
    char reason[200];
    assert_int_equal(mkt_raw_read_close(r, mkt_ms(3000), &code, reason, sizeof reason), MK_OK);
    assert_int_equal(code, MK_CLOSE_PROTOCOL_VIOLATION);
    MKT_WAIT_UNTIL(mkt_metric(a, "mosaik_discovery_entries_rejected", "bad_signature") >= bad0 + 1, 2);
    assert_null(mkt_disc_entry(a, &forged->peer));
    mkt_raw_close(r);
    mk_peer_entry_unref(forged);
    mk_peer_entry_unref(me);
}

/* §11.7: after a valid Join, a valid entry of another network → wrong_network +1 and Close 400. */
static void entry_of_another_network_after_join_closes_400(void **state) {
    (void)state;
    a = mkt_disc_node(NULL, NULL);
    mk_secret_key_t sk;
    mk_secret_key_from_str("mallory", &sk);
    mkt_raw_opts_t o = {.mode = MKT_RAW_TLS_ED25519, .alpn = MK_ANNOUNCE_ALPN, .key = &sk};
    mk_error_t err;
    mkt_raw_link_t *r = mkt_raw_link(a, &o, &err);
    if (!r) fail_msg("mkt_raw_link: %s", err.msg);
    assert_int_equal(mkt_raw_send_hello(r, mkt_network_id()), MK_OK);
    const mk_peer_entry_t *me = forge("mallory", NULL, NULL, 0, NULL);
    mk_network_id_t net = mkt_network_id(), elsewhere = mk_id_from_str("rules-b");
    mk_buf_t f = MK_BUF_INIT;
    assert_int_equal(mk_wire_encode_join(&net, (mk_bytes_t){me->wire, me->wire_len}, &f), MK_OK);
    assert_int_equal(mkt_raw_send_frame(r, f.ptr, f.len), MK_OK);
    mk_buf_free(&f);
    MKT_WAIT_UNTIL(mkt_disc_count(a) == 1, 3);
    double wrong0 = mkt_metric(a, "mosaik_discovery_entries_rejected", "wrong_network");
    const mk_peer_entry_t *foreign = forge("bob", NULL, &elsewhere, 0, NULL);  /* valid, but of network B */
    assert_int_equal(mk_wire_encode_entries(&foreign, 1, &f), MK_OK);
    assert_int_equal(mkt_raw_send_frame(r, f.ptr, f.len), MK_OK);
    mk_buf_free(&f);
    uint32_t code = 0;
    char reason[200];
    assert_int_equal(mkt_raw_read_close(r, mkt_ms(3000), &code, reason, sizeof reason), MK_OK);
    assert_int_equal(code, MK_CLOSE_PROTOCOL_VIOLATION);
    MKT_WAIT_UNTIL(mkt_metric(a, "mosaik_discovery_entries_rejected", "wrong_network") >= wrong0 + 1, 2);
    assert_null(mkt_disc_entry(a, &foreign->peer));
    mkt_raw_close(r);
    mk_peer_entry_unref(foreign);
    mk_peer_entry_unref(me);
}

/* The same forgery inside a catalog sync: the responder drops it, counts it and closes the session 400. */
static void forged_entry_in_catalog_sync_closes_400(void **state) {
    (void)state;
    a = mkt_disc_node(NULL, NULL);
    mk_secret_key_t sk;
    mk_secret_key_from_str("mallory", &sk);
    mkt_raw_opts_t o = {.mode = MKT_RAW_TLS_ED25519, .alpn = MK_CATALOG_SYNC_ALPN, .key = &sk};
    mk_error_t err;
    mkt_raw_link_t *r = mkt_raw_link(a, &o, &err);
    if (!r) fail_msg("mkt_raw_link: %s", err.msg);
    assert_int_equal(mkt_raw_send_hello(r, mkt_network_id()), MK_OK);
    mk_network_id_t net = mkt_network_id();
    mk_buf_t f = MK_BUF_INIT;
    assert_int_equal(mk_wire_encode_sync_hello(&net, NULL, 0, &f), MK_OK);  /* "I hold nothing" */
    assert_int_equal(mkt_raw_send_frame(r, f.ptr, f.len), MK_OK);
    mk_buf_free(&f);
    mkt_raw_frame_t reply = {0};
    assert_int_equal(mkt_raw_read_frame(r, &reply, mkt_ms(3000)), MK_OK);  /* SyncReply with its entry */
    mkt_raw_frame_free(&reply);
    double bad0 = mkt_metric(a, "mosaik_discovery_entries_rejected", "bad_signature");
    const mk_peer_entry_t *forged = forge("victim", "mallory", NULL, 0, "evil");
    size_t used = 0;
    assert_int_equal(mk_wire_encode_sync_entries(&forged, 1, false, &used, &f), MK_OK);
    assert_int_equal(mkt_raw_send_frame(r, f.ptr, f.len), MK_OK);
    mk_buf_free(&f);
    uint32_t code = 0;
    char reason[200];
    assert_int_equal(mkt_raw_read_close(r, mkt_ms(3000), &code, reason, sizeof reason), MK_OK);
    assert_int_equal(code, MK_CLOSE_PROTOCOL_VIOLATION);
    assert_non_null(strstr(reason, "bad_signature"));
    MKT_WAIT_UNTIL(mkt_metric(a, "mosaik_discovery_entries_rejected", "bad_signature") >= bad0 + 1, 2);
    assert_null(mkt_disc_entry(a, &forged->peer));
    mkt_raw_close(r);
    mk_peer_entry_unref(forged);
}

/* Changes queued back to back (timeout 0) all land: each builds on the one not signed yet. */
static bool has_both(void *arg) {
    (void)arg;
    const mk_peer_entry_t *me = mk_discovery_me(a);
    bool ok = me && mk_peer_entry_has_tag(me, "q1") && mk_peer_entry_has_tag(me, "q2") && mk_peer_entry_has_tag(me, "q3");
    mk_peer_entry_unref(me);
    return ok;
}

static void queued_local_changes_are_all_kept(void **state) {
    (void)state;
    a = mkt_disc_node(NULL, NULL);
    mk_error_t e;
    const char *t1[] = {"q1"}, *t2[] = {"q2"}, *t3[] = {"q3"};
    assert_int_equal(mk_discovery_add_tags(a, t1, 1, 0, &e), MK_OK);
    assert_int_equal(mk_discovery_add_tags(a, t2, 1, 0, &e), MK_OK);
    assert_int_equal(mk_discovery_add_tags(a, t3, 1, 0, &e), MK_OK);
    MKT_WAIT_UNTIL(has_both(NULL), 2);
}

static mk_network_id_t other_net;
static void on_other_network(mk_network_config_t *cfg) { cfg->network_id = other_net; }

static void node_of_another_network_is_closed_101(void **state) {
    (void)state;
    other_net = mk_id_from_str("rules-elsewhere");
    a = mkt_disc_node(NULL, NULL);
    char addr[MK_ADDR_STR_MAX];
    mkt_disc_addr(a, addr, sizeof addr);
    b = mkt_disc_node(addr, on_other_network);
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    assert_int_equal(mkt_disc_count(a), 0);
    assert_int_equal(mkt_disc_count(b), 0);
    assert_true(mkt_metric(a, "mosaik_network_connections_closed", "code=\"101\"") >= 1);
}

static void unsigned_inserts_and_removal(void **state) {
    (void)state;
    a = mkt_disc_node(NULL, NULL);
    mk_error_t err;
    mk_discovery_events_t *ev = mk_discovery_events(a, &err);
    mk_peer_id_t pid = mk_id_from_str("manual-peer");
    const char *tags[] = {"manual", NULL};
    mk_peer_entry_desc_t desc = {.peer = pid, .tags = tags};
    assert_int_equal(mk_discovery_insert(a, &desc, mkt_ms(2000), &err), MK_OK);
    mk_peer_event_t got;
    assert_true(mkt_disc_wait_event(ev, MK_PEER_DISCOVERED, &pid, 2, &got));
    mk_peer_event_clear(&got);
    const mk_peer_entry_t *e = mkt_disc_entry(a, &pid);
    assert_non_null(e);
    assert_false(mk_peer_entry_is_signed(e));
    assert_true(mk_peer_entry_has_tag(e, "manual"));
    mk_peer_entry_unref(e);
    mk_peer_id_t self = mk_network_peer_id(a);
    desc.peer = self;
    assert_int_equal(mk_discovery_insert(a, &desc, mkt_ms(2000), &err), MK_EINVAL);
    assert_int_equal(mk_discovery_remove(a, &pid, mkt_ms(2000), &err), MK_OK);
    assert_true(mkt_disc_wait_event(ev, MK_PEER_DEPARTED, &pid, 2, &got));
    assert_int_equal(got.reason, MK_DEPART_REMOVED);
    mk_peer_event_clear(&got);
    desc.peer = pid;
    assert_int_equal(mk_discovery_insert(a, &desc, mkt_ms(2000), &err), MK_OK);
    assert_int_equal(mk_discovery_clear_unsigned(a, mkt_ms(2000), &err), MK_OK);
    assert_null(mkt_disc_entry(a, &pid));
    mk_discovery_events_free(ev);
}

static void small_backlog(mk_network_config_t *cfg) { cfg->discovery.events_backlog = 8; }

static void lagging_subscription_and_watch(void **state) {
    (void)state;
    a = mkt_disc_node(NULL, small_backlog);
    mk_error_t err;
    mk_discovery_events_t *ev = mk_discovery_events(a, &err);
    mk_catalog_watch_t *w = mk_catalog_watch(a, &err);
    assert_non_null(w);
    struct pollfd pfd = {.fd = mk_discovery_events_fd(ev), .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_int_equal(mk_catalog_watch_changed(w, 0, &err), MK_ETIMEDOUT);
    mk_catalog_t *held = mk_discovery_catalog(a);
    for (int i = 0; i < 20; i++) {
        const mk_peer_entry_t *e = forge(i < 10 ? (const char *[]){"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9"}[i] : (const char *[]){"q0", "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9"}[i - 10], NULL, NULL, 0, NULL);
        assert_int_equal(feed(a, e), MK_OK);
        mk_peer_entry_unref(e);
    }
    assert_int_equal(mk_catalog_watch_changed(w, mkt_ms(2000), &err), MK_OK);
    mk_catalog_t *latest = mk_catalog_watch_latest(w);
    assert_int_equal(mk_catalog_count(latest), 20);
    assert_int_equal(mk_catalog_count(held), 0);  /* a held snapshot never changes */
    mk_catalog_free(latest);
    mk_catalog_free(held);
    MKT_WAIT_UNTIL(poll(&pfd, 1, 0) == 1, 2);
    mk_peer_event_t got;
    uint64_t lagged = 0;
    assert_int_equal(mk_discovery_events_next(ev, &got, &lagged, 0, &err), MK_ELAGGED);
    assert_int_equal(lagged, 12);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(mk_discovery_events_next(ev, &got, &lagged, 0, &err), MK_OK);
        assert_int_equal(got.kind, MK_PEER_DISCOVERED);
        mk_peer_event_clear(&got);
    }
    assert_int_equal(poll(&pfd, 1, 0), 0);  /* readable exactly while next would not wait */
    assert_int_equal(mk_discovery_events_next(ev, &got, &lagged, 0, &err), MK_ETIMEDOUT);
    mk_discovery_events_t *late = mk_discovery_events(a, &err);
    assert_int_equal(mk_discovery_events_next(late, &got, &lagged, 0, &err), MK_ETIMEDOUT);  /* only later events */
    mk_discovery_events_free(late);
    mk_discovery_events_free(ev);
    mk_catalog_watch_free(w);
}

static void sync_with_gives_both_the_union(void **state) {
    (void)state;
    a = mkt_disc_node(NULL, NULL);
    b = mkt_disc_node(NULL, NULL);
    for (int i = 0; i < 5; i++) {
        const mk_peer_entry_t *x = forge((const char *[]){"s0", "s1", "s2", "s3", "s4"}[i], NULL, NULL, 0, NULL);
        const mk_peer_entry_t *y = forge((const char *[]){"t0", "t1", "t2", "t3", "t4"}[i], NULL, NULL, 0, NULL);
        assert_int_equal(feed(a, x), MK_OK);
        assert_int_equal(feed(b, y), MK_OK);
        mk_peer_entry_unref(x);
        mk_peer_entry_unref(y);
    }
    char addr[MK_ADDR_STR_MAX];
    mkt_disc_addr(b, addr, sizeof addr);
    mk_error_t err;
    assert_int_equal(mk_discovery_sync_with(a, addr, mkt_ms(5000), &err), MK_OK);
    MKT_WAIT_UNTIL(mkt_disc_count(a) == 11 && mkt_disc_count(b) == 11, 2);  /* 10 fed + the other node */
    /* equal catalogs: in sync, still OK (the other way round: one inbound sync per peer per 5 s) */
    char addr_a[MK_ADDR_STR_MAX];
    mkt_disc_addr(a, addr_a, sizeof addr_a);
    double ok0 = mkt_metric(b, "mosaik_discovery_catalog_syncs", "ok");
    assert_int_equal(mk_discovery_sync_with(b, addr_a, mkt_ms(5000), &err), MK_OK);
    assert_true(mkt_metric(b, "mosaik_discovery_catalog_syncs", "ok") >= ok0 + 1);
    /* again at once: the catalogs were merged a moment ago, so it succeeds without a new session (the
     * responder would refuse a second one from the same peer within 5 s) */
    double ok1 = mkt_metric(b, "mosaik_discovery_catalog_syncs", "ok");
    assert_int_equal(mk_discovery_sync_with(b, addr_a, mkt_ms(5000), &err), MK_OK);
    assert_true(mkt_metric(b, "mosaik_discovery_catalog_syncs", "ok") == ok1);
    /* a responder takes one session per peer per 5 s: a second raw SyncHello is closed 102 */
    mk_secret_key_t sk;
    mk_secret_key_from_str("eager", &sk);
    mkt_raw_opts_t o = {.mode = MKT_RAW_TLS_ED25519, .alpn = MK_CATALOG_SYNC_ALPN, .key = &sk};
    mk_network_id_t net = mkt_network_id();
    for (int round = 0; round < 2; round++) {
        mkt_raw_link_t *r = mkt_raw_link(a, &o, &err);
        if (!r) fail_msg("mkt_raw_link: %s", err.msg);
        assert_int_equal(mkt_raw_send_hello(r, net), MK_OK);
        mk_buf_t f = MK_BUF_INIT;
        assert_int_equal(mk_wire_encode_sync_hello(&net, NULL, 0, &f), MK_OK);
        assert_int_equal(mkt_raw_send_frame(r, f.ptr, f.len), MK_OK);
        mk_buf_free(&f);
        if (round == 1) {
            uint32_t code = 0;
            char reason[200];
            assert_int_equal(mkt_raw_read_close(r, mkt_ms(3000), &code, reason, sizeof reason), MK_OK);
            assert_int_equal(code, MK_CLOSE_CANCELLED);
        } else {
            mkt_raw_frame_t reply = {0};
            assert_int_equal(mkt_raw_read_frame(r, &reply, mkt_ms(3000)), MK_OK);
            mkt_raw_frame_free(&reply);
        }
        mkt_raw_close(r);
    }
    /* nobody listening */
    const char *dead = "127.0.0.1:1";
    int rc = mk_discovery_sync_with(a, dead, mkt_ms(5000), &err);
    assert_int_equal(rc, MK_EUNREACH);
}

static void ping_measures_rtt(void **state) {
    (void)state;
    a = mkt_disc_node(NULL, NULL);
    b = mkt_disc_node(NULL, NULL);
    char addr[MK_ADDR_STR_MAX];
    mkt_disc_addr(b, addr, sizeof addr);
    mk_error_t err;
    uint64_t rtt = 0;
    mk_peer_id_t pb = mk_network_peer_id(b);
    assert_int_equal(mk_discovery_ping(a, &pb, addr, mkt_ms(5000), &rtt, &err), MK_OK);
    assert_true(rtt > 0);
    /* the Pong carried b's entry: it is in a's catalog with an RTT sample */
    mk_catalog_t *c = mk_discovery_catalog(a);
    mk_peer_info_t info;
    assert_int_equal(mk_catalog_peer_info(c, &pb, &info), MK_OK);
    assert_true(info.rtt_us > 0);
    assert_false(mk_peer_info_rtt_below(&info, 1));
    assert_true(mk_peer_info_rtt_below(&info, 10000000));
    mk_catalog_free(c);
}

static void max_rtt_50(mk_network_config_t *cfg) { cfg->discovery.max_rtt_ms = 50; }

static void max_rtt_hides_slow_peers_but_not_unmeasured_ones(void **state) {
    (void)state;
    a = mkt_disc_node(NULL, max_rtt_50);
    const mk_peer_entry_t *x = forge("slow", NULL, NULL, 0, NULL);
    assert_int_equal(feed(a, x), MK_OK);
    mk_catalog_t *before = mk_discovery_catalog(a);
    assert_non_null(mk_catalog_get(before, &x->peer));  /* no sample yet: listed */
    mk_catalog_free(before);
    mk_error_t err;
    mk_catalog_watch_t *w = mk_catalog_watch(a, &err);
    assert_int_equal(mk_discovery_test_rtt_record(a, &x->peer, 200000), MK_OK);
    assert_int_equal(mk_catalog_watch_changed(w, mkt_ms(2000), &err), MK_OK);  /* the flip published */
    mk_catalog_t *c = mk_catalog_watch_latest(w);
    assert_null(mk_catalog_get(c, &x->peer));
    assert_int_equal(mk_catalog_count(c), 0);
    mk_catalog_iter_t it;
    mk_catalog_iter_init(&it, c, MK_CAT_IGNORE_MAX_RTT);
    const mk_peer_entry_t *seen = mk_catalog_next(&it);
    assert_non_null(seen);
    assert_memory_equal(mk_peer_entry_id(seen)->b, x->peer.b, 32);
    mk_catalog_free(c);
    mk_catalog_watch_free(w);
    mk_peer_entry_unref(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(feed_applies_every_rule, teardown),
        cmocka_unit_test_teardown(queued_local_changes_are_all_kept, teardown),
        cmocka_unit_test_teardown(forged_gossip_after_join_closes_400, teardown),
        cmocka_unit_test_teardown(forged_entry_in_catalog_sync_closes_400, teardown),
        cmocka_unit_test_teardown(entry_of_another_network_after_join_closes_400, teardown),
        cmocka_unit_test_teardown(node_of_another_network_is_closed_101, teardown),
        cmocka_unit_test_teardown(unsigned_inserts_and_removal, teardown),
        cmocka_unit_test_teardown(lagging_subscription_and_watch, teardown),
        cmocka_unit_test_teardown(sync_with_gives_both_the_union, teardown),
        cmocka_unit_test_teardown(ping_measures_rtt, teardown),
        cmocka_unit_test_teardown(max_rtt_hides_slow_peers_but_not_unmeasured_ones, teardown),
    };
    return mkt_run("integration.discovery.rules", tests, sizeof tests / sizeof tests[0]);
}
