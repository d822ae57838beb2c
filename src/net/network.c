/* net/network.c — the network object: configuration checks, start-up (identity, TLS context, binds,
 * metrics endpoint, loop thread), graceful shutdown, local address queries and link metrics. */
#include "net/net_internal.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "net/metrics_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MK_IFACE_RESCAN_MS 30000

const char *mk_close_code_str(uint32_t code) {
    switch (code) {
    case MK_CLOSE_INVALID_ALPN: return "InvalidAlpn";
    case MK_CLOSE_DIFFERENT_NETWORK: return "DifferentNetwork";
    case MK_CLOSE_CANCELLED: return "Cancelled";
    case MK_CLOSE_UNEXPECTED: return "UnexpectedClose";
    case MK_CLOSE_HANDSHAKE_TIMEOUT: return "HandshakeTimeout";
    case MK_CLOSE_SUCCESS: return "Success";
    case MK_CLOSE_GRACEFUL_SHUTDOWN: return "GracefulShutdown";
    case MK_CLOSE_PROTOCOL_VIOLATION: return "ProtocolViolation";
    case MK_CLOSE_UNKNOWN_PEER: return "UnknownPeer";
    case MK_CLOSE_STREAM_NOT_ALLOWED: return "NotAllowed";
    case MK_CLOSE_STREAM_NOT_FOUND: return "StreamNotFound";
    case MK_CLOSE_STREAM_TOO_SLOW: return "TooSlow";
    case MK_CLOSE_STREAM_NO_CAPACITY: return "NoCapacity";
    case MK_CLOSE_GROUP_INVALID_HANDSHAKE: return "InvalidHandshake";
    case MK_CLOSE_GROUP_NOT_ALLOWED: return "NotAllowed";
    case MK_CLOSE_GROUP_NOT_FOUND: return "GroupNotFound";
    case MK_CLOSE_GROUP_INVALID_PROOF: return "InvalidProof";
    case MK_CLOSE_GROUP_TIMEOUT: return "Timeout";
    case MK_CLOSE_GROUP_ALREADY_BONDED: return "AlreadyBonded";
    default: return NULL;
    }
}

/* ---- configuration ---- */

static char *dup_str(mk_network_t *n, size_t *used, const char *s) {
    if (!s || *used >= sizeof n->strings / sizeof n->strings[0]) return NULL;
    char *c = strdup(s);
    if (c) n->strings[(*used)++] = c;
    return c;
}

static int check_range(mk_error_t *e, const char *field, uint32_t v, uint32_t lo, uint32_t hi) {
    if (v < lo || v > hi) return MK_ERR(e, MK_EINVAL, "%s: %u out of range %u..%u", field, v, lo, hi);
    return MK_OK;
}

