/* unit/tee/test_configfs.c — the configfs-tsm provider (spec 60 §8 steps 1–7, §12 TDX item 7) against an
 * in-memory fake configfs whose outblob is a mock quote of the written inblob: the happy path (entry
 * name `mosaik-<pid>-<seq>-<8 hex>`, mode 0700, one 64-byte inblob write, quote carries REPORTDATA,
 * availability, measurements), a generation race retried, endless races → MK_EAGAIN after 3 retries,
 * an oversize outblob → MK_EPROTO, a provider other than tdx_guest → MK_ENOTSUP, a REPORTDATA mismatch →
 * MK_EPROTO, a missing report directory → MK_ENOTSUP, I/O and format errors — every path removes its
 * entry. Then the real thing, only on a TDX guest (/sys/kernel/config/tsm/report with tdx_guest);
 * elsewhere that test is reported as skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mosaik/tdx.h"

#include <stdio.h>

#include "support/mkt.h"
#include "tee/tdx/configfs.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_ "/fake/tsm/report"

typedef struct fakefs {
    mk_tdx_mock_t *m;
    const char *provider;   /* content of the provider attribute */
    const char *generation; /* fixed content, or NULL = the counter */
    unsigned long long gen;
    int races;              /* inblob writes that another writer follows (extra generation bump); -1 = all */
    size_t outblob_len;     /* 0 = the mock quote; else that many zero bytes */
    bool wrong_rd, mkdir_enoent, write_eio;
    char live[4][512];      /* existing entries */
    int mkdirs, rmdirs, writes, bad_mode;
    char last_entry[512];
    uint8_t inblob[64];
} fakefs_t;

static int live_count(const fakefs_t *f) {
    int n = 0;
    for (int i = 0; i < 4; i++) n += f->live[i][0] != 0;
    return n;
}

static int fk_mkdir(void *ctx, const char *path, mode_t mode) {
    fakefs_t *f = ctx;
    if (f->mkdir_enoent) return -ENOENT;
    f->mkdirs++;
    if (mode != 0700) f->bad_mode++;
    for (int i = 0; i < 4; i++)
        if (!f->live[i][0]) {
            snprintf(f->live[i], sizeof f->live[i], "%s", path);
            snprintf(f->last_entry, sizeof f->last_entry, "%s", path);
            return 0;
        }
    return -ENOSPC;
}

static int fk_rmdir(void *ctx, const char *path) {
    fakefs_t *f = ctx;
    for (int i = 0; i < 4; i++)
        if (strcmp(f->live[i], path) == 0) {
            f->live[i][0] = 0;
            f->rmdirs++;
            return 0;
        }
    return -ENOENT;
}

/* The entry part of path must be live. */
static bool in_live(const fakefs_t *f, const char *path) {
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(f->live[i]);
        if (n && strncmp(path, f->live[i], n) == 0 && path[n] == '/') return true;
    }
    return false;
}

