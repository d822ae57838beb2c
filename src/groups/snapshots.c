/* groups/snapshots.c — the state-machine side of snapshots on the loop thread (spec 40 §7.2, §8.2): the
 * snapshot header (configuration and origin at the anchor, has_commands, the exactly-once table), the
 * leader turning RequestSnapshot into a SNAPSHOT_MARKER, every node snapshotting right after applying a
 * fresh marker and offering it (SnapshotReady, FetchData answers, TTL), compaction into the store's
 * snapshot area, and rebuilding the machine from a stored snapshot when a group starts. The requester's
 * fetch session lives in snapfetch_drive.c. */
#include "groups/groups_int.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <stdlib.h>
#include <string.h>

#define LOG(g, lvl, ...) MK_LOGF(MK_MOD_GROUPS, lvl, mk_net_self((g)->n), __VA_ARGS__)

bool mk_gsnap_capable(const mk_gstate_t *g) {
    const mk_state_machine_t *m = g->machine;
    return m && m->snapshot_create && m->snapshot_len && m->snapshot_read && m->snapshot_free && m->install_begin &&
           m->install_put && m->install_end;
}

/* ---- the exactly-once table in headers: n × (session, seq, at) as u64 little endian ---- */

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int mk_gsnap_header(mk_gstate_t *g, mk_index_t anchor, mk_buf_t *out) {
    mk_raft_body_t cfg;
    mk_index_t at = 0;
    if (!mk_raft_config_at(g->raft, anchor, &cfg, &at)) return MK_ENOTFOUND;
    mk_raft_status_t st;
    mk_raft_status(g->raft, &st);
    size_t slen = g->nsessions * 24;
    uint8_t *sessions = malloc(slen ? slen : 1);
    if (!sessions) return MK_ENOMEM;
    for (size_t i = 0; i < g->nsessions; i++) {
        put64(sessions + 24 * i, g->sessions[i].session);
        put64(sessions + 24 * i + 8, g->sessions[i].seq);
        put64(sessions + 24 * i + 16, g->sessions[i].at);
    }
    mk_gsync_snap_header_t h = {.origin = cfg.config.origin,
                                .config_index = at,
                                .nvoters = cfg.config.nvoters,
                                .has_commands = st.has_commands || g->has_commands,
                                .sessions = {sessions, slen}};
    memcpy(h.voters, cfg.config.voters, cfg.config.nvoters * sizeof *h.voters);
    int rc = mk_gsync_snap_header_encode(&h, out, NULL);
    free(sessions);
    return rc;
}

/* Takes the exactly-once table of a decoded header. */
int mk_gsnap_take_sessions(mk_gstate_t *g, const mk_gsync_snap_header_t *h) {
    size_t n = h->sessions.len / 24;
    void *v = n ? calloc(n, sizeof *g->sessions) : NULL;
    if (n && !v) return MK_ENOMEM;
    free(g->sessions);
    g->sessions = v;
    g->nsessions = n;
    const uint8_t *p = h->sessions.ptr;
    for (size_t i = 0; i < n; i++) {
        g->sessions[i].session = get64(p + 24 * i);
        g->sessions[i].seq = get64(p + 24 * i + 8);
        g->sessions[i].at = get64(p + 24 * i + 16);
    }
    if (h->has_commands) g->has_commands = true;
    return MK_OK;
}

/* ---- offers: snapshots this node holds for requesters ---- */

static void offer_free(mk_gstate_t *g, mk_goffer_t *o) {
    if (o->snap && g->machine) g->machine->snapshot_free(o->snap);
    mk_buf_free(&o->header);
    free(o);
}

void mk_gsnap_free_all(mk_gstate_t *g) {
    while (g->offers) {
        mk_goffer_t *o = g->offers;
        g->offers = o->next;
        offer_free(g, o);
    }
}

static mk_goffer_t *offer_at(mk_gstate_t *g, mk_cursor_t anchor) {
    for (mk_goffer_t *o = g->offers; o; o = o->next)
        if (o->anchor.index == anchor.index && o->anchor.term == anchor.term) return o;
    return NULL;
}

