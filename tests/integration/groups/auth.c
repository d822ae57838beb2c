/* integration/groups/auth — tickets on bonds (spec 40 §1, §2.6, §11.1 auth) with a JWT HS256 validator
 * on loopback. jwt_authorized_peers_can_bond: ticket holders bond and elect, a node without a ticket is
 * never bonded (its dials end 30_403, nobody dials it) until it gets one; removing a bonded node's ticket
 * ends its bonds with 30_403. group_key_derived_from_jwt_validator: the key is the validator's
 * signature and separately built validators of one configuration give one GroupId on every node.
 * mismatched_jwt_auth_config_prevents_bonding: another validator configuration is another GroupId, so
 * the nodes never bond. ticket_expiry_timer: a ticket that expires closes its bonds with 30_403 at the
 * expiry, with no traffic to prompt it; a node that renews its ticket in time keeps its bonds. */
#include "support/mkt_group.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MAXN 4
static mk_network_t *nets[MAXN];
static mk_group_t *groups[MAXN];
static mkt_counter_t counters[MAXN];
static const mk_ticket_validator_t *validators[MAXN];
static mk_jwt_signer_t *issuer;

static const uint8_t SECRET[32] = "libmosaik groups auth test key!";
static const char *ISSUER = "groups-test", *AUDIENCE = "it.groups.auth";

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < MAXN; i++)
        if (groups[i]) mk_group_leave(groups[i]), groups[i] = NULL;
    mkt_disc_free_all(nets, MAXN);
    for (int i = 0; i < MAXN; i++) mk_ticket_validator_unref(validators[i]), validators[i] = NULL;
    mk_jwt_signer_free(issuer);
    issuer = NULL;
    memset(counters, 0, sizeof counters);
    return 0;
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void make_issuer(void) {
    mk_error_t e;
    mk_jwt_key_t k = MK_JWT_KEY_RAW(MK_JWT_HS256, SECRET, sizeof SECRET);
    issuer = mk_jwt_signer_new(&k, &e);
    if (!issuer) fail_msg("mk_jwt_signer_new: %s", e.msg);
}

/* A heap validator built on node i as a separate process would: HS256 over SECRET, ISSUER, AUDIENCE
 * (plus `extra_issuer` when not NULL: another configuration). */
static const mk_ticket_validator_t *make_validator(const char *extra_issuer) {
    mk_jwt_config_t vc = {.keys = {MK_JWT_KEY_RAW(MK_JWT_HS256, SECRET, sizeof SECRET)},
                          .issuers = {ISSUER, extra_issuer},
                          .audiences = {AUDIENCE}};
    mk_error_t e;
    const mk_ticket_validator_t *v = mk_jwt_validator_new(&vc, &e);
    if (!v) fail_msg("mk_jwt_validator_new: %s", e.msg);
    return v;
}

/* Publishes a JWT for node n expiring at expires_at (ms), replacing any earlier one. */
static void give_jwt(mk_network_t *n, mk_expiration_t expires_at) {
    mk_error_t e;
    mk_peer_id_t id = mk_network_peer_id(n);
    mk_jwt_builder_t b = {.signer = issuer, .issuer = ISSUER, .audience = AUDIENCE, .expires_at = expires_at};
    mk_ticket_t *t = NULL;
    assert_int_equal(mk_jwt_build_ticket(&b, &id, wall_ms(), &t, &e), MK_OK);
    assert_int_equal(mk_discovery_replace_ticket(n, t, mkt_ms(2000), &e), MK_OK);
    mk_ticket_free(t);
}

static mk_group_config_t auth_config(int i, const mk_ticket_validator_t *const *v) {
    mk_group_config_t cfg = mkt_group_config("unused", &counters[i]);
    cfg.key = mk_group_key_from_validator(v[0]);
    cfg.validators = v;
    cfg.n_validators = 1;
    return cfg;
}

/* Node i joins with its own validator (extra_issuer as in make_validator). */
static void join_auth(int i, const char *extra_issuer) {
    validators[i] = make_validator(extra_issuer);
    mk_group_config_t cfg = auth_config(i, &validators[i]);
    groups[i] = mkt_group_join(nets[i], &cfg);
}

