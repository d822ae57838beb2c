/* unit/groups/test_sync_replay.c — log-replay state sync (spec 40 §8.1) over in-memory stores: a harness
 * routes the session's encoded requests to provider stores through mk_gsync_provide and the answers back
 * through the codec, and applies the released writes with mk_gsync_apply_entries. Covered: parallel fetch
 * from three providers with chunks given to non-leaders first and one request in flight per peer;
 * out-of-order answers released in order; responses cut short by the byte limit; a timed-out request
 * reassigned (and a peer going down); a chunk whose prev_term does not continue the log dropped with its
 * peer; a gone range leading to the stuck flag, re-asks every fetch timeout, and recovery; the apply rule
 * (never truncating at or below the commit index); a deposed leader's unverified tail above C replaced
 * by the fetched entries; the provider's answers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "groups/raft_wire.h"
#include "groups/sync/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROV 4
#define MAX_SENT 4096
#define SID 0x5eedu
#define TIMEOUT 1000

/* ---- logs ----------------------------------------------------------------------------------------------- */

static mk_peer_id_t pid(uint8_t fill) {
    mk_peer_id_t id;
    memset(id.b, fill, sizeof id.b);
    return id;
}

/* Appends entries first..last with term(i) = terms[i] (a table indexed by log index) and COMMAND bodies
 * naming index and term, so that logs of different histories differ in their bytes too. */
static void fill(mk_log_store_t *s, mk_index_t first, mk_index_t last, const mk_term_t *terms) {
    for (mk_index_t i = first; i <= last; i++) {
        char payload[48];
        snprintf(payload, sizeof payload, "entry %llu of term %llu", (unsigned long long)i,
                 (unsigned long long)terms[i]);
        mk_raft_body_t b;
        memset(&b, 0, sizeof b);
        b.kind = MK_ENTRY_COMMAND;
        b.command.seq = i;
        b.command.payload = (mk_bytes_t){payload, strlen(payload)};
        mk_buf_t body = MK_BUF_INIT;
        assert_int_equal(mk_raft_body_encode(&b, &body, NULL), MK_OK);
        mk_log_entry_t e = {.index = i, .term = terms[i], .kind = MK_ENTRY_COMMAND, .body = body.ptr, .len = body.len};
        assert_int_equal(s->vt->append(s->self, &e, 1), MK_OK);
        mk_buf_free(&body);
    }
}

static mk_log_store_t *store_with(mk_index_t last, const mk_term_t *terms) {
    mk_log_store_t *s = mk_log_store_memory();
    assert_non_null(s);
    if (last) fill(s, 1, last, terms);
    return s;
}

/* terms[i] for i in [1, n]: t1 up to `until`, then t2 (terms[0] = 0). */
static mk_term_t *two_terms(mk_index_t n, mk_index_t until, mk_term_t t1, mk_term_t t2) {
    mk_term_t *t = calloc(n + 1, sizeof *t);
    assert_non_null(t);
    for (mk_index_t i = 1; i <= n; i++) t[i] = i <= until ? t1 : t2;
    return t;
}

/* The stores hold the same entries (index, term, kind, body) over [first, last]. */
static void assert_same_log(mk_log_store_t *a, mk_log_store_t *b, mk_index_t first, mk_index_t last) {
    for (mk_index_t i = first; i <= last; i++) {
        mk_log_entry_t x, y;
        assert_int_equal(a->vt->get(a->self, i, &x), MK_OK);
        mk_term_t xt = x.term;
        uint8_t xk = x.kind;
        size_t xl = x.len;
        uint8_t *xb = malloc(xl + 1);
        assert_non_null(xb);
        memcpy(xb, x.body, xl);
        assert_int_equal(b->vt->get(b->self, i, &y), MK_OK);
        if (xt != y.term || xk != y.kind || xl != y.len || memcmp(xb, y.body, xl) != 0)
            fail_msg("logs differ at index %llu", (unsigned long long)i);
        free(xb);
    }
}

/* ---- harness ---------------------------------------------------------------------------------------------- */

typedef struct prov {
    mk_peer_id_t id;
    mk_log_store_t *store;
    mk_index_t commit;
    size_t max_bytes;
    bool mute_fetch;   /* answers AvailabilityRequests only */
    bool outstanding;  /* a FetchEntriesRequest sent to it is not answered yet (strict mode) */
    size_t served;     /* FetchEntriesRequests answered with entries */
} prov_t;

typedef struct sent {
    mk_peer_id_t to;
    mk_gsync_msg_kind_t kind;
    mk_index_t first, last;
} sent_t;

typedef struct harness {
    mk_replay_t *s;
    mk_log_store_t *local;
    mk_index_t commit;
    int64_t now;
    prov_t prov[MAX_PROV];
    size_t nprov;
    mk_gsync_outbox_t replies;  /* .to = the provider that answered (the session's `from`) */
    sent_t sent[MAX_SENT];
    size_t nsent;
    size_t nwrites, last_batch_writes, stuck_flips;
    mk_index_t truncations[16];
    size_t ntrunc;
    bool strict;               /* one FetchEntriesRequest in flight per provider, checked on the wire */
    bool last_stuck, done;
} harness_t;

static prov_t *prov_of(harness_t *h, const mk_peer_id_t *id) {
    for (size_t i = 0; i < h->nprov; i++)
        if (mk_id_eq(&h->prov[i].id, id)) return &h->prov[i];
    return NULL;
}

static prov_t *add_prov(harness_t *h, uint8_t fill_byte, mk_log_store_t *store, mk_index_t commit) {
    assert_true(h->nprov < MAX_PROV);
    prov_t *p = &h->prov[h->nprov++];
    memset(p, 0, sizeof *p);
    p->id = pid(fill_byte);
    p->store = store;
    p->commit = commit;
    p->max_bytes = 1 << 20;
    return p;
}

