/* integration/groups/durable — durable groups over the LMDB store (spec 40 §3.2, §7.2, §11.1
 * durable_restart) on loopback: three nodes with LMDB stores commit 300 commands; every network is
 * crashed (no Departure) and three new networks with the same identities reopen the same directories:
 * every node rebuilds the same counter (each command applied exactly once), the commit index does not
 * go back, peers see the same incarnations, and new commands commit. Then one node alone crashes and
 * restarts from its store while the other two keep committing: it rejoins as the same incarnation, stays
 * a voter and catches up. Store directories live under a mkdtemp directory ($TMPDIR or /tmp), removed
 * at the end. */
#include "support/mkt_group.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 3
static mk_network_t *nets[N];
static mk_group_t *groups[N];
static mkt_counter_t counters[N];
static mk_secret_key_t keys[N];
static char base[PATH_MAX];
static char dirs[N][PATH_MAX + 16];
static const char *KEY = "it.groups.durable";

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < N; i++)
        if (groups[i]) mk_group_leave(groups[i]), groups[i] = NULL;
    mkt_disc_free_all(nets, N);
    memset(counters, 0, sizeof counters);
    for (int i = 0; i < N; i++) mk_secret_key_wipe(&keys[i]);
    if (base[0]) nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    base[0] = 0;
    return 0;
}

static void make_dirs(void) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(base, sizeof base, "%s/mk-durable-XXXXXX", tmp);
    if (!mkdtemp(base)) fail_msg("mkdtemp %s failed", base);
    for (int i = 0; i < N; i++) snprintf(dirs[i], sizeof dirs[i], "%s/node%d", base, i);
}

/* ---- nodes with a given identity ---- */

static const mk_secret_key_t *next_key;
static void with_key(mk_network_config_t *cfg) { cfg->secret_key = next_key; }

static mk_network_t *node_with_key(int i, const char *contact) {
    next_key = &keys[i];
    mk_network_t *n = mkt_disc_node(contact, with_key);
    mk_peer_id_t want = mk_secret_key_public(&keys[i]), got = mk_network_peer_id(n);
    assert_true(mk_id_eq(&want, &got));
    return n;
}

static void join_durable(int i) {
    mk_lmdb_config_t lc = MK_LMDB_CONFIG_DEFAULT;
    lc.path = dirs[i];
    mk_error_t e;
    mk_log_store_t *s = mk_log_store_lmdb(&lc, &e);
    if (!s) fail_msg("mk_log_store_lmdb(%s): %s", dirs[i], e.msg);
    mk_group_config_t cfg = mkt_group_config(KEY, &counters[i]);
    cfg.store = s;
    groups[i] = mkt_group_join(nets[i], &cfg);
}

static void crash(int i) {
    mkt_network_kill(nets[i]);
    nets[i] = NULL;
    mk_group_leave(groups[i]);
    groups[i] = NULL;
    memset(&counters[i], 0, sizeof counters[i]);
}

/* ---- helpers ---- */

static mk_group_status_t status_of(mk_group_t *g) {
    mk_group_status_t st;
    assert_int_equal(mk_group_status(g, &st), MK_OK);
    return st;
}

static void wait_committed(mk_group_t *g, mk_index_t idx, int ms) {
    mk_group_cond_t c = {.what = MK_WHEN_COMMITTED_REACHES, .index = idx};
    mk_error_t e;
    if (mk_group_wait(g, &c, mkt_ms(ms), NULL, &e) != MK_OK)
        fail_msg("committed %llu not reached: %s", (unsigned long long)idx, e.msg);
}

/* The incarnation of peer j's bond as seen by group g; 0 when not bonded. */
static uint64_t incarnation_seen(mk_group_t *g, int j) {
    mk_bond_info_t *b = NULL;
    size_t n = 0;
    assert_int_equal(mk_group_bonds(g, &b, &n), MK_OK);
    mk_peer_id_t id = mk_secret_key_public(&keys[j]);
    uint64_t inc = 0;
    for (size_t k = 0; k < n; k++)
        if (mk_id_eq(&b[k].peer, &id)) inc = b[k].incarnation;
    mk_group_free_list(b);
    return inc;
}

static bool fully_bonded(void) {
    for (int i = 0; i < N; i++)
        if (!groups[i] || status_of(groups[i]).n_bonds != N - 1) return false;
    return true;
}

static bool three_voters(void) {
    for (int i = 0; i < N; i++) {
        mk_group_status_t st = status_of(groups[i]);
        if (st.n_voters != 3 || st.member != MK_MEMBER_VOTER) return false;
    }
    return true;
}

