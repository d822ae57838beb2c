/* unit/groups/test_sync_snapshot.c — the snapshot fetch session (spec 40 §8.2, groups/sync/snapfetch.h):
 * a harness plays the providers (each holds some snapshots: anchor → item count, items derived from the
 * anchor and item number) by answering the session's encoded FetchDataRequests through the codec, and
 * plays the driver by checking the install protocol of every ready batch (restart / begin / items in order
 * / done). Covered: RequestSnapshot to the leader, re-sent after request_timeout to a new leader, held
 * while no leader is known; offers below the commit index or under the buffer floor ignored; the highest
 * anchor chosen; parallel fetch from three offerers (non-leaders first, one request in flight each);
 * out-of-order answers released in order; short answers re-asking the remainder; gone and timeouts
 * dropping the offer and reassigning the chunk; a peer going down; a higher anchor replacing the current
 * one (restart) and a lower one not; fallback to the next best anchor and then to a new request; done after
 * the last item; a zero-item snapshot; message filtering and config checks; random schedules. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "groups/sync/snapfetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROV 4
#define MAX_SNAPS 64
#define MAX_SENT 4096
#define REQ 0x5eedu
#define RT 1500  /* request timeout */
#define FT 500   /* fetch timeout */

static mk_peer_id_t pid(uint8_t fill) {
    mk_peer_id_t id;
    memset(id.b, fill, sizeof id.b);
    return id;
}

static mk_term_t term_of(mk_index_t index) { return 1 + index / 32; }

static mk_cursor_t anchor_at(mk_index_t index) { return (mk_cursor_t){.term = term_of(index), .index = index}; }

/* Item i of the snapshot at anchor index a: names both, padded to a length that varies with i. */
static size_t item_text(char *buf, size_t cap, mk_index_t a, uint64_t i) {
    int n = snprintf(buf, cap, "a%llu/i%llu", (unsigned long long)a, (unsigned long long)i);
    size_t len = (size_t)n;
    for (uint64_t k = 0; k < i % 7 && len + 1 < cap; k++) buf[len++] = 'x';
    buf[len] = 0;
    return len;
}

/* The encoded header of the snapshot at anchor index a (config_index = a, so headers differ per anchor). */
static mk_buf_t header_for(mk_index_t a) {
    mk_gsync_snap_header_t h;
    memset(&h, 0, sizeof h);
    memset(h.origin.b, 0x77, sizeof h.origin.b);
    h.config_index = a;
    h.nvoters = 1;
    h.voters[0].peer = pid(0x01);
    h.voters[0].incarnation = 1;
    h.has_commands = true;
    h.sessions = (mk_bytes_t){"sess", 4};
    mk_buf_t b = MK_BUF_INIT;
    assert_int_equal(mk_gsync_snap_header_encode(&h, &b, NULL), MK_OK);
    return b;
}

/* ---- harness ---------------------------------------------------------------------------------------------- */

typedef struct snap {
    mk_cursor_t anchor;
    uint64_t count;
} snap_t;

typedef struct prov {
    mk_peer_id_t id;
    bool up;
    bool mute;          /* never answers FetchDataRequests */
    bool overfill;  /* answers one item more than asked: a wrong provider */
    size_t max_items;   /* cuts answers to this many items (0: no cut) */
    snap_t snaps[MAX_SNAPS];
    size_t nsnaps;
    bool outstanding;   /* a FetchDataRequest to it is not answered yet (strict mode) */
    size_t served;      /* FetchDataRequests answered with items */
} prov_t;

typedef struct sent {
    mk_peer_id_t to;
    mk_gsync_msg_kind_t kind;
    mk_cursor_t anchor;
    uint64_t from, upto;
} sent_t;

typedef struct harness {
    mk_snapfetch_t *s;
    int64_t now;
    uint32_t batch, window_chunks;
    prov_t prov[MAX_PROV];
    size_t nprov;
    mk_gsync_outbox_t replies;  /* .to = the provider that answered (the session's `from`) */
    sent_t sent[MAX_SENT];
    size_t nsent, nsent_total;
    bool strict;
    /* the driver's view of the install */
    bool open;
    mk_cursor_t anchor;
    uint64_t count, expect;
    size_t begins, restarts, dones, items, last_batch_items;
    mk_cursor_t installed;
    /* random mode: what a RequestSnapshot delivered to an up peer does */
    bool markers, big;     /* big: snapshots of up to 700 items */
    mk_index_t last_marker;
    uint64_t *rng;
} harness_t;

static uint64_t rnd(uint64_t *st) {
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return *st >> 33;
}

static prov_t *prov_of(harness_t *h, const mk_peer_id_t *id) {
    for (size_t i = 0; i < h->nprov; i++)
        if (mk_id_eq(&h->prov[i].id, id)) return &h->prov[i];
    return NULL;
}

static prov_t *add_prov(harness_t *h, uint8_t fill_byte) {
    assert_true(h->nprov < MAX_PROV);
    prov_t *p = &h->prov[h->nprov++];
    memset(p, 0, sizeof *p);
    p->id = pid(fill_byte);
    p->up = true;
    return p;
}

static void forget(prov_t *p, size_t i) {
    p->snaps[i] = p->snaps[--p->nsnaps];
}

/* The provider holds the snapshot at a from now on (when full, an arbitrary old one expires). */
static void hold(prov_t *p, mk_index_t a, uint64_t count) {
    for (size_t i = 0; i < p->nsnaps; i++)
        if (p->snaps[i].anchor.index == a) return;
    if (p->nsnaps == MAX_SNAPS) forget(p, 0);
    p->snaps[p->nsnaps++] = (snap_t){anchor_at(a), count};
}

static void queue(harness_t *h, const mk_peer_id_t *from, const mk_gsync_msg_t *m) {
    mk_buf_t b = MK_BUF_INIT;
    assert_int_equal(mk_gsync_msg_encode(m, &b, NULL), MK_OK);
    mk_gsync_outbox_t *o = &h->replies;
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->v = realloc(o->v, o->cap * sizeof *o->v);
        assert_non_null(o->v);
    }
    o->v[o->n].to = *from;
    o->v[o->n].bytes = b;
    o->n++;
}

static void drop_reply(harness_t *h, size_t i) {
    mk_buf_free(&h->replies.v[i].bytes);
    memmove(&h->replies.v[i], &h->replies.v[i + 1], (h->replies.n - i - 1) * sizeof h->replies.v[0]);
    h->replies.n--;
}

