/* fuzz/fuzz_tickets.c — tickets inside hostile entries (spec 60 §1): the input is decoded as a
 * SignedEntry (its tickets with it; the signature is not checked here), and every ticket query and the
 * ticket rule run over what came out: counts agree, ticket ids are the recomputed ones in ascending
 * order, and nothing judges a random JWT valid. */
#include "discovery/entry.h"
#include "fuzz/fuzz_check.h"

#include <string.h>

static bool any(void *ctx, const uint8_t *data, size_t len) {
    (void)ctx;
    return len > 0 && data[0] != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const mk_peer_entry_t *e = NULL;
    mk_entry_reject_t why;
    if (mk_entry_decode_signed(data, size, &e, &why, NULL) != MK_OK) return 0;
    const mk_ticket_t *all;
    size_t n = mk_peer_entry_tickets(e, &all);
    CHECK(n <= MK_ENTRY_MAX_TICKETS);
    for (size_t i = 0; i < n; i++) {
        CHECK(all[i].len <= MK_TICKET_MAX_BYTES);
        mk_id_t id = mk_ticket_id(&all[i]);
        CHECK(mk_peer_entry_ticket(e, &id) == &all[i]);
        if (i) {
            mk_id_t prev = mk_ticket_id(&all[i - 1]);
            CHECK(memcmp(prev.b, id.b, 32) < 0);
        }
        size_t of = mk_peer_entry_tickets_of(e, &all[i].cls, NULL, 0);
        CHECK(of >= 1 && mk_peer_entry_valid_tickets(e, &all[i].cls, NULL, NULL, NULL, 0) == of);
        CHECK(mk_peer_entry_valid_tickets(e, &all[i].cls, any, NULL, NULL, 0) <= of);
    }
    static mk_jwt_config_t cfg = {
        .keys = {MK_JWT_KEY_HEX(MK_JWT_HS256, "45b8e745d5e0acbac2c3803b7ddbcb2953601411f92e39519a2ef7aef16d09e6")},
        .allow_non_expiring = true};
    mk_ticket_validator_t v = MK_JWT_VALIDATOR(&cfg);
    const mk_ticket_validator_t *vs[] = {&v};
    mk_ticket_verdict_t out;
    mk_peer_entry_validate_all(e, vs, 1, 1893456000000LL, &out);
    CHECK(!out.valid);
    mk_peer_entry_validate_all(e, NULL, 0, 0, &out);
    CHECK(out.valid && out.expires == MK_EXPIRES_NEVER);
    mk_peer_entry_unref(e);
    return 0;
}
