/* unit/groups/store_suite.h — the log store conformance suite (spec 40 §7.1, §11.3): every contract of
 * mk_log_store_vtbl_t checked against a store made by the given factory. Header-only so that each
 * store's test program (in-memory now, LMDB later, a user's own) includes it and runs the same cases. */
#ifndef MK_TEST_STORE_SUITE_H
#define MK_TEST_STORE_SUITE_H

#include "mosaik/groups.h"

#include <string.h>

typedef mk_log_store_t *(*store_factory_fn)(void);
static store_factory_fn suite_make;

static mk_log_entry_t suite_entry(mk_index_t i, mk_term_t t, const char *body) {
    return (mk_log_entry_t){.index = i, .term = t, .kind = MK_ENTRY_COMMAND, .body = body, .len = strlen(body)};
}

/* Appends entries first..last with terms from `terms` (terms[i - first]) and bodies "e<i>". */
static void suite_fill(mk_log_store_t *s, mk_index_t first, mk_index_t last, const mk_term_t *terms) {
    static char bodies[64][16];
    for (mk_index_t i = first; i <= last; i++) {
        snprintf(bodies[i % 64], sizeof bodies[0], "e%llu", (unsigned long long)i);
        mk_log_entry_t e = suite_entry(i, terms[i - first], bodies[i % 64]);
        assert_int_equal(s->vt->append(s->self, &e, 1), MK_OK);
    }
}

static void suite_expect_body(mk_log_store_t *s, mk_index_t i, mk_term_t t) {
    mk_log_entry_t e;
    assert_int_equal(s->vt->get(s->self, i, &e), MK_OK);
    char want[16];
    snprintf(want, sizeof want, "e%llu", (unsigned long long)i);
    assert_int_equal(e.index, i);
    assert_int_equal(e.term, t);
    assert_int_equal(e.len, strlen(want));
    assert_memory_equal(e.body, want, e.len);
}

static void suite_empty_store(void **state) {
    (void)state;
    mk_log_store_t *s = suite_make();
    mk_index_t first, last;
    s->vt->available(s->self, &first, &last);
    assert_true(first > last);
    mk_cursor_t c = s->vt->last(s->self);
    assert_int_equal(c.index, 0);
    assert_int_equal(c.term, 0);
    mk_term_t t = 9;
    assert_int_equal(s->vt->term_at(s->self, 0, &t), MK_OK);
    assert_int_equal(t, 0);
    assert_int_equal(s->vt->term_at(s->self, 1, &t), MK_ENOTFOUND);
    mk_log_entry_t e;
    assert_int_equal(s->vt->get(s->self, 1, &e), MK_ENOTFOUND);
    mk_hard_state_t hs;
    mk_store_meta_t meta;
    assert_int_equal(s->vt->load_state(s->self, &hs, &meta), MK_OK);
    assert_int_equal(hs.term, 0);
    assert_false(hs.has_vote);
    assert_int_equal(hs.commit, 0);
    assert_true(meta.incarnation != 0);
    assert_false(meta.has_origin);
    assert_false(meta.has_commands);
    mk_log_store_free(s);
}