/* The SnapshotReady provider p sends for the snapshot at anchor index a with count items. */
static mk_buf_t offer_msg(mk_index_t a, uint64_t count, uint64_t req_id, mk_gsync_msg_t *m) {
    mk_buf_t hdr = header_for(a);
    memset(m, 0, sizeof *m);
    m->kind = MK_GSYNC_SNAPSHOT_READY;
    m->snapshot_ready.req_id = req_id;
    m->snapshot_ready.anchor = anchor_at(a);
    m->snapshot_ready.item_count = count;
    m->snapshot_ready.header = (mk_bytes_t){hdr.ptr, hdr.len};
    return hdr;
}

/* Provider fill_byte takes a snapshot at a and its offer reaches the session now (no drain). */
static void offer(harness_t *h, uint8_t fill_byte, mk_index_t a, uint64_t count) {
    mk_peer_id_t id = pid(fill_byte);
    prov_t *p = prov_of(h, &id);
    assert_non_null(p);
    hold(p, a, count);
    mk_gsync_msg_t m;
    mk_buf_t hdr = offer_msg(a, count, REQ, &m);
    assert_true(mk_snapfetch_step(h->s, h->now, &id, &m));
    mk_buf_free(&hdr);
}

/* Provider p answers a FetchDataRequest into the reply queue. */
static void provide(harness_t *h, prov_t *p, const mk_gsync_msg_t *m) {
    mk_gsync_msg_t r = {.kind = MK_GSYNC_FETCH_DATA_RESP};
    r.fetch_data_resp.anchor = m->fetch_data_req.anchor;
    r.fetch_data_resp.from = m->fetch_data_req.from;
    const snap_t *sn = NULL;
    for (size_t i = 0; i < p->nsnaps; i++)
        if (p->snaps[i].anchor.index == m->fetch_data_req.anchor.index) sn = &p->snaps[i];
    if (!sn) {
        r.fetch_data_resp.gone = true;
        queue(h, &p->id, &r);
        return;
    }
    assert_int_equal(sn->anchor.term, m->fetch_data_req.anchor.term);
    assert_true(m->fetch_data_req.to <= sn->count);  /* never beyond the offered items */
    size_t n = (size_t)(m->fetch_data_req.to - m->fetch_data_req.from);
    if (p->max_items && n > p->max_items) n = p->max_items;
    if (p->overfill) n++;
    mk_bytes_t *items = calloc(n, sizeof *items);
    char(*text)[64] = calloc(n, sizeof *text);
    assert_non_null(items);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++) {
        items[i].len = item_text(text[i], sizeof text[i], sn->anchor.index, m->fetch_data_req.from + i);
        items[i].ptr = text[i];
    }
    r.fetch_data_resp.items = items;
    r.fetch_data_resp.nitems = n;
    queue(h, &p->id, &r);
    p->served++;
    free(items);
    free(text);
}

/* A marker went through the log: every up provider (each with probability 4/5 in random mode) snapshots
 * at a new, higher anchor and its offer is queued. */
static void marker(harness_t *h) {
    h->last_marker += 1 + rnd(h->rng) % 20;
    uint64_t count = rnd(h->rng) % (h->big ? 700 : 70);
    for (size_t i = 0; i < h->nprov; i++) {
        prov_t *p = &h->prov[i];
        if (!p->up || rnd(h->rng) % 5 == 0) continue;
        hold(p, h->last_marker, count);
        mk_gsync_msg_t m;
        mk_buf_t hdr = offer_msg(h->last_marker, count, REQ, &m);
        queue(h, &p->id, &m);
        mk_buf_free(&hdr);
    }
}

/* Handles every ready batch: requests go to the providers (answers queued), install steps are checked. */
static void drain(harness_t *h) {
    mk_snapfetch_ready_t rd;
    h->last_batch_items = 0;
    while (mk_snapfetch_ready(h->s, &rd)) {
        size_t fetches_in_batch[MAX_PROV] = {0};
        for (size_t i = 0; i < rd.nmsgs; i++) {
            mk_gsync_msg_t m;
            mk_error_t e;
            if (mk_gsync_msg_decode(rd.msgs[i].bytes.ptr, rd.msgs[i].bytes.len, &m, &e) != MK_OK)
                fail_msg("session sent a bad message: %s", e.msg);
            prov_t *p = prov_of(h, &rd.msgs[i].to);
            assert_non_null(p);
            h->nsent_total++;
            if (h->nsent < MAX_SENT) {
                sent_t *rec = &h->sent[h->nsent++];
                rec->to = rd.msgs[i].to;
                rec->kind = m.kind;
                if (m.kind == MK_GSYNC_FETCH_DATA_REQ) {
                    rec->anchor = m.fetch_data_req.anchor;
                    rec->from = m.fetch_data_req.from;
                    rec->upto = m.fetch_data_req.to;
                }
            }
            if (m.kind == MK_GSYNC_REQ_SNAPSHOT) {
                assert_int_equal(m.req_snapshot.req_id, REQ);
                if (h->markers && p->up) marker(h);
            } else {
                assert_int_equal(m.kind, MK_GSYNC_FETCH_DATA_REQ);
                assert_true(m.fetch_data_req.to - m.fetch_data_req.from <= h->batch);
                assert_true(rd.chosen);
                assert_true(m.fetch_data_req.anchor.index == rd.anchor.index);
                fetches_in_batch[p - h->prov]++;
                assert_true(fetches_in_batch[p - h->prov] == 1);  /* one per peer */
                if (h->strict) {
                    assert_false(p->outstanding);
                    p->outstanding = true;
                }
                if (p->up && !p->mute) provide(h, p, &m);
            }
            mk_gsync_msg_free(&m);
        }
        if (rd.restart) {
            assert_true(h->open);
            h->open = false;
            h->restarts++;
        }
        if (rd.begin) {
            assert_false(h->open);
            assert_true(rd.chosen);
            h->open = true;
            h->anchor = rd.anchor;
            h->count = rd.item_count;
            h->expect = 0;
            h->begins++;
            mk_gsync_snap_header_t hd;
            assert_int_equal(mk_gsync_snap_header_decode(rd.header.ptr, rd.header.len, &hd, NULL), MK_OK);
            assert_int_equal(hd.config_index, rd.anchor.index);
        }
        if (rd.nitems) {
            assert_true(h->open);
            assert_true(rd.chosen);
            assert_int_equal(rd.anchor.index, h->anchor.index);
            assert_int_equal(rd.items_from, h->expect);  /* in order, no gap, no repeat */
            for (size_t i = 0; i < rd.nitems; i++) {
                char want[64];
                size_t len = item_text(want, sizeof want, h->anchor.index, h->expect);
                if (rd.items[i].len != len || memcmp(rd.items[i].ptr, want, len) != 0)
                    fail_msg("item %llu of anchor %llu differs", (unsigned long long)h->expect,
                             (unsigned long long)h->anchor.index);
                h->expect++;
            }
            assert_true(h->expect <= h->count);
            h->items += rd.nitems;
            h->last_batch_items += rd.nitems;
        }
        if (rd.done) {
            assert_true(h->open);
            assert_int_equal(h->expect, h->count);
            assert_int_equal(rd.anchor.index, h->anchor.index);
            h->open = false;
            h->dones++;
            h->installed = rd.anchor;
        }
        mk_snapfetch_advance(h->s, &rd);
    }
}

