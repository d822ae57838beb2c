/* integration/tdx/seed — the TEE seed page end to end on loopback with the mock quote provider (spec 60
 * §8, §9, §12 TDX item 6), every node using a mock of one seed (one test root) and its own measurements:
 * - network_extension: available, measurements, ticket (fields, binding, expiry rules), install.
 * - stream_gated_by_mrtd: the seed's first example — a producer whose consumers must carry a TDX ticket
 *   with a given MRTD (static MK_TDX_VALIDATOR def); only matching consumers subscribe and get data.
 * - group_gated_by_own_measurements: the seed's second example — require_own_mrtd + require_own_rtmr2;
 *   nodes with the same registers meet in one group without any hex written down, a node with another
 *   RTMR2 lands in another group, and one that copies the hex values but runs other code is refused.
 * - refresh_keeps_bonds_expiry_closes_them: a 4 s ticket renewed 2 s before expiry keeps its bonds; one
 *   installed without refresh loses them (30_403) when it expires.
 * - default_provider_outside_tdx: a network without a provider uses configfs-tsm and says unavailable. */
#include "support/mkt_group.h"

#include "mosaik/tdx.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAXN 4
static mk_network_t *nets[MAXN];
static mk_group_t *groups[MAXN];
static mkt_counter_t counters[MAXN];
static mk_tdx_mock_t *mocks[MAXN];
static mk_tdx_provider_t *providers[MAXN];
static mk_tdx_validator_t *builders[MAXN];
static mk_tdx_trust_t *trust;
static char root_pem[4096];

static const uint8_t SEED[32] = "libmosaik tdx integration seed!";

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < MAXN; i++)
        if (groups[i]) mk_group_leave(groups[i]), groups[i] = NULL;
    mkt_disc_free_all(nets, MAXN);  /* networks first, then their providers, then the mocks */
    for (int i = 0; i < MAXN; i++) {
        mk_tdx_validator_free(builders[i]);
        mk_tdx_provider_free(providers[i]);
        mk_tdx_mock_free(mocks[i]);
        builders[i] = NULL, providers[i] = NULL, mocks[i] = NULL;
    }
    mk_tdx_trust_free(trust);
    trust = NULL;
    memset(counters, 0, sizeof counters);
    return 0;
}

static mk_measurement_t meas(uint8_t fill) {
    mk_measurement_t m;
    memset(m.b, fill, sizeof m.b);
    return m;
}

/* A TD image: MRTD (firmware), RTMR1 (kernel), RTMR2 (command line / application). */
typedef struct image { uint8_t mrtd, rtmr1, rtmr2; } image_t;

static mk_tdx_provider_t *next_provider;
static void with_provider(mk_network_config_t *cfg) { cfg->tdx_provider = next_provider; }

/* Node i runs `img` with a mock of the shared seed; it bootstraps from node 0. */
static void start_node(int i, image_t img) {
    mk_tdx_mock_config_t mc = {0};
    memcpy(mc.seed, SEED, sizeof mc.seed);
    mc.measurements.mrtd = meas(img.mrtd);
    mc.measurements.rtmr[1] = meas(img.rtmr1);
    mc.measurements.rtmr[2] = meas(img.rtmr2);
    mk_error_t e;
    mocks[i] = mk_tdx_mock_new(&mc, &e);
    if (!mocks[i]) fail_msg("mk_tdx_mock_new: %s", e.msg);
    providers[i] = mk_tdx_mock_provider(mocks[i]);
    assert_non_null(providers[i]);
    if (!trust) {  /* every mock of the seed has this root: one trust for all verifiers */
        snprintf(root_pem, sizeof root_pem, "%s", mk_tdx_mock_root_pem(mocks[i]));
        mk_tdx_trust_config_t tc = {.root_pem = root_pem};
        trust = mk_tdx_trust_new(&tc, &e);
        if (!trust) fail_msg("mk_tdx_trust_new: %s", e.msg);
    }
    assert_string_equal(mk_tdx_mock_root_pem(mocks[i]), root_pem);
    char addr[MK_ADDR_STR_MAX];
    if (i) mkt_disc_addr(nets[0], addr, sizeof addr);
    next_provider = providers[i];
    nets[i] = mkt_disc_node(i ? addr : NULL, with_provider);
}

static void install(int i, uint64_t lifetime_s, uint64_t margin_s, bool no_refresh) {
    mk_tdx_install_t o = {.lifetime_s = lifetime_s, .refresh_margin_s = margin_s, .no_refresh = no_refresh};
    mk_error_t e;
    if (mk_tdx_install_own_ticket(nets[i], &o, mkt_ms(5000), &e) != MK_OK) fail_msg("install_own_ticket: %s", e.msg);
}