/* Handles every ready batch: requests go to the providers (answers queued), writes go to the local store. */
static void drain(harness_t *h) {
    mk_replay_ready_t rd;
    h->last_batch_writes = 0;
    while (mk_replay_ready(h->s, &rd)) {
        size_t fetches_in_batch[MAX_PROV] = {0};
        for (size_t i = 0; i < rd.nmsgs; i++) {
            mk_gsync_msg_t m;
            mk_error_t e;
            if (mk_gsync_msg_decode(rd.msgs[i].bytes.ptr, rd.msgs[i].bytes.len, &m, &e) != MK_OK)
                fail_msg("session sent a bad message: %s", e.msg);
            prov_t *p = prov_of(h, &rd.msgs[i].to);
            assert_non_null(p);
            assert_true(h->nsent < MAX_SENT);
            sent_t *rec = &h->sent[h->nsent++];
            rec->to = rd.msgs[i].to;
            rec->kind = m.kind;
            if (m.kind == MK_GSYNC_AVAIL_REQ) assert_int_equal(m.avail_req.sid, SID);
            if (m.kind == MK_GSYNC_FETCH_REQ) {
                assert_int_equal(m.fetch_req.sid, SID);
                rec->first = m.fetch_req.first;
                rec->last = m.fetch_req.last;
                assert_true(m.fetch_req.first > h->commit);
                fetches_in_batch[p - h->prov]++;
                assert_true(fetches_in_batch[p - h->prov] == 1);  /* one per peer */
                if (h->strict) {
                    assert_false(p->outstanding);
                    p->outstanding = true;
                }
            } else {
                assert_int_equal(m.kind, MK_GSYNC_AVAIL_REQ);
            }
            if (!(m.kind == MK_GSYNC_FETCH_REQ && p->mute_fetch)) {
                size_t before = h->replies.n;
                assert_int_equal(mk_gsync_provide(p->store, p->commit, p->max_bytes, &p->id, &m, &h->replies, NULL),
                                 MK_OK);
                assert_int_equal(h->replies.n, before + 1);
            }
            mk_gsync_msg_free(&m);
        }
        for (size_t i = 0; i < rd.nwrites; i++) {
            const mk_replay_write_t *w = &rd.writes[i];
            assert_int_equal(w->prev.index, h->commit);  /* in order, contiguous */
            mk_gsync_apply_result_t res;
            assert_int_equal(mk_gsync_apply_entries(h->local, h->commit, w->prev, w->entries, w->n, &res), MK_OK);
            assert_int_equal(res.skipped + res.appended, w->n);
            if (res.truncated_from) {
                assert_true(res.truncated_from > h->commit);  /* never at or below commit */
                assert_true(h->ntrunc < 16);
                h->truncations[h->ntrunc++] = res.truncated_from;
            }
            h->commit = w->prev.index + w->n;
            h->nwrites++;
            h->last_batch_writes++;
        }
        assert_int_equal(rd.committed, h->commit);
        if (rd.stuck_changed) h->stuck_flips++;
        h->last_stuck = rd.stuck;
        h->done = rd.done;
        mk_replay_advance(h->s, &rd);
    }
}

static void start(harness_t *h, mk_index_t commit, mk_term_t commit_term, mk_index_t target, uint32_t batch,
                  const uint8_t *peers, size_t npeers, int leader) {
    mk_replay_peer_t list[MAX_PROV];
    for (size_t i = 0; i < npeers; i++) list[i] = (mk_replay_peer_t){pid(peers[i]), (int)i == leader};
    mk_replay_config_t cfg = {.sid = SID, .commit = commit, .commit_term = commit_term, .target = target,
                              .replay_batch = batch, .fetch_timeout_ms = TIMEOUT, .peers = list, .npeers = npeers};
    mk_error_t e;
    h->commit = commit;
    h->s = mk_replay_new(&cfg, h->now, &e);
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
    if (m.kind == MK_GSYNC_FETCH_RESP) {
        p->outstanding = false;
        if (m.fetch_resp.nentries) p->served++;
    }
    assert_true(mk_replay_step(h->s, h->now, &r.to, &m));
    mk_gsync_msg_free(&m);
    mk_buf_free(&r.bytes);
}

/* The index of the first queued answer from provider `fill_byte` of the given kind. */
static size_t answer_from(harness_t *h, uint8_t fill_byte, mk_gsync_msg_kind_t kind) {
    mk_peer_id_t id = pid(fill_byte);
    for (size_t i = 0; i < h->replies.n; i++) {
        if (!mk_id_eq(&h->replies.v[i].to, &id)) continue;
        if ((mk_gsync_msg_kind_t)((uint8_t *)h->replies.v[i].bytes.ptr)[0] == kind) return i;
    }
    fail_msg("no queued answer from %02x of kind %d", fill_byte, (int)kind);
    return 0;
}

static void deliver_from(harness_t *h, uint8_t fill_byte, mk_gsync_msg_kind_t kind) {
    feed(h, answer_from(h, fill_byte, kind));
    drain(h);
}

static void run(harness_t *h) {
    for (int guard = 0; guard < 100000 && h->replies.n; guard++) {
        feed(h, 0);
        drain(h);
    }
}

static void harness_free(harness_t *h) {
    mk_replay_free(h->s);
    mk_gsync_outbox_free(&h->replies);
    for (size_t i = 0; i < h->nprov; i++) mk_log_store_free(h->prov[i].store);
    mk_log_store_free(h->local);
}

static void assert_inflight(harness_t *h, uint8_t fill_byte, mk_index_t first, mk_index_t last) {
    mk_peer_id_t id = pid(fill_byte);
    mk_index_t a = 0, b = 0;
    if (!mk_replay_inflight(h->s, &id, &a, &b)) fail_msg("nothing in flight to %02x", fill_byte);
    if (a != first || b != last)
        fail_msg("in flight to %02x: [%llu, %llu], want [%llu, %llu]", fill_byte, (unsigned long long)a,
                 (unsigned long long)b, (unsigned long long)first, (unsigned long long)last);
}

static void assert_idle(harness_t *h, uint8_t fill_byte) {
    mk_peer_id_t id = pid(fill_byte);
    assert_false(mk_replay_inflight(h->s, &id, NULL, NULL));
}

