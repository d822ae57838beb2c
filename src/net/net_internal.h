/* net/net_internal.h — private layout of the network, link and listener objects, shared by the files
 * of the net module only. Field comments say which thread may touch what: "loop" = the loop thread,
 * "mu" = under the object's mutex, "const" = set before publication and never changed. */
#ifndef MK_NET_INTERNAL_H
#define MK_NET_INTERNAL_H

#include "net/net.h"
#include "net/tls.h"
#include "core/time.h"

#include <event2/event.h>

#define MK_ROUTES_MAX 32
#define MK_BOOK_MAX 4096
#define MK_TEST_BLOCKED_MAX 16

enum { MK_NET_ONLINE = 1, MK_NET_STOPPING = 2 };

typedef struct mk_cmd {
    struct mk_cmd *next;
    mk_loop_fn fn;
    void *arg;
    void (*dispose)(void *arg);
} mk_cmd_t;

typedef struct mk_route {
    char alpn[MK_ALPN_MAX + 1];
    mk_accept_fn fn;
    void *ctx;
} mk_route_t;

typedef struct mk_book_entry {
    mk_peer_addr_t addr;
    uint64_t used;                      /* LRU stamp */
} mk_book_entry_t;

typedef struct mk_link_metrics {
    mk_counter_t *frames_sent, *frames_received, *egress, *ingress, *send_full;
    mk_gauge_t *active;
} mk_link_metrics_t;

struct mk_network {
    /* const */
    mk_network_config_t cfg;            /* copy; its string pointers point into `strings` */
    char *strings[2 * MK_ADDR_MAX + 2];
    mk_network_id_t id;
    mk_secret_key_t sk;
    mk_peer_id_t self;
    char self_short[MK_ID_SHORT_LEN + 1];
    struct event_base *base;
    SSL_CTX *ssl_ctx;
    pthread_t thread;
    _Atomic int state;
    _Atomic(pthread_t) loop_tid;
    mk_registry_t *reg;

    /* command queue: qmu */
    pthread_mutex_t qmu;
    mk_cmd_t *qhead, *qtail;
    size_t qlen;
    int wake_fd;
    struct event *wake_ev;
    mk_gauge_t *m_queued;

    /* addresses: loop (advertised list read under amu by API calls) */
    pthread_mutex_t amu;
    mk_peer_addr_t published;
    int listen_fds[2 * MK_ADDR_MAX];
    struct event *listen_evs[2 * MK_ADDR_MAX];
    size_t nlisten;
    struct event *iface_timer;
    mk_addrs_fn addrs_fn;
    void *addrs_ctx;

    /* loop */
    mk_route_t routes[MK_ROUTES_MAX];
    size_t nroutes;
    pthread_mutex_t rmu;                /* routes are read by the loop and changed by listen calls */
    mk_link_t *links;                   /* every live link (doubly linked) */
    size_t nlinks, npending_in;
    mk_book_entry_t *book;
    size_t nbook;
    uint64_t book_clock;
    mk_rtt_fn rtt_fn;
    void *rtt_ctx;
    struct event *rtt_timer;
    struct event *heartbeat;
    int64_t heartbeat_due_us;
    mk_metrics_http_t *http;
    bool stopping_links;                /* loop: shutdown in progress */
    struct event *stop_timer;

    _Atomic int api_refs;               /* API calls that may still touch this object after its links ended */

    /* subsystems (discovery, streams, groups): installed before the loop starts, const afterwards */
    mk_subsystem_t subsys[MK_SUBSYS_COUNT];
    bool started;                       /* mk_net_start succeeded: the loop thread runs */
    bool killed;                        /* test hook: stop like a crash */
#ifdef MK_TEST_HOOKS
    mk_peer_id_t test_blocked[MK_TEST_BLOCKED_MAX];  /* loop: peers cut off by mk_net_test_block_peer */
    size_t ntest_blocked;
#endif

    /* metrics handles */
    mk_gauge_t *m_pending;
    mk_hist_t *m_rtt, *m_loop_lag, *m_hs_in, *m_hs_out;
};

typedef enum {
    MK_LINK_DIALING = 0,   /* TCP connect attempts in flight */
    MK_LINK_TLS,           /* TLS handshake */
    MK_LINK_HELLO,         /* TLS up, Hello exchange */
    MK_LINK_OPEN,          /* verified */
    MK_LINK_CLOSING,       /* Close queued/sent or received; flushing and waiting for EOF */
    MK_LINK_DEAD,          /* socket gone */
} mk_link_phase_t;

typedef struct mk_qframe {
    struct mk_qframe *next;
    size_t len;
    uint8_t data[];
} mk_qframe_t;

struct mk_link {
    _Atomic int refs;
    /* const after creation */
    mk_network_t *net;                  /* loop; NULL (under mu) once the network is freed */
    bool dialer;
    unsigned flags;
    char alpn[MK_ALPN_MAX + 1];
    mk_peer_id_t peer;                  /* dialer: target; acceptor: learnt at TLS */
    char peer_short[MK_ID_SHORT_LEN + 1];