/* ---- the network extension ---- */

static void network_extension(void **state) {
    (void)state;
    start_node(0, (image_t){0x11, 0x21, 0x31});
    mk_error_t e;
    assert_true(mk_tdx_available(nets[0], mkt_ms(5000)));
    mk_measurements_t m;
    assert_int_equal(mk_tdx_measurements(nets[0], mkt_ms(5000), &m, &e), MK_OK);
    mk_measurement_t one = meas(0x11), r2 = meas(0x31);
    assert_memory_equal(m.mrtd.b, one.b, 48);
    assert_memory_equal(m.rtmr[2].b, r2.b, 48);
    mk_measurement_t x;
    assert_int_equal(mk_tdx_rtmr2(nets[0], mkt_ms(5000), &x, &e), MK_OK);
    assert_memory_equal(x.b, r2.b, 48);
    assert_int_equal(mk_tdx_measurement(nets[0], (mk_tdx_reg_t)9, 1000, &x, &e), MK_EINVAL);

    /* a ticket: bound to this node and network, whole seconds, refused for a past expiry */
    mk_ticket_t *t = NULL;
    assert_int_equal(mk_tdx_ticket(nets[0], wall_ms() - 1, 1000, &t, &e), MK_EINVAL);
    assert_null(t);
    int64_t before = wall_ms();
    int64_t exp = before + 60000;
    assert_int_equal(mk_tdx_ticket(nets[0], exp, mkt_ms(5000), &t, &e), MK_OK);
    mk_id_t cls = mk_tdx_class();
    assert_true(mk_id_eq(&t->cls, &cls));
    mk_tdx_ticket_t *d = NULL;
    assert_int_equal(mk_tdx_ticket_from(t, &d, &e), MK_OK);
    const mk_tdx_extra_t *xe = mk_tdx_ticket_extra(d);
    mk_peer_id_t self = mk_network_peer_id(nets[0]);
    mk_network_id_t nid = mk_network_id(nets[0]);
    assert_true(mk_id_eq(&xe->peer_id, &self));
    assert_true(mk_id_eq(&xe->network_id, &nid));
    assert_int_equal(xe->expires, exp / 1000);
    assert_true(xe->quoted_at_s >= before / 1000 && xe->quoted_at_s <= wall_ms() / 1000);
    const mk_peer_entry_t *me = mk_discovery_me(nets[0]);
    assert_int_equal(xe->started_at_s, (int64_t)(mk_peer_entry_version(me).start_ms / 1000));
    mk_peer_entry_unref(me);
    assert_memory_equal(mk_tdx_ticket_quote(d)->m.mrtd.b, one.b, 48);
    uint8_t rd[64];
    mk_tdx_extra_report_data(xe, rd);
    assert_memory_equal(mk_tdx_ticket_quote(d)->report_data, rd, 64);
    /* it passes a validator with the mock root as this node, and fails as another peer */
    mk_tdx_validator_t *b = mk_tdx_validator_new();
    assert_int_equal(mk_tdx_validator_trust(b, trust), MK_OK);
    const mk_ticket_validator_t *v = mk_tdx_validator_get(b);
    mk_ticket_peer_t peer = {.peer_id = self, .network_id = nid};
    mk_ticket_verdict_t vd;
    mk_ticket_validate(v, t->data, t->len, &peer, wall_ms(), &vd);
    assert_true(vd.valid);
    assert_int_equal(vd.expires, exp / 1000 * 1000);
    peer.peer_id = mk_id_from_str("someone else");
    mk_ticket_validate(v, t->data, t->len, &peer, wall_ms(), &vd);
    assert_false(vd.valid);
    assert_int_equal(vd.reason, MK_TICKET_BINDING);
    assert_int_equal(vd.code, MK_TDX_CHK_PEER);
    mk_tdx_validator_free(b);
    mk_tdx_ticket_free(d);
    mk_ticket_free(t);
    /* a never-expiring ticket */
    assert_int_equal(mk_tdx_ticket(nets[0], MK_EXPIRES_NEVER, mkt_ms(5000), &t, &e), MK_OK);
    assert_int_equal(mk_tdx_ticket_from(t, &d, &e), MK_OK);
    assert_int_equal(mk_tdx_ticket_extra(d)->expires, MK_EXPIRES_NEVER);
    mk_tdx_ticket_free(d);
    mk_ticket_free(t);
    /* install: the entry carries exactly one TDX ticket, replaced by a second install */
    install(0, 0, 0, false);
    install(0, 3600, 0, false);
    me = mk_discovery_me(nets[0]);
    const mk_ticket_t *mine[4];
    assert_int_equal(mk_peer_entry_tickets_of(me, &cls, mine, 4), 1);
    assert_int_equal(mk_tdx_ticket_decode(mine[0]->data, mine[0]->len, &d, &e), MK_OK);
    assert_true(mk_tdx_ticket_extra(d)->expires != MK_EXPIRES_NEVER);
    mk_tdx_ticket_free(d);
    mk_peer_entry_unref(me);
    mk_tdx_install_t bad = {.lifetime_s = 10, .refresh_margin_s = 10};
    assert_int_equal(mk_tdx_install_own_ticket(nets[0], &bad, 1000, &e), MK_EINVAL);
}

