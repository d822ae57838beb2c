/* net/framer.h — link framing (sans-I/O): the 4-byte header (bit 31 = control, bits 0–30 = length),
 * the control bodies Hello{version, network_id, max_frame} and Close{code, reason}, and a chunk-fed
 * framer that yields whole frames from arbitrary splits of the byte stream. */
#ifndef MK_NET_FRAMER_H
#define MK_NET_FRAMER_H

#include "mosaik/network.h"

#define MK_CONTROL_BODY_MAX 1024u
#define MK_CONTROL_REASON_MAX 256u
#define MK_FRAME_LEN_MASK 0x7fffffffu

typedef struct mk_frame_hdr {
    bool control;
    uint32_t len;        /* body length */
} mk_frame_hdr_t;

enum { MK_CONTROL_HELLO = 0, MK_CONTROL_CLOSE = 1 };

typedef struct mk_control {
    int kind;            /* MK_CONTROL_HELLO / MK_CONTROL_CLOSE */
    struct { uint32_t version; mk_network_id_t network_id; uint32_t max_frame; } hello;
    struct { uint32_t code; const uint8_t *reason; size_t reason_len; } close;  /* reason: view into the body */
} mk_control_t;

/* Encodes a header into h. len must be ≤ MK_FRAME_LEN_MASK. Pure. */
void mk_frame_header_encode(bool control, uint32_t len, uint8_t h[4]);
/* Decodes a header and checks its length (data ≤ max_frame, control ≤ 1024) before anything is
 * allocated. MK_EPROTO naming length and limit; out is filled either way. Pure. */
int mk_frame_parse_header(const uint8_t h[4], uint32_t max_frame, mk_frame_hdr_t *out, mk_error_t *e);
/* Decodes a control body (canonical varints, UTF-8 reason ≤ 256 bytes, no trailing bytes, known tag).
 * MK_EPROTO with the cause. Pure; views point into body. */
int mk_control_decode(const uint8_t *body, size_t n, mk_control_t *out, mk_error_t *e);
/* Appends a whole control frame (header + body) to out. MK_EINVAL for a reason over 256 bytes. */
int mk_control_encode_hello(uint32_t version, const mk_network_id_t *id, uint32_t max_frame, mk_buf_t *out);
int mk_control_encode_close(uint32_t code, const char *reason, mk_buf_t *out);

/* Chunk-fed framer: owns a buffer that never exceeds 4 + max(max_frame, 1024) bytes. */
typedef struct mk_framer {
    uint32_t max_frame;
    mk_buf_t buf;        /* bytes of the frame being assembled */
    bool failed;
} mk_framer_t;

typedef struct mk_framed {
    mk_frame_hdr_t hdr;
    const uint8_t *body; /* valid until the next mk_framer_next / mk_framer_feed call */
} mk_framed_t;

void mk_framer_init(mk_framer_t *f, uint32_t max_frame);
void mk_framer_free(mk_framer_t *f);
/* Consumes bytes from (*p, *n) until one frame is complete (returns 1 and fills out, advancing past
 * what was used), or the input is exhausted (returns 0). MK_EPROTO (sticky) on a bad header. */
int mk_framer_next(mk_framer_t *f, const uint8_t **p, size_t *n, mk_framed_t *out, mk_error_t *e);

#endif
