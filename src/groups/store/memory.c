/* groups/store/memory.c — the in-memory log store (spec 40 §7.1): an entry vector after a base cursor,
 * the hard state and meta in plain fields. Nothing survives the process, so a restarted node draws a
 * new incarnation and is never counted as the voter it was (§3.2). No snapshot area. */
#include "mosaik/groups.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

typedef struct mem_entry {
    mk_term_t term;
    uint8_t kind;
    uint8_t *body;
    size_t len;
} mem_entry_t;

typedef struct mem_store {
    mk_log_store_t pub;
    mem_entry_t *v;           /* v[i] has index base.index + 1 + i */
    size_t n, cap;
    mk_cursor_t base;         /* the last index pruned or installed (0/0 = none) */
    mk_hard_state_t hs;
    mk_store_meta_t meta;
} mem_store_t;

static mem_store_t *of(void *s) { return s; }

static void free_range(mem_store_t *m, size_t from) {
    for (size_t i = from; i < m->n; i++) free(m->v[i].body);
    m->n = from;
}

static int mem_append(void *s, const mk_log_entry_t *e, size_t n) {
    mem_store_t *m = of(s);
    if (n && !e) return MK_EINVAL;
    mk_term_t prev = m->n ? m->v[m->n - 1].term : m->base.term;
    for (size_t i = 0; i < n; i++) {  /* contiguous, terms never decreasing, known kinds (as LMDB) */
        if (e[i].index != m->base.index + 1 + m->n + i || (e[i].len && !e[i].body)) return MK_EINVAL;
        if (e[i].kind > MK_ENTRY_SNAPSHOT_MARKER || e[i].term < prev) return MK_EINVAL;
        prev = e[i].term;
    }
    if (m->n + n > m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap < m->n + n) cap *= 2;
        mem_entry_t *v = realloc(m->v, cap * sizeof *v);
        if (!v) return MK_ENOMEM;
        m->v = v;
        m->cap = cap;
    }
    size_t done = 0;
    for (; done < n; done++) {
        mem_entry_t *d = &m->v[m->n + done];
        d->term = e[done].term;
        d->kind = e[done].kind;
        d->len = e[done].len;
        d->body = malloc(e[done].len ? e[done].len : 1);
        if (!d->body) break;
        if (e[done].len) memcpy(d->body, e[done].body, e[done].len);
    }
    if (done < n) {  /* all or nothing */
        for (size_t i = 0; i < done; i++) free(m->v[m->n + i].body);
        return MK_ENOMEM;
    }
    m->n += n;
    return MK_OK;
}

static void mem_available(void *s, mk_index_t *first, mk_index_t *last) {
    mem_store_t *m = of(s);
    *first = m->base.index + 1;
    *last = m->base.index + m->n;
}

static void fill(const mem_store_t *m, size_t i, mk_log_entry_t *out) {
    const mem_entry_t *d = &m->v[i];
    *out = (mk_log_entry_t){.index = m->base.index + 1 + i, .term = d->term, .kind = d->kind, .body = d->body,
                            .len = d->len};
}

static bool stored(const mem_store_t *m, mk_index_t i) { return i > m->base.index && i <= m->base.index + m->n; }

static int mem_get(void *s, mk_index_t i, mk_log_entry_t *out) {
    mem_store_t *m = of(s);
    if (!stored(m, i)) return MK_ENOTFOUND;
    fill(m, (size_t)(i - m->base.index - 1), out);
    return MK_OK;
}

static int mem_get_range(void *s, mk_index_t first, mk_index_t last, size_t max_bytes, mk_log_entry_t *out, size_t cap,
                         size_t *n) {
    mem_store_t *m = of(s);
    *n = 0;
    if (first > last || !cap) return MK_EINVAL;
    if (!stored(m, first) || !stored(m, last)) return MK_ENOTFOUND;
    size_t bytes = 0;
    for (mk_index_t i = first; i <= last && *n < cap; i++) {
        size_t k = (size_t)(i - m->base.index - 1);
        if (*n && bytes + m->v[k].len > max_bytes) break;  /* at least one entry, whatever its size */
        bytes += m->v[k].len;
        fill(m, k, &out[(*n)++]);
    }
    return MK_OK;
}