/* ---- the seed's stream: consumers must carry a TDX ticket with a given MRTD ---- */

static void stream_gated_by_mrtd(void **state) {
    (void)state;
    start_node(0, (image_t){0x01, 0x02, 0x03});  /* the producer: its own image does not matter */
    start_node(1, (image_t){0x11, 0x21, 0x31});  /* the expected firmware */
    start_node(2, (image_t){0x11, 0x22, 0x32});  /* same firmware, other kernel and application */
    start_node(3, (image_t){0x12, 0x21, 0x31});  /* other firmware */
    mkt_disc_wait_complete(nets, 4, 5);
    for (int i = 1; i < 4; i++) install(i, 0, 0, false);
    char mrtd[97];
    mk_measurement_t want = meas(0x11);
    mk_measurement_to_hex(&want, mrtd);
    /* as the seed writes it: a static def (hex), here with the mock root as its trust; validators in a
     * def need static storage (a link may release its reference after this function returns) */
    static char mrtd_hex[97];
    static mk_tdx_trust_config_t tc;
    static mk_tdx_def_t secure_tdx;
    static const mk_ticket_validator_t secure = MK_TDX_VALIDATOR(&secure_tdx);
    memcpy(mrtd_hex, mrtd, sizeof mrtd_hex);
    tc = (mk_tdx_trust_config_t){.root_pem = root_pem};
    secure_tdx = (mk_tdx_def_t){.baseline.mrtd = mrtd_hex, .trust = &tc};
    /* the side in a C def is the side that checks: the producer demands the ticket of its consumers
     * (Rust: `consumer require_ticket: Tdx::new().require_mrtd(…)`) */
    static const mk_stream_def_t feed = MK_STREAM_DEF("secure.data", .producer.require_ticket = {&secure});
    mk_error_t e;
    mk_producer_t *p = mk_producer_open_def(nets[0], &feed, NULL, &e);
    if (!p) fail_msg("mk_producer_open_def: %s", e.msg);
    mk_consumer_t *c[4] = {NULL};
    for (int i = 1; i < 4; i++) {
        c[i] = mk_consumer_open_def(nets[i], &feed, NULL, &e);
        if (!c[i]) fail_msg("mk_consumer_open_def: %s", e.msg);
    }
    assert_int_equal(mk_consumer_wait(c[1], MK_WHEN_SUBSCRIBED, mkt_ms(5000), &e), MK_OK);
    assert_int_equal(mk_consumer_wait(c[2], MK_WHEN_SUBSCRIBED, mkt_ms(5000), &e), MK_OK);
    assert_int_equal(mk_producer_send(p, "attested", 8, mkt_ms(1000), &e), MK_OK);
    for (int i = 1; i <= 2; i++) {
        mk_datum_t d = MK_DATUM_INIT;
        assert_int_equal(mk_consumer_recv(c[i], &d, mkt_ms(3000), &e), MK_OK);
        assert_int_equal(d.len, 8);
        assert_memory_equal(d.data, "attested", 8);
        mk_datum_free(&d);
    }
    /* the other firmware is refused and gets nothing */
    mk_producer_stats_t st;
    MKT_WAIT_UNTIL((mk_producer_stats(p, &st), st.refused >= 1), 5);
    assert_false(mk_consumer_check(c[3], MK_WHEN_SUBSCRIBED));
    mk_datum_t d = MK_DATUM_INIT;
    assert_int_equal(mk_consumer_recv(c[3], &d, 300, &e), MK_ETIMEDOUT);
    for (int i = 1; i < 4; i++) mk_consumer_free(c[i]);
    mk_producer_free(p);
}

