/* unit/discovery/test_catalog.c — catalog snapshots (spec 20 §2.1): PeerId order, the local node left
 * out, lookups, staleness judged at call time (also by a held snapshot, and by count), max_rtt hiding
 * decided at build time, iteration flags, peer info and RTT; the publisher (held snapshots never
 * change) and watches (timeouts, wake-ups from another thread, latest/seen, the fd, close, callbacks,
 * MK_EDEADLK on the loop thread). Runs under ASan: every reference taken is dropped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "discovery/catalog.h"

#include "core/time.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1700000000000LL
#define PURGE 300000u

static mk_network_id_t NET;

static mk_peer_id_t peer_of(const char *who) {
    mk_secret_key_t sk;
    mk_secret_key_from_str(who, &sk);
    return mk_secret_key_public(&sk);
}

/* A signed (or unsigned) entry of `who` with version (update, update), optionally tagged. */
static const mk_peer_entry_t *make_entry(const char *who, int64_t update, bool is_signed, const char *tag) {
    NET = mk_id_from_str("catalog-test-net");
    mk_secret_key_t sk;
    mk_secret_key_from_str(who, &sk);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    assert_non_null(d);
    mk_entry_draft_init(d, &NET, &pub);
    d->version = (mk_entry_version_t){(uint64_t)update, (uint64_t)update};
    if (tag) {
        mk_id_t t = mk_id_from_str(tag);
        assert_int_equal(mk_entry_draft_add_tag(d, &t), MK_OK);
    }
    const mk_peer_entry_t *e = NULL;
    assert_int_equal(mk_entry_draft_seal(d, is_signed ? &sk : NULL, &e, NULL), MK_OK);
    mk_entry_draft_free(d);
    free(d);
    assert_int_equal(mk_peer_entry_is_signed(e), is_signed);
    return e;
}

static int by_peer(const void *a, const void *b) {
    const mk_peer_entry_t *x = *(const mk_peer_entry_t *const *)a, *y = *(const mk_peer_entry_t *const *)b;
    return memcmp(x->peer.b, y->peer.b, 32);
}

/* A set of entries sorted by PeerId, as the store hands them to the builder. */
typedef struct entry_set {
    const mk_peer_entry_t *v[16];
    size_t n;
} entry_set_t;

static void set_add(entry_set_t *s, const mk_peer_entry_t *e) {
    assert_true(s->n < 16);
    s->v[s->n++] = e;
    qsort(s->v, s->n, sizeof s->v[0], by_peer);
}

static void set_free(entry_set_t *s) {
    for (size_t i = 0; i < s->n; i++) mk_peer_entry_unref(s->v[i]);
    s->n = 0;
}

static mk_catalog_t *build(const entry_set_t *s, const mk_peer_entry_t *local, uint64_t seq, uint32_t max_rtt_ms,
                           mk_rtt_tracker_t *rtt) {
    mk_catalog_params_t p = {.seq = seq, .purge_after_ms = PURGE, .max_rtt_ms = max_rtt_ms, .rtt = rtt};
    mk_catalog_t *c = NULL;
    assert_int_equal(mk_catalog_build(s->v, s->n, local, &p, &c), MK_OK);
    assert_non_null(c);
    return c;
}

static size_t collect(const mk_catalog_t *c, unsigned flags, int64_t now, const mk_peer_entry_t **out, size_t cap) {
    mk_catalog_iter_t it;
    mk_catalog_iter_init_at(&it, c, flags, now);
    size_t n = 0;
    for (const mk_peer_entry_t *e; (e = mk_catalog_next(&it));) {
        assert_true(n < cap);
        out[n++] = e;
    }
    return n;
}

static uint32_t refs_of(const mk_peer_entry_t *e) { return atomic_load(&((mk_peer_entry_t *)(uintptr_t)e)->refs); }

/* ---- snapshots ---- */

