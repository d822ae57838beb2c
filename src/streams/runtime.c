/* streams/runtime.c — the streams subsystem of a network (spec 30): configuration defaults, the
 * /mosaik/streams/1.0 acceptor, the catalog watch and the periodic re-evaluation that drive sinks and
 * consumers, and the shutdown order (sinks and consumers close their links with 204 before the
 * network closes the rest). */
#include "streams/streams_int.h"

#include "core/error.h"
#include "core/time.h"
#include "streams/streams.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

int64_t mk_streams_now_ms(void) { return mk_unix_ms(); }

mk_streams_t *mk_streams_of(mk_network_t *n, mk_error_t *e) {
    mk_streams_t *st = n ? mk_net_subsystem(n, MK_SUBSYS_STREAMS) : NULL;
    if (!st) MK_ERR(e, MK_EINVAL, "streams: no network or no streams subsystem");
    return st;
}

bool mk_streams_peer_info(mk_streams_t *st, const mk_peer_id_t *peer, mk_catalog_t **cat, mk_peer_info_t *out) {
    *cat = mk_discovery_catalog(st->n);
    if (!*cat) return false;
    return mk_catalog_peer_info(*cat, peer, out) == MK_OK && out->entry;
}

bool mk_streams_preds_pass(const mk_peer_pred_t *preds, size_t n, const mk_peer_info_t *info) {
    for (size_t i = 0; i < n; i++)
        if (preds[i].fn && !preds[i].fn(preds[i].ctx, info)) return false;
    return true;
}

static void on_accept(mk_network_t *n, void *ctx, mk_link_t *l) {
    (void)n;
    mk_sink_accept(ctx, l);
}

static void on_catalog(void *ctx) {
    mk_streams_t *st = ctx;
    if (st->stopping) return;
    mk_sinks_on_catalog(st);
    mk_consumers_on_catalog(st);
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_streams_t *st = arg;
    if (st->stopping) return;
    mk_sinks_tick(st);
    mk_consumers_tick(st);
    struct timeval tv = {0, 500 * 1000};
    event_add(st->tick_ev, &tv);
}

static void streams_start(mk_network_t *n, void *state) {
    mk_streams_t *st = state;
    st->watch = mk_catalog_watch(n, NULL);
    if (st->watch) mk_catalog_watch_set_callback(st->watch, on_catalog, st);
    struct timeval tv = {0, 500 * 1000};
    event_add(st->tick_ev, &tv);
}

static void streams_stop(mk_network_t *n, void *state) {
    (void)n;
    mk_streams_t *st = state;
    st->stopping = true;
    if (st->watch) mk_catalog_watch_set_callback(st->watch, NULL, NULL);
    event_del(st->tick_ev);
    mk_consumers_stop(st);
    mk_sinks_stop(st);
}

static void streams_destroy(void *state) {
    mk_streams_t *st = state;
    if (!st) return;
    if (st->watch) mk_catalog_watch_free(st->watch);
    if (st->tick_ev) event_free(st->tick_ev);
    mk_bufpool_close(st->pool);
    free(st);
}

int mk_streams_install(mk_network_t *n, const mk_streams_config_t *cfg, mk_error_t *e) {
    mk_streams_t *st = calloc(1, sizeof *st);
    if (!st) return MK_ERR(e, MK_ENOMEM, "out of memory");
    st->n = n;
    st->net_id = mk_network_id(n);
    if (cfg) st->cfg = *cfg;
#define DEF(f, v) if (!st->cfg.f) st->cfg.f = (v)
    DEF(handshake_timeout_ms, 10000);
    DEF(max_pending_handshakes, 256);
    DEF(reeval_interval_ms, 5000);
    DEF(park_ms, 60000);
    DEF(close_flush_ms, 1000);
#undef DEF
    st->rng = (uint64_t)mk_now_us() ^ 0x5eedu;
    st->next_chan_id = 1;
    st->tick_ev = event_new(mk_net_base(n), -1, 0, on_tick, st);
    st->pool = mk_bufpool_new(MK_STREAMS_POOL_BLOCK, MK_STREAMS_POOL_IDLE);
    mk_registry_t *r = mk_net_registry(n);
    st->m_sinks = mk_metrics_gauge(r, "mosaik_streams_producers_active", NULL);
    st->m_links_accepted = mk_metrics_counter(r, "mosaik_streams_connections_accepted", NULL);
    st->m_links_rejected = mk_metrics_counter(r, "mosaik_streams_connections_rejected", NULL);
    st->m_datums = mk_metrics_counter(r, "mosaik_streams_datums_total", NULL);
    st->m_bytes = mk_metrics_counter(r, "mosaik_streams_bytes_total", NULL);
    int rc = st->tick_ev && st->pool ? mk_net_register(n, MK_STREAMS_ALPN, on_accept, st, e)
                         : MK_ERR(e, MK_ENOMEM, "out of memory");
    mk_subsystem_t s = {.state = st, .start = streams_start, .stop = streams_stop, .destroy = streams_destroy};
    if (rc == MK_OK) rc = mk_net_install(n, MK_SUBSYS_STREAMS, &s, e);
    if (rc != MK_OK) streams_destroy(st);
    return rc;
}

#ifdef MK_TEST_HOOKS
static void cut_cmd(mk_network_t *n, void *arg) {
    (void)arg;
    mk_streams_t *st = mk_net_subsystem(n, MK_SUBSYS_STREAMS);
    if (!st) return;
    for (mk_consumer_t *c = st->consumers; c; c = c->next)
        for (mk_cchan_t *ch = c->chans; ch; ch = ch->next)
            if (ch->link) mk_link_test_cut_now(ch->link);
}

void mk_streams_test_cut(mk_network_t *n) { mk_loop_call(n, cut_cmd, NULL, 5000, NULL); }

typedef struct inject_arg {
    const mk_id_t *stream;
    const void *payload;
    size_t len;
    int written;  /* links written, or the first write error */
} inject_arg_t;

static void inject_cmd(mk_network_t *n, void *arg) {
    inject_arg_t *a = arg;
    mk_streams_t *st = mk_net_subsystem(n, MK_SUBSYS_STREAMS);
    if (!st || st->stopping) {
        a->written = MK_ECLOSED;
        return;
    }
    for (mk_sink_t *s = st->sinks; s; s = s->next) {
        if (!mk_id_eq(&s->id, a->stream)) continue;
        for (mk_pchan_t *c = s->chans; c; c = c->next) {
            if (c->state != MK_CHANNEL_CONNECTED || !c->link) continue;
            int rc = mk_link_write(c->link, a->payload, a->len);
            if (rc != MK_OK) {
                a->written = rc;
                return;
            }
            a->written++;
        }
    }
}

int mk_streams_test_inject(mk_network_t *n, const mk_id_t *stream, const void *payload, size_t len) {
    if (!n || !stream || (!payload && len)) return MK_EINVAL;
    inject_arg_t a = {.stream = stream, .payload = payload, .len = len};
    int rc = mk_loop_call(n, inject_cmd, &a, 5000, NULL);
    return rc != MK_OK ? rc : a.written;
}
#endif
