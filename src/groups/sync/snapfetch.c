/* groups/sync/snapfetch.c — the snapshot fetch session (see snapfetch.h for the rules).
 *
 * Bookkeeping: `cands` holds every anchor offered (never freed before the session, so header views stay
 * valid), each with its offers (peer index, live or dropped). While an anchor is chosen (`cur`), every item
 * of [next, item_count) is in exactly one of three places — `todo` (sorted, disjoint, unassigned half-open
 * spans), a peer's request in flight of the current fetch (`epoch`: choosing again, even the same anchor
 * after a fallback, starts a new fetch), or `held` (received, waiting for an earlier chunk). Released
 * items sit in `rel` (views into the blocks of `rel_mem`) until the batch is advanced. Driver protocol:
 * `open` = an install_begin was handed out and neither restart nor done followed it. */
#include "groups/sync/snapfetch.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_WINDOW_CHUNKS 16u
#define NONE SIZE_MAX

/* ---- small growable arrays ---------------------------------------------------------------------------- */

#define VEC(T) struct { T *v; size_t n, cap; }

/* Makes room for `more` more elements; false when out of memory. */
static bool vec_room(void *vec, size_t elem, size_t more) {
    VEC(char) *a = vec;
    if (a->cap - a->n >= more) return true;
    size_t cap = a->cap ? a->cap : 8;
    while (cap - a->n < more) {
        if (cap > SIZE_MAX / 2 / elem) return false;
        cap *= 2;
    }
    void *v = realloc(a->v, cap * elem);
    if (!v) return false;
    a->v = v;
    a->cap = cap;
    return true;
}

/* ---- state ---------------------------------------------------------------------------------------------- */

typedef struct span {
    uint64_t a, b;                /* items [a, b) */
} span_t;

typedef struct speer {
    mk_peer_id_t id;
    bool busy;                    /* a FetchDataRequest is out */
    size_t req_cand;              /* the candidate it concerns (maybe no longer the chosen one) */
    uint64_t req_epoch;           /* the fetch it belongs to: current iff == epoch (an anchor given up and
                                     chosen again is a new fetch) */
    uint64_t req_from, req_to;
    int64_t req_at;
} speer_t;

typedef struct offer {
    size_t peer;                  /* index in peers */
    bool live;                    /* false: dropped for this anchor (gone, timeout, bad data) */
    bool bad;                     /* dropped for a wrong answer: a new offer does not revive it */
} offer_t;

typedef struct cand {
    mk_cursor_t anchor;
    uint64_t item_count;
    mk_buf_t header;              /* owned copy */
    VEC(offer_t) offers;
} cand_t;

typedef struct held {
    uint64_t from;
    size_t n;
    mk_bytes_t *items;            /* one allocation: the views, then the bytes */
} held_t;

struct mk_snapfetch {
    uint64_t req_id;
    mk_index_t commit, min_first;
    uint64_t batch, window;       /* items per chunk; how far ahead of next requests may start */
    int64_t req_timeout, fetch_timeout;
    int64_t now;
    bool has_leader;
    mk_peer_id_t leader;
    bool req_due;                 /* a RequestSnapshot is due but no leader is known */
    int64_t req_at;               /* when the last RequestSnapshot was sent (or fell due) */
    bool chosen;
    size_t cur;                   /* index in cands (chosen) */
    uint64_t epoch;               /* bumped at every choice */
    uint64_t next;                /* first item of cur not yet released */
    bool done, done_reported;
    bool open, begin_pending, restart_pending;
    uint32_t nrequests, nswitches, ndropped, nignored;
    VEC(speer_t) peers;
    VEC(cand_t) cands;
    VEC(span_t) todo;
    VEC(held_t) held;             /* sorted by from */
    mk_gsync_outbox_t out;
    VEC(mk_bytes_t) rel;          /* released, to hand out */
    VEC(void *) rel_mem;          /* allocations behind rel */
    uint64_t rel_from;
    mk_error_t err;               /* scratch for codec calls */
};

