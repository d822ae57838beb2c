/* groups/bond.c — bond links of the groups runtime (spec 40 §2): dialing candidates found in the catalog
 * (lower PeerId first, backoff, no redial after 30_403/30_405 until the entry changes), the mutual-proof
 * handshake over the TLS exporter on both sides with its ordered refusals, the duplicate rule (30_429),
 * heartbeats and the missed-heartbeat close (30_408), bond messages (Ping/Pong, Departure, entry updates,
 * topology reports, Raft and sync payloads), and tickets checked at bond time and re-checked at expiry. */
#include "groups/groups_int.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "discovery/discovery.h"
#include "discovery/entry.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define LOG(g, lvl, ...) MK_LOGF(MK_MOD_GROUPS, lvl, mk_net_self((g)->n), __VA_ARGS__)

static const mk_link_ops_t bond_ops;

static bool id_lt(const mk_id_t *a, const mk_id_t *b) { return memcmp(a->b, b->b, 32) < 0; }

static int close_slot(uint32_t code) {
    switch (code) {
    case MK_CLOSE_GROUP_INVALID_HANDSHAKE: return 0;
    case MK_CLOSE_GROUP_NOT_ALLOWED: return 1;
    case MK_CLOSE_GROUP_NOT_FOUND: return 2;
    case MK_CLOSE_GROUP_INVALID_PROOF: return 3;
    case MK_CLOSE_GROUP_TIMEOUT: return 4;
    case MK_CLOSE_GROUP_ALREADY_BONDED: return 5;
    case MK_CLOSE_PROTOCOL_VIOLATION: return 6;
    default: return 7;
    }
}

void mk_bond_count_close(mk_gstate_t *g, uint32_t code) {
    if (g) g->closes[close_slot(code)]++;
}

static void count_reject(mk_groups_t *gs, mk_gstate_t *g, uint32_t code) {
    char num[16];
    snprintf(num, sizeof num, "%u", code);
    const char *kv[] = {"code", num, NULL};
    mk_counter_add(mk_metrics_counter(mk_net_registry(gs->n), "mosaik_groups_bonds_rejected", kv), 1);
    mk_bond_count_close(g, code);
}

/* ---- lists ---- */

static void unlink_bond(mk_bond_t **head, mk_bond_t *b) {
    for (mk_bond_t **p = head; *p; p = &(*p)->next)
        if (*p == b) {
            *p = b->next;
            b->next = NULL;
            return;
        }
}

mk_bond_t *mk_bond_live(mk_gstate_t *g, const mk_peer_id_t *peer) {
    for (mk_bond_t *b = g->bonds; b; b = b->next)
        if (b->state == MK_BOND_LIVE && mk_id_eq(&b->peer, peer)) return b;
    return NULL;
}

bool mk_bond_dialing(mk_gstate_t *g, const mk_peer_id_t *peer) {
    for (mk_bond_t *b = g->bonds; b; b = b->next)
        if (b->dialer && b->state != MK_BOND_LIVE && mk_id_eq(&b->peer, peer)) return true;
    return false;
}

static mk_gcand_t *cand_of(mk_gstate_t *g, const mk_peer_id_t *peer, bool create) {
    for (size_t i = 0; i < g->ncands; i++)
        if (mk_id_eq(&g->cands[i].peer, peer)) return &g->cands[i];
    if (!create || g->ncands == MK_GROUPS_MAX_CANDS) return NULL;
    mk_gcand_t *c = &g->cands[g->ncands++];
    memset(c, 0, sizeof *c);
    c->peer = *peer;
    c->first_seen = mk_groups_now();
    return c;
}

/* ---- framing helpers ---- */

static int send_raw(mk_bond_t *b, const void *p, size_t n) {
    if (!b->link) return MK_ECLOSED;
    int rc = mk_link_write(b->link, p, n);
    if (rc == MK_OK) {
        b->last_tx = mk_groups_now();
        if (b->g) {
            mk_counter_add(b->g->m_tx_bytes, n);
            mk_counter_add(b->g->m_tx_msgs, 1);
        }
    }
    return rc;
}

void mk_bond_send_payload(mk_gstate_t *g, const mk_peer_id_t *peer, mk_bond_msg_kind_t kind, const mk_buf_t *p) {
    mk_bond_t *b = mk_bond_live(g, peer);
    if (!b || !p->len) return;
    uint8_t hdr[1 + 10];
    size_t h = 0;
    hdr[h++] = (uint8_t)kind;
    for (uint64_t v = p->len;; v >>= 7) {
        if (v < 0x80) {
            hdr[h++] = (uint8_t)v;
            break;
        }
        hdr[h++] = (uint8_t)(v | 0x80);
    }
    mk_bytes_t parts[2] = {{hdr, h}, {p->ptr, p->len}};
    if (mk_link_writev(b->link, parts, 2) == MK_OK) {
        b->last_tx = mk_groups_now();
        mk_counter_add(g->m_tx_bytes, h + p->len);
        mk_counter_add(g->m_tx_msgs, 1);
    }
}

