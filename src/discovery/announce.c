/* discovery/announce.c — the overlay on the wire (/mosaik/announce, spec 20 §3): announce links to the
 * active view, the first-frame rules, executing the HyParView state machine's effects, merging the
 * entries every message carries, eager-push gossip with per-neighbour de-duplicating queues, the
 * bootstrap contacts with back-off, and the graceful departure. */
#include "discovery/disc_int.h"

#include "core/error.h"
#include "core/time.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_FRAME_TIMEOUT_MS 5000
#define MAX_PENDING_IN 64
#define BOOT_BACKOFF_MIN_MS 1000
#define BOOT_BACKOFF_MAX_MS 60000

static const mk_link_ops_t conn_ops;

/* ---- connections ---- */

static mk_disc_conn_t *conn_new(mk_disc_t *d, mk_link_t *l, const mk_peer_id_t *peer, bool inbound) {
    mk_disc_conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->d = d;
    c->link = l;
    if (peer) c->peer = *peer;
    c->inbound = inbound;
    c->since_ms = mk_now_ms();
    c->next = d->conns;
    d->conns = c;
    return c;
}

static mk_disc_conn_t *conn_of(mk_disc_t *d, const mk_peer_id_t *peer, bool active_only) {
    for (mk_disc_conn_t *c = d->conns; c; c = c->next)
        if (mk_id_eq(&c->peer, peer) && c->state != MK_CONN_CLOSING && (!active_only || c->state == MK_CONN_ACTIVE))
            return c;
    return NULL;
}

static bool conn_open(const mk_disc_conn_t *c) { return c->state == MK_CONN_AWAIT_REPLY || c->state == MK_CONN_ACTIVE; }

/* The link to talk to `peer` on: the one the current message came on, else an active one, else any
 * link whose opening exchange is done. NULL when none is usable yet. */
static mk_disc_conn_t *pick_conn(mk_disc_t *d, const mk_peer_id_t *peer) {
    if (d->cur_conn && conn_open(d->cur_conn) && mk_id_eq(&d->cur_conn->peer, peer)) return d->cur_conn;
    mk_disc_conn_t *any = NULL;
    for (mk_disc_conn_t *c = d->conns; c; c = c->next) {
        if (!mk_id_eq(&c->peer, peer) || !conn_open(c)) continue;
        if (c->state == MK_CONN_ACTIVE) return c;
        if (!any) any = c;
    }
    return any;
}

