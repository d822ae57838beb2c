/* unit/streams/test_wire.c — the sans-I/O parts of streams (spec 30 §4–§7, §10.16, §10.22): the §6
 * golden vectors both ways and every refused form, the acceptor's ordered checks and both channels'
 * frame rules, the seeded
 * backoff sequence and its limits, the condition evaluator and interval latch, and the human-readable
 * statistics. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/network.h"
#include "streams/accept.h"
#include "streams/backoff.h"
#include "streams/chan_c.h"
#include "streams/cond.h"
#include "streams/wire.h"

#include <string.h>

static mk_id_t N, S;

static int setup(void **state) {
    (void)state;
    for (int i = 0; i < 32; i++) {
        N.b[i] = (uint8_t)i;
        S.b[i] = (uint8_t)(0x20 + i);
    }
    return 0;
}

static void golden_vectors_encode_and_decode_exactly(void **state) {
    (void)state;
    uint8_t want[70];
    mk_buf_t b = MK_BUF_INIT;
    /* Subscribe: 00 N S 00 (66 bytes) */
    assert_int_equal(mk_smsg_encode_subscribe(&N, &S, 0, &b), MK_OK);
    want[0] = 0;
    memcpy(want + 1, N.b, 32);
    memcpy(want + 33, S.b, 32);
    want[65] = 0;
    assert_int_equal(b.len, 0x42);
    assert_memory_equal(b.ptr, want, 66);
    mk_smsg_t m;
    assert_int_equal(mk_smsg_decode(b.ptr, b.len, &m, NULL), MK_OK);
    assert_int_equal(m.kind, MK_SMSG_SUBSCRIBE);
    assert_true(mk_id_eq(&m.network, &N) && mk_id_eq(&m.stream, &S));
    mk_buf_free(&b);
    /* Accepted: 01 N S (65 bytes) */
    assert_int_equal(mk_smsg_encode_accepted(&N, &S, &b), MK_OK);
    want[0] = 1;
    assert_int_equal(b.len, 0x41);
    assert_memory_equal(b.ptr, want, 65);
    assert_int_equal(mk_smsg_decode(b.ptr, b.len, &m, NULL), MK_OK);
    assert_int_equal(m.kind, MK_SMSG_ACCEPTED);
    mk_buf_free(&b);
    /* Datum("test"): 02 74657374 */
    assert_int_equal(mk_smsg_decode("\x02test", 5, &m, NULL), MK_OK);
    assert_int_equal(m.kind, MK_SMSG_DATUM);
    assert_int_equal(m.datum.len, 4);
    assert_memory_equal(m.datum.ptr, "test", 4);
    assert_int_equal(mk_smsg_decode("\x02", 1, &m, NULL), MK_OK);  /* the empty datum */
    assert_int_equal(m.datum.len, 0);
    /* Dropped{300}: 03 ac02 */
    assert_int_equal(mk_smsg_encode_dropped(300, &b), MK_OK);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.ptr, "\x03\xac\x02", 3);
    assert_int_equal(mk_smsg_decode(b.ptr, b.len, &m, NULL), MK_OK);
    assert_int_equal(m.dropped, 300);
    mk_buf_free(&b);
}

static void bad_messages_are_refused(void **state) {
    (void)state;
    mk_smsg_t m;
    mk_error_t e;
    mk_buf_t b = MK_BUF_INIT;
    mk_smsg_encode_subscribe(&N, &S, 0, &b);
    assert_int_equal(mk_smsg_decode(b.ptr, b.len - 1, &m, &e), MK_EPROTO);  /* short */
    uint8_t longer[80];
    memcpy(longer, b.ptr, b.len);
    longer[b.len] = 0;
    assert_int_equal(mk_smsg_decode(longer, b.len + 1, &m, &e), MK_EPROTO);  /* trailing byte */
    assert_non_null(strstr(e.msg, "trailing"));
    longer[65] = 1;  /* unknown criteria tag */
    assert_int_equal(mk_smsg_decode(longer, 66, &m, &e), MK_EPROTO);
    assert_non_null(strstr(e.msg, "criteria"));
    mk_buf_free(&b);
    for (uint8_t tag = 4; tag < 16; tag++)
        assert_int_equal(mk_smsg_decode(&tag, 1, &m, &e), MK_EPROTO);  /* reserved */
    uint8_t big = 16;
    assert_int_equal(mk_smsg_decode(&big, 1, &m, &e), MK_EPROTO);
    assert_int_equal(mk_smsg_decode("", 0, &m, &e), MK_EPROTO);
    assert_int_equal(mk_smsg_decode("\x03\x00", 2, &m, &e), MK_EPROTO);  /* Dropped 0 */
    assert_int_equal(mk_smsg_decode("\x03\x80\x00", 3, &m, &e), MK_EPROTO);  /* non-minimal varint */
}

