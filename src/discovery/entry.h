/* discovery/entry.h — peer entries inside the library: the immutable refcounted entry (public type
 * mk_peer_entry_t), the canonical EntryBody/SignedEntry codec of spec 20 §1.2, signatures, the
 * departure record of §3.5, and drafts (mutable copies used to build and re-sign the local entry).
 * Sans-I/O and pure: no clocks are read here; every function is thread-safe on distinct objects. */
#ifndef MK_DISCOVERY_ENTRY_H
#define MK_DISCOVERY_ENTRY_H

#include "mosaik/discovery.h"

#include <stdatomic.h>

#define MK_ENTRY_FORMAT 1
#define MK_ENTRY_SIG_DOMAIN "mosaik/peer-entry/1"
#define MK_DEPARTURE_SIG_DOMAIN "mosaik/departure/1"
#define MK_AGENT_STRING "libmosaik/" MK_VERSION_STRING

typedef struct mk_entry_ext {
    uint64_t key;
    const uint8_t *value;  /* points into the entry's own storage */
    size_t len;
} mk_entry_ext_t;

struct mk_peer_entry {
    _Atomic uint32_t refs;
    _Atomic uint8_t sig_state;         /* signature check cache: 0 unknown, 1 valid, 2 invalid */
    bool is_signed;
    mk_network_id_t network;
    mk_peer_id_t peer;
    mk_entry_version_t version;
    char agent[MK_ENTRY_MAX_AGENT + 1];
    size_t n_addrs, n_tags, n_streams, n_groups, n_tickets, n_ext;
    mk_sock_addr_t *addrs;
    mk_id_t *tags, *streams, *groups;  /* ascending (memcmp) */
    mk_ticket_t *tickets;              /* ascending by ticket id; data points into own storage */
    mk_id_t *ticket_ids;               /* ticket_ids[i] = mk_ticket_id(&tickets[i]) */
    mk_entry_ext_t *ext;               /* keys ascending */
    mk_id_t content_id;                /* BLAKE3 of the body without start/update: equal ⇔ same content */
    /* Signed entries: the SignedEntry bytes exactly as received or produced (stored and forwarded
     * unchanged); body = wire[body_off .. body_off + body_len), signature = the last 64 bytes. */
    uint8_t *wire;
    size_t wire_len, body_off, body_len;
};

/* ---- decoding and checks ---- */

/* Decodes a SignedEntry (check 1 of §1.4: size ≤ MK_ENTRY_MAX_BYTES, canonical form, limits, no
 * trailing bytes). Does NOT check the network or the signature: callers apply §1.4 in order.
 * MK_OK + *out (new reference, is_signed = true); else MK_EPROTO (*why = MK_REJ_MALFORMED) or MK_E2BIG
 * (*why = MK_REJ_TOO_BIG) with e naming the field and offset. */
int mk_entry_decode_signed(const void *p, size_t len, const mk_peer_entry_t **out, mk_entry_reject_t *why,
                           mk_error_t *e);
/* Check 8: the Ed25519 signature over "mosaik/peer-entry/1" ‖ BLAKE3(body) with the entry's peer as
 * key. False for unsigned entries. The result is cached in the (immutable) entry: an entry shared by
 * several holders is verified once. */
bool mk_entry_verify(const mk_peer_entry_t *e);
/* Builds an entry around `wire`, which it takes over (freed on failure too): a SignedEntry when
 * signed_form, else a bare EntryBody (an unsigned entry). Same results as mk_entry_decode_signed. */
int mk_entry_from_wire(uint8_t *wire, size_t len, bool signed_form, const mk_peer_entry_t **out,
                       mk_entry_reject_t *why, mk_error_t *err);
/* The entry signature of an EntryBody. */
int mk_entry_sign_body(const uint8_t *body, size_t len, const mk_secret_key_t *sk, uint8_t sig[64]);
/* True when a and b carry the same content apart from the version. */
bool mk_entry_same_content(const mk_peer_entry_t *a, const mk_peer_entry_t *b);

/* ---- drafts: build, change and seal entries ---- */

