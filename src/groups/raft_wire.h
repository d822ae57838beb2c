/* groups/raft_wire.h — the sans-I/O codec of the Raft log entry bodies (spec 40 §3.3) and of the Raft
 * messages carried in BondMessage::Raft (spec 40 §3.10): the {origin?, body} envelope, the 13 message
 * bodies and the {term, kind, body} entries inside AppendEntries. Decoders are strict (canonical
 * varints, no trailing bytes, counts capped before anything is allocated, semantic checks named per
 * field); encoders refuse (MK_EINVAL) what the decoders would refuse, so every encoded message
 * decodes. Decoded byte fields (entry bodies, command payloads, Forward commands) are views into the
 * input, which must outlive the decoded value. Pure; any thread. */
#ifndef MK_GROUPS_RAFT_WIRE_H
#define MK_GROUPS_RAFT_WIRE_H

#include "mosaik/core.h"
#include "mosaik/groups.h"
#include "mosaik/id.h"

#include <stdbool.h>

/* Hard caps, checked against the decoded count before allocating. The runtime must keep its batches
 * within them: max_append_entries ≤ MK_RAFT_MAX_ENTRIES, execute_many batches ≤ MK_RAFT_MAX_COMMANDS. */
#define MK_RAFT_MAX_ENTRIES 4096u   /* entries per AppendEntries */
#define MK_RAFT_MAX_COMMANDS 4096u  /* commands per Forward */
#define MK_RAFT_MAX_VOTERS 32u      /* voters per CONFIG (= the largest max_voters) */

/* ---- entry bodies (spec 40 §3.3); the kinds are MK_ENTRY_* of mosaik/groups.h ---------------------- */

typedef struct { mk_peer_id_t peer; uint64_t incarnation; } mk_raft_voter_t;

/* A decoded (or to-be-encoded) entry body. COMMAND payload is a view; CONFIG voters are strictly
 * ascending by PeerId (bytewise), 1 ≤ nvoters ≤ MK_RAFT_MAX_VOTERS; NOOP has no fields. */
typedef struct mk_raft_body {
    uint8_t kind; /* MK_ENTRY_COMMAND … MK_ENTRY_SNAPSHOT_MARKER */
    union {
        struct { uint64_t session, seq; mk_bytes_t payload; } command; /* session 0 = none */
        struct { mk_id_t origin; size_t nvoters; mk_raft_voter_t voters[MK_RAFT_MAX_VOTERS]; } config;
        struct { mk_peer_id_t requester; uint64_t req_id, requested_at_ms; } marker;
    };
} mk_raft_body_t;

/* Appends the body bytes of b (no kind, no length prefix) to out: MK_OK, MK_EINVAL (bad kind, voters
 * unsorted / duplicated / none / too many; e names the field; out unchanged) or MK_ENOMEM. */
int mk_raft_body_encode(const mk_raft_body_t *b, mk_buf_t *out, mk_error_t *e);
/* Decodes the body bytes [p, p + n) of an entry of `kind` into out (NULL: only validate): MK_OK, or
 * MK_EPROTO with e naming the field and offset (out zeroed). The payload view points into p. */
int mk_raft_body_decode(uint8_t kind, const void *p, size_t n, mk_raft_body_t *out, mk_error_t *e);

/* ---- messages (spec 40 §3.10) ------------------------------------------------------------------------ */

typedef enum {
    MK_RAFT_HELLO = 0,
    MK_RAFT_APPEND = 1,
    MK_RAFT_APPEND_RESP = 2,
    MK_RAFT_PRE_VOTE = 3,
    MK_RAFT_PRE_VOTE_RESP = 4,
    MK_RAFT_VOTE = 5,
    MK_RAFT_VOTE_RESP = 6,
    MK_RAFT_FORWARD = 7,
    MK_RAFT_FORWARD_ACK = 8,
    MK_RAFT_FORWARD_NACK = 9,
    MK_RAFT_READ_INDEX_REQ = 10,
    MK_RAFT_READ_INDEX_RESP = 11,
    MK_RAFT_NEED_SNAPSHOT = 12,
    MK_RAFT_TIMEOUT_NOW = 13,   /* leadership transfer: campaign now (ours; 01-decisions) */
} mk_raft_msg_kind_t;
#define MK_RAFT_MSG_KINDS 14u

