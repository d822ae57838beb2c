/* fuzz/fuzz_disc_entry.c — SignedEntry decoding (spec 20 §1.2): an accepted input keeps its exact bytes,
 * re-sealing its content as a draft gives the same body, and its accessors are consistent. */
#include "discovery/entry.h"
#include "fuzz/fuzz_check.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const mk_peer_entry_t *e = NULL;
    mk_entry_reject_t why;
    mk_error_t err;
    if (mk_entry_decode_signed(data, size, &e, &why, &err) != MK_OK) {
        CHECK(e == NULL);
        CHECK(why == MK_REJ_MALFORMED || why == MK_REJ_TOO_BIG);
        return 0;
    }
    CHECK(e->wire_len == size && memcmp(e->wire, data, size) == 0);
    CHECK(e->n_tags <= MK_ENTRY_MAX_TAGS && e->n_addrs <= MK_ENTRY_MAX_ADDRS && e->n_tickets <= MK_ENTRY_MAX_TICKETS);
    for (size_t i = 1; i < e->n_tags; i++) CHECK(memcmp(e->tags[i - 1].b, e->tags[i].b, 32) < 0);
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    if (d && mk_entry_draft_from(d, e) == MK_OK) {
        const mk_peer_entry_t *again = NULL;
        if (mk_entry_draft_seal(d, NULL, &again, NULL) == MK_OK) {
            CHECK(again->body_len == e->body_len);
            CHECK(memcmp(again->wire, e->wire + e->body_off, e->body_len) == 0);
            CHECK(mk_entry_same_content(again, e));
            mk_peer_entry_unref(again);
        }
        mk_entry_draft_free(d);
    }
    free(d);
    mk_peer_entry_unref(e);
    return 0;
}
