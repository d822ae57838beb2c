/* tests/sim/discovery/node.c — one simulated discovery node: the glue of src/discovery/announce.c and
 * sync_io.c re-done over simulated links and virtual time (executing HyParView effects, first-frame
 * rules, crossing links, merging with the real store, per-neighbour gossip queues, departures,
 * digest sync, bootstrap back-off, periodic re-announce, anti-entropy and purge), plus the safety
 * checks that run after every event a node handles. */
#include "sim/discovery/links.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOOT_BACKOFF_MIN_MS 1000
#define BOOT_BACKOFF_MAX_MS 60000
#define PURGE_EVERY_MS 5000

static void run_effects(dnode_t *n);
static void check_node(dnode_t *n);

int64_t dnode_wall_ms(const dnode_t *n) { return n->w->epoch_ms + n->w->s->now_us / 1000 + n->skew_ms; }
static int64_t mono_ms(const dnode_t *n) { return n->w->s->now_us / 1000; }
static bool is_forger(const dnode_t *n) { return n->w->p.forger && n->idx == n->w->p.n; }

/* ---- timers ---- */

static void on_timer(sim_t *s, void *a, uint64_t b);

/* (Re-)arms timer `type` at now + ms; an earlier arming of it no longer fires. */
static void arm(dnode_t *n, int type, int64_t ms) {
    int64_t at = n->w->s->now_us + ms * 1000;
    if (n->armed_at[type] == at) return;  /* already armed for then */
    n->armed_at[type] = at;
    n->gen[type]++;
    sim_at(n->w->s, at, on_timer, n, ((uint64_t)type << 32) | n->gen[type]);
}

static int64_t jittered(dnode_t *n, uint32_t base_ms) { return sim_range(n->w->s, base_ms / 2, base_ms + base_ms / 2); }

/* ---- helpers ---- */

static const mk_peer_entry_t *entry_of(dnode_t *n, const mk_peer_id_t *peer) {
    if (mk_id_eq(peer, &n->id)) return n->local;
    const mk_peer_entry_t *e = mk_store_get(n->store, peer);
    return e && e->is_signed ? e : NULL;
}

static dnode_t *node_of(dnode_t *n, const mk_peer_id_t *peer);
static void full_sync(dnode_t *n, dnode_t *peer);

static dnode_t *node_of(dnode_t *n, const mk_peer_id_t *peer) {
    int64_t i = dworld_find(n->w, peer);
    return i < 0 ? NULL : &n->w->nodes[i];
}

static bool conn_open(const dconn_t *c) { return c->state == C_AWAIT_REPLY || c->state == C_ACTIVE; }

/* The conn to talk to peer on: cur (the one the frame came on) if still open, else an active one, else
 * any open one. */
static dconn_t *pick_conn(dnode_t *n, const mk_peer_id_t *peer, dconn_t *cur) {
    dconn_t *any = NULL;
    for (dconn_t *c = n->conns; c; c = c->next)  /* cur may have been closed meanwhile */
        if (c == cur && conn_open(c) && mk_id_eq(&c->peer, peer)) return c;
    for (dconn_t *c = n->conns; c; c = c->next) {
        if (!mk_id_eq(&c->peer, peer) || !conn_open(c)) continue;
        if (c->state == C_ACTIVE) return c;
        if (!any) any = c;
    }
    return any;
}

size_t dnode_active_links(const dnode_t *n, uint32_t *out, size_t cap) {
    size_t k = 0;
    for (const dconn_t *c = n->conns; c; c = c->next) {
        if (c->state != C_ACTIVE) continue;
        if (out && k < cap) out[k] = c->link->n[1 - c->end]->idx;
        k++;
    }
    return k;
}

/* ---- gossip ---- */

static void schedule_flush(dnode_t *n, bool now) {
    if (now) {
        arm(n, T_FLUSH, 0);
        return;
    }
    int64_t next = -1, t = mono_ms(n);
    for (dconn_t *c = n->conns; c; c = c->next) {
        int64_t due = c->queue ? mk_gossip_queue_next_due(c->queue, t) : -1;
        if (due >= 0 && (next < 0 || due < next)) next = due;
    }
    if (next >= 0) arm(n, T_FLUSH, next < 1 ? 1 : next);
}