/* ---- the seed's collection gate: peers with this machine's MRTD and RTMR2 ---- */

static mk_group_status_t status_of(mk_group_t *g) {
    mk_group_status_t st;
    assert_int_equal(mk_group_status(g, &st), MK_OK);
    return st;
}
static size_t nbonds(int i) { return status_of(groups[i]).n_bonds; }

/* Node i's validator: require_own_mrtd + require_own_rtmr2 through its own provider, mock-root trust. */
static const mk_ticket_validator_t *own_validator(int i) {
    mk_error_t e;
    builders[i] = mk_tdx_validator_new();
    if (mk_tdx_validator_require_own_mrtd(builders[i], providers[i], mkt_ms(5000), &e) != MK_OK ||
        mk_tdx_validator_require_own_rtmr2(builders[i], providers[i], mkt_ms(5000), &e) != MK_OK)
        fail_msg("require_own: %s", e.msg);
    assert_int_equal(mk_tdx_validator_trust(builders[i], trust), MK_OK);
    return mk_tdx_validator_get(builders[i]);
}

static void join_gated(int i, const mk_ticket_validator_t *v) {
    static const mk_ticket_validator_t *vs[MAXN];
    vs[i] = v;
    mk_group_config_t cfg = mkt_group_config("unused", &counters[i]);
    cfg.key = mk_group_key_from_validator(v);
    cfg.validators = &vs[i];
    cfg.n_validators = 1;
    groups[i] = mkt_group_join(nets[i], &cfg);
}

static void group_gated_by_own_measurements(void **state) {
    (void)state;
    start_node(0, (image_t){0x11, 0x21, 0x31});
    start_node(1, (image_t){0x11, 0x22, 0x31});  /* another kernel (RTMR1): not required, still admitted */
    start_node(2, (image_t){0x11, 0x21, 0x31});
    start_node(3, (image_t){0x11, 0x21, 0x39});  /* another application (RTMR2) */
    mkt_disc_wait_complete(nets, 4, 5);
    for (int i = 0; i < 4; i++) install(i, 0, 0, false);
    for (int i = 0; i < 3; i++) join_gated(i, own_validator(i));
    /* the same registers give the same validator signature, hence one GroupId, without any hex */
    assert_true(mk_id_eq(mk_group_id(groups[0]), mk_group_id(groups[1])));
    assert_true(mk_id_eq(mk_group_id(groups[0]), mk_group_id(groups[2])));
    MKT_WAIT_UNTIL(nbonds(0) == 2 && nbonds(1) == 2 && nbonds(2) == 2, 10);
    int leader = mkt_group_wait_leader(groups, 3, 10);
    mkt_group_inc(groups[(leader + 1) % 3], 5);
    assert_int_equal(mkt_group_value(groups[leader], MK_STRONG), 5);
    /* node 3's own RTMR2 differs: its validator, hence its group, is another one */
    const mk_ticket_validator_t *v3 = own_validator(3);
    mk_id_t s0 = mk_ticket_validator_signature(mk_tdx_validator_get(builders[0]));
    mk_id_t s3 = mk_ticket_validator_signature(v3);
    assert_false(mk_id_eq(&s0, &s3));
    /* copying the others' values instead (same GroupId) does not help: its ticket is refused */
    mk_measurements_t m0;
    mk_error_t e;
    assert_int_equal(mk_tdx_measurements(nets[0], mkt_ms(5000), &m0, &e), MK_OK);
    mk_tdx_validator_t *copy = mk_tdx_validator_new();
    assert_int_equal(mk_tdx_validator_require_mrtd(copy, &m0.mrtd), MK_OK);
    assert_int_equal(mk_tdx_validator_require_rtmr2(copy, &m0.rtmr[2]), MK_OK);
    assert_int_equal(mk_tdx_validator_trust(copy, trust), MK_OK);
    const mk_ticket_validator_t *vc = mk_tdx_validator_get(copy);
    mk_id_t sc = mk_ticket_validator_signature(vc);
    assert_true(mk_id_eq(&sc, &s0));  /* explicit values = require_own on a matching machine */
    join_gated(3, vc);
    assert_true(mk_id_eq(mk_group_id(groups[3]), mk_group_id(groups[0])));
    MKT_WAIT_UNTIL(mk_group_test_closes(groups[3], MK_CLOSE_GROUP_NOT_ALLOWED) >= 1, 10);
    assert_int_equal(nbonds(3), 0);
    for (int i = 0; i < 3; i++) assert_int_equal(nbonds(i), 2);
    assert_int_equal(counters[3].applied, 0);
    mk_group_leave(groups[3]);
    groups[3] = NULL;
    mk_tdx_validator_free(copy);
}

