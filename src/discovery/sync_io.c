/* discovery/sync_io.c — catalog sync over /mosaik/catalog-sync (spec 20 §4): the digest exchange in
 * 1.5 round trips, both roles, session limits (4 out, 8 in, one inbound per peer per 5 s), timeouts,
 * anti-entropy with a random neighbour, and the "recently synced" memory. */
#include "discovery/disc_int.h"

#include "core/error.h"
#include "core/time.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_OUT_MAX 4
#define SYNC_IN_MAX 8
#define SYNC_IN_PER_PEER_MS 5000
#define RECENT_MAX 64

typedef struct mk_disc_sync {
    struct mk_disc_sync *next;
    mk_disc_t *d;
    mk_link_t *link;
    mk_peer_id_t peer;
    bool inbound, got_hello, replied, finished, opened;
    int64_t started_ms;
    uint32_t frames;
    void (*done)(void *ctx, int rc, const mk_error_t *e);
    void *ctx;
} mk_disc_sync_t;

static const mk_link_ops_t sync_ops;

typedef struct recent {
    mk_peer_id_t peer;
    int64_t out_ms, in_ms;
    int64_t out_ok_ms;  /* when an outbound sync with the peer last completed */
} recent_t;

/* When we last synced with a peer, each way (one table per network, oldest slot reused). */
static recent_t *recent_of(mk_disc_t *d) { return d->sync_recent; }

static recent_t *recent_find(mk_disc_t *d, const mk_peer_id_t *peer, bool create) {
    recent_t *r = recent_of(d);
    size_t oldest = 0;
    for (size_t i = 0; i < RECENT_MAX; i++) {
        if (mk_id_eq(&r[i].peer, peer)) return &r[i];
        int64_t a = r[i].out_ms > r[i].in_ms ? r[i].out_ms : r[i].in_ms;
        int64_t b = r[oldest].out_ms > r[oldest].in_ms ? r[oldest].out_ms : r[oldest].in_ms;
        if (a < b) oldest = i;
    }
    if (!create) return NULL;
    memset(&r[oldest], 0, sizeof r[oldest]);
    r[oldest].peer = *peer;
    return &r[oldest];
}

