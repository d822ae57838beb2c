/* groups/bond_wire.c — handshake and bond message codec, bond proofs (see bond_wire.h). */
#include "groups/bond_wire.h"

#include "core/blake3.h"
#include "core/codec.h"
#include "core/error.h"
#include "mosaik/discovery.h"

#include <openssl/crypto.h>
#include <string.h>

#define SIG_LEN 64u
#define SIGNED_ENTRY_MIN 66u /* 1-byte length + ≥ 1 body byte + 64-byte signature */

/* ---- signed entry views ---- */

/* Reads one SignedEntry (body bytes ‖ 64-byte signature) as a view; `field` names it in errors. */
static mk_bytes_t read_entry(mk_dec_t *d, const char *field, size_t i) {
    const uint8_t *start = d->p;
    mk_bytes_t body = mk_dec_bytes(d);
    if (mk_dec_ok(d) && body.len == 0) mk_dec_fail(d, "%s[%zu]: empty entry body", field, i);
    mk_dec_raw_view(d, SIG_LEN);
    if (!mk_dec_ok(d)) return (mk_bytes_t){NULL, 0};
    size_t len = (size_t)(d->p - start);
    if (len > MK_ENTRY_MAX_BYTES) {
        mk_dec_fail(d, "%s[%zu]: signed entry of %zu bytes over %d", field, i, len, MK_ENTRY_MAX_BYTES);
        return (mk_bytes_t){NULL, 0};
    }
    return (mk_bytes_t){start, len};
}

/* True when v is exactly one well-formed SignedEntry view (what read_entry accepts). */
static bool entry_ok(mk_bytes_t v) {
    if (!v.ptr || v.len < SIGNED_ENTRY_MIN) return false;
    mk_dec_t d;
    mk_dec_init(&d, v.ptr, v.len);
    read_entry(&d, "entry", 0);
    return mk_dec_finish(&d) == MK_OK;
}

static int finish(mk_enc_t *enc, mk_buf_t *out) {
    mk_buf_t tmp = MK_BUF_INIT;
    int rc = mk_enc_finish(enc, &tmp);
    if (rc == MK_OK) rc = mk_buf_append(out, tmp.ptr, tmp.len);
    mk_buf_free(&tmp);
    return rc == MK_OK ? MK_OK : MK_ENOMEM;
}

/* ---- handshake ---- */

static int hs_encode(const mk_bond_handshake_t *h, bool start, mk_buf_t *out, mk_error_t *e) {
    const char *name = start ? "HandshakeStart" : "HandshakeEnd";
    if (h->nbonds > MK_BOND_MAX_BONDS)
        return MK_ERR(e, MK_EINVAL, "%s: bonds: %zu entries over %u", name, h->nbonds, MK_BOND_MAX_BONDS);
    for (size_t i = 0; i < h->nbonds; i++)
        if (!entry_ok(h->bonds[i]))
            return MK_ERR(e, MK_EINVAL, "%s: bonds[%zu] is not one SignedEntry of ≤ %d bytes", name, i,
                          MK_ENTRY_MAX_BYTES);
    mk_enc_t enc;
    mk_enc_init(&enc, 0);
    if (start) {
        mk_enc_id(&enc, &h->network_id);
        mk_enc_id(&enc, &h->group_id);
    }
    mk_enc_u64(&enc, h->incarnation);
    mk_enc_raw(&enc, h->proof, MK_BOND_PROOF_LEN);
    mk_enc_count(&enc, h->nbonds);
    for (size_t i = 0; i < h->nbonds; i++) mk_enc_raw(&enc, h->bonds[i].ptr, h->bonds[i].len);
    return finish(&enc, out);
}

int mk_bond_hs_start_encode(const mk_bond_handshake_t *h, mk_buf_t *out, mk_error_t *e) {
    return hs_encode(h, true, out, e);
}