static mk_group_status_t status_of(mk_group_t *g) {
    mk_group_status_t st;
    assert_int_equal(mk_group_status(g, &st), MK_OK);
    return st;
}

static size_t nbonds(int i) { return status_of(groups[i]).n_bonds; }

/* The bond of group i to node j: true and *out filled when live. */
static bool bond_to(int i, int j, mk_bond_info_t *out) {
    mk_bond_info_t *b = NULL;
    size_t n = 0;
    assert_int_equal(mk_group_bonds(groups[i], &b, &n), MK_OK);
    mk_peer_id_t id = mk_network_peer_id(nets[j]);
    bool found = false;
    for (size_t k = 0; k < n; k++)
        if (mk_id_eq(&b[k].peer, &id)) {
            found = true;
            if (out) *out = b[k];
        }
    mk_group_free_list(b);
    return found;
}

static uint64_t closes_403(int i) { return mk_group_test_closes(groups[i], MK_CLOSE_GROUP_NOT_ALLOWED); }

/* ---- valid tickets bond, no ticket never does ---- */

static void jwt_authorized_peers_can_bond(void **state) {
    (void)state;
    make_issuer();
    mkt_disc_cluster(nets, 4, NULL);
    for (int i = 0; i < 3; i++) give_jwt(nets[i], wall_ms() + 3600 * 1000);
    for (int i = 0; i < 4; i++) join_auth(i, NULL);
    /* the three ticket holders form the mesh and elect */
    MKT_WAIT_UNTIL(nbonds(0) == 2 && nbonds(1) == 2 && nbonds(2) == 2, 10);
    int leader = mkt_group_wait_leader(groups, 3, 10);
    mkt_group_inc(groups[(leader + 1) % 3], 4);
    assert_int_equal(mkt_group_value(groups[leader], MK_STRONG), 4);
    /* node 3 dials the others (their tickets are fine) and is refused 30_403; nobody dials it */
    MKT_WAIT_UNTIL(closes_403(3) >= 1, 10);
    assert_true(closes_403(0) + closes_403(1) + closes_403(2) >= 1);
    assert_true(mkt_metric(nets[0], "mosaik_groups_bonds_rejected", "30403") +
                    mkt_metric(nets[1], "mosaik_groups_bonds_rejected", "30403") +
                    mkt_metric(nets[2], "mosaik_groups_bonds_rejected", "30403") >=
                1);
    assert_int_equal(nbonds(3), 0);
    for (int i = 0; i < 3; i++) assert_false(bond_to(i, 3, NULL));
    /* alone, node 3 may bootstrap a group of its own (bootstrap_expect 1), but never hears the others' */
    mk_group_status_t st = status_of(groups[3]), s0 = status_of(groups[leader]);
    mk_id_t self3 = mk_network_peer_id(nets[3]);
    assert_true(!st.has_leader || mk_id_eq(&st.leader, &self3));
    assert_false(st.has_origin && mk_id_eq(&st.origin, &s0.origin));
    assert_int_equal(counters[3].applied, 0);
    mk_group_cond_t bc = {.what = MK_WHEN_BONDS_CHANGED};
    mk_error_t e;
    assert_int_equal(mk_group_wait(groups[3], &bc, mkt_ms(1500), NULL, &e), MK_ETIMEDOUT);
    assert_int_equal(nbonds(3), 0);

    /* once it holds a ticket it is admitted, gives up its command-less origin for the group's (§3.9),
     * catches up and serves queries */
    give_jwt(nets[3], wall_ms() + 3600 * 1000);
    MKT_WAIT_UNTIL(nbonds(3) == 3, 10);
    mk_group_cond_t cc = {.what = MK_WHEN_COMMITTED_REACHES, .index = mk_group_committed(groups[leader])};
    assert_int_equal(mk_group_wait(groups[3], &cc, mkt_ms(5000), NULL, &e), MK_OK);
    assert_int_equal(mkt_group_value(groups[3], MK_WEAK), 4);
    st = status_of(groups[3]);
    assert_true(st.has_origin && mk_id_eq(&st.origin, &s0.origin));
    assert_false(st.diverged);

    /* revocation: node 2 drops its ticket; its bonds end with 30_403 and it stays out */
    int victim = leader == 2 ? 1 : 2;
    uint64_t before = closes_403(victim);
    mk_id_t cls = mk_jwt_class();
    assert_int_equal(mk_discovery_remove_tickets_of(nets[victim], &cls, mkt_ms(2000), &e), MK_OK);
    MKT_WAIT_UNTIL(nbonds(victim) == 0, 10);
    assert_true(closes_403(victim) > before);
    for (int i = 0; i < 4; i++)
        if (i != victim) assert_false(bond_to(i, victim, NULL));
    assert_int_equal(mk_group_wait(groups[victim], &bc, mkt_ms(1000), NULL, &e), MK_ETIMEDOUT);
    assert_int_equal(nbonds(victim), 0);
}

