/* net/link_api.c — the thread-safe public link and listener API: API threads queue frames in the
 * link's outbox and wait on its condition variable; the loop moves data and state across. */
#include "net/net_internal.h"

#include "core/error.h"
#include "core/time.h"
#include "net/framer.h"

#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>


/* ---- public ops: the loop hands frames and state to API threads ---- */

static void resume_read_cmd(mk_network_t *n, void *arg);

static void pub_on_open(mk_link_t *l, void *ctx, int status, const mk_error_t *err) {
    (void)ctx;
    pthread_mutex_lock(&l->mu);
    l->open_done = true;
    l->open_status = status;
    if (err) l->open_err = *err;
    bool abandoned = l->open_abandoned;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (abandoned && status == MK_OK) mk_link_start_close(l, MK_CLOSE_CANCELLED, "open abandoned", false);
}

static void pub_on_frame(mk_link_t *l, void *ctx, const uint8_t *p, size_t n) {
    (void)ctx;
    mk_qframe_t *q = malloc(sizeof *q + n);
    if (!q) {
        mk_link_start_close(l, MK_CLOSE_CANCELLED, "out of memory", false);
        return;
    }
    q->next = NULL;
    q->len = n;
    memcpy(q->data, p, n);
    pthread_mutex_lock(&l->mu);
    if (l->qtail) l->qtail->next = q;
    else l->qhead = q;
    l->qtail = q;
    l->qbytes += n;
    l->qcount++;
    mk_readyfd_set(&l->ready, true);
    bool full = l->qbytes >= l->read_mark;
    if (full) l->read_paused = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (full && !l->paused_by_queue) {
        l->paused_by_queue = true;
        if (l->bev) bufferevent_disable(l->bev, EV_READ);
    }
}

static const mk_link_ops_t PUBLIC_OPS = {.on_open = pub_on_open, .on_frame = pub_on_frame};

int mk_link_make_public(mk_link_t *l) {
    pthread_mutex_lock(&l->mu);
    int rc = l->is_public || mk_readyfd_init(&l->ready) == MK_OK ? MK_OK : MK_EIO;
    if (rc == MK_OK) l->is_public = true;
    pthread_mutex_unlock(&l->mu);
    if (rc == MK_OK) mk_link_set_ops(l, &PUBLIC_OPS, NULL);
    return rc;
}

/* ---- open ---- */

typedef struct open_req {
    const mk_peer_addr_t *to;
    const char *alpn;
    unsigned flags;
    mk_link_t *link;
    mk_error_t err;
    int rc;
} open_req_t;

static void open_cmd(mk_network_t *n, void *arg) {
    open_req_t *r = arg;
    /* The link is made public before the dial starts: on_open may run inside mk_link_dial. */
    mk_link_t *l = mk_link_dial(n, r->to, r->alpn, r->flags, &PUBLIC_OPS, NULL, &r->err);
    if (!l) {
        r->rc = r->err.code;
        return;
    }
    mk_link_make_public(l);  /* before the loop returns to I/O: no frame can have arrived yet */
    r->link = l;
    r->rc = MK_OK;
}

mk_link_t *mk_link_open(mk_network_t *n, const mk_peer_addr_t *to, const char *alpn, unsigned flags,
                        int timeout_ms, mk_error_t *e) {
    if (!n || !to || !alpn) {
        MK_ERR(e, MK_EINVAL, "network, address and alpn are required");
        return NULL;
    }
    if (mk_network_on_loop(n) && timeout_ms != 0) {
        MK_ERR(e, MK_EDEADLK, "blocking call on the loop thread");
        return NULL;
    }
    int64_t deadline = mk_deadline_from(timeout_ms);
    open_req_t r = {.to = to, .alpn = alpn, .flags = flags, .rc = MK_EINVAL};
    memset(&r.err, 0, sizeof r.err);
    int rc = mk_loop_call(n, open_cmd, &r, -1, e);
    if (rc) return NULL;
    if (!r.link) {
        mk_err_copy(e, &r.err);
        return NULL;
    }
    mk_link_t *l = r.link;
    pthread_mutex_lock(&l->mu);
    rc = MK_OK;
    while (!l->open_done && rc == MK_OK) rc = mk_cond_wait_ms(&l->cv, &l->mu, deadline);
    if (!l->open_done) {
        l->open_abandoned = true;
        mk_network_t *net = l->net;
        pthread_mutex_unlock(&l->mu);
        char who[MK_ID_SHORT_LEN + 1];
        MK_ERR(e, MK_ETIMEDOUT, "open of %s to %s timed out after %d ms", alpn, mk_id_short(&to->peer, who),
               timeout_ms);
        (void)net;
        mk_link_free(l);
        return NULL;
    }
    int status = l->open_status;
    mk_error_t err = l->open_err;
    pthread_mutex_unlock(&l->mu);
    if (status != MK_OK) {
        mk_err_copy(e, &err);
        mk_link_release(l);
        return NULL;
    }
    return l;
}

