/* discovery/entry_draft.c — drafts: mutable copies of an entry's content kept in canonical order, and
 * sealing them into (signed or unsigned) entries with the canonical EntryBody encoding. */
#include "discovery/entry.h"

#include "core/codec.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mk_entry_draft_init(mk_entry_draft_t *d, const mk_network_id_t *network, const mk_peer_id_t *peer) {
    memset(d, 0, sizeof *d);
    d->network = *network;
    d->peer = *peer;
    snprintf(d->agent, sizeof d->agent, "%s", MK_AGENT_STRING);
}

void mk_entry_draft_free(mk_entry_draft_t *d) {
    for (size_t i = 0; i < d->n_tickets; i++) free((void *)(uintptr_t)d->tickets[i].data);
    for (size_t i = 0; i < d->n_ext; i++) free((void *)(uintptr_t)d->ext[i].value);
    d->n_tickets = d->n_ext = 0;
}

int mk_entry_draft_from(mk_entry_draft_t *d, const mk_peer_entry_t *e) {
    mk_entry_draft_init(d, &e->network, &e->peer);
    memcpy(d->agent, e->agent, sizeof d->agent);
    d->version = e->version;
    d->n_addrs = e->n_addrs;
    if (e->n_addrs) memcpy(d->addrs, e->addrs, e->n_addrs * sizeof *e->addrs);
    d->n_tags = e->n_tags;
    if (e->n_tags) memcpy(d->tags, e->tags, e->n_tags * sizeof(mk_id_t));
    d->n_streams = e->n_streams;
    if (e->n_streams) memcpy(d->streams, e->streams, e->n_streams * sizeof(mk_id_t));
    d->n_groups = e->n_groups;
    if (e->n_groups) memcpy(d->groups, e->groups, e->n_groups * sizeof(mk_id_t));
    for (size_t i = 0; i < e->n_tickets; i++) {
        uint8_t *copy = malloc(e->tickets[i].len ? e->tickets[i].len : 1);
        if (!copy) {
            mk_entry_draft_free(d);
            return MK_ENOMEM;
        }
        memcpy(copy, e->tickets[i].data, e->tickets[i].len);
        d->tickets[i] = (mk_ticket_t){e->tickets[i].cls, copy, e->tickets[i].len};
        d->ticket_ids[i] = e->ticket_ids[i];
        d->n_tickets = i + 1;
    }
    for (size_t i = 0; i < e->n_ext; i++) {
        uint8_t *copy = malloc(e->ext[i].len ? e->ext[i].len : 1);
        if (!copy) {
            mk_entry_draft_free(d);
            return MK_ENOMEM;
        }
        memcpy(copy, e->ext[i].value, e->ext[i].len);
        d->ext[i] = (mk_entry_ext_t){e->ext[i].key, copy, e->ext[i].len};
        d->n_ext = i + 1;
    }
    return MK_OK;
}

/* ---- sorted id sets ---- */

