/* groups/sync_wire.h — the sans-I/O codec of the state-sync messages carried in BondMessage::StateSync
 * (spec 40 §8.3) and of the snapshot header (§8.2), plus the provider-side helper that encodes a
 * FetchEntriesResponse straight from a log store, cut at entry boundaries to fit a byte limit.
 *
 * Wire: tag:varint, then the fields in the order listed with each message below; ids are 32 raw bytes,
 * integers varints, cursors (term, index) varint pairs, byte strings varint length ‖ bytes. Decoders are
 * strict (canonical varints, no trailing bytes, counts capped and checked against the bytes left before
 * anything is allocated, semantic checks named per field) and fail with MK_EPROTO naming the message,
 * field and offset; encoders refuse (MK_EINVAL) what the decoders would refuse, so every encoded message
 * decodes to the same value and re-encodes to the same bytes. Decoded byte fields (entry bodies, items,
 * the SnapshotReady header, the session table) are views into the input, which must outlive the decoded
 * value. Pure; any thread. */
#ifndef MK_GROUPS_SYNC_WIRE_H
#define MK_GROUPS_SYNC_WIRE_H

#include "groups/raft_wire.h"
#include "mosaik/core.h"
#include "mosaik/groups.h"
#include "mosaik/id.h"

#include <stdbool.h>

/* Hard caps, checked against the decoded count before allocating. Providers cut their responses to
 * them (and to their byte limit); a session never asks for more than MK_GSYNC_MAX_ENTRIES at once. */
#define MK_GSYNC_MAX_ENTRIES 4096u  /* entries per FetchEntriesResponse */
#define MK_GSYNC_MAX_ITEMS 16384u   /* items per FetchDataResponse */

typedef enum {
    MK_GSYNC_AVAIL_REQ = 0,        /* AvailabilityRequest{sid} */
    MK_GSYNC_AVAIL_RESP = 1,       /* AvailabilityResponse{sid, first, last} */
    MK_GSYNC_FETCH_REQ = 2,        /* FetchEntriesRequest{sid, first, last} */
    MK_GSYNC_FETCH_RESP = 3,       /* FetchEntriesResponse{sid, first, prev_term, entries} */
    MK_GSYNC_REQ_SNAPSHOT = 4,     /* RequestSnapshot{req_id} */
    MK_GSYNC_SNAPSHOT_READY = 5,   /* SnapshotReady{req_id, anchor, item_count, header} */
    MK_GSYNC_FETCH_DATA_REQ = 6,   /* FetchDataRequest{anchor, from, to} */
    MK_GSYNC_FETCH_DATA_RESP = 7,  /* FetchDataResponse{anchor, from, items, gone} */
} mk_gsync_msg_kind_t;
#define MK_GSYNC_MSG_KINDS 8u

/* One sync message. Rules (the decoder enforces them, the encoder checks them first):
 * - AvailabilityResponse: 1 ≤ first ≤ last + 1 (first = last + 1: nothing to offer).
 * - FetchEntriesRequest: 1 ≤ first ≤ last.
 * - FetchEntriesResponse: first ≥ 1; ≤ MK_GSYNC_MAX_ENTRIES entries, each {term, kind:u8, body:bytes} as in
 *   AppendEntries, entry i at index first + i (no overflow); kinds ≤ 3 with bodies that decode as that
 *   kind (groups/raft_wire.h); terms ≥ 1, ≥ prev_term and never decreasing; prev_term (the term at
 *   first − 1) is 0 exactly when first is 1. No entries = gone (the provider no longer holds first), and
 *   then prev_term is 0.
 * - SnapshotReady / FetchDataRequest / FetchDataResponse: anchor index ≥ 1 and term ≥ 1. SnapshotReady's
 *   header decodes as a snapshot header (below) whose config_index ≤ anchor.index.
 * - FetchDataRequest: items [from, to), from < to.
 * - FetchDataResponse: items [from, from + nitems) (no overflow), ≤ MK_GSYNC_MAX_ITEMS; either gone with no
 *   items or not gone with at least one (items may be empty byte strings).
 * Decoded `entries` / `items` arrays are allocated by the decoder (NULL when empty) and released by
 * mk_gsync_msg_free; decoded entries get index = first + i, and the encoder requires the same. */
