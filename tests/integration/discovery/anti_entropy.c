/* integration/discovery/anti_entropy — spec 20 §11 items 11–12: with gossip frames dropped everywhere,
 * a change still reaches every node through periodic catalog sync (sync_interval 2 s); with probes
 * every 500 ms each active neighbour has an RTT sample, measured by Ping/Pong on the announce links;
 * with max_rtt set every catalog peer is probed, non-neighbours over /mosaik/ping links. */
#include "support/mkt_disc.h"

#include "discovery/discovery.h"

#define N 5

static mk_network_t *nets[N];

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < N; i++) {
        mk_network_free(nets[i]);
        nets[i] = NULL;
    }
    return 0;
}

static void fast_sync(mk_network_config_t *cfg) {
    cfg->discovery.sync_interval_ms = 2000;
    cfg->discovery.announce_interval_ms = 10000;
    cfg->discovery.purge_after_ms = 60000;
    cfg->discovery.rtt_probe_interval_ms = 500;
}

static void start_nodes(bool no_passive_rtt) {
    nets[0] = mkt_disc_node(NULL, fast_sync);
    mk_discovery_test_no_passive_rtt(nets[0], no_passive_rtt);
    char boot[MK_ADDR_STR_MAX];
    mkt_disc_addr(nets[0], boot, sizeof boot);
    for (int i = 1; i < N; i++) {
        nets[i] = mkt_disc_node(boot, fast_sync);
        mk_discovery_test_no_passive_rtt(nets[i], no_passive_rtt);
    }
    mkt_disc_wait_complete(nets, N, 5);
}

static void start(void) { start_nodes(false); }

static bool all_see_tag(void *arg) {
    (void)arg;
    mk_peer_id_t owner = mk_network_peer_id(nets[2]);
    for (int i = 0; i < N; i++) {
        if (i == 2) continue;
        const mk_peer_entry_t *e = mkt_disc_entry(nets[i], &owner);
        bool ok = e && mk_peer_entry_has_tag(e, "late");
        mk_peer_entry_unref(e);
        if (!ok) return false;
    }
    return true;
}

static void changes_spread_by_anti_entropy_alone(void **state) {
    (void)state;
    start();
    /* the syncs of the new overlay links just ran, and a responder takes one sync per peer per 5 s:
     * let that window pass so the measurement starts from the steady state */
    struct timespec settle = {5, 100 * 1000 * 1000};
    nanosleep(&settle, NULL);
    for (int i = 0; i < N; i++) mk_discovery_test_drop_gossip(nets[i], true);
    mk_error_t e;
    const char *tag[] = {"late"};
    double t0 = mkt_now();
    assert_int_equal(mk_discovery_add_tags(nets[2], tag, 1, mkt_ms(2000), &e), MK_OK);
    /* every node syncs with a random neighbour every 2 s ± 50 %; syncs carry entries both ways, so the
     * change crosses the small overlay in a few rounds */
    MKT_WAIT_UNTIL(all_see_tag(NULL), 2 + 2);
    (void)t0;
    assert_true(mkt_metric(nets[2], "mosaik_discovery_catalog_syncs", "ok") +
                    mkt_metric(nets[0], "mosaik_discovery_catalog_syncs", "ok") >= 1);
}

static bool neighbours_have_rtt(void *arg) {
    (void)arg;
    for (int i = 0; i < N; i++) {
        mk_peer_id_t act[8];
        size_t k = mk_discovery_active_view(nets[i], act, 8);
        mk_catalog_t *c = mk_discovery_catalog(nets[i]);
        for (size_t j = 0; j < k && j < 8; j++) {
            mk_peer_info_t info;
            if (mk_catalog_peer_info(c, &act[j], &info) != MK_OK || info.rtt_us < 0) {
                mk_catalog_free(c);
                return false;
            }
        }
        mk_catalog_free(c);
    }
    return true;
}

static bool probes_answered(void *arg) {
    (void)arg;
    double ok = 0;
    for (int i = 0; i < N; i++) ok += mkt_metric(nets[i], "mosaik_discovery_rtt_probes", "ok");
    return ok >= N;
}

static void active_neighbours_get_rtt_samples(void **state) {
    (void)state;
    start_nodes(true);  /* no kernel samples: the probes must measure */
    MKT_WAIT_UNTIL(neighbours_have_rtt(NULL), 2);
    /* the probes of active neighbours are Ping/Pong on the announce links: no /mosaik/ping link opens */
    MKT_WAIT_UNTIL(probes_answered(NULL), 3);
    for (int i = 0; i < N; i++)
        assert_true(mkt_metric(nets[i], "mosaik_network_connections_opened", "/mosaik/ping") == 0);
}

static void small_views_with_max_rtt(mk_network_config_t *cfg) {
    fast_sync(cfg);
    cfg->discovery.active_view = 2;
    cfg->discovery.max_rtt_ms = 1000;
}

static bool everyone_has_rtt_of_everyone(void *arg) {
    (void)arg;
    for (int i = 0; i < N; i++) {
        mk_catalog_t *c = mk_discovery_catalog(nets[i]);
        for (int j = 0; j < N; j++) {
            if (j == i) continue;
            mk_peer_id_t id = mk_network_peer_id(nets[j]);
            mk_peer_info_t info;
            if (mk_catalog_peer_info(c, &id, &info) != MK_OK || info.rtt_us < 0) {
                mk_catalog_free(c);
                return false;
            }
        }
        mk_catalog_free(c);
    }
    return true;
}

static void with_max_rtt_every_catalog_peer_is_probed(void **state) {
    (void)state;
    nets[0] = mkt_disc_node(NULL, small_views_with_max_rtt);
    mk_discovery_test_no_passive_rtt(nets[0], true);
    char boot[MK_ADDR_STR_MAX];
    mkt_disc_addr(nets[0], boot, sizeof boot);
    for (int i = 1; i < N; i++) {
        nets[i] = mkt_disc_node(boot, small_views_with_max_rtt);
        mk_discovery_test_no_passive_rtt(nets[i], true);
    }
    mkt_disc_wait_complete(nets, N, 5);
    /* with 2 neighbours each, most peers are reached by /mosaik/ping links */
    MKT_WAIT_UNTIL(everyone_has_rtt_of_everyone(NULL), 3);
    double ping_links = 0;
    for (int i = 0; i < N; i++) ping_links += mkt_metric(nets[i], "mosaik_network_connections_opened", "/mosaik/ping");
    assert_true(ping_links > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(changes_spread_by_anti_entropy_alone, teardown),
        cmocka_unit_test_teardown(active_neighbours_get_rtt_samples, teardown),
        cmocka_unit_test_teardown(with_max_rtt_every_catalog_peer_is_probed, teardown),
    };
    return mkt_run("integration.discovery.anti_entropy", tests, sizeof tests / sizeof tests[0]);
}
