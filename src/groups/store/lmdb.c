/* groups/store/lmdb.c — the durable log store (spec 40 §7.2): one LMDB environment per directory with
 * the sub-databases `log` (u64 big-endian index → term varint ‖ kind u8 ‖ body), `meta` (format version,
 * hard state, identity, base cursor, stored snapshot) and `snap` (snapshot header and items, keyed by
 * (generation, item no), both u64 big-endian). It owns the write-transaction-per-batch rule, the map
 * growth on MDB_MAP_FULL, the sync policies and the checks of every record read back.
 *
 * Batches: the first write after a sync opens a write transaction, sync commits it, destroy aborts it.
 * Every write is also recorded in a redo list (the batch's operations with their bytes), so that when
 * LMDB reports MDB_MAP_FULL the batch is aborted, the map doubled (up to map_size_max) and the batch
 * replayed from the list into a new transaction. A batch that fails for good is dropped whole and the
 * store is back at its last committed state. Reads go through the open batch (so they see its writes),
 * else through a kept read-only transaction renewed per call, and copy the bodies they return into a
 * per-store scratch buffer (valid until the next call). A batch must begin and end on one thread (LMDB's
 * writer lock belongs to the thread that took it); between batches the store may change threads.
 *
 * Sync policies: MK_LMDB_SYNC_ALWAYS commits with LMDB's own fsync. MK_LMDB_SYNC_NONE opens the
 * environment with MDB_NOSYNC: commits reach the page cache (a killed process loses nothing committed)
 * and the store, having no thread or clock of its own, calls mdb_env_sync inside sync when the last
 * flush is 100 ms old, and at destroy. An OS crash or power loss can then lose recent batches: outside
 * the safety guarantee.
 *
 * Snapshot area: snap_begin writes the header of a new generation, snap_put its items, snap_commit
 * points meta at it and deletes the previous generation, then commits. Keys carry a generation rather
 * than the anchor index, so that a snapshot replacing one at the same anchor never overwrites it in
 * place. Items join the open batch and commit every 16 MiB; a crash leaves the previous snapshot, and
 * the next open deletes the unfinished generation. Call the snapshot operations between ready batches
 * (they may commit the open batch). */
#include "mosaik/groups.h"

#include "core/codec.h"
#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LM_FORMAT 1u                         /* the on-disk layout this file reads and writes */
#define LM_FLUSH_MS 100                      /* MK_LMDB_SYNC_NONE: disk flush period */
#define LM_SNAP_CHUNK ((size_t)16 << 20)     /* snapshot items commit in chunks of about this many bytes */
#define LM_LOCK_FILE "mosaik.lock"           /* flock'ed: one store per directory at a time */
#define LM_BAD (-30700)                      /* our own "record fails its checks" (outside LMDB's codes) */
#define LM_ERR(e, code, ...) mk_err_set((e), (code), "mk_log_store_lmdb", __VA_ARGS__)
#define LM_ERR_SYS(e, code, en, ...) mk_err_sys((e), (code), (en), "mk_log_store_lmdb", __VA_ARGS__)

/* Meta record names. */
#define K_FORMAT "format" /* u32 */
#define K_HARD "hard"     /* term u64, option<(peer id, incarnation u64)>, commit u64 */
#define K_IDENT "ident"   /* incarnation u64, option<origin id>, has_commands bool */
#define K_BASE "base"     /* index u64, term u64 */
#define K_SNAP "snap"     /* generation u64, anchor index u64, anchor term u64, items u64 */

/* ---- state ------------------------------------------------------------------------------------------ */

/* What the store knows without reading: kept current by every write, restored on a dropped batch. */
typedef struct lm_view {
    mk_cursor_t base, last;               /* stored entries are exactly base.index + 1 … last.index */
    bool has_snap;                        /* the committed snapshot */
    uint64_t snap_gen, snap_n;
    mk_cursor_t snap_anchor;
    bool pending;                         /* a snapshot being written (snap_begin … snap_commit) */
    uint64_t pend_gen, pend_n;
    mk_cursor_t pend_anchor;
} lm_view_t;

enum { OP_APPEND = 1, OP_TRUNCATE, OP_PRUNE, OP_RESET, OP_STATE, OP_SNAP_BEGIN, OP_SNAP_PUT, OP_SNAP_COMMIT };

/* One redo record: this header, then `len` payload bytes (body, header, item, or hard state + meta). */
typedef struct lm_op {
    uint8_t code, kind, flags;            /* kind: OP_APPEND; flags: OP_STATE (1 hard state, 2 meta) */
    uint64_t a, b;                        /* index/from/upto and term, by op */
    size_t len;
} lm_op_t;

typedef struct lm_store {
    mk_log_store_t pub;
    char *path;
    int lock_fd;
    MDB_env *env;
    MDB_dbi log, meta, snap;
    MDB_txn *w;            /* the open batch, or NULL */
    MDB_txn *r;            /* a read-only transaction kept reset between calls, or NULL */
    lm_view_t v, v0;       /* the view now / at the start of the open batch */
    mk_buf_t redo;         /* the open batch's operations */
    mk_buf_t scratch;      /* bodies handed out by get / get_range */
    size_t *offs;          /* get_range: body offsets into scratch */
    size_t offs_cap;
    mk_enc_t enc;          /* reused encoder for records */
    size_t map_size, map_max;
    bool nosync, opened;
    int64_t flushed_ms;
} lm_store_t;

static lm_store_t *of(void *s) { return s; }

/* ---- small helpers ---------------------------------------------------------------------------------- */