typedef struct mk_gsync_msg {
    mk_gsync_msg_kind_t kind;
    union {
        struct { uint64_t sid; } avail_req;
        struct { uint64_t sid; mk_index_t first, last; } avail_resp;
        struct { uint64_t sid; mk_index_t first, last; } fetch_req;
        struct {
            uint64_t sid;
            mk_index_t first;
            mk_term_t prev_term;
            const mk_log_entry_t *entries;
            size_t nentries;
        } fetch_resp;
        struct { uint64_t req_id; } req_snapshot;
        struct { uint64_t req_id; mk_cursor_t anchor; uint64_t item_count; mk_bytes_t header; } snapshot_ready;
        struct { mk_cursor_t anchor; uint64_t from, to; } fetch_data_req;
        struct {
            mk_cursor_t anchor;
            uint64_t from;
            const mk_bytes_t *items;
            size_t nitems;
            bool gone;
        } fetch_data_resp;
    };
} mk_gsync_msg_t;

/* Appends the encoding of m (the bytes inside BondMessage::StateSync) to out: MK_OK, MK_EINVAL (m breaks a
 * rule above; e names the message and field; out unchanged) or MK_ENOMEM (out unchanged). */
int mk_gsync_msg_encode(const mk_gsync_msg_t *m, mk_buf_t *out, mk_error_t *e);
/* Decodes exactly n bytes at p into out: MK_OK (release with mk_gsync_msg_free), MK_EPROTO with e naming
 * the message, field and offset, or MK_ENOMEM; on failure out is zeroed, nothing to free. Close code on
 * MK_EPROTO: 400 ProtocolViolation. */
int mk_gsync_msg_decode(const void *p, size_t n, mk_gsync_msg_t *out, mk_error_t *e);
/* Frees the arrays a decode allocated and zeroes m; idempotent. Never call it on a message whose arrays
 * the caller owns (encoder input). */
void mk_gsync_msg_free(mk_gsync_msg_t *m);
/* "AvailabilityRequest", …, "FetchDataResponse"; "?" for an unknown kind. Static text. */
const char *mk_gsync_msg_kind_name(mk_gsync_msg_kind_t kind);

/* ---- snapshot header (spec 40 §8.2) ------------------------------------------------------------------ */

/* What a snapshot carries besides the machine's items: the configuration and origin at the anchor, the
 * has_commands flag and the exactly-once session table (opaque here; the runtime owns its format).
 * Wire: origin:32 config_index:varint (≥ 1) voters:vec<(peer:32, incarnation:varint)> (1 … 32, strictly
 * ascending by PeerId) has_commands:bool sessions:bytes. */
typedef struct mk_gsync_snap_header {
    mk_id_t origin;
    mk_index_t config_index;  /* index of the CONFIG entry in force at the anchor */
    size_t nvoters;
    mk_raft_voter_t voters[MK_RAFT_MAX_VOTERS];
    bool has_commands;
    mk_bytes_t sessions;      /* view (decoded) / borrowed (encoded) */
} mk_gsync_snap_header_t;

/* Appends the encoded header to out: MK_OK, MK_EINVAL (config_index 0, voters none / too many / unsorted
 * / duplicated, sessions NULL with a length; e names the field; out unchanged) or MK_ENOMEM. */
int mk_gsync_snap_header_encode(const mk_gsync_snap_header_t *h, mk_buf_t *out, mk_error_t *e);
/* Decodes exactly n bytes into out (NULL: only validate): MK_OK or MK_EPROTO with e naming the field and
 * offset (out zeroed). The sessions view points into p. */
int mk_gsync_snap_header_decode(const void *p, size_t n, mk_gsync_snap_header_t *out, mk_error_t *e);

/* ---- provider helper --------------------------------------------------------------------------------- */

/* Appends to out a FetchEntriesResponse{sid, first, prev_term, entries} holding the longest prefix of the
 * stored entries [first, last] (at most MK_GSYNC_MAX_ENTRIES) whose whole encoded message fits max_bytes —
 * cut at entry boundaries, but always at least one entry. The caller clamps `last` to what it may serve
 * (its commit index). When the store no longer holds first (or its predecessor's term, or last), the
 * response is the empty "gone" one. *nentries (may be NULL) receives the count put in. MK_OK, MK_EINVAL
 * (first 0 or first > last, or the store returned entries the codec refuses; out unchanged), MK_ENOMEM, or
 * another store error passed through. Reads the store only; no other side effect. */
int mk_gsync_fetch_resp_from_store(mk_log_store_t *store, uint64_t sid, mk_index_t first, mk_index_t last,
                                   size_t max_bytes, mk_buf_t *out, size_t *nentries, mk_error_t *e);

#endif
