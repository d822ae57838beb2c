/* net/dial.c — outgoing TCP connections: one non-blocking attempt per address, the next one started
 * 250 ms after the previous (or at its failure), the first success wins and the rest are cancelled. */
#include "net/net_internal.h"

#include "core/error.h"
#include "core/time.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MK_DIAL_STAGGER_MS 250

static void start_next(mk_link_t *l);

static void close_attempt(mk_link_t *l, size_t i) {
    if (l->dial_evs[i]) {
        event_free(l->dial_evs[i]);
        l->dial_evs[i] = NULL;
    }
    if (l->dial_fds[i] >= 0) {
        close(l->dial_fds[i]);
        l->dial_fds[i] = -1;
        l->dial_live--;
    }
}

void mk_dial_cancel(mk_link_t *l) {
    for (size_t i = 0; i < MK_ADDR_MAX; i++) close_attempt(l, i);
    if (l->dial_stagger) {
        event_free(l->dial_stagger);
        l->dial_stagger = NULL;
    }
}

static void fail_all(mk_link_t *l) {
    mk_error_t err;
    char who[MK_ID_SHORT_LEN + 1];
    mk_id_short(&l->peer, who);
    if (l->dial_all_timeouts)
        MK_ERR(&err, MK_ETIMEDOUT, "connect to %s timed out on all %u addresses", who, l->to.naddrs);
    else
        MK_ERR_SYS(&err, MK_EUNREACH, l->dial_last_errno, "cannot reach %s on any of %u addresses: %s", who,
                   l->to.naddrs, strerror(l->dial_last_errno));
    mk_net_count_hs_failure(l->net, true, "connect");
    mk_dial_cancel(l);
    mk_link_fail_open(l, err.code, &err);
}

static void attempt_failed(mk_link_t *l, size_t i, int err, bool timeout) {
    close_attempt(l, i);
    if (!timeout) {
        l->dial_all_timeouts = false;
        l->dial_last_errno = err;
    }
    if (l->dial_next < l->to.naddrs) start_next(l);
    else if (l->dial_live == 0) fail_all(l);
}

static void won(mk_link_t *l, size_t i) {
    int fd = l->dial_fds[i];
    l->dial_fds[i] = -1;  /* keep it out of the cancel below */
    l->dial_live--;
    mk_dial_cancel(l);
    mk_link_adopt_socket(l, fd);
}

static void on_attempt_inner(evutil_socket_t fd, short what, mk_link_t *l);

static void on_attempt(evutil_socket_t fd, short what, void *arg) {
    mk_link_retain(arg);  /* outcomes reach callbacks that may drop the owner's reference */
    on_attempt_inner(fd, what, arg);
    mk_link_release(arg);
}

static void on_attempt_inner(evutil_socket_t fd, short what, mk_link_t *l) {
    size_t i = 0;
    while (i < MK_ADDR_MAX && l->dial_fds[i] != fd) i++;
    if (i == MK_ADDR_MAX) return;
    if (what & EV_TIMEOUT) {
        attempt_failed(l, i, ETIMEDOUT, true);
        return;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
    if (soerr) attempt_failed(l, i, soerr, false);
    else won(l, i);
}

static void on_stagger(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_link_retain(arg);
    start_next(arg);
    mk_link_release(arg);
}

static void start_next(mk_link_t *l) {
    mk_network_t *n = l->net;
    while (l->dial_next < l->to.naddrs) {
        size_t i = l->dial_next++;
        const struct sockaddr_storage *ss = &l->to.addrs[i];
        socklen_t slen = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
        int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            l->dial_all_timeouts = false;
            l->dial_last_errno = errno;
            continue;
        }
        int rc = connect(fd, (const struct sockaddr *)ss, slen);
        if (rc != 0 && errno != EINPROGRESS) {
            l->dial_all_timeouts = false;
            l->dial_last_errno = errno;
            close(fd);
            continue;
        }
        l->dial_fds[i] = fd;
        l->dial_live++;
        if (rc == 0) {
            won(l, i);
            return;
        }
        l->dial_evs[i] = event_new(n->base, fd, EV_WRITE, on_attempt, l);
        struct timeval tv = {(time_t)(n->cfg.connect_timeout_ms / 1000),
                             (suseconds_t)((n->cfg.connect_timeout_ms % 1000) * 1000)};
        if (!l->dial_evs[i] || event_add(l->dial_evs[i], &tv) != 0) {
            close_attempt(l, i);
            continue;
        }
        if (l->dial_next < l->to.naddrs) {
            if (!l->dial_stagger) l->dial_stagger = evtimer_new(n->base, on_stagger, l);
            struct timeval st = {0, MK_DIAL_STAGGER_MS * 1000};
            if (l->dial_stagger) evtimer_add(l->dial_stagger, &st);
        }
        return;
    }
    if (l->dial_live == 0) fail_all(l);
}