static void be64_put(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static uint64_t be64_get(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static void lm_log(const lm_store_t *s, mk_log_level_t lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void lm_log(const lm_store_t *s, mk_log_level_t lvl, const char *fmt, ...) {
    if (!mk_log_enabled(MK_MOD_GROUPS, lvl)) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    mk_log_write(MK_MOD_GROUPS, lvl, NULL, "lmdb store %s: %s", s->path, line);
}

/* Logs a failed LMDB call and passes its code on. */
static int mdb_fail(const lm_store_t *s, int rc, const char *what) {
    if (rc && rc != MDB_MAP_FULL) lm_log(s, MK_LOG_ERROR, "%s: %s", what, mdb_strerror(rc));
    return rc;
}

/* Logs a record that fails its checks; LM_BAD. */
static int corrupt(const lm_store_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int corrupt(const lm_store_t *s, const char *fmt, ...) {
    char why[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    lm_log(s, MK_LOG_ERROR, "corrupt data: %s", why);
    return LM_BAD;
}

/* An LMDB / errno / LM_BAD code as a status. */
static int mk_of(int rc) {
    switch (rc) {
    case 0: return MK_OK;
    case ENOMEM: return MK_ENOMEM;
    case MDB_MAP_FULL: return MK_E2BIG;
    default: return MK_EIO;
    }
}

static MDB_val mval(const void *p, size_t n) { return (MDB_val){.mv_size = n, .mv_data = (void *)p}; }

static mk_enc_t *enc_reset(lm_store_t *s) {
    s->enc.out.len = 0;
    s->enc.err = MK_OK;
    return &s->enc;
}

/* ---- transactions ----------------------------------------------------------------------------------- */

/* The transaction reads go through: the open batch, else the kept read transaction. */
static int rbegin(lm_store_t *s, MDB_txn **t) {
    if (s->w) {
        *t = s->w;
        return 0;
    }
    int rc = s->r ? mdb_txn_renew(s->r) : mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->r);
    if (rc) {
        if (s->r) mdb_txn_abort(s->r);  /* a failed renew: start afresh next time */
        s->r = NULL;
        return mdb_fail(s, rc, "cannot begin a read transaction");
    }
    *t = s->r;
    return 0;
}

static void rend(lm_store_t *s, MDB_txn *t) {
    if (t && t != s->w) mdb_txn_reset(t);
}

static int wbegin(lm_store_t *s) {
    if (s->w) return 0;
    int rc = mdb_txn_begin(s->env, NULL, 0, &s->w);
    if (rc) {
        s->w = NULL;
        return mdb_fail(s, rc, "cannot begin a write transaction");
    }
    s->v0 = s->v;
    s->redo.len = 0;
    return 0;
}

static void redo_clear(lm_store_t *s) {
    s->redo.len = 0;
    if (s->redo.cap > ((size_t)4 << 20)) mk_buf_free(&s->redo);  /* do not keep a big batch's memory */
}

/* Drops the open batch: the store is back at its last committed state. */
static void wdrop(lm_store_t *s) {
    if (s->w || s->redo.len) lm_log(s, MK_LOG_WARN, "a write batch was dropped; the store is back at its last sync");
    if (s->w) mdb_txn_abort(s->w);
    s->w = NULL;
    s->v = s->v0;
    redo_clear(s);
}

/* ---- records ---------------------------------------------------------------------------------------- */

static MDB_val mkey(const char *name) { return mval(name, strlen(name)); }

/* A meta record: 0, MDB_NOTFOUND or an error. */
static int meta_get(lm_store_t *s, MDB_txn *t, const char *name, MDB_val *out) {
    MDB_val k = mkey(name);
    int rc = mdb_get(t, s->meta, &k, out);
    if (rc && rc != MDB_NOTFOUND) return mdb_fail(s, rc, "cannot read meta");
    return rc;
}

static int meta_put(lm_store_t *s, const char *name) {
    if (s->enc.err) return ENOMEM;
    MDB_val k = mkey(name), v = mval(s->enc.out.ptr, s->enc.out.len);
    return mdb_fail(s, mdb_put(s->w, s->meta, &k, &v, 0), "cannot write meta");
}

static int dec_end(const lm_store_t *s, mk_dec_t *d, const char *name) {
    if (mk_dec_finish(d) != MK_OK) return corrupt(s, "meta record '%s': %s", name, d->what);
    return 0;
}

static int base_read(lm_store_t *s, MDB_txn *t, mk_cursor_t *base) {
    MDB_val v;
    int rc = meta_get(s, t, K_BASE, &v);
    *base = (mk_cursor_t){0, 0};
    if (rc == MDB_NOTFOUND) return 0;
    if (rc) return rc;
    mk_dec_t d;
    mk_dec_init(&d, v.mv_data, v.mv_size);
    base->index = mk_dec_u64(&d);
    base->term = mk_dec_u64(&d);
    if ((rc = dec_end(s, &d, K_BASE))) return rc;
    if (base->index == 0 && base->term != 0) return corrupt(s, "meta record 'base': term %llu at index 0",
                                                            (unsigned long long)base->term);
    return 0;
}

static int base_write(lm_store_t *s, mk_cursor_t c) {
    mk_enc_t *e = enc_reset(s);
    mk_enc_u64(e, c.index);
    mk_enc_u64(e, c.term);
    return meta_put(s, K_BASE);
}

static int hard_read(lm_store_t *s, MDB_txn *t, mk_hard_state_t *hs) {
    MDB_val v;
    int rc = meta_get(s, t, K_HARD, &v);
    memset(hs, 0, sizeof *hs);
    if (rc == MDB_NOTFOUND) return 0;  /* never saved: zeros */
    if (rc) return rc;
    mk_dec_t d;
    mk_dec_init(&d, v.mv_data, v.mv_size);
    hs->term = mk_dec_u64(&d);
    hs->has_vote = mk_dec_option(&d);
    if (hs->has_vote) {
        mk_dec_id(&d, &hs->vote_peer);
        hs->vote_inc = mk_dec_u64(&d);
    }
    hs->commit = mk_dec_u64(&d);
    return dec_end(s, &d, K_HARD);
}

static int ident_read(lm_store_t *s, MDB_txn *t, mk_store_meta_t *m) {
    MDB_val v;
    int rc = meta_get(s, t, K_IDENT, &v);
    memset(m, 0, sizeof *m);
    if (rc == MDB_NOTFOUND) return corrupt(s, "meta record 'ident' is missing");
    if (rc) return rc;
    mk_dec_t d;
    mk_dec_init(&d, v.mv_data, v.mv_size);
    m->incarnation = mk_dec_u64(&d);
    m->has_origin = mk_dec_option(&d);
    if (m->has_origin) mk_dec_id(&d, &m->origin);
    m->has_commands = mk_dec_bool(&d);
    if ((rc = dec_end(s, &d, K_IDENT))) return rc;
    if (!m->incarnation) return corrupt(s, "meta record 'ident': incarnation 0");
    return 0;
}

static int ident_write(lm_store_t *s, const mk_store_meta_t *m) {
    mk_enc_t *e = enc_reset(s);
    mk_enc_u64(e, m->incarnation);
    mk_enc_option(e, m->has_origin);
    if (m->has_origin) mk_enc_id(e, &m->origin);
    mk_enc_bool(e, m->has_commands);
    return meta_put(s, K_IDENT);
}

static int hard_write(lm_store_t *s, const mk_hard_state_t *hs) {
    mk_enc_t *e = enc_reset(s);
    mk_enc_u64(e, hs->term);
    mk_enc_option(e, hs->has_vote);
    if (hs->has_vote) {
        mk_enc_id(e, &hs->vote_peer);
        mk_enc_u64(e, hs->vote_inc);
    }
    mk_enc_u64(e, hs->commit);
    return meta_put(s, K_HARD);
}

/* Checks the log record (key, val) as entry i with a term in [lo, hi]; out's body points into val. */
static int entry_decode(const lm_store_t *s, mk_index_t i, const MDB_val *k, const MDB_val *v, mk_term_t lo,
                        mk_term_t hi, mk_log_entry_t *out) {
    if (k->mv_size != 8) return corrupt(s, "log key of %zu bytes where entry %llu was expected", k->mv_size,
                                        (unsigned long long)i);
    mk_index_t at = be64_get(k->mv_data);
    if (at != i) return corrupt(s, "entry %llu found where entry %llu was expected", (unsigned long long)at,
                                (unsigned long long)i);
    mk_dec_t d;
    mk_dec_init(&d, v->mv_data, v->mv_size);
    mk_term_t term = mk_dec_u64(&d);
    uint8_t kind = mk_dec_u8(&d);
    mk_bytes_t body = mk_dec_raw_view(&d, mk_dec_remaining(&d));
    if (!mk_dec_ok(&d)) return corrupt(s, "entry %llu: %s", (unsigned long long)i, d.what);
    if (kind > MK_ENTRY_SNAPSHOT_MARKER)
        return corrupt(s, "entry %llu: unknown kind %u", (unsigned long long)i, kind);
    if (term < lo || term > hi)
        return corrupt(s, "entry %llu: term %llu outside [%llu, %llu]", (unsigned long long)i,
                       (unsigned long long)term, (unsigned long long)lo, (unsigned long long)hi);
    *out = (mk_log_entry_t){.index = i, .term = term, .kind = kind, .body = body.ptr, .len = body.len};
    return 0;
}

/* Reads and checks stored entry i (body valid while t lives and is not written). */
static int entry_read(lm_store_t *s, MDB_txn *t, mk_index_t i, mk_log_entry_t *out) {
    uint8_t kb[8];
    be64_put(kb, i);
    MDB_val k = mval(kb, 8), v;
    int rc = mdb_get(t, s->log, &k, &v);
    if (rc == MDB_NOTFOUND) return corrupt(s, "entry %llu is missing from the stored range", (unsigned long long)i);
    if (rc) return mdb_fail(s, rc, "cannot read the log");
    return entry_decode(s, i, &k, &v, s->v.base.term, s->v.last.term, out);
}

static void snap_key(uint8_t kb[16], uint64_t gen, uint64_t no) {
    be64_put(kb, gen);
    be64_put(kb + 8, no);
}

/* Deletes every snap record of generation gen. */
static int snap_drop_gen(lm_store_t *s, uint64_t gen) {
    MDB_cursor *c;
    int rc = mdb_cursor_open(s->w, s->snap, &c);
    if (rc) return mdb_fail(s, rc, "cannot open a cursor");
    uint8_t kb[16];
    snap_key(kb, gen, 0);
    for (;;) {
        MDB_val k = mval(kb, 16), v;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            break;
        }
        if (rc) break;
        if (k.mv_size != 16 || be64_get(k.mv_data) != gen) break;
        if ((rc = mdb_cursor_del(c, 0))) break;
    }
    mdb_cursor_close(c);
    return mdb_fail(s, rc, "cannot delete a snapshot");
}

/* ---- operations on the open batch ------------------------------------------------------------------- */

static int apply(lm_store_t *s, const lm_op_t *op, const uint8_t *payload) {
    int rc = 0;
    MDB_cursor *c = NULL;
    switch (op->code) {
    case OP_APPEND: {
        mk_enc_t *e = enc_reset(s);
        mk_enc_u64(e, op->b);
        mk_enc_u8(e, op->kind);
        if (e->err) return ENOMEM;
        uint8_t kb[8];
        be64_put(kb, op->a);
        MDB_val k = mval(kb, 8), v = mval(NULL, e->out.len + op->len);
        rc = mdb_put(s->w, s->log, &k, &v, MDB_APPEND | MDB_RESERVE);
        if (rc == MDB_KEYEXIST)
            return corrupt(s, "an entry is stored beyond the last one, %llu", (unsigned long long)op->a - 1);
        if (rc) return mdb_fail(s, rc, "cannot append");
        memcpy(v.mv_data, e->out.ptr, e->out.len);
        if (op->len) memcpy((uint8_t *)v.mv_data + e->out.len, payload, op->len);
        s->v.last = (mk_cursor_t){.term = op->b, .index = op->a};
        return 0;
    }
    case OP_TRUNCATE:   /* delete ≥ a, from the end */
    case OP_PRUNE: {    /* delete ≤ a, from the start */
        bool tail = op->code == OP_TRUNCATE;
        if ((rc = mdb_cursor_open(s->w, s->log, &c))) return mdb_fail(s, rc, "cannot open a cursor");
        for (;;) {
            MDB_val k, v;
            rc = mdb_cursor_get(c, &k, &v, tail ? MDB_LAST : MDB_FIRST);
            if (rc == MDB_NOTFOUND) {
                rc = 0;
                break;
            }
            if (rc) {
                rc = mdb_fail(s, rc, "cannot read the log");
                break;
            }
            if (k.mv_size != 8) {
                rc = corrupt(s, "log key of %zu bytes", k.mv_size);
                break;
            }
            mk_index_t i = be64_get(k.mv_data);
            if (tail ? i < op->a : i > op->a) break;
            if ((rc = mdb_cursor_del(c, 0))) {
                rc = mdb_fail(s, rc, "cannot delete from the log");
                break;
            }
        }
        mdb_cursor_close(c);
        if (rc) return rc;
        if (tail) {
            if (op->a - 1 == s->v.base.index) {
                s->v.last = s->v.base;
            } else {
                mk_log_entry_t e;
                if ((rc = entry_read(s, s->w, op->a - 1, &e))) return rc;
                s->v.last = (mk_cursor_t){.term = e.term, .index = e.index};
            }
            return 0;
        }
        s->v.base = (mk_cursor_t){.term = op->b, .index = op->a};
        if (s->v.last.index <= op->a) s->v.last = s->v.base;
        return base_write(s, s->v.base);
    }
    case OP_RESET:
        if ((rc = mdb_drop(s->w, s->log, 0))) return mdb_fail(s, rc, "cannot empty the log");
        s->v.base = s->v.last = (mk_cursor_t){.term = op->b, .index = op->a};
        return base_write(s, s->v.base);
    case OP_STATE: {
        mk_hard_state_t hs;
        mk_store_meta_t m;
        memcpy(&hs, payload, sizeof hs);
        memcpy(&m, payload + sizeof hs, sizeof m);
        if ((op->flags & 1) && (rc = hard_write(s, &hs))) return rc;
        if ((op->flags & 2) && (rc = ident_write(s, &m))) return rc;
        return 0;
    }
    case OP_SNAP_BEGIN: {
        if (s->v.pending && (rc = snap_drop_gen(s, s->v.pend_gen))) return rc;
        uint64_t gen = (s->v.snap_gen > s->v.pend_gen ? s->v.snap_gen : s->v.pend_gen) + 1;
        mk_enc_t *e = enc_reset(s);
        mk_enc_u64(e, op->a);
        mk_enc_u64(e, op->b);
        mk_enc_raw(e, payload, op->len);
        if (e->err) return ENOMEM;
        uint8_t kb[16];
        snap_key(kb, gen, 0);
        MDB_val k = mval(kb, 16), v = mval(e->out.ptr, e->out.len);
        if ((rc = mdb_put(s->w, s->snap, &k, &v, 0))) return mdb_fail(s, rc, "cannot write a snapshot header");
        s->v.pending = true;
        s->v.pend_gen = gen;
        s->v.pend_n = 0;
        s->v.pend_anchor = (mk_cursor_t){.term = op->b, .index = op->a};
        return 0;
    }
    case OP_SNAP_PUT: {
        uint8_t kb[16];
        snap_key(kb, s->v.pend_gen, s->v.pend_n + 1);
        MDB_val k = mval(kb, 16), v = mval(payload, op->len);
        if ((rc = mdb_put(s->w, s->snap, &k, &v, MDB_APPEND))) return mdb_fail(s, rc, "cannot write a snapshot item");
        s->v.pend_n++;
        return 0;
    }
    case OP_SNAP_COMMIT: {
        mk_enc_t *e = enc_reset(s);
        mk_enc_u64(e, s->v.pend_gen);
        mk_enc_u64(e, s->v.pend_anchor.index);
        mk_enc_u64(e, s->v.pend_anchor.term);
        mk_enc_u64(e, s->v.pend_n);
        if ((rc = meta_put(s, K_SNAP))) return rc;
        if (s->v.has_snap && (rc = snap_drop_gen(s, s->v.snap_gen))) return rc;
        s->v.has_snap = true;
        s->v.snap_gen = s->v.pend_gen;
        s->v.snap_n = s->v.pend_n;
        s->v.snap_anchor = s->v.pend_anchor;
        s->v.pending = false;
        return 0;
    }
    default: return corrupt(s, "redo record with op %u", op->code);  /* unreachable */
    }
}

/* Replays the batch's redo list into the (new, empty) write transaction. */
static int replay(lm_store_t *s) {
    s->v = s->v0;
    for (size_t off = 0; off < s->redo.len;) {
        lm_op_t op;
        memcpy(&op, (uint8_t *)s->redo.ptr + off, sizeof op);
        int rc = apply(s, &op, (uint8_t *)s->redo.ptr + off + sizeof op);
        if (rc) return rc;
        off += sizeof op + op.len;
    }
    return 0;
}

/* After MDB_MAP_FULL: aborts the batch, doubles the map (up to map_size_max) and replays the batch.
 * 0, or an error with s->w possibly NULL (the caller drops the batch). */
static int grow_and_replay(lm_store_t *s) {
    for (;;) {
        if (s->w) mdb_txn_abort(s->w);
        s->w = NULL;
        if (s->map_size >= s->map_max) {
            lm_log(s, MK_LOG_ERROR, "the store is full: map_size_max (%zu bytes) reached", s->map_max);
            return MDB_MAP_FULL;
        }
        size_t next = s->map_size > s->map_max / 2 ? s->map_max : s->map_size * 2;
        if (s->r) {  /* the map may only change with no transaction in this process */
            mdb_txn_abort(s->r);
            s->r = NULL;
        }
        int rc = mdb_env_set_mapsize(s->env, next);
        if (rc) return mdb_fail(s, rc, "cannot grow the map");
        lm_log(s, MK_LOG_INFO, "map grown from %zu to %zu bytes", s->map_size, next);
        s->map_size = next;
        if ((rc = mdb_txn_begin(s->env, NULL, 0, &s->w))) {
            s->w = NULL;
            return mdb_fail(s, rc, "cannot begin a write transaction");
        }
        rc = replay(s);
        if (rc != MDB_MAP_FULL) return rc;
    }
}

static int redo_push(lm_store_t *s, const lm_op_t *op, const void *payload) {
    if (mk_buf_reserve(&s->redo, sizeof *op + op->len) != MK_OK) return MK_ENOMEM;
    mk_buf_append(&s->redo, op, sizeof *op);
    mk_buf_append(&s->redo, payload, op->len);
    return MK_OK;
}

/* Runs one write in the batch (opened if needed), growing the map and replaying on MDB_MAP_FULL. */
static int exec(lm_store_t *s, const lm_op_t *op, const void *payload) {
    int rc = wbegin(s);
    if (rc) return mk_of(rc);
    if (redo_push(s, op, payload) != MK_OK) return MK_ENOMEM;  /* nothing written: the batch stays */
    rc = apply(s, op, payload);
    if (rc == MDB_MAP_FULL) rc = grow_and_replay(s);
    if (rc) {
        wdrop(s);
        return mk_of(rc);
    }
    return MK_OK;
}

/* MK_LMDB_SYNC_NONE: hands the committed pages to the disk when the last flush is LM_FLUSH_MS old. */
static int flush_due(lm_store_t *s, bool force) {
    if (!s->nosync) return 0;
    int64_t now = mk_now_ms();
    if (!force && now - s->flushed_ms < LM_FLUSH_MS) return 0;
    s->flushed_ms = now;
    return mdb_fail(s, mdb_env_sync(s->env, 1), "cannot flush to disk");
}

/* Commits the open batch (durable under MK_LMDB_SYNC_ALWAYS). */
static int commit(lm_store_t *s) {
    while (s->w) {
        int rc = mdb_txn_commit(s->w);  /* frees the transaction whatever the outcome */
        s->w = NULL;
        if (rc == MDB_MAP_FULL) rc = grow_and_replay(s);  /* a new s->w to commit */
        else if (rc) mdb_fail(s, rc, "cannot commit");
        if (rc) {
            wdrop(s);
            return mk_of(rc);
        }
    }
    s->v0 = s->v;
    redo_clear(s);
    return mk_of(flush_due(s, false));
}

/* ---- the vtable ------------------------------------------------------------------------------------- */

static bool stored(const lm_store_t *s, mk_index_t i) { return i > s->v.base.index && i <= s->v.last.index; }

static int lm_append(void *self, const mk_log_entry_t *e, size_t n) {
    lm_store_t *s = of(self);
    if (!n) return MK_OK;
    if (!e) return MK_EINVAL;
    size_t total = 0;
    mk_term_t prev = s->v.last.term;
    for (size_t i = 0; i < n; i++) {
        if (e[i].index != s->v.last.index + 1 + i || (e[i].len && !e[i].body)) return MK_EINVAL;
        if (e[i].kind > MK_ENTRY_SNAPSHOT_MARKER || e[i].term < prev) return MK_EINVAL;  /* read back as corrupt */
        prev = e[i].term;
        if (e[i].len > SIZE_MAX / 2 - total - sizeof(lm_op_t)) return MK_E2BIG;
        total += sizeof(lm_op_t) + e[i].len;
    }
    if (mk_buf_reserve(&s->redo, total) != MK_OK) return MK_ENOMEM;  /* then no push fails: all or nothing */
    for (size_t i = 0; i < n; i++) {
        lm_op_t op = {.code = OP_APPEND, .kind = e[i].kind, .a = e[i].index, .b = e[i].term, .len = e[i].len};
        int rc = exec(s, &op, e[i].body);
        if (rc) return rc;
    }
    return MK_OK;
}

static void lm_available(void *self, mk_index_t *first, mk_index_t *last) {
    lm_store_t *s = of(self);
    *first = s->v.base.index + 1;
    *last = s->v.last.index;
}

static int lm_get(void *self, mk_index_t i, mk_log_entry_t *out) {
    lm_store_t *s = of(self);
    if (!out) return MK_EINVAL;
    if (!stored(s, i)) return MK_ENOTFOUND;
    MDB_txn *t;
    int rc = rbegin(s, &t);
    if (rc) return mk_of(rc);
    mk_log_entry_t e;
    rc = entry_read(s, t, i, &e);
    if (!rc) {
        s->scratch.len = 0;
        if (mk_buf_append(&s->scratch, e.body, e.len) != MK_OK) rc = ENOMEM;
    }
    rend(s, t);
    if (rc) return mk_of(rc);
    e.body = s->scratch.ptr;
    *out = e;
    return MK_OK;
}

static int lm_get_range(void *self, mk_index_t first, mk_index_t last, size_t max_bytes, mk_log_entry_t *out,
                        size_t cap, size_t *n) {
    lm_store_t *s = of(self);
    if (!n) return MK_EINVAL;
    *n = 0;
    if (first > last || !cap || !out) return MK_EINVAL;
    if (!stored(s, first) || !stored(s, last)) return MK_ENOTFOUND;
    if ((uint64_t)cap > last - first + 1) cap = (size_t)(last - first + 1);
    if (cap > s->offs_cap) {
        size_t *o = realloc(s->offs, cap * sizeof *o);
        if (!o) return MK_ENOMEM;
        s->offs = o;
        s->offs_cap = cap;
    }
    MDB_txn *t;
    int rc = rbegin(s, &t);
    if (rc) return mk_of(rc);
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t, s->log, &c))) {
        rend(s, t);
        return mk_of(mdb_fail(s, rc, "cannot open a cursor"));
    }
    s->scratch.len = 0;
    size_t bytes = 0, k = 0;
    uint8_t kb[8];
    be64_put(kb, first);
    MDB_val key = mval(kb, 8), val;
    rc = mdb_cursor_get(c, &key, &val, MDB_SET_KEY);
    for (mk_index_t i = first; k < cap; i++) {
        if (rc == MDB_NOTFOUND) {
            rc = corrupt(s, "entry %llu is missing from the stored range", (unsigned long long)i);
            break;
        }
        if (rc) {
            rc = mdb_fail(s, rc, "cannot read the log");
            break;
        }
        mk_log_entry_t e;
        if ((rc = entry_decode(s, i, &key, &val, s->v.base.term, s->v.last.term, &e))) break;
        if (k && bytes + e.len > max_bytes) break;  /* at least one entry, whatever its size */
        bytes += e.len;
        s->offs[k] = s->scratch.len;
        if (mk_buf_append(&s->scratch, e.body, e.len) != MK_OK) {
            rc = ENOMEM;
            break;
        }
        out[k++] = e;
        if (i == last) break;
        rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(c);
    rend(s, t);
    if (rc) return mk_of(rc);
    for (size_t j = 0; j < k; j++) out[j].body = (uint8_t *)s->scratch.ptr + s->offs[j];
    *n = k;
    return MK_OK;
}

static int lm_truncate(void *self, mk_index_t from) {
    lm_store_t *s = of(self);
    if (from <= s->v.base.index) return MK_EINVAL;  /* below the base: only reset_to may do that */
    if (from > s->v.last.index) return MK_OK;
    lm_op_t op = {.code = OP_TRUNCATE, .a = from};
    return exec(s, &op, NULL);
}

static mk_cursor_t lm_last(void *self) { return of(self)->v.last; }

static int lm_term_at(void *self, mk_index_t i, mk_term_t *out) {
    lm_store_t *s = of(self);
    if (!out) return MK_EINVAL;
    if (i == 0) *out = 0;
    else if (i == s->v.base.index) *out = s->v.base.term;
    else if (i == s->v.last.index) *out = s->v.last.term;
    else if (!stored(s, i)) return MK_ENOTFOUND;
    else {
        MDB_txn *t;
        int rc = rbegin(s, &t);
        if (rc) return mk_of(rc);
        mk_log_entry_t e;
        rc = entry_read(s, t, i, &e);
        rend(s, t);
        if (rc) return mk_of(rc);
        *out = e.term;
    }
    return MK_OK;
}

static int lm_prune_prefix(void *self, mk_index_t upto) {
    lm_store_t *s = of(self);
    if (upto <= s->v.base.index) return MK_OK;
    if (!stored(s, upto)) return MK_ENOTFOUND;
    mk_term_t t;
    int rc = lm_term_at(s, upto, &t);
    if (rc) return rc;
    lm_op_t op = {.code = OP_PRUNE, .a = upto, .b = t};
    return exec(s, &op, NULL);
}

static int lm_reset_to(void *self, mk_cursor_t c) {
    lm_store_t *s = of(self);
    if (c.index == 0 && c.term != 0) return MK_EINVAL;
    lm_op_t op = {.code = OP_RESET, .a = c.index, .b = c.term};
    return exec(s, &op, NULL);
}

static int lm_load_state(void *self, mk_hard_state_t *hs, mk_store_meta_t *meta) {
    lm_store_t *s = of(self);
    MDB_txn *t;
    int rc = rbegin(s, &t);
    if (rc) return mk_of(rc);
    mk_hard_state_t h;
    mk_store_meta_t m;
    if (!(rc = hard_read(s, t, &h))) rc = ident_read(s, t, &m);
    rend(s, t);
    if (rc) return mk_of(rc);
    if (hs) *hs = h;
    if (meta) *meta = m;
    return MK_OK;
}

static int lm_save_state(void *self, const mk_hard_state_t *hs, const mk_store_meta_t *meta) {
    lm_store_t *s = of(self);
    if (!hs && !meta) return MK_OK;
    if (meta && !meta->incarnation) return MK_EINVAL;  /* incarnations are never 0 */
    uint8_t payload[sizeof(mk_hard_state_t) + sizeof(mk_store_meta_t)] = {0};
    if (hs) memcpy(payload, hs, sizeof *hs);
    if (meta) memcpy(payload + sizeof *hs, meta, sizeof *meta);
    lm_op_t op = {.code = OP_STATE, .flags = (uint8_t)((hs ? 1 : 0) | (meta ? 2 : 0)), .len = sizeof payload};
    return exec(s, &op, payload);
}

static int lm_sync(void *self) { return commit(of(self)); }

static void lm_destroy(void *self) {
    lm_store_t *s = of(self);
    if (s->w) {  /* writes never synced are lost, as a crash would lose them */
        mdb_txn_abort(s->w);
        s->w = NULL;
    }
    if (s->r) mdb_txn_abort(s->r);
    if (s->opened) flush_due(s, true);
    if (s->env) mdb_env_close(s->env);
    if (s->lock_fd >= 0) close(s->lock_fd);  /* releases the directory */
    mk_buf_free(&s->redo);
    mk_buf_free(&s->scratch);
    mk_enc_finish(&s->enc, NULL);
    free(s->offs);
    free(s->path);
    free(s);
}

static int lm_snap_begin(void *self, mk_cursor_t anchor, const void *hdr, size_t len) {
    lm_store_t *s = of(self);
    if (len && !hdr) return MK_EINVAL;
    lm_op_t op = {.code = OP_SNAP_BEGIN, .a = anchor.index, .b = anchor.term, .len = len};
    return exec(s, &op, hdr);
}

static int lm_snap_put(void *self, const void *item, size_t len) {
    lm_store_t *s = of(self);
    if (!s->v.pending || (len && !item)) return MK_EINVAL;
    lm_op_t op = {.code = OP_SNAP_PUT, .len = len};
    int rc = exec(s, &op, item);
    if (rc == MK_OK && s->redo.len >= LM_SNAP_CHUNK) rc = commit(s);  /* bounded batches for big snapshots */
    return rc;
}

static int lm_snap_commit(void *self) {
    lm_store_t *s = of(self);
    if (!s->v.pending) return MK_EINVAL;
    lm_op_t op = {.code = OP_SNAP_COMMIT};
    int rc = exec(s, &op, NULL);
    return rc ? rc : commit(s);
}

static int lm_snap_open(void *self, mk_cursor_t *anchor, mk_buf_t *hdr, mk_item_writer_t *items) {
    lm_store_t *s = of(self);
    if (!s->v.has_snap) return MK_ENOTFOUND;
    MDB_txn *t;
    int rc = rbegin(s, &t);
    if (rc) return mk_of(rc);
    MDB_cursor *c = NULL;
    uint64_t gen = s->v.snap_gen, want = s->v.snap_n;
    uint8_t kb[16];
    snap_key(kb, gen, 0);
    MDB_val k = mval(kb, 16), v;
    int status = MK_OK;
    if ((rc = mdb_cursor_open(t, s->snap, &c))) {
        c = NULL;
        rc = mdb_fail(s, rc, "cannot open a cursor");
        goto done;
    }
    if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY))) {
        rc = rc == MDB_NOTFOUND ? corrupt(s, "snapshot %llu: header missing", (unsigned long long)gen)
                                : mdb_fail(s, rc, "cannot read the snapshot");
        goto done;
    }
    mk_dec_t d;
    mk_dec_init(&d, v.mv_data, v.mv_size);
    mk_cursor_t at = {.index = mk_dec_u64(&d)};
    at.term = mk_dec_u64(&d);
    mk_bytes_t h = mk_dec_raw_view(&d, mk_dec_remaining(&d));
    if (!mk_dec_ok(&d)) {
        rc = corrupt(s, "snapshot %llu header: %s", (unsigned long long)gen, d.what);
        goto done;
    }
    if (at.index != s->v.snap_anchor.index || at.term != s->v.snap_anchor.term) {
        rc = corrupt(s, "snapshot %llu: header anchor %llu/%llu, meta says %llu/%llu", (unsigned long long)gen,
                     (unsigned long long)at.index, (unsigned long long)at.term,
                     (unsigned long long)s->v.snap_anchor.index, (unsigned long long)s->v.snap_anchor.term);
        goto done;
    }
    if (hdr) {
        hdr->len = 0;
        if (mk_buf_append(hdr, h.ptr, h.len) != MK_OK) {
            rc = ENOMEM;
            goto done;
        }
    }
    for (uint64_t no = 1; items && no <= want; no++) {
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        if (rc == MDB_NOTFOUND || (!rc && (k.mv_size != 16 || be64_get(k.mv_data) != gen ||
                                          be64_get((uint8_t *)k.mv_data + 8) != no))) {
            rc = corrupt(s, "snapshot %llu: item %llu of %llu missing", (unsigned long long)gen,
                         (unsigned long long)no, (unsigned long long)want);
            break;
        }
        if (rc) {
            rc = mdb_fail(s, rc, "cannot read the snapshot");
            break;
        }
        if ((status = mk_item_writer_put(items, v.mv_data, v.mv_size)) != MK_OK) break;
    }
    if (items && !rc && status == MK_OK) {  /* nothing of this generation beyond the count */
        int more = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        if (!more && k.mv_size == 16 && be64_get(k.mv_data) == gen)
            rc = corrupt(s, "snapshot %llu: more than %llu items", (unsigned long long)gen, (unsigned long long)want);
    }
    if (!rc && status == MK_OK && anchor) *anchor = at;
