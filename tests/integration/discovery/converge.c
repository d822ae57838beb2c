/* integration/discovery/converge — spec 20 §11 items 2–5: ten nodes started against one bootstrap
 * node converge, the overlay stays within its degree and connected, a late joiner through another
 * node completes everyone; local entry changes reach every node as content updates; a graceful
 * departure is seen promptly and a restart with the same key is rediscovered; a crashed node goes
 * stale on time, also in snapshots taken before. */
#include "support/mkt_disc.h"

#include <stdio.h>
#include <string.h>

#define N 10

static mk_network_t *nets[N + 1];
static char boot_addr[MK_ADDR_STR_MAX];

static void start_cluster(size_t n, void (*tweak)(mk_network_config_t *cfg)) {
    nets[0] = mkt_disc_node(NULL, tweak);
    mkt_disc_addr(nets[0], boot_addr, sizeof boot_addr);
    for (size_t i = 1; i < n; i++) nets[i] = mkt_disc_node(boot_addr, tweak);
}

static void stop_cluster(size_t n) {
    for (size_t i = 0; i < n; i++) {
        mk_network_free(nets[i]);
        nets[i] = NULL;
    }
}

static int teardown(void **state) {
    (void)state;
    for (size_t i = 0; i <= N; i++) {
        mk_network_free(nets[i]);
        nets[i] = NULL;
    }
    return 0;
}

static void ten_nodes_converge_with_bounded_connected_overlay(void **state) {
    (void)state;
    start_cluster(N, NULL);
    mkt_disc_wait_complete(nets, N, 5);
    for (size_t i = 0; i < N; i++) {
        size_t k = mk_discovery_active_view(nets[i], NULL, 0);
        if (k < 1 || k > 5) fail_msg("node %zu has %zu active neighbours (want 1..5)", i, k);
    }
    MKT_WAIT_UNTIL(mkt_disc_overlay_connected(nets, N), 2);
    /* a late joiner through n3 (not the bootstrap) completes all eleven */
    char via[MK_ADDR_STR_MAX];
    mkt_disc_addr(nets[3], via, sizeof via);
    nets[N] = mkt_disc_node(via, NULL);
    mkt_disc_wait_complete(nets, N + 1, 3);
    stop_cluster(N + 1);
}