static void iterates_in_peer_id_order_without_the_local_node(void **state) {
    (void)state;
    entry_set_t s = {0};
    const char *names[] = {"a", "b", "c", "d", "e", "f"};
    for (size_t i = 0; i < 6; i++) set_add(&s, make_entry(names[i], NOW, true, NULL));
    const mk_peer_entry_t *local = make_entry("self", NOW, true, NULL);
    set_add(&s, mk_peer_entry_ref(local));  /* even if handed in, the local node stays out of the view */
    mk_catalog_t *c = build(&s, local, 1, 0, NULL);
    const mk_peer_entry_t *got[16];
    size_t n = collect(c, 0, NOW, got, 16);
    assert_int_equal(n, 6);
    for (size_t i = 1; i < n; i++) assert_true(memcmp(got[i - 1]->peer.b, got[i]->peer.b, 32) < 0);
    for (size_t i = 0; i < n; i++) assert_memory_not_equal(got[i]->peer.b, local->peer.b, 32);
    assert_int_equal(mk_catalog_count_at(c, NOW), 6);
    assert_int_equal(mk_catalog_size(c), 6);
    assert_ptr_equal(mk_catalog_local(c), local);
    assert_null(mk_catalog_get_at(c, &local->peer, NOW));
    assert_int_equal(mk_catalog_seq(c), 1);
    mk_catalog_free(c);
    set_free(&s);
    mk_peer_entry_unref(local);
}

static void lookup_hits_and_misses(void **state) {
    (void)state;
    entry_set_t s = {0};
    const char *names[] = {"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"};
    for (size_t i = 0; i < 9; i++) set_add(&s, make_entry(names[i], NOW, i % 2 == 0, "tagged"));
    mk_catalog_t *c = build(&s, NULL, 7, 0, NULL);
    for (size_t i = 0; i < s.n; i++) assert_ptr_equal(mk_catalog_get_at(c, &s.v[i]->peer, NOW), s.v[i]);
    mk_peer_id_t absent = peer_of("nobody");
    assert_null(mk_catalog_get_at(c, &absent, NOW));
    mk_peer_info_t info;
    assert_int_equal(mk_catalog_peer_info_at(c, &absent, NOW, &info), MK_ENOTFOUND);
    assert_int_equal(mk_catalog_peer_info_at(c, &s.v[3]->peer, NOW, &info), MK_OK);
    assert_ptr_equal(info.entry, s.v[3]);
    assert_true(mk_peer_info_has_tag(&info, "tagged"));
    assert_false(mk_peer_info_has_tag(&info, "other"));
    /* the wall-clock variants agree for entries that are fresh now */
    mk_catalog_free(c);
    set_free(&s);
    int64_t now = mk_unix_ms();
    set_add(&s, make_entry("fresh", now, true, NULL));
    c = build(&s, NULL, 8, 0, NULL);
    assert_ptr_equal(mk_catalog_get(c, &s.v[0]->peer), s.v[0]);
    assert_int_equal(mk_catalog_peer_info(c, &s.v[0]->peer, &info), MK_OK);
    assert_int_equal(mk_catalog_count(c), 1);
    mk_catalog_free(c);
    set_free(&s);
}

static void staleness_is_judged_at_call_time(void **state) {
    (void)state;
    entry_set_t s = {0};
    const mk_peer_entry_t *old = make_entry("old", NOW - 200000, true, NULL);    /* expires at NOW + 100000 */
    const mk_peer_entry_t *young = make_entry("young", NOW - 1000, true, NULL);  /* expires at NOW + 299000 */
    const mk_peer_entry_t *manual = make_entry("manual", NOW - 10000000, false, NULL);  /* never purged */
    set_add(&s, old);
    set_add(&s, young);
    set_add(&s, manual);
    mk_catalog_t *c = build(&s, NULL, 1, 0, NULL);
    const int64_t old_end = NOW + 100000, young_end = NOW + 299000;
    assert_int_equal(mk_catalog_count_at(c, NOW), 3);
    assert_int_equal(mk_catalog_count_at(c, old_end), 3);  /* update = now − purge_after is still fresh */
    assert_ptr_equal(mk_catalog_get_at(c, &old->peer, old_end), old);
    assert_int_equal(mk_catalog_count_at(c, old_end + 1), 2);
    assert_null(mk_catalog_get_at(c, &old->peer, old_end + 1));
    mk_peer_info_t info;
    assert_int_equal(mk_catalog_peer_info_at(c, &old->peer, old_end + 1, &info), MK_ENOTFOUND);
    const mk_peer_entry_t *got[4];
    assert_int_equal(collect(c, 0, old_end + 1, got, 4), 2);
    assert_int_equal(mk_catalog_count_at(c, young_end + 1), 1);
    assert_ptr_equal(mk_catalog_get_at(c, &manual->peer, young_end + 1), manual);
    /* the cached count follows the clock both ways */
    assert_int_equal(mk_catalog_count_at(c, NOW), 3);
    assert_int_equal(mk_catalog_count_at(c, young_end), 2);
    assert_int_equal(mk_catalog_count_at(c, old_end), 3);
    mk_catalog_free(c);
    set_free(&s);
}

