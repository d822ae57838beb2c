/* groups/sync_wire.c — state-sync messages and the snapshot header on the wire (see sync_wire.h): strict
 * decoders that name the failing field, encoders that check the same rules first, and the store-backed
 * FetchEntriesResponse encoder that cuts at entry boundaries. */
#include "groups/sync_wire.h"

#include "core/codec.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_ERR_NAME "sync message"
#define HDR_ERR_NAME "snapshot header"
/* The fewest bytes an element can take: entry {term ≥ 1, kind 1, body length}, item {length}, voter
 * {id 32, incarnation ≥ 1 byte}. Counts are checked against them and the bytes left before allocating. */
#define ENTRY_MIN_BYTES 3u
#define ITEM_MIN_BYTES 1u
#define VOTER_MIN_BYTES 33u
#define RAFT_BODY_PREFIX "raft entry: "

static const char *const MSG_NAMES[MK_GSYNC_MSG_KINDS] = {
    "AvailabilityRequest", "AvailabilityResponse", "FetchEntriesRequest", "FetchEntriesResponse",
    "RequestSnapshot",     "SnapshotReady",        "FetchDataRequest",    "FetchDataResponse",
};

const char *mk_gsync_msg_kind_name(mk_gsync_msg_kind_t kind) {
    return (unsigned)kind < MK_GSYNC_MSG_KINDS ? MSG_NAMES[kind] : "?";
}

/* ---- reading: the codec's decoder plus the path of the field being read ---------------------------- */

/* The failing field is "msg.arr[idx].name" (absent parts left out), formatted at the first error. */
#include "groups/wire_rd.h"

/* A snapshot anchor: index ≥ 1 and term ≥ 1 (a snapshot sits after a SNAPSHOT_MARKER entry). */
static mk_cursor_t r_anchor(rd_t *r) {
    const uint8_t *at = r->d.p;
    mk_cursor_t c;
    c.term = r_u64(r, "anchor.term");
    c.index = r_u64(r, "anchor.index");
    if (mk_dec_ok(&r->d) && (c.index == 0 || c.term == 0))
        r_fail_at(r, at, "anchor", "anchor (%llu, %llu) not after an entry", (unsigned long long)c.term,
                  (unsigned long long)c.index);
    return c;
}

/* Strips "raft entry: " and the trailing " at N" from a body decoder's message; returns N (0 if none). */
static size_t body_cause(const char *msg, char *cause, size_t cap) {
    if (strncmp(msg, RAFT_BODY_PREFIX, sizeof RAFT_BODY_PREFIX - 1) == 0) msg += sizeof RAFT_BODY_PREFIX - 1;
    snprintf(cause, cap, "%s", msg);
    char *at = strstr(cause, " at ");
    char *next;
    while (at && (next = strstr(at + 4, " at ")) != NULL) at = next;
    size_t off = 0;
    if (at) {
        char *end;
        unsigned long long v = strtoull(at + 4, &end, 10);
        if (*end == 0 && end != at + 4) {
            off = (size_t)v;
            *at = 0;
        }
    }
    return off;
}

/* ---- snapshot header ---------------------------------------------------------------------------------- */

static void dec_header(rd_t *r, mk_gsync_snap_header_t *h) {
    r_id(r, "origin", &h->origin);
    const uint8_t *at = r->d.p;
    h->config_index = r_u64(r, "config_index");
    if (mk_dec_ok(&r->d) && h->config_index == 0) r_fail_at(r, at, "config_index", "config index 0");
    size_t n = r_count(r, "voters", VOTER_MIN_BYTES, MK_RAFT_MAX_VOTERS);
    if (mk_dec_ok(&r->d) && n == 0) r_fail(r, "voters", "no voters");
    const char *saved = r->arr;
    r->arr = "voters";
    for (size_t i = 0; i < n && mk_dec_ok(&r->d); i++) {
        r->idx = i;
        mk_raft_voter_t *v = &h->voters[i];
        const uint8_t *peer_at = r->d.p;
        r_id(r, "peer", &v->peer);
        v->incarnation = r_u64(r, "incarnation");
        if (mk_dec_ok(&r->d) && i > 0) {
            int c = memcmp(h->voters[i - 1].peer.b, v->peer.b, sizeof v->peer.b);
            if (c == 0) r_fail_at(r, peer_at, "peer", "duplicate voter");
            else if (c > 0) r_fail_at(r, peer_at, "peer", "voters not sorted by PeerId");
        }
    }
    r->arr = saved;
    h->nvoters = mk_dec_ok(&r->d) ? n : 0;
    h->has_commands = r_bool(r, "has_commands");
    h->sessions = r_bytes(r, "sessions");
}