static size_t find_peer(const mk_snapfetch_t *s, const mk_peer_id_t *id) {
    for (size_t i = 0; i < s->peers.n; i++)
        if (mk_id_eq(&s->peers.v[i].id, id)) return i;
    return NONE;
}

/* The peer's request belongs to the fetch in progress (its chunk is not in todo nor held). */
static bool current_req(const mk_snapfetch_t *s, const speer_t *p) {
    return s->chosen && !s->done && p->req_epoch == s->epoch;
}

static bool is_leader(const mk_snapfetch_t *s, const speer_t *p) {
    return s->has_leader && mk_id_eq(&s->leader, &p->id);
}

static int cursor_cmp(mk_cursor_t x, mk_cursor_t y) {
    if (x.index != y.index) return x.index < y.index ? -1 : 1;
    if (x.term != y.term) return x.term < y.term ? -1 : 1;
    return 0;
}

static size_t find_cand(const mk_snapfetch_t *s, mk_cursor_t anchor) {
    for (size_t i = 0; i < s->cands.n; i++)
        if (cursor_cmp(s->cands.v[i].anchor, anchor) == 0) return i;
    return NONE;
}

static offer_t *find_offer(const cand_t *c, size_t peer) {
    for (size_t i = 0; i < c->offers.n; i++)
        if (c->offers.v[i].peer == peer) return &c->offers.v[i];
    return NULL;
}

static size_t live_offers(const cand_t *c) {
    size_t n = 0;
    for (size_t i = 0; i < c->offers.n; i++) n += c->offers.v[i].live;
    return n;
}

/* The anchor meets the commit and buffer constraints (offers aside). */
static bool anchor_fits(const mk_snapfetch_t *s, mk_cursor_t a) {
    return a.index >= s->commit && (s->min_first == 0 || a.index >= s->min_first - 1);
}

static bool usable(const mk_snapfetch_t *s, const cand_t *c) { return anchor_fits(s, c->anchor) && live_offers(c); }

/* The highest usable candidate, NONE if there is none. */
static size_t best(const mk_snapfetch_t *s) {
    size_t b = NONE;
    for (size_t i = 0; i < s->cands.n; i++) {
        const cand_t *c = &s->cands.v[i];
        if (usable(s, c) && (b == NONE || cursor_cmp(c->anchor, s->cands.v[b].anchor) > 0)) b = i;
    }
    return b;
}

/* ---- outbox --------------------------------------------------------------------------------------------- */

/* Encodes m and queues it for `to`; out of memory: lost, as on a lossy link (timers recover). */
static bool queue_msg(mk_snapfetch_t *s, const mk_peer_id_t *to, const mk_gsync_msg_t *m) {
    mk_buf_t b = MK_BUF_INIT;
    if (mk_gsync_msg_encode(m, &b, &s->err) != MK_OK || !vec_room(&s->out, sizeof *s->out.v, 1)) {
        mk_buf_free(&b);
        return false;
    }
    s->out.v[s->out.n].to = *to;
    s->out.v[s->out.n].bytes = b;
    s->out.n++;
    return true;
}

/* Sends RequestSnapshot to the leader, or marks it due until one is known. Restarts the timer either way. */
static void request(mk_snapfetch_t *s) {
    s->req_at = s->now;
    if (!s->has_leader) {
        s->req_due = true;
        return;
    }
    s->req_due = false;
    mk_gsync_msg_t m = {.kind = MK_GSYNC_REQ_SNAPSHOT};
    m.req_snapshot.req_id = s->req_id;
    if (queue_msg(s, &s->leader, &m)) s->nrequests++;
}

/* ---- the todo set ---------------------------------------------------------------------------------------- */

/* todo is the complement of the requests in flight on cur (≤ one per peer) and the held chunks within
 * [next, item_count), so it has at most peers + held + 1 spans. Keeping that much room reserved (checked
 * whenever a peer or a held chunk is added) means todo_add / todo_take never allocate and a span is never
 * lost. */