static void a_held_snapshot_hides_a_peer_that_went_stale_on_the_wall_clock(void **state) {
    (void)state;
    entry_set_t s = {0};
    /* purge_after 300 s: this entry has 400 ms of life left on the real clock */
    int64_t now = mk_unix_ms();
    const mk_peer_entry_t *dying = make_entry("dying", now - (int64_t)PURGE + 400, true, NULL);
    const mk_peer_entry_t *fresh = make_entry("fresh", now, true, NULL);
    set_add(&s, dying);
    set_add(&s, fresh);
    mk_catalog_t *c = build(&s, NULL, 1, 0, NULL);
    assert_int_equal(mk_catalog_count(c), 2);  /* cached until the first expiry */
    assert_ptr_equal(mk_catalog_get(c, &dying->peer), dying);
    usleep(600 * 1000);
    assert_int_equal(mk_catalog_count(c), 1);
    assert_null(mk_catalog_get(c, &dying->peer));
    mk_catalog_iter_t it;
    mk_catalog_iter_init(&it, c, 0);
    assert_ptr_equal(mk_catalog_next(&it), fresh);
    assert_null(mk_catalog_next(&it));
    mk_catalog_free(c);
    set_free(&s);
}

static void max_rtt_hides_slow_peers_at_build_time(void **state) {
    (void)state;
    mk_rtt_tracker_t *rtt = mk_rtt_new();
    entry_set_t s = {0};
    const mk_peer_entry_t *slow = make_entry("slow", NOW, true, NULL), *quick = make_entry("quick", NOW, true, NULL),
                          *unknown = make_entry("unknown", NOW, false, NULL);
    set_add(&s, slow);
    set_add(&s, quick);
    set_add(&s, unknown);
    mk_rtt_record(rtt, &slow->peer, 200000, 0);
    mk_rtt_record(rtt, &quick->peer, 10000, 0);
    mk_catalog_t *c = build(&s, NULL, 1, 50, rtt);
    assert_int_equal(mk_catalog_count_at(c, NOW), 2);
    assert_null(mk_catalog_get_at(c, &slow->peer, NOW));
    assert_true(mk_catalog_rtt_hidden(c, &slow->peer));
    assert_false(mk_catalog_rtt_hidden(c, &unknown->peer));
    assert_ptr_equal(mk_catalog_get_at(c, &unknown->peer, NOW), unknown);  /* no sample = admitted */
    const mk_peer_entry_t *got[4];
    assert_int_equal(collect(c, 0, NOW, got, 4), 2);
    assert_int_equal(collect(c, MK_CAT_IGNORE_MAX_RTT, NOW, got, 4), 3);
    /* the verdict belongs to the snapshot: the peer becoming quick later does not change it */
    for (int i = 0; i < 60; i++) mk_rtt_record(rtt, &slow->peer, 1000, 0);
    assert_null(mk_catalog_get_at(c, &slow->peer, NOW));
    assert_int_equal(mk_catalog_count_at(c, NOW), 2);
    mk_catalog_t *c2 = build(&s, NULL, 2, 50, rtt);
    assert_ptr_equal(mk_catalog_get_at(c2, &slow->peer, NOW), slow);
    assert_int_equal(mk_catalog_count_at(c2, NOW), 3);
    /* without max_rtt nothing is hidden */
    mk_rtt_record(rtt, &quick->peer, 900000, 0);
    mk_catalog_t *c3 = build(&s, NULL, 3, 0, rtt);
    assert_int_equal(mk_catalog_count_at(c3, NOW), 3);
    /* a hidden peer's expiry does not count twice */
    assert_int_equal(mk_catalog_count_at(c, NOW + PURGE + 1), 1);  /* only the unsigned one is left */
    mk_catalog_free(c);
    mk_catalog_free(c2);
    mk_catalog_free(c3);
    set_free(&s);
    mk_rtt_unref(rtt);
}

