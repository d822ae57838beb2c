/* discovery/public.c — the public discovery calls that take a network: they find the runtime, copy
 * their arguments into a command and run it on the loop (spec 20 §10). Snapshot, watch and event
 * handles come from catalog.c / events.c; this file only hands them out. */
#include "discovery/disc_int.h"

#include "core/error.h"
#include "core/time.h"

#include <stdlib.h>
#include <string.h>

static mk_disc_t *disc_of(mk_network_t *n) { return n ? mk_net_subsystem(n, MK_SUBSYS_DISCOVERY) : NULL; }

#define NEED_DISC(n, e)                                                                      \
    mk_disc_t *d = disc_of(n);                                                               \
    if (!d) return MK_ERR(e, MK_EINVAL, "no discovery on this network (NULL network?)");

/* ---- handles ---- */

mk_catalog_t *mk_discovery_catalog(mk_network_t *n) {
    mk_disc_t *d = disc_of(n);
    return d ? mk_catalog_pub_current(d->pub) : NULL;
}

mk_catalog_watch_t *mk_catalog_watch(mk_network_t *n, mk_error_t *e) {
    mk_disc_t *d = disc_of(n);
    if (!d) {
        MK_ERR(e, MK_EINVAL, "no discovery on this network");
        return NULL;
    }
    return mk_catalog_watch_new(d->pub, e);
}

mk_discovery_events_t *mk_discovery_events(mk_network_t *n, mk_error_t *e) {
    mk_disc_t *d = disc_of(n);
    if (!d) {
        MK_ERR(e, MK_EINVAL, "no discovery on this network");
        return NULL;
    }
    return mk_event_ring_subscribe(d->ring, e);
}

const mk_peer_entry_t *mk_discovery_me(mk_network_t *n) {
    mk_catalog_t *c = mk_discovery_catalog(n);
    if (!c) return NULL;
    const mk_peer_entry_t *me = mk_catalog_local(c);
    if (me) mk_peer_entry_ref(me);
    mk_catalog_free(c);
    return me;
}

int mk_discovery_stats(mk_network_t *n, mk_discovery_stats_t *out) {
    mk_disc_t *d = disc_of(n);
    if (!d || !out) return MK_EINVAL;
    pthread_mutex_lock(&d->stats_mu);
    *out = d->stats;
    pthread_mutex_unlock(&d->stats_mu);
    return MK_OK;
}

/* ---- local entry changes ---- */

typedef enum { OP_ADD_TAGS, OP_REMOVE_TAGS, OP_ADD_TICKET, OP_REPLACE_TICKET, OP_REMOVE_TICKET, OP_REMOVE_CLASS,
               OP_ADD_STREAM, OP_REMOVE_STREAM, OP_ADD_GROUP, OP_REMOVE_GROUP } local_op_t;

typedef struct local_change {
    local_op_t op;
    mk_id_t *ids;      /* tags, or the ticket id / class */
    size_t nids;
    mk_id_t cls;
    uint8_t *data;     /* ticket data (owned copy) */
    size_t len;
} local_change_t;

static void local_change_cleanup(mk_disc_cmd_t *c) {
    local_change_t *lc = c->payload;
    if (!lc) return;
    free(lc->ids);
    free(lc->data);
    free(lc);
    c->payload = NULL;
}