static size_t count_sent(harness_t *h, size_t from, uint8_t fill_byte, mk_gsync_msg_kind_t kind) {
    mk_peer_id_t id = pid(fill_byte);
    size_t n = 0;
    for (size_t i = from; i < h->nsent; i++)
        if (mk_id_eq(&h->sent[i].to, &id) && h->sent[i].kind == kind) n++;
    return n;
}

enum { N1 = 0x10, N2 = 0x20, L = 0x30, X = 0x40 };

/* ---- tests ------------------------------------------------------------------------------------------------- */

/* Three providers, the leader listed first: the availability answers of one loop turn are all seen, then
 * the first chunks go to N1, N2 and only then the leader; one request in flight per peer; the whole range
 * arrives, in order, equal to the providers' log. */
static void test_parallel_fetch(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->strict = true;
    mk_term_t *t = two_terms(100, 40, 1, 2);
    add_prov(h, L, store_with(100, t), 100);
    add_prov(h, N1, store_with(100, t), 100);
    add_prov(h, N2, store_with(100, t), 100);
    h->local = store_with(0, t);
    static const uint8_t peers[] = {L, N1, N2};
    start(h, 0, 0, 100, 10, peers, 3, 0);
    assert_int_equal(h->nsent, 3);
    for (size_t i = 0; i < 3; i++) assert_int_equal(h->sent[i].kind, MK_GSYNC_AVAIL_REQ);
    assert_false(h->last_stuck);  /* everyone still to answer */
    /* the three availability answers in one loop turn */
    feed(h, 0);
    feed(h, 0);
    feed(h, 0);
    drain(h);
    assert_int_equal(h->nsent, 6);
    assert_inflight(h, N1, 1, 10);
    assert_inflight(h, N2, 11, 20);
    assert_inflight(h, L, 21, 30);
    assert_int_equal(h->sent[3].to.b[0], N1);  /* sent in that order too */
    assert_int_equal(h->sent[4].to.b[0], N2);
    assert_int_equal(h->sent[5].to.b[0], L);
    mk_replay_status_t st;
    mk_replay_status(h->s, &st);
    assert_int_equal(st.nbusy, 3);
    assert_int_equal(st.npeers, 3);
    /* nothing more goes out while all three are busy */
    drain(h);
    assert_int_equal(h->nsent, 6);
    /* N2 answers: it gets the next chunk, nothing is released yet */
    deliver_from(h, N2, MK_GSYNC_FETCH_RESP);
    assert_inflight(h, N2, 31, 40);
    assert_int_equal(h->nwrites, 0);
    /* the rest */
    run(h);
    assert_true(h->done);
    assert_true(mk_replay_done(h->s));
    assert_int_equal(h->commit, 100);
    assert_same_log(h->local, h->prov[0].store, 1, 100);
    mk_cursor_t last = h->local->vt->last(h->local->self);
    assert_int_equal(last.index, 100);
    assert_int_equal(last.term, 2);
    assert_int_equal(h->ntrunc, 0);
    for (size_t i = 0; i < 3; i++) assert_true(h->prov[i].served >= 1);
    size_t fetches = 0;
    for (size_t i = 0; i < h->nsent; i++)
        if (h->sent[i].kind == MK_GSYNC_FETCH_REQ) {
            fetches++;
            assert_true(h->sent[i].last - h->sent[i].first + 1 <= 10);
        }
    assert_int_equal(fetches, 10);
    mk_replay_status(h->s, &st);
    assert_true(st.done);
    assert_int_equal(st.released, 100);
    assert_int_equal(mk_replay_next_deadline(h->s), INT64_MAX);
    harness_free(h);
    free(t);
    free(h);
}

/* Answers arrive last chunk first: nothing is written until the first chunk is there, then all three
 * are released at once, in order. */
static void test_out_of_order(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->strict = true;
    mk_term_t *t = two_terms(30, 15, 1, 3);
    add_prov(h, N1, store_with(30, t), 30);
    add_prov(h, N2, store_with(30, t), 30);
    add_prov(h, L, store_with(30, t), 30);
    h->local = store_with(0, t);
    static const uint8_t peers[] = {N1, N2, L};
    start(h, 0, 0, 30, 10, peers, 3, 2);
    feed(h, 0);
    feed(h, 0);
    feed(h, 0);
    drain(h);
    assert_inflight(h, N1, 1, 10);
    assert_inflight(h, N2, 11, 20);
    assert_inflight(h, L, 21, 30);
    deliver_from(h, L, MK_GSYNC_FETCH_RESP);
    deliver_from(h, N2, MK_GSYNC_FETCH_RESP);
    mk_replay_status_t st;
    mk_replay_status(h->s, &st);
    assert_int_equal(st.nheld, 2);
    assert_int_equal(st.released, 0);
    assert_int_equal(h->nwrites, 0);
    assert_false(h->done);
    deliver_from(h, N1, MK_GSYNC_FETCH_RESP);
    assert_int_equal(h->last_batch_writes, 3);
    assert_int_equal(h->commit, 30);
    assert_true(h->done);
    assert_same_log(h->local, h->prov[0].store, 1, 30);
    harness_free(h);
    free(t);
    free(h);
}

/* A byte limit that fits about three entries: answers are cut short at entry boundaries, the rest of each
 * chunk is asked again, the log still arrives whole. */
static void test_partial_responses(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->strict = true;
    mk_term_t *t = two_terms(60, 30, 2, 5);
    add_prov(h, N1, store_with(60, t), 60)->max_bytes = 120;
    add_prov(h, N2, store_with(60, t), 55)->max_bytes = 120;  /* commit 55: offers [1, 55] */
    add_prov(h, L, store_with(60, t), 60)->max_bytes = 120;
    h->local = store_with(0, t);
    static const uint8_t peers[] = {N1, N2, L};
    start(h, 0, 0, 60, 20, peers, 3, 2);
    run(h);
    assert_true(h->done);
    assert_int_equal(h->commit, 60);
    assert_same_log(h->local, h->prov[0].store, 1, 60);
    size_t fetches = 0;
    mk_peer_id_t n2 = pid(N2);
    for (size_t i = 0; i < h->nsent; i++) {
        if (h->sent[i].kind != MK_GSYNC_FETCH_REQ) continue;
        fetches++;
        if (mk_id_eq(&h->sent[i].to, &n2)) assert_true(h->sent[i].last <= 55);  /* clamped to its range */
    }
    assert_true(fetches > 60 / 20 * 3);  /* many more requests than chunks */
    harness_free(h);
    free(t);
    free(h);
}