typedef struct mk_entry_draft {
    mk_network_id_t network;
    mk_peer_id_t peer;
    mk_entry_version_t version;
    char agent[MK_ENTRY_MAX_AGENT + 1];
    size_t n_addrs, n_tags, n_streams, n_groups, n_tickets, n_ext;
    mk_sock_addr_t addrs[MK_ENTRY_MAX_ADDRS];
    mk_id_t tags[MK_ENTRY_MAX_TAGS];          /* kept ascending by the add/remove calls */
    mk_id_t streams[MK_ENTRY_MAX_STREAMS];
    mk_id_t groups[MK_ENTRY_MAX_GROUPS];
    mk_ticket_t tickets[MK_ENTRY_MAX_TICKETS]; /* ascending by id; data owned (malloc) by the draft */
    mk_id_t ticket_ids[MK_ENTRY_MAX_TICKETS];
    mk_entry_ext_t ext[MK_ENTRY_MAX_EXT];      /* values owned by the draft */
} mk_entry_draft_t;

/* An empty draft for (network, peer), agent MK_AGENT_STRING, version zero. Allocates nothing. */
void mk_entry_draft_init(mk_entry_draft_t *d, const mk_network_id_t *network, const mk_peer_id_t *peer);
/* A draft holding a copy of e's content and version. MK_OK or MK_ENOMEM. */
int mk_entry_draft_from(mk_entry_draft_t *d, const mk_peer_entry_t *e);
/* Frees what the draft owns (ticket data, ext values); the draft may be re-initialised. */
void mk_entry_draft_free(mk_entry_draft_t *d);
/* Set members. add: MK_OK, MK_EALREADY (present: no change), MK_E2BIG (limit: no change).
 * remove: MK_OK or MK_ENOTFOUND. */
int mk_entry_draft_add_tag(mk_entry_draft_t *d, const mk_id_t *tag);
int mk_entry_draft_remove_tag(mk_entry_draft_t *d, const mk_id_t *tag);
int mk_entry_draft_add_stream(mk_entry_draft_t *d, const mk_id_t *id);
int mk_entry_draft_remove_stream(mk_entry_draft_t *d, const mk_id_t *id);
int mk_entry_draft_add_group(mk_entry_draft_t *d, const mk_id_t *id);
int mk_entry_draft_remove_group(mk_entry_draft_t *d, const mk_id_t *id);
/* Tickets (data copied; MK_E2BIG over MK_TICKET_MAX_BYTES or MK_ENTRY_MAX_TICKETS, MK_ENOMEM). */
int mk_entry_draft_add_ticket(mk_entry_draft_t *d, const mk_ticket_t *t);
int mk_entry_draft_remove_ticket(mk_entry_draft_t *d, const mk_id_t *ticket_id);
/* Removes every ticket of class cls; returns how many went (0 = no change). */
size_t mk_entry_draft_remove_tickets_of(mk_entry_draft_t *d, const mk_id_t *cls);
/* Replaces the addresses (owner's preference order kept; duplicates dropped). MK_E2BIG over 16. */
int mk_entry_draft_set_addrs(mk_entry_draft_t *d, const mk_sock_addr_t *addrs, size_t n);
/* Encodes the canonical body with d->version; with sk, signs it (sk must belong to d->peer) and builds
 * a signed entry, else an unsigned one (no wire bytes). MK_E2BIG when the SignedEntry would exceed
 * MK_ENTRY_MAX_BYTES. *out is a new reference. */
int mk_entry_draft_seal(const mk_entry_draft_t *d, const mk_secret_key_t *sk, const mk_peer_entry_t **out,
                        mk_error_t *e);

/* ---- departures (§3.5) ---- */

typedef struct mk_departure {
    mk_peer_id_t peer;
    mk_entry_version_t version;  /* the departing node's last version */
    uint64_t at_ms;              /* wall clock of the departure */
    uint8_t sig[64];
} mk_departure_t;

/* Signs a departure of sk's peer on `network`. */
void mk_departure_sign(mk_departure_t *d, const mk_network_id_t *network, const mk_secret_key_t *sk);
/* True when d->sig verifies for d->peer on `network`. */
bool mk_departure_verify(const mk_departure_t *d, const mk_network_id_t *network);
/* Wire form: peer:id32 start:varint update:varint at:varint sig:64 (appended to out; MK_ENOMEM). */
int mk_departure_encode(const mk_departure_t *d, mk_buf_t *out);
/* Decodes exactly len bytes: MK_OK or MK_EPROTO (e names the field). */
int mk_departure_decode(const void *p, size_t len, mk_departure_t *out, mk_error_t *e);

/* ---- addresses ---- */

/* mk_sock_addr_t ↔ struct sockaddr_storage (IPv4/IPv6 only): MK_OK or MK_EINVAL. */
int mk_sock_addr_from_sockaddr(const struct sockaddr_storage *ss, mk_sock_addr_t *out);
int mk_sock_addr_to_sockaddr(const mk_sock_addr_t *a, struct sockaddr_storage *out);

#endif