static bool todo_reserve(mk_snapfetch_t *s, size_t extra) {
    size_t need = s->peers.n + s->held.n + extra + 2;
    if (s->todo.cap >= need) return true;
    return vec_room(&s->todo, sizeof *s->todo.v, need - s->todo.n);
}

/* Adds [a, b) (disjoint from everything in todo), merging with neighbours. */
static void todo_add(mk_snapfetch_t *s, uint64_t a, uint64_t b) {
    if (a >= b) return;
    size_t i = 0;
    while (i < s->todo.n && s->todo.v[i].a < a) i++;
    bool join_left = i > 0 && s->todo.v[i - 1].b == a;
    bool join_right = i < s->todo.n && s->todo.v[i].a == b;
    if (join_left && join_right) {
        s->todo.v[i - 1].b = s->todo.v[i].b;
        memmove(&s->todo.v[i], &s->todo.v[i + 1], (s->todo.n - i - 1) * sizeof *s->todo.v);
        s->todo.n--;
    } else if (join_left) {
        s->todo.v[i - 1].b = b;
    } else if (join_right) {
        s->todo.v[i].a = a;
    } else {
        if (s->todo.n == s->todo.cap) abort();  /* cannot happen: todo_reserve keeps the room */
        memmove(&s->todo.v[i + 1], &s->todo.v[i], (s->todo.n - i) * sizeof *s->todo.v);
        s->todo.v[i] = (span_t){a, b};
        s->todo.n++;
    }
}

/* Removes the prefix [a, b) of todo span i (a is its start). */
static void todo_take_front(mk_snapfetch_t *s, size_t i, uint64_t b) {
    if (s->todo.v[i].b == b) {
        memmove(&s->todo.v[i], &s->todo.v[i + 1], (s->todo.n - i - 1) * sizeof *s->todo.v);
        s->todo.n--;
    } else {
        s->todo.v[i].a = b;
    }
}

/* ---- the fetch of cur --------------------------------------------------------------------------------- */

static void free_pending_release(mk_snapfetch_t *s) {
    for (size_t i = 0; i < s->rel_mem.n; i++) free(s->rel_mem.v[i]);
    s->rel_mem.n = 0;
    s->rel.n = 0;
}

/* Drops the fetch state of cur (requests in flight stay with their peers, marked by their candidate). */
static void clear_fetch(mk_snapfetch_t *s) {
    for (size_t i = 0; i < s->held.n; i++) free(s->held.v[i].items);
    s->held.n = 0;
    s->todo.n = 0;
}

/* Gives up the chosen anchor: unreleased progress is dropped, the driver's install (if begun) aborted. */
static void abandon(mk_snapfetch_t *s) {
    if (!s->chosen) return;
    clear_fetch(s);
    free_pending_release(s);
    if (s->open) {
        s->restart_pending = true;
        s->open = false;
    }
    s->begin_pending = false;
    s->chosen = false;
    s->nswitches++;
}

/* Every item released: nothing more is fetched; late answers are ignored. */
static void finish(mk_snapfetch_t *s) {
    s->done = true;
    clear_fetch(s);
    for (size_t i = 0; i < s->peers.n; i++) s->peers.v[i].busy = false;
}

static void choose(mk_snapfetch_t *s, size_t c) {
    abandon(s);
    s->chosen = true;
    s->cur = c;
    s->epoch++;
    s->next = 0;
    s->begin_pending = true;
    s->req_due = false;
    uint64_t n = s->cands.v[c].item_count;
    if (n == 0) {
        finish(s);
        return;
    }
    todo_add(s, 0, n);  /* todo is empty: room is reserved */
}

/* The peer's offer of candidate c is dropped; its request on c (if any) goes back. A timeout or "gone"
 * can be undone by the peer offering the anchor again; a wrong answer (bad) lasts for the session. */
static void drop_offer(mk_snapfetch_t *s, size_t c, size_t peer, bool bad) {
    speer_t *p = &s->peers.v[peer];
    if (p->busy && p->req_cand == c) {
        p->busy = false;
        if (current_req(s, p)) todo_add(s, p->req_from, p->req_to);
    }
    offer_t *o = find_offer(&s->cands.v[c], peer);
    if (o && o->live) {
        o->live = false;
        s->ndropped++;
    }
    if (o && bad) o->bad = true;
}