static void start(harness_t *h, mk_index_t commit, mk_index_t min_first, uint32_t batch, const uint8_t *leader) {
    mk_peer_id_t l;
    if (leader) l = pid(*leader);
    mk_snapfetch_config_t cfg = {.req_id = REQ, .commit = commit, .min_first = min_first, .snapshot_batch = batch,
                                 .request_timeout_ms = RT, .fetch_timeout_ms = FT, .leader = leader ? &l : NULL,
                                 .window_chunks = h->window_chunks};
    mk_error_t e;
    h->batch = batch;
    h->s = mk_snapfetch_new(&cfg, h->now, &e);
    if (!h->s) fail_msg("%s", e.msg);
    drain(h);
}

/* Steps the i-th queued answer into the session (no drain). */
static void feed(harness_t *h, size_t i) {
    assert_true(i < h->replies.n);
    mk_gsync_send_t r = h->replies.v[i];
    memmove(&h->replies.v[i], &h->replies.v[i + 1], (h->replies.n - i - 1) * sizeof r);
    h->replies.n--;
    mk_gsync_msg_t m;
    assert_int_equal(mk_gsync_msg_decode(r.bytes.ptr, r.bytes.len, &m, NULL), MK_OK);
    prov_t *p = prov_of(h, &r.to);
    if (m.kind == MK_GSYNC_FETCH_DATA_RESP) p->outstanding = false;
    assert_true(mk_snapfetch_step(h->s, h->now, &r.to, &m));
    mk_gsync_msg_free(&m);
    mk_buf_free(&r.bytes);
}

static size_t answer_from(harness_t *h, uint8_t fill_byte) {
    mk_peer_id_t id = pid(fill_byte);
    for (size_t i = 0; i < h->replies.n; i++)
        if (mk_id_eq(&h->replies.v[i].to, &id)) return i;
    fail_msg("no queued answer from %02x", fill_byte);
    return 0;
}

static void deliver_from(harness_t *h, uint8_t fill_byte) {
    feed(h, answer_from(h, fill_byte));
    drain(h);
}

static void run(harness_t *h) {
    for (int guard = 0; guard < 100000 && h->replies.n; guard++) {
        feed(h, 0);
        drain(h);
    }
}

static void down(harness_t *h, uint8_t fill_byte) {
    mk_peer_id_t id = pid(fill_byte);
    prov_t *p = prov_of(h, &id);
    p->up = false;
    p->outstanding = false;
    for (size_t i = h->replies.n; i-- > 0;)  /* what was on the way is lost with the bond */
        if (mk_id_eq(&h->replies.v[i].to, &id)) drop_reply(h, i);
    mk_snapfetch_peer_down(h->s, h->now, &id);
}

static void harness_free(harness_t *h) {
    mk_snapfetch_free(h->s);
    mk_gsync_outbox_free(&h->replies);
}

static void assert_inflight(harness_t *h, uint8_t fill_byte, mk_index_t anchor, uint64_t from, uint64_t to) {
    mk_peer_id_t id = pid(fill_byte);
    mk_cursor_t a;
    uint64_t f = 0, t = 0;
    if (!mk_snapfetch_inflight(h->s, &id, &a, &f, &t)) fail_msg("nothing in flight to %02x", fill_byte);
    if (a.index != anchor || f != from || t != to)
        fail_msg("in flight to %02x: %llu [%llu, %llu), want %llu [%llu, %llu)", fill_byte,
                 (unsigned long long)a.index, (unsigned long long)f, (unsigned long long)t,
                 (unsigned long long)anchor, (unsigned long long)from, (unsigned long long)to);
}

static void assert_idle(harness_t *h, uint8_t fill_byte) {
    mk_peer_id_t id = pid(fill_byte);
    assert_false(mk_snapfetch_inflight(h->s, &id, NULL, NULL, NULL));
}

static size_t count_sent(harness_t *h, size_t from, uint8_t fill_byte, mk_gsync_msg_kind_t kind) {
    mk_peer_id_t id = pid(fill_byte);
    size_t n = 0;
    for (size_t i = from; i < h->nsent; i++)
        if (mk_id_eq(&h->sent[i].to, &id) && h->sent[i].kind == kind) n++;
    return n;
}

static harness_t *new_harness(void) {
    harness_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->now = 1000;
    h->strict = true;
    return h;
}

enum { N1 = 0x10, N2 = 0x20, L = 0x30, X = 0x40 };

/* ---- tests ------------------------------------------------------------------------------------------------- */

/* RequestSnapshot goes to the leader at once, again every request_timeout to the leader of that moment;
 * with no leader known it waits and goes out as soon as one is set; a usable offer stops it. */