/* Waits on every node but `owner` for an update of owner's entry that satisfies pred. */
static void expect_everywhere(size_t n, size_t owner, bool (*pred)(const mk_peer_entry_t *), const char *what) {
    mk_peer_id_t id = mk_network_peer_id(nets[owner]);
    double t0 = mkt_now();
    for (size_t i = 0; i < n; i++) {
        if (i == owner) continue;
        for (;;) {
            const mk_peer_entry_t *e = mkt_disc_entry(nets[i], &id);
            bool ok = e && pred(e);
            mk_peer_entry_unref(e);
            if (ok) break;
            if (mkt_now() - t0 > T(2)) fail_msg("node %zu did not see %s within %.1f s", i, what, T(2));
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static const mk_id_t ticket_cls_a = {{1}};
static uint8_t ticket_data_1[] = "ticket-one", ticket_data_2[] = "ticket-two";
static bool has_x(const mk_peer_entry_t *e) { return mk_peer_entry_has_tag(e, "x"); }
static bool lacks_x(const mk_peer_entry_t *e) { return !mk_peer_entry_has_tag(e, "x"); }
static bool has_ticket_1(const mk_peer_entry_t *e) {
    mk_ticket_t t = {ticket_cls_a, ticket_data_1, sizeof ticket_data_1};
    mk_id_t id = mk_ticket_id(&t);
    return mk_peer_entry_ticket(e, &id) != NULL;
}
static bool has_only_ticket_2(const mk_peer_entry_t *e) {
    const mk_ticket_t *v[4];
    size_t k = mk_peer_entry_tickets_of(e, &ticket_cls_a, v, 4);
    return k == 1 && v[0]->len == sizeof ticket_data_2 && memcmp(v[0]->data, ticket_data_2, v[0]->len) == 0;
}
static bool has_no_tickets(const mk_peer_entry_t *e) { return mk_peer_entry_tickets(e, NULL) == 0; }

/* No periodic re-announce during the test: every version seen comes from a change. */
static void slow_announce(mk_network_config_t *cfg) {
    cfg->discovery.announce_interval_ms = 60000;
    cfg->discovery.purge_after_ms = 180000;
}

static void local_changes_reach_every_node(void **state) {
    (void)state;
    const size_t n = 6;
    start_cluster(n, slow_announce);
    mkt_disc_wait_complete(nets, n, 5);
    mk_error_t e;
    mk_discovery_events_t *ev = mk_discovery_events(nets[1], &e);
    assert_non_null(ev);
    mk_peer_id_t owner = mk_network_peer_id(nets[4]);
    const char *x[] = {"x"};

    assert_int_equal(mk_discovery_add_tags(nets[4], x, 1, mkt_ms(2000), &e), MK_OK);
    expect_everywhere(n, 4, has_x, "tag x");
    mk_peer_event_t got;
    for (;;) {  /* a content update (pure re-announces may come first) */
        assert_true(mkt_disc_wait_event(ev, MK_PEER_UPDATED, &owner, 2, &got));
        bool changed = got.content_changed;
        mk_peer_event_clear(&got);
        if (changed) break;
    }

    /* a no-op creates no version */
    const mk_peer_entry_t *before = mk_discovery_me(nets[4]);
    assert_int_equal(mk_discovery_add_tags(nets[4], x, 1, mkt_ms(2000), &e), MK_OK);
    const mk_peer_entry_t *after = mk_discovery_me(nets[4]);
    assert_int_equal(mk_entry_version_cmp(mk_peer_entry_version(before), mk_peer_entry_version(after)), 0);
    mk_peer_entry_unref(before);
    mk_peer_entry_unref(after);

    assert_int_equal(mk_discovery_remove_tags(nets[4], x, 1, mkt_ms(2000), &e), MK_OK);
    expect_everywhere(n, 4, lacks_x, "tag x removed");

    mk_ticket_t t1 = {ticket_cls_a, ticket_data_1, sizeof ticket_data_1};
    mk_ticket_t t2 = {ticket_cls_a, ticket_data_2, sizeof ticket_data_2};
    assert_int_equal(mk_discovery_add_ticket(nets[4], &t1, mkt_ms(2000), &e), MK_OK);
    expect_everywhere(n, 4, has_ticket_1, "ticket 1");
    assert_int_equal(mk_discovery_replace_ticket(nets[4], &t2, mkt_ms(2000), &e), MK_OK);
    expect_everywhere(n, 4, has_only_ticket_2, "ticket 2 replacing ticket 1");
    mk_id_t id2 = mk_ticket_id(&t2);
    assert_int_equal(mk_discovery_remove_ticket(nets[4], &id2, mkt_ms(2000), &e), MK_OK);
    expect_everywhere(n, 4, has_no_tickets, "no tickets");
    assert_int_equal(mk_discovery_add_ticket(nets[4], &t1, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(mk_discovery_remove_tickets_of(nets[4], &ticket_cls_a, mkt_ms(2000), &e), MK_OK);
    expect_everywhere(n, 4, has_no_tickets, "tickets of the class removed");

    /* the 65th tag is refused and changes nothing */
    char names[64][16];
    const char *many[64];
    for (int i = 0; i < 64; i++) {
        snprintf(names[i], sizeof names[i], "t%d", i);
        many[i] = names[i];
    }
    assert_int_equal(mk_discovery_add_tags(nets[4], many, 64, mkt_ms(2000), &e), MK_OK);
    before = mk_discovery_me(nets[4]);
    const char *one_more[] = {"t64"};
    assert_int_equal(mk_discovery_add_tags(nets[4], one_more, 1, mkt_ms(2000), &e), MK_E2BIG);
    assert_non_null(strstr(e.msg, "64"));
    after = mk_discovery_me(nets[4]);
    assert_int_equal(mk_entry_version_cmp(mk_peer_entry_version(before), mk_peer_entry_version(after)), 0);
    mk_peer_entry_unref(before);
    mk_peer_entry_unref(after);
    mk_discovery_events_free(ev);
    stop_cluster(n);
}

static mk_secret_key_t n5_key;
static void with_n5_key(mk_network_config_t *cfg) { cfg->secret_key = &n5_key; }

static void graceful_departure_is_seen_and_restart_rediscovered(void **state) {
    (void)state;
    const size_t n = 6;
    mk_secret_key_from_str("converge-n5", &n5_key);
    nets[0] = mkt_disc_node(NULL, NULL);
    mkt_disc_addr(nets[0], boot_addr, sizeof boot_addr);
    for (size_t i = 1; i < n; i++) nets[i] = mkt_disc_node(boot_addr, i == 5 ? with_n5_key : NULL);
    mkt_disc_wait_complete(nets, n, 5);
    mk_peer_id_t gone = mk_network_peer_id(nets[5]);
    mk_discovery_events_t *ev[5];
    mk_error_t e;
    for (size_t i = 0; i < 5; i++) assert_non_null(ev[i] = mk_discovery_events(nets[i], &e));
    const mk_peer_entry_t *last = mk_discovery_me(nets[5]);  /* its last signed entry, for later */
    mk_buf_t late = MK_BUF_INIT;
    assert_int_equal(mk_peer_entry_encode(last, &late, &e), MK_OK);
    mk_peer_entry_unref(last);
    /* §11.15: freeing a node with neighbours returns within departure_window (500 ms) + T(1) */
    double t0 = mkt_now();
    mk_network_free(nets[5]);
    nets[5] = NULL;
    double took = mkt_now() - t0;
    if (took > 0.5 + T(1)) fail_msg("mk_network_free took %.2f s", took);
    for (size_t i = 0; i < 5; i++) {
        mk_peer_event_t got;
        if (!mkt_disc_wait_event(ev[i], MK_PEER_DEPARTED, &gone, 2, &got))
            fail_msg("node %zu saw no departure within %.1f s", i, T(2));
        assert_int_equal(got.reason, MK_DEPART_GRACEFUL);
        mk_peer_event_clear(&got);
        const mk_peer_entry_t *left = mkt_disc_entry(nets[i], &gone);
        assert_null(left);
        /* a late copy of its last entry is kept out by the tombstone */
        assert_int_equal(mk_discovery_feed(nets[i], late.ptr, late.len, &e), MK_ESTALE);
        assert_null(mkt_disc_entry(nets[i], &gone));
    }
    mk_buf_free(&late);
    nets[5] = mkt_disc_node(boot_addr, with_n5_key);
    for (size_t i = 0; i < 5; i++) {
        mk_peer_event_t got;
        if (!mkt_disc_wait_event(ev[i], MK_PEER_DISCOVERED, &gone, 5, &got))
            fail_msg("node %zu did not rediscover the restarted node within %.1f s", i, T(5));
        mk_peer_event_clear(&got);
        mk_discovery_events_free(ev[i]);
    }
    stop_cluster(n);
}

static void crash_fast(mk_network_config_t *cfg) {
    cfg->discovery.announce_interval_ms = 500;
    cfg->discovery.purge_after_ms = 3000;
}

static void crashed_node_goes_stale_on_time(void **state) {
    (void)state;
    const size_t n = 6;
    start_cluster(n, crash_fast);
    mkt_disc_wait_complete(nets, n, 5);
    mk_peer_id_t dead = mk_network_peer_id(nets[5]);
    mk_error_t e;
    mk_discovery_events_t *ev = mk_discovery_events(nets[0], &e);
    assert_non_null(ev);
    const mk_peer_entry_t *last = mk_discovery_me(nets[5]);
    mkt_network_kill(nets[5]);
    nets[5] = NULL;
    mk_catalog_t *old = mk_discovery_catalog(nets[0]);  /* taken while n5 was still listed */
    /* n0 may have received a newer entry than `last` just before the kill: use what n0 holds */
    const mk_peer_entry_t *held = mk_catalog_get(old, &dead);
    assert_non_null(held);
    uint64_t update = mk_peer_entry_version(held).update_ms;
    if (mk_peer_entry_version(last).update_ms > update) update = mk_peer_entry_version(last).update_ms;
    mk_peer_entry_unref(last);
    mk_peer_event_t got;
    assert_true(mkt_disc_wait_event(ev, MK_PEER_DEPARTED, &dead, 3 + 2, &got));
    assert_int_equal(got.reason, MK_DEPART_STALE);
    mk_peer_event_clear(&got);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    int64_t after = now_ms - (int64_t)update;
    if (after < 3000 - 50) fail_msg("purged %lld ms after the last update (< purge_after 3000)", (long long)after);
    if (after > 3000 + T(2) * 1000) fail_msg("purged %lld ms after the last update", (long long)after);
    assert_null(mk_catalog_get(old, &dead));  /* the old snapshot hides it too */
    mk_catalog_free(old);
    mk_discovery_events_free(ev);
    stop_cluster(n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(ten_nodes_converge_with_bounded_connected_overlay, teardown),
        cmocka_unit_test_teardown(local_changes_reach_every_node, teardown),
        cmocka_unit_test_teardown(graceful_departure_is_seen_and_restart_rediscovered, teardown),
        cmocka_unit_test_teardown(crashed_node_goes_stale_on_time, teardown),
    };
    return mkt_run("integration.discovery.converge", tests, sizeof tests / sizeof tests[0]);
}
