/* integration/net/exchange — two networks on loopback exchange 10,000 frames each way (random sizes
 * 0..64 KiB, each carrying a checksum): all arrive intact and in order; link counters agree on both
 * sides; then the same over 100 parallel links. */
#include "support/mkt.h"
#include "support/mkt_net.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ALPN "/test/echo"

typedef struct side {
    mk_link_t *link;
    uint64_t seed;
    int frames;
    size_t max_size;
    int sent, received, bad;
} side_t;

static size_t fill_frame(uint8_t *buf, uint64_t *state, int seq, size_t max_size) {
    uint64_t r = mkt_splitmix(state);
    size_t len = max_size ? (size_t)(r % (max_size + 1)) : 0;
    if (len < 8) len = 8;
    memcpy(buf, &seq, 4);
    for (size_t i = 8; i < len; i++) buf[i] = (uint8_t)(seq * 31 + (int)i);
    uint32_t sum = 0;
    for (size_t i = 8; i < len; i++) sum = sum * 16777619u ^ buf[i];
    memcpy(buf + 4, &sum, 4);
    return len;
}

static bool check_frame(const uint8_t *p, size_t len, int seq) {
    if (len < 8) return false;
    int got;
    memcpy(&got, p, 4);
    if (got != seq) return false;
    uint32_t sum = 0, want;
    for (size_t i = 8; i < len; i++) sum = sum * 16777619u ^ p[i];
    memcpy(&want, p + 4, 4);
    return sum == want;
}

static void *sender(void *arg) {
    side_t *s = arg;
    uint8_t *buf = malloc(s->max_size + 8);
    uint64_t st = s->seed;
    for (int i = 0; i < s->frames; i++) {
        size_t len = fill_frame(buf, &st, i, s->max_size);
        mk_error_t e;
        if (mk_link_send(s->link, buf, len, mkt_ms(10000), &e) != MK_OK) break;
        s->sent++;
    }
    free(buf);
    return NULL;
}

static void *receiver(void *arg) {
    side_t *s = arg;
    for (int i = 0; i < s->frames; i++) {
        mk_frame_t f = MK_FRAME_INIT;
        mk_error_t e;
        if (mk_link_recv(s->link, &f, mkt_ms(10000), &e) != MK_OK) break;
        if (!check_frame(f.data, f.len, i)) s->bad++;
        s->received++;
        mk_frame_free(&f);
    }
    return NULL;
}

static void exchange_both_ways(mk_link_t *a, mk_link_t *b, int frames, size_t max_size) {
    side_t sa = {a, mkt_seed() ^ 1, frames, max_size, 0, 0, 0};
    side_t sb = {b, mkt_seed() ^ 2, frames, max_size, 0, 0, 0};
    side_t ra = {a, 0, frames, max_size, 0, 0, 0}, rb = {b, 0, frames, max_size, 0, 0, 0};
    pthread_t t[4];
    pthread_create(&t[0], NULL, sender, &sa);
    pthread_create(&t[1], NULL, sender, &sb);
    pthread_create(&t[2], NULL, receiver, &ra);
    pthread_create(&t[3], NULL, receiver, &rb);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    assert_int_equal(sa.sent, frames);
    assert_int_equal(sb.sent, frames);
    assert_int_equal(ra.received, frames);
    assert_int_equal(rb.received, frames);
    assert_int_equal(ra.bad, 0);
    assert_int_equal(rb.bad, 0);
}

static void exchange_10000_frames_both_ways_arrive_in_order(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    exchange_both_ways(p.a, p.b, 10000, 64 * 1024);
    mk_link_info_t ia, ib;
    mk_link_info(p.a, &ia);
    mk_link_info(p.b, &ib);
    assert_int_equal(ia.frames_out, 10000);
    assert_int_equal(ib.frames_in, 10000);
    assert_int_equal(ia.bytes_out, ib.bytes_in);
    assert_int_equal(ib.bytes_out, ia.bytes_in);
    assert_true(ia.dialer);
    assert_false(ib.dialer);
    mk_peer_id_t na = mk_network_peer_id(p.na), nb = mk_network_peer_id(p.nb);
    assert_true(mk_id_eq(&ia.peer, &nb));
    assert_true(mk_id_eq(&ib.peer, &na));
    mkt_pair_close(&p);
}

static void exchange_over_100_parallel_links_all_arrive(void **state) {
    (void)state;
    mkt_pair_t p;
    mkt_pair_open(&p, ALPN, NULL);
    enum { LINKS = 100 };
    mk_link_t *a[LINKS], *b[LINKS];
    mk_peer_addr_t to;
    mk_network_addr(p.nb, &to);
    for (int i = 0; i < LINKS; i++) {
        mk_error_t e;
        a[i] = mk_link_open(p.na, &to, ALPN, 0, mkt_ms(5000), &e);
        if (!a[i]) fail_msg("open %d: %s", i, e.msg);
        b[i] = mk_listener_accept(p.lb, mkt_ms(5000), &e);
        if (!b[i]) fail_msg("accept %d: %s", i, e.msg);
    }
    for (int i = 0; i < LINKS; i++) exchange_both_ways(a[i], b[i], 50, 2048);
    for (int i = 0; i < LINKS; i++) {
        mk_link_free(a[i]);
        mk_link_free(b[i]);
    }
    mkt_pair_close(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exchange_10000_frames_both_ways_arrive_in_order),
        cmocka_unit_test(exchange_over_100_parallel_links_all_arrive),
    };
    return mkt_run("integration.net.exchange", tests, sizeof tests / sizeof tests[0]);
}