/* ---- the group key is the validator's signature ---- */

static void group_key_derived_from_jwt_validator(void **state) {
    (void)state;
    make_issuer();
    mkt_disc_cluster(nets, 3, NULL);
    for (int i = 0; i < 3; i++) give_jwt(nets[i], wall_ms() + 3600 * 1000);
    for (int i = 0; i < 3; i++) {
        validators[i] = make_validator(NULL);
        mk_group_key_t k = mk_group_key_from_validator(validators[i]);
        mk_id_t sig = mk_ticket_validator_signature(validators[i]);
        assert_memory_equal(k.secret.b, sig.b, 32);
    }
    mk_id_t ids[3];
    mk_error_t e;
    for (int i = 0; i < 3; i++) {
        mk_group_config_t cfg = auth_config(i, &validators[i]);
        assert_int_equal(mk_group_id_for(&cfg, &ids[i], &e), MK_OK);
        groups[i] = mkt_group_join(nets[i], &cfg);
        assert_true(mk_id_eq(mk_group_id(groups[i]), &ids[i]));
        assert_true(mk_id_eq(&ids[i], &ids[0]));
    }
    /* the validator is part of the id: the same key without it is another group */
    mk_group_config_t bare = auth_config(0, &validators[0]);
    bare.validators = NULL;
    bare.n_validators = 0;
    mk_id_t bare_id;
    assert_int_equal(mk_group_id_for(&bare, &bare_id, &e), MK_OK);
    assert_false(mk_id_eq(&bare_id, &ids[0]));
    /* and another validator configuration gives another key */
    const mk_ticket_validator_t *other = make_validator("someone-else");
    mk_group_key_t ko = mk_group_key_from_validator(other), k0 = mk_group_key_from_validator(validators[0]);
    assert_memory_not_equal(ko.secret.b, k0.secret.b, 32);
    mk_ticket_validator_unref(other);
    /* one group: full mesh, one leader */
    MKT_WAIT_UNTIL(nbonds(0) == 2 && nbonds(1) == 2 && nbonds(2) == 2, 10);
    int leader = mkt_group_wait_leader(groups, 3, 10);
    mkt_group_inc(groups[leader], 2);
    for (int i = 0; i < 3; i++) assert_int_equal(mkt_group_value(groups[i], MK_STRONG), 2);
}

/* ---- mismatched validator configurations ---- */

static bool lists_group(int at, int j, const mk_id_t *gid) {
    mk_peer_id_t id = mk_network_peer_id(nets[j]);
    const mk_peer_entry_t *pe = mkt_disc_entry(nets[at], &id);
    bool yes = pe && mk_peer_entry_has_group(pe, gid);
    mk_peer_entry_unref(pe);
    return yes;
}

