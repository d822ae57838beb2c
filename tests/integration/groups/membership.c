/* integration/groups/membership — spec 40 §3.7 and §3.8 on loopback: a late joiner catches up on 200
 * committed commands and is promoted to voter; Observers replicate, apply and answer queries but never
 * vote, campaign or lead, and a dead Observer never stalls commits; with one Normal and two Reluctant
 * nodes the Normal one leads (a Reluctant one takes over only once it is gone); seven Normal nodes give
 * exactly max_voters = 5 voters and two learners, and a killed voter is replaced by a learner after
 * voter_removal_timeout; bootstrap_expect = 3 elects no leader before the third member is bonded, then
 * writes all three into the bootstrap configuration. */
#include "support/mkt_group.h"

#include <string.h>

#define MAXN 7
static mk_network_t *nets[MAXN];
static mk_group_t *groups[MAXN];
static mkt_counter_t counters[MAXN];

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < MAXN; i++)
        if (groups[i]) mk_group_leave(groups[i]), groups[i] = NULL;
    mkt_disc_free_all(nets, MAXN);
    memset(counters, 0, sizeof counters);
    return 0;
}

static mk_group_status_t status_of(mk_group_t *g) {
    mk_group_status_t st;
    assert_int_equal(mk_group_status(g, &st), MK_OK);
    return st;
}

static bool is_voter_in(const mk_group_status_t *st, const mk_id_t *id) {
    for (size_t i = 0; i < st->n_voters && i < 32; i++)
        if (mk_id_eq(&st->voters[i], id)) return true;
    return false;
}

static mk_id_t peer_of(int i) { return mk_network_peer_id(nets[i]); }

/* Crashes node i (no Departure) and releases its handle. */
static void kill_node(int i) {
    mkt_network_kill(nets[i]);
    nets[i] = NULL;
    mk_group_leave(groups[i]);
    groups[i] = NULL;
}

static void join_all(int n, const char *key, void (*tweak)(mk_group_config_t *cfg)) {
    for (int i = 0; i < n; i++) {
        mk_group_config_t cfg = mkt_group_config(key, &counters[i]);
        if (tweak) tweak(&cfg);
        groups[i] = mkt_group_join(nets[i], &cfg);
    }
}

static void wait_committed(mk_group_t *g, mk_index_t idx, int ms) {
    mk_group_cond_t c = {.what = MK_WHEN_COMMITTED_REACHES, .index = idx};
    mk_error_t e;
    int rc = mk_group_wait(g, &c, mkt_ms(ms), NULL, &e);
    if (rc != MK_OK) fail_msg("committed %llu not reached: %s", (unsigned long long)idx, e.msg);
}

/* True when every live group reports n voters and the same voter list. */
static bool voters_agree(size_t want) {
    mk_group_status_t first;
    bool have = false;
    for (int i = 0; i < MAXN; i++) {
        if (!groups[i]) continue;
        mk_group_status_t st;
        mk_group_status(groups[i], &st);
        if (st.n_voters != want) return false;
        if (!have) {
            first = st;
            have = true;
            continue;
        }
        for (size_t k = 0; k < want; k++)
            if (!is_voter_in(&first, &st.voters[k])) return false;
    }
    return have;
}

/* ---- (a) a late joiner catches up and becomes a voter ---- */

