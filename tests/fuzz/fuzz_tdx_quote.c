/* fuzz/fuzz_tdx_quote.c — the DCAP quote parser and verifier on hostile bytes (spec 60 §5, §6.2): any input
 * gets a verdict without crashing, leaking or reading past it; parse failures are PARSE verdicts; when the
 * parse succeeds the full steps 2–7 run at a fixed time with the default trust and the verdict is
 * consistent (status, failing step, reason and message agree). Seeds: the three real quotes. */
#include "fuzz/fuzz_check.h"
#include "mosaik/tdx.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > MK_TDX_MAX_QUOTE + 16) return 0;
    uint8_t *copy = malloc(size ? size : 1); /* exact size: any overread is caught */
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    mk_tdx_quote_t q;
    mk_error_t e = {0};
    int prc = mk_tdx_quote_parse(copy, size, &q, &e);
    CHECK(prc == MK_OK || prc == MK_EPROTO || prc == MK_ENOTSUP);
    if (prc == MK_OK) {
        CHECK(q.version == 4 || q.version == 5);
        CHECK(q.body_type == 2 || q.body_type == 3);
        CHECK(q.signed_len == q.body_off + (q.body_type == 3 ? 648u : 584u));
        CHECK(q.pck_pem >= copy && q.pck_pem + q.pck_pem_len <= copy + size);
        CHECK(q.qe_auth >= copy && q.qe_auth + q.qe_auth_len <= copy + size);
        CHECK(q.qe_auth_len <= 4096);
    } else {
        CHECK(memchr(e.msg, 0, sizeof e.msg) != NULL && e.msg[0] != '\0');
    }
    mk_tdx_report_t rep;
    mk_tdx_check_t chk;
    mk_ticket_reason_t reason;
    mk_error_t ve = {0};
    int rc = mk_tdx_quote_verify_ex(copy, size, NULL, 1751328000, &rep, &chk, &reason, &ve);
    CHECK((rc == MK_OK) == (chk == MK_TDX_CHK_OK));
    CHECK((rc == MK_OK) == (reason == MK_TICKET_OK));
    if (prc != MK_OK) CHECK(chk == MK_TDX_CHK_PARSE);
    if (rc != MK_OK) {
        CHECK(chk >= MK_TDX_CHK_PARSE && chk <= MK_TDX_CHK_COLLATERAL);
        CHECK(ve.code == rc && ve.msg[0] != '\0');
    } else {
        CHECK(rep.tcb == MK_TCB_UNKNOWN && !rep.collateral_used && rep.valid_until_s > 1751328000);
    }
    free(copy);
    return 0;
}
