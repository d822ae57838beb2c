/* net/net.h — internal definition of the network object and the loop-thread interface that subsystems
 * (discovery, streams, groups) build on. Everything marked "loop" runs on the network's loop thread
 * only and never blocks. */
#ifndef MK_NET_NET_H
#define MK_NET_NET_H

#include "mosaik/network.h"
#include "mosaik/metrics.h"
#include "core/metrics.h"
#include "core/readyfd.h"
#include "net/session.h"

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>

struct event_base;
struct event;
struct bufferevent;
struct evbuffer;
typedef struct mk_metrics_http mk_metrics_http_t;

/* ---- loop commands (loop.c) ---- */
typedef void (*mk_loop_fn)(mk_network_t *n, void *arg);
/* Posts fn(arg) to the loop. MK_ETERMINATED once stopping: then dispose(arg) runs (if given) in the caller. */
int mk_loop_post(mk_network_t *n, mk_loop_fn fn, void *arg, void (*dispose)(void *arg));
/* Posts and waits ≤ timeout_ms for fn to have run. MK_EDEADLK on the loop thread, MK_ETIMEDOUT. */
int mk_loop_call(mk_network_t *n, mk_loop_fn fn, void *arg, int timeout_ms, mk_error_t *e);
/* True when the calling thread is the loop thread of any network (blocking calls refuse to run there). */
bool mk_loop_current_is_any(void);

/* ---- loop-thread link interface (link.c) ---- */
typedef struct mk_link_ops {
    /* Dial finished: status MK_OK (link usable) or an error (the link is then dead; release it). */
    void (*on_open)(mk_link_t *l, void *ctx, int status, const mk_error_t *err);
    /* One data frame; bytes valid during the call only. */
    void (*on_frame)(mk_link_t *l, void *ctx, const uint8_t *p, size_t n);
    /* The write queue fell below half its mark after MK_EFULL. */
    void (*on_writable)(mk_link_t *l, void *ctx);
    /* The link ended. Called once; the handle stays valid until mk_link_release. */
    void (*on_close)(mk_link_t *l, void *ctx, uint32_t code, bool remote, const char *reason);
    /* Optional: the frames of one socket read were all delivered (batch wake-ups here). */
    void (*on_read_end)(mk_link_t *l, void *ctx);
} mk_link_ops_t;

typedef void (*mk_accept_fn)(mk_network_t *n, void *ctx, mk_link_t *l);  /* takes a reference */

/* loop: registers an ALPN handler (MK_EEXIST twice, MK_EFULL over 32). */
int mk_net_register(mk_network_t *n, const char *alpn, mk_accept_fn fn, void *ctx, mk_error_t *e);
void mk_net_unregister(mk_network_t *n, const char *alpn);
/* loop: starts a dial; the result comes through ops->on_open. Returns the link (one reference for the
 * caller) or NULL with e filled for failures known at once. A zero to->peer dials on trust-on-first-use
 * (bootstrap addresses without an id): any key but our own is accepted and becomes the link's peer. */
mk_link_t *mk_link_dial(mk_network_t *n, const mk_peer_addr_t *to, const char *alpn, unsigned flags,
                        const mk_link_ops_t *ops, void *ctx, mk_error_t *e);
/* loop: installs the ops of an accepted link. */
void mk_link_set_ops(mk_link_t *l, const mk_link_ops_t *ops, void *ctx);
/* loop: queues one frame; MK_EFULL above write_buffer_bytes (on_writable follows), MK_E2BIG, MK_ECLOSED. */
int mk_link_write(mk_link_t *l, const void *p, size_t n);
int mk_link_writev(mk_link_t *l, const mk_bytes_t *parts, size_t nparts);
/* loop: this link's write window: writes get MK_EFULL once its unsent output reaches `bytes` (≥ 1 KiB;
 * default write_buffer_bytes), on_writable follows below half of it. */
