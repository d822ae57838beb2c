/* tee/tdx/configfs.h — the configfs-tsm provider's filesystem operations, as a table so unit tests can
 * drive the report protocol (spec 60 §8 steps 1–7) with an in-memory fake configfs. */
#ifndef MK_TEE_TDX_CONFIGFS_H
#define MK_TEE_TDX_CONFIGFS_H

#include "mosaik/tdx.h"

#include <sys/types.h>

/* Each returns 0 (or a byte count) on success, -errno on failure. */
typedef struct mk_tdx_fs_ops {
    int (*mkdir)(void *ctx, const char *path, mode_t mode);
    int (*rmdir)(void *ctx, const char *path);
    /* Reads from the start to EOF or cap bytes, whichever comes first; returns the byte count. */
    ssize_t (*read)(void *ctx, const char *path, uint8_t *buf, size_t cap);
    /* One write(2) of n bytes; returns the count written. */
    ssize_t (*write)(void *ctx, const char *path, const uint8_t *p, size_t n);
    bool (*is_dir)(void *ctx, const char *path);
} mk_tdx_fs_ops_t;

/* The real filesystem (mkdir(2), open/read/write, rmdir(2), stat(2)). */
extern const mk_tdx_fs_ops_t mk_tdx_fs_posix;

/* A configfs provider whose filesystem goes through ops/ctx (ops must outlive the provider). */
mk_tdx_provider_t *mk_tdx_provider_configfs_ops(const char *report_dir, const mk_tdx_fs_ops_t *ops, void *ctx);

/* One report request through ops (steps 1–7 without the final parse), synchronously on this thread.
 * Exposed for tests; the provider runs it on the TDX worker. */
int mk_tdx_configfs_request(const char *report_dir, const mk_tdx_fs_ops_t *ops, void *ctx, const uint8_t rd[64],
                            mk_buf_t *q, mk_error_t *e);

#endif