static void mismatched_jwt_auth_config_prevents_bonding(void **state) {
    (void)state;
    make_issuer();
    mkt_disc_cluster(nets, 3, NULL);
    for (int i = 0; i < 3; i++) give_jwt(nets[i], wall_ms() + 3600 * 1000);  /* valid under both configs */
    join_auth(0, NULL);
    join_auth(1, NULL);
    join_auth(2, "another-issuer");
    assert_true(mk_id_eq(mk_group_id(groups[0]), mk_group_id(groups[1])));
    assert_false(mk_id_eq(mk_group_id(groups[0]), mk_group_id(groups[2])));
    MKT_WAIT_UNTIL(nbonds(0) == 1 && nbonds(1) == 1, 10);
    /* everybody knows node 2 is in its own group, and the others in theirs */
    MKT_WAIT_UNTIL(lists_group(0, 2, mk_group_id(groups[2])) && lists_group(2, 0, mk_group_id(groups[0])), 5);
    /* well past the handshake timeout of the higher-PeerId dial rule: still nobody bonds across */
    mk_group_cond_t bc = {.what = MK_WHEN_BONDS_CHANGED};
    mk_error_t e;
    assert_int_equal(mk_group_wait(groups[2], &bc, mkt_ms(2500), NULL, &e), MK_ETIMEDOUT);
    assert_int_equal(nbonds(2), 0);
    assert_false(bond_to(0, 2, NULL) || bond_to(1, 2, NULL));
    assert_int_equal(mk_group_test_closes(groups[2], MK_CLOSE_GROUP_INVALID_PROOF), 0);
    /* node 2 is a group of its own (it bootstraps alone), the other two another one */
    int leader = mkt_group_wait_leader(groups, 2, 10);
    MKT_WAIT_UNTIL(mk_group_is_leader(groups[2]), 10);
    mk_group_status_t a = status_of(groups[leader]), b = status_of(groups[2]);
    assert_int_equal(a.n_voters, 2);
    assert_int_equal(b.n_voters, 1);
    assert_false(mk_id_eq(&a.origin, &b.origin));
}

/* ---- ticket expiry ---- */

static void ticket_expiry_timer(void **state) {
    (void)state;
    make_issuer();
    mkt_disc_cluster(nets, 4, NULL);
    /* n0, n1: an hour; n2 and n3: exp a few whole seconds ahead (JWT exp has second resolution) */
    int64_t t0 = wall_ms(), exp = (t0 / 1000 + 3 + (int64_t)T(1)) * 1000;
    give_jwt(nets[0], t0 + 3600 * 1000);
    give_jwt(nets[1], t0 + 3600 * 1000);
    give_jwt(nets[2], exp);
    give_jwt(nets[3], exp);
    for (int i = 0; i < 4; i++) join_auth(i, NULL);
    MKT_WAIT_UNTIL(nbonds(0) == 3 && nbonds(1) == 3 && nbonds(2) == 3 && nbonds(3) == 3, 3);
    assert_true(wall_ms() < exp - 500);
    mk_bond_info_t b30, b31;
    assert_true(bond_to(3, 0, &b30) && bond_to(3, 1, &b31));
    uint64_t before[4];
    for (int i = 0; i < 4; i++) before[i] = closes_403(i);
    /* n3 renews well before the expiry */
    give_jwt(nets[3], wall_ms() + 3600 * 1000);

    /* at exp the others close n2's bonds with 30_403, without any traffic to prompt it */
    MKT_WAIT_UNTIL(nbonds(2) == 0, 8);
    int64_t at = wall_ms();
    assert_true(at >= exp - 50);
    assert_true(at <= exp + (int64_t)(T(1) * 1000) + 500);
    assert_true(closes_403(2) > before[2]);  /* it was told why */
    assert_true(closes_403(0) > before[0] && closes_403(1) > before[1]);
    for (int i = 0; i < 4; i++)
        if (i != 2) assert_false(bond_to(i, 2, NULL));

    /* n3 keeps the very same bonds past the expiry */
    mk_group_cond_t bc = {.what = MK_WHEN_BONDS_CHANGED};
    mk_error_t e;
    int64_t left = exp + 1500 - wall_ms();
    if (left > 0) assert_int_equal(mk_group_wait(groups[3], &bc, (int)left, NULL, &e), MK_ETIMEDOUT);
    mk_bond_info_t a30, a31;
    assert_true(bond_to(3, 0, &a30) && bond_to(3, 1, &a31));
    assert_true(mk_id_eq(&a30.bond_id, &b30.bond_id));
    assert_true(mk_id_eq(&a31.bond_id, &b31.bond_id));
    assert_int_equal(nbonds(3), 2);
    /* the expired node stays out, and the rest of the group still commits */
    assert_int_equal(nbonds(2), 0);
    mk_group_t *rest[3] = {groups[0], groups[1], groups[3]};
    int leader = mkt_group_wait_leader(rest, 3, 10);
    mkt_group_inc(rest[leader], 6);
    assert_int_equal(mkt_group_value(groups[3], MK_STRONG), 6);
}