static void backoff_follows_its_table_for_a_seed(void **state) {
    (void)state;
    mk_backoff_params_t p = {.initial_ms = 500, .max_interval_ms = 60000, .max_elapsed_ms = 300000,
                             .multiplier = 1.5, .randomization = 0.5};
    assert_int_equal(mk_backoff_check(&p, NULL), MK_OK);
    mk_backoff_state_t s = {0};
    uint64_t rng = 42;
    int64_t now = 1000, d;
    /* the first attempt of a streak is immediate; then 500 × 1.5ⁿ ± 50 %, capped at 60 s */
    assert_int_equal(mk_backoff_next(&s, &p, now, &rng), 0);
    double base = 500;
    for (int i = 0; i < 20; i++) {
        d = mk_backoff_next(&s, &p, now, &rng);
        double cap = base > 60000 ? 60000 : base;
        assert_true(d >= (int64_t)(cap * 0.5) - 1 && d <= (int64_t)(cap * 1.5) + 1);
        base *= 1.5;
    }
    /* the same seed gives the same sequence */
    mk_backoff_state_t s1 = {0}, s2 = {0};
    uint64_t r1 = 7, r2 = 7;
    for (int i = 0; i < 10; i++) assert_int_equal(mk_backoff_next(&s1, &p, now, &r1), mk_backoff_next(&s2, &p, now, &r2));
    /* no jitter: exactly the table */
    mk_backoff_params_t exact = p;
    exact.randomization = 0;
    mk_backoff_state_t x = {0};
    int64_t table[] = {0, 500, 750, 1125, 1687, 2531};
    for (size_t i = 0; i < 6; i++) assert_int_equal(mk_backoff_next(&x, &exact, now, &rng), table[i]);
    /* give up max_elapsed after the streak began; a success starts over */
    assert_int_equal(mk_backoff_next(&x, &exact, now + 300000, &rng), -1);
    mk_backoff_reset(&x);
    assert_int_equal(mk_backoff_next(&x, &exact, now + 300000, &rng), 0);
    exact.max_elapsed_ms = 0;  /* never give up */
    assert_true(mk_backoff_next(&x, &exact, now + 10000000, &rng) > 0);
    /* bad parameters */
    mk_error_t e;
    mk_backoff_params_t bad = p;
    bad.initial_ms = 0;
    assert_int_equal(mk_backoff_check(&bad, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "initial_ms"));
    bad = p;
    bad.multiplier = 0.9;
    assert_int_equal(mk_backoff_check(&bad, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "multiplier"));
}

static bool even_rtt(void *ctx, const mk_peer_info_t *p) {
    (void)ctx;
    return p->rtt_us % 2 == 0;
}

