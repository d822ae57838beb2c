/* discovery/entry.c — peer entries: the canonical EntryBody/SignedEntry decoder (spec 20 §1.2) with
 * every limit, signatures over "mosaik/peer-entry/1" ‖ BLAKE3(body), content ids, and refcounting.
 * Drafts (building and sealing entries) are in entry_draft.c, departures in departure.c. */
#include "discovery/entry.h"

#include "core/codec.h"
#include "core/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* ---- refcounting ---- */

static void entry_destroy(mk_peer_entry_t *e) {
    free(e->addrs);
    free(e->tags);
    free(e->streams);
    free(e->groups);
    free(e->tickets);
    free(e->ticket_ids);
    free(e->ext);
    free(e->wire);
    free(e);
}

const mk_peer_entry_t *mk_peer_entry_ref(const mk_peer_entry_t *e) {
    if (e) atomic_fetch_add_explicit(&((mk_peer_entry_t *)(uintptr_t)e)->refs, 1, memory_order_relaxed);
    return e;
}

void mk_peer_entry_unref(const mk_peer_entry_t *e) {
    if (!e) return;
    mk_peer_entry_t *m = (mk_peer_entry_t *)(uintptr_t)e;
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) entry_destroy(m);
}

/* ---- body decoding ---- */

typedef struct limits_err {
    bool too_big;
} limits_err_t;

/* Reads a count and checks it against the limit (too big) and the bytes left (truncated). */
static size_t read_count(mk_dec_t *d, size_t limit, size_t min_elem, const char *what, limits_err_t *le) {
    size_t at = mk_dec_offset(d);
    uint64_t n = mk_dec_uvar(d, 32);
    if (!mk_dec_ok(d)) return 0;
    if (n > limit) {
        le->too_big = true;
        mk_dec_fail(d, "%s: %llu over the limit %zu at %zu", what, (unsigned long long)n, limit, at);
        return 0;
    }
    if (n * min_elem > mk_dec_remaining(d)) {
        mk_dec_fail(d, "%s: %llu items cannot fit in %zu bytes at %zu", what, (unsigned long long)n,
                    mk_dec_remaining(d), at);
        return 0;
    }
    return (size_t)n;
}

