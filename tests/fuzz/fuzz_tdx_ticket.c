/* fuzz/fuzz_tdx_ticket.c — TDX ticket decoding and validation on hostile bytes (spec 60 §4, §6.2, §12 TDX
 * item 9). The first byte picks the mode: even = the rest is ticket data as received; odd = the rest is
 * codec content, compressed here with zstd level 3 first (so mutations reach the codec and the quote
 * behind the compression). Decoding either succeeds with consistent accessors (the binding holds, the
 * parsed quote points into the ticket's own copy) or fails with MK_EPROTO and a message; validation with
 * a fixed validator (mock-root trust, seed 3, a baseline and a variant, max_age) always gives a
 * consistent verdict, DECODE only when decoding fails too. Seeds: tickets made by the mock (v4, v5 body
 * 2 and 3, never expiring) in both modes and a real Intel quote in a ticket. */
#include "fuzz/fuzz_check.h"
#include "mosaik/tdx.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define NOW_S 1751328000LL

static const mk_ticket_validator_t *V;
static mk_tdx_mock_t *MOCK;

static void init(void) {
    mk_tdx_mock_config_t c = {0};
    memset(c.seed, 3, sizeof c.seed);
    MOCK = mk_tdx_mock_new(&c, NULL);
    CHECK(MOCK);
    mk_tdx_trust_config_t tc = {.root_pem = mk_tdx_mock_root_pem(MOCK)};
    mk_tdx_trust_t *t = mk_tdx_trust_new(&tc, NULL);
    CHECK(t);
    mk_tdx_criteria_t base = MK_TDX_CRITERIA_ANY, var = MK_TDX_CRITERIA_ANY;
    mk_measurement_t zero;
    memset(zero.b, 0, 48);
    mk_tdx_criteria_require(&base, MK_TDX_RTMR3, &zero);
    mk_tdx_criteria_require(&var, MK_TDX_RTMR0, &zero);
    mk_tdx_validator_t *b = mk_tdx_validator_baseline(&base);
    mk_tdx_validator_allow_variant(b, &var);
    mk_tdx_validator_max_age(b, 86400 * 365);
    mk_tdx_validator_trust(b, t);
    mk_tdx_trust_free(t);
    V = mk_ticket_validator_ref(mk_tdx_validator_get(b));
    CHECK(V);
    mk_tdx_validator_free(b); /* V keeps its own reference for the process */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!V) init();
    if (size < 1 || size > 70000) return 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (data[0] & 1) {
        size_t cap = ZSTD_compressBound(size - 1);
        buf = malloc(cap);
        if (!buf) return 0;
        len = ZSTD_compress(buf, cap, data + 1, size - 1, 3);
        CHECK(!ZSTD_isError(len));
    } else {
        len = size - 1;
        buf = malloc(len ? len : 1); /* exact size: overreads are caught */
        if (!buf) return 0;
        if (len) memcpy(buf, data + 1, len);
    }
    mk_tdx_ticket_t *t = NULL;
    mk_error_t e = {0};
    int rc = mk_tdx_ticket_decode(buf, len, &t, &e);
    mk_ticket_peer_t peer = {.peer_id = mk_id_from_str("fuzz-peer"), .network_id = mk_id_from_str("fuzz-net")};
    if (rc == MK_OK) {
        CHECK(t);
        const mk_tdx_extra_t *x = mk_tdx_ticket_extra(t);
        const mk_tdx_quote_t *q = mk_tdx_ticket_quote(t);
        CHECK(x && q);
        CHECK(x->expires == MK_EXPIRES_NEVER || (x->expires > 0 && x->expires <= INT64_MAX / 1000));
        uint8_t rd[64];
        mk_tdx_extra_report_data(x, rd);
        CHECK(memcmp(rd, q->report_data, 64) == 0);
        CHECK(q->version == 4 || q->version == 5);
        CHECK(q->pck_pem_len > 0 && q->pck_pem[q->pck_pem_len - 1] == q->pck_pem[q->pck_pem_len - 1]);
        CHECK(q->qe_auth_len <= 4096);
        (void)mk_tdx_ticket_uptime_s(t, NOW_S * 1000);
        (void)mk_tdx_ticket_uptime_s(t, INT64_MIN);
        (void)mk_tdx_ticket_uptime_s(t, INT64_MAX);
        peer.peer_id = x->peer_id;
        peer.network_id = x->network_id;
        mk_tdx_ticket_free(t);
    } else {
        CHECK(t == NULL);
        CHECK(rc == MK_EPROTO || rc == MK_ENOMEM);
        CHECK(memchr(e.msg, 0, sizeof e.msg) != NULL && strncmp(e.msg, "mk_tdx_ticket_decode: ", 22) == 0);
    }
    mk_ticket_verdict_t vd;
    mk_ticket_validate(V, buf, len, &peer, NOW_S * 1000, &vd);
    CHECK(memchr(vd.detail, 0, sizeof vd.detail) != NULL);
    if (vd.valid) {
        CHECK(rc == MK_OK);
        CHECK(vd.reason == MK_TICKET_OK && vd.code == MK_TDX_CHK_OK);
        CHECK(vd.expires > NOW_S * 1000);
    } else {
        CHECK(vd.reason != MK_TICKET_OK && vd.detail[0] != '\0');
        CHECK(vd.code >= MK_TDX_CHK_DECODE && vd.code <= MK_TDX_CHK_EXPIRED);
        if (vd.code == MK_TDX_CHK_DECODE) CHECK(rc != MK_OK && vd.reason == MK_TICKET_MALFORMED);
        /* a decodable ticket can still fail PARSE (a PEM certificate that does not decode) */
        if (rc == MK_OK) CHECK(vd.code != MK_TDX_CHK_DECODE && vd.code != MK_TDX_CHK_REPORT_DATA);
    }
    free(buf);
    return 0;
}
