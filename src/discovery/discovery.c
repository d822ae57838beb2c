/* discovery/discovery.c — the discovery runtime on the network's loop: installation and lifecycle,
 * the local entry (drafts, re-signing, rate limit), merging received entries into the store with
 * events and snapshot publication, purge timing, and the small public queries (me, stats). The
 * protocol pieces live in announce.c (overlay + gossip), sync_io.c (catalog sync) and ping_io.c. */
#include "discovery/disc_int.h"

#include "core/error.h"
#include "core/time.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define MK_RESIGN_MIN_GAP_MS 50 /* at most 20 local versions per second (spec 20 §3.3) */

/* ---- small helpers ---- */

int64_t mk_disc_now_ms(void) { return mk_unix_ms(); }

uint64_t mk_disc_rand(mk_disc_t *d) {
    uint64_t z = (d->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t mk_disc_jitter(mk_disc_t *d, uint32_t base_ms, double j) {
    double u = (double)(mk_disc_rand(d) >> 11) / (double)(1ull << 53);  /* [0, 1) */
    double v = (double)base_ms * (1.0 + j * (2.0 * u - 1.0));
    return v < 50.0 ? 50u : (uint32_t)v;
}

void mk_disc_arm(struct event *ev, uint32_t ms) {
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    evtimer_add(ev, &tv);
}

bool mk_disc_stopping(const mk_disc_t *d) { return d->stopping; }

void mk_disc_feed_signed(mk_network_t *n, const void *p, size_t len) {
    mk_disc_t *d = mk_net_subsystem(n, MK_SUBSYS_DISCOVERY);
    if (!d || d->stopping || !p || !len) return;
    mk_store_result_t res = {0};
    mk_disc_merge(d, p, len, NULL, false, &res);  /* schedules the snapshot: never re-enters the caller */
    mk_peer_entry_unref(res.entry);
}

void mk_disc_stat_add(mk_disc_t *d, uint64_t *field, uint64_t v) {
    pthread_mutex_lock(&d->stats_mu);
    *field += v;
    pthread_mutex_unlock(&d->stats_mu);
}

void mk_disc_count_reject(mk_disc_t *d, mk_entry_reject_t why) {
    if ((unsigned)why >= MK_REJ_COUNT) return;
    mk_disc_stat_add(d, &d->stats.rejected[why], 1);
    mk_counter_add(d->m.rejected[why], 1);
}

/* ---- events and snapshots ---- */

void mk_disc_queue_event(mk_disc_t *d, mk_peer_event_kind_t kind, const mk_peer_id_t *peer,
                         const mk_peer_entry_t *entry, bool changed, mk_depart_reason_t reason) {
    if (d->npending == d->cap_pending) {
        size_t cap = d->cap_pending ? 2 * d->cap_pending : 16;
        mk_disc_pending_event_t *p = realloc(d->pending, cap * sizeof *p);
        if (!p) return;  /* events are best effort under memory pressure; the catalog stays right */
        d->pending = p;
        d->cap_pending = cap;
    }
    mk_disc_pending_event_t *ev = &d->pending[d->npending++];
    ev->kind = kind;
    ev->peer = *peer;
    ev->entry = entry ? mk_peer_entry_ref(entry) : NULL;
    ev->content_changed = changed;
    ev->reason = reason;
    if (kind == MK_PEER_DISCOVERED) mk_counter_add(d->m.discovered, 1);
    else if (kind == MK_PEER_UPDATED) mk_counter_add(d->m.updated, 1);
    else mk_counter_add(d->m.departed, 1);
    mk_disc_schedule_publish(d);
}

static void publish_now(mk_disc_t *d) {
    d->publish_scheduled = false;
    mk_catalog_t *snap = NULL;
    if (mk_disc_build_snapshot(d, &snap) == MK_OK) mk_catalog_pub_publish(d->pub, snap);
    /* the snapshot holding the changes is out: now their events may be read */
    for (size_t i = 0; i < d->npending; i++) {
        mk_disc_pending_event_t *p = &d->pending[i];
        mk_event_ring_push(d->ring, p->kind, &p->peer, p->entry, p->content_changed, p->reason);
        mk_peer_entry_unref(p->entry);
    }
    d->npending = 0;
    mk_store_counts_t counts;
    mk_store_counts(d->store, &counts);
    mk_gauge_set(d->m.catalog_size, (int64_t)(counts.signed_peers + counts.unsigned_peers));
    pthread_mutex_lock(&d->stats_mu);
    d->stats.catalog_signed = counts.signed_peers;
    d->stats.catalog_unsigned = counts.unsigned_peers;
    d->stats.tombstones = counts.tombstones;
    pthread_mutex_unlock(&d->stats_mu);
}

static void on_publish(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    publish_now(arg);
}

void mk_disc_publish_pending(mk_disc_t *d) {
    if (d->publish_scheduled) publish_now(d);
}

void mk_disc_schedule_publish(mk_disc_t *d) {
    if (d->publish_scheduled) return;
    d->publish_scheduled = true;
    event_active(d->publish_ev, EV_TIMEOUT, 0);  /* runs after the current callbacks: one per turn */
}

int mk_disc_build_snapshot(mk_disc_t *d, mk_catalog_t **out) {
    size_t n = mk_store_size(d->store);
    const mk_peer_entry_t **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return MK_ENOMEM;
    for (size_t i = 0; i < n; i++) v[i] = mk_store_at(d->store, i);
    mk_catalog_params_t p = {.seq = ++d->snap_seq, .purge_after_ms = d->cfg.c.purge_after_ms,
                             .max_rtt_ms = d->cfg.c.max_rtt_ms, .rtt = d->rtt};
    int rc = mk_catalog_build(v, n, d->local, &p, out);
    free(v);
    return rc;
}

/* ---- purge ---- */

static void arm_purge(mk_disc_t *d) {
    int64_t next = mk_store_next_expiry(d->store);
    if (next < 0) {
        evtimer_del(d->purge_ev);
        return;
    }
    int64_t wait = next - mk_disc_now_ms();
    mk_disc_arm(d->purge_ev, wait < 0 ? 0u : (uint32_t)(wait > 86400000 ? 86400000 : wait) + 1);
}

static void on_purged(void *ctx, const mk_peer_entry_t *gone) {
    mk_disc_t *d = ctx;
    mk_disc_peer_gone(d, mk_peer_entry_id(gone), gone, MK_DEPART_STALE);
}

static void on_purge(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_disc_t *d = arg;
    mk_store_purge(d->store, mk_disc_now_ms(), on_purged, d);
    arm_purge(d);
}

void mk_disc_peer_gone(mk_disc_t *d, const mk_peer_id_t *peer, const mk_peer_entry_t *last,
                       mk_depart_reason_t reason) {
    mk_rtt_forget(d->rtt, peer);
    mk_announce_forget(d, peer);
    mk_disc_queue_event(d, MK_PEER_DEPARTED, peer, last, false, reason);
}

/* ---- merging ---- */

int mk_disc_merge(mk_disc_t *d, const uint8_t *p, size_t len, mk_disc_conn_t *from, bool via_gossip,
                  mk_store_result_t *res) {
    mk_store_result_t local;
    if (!res) res = &local;
    int verdict = mk_store_offer(d->store, p, len, mk_disc_now_ms(), res);
    if (from && from->queue &&
        (verdict == MK_STORE_DUPLICATE || verdict == MK_STORE_NEW || verdict == MK_STORE_UPDATED))
        mk_gossip_queue_drop_known(from->queue, &res->peer, res->version);  /* it has it: do not send it back */
    mk_disc_stat_add(d, &d->stats.entries_in, 1);
    mk_counter_add(d->m.entries_in, 1);
    switch (verdict) {
    case MK_STORE_NEW:
    case MK_STORE_UPDATED: {
        bool is_new = verdict == MK_STORE_NEW;
        const mk_peer_entry_t *e = res->entry;
        mk_disc_queue_event(d, is_new ? MK_PEER_DISCOVERED : MK_PEER_UPDATED, mk_peer_entry_id(e), e,
                            !is_new && res->content_changed, 0);
        mk_peer_addr_t addr;
        mk_peer_entry_peer_addr(e, &addr);
        if (addr.naddrs) mk_net_observe(d->n, &addr);
        mk_announce_learned(d, mk_peer_entry_id(e));
        bool urgent = via_gossip && (is_new || res->content_changed);
        mk_announce_gossip(d, e, from, urgent);
        if (res->replaced_unsigned || is_new) arm_purge(d);
        else arm_purge(d);
        break;
    }
    case MK_STORE_DUPLICATE:
        mk_disc_stat_add(d, &d->stats.duplicates, 1);
        mk_counter_add(d->m.duplicates, 1);
        break;
    case MK_STORE_REJECTED:
        mk_disc_count_reject(d, res->reject);
        break;
    case MK_STORE_SELF:
        if (res->self_newer) {
            MK_LOGF_RL(MK_MOD_DISCOVERY, MK_LOG_WARN, d->self_short,
                       "our key is in use elsewhere: saw a newer entry for ourselves; re-signing above it");
            mk_entry_version_t v = mk_peer_entry_version(res->entry ? res->entry : d->local);
            if (mk_entry_version_cmp(v, d->draft->version) > 0) d->draft->version = v;
            d->local_dirty = true;
            mk_disc_resign_soon(d);
        }
        break;
    default: break;
    }
    if (res->entry && res == &local) mk_peer_entry_unref(res->entry);
    return verdict;
}

/* ---- local entry ---- */

static void finish_waiting(mk_disc_t *d, int rc) {
    mk_disc_cmd_t *c = d->waiting_local;
    d->waiting_local = NULL;
    while (c) {
        mk_disc_cmd_t *next = c->next_waiting;
        mk_disc_cmd_done(c, rc, NULL);
        c = next;
    }
}

/* Re-signs the draft with update = max(update + 1, now), keeping start. */
static void resign(mk_disc_t *d) {
    d->local_dirty = false;
    uint64_t now = (uint64_t)mk_disc_now_ms();
    uint64_t next = d->draft->version.update_ms + 1;
    d->draft->version.update_ms = next > now ? next : now;
    const mk_peer_entry_t *e = NULL;
    mk_error_t err;
    if (mk_entry_draft_seal(d->draft, d->sk, &e, &err) != MK_OK) {
        MK_LOGF(MK_MOD_DISCOVERY, MK_LOG_ERROR, d->self_short, "cannot sign the local entry: %s", err.msg);
        finish_waiting(d, err.code);
        return;
    }
    mk_peer_entry_unref(d->local);
    d->local = e;
    d->last_sign_mono_ms = mk_now_ms();
    mk_store_set_local(d->store, e);
    publish_now(d);  /* waiting callers see the new version in the catalog when they return */
    mk_announce_local(d);
    finish_waiting(d, MK_OK);
}

static void on_resign(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_disc_t *d = arg;
    if (d->local_dirty && !d->stopping) resign(d);
}

void mk_disc_resign_soon(mk_disc_t *d) {
    int64_t gap = mk_now_ms() - d->last_sign_mono_ms;
    if (gap >= MK_RESIGN_MIN_GAP_MS) event_active(d->resign_ev, EV_TIMEOUT, 0);  /* end of this turn */
    else if (!evtimer_pending(d->resign_ev, NULL)) mk_disc_arm(d->resign_ev, (uint32_t)(MK_RESIGN_MIN_GAP_MS - gap));
}

/* Periodic re-announce: a fresh version of unchanged content (spec 20 §3.3 b). */
static void on_announce(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_disc_t *d = arg;
    if (d->stopping) return;
    d->local_dirty = true;
    resign(d);
    mk_disc_arm(d->announce_ev, mk_disc_jitter(d, d->cfg.c.announce_interval_ms, d->cfg.c.announce_jitter));
}

/* Copies the network's published addresses into the draft. */
static void take_addresses(mk_disc_t *d, mk_network_t *n) {
    mk_peer_addr_t a;
    mk_network_addr(n, &a);
    mk_sock_addr_t addrs[MK_ADDR_MAX];
    size_t k = 0;
    for (size_t i = 0; i < a.naddrs && k < MK_ADDR_MAX; i++)
        if (mk_sock_addr_from_sockaddr(&a.addrs[i], &addrs[k]) == MK_OK) k++;
    mk_entry_draft_set_addrs(d->draft, addrs, k);
}

static void on_addrs_changed(void *ctx, mk_network_t *n) {
    mk_disc_t *d = ctx;
    take_addresses(d, n);
    d->local_dirty = true;
    mk_disc_resign_soon(d);
}

void mk_disc_record_rtt(mk_disc_t *d, const mk_peer_id_t *peer, uint32_t rtt_us) {
    if (!mk_store_has_peer(d->store, peer)) return;  /* RTT state lives only for catalog peers */
    int64_t before = -1, after = -1;
    mk_rtt_get(d->rtt, peer, &before, NULL, NULL, NULL);
    mk_rtt_record(d->rtt, peer, rtt_us, mk_now_ms());
    mk_rtt_get(d->rtt, peer, &after, NULL, NULL, NULL);
    if (d->cfg.c.max_rtt_ms) {  /* a flip of the max_rtt filter publishes a snapshot (and wakes watches) */
        int64_t limit = (int64_t)d->cfg.c.max_rtt_ms * 1000;
        if ((before > limit) != (after > limit)) mk_disc_schedule_publish(d);
    }
}

static void on_rtt(void *ctx, const mk_peer_id_t *peer, uint32_t rtt_us) {
    mk_disc_t *d = ctx;
    if (atomic_load_explicit(&d->test_no_passive_rtt, memory_order_relaxed)) return;
    mk_disc_record_rtt(d, peer, rtt_us);
}

#ifdef MK_TEST_HOOKS
typedef struct rtt_hook {
    mk_peer_id_t peer;
    uint32_t rtt_us;
} rtt_hook_t;

static void run_rtt_hook(mk_disc_t *d, mk_disc_cmd_t *c) {
    rtt_hook_t *h = c->payload;
    mk_disc_record_rtt(d, &h->peer, h->rtt_us);
    mk_disc_publish_pending(d);
    mk_disc_cmd_done(c, MK_OK, NULL);
}

static void free_rtt_hook(mk_disc_cmd_t *c) {
    free(c->payload);
    c->payload = NULL;
}

void mk_discovery_test_drop_gossip(mk_network_t *n, bool drop) {
    mk_disc_t *d = mk_net_subsystem(n, MK_SUBSYS_DISCOVERY);
    if (d) atomic_store(&d->test_drop_gossip, drop);
}

void mk_discovery_test_no_passive_rtt(mk_network_t *n, bool off) {
    mk_disc_t *d = mk_net_subsystem(n, MK_SUBSYS_DISCOVERY);
    if (d) atomic_store(&d->test_no_passive_rtt, off);
}

int mk_discovery_test_rtt_record(mk_network_t *n, const mk_peer_id_t *peer, uint32_t rtt_us) {
    rtt_hook_t *h = malloc(sizeof *h);
    if (!h) return MK_ENOMEM;
    h->peer = *peer;
    h->rtt_us = rtt_us;
    return mk_disc_cmd_submit(n, mk_disc_cmd_new(run_rtt_hook, free_rtt_hook, h), 5000, NULL);
}
#endif

/* ---- lifecycle ---- */

static void disc_start(mk_network_t *n, void *state) {
    mk_disc_t *d = state;
    (void)n;
    mk_catalog_pub_bind_loop(d->pub);  /* waits on the loop thread fail with MK_EDEADLK */
    mk_event_ring_bind_loop(d->ring);
    resign(d);  /* the first signed local entry carries the bound addresses */
    mk_disc_arm(d->announce_ev, mk_disc_jitter(d, d->cfg.c.announce_interval_ms, d->cfg.c.announce_jitter));
    mk_announce_start(d);
}

static void disc_stop(mk_network_t *n, void *state) {
    mk_disc_t *d = state;
    (void)n;
    d->stopping = true;
    finish_waiting(d, MK_ETERMINATED);
    mk_announce_stop(d);  /* Depart to the active view, then Disconnect and Close 204 */
    mk_sync_stop(d);
    mk_ping_stop(d);
    publish_now(d);  /* deliver what is pending, then close the handles */
    mk_catalog_pub_close(d->pub);
    mk_event_ring_close(d->ring);
    struct event *evs[] = {d->announce_ev, d->purge_ev, d->resign_ev, d->publish_ev};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i]) event_del(evs[i]);
}

