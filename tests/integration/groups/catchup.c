/* integration/groups/catchup — spec 40 §11.1 "catchup" and §8.1 on loopback: a small gap is closed by
 * AppendEntries back-off alone; a large one by log replay (replay_batch 7 and 100): the late joiner
 * fetches the committed entries from its bonded peers in parallel, ends with the same state, becomes a
 * voter, and the sync session is counted; a node that lags while the others keep writing also ends
 * with the same state. */
#include "support/mkt_group.h"

#include <pthread.h>
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

static mk_group_config_t config(int i, uint32_t batch) {
    mk_group_config_t cfg = mkt_group_config("it.groups.catchup", &counters[i]);
    cfg.sync.replay_batch = batch;
    cfg.consensus.bootstrap_expect = 2;
    return cfg;
}

/* Two members commit `commands` increments of 1 in batches of 10, then the third joins. */
static void late_joiner(uint32_t batch, int commands, bool expect_sync) {
    mkt_disc_cluster(nets, N, NULL);
    for (int i = 0; i < 2; i++) {
        mk_group_config_t cfg = config(i, batch);
        groups[i] = mkt_group_join(nets[i], &cfg);
    }
    int leader = mkt_group_wait_leader(groups, 2, 10);
    uint8_t b[10][5];
    mk_bytes_t cmds[10];
    for (int k = 0; k < 10; k++) {
        mkt_counter_inc(b[k], 1);
        cmds[k] = (mk_bytes_t){b[k], 5};
    }
    mk_error_t e;
    for (int done = 0; done < commands; done += 10)
        assert_int_equal(mk_group_execute_many(groups[(leader + done / 10) % 2], cmds, 10, mkt_ms(5000), NULL, &e), MK_OK);
    mk_group_status_t st;
    mk_group_status(groups[leader], &st);
    mk_group_config_t cfg = config(2, batch);
    groups[2] = mkt_group_join(nets[2], &cfg);
    mk_group_cond_t c = {.what = MK_WHEN_COMMITTED_REACHES, .index = st.commit_index};
    assert_int_equal(mk_group_wait(groups[2], &c, mkt_ms(20000), NULL, &e), MK_OK);
    assert_int_equal(mkt_group_value(groups[2], MK_WEAK), commands);
    assert_int_equal(counters[2].applied, (uint64_t)commands);
    double sessions = mkt_metric(nets[2], "mosaik_groups_sync_sessions", NULL);
    if (expect_sync) assert_true(sessions >= 1);
    else assert_true(sessions == 0);
    /* it becomes a voter and takes part in new commands */
    MKT_WAIT_UNTIL((mk_group_status(groups[2], &st), st.member == MK_MEMBER_VOTER && st.online), 10);
    mkt_group_inc(groups[2], 5);
    for (int i = 0; i < N; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), commands + 5);
}

static void small_gap_by_append_entries(void **state) {
    (void)state;
    late_joiner(1000, 60, false);
}

static void large_gap_by_log_replay_batch_7(void **state) {
    (void)state;
    late_joiner(7, 300, true);
}

static void large_gap_by_log_replay_batch_100(void **state) {
    (void)state;
    late_joiner(100, 1000, true);
}

typedef struct writer {
    mk_group_t *g;
    volatile bool stop;
    int done;
} writer_t;

static void *write_loop(void *arg) {
    writer_t *w = arg;
    uint8_t cmd[5];
    mkt_counter_inc(cmd, 1);
    while (!w->stop) {
        mk_error_t e;
        if (mk_group_execute(w->g, cmd, 5, mkt_ms(5000), NULL, &e) == MK_OK) w->done++;
    }
    return NULL;
}

static void catchup_while_writing(void **state) {
    (void)state;
    mkt_disc_cluster(nets, N, NULL);
    for (int i = 0; i < 2; i++) {
        mk_group_config_t cfg = config(i, 20);
        groups[i] = mkt_group_join(nets[i], &cfg);
    }
    int leader = mkt_group_wait_leader(groups, 2, 10);
    writer_t w = {.g = groups[leader]};
    pthread_t t;
    pthread_create(&t, NULL, write_loop, &w);
    MKT_WAIT_UNTIL(w.done >= 200, 20);
    mk_group_config_t cfg = config(2, 20);
    groups[2] = mkt_group_join(nets[2], &cfg);
    mk_group_status_t st;
    MKT_WAIT_UNTIL((mk_group_status(groups[2], &st), st.member == MK_MEMBER_VOTER && st.online), 20);
    int at_join = w.done;
    MKT_WAIT_UNTIL(w.done >= at_join + 100, 20);
    w.stop = true;
    pthread_join(t, NULL);
    int64_t v = mkt_group_value(groups[leader], MK_STRONG);
    assert_int_equal(v, w.done);
    for (int i = 0; i < N; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(small_gap_by_append_entries, teardown),
        cmocka_unit_test_teardown(large_gap_by_log_replay_batch_7, teardown),
        cmocka_unit_test_teardown(large_gap_by_log_replay_batch_100, teardown),
        cmocka_unit_test_teardown(catchup_while_writing, teardown),
    };
    return mkt_run("integration.groups.catchup", tests, sizeof tests / sizeof tests[0]);
}