/* ---- two validators: a peer needs a ticket each accepts ---- */

static const mk_ticket_validator_t *second[MAXN];
static const char *AUDIENCE_B = "it.groups.auth.b";

static void give_second_jwt(mk_network_t *n) {
    mk_error_t e;
    mk_peer_id_t id = mk_network_peer_id(n);
    mk_jwt_builder_t b = {.signer = issuer, .issuer = ISSUER, .audience = AUDIENCE_B,
                          .expires_at = wall_ms() + 3600 * 1000};
    mk_ticket_t *t = NULL;
    assert_int_equal(mk_jwt_build_ticket(&b, &id, wall_ms(), &t, &e), MK_OK);
    assert_int_equal(mk_discovery_add_ticket(n, t, mkt_ms(2000), &e), MK_OK);
    mk_ticket_free(t);
}

static void multiple_ticket_validators(void **state) {
    (void)state;
    make_issuer();
    mkt_disc_cluster(nets, 3, NULL);
    for (int i = 0; i < 3; i++) give_jwt(nets[i], wall_ms() + 3600 * 1000);  /* audience A: everyone */
    for (int i = 0; i < 2; i++) give_second_jwt(nets[i]);                     /* audience B: nodes 0, 1 */
    for (int i = 0; i < 3; i++) {
        mk_jwt_config_t vc = {.keys = {MK_JWT_KEY_RAW(MK_JWT_HS256, SECRET, sizeof SECRET)},
                              .issuers = {ISSUER},
                              .audiences = {AUDIENCE_B}};
        mk_error_t e;
        validators[i] = make_validator(NULL);
        second[i] = mk_jwt_validator_new(&vc, &e);
        if (!second[i]) fail_msg("mk_jwt_validator_new: %s", e.msg);
        const mk_ticket_validator_t *both[2] = {validators[i], second[i]};
        mk_group_config_t cfg = mkt_group_config("it.groups.auth.two", &counters[i]);
        cfg.validators = both;
        cfg.n_validators = 2;
        groups[i] = mkt_group_join(nets[i], &cfg);  /* the validators are referenced by the group */
    }
    /* nodes 0 and 1 carry a ticket for each validator and bond; node 2 lacks B's and is refused */
    MKT_WAIT_UNTIL(bond_to(0, 1, NULL) && bond_to(1, 0, NULL), 10);
    MKT_WAIT_UNTIL(closes_403(2) + closes_403(0) + closes_403(1) >= 1, 10);
    assert_false(bond_to(0, 2, NULL));
    assert_false(bond_to(1, 2, NULL));
    assert_int_equal(nbonds(2), 0);
    /* with B's ticket too, node 2 is admitted */
    give_second_jwt(nets[2]);
    MKT_WAIT_UNTIL(nbonds(2) == 2, 10);
    for (int i = 0; i < 3; i++) mk_ticket_validator_unref(second[i]), second[i] = NULL;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(jwt_authorized_peers_can_bond, teardown),
        cmocka_unit_test_teardown(group_key_derived_from_jwt_validator, teardown),
        cmocka_unit_test_teardown(mismatched_jwt_auth_config_prevents_bonding, teardown),
        cmocka_unit_test_teardown(ticket_expiry_timer, teardown),
        cmocka_unit_test_teardown(multiple_ticket_validators, teardown),
    };
    return mkt_run("integration.groups.auth", tests, sizeof tests / sizeof tests[0]);
}