static void signed_only_and_unsigned_only_flags(void **state) {
    (void)state;
    entry_set_t s = {0};
    const char *names[] = {"s0", "u0", "s1", "u1", "s2"};
    for (size_t i = 0; i < 5; i++) set_add(&s, make_entry(names[i], NOW, names[i][0] == 's', NULL));
    mk_catalog_t *c = build(&s, NULL, 1, 0, NULL);
    const mk_peer_entry_t *got[8];
    size_t n = collect(c, MK_CAT_SIGNED_ONLY, NOW, got, 8);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) assert_true(mk_peer_entry_is_signed(got[i]));
    n = collect(c, MK_CAT_UNSIGNED_ONLY, NOW, got, 8);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) assert_false(mk_peer_entry_is_signed(got[i]));
    assert_int_equal(collect(c, 0, NOW, got, 8), 5);
    assert_int_equal(collect(c, MK_CAT_SIGNED_ONLY, NOW + PURGE + 1, got, 8), 0);  /* all stale */
    assert_int_equal(collect(c, MK_CAT_UNSIGNED_ONLY, NOW + PURGE + 1, got, 8), 2);
    mk_catalog_free(c);
    set_free(&s);
}

static void peer_info_reports_live_rtt_and_minus_one_without_samples(void **state) {
    (void)state;
    mk_rtt_tracker_t *rtt = mk_rtt_new();
    entry_set_t s = {0};
    const mk_peer_entry_t *a = make_entry("a", NOW, true, NULL), *b = make_entry("b", NOW, true, NULL);
    set_add(&s, a);
    set_add(&s, b);
    mk_catalog_t *c = build(&s, NULL, 1, 0, rtt);
    mk_peer_info_t info;
    assert_int_equal(mk_catalog_peer_info_at(c, &a->peer, NOW, &info), MK_OK);
    assert_int_equal(info.rtt_us, -1);
    assert_int_equal(info.rttvar_us, -1);
    assert_int_equal(info.rtt_samples, 0);
    assert_true(mk_peer_info_rtt_below(&info, 0));  /* no sample passes any threshold */
    mk_rtt_record(rtt, &a->peer, 10000, 0);       /* live: recorded after the build */
    assert_int_equal(mk_catalog_peer_info_at(c, &a->peer, NOW, &info), MK_OK);
    assert_int_equal(info.rtt_us, 10000);
    assert_int_equal(info.rttvar_us, 5000);
    assert_int_equal(info.rtt_samples, 1);
    assert_true(mk_peer_info_rtt_below(&info, 10001));
    assert_false(mk_peer_info_rtt_below(&info, 10000));
    assert_int_equal(mk_catalog_peer_info_at(c, &b->peer, NOW, &info), MK_OK);
    assert_int_equal(info.rtt_us, -1);
    /* a snapshot without a tracker reports no samples */
    mk_catalog_t *bare = build(&s, NULL, 2, 0, NULL);
    assert_int_equal(mk_catalog_peer_info_at(bare, &a->peer, NOW, &info), MK_OK);
    assert_int_equal(info.rtt_us, -1);
    mk_catalog_free(bare);
    mk_rtt_unref(rtt);  /* the snapshot keeps the tracker alive */
    assert_int_equal(mk_catalog_peer_info_at(c, &a->peer, NOW, &info), MK_OK);
    assert_int_equal(info.rtt_us, 10000);
    mk_catalog_free(c);
    set_free(&s);
}

static void snapshots_share_entries_and_release_them(void **state) {
    (void)state;
    entry_set_t s = {0};
    const mk_peer_entry_t *a = make_entry("a", NOW, true, NULL), *local = make_entry("self", NOW, true, NULL);
    set_add(&s, a);
    assert_int_equal(refs_of(a), 1);
    mk_catalog_t *c1 = build(&s, local, 1, 0, NULL), *c2 = build(&s, local, 2, 0, NULL);
    assert_int_equal(refs_of(a), 3);
    assert_int_equal(refs_of(local), 3);
    mk_catalog_t *again = mk_catalog_ref(c1);
    assert_ptr_equal(again, c1);
    mk_catalog_free(c1);
    assert_int_equal(refs_of(a), 3);  /* one reference of c1 is left */
    mk_catalog_free(again);
    assert_int_equal(refs_of(a), 2);
    mk_catalog_free(c2);
    assert_int_equal(refs_of(a), 1);
    assert_int_equal(refs_of(local), 1);
    mk_catalog_free(NULL);
    assert_int_equal(mk_catalog_count(NULL), 0);
    set_free(&s);
    mk_peer_entry_unref(local);
    /* an empty catalog */
    mk_catalog_t *empty = build(&s, NULL, 3, 0, NULL);
    assert_int_equal(mk_catalog_count_at(empty, NOW), 0);
    const mk_peer_entry_t *got[1];
    assert_int_equal(collect(empty, 0, NOW, got, 1), 0);
    assert_null(mk_catalog_local(empty));
    mk_catalog_free(empty);
}

/* Readers on several threads count one snapshot at different times: the lazily built expiry table
 * and the cached position never give a count that belongs to another time. */