static void gossip(dnode_t *n, const mk_peer_entry_t *e, dconn_t *from, bool urgent) {
    bool any = false;
    for (dconn_t *c = n->conns; c; c = c->next) {
        if (c->state != C_ACTIVE || c == from || !c->queue || mk_id_eq(&c->peer, &e->peer)) continue;
        mk_gossip_queue_push(c->queue, e, urgent, mono_ms(n));
        any = true;
    }
    if (any) schedule_flush(n, urgent);
}

static void flush_conn(dnode_t *n, dconn_t *c, bool force) {
    if (!c->queue || c->state != C_ACTIVE) return;
    if (!force && !mk_gossip_queue_due(c->queue, mono_ms(n))) return;
    const mk_peer_entry_t *batch[256];
    size_t k;
    while ((k = mk_gossip_queue_take(c->queue, batch, 256, MK_WIRE_FRAME_MAX - 1024))) {
        dmsg_t *m = dmsg_new(MK_WIRE_ENTRIES);
        m->ents = malloc(k * sizeof *m->ents);
        if (!m->ents) exit(2);
        memcpy(m->ents, batch, k * sizeof *batch);  /* references move into the message */
        m->nents = k;
        dlink_send(c, m);
    }
}

/* ---- merging ---- */

static bool is_forged(const dworld_t *w, const mk_peer_entry_t *e) {
    for (size_t i = 0; i < w->nforged; i++)
        if (w->forged[i] == e) return true;
    return false;
}

/* Baseline: our whole catalog (with our own entry) to a newly discovered peer, in one message. */
static void full_sync(dnode_t *n, dnode_t *peer) {
    if (!peer) return;
    n->w->st.syncs++;
    dmsg_t *m = dmsg_new(SYNC_ENTRIES);
    dmsg_add_entry(m, n->local);
    for (size_t i = 0, k = mk_store_size(n->store); i < k; i++) {
        const mk_peer_entry_t *e = mk_store_at(n->store, i);
        if (e->is_signed) dmsg_add_entry(m, e);
    }
    dsync_send(n, peer, m);
}

/* The §1.4 merge with the real store, then what mk_disc_merge does: learn, gossip. */
static int merge(dnode_t *n, const mk_peer_entry_t *e, dconn_t *from, bool via_gossip, mk_entry_reject_t *why) {
    dworld_t *w = n->w;
    mk_store_result_t res = {0};
    int v = mk_store_offer_entry(n->store, e, dnode_wall_ms(n), &res);
    if (from && from->queue && !w->p.mut_no_drop_known && (v == MK_STORE_DUPLICATE || v == MK_STORE_NEW || v == MK_STORE_UPDATED))
        mk_gossip_queue_drop_known(from->queue, &e->peer, e->version);
    if (v == MK_STORE_NEW || v == MK_STORE_UPDATED) {
        if (is_forged(w, res.entry))
            sim_violate(w->s, "forged_entry_stored", "node %u stored a forged entry of node %lld", n->idx,
                        (long long)dworld_find(w, &e->peer));
        if (w->departed >= 0 && n->saw_departure && mk_id_eq(&e->peer, &w->nodes[w->departed].id) &&
            mk_entry_version_cmp(e->version, w->departed_version) <= 0)
            sim_violate(w->s, "departed_peer_returned", "node %u re-stored departed node %lld", n->idx,
                        (long long)w->departed);
        mk_hpv_learned(n->hpv, &e->peer);
        bool urgent = via_gossip && (v == MK_STORE_NEW || res.content_changed);
        if (w->p.baseline) {
            if (v == MK_STORE_NEW) full_sync(n, node_of(n, &e->peer));
        } else if (!w->p.mut_no_forward) {
            gossip(n, res.entry, from, urgent);
        }
    } else if (v == MK_STORE_DUPLICATE) {
        w->st.duplicates++;
    } else if (v == MK_STORE_REJECTED) {
        if (res.reject == MK_REJ_BAD_SIGNATURE) w->st.rejected_bad_sig++;
        if (why) *why = res.reject;
    } else if (v == MK_STORE_SELF && res.self_newer) {
        sim_violate(w->s, "self_entry_newer", "node %u saw a newer entry of itself", n->idx);
    }
    mk_peer_entry_unref(res.entry);
    return v;
}