done:
    if (c) mdb_cursor_close(c);
    rend(s, t);
    return rc ? mk_of(rc) : status;
}

static const mk_log_store_vtbl_t lm_vtbl = {
    .append = lm_append, .available = lm_available, .get = lm_get, .get_range = lm_get_range,
    .truncate = lm_truncate, .last = lm_last, .term_at = lm_term_at, .prune_prefix = lm_prune_prefix,
    .reset_to = lm_reset_to, .load_state = lm_load_state, .save_state = lm_save_state, .sync = lm_sync,
    .destroy = lm_destroy, .snap_begin = lm_snap_begin, .snap_put = lm_snap_put, .snap_commit = lm_snap_commit,
    .snap_open = lm_snap_open,
};

/* ---- opening ---------------------------------------------------------------------------------------- */

/* fsync of a directory, so that the names created in it survive a power loss. */
static int fsync_dir(const char *path, mk_error_t *err) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int en = errno;
    if (fd >= 0 && fsync(fd) == 0) {
        close(fd);
        return MK_OK;
    }
    if (fd >= 0) {
        en = errno;
        close(fd);
    }
    return LM_ERR_SYS(err, MK_EIO, en, "cannot sync directory %s: %s", path, strerror(en));
}

/* mkdir -p with mode 0700 for what it creates (each new name synced in its parent). */
static int make_dirs(const char *path, mk_error_t *err) {
    size_t n = strlen(path);
    char *p = malloc(n + 1);
    if (!p) return LM_ERR(err, MK_ENOMEM, "out of memory");
    memcpy(p, path, n + 1);
    int rc = MK_OK;
    for (size_t i = 1; i <= n && rc == MK_OK; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        struct stat st;
        if (mkdir(p, 0700) != 0) {
            int en = errno;
            if (en != EEXIST) rc = LM_ERR_SYS(err, MK_EIO, en, "cannot create directory %s: %s", p, strerror(en));
            else if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
                rc = LM_ERR(err, MK_EIO, "cannot create directory %s: a file of that name exists", p);
        } else {
            char *slash = strrchr(p, '/');
            if (slash == p) rc = fsync_dir("/", err);
            else if (!slash) rc = fsync_dir(".", err);
            else {
                *slash = '\0';
                rc = fsync_dir(p, err);
                *slash = '/';
            }
        }
        p[i] = c;
    }
    free(p);
    return rc;
}