typedef struct counter_arg {
    const mk_catalog_t *c;
    int64_t base;
    int bad;
} counter_arg_t;

static void *count_a_lot(void *arg) {
    counter_arg_t *a = arg;
    for (int i = 0; i < 20000; i++) {
        int64_t k = i % 11;  /* entry j expires at base + j*1000: at base + k*1000 + 1, k + 1 are gone */
        size_t want = 10 - (size_t)(k < 10 ? k + 1 : 10);
        if (mk_catalog_count_at(a->c, a->base + k * 1000 + 1) != want) a->bad++;
    }
    return NULL;
}

static void concurrent_counts_agree_with_the_clock(void **state) {
    (void)state;
    entry_set_t s = {0};
    char name[8];
    for (int j = 0; j < 10; j++) {
        name[0] = 'n', name[1] = (char)('0' + j), name[2] = 0;
        set_add(&s, make_entry(name, NOW + j * 1000, true, NULL));
    }
    mk_catalog_t *c = build(&s, NULL, 1, 0, NULL);
    counter_arg_t args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (counter_arg_t){.c = c, .base = NOW + PURGE};
        assert_int_equal(pthread_create(&th[i], NULL, count_a_lot, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].bad, 0);
    }
    assert_int_equal(mk_catalog_count_at(c, NOW + PURGE), 10);
    mk_catalog_free(c);
    set_free(&s);
}

/* ---- publisher ---- */

static mk_catalog_t *snap_of(const char *const *names, size_t n, uint64_t seq) {
    entry_set_t s = {0};
    for (size_t i = 0; i < n; i++) set_add(&s, make_entry(names[i], NOW, true, NULL));
    mk_catalog_t *c = build(&s, NULL, seq, 0, NULL);
    set_free(&s);
    return c;
}

static void a_held_snapshot_never_changes_after_newer_ones(void **state) {
    (void)state;
    mk_catalog_pub_t *p = mk_catalog_pub_new();
    assert_null(mk_catalog_pub_current(p));
    mk_catalog_pub_publish(p, snap_of((const char *[]){"a", "b"}, 2, 1));
    mk_catalog_t *held = mk_catalog_pub_current(p);
    assert_int_equal(mk_catalog_seq(held), 1);
    mk_catalog_pub_publish(p, snap_of((const char *[]){"a", "b", "c"}, 3, 2));
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 3));
    mk_catalog_t *cur = mk_catalog_pub_current(p);
    assert_int_equal(mk_catalog_seq(cur), 3);
    assert_int_equal(mk_catalog_count_at(cur, NOW), 0);
    assert_int_equal(mk_catalog_seq(held), 1);
    assert_int_equal(mk_catalog_count_at(held, NOW), 2);
    mk_peer_id_t a = peer_of("a");
    assert_non_null(mk_catalog_get_at(held, &a, NOW));
    mk_catalog_free(cur);
    mk_catalog_pub_close(p);
    assert_null(mk_catalog_pub_current(p));
    mk_catalog_pub_unref(p);
    assert_int_equal(mk_catalog_count_at(held, NOW), 2);  /* outlives the publisher */
    mk_catalog_free(held);
}

/* ---- watches ---- */

static bool fd_readable(int fd) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, 0) == 1;
}

static void changed_times_out_without_a_new_snapshot(void **state) {
    (void)state;
    mk_catalog_pub_t *p = mk_catalog_pub_new();
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 1));
    mk_error_t err;
    mk_catalog_watch_t *w = mk_catalog_watch_new(p, &err);
    assert_non_null(w);
    assert_int_equal(mk_catalog_watch_changed(w, 0, &err), MK_ETIMEDOUT);  /* the current one counts as seen */
    int64_t t0 = mk_now_ms();
    assert_int_equal(mk_catalog_watch_changed(w, 80, &err), MK_ETIMEDOUT);
    assert_true(mk_now_ms() - t0 >= 75);
    assert_int_equal(err.code, MK_ETIMEDOUT);
    assert_false(fd_readable(mk_catalog_watch_fd(w)));
    mk_catalog_watch_free(w);
    mk_catalog_pub_unref(p);
}

typedef struct publisher_arg {
    mk_catalog_pub_t *p;
    int delay_ms;
    uint64_t seq;
    bool close_instead;
    pthread_t thread;
} publisher_arg_t;