typedef enum {
    MK_RAFT_NACK_NOT_LEADER = 0,
    MK_RAFT_NACK_OUT_OF_ORDER = 1, /* with `expected` */
    MK_RAFT_NACK_BUSY = 2,
    MK_RAFT_NACK_TOO_LARGE = 3,
} mk_raft_nack_t;
#define MK_RAFT_NACK_REASONS 4u

/* One Raft message: the envelope (sender's origin, if it has one) and a tagged body. Cursors are
 * (term, index) with index 0 only as (0, 0). Decoded `entries` / `commands` arrays are allocated by
 * the decoder (NULL when empty) and released by mk_raft_msg_free; their bodies / bytes are views into
 * the input. Decoded entries get index = prev.index + 1 + i; the encoder requires the same. */
typedef struct mk_raft_msg {
    bool has_origin;
    mk_id_t origin;
    mk_raft_msg_kind_t kind;
    union {
        struct { /* Hello */
            bool has_origin, has_commands;
            mk_id_t origin;
            mk_cursor_t last;
            mk_index_t commit;
            mk_leadership_t preference; /* kind ≤ 2; Reluctant needs factor ≥ 1 */
        } hello;
        struct { /* AppendEntries */
            mk_term_t term;
            mk_cursor_t prev;
            mk_index_t commit;
            uint64_t read_seq;
            const mk_log_entry_t *entries; /* ≤ MK_RAFT_MAX_ENTRIES, kinds ≤ 3, bodies valid */
            size_t nentries;
        } append;
        struct { /* AppendResponse: `match` if success, else conflict_index / conflict_term */
            mk_term_t term;
            bool success, syncing;
            mk_index_t match, conflict_index;
            mk_term_t conflict_term;
            uint64_t read_seq;
        } append_resp;
        struct { mk_term_t term; mk_cursor_t last; } vote;         /* PreVote, RequestVote */
        struct { mk_term_t term; bool granted; } vote_resp;        /* PreVoteResponse, VoteResponse */
        struct { /* Forward: 1 ≤ ncommands ≤ MK_RAFT_MAX_COMMANDS */
            uint64_t req_id, session, seq;
            const mk_bytes_t *commands;
            size_t ncommands;
        } forward;
        struct { uint64_t req_id; mk_term_t term; mk_index_t first, last; } forward_ack; /* 1 ≤ first ≤ last */
        struct { /* ForwardNack: `expected` only for OUT_OF_ORDER */
            uint64_t req_id;
            mk_raft_nack_t reason;
            uint64_t expected;
            bool has_leader;
            mk_peer_id_t leader;
        } forward_nack;
        struct { uint64_t req_id; } read_index_req;
        struct { uint64_t req_id; bool ok; mk_index_t read_index; } read_index_resp;
        struct { mk_term_t term; mk_index_t leader_commit; } need_snapshot;
        struct { mk_term_t term; } timeout_now;
    };
} mk_raft_msg_t;

/* Appends the encoding of m ({origin?, tag, fields}: the bytes inside BondMessage::Raft) to out: MK_OK,
 * MK_EINVAL (m breaks a rule the decoder enforces; e names the field; out unchanged) or MK_ENOMEM. */
int mk_raft_msg_encode(const mk_raft_msg_t *m, mk_buf_t *out, mk_error_t *e);
/* Decodes one message from [p, p + n) into out: MK_OK (release with mk_raft_msg_free), MK_EPROTO with
 * e naming the message, field and offset, or MK_ENOMEM; on failure out is zeroed, nothing to free. */
int mk_raft_msg_decode(const void *p, size_t n, mk_raft_msg_t *out, mk_error_t *e);
/* Frees the arrays a decode allocated and zeroes m; idempotent. Never call it on a message whose
 * arrays the caller owns (encoder input). */
void mk_raft_msg_free(mk_raft_msg_t *m);
/* "Hello", "AppendEntries", …; "?" for an unknown kind. Static text. */
const char *mk_raft_msg_kind_name(mk_raft_msg_kind_t kind);

#endif
