/* tee/tdx/mock_provider.c — the mock as a quote provider (spec 60 §8): quotes through the TDX worker like
 * any provider, each with a warning in the log (a ticket made with it proves nothing). */
#include "tee/tdx/mock_int.h"

#include "core/log.h"
#include "tee/tdx/provider.h"

static int mock_provider_quote(void *ctx, const uint8_t rd[64], mk_buf_t *q, mk_error_t *e) {
    MK_LOGF(MK_MOD_TDX, MK_LOG_WARN, NULL, "quote made by the TDX MOCK provider: it proves nothing (tests and demos only)");
    return mk_tdx_mock_quote(ctx, rd, q, e);
}

static const mk_tdx_provider_ops_t MOCK_OPS = {.name = "mock", .quote = mock_provider_quote};

mk_tdx_provider_t *mk_tdx_mock_provider(mk_tdx_mock_t *m) { return m ? mk_tdx_provider_new(&MOCK_OPS, m) : NULL; }