/* Applies the change to a copy of the draft: all or nothing. */
static int apply_change(mk_entry_draft_t *dr, const local_change_t *lc, bool *changed, mk_error_t *e) {
    int rc;
    switch (lc->op) {
    case OP_ADD_TAGS:
        for (size_t i = 0; i < lc->nids; i++) {
            rc = mk_entry_draft_add_tag(dr, &lc->ids[i]);
            if (rc == MK_E2BIG) return MK_ERR(e, MK_E2BIG, "an entry holds at most %d tags", MK_ENTRY_MAX_TAGS);
            if (rc == MK_OK) *changed = true;
            else if (rc != MK_EALREADY) return MK_ERR(e, rc, "cannot add tag");
        }
        return MK_OK;
    case OP_REMOVE_TAGS:
        for (size_t i = 0; i < lc->nids; i++)
            if (mk_entry_draft_remove_tag(dr, &lc->ids[i]) == MK_OK) *changed = true;
        return MK_OK;
    case OP_REPLACE_TICKET:
        if (mk_entry_draft_remove_tickets_of(dr, &lc->cls)) *changed = true;
        /* fall through */
    case OP_ADD_TICKET: {
        mk_ticket_t t = {lc->cls, lc->data, lc->len};
        rc = mk_entry_draft_add_ticket(dr, &t);
        if (rc == MK_E2BIG)
            return MK_ERR(e, MK_E2BIG, "ticket of %zu bytes does not fit (at most %d tickets of %d bytes)", lc->len,
                          MK_ENTRY_MAX_TICKETS, MK_TICKET_MAX_BYTES);
        if (rc == MK_OK) *changed = true;
        else if (rc != MK_EALREADY) return MK_ERR(e, rc, "cannot add ticket");
        return MK_OK;
    }
    case OP_REMOVE_TICKET:
        if (mk_entry_draft_remove_ticket(dr, &lc->ids[0]) == MK_OK) *changed = true;
        return MK_OK;
    case OP_REMOVE_CLASS:
        if (mk_entry_draft_remove_tickets_of(dr, &lc->cls)) *changed = true;
        return MK_OK;
    case OP_ADD_STREAM:
    case OP_ADD_GROUP:
        rc = lc->op == OP_ADD_STREAM ? mk_entry_draft_add_stream(dr, &lc->ids[0]) : mk_entry_draft_add_group(dr, &lc->ids[0]);
        if (rc == MK_E2BIG)
            return MK_ERR(e, MK_E2BIG, "the entry already lists the most %s it can (%d)",
                          lc->op == OP_ADD_STREAM ? "streams" : "groups",
                          lc->op == OP_ADD_STREAM ? MK_ENTRY_MAX_STREAMS : MK_ENTRY_MAX_GROUPS);
        if (rc == MK_OK) *changed = true;
        return MK_OK;
    case OP_REMOVE_STREAM:
        if (mk_entry_draft_remove_stream(dr, &lc->ids[0]) == MK_OK) *changed = true;
        return MK_OK;
    case OP_REMOVE_GROUP:
        if (mk_entry_draft_remove_group(dr, &lc->ids[0]) == MK_OK) *changed = true;
        return MK_OK;
    }
    return MK_EINVAL;
}

static void run_local_change(mk_disc_t *d, mk_disc_cmd_t *c) {
    local_change_t *lc = c->payload;
    mk_entry_draft_t *copy = malloc(sizeof *copy);
    mk_error_t err;
    /* build on the pending draft when an earlier change is not signed yet, or that change is lost */
    const mk_peer_entry_t *pending = NULL, *base = d->local;
    if (d->local_dirty && mk_entry_draft_seal(d->draft, NULL, &pending, NULL) == MK_OK) base = pending;
    int from = copy ? mk_entry_draft_from(copy, base) : MK_ENOMEM;
    mk_peer_entry_unref(pending);
    if (from != MK_OK) {
        free(copy);
        MK_ERR(&err, MK_ENOMEM, "out of memory");
        mk_disc_cmd_done(c, MK_ENOMEM, &err);
        return;
    }
    copy->version = d->draft->version;
    bool changed = false;
    int rc = apply_change(copy, lc, &changed, &err);
    if (rc == MK_OK && changed) {
        /* the signed size bound is checked by sealing a trial (unsigned entries carry no signature) */
        const mk_peer_entry_t *trial = NULL;
        rc = mk_entry_draft_seal(copy, d->sk, &trial, &err);
        mk_peer_entry_unref(trial);
    }
    if (rc != MK_OK || !changed) {
        mk_entry_draft_free(copy);
        free(copy);
        mk_disc_cmd_done(c, rc, rc == MK_OK ? NULL : &err);
        return;
    }
    mk_entry_draft_free(d->draft);
    free(d->draft);
    d->draft = copy;
    d->local_dirty = true;
    c->next_waiting = d->waiting_local;  /* completes when the new version is signed */
    d->waiting_local = c;
    mk_disc_resign_soon(d);
}

static int submit_change(mk_network_t *n, local_change_t *lc, int timeout_ms, mk_error_t *e) {
    mk_disc_cmd_t *c = mk_disc_cmd_new(run_local_change, local_change_cleanup, lc);
    return mk_disc_cmd_submit(n, c, timeout_ms, e);
}