static void late_joiner_catches_up_and_becomes_voter(void **state) {
    (void)state;
    char boot[MK_ADDR_STR_MAX];
    mkt_disc_cluster(nets, 2, boot);
    join_all(2, "it.groups.membership.late", NULL);
    int leader = mkt_group_wait_leader(groups, 2, 10);
    int follower = 1 - leader;
    MKT_WAIT_UNTIL(voters_agree(2), 10);

    /* 200 commands: 100 single executes alternating leader / follower, then 5 batches of 20 */
    int64_t want = 0;
    mk_cmd_outcome_t last = {0};
    mk_error_t e;
    for (uint32_t i = 1; i <= 100; i++) {
        uint8_t cmd[5];
        mkt_counter_inc(cmd, i);
        mk_cmd_outcome_t o;
        assert_int_equal(mk_group_execute(groups[i % 2 ? leader : follower], cmd, 5, mkt_ms(5000), &o, &e), MK_OK);
        assert_true(o.range.first > last.range.last);
        last = o;
        want += i;
    }
    for (int b = 0; b < 5; b++) {
        uint8_t buf[20][5];
        mk_bytes_t many[20];
        for (int i = 0; i < 20; i++) {
            mkt_counter_inc(buf[i], 3);
            many[i] = (mk_bytes_t){buf[i], 5};
            want += 3;
        }
        mk_cmd_outcome_t o;
        assert_int_equal(mk_group_execute_many(groups[leader], many, 20, mkt_ms(5000), &o, &e), MK_OK);
        assert_int_equal(o.range.last - o.range.first, 19);
        assert_true(o.range.first > last.range.last);
        last = o;
    }
    wait_committed(groups[follower], last.range.last, 5000);
    assert_int_equal(mkt_group_value(groups[follower], MK_WEAK), want);
    assert_int_equal(counters[leader].applied, 200);

    /* the third node arrives later: empty store, finds the group, catches up */
    nets[2] = mkt_disc_node(boot, NULL);
    mkt_disc_wait_complete(nets, 3, 5);
    mk_group_config_t cfg = mkt_group_config("it.groups.membership.late", &counters[2]);
    groups[2] = mkt_group_join(nets[2], &cfg);
    wait_committed(groups[2], last.range.last, 15000);
    assert_int_equal(mkt_group_value(groups[2], MK_WEAK), want);
    assert_int_equal(counters[2].applied, 200);

    /* it joined the existing origin (no rival bootstrap) and is promoted to voter */
    mk_group_status_t s0 = status_of(groups[leader]);
    mk_id_t late = peer_of(2);
    MKT_WAIT_UNTIL(voters_agree(3), 10);
    mk_group_status_t s2 = status_of(groups[2]);
    assert_true(s2.has_origin);
    assert_true(mk_id_eq(&s2.origin, &s0.origin));
    assert_int_equal(s2.member, MK_MEMBER_VOTER);
    assert_true(is_voter_in(&s2, &late));
    assert_false(s2.diverged);
    mk_id_t lid;
    assert_true(mk_group_leader(groups[2], &lid));
    mk_id_t old_lid = peer_of(leader);
    assert_true(mk_id_eq(&lid, &old_lid));  /* no election was needed */

    /* it works as a member: executes through it reach everybody */
    mkt_group_inc(groups[2], 1000);
    want += 1000;
    for (int i = 0; i < 3; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), want);
}

/* ---- (b) observers never vote or lead, apply everything, and never stall commits ---- */