static void test_request_resend(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, L);
    add_prov(h, N1);
    add_prov(h, N2);
    static const uint8_t leader = L;
    start(h, 10, 0, 10, &leader);
    assert_int_equal(h->nsent, 1);
    assert_int_equal(h->sent[0].kind, MK_GSYNC_REQ_SNAPSHOT);
    assert_int_equal(h->sent[0].to.b[0], L);
    assert_int_equal(mk_snapfetch_next_deadline(h->s), h->now + RT);
    /* a new leader: nothing sent by itself */
    mk_peer_id_t n1 = pid(N1);
    mk_snapfetch_set_leader(h->s, h->now + 10, &n1);
    drain(h);
    assert_int_equal(h->nsent, 1);
    mk_snapfetch_tick(h->s, h->now + RT - 1);
    drain(h);
    assert_int_equal(h->nsent, 1);
    /* the timeout: to the new leader */
    h->now += RT;
    mk_snapfetch_tick(h->s, h->now);
    drain(h);
    assert_int_equal(h->nsent, 2);
    assert_int_equal(h->sent[1].kind, MK_GSYNC_REQ_SNAPSHOT);
    assert_int_equal(h->sent[1].to.b[0], N1);
    assert_int_equal(mk_snapfetch_next_deadline(h->s), h->now + RT);
    /* leader unknown when the timer fires: held until one is known, then sent at once */
    mk_snapfetch_set_leader(h->s, h->now, NULL);
    h->now += RT;
    mk_snapfetch_tick(h->s, h->now);
    drain(h);
    assert_int_equal(h->nsent, 2);
    assert_int_equal(mk_snapfetch_next_deadline(h->s), INT64_MAX);
    mk_peer_id_t n2 = pid(N2);
    h->now += 7;
    mk_snapfetch_set_leader(h->s, h->now, &n2);
    drain(h);
    assert_int_equal(h->nsent, 3);
    assert_int_equal(h->sent[2].to.b[0], N2);
    mk_snapfetch_status_t st;
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nrequests, 3);
    assert_true(st.waiting);
    /* a usable offer: no more requests */
    offer(h, N1, 20, 5);
    drain(h);
    assert_int_equal(h->begins, 1);
    mk_snapfetch_status(h->s, &st);
    assert_false(st.waiting);
    run(h);
    assert_int_equal(h->dones, 1);
    for (int i = 0; i < 5; i++) {
        h->now += RT;
        mk_snapfetch_tick(h->s, h->now);
        drain(h);
    }
    assert_int_equal(count_sent(h, 0, N2, MK_GSYNC_REQ_SNAPSHOT) + count_sent(h, 0, L, MK_GSYNC_REQ_SNAPSHOT) +
                         count_sent(h, 0, N1, MK_GSYNC_REQ_SNAPSHOT),
                     3);
    harness_free(h);
    free(h);

    /* no leader at creation: nothing sent until one is set */
    h = new_harness();
    add_prov(h, L);
    start(h, 0, 0, 10, NULL);
    assert_int_equal(h->nsent, 0);
    assert_int_equal(mk_snapfetch_next_deadline(h->s), INT64_MAX);
    mk_peer_id_t l = pid(L);
    mk_snapfetch_set_leader(h->s, h->now, &l);
    drain(h);
    assert_int_equal(h->nsent, 1);
    assert_int_equal(h->sent[0].to.b[0], L);
    harness_free(h);
    free(h);
}

/* Offers below the commit index are ignored for good (the request timer keeps running); the buffer floor
 * (anchor + 1 ≥ min_first) holds offers back until it is lowered, and raising it past the chosen anchor
 * gives that anchor up; an anchor equal to the commit is fine. */
static void test_offer_constraints(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, L);
    add_prov(h, N1);
    add_prov(h, N2);
    static const uint8_t leader = L;
    start(h, 50, 70, 10, &leader);
    offer(h, N1, 40, 5);   /* below commit */
    offer(h, N2, 60, 5);   /* 61 < 70: leaves a gap before the buffer */
    drain(h);
    assert_int_equal(h->begins, 0);
    mk_snapfetch_status_t st;
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nignored, 1);
    assert_int_equal(st.nanchors, 0);
    assert_true(st.waiting);
    h->now += RT;
    mk_snapfetch_tick(h->s, h->now);
    drain(h);
    assert_int_equal(count_sent(h, 0, L, MK_GSYNC_REQ_SNAPSHOT), 2);
    /* the buffer was dropped: 60 is usable now */
    mk_snapfetch_set_min_first(h->s, h->now, 0);
    drain(h);
    assert_int_equal(h->begins, 1);
    assert_int_equal(h->anchor.index, 60);
    /* a new buffer starting at 65 leaves a gap after 60: given up, asked again at once */
    size_t mark = h->nsent;
    mk_snapfetch_set_min_first(h->s, h->now, 65);
    drain(h);
    assert_int_equal(h->restarts, 1);
    assert_int_equal(count_sent(h, mark, L, MK_GSYNC_REQ_SNAPSHOT), 1);
    offer(h, N1, 70, 4);
    drain(h);
    assert_int_equal(h->begins, 2);
    assert_int_equal(h->anchor.index, 70);
    run(h);
    assert_int_equal(h->dones, 1);
    assert_int_equal(h->installed.index, 70);
    harness_free(h);
    free(h);

    /* anchor + 1 == min_first and anchor == commit are both usable */
    h = new_harness();
    add_prov(h, N1);
    start(h, 50, 70, 10, NULL);
    offer(h, N1, 69, 3);
    drain(h);
    assert_int_equal(h->begins, 1);
    assert_int_equal(h->anchor.index, 69);
    harness_free(h);
    free(h);
    h = new_harness();
    add_prov(h, N1);
    start(h, 50, 0, 10, NULL);
    offer(h, N1, 50, 3);
    drain(h);
    assert_int_equal(h->begins, 1);
    run(h);
    assert_int_equal(h->dones, 1);
    assert_int_equal(h->installed.index, 50);
    harness_free(h);
    free(h);
}

/* Offers of one loop turn: the highest anchor wins, only its offerer is asked; a later lower one changes
 * nothing. */
static void test_highest_anchor(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, L);
    add_prov(h, N1);
    add_prov(h, N2);
    static const uint8_t leader = L;
    start(h, 10, 0, 10, &leader);
    offer(h, N1, 60, 30);
    offer(h, N2, 80, 30);
    offer(h, L, 70, 30);
    size_t mark = h->nsent;
    drain(h);
    assert_int_equal(h->begins, 1);
    assert_int_equal(h->anchor.index, 80);
    assert_int_equal(h->anchor.term, term_of(80));
    assert_int_equal(h->nsent, mark + 1);
    assert_inflight(h, N2, 80, 0, 10);
    assert_idle(h, N1);
    assert_idle(h, L);
    mk_snapfetch_status_t st;
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nanchors, 3);
    assert_int_equal(st.nofferers, 1);
    offer(h, N1, 75, 30);  /* lower than the current one */
    drain(h);
    run(h);
    assert_int_equal(h->begins, 1);
    assert_int_equal(h->restarts, 0);
    assert_int_equal(h->dones, 1);
    assert_int_equal(h->installed.index, 80);
    assert_int_equal(count_sent(h, 0, N1, MK_GSYNC_FETCH_DATA_REQ), 0);
    assert_int_equal(count_sent(h, 0, L, MK_GSYNC_FETCH_DATA_REQ), 0);
    harness_free(h);
    free(h);
}

