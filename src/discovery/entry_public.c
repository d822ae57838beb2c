/* discovery/entry_public.c — the public read-only view of peer entries (include/mosaik/discovery.h):
 * accessors, lookups, text forms, and encode/decode with the §1.4 checks 1, 2 and 8. */
#include "discovery/entry.h"

#include "core/error.h"
#include "core/time.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const char *const REJECT_NAMES[MK_REJ_COUNT] = {"malformed", "too_big", "wrong_network", "future",
                                                       "stale", "bad_signature", "full"};

const char *mk_entry_reject_str(mk_entry_reject_t r) {
    return (unsigned)r < MK_REJ_COUNT ? REJECT_NAMES[r] : NULL;
}

int mk_entry_version_cmp(mk_entry_version_t a, mk_entry_version_t b) {
    if (a.start_ms != b.start_ms) return a.start_ms < b.start_ms ? -1 : 1;
    if (a.update_ms != b.update_ms) return a.update_ms < b.update_ms ? -1 : 1;
    return 0;
}

const mk_peer_id_t *mk_peer_entry_id(const mk_peer_entry_t *e) { return &e->peer; }
const mk_network_id_t *mk_peer_entry_network(const mk_peer_entry_t *e) { return &e->network; }
mk_entry_version_t mk_peer_entry_version(const mk_peer_entry_t *e) { return e->version; }
bool mk_peer_entry_is_signed(const mk_peer_entry_t *e) { return e->is_signed; }
const char *mk_peer_entry_agent(const mk_peer_entry_t *e) { return e->agent; }

int64_t mk_peer_entry_uptime_ms(const mk_peer_entry_t *e) {
    int64_t up = mk_unix_ms() - (int64_t)e->version.start_ms;
    return up > 0 ? up : 0;
}

size_t mk_peer_entry_addrs(const mk_peer_entry_t *e, const mk_sock_addr_t **v) {
    if (v) *v = e->addrs;
    return e->n_addrs;
}
size_t mk_peer_entry_tags(const mk_peer_entry_t *e, const mk_id_t **v) {
    if (v) *v = e->tags;
    return e->n_tags;
}
size_t mk_peer_entry_streams(const mk_peer_entry_t *e, const mk_id_t **v) {
    if (v) *v = e->streams;
    return e->n_streams;
}
size_t mk_peer_entry_groups(const mk_peer_entry_t *e, const mk_id_t **v) {
    if (v) *v = e->groups;
    return e->n_groups;
}
size_t mk_peer_entry_tickets(const mk_peer_entry_t *e, const mk_ticket_t **v) {
    if (v) *v = e->tickets;
    return e->n_tickets;
}

size_t mk_peer_entry_tickets_of(const mk_peer_entry_t *e, const mk_id_t *cls, const mk_ticket_t **out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < e->n_tickets; i++) {
        if (!mk_id_eq(&e->tickets[i].cls, cls)) continue;
        if (out && k < cap) out[k] = &e->tickets[i];
        k++;
    }
    return k;
}

static bool in_set(const mk_id_t *v, size_t n, const mk_id_t *id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(v[mid].b, id->b, 32);
        if (c == 0) return true;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

const mk_ticket_t *mk_peer_entry_ticket(const mk_peer_entry_t *e, const mk_id_t *ticket_id) {
    for (size_t i = 0; i < e->n_tickets; i++)
        if (mk_id_eq(&e->ticket_ids[i], ticket_id)) return &e->tickets[i];
    return NULL;
}

bool mk_peer_entry_has_tag(const mk_peer_entry_t *e, const char *name) {
    mk_id_t t = mk_id_from_str(name);
    return in_set(e->tags, e->n_tags, &t);
}
bool mk_peer_entry_has_stream(const mk_peer_entry_t *e, const mk_id_t *id) { return in_set(e->streams, e->n_streams, id); }
bool mk_peer_entry_has_group(const mk_peer_entry_t *e, const mk_id_t *id) { return in_set(e->groups, e->n_groups, id); }

void mk_peer_entry_peer_addr(const mk_peer_entry_t *e, mk_peer_addr_t *out) {
    memset(out, 0, sizeof *out);
    out->peer = e->peer;
    for (size_t i = 0; i < e->n_addrs && out->naddrs < MK_ADDR_MAX; i++)
        if (mk_sock_addr_to_sockaddr(&e->addrs[i], &out->addrs[out->naddrs]) == MK_OK) out->naddrs++;
}

int mk_peer_entry_addr_format(const mk_peer_entry_t *e, char *buf, size_t cap) {
    mk_peer_addr_t a;
    mk_peer_entry_peer_addr(e, &a);
    if (a.naddrs == 0) {
        char hex[MK_ID_HEX_LEN + 1];
        return snprintf(buf, cap, "%s", mk_id_hex(&e->peer, hex));
    }
    return mk_peer_addr_format(&a, buf, cap);
}

int mk_peer_entry_format(const mk_peer_entry_t *e, char *buf, size_t cap) {
    char id[MK_ID_SHORT_LEN + 1], addr[MK_ADDR_STR_MAX];
    mk_peer_entry_addr_format(e, addr, sizeof addr);
    const char *at = strchr(addr, '@');
    return snprintf(buf, cap, "%s %s v=%llu.%llu tags=%zu streams=%zu groups=%zu tickets=%zu%s", mk_id_short(&e->peer, id),
                    at ? at + 1 : "-", (unsigned long long)e->version.start_ms, (unsigned long long)e->version.update_ms,
                    e->n_tags, e->n_streams, e->n_groups, e->n_tickets, e->is_signed ? "" : " unsigned");
}

int mk_peer_entry_encode(const mk_peer_entry_t *e, mk_buf_t *out, mk_error_t *err) {
    if (!e || !out) return MK_ERR(err, MK_EINVAL, "entry and output are required");
    if (!e->is_signed) return MK_ERR(err, MK_EINVAL, "an unsigned entry has no wire form");
    *out = (mk_buf_t)MK_BUF_INIT;
    if (mk_buf_append(out, e->wire, e->wire_len) != MK_OK) return MK_ERR(err, MK_ENOMEM, "out of memory");
    return MK_OK;
}

const mk_peer_entry_t *mk_peer_entry_decode(const mk_network_id_t *network, const void *p, size_t len,
                                            mk_error_t *err) {
    const mk_peer_entry_t *e = NULL;
    if (!p) {
        MK_ERR(err, MK_EINVAL, "input is NULL");
        return NULL;
    }
    if (mk_entry_decode_signed(p, len, &e, NULL, err) != MK_OK) return NULL;
    if (network && !mk_id_eq(&e->network, network)) {
        char a[MK_ID_SHORT_LEN + 1], b[MK_ID_SHORT_LEN + 1];
        MK_ERR(err, MK_EWRONGNET, "entry of network %s, expected %s", mk_id_short(&e->network, a), mk_id_short(network, b));
        mk_peer_entry_unref(e);
        return NULL;
    }
    if (!mk_entry_verify(e)) {
        char a[MK_ID_SHORT_LEN + 1];
        MK_ERR(err, MK_EBADSIG, "signature of the entry of %s does not verify", mk_id_short(&e->peer, a));
        mk_peer_entry_unref(e);
        return NULL;
    }
    return e;
}
