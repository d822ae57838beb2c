/* streams/sink.c — producers (spec 30 §2): the sink per stream id shared by its handles, the input
 * queue between API threads and the loop, fan-out of each datum to every Connected channel (a full
 * link makes its channel lagging: 10_413, or drop-and-count with Dropped{n}), the subscription
 * handshake with its ordered refusals (101, 10_404, 401, 10_403, 10_509), re-evaluation on catalog
 * changes and ticket expiry, the online condition, and closing (204, the stream leaves the entry). */
#include "streams/streams_int.h"

#include "core/error.h"
#include "core/time.h"
#include "discovery/discovery.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

static const mk_link_ops_t pchan_ops;

static void sdatum_unref(mk_sdatum_t *d) {
    if (d && atomic_fetch_sub(&d->refs, 1) == 1) mk_bufpool_free(d);
}
static void sdatum_release(void *d) { sdatum_unref(d); }

/* ---- references: handles + the loop's + calls in flight ---- */

static _Atomic uint32_t *sink_refs(mk_sink_t *s) { return &s->refs; }

static void sink_destroy(mk_sink_t *s) {
    if (s->drain_ev) event_free(s->drain_ev);
    for (size_t i = 0; i < s->qlen; i++) sdatum_unref(s->queue[(s->qhead + i) % s->cfg.buffer_size]);
    free(s->queue);
    mk_fan_free(&s->fan);
    mk_bufpool_release(s->pool);
    for (size_t i = 0; i < s->ntickets; i++) mk_ticket_validator_unref(s->tickets[i]);
    mk_when_free(&s->online_when);
    mk_readyfd_close(&s->ready);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static void sink_ref(mk_sink_t *s) { atomic_fetch_add(sink_refs(s), 1); }
static void sink_unref(mk_sink_t *s) {
    if (atomic_fetch_sub(sink_refs(s), 1) == 1) sink_destroy(s);
}

/* ---- status ---- */

/* The peer infos of the Connected channels (current catalog entries, else the entry at subscription). */
static size_t connected_infos(mk_sink_t *s, mk_peer_info_t **out, mk_catalog_t **cat) {
    *cat = mk_discovery_catalog(s->st->n);
    *out = s->nchans ? calloc(s->nchans, sizeof **out) : NULL;
    size_t k = 0;
    for (mk_pchan_t *c = s->chans; c && *out; c = c->next) {
        if (c->state != MK_CHANNEL_CONNECTED || k >= s->nchans) continue;
        mk_peer_info_t *pi = &(*out)[k++];
        if (!*cat || mk_catalog_peer_info(*cat, &c->peer, pi) != MK_OK || !pi->entry) {
            memset(pi, 0, sizeof *pi);
            pi->entry = c->entry;
            pi->rtt_us = pi->rttvar_us = -1;
        }
    }
    return k;
}

/* Re-evaluates the online condition and the waiters after any change. */
static void sink_status(mk_sink_t *s) {
    mk_peer_info_t *infos;
    mk_catalog_t *cat;
    size_t n = connected_infos(s, &infos, &cat);
    bool online = mk_when_eval(&s->online_when, infos, n);
    mk_gauge_set(s->m_consumers, (int64_t)s->nchans);
    pthread_mutex_lock(&s->mu);
    if (online != s->online) {
        s->online = online;
        pthread_cond_broadcast(&s->cv);
    }
    mk_readyfd_set(&s->ready, !s->closed && s->online && s->qlen < s->cfg.buffer_size);
    s->stats.total.connected_at_ms = s->opened_ms;
    pthread_mutex_unlock(&s->mu);
    mk_streams_waiters_update(&s->mu, &s->cv, s->waiters, infos, n);
    mk_conds_update(s->conds, infos, n);
    free(infos);
    mk_catalog_free(cat);
}

/* ---- channels ---- */

static void chan_emit(mk_pchan_t *c) {
    mk_sink_t *s = c->sink;
    if (!s || !s->cfg.on_channel) return;
    mk_channel_info_t info = {.channel_id = c->id, .stream_id = s->id, .producer_id = mk_network_peer_id(s->st->n),
                              .consumer_id = c->peer, .state = c->state, .stats = c->stats, .peer = c->entry};
    s->cfg.on_channel(s->cfg.on_channel_ctx, &info);
}

static void chan_free(mk_pchan_t *c) {
    if (c->sink) mk_fan_detach(&c->sink->fan, &c->cur);
    mk_ticket_gate_free(c->gate);
    mk_peer_entry_unref(c->entry);
    if (c->link) {
        mk_link_set_ops(c->link, NULL, NULL);
        mk_link_release(c->link);
    }
    free(c);
}

static void unlink_chan(mk_pchan_t **head, mk_pchan_t *c) {
    for (mk_pchan_t **pp = head; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            return;
        }
}

/* Ends a channel with a close code (its on_close then does nothing). */
static void chan_close(mk_pchan_t *c, uint32_t code, const char *why) {
    mk_streams_t *st = c->st;
    mk_sink_t *s = c->sink;
    if (s) {
        unlink_chan(&s->chans, c);
        if (c->state == MK_CHANNEL_CONNECTED && s->nchans) s->nchans--;
    } else {
        unlink_chan(&st->handshakes, c);
        if (st->nhandshakes) st->nhandshakes--;
    }
    mk_link_t *l = c->link;
    c->link = NULL;
    if (l) {
        mk_link_set_ops(l, NULL, NULL);
        mk_link_close_async(l, code, why);
        mk_link_release(l);
    }
    c->stats.last_close = code;
    bool was_connected = c->state == MK_CHANNEL_CONNECTED;
    c->state = MK_CHANNEL_TERMINATED;
    if (was_connected) chan_emit(c);
    chan_free(c);
    if (s && was_connected) sink_status(s);
}

static mk_sink_t *sink_of(mk_streams_t *st, const mk_id_t *id) {
    for (mk_sink_t *s = st->sinks; s; s = s->next)
        if (mk_id_eq(&s->id, id)) return s;
    return NULL;
}

static const mk_peer_entry_t *gate_latest(void *ctx) {
    mk_pchan_t *c = ctx;
    mk_catalog_t *cat = mk_discovery_catalog(c->st->n);
    const mk_peer_entry_t *e = cat ? mk_catalog_get(cat, &c->peer) : NULL;
    if (e) mk_peer_entry_ref(e);
    mk_catalog_free(cat);
    return e;
}

static void gate_revoked(void *ctx, const mk_ticket_verdict_t *why) {
    mk_pchan_t *c = ctx;
    MK_LOGF(MK_MOD_STREAMS, MK_LOG_DEBUG, mk_net_self(c->st->n), "stream consumer %s: ticket no longer valid (%s)",
            mk_id_short(&c->peer, (char[11]){0}), mk_ticket_reason_str(why->reason));
    chan_close(c, MK_CLOSE_NOT_ALLOWED, "ticket expired or invalid");
}

static void refuse(mk_pchan_t *c, mk_sink_t *s, uint32_t code, const char *why) {
    mk_counter_add(c->st->m_links_rejected, 1);
    if (s) {
        mk_counter_add(s->m_rejected, 1);
        pthread_mutex_lock(&s->mu);
        s->stats.refused++;
        pthread_mutex_unlock(&s->mu);
    }
    MK_LOGF(MK_MOD_STREAMS, MK_LOG_DEBUG, mk_net_self(c->st->n), "refused stream consumer %s: %u %s",
            mk_id_short(&c->peer, (char[11]){0}), code, why);
    chan_close(c, code, why);
}

/* The acceptor's lookups (streams/accept.h) over this node's sinks and catalog. */
typedef struct accept_ctx {
    mk_pchan_t *c;
    mk_sink_t *s;
    mk_catalog_t *cat;
    mk_peer_info_t info;
} accept_ctx_t;

static bool acc_has_stream(void *ctx, const mk_id_t *stream) {
    accept_ctx_t *a = ctx;
    return (a->s = sink_of(a->c->st, stream)) != NULL;
}
static bool acc_peer_known(void *ctx, const mk_id_t *stream) {
    (void)stream;
    accept_ctx_t *a = ctx;
    return mk_streams_peer_info(a->c->st, &a->c->peer, &a->cat, &a->info);
}
static bool acc_allowed(void *ctx, const mk_id_t *stream, const char **why) {
    (void)stream;
    accept_ctx_t *a = ctx;
    if (!mk_streams_preds_pass(a->s->cfg.require, a->s->nrequire, &a->info)) {
        *why = "refused by a require predicate";
        return false;
    }
    mk_ticket_verdict_t v;
    mk_peer_entry_validate_all(a->info.entry, a->s->tickets, a->s->ntickets, mk_streams_now_ms(), &v);
    if (!v.valid) *why = mk_ticket_reason_str(v.reason);
    return v.valid;
}
static bool acc_has_capacity(void *ctx, const mk_id_t *stream) {
    (void)stream;
    accept_ctx_t *a = ctx;
    return !a->s->cfg.max_consumers || a->s->nchans < a->s->cfg.max_consumers;
}
static const mk_accept_ops_t accept_ops = {.has_stream = acc_has_stream, .peer_known = acc_peer_known,
                                           .allowed = acc_allowed, .has_capacity = acc_has_capacity};

/* The consumer was accepted for sink s: answer, move the channel from the handshakes to the sink. */
static void on_accepted(mk_pchan_t *c, mk_sink_t *s, const mk_peer_entry_t *entry) {
    mk_streams_t *st = c->st;
    c->entry = mk_peer_entry_ref(entry);
    mk_buf_t f = MK_BUF_INIT;
    if (mk_smsg_encode_accepted(&st->net_id, &s->id, &f) != MK_OK || mk_link_write(c->link, f.ptr, f.len) != MK_OK) {
        mk_buf_free(&f);
        refuse(c, s, MK_CLOSE_CANCELLED, "cannot answer");
        return;
    }
    mk_buf_free(&f);
    MK_LOGF(MK_MOD_STREAMS, MK_LOG_DEBUG, mk_net_self(st->n), "stream %s: accepted consumer %s",
            mk_id_short(&s->id, (char[11]){0}), mk_id_short(&c->peer, (char[11]){0}));
    unlink_chan(&st->handshakes, c);
    st->nhandshakes--;
    c->sink = s;
    c->state = MK_CHANNEL_CONNECTED;
    c->stats.connected_at_ms = mk_streams_now_ms();
    c->next = s->chans;
    s->chans = c;
    s->nchans++;
    mk_fan_attach(&s->fan, &c->cur);
    mk_link_set_write_mark(c->link, MK_STREAMS_WRITE_WINDOW);
    mk_counter_add(s->m_accepted, 1);
    mk_counter_add(st->m_links_accepted, 1);
    if (s->ntickets) {
        mk_ticket_gate_ops_t ops = {.latest = gate_latest, .revoked = gate_revoked};
        c->gate = mk_ticket_gate_new(mk_net_base(st->n), s->tickets, s->ntickets, &ops, c);
        mk_ticket_verdict_t gv;
        if (c->gate) mk_ticket_gate_check(c->gate, c->entry, &gv);
    }
    chan_emit(c);
    sink_status(s);
}

static void pchan_on_frame(mk_link_t *l, void *ctx, const uint8_t *p, size_t n) {
    (void)l;
    mk_pchan_t *c = ctx;
    accept_ctx_t a = {.c = c};
    mk_chan_p_action_t act;
    mk_chan_p_frame(&c->proto, &c->st->net_id, p, n, &accept_ops, &a, &act);
    if (act.accepted) on_accepted(c, a.s, a.info.entry);
    else if (act.close_code == MK_CLOSE_PROTOCOL_VIOLATION) chan_close(c, act.close_code, act.why);
    else if (act.close_code) refuse(c, a.s, act.close_code, act.why);  /* counted as a refusal */
    mk_catalog_free(a.cat);
}

static void pchan_on_close(mk_link_t *l, void *ctx, uint32_t code, bool remote, const char *reason) {
    (void)l;
    (void)remote;
    (void)reason;
    mk_pchan_t *c = ctx;
    mk_sink_t *s = c->sink;
    if (s) {
        unlink_chan(&s->chans, c);
        if (c->state == MK_CHANNEL_CONNECTED && s->nchans) s->nchans--;
    } else {
        unlink_chan(&c->st->handshakes, c);
        if (c->st->nhandshakes) c->st->nhandshakes--;
    }
    bool was_connected = c->state == MK_CHANNEL_CONNECTED;
    c->state = MK_CHANNEL_TERMINATED;
    c->stats.last_close = code;
    if (was_connected) chan_emit(c);
    chan_free(c);
    if (s && was_connected) sink_status(s);
}

static void pchan_on_writable(mk_link_t *l, void *ctx);
static const mk_link_ops_t pchan_ops = {.on_frame = pchan_on_frame, .on_writable = pchan_on_writable,
                                        .on_close = pchan_on_close};

void mk_sink_accept(mk_streams_t *st, mk_link_t *l) {
    if (st->stopping || st->nhandshakes >= st->cfg.max_pending_handshakes) {
        mk_link_close_async(l, MK_CLOSE_CANCELLED, "too many stream handshakes");
        mk_link_release(l);
        return;
    }
    mk_pchan_t *c = calloc(1, sizeof *c);
    if (!c) {
        mk_link_close_async(l, MK_CLOSE_CANCELLED, "out of memory");
        mk_link_release(l);
        return;
    }
    c->st = st;
    c->link = l;
    c->id = st->next_chan_id++;
    c->peer = mk_link_peer(l);
    c->state = MK_CHANNEL_CONNECTING;
    c->since_ms = mk_now_ms();
    c->next = st->handshakes;
    st->handshakes = c;
    st->nhandshakes++;
    mk_link_set_ops(l, &pchan_ops, c);
}

/* ---- fan-out ---- */

static mk_pchan_t *chan_of_cursor(mk_fan_cursor_t *cur) {
    return (mk_pchan_t *)((char *)cur - offsetof(mk_pchan_t, cur));
}

/* mk_fan_write_fn: one datum to a channel's link, after any Dropped{n} it owes. */
static int write_datum(void *ctx, mk_fan_cursor_t *cur, void *datum) {
    mk_sink_t *s = ctx;
    mk_pchan_t *c = chan_of_cursor(cur);
    const mk_sdatum_t *d = datum;
    if (cur->owed_dropped) {
        mk_buf_t f = MK_BUF_INIT;
        int rc = mk_smsg_encode_dropped(cur->owed_dropped, &f);
        if (rc == MK_OK) rc = mk_link_write(c->link, f.ptr, f.len);
        mk_buf_free(&f);
        if (rc != MK_OK) return rc;
        cur->owed_dropped = 0;
    }
    uint8_t hdr = MK_SMSG_DATUM_HEADER;
    mk_bytes_t parts[2] = {{&hdr, 1}, {d->bytes, d->len}};
    int rc = mk_link_writev(c->link, parts, 2);
    if (rc == MK_OK) {
        c->stats.datums++;
        c->stats.bytes += d->len;
        s->sent_datums++;
        s->sent_bytes += d->len;
    }
    return rc;
}

/* Publishes what the links took since the last call: metrics and the producer's totals. */
static void account_sent(mk_sink_t *s) {
    if (!s->sent_datums) return;
    mk_counter_add(s->m_items, s->sent_datums);
    mk_counter_add(s->m_bytes, s->sent_bytes);
    mk_counter_add(s->st->m_datums, s->sent_datums);
    mk_counter_add(s->st->m_bytes, s->sent_bytes);
    pthread_mutex_lock(&s->mu);
    s->stats.total.datums += s->sent_datums;
    s->stats.total.bytes += s->sent_bytes;
    pthread_mutex_unlock(&s->mu);
    s->sent_datums = s->sent_bytes = 0;
}

/* Hands c's backlog to its link; a failed link closes the channel. */
static void flush_chan(mk_sink_t *s, mk_pchan_t *c) {
    int rc = mk_fan_flush(&s->fan, &c->cur, write_datum, s, NULL);
    if (rc != MK_OK && rc != MK_EFULL) chan_close(c, MK_CLOSE_CANCELLED, "write failed");
}

/* One datum to every Connected channel (the ring holds it until the last link took it). A channel
 * whose backlog would pass buffer_size is lagging: closed with 10_413, or (disconnect_lagging off)
 * it skips its oldest datum and owes a Dropped{n}. */
static void fanout(mk_sink_t *s, mk_sdatum_t *d) {
    bool any = false;
    for (mk_pchan_t *c = s->chans; c && !any; c = c->next)
        any = c->state == MK_CHANNEL_CONNECTED && mk_criteria_matches(NULL, d->bytes, d->len);
    if (!any) {
        if (s->cfg.undelivered) s->cfg.undelivered(s->cfg.undelivered_ctx, d->bytes, d->len);
        pthread_mutex_lock(&s->mu);
        s->stats.undelivered++;
        pthread_mutex_unlock(&s->mu);
        sdatum_unref(d);
        return;
    }
    uint64_t dropped_before = s->fan.dropped;
    mk_fan_push(&s->fan, d);
    for (mk_pchan_t *c = s->chans, *next; c; c = next) {
        next = c->next;
        if (c->cur.lagging) {
            pthread_mutex_lock(&s->mu);
            s->stats.lagging_disconnects++;
            pthread_mutex_unlock(&s->mu);
            chan_close(c, MK_CLOSE_TOO_SLOW, "consumer too slow");
            continue;
        }
        c->stats.dropped = c->cur.dropped;
        if (c->state == MK_CHANNEL_CONNECTED && !c->cur.blocked) flush_chan(s, c);
    }
    if (s->fan.dropped != dropped_before) mk_counter_add(s->m_dropped, s->fan.dropped - dropped_before);
}

static void pchan_on_writable(mk_link_t *l, void *ctx) {
    (void)l;
    mk_pchan_t *c = ctx;
    mk_sink_t *s = c->sink;
    if (!s || c->state != MK_CHANNEL_CONNECTED) return;
    flush_chan(s, c);
    account_sent(s);
}

static void drain_dispose(void *arg);

/* Takes one batch of the input queue (≤ 256 datums, ≤ half the ring, ≤ the write window) and fans
 * it out. When more is queued the drain is posted again rather than looped, so the event loop
 * flushes the links' output between batches. */
#define MK_DRAIN_DATUMS 256
#define MK_DRAIN_BYTES MK_STREAMS_WRITE_WINDOW
static void drain(mk_network_t *n, void *arg) {
    mk_sink_t *s = arg;
    mk_sdatum_t *batch[MK_DRAIN_DATUMS];
    size_t k = 0, bytes = 0;
    pthread_mutex_lock(&s->mu);
    /* a turn never takes more than half the ring: a consumer that keeps up is never overrun by the
     * batching alone, since its link is written between turns */
    size_t max = s->cfg.buffer_size / 2 ? s->cfg.buffer_size / 2 : 1;
    if (max > MK_DRAIN_DATUMS) max = MK_DRAIN_DATUMS;
    while (k < max && bytes < MK_DRAIN_BYTES && s->qlen) {
        bytes += s->queue[s->qhead]->len;
        batch[k++] = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % s->cfg.buffer_size;
        s->qlen--;
    }
    bool more = s->qlen > 0;
    if (!more) s->drain_posted = false;
    bool closed = s->closed;
    mk_readyfd_set(&s->ready, !s->closed && s->online && s->qlen < s->cfg.buffer_size);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < k; i++) {
        if (!closed) fanout(s, batch[i]);  /* takes the reference */
        else sdatum_unref(batch[i]);
    }
    account_sent(s);
    if (more && !closed && s->drain_ev) {
        /* a zero timer runs after the next poll: the links' output is written in between */
        sink_ref(s);
        struct timeval zero = {0, 0};
        evtimer_add(s->drain_ev, &zero);
    } else if (more) {
        pthread_mutex_lock(&s->mu);
        s->drain_posted = false;
        pthread_mutex_unlock(&s->mu);
    }
    sink_unref(s);
}