/* The signed entry of peer from the catalog (a reference), or NULL. */
static const mk_peer_entry_t *entry_of(mk_groups_t *gs, const mk_peer_id_t *peer) {
    mk_catalog_t *cat = mk_discovery_catalog(gs->n);
    if (!cat) return NULL;
    const mk_peer_entry_t *e = mk_catalog_get(cat, peer);
    if (e && !mk_peer_entry_is_signed(e)) e = NULL;
    if (e) e = mk_peer_entry_ref(e);
    mk_catalog_free(cat);
    return e;
}

/* Builds the handshake's bond list: our live bonds' signed entries (≤ MK_BOND_MAX_BONDS). */
static size_t bond_list(mk_gstate_t *g, const mk_peer_id_t *skip, mk_bond_handshake_t *h,
                        const mk_peer_entry_t **refs) {
    size_t n = 0;
    for (mk_bond_t *o = g->bonds; o && n < MK_BOND_MAX_BONDS; o = o->next) {
        if (o->state != MK_BOND_LIVE || mk_id_eq(&o->peer, skip)) continue;
        const mk_peer_entry_t *e = entry_of(g->gs, &o->peer);
        if (!e) continue;
        refs[n] = e;
        h->bonds[n] = (mk_bytes_t){e->wire, e->wire_len};
        n++;
    }
    h->nbonds = n;
    return n;
}

/* ---- tickets (spec 40 §2.6) ---- */

/* Validates peer's current entry against every validator: true when acceptable; *expires the earliest. */
static bool tickets_ok(mk_gstate_t *g, const mk_peer_entry_t *e, mk_expiration_t *expires, char *why, size_t cap) {
    *expires = MK_EXPIRES_NEVER;
    if (!g->cfg.n_validators) return true;
    if (!e) {
        snprintf(why, cap, "no signed entry");
        return false;
    }
    mk_ticket_verdict_t v;
    mk_peer_entry_validate_all(e, g->validators, g->cfg.n_validators, mk_unix_ms(), &v);
    if (!v.valid) {
        snprintf(why, cap, "%s: %s", mk_ticket_reason_str(v.reason), v.detail);
        return false;
    }
    *expires = v.expires;
    return true;
}

static void ticket_fire(evutil_socket_t fd, short what, void *arg);

static void arm_ticket(mk_bond_t *b, mk_expiration_t expires) {
    if (!b->ticket_ev) b->ticket_ev = event_new(mk_net_base(b->gs->n), -1, 0, ticket_fire, b);
    if (!b->ticket_ev) return;
    event_del(b->ticket_ev);
    if (expires == MK_EXPIRES_NEVER) return;
    int64_t ms = expires - mk_unix_ms();
    if (ms < 0) ms = 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(b->ticket_ev, &tv);
}

/* Re-validates a live bond's peer (expiry timer, entry update, catalog change): re-arms or closes 30_403. */
static void revalidate(mk_bond_t *b) {
    if (!b->g || !b->g->cfg.n_validators || b->state != MK_BOND_LIVE) return;
    const mk_peer_entry_t *e = entry_of(b->gs, &b->peer);
    mk_expiration_t exp;
    char why[160];
    bool ok = tickets_ok(b->g, e, &exp, why, sizeof why);
    mk_peer_entry_unref(e);
    if (ok) {
        arm_ticket(b, exp);
        return;
    }
    char s[MK_ID_SHORT_LEN + 1];
    LOG(b->g, MK_LOG_INFO, "group %s: bond to %s ends, ticket no longer valid (%s)", b->g->short_id,
        mk_id_short(&b->peer, s), why);
    count_reject(b->gs, b->g, MK_CLOSE_GROUP_NOT_ALLOWED);
    mk_bond_close(b, MK_CLOSE_GROUP_NOT_ALLOWED, "ticket no longer valid");
}

static void ticket_fire(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    revalidate(arg);
}

/* ---- lifecycle ---- */

static void heartbeat_fire(evutil_socket_t fd, short what, void *arg);