static int apply_config(mk_network_t *n, const mk_network_config_t *in, mk_error_t *e) {
    const mk_network_config_t d = MK_NETWORK_CONFIG_DEFAULT;
    mk_network_config_t *c = &n->cfg;
    *c = *in;
    size_t used = 0;
    if (!in->network && mk_id_is_zero(&in->network_id))
        return MK_ERR(e, MK_EINVAL, "network: required (a name, a 64-hex id, or network_id)");
    if (in->network) {
        mk_id_t id = mk_id_from_str(in->network);
        if (!mk_id_is_zero(&in->network_id) && !mk_id_eq(&id, &in->network_id))
            return MK_ERR(e, MK_EINVAL, "network and network_id are both set and differ");
        n->id = id;
    } else {
        n->id = in->network_id;
    }
    c->network = NULL;
    c->network_id = n->id;
    memset(&c->discovery, 0, sizeof c->discovery);  /* borrowed strings: discovery copies what it keeps */
#define DEF(f) if (!c->f) c->f = d.f
    DEF(max_frame_size); DEF(connect_timeout_ms); DEF(handshake_timeout_ms); DEF(write_buffer_bytes);
    DEF(read_buffer_bytes); DEF(max_links); DEF(max_pending_handshakes); DEF(keepalive_idle_s);
    DEF(shutdown_linger_ms);
#undef DEF
    int rc;
    if ((rc = check_range(e, "max_frame_size", c->max_frame_size, 1024, 1u << 30))) return rc;
    if ((rc = check_range(e, "connect_timeout_ms", c->connect_timeout_ms, 1, 600000))) return rc;
    if ((rc = check_range(e, "handshake_timeout_ms", c->handshake_timeout_ms, 1, 600000))) return rc;
    if ((rc = check_range(e, "write_buffer_bytes", c->write_buffer_bytes, 1024, 1u << 30))) return rc;
    if ((rc = check_range(e, "read_buffer_bytes", c->read_buffer_bytes, 1024, 1u << 30))) return rc;
    if ((rc = check_range(e, "max_links", c->max_links, 1, 1u << 20))) return rc;
    if ((rc = check_range(e, "max_pending_handshakes", c->max_pending_handshakes, 1, 1u << 20))) return rc;
    if ((rc = check_range(e, "shutdown_linger_ms", c->shutdown_linger_ms, 1, 600000))) return rc;
    if (c->keepalive_idle_s != MK_KEEPALIVE_OFF && (rc = check_range(e, "keepalive_idle_s", c->keepalive_idle_s, 1, 86400)))
        return rc;
    for (size_t i = 0; i <= MK_ADDR_MAX; i++) { c->bind[i] = NULL; c->advertise[i] = NULL; }
    for (size_t i = 0; i < MK_ADDR_MAX && in->bind[i]; i++) {
        struct sockaddr_storage ss;
        const char *why;
        if (mk_sockaddr_parse(in->bind[i], c->port, false, &ss, &why) != MK_OK)
            return MK_ERR(e, MK_EINVAL, "bind[%zu]: %s (\"%s\")", i, why, in->bind[i]);
        if (!(c->bind[i] = dup_str(n, &used, in->bind[i]))) return MK_ERR(e, MK_ENOMEM, "out of memory");
    }
    if (in->bind[MK_ADDR_MAX]) return MK_ERR(e, MK_EINVAL, "bind: more than %d entries", MK_ADDR_MAX);
    for (size_t i = 0; i < MK_ADDR_MAX && in->advertise[i]; i++) {
        struct sockaddr_storage ss;
        const char *why;
        if (mk_sockaddr_parse(in->advertise[i], 0, true, &ss, &why) != MK_OK)
            return MK_ERR(e, MK_EINVAL, "advertise[%zu]: %s (\"%s\")", i, why, in->advertise[i]);
        if (!(c->advertise[i] = dup_str(n, &used, in->advertise[i]))) return MK_ERR(e, MK_ENOMEM, "out of memory");
    }
    if (in->advertise[MK_ADDR_MAX]) return MK_ERR(e, MK_EINVAL, "advertise: more than %d entries", MK_ADDR_MAX);
    if (in->metrics_addr) {
        struct sockaddr_storage ss;
        const char *why;
        if (mk_sockaddr_parse(in->metrics_addr, 0, true, &ss, &why) != MK_OK)
            return MK_ERR(e, MK_EINVAL, "metrics_addr: %s (\"%s\")", why, in->metrics_addr);
        if (!(c->metrics_addr = dup_str(n, &used, in->metrics_addr))) return MK_ERR(e, MK_ENOMEM, "out of memory");
    }
    if (in->secret_key) n->sk = *in->secret_key;
    else if (mk_secret_key_generate(&n->sk) != MK_OK) return MK_ERR(e, MK_EIO, "secret_key: CSPRNG failure");
    c->secret_key = NULL;
    return MK_OK;
}

/* ---- metrics glue ---- */

mk_registry_t *mk_net_registry(mk_network_t *n) { return n->reg; }
const char *mk_net_self(const mk_network_t *n) { return n->self_short; }

void mk_net_link_metrics(mk_network_t *n, mk_link_t *l) {
    const char *kv[] = {"alpn", l->alpn, NULL};
    l->m.frames_sent = mk_metrics_counter(n->reg, "mosaik_network_frames_sent", kv);
    l->m.frames_received = mk_metrics_counter(n->reg, "mosaik_network_frames_received", kv);
    l->m.egress = mk_metrics_counter(n->reg, "mosaik_network_egress_bytes", kv);
    l->m.ingress = mk_metrics_counter(n->reg, "mosaik_network_ingress_bytes", kv);
    l->m.send_full = mk_metrics_counter(n->reg, "mosaik_network_send_full", kv);
    l->m.active = mk_metrics_gauge(n->reg, "mosaik_network_connections_active", kv);
}