/* N1 never answers its fetch: after fetch_timeout its range is dropped, it is asked again, and its chunk
 * goes to the next idle peer. A peer going down hands its chunk back the same way. */
static void test_timeout_reassign(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    mk_term_t *t = two_terms(80, 80, 1, 1);
    add_prov(h, N1, store_with(80, t), 80)->mute_fetch = true;
    add_prov(h, N2, store_with(80, t), 80);
    add_prov(h, L, store_with(80, t), 80);
    h->local = store_with(0, t);
    static const uint8_t peers[] = {N1, N2, L};
    h->now = 10000;
    start(h, 0, 0, 80, 10, peers, 3, 2);
    feed(h, 0);
    feed(h, 0);
    feed(h, 0);
    drain(h);
    assert_inflight(h, N1, 1, 10);
    assert_inflight(h, N2, 11, 20);
    assert_inflight(h, L, 21, 30);
    assert_int_equal(mk_replay_next_deadline(h->s), 10000 + TIMEOUT);
    h->now = 10500;
    deliver_from(h, N2, MK_GSYNC_FETCH_RESP);
    deliver_from(h, L, MK_GSYNC_FETCH_RESP);
    assert_inflight(h, N2, 31, 40);
    assert_inflight(h, L, 41, 50);
    size_t mark = h->nsent;
    h->now = 10000 + TIMEOUT - 1;
    mk_replay_tick(h->s, h->now);
    drain(h);
    assert_int_equal(h->nsent, mark);  /* not yet */
    assert_inflight(h, N1, 1, 10);
    h->now = 10000 + TIMEOUT;
    mk_replay_tick(h->s, h->now);
    drain(h);
    assert_idle(h, N1);
    assert_int_equal(count_sent(h, mark, N1, MK_GSYNC_AVAIL_REQ), 1);  /* re-asked */
    assert_int_equal(count_sent(h, mark, N1, MK_GSYNC_FETCH_REQ), 0);  /* no range known until it answers */
    /* N2 answers first: it takes the lowest chunk, [1, 10] */
    h->now = 11100;
    deliver_from(h, N2, MK_GSYNC_FETCH_RESP);
    assert_inflight(h, N2, 1, 10);
    /* N1's availability answer: it is idle again and gets the next chunk */
    deliver_from(h, N1, MK_GSYNC_AVAIL_RESP);
    assert_inflight(h, N1, 51, 60);
    /* the leader goes down with [41, 50] in flight: the chunk is handed out again */
    mk_peer_id_t leader = pid(L);
    mark = h->nsent;
    mk_replay_peer_down(h->s, h->now, &leader);
    drain(h);
    assert_idle(h, L);
    mk_replay_status_t st;
    mk_replay_status(h->s, &st);
    assert_int_equal(st.npeers, 2);
    /* its stale answer is consumed and ignored */
    size_t stale = answer_from(h, L, MK_GSYNC_FETCH_RESP);
    feed(h, stale);
    drain(h);
    assert_int_equal(count_sent(h, mark, L, MK_GSYNC_FETCH_REQ), 0);
    /* N1 talks again; the run completes without the leader */
    h->prov[0].mute_fetch = false;
    for (int i = 0; i < 5 && !h->done; i++) {
        run(h);
        h->now += TIMEOUT;
        mk_replay_tick(h->s, h->now);
        drain(h);
    }
    assert_true(h->done);
    assert_int_equal(h->commit, 80);
    assert_same_log(h->local, h->prov[1].store, 1, 80);
    harness_free(h);
    free(t);
    free(h);
}

/* X's log differs from G's from index 10 on (another history). X's chunk [11, 20] says prev_term 2 where
 * the released log has term 1 at index 10: the chunk is dropped together with X, which gets nothing more;
 * G fetches everything and the local log is G's. */
static void test_prev_term_mismatch(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    mk_term_t *good = two_terms(30, 30, 1, 1), *bad = two_terms(30, 9, 1, 2);
    enum { G = 0x50 };
    add_prov(h, G, store_with(30, good), 30);
    add_prov(h, X, store_with(30, bad), 30);
    h->local = store_with(0, good);
    static const uint8_t peers[] = {G, X};
    start(h, 0, 0, 30, 10, peers, 2, -1);
    feed(h, 0);
    feed(h, 0);
    drain(h);
    assert_inflight(h, G, 1, 10);
    assert_inflight(h, X, 11, 20);
    deliver_from(h, X, MK_GSYNC_FETCH_RESP);  /* held; X takes [21, 30] */
    assert_inflight(h, X, 21, 30);
    size_t mark = h->nsent;
    deliver_from(h, G, MK_GSYNC_FETCH_RESP);   /* [1, 10] released, X's chunk does not continue it */
    mk_replay_status_t st;
    mk_replay_status(h->s, &st);
    assert_int_equal(st.nbanned, 1);
    assert_int_equal(st.released, 10);
    assert_int_equal(st.nheld, 0);
    assert_idle(h, X);
    assert_inflight(h, G, 11, 20);
    /* a dropped peer stays dropped when it bonds again */
    mk_peer_id_t x = pid(X);
    mk_replay_peer_up(h->s, h->now, &x, false);
    drain(h);
    mk_replay_status(h->s, &st);
    assert_int_equal(st.nbanned, 1);
    run(h);  /* X's answer for [21, 30] is ignored */
    assert_true(h->done);
    assert_int_equal(count_sent(h, mark, X, MK_GSYNC_FETCH_REQ), 0);
    assert_int_equal(count_sent(h, mark, X, MK_GSYNC_AVAIL_REQ), 0);
    assert_same_log(h->local, h->prov[0].store, 1, 30);
    harness_free(h);
    free(good);
    free(bad);
    free(h);
}