static mk_bond_t *bond_new(mk_groups_t *gs, mk_gstate_t *g, mk_link_t *l, const mk_peer_id_t *peer, bool dialer) {
    mk_bond_t *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->gs = gs;
    b->g = g;
    b->link = l;
    b->peer = *peer;
    b->dialer = dialer;
    b->state = dialer ? MK_BOND_DIALING : MK_BOND_HANDSHAKE;
    b->since = b->last_rx = b->last_tx = mk_groups_now();
    b->timer = event_new(mk_net_base(gs->n), -1, 0, heartbeat_fire, b);
    if (!b->timer) {
        free(b);
        return NULL;
    }
    return b;
}

static void bond_free(mk_bond_t *b) {
    if (b->timer) event_free(b->timer);
    if (b->ticket_ev) event_free(b->ticket_ev);
    free(b->reported);
    free(b);
}

static void arm_ms(struct event *ev, int64_t ms) {
    if (ms < 1) ms = 1;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(ev, &tv);
}

static void arm_heartbeat(mk_bond_t *b) {
    const mk_consensus_config_t *cc = &b->g->cfg.consensus;
    uint32_t jitter = cc->heartbeat_jitter_ms ? (uint32_t)(mk_groups_rand() % cc->heartbeat_jitter_ms) : 0;
    arm_ms(b->timer, (int64_t)cc->heartbeat_interval_ms - jitter);
}

/* Tells the other live bonds of g that we bonded (entry of b's peer) or lost b's peer. */
static void announce_topology(mk_bond_t *b, bool formed) {
    mk_gstate_t *g = b->g;
    mk_bond_msg_t m = {.kind = formed ? MK_BOND_BOND_FORMED : MK_BOND_BOND_CLOSED, .peer = b->peer};
    const mk_peer_entry_t *e = NULL;
    if (formed) {
        e = entry_of(b->gs, &b->peer);
        if (!e) return;
        m.entry = (mk_bytes_t){e->wire, e->wire_len};
    }
    mk_buf_t out = MK_BUF_INIT;
    if (mk_bond_msg_encode(&m, &out, NULL) == MK_OK)
        for (mk_bond_t *o = g->bonds; o; o = o->next)
            /* also to links whose HandshakeStart already left (its bond list is out of date): the
             * acceptor reads this after the Start, when its side is live */
            if (o != b && (o->state == MK_BOND_LIVE || (o->state == MK_BOND_HANDSHAKE && o->dialer)))
                send_raw(o, out.ptr, out.len);
    mk_buf_free(&out);
    mk_peer_entry_unref(e);
}

/* Detaches b from its lists and the group (bond_down when it was live). The link is left to the caller. */
static void bond_detach(mk_bond_t *b) {
    bool was_live = b->state == MK_BOND_LIVE;
    if (b->g) unlink_bond(&b->g->bonds, b);
    else {
        unlink_bond(&b->gs->handshakes, b);
        if (b->gs->nhandshakes) b->gs->nhandshakes--;
    }
    b->state = MK_BOND_CLOSED;
    if (b->timer) event_del(b->timer);
    if (b->ticket_ev) event_del(b->ticket_ev);
    if (was_live && b->g) {
        if (!b->g->terminated) announce_topology(b, false);
        mk_gstate_bond_down(b->g, b);
    }
}

void mk_bond_close(mk_bond_t *b, uint32_t code, const char *why) {
    bond_detach(b);
    mk_link_t *l = b->link;
    b->link = NULL;
    if (l) {
        mk_link_set_ops(l, NULL, NULL);
        mk_link_close_async(l, code, why);
        mk_link_release(l);
    }
    bond_free(b);
}

static void refuse(mk_bond_t *b, uint32_t code, const char *why) {
    char s[MK_ID_SHORT_LEN + 1];
    MK_LOGF(MK_MOD_GROUPS, MK_LOG_DEBUG, mk_net_self(b->gs->n), "group bond with %s refused %u: %s",
            mk_id_short(&b->peer, s), code, why);
    count_reject(b->gs, b->g, code);
    mk_bond_close(b, code, why);
}

