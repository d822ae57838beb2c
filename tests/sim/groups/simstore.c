/* tests/sim/groups/simstore.c — a log store for the Raft simulator that knows what is durable: every
 * write goes to the current view (an entry vector after a base cursor, hard state and meta); sync makes
 * the durable copy equal to it (truncations, appends, prunes, resets alike — as the LMDB store commits a
 * ready batch's writes in one transaction at sync); a crash throws the current view away and restarts
 * from the durable copy; amnesia empties both and draws a new incarnation (an in-memory node that
 * restarted). With the snapshot area (LMDB's), snap_commit makes the pending snapshot the stored one
 * and, as LMDB's does, commits the open batch with it; a crash keeps the last committed snapshot only.
 * Implements mk_log_store_vtbl_t. */
#include "sim/groups/simstore.h"

#include "groups/machine.h"

#include <stdlib.h>
#include <string.h>

typedef struct sent {
    mk_term_t term;
    uint8_t kind;
    uint8_t *body;
    size_t len;
} sent_t;

typedef struct view {
    mk_cursor_t base;               /* v[k] holds index base.index + 1 + k */
    sent_t *v;
    size_t n, cap;
    mk_hard_state_t hs;
    mk_store_meta_t meta;
} view_t;

typedef struct snaparea {
    bool has;
    mk_cursor_t anchor;
    mk_buf_t hdr;
    mk_buf_t *items;
    size_t n, cap;
} snaparea_t;

struct simstore {
    mk_log_store_t pub;
    view_t cur, dur;
    mk_index_t dirty_from;          /* entries of cur from this index on may differ from dur */
    bool state_dirty;
    bool reset_pending;             /* reset_to since the last sync: dur is replaced */
    snaparea_t snap, pend;          /* the stored snapshot; the one being written */
    uint64_t syncs;
    simstore_append_fn on_append;
    void *on_append_ctx;
};

static mk_index_t last_index(const view_t *w) { return w->base.index + w->n; }

static void view_cut(view_t *w, size_t n) {
    for (size_t i = n; i < w->n; i++) free(w->v[i].body);
    if (n < w->n) w->n = n;
}

static void view_drop_front(view_t *w, size_t k) {
    for (size_t i = 0; i < k; i++) free(w->v[i].body);
    memmove(w->v, w->v + k, (w->n - k) * sizeof *w->v);
    w->n -= k;
}

static int view_put(view_t *w, mk_term_t term, uint8_t kind, const void *body, size_t len) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        sent_t *v = realloc(w->v, cap * sizeof *v);
        if (!v) return MK_ENOMEM;
        w->v = v, w->cap = cap;
    }
    uint8_t *b = malloc(len ? len : 1);
    if (!b) return MK_ENOMEM;
    if (len) memcpy(b, body, len);
    w->v[w->n++] = (sent_t){term, kind, b, len};
    return MK_OK;
}

static void view_copy(view_t *to, const view_t *from) {
    view_cut(to, 0);
    to->base = from->base;
    for (size_t i = 0; i < from->n; i++)
        if (view_put(to, from->v[i].term, from->v[i].kind, from->v[i].body, from->v[i].len) != MK_OK) abort();
    to->hs = from->hs;
    to->meta = from->meta;
}

static void area_clear(snaparea_t *a) {
    for (size_t i = 0; i < a->n; i++) mk_buf_free(&a->items[i]);
    free(a->items);
    mk_buf_free(&a->hdr);
    memset(a, 0, sizeof *a);
}

static simstore_t *of(void *s) { return s; }

static bool stored(const view_t *w, mk_index_t i) { return i > w->base.index && i <= last_index(w); }

static int st_append(void *s, const mk_log_entry_t *e, size_t n) {
    simstore_t *m = of(s);
    mk_term_t prev = m->cur.n ? m->cur.v[m->cur.n - 1].term : m->cur.base.term;
    for (size_t i = 0; i < n; i++) {  /* contiguous, terms never decreasing, known kinds (as the built-ins) */
        if (e[i].index != last_index(&m->cur) + 1 + i || (e[i].len && !e[i].body)) return MK_EINVAL;
        if (e[i].kind > MK_ENTRY_SNAPSHOT_MARKER || e[i].term < prev) return MK_EINVAL;
        prev = e[i].term;
    }
    for (size_t i = 0; i < n; i++)
        if (view_put(&m->cur, e[i].term, e[i].kind, e[i].body, e[i].len) != MK_OK) return MK_ENOMEM;
    return MK_OK;
}

static void st_available(void *s, mk_index_t *first, mk_index_t *last) {
    simstore_t *m = of(s);
    *first = m->cur.base.index + 1;
    *last = last_index(&m->cur);
}

static void fill(const simstore_t *m, mk_index_t i, mk_log_entry_t *out) {
    const sent_t *e = &m->cur.v[i - m->cur.base.index - 1];
    *out = (mk_log_entry_t){.index = i, .term = e->term, .kind = e->kind, .body = e->body, .len = e->len};
}

static int st_get(void *s, mk_index_t i, mk_log_entry_t *out) {
    simstore_t *m = of(s);
    if (!stored(&m->cur, i)) return MK_ENOTFOUND;
    fill(m, i, out);
    return MK_OK;
}