static size_t lower_bound(const mk_id_t *v, size_t n, const mk_id_t *id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (memcmp(v[mid].b, id->b, 32) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int set_add(mk_id_t *v, size_t *n, size_t limit, const mk_id_t *id) {
    size_t i = lower_bound(v, *n, id);
    if (i < *n && mk_id_eq(&v[i], id)) return MK_EALREADY;
    if (*n >= limit) return MK_E2BIG;
    memmove(&v[i + 1], &v[i], (*n - i) * sizeof *v);
    v[i] = *id;
    (*n)++;
    return MK_OK;
}

static int set_remove(mk_id_t *v, size_t *n, const mk_id_t *id) {
    size_t i = lower_bound(v, *n, id);
    if (i >= *n || !mk_id_eq(&v[i], id)) return MK_ENOTFOUND;
    memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof *v);
    (*n)--;
    return MK_OK;
}

int mk_entry_draft_add_tag(mk_entry_draft_t *d, const mk_id_t *t) { return set_add(d->tags, &d->n_tags, MK_ENTRY_MAX_TAGS, t); }
int mk_entry_draft_remove_tag(mk_entry_draft_t *d, const mk_id_t *t) { return set_remove(d->tags, &d->n_tags, t); }
int mk_entry_draft_add_stream(mk_entry_draft_t *d, const mk_id_t *id) {
    return set_add(d->streams, &d->n_streams, MK_ENTRY_MAX_STREAMS, id);
}
int mk_entry_draft_remove_stream(mk_entry_draft_t *d, const mk_id_t *id) { return set_remove(d->streams, &d->n_streams, id); }
int mk_entry_draft_add_group(mk_entry_draft_t *d, const mk_id_t *id) {
    return set_add(d->groups, &d->n_groups, MK_ENTRY_MAX_GROUPS, id);
}
int mk_entry_draft_remove_group(mk_entry_draft_t *d, const mk_id_t *id) { return set_remove(d->groups, &d->n_groups, id); }

int mk_entry_draft_add_ticket(mk_entry_draft_t *d, const mk_ticket_t *t) {
    if (t->len > MK_TICKET_MAX_BYTES) return MK_E2BIG;
    mk_id_t id = mk_ticket_id(t);
    size_t i = lower_bound(d->ticket_ids, d->n_tickets, &id);
    if (i < d->n_tickets && mk_id_eq(&d->ticket_ids[i], &id)) return MK_EALREADY;
    if (d->n_tickets >= MK_ENTRY_MAX_TICKETS) return MK_E2BIG;
    uint8_t *copy = malloc(t->len ? t->len : 1);
    if (!copy) return MK_ENOMEM;
    if (t->len) memcpy(copy, t->data, t->len);
    memmove(&d->tickets[i + 1], &d->tickets[i], (d->n_tickets - i) * sizeof *d->tickets);
    memmove(&d->ticket_ids[i + 1], &d->ticket_ids[i], (d->n_tickets - i) * sizeof *d->ticket_ids);
    d->tickets[i] = (mk_ticket_t){t->cls, copy, t->len};
    d->ticket_ids[i] = id;
    d->n_tickets++;
    return MK_OK;
}

static void ticket_remove_at(mk_entry_draft_t *d, size_t i) {
    free((void *)(uintptr_t)d->tickets[i].data);
    memmove(&d->tickets[i], &d->tickets[i + 1], (d->n_tickets - i - 1) * sizeof *d->tickets);
    memmove(&d->ticket_ids[i], &d->ticket_ids[i + 1], (d->n_tickets - i - 1) * sizeof *d->ticket_ids);
    d->n_tickets--;
}

int mk_entry_draft_remove_ticket(mk_entry_draft_t *d, const mk_id_t *ticket_id) {
    size_t i = lower_bound(d->ticket_ids, d->n_tickets, ticket_id);
    if (i >= d->n_tickets || !mk_id_eq(&d->ticket_ids[i], ticket_id)) return MK_ENOTFOUND;
    ticket_remove_at(d, i);
    return MK_OK;
}

size_t mk_entry_draft_remove_tickets_of(mk_entry_draft_t *d, const mk_id_t *cls) {
    size_t removed = 0;
    for (size_t i = 0; i < d->n_tickets;) {
        if (mk_id_eq(&d->tickets[i].cls, cls)) {
            ticket_remove_at(d, i);
            removed++;
        } else {
            i++;
        }
    }
    return removed;
}

static bool same_addr(const mk_sock_addr_t *a, const mk_sock_addr_t *b) {
    if (a->kind != b->kind) return false;
    if (a->kind == MK_ADDR_IPV4) return a->port == b->port && memcmp(a->ip, b->ip, 4) == 0;
    if (a->kind == MK_ADDR_IPV6) return a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
    return a->data_len == b->data_len && memcmp(a->data, b->data, a->data_len) == 0;
}

int mk_entry_draft_set_addrs(mk_entry_draft_t *d, const mk_sock_addr_t *addrs, size_t n) {
    mk_sock_addr_t out[MK_ENTRY_MAX_ADDRS];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++) dup = same_addr(&out[j], &addrs[i]);
        if (dup) continue;
        if (k == MK_ENTRY_MAX_ADDRS) return MK_E2BIG;
        out[k++] = addrs[i];
    }
    memcpy(d->addrs, out, k * sizeof *out);
    d->n_addrs = k;
    return MK_OK;
}

/* ---- sealing ---- */