/* Releases the held chunks that continue the items, in order. */
static void release(mk_snapfetch_t *s) {
    while (!s->done && s->held.n && s->held.v[0].from == s->next) {
        held_t h = s->held.v[0];
        if (!vec_room(&s->rel, sizeof *s->rel.v, h.n) || !vec_room(&s->rel_mem, sizeof *s->rel_mem.v, 1))
            return;  /* out of memory: retried at the next ready */
        if (s->rel.n == 0) s->rel_from = h.from;
        memcpy(&s->rel.v[s->rel.n], h.items, h.n * sizeof *h.items);
        s->rel.n += h.n;
        s->rel_mem.v[s->rel_mem.n++] = h.items;
        memmove(&s->held.v[0], &s->held.v[1], (s->held.n - 1) * sizeof *s->held.v);
        s->held.n--;
        s->next = h.from + h.n;
        if (s->next == s->cands.v[s->cur].item_count) finish(s);
    }
}

/* Re-evaluates the choice: first anchor, a higher one replacing it, or a fallback when it is lost. */
static void reconsider(mk_snapfetch_t *s) {
    if (s->done) return;
    size_t b = best(s);
    if (s->chosen && b == s->cur) return;
    if (b != NONE) {
        choose(s, b);
        return;
    }
    if (s->chosen) {  /* lost, nothing to fall back to: ask again at once */
        abandon(s);
        request(s);
    }
}

/* Gives each idle live offerer of cur (non-leaders first) the first unassigned chunk within the window. */
static void assign(mk_snapfetch_t *s) {
    if (!s->chosen || s->done) return;
    cand_t *c = &s->cands.v[s->cur];
    uint64_t horizon = s->next + s->window < s->next ? UINT64_MAX : s->next + s->window;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < c->offers.n; i++) {
            if (!s->todo.n || s->todo.v[0].a >= horizon) return;
            if (!c->offers.v[i].live) continue;
            speer_t *p = &s->peers.v[c->offers.v[i].peer];
            if (p->busy || is_leader(s, p) != (pass == 1)) continue;
            uint64_t a = s->todo.v[0].a, b = s->todo.v[0].b;
            if (b - a > s->batch) b = a + s->batch;
            mk_gsync_msg_t m = {.kind = MK_GSYNC_FETCH_DATA_REQ};
            m.fetch_data_req.anchor = c->anchor;
            m.fetch_data_req.from = a;
            m.fetch_data_req.to = b;
            if (!queue_msg(s, &p->id, &m)) return;
            todo_take_front(s, 0, b);
            p->busy = true;
            p->req_cand = s->cur;
            p->req_epoch = s->epoch;
            p->req_from = a;
            p->req_to = b;
            p->req_at = s->now;
        }
    }
}

/* ---- inputs ----------------------------------------------------------------------------------------------- */

mk_snapfetch_t *mk_snapfetch_new(const mk_snapfetch_config_t *cfg, int64_t now, mk_error_t *e) {
    if (cfg->snapshot_batch == 0) return MK_ERR(e, MK_EINVAL, "snapshot_batch: 0"), NULL;
    if (cfg->request_timeout_ms == 0) return MK_ERR(e, MK_EINVAL, "request_timeout_ms: 0"), NULL;
    if (cfg->fetch_timeout_ms == 0) return MK_ERR(e, MK_EINVAL, "fetch_timeout_ms: 0"), NULL;
    mk_snapfetch_t *s = calloc(1, sizeof *s);
    if (!s) return MK_ERR(e, MK_ENOMEM, "out of memory"), NULL;
    s->req_id = cfg->req_id;
    s->commit = cfg->commit;
    s->min_first = cfg->min_first;
    s->batch = cfg->snapshot_batch < MK_GSYNC_MAX_ITEMS ? cfg->snapshot_batch : MK_GSYNC_MAX_ITEMS;
    s->window = s->batch * (cfg->window_chunks ? cfg->window_chunks : DEFAULT_WINDOW_CHUNKS);
    s->req_timeout = cfg->request_timeout_ms;
    s->fetch_timeout = cfg->fetch_timeout_ms;
    s->now = now;
    if (cfg->leader) {
        s->has_leader = true;
        s->leader = *cfg->leader;
    }
    if (!todo_reserve(s, 0)) {
        mk_snapfetch_free(s);
        return MK_ERR(e, MK_ENOMEM, "out of memory"), NULL;
    }
    request(s);
    return s;
}