static int st_get_range(void *s, mk_index_t first, mk_index_t last, size_t max_bytes, mk_log_entry_t *out, size_t cap,
                        size_t *n) {
    simstore_t *m = of(s);
    *n = 0;
    if (first > last || !cap) return MK_EINVAL;
    if (!stored(&m->cur, first) || !stored(&m->cur, last)) return MK_ENOTFOUND;
    size_t bytes = 0;
    for (mk_index_t i = first; i <= last && *n < cap; i++) {
        size_t len = m->cur.v[i - m->cur.base.index - 1].len;
        if (*n && bytes + len > max_bytes) break;
        bytes += len;
        fill(m, i, &out[(*n)++]);
    }
    return MK_OK;
}

static int st_truncate(void *s, mk_index_t from) {
    simstore_t *m = of(s);
    if (from <= m->cur.base.index) return MK_EINVAL;  /* below the base: only reset_to may do that */
    if (from > last_index(&m->cur)) return MK_OK;
    view_cut(&m->cur, (size_t)(from - m->cur.base.index - 1));
    if (m->dirty_from > from) m->dirty_from = from;
    return MK_OK;
}

static mk_cursor_t st_last(void *s) {
    simstore_t *m = of(s);
    return m->cur.n ? (mk_cursor_t){.term = m->cur.v[m->cur.n - 1].term, .index = last_index(&m->cur)} : m->cur.base;
}

static int st_term_at(void *s, mk_index_t i, mk_term_t *out) {
    simstore_t *m = of(s);
    if (i == 0) *out = 0;
    else if (i == m->cur.base.index) *out = m->cur.base.term;
    else if (stored(&m->cur, i)) *out = m->cur.v[i - m->cur.base.index - 1].term;
    else return MK_ENOTFOUND;
    return MK_OK;
}

static int st_prune(void *s, mk_index_t upto) {
    simstore_t *m = of(s);
    if (upto <= m->cur.base.index) return MK_OK;
    if (!stored(&m->cur, upto)) return MK_ENOTFOUND;
    size_t k = (size_t)(upto - m->cur.base.index);
    mk_term_t t = m->cur.v[k - 1].term;
    view_drop_front(&m->cur, k);
    m->cur.base = (mk_cursor_t){.term = t, .index = upto};
    if (m->dirty_from <= upto) m->dirty_from = upto + 1;
    return MK_OK;
}

static int st_reset(void *s, mk_cursor_t c) {
    simstore_t *m = of(s);
    if (c.index == 0 && c.term != 0) return MK_EINVAL;
    view_cut(&m->cur, 0);
    m->cur.base = c;
    m->reset_pending = true;
    m->dirty_from = c.index + 1;
    return MK_OK;
}

static int st_load(void *s, mk_hard_state_t *hs, mk_store_meta_t *meta) {
    simstore_t *m = of(s);
    if (hs) *hs = m->cur.hs;
    if (meta) *meta = m->cur.meta;
    return MK_OK;
}

static int st_save(void *s, const mk_hard_state_t *hs, const mk_store_meta_t *meta) {
    simstore_t *m = of(s);
    if (hs) m->cur.hs = *hs;
    if (meta) m->cur.meta = *meta;
    m->state_dirty = true;
    return MK_OK;
}

static int st_sync(void *s) {
    simstore_t *m = of(s);
    view_t *d = &m->dur, *c = &m->cur;
    if (m->reset_pending || c->base.index < d->base.index || c->base.index > last_index(d)) {
        view_cut(d, 0);  /* a reset (or a prune past everything durable): the durable log restarts */
        d->base = c->base;
    } else if (c->base.index > d->base.index) {  /* a prune */
        view_drop_front(d, (size_t)(c->base.index - d->base.index));
        d->base = c->base;
    }
    /* d and c share their base now: keep d's entries below dirty_from, copy the rest */
    mk_index_t keep = m->dirty_from - 1;
    if (keep < d->base.index) keep = d->base.index;
    if (keep < last_index(d)) view_cut(d, (size_t)(keep - d->base.index));
    for (size_t i = d->n; i < c->n; i++) {
        const sent_t *e = &c->v[i];
        if (view_put(d, e->term, e->kind, e->body, e->len) != MK_OK) return MK_ENOMEM;
        if (m->on_append) {  /* durable now: from here on the entry exists for everyone */
            mk_log_entry_t le = {.index = c->base.index + 1 + i, .term = e->term, .kind = e->kind, .body = e->body,
                                 .len = e->len};
            m->on_append(m->on_append_ctx, &le, i ? c->v[i - 1].term : c->base.term);
        }
    }
    d->hs = c->hs;
    d->meta = c->meta;
    m->dirty_from = last_index(c) + 1;
    m->state_dirty = false;
    m->reset_pending = false;
    m->syncs++;
    return MK_OK;
}

static void st_destroy(void *s) { (void)s; /* the simulator owns it: simstore_free */ }

/* ---- the snapshot area ---- */