void mk_net_count_close(mk_network_t *n, const char *alpn, uint32_t code, bool remote) {
    char cs[16];
    snprintf(cs, sizeof cs, "%u", code);
    const char *kv[] = {"alpn", alpn[0] ? alpn : "-", "code", cs, "by", remote ? "remote" : "local", NULL};
    mk_counter_add(mk_metrics_counter(n->reg, "mosaik_network_connections_closed", kv), 1);
}

void mk_net_count_hs_failure(mk_network_t *n, bool dialer, const char *reason) {
    const char *kv[] = {"dir", dialer ? "out" : "in", "reason", reason, NULL};
    mk_counter_add(mk_metrics_counter(n->reg, "mosaik_network_handshake_failures", kv), 1);
}

void mk_net_count_violation(mk_network_t *n, const char *alpn, const char *what) {
    const char *kv[] = {"alpn", alpn[0] ? alpn : "-", "what", what, NULL};
    mk_counter_add(mk_metrics_counter(n->reg, "mosaik_network_protocol_violations", kv), 1);
}

void mk_net_count_opened(mk_network_t *n, const char *alpn, bool dialer) {
    const char *kv[] = {"alpn", alpn, "dir", dialer ? "out" : "in", NULL};
    mk_counter_add(mk_metrics_counter(n->reg, "mosaik_network_connections_opened", kv), 1);
}

/* ---- address book ---- */

void mk_net_observe(mk_network_t *n, const mk_peer_addr_t *addr) {
    if (!addr->naddrs || mk_id_eq(&addr->peer, &n->self)) return;
    size_t victim = 0;
    for (size_t i = 0; i < n->nbook; i++) {
        if (mk_id_eq(&n->book[i].addr.peer, &addr->peer)) {
            n->book[i].addr = *addr;
            n->book[i].used = ++n->book_clock;
            return;
        }
        if (n->book[i].used < n->book[victim].used) victim = i;
    }
    if (n->nbook < MK_BOOK_MAX) {
        if (!n->book) n->book = calloc(MK_BOOK_MAX, sizeof *n->book);
        if (!n->book) return;
        victim = n->nbook++;
    }
    n->book[victim].addr = *addr;
    n->book[victim].used = ++n->book_clock;
}

int mk_net_lookup(mk_network_t *n, const mk_peer_id_t *peer, mk_peer_addr_t *out) {
    for (size_t i = 0; i < n->nbook; i++) {
        if (mk_id_eq(&n->book[i].addr.peer, peer)) {
            n->book[i].used = ++n->book_clock;
            *out = n->book[i].addr;
            return MK_OK;
        }
    }
    return MK_ENOTFOUND;
}

/* ---- RTT observer and interface rescans ---- */

static void on_rtt_timer(evutil_socket_t fd, short what, void *arg) {
    mk_network_t *n = arg;
    (void)fd;
    (void)what;
    for (mk_link_t *l = n->links; l; l = l->next) {
        uint32_t srtt, var;
        if (l->phase != MK_LINK_OPEN || mk_link_rtt(l, &srtt, &var) != MK_OK) continue;
        mk_hist_observe(n->m_rtt, (double)srtt / 1e6);
        if (n->rtt_fn) n->rtt_fn(n->rtt_ctx, &l->peer, srtt);
    }
}

void mk_net_set_rtt_observer(mk_network_t *n, mk_rtt_fn fn, void *ctx, uint32_t interval_ms) {
    n->rtt_fn = fn;
    n->rtt_ctx = ctx;
    if (n->rtt_timer) {
        event_free(n->rtt_timer);
        n->rtt_timer = NULL;
    }
    if (!interval_ms) interval_ms = 5000;
    n->rtt_timer = event_new(n->base, -1, EV_PERSIST, on_rtt_timer, n);
    struct timeval tv = {(time_t)(interval_ms / 1000), (suseconds_t)((interval_ms % 1000) * 1000)};
    if (n->rtt_timer) event_add(n->rtt_timer, &tv);
}

