/* tests/sim/groups/snaps.c — snapshots on simulated nodes, wired as the runtime does on its loop thread
 * (src/groups/snapshots.c, src/groups/snapfetch_drive.c, src/groups/lifecycle.c):
 * - the machine (registers, counter and, with exactly_once, the session table that filters duplicates as
 *   group.c's seen_before does) has snapshots: items are one per register, the counter, then filler
 *   items that name the state they belong to; the header is built like mk_gsnap_header (configuration and
 *   origin at the anchor through mk_raft_config_at, has_commands, the session table);
 * - a far-behind follower whose ready batch says snapshot_wanted runs a fetch session (groups/sync/
 *   snapfetch.c) over the simulated bonds as StateSync messages, installs the items in order and hands the
 *   result to the core (mk_raft_install_snapshot); a leader turns RequestSnapshot into a marker
 *   (mk_raft_propose_marker); every node applying a fresh marker snapshots its state at that index,
 *   offers it (SnapshotReady) and answers FetchDataRequest from it, cut to a byte budget, until its TTL;
 * - with snapshot_every, a node snapshots every snapshot_every applied entries — into the store's
 *   snapshot area when durable (LMDB), not at all in memory — and prunes its log up to anchor − retain
 *   (mk_raft_compact); a durable node restarts from its stored snapshot (mk_gsnap_restore).
 * Two runtime behaviours that look wrong are modelled only on request (w->install_unstored,
 * w->covered_call_fails; see groups-sim.c --as-runtime): by default a fetched snapshot is also written
 * to a durable node's snapshot area, so that the node can restart. */
#include "sim/groups/model.h"

#include "groups/machine.h"
#include "groups/sync/snapfetch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void say(gworld_t *w, int node, uint32_t kind, uint64_t arg, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void say(gworld_t *w, int node, uint32_t kind, uint64_t arg, const char *fmt, ...) {
    char text[160] = "";
    if (w->s->trace) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
    }
    sim_trace(w->s, (uint32_t)node, kind, arg, w->s->trace ? text : NULL);
}

void gs_params(gworld_t *w) {
    sim_t *s = w->s;
    w->snap_sync = sim_below(s, 2);  /* half the seeds: snapshot sync, the others log replay */
    uint64_t every = (uint64_t)sim_range(s, 20, 100), retain = (uint64_t)sim_range(s, 0, 40);
    /* mostly retain ≥ replay_batch, as the defaults (10000 ≥ 2000): a follower close enough to be
     * replicated to then never needs a compacted entry (see compacted_prefix_probe) */
    if (sim_below(s, 4)) retain += w->replay_batch;
    w->retain = retain;
    if (w->snap_sync && sim_below(s, 3)) w->snapshot_every = every;  /* two thirds of those compact too */
    w->snapshot_batch = (uint32_t)sim_range(s, 1, 8);
    w->snapshot_ttl_ms = (uint32_t)sim_range(s, 2000, 10000);
    w->snapshot_request_ms = (uint32_t)sim_range(s, 1000, 5000);
    w->snapshot_fetch_ms = (uint32_t)sim_range(s, 300, 2000);
    w->snap_pad = (uint32_t)sim_range(s, 0, 30);
    w->snap_budget = (size_t)sim_range(s, 30, 400);
}

/* ---- the machine ---- */

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 31);
}

static uint64_t regs_hash(const int64_t *reg, int64_t counter) {
    uint64_t h = 1469598103934665603ull;
    for (int k = 0; k < NKEYS; k++) h = mix(h, (uint64_t)reg[k]);
    return mix(h, (uint64_t)counter);
}

uint64_t gs_state_hash(const gnode_t *n) {
    uint64_t sum = 0;  /* the session table as a set: its order does not matter */
    for (size_t i = 0; i < n->nsess; i++) sum += mix(mix(mix(7, n->sess[i].session), n->sess[i].seq), n->sess[i].at);
    return mix(regs_hash(n->reg, n->counter), sum);
}

/* group.c's seen_before: true if (session, seq) was applied already; records it otherwise (evicting the
 * session applied longest ago once max_sessions are kept). */