static void conn_unlink(mk_disc_t *d, mk_disc_conn_t *c) {
    if (d->cur_conn == c) d->cur_conn = NULL;
    for (mk_disc_conn_t **pp = &d->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    if (c->state == MK_CONN_PENDING_IN && d->npending_in) d->npending_in--;
    mk_gossip_queue_free(c->queue);
    free(c->pending_first);
    if (c->link) {
        mk_link_set_ops(c->link, NULL, NULL);
        mk_link_release(c->link);
    }
    free(c);
}

/* Ends a connection with a Close code (its on_close then does nothing more). */
static void conn_close(mk_disc_t *d, mk_disc_conn_t *c, uint32_t code, const char *why) {
    mk_link_t *l = c->link;
    c->link = NULL;
    if (l) {
        mk_link_set_ops(l, NULL, NULL);
        mk_link_close_async(l, code, why);
        mk_link_release(l);
    }
    conn_unlink(d, c);
}

static int conn_send(mk_disc_t *d, mk_disc_conn_t *c, const mk_buf_t *frame) {
    if (!c->link) return MK_ECLOSED;
    int rc = mk_link_write(c->link, frame->ptr, frame->len);
    if (rc == MK_OK) {
        mk_disc_stat_add(d, &d->stats.frames_out, 1);
        mk_counter_add(d->m.frames_out, 1);
    }
    return rc;
}

static void update_view_gauges(mk_disc_t *d) {
    mk_hpv_sizes_t sz;
    mk_hpv_sizes(d->hpv, &sz);
    mk_gauge_set(d->m.neighbors, (int64_t)sz.active);
    mk_gauge_set(d->m.passive, (int64_t)sz.passive);
    pthread_mutex_lock(&d->stats_mu);
    d->stats.active = sz.active;
    d->stats.passive = sz.passive;
    pthread_mutex_unlock(&d->stats_mu);
}

/* ---- entries for messages ---- */

/* The SignedEntry bytes of a peer we know (local entry for ourselves), or NULL. */
static const mk_peer_entry_t *entry_of(mk_disc_t *d, const mk_peer_id_t *peer) {
    if (mk_id_eq(peer, &d->self)) return d->local;
    const mk_peer_entry_t *e = mk_store_get(d->store, peer);
    return e && e->is_signed ? e : NULL;
}

static mk_bytes_t wire_of(const mk_peer_entry_t *e) {
    return (mk_bytes_t){e ? e->wire : NULL, e ? e->wire_len : 0};
}

/* ---- executing the overlay's effects ---- */

static void dial_peer(mk_disc_t *d, const mk_peer_id_t *peer, int kind, const mk_buf_t *first);

/* Makes c the peer's active link. Of crossing links the one dialed by the lower PeerId is kept (both
 * ends choose the same), the others close 200 quietly. The opener syncs catalogs (§3.1). */
static void activate(mk_disc_t *d, mk_disc_conn_t *c) {
    bool keep_outbound = memcmp(d->self.b, c->peer.b, 32) < 0;
    for (mk_disc_conn_t *x = d->conns; x; x = x->next)
        if (x != c && mk_id_eq(&x->peer, &c->peer) && conn_open(x) && x->inbound != keep_outbound &&
            c->inbound == keep_outbound) {
            c = x;  /* the preferred link of the pair exists: use it */
            break;
        }
    c->state = MK_CONN_ACTIVE;
    if (!c->queue) c->queue = mk_gossip_queue_new(d->cfg.c.gossip_flush_ms);
    for (mk_disc_conn_t *x = d->conns, *next; x; x = next) {
        next = x->next;
        if (x != c && mk_id_eq(&x->peer, &c->peer) && conn_open(x))
            conn_close(d, x, MK_CLOSE_SUCCESS, "crossing overlay link");
    }
    /* our entry goes first on a new active link, then the catalogs are synced by the opener */
    mk_gossip_queue_push(c->queue, d->local, true, mk_now_ms());
    event_active(d->flush_ev, EV_TIMEOUT, 0);
    if (!c->inbound) mk_sync_start(d, NULL, &c->peer, NULL, NULL, NULL);
}

static void run_effects(mk_disc_t *d) {
    mk_hpv_effect_t ef;
    while (mk_hpv_next_effect(d->hpv, &ef)) {
        mk_disc_conn_t *c = pick_conn(d, &ef.peer);
        mk_buf_t frame = MK_BUF_INIT;
        switch (ef.kind) {
        case MK_HPV_OPEN: {
            int rc = MK_OK;
            mk_bytes_t me = wire_of(d->local);
            if (ef.open_kind == MK_HPV_OPEN_JOIN) rc = mk_wire_encode_join(&d->net_id, me, &frame);
            else if (ef.open_kind == MK_HPV_OPEN_SHUFFLE_REPLY) rc = MK_OK;  /* built by the SEND that follows */
            else rc = mk_wire_encode_neighbor(&d->net_id, me, ef.open_kind == MK_HPV_OPEN_NEIGHBOR_HIGH, &frame);
            if (rc == MK_OK) dial_peer(d, &ef.peer, (int)ef.open_kind, &frame);
            break;
        }
        case MK_HPV_SEND: {
            int rc = MK_ENOTFOUND;
            const mk_peer_entry_t *about = NULL;
            switch (ef.msg) {
            case MK_HPV_MSG_WELCOME: rc = mk_wire_encode_welcome(wire_of(d->local), &frame); break;
            case MK_HPV_MSG_NEIGHBOR_REPLY:
                rc = mk_wire_encode_neighbor_reply(ef.accept, wire_of(d->local), &frame);
                break;
            case MK_HPV_MSG_FORWARD_JOIN:
                if ((about = entry_of(d, &ef.about))) rc = mk_wire_encode_forward_join(wire_of(about), ef.ttl, &frame);
                break;
            case MK_HPV_MSG_DISCONNECT: rc = mk_wire_encode_disconnect(ef.alive, &frame); break;
            case MK_HPV_MSG_SHUFFLE:
            case MK_HPV_MSG_SHUFFLE_REPLY: {
                mk_bytes_t sample[MK_HPV_SAMPLE_MAX];
                size_t k = 0;
                for (size_t i = 0; i < ef.nsample && k < MK_HPV_SAMPLE_MAX; i++) {
                    const mk_peer_entry_t *e = entry_of(d, &ef.sample[i]);
                    if (e) sample[k++] = wire_of(e);
                }
                if (ef.msg == MK_HPV_MSG_SHUFFLE) {
                    if ((about = entry_of(d, &ef.about)))
                        rc = mk_wire_encode_shuffle(wire_of(about), ef.ttl, sample, k, &frame);
                } else {
                    rc = mk_wire_encode_shuffle_reply(&d->net_id, sample, k, &frame);
                    if (rc == MK_OK) {  /* always answered on a short-lived link of its own (§3.1) */
                        dial_peer(d, &ef.peer, MK_HPV_OPEN_SHUFFLE_REPLY, &frame);
                        mk_buf_free(&frame);
                        continue;
                    }
                }
                break;
            }
            default: break;
            }
            if (rc == MK_OK && c) conn_send(d, c, &frame);
            break;
        }
        case MK_HPV_CLOSE:
            for (mk_disc_conn_t *x = d->conns, *next; x; x = next) {
                next = x->next;
                if (mk_id_eq(&x->peer, &ef.peer) && conn_open(x))
                    conn_close(d, x, MK_CLOSE_SUCCESS, "overlay link no longer needed");
            }
            break;
        case MK_HPV_ACTIVE_ADDED:
            if (c) activate(d, c);
            update_view_gauges(d);
            break;
        case MK_HPV_ACTIVE_REMOVED:
            if (c && c->state == MK_CONN_ACTIVE) c->state = MK_CONN_CLOSING;
            update_view_gauges(d);
            break;
        case MK_HPV_TIMER: break;
        }
        mk_buf_free(&frame);
    }
    int64_t next = mk_hpv_next_timer_ms(d->hpv, mk_now_ms());
    if (next >= 0) mk_disc_arm(d->hpv_ev, (uint32_t)(next > 3600000 ? 3600000 : next));
}

static void on_hpv_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_disc_t *d = arg;
    if (d->stopping) return;
    mk_hpv_tick(d->hpv, mk_now_ms());
    run_effects(d);
}

