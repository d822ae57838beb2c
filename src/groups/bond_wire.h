/* groups/bond_wire.h — the sans-I/O part of bonds (spec 40 §2.2, §2.3): the HandshakeStart /
 * HandshakeEnd codec, the BondMessage codec and the mutual-proof maths.
 *
 * Signed peer entries (handshake bond lists, PeerEntryUpdate, BondFormed) are kept as byte VIEWS of
 * the SignedEntry wire form (body bytes with their varint length ‖ 64-byte signature, as in discovery's
 * messages). The decoders check only their extent (well-formed, ≤ MK_ENTRY_MAX_BYTES); the runtime
 * then applies discovery's §1.4 checks in order (mk_entry_decode_signed, network, mk_entry_verify)
 * before using an entry. Decoding therefore never allocates: views point into the input, which must
 * outlive the decoded value. Decoders are strict (canonical varints, no trailing bytes, counts capped
 * before use) and fail with MK_EPROTO naming the field and offset; encoders refuse (MK_EINVAL) what the
 * decoders would refuse, so every encoded message decodes to the same value.
 *
 * Proofs: the TLS exporter value E (RFC 8446 §7.5, label MK_BOND_EXPORTER_LABEL, context = the 32
 * GroupId bytes, 32 bytes long) is an input, obtained by the transport. Pure; any thread. */
#ifndef MK_GROUPS_BOND_WIRE_H
#define MK_GROUPS_BOND_WIRE_H

#include "mosaik/core.h"
#include "mosaik/groups.h"
#include "mosaik/id.h"

#include <stdbool.h>

#define MK_BOND_MAX_BONDS 256u /* entries per handshake bond list */
#define MK_BOND_EXPORTER_LABEL "EXPORTER-mosaik-groups-1"
#define MK_BOND_EXPORTER_LEN 32u
#define MK_BOND_PROOF_LEN 32u
#define MK_BOND_PROOF_LABEL_DIALER "mosaik/groups/1 proof from dialer"
#define MK_BOND_PROOF_LABEL_ACCEPTOR "mosaik/groups/1 proof from acceptor"
#define MK_BOND_ID_LABEL "libmosaik/groups/bond-id"

/* ---- handshake (spec 40 §2.2): no tag, each is the first frame of its side ---------------------- */

/* HandshakeStart (dialer): network_id:32 group_id:32 incarnation:varint u64 proof:32 bonds:vec.
 * HandshakeEnd (acceptor): incarnation:varint u64 proof:32 bonds:vec.
 * bonds: varint count ≤ MK_BOND_MAX_BONDS, then that many SignedEntries back to back. */
typedef struct mk_bond_handshake {
    mk_network_id_t network_id; /* Start only */
    mk_group_id_t group_id;     /* Start only */
    uint64_t incarnation;
    uint8_t proof[MK_BOND_PROOF_LEN];
    size_t nbonds;
    mk_bytes_t bonds[MK_BOND_MAX_BONDS]; /* SignedEntry views (see above) */
} mk_bond_handshake_t;

/* Appends the encoded HandshakeStart / HandshakeEnd of h to out: MK_OK, MK_EINVAL (more than
 * MK_BOND_MAX_BONDS bonds or a bond that is not exactly one SignedEntry of ≤ MK_ENTRY_MAX_BYTES; e
 * names it; out unchanged) or MK_ENOMEM. A signed mk_peer_entry_t's view is {entry->wire, entry->wire_len}. */
int mk_bond_hs_start_encode(const mk_bond_handshake_t *h, mk_buf_t *out, mk_error_t *e);
int mk_bond_hs_end_encode(const mk_bond_handshake_t *h, mk_buf_t *out, mk_error_t *e);
/* Decodes exactly n bytes into out (zeroed first; the End decoder leaves network_id / group_id zero):
 * MK_OK, or MK_EPROTO with e naming the field and offset (out zeroed again). Close code on failure:
 * 30_400 InvalidHandshake. */