/* ---- send ---- */

static void drain_dispose(void *arg) { mk_link_release(arg); }

static int closed_error(mk_link_t *l, mk_error_t *e, const char *fn) {
    int rc = mk_err_set(e, MK_ECLOSED, fn, "link to %s closed with %u %s%s%s", l->peer_short, l->close_code,
                        mk_close_code_str(l->close_code) ? mk_close_code_str(l->close_code) : "",
                        l->close_reason[0] ? ": " : "", l->close_reason);
    if (e) {
        e->close_code = l->close_code;
        e->close_remote = l->close_remote;
    }
    return rc;
}

int mk_link_sendv(mk_link_t *l, const mk_bytes_t *parts, size_t nparts, int timeout_ms, mk_error_t *e) {
    size_t total = 0;
    for (size_t i = 0; i < nparts; i++) total += parts[i].len;
    int64_t deadline = mk_deadline_from(timeout_ms);
    pthread_mutex_lock(&l->mu);
    int rc = MK_OK;
    for (;;) {
        if (l->closed || !l->net) {
            rc = l->closed ? closed_error(l, e, __func__) : MK_ERR(e, MK_ETERMINATED, "network is gone");
            break;
        }
        if (total > l->send_limit) {
            rc = MK_ERR(e, MK_E2BIG, "frame of %zu bytes exceeds the peer's max_frame %u", total, l->send_limit);
            break;
        }
        size_t queued = l->outbox.len + atomic_load_explicit(&l->sock_out, memory_order_relaxed);
        if (queued < l->write_mark) break;
        if (timeout_ms == 0) {
            rc = MK_ERR(e, MK_EFULL, "send queue to %s full (%zu bytes queued, mark %u)", l->peer_short, queued,
                        l->write_mark);
            break;
        }
        if (mk_network_on_loop(l->net)) {
            rc = MK_ERR(e, MK_EDEADLK, "blocking send on the loop thread");
            break;
        }
        if (mk_cond_wait_ms(&l->cv, &l->mu, deadline) == MK_ETIMEDOUT) {
            rc = MK_ERR(e, MK_ETIMEDOUT, "send queue to %s stayed full for %d ms", l->peer_short, timeout_ms);
            break;
        }
    }
    if (rc == MK_OK) {
        uint8_t h[4];
        mk_frame_header_encode(false, (uint32_t)total, h);
        rc = mk_buf_reserve(&l->outbox, total + 4);
        if (rc == MK_OK) {
            mk_buf_append(&l->outbox, h, 4);
            for (size_t i = 0; i < nparts; i++) mk_buf_append(&l->outbox, parts[i].ptr, parts[i].len);
            atomic_fetch_add_explicit(&l->frames_out, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&l->bytes_out, total, memory_order_relaxed);
            mk_counter_add(l->m.frames_sent, 1);
            mk_counter_add(l->m.egress, total);
            if (!l->flush_posted) {
                l->flush_posted = true;
                mk_link_retain(l);
                if (mk_loop_post(l->net, mk_link_drain_outbox, l, drain_dispose) != MK_OK) l->flush_posted = false;
            }
        } else {
            MK_ERR(e, rc, "out of memory queueing %zu bytes", total);
        }
    } else if (rc == MK_EFULL) {
        mk_counter_add(l->m.send_full, 1);
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int mk_link_send(mk_link_t *l, const void *p, size_t len, int timeout_ms, mk_error_t *e) {
    mk_bytes_t part = {p, len};
    return mk_link_sendv(l, &part, 1, timeout_ms, e);
}

/* ---- receive ---- */

static void resume_read_cmd(mk_network_t *n, void *arg) {
    mk_link_t *l = arg;
    (void)n;
    pthread_mutex_lock(&l->mu);
    bool resume = l->qbytes < l->read_mark / 2;
    if (resume) l->read_paused = false;
    l->resume_posted = false;
    pthread_mutex_unlock(&l->mu);
    if (resume && l->paused_by_queue && l->bev) {
        l->paused_by_queue = false;
        if (!l->paused_by_user) mk_link_pause_read(l, false);
    }
    mk_link_release(l);
}

int mk_link_recv(mk_link_t *l, mk_frame_t *out, int timeout_ms, mk_error_t *e) {
    int64_t deadline = mk_deadline_from(timeout_ms);
    int rc = MK_OK;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        if (l->qhead) break;
        if (l->ended || !l->net) {
            rc = closed_error(l, e, __func__);
            break;
        }
        if (timeout_ms == 0) {
            rc = MK_ERR(e, MK_EAGAIN, "no frame queued");
            break;
        }
        if (mk_network_on_loop(l->net)) {
            rc = MK_ERR(e, MK_EDEADLK, "blocking recv on the loop thread");
            break;
        }
        if (mk_cond_wait_ms(&l->cv, &l->mu, deadline) == MK_ETIMEDOUT) {
            rc = MK_ERR(e, MK_ETIMEDOUT, "no frame from %s within %d ms", l->peer_short, timeout_ms);
            break;
        }
    }
    if (rc == MK_OK) {
        mk_qframe_t *q = l->qhead;
        l->qhead = q->next;
        if (!l->qhead) l->qtail = NULL;
        l->qbytes -= q->len;
        l->qcount--;
        out->data = q->data;
        out->len = q->len;
        out->ref_ = q;
        if (!l->qhead && !l->ended) mk_readyfd_set(&l->ready, false);
        if (l->read_paused && !l->resume_posted && l->qbytes < l->read_mark / 2 && l->net) {
            l->resume_posted = true;  /* the loop owns the socket: ask it to resume reading */
            mk_link_retain(l);
            if (mk_loop_post(l->net, resume_read_cmd, l, drain_dispose) != MK_OK) l->resume_posted = false;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void mk_frame_free(mk_frame_t *f) {
    if (!f) return;
    free(f->ref_);
    f->ref_ = NULL;
    f->data = NULL;
    f->len = 0;
}

/* ---- flush, close, free ---- */

int mk_link_flush(mk_link_t *l, int timeout_ms, mk_error_t *e) {
    int64_t deadline = mk_deadline_from(timeout_ms);
    int rc = MK_OK;
    pthread_mutex_lock(&l->mu);
    while (l->outbox.len + atomic_load(&l->sock_out) > 0 && !l->socket_done) {
        if (timeout_ms == 0 || mk_cond_wait_ms(&l->cv, &l->mu, deadline) == MK_ETIMEDOUT) {
            rc = MK_ERR(e, MK_ETIMEDOUT, "%zu bytes to %s still queued", l->outbox.len + atomic_load(&l->sock_out),
                        l->peer_short);
            break;
        }
    }
    if (rc == MK_OK && l->socket_done && l->outbox.len + atomic_load(&l->sock_out) > 0)
        rc = closed_error(l, e, __func__);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

typedef struct close_req {
    mk_link_t *l;
    uint32_t code;
    bool cut;
    char reason[MK_CLOSE_REASON_MAX + 1];
} close_req_t;

static void close_cmd(mk_network_t *n, void *arg) {
    close_req_t *r = arg;
    (void)n;
    mk_link_drain_outbox(n, r->l);  /* frames sent before the close go first; releases one reference */
    mk_link_start_close(r->l, r->code, r->reason, r->cut);
    mk_link_release(r->l);
    free(r);
}

static void close_dispose(void *arg) {
    close_req_t *r = arg;
    mk_link_release(r->l);
    mk_link_release(r->l);
    free(r);
}

/* Posts a close; called with mu held. */
static int post_close(mk_link_t *l, uint32_t code, const char *reason, bool cut) {
    if (!l->net || l->socket_done) return MK_ECLOSED;
    close_req_t *r = calloc(1, sizeof *r);
    if (!r) return MK_ENOMEM;
    r->l = l;
    r->code = code;
    r->cut = cut;
    snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
    mk_link_retain(l);
    mk_link_retain(l);
    return mk_loop_post(l->net, close_cmd, r, close_dispose);
}

int mk_link_close(mk_link_t *l, uint32_t code, const char *reason, int timeout_ms, mk_error_t *e) {
    if (code == 0 || (code < 200 && code != MK_CLOSE_CANCELLED))
        return MK_ERR(e, MK_EINVAL, "close code %u is reserved for the link layer", code);
    if (reason && strlen(reason) > MK_CLOSE_REASON_MAX)
        return MK_ERR(e, MK_EINVAL, "close reason longer than %d bytes", MK_CLOSE_REASON_MAX);
    int64_t deadline = mk_deadline_from(timeout_ms);
    pthread_mutex_lock(&l->mu);
    if (!l->closed) {
        l->closed = true;  /* later sends fail at once */
        post_close(l, code, reason, false);
    }
    int rc = MK_OK;
    while (!l->socket_done && rc == MK_OK && timeout_ms != 0) rc = mk_cond_wait_ms(&l->cv, &l->mu, deadline);
    if (!l->socket_done) post_close(l, code, reason, true);  /* out of time: cut */
    while (!l->ended && l->net) mk_cond_wait_ms(&l->cv, &l->mu, mk_deadline_from(100));
    if (l->ended && !l->we_closed_first) rc = closed_error(l, e, __func__);
    else rc = MK_OK;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int mk_link_wait_closed(mk_link_t *l, int timeout_ms, mk_error_t *e) {
    int64_t deadline = mk_deadline_from(timeout_ms);
    int rc = MK_OK;
    pthread_mutex_lock(&l->mu);
    while (!l->ended && l->net && rc == MK_OK) {
        if (timeout_ms == 0) rc = MK_ETIMEDOUT;
        else rc = mk_cond_wait_ms(&l->cv, &l->mu, deadline);
    }
    if (!l->ended && rc == MK_ETIMEDOUT) rc = MK_ERR(e, MK_ETIMEDOUT, "link to %s still open", l->peer_short);
    else if (l->we_closed_first || l->close_code == MK_CLOSE_SUCCESS || l->close_code == MK_CLOSE_GRACEFUL_SHUTDOWN)
        rc = MK_OK;
    else rc = closed_error(l, e, __func__);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void mk_link_free(mk_link_t *l) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->open_abandoned = true;
    if (!l->closed || !l->socket_done) {
        l->closed = true;
        post_close(l, MK_CLOSE_CANCELLED, "handle freed", false);
    }
    pthread_mutex_unlock(&l->mu);
    mk_link_release(l);
}

/* ---- accessors ---- */

int mk_link_fd(const mk_link_t *l) { return l->ready.rfd; }
mk_peer_id_t mk_link_peer(const mk_link_t *l) { return l->peer; }
const char *mk_link_alpn(const mk_link_t *l) { return l->alpn; }

typedef struct export_req {
    mk_link_t *l;
    const char *label;
    const void *ctx;
    size_t ctx_len;
    mk_id_t *out;
    int rc;
} export_req_t;

static void export_cmd(mk_network_t *n, void *arg) {
    export_req_t *r = arg;
    (void)n;
    mk_link_t *l = r->l;
    if (!l->ssl || l->phase < MK_LINK_HELLO || l->phase == MK_LINK_DEAD) {
        r->rc = MK_ECLOSED;
        return;
    }
    const void *ctx = r->ctx ? r->ctx : l->alpn;
    size_t ctx_len = r->ctx ? r->ctx_len : strlen(l->alpn);
    r->rc = SSL_export_keying_material(l->ssl, r->out->b, sizeof r->out->b, r->label, strlen(r->label), ctx,
                                       ctx_len, 1) == 1
                ? MK_OK
                : MK_EIO;
}

int mk_link_export(const mk_link_t *l, const char *label, const void *ctx, size_t ctx_len, mk_id_t *out) {
    mk_link_t *link = (mk_link_t *)(uintptr_t)l;
    if (!label || !out) return MK_EINVAL;
    export_req_t r = {link, label, ctx, ctx_len, out, MK_ECLOSED};
    pthread_mutex_lock(&link->mu);
    mk_network_t *n = link->socket_done ? NULL : link->net;
    if (n) atomic_fetch_add(&n->api_refs, 1);  /* keeps the network's memory until we leave */
    pthread_mutex_unlock(&link->mu);
    if (!n) return MK_ECLOSED;
    int rc;
    if (mk_network_on_loop(n)) {
        export_cmd(n, &r);
        rc = MK_OK;
    } else {
        rc = mk_loop_call(n, export_cmd, &r, -1, NULL);  /* fails at once once the network is stopping */
    }
    atomic_fetch_sub(&n->api_refs, 1);
    return rc ? rc : r.rc;
}

int mk_link_info(const mk_link_t *l, mk_link_info_t *out) {
    mk_link_t *link = (mk_link_t *)(uintptr_t)l;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&link->mu);
    out->peer = link->peer;
    out->dialer = link->dialer;
    out->closed = link->ended;
    out->close_remote = link->close_remote;
    out->close_code = link->close_code;
    out->local = link->local;
    out->remote = link->remote;
    out->queued_out = link->outbox.len + atomic_load(&link->sock_out);
    pthread_mutex_unlock(&link->mu);
    out->opened_at_ms = atomic_load(&link->opened_at_ms);
    out->frames_out = atomic_load(&link->frames_out);
    out->frames_in = atomic_load(&link->frames_in);
    out->bytes_out = atomic_load(&link->bytes_out);
    out->bytes_in = atomic_load(&link->bytes_in);
    return MK_OK;
}
