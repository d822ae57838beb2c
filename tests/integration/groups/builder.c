/* integration/groups/builder — spec 40 §1, §6, §9 and §11.1 builder on loopback.
 * group_id_derived_from_config: mk_group_id_for follows the §1 derivation chain; the same key and
 * machine give the same id with an in-memory or an LMDB store (and mk_group_id of joined groups agrees);
 * another key, machine signature, max_voters, sync replay_batch or validator order gives another id;
 * election timeout, bootstrap delay or leadership preference do not change it. repeated_join_returns_same_group:
 * joining the same id again on one network gives a second handle to the same group (same id, NoOp via NULL
 * and via &MK_NOOP_MACHINE are one machine), a conflicting machine or machine_self fails MK_EEXIST (and the
 * group is untouched), leaving one handle keeps the group alive for the other, which still executes and
 * stays bonded. default_join_runs_noop: machine NULL elects a leader across two nodes, executes, and every
 * query returns an empty result. config_validation_names_the_field: each invalid setting fails MK_EINVAL
 * (from mk_group_id_for and mk_group_join) with the field named in the message. */
#include "support/mkt_group.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 2
static mk_network_t *nets[MAXN];
static mk_group_t *groups[MAXN];
static mk_group_t *extra;
static mkt_counter_t counters[MAXN + 1];
static char base[PATH_MAX];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int teardown(void **state) {
    (void)state;
    if (extra) mk_group_leave(extra), extra = NULL;
    for (int i = 0; i < MAXN; i++)
        if (groups[i]) mk_group_leave(groups[i]), groups[i] = NULL;
    mkt_disc_free_all(nets, MAXN);
    memset(counters, 0, sizeof counters);
    if (base[0]) nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    base[0] = 0;
    return 0;
}

static mk_id_t id_of(const mk_group_config_t *cfg) {
    mk_id_t id;
    mk_error_t e;
    int rc = mk_group_id_for(cfg, &id, &e);
    if (rc != MK_OK) fail_msg("mk_group_id_for: %s", e.msg);
    return id;
}

static mk_group_status_t status_of(mk_group_t *g) {
    mk_group_status_t st;
    assert_int_equal(mk_group_status(g, &st), MK_OK);
    return st;
}

/* True when n's catalog entry of peer lists the group id. */
static bool lists_group(mk_network_t *n, const mk_peer_id_t *peer, const mk_id_t *id) {
    const mk_peer_entry_t *en = mkt_disc_entry(n, peer);
    bool has = en && mk_peer_entry_has_group(en, id);
    if (en) mk_peer_entry_unref(en);
    return has;
}

/* ---- helpers for the derivation ---- */

static mk_id_t other_sig(void *self) {
    (void)self;
    return mk_id_from_str("mkt.counter.v2");
}

static uint8_t *le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

/* The §1 chain written out from the spec text (LOG_REPLAY sync, no validators). */
static mk_id_t spec_id(const mk_group_config_t *cfg, const mk_id_t *machine_sig) {
    const mk_consensus_config_t *c = &cfg->consensus;
    uint8_t buf[128], *p = buf;
    const char *ver = "libmosaik/groups/v1";
    memcpy(p, ver, strlen(ver));
    p += strlen(ver);
    p = le(p, c->heartbeat_interval_ms, 8);
    p = le(p, c->heartbeat_jitter_ms, 8);
    p = le(p, c->max_missed_heartbeats, 4);
    p = le(p, c->max_voters, 4);
    *p++ = c->exactly_once ? 1 : 0;
    p = le(p, c->max_command_bytes, 4);
    p = le(p, c->exactly_once ? c->max_sessions : 0, 4);
    mk_id_t digest = mk_id_hash(buf, (size_t)(p - buf));
    uint8_t sb[16], *q = sb;
    q = le(q, cfg->sync.replay_batch, 8);
    q = le(q, cfg->sync.replay_fetch_timeout_ms, 8);
    mk_id_t sync_base = mk_id_from_str("libmosaik/sync/log-replay");
    mk_id_t sync_sig = mk_id_derive(&sync_base, sb, (size_t)(q - sb));
    mk_id_t id = mk_id_hash(cfg->key.secret.b, 32);
    id = mk_id_derive(&id, digest.b, 32);
    id = mk_id_derive(&id, machine_sig->b, 32);
    id = mk_id_derive(&id, sync_sig.b, 32);
    return id;
}