static void violation(dnode_t *n, dconn_t *c, const char *why) {
    dnode_t *other = c->link->n[1 - c->end];
    n->w->st.violations_closed++;
    if (!is_forger(n) && !is_forger(other))
        sim_violate(n->w->s, "honest_link_violation", "node %u closed its link to node %u: %s", n->idx, other->idx,
                    why);
    dlink_close(c, MK_CLOSE_PROTOCOL_VIOLATION);
}

static bool take_entry(dnode_t *n, dconn_t *c, const mk_peer_entry_t *e, bool via_gossip) {
    mk_entry_reject_t why = 0;
    if (merge(n, e, c, via_gossip, &why) == MK_STORE_REJECTED &&
        (why == MK_REJ_MALFORMED || why == MK_REJ_TOO_BIG || why == MK_REJ_WRONG_NETWORK || why == MK_REJ_BAD_SIGNATURE)) {
        violation(n, c, mk_entry_reject_str(why));
        return false;
    }
    return true;
}

static bool take_own_entry(dnode_t *n, dconn_t *c, const mk_peer_entry_t *e) {
    if (!e || !mk_id_eq(&e->peer, &c->peer)) {
        violation(n, c, "first frame carries another peer's entry");
        return false;
    }
    return take_entry(n, c, e, true);
}

/* ---- sync (digest exchange, spec 20 §4) ---- */

static void sync_start(dnode_t *n, dnode_t *peer) {
    if (!peer) return;
    n->w->st.syncs++;
    dmsg_t *m = dmsg_new(SYNC_HELLO);
    m->ndigest = mk_store_digest(n->store, dnode_wall_ms(n), &m->digest);
    dsync_send(n, peer, m);
}

/* Entries of ours the other side lacks or has older (into reply->ents) and the ids it has newer or we
 * lack (into reply->ids), by walking both digests in PeerId order. */
static void diff_digests(dnode_t *n, const mk_digest_item_t *theirs, size_t nt, dmsg_t *reply) {
    mk_digest_item_t *ours = NULL;
    size_t no = mk_store_digest(n->store, dnode_wall_ms(n), &ours);
    size_t i = 0, j = 0;
    reply->ids = malloc((nt ? nt : 1) * sizeof *reply->ids);
    if (!reply->ids) exit(2);
    while (i < no || j < nt) {
        int c = i >= no ? 1 : j >= nt ? -1 : mk_id_cmp(&ours[i].peer, &theirs[j].peer);
        if (c < 0) {
            const mk_peer_entry_t *e = entry_of(n, &ours[i].peer);
            if (e) dmsg_add_entry(reply, e);
            i++;
        } else if (c > 0) {
            reply->ids[reply->nids++] = theirs[j++].peer;
        } else {
            int v = mk_entry_version_cmp(ours[i].version, theirs[j].version);
            if (v > 0) {
                const mk_peer_entry_t *e = entry_of(n, &ours[i].peer);
                if (e) dmsg_add_entry(reply, e);
            } else if (v < 0) {
                reply->ids[reply->nids++] = theirs[j].peer;
            }
            i++;
            j++;
        }
    }
    free(ours);
}

void dnode_sync_event(dnode_t *n, dnode_t *from, dmsg_t *m) {
    switch (m->kind) {
    case SYNC_HELLO: {
        dmsg_t *r = dmsg_new(SYNC_REPLY);
        diff_digests(n, m->digest, m->ndigest, r);
        r->flag = r->nents == 0 && r->nids == 0;
        dsync_send(n, from, r);
        break;
    }
    case SYNC_REPLY: {
        for (size_t i = 0; i < m->nents; i++) merge(n, m->ents[i], NULL, false, NULL);
        if (m->nids) {
            dmsg_t *r = dmsg_new(SYNC_ENTRIES);
            for (size_t i = 0; i < m->nids; i++) {
                const mk_peer_entry_t *e = entry_of(n, &m->ids[i]);
                if (e) dmsg_add_entry(r, e);
            }
            dsync_send(n, from, r);
        }
        break;
    }
    case SYNC_ENTRIES:
    case MK_WIRE_ENTRIES:  /* baseline announcements */
        for (size_t i = 0; i < m->nents; i++) merge(n, m->ents[i], NULL, false, NULL);
        break;
    }
    dmsg_free(m);
    run_effects(n);
    check_node(n);
}

