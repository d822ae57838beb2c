/* support/mkt_raw.h — the hostile peer for network integration tests (spec 80 §3, `mkt_raw_link`): a
 * blocking client that connects to a network's published address over plain TCP or TLS 1.3 with any ALPN
 * (or none) and any client certificate (Ed25519 self-signed with a given or random key, RSA-2048
 * self-signed, none), then writes arbitrary bytes, headers and frames and reads frames back.
 *
 * Every wait (connect, handshake, write, read) is bounded by poll() with a deadline, so no test can hang.
 * Threads: one raw link belongs to one thread at a time; different links may be used from different
 * threads. The first mkt_raw_link call sets SIGPIPE to ignored (when it was at its default) so that
 * writes to a peer that went away fail with EPIPE instead of killing the test. */
#ifndef MKT_RAW_H
#define MKT_RAW_H

#include <mosaik/network.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mkt_raw_link mkt_raw_link_t;

typedef enum mkt_raw_mode {
    MKT_RAW_TLS_ED25519 = 0,  /* TLS 1.3, self-signed Ed25519 client certificate (opts.key or random) */
    MKT_RAW_TLS_RSA,          /* TLS 1.3, self-signed RSA-2048 client certificate (one key per process) */
    MKT_RAW_TLS_NO_CERT,      /* TLS 1.3 without a client certificate */
    MKT_RAW_TCP,              /* plain TCP: no TLS at all */
} mkt_raw_mode_t;

typedef struct mkt_raw_opts {
    mkt_raw_mode_t mode;
    const char *alpn;             /* the single ALPN offered; NULL = offer none */
    const mk_secret_key_t *key;   /* MKT_RAW_TLS_ED25519 identity; NULL = a fresh random key */
    int timeout_ms;               /* bound of connect + handshake and of each send; 0 = mkt_ms(5000) */
} mkt_raw_opts_t;

/* One frame read back from the node. */
typedef struct mkt_raw_frame {
    bool control;                 /* header bit 31 */
    uint32_t len;                 /* body length from the header */
    mk_buf_t body;                /* owned copy of the body (len bytes); free with mkt_raw_frame_free */
    int kind;                     /* control: MK_CONTROL_HELLO / MK_CONTROL_CLOSE, -1 if undecodable;
                                     data frames: -1 */
    uint32_t hello_version, hello_max_frame;
    mk_network_id_t hello_network_id;
    uint32_t close_code;
    char close_reason[257];       /* NUL-terminated copy of the Close reason */
} mkt_raw_frame_t;

/* Connects to n's first published address and, unless opts->mode is MKT_RAW_TCP, completes a TLS 1.3
 * client handshake (the node's certificate is not checked). opts NULL = Ed25519, no ALPN. Returns an
 * owned link (free with mkt_raw_close) or NULL + e: MK_EUNREACH/MK_EIO (TCP), MK_ETIMEDOUT, MK_EIO (TLS
 * failed; msg holds the OpenSSL reason). Never fails the test itself. Any thread. */
mkt_raw_link_t *mkt_raw_link(const mk_network_t *n, const mkt_raw_opts_t *opts, mk_error_t *e);
/* Closes the socket at once (no close_notify, no Close frame) and frees the link. NULL is a no-op. */
void mkt_raw_close(mkt_raw_link_t *r);
/* The socket, for tests that poll it. Owned by the link. */
int mkt_raw_fd(const mkt_raw_link_t *r);
/* The ALPN the node selected ("" for none or plain TCP); valid as long as the link. */
const char *mkt_raw_alpn(const mkt_raw_link_t *r);
/* How the link ended as seen by the last read or write ("" while it works): "EOF", "TLS: …", strerror. */
const char *mkt_raw_why(const mkt_raw_link_t *r);
/* TLS exporter (RFC 8446 §7.5) of the link: n bytes for label and context (ctx_len may be 0 with a
 * non-NULL ctx), as the node computes it with mk_link_export. MK_OK, MK_EINVAL (plain TCP), MK_EIO. */
int mkt_raw_export(const mkt_raw_link_t *r, const char *label, const void *ctx, size_t ctx_len, uint8_t *out,
                   size_t n);

/* Writes all n bytes (TLS-protected unless plain TCP) within the link's timeout. MK_OK; MK_ECLOSED when
 * the peer is gone (EPIPE, reset, TLS error); MK_ETIMEDOUT when the peer stops reading. */
int mkt_raw_send(mkt_raw_link_t *r, const void *p, size_t n);
/* Writes one 4-byte big-endian frame header with exactly this value (bit 31 = control). As mkt_raw_send. */
int mkt_raw_send_header(mkt_raw_link_t *r, uint32_t header);
/* Writes a Hello{version 1, id, max_frame 16 MiB} control frame. As mkt_raw_send. */
int mkt_raw_send_hello(mkt_raw_link_t *r, mk_network_id_t id);
/* Writes a data frame (header + payload; n < 2^31). As mkt_raw_send. */
int mkt_raw_send_frame(mkt_raw_link_t *r, const void *p, size_t n);
/* Writes a Close{code, reason} control frame (reason NULL = ""). As mkt_raw_send. */
int mkt_raw_send_close(mkt_raw_link_t *r, uint32_t code, const char *reason);
/* Ends our direction: TLS close_notify first when close_notify is true (and TLS is up), then
 * shutdown(SHUT_WR). Reading stays possible. MK_OK or MK_ECLOSED. */
int mkt_raw_shutdown(mkt_raw_link_t *r, bool close_notify);

/* Reads the next whole frame within timeout_ms into *out (caller frees with mkt_raw_frame_free).
 * MK_OK; MK_ETIMEDOUT; MK_ECLOSED when the stream ended (EOF, reset, TLS alert) before a whole frame;
 * MK_EPROTO when a header announces more than 64 MiB (nothing allocated). */
int mkt_raw_read_frame(mkt_raw_link_t *r, mkt_raw_frame_t *out, int timeout_ms);
/* Releases a frame's body; accepts a zeroed frame. */
void mkt_raw_frame_free(mkt_raw_frame_t *f);
/* Skips Hello and data frames until a Close arrives within timeout_ms: MK_OK with *code and the reason
 * copied into reason (cap bytes, may be NULL/0); otherwise the error of mkt_raw_read_frame. */
int mkt_raw_read_close(mkt_raw_link_t *r, int timeout_ms, uint32_t *code, char *reason, size_t cap);
/* Discards input until the stream ends (EOF, reset or TLS alert): MK_OK; MK_ETIMEDOUT after timeout_ms. */
int mkt_raw_wait_eof(mkt_raw_link_t *r, int timeout_ms);

/* Appends the bytes of a real TLS 1.3 ClientHello offering alpn (NULL = none) to out, for tests that
 * replay a handshake over plain TCP (e.g. one byte at a time). MK_OK, MK_EIO, MK_ENOMEM. Any thread. */
int mkt_raw_client_hello(const char *alpn, mk_buf_t *out);
/* Resident set size of this process in bytes (/proc/self/statm), 0 if unreadable. */
size_t mkt_raw_rss_bytes(void);
/* Bytes allocated from the C heap (mallinfo2: in-use arena + mmapped chunks). Under sanitizers, whose
 * allocator glibc does not see, this stays flat: pair it with mkt_raw_rss_bytes. */
size_t mkt_raw_heap_bytes(void);

#endif