    /* loop */
    mk_link_t *prev, *next;
    mk_link_phase_t phase;
    bool counted_pending;               /* acceptor: counted in npending_in */
    bool counted_active;
    int fd;
    SSL *ssl;
    struct evbuffer_cb_entry *out_cb;   /* output accounting callback (removed before the bev is freed) */
    mk_tls_peer_t tls;
    struct bufferevent *bev;
    mk_link_session_t sess;
    const mk_link_ops_t *ops;
    void *ctx;
    struct event *timer;                /* handshake deadline, then linger deadline */
    int64_t started_us;                 /* TCP start, for the handshake histogram */
    bool want_writable;
    bool paused_by_user, paused_by_queue;
    bool open_reported;
    bool close_reported;
    mk_link_metrics_t m;
    /* dial state */
    mk_peer_addr_t to;
    int dial_fds[MK_ADDR_MAX];
    struct event *dial_evs[MK_ADDR_MAX];
    uint8_t dial_next, dial_live;
    struct event *dial_stagger;
    int dial_last_errno;
    bool dial_all_timeouts;
    mk_error_t dial_err;

    /* public side: mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_public;
    mk_qframe_t *qhead, *qtail;
    size_t qbytes, qcount;
    mk_buf_t outbox;                    /* frames sent by API threads, not yet moved to the socket buffer */
    bool flush_posted;
    bool read_paused, resume_posted;    /* receive queue over read_buffer_bytes: socket reading stopped */
    _Atomic size_t sock_out;            /* bytes in the bufferevent's output buffer (loop writes) */
    bool closed;                        /* no more sends */
    bool ended;                         /* the link is over (Close exchanged or transport gone) */
    bool socket_done;                   /* socket released */
    bool we_closed_first;
    uint32_t close_code;
    bool close_remote;
    char close_reason[MK_CLOSE_REASON_MAX + 1];
    uint32_t send_limit;
    uint32_t write_mark, read_mark;
    mk_readyfd_t ready;
    /* public open completion: mu */
    bool open_done, open_abandoned;
    int open_status;
    mk_error_t open_err;

    /* counters: written by the loop, read anywhere */
    _Atomic uint64_t frames_out, frames_in, bytes_out, bytes_in;
    _Atomic int64_t opened_at_ms;
    struct sockaddr_storage local, remote;
};

struct mk_listener {
    _Atomic int refs;                   /* the caller's and the route's */
    mk_network_t *net;                  /* NULL once the network is freed (mu) */
    char alpn[MK_ALPN_MAX + 1];
    uint32_t backlog;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mk_link_t **queue;
    size_t qhead, qlen;
    bool closed;
    mk_readyfd_t ready;
};

/* loop.c */
int mk_loop_start(mk_network_t *n, mk_error_t *e);
/* Queues `last` (bypassing the STOPPING check), runs the loop until it breaks, joins the thread. */
void mk_loop_stop_and_join(mk_network_t *n, mk_loop_fn last);
/* Waits on cv (mu held) until pred or deadline; MK_ETIMEDOUT/MK_OK. timeout -1 forever. */

/* link.c (loop) */
mk_link_t *mk_link_alloc(mk_network_t *n, bool dialer, const char *alpn);
void mk_link_adopt_socket(mk_link_t *l, int fd);  /* starts TLS over a connected socket */
void mk_link_fail_open(mk_link_t *l, int status, const mk_error_t *err);
void mk_link_start_close(mk_link_t *l, uint32_t code, const char *reason, bool cut_now);
void mk_link_cut(mk_link_t *l, uint32_t code, const char *reason);  /* ends at once, no frame */
void mk_net_close_all_links(mk_network_t *n, uint32_t code);
void mk_link_drain_outbox(mk_network_t *n, void *arg);
void mk_link_release_loop(mk_link_t *l);

/* accept.c (loop) */
int mk_net_bind_all(mk_network_t *n, mk_error_t *e);
void mk_net_close_listeners(mk_network_t *n);
const mk_route_t *mk_net_route(mk_network_t *n, const char *alpn);

/* listener.c (loop) */
void mk_listener_detach_route(mk_network_t *n, const mk_route_t *r);

/* link_api.c */
int mk_link_make_public(mk_link_t *l);     /* loop: readiness fd + public ops */

/* addr.c */
int mk_net_derive_addrs(mk_network_t *n, mk_peer_addr_t *out);
int mk_sockaddr_parse(const char *s, uint16_t default_port, bool port_required, struct sockaddr_storage *out,
                      const char **why);
int mk_sockaddr_format(const struct sockaddr_storage *ss, char *buf, size_t cap);

/* dial.c (loop) */
void mk_dial_start(mk_link_t *l);
void mk_dial_cancel(mk_link_t *l);

/* metrics helpers (network.c) */
void mk_net_link_metrics(mk_network_t *n, mk_link_t *l);
void mk_net_count_close(mk_network_t *n, const char *alpn, uint32_t code, bool remote);
void mk_net_count_hs_failure(mk_network_t *n, bool dialer, const char *reason);
void mk_net_count_violation(mk_network_t *n, const char *alpn, const char *what);
void mk_net_count_opened(mk_network_t *n, const char *alpn, bool dialer);

/* Test hook (link.c, loop): true while mk_net_test_block_peer cuts `peer` off; always false in
 * builds without MK_TEST_HOOKS. */
#ifdef MK_TEST_HOOKS
bool mk_net_test_blocked(const mk_network_t *n, const mk_peer_id_t *peer);
#define MK_NET_BLOCKED(n, peer) ((n) && (n)->ntest_blocked && mk_net_test_blocked((n), (peer)))
#else
#define MK_NET_BLOCKED(n, peer) false
#endif

#endif