int mk_gsync_snap_header_decode(const void *p, size_t n, mk_gsync_snap_header_t *out, mk_error_t *e) {
    mk_gsync_snap_header_t tmp;
    mk_gsync_snap_header_t *h = out ? out : &tmp;
    memset(h, 0, sizeof *h);
    rd_t r;
    rd_init(&r, p, n, NULL);
    dec_header(&r, h);
    mk_dec_finish(&r.d);
    rd_note(&r, NULL);
    if (r.d.err == MK_OK) return MK_OK;
    memset(h, 0, sizeof *h);
    return mk_err_set(e, r.d.err, HDR_ERR_NAME, "%s: %s", r.field, r.d.what);
}

/* ---- encoding ---------------------------------------------------------------------------------------- */


static int check_header(const mk_gsync_snap_header_t *h, mk_error_t *e) {
    if (h->config_index == 0) return mk_err_set(e, MK_EINVAL, HDR_ERR_NAME, "config_index: config index 0");
    size_t n = h->nvoters;
    if (n == 0) return mk_err_set(e, MK_EINVAL, HDR_ERR_NAME, "voters: no voters");
    if (n > MK_RAFT_MAX_VOTERS)
        return mk_err_set(e, MK_EINVAL, HDR_ERR_NAME, "voters: %zu voters > %u", n, MK_RAFT_MAX_VOTERS);
    for (size_t i = 1; i < n; i++) {
        int c = memcmp(h->voters[i - 1].peer.b, h->voters[i].peer.b, sizeof(mk_id_t));
        if (c >= 0)
            return mk_err_set(e, MK_EINVAL, HDR_ERR_NAME, "voters[%zu].peer: %s", i,
                              c == 0 ? "duplicate voter" : "voters not sorted by PeerId");
    }
    if (!bytes_ok(h->sessions.ptr, h->sessions.len))
        return mk_err_set(e, MK_EINVAL, HDR_ERR_NAME, "sessions: NULL with length %zu", h->sessions.len);
    return MK_OK;
}

int mk_gsync_snap_header_encode(const mk_gsync_snap_header_t *h, mk_buf_t *out, mk_error_t *e) {
    int rc = check_header(h, e);
    if (rc != MK_OK) return rc;
    size_t start = out->len;
    mk_enc_t w;
    enc_begin(&w, out);
    mk_enc_id(&w, &h->origin);
    mk_enc_u64(&w, h->config_index);
    mk_enc_count(&w, h->nvoters);
    for (size_t i = 0; i < h->nvoters; i++) {
        mk_enc_id(&w, &h->voters[i].peer);
        mk_enc_u64(&w, h->voters[i].incarnation);
    }
    mk_enc_bool(&w, h->has_commands);
    mk_enc_bytes(&w, h->sessions.ptr, h->sessions.len);
    return enc_end(&w, out, start, e, HDR_ERR_NAME);
}

/* ---- messages: checks shared by the encoder ---------------------------------------------------------- */