static int tags_change(mk_network_t *n, local_op_t op, const char *const *names, size_t k, int timeout_ms,
                       mk_error_t *e) {
    NEED_DISC(n, e);
    (void)d;
    if (!names && k) return MK_ERR(e, MK_EINVAL, "names is NULL");
    if (k > 4096) return MK_ERR(e, MK_E2BIG, "%zu tags in one call", k);
    local_change_t *lc = calloc(1, sizeof *lc);
    if (!lc || !(lc->ids = calloc(k ? k : 1, sizeof *lc->ids))) {
        free(lc);
        return MK_ERR(e, MK_ENOMEM, "out of memory");
    }
    lc->op = op;
    lc->nids = k;
    for (size_t i = 0; i < k; i++) {
        if (!names[i] || !names[i][0]) {
            free(lc->ids);
            free(lc);
            return MK_ERR(e, MK_EINVAL, "tag name %zu is empty", i);
        }
        lc->ids[i] = mk_id_from_str(names[i]);
    }
    return submit_change(n, lc, timeout_ms, e);
}

int mk_discovery_add_tags(mk_network_t *n, const char *const *names, size_t k, int timeout_ms, mk_error_t *e) {
    return tags_change(n, OP_ADD_TAGS, names, k, timeout_ms, e);
}

int mk_discovery_remove_tags(mk_network_t *n, const char *const *names, size_t k, int timeout_ms, mk_error_t *e) {
    return tags_change(n, OP_REMOVE_TAGS, names, k, timeout_ms, e);
}

static int ticket_change(mk_network_t *n, local_op_t op, const mk_ticket_t *t, int timeout_ms, mk_error_t *e) {
    NEED_DISC(n, e);
    (void)d;
    if (!t || (!t->data && t->len)) return MK_ERR(e, MK_EINVAL, "ticket is NULL");
    if (t->len > MK_TICKET_MAX_BYTES)
        return MK_ERR(e, MK_E2BIG, "ticket of %zu bytes exceeds %d", t->len, MK_TICKET_MAX_BYTES);
    local_change_t *lc = calloc(1, sizeof *lc);
    if (!lc || (t->len && !(lc->data = malloc(t->len)))) {
        free(lc);
        return MK_ERR(e, MK_ENOMEM, "out of memory");
    }
    lc->op = op;
    lc->cls = t->cls;
    if (t->len) memcpy(lc->data, t->data, t->len);
    lc->len = t->len;
    return submit_change(n, lc, timeout_ms, e);
}

int mk_discovery_add_ticket(mk_network_t *n, const mk_ticket_t *t, int timeout_ms, mk_error_t *e) {
    return ticket_change(n, OP_ADD_TICKET, t, timeout_ms, e);
}

int mk_discovery_replace_ticket(mk_network_t *n, const mk_ticket_t *t, int timeout_ms, mk_error_t *e) {
    return ticket_change(n, OP_REPLACE_TICKET, t, timeout_ms, e);
}

static int id_change(mk_network_t *n, local_op_t op, const mk_id_t *id, int timeout_ms, mk_error_t *e) {
    NEED_DISC(n, e);
    (void)d;
    if (!id) return MK_ERR(e, MK_EINVAL, "id is NULL");
    local_change_t *lc = calloc(1, sizeof *lc);
    if (!lc || !(lc->ids = calloc(1, sizeof *lc->ids))) {
        free(lc);
        return MK_ERR(e, MK_ENOMEM, "out of memory");
    }
    lc->op = op;
    lc->ids[0] = *id;
    lc->nids = 1;
    lc->cls = *id;
    return submit_change(n, lc, timeout_ms, e);
}

int mk_discovery_remove_ticket(mk_network_t *n, const mk_id_t *ticket_id, int timeout_ms, mk_error_t *e) {
    return id_change(n, OP_REMOVE_TICKET, ticket_id, timeout_ms, e);
}

int mk_discovery_remove_tickets_of(mk_network_t *n, const mk_id_t *cls, int timeout_ms, mk_error_t *e) {
    return id_change(n, OP_REMOVE_CLASS, cls, timeout_ms, e);
}

int mk_disc_local_stream(mk_network_t *n, const mk_id_t *stream, bool present, int timeout_ms, mk_error_t *e) {
    return id_change(n, present ? OP_ADD_STREAM : OP_REMOVE_STREAM, stream, timeout_ms, e);
}

