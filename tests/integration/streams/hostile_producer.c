/* integration/streams/hostile_producer — a hostile producer against a real consumer on loopback (spec
 * 30 §3.2, §6; the consumer's frame rules in src/streams/chan_c.c). Through the test hook
 * mk_streams_test_inject a producer node writes raw frames on its accepted channel: a reserved or
 * out-of-range message tag, a Dropped that is truncated, empty, zero or followed by a trailing byte, a
 * second Accepted, a Subscribe, an empty payload. For each the consumer closes that channel with 400
 * (the producer receives the code), still delivers the valid datum sent just before the bad frame,
 * counts the close on its node (mosaik_network_connections_closed), parks the producer (its next
 * subscription is a new channel, not a reconnect), and a well-behaved second producer of the same
 * stream keeps delivering to the same consumer on its untouched channel — also while it streams and
 * the hostile one keeps misbehaving. Well-formed injected Datum and Dropped frames are the control:
 * the consumer takes them. This file owns these tests only; the hook is in src/streams/runtime.c. */
#include "support/mkt_disc.h"

#include "mosaik/streams.h"
#include "streams/streams.h"
#include "streams/wire.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM "t.hostile"
#define PARK_MS 300

/* nets[0] consumes (victim), nets[1] is the hostile producer, nets[2] the well-behaved one */
enum { VICTIM, HOSTILE, GOOD, N };
static mk_network_t *nets[N];
static char boot[MK_ADDR_STR_MAX];

/* The victim parks a refusing producer for PARK_MS only and runs its periodic pass on every tick, so the
 * hostile producer gets a new channel soon after each refusal (whatever the announce timing). */
static void victim_timings(mk_network_config_t *cfg) {
    cfg->streams.park_ms = PARK_MS;
    cfg->streams.reeval_interval_ms = 200;
}

static void start(void) {
    nets[VICTIM] = mkt_disc_node(NULL, victim_timings);
    mkt_disc_addr(nets[VICTIM], boot, sizeof boot);
    nets[HOSTILE] = mkt_disc_node(boot, NULL);
    nets[GOOD] = mkt_disc_node(boot, NULL);
    mkt_disc_wait_complete(nets, N, 5);
}

/* ---- channel events (on_channel runs on the loop threads) ---- */

typedef struct chan_ev {
    uint64_t channel_id;
    mk_peer_id_t peer;  /* the other end */
    mk_channel_state_t state;
    uint32_t last_close;
} chan_ev_t;

typedef struct recorder {
    pthread_mutex_t mu;
    bool producer_side;
    size_t n;
    chan_ev_t ev[1024];
} recorder_t;

static recorder_t victim_rec = {.mu = PTHREAD_MUTEX_INITIALIZER};
static recorder_t hostile_rec = {.mu = PTHREAD_MUTEX_INITIALIZER, .producer_side = true};

static void record(void *ctx, const mk_channel_info_t *ch) {
    recorder_t *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->n < sizeof r->ev / sizeof r->ev[0])
        r->ev[r->n++] = (chan_ev_t){.channel_id = ch->channel_id,
                                    .peer = r->producer_side ? ch->consumer_id : ch->producer_id,
                                    .state = ch->state,
                                    .last_close = ch->stats.last_close};
    pthread_mutex_unlock(&r->mu);
}

static void recorder_reset(recorder_t *r) {
    pthread_mutex_lock(&r->mu);
    r->n = 0;
    pthread_mutex_unlock(&r->mu);
}

static size_t recorder_mark(recorder_t *r) {
    pthread_mutex_lock(&r->mu);
    size_t n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* The first event at index ≥ from about peer in state st (any peer when peer is NULL). */
static bool find_ev(recorder_t *r, size_t from, const mk_peer_id_t *peer, mk_channel_state_t st, chan_ev_t *out) {
    bool found = false;
    pthread_mutex_lock(&r->mu);
    for (size_t i = from; i < r->n && !found; i++)
        if (r->ev[i].state == st && (!peer || mk_id_eq(&r->ev[i].peer, peer))) {
            if (out) *out = r->ev[i];
            found = true;
        }
    pthread_mutex_unlock(&r->mu);
    return found;
}

static size_t count_ev(recorder_t *r, const mk_peer_id_t *peer, mk_channel_state_t st) {
    size_t k = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) k += r->ev[i].state == st && mk_id_eq(&r->ev[i].peer, peer);
    pthread_mutex_unlock(&r->mu);
    return k;
}