/* P prunes [1, 20] after offering [1, 50]: its answer for [1, 10] is empty (gone). The session forgets
 * its range and asks again; P now offers [21, 50], so nobody holds index 1: stuck, and P is asked again
 * every fetch timeout. A new peer with the whole log ends it. */
static void test_gone_stuck(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    mk_term_t *t = two_terms(50, 50, 1, 1);
    enum { P = 0x60, Q = 0x70 };
    prov_t *p = add_prov(h, P, store_with(50, t), 50);
    h->local = store_with(0, t);
    static const uint8_t peers[] = {P};
    h->now = 1000;
    start(h, 0, 0, 50, 10, peers, 1, -1);
    feed(h, 0);  /* [1, 50] */
    assert_int_equal(p->store->vt->prune_prefix(p->store->self, 20), MK_OK);
    drain(h);    /* FetchEntriesRequest [1, 10], answered gone */
    assert_int_equal(h->replies.n, 1);
    size_t mark = h->nsent;
    feed(h, 0);
    assert_false(mk_replay_stuck(h->s));  /* P is asked again and has not answered */
    drain(h);
    assert_int_equal(count_sent(h, mark, P, MK_GSYNC_AVAIL_REQ), 1);
    assert_false(h->last_stuck);
    deliver_from(h, P, MK_GSYNC_AVAIL_RESP);  /* [21, 50] */
    assert_true(mk_replay_stuck(h->s));
    assert_true(h->last_stuck);
    assert_int_equal(h->stuck_flips, 1);
    mk_replay_status_t st;
    mk_replay_status(h->s, &st);
    assert_true(st.stuck);
    assert_int_equal(st.stuck_at, 1);
    /* what P still has is fetched meanwhile (held, not released) */
    run(h);
    mk_replay_status(h->s, &st);
    assert_int_equal(st.released, 0);
    assert_int_equal(st.nheld, 3);
    assert_int_equal(h->nwrites, 0);
    /* re-asked every fetch timeout while stuck */
    assert_int_equal(mk_replay_next_deadline(h->s), h->now + TIMEOUT);
    mark = h->nsent;
    mk_replay_tick(h->s, h->now + TIMEOUT - 1);
    drain(h);
    assert_int_equal(count_sent(h, mark, P, MK_GSYNC_AVAIL_REQ), 0);
    h->now += TIMEOUT;
    mk_replay_tick(h->s, h->now);
    drain(h);
    assert_int_equal(count_sent(h, mark, P, MK_GSYNC_AVAIL_REQ), 1);
    run(h);
    assert_true(mk_replay_stuck(h->s));
    h->now += TIMEOUT;
    mk_replay_tick(h->s, h->now);
    drain(h);
    assert_int_equal(count_sent(h, mark, P, MK_GSYNC_AVAIL_REQ), 2);
    run(h);
    assert_int_equal(h->stuck_flips, 1);  /* still stuck, no flapping */
    /* Q bonds with the whole log: no longer stuck while it is asked, then the rest completes */
    add_prov(h, Q, store_with(50, t), 50);
    mk_peer_id_t q = pid(Q);
    mk_replay_peer_up(h->s, h->now, &q, false);
    assert_false(mk_replay_stuck(h->s));
    drain(h);
    assert_int_equal(h->stuck_flips, 2);
    run(h);
    assert_true(h->done);
    assert_int_equal(h->commit, 50);
    assert_same_log(h->local, h->prov[1].store, 1, 50);
    harness_free(h);
    free(t);
    free(h);
}

/* No peer at all: stuck at once; a peer coming up later is asked and serves the range. */
static void test_no_peers_then_peer_up(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    mk_term_t *t = two_terms(25, 25, 4, 4);
    h->local = store_with(5, t);
    start(h, 5, 4, 25, 8, NULL, 0, -1);
    assert_true(mk_replay_stuck(h->s));
    assert_true(h->last_stuck);
    add_prov(h, N1, store_with(25, t), 25);
    mk_peer_id_t n1 = pid(N1);
    mk_replay_peer_up(h->s, h->now, &n1, true);
    drain(h);
    assert_int_equal(count_sent(h, 0, N1, MK_GSYNC_AVAIL_REQ), 1);
    run(h);
    assert_true(h->done);
    assert_int_equal(h->commit, 25);
    assert_same_log(h->local, h->prov[0].store, 1, 25);
    /* C ≥ T: done at once, nothing sent */
    harness_t *h2 = calloc(1, sizeof *h2);
    assert_non_null(h2);
    h2->local = store_with(0, t);
    static const uint8_t one[] = {N1};
    add_prov(h2, N1, store_with(0, t), 0);
    start(h2, 7, 4, 7, 8, one, 1, -1);
    assert_true(mk_replay_done(h2->s));
    assert_int_equal(h2->nsent, 0);
    harness_free(h2);
    free(h2);
    /* bad configurations */
    mk_replay_config_t cfg = {.replay_batch = 0, .fetch_timeout_ms = 1, .target = 3};
    mk_error_t e;
    assert_null(mk_replay_new(&cfg, 0, &e));
    assert_non_null(strstr(e.msg, "replay_batch"));
    cfg.replay_batch = 1;
    cfg.fetch_timeout_ms = 0;
    assert_null(mk_replay_new(&cfg, 0, &e));
    assert_non_null(strstr(e.msg, "fetch_timeout_ms"));
    cfg.fetch_timeout_ms = 1;
    cfg.npeers = 2;
    assert_null(mk_replay_new(&cfg, 0, &e));
    assert_non_null(strstr(e.msg, "peers"));
    harness_free(h);
    free(t);
    free(h);
}