/* Three offerers: the first chunks go to N1, N2 and only then the leader, one request in flight each;
 * everything arrives in order; done after the last item, with the short last chunk. */
static void test_parallel_fetch(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, L);
    add_prov(h, N1);
    add_prov(h, N2);
    static const uint8_t leader = L;
    start(h, 10, 0, 10, &leader);
    offer(h, L, 100, 95);
    offer(h, N1, 100, 95);
    offer(h, N2, 100, 95);
    size_t mark = h->nsent;
    drain(h);
    assert_int_equal(h->begins, 1);
    assert_int_equal(h->count, 95);
    assert_int_equal(h->nsent, mark + 3);
    assert_inflight(h, N1, 100, 0, 10);
    assert_inflight(h, N2, 100, 10, 20);
    assert_inflight(h, L, 100, 20, 30);
    assert_int_equal(h->sent[mark].to.b[0], N1);
    assert_int_equal(h->sent[mark + 1].to.b[0], N2);
    assert_int_equal(h->sent[mark + 2].to.b[0], L);
    mk_snapfetch_status_t st;
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nbusy, 3);
    assert_int_equal(st.nofferers, 3);
    assert_int_equal(mk_snapfetch_next_deadline(h->s), h->now + FT);
    drain(h);
    assert_int_equal(h->nsent, mark + 3);  /* nothing more while all are busy */
    deliver_from(h, N2);                   /* N2 gets the next chunk; nothing released yet */
    assert_inflight(h, N2, 100, 30, 40);
    assert_int_equal(h->items, 0);
    deliver_from(h, N1);
    assert_int_equal(h->items, 20);
    run(h);
    assert_int_equal(h->dones, 1);
    assert_int_equal(h->items, 95);
    assert_int_equal(h->installed.index, 100);
    assert_true(mk_snapfetch_done(h->s));
    size_t fetches = 0;
    for (size_t i = mark; i < h->nsent; i++)
        if (h->sent[i].kind == MK_GSYNC_FETCH_DATA_REQ) fetches++;
    assert_int_equal(fetches, 10);
    assert_int_equal(h->sent[h->nsent - 1].upto, 95);
    for (size_t i = 0; i < 3; i++) assert_true(h->prov[i].served >= 1);
    mk_snapfetch_status(h->s, &st);
    assert_true(st.done);
    assert_int_equal(st.released, 95);
    assert_int_equal(mk_snapfetch_next_deadline(h->s), INT64_MAX);
    /* after done: nothing more, late messages are consumed and ignored */
    offer(h, N1, 200, 5);
    mk_snapfetch_ready_t rd;
    assert_false(mk_snapfetch_ready(h->s, &rd));
    mk_snapfetch_advance(h->s, &rd);
    harness_free(h);
    free(h);
}

/* Answers arrive last chunk first: nothing is released until the first one, then all three at once. */
static void test_out_of_order(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, N1);
    add_prov(h, N2);
    add_prov(h, L);
    static const uint8_t leader = L;
    start(h, 0, 0, 10, &leader);
    offer(h, N1, 5, 30);
    offer(h, N2, 5, 30);
    offer(h, L, 5, 30);
    drain(h);
    feed(h, answer_from(h, L));
    feed(h, answer_from(h, N2));
    drain(h);
    assert_int_equal(h->items, 0);
    mk_snapfetch_status_t st;
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nheld, 2);
    assert_int_equal(st.released, 0);
    feed(h, answer_from(h, N1));
    drain(h);
    assert_int_equal(h->items, 30);
    assert_int_equal(h->dones, 1);
    harness_free(h);
    free(h);
}

/* Answers cut to the frame: the items that came are kept, the rest of the chunk is asked again (by the
 * same peer when it is the only idle one). */
static void test_short_response(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, N1)->max_items = 4;
    add_prov(h, N2);
    start(h, 0, 0, 10, NULL);
    offer(h, N1, 9, 40);
    offer(h, N2, 9, 40);
    drain(h);
    assert_inflight(h, N1, 9, 0, 10);
    assert_inflight(h, N2, 9, 10, 20);
    deliver_from(h, N1);
    assert_int_equal(h->items, 4);
    assert_inflight(h, N1, 9, 4, 10);  /* the rest of its chunk */
    deliver_from(h, N1);
    assert_int_equal(h->items, 8);
    assert_inflight(h, N1, 9, 8, 10);
    deliver_from(h, N2);
    assert_inflight(h, N2, 9, 20, 30);
    run(h);
    assert_int_equal(h->dones, 1);
    assert_int_equal(h->items, 40);
    harness_free(h);
    free(h);
}

/* The reorder buffer is bounded: only chunks starting within window_chunks × batch of the next item to
 * release are asked for, so a slow first chunk holds the other offerers back. */
static void test_window(void **state) {
    (void)state;
    harness_t *h = new_harness();
    h->window_chunks = 2;
    add_prov(h, N1);
    add_prov(h, N2);
    add_prov(h, L);
    start(h, 0, 0, 5, NULL);
    offer(h, N1, 4, 40);
    offer(h, N2, 4, 40);
    offer(h, L, 4, 40);
    drain(h);
    assert_inflight(h, N1, 4, 0, 5);
    assert_inflight(h, N2, 4, 5, 10);
    assert_idle(h, L);               /* [10, 15) starts outside the window */
    deliver_from(h, N2);             /* held; the window has not moved */
    assert_idle(h, N2);
    assert_idle(h, L);
    mk_snapfetch_status_t st;
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nheld, 1);
    deliver_from(h, N1);             /* 10 items released: the window moves to [10, 20) */
    assert_int_equal(h->items, 10);
    assert_inflight(h, N1, 4, 10, 15);
    assert_inflight(h, N2, 4, 15, 20);
    assert_idle(h, L);
    run(h);
    assert_int_equal(h->dones, 1);
    assert_int_equal(h->items, 40);
    harness_free(h);
    free(h);
}

