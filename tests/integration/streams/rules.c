/* integration/streams/rules — spec 30 §10 items 6, 10–13, 21 on loopback: require predicates
 * on both sides (a consumer that drops its tag is closed 10_403), tickets with a fake validator on
 * both sides (expiry closes the channel at expiry, renewal keeps it, two validators need both
 * tickets, an expiring producer ticket makes the consumer leave with 102), the same gate with a real
 * ES256 JWT validator (a forged token never gets in, exp closes the channel on time), undelivered datums with
 * a full input queue, callback mode and the readiness fd, and RTT predicates. */
#include "support/mkt_disc.h"

#include "mosaik/streams.h"
#include "tickets/validator.h"

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 4
static mk_network_t *nets[N];

static void start(size_t n) { mkt_disc_cluster(nets, n, NULL); }

static int teardown(void **state) {
    (void)state;
    mkt_disc_free_all(nets, N);
    return 0;
}

static bool tagged(void *ctx, const mk_peer_info_t *p) { return mk_peer_info_has_tag(p, ctx); }

static void require_predicates_gate_both_sides(void **state) {
    (void)state;
    start(3);
    mk_error_t e;
    const char *t[] = {"trusted"};
    assert_int_equal(mk_discovery_add_tags(nets[1], t, 1, mkt_ms(2000), &e), MK_OK);
    mk_producer_config_t pc = {.require = {MK_PRED_CTX(tagged, "trusted")}};
    mk_producer_t *p = mk_producer_open(nets[0], "t.require", &pc, &e);
    mk_consumer_t *good = mk_consumer_open(nets[1], "t.require", NULL, &e), *bad = mk_consumer_open(nets[2], "t.require", NULL, &e);
    assert_int_equal(mk_consumer_wait(good, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
    assert_false(mk_consumer_check(bad, MK_WHEN_SUBSCRIBED));  /* refused 10_403 and parked */
    mk_producer_stats_t st;
    mk_producer_stats(p, &st);
    assert_true(st.refused >= 1 && st.refused <= 3);
    /* the good one drops its tag: closed within T(3) of the entry propagating */
    assert_int_equal(mk_discovery_remove_tags(nets[1], t, 1, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(mk_consumer_wait(good, MK_WHEN_UNSUBSCRIBED, mkt_ms(5000), &e), MK_OK);
    /* re-adding it resubscribes (the parked producer is examined again on the new entry) */
    assert_int_equal(mk_discovery_add_tags(nets[1], t, 1, mkt_ms(2000), &e), MK_OK);
    /* the consumer re-examines when the producer's entry changes or park_ms passes; nudge the producer's entry */
    const char *nudge[] = {"nudge"};
    assert_int_equal(mk_discovery_add_tags(nets[0], nudge, 1, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(mk_consumer_wait(good, MK_WHEN_SUBSCRIBED, mkt_ms(5000), &e), MK_OK);
    /* consumer side: require a tag the producer lacks → never subscribes */
    mk_consumer_config_t cc = {.require = {MK_PRED_CTX(tagged, "leader")}};
    mk_consumer_t *picky = mk_consumer_open(nets[1], "t.require", &cc, &e);
    assert_int_equal(mk_consumer_wait(picky, MK_WHEN_SUBSCRIBED, mkt_ms(800), &e), MK_ETIMEDOUT);
    const char *lead[] = {"leader"};
    assert_int_equal(mk_discovery_add_tags(nets[0], lead, 1, mkt_ms(2000), &e), MK_OK);
    assert_int_equal(mk_consumer_wait(picky, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    mk_consumer_free(picky);
    mk_consumer_free(good);
    mk_consumer_free(bad);
    mk_producer_free(p);
}

/* ---- tickets: "ok:<expiry ms, 0 = never>" of class test.ticket ---- */

static mk_id_t test_class(const void *cfg) {
    (void)cfg;
    return mk_id_from_str("test.ticket");
}
static mk_id_t test_sig(const void *cfg) {
    (void)cfg;
    return mk_id_from_str("test.ticket/v1");
}
static void test_validate(const void *cfg, void *state, const uint8_t *data, size_t len, const mk_ticket_peer_t *peer,
                          int64_t now_ms, mk_ticket_verdict_t *out) {
    (void)cfg;
    (void)state;
    (void)peer;
    char buf[40] = {0};
    memcpy(buf, data, len < 39 ? len : 39);
    long long exp;
    if (sscanf(buf, "ok:%lld", &exp) != 1) mk_verdict_invalid(out, MK_TICKET_MALFORMED, 0, "bad");
    else if (exp && exp <= now_ms) mk_verdict_invalid(out, MK_TICKET_EXPIRED, 0, "expired");
    else mk_verdict_valid(out, exp ? exp : MK_EXPIRES_NEVER);
}
static const mk_ticket_validator_vt_t test_vt = {
    .kind = "test", .class_id = test_class, .signature = test_sig, .validate = test_validate};
static const mk_ticket_validator_t TEST_V = MK_TICKET_VALIDATOR(&test_vt, NULL);

static mk_id_t test_class_b(const void *cfg) {
    (void)cfg;
    return mk_id_from_str("test.ticket.b");
}
static mk_id_t test_sig_b(const void *cfg) {
    (void)cfg;
    return mk_id_from_str("test.ticket.b/v1");
}
static const mk_ticket_validator_vt_t test_vt_b = {
    .kind = "test-b", .class_id = test_class_b, .signature = test_sig_b, .validate = test_validate};
static const mk_ticket_validator_t TEST_B = MK_TICKET_VALIDATOR(&test_vt_b, NULL);

static void give_ticket_of(mk_network_t *n, const char *cls, int64_t expiry_ms) {
    char data[40];
    snprintf(data, sizeof data, "ok:%lld", (long long)expiry_ms);
    mk_ticket_t t = {mk_id_from_str(cls), (const uint8_t *)data, strlen(data)};
    mk_error_t e;
    assert_int_equal(mk_discovery_replace_ticket(n, &t, mkt_ms(2000), &e), MK_OK);
}
static void give_ticket(mk_network_t *n, int64_t expiry_ms) { give_ticket_of(n, "test.ticket", expiry_ms); }

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tickets_admit_and_expire(void **state) {
    (void)state;
    start(3);
    mk_error_t e;
    mk_producer_config_t pc = {.require_ticket = {&TEST_V}};
    mk_producer_t *p = mk_producer_open(nets[0], "t.tickets", &pc, &e);
    assert_non_null(p);
    give_ticket(nets[1], 0);  /* never expires */
    int64_t exp = wall_ms() + 3000;
    give_ticket(nets[2], exp);
    mk_consumer_t *c1 = mk_consumer_open(nets[1], "t.tickets", NULL, &e), *c2 = mk_consumer_open(nets[2], "t.tickets", NULL, &e);
    assert_int_equal(mk_consumer_wait(c1, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_consumer_wait(c2, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    /* c2's ticket expires at +3 s: its channel closes then, with no traffic */
    assert_int_equal(mk_consumer_wait(c2, MK_WHEN_UNSUBSCRIBED, mkt_ms(6000), &e), MK_OK);
    int64_t at = wall_ms();
    assert_true(at >= exp - 50);
    assert_true(at <= exp + (int64_t)(T(1) * 1000) + 500);
    assert_true(mk_consumer_check(c1, MK_WHEN_SUBSCRIBED));
    /* the expired consumer is refused from now on: no resubscription within 2 s */
    assert_int_equal(mk_consumer_wait(c2, MK_WHEN_SUBSCRIBED, 2000, &e), MK_ETIMEDOUT);
    mk_consumer_free(c2);
    mk_consumer_free(c1);
    mk_producer_free(p);
}

/* ---- tickets on the consumer side, two validators, renewal, an expiring producer ticket ---- */

static _Atomic uint32_t producer_close_code;
static _Atomic int64_t producer_close_at;
static void on_producer_channel(void *ctx, const mk_channel_info_t *ch) {
    (void)ctx;
    if (ch->state != MK_CHANNEL_TERMINATED) return;
    producer_close_code = ch->stats.last_close;
    producer_close_at = wall_ms();
}

static bool connected_to(mk_consumer_t *c, mk_network_t *producer_node) {
    mk_channel_info_t *v = NULL;
    size_t n = 0;
    mk_error_t e;
    assert_int_equal(mk_consumer_producers(c, &v, &n, &e), MK_OK);
    mk_peer_id_t want = mk_network_peer_id(producer_node);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found |= v[i].state == MK_CHANNEL_CONNECTED && memcmp(&v[i].producer_id, &want, sizeof want) == 0;
    mk_channel_info_free(v, n);
    return found;
}

static void tickets_on_the_consumer_side_two_validators_and_renewal(void **state) {
    (void)state;
    start(4);
    mk_error_t e;
    /* n0: A forever; n1: A expired; n2: none; n3: A and B forever */
    give_ticket(nets[0], 0);
    give_ticket(nets[1], wall_ms() - 1000);
    give_ticket(nets[3], 0);
    give_ticket_of(nets[3], "test.ticket.b", 0);
    mk_producer_config_t watch = {.on_channel = on_producer_channel};
    mk_producer_t *p0 = mk_producer_open(nets[0], "t.ct", NULL, &e), *p1 = mk_producer_open(nets[1], "t.ct", NULL, &e),
                  *p2 = mk_producer_open(nets[2], "t.ct", &watch, &e);
    mk_consumer_config_t need_a = {.require_ticket = {&TEST_V}};
    mk_consumer_t *c3 = mk_consumer_open(nets[3], "t.ct", &need_a, &e);
    assert_non_null(c3);
    /* the consumer subscribes to the valid producer only */
    assert_int_equal(mk_producer_wait(p0, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_wait(p1, MK_WHEN_SUBSCRIBED, 1000, &e), MK_ETIMEDOUT);
    assert_false(mk_producer_check(p2, MK_WHEN_SUBSCRIBED));
    assert_true(connected_to(c3, nets[0]));
    assert_false(connected_to(c3, nets[1]) || connected_to(c3, nets[2]));

    /* two validators: only a consumer carrying both tickets is admitted */
    mk_producer_config_t need_ab = {.require_ticket = {&TEST_V, &TEST_B}};
    mk_producer_t *pab = mk_producer_open(nets[2], "t.ab", &need_ab, &e);
    mk_consumer_t *only_a = mk_consumer_open(nets[0], "t.ab", NULL, &e), *both = mk_consumer_open(nets[3], "t.ab", NULL, &e);
    assert_int_equal(mk_consumer_wait(both, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_consumer_wait(only_a, MK_WHEN_SUBSCRIBED, 1000, &e), MK_ETIMEDOUT);
    mk_producer_stats_t st;
    mk_producer_stats(pab, &st);
    assert_true(st.refused >= 1);
    assert_true(mk_producer_check(pab, MK_WHEN_MIN(1)) && !mk_producer_check(pab, MK_WHEN_MIN(2)));

    /* renewal: n1's consumer holds A until +3 s, renewed at +1 s for 60 s, still subscribed at +5 s;
     * n2 (a producer) gets A until +3 s: the consumer on n3 subscribes, then closes it with 102 */
    mk_producer_config_t gate_a = {.require_ticket = {&TEST_V}};
    mk_producer_t *prenew = mk_producer_open(nets[0], "t.renew", &gate_a, &e);
    int64_t t0 = wall_ms(), exp = t0 + 3000;
    give_ticket(nets[1], exp);
    give_ticket(nets[2], exp);
    mk_consumer_t *c1 = mk_consumer_open(nets[1], "t.renew", NULL, &e);
    assert_int_equal(mk_consumer_wait(c1, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_wait(p2, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    int64_t now = wall_ms();
    if (now < t0 + 1000) {
        struct timespec ts = {0, (long)(t0 + 1000 - now) * 1000000L};
        nanosleep(&ts, NULL);
    }
    give_ticket(nets[1], wall_ms() + 60000);
    /* the producer-side ticket expiry: the consumer on n3 leaves n2 with 102 at about +3 s */
    assert_int_equal(mk_producer_wait(p2, MK_WHEN_UNSUBSCRIBED, mkt_ms(6000), &e), MK_OK);
    MKT_WAIT_UNTIL(producer_close_code != 0, 2);
    assert_int_equal(producer_close_code, MK_CLOSE_CANCELLED);
    assert_true(producer_close_at >= exp - 50);
    assert_true(producer_close_at <= exp + (int64_t)(T(1) * 1000) + 500);
    /* the renewed consumer stays subscribed past +5 s */
    int64_t left = t0 + 5000 - wall_ms();
    if (left > 0) assert_int_equal(mk_consumer_wait(c1, MK_WHEN_UNSUBSCRIBED, (int)left, &e), MK_ETIMEDOUT);
    assert_true(mk_consumer_check(c1, MK_WHEN_SUBSCRIBED));
    mk_stream_stats_t tot;
    mk_consumer_stats(c1, &tot);
    assert_int_equal(tot.reconnects, 0);

    mk_consumer_free(c1);
    mk_consumer_free(only_a);
    mk_consumer_free(both);
    mk_consumer_free(c3);
    mk_producer_free(prenew);
    mk_producer_free(pab);
    mk_producer_free(p0);
    mk_producer_free(p1);
    mk_producer_free(p2);
}

/* ---- the same gate with a real JWT validator (ES256) ---- */

static void give_jwt(mk_network_t *n, const mk_jwt_signer_t *issuer, mk_expiration_t expires_at) {
    mk_error_t e;
    mk_peer_id_t id = mk_network_peer_id(n);
    mk_jwt_builder_t b = {.signer = issuer, .issuer = "streams-test", .audience = "t.jwt", .expires_at = expires_at};
    mk_ticket_t *t = NULL;
    assert_int_equal(mk_jwt_build_ticket(&b, &id, wall_ms(), &t, &e), MK_OK);
    assert_int_equal(mk_discovery_add_ticket(n, t, mkt_ms(2000), &e), MK_OK);
    mk_ticket_free(t);
}

static void a_jwt_ticket_admits_and_its_expiry_closes_the_channel(void **state) {
    (void)state;
    start(4);
    mk_error_t e;
    mk_jwt_signer_t *issuer = mk_jwt_signer_generate(MK_JWT_ES256, &e), *forger = mk_jwt_signer_generate(MK_JWT_ES256, &e);
    assert_true(issuer && forger);
    uint8_t pub[128];
    size_t pub_len = mk_jwt_signer_public(issuer, pub, sizeof pub);
    mk_jwt_config_t vc = {.keys = {MK_JWT_KEY_RAW(MK_JWT_ES256, pub, pub_len)}, .issuers = {"streams-test"},
                          .audiences = {"t.jwt"}};
    const mk_ticket_validator_t *v = mk_jwt_validator_new(&vc, &e);
    assert_non_null(v);
    mk_producer_config_t pc = {.require_ticket = {v}};
    mk_producer_t *p = mk_producer_open(nets[0], "t.jwt", &pc, &e);
    assert_non_null(p);
    mk_ticket_validator_unref(v);  /* the producer holds its own reference */
    /* n1: an hour; n2: exp a few whole seconds ahead (JWT exp has second resolution); n3: forged */
    give_jwt(nets[1], issuer, wall_ms() + 3600 * 1000);
    int64_t exp = (wall_ms() / 1000 + 4) * 1000;
    give_jwt(nets[2], issuer, exp);
    give_jwt(nets[3], forger, wall_ms() + 3600 * 1000);
    mk_consumer_t *c1 = mk_consumer_open(nets[1], "t.jwt", NULL, &e), *c2 = mk_consumer_open(nets[2], "t.jwt", NULL, &e),
                  *c3 = mk_consumer_open(nets[3], "t.jwt", NULL, &e);
    assert_int_equal(mk_consumer_wait(c1, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_consumer_wait(c2, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    assert_true(wall_ms() < exp);
    assert_int_equal(mk_producer_send(p, "ok", 2, mkt_ms(1000), &e), MK_OK);
    mk_datum_t d = MK_DATUM_INIT;
    assert_int_equal(mk_consumer_recv(c2, &d, mkt_ms(2000), &e), MK_OK);
    mk_datum_free(&d);
    /* the forged token never gets in */
    assert_false(mk_consumer_check(c3, MK_WHEN_SUBSCRIBED));
    /* exp passes: the producer closes c2's channel then, with no traffic to prompt it */
    assert_int_equal(mk_consumer_wait(c2, MK_WHEN_UNSUBSCRIBED, mkt_ms(8000), &e), MK_OK);
    int64_t at = wall_ms();
    assert_true(at >= exp - 50);
    assert_true(at <= exp + (int64_t)(T(1) * 1000) + 500);
    assert_true(mk_consumer_check(c1, MK_WHEN_SUBSCRIBED));
    assert_false(mk_consumer_check(c3, MK_WHEN_SUBSCRIBED));
    assert_int_equal(mk_consumer_wait(c2, MK_WHEN_SUBSCRIBED, 2000, &e), MK_ETIMEDOUT);
    mk_producer_stats_t st;
    mk_producer_stats(p, &st);
    assert_true(st.refused >= 1);  /* the forger, at least */
    mk_consumer_free(c1);
    mk_consumer_free(c2);
    mk_consumer_free(c3);
    mk_producer_free(p);
    mk_jwt_signer_free(issuer);
    mk_jwt_signer_free(forger);
}

/* ---- undelivered and a full input queue ---- */

typedef struct und {
    sem_t entered, release;
    int count;
    char seen[16][8];
} und_t;

static void on_undelivered(void *ctx, const void *datum, size_t len) {
    und_t *u = ctx;
    if (u->count < 16) snprintf(u->seen[u->count], 8, "%.*s", (int)len, (const char *)datum);
    if (u->count++ == 0) {
        sem_post(&u->entered);
        sem_wait(&u->release);
    }
}

static void a_full_input_queue_says_full_and_undelivered_datums_reach_the_callback(void **state) {
    (void)state;
    start(1);
    und_t u = {0};
    sem_init(&u.entered, 0, 0);
    sem_init(&u.release, 0, 0);
    mk_producer_config_t pc = {.online_when = MK_WHEN_MIN(0), .buffer_size = 8, .undelivered = on_undelivered,
                               .undelivered_ctx = &u};
    mk_error_t e;
    mk_producer_t *p = mk_producer_open(nets[0], "t.full", &pc, &e);
    assert_true(mk_producer_is_online(p));
    assert_int_equal(mk_producer_try_send(p, "d0", 2, &e), MK_OK);
    sem_wait(&u.entered);  /* the loop is held inside the callback */
    for (int i = 1; i <= 8; i++) {
        char d[16];
        snprintf(d, sizeof d, "d%d", i);
        assert_int_equal(mk_producer_try_send(p, d, strlen(d), &e), MK_OK);
    }
    assert_int_equal(mk_producer_try_send(p, "d9", 2, &e), MK_EFULL);
    struct pollfd pf = {.fd = mk_producer_fd(p), .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 0), 0);  /* not ready while full */
    sem_post(&u.release);
    assert_int_equal(mk_producer_send(p, "d9", 2, mkt_ms(2000), &e), MK_OK);
    MKT_WAIT_UNTIL(u.count == 10, 2);
    for (int i = 0; i < 10; i++) {
        char d[16];
        snprintf(d, sizeof d, "d%d", i);
        assert_string_equal(u.seen[i], d);
    }
    mk_producer_stats_t st;
    mk_producer_stats(p, &st);
    assert_int_equal(st.undelivered, 10);
    mk_producer_free(p);
}

/* ---- callback mode, fd, reconnect ---- */

static _Atomic int cb_count;
static void on_datum(void *ctx, const mk_datum_t *d) {
    (void)ctx;
    (void)d;
    cb_count++;
}

static void callback_mode_and_the_readiness_fd(void **state) {
    (void)state;
    start(2);
    mk_error_t e;
    mk_producer_t *p = mk_producer_open(nets[0], "t.fd", NULL, &e);
    mk_consumer_config_t cb = {.on_datum = on_datum};
    mk_consumer_t *c1 = mk_consumer_open(nets[1], "t.fd", &cb, &e), *c2 = mk_consumer_open(nets[1], "t.fd", NULL, &e);
    assert_int_equal(mk_producer_wait(p, MK_WHEN_MIN(2), mkt_ms(3000), &e), MK_OK);
    struct pollfd pf = {.fd = mk_consumer_fd(c2), .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 0), 0);
    for (int i = 0; i < 5; i++) assert_int_equal(mk_producer_send(p, "x", 1, mkt_ms(1000), &e), MK_OK);
    MKT_WAIT_UNTIL(cb_count == 5, 2);
    mk_datum_t d = MK_DATUM_INIT;
    assert_int_equal(mk_consumer_try_recv(c1, &d), MK_EINVAL);  /* callback mode */
    assert_int_equal(poll(&pf, 1, mkt_ms(2000)), 1);
    for (int i = 0; i < 5; i++) {
        while (mk_consumer_try_recv(c2, &d) == MK_EAGAIN) poll(&pf, 1, mkt_ms(1000));
        mk_datum_t copy;
        assert_int_equal(mk_datum_dup(&d, &copy), MK_OK);
        mk_datum_free(&d);
        assert_int_equal(copy.len, 1);
        mk_datum_free(&copy);
    }
    assert_int_equal(mk_consumer_try_recv(c2, &d), MK_EAGAIN);
    assert_int_equal(poll(&pf, 1, 0), 0);
    mk_consumer_free(c1);
    mk_consumer_free(c2);
    mk_producer_free(p);
}

/* ---- RTT ---- */

static bool rtt_below(void *ctx, const mk_peer_info_t *p) { return mk_peer_info_rtt_below(p, (uint64_t)(uintptr_t)ctx); }

static void rtt_predicates_on_both_sides(void **state) {
    (void)state;
    start(2);
    mk_error_t e;
    /* producer side: 5 s admits, 1 µs refuses */
    mk_producer_config_t ok = {.require = {MK_PRED_CTX(rtt_below, (void *)(uintptr_t)5000000)}};
    mk_producer_config_t tight = {.require = {MK_PRED_CTX(rtt_below, (void *)(uintptr_t)1)}};
    mk_producer_t *p1 = mk_producer_open(nets[0], "t.rtt.ok", &ok, &e), *p2 = mk_producer_open(nets[0], "t.rtt.tight", &tight, &e);
    mk_consumer_t *c1 = mk_consumer_open(nets[1], "t.rtt.ok", NULL, &e), *c2 = mk_consumer_open(nets[1], "t.rtt.tight", NULL, &e);
    assert_int_equal(mk_consumer_wait(c1, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_send(p1, "x", 1, mkt_ms(1000), &e), MK_OK);
    mk_datum_t d = MK_DATUM_INIT;
    assert_int_equal(mk_consumer_recv(c1, &d, mkt_ms(2000), &e), MK_OK);
    mk_datum_free(&d);
    assert_int_equal(mk_consumer_wait(c2, MK_WHEN_SUBSCRIBED, mkt_ms(1000), &e), MK_ETIMEDOUT);
    mk_producer_stats_t st;
    mk_producer_stats(p2, &st);
    assert_true(st.refused >= 1);
    /* consumer side: a probe gives a sample first; 5 s subscribes, 1 µs never does */
    mk_producer_t *p3 = mk_producer_open(nets[0], "t.rtt.c", NULL, &e);
    mk_consumer_config_t cok = {.require = {MK_PRED_CTX(rtt_below, (void *)(uintptr_t)5000000)}};
    mk_consumer_config_t ctight = {.require = {MK_PRED_CTX(rtt_below, (void *)(uintptr_t)1)}};
    mk_consumer_t *c3 = mk_consumer_open(nets[1], "t.rtt.c", &cok, &e), *c4 = mk_consumer_open(nets[1], "t.rtt.c", &ctight, &e);
    assert_int_equal(mk_consumer_wait(c3, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_consumer_wait(c4, MK_WHEN_SUBSCRIBED, mkt_ms(1000), &e), MK_ETIMEDOUT);
    assert_true(mk_producer_check(p3, MK_WHEN_MIN(1)) && !mk_producer_check(p3, MK_WHEN_MIN(2)));
    mk_consumer_free(c1);
    mk_consumer_free(c2);
    mk_consumer_free(c3);
    mk_consumer_free(c4);
    mk_producer_free(p1);
    mk_producer_free(p2);
    mk_producer_free(p3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(require_predicates_gate_both_sides, teardown),
        cmocka_unit_test_teardown(tickets_admit_and_expire, teardown),
        cmocka_unit_test_teardown(tickets_on_the_consumer_side_two_validators_and_renewal, teardown),
        cmocka_unit_test_teardown(a_jwt_ticket_admits_and_its_expiry_closes_the_channel, teardown),
        cmocka_unit_test_teardown(a_full_input_queue_says_full_and_undelivered_datums_reach_the_callback, teardown),
        cmocka_unit_test_teardown(callback_mode_and_the_readiness_fd, teardown),
        cmocka_unit_test_teardown(rtt_predicates_on_both_sides, teardown),
    };
    return mkt_run("integration.streams.rules", tests, sizeof tests / sizeof tests[0]);
}