static void disc_destroy(void *state) {
    mk_disc_t *d = state;
    if (!d) return;
    finish_waiting(d, MK_ETERMINATED);
    mk_announce_free(d);
    mk_sync_free(d);
    if (d->probe_ev) event_free(d->probe_ev);
    struct event *evs[] = {d->announce_ev, d->purge_ev, d->resign_ev, d->publish_ev};
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
        if (evs[i]) event_free(evs[i]);
    for (size_t i = 0; i < d->npending; i++) mk_peer_entry_unref(d->pending[i].entry);
    free(d->pending);
    if (d->pub) mk_catalog_pub_close(d->pub);
    if (d->ring) mk_event_ring_close(d->ring);
    mk_catalog_pub_unref(d->pub);
    mk_event_ring_unref(d->ring);
    mk_hpv_free(d->hpv);
    mk_store_free(d->store);
    mk_rtt_unref(d->rtt);
    mk_peer_entry_unref(d->local);
    if (d->draft) mk_entry_draft_free(d->draft);
    free(d->draft);
    mk_disc_config_free(&d->cfg);
    pthread_mutex_destroy(&d->stats_mu);
    free(d);
}

static void create_metrics(mk_disc_t *d) {
    mk_registry_t *r = mk_net_registry(d->n);
    d->m.catalog_size = mk_metrics_gauge(r, "mosaik_discovery_catalog_size", NULL);
    d->m.neighbors = mk_metrics_gauge(r, "mosaik_discovery_gossip_neighbors", NULL);
    d->m.passive = mk_metrics_gauge(r, "mosaik_discovery_gossip_passive", NULL);
    d->m.discovered = mk_metrics_counter(r, "mosaik_discovery_peers_discovered", NULL);
    d->m.updated = mk_metrics_counter(r, "mosaik_discovery_peers_updated", NULL);
    d->m.departed = mk_metrics_counter(r, "mosaik_discovery_peers_departed", NULL);
    d->m.frames_in = mk_metrics_counter(r, "mosaik_discovery_gossip_frames_received", NULL);
    d->m.frames_out = mk_metrics_counter(r, "mosaik_discovery_gossip_frames_sent", NULL);
    d->m.entries_in = mk_metrics_counter(r, "mosaik_discovery_gossip_entries_received", NULL);
    d->m.entries_out = mk_metrics_counter(r, "mosaik_discovery_gossip_entries_sent", NULL);
    d->m.duplicates = mk_metrics_counter(r, "mosaik_discovery_gossip_duplicates", NULL);
    for (int i = 0; i < MK_REJ_COUNT; i++) {
        const char *kv[] = {"reason", mk_entry_reject_str((mk_entry_reject_t)i), NULL};
        d->m.rejected[i] = mk_metrics_counter(r, "mosaik_discovery_entries_rejected", kv);
    }
    const char *ok[] = {"result", "ok", NULL}, *bad[] = {"result", "failed", NULL};
    d->m.syncs_ok = mk_metrics_counter(r, "mosaik_discovery_catalog_syncs", ok);
    d->m.syncs_failed = mk_metrics_counter(r, "mosaik_discovery_catalog_syncs", bad);
    d->m.probes_ok = mk_metrics_counter(r, "mosaik_discovery_rtt_probes", ok);
    d->m.probes_failed = mk_metrics_counter(r, "mosaik_discovery_rtt_probes", bad);
}