/* ---- dialing ---- */

static void dial_peer(mk_disc_t *d, const mk_peer_id_t *peer, int kind, const mk_buf_t *first) {
    const mk_peer_entry_t *e = entry_of(d, peer);
    mk_peer_addr_t addr;
    memset(&addr, 0, sizeof addr);
    if (e) mk_peer_entry_peer_addr(e, &addr);
    else addr.peer = *peer;
    mk_error_t err;
    mk_disc_conn_t *c = conn_new(d, NULL, peer, false);
    if (!c) return;
    c->state = MK_CONN_DIALING;
    c->open_kind = kind;
    if (first && first->len) {
        c->pending_first = malloc(first->len);
        if (c->pending_first) {
            memcpy(c->pending_first, first->ptr, first->len);
            c->pending_first_len = first->len;
        }
    }
    mk_link_t *l = mk_link_dial(d->n, &addr, MK_ANNOUNCE_ALPN, 0, &conn_ops, c, &err);
    if (!l) {
        MK_LOGF(MK_MOD_DISCOVERY, MK_LOG_DEBUG, d->self_short, "announce dial failed: %s", err.msg);
        conn_unlink(d, c);
        mk_hpv_on_dial_failed(d->hpv, peer, mk_now_ms());
        return;
    }
    c->link = l;
}

int mk_announce_contact(mk_disc_t *d, const mk_peer_addr_t *addr, mk_error_t *e) {
    mk_buf_t frame = MK_BUF_INIT;
    int rc = mk_wire_encode_join(&d->net_id, wire_of(d->local), &frame);
    if (rc != MK_OK) return MK_ERR(e, rc, "cannot encode Join");
    mk_disc_conn_t *c = conn_new(d, NULL, &addr->peer, false);
    if (!c) {
        mk_buf_free(&frame);
        return MK_ERR(e, MK_ENOMEM, "out of memory");
    }
    c->state = MK_CONN_DIALING;
    c->open_kind = MK_HPV_OPEN_JOIN;
    c->pending_first = frame.ptr;
    c->pending_first_len = frame.len;
    mk_link_t *l = mk_link_dial(d->n, addr, MK_ANNOUNCE_ALPN, 0, &conn_ops, c, e);
    if (!l) {
        conn_unlink(d, c);
        return e ? e->code : MK_EUNREACH;
    }
    c->link = l;
    return MK_OK;
}

