/* fuzz/fuzz_tdx_collateral.c — DCAP collateral on hostile JSON (spec 60 §6.1, §6.3): the input is taken
 * as collateral (trust_new, then the real quote tdx_quote_v4_a verified with it at a fixed time) and, so
 * that mutations are not all stopped by the signatures, its tcb_info / qe_identity texts (or the whole
 * input when it is not collateral) go straight to the TCB-info and QE-identity matchers against that
 * quote. No crash, leak or overread; verdicts are consistent. Seed: the real collateral. */
#include "fuzz/fuzz_check.h"
#include "fuzz/tdx_seed_quote.h"
#include "mosaik/tdx.h"
#include "tee/tdx/tdx_int.h"

#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

static mk_tdx_quote_t quote;
static mk_tdx_pck_ext_t ext;

static void init(void) {
    static bool done;
    if (done) return;
    done = true;
    CHECK(mk_tdx_quote_parse(TDX_SEED_QUOTE, sizeof TDX_SEED_QUOTE, &quote, NULL) == MK_OK);
    BIO *b = BIO_new_mem_buf(quote.pck_pem, (int)quote.pck_pem_len);
    X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    CHECK(leaf != NULL);
    CHECK(mk_tdx_pck_ext_from_cert(leaf, &ext, NULL) == MK_OK);
    X509_free(leaf);
    BIO_free(b);
}

static void match(const char *text, size_t len, bool tcb) {
    mk_tdx_report_t rep;
    memset(&rep, 0, sizeof rep);
    mk_tcb_status_t st = MK_TCB_UNKNOWN;
    int64_t next = INT64_MAX;
    mk_ticket_reason_t reason = MK_TICKET_OK;
    mk_error_t e = {0};
    int rc = tcb ? mk_tdx_tcb_match(text, len, &quote, &ext, 1751328000, &st, &next, &rep, &reason, &e)
                 : mk_tdx_qe_match(text, len, &quote, 1751328000, &st, &next, &rep, &reason, &e);
    if (rc == MK_OK) {
        CHECK(st < MK_TCB_UNKNOWN);
        CHECK(next >= 1751328000);
    } else {
        CHECK(reason != MK_TICKET_OK && e.msg[0] != '\0');
    }
    CHECK(memchr(rep.advisories, 0, sizeof rep.advisories) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init();
    if (size > 1 << 17) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    mk_error_t e = {0};
    mk_tdx_coll_t *c = mk_tdx_coll_parse(text, size, &e);
    if (!c) {
        CHECK(e.msg[0] != '\0');
        match(text, size, true);
        match(text, size, false);
    } else {
        match(c->tcb_info, c->tcb_info_len, true);
        match(c->qe_identity, c->qe_identity_len, false);
        mk_tdx_coll_unref(c);
        mk_tdx_trust_config_t cfg = {.collateral_json = text};
        mk_tdx_trust_t *t = mk_tdx_trust_new(&cfg, &e);
        CHECK(t != NULL || strlen(text) != size); /* the same text parsed once already */
        if (t) {
            mk_tdx_report_t rep;
            mk_tdx_check_t chk;
            mk_ticket_reason_t reason;
            int rc = mk_tdx_quote_verify_ex(TDX_SEED_QUOTE, sizeof TDX_SEED_QUOTE, t, 1751328000, &rep, &chk, &reason, &e);
            CHECK((rc == MK_OK) == (chk == MK_TDX_CHK_OK));
            CHECK(chk == MK_TDX_CHK_OK || chk == MK_TDX_CHK_PCK_CHAIN || chk == MK_TDX_CHK_COLLATERAL);
            if (rc == MK_OK) CHECK(rep.collateral_used && rep.tcb < MK_TCB_REVOKED);
            mk_tdx_trust_free(t);
        }
    }
    free(text);
    return 0;
}
