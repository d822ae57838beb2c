/* streams/wire.h — the stream link messages (spec 30 §6), one per frame: Subscribe and Accepted (ids
 * and criteria), Datum (tag byte then the raw datum: the frame length delimits it, so it is neither
 * re-encoded nor copied), Dropped{count}. Decoders are strict: reserved tags, unknown criteria and
 * trailing bytes are refused. Pure; any thread. */
#ifndef MK_STREAMS_WIRE_H
#define MK_STREAMS_WIRE_H

#include "mosaik/core.h"
#include "mosaik/id.h"

#include <stdbool.h>

typedef enum { MK_SMSG_SUBSCRIBE = 0, MK_SMSG_ACCEPTED = 1, MK_SMSG_DATUM = 2, MK_SMSG_DROPPED = 3 } mk_smsg_kind_t;
#define MK_SMSG_TAGS 16         /* 4–15 reserved */
#define MK_CRITERIA_TAG_ALL 0

typedef struct mk_smsg {
    mk_smsg_kind_t kind;
    mk_id_t network, stream;    /* Subscribe, Accepted */
    uint32_t criteria;          /* Subscribe: the criteria tag (only All = 0 today) */
    mk_bytes_t datum;           /* Datum: a view into the frame */
    uint64_t dropped;           /* Dropped: ≥ 1 */
} mk_smsg_t;

/* Appends one message's payload (no frame length) to out: MK_OK or MK_ENOMEM. */
int mk_smsg_encode_subscribe(const mk_id_t *network, const mk_id_t *stream, uint32_t criteria, mk_buf_t *out);
int mk_smsg_encode_accepted(const mk_id_t *network, const mk_id_t *stream, mk_buf_t *out);
int mk_smsg_encode_dropped(uint64_t count, mk_buf_t *out);
/* The one-byte header of a Datum payload (the datum bytes follow it in the same frame). */
#define MK_SMSG_DATUM_HEADER ((uint8_t)MK_SMSG_DATUM)

/* Decodes one payload: MK_OK, or MK_EPROTO with e naming the field and offset. */
int mk_smsg_decode(const void *p, size_t n, mk_smsg_t *out, mk_error_t *e);

#endif