int mk_bond_hs_end_encode(const mk_bond_handshake_t *h, mk_buf_t *out, mk_error_t *e) {
    return hs_encode(h, false, out, e);
}

static int hs_decode(const void *p, size_t n, bool start, mk_bond_handshake_t *out, mk_error_t *e) {
    memset(out, 0, sizeof *out);
    mk_dec_t d;
    mk_dec_init(&d, p, n);
    if (start) {
        mk_dec_id(&d, &out->network_id);
        mk_dec_id(&d, &out->group_id);
    }
    out->incarnation = mk_dec_u64(&d);
    mk_dec_raw(&d, out->proof, MK_BOND_PROOF_LEN);
    uint64_t count = mk_dec_uvar(&d, 32);
    if (mk_dec_ok(&d) && count > MK_BOND_MAX_BONDS)
        mk_dec_fail(&d, "bonds: %llu entries over %u", (unsigned long long)count, MK_BOND_MAX_BONDS);
    if (mk_dec_ok(&d) && count * SIGNED_ENTRY_MIN > mk_dec_remaining(&d))
        mk_dec_fail(&d, "bonds: %llu entries in %zu bytes", (unsigned long long)count, mk_dec_remaining(&d));
    for (size_t i = 0; mk_dec_ok(&d) && i < count; i++) out->bonds[i] = read_entry(&d, "bonds", i);
    if (mk_dec_ok(&d)) out->nbonds = (size_t)count;
    int rc = mk_dec_finish_err(&d, e, start ? "HandshakeStart" : "HandshakeEnd");
    if (rc != MK_OK) memset(out, 0, sizeof *out);
    return rc;
}

int mk_bond_hs_start_decode(const void *p, size_t n, mk_bond_handshake_t *out, mk_error_t *e) {
    return hs_decode(p, n, true, out, e);
}

int mk_bond_hs_end_decode(const void *p, size_t n, mk_bond_handshake_t *out, mk_error_t *e) {
    return hs_decode(p, n, false, out, e);
}

/* ---- bond messages ---- */

static const char *const KIND_NAMES[MK_BOND_MSG_KINDS] = {
    "Ping", "Pong", "Departure", "PeerEntryUpdate", "BondFormed", "BondClosed", "Raft", "StateSync",
};

int mk_bond_msg_encode(const mk_bond_msg_t *m, mk_buf_t *out, mk_error_t *e) {
    if ((unsigned)m->kind >= MK_BOND_MSG_KINDS)
        return MK_ERR(e, MK_EINVAL, "BondMessage: kind %u out of range", (unsigned)m->kind);
    const char *name = KIND_NAMES[m->kind];
    switch (m->kind) {
    case MK_BOND_PEER_ENTRY_UPDATE:
    case MK_BOND_BOND_FORMED:
        if (!entry_ok(m->entry))
            return MK_ERR(e, MK_EINVAL, "BondMessage %s: entry is not one SignedEntry of ≤ %d bytes", name,
                          MK_ENTRY_MAX_BYTES);
        break;
    case MK_BOND_RAFT:
    case MK_BOND_STATE_SYNC:
        if (m->payload.len == 0 || !m->payload.ptr)
            return MK_ERR(e, MK_EINVAL, "BondMessage %s: payload is empty", name);
        break;
    default: break;
    }
    mk_enc_t enc;
    mk_enc_init(&enc, 0);
    mk_enc_tag(&enc, (uint32_t)m->kind);
    switch (m->kind) {
    case MK_BOND_PEER_ENTRY_UPDATE:
    case MK_BOND_BOND_FORMED: mk_enc_raw(&enc, m->entry.ptr, m->entry.len); break;
    case MK_BOND_BOND_CLOSED: mk_enc_id(&enc, &m->peer); break;
    case MK_BOND_RAFT:
    case MK_BOND_STATE_SYNC: mk_enc_bytes(&enc, m->payload.ptr, m->payload.len); break;
    default: break;
    }
    return finish(&enc, out);
}

