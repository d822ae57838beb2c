/* mosaik/network.h — the network object (one event-loop thread per node), peer addresses, and links:
 * framed, TLS 1.3-protected connections to one peer carrying one ALPN protocol.
 *
 * Threads: every function here is thread-safe unless it says "loop thread". Blocking calls take a
 * timeout in milliseconds: -1 = forever, 0 = never block, > 0 = at most that long; a blocking call made
 * on the network's own loop thread returns MK_EDEADLK at once. */
#ifndef MOSAIK_NETWORK_H
#define MOSAIK_NETWORK_H

#include "mosaik/config.h"
#include "mosaik/core.h"
#include "mosaik/id.h"

#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mk_network mk_network_t;
typedef struct mk_tdx_provider mk_tdx_provider_t;  /* mosaik/tdx.h */
typedef struct mk_link mk_link_t;
typedef struct mk_listener mk_listener_t;

#define MK_ADDR_MAX 8        /* addresses per peer */
#define MK_ADDR_STR_MAX 512  /* longest address text form, with its NUL */
#define MK_ALPN_MAX 255      /* longest ALPN */

/* Network configuration. Zero fields mean "default", so `{ .network = "my-app" }` is complete. */
typedef struct mk_network_config {
    const char *network;                /* name or 64-hex id (string rule); required unless network_id set */
    mk_network_id_t network_id;         /* explicit id when network is NULL */
    const mk_secret_key_t *secret_key;  /* NULL = random identity */
    const char *bind[MK_ADDR_MAX + 1];  /* NULL-terminated "ip[:port]"; default 0.0.0.0 and [::] */
    uint16_t port;                      /* port of bind entries without one; 0 = ephemeral */
    const char *advertise[MK_ADDR_MAX + 1]; /* published instead of the bound addresses */
    const char *metrics_addr;           /* "ip:port" of the Prometheus endpoint; NULL = off */
    uint32_t max_frame_size;            /* data-frame receive limit; default 16 MiB, 1 KiB … 1 GiB */
    uint32_t connect_timeout_ms;        /* per TCP attempt; default 5000 */
    uint32_t handshake_timeout_ms;      /* TCP up → both Hellos verified; default 5000 */
    uint32_t write_buffer_bytes;        /* per-link send queue watermark; default 1 MiB */
    uint32_t read_buffer_bytes;         /* per-link receive queue watermark; default 1 MiB */
    uint32_t max_links;                 /* all links; default 4096 */
    uint32_t max_pending_handshakes;    /* inbound links not yet verified; default 256 */
    uint32_t keepalive_idle_s;          /* TCP keepalive idle; default 15; MK_KEEPALIVE_OFF disables */
    uint32_t shutdown_linger_ms;        /* flush budget of links at mk_network_free; default 1000 */
    mk_discovery_config_t discovery;    /* zero fields = defaults (mosaik/config.h) */
    mk_streams_config_t streams;        /* zero fields = defaults (mosaik/config.h) */
    mk_groups_config_t groups;          /* zero fields = defaults (mosaik/config.h) */
    mk_tdx_provider_t *tdx_provider;    /* TDX quotes (mosaik/tdx.h); NULL = configfs-tsm, made on first use;
                                         * borrowed: free it after the network */
} mk_network_config_t;

#define MK_KEEPALIVE_OFF UINT32_MAX
#define MK_NETWORK_CONFIG_DEFAULT                                                              \
    ((mk_network_config_t){ .max_frame_size = 16u << 20, .connect_timeout_ms = 5000,           \
                            .handshake_timeout_ms = 5000, .write_buffer_bytes = 1u << 20,      \
                            .read_buffer_bytes = 1u << 20, .max_links = 4096,                  \
                            .max_pending_handshakes = 256, .keepalive_idle_s = 15,             \
                            .shutdown_linger_ms = 1000 })

/* A peer and the socket addresses it can be reached at. */
typedef struct mk_peer_addr {
    mk_peer_id_t peer;
    uint8_t naddrs;
    struct sockaddr_storage addrs[MK_ADDR_MAX];
} mk_peer_addr_t;