static const mk_ticket_validator_t *jwt_validator(const char *issuer) {
    static const uint8_t secret[32] = "libmosaik builder test secret!!";
    mk_jwt_config_t vc = {.keys = {MK_JWT_KEY_RAW(MK_JWT_HS256, secret, sizeof secret)},
                          .issuers = {issuer},
                          .audiences = {"it.groups.builder"}};
    mk_error_t e;
    const mk_ticket_validator_t *v = mk_jwt_validator_new(&vc, &e);
    if (!v) fail_msg("mk_jwt_validator_new: %s", e.msg);
    return v;
}

static void make_base(void) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(base, sizeof base, "%s/mk-builder-XXXXXX", tmp);
    if (!mkdtemp(base)) fail_msg("mkdtemp %s failed", base);
}

static mk_log_store_t *lmdb_store(const char *name) {
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", base, name);
    mk_lmdb_config_t lc = MK_LMDB_CONFIG_DEFAULT;
    lc.path = path;
    lc.map_size = (size_t)16 << 20;
    mk_error_t e;
    mk_log_store_t *s = mk_log_store_lmdb(&lc, &e);
    if (!s) fail_msg("mk_log_store_lmdb(%s): %s", path, e.msg);
    return s;
}

/* ---- group_id_derived_from_config ---- */