void mk_snapfetch_free(mk_snapfetch_t *s) {
    if (!s) return;
    clear_fetch(s);
    free_pending_release(s);
    for (size_t i = 0; i < s->cands.n; i++) {
        mk_buf_free(&s->cands.v[i].header);
        free(s->cands.v[i].offers.v);
    }
    free(s->cands.v);
    free(s->peers.v);
    free(s->todo.v);
    free(s->held.v);
    free(s->rel.v);
    free(s->rel_mem.v);
    mk_gsync_outbox_free(&s->out);
    free(s);
}

/* The peer's index, added if new; NONE when out of memory. */
static size_t add_peer(mk_snapfetch_t *s, const mk_peer_id_t *id) {
    size_t i = find_peer(s, id);
    if (i != NONE) return i;
    if (!vec_room(&s->peers, sizeof *s->peers.v, 1) || !todo_reserve(s, 1)) return NONE;
    speer_t *p = &s->peers.v[s->peers.n];
    memset(p, 0, sizeof *p);
    p->id = *id;
    return s->peers.n++;
}

static void on_offer(mk_snapfetch_t *s, const mk_peer_id_t *from, const mk_gsync_msg_t *m) {
    if (s->done) return;
    mk_cursor_t anchor = m->snapshot_ready.anchor;
    mk_bytes_t hdr = m->snapshot_ready.header;
    if (anchor.index < s->commit) {
        s->nignored++;
        return;
    }
    size_t ci = find_cand(s, anchor);
    if (ci != NONE) {
        const cand_t *c = &s->cands.v[ci];
        if (c->item_count != m->snapshot_ready.item_count || c->header.len != hdr.len ||
            (hdr.len && memcmp(c->header.ptr, hdr.ptr, hdr.len) != 0)) {
            s->nignored++;  /* not the same snapshot: a broken provider */
            return;
        }
    }
    size_t pi = add_peer(s, from);
    if (pi == NONE) return;  /* out of memory: as if lost */
    if (ci == NONE) {
        if (!vec_room(&s->cands, sizeof *s->cands.v, 1)) return;
        cand_t c;
        memset(&c, 0, sizeof c);
        c.anchor = anchor;
        c.item_count = m->snapshot_ready.item_count;
        if (mk_buf_append(&c.header, hdr.ptr, hdr.len) != MK_OK) return;
        s->cands.v[s->cands.n] = c;
        ci = s->cands.n++;
    }
    cand_t *c = &s->cands.v[ci];
    offer_t *o = find_offer(c, pi);
    if (o) {
        if (!o->live && o->bad) s->nignored++;  /* answered wrongly for this anchor: stays dropped */
        else if (!o->live) o->live = true;      /* timed out or gone, offered again: back in */
        return;
    }
    if (!vec_room(&c->offers, sizeof *c->offers.v, 1)) return;
    c->offers.v[c->offers.n++] = (offer_t){.peer = pi, .live = true};
}

/* Copies the response's items (views into the message) into one owned block; NULL when out of memory. */
static mk_bytes_t *copy_items(const mk_bytes_t *src, size_t n) {
    size_t bytes = n * sizeof *src;
    for (size_t i = 0; i < n; i++) {
        if (src[i].len > SIZE_MAX - bytes) return NULL;
        bytes += src[i].len;
    }
    mk_bytes_t *v = malloc(bytes ? bytes : 1);
    if (!v) return NULL;
    uint8_t *body = (uint8_t *)(v + n);
    for (size_t i = 0; i < n; i++) {
        v[i].ptr = body;
        v[i].len = src[i].len;
        if (src[i].len) memcpy(body, src[i].ptr, src[i].len);
        body += src[i].len;
    }
    return v;
}