static void send_sync(mk_gstate_t *g, const mk_peer_id_t *to, const mk_gsync_msg_t *m) {
    mk_buf_t out = MK_BUF_INIT;
    if (mk_gsync_msg_encode(m, &out, NULL) == MK_OK) mk_bond_send_payload(g, to, MK_BOND_STATE_SYNC, &out);
    mk_buf_free(&out);
}

/* Snapshots the machine's state, which must be the state at `at`, keeps it as an offer for the TTL (or
 * reuses the offer already at `at`) and tells the requester. */
static void offer(mk_gstate_t *g, mk_cursor_t at, const mk_peer_id_t *requester, uint64_t req_id) {
    uint32_t ttl = g->cfg.sync.snapshot_ttl_ms ? g->cfg.sync.snapshot_ttl_ms : 10000;
    mk_goffer_t *o = offer_at(g, at);
    if (!o) {
        if (!(o = calloc(1, sizeof *o))) return;
        o->anchor = at;
        if (mk_gsnap_header(g, at.index, &o->header) != MK_OK ||
            !(o->snap = g->machine->snapshot_create(g->machine_self))) {
            offer_free(g, o);
            return;
        }
        o->items = g->machine->snapshot_len(o->snap);
        o->next = g->offers;
        g->offers = o;
    }
    o->expires = mk_groups_now() + ttl;
    mk_gsync_msg_t m = {.kind = MK_GSYNC_SNAPSHOT_READY,
                        .snapshot_ready = {.req_id = req_id,
                                           .anchor = at,
                                           .item_count = o->items,
                                           .header = {o->header.ptr, o->header.len}}};
    send_sync(g, requester, &m);
}

void mk_gsnap_on_marker(mk_gstate_t *g, mk_cursor_t at, const mk_raft_body_t *b) {
    uint32_t ttl = g->cfg.sync.snapshot_ttl_ms ? g->cfg.sync.snapshot_ttl_ms : 10000;
    int64_t age = mk_unix_ms() - (int64_t)b->marker.requested_at_ms;
    if (!mk_gsnap_capable(g) || age > (int64_t)ttl || mk_id_eq(&b->marker.requester, &g->gs->self)) return;
    offer(g, at, &b->marker.requester, b->marker.req_id);
}

void mk_gsnap_tick(mk_gstate_t *g) {
    int64_t now = mk_groups_now();
    for (mk_goffer_t **p = &g->offers; *p;) {
        mk_goffer_t *o = *p;
        if (now < o->expires) {
            p = &o->next;
            continue;
        }
        *p = o->next;
        offer_free(g, o);
    }
}

/* Collects items into a FetchDataResponse under a byte budget. */
typedef struct collect {
    mk_bytes_t *items;
    size_t n, cap, bytes, budget;
    bool full;
} collect_t;

static int collect_put(void *ctx, const void *item, size_t len) {
    collect_t *c = ctx;
    if (c->full || (c->n && c->bytes + len + 10 > c->budget)) {
        c->full = true;
        return MK_OK;  /* the rest goes in a later request */
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        mk_bytes_t *v = realloc(c->items, cap * sizeof *v);
        if (!v) return MK_ENOMEM;
        c->items = v;
        c->cap = cap;
    }
    void *copy = malloc(len ? len : 1);
    if (!copy) return MK_ENOMEM;
    if (len) memcpy(copy, item, len);
    c->items[c->n++] = (mk_bytes_t){copy, len};
    c->bytes += len + 10;
    return MK_OK;
}