static void group_id_derived_from_config(void **state) {
    (void)state;
    mk_group_config_t a = mkt_group_config("it.groups.builder", &counters[0]);
    mk_id_t id = id_of(&a);
    assert_false(mk_id_is_zero(&id));
    mk_id_t msig = mk_id_from_str("mkt.counter.v1");
    mk_id_t want = spec_id(&a, &msig);
    assert_true(mk_id_eq(&id, &want));  /* the §1 chain, byte for byte */

    /* same key and machine (another self of the same machine, another node's counter): same id */
    mk_group_config_t b = mkt_group_config("it.groups.builder", &counters[1]);
    mk_id_t idb = id_of(&b);
    assert_true(mk_id_eq(&id, &idb));
    /* the key given as 64 hex digits of the same bytes: same id */
    char hex[MK_ID_HEX_LEN + 1];
    mk_group_config_t bh = a;
    bh.key = mk_group_key_from_secret(mk_id_hex(&a.key.secret, hex));
    idb = id_of(&bh);
    assert_true(mk_id_eq(&id, &idb));
    bh.key = mk_group_key_from_bytes(a.key.secret.b);
    idb = id_of(&bh);
    assert_true(mk_id_eq(&id, &idb));

    /* an LMDB store does not change it */
    make_base();
    mk_group_config_t l = a;
    l.store = lmdb_store("probe");
    mk_id_t idl = id_of(&l);
    mk_log_store_free(l.store);  /* mk_group_id_for never takes the store */
    assert_true(mk_id_eq(&id, &idl));

    /* not in the id: election timeout and jitter, bootstrap, timeouts, batching, storage, preference */
    mk_group_config_t s = a;
    s.consensus.election_timeout_ms *= 3;
    s.consensus.election_timeout_jitter_ms += 123;
    s.consensus.bootstrap_delay_ms += 1000;
    s.consensus.bootstrap_expect = 3;
    s.consensus.forward_timeout_ms += 7;
    s.consensus.query_timeout_ms += 7;
    s.consensus.voter_removal_timeout_ms += 7;
    s.consensus.max_append_entries = 17;
    s.consensus.max_inflight_appends = 3;
    s.consensus.max_pending_commands = 99;
    s.sync.sync_buffer_max_bytes = 1 << 20;
    s.snapshot_every = 5;
    s.retain_entries = 1;
    mk_id_t ids = id_of(&s);
    assert_true(mk_id_eq(&id, &ids));
    mkt_counter_t reluctant = {.lead = MK_LEADERSHIP_RELUCTANT_DEFAULT};
    mkt_counter_t observer = {.lead = {MK_LEAD_OBSERVER, 1}};
    s = a;
    s.machine_self = &reluctant;
    ids = id_of(&s);
    assert_true(mk_id_eq(&id, &ids));
    s.machine_self = &observer;
    ids = id_of(&s);
    assert_true(mk_id_eq(&id, &ids));

    /* in the id: key, machine signature, max_voters, sync replay batch, validators and their order */
    mk_id_t seen[16];
    size_t nseen = 0;
    seen[nseen++] = id;
#define DIFFERS(cfgexpr)                                                                           \
    do {                                                                                           \
        mk_group_config_t d_ = a;                                                                  \
        cfgexpr;                                                                                   \
        mk_id_t x_ = id_of(&d_);                                                                   \
        for (size_t k_ = 0; k_ < nseen; k_++)                                                      \
            if (mk_id_eq(&x_, &seen[k_])) fail_msg("same GroupId after: %s", #cfgexpr);            \
        seen[nseen++] = x_;                                                                        \
    } while (0)
    DIFFERS(d_.key = mk_group_key_from_secret("it.groups.builder.other"));
    mk_state_machine_t other = MKT_COUNTER;
    other.signature = other_sig;
    DIFFERS(d_.machine = &other);
    DIFFERS(d_.machine = NULL);  /* the NoOp machine */
    DIFFERS(d_.consensus.max_voters = 3);
    DIFFERS(d_.consensus.max_voters = 7);
    DIFFERS(d_.sync.replay_batch = 7);
    DIFFERS(d_.sync.replay_fetch_timeout_ms = 1000);
    DIFFERS(d_.sync.kind = MK_SYNC_SNAPSHOT);
    DIFFERS(d_.consensus.heartbeat_interval_ms += 1);
    DIFFERS(d_.consensus.exactly_once = true);

    const mk_ticket_validator_t *v1 = jwt_validator("issuer-one"), *v2 = jwt_validator("issuer-two");
    const mk_ticket_validator_t *v12[2] = {v1, v2}, *v21[2] = {v2, v1};
    DIFFERS((d_.validators = v12, d_.n_validators = 1));
    DIFFERS((d_.validators = v12, d_.n_validators = 2));
    DIFFERS((d_.validators = v21, d_.n_validators = 2));
    /* the same validators in the same order, built again: the same id as v12 */
    const mk_ticket_validator_t *w1 = jwt_validator("issuer-one"), *w2 = jwt_validator("issuer-two");
    const mk_ticket_validator_t *w12[2] = {w1, w2};
    mk_group_config_t va = a, wa = a;
    va.validators = v12, va.n_validators = 2;
    wa.validators = w12, wa.n_validators = 2;
    mk_id_t idv = id_of(&va), idw = id_of(&wa);
    assert_true(mk_id_eq(&idv, &idw));
    mk_ticket_validator_unref(v1);
    mk_ticket_validator_unref(v2);
    mk_ticket_validator_unref(w1);
    mk_ticket_validator_unref(w2);
#undef DIFFERS

    /* the joined groups report the computed ids: memory store on one node, LMDB on another, and a group
     * with a different election timeout and preference on the LMDB node joins the same id */
    mkt_disc_cluster(nets, 2, NULL);
    groups[0] = mkt_group_join(nets[0], &a);
    mk_group_config_t lj = mkt_group_config("it.groups.builder", &counters[1]);
    lj.store = lmdb_store("node1");
    lj.consensus.election_timeout_ms = (uint32_t)mkt_ms(900);
    counters[1].lead = MK_LEADERSHIP_RELUCTANT_DEFAULT;
    groups[1] = mkt_group_join(nets[1], &lj);
    assert_true(mk_id_eq(mk_group_id(groups[0]), &id));
    assert_true(mk_id_eq(mk_group_id(groups[1]), &id));
    /* one group: they bond, agree on a leader (the Normal node), and a command reaches both */
    int leader = mkt_group_wait_leader(groups, 2, 10);
    assert_int_equal(leader, 0);
    mkt_group_inc(groups[1], 5);
    assert_int_equal(mkt_group_value(groups[0], MK_STRONG), 5);
    assert_int_equal(mkt_group_value(groups[1], MK_STRONG), 5);
    /* both list the id in their discovery entry */
    mk_id_t p1 = mk_network_peer_id(nets[1]);
    MKT_WAIT_UNTIL(lists_group(nets[0], &p1, &id), 5);
}

/* ---- repeated_join_returns_same_group ---- */

static mk_state_machine_t other_counter;  /* same callbacks, another vtable address */

static void repeated_join_returns_same_group(void **state) {
    (void)state;
    mkt_disc_cluster(nets, 2, NULL);
    for (int i = 0; i < 2; i++) {
        mk_group_config_t cfg = mkt_group_config("it.groups.builder.repeat", &counters[i]);
        groups[i] = mkt_group_join(nets[i], &cfg);
    }
    int leader = mkt_group_wait_leader(groups, 2, 10);
    mkt_group_inc(groups[0], 3);

    /* the same id again on node 0 (another election timeout: not in the id): same group, second handle */
    mk_group_config_t again = mkt_group_config("it.groups.builder.repeat", &counters[0]);
    again.consensus.election_timeout_ms = (uint32_t)mkt_ms(1500);
    extra = mkt_group_join(nets[0], &again);
    assert_ptr_not_equal(extra, groups[0]);
    assert_true(mk_id_eq(mk_group_id(extra), mk_group_id(groups[0])));
    assert_int_equal(mkt_group_value(extra, MK_WEAK), 3);  /* the same machine and state */
    mk_group_status_t s0, sx;
    assert_int_equal(mk_group_status(groups[0], &s0), MK_OK);
    assert_int_equal(mk_group_status(extra, &sx), MK_OK);
    assert_true(mk_id_eq(&s0.origin, &sx.origin));
    assert_int_equal(s0.term, sx.term);
    assert_int_equal(counters[2].applied, 0);  /* no other machine instance was touched */

    /* a conflicting machine or machine_self: MK_EEXIST, and the group goes on */
    other_counter = MKT_COUNTER;
    mk_group_config_t bad = mkt_group_config("it.groups.builder.repeat", &counters[0]);
    bad.machine = &other_counter;  /* same signature (same id), another vtable */
    mk_error_t e = {0};
    assert_null(mk_group_join(nets[0], &bad, &e));
    assert_int_equal(e.code, MK_EEXIST);
    bad = mkt_group_config("it.groups.builder.repeat", &counters[2]);  /* same vtable, another self */
    memset(&e, 0, sizeof e);
    assert_null(mk_group_join(nets[0], &bad, &e));
    assert_int_equal(e.code, MK_EEXIST);
    /* the store of a refused join is the join's: an LMDB store given here is freed, not leaked (ASan) */
    make_base();
    bad.store = lmdb_store("refused");
    assert_null(mk_group_join(nets[0], &bad, &e));
    assert_int_equal(e.code, MK_EEXIST);
    assert_false(counters[0].destroyed);

    /* both handles execute on the one group */
    mkt_group_inc(extra, 4);
    mkt_group_inc(groups[0], 5);
    assert_int_equal(mkt_group_value(groups[1], MK_STRONG), 12);
    assert_int_equal(counters[0].applied, 3);

    /* leaving one handle keeps the group alive for the other: still bonded, still executing */
    mk_group_leave(groups[0]);
    groups[0] = NULL;
    assert_false(counters[0].destroyed);
    mkt_group_inc(extra, 6);
    assert_int_equal(mkt_group_value(extra, MK_WEAK), 18);
    assert_int_equal(mkt_group_value(groups[1], MK_STRONG), 18);
    assert_int_equal(mk_group_status(extra, &sx), MK_OK);
    assert_int_equal(sx.n_bonds, 1);
    assert_false(sx.terminated);
    mk_group_status_t s1;
    assert_int_equal(mk_group_status(groups[1], &s1), MK_OK);
    assert_int_equal(s1.n_bonds, 1);
    assert_int_equal(s1.n_voters, 2);
    mk_id_t lid;
    assert_true(mk_group_leader(groups[1], &lid));
    mk_id_t want = mk_network_peer_id(nets[leader]);
    assert_true(mk_id_eq(&lid, &want));  /* no departure went out: the leader did not change */

    /* a join after that: again the same group */
    mk_group_config_t third = mkt_group_config("it.groups.builder.repeat", &counters[0]);
    groups[0] = mkt_group_join(nets[0], &third);
    assert_int_equal(mkt_group_value(groups[0], MK_WEAK), 18);

    /* the last handle gone: the group stops (machine destroyed) and the peer sees it leave */
    mk_group_leave(groups[0]);
    groups[0] = NULL;
    assert_false(counters[0].destroyed);
    mk_group_leave(extra);
    extra = NULL;
    assert_true(counters[0].destroyed);
    MKT_WAIT_UNTIL(status_of(groups[1]).n_bonds == 0, 5);
    /* the id is no longer listed in node 0's entry */
    mk_id_t p0 = mk_network_peer_id(nets[0]);
    MKT_WAIT_UNTIL(!lists_group(nets[1], &p0, mk_group_id(groups[1])), 5);
}

/* ---- default_join_runs_noop ---- */

static void default_join_runs_noop(void **state) {
    (void)state;
    mkt_disc_cluster(nets, 2, NULL);
    mk_group_config_t cfg = MK_GROUP_CONFIG_DEFAULT;
    cfg.key = mk_group_key_from_secret("it.groups.builder.noop");
    mkt_group_fast(&cfg);
    assert_null(cfg.machine);
    mk_id_t id = id_of(&cfg);
    mk_group_config_t explicit_noop = cfg;
    explicit_noop.machine = &MK_NOOP_MACHINE;
    mk_id_t id2 = id_of(&explicit_noop);
    assert_true(mk_id_eq(&id, &id2));
    mk_id_t nsig = MK_NOOP_MACHINE.signature(NULL), want = mk_id_from_str("mosaik_noop_state_machine");
    assert_true(mk_id_eq(&nsig, &want));
    mk_id_t spec = spec_id(&cfg, &want);
    assert_true(mk_id_eq(&id, &spec));

    for (int i = 0; i < 2; i++) groups[i] = mkt_group_join(nets[i], &cfg);
    /* NULL and &MK_NOOP_MACHINE (self NULL) are the same machine: a second handle, not MK_EEXIST */
    extra = mkt_group_join(nets[0], &explicit_noop);
    assert_true(mk_id_eq(mk_group_id(extra), &id));

    /* elections work */
    int leader = mkt_group_wait_leader(groups, 2, 10);
    mk_group_status_t st;
    assert_int_equal(mk_group_status(groups[leader], &st), MK_OK);
    assert_int_equal(st.role, MK_ROLE_LEADER);
    MKT_WAIT_UNTIL(status_of(groups[1 - leader]).n_voters == 2 && status_of(groups[1 - leader]).online, 10);

    /* commands are accepted and applied (ignored by the machine); queries give empty results */
    mk_cmd_outcome_t o;
    mk_error_t e;
    assert_int_equal(mk_group_execute(groups[1 - leader], "anything", 8, mkt_ms(5000), &o, &e), MK_OK);
    assert_true(o.assigned && o.range.first > 0);
    assert_int_equal(mk_group_execute(extra, "x", 1, mkt_ms(5000), &o, &e), MK_OK);
    for (int i = 0; i < 2; i++) {
        for (int c = 0; c < 2; c++) {
            mk_query_result_t r;
            assert_int_equal(mk_group_query(groups[i], "q", 1, c ? MK_STRONG : MK_WEAK, mkt_ms(5000), &r, &e), MK_OK);
            assert_int_equal(r.len, 0);
            if (c) assert_true(r.position >= o.range.last);
            mk_query_result_free(&r);
        }
    }
}

/* ---- config_validation_names_the_field ---- */

static void expect_einval(mk_network_t *n, const mk_group_config_t *cfg, const char *field) {
    mk_id_t id;
    mk_error_t e = {0};
    assert_int_equal(mk_group_id_for(cfg, &id, &e), MK_EINVAL);
    if (!strstr(e.msg, field)) fail_msg("mk_group_id_for: \"%s\" does not name %s", e.msg, field);
    assert_true(mk_id_is_zero(&id));
    memset(&e, 0, sizeof e);
    assert_null(mk_group_join(n, cfg, &e));
    assert_int_equal(e.code, MK_EINVAL);
    if (!strstr(e.msg, field)) fail_msg("mk_group_join: \"%s\" does not name %s", e.msg, field);
}

static void config_validation_names_the_field(void **state) {
    (void)state;
    nets[0] = mkt_disc_node(NULL, NULL);
    mk_group_config_t ok = mkt_group_config("it.groups.builder.validate", &counters[0]);
    mk_group_config_t c;
#define BAD(field, stmt) (c = ok, stmt, expect_einval(nets[0], &c, field))
    BAD("max_voters", c.consensus.max_voters = 0);
    BAD("max_voters", c.consensus.max_voters = 33);
    BAD("election_timeout_ms", c.consensus.election_timeout_ms = 2 * c.consensus.heartbeat_interval_ms);
    BAD("heartbeat_jitter_ms", c.consensus.heartbeat_jitter_ms = c.consensus.heartbeat_interval_ms);
    BAD("heartbeat_interval_ms", c.consensus.heartbeat_interval_ms = 0);
    BAD("bootstrap_expect", c.consensus.bootstrap_expect = 0);
    BAD("max_missed_heartbeats", c.consensus.max_missed_heartbeats = 0);
    BAD("max_append_entries", c.consensus.max_append_entries = 0);
    BAD("max_command_bytes", c.consensus.max_command_bytes = 0);
    BAD("max_sessions", (c.consensus.exactly_once = true, c.consensus.max_sessions = 0));
    BAD("sync.kind", c.sync.kind = (mk_sync_kind_t)7);
    mk_state_machine_t nosig = MKT_COUNTER;
    nosig.signature = NULL;
    BAD("signature", c.machine = &nosig);
    BAD("validators", (c.validators = NULL, c.n_validators = 1));
    const mk_ticket_validator_t *none[1] = {NULL};
    BAD("validators[0]", (c.validators = none, c.n_validators = 1));
#undef BAD
    /* a Reluctant preference with factor 0 (from the machine) is refused at join, naming the factor */
    counters[1].lead = (mk_leadership_t){MK_LEAD_RELUCTANT, 0};
    c = mkt_group_config("it.groups.builder.validate", &counters[1]);
    mk_error_t e = {0};
    assert_null(mk_group_join(nets[0], &c, &e));
    assert_int_equal(e.code, MK_EINVAL);
    if (!strstr(e.msg, "factor")) fail_msg("\"%s\" does not name the factor", e.msg);
    /* NULL arguments */
    mk_id_t id;
    assert_int_equal(mk_group_id_for(NULL, &id, &e), MK_EINVAL);
    assert_int_equal(mk_group_id_for(&ok, NULL, &e), MK_EINVAL);
    assert_null(mk_group_join(NULL, &ok, &e));
    assert_int_equal(e.code, MK_EINVAL);
    assert_null(mk_group_join(nets[0], NULL, &e));
    assert_int_equal(e.code, MK_EINVAL);
    /* an invalid join hands a given store back freed (no leak under ASan), and the valid config still joins */
    make_base();
    c = ok;
    c.consensus.max_voters = 0;
    c.store = lmdb_store("invalid");
    assert_null(mk_group_join(nets[0], &c, &e));
    assert_int_equal(e.code, MK_EINVAL);
    groups[0] = mkt_group_join(nets[0], &ok);
    mkt_group_wait_leader(groups, 1, 10);
    mkt_group_inc(groups[0], 2);
    assert_int_equal(mkt_group_value(groups[0], MK_STRONG), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(group_id_derived_from_config, teardown),
        cmocka_unit_test_teardown(repeated_join_returns_same_group, teardown),
        cmocka_unit_test_teardown(default_join_runs_noop, teardown),
        cmocka_unit_test_teardown(config_validation_names_the_field, teardown),
    };
    return mkt_run("integration.groups.builder", tests, sizeof tests / sizeof tests[0]);
}
