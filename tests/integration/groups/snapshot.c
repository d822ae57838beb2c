/* integration/groups/snapshot — spec 40 §7.2 and §8.2 on loopback: with MK_SYNC_SNAPSHOT and a
 * snapshot-capable machine, members compact their logs every snapshot_every entries; a late joiner whose
 * needed entries are pruned everywhere gets NeedSnapshot, asks for a snapshot, the SNAPSHOT_MARKER makes
 * the members snapshot at one index, and the joiner fetches and installs it, then follows live entries;
 * LMDB members restart from their stored snapshot plus the log after it. */
#include "support/mkt_group.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 3
static mk_network_t *nets[N];
static mk_group_t *groups[N];
static mkt_counter_t counters[N];
static mk_secret_key_t keys[N];
static int tweak_idx;
static char dir[256];

static void with_key(mk_network_config_t *cfg) { cfg->secret_key = &keys[tweak_idx]; }

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < N; i++)
        if (groups[i]) mk_group_leave(groups[i]), groups[i] = NULL;
    mkt_disc_free_all(nets, N);
    memset(counters, 0, sizeof counters);
    if (dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
        dir[0] = 0;
    }
    return 0;
}

static mk_group_config_t config(int i, bool durable) {
    mk_group_config_t cfg = mkt_group_config("it.groups.snapshot", &counters[i]);
    cfg.machine = &MKT_COUNTER_SNAP;
    cfg.sync.kind = MK_SYNC_SNAPSHOT;
    cfg.sync.replay_batch = 20;
    cfg.snapshot_every = 50;
    cfg.retain_entries = 10;
    cfg.consensus.bootstrap_expect = 2;
    if (durable) {
        char path[300];
        snprintf(path, sizeof path, "%s/node%d", dir, i);
        mk_lmdb_config_t lc = MK_LMDB_CONFIG_DEFAULT;
        lc.path = path;
        lc.map_size = (size_t)16 << 20;
        mk_error_t e;
        cfg.store = mk_log_store_lmdb(&lc, &e);
        if (!cfg.store) fail_msg("lmdb: %s", e.msg);
    }
    return cfg;
}

static void run_commands(int nodes, int leader, int count) {
    uint8_t b[10][5];
    mk_bytes_t cmds[10];
    for (int k = 0; k < 10; k++) {
        mkt_counter_inc(b[k], 1);
        cmds[k] = (mk_bytes_t){b[k], 5};
    }
    mk_error_t e;
    for (int done = 0; done < count; done += 10)
        if (mk_group_execute_many(groups[(leader + done / 10) % nodes], cmds, 10, mkt_ms(5000), NULL, &e) != MK_OK)
            fail_msg("execute_many: %s", e.msg);
}

static void late_joiner_installs_a_snapshot(void **state) {
    (void)state;
    mkt_disc_cluster(nets, N, NULL);
    for (int i = 0; i < 2; i++) {
        mk_group_config_t cfg = config(i, false);
        groups[i] = mkt_group_join(nets[i], &cfg);
    }
    int leader = mkt_group_wait_leader(groups, 2, 10);
    run_commands(2, leader, 200);
    /* both members compacted their logs (in memory: pruned without a stored snapshot) */
    mk_group_config_t cfg = config(2, false);
    groups[2] = mkt_group_join(nets[2], &cfg);
    mk_group_status_t st;
    mk_group_status(groups[leader], &st);
    mk_group_cond_t c = {.what = MK_WHEN_COMMITTED_REACHES, .index = st.commit_index};
    mk_error_t e;
    assert_int_equal(mk_group_wait(groups[2], &c, mkt_ms(20000), NULL, &e), MK_OK);
    assert_true(counters[2].installs >= 1);
    assert_int_equal(mkt_group_value(groups[2], MK_WEAK), 200);
    assert_int_equal(counters[2].applied, 200);  /* restored with the snapshot, nothing applied twice */
    MKT_WAIT_UNTIL((mk_group_status(groups[2], &st), st.member == MK_MEMBER_VOTER && st.online), 10);
    mkt_group_inc(groups[2], 5);
    for (int i = 0; i < N; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), 205);
}

static void durable_members_restart_from_their_snapshots(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mk-snap-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    for (int i = 0; i < N; i++) {
        char s[40];
        snprintf(s, sizeof s, "it.snapshot.%d.%llu", i, (unsigned long long)mkt_seed());
        mk_secret_key_from_str(s, &keys[i]);
    }
    char boot[MK_ADDR_STR_MAX];
    tweak_idx = 0;
    nets[0] = mkt_disc_node(NULL, with_key);
    mkt_disc_addr(nets[0], boot, sizeof boot);
    for (tweak_idx = 1; tweak_idx < N; tweak_idx++) nets[tweak_idx] = mkt_disc_node(boot, with_key);
    mkt_disc_wait_complete(nets, N, 5);
    for (int i = 0; i < N; i++) {
        mk_group_config_t cfg = config(i, true);
        cfg.consensus.bootstrap_expect = 3;
        groups[i] = mkt_group_join(nets[i], &cfg);
    }
    int leader = mkt_group_wait_leader(groups, N, 10);
    run_commands(N, leader, 230);
    mk_group_status_t st;
    mk_group_status(groups[leader], &st);
    mk_group_cond_t c = {.what = MK_WHEN_COMMITTED_REACHES, .index = st.commit_index};
    for (int i = 0; i < N; i++) assert_int_equal(mk_group_wait(groups[i], &c, mkt_ms(5000), NULL, NULL), MK_OK);
    for (int i = 0; i < N; i++) assert_true(counters[i].snapshots >= 4);
    /* everyone crashes, then restarts on its directory */
    for (int i = 0; i < N; i++) {
        mkt_network_kill(nets[i]);
        nets[i] = NULL;
        mk_group_leave(groups[i]);
        groups[i] = NULL;
    }
    memset(counters, 0, sizeof counters);
    tweak_idx = 0;
    nets[0] = mkt_disc_node(NULL, with_key);
    mkt_disc_addr(nets[0], boot, sizeof boot);
    for (tweak_idx = 1; tweak_idx < N; tweak_idx++) nets[tweak_idx] = mkt_disc_node(boot, with_key);
    for (int i = 0; i < N; i++) {
        mk_group_config_t cfg = config(i, true);
        groups[i] = mkt_group_join(nets[i], &cfg);
        assert_int_equal(counters[i].installs, 1);  /* the stored snapshot, before the log after it */
    }
    mkt_group_wait_leader(groups, N, 15);
    for (int i = 0; i < N; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), 230);
    for (int i = 0; i < N; i++) assert_int_equal(counters[i].applied, 230);
    mkt_group_inc(groups[0], 1);
    for (int i = 0; i < N; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), 231);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(durable_members_restart_from_their_snapshots, teardown),
        cmocka_unit_test_teardown(late_joiner_installs_a_snapshot, teardown),
    };
    return mkt_run("integration.groups.snapshot", tests, sizeof tests / sizeof tests[0]);
}