static void on_close(mk_link_t *l, void *ctx, uint32_t code, bool remote, const char *reason) {
    (void)remote;
    mk_bond_t *b = ctx;
    mk_gstate_t *g = b->g;
    if (g) {
        char s[MK_ID_SHORT_LEN + 1];
        LOG(g, MK_LOG_DEBUG, "group %s: bond to %s closed %u (%s)", g->short_id, mk_id_short(&b->peer, s), code,
            reason ? reason : "");
        mk_bond_count_close(g, code);
        mk_gcand_t *c = cand_of(g, &b->peer, false);
        if (c && b->state != MK_BOND_LIVE && b->dialer) {
            if (code == MK_CLOSE_GROUP_NOT_ALLOWED || code == MK_CLOSE_GROUP_INVALID_PROOF) {
                const mk_peer_entry_t *e = entry_of(b->gs, &b->peer);
                c->blocked = true;
                c->blocked_version = e ? mk_peer_entry_version(e) : (mk_entry_version_t){0, 0};
                mk_peer_entry_unref(e);
            } else if (code == MK_CLOSE_UNKNOWN_PEER && !c->unknown_retry) {
                c->unknown_retry = true;
                c->next_dial_at = mk_groups_now() + 200;
                mk_disc_sync_peer(b->gs->n, &b->peer, NULL, NULL);
            }
        }
    }
    bond_detach(b);
    b->link = NULL;
    mk_link_set_ops(l, NULL, NULL);
    mk_link_release(l);
    bond_free(b);
}

/* ---- going live: the duplicate rule (spec 40 §2.1) ---- */

/* b passed its handshake: applies the duplicate rule, then makes it the peer's bond. False: b was closed. */
static bool go_live(mk_bond_t *b) {
    mk_gstate_t *g = b->g;
    mk_bond_t *old = mk_bond_live(g, &b->peer);
    if (old) {
        if (old->incarnation != b->incarnation) {
            mk_bond_close(old, MK_CLOSE_GRACEFUL_SHUTDOWN, "peer restarted: replaced by a new bond");
        } else if (old->dialer == b->dialer) {
            mk_bond_close(old, MK_CLOSE_GROUP_ALREADY_BONDED, "replaced by a newer link");  /* the dialer redialed */
        } else {
            const mk_peer_id_t *lower = id_lt(&g->gs->self, &b->peer) ? &g->gs->self : &b->peer;
            bool b_by_lower = mk_id_eq(b->dialer ? &g->gs->self : &b->peer, lower);
            if (b_by_lower) {
                count_reject(g->gs, g, MK_CLOSE_GROUP_ALREADY_BONDED);
                mk_bond_close(old, MK_CLOSE_GROUP_ALREADY_BONDED, "already bonded");
            } else {
                refuse(b, MK_CLOSE_GROUP_ALREADY_BONDED, "already bonded");
                return false;
            }
        }
    }
    b->state = MK_BOND_LIVE;
    b->missed = 0;
    b->last_rx = mk_groups_now();
    mk_gcand_t *c = cand_of(g, &b->peer, true);
    if (c) {
        c->backoff_ms = 0;
        c->blocked = false;
        c->unknown_retry = false;
    }
    event_del(b->timer);
    arm_heartbeat(b);
    char s[MK_ID_SHORT_LEN + 1];
    LOG(g, MK_LOG_DEBUG, "group %s: bonded with %s (%s)", g->short_id, mk_id_short(&b->peer, s),
        b->dialer ? "dialed" : "accepted");
    announce_topology(b, true);
    mk_gstate_bond_up(g, b);
    return true;
}

/* Feeds signed entries reported by a peer to discovery and records them as the peer's bonds. */
static void take_reported(mk_bond_t *b, const mk_bytes_t *entries, size_t n) {
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        const mk_peer_entry_t *e = mk_peer_entry_decode(&b->gs->net_id, entries[i].ptr, entries[i].len, NULL);
        if (!e) continue;
        mk_peer_id_t id = *mk_peer_entry_id(e);
        mk_peer_entry_unref(e);
        mk_disc_feed_signed(b->gs->n, entries[i].ptr, entries[i].len);
        bool have = false;
        for (size_t k = 0; k < b->nreported && !have; k++) have = mk_id_eq(&b->reported[k], &id);
        if (have || mk_id_eq(&id, &b->peer)) continue;
        if (b->nreported == b->capreported) {
            size_t cap = b->capreported ? b->capreported * 2 : 8;
            if (cap > 1024) continue;
            mk_peer_id_t *v = realloc(b->reported, cap * sizeof *v);
            if (!v) continue;
            b->reported = v;
            b->capreported = cap;
        }
        b->reported[b->nreported++] = id;
        changed = true;
    }
    if (changed && b->g && b->state == MK_BOND_LIVE) {  /* republish the topology (spec 40 §2.5) */
        b->g->bonds_seq++;
        mk_gstate_publish(b->g);
    }
}

