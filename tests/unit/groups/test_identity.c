/* unit/groups/test_identity.c — group identity (spec 40 §1, §8.3): group keys and their display, the
 * consensus digest and sync signatures against frozen vectors and against hand-built byte strings, the
 * GroupId chain (frozen, rebuilt step by step, and which config fields do / do not change it), and the
 * refusals of mk_group_id_for / mk_group_id_derive. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/blake3.h"
#include "groups/identity.h"
#include "unit/groups_vectors.h"

#include <string.h>

static mk_id_t hexid(const char *s) {
    mk_id_t id;
    assert_int_equal(mk_id_parse_hex(s, &id), MK_OK);
    return id;
}

static void assert_id_hex(const mk_id_t *id, const char *hex) {
    char buf[MK_ID_HEX_LEN + 1];
    assert_string_equal(mk_id_hex(id, buf), hex);
}

static mk_id_t blake3_of(const void *p, size_t n) {
    mk_id_t id;
    mk_blake3(p, n, id.b);
    return id;
}

/* Fake validators: only their signatures matter for the GroupId. */
static mk_id_t vsig_a(const void *c) { (void)c; return mk_id_from_str("validator-a"); }
static mk_id_t vsig_b(const void *c) { (void)c; return mk_id_from_str("validator-b"); }
static const mk_ticket_validator_vt_t VT_A = {.kind = "a", .signature = vsig_a};
static const mk_ticket_validator_vt_t VT_B = {.kind = "b", .signature = vsig_b};
static const mk_ticket_validator_t VAL_A = MK_TICKET_VALIDATOR(&VT_A, NULL);
static const mk_ticket_validator_t VAL_B = MK_TICKET_VALIDATOR(&VT_B, NULL);

/* A user machine with a chosen signature. */
static mk_id_t user_sig(void *self) { return mk_id_from_str((const char *)self); }
static const mk_state_machine_t USER_MACHINE = {.signature = user_sig};

/* ---- keys ---- */

static void test_key_constructors(void **state) {
    (void)state;
    mk_group_key_t a = mk_group_key_from_secret("secret"), b = mk_group_key_from_secret("secret");
    assert_memory_equal(a.secret.b, b.secret.b, 32);
    mk_id_t h = mk_id_from_str("secret");
    assert_memory_equal(a.secret.b, h.b, 32);
    /* 64 hex digits are the key bytes themselves (mk_id_from_str rules) */
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    mk_group_key_t x = mk_group_key_from_secret(hex);
    for (int i = 0; i < 32; i++) assert_int_equal(x.secret.b[i], i);
    uint8_t raw[32];
    for (int i = 0; i < 32; i++) raw[i] = (uint8_t)(0xa0 + i);
    mk_group_key_t r = mk_group_key_from_bytes(raw);
    assert_memory_equal(r.secret.b, raw, 32);
    mk_group_key_t v = mk_group_key_from_validator(&VAL_A);
    mk_id_t sa = mk_id_from_str("validator-a");
    assert_memory_equal(v.secret.b, sa.b, 32);
    mk_group_key_t k1 = mk_group_key_random(), k2 = mk_group_key_random();
    assert_memory_not_equal(k1.secret.b, k2.secret.b, 32);
    assert_false(mk_id_is_zero(&k1.secret));
}

static void test_key_display(void **state) {
    (void)state;
    uint8_t raw[32] = {0};
    raw[0] = 0xab;
    raw[1] = 0x11;
    raw[31] = 0xcd;
    mk_group_key_t k = mk_group_key_from_bytes(raw);
    char out[16];
    memset(out, 'x', sizeof out);
    mk_group_key_display(&k, out);
    assert_string_equal(out, "ab****cd");
    memset(raw, 0, sizeof raw);
    raw[0] = 0x0f;
    k = mk_group_key_from_bytes(raw);
    mk_group_key_display(&k, out);
    assert_string_equal(out, "0f****00");
}

/* ---- consensus digest ---- */

static void test_digest_vectors(void **state) {
    (void)state;
    mk_consensus_config_t cc = MK_CONSENSUS_CONFIG_DEFAULT;
    mk_id_t d = mk_group_consensus_digest(&cc);
    assert_id_hex(&d, GV_DIGEST_DEFAULT);
    cc.exactly_once = true;
    d = mk_group_consensus_digest(&cc);
    assert_id_hex(&d, GV_DIGEST_EXACTLY_ONCE);
}