static void sync_unlink(mk_disc_t *d, mk_disc_sync_t *s) {
    for (mk_disc_sync_t **pp = &d->syncs; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    if (s->inbound) d->sync_in--;
    else d->sync_out--;
    if (s->link) {
        mk_link_set_ops(s->link, NULL, NULL);
        mk_link_release(s->link);
    }
    free(s);
}

static void sync_end(mk_disc_t *d, mk_disc_sync_t *s, int rc, const mk_error_t *err, uint32_t close_code,
                     const char *why) {
    void (*done)(void *, int, const mk_error_t *) = s->done;
    void *ctx = s->ctx;
    s->done = NULL;
    if (rc == MK_OK) {
        mk_counter_add(d->m.syncs_ok, 1);
        mk_disc_stat_add(d, &d->stats.syncs_ok, 1);
        recent_t *r = !s->inbound && s->opened ? recent_find(d, &s->peer, true) : NULL;
        if (r) r->out_ok_ms = mk_now_ms();
    } else {
        mk_counter_add(d->m.syncs_failed, 1);
        mk_disc_stat_add(d, &d->stats.syncs_failed, 1);
    }
    if (s->link) {
        mk_link_t *l = s->link;
        s->link = NULL;
        mk_link_set_ops(l, NULL, NULL);
        if (close_code) mk_link_close_async(l, close_code, why);
        mk_link_release(l);
    }
    sync_unlink(d, s);
    mk_disc_publish_pending(d);  /* merged entries are in the catalog when the caller wakes */
    if (done) done(ctx, rc, err);
}

static void send_frame(mk_disc_sync_t *s, const mk_buf_t *f) {
    if (s->link) mk_link_write(s->link, f->ptr, f->len);
}

/* Sends entries[0..n) as SyncReply (first) or SyncEntries frames, the last with more = false. */
static void send_entries(mk_disc_sync_t *s, bool reply, bool in_sync, const mk_peer_id_t *wants, size_t nwants,
                         const mk_peer_entry_t *const *entries, size_t n) {
    size_t pos = 0;
    bool first = reply;
    do {
        mk_buf_t f = MK_BUF_INIT;
        size_t used = 0;
        if (first) mk_wire_encode_sync_reply(in_sync, wants, nwants, entries + pos, n - pos, false, &used, &f);
        else mk_wire_encode_sync_entries(entries + pos, n - pos, false, &used, &f);
        send_frame(s, &f);
        mk_buf_free(&f);
        pos += used;
        first = false;
    } while (pos < n);
}

static const mk_peer_entry_t *entry_for(mk_disc_t *d, const mk_peer_id_t *peer) {
    if (mk_id_eq(peer, &d->self)) return d->local;
    const mk_peer_entry_t *e = mk_store_get(d->store, peer);
    return e && e->is_signed ? e : NULL;
}

/* Merges the entries of a sync message. False, with *why set, when one shows the peer misbehaving
 * (malformed, oversize, another network or a bad signature): the session then ends with 400. Stale,
 * future, duplicate or departed entries are only skipped — honest catalogs can hold those. */
static bool merge_list(mk_disc_t *d, const mk_bytes_t *v, size_t n, mk_error_t *why) {
    for (size_t i = 0; i < n; i++) {
        mk_store_result_t res = {0};
        int verdict = mk_disc_merge(d, v[i].ptr, v[i].len, NULL, false, &res);
        mk_peer_entry_unref(res.entry);
        if (verdict == MK_STORE_REJECTED && (res.reject == MK_REJ_MALFORMED || res.reject == MK_REJ_TOO_BIG ||
                                             res.reject == MK_REJ_WRONG_NETWORK || res.reject == MK_REJ_BAD_SIGNATURE)) {
            MK_ERR(why, MK_EPROTO, "catalog sync: entry %zu rejected (%s)", i, mk_entry_reject_str(res.reject));
            return false;
        }
    }
    return true;
}

/* Responder: SyncHello → SyncReply (+ SyncEntries). */
static void respond(mk_disc_t *d, mk_disc_sync_t *s, const mk_sync_msg_t *m) {
    mk_digest_item_t *mine = NULL;
    size_t nm = mk_store_digest(d->store, mk_disc_now_ms(), &mine);
    mk_id_t summary = mk_sync_summary(mine, nm);
    if (mk_id_eq(&summary, &m->summary)) {
        send_entries(s, true, true, NULL, 0, NULL, 0);
        free(mine);
        sync_end(d, s, MK_OK, NULL, MK_CLOSE_SUCCESS, "in sync");
        return;
    }
    const mk_peer_entry_t **give = malloc((nm ? nm : 1) * sizeof *give);
    mk_peer_id_t *wants = malloc((m->ndigest ? m->ndigest : 1) * sizeof *wants);
    size_t ng = 0, nw = 0, i = 0, j = 0;
    while (give && wants && (i < nm || j < m->ndigest)) {
        int c = i >= nm ? 1 : j >= m->ndigest ? -1 : memcmp(mine[i].peer.b, m->digest[j].peer.b, 32);
        if (c < 0) {  /* they lack it */
            const mk_peer_entry_t *e = entry_for(d, &mine[i].peer);
            if (e) give[ng++] = e;
            i++;
        } else if (c > 0) {  /* we lack it */
            wants[nw++] = m->digest[j].peer;
            j++;
        } else {
            int v = mk_entry_version_cmp(mine[i].version, m->digest[j].version);
            if (v > 0) {
                const mk_peer_entry_t *e = entry_for(d, &mine[i].peer);
                if (e) give[ng++] = e;
            } else if (v < 0) {
                wants[nw++] = m->digest[j].peer;
            }
            i++;
            j++;
        }
    }
    if (give && wants) send_entries(s, true, false, wants, nw, give, ng);
    free(give);
    free(wants);
    free(mine);
    s->replied = true;
}

static void on_sync_frame(mk_link_t *l, void *ctx, const uint8_t *p, size_t n) {
    (void)l;
    mk_disc_sync_t *s = ctx;
    mk_disc_t *d = s->d;
    mk_sync_msg_t m;
    mk_error_t err;
    s->frames++;
    if (mk_wire_decode_sync(p, n, &m, &err) != MK_OK) {
        sync_end(d, s, MK_EPROTO, &err, MK_CLOSE_PROTOCOL_VIOLATION, err.msg);
        return;
    }
    if (s->inbound) {
        if (!s->got_hello) {
            if (m.kind != MK_SYNC_HELLO) {
                MK_ERR(&err, MK_EPROTO, "catalog sync must start with SyncHello");
                sync_end(d, s, MK_EPROTO, &err, MK_CLOSE_PROTOCOL_VIOLATION, err.msg);
            } else if (!mk_id_eq(&m.network, &d->net_id)) {
                MK_ERR(&err, MK_EWRONGNET, "catalog sync for another network");
                sync_end(d, s, MK_EWRONGNET, &err, MK_CLOSE_DIFFERENT_NETWORK, err.msg);
            } else {
                s->got_hello = true;
                respond(d, s, &m);
            }
        } else if (m.kind != MK_SYNC_ENTRIES) {
            MK_ERR(&err, MK_EPROTO, "unexpected catalog-sync message %d", (int)m.kind);
            sync_end(d, s, MK_EPROTO, &err, MK_CLOSE_PROTOCOL_VIOLATION, err.msg);
        } else if (!merge_list(d, m.entries, m.nentries, &err)) {
            sync_end(d, s, MK_EPROTO, &err, MK_CLOSE_PROTOCOL_VIOLATION, err.msg);
        } else if (!m.more) {
            sync_end(d, s, MK_OK, NULL, MK_CLOSE_SUCCESS, "sync complete");
        }
        mk_sync_msg_free(&m);
        return;
    }
    /* initiator: SyncReply then SyncEntries until more = false */
    if ((!s->replied && m.kind != MK_SYNC_REPLY) || (s->replied && m.kind != MK_SYNC_ENTRIES)) {
        MK_ERR(&err, MK_EPROTO, "unexpected catalog-sync message %d", (int)m.kind);
        sync_end(d, s, MK_EPROTO, &err, MK_CLOSE_PROTOCOL_VIOLATION, err.msg);
        mk_sync_msg_free(&m);
        return;
    }
    if (m.kind == MK_SYNC_REPLY) {
        s->replied = true;
        if (m.in_sync) {
            mk_sync_msg_free(&m);
            return;  /* the responder closes 200 */
        }
        /* answer wants now (the responder merges them); its entries follow */
        const mk_peer_entry_t **give = malloc((m.nwants ? m.nwants : 1) * sizeof *give);
        size_t ng = 0;
        for (size_t i = 0; give && i < m.nwants; i++) {
            const mk_peer_entry_t *e = entry_for(d, &m.wants[i]);
            if (e) give[ng++] = e;
        }
        if (give) send_entries(s, false, false, NULL, 0, give, ng);
        free(give);
    }
    bool ok = merge_list(d, m.entries, m.nentries, &err);
    mk_sync_msg_free(&m);
    if (!ok) sync_end(d, s, MK_EPROTO, &err, MK_CLOSE_PROTOCOL_VIOLATION, err.msg);
}

static void on_sync_open(mk_link_t *l, void *ctx, int status, const mk_error_t *err) {
    mk_disc_sync_t *s = ctx;
    mk_disc_t *d = s->d;
    if (status != MK_OK) {
        mk_error_t e2;
        MK_ERR(&e2, status == MK_ETIMEDOUT ? MK_ETIMEDOUT : status == MK_EWRONGNET ? MK_EWRONGNET : MK_EUNREACH,
               "catalog sync: %s", err ? err->msg : "dial failed");
        s->link = NULL;
        mk_link_set_ops(l, NULL, NULL);  /* on_close may still follow a failed open */
        mk_link_release(l);
        sync_end(d, s, e2.code, &e2, 0, NULL);
        return;
    }
    s->peer = mk_link_peer(l);
    s->opened = true;
    recent_t *r = recent_find(d, &s->peer, true);
    if (r) r->out_ms = mk_now_ms();
    mk_digest_item_t *mine = NULL;
    size_t nm = mk_store_digest(d->store, mk_disc_now_ms(), &mine);
    mk_buf_t f = MK_BUF_INIT;
    if (mk_wire_encode_sync_hello(&d->net_id, mine, nm, &f) == MK_OK) send_frame(s, &f);
    mk_buf_free(&f);
    free(mine);
}

static void on_sync_close(mk_link_t *l, void *ctx, uint32_t code, bool remote, const char *reason) {
    (void)l;
    mk_disc_sync_t *s = ctx;
    mk_disc_t *d = s->d;
    mk_error_t err;
    int rc = MK_OK;
    if (!(code == MK_CLOSE_SUCCESS && remote && (s->replied || s->inbound))) {
        rc = code == MK_CLOSE_DIFFERENT_NETWORK ? MK_EWRONGNET
             : code == MK_CLOSE_CANCELLED && remote ? MK_EBUSY
             : !s->inbound && !s->opened        ? MK_EUNREACH
                                                : MK_EPROTO;
        MK_ERR(&err, rc, "catalog sync ended with %u (%s)", code, reason ? reason : "");
    }
    sync_end(d, s, rc, rc == MK_OK ? NULL : &err, 0, NULL);
}

static const mk_link_ops_t sync_ops = {.on_open = on_sync_open, .on_frame = on_sync_frame, .on_close = on_sync_close};

static void on_sync_accept(mk_network_t *n, void *ctx, mk_link_t *l) {
    (void)n;
    mk_disc_t *d = ctx;
    mk_peer_id_t peer = mk_link_peer(l);
    recent_t *r = recent_find(d, &peer, true);
    int64_t now = mk_now_ms();
    if (d->stopping || d->sync_in >= SYNC_IN_MAX || (r && r->in_ms && now - r->in_ms < SYNC_IN_PER_PEER_MS)) {
        mk_link_close_async(l, MK_CLOSE_CANCELLED, "catalog sync refused: too many or too frequent");
        mk_link_release(l);
        return;
    }
    if (r) r->in_ms = now;
    mk_disc_sync_t *s = calloc(1, sizeof *s);
    if (!s) {
        mk_link_close_async(l, MK_CLOSE_CANCELLED, "out of memory");
        mk_link_release(l);
        return;
    }
    s->d = d;
    s->link = l;
    s->peer = peer;
    s->inbound = true;
    s->started_ms = now;
    s->next = d->syncs;
    d->syncs = s;
    d->sync_in++;
    mk_link_set_ops(l, &sync_ops, s);
}

int mk_sync_start(mk_disc_t *d, const mk_peer_addr_t *addr, const mk_peer_id_t *peer,
                  void (*done)(void *ctx, int rc, const mk_error_t *e), void *ctx, mk_error_t *e) {
    mk_peer_addr_t a;
    if (addr) {
        a = *addr;
    } else {
        const mk_peer_entry_t *pe = peer ? mk_store_get(d->store, peer) : NULL;
        if (!pe) return MK_ERR(e, MK_ENOTFOUND, "no entry for the peer to sync with");
        mk_peer_entry_peer_addr(pe, &a);
    }
    if (!done && !mk_id_is_zero(&a.peer)) {  /* automatic syncs skip peers synced recently */
        recent_t *r = recent_find(d, &a.peer, false);
        if (r && r->out_ms && mk_now_ms() - r->out_ms < (int64_t)d->cfg.c.sync_interval_ms) return MK_OK;
    }
    if (done && !mk_id_is_zero(&a.peer)) {
        /* an explicit sync while an automatic one with that peer runs (a bootstrap contact starts one)
         * waits for that session instead of opening a second, which the peer would refuse (one inbound
         * per peer per 5 s); one that just completed already merged both catalogs */
        for (mk_disc_sync_t *x = d->syncs; x; x = x->next)
            if (!x->inbound && !x->done && mk_id_eq(&x->peer, &a.peer)) {
                x->done = done;
                x->ctx = ctx;
                return MK_OK;
            }
        recent_t *r = recent_find(d, &a.peer, false);
        if (r && r->out_ok_ms && mk_now_ms() - r->out_ok_ms < SYNC_IN_PER_PEER_MS) {
            done(ctx, MK_OK, NULL);
            return MK_OK;
        }
    }
    if (d->sync_out >= SYNC_OUT_MAX) return MK_ERR(e, MK_EBUSY, "%d catalog syncs already running", SYNC_OUT_MAX);
    mk_disc_sync_t *s = calloc(1, sizeof *s);
    if (!s) return MK_ERR(e, MK_ENOMEM, "out of memory");
    s->d = d;
    s->peer = a.peer;
    s->done = done;
    s->ctx = ctx;
    s->started_ms = mk_now_ms();
    s->next = d->syncs;
    d->syncs = s;
    d->sync_out++;
    mk_link_t *l = mk_link_dial(d->n, &a, MK_CATALOG_SYNC_ALPN, 0, &sync_ops, s, e);
    if (!l) {
        s->done = NULL;
        int rc = e ? e->code : MK_EUNREACH;
        if (rc == MK_ENOTFOUND) rc = MK_EUNREACH;
        if (e) e->code = rc;
        sync_unlink(d, s);
        return rc;
    }
    s->link = l;
    if (!evtimer_pending(d->sync_ev, NULL)) mk_disc_arm(d->sync_ev, 1000);
    return MK_OK;
}

/* Timeouts of running sessions, and anti-entropy with a random neighbour every sync_interval. */
static void on_sync_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_disc_t *d = arg;
    int64_t now = mk_now_ms();
    for (mk_disc_sync_t *s = d->syncs, *next; s; s = next) {
        next = s->next;
        if (now - s->started_ms < (int64_t)d->cfg.c.sync_timeout_ms) continue;
        mk_error_t err;
        MK_ERR(&err, MK_ETIMEDOUT, "catalog sync took longer than %u ms", d->cfg.c.sync_timeout_ms);
        sync_end(d, s, MK_ETIMEDOUT, &err, MK_CLOSE_CANCELLED, "sync timeout");
    }
    if (d->stopping) return;
    if (now >= d->next_anti_entropy_ms) {
        if (d->next_anti_entropy_ms) {
            mk_peer_id_t act[32];
            size_t na = mk_announce_active(d, act, 32);
            if (na > 32) na = 32;
            /* the neighbour we exchanged with least recently (either way; random among ties), so that
             * every link is covered in turn rather than by chance */
            size_t best = na ? (size_t)(mk_disc_rand(d) % na) : 0;
            int64_t best_at = INT64_MAX;
            for (size_t i = 0; i < na; i++) {
                recent_t *r = recent_find(d, &act[(best + i) % na], false);
                int64_t at = r ? (r->out_ms > r->in_ms ? r->out_ms : r->in_ms) : INT64_MIN;
                if (at < best_at) {
                    best_at = at;
                    best = (best + i) % na;
                    if (at == INT64_MIN) break;
                }
            }
            if (na) mk_sync_start(d, NULL, &act[best], NULL, NULL, NULL);
        }
        d->next_anti_entropy_ms = now + mk_disc_jitter(d, d->cfg.c.sync_interval_ms, 0.5);
    }
    mk_disc_arm(d->sync_ev, 1000);
}

int mk_sync_install(mk_disc_t *d, mk_error_t *e) {
    d->sync_recent = calloc(RECENT_MAX, sizeof(recent_t));
    d->sync_ev = event_new(mk_net_base(d->n), -1, 0, on_sync_tick, d);
    if (!d->sync_recent || !d->sync_ev) return MK_ERR(e, MK_ENOMEM, "out of memory");
    mk_disc_arm(d->sync_ev, 1000);
    return mk_net_register(d->n, MK_CATALOG_SYNC_ALPN, on_sync_accept, d, e);
}

void mk_sync_stop(mk_disc_t *d) {
    while (d->syncs) {
        mk_error_t err;
        MK_ERR(&err, MK_ETERMINATED, "network stopping");
        sync_end(d, d->syncs, MK_ETERMINATED, &err, MK_CLOSE_GRACEFUL_SHUTDOWN, "node departing");
    }
    if (d->sync_ev) event_del(d->sync_ev);
}

void mk_sync_free(mk_disc_t *d) {
    while (d->syncs) sync_unlink(d, d->syncs);
    if (d->sync_ev) event_free(d->sync_ev);
    d->sync_ev = NULL;
    free(d->sync_recent);
    d->sync_recent = NULL;
}