int mk_bond_hs_start_decode(const void *p, size_t n, mk_bond_handshake_t *out, mk_error_t *e);
int mk_bond_hs_end_decode(const void *p, size_t n, mk_bond_handshake_t *out, mk_error_t *e);

/* ---- bond messages (spec 40 §2.3) ---------------------------------------------------------------- */

typedef enum {
    MK_BOND_PING = 0,
    MK_BOND_PONG = 1,
    MK_BOND_DEPARTURE = 2,
    MK_BOND_PEER_ENTRY_UPDATE = 3, /* entry */
    MK_BOND_BOND_FORMED = 4,       /* entry */
    MK_BOND_BOND_CLOSED = 5,       /* peer */
    MK_BOND_RAFT = 6,              /* payload: one Raft message (groups/raft_wire.h) */
    MK_BOND_STATE_SYNC = 7,        /* payload: one sync message (spec 40 §8.3) */
} mk_bond_msg_kind_t;
#define MK_BOND_MSG_KINDS 8u

/* Wire: tag:varint, then PeerEntryUpdate / BondFormed: one SignedEntry; BondClosed: peer:32; Raft /
 * StateSync: payload as varint length ‖ bytes, non-empty (no Raft or sync message is empty). */
typedef struct mk_bond_msg {
    mk_bond_msg_kind_t kind;
    mk_bytes_t entry;   /* PEER_ENTRY_UPDATE, BOND_FORMED: SignedEntry view */
    mk_peer_id_t peer;  /* BOND_CLOSED */
    mk_bytes_t payload; /* RAFT, STATE_SYNC: view */
} mk_bond_msg_t;

/* Appends the encoded message to out: MK_OK, MK_EINVAL (kind ≥ 8, bad entry, empty payload; e names
 * it; out unchanged) or MK_ENOMEM. */
int mk_bond_msg_encode(const mk_bond_msg_t *m, mk_buf_t *out, mk_error_t *e);
/* Decodes exactly n bytes: MK_OK, or MK_EPROTO (unknown tag, bad field, trailing bytes; e names it; out
 * zeroed). Close code on failure: 400 ProtocolViolation. */
int mk_bond_msg_decode(const void *p, size_t n, mk_bond_msg_t *out, mk_error_t *e);

/* ---- proofs (spec 40 §2.2) ----------------------------------------------------------------------- */

typedef enum { MK_BOND_DIALER = 0, MK_BOND_ACCEPTOR = 1 } mk_bond_side_t;

/* proof = BLAKE3_keyed(K, label(side) ‖ group_id ‖ E ‖ D ‖ A), label without a terminator:
 * MK_BOND_PROOF_LABEL_DIALER or _ACCEPTOR. The two labels stop a reflected proof. */
void mk_bond_proof(const mk_group_key_t *key, mk_bond_side_t side, const mk_group_id_t *group_id,
                   const uint8_t exporter[MK_BOND_EXPORTER_LEN], const mk_peer_id_t *dialer,
                   const mk_peer_id_t *acceptor, uint8_t out[MK_BOND_PROOF_LEN]);
/* Recomputes the proof of `side` and compares it with `proof` in constant time. */
bool mk_bond_proof_verify(const mk_group_key_t *key, mk_bond_side_t side, const mk_group_id_t *group_id,
                          const uint8_t exporter[MK_BOND_EXPORTER_LEN], const mk_peer_id_t *dialer,
                          const mk_peer_id_t *acceptor, const uint8_t proof[MK_BOND_PROOF_LEN]);
/* Constant-time equality of two proofs (time independent of where they differ). */
bool mk_bond_proof_eq(const uint8_t a[MK_BOND_PROOF_LEN], const uint8_t b[MK_BOND_PROOF_LEN]);
/* bond_id = BLAKE3("libmosaik/groups/bond-id" ‖ E): equal on both ends of the link. */
mk_id_t mk_bond_id(const uint8_t exporter[MK_BOND_EXPORTER_LEN]);

#endif