bool gs_seen_before(gworld_t *w, gnode_t *n, uint64_t session, uint64_t seq, mk_index_t at) {
    if (!session) return false;
    size_t oldest = 0;
    for (size_t i = 0; i < n->nsess; i++) {
        if (n->sess[i].session == session) {
            if (seq <= n->sess[i].seq) return true;
            n->sess[i].seq = seq;
            n->sess[i].at = at;
            return false;
        }
        if (n->sess[i].at < n->sess[oldest].at) oldest = i;
    }
    size_t max = w->cc.max_sessions ? w->cc.max_sessions : 4096;
    if (n->nsess >= max) {
        n->sess[oldest] = (gsess_t){session, seq, at};
        return false;
    }
    if (n->nsess == n->capsess) {
        n->capsess = n->capsess ? 2 * n->capsess : 16;
        n->sess = realloc(n->sess, n->capsess * sizeof *n->sess);
        if (!n->sess) abort();
    }
    n->sess[n->nsess++] = (gsess_t){session, seq, at};
    return false;
}

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* mk_gsnap_header: configuration and origin at the anchor, has_commands, n × (session, seq, at). */
static int make_header(gnode_t *n, mk_index_t anchor, mk_buf_t *out) {
    mk_raft_body_t cfg;
    mk_index_t at = 0;
    if (!mk_raft_config_at(n->raft, anchor, &cfg, &at)) return MK_ENOTFOUND;
    size_t slen = n->nsess * 24;
    uint8_t *sessions = malloc(slen ? slen : 1);
    if (!sessions) abort();
    for (size_t i = 0; i < n->nsess; i++) {
        put64(sessions + 24 * i, n->sess[i].session);
        put64(sessions + 24 * i + 8, n->sess[i].seq);
        put64(sessions + 24 * i + 16, n->sess[i].at);
    }
    mk_gsync_snap_header_t h = {.origin = cfg.config.origin, .config_index = at, .nvoters = cfg.config.nvoters,
                                .has_commands = n->raft->meta.has_commands, .sessions = {sessions, slen}};
    memcpy(h.voters, cfg.config.voters, cfg.config.nvoters * sizeof *h.voters);
    int rc = mk_gsync_snap_header_encode(&h, out, NULL);
    free(sessions);
    return rc;
}

/* mk_gsnap_take_sessions */
static void take_sessions(gnode_t *n, const mk_gsync_snap_header_t *h) {
    size_t k = h->sessions.len / 24;
    if (k > n->capsess) {
        n->capsess = k;
        n->sess = realloc(n->sess, k * sizeof *n->sess);
        if (!n->sess) abort();
    }
    const uint8_t *p = h->sessions.ptr;
    for (size_t i = 0; i < k; i++) n->sess[i] = (gsess_t){get64(p + 24 * i), get64(p + 24 * i + 8), get64(p + 24 * i + 16)};
    n->nsess = k;
}

static void snap_take(gnode_t *n, gsnap_t *sn, mk_cursor_t anchor) {
    memset(sn, 0, sizeof *sn);
    sn->anchor = anchor;
    memcpy(sn->reg, n->reg, sizeof sn->reg);
    sn->counter = n->counter;
    sn->items = NKEYS + 1 + n->w->snap_pad;
}

/* Item k of a snapshot: 'R' key value (registers), 'C' value (the counter), 'P' k hash (fillers that
 * name the registers and counter they go with, so that an item out of place shows). */
static size_t snap_item(const gsnap_t *sn, uint64_t k, uint8_t out[17]) {
    if (k < NKEYS) {
        out[0] = 'R';
        out[1] = (uint8_t)k;
        put64(out + 2, (uint64_t)sn->reg[k]);
        return 10;
    }
    if (k == NKEYS) {
        out[0] = 'C';
        put64(out + 1, (uint64_t)sn->counter);
        return 9;
    }
    out[0] = 'P';
    put64(out + 1, k);
    put64(out + 9, regs_hash(sn->reg, sn->counter));
    return 17;
}

/* ---- install (the machine's install_begin / install_put / install_end) ---- */

static void inst_begin(gnode_t *n, uint64_t count) { n->inst = (ginstall_t){.open = true, .count = count}; }