static void drain_dispose(void *arg) { sink_unref(arg); }

static void on_drain_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_sink_t *s = arg;
    drain(s->n, s);  /* consumes the reference taken when the timer was armed */
}

/* ---- catalog changes and ticks ---- */

static void recheck(mk_sink_t *s) {
    mk_catalog_t *cat = mk_discovery_catalog(s->st->n);
    for (mk_pchan_t *c = s->chans, *next; c; c = next) {
        next = c->next;
        if (c->state != MK_CHANNEL_CONNECTED) continue;
        mk_peer_info_t info;
        if (!cat || mk_catalog_peer_info(cat, &c->peer, &info) != MK_OK || !info.entry) {
            memset(&info, 0, sizeof info);
            info.entry = c->entry;
            info.rtt_us = info.rttvar_us = -1;
        }
        if (!mk_streams_preds_pass(s->cfg.require, s->nrequire, &info)) {
            chan_close(c, MK_CLOSE_NOT_ALLOWED, "no longer passes require");
            continue;
        }
        if (c->gate && info.entry != c->entry &&
            mk_entry_version_cmp(mk_peer_entry_version(info.entry), mk_peer_entry_version(c->entry)) != 0) {
            mk_ticket_verdict_t v;
            mk_ticket_gate_check(c->gate, info.entry, &v);
            if (!v.valid) chan_close(c, MK_CLOSE_NOT_ALLOWED, "ticket no longer valid");
        }
    }
    mk_catalog_free(cat);
    sink_status(s);
}

