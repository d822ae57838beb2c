/* unit/sim/test_simstore.c — the Raft simulator's crash-aware store (tests/sim/groups/simstore.c): the
 * store conformance suite (spec 40 §7.1), then what a crash keeps — only what sync made durable:
 * appends, truncations, prunes and resets alike, the hard state and meta with them —, the snapshot area
 * (a snapshot is stored at snap_commit, which commits the open batch with it, as LMDB's does; one being
 * written is lost), the durable-entry hook the log-matching check relies on, and amnesia. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>

#include "groups/machine.h"
#include "sim/groups/simstore.h"
#include "unit/groups/store_suite.h"

#include <stdlib.h>

/* The suite frees stores with mk_log_store_free, which leaves a simstore alone (the simulator owns it):
 * they are kept here and freed at the end. */
static simstore_t *made[64];
static size_t nmade;

static mk_log_store_t *make_simstore(void) {
    simstore_t *m = simstore_new(0x1234 + nmade, true);
    if (nmade < sizeof made / sizeof made[0]) made[nmade++] = m;
    return simstore_pub(m);
}

static int free_all(void **state) {
    (void)state;
    for (size_t i = 0; i < nmade; i++) simstore_free(made[i]);
    nmade = 0;
    return 0;
}

static void put(simstore_t *m, mk_index_t i, mk_term_t t) {
    mk_log_store_t *s = simstore_pub(m);
    char body[16];
    snprintf(body, sizeof body, "e%llu", (unsigned long long)i);
    mk_log_entry_t e = suite_entry(i, t, body);
    assert_int_equal(s->vt->append(s->self, &e, 1), MK_OK);
}

static mk_index_t first_of(simstore_t *m) {
    mk_index_t first, last;
    simstore_pub(m)->vt->available(simstore_pub(m)->self, &first, &last);
    return first;
}

static mk_cursor_t last_of(simstore_t *m) { return simstore_pub(m)->vt->last(simstore_pub(m)->self); }

static void crash_keeps_only_synced_appends_and_truncations(void **state) {
    (void)state;
    simstore_t *m = simstore_new(7, false);
    mk_log_store_t *s = simstore_pub(m);
    for (mk_index_t i = 1; i <= 5; i++) put(m, i, 1);
    assert_true(simstore_unsynced(m));
    simstore_crash(m);
    assert_int_equal(last_of(m).index, 0);  /* nothing was synced */
    for (mk_index_t i = 1; i <= 5; i++) put(m, i, 1);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    assert_false(simstore_unsynced(m));
    assert_int_equal(s->vt->truncate(s->self, 3), MK_OK);
    put(m, 3, 2);
    assert_true(simstore_unsynced(m));
    simstore_crash(m);  /* the truncation and the new entry 3 are lost: the old 3–5 are back */
    assert_int_equal(last_of(m).index, 5);
    suite_expect_body(s, 3, 1);
    assert_int_equal(s->vt->truncate(s->self, 3), MK_OK);
    put(m, 3, 2);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    simstore_crash(m);
    assert_int_equal(last_of(m).index, 3);
    assert_int_equal(last_of(m).term, 2);
    /* the hard state goes with its sync */
    mk_hard_state_t hs = {.term = 4, .commit = 2};
    assert_int_equal(s->vt->save_state(s->self, &hs, NULL), MK_OK);
    simstore_crash(m);
    assert_int_equal(s->vt->load_state(s->self, &hs, NULL), MK_OK);
    assert_int_equal(hs.term, 0);
    hs.term = 4;
    assert_int_equal(s->vt->save_state(s->self, &hs, NULL), MK_OK);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    simstore_crash(m);
    assert_int_equal(s->vt->load_state(s->self, &hs, NULL), MK_OK);
    assert_int_equal(hs.term, 4);
    simstore_free(m);
}

