/* tee/tdx/configfs.c — the Linux configfs-tsm quote provider (spec 60 §8): one report entry per
 * request, `mosaik-<pid>-<seq>-<8 random hex>` (mode 0700) under the report directory; provider must be
 * tdx_guest; the generation read before writing inblob must have advanced by exactly one after outblob
 * was read, else another writer raced and the request is retried (at most 3 retries, then MK_EAGAIN);
 * outblob larger than MK_TDX_MAX_QUOTE → MK_EPROTO; the entry is removed on every path. The quote's
 * parse and REPORTDATA check happen in provider.c for every provider. */
#include "tee/tdx/configfs.h"

#include "core/error.h"
#include "tee/tdx/provider.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_DIR "/sys/kernel/config/tsm/report"
#define MAX_RETRIES 3

/* ---- the real filesystem ---- */

static int px_mkdir(void *ctx, const char *path, mode_t mode) {
    (void)ctx;
    return mkdir(path, mode) == 0 ? 0 : -errno;
}

static int px_rmdir(void *ctx, const char *path) {
    (void)ctx;
    return rmdir(path) == 0 ? 0 : -errno;
}

static ssize_t px_read(void *ctx, const char *path, uint8_t *buf, size_t cap) {
    (void)ctx;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t got = 0;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int en = errno;
            close(fd);
            return -en;
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    close(fd);
    return (ssize_t)got;
}

static ssize_t px_write(void *ctx, const char *path, const uint8_t *p, size_t n) {
    (void)ctx;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t w;
    do w = write(fd, p, n);
    while (w < 0 && errno == EINTR);
    int en = errno;
    close(fd);
    return w < 0 ? -en : w;
}