static void drop_reported(mk_bond_t *b, const mk_peer_id_t *id) {
    for (size_t k = 0; k < b->nreported; k++)
        if (mk_id_eq(&b->reported[k], id)) {
            b->reported[k] = b->reported[--b->nreported];
            if (b->g) {  /* republish the topology (spec 40 §2.5) */
                b->g->bonds_seq++;
                mk_gstate_publish(b->g);
            }
            return;
        }
}

/* ---- handshake, dialer side ---- */

static int export_secret(mk_bond_t *b) {
    mk_id_t e;
    int rc = mk_link_export(b->link, MK_BOND_EXPORTER_LABEL, b->g->id.b, 32, &e);
    if (rc == MK_OK) {
        memcpy(b->exporter, e.b, 32);
        b->bond_id = mk_bond_id(b->exporter);
    }
    return rc;
}

static void on_open(mk_link_t *l, void *ctx, int status, const mk_error_t *err) {
    (void)l;
    mk_bond_t *b = ctx;
    mk_gstate_t *g = b->g;
    mk_gcand_t *c = cand_of(g, &b->peer, true);
    if (status != MK_OK) {
        char s[MK_ID_SHORT_LEN + 1];
        LOG(g, MK_LOG_DEBUG, "group %s: dial to %s failed: %s", g->short_id, mk_id_short(&b->peer, s),
            err ? err->msg : mk_strerror(status));
        if (c) {
            c->backoff_ms = c->backoff_ms ? (c->backoff_ms * 2 > 30000 ? 30000 : c->backoff_ms * 2) : 250;
            c->next_dial_at = mk_groups_now() + c->backoff_ms;
        }
        mk_bond_close(b, MK_CLOSE_CANCELLED, "dial failed");
        return;
    }
    if (export_secret(b) != MK_OK) {
        mk_bond_close(b, MK_CLOSE_GROUP_INVALID_HANDSHAKE, "no exporter secret");
        return;
    }
    mk_bond_handshake_t *h = calloc(1, sizeof *h);
    const mk_peer_entry_t **refs = calloc(MK_BOND_MAX_BONDS, sizeof *refs);
    int rc = h && refs ? MK_OK : MK_ENOMEM;
    mk_buf_t out = MK_BUF_INIT;
    size_t nrefs = 0;
    if (rc == MK_OK) {
        h->network_id = b->gs->net_id;
        h->group_id = g->id;
        h->incarnation = g->incarnation;
        mk_bond_proof(&g->key, MK_BOND_DIALER, &g->id, b->exporter, &b->gs->self, &b->peer, h->proof);
        nrefs = bond_list(g, &b->peer, h, refs);
        rc = mk_bond_hs_start_encode(h, &out, NULL);
    }
    if (rc == MK_OK) rc = send_raw(b, out.ptr, out.len);
    mk_buf_free(&out);
    for (size_t i = 0; i < nrefs; i++) mk_peer_entry_unref(refs[i]);
    free(refs);
    free(h);
    if (rc != MK_OK) {
        mk_bond_close(b, MK_CLOSE_CANCELLED, "handshake not sent");
        return;
    }
    b->state = MK_BOND_HANDSHAKE;
    arm_ms(b->timer, b->gs->cfg.handshake_timeout_ms);
}

static void dialer_end(mk_bond_t *b, const uint8_t *p, size_t n) {
    mk_bond_handshake_t *h = calloc(1, sizeof *h);
    if (!h) {
        mk_bond_close(b, MK_CLOSE_CANCELLED, "out of memory");
        return;
    }
    mk_error_t e;
    if (mk_bond_hs_end_decode(p, n, h, &e) != MK_OK) {
        free(h);
        refuse(b, MK_CLOSE_GROUP_INVALID_HANDSHAKE, e.msg);
        return;
    }
    if (!mk_bond_proof_verify(&b->g->key, MK_BOND_ACCEPTOR, &b->g->id, b->exporter, &b->gs->self, &b->peer,
                              h->proof)) {
        free(h);
        refuse(b, MK_CLOSE_GROUP_INVALID_PROOF, "acceptor proof does not match the group key");
        return;
    }
    b->incarnation = h->incarnation;
    if (go_live(b)) {
        take_reported(b, h->bonds, h->nbonds);
        revalidate(b);  /* arms the ticket-expiry timer on this side too */
    }
    free(h);
}

