/* net/accept.c — listening sockets, inbound connections (limits on links and pending handshakes) and
 * the ALPN routing table that decides which handler receives a verified inbound link. */
#include "net/net_internal.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MK_LISTEN_BACKLOG 511
#define MK_BIND_RETRIES 5

const mk_route_t *mk_net_route(mk_network_t *n, const char *alpn) {
    const mk_route_t *found = NULL;
    pthread_mutex_lock(&n->rmu);
    for (size_t i = 0; i < n->nroutes; i++)
        if (strcmp(n->routes[i].alpn, alpn) == 0) found = &n->routes[i];
    pthread_mutex_unlock(&n->rmu);
    return found;  /* entries move only on the loop thread, which is the caller */
}

int mk_net_register(mk_network_t *n, const char *alpn, mk_accept_fn fn, void *ctx, mk_error_t *e) {
    size_t len = strlen(alpn);
    if (len == 0 || len > MK_ALPN_MAX) return MK_ERR(e, MK_EINVAL, "alpn must be 1..%d bytes", MK_ALPN_MAX);
    int rc = MK_OK;
    pthread_mutex_lock(&n->rmu);
    for (size_t i = 0; i < n->nroutes; i++)
        if (strcmp(n->routes[i].alpn, alpn) == 0) rc = MK_ERR(e, MK_EEXIST, "alpn %s is already registered", alpn);
    if (rc == MK_OK && n->nroutes == MK_ROUTES_MAX)
        rc = MK_ERR(e, MK_EFULL, "routing table full (%d ALPNs)", MK_ROUTES_MAX);
    if (rc == MK_OK) {
        mk_route_t *r = &n->routes[n->nroutes++];
        memcpy(r->alpn, alpn, len + 1);
        r->fn = fn;
        r->ctx = ctx;
    }
    pthread_mutex_unlock(&n->rmu);
    return rc;
}

void mk_net_unregister(mk_network_t *n, const char *alpn) {
    pthread_mutex_lock(&n->rmu);
    for (size_t i = 0; i < n->nroutes; i++) {
        if (strcmp(n->routes[i].alpn, alpn) == 0) {
            n->routes[i] = n->routes[n->nroutes - 1];
            n->nroutes--;
            break;
        }
    }
    pthread_mutex_unlock(&n->rmu);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg) {
    mk_network_t *n = arg;
    (void)what;
    for (int burst = 0; burst < 64; burst++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                MK_LOGF_RL(MK_MOD_NET, MK_LOG_WARN, n->self_short, "accept failed: %s", strerror(errno));
            return;
        }
        if (n->stopping_links || n->nlinks >= n->cfg.max_links || n->npending_in >= n->cfg.max_pending_handshakes) {
            mk_net_count_hs_failure(n, false, "limit");
            MK_LOGF_RL(MK_MOD_NET, MK_LOG_WARN, n->self_short,
                       "inbound connection refused: %zu links, %zu pending (limits %u, %u)", n->nlinks,
                       n->npending_in, n->cfg.max_links, n->cfg.max_pending_handshakes);
            close(fd);
            continue;
        }
        mk_link_t *l = mk_link_alloc(n, false, NULL);
        if (!l) {
            close(fd);
            continue;
        }
        l->started_us = mk_now_us();
        l->counted_pending = true;
        n->npending_in++;
        mk_gauge_set(n->m_pending, (int64_t)n->npending_in);
        mk_link_adopt_socket(l, fd);
    }
}