static int inst_put(gnode_t *n, const uint8_t *p, size_t len) {
    ginstall_t *in = &n->inst;
    uint64_t k = in->next++;
    if (!in->open || k >= in->count) in->bad = true;
    else if (k < NKEYS) {
        if (len != 10 || p[0] != 'R' || p[1] != k) in->bad = true;
        else in->reg[k] = (int64_t)get64(p + 2);
    } else if (k == NKEYS) {
        if (len != 9 || p[0] != 'C') in->bad = true;
        else in->counter = (int64_t)get64(p + 1);
    } else if (len != 17 || p[0] != 'P' || get64(p + 1) != k || get64(p + 9) != regs_hash(in->reg, in->counter)) {
        in->bad = true;
    }
    return in->bad ? MK_EPROTO : MK_OK;
}

static int restore_put(void *ctx, const void *item, size_t len) { return inst_put(ctx, item, len); }

/* ---- sending ---- */

static void send_sync(gworld_t *w, gnode_t *n, int to, const mk_gsync_msg_t *m) {
    mk_buf_t out = MK_BUF_INIT;
    mk_error_t e;
    if (mk_gsync_msg_encode(m, &out, &e) != MK_OK)
        sim_violate(w->s, "sync_encode", "node %d cannot encode a %s: %s", n->idx, mk_gsync_msg_kind_name(m->kind), e.msg);
    else gw_send(w, n->idx, to, &out, true);
    mk_buf_free(&out);
}

/* ---- offers (mk_gsnap_on_marker, on_fetch_data, mk_gsnap_tick) ---- */

static gsnap_t *offer_at(gnode_t *n, mk_cursor_t anchor) {
    for (size_t i = 0; i < n->noffers; i++)
        if (n->offers[i].anchor.index == anchor.index && n->offers[i].anchor.term == anchor.term) return &n->offers[i];
    return NULL;
}

/* The node's state is the state at `at`: kept as an offer (or the one at `at` reused) and announced. */
static void offer(gworld_t *w, gnode_t *n, mk_cursor_t at, int requester, uint64_t req_id) {
    int64_t now = gw_node_now(w, n);
    gsnap_t *o = offer_at(n, at);
    if (!o) {
        gsnap_t sn;
        snap_take(n, &sn, at);
        if (w->mutate_offer) sn.counter++;  /* the checker must notice (snapshot_state) */
        if (make_header(n, at.index, &sn.header) != MK_OK) {
            mk_buf_free(&sn.header);
            return;
        }
        n->offers = realloc(n->offers, (n->noffers + 1) * sizeof *n->offers);
        if (!n->offers) abort();
        o = &n->offers[n->noffers++];
        *o = sn;
        w->stats_offers++;
    }
    o->expires_ms = now + w->snapshot_ttl_ms;
    mk_gsync_msg_t m = {.kind = MK_GSYNC_SNAPSHOT_READY,
                        .snapshot_ready = {.req_id = req_id, .anchor = at, .item_count = o->items,
                                           .header = {o->header.ptr, o->header.len}}};
    send_sync(w, n, requester, &m);
}

void gs_on_marker(gworld_t *w, gnode_t *n, mk_cursor_t at, const mk_log_entry_t *e) {
    mk_raft_body_t b;
    if (mk_raft_body_decode(MK_ENTRY_SNAPSHOT_MARKER, e->body, e->len, &b, NULL) != MK_OK) return;
    int64_t now = gw_node_now(w, n);
    int64_t age = now - (int64_t)b.marker.requested_at_ms;
    if (age > (int64_t)w->snapshot_ttl_ms || mk_id_eq(&b.marker.requester, &n->id)) return;
    offer(w, n, at, gw_node_of(w, &b.marker.requester), b.marker.req_id);
}