int mk_disc_local_group(mk_network_t *n, const mk_id_t *group, bool present, int timeout_ms, mk_error_t *e) {
    return id_change(n, present ? OP_ADD_GROUP : OP_REMOVE_GROUP, group, timeout_ms, e);
}

/* ---- feeding, unsigned entries ---- */

typedef struct bytes_arg {
    uint8_t *p;
    size_t len;
} bytes_arg_t;

static void bytes_cleanup(mk_disc_cmd_t *c) {
    bytes_arg_t *b = c->payload;
    if (b) free(b->p);
    free(b);
    c->payload = NULL;
}

static void run_feed(mk_disc_t *d, mk_disc_cmd_t *c) {
    bytes_arg_t *b = c->payload;
    mk_store_result_t res = {0};
    int v = mk_disc_merge(d, b->p, b->len, NULL, false, &res);
    mk_error_t err;
    int rc = MK_OK;
    switch (v) {
    case MK_STORE_NEW:
    case MK_STORE_UPDATED: rc = MK_OK; break;
    case MK_STORE_DUPLICATE: rc = MK_ERR(&err, MK_EALREADY, "not newer than the stored version"); break;
    case MK_STORE_DEPARTED: rc = MK_ERR(&err, MK_ESTALE, "the peer departed with this version or a newer one"); break;
    case MK_STORE_SELF: rc = MK_ERR(&err, MK_EINVAL, "the entry is our own"); break;
    default:
        switch (res.reject) {
        case MK_REJ_WRONG_NETWORK: rc = MK_ERR(&err, MK_EWRONGNET, "entry of another network"); break;
        case MK_REJ_BAD_SIGNATURE: rc = MK_ERR(&err, MK_EBADSIG, "signature does not verify"); break;
        case MK_REJ_FUTURE: rc = MK_ERR(&err, MK_ESTALE, "entry dated too far in the future"); break;
        case MK_REJ_STALE: rc = MK_ERR(&err, MK_ESTALE, "entry older than purge_after"); break;
        case MK_REJ_TOO_BIG: rc = MK_ERR(&err, MK_E2BIG, "%s", res.why[0] ? res.why : "entry over a limit"); break;
        case MK_REJ_FULL: rc = MK_ERR(&err, MK_EFULL, "catalog full (max_peers %u)", d->cfg.c.max_peers); break;
        default: rc = MK_ERR(&err, MK_EPROTO, "%s", res.why[0] ? res.why : "malformed entry"); break;
        }
    }
    mk_peer_entry_unref(res.entry);
    mk_disc_publish_pending(d);
    mk_disc_cmd_done(c, rc, rc == MK_OK ? NULL : &err);
}

int mk_discovery_feed(mk_network_t *n, const void *signed_entry, size_t len, mk_error_t *e) {
    NEED_DISC(n, e);
    (void)d;
    if (!signed_entry || !len) return MK_ERR(e, MK_EINVAL, "empty entry");
    if (len > MK_ENTRY_MAX_BYTES) return MK_ERR(e, MK_E2BIG, "entry of %zu bytes exceeds %d", len, MK_ENTRY_MAX_BYTES);
    bytes_arg_t *b = calloc(1, sizeof *b);
    if (!b || !(b->p = malloc(len))) {
        free(b);
        return MK_ERR(e, MK_ENOMEM, "out of memory");
    }
    memcpy(b->p, signed_entry, len);
    b->len = len;
    return mk_disc_cmd_submit(n, mk_disc_cmd_new(run_feed, bytes_cleanup, b), -1, e);
}

static void draft_cleanup(mk_disc_cmd_t *c) {
    mk_entry_draft_t *dr = c->payload;
    if (dr) mk_entry_draft_free(dr);
    free(dr);
    c->payload = NULL;
}

