/* tee/tdx/provider.h — internal quote-provider interface (spec 60 §8): the vtable every provider
 * implements (configfs-tsm, the mock, test fakes) and the process-wide TDX worker thread that runs their
 * blocking calls. The public wrappers (mk_tdx_provider_quote, _available, _free) live in provider.c. */
#ifndef MK_TEE_TDX_PROVIDER_H
#define MK_TEE_TDX_PROVIDER_H

#include "mosaik/tdx.h"

/* A provider's operations. Both run on the TDX worker thread, one request at a time per process. */
typedef struct mk_tdx_provider_ops {
    const char *name; /* "configfs", "mock", … (logs) */
    /* Writes a fresh quote carrying rd into q (appended). May block. */
    int (*quote)(void *ctx, const uint8_t rd[64], mk_buf_t *q, mk_error_t *e);
    /* Cheap precondition of availability (e.g. the report directory exists); NULL = true. */
    bool (*precheck)(void *ctx);
    /* Frees ctx when the provider is freed (after its last request ended); NULL = nothing. */
    void (*destroy)(void *ctx);
} mk_tdx_provider_ops_t;

/* A provider over ops/ctx (ops must be static). NULL only on allocation failure. */
mk_tdx_provider_t *mk_tdx_provider_new(const mk_tdx_provider_ops_t *ops, void *ctx);

/* Whether a blocking provider call must refuse to wait on this thread (a network loop thread). Test
 * builds can force it with mk_tdx_test_force_loop_thread. */
bool mk_tdx_on_loop_thread(void);
/* Test hook: makes mk_tdx_on_loop_thread return true on the calling thread (false restores). */
void mk_tdx_test_force_loop_thread(bool on);

/* The provider's name ("configfs", "mock", …). */
const char *mk_tdx_provider_name(const mk_tdx_provider_t *p);

/* Requests of p queued or running (tests). */
int mk_tdx_provider_pending(mk_tdx_provider_t *p);

/* Checks a provider's output: the quote parses, fits MK_TDX_MAX_QUOTE and carries rd as REPORTDATA.
 * MK_EPROTO otherwise. */
int mk_tdx_provider_check_quote(const uint8_t *q, size_t len, const uint8_t rd[64], mk_error_t *e);

#endif