void mk_sinks_on_catalog(mk_streams_t *st) {
    for (mk_sink_t *s = st->sinks; s; s = s->next) recheck(s);
}

void mk_sinks_tick(mk_streams_t *st) {
    int64_t now = mk_now_ms();
    for (mk_pchan_t *c = st->handshakes, *next; c; c = next) {
        next = c->next;
        if (now - c->since_ms >= (int64_t)st->cfg.handshake_timeout_ms) chan_close(c, MK_CLOSE_PROTOCOL_VIOLATION, "no Subscribe in time");
    }
    if (now - st->last_reeval_ms >= (int64_t)st->cfg.reeval_interval_ms) {
        st->last_reeval_ms = now;
        mk_sinks_on_catalog(st);
    }
}

/* ---- closing ---- */

static void sink_close_loop(mk_streams_t *st, mk_sink_t *s, uint32_t code) {
    for (mk_sink_t **pp = &st->sinks; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    mk_gauge_add(st->m_sinks, -1);
    while (s->chans) chan_close(s->chans, code, code == MK_CLOSE_GRACEFUL_SHUTDOWN ? "producer closed" : "closing");
    if (s->drain_ev && evtimer_pending(s->drain_ev, NULL)) {
        event_del(s->drain_ev);
        sink_unref(s);  /* the armed timer's reference */
    }
    if (s->drain_ev) {
        event_free(s->drain_ev);  /* the base goes with the network; the sink may outlive it */
        s->drain_ev = NULL;
    }
    if (!st->stopping) mk_disc_local_stream(st->n, &s->id, false, 0, NULL);
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    s->online = false;
    mk_readyfd_set(&s->ready, false);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    mk_streams_waiters_update(&s->mu, &s->cv, s->waiters, NULL, 0);
    mk_conds_close(s->conds);
    sink_unref(s);  /* the loop's reference */
}

static void close_cmd(mk_network_t *n, void *arg) {
    mk_sink_t *s = arg;
    mk_streams_t *st = mk_net_subsystem(n, MK_SUBSYS_STREAMS);
    bool listed = false;
    for (mk_sink_t *x = st ? st->sinks : NULL; x; x = x->next) listed |= x == s;
    if (listed) sink_close_loop(st, s, MK_CLOSE_GRACEFUL_SHUTDOWN);
    sink_unref(s);  /* the command's reference */
}

void mk_sinks_stop(mk_streams_t *st) {
    while (st->handshakes) chan_close(st->handshakes, MK_CLOSE_GRACEFUL_SHUTDOWN, "node shutting down");
    while (st->sinks) sink_close_loop(st, st->sinks, MK_CLOSE_GRACEFUL_SHUTDOWN);
}

/* ---- opening ---- */

typedef struct open_arg {
    mk_id_t id;
    const mk_producer_config_t *cfg;
    mk_sink_t *out;
    int rc;
    mk_error_t err;
} open_arg_t;

static mk_sink_t *sink_new(mk_streams_t *st, const mk_id_t *id, const mk_producer_config_t *cfg, mk_error_t *e) {
    mk_sink_t *s = calloc(1, sizeof *s);
    if (!s) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    s->st = st;
    s->n = st->n;
    s->id = *id;
    s->pool = mk_bufpool_retain(st->pool);
    if (cfg) s->cfg = *cfg;
    if (!s->cfg.buffer_size) s->cfg.buffer_size = 1024;
    if (s->cfg.disconnect_lagging == MK_TOGGLE_DEFAULT) s->cfg.disconnect_lagging = MK_TOGGLE_ON;
    while (s->nrequire < MK_STREAM_MAX_REQUIRE && s->cfg.require[s->nrequire].fn) s->nrequire++;
    for (size_t i = 0; i < MK_STREAM_MAX_TICKETS && s->cfg.require_ticket[i]; i++)
        s->tickets[s->ntickets++] = mk_ticket_validator_ref(s->cfg.require_ticket[i]);
    mk_when_t dflt = {.min_peers = 1};
    pthread_mutex_init(&s->mu, NULL);
    mk_cond_init(&s->cv);
    atomic_init(&s->refs, 1);  /* the loop's */
    atomic_init(&s->handles, 0);
    s->opened_ms = mk_streams_now_ms();
    s->queue = calloc(s->cfg.buffer_size, sizeof *s->queue);
    if (!s->queue ||
        mk_fan_init(&s->fan, s->cfg.buffer_size, s->cfg.disconnect_lagging == MK_TOGGLE_OFF, sdatum_release) != MK_OK || mk_when_copy(&s->online_when, s->cfg.online_when ? s->cfg.online_when : &dflt) != MK_OK ||
        mk_readyfd_init(&s->ready) != MK_OK) {
        sink_destroy(s);
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    s->cfg.online_when = &s->online_when;
    mk_readyfd_disarm(&s->ready);  /* flips per send when full: armed by the first mk_producer_fd */
    s->drain_ev = event_new(mk_net_base(st->n), -1, 0, on_drain_timer, s);
    char sid[MK_ID_SHORT_LEN + 1];
    const char *kv[] = {"stream", mk_id_short(&s->id, sid), NULL};
    mk_registry_t *r = mk_net_registry(st->n);
    s->m_consumers = mk_metrics_gauge(r, "mosaik_streams_producer_consumers", kv);
    s->m_accepted = mk_metrics_counter(r, "mosaik_streams_producer_consumers_accepted", kv);
    s->m_rejected = mk_metrics_counter(r, "mosaik_streams_producer_consumers_rejected", kv);
    s->m_items = mk_metrics_counter(r, "mosaik_streams_producer_items_sent", kv);
    s->m_bytes = mk_metrics_counter(r, "mosaik_streams_producer_bytes_sent", kv);
    s->m_dropped = mk_metrics_counter(r, "mosaik_streams_producer_items_dropped", kv);
    for (size_t i = 0; i < s->ntickets; i++) {
        if (mk_ticket_validator_check(s->tickets[i], e) != MK_OK) {
            sink_destroy(s);
            return NULL;
        }
    }
    return s;
}

static void open_cmd(mk_network_t *n, void *arg) {
    open_arg_t *a = arg;
    mk_streams_t *st = mk_net_subsystem(n, MK_SUBSYS_STREAMS);
    if (!st || st->stopping) {
        a->rc = MK_ERR(&a->err, MK_ECLOSED, "the network is shutting down");
        return;
    }
    mk_sink_t *s = sink_of(st, &a->id);
    if (s) {
        if (a->cfg && a->cfg->fail_if_exists) {
            a->rc = MK_ERR(&a->err, MK_EEXIST, "this node already produces stream %s", mk_id_short(&a->id, (char[11]){0}));
            return;
        }
        sink_ref(s);  /* the new handle's */
        atomic_fetch_add(&s->handles, 1);
        a->out = s;
        a->rc = MK_OK;
        return;
    }
    if (!(s = sink_new(st, &a->id, a->cfg, &a->err))) {
        a->rc = a->err.code;
        return;
    }
    s->next = st->sinks;
    st->sinks = s;
    mk_gauge_add(st->m_sinks, 1);
    mk_disc_local_stream(n, &s->id, true, 0, NULL);  /* consumers find us once the entry reaches them */
    sink_ref(s);
    atomic_fetch_add(&s->handles, 1);
    a->out = s;
    a->rc = MK_OK;
    sink_status(s);
}

mk_producer_t *mk_producer_open_id(mk_network_t *n, const mk_id_t *id, const mk_producer_config_t *cfg, mk_error_t *e) {
    if (!n || !id) {
        MK_ERR(e, MK_EINVAL, "producer: network or stream id is NULL");
        return NULL;
    }
    if (!mk_streams_of(n, e)) return NULL;
    mk_producer_t *p = calloc(1, sizeof *p);
    if (!p) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    open_arg_t a = {.id = *id, .cfg = cfg};
    int rc = mk_loop_call(n, open_cmd, &a, 10000, e);
    if (rc == MK_OK) rc = a.rc;
    if (rc != MK_OK) {
        if (e && a.rc != MK_OK) *e = a.err;
        free(p);
        return NULL;
    }
    p->sink = a.out;
    return p;
}

mk_producer_t *mk_producer_open(mk_network_t *n, const char *name, const mk_producer_config_t *cfg, mk_error_t *e) {
    if (!name || !name[0]) {
        MK_ERR(e, MK_EINVAL, "producer: the stream name is NULL or empty");
        return NULL;
    }
    mk_id_t id = mk_stream_id(name);
    return mk_producer_open_id(n, &id, cfg, e);
}

/* ---- API ---- */

mk_id_t mk_producer_stream_id(const mk_producer_t *p) { return p ? p->sink->id : (mk_id_t){{0}}; }

/* A datum of len bytes copied from data; NULL when out of memory. */
static mk_sdatum_t *sdatum_new(mk_sink_t *s, const void *data, size_t len) {
    mk_sdatum_t *d = mk_bufpool_alloc(len <= MK_STREAMS_SMALL_DATUM ? s->pool : NULL, sizeof *d + len);
    if (!d) return NULL;
    atomic_init(&d->refs, 1);
    d->len = len;
    if (len) memcpy(d->bytes, data, len);
    return d;
}

/* Moves d[0..k) into the input queue under one lock, waiting (timeout_ms < 0: forever, 0: not at all)
 * for the producer to be online and the queue to have room; *taken says how many went in (the caller
 * still owns the rest). Posts the drain when the queue was idle. API threads. */
static int enqueue(mk_sink_t *s, mk_sdatum_t **d, size_t k, int timeout_ms, int64_t deadline, size_t *taken,
                   mk_error_t *e) {
    int rc = MK_OK;
    size_t i = 0;
    pthread_mutex_lock(&s->mu);
    while (i < k) {
        if (s->closed) {
            rc = MK_ERR(e, MK_ECLOSED, "the producer is closed");
            break;
        }
        if (s->online && s->qlen < s->cfg.buffer_size) {
            while (i < k && s->qlen < s->cfg.buffer_size) {
                s->queue[(s->qhead + s->qlen) % s->cfg.buffer_size] = d[i++];
                s->qlen++;
                s->stats.accepted++;
            }
            continue;
        }
        if (timeout_ms == 0) {
            rc = !s->online ? MK_ERR(e, MK_EOFFLINE, "the producer is offline (its online condition is unmet)")
                            : MK_ERR(e, MK_EFULL, "the input queue is full (%u datums)", s->cfg.buffer_size);
            break;
        }
        if (i && !s->drain_posted) break;  /* let the loop start draining what went in, then come back */
        if (mk_cond_wait_ms(&s->cv, &s->mu, deadline) == MK_ETIMEDOUT) {
            rc = MK_ERR(e, MK_ETIMEDOUT, "send: not %s within %d ms", s->online ? "room" : "online", timeout_ms);
            break;
        }
    }
    bool post = i > 0 && !s->drain_posted;
    if (post) s->drain_posted = true;
    if (i) mk_readyfd_set(&s->ready, s->online && s->qlen < s->cfg.buffer_size);
    pthread_mutex_unlock(&s->mu);
    *taken = i;
    if (post) {
        sink_ref(s);
        (void)mk_loop_post(s->n, drain, s, drain_dispose);  /* fails only while stopping: dropped with the sink */
    }
    return rc;
}

/* Checks a send call's arguments and the producer's state before any copy. */
static int send_check(mk_producer_t *p, size_t len, int timeout_ms, mk_error_t *e) {
    mk_sink_t *s = p->sink;
    pthread_mutex_lock(&s->mu);
    bool closed = s->closed;
    pthread_mutex_unlock(&s->mu);
    if (closed) return MK_ERR(e, MK_ECLOSED, "the producer is closed");
    size_t max = mk_net_config(s->n)->max_frame_size;
    if (len + 1 > max) return MK_ERR(e, MK_E2BIG, "datum of %zu bytes exceeds the frame limit %zu", len, max - 1);
    if (timeout_ms != 0 && mk_network_on_loop(s->n)) return MK_ERR(e, MK_EDEADLK, "send would block the loop thread");
    return MK_OK;
}

static int send_impl(mk_producer_t *p, const void *data, size_t len, int timeout_ms, mk_error_t *e) {
    if (!p || (!data && len)) return MK_ERR(e, MK_EINVAL, "send: producer or data is NULL");
    int rc = send_check(p, len, timeout_ms, e);
    if (rc != MK_OK) return rc;
    mk_sdatum_t *d = sdatum_new(p->sink, data, len);
    if (!d) return MK_ERR(e, MK_ENOMEM, "out of memory");
    int64_t deadline = timeout_ms < 0 ? -1 : mk_deadline_from(timeout_ms);
    size_t taken = 0;
    while (rc == MK_OK && !taken) rc = enqueue(p->sink, &d, 1, timeout_ms, deadline, &taken, e);
    if (!taken) sdatum_unref(d);
    return rc;
}

int mk_producer_try_send(mk_producer_t *p, const void *data, size_t len, mk_error_t *e) {
    return send_impl(p, data, len, 0, e);
}

int mk_producer_send(mk_producer_t *p, const void *data, size_t len, int timeout_ms, mk_error_t *e) {
    return send_impl(p, data, len, timeout_ms, e);
}

/* Datums are copied and queued in runs of up to 64, each run under one lock. */
#define MK_SEND_RUN 64
int mk_producer_send_many(mk_producer_t *p, const mk_send_item_t *v, size_t n, size_t *accepted, int timeout_ms,
                          mk_error_t *e) {
    if (accepted) *accepted = 0;
    if (!p || (!v && n)) return MK_ERR(e, MK_EINVAL, "send_many: producer or items are NULL");
    for (size_t i = 0; i < n; i++) {
        if (!v[i].data && v[i].len) return MK_ERR(e, MK_EINVAL, "send_many: item %zu has NULL data", i);
        int rc = send_check(p, v[i].len, timeout_ms, e);
        if (rc != MK_OK) return rc;
    }
    int64_t deadline = timeout_ms < 0 ? -1 : mk_deadline_from(timeout_ms);
    size_t done = 0;
    int rc = MK_OK;
    while (done < n && rc == MK_OK) {
        mk_sdatum_t *run[MK_SEND_RUN];
        size_t k = 0;
        while (k < MK_SEND_RUN && done + k < n) {
            if (!(run[k] = sdatum_new(p->sink, v[done + k].data, v[done + k].len))) break;
            k++;
        }
        if (!k) return MK_ERR(e, MK_ENOMEM, "out of memory");
        size_t off = 0;
        while (rc == MK_OK && off < k) {
            size_t taken = 0;
            rc = enqueue(p->sink, run + off, k - off, timeout_ms, deadline, &taken, e);
            off += taken;
        }
        for (size_t i = off; i < k; i++) sdatum_unref(run[i]);
        done += off;
        if (accepted) *accepted = done;
    }
    return rc;
}

int mk_producer_fd(const mk_producer_t *p) {
    if (!p) return -1;
    pthread_mutex_lock(&p->sink->mu);
    int fd = mk_readyfd_arm(&p->sink->ready);
    pthread_mutex_unlock(&p->sink->mu);
    return fd;
}

int mk_producer_stats(const mk_producer_t *p, mk_producer_stats_t *out) {
    if (!p || !out) return MK_EINVAL;
    mk_sink_t *s = p->sink;
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->total.connected_at_ms = s->opened_ms;
    out->total.uptime_ms = (uint64_t)(mk_streams_now_ms() - s->opened_ms);
    pthread_mutex_unlock(&s->mu);
    return MK_OK;
}

bool mk_producer_is_online(const mk_producer_t *p) {
    if (!p) return false;
    pthread_mutex_lock(&p->sink->mu);
    bool on = p->sink->online && !p->sink->closed;
    pthread_mutex_unlock(&p->sink->mu);
    return on;
}

void mk_producer_free(mk_producer_t *p) {
    if (!p) return;
    mk_sink_t *s = p->sink;
    free(p);
    pthread_mutex_lock(&s->mu);
    bool closed = s->closed;  /* the network closed it already: do not touch the network */
    pthread_mutex_unlock(&s->mu);
    if (atomic_fetch_sub(&s->handles, 1) == 1 && !closed) {  /* the last handle closes the sink */
        sink_ref(s);
        if (mk_loop_post(s->n, close_cmd, s, drain_dispose) != MK_OK) {}
    }
    sink_unref(s);
}

/* For status.c. */

/* ---- conditions ---- */

static bool sink_eval(void *owner, const mk_when_t *w) {
    mk_sink_t *s = owner;
    mk_peer_info_t *infos;
    mk_catalog_t *cat;
    size_t n = connected_infos(s, &infos, &cat);
    bool met = mk_when_eval(w, infos, n);
    free(infos);
    mk_catalog_free(cat);
    return met;
}

bool mk_producer_check(const mk_producer_t *p, const mk_when_t *w) {
    if (!p) return false;
    mk_sink_t *s = p->sink;
    pthread_mutex_lock(&s->mu);
    bool closed = s->closed;
    pthread_mutex_unlock(&s->mu);
    return !closed && mk_streams_check(s->n, s, sink_eval, w);
}

int mk_producer_wait(mk_producer_t *p, const mk_when_t *w, int timeout_ms, mk_error_t *e) {
    if (!p) return MK_ERR(e, MK_EINVAL, "producer is NULL");
    mk_sink_t *s = p->sink;
    return mk_streams_wait(s->n, s, sink_eval, &s->mu, &s->cv, &s->waiters, &s->closed, w ? w : &s->online_when,
                           timeout_ms, e);
}

int mk_producer_wait_online(mk_producer_t *p, int timeout_ms, mk_error_t *e) { return mk_producer_wait(p, NULL, timeout_ms, e); }

/* ---- channel snapshots ---- */

static int fill_consumers(mk_network_t *n, void *owner, mk_channel_info_t **out, size_t *count) {
    mk_sink_t *s = owner;
    size_t k = 0;
    for (mk_pchan_t *c = s->chans; c; c = c->next) k++;
    mk_channel_info_t *v = k ? calloc(k, sizeof *v) : NULL;
    if (k && !v) return MK_ENOMEM;
    int64_t now = mk_streams_now_ms();
    for (mk_pchan_t *c = s->chans; c; c = c->next) {
        mk_channel_info_t *i = &v[(*count)++];
        *i = (mk_channel_info_t){.channel_id = c->id, .stream_id = s->id, .producer_id = mk_network_peer_id(n),
                                 .consumer_id = c->peer, .state = c->state, .stats = c->stats,
                                 .peer = c->entry ? mk_peer_entry_ref(c->entry) : NULL};
        if (c->stats.connected_at_ms) i->stats.uptime_ms = (uint64_t)(now - c->stats.connected_at_ms);
    }
    *out = v;
    return MK_OK;
}

int mk_producer_consumers(const mk_producer_t *p, mk_channel_info_t **out, size_t *n, mk_error_t *e) {
    if (!p || !out || !n) return MK_ERR(e, MK_EINVAL, "producer_consumers: NULL argument");
    mk_sink_t *s = p->sink;
    return mk_streams_snapshot(s->n, s, fill_consumers, &s->mu, &s->closed, "producer", out, n, e);
}

/* For cond_obj.c. */
bool mk_sink_eval_when(void *owner, const mk_when_t *w) { return sink_eval(owner, w); }
void mk_sink_ref_(mk_sink_t *s) { sink_ref(s); }
void mk_sink_unref_(mk_sink_t *s) { sink_unref(s); }