static int bind_one(mk_network_t *n, const struct sockaddr_storage *ss, const char *what, mk_error_t *e) {
    socklen_t slen = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int en = errno;
        if (ss->ss_family == AF_INET6 && (en == EAFNOSUPPORT || en == EPROTONOSUPPORT)) return MK_ENOTSUP;
        return MK_ERR_SYS(e, MK_EIO, en, "%s: socket: %s", what, strerror(en));
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss->ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)ss, slen) != 0 || listen(fd, MK_LISTEN_BACKLOG) != 0) {
        int en = errno;
        close(fd);
        if (ss->ss_family == AF_INET6 && en == EADDRNOTAVAIL) return MK_ENOTSUP;
        char text[80];
        mk_sockaddr_format(ss, text, sizeof text);
        return MK_ERR_SYS(e, MK_EIO, en, "%s: cannot listen on %s: %s", what, text, strerror(en));
    }
    struct event *ev = event_new(n->base, fd, EV_READ | EV_PERSIST, on_accept, n);
    if (!ev || event_add(ev, NULL) != 0) {
        if (ev) event_free(ev);
        close(fd);
        return MK_ERR(e, MK_ENOMEM, "%s: cannot watch the listening socket", what);
    }
    n->listen_fds[n->nlisten] = fd;
    n->listen_evs[n->nlisten] = ev;
    n->nlisten++;
    return MK_OK;
}

static uint16_t bound_port(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return 0;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

static void set_port(struct sockaddr_storage *ss, uint16_t port) {
    if (ss->ss_family == AF_INET6) ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    else ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static uint16_t get_port(const struct sockaddr_storage *ss) {
    return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                           : ((const struct sockaddr_in *)ss)->sin_port);
}

void mk_net_close_listeners(mk_network_t *n) {
    for (size_t i = 0; i < n->nlisten; i++) {
        if (n->listen_evs[i]) event_free(n->listen_evs[i]);
        if (n->listen_fds[i] >= 0) close(n->listen_fds[i]);
        n->listen_evs[i] = NULL;
        n->listen_fds[i] = -1;
    }
    n->nlisten = 0;
}

/* Binds every configured address (runs before the loop thread starts). Ports of 0 share the first
 * ephemeral port picked; EADDRINUSE on a later bind retries the whole set with a new port. */
int mk_net_bind_all(mk_network_t *n, mk_error_t *e) {
    static const char *const defaults[] = {"0.0.0.0", "[::]", NULL};
    const char *const *binds = n->cfg.bind[0] ? n->cfg.bind : defaults;
    struct sockaddr_storage addrs[MK_ADDR_MAX];
    bool explicit_port[MK_ADDR_MAX];
    size_t count = 0;
    for (size_t i = 0; binds[i] && i < MK_ADDR_MAX; i++, count++) {
        const char *why = NULL;
        if (mk_sockaddr_parse(binds[i], n->cfg.port, false, &addrs[i], &why) != MK_OK)
            return MK_ERR(e, MK_EINVAL, "bind[%zu]: %s", i, why ? why : "malformed address");
        explicit_port[i] = get_port(&addrs[i]) != 0;
    }
    for (int attempt = 0; attempt < MK_BIND_RETRIES; attempt++) {
        uint16_t shared = n->cfg.port;
        int rc = MK_OK;
        mk_error_t err = {0};
        size_t ok = 0;
        for (size_t i = 0; i < count && rc == MK_OK; i++) {
            struct sockaddr_storage ss = addrs[i];
            if (!explicit_port[i]) set_port(&ss, shared);
            char what[32];
            snprintf(what, sizeof what, "bind[%zu]", i);
            int r = bind_one(n, &ss, what, &err);
            if (r == MK_ENOTSUP) continue;  /* no IPv6 stack: skipped */
            if (r != MK_OK) {
                rc = r;
                break;
            }
            ok++;
            if (!explicit_port[i] && shared == 0) shared = bound_port(n->listen_fds[n->nlisten - 1]);
        }
        if (rc == MK_OK && ok > 0) return MK_OK;
        mk_net_close_listeners(n);
        bool retry = rc != MK_OK && err.sys_errno == EADDRINUSE && n->cfg.port == 0 && ok > 0;
        if (!retry) {
            if (rc == MK_OK) return MK_ERR(e, MK_EIO, "bind: no address could be bound");
            mk_err_copy(e, &err);
            return rc;
        }
    }
    return MK_ERR(e, MK_EIO, "bind: ports kept colliding after %d attempts", MK_BIND_RETRIES);
}
