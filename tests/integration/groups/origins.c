/* integration/groups/origins — divergent origins (spec 40 §3.8, §3.9, §11.1 leader; 01-decisions) on
 * loopback. Three nodes start without bootstrap contacts, so each one bootstraps alone as a one-node
 * group with its own origin; later they are introduced to each other with mk_discovery_dial.
 * origins_merge_when_disposable: none holds a command, so they converge on one origin (the lowest
 * origin wins when nobody has commands) with one leader and three voters, and the merged group
 * commits. divergent_histories_are_never_merged: n0 commits 3 commands alone, n1 one, n2 none; once
 * they meet, n0 and n1 keep their own origins, values and leadership, report `diverged` in their
 * status and through MK_GROUP_EV_DIVERGED, and keep committing on their own side only; n2 (no command)
 * abandons its origin and joins one of the two, ending with that side's value. */
#include "support/mkt_group.h"

#include <stdatomic.h>
#include <string.h>

#define N 3
static mk_network_t *nets[N];
static mk_group_t *groups[N];
static mkt_counter_t counters[N];
static atomic_int diverged_events[N];

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < N; i++)
        if (groups[i]) mk_group_leave(groups[i]), groups[i] = NULL;
    mkt_disc_free_all(nets, N);
    memset(counters, 0, sizeof counters);
    for (int i = 0; i < N; i++) atomic_store(&diverged_events[i], 0);
    return 0;
}

static void on_event(void *ud, const mk_group_event_t *ev) {
    int i = (int)(intptr_t)ud;
    if (ev->kind == MK_GROUP_EV_DIVERGED) atomic_fetch_add(&diverged_events[i], 1);
}

static mk_group_status_t status_of(int i) {
    mk_group_status_t st;
    assert_int_equal(mk_group_status(groups[i], &st), MK_OK);
    return st;
}

static bool is_voter_in(const mk_group_status_t *st, const mk_id_t *id) {
    for (size_t i = 0; i < st->n_voters && i < 32; i++)
        if (mk_id_eq(&st->voters[i], id)) return true;
    return false;
}

/* Three isolated nodes, each joined and leading its own one-node group. */
static void start_alone(const char *key) {
    for (int i = 0; i < N; i++) nets[i] = mkt_disc_node(NULL, NULL);
    for (int i = 0; i < N; i++) {
        mk_group_config_t cfg = mkt_group_config(key, &counters[i]);
        cfg.on_event = on_event;
        cfg.event_ud = (void *)(intptr_t)i;
        groups[i] = mkt_group_join(nets[i], &cfg);
    }
    for (int i = 0; i < N; i++) {
        mk_group_cond_t c = {.what = MK_WHEN_IS_LEADER};
        mk_error_t e;
        if (mk_group_wait(groups[i], &c, mkt_ms(10000), NULL, &e) != MK_OK) fail_msg("node %d did not lead alone: %s", i, e.msg);
    }
    /* three origins, three one-voter groups, nobody knows anybody */
    for (int i = 0; i < N; i++) {
        mk_group_status_t st = status_of(i);
        assert_true(st.has_origin);
        assert_int_equal(st.n_voters, 1);
        assert_int_equal(st.n_bonds, 0);
        assert_false(st.diverged);
        assert_int_equal(mkt_disc_count(nets[i]), 0);
        for (int j = 0; j < i; j++) {
            mk_group_status_t sj = status_of(j);
            assert_false(mk_id_eq(&st.origin, &sj.origin));
        }
    }
}

/* Introduces n1 and n2 to n0; discovery spreads the rest. */
static void meet(void) {
    char addr[MK_ADDR_STR_MAX];
    mkt_disc_addr(nets[0], addr, sizeof addr);
    mk_error_t e;
    for (int i = 1; i < N; i++) assert_int_equal(mk_discovery_dial(nets[i], addr, &e), MK_OK);
    mkt_disc_wait_complete(nets, N, 10);
}

static bool one_origin_three_voters(void) {
    mk_group_status_t s0 = status_of(0);
    if (!s0.has_origin || !s0.has_leader || s0.n_voters != 3 || s0.diverged) return false;
    for (int i = 1; i < N; i++) {
        mk_group_status_t st = status_of(i);
        if (!st.has_origin || !mk_id_eq(&st.origin, &s0.origin)) return false;
        if (!st.has_leader || !mk_id_eq(&st.leader, &s0.leader)) return false;
        if (st.n_voters != 3 || st.diverged) return false;
        for (int k = 0; k < 3; k++)
            if (!is_voter_in(&st, &s0.voters[k])) return false;
    }
    return true;
}