/* ---- overlay effects ---- */

static dmsg_t *entry_msg(int kind, const mk_peer_entry_t *e) {
    dmsg_t *m = dmsg_new(kind);
    m->entry = mk_peer_entry_ref(e);
    return m;
}

static void dial(dnode_t *n, const mk_peer_id_t *peer, int kind, dmsg_t *first) {
    dconn_t *c = dlink_dial(n, node_of(n, peer), peer);
    c->open_kind = kind;
    c->pending_first = first;
}

static void activate(dnode_t *n, dconn_t *c) {
    bool keep_outbound = memcmp(n->id.b, c->peer.b, 32) < 0;
    for (dconn_t *x = n->conns; x; x = x->next)
        if (x != c && mk_id_eq(&x->peer, &c->peer) && conn_open(x) && (x->end == 1) != keep_outbound &&
            (c->end == 1) == keep_outbound) {
            c = x;
            break;
        }
    c->state = C_ACTIVE;
    if (!c->queue) c->queue = mk_gossip_queue_new(n->w->p.gossip_flush_ms);
    for (dconn_t *x = n->conns, *next; x; x = next) {
        next = x->next;
        if (x != c && mk_id_eq(&x->peer, &c->peer) && conn_open(x)) dlink_close(x, MK_CLOSE_SUCCESS);
    }
    mk_gossip_queue_push(c->queue, n->local, true, mono_ms(n));
    schedule_flush(n, true);
    if (c->end == 0) sync_start(n, node_of(n, &c->peer));
}

static dconn_t *cur_conn;  /* the conn whose frame is being handled (one thread) */

static void run_effects(dnode_t *n) {
    mk_hpv_effect_t ef;
    while (n->alive && mk_hpv_next_effect(n->hpv, &ef)) {
        dconn_t *c = pick_conn(n, &ef.peer, cur_conn);
        switch (ef.kind) {
        case MK_HPV_OPEN:
            if (ef.open_kind == MK_HPV_OPEN_SHUFFLE_REPLY) break;
            if (ef.open_kind == MK_HPV_OPEN_JOIN) {
                dial(n, &ef.peer, ef.open_kind, entry_msg(MK_WIRE_JOIN, n->local));
            } else {
                dmsg_t *m = entry_msg(MK_WIRE_NEIGHBOR, n->local);
                m->flag = ef.open_kind == MK_HPV_OPEN_NEIGHBOR_HIGH;
                dial(n, &ef.peer, ef.open_kind, m);
            }
            break;
        case MK_HPV_SEND: {
            dmsg_t *m = NULL;
            const mk_peer_entry_t *about;
            switch (ef.msg) {
            case MK_HPV_MSG_WELCOME: m = entry_msg(MK_WIRE_WELCOME, n->local); break;
            case MK_HPV_MSG_NEIGHBOR_REPLY:
                m = entry_msg(MK_WIRE_NEIGHBOR_REPLY, n->local);
                m->flag = ef.accept;
                break;
            case MK_HPV_MSG_FORWARD_JOIN:
                if ((about = entry_of(n, &ef.about))) {
                    m = entry_msg(MK_WIRE_FORWARD_JOIN, about);
                    m->ttl = ef.ttl;
                }
                break;
            case MK_HPV_MSG_DISCONNECT:
                m = dmsg_new(MK_WIRE_DISCONNECT);
                m->flag = ef.alive;
                break;
            case MK_HPV_MSG_SHUFFLE:
            case MK_HPV_MSG_SHUFFLE_REPLY: {
                bool reply = ef.msg == MK_HPV_MSG_SHUFFLE_REPLY;
                if (!reply && !(about = entry_of(n, &ef.about))) break;
                m = reply ? dmsg_new(MK_WIRE_SHUFFLE_REPLY) : entry_msg(MK_WIRE_SHUFFLE, about);
                m->ttl = ef.ttl;
                for (size_t i = 0; i < ef.nsample; i++) {
                    const mk_peer_entry_t *e = entry_of(n, &ef.sample[i]);
                    if (e) dmsg_add_entry(m, e);
                }
                if (reply) {  /* on a short-lived link of its own */
                    dial(n, &ef.peer, MK_HPV_OPEN_SHUFFLE_REPLY, m);
                    m = NULL;
                }
                break;
            }
            default: break;
            }
            if (m && c) dlink_send(c, m);
            else dmsg_free(m);
            break;
        }
        case MK_HPV_CLOSE:
            for (dconn_t *x = n->conns, *next; x; x = next) {
                next = x->next;
                if (mk_id_eq(&x->peer, &ef.peer) && conn_open(x)) dlink_close(x, MK_CLOSE_SUCCESS);
            }
            break;
        case MK_HPV_ACTIVE_ADDED:
            if (c) activate(n, c);
            break;
        case MK_HPV_ACTIVE_REMOVED:
            if (c && c->state == C_ACTIVE) c->state = C_CLOSING;
            break;
        case MK_HPV_TIMER: break;
        }
    }
    if (n->alive) arm(n, T_HPV, mk_hpv_next_timer_ms(n->hpv, mono_ms(n)));
}