/* Gone drops the offer and the chunk goes to the next idle offerer; a timeout does the same; neither peer
 * is asked again for that anchor, and a re-offer of it is ignored. */
static void test_gone_and_timeout(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, N1);
    add_prov(h, N2)->mute = true;
    add_prov(h, L);
    static const uint8_t leader = L;
    start(h, 0, 0, 10, &leader);
    offer(h, N1, 7, 50);
    offer(h, N2, 7, 50);
    offer(h, L, 7, 50);
    h->prov[0].nsnaps = 0;  /* N1 lost its snapshot: it will answer gone */
    drain(h);
    assert_inflight(h, N1, 7, 0, 10);
    assert_inflight(h, N2, 7, 10, 20);
    assert_inflight(h, L, 7, 20, 30);
    size_t mark = h->nsent;
    int64_t t0 = h->now;
    deliver_from(h, N1);  /* gone: [0, 10) waits for an idle offerer */
    assert_idle(h, N1);
    mk_snapfetch_status_t st;
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.ndropped, 1);
    assert_int_equal(st.nofferers, 2);
    h->now += 100;
    deliver_from(h, L);   /* L is idle: it gets the lowest chunk */
    assert_inflight(h, L, 7, 0, 10);
    /* N2 never answers: at the fetch timeout its offer goes and its chunk is reassigned */
    int64_t deadline = mk_snapfetch_next_deadline(h->s);
    assert_int_equal(deadline, t0 + FT);
    h->now = deadline;
    mk_snapfetch_tick(h->s, h->now);
    drain(h);
    assert_idle(h, N2);
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.ndropped, 2);
    assert_int_equal(st.nofferers, 1);
    /* offered again after gone (it made the snapshot anew): back in, and it serves chunks again */
    offer(h, N1, 7, 50);
    drain(h);
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nofferers, 2);
    run(h);
    assert_int_equal(h->dones, 1);
    assert_int_equal(h->items, 50);
    assert_true(count_sent(h, mark, N1, MK_GSYNC_FETCH_DATA_REQ) >= 1);
    assert_int_equal(count_sent(h, mark, N2, MK_GSYNC_FETCH_DATA_REQ), 0);
    size_t n10 = 0;  /* the timed-out chunk [10, 20) was asked again, once */
    for (size_t i = mark; i < h->nsent; i++)
        if (h->sent[i].kind == MK_GSYNC_FETCH_DATA_REQ && h->sent[i].from == 10) n10++;
    assert_int_equal(n10, 1);
    assert_int_equal(h->restarts, 0);
    harness_free(h);
    free(h);
}

/* A provider that answers more items than asked is dropped for good: offering again does not bring it
 * back (unlike a timeout or "gone"). */
static void test_wrong_answer_stays_dropped(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, N1)->overfill = true;
    add_prov(h, N2);
    start(h, 0, 0, 10, NULL);
    offer(h, N1, 7, 30);
    offer(h, N2, 7, 30);
    drain(h);
    deliver_from(h, N1);  /* 11 items for [0, 10): dropped as bad */
    mk_snapfetch_status_t st;
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.ndropped, 1);
    assert_int_equal(st.nofferers, 1);
    size_t ignored = st.nignored;
    offer(h, N1, 7, 30);
    drain(h);
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nofferers, 1);
    assert_int_equal(st.nignored, ignored + 1);
    h->prov[0].overfill = false;
    run(h);
    assert_int_equal(h->dones, 1);
    assert_int_equal(h->items, 30);
    harness_free(h);
    free(h);
}

/* A peer going down: its chunk is reassigned; the chosen anchor losing its last offerer falls back to the
 * next best (restart), then, with nothing left, RequestSnapshot goes out at once and the session waits. */
static void test_peer_down_fallback(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, N1);
    add_prov(h, N2);
    add_prov(h, L);
    static const uint8_t leader = L;
    start(h, 0, 0, 10, &leader);
    offer(h, N1, 80, 60);
    offer(h, N2, 80, 60);
    offer(h, N2, 60, 40);
    drain(h);
    assert_int_equal(h->anchor.index, 80);
    deliver_from(h, N1);
    assert_int_equal(h->items, 10);
    assert_inflight(h, N1, 80, 20, 30);
    down(h, N1);
    drain(h);
    assert_inflight(h, N2, 80, 10, 20);
    deliver_from(h, N2);  /* [10, 20) then [20, 30) is the lowest */
    assert_inflight(h, N2, 80, 20, 30);
    assert_int_equal(h->items, 20);
    assert_int_equal(h->restarts, 0);
    /* L offers 60 (but will answer gone); N2 goes down: 80 has no offerer left, fall back to 60 */
    size_t mark = h->nsent;
    offer(h, L, 60, 40);
    h->prov[2].nsnaps = 0;
    down(h, N2);
    drain(h);
    assert_int_equal(h->restarts, 1);
    assert_int_equal(h->begins, 2);
    assert_int_equal(h->anchor.index, 60);
    assert_int_equal(h->expect, 0);
    mk_snapfetch_status_t st;
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nswitches, 1);
    assert_int_equal(count_sent(h, mark, L, MK_GSYNC_REQ_SNAPSHOT), 0);
    /* L answers gone for 60: nothing usable, restart without begin and a request at once */
    deliver_from(h, L);
    assert_int_equal(h->restarts, 2);
    assert_int_equal(h->begins, 2);
    assert_false(h->open);
    assert_int_equal(count_sent(h, mark, L, MK_GSYNC_REQ_SNAPSHOT), 1);
    mk_snapfetch_status(h->s, &st);
    assert_true(st.waiting);
    assert_false(st.chosen);
    assert_int_equal(mk_snapfetch_next_deadline(h->s), h->now + RT);
    /* a new snapshot */
    offer(h, L, 90, 25);
    drain(h);
    assert_int_equal(h->begins, 3);
    run(h);
    assert_int_equal(h->dones, 1);
    assert_int_equal(h->installed.index, 90);
    harness_free(h);
    free(h);
}

/* A higher anchor arriving mid-fetch replaces the current one: restart + begin in one batch, progress
 * dropped, peers busy on the old anchor not asked again until they answered (ignored). */