void mk_dial_start(mk_link_t *l) {
    l->phase = MK_LINK_DIALING;
    l->started_us = mk_now_us();
    l->dial_all_timeouts = true;
    l->dial_last_errno = ECONNREFUSED;
    if (MK_NET_BLOCKED(l->net, &l->peer)) {  /* test hook: refused, as if no address answered */
        l->dial_all_timeouts = false;
        l->dial_next = (uint8_t)l->to.naddrs;
    }
    /* The first attempt runs on the next loop turn, so that no outcome (an immediate refusal included)
     * reaches the caller's callbacks before mk_link_dial has returned the link. */
    if (!l->dial_stagger) l->dial_stagger = evtimer_new(l->net->base, on_stagger, l);
    struct timeval now = {0, 0};
    if (!l->dial_stagger || evtimer_add(l->dial_stagger, &now) != 0) start_next(l);
}

mk_link_t *mk_link_dial(mk_network_t *n, const mk_peer_addr_t *to, const char *alpn, unsigned flags,
                        const mk_link_ops_t *ops, void *ctx, mk_error_t *e) {
    size_t alen = alpn ? strlen(alpn) : 0;
    if (alen == 0 || alen > MK_ALPN_MAX) {
        MK_ERR(e, MK_EINVAL, "alpn must be 1..%d bytes, got %zu", MK_ALPN_MAX, alen);
        return NULL;
    }
    if (mk_id_eq(&to->peer, &n->self)) {
        MK_ERR(e, MK_EINVAL, "cannot dial our own PeerId %s", n->self_short);
        return NULL;
    }
    if (atomic_load(&n->state) != MK_NET_ONLINE || n->stopping_links) {
        MK_ERR(e, MK_ETERMINATED, "network is stopping");
        return NULL;
    }
    mk_peer_addr_t resolved = *to;
    if (resolved.naddrs == 0 && mk_net_lookup(n, &to->peer, &resolved) != MK_OK) {
        char who[MK_ID_SHORT_LEN + 1];
        MK_ERR(e, MK_ENOTFOUND, "no address known for peer %s", mk_id_short(&to->peer, who));
        return NULL;
    }
    if (resolved.naddrs > MK_ADDR_MAX) resolved.naddrs = MK_ADDR_MAX;
    if (n->nlinks >= n->cfg.max_links) {
        MK_ERR(e, MK_EFULL, "max_links (%u) reached", n->cfg.max_links);
        return NULL;
    }
    mk_link_t *l = mk_link_alloc(n, true, alpn);
    if (!l) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    l->flags = flags;
    l->peer = to->peer;
    l->tls.expected = to->peer;
    mk_id_short(&l->peer, l->peer_short);
    l->to = resolved;
    mk_link_set_ops(l, ops, ctx);
    mk_link_retain(l);  /* the caller's reference */
    mk_dial_start(l);
    return l;
}