/* The digest's exact input, written out byte by byte for the defaults. */
static void test_digest_layout(void **state) {
    (void)state;
    static const uint8_t tail_default[] = {
        0xf4, 0x01, 0, 0, 0, 0, 0, 0, /* u64le heartbeat_interval_ms 500 */
        0x96, 0x00, 0, 0, 0, 0, 0, 0, /* u64le heartbeat_jitter_ms 150 */
        0x0a, 0, 0, 0,                /* u32le max_missed_heartbeats 10 */
        0x05, 0, 0, 0,                /* u32le max_voters 5 */
        0x00,                         /* u8 exactly_once */
        0x00, 0x00, 0x10, 0x00,       /* u32le max_command_bytes 1 MiB */
        0x00, 0x00, 0x00, 0x00,       /* u32le 0: max_sessions only counts with exactly_once */
    };
    static const uint8_t tail_eo[] = {
        0xf4, 0x01, 0, 0, 0, 0, 0, 0, 0x96, 0x00, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0x05, 0, 0, 0,
        0x01,                   /* exactly_once */
        0x00, 0x00, 0x10, 0x00, /* max_command_bytes */
        0x00, 0x10, 0x00, 0x00, /* max_sessions 4096 */
    };
    uint8_t buf[64];
    const size_t vl = strlen("libmosaik/groups/v1");
    assert_int_equal(vl + sizeof tail_default, MK_GROUP_DIGEST_INPUT_LEN);
    memcpy(buf, "libmosaik/groups/v1", vl);
    memcpy(buf + vl, tail_default, sizeof tail_default);
    mk_id_t want = blake3_of(buf, vl + sizeof tail_default);
    assert_id_hex(&want, GV_DIGEST_DEFAULT);
    memcpy(buf + vl, tail_eo, sizeof tail_eo);
    want = blake3_of(buf, vl + sizeof tail_eo);
    assert_id_hex(&want, GV_DIGEST_EXACTLY_ONCE);
}

/* Every field in the id changes the digest; every field outside it does not. */
static void test_digest_fields(void **state) {
    (void)state;
    const mk_consensus_config_t base = MK_CONSENSUS_CONFIG_DEFAULT;
    const mk_id_t d0 = mk_group_consensus_digest(&base);
    mk_consensus_config_t c;
#define CHANGES(stmt)                                   \
    do {                                                \
        c = base;                                       \
        stmt;                                           \
        mk_id_t d = mk_group_consensus_digest(&c);      \
        assert_false(mk_id_eq(&d, &d0));                \
    } while (0)
#define KEEPS(stmt)                                     \
    do {                                                \
        c = base;                                       \
        stmt;                                           \
        mk_id_t d = mk_group_consensus_digest(&c);      \
        assert_true(mk_id_eq(&d, &d0));                 \
    } while (0)
    CHANGES(c.heartbeat_interval_ms++);
    CHANGES(c.heartbeat_jitter_ms++);
    CHANGES(c.max_missed_heartbeats++);
    CHANGES(c.max_voters++);
    CHANGES(c.max_command_bytes++);
    CHANGES(c.exactly_once = true);
    KEEPS(c.max_sessions++); /* without exactly_once */
    KEEPS(c.election_timeout_ms++);
    KEEPS(c.election_timeout_jitter_ms++);
    KEEPS(c.bootstrap_delay_ms++);
    KEEPS(c.bootstrap_expect++);
    KEEPS(c.forward_timeout_ms++);
    KEEPS(c.query_timeout_ms++);
    KEEPS(c.voter_removal_timeout_ms++);
    KEEPS(c.max_append_entries++);
    KEEPS(c.max_append_bytes++);
    KEEPS(c.max_inflight_appends++);
    KEEPS(c.max_pending_commands++);
    /* with exactly_once, max_sessions counts */
    mk_consensus_config_t e1 = base, e2 = base;
    e1.exactly_once = e2.exactly_once = true;
    e2.max_sessions++;
    mk_id_t a = mk_group_consensus_digest(&e1), b = mk_group_consensus_digest(&e2);
    assert_false(mk_id_eq(&a, &b));
#undef CHANGES
#undef KEEPS
}

/* ---- sync signature ---- */

