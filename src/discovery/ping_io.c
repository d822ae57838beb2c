/* discovery/ping_io.c — /mosaik/ping (spec 20 §5): answering pings with our current entry, pinging on
 * demand (mk_discovery_ping), RTT probes of peers of interest (bounded per tick, oldest sample first),
 * and Ping/Pong on active announce links. */
#include "discovery/disc_int.h"

#include "core/error.h"
#include "core/time.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define PING_TIMEOUT_MS 5000

typedef struct mk_disc_ping {
    struct mk_disc_ping *next;
    mk_disc_t *d;
    mk_link_t *link;
    mk_peer_id_t peer;
    bool inbound, answered;
    uint64_t nonce;
    int64_t sent_us, started_ms;
    void (*done)(void *ctx, int rc, uint64_t rtt_us, const mk_error_t *e);
    void *ctx;
} mk_disc_ping_t;

static const mk_link_ops_t ping_ops;

static void ping_unlink(mk_disc_t *d, mk_disc_ping_t *p) {
    for (mk_disc_ping_t **pp = &d->pings; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if (p->link) {
        mk_link_set_ops(p->link, NULL, NULL);
        mk_link_release(p->link);
    }
    free(p);
}

/* Closes a session's link without hearing back from it, and frees the session. */
static void ping_drop(mk_disc_t *d, mk_disc_ping_t *p, uint32_t code, const char *why) {
    if (p->link) {
        mk_link_set_ops(p->link, NULL, NULL);  /* closing reports synchronously otherwise */
        mk_link_close_async(p->link, code, why);
    }
    ping_unlink(d, p);
}

/* Ends an outbound ping with a result (done runs once). */
static void ping_finish(mk_disc_t *d, mk_disc_ping_t *p, int rc, uint64_t rtt_us, const mk_error_t *err) {
    void (*done)(void *, int, uint64_t, const mk_error_t *) = p->done;
    void *ctx = p->ctx;
    p->done = NULL;
    if (rc == MK_OK) mk_counter_add(d->m.probes_ok, 1);
    else mk_counter_add(d->m.probes_failed, 1);
    mk_disc_stat_add(d, &d->stats.rtt_probes, 1);
    if (p->link) {
        mk_link_t *l = p->link;
        p->link = NULL;
        mk_link_set_ops(l, NULL, NULL);
        mk_link_close_async(l, MK_CLOSE_SUCCESS, rc == MK_OK ? "pong received" : "ping failed");
        mk_link_release(l);
    }
    ping_unlink(d, p);
    mk_disc_publish_pending(d);  /* the Pong's entry is in the catalog when the caller wakes */
    if (done) done(ctx, rc, rtt_us, err);
}

static void ping_on_open(mk_link_t *l, void *ctx, int status, const mk_error_t *err) {
    mk_disc_ping_t *p = ctx;
    mk_disc_t *d = p->d;
    if (status != MK_OK) {
        mk_error_t e2;
        MK_ERR(&e2, status == MK_ETIMEDOUT ? MK_ETIMEDOUT : MK_EUNREACH, "ping: %s", err ? err->msg : "dial failed");
        ping_finish(d, p, e2.code, 0, &e2);
        return;
    }
    p->peer = mk_link_peer(l);
    mk_buf_t f = MK_BUF_INIT;
    if (mk_wire_encode_ping(&d->net_id, p->nonce, &f) == MK_OK) {
        p->sent_us = mk_now_us();
        mk_link_write(l, f.ptr, f.len);
    }
    mk_buf_free(&f);
}

static void ping_on_frame(mk_link_t *l, void *ctx, const uint8_t *data, size_t n) {
    (void)l;
    mk_disc_ping_t *p = ctx;
    mk_disc_t *d = p->d;
    mk_error_t err;
    if (p->inbound) {  /* the responder: Ping → Pong with our current entry, then the asker closes */
        mk_network_id_t net;
        uint64_t nonce;
        if (p->answered || mk_wire_decode_ping(data, n, &net, &nonce, &err) != MK_OK) {
            ping_drop(d, p, MK_CLOSE_PROTOCOL_VIOLATION, p->answered ? "second Ping" : err.msg);
            return;
        }
        if (!mk_id_eq(&net, &d->net_id)) {
            ping_drop(d, p, MK_CLOSE_DIFFERENT_NETWORK, "ping for another network");
            return;
        }
        p->answered = true;
        mk_buf_t f = MK_BUF_INIT;
        if (mk_wire_encode_pong(nonce, (mk_bytes_t){d->local->wire, d->local->wire_len}, &f) == MK_OK)
            mk_link_write(p->link, f.ptr, f.len);
        mk_buf_free(&f);
        return;
    }
    uint64_t nonce;
    mk_bytes_t entry;
    if (mk_wire_decode_pong(data, n, &nonce, &entry, &err) != MK_OK || nonce != p->nonce) {
        mk_error_t e2;
        MK_ERR(&e2, MK_EPROTO, "ping: bad Pong (%s)", nonce != p->nonce ? "nonce mismatch" : err.msg);
        ping_finish(d, p, MK_EPROTO, 0, &e2);
        return;
    }
    uint64_t rtt = (uint64_t)(mk_now_us() - p->sent_us);
    mk_store_result_t res = {0};
    mk_disc_merge(d, entry.ptr, entry.len, NULL, false, &res);
    mk_peer_entry_unref(res.entry);
    mk_disc_record_rtt(d, &p->peer, (uint32_t)rtt);
    ping_finish(d, p, MK_OK, rtt, NULL);
}

static void ping_on_close(mk_link_t *l, void *ctx, uint32_t code, bool remote, const char *reason) {
    (void)l;
    (void)remote;
    mk_disc_ping_t *p = ctx;
    mk_disc_t *d = p->d;
    if (p->inbound || !p->done) {
        ping_unlink(d, p);
        return;
    }
    mk_error_t err;
    MK_ERR(&err, code == MK_CLOSE_DIFFERENT_NETWORK ? MK_EWRONGNET : MK_EUNREACH, "ping: link closed (%u %s)", code,
           reason ? reason : "");
    p->link = NULL;
    mk_link_release(l);
    ping_finish(d, p, err.code, 0, &err);
}

static const mk_link_ops_t ping_ops = {.on_open = ping_on_open, .on_frame = ping_on_frame, .on_close = ping_on_close};

static void on_ping_accept(mk_network_t *n, void *ctx, mk_link_t *l) {
    (void)n;
    mk_disc_t *d = ctx;
    mk_disc_ping_t *p = calloc(1, sizeof *p);
    if (!p || d->stopping) {
        free(p);
        mk_link_close_async(l, MK_CLOSE_CANCELLED, "not now");
        mk_link_release(l);
        return;
    }
    p->d = d;
    p->link = l;
    p->inbound = true;
    p->peer = mk_link_peer(l);
    p->started_ms = mk_now_ms();
    p->next = d->pings;
    d->pings = p;
    mk_link_set_ops(l, &ping_ops, p);
}

int mk_ping_start(mk_disc_t *d, const mk_peer_addr_t *addr,
                  void (*done)(void *ctx, int rc, uint64_t rtt_us, const mk_error_t *e), void *ctx, mk_error_t *e) {
    mk_disc_ping_t *p = calloc(1, sizeof *p);
    if (!p) return MK_ERR(e, MK_ENOMEM, "out of memory");
    p->d = d;
    p->peer = addr->peer;
    p->nonce = mk_disc_rand(d);
    p->done = done;
    p->ctx = ctx;
    p->started_ms = mk_now_ms();
    p->next = d->pings;
    d->pings = p;
    mk_link_t *l = mk_link_dial(d->n, addr, MK_PING_ALPN, 0, &ping_ops, p, e);
    if (!l) {
        ping_unlink(d, p);
        return e ? e->code : MK_EUNREACH;
    }
    p->link = l;
    if (!evtimer_pending(d->probe_ev, NULL)) mk_disc_arm(d->probe_ev, 1000);
    return MK_OK;
}

/* Probe tick: time out old pings; probe active neighbours (and, with max_rtt, catalog peers) whose
 * newest sample is older than one interval, oldest first, at most rtt_probe_max. */
static void probe_done(void *ctx, int rc, uint64_t rtt_us, const mk_error_t *e) {
    (void)ctx;
    (void)rc;
    (void)rtt_us;
    (void)e;
}

/* Is a probe of peer already in flight (either kind)? */
static bool probing(const mk_disc_t *d, const mk_peer_id_t *peer) {
    for (size_t i = 0; i < d->napings; i++)
        if (mk_id_eq(&d->apings[i].peer, peer)) return true;
    for (const mk_disc_ping_t *p = d->pings; p; p = p->next)
        if (!p->inbound && mk_id_eq(&p->peer, peer)) return true;
    return false;
}

static void aping_remove(mk_disc_t *d, size_t i) { d->apings[i] = d->apings[--d->napings]; }

/* Probe tick (§5): time out old pings; then of the peers of interest — active neighbours, and every
 * catalog peer when max_rtt is set — those whose newest sample is older than one interval, oldest
 * first, at most rtt_probe_max: active neighbours get Ping on their announce link, others a
 * /mosaik/ping link. */
void mk_ping_probe_tick(mk_disc_t *d) {
    int64_t now = mk_now_ms(), now_us = mk_now_us();
    for (mk_disc_ping_t *p = d->pings, *next; p; p = next) {
        next = p->next;
        if (now - p->started_ms < PING_TIMEOUT_MS) continue;
        if (p->inbound) {
            ping_drop(d, p, MK_CLOSE_SUCCESS, "ping session over");
        } else {
            mk_error_t err;
            MK_ERR(&err, MK_ETIMEDOUT, "ping: no Pong within %d ms", PING_TIMEOUT_MS);
            ping_finish(d, p, MK_ETIMEDOUT, 0, &err);
        }
    }
    for (size_t i = 0; i < d->napings;) {
        if (now_us - d->apings[i].sent_us < (int64_t)PING_TIMEOUT_MS * 1000) {
            i++;
            continue;
        }
        mk_counter_add(d->m.probes_failed, 1);
        aping_remove(d, i);
    }
    if (d->stopping) return;
    size_t cap = d->cfg.c.rtt_probe_max < 64 ? d->cfg.c.rtt_probe_max : 64;
    mk_peer_id_t active[64], stale[64], *cand = active;
    size_t na = mk_announce_active(d, active, 64), nc;
    if (na > 64) na = 64;
    nc = na;
    if (d->cfg.c.max_rtt_ms) {  /* every catalog peer is of interest */
        size_t ns = mk_store_size(d->store);
        mk_peer_id_t *all = ns ? malloc(ns * sizeof *all) : NULL;
        if (all) {
            for (size_t i = 0; i < ns; i++) all[i] = *mk_peer_entry_id(mk_store_at(d->store, i));
            cand = all;
            nc = ns;
        }
    }
    size_t k = mk_rtt_stale(d->rtt, cand, nc, now - (int64_t)d->cfg.c.rtt_probe_interval_ms, stale, cap);
    if (cand != active) free(cand);
    for (size_t i = 0; i < k; i++) {
        if (probing(d, &stale[i])) continue;
        if (d->napings < MK_DISC_APINGS_MAX && mk_hpv_is_active(d->hpv, &stale[i])) {
            uint64_t nonce = mk_disc_rand(d);
            if (mk_announce_ping(d, &stale[i], nonce)) {
                d->apings[d->napings].peer = stale[i];
                d->apings[d->napings].nonce = nonce;
                d->apings[d->napings].sent_us = mk_now_us();
                d->napings++;
                continue;
            }
        }
        const mk_peer_entry_t *e = mk_store_get(d->store, &stale[i]);
        if (!e) continue;
        mk_peer_addr_t a;
        mk_peer_entry_peer_addr(e, &a);
        if (a.naddrs) mk_ping_start(d, &a, probe_done, NULL, NULL);
    }
}

static void on_probe(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_disc_t *d = arg;
    mk_ping_probe_tick(d);
    if (!d->stopping) mk_disc_arm(d->probe_ev, mk_disc_jitter(d, d->cfg.c.rtt_probe_interval_ms, 0.5));
}

/* A Pong on an announce link: a sample if it answers a Ping of ours to that peer (others are ignored). */
void mk_disc_pong(mk_disc_t *d, const mk_peer_id_t *peer, uint64_t nonce) {
    for (size_t i = 0; i < d->napings; i++) {
        if (d->apings[i].nonce != nonce || !mk_id_eq(&d->apings[i].peer, peer)) continue;
        int64_t rtt = mk_now_us() - d->apings[i].sent_us;
        aping_remove(d, i);
        mk_counter_add(d->m.probes_ok, 1);
        mk_disc_stat_add(d, &d->stats.rtt_probes, 1);
        mk_disc_record_rtt(d, peer, (uint32_t)(rtt > 0 ? rtt : 1));
        return;
    }
}

int mk_ping_install(mk_disc_t *d, mk_error_t *e) {
    d->probe_ev = event_new(mk_net_base(d->n), -1, 0, on_probe, d);
    if (!d->probe_ev) return MK_ERR(e, MK_ENOMEM, "out of memory");
    mk_disc_arm(d->probe_ev, mk_disc_jitter(d, d->cfg.c.rtt_probe_interval_ms, 0.5));
    return mk_net_register(d->n, MK_PING_ALPN, on_ping_accept, d, e);
}

void mk_ping_stop(mk_disc_t *d) {
    while (d->pings) {
        mk_disc_ping_t *p = d->pings;
        if (p->done) {
            mk_error_t err;
            MK_ERR(&err, MK_ETERMINATED, "network stopping");
            ping_finish(d, p, MK_ETERMINATED, 0, &err);
        } else {
            ping_drop(d, p, MK_CLOSE_GRACEFUL_SHUTDOWN, "node departing");
        }
    }
    if (d->probe_ev) {
        event_del(d->probe_ev);
    }
}