void mk_net_on_addrs_changed(mk_network_t *n, mk_addrs_fn fn, void *ctx) {
    n->addrs_fn = fn;
    n->addrs_ctx = ctx;
}

static void on_iface_timer(evutil_socket_t fd, short what, void *arg) {
    mk_network_t *n = arg;
    (void)fd;
    (void)what;
    mk_peer_addr_t now;
    mk_net_derive_addrs(n, &now);
    pthread_mutex_lock(&n->amu);
    bool changed = memcmp(&now, &n->published, sizeof now) != 0;
    if (changed) n->published = now;
    pthread_mutex_unlock(&n->amu);
    if (changed && n->addrs_fn) n->addrs_fn(n->addrs_ctx, n);
}

/* ---- lifecycle ---- */


static void destroy(mk_network_t *n) {
    for (int i = MK_SUBSYS_COUNT - 1; i >= 0; i--)
        if (n->subsys[i].state && n->subsys[i].destroy) n->subsys[i].destroy(n->subsys[i].state);
    if (n->http) mk_metrics_http_stop(n->http);
    if (n->wake_ev) event_free(n->wake_ev);  /* left only when the loop never ran */
    if (n->heartbeat) event_free(n->heartbeat);
    if (n->wake_fd >= 0) close(n->wake_fd);
    mk_net_close_listeners(n);
    if (n->iface_timer) event_free(n->iface_timer);
    if (n->rtt_timer) event_free(n->rtt_timer);
    if (n->stop_timer) event_free(n->stop_timer);
    if (n->base) event_base_free(n->base);
    if (n->ssl_ctx) SSL_CTX_free(n->ssl_ctx);
    mk_registry_free(n->reg);
    free(n->book);
    for (size_t i = 0; i < sizeof n->strings / sizeof n->strings[0]; i++) free(n->strings[i]);
    mk_secret_key_wipe(&n->sk);
    pthread_mutex_destroy(&n->qmu);
    pthread_mutex_destroy(&n->amu);
    pthread_mutex_destroy(&n->rmu);
    free(n);
}

mk_network_t *mk_net_new(const mk_network_config_t *cfg, mk_error_t *e) {
    if (!cfg) {
        MK_ERR(e, MK_EINVAL, "config is required");
        return NULL;
    }
    mk_network_t *n = calloc(1, sizeof *n);
    if (!n) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&n->qmu, NULL);
    pthread_mutex_init(&n->amu, NULL);
    pthread_mutex_init(&n->rmu, NULL);
    n->wake_fd = -1;
    for (size_t i = 0; i < 2 * MK_ADDR_MAX; i++) n->listen_fds[i] = -1;
    if (apply_config(n, cfg, e) != MK_OK) goto fail;
    n->self = mk_secret_key_public(&n->sk);
    mk_id_short(&n->self, n->self_short);
    char net_short[MK_ID_SHORT_LEN + 1];
    const char *const_kv[] = {"network", mk_id_short(&n->id, net_short), "peer", n->self_short, NULL};
    n->reg = mk_registry_new(const_kv);
    struct event_config *ec = event_config_new();
    if (ec) event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
    n->base = ec ? event_base_new_with_config(ec) : NULL;
    if (ec) event_config_free(ec);
    if (!n->reg || !n->base) {
        MK_ERR(e, MK_ENOMEM, "cannot create the event loop or metrics registry");
        goto fail;
    }
    n->m_pending = mk_metrics_gauge(n->reg, "mosaik_network_handshakes_pending", NULL);
    n->m_queued = mk_metrics_gauge(n->reg, "mosaik_network_commands_queued", NULL);
    n->m_rtt = mk_metrics_hist(n->reg, "mosaik_network_rtt_seconds", NULL);
    n->m_loop_lag = mk_metrics_hist(n->reg, "mosaik_network_loop_lag_seconds", NULL);
    const char *in_kv[] = {"dir", "in", NULL}, *out_kv[] = {"dir", "out", NULL};
    n->m_hs_in = mk_metrics_hist(n->reg, "mosaik_network_handshake_seconds", in_kv);
    n->m_hs_out = mk_metrics_hist(n->reg, "mosaik_network_handshake_seconds", out_kv);
    if (!(n->ssl_ctx = mk_tls_ctx_new(&n->sk, e))) goto fail;
    if (mk_net_bind_all(n, e) != MK_OK) goto fail;
    if (n->cfg.metrics_addr && !(n->http = mk_metrics_http_start(n->base, n->cfg.metrics_addr, n->reg, e))) goto fail;
    mk_net_derive_addrs(n, &n->published);
    n->iface_timer = event_new(n->base, -1, EV_PERSIST, on_iface_timer, n);
    struct timeval rescan = {MK_IFACE_RESCAN_MS / 1000, 0};
    if (n->iface_timer) event_add(n->iface_timer, &rescan);
    mk_net_set_rtt_observer(n, NULL, NULL, 5000);
    return n;