static void test_sync_signature(void **state) {
    (void)state;
    mk_sync_config_t sc = MK_SYNC_CONFIG_DEFAULT;
    mk_id_t s;
    assert_int_equal(mk_group_sync_signature(&sc, &s, NULL), MK_OK);
    assert_id_hex(&s, GV_SYNC_LOG_REPLAY);
    /* by hand: BLAKE3(BLAKE3("libmosaik/sync/log-replay") ‖ u64le(2000) ‖ u64le(25000)) */
    uint8_t buf[32 + 6 * 8];
    mk_id_t base = blake3_of("libmosaik/sync/log-replay", strlen("libmosaik/sync/log-replay"));
    memcpy(buf, base.b, 32);
    static const uint8_t replay[16] = {0xd0, 0x07, 0, 0, 0, 0, 0, 0, 0xa8, 0x61, 0, 0, 0, 0, 0, 0};
    memcpy(buf + 32, replay, 16);
    mk_id_t want = blake3_of(buf, 48);
    assert_true(mk_id_eq(&want, &s));
    /* snapshot-only fields and the buffer do not count for LOG_REPLAY */
    sc.snapshot_batch++;
    sc.snapshot_ttl_ms++;
    sc.sync_buffer_max_bytes++;
    mk_id_t s2;
    assert_int_equal(mk_group_sync_signature(&sc, &s2, NULL), MK_OK);
    assert_true(mk_id_eq(&s, &s2));
    sc.replay_batch++;
    assert_int_equal(mk_group_sync_signature(&sc, &s2, NULL), MK_OK);
    assert_false(mk_id_eq(&s, &s2));

    mk_sync_config_t sn = MK_SYNC_CONFIG_DEFAULT;
    sn.kind = MK_SYNC_SNAPSHOT;
    assert_int_equal(mk_group_sync_signature(&sn, &s, NULL), MK_OK);
    assert_id_hex(&s, GV_SYNC_SNAPSHOT);
    base = blake3_of("libmosaik/sync/snapshot", strlen("libmosaik/sync/snapshot"));
    memcpy(buf, base.b, 32);
    static const uint8_t snap[48] = {
        0xd0, 0x07, 0, 0, 0, 0, 0, 0, /* snapshot_batch 2000 */
        0x10, 0x27, 0, 0, 0, 0, 0, 0, /* snapshot_ttl_ms 10000 */
        0x98, 0x3a, 0, 0, 0, 0, 0, 0, /* snapshot_request_timeout_ms 15000 */
        0x88, 0x13, 0, 0, 0, 0, 0, 0, /* snapshot_fetch_timeout_ms 5000 */
        0xd0, 0x07, 0, 0, 0, 0, 0, 0, /* replay_batch 2000 */
        0xa8, 0x61, 0, 0, 0, 0, 0, 0, /* replay_fetch_timeout_ms 25000 */
    };
    memcpy(buf + 32, snap, sizeof snap);
    want = blake3_of(buf, sizeof buf);
    assert_true(mk_id_eq(&want, &s));
    sn.snapshot_fetch_timeout_ms++;
    assert_int_equal(mk_group_sync_signature(&sn, &s2, NULL), MK_OK);
    assert_false(mk_id_eq(&s, &s2));

    mk_error_t e;
    sn.kind = (mk_sync_kind_t)7;
    assert_int_equal(mk_group_sync_signature(&sn, &s2, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "sync.kind"));
    assert_true(mk_id_is_zero(&s2));
}

/* ---- GroupId ---- */

/* derive(id, b) = BLAKE3(id ‖ b), done with raw buffers. */
static mk_id_t step(const mk_id_t *id, const mk_id_t *b) {
    uint8_t buf[64];
    memcpy(buf, id->b, 32);
    memcpy(buf + 32, b->b, 32);
    return blake3_of(buf, 64);
}

static void test_group_id_vectors(void **state) {
    (void)state;
    mk_group_config_t g = MK_GROUP_CONFIG_DEFAULT;
    g.key = mk_group_key_from_secret("test-group");
    mk_id_t id;
    assert_int_equal(mk_group_id_for(&g, &id, NULL), MK_OK);
    assert_id_hex(&id, GV_GROUP_ID_DEFAULT);

    /* the chain by hand */
    mk_id_t want = blake3_of(g.key.secret.b, 32);
    mk_id_t digest = hexid(GV_DIGEST_DEFAULT), noop = mk_id_from_str("mosaik_noop_state_machine");
    mk_id_t sync = hexid(GV_SYNC_LOG_REPLAY);
    want = step(&want, &digest);
    want = step(&want, &noop);
    want = step(&want, &sync);
    assert_true(mk_id_eq(&want, &id));

    const mk_ticket_validator_t *vs[2] = {&VAL_A, &VAL_B};
    g.validators = vs;
    g.n_validators = 2;
    assert_int_equal(mk_group_id_for(&g, &id, NULL), MK_OK);
    assert_id_hex(&id, GV_GROUP_ID_TWO_VALIDATORS);
    mk_id_t sa = mk_id_from_str("validator-a"), sb = mk_id_from_str("validator-b");
    want = step(&want, &sa);
    want = step(&want, &sb);
    assert_true(mk_id_eq(&want, &id));

    /* the internal entry point gives the same */
    mk_id_t d2;
    assert_int_equal(mk_group_id_derive(&g.key, &g.consensus, &noop, &sync, vs, 2, &d2, NULL), MK_OK);
    assert_true(mk_id_eq(&d2, &id));
}