/* MK_EINVAL with "sync message: <Message>.<cause>", the cause starting with the field. */
static int einval(mk_error_t *e, mk_gsync_msg_kind_t kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int einval(mk_error_t *e, mk_gsync_msg_kind_t kind, const char *fmt, ...) {
    char cause[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cause, sizeof cause, fmt, ap);
    va_end(ap);
    return mk_err_set(e, MK_EINVAL, MSG_ERR_NAME, "%s.%s", mk_gsync_msg_kind_name(kind), cause);
}

static int check_anchor(mk_cursor_t c, mk_gsync_msg_kind_t k, mk_error_t *e) {
    if (c.index == 0 || c.term == 0)
        return einval(e, k, "anchor: anchor (%llu, %llu) not after an entry", (unsigned long long)c.term,
                      (unsigned long long)c.index);
    return MK_OK;
}

static int check_entries(const mk_gsync_msg_t *m, mk_error_t *e) {
    const mk_gsync_msg_kind_t k = MK_GSYNC_FETCH_RESP;
    mk_index_t first = m->fetch_resp.first;
    mk_term_t prev = m->fetch_resp.prev_term;
    size_t n = m->fetch_resp.nentries;
    if (first == 0) return einval(e, k, "first: index 0");
    if (n > MK_GSYNC_MAX_ENTRIES) return einval(e, k, "entries: %zu > cap %u", n, MK_GSYNC_MAX_ENTRIES);
    if (n == 0) {
        if (prev != 0) return einval(e, k, "prev_term: %llu in a gone response", (unsigned long long)prev);
        return MK_OK;
    }
    if (!m->fetch_resp.entries) return einval(e, k, "entries: NULL with count %zu", n);
    if ((first == 1) != (prev == 0))
        return einval(e, k, "prev_term: %llu before index %llu", (unsigned long long)prev, (unsigned long long)first);
    if (n - 1 > UINT64_MAX - first) return einval(e, k, "entries: index overflow");
    mk_term_t floor = prev ? prev : 1;
    for (size_t i = 0; i < n; i++) {
        const mk_log_entry_t *en = &m->fetch_resp.entries[i];
        if (en->index != first + i)
            return einval(e, k, "entries[%zu].index: %llu, not first + %zu", i, (unsigned long long)en->index, i);
        if (en->term < floor)
            return einval(e, k, "entries[%zu].term: %llu below %llu", i, (unsigned long long)en->term,
                          (unsigned long long)floor);
        floor = en->term;
        if (en->kind > MK_ENTRY_SNAPSHOT_MARKER) return einval(e, k, "entries[%zu].kind: %u > 3", i, en->kind);
        if (!bytes_ok(en->body, en->len)) return einval(e, k, "entries[%zu].body: NULL with length %zu", i, en->len);
        mk_error_t be;
        if (mk_raft_body_decode(en->kind, en->body, en->len, NULL, &be) != MK_OK) {
            char cause[sizeof be.msg];
            body_cause(be.msg, cause, sizeof cause);
            return einval(e, k, "entries[%zu].body: %s", i, cause);
        }
    }
    return MK_OK;
}

static int check_msg(const mk_gsync_msg_t *m, mk_error_t *e) {
    mk_gsync_msg_kind_t k = m->kind;
    switch (k) {
    case MK_GSYNC_AVAIL_REQ:
    case MK_GSYNC_REQ_SNAPSHOT: return MK_OK;
    case MK_GSYNC_AVAIL_RESP:
        if (m->avail_resp.first == 0 || m->avail_resp.first - 1 > m->avail_resp.last)
            return einval(e, k, "first: bad range [%llu, %llu]", (unsigned long long)m->avail_resp.first,
                          (unsigned long long)m->avail_resp.last);
        return MK_OK;
    case MK_GSYNC_FETCH_REQ:
        if (m->fetch_req.first == 0 || m->fetch_req.first > m->fetch_req.last)
            return einval(e, k, "first: empty range [%llu, %llu]", (unsigned long long)m->fetch_req.first,
                          (unsigned long long)m->fetch_req.last);
        return MK_OK;
    case MK_GSYNC_FETCH_RESP: return check_entries(m, e);
    case MK_GSYNC_SNAPSHOT_READY: {
        int rc = check_anchor(m->snapshot_ready.anchor, k, e);
        if (rc != MK_OK) return rc;
        mk_bytes_t hb = m->snapshot_ready.header;
        if (!bytes_ok(hb.ptr, hb.len)) return einval(e, k, "header: NULL with length %zu", hb.len);
        mk_gsync_snap_header_t h;
        mk_error_t he;
        if (mk_gsync_snap_header_decode(hb.ptr, hb.len, &h, &he) != MK_OK) {
            const char *cause = he.msg;
            if (strncmp(cause, HDR_ERR_NAME ": ", sizeof HDR_ERR_NAME + 1) == 0) cause += sizeof HDR_ERR_NAME + 1;
            return einval(e, k, "header: %s", cause);
        }
        if (h.config_index > m->snapshot_ready.anchor.index)
            return einval(e, k, "header.config_index: %llu above the anchor %llu", (unsigned long long)h.config_index,
                          (unsigned long long)m->snapshot_ready.anchor.index);
        return MK_OK;
    }
    case MK_GSYNC_FETCH_DATA_REQ: {
        int rc = check_anchor(m->fetch_data_req.anchor, k, e);
        if (rc != MK_OK) return rc;
        if (m->fetch_data_req.from >= m->fetch_data_req.to)
            return einval(e, k, "from: empty range [%llu, %llu)", (unsigned long long)m->fetch_data_req.from,
                          (unsigned long long)m->fetch_data_req.to);
        return MK_OK;
    }
    case MK_GSYNC_FETCH_DATA_RESP: {
        int rc = check_anchor(m->fetch_data_resp.anchor, k, e);
        if (rc != MK_OK) return rc;
        size_t n = m->fetch_data_resp.nitems;
        if (n > MK_GSYNC_MAX_ITEMS) return einval(e, k, "items: %zu > cap %u", n, MK_GSYNC_MAX_ITEMS);
        if (m->fetch_data_resp.gone && n) return einval(e, k, "gone: with %zu items", n);
        if (!m->fetch_data_resp.gone && !n) return einval(e, k, "items: none and not gone");
        if (n && n - 1 > UINT64_MAX - m->fetch_data_resp.from) return einval(e, k, "items: item number overflow");
        if (n && !m->fetch_data_resp.items) return einval(e, k, "items: NULL with count %zu", n);
        for (size_t i = 0; i < n; i++)
            if (!bytes_ok(m->fetch_data_resp.items[i].ptr, m->fetch_data_resp.items[i].len))
                return einval(e, k, "items[%zu]: NULL with length %zu", i, m->fetch_data_resp.items[i].len);
        return MK_OK;
    }
    }
    return mk_err_set(e, MK_EINVAL, MSG_ERR_NAME, "kind: %u > 7", (unsigned)k);
}

static void enc_cursor(mk_enc_t *w, mk_cursor_t c) {
    mk_enc_u64(w, c.term);
    mk_enc_u64(w, c.index);
}

int mk_gsync_msg_encode(const mk_gsync_msg_t *m, mk_buf_t *out, mk_error_t *e) {
    int rc = check_msg(m, e);
    if (rc != MK_OK) return rc;
    size_t start = out->len;
    mk_enc_t w;
    enc_begin(&w, out);
    mk_enc_tag(&w, (uint32_t)m->kind);
    switch (m->kind) {
    case MK_GSYNC_AVAIL_REQ: mk_enc_u64(&w, m->avail_req.sid); break;
    case MK_GSYNC_AVAIL_RESP:
        mk_enc_u64(&w, m->avail_resp.sid);
        mk_enc_u64(&w, m->avail_resp.first);
        mk_enc_u64(&w, m->avail_resp.last);
        break;
    case MK_GSYNC_FETCH_REQ:
        mk_enc_u64(&w, m->fetch_req.sid);
        mk_enc_u64(&w, m->fetch_req.first);
        mk_enc_u64(&w, m->fetch_req.last);
        break;
    case MK_GSYNC_FETCH_RESP:
        mk_enc_u64(&w, m->fetch_resp.sid);
        mk_enc_u64(&w, m->fetch_resp.first);
        mk_enc_u64(&w, m->fetch_resp.prev_term);
        mk_enc_count(&w, m->fetch_resp.nentries);
        for (size_t i = 0; i < m->fetch_resp.nentries; i++) {
            const mk_log_entry_t *en = &m->fetch_resp.entries[i];
            mk_enc_u64(&w, en->term);
            mk_enc_u8(&w, en->kind);
            mk_enc_bytes(&w, en->body, en->len);
        }
        break;
    case MK_GSYNC_REQ_SNAPSHOT: mk_enc_u64(&w, m->req_snapshot.req_id); break;
    case MK_GSYNC_SNAPSHOT_READY:
        mk_enc_u64(&w, m->snapshot_ready.req_id);
        enc_cursor(&w, m->snapshot_ready.anchor);
        mk_enc_u64(&w, m->snapshot_ready.item_count);
        mk_enc_bytes(&w, m->snapshot_ready.header.ptr, m->snapshot_ready.header.len);
        break;
    case MK_GSYNC_FETCH_DATA_REQ:
        enc_cursor(&w, m->fetch_data_req.anchor);
        mk_enc_u64(&w, m->fetch_data_req.from);
        mk_enc_u64(&w, m->fetch_data_req.to);
        break;
    case MK_GSYNC_FETCH_DATA_RESP:
        enc_cursor(&w, m->fetch_data_resp.anchor);
        mk_enc_u64(&w, m->fetch_data_resp.from);
        mk_enc_count(&w, m->fetch_data_resp.nitems);
        for (size_t i = 0; i < m->fetch_data_resp.nitems; i++)
            mk_enc_bytes(&w, m->fetch_data_resp.items[i].ptr, m->fetch_data_resp.items[i].len);
        mk_enc_bool(&w, m->fetch_data_resp.gone);
        break;
    }
    return enc_end(&w, out, start, e, MSG_ERR_NAME);
}

/* ---- messages: decoding ------------------------------------------------------------------------------ */

/* FetchEntriesResponse entries: allocated after the count check; each body validated in place. false
 * only when out of memory (decode errors stay in r). */
static bool dec_entries(rd_t *r, mk_gsync_msg_t *m) {
    mk_index_t first = m->fetch_resp.first;
    mk_term_t prev = m->fetch_resp.prev_term;
    size_t n = r_count(r, "entries", ENTRY_MIN_BYTES, MK_GSYNC_MAX_ENTRIES);
    if (!mk_dec_ok(&r->d)) return true;
    if (n == 0) {
        if (prev != 0) r_fail(r, "prev_term", "prev_term %llu in a gone response", (unsigned long long)prev);
        return true;
    }
    if ((first == 1) != (prev == 0)) {
        r_fail(r, "prev_term", "prev_term %llu before index %llu", (unsigned long long)prev, (unsigned long long)first);
        return true;
    }
    if (n - 1 > UINT64_MAX - first) {
        r_fail(r, "entries", "%zu entries from index %llu overflow", n, (unsigned long long)first);
        return true;
    }
    mk_log_entry_t *v = calloc(n, sizeof *v);
    if (!v) return false;
    m->fetch_resp.entries = v;
    m->fetch_resp.nentries = n;
    mk_term_t floor = prev ? prev : 1;
    r->arr = "entries";
    for (size_t i = 0; i < n && mk_dec_ok(&r->d); i++) {
        r->idx = i;
        v[i].index = first + i;
        const uint8_t *term_at = r->d.p;
        v[i].term = r_u64(r, "term");
        if (mk_dec_ok(&r->d) && v[i].term < floor)
            r_fail_at(r, term_at, "term", "term %llu below %llu", (unsigned long long)v[i].term,
                      (unsigned long long)floor);
        floor = v[i].term;
        const uint8_t *kind_at = r->d.p;
        v[i].kind = r_u8(r, "kind");
        if (mk_dec_ok(&r->d) && v[i].kind > MK_ENTRY_SNAPSHOT_MARKER)
            r_fail_at(r, kind_at, "kind", "entry kind %u > 3", v[i].kind);
        mk_bytes_t body = r_bytes(r, "body");
        v[i].body = body.ptr;
        v[i].len = body.len;
        if (!mk_dec_ok(&r->d)) break;
        mk_error_t be;
        if (mk_raft_body_decode(v[i].kind, body.ptr, body.len, NULL, &be) != MK_OK) {
            char cause[sizeof be.msg];
            size_t off = body_cause(be.msg, cause, sizeof cause);
            if (off > body.len) off = body.len;
            r_fail_at(r, (const uint8_t *)body.ptr + off, "body", "%s", cause);
        }
    }
    r->arr = NULL;
    return true;
}

static bool dec_items(rd_t *r, mk_gsync_msg_t *m) {
    size_t n = r_count(r, "items", ITEM_MIN_BYTES, MK_GSYNC_MAX_ITEMS);
    if (!mk_dec_ok(&r->d) || n == 0) return true;
    if (n - 1 > UINT64_MAX - m->fetch_data_resp.from) {
        r_fail(r, "items", "%zu items from %llu overflow", n, (unsigned long long)m->fetch_data_resp.from);
        return true;
    }
    mk_bytes_t *v = calloc(n, sizeof *v);
    if (!v) return false;
    m->fetch_data_resp.items = v;
    m->fetch_data_resp.nitems = n;
    r->arr = "items";
    for (size_t i = 0; i < n && mk_dec_ok(&r->d); i++) {
        r->idx = i;
        v[i] = r_bytes(r, NULL);
    }
    r->arr = NULL;
    return true;
}

int mk_gsync_msg_decode(const void *p, size_t n, mk_gsync_msg_t *out, mk_error_t *e) {
    memset(out, 0, sizeof *out);
    rd_t r;
    rd_init(&r, p, n, NULL);
    bool mem_ok = true;
    uint32_t tag = r_tag(&r, "tag", MK_GSYNC_MSG_KINDS);
    out->kind = (mk_gsync_msg_kind_t)tag;
    if (mk_dec_ok(&r.d)) r.msg = MSG_NAMES[tag];
    switch (mk_dec_ok(&r.d) ? out->kind : (mk_gsync_msg_kind_t)MK_GSYNC_MSG_KINDS) {
    case MK_GSYNC_AVAIL_REQ: out->avail_req.sid = r_u64(&r, "sid"); break;
    case MK_GSYNC_AVAIL_RESP: {
        out->avail_resp.sid = r_u64(&r, "sid");
        const uint8_t *at = r.d.p;
        out->avail_resp.first = r_u64(&r, "first");
        out->avail_resp.last = r_u64(&r, "last");
        if (mk_dec_ok(&r.d) && (out->avail_resp.first == 0 || out->avail_resp.first - 1 > out->avail_resp.last))
            r_fail_at(&r, at, "first", "bad range [%llu, %llu]", (unsigned long long)out->avail_resp.first,
                      (unsigned long long)out->avail_resp.last);
        break;
    }
    case MK_GSYNC_FETCH_REQ: {
        out->fetch_req.sid = r_u64(&r, "sid");
        const uint8_t *at = r.d.p;
        out->fetch_req.first = r_u64(&r, "first");
        out->fetch_req.last = r_u64(&r, "last");
        if (mk_dec_ok(&r.d) && (out->fetch_req.first == 0 || out->fetch_req.first > out->fetch_req.last))
            r_fail_at(&r, at, "first", "empty range [%llu, %llu]", (unsigned long long)out->fetch_req.first,
                      (unsigned long long)out->fetch_req.last);
        break;
    }
    case MK_GSYNC_FETCH_RESP: {
        out->fetch_resp.sid = r_u64(&r, "sid");
        const uint8_t *at = r.d.p;
        out->fetch_resp.first = r_u64(&r, "first");
        if (mk_dec_ok(&r.d) && out->fetch_resp.first == 0) r_fail_at(&r, at, "first", "index 0");
        out->fetch_resp.prev_term = r_u64(&r, "prev_term");
        mem_ok = dec_entries(&r, out);
        break;
    }
    case MK_GSYNC_REQ_SNAPSHOT: out->req_snapshot.req_id = r_u64(&r, "req_id"); break;
    case MK_GSYNC_SNAPSHOT_READY: {
        out->snapshot_ready.req_id = r_u64(&r, "req_id");
        out->snapshot_ready.anchor = r_anchor(&r);
        out->snapshot_ready.item_count = r_u64(&r, "item_count");
        mk_bytes_t hb = r_bytes(&r, "header");
        out->snapshot_ready.header = hb;
        if (!mk_dec_ok(&r.d)) break;
        mk_gsync_snap_header_t h;
        mk_error_t he;
        if (mk_gsync_snap_header_decode(hb.ptr, hb.len, &h, &he) != MK_OK) {
            char cause[sizeof he.msg];
            const char *c = he.msg;
            if (strncmp(c, HDR_ERR_NAME ": ", sizeof HDR_ERR_NAME + 1) == 0) c += sizeof HDR_ERR_NAME + 1;
            size_t off = body_cause(c, cause, sizeof cause);
            if (off > hb.len) off = hb.len;
            r_fail_at(&r, (const uint8_t *)hb.ptr + off, "header", "%s", cause);
        } else if (h.config_index > out->snapshot_ready.anchor.index) {
            r_fail_at(&r, hb.ptr, "header.config_index", "config index %llu above the anchor %llu",
                      (unsigned long long)h.config_index, (unsigned long long)out->snapshot_ready.anchor.index);
        }
        break;
    }
    case MK_GSYNC_FETCH_DATA_REQ: {
        out->fetch_data_req.anchor = r_anchor(&r);
        const uint8_t *at = r.d.p;
        out->fetch_data_req.from = r_u64(&r, "from");
        out->fetch_data_req.to = r_u64(&r, "to");
        if (mk_dec_ok(&r.d) && out->fetch_data_req.from >= out->fetch_data_req.to)
            r_fail_at(&r, at, "from", "empty range [%llu, %llu)", (unsigned long long)out->fetch_data_req.from,
                      (unsigned long long)out->fetch_data_req.to);
        break;
    }
    case MK_GSYNC_FETCH_DATA_RESP: {
        out->fetch_data_resp.anchor = r_anchor(&r);
        out->fetch_data_resp.from = r_u64(&r, "from");
        mem_ok = dec_items(&r, out);
        if (!mem_ok) break;
        const uint8_t *at = r.d.p;
        out->fetch_data_resp.gone = r_bool(&r, "gone");
        if (mk_dec_ok(&r.d) && out->fetch_data_resp.gone && out->fetch_data_resp.nitems)
            r_fail_at(&r, at, "gone", "gone with %zu items", out->fetch_data_resp.nitems);
        if (mk_dec_ok(&r.d) && !out->fetch_data_resp.gone && !out->fetch_data_resp.nitems)
            r_fail_at(&r, at, "items", "no items and not gone");
        break;
    }
    }
    if (!mem_ok) {
        const char *what = r.msg ? r.msg : "message";
        mk_gsync_msg_free(out);
        return mk_err_set(e, MK_ENOMEM, MSG_ERR_NAME, "%s: out of memory", what);
    }
    mk_dec_finish(&r.d);
    rd_note(&r, NULL);
    if (r.d.err == MK_OK) return MK_OK;
    int rc = r.d.err;
    mk_gsync_msg_free(out);
    return mk_err_set(e, rc, MSG_ERR_NAME, "%s: %s", r.field, r.d.what);
}

void mk_gsync_msg_free(mk_gsync_msg_t *m) {
    if (!m) return;
    if (m->kind == MK_GSYNC_FETCH_RESP) free((void *)m->fetch_resp.entries);
    else if (m->kind == MK_GSYNC_FETCH_DATA_RESP) free((void *)m->fetch_data_resp.items);
    memset(m, 0, sizeof *m);
}

/* ---- provider helper --------------------------------------------------------------------------------- */

static size_t uvar_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* The gone response: FetchEntriesResponse{sid, first, 0, []}. */
static int encode_gone(uint64_t sid, mk_index_t first, mk_buf_t *out, mk_error_t *e) {
    mk_gsync_msg_t m = {.kind = MK_GSYNC_FETCH_RESP};
    m.fetch_resp.sid = sid;
    m.fetch_resp.first = first;
    return mk_gsync_msg_encode(&m, out, e);
}

int mk_gsync_fetch_resp_from_store(mk_log_store_t *store, uint64_t sid, mk_index_t first, mk_index_t last,
                                   size_t max_bytes, mk_buf_t *out, size_t *nentries, mk_error_t *e) {
    if (nentries) *nentries = 0;
    if (first == 0 || first > last)
        return mk_err_set(e, MK_EINVAL, __func__, "empty range [%llu, %llu]", (unsigned long long)first,
                          (unsigned long long)last);
    const mk_log_store_vtbl_t *vt = store->vt;
    mk_index_t have_first, have_last;
    vt->available(store->self, &have_first, &have_last);
    if (last > have_last) last = have_last;
    if (first < have_first || first > last) return encode_gone(sid, first, out, e);
    mk_term_t prev_term = 0;
    int rc = vt->term_at(store->self, first - 1, &prev_term);
    if (rc == MK_ENOTFOUND) return encode_gone(sid, first, out, e);
    if (rc != MK_OK) return mk_err_set(e, rc, __func__, "term_at(%llu) failed", (unsigned long long)(first - 1));
    size_t cap = MK_GSYNC_MAX_ENTRIES;
    if (last - first < (mk_index_t)cap) cap = (size_t)(last - first + 1);
    mk_log_entry_t *v = malloc(cap * sizeof *v);
    if (!v) return mk_err_set(e, MK_ENOMEM, __func__, "out of memory");
    size_t n = 0;
    rc = vt->get_range(store->self, first, first + cap - 1, max_bytes, v, cap, &n);
    if (rc == MK_ENOTFOUND) {
        free(v);
        return encode_gone(sid, first, out, e);
    }
    if (rc != MK_OK || n == 0 || n > cap) {
        free(v);
        if (rc == MK_OK) rc = MK_EINVAL;
        return mk_err_set(e, rc, __func__, "get_range(%llu, %llu) failed", (unsigned long long)first,
                          (unsigned long long)(first + cap - 1));
    }
    /* the longest prefix whose whole message fits, at least one entry */
    size_t fixed = uvar_len(MK_GSYNC_FETCH_RESP) + uvar_len(sid) + uvar_len(first) + uvar_len(prev_term);
    size_t sum = 0, keep = 0;
    for (size_t i = 0; i < n; i++) {
        size_t one = uvar_len(v[i].term) + 1 + uvar_len(v[i].len) + v[i].len;
        if (keep > 0 && fixed + uvar_len(keep + 1) + sum + one > max_bytes) break;
        sum += one;
        keep++;
    }
    mk_gsync_msg_t m = {.kind = MK_GSYNC_FETCH_RESP};
    m.fetch_resp.sid = sid;
    m.fetch_resp.first = first;
    m.fetch_resp.prev_term = prev_term;
    m.fetch_resp.entries = v;
    m.fetch_resp.nentries = keep;
    rc = mk_gsync_msg_encode(&m, out, e);
    free(v);
    if (rc == MK_OK && nentries) *nentries = keep;
    return rc;
}
