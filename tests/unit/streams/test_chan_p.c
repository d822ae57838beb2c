/* unit/streams/test_chan_p.c — the sink ring and its read cursors (spec 30 §2.3, §9): every cursor
 * gets every datum in order, a datum is released when the last cursor wrote it, a blocked cursor is
 * overrun into lagging (its backlog released) or, in drop-oldest mode, skips and owes Dropped{n},
 * late cursors start at the tail, and detaching gives back what only it held. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/core.h"
#include "streams/chan_p.h"

#include <string.h>

/* Datums are small integers cast to pointers; releases are recorded. */
static int released[64], nreleased;
static void on_release(void *d) { released[nreleased++] = (int)(intptr_t)d; }
#define D(i) ((void *)(intptr_t)(i))

typedef struct sink {
    int got[64], ngot;
    uint64_t dropped_msgs[8];
    int ndropped_msgs;
    int room;          /* datums the link still takes; -1 = unlimited */
    int fail;          /* non-zero: the link failed with this code */
} sink_t;

static sink_t sinks[4];
static mk_fan_cursor_t cur[4];

static int write_fn(void *ctx, mk_fan_cursor_t *c, void *datum) {
    (void)ctx;
    sink_t *s = &sinks[c - cur];
    if (s->fail) return s->fail;
    if (s->room == 0) return MK_EFULL;
    if (c->owed_dropped) {
        s->dropped_msgs[s->ndropped_msgs++] = c->owed_dropped;
        c->owed_dropped = 0;
    }
    if (s->room > 0) s->room--;
    s->got[s->ngot++] = (int)(intptr_t)datum;
    return 0;
}

static int setup(void **state) {
    (void)state;
    memset(sinks, 0, sizeof sinks);
    memset(cur, 0, sizeof cur);
    for (int i = 0; i < 4; i++) sinks[i].room = -1;
    nreleased = 0;
    return 0;
}

static void flush_all(mk_fan_t *f, int n) {
    for (int i = 0; i < n; i++)
        if (cur[i].attached) mk_fan_flush(f, &cur[i], write_fn, NULL, NULL);
}

static void every_cursor_gets_every_datum_and_the_last_write_releases_it(void **state) {
    (void)state;
    mk_fan_t f;
    assert_int_equal(mk_fan_init(&f, 8, false, on_release), MK_OK);
    for (int i = 0; i < 3; i++) mk_fan_attach(&f, &cur[i]);
    sinks[2].room = 0;  /* the third link is full */
    for (int d = 1; d <= 5; d++) {
        assert_int_equal(mk_fan_push(&f, D(d)), 0);
        flush_all(&f, 3);
    }
    assert_int_equal(sinks[0].ngot, 5);
    assert_int_equal(sinks[1].ngot, 5);
    assert_int_equal(sinks[2].ngot, 0);
    assert_true(cur[2].blocked);
    assert_int_equal(nreleased, 0);  /* all five still needed by the third */
    assert_int_equal(mk_fan_held(&f), 5);
    assert_int_equal(mk_fan_backlog(&f, &cur[2]), 5);
    sinks[2].room = 2;
    uint64_t written = 0;
    assert_int_equal(mk_fan_flush(&f, &cur[2], write_fn, NULL, &written), MK_EFULL);
    assert_int_equal(written, 2);
    assert_int_equal(nreleased, 2);
    assert_int_equal(released[0], 1);
    assert_int_equal(released[1], 2);
    sinks[2].room = -1;
    assert_int_equal(mk_fan_flush(&f, &cur[2], write_fn, NULL, NULL), 0);
    for (int i = 0; i < 3; i++)
        for (int d = 0; d < 5; d++) assert_int_equal(sinks[i].got[d], d + 1);
    assert_int_equal(nreleased, 5);
    assert_int_equal(mk_fan_held(&f), 0);
    mk_fan_free(&f);
}

