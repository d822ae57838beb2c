/* groups/raft_wire.c — Raft entry bodies and Raft messages on the wire (see raft_wire.h): strict
 * decoders that name the failing field, and encoders that check the same rules first. */
#include "groups/raft_wire.h"

#include "core/codec.h"
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_ERR_NAME "raft message"
#define BODY_ERR_NAME "raft entry"
/* The fewest bytes an element can take: entry {term ≥ 1, kind 1, body length ≥ 1}, command {length ≥ 1},
 * voter {id 32, incarnation ≥ 1}. Counts are checked against them and the bytes left before allocating. */
#define ENTRY_MIN_BYTES 3u
#define COMMAND_MIN_BYTES 1u
#define VOTER_MIN_BYTES 33u

static const char *const MSG_NAMES[MK_RAFT_MSG_KINDS] = {
    "Hello", "AppendEntries", "AppendResponse", "PreVote", "PreVoteResponse", "RequestVote", "VoteResponse",
    "Forward", "ForwardAck", "ForwardNack", "ReadIndexRequest", "ReadIndexResponse", "NeedSnapshot",
    "TimeoutNow",
};
static const char *const ENTRY_NAMES[4] = {"COMMAND", "NOOP", "CONFIG", "SNAPSHOT_MARKER"};

const char *mk_raft_msg_kind_name(mk_raft_msg_kind_t kind) {
    return (unsigned)kind < MK_RAFT_MSG_KINDS ? MSG_NAMES[kind] : "?";
}

/* ---- reading: the codec's decoder plus the path of the field being read ---------------------------- */

/* The path of the first failing field is "msg.arr[idx].inner.arr2[idx2].name" (absent parts left out);
 * it is formatted once, when the first error is seen. */
#include "groups/wire_rd.h"

/* (term, index); index 0 only as (0, 0), the empty-log sentinel. */
static mk_cursor_t r_cursor(rd_t *r, const char *name, const char *term_name, const char *index_name) {
    mk_cursor_t c;
    c.term = r_u64(r, term_name);
    c.index = r_u64(r, index_name);
    if (mk_dec_ok(&r->d) && c.index == 0 && c.term != 0)
        r_fail(r, name, "index 0 with term %llu", (unsigned long long)c.term);
    return c;
}
#define R_CURSOR(r, name) r_cursor((r), name, name ".term", name ".index")

/* ---- entry bodies ------------------------------------------------------------------------------------ */

/* Decodes the fields of a `kind` body from r up to r's end (the caller checks for trailing bytes). */
static void dec_body(rd_t *r, uint8_t kind, mk_raft_body_t *b) {
    b->kind = kind;
    switch (kind) {
    case MK_ENTRY_COMMAND:
        b->command.session = r_u64(r, "session");
        b->command.seq = r_u64(r, "seq");
        b->command.payload = r_bytes(r, "payload");
        break;
    case MK_ENTRY_NOOP: break;
    case MK_ENTRY_CONFIG: {
        r_id(r, "origin", &b->config.origin);
        size_t n = r_count(r, "voters", VOTER_MIN_BYTES, MK_RAFT_MAX_VOTERS);
        if (mk_dec_ok(&r->d) && n == 0) r_fail(r, "voters", "no voters");
        r->arr2 = "voters";
        for (size_t i = 0; i < n && mk_dec_ok(&r->d); i++) {
            r->idx2 = i;
            mk_raft_voter_t *v = &b->config.voters[i];
            r_id(r, "peer", &v->peer);
            v->incarnation = r_u64(r, "incarnation");
            if (mk_dec_ok(&r->d) && i > 0) {
                int c = memcmp(b->config.voters[i - 1].peer.b, v->peer.b, sizeof v->peer.b);
                if (c == 0) r_fail(r, "peer", "duplicate voter");
                else if (c > 0) r_fail(r, "peer", "voters not sorted by PeerId");
            }
        }
        r->arr2 = NULL;
        b->config.nvoters = mk_dec_ok(&r->d) ? n : 0;
        break;
    }
    case MK_ENTRY_SNAPSHOT_MARKER:
        r_id(r, "requester", &b->marker.requester);
        b->marker.req_id = r_u64(r, "req_id");
        b->marker.requested_at_ms = r_u64(r, "requested_at_ms");
        break;
    default: r_fail(r, "kind", "entry kind %u > 3", kind); break;
    }
}

