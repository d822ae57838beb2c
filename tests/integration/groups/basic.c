/* integration/groups/basic — spec 40 §11.1 on loopback with three nodes: a leader is elected and all
 * agree on it; execute on the leader and on a follower; execute_many takes contiguous increasing
 * ranges; feed through a follower then wait_range; weak and strong queries; the leader is killed and
 * the survivors elect a new one without losing a committed command, then keep executing. */
#include "support/mkt_group.h"

#include <string.h>

#define N 3
static mk_network_t *nets[N];
static mk_group_t *groups[N];
static mkt_counter_t counters[N];

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < N; i++)
        if (groups[i]) mk_group_leave(groups[i]), groups[i] = NULL;
    mkt_disc_free_all(nets, N);
    memset(counters, 0, sizeof counters);
    return 0;
}

static void start(const char *key) {
    mkt_disc_cluster(nets, N, NULL);
    for (int i = 0; i < N; i++) {
        mk_group_config_t cfg = mkt_group_config(key, &counters[i]);
        groups[i] = mkt_group_join(nets[i], &cfg);
    }
}

static void wait_all_committed(mk_index_t idx) {
    for (int i = 0; i < N; i++) {
        if (!groups[i]) continue;
        mk_group_cond_t c = {.what = MK_WHEN_COMMITTED_REACHES, .index = idx};
        mk_error_t e;
        int rc = mk_group_wait(groups[i], &c, mkt_ms(10000), NULL, &e);
        if (rc != MK_OK) fail_msg("node %d: committed %llu not reached: %s", i, (unsigned long long)idx, e.msg);
    }
}

static void execute_feed_query_and_failover(void **state) {
    (void)state;
    start("it.groups.basic");
    int leader = mkt_group_wait_leader(groups, N, 10);
    int follower = (leader + 1) % N;
    mk_group_status_t st;
    assert_int_equal(mk_group_status(groups[leader], &st), MK_OK);
    assert_int_equal(st.role, MK_ROLE_LEADER);
    assert_true(st.online);

    /* execute on the leader, then on a follower */
    uint8_t cmd[5];
    mk_cmd_outcome_t o1, o2;
    mk_error_t e;
    mkt_counter_inc(cmd, 7);
    assert_int_equal(mk_group_execute(groups[leader], cmd, 5, mkt_ms(5000), &o1, &e), MK_OK);
    assert_true(o1.assigned);
    assert_int_equal(o1.range.first, o1.range.last);
    assert_int_equal(mkt_group_value(groups[leader], MK_WEAK), 7);  /* applied locally when execute returns */
    mkt_counter_dec(cmd, 2);
    assert_int_equal(mk_group_execute(groups[follower], cmd, 5, mkt_ms(5000), &o2, &e), MK_OK);
    assert_true(o2.range.first > o1.range.last);
    assert_int_equal(mkt_group_value(groups[follower], MK_WEAK), 5);
    wait_all_committed(o2.range.last);
    for (int i = 0; i < N; i++) assert_int_equal(mkt_group_value(groups[i], MK_WEAK), 5);
    for (int i = 0; i < N; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), 5);

    /* execute_many: one contiguous range after the previous */
    uint8_t b[3][5];
    mk_bytes_t many[3];
    for (int i = 0; i < 3; i++) {
        mkt_counter_inc(b[i], 1);
        many[i] = (mk_bytes_t){b[i], 5};
    }
    mk_cmd_outcome_t o3;
    assert_int_equal(mk_group_execute_many(groups[follower], many, 3, mkt_ms(5000), &o3, &e), MK_OK);
    assert_int_equal(o3.range.last - o3.range.first, 2);
    assert_true(o3.range.first > o2.range.last);

    /* feed through a follower, then wait for its range */
    mk_cmd_outcome_t o4;
    assert_int_equal(mk_group_feed_many(groups[follower], many, 3, mkt_ms(5000), &o4, &e), MK_OK);
    assert_int_equal(o4.range.last - o4.range.first, 2);
    assert_true(o4.range.first > o3.range.last);
    assert_int_equal(mk_group_wait_range(groups[follower], &o4.range, mkt_ms(5000), &e), MK_OK);
    assert_int_equal(mkt_group_value(groups[follower], MK_WEAK), 11);
    assert_int_equal(mkt_group_value(groups[leader], MK_STRONG), 11);

    /* errors */
    assert_int_equal(mk_group_execute_many(groups[leader], many, 0, 100, NULL, &e), MK_ENOCOMMANDS);

    /* kill the leader: the others elect a new one and keep every committed command */
    mk_id_t old_leader = mk_network_peer_id(nets[leader]);
    mkt_network_kill(nets[leader]);  /* a crash: no Departure */
    nets[leader] = NULL;
    mk_group_leave(groups[leader]);  /* only frees the handle now */
    groups[leader] = NULL;
    int nl = mkt_group_wait_leader(groups, N, 15);
    mk_id_t new_leader;
    assert_true(mk_group_leader(groups[nl], &new_leader));
    assert_false(mk_id_eq(&new_leader, &old_leader));
    for (int i = 0; i < N; i++)
        if (groups[i]) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), 11);
    for (int i = 0; i < N; i++)
        if (groups[i]) mkt_group_inc(groups[i], 10);
    for (int i = 0; i < N; i++)
        if (groups[i]) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), 31);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(execute_feed_query_and_failover, teardown),
    };
    return mkt_run("integration.groups.basic", tests, sizeof tests / sizeof tests[0]);
}