static void on_fetch_data(gworld_t *w, gnode_t *n, int from, const mk_gsync_msg_t *m) {
    gsnap_t *o = offer_at(n, m->fetch_data_req.anchor);
    mk_gsync_msg_t r = {.kind = MK_GSYNC_FETCH_DATA_RESP,
                        .fetch_data_resp = {.anchor = m->fetch_data_req.anchor, .from = m->fetch_data_req.from}};
    w->stats_data_reqs++;
    if (!o || m->fetch_data_req.from >= o->items) {
        r.fetch_data_resp.gone = true;
        send_sync(w, n, from, &r);
        return;
    }
    uint64_t to = m->fetch_data_req.to < o->items ? m->fetch_data_req.to : o->items;
    size_t cap = (size_t)(to - m->fetch_data_req.from);
    mk_bytes_t *items = calloc(cap, sizeof *items);
    uint8_t(*bytes)[17] = calloc(cap, sizeof *bytes);
    if (!items || !bytes) abort();
    size_t k = 0, used = 0;
    for (uint64_t i = m->fetch_data_req.from; i < to; i++) {  /* cut like collect_put, to the frame */
        size_t len = snap_item(o, i, bytes[k]);
        if (k && used + len + 10 > w->snap_budget) break;
        items[k] = (mk_bytes_t){bytes[k], len};
        used += len + 10;
        k++;
    }
    r.fetch_data_resp.items = items;
    r.fetch_data_resp.nitems = k;
    o->expires_ms = gw_node_now(w, n) + w->snapshot_ttl_ms;
    send_sync(w, n, from, &r);
    free(items);
    free(bytes);
}

static void offers_free(gnode_t *n) {
    for (size_t i = 0; i < n->noffers; i++) mk_buf_free(&n->offers[i].header);
    free(n->offers);
    n->offers = NULL;
    n->noffers = 0;
}

/* ---- the requester (snapfetch_drive.c) ---- */

static void fetch_stop(gnode_t *n) {
    n->inst.open = false;
    mk_snapfetch_free(n->fetch);
    n->fetch = NULL;
}

static void give_up(gworld_t *w, gnode_t *n, const char *why) {
    say(w, n->idx, 52, 0, "snapshot sync abandoned: %s", why);
    w->stats_fetch_aborts++;
    fetch_stop(n);
    mk_raft_snapshot_abort(n->raft, gw_node_now(w, n));
}

void gs_fetch_start(gworld_t *w, gnode_t *n) {
    if (n->fetch) return;
    mk_snapfetch_config_t cfg = {.req_id = sim_rand(w->s) | 1,
                                 .commit = n->raft->commit,
                                 .snapshot_batch = w->snapshot_batch,
                                 .request_timeout_ms = w->snapshot_request_ms,
                                 .fetch_timeout_ms = w->snapshot_fetch_ms,
                                 .leader = n->raft->has_leader ? &n->raft->leader : NULL};
    mk_error_t e;
    n->fetch = mk_snapfetch_new(&cfg, gw_node_now(w, n), &e);
    if (!n->fetch) {
        give_up(w, n, e.msg);
        return;
    }
    n->fetch_started_us = w->s->now_us;
    w->stats_fetches++;
    say(w, n->idx, 50, n->raft->commit, "far behind (commit %llu): fetching a snapshot",
        (unsigned long long)n->raft->commit);
}

void gs_fetch_leader(gworld_t *w, gnode_t *n) {
    if (n->fetch) mk_snapfetch_set_leader(n->fetch, gw_node_now(w, n), n->raft->has_leader ? &n->raft->leader : NULL);
}

void gs_peer_down(gworld_t *w, gnode_t *n, int peer) {
    if (n->fetch) mk_snapfetch_peer_down(n->fetch, gw_node_now(w, n), &w->nodes[peer].id);
}

/* Writes n's machine state at `anchor` with `header` into its store's snapshot area. */
static int store_snapshot(gnode_t *n, mk_cursor_t anchor, const mk_buf_t *header) {
    mk_log_store_t *st = simstore_pub(n->store);
    gsnap_t sn;
    snap_take(n, &sn, anchor);
    int rc = st->vt->snap_begin(st->self, anchor, header->ptr, header->len);
    for (uint64_t k = 0; k < sn.items && rc == MK_OK; k++) {
        uint8_t b[17];
        size_t len = snap_item(&sn, k, b);
        rc = st->vt->snap_put(st->self, b, len);
    }
    if (rc == MK_OK) rc = st->vt->snap_commit(st->self);
    return rc;
}