static void suite_append_get_and_ranges(void **state) {
    (void)state;
    mk_log_store_t *s = suite_make();
    const mk_term_t terms[] = {1, 1, 2, 2, 2, 3};
    suite_fill(s, 1, 6, terms);
    mk_index_t first, last;
    s->vt->available(s->self, &first, &last);
    assert_int_equal(first, 1);
    assert_int_equal(last, 6);
    mk_cursor_t c = s->vt->last(s->self);
    assert_int_equal(c.index, 6);
    assert_int_equal(c.term, 3);
    for (mk_index_t i = 1; i <= 6; i++) suite_expect_body(s, i, terms[i - 1]);
    /* not contiguous: refused, nothing changes */
    mk_log_entry_t gap = suite_entry(8, 3, "x");
    assert_int_equal(s->vt->append(s->self, &gap, 1), MK_EINVAL);
    mk_log_entry_t dup = suite_entry(6, 3, "x");
    assert_int_equal(s->vt->append(s->self, &dup, 1), MK_EINVAL);
    mk_log_entry_t older = suite_entry(7, 2, "x");  /* a term below the last one */
    assert_int_equal(s->vt->append(s->self, &older, 1), MK_EINVAL);
    mk_log_entry_t odd = suite_entry(7, 3, "x");
    odd.kind = 9;  /* no such entry kind */
    assert_int_equal(s->vt->append(s->self, &odd, 1), MK_EINVAL);
    assert_int_equal(s->vt->last(s->self).index, 6);
    /* ranges: cap, byte limit (at least one entry), bounds */
    mk_log_entry_t out[8];
    size_t n = 0;
    assert_int_equal(s->vt->get_range(s->self, 2, 6, 1 << 20, out, 8, &n), MK_OK);
    assert_int_equal(n, 5);
    assert_int_equal(out[0].index, 2);
    assert_int_equal(out[4].index, 6);
    assert_int_equal(s->vt->get_range(s->self, 2, 6, 1 << 20, out, 3, &n), MK_OK);
    assert_int_equal(n, 3);
    assert_int_equal(s->vt->get_range(s->self, 2, 6, 5, out, 8, &n), MK_OK);
    assert_int_equal(n, 2);  /* "e2" + "e3" = 4 bytes; "e4" would pass 5 */
    assert_int_equal(s->vt->get_range(s->self, 2, 6, 0, out, 8, &n), MK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(s->vt->get_range(s->self, 5, 7, 1 << 20, out, 8, &n), MK_ENOTFOUND);
    /* a batch append is all or nothing and keeps order */
    mk_log_entry_t batch[3] = {suite_entry(7, 3, "e7"), suite_entry(8, 4, "e8"), suite_entry(9, 4, "e9")};
    assert_int_equal(s->vt->append(s->self, batch, 3), MK_OK);
    suite_expect_body(s, 9, 4);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    mk_log_store_free(s);
}

static void suite_truncate_prune_reset(void **state) {
    (void)state;
    mk_log_store_t *s = suite_make();
    const mk_term_t terms[] = {1, 1, 2, 2, 3, 3, 3, 4};
    suite_fill(s, 1, 8, terms);
    assert_int_equal(s->vt->truncate(s->self, 6), MK_OK);
    assert_int_equal(s->vt->last(s->self).index, 5);
    assert_int_equal(s->vt->last(s->self).term, 3);
    mk_log_entry_t e;
    assert_int_equal(s->vt->get(s->self, 6, &e), MK_ENOTFOUND);
    assert_int_equal(s->vt->truncate(s->self, 9), MK_OK);  /* beyond the end: nothing */
    /* appending after a truncation continues from the new end */
    mk_log_entry_t next = suite_entry(6, 5, "e6");
    assert_int_equal(s->vt->append(s->self, &next, 1), MK_OK);
    suite_expect_body(s, 6, 5);
    /* prune: the base takes the pruned index and its term */
    assert_int_equal(s->vt->prune_prefix(s->self, 3), MK_OK);
    mk_index_t first, last;
    s->vt->available(s->self, &first, &last);
    assert_int_equal(first, 4);
    assert_int_equal(last, 6);
    mk_term_t t;
    assert_int_equal(s->vt->term_at(s->self, 3, &t), MK_OK);
    assert_int_equal(t, 2);
    assert_int_equal(s->vt->term_at(s->self, 2, &t), MK_ENOTFOUND);
    assert_int_equal(s->vt->get(s->self, 3, &e), MK_ENOTFOUND);
    suite_expect_body(s, 4, 2);
    assert_int_equal(s->vt->prune_prefix(s->self, 2), MK_OK);  /* already pruned: nothing */
    assert_int_equal(s->vt->truncate(s->self, 3), MK_EINVAL);  /* below the base: refused */
    /* pruning everything leaves only the base */
    assert_int_equal(s->vt->prune_prefix(s->self, 6), MK_OK);
    s->vt->available(s->self, &first, &last);
    assert_true(first > last);
    assert_int_equal(s->vt->last(s->self).index, 6);
    assert_int_equal(s->vt->last(s->self).term, 5);
    mk_log_entry_t after = suite_entry(7, 5, "e7");
    assert_int_equal(s->vt->append(s->self, &after, 1), MK_OK);
    /* reset: everything goes, the cursor becomes the base */
    assert_int_equal(s->vt->reset_to(s->self, (mk_cursor_t){.term = 9, .index = 100}), MK_OK);
    assert_int_equal(s->vt->last(s->self).index, 100);
    assert_int_equal(s->vt->last(s->self).term, 9);
    assert_int_equal(s->vt->term_at(s->self, 100, &t), MK_OK);
    assert_int_equal(t, 9);
    assert_int_equal(s->vt->get(s->self, 7, &e), MK_ENOTFOUND);
    mk_log_entry_t wrong = suite_entry(7, 9, "x");
    assert_int_equal(s->vt->append(s->self, &wrong, 1), MK_EINVAL);
    mk_log_entry_t right = suite_entry(101, 9, "e101");
    assert_int_equal(s->vt->append(s->self, &right, 1), MK_OK);
    suite_expect_body(s, 101, 9);
    assert_int_equal(s->vt->reset_to(s->self, (mk_cursor_t){.term = 1, .index = 0}), MK_EINVAL);
    mk_log_store_free(s);
}

static void suite_hard_state_and_meta(void **state) {
    (void)state;
    mk_log_store_t *s = suite_make();
    mk_store_meta_t meta0;
    assert_int_equal(s->vt->load_state(s->self, NULL, &meta0), MK_OK);
    mk_hard_state_t hs = {.term = 7, .has_vote = true, .vote_inc = 42, .commit = 3};
    memset(hs.vote_peer.b, 0xab, sizeof hs.vote_peer.b);
    mk_store_meta_t meta = {.incarnation = meta0.incarnation, .has_origin = true, .has_commands = true};
    memset(meta.origin.b, 0xcd, sizeof meta.origin.b);
    assert_int_equal(s->vt->save_state(s->self, &hs, &meta), MK_OK);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    mk_hard_state_t hs2;
    mk_store_meta_t meta2;
    assert_int_equal(s->vt->load_state(s->self, &hs2, &meta2), MK_OK);
    assert_int_equal(hs2.term, 7);
    assert_true(hs2.has_vote);
    assert_int_equal(hs2.vote_inc, 42);
    assert_memory_equal(hs2.vote_peer.b, hs.vote_peer.b, sizeof hs.vote_peer.b);
    assert_int_equal(hs2.commit, 3);
    assert_int_equal(meta2.incarnation, meta0.incarnation);
    assert_true(meta2.has_origin && meta2.has_commands);
    assert_memory_equal(meta2.origin.b, meta.origin.b, sizeof meta.origin.b);
    /* two fresh stores are two incarnations */
    mk_log_store_t *other = suite_make();
    mk_store_meta_t meta3;
    assert_int_equal(other->vt->load_state(other->self, NULL, &meta3), MK_OK);
    assert_true(meta3.incarnation != meta0.incarnation);
    mk_log_store_free(other);
    mk_log_store_free(s);
}

#define MK_STORE_SUITE_TESTS                          \
    cmocka_unit_test(suite_empty_store),              \
    cmocka_unit_test(suite_append_get_and_ranges),    \
    cmocka_unit_test(suite_truncate_prune_reset),     \
    cmocka_unit_test(suite_hard_state_and_meta)

#endif