static void test_group_id_inputs(void **state) {
    (void)state;
    mk_group_config_t base = MK_GROUP_CONFIG_DEFAULT;
    base.key = mk_group_key_from_secret("test-group");
    mk_id_t id0, id;
    assert_int_equal(mk_group_id_for(&base, &id0, NULL), MK_OK);
    mk_group_config_t g;
#define SAME(stmt)                                              \
    do {                                                        \
        g = base;                                               \
        stmt;                                                   \
        assert_int_equal(mk_group_id_for(&g, &id, NULL), MK_OK); \
        assert_true(mk_id_eq(&id, &id0));                       \
    } while (0)
#define OTHER(stmt)                                             \
    do {                                                        \
        g = base;                                               \
        stmt;                                                   \
        assert_int_equal(mk_group_id_for(&g, &id, NULL), MK_OK); \
        assert_false(mk_id_eq(&id, &id0));                      \
    } while (0)
    OTHER(g.key = mk_group_key_from_secret("other"));
    OTHER(g.consensus.max_voters = 7);
    OTHER(g.sync.replay_batch = 7);
    OTHER(g.sync.kind = MK_SYNC_SNAPSHOT);
    OTHER((g.machine = &USER_MACHINE, g.machine_self = (void *)"counter"));
    SAME((g.machine = &USER_MACHINE, g.machine_self = (void *)"mosaik_noop_state_machine"));
    SAME(g.machine = &MK_NOOP_MACHINE);
    SAME(g.consensus.election_timeout_ms = 5000);
    SAME(g.consensus.bootstrap_delay_ms = 1);
    SAME(g.sync.sync_buffer_max_bytes = 1);
    SAME((g.snapshot_every = 1, g.retain_entries = 2));
    /* validator order matters */
    const mk_ticket_validator_t *ab[2] = {&VAL_A, &VAL_B}, *ba[2] = {&VAL_B, &VAL_A};
    mk_id_t x, y;
    g = base;
    g.validators = ab;
    g.n_validators = 2;
    assert_int_equal(mk_group_id_for(&g, &x, NULL), MK_OK);
    g.validators = ba;
    assert_int_equal(mk_group_id_for(&g, &y, NULL), MK_OK);
    assert_false(mk_id_eq(&x, &y));
    assert_false(mk_id_eq(&x, &id0));
#undef SAME
#undef OTHER
}

static void expect_refusal(const mk_group_config_t *g, const char *field) {
    mk_id_t id = mk_id_from_str("junk");
    mk_error_t e;
    assert_int_equal(mk_group_id_for(g, &id, &e), MK_EINVAL);
    assert_int_equal(e.code, MK_EINVAL);
    if (!strstr(e.msg, field)) fail_msg("error \"%s\" does not name %s", e.msg, field);
    assert_true(mk_id_is_zero(&id));
}

static void test_group_id_refusals(void **state) {
    (void)state;
    mk_group_config_t base = MK_GROUP_CONFIG_DEFAULT, g;
    g = base;
    g.consensus.max_voters = 33;
    expect_refusal(&g, "max_voters");
    g = base;
    g.consensus.heartbeat_jitter_ms = g.consensus.heartbeat_interval_ms;
    expect_refusal(&g, "heartbeat_jitter_ms");
    g = base;
    g.sync.kind = (mk_sync_kind_t)2;
    expect_refusal(&g, "sync.kind");
    static const mk_state_machine_t no_sig = {.signature = NULL};
    g = base;
    g.machine = &no_sig;
    expect_refusal(&g, "machine->signature");
    g = base;
    g.n_validators = 1;
    expect_refusal(&g, "validators");
    const mk_ticket_validator_t *vs[2] = {&VAL_A, NULL};
    g = base;
    g.validators = vs;
    g.n_validators = 2;
    expect_refusal(&g, "validators[1]");
    expect_refusal(NULL, "group config");
    mk_error_t e;
    assert_int_equal(mk_group_id_for(&base, NULL, &e), MK_EINVAL);

    mk_id_t out, sig = MK_ID_ZERO;
    mk_consensus_config_t cc = MK_CONSENSUS_CONFIG_DEFAULT;
    mk_group_key_t k = mk_group_key_from_secret("k");
    assert_int_equal(mk_group_id_derive(NULL, &cc, &sig, &sig, NULL, 0, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "key"));
    assert_int_equal(mk_group_id_derive(&k, &cc, NULL, &sig, NULL, 0, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "machine signature"));
    assert_int_equal(mk_group_id_derive(&k, &cc, &sig, NULL, NULL, 0, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "sync signature"));
    assert_int_equal(mk_group_id_derive(&k, &cc, &sig, &sig, NULL, 0, &out, NULL), MK_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_constructors), cmocka_unit_test(test_key_display),
        cmocka_unit_test(test_digest_vectors),   cmocka_unit_test(test_digest_layout),
        cmocka_unit_test(test_digest_fields),    cmocka_unit_test(test_sync_signature),
        cmocka_unit_test(test_group_id_vectors), cmocka_unit_test(test_group_id_inputs),
        cmocka_unit_test(test_group_id_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