static bool px_is_dir(void *ctx, const char *path) {
    (void)ctx;
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const mk_tdx_fs_ops_t mk_tdx_fs_posix = {px_mkdir, px_rmdir, px_read, px_write, px_is_dir};

/* ---- the protocol ---- */

static _Atomic uint64_t entry_seq;

/* Reads a small attribute file into buf (NUL-terminated, trailing newlines trimmed). */
static int read_attr(const mk_tdx_fs_ops_t *ops, void *ctx, const char *path, char *buf, size_t cap, mk_error_t *e) {
    ssize_t n = ops->read(ctx, path, (uint8_t *)buf, cap - 1);
    if (n < 0) return MK_ERR_SYS(e, MK_EIO, (int)-n, "cannot read %s", path);
    size_t len = (size_t)n;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ')) len--;
    buf[len] = 0;
    return MK_OK;
}

static int read_generation(const mk_tdx_fs_ops_t *ops, void *ctx, const char *path, uint64_t *g, mk_error_t *e) {
    char buf[32];
    int rc = read_attr(ops, ctx, path, buf, sizeof buf, e);
    if (rc != MK_OK) return rc;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (buf[0] < '0' || buf[0] > '9' || errno != 0 || *end != 0)
        return MK_ERR(e, MK_EPROTO, "%s is not a decimal number: \"%s\"", path, buf);
    *g = (uint64_t)v;
    return MK_OK;
}

/* One attempt: steps 2–6 inside an entry already created at `entry`. 1 = generation raced (retry). */
static int attempt(const mk_tdx_fs_ops_t *ops, void *ctx, const char *entry, const uint8_t rd[64], mk_buf_t *q,
                   mk_error_t *e) {
    char path[4096], buf[64];
    snprintf(path, sizeof path, "%s/provider", entry);
    int rc = read_attr(ops, ctx, path, buf, sizeof buf, e);
    if (rc != MK_OK) return rc;
    if (strcmp(buf, "tdx_guest") != 0) return MK_ERR(e, MK_ENOTSUP, "the TSM provider is \"%s\", not tdx_guest", buf);
    uint64_t g0 = 0, g1 = 0;
    snprintf(path, sizeof path, "%s/generation", entry);
    if ((rc = read_generation(ops, ctx, path, &g0, e)) != MK_OK) return rc;
    snprintf(path, sizeof path, "%s/inblob", entry);
    ssize_t w = ops->write(ctx, path, rd, 64);
    if (w < 0) return MK_ERR_SYS(e, MK_EIO, (int)-w, "cannot write %s", path);
    if (w != 64) return MK_ERR(e, MK_EIO, "short write to %s (%zd of 64 bytes)", path, w);
    uint8_t *blob = malloc(MK_TDX_MAX_QUOTE + 1);
    if (!blob) return MK_ERR(e, MK_ENOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/outblob", entry);
    ssize_t n = ops->read(ctx, path, blob, MK_TDX_MAX_QUOTE + 1);
    if (n < 0) rc = MK_ERR_SYS(e, MK_EIO, (int)-n, "cannot read %s", path);
    else if ((size_t)n > MK_TDX_MAX_QUOTE) rc = MK_ERR(e, MK_EPROTO, "outblob exceeds %d bytes", MK_TDX_MAX_QUOTE);
    else if (n == 0) rc = MK_ERR(e, MK_EPROTO, "outblob is empty");
    if (rc == MK_OK) {
        snprintf(path, sizeof path, "%s/generation", entry);
        rc = read_generation(ops, ctx, path, &g1, e);
    }
    if (rc == MK_OK && g1 != g0 + 1) rc = 1;
    if (rc == MK_OK) {
        rc = mk_buf_append(q, blob, (size_t)n);
        if (rc != MK_OK) MK_ERR(e, rc, "out of memory");
    }
    free(blob);
    return rc;
}

int mk_tdx_configfs_request(const char *dir, const mk_tdx_fs_ops_t *ops, void *ctx, const uint8_t rd[64], mk_buf_t *q,
                            mk_error_t *e) {
    for (int round = 0; round <= MAX_RETRIES; round++) {
        uint8_t rnd[4];
        if (RAND_bytes(rnd, sizeof rnd) != 1) return MK_ERR(e, MK_EIO, "RAND_bytes failed");
        char entry[4000]; /* + "/generation" fits the 4096 of an attribute path */
        int len = snprintf(entry, sizeof entry, "%s/mosaik-%ld-%" PRIu64 "-%02x%02x%02x%02x", dir, (long)getpid(),
                           atomic_fetch_add(&entry_seq, 1), rnd[0], rnd[1], rnd[2], rnd[3]);
        if (len < 0 || (size_t)len >= sizeof entry) return MK_ERR(e, MK_EINVAL, "report directory path too long");
        int r = ops->mkdir(ctx, entry, 0700);
        if (r < 0) {
            int code = (r == -ENOENT || r == -ENOTDIR) ? MK_ENOTSUP : MK_EIO;
            return MK_ERR_SYS(e, code, -r, "cannot create a report entry under %s", dir);
        }
        int rc = attempt(ops, ctx, entry, rd, q, e);
        (void)ops->rmdir(ctx, entry); /* a failure leaves an entry behind; the quote is still good */
        if (rc != 1) return rc;
    }
    return MK_ERR(e, MK_EAGAIN, "another writer changed the report entry %d times in a row", MAX_RETRIES + 1);
}

/* ---- the provider ---- */

typedef struct cfs {
    char *dir;
    const mk_tdx_fs_ops_t *ops;
    void *ctx;
} cfs_t;

static int cfs_quote(void *ctx, const uint8_t rd[64], mk_buf_t *q, mk_error_t *e) {
    cfs_t *c = ctx;
    return mk_tdx_configfs_request(c->dir, c->ops, c->ctx, rd, q, e);
}

static bool cfs_precheck(void *ctx) {
    cfs_t *c = ctx;
    return c->ops->is_dir(c->ctx, c->dir);
}

static void cfs_destroy(void *ctx) {
    cfs_t *c = ctx;
    free(c->dir);
    free(c);
}

static const mk_tdx_provider_ops_t CFS_OPS = {
    .name = "configfs", .quote = cfs_quote, .precheck = cfs_precheck, .destroy = cfs_destroy};

mk_tdx_provider_t *mk_tdx_provider_configfs_ops(const char *report_dir, const mk_tdx_fs_ops_t *ops, void *ctx) {
    cfs_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->dir = strdup(report_dir ? report_dir : DEFAULT_DIR);
    c->ops = ops;
    c->ctx = ctx;
    mk_tdx_provider_t *p = c->dir ? mk_tdx_provider_new(&CFS_OPS, c) : NULL;
    if (!p) cfs_destroy(c);
    return p;
}

mk_tdx_provider_t *mk_tdx_provider_configfs(const char *report_dir) {
    return mk_tdx_provider_configfs_ops(report_dir, &mk_tdx_fs_posix, NULL);
}