static void on_data(mk_snapfetch_t *s, size_t ci, const mk_peer_id_t *from, const mk_gsync_msg_t *m) {
    size_t pi = find_peer(s, from);
    if (pi == NONE) return;
    speer_t *p = &s->peers.v[pi];
    if (!p->busy || p->req_cand != ci || p->req_from != m->fetch_data_resp.from) return;  /* stale */
    p->busy = false;
    uint64_t a = p->req_from, b = p->req_to;
    bool current = current_req(s, p);
    if (m->fetch_data_resp.gone) {
        if (current) todo_add(s, a, b);
        drop_offer(s, ci, pi, false);
        return;
    }
    if (!current) return;  /* an answer about an anchor given up since: the peer is idle again */
    size_t n = m->fetch_data_resp.nitems;
    if (n == 0 || n > b - a) {  /* more than asked for: not a correct provider */
        todo_add(s, a, b);
        drop_offer(s, ci, pi, true);
        return;
    }
    mk_bytes_t *items = copy_items(m->fetch_data_resp.items, n);
    if (!items || !vec_room(&s->held, sizeof *s->held.v, 1) || !todo_reserve(s, 1)) {
        free(items);
        todo_add(s, a, b);  /* as if lost: fetched again */
        return;
    }
    size_t i = s->held.n;
    while (i > 0 && s->held.v[i - 1].from > a) i--;
    memmove(&s->held.v[i + 1], &s->held.v[i], (s->held.n - i) * sizeof *s->held.v);
    s->held.v[i] = (held_t){.from = a, .n = n, .items = items};
    s->held.n++;
    if (a + n < b) todo_add(s, a + n, b);  /* cut short: the rest goes back */
    release(s);
}

bool mk_snapfetch_step(mk_snapfetch_t *s, int64_t now, const mk_peer_id_t *from, const mk_gsync_msg_t *m) {
    if (m->kind == MK_GSYNC_SNAPSHOT_READY) {
        if (m->snapshot_ready.req_id != s->req_id) return false;
        s->now = now;
        on_offer(s, from, m);
        return true;
    }
    if (m->kind == MK_GSYNC_FETCH_DATA_RESP) {
        size_t ci = find_cand(s, m->fetch_data_resp.anchor);
        if (ci == NONE) return false;
        s->now = now;
        on_data(s, ci, from, m);
        return true;
    }
    return false;
}

void mk_snapfetch_peer_down(mk_snapfetch_t *s, int64_t now, const mk_peer_id_t *peer) {
    s->now = now;
    size_t pi = find_peer(s, peer);
    if (pi == NONE) return;
    speer_t *p = &s->peers.v[pi];
    if (p->busy) {
        p->busy = false;
        if (current_req(s, p)) todo_add(s, p->req_from, p->req_to);
    }
    for (size_t i = 0; i < s->cands.n; i++) {  /* live offers are forgotten; drop marks stay */
        cand_t *c = &s->cands.v[i];
        size_t k = 0;
        for (size_t j = 0; j < c->offers.n; j++)
            if (c->offers.v[j].peer != pi || !c->offers.v[j].live) c->offers.v[k++] = c->offers.v[j];
        c->offers.n = k;
    }
}

void mk_snapfetch_set_leader(mk_snapfetch_t *s, int64_t now, const mk_peer_id_t *leader) {
    s->now = now;
    s->has_leader = leader != NULL;
    if (leader) s->leader = *leader;
    if (s->req_due && s->has_leader && !s->done) request(s);
}

void mk_snapfetch_set_min_first(mk_snapfetch_t *s, int64_t now, mk_index_t min_first) {
    s->now = now;
    s->min_first = min_first;
}