/* The apply rule on its own: skip same terms, truncate above commit, never at or below it. */
static void test_apply_rule(void **state) {
    (void)state;
    mk_term_t *t = two_terms(8, 5, 1, 2);  /* 1..5 term 1, 6..8 term 2 */
    mk_log_store_t *s = store_with(8, t);
    mk_term_t *n3 = two_terms(10, 5, 1, 3);  /* the other history: term 3 from 6 */
    mk_log_store_t *other = store_with(10, n3);
    mk_log_entry_t e[4];
    mk_gsync_apply_result_t res;
    /* a conflict at index 5 with commit 5: refused, nothing written */
    mk_term_t *t5 = two_terms(8, 4, 1, 2);
    mk_log_store_t *conflicting = store_with(8, t5);
    assert_int_equal(conflicting->vt->get(conflicting->self, 5, &e[0]), MK_OK);
    assert_int_equal(mk_gsync_apply_entries(s, 5, (mk_cursor_t){1, 4}, e, 1, &res), MK_EPROTO);
    mk_cursor_t last = s->vt->last(s->self);
    assert_int_equal(last.index, 8);
    assert_int_equal(last.term, 2);
    /* the same conflict above commit 4 is a truncation */
    /* (not applied here: index 5 is committed in the cases below) */
    /* entries 6, 7 of term 3 after (1, 5): truncate from 6 */
    mk_log_entry_t a, b;
    assert_int_equal(other->vt->get(other->self, 6, &a), MK_OK);
    mk_log_entry_t x = a;
    uint8_t xb[64], yb[64];
    memcpy(xb, a.body, a.len);
    x.body = xb;
    assert_int_equal(other->vt->get(other->self, 7, &b), MK_OK);
    mk_log_entry_t y = b;
    memcpy(yb, b.body, b.len);
    y.body = yb;
    e[0] = x;
    e[1] = y;
    assert_int_equal(mk_gsync_apply_entries(s, 5, (mk_cursor_t){1, 5}, e, 2, &res), MK_OK);
    assert_int_equal(res.truncated_from, 6);
    assert_int_equal(res.appended, 2);
    assert_int_equal(res.skipped, 0);
    last = s->vt->last(s->self);
    assert_int_equal(last.index, 7);
    assert_int_equal(last.term, 3);
    assert_same_log(s, other, 1, 7);
    /* the same again: all skipped, nothing written */
    assert_int_equal(mk_gsync_apply_entries(s, 5, (mk_cursor_t){1, 5}, e, 2, &res), MK_OK);
    assert_int_equal(res.skipped, 2);
    assert_int_equal(res.appended, 0);
    assert_int_equal(res.truncated_from, 0);
    /* prev mismatch / beyond the log: refused, nothing written */
    assert_int_equal(mk_gsync_apply_entries(s, 5, (mk_cursor_t){2, 5}, e, 2, &res), MK_ENOTFOUND);
    assert_int_equal(mk_gsync_apply_entries(s, 5, (mk_cursor_t){3, 20}, NULL, 0, &res), MK_ENOTFOUND);
    /* not contiguous */
    e[1].index = 9;
    assert_int_equal(mk_gsync_apply_entries(s, 5, (mk_cursor_t){1, 5}, e, 2, &res), MK_EINVAL);
    assert_int_equal(mk_gsync_apply_entries(s, 5, (mk_cursor_t){1, 5}, NULL, 2, &res), MK_EINVAL);
    /* a missing tail is appended (prev = last) */
    assert_int_equal(other->vt->get(other->self, 8, &a), MK_OK);
    x = a;
    memcpy(xb, a.body, a.len);
    x.body = xb;
    assert_int_equal(mk_gsync_apply_entries(s, 5, (mk_cursor_t){3, 7}, &x, 1, NULL), MK_OK);
    assert_int_equal(s->vt->last(s->self).index, 8);
    /* after compaction: prev below the base is accepted, compacted entries are skipped */
    assert_int_equal(s->vt->prune_prefix(s->self, 6), MK_OK);
    mk_log_entry_t f[4];
    uint8_t fb[4][64];
    for (mk_index_t i = 4; i <= 7; i++) {
        assert_int_equal(other->vt->get(other->self, i, &f[i - 4]), MK_OK);
        memcpy(fb[i - 4], f[i - 4].body, f[i - 4].len);
        f[i - 4].body = fb[i - 4];
    }
    assert_int_equal(mk_gsync_apply_entries(s, 6, (mk_cursor_t){1, 3}, f, 4, &res), MK_OK);
    assert_int_equal(res.skipped, 4);
    assert_int_equal(res.truncated_from, 0);
    mk_log_store_free(s);
    mk_log_store_free(other);
    mk_log_store_free(conflicting);
    free(t);
    free(n3);
    free(t5);
}

/* A deposed leader: committed 1..10 (term 1), then 11..15 of its own term 2 that never committed. The
 * group went on: 11..12 of term 2 survived, 13..40 are term 3. Replay from C + 1 = 11 keeps 11..12
 * (same term), truncates from 13 — above C — and installs the fetched entries. */
static void test_deposed_leader_tail(void **state) {
    (void)state;
    harness_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->strict = true;
    mk_term_t *mine = two_terms(15, 10, 1, 2);
    mk_term_t *theirs = calloc(41, sizeof *theirs);
    assert_non_null(theirs);
    for (mk_index_t i = 1; i <= 40; i++) theirs[i] = i <= 10 ? 1 : i <= 12 ? 2 : 3;
    h->local = store_with(15, mine);
    add_prov(h, N1, store_with(40, theirs), 40);
    add_prov(h, L, store_with(40, theirs), 40);
    /* the local 11, 12 are theirs too (same index and term): kept; 13..15 are not */
    static const uint8_t peers[] = {N1, L};
    start(h, 10, 1, 40, 8, peers, 2, 1);
    run(h);
    assert_true(h->done);
    assert_int_equal(h->commit, 40);
    assert_int_equal(h->ntrunc, 1);
    assert_int_equal(h->truncations[0], 13);
    mk_cursor_t last = h->local->vt->last(h->local->self);
    assert_int_equal(last.index, 40);
    assert_int_equal(last.term, 3);
    assert_same_log(h->local, h->prov[0].store, 13, 40);
    for (mk_index_t i = 1; i <= 12; i++) {
        mk_term_t tt;
        assert_int_equal(h->local->vt->term_at(h->local->self, i, &tt), MK_OK);
        assert_int_equal(tt, theirs[i]);
    }
    harness_free(h);
    free(h);

    /* a tail with no surviving entry: truncated right at C + 1 */
    h = calloc(1, sizeof *h);
    assert_non_null(h);
    for (mk_index_t i = 11; i <= 40; i++) theirs[i] = 3;
    h->local = store_with(15, mine);
    add_prov(h, N1, store_with(40, theirs), 40);
    start(h, 10, 1, 40, 64, peers, 1, -1);
    run(h);
    assert_true(h->done);
    assert_int_equal(h->ntrunc, 1);
    assert_int_equal(h->truncations[0], 11);
    assert_same_log(h->local, h->prov[0].store, 1, 40);
    harness_free(h);
    free(mine);
    free(theirs);
    free(h);
}

