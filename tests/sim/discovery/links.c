/* tests/sim/discovery/links.c — simulated announce links and catalog-sync datagrams for discovery-sim:
 * dialing (accept after one delay, open after another), FIFO frames per direction, closes that reach
 * the other end after the frames sent before them, frame and byte accounting. The node logic that
 * reacts to these events lives in node.c. */
#include "sim/discovery/links.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- messages ---- */

dmsg_t *dmsg_new(int kind) {
    dmsg_t *m = calloc(1, sizeof *m);
    if (!m) {
        fprintf(stderr, "discovery-sim: out of memory\n");
        exit(2);
    }
    m->kind = kind;
    return m;
}

void dmsg_free(dmsg_t *m) {
    if (!m) return;
    mk_peer_entry_unref(m->entry);
    for (size_t i = 0; i < m->nents; i++) mk_peer_entry_unref(m->ents[i]);
    free(m->ents);
    free(m->ids);
    free(m->digest);
    free(m);
}

void dmsg_add_entry(dmsg_t *m, const mk_peer_entry_t *e) {
    const mk_peer_entry_t **v = realloc(m->ents, (m->nents + 1) * sizeof *v);
    if (!v) {
        fprintf(stderr, "discovery-sim: out of memory\n");
        exit(2);
    }
    m->ents = v;
    m->ents[m->nents++] = mk_peer_entry_ref(e);
}

/* The frame's size on the wire: tag, fixed fields, length-prefixed entries, 4 bytes of framing. */
static size_t msg_bytes(const dmsg_t *m) {
    size_t b = 4 + 1;
    if (m->kind == MK_WIRE_JOIN || m->kind == MK_WIRE_NEIGHBOR || m->kind == MK_WIRE_SHUFFLE_REPLY ||
        m->kind == SYNC_HELLO)
        b += 32;
    if (m->entry) b += m->entry->wire_len + 3;
    for (size_t i = 0; i < m->nents; i++) b += m->ents[i]->wire_len + 3;
    b += m->nids * 32 + m->ndigest * (32 + 12);
    if (m->kind == MK_WIRE_DEPART) b += 32 + 20 + 64;
    return b + 2;
}

/* ---- links ---- */

typedef struct dev {
    dlink_t *l;
    int end;
    int what;
    dmsg_t *m;
    uint32_t code;
} link_ev_t;

static int64_t one_way(dworld_t *w) { return sim_range(w->s, w->p.delay_us - w->p.jitter_us, w->p.delay_us + w->p.jitter_us); }

static void link_unref(dlink_t *l) {
    if (--l->refs == 0) free(l);
}

static void on_link_event(sim_t *s, void *a, uint64_t b);

static void post(dworld_t *w, dlink_t *l, int to_end, int what, dmsg_t *m, uint32_t code) {
    int64_t at = w->s->now_us + one_way(w);
    if (at <= l->last_us[to_end]) at = l->last_us[to_end] + 1;
    l->last_us[to_end] = at;
    link_ev_t *ev = calloc(1, sizeof *ev);
    if (!ev) exit(2);
    *ev = (link_ev_t){l, to_end, what, m, code};
    l->refs++;
    sim_at(w->s, at, on_link_event, ev, 0);
}

dconn_t *dlink_dial(dnode_t *n, dnode_t *target, const mk_peer_id_t *peer) {
    dlink_t *l = calloc(1, sizeof *l);
    dconn_t *c = calloc(1, sizeof *c);
    if (!l || !c) exit(2);
    l->n[0] = n;
    l->n[1] = target;
    l->c[0] = c;
    l->refs = 1;
    c->node = n;
    c->link = l;
    c->end = 0;
    c->peer = *peer;
    c->state = C_DIALING;
    c->next = n->conns;
    n->conns = c;
    post(n->w, l, 1, DL_ACCEPT, NULL, 0);
    return c;
}

void dlink_send(dconn_t *c, dmsg_t *m) {
    dworld_t *w = c->node->w;
    w->st.frames++;
    w->st.bytes += msg_bytes(m);
    w->st.entries += m->nents + (m->entry ? 1 : 0);
    post(w, c->link, 1 - c->end, DL_FRAME, m, 0);
}

/* Removes c from its node and its link; the other end learns of it with `code` (0 = the connection
 * dropped without a Close frame). */
void dlink_close(dconn_t *c, uint32_t code) {
    dnode_t *n = c->node;
    dlink_t *l = c->link;
    for (dconn_t **pp = &n->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    l->c[c->end] = NULL;
    int other = 1 - c->end;
    if (l->c[other]) post(n->w, l, other, DL_CLOSED, NULL, code);
    mk_gossip_queue_free(c->queue);
    dmsg_free(c->pending_first);
    free(c);
    link_unref(l);
}

static void on_link_event(sim_t *s, void *a, uint64_t b) {
    (void)s;
    (void)b;
    link_ev_t *ev = a;
    dlink_t *l = ev->l;
    dnode_t *n = l->n[ev->end];
    dconn_t *c = l->c[ev->end];
    switch (ev->what) {
    case DL_ACCEPT:
        if (!l->c[0]) break;  /* the dialer gave up */
        if (!n || !n->alive) {
            post(l->n[0]->w, l, 0, DL_OPENED, NULL, 1);
            break;
        }
        c = calloc(1, sizeof *c);
        if (!c) exit(2);
        c->node = n;
        c->link = l;
        c->end = 1;
        c->peer = l->n[0]->id;
        c->state = C_PENDING_IN;
        c->next = n->conns;
        n->conns = c;
        l->c[1] = c;
        l->refs++;
        post(n->w, l, 0, DL_OPENED, NULL, 0);
        break;
    case DL_OPENED:
        if (!c) break;
        dnode_link_event(n, c, DL_OPENED, NULL, ev->code);
        break;
    case DL_FRAME:
        if (!c || !n->alive) break;
        dnode_link_event(n, c, DL_FRAME, ev->m, 0);
        ev->m = NULL;
        break;
    case DL_CLOSED:
        if (!c || !n->alive) break;
        dnode_link_event(n, c, DL_CLOSED, NULL, ev->code);
        break;
    }
    dmsg_free(ev->m);
    link_unref(l);
    free(ev);
}

/* ---- catalog-sync datagrams ---- */

typedef struct dsync_ev {
    dnode_t *from, *to;
    dmsg_t *m;
} dsync_ev_t;

static void on_sync_event(sim_t *s, void *a, uint64_t b) {
    (void)s;
    (void)b;
    dsync_ev_t *ev = a;
    if (ev->to->alive) {
        dnode_sync_event(ev->to, ev->from, ev->m);
        ev->m = NULL;
    }
    dmsg_free(ev->m);
    free(ev);
}

void dsync_send(dnode_t *from, dnode_t *to, dmsg_t *m) {
    dworld_t *w = from->w;
    size_t bytes = msg_bytes(m);
    w->st.frames += 1 + bytes / MK_WIRE_FRAME_MAX;
    w->st.bytes += bytes;
    w->st.entries += m->nents;
    dsync_ev_t *ev = calloc(1, sizeof *ev);
    if (!ev) exit(2);
    *ev = (dsync_ev_t){from, to, m};
    sim_at(w->s, w->s->now_us + one_way(w), on_sync_event, ev, 0);
}