static void on_fetch_data(mk_gstate_t *g, const mk_peer_id_t *from, const mk_gsync_msg_t *m) {
    mk_goffer_t *o = offer_at(g, m->fetch_data_req.anchor);
    mk_gsync_msg_t r = {.kind = MK_GSYNC_FETCH_DATA_RESP,
                        .fetch_data_resp = {.anchor = m->fetch_data_req.anchor, .from = m->fetch_data_req.from}};
    uint64_t to = m->fetch_data_req.to;
    if (!o || m->fetch_data_req.from >= o->items) {
        r.fetch_data_resp.gone = true;
        send_sync(g, from, &r);
        return;
    }
    if (to > o->items) to = o->items;
    uint32_t frame = mk_net_config(g->n)->max_frame_size;
    collect_t c = {.budget = frame > 8192 ? frame - 4096 : frame / 2};
    mk_item_writer_t w = {.put = collect_put, .ctx = &c};
    int rc = g->machine->snapshot_read(o->snap, m->fetch_data_req.from, to, &w);
    if (rc != MK_OK || !c.n) {
        r.fetch_data_resp.gone = true;
    } else {
        r.fetch_data_resp.items = c.items;
        r.fetch_data_resp.nitems = c.n;
    }
    o->expires = mk_groups_now() + (g->cfg.sync.snapshot_ttl_ms ? g->cfg.sync.snapshot_ttl_ms : 10000);
    send_sync(g, from, &r);
    for (size_t i = 0; i < c.n; i++) free((void *)c.items[i].ptr);
    free(c.items);
}

/* Sync messages of the snapshot flow (tags 4–7); false for the others (the core's). */
bool mk_gsnap_on_sync(mk_gstate_t *g, const mk_peer_id_t *from, const mk_gsync_msg_t *m) {
    switch (m->kind) {
    case MK_GSYNC_REQ_SNAPSHOT:
        if (!mk_gsnap_capable(g) || g->cfg.sync.kind != MK_SYNC_SNAPSHOT) return true;
        if (mk_raft_propose_marker(g->raft, mk_groups_now(), from, m->req_snapshot.req_id, (uint64_t)mk_unix_ms()) == MK_OK)
            mk_gstate_kick(g);
        /* the marker needs the requester's vote: the leader's own applied state instead (committed) */
        if (mk_raft_quorum_waits_for(g->raft, from) && g->applied)
            offer(g, (mk_cursor_t){.term = g->applied_term, .index = g->applied}, from, m->req_snapshot.req_id);
        return true;
    case MK_GSYNC_FETCH_DATA_REQ:
        if (mk_gsnap_capable(g)) on_fetch_data(g, from, m);
        return true;
    case MK_GSYNC_SNAPSHOT_READY:
    case MK_GSYNC_FETCH_DATA_RESP: mk_gsnap_fetch_step(g, from, m); return true;
    default: return false;
    }
}

/* ---- compaction (spec 40 §7.2) ---- */

typedef struct snap_put_ctx {
    mk_log_store_t *store;
    int rc;
} snap_put_ctx_t;

static int store_put(void *ctx, const void *item, size_t len) {
    snap_put_ctx_t *c = ctx;
    if (c->rc == MK_OK) c->rc = c->store->vt->snap_put(c->store->self, item, len);
    return c->rc;
}

void mk_gsnap_maybe_compact(mk_gstate_t *g) {
    if (!mk_gsnap_capable(g) || g->terminated) return;
    bool due = g->cfg.snapshot_every && g->cfg.sync.kind == MK_SYNC_SNAPSHOT &&
               g->applied >= g->compacted_at + g->cfg.snapshot_every;
    if (!due && !g->store_snapshot_due) return;  /* an installed snapshot is stored at once (restarts need it) */
    g->store_snapshot_due = false;
    mk_cursor_t anchor = {g->applied_term, g->applied};
    mk_log_store_t *st = g->store;
    bool area = st->vt->snap_begin && st->vt->snap_put && st->vt->snap_commit && st->vt->snap_open;
    if (area) {
        mk_buf_t hdr = MK_BUF_INIT;
        mk_sm_snapshot_t *snap = NULL;
        int rc = mk_gsnap_header(g, anchor.index, &hdr);
        if (rc == MK_OK) snap = g->machine->snapshot_create(g->machine_self);
        if (rc == MK_OK && !snap) rc = MK_ENOMEM;
        if (rc == MK_OK) rc = st->vt->snap_begin(st->self, anchor, hdr.ptr, hdr.len);
        if (rc == MK_OK) {
            snap_put_ctx_t c = {st, MK_OK};
            mk_item_writer_t w = {.put = store_put, .ctx = &c};
            uint64_t n = g->machine->snapshot_len(snap);
            for (uint64_t from = 0; rc == MK_OK && from < n; from += 1024) {
                rc = g->machine->snapshot_read(snap, from, from + 1024 < n ? from + 1024 : n, &w);
                if (rc == MK_OK) rc = c.rc;
            }
        }
        if (rc == MK_OK) rc = st->vt->snap_commit(st->self);
        if (snap) g->machine->snapshot_free(snap);
        mk_buf_free(&hdr);
        if (rc != MK_OK) {
            LOG(g, MK_LOG_WARN, "group %s: snapshot at %llu not stored (%s); the log is kept", g->short_id,
                (unsigned long long)anchor.index, mk_strerror(rc));
            g->compacted_at = g->applied;  /* retried after another snapshot_every */
            return;
        }
    }
    g->compacted_at = g->applied;
    uint64_t keep = g->cfg.retain_entries;
    if (anchor.index > keep) {
        mk_index_t upto = anchor.index - keep;
        mk_index_t first, last;
        st->vt->available(st->self, &first, &last);
        if (upto >= first && mk_raft_compact(g->raft, upto) == MK_OK)
            LOG(g, MK_LOG_DEBUG, "group %s: log compacted up to %llu (snapshot at %llu)", g->short_id,
                (unsigned long long)upto, (unsigned long long)anchor.index);
    }
}