/* Close codes (u32 on the wire). 1–199 link layer, 200–999 generic, 10_000+ streams, 30_000+ groups. */
enum {
    MK_CLOSE_INVALID_ALPN = 100,
    MK_CLOSE_DIFFERENT_NETWORK = 101,
    MK_CLOSE_CANCELLED = 102,
    MK_CLOSE_UNEXPECTED = 103,          /* local only: ended without a Close frame */
    MK_CLOSE_HANDSHAKE_TIMEOUT = 104,
    MK_CLOSE_SUCCESS = 200,
    MK_CLOSE_GRACEFUL_SHUTDOWN = 204,
    MK_CLOSE_PROTOCOL_VIOLATION = 400,
    MK_CLOSE_UNKNOWN_PEER = 401,
    MK_CLOSE_STREAM_NOT_ALLOWED = 10403,
    MK_CLOSE_STREAM_NOT_FOUND = 10404,
    MK_CLOSE_STREAM_TOO_SLOW = 10413,
    MK_CLOSE_STREAM_NO_CAPACITY = 10509,
    MK_CLOSE_GROUP_INVALID_HANDSHAKE = 30400,
    MK_CLOSE_GROUP_NOT_ALLOWED = 30403,
    MK_CLOSE_GROUP_NOT_FOUND = 30404,
    MK_CLOSE_GROUP_INVALID_PROOF = 30405,
    MK_CLOSE_GROUP_TIMEOUT = 30408,
    MK_CLOSE_GROUP_ALREADY_BONDED = 30429,
};
/* Name of a close code ("GracefulShutdown"); NULL if unknown. */
const char *mk_close_code_str(uint32_t code);

/* Lifecycle -------------------------------------------------------------------------------------- */

/* Validates cfg, binds, starts the loop thread; returns an online network or NULL + e (MK_EINVAL naming
 * the field, MK_EIO for a bind failure). The caller owns the result: free with mk_network_free. */
mk_network_t *mk_network_new(const mk_network_config_t *cfg, mk_error_t *e);
/* Graceful shutdown (Close 204 on every link, bounded by shutdown_linger_ms), joins the thread, frees.
 * NULL is a no-op. Must not be called on the loop thread (fatal). Blocked callers return MK_ETERMINATED. */
void mk_network_free(mk_network_t *n);
/* MK_OK at once while online, MK_ETERMINATED once stopping. */
int mk_network_wait_online(mk_network_t *n, int timeout_ms, mk_error_t *e);
bool mk_network_is_online(const mk_network_t *n);
mk_network_id_t mk_network_id(const mk_network_t *n);
mk_peer_id_t mk_network_peer_id(const mk_network_t *n);
/* Copies the node's secret key into out; wipe it after use. */
void mk_network_secret_key(const mk_network_t *n, mk_secret_key_t *out);
/* This node's PeerId and published addresses. */
int mk_network_addr(const mk_network_t *n, mk_peer_addr_t *out);
/* Text form "<peer>@<addr>,…" into buf; snprintf contract (returns the full length, or < 0). */
int mk_network_addr_str(const mk_network_t *n, char *buf, size_t cap);
/* Bound "ip:port" of the metrics endpoint into buf: MK_OK; MK_ENOTFOUND when it is off; MK_E2BIG if
 * cap is too small (64 bytes always suffice). */
int mk_network_metrics_addr(const mk_network_t *n, char *buf, size_t cap);
/* True when the caller runs on this network's loop thread. */
bool mk_network_on_loop(const mk_network_t *n);

/* Parses "<64 hex>@a.b.c.d:port[,[v6]:port…]" or a bare "<64 hex>" (naddrs = 0). MK_EINVAL names the
 * faulty part. Pure; any thread. */
int mk_peer_addr_parse(const char *s, mk_peer_addr_t *out, mk_error_t *e);
/* Formats the text form into buf; snprintf contract (returns the full length, or MK_EINVAL). */
int mk_peer_addr_format(const mk_peer_addr_t *a, char *buf, size_t cap);

/* Links ------------------------------------------------------------------------------------------ */

/* A received frame. The bytes stay valid until mk_frame_free. */
typedef struct mk_frame { const uint8_t *data; size_t len; void *ref_; } mk_frame_t;
#define MK_FRAME_INIT {0}

enum { MK_LINK_PIPELINE = 1u << 0 };  /* return from open before the peer's Hello arrived */

/* Registers an application ALPN (1–255 bytes, not starting with "/mosaik/": MK_EPERM; twice: MK_EEXIST).
 * Accepted, verified links queue on the listener (at most `backlog`, 0 = 64; beyond: Close 102). */