/* ---- snapshots and metrics ---- */

/* The consumer's channel to producer (any state) from a snapshot; false when it has none. */
static bool chan_to(mk_consumer_t *c, const mk_peer_id_t *producer, mk_channel_info_t *out) {
    mk_channel_info_t *v = NULL;
    size_t n = 0;
    mk_error_t e;
    if (mk_consumer_producers(c, &v, &n, &e) != MK_OK) fail_msg("mk_consumer_producers: %s", e.msg);
    bool found = false;
    for (size_t i = 0; i < n && !found; i++)
        if (mk_id_eq(&v[i].producer_id, producer)) {
            *out = v[i];
            out->peer = NULL;  /* owned by the array */
            found = true;
        }
    mk_channel_info_free(v, n);
    return found;
}

/* A Connected channel to producer other than channel `not_id` (0 = any): its id, else 0. */
static uint64_t connected_chan(mk_consumer_t *c, const mk_peer_id_t *producer, uint64_t not_id) {
    mk_channel_info_t ch;
    return chan_to(c, producer, &ch) && ch.state == MK_CHANNEL_CONNECTED && ch.channel_id != not_id ? ch.channel_id : 0;
}

/* The producer's Connected channels. */
static size_t producer_connected(mk_producer_t *p) {
    mk_channel_info_t *v = NULL;
    size_t n = 0, k = 0;
    mk_error_t e;
    if (mk_producer_consumers(p, &v, &n, &e) != MK_OK) fail_msg("mk_producer_consumers: %s", e.msg);
    for (size_t i = 0; i < n; i++) k += v[i].state == MK_CHANNEL_CONNECTED;
    mk_channel_info_free(v, n);
    return k;
}

/* mosaik_network_connections_closed on stream links with this code, closed by "local" or "remote". */
static double streams_closed(mk_network_t *n, uint32_t code, const char *by) {
    char labels[96];
    snprintf(labels, sizeof labels, "alpn=\"" MK_STREAMS_ALPN "\",code=\"%u\",by=\"%s\"", code, by);
    return mkt_metric(n, "mosaik_network_connections_closed", labels);
}

/* The consumer-side protocol-error counter of node n (all streams). */
static double protocol_errors(mk_network_t *n) { return mkt_metric(n, "mosaik_streams_consumer_protocol_errors", NULL); }

/* ---- datums ---- */

static void expect_datum(mk_consumer_t *c, const mk_peer_id_t *from, const char *want) {
    mk_datum_t d = MK_DATUM_INIT;
    mk_error_t e;
    if (mk_consumer_recv(c, &d, mkt_ms(3000), &e) != MK_OK) fail_msg("waiting for \"%s\": %s", want, e.msg);
    if (d.len != strlen(want) || memcmp(d.data, want, d.len) != 0)
        fail_msg("expected \"%s\", got %zu bytes \"%.*s\"", want, d.len, (int)d.len, (const char *)d.data);
    assert_true(mk_id_eq(&d.producer, from));
    mk_datum_free(&d);
}

/* ---- the payloads ---- */

typedef struct bad_frame {
    const char *what;
    uint8_t bytes[80];
    size_t len;
} bad_frame_t;