static void prune_and_reset_need_the_sync_too(void **state) {
    (void)state;
    simstore_t *m = simstore_new(7, false);
    mk_log_store_t *s = simstore_pub(m);
    for (mk_index_t i = 1; i <= 10; i++) put(m, i, i < 6 ? 1 : 2);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    assert_int_equal(s->vt->prune_prefix(s->self, 6), MK_OK);
    assert_int_equal(first_of(m), 7);
    assert_int_equal(simstore_base(m).index, 6);
    assert_true(simstore_unsynced(m));
    simstore_crash(m);  /* not synced: the whole log is back */
    assert_int_equal(first_of(m), 1);
    assert_int_equal(simstore_base(m).index, 0);
    assert_int_equal(s->vt->prune_prefix(s->self, 6), MK_OK);
    put(m, 11, 3);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    simstore_crash(m);
    assert_int_equal(first_of(m), 7);
    assert_int_equal(last_of(m).index, 11);
    mk_term_t t;
    assert_int_equal(s->vt->term_at(s->self, 6, &t), MK_OK);
    assert_int_equal(t, 2);
    suite_expect_body(s, 7, 2);
    /* a reset: lost without its sync, kept with it */
    assert_int_equal(s->vt->reset_to(s->self, (mk_cursor_t){.term = 5, .index = 40}), MK_OK);
    put(m, 41, 5);
    simstore_crash(m);
    assert_int_equal(first_of(m), 7);
    assert_int_equal(last_of(m).index, 11);
    assert_int_equal(s->vt->reset_to(s->self, (mk_cursor_t){.term = 5, .index = 40}), MK_OK);
    put(m, 41, 5);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    simstore_crash(m);
    assert_int_equal(simstore_base(m).index, 40);
    assert_int_equal(last_of(m).index, 41);
    assert_int_equal(s->vt->get(s->self, 11, &(mk_log_entry_t){0}), MK_ENOTFOUND);
    /* a prune and a truncation in one batch */
    for (mk_index_t i = 42; i <= 50; i++) put(m, i, 6);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    assert_int_equal(s->vt->prune_prefix(s->self, 44), MK_OK);
    assert_int_equal(s->vt->truncate(s->self, 48), MK_OK);
    put(m, 48, 7);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    simstore_crash(m);
    assert_int_equal(first_of(m), 45);
    assert_int_equal(last_of(m).index, 48);
    assert_int_equal(last_of(m).term, 7);
    simstore_free(m);
}

typedef struct items {
    int n;
    char last[8];
} items_t;

static int collect(void *ctx, const void *item, size_t len) {
    items_t *it = ctx;
    it->n++;
    snprintf(it->last, sizeof it->last, "%.*s", (int)len, (const char *)item);
    return MK_OK;
}

