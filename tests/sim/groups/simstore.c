/* tests/sim/groups/simstore.c — a log store for the Raft simulator that knows what is durable: every
 * write goes to the current view; sync copies what changed since the last sync into the durable copy;
 * a crash throws the current view away and restarts from the durable copy; amnesia empties both and
 * draws a new incarnation (an in-memory node that restarted). Implements mk_log_store_vtbl_t. */
#include "sim/groups/simstore.h"

#include <stdlib.h>
#include <string.h>

typedef struct sent {
    mk_term_t term;
    uint8_t kind;
    uint8_t *body;
    size_t len;
} sent_t;

typedef struct view {
    sent_t *v;
    size_t n, cap;
    mk_hard_state_t hs;
    mk_store_meta_t meta;
} view_t;

struct simstore {
    mk_log_store_t pub;
    view_t cur, dur;
    size_t dirty_from;  /* entries of cur from here differ from dur */
    bool state_dirty;
    uint64_t syncs;
    simstore_append_fn on_append;
    void *on_append_ctx;
};

static void view_cut(view_t *w, size_t n) {
    for (size_t i = n; i < w->n; i++) free(w->v[i].body);
    if (n < w->n) w->n = n;
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

static simstore_t *of(void *s) { return s; }

static int st_append(void *s, const mk_log_entry_t *e, size_t n) {
    simstore_t *m = of(s);
    for (size_t i = 0; i < n; i++)
        if (e[i].index != m->cur.n + 1 + i) return MK_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (view_put(&m->cur, e[i].term, e[i].kind, e[i].body, e[i].len) != MK_OK) return MK_ENOMEM;
    return MK_OK;
}

static void st_available(void *s, mk_index_t *first, mk_index_t *last) {
    *first = 1;
    *last = of(s)->cur.n;
}

static void fill(const simstore_t *m, mk_index_t i, mk_log_entry_t *out) {
    const sent_t *e = &m->cur.v[i - 1];
    *out = (mk_log_entry_t){.index = i, .term = e->term, .kind = e->kind, .body = e->body, .len = e->len};
}

static int st_get(void *s, mk_index_t i, mk_log_entry_t *out) {
    simstore_t *m = of(s);
    if (i < 1 || i > m->cur.n) return MK_ENOTFOUND;
    fill(m, i, out);
    return MK_OK;
}

static int st_get_range(void *s, mk_index_t first, mk_index_t last, size_t max_bytes, mk_log_entry_t *out, size_t cap,
                        size_t *n) {
    simstore_t *m = of(s);
    *n = 0;
    if (first > last || !cap) return MK_EINVAL;
    if (first < 1 || last > m->cur.n) return MK_ENOTFOUND;
    size_t bytes = 0;
    for (mk_index_t i = first; i <= last && *n < cap; i++) {
        if (*n && bytes + m->cur.v[i - 1].len > max_bytes) break;
        bytes += m->cur.v[i - 1].len;
        fill(m, i, &out[(*n)++]);
    }
    return MK_OK;
}

static int st_truncate(void *s, mk_index_t from) {
    simstore_t *m = of(s);
    if (from < 1) return MK_EINVAL;
    if (from > m->cur.n) return MK_OK;
    view_cut(&m->cur, (size_t)(from - 1));
    if (m->dirty_from > from - 1) m->dirty_from = (size_t)(from - 1);
    return MK_OK;
}

static mk_cursor_t st_last(void *s) {
    simstore_t *m = of(s);
    return m->cur.n ? (mk_cursor_t){.term = m->cur.v[m->cur.n - 1].term, .index = m->cur.n} : (mk_cursor_t){0, 0};
}

static int st_term_at(void *s, mk_index_t i, mk_term_t *out) {
    simstore_t *m = of(s);
    if (i == 0) *out = 0;
    else if (i <= m->cur.n) *out = m->cur.v[i - 1].term;
    else return MK_ENOTFOUND;
    return MK_OK;
}

static int st_prune(void *s, mk_index_t upto) {
    (void)s;
    (void)upto;
    return MK_ENOTSUP;  /* the simulator never compacts */
}

static int st_reset(void *s, mk_cursor_t c) {
    simstore_t *m = of(s);
    if (c.index != 0) return MK_ENOTSUP;
    view_cut(&m->cur, 0);
    m->dirty_from = 0;
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
    view_cut(&m->dur, m->dirty_from < m->dur.n ? m->dirty_from : m->dur.n);
    for (size_t i = m->dur.n; i < m->cur.n; i++) {
        const sent_t *e = &m->cur.v[i];
        if (view_put(&m->dur, e->term, e->kind, e->body, e->len) != MK_OK) return MK_ENOMEM;
        if (m->on_append) {  /* durable now: from here on the entry exists for everyone */
            mk_log_entry_t le = {.index = i + 1, .term = e->term, .kind = e->kind, .body = e->body, .len = e->len};
            m->on_append(m->on_append_ctx, &le, i ? m->cur.v[i - 1].term : 0);
        }
    }
    m->dur.hs = m->cur.hs;
    m->dur.meta = m->cur.meta;
    m->dirty_from = m->cur.n;
    m->state_dirty = false;
    m->syncs++;
    return MK_OK;
}

static void st_destroy(void *s) { (void)s; /* the simulator owns it: simstore_free */ }

static const mk_log_store_vtbl_t vtbl = {
    .append = st_append, .available = st_available, .get = st_get, .get_range = st_get_range,
    .truncate = st_truncate, .last = st_last, .term_at = st_term_at, .prune_prefix = st_prune,
    .reset_to = st_reset, .load_state = st_load, .save_state = st_save, .sync = st_sync, .destroy = st_destroy,
};

simstore_t *simstore_new(uint64_t incarnation) {
    simstore_t *m = calloc(1, sizeof *m);
    if (!m) abort();
    m->pub = (mk_log_store_t){.vt = &vtbl, .self = m};
    m->cur.meta.incarnation = m->dur.meta.incarnation = incarnation;
    return m;
}

mk_log_store_t *simstore_pub(simstore_t *m) { return &m->pub; }

void simstore_crash(simstore_t *m) {
    view_cut(&m->cur, 0);
    for (size_t i = 0; i < m->dur.n; i++) {
        const sent_t *e = &m->dur.v[i];
        if (view_put(&m->cur, e->term, e->kind, e->body, e->len) != MK_OK) abort();
    }
    m->cur.hs = m->dur.hs;
    m->cur.meta = m->dur.meta;
    m->dirty_from = m->cur.n;
    m->state_dirty = false;
}

void simstore_amnesia(simstore_t *m, uint64_t incarnation) {
    view_cut(&m->cur, 0);
    view_cut(&m->dur, 0);
    memset(&m->cur.hs, 0, sizeof m->cur.hs);
    memset(&m->cur.meta, 0, sizeof m->cur.meta);
    m->cur.meta.incarnation = incarnation;
    m->dur.hs = m->cur.hs;
    m->dur.meta = m->cur.meta;
    m->dirty_from = 0;
}

uint64_t simstore_incarnation(const simstore_t *m) { return m->cur.meta.incarnation; }

bool simstore_unsynced(const simstore_t *m) { return m->state_dirty || m->dirty_from < m->cur.n || m->dur.n > m->cur.n; }

void simstore_free(simstore_t *m) {
    if (!m) return;
    view_cut(&m->cur, 0);
    view_cut(&m->dur, 0);
    free(m->cur.v);
    free(m->dur.v);
    free(m);
}

void simstore_on_append(simstore_t *m, simstore_append_fn fn, void *ctx) {
    m->on_append = fn;
    m->on_append_ctx = ctx;
}
