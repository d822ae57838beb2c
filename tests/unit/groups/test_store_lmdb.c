/* unit/groups/test_store_lmdb.c — the LMDB log store (spec 40 §7.2, §11.3): the store conformance suite
 * on a fresh directory per store, then what only the durable store has: reopening keeps entries, hard
 * state, meta, base and incarnation; a batch never synced is gone after close; the map grows on
 * MDB_MAP_FULL and a full map_size_max is reported; bad paths, fields, format versions and foreign LMDB
 * data are refused with their cause; one store per directory; records corrupted behind the store's back
 * (raw mdb calls) are refused as MK_EIO naming the entry; the snapshot area; the SYNC_NONE policy.
 * Every directory is made with mkdtemp under $TMPDIR (or /tmp) and removed at the end. The crash test
 * (a child SIGKILLed while writing) is tests/integration/groups/lmdb_crash.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>

#include "groups/machine.h"
#include "store_suite.h"
#include "support/mkt.h"

#include <ftw.h>
#include <limits.h>
#include <lmdb.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- directories ---- */

#define MAX_DIRS 256
static char *dirs[MAX_DIRS];
static size_t ndirs;

static const char *new_dir(void) {
    const char *tmp = getenv("TMPDIR");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/mk-lmdb-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(path));
    assert_true(ndirs < MAX_DIRS);
    dirs[ndirs] = strdup(path);
    assert_non_null(dirs[ndirs]);
    return dirs[ndirs++];
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static int remove_dirs(void **state) {
    (void)state;
    for (size_t i = 0; i < ndirs; i++) {
        nftw(dirs[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(dirs[i]);
    }
    ndirs = 0;
    return 0;
}

static mk_log_store_t *open_cfg(const mk_lmdb_config_t *cfg) {
    mk_error_t e = {0};
    mk_log_store_t *s = mk_log_store_lmdb(cfg, &e);
    if (!s) fail_msg("mk_log_store_lmdb(%s): %s", cfg->path, e.msg);
    return s;
}

static mk_log_store_t *open_at(const char *dir) {
    mk_lmdb_config_t cfg = MK_LMDB_CONFIG_DEFAULT;
    cfg.path = dir;
    return open_cfg(&cfg);
}

static mk_log_store_t *make_lmdb(void) { return open_at(new_dir()); }

/* ---- raw access behind the store's back ---- */

typedef struct raw {
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
} raw_t;

static raw_t raw_open(const char *dir, const char *db) {
    raw_t r;
    assert_int_equal(mdb_env_create(&r.env), 0);
    assert_int_equal(mdb_env_set_maxdbs(r.env, 4), 0);
    assert_int_equal(mdb_env_open(r.env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(r.env, NULL, 0, &r.t), 0);
    assert_int_equal(mdb_dbi_open(r.t, db, MDB_CREATE, &r.dbi), 0);
    return r;
}

static void raw_put(raw_t *r, const void *k, size_t klen, const void *v, size_t vlen) {
    MDB_val key = {klen, (void *)k}, val = {vlen, (void *)v};
    assert_int_equal(mdb_put(r->t, r->dbi, &key, &val, 0), 0);
}

static void raw_put_entry(raw_t *r, uint64_t index, const void *v, size_t vlen) {
    uint8_t k[8];
    for (int i = 7; i >= 0; i--, index >>= 8) k[i] = (uint8_t)index;
    raw_put(r, k, 8, v, vlen);
}

static void raw_del_entry(raw_t *r, uint64_t index) {
    uint8_t k[8];
    for (int i = 7; i >= 0; i--, index >>= 8) k[i] = (uint8_t)index;
    MDB_val key = {8, k};
    assert_int_equal(mdb_del(r->t, r->dbi, &key, NULL), 0);
}

static size_t raw_count(raw_t *r) {
    MDB_stat st;
    assert_int_equal(mdb_stat(r->t, r->dbi, &st), 0);
    return st.ms_entries;
}

static void raw_close(raw_t *r) {
    assert_int_equal(mdb_txn_commit(r->t), 0);
    mdb_env_close(r->env);
}

/* ---- helpers ---- */

static void fill_terms(mk_log_store_t *s, mk_index_t first, mk_index_t last, mk_term_t term) {
    mk_term_t terms[64];
    for (size_t i = 0; i < 64; i++) terms[i] = term;
    suite_fill(s, first, last, terms);
}

static void big_body(uint8_t *b, size_t len, mk_index_t i) {
    for (size_t j = 0; j < len; j++) b[j] = (uint8_t)(i * 131 + j * 7);
    memcpy(b, &i, sizeof i);
}

/* ---- reopening ---- */

static void reopen_keeps_entries_state_meta_base_and_incarnation(void **state) {
    (void)state;
    const char *dir = new_dir();
    mk_log_store_t *s = open_at(dir);
    mk_store_meta_t meta0;
    assert_int_equal(s->vt->load_state(s->self, NULL, &meta0), MK_OK);
    const mk_term_t terms[] = {1, 1, 1, 2, 2, 2, 3, 3, 3, 3};
    suite_fill(s, 1, 10, terms);
    mk_hard_state_t hs = {.term = 3, .has_vote = true, .vote_inc = 77, .commit = 7};
    memset(hs.vote_peer.b, 0x11, sizeof hs.vote_peer.b);
    mk_store_meta_t meta = {.incarnation = meta0.incarnation, .has_origin = true, .has_commands = true};
    memset(meta.origin.b, 0x22, sizeof meta.origin.b);
    assert_int_equal(s->vt->save_state(s->self, &hs, &meta), MK_OK);
    assert_int_equal(s->vt->prune_prefix(s->self, 4), MK_OK);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    mk_log_store_free(s);

    s = open_at(dir);
    mk_index_t first, last;
    s->vt->available(s->self, &first, &last);
    assert_int_equal(first, 5);
    assert_int_equal(last, 10);
    assert_int_equal(s->vt->last(s->self).index, 10);
    assert_int_equal(s->vt->last(s->self).term, 3);
    mk_term_t t;
    assert_int_equal(s->vt->term_at(s->self, 4, &t), MK_OK);  /* the base */
    assert_int_equal(t, 2);
    assert_int_equal(s->vt->term_at(s->self, 3, &t), MK_ENOTFOUND);
    for (mk_index_t i = 5; i <= 10; i++) suite_expect_body(s, i, terms[i - 1]);
    mk_hard_state_t hs2;
    mk_store_meta_t meta2;
    assert_int_equal(s->vt->load_state(s->self, &hs2, &meta2), MK_OK);
    assert_int_equal(hs2.term, 3);
    assert_true(hs2.has_vote);
    assert_int_equal(hs2.vote_inc, 77);
    assert_memory_equal(hs2.vote_peer.b, hs.vote_peer.b, sizeof hs.vote_peer.b);
    assert_int_equal(hs2.commit, 7);
    assert_int_equal(meta2.incarnation, meta0.incarnation);  /* the same incarnation after a restart */
    assert_true(meta2.has_origin && meta2.has_commands);
    assert_memory_equal(meta2.origin.b, meta.origin.b, sizeof meta.origin.b);
    /* a truncation and a reset survive too */
    assert_int_equal(s->vt->truncate(s->self, 8), MK_OK);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    mk_log_store_free(s);
    s = open_at(dir);
    assert_int_equal(s->vt->last(s->self).index, 7);
    assert_int_equal(s->vt->last(s->self).term, 3);
    mk_log_entry_t e;
    assert_int_equal(s->vt->get(s->self, 8, &e), MK_ENOTFOUND);
    assert_int_equal(s->vt->reset_to(s->self, (mk_cursor_t){.term = 4, .index = 50}), MK_OK);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    mk_log_store_free(s);
    s = open_at(dir);
    assert_int_equal(s->vt->last(s->self).index, 50);
    assert_int_equal(s->vt->last(s->self).term, 4);
    s->vt->available(s->self, &first, &last);
    assert_true(first > last);
    mk_log_entry_t next = suite_entry(51, 4, "e51");
    assert_int_equal(s->vt->append(s->self, &next, 1), MK_OK);
    suite_expect_body(s, 51, 4);
    mk_log_store_free(s);
}

static void unsynced_batch_is_lost_on_close(void **state) {
    (void)state;
    const char *dir = new_dir();
    mk_log_store_t *s = open_at(dir);
    mk_store_meta_t meta0;
    assert_int_equal(s->vt->load_state(s->self, NULL, &meta0), MK_OK);
    mk_log_entry_t one = suite_entry(1, 1, "e1");
    assert_int_equal(s->vt->append(s->self, &one, 1), MK_OK);
    mk_log_store_free(s);  /* never synced */
    s = open_at(dir);
    assert_int_equal(s->vt->last(s->self).index, 0);
    mk_store_meta_t meta1;
    assert_int_equal(s->vt->load_state(s->self, NULL, &meta1), MK_OK);
    assert_int_equal(meta1.incarnation, meta0.incarnation);  /* persisted when the store was created */

    fill_terms(s, 1, 3, 1);
    mk_hard_state_t hs = {.term = 1, .commit = 2};
    assert_int_equal(s->vt->save_state(s->self, &hs, NULL), MK_OK);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    /* a batch that rewrites everything, read back before its sync, then dropped by close */
    assert_int_equal(s->vt->truncate(s->self, 3), MK_OK);
    fill_terms(s, 3, 6, 2);
    assert_int_equal(s->vt->prune_prefix(s->self, 1), MK_OK);
    hs = (mk_hard_state_t){.term = 2, .commit = 5};
    assert_int_equal(s->vt->save_state(s->self, &hs, NULL), MK_OK);
    suite_expect_body(s, 3, 2);
    suite_expect_body(s, 6, 2);
    mk_hard_state_t seen;
    assert_int_equal(s->vt->load_state(s->self, &seen, NULL), MK_OK);
    assert_int_equal(seen.term, 2);
    mk_index_t first, last;
    s->vt->available(s->self, &first, &last);
    assert_int_equal(first, 2);
    assert_int_equal(last, 6);
    mk_log_store_free(s);

    s = open_at(dir);
    s->vt->available(s->self, &first, &last);
    assert_int_equal(first, 1);
    assert_int_equal(last, 3);
    for (mk_index_t i = 1; i <= 3; i++) suite_expect_body(s, i, 1);
    assert_int_equal(s->vt->load_state(s->self, &seen, NULL), MK_OK);
    assert_int_equal(seen.term, 1);
    assert_int_equal(seen.commit, 2);
    mk_log_store_free(s);
}

/* ---- the map ---- */

#define BIG 16384

static void map_grows_when_full(void **state) {
    (void)state;
    const char *dir = new_dir();
    mk_lmdb_config_t cfg = MK_LMDB_CONFIG_DEFAULT;
    cfg.path = dir;
    cfg.map_size = 64 << 10;
    cfg.map_size_max = 64 << 20;
    mk_log_store_t *s = open_cfg(&cfg);
    static uint8_t body[100][BIG];
    mk_index_t next = 1;
    for (int batch = 0; batch < 8; batch++) {  /* 8 batches of 25 entries of 16 KiB: 3.2 MiB */
        mk_log_entry_t e[25];
        for (int j = 0; j < 25; j++, next++) {
            big_body(body[j], BIG, next);
            e[j] = (mk_log_entry_t){.index = next, .term = 1, .kind = MK_ENTRY_COMMAND, .body = body[j], .len = BIG};
        }
        assert_int_equal(s->vt->append(s->self, e, 25), MK_OK);
        mk_hard_state_t hs = {.term = 1, .commit = next - 1};
        assert_int_equal(s->vt->save_state(s->self, &hs, NULL), MK_OK);
        assert_int_equal(s->vt->sync(s->self), MK_OK);
    }
    /* one batch of 100 entries one by one, read back before the sync */
    for (int j = 0; j < 100; j++, next++) {
        big_body(body[j], BIG, next);
        mk_log_entry_t e = {.index = next, .term = 2, .kind = MK_ENTRY_COMMAND, .body = body[j], .len = BIG};
        assert_int_equal(s->vt->append(s->self, &e, 1), MK_OK);
    }
    mk_log_entry_t got;
    assert_int_equal(s->vt->get(s->self, 1, &got), MK_OK);
    assert_int_equal(got.len, BIG);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    assert_true(mkt_log_contains("map grown"));
    mk_log_store_free(s);

    s = open_cfg(&cfg);
    assert_int_equal(s->vt->last(s->self).index, 300);
    assert_int_equal(s->vt->last(s->self).term, 2);
    static uint8_t want[BIG];
    for (mk_index_t i = 1; i <= 300; i++) {
        assert_int_equal(s->vt->get(s->self, i, &got), MK_OK);
        big_body(want, BIG, i);
        assert_int_equal(got.len, BIG);
        assert_memory_equal(got.body, want, BIG);
    }
    mk_log_entry_t out[8];
    size_t n;
    assert_int_equal(s->vt->get_range(s->self, 101, 300, 3 * BIG, out, 8, &n), MK_OK);
    assert_int_equal(n, 3);
    for (size_t j = 0; j < n; j++) {
        big_body(want, BIG, 101 + j);
        assert_memory_equal(out[j].body, want, BIG);
    }
    mk_hard_state_t hs;
    assert_int_equal(s->vt->load_state(s->self, &hs, NULL), MK_OK);
    assert_int_equal(hs.commit, 200);
    mk_log_store_free(s);
}

static void full_map_is_reported_and_the_batch_dropped(void **state) {
    (void)state;
    mk_lmdb_config_t cfg = MK_LMDB_CONFIG_DEFAULT;
    cfg.path = new_dir();
    cfg.map_size = 64 << 10;
    cfg.map_size_max = 256 << 10;
    mk_log_store_t *s = open_cfg(&cfg);
    static uint8_t body[BIG];
    mk_index_t synced = 0;
    int rc = MK_OK;
    for (mk_index_t i = 1; i <= 64 && rc == MK_OK; i++) {
        big_body(body, BIG, i);
        mk_log_entry_t e = {.index = i, .term = 1, .kind = MK_ENTRY_COMMAND, .body = body, .len = BIG};
        rc = s->vt->append(s->self, &e, 1);
        if (rc == MK_OK && i % 2 == 0) {
            rc = s->vt->sync(s->self);
            if (rc == MK_OK) synced = i;
        }
    }
    assert_int_equal(rc, MK_E2BIG);
    assert_true(mkt_log_contains("map_size_max"));
    assert_true(synced > 0);
    /* back at the last sync, and still readable */
    assert_int_equal(s->vt->last(s->self).index, synced);
    mk_log_entry_t got;
    assert_int_equal(s->vt->get(s->self, synced, &got), MK_OK);
    big_body(body, BIG, synced);
    assert_memory_equal(got.body, body, BIG);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    mk_log_store_free(s);
    s = open_cfg(&cfg);
    assert_int_equal(s->vt->last(s->self).index, synced);
    mk_log_store_free(s);
}

/* ---- refusals ---- */

static void expect_refused(const mk_lmdb_config_t *cfg, int code, const char *needle) {
    mk_error_t e = {0};
    mk_log_store_t *s = mk_log_store_lmdb(cfg, &e);
    assert_null(s);
    assert_int_equal(e.code, code);
    if (!strstr(e.msg, needle)) fail_msg("error '%s' does not name '%s'", e.msg, needle);
}

static void bad_paths_and_fields_are_refused(void **state) {
    (void)state;
    expect_refused(NULL, MK_EINVAL, "path");
    mk_lmdb_config_t cfg = MK_LMDB_CONFIG_DEFAULT;
    expect_refused(&cfg, MK_EINVAL, "path");
    cfg.path = "";
    expect_refused(&cfg, MK_EINVAL, "path");
    const char *dir = new_dir();
    char file[PATH_MAX], under[PATH_MAX + 8];
    snprintf(file, sizeof file, "%s/plain-file", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    cfg.path = file;  /* a file, not a directory */
    expect_refused(&cfg, MK_EIO, "cannot create directory");
    snprintf(under, sizeof under, "%s/sub", file);
    cfg.path = under;  /* below a file */
    expect_refused(&cfg, MK_EIO, "cannot create directory");
    char deep[PATH_MAX + 16];
    snprintf(deep, sizeof deep, "%s/a/b/c", dir);  /* missing parents are created */
    cfg.path = deep;
    mk_log_store_t *s = open_cfg(&cfg);
    mk_log_store_free(s);
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    cfg.map_size = 1 << 20;
    cfg.map_size_max = 1 << 19;
    expect_refused(&cfg, MK_EINVAL, "map_size_max");
    cfg.map_size = 100;
    cfg.map_size_max = 0;
    expect_refused(&cfg, MK_EINVAL, "map_size");
    cfg = (mk_lmdb_config_t)MK_LMDB_CONFIG_DEFAULT;
    cfg.path = deep;
    cfg.sync = (mk_lmdb_sync_t)7;
    expect_refused(&cfg, MK_EINVAL, "sync");
    /* a garbage data file */
    const char *junk = new_dir();
    char data[PATH_MAX + 16];
    snprintf(data, sizeof data, "%s/data.mdb", junk);
    f = fopen(data, "w");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++) fputc(i * 7, f);
    fclose(f);
    cfg.path = junk;
    cfg.sync = MK_LMDB_SYNC_ALWAYS;
    expect_refused(&cfg, MK_EIO, "LMDB");
}

static void other_format_versions_and_foreign_data_are_refused(void **state) {
    (void)state;
    const char *dir = new_dir();
    mk_log_store_t *s = open_at(dir);
    mk_log_store_free(s);
    raw_t r = raw_open(dir, "meta");
    const uint8_t v2 = 2;
    raw_put(&r, "format", 6, &v2, 1);
    raw_close(&r);
    mk_lmdb_config_t cfg = MK_LMDB_CONFIG_DEFAULT;
    cfg.path = dir;
    expect_refused(&cfg, MK_EPROTO, "format version 2");

    const char *foreign = new_dir();
    r = raw_open(foreign, "log");
    raw_put_entry(&r, 1, "\x01\x00x", 3);
    raw_close(&r);
    cfg.path = foreign;
    expect_refused(&cfg, MK_EPROTO, "without a mosaik format record");
}

static void one_store_per_directory(void **state) {
    (void)state;
    const char *dir = new_dir();
    mk_log_store_t *a = open_at(dir);
    mk_lmdb_config_t cfg = MK_LMDB_CONFIG_DEFAULT;
    cfg.path = dir;
    expect_refused(&cfg, MK_EBUSY, "in use");
    mk_log_store_free(a);
    mk_log_store_t *b = open_at(dir);
    mk_log_store_free(b);
}

/* ---- corruption ---- */

static void corrupt_records_are_refused_with_their_index(void **state) {
    (void)state;
    const char *dir = new_dir();
    mk_log_store_t *s = open_at(dir);
    const mk_term_t terms[] = {1, 1, 2, 2, 2, 2};
    suite_fill(s, 1, 6, terms);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    mk_log_store_free(s);

    raw_t r = raw_open(dir, "log");
    const uint8_t overlong[] = {0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    raw_put_entry(&r, 3, overlong, sizeof overlong);        /* a varint no encoder writes */
    raw_put_entry(&r, 4, "\x02\x09" "e4", 4);                /* an unknown kind */
    raw_put_entry(&r, 5, "\x63\x00" "e5", 4);                /* term 99 after the last term */
    raw_put_entry(&r, 2, "", 0);                             /* empty */
    raw_close(&r);

    s = open_at(dir);
    mk_log_entry_t e;
    mkt_log_clear();
    assert_int_equal(s->vt->get(s->self, 3, &e), MK_EIO);
    assert_true(mkt_log_contains("entry 3"));
    assert_int_equal(s->vt->get(s->self, 4, &e), MK_EIO);
    assert_true(mkt_log_contains("entry 4: unknown kind 9"));
    assert_int_equal(s->vt->get(s->self, 5, &e), MK_EIO);
    assert_true(mkt_log_contains("entry 5: term 99"));
    assert_int_equal(s->vt->get(s->self, 2, &e), MK_EIO);
    mk_term_t t;
    assert_int_equal(s->vt->term_at(s->self, 3, &t), MK_EIO);
    mk_log_entry_t out[8];
    size_t n = 9;
    assert_int_equal(s->vt->get_range(s->self, 1, 6, 1 << 20, out, 8, &n), MK_EIO);
    assert_int_equal(n, 0);
    suite_expect_body(s, 1, 1);  /* the intact records still read */
    suite_expect_body(s, 6, 2);
    assert_int_equal(s->vt->prune_prefix(s->self, 3), MK_EIO);  /* needs term_at(3) */
    mk_log_store_free(s);

    /* a hole in the log is found at open */
    r = raw_open(dir, "log");
    raw_del_entry(&r, 4);
    raw_close(&r);
    mk_lmdb_config_t cfg = MK_LMDB_CONFIG_DEFAULT;
    cfg.path = dir;
    expect_refused(&cfg, MK_EIO, "corrupt");
    assert_true(mkt_log_contains("holds 5 entries for the range 1..6"));

    /* a corrupt hard state */
    const char *dir2 = new_dir();
    s = open_at(dir2);
    mk_hard_state_t hs = {.term = 5};
    assert_int_equal(s->vt->save_state(s->self, &hs, NULL), MK_OK);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    mk_log_store_free(s);
    r = raw_open(dir2, "meta");
    raw_put(&r, "hard", 4, "\x05\x07\x00", 3);  /* option byte 7 */
    raw_close(&r);
    s = open_at(dir2);
    mkt_log_clear();
    assert_int_equal(s->vt->load_state(s->self, &hs, NULL), MK_EIO);
    assert_true(mkt_log_contains("meta record 'hard'"));
    mk_log_store_free(s);
}

/* ---- the snapshot area ---- */

typedef struct collected {
    char items[8][32];
    size_t n;
} collected_t;

static int collect(void *ctx, const void *item, size_t len) {
    collected_t *c = ctx;
    if (c->n >= 8 || len >= 32) return MK_E2BIG;
    memcpy(c->items[c->n], item, len);
    c->items[c->n++][len] = 0;
    return MK_OK;
}

static void expect_snapshot(mk_log_store_t *s, mk_cursor_t want, const char *hdr, const char *const *items,
                            size_t n) {
    collected_t got = {0};
    struct mk_item_writer w = {.put = collect, .ctx = &got};
    mk_cursor_t at = {0, 0};
    mk_buf_t h = MK_BUF_INIT;
    assert_int_equal(s->vt->snap_open(s->self, &at, &h, &w), MK_OK);
    assert_int_equal(at.index, want.index);
    assert_int_equal(at.term, want.term);
    assert_int_equal(h.len, strlen(hdr));
    assert_memory_equal(h.ptr, hdr, h.len);
    assert_int_equal(got.n, n);
    for (size_t i = 0; i < n; i++) assert_string_equal(got.items[i], items[i]);
    mk_buf_free(&h);
}

static void snapshot_area_keeps_the_last_complete_snapshot(void **state) {
    (void)state;
    const char *dir = new_dir();
    mk_log_store_t *s = open_at(dir);
    assert_non_null(s->vt->snap_begin);
    mk_cursor_t at;
    mk_buf_t h = MK_BUF_INIT;
    assert_int_equal(s->vt->snap_open(s->self, &at, &h, NULL), MK_ENOTFOUND);
    assert_int_equal(s->vt->snap_put(s->self, "x", 1), MK_EINVAL);  /* no snapshot begun */
    assert_int_equal(s->vt->snap_commit(s->self), MK_EINVAL);
    const char *first[] = {"alpha", "beta", "gamma"};
    assert_int_equal(s->vt->snap_begin(s->self, (mk_cursor_t){.term = 2, .index = 10}, "hdr1", 4), MK_OK);
    for (size_t i = 0; i < 3; i++) assert_int_equal(s->vt->snap_put(s->self, first[i], strlen(first[i])), MK_OK);
    assert_int_equal(s->vt->snap_commit(s->self), MK_OK);
    expect_snapshot(s, (mk_cursor_t){.term = 2, .index = 10}, "hdr1", first, 3);
    /* a second one, unfinished when the store closes (a log batch synced meanwhile) */
    assert_int_equal(s->vt->snap_begin(s->self, (mk_cursor_t){.term = 3, .index = 20}, "hdr2", 4), MK_OK);
    assert_int_equal(s->vt->snap_put(s->self, "delta", 5), MK_OK);
    fill_terms(s, 1, 2, 1);
    assert_int_equal(s->vt->sync(s->self), MK_OK);
    assert_int_equal(s->vt->snap_put(s->self, "epsilon", 7), MK_OK);
    expect_snapshot(s, (mk_cursor_t){.term = 2, .index = 10}, "hdr1", first, 3);
    mk_log_store_free(s);

    s = open_at(dir);
    expect_snapshot(s, (mk_cursor_t){.term = 2, .index = 10}, "hdr1", first, 3);
    assert_int_equal(s->vt->snap_put(s->self, "x", 1), MK_EINVAL);  /* the pending one is gone */
    assert_int_equal(s->vt->last(s->self).index, 2);
    /* a replacement at the same anchor, restarted once, then committed; an empty header and snapshot */
    assert_int_equal(s->vt->snap_begin(s->self, (mk_cursor_t){.term = 2, .index = 10}, "x", 1), MK_OK);
    assert_int_equal(s->vt->snap_put(s->self, "zeta", 4), MK_OK);
    assert_int_equal(s->vt->snap_begin(s->self, (mk_cursor_t){.term = 2, .index = 10}, NULL, 0), MK_OK);
    const char *second[] = {"eta", "theta"};
    for (size_t i = 0; i < 2; i++) assert_int_equal(s->vt->snap_put(s->self, second[i], strlen(second[i])), MK_OK);
    assert_int_equal(s->vt->snap_commit(s->self), MK_OK);
    mk_log_store_free(s);  /* snap_commit is durable without a sync */
    s = open_at(dir);
    expect_snapshot(s, (mk_cursor_t){.term = 2, .index = 10}, "", second, 2);
    assert_int_equal(s->vt->snap_begin(s->self, (mk_cursor_t){.term = 4, .index = 30}, "h", 1), MK_OK);
    assert_int_equal(s->vt->snap_commit(s->self), MK_OK);
    expect_snapshot(s, (mk_cursor_t){.term = 4, .index = 30}, "h", NULL, 0);
    mk_log_store_free(s);
    raw_t r = raw_open(dir, "snap");
    assert_int_equal(raw_count(&r), 1);  /* only the stored snapshot's header: the older ones are deleted */
    raw_close(&r);
    mk_buf_free(&h);
}

/* Items of a big snapshot: item k is ITEM bytes derived from k; the reader checks each as it comes. */
#define ITEM ((size_t)1 << 20)

typedef struct checked {
    size_t n;
    bool ok;
    uint8_t *want;
} checked_t;

static int check_item(void *ctx, const void *item, size_t len) {
    checked_t *c = ctx;
    big_body(c->want, ITEM, c->n);
    if (len != ITEM || memcmp(item, c->want, ITEM) != 0) c->ok = false;
    c->n++;
    return MK_OK;
}

static int stop_at_two(void *ctx, const void *item, size_t len) {
    (void)item, (void)len;
    return ++*(size_t *)ctx == 2 ? MK_ECANCELED : MK_OK;
}

static void big_snapshot_commits_in_chunks_and_grows_the_map(void **state) {
    (void)state;
    mk_lmdb_config_t cfg = MK_LMDB_CONFIG_DEFAULT;
    cfg.path = new_dir();
    cfg.map_size = 1 << 20;
    cfg.map_size_max = 256 << 20;
    mk_log_store_t *s = open_cfg(&cfg);
    uint8_t *item = malloc(ITEM);
    assert_non_null(item);
    for (int round = 0; round < 2; round++) {  /* the second replaces the first */
        mkt_log_clear();
        mk_cursor_t anchor = {.term = 1, .index = 100u + (unsigned)round};
        assert_int_equal(s->vt->snap_begin(s->self, anchor, "H", 1), MK_OK);
        for (size_t k = 0; k < 40; k++) {  /* 40 MiB: more than two chunks */
            big_body(item, ITEM, k);
            assert_int_equal(s->vt->snap_put(s->self, item, ITEM), MK_OK);
        }
        assert_int_equal(s->vt->snap_commit(s->self), MK_OK);
        if (round == 0) assert_true(mkt_log_contains("map grown"));
    }
    mk_log_store_free(s);
    s = open_cfg(&cfg);
    checked_t c = {.ok = true, .want = item};
    struct mk_item_writer w = {.put = check_item, .ctx = &c};
    mk_cursor_t at;
    assert_int_equal(s->vt->snap_open(s->self, &at, NULL, &w), MK_OK);
    assert_int_equal(at.index, 101);
    assert_int_equal(c.n, 40);
    assert_true(c.ok);
    /* the writer's refusal stops the reading and is passed on */
    size_t seen = 0;
    w = (struct mk_item_writer){.put = stop_at_two, .ctx = &seen};
    assert_int_equal(s->vt->snap_open(s->self, &at, NULL, &w), MK_ECANCELED);
    assert_int_equal(seen, 2);
    mk_log_store_free(s);
    raw_t r = raw_open(cfg.path, "snap");
    assert_int_equal(raw_count(&r), 41);  /* the first snapshot's records are gone */
    raw_close(&r);
    free(item);
}

/* ---- the relaxed sync policy ---- */

static void sync_none_keeps_what_was_synced_across_a_clean_close(void **state) {
    (void)state;
    mk_lmdb_config_t cfg = MK_LMDB_CONFIG_DEFAULT;
    cfg.path = new_dir();
    cfg.sync = MK_LMDB_SYNC_NONE;
    mk_log_store_t *s = open_cfg(&cfg);
    for (mk_index_t i = 1; i <= 40; i++) {
        fill_terms(s, i, i, 1);
        assert_int_equal(s->vt->sync(s->self), MK_OK);
        if (i % 10 == 0) usleep(30 * 1000);  /* lets a periodic flush happen */
    }
    mk_log_store_free(s);
    s = open_cfg(&cfg);
    assert_int_equal(s->vt->last(s->self).index, 40);
    for (mk_index_t i = 1; i <= 40; i++) suite_expect_body(s, i, 1);
    mk_log_store_free(s);
}

int main(void) {
    suite_make = make_lmdb;
    const struct CMUnitTest tests[] = {
        MK_STORE_SUITE_TESTS,
        cmocka_unit_test(reopen_keeps_entries_state_meta_base_and_incarnation),
        cmocka_unit_test(unsynced_batch_is_lost_on_close),
        cmocka_unit_test(map_grows_when_full),
        cmocka_unit_test(full_map_is_reported_and_the_batch_dropped),
        cmocka_unit_test(bad_paths_and_fields_are_refused),
        cmocka_unit_test(other_format_versions_and_foreign_data_are_refused),
        cmocka_unit_test(one_store_per_directory),
        cmocka_unit_test(corrupt_records_are_refused_with_their_index),
        cmocka_unit_test(snapshot_area_keeps_the_last_complete_snapshot),
        cmocka_unit_test(big_snapshot_commits_in_chunks_and_grows_the_map),
        cmocka_unit_test(sync_none_keeps_what_was_synced_across_a_clean_close),
    };
    return mkt_run_group("unit.groups.store_lmdb", tests, sizeof tests / sizeof tests[0], NULL, remove_dirs);
}
