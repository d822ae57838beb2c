/* net/link.c — the loop side of a link: TLS over a connected socket (libevent bufferevent_openssl),
 * frame parsing, the Hello exchange through the sans-I/O session, writes with watermarks, and the
 * close sequence (Close frame → close_notify → SHUT_WR → peer EOF or linger deadline). */
#include "net/net_internal.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "net/framer.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MK_READ_SLACK (64u * 1024u)
#define MK_IO_BURST (256 * 1024)     /* bytes moved per socket wake-up and direction */
#define MK_WRITE_CHUNK (16u * 1024u) /* one TLS record's worth of plaintext */
#define MK_COPY_MAX (64u * 1024u)   /* outbox batches below this are copied, larger ones referenced */

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short events, void *arg);
static void finish(mk_link_t *l);

/* ---- allocation and reference counting ---- */

mk_link_t *mk_link_alloc(mk_network_t *n, bool dialer, const char *alpn) {
    mk_link_t *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    atomic_init(&l->refs, 1);  /* the loop's reference, dropped when the link is DEAD */
    l->net = n;
    l->dialer = dialer;
    l->fd = -1;
    for (size_t i = 0; i < MK_ADDR_MAX; i++) l->dial_fds[i] = -1;
    if (alpn) snprintf(l->alpn, sizeof l->alpn, "%s", alpn);
    pthread_mutex_init(&l->mu, NULL);
    mk_cond_init(&l->cv);
    l->ready.rfd = l->ready.wfd = -1;
    l->write_mark = n->cfg.write_buffer_bytes;
    l->read_mark = n->cfg.read_buffer_bytes;
    l->send_limit = n->cfg.max_frame_size;
    l->tls.dialer = dialer;
    l->tls.self = n->self;
    mk_sess_init(&l->sess, &n->id, n->cfg.max_frame_size);
    l->next = n->links;
    if (n->links) n->links->prev = l;
    n->links = l;
    n->nlinks++;
    return l;
}

void mk_link_retain(mk_link_t *l) { atomic_fetch_add(&l->refs, 1); }

