/* integration/discovery/scale — spec 20 §11 item 13: 100 nodes in one process (10 started every
 * 100 ms, all bootstrapping from node 0) reach complete catalogs, with every active view within its
 * bound and the overlay connected. */
#include "support/mkt_disc.h"

#include <stdio.h>
#include <sys/resource.h>

#define N 100

static mk_network_t *nets[N];

/* Re-announces every 5 s (not the 1 s of the other tests): 100 nodes re-signing every second cost
 * ~10 000 signature checks per second in one process, which a 2-core sanitizer run cannot keep up with. */
static void steady(mk_network_config_t *cfg) {
    cfg->discovery.announce_interval_ms = 5000;
    cfg->discovery.purge_after_ms = 120000;
}

static void raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
        rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void hundred_nodes_converge(void **state) {
    (void)state;
    raise_fd_limit();
    nets[0] = mkt_disc_node(NULL, steady);
    char boot[MK_ADDR_STR_MAX];
    mkt_disc_addr(nets[0], boot, sizeof boot);
    double t0 = mkt_now();
    for (int i = 1; i < N; i++) {
        nets[i] = mkt_disc_node(boot, steady);
        if (i % 10 == 0) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    mkt_disc_wait_complete(nets, N, 30);
    double took = mkt_now() - t0;
    size_t max_active = 0;
    for (int i = 0; i < N; i++) {
        size_t k = mk_discovery_active_view(nets[i], NULL, 0);
        if (k > max_active) max_active = k;
        if (k < 1 || k > 5) fail_msg("node %d has %zu active neighbours", i, k);
    }
    MKT_WAIT_UNTIL(mkt_disc_overlay_connected(nets, N), 5);
    double frames = 0;
    for (int i = 0; i < N; i++) frames += mkt_metric(nets[i], "mosaik_discovery_gossip_frames_sent", NULL);
    fprintf(stderr, "scale: %d nodes complete in %.2f s, max active view %zu, %.0f announce frames sent\n", N, took,
            max_active, frames);
    for (int i = 0; i < N; i++) {
        mk_network_free(nets[i]);
        nets[i] = NULL;
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(hundred_nodes_converge)};
    return mkt_run("integration.discovery.scale", tests, 1);
}