/* ---- refresh keeps the bonds, expiry without refresh ends them ---- */

static void refresh_keeps_bonds_expiry_closes_them(void **state) {
    (void)state;
    for (int i = 0; i < 3; i++) start_node(i, (image_t){0x11, 0x21, 0x31});
    mkt_disc_wait_complete(nets, 3, 5);
    /* nodes 0, 1: 4 s tickets renewed 2 s before expiry; node 2: a 4 s ticket without refresh */
    install(0, 4, 2, false);
    install(1, 4, 2, false);
    install(2, 4, 0, true);
    int64_t t2 = wall_ms();
    for (int i = 0; i < 3; i++) join_gated(i, own_validator(i));
    MKT_WAIT_UNTIL(nbonds(0) == 2 && nbonds(1) == 2 && nbonds(2) == 2, 10);
    /* node 2's ticket expires within 4 s (whole seconds): its bonds end with 30_403 */
    MKT_WAIT_UNTIL(nbonds(2) == 0, 10);
    assert_true(wall_ms() - t2 >= 2900);  /* not before its expiry (3–4 s after the install) */
    assert_true(mk_group_test_closes(groups[2], MK_CLOSE_GROUP_NOT_ALLOWED) +
                    mk_group_test_closes(groups[0], MK_CLOSE_GROUP_NOT_ALLOWED) +
                    mk_group_test_closes(groups[1], MK_CLOSE_GROUP_NOT_ALLOWED) >=
                1);
    /* nodes 0 and 1 renew every ~2 s and never lose their bond (node 2 may still knock, refused with
     * 30_403 whenever their entries change) */
    int64_t until = wall_ms() + (int64_t)(T(1) * 5000);
    while (wall_ms() < until) {
        mk_bond_info_t *b = NULL;
        size_t n = 0;
        assert_int_equal(mk_group_bonds(groups[0], &b, &n), MK_OK);
        mk_peer_id_t p1 = mk_network_peer_id(nets[1]);
        bool with1 = false;
        for (size_t k = 0; k < n; k++) with1 |= mk_id_eq(&b[k].peer, &p1);
        mk_group_free_list(b);
        assert_true(with1);
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);  /* sampling a state that must not change: no condition to wait for */
    }
    assert_int_equal(nbonds(2), 0);
    /* the installed ticket is a newer one than the first */
    mk_id_t cls = mk_tdx_class();
    const mk_peer_entry_t *me = mk_discovery_me(nets[0]);
    const mk_ticket_t *mine[2];
    assert_int_equal(mk_peer_entry_tickets_of(me, &cls, mine, 2), 1);
    mk_tdx_ticket_t *d = NULL;
    mk_error_t e;
    assert_int_equal(mk_tdx_ticket_decode(mine[0]->data, mine[0]->len, &d, &e), MK_OK);
    assert_true(mk_tdx_ticket_extra(d)->quoted_at_s * 1000 > t2 + 1000);
    mk_tdx_ticket_free(d);
    mk_peer_entry_unref(me);
}

/* ---- without a provider: configfs-tsm ---- */

static void default_provider_outside_tdx(void **state) {
    (void)state;
    struct stat sb;
    if (stat("/sys/kernel/config/tsm/report", &sb) == 0) skip();  /* a TDX guest: covered by unit.tee.configfs */
    nets[0] = mkt_disc_node(NULL, NULL);
    assert_false(mk_tdx_available(nets[0], mkt_ms(5000)));
    mk_ticket_t *t = NULL;
    mk_error_t e;
    assert_int_equal(mk_tdx_ticket(nets[0], MK_EXPIRES_NEVER, mkt_ms(5000), &t, &e), MK_ENOTSUP);
    assert_null(t);
    assert_int_equal(mk_tdx_install_own_ticket(nets[0], NULL, mkt_ms(5000), &e), MK_ENOTSUP);
    mk_measurements_t m;
    assert_int_equal(mk_tdx_measurements(nets[0], mkt_ms(5000), &m, &e), MK_ENOTSUP);
}

#define TT(f) cmocka_unit_test_teardown(f, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        TT(network_extension),
        TT(stream_gated_by_mrtd),
        TT(group_gated_by_own_measurements),
        TT(refresh_keeps_bonds_expiry_closes_them),
        TT(default_provider_outside_tdx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