/* The last item arrived: the machine swaps to the new state, the core restarts its log at the anchor. */
static bool finish(gworld_t *w, gnode_t *n, const mk_snapfetch_ready_t *rd) {
    mk_gsync_snap_header_t h;
    if (mk_gsync_snap_header_decode(rd->header.ptr, rd->header.len, &h, NULL) != MK_OK ||
        rd->anchor.index <= n->raft->commit) {
        give_up(w, n, "the snapshot header does not decode, or the anchor is no longer ahead");
        return false;
    }
    if (n->inst.bad || n->inst.next != n->inst.count) {  /* the runtime's machine would refuse it */
        sim_violate(w->s, "snapshot_items", "node %d got %llu of %llu items of the snapshot at %llu out of order or "
                    "altered", n->idx, (unsigned long long)n->inst.next, (unsigned long long)n->inst.count,
                    (unsigned long long)rd->anchor.index);
        return false;
    }
    memcpy(n->reg, n->inst.reg, sizeof n->reg);
    n->counter = n->inst.counter;
    n->inst.open = false;
    mk_raft_body_t cfg = {.kind = MK_ENTRY_CONFIG};
    cfg.config.origin = h.origin;
    cfg.config.nvoters = h.nvoters;
    memcpy(cfg.config.voters, h.voters, h.nvoters * sizeof *h.voters);
    mk_error_t e;
    int rc = mk_raft_install_snapshot(n->raft, gw_node_now(w, n), rd->anchor, &cfg, h.config_index, h.has_commands, &e);
    if (rc != MK_OK) {
        sim_violate(w->s, "install_refused", "node %d: the core refused the snapshot at %llu the machine installed: %s",
                    n->idx, (unsigned long long)rd->anchor.index, e.msg);
        return false;
    }
    take_sessions(n, &h);
    n->applied = n->compacted_at = rd->anchor.index;
    n->applied_term = rd->anchor.term;
    w->stats_installs++;
    w->ever_based = true;
    if (w->s->now_us - n->fetch_started_us > w->stats_install_max_us)
        w->stats_install_max_us = w->s->now_us - n->fetch_started_us;
    say(w, n->idx, 51, rd->anchor.index, "installed a snapshot at %llu/%llu (%llu items) after %lld ms",
        (unsigned long long)rd->anchor.index, (unsigned long long)rd->anchor.term, (unsigned long long)rd->item_count,
        (long long)((w->s->now_us - n->fetch_started_us) / MS));
    gk_on_snapshot(w, n, rd->anchor, "installed");
    if (n->durable && !w->install_unstored) {  /* so that it can restart (the runtime does not: see the top) */
        mk_buf_t hdr = MK_BUF_INIT;
        if (mk_buf_append(&hdr, rd->header.ptr, rd->header.len) != MK_OK ||
            store_snapshot(n, rd->anchor, &hdr) != MK_OK)
            sim_violate(w->s, "snapshot_store", "node %d cannot store its installed snapshot", n->idx);
        mk_buf_free(&hdr);
    }
    return true;
}

static void pump(gworld_t *w, gnode_t *n) {
    mk_snapfetch_ready_t rd;
    while (n->fetch && mk_snapfetch_ready(n->fetch, &rd)) {
        for (size_t i = 0; i < rd.nmsgs; i++) gw_send(w, n->idx, gw_node_of(w, &rd.msgs[i].to), &rd.msgs[i].bytes, true);
        if (rd.restart) n->inst.open = false;
        if (rd.begin) inst_begin(n, rd.item_count);
        for (size_t i = 0; i < rd.nitems; i++) {
            if (inst_put(n, rd.items[i].ptr, rd.items[i].len) != MK_OK) {
                mk_snapfetch_advance(n->fetch, &rd);
                sim_violate(w->s, "snapshot_items", "node %d got item %llu of the snapshot at %llu out of order or "
                            "altered", n->idx, (unsigned long long)(rd.items_from + i), (unsigned long long)rd.anchor.index);
                give_up(w, n, "the state machine refused a snapshot item");
                return;
            }
        }
        if (rd.done) {
            bool ok = n->inst.open && finish(w, n, &rd);
            if (n->fetch) mk_snapfetch_advance(n->fetch, &rd);
            fetch_stop(n);
            if (ok) {
                gc_on_applied(w, n);
                gw_process(w, n);
            }
            return;
        }
        mk_snapfetch_advance(n->fetch, &rd);
    }
}