static size_t round_up(size_t v, size_t page) { return v % page ? v + (page - v % page) : v; }

/* Draws a fresh non-zero incarnation. */
static int draw_incarnation(uint64_t *out) {
    *out = 0;
    while (!*out)
        if (RAND_bytes((unsigned char *)out, sizeof *out) != 1) return MK_EIO;
    return MK_OK;
}

/* Checks the log's extent against the base and fills s->v from the disk. */
static int load_view(lm_store_t *s, MDB_txn *t) {
    memset(&s->v, 0, sizeof s->v);
    int rc = base_read(s, t, &s->v.base);
    if (rc) return rc;
    s->v.last = s->v.base;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(t, s->log, &c))) return mdb_fail(s, rc, "cannot open a cursor");
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    if (rc == MDB_NOTFOUND) {
        rc = 0;
    } else if (!rc) {
        if (k.mv_size != 8 || be64_get(k.mv_data) != s->v.base.index + 1) {
            rc = corrupt(s, "the log starts at entry %llu after base %llu",
                         k.mv_size == 8 ? (unsigned long long)be64_get(k.mv_data) : 0ull,
                         (unsigned long long)s->v.base.index);
        } else if (!(rc = mdb_cursor_get(c, &k, &v, MDB_LAST))) {
            mk_log_entry_t e;
            mk_index_t i = k.mv_size == 8 ? be64_get(k.mv_data) : 0;
            if (!(rc = entry_decode(s, i, &k, &v, s->v.base.term, UINT64_MAX, &e))) {
                MDB_stat st;
                if ((rc = mdb_stat(t, s->log, &st))) {
                    /* reported below */
                } else if (st.ms_entries != i - s->v.base.index)
                    rc = corrupt(s, "the log holds %zu entries for the range %llu..%llu", st.ms_entries,
                                 (unsigned long long)s->v.base.index + 1, (unsigned long long)i);
                else s->v.last = (mk_cursor_t){.term = e.term, .index = i};
            }
        }
    }
    mdb_cursor_close(c);
    if (rc) return rc == LM_BAD ? rc : mdb_fail(s, rc, "cannot read the log");
    /* the committed snapshot */
    if ((rc = meta_get(s, t, K_SNAP, &v)) == MDB_NOTFOUND) return 0;
    if (rc) return rc;
    mk_dec_t d;
    mk_dec_init(&d, v.mv_data, v.mv_size);
    s->v.snap_gen = mk_dec_u64(&d);
    s->v.snap_anchor.index = mk_dec_u64(&d);
    s->v.snap_anchor.term = mk_dec_u64(&d);
    s->v.snap_n = mk_dec_u64(&d);
    if ((rc = dec_end(s, &d, K_SNAP))) return rc;
    if (!s->v.snap_gen) return corrupt(s, "meta record 'snap': generation 0");
    s->v.has_snap = true;
    return 0;
}