/* ---- link callbacks ---- */

static void handle_frame(mk_disc_t *d, mk_disc_conn_t *c, const uint8_t *p, size_t n);

static void conn_on_open(mk_link_t *l, void *ctx, int status, const mk_error_t *err) {
    mk_disc_conn_t *c = ctx;
    mk_disc_t *d = c->d;
    if (status != MK_OK) {
        MK_LOGF(MK_MOD_DISCOVERY, MK_LOG_DEBUG, d->self_short, "announce link failed: %s", err ? err->msg : "");
        mk_peer_id_t peer = c->peer;
        bool tofu = mk_id_is_zero(&peer);
        conn_unlink(d, c);
        if (!tofu) mk_hpv_on_dial_failed(d->hpv, &peer, mk_now_ms());
        run_effects(d);
        return;
    }
    c->peer = mk_link_peer(l);  /* a trust-on-first-use contact learns the id here */
    c->state = c->open_kind == MK_HPV_OPEN_SHUFFLE_REPLY ? MK_CONN_SHUFFLE_REPLY : MK_CONN_AWAIT_REPLY;
    if (c->pending_first) {
        mk_buf_t f = {c->pending_first, c->pending_first_len, c->pending_first_len};
        conn_send(d, c, &f);
        free(c->pending_first);
        c->pending_first = NULL;
    }
    if (c->state == MK_CONN_SHUFFLE_REPLY) conn_close(d, c, MK_CLOSE_SUCCESS, "shuffle answered");
}

static void conn_on_frame(mk_link_t *l, void *ctx, const uint8_t *p, size_t n) {
    (void)l;
    mk_disc_conn_t *c = ctx;
    mk_disc_t *d = c->d;
    mk_disc_stat_add(d, &d->stats.frames_in, 1);
    mk_counter_add(d->m.frames_in, 1);
    d->cur_conn = c;
    handle_frame(d, c, p, n);
    if (!d->stopping) run_effects(d);
    d->cur_conn = NULL;
}

static void conn_on_close(mk_link_t *l, void *ctx, uint32_t code, bool remote, const char *reason) {
    (void)l;
    (void)reason;
    mk_disc_conn_t *c = ctx;
    mk_disc_t *d = c->d;
    mk_peer_id_t peer = c->peer;
    bool was_active = c->state == MK_CONN_ACTIVE, departed = c->departed;
    conn_unlink(d, c);
    if (d->stopping) return;
    if (was_active && !departed) {
        mk_disc_conn_t *other = pick_conn(d, &peer);
        if (other) activate(d, other);  /* a crossing link carries on */
        else mk_hpv_on_link_down(d->hpv, &peer, remote && code == MK_CLOSE_SUCCESS, mk_now_ms());
    }
    run_effects(d);
}

static const mk_link_ops_t conn_ops = {
    .on_open = conn_on_open, .on_frame = conn_on_frame, .on_close = conn_on_close};

static void on_accept(mk_network_t *n, void *ctx, mk_link_t *l) {
    (void)n;
    mk_disc_t *d = ctx;
    if (d->stopping || d->npending_in >= MAX_PENDING_IN) {
        mk_link_close_async(l, MK_CLOSE_CANCELLED, "too many announce links waiting for their first frame");
        mk_link_release(l);
        return;
    }
    mk_peer_id_t peer = mk_link_peer(l);
    mk_disc_conn_t *c = conn_new(d, l, &peer, true);
    if (!c) {
        mk_link_close_async(l, MK_CLOSE_CANCELLED, "out of memory");
        mk_link_release(l);
        return;
    }
    c->state = MK_CONN_PENDING_IN;
    d->npending_in++;
    mk_link_set_ops(l, &conn_ops, c);
    if (!evtimer_pending(d->first_frame_ev, NULL)) mk_disc_arm(d->first_frame_ev, FIRST_FRAME_TIMEOUT_MS);
}

/* Inbound links that sent no valid first frame within 5 s are closed 400 (§3.1). */
static void on_first_frame_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_disc_t *d = arg;
    int64_t now = mk_now_ms();
    bool more = false;
    for (mk_disc_conn_t *c = d->conns, *next; c; c = next) {
        next = c->next;
        if (c->state != MK_CONN_PENDING_IN) continue;
        if (now - c->since_ms >= FIRST_FRAME_TIMEOUT_MS) conn_close(d, c, MK_CLOSE_PROTOCOL_VIOLATION, "no first frame");
        else more = true;
    }
    if (more) mk_disc_arm(d->first_frame_ev, 1000);
}

