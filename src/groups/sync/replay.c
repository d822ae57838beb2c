/* groups/sync/replay.c — the log-replay session, the log provider and the apply rule (see replay.h).
 *
 * Session bookkeeping: every index of [next, T] is in exactly one of three places — `todo` (sorted,
 * disjoint, unassigned ranges), a peer's request in flight, or `held` (received, waiting for an earlier
 * chunk). `next` is the first index not yet released; `last_term` the term of next − 1. */
#include "groups/sync/replay.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_WINDOW_CHUNKS 16u

/* ---- small growable arrays ---------------------------------------------------------------------------- */

#define VEC(T) struct { T *v; size_t n, cap; }

/* Makes room for one more element; false when out of memory. */
static bool vec_grow(void *vec, size_t elem) {
    VEC(char) *a = vec;
    if (a->n < a->cap) return true;
    size_t cap = a->cap ? a->cap * 2 : 8;
    void *v = realloc(a->v, cap * elem);
    if (!v) return false;
    a->v = v;
    a->cap = cap;
    return true;
}

/* ---- outbox -------------------------------------------------------------------------------------------- */

void mk_gsync_outbox_clear(mk_gsync_outbox_t *o) {
    for (size_t i = 0; i < o->n; i++) mk_buf_free(&o->v[i].bytes);
    o->n = 0;
}

void mk_gsync_outbox_free(mk_gsync_outbox_t *o) {
    mk_gsync_outbox_clear(o);
    free(o->v);
    *o = (mk_gsync_outbox_t)MK_GSYNC_OUTBOX_INIT;
}

/* Queues bytes (ownership moves in; freed on failure). */
static int outbox_push(mk_gsync_outbox_t *o, const mk_peer_id_t *to, mk_buf_t *bytes) {
    if (!vec_grow(o, sizeof *o->v)) {
        mk_buf_free(bytes);
        return MK_ENOMEM;
    }
    o->v[o->n].to = *to;
    o->v[o->n].bytes = *bytes;
    o->n++;
    *bytes = (mk_buf_t)MK_BUF_INIT;
    return MK_OK;
}

/* Encodes m and queues it for `to`. */
static int outbox_send(mk_gsync_outbox_t *o, const mk_peer_id_t *to, const mk_gsync_msg_t *m, mk_error_t *e) {
    mk_buf_t b = MK_BUF_INIT;
    int rc = mk_gsync_msg_encode(m, &b, e);
    if (rc != MK_OK) {
        mk_buf_free(&b);
        return rc;
    }
    return outbox_push(o, to, &b);
}

/* ---- the apply rule ------------------------------------------------------------------------------------ */

int mk_gsync_apply_entries(mk_log_store_t *store, mk_index_t commit, mk_cursor_t prev, const mk_log_entry_t *e,
                           size_t n, mk_gsync_apply_result_t *res) {
    mk_gsync_apply_result_t tmp;
    if (!res) res = &tmp;
    memset(res, 0, sizeof *res);
    if (n && !e) return MK_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (e[i].index != prev.index + 1 + i) return MK_EINVAL;
    const mk_log_store_vtbl_t *vt = store->vt;
    mk_index_t first, last_stored;
    vt->available(store->self, &first, &last_stored);
    mk_index_t base = first - 1;  /* the last compacted (or installed) index */
    mk_cursor_t last = vt->last(store->self);
    if (prev.index > last.index) return MK_ENOTFOUND;
    if (prev.index >= base) {
        mk_term_t t = 0;
        if (vt->term_at(store->self, prev.index, &t) != MK_OK || t != prev.term) return MK_ENOTFOUND;
    }
    size_t i = 0;
    for (; i < n; i++) {
        mk_index_t idx = e[i].index;
        if (idx > last.index) break;                      /* missing: append from here */
        if (idx < base) {                                 /* compacted, hence committed */
            res->skipped++;
            continue;
        }
        mk_term_t t = 0;
        int rc = vt->term_at(store->self, idx, &t);
        if (rc != MK_OK) return rc;
        if (t == e[i].term) {
            res->skipped++;
            continue;
        }
        if (idx <= commit) return MK_EPROTO;              /* a committed entry is never replaced */
        rc = vt->truncate(store->self, idx);
        if (rc != MK_OK) return rc;
        res->truncated_from = idx;
        break;
    }
    if (i < n) {
        int rc = vt->append(store->self, e + i, n - i);
        if (rc != MK_OK) return rc;
        res->appended = n - i;
    }
    return MK_OK;
}