void mk_bond_dial(mk_gstate_t *g, const mk_peer_entry_t *e) {
    mk_groups_t *gs = g->gs;
    mk_peer_addr_t addr;
    mk_peer_entry_peer_addr(e, &addr);
    mk_bond_t *b = bond_new(gs, g, NULL, mk_peer_entry_id(e), true);
    if (!b) return;
    b->next = g->bonds;
    g->bonds = b;
    mk_error_t err;
    mk_link_t *l = mk_link_dial(gs->n, &addr, MK_GROUPS_ALPN, 0, &bond_ops, b, &err);
    if (!l) {
        mk_gcand_t *c = cand_of(g, &b->peer, true);
        if (c) {
            c->backoff_ms = c->backoff_ms ? (c->backoff_ms * 2 > 30000 ? 30000 : c->backoff_ms * 2) : 250;
            c->next_dial_at = mk_groups_now() + c->backoff_ms;
        }
        bond_detach(b);
        bond_free(b);
        return;
    }
    b->link = l;
    arm_ms(b->timer, gs->cfg.handshake_timeout_ms + 5000);  /* TLS + handshake */
}

/* ---- handshake, acceptor side (spec 40 §2.2, checks in order) ---- */

void mk_bond_accept(mk_groups_t *gs, mk_link_t *l) {
    if (gs->stopping || gs->nhandshakes >= gs->cfg.max_pending_handshakes) {
        mk_link_close_async(l, MK_CLOSE_CANCELLED, "too many group handshakes");
        mk_link_release(l);
        return;
    }
    mk_peer_id_t peer = mk_link_peer(l);
    mk_bond_t *b = bond_new(gs, NULL, l, &peer, false);
    if (!b) {
        mk_link_close_async(l, MK_CLOSE_CANCELLED, "out of memory");
        mk_link_release(l);
        return;
    }
    b->next = gs->handshakes;
    gs->handshakes = b;
    gs->nhandshakes++;
    mk_link_set_ops(l, &bond_ops, b);
    arm_ms(b->timer, gs->cfg.handshake_timeout_ms);
}

static void acceptor_start(mk_bond_t *b, const uint8_t *p, size_t n) {
    mk_groups_t *gs = b->gs;
    mk_bond_handshake_t *h = calloc(1, sizeof *h);
    if (!h) {
        mk_bond_close(b, MK_CLOSE_CANCELLED, "out of memory");
        return;
    }
    mk_error_t e;
    char why[200];
    const mk_peer_entry_t *entry = NULL;
    if (mk_bond_hs_start_decode(p, n, h, &e) != MK_OK) {
        free(h);
        refuse(b, MK_CLOSE_GROUP_INVALID_HANDSHAKE, e.msg);
        return;
    }
    if (!mk_id_eq(&h->network_id, &gs->net_id)) {
        free(h);
        refuse(b, MK_CLOSE_DIFFERENT_NETWORK, "different network");
        return;
    }
    entry = entry_of(gs, &b->peer);
    if (!entry) {
        free(h);
        refuse(b, MK_CLOSE_UNKNOWN_PEER, "dialer not in the catalog");
        return;
    }
    mk_gstate_t *g = mk_groups_find(gs, &h->group_id);
    if (!g || g->terminated) {
        mk_peer_entry_unref(entry);
        free(h);
        refuse(b, MK_CLOSE_GROUP_NOT_FOUND, "group not joined here");
        return;
    }
    /* from here on the bond belongs to g */
    unlink_bond(&gs->handshakes, b);
    if (gs->nhandshakes) gs->nhandshakes--;
    b->g = g;
    b->next = g->bonds;
    g->bonds = b;
    mk_expiration_t exp;
    bool ok = tickets_ok(g, entry, &exp, why, sizeof why);
    mk_peer_entry_unref(entry);
    if (!ok) {
        free(h);
        refuse(b, MK_CLOSE_GROUP_NOT_ALLOWED, why);
        return;
    }
    if (export_secret(b) != MK_OK) {
        free(h);
        refuse(b, MK_CLOSE_GROUP_INVALID_HANDSHAKE, "no exporter secret");
        return;
    }
    if (!mk_bond_proof_verify(&g->key, MK_BOND_DIALER, &g->id, b->exporter, &b->peer, &gs->self, h->proof)) {
        free(h);
        refuse(b, MK_CLOSE_GROUP_INVALID_PROOF, "dialer proof does not match the group key");
        return;
    }
    b->incarnation = h->incarnation;
    /* the answer goes out before the bond is live, so that it precedes any bond message */
    mk_bond_handshake_t *end = calloc(1, sizeof *end);
    const mk_peer_entry_t **refs = calloc(MK_BOND_MAX_BONDS, sizeof *refs);
    mk_buf_t out = MK_BUF_INIT;
    size_t nrefs = 0;
    int rc = end && refs ? MK_OK : MK_ENOMEM;
    if (rc == MK_OK) {
        end->incarnation = g->incarnation;
        mk_bond_proof(&g->key, MK_BOND_ACCEPTOR, &g->id, b->exporter, &b->peer, &gs->self, end->proof);
        nrefs = bond_list(g, &b->peer, end, refs);
        rc = mk_bond_hs_end_encode(end, &out, NULL);
    }
    /* duplicate rule first: a refused link must not get a HandshakeEnd */
    mk_bond_t *old = mk_bond_live(g, &b->peer);
    bool refused = false;
    if (old && old->incarnation == b->incarnation && old->dialer != b->dialer) {
        const mk_peer_id_t *lower = id_lt(&gs->self, &b->peer) ? &gs->self : &b->peer;
        if (!mk_id_eq(&b->peer, lower)) refused = true;  /* b was dialed by the higher PeerId */
    }
    if (refused) {
        rc = MK_EEXIST;
    } else if (rc == MK_OK) {
        rc = send_raw(b, out.ptr, out.len);
    }
    mk_buf_free(&out);
    for (size_t i = 0; i < nrefs; i++) mk_peer_entry_unref(refs[i]);
    free(refs);
    free(end);
    if (refused) {
        free(h);
        refuse(b, MK_CLOSE_GROUP_ALREADY_BONDED, "already bonded");
        return;
    }
    if (rc != MK_OK) {
        free(h);
        mk_bond_close(b, MK_CLOSE_CANCELLED, "handshake answer not sent");
        return;
    }
    if (go_live(b)) {
        take_reported(b, h->bonds, h->nbonds);
        if (g->cfg.n_validators) arm_ticket(b, exp);
    }
    free(h);
}