static int st_snap_begin(void *s, mk_cursor_t anchor, const void *hdr, size_t len) {
    simstore_t *m = of(s);
    area_clear(&m->pend);
    m->pend.has = true;
    m->pend.anchor = anchor;
    return mk_buf_append(&m->pend.hdr, hdr, len);
}

static int st_snap_put(void *s, const void *item, size_t len) {
    simstore_t *m = of(s);
    if (!m->pend.has) return MK_EINVAL;
    if (m->pend.n == m->pend.cap) {
        size_t cap = m->pend.cap ? 2 * m->pend.cap : 16;
        mk_buf_t *v = realloc(m->pend.items, cap * sizeof *v);
        if (!v) return MK_ENOMEM;
        m->pend.items = v, m->pend.cap = cap;
    }
    m->pend.items[m->pend.n] = (mk_buf_t)MK_BUF_INIT;
    int rc = mk_buf_append(&m->pend.items[m->pend.n], item, len);
    if (rc == MK_OK) m->pend.n++;
    return rc;
}

static int st_snap_commit(void *s) {
    simstore_t *m = of(s);
    if (!m->pend.has) return MK_EINVAL;
    area_clear(&m->snap);
    m->snap = m->pend;
    memset(&m->pend, 0, sizeof m->pend);
    return st_sync(s);  /* LMDB commits the open batch with it */
}

static int st_snap_open(void *s, mk_cursor_t *anchor, mk_buf_t *hdr, mk_item_writer_t *items) {
    simstore_t *m = of(s);
    if (!m->snap.has) return MK_ENOTFOUND;
    *anchor = m->snap.anchor;
    int rc = mk_buf_append(hdr, m->snap.hdr.ptr, m->snap.hdr.len);
    for (size_t i = 0; i < m->snap.n && rc == MK_OK; i++) rc = items->put(items->ctx, m->snap.items[i].ptr, m->snap.items[i].len);
    return rc;
}

static const mk_log_store_vtbl_t vtbl = {
    .append = st_append, .available = st_available, .get = st_get, .get_range = st_get_range,
    .truncate = st_truncate, .last = st_last, .term_at = st_term_at, .prune_prefix = st_prune,
    .reset_to = st_reset, .load_state = st_load, .save_state = st_save, .sync = st_sync, .destroy = st_destroy,
};

static const mk_log_store_vtbl_t vtbl_area = {
    .append = st_append, .available = st_available, .get = st_get, .get_range = st_get_range,
    .truncate = st_truncate, .last = st_last, .term_at = st_term_at, .prune_prefix = st_prune,
    .reset_to = st_reset, .load_state = st_load, .save_state = st_save, .sync = st_sync, .destroy = st_destroy,
    .snap_begin = st_snap_begin, .snap_put = st_snap_put, .snap_commit = st_snap_commit, .snap_open = st_snap_open,
};

simstore_t *simstore_new(uint64_t incarnation, bool area) {
    simstore_t *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->pub = (mk_log_store_t){.vt = area ? &vtbl_area : &vtbl, .self = m};
    m->cur.meta.incarnation = m->dur.meta.incarnation = incarnation;
    m->dirty_from = 1;
    return m;
}

mk_log_store_t *simstore_pub(simstore_t *m) { return &m->pub; }

void simstore_crash(simstore_t *m) {
    view_copy(&m->cur, &m->dur);
    area_clear(&m->pend);  /* a snapshot being written is gone; the committed one stays */
    m->dirty_from = last_index(&m->cur) + 1;
    m->state_dirty = false;
    m->reset_pending = false;
}

void simstore_amnesia(simstore_t *m, uint64_t incarnation) {
    view_cut(&m->cur, 0);
    view_cut(&m->dur, 0);
    memset(&m->cur.base, 0, sizeof m->cur.base);
    memset(&m->cur.hs, 0, sizeof m->cur.hs);
    memset(&m->cur.meta, 0, sizeof m->cur.meta);
    m->cur.meta.incarnation = incarnation;
    m->dur.base = m->cur.base;
    m->dur.hs = m->cur.hs;
    m->dur.meta = m->cur.meta;
    area_clear(&m->pend);
    area_clear(&m->snap);
    m->dirty_from = 1;
    m->state_dirty = false;
    m->reset_pending = false;
}

uint64_t simstore_incarnation(const simstore_t *m) { return m->cur.meta.incarnation; }

mk_cursor_t simstore_base(const simstore_t *m) { return m->cur.base; }

bool simstore_unsynced(const simstore_t *m) {
    return m->state_dirty || m->reset_pending || m->dirty_from <= last_index(&m->cur) ||
           last_index(&m->dur) > last_index(&m->cur) || m->dur.base.index != m->cur.base.index;
}

void simstore_free(simstore_t *m) {
    if (!m) return;
    view_cut(&m->cur, 0);
    view_cut(&m->dur, 0);
    free(m->cur.v);
    free(m->dur.v);
    area_clear(&m->snap);
    area_clear(&m->pend);
    free(m);
}

void simstore_on_append(simstore_t *m, simstore_append_fn fn, void *ctx) {
    m->on_append = fn;
    m->on_append_ctx = ctx;
}