static int mem_truncate(void *s, mk_index_t from) {
    mem_store_t *m = of(s);
    if (from <= m->base.index) return MK_EINVAL;  /* below the base: only reset_to may do that */
    if (from > m->base.index + m->n) return MK_OK;
    free_range(m, (size_t)(from - m->base.index - 1));
    return MK_OK;
}

static mk_cursor_t mem_last(void *s) {
    mem_store_t *m = of(s);
    if (!m->n) return m->base;
    return (mk_cursor_t){.term = m->v[m->n - 1].term, .index = m->base.index + m->n};
}

static int mem_term_at(void *s, mk_index_t i, mk_term_t *out) {
    mem_store_t *m = of(s);
    if (i == 0) *out = 0;
    else if (i == m->base.index) *out = m->base.term;
    else if (stored(m, i)) *out = m->v[i - m->base.index - 1].term;
    else return MK_ENOTFOUND;
    return MK_OK;
}

static int mem_prune_prefix(void *s, mk_index_t upto) {
    mem_store_t *m = of(s);
    if (upto <= m->base.index) return MK_OK;
    if (!stored(m, upto)) return MK_ENOTFOUND;
    size_t k = (size_t)(upto - m->base.index);  /* entries to drop */
    mk_term_t t = m->v[k - 1].term;
    for (size_t i = 0; i < k; i++) free(m->v[i].body);
    memmove(m->v, m->v + k, (m->n - k) * sizeof *m->v);
    m->n -= k;
    m->base = (mk_cursor_t){.term = t, .index = upto};
    return MK_OK;
}

static int mem_reset_to(void *s, mk_cursor_t c) {
    mem_store_t *m = of(s);
    if (c.index == 0 && c.term != 0) return MK_EINVAL;
    free_range(m, 0);
    m->base = c;
    return MK_OK;
}

static int mem_load_state(void *s, mk_hard_state_t *hs, mk_store_meta_t *meta) {
    mem_store_t *m = of(s);
    if (hs) *hs = m->hs;
    if (meta) *meta = m->meta;
    return MK_OK;
}

static int mem_save_state(void *s, const mk_hard_state_t *hs, const mk_store_meta_t *meta) {
    mem_store_t *m = of(s);
    if (hs) m->hs = *hs;
    if (meta) m->meta = *meta;
    return MK_OK;
}

static int mem_sync(void *s) {
    (void)s;
    return MK_OK;
}

static void mem_destroy(void *s) {
    mem_store_t *m = of(s);
    free_range(m, 0);
    free(m->v);
    free(m);
}

static const mk_log_store_vtbl_t mem_vtbl = {
    .append = mem_append, .available = mem_available, .get = mem_get, .get_range = mem_get_range,
    .truncate = mem_truncate, .last = mem_last, .term_at = mem_term_at, .prune_prefix = mem_prune_prefix,
    .reset_to = mem_reset_to, .load_state = mem_load_state, .save_state = mem_save_state, .sync = mem_sync,
    .destroy = mem_destroy,
};

mk_log_store_t *mk_log_store_memory(void) {
    mem_store_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->pub = (mk_log_store_t){.vt = &mem_vtbl, .self = m};
    while (!m->meta.incarnation) {  /* a fresh incarnation per run: never 0 */
        if (RAND_bytes((unsigned char *)&m->meta.incarnation, sizeof m->meta.incarnation) != 1) {
            free(m);
            return NULL;
        }
    }
    return &m->pub;
}

void mk_log_store_free(mk_log_store_t *s) {
    if (s && s->vt && s->vt->destroy) s->vt->destroy(s->self);
}