static void a_blocked_cursor_is_overrun_into_lagging(void **state) {
    (void)state;
    mk_fan_t f;
    assert_int_equal(mk_fan_init(&f, 4, false, on_release), MK_OK);
    mk_fan_attach(&f, &cur[0]);
    mk_fan_attach(&f, &cur[1]);
    sinks[1].room = 0;
    for (int d = 1; d <= 4; d++) {
        assert_int_equal(mk_fan_push(&f, D(d)), 0);
        flush_all(&f, 2);
    }
    assert_false(cur[1].lagging);
    assert_int_equal(mk_fan_push(&f, D(5)), 1);  /* the fifth finds the slow one's backlog full */
    assert_true(cur[1].lagging);
    assert_false(cur[1].attached);
    assert_int_equal(nreleased, 4);  /* its backlog went with it */
    flush_all(&f, 2);
    assert_int_equal(sinks[0].ngot, 5);
    assert_int_equal(nreleased, 5);
    assert_int_equal(f.ncursors, 1);
    mk_fan_free(&f);
}

static void in_drop_oldest_mode_a_slow_cursor_skips_and_owes_dropped(void **state) {
    (void)state;
    mk_fan_t f;
    assert_int_equal(mk_fan_init(&f, 4, true, on_release), MK_OK);
    mk_fan_attach(&f, &cur[0]);
    sinks[0].room = 0;
    for (int d = 1; d <= 7; d++) assert_int_equal(mk_fan_push(&f, D(d)), 0);
    assert_int_equal(cur[0].dropped, 3);
    assert_int_equal(f.dropped, 3);
    assert_int_equal(cur[0].owed_dropped, 3);
    assert_int_equal(nreleased, 3);
    sinks[0].room = -1;
    assert_int_equal(mk_fan_flush(&f, &cur[0], write_fn, NULL, NULL), 0);
    assert_int_equal(sinks[0].ndropped_msgs, 1);
    assert_int_equal(sinks[0].dropped_msgs[0], 3);  /* Dropped{3} precedes the next datum */
    assert_int_equal(sinks[0].ngot, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(sinks[0].got[i], 4 + i);
    assert_int_equal(nreleased, 7);
    mk_fan_free(&f);
}

static void late_cursors_start_at_the_tail_and_detach_gives_back(void **state) {
    (void)state;
    mk_fan_t f;
    assert_int_equal(mk_fan_init(&f, 8, false, on_release), MK_OK);
    assert_int_equal(mk_fan_push(&f, D(1)), 0);  /* nobody attached: released at once */
    assert_int_equal(nreleased, 1);
    mk_fan_attach(&f, &cur[0]);
    sinks[0].room = 0;
    mk_fan_push(&f, D(2));
    mk_fan_push(&f, D(3));
    mk_fan_attach(&f, &cur[1]);
    mk_fan_push(&f, D(4));
    flush_all(&f, 2);
    assert_int_equal(sinks[1].ngot, 1);
    assert_int_equal(sinks[1].got[0], 4);
    assert_int_equal(nreleased, 1);
    mk_fan_detach(&f, &cur[0]);
    mk_fan_detach(&f, &cur[0]);  /* idempotent */
    assert_int_equal(nreleased, 4);
    assert_int_equal(mk_fan_held(&f), 0);
    assert_int_equal(mk_fan_backlog(&f, &cur[0]), 0);
    mk_fan_push(&f, D(5));
    sinks[1].fail = MK_ECLOSED;
    assert_int_equal(mk_fan_flush(&f, &cur[1], write_fn, NULL, NULL), MK_ECLOSED);
    assert_false(cur[1].blocked);
    mk_fan_free(&f);  /* releases the datum the failed link held */
    assert_int_equal(nreleased, 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(every_cursor_gets_every_datum_and_the_last_write_releases_it, setup),
        cmocka_unit_test_setup(a_blocked_cursor_is_overrun_into_lagging, setup),
        cmocka_unit_test_setup(in_drop_oldest_mode_a_slow_cursor_skips_and_owes_dropped, setup),
        cmocka_unit_test_setup(late_cursors_start_at_the_tail_and_detach_gives_back, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