static void run_insert(mk_disc_t *d, mk_disc_cmd_t *c) {
    mk_entry_draft_t *dr = c->payload;
    mk_error_t err;
    const mk_peer_entry_t *e = NULL;
    if (mk_id_eq(&dr->peer, &d->self)) {
        MK_ERR(&err, MK_EINVAL, "cannot insert an entry for the local node");
        mk_disc_cmd_done(c, MK_EINVAL, &err);
        return;
    }
    if (!dr->version.start_ms && !dr->version.update_ms)
        dr->version.start_ms = dr->version.update_ms = (uint64_t)mk_disc_now_ms();
    int rc = mk_entry_draft_seal(dr, NULL, &e, &err);
    if (rc != MK_OK) {
        mk_disc_cmd_done(c, rc, &err);
        return;
    }
    int v = mk_store_insert_unsigned(d->store, e);
    if (v == MK_STORE_NEW || v == MK_STORE_UPDATED) {
        mk_disc_queue_event(d, v == MK_STORE_NEW ? MK_PEER_DISCOVERED : MK_PEER_UPDATED, &dr->peer, e, true, 0);
        rc = MK_OK;
    } else if (v == MK_STORE_IGNORED) {
        rc = MK_ERR(&err, MK_EALREADY, "a signed entry for that peer exists");
    } else {
        rc = MK_ERR(&err, MK_EFULL, "catalog full (max_peers %u)", d->cfg.c.max_peers);
    }
    mk_peer_entry_unref(e);
    mk_disc_publish_pending(d);
    mk_disc_cmd_done(c, rc, rc == MK_OK ? NULL : &err);
}

int mk_discovery_insert(mk_network_t *n, const mk_peer_entry_desc_t *desc, int timeout_ms, mk_error_t *e) {
    NEED_DISC(n, e);
    if (!desc) return MK_ERR(e, MK_EINVAL, "desc is NULL");
    mk_entry_draft_t *dr = calloc(1, sizeof *dr);
    if (!dr) return MK_ERR(e, MK_ENOMEM, "out of memory");
    mk_entry_draft_init(dr, &d->net_id, &desc->peer);
    dr->version = desc->version;
    int rc = MK_OK;
    if (desc->n_addrs) rc = mk_entry_draft_set_addrs(dr, desc->addrs, desc->n_addrs);
    for (size_t i = 0; rc == MK_OK && desc->tags && desc->tags[i]; i++) {
        mk_id_t t = mk_id_from_str(desc->tags[i]);
        int r = mk_entry_draft_add_tag(dr, &t);
        if (r != MK_OK && r != MK_EALREADY) rc = r;
    }
    for (size_t i = 0; rc == MK_OK && i < desc->n_streams; i++) {
        int r = mk_entry_draft_add_stream(dr, &desc->streams[i]);
        if (r != MK_OK && r != MK_EALREADY) rc = r;
    }
    for (size_t i = 0; rc == MK_OK && i < desc->n_groups; i++) {
        int r = mk_entry_draft_add_group(dr, &desc->groups[i]);
        if (r != MK_OK && r != MK_EALREADY) rc = r;
    }
    for (size_t i = 0; rc == MK_OK && i < desc->n_tickets; i++) {
        int r = mk_entry_draft_add_ticket(dr, &desc->tickets[i]);
        if (r != MK_OK && r != MK_EALREADY) rc = r;
    }
    if (rc != MK_OK) {
        mk_entry_draft_free(dr);
        free(dr);
        return MK_ERR(e, rc, "entry description over a limit or invalid (%s)", mk_strerror(rc));
    }
    return mk_disc_cmd_submit(n, mk_disc_cmd_new(run_insert, draft_cleanup, dr), timeout_ms, e);
}

static void run_remove(mk_disc_t *d, mk_disc_cmd_t *c) {
    mk_peer_id_t *peer = c->payload;
    const mk_peer_entry_t *gone = mk_store_remove(d->store, peer);
    if (!gone) {
        mk_error_t err;
        MK_ERR(&err, MK_ENOTFOUND, "peer not in the catalog");
        mk_disc_cmd_done(c, MK_ENOTFOUND, &err);
        return;
    }
    mk_disc_peer_gone(d, peer, gone, MK_DEPART_REMOVED);
    mk_peer_entry_unref(gone);
    mk_disc_publish_pending(d);
    mk_disc_cmd_done(c, MK_OK, NULL);
}

static void free_payload(mk_disc_cmd_t *c) {
    free(c->payload);
    c->payload = NULL;
}

int mk_discovery_remove(mk_network_t *n, const mk_peer_id_t *peer, int timeout_ms, mk_error_t *e) {
    NEED_DISC(n, e);
    (void)d;
    if (!peer) return MK_ERR(e, MK_EINVAL, "peer is NULL");
    mk_peer_id_t *p = malloc(sizeof *p);
    if (!p) return MK_ERR(e, MK_ENOMEM, "out of memory");
    *p = *peer;
    return mk_disc_cmd_submit(n, mk_disc_cmd_new(run_remove, free_payload, p), timeout_ms, e);
}