/* ---- the node's side of sync messages (mk_gsnap_on_sync) ---- */

bool gs_on_sync(gworld_t *w, gnode_t *n, int from, const mk_gsync_msg_t *m) {
    switch (m->kind) {
    case MK_GSYNC_REQ_SNAPSHOT: {
        int64_t now = gw_node_now(w, n);
        if (!w->snap_sync) return true;
        if (mk_raft_propose_marker(n->raft, now, &w->nodes[from].id, m->req_snapshot.req_id, (uint64_t)now) == MK_OK) {
            w->stats_markers++;
            say(w, n->idx, 53, (uint64_t)from, "snapshot marker for node %d", from);
        }
        if (mk_raft_quorum_waits_for(n->raft, &w->nodes[from].id) && n->applied) {  /* as mk_gsnap_on_sync */
            w->stats_direct_offers++;
            say(w, n->idx, 56, (uint64_t)from, "the quorum waits for node %d: offering the state at %llu", from,
                (unsigned long long)n->applied);
            offer(w, n, (mk_cursor_t){.term = n->applied_term, .index = n->applied}, from, m->req_snapshot.req_id);
        }
        return true;
    }
    case MK_GSYNC_FETCH_DATA_REQ: on_fetch_data(w, n, from, m); return true;
    case MK_GSYNC_SNAPSHOT_READY:
    case MK_GSYNC_FETCH_DATA_RESP:
        if (n->fetch) mk_snapfetch_step(n->fetch, gw_node_now(w, n), &w->nodes[from].id, m);
        return true;
    default: return false;
    }
}

void gs_tick(gworld_t *w, gnode_t *n) {
    static int debug = -1;  /* SIM_DEBUG_FETCH=1: the sync sessions' progress every 500 ms */
    if (debug < 0) debug = getenv("SIM_DEBUG_FETCH") != NULL;
    int64_t now = gw_node_now(w, n);
    size_t k = 0;
    for (size_t i = 0; i < n->noffers; i++) {
        if (now < n->offers[i].expires_ms) n->offers[k++] = n->offers[i];
        else mk_buf_free(&n->offers[i].header);
    }
    n->noffers = k;
    if (n->fetch && now >= mk_snapfetch_next_deadline(n->fetch)) mk_snapfetch_tick(n->fetch, now);
    if (debug && n->raft->sync && now / 20 % 25 == 0) {
        mk_replay_status_t rs;
        mk_replay_status(n->raft->sync, &rs);
        fprintf(stderr, "t=%.3f node %d replay: commit %llu target %llu released %llu peers %zu busy %zu banned %zu held %zu "
                "done %d stuck %d; raft commit %llu\n", (double)w->s->now_us / SEC, n->idx, (unsigned long long)rs.commit,
                (unsigned long long)rs.target, (unsigned long long)rs.released, rs.npeers, rs.nbusy, rs.nbanned, rs.nheld,
                rs.done, rs.stuck, (unsigned long long)n->raft->commit);
    }
    if (debug && n->fetch && now / 20 % 25 == 0) {
        mk_snapfetch_status_t st;
        mk_snapfetch_status(n->fetch, &st);
        fprintf(stderr, "t=%.3f node %d fetch: commit %llu chosen %d anchor %llu items %llu released %llu anchors %zu "
                "offerers %zu busy %zu held %zu req %u switches %u dropped %u ignored %u waiting %d done %d inst %d/%llu\n",
                (double)w->s->now_us / SEC, n->idx, (unsigned long long)st.commit, st.chosen,
                (unsigned long long)st.anchor.index, (unsigned long long)st.item_count, (unsigned long long)st.released,
                st.nanchors, st.nofferers, st.nbusy, st.nheld, st.nrequests, st.nswitches, st.ndropped, st.nignored,
                st.waiting, st.done, n->inst.open, (unsigned long long)n->inst.next);
    }
}

/* ---- compaction (mk_gsnap_maybe_compact) ---- */