static void observers_never_vote_or_lead(void **state) {
    (void)state;
    mkt_disc_cluster(nets, 4, NULL);
    counters[2].lead = (mk_leadership_t){MK_LEAD_OBSERVER, 1};
    counters[3].lead = (mk_leadership_t){MK_LEAD_OBSERVER, 1};
    join_all(4, "it.groups.membership.observers", NULL);
    int leader = mkt_group_wait_leader(groups, 4, 10);
    assert_true(leader == 0 || leader == 1);
    MKT_WAIT_UNTIL(voters_agree(2), 10);
    mk_id_t n0 = peer_of(0), n1 = peer_of(1), o2 = peer_of(2), o3 = peer_of(3);
    for (int i = 0; i < 4; i++) {
        mk_group_status_t st = status_of(groups[i]);
        assert_true(is_voter_in(&st, &n0) && is_voter_in(&st, &n1));
        assert_false(is_voter_in(&st, &o2) || is_voter_in(&st, &o3));
        mk_id_t lid = peer_of(leader);
        assert_true(st.has_leader && mk_id_eq(&st.leader, &lid));
        if (i >= 2) {
            assert_int_equal(st.member, MK_MEMBER_OBSERVER);
            assert_int_equal(st.role, MK_ROLE_FOLLOWER);
        } else {
            assert_int_equal(st.member, MK_MEMBER_VOTER);
        }
    }

    /* observers forward commands, apply everything and answer weak and strong queries */
    mk_cmd_outcome_t o;
    mk_error_t e;
    uint8_t cmd[5];
    mkt_counter_inc(cmd, 5);
    assert_int_equal(mk_group_execute(groups[2], cmd, 5, mkt_ms(5000), &o, &e), MK_OK);
    assert_int_equal(mkt_group_value(groups[2], MK_WEAK), 5);
    mkt_counter_inc(cmd, 7);
    assert_int_equal(mk_group_execute(groups[3], cmd, 5, mkt_ms(5000), &o, &e), MK_OK);
    assert_int_equal(mkt_group_value(groups[3], MK_WEAK), 12);
    for (int i = 0; i < 4; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), 12);
    wait_committed(groups[2], o.range.last, 5000);
    assert_int_equal(mkt_group_value(groups[2], MK_WEAK), 12);

    /* no observer ever became a candidate */
    assert_true(mkt_metric(nets[2], "mosaik_groups_raft_elections", NULL) == 0);
    assert_true(mkt_metric(nets[3], "mosaik_groups_raft_elections", NULL) == 0);

    /* kill an observer: commits go on at once, the leader is unchanged, the other observer follows */
    mk_id_t lid = peer_of(leader);
    kill_node(3);
    for (int k = 0; k < 20; k++) {
        mkt_counter_inc(cmd, 1);
        assert_int_equal(mk_group_execute(groups[leader], cmd, 5, mkt_ms(2000), &o, &e), MK_OK);
    }
    wait_committed(groups[2], o.range.last, 5000);
    assert_int_equal(mkt_group_value(groups[2], MK_WEAK), 32);
    assert_int_equal(mkt_group_value(groups[1 - leader], MK_STRONG), 32);
    mk_id_t now_l;
    assert_true(mk_group_leader(groups[2], &now_l));
    assert_true(mk_id_eq(&now_l, &lid));
    /* after the bond to the dead observer is gone, still two voters and no observer among them */
    MKT_WAIT_UNTIL(status_of(groups[leader]).n_bonds == 2, 5);
    mkt_group_inc(groups[1 - leader], 1);
    mk_group_status_t st = status_of(groups[leader]);
    assert_int_equal(st.n_voters, 2);
    assert_false(is_voter_in(&st, &o2));
    st = status_of(groups[2]);
    assert_int_equal(st.member, MK_MEMBER_OBSERVER);
    assert_int_equal(st.role, MK_ROLE_FOLLOWER);
    assert_true(mkt_metric(nets[2], "mosaik_groups_raft_elections", NULL) == 0);
}

/* ---- (c) reluctant nodes lead only when no Normal voter is up ---- */

static void reluctant_nodes_rarely_lead(void **state) {
    (void)state;
    mkt_disc_cluster(nets, 3, NULL);
    counters[1].lead = MK_LEADERSHIP_RELUCTANT_DEFAULT;
    counters[2].lead = MK_LEADERSHIP_RELUCTANT_DEFAULT;
    join_all(3, "it.groups.membership.reluctant", NULL);
    int leader = mkt_group_wait_leader(groups, 3, 10);
    assert_int_equal(leader, 0);
    MKT_WAIT_UNTIL(voters_agree(3), 10);  /* the Reluctant ones are full voters */
    mkt_group_inc(groups[1], 4);
    assert_int_equal(mkt_group_value(groups[2], MK_STRONG), 4);
    /* still the Normal node after the commands went through */
    assert_true(mk_group_is_leader(groups[0]));
    assert_true(mkt_metric(nets[1], "mosaik_groups_raft_elections", NULL) == 0);
    assert_true(mkt_metric(nets[2], "mosaik_groups_raft_elections", NULL) == 0);

    /* without the Normal node a Reluctant one takes over (2 of 3 voters remain) */
    kill_node(0);
    int nl = mkt_group_wait_leader(groups, 3, 20);
    assert_true(nl == 1 || nl == 2);
    mkt_group_inc(groups[nl == 1 ? 2 : 1], 1);
    assert_int_equal(mkt_group_value(groups[nl], MK_STRONG), 5);
}

static bool replaced(mk_group_t *g, const mk_id_t *gone) {
    mk_group_status_t s = status_of(g);
    return s.n_voters == 5 && !is_voter_in(&s, gone);
}

/* ---- (d) seven Normal nodes: exactly max_voters = 5 voters ---- */