static mk_id_t *read_id_set(mk_dec_t *d, size_t limit, const char *what, size_t *count, limits_err_t *le) {
    size_t n = read_count(d, limit, 32, what, le);
    *count = 0;
    if (!mk_dec_ok(d) || n == 0) return NULL;
    mk_id_t *v = malloc(n * sizeof *v);
    if (!v) {
        mk_dec_fail(d, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n && mk_dec_ok(d); i++) {
        size_t at = mk_dec_offset(d);
        mk_dec_id(d, &v[i]);
        if (i && mk_dec_ok(d) && memcmp(v[i - 1].b, v[i].b, 32) >= 0)
            mk_dec_fail(d, "%s: not strictly ascending at %zu", what, at);
    }
    if (!mk_dec_ok(d)) {
        free(v);
        return NULL;
    }
    *count = n;
    return v;
}

static bool addr_equal(const mk_sock_addr_t *a, const mk_sock_addr_t *b) {
    if (a->kind != b->kind) return false;
    if (a->kind == MK_ADDR_IPV4) return a->port == b->port && memcmp(a->ip, b->ip, 4) == 0;
    if (a->kind == MK_ADDR_IPV6) return a->port == b->port && memcmp(a->ip, b->ip, 16) == 0;
    return a->data_len == b->data_len && memcmp(a->data, b->data, a->data_len) == 0;
}

/* Parses an EntryBody (exactly `len` bytes) into e's fields. Returns MK_OK, or MK_EPROTO / MK_E2BIG
 * with e->code set in err and *why. Arrays are malloc'd into e (freed by entry_destroy). */
static int parse_body(mk_peer_entry_t *e, const uint8_t *body, size_t len, mk_entry_reject_t *why, mk_error_t *err) {
    mk_dec_t d;
    limits_err_t le = {false};
    mk_dec_init(&d, body, len);
    uint8_t format = mk_dec_u8(&d);
    if (mk_dec_ok(&d) && format != MK_ENTRY_FORMAT) mk_dec_fail(&d, "unknown entry format %u at 0", format);
    mk_bytes_t agent = mk_dec_str(&d);
    if (mk_dec_ok(&d) && agent.len > MK_ENTRY_MAX_AGENT) {
        le.too_big = true;
        mk_dec_fail(&d, "agent: %zu bytes over the limit %d", agent.len, MK_ENTRY_MAX_AGENT);
    }
    if (mk_dec_ok(&d) && memchr(agent.ptr, 0, agent.len)) mk_dec_fail(&d, "agent: contains a NUL character");
    if (mk_dec_ok(&d)) {
        memcpy(e->agent, agent.ptr, agent.len);
        e->agent[agent.len] = 0;
    }
    mk_dec_id(&d, &e->network);
    mk_dec_id(&d, &e->peer);
    size_t at_start = mk_dec_offset(&d);
    e->version.start_ms = mk_dec_u64(&d);
    e->version.update_ms = mk_dec_u64(&d);
    size_t after_update = mk_dec_offset(&d);
    /* addresses */
    size_t na = read_count(&d, MK_ENTRY_MAX_ADDRS, 2, "addrs", &le);
    if (mk_dec_ok(&d) && na && !(e->addrs = calloc(na, sizeof *e->addrs))) mk_dec_fail(&d, "out of memory");
    for (size_t i = 0; i < na && mk_dec_ok(&d); i++) {
        size_t at = mk_dec_offset(&d);
        mk_sock_addr_t *a = &e->addrs[i];
        a->kind = mk_dec_u32(&d);
        mk_bytes_t data = mk_dec_bytes(&d);
        if (!mk_dec_ok(&d)) break;
        if (data.len > MK_ENTRY_MAX_ADDR_DATA) {
            le.too_big = true;
            mk_dec_fail(&d, "addrs: address data of %zu bytes at %zu", data.len, at);
            break;
        }
        const uint8_t *p = data.ptr;
        if (a->kind == MK_ADDR_IPV4 || a->kind == MK_ADDR_IPV6) {
            size_t iplen = a->kind == MK_ADDR_IPV4 ? 4 : 16;
            if (data.len != iplen + 2) {
                mk_dec_fail(&d, "addrs: kind %u needs %zu bytes, got %zu at %zu", a->kind, iplen + 2, data.len, at);
                break;
            }
            memcpy(a->ip, p, iplen);
            a->port = (uint16_t)(p[iplen] << 8 | p[iplen + 1]);
        } else {
            a->data_len = (uint8_t)data.len;
            memcpy(a->data, p, data.len);
        }
        for (size_t j = 0; j < i; j++)
            if (addr_equal(&e->addrs[j], a)) {
                mk_dec_fail(&d, "addrs: duplicate address at %zu", at);
                break;
            }
        e->n_addrs = i + 1;
    }
    e->tags = read_id_set(&d, MK_ENTRY_MAX_TAGS, "tags", &e->n_tags, &le);
    e->streams = read_id_set(&d, MK_ENTRY_MAX_STREAMS, "streams", &e->n_streams, &le);
    e->groups = read_id_set(&d, MK_ENTRY_MAX_GROUPS, "groups", &e->n_groups, &le);
    /* tickets */
    size_t nt = read_count(&d, MK_ENTRY_MAX_TICKETS, 33, "tickets", &le);
    if (mk_dec_ok(&d) && nt &&
        (!(e->tickets = calloc(nt, sizeof *e->tickets)) || !(e->ticket_ids = calloc(nt, sizeof *e->ticket_ids))))
        mk_dec_fail(&d, "out of memory");
    for (size_t i = 0; i < nt && mk_dec_ok(&d); i++) {
        size_t at = mk_dec_offset(&d);
        mk_ticket_t *t = &e->tickets[i];
        mk_dec_id(&d, &t->cls);
        mk_bytes_t data = mk_dec_bytes(&d);
        if (!mk_dec_ok(&d)) break;
        if (data.len > MK_TICKET_MAX_BYTES) {
            le.too_big = true;
            mk_dec_fail(&d, "tickets: ticket of %zu bytes over the limit %d at %zu", data.len, MK_TICKET_MAX_BYTES, at);
            break;
        }
        t->data = data.ptr;
        t->len = data.len;
        e->ticket_ids[i] = mk_ticket_id(t);
        if (i && memcmp(e->ticket_ids[i - 1].b, e->ticket_ids[i].b, 32) >= 0) {
            mk_dec_fail(&d, "tickets: not strictly ascending by ticket id at %zu", at);
            break;
        }
        e->n_tickets = i + 1;
    }
    /* extensions */
    size_t nx = read_count(&d, MK_ENTRY_MAX_EXT, 2, "ext", &le);
    if (mk_dec_ok(&d) && nx && !(e->ext = calloc(nx, sizeof *e->ext))) mk_dec_fail(&d, "out of memory");
    for (size_t i = 0; i < nx && mk_dec_ok(&d); i++) {
        size_t at = mk_dec_offset(&d);
        mk_entry_ext_t *x = &e->ext[i];
        x->key = mk_dec_u64(&d);
        mk_bytes_t v = mk_dec_bytes(&d);
        if (!mk_dec_ok(&d)) break;
        if (v.len > MK_ENTRY_MAX_EXT_VALUE) {
            le.too_big = true;
            mk_dec_fail(&d, "ext: value of %zu bytes over the limit %d at %zu", v.len, MK_ENTRY_MAX_EXT_VALUE, at);
            break;
        }
        if (i && e->ext[i - 1].key >= x->key) {
            mk_dec_fail(&d, "ext: keys not strictly ascending at %zu", at);
            break;
        }
        x->value = v.ptr;
        x->len = v.len;
        e->n_ext = i + 1;
    }
    int rc = mk_dec_finish(&d);
    if (rc != MK_OK) {
        *why = le.too_big ? MK_REJ_TOO_BIG : MK_REJ_MALFORMED;
        return MK_ERR(err, le.too_big ? MK_E2BIG : MK_EPROTO, "entry body: %s", d.what);
    }
    mk_bytes_t parts[2] = {{body, at_start}, {body + after_update, len - after_update}};
    e->content_id = mk_id_from_parts(parts, 2);
    return MK_OK;
}

/* Builds an entry around `wire` (taken over: freed on failure too). signed_form: wire is a
 * SignedEntry; else wire is a bare EntryBody (unsigned entry). */
int mk_entry_from_wire(uint8_t *wire, size_t len, bool signed_form, const mk_peer_entry_t **out,
                       mk_entry_reject_t *why, mk_error_t *err) {
    mk_entry_reject_t dummy;
    if (!why) why = &dummy;
    *out = NULL;
    mk_peer_entry_t *e = calloc(1, sizeof *e);
    if (!e) {
        free(wire);
        *why = MK_REJ_MALFORMED;
        return MK_ERR(err, MK_ENOMEM, "out of memory");
    }
    atomic_init(&e->refs, 1);
    e->wire = wire;
    e->wire_len = len;
    e->is_signed = signed_form;
    if (signed_form) {
        mk_dec_t d;
        mk_dec_init(&d, wire, len);
        mk_bytes_t body = mk_dec_bytes(&d);
        mk_dec_raw_view(&d, 64);
        if (mk_dec_finish(&d) != MK_OK) {
            *why = MK_REJ_MALFORMED;
            int rc = MK_ERR(err, MK_EPROTO, "signed entry: %s", d.what);
            entry_destroy(e);
            return rc;
        }
        e->body_off = (size_t)((const uint8_t *)body.ptr - wire);
        e->body_len = body.len;
    } else {
        e->body_off = 0;
        e->body_len = len;
    }
    int rc = parse_body(e, wire + e->body_off, e->body_len, why, err);
    if (rc != MK_OK) {
        entry_destroy(e);
        return rc;
    }
    *out = e;
    return MK_OK;
}

int mk_entry_decode_signed(const void *p, size_t len, const mk_peer_entry_t **out, mk_entry_reject_t *why,
                           mk_error_t *e) {
    mk_entry_reject_t dummy;
    if (!why) why = &dummy;
    *out = NULL;
    if (len > MK_ENTRY_MAX_BYTES) {
        *why = MK_REJ_TOO_BIG;
        return MK_ERR(e, MK_E2BIG, "signed entry of %zu bytes exceeds %d", len, MK_ENTRY_MAX_BYTES);
    }
    if (len == 0) {
        *why = MK_REJ_MALFORMED;
        return MK_ERR(e, MK_EPROTO, "empty signed entry");
    }
    uint8_t *copy = malloc(len);
    if (!copy) {
        *why = MK_REJ_MALFORMED;
        return MK_ERR(e, MK_ENOMEM, "out of memory");
    }
    memcpy(copy, p, len);
    return mk_entry_from_wire(copy, len, true, out, why, e);
}

/* "mosaik/peer-entry/1" ‖ BLAKE3(body) */
static void sig_message(const uint8_t *body, size_t len, uint8_t msg[sizeof MK_ENTRY_SIG_DOMAIN - 1 + 32]) {
    memcpy(msg, MK_ENTRY_SIG_DOMAIN, sizeof MK_ENTRY_SIG_DOMAIN - 1);
    mk_id_t h = mk_id_hash(body, len);
    memcpy(msg + sizeof MK_ENTRY_SIG_DOMAIN - 1, h.b, 32);
}

bool mk_entry_verify(const mk_peer_entry_t *e) {
    if (!e || !e->is_signed || e->wire_len < 64) return false;
    mk_peer_entry_t *m = (mk_peer_entry_t *)(uintptr_t)e;
    uint8_t st = atomic_load_explicit(&m->sig_state, memory_order_acquire);
    if (st) return st == 1;
    uint8_t msg[sizeof MK_ENTRY_SIG_DOMAIN - 1 + 32];
    sig_message(e->wire + e->body_off, e->body_len, msg);
    bool ok = mk_ed25519_verify(&e->peer, msg, sizeof msg, e->wire + e->wire_len - 64) == MK_OK;
    atomic_store_explicit(&m->sig_state, ok ? 1 : 2, memory_order_release);
    return ok;
}

int mk_entry_sign_body(const uint8_t *body, size_t len, const mk_secret_key_t *sk, uint8_t sig[64]) {
    uint8_t msg[sizeof MK_ENTRY_SIG_DOMAIN - 1 + 32];
    sig_message(body, len, msg);
    return mk_ed25519_sign(sk, msg, sizeof msg, sig);
}

bool mk_entry_same_content(const mk_peer_entry_t *a, const mk_peer_entry_t *b) {
    return a && b && mk_id_eq(&a->content_id, &b->content_id) && mk_id_eq(&a->peer, &b->peer);
}

/* ---- addresses ---- */

int mk_sock_addr_from_sockaddr(const struct sockaddr_storage *ss, mk_sock_addr_t *out) {
    memset(out, 0, sizeof *out);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        out->kind = MK_ADDR_IPV4;
        memcpy(out->ip, &s4->sin_addr, 4);
        out->port = ntohs(s4->sin_port);
        return MK_OK;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        out->kind = MK_ADDR_IPV6;
        memcpy(out->ip, &s6->sin6_addr, 16);
        out->port = ntohs(s6->sin6_port);
        return MK_OK;
    }
    return MK_EINVAL;
}

int mk_sock_addr_to_sockaddr(const mk_sock_addr_t *a, struct sockaddr_storage *out) {
    memset(out, 0, sizeof *out);
    if (a->kind == MK_ADDR_IPV4) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)out;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, a->ip, 4);
        s4->sin_port = htons(a->port);
        return MK_OK;
    }
    if (a->kind == MK_ADDR_IPV6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, a->ip, 16);
        s6->sin6_port = htons(a->port);
        return MK_OK;
    }
    return MK_EINVAL;
}
