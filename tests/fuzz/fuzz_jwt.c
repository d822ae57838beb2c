/* fuzz/fuzz_jwt.c — the JWT validator on hostile tokens (spec 60 §3.3): any bytes get a verdict
 * without crashing, leaking or reading past them; a verdict is valid only with a signature made by one
 * of the configured keys, so random input is never valid; and a valid-looking prefix is judged the
 * same by a static and a heap validator. Keys: an HMAC secret, a P-256 point and an Ed25519 key. */
#include "fuzz/fuzz_check.h"
#include "mosaik/tickets.h"
#include "tickets/b64url.h"

#include <stdlib.h>
#include <string.h>

static mk_jwt_config_t cfg = {
    .keys = {MK_JWT_KEY_HEX(MK_JWT_HS256, "45b8e745d5e0acbac2c3803b7ddbcb2953601411f92e39519a2ef7aef16d09e6"),
             MK_JWT_KEY_HEX(MK_JWT_ES256, "039c7632acb649494b71a3891649dc322ad379bd2ad4df378dee6226f1b325b850"),
             MK_JWT_KEY_HEX(MK_JWT_EDDSA, "c5518d16cd79d7a4babcdd960e7f7fd424003a3ebc889202d23d58edcb3ff649")},
    .allow_non_expiring = true,
    .subject = "fuzz",
};
static const mk_ticket_validator_t *heap;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!heap) heap = mk_jwt_validator_new(&cfg, NULL);
    CHECK(heap != NULL);
    /* an exact-size copy, so any read past the end is caught */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    if (size) memcpy(copy, data, size);
    mk_ticket_peer_t peer = {.peer_id = mk_id_from_str("fuzz-peer"), .network_id = mk_id_from_str("fuzz")};
    mk_ticket_verdict_t a, b;
    mk_ticket_validate(heap, copy, size, &peer, 1893456000000LL, &a);
    CHECK(!a.valid);  /* forging a signature by chance does not happen */
    CHECK(a.reason != MK_TICKET_OK && a.reason <= MK_TICKET_INTERNAL);
    CHECK(memchr(a.detail, 0, sizeof a.detail) != NULL);
    mk_ticket_validator_t sv = MK_JWT_VALIDATOR(&cfg);
    if (size < 512) {  /* the static path prepares per call: keep it to short inputs */
        mk_ticket_validate(&sv, copy, size, &peer, 1893456000000LL, &b);
        CHECK(b.valid == a.valid && b.reason == a.reason);
    }
    /* strict base64url: whatever decodes re-encodes to the same text */
    uint8_t *raw = malloc(size + 4);
    size_t n = 0;
    if (raw && mk_b64url_decode((const char *)copy, size, raw, &n)) {
        mk_buf_t enc = MK_BUF_INIT;
        CHECK(mk_b64url_encode(raw, n, &enc) == MK_OK);
        CHECK(enc.len == size && memcmp(enc.ptr, copy, size) == 0);
        mk_buf_free(&enc);
    }
    free(raw);
    free(copy);
    return 0;
}