static void conditions_count_and_latch_intervals(void **state) {
    (void)state;
    mk_peer_info_t peers[3];
    memset(peers, 0, sizeof peers);
    for (int i = 0; i < 3; i++) peers[i].rtt_us = i;  /* no entries: no tags */
    assert_true(mk_when_eval(MK_WHEN_MIN(3), peers, 3));
    assert_false(mk_when_eval(MK_WHEN_MIN(4), peers, 3));
    assert_true(mk_when_eval(MK_WHEN_UNSUBSCRIBED, peers, 0));
    assert_false(mk_when_eval(MK_WHEN_UNSUBSCRIBED, peers, 1));
    assert_false(mk_when_eval(MK_WHEN_TAGS(1, "t"), peers, 3));
    assert_true(mk_when_eval(MK_WHEN_TAGS(0, "t"), peers, 3));
    mk_when_t w = {.min_peers = 2, .pred = MK_PRED(even_rtt)};  /* rtt 0 and 2 */
    assert_true(mk_when_eval(&w, peers, 3));
    w.min_peers = 3;
    assert_false(mk_when_eval(&w, peers, 3));
    assert_true(mk_when_eval(NULL, peers, 0));
    /* latch: every interval reported once; one that ends unreported is forgotten */
    mk_cond_latch_t l;
    mk_latch_init(&l, true);
    assert_true(mk_latch_pending(&l));
    assert_true(mk_latch_take(&l));
    assert_false(mk_latch_take(&l));
    assert_false(mk_latch_update(&l, true));   /* same interval */
    assert_false(mk_latch_pending(&l));
    mk_latch_update(&l, false);
    assert_true(mk_latch_update(&l, true));    /* a new one */
    mk_latch_update(&l, false);                /* ends unreported */
    assert_false(mk_latch_take(&l));
    mk_latch_init(&l, false);
    assert_false(mk_latch_pending(&l));
    assert_true(mk_latch_update(&l, true));
    assert_true(mk_latch_take(&l));
    assert_int_equal(l.intervals, 1);
}

static void statistics_read_like_the_rust_crate(void **state) {
    (void)state;
    char buf[200];
    mk_stream_stats_t s = {.datums = 15432, .bytes = 1234567, .uptime_ms = 150000, .connected_at_ms = 1};
    mk_stream_stats_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "uptime: 2m 30s, datums: 15432, bytes: 1.23 MB");
    mk_stream_stats_t none = {0};
    mk_stream_stats_format(&none, buf, sizeof buf);
    assert_string_equal(buf, "uptime: N/A, datums: 0, bytes: 0 B");
    struct { uint64_t up, bytes; const char *want; } cases[] = {
        {850, 999, "uptime: 850ms, datums: 0, bytes: 999 B"},
        {3605000, 1000, "uptime: 1h 5s, datums: 0, bytes: 1 kB"},
        {90061000, 12500, "uptime: 1d 1h 1m 1s, datums: 0, bytes: 12.5 kB"},
        {1000, 999999, "uptime: 1s, datums: 0, bytes: 1 MB"},
        {1000, 5000000000000ull, "uptime: 1s, datums: 0, bytes: 5 TB"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mk_stream_stats_t c = {.uptime_ms = cases[i].up, .bytes = cases[i].bytes, .connected_at_ms = 1};
        mk_stream_stats_format(&c, buf, sizeof buf);
        assert_string_equal(buf, cases[i].want);
    }
    /* snprintf's contract: the needed length even when it does not fit */
    assert_int_equal(mk_stream_stats_format(&s, buf, 4), (int)strlen("uptime: 2m 30s, datums: 15432, bytes: 1.23 MB"));
    mk_channel_info_t ch = {.stream_id = mk_stream_id("s"), .producer_id = N, .consumer_id = S,
                            .state = MK_CHANNEL_CONNECTED, .stats = s};
    mk_channel_info_format(&ch, buf, sizeof buf);
    assert_non_null(strstr(buf, " Connected: uptime: 2m 30s"));
    assert_int_equal(strncmp(buf, "stream ", 7), 0);
    assert_string_equal(mk_channel_state_str(MK_CHANNEL_TERMINATED), "Terminated");
    mk_id_t a = mk_stream_id("named.stream"), b = mk_id_from_str("named.stream");
    assert_true(mk_id_eq(&a, &b));
    assert_true(mk_criteria_matches(&(mk_criteria_t){MK_CRITERIA_ALL}, "x", 1));
}

static void feed(mk_chan_c_t *c, const mk_buf_t *b, mk_chan_c_action_t *a) { mk_chan_c_frame(c, b->ptr, b->len, a); }