static void *publish_later(void *arg) {
    publisher_arg_t *a = arg;
    usleep((useconds_t)a->delay_ms * 1000);
    a->thread = pthread_self();
    if (a->close_instead) mk_catalog_pub_close(a->p);
    else mk_catalog_pub_publish(a->p, snap_of((const char *[]){"x"}, 1, a->seq));
    return NULL;
}

static void changed_wakes_on_a_publish_from_another_thread(void **state) {
    (void)state;
    mk_catalog_pub_t *p = mk_catalog_pub_new();
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 1));
    mk_catalog_watch_t *w = mk_catalog_watch_new(p, NULL);
    publisher_arg_t arg = {.p = p, .delay_ms = 50, .seq = 2};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, publish_later, &arg), 0);
    int64_t t0 = mk_now_ms();
    assert_int_equal(mk_catalog_watch_changed(w, 10000, NULL), MK_OK);
    assert_true(mk_now_ms() - t0 < 5000);
    pthread_join(th, NULL);
    mk_catalog_t *c = mk_catalog_watch_latest(w);
    assert_int_equal(mk_catalog_seq(c), 2);
    assert_int_equal(mk_catalog_count_at(c, NOW), 1);
    mk_catalog_free(c);
    assert_int_equal(mk_catalog_watch_changed(w, 0, NULL), MK_ETIMEDOUT);
    mk_catalog_watch_free(w);
    mk_catalog_pub_unref(p);
}

static void latest_marks_seen_and_the_fd_is_readable_exactly_while_unseen(void **state) {
    (void)state;
    mk_catalog_pub_t *p = mk_catalog_pub_new();
    mk_catalog_watch_t *w = mk_catalog_watch_new(p, NULL);  /* before any snapshot */
    int fd = mk_catalog_watch_fd(w);
    assert_true(fd >= 0);
    assert_false(fd_readable(fd));
    assert_null(mk_catalog_watch_latest(w));
    assert_false(fd_readable(fd));
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 1));
    assert_true(fd_readable(fd));
    assert_true(fd_readable(fd));  /* level, not edge: polling does not consume it */
    assert_int_equal(mk_catalog_watch_changed(w, 0, NULL), MK_OK);
    assert_true(fd_readable(fd));  /* changed() does not mark anything seen */
    mk_catalog_t *c = mk_catalog_watch_latest(w);
    assert_int_equal(mk_catalog_seq(c), 1);
    mk_catalog_free(c);
    assert_false(fd_readable(fd));
    assert_int_equal(mk_catalog_watch_changed(w, 0, NULL), MK_ETIMEDOUT);
    /* intermediate snapshots may be skipped: latest is the newest */
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 2));
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 3));
    assert_true(fd_readable(fd));
    c = mk_catalog_watch_latest(w);
    assert_int_equal(mk_catalog_seq(c), 3);
    mk_catalog_free(c);
    assert_false(fd_readable(fd));
    /* a second watch has its own notion of seen */
    mk_catalog_watch_t *w2 = mk_catalog_watch_new(p, NULL);
    assert_false(fd_readable(mk_catalog_watch_fd(w2)));
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 4));
    assert_true(fd_readable(mk_catalog_watch_fd(w2)));
    assert_true(fd_readable(fd));
    mk_catalog_free(mk_catalog_watch_latest(w2));
    assert_false(fd_readable(mk_catalog_watch_fd(w2)));
    assert_true(fd_readable(fd));
    mk_catalog_watch_free(w2);
    mk_catalog_watch_free(w);
    mk_catalog_pub_unref(p);
}

static void close_ends_waits_with_eterminated(void **state) {
    (void)state;
    mk_catalog_pub_t *p = mk_catalog_pub_new();
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 1));
    mk_catalog_watch_t *w = mk_catalog_watch_new(p, NULL);
    publisher_arg_t arg = {.p = p, .delay_ms = 50, .close_instead = true};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, publish_later, &arg), 0);
    mk_error_t err;
    assert_int_equal(mk_catalog_watch_changed(w, -1, &err), MK_ETERMINATED);  /* a forever-wait ends */
    pthread_join(th, NULL);
    assert_true(fd_readable(mk_catalog_watch_fd(w)));  /* waits would not block */
    assert_int_equal(mk_catalog_watch_changed(w, 0, NULL), MK_ETERMINATED);
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 2));  /* dropped after close */
    assert_int_equal(mk_catalog_watch_changed(w, 0, NULL), MK_ETERMINATED);
    assert_null(mk_catalog_pub_current(p));
    mk_catalog_watch_t *late = mk_catalog_watch_new(p, NULL);
    assert_int_equal(mk_catalog_watch_changed(late, 1000, NULL), MK_ETERMINATED);
    mk_catalog_pub_unref(p);  /* the watches keep the publisher */
    mk_catalog_watch_free(late);
    mk_catalog_watch_free(w);
}