int mk_raft_body_decode(uint8_t kind, const void *p, size_t n, mk_raft_body_t *out, mk_error_t *e) {
    mk_raft_body_t tmp;
    mk_raft_body_t *b = out ? out : &tmp;
    memset(b, 0, sizeof *b);
    rd_t r;
    rd_init(&r, p, n, kind < 4 ? ENTRY_NAMES[kind] : "entry");
    dec_body(&r, kind, b);
    mk_dec_finish(&r.d);
    rd_note(&r, NULL);
    if (r.d.err == MK_OK) return MK_OK;
    memset(b, 0, sizeof *b);
    return mk_err_set(e, r.d.err, BODY_ERR_NAME, "%s: %s", r.field, r.d.what);
}

/* ---- encoding ---------------------------------------------------------------------------------------- */


static int check_body(const mk_raft_body_t *b, mk_error_t *e) {
    switch (b->kind) {
    case MK_ENTRY_COMMAND:
        if (!bytes_ok(b->command.payload.ptr, b->command.payload.len))
            return mk_err_set(e, MK_EINVAL, BODY_ERR_NAME, "COMMAND.payload: NULL with length %zu", b->command.payload.len);
        return MK_OK;
    case MK_ENTRY_NOOP:
    case MK_ENTRY_SNAPSHOT_MARKER: return MK_OK;
    case MK_ENTRY_CONFIG: {
        size_t n = b->config.nvoters;
        if (n == 0) return mk_err_set(e, MK_EINVAL, BODY_ERR_NAME, "CONFIG.voters: no voters");
        if (n > MK_RAFT_MAX_VOTERS)
            return mk_err_set(e, MK_EINVAL, BODY_ERR_NAME, "CONFIG.voters: %zu voters > %u", n, MK_RAFT_MAX_VOTERS);
        for (size_t i = 1; i < n; i++) {
            int c = memcmp(b->config.voters[i - 1].peer.b, b->config.voters[i].peer.b, sizeof(mk_id_t));
            if (c >= 0)
                return mk_err_set(e, MK_EINVAL, BODY_ERR_NAME, "CONFIG.voters[%zu].peer: %s", i,
                                  c == 0 ? "duplicate voter" : "voters not sorted by PeerId");
        }
        return MK_OK;
    }
    default: return mk_err_set(e, MK_EINVAL, BODY_ERR_NAME, "entry kind %u > 3", b->kind);
    }
}

static void enc_body(mk_enc_t *w, const mk_raft_body_t *b) {
    switch (b->kind) {
    case MK_ENTRY_COMMAND:
        mk_enc_u64(w, b->command.session);
        mk_enc_u64(w, b->command.seq);
        mk_enc_bytes(w, b->command.payload.ptr, b->command.payload.len);
        break;
    case MK_ENTRY_CONFIG:
        mk_enc_id(w, &b->config.origin);
        mk_enc_count(w, b->config.nvoters);
        for (size_t i = 0; i < b->config.nvoters; i++) {
            mk_enc_id(w, &b->config.voters[i].peer);
            mk_enc_u64(w, b->config.voters[i].incarnation);
        }
        break;
    case MK_ENTRY_SNAPSHOT_MARKER:
        mk_enc_id(w, &b->marker.requester);
        mk_enc_u64(w, b->marker.req_id);
        mk_enc_u64(w, b->marker.requested_at_ms);
        break;
    default: break;  /* NOOP: empty */
    }
}

