/* integration/groups/recover — spec 40 §3.7 and 01-decisions on loopback: after two of three voters
 * restart without their disks, the group cannot commit (no majority of the configuration) until
 * mk_group_unsafe_recover on the survivor; in-memory groups recover on their own after
 * 2 × voter_removal_timeout without a leader; a durable survivor never does. The committed state of
 * the survivor is kept, and the restarted nodes join the recovered group. */
#include "support/mkt_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 3
static mk_network_t *nets[N];
static mk_group_t *groups[N];
static mkt_counter_t counters[N];
static mk_secret_key_t keys[N];
static int tweak_idx;
static char lmdb_dir[256];

static void with_key(mk_network_config_t *cfg) { cfg->secret_key = &keys[tweak_idx]; }

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < N; i++)
        if (groups[i]) mk_group_leave(groups[i]), groups[i] = NULL;
    mkt_disc_free_all(nets, N);
    memset(counters, 0, sizeof counters);
    if (lmdb_dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", lmdb_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", lmdb_dir);
        lmdb_dir[0] = 0;
    }
    return 0;
}

static mk_group_config_t config(int i, uint32_t removal_ms) {
    mk_group_config_t cfg = mkt_group_config("it.groups.recover", &counters[i]);
    cfg.consensus.bootstrap_expect = 3;
    cfg.consensus.voter_removal_timeout_ms = (uint32_t)mkt_ms((int)removal_ms);
    return cfg;
}

/* Three voters; node 0 (durable when asked) commits 10; nodes 1 and 2 restart without their disks. */
static void lose_majority(uint32_t removal_ms, bool durable_survivor) {
    for (int i = 0; i < N; i++) {
        char s[32];
        snprintf(s, sizeof s, "it.recover.%d.%llu", i, (unsigned long long)mkt_seed());
        mk_secret_key_from_str(s, &keys[i]);
    }
    char boot[MK_ADDR_STR_MAX];
    tweak_idx = 0;
    nets[0] = mkt_disc_node(NULL, with_key);
    mkt_disc_addr(nets[0], boot, sizeof boot);
    for (tweak_idx = 1; tweak_idx < N; tweak_idx++) nets[tweak_idx] = mkt_disc_node(boot, with_key);
    mkt_disc_wait_complete(nets, N, 5);
    for (int i = 0; i < N; i++) {
        mk_group_config_t cfg = config(i, removal_ms);
        if (i == 0 && durable_survivor) {
            const char *tmp = getenv("TMPDIR");
            snprintf(lmdb_dir, sizeof lmdb_dir, "%s/mk-recover-XXXXXX", tmp && *tmp ? tmp : "/tmp");
            assert_non_null(mkdtemp(lmdb_dir));
            mk_lmdb_config_t lc = MK_LMDB_CONFIG_DEFAULT;
            lc.path = lmdb_dir;
            lc.map_size = (size_t)16 << 20;
            mk_error_t e;
            cfg.store = mk_log_store_lmdb(&lc, &e);
            assert_non_null(cfg.store);
        }
        groups[i] = mkt_group_join(nets[i], &cfg);
    }
    mkt_group_wait_leader(groups, N, 10);
    mk_group_status_t st;
    MKT_WAIT_UNTIL((mk_group_status(groups[0], &st), st.n_voters == 3), 10);
    for (int k = 0; k < 10; k++) mkt_group_inc(groups[0], 1);
    mk_group_cond_t c = {.what = MK_WHEN_COMMITTED_REACHES, .index = mk_group_committed(groups[0])};
    for (int i = 1; i < N; i++) assert_int_equal(mk_group_wait(groups[i], &c, mkt_ms(5000), NULL, NULL), MK_OK);
    /* nodes 1 and 2 crash and come back empty: new incarnations of the same PeerIds */
    for (int i = 1; i < N; i++) {
        mkt_network_kill(nets[i]);
        nets[i] = NULL;
        mk_group_leave(groups[i]);
        groups[i] = NULL;
        memset(&counters[i], 0, sizeof counters[i]);
    }
    for (tweak_idx = 1; tweak_idx < N; tweak_idx++) {
        nets[tweak_idx] = mkt_disc_node(boot, with_key);
        mk_group_config_t cfg = config(tweak_idx, removal_ms);
        groups[tweak_idx] = mkt_group_join(nets[tweak_idx], &cfg);
    }
    /* node 0 sees both bonded again, with new incarnations */
    MKT_WAIT_UNTIL((mk_group_status(groups[0], &st), st.n_bonds == 2), 10);
}