/* ---- departures ---- */

static void peer_gone(dnode_t *n, const mk_peer_id_t *peer) {
    mk_hpv_forget(n->hpv, peer, mono_ms(n));
    for (dconn_t *c = n->conns, *next; c; c = next) {
        next = c->next;
        if (mk_id_eq(&c->peer, peer)) dlink_close(c, MK_CLOSE_SUCCESS);
    }
}

static void take_departure(dnode_t *n, const mk_departure_t *dep, dconn_t *from) {
    const mk_peer_entry_t *last = NULL;
    int v = mk_store_apply_departure(n->store, dep, dnode_wall_ms(n), &last);
    mk_peer_entry_unref(last);
    if (v == MK_STORE_DEPART_ACCEPTED) {
        if (n->w->departed >= 0 && mk_id_eq(&dep->peer, &n->w->nodes[n->w->departed].id)) n->saw_departure = true;
        for (dconn_t *c = n->conns; c; c = c->next)
            if (c->state == C_ACTIVE && c != from && !mk_id_eq(&c->peer, &dep->peer)) {
                dmsg_t *m = dmsg_new(MK_WIRE_DEPART);
                m->dep = *dep;
                dlink_send(c, m);
            }
        peer_gone(n, &dep->peer);
    } else if (v == MK_STORE_DEPART_BAD_SIGNATURE && from) {
        violation(n, from, "departure with a bad signature");
    }
}

/* ---- frames ---- */