static bool ends(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static ssize_t give(uint8_t *buf, size_t cap, const void *p, size_t n) {
    size_t k = n < cap ? n : cap;
    memcpy(buf, p, k);
    return (ssize_t)k;
}

static ssize_t fk_read(void *ctx, const char *path, uint8_t *buf, size_t cap) {
    fakefs_t *f = ctx;
    if (!in_live(f, path)) return -ENOENT;
    if (ends(path, "/provider")) return give(buf, cap, f->provider, strlen(f->provider));
    if (ends(path, "/generation")) {
        char g[32];
        if (f->generation) return give(buf, cap, f->generation, strlen(f->generation));
        snprintf(g, sizeof g, "%llu\n", f->gen);
        return give(buf, cap, g, strlen(g));
    }
    if (ends(path, "/outblob")) {
        if (f->outblob_len) {
            uint8_t *z = calloc(1, f->outblob_len);
            ssize_t r = give(buf, cap, z, f->outblob_len);
            free(z);
            return r;
        }
        uint8_t rd[64];
        memcpy(rd, f->inblob, 64);
        if (f->wrong_rd) rd[0] ^= 0xFF;
        mk_buf_t q = MK_BUF_INIT;
        if (mk_tdx_mock_quote(f->m, rd, &q, NULL) != MK_OK) return -EIO;
        ssize_t r = give(buf, cap, q.ptr, q.len);
        mk_buf_free(&q);
        return r;
    }
    return -ENOENT;
}

static ssize_t fk_write(void *ctx, const char *path, const uint8_t *p, size_t n) {
    fakefs_t *f = ctx;
    if (!in_live(f, path) || !ends(path, "/inblob")) return -ENOENT;
    if (f->write_eio) return -EIO;
    f->writes++;
    if (n != 64) return -EINVAL;
    memcpy(f->inblob, p, 64);
    f->gen++;
    if (f->races) {
        f->gen++; /* another writer wrote in between */
        if (f->races > 0) f->races--;
    }
    return (ssize_t)n;
}

static bool fk_is_dir(void *ctx, const char *path) {
    fakefs_t *f = ctx;
    return !f->mkdir_enoent && strcmp(path, DIR_) == 0;
}

static const mk_tdx_fs_ops_t FAKE_FS = {fk_mkdir, fk_rmdir, fk_read, fk_write, fk_is_dir};

static fakefs_t *fake_new(void) {
    fakefs_t *f = calloc(1, sizeof *f);
    mk_tdx_mock_config_t c = {0};
    memset(c.seed, 0x42, sizeof c.seed);
    memset(c.measurements.rtmr[0].b, 0xAB, 48);
    f->m = mk_tdx_mock_new(&c, NULL);
    assert_non_null(f->m);
    f->provider = "tdx_guest\n";
    f->gen = 7;
    return f;
}

static void fake_free(fakefs_t *f) {
    mk_tdx_mock_free(f->m);
    free(f);
}

/* One request through the provider (worker thread, parse and REPORTDATA check included). */
static int request(fakefs_t *f, mk_buf_t *q, mk_error_t *e) {
    mk_tdx_provider_t *p = mk_tdx_provider_configfs_ops(DIR_, &FAKE_FS, f);
    uint8_t rd[64];
    for (int i = 0; i < 64; i++) rd[i] = (uint8_t)(0xC0 + i);
    int rc = mk_tdx_provider_quote(p, rd, mkt_ms(5000), q, e);
    if (rc == MK_OK) {
        mk_tdx_quote_t pq;
        assert_int_equal(mk_tdx_quote_parse(q->ptr, q->len, &pq, NULL), MK_OK);
        assert_memory_equal(pq.report_data, rd, 64);
        assert_memory_equal(f->inblob, rd, 64);
    }
    mk_tdx_provider_free(p);
    assert_int_equal(live_count(f), 0); /* rmdir on every path */
    assert_int_equal(f->mkdirs, f->rmdirs);
    assert_int_equal(f->bad_mode, 0);
    return rc;
}

static void test_happy_path(void **state) {
    (void)state;
    fakefs_t *f = fake_new();
    mk_buf_t q = MK_BUF_INIT;
    mk_error_t e = {0};
    assert_int_equal(request(f, &q, &e), MK_OK);
    assert_int_equal(f->mkdirs, 1);
    assert_int_equal(f->writes, 1);
    /* the entry name */
    const char *name = f->last_entry + strlen(DIR_ "/");
    assert_int_equal(strncmp(f->last_entry, DIR_ "/", strlen(DIR_ "/")), 0);
    char pid[32];
    snprintf(pid, sizeof pid, "mosaik-%ld-", (long)getpid());
    assert_int_equal(strncmp(name, pid, strlen(pid)), 0);
    const char *seq = name + strlen(pid), *dash = strchr(seq, '-');
    assert_non_null(dash);
    for (const char *c = seq; c < dash; c++) assert_true(isdigit((unsigned char)*c));
    assert_int_equal(strlen(dash + 1), 8);
    for (const char *c = dash + 1; *c; c++) assert_true(isxdigit((unsigned char)*c) && !isupper((unsigned char)*c));
    /* availability and measurements through the same fake */
    mk_tdx_provider_t *p = mk_tdx_provider_configfs_ops(DIR_, &FAKE_FS, f);
    assert_true(mk_tdx_provider_available(p, mkt_ms(5000)));
    mk_measurements_t ms;
    assert_int_equal(mk_tdx_local_measurements(p, mkt_ms(5000), &ms, &e), MK_OK);
    uint8_t r0[48];
    memset(r0, 0xAB, 48);
    assert_memory_equal(ms.rtmr[0].b, r0, 48);
    mk_tdx_provider_free(p);
    assert_int_equal(live_count(f), 0);
    mk_buf_free(&q);
    fake_free(f);
}

static void test_generation_race_retried(void **state) {
    (void)state;
    fakefs_t *f = fake_new();
    f->races = 2;
    mk_buf_t q = MK_BUF_INIT;
    assert_int_equal(request(f, &q, NULL), MK_OK);
    assert_int_equal(f->mkdirs, 3);
    mk_buf_free(&q);
    fake_free(f);
}

static void test_generation_race_gives_up(void **state) {
    (void)state;
    fakefs_t *f = fake_new();
    f->races = -1;
    mk_buf_t q = MK_BUF_INIT;
    mk_error_t e = {0};
    assert_int_equal(request(f, &q, &e), MK_EAGAIN);
    assert_int_equal(f->mkdirs, 4); /* the first attempt and 3 retries */
    assert_int_equal(q.len, 0);
    mk_buf_free(&q);
    fake_free(f);
}

static void test_oversize_outblob(void **state) {
    (void)state;
    fakefs_t *f = fake_new();
    f->outblob_len = MK_TDX_MAX_QUOTE + 1;
    mk_buf_t q = MK_BUF_INIT;
    mk_error_t e = {0};
    assert_int_equal(request(f, &q, &e), MK_EPROTO);
    assert_non_null(strstr(e.msg, "outblob"));
    f->outblob_len = MK_TDX_MAX_QUOTE; /* fits, but is no quote */
    assert_int_equal(request(f, &q, &e), MK_EPROTO);
    assert_int_equal(q.len, 0);
    fake_free(f);
}

static void test_wrong_provider(void **state) {
    (void)state;
    fakefs_t *f = fake_new();
    f->provider = "sev_guest\n";
    mk_buf_t q = MK_BUF_INIT;
    mk_error_t e = {0};
    assert_int_equal(request(f, &q, &e), MK_ENOTSUP);
    assert_non_null(strstr(e.msg, "sev_guest"));
    assert_int_equal(f->writes, 0);
    mk_tdx_provider_t *p = mk_tdx_provider_configfs_ops(DIR_, &FAKE_FS, f);
    assert_false(mk_tdx_provider_available(p, mkt_ms(5000)));
    assert_false(mk_tdx_provider_available(p, mkt_ms(5000)));
    assert_int_equal(f->mkdirs, 2); /* cached after one probe */
    mk_tdx_provider_free(p);
    assert_int_equal(live_count(f), 0);
    fake_free(f);
}

static void test_report_data_mismatch(void **state) {
    (void)state;
    fakefs_t *f = fake_new();
    f->wrong_rd = true;
    mk_buf_t q = MK_BUF_INIT;
    mk_error_t e = {0};
    assert_int_equal(request(f, &q, &e), MK_EPROTO);
    assert_non_null(strstr(e.msg, "REPORTDATA"));
    assert_int_equal(q.len, 0);
    fake_free(f);
}

static void test_no_configfs(void **state) {
    (void)state;
    fakefs_t *f = fake_new();
    f->mkdir_enoent = true;
    mk_buf_t q = MK_BUF_INIT;
    assert_int_equal(request(f, &q, NULL), MK_ENOTSUP);
    mk_tdx_provider_t *p = mk_tdx_provider_configfs_ops(DIR_, &FAKE_FS, f);
    assert_false(mk_tdx_provider_available(p, mkt_ms(5000)));
    mk_tdx_provider_free(p);
    fake_free(f);
}

static void test_io_and_format_errors(void **state) {
    (void)state;
    fakefs_t *f = fake_new();
    mk_buf_t q = MK_BUF_INIT;
    f->write_eio = true;
    assert_int_equal(request(f, &q, NULL), MK_EIO);
    f->write_eio = false;
    f->generation = "seven\n";
    assert_int_equal(request(f, &q, NULL), MK_EPROTO);
    f->generation = "\n";
    assert_int_equal(request(f, &q, NULL), MK_EPROTO);
    f->generation = NULL;
    assert_int_equal(request(f, &q, NULL), MK_OK); /* and the fake still works */
    mk_buf_free(&q);
    fake_free(f);
}

/* ---- real hardware ---- */

static void test_real_tdx_guest(void **state) {
    (void)state;
    const char *dir = "/sys/kernel/config/tsm/report";
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        print_message("no %s: not a TDX guest with configfs-tsm\n", dir);
        skip();
    }
    uint8_t rd[64] = {0};
    mk_buf_t q = MK_BUF_INIT;
    mk_error_t e = {0};
    int rc = mk_tdx_configfs_request(dir, &mk_tdx_fs_posix, NULL, rd, &q, &e);
    if (rc == MK_ENOTSUP) {
        print_message("%s\n", e.msg);
        skip();
    }
    assert_int_equal(rc, MK_OK);
    mk_buf_free(&q);
    mk_tdx_provider_t *p = mk_tdx_provider_configfs(NULL);
    assert_true(mk_tdx_provider_available(p, mkt_ms(30000)));
    for (int i = 0; i < 64; i++) rd[i] = (uint8_t)i;
    assert_int_equal(mk_tdx_provider_quote(p, rd, mkt_ms(30000), &q, &e), MK_OK);
    mk_tdx_quote_t pq;
    assert_int_equal(mk_tdx_quote_parse(q.ptr, q.len, &pq, &e), MK_OK);
    assert_memory_equal(pq.report_data, rd, 64);
    mk_measurements_t a, b;
    assert_int_equal(mk_tdx_local_measurements(p, mkt_ms(30000), &a, &e), MK_OK);
    assert_int_equal(mk_tdx_local_measurements(p, mkt_ms(30000), &b, &e), MK_OK);
    assert_memory_equal(a.mrtd.b, b.mrtd.b, 48);
    assert_memory_equal(a.mrtd.b, pq.m.mrtd.b, 48);
    mk_buf_free(&q);
    mk_tdx_provider_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_happy_path),         cmocka_unit_test(test_generation_race_retried),
        cmocka_unit_test(test_generation_race_gives_up), cmocka_unit_test(test_oversize_outblob),
        cmocka_unit_test(test_wrong_provider),     cmocka_unit_test(test_report_data_mismatch),
        cmocka_unit_test(test_no_configfs),        cmocka_unit_test(test_io_and_format_errors),
        cmocka_unit_test(test_real_tdx_guest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