/* ---- provider ------------------------------------------------------------------------------------------ */

int mk_gsync_provide(mk_log_store_t *store, mk_index_t commit, size_t max_bytes, const mk_peer_id_t *from,
                     const mk_gsync_msg_t *m, mk_gsync_outbox_t *out, mk_error_t *e) {
    mk_buf_t b = MK_BUF_INIT;
    int rc;
    switch (m->kind) {
    case MK_GSYNC_AVAIL_REQ: {
        mk_index_t first, last;
        store->vt->available(store->self, &first, &last);
        if (first == 0) first = 1;
        if (last > commit) last = commit;
        if (last < first - 1) last = first - 1;  /* nothing committed to offer */
        mk_gsync_msg_t r = {.kind = MK_GSYNC_AVAIL_RESP};
        r.avail_resp.sid = m->avail_req.sid;
        r.avail_resp.first = first;
        r.avail_resp.last = last;
        rc = mk_gsync_msg_encode(&r, &b, e);
        break;
    }
    case MK_GSYNC_FETCH_REQ: {
        mk_index_t first = m->fetch_req.first, last = m->fetch_req.last < commit ? m->fetch_req.last : commit;
        if (first == 0 || first > last) {
            mk_gsync_msg_t r = {.kind = MK_GSYNC_FETCH_RESP};
            r.fetch_resp.sid = m->fetch_req.sid;
            r.fetch_resp.first = first ? first : 1;
            rc = mk_gsync_msg_encode(&r, &b, e);
        } else {
            rc = mk_gsync_fetch_resp_from_store(store, m->fetch_req.sid, first, last, max_bytes, &b, NULL, e);
        }
        break;
    }
    default:
        return MK_ERR(e, MK_ENOTSUP, "%s is not a log provider request", mk_gsync_msg_kind_name(m->kind));
    }
    if (rc != MK_OK) {
        mk_buf_free(&b);
        return rc;
    }
    rc = outbox_push(out, from, &b);
    if (rc != MK_OK) return MK_ERR(e, rc, "out of memory");
    return MK_OK;
}

/* ---- session: state ------------------------------------------------------------------------------------ */

typedef struct range {
    mk_index_t first, last;
} range_t;

typedef struct rpeer {
    mk_peer_id_t id;
    bool up, leader, banned;
    bool has_range;               /* answered an AvailabilityRequest since it was last forgotten */
    mk_index_t first, last;       /* its committed range (has_range) */
    bool asking, silent;          /* an AvailabilityRequest is out / one went unanswered for a timeout */
    int64_t asked_at;
    bool busy;                    /* a FetchEntriesRequest is out */
    mk_index_t req_first, req_last;
    int64_t req_at;
} rpeer_t;

typedef struct held {
    mk_index_t first;
    mk_term_t prev_term;
    mk_peer_id_t from;
    mk_log_entry_t *e;            /* one allocation: entries, then their bodies */
    size_t n;
} held_t;

struct mk_replay {
    uint64_t sid;
    mk_index_t commit, target;
    mk_index_t batch, window;     /* entries per chunk; how far ahead of next requests may start */
    int64_t timeout;
    mk_index_t next;              /* first index not yet released */
    mk_term_t last_term;          /* term at next − 1 */
    bool done;
    bool stuck, stuck_changed;
    mk_index_t stuck_at;
    int64_t reask_at;             /* while stuck: when every peer is asked again */
    int64_t now;
    VEC(rpeer_t) peers;
    VEC(range_t) todo;
    VEC(held_t) held;             /* sorted by first */
    mk_gsync_outbox_t out;
    VEC(mk_replay_write_t) writes;
    VEC(mk_log_entry_t *) write_mem;  /* allocations behind `writes` */
    mk_error_t err;               /* scratch for codec calls */
};