/* No command commits on node 0 for `secs` (each attempt ends MK_EOFFLINE or MK_ETIMEDOUT). Returns how
 * many attempts have an unknown outcome (assigned, timed out while waiting for a leader, or forwarded
 * unacknowledged): a recovery from node 0's log may still apply those. */
static int no_commit_for(double secs) {
    int unknown = 0;
    uint8_t cmd[5];
    mkt_counter_inc(cmd, 1);
    mk_index_t before = mk_group_committed(groups[0]);
    double end = mkt_now() + T(secs);
    while (mkt_now() < end) {
        mk_error_t e;
        mk_cmd_outcome_t out;
        int rc = mk_group_execute(groups[0], cmd, 5, mkt_ms(500), &out, &e);
        assert_true(rc == MK_EOFFLINE || rc == MK_ETIMEDOUT);
        unknown += out.assigned || out.maybe_applied || rc == MK_ETIMEDOUT;
        usleep(50000);
    }
    assert_int_equal(mk_group_committed(groups[0]), before);
    assert_int_equal(mkt_group_value(groups[0], MK_WEAK), 10);
    return unknown;
}

static void no_commit_until_unsafe_recover(void **state) {
    (void)state;
    lose_majority(600000, false);  /* no automatic recovery within this test */
    int unknown = no_commit_for(2);
    mk_error_t e;
    int rc;
    MKT_WAIT_UNTIL((rc = mk_group_unsafe_recover(groups[0], mkt_ms(10000), &e)) != MK_EBUSY, 5);
    if (rc != MK_OK) fail_msg("mk_group_unsafe_recover: %s", e.msg);
    assert_true(mkt_metric(nets[0], "mosaik_groups_recoveries", NULL) >= 1);
    mkt_group_inc(groups[0], 5);
    /* the restarted nodes follow the recovered group, with the survivor's state */
    mk_group_status_t st;
    MKT_WAIT_UNTIL((mk_group_status(groups[0], &st), st.n_voters == 3), 15);
    int64_t v = mkt_group_value(groups[0], MK_STRONG);
    assert_true(v >= 15 && v <= 15 + unknown);  /* nothing committed lost; unknown outcomes at most once */
    for (int i = 0; i < N; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), v);
}

static void in_memory_groups_recover_on_their_own(void **state) {
    (void)state;
    lose_majority(800, false);
    /* within 2 × voter_removal_timeout plus an election, the member with the most advanced log (node 0,
     * or a restarted one that node 0 had already replicated to, lowest PeerId on a tie) recovers */
    MKT_WAIT_UNTIL(mkt_metric(nets[0], "mosaik_groups_recoveries", NULL) + mkt_metric(nets[1], "mosaik_groups_recoveries", NULL) +
                           mkt_metric(nets[2], "mosaik_groups_recoveries", NULL) >= 1,
                   15);
    mk_group_cond_t c = {.what = MK_WHEN_ONLINE};
    mk_error_t e;
    assert_int_equal(mk_group_wait(groups[0], &c, mkt_ms(10000), NULL, &e), MK_OK);
    mkt_group_inc(groups[0], 5);
    for (int i = 0; i < N; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), 15);
}

static void durable_survivor_waits_for_the_operator(void **state) {
    (void)state;
    lose_majority(500, true);
    int unknown = no_commit_for(3);  /* 6 × voter_removal_timeout: an in-memory survivor would have recovered */
    assert_true(mkt_metric(nets[0], "mosaik_groups_recoveries", NULL) == 0);
    mk_error_t e;
    int rc;
    MKT_WAIT_UNTIL((rc = mk_group_unsafe_recover(groups[0], mkt_ms(10000), &e)) != MK_EBUSY, 5);
    if (rc != MK_OK) fail_msg("mk_group_unsafe_recover: %s", e.msg);
    mkt_group_inc(groups[0], 1);
    int64_t v = mkt_group_value(groups[0], MK_STRONG);
    assert_true(v >= 11 && v <= 11 + unknown);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(no_commit_until_unsafe_recover, teardown),
        cmocka_unit_test_teardown(in_memory_groups_recover_on_their_own, teardown),
        cmocka_unit_test_teardown(durable_survivor_waits_for_the_operator, teardown),
    };
    return mkt_run("integration.groups.recover", tests, sizeof tests / sizeof tests[0]);
}
