/* integration/groups/concurrency — many threads on one group handle (spec 40 §4.1, §4.3, §11.1
 * execute/catchup; the Rust crate's JoinSet tests) on three loopback nodes. For the leader's handle and
 * a follower's handle: 8 threads × 100 execute calls all succeed, each thread's ranges strictly
 * increase, no log index is handed out twice and the counter ends at the exact sum; the same with
 * execute_many (batches of 3: contiguous ranges) and with a strong query after every execute (never
 * below what the thread itself applied, never going back, position at or above its last range). Then
 * mk_group_submit from 4 threads (execute and feed semantics, on leader and follower): every callback
 * comes once, in issue order per thread, with increasing ranges, and the value is exact.
 * catchup_while_writing: a third node joins while a thread keeps executing on the leader (log replay
 * in chunks of 50 entries); it catches up, is promoted, and ends with the same value. */
#include "support/mkt_group.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 3
#define THREADS 8
#define CALLS 100
#define BATCH 3

static mk_network_t *nets[N];
static mk_group_t *groups[N];
static mkt_counter_t counters[N];

static void join_group(int i, const char *key, uint32_t replay_batch) {
    mk_group_config_t cfg = mkt_group_config(key, &counters[i]);
    if (replay_batch) cfg.sync.replay_batch = replay_batch;
    groups[i] = mkt_group_join(nets[i], &cfg);
}

static int setup_cluster(void **state) {
    (void)state;
    mkt_disc_cluster(nets, N, NULL);
    for (int i = 0; i < N; i++) join_group(i, "it.groups.concurrency", 0);
    return 0;
}

static void writer_stop(void);

static int teardown_cluster(void **state) {
    (void)state;
    writer_stop();
    for (int i = 0; i < N; i++)
        if (groups[i]) mk_group_leave(groups[i]), groups[i] = NULL;
    mkt_disc_free_all(nets, N);
    memset(counters, 0, sizeof counters);
    return 0;
}

/* ---- the JoinSet runs ---- */

typedef enum { RUN_EXECUTE, RUN_EXECUTE_MANY, RUN_EXECUTE_QUERY } run_kind_t;

typedef struct worker {
    pthread_t th;
    mk_group_t *g;
    run_kind_t kind;
    uint32_t inc;                 /* each command adds this */
    int64_t base;                 /* the value before the run */
    mk_index_range_t ranges[CALLS];
    int done;                     /* calls that succeeded */
    int64_t own;                  /* what this thread applied */
    int64_t last_read;
    char fail[512];
} worker_t;

static worker_t workers[THREADS];

static void *worker_main(void *arg) {
    worker_t *w = arg;
    uint8_t b[BATCH][5];
    mk_bytes_t many[BATCH];
    for (int k = 0; k < BATCH; k++) {
        mkt_counter_inc(b[k], w->inc);
        many[k] = (mk_bytes_t){b[k], 5};
    }
    w->last_read = w->base;
    for (int i = 0; i < CALLS; i++) {
        mk_cmd_outcome_t o;
        mk_error_t e = {0};
        int rc = w->kind == RUN_EXECUTE_MANY ? mk_group_execute_many(w->g, many, BATCH, mkt_ms(10000), &o, &e)
                                             : mk_group_execute(w->g, b[0], 5, mkt_ms(10000), &o, &e);
        if (rc != MK_OK) {
            snprintf(w->fail, sizeof w->fail, "call %d: %s (%s)", i, mk_strerror(rc), e.msg);
            return NULL;
        }
        w->ranges[i] = o.range;
        w->done++;
        w->own += (int64_t)w->inc * (w->kind == RUN_EXECUTE_MANY ? BATCH : 1);
        if (w->kind != RUN_EXECUTE_QUERY) continue;
        mk_query_result_t r;
        rc = mk_group_query(w->g, "", 0, MK_STRONG, mkt_ms(10000), &r, &e);
        if (rc != MK_OK) {
            snprintf(w->fail, sizeof w->fail, "query %d: %s (%s)", i, mk_strerror(rc), e.msg);
            return NULL;
        }
        int64_t v = mkt_counter_result(&r);
        mk_index_t pos = r.position;
        mk_query_result_free(&r);
        if (v < w->base + w->own || v < w->last_read || pos < o.range.last) {
            snprintf(w->fail, sizeof w->fail,
                     "query %d: value %lld (base %lld, own %lld, previous read %lld) at %llu, own last %llu", i,
                     (long long)v, (long long)w->base, (long long)w->own, (long long)w->last_read,
                     (unsigned long long)pos, (unsigned long long)o.range.last);
            return NULL;
        }
        w->last_read = v;
    }
    return NULL;
}