static rpeer_t *find_peer(mk_replay_t *s, const mk_peer_id_t *id) {
    for (size_t i = 0; i < s->peers.n; i++)
        if (mk_id_eq(&s->peers.v[i].id, id)) return &s->peers.v[i];
    return NULL;
}

static bool usable(const rpeer_t *p) { return p->up && !p->banned; }

/* ---- session: the todo set ------------------------------------------------------------------------------ */

/* todo is the complement of the requests in flight (≤ one per peer) and the held chunks within [next, T],
 * so it has at most peers + held + 1 intervals. Keeping that much room reserved (checked whenever a peer
 * or a held chunk is added) means todo_add / todo_take never allocate and a range is never lost. */
static bool todo_reserve(mk_replay_t *s, size_t extra_held) {
    size_t need = s->peers.n + s->held.n + extra_held + 2;
    if (s->todo.cap >= need) return true;
    size_t cap = s->todo.cap * 2 > need ? s->todo.cap * 2 : need;
    range_t *v = realloc(s->todo.v, cap * sizeof *v);
    if (!v) return false;
    s->todo.v = v;
    s->todo.cap = cap;
    return true;
}

/* Adds [a, b] (disjoint from everything in todo), merging with neighbours. */
static void todo_add(mk_replay_t *s, mk_index_t a, mk_index_t b) {
    if (a > b) return;
    size_t i = 0;
    while (i < s->todo.n && s->todo.v[i].first < a) i++;
    bool join_left = i > 0 && s->todo.v[i - 1].last + 1 == a;
    bool join_right = i < s->todo.n && b + 1 == s->todo.v[i].first;
    if (join_left && join_right) {
        s->todo.v[i - 1].last = s->todo.v[i].last;
        memmove(&s->todo.v[i], &s->todo.v[i + 1], (s->todo.n - i - 1) * sizeof *s->todo.v);
        s->todo.n--;
    } else if (join_left) {
        s->todo.v[i - 1].last = b;
    } else if (join_right) {
        s->todo.v[i].first = a;
    } else {
        if (s->todo.n == s->todo.cap) abort();  /* cannot happen: todo_reserve keeps the room */
        memmove(&s->todo.v[i + 1], &s->todo.v[i], (s->todo.n - i) * sizeof *s->todo.v);
        s->todo.v[i] = (range_t){a, b};
        s->todo.n++;
    }
}

/* Removes [a, b], which lies inside todo interval i. */
static void todo_take(mk_replay_t *s, size_t i, mk_index_t a, mk_index_t b) {
    range_t r = s->todo.v[i];
    if (r.first == a && r.last == b) {
        memmove(&s->todo.v[i], &s->todo.v[i + 1], (s->todo.n - i - 1) * sizeof *s->todo.v);
        s->todo.n--;
    } else if (r.first == a) {
        s->todo.v[i].first = b + 1;
    } else if (r.last == b) {
        s->todo.v[i].last = a - 1;
    } else {
        if (s->todo.n == s->todo.cap) abort();  /* cannot happen: todo_reserve keeps the room */
        memmove(&s->todo.v[i + 2], &s->todo.v[i + 1], (s->todo.n - i - 1) * sizeof *s->todo.v);
        s->todo.v[i].last = a - 1;
        s->todo.v[i + 1] = (range_t){b + 1, r.last};
        s->todo.n++;
    }
}

/* ---- session: peers --------------------------------------------------------------------------------------- */

static void ask(mk_replay_t *s, rpeer_t *p) {
    mk_gsync_msg_t m = {.kind = MK_GSYNC_AVAIL_REQ};
    m.avail_req.sid = s->sid;
    outbox_send(&s->out, &p->id, &m, &s->err);  /* out of memory: lost, as on a lossy link; resent on tick */
    p->asking = true;
    p->asked_at = s->now;
}

/* The peer's request in flight (if any) goes back to todo. */
static void cancel_request(mk_replay_t *s, rpeer_t *p) {
    if (!p->busy) return;
    p->busy = false;
    if (!s->done) todo_add(s, p->req_first, p->req_last);
}

static void free_held(held_t *h) {
    free(h->e);
    h->e = NULL;
}

/* The peer sent bad data: it gets nothing more in this session, and what it sent and not yet released is
 * fetched again elsewhere. */