/* ---- messages ---- */

static void violation(mk_disc_t *d, mk_disc_conn_t *c, const char *why) {
    MK_LOGF_RL(MK_MOD_DISCOVERY, MK_LOG_WARN, d->self_short, "announce from %s: %s", mk_id_short(&c->peer, (char[11]){0}),
               why);
    conn_close(d, c, MK_CLOSE_PROTOCOL_VIOLATION, why);
}

/* Merges an entry carried by a message; false if the link must close (a misbehaving neighbour). */
static bool take_entry(mk_disc_t *d, mk_disc_conn_t *c, mk_bytes_t b, bool via_gossip) {
    mk_store_result_t res = {0};
    int v = mk_disc_merge(d, b.ptr, b.len, c, via_gossip, &res);
    if (res.entry) mk_peer_entry_unref(res.entry);
    if (v == MK_STORE_REJECTED && (res.reject == MK_REJ_MALFORMED || res.reject == MK_REJ_TOO_BIG ||
                                   res.reject == MK_REJ_WRONG_NETWORK || res.reject == MK_REJ_BAD_SIGNATURE)) {
        violation(d, c, mk_entry_reject_str(res.reject));
        return false;
    }
    return true;
}

/* The first frame's entry must be the link's own peer's entry. */
static bool take_own_entry(mk_disc_t *d, mk_disc_conn_t *c, mk_bytes_t b) {
    mk_entry_reject_t why;
    const mk_peer_entry_t *e = NULL;
    if (mk_entry_decode_signed(b.ptr, b.len, &e, &why, NULL) != MK_OK) {
        mk_disc_count_reject(d, why);
        violation(d, c, "malformed entry in the first frame");
        return false;
    }
    bool own = mk_id_eq(mk_peer_entry_id(e), &c->peer);
    mk_peer_entry_unref(e);
    if (!own) {
        violation(d, c, "first frame carries another peer's entry");
        return false;
    }
    return take_entry(d, c, b, true);
}