int mk_bond_msg_decode(const void *p, size_t n, mk_bond_msg_t *out, mk_error_t *e) {
    memset(out, 0, sizeof *out);
    mk_dec_t d;
    mk_dec_init(&d, p, n);
    uint32_t tag = mk_dec_tag(&d, MK_BOND_MSG_KINDS);
    if (mk_dec_ok(&d)) {
        out->kind = (mk_bond_msg_kind_t)tag;
        switch (out->kind) {
        case MK_BOND_PEER_ENTRY_UPDATE:
        case MK_BOND_BOND_FORMED: out->entry = read_entry(&d, KIND_NAMES[tag], 0); break;
        case MK_BOND_BOND_CLOSED: mk_dec_id(&d, &out->peer); break;
        case MK_BOND_RAFT:
        case MK_BOND_STATE_SYNC: {
            out->payload = mk_dec_bytes(&d);
            if (mk_dec_ok(&d) && out->payload.len == 0) mk_dec_fail(&d, "%s: empty payload", KIND_NAMES[tag]);
            break;
        }
        default: break;
        }
    }
    int rc = mk_dec_finish_err(&d, e, "BondMessage");
    if (rc != MK_OK) memset(out, 0, sizeof *out);
    return rc;
}

/* ---- proofs ---- */

void mk_bond_proof(const mk_group_key_t *key, mk_bond_side_t side, const mk_group_id_t *group_id,
                   const uint8_t exporter[MK_BOND_EXPORTER_LEN], const mk_peer_id_t *dialer,
                   const mk_peer_id_t *acceptor, uint8_t out[MK_BOND_PROOF_LEN]) {
    const char *label = side == MK_BOND_DIALER ? MK_BOND_PROOF_LABEL_DIALER : MK_BOND_PROOF_LABEL_ACCEPTOR;
    mk_blake3_t h;
    mk_blake3_init_keyed(&h, key->secret.b);
    mk_blake3_update(&h, label, strlen(label));
    mk_blake3_update(&h, group_id->b, sizeof group_id->b);
    mk_blake3_update(&h, exporter, MK_BOND_EXPORTER_LEN);
    mk_blake3_update(&h, dialer->b, sizeof dialer->b);
    mk_blake3_update(&h, acceptor->b, sizeof acceptor->b);
    mk_blake3_finalize(&h, out);
    OPENSSL_cleanse(&h, sizeof h); /* the hasher holds the key */
}

bool mk_bond_proof_eq(const uint8_t a[MK_BOND_PROOF_LEN], const uint8_t b[MK_BOND_PROOF_LEN]) {
    return CRYPTO_memcmp(a, b, MK_BOND_PROOF_LEN) == 0;
}

bool mk_bond_proof_verify(const mk_group_key_t *key, mk_bond_side_t side, const mk_group_id_t *group_id,
                          const uint8_t exporter[MK_BOND_EXPORTER_LEN], const mk_peer_id_t *dialer,
                          const mk_peer_id_t *acceptor, const uint8_t proof[MK_BOND_PROOF_LEN]) {
    uint8_t expect[MK_BOND_PROOF_LEN];
    mk_bond_proof(key, side, group_id, exporter, dialer, acceptor, expect);
    bool ok = mk_bond_proof_eq(expect, proof);
    OPENSSL_cleanse(expect, sizeof expect);
    return ok;
}

mk_id_t mk_bond_id(const uint8_t exporter[MK_BOND_EXPORTER_LEN]) {
    uint8_t buf[sizeof MK_BOND_ID_LABEL - 1 + MK_BOND_EXPORTER_LEN];
    memcpy(buf, MK_BOND_ID_LABEL, sizeof MK_BOND_ID_LABEL - 1);
    memcpy(buf + sizeof MK_BOND_ID_LABEL - 1, exporter, MK_BOND_EXPORTER_LEN);
    return mk_id_hash(buf, sizeof buf);
}