/* The frames of spec 30 §6 the consumer must refuse once Accepted (filled by bad_frames()). */
static size_t bad_frames(bad_frame_t *out, size_t cap) {
    mk_id_t nid = mkt_network_id(), sid = mk_stream_id(STREAM);
    static const bad_frame_t fixed[] = {
        {"reserved message tag 4", {0x04}, 1},
        {"reserved message tag 15 with a body", {0x0f, 0x01, 0x02}, 3},
        {"message tag out of range (0x7f)", {0x7f}, 1},
        {"Dropped without its count", {0x03}, 1},
        {"Dropped with a truncated varint", {0x03, 0xac}, 2},
        {"Dropped{0}", {0x03, 0x00}, 2},
        {"Dropped{300} with a trailing byte", {0x03, 0xac, 0x02, 0x00}, 4},
        {"empty payload", {0}, 0},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] && n < cap; i++) out[n++] = fixed[i];
    /* a second, otherwise valid Accepted; a Subscribe, which only a consumer sends */
    mk_buf_t acc = MK_BUF_INIT, sub = MK_BUF_INIT;
    assert_int_equal(mk_smsg_encode_accepted(&nid, &sid, &acc), MK_OK);
    assert_int_equal(mk_smsg_encode_subscribe(&nid, &sid, MK_CRITERIA_TAG_ALL, &sub), MK_OK);
    const struct { const char *what; mk_buf_t *b; } enc[] = {{"a second Accepted", &acc},
                                                           {"a Subscribe to the consumer", &sub}};
    for (size_t i = 0; i < 2 && n < cap; i++) {
        assert_true(enc[i].b->len <= sizeof out[n].bytes);
        out[n] = (bad_frame_t){.what = enc[i].what, .len = enc[i].b->len};
        memcpy(out[n++].bytes, enc[i].b->ptr, enc[i].b->len);
    }
    mk_buf_free(&acc);
    mk_buf_free(&sub);
    return n;
}

/* ---- the scene shared by the tests (static, so that teardown can clean up after a failure) ---- */

typedef struct streamer {  /* the good producer sending "seq-<n>" */
    mk_producer_t *p;
    _Atomic bool stop;
    _Atomic int sent;
    int rc;
} streamer_t;

typedef struct drainer {  /* the consumer's receiver, checking order and origin */
    mk_consumer_t *c;
    mk_peer_id_t good;
    _Atomic bool stop;
    _Atomic int received;  /* in order from the good producer */
    char error[160];
} drainer_t;

static struct scene {
    mk_producer_t *hostile, *good;
    mk_consumer_t *c;
    mk_peer_id_t hid, gid, vid;
    mk_id_t sid;
    uint64_t good_sent;  /* datums the good producer sent in test 1 */
    bool threads;
    pthread_t ts, td;
    streamer_t streamer;
    drainer_t drainer;
} S;