static void an_unseen_snapshot_is_still_handed_out_after_close(void **state) {
    (void)state;
    mk_catalog_pub_t *p = mk_catalog_pub_new();
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 1));
    mk_catalog_watch_t *w = mk_catalog_watch_new(p, NULL);
    mk_catalog_pub_publish(p, snap_of((const char *[]){"last"}, 1, 2));
    mk_catalog_pub_close(p);
    assert_int_equal(mk_catalog_watch_changed(w, 0, NULL), MK_OK);
    mk_catalog_t *c = mk_catalog_watch_latest(w);
    assert_int_equal(mk_catalog_seq(c), 2);
    mk_catalog_free(c);
    assert_int_equal(mk_catalog_watch_changed(w, 0, NULL), MK_ETERMINATED);
    assert_true(fd_readable(mk_catalog_watch_fd(w)));
    mk_catalog_watch_free(w);
    mk_catalog_pub_unref(p);
}

typedef struct cb_log {
    int calls;
    pthread_t thread;
    mk_catalog_watch_t *w;
    uint64_t seen_seq;
} cb_log_t;

static void count_cb(void *ctx) {
    cb_log_t *l = ctx;
    l->calls++;
    l->thread = pthread_self();
    /* a callback may read the newest snapshot (it does not block) */
    mk_catalog_t *c = mk_catalog_watch_latest(l->w);
    l->seen_seq = mk_catalog_seq(c);
    mk_catalog_free(c);
}

static void callback_runs_on_the_publishing_thread_at_every_publish(void **state) {
    (void)state;
    mk_catalog_pub_t *p = mk_catalog_pub_new();
    mk_catalog_watch_t *w = mk_catalog_watch_new(p, NULL);
    cb_log_t log = {.w = w};
    mk_catalog_watch_set_callback(w, count_cb, &log);
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 1));
    assert_int_equal(log.calls, 1);
    assert_int_equal(log.seen_seq, 1);
    assert_true(pthread_equal(log.thread, pthread_self()));
    publisher_arg_t arg = {.p = p, .delay_ms = 0, .seq = 2};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, publish_later, &arg), 0);
    pthread_join(th, NULL);
    assert_int_equal(log.calls, 2);
    assert_int_equal(log.seen_seq, 2);
    assert_true(pthread_equal(log.thread, arg.thread));
    mk_catalog_watch_set_callback(w, NULL, NULL);
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 3));
    assert_int_equal(log.calls, 2);
    mk_catalog_watch_free(w);
    mk_catalog_pub_unref(p);
}

static void free_self_cb(void *ctx) {
    cb_log_t *l = ctx;
    l->calls++;
    mk_catalog_watch_free(l->w);  /* a watch may be freed from its own callback */
    l->w = NULL;
}

static void a_watch_freed_in_its_callback_is_released_after_the_round(void **state) {
    (void)state;
    mk_catalog_pub_t *p = mk_catalog_pub_new();
    cb_log_t a = {0}, b = {0};
    a.w = mk_catalog_watch_new(p, NULL);
    b.w = mk_catalog_watch_new(p, NULL);
    mk_catalog_watch_set_callback(a.w, free_self_cb, &a);
    mk_catalog_watch_set_callback(b.w, free_self_cb, &b);
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 1));
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    mk_catalog_pub_publish(p, snap_of(NULL, 0, 2));  /* nobody is called twice */
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    mk_catalog_pub_unref(p);  /* last reference: ASan reports anything left */
}

static void *wait_on_bound_loop(void *arg) {
    mk_catalog_pub_t *p = arg;
    mk_catalog_pub_bind_loop(p);
    mk_catalog_watch_t *w = mk_catalog_watch_new(p, NULL);
    intptr_t rc = mk_catalog_watch_changed(w, 100, NULL);
    intptr_t rc0 = mk_catalog_watch_changed(w, 0, NULL);
    mk_catalog_watch_free(w);
    return (void *)(rc * 1000 + rc0);
}