static void test_higher_anchor_replaces(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, N1);
    add_prov(h, N2);
    add_prov(h, L);
    static const uint8_t leader = L;
    start(h, 0, 0, 10, &leader);
    offer(h, N1, 40, 50);
    offer(h, N2, 40, 50);
    drain(h);
    deliver_from(h, N1);
    assert_int_equal(h->items, 10);
    assert_inflight(h, N1, 40, 20, 30);
    assert_inflight(h, N2, 40, 10, 20);
    offer(h, L, 45, 20);
    offer(h, N1, 45, 20);
    drain(h);
    assert_int_equal(h->restarts, 1);
    assert_int_equal(h->begins, 2);
    assert_int_equal(h->anchor.index, 45);
    assert_int_equal(h->expect, 0);
    assert_inflight(h, L, 45, 0, 10);
    assert_inflight(h, N1, 40, 20, 30);  /* still out: not asked twice at once */
    deliver_from(h, N1);                 /* the old answer: ignored; N1 now fetches for 45 */
    assert_int_equal(h->items, 10);
    assert_inflight(h, N1, 45, 10, 20);
    deliver_from(h, N2);                 /* N2 did not offer 45: idle from now on */
    assert_idle(h, N2);
    run(h);
    assert_int_equal(h->dones, 1);
    assert_int_equal(h->installed.index, 45);
    assert_int_equal(h->items, 30);
    mk_snapfetch_status_t st;
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nswitches, 1);
    harness_free(h);
    free(h);

    /* replaced by a zero-item snapshot: restart, begin and done in one batch */
    h = new_harness();
    add_prov(h, N1);
    add_prov(h, N2);
    start(h, 0, 0, 10, NULL);
    offer(h, N1, 40, 50);
    drain(h);
    offer(h, N2, 50, 0);
    offer(h, N1, 60, 0);
    drain(h);
    assert_int_equal(h->restarts, 1);
    assert_int_equal(h->begins, 2);
    assert_int_equal(h->dones, 1);
    assert_int_equal(h->installed.index, 60);
    harness_free(h);
    free(h);
}

/* An anchor given up and chosen again is a new fetch: an answer to a request of the first round is not
 * taken for one of the second (its chunk is in todo again), the peer only becomes idle. */
static void test_fallback_to_earlier_anchor(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, N1);
    add_prov(h, N2);
    start(h, 0, 0, 5, NULL);
    offer(h, N1, 40, 20);
    drain(h);
    assert_inflight(h, N1, 40, 0, 5);
    offer(h, N2, 50, 20);
    drain(h);
    assert_int_equal(h->anchor.index, 50);
    assert_inflight(h, N2, 50, 0, 5);
    assert_inflight(h, N1, 40, 0, 5);
    down(h, N2);
    drain(h);  /* back to 40: N1 still busy with the first round's request */
    assert_int_equal(h->anchor.index, 40);
    assert_int_equal(h->restarts, 2);
    assert_int_equal(h->begins, 3);
    deliver_from(h, N1);  /* the first round's answer: not used */
    assert_int_equal(h->items, 0);
    assert_inflight(h, N1, 40, 0, 5);
    run(h);
    assert_int_equal(h->dones, 1);
    assert_int_equal(h->items, 20);
    mk_snapfetch_status_t st;
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nheld, 0);
    assert_int_equal(st.nswitches, 2);
    harness_free(h);
    free(h);
}

/* A zero-item snapshot: begin and done in the same batch, no fetch at all. */
static void test_zero_items(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, N1);
    static const uint8_t leader = N1;
    start(h, 3, 0, 10, &leader);
    offer(h, N1, 3, 0);
    mk_snapfetch_ready_t rd;
    assert_true(mk_snapfetch_ready(h->s, &rd));
    assert_true(rd.begin);
    assert_true(rd.done);
    assert_false(rd.restart);
    assert_int_equal(rd.nitems, 0);
    assert_int_equal(rd.nmsgs, 0);
    assert_int_equal(rd.item_count, 0);
    assert_int_equal(rd.anchor.index, 3);
    assert_true(rd.header.len > 0);
    mk_snapfetch_advance(h->s, &rd);
    assert_false(mk_snapfetch_ready(h->s, &rd));
    mk_snapfetch_advance(h->s, &rd);
    assert_true(mk_snapfetch_done(h->s));
    harness_free(h);
    free(h);
}

/* What the session leaves to the caller, inconsistent offers, and config checks. */
static void test_filter_and_config(void **state) {
    (void)state;
    harness_t *h = new_harness();
    add_prov(h, N1);
    add_prov(h, N2);
    start(h, 0, 0, 10, NULL);
    mk_peer_id_t n1 = pid(N1), n2 = pid(N2);
    mk_gsync_msg_t m;
    mk_buf_t hdr = offer_msg(5, 10, REQ + 1, &m);
    assert_false(mk_snapfetch_step(h->s, h->now, &n1, &m));  /* another request's offer */
    mk_buf_free(&hdr);
    m = (mk_gsync_msg_t){.kind = MK_GSYNC_FETCH_DATA_RESP};
    m.fetch_data_resp.anchor = anchor_at(5);
    m.fetch_data_resp.gone = true;
    assert_false(mk_snapfetch_step(h->s, h->now, &n1, &m));  /* an anchor nobody offered */
    mk_gsync_msg_t q = {.kind = MK_GSYNC_REQ_SNAPSHOT};
    assert_false(mk_snapfetch_step(h->s, h->now, &n1, &q));
    q = (mk_gsync_msg_t){.kind = MK_GSYNC_FETCH_DATA_REQ};
    q.fetch_data_req.anchor = anchor_at(5);
    q.fetch_data_req.to = 1;
    assert_false(mk_snapfetch_step(h->s, h->now, &n1, &q));
    q = (mk_gsync_msg_t){.kind = MK_GSYNC_AVAIL_REQ};
    assert_false(mk_snapfetch_step(h->s, h->now, &n1, &q));
    offer(h, N1, 5, 10);
    assert_true(mk_snapfetch_step(h->s, h->now, &n2, &m));  /* now a known anchor: stale, consumed */
    hdr = offer_msg(5, 11, REQ, &m);                         /* same anchor, other item count */
    assert_true(mk_snapfetch_step(h->s, h->now, &n2, &m));
    mk_buf_free(&hdr);
    mk_snapfetch_status_t st;
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nignored, 1);
    drain(h);
    mk_snapfetch_status(h->s, &st);
    assert_int_equal(st.nofferers, 1);
    run(h);
    assert_int_equal(h->dones, 1);
    harness_free(h);
    free(h);

    mk_error_t e;
    mk_snapfetch_config_t cfg = {.req_id = 1, .snapshot_batch = 0, .request_timeout_ms = 1, .fetch_timeout_ms = 1};
    assert_null(mk_snapfetch_new(&cfg, 0, &e));
    assert_non_null(strstr(e.msg, "snapshot_batch"));
    cfg.snapshot_batch = 1;
    cfg.request_timeout_ms = 0;
    assert_null(mk_snapfetch_new(&cfg, 0, &e));
    assert_non_null(strstr(e.msg, "request_timeout_ms"));
    cfg.request_timeout_ms = 1;
    cfg.fetch_timeout_ms = 0;
    assert_null(mk_snapfetch_new(&cfg, 0, &e));
    assert_non_null(strstr(e.msg, "fetch_timeout_ms"));
    mk_snapfetch_free(NULL);
}