static void maybe_compact(gworld_t *w, gnode_t *n) {
    if (!w->snapshot_every || !w->snap_sync || n->applied < n->compacted_at + w->snapshot_every) return;
    mk_cursor_t anchor = {n->applied_term, n->applied};
    if (n->durable) {  /* LMDB's snapshot area; the in-memory store has none */
        mk_buf_t hdr = MK_BUF_INIT;
        int rc = make_header(n, anchor.index, &hdr);
        if (rc == MK_OK) rc = store_snapshot(n, anchor, &hdr);
        mk_buf_free(&hdr);
        if (rc != MK_OK) {
            n->compacted_at = n->applied;
            sim_violate(w->s, "snapshot_store", "node %d cannot store a snapshot at %llu", n->idx,
                        (unsigned long long)anchor.index);
            return;
        }
    }
    n->compacted_at = n->applied;
    if (anchor.index > w->retain) {
        mk_index_t upto = anchor.index - w->retain, first, last;
        mk_log_store_t *st = simstore_pub(n->store);
        st->vt->available(st->self, &first, &last);
        if (upto >= first && mk_raft_compact(n->raft, upto) == MK_OK) {
            w->stats_compactions++;
            w->ever_based = true;
            say(w, n->idx, 54, upto, "log compacted up to %llu (snapshot at %llu)", (unsigned long long)upto,
                (unsigned long long)anchor.index);
        }
    }
}

void gs_idle(gworld_t *w, gnode_t *n) {
    if (!n->alive || n->leaving || n->syncing) return;
    pump(w, n);
    if (n->alive && !n->leaving && !n->syncing && !w->s->violated) maybe_compact(w, n);
}

/* ---- restart from a stored snapshot (mk_gsnap_restore) ---- */

bool gs_restore(gworld_t *w, gnode_t *n, mk_raft_body_t *base, mk_index_t *base_index) {
    mk_log_store_t *st = simstore_pub(n->store);
    if (!n->durable || !st->vt->snap_open) return false;
    mk_index_t first, last;
    st->vt->available(st->self, &first, &last);
    mk_cursor_t anchor;
    mk_buf_t hdr = MK_BUF_INIT;
    inst_begin(n, UINT64_MAX);  /* the count comes with the items */
    mk_item_writer_t wr = {.put = restore_put, .ctx = n};
    int rc = st->vt->snap_open(st->self, &anchor, &hdr, &wr);
    n->inst.open = false;
    if (rc == MK_ENOTFOUND) {
        mk_buf_free(&hdr);
        if (first > 1)
            sim_violate(w->s, "restore_failed", "node %d cannot restart: its log starts at %llu but no snapshot is "
                        "stored (mk_gsnap_restore: MK_EIO)", n->idx, (unsigned long long)first);
        return false;
    }
    mk_gsync_snap_header_t h;
    if (rc == MK_OK && !n->inst.bad) rc = mk_gsync_snap_header_decode(hdr.ptr, hdr.len, &h, NULL);
    if (rc != MK_OK || n->inst.bad || anchor.index + 1 < first) {
        sim_violate(w->s, "restore_failed", "node %d cannot restart from its stored snapshot at %llu (log from %llu, "
                    "rc %d%s)", n->idx, (unsigned long long)anchor.index, (unsigned long long)first, rc,
                    n->inst.bad ? ", bad items" : "");
        mk_buf_free(&hdr);
        return false;
    }
    memcpy(n->reg, n->inst.reg, sizeof n->reg);
    n->counter = n->inst.counter;
    take_sessions(n, &h);
    base->kind = MK_ENTRY_CONFIG;
    base->config.origin = h.origin;
    base->config.nvoters = h.nvoters;
    memcpy(base->config.voters, h.voters, h.nvoters * sizeof *h.voters);
    *base_index = h.config_index;
    n->applied = n->compacted_at = anchor.index;
    n->applied_term = anchor.term;
    w->stats_restores++;
    mk_buf_free(&hdr);
    say(w, n->idx, 55, anchor.index, "restored from its stored snapshot at %llu (log from %llu)",
        (unsigned long long)anchor.index, (unsigned long long)first);
    return true;
}

void gs_drop(gnode_t *n) {
    fetch_stop(n);
    offers_free(n);
    memset(&n->inst, 0, sizeof n->inst);
}

void gs_free(gnode_t *n) {
    gs_drop(n);
    free(n->sess);
    n->sess = NULL;
    n->nsess = n->capsess = 0;
}