fail:
    destroy(n);
    return NULL;
}

int mk_net_install(mk_network_t *n, mk_subsys_id_t id, const mk_subsystem_t *s, mk_error_t *e) {
    if (n->started) return MK_ERR(e, MK_EINVAL, "subsystems install before the network starts");
    if ((unsigned)id >= MK_SUBSYS_COUNT) return MK_ERR(e, MK_EINVAL, "subsystem id %d out of range", (int)id);
    if (n->subsys[id].state) return MK_ERR(e, MK_EEXIST, "subsystem %d is already installed", (int)id);
    n->subsys[id] = *s;
    return MK_OK;
}

void *mk_net_subsystem(const mk_network_t *n, mk_subsys_id_t id) {
    return (unsigned)id < MK_SUBSYS_COUNT ? n->subsys[id].state : NULL;
}

static void start_subsystems(mk_network_t *n, void *arg) {
    (void)arg;
    for (int i = 0; i < MK_SUBSYS_COUNT; i++)
        if (n->subsys[i].state && n->subsys[i].start) n->subsys[i].start(n, n->subsys[i].state);
}

int mk_net_start(mk_network_t *n, mk_error_t *e) {
    atomic_store(&n->state, MK_NET_ONLINE);
    if (mk_loop_start(n, e) != MK_OK) {
        atomic_store(&n->state, 0);
        return e ? e->code : MK_EIO;
    }
    n->started = true;
    /* queued before any API call can be: the start hooks run first on the loop */
    mk_loop_post(n, start_subsystems, NULL, NULL);
    char net_short[MK_ID_SHORT_LEN + 1];
    MK_LOGF(MK_MOD_NET, MK_LOG_INFO, n->self_short, "network online network=%s", mk_id_short(&n->id, net_short));
    return MK_OK;
}

struct event_base *mk_net_base(mk_network_t *n) { return n->base; }

#ifdef MK_TEST_HOOKS
void mk_network_test_kill(mk_network_t *n) {
    if (!n) return;
    n->killed = true;  /* read by shutdown_cmd on the loop, after the queue's mutex hand-off */
    mk_net_free(n);
}
#endif
const mk_secret_key_t *mk_net_secret_key(const mk_network_t *n) { return &n->sk; }
const mk_network_config_t *mk_net_config(const mk_network_t *n) { return &n->cfg; }

static void on_stop_timer(evutil_socket_t fd, short what, void *arg) {
    mk_network_t *n = arg;
    (void)fd;
    (void)what;
    while (n->links) mk_link_cut(n->links, MK_CLOSE_GRACEFUL_SHUTDOWN, "network shutting down");
    event_base_loopbreak(n->base);
}