/* ---- live bonds ---- */

static void on_bond_msg(mk_bond_t *b, const uint8_t *p, size_t n) {
    mk_gstate_t *g = b->g;
    mk_bond_msg_t m;
    mk_error_t e;
    if (mk_bond_msg_decode(p, n, &m, &e) != MK_OK) {
        char s[MK_ID_SHORT_LEN + 1];
        LOG(g, MK_LOG_INFO, "group %s: malformed bond message from %s: %s", g->short_id, mk_id_short(&b->peer, s),
            e.msg);
        count_reject(b->gs, g, MK_CLOSE_PROTOCOL_VIOLATION);
        mk_bond_close(b, MK_CLOSE_PROTOCOL_VIOLATION, "malformed bond message");
        return;
    }
    switch (m.kind) {
    case MK_BOND_PING: {
        uint8_t pong = MK_BOND_PONG;
        send_raw(b, &pong, 1);
        break;
    }
    case MK_BOND_PONG: break;
    case MK_BOND_DEPARTURE: mk_bond_close(b, MK_CLOSE_GRACEFUL_SHUTDOWN, "peer departed"); break;
    case MK_BOND_PEER_ENTRY_UPDATE:  /* the catalog pass that follows the snapshot re-validates the bond */
        mk_disc_feed_signed(b->gs->n, m.entry.ptr, m.entry.len);
        break;
    case MK_BOND_BOND_FORMED: take_reported(b, &m.entry, 1); break;
    case MK_BOND_BOND_CLOSED: drop_reported(b, &m.peer); break;
    case MK_BOND_RAFT: mk_gstate_on_raft(g, b, m.payload.ptr, m.payload.len); break;
    case MK_BOND_STATE_SYNC: mk_gstate_on_sync(g, b, m.payload.ptr, m.payload.len); break;
    }
}

static void on_frame(mk_link_t *l, void *ctx, const uint8_t *p, size_t n) {
    (void)l;
    mk_bond_t *b = ctx;
    b->last_rx = mk_groups_now();
    b->missed = 0;
    if (b->g) {
        mk_counter_add(b->g->m_rx_bytes, n);
        mk_counter_add(b->g->m_rx_msgs, 1);
    }
    switch (b->state) {
    case MK_BOND_HANDSHAKE:
        if (b->dialer) dialer_end(b, p, n);
        else acceptor_start(b, p, n);
        break;
    case MK_BOND_LIVE: on_bond_msg(b, p, n); break;
    default: break;
    }
}

static void on_read_end(mk_link_t *l, void *ctx) {
    (void)l;
    mk_bond_t *b = ctx;
    if (b->g && b->state == MK_BOND_LIVE) mk_gstate_process(b->g);
}

