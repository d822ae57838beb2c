/* net/listener.c — application listeners: an ALPN route whose verified inbound links queue on a
 * thread-safe listener object until mk_listener_accept takes them. */
#include "net/net_internal.h"

#include "core/error.h"
#include "core/time.h"

#include <stdlib.h>
#include <string.h>

#define MK_LISTENER_BACKLOG_DEFAULT 64

static void listener_put(mk_listener_t *li) {
    if (atomic_fetch_sub(&li->refs, 1) != 1) return;
    for (size_t i = 0; i < li->qlen; i++) mk_link_free(li->queue[(li->qhead + i) % li->backlog]);
    free(li->queue);
    mk_readyfd_close(&li->ready);
    pthread_mutex_destroy(&li->mu);
    pthread_cond_destroy(&li->cv);
    free(li);
}

/* loop: a verified inbound link for this listener's ALPN. */
static void on_listener_link(mk_network_t *n, void *ctx, mk_link_t *l) {
    mk_listener_t *li = ctx;
    (void)n;
    if (mk_link_make_public(l) != MK_OK) {
        mk_link_start_close(l, MK_CLOSE_CANCELLED, "out of file descriptors", false);
        mk_link_release(l);
        return;
    }
    pthread_mutex_lock(&li->mu);
    bool take = !li->closed && li->qlen < li->backlog;
    if (take) {  /* our reference becomes the queue's, handed to the accepting caller */
        li->queue[(li->qhead + li->qlen) % li->backlog] = l;
        li->qlen++;
        mk_readyfd_set(&li->ready, true);
        pthread_cond_broadcast(&li->cv);
    }
    pthread_mutex_unlock(&li->mu);
    if (!take) {
        mk_link_start_close(l, MK_CLOSE_CANCELLED, "listener backlog full", false);
        mk_link_release(l);
    }
}

/* loop: the route goes away (listener freed or network stopping). */
void mk_listener_detach_route(mk_network_t *n, const mk_route_t *r) {
    (void)n;
    if (r->fn != on_listener_link) return;
    mk_listener_t *li = r->ctx;
    pthread_mutex_lock(&li->mu);
    li->closed = true;
    li->net = NULL;
    mk_readyfd_set(&li->ready, true);
    pthread_cond_broadcast(&li->cv);
    pthread_mutex_unlock(&li->mu);
    listener_put(li);  /* the route's reference */
}

typedef struct listen_req {
    mk_listener_t *li;
    mk_error_t err;
    int rc;
} listen_req_t;

static void listen_cmd(mk_network_t *n, void *arg) {
    listen_req_t *r = arg;
    r->rc = mk_net_register(n, r->li->alpn, on_listener_link, r->li, &r->err);
}

mk_listener_t *mk_network_listen(mk_network_t *n, const char *alpn, uint32_t backlog, mk_error_t *e) {
    size_t len = alpn ? strlen(alpn) : 0;
    if (len == 0 || len > MK_ALPN_MAX) {
        MK_ERR(e, MK_EINVAL, "alpn must be 1..%d bytes, got %zu", MK_ALPN_MAX, len);
        return NULL;
    }
    if (strncmp(alpn, "/mosaik/", 8) == 0) {
        MK_ERR(e, MK_EPERM, "alpn %s is reserved for libmosaik", alpn);
        return NULL;
    }
    mk_listener_t *li = calloc(1, sizeof *li);
    if (!li) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    li->backlog = backlog ? backlog : MK_LISTENER_BACKLOG_DEFAULT;
    li->queue = calloc(li->backlog, sizeof *li->queue);
    memcpy(li->alpn, alpn, len + 1);
    pthread_mutex_init(&li->mu, NULL);
    mk_cond_init(&li->cv);
    atomic_init(&li->refs, 2);  /* the caller's and the route's */
    li->net = n;
    li->ready.rfd = li->ready.wfd = -1;
    if (!li->queue || mk_readyfd_init(&li->ready) != MK_OK) {
        MK_ERR(e, MK_EIO, "cannot allocate the listener");
        atomic_store(&li->refs, 1);
        listener_put(li);
        return NULL;
    }
    listen_req_t r = {.li = li, .rc = MK_EINVAL};
    int rc = mk_loop_call(n, listen_cmd, &r, -1, e);
    if (rc == MK_OK && r.rc != MK_OK) {
        mk_err_copy(e, &r.err);
        rc = r.rc;
    }
    if (rc != MK_OK) {
        atomic_store(&li->refs, 1);
        listener_put(li);
        return NULL;
    }
    return li;
}

mk_link_t *mk_listener_accept(mk_listener_t *li, int timeout_ms, mk_error_t *e) {
    int64_t deadline = mk_deadline_from(timeout_ms);
    mk_link_t *l = NULL;
    pthread_mutex_lock(&li->mu);
    for (;;) {
        if (li->qlen) {
            l = li->queue[li->qhead];
            li->qhead = (li->qhead + 1) % li->backlog;
            li->qlen--;
            if (!li->qlen && !li->closed) mk_readyfd_set(&li->ready, false);
            break;
        }
        if (li->closed) {
            MK_ERR(e, li->net ? MK_ECLOSED : MK_ETERMINATED, "listener %s is closed", li->alpn);
            break;
        }
        if (timeout_ms == 0) {
            MK_ERR(e, MK_EAGAIN, "no link waiting on %s", li->alpn);
            break;
        }
        if (mk_network_on_loop(li->net)) {
            MK_ERR(e, MK_EDEADLK, "blocking accept on the loop thread");
            break;
        }
        if (mk_cond_wait_ms(&li->cv, &li->mu, deadline) == MK_ETIMEDOUT) {
            MK_ERR(e, MK_ETIMEDOUT, "no link on %s within %d ms", li->alpn, timeout_ms);
            break;
        }
    }
    pthread_mutex_unlock(&li->mu);
    return l;
}

int mk_listener_fd(const mk_listener_t *li) { return li->ready.rfd; }

static void unlisten_cmd(mk_network_t *n, void *arg) {
    mk_listener_t *li = arg;
    const mk_route_t *r = mk_net_route(n, li->alpn);
    if (r && r->ctx == li) {
        mk_route_t copy = *r;
        mk_net_unregister(n, li->alpn);
        mk_listener_detach_route(n, &copy);
    }
}

void mk_listener_free(mk_listener_t *li) {
    if (!li) return;
    pthread_mutex_lock(&li->mu);
    mk_network_t *n = li->closed ? NULL : li->net;
    li->closed = true;
    pthread_mutex_unlock(&li->mu);
    /* the network's shutdown detaches the route if the call cannot run */
    if (n && !mk_network_on_loop(n)) mk_loop_call(n, unlisten_cmd, li, -1, NULL);
    else if (n) unlisten_cmd(n, li);
    listener_put(li);
}