/* Random schedules (seeded): answers delivered in any order or lost, time jumps, peers going down and up,
 * providers losing snapshots, leader changes, spontaneous higher snapshots (restarts) and offers below the
 * commit. A RequestSnapshot reaching an up peer makes a new marker: every up provider (mostly) snapshots at
 * a higher anchor and offers it. After the chaos, everyone is up and nothing is lost: the session must
 * finish, every install attempt having received its items exactly once and in order. */
static void test_random_schedules(void **state) {
    (void)state;
    static const uint8_t ids[] = {N1, N2, N1 + 1, L};
    for (uint64_t seed = 1; seed <= 80; seed++) {
        uint64_t st = seed;
        harness_t *h = new_harness();
        h->strict = false;
        h->markers = true;
        h->rng = &st;
        for (size_t i = 0; i < 4; i++) add_prov(h, ids[i])->max_items = rnd(&st) % 3 ? 0 : 1 + rnd(&st) % 8;
        h->window_chunks = (uint32_t)(rnd(&st) % 4);
        h->big = rnd(&st) % 4 == 0;
        mk_index_t commit = rnd(&st) % 40;
        h->last_marker = commit + rnd(&st) % 5;
        uint8_t leader = ids[rnd(&st) % 4];
        start(h, commit, 0, (uint32_t)(1 + rnd(&st) % 12), &leader);
        bool down_now[4] = {false, false, false, false};
        for (int step = 0; step < 3000 && h->dones == 0; step++) {
            uint64_t r = rnd(&st) % 100;
            if (r < 60 && h->replies.n) {
                feed(h, rnd(&st) % h->replies.n);
            } else if (r < 66 && h->replies.n) {
                drop_reply(h, rnd(&st) % h->replies.n);
            } else if (r < 80) {
                h->now += (int64_t)(rnd(&st) % (FT + 300));
                mk_snapfetch_tick(h->s, h->now);
            } else if (r < 88) {
                size_t k = rnd(&st) % 4;
                if (down_now[k]) h->prov[k].up = true;  /* re-bonded: offers again only on a new marker */
                else down(h, ids[k]);
                down_now[k] = !down_now[k];
            } else if (r < 91) {
                prov_t *p = &h->prov[rnd(&st) % 4];
                if (p->nsnaps) forget(p, rnd(&st) % p->nsnaps);  /* snapshot_ttl passed */
            } else if (r < 94) {
                mk_peer_id_t l = pid(ids[rnd(&st) % 4]);
                mk_snapfetch_set_leader(h->s, h->now, rnd(&st) % 4 ? &l : NULL);
            } else if (r < 97) {
                marker(h);  /* someone else's request, or an earlier one of ours */
            } else if (commit > 1) {
                prov_t *p = &h->prov[rnd(&st) % 4];  /* a stale snapshot below the commit */
                mk_gsync_msg_t m;
                mk_buf_t hdr = offer_msg(1 + rnd(&st) % (commit - 1), 3, REQ, &m);
                queue(h, &p->id, &m);
                mk_buf_free(&hdr);
            }
            drain(h);
            mk_snapfetch_status_t s1;
            mk_snapfetch_status(h->s, &s1);
            assert_true(s1.nheld <= (h->window_chunks ? h->window_chunks : 16) * (uint64_t)h->batch);
        }
        /* calm: everyone up, a leader, nothing lost, time moves */
        for (size_t k = 0; k < 4; k++) h->prov[k].up = true;
        mk_peer_id_t l = pid(L);
        mk_snapfetch_set_leader(h->s, h->now, &l);
        drain(h);
        for (int round = 0; round < 50 && h->dones == 0; round++) {
            run(h);
            h->now += RT;
            mk_snapfetch_tick(h->s, h->now);
            drain(h);
        }
        if (h->dones != 1) {
            mk_snapfetch_status_t s2;
            mk_snapfetch_status(h->s, &s2);
            fail_msg("seed %llu: not done (chosen %d, anchor %llu, released %llu of %llu, waiting %d)",
                     (unsigned long long)seed, s2.chosen, (unsigned long long)s2.anchor.index,
                     (unsigned long long)s2.released, (unsigned long long)s2.item_count, s2.waiting);
        }
        assert_true(h->installed.index >= commit);
        assert_int_equal(h->begins, h->restarts + 1);
        mk_snapfetch_status_t s2;
        mk_snapfetch_status(h->s, &s2);
        assert_int_equal(s2.released, h->count);
        assert_int_equal(s2.nheld, 0);
        /* late answers after done change nothing */
        run(h);
        assert_int_equal(h->dones, 1);
        assert_false(h->open);
        harness_free(h);
        free(h);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_resend),
        cmocka_unit_test(test_offer_constraints),
        cmocka_unit_test(test_highest_anchor),
        cmocka_unit_test(test_parallel_fetch),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_short_response),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_gone_and_timeout),
        cmocka_unit_test(test_wrong_answer_stays_dropped),
        cmocka_unit_test(test_peer_down_fallback),
        cmocka_unit_test(test_higher_anchor_replaces),
        cmocka_unit_test(test_fallback_to_earlier_anchor),
        cmocka_unit_test(test_zero_items),
        cmocka_unit_test(test_filter_and_config),
        cmocka_unit_test(test_random_schedules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