/* The provider's answers: availability clamped to the commit index; fetches clamped to it, cut to the
 * byte limit, gone when pruned or beyond; other messages are not for it. */
static void test_provider(void **state) {
    (void)state;
    mk_term_t *t = two_terms(30, 10, 1, 2);
    mk_log_store_t *s = store_with(30, t);
    mk_gsync_outbox_t out = MK_GSYNC_OUTBOX_INIT;
    mk_peer_id_t from = pid(0x99);
    mk_gsync_msg_t req = {.kind = MK_GSYNC_AVAIL_REQ, .avail_req = {77}}, d;
    assert_int_equal(mk_gsync_provide(s, 25, 1 << 20, &from, &req, &out, NULL), MK_OK);
    assert_int_equal(out.n, 1);
    assert_true(mk_id_eq(&out.v[0].to, &from));
    assert_int_equal(mk_gsync_msg_decode(out.v[0].bytes.ptr, out.v[0].bytes.len, &d, NULL), MK_OK);
    assert_int_equal(d.kind, MK_GSYNC_AVAIL_RESP);
    assert_int_equal(d.avail_resp.sid, 77);
    assert_int_equal(d.avail_resp.first, 1);
    assert_int_equal(d.avail_resp.last, 25);
    mk_gsync_msg_free(&d);
    mk_gsync_outbox_clear(&out);
    /* fetch beyond the commit index: clamped */
    req = (mk_gsync_msg_t){.kind = MK_GSYNC_FETCH_REQ, .fetch_req = {78, 20, 30}};
    assert_int_equal(mk_gsync_provide(s, 25, 1 << 20, &from, &req, &out, NULL), MK_OK);
    assert_int_equal(mk_gsync_msg_decode(out.v[0].bytes.ptr, out.v[0].bytes.len, &d, NULL), MK_OK);
    assert_int_equal(d.kind, MK_GSYNC_FETCH_RESP);
    assert_int_equal(d.fetch_resp.sid, 78);
    assert_int_equal(d.fetch_resp.first, 20);
    assert_int_equal(d.fetch_resp.prev_term, 2);
    assert_int_equal(d.fetch_resp.nentries, 6);
    mk_gsync_msg_free(&d);
    mk_gsync_outbox_clear(&out);
    /* a small byte limit: at least one entry */
    assert_int_equal(mk_gsync_provide(s, 25, 10, &from, &req, &out, NULL), MK_OK);
    assert_int_equal(mk_gsync_msg_decode(out.v[0].bytes.ptr, out.v[0].bytes.len, &d, NULL), MK_OK);
    assert_int_equal(d.fetch_resp.nentries, 1);
    mk_gsync_msg_free(&d);
    mk_gsync_outbox_clear(&out);
    /* entirely above the commit index, or pruned: gone */
    req.fetch_req.first = 26;
    assert_int_equal(mk_gsync_provide(s, 25, 1 << 20, &from, &req, &out, NULL), MK_OK);
    assert_int_equal(s->vt->prune_prefix(s->self, 12), MK_OK);
    req.fetch_req.first = 5;
    assert_int_equal(mk_gsync_provide(s, 25, 1 << 20, &from, &req, &out, NULL), MK_OK);
    assert_int_equal(out.n, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(mk_gsync_msg_decode(out.v[i].bytes.ptr, out.v[i].bytes.len, &d, NULL), MK_OK);
        assert_int_equal(d.fetch_resp.nentries, 0);
        assert_int_equal(d.fetch_resp.prev_term, 0);
        mk_gsync_msg_free(&d);
    }
    mk_gsync_outbox_clear(&out);
    /* availability after pruning; nothing committed to offer */
    req = (mk_gsync_msg_t){.kind = MK_GSYNC_AVAIL_REQ, .avail_req = {1}};
    assert_int_equal(mk_gsync_provide(s, 25, 1 << 20, &from, &req, &out, NULL), MK_OK);
    assert_int_equal(mk_gsync_msg_decode(out.v[0].bytes.ptr, out.v[0].bytes.len, &d, NULL), MK_OK);
    assert_int_equal(d.avail_resp.first, 13);
    assert_int_equal(d.avail_resp.last, 25);
    mk_gsync_msg_free(&d);
    mk_gsync_outbox_clear(&out);
    mk_log_store_t *empty = mk_log_store_memory();
    assert_non_null(empty);
    assert_int_equal(mk_gsync_provide(empty, 0, 1 << 20, &from, &req, &out, NULL), MK_OK);
    assert_int_equal(mk_gsync_msg_decode(out.v[0].bytes.ptr, out.v[0].bytes.len, &d, NULL), MK_OK);
    assert_int_equal(d.avail_resp.first, 1);
    assert_int_equal(d.avail_resp.last, 0);
    mk_gsync_outbox_clear(&out);
    /* not a log provider request */
    mk_error_t e;
    req = (mk_gsync_msg_t){.kind = MK_GSYNC_REQ_SNAPSHOT};
    assert_int_equal(mk_gsync_provide(s, 25, 1 << 20, &from, &req, &out, &e), MK_ENOTSUP);
    assert_non_null(strstr(e.msg, "RequestSnapshot"));
    req = (mk_gsync_msg_t){.kind = MK_GSYNC_AVAIL_RESP, .avail_resp = {1, 1, 0}};
    assert_int_equal(mk_gsync_provide(s, 25, 1 << 20, &from, &req, &out, NULL), MK_ENOTSUP);
    assert_int_equal(out.n, 0);
    /* a session ignores what is not its own */
    mk_replay_config_t cfg = {.sid = 5, .commit = 0, .target = 10, .replay_batch = 5, .fetch_timeout_ms = 10};
    mk_replay_t *r = mk_replay_new(&cfg, 0, NULL);
    assert_non_null(r);
    req = (mk_gsync_msg_t){.kind = MK_GSYNC_AVAIL_RESP, .avail_resp = {6, 1, 10}};
    assert_false(mk_replay_step(r, 0, &from, &req));               /* other sid */
    req.avail_resp.sid = 5;
    assert_true(mk_replay_step(r, 0, &from, &req));                /* ours, unknown peer: ignored */
    req = (mk_gsync_msg_t){.kind = MK_GSYNC_FETCH_REQ, .fetch_req = {5, 1, 2}};
    assert_false(mk_replay_step(r, 0, &from, &req));               /* a request: for the provider */
    mk_replay_free(r);
    mk_replay_free(NULL);
    mk_gsync_outbox_free(&out);
    mk_log_store_free(s);
    mk_log_store_free(empty);
    free(t);
}