static void the_consumer_channel_follows_the_frame_rules(void **state) {
    (void)state;
    mk_buf_t acc = MK_BUF_INIT, sub = MK_BUF_INIT, other_net = MK_BUF_INIT, other_stream = MK_BUF_INIT, drop = MK_BUF_INIT;
    assert_int_equal(mk_smsg_encode_accepted(&N, &S, &acc), MK_OK);
    assert_int_equal(mk_smsg_encode_subscribe(&N, &S, 0, &sub), MK_OK);
    assert_int_equal(mk_smsg_encode_accepted(&S, &S, &other_net), MK_OK);
    assert_int_equal(mk_smsg_encode_accepted(&N, &N, &other_stream), MK_OK);
    assert_int_equal(mk_smsg_encode_dropped(7, &drop), MK_OK);
    const uint8_t datum[] = {MK_SMSG_DATUM_HEADER, 'h', 'i'};
    mk_chan_c_t c;
    mk_chan_c_action_t a;
    /* a datum before Accepted → 400, then nothing more happens */
    mk_chan_c_init(&c, &N, &S);
    mk_chan_c_frame(&c, datum, sizeof datum, &a);
    assert_int_equal(a.kind, MK_CHAN_C_CLOSE);
    assert_int_equal(a.close_code, MK_CLOSE_PROTOCOL_VIOLATION);
    feed(&c, &acc, &a);
    assert_int_equal(a.kind, MK_CHAN_C_NONE);
    /* Accepted for another network → 101; for another stream → 10_404 */
    mk_chan_c_init(&c, &N, &S);
    feed(&c, &other_net, &a);
    assert_int_equal(a.close_code, MK_CLOSE_DIFFERENT_NETWORK);
    mk_chan_c_init(&c, &N, &S);
    feed(&c, &other_stream, &a);
    assert_int_equal(a.close_code, MK_CLOSE_STREAM_NOT_FOUND);
    /* the happy path: Accepted, datums, Dropped; then a second Accepted or a Subscribe → 400 */
    mk_chan_c_init(&c, &N, &S);
    feed(&c, &acc, &a);
    assert_int_equal(a.kind, MK_CHAN_C_ACCEPTED);
    mk_chan_c_frame(&c, datum, sizeof datum, &a);
    assert_int_equal(a.kind, MK_CHAN_C_DATUM);
    assert_int_equal(a.datum.len, 2);
    assert_memory_equal(a.datum.ptr, "hi", 2);
    mk_chan_c_frame(&c, datum, 1, &a);  /* an empty datum is a datum */
    assert_int_equal(a.kind, MK_CHAN_C_DATUM);
    assert_int_equal(a.datum.len, 0);
    feed(&c, &drop, &a);
    assert_int_equal(a.kind, MK_CHAN_C_DROPPED);
    assert_int_equal(a.dropped, 7);
    assert_int_equal(c.datums, 2);
    assert_int_equal(c.bytes, 2);
    assert_int_equal(c.dropped, 7);
    feed(&c, &sub, &a);
    assert_int_equal(a.kind, MK_CHAN_C_CLOSE);
    assert_int_equal(a.close_code, MK_CLOSE_PROTOCOL_VIOLATION);
    /* a malformed frame (reserved tag; trailing bytes after Dropped) → 400 */
    const uint8_t reserved[] = {9};
    mk_chan_c_init(&c, &N, &S);
    feed(&c, &acc, &a);
    mk_chan_c_frame(&c, reserved, sizeof reserved, &a);
    assert_int_equal(a.close_code, MK_CLOSE_PROTOCOL_VIOLATION);
    mk_buf_append(&drop, "x", 1);
    mk_chan_c_init(&c, &N, &S);
    feed(&c, &acc, &a);
    feed(&c, &drop, &a);
    assert_int_equal(a.close_code, MK_CLOSE_PROTOCOL_VIOLATION);
    mk_buf_free(&acc);
    mk_buf_free(&sub);
    mk_buf_free(&other_net);
    mk_buf_free(&other_stream);
    mk_buf_free(&drop);
}

/* a fake lookup: which checks pass, and which were asked */
typedef struct facts { bool stream, known, allowed, capacity; int asked; } facts_t;
static bool f_stream(void *ctx, const mk_id_t *s) { (void)s; facts_t *f = ctx; f->asked++; return f->stream; }
static bool f_known(void *ctx, const mk_id_t *s) { (void)s; facts_t *f = ctx; f->asked++; return f->known; }
static bool f_allowed(void *ctx, const mk_id_t *s, const char **why) {
    (void)s;
    facts_t *f = ctx;
    f->asked++;
    if (!f->allowed) *why = "refused by a require predicate";
    return f->allowed;
}
static bool f_capacity(void *ctx, const mk_id_t *s) { (void)s; facts_t *f = ctx; f->asked++; return f->capacity; }
static const mk_accept_ops_t FAKE = {f_stream, f_known, f_allowed, f_capacity};