static void ban(mk_replay_t *s, rpeer_t *p) {
    cancel_request(s, p);
    p->banned = true;
    p->has_range = false;
    p->asking = false;
    size_t k = 0;
    for (size_t i = 0; i < s->held.n; i++) {
        held_t *h = &s->held.v[i];
        if (mk_id_eq(&h->from, &p->id)) {
            todo_add(s, h->first, h->first + h->n - 1);
            free_held(h);
        } else {
            s->held.v[k++] = *h;
        }
    }
    s->held.n = k;
}

static rpeer_t *add_peer(mk_replay_t *s, const mk_peer_id_t *id) {
    rpeer_t *p = find_peer(s, id);
    if (p) return p;
    if (!vec_grow(&s->peers, sizeof *s->peers.v) || !todo_reserve(s, 1)) return NULL;
    p = &s->peers.v[s->peers.n++];
    memset(p, 0, sizeof *p);
    p->id = *id;
    return p;
}

static void set_leader(mk_replay_t *s, const mk_peer_id_t *leader) {
    for (size_t i = 0; i < s->peers.n; i++)
        s->peers.v[i].leader = leader && mk_id_eq(&s->peers.v[i].id, leader);
}

/* ---- session: progress ------------------------------------------------------------------------------------ */

static void finish(mk_replay_t *s) {
    s->done = true;
    for (size_t i = 0; i < s->held.n; i++) free_held(&s->held.v[i]);
    s->held.n = 0;
    s->todo.n = 0;
    for (size_t i = 0; i < s->peers.n; i++) s->peers.v[i].busy = false;
}

/* Releases the held chunks that continue the log, in order; a chunk that does not continue it (prev_term
 * differs from the term at first − 1) is dropped together with its peer. */
static void release(mk_replay_t *s) {
    while (!s->done && s->held.n && s->held.v[0].first == s->next) {
        held_t h = s->held.v[0];
        if (h.prev_term != s->last_term) {
            rpeer_t *p = find_peer(s, &h.from);
            if (p) ban(s, p);  /* also drops h */
            else {
                todo_add(s, h.first, h.first + h.n - 1);
                free_held(&s->held.v[0]);
                memmove(&s->held.v[0], &s->held.v[1], (s->held.n - 1) * sizeof *s->held.v);
                s->held.n--;
            }
            continue;
        }
        if (!vec_grow(&s->writes, sizeof *s->writes.v) || !vec_grow(&s->write_mem, sizeof *s->write_mem.v))
            return;  /* out of memory: retried at the next input */
        s->writes.v[s->writes.n++] = (mk_replay_write_t){
            .prev = {.term = h.prev_term, .index = h.first - 1}, .entries = h.e, .n = h.n};
        s->write_mem.v[s->write_mem.n++] = h.e;
        memmove(&s->held.v[0], &s->held.v[1], (s->held.n - 1) * sizeof *s->held.v);
        s->held.n--;
        s->next = h.first + h.n;
        s->last_term = h.e[h.n - 1].term;
        if (s->next - 1 >= s->target) finish(s);
    }
}

/* Gives each idle usable peer (non-leaders first) the lowest unassigned index it offers, within the window,
 * as a chunk of ≤ batch entries clamped to its range. */
static void assign(mk_replay_t *s) {
    if (s->done) return;
    mk_index_t horizon = s->next + s->window < s->next ? UINT64_MAX : s->next + s->window;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < s->peers.n && s->todo.n; i++) {
            rpeer_t *p = &s->peers.v[i];
            if (!usable(p) || !p->has_range || p->busy || p->leader != (pass == 1)) continue;
            if (p->first > p->last) continue;
            for (size_t k = 0; k < s->todo.n; k++) {
                range_t r = s->todo.v[k];
                if (r.first >= horizon) break;
                mk_index_t a = r.first > p->first ? r.first : p->first;
                if (a > r.last || a > p->last) continue;
                if (a >= horizon) break;
                mk_index_t b = r.last < p->last ? r.last : p->last;
                if (b - a >= s->batch) b = a + s->batch - 1;
                mk_gsync_msg_t m = {.kind = MK_GSYNC_FETCH_REQ};
                m.fetch_req.sid = s->sid;
                m.fetch_req.first = a;
                m.fetch_req.last = b;
                if (outbox_send(&s->out, &p->id, &m, &s->err) != MK_OK) return;
                todo_take(s, k, a, b);
                p->busy = true;
                p->req_first = a;
                p->req_last = b;
                p->req_at = s->now;
                break;
            }
        }
    }
}