/* Random schedules (seeded): answers delivered in any order or dropped, time jumps, peers going down and
 * up, random batch sizes and byte limits, a divergent local tail above C. After the chaos every peer is up
 * and nothing is lost: the session must finish with the providers' log, never truncating at or below C. */
static uint64_t rnd(uint64_t *st) {
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return *st >> 33;
}

static void test_random_schedules(void **state) {
    (void)state;
    enum { LOG = 200 };
    mk_term_t *theirs = calloc(LOG + 1, sizeof *theirs);
    assert_non_null(theirs);
    for (mk_index_t i = 1; i <= LOG; i++) theirs[i] = 2 * (1 + i / 20);  /* even terms */
    static const uint8_t ids[] = {N1, N2, L};
    for (uint64_t seed = 1; seed <= 60; seed++) {
        uint64_t st = seed;
        harness_t *h = calloc(1, sizeof *h);
        assert_non_null(h);
        mk_index_t c = rnd(&st) % 60, tail = rnd(&st) % 8;
        mk_term_t *mine = calloc(c + tail + 1, sizeof *mine);
        assert_non_null(mine);
        for (mk_index_t i = 1; i <= c; i++) mine[i] = theirs[i];
        for (mk_index_t i = c + 1; i <= c + tail; i++) mine[i] = theirs[c] + 1;  /* odd: a deposed leader's */
        h->local = store_with(c + tail, mine);
        for (size_t i = 0; i < 3; i++) add_prov(h, ids[i], store_with(LOG, theirs), LOG)->max_bytes = 100 + rnd(&st) % 1500;
        h->now = 1;
        start(h, c, theirs[c], LOG, (uint32_t)(1 + rnd(&st) % 40), ids, 3, (int)(rnd(&st) % 4) - 1);
        bool down[3] = {false, false, false};
        for (int step = 0; step < 3000 && !h->done; step++) {
            uint64_t r = rnd(&st) % 100;
            if (r < 70 && h->replies.n) {
                feed(h, rnd(&st) % h->replies.n);
            } else if (r < 76 && h->replies.n) {
                size_t i = rnd(&st) % h->replies.n;  /* lost */
                mk_buf_free(&h->replies.v[i].bytes);
                memmove(&h->replies.v[i], &h->replies.v[i + 1], (h->replies.n - i - 1) * sizeof h->replies.v[0]);
                h->replies.n--;
            } else if (r < 90) {
                h->now += (int64_t)(rnd(&st) % (TIMEOUT + 200));
                mk_replay_tick(h->s, h->now);
            } else {
                size_t k = rnd(&st) % 3;
                mk_peer_id_t id = pid(ids[k]);
                if (down[k]) mk_replay_peer_up(h->s, h->now, &id, rnd(&st) % 2);
                else mk_replay_peer_down(h->s, h->now, &id);
                down[k] = !down[k];
            }
            drain(h);
        }
        /* calm: everyone up, nothing lost, time moves */
        for (size_t k = 0; k < 3; k++) {
            mk_peer_id_t id = pid(ids[k]);
            if (down[k]) mk_replay_peer_up(h->s, h->now, &id, false);
        }
        drain(h);
        for (int round = 0; round < 50 && !h->done; round++) {
            run(h);
            h->now += TIMEOUT;
            mk_replay_tick(h->s, h->now);
            drain(h);
        }
        if (!h->done) {
            mk_replay_status_t st2;
            mk_replay_status(h->s, &st2);
            fail_msg("seed %llu: not done, released %llu, stuck %d", (unsigned long long)seed,
                     (unsigned long long)st2.released, st2.stuck);
        }
        assert_int_equal(h->commit, LOG);
        assert_same_log(h->local, h->prov[0].store, 1, LOG);
        assert_true(h->ntrunc <= 1);
        if (tail) {
            assert_int_equal(h->ntrunc, 1);
            assert_int_equal(h->truncations[0], c + 1);
        }
        harness_free(h);
        free(h);
        free(mine);
    }
    free(theirs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_fetch),
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_partial_responses),
        cmocka_unit_test(test_timeout_reassign),
        cmocka_unit_test(test_prev_term_mismatch),
        cmocka_unit_test(test_gone_stuck),
        cmocka_unit_test(test_no_peers_then_peer_up),
        cmocka_unit_test(test_apply_rule),
        cmocka_unit_test(test_deposed_leader_tail),
        cmocka_unit_test(test_provider),
        cmocka_unit_test(test_random_schedules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