void mk_link_release(mk_link_t *l) {
    if (!l || atomic_fetch_sub(&l->refs, 1) != 1) return;
    mk_qframe_t *q = l->qhead;
    while (q) {
        mk_qframe_t *next = q->next;
        free(q);
        q = next;
    }
    mk_buf_free(&l->outbox);
    mk_readyfd_close(&l->ready);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

void mk_link_set_ops(mk_link_t *l, const mk_link_ops_t *ops, void *ctx) {
    l->ops = ops;
    l->ctx = ctx;
}

/* ---- public-side state changes (mu) ---- */

static void public_set_ended(mk_link_t *l, uint32_t code, bool remote, const char *reason, bool we_first) {
    pthread_mutex_lock(&l->mu);
    if (!l->ended) {
        l->ended = l->closed = true;
        l->close_code = code;
        l->close_remote = remote;
        l->we_closed_first = we_first;
        snprintf(l->close_reason, sizeof l->close_reason, "%s", reason ? reason : "");
        if (l->is_public) mk_readyfd_set(&l->ready, true);
    }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* ---- timers ---- */

static void on_timer(evutil_socket_t fd, short what, void *arg);

static void arm_timer(mk_link_t *l, uint32_t ms) {
    if (!l->timer) l->timer = evtimer_new(l->net->base, on_timer, l);
    if (!l->timer) return;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(l->timer, &tv);
}

/* ---- open reporting ---- */

static int close_code_to_status(uint32_t code) {
    switch (code) {
    case MK_CLOSE_DIFFERENT_NETWORK: return MK_EWRONGNET;
    case MK_CLOSE_INVALID_ALPN: return MK_EPROTO;
    case MK_CLOSE_PROTOCOL_VIOLATION: return MK_EPROTO;
    case MK_CLOSE_HANDSHAKE_TIMEOUT: return MK_ETIMEDOUT;
    default: return MK_ECLOSED;
    }
}

static void report_open(mk_link_t *l, int status, const mk_error_t *err) {
    if (!l->dialer || l->open_reported) return;
    l->open_reported = true;
    if (status != MK_OK) mk_net_count_hs_failure(l->net, true, err && err->code == MK_EIDENTITY ? "identity" : "tls");
    if (l->ops && l->ops->on_open) l->ops->on_open(l, l->ctx, status, err);
}

void mk_link_fail_open(mk_link_t *l, int status, const mk_error_t *err) {
    mk_link_retain(l);  /* the open callback may drop the owner's reference */
    report_open(l, status, err);
    if (!l->close_reported) {
        l->close_reported = true;
        public_set_ended(l, MK_CLOSE_UNEXPECTED, false, err ? err->msg : "", false);
    }
    finish(l);
    mk_link_release(l);
}

static void report_close(mk_link_t *l, uint32_t code, bool remote, const char *reason, bool we_first) {
    if (l->close_reported) return;
    l->close_reported = true;
    if (l->dialer && !l->open_reported) {
        mk_error_t err;
        int st = close_code_to_status(code);
        if (code == MK_CLOSE_DIFFERENT_NETWORK)
            MK_ERR(&err, st, "%s", reason[0] ? reason : "peer is on another network");
        else
            MK_ERR(&err, st, "link to %s closed during open with %u %s%s%s", l->peer_short, code,
                   mk_close_code_str(code) ? mk_close_code_str(code) : "", reason[0] ? ": " : "", reason);
        err.close_code = code;
        err.close_remote = remote;
        report_open(l, st, &err);
    }
    if (l->counted_active || l->phase >= MK_LINK_HELLO) mk_net_count_close(l->net, l->alpn, code, remote);
    if (code != MK_CLOSE_SUCCESS && code != MK_CLOSE_GRACEFUL_SHUTDOWN) {
        if (code == MK_CLOSE_PROTOCOL_VIOLATION)
            MK_LOGF_RL(MK_MOD_NET, MK_LOG_WARN, l->net->self_short,
                       "link closed peer=%s alpn=%s code=%u by=%s reason=\"%s\"", l->peer_short, l->alpn, code,
                       remote ? "remote" : "local", reason);
        else
            MK_LOGF(MK_MOD_NET, MK_LOG_DEBUG, l->net->self_short,
                    "link closed peer=%s alpn=%s code=%u by=%s reason=\"%s\"", l->peer_short, l->alpn, code,
                    remote ? "remote" : "local", reason);
    }
    public_set_ended(l, code, remote, reason, we_first);
    if (l->ops && l->ops->on_close) l->ops->on_close(l, l->ctx, code, remote, reason);
}

/* ---- teardown ---- */

static void finish(mk_link_t *l) {
    mk_network_t *n = l->net;
    if (l->phase == MK_LINK_DEAD) return;
    mk_dial_cancel(l);
    if (l->timer) {
        event_free(l->timer);
        l->timer = NULL;
    }
    if (l->bev) {
        /* libevent may still drain the output while it finalizes the bufferevent: detach our callback
         * first, since the link itself can be gone by then */
        if (l->out_cb) evbuffer_remove_cb_entry(bufferevent_get_output(l->bev), l->out_cb);
        l->out_cb = NULL;
        bufferevent_setcb(l->bev, NULL, NULL, NULL, NULL);
        bufferevent_free(l->bev);  /* closes the socket and frees the SSL */
        l->bev = NULL;
        l->ssl = NULL;
        l->fd = -1;
    } else {
        if (l->ssl) SSL_free(l->ssl);
        if (l->fd >= 0) close(l->fd);
        l->ssl = NULL;
        l->fd = -1;
    }
    if (l->counted_pending) {
        l->counted_pending = false;
        n->npending_in--;
        mk_gauge_set(n->m_pending, (int64_t)n->npending_in);
    }
    if (l->counted_active) {
        l->counted_active = false;
        mk_gauge_add(l->m.active, -1);
    }
    l->phase = MK_LINK_DEAD;
    if (l->prev) l->prev->next = l->next;
    else n->links = l->next;
    if (l->next) l->next->prev = l->prev;
    l->prev = l->next = NULL;
    n->nlinks--;
    pthread_mutex_lock(&l->mu);
    l->socket_done = true;
    l->net = NULL;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    mk_link_release(l);  /* the loop's reference */
    if (n->stopping_links && !n->links) event_base_loopbreak(n->base);
}

/* Half-closes our direction once every queued byte reached the kernel. */
static void send_fin(mk_link_t *l) {
    if (!l->bev || l->fd < 0) return;
    if (l->ssl && !(SSL_get_shutdown(l->ssl) & SSL_SENT_SHUTDOWN)) {
        SSL_shutdown(l->ssl);
        ERR_clear_error();
    }
    shutdown(l->fd, SHUT_WR);
}

static void write_close_frame(mk_link_t *l, uint32_t code, const char *reason) {
    if (MK_NET_BLOCKED(l->net, &l->peer)) return;  /* test hook: lost on the way */
    mk_buf_t b = MK_BUF_INIT;
    if (mk_control_encode_close(code, reason, &b) == MK_OK)
        bufferevent_write(l->bev, b.ptr, b.len);
    mk_buf_free(&b);
}

/* Carries out the close sequence after our Close frame is queued. */
static void begin_closing(mk_link_t *l, uint32_t linger_ms) {
    l->phase = MK_LINK_CLOSING;
    arm_timer(l, linger_ms);
    if (l->bev && evbuffer_get_length(bufferevent_get_output(l->bev)) == 0) send_fin(l);
}

void mk_link_start_close(mk_link_t *l, uint32_t code, const char *reason, bool cut_now) {
    if (l->phase == MK_LINK_DEAD) return;
    if (l->phase < MK_LINK_HELLO || !l->bev) {  /* no TLS yet: nothing can be sent */
        mk_error_t err;
        MK_ERR(&err, MK_ECANCELED, "link to %s cancelled during open", l->peer_short);
        if (!l->close_reported && l->dialer && !l->open_reported) report_open(l, MK_ECANCELED, &err);
        if (!l->close_reported) {
            l->close_reported = true;
            public_set_ended(l, code, false, reason, true);
            if (l->ops && l->ops->on_close) l->ops->on_close(l, l->ctx, code, false, reason ? reason : "");
        }
        finish(l);
        return;
    }
    mk_sess_action_t a = mk_sess_local_close(&l->sess, code, reason);
    if (a.kind == MK_SESS_SEND_CLOSE) {
        write_close_frame(l, code, reason);
        report_close(l, code, false, a.reason, true);
        if (l->phase == MK_LINK_DEAD) return;
        begin_closing(l, cut_now ? 0 : l->net->cfg.shutdown_linger_ms);
    } else if (cut_now) {
        finish(l);
    } else if (l->phase != MK_LINK_CLOSING) {
        begin_closing(l, l->net->cfg.shutdown_linger_ms);
    }
}

void mk_link_cut(mk_link_t *l, uint32_t code, const char *reason) {
    if (l->phase == MK_LINK_DEAD) return;
    if (!l->close_reported) {
        if (l->dialer && !l->open_reported) {
            mk_error_t err;
            MK_ERR(&err, MK_ETERMINATED, "network stopped while opening a link to %s", l->peer_short);
            report_open(l, MK_ETERMINATED, &err);
        }
        report_close(l, code, false, reason, true);
    }
    finish(l);
}

void mk_link_close_async(mk_link_t *l, uint32_t code, const char *reason) {
    mk_link_start_close(l, code, reason, false);
}

/* ---- session actions ---- */

static void on_verified(mk_link_t *l);

static void apply(mk_link_t *l, const mk_sess_action_t *a) {
    switch (a->kind) {
    case MK_SESS_NONE:
    case MK_SESS_DELIVER: break;
    case MK_SESS_OPENED: on_verified(l); break;
    case MK_SESS_SEND_CLOSE:
        if (a->what) mk_net_count_violation(l->net, l->alpn, a->what);
        if (a->code == MK_CLOSE_HANDSHAKE_TIMEOUT || a->code == MK_CLOSE_DIFFERENT_NETWORK)
            mk_net_count_hs_failure(l->net, l->dialer, a->code == MK_CLOSE_DIFFERENT_NETWORK ? "network" : "hello");
        write_close_frame(l, a->code, a->reason);
        report_close(l, a->code, false, a->reason, true);
        if (l->phase != MK_LINK_DEAD) begin_closing(l, l->net->cfg.shutdown_linger_ms);
        break;
    case MK_SESS_ENDED:
        report_close(l, a->code, a->remote, a->reason, false);
        if (l->phase == MK_LINK_DEAD) break;
        if (a->remote && l->bev) {  /* peer's Close: discard unsent output, answer with close_notify */
            struct evbuffer *out = bufferevent_get_output(l->bev);
            evbuffer_drain(out, evbuffer_get_length(out));
            send_fin(l);
        }
        finish(l);
        break;
    }
}

/* ---- verified ---- */

static void fill_addrs(mk_link_t *l) {
    socklen_t len = sizeof l->local;
    getsockname(l->fd, (struct sockaddr *)&l->local, &len);
    len = sizeof l->remote;
    getpeername(l->fd, (struct sockaddr *)&l->remote, &len);
}

static void on_verified(mk_link_t *l) {
    mk_network_t *n = l->net;
    l->phase = MK_LINK_OPEN;
    pthread_mutex_lock(&l->mu);
    l->send_limit = mk_sess_send_limit(&l->sess);
    pthread_mutex_unlock(&l->mu);
    atomic_store(&l->opened_at_ms, mk_unix_ms());
    if (l->counted_pending) {
        l->counted_pending = false;
        n->npending_in--;
        mk_gauge_set(n->m_pending, (int64_t)n->npending_in);
    }
    if (l->timer) evtimer_del(l->timer);
    mk_hist_observe(l->dialer ? n->m_hs_out : n->m_hs_in, (double)(mk_now_us() - l->started_us) / 1e6);
    mk_net_count_opened(n, l->alpn, l->dialer);
    uint32_t srtt, var;
    if (n->rtt_fn && mk_link_rtt(l, &srtt, &var) == MK_OK) n->rtt_fn(n->rtt_ctx, &l->peer, srtt);
    if (l->dialer) {
        if (!(l->flags & MK_LINK_PIPELINE)) report_open(l, MK_OK, NULL);
        return;
    }
    const mk_route_t *r = mk_net_route(n, l->alpn);
    if (!r) {  /* unregistered while the Hello was in flight */
        mk_link_start_close(l, MK_CLOSE_INVALID_ALPN, "no handler for this ALPN", false);
        return;
    }
    mk_link_retain(l);  /* the handler's reference */
    r->fn(n, r->ctx, l);
}

/* ---- I/O callbacks ---- */

static void send_hello(mk_link_t *l) {
    mk_buf_t b = MK_BUF_INIT;
    if (mk_control_encode_hello(MK_LINK_VERSION, &l->net->id, l->net->cfg.max_frame_size, &b) == MK_OK)
        bufferevent_write(l->bev, b.ptr, b.len);
    mk_buf_free(&b);
}

static void on_tls_up(mk_link_t *l) {
    mk_network_t *n = l->net;
    char alpn[MK_ALPN_MAX + 1];
    fill_addrs(l);
    l->phase = MK_LINK_HELLO;
    if (!l->dialer || mk_id_is_zero(&l->tls.expected)) {  /* acceptor, or a dial on trust-on-first-use */
        l->peer = l->tls.got;
        mk_id_short(&l->peer, l->peer_short);
    }
    if (MK_NET_BLOCKED(n, &l->peer)) {  /* test hook: a peer cut off never gets a link */
        mk_error_t err;
        MK_ERR(&err, MK_EUNREACH, "peer %s is blocked by a test hook", l->peer_short);
        mk_link_fail_open(l, MK_EUNREACH, &err);
        return;
    }
    if (!mk_tls_selected_alpn(l->ssl, alpn) || (l->dialer && strcmp(alpn, l->alpn) != 0)) {
        mk_net_count_hs_failure(n, l->dialer, "alpn");
        mk_link_start_close(l, MK_CLOSE_INVALID_ALPN, "ALPN negotiation failed", false);
        return;
    }
    if (!l->dialer) {
        snprintf(l->alpn, sizeof l->alpn, "%s", alpn);
        if (!mk_net_route(n, alpn)) {
            mk_net_count_hs_failure(n, false, "alpn");
            write_close_frame(l, MK_CLOSE_INVALID_ALPN, "no handler for this ALPN");
            mk_sess_local_close(&l->sess, MK_CLOSE_INVALID_ALPN, NULL);
            report_close(l, MK_CLOSE_INVALID_ALPN, false, "no handler for this ALPN", true);
            if (l->phase != MK_LINK_DEAD) begin_closing(l, n->cfg.shutdown_linger_ms);
            return;
        }
    }
    mk_net_link_metrics(n, l);
    l->counted_active = true;
    mk_gauge_add(l->m.active, 1);
    MK_LOGF(MK_MOD_NET, MK_LOG_DEBUG, n->self_short, "link up peer=%s alpn=%s dir=%s", l->peer_short, l->alpn,
            l->dialer ? "out" : "in");
    send_hello(l);
    if (l->dialer && (l->flags & MK_LINK_PIPELINE)) report_open(l, MK_OK, NULL);
}

static const char *describe_ssl_error(mk_link_t *l, char *buf, size_t cap, unsigned long *code) {
    unsigned long err = bufferevent_get_openssl_error(l->bev);
    unsigned long last = err;
    while (err) {
        last = err;
        err = bufferevent_get_openssl_error(l->bev);
    }
    *code = last;
    if (last) ERR_error_string_n(last, buf, cap);
    else snprintf(buf, cap, "%s", errno ? strerror(errno) : "connection lost");
    return buf;
}

static void on_event_inner(mk_link_t *l, short events);

/* Holds a reference across the callbacks it triggers: their owners may drop theirs. */
static void on_event(struct bufferevent *bev, short events, void *arg) {
    mk_link_t *l = arg;
    (void)bev;
    mk_link_retain(l);
    on_event_inner(l, events);
    mk_link_release(l);
}

static void on_event_inner(mk_link_t *l, short events) {
    if (events & BEV_EVENT_CONNECTED) {
        if (l->phase == MK_LINK_TLS) on_tls_up(l);
        return;
    }
    if (!(events & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
    if (l->phase == MK_LINK_CLOSING) {  /* the peer finished its side: done */
        finish(l);
        return;
    }
    char why[200];
    unsigned long code = 0;
    int sys = errno;
    if (l->phase == MK_LINK_TLS) {
        mk_error_t err;
        if (l->tls.failure) {
            MK_ERR(&err, MK_EIDENTITY, "%s", l->tls.why);
            mk_net_count_hs_failure(l->net, l->dialer, "identity");
        } else {
            describe_ssl_error(l, why, sizeof why, &code);
            MK_ERR(&err, l->dialer ? MK_EIO : MK_EPROTO, "TLS handshake with %s failed: %s",
                   l->dialer ? l->peer_short : "inbound peer", why);
            err.ssl_err = code;
            err.sys_errno = code ? 0 : sys;
            mk_net_count_hs_failure(l->net, l->dialer, "tls");
        }
        /* Identity failures of inbound peers (a wrong key, our own PeerId) hint at a misconfigured or
         * hostile node, so they are worth a rate-limited warning; plain TLS noise stays at debug. */
        if (!l->dialer)
            MK_LOGF_RL(MK_MOD_NET, l->tls.failure ? MK_LOG_WARN : MK_LOG_DEBUG, l->net->self_short,
                       "inbound handshake failed: %s", err.msg);
        if (l->dialer && !l->open_reported) {
            l->open_reported = true;
            if (l->ops && l->ops->on_open) l->ops->on_open(l, l->ctx, err.code, &err);
        }
        if (!l->close_reported) {
            l->close_reported = true;
            public_set_ended(l, MK_CLOSE_UNEXPECTED, false, err.msg, false);
        }
        finish(l);
        return;
    }
    if (events & BEV_EVENT_EOF) snprintf(why, sizeof why, "EOF without Close");
    else describe_ssl_error(l, why, sizeof why, &code);
    mk_sess_action_t a = mk_sess_on_transport_end(&l->sess, why);
    if (a.kind == MK_SESS_NONE) finish(l);
    else apply(l, &a);
}

static void on_timer_inner(mk_link_t *l);

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_link_retain(arg);
    on_timer_inner(arg);
    mk_link_release(arg);
}

static void on_timer_inner(mk_link_t *l) {
    if (l->phase == MK_LINK_CLOSING) {
        finish(l);
        return;
    }
    if (l->phase == MK_LINK_HELLO) {
        mk_sess_action_t a = mk_sess_on_handshake_timeout(&l->sess);
        apply(l, &a);
        return;
    }
    if (l->phase <= MK_LINK_TLS) {  /* TCP up but TLS never finished: drop without a frame */
        mk_net_count_hs_failure(l->net, l->dialer, "timeout");
        mk_error_t err;
        MK_ERR(&err, MK_ETIMEDOUT, "handshake with %s timed out", l->dialer ? l->peer_short : "inbound peer");
        mk_link_fail_open(l, MK_ETIMEDOUT, &err);
    }
}

static bool parse_one(mk_link_t *l, struct evbuffer *in) {
    size_t have = evbuffer_get_length(in);
    if (have < 4) return false;
    uint8_t h[4];
    evbuffer_copyout(in, h, 4);
    mk_frame_hdr_t hdr;
    mk_error_t err;
    if (mk_frame_parse_header(h, l->net->cfg.max_frame_size, &hdr, &err) != MK_OK) {
        mk_sess_action_t a =
            mk_sess_on_violation(&l->sess, hdr.control ? "control" : "oversize", mk_frame_error_reason(&err));
        apply(l, &a);
        return false;
    }
    if (have < 4 + (size_t)hdr.len) return false;
    uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)(4 + hdr.len));
    if (!p) return false;
    mk_sess_action_t a;
    if (hdr.control) {
        mk_control_t c;
        if (mk_control_decode(p + 4, hdr.len, &c, &err) != MK_OK) {
            a = mk_sess_on_violation(&l->sess, "control", mk_frame_error_reason(&err));
        } else if (c.kind == MK_CONTROL_HELLO) {
            a = mk_sess_on_hello(&l->sess, c.hello.version, &c.hello.network_id, c.hello.max_frame);
        } else {
            a = mk_sess_on_close(&l->sess, c.close.code, (const char *)c.close.reason, c.close.reason_len);
        }
        evbuffer_drain(in, 4 + hdr.len);
        apply(l, &a);
        return l->phase == MK_LINK_OPEN || l->phase == MK_LINK_HELLO;
    }
    a = mk_sess_on_data(&l->sess);
    if (a.kind != MK_SESS_DELIVER) {
        evbuffer_drain(in, 4 + hdr.len);
        apply(l, &a);
        return false;
    }
    atomic_fetch_add_explicit(&l->frames_in, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->bytes_in, hdr.len, memory_order_relaxed);
    mk_counter_add(l->m.frames_received, 1);
    mk_counter_add(l->m.ingress, hdr.len);
    if (l->ops && l->ops->on_frame) l->ops->on_frame(l, l->ctx, p + 4, hdr.len);
    if (l->phase == MK_LINK_DEAD) return false;  /* the callback ended the link */
    evbuffer_drain(in, 4 + hdr.len);
    return l->phase == MK_LINK_OPEN;
}

static void on_read(struct bufferevent *bev, void *arg) {
    mk_link_t *l = arg;
    int64_t t0 = mk_now_us();
    struct evbuffer *in = bufferevent_get_input(bev);
    if (MK_NET_BLOCKED(l->net, &l->peer)) {  /* test hook: whatever the peer sent is lost */
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    mk_link_retain(l);
    while ((l->phase == MK_LINK_OPEN || l->phase == MK_LINK_HELLO) && !l->paused_by_user && !l->paused_by_queue) {
        if (!parse_one(l, in)) break;
    }
    if (l->phase == MK_LINK_OPEN && l->ops && l->ops->on_read_end) l->ops->on_read_end(l, l->ctx);
    if (l->phase == MK_LINK_CLOSING && l->bev) {  /* after our Close, ignore input but watch for the peer's */
        struct evbuffer *input = bufferevent_get_input(l->bev);
        evbuffer_drain(input, evbuffer_get_length(input));
    }
    int64_t took = mk_now_us() - t0;
    if (took > 100000 && l->net)
        MK_LOGF_RL(MK_MOD_NET, MK_LOG_WARN, l->net->self_short, "frame handler of %s blocked the loop for %lld ms",
                   l->alpn, (long long)(took / 1000));
    mk_link_release(l);
}

static void on_write(struct bufferevent *bev, void *arg) {
    mk_link_t *l = arg;
    /* The write callback can run for an earlier flush while our Close is still queued; close_notify
     * must follow the Close frame, so the FIN waits for an empty output buffer. */
    if (l->phase == MK_LINK_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0) send_fin(l);
}

/* Output buffer accounting: bytes handed to TLS leave the queue; wakes blocked senders below half. */
static void on_out_change(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg) {
    mk_link_t *l = arg;
    (void)buf;
    size_t now = info->orig_size + info->n_added - info->n_deleted;
    atomic_store_explicit(&l->sock_out, now, memory_order_relaxed);
    if (info->n_deleted == 0) return;
    size_t half = l->write_mark / 2;
    if (now < half) {
        pthread_mutex_lock(&l->mu);
        bool wake_public = l->is_public && l->outbox.len < half;
        if (wake_public) pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        if (l->want_writable && l->phase == MK_LINK_OPEN) {
            l->want_writable = false;
            if (l->ops && l->ops->on_writable) l->ops->on_writable(l, l->ctx);
        }
    }
}

void mk_link_adopt_socket(mk_link_t *l, int fd) {
    mk_network_t *n = l->net;
    l->fd = fd;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (n->cfg.keepalive_idle_s != MK_KEEPALIVE_OFF) {
        int idle = (int)n->cfg.keepalive_idle_s, intvl = 5, cnt = 3;
        unsigned int user_timeout = 30000;
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
        setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
    }
    l->ssl = mk_tls_new_ssl(n->ssl_ctx, &l->tls, l->dialer ? l->alpn : NULL);
    if (l->ssl)
        l->bev = bufferevent_openssl_socket_new(n->base, fd, l->ssl,
                                                l->dialer ? BUFFEREVENT_SSL_CONNECTING : BUFFEREVENT_SSL_ACCEPTING,
                                                BEV_OPT_CLOSE_ON_FREE);
    if (!l->bev) {
        mk_error_t err;
        MK_ERR(&err, MK_ENOMEM, "cannot set up TLS for a link");
        mk_link_fail_open(l, MK_ENOMEM, &err);
        return;
    }
    l->phase = MK_LINK_TLS;
    bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
    bufferevent_setcb(l->bev, on_read, on_write, on_event, l);
    bufferevent_setwatermark(l->bev, EV_READ, 0, (size_t)n->cfg.max_frame_size + 4 + MK_READ_SLACK);
    bufferevent_set_max_single_read(l->bev, MK_IO_BURST);   /* libevent's 16 KiB default costs throughput */
    bufferevent_set_max_single_write(l->bev, MK_IO_BURST);
    l->out_cb = evbuffer_add_cb(bufferevent_get_output(l->bev), on_out_change, l);
    bufferevent_enable(l->bev, EV_READ | EV_WRITE);
    arm_timer(l, n->cfg.handshake_timeout_ms);
}

/* ---- writes ---- */

int mk_link_writev(mk_link_t *l, const mk_bytes_t *parts, size_t nparts) {
    if (l->phase != MK_LINK_OPEN && l->phase != MK_LINK_HELLO) return MK_ECLOSED;
    if (!l->dialer && l->phase != MK_LINK_OPEN) return MK_ECLOSED;
    if (MK_NET_BLOCKED(l->net, &l->peer)) return MK_OK;  /* test hook: the frame is lost on the way */
    size_t total = 0;
    for (size_t i = 0; i < nparts; i++) total += parts[i].len;
    if (total > mk_sess_send_limit(&l->sess)) return MK_E2BIG;
    struct evbuffer *out = bufferevent_get_output(l->bev);
    if (evbuffer_get_length(out) >= l->write_mark) {
        l->want_writable = true;
        mk_counter_add(l->m.send_full, 1);
        return MK_EFULL;
    }
    /* Small frames are coalesced: an empty output gets a 16 KiB chunk, and libevent sizes the chunks
     * that follow like the last one, so the TLS writer sees full records instead of 1–4 KiB pieces. */
    if (evbuffer_get_length(out) == 0 && total < MK_WRITE_CHUNK) evbuffer_expand(out, MK_WRITE_CHUNK);
    uint8_t small[4 + 508];
    mk_frame_header_encode(false, (uint32_t)total, small);
    if (total <= sizeof small - 4) {  /* one append (and one buffer callback) per small frame */
        size_t at = 4;
        for (size_t i = 0; i < nparts; i++) {
            if (parts[i].len) memcpy(small + at, parts[i].ptr, parts[i].len);
            at += parts[i].len;
        }
        evbuffer_add(out, small, at);
    } else {
        evbuffer_add(out, small, 4);
        for (size_t i = 0; i < nparts; i++) evbuffer_add(out, parts[i].ptr, parts[i].len);
    }
    atomic_fetch_add_explicit(&l->frames_out, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&l->bytes_out, total, memory_order_relaxed);
    mk_counter_add(l->m.frames_sent, 1);
    mk_counter_add(l->m.egress, total);
    return MK_OK;
}

int mk_link_write(mk_link_t *l, const void *p, size_t n) {
    mk_bytes_t part = {p, n};
    return mk_link_writev(l, &part, 1);
}

void mk_link_set_write_mark(mk_link_t *l, size_t bytes) {
    if (bytes < 1024) bytes = 1024;
    if (bytes > UINT32_MAX) bytes = UINT32_MAX;
    l->write_mark = (uint32_t)bytes;
}

void mk_link_pause_read(mk_link_t *l, bool pause) {
    l->paused_by_user = pause;
    if (!l->bev) return;
    if (pause) bufferevent_disable(l->bev, EV_READ);
    else if (!l->paused_by_queue) {
        bufferevent_enable(l->bev, EV_READ);
        on_read(l->bev, l);  /* frames already buffered */
    }
}

static void free_ref(const void *data, size_t len, void *extra) {
    (void)len;
    (void)extra;
    free((void *)(uintptr_t)data);
}

/* loop command: moves frames queued by API threads into the socket buffer. */
void mk_link_drain_outbox(mk_network_t *n, void *arg) {
    mk_link_t *l = arg;
    (void)n;
    mk_buf_t out = MK_BUF_INIT;
    pthread_mutex_lock(&l->mu);
    out = l->outbox;
    l->outbox = (mk_buf_t)MK_BUF_INIT;
    l->flush_posted = false;
    /* Count the bytes as socket-bound before senders can see the empty outbox, so that the queue
     * bound (outbox + socket buffer < write mark) holds while they move. */
    atomic_fetch_add_explicit(&l->sock_out, out.len, memory_order_relaxed);
    pthread_mutex_unlock(&l->mu);
    struct evbuffer *ob = l->bev ? bufferevent_get_output(l->bev) : NULL;
    if (ob && (l->phase == MK_LINK_OPEN || l->phase == MK_LINK_HELLO) && out.len && !MK_NET_BLOCKED(l->net, &l->peer)) {
        if (out.len < MK_COPY_MAX) {
            evbuffer_add(ob, out.ptr, out.len);  /* small: coalesce with what is queued */
        } else if (evbuffer_add_reference(ob, out.ptr, out.len, free_ref, NULL) == 0) {
            out = (mk_buf_t)MK_BUF_INIT;        /* the evbuffer owns the bytes now */
        }
    }
    atomic_store_explicit(&l->sock_out, ob ? evbuffer_get_length(ob) : 0, memory_order_relaxed);
    mk_buf_free(&out);
    mk_link_release(l);
}

void mk_net_close_all_links(mk_network_t *n, uint32_t code) {
    mk_link_t *l = n->links;
    while (l) {
        mk_link_t *next = l->next;
        if (l->phase == MK_LINK_OPEN) mk_link_start_close(l, code, "network shutting down", false);
        else if (l->phase != MK_LINK_CLOSING) mk_link_start_close(l, code, "network shutting down", true);
        l = next;
    }
}

int mk_link_rtt(const mk_link_t *l, uint32_t *srtt_us, uint32_t *rttvar_us) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    int fd = l->fd;
    if (fd < 0) return MK_ECLOSED;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return MK_EAGAIN;
    if (ti.tcpi_rtt == 0) return MK_EAGAIN;
    if (srtt_us) *srtt_us = ti.tcpi_rtt;
    if (rttvar_us) *rttvar_us = ti.tcpi_rttvar;
    return MK_OK;
}

#ifdef MK_TEST_HOOKS
/* loop: drops the socket with a reset, no Close frame (a crash as the peer sees it). */
void mk_link_test_cut_now(mk_link_t *l) {
    mk_link_retain(l);  /* the close callbacks may drop the last other reference */
    if (l->fd >= 0 && l->phase != MK_LINK_DEAD) {
        struct linger lg = {1, 0};
        setsockopt(l->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        mk_sess_action_t a = mk_sess_on_transport_end(&l->sess, "cut by test hook");
        apply(l, &a);
        if (l->phase != MK_LINK_DEAD) finish(l);
    } else if (l->phase != MK_LINK_DEAD) {
        mk_link_cut(l, MK_CLOSE_UNEXPECTED, "cut by test hook");
    }
    mk_link_release(l);
}
static void cut_cmd(mk_network_t *n, void *arg) {
    (void)n;
    mk_link_test_cut_now(arg);
    mk_link_release(arg);
}
static void cut_dispose(void *arg) { mk_link_release(arg); }

void mk_link_test_cut(mk_link_t *l) {
    pthread_mutex_lock(&l->mu);
    mk_network_t *n = l->net;
    if (n) {
        mk_link_retain(l);
        mk_loop_post(n, cut_cmd, l, cut_dispose);
    }
    pthread_mutex_unlock(&l->mu);
}

/* ---- fault injection: blocked peers (see mk_net_test_block_peer) ---- */

bool mk_net_test_blocked(const mk_network_t *n, const mk_peer_id_t *peer) {
    for (size_t i = 0; i < n->ntest_blocked; i++)
        if (mk_id_eq(&n->test_blocked[i], peer)) return true;
    return false;
}

typedef struct block_arg {
    mk_peer_id_t peer;
    bool block;
    int rc;
} block_arg_t;

static void block_cmd(mk_network_t *n, void *arg) {
    block_arg_t *a = arg;
    for (size_t i = 0; i < n->ntest_blocked; i++)
        if (mk_id_eq(&n->test_blocked[i], &a->peer)) {
            if (!a->block) n->test_blocked[i] = n->test_blocked[--n->ntest_blocked];
            return;
        }
    if (!a->block) return;
    if (n->ntest_blocked == MK_TEST_BLOCKED_MAX) {
        a->rc = MK_EFULL;
        return;
    }
    n->test_blocked[n->ntest_blocked++] = a->peer;
}

int mk_net_test_block_peer(mk_network_t *n, const mk_peer_id_t *peer, bool block) {
    block_arg_t a = {*peer, block, MK_OK};
    int rc = mk_loop_call(n, block_cmd, &a, 5000, NULL);
    return rc != MK_OK ? rc : a.rc;
}
#endif