/* Deletes what a crash left of a snapshot being written (any generation but the committed one). */
static int drop_stale_snapshots(lm_store_t *s) {
    MDB_cursor *c;
    int rc = mdb_cursor_open(s->w, s->snap, &c);
    if (rc) return mdb_fail(s, rc, "cannot open a cursor");
    MDB_val k, v;
    uint8_t kb[16];
    size_t dropped = 0;
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (!rc) {
        if (k.mv_size != 16) {
            rc = corrupt(s, "snapshot key of %zu bytes", k.mv_size);
            break;
        }
        uint64_t gen = be64_get(k.mv_data);
        if (s->v.has_snap && gen == s->v.snap_gen) {
            if (gen == UINT64_MAX) break;
            snap_key(kb, gen + 1, 0);
        } else {
            memcpy(kb, k.mv_data, 16);
            if ((rc = mdb_cursor_del(c, 0))) break;
            dropped++;
        }
        k = mval(kb, 16);
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) rc = 0;
    if (dropped) lm_log(s, MK_LOG_INFO, "dropped %zu records of an unfinished snapshot", dropped);
    return rc == LM_BAD ? rc : mdb_fail(s, rc, "cannot clean the snapshot area");
}

/* Opens the sub-databases, creates a fresh store or checks an existing one, and loads the view. */
static int open_dbs(lm_store_t *s, mk_error_t *err) {
    int rc = mdb_txn_begin(s->env, NULL, 0, &s->w);
    if (rc) {
        s->w = NULL;
        return LM_ERR(err, MK_EIO, "%s: cannot begin a transaction: %s", s->path, mdb_strerror(rc));
    }
    const char *what = "open the sub-databases";
    if ((rc = mdb_dbi_open(s->w, "log", MDB_CREATE, &s->log)) ||
        (rc = mdb_dbi_open(s->w, "meta", MDB_CREATE, &s->meta)) ||
        (rc = mdb_dbi_open(s->w, "snap", MDB_CREATE, &s->snap)))
        goto fail;
    MDB_val v;
    what = "read the format version";
    rc = meta_get(s, s->w, K_FORMAT, &v);
    bool fresh = rc == MDB_NOTFOUND;
    if (fresh) {
        MDB_stat a, b, c;
        what = "inspect the sub-databases";
        if ((rc = mdb_stat(s->w, s->log, &a)) || (rc = mdb_stat(s->w, s->meta, &b)) ||
            (rc = mdb_stat(s->w, s->snap, &c)))
            goto fail;
        if (a.ms_entries || b.ms_entries || c.ms_entries) {
            mdb_txn_abort(s->w);
            s->w = NULL;
            return LM_ERR(err, MK_EPROTO, "%s holds LMDB data without a mosaik format record", s->path);
        }
        mk_store_meta_t m = {0};
        if (draw_incarnation(&m.incarnation) != MK_OK) {
            mdb_txn_abort(s->w);
            s->w = NULL;
            return LM_ERR(err, MK_EIO, "cannot draw an incarnation (RAND_bytes)");
        }
        what = "create the store";
        mk_enc_u32(enc_reset(s), LM_FORMAT);
        if ((rc = meta_put(s, K_FORMAT)) || (rc = ident_write(s, &m))) goto fail;
    } else if (rc) {
        goto fail;
    } else {
        mk_dec_t d;
        mk_dec_init(&d, v.mv_data, v.mv_size);
        uint32_t fmt = mk_dec_u32(&d);
        if (mk_dec_finish(&d) != MK_OK) {
            mdb_txn_abort(s->w);
            s->w = NULL;
            return LM_ERR(err, MK_EIO, "%s: corrupt format record: %s", s->path, d.what);
        }
        if (fmt != LM_FORMAT) {
            mdb_txn_abort(s->w);
            s->w = NULL;
            return LM_ERR(err, MK_EPROTO, "%s holds a store of format version %u; this build reads version %u",
                          s->path, fmt, LM_FORMAT);
        }
    }
    mk_store_meta_t m;
    what = "load the store";
    if ((rc = ident_read(s, s->w, &m)) || (rc = load_view(s, s->w)) || (rc = drop_stale_snapshots(s))) goto fail;
    what = "commit";
    rc = mdb_txn_commit(s->w);
    s->w = NULL;
    if (rc) goto fail;
    s->v0 = s->v;
    if ((rc = flush_due(s, true))) {  /* a new incarnation is on disk before anyone sees it */
        what = "flush";
        goto fail;
    }
    return fresh ? fsync_dir(s->path, err) : MK_OK;  /* and so are the names of its files */
fail:
    if (s->w) mdb_txn_abort(s->w);
    s->w = NULL;
    if (rc == LM_BAD) return LM_ERR(err, MK_EIO, "%s: cannot %s: corrupt data (see the log)", s->path, what);
    return LM_ERR(err, mk_of(rc), "%s: cannot %s: %s", s->path, what, mdb_strerror(rc));
}