static void handle_frame(mk_disc_t *d, mk_disc_conn_t *c, const uint8_t *p, size_t n) {
    mk_wire_msg_t m;
    mk_error_t err;
    if (mk_wire_decode_announce(p, n, &m, &err) != MK_OK) {
        violation(d, c, err.msg);
        return;
    }
    int64_t now = mk_now_ms();
    bool first = c->state == MK_CONN_PENDING_IN;
    bool first_kind = m.kind == MK_WIRE_JOIN || m.kind == MK_WIRE_NEIGHBOR || m.kind == MK_WIRE_SHUFFLE_REPLY;
    if (first != first_kind) {
        char why[96];
        snprintf(why, sizeof why, "%s (message %d, link state %d)",
                 first ? "first frame must be Join, Neighbor or ShuffleReply" : "unexpected opening message",
                 (int)m.kind, (int)c->state);
        mk_wire_msg_free(&m);
        violation(d, c, why);
        return;
    }
    if (first) {
        if (!mk_id_eq(&m.network, &d->net_id)) {
            mk_disc_count_reject(d, MK_REJ_WRONG_NETWORK);
            conn_close(d, c, MK_CLOSE_DIFFERENT_NETWORK, "announce for another network");
            return;
        }
        d->npending_in--;
        c->state = MK_CONN_AWAIT_REPLY;
    }
    switch (m.kind) {
    case MK_WIRE_JOIN:
        if (!take_own_entry(d, c, m.entry)) return;
        mk_hpv_on_join(d->hpv, &c->peer, now);
        break;
    case MK_WIRE_NEIGHBOR:
        if (!take_own_entry(d, c, m.entry)) return;
        mk_hpv_on_neighbor(d->hpv, &c->peer, m.flag, now);
        break;
    case MK_WIRE_SHUFFLE_REPLY:
        for (size_t i = 0; i < m.nsample; i++)
            if (!take_entry(d, c, m.sample[i], false)) return;
        {
            mk_peer_id_t ids[MK_HPV_SAMPLE_MAX];
            size_t k = mk_wire_sample_ids(&m, ids, MK_HPV_SAMPLE_MAX);
            mk_hpv_on_shuffle_reply(d->hpv, &c->peer, ids, k, now);
        }
        conn_close(d, c, MK_CLOSE_SUCCESS, "shuffle reply received");
        return;
    case MK_WIRE_WELCOME:
        if (!take_own_entry(d, c, m.entry)) return;
        mk_hpv_on_welcome(d->hpv, &c->peer, now);
        break;
    case MK_WIRE_NEIGHBOR_REPLY:
        if (!take_own_entry(d, c, m.entry)) return;
        mk_hpv_on_neighbor_reply(d->hpv, &c->peer, m.flag, now);
        break;
    case MK_WIRE_FORWARD_JOIN: {
        if (!take_entry(d, c, m.entry, false)) return;
        mk_peer_id_t joiner;
        if (mk_wire_entry_peer(m.entry, &joiner) == MK_OK && !mk_id_eq(&joiner, &d->self))
            mk_hpv_on_forward_join(d->hpv, &c->peer, &joiner, m.ttl, now);
        break;
    }
    case MK_WIRE_DISCONNECT:
        c->departed = !m.flag;
        mk_hpv_on_disconnect(d->hpv, &c->peer, m.flag, now);
        break;
    case MK_WIRE_SHUFFLE: {
        if (!take_entry(d, c, m.entry, false)) return;
        for (size_t i = 0; i < m.nsample; i++)
            if (!take_entry(d, c, m.sample[i], false)) return;
        mk_peer_id_t origin, ids[MK_HPV_SAMPLE_MAX];
        size_t k = mk_wire_sample_ids(&m, ids, MK_HPV_SAMPLE_MAX);
        if (mk_wire_entry_peer(m.entry, &origin) == MK_OK && !mk_id_eq(&origin, &d->self))
            mk_hpv_on_shuffle(d->hpv, &c->peer, &origin, m.ttl, ids, k, now);
        break;
    }
    case MK_WIRE_ENTRIES:
        if (atomic_load_explicit(&d->test_drop_gossip, memory_order_relaxed)) {
            mk_wire_msg_free(&m);
            break;
        }
        for (size_t i = 0; i < m.nentries; i++) {
            if (!take_entry(d, c, m.entries[i], true)) {
                mk_wire_msg_free(&m);
                return;
            }
        }
        mk_wire_msg_free(&m);
        break;
    case MK_WIRE_DEPART: {
        mk_departure_t dep;
        if (mk_departure_decode(m.entry.ptr, m.entry.len, &dep, &err) != MK_OK) {
            violation(d, c, err.msg);
            return;
        }
        mk_disc_take_departure(d, &dep, c);
        break;
    }
    case MK_WIRE_PING: {
        mk_buf_t f = MK_BUF_INIT;
        if (mk_wire_encode_pong_announce(m.nonce, &f) == MK_OK) conn_send(d, c, &f);
        mk_buf_free(&f);
        break;
    }
    case MK_WIRE_PONG: mk_disc_pong(d, &c->peer, m.nonce); break;
    default: violation(d, c, "unexpected message"); return;
    }
}

/* ---- departures ---- */

void mk_disc_take_departure(mk_disc_t *d, const mk_departure_t *dep, mk_disc_conn_t *from) {
    const mk_peer_entry_t *last = NULL;
    int v = mk_store_apply_departure(d->store, dep, mk_disc_now_ms(), &last);
    if (v == MK_STORE_DEPART_ACCEPTED) {
        mk_disc_peer_gone(d, &dep->peer, last, MK_DEPART_GRACEFUL);
        /* forwarded urgently, once per (peer, version): the store accepts each departure once */
        mk_buf_t body = MK_BUF_INIT, f = MK_BUF_INIT;
        if (mk_departure_encode(dep, &body) == MK_OK &&
            mk_wire_encode_depart((mk_bytes_t){body.ptr, body.len}, &f) == MK_OK) {
            for (mk_disc_conn_t *c = d->conns; c; c = c->next)
                if (c->state == MK_CONN_ACTIVE && c != from && !mk_id_eq(&c->peer, &dep->peer)) conn_send(d, c, &f);
        }
        mk_buf_free(&body);
        mk_buf_free(&f);
    } else if (v == MK_STORE_DEPART_BAD_SIGNATURE && from) {
        mk_disc_count_reject(d, MK_REJ_BAD_SIGNATURE);
        violation(d, from, "departure with a bad signature");
    }
    mk_peer_entry_unref(last);
}

