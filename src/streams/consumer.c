/* streams/consumer.c — consumers (spec 30 §3): finding every eligible producer of the stream in the
 * catalog (require predicates and the ticket rule), one channel per producer that survives reconnects
 * (backoff; terminal refusals park the producer until its entry changes or park_ms passes), the
 * bounded receive queue with back-pressure (reading pauses at the bounds), callback mode, and the
 * readiness fd. */
#include "streams/streams_int.h"

#include "core/error.h"
#include "core/time.h"
#include "discovery/discovery.h"
#include "discovery/entry.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

static const mk_link_ops_t cchan_ops;
static void examine(mk_consumer_t *c);
static void dial(mk_cchan_t *ch);

/* ---- references ---- */

static _Atomic uint32_t *refs_of(mk_consumer_t *c) { return &c->refs; }

static void consumer_destroy(mk_consumer_t *c) {
    for (size_t i = 0; i < c->qlen + c->nstaged; i++) {  /* staged ones too (a close cut a read short) */
        mk_datum_t d = {.ref_ = c->queue[(c->qhead + i) % c->qcap]};
        mk_datum_free(&d);
    }
    free(c->queue);
    mk_bufpool_release(c->pool);
    for (size_t i = 0; i < c->ntickets; i++) mk_ticket_validator_unref(c->tickets[i]);
    mk_when_free(&c->online_when);
    mk_readyfd_close(&c->ready);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void cref(mk_consumer_t *c) { atomic_fetch_add(refs_of(c), 1); }
static void cunref(mk_consumer_t *c) {
    if (atomic_fetch_sub(refs_of(c), 1) == 1) consumer_destroy(c);
}

/* ---- datums ---- */

void mk_datum_free(mk_datum_t *d) {
    if (!d) return;
    mk_rdatum_t *r = d->ref_;
    if (r && atomic_fetch_sub(&r->refs, 1) == 1) mk_bufpool_free(r);
    memset(d, 0, sizeof *d);
}

int mk_datum_dup(const mk_datum_t *src, mk_datum_t *dst) {
    if (!src || !dst) return MK_EINVAL;
    mk_rdatum_t *r = src->ref_;
    if (r) {
        atomic_fetch_add(&r->refs, 1);
        *dst = *src;
        return MK_OK;
    }
    /* a callback-mode datum lives for the call: copy it */
    r = mk_bufpool_alloc(NULL, sizeof *r + src->len);
    if (!r) return MK_ENOMEM;
    atomic_init(&r->refs, 1);
    r->len = src->len;
    r->producer = src->producer;
    r->channel_id = src->channel_id;
    if (src->len) memcpy(r->bytes, src->data, src->len);
    *dst = (mk_datum_t){r->bytes, r->len, r->producer, r->channel_id, r};
    return MK_OK;
}

/* ---- status ---- */

static size_t connected_infos(mk_consumer_t *c, mk_peer_info_t **out, mk_catalog_t **cat) {
    size_t n = 0;
    for (mk_cchan_t *ch = c->chans; ch; ch = ch->next) n += ch->state == MK_CHANNEL_CONNECTED && ch->accepted;
    *cat = mk_discovery_catalog(c->st->n);
    *out = n ? calloc(n, sizeof **out) : NULL;
    size_t k = 0;
    for (mk_cchan_t *ch = c->chans; ch && *out; ch = ch->next) {
        if (ch->state != MK_CHANNEL_CONNECTED || !ch->accepted || k >= n) continue;
        mk_peer_info_t *pi = &(*out)[k++];
        if (!*cat || mk_catalog_peer_info(*cat, &ch->peer, pi) != MK_OK || !pi->entry) {
            memset(pi, 0, sizeof *pi);
            pi->entry = ch->entry;
            pi->rtt_us = pi->rttvar_us = -1;
        }
    }
    return k;
}

static void consumer_status(mk_consumer_t *c) {
    mk_peer_info_t *infos;
    mk_catalog_t *cat;
    size_t n = connected_infos(c, &infos, &cat);
    bool online = mk_when_eval(&c->online_when, infos, n);
    mk_gauge_set(c->m_producers, (int64_t)n);
    pthread_mutex_lock(&c->mu);
    if (online != c->online) {
        c->online = online;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    mk_streams_waiters_update(&c->mu, &c->cv, c->waiters, infos, n);
    mk_conds_update(c->conds, infos, n);
    free(infos);
    mk_catalog_free(cat);
}

static bool consumer_eval(void *owner, const mk_when_t *w) {
    mk_consumer_t *c = owner;
    mk_peer_info_t *infos;
    mk_catalog_t *cat;
    size_t n = connected_infos(c, &infos, &cat);
    bool met = mk_when_eval(w, infos, n);
    free(infos);
    mk_catalog_free(cat);
    return met;
}

/* ---- channels ---- */

static void emit(mk_cchan_t *ch) {
    mk_consumer_t *c = ch->c;
    if (!c->cfg.on_channel) return;
    mk_channel_info_t info = {.channel_id = ch->id, .stream_id = c->id, .producer_id = ch->peer,
                              .consumer_id = mk_network_peer_id(c->st->n), .state = ch->state, .stats = ch->stats,
                              .peer = ch->entry};
    c->cfg.on_channel(c->cfg.on_channel_ctx, &info);
}

/* Hands the datums staged since the last call to the receivers under one lock with one wake-up (fd
 * and condition variable), adds callback-mode totals, and pauses reading when the queue is full. */
static void publish(mk_consumer_t *c) {
    if (!c->nstaged && !c->cb_datums) return;
    pthread_mutex_lock(&c->mu);
    c->qlen += c->nstaged;
    c->qbytes += c->staged_bytes;
    c->total.datums += c->cb_datums;
    c->total.bytes += c->cb_bytes;
    c->seen_len = c->qlen;
    c->seen_bytes = c->qbytes;
    bool full = c->qlen >= c->qcap || c->qbytes >= c->cfg.queue_bytes;
    if (c->nstaged) {
        mk_readyfd_set(&c->ready, true);
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    c->nstaged = c->staged_bytes = 0;
    c->cb_datums = c->cb_bytes = 0;
    if (full && !c->paused) {  /* back-pressure: stop reading Connected links until half drained */
        c->paused = true;
        for (mk_cchan_t *x = c->chans; x; x = x->next)
            if (x->link && x->accepted) mk_link_pause_read(x->link, true);
    }
}

static void drop_link(mk_cchan_t *ch, uint32_t code, const char *why) {
    publish(ch->c);  /* a read cut short by the close still delivers what it queued */
    mk_link_t *l = ch->link;
    ch->link = NULL;
    ch->link_open = false;
    if (l) {
        mk_link_set_ops(l, NULL, NULL);
        if (code) mk_link_close_async(l, code, why);
        mk_link_release(l);
    }
    mk_ticket_gate_free(ch->gate);
    ch->gate = NULL;
}

static void chan_free(mk_cchan_t *ch) {
    drop_link(ch, 0, NULL);
    if (ch->retry_ev) event_free(ch->retry_ev);
    mk_peer_entry_unref(ch->entry);
    mk_peer_entry_unref(ch->parked_entry);
    free(ch);
}

static void chan_remove(mk_cchan_t *ch) {
    mk_consumer_t *c = ch->c;
    for (mk_cchan_t **pp = &c->chans; *pp; pp = &(*pp)->next)
        if (*pp == ch) {
            *pp = ch->next;
            break;
        }
    chan_free(ch);
}

/* Ends the channel for good (the producer is dropped, or the consumer closes). */
static void chan_terminate(mk_cchan_t *ch, uint32_t code, const char *why) {
    bool was = ch->state == MK_CHANNEL_CONNECTED && ch->accepted;
    drop_link(ch, code, why);
    ch->state = MK_CHANNEL_TERMINATED;
    ch->stats.last_close = code;
    emit(ch);
    mk_consumer_t *c = ch->c;
    chan_remove(ch);
    if (was) consumer_status(c);
}

/* Parks the producer: the channel stays Terminated until its entry changes or park_ms passes. */
static void chan_park(mk_cchan_t *ch) {
    bool was = ch->state == MK_CHANNEL_CONNECTED && ch->accepted;
    drop_link(ch, 0, NULL);
    ch->state = MK_CHANNEL_TERMINATED;
    ch->accepted = false;
    ch->parked = true;
    ch->parked_until_ms = mk_now_ms() + ch->c->st->cfg.park_ms;
    mk_catalog_t *cat = mk_discovery_catalog(ch->c->st->n);
    const mk_peer_entry_t *cur = cat ? mk_catalog_get(cat, &ch->peer) : NULL;
    mk_peer_entry_unref(ch->parked_entry);
    ch->parked_entry = cur ? mk_peer_entry_ref(cur) : ch->entry ? mk_peer_entry_ref(ch->entry) : NULL;
    mk_catalog_free(cat);
    emit(ch);
    if (was) consumer_status(ch->c);
}

static void on_retry(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_cchan_t *ch = arg;
    if (ch->c->st->stopping || ch->c->closed) return;
    dial(ch);
}

/* The link failed or closed with a retryable cause: redial after the backoff, or park when exhausted. */
static void chan_retry(mk_cchan_t *ch, uint32_t code) {
    bool was = ch->state == MK_CHANNEL_CONNECTED && ch->accepted;
    drop_link(ch, 0, NULL);
    ch->stats.last_close = code;
    ch->accepted = false;
    ch->state = MK_CHANNEL_CONNECTING;
    int64_t d = mk_backoff_next(&ch->backoff, &ch->c->backoff, mk_now_ms(), &ch->c->rng);
    if (was) {
        consumer_status(ch->c);
        emit(ch);
    }
    if (d < 0) {
        chan_park(ch);
        return;
    }
    struct timeval tv = {(time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000};
    event_add(ch->retry_ev, &tv);
}

static const mk_peer_entry_t *gate_latest(void *ctx) {
    mk_cchan_t *ch = ctx;
    mk_catalog_t *cat = mk_discovery_catalog(ch->c->st->n);
    const mk_peer_entry_t *e = cat ? mk_catalog_get(cat, &ch->peer) : NULL;
    if (e) mk_peer_entry_ref(e);
    mk_catalog_free(cat);
    return e;
}

static void gate_revoked(void *ctx, const mk_ticket_verdict_t *why) {
    (void)why;
    chan_terminate(ctx, MK_CLOSE_CANCELLED, "the producer's ticket is no longer valid");
}

static void cchan_on_open(mk_link_t *l, void *ctx, int status, const mk_error_t *err) {
    (void)l;
    (void)err;
    mk_cchan_t *ch = ctx;
    if (status != MK_OK) {
        chan_retry(ch, MK_CLOSE_UNEXPECTED);
        return;
    }
    ch->link_open = true;
    ch->hs_since_ms = mk_now_ms();
    mk_chan_c_init(&ch->proto, &ch->c->st->net_id, &ch->c->id);
    mk_buf_t f = MK_BUF_INIT;
    if (mk_smsg_encode_subscribe(&ch->c->st->net_id, &ch->c->id, MK_CRITERIA_TAG_ALL, &f) != MK_OK ||
        mk_link_write(ch->link, f.ptr, f.len) != MK_OK)
        chan_retry(ch, MK_CLOSE_UNEXPECTED);
    mk_buf_free(&f);
}

static void deliver(mk_cchan_t *ch, mk_bytes_t datum) {
    mk_consumer_t *c = ch->c;
    ch->stats.datums++;
    ch->stats.bytes += datum.len;
    mk_counter_add(c->m_items, 1);
    mk_counter_add(c->m_bytes, datum.len);
    mk_counter_add(c->st->m_datums, 1);
    mk_counter_add(c->st->m_bytes, datum.len);
    if (ch->backoff.streak_start_ms) mk_backoff_reset(&ch->backoff);  /* a datum ends a failure streak */
    if (c->cfg.on_datum) {
        mk_datum_t d = {datum.ptr, datum.len, ch->peer, ch->id, NULL};
        c->cb_datums++;
        c->cb_bytes += datum.len;
        c->cfg.on_datum(c->cfg.on_datum_ctx, &d);
        return;
    }
    mk_rdatum_t *r = mk_bufpool_alloc(datum.len <= MK_STREAMS_SMALL_DATUM ? c->pool : NULL, sizeof *r + datum.len);
    if (!r) return;
    atomic_init(&r->refs, 1);
    r->len = datum.len;
    r->producer = ch->peer;
    r->channel_id = ch->id;
    if (datum.len) memcpy(r->bytes, datum.ptr, datum.len);
    /* Receivers take from the head and never touch slots past the published length, so the loop
     * fills the tail without the lock and publishes once per socket read (cchan_on_read_end). The
     * length seen at the last publish bounds the queue: when the bound says full, publish now to
     * learn the real length (and pause if it is full). */
    c->queue[c->qtail] = r;
    c->qtail = (c->qtail + 1) % c->qcap;
    c->nstaged++;
    c->staged_bytes += datum.len;
    if (c->seen_len + c->nstaged >= c->qcap || c->seen_bytes + c->staged_bytes >= c->cfg.queue_bytes) publish(c);
}

static void cchan_on_frame(mk_link_t *l, void *ctx, const uint8_t *p, size_t n) {
    (void)l;
    mk_cchan_t *ch = ctx;
    mk_chan_c_action_t a;
    mk_chan_c_frame(&ch->proto, p, n, &a);
    switch (a.kind) {
    case MK_CHAN_C_NONE: return;
    case MK_CHAN_C_CLOSE:  /* the producer broke the protocol: close with the code and park it */
        ch->stats.last_close = a.close_code;
        mk_counter_add(ch->c->m_protocol_errors, 1);
        drop_link(ch, a.close_code, a.why);
        chan_park(ch);
        return;
    case MK_CHAN_C_DATUM: deliver(ch, a.datum); return;
    case MK_CHAN_C_DROPPED: ch->stats.dropped += a.dropped; return;
    case MK_CHAN_C_ACCEPTED: break;
    }
    ch->accepted = true;
    MK_LOGF(MK_MOD_STREAMS, MK_LOG_DEBUG, mk_net_self(ch->c->st->n), "stream %s: producer %s accepted channel %llu",
            mk_id_short(&ch->c->id, (char[11]){0}), mk_id_short(&ch->peer, (char[11]){0}), (unsigned long long)ch->id);
    ch->state = MK_CHANNEL_CONNECTED;
    ch->stats.connected_at_ms = mk_streams_now_ms();
    if (ch->stats.last_close) ch->stats.reconnects++;
    if (ch->c->paused) mk_link_pause_read(ch->link, true);
    if (ch->c->ntickets) {
        mk_ticket_gate_ops_t ops = {.latest = gate_latest, .revoked = gate_revoked};
        ch->gate = mk_ticket_gate_new(mk_net_base(ch->c->st->n), ch->c->tickets, ch->c->ntickets, &ops, ch);
        mk_ticket_verdict_t v;
        if (ch->gate) mk_ticket_gate_check(ch->gate, ch->entry, &v);
    }
    emit(ch);
    consumer_status(ch->c);
}

static void sync_noop(void *ctx, int rc, const mk_error_t *e) {
    (void)ctx;
    (void)rc;
    (void)e;
}

static void cchan_on_close(mk_link_t *l, void *ctx, uint32_t code, bool remote, const char *reason) {
    (void)l;
    (void)remote;
    (void)reason;
    mk_cchan_t *ch = ctx;
    ch->stats.last_close = code;
    MK_LOGF(MK_MOD_STREAMS, MK_LOG_DEBUG, mk_net_self(ch->c->st->n), "stream %s: producer %s closed %u (%s)",
            mk_id_short(&ch->c->id, (char[11]){0}), mk_id_short(&ch->peer, (char[11]){0}), code, reason ? reason : "");
    switch (code) {
    case MK_CLOSE_NOT_ALLOWED:
    case MK_CLOSE_STREAM_NOT_FOUND:
    case MK_CLOSE_DIFFERENT_NETWORK:
    case MK_CLOSE_GRACEFUL_SHUTDOWN:
    case MK_CLOSE_PROTOCOL_VIOLATION: chan_park(ch); break;
    case MK_CLOSE_UNKNOWN_PEER:  /* the producer lacks our entry: sync catalogs, then redial */
        mk_disc_sync_peer(ch->c->n, &ch->peer, sync_noop, NULL);
        chan_retry(ch, code);
        break;
    default: chan_retry(ch, code); break;  /* 10_509, 10_413, I/O errors, unknown codes */
    }
}

/* One lock and one wake-up for all the datums of one socket read. */
static void cchan_on_read_end(mk_link_t *l, void *ctx) {
    (void)l;
    publish(((mk_cchan_t *)ctx)->c);
}

static const mk_link_ops_t cchan_ops = {.on_open = cchan_on_open, .on_frame = cchan_on_frame, .on_close = cchan_on_close,
                                        .on_read_end = cchan_on_read_end};

static void dial(mk_cchan_t *ch) {
    mk_consumer_t *c = ch->c;
    mk_catalog_t *cat = mk_discovery_catalog(c->st->n);
    const mk_peer_entry_t *e = cat ? mk_catalog_get(cat, &ch->peer) : NULL;
    mk_peer_addr_t addr;
    memset(&addr, 0, sizeof addr);
    if (e) mk_peer_entry_peer_addr(e, &addr);
    mk_catalog_free(cat);
    if (!addr.naddrs) {
        chan_retry(ch, MK_CLOSE_UNEXPECTED);
        return;
    }
    ch->state = MK_CHANNEL_CONNECTING;
    ch->accepted = false;
    mk_error_t err;
    MK_LOGF(MK_MOD_STREAMS, MK_LOG_DEBUG, mk_net_self(c->st->n), "stream %s: subscribing to %s",
            mk_id_short(&c->id, (char[11]){0}), mk_id_short(&ch->peer, (char[11]){0}));
    ch->link = mk_link_dial(c->st->n, &addr, MK_STREAMS_ALPN, 0, &cchan_ops, ch, &err);
    if (!ch->link) chan_retry(ch, MK_CLOSE_UNEXPECTED);
}

/* ---- finding producers ---- */

static mk_cchan_t *chan_of(mk_consumer_t *c, const mk_peer_id_t *peer) {
    for (mk_cchan_t *ch = c->chans; ch; ch = ch->next)
        if (mk_id_eq(&ch->peer, peer)) return ch;
    return NULL;
}

typedef struct probe_ctx {
    mk_consumer_t *c;
    mk_peer_id_t peer;
} probe_ctx_t;

static void probe_done(void *ctx, int rc, uint64_t rtt_us, const mk_error_t *e) {
    (void)rtt_us;
    (void)e;
    probe_ctx_t *p = ctx;
    mk_consumer_t *c = p->c;
    for (size_t i = 0; i < c->nprobes; i++)
        if (mk_id_eq(&c->probes[i].peer, &p->peer)) {
            c->probes[i].inflight = false;
            c->probes[i].retry_ms = rc == MK_OK ? 0 : mk_now_ms() + c->backoff.initial_ms;
        }
    if (!c->closed && !c->st->stopping) examine(c);
    free(p);
    cunref(c);
}

/* Predicates may judge RTT: a producer without a sample is pinged first and examined again when the
 * answer comes (true = wait for it). */
static bool needs_probe(mk_consumer_t *c, const mk_peer_info_t *info) {
    if (!c->nrequire || info->rtt_us >= 0) return false;
    size_t i = 0;
    while (i < c->nprobes && !mk_id_eq(&c->probes[i].peer, mk_peer_entry_id(info->entry))) i++;
    if (i < c->nprobes && (c->probes[i].inflight || mk_now_ms() < c->probes[i].retry_ms)) return true;
    if (i == c->nprobes) {
        if (c->nprobes == sizeof c->probes / sizeof c->probes[0]) return false;  /* judge without a sample */
        c->probes[c->nprobes++].peer = *mk_peer_entry_id(info->entry);
    } else if (c->probes[i].retry_ms == 0) {
        return false;  /* probed before: its sample expired or was filtered; judge as is */
    }
    probe_ctx_t *p = malloc(sizeof *p);
    if (!p) return false;
    p->c = c;
    p->peer = *mk_peer_entry_id(info->entry);
    cref(c);
    if (mk_disc_ping_peer(c->n, &p->peer, probe_done, p) != MK_OK) {
        free(p);
        cunref(c);
        return false;
    }
    c->probes[i].inflight = true;
    return true;
}

static bool eligible(mk_consumer_t *c, const mk_peer_info_t *info) {
    if (!mk_streams_preds_pass(c->cfg.require, c->nrequire, info)) return false;
    mk_ticket_verdict_t v;
    mk_peer_entry_validate_all(info->entry, c->tickets, c->ntickets, mk_streams_now_ms(), &v);
    return v.valid;
}

static void examine(mk_consumer_t *c) {
    if (c->closed || c->st->stopping) return;
    mk_catalog_t *cat = mk_discovery_catalog(c->st->n);
    if (!cat) return;
    /* producers that left, stopped listing the stream or fail the checks are dropped (102) */
    for (mk_cchan_t *ch = c->chans, *next; ch; ch = next) {
        next = ch->next;
        mk_peer_info_t info;
        int prc = mk_catalog_peer_info(cat, &ch->peer, &info);
        bool listed = prc == MK_OK && info.entry && mk_peer_entry_has_stream(info.entry, &c->id);
        if (!listed) {
            MK_LOGF(MK_MOD_STREAMS, MK_LOG_DEBUG, mk_net_self(c->st->n), "stream %s: producer %s not listed (rc %d, entry %s)",
                    mk_id_short(&c->id, (char[11]){0}), mk_id_short(&ch->peer, (char[11]){0}), prc,
                    prc == MK_OK && info.entry ? "without the stream" : "absent");
            if (ch->parked) chan_remove(ch);
            else chan_terminate(ch, MK_CLOSE_CANCELLED, "the producer no longer offers the stream");
            continue;
        }
        if (ch->parked) {
            /* a restart (new run) or new content, not a periodic re-announce of the same entry */
            const mk_peer_entry_t *was = ch->parked_entry;
            bool changed = !was || mk_peer_entry_version(info.entry).start_ms != mk_peer_entry_version(was).start_ms ||
                           !mk_entry_same_content(info.entry, was);
            if (changed || mk_now_ms() >= ch->parked_until_ms) chan_remove(ch);  /* examined afresh below */
            continue;
        }
        if (!eligible(c, &info)) chan_terminate(ch, MK_CLOSE_CANCELLED, "the producer no longer passes require");
    }
    mk_catalog_iter_t it;
    mk_catalog_iter_init(&it, cat, 0);
    const mk_peer_entry_t *p;
    while ((p = mk_catalog_next(&it))) {
        if (!mk_peer_entry_has_stream(p, &c->id) || chan_of(c, mk_peer_entry_id(p))) continue;
        mk_peer_info_t info;
        if (mk_catalog_peer_info(cat, mk_peer_entry_id(p), &info) != MK_OK || needs_probe(c, &info) ||
            !eligible(c, &info))
            continue;
        mk_cchan_t *ch = calloc(1, sizeof *ch);
        if (!ch) break;
        ch->c = c;
        ch->id = c->st->next_chan_id++;
        ch->peer = *mk_peer_entry_id(p);
        ch->entry = mk_peer_entry_ref(p);
        ch->state = MK_CHANNEL_CONNECTING;
        ch->retry_ev = event_new(mk_net_base(c->st->n), -1, 0, on_retry, ch);
        ch->next = c->chans;
        c->chans = ch;
        emit(ch);
        dial(ch);
    }
    mk_catalog_free(cat);
}

void mk_consumers_on_catalog(mk_streams_t *st) {
    for (mk_consumer_t *c = st->consumers; c; c = c->next) {
        examine(c);
        consumer_status(c);
    }
}

void mk_consumers_tick(mk_streams_t *st) {
    int64_t now = mk_now_ms();
    for (mk_consumer_t *c = st->consumers; c; c = c->next)
        for (mk_cchan_t *ch = c->chans, *next; ch; ch = next) {
            next = ch->next;
            if (ch->link_open && !ch->accepted && now - ch->hs_since_ms >= (int64_t)st->cfg.handshake_timeout_ms)
                chan_retry(ch, MK_CLOSE_HANDSHAKE_TIMEOUT);
        }
    if (now - st->last_reeval_ms < 100) mk_consumers_on_catalog(st);  /* with the sinks' periodic pass */
}

/* ---- closing ---- */

static void close_loop(mk_streams_t *st, mk_consumer_t *c) {
    mk_gauge_add(c->m_active, -1);
    mk_gauge_set(c->m_producers, 0);
    for (mk_consumer_t **pp = &st->consumers; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    while (c->chans) {
        mk_cchan_t *ch = c->chans;
        drop_link(ch, MK_CLOSE_GRACEFUL_SHUTDOWN, "consumer closed");
        ch->state = MK_CHANNEL_TERMINATED;
        emit(ch);
        chan_remove(ch);
    }
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    c->online = false;
    mk_readyfd_set(&c->ready, true);  /* readable once closed */
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    mk_streams_waiters_update(&c->mu, &c->cv, c->waiters, NULL, 0);
    mk_conds_close(c->conds);
    cunref(c);  /* the loop's reference */
}

void mk_consumers_stop(mk_streams_t *st) {
    while (st->consumers) close_loop(st, st->consumers);
}

static void close_cmd(mk_network_t *n, void *arg) {
    mk_consumer_t *c = arg;
    mk_streams_t *st = mk_net_subsystem(n, MK_SUBSYS_STREAMS);
    bool listed = false;
    for (mk_consumer_t *x = st ? st->consumers : NULL; x; x = x->next) listed |= x == c;
    if (listed) close_loop(st, c);
    cunref(c);
}

static void resume_cmd(mk_network_t *n, void *arg) {
    (void)n;
    mk_consumer_t *c = arg;
    if (c->paused && !c->closed) {
        c->paused = false;
        for (mk_cchan_t *ch = c->chans; ch; ch = ch->next)
            if (ch->link) mk_link_pause_read(ch->link, false);
    }
    cunref(c);
}

static void cmd_dispose(void *arg) { cunref(arg); }

/* ---- opening ---- */

typedef struct open_arg {
    mk_id_t id;
    const mk_consumer_config_t *cfg;
    mk_consumer_t *out;
    int rc;
    mk_error_t err;
} open_arg_t;

static void open_cmd(mk_network_t *n, void *arg) {
    open_arg_t *a = arg;
    mk_streams_t *st = mk_net_subsystem(n, MK_SUBSYS_STREAMS);
    if (!st || st->stopping) {
        a->rc = MK_ERR(&a->err, MK_ECLOSED, "the network is shutting down");
        return;
    }
    mk_consumer_t *c = a->out;
    c->st = st;
    c->n = n;
    c->pool = mk_bufpool_retain(st->pool);
    char sid[MK_ID_SHORT_LEN + 1];
    const char *kv[] = {"stream", mk_id_short(&c->id, sid), NULL};
    mk_registry_t *r = mk_net_registry(n);
    c->m_active = mk_metrics_gauge(r, "mosaik_streams_consumers_active", kv);
    c->m_producers = mk_metrics_gauge(r, "mosaik_streams_consumer_producers", kv);
    c->m_items = mk_metrics_counter(r, "mosaik_streams_consumer_items_received", kv);
    c->m_bytes = mk_metrics_counter(r, "mosaik_streams_consumer_bytes_received", kv);
    c->m_protocol_errors = mk_metrics_counter(r, "mosaik_streams_consumer_protocol_errors", kv);
    mk_gauge_add(c->m_active, 1);
    c->next = st->consumers;
    st->consumers = c;
    a->rc = MK_OK;
    examine(c);
    consumer_status(c);
}

mk_consumer_t *mk_consumer_open_id(mk_network_t *n, const mk_id_t *id, const mk_consumer_config_t *cfg, mk_error_t *e) {
    if (!n || !id) {
        MK_ERR(e, MK_EINVAL, "consumer: network or stream id is NULL");
        return NULL;
    }
    if (!mk_streams_of(n, e)) return NULL;
    mk_consumer_t *c = calloc(1, sizeof *c);
    if (!c) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    c->id = *id;
    if (cfg) c->cfg = *cfg;
    if (!c->cfg.queue_datums) c->cfg.queue_datums = 1024;
    if (!c->cfg.queue_bytes) c->cfg.queue_bytes = 64u << 20;
    mk_backoff_t dflt = MK_BACKOFF_DEFAULT;
    const mk_backoff_t *b = c->cfg.backoff ? c->cfg.backoff : &dflt;
    c->backoff = (mk_backoff_params_t){b->initial_ms, b->max_interval_ms, b->max_elapsed_ms, b->multiplier, b->randomization};
    c->cfg.backoff = NULL;
    if (mk_backoff_check(&c->backoff, e) != MK_OK) {
        free(c);
        return NULL;
    }
    while (c->nrequire < MK_STREAM_MAX_REQUIRE && c->cfg.require[c->nrequire].fn) c->nrequire++;
    for (size_t i = 0; i < MK_STREAM_MAX_TICKETS && c->cfg.require_ticket[i]; i++) {
        if (mk_ticket_validator_check(c->cfg.require_ticket[i], e) != MK_OK) {
            for (size_t j = 0; j < c->ntickets; j++) mk_ticket_validator_unref(c->tickets[j]);
            free(c);
            return NULL;
        }
        c->tickets[c->ntickets++] = mk_ticket_validator_ref(c->cfg.require_ticket[i]);
    }
    pthread_mutex_init(&c->mu, NULL);
    mk_cond_init(&c->cv);
    atomic_init(refs_of(c), 2);  /* the loop's and the handle's */
    c->rng = (uint64_t)mk_now_us() ^ (uint64_t)(uintptr_t)c;
    c->opened_ms = mk_streams_now_ms();
    c->qcap = c->cfg.queue_datums + 1;  /* one over: a whole read may land at the bound */
    c->queue = calloc(c->qcap, sizeof *c->queue);
    mk_when_t dflt_when = {.min_peers = 0};
    bool ok = c->queue && mk_readyfd_init(&c->ready) == MK_OK &&
              mk_when_copy(&c->online_when, c->cfg.online_when ? c->cfg.online_when : &dflt_when) == MK_OK;
    c->cfg.online_when = &c->online_when;
    if (ok) mk_readyfd_disarm(&c->ready);  /* flips per datum: armed by the first mk_consumer_fd */
    if (!ok) {
        consumer_destroy(c);
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    open_arg_t a = {.id = *id, .cfg = cfg, .out = c};
    int rc = mk_loop_call(n, open_cmd, &a, 10000, e);
    if (rc == MK_OK) rc = a.rc;
    if (rc != MK_OK) {
        if (e && a.rc != MK_OK) *e = a.err;
        consumer_destroy(c);
        return NULL;
    }
    return c;
}

mk_consumer_t *mk_consumer_open(mk_network_t *n, const char *name, const mk_consumer_config_t *cfg, mk_error_t *e) {
    if (!name || !name[0]) {
        MK_ERR(e, MK_EINVAL, "consumer: the stream name is NULL or empty");
        return NULL;
    }
    mk_id_t id = mk_stream_id(name);
    return mk_consumer_open_id(n, &id, cfg, e);
}

void mk_consumer_free(mk_consumer_t *c) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    bool closed = c->closed;
    c->freed = true;
    pthread_mutex_unlock(&c->mu);
    if (!closed) {
        cref(c);
        if (mk_loop_post(c->n, close_cmd, c, cmd_dispose) != MK_OK) {}
    }
    cunref(c);  /* the handle's */
}

mk_id_t mk_consumer_stream_id(const mk_consumer_t *c) { return c ? c->id : (mk_id_t){{0}}; }

/* ---- receiving ---- */

static int pop(mk_consumer_t *c, mk_datum_t *out) {
    mk_rdatum_t *r = c->queue[c->qhead];
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    c->qbytes -= r->len;
    c->total.datums++;
    c->total.bytes += r->len;
    *out = (mk_datum_t){r->bytes, r->len, r->producer, r->channel_id, r};
    mk_readyfd_set(&c->ready, c->qlen > 0 || c->closed);
    return MK_OK;
}

static void maybe_resume(mk_consumer_t *c, bool was_paused_below) {
    if (!was_paused_below) return;
    cref(c);
    if (mk_loop_post(c->n, resume_cmd, c, cmd_dispose) != MK_OK) {}
}

int mk_consumer_recv(mk_consumer_t *c, mk_datum_t *out, int timeout_ms, mk_error_t *e) {
    if (!c || !out) return MK_ERR(e, MK_EINVAL, "recv: consumer or datum is NULL");
    if (c->cfg.on_datum) return MK_ERR(e, MK_EINVAL, "recv: the consumer is in callback mode");
    pthread_mutex_lock(&c->mu);
    bool closed = c->closed;
    pthread_mutex_unlock(&c->mu);
    if (timeout_ms != 0 && !closed && mk_network_on_loop(c->n))
        return MK_ERR(e, MK_EDEADLK, "recv would block the loop thread");
    int64_t deadline = timeout_ms < 0 ? -1 : mk_deadline_from(timeout_ms);
    int rc = MK_OK;
    pthread_mutex_lock(&c->mu);
    while (!c->qlen) {
        if (c->closed) {
            rc = MK_ERR(e, MK_ECLOSED, "the consumer is closed");
            break;
        }
        if (timeout_ms == 0) {
            rc = MK_EAGAIN;
            if (e) MK_ERR(e, MK_EAGAIN, "no datum");
            break;
        }
        if (mk_cond_wait_ms(&c->cv, &c->mu, deadline) == MK_ETIMEDOUT && !c->qlen) {
            rc = MK_ERR(e, MK_ETIMEDOUT, "no datum within %d ms", timeout_ms);
            break;
        }
    }
    bool resume = false;
    if (rc == MK_OK) {
        pop(c, out);
        resume = !c->closed && c->qlen <= c->qcap / 2 && c->qbytes <= c->cfg.queue_bytes / 2 && c->qlen + 1 > c->qcap / 2;
    }
    pthread_mutex_unlock(&c->mu);
    maybe_resume(c, resume);
    return rc;
}

int mk_consumer_try_recv(mk_consumer_t *c, mk_datum_t *out) { return mk_consumer_recv(c, out, 0, NULL); }

int mk_consumer_recv_many(mk_consumer_t *c, mk_datum_t *out, size_t max, size_t *n, int timeout_ms, mk_error_t *e) {
    if (!n || (!out && max)) return MK_ERR(e, MK_EINVAL, "recv_many: NULL argument");
    *n = 0;
    if (!max) return MK_OK;
    int rc = mk_consumer_recv(c, &out[0], timeout_ms, e);
    if (rc != MK_OK) return rc;
    *n = 1;
    while (*n < max && mk_consumer_try_recv(c, &out[*n]) == MK_OK) (*n)++;
    return MK_OK;
}

int mk_consumer_fd(const mk_consumer_t *c) {
    if (!c) return -1;
    mk_consumer_t *m = (mk_consumer_t *)c;  /* arming changes no observable state */
    pthread_mutex_lock(&m->mu);
    int fd = mk_readyfd_arm(&m->ready);
    pthread_mutex_unlock(&m->mu);
    return fd;
}

int mk_consumer_stats(const mk_consumer_t *c, mk_stream_stats_t *total) {
    if (!c || !total) return MK_EINVAL;
    mk_consumer_t *m = (mk_consumer_t *)(uintptr_t)c;
    pthread_mutex_lock(&m->mu);
    *total = m->total;
    total->connected_at_ms = m->opened_ms;
    total->uptime_ms = (uint64_t)(mk_streams_now_ms() - m->opened_ms);
    pthread_mutex_unlock(&m->mu);
    return MK_OK;
}

/* ---- status ---- */

bool mk_consumer_is_online(const mk_consumer_t *c) {
    if (!c) return false;
    mk_consumer_t *m = (mk_consumer_t *)(uintptr_t)c;
    pthread_mutex_lock(&m->mu);
    bool on = m->online && !m->closed;
    pthread_mutex_unlock(&m->mu);
    return on;
}

bool mk_consumer_check(const mk_consumer_t *c, const mk_when_t *w) {
    if (!c) return false;
    mk_consumer_t *m = (mk_consumer_t *)(uintptr_t)c;
    pthread_mutex_lock(&m->mu);
    bool closed = m->closed;
    pthread_mutex_unlock(&m->mu);
    return !closed && mk_streams_check(m->n, m, consumer_eval, w);
}

int mk_consumer_wait(mk_consumer_t *c, const mk_when_t *w, int timeout_ms, mk_error_t *e) {
    if (!c) return MK_ERR(e, MK_EINVAL, "consumer is NULL");
    return mk_streams_wait(c->n, c, consumer_eval, &c->mu, &c->cv, &c->waiters, &c->closed, w ? w : &c->online_when,
                           timeout_ms, e);
}

int mk_consumer_wait_online(mk_consumer_t *c, int timeout_ms, mk_error_t *e) { return mk_consumer_wait(c, NULL, timeout_ms, e); }

/* ---- channel snapshots ---- */

static int fill_producers(mk_network_t *n, void *owner, mk_channel_info_t **out, size_t *count) {
    mk_consumer_t *c = owner;
    size_t k = 0;
    for (mk_cchan_t *ch = c->chans; ch; ch = ch->next) k++;
    mk_channel_info_t *v = k ? calloc(k, sizeof *v) : NULL;
    if (k && !v) return MK_ENOMEM;
    int64_t now = mk_streams_now_ms();
    for (mk_cchan_t *ch = c->chans; ch; ch = ch->next) {
        if (ch->state == MK_CHANNEL_TERMINATED) continue;  /* parked: on_channel reported the end */
        mk_channel_info_t *i = &v[(*count)++];
        *i = (mk_channel_info_t){.channel_id = ch->id, .stream_id = c->id, .producer_id = ch->peer,
                                 .consumer_id = mk_network_peer_id(n), .state = ch->state, .stats = ch->stats,
                                 .peer = ch->entry ? mk_peer_entry_ref(ch->entry) : NULL};
        if (ch->state == MK_CHANNEL_CONNECTED && ch->stats.connected_at_ms)
            i->stats.uptime_ms = (uint64_t)(now - ch->stats.connected_at_ms);
        else
            i->stats.connected_at_ms = 0;
    }
    *out = v;
    return MK_OK;
}

int mk_consumer_producers(const mk_consumer_t *c, mk_channel_info_t **out, size_t *n, mk_error_t *e) {
    if (!c || !out || !n) return MK_ERR(e, MK_EINVAL, "consumer_producers: NULL argument");
    mk_consumer_t *m = (mk_consumer_t *)(uintptr_t)c;
    return mk_streams_snapshot(m->n, m, fill_producers, &m->mu, &m->closed, "consumer", out, n, e);
}

/* For cond_obj.c. */
bool mk_consumer_eval_when(void *owner, const mk_when_t *w) { return consumer_eval(owner, w); }
void mk_consumer_ref_(mk_consumer_t *c) { cref(c); }
void mk_consumer_unref_(mk_consumer_t *c) { cunref(c); }