static void scene_open(void) {
    memset(&S, 0, sizeof S);
    recorder_reset(&victim_rec);
    recorder_reset(&hostile_rec);
    start();
    mk_error_t e;
    S.sid = mk_stream_id(STREAM);
    S.hid = mk_network_peer_id(nets[HOSTILE]);
    S.gid = mk_network_peer_id(nets[GOOD]);
    S.vid = mk_network_peer_id(nets[VICTIM]);
    mk_producer_config_t hc = {.on_channel = record, .on_channel_ctx = &hostile_rec};
    S.hostile = mk_producer_open(nets[HOSTILE], STREAM, &hc, &e);
    assert_non_null(S.hostile);
    S.good = mk_producer_open(nets[GOOD], STREAM, NULL, &e);
    assert_non_null(S.good);
    mk_consumer_config_t cc = {.on_channel = record, .on_channel_ctx = &victim_rec};
    S.c = mk_consumer_open(nets[VICTIM], STREAM, &cc, &e);
    assert_non_null(S.c);
    assert_int_equal(mk_consumer_wait(S.c, MK_WHEN_MIN(2), mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_wait(S.hostile, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
    assert_int_equal(mk_producer_wait(S.good, MK_WHEN_SUBSCRIBED, mkt_ms(3000), &e), MK_OK);
}

static void stop_threads(void) {
    if (!S.threads) return;
    S.streamer.stop = true;
    pthread_join(S.ts, NULL);
    S.drainer.stop = true;
    pthread_join(S.td, NULL);
    S.threads = false;
}

static int teardown(void **state) {
    (void)state;
    stop_threads();
    mk_consumer_free(S.c);
    mk_producer_free(S.hostile);
    mk_producer_free(S.good);
    memset(&S, 0, sizeof S);
    mkt_disc_free_all(nets, N);
    return 0;
}

/* Waits for a Connected channel from the victim to the hostile producer other than `old` (0 = any)
 * that the hostile side also holds as its only Connected one; returns its (consumer-side) id. */
static uint64_t await_hostile_channel(uint64_t old) {
    MKT_WAIT_UNTIL(connected_chan(S.c, &S.hid, old) != 0 && producer_connected(S.hostile) == 1, 5);
    return connected_chan(S.c, &S.hid, old);
}

/* The good producer sends `text`; returns once the consumer has queued it (not received yet). */
static void good_send_queued(const char *text) {
    mk_error_t e;
    if (mk_producer_send(S.good, text, strlen(text), mkt_ms(2000), &e) != MK_OK) fail_msg("send %s: %s", text, e.msg);
    S.good_sent++;
    mk_channel_info_t ch;
    MKT_WAIT_UNTIL(chan_to(S.c, &S.gid, &ch) && ch.stats.datums == S.good_sent, 3);
}

/* The good producer's channel on the consumer is the same one, Connected and never reconnected. */
static void good_channel_untouched(uint64_t good_chan) {
    mk_channel_info_t ch;
    assert_true(chan_to(S.c, &S.gid, &ch));
    assert_int_equal(ch.state, MK_CHANNEL_CONNECTED);
    assert_int_equal(ch.channel_id, good_chan);
    assert_int_equal(ch.stats.reconnects, 0);
    assert_int_equal(ch.stats.dropped, 0);
    assert_int_equal(count_ev(&victim_rec, &S.gid, MK_CHANNEL_TERMINATED), 0);
}

/* Injects one malformed payload on the hostile producer's channel (consumer-side id `chan`) and checks
 * the consumer's reaction: 400 on the wire, the close counted, the channel Terminated. */
static void inject_and_expect_400(const bad_frame_t *bf, uint64_t chan) {
    size_t hmark = recorder_mark(&hostile_rec), vmark = recorder_mark(&victim_rec);
    double local0 = streams_closed(nets[VICTIM], MK_CLOSE_PROTOCOL_VIOLATION, "local");
    double remote0 = streams_closed(nets[HOSTILE], MK_CLOSE_PROTOCOL_VIOLATION, "remote");
    double errors0 = protocol_errors(nets[VICTIM]);
    int written = mk_streams_test_inject(nets[HOSTILE], &S.sid, bf->bytes, bf->len);
    if (written != 1) fail_msg("%s: inject wrote %d links, expected 1", bf->what, written);
    /* the hostile producer's channel ends with the consumer's 400 */
    chan_ev_t pe;
    MKT_WAIT_UNTIL(find_ev(&hostile_rec, hmark, &S.vid, MK_CHANNEL_TERMINATED, &pe), 3);
    if (pe.last_close != MK_CLOSE_PROTOCOL_VIOLATION)
        fail_msg("%s: the producer saw close %u, expected 400", bf->what, pe.last_close);
    /* the consumer's channel to it is Terminated (parked) */
    chan_ev_t ce;
    MKT_WAIT_UNTIL(find_ev(&victim_rec, vmark, &S.hid, MK_CHANNEL_TERMINATED, &ce), 3);
    assert_int_equal(ce.channel_id, chan);
    if (ce.last_close != MK_CLOSE_PROTOCOL_VIOLATION)
        fail_msg("%s: the consumer recorded close %u, expected the 400 it sent", bf->what, ce.last_close);
    if (protocol_errors(nets[VICTIM]) != errors0 + 1)
        fail_msg("%s: the consumer counted %.0f protocol errors", bf->what, protocol_errors(nets[VICTIM]) - errors0);
    /* the close is counted once on each node */
    MKT_WAIT_UNTIL(streams_closed(nets[VICTIM], MK_CLOSE_PROTOCOL_VIOLATION, "local") >= local0 + 1, 2);
    if (streams_closed(nets[VICTIM], MK_CLOSE_PROTOCOL_VIOLATION, "local") != local0 + 1)
        fail_msg("%s: the consumer's node counted %.0f closes 400", bf->what,
                 streams_closed(nets[VICTIM], MK_CLOSE_PROTOCOL_VIOLATION, "local") - local0);
    MKT_WAIT_UNTIL(streams_closed(nets[HOSTILE], MK_CLOSE_PROTOCOL_VIOLATION, "remote") == remote0 + 1, 2);
}

/* ---- tests ---- */

static void malformed_frames_close_the_channel_with_400(void **state) {
    (void)state;
    scene_open();
    uint64_t good_chan = connected_chan(S.c, &S.gid, 0);
    assert_true(good_chan != 0);
    uint64_t chan = await_hostile_channel(0);

    /* control: well-formed frames through the same hook are taken (the hook and the channel work) */
    static const uint8_t datum[] = "\x02injected";
    assert_int_equal(mk_streams_test_inject(nets[HOSTILE], &S.sid, datum, sizeof datum - 1), 1);
    expect_datum(S.c, &S.hid, "injected");
    static const uint8_t dropped[] = {0x03, 0xac, 0x02};  /* Dropped{300}, the §6 vector */
    assert_int_equal(mk_streams_test_inject(nets[HOSTILE], &S.sid, dropped, sizeof dropped), 1);
    mk_channel_info_t ch;
    MKT_WAIT_UNTIL(chan_to(S.c, &S.hid, &ch) && ch.stats.dropped == 300, 3);
    assert_int_equal(ch.state, MK_CHANNEL_CONNECTED);
    assert_int_equal(ch.channel_id, chan);
    assert_int_equal(ch.stats.datums, 1);

    bad_frame_t bad[16];
    size_t nbad = bad_frames(bad, 16);
    for (size_t i = 0; i < nbad; i++) {
        print_message("hostile frame: %s\n", bad[i].what);
        char before[32], after[32];
        snprintf(before, sizeof before, "before-%zu", i);
        snprintf(after, sizeof after, "after-%zu", i);
        good_send_queued(before);  /* waiting in the consumer's queue while the violation is handled */
        /* a valid datum right before the bad frame (often in the same read) is still delivered */
        uint8_t last[32] = {MK_SMSG_DATUM_HEADER};
        int nlast = snprintf((char *)last + 1, sizeof last - 1, "last-words-%zu", i);
        assert_int_equal(mk_streams_test_inject(nets[HOSTILE], &S.sid, last, 1 + (size_t)nlast), 1);
        inject_and_expect_400(&bad[i], chan);
        /* the good producer's datums survive and keep coming on its untouched channel */
        expect_datum(S.c, &S.gid, before);
        expect_datum(S.c, &S.hid, (const char *)last + 1);
        good_send_queued(after);
        expect_datum(S.c, &S.gid, after);
        good_channel_untouched(good_chan);
        /* 400 is terminal: the producer was parked, and after park_ms it gets a new channel (a retry
         * would reuse the channel and count a reconnect) */
        uint64_t next = await_hostile_channel(chan);
        assert_true(next != chan);
        assert_true(chan_to(S.c, &S.hid, &ch));
        assert_int_equal(ch.stats.reconnects, 0);
        chan = next;
    }
    /* nothing else came: no datum was invented from a bad frame */
    mk_datum_t d = MK_DATUM_INIT;
    assert_int_equal(mk_consumer_try_recv(S.c, &d), MK_EAGAIN);
    mk_stream_stats_t total;
    assert_int_equal(mk_consumer_stats(S.c, &total), MK_OK);
    assert_int_equal(total.datums, 1 + nbad + S.good_sent);
    /* the parked producer is not banned for good: once it behaves, its datums arrive */
    mk_error_t e;
    assert_int_equal(mk_producer_send(S.hostile, "reformed", 8, mkt_ms(2000), &e), MK_OK);
    expect_datum(S.c, &S.hid, "reformed");
}

/* ---- a good producer streams while the hostile one keeps misbehaving ---- */

static void *stream_datums(void *arg) {
    streamer_t *t = arg;
    while (!t->stop) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "seq-%d", (int)t->sent);
        mk_error_t e;
        t->rc = mk_producer_send(t->p, buf, (size_t)n, mkt_ms(2000), &e);
        if (t->rc != MK_OK) break;
        t->sent++;
        struct timespec ts = {0, 1000 * 1000};  /* pacing only: about 1000 datums per second */
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void *drain_datums(void *arg) {
    drainer_t *t = arg;
    while (!t->error[0]) {
        mk_datum_t d = MK_DATUM_INIT;
        int rc = mk_consumer_recv(t->c, &d, 100, NULL);
        if (rc == MK_ETIMEDOUT) {
            if (t->stop) break;
            continue;
        }
        if (rc != MK_OK) {
            snprintf(t->error, sizeof t->error, "recv: %d", rc);
            break;
        }
        char want[32];
        int n = snprintf(want, sizeof want, "seq-%d", (int)t->received);
        const char *got = (const char *)d.data;
        if (!mk_id_eq(&d.producer, &t->good))
            snprintf(t->error, sizeof t->error, "a datum from another producer: \"%.*s\"", (int)d.len, got);
        else if (d.len != (size_t)n || memcmp(d.data, want, d.len) != 0)
            snprintf(t->error, sizeof t->error, "expected \"%s\", got \"%.*s\"", want, (int)d.len, got);
        else
            t->received++;
        mk_datum_free(&d);
    }
    return NULL;
}

static void a_good_producer_keeps_streaming_through_the_violations(void **state) {
    (void)state;
    scene_open();
    uint64_t good_chan = connected_chan(S.c, &S.gid, 0);
    assert_true(good_chan != 0);
    S.streamer.p = S.good;
    S.drainer.c = S.c;
    S.drainer.good = S.gid;
    pthread_create(&S.td, NULL, drain_datums, &S.drainer);
    pthread_create(&S.ts, NULL, stream_datums, &S.streamer);
    S.threads = true;
    /* three violations in a row while datums flow, each on the hostile producer's next channel */
    bad_frame_t bad[16];
    size_t nbad = bad_frames(bad, 16);
    uint64_t chan = 0;
    for (size_t i = 0; i < 3; i++) {
        chan = await_hostile_channel(chan);
        inject_and_expect_400(&bad[(i * 3) % nbad], chan);
        int before = S.drainer.received;
        MKT_WAIT_UNTIL(S.drainer.received > before || S.drainer.error[0], 3);  /* the good datums keep coming */
        if (S.drainer.error[0]) fail_msg("after %d datums: %s", (int)S.drainer.received, S.drainer.error);
    }
    S.streamer.stop = true;
    pthread_join(S.ts, NULL);
    assert_int_equal(S.streamer.rc, MK_OK);
    int sent = S.streamer.sent;
    assert_true(sent > 0);
    MKT_WAIT_UNTIL(S.drainer.received == sent || S.drainer.error[0], 5);
    S.drainer.stop = true;
    pthread_join(S.td, NULL);
    S.threads = false;
    if (S.drainer.error[0]) fail_msg("after %d datums: %s", (int)S.drainer.received, S.drainer.error);
    assert_int_equal(S.drainer.received, sent);
    /* the good channel never dropped, reconnected or lost a datum */
    good_channel_untouched(good_chan);
    mk_channel_info_t ch;
    assert_true(chan_to(S.c, &S.gid, &ch));
    assert_int_equal(ch.stats.datums, (uint64_t)sent);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(malformed_frames_close_the_channel_with_400, teardown),
        cmocka_unit_test_teardown(a_good_producer_keeps_streaming_through_the_violations, teardown),
    };
    return mkt_run("integration.streams.hostile_producer", tests, sizeof tests / sizeof tests[0]);
}