/* ---- gossip ---- */

static void flush_conn(mk_disc_t *d, mk_disc_conn_t *c, bool force) {
    if (!c->queue || c->state != MK_CONN_ACTIVE) return;
    int64_t now = mk_now_ms();
    if (!force && !mk_gossip_queue_due(c->queue, now)) return;
    const mk_peer_entry_t *batch[256];
    for (;;) {
        size_t k = mk_gossip_queue_take(c->queue, batch, 256, MK_WIRE_FRAME_MAX - 1024);
        if (!k) break;
        mk_buf_t f = MK_BUF_INIT;
        if (mk_wire_encode_entries(batch, k, &f) == MK_OK && conn_send(d, c, &f) == MK_OK) {
            mk_disc_stat_add(d, &d->stats.entries_out, k);
            mk_counter_add(d->m.entries_out, k);
        }
        mk_buf_free(&f);
        for (size_t i = 0; i < k; i++) mk_peer_entry_unref(batch[i]);
    }
}

static void on_flush(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_disc_t *d = arg;
    d->flush_scheduled = false;
    int64_t next = -1, now = mk_now_ms();
    for (mk_disc_conn_t *c = d->conns; c; c = c->next) {
        flush_conn(d, c, false);
        int64_t due = c->queue ? mk_gossip_queue_next_due(c->queue, now) : -1;
        if (due >= 0 && (next < 0 || due < next)) next = due;
    }
    if (next >= 0) mk_disc_arm(d->flush_ev, (uint32_t)(next < 1 ? 1 : next));
}

void mk_announce_gossip(mk_disc_t *d, const mk_peer_entry_t *e, mk_disc_conn_t *from, bool urgent) {
    if (!e->is_signed) return;
    bool any = false;
    for (mk_disc_conn_t *c = d->conns; c; c = c->next) {
        if (c->state != MK_CONN_ACTIVE || c == from || !c->queue) continue;
        if (mk_id_eq(&c->peer, mk_peer_entry_id(e))) continue;  /* never back to its owner */
        mk_gossip_queue_push(c->queue, e, urgent, mk_now_ms());
        any = true;
    }
    if (!any) return;
    if (urgent) event_active(d->flush_ev, EV_TIMEOUT, 0);  /* this loop turn */
    else if (!evtimer_pending(d->flush_ev, NULL)) mk_disc_arm(d->flush_ev, d->cfg.c.gossip_flush_ms);
}

void mk_announce_local(mk_disc_t *d) { mk_announce_gossip(d, d->local, NULL, true); }

void mk_announce_learned(mk_disc_t *d, const mk_peer_id_t *peer) { mk_hpv_learned(d->hpv, peer); }

void mk_announce_forget(mk_disc_t *d, const mk_peer_id_t *peer) {
    mk_hpv_forget(d->hpv, peer, mk_now_ms());
    mk_disc_conn_t *c = conn_of(d, peer, false);
    if (c) conn_close(d, c, MK_CLOSE_SUCCESS, "peer left the catalog");
    run_effects(d);
}

size_t mk_announce_active(mk_disc_t *d, mk_peer_id_t *out, size_t cap) {
    size_t k = 0;
    for (mk_disc_conn_t *c = d->conns; c; c = c->next) {
        if (c->state != MK_CONN_ACTIVE) continue;
        if (k < cap) out[k] = c->peer;
        k++;
    }
    return k;
}

bool mk_announce_ping(mk_disc_t *d, const mk_peer_id_t *peer, uint64_t nonce) {
    mk_disc_conn_t *c = conn_of(d, peer, true);
    if (!c) return false;
    mk_buf_t f = MK_BUF_INIT;
    bool ok = mk_wire_encode_announce_ping(nonce, &f) == MK_OK && conn_send(d, c, &f) == MK_OK;
    mk_buf_free(&f);
    return ok;
}

/* ---- bootstrap ---- */