static void handle_frame(dnode_t *n, dconn_t *c, dmsg_t *m) {
    int64_t now = mono_ms(n);
    bool first = c->state == C_PENDING_IN;
    bool first_kind = m->kind == MK_WIRE_JOIN || m->kind == MK_WIRE_NEIGHBOR || m->kind == MK_WIRE_SHUFFLE_REPLY;
    if (first != first_kind) {
        char why[96];
        snprintf(why, sizeof why, "message %d on a link in state %d", m->kind, (int)c->state);
        violation(n, c, why);
        return;
    }
    if (first) c->state = C_AWAIT_REPLY;
    switch (m->kind) {
    case MK_WIRE_JOIN:
        if (take_own_entry(n, c, m->entry)) mk_hpv_on_join(n->hpv, &c->peer, now);
        break;
    case MK_WIRE_NEIGHBOR:
        if (take_own_entry(n, c, m->entry)) mk_hpv_on_neighbor(n->hpv, &c->peer, m->flag, now);
        break;
    case MK_WIRE_SHUFFLE_REPLY: {
        mk_peer_id_t ids[MK_HPV_SAMPLE_MAX];
        size_t k = 0;
        for (size_t i = 0; i < m->nents; i++) {
            if (!take_entry(n, c, m->ents[i], false)) return;
            if (k < MK_HPV_SAMPLE_MAX) ids[k++] = m->ents[i]->peer;
        }
        mk_hpv_on_shuffle_reply(n->hpv, &c->peer, ids, k, now);
        dlink_close(c, MK_CLOSE_SUCCESS);
        break;
    }
    case MK_WIRE_WELCOME:
        if (take_own_entry(n, c, m->entry)) mk_hpv_on_welcome(n->hpv, &c->peer, now);
        break;
    case MK_WIRE_NEIGHBOR_REPLY:
        if (take_own_entry(n, c, m->entry)) mk_hpv_on_neighbor_reply(n->hpv, &c->peer, m->flag, now);
        break;
    case MK_WIRE_FORWARD_JOIN:
        if (take_entry(n, c, m->entry, false) && !mk_id_eq(&m->entry->peer, &n->id))
            mk_hpv_on_forward_join(n->hpv, &c->peer, &m->entry->peer, m->ttl, now);
        break;
    case MK_WIRE_DISCONNECT:
        c->departed = !m->flag;
        mk_hpv_on_disconnect(n->hpv, &c->peer, m->flag, now);
        break;
    case MK_WIRE_SHUFFLE: {
        if (!take_entry(n, c, m->entry, false)) return;
        mk_peer_id_t ids[MK_HPV_SAMPLE_MAX];
        size_t k = 0;
        for (size_t i = 0; i < m->nents; i++) {
            if (!take_entry(n, c, m->ents[i], false)) return;
            if (k < MK_HPV_SAMPLE_MAX) ids[k++] = m->ents[i]->peer;
        }
        if (!mk_id_eq(&m->entry->peer, &n->id))
            mk_hpv_on_shuffle(n->hpv, &c->peer, &m->entry->peer, m->ttl, ids, k, now);
        break;
    }
    case MK_WIRE_ENTRIES:
        for (size_t i = 0; i < m->nents; i++)
            if (!take_entry(n, c, m->ents[i], true)) return;
        break;
    case MK_WIRE_DEPART: take_departure(n, &m->dep, c); break;
    default: violation(n, c, "unexpected message"); break;
    }
}

void dnode_link_event(dnode_t *n, dconn_t *c, int what, dmsg_t *m, uint32_t code) {
    mk_peer_id_t peer = c->peer;
    sim_trace(n->w->s, n->idx, (uint32_t)what, m ? (uint64_t)m->kind : code, NULL);
    if (what == DL_OPENED) {
        if (code) {
            dlink_close(c, 0);
            mk_hpv_on_dial_failed(n->hpv, &peer, mono_ms(n));
        } else {
            c->state = c->open_kind == MK_HPV_OPEN_SHUFFLE_REPLY ? C_SHUFFLE_REPLY : C_AWAIT_REPLY;
            if (c->pending_first) {
                dlink_send(c, c->pending_first);
                c->pending_first = NULL;
            }
            if (c->state == C_SHUFFLE_REPLY) dlink_close(c, MK_CLOSE_SUCCESS);
        }
    } else if (what == DL_FRAME) {
        cur_conn = c;
        handle_frame(n, c, m);
        dmsg_free(m);
        run_effects(n);
        cur_conn = NULL;
    } else {  /* DL_CLOSED */
        bool was_active = c->state == C_ACTIVE, departed = c->departed;
        dlink_close(c, 0);
        if (was_active && !departed) {
            dconn_t *other = pick_conn(n, &peer, NULL);
            if (other) activate(n, other);
            else mk_hpv_on_link_down(n->hpv, &peer, code == MK_CLOSE_SUCCESS, mono_ms(n));
        }
    }
    run_effects(n);
    check_node(n);
}

/* ---- local entry, timers, lifecycle ---- */

static void resign(dnode_t *n) {
    int64_t wall = dnode_wall_ms(n);
    if (!n->draft.version.start_ms) n->draft.version.start_ms = (uint64_t)wall;
    uint64_t up = n->draft.version.update_ms + 1;
    n->draft.version.update_ms = up > (uint64_t)wall ? up : (uint64_t)wall;
    const mk_peer_entry_t *e = NULL;
    mk_error_t err;
    if (mk_entry_draft_seal(&n->draft, &n->sk, &e, &err) != MK_OK) {
        fprintf(stderr, "discovery-sim: sealing an entry failed: %s\n", err.msg);
        exit(2);
    }
    mk_store_set_local(n->store, e);
    mk_peer_entry_unref(n->local);
    n->local = e;
}