/* The lowest index still to fetch that no usable peer's known range covers (0: none). */
static mk_index_t uncovered(const mk_replay_t *s) {
    for (size_t k = 0; k < s->todo.n; k++) {
        mk_index_t x = s->todo.v[k].first;
        bool moved = true;
        while (moved && x <= s->todo.v[k].last) {
            moved = false;
            for (size_t i = 0; i < s->peers.n; i++) {
                const rpeer_t *p = &s->peers.v[i];
                if (!usable(p) || !p->has_range || p->first > x || p->last < x) continue;
                if (p->last == UINT64_MAX) return 0;
                x = p->last + 1;
                moved = true;
            }
        }
        if (x <= s->todo.v[k].last) return x;
    }
    return 0;
}

static void update_stuck(mk_replay_t *s) {
    bool stuck = false;
    mk_index_t at = 0;
    if (!s->done) {
        bool pending = false;  /* a peer still to answer for the first time */
        for (size_t i = 0; i < s->peers.n; i++) {
            const rpeer_t *p = &s->peers.v[i];
            if (usable(p) && !p->has_range && p->asking && !p->silent) pending = true;
        }
        at = uncovered(s);
        stuck = at != 0 && !pending;
    }
    if (stuck && !s->stuck) s->reask_at = s->now + s->timeout;
    if (stuck != s->stuck) s->stuck_changed = true;
    s->stuck = stuck;
    s->stuck_at = stuck ? at : 0;
}

/* After every input: release what continues the log, recompute the stuck flag. Work is handed out in
 * mk_replay_ready, once every input of the loop turn has been seen. */
static void progress(mk_replay_t *s) {
    release(s);
    update_stuck(s);
}

/* ---- session: inputs ------------------------------------------------------------------------------------- */

mk_replay_t *mk_replay_new(const mk_replay_config_t *cfg, int64_t now, mk_error_t *e) {
    if (cfg->replay_batch == 0) return MK_ERR(e, MK_EINVAL, "replay_batch: 0"), NULL;
    if (cfg->fetch_timeout_ms == 0) return MK_ERR(e, MK_EINVAL, "fetch_timeout_ms: 0"), NULL;
    if (cfg->npeers && !cfg->peers) return MK_ERR(e, MK_EINVAL, "peers: NULL with count %zu", cfg->npeers), NULL;
    mk_replay_t *s = calloc(1, sizeof *s);
    if (!s) return MK_ERR(e, MK_ENOMEM, "out of memory"), NULL;
    s->sid = cfg->sid;
    s->commit = cfg->commit;
    s->target = cfg->target;
    s->batch = cfg->replay_batch < MK_GSYNC_MAX_ENTRIES ? cfg->replay_batch : MK_GSYNC_MAX_ENTRIES;
    uint64_t chunks = cfg->window_chunks ? cfg->window_chunks : DEFAULT_WINDOW_CHUNKS;
    s->window = s->batch * chunks;
    s->timeout = cfg->fetch_timeout_ms;
    s->next = cfg->commit + 1;
    s->last_term = cfg->commit_term;
    s->now = now;
    if (cfg->commit >= cfg->target) {
        s->done = true;
        return s;
    }
    if (!todo_reserve(s, 0)) {
        mk_replay_free(s);
        return MK_ERR(e, MK_ENOMEM, "out of memory"), NULL;
    }
    todo_add(s, cfg->commit + 1, cfg->target);
    for (size_t i = 0; i < cfg->npeers; i++) {
        rpeer_t *p = add_peer(s, &cfg->peers[i].id);
        if (!p) {
            mk_replay_free(s);
            return MK_ERR(e, MK_ENOMEM, "out of memory"), NULL;
        }
        p->up = true;
        if (cfg->peers[i].leader) set_leader(s, &p->id);
    }
    for (size_t i = 0; i < s->peers.n; i++) ask(s, &s->peers.v[i]);
    update_stuck(s);
    return s;
}