static void on_boot(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_disc_t *d = arg;
    if (d->stopping || !d->cfg.nbootstrap) return;
    bool in_flight = false;
    for (mk_disc_conn_t *c = d->conns; c; c = c->next)
        in_flight |= !c->inbound && (c->state == MK_CONN_DIALING || c->state == MK_CONN_AWAIT_REPLY);
    if (mk_announce_active(d, NULL, 0) == 0 && !in_flight) {
        mk_disc_contact_t ct;
        const char *s = d->cfg.bootstrap[d->boot_next++ % d->cfg.nbootstrap];
        mk_error_t err;
        if (mk_disc_contact_parse(s, &ct, &err) == MK_OK && mk_announce_contact(d, &ct.addr, &err) == MK_OK) {
            if (ct.tofu) MK_LOGF_RL(MK_MOD_DISCOVERY, MK_LOG_WARN, d->self_short,
                                    "bootstrap %s has no peer id: trusting the key it shows", s);
            mk_sync_start(d, &ct.addr, NULL, NULL, NULL, NULL);
        }
        d->boot_backoff_ms = d->boot_backoff_ms ? d->boot_backoff_ms * 2 : BOOT_BACKOFF_MIN_MS;
        if (d->boot_backoff_ms > BOOT_BACKOFF_MAX_MS) d->boot_backoff_ms = BOOT_BACKOFF_MAX_MS;
    } else {
        d->boot_backoff_ms = BOOT_BACKOFF_MIN_MS;
    }
    mk_disc_arm(d->boot_ev, mk_disc_jitter(d, d->boot_backoff_ms, 0.2));
}

/* ---- lifecycle ---- */

int mk_announce_install(mk_disc_t *d, mk_error_t *e) {
    struct event_base *base = mk_net_base(d->n);
    d->hpv_ev = event_new(base, -1, 0, on_hpv_timer, d);
    d->flush_ev = event_new(base, -1, 0, on_flush, d);
    d->boot_ev = event_new(base, -1, 0, on_boot, d);
    d->first_frame_ev = event_new(base, -1, 0, on_first_frame_timer, d);
    mk_hpv_params_t hp = {.self = d->self, .active = d->cfg.c.active_view, .passive = d->cfg.c.passive_view,
                          .shuffle_interval_ms = d->cfg.c.shuffle_interval_ms, .seed = mk_disc_rand(d)};
    d->hpv = mk_hpv_new(&hp);
    if (!d->hpv_ev || !d->flush_ev || !d->boot_ev || !d->first_frame_ev || !d->hpv)
        return MK_ERR(e, MK_ENOMEM, "out of memory creating the overlay");
    return mk_net_register(d->n, MK_ANNOUNCE_ALPN, on_accept, d, e);
}

void mk_announce_start(mk_disc_t *d) {
    if (d->cfg.nbootstrap) mk_disc_arm(d->boot_ev, 0);
    run_effects(d);
}

void mk_announce_stop(mk_disc_t *d) {
    /* Depart to every active neighbour, then Disconnect{alive=false}; the links then close with 204 after
     * their queued frames (the network's linger bounds the flush). */
    mk_departure_t dep = {.peer = d->self, .version = mk_peer_entry_version(d->local),
                          .at_ms = (uint64_t)mk_disc_now_ms()};
    mk_departure_sign(&dep, &d->net_id, d->sk);
    mk_buf_t body = MK_BUF_INIT, depart = MK_BUF_INIT, disc = MK_BUF_INIT;
    bool ok = mk_departure_encode(&dep, &body) == MK_OK &&
              mk_wire_encode_depart((mk_bytes_t){body.ptr, body.len}, &depart) == MK_OK &&
              mk_wire_encode_disconnect(false, &disc) == MK_OK;
    for (mk_disc_conn_t *c = d->conns, *next; c; c = next) {
        next = c->next;
        if (ok && c->state == MK_CONN_ACTIVE) {
            flush_conn(d, c, true);
            conn_send(d, c, &depart);
            conn_send(d, c, &disc);
        }
        conn_close(d, c, MK_CLOSE_GRACEFUL_SHUTDOWN, "node departing");
    }
    mk_buf_free(&body);
    mk_buf_free(&depart);
    mk_buf_free(&disc);
    struct event *evs[] = {d->hpv_ev, d->flush_ev, d->boot_ev, d->first_frame_ev};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i]) event_del(evs[i]);
}

void mk_announce_free(mk_disc_t *d) {
    while (d->conns) conn_unlink(d, d->conns);
    struct event *evs[] = {d->hpv_ev, d->flush_ev, d->boot_ev, d->first_frame_ev};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i]) event_free(evs[i]);
    d->hpv_ev = d->flush_ev = d->boot_ev = d->first_frame_ev = NULL;
}