static void durable_restart(void **state) {
    (void)state;
    make_dirs();
    char boot[MK_ADDR_STR_MAX];
    mkt_disc_cluster(nets, N, boot);
    for (int i = 0; i < N; i++) {
        mk_network_secret_key(nets[i], &keys[i]);
        join_durable(i);
    }
    int leader = mkt_group_wait_leader(groups, N, 10);
    MKT_WAIT_UNTIL(three_voters(), 10);

    /* 300 commands: 100 single executes round-robin, then 10 batches of 20 on the leader */
    int64_t want = 0;
    mk_cmd_outcome_t o = {0}, last = {0};
    mk_error_t e;
    for (uint32_t i = 1; i <= 100; i++) {
        uint8_t cmd[5];
        mkt_counter_inc(cmd, i);
        assert_int_equal(mk_group_execute(groups[i % N], cmd, 5, mkt_ms(5000), &o, &e), MK_OK);
        assert_true(o.range.first > last.range.last);
        last = o;
        want += i;
    }
    for (int b = 0; b < 10; b++) {
        uint8_t buf[20][5];
        mk_bytes_t many[20];
        for (int i = 0; i < 20; i++) {
            mkt_counter_inc(buf[i], 2);
            many[i] = (mk_bytes_t){buf[i], 5};
            want += 2;
        }
        assert_int_equal(mk_group_execute_many(groups[leader], many, 20, mkt_ms(5000), &o, &e), MK_OK);
        assert_true(o.range.first > last.range.last);
        last = o;
    }
    mk_index_t commit_before = 0;
    uint64_t inc_before[N][N] = {{0}};
    mk_id_t origin = {{0}};
    for (int i = 0; i < N; i++) {
        wait_committed(groups[i], last.range.last, 5000);
        assert_int_equal(mkt_group_value(groups[i], MK_WEAK), want);
        assert_int_equal(counters[i].applied, 300);
        mk_group_status_t st = status_of(groups[i]);
        if (st.commit_index > commit_before) commit_before = st.commit_index;
        origin = st.origin;
        for (int j = 0; j < N; j++)
            if (j != i) {
                inc_before[i][j] = incarnation_seen(groups[i], j);
                assert_true(inc_before[i][j] != 0);
            }
    }

    /* crash every node, then start three new networks with the same identities and directories */
    for (int i = 0; i < N; i++) crash(i);
    nets[0] = node_with_key(0, NULL);
    mkt_disc_addr(nets[0], boot, sizeof boot);
    for (int i = 1; i < N; i++) nets[i] = node_with_key(i, boot);
    mkt_disc_wait_complete(nets, N, 5);
    for (int i = 0; i < N; i++) join_durable(i);
    leader = mkt_group_wait_leader(groups, N, 15);
    for (int i = 0; i < N; i++) {
        wait_committed(groups[i], last.range.last, 10000);
        assert_int_equal(mkt_group_value(groups[i], MK_WEAK), want);
        assert_int_equal(counters[i].applied, 300);  /* rebuilt by replay, each command once */
        mk_group_status_t st = status_of(groups[i]);
        assert_true(st.commit_index >= commit_before);
        assert_true(st.has_origin);
        assert_true(mk_id_eq(&st.origin, &origin));
        assert_false(st.diverged);
    }
    /* same incarnations as before the crash, and still the same three voters */
    MKT_WAIT_UNTIL(fully_bonded(), 10);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (j != i) assert_true(incarnation_seen(groups[i], j) == inc_before[i][j]);
    MKT_WAIT_UNTIL(three_voters(), 10);

    /* new commands commit on top of the old log */
    mk_cmd_outcome_t o2;
    uint8_t cmd[5];
    mkt_counter_inc(cmd, 1000);
    assert_int_equal(mk_group_execute(groups[(leader + 1) % N], cmd, 5, mkt_ms(5000), &o2, &e), MK_OK);
    assert_true(o2.range.first > last.range.last);
    want += 1000;
    for (int i = 0; i < N; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), want);
    last = o2;

    /* one node (a follower) crashes and restarts from its store while the others keep committing */
    int victim = (leader + 2) % N, peer = (leader + 1) % N;
    uint64_t victim_inc = incarnation_seen(groups[leader], victim);
    assert_true(victim_inc == inc_before[leader][victim]);
    crash(victim);
    for (uint32_t k = 0; k < 20; k++) {
        mkt_counter_inc(cmd, 5);
        assert_int_equal(mk_group_execute(groups[k % 2 ? leader : peer], cmd, 5, mkt_ms(5000), &o, &e), MK_OK);
        want += 5;
        last = o;
    }
    mkt_disc_addr(nets[peer], boot, sizeof boot);  /* the old contact may be the victim itself */
    nets[victim] = node_with_key(victim, boot);
    mkt_disc_wait_complete(nets, N, 5);
    join_durable(victim);
    wait_committed(groups[victim], last.range.last, 10000);
    assert_int_equal(mkt_group_value(groups[victim], MK_WEAK), want);
    assert_int_equal(counters[victim].applied, 321);
    /* the peers see it back with the same incarnation; it is still a voter */
    MKT_WAIT_UNTIL(incarnation_seen(groups[leader], victim) != 0 && incarnation_seen(groups[peer], victim) != 0, 10);
    assert_true(incarnation_seen(groups[leader], victim) == victim_inc);
    assert_true(incarnation_seen(groups[peer], victim) == inc_before[peer][victim]);
    MKT_WAIT_UNTIL(three_voters(), 10);
    mk_group_status_t vs = status_of(groups[victim]);
    assert_true(vs.commit_index >= last.range.last);
    /* and it takes part: a command through it commits everywhere */
    mkt_group_inc(groups[victim], 7);
    want += 7;
    for (int i = 0; i < N; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(durable_restart, teardown),
    };
    return mkt_run("integration.groups.durable", tests, sizeof tests / sizeof tests[0]);
}