static void the_snapshot_area_is_atomic_and_commits_the_batch(void **state) {
    (void)state;
    simstore_t *m = simstore_new(7, true);
    mk_log_store_t *s = simstore_pub(m);
    mk_cursor_t anchor;
    mk_buf_t hdr = MK_BUF_INIT;
    items_t it = {0};
    mk_item_writer_t w = {.put = collect, .ctx = &it};
    assert_int_equal(s->vt->snap_open(s->self, &anchor, &hdr, &w), MK_ENOTFOUND);
    for (mk_index_t i = 1; i <= 4; i++) put(m, i, 1);
    assert_int_equal(s->vt->snap_begin(s->self, (mk_cursor_t){1, 3}, "h", 1), MK_OK);
    assert_int_equal(s->vt->snap_put(s->self, "a", 1), MK_OK);
    simstore_crash(m);  /* neither the entries nor the snapshot being written survive */
    assert_int_equal(last_of(m).index, 0);
    assert_int_equal(s->vt->snap_open(s->self, &anchor, &hdr, &w), MK_ENOTFOUND);
    assert_int_equal(s->vt->snap_put(s->self, "a", 1), MK_EINVAL);
    for (mk_index_t i = 1; i <= 4; i++) put(m, i, 1);
    assert_int_equal(s->vt->snap_begin(s->self, (mk_cursor_t){1, 3}, "h", 1), MK_OK);
    assert_int_equal(s->vt->snap_put(s->self, "a", 1), MK_OK);
    assert_int_equal(s->vt->snap_put(s->self, "b", 1), MK_OK);
    assert_int_equal(s->vt->snap_commit(s->self), MK_OK);
    assert_false(simstore_unsynced(m));  /* the open batch went with it */
    simstore_crash(m);
    assert_int_equal(last_of(m).index, 4);
    assert_int_equal(s->vt->snap_open(s->self, &anchor, &hdr, &w), MK_OK);
    assert_int_equal(anchor.index, 3);
    assert_int_equal(hdr.len, 1);
    assert_int_equal(it.n, 2);
    assert_string_equal(it.last, "b");
    mk_buf_free(&hdr);
    /* a later one replaces it only once committed */
    assert_int_equal(s->vt->snap_begin(s->self, (mk_cursor_t){1, 4}, "H", 1), MK_OK);
    simstore_crash(m);
    it = (items_t){0};
    assert_int_equal(s->vt->snap_open(s->self, &anchor, &hdr, &w), MK_OK);
    assert_int_equal(anchor.index, 3);
    mk_buf_free(&hdr);
    simstore_amnesia(m, 99);  /* the disk is gone: log, state, snapshot */
    assert_int_equal(last_of(m).index, 0);
    assert_int_equal(simstore_incarnation(m), 99);
    assert_int_equal(s->vt->snap_open(s->self, &anchor, &hdr, &w), MK_ENOTFOUND);
    simstore_free(m);
}

typedef struct seen {
    mk_index_t index[32];
    mk_term_t prev[32];
    int n;
} seen_t;

static void on_durable(void *ctx, const mk_log_entry_t *e, mk_term_t prev_term) {
    seen_t *sn = ctx;
    if (sn->n < 32) {
        sn->index[sn->n] = e->index;
        sn->prev[sn->n++] = prev_term;
    }
}

static void the_durable_hook_sees_each_entry_once_with_its_predecessor(void **state) {
    (void)state;
    simstore_t *m = simstore_new(7, false);
    mk_log_store_t *s = simstore_pub(m);
    seen_t sn = {0};
    simstore_on_append(m, on_durable, &sn);
    put(m, 1, 1);
    put(m, 2, 2);
    assert_int_equal(sn.n, 0);  /* not durable yet */
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    assert_int_equal(sn.n, 2);
    assert_int_equal(sn.prev[1], 1);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    assert_int_equal(sn.n, 2);  /* nothing new */
    assert_int_equal(s->vt->prune_prefix(s->self, 2), MK_OK);
    put(m, 3, 3);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    assert_int_equal(sn.n, 3);
    assert_int_equal(sn.index[2], 3);
    assert_int_equal(sn.prev[2], 2);  /* the base's term */
    assert_int_equal(s->vt->reset_to(s->self, (mk_cursor_t){.term = 8, .index = 20}), MK_OK);
    put(m, 21, 8);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    assert_int_equal(sn.n, 4);
    assert_int_equal(sn.index[3], 21);
    assert_int_equal(sn.prev[3], 8);
    simstore_free(m);
}

int main(void) {
    suite_make = make_simstore;
    const struct CMUnitTest tests[] = {
        MK_STORE_SUITE_TESTS,
        cmocka_unit_test(crash_keeps_only_synced_appends_and_truncations),
        cmocka_unit_test(prune_and_reset_need_the_sync_too),
        cmocka_unit_test(the_snapshot_area_is_atomic_and_commits_the_batch),
        cmocka_unit_test(the_durable_hook_sees_each_entry_once_with_its_predecessor),
    };
    return cmocka_run_group_tests(tests, NULL, free_all);
}