static void on_cleared(void *ctx, const mk_peer_entry_t *gone) {
    mk_disc_t *d = ctx;
    mk_disc_peer_gone(d, mk_peer_entry_id(gone), gone, MK_DEPART_REMOVED);
}

static void run_clear_unsigned(mk_disc_t *d, mk_disc_cmd_t *c) {
    mk_store_clear_unsigned(d->store, on_cleared, d);
    mk_disc_publish_pending(d);
    mk_disc_cmd_done(c, MK_OK, NULL);
}

int mk_discovery_clear_unsigned(mk_network_t *n, int timeout_ms, mk_error_t *e) {
    NEED_DISC(n, e);
    (void)d;
    return mk_disc_cmd_submit(n, mk_disc_cmd_new(run_clear_unsigned, NULL, NULL), timeout_ms, e);
}

/* ---- contact, sync, ping ---- */

static void run_dial(mk_disc_t *d, mk_disc_cmd_t *c) {
    mk_disc_contact_t *ct = c->payload;
    mk_error_t err;
    int rc = mk_announce_contact(d, &ct->addr, &err);
    if (rc == MK_OK) mk_sync_start(d, &ct->addr, NULL, NULL, NULL, NULL);
    mk_disc_cmd_done(c, rc, rc == MK_OK ? NULL : &err);
}

/* A parsed contact address for a command to own: MK_OK, MK_ENOMEM or MK_EINVAL (e names the part). */
static int contact_arg(const char *addr, mk_disc_contact_t **out, mk_error_t *e) {
    mk_disc_contact_t *ct = malloc(sizeof *ct);
    *out = NULL;
    if (!ct) return MK_ERR(e, MK_ENOMEM, "out of memory");
    int rc = mk_disc_contact_parse(addr, ct, e);
    if (rc != MK_OK) {
        free(ct);
        return rc;
    }
    *out = ct;
    return MK_OK;
}

int mk_discovery_dial(mk_network_t *n, const char *addr, mk_error_t *e) {
    NEED_DISC(n, e);
    (void)d;
    mk_disc_contact_t *ct;
    int rc = contact_arg(addr, &ct, e);
    if (rc != MK_OK) return rc;
    return mk_disc_cmd_submit(n, mk_disc_cmd_new(run_dial, free_payload, ct), 0, e);
}

static void sync_done(void *ctx, int rc, const mk_error_t *err) {
    mk_disc_cmd_done(ctx, rc, err);
}

static void run_sync(mk_disc_t *d, mk_disc_cmd_t *c) {
    mk_disc_contact_t *ct = c->payload;
    mk_error_t err;
    /* the loop's reference passes to the session, which releases it through sync_done */
    int rc = mk_sync_start(d, &ct->addr, NULL, sync_done, c, &err);
    if (rc != MK_OK) mk_disc_cmd_done(c, rc, &err);
}

int mk_discovery_sync_with(mk_network_t *n, const char *addr, int timeout_ms, mk_error_t *e) {
    NEED_DISC(n, e);
    (void)d;
    mk_disc_contact_t *ct;
    int rc = contact_arg(addr, &ct, e);
    if (rc != MK_OK) return rc;
    return mk_disc_cmd_submit(n, mk_disc_cmd_new(run_sync, free_payload, ct), timeout_ms, e);
}

static void ping_done(void *ctx, int rc, uint64_t rtt_us, const mk_error_t *err) {
    mk_disc_cmd_t *c = ctx;
    c->u64 = rtt_us;
    mk_disc_cmd_done(c, rc, err);
}

static void run_ping(mk_disc_t *d, mk_disc_cmd_t *c) {
    mk_disc_contact_t *ct = c->payload;
    mk_error_t err;
    if (ct->addr.naddrs == 0) {  /* from the catalog */
        const mk_peer_entry_t *e = mk_store_get(d->store, &ct->addr.peer);
        if (e) mk_peer_entry_peer_addr(e, &ct->addr);
        if (!e || ct->addr.naddrs == 0) {
            MK_ERR(&err, MK_ENOTFOUND, "peer %s has no known address", mk_id_short(&ct->addr.peer, (char[11]){0}));
            mk_disc_cmd_done(c, MK_ENOTFOUND, &err);
            return;
        }
    }
    int rc = mk_ping_start(d, &ct->addr, ping_done, c, &err);
    if (rc != MK_OK) mk_disc_cmd_done(c, rc, &err);
}