static uint32_t decide(facts_t f, const mk_buf_t *frame, int *asked) {
    mk_chan_p_t c;
    mk_chan_p_init(&c);
    mk_chan_p_action_t a;
    mk_chan_p_frame(&c, &N, frame->ptr, frame->len, &FAKE, &f, &a);
    *asked = f.asked;
    return a.accepted ? 0 : a.close_code;
}

static void the_acceptor_checks_in_the_spec_order(void **state) {
    (void)state;
    mk_buf_t sub = MK_BUF_INIT, foreign = MK_BUF_INIT, acc = MK_BUF_INIT;
    assert_int_equal(mk_smsg_encode_subscribe(&N, &S, 0, &sub), MK_OK);
    assert_int_equal(mk_smsg_encode_subscribe(&S, &S, 0, &foreign), MK_OK);
    assert_int_equal(mk_smsg_encode_accepted(&N, &S, &acc), MK_OK);
    int asked;
    facts_t all = {true, true, true, true, 0};
    assert_int_equal(decide(all, &sub, &asked), 0);
    assert_int_equal(asked, 4);
    assert_int_equal(decide(all, &foreign, &asked), MK_CLOSE_DIFFERENT_NETWORK);
    assert_int_equal(asked, 0);
    assert_int_equal(decide(all, &acc, &asked), MK_CLOSE_PROTOCOL_VIOLATION);
    assert_int_equal(decide((facts_t){false, true, true, true, 0}, &sub, &asked), MK_CLOSE_STREAM_NOT_FOUND);
    assert_int_equal(asked, 1);
    assert_int_equal(decide((facts_t){true, false, false, false, 0}, &sub, &asked), MK_CLOSE_UNKNOWN_PEER);
    assert_int_equal(asked, 2);
    assert_int_equal(decide((facts_t){true, true, false, false, 0}, &sub, &asked), MK_CLOSE_STREAM_NOT_ALLOWED);
    assert_int_equal(asked, 3);
    assert_int_equal(decide((facts_t){true, true, true, false, 0}, &sub, &asked), MK_CLOSE_STREAM_NO_CAPACITY);
    /* unknown criteria tag → 400 before any lookup */
    mk_buf_t bad = MK_BUF_INIT;
    assert_int_equal(mk_smsg_encode_subscribe(&N, &S, 0, &bad), MK_OK);
    ((uint8_t *)bad.ptr)[bad.len - 1] = 7;
    assert_int_equal(decide(all, &bad, &asked), MK_CLOSE_PROTOCOL_VIOLATION);
    assert_int_equal(asked, 0);
    /* once accepted, any frame is a violation; once closed, nothing happens */
    mk_chan_p_t c;
    mk_chan_p_init(&c);
    mk_chan_p_action_t a;
    facts_t f = all;
    mk_chan_p_frame(&c, &N, sub.ptr, sub.len, &FAKE, &f, &a);
    assert_true(a.accepted && mk_id_eq(&a.stream, &S));
    mk_chan_p_frame(&c, &N, sub.ptr, sub.len, &FAKE, &f, &a);
    assert_int_equal(a.close_code, MK_CLOSE_PROTOCOL_VIOLATION);
    mk_chan_p_frame(&c, &N, sub.ptr, sub.len, &FAKE, &f, &a);
    assert_true(!a.accepted && a.close_code == 0);
    mk_buf_free(&sub);
    mk_buf_free(&foreign);
    mk_buf_free(&acc);
    mk_buf_free(&bad);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_vectors_encode_and_decode_exactly),
        cmocka_unit_test(bad_messages_are_refused),
        cmocka_unit_test(the_consumer_channel_follows_the_frame_rules),
        cmocka_unit_test(the_acceptor_checks_in_the_spec_order),
        cmocka_unit_test(backoff_follows_its_table_for_a_seed),
        cmocka_unit_test(conditions_count_and_latch_intervals),
        cmocka_unit_test(statistics_read_like_the_rust_crate),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