mk_listener_t *mk_network_listen(mk_network_t *n, const char *alpn, uint32_t backlog, mk_error_t *e);
/* Next verified inbound link (caller owns it: mk_link_free). MK_ETIMEDOUT/MK_EAGAIN/MK_ETERMINATED via e. */
mk_link_t *mk_listener_accept(mk_listener_t *l, int timeout_ms, mk_error_t *e);
/* Readable while an accepted link waits. Owned by the listener. */
int mk_listener_fd(const mk_listener_t *l);
/* Unregisters the ALPN; links still queued get Close 102. NULL is a no-op. */
void mk_listener_free(mk_listener_t *l);

/* Dials `to` (addresses, else the address book) with one ALPN; returns a verified link (caller owns it)
 * or NULL + e: MK_EIDENTITY (other key), MK_EWRONGNET (101), MK_EPROTO (ALPN refused, bad Hello),
 * MK_EUNREACH, MK_ETIMEDOUT, MK_ENOTFOUND (no address), MK_EINVAL (own PeerId), MK_EFULL (max_links). */
mk_link_t *mk_link_open(mk_network_t *n, const mk_peer_addr_t *to, const char *alpn, unsigned flags,
                        int timeout_ms, mk_error_t *e);
/* Queues one frame (copied). Blocks while the send queue is above write_buffer_bytes (MK_EFULL with
 * timeout 0). MK_E2BIG above the peer's max_frame; MK_ECLOSED after close (close_code in e). */
int mk_link_send(mk_link_t *l, const void *p, size_t len, int timeout_ms, mk_error_t *e);
/* Like mk_link_send, with the frame's payload gathered from n parts. */
int mk_link_sendv(mk_link_t *l, const mk_bytes_t *parts, size_t n, int timeout_ms, mk_error_t *e);
/* Next frame in arrival order into *out (free with mk_frame_free). Once the link ended and every earlier
 * frame was read: MK_ECLOSED with close_code/close_remote in e. */
int mk_link_recv(mk_link_t *l, mk_frame_t *out, int timeout_ms, mk_error_t *e);
/* Releases a frame from mk_link_recv; MK_FRAME_INIT and NULL are no-ops. */
void mk_frame_free(mk_frame_t *f);
/* Waits until every queued byte was handed to the kernel. */
int mk_link_flush(mk_link_t *l, int timeout_ms, mk_error_t *e);
/* Sends Close(code, reason) after the queued frames and waits (≤ timeout) for the peer to finish.
 * code 0 is invalid; 1–199 are reserved except 102. MK_OK if our Close came first, else MK_ECLOSED with
 * the peer's code. */
int mk_link_close(mk_link_t *l, uint32_t code, const char *reason, int timeout_ms, mk_error_t *e);
/* Waits for the link to end: MK_OK on 200/204/local close, MK_ECLOSED with the code otherwise. */
int mk_link_wait_closed(mk_link_t *l, int timeout_ms, mk_error_t *e);
/* Frees the handle; a still-open link is closed with Close 102 (no linger). NULL is a no-op. */
void mk_link_free(mk_link_t *l);
/* Readable while a frame is queued or the link has ended. Owned by the link. */
int mk_link_fd(const mk_link_t *l);
mk_peer_id_t mk_link_peer(const mk_link_t *l);
/* The link's ALPN, valid as long as the handle. */
const char *mk_link_alpn(const mk_link_t *l);
/* RFC 8446 exporter: 32 bytes for (label, context); ctx NULL = the ALPN bytes. Same at both ends. */
int mk_link_export(const mk_link_t *l, const char *label, const void *ctx, size_t ctx_len, mk_id_t *out);
/* Kernel RTT (TCP_INFO) in µs; MK_EAGAIN when there is no sample yet. */
int mk_link_rtt(const mk_link_t *l, uint32_t *srtt_us, uint32_t *rttvar_us);

typedef struct mk_link_info {
    mk_peer_id_t peer;
    bool dialer, closed, close_remote;
    uint32_t close_code;
    struct sockaddr_storage local, remote;
    int64_t opened_at_ms;               /* mk_unix_ms() when verified */
    size_t queued_out;                  /* bytes accepted but not yet handed to the kernel */
    uint64_t frames_out, frames_in, bytes_out, bytes_in;  /* payload bytes, headers excluded */
} mk_link_info_t;
int mk_link_info(const mk_link_t *l, mk_link_info_t *out);

#ifdef __cplusplus
}
#endif
#endif
