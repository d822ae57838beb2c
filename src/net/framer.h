/* net/framer.h — link framing (spec 10 §2.2), sans-I/O: the 4-byte big-endian header (bit 31 = control,
 * bits 0–30 = body length), the control bodies Hello{version, network_id, max_frame} and Close{code,
 * reason}, and a chunk-fed framer that yields the same frames for any split of the byte stream.
 *
 * Two ways to read a stream:
 *  - chunk-fed: mk_framer_feed(f, &p, &n, &frame, e) in a loop (copies only frames split across chunks);
 *  - peeking (e.g. a libevent evbuffer): copy out 4 bytes → mk_frame_parse_header (checks the length before
 *    anything is allocated) → once 4 + hdr.len bytes are in, mk_frame_body on the contiguous body.
 * Every protocol violation is MK_EPROTO with e->close_code = 400 and e->msg = "<function>: <reason>";
 * mk_frame_error_reason(e) gives the bare reason to send in the Close frame. Threads: pure functions are
 * callable anywhere; an mk_framer_t belongs to one thread at a time. */
#ifndef MK_NET_FRAMER_H
#define MK_NET_FRAMER_H

#include "mosaik/core.h"
#include "mosaik/id.h"

#define MK_FRAME_HEADER_LEN 4u
#define MK_CONTROL_BODY_MAX 1024u
#define MK_CONTROL_REASON_MAX 256u
#define MK_FRAME_LEN_MASK 0x7fffffffu
#define MK_FRAME_CONTROL_BIT 0x80000000u

typedef struct mk_frame_hdr {
    bool control;
    uint32_t len;  /* body length */
} mk_frame_hdr_t;

enum { MK_CONTROL_HELLO = 0, MK_CONTROL_CLOSE = 1, MK_CONTROL_NTAGS = 2 };

typedef struct mk_control {
    int kind;  /* MK_CONTROL_HELLO / MK_CONTROL_CLOSE */
    struct { uint32_t version; mk_network_id_t network_id; uint32_t max_frame; } hello;
    struct { uint32_t code; const uint8_t *reason; size_t reason_len; } close;  /* reason: view into the body */
} mk_control_t;

/* A frame: header, body view and, for control frames, the decoded body. */
typedef struct mk_framed {
    mk_frame_hdr_t hdr;
    const uint8_t *body;   /* hdr.len bytes; lifetime: see the function that filled it */
    mk_control_t control;  /* valid when hdr.control */
} mk_framed_t;

/* ---- pure parsing and encoding ------------------------------------------------------------------- */

/* Encodes a header into h; len must be ≤ MK_FRAME_LEN_MASK (asserted). Pure. */
void mk_frame_header_encode(bool control, uint32_t len, uint8_t h[4]);
/* Decodes a header and checks its length (data ≤ max_frame, control ≤ 1024) before anything is allocated.
 * out is filled either way. MK_EPROTO/400 "frame too large: L > max" or "control frame too large: …". Pure. */
int mk_frame_parse_header(const uint8_t h[4], uint32_t max_frame, mk_frame_hdr_t *out, mk_error_t *e);
/* Decodes a control body: known tag, canonical varints, UTF-8 reason ≤ 256 bytes, no trailing bytes.
 * MK_EPROTO/400 with the cause. Pure; views point into body. */
int mk_control_decode(const uint8_t *body, size_t n, mk_control_t *out, mk_error_t *e);
/* Fills out for a whole body of the frame hdr describes (control bodies are decoded and checked against
 * the 1024-byte limit; data bodies are just viewed). out->body = body. Errors as mk_control_decode. Pure. */
int mk_frame_body(const mk_frame_hdr_t *hdr, const uint8_t *body, mk_framed_t *out, mk_error_t *e);
/* The reason part of a framer error message (after "<function>: "), for the Close frame. Pure. */
const char *mk_frame_error_reason(const mk_error_t *e);

/* Appends a data frame (header + payload). MK_E2BIG if n > max_frame (or > 2^31 − 1), MK_ENOMEM. */
int mk_frame_encode_data(const void *p, size_t n, uint32_t max_frame, mk_buf_t *out);
/* Appends a whole Hello frame (header + body). MK_ENOMEM only. */
int mk_control_encode_hello(uint32_t version, const mk_network_id_t *id, uint32_t max_frame, mk_buf_t *out);
/* Appends a whole Close frame with exactly these reason bytes. MK_EINVAL (out unchanged) if len > 256 or
 * the reason is not valid UTF-8; MK_ENOMEM. */
int mk_control_encode_close_n(uint32_t code, const void *reason, size_t len, mk_buf_t *out);
/* Appends a whole Close frame; NULL = "". Never refuses a reason: one over 256 bytes is cut at a character
 * boundary and invalid UTF-8 bytes become '?', so a Close always goes out. MK_ENOMEM only. */
int mk_control_encode_close(uint32_t code, const char *reason, mk_buf_t *out);
/* Appends the frame for a decoded control message (mk_control_encode_hello / _close_n). */
int mk_control_encode(const mk_control_t *c, mk_buf_t *out);

/* ---- chunk-fed framer ---------------------------------------------------------------------------- */

/* Holds at most 4 header bytes plus one partial body; the body buffer never exceeds max(max_frame, 1024)
 * bytes and only grows with bytes actually fed (at most doubling). */
typedef struct mk_framer {
    uint32_t max_frame;
    uint8_t hdr[4];
    uint8_t hdr_have;    /* header bytes gathered (0…4) */
    bool in_body;        /* header accepted, body pending in `body` */
    mk_frame_hdr_t cur;  /* header of the frame being assembled */
    uint8_t *body;       /* owned partial body */
    size_t body_have, body_cap;
    bool failed;
    mk_error_t err;      /* first failure, reported again by later calls */
} mk_framer_t;

/* Starts a framer for data frames up to max_frame bytes. Allocates nothing. */
void mk_framer_init(mk_framer_t *f, uint32_t max_frame);
/* Releases the body buffer; f can be re-initialised afterwards. */
void mk_framer_free(mk_framer_t *f);
/* Consumes bytes from (*p, *n) until one frame is complete: returns 1 with *out filled and (*p, *n)
 * advanced past exactly the bytes used; returns 0 when all input was consumed without completing a frame.
 * out->body views either the caller's input (frame contained in it, no copy) or the framer's buffer:
 * valid until the next mk_framer_* call on f or until the input is released, whichever comes first.
 * Errors are sticky: MK_EPROTO/400 on a bad header (detected after exactly its 4 bytes, before any
 * allocation) or a bad control body; MK_ENOMEM. */
int mk_framer_feed(mk_framer_t *f, const uint8_t **p, size_t *n, mk_framed_t *out, mk_error_t *e);
/* Former name of mk_framer_feed. */
static inline int mk_framer_next(mk_framer_t *f, const uint8_t **p, size_t *n, mk_framed_t *out, mk_error_t *e) {
    return mk_framer_feed(f, p, n, out, e);
}
/* Gives the body of the frame just returned by mk_framer_feed to the caller as an owned buffer: moves the
 * framer's buffer when the body is in it, copies otherwise. MK_ENOMEM; out is MK_BUF_INIT on failure. */
int mk_framer_take_body(mk_framer_t *f, const mk_framed_t *fr, mk_buf_t *out);
/* Bytes of memory the framer currently owns (its body buffer). */
static inline size_t mk_framer_memory(const mk_framer_t *f) { return f->body_cap; }

#endif