mk_log_store_t *mk_log_store_lmdb(const mk_lmdb_config_t *cfg, mk_error_t *err) {
    if (!cfg || !cfg->path || !cfg->path[0]) {
        LM_ERR(err, MK_EINVAL, "path: a directory is required");
        return NULL;
    }
    if (cfg->sync != MK_LMDB_SYNC_ALWAYS && cfg->sync != MK_LMDB_SYNC_NONE) {
        LM_ERR(err, MK_EINVAL, "sync: unknown policy %d", (int)cfg->sync);
        return NULL;
    }
    long page = sysconf(_SC_PAGESIZE);
    size_t pg = page > 0 ? (size_t)page : 4096;
    size_t map = cfg->map_size ? cfg->map_size : (size_t)1 << 30;
    size_t max = cfg->map_size_max ? cfg->map_size_max : (size_t)64 << 30;
    if (map < 16 * pg || map > SIZE_MAX / 4) {
        LM_ERR(err, MK_EINVAL, "map_size: %zu bytes is out of range (at least %zu)", map, 16 * pg);
        return NULL;
    }
    if (max < map || max > SIZE_MAX / 4) {
        LM_ERR(err, MK_EINVAL, "map_size_max: %zu bytes is below map_size (%zu) or too large", max, map);
        return NULL;
    }
    if (make_dirs(cfg->path, err) != MK_OK) return NULL;
    lm_store_t *s = calloc(1, sizeof *s);
    if (!s) {
        LM_ERR(err, MK_ENOMEM, "out of memory");
        return NULL;
    }
    s->pub = (mk_log_store_t){.vt = &lm_vtbl, .self = s};
    s->lock_fd = -1;
    s->map_size = round_up(map, pg);
    s->map_max = round_up(max, pg);
    s->nosync = cfg->sync == MK_LMDB_SYNC_NONE;
    mk_enc_init(&s->enc, 0);
    s->path = strdup(cfg->path);
    char *lock_path = s->path ? malloc(strlen(s->path) + sizeof "/" LM_LOCK_FILE) : NULL;
    if (!lock_path || mk_buf_reserve(&s->scratch, 64) != MK_OK) {
        free(lock_path);
        LM_ERR(err, MK_ENOMEM, "out of memory");
        goto fail;
    }
    sprintf(lock_path, "%s/%s", s->path, LM_LOCK_FILE);
    s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int en = errno;
    free(lock_path);
    if (s->lock_fd < 0) {
        LM_ERR_SYS(err, MK_EIO, en, "%s: cannot open %s: %s", s->path, LM_LOCK_FILE, strerror(en));
        goto fail;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        en = errno;
        if (en == EWOULDBLOCK)
            LM_ERR(err, MK_EBUSY, "%s is in use by another store (this or another process)", s->path);
        else LM_ERR_SYS(err, MK_EIO, en, "%s: cannot lock %s: %s", s->path, LM_LOCK_FILE, strerror(en));
        goto fail;
    }
    int rc = mdb_env_create(&s->env);
    if (rc) {
        s->env = NULL;
        LM_ERR(err, MK_EIO, "%s: mdb_env_create: %s", s->path, mdb_strerror(rc));
        goto fail;
    }
    if ((rc = mdb_env_set_maxdbs(s->env, 4)) || (rc = mdb_env_set_mapsize(s->env, s->map_size)) ||
        (rc = mdb_env_open(s->env, s->path, MDB_NOTLS | (s->nosync ? MDB_NOSYNC : 0), 0600))) {
        LM_ERR(err, rc == ENOMEM ? MK_ENOMEM : MK_EIO, "%s: cannot open the LMDB environment: %s", s->path,
               mdb_strerror(rc));
        goto fail;
    }
    s->opened = true;
    int dead = 0;
    mdb_reader_check(s->env, &dead);  /* reader slots of killed processes */
    MDB_envinfo info;
    if (!mdb_env_info(s->env, &info) && info.me_mapsize > s->map_size) s->map_size = info.me_mapsize;
    if (s->map_max < s->map_size) s->map_max = s->map_size;
    s->flushed_ms = mk_now_ms();
    if (open_dbs(s, err) != MK_OK) goto fail;
    lm_log(s, MK_LOG_DEBUG, "opened: entries %llu..%llu, base %llu/%llu, map %zu bytes",
           (unsigned long long)s->v.base.index + 1, (unsigned long long)s->v.last.index,
           (unsigned long long)s->v.base.index, (unsigned long long)s->v.base.term, s->map_size);
    return &s->pub;
fail:
    lm_destroy(s);
    return NULL;
}