static void heartbeat_fire(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_bond_t *b = arg;
    if (b->state != MK_BOND_LIVE) {
        refuse(b, MK_CLOSE_GROUP_TIMEOUT, "handshake timed out");
        return;
    }
    const mk_consensus_config_t *cc = &b->g->cfg.consensus;
    int64_t now = mk_groups_now();
    if (now - b->last_tx >= (int64_t)cc->heartbeat_interval_ms - (int64_t)cc->heartbeat_jitter_ms) {
        uint8_t ping = MK_BOND_PING;
        send_raw(b, &ping, 1);
    }
    if (now - b->last_rx > (int64_t)cc->heartbeat_interval_ms + cc->heartbeat_jitter_ms &&
        ++b->missed >= cc->max_missed_heartbeats) {
        char s[MK_ID_SHORT_LEN + 1];
        LOG(b->g, MK_LOG_INFO, "group %s: bond to %s silent for %u heartbeats", b->g->short_id,
            mk_id_short(&b->peer, s), b->missed);
        count_reject(b->gs, b->g, MK_CLOSE_GROUP_TIMEOUT);
        mk_bond_close(b, MK_CLOSE_GROUP_TIMEOUT, "missed heartbeats");
        return;
    }
    arm_heartbeat(b);
}

static const mk_link_ops_t bond_ops = {
    .on_open = on_open, .on_frame = on_frame, .on_close = on_close, .on_read_end = on_read_end};

void mk_bond_send_departure(mk_gstate_t *g, const mk_peer_id_t *only, const mk_peer_id_t *skip) {
    uint8_t dep = MK_BOND_DEPARTURE;
    for (mk_bond_t *b = g->bonds; b; b = b->next) {
        if (b->state != MK_BOND_LIVE) continue;
        if (only && !mk_id_eq(&b->peer, only)) continue;
        if (skip && mk_id_eq(&b->peer, skip)) continue;
        send_raw(b, &dep, 1);
    }
}

/* Our own signed entry changed (a renewed ticket, new addresses): PeerEntryUpdate on every live bond,
 * so bonded peers re-validate at once instead of waiting for gossip. */
void mk_bond_send_entry_update(mk_gstate_t *g, const mk_peer_entry_t *local) {
    mk_bond_msg_t m = {.kind = MK_BOND_PEER_ENTRY_UPDATE, .entry = {local->wire, local->wire_len}};
    mk_buf_t out = MK_BUF_INIT;
    if (mk_bond_msg_encode(&m, &out, NULL) == MK_OK)
        for (mk_bond_t *b = g->bonds; b; b = b->next)
            if (b->state == MK_BOND_LIVE) send_raw(b, out.ptr, out.len);
    mk_buf_free(&out);
}

/* ---- candidates (spec 40 §2.1, §2.6) ---- */

void mk_bond_catalog_pass(mk_gstate_t *g, const mk_catalog_t *cat) {
    if (g->terminated || g->gs->stopping) return;
    int64_t now = mk_groups_now();
    for (size_t i = 0; i < g->ncands; i++) g->cands[i].seen = false;
    mk_catalog_iter_t it;
    mk_catalog_iter_init(&it, cat, 0);
    for (const mk_peer_entry_t *e; (e = mk_catalog_next(&it));) {
        const mk_peer_id_t *id = mk_peer_entry_id(e);
        if (mk_id_eq(id, &g->gs->self) || !mk_peer_entry_is_signed(e) || !mk_peer_entry_has_group(e, &g->id))
            continue;
        mk_gcand_t *c = cand_of(g, id, true);
        if (!c) continue;
        c->seen = true;
        mk_bond_t *live = mk_bond_live(g, id);
        if (live) {
            if (g->cfg.n_validators) revalidate(live);
            continue;
        }
        if (mk_bond_dialing(g, id)) continue;
        if (c->blocked) {
            mk_entry_version_t v = mk_peer_entry_version(e);
            if (v.start_ms == c->blocked_version.start_ms && v.update_ms == c->blocked_version.update_ms) continue;
            c->blocked = false;
        }
        if (now < c->next_dial_at) continue;
        bool lower = id_lt(&g->gs->self, id);
        if (!lower && !g->force_dial && now - c->first_seen < (int64_t)g->gs->cfg.handshake_timeout_ms) continue;
        mk_expiration_t exp;
        char why[160];
        if (!tickets_ok(g, e, &exp, why, sizeof why)) continue;
        mk_bond_dial(g, e);
    }
    /* forget candidates that left the catalog (their bonds close on their own) */
    for (size_t i = 0; i < g->ncands;) {
        if (!g->cands[i].seen && !mk_bond_live(g, &g->cands[i].peer) && !mk_bond_dialing(g, &g->cands[i].peer))
            g->cands[i] = g->cands[--g->ncands];
        else
            i++;
    }
}