static void origins_merge_when_disposable(void **state) {
    (void)state;
    start_alone("it.groups.origins.merge");
    mk_id_t origins[N];
    mk_id_t lowest = status_of(0).origin;
    for (int i = 0; i < N; i++) {
        origins[i] = status_of(i).origin;
        if (mk_id_cmp(&origins[i], &lowest) < 0) lowest = origins[i];
    }

    meet();
    MKT_WAIT_UNTIL(one_origin_three_voters(), 20);
    mk_group_status_t st = status_of(0);
    /* nobody held a command, so the lowest origin survived (§3.9: O' < O → abandon O) */
    assert_true(mk_id_eq(&st.origin, &lowest));
    int leaders = 0;
    for (int i = 0; i < N; i++) {
        mk_group_status_t si = status_of(i);
        leaders += si.role == MK_ROLE_LEADER;
        mk_id_t me = mk_network_peer_id(nets[i]);
        assert_true(is_voter_in(&si, &me));
        assert_int_equal(si.member, MK_MEMBER_VOTER);
        assert_int_equal(si.n_bonds, 2);
    }
    /* a node keeping its origin may flag a divergence briefly (§3.9) until the disposable side has
     * abandoned; the flag is clear everywhere now (one_origin_three_voters) and stays so */
    int ev_at_merge[N];
    for (int i = 0; i < N; i++) ev_at_merge[i] = atomic_load(&diverged_events[i]);
    assert_int_equal(leaders, 1);
    int leader = mkt_group_wait_leader(groups, N, 5);
    /* the merged group works: a command through each node, read strongly everywhere */
    for (int i = 0; i < N; i++) mkt_group_inc(groups[(leader + i) % N], (uint32_t)(i + 1));
    for (int i = 0; i < N; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), 6);
    for (int i = 0; i < N; i++) assert_int_equal(counters[i].applied, 3);
    for (int i = 0; i < N; i++) {
        mk_group_status_t si = status_of(i);
        assert_false(si.diverged);
        assert_true(mk_id_eq(&si.origin, &lowest));
        assert_int_equal(atomic_load(&diverged_events[i]), ev_at_merge[i]);
    }
}

static void divergent_histories_are_never_merged(void **state) {
    (void)state;
    start_alone("it.groups.origins.diverge");
    /* n0: three commands, n1: one, n2: none */
    mkt_group_inc(groups[0], 1);
    mkt_group_inc(groups[0], 2);
    mkt_group_inc(groups[0], 3);
    mkt_group_inc(groups[1], 10);
    assert_int_equal(mkt_group_value(groups[0], MK_STRONG), 6);
    assert_int_equal(mkt_group_value(groups[1], MK_STRONG), 10);
    mk_group_status_t before[N];
    for (int i = 0; i < N; i++) before[i] = status_of(i);

    meet();
    /* n0 and n1 see each other's history and flag it */
    MKT_WAIT_UNTIL(status_of(0).diverged && status_of(1).diverged, 15);
    MKT_WAIT_UNTIL(atomic_load(&diverged_events[0]) > 0 && atomic_load(&diverged_events[1]) > 0, 5);
    /* n2 had nothing to lose: it joins one side and catches up to that side's value */
    const int64_t want[2] = {6, 10};
    int side = -1;
    double lim = mkt_now() + T(20);
    while (side < 0 && mkt_now() < lim) {
        mk_group_status_t s2 = status_of(2);
        int64_t v2 = mkt_group_value(groups[2], MK_WEAK);
        for (int k = 0; k < 2 && side < 0; k++)
            if (s2.has_origin && mk_id_eq(&s2.origin, &before[k].origin) && s2.member == MK_MEMBER_VOTER &&
                v2 == want[k])
                side = k;
        if (side < 0) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (side < 0) fail_msg("n2 did not join either side (value %lld)", (long long)mkt_group_value(groups[2], MK_WEAK));
    int other = 1 - side;
    mk_group_status_t s2 = status_of(2);
    assert_false(mk_id_eq(&s2.origin, &before[2].origin));  /* its own origin was abandoned */
    MKT_WAIT_UNTIL(status_of(2).diverged, 3);  /* bonded to the other side, which it can no longer join */
    assert_int_equal(mkt_group_value(groups[2], MK_WEAK), side == 0 ? 6 : 10);

    /* n0 and n1 kept their origins, values and leadership; nothing was merged */
    for (int k = 0; k < 2; k++) {
        mk_group_status_t st = status_of(k);
        assert_true(mk_id_eq(&st.origin, &before[k].origin));
        assert_true(st.diverged);
        assert_int_equal(st.role, MK_ROLE_LEADER);
        assert_true(st.commit_index >= before[k].commit_index);
        assert_int_equal(st.n_bonds, 2);
        mk_id_t other_id = mk_network_peer_id(nets[1 - k]);
        assert_false(is_voter_in(&st, &other_id));
    }
    assert_int_equal(mkt_group_value(groups[0], MK_WEAK), 6);
    assert_int_equal(mkt_group_value(groups[1], MK_WEAK), 10);
    assert_int_equal(counters[0].applied, 3);
    assert_int_equal(counters[1].applied, 1);
    mk_group_status_t sside = status_of(side), sother = status_of(other);
    assert_int_equal(sside.n_voters, 2);  /* the side n2 joined promoted it */
    assert_int_equal(sother.n_voters, 1);

    /* each side keeps committing on its own; the other side never sees it */
    mkt_group_inc(groups[side], 100);
    mkt_group_inc(groups[other], 1000);
    assert_int_equal(mkt_group_value(groups[2], MK_STRONG), (side == 0 ? 6 : 10) + 100);
    assert_int_equal(mkt_group_value(groups[side], MK_STRONG), (side == 0 ? 6 : 10) + 100);
    assert_int_equal(mkt_group_value(groups[other], MK_STRONG), (other == 0 ? 6 : 10) + 1000);
    assert_int_equal(mkt_group_value(groups[2], MK_WEAK), (side == 0 ? 6 : 10) + 100);
    for (int i = 0; i < N; i++) assert_true(status_of(i).diverged);
    /* the flag is raised once per divergence, not on every message */
    assert_true(atomic_load(&diverged_events[0]) <= 3);
    assert_true(atomic_load(&diverged_events[1]) <= 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(origins_merge_when_disposable, teardown),
        cmocka_unit_test_teardown(divergent_histories_are_never_merged, teardown),
    };
    return mkt_run("integration.groups.origins", tests, sizeof tests / sizeof tests[0]);
}