void mk_snapfetch_tick(mk_snapfetch_t *s, int64_t now) {
    s->now = now;
    if (s->done) return;
    for (size_t i = 0; i < s->peers.n; i++) {
        speer_t *p = &s->peers.v[i];
        if (p->busy && now - p->req_at >= s->fetch_timeout) drop_offer(s, p->req_cand, i, false);
    }
    if (!s->chosen && !s->req_due && now - s->req_at >= s->req_timeout && best(s) == NONE) request(s);
}

int64_t mk_snapfetch_next_deadline(const mk_snapfetch_t *s) {
    if (s->done) return INT64_MAX;
    int64_t t = INT64_MAX;
    for (size_t i = 0; i < s->peers.n; i++) {
        const speer_t *p = &s->peers.v[i];
        if (p->busy && p->req_at + s->fetch_timeout < t) t = p->req_at + s->fetch_timeout;
    }
    if (!s->chosen && !s->req_due && best(s) == NONE && s->req_at + s->req_timeout < t) t = s->req_at + s->req_timeout;
    return t;
}

/* ---- outputs ---------------------------------------------------------------------------------------------- */

bool mk_snapfetch_ready(mk_snapfetch_t *s, mk_snapfetch_ready_t *out) {
    reconsider(s);
    release(s);  /* retries a release that ran out of memory */
    assign(s);
    memset(out, 0, sizeof *out);
    out->msgs = s->out.v;
    out->nmsgs = s->out.n;
    out->restart = s->restart_pending;
    out->begin = s->begin_pending;
    out->items = s->rel.v;
    out->nitems = s->rel.n;
    out->items_from = s->rel.n ? s->rel_from : s->next;
    out->done = s->done && !s->done_reported;
    out->chosen = s->chosen;
    if (s->chosen) {
        const cand_t *c = &s->cands.v[s->cur];
        out->anchor = c->anchor;
        out->item_count = c->item_count;
        out->header = (mk_bytes_t){c->header.ptr, c->header.len};
    }
    return out->nmsgs || out->restart || out->begin || out->nitems || out->done;
}

void mk_snapfetch_advance(mk_snapfetch_t *s, mk_snapfetch_ready_t *rd) {
    mk_gsync_outbox_clear(&s->out);
    free_pending_release(s);
    s->restart_pending = false;
    if (s->begin_pending) {
        s->begin_pending = false;
        s->open = true;
    }
    if (s->done && !s->done_reported) {
        s->done_reported = true;
        s->open = false;
    }
    if (rd) memset(rd, 0, sizeof *rd);
}

bool mk_snapfetch_done(const mk_snapfetch_t *s) { return s->done; }

void mk_snapfetch_status(const mk_snapfetch_t *s, mk_snapfetch_status_t *out) {
    memset(out, 0, sizeof *out);
    out->req_id = s->req_id;
    out->commit = s->commit;
    out->min_first = s->min_first;
    out->chosen = s->chosen;
    if (s->chosen) {
        const cand_t *c = &s->cands.v[s->cur];
        out->anchor = c->anchor;
        out->item_count = c->item_count;
        out->released = s->next;
        out->nofferers = live_offers(c);
    }
    for (size_t i = 0; i < s->cands.n; i++) out->nanchors += usable(s, &s->cands.v[i]);
    for (size_t i = 0; i < s->peers.n; i++) out->nbusy += s->peers.v[i].busy;
    out->nheld = s->held.n;
    out->nrequests = s->nrequests;
    out->nswitches = s->nswitches;
    out->ndropped = s->ndropped;
    out->nignored = s->nignored;
    out->waiting = !s->done && !s->chosen && best(s) == NONE;
    out->done = s->done;
}

bool mk_snapfetch_inflight(const mk_snapfetch_t *s, const mk_peer_id_t *peer, mk_cursor_t *anchor, uint64_t *from,
                           uint64_t *to) {
    size_t pi = find_peer(s, peer);
    if (pi == NONE || !s->peers.v[pi].busy) return false;
    const speer_t *p = &s->peers.v[pi];
    if (anchor) *anchor = s->cands.v[p->req_cand].anchor;
    if (from) *from = p->req_from;
    if (to) *to = p->req_to;
    return true;
}