static void waiting_on_the_loop_thread_is_refused(void **state) {
    (void)state;
    mk_catalog_pub_t *p = mk_catalog_pub_new();
    pthread_t th;
    void *res;
    assert_int_equal(pthread_create(&th, NULL, wait_on_bound_loop, p), 0);
    pthread_join(th, &res);
    assert_int_equal((intptr_t)res, MK_EDEADLK * 1000 + MK_ETIMEDOUT);
    /* other threads still wait normally */
    mk_catalog_watch_t *w = mk_catalog_watch_new(p, NULL);
    assert_int_equal(mk_catalog_watch_changed(w, 20, NULL), MK_ETIMEDOUT);
    mk_catalog_watch_free(w);
    mk_catalog_pub_unref(p);
}

/* The loop publishes all the time while another thread creates a watch with a heap context, frees it,
 * then frees the context: no callback may run after mk_catalog_watch_free returned (ASan). */
typedef struct churn {
    mk_catalog_pub_t *p;
    _Atomic bool stop;
} churn_t;

static void *publish_until_stopped(void *arg) {
    churn_t *c = arg;
    for (uint64_t seq = 1; !atomic_load(&c->stop); seq++) {
        mk_catalog_pub_publish(c->p, snap_of(NULL, 0, seq));
        sched_yield();
    }
    return NULL;
}

/* Touches its context before and after a short spin, widening the window a late call would hit. */
static void touch_cb(void *ctx) {
    unsigned *hits = ctx;
    (*hits)++;
    for (int64_t end = mk_now_us() + 20; mk_now_us() < end;) {
    }
    (*hits)++;
}

static void touch_atomic_cb(void *ctx) {
    atomic_fetch_add((_Atomic unsigned *)ctx, 1);
}

static void no_callback_runs_after_free_returned(void **state) {
    (void)state;
    churn_t c = {.p = mk_catalog_pub_new()};
    atomic_init(&c.stop, false);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, publish_until_stopped, &c), 0);
    int64_t until = mk_now_ms() + 300;  /* ≤ 1000 rounds or 300 ms: valgrind serialises the threads */
    for (int i = 0; i < 1000 && (i < 20 || mk_now_ms() < until); i++) {
        mk_catalog_watch_t *w = mk_catalog_watch_new(c.p, NULL);
        unsigned *hits = calloc(1, sizeof *hits);
        mk_catalog_watch_set_callback(w, touch_cb, hits);
        if (i % 2 == 0) usleep(20);
        mk_catalog_free(mk_catalog_watch_latest(w));
        mk_catalog_watch_free(w);
        free(hits);
    }
    /* the callbacks do run meanwhile: one more context sees hits within 2 s */
    _Atomic unsigned last = 0;
    mk_catalog_watch_t *h = mk_catalog_watch_new(c.p, NULL);
    mk_catalog_watch_set_callback(h, touch_atomic_cb, &last);
    for (int64_t end = mk_now_ms() + 2000; atomic_load(&last) == 0 && mk_now_ms() < end;) usleep(1000);
    mk_catalog_watch_free(h);
    assert_true(atomic_load(&last) > 0);
    atomic_store(&c.stop, true);
    pthread_join(th, NULL);
    mk_catalog_pub_unref(c.p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iterates_in_peer_id_order_without_the_local_node),
        cmocka_unit_test(lookup_hits_and_misses),
        cmocka_unit_test(staleness_is_judged_at_call_time),
        cmocka_unit_test(a_held_snapshot_hides_a_peer_that_went_stale_on_the_wall_clock),
        cmocka_unit_test(max_rtt_hides_slow_peers_at_build_time),
        cmocka_unit_test(signed_only_and_unsigned_only_flags),
        cmocka_unit_test(peer_info_reports_live_rtt_and_minus_one_without_samples),
        cmocka_unit_test(snapshots_share_entries_and_release_them),
        cmocka_unit_test(concurrent_counts_agree_with_the_clock),
        cmocka_unit_test(a_held_snapshot_never_changes_after_newer_ones),
        cmocka_unit_test(changed_times_out_without_a_new_snapshot),
        cmocka_unit_test(changed_wakes_on_a_publish_from_another_thread),
        cmocka_unit_test(latest_marks_seen_and_the_fd_is_readable_exactly_while_unseen),
        cmocka_unit_test(close_ends_waits_with_eterminated),
        cmocka_unit_test(an_unseen_snapshot_is_still_handed_out_after_close),
        cmocka_unit_test(callback_runs_on_the_publishing_thread_at_every_publish),
        cmocka_unit_test(a_watch_freed_in_its_callback_is_released_after_the_round),
        cmocka_unit_test(waiting_on_the_loop_thread_is_refused),
        cmocka_unit_test(no_callback_runs_after_free_returned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