static void announce_local(dnode_t *n) {
    resign(n);
    if (!n->w->p.baseline) {
        gossip(n, n->local, NULL, true);
        return;
    }
    for (size_t i = 0, k = mk_store_size(n->store); i < k; i++) {  /* baseline: to every known peer */
        dnode_t *to = node_of(n, &mk_store_at(n->store, i)->peer);
        if (!to) continue;
        dmsg_t *m = dmsg_new(MK_WIRE_ENTRIES);
        dmsg_add_entry(m, n->local);
        dsync_send(n, to, m);
    }
}

static void on_boot(dnode_t *n) {
    bool in_flight = false;
    for (dconn_t *c = n->conns; c; c = c->next) in_flight |= c->end == 0 && (c->state == C_DIALING || c->state == C_AWAIT_REPLY);
    if (dnode_active_links(n, NULL, 0) == 0 && !in_flight) {
        dnode_t *boot = &n->w->nodes[0];
        dial(n, &boot->id, MK_HPV_OPEN_JOIN, entry_msg(MK_WIRE_JOIN, n->local));
        sync_start(n, boot);
        n->boot_backoff_ms = n->boot_backoff_ms ? n->boot_backoff_ms * 2 : BOOT_BACKOFF_MIN_MS;
        if (n->boot_backoff_ms > BOOT_BACKOFF_MAX_MS) n->boot_backoff_ms = BOOT_BACKOFF_MAX_MS;
    } else {
        n->boot_backoff_ms = BOOT_BACKOFF_MIN_MS;
    }
    arm(n, T_BOOT, sim_range(n->w->s, n->boot_backoff_ms * 8 / 10, n->boot_backoff_ms * 12 / 10));
}

static void purge_gone(void *ctx, const mk_peer_entry_t *e) {
    dnode_t *n = ctx;
    mk_peer_id_t peer = e->peer;
    peer_gone(n, &peer);
}

static void on_timer(sim_t *s, void *a, uint64_t b) {
    (void)s;
    dnode_t *n = a;
    int type = (int)(b >> 32);
    if (!n->alive || (uint32_t)b != n->gen[type]) return;
    n->armed_at[type] = -1;
    sim_trace(n->w->s, n->idx, 100 + (uint32_t)type, 0, NULL);
    int64_t t = mono_ms(n);
    switch (type) {
    case T_HPV: mk_hpv_tick(n->hpv, t); break;
    case T_FLUSH:
        for (dconn_t *c = n->conns; c; c = c->next) flush_conn(n, c, false);
        schedule_flush(n, false);
        break;
    case T_ANNOUNCE:
        announce_local(n);
        arm(n, T_ANNOUNCE, jittered(n, n->w->p.announce_ms));
        break;
    case T_BOOT: on_boot(n); break;
    case T_ANTI: {
        uint32_t act[64];
        size_t k = dnode_active_links(n, act, 64);
        if (k) sync_start(n, &n->w->nodes[act[sim_below(n->w->s, k < 64 ? k : 64)]]);
        arm(n, T_ANTI, jittered(n, n->w->p.sync_ms));
        break;
    }
    case T_PURGE:
        mk_store_purge(n->store, dnode_wall_ms(n), purge_gone, n);
        arm(n, T_PURGE, PURGE_EVERY_MS);
        break;
    }
    run_effects(n);
    check_node(n);
}

void dnode_start(dnode_t *n) {
    n->started = n->alive = true;
    resign(n);
    arm(n, T_ANNOUNCE, jittered(n, n->w->p.announce_ms));
    arm(n, T_ANTI, jittered(n, n->w->p.sync_ms));
    arm(n, T_PURGE, PURGE_EVERY_MS);
    if (n->idx != 0) arm(n, T_BOOT, 0);
    run_effects(n);
}

void dnode_add_tag(dnode_t *n, const char *tag) {
    mk_id_t t = mk_id_from_str(tag);
    mk_entry_draft_add_tag(&n->draft, &t);
    announce_local(n);
}