void mk_replay_free(mk_replay_t *s) {
    if (!s) return;
    for (size_t i = 0; i < s->held.n; i++) free_held(&s->held.v[i]);
    for (size_t i = 0; i < s->write_mem.n; i++) free(s->write_mem.v[i]);
    free(s->held.v);
    free(s->write_mem.v);
    free(s->writes.v);
    free(s->todo.v);
    free(s->peers.v);
    mk_gsync_outbox_free(&s->out);
    free(s);
}

void mk_replay_peer_up(mk_replay_t *s, int64_t now, const mk_peer_id_t *peer, bool leader) {
    s->now = now;
    rpeer_t *p = add_peer(s, peer);
    if (!p) return;
    if (leader) set_leader(s, peer);
    if (s->done || p->banned) {
        p->up = true;
        return;
    }
    cancel_request(s, p);
    p->up = true;
    p->has_range = false;
    p->silent = false;
    ask(s, p);
    progress(s);
}

void mk_replay_peer_down(mk_replay_t *s, int64_t now, const mk_peer_id_t *peer) {
    s->now = now;
    rpeer_t *p = find_peer(s, peer);
    if (!p || !p->up) return;
    cancel_request(s, p);
    p->up = false;
    p->has_range = false;
    p->asking = false;
    progress(s);
}

void mk_replay_set_leader(mk_replay_t *s, int64_t now, const mk_peer_id_t *leader) {
    s->now = now;
    set_leader(s, leader);
    progress(s);
}

/* Copies the response's entries (views into the message) into one owned block. */
static mk_log_entry_t *copy_entries(const mk_log_entry_t *src, size_t n) {
    size_t bytes = n * sizeof *src;
    for (size_t i = 0; i < n; i++) bytes += src[i].len;
    mk_log_entry_t *e = malloc(bytes);
    if (!e) return NULL;
    uint8_t *body = (uint8_t *)(e + n);
    for (size_t i = 0; i < n; i++) {
        e[i] = src[i];
        e[i].body = body;
        if (src[i].len) memcpy(body, src[i].body, src[i].len);
        body += src[i].len;
    }
    return e;
}

static void on_fetch_resp(mk_replay_t *s, rpeer_t *p, const mk_gsync_msg_t *m) {
    if (!p->busy || m->fetch_resp.first != p->req_first) return;  /* stale: a reassigned request */
    size_t n = m->fetch_resp.nentries;
    mk_index_t a = p->req_first, b = p->req_last;
    if (n == 0) {  /* gone: it no longer holds a; forget its range and ask again */
        cancel_request(s, p);
        p->has_range = false;
        p->silent = false;
        ask(s, p);
        return;
    }
    if (n - 1 > b - a) {  /* more than asked for: not a correct provider */
        ban(s, p);
        return;
    }
    mk_log_entry_t *e = copy_entries(m->fetch_resp.entries, n);
    if (!e || !vec_grow(&s->held, sizeof *s->held.v) || !todo_reserve(s, 1)) {
        free(e);
        cancel_request(s, p);  /* as if lost; fetched again */
        return;
    }
    p->busy = false;
    size_t i = s->held.n;
    while (i > 0 && s->held.v[i - 1].first > a) i--;
    memmove(&s->held.v[i + 1], &s->held.v[i], (s->held.n - i) * sizeof *s->held.v);
    s->held.v[i] = (held_t){.first = a, .prev_term = m->fetch_resp.prev_term, .from = p->id, .e = e, .n = n};
    s->held.n++;
    if (a + n - 1 < b) todo_add(s, a + n, b);  /* cut short: the rest goes back */
}

bool mk_replay_step(mk_replay_t *s, int64_t now, const mk_peer_id_t *from, const mk_gsync_msg_t *m) {
    uint64_t sid;
    if (m->kind == MK_GSYNC_AVAIL_RESP) sid = m->avail_resp.sid;
    else if (m->kind == MK_GSYNC_FETCH_RESP) sid = m->fetch_resp.sid;
    else return false;
    if (sid != s->sid) return false;
    s->now = now;
    rpeer_t *p = find_peer(s, from);
    if (s->done || !p || !usable(p)) return true;
    if (m->kind == MK_GSYNC_AVAIL_RESP) {
        p->has_range = true;
        p->first = m->avail_resp.first;
        p->last = m->avail_resp.last;
        p->asking = false;
        p->silent = false;
    } else {
        on_fetch_resp(s, p, m);
    }
    progress(s);
    return true;
}