static void shutdown_cmd(mk_network_t *n, void *arg) {
    (void)arg;
#ifdef MK_TEST_HOOKS
    if (n->killed) {  /* a crash: nothing leaves the node, but the subsystems still release their handles */
        n->stopping_links = true;
        while (n->links) mk_link_test_cut_now(n->links);
    }
#endif
    for (int i = MK_SUBSYS_COUNT - 1; i >= 0; i--)  /* groups, streams, then discovery */
        if (n->subsys[i].state && n->subsys[i].stop) n->subsys[i].stop(n, n->subsys[i].state);
    n->stopping_links = true;
    mk_net_close_listeners(n);
    /* routes of public listeners: wake their waiters; the route's reference is dropped */
    pthread_mutex_lock(&n->rmu);
    size_t nroutes = n->nroutes;
    mk_route_t routes[MK_ROUTES_MAX];
    memcpy(routes, n->routes, sizeof routes);
    n->nroutes = 0;
    pthread_mutex_unlock(&n->rmu);
    for (size_t i = 0; i < nroutes; i++) mk_listener_detach_route(n, &routes[i]);
#ifdef MK_TEST_HOOKS
    while (n->killed && n->links) mk_link_test_cut_now(n->links);
#endif
    mk_net_close_all_links(n, MK_CLOSE_GRACEFUL_SHUTDOWN);
    if (!n->links) {
        event_base_loopbreak(n->base);
        return;
    }
    n->stop_timer = evtimer_new(n->base, on_stop_timer, n);
    uint32_t ms = n->cfg.shutdown_linger_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    if (n->stop_timer) evtimer_add(n->stop_timer, &tv);
    else on_stop_timer(-1, 0, n);
}

void mk_net_free(mk_network_t *n) {
    if (!n) return;
    if (!n->started) {
        destroy(n);
        return;
    }
    if (mk_network_on_loop(n)) {
        MK_LOGF(MK_MOD_NET, MK_LOG_ERROR, n->self_short, "mk_network_free called on the loop thread");
        abort();
    }
    pthread_mutex_lock(&n->qmu);
    atomic_store(&n->state, MK_NET_STOPPING);
    pthread_mutex_unlock(&n->qmu);
    mk_loop_stop_and_join(n, shutdown_cmd);
    /* Links still referenced by users lost their network pointer when they ended; wait for API calls
     * that entered before that to leave. */
    while (atomic_load(&n->api_refs) > 0) usleep(1000);
    MK_LOGF(MK_MOD_NET, MK_LOG_INFO, n->self_short, "network stopped");
    destroy(n);
}

int mk_network_wait_online(mk_network_t *n, int timeout_ms, mk_error_t *e) {
    (void)timeout_ms;
    if (atomic_load(&n->state) != MK_NET_ONLINE) return MK_ERR(e, MK_ETERMINATED, "network is stopping");
    return MK_OK;
}

bool mk_network_is_online(const mk_network_t *n) { return atomic_load(&n->state) == MK_NET_ONLINE; }
mk_network_id_t mk_network_id(const mk_network_t *n) { return n->id; }
mk_peer_id_t mk_network_peer_id(const mk_network_t *n) { return n->self; }
void mk_network_secret_key(const mk_network_t *n, mk_secret_key_t *out) { *out = n->sk; }

bool mk_network_on_loop(const mk_network_t *n) {
    return n && pthread_equal(atomic_load(&((mk_network_t *)(uintptr_t)n)->loop_tid), pthread_self());
}

int mk_network_addr(const mk_network_t *n, mk_peer_addr_t *out) {
    mk_network_t *m = (mk_network_t *)(uintptr_t)n;
    pthread_mutex_lock(&m->amu);
    *out = m->published;
    pthread_mutex_unlock(&m->amu);
    return MK_OK;
}

int mk_network_addr_str(const mk_network_t *n, char *buf, size_t cap) {
    mk_peer_addr_t a;
    mk_network_addr(n, &a);
    return mk_peer_addr_format(&a, buf, cap);
}

int mk_network_metrics_addr(const mk_network_t *n, char *buf, size_t cap) {
    if (!n->http) return MK_ENOTFOUND;
    return mk_metrics_http_bound(n->http, buf, cap);
}

int mk_metrics_render(mk_network_t *n, mk_buf_t *out, mk_error_t *e) {
    if (!n || !out) return MK_ERR(e, MK_EINVAL, "network and output are required");
    int rc = mk_registry_render(n->reg, out);
    return rc ? MK_ERR(e, rc, "rendering metrics failed") : MK_OK;
}

int mk_metrics_foreach(mk_network_t *n, void (*fn)(void *ctx, const mk_metric_sample_t *s), void *ctx,
                       mk_error_t *e) {
    if (!n || !fn) return MK_ERR(e, MK_EINVAL, "network and callback are required");
    mk_registry_foreach(n->reg, fn, ctx);
    return MK_OK;
}