int mk_discovery_install(mk_network_t *n, const mk_discovery_config_t *cfg, mk_error_t *e) {
    mk_disc_t *d = calloc(1, sizeof *d);
    if (!d) return MK_ERR(e, MK_ENOMEM, "out of memory");
    pthread_mutex_init(&d->stats_mu, NULL);
    d->stats.dht_slot = -1;
    int rc = mk_disc_config_resolve(cfg, &d->cfg, e);
    if (rc != MK_OK) {
        pthread_mutex_destroy(&d->stats_mu);
        free(d);
        return rc;
    }
    d->n = n;
    d->net_id = mk_network_id(n);
    d->self = mk_network_peer_id(n);
    mk_id_short(&d->self, d->self_short);
    d->sk = mk_net_secret_key(n);
    d->rng = (uint64_t)mk_now_us() ^ ((uint64_t)d->self.b[0] << 56 | (uint64_t)d->self.b[1] << 48);
    create_metrics(d);
    struct event_base *base = mk_net_base(n);
    d->publish_ev = event_new(base, -1, 0, on_publish, d);
    d->resign_ev = event_new(base, -1, 0, on_resign, d);
    d->announce_ev = event_new(base, -1, 0, on_announce, d);
    d->purge_ev = event_new(base, -1, 0, on_purge, d);
    d->draft = calloc(1, sizeof *d->draft);
    mk_store_params_t sp = {.network = d->net_id, .self = d->self, .purge_after_ms = d->cfg.c.purge_after_ms,
                            .max_time_drift_ms = d->cfg.c.max_time_drift_ms, .max_peers = d->cfg.c.max_peers};
    d->store = mk_store_new(&sp);
    d->rtt = mk_rtt_new();
    d->pub = mk_catalog_pub_new();
    d->ring = mk_event_ring_new(d->cfg.c.events_backlog);
    if (!d->publish_ev || !d->resign_ev || !d->announce_ev || !d->purge_ev || !d->draft || !d->store || !d->rtt ||
        !d->pub || !d->ring) {
        disc_destroy(d);
        return MK_ERR(e, MK_ENOMEM, "out of memory creating discovery");
    }
    /* the initial draft: addresses, config tags, start = now */
    mk_entry_draft_init(d->draft, &d->net_id, &d->self);
    uint64_t now = (uint64_t)mk_disc_now_ms();
    d->draft->version.start_ms = now;
    d->draft->version.update_ms = now;
    for (size_t i = 0; i < d->cfg.ntags; i++) {
        mk_id_t tag = mk_id_from_str(d->cfg.tags[i]);
        mk_entry_draft_add_tag(d->draft, &tag);
    }
    take_addresses(d, n);
    /* an initial signed entry exists before the loop runs, so mk_discovery_me never sees NULL */
    if (mk_entry_draft_seal(d->draft, d->sk, &d->local, e) != MK_OK) {
        disc_destroy(d);
        return e ? e->code : MK_EINVAL;
    }
    mk_store_set_local(d->store, d->local);
    mk_catalog_t *snap = NULL;
    if (mk_disc_build_snapshot(d, &snap) == MK_OK) mk_catalog_pub_publish(d->pub, snap);
    if ((rc = mk_announce_install(d, e)) != MK_OK || (rc = mk_sync_install(d, e)) != MK_OK ||
        (rc = mk_ping_install(d, e)) != MK_OK) {
        disc_destroy(d);
        return rc;
    }
    mk_net_on_addrs_changed(n, on_addrs_changed, d);
    mk_net_set_rtt_observer(n, on_rtt, d, d->cfg.c.rtt_probe_interval_ms);
    mk_subsystem_t s = {.state = d, .start = disc_start, .stop = disc_stop, .destroy = disc_destroy};
    if ((rc = mk_net_install(n, MK_SUBSYS_DISCOVERY, &s, e)) != MK_OK) {
        disc_destroy(d);
        return rc;
    }
    return MK_OK;
}