static void seven_nodes_five_voters(void **state) {
    (void)state;
    mkt_disc_cluster(nets, 7, NULL);
    join_all(7, "it.groups.membership.seven", NULL);
    int leader = mkt_group_wait_leader(groups, 7, 15);
    MKT_WAIT_UNTIL(voters_agree(5), 15);
    size_t voters = 0, learners = 0;
    mk_group_status_t ls = status_of(groups[leader]);
    for (int i = 0; i < 7; i++) {
        mk_group_status_t st = status_of(groups[i]);
        mk_id_t me = peer_of(i);
        if (st.member == MK_MEMBER_VOTER) {
            voters++;
            assert_true(is_voter_in(&ls, &me));
        } else {
            assert_int_equal(st.member, MK_MEMBER_LEARNER);
            assert_false(is_voter_in(&ls, &me));
            learners++;
        }
    }
    assert_int_equal(voters, 5);
    assert_int_equal(learners, 2);
    /* learners apply everything too */
    mk_cmd_outcome_t o;
    mk_error_t e;
    uint8_t cmd[5];
    mkt_counter_inc(cmd, 9);
    assert_int_equal(mk_group_execute(groups[leader], cmd, 5, mkt_ms(5000), &o, &e), MK_OK);
    for (int i = 0; i < 7; i++) {
        wait_committed(groups[i], o.range.last, 5000);
        assert_int_equal(mkt_group_value(groups[i], MK_WEAK), 9);
    }
    assert_int_equal(status_of(groups[leader]).n_voters, 5);  /* the cap holds while everybody is caught up */

    /* a killed voter (not the leader) is replaced by a learner after voter_removal_timeout */
    int victim = -1;
    for (int i = 0; i < 7 && victim < 0; i++)
        if (i != leader && status_of(groups[i]).member == MK_MEMBER_VOTER) victim = i;
    assert_true(victim >= 0);
    mk_id_t vid = peer_of(victim);
    kill_node(victim);
    MKT_WAIT_UNTIL(replaced(groups[leader], &vid), 20);
    MKT_WAIT_UNTIL(voters_agree(5), 10);
    mkt_group_inc(groups[leader], 1);
    size_t nv = 0;
    for (int i = 0; i < 7; i++)
        if (groups[i]) nv += status_of(groups[i]).member == MK_MEMBER_VOTER;
    assert_int_equal(nv, 5);
}

/* ---- (e) bootstrap_expect = 3 ---- */

static void expect3(mk_group_config_t *cfg) { cfg->consensus.bootstrap_expect = 3; }

static void bootstrap_expect_3(void **state) {
    (void)state;
    mkt_disc_cluster(nets, 3, NULL);
    join_all(2, "it.groups.membership.expect3", expect3);
    /* the two are bonded; well past bootstrap delay + election timeout nobody leads or has an origin */
    MKT_WAIT_UNTIL(status_of(groups[0]).n_bonds == 1 && status_of(groups[1]).n_bonds == 1, 5);
    mk_group_cond_t c = {.what = MK_WHEN_LEADER_ELECTED};
    mk_error_t e;
    assert_int_equal(mk_group_wait(groups[0], &c, mkt_ms(2000), NULL, &e), MK_ETIMEDOUT);
    for (int i = 0; i < 2; i++) {
        mk_group_status_t st = status_of(groups[i]);
        assert_false(st.has_leader);
        assert_false(st.has_origin);
        assert_int_equal(st.n_voters, 0);
        assert_int_equal(st.commit_index, 0);
    }
    /* the third member arrives: a leader, with all three in the bootstrap configuration */
    mk_group_config_t cfg = mkt_group_config("it.groups.membership.expect3", &counters[2]);
    expect3(&cfg);
    groups[2] = mkt_group_join(nets[2], &cfg);
    int leader = mkt_group_wait_leader(groups, 3, 10);
    mk_group_status_t st = status_of(groups[leader]);
    assert_int_equal(st.n_voters, 3);
    for (int i = 0; i < 3; i++) {
        mk_id_t id = peer_of(i);
        assert_true(is_voter_in(&st, &id));
    }
    assert_int_equal(st.term, 1);  /* the bootstrapper's own term-1 campaign won */
    mkt_group_inc(groups[2], 3);
    assert_int_equal(mkt_group_value(groups[0], MK_STRONG), 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(late_joiner_catches_up_and_becomes_voter, teardown),
        cmocka_unit_test_teardown(observers_never_vote_or_lead, teardown),
        cmocka_unit_test_teardown(reluctant_nodes_rarely_lead, teardown),
        cmocka_unit_test_teardown(seven_nodes_five_voters, teardown),
        cmocka_unit_test_teardown(bootstrap_expect_3, teardown),
    };
    return mkt_run("integration.groups.membership", tests, sizeof tests / sizeof tests[0]);
}