/* ---- start from a stored snapshot ---- */

typedef struct install_ctx {
    mk_gstate_t *g;
    void *inst;
    int rc;
} install_ctx_t;

static int install_put(void *ctx, const void *item, size_t len) {
    install_ctx_t *c = ctx;
    if (c->rc == MK_OK) c->rc = c->g->machine->install_put(c->g->machine_self, c->inst, item, len);
    return c->rc;
}

int mk_gsnap_restore(mk_gstate_t *g, mk_raft_body_t *base, mk_index_t *base_index, mk_error_t *e) {
    mk_log_store_t *st = g->store;
    if (!st->vt->snap_open || !mk_gsnap_capable(g)) return MK_ENOTFOUND;
    mk_index_t first, last;
    st->vt->available(st->self, &first, &last);
    mk_cursor_t anchor;
    mk_buf_t hdr = MK_BUF_INIT;
    install_ctx_t c = {.g = g, .rc = MK_OK};
    /* items stream through the writer; install_begin needs the count first: begin with 0 (unknown) */
    c.inst = g->machine->install_begin(g->machine_self, 0);
    mk_item_writer_t w = {.put = install_put, .ctx = &c};
    int rc = st->vt->snap_open(st->self, &anchor, &hdr, &w);
    if (rc == MK_ENOTFOUND) {
        g->machine->install_end(g->machine_self, c.inst, false);
        return first > 1 ? MK_ERR(e, MK_EIO, "the log starts at %llu but no snapshot is stored", (unsigned long long)first)
                         : MK_ENOTFOUND;
    }
    mk_gsync_snap_header_t h;
    if (rc == MK_OK) rc = c.rc;
    if (rc == MK_OK) rc = mk_gsync_snap_header_decode(hdr.ptr, hdr.len, &h, NULL);
    if (rc == MK_OK && anchor.index + 1 < first) rc = MK_EIO;  /* the log must continue the snapshot */
    if (rc == MK_OK) rc = g->machine->install_end(g->machine_self, c.inst, true);
    else g->machine->install_end(g->machine_self, c.inst, false);
    if (rc == MK_OK) rc = mk_gsnap_take_sessions(g, &h);
    if (rc != MK_OK) {
        mk_buf_free(&hdr);
        return MK_ERR(e, rc, "the stored snapshot cannot be restored: %s", mk_strerror(rc));
    }
    base->kind = MK_ENTRY_CONFIG;
    base->config.origin = h.origin;
    base->config.nvoters = h.nvoters;
    memcpy(base->config.voters, h.voters, h.nvoters * sizeof *h.voters);
    *base_index = h.config_index;
    g->applied = g->compacted_at = anchor.index;
    g->applied_term = anchor.term;
    mk_buf_free(&hdr);
    return MK_OK;
}