static int cmp_index(const void *a, const void *b) {
    mk_index_t x = *(const mk_index_t *)a, y = *(const mk_index_t *)b;
    return x < y ? -1 : x > y;
}

static void wait_committed(mk_group_t *g, mk_index_t idx, int ms) {
    mk_group_cond_t c = {.what = MK_WHEN_COMMITTED_REACHES, .index = idx};
    mk_error_t e;
    if (mk_group_wait(g, &c, mkt_ms(ms), NULL, &e) != MK_OK)
        fail_msg("committed %llu not reached: %s", (unsigned long long)idx, e.msg);
}

/* 8 threads × 100 calls of `kind` on node `on`'s one handle, then every check. */
static void joinset(bool on_leader, run_kind_t kind) {
    int leader = mkt_group_wait_leader(groups, N, 10);
    int on = on_leader ? leader : (leader + 1) % N;
    mk_group_t *g = groups[on];
    int64_t base = mkt_group_value(g, MK_STRONG);
    double t0 = mkt_now();
    for (int t = 0; t < THREADS; t++) {
        workers[t] = (worker_t){.g = g, .kind = kind, .inc = (uint32_t)(t + 1), .base = base};
        assert_int_equal(pthread_create(&workers[t].th, NULL, worker_main, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(workers[t].th, NULL);
    double took = mkt_now() - t0;

    size_t per = kind == RUN_EXECUTE_MANY ? BATCH : 1;
    mk_index_t *all = calloc((size_t)THREADS * CALLS * per, sizeof *all);
    assert_non_null(all);
    size_t nall = 0;
    int64_t want = base;
    mk_index_t max_last = 0;
    for (int t = 0; t < THREADS; t++) {
        worker_t *w = &workers[t];
        if (w->fail[0]) {
            free(all);
            fail_msg("thread %d on the %s: %s", t, on_leader ? "leader" : "follower", w->fail);
        }
        assert_int_equal(w->done, CALLS);
        for (int i = 0; i < CALLS; i++) {
            const mk_index_range_t *r = &w->ranges[i];
            assert_true(r->first >= 1 && r->term >= 1);
            assert_int_equal(r->last - r->first, per - 1);  /* one batch = one contiguous range */
            if (i) assert_true(r->first > w->ranges[i - 1].last);  /* per-thread order on one handle */
            for (mk_index_t x = r->first; x <= r->last; x++) all[nall++] = x;
            if (r->last > max_last) max_last = r->last;
        }
        want += w->own;
    }
    qsort(all, nall, sizeof *all, cmp_index);
    for (size_t k = 1; k < nall; k++)
        if (all[k] == all[k - 1]) {
            mk_index_t dup = all[k];
            free(all);
            fail_msg("index %llu was handed out twice", (unsigned long long)dup);
        }
    free(all);
    assert_int_equal(nall, (size_t)THREADS * CALLS * per);
    for (int i = 0; i < N; i++) {
        wait_committed(groups[i], max_last, 10000);
        assert_int_equal(mkt_group_value(groups[i], MK_WEAK), want);
        assert_int_equal(mkt_group_value(groups[i], MK_STRONG), want);
    }
    fprintf(stderr, "  %d × %d %s on the %s: %.2f s\n", THREADS, CALLS,
            kind == RUN_EXECUTE ? "execute" : kind == RUN_EXECUTE_MANY ? "execute_many(3)" : "execute + strong query",
            on_leader ? "leader" : "follower", took);
}

static void execute_on_leader(void **state) { (void)state; joinset(true, RUN_EXECUTE); }
static void execute_on_follower(void **state) { (void)state; joinset(false, RUN_EXECUTE); }
static void execute_many_on_leader(void **state) { (void)state; joinset(true, RUN_EXECUTE_MANY); }
static void execute_many_on_follower(void **state) { (void)state; joinset(false, RUN_EXECUTE_MANY); }
static void strong_queries_on_leader(void **state) { (void)state; joinset(true, RUN_EXECUTE_QUERY); }
static void strong_queries_on_follower(void **state) { (void)state; joinset(false, RUN_EXECUTE_QUERY); }

/* ---- mk_group_submit from several threads ---- */

#define SUB_THREADS 4
#define SUBS 200
#define MIXED 2u /* alternate execute and feed semantics within each thread */

typedef struct sub_ticket {
    int t, i;
} sub_ticket_t;

typedef struct submitter {
    pthread_t th;
    mk_group_t *g;
    unsigned flags;
    int t;
    sub_ticket_t tickets[SUBS];
    /* written by the callbacks (loop thread), read after `sub_done` says all came */
    int next_cb, order_errors, calls[SUBS], status[SUBS];
    mk_index_range_t ranges[SUBS];
    int submitted;
    char fail[256];
} submitter_t;

static submitter_t subs[SUB_THREADS];
static atomic_int sub_done;

static void sub_cb(void *ud, int status, const mk_cmd_outcome_t *out) {
    sub_ticket_t *tk = ud;
    submitter_t *s = &subs[tk->t];
    if (tk->i != s->next_cb) s->order_errors++;
    s->next_cb = tk->i + 1;
    s->calls[tk->i]++;
    s->status[tk->i] = status;
    s->ranges[tk->i] = out ? out->range : (mk_index_range_t){0};
    atomic_fetch_add_explicit(&sub_done, 1, memory_order_release);
}

static void *submitter_main(void *arg) {
    submitter_t *s = arg;
    uint8_t cmd[5];
    mkt_counter_inc(cmd, (uint32_t)(s->t + 1));
    mk_bytes_t b = {cmd, 5};
    for (int i = 0; i < SUBS; i++) {
        s->tickets[i] = (sub_ticket_t){s->t, i};
        unsigned flags = s->flags == MIXED ? (unsigned)(i % 2 ? MK_SUBMIT_APPLIED : MK_SUBMIT_ASSIGNED) : s->flags;
        int rc = mk_group_submit(s->g, &b, 1, flags, mkt_ms(10000), sub_cb, &s->tickets[i]);
        if (rc != MK_OK) {
            snprintf(s->fail, sizeof s->fail, "submit %d: %s", i, mk_strerror(rc));
            return NULL;
        }
        s->submitted++;
    }
    return NULL;
}

static void submit_run(int on, unsigned flags) {
    mk_group_t *g = groups[on];
    int64_t base = mkt_group_value(g, MK_STRONG);
    atomic_store(&sub_done, 0);
    for (int t = 0; t < SUB_THREADS; t++) {
        memset(&subs[t], 0, sizeof subs[t]);
        subs[t].g = g;
        subs[t].flags = flags;
        subs[t].t = t;
    }
    for (int t = 0; t < SUB_THREADS; t++) assert_int_equal(pthread_create(&subs[t].th, NULL, submitter_main, &subs[t]), 0);
    for (int t = 0; t < SUB_THREADS; t++) pthread_join(subs[t].th, NULL);
    for (int t = 0; t < SUB_THREADS; t++)
        if (subs[t].fail[0]) fail_msg("submitter %d: %s", t, subs[t].fail);
    MKT_WAIT_UNTIL(atomic_load_explicit(&sub_done, memory_order_acquire) == SUB_THREADS * SUBS, 20);
    int64_t want = base;
    mk_index_t max_last = 0;
    for (int t = 0; t < SUB_THREADS; t++) {
        submitter_t *s = &subs[t];
        if (s->order_errors)  /* callbacks in issue order per thread */
            fail_msg("submitter %d (%s, %s): %d callbacks out of issue order", t, on == 0 ? "node 0" : on == 1 ? "node 1" : "node 2",
                     flags == MIXED ? "mixed" : flags & MK_SUBMIT_APPLIED ? "applied" : "assigned", s->order_errors);
        for (int i = 0; i < SUBS; i++) {
            if (s->calls[i] != 1 || s->status[i] != MK_OK)
                fail_msg("submitter %d call %d: %d callbacks, status %s", t, i, s->calls[i], mk_strerror(s->status[i]));
            assert_int_equal(s->ranges[i].first, s->ranges[i].last);
            if (i) assert_true(s->ranges[i].first > s->ranges[i - 1].last);
            if (s->ranges[i].last > max_last) max_last = s->ranges[i].last;
        }
        want += (int64_t)SUBS * (t + 1);
    }
    if (flags == MK_SUBMIT_APPLIED) assert_true(mk_group_committed(g) >= max_last);  /* applied here already */
    for (int i = 0; i < N; i++) {
        wait_committed(groups[i], max_last, 10000);
        assert_int_equal(mkt_group_value(groups[i], MK_WEAK), want);
    }
    assert_int_equal(atomic_load(&sub_done), SUB_THREADS * SUBS);  /* nothing called twice later */
}

static void submit_from_threads(void **state) {
    (void)state;
    int leader = mkt_group_wait_leader(groups, N, 10);
    int follower = (leader + 1) % N;
    submit_run(leader, MK_SUBMIT_APPLIED);
    submit_run(follower, MK_SUBMIT_APPLIED);
    submit_run(leader, MK_SUBMIT_ASSIGNED);
    submit_run(follower, MK_SUBMIT_ASSIGNED);
    submit_run(leader, MIXED);
    submit_run(follower, MIXED);
    /* errors come back synchronously and queue nothing */
    uint8_t cmd[5];
    mkt_counter_inc(cmd, 1);
    mk_bytes_t b = {cmd, 5};
    assert_int_equal(mk_group_submit(groups[leader], &b, 0, 0, 100, sub_cb, NULL), MK_ENOCOMMANDS);
    mk_bytes_t big = {cmd, (size_t)(1u << 20) + 1};
    assert_int_equal(mk_group_submit(groups[leader], &big, 1, 0, 100, sub_cb, NULL), MK_E2BIG);
}

/* ---- catchup_while_writing ---- */

typedef struct writer {
    pthread_t th;
    mk_group_t *g;
    atomic_bool stop;
    atomic_int done;
    atomic_bool failed;           /* fail[] is written (then this set) */
    mk_index_range_t last;
    int64_t sum;
    char fail[512];
} writer_t;

static void *writer_main(void *arg) {
    writer_t *w = arg;
    for (uint32_t k = 1; !atomic_load(&w->stop); k++) {
        uint8_t cmd[5];
        uint32_t inc = k % 7 + 1;
        mkt_counter_inc(cmd, inc);
        mk_cmd_outcome_t o;
        mk_error_t e = {0};
        int rc = mk_group_execute(w->g, cmd, 5, mkt_ms(10000), &o, &e);
        if (rc != MK_OK) {
            snprintf(w->fail, sizeof w->fail, "execute %u: %s (%s)", k, mk_strerror(rc), e.msg);
            atomic_store(&w->failed, true);
            return NULL;
        }
        if (o.range.first <= w->last.last) {
            snprintf(w->fail, sizeof w->fail, "execute %u: range %llu not above %llu", k,
                     (unsigned long long)o.range.first, (unsigned long long)w->last.last);
            atomic_store(&w->failed, true);
            return NULL;
        }
        w->last = o.range;
        w->sum += inc;
        atomic_fetch_add(&w->done, 1);
    }
    return NULL;
}

static writer_t w;
static bool w_running;

static void writer_stop(void) {
    if (!w_running) return;
    atomic_store(&w.stop, true);
    pthread_join(w.th, NULL);
    w_running = false;
}

static bool is_voter(const mk_group_status_t *st, const mk_id_t *id) {
    for (size_t i = 0; i < st->n_voters && i < 32; i++)
        if (mk_id_eq(&st->voters[i], id)) return true;
    return false;
}

static bool voter_in(mk_group_t *g, const mk_id_t *id) {
    mk_group_status_t st;
    mk_group_status(g, &st);
    return is_voter(&st, id);
}

static void catchup_while_writing(void **state) {
    (void)state;
    const char *key = "it.groups.concurrency.catchup";
    mkt_disc_cluster(nets, N, NULL);
    join_group(0, key, 50);
    join_group(1, key, 50);
    int leader = mkt_group_wait_leader(groups, 2, 10);
    /* a backlog first: 600 commands in batches of 20 */
    int64_t pre = 0;
    mk_cmd_outcome_t o;
    mk_error_t e;
    for (int b = 0; b < 30; b++) {
        uint8_t buf[20][5];
        mk_bytes_t many[20];
        for (int i = 0; i < 20; i++) {
            mkt_counter_inc(buf[i], 2);
            many[i] = (mk_bytes_t){buf[i], 5};
        }
        assert_int_equal(mk_group_execute_many(groups[leader], many, 20, mkt_ms(5000), &o, &e), MK_OK);
        pre += 40;
    }
    mk_index_t backlog = o.range.last;

    memset(&w, 0, sizeof w);
    w.g = groups[leader];
    w.last = o.range;
    assert_int_equal(pthread_create(&w.th, NULL, writer_main, &w), 0);
    w_running = true;
    MKT_WAIT_UNTIL(atomic_load(&w.done) >= 50 || atomic_load(&w.failed), 10);

    /* the third node joins while the writer keeps going */
    int at_join = atomic_load(&w.done);
    join_group(2, key, 50);
    wait_committed(groups[2], backlog, 15000);
    int at_backlog = atomic_load(&w.done);
    /* it follows the live tail: reaches what the leader has committed now, while writes go on */
    mk_index_t target = mk_group_committed(groups[leader]);
    wait_committed(groups[2], target, 15000);
    MKT_WAIT_UNTIL(atomic_load(&w.done) >= at_backlog + 100 || atomic_load(&w.failed), 15);
    mk_id_t me = mk_network_peer_id(nets[2]);
    MKT_WAIT_UNTIL(voter_in(groups[leader], &me), 10);
    writer_stop();
    if (w.fail[0]) fail_msg("writer: %s", w.fail);
    int total = atomic_load(&w.done);
    assert_true(total > at_join);  /* the writes really overlapped the catch-up */
    fprintf(stderr, "  writer: %d executes (%d before the join, %d during the backlog catch-up); sync sessions %.0f\n",
            total, at_join, at_backlog - at_join, mkt_metric(nets[2], "mosaik_groups_sync_sessions", NULL));

    int64_t want = pre + w.sum;
    for (int i = 0; i < N; i++) {
        wait_committed(groups[i], w.last.last, 10000);
        assert_int_equal(mkt_group_value(groups[i], MK_WEAK), want);
    }
    assert_int_equal(mkt_group_value(groups[2], MK_STRONG), want);
    mk_group_status_t s2;
    assert_int_equal(mk_group_status(groups[2], &s2), MK_OK);
    assert_int_equal(s2.member, MK_MEMBER_VOTER);
    assert_false(s2.diverged);
    assert_int_equal(counters[2].applied, counters[leader].applied);  /* every command applied once */
}

int main(void) {
    const struct CMUnitTest joinset_tests[] = {
        cmocka_unit_test(execute_on_leader),
        cmocka_unit_test(execute_on_follower),
        cmocka_unit_test(execute_many_on_leader),
        cmocka_unit_test(execute_many_on_follower),
        cmocka_unit_test(strong_queries_on_leader),
        cmocka_unit_test(strong_queries_on_follower),
        cmocka_unit_test(submit_from_threads),
    };
    const struct CMUnitTest catchup_tests[] = {
        cmocka_unit_test_teardown(catchup_while_writing, teardown_cluster),
    };
    int rc = mkt_run_group("integration.groups.concurrency", joinset_tests, sizeof joinset_tests / sizeof joinset_tests[0],
                           setup_cluster, teardown_cluster);
    rc |= mkt_run("integration.groups.concurrency.catchup", catchup_tests, sizeof catchup_tests / sizeof catchup_tests[0]);
    return rc;
}