void mk_replay_tick(mk_replay_t *s, int64_t now) {
    s->now = now;
    if (s->done) return;
    for (size_t i = 0; i < s->peers.n; i++) {
        rpeer_t *p = &s->peers.v[i];
        if (!usable(p)) continue;
        if (p->busy && now - p->req_at >= s->timeout) {  /* unanswered: drop its range, re-ask, reassign */
            cancel_request(s, p);
            p->has_range = false;
            p->silent = false;
            ask(s, p);
        }
        if (p->asking && now - p->asked_at >= s->timeout) {
            p->silent = true;
            ask(s, p);
        }
    }
    if (s->stuck && now >= s->reask_at) {
        for (size_t i = 0; i < s->peers.n; i++) {
            rpeer_t *p = &s->peers.v[i];
            if (usable(p) && !p->asking && !p->busy) ask(s, p);
        }
        s->reask_at = now + s->timeout;
    }
    progress(s);
}

int64_t mk_replay_next_deadline(const mk_replay_t *s) {
    if (s->done) return INT64_MAX;
    int64_t t = INT64_MAX;
    for (size_t i = 0; i < s->peers.n; i++) {
        const rpeer_t *p = &s->peers.v[i];
        if (!usable(p)) continue;
        if (p->busy && p->req_at + s->timeout < t) t = p->req_at + s->timeout;
        if (p->asking && p->asked_at + s->timeout < t) t = p->asked_at + s->timeout;
    }
    if (s->stuck && s->reask_at < t) t = s->reask_at;
    return t;
}

/* ---- session: outputs ------------------------------------------------------------------------------------ */

bool mk_replay_ready(mk_replay_t *s, mk_replay_ready_t *out) {
    release(s);  /* retries a release that ran out of memory */
    assign(s);
    update_stuck(s);
    memset(out, 0, sizeof *out);
    out->msgs = s->out.v;
    out->nmsgs = s->out.n;
    out->writes = s->writes.v;
    out->nwrites = s->writes.n;
    out->committed = s->next - 1;
    out->done = s->done;
    out->stuck = s->stuck;
    out->stuck_changed = s->stuck_changed;
    return out->nmsgs || out->nwrites || out->stuck_changed;
}

void mk_replay_advance(mk_replay_t *s, mk_replay_ready_t *rd) {
    mk_gsync_outbox_clear(&s->out);
    for (size_t i = 0; i < s->write_mem.n; i++) free(s->write_mem.v[i]);
    s->write_mem.n = 0;
    s->writes.n = 0;
    s->stuck_changed = false;
    if (rd) memset(rd, 0, sizeof *rd);
}

bool mk_replay_done(const mk_replay_t *s) { return s->done; }

bool mk_replay_stuck(const mk_replay_t *s) { return s->stuck; }

void mk_replay_status(const mk_replay_t *s, mk_replay_status_t *out) {
    memset(out, 0, sizeof *out);
    out->commit = s->commit;
    out->target = s->target;
    out->released = s->next - 1;
    for (size_t i = 0; i < s->peers.n; i++) {
        const rpeer_t *p = &s->peers.v[i];
        if (p->banned) out->nbanned++;
        else if (p->up) out->npeers++;
        if (p->busy) out->nbusy++;
    }
    out->nheld = s->held.n;
    out->done = s->done;
    out->stuck = s->stuck;
    out->stuck_at = s->stuck_at;
}

bool mk_replay_inflight(const mk_replay_t *s, const mk_peer_id_t *peer, mk_index_t *first, mk_index_t *last) {
    for (size_t i = 0; i < s->peers.n; i++) {
        const rpeer_t *p = &s->peers.v[i];
        if (!mk_id_eq(&p->id, peer) || !p->busy) continue;
        if (first) *first = p->req_first;
        if (last) *last = p->req_last;
        return true;
    }
    return false;
}