void dnode_depart(dnode_t *n) {
    dworld_t *w = n->w;
    mk_departure_t dep = {.peer = n->id, .version = n->local->version, .at_ms = (uint64_t)dnode_wall_ms(n)};
    mk_departure_sign(&dep, &w->net, &n->sk);
    w->departed = n->idx;
    w->departed_version = n->local->version;
    for (dconn_t *c = n->conns; c; c = c->next) {
        if (c->state != C_ACTIVE) continue;
        flush_conn(n, c, true);
        dmsg_t *m = dmsg_new(MK_WIRE_DEPART);
        m->dep = dep;
        dlink_send(c, m);
        m = dmsg_new(MK_WIRE_DISCONNECT);
        m->flag = false;
        dlink_send(c, m);
    }
    while (n->conns) dlink_close(n->conns, MK_CLOSE_GRACEFUL_SHUTDOWN);
    n->alive = false;
    n->left = true;
}

void dnode_kill(dnode_t *n) {
    while (n->conns) dlink_close(n->conns, 0);
    n->alive = false;
}

void dnode_forge(dnode_t *f, dnode_t *victim) {
    dworld_t *w = f->w;
    mk_entry_draft_t d;
    if (mk_entry_draft_from(&d, victim->local) != MK_OK) exit(2);
    mk_id_t tag = mk_id_from_str("forged");
    mk_entry_draft_add_tag(&d, &tag);
    d.version.update_ms += 1000;
    const mk_peer_entry_t *good = NULL, *bad = NULL;
    mk_error_t err;
    if (mk_entry_draft_seal(&d, &victim->sk, &good, &err) != MK_OK) exit(2);
    mk_entry_draft_free(&d);
    size_t len = good->wire_len;
    uint8_t *wire = malloc(len);
    if (!wire) exit(2);
    memcpy(wire, good->wire, len);
    wire[len - 1] ^= 0x01;  /* a signature bit: no longer the victim's signature */
    mk_peer_entry_unref(good);
    if (mk_entry_from_wire(wire, len, true, &bad, NULL, &err) != MK_OK) exit(2);
    if (w->p.mut_skip_verify)  /* the mutation: a verification cache that lies */
        atomic_store(&((mk_peer_entry_t *)(uintptr_t)bad)->sig_state, 1);
    if (w->nforged == w->capforged) {
        w->capforged = w->capforged ? 2 * w->capforged : 8;
        w->forged = realloc(w->forged, w->capforged * sizeof *w->forged);
        if (!w->forged) exit(2);
    }
    w->forged[w->nforged++] = bad;  /* the world keeps this reference */
    for (dconn_t *c = f->conns; c; c = c->next) {
        if (c->state != C_ACTIVE) continue;
        dmsg_t *m = dmsg_new(MK_WIRE_ENTRIES);
        dmsg_add_entry(m, bad);
        dlink_send(c, m);
    }
}

/* ---- checks ---- */

static void check_node(dnode_t *n) {
    if (!n->alive) return;
    sim_t *s = n->w->s;
    mk_hpv_sizes_t sz;
    mk_hpv_sizes(n->hpv, &sz);
    if (sz.active > n->w->p.active || sz.passive > n->w->p.passive)
        sim_violate(s, "view_bounds", "node %u: active %zu passive %zu", n->idx, sz.active, sz.passive);
    mk_peer_id_t act[32];
    size_t k = mk_hpv_active(n->hpv, act, 32);
    for (size_t i = 0; i < k && i < 32; i++)
        if (mk_hpv_is_passive(n->hpv, &act[i]))
            sim_violate(s, "views_disjoint", "node %u holds a peer in both views", n->idx);
    if (mk_hpv_is_active(n->hpv, &n->id) || mk_hpv_is_passive(n->hpv, &n->id))
        sim_violate(s, "no_self_in_views", "node %u holds itself", n->idx);
    if (dnode_active_links(n, NULL, 0) > n->w->p.active)
        sim_violate(s, "degree_bound", "node %u has %zu active links", n->idx, dnode_active_links(n, NULL, 0));
}