static void encode_body(const mk_entry_draft_t *d, mk_enc_t *enc) {
    mk_enc_u8(enc, MK_ENTRY_FORMAT);
    mk_enc_str(enc, d->agent);
    mk_enc_id(enc, &d->network);
    mk_enc_id(enc, &d->peer);
    mk_enc_u64(enc, d->version.start_ms);
    mk_enc_u64(enc, d->version.update_ms);
    mk_enc_count(enc, d->n_addrs);
    for (size_t i = 0; i < d->n_addrs; i++) {
        const mk_sock_addr_t *a = &d->addrs[i];
        mk_enc_u32(enc, a->kind);
        if (a->kind == MK_ADDR_IPV4 || a->kind == MK_ADDR_IPV6) {
            uint8_t buf[18];
            size_t iplen = a->kind == MK_ADDR_IPV4 ? 4 : 16;
            memcpy(buf, a->ip, iplen);
            buf[iplen] = (uint8_t)(a->port >> 8);
            buf[iplen + 1] = (uint8_t)a->port;
            mk_enc_bytes(enc, buf, iplen + 2);
        } else {
            mk_enc_bytes(enc, a->data, a->data_len);
        }
    }
    mk_enc_count(enc, d->n_tags);
    for (size_t i = 0; i < d->n_tags; i++) mk_enc_id(enc, &d->tags[i]);
    mk_enc_count(enc, d->n_streams);
    for (size_t i = 0; i < d->n_streams; i++) mk_enc_id(enc, &d->streams[i]);
    mk_enc_count(enc, d->n_groups);
    for (size_t i = 0; i < d->n_groups; i++) mk_enc_id(enc, &d->groups[i]);
    mk_enc_count(enc, d->n_tickets);
    for (size_t i = 0; i < d->n_tickets; i++) {
        mk_enc_id(enc, &d->tickets[i].cls);
        mk_enc_bytes(enc, d->tickets[i].data, d->tickets[i].len);
    }
    mk_enc_count(enc, d->n_ext);
    for (size_t i = 0; i < d->n_ext; i++) {
        mk_enc_u64(enc, d->ext[i].key);
        mk_enc_bytes(enc, d->ext[i].value, d->ext[i].len);
    }
}

int mk_entry_draft_seal(const mk_entry_draft_t *d, const mk_secret_key_t *sk, const mk_peer_entry_t **out,
                        mk_error_t *e) {
    *out = NULL;
    if (sk) {
        mk_peer_id_t pub = mk_secret_key_public(sk);
        if (!mk_id_eq(&pub, &d->peer)) return MK_ERR(e, MK_EINVAL, "the key does not belong to the entry's peer");
    }
    mk_enc_t enc;
    mk_enc_init(&enc, MK_ENTRY_MAX_BYTES);
    encode_body(d, &enc);
    mk_buf_t body = MK_BUF_INIT;
    int rc = mk_enc_finish(&enc, &body);
    if (rc != MK_OK)
        return MK_ERR(e, rc == MK_E2BIG ? MK_E2BIG : rc, "entry encoding: %s",
                      rc == MK_E2BIG ? "over 64 KiB" : mk_strerror(rc));
    if (!sk) return mk_entry_from_wire(body.ptr, body.len, false, out, NULL, e);
    uint8_t sig[64];
    if (mk_entry_sign_body(body.ptr, body.len, sk, sig) != MK_OK) {
        mk_buf_free(&body);
        return MK_ERR(e, MK_EIO, "signing failed");
    }
    mk_enc_t w;
    mk_enc_init(&w, MK_ENTRY_MAX_BYTES);
    mk_enc_bytes(&w, body.ptr, body.len);
    mk_enc_raw(&w, sig, 64);
    mk_buf_free(&body);
    mk_buf_t wire = MK_BUF_INIT;
    if ((rc = mk_enc_finish(&w, &wire)) != MK_OK)
        return MK_ERR(e, MK_E2BIG, "signed entry would exceed %d bytes", MK_ENTRY_MAX_BYTES);
    rc = mk_entry_from_wire(wire.ptr, wire.len, true, out, NULL, e);
    if (rc == MK_OK)  /* signed just now with the peer's own key */
        atomic_store_explicit(&((mk_peer_entry_t *)(uintptr_t)*out)->sig_state, 1, memory_order_release);
    return rc;
}