int mk_discovery_ping(mk_network_t *n, const mk_peer_id_t *peer, const char *addr, int timeout_ms, uint64_t *rtt_us,
                      mk_error_t *e) {
    NEED_DISC(n, e);
    (void)d;
    if (!peer && !addr) return MK_ERR(e, MK_EINVAL, "peer or addr is required");
    mk_disc_contact_t *ct = calloc(1, sizeof *ct);
    if (!ct) return MK_ERR(e, MK_ENOMEM, "out of memory");
    if (addr) {
        int rc = mk_disc_contact_parse(addr, ct, e);
        if (rc != MK_OK) {
            free(ct);
            return rc;
        }
    }
    if (peer) ct->addr.peer = *peer;
    mk_disc_cmd_t *c = mk_disc_cmd_new(run_ping, free_payload, ct);
    if (!c) return MK_ERR(e, MK_ENOMEM, "out of memory");
    atomic_fetch_add(&c->refs, 1);  /* to read the result after the wait */
    int rc = mk_disc_cmd_submit(n, c, timeout_ms, e);
    if (rc == MK_OK && rtt_us) *rtt_us = c->u64;
    mk_disc_cmd_put(c);
    return rc;
}

/* ---- views ---- */

typedef struct view_arg {
    mk_peer_id_t *out;
    size_t cap, total;
} view_arg_t;

static void run_view(mk_disc_t *d, mk_disc_cmd_t *c) {
    view_arg_t *v = c->payload;
    v->total = mk_announce_active(d, v->out, v->cap);
    mk_disc_cmd_done(c, MK_OK, NULL);
}

static void view_cleanup(mk_disc_cmd_t *c) {
    view_arg_t *v = c->payload;
    if (v) free(v->out);
    free(v);
    c->payload = NULL;
}

size_t mk_discovery_active_view(mk_network_t *n, mk_peer_id_t *out, size_t cap) {
    if (!disc_of(n)) return 0;
    /* a command-owned buffer: a timed-out call never has the loop write into the caller's memory */
    view_arg_t *v = calloc(1, sizeof *v);
    if (!v) return 0;
    v->cap = cap > 256 ? 256 : cap;
    if (v->cap && !(v->out = calloc(v->cap, sizeof *v->out))) {
        free(v);
        return 0;
    }
    mk_disc_cmd_t *c = mk_disc_cmd_new(run_view, view_cleanup, v);
    if (!c) return 0;
    atomic_fetch_add(&c->refs, 1);  /* ours, to read the result */
    size_t total = 0;
    if (mk_disc_cmd_submit(n, c, 5000, NULL) == MK_OK) {
        total = v->total;
        if (out) memcpy(out, v->out, (total < v->cap ? total : v->cap) * sizeof *out);
    }
    mk_disc_cmd_put(c);
    return total;
}

/* ---- loop-thread helpers for the subsystems above ---- */

int mk_disc_ping_peer(mk_network_t *n, const mk_peer_id_t *peer,
                      void (*done)(void *ctx, int rc, uint64_t rtt_us, const mk_error_t *e), void *ctx) {
    mk_disc_t *d = mk_net_subsystem(n, MK_SUBSYS_DISCOVERY);
    if (!d || d->stopping) return MK_ECLOSED;
    const mk_peer_entry_t *e = mk_store_get(d->store, peer);
    mk_peer_addr_t addr;
    memset(&addr, 0, sizeof addr);
    if (e) mk_peer_entry_peer_addr(e, &addr);
    if (!addr.naddrs) return MK_ENOTFOUND;
    return mk_ping_start(d, &addr, done, ctx, NULL);
}

int mk_disc_sync_peer(mk_network_t *n, const mk_peer_id_t *peer, void (*done)(void *ctx, int rc, const mk_error_t *e),
                      void *ctx) {
    mk_disc_t *d = mk_net_subsystem(n, MK_SUBSYS_DISCOVERY);
    if (!d || d->stopping) return MK_ECLOSED;
    return mk_sync_start(d, NULL, peer, done, ctx, NULL);
}