void mk_link_set_write_mark(mk_link_t *l, size_t bytes);
/* loop: stop/resume reading the socket. */
void mk_link_pause_read(mk_link_t *l, bool pause);
/* loop: sends Close after queued frames and ends the link (on_close follows). */
void mk_link_close_async(mk_link_t *l, uint32_t code, const char *reason);
/* any thread: reference counting of the link object. */
void mk_link_retain(mk_link_t *l);
void mk_link_release(mk_link_t *l);
/* loop: address book (PeerId → addresses, LRU of 4096). */
void mk_net_observe(mk_network_t *n, const mk_peer_addr_t *addr);
int mk_net_lookup(mk_network_t *n, const mk_peer_id_t *peer, mk_peer_addr_t *out);
/* loop: RTT observer, called with (peer, tcpi_rtt µs) at establishment and every interval_ms. */
typedef void (*mk_rtt_fn)(void *ctx, const mk_peer_id_t *peer, uint32_t rtt_us);
void mk_net_set_rtt_observer(mk_network_t *n, mk_rtt_fn fn, void *ctx, uint32_t interval_ms);
/* loop: called when the set of derived addresses changes (interfaces re-read every 30 s). */
typedef void (*mk_addrs_fn)(void *ctx, mk_network_t *n);
void mk_net_on_addrs_changed(mk_network_t *n, mk_addrs_fn fn, void *ctx);
/* ---- subsystems (network.c) ----
 * The public mk_network_new (src/node) builds a network in three steps: mk_net_new (validate, bind,
 * no thread yet), the subsystems' install functions (on the caller's thread, which owns the network
 * until the loop starts: they may register ALPNs and create loop events), then mk_net_start. */
typedef enum { MK_SUBSYS_DISCOVERY = 0, MK_SUBSYS_STREAMS, MK_SUBSYS_GROUPS, MK_SUBSYS_TDX, MK_SUBSYS_COUNT } mk_subsys_id_t;
typedef struct mk_subsystem {
    void *state;                                  /* the subsystem's object; NULL = not installed */
    void (*start)(mk_network_t *n, void *state);  /* loop: first command after the loop starts */
    void (*stop)(mk_network_t *n, void *state);   /* loop: shutdown begins, before links are closed */
    void (*destroy)(void *state);                 /* after the loop thread ended (or it never started) */
} mk_subsystem_t;
/* Validates and binds; returns a network whose loop has not started, or NULL + e. Caller thread. */
mk_network_t *mk_net_new(const mk_network_config_t *cfg, mk_error_t *e);
/* Installs a subsystem (before mk_net_start only; MK_EEXIST if that slot is taken). */
int mk_net_install(mk_network_t *n, mk_subsys_id_t id, const mk_subsystem_t *s, mk_error_t *e);
/* The installed subsystem's state, or NULL. Any thread (const after start). */
void *mk_net_subsystem(const mk_network_t *n, mk_subsys_id_t id);
/* Marks the network online, starts the loop thread and runs the subsystems' start hooks there. */
int mk_net_start(mk_network_t *n, mk_error_t *e);
/* Shuts down (stop hooks in reverse install order, then links), joins, destroys subsystems, frees.
 * Also frees a network that never started. Not on the loop thread. */
void mk_net_free(mk_network_t *n);
/* The loop's event base, for subsystem timers (loop thread, or the caller before mk_net_start). */
struct event_base *mk_net_base(mk_network_t *n);
/* The node's secret key (loop or caller thread; do not copy it out of the library). */
const mk_secret_key_t *mk_net_secret_key(const mk_network_t *n);
/* The network's validated configuration (const for its lifetime). */
const mk_network_config_t *mk_net_config(const mk_network_t *n);

/* The network's metrics registry (valid for the network's lifetime). */
mk_registry_t *mk_net_registry(mk_network_t *n);
/* Local short id for log lines. */
const char *mk_net_self(const mk_network_t *n);

#ifdef MK_TEST_HOOKS
/* Test hook: cut the link's socket without any frame (both ends then see 103). loop or any thread. */
void mk_link_test_cut(mk_link_t *l);
/* loop: the same, synchronously. */
void mk_link_test_cut_now(mk_link_t *l);
/* Test hook: frees the network like a crash: no subsystem stop hooks (no departure), every link cut
 * with a reset. Not on the loop thread. */
void mk_network_test_kill(mk_network_t *n);
/* Test hook (fault injection, 01-decisions): while blocked, n's link layer silently drops every frame
 * to and from `peer` on links that exist (they stay open until their users' liveness checks end them),
 * fails new dials to it at once (MK_EUNREACH) and drops inbound links from it once TLS names it. Block
 * on both nodes for a symmetric partition. At most 16 peers per network; MK_OK, MK_EFULL. Not on the
 * loop thread. */
int mk_net_test_block_peer(mk_network_t *n, const mk_peer_id_t *peer, bool block);
#endif

#endif