int mk_raft_body_encode(const mk_raft_body_t *b, mk_buf_t *out, mk_error_t *e) {
    int rc = check_body(b, e);
    if (rc != MK_OK) return rc;
    size_t start = out->len;
    mk_enc_t w;
    enc_begin(&w, out);
    enc_body(&w, b);
    return enc_end(&w, out, start, e, BODY_ERR_NAME);
}

/* ---- messages: checks shared by the encoder ---------------------------------------------------------- */

/* MK_EINVAL with "raft message: <Message>.<cause>", the cause starting with the field. */
static int einval(mk_error_t *e, mk_raft_msg_kind_t kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int einval(mk_error_t *e, mk_raft_msg_kind_t kind, const char *fmt, ...) {
    char cause[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cause, sizeof cause, fmt, ap);
    va_end(ap);
    return mk_err_set(e, MK_EINVAL, MSG_ERR_NAME, "%s.%s", mk_raft_msg_kind_name(kind), cause);
}

static int check_cursor(mk_cursor_t c, mk_raft_msg_kind_t kind, const char *name, mk_error_t *e) {
    if (c.index == 0 && c.term != 0) return einval(e, kind, "%s: index 0 with term %llu", name, (unsigned long long)c.term);
    return MK_OK;
}

static int check_msg(const mk_raft_msg_t *m, mk_error_t *e) {
    mk_raft_msg_kind_t k = m->kind;
    switch (k) {
    case MK_RAFT_HELLO: {
        mk_leadership_t p = m->hello.preference;
        if ((unsigned)p.kind > MK_LEAD_OBSERVER)
            return einval(e, k, "preference.kind: %u > 2", (unsigned)p.kind);
        if (p.kind == MK_LEAD_RELUCTANT && p.factor == 0) return einval(e, k, "preference.factor: 0 for Reluctant");
        return check_cursor(m->hello.last, k, "last", e);
    }
    case MK_RAFT_APPEND: {
        int rc = check_cursor(m->append.prev, k, "prev", e);
        if (rc != MK_OK) return rc;
        size_t n = m->append.nentries;
        if (n > MK_RAFT_MAX_ENTRIES) return einval(e, k, "entries: %zu > cap %u", n, MK_RAFT_MAX_ENTRIES);
        if (n && !m->append.entries) return einval(e, k, "entries: NULL with count %zu", n);
        if (n > UINT64_MAX - m->append.prev.index) return einval(e, k, "entries: index overflow");
        for (size_t i = 0; i < n; i++) {
            const mk_log_entry_t *en = &m->append.entries[i];
            if (en->index != m->append.prev.index + 1 + i)
                return einval(e, k, "entries[%zu].index: %llu, not prev.index + %zu", i,
                                 (unsigned long long)en->index, i + 1);
            if (en->kind > MK_ENTRY_SNAPSHOT_MARKER) return einval(e, k, "entries[%zu].kind: %u > 3", i, en->kind);
            if (!bytes_ok(en->body, en->len)) return einval(e, k, "entries[%zu].body: NULL with length %zu", i, en->len);
            mk_error_t be;
            if (mk_raft_body_decode(en->kind, en->body, en->len, NULL, &be) != MK_OK) {
                const char *cause = be.msg;
                if (strncmp(cause, BODY_ERR_NAME ": ", sizeof BODY_ERR_NAME + 1) == 0) cause += sizeof BODY_ERR_NAME + 1;
                return einval(e, k, "entries[%zu].body: %s", i, cause);
            }
        }
        return MK_OK;
    }
    case MK_RAFT_PRE_VOTE:
    case MK_RAFT_VOTE: return check_cursor(m->vote.last, k, "last", e);
    case MK_RAFT_FORWARD: {
        size_t n = m->forward.ncommands;
        if (n == 0) return einval(e, k, "commands: no commands");
        if (n > MK_RAFT_MAX_COMMANDS) return einval(e, k, "commands: %zu > cap %u", n, MK_RAFT_MAX_COMMANDS);
        if (!m->forward.commands) return einval(e, k, "commands: NULL with count %zu", n);
        for (size_t i = 0; i < n; i++)
            if (!bytes_ok(m->forward.commands[i].ptr, m->forward.commands[i].len))
                return einval(e, k, "commands[%zu]: NULL with length %zu", i, m->forward.commands[i].len);
        return MK_OK;
    }
    case MK_RAFT_FORWARD_ACK:
        if (m->forward_ack.first == 0 || m->forward_ack.first > m->forward_ack.last)
            return einval(e, k, "first: empty range [%llu, %llu]", (unsigned long long)m->forward_ack.first,
                             (unsigned long long)m->forward_ack.last);
        return MK_OK;
    case MK_RAFT_FORWARD_NACK:
        if ((unsigned)m->forward_nack.reason >= MK_RAFT_NACK_REASONS)
            return einval(e, k, "reason: %u > 3", (unsigned)m->forward_nack.reason);
        return MK_OK;
    case MK_RAFT_APPEND_RESP:
    case MK_RAFT_PRE_VOTE_RESP:
    case MK_RAFT_VOTE_RESP:
    case MK_RAFT_READ_INDEX_REQ:
    case MK_RAFT_READ_INDEX_RESP:
    case MK_RAFT_NEED_SNAPSHOT:
    case MK_RAFT_TIMEOUT_NOW: return MK_OK;
    }
    return mk_err_set(e, MK_EINVAL, MSG_ERR_NAME, "kind: %u > 13", (unsigned)k);
}

static void enc_cursor(mk_enc_t *w, mk_cursor_t c) {
    mk_enc_u64(w, c.term);
    mk_enc_u64(w, c.index);
}

static void enc_opt_id(mk_enc_t *w, bool some, const mk_id_t *id) {
    mk_enc_option(w, some);
    if (some) mk_enc_id(w, id);
}

int mk_raft_msg_encode(const mk_raft_msg_t *m, mk_buf_t *out, mk_error_t *e) {
    int rc = check_msg(m, e);
    if (rc != MK_OK) return rc;
    size_t start = out->len;
    mk_enc_t w;
    enc_begin(&w, out);
    enc_opt_id(&w, m->has_origin, &m->origin);
    mk_enc_tag(&w, (uint32_t)m->kind);
    switch (m->kind) {
    case MK_RAFT_HELLO:
        enc_opt_id(&w, m->hello.has_origin, &m->hello.origin);
        mk_enc_bool(&w, m->hello.has_commands);
        enc_cursor(&w, m->hello.last);
        mk_enc_u64(&w, m->hello.commit);
        mk_enc_u8(&w, (uint8_t)m->hello.preference.kind);
        mk_enc_u32(&w, m->hello.preference.factor);
        break;
    case MK_RAFT_APPEND:
        mk_enc_u64(&w, m->append.term);
        enc_cursor(&w, m->append.prev);
        mk_enc_u64(&w, m->append.commit);
        mk_enc_u64(&w, m->append.read_seq);
        mk_enc_count(&w, m->append.nentries);
        for (size_t i = 0; i < m->append.nentries; i++) {
            const mk_log_entry_t *en = &m->append.entries[i];
            mk_enc_u64(&w, en->term);
            mk_enc_u8(&w, en->kind);
            mk_enc_bytes(&w, en->body, en->len);
        }
        break;
    case MK_RAFT_APPEND_RESP:
        mk_enc_u64(&w, m->append_resp.term);
        mk_enc_bool(&w, m->append_resp.success);
        if (m->append_resp.success) {
            mk_enc_u64(&w, m->append_resp.match);
        } else {
            mk_enc_u64(&w, m->append_resp.conflict_index);
            mk_enc_u64(&w, m->append_resp.conflict_term);
        }
        mk_enc_u64(&w, m->append_resp.read_seq);
        mk_enc_bool(&w, m->append_resp.syncing);
        break;
    case MK_RAFT_PRE_VOTE:
    case MK_RAFT_VOTE:
        mk_enc_u64(&w, m->vote.term);
        enc_cursor(&w, m->vote.last);
        break;
    case MK_RAFT_PRE_VOTE_RESP:
    case MK_RAFT_VOTE_RESP:
        mk_enc_u64(&w, m->vote_resp.term);
        mk_enc_bool(&w, m->vote_resp.granted);
        break;
    case MK_RAFT_FORWARD:
        mk_enc_u64(&w, m->forward.req_id);
        mk_enc_u64(&w, m->forward.session);
        mk_enc_u64(&w, m->forward.seq);
        mk_enc_count(&w, m->forward.ncommands);
        for (size_t i = 0; i < m->forward.ncommands; i++)
            mk_enc_bytes(&w, m->forward.commands[i].ptr, m->forward.commands[i].len);
        break;
    case MK_RAFT_FORWARD_ACK:
        mk_enc_u64(&w, m->forward_ack.req_id);
        mk_enc_u64(&w, m->forward_ack.term);
        mk_enc_u64(&w, m->forward_ack.first);
        mk_enc_u64(&w, m->forward_ack.last);
        break;
    case MK_RAFT_FORWARD_NACK:
        mk_enc_u64(&w, m->forward_nack.req_id);
        mk_enc_tag(&w, (uint32_t)m->forward_nack.reason);
        if (m->forward_nack.reason == MK_RAFT_NACK_OUT_OF_ORDER) mk_enc_u64(&w, m->forward_nack.expected);
        enc_opt_id(&w, m->forward_nack.has_leader, &m->forward_nack.leader);
        break;
    case MK_RAFT_READ_INDEX_REQ: mk_enc_u64(&w, m->read_index_req.req_id); break;
    case MK_RAFT_READ_INDEX_RESP:
        mk_enc_u64(&w, m->read_index_resp.req_id);
        mk_enc_bool(&w, m->read_index_resp.ok);
        mk_enc_u64(&w, m->read_index_resp.read_index);
        break;
    case MK_RAFT_NEED_SNAPSHOT:
        mk_enc_u64(&w, m->need_snapshot.term);
        mk_enc_u64(&w, m->need_snapshot.leader_commit);
        break;
    case MK_RAFT_TIMEOUT_NOW: mk_enc_u64(&w, m->timeout_now.term); break;
    }
    return enc_end(&w, out, start, e, MSG_ERR_NAME);
}

/* ---- messages: decoding ------------------------------------------------------------------------------ */

/* AppendEntries entries: allocated after the count check; each body validated in place. false only
 * when out of memory (decode errors stay in r). */
static bool dec_entries(rd_t *r, mk_raft_msg_t *m) {
    size_t n = r_count(r, "entries", ENTRY_MIN_BYTES, MK_RAFT_MAX_ENTRIES);
    if (!mk_dec_ok(&r->d) || n == 0) return true;
    mk_index_t prev = m->append.prev.index;
    if (n > UINT64_MAX - prev) {
        r_fail(r, "entries", "%zu entries after index %llu overflow", n, (unsigned long long)prev);
        return true;
    }
    mk_log_entry_t *v = calloc(n, sizeof *v);
    if (!v) return false;
    m->append.entries = v;
    m->append.nentries = n;
    r->arr = "entries";
    for (size_t i = 0; i < n && mk_dec_ok(&r->d); i++) {
        r->idx = i;
        v[i].index = prev + 1 + i;
        v[i].term = r_u64(r, "term");
        v[i].kind = r_u8(r, "kind");
        if (mk_dec_ok(&r->d) && v[i].kind > MK_ENTRY_SNAPSHOT_MARKER) {
            r->d.p--;  /* report the offset of the kind byte */
            r_fail(r, "kind", "entry kind %u > 3", v[i].kind);
        }
        mk_bytes_t body = r_bytes(r, "body");
        v[i].body = body.ptr;
        v[i].len = body.len;
        if (!mk_dec_ok(&r->d)) break;
        /* the body, read by a decoder over the same input (offsets stay message-relative) */
        rd_t sub = *r;
        sub.d.p = body.ptr;
        sub.d.end = sub.d.p + body.len;
        sub.inner = "body";
        mk_raft_body_t tmp;
        memset(&tmp, 0, sizeof tmp);
        dec_body(&sub, v[i].kind, &tmp);
        mk_dec_finish(&sub.d);
        rd_note(&sub, NULL);
        if (!mk_dec_ok(&sub.d)) {
            r->d.err = sub.d.err;
            memcpy(r->d.what, sub.d.what, sizeof r->d.what);
            memcpy(r->field, sub.field, sizeof r->field);
        }
    }
    r->arr = NULL;
    return true;
}

static bool dec_commands(rd_t *r, mk_raft_msg_t *m) {
    size_t n = r_count(r, "commands", COMMAND_MIN_BYTES, MK_RAFT_MAX_COMMANDS);
    if (!mk_dec_ok(&r->d)) return true;
    if (n == 0) {
        r_fail(r, "commands", "no commands");
        return true;
    }
    mk_bytes_t *v = calloc(n, sizeof *v);
    if (!v) return false;
    m->forward.commands = v;
    m->forward.ncommands = n;
    r->arr = "commands";
    for (size_t i = 0; i < n && mk_dec_ok(&r->d); i++) {
        r->idx = i;
        v[i] = r_bytes(r, NULL);
    }
    r->arr = NULL;
    return true;
}

int mk_raft_msg_decode(const void *p, size_t n, mk_raft_msg_t *out, mk_error_t *e) {
    memset(out, 0, sizeof *out);
    rd_t r;
    rd_init(&r, p, n, NULL);
    bool mem_ok = true;
    out->has_origin = r_opt_id(&r, "origin", &out->origin);
    uint32_t tag = r_tag(&r, "tag", MK_RAFT_MSG_KINDS);
    out->kind = (mk_raft_msg_kind_t)tag;
    if (mk_dec_ok(&r.d)) r.msg = MSG_NAMES[tag];
    switch (mk_dec_ok(&r.d) ? out->kind : (mk_raft_msg_kind_t)MK_RAFT_MSG_KINDS) {
    case MK_RAFT_HELLO: {
        out->hello.has_origin = r_opt_id(&r, "origin", &out->hello.origin);
        out->hello.has_commands = r_bool(&r, "has_commands");
        out->hello.last = R_CURSOR(&r, "last");
        out->hello.commit = r_u64(&r, "commit");
        uint8_t kind = r_u8(&r, "preference.kind");
        if (mk_dec_ok(&r.d) && kind > MK_LEAD_OBSERVER) {
            r.d.p--;
            r_fail(&r, "preference.kind", "leadership kind %u > 2", kind);
        }
        out->hello.preference.kind = (mk_lead_kind_t)kind;
        out->hello.preference.factor = r_u32(&r, "preference.factor");
        if (mk_dec_ok(&r.d) && kind == MK_LEAD_RELUCTANT && out->hello.preference.factor == 0)
            r_fail(&r, "preference.factor", "factor 0 for Reluctant");
        break;
    }
    case MK_RAFT_APPEND:
        out->append.term = r_u64(&r, "term");
        out->append.prev = R_CURSOR(&r, "prev");
        out->append.commit = r_u64(&r, "commit");
        out->append.read_seq = r_u64(&r, "read_seq");
        mem_ok = dec_entries(&r, out);
        break;
    case MK_RAFT_APPEND_RESP:
        out->append_resp.term = r_u64(&r, "term");
        out->append_resp.success = r_bool(&r, "success");
        if (out->append_resp.success) {
            out->append_resp.match = r_u64(&r, "match");
        } else {
            out->append_resp.conflict_index = r_u64(&r, "conflict_index");
            out->append_resp.conflict_term = r_u64(&r, "conflict_term");
        }
        out->append_resp.read_seq = r_u64(&r, "read_seq");
        out->append_resp.syncing = r_bool(&r, "syncing");
        break;
    case MK_RAFT_PRE_VOTE:
    case MK_RAFT_VOTE:
        out->vote.term = r_u64(&r, "term");
        out->vote.last = R_CURSOR(&r, "last");
        break;
    case MK_RAFT_PRE_VOTE_RESP:
    case MK_RAFT_VOTE_RESP:
        out->vote_resp.term = r_u64(&r, "term");
        out->vote_resp.granted = r_bool(&r, "granted");
        break;
    case MK_RAFT_FORWARD:
        out->forward.req_id = r_u64(&r, "req_id");
        out->forward.session = r_u64(&r, "session");
        out->forward.seq = r_u64(&r, "seq");
        mem_ok = dec_commands(&r, out);
        break;
    case MK_RAFT_FORWARD_ACK:
        out->forward_ack.req_id = r_u64(&r, "req_id");
        out->forward_ack.term = r_u64(&r, "term");
        out->forward_ack.first = r_u64(&r, "first");
        out->forward_ack.last = r_u64(&r, "last");
        if (mk_dec_ok(&r.d) && (out->forward_ack.first == 0 || out->forward_ack.first > out->forward_ack.last))
            r_fail(&r, "first", "empty range [%llu, %llu]", (unsigned long long)out->forward_ack.first,
                   (unsigned long long)out->forward_ack.last);
        break;
    case MK_RAFT_FORWARD_NACK:
        out->forward_nack.req_id = r_u64(&r, "req_id");
        out->forward_nack.reason = (mk_raft_nack_t)r_tag(&r, "reason", MK_RAFT_NACK_REASONS);
        if (mk_dec_ok(&r.d) && out->forward_nack.reason == MK_RAFT_NACK_OUT_OF_ORDER)
            out->forward_nack.expected = r_u64(&r, "reason.expected");
        out->forward_nack.has_leader = r_opt_id(&r, "leader", &out->forward_nack.leader);
        break;
    case MK_RAFT_READ_INDEX_REQ: out->read_index_req.req_id = r_u64(&r, "req_id"); break;
    case MK_RAFT_READ_INDEX_RESP:
        out->read_index_resp.req_id = r_u64(&r, "req_id");
        out->read_index_resp.ok = r_bool(&r, "ok");
        out->read_index_resp.read_index = r_u64(&r, "read_index");
        break;
    case MK_RAFT_NEED_SNAPSHOT:
        out->need_snapshot.term = r_u64(&r, "term");
        out->need_snapshot.leader_commit = r_u64(&r, "leader_commit");
        break;
    case MK_RAFT_TIMEOUT_NOW: out->timeout_now.term = r_u64(&r, "term"); break;
    }
    if (!mem_ok) {
        const char *what = r.msg ? r.msg : "message";
        mk_raft_msg_free(out);
        return mk_err_set(e, MK_ENOMEM, MSG_ERR_NAME, "%s: out of memory", what);
    }
    mk_dec_finish(&r.d);
    rd_note(&r, NULL);
    if (r.d.err == MK_OK) return MK_OK;
    int rc = r.d.err;
    mk_raft_msg_free(out);
    return mk_err_set(e, rc, MSG_ERR_NAME, "%s: %s", r.field, r.d.what);
}

void mk_raft_msg_free(mk_raft_msg_t *m) {
    if (!m) return;
    if (m->kind == MK_RAFT_APPEND) free((void *)m->append.entries);
    else if (m->kind == MK_RAFT_FORWARD) free((void *)m->forward.commands);
    memset(m, 0, sizeof *m);
}
