/* discovery/departure.c — the signed departure record of spec 20 §3.5: encoding, signing, checking. */
#include "discovery/entry.h"

#include "core/codec.h"
#include "core/error.h"

#include <string.h>

static void put_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

/* "mosaik/departure/1" ‖ BLAKE3(network ‖ peer ‖ be64 start ‖ be64 update ‖ be64 at) */
static void message(const mk_departure_t *d, const mk_network_id_t *network, uint8_t out[18 + 32]) {
    uint8_t buf[32 + 32 + 24];
    memcpy(buf, network->b, 32);
    memcpy(buf + 32, d->peer.b, 32);
    put_be64(buf + 64, d->version.start_ms);
    put_be64(buf + 72, d->version.update_ms);
    put_be64(buf + 80, d->at_ms);
    memcpy(out, MK_DEPARTURE_SIG_DOMAIN, sizeof MK_DEPARTURE_SIG_DOMAIN - 1);
    mk_id_t h = mk_id_hash(buf, sizeof buf);
    memcpy(out + sizeof MK_DEPARTURE_SIG_DOMAIN - 1, h.b, 32);
}

_Static_assert(sizeof MK_DEPARTURE_SIG_DOMAIN - 1 == 18, "departure domain length");

void mk_departure_sign(mk_departure_t *d, const mk_network_id_t *network, const mk_secret_key_t *sk) {
    uint8_t msg[18 + 32];
    message(d, network, msg);
    mk_ed25519_sign(sk, msg, sizeof msg, d->sig);
}

bool mk_departure_verify(const mk_departure_t *d, const mk_network_id_t *network) {
    uint8_t msg[18 + 32];
    message(d, network, msg);
    return mk_ed25519_verify(&d->peer, msg, sizeof msg, d->sig) == MK_OK;
}

int mk_departure_encode(const mk_departure_t *d, mk_buf_t *out) {
    mk_enc_t enc;
    mk_enc_init(&enc, 0);
    mk_enc_id(&enc, &d->peer);
    mk_enc_u64(&enc, d->version.start_ms);
    mk_enc_u64(&enc, d->version.update_ms);
    mk_enc_u64(&enc, d->at_ms);
    mk_enc_raw(&enc, d->sig, 64);
    mk_buf_t b = MK_BUF_INIT;
    int rc = mk_enc_finish(&enc, &b);
    if (rc != MK_OK) return rc;
    rc = mk_buf_append(out, b.ptr, b.len);
    mk_buf_free(&b);
    return rc;
}

int mk_departure_decode(const void *p, size_t len, mk_departure_t *out, mk_error_t *e) {
    mk_dec_t d;
    mk_dec_init(&d, p, len);
    mk_dec_id(&d, &out->peer);
    out->version.start_ms = mk_dec_u64(&d);
    out->version.update_ms = mk_dec_u64(&d);
    out->at_ms = mk_dec_u64(&d);
    mk_dec_raw(&d, out->sig, 64);
    return mk_dec_finish_err(&d, e, "departure");
}
