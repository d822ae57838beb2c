/* unit/groups/test_raft_wire.c — the Raft wire codec (spec 40 §3.3 entry bodies, §3.10 messages): frozen
 * golden vectors both ways, round trips of every message and entry kind with edge values, every refused
 * form with the field its error names, the encoder's matching refusals, and the caps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "groups/raft_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mk_id_t O, A, B, R;

static int setup(void **state) {
    (void)state;
    for (int i = 0; i < 32; i++) {
        O.b[i] = (uint8_t)i;
        A.b[i] = 0x11;
        B.b[i] = 0x22;
        R.b[i] = 0x33;
    }
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------------------- */

/* Parses space-separated hex bytes; the tokens O, A, B and R stand for those ids' 32 bytes. */
static size_t hex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        const mk_id_t *id = *s == 'O' ? &O : *s == 'A' ? &A : *s == 'B' ? &B : *s == 'R' ? &R : NULL;
        if (id) {
            assert_true(n + 32 <= cap);
            memcpy(out + n, id->b, 32);
            n += 32;
            s++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(s, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static void assert_buf_hex(const mk_buf_t *b, const char *want_hex) {
    uint8_t want[512];
    size_t n = hex(want_hex, want, sizeof want);
    assert_int_equal(b->len, n);
    if (n) assert_memory_equal(b->ptr, want, n);
}

/* Decoding the bytes of `h` must fail with MK_EPROTO and an error naming `field` (and `cause`, if any). */
static void refused_hex(const char *h, const char *field, const char *cause) {
    uint8_t in[512];
    size_t n = hex(h, in, sizeof in);
    mk_raft_msg_t m;
    mk_error_t e;
    memset(&e, 0, sizeof e);
    int rc = mk_raft_msg_decode(in, n, &m, &e);
    if (rc != MK_EPROTO) fail_msg("\"%s\": want MK_EPROTO, got %d", h, rc);
    if (!strstr(e.msg, field)) fail_msg("\"%s\": want field \"%s\" in \"%s\"", h, field, e.msg);
    if (cause && !strstr(e.msg, cause)) fail_msg("\"%s\": want cause \"%s\" in \"%s\"", h, cause, e.msg);
    assert_int_equal(e.code, MK_EPROTO);
    /* nothing left to free, the message zeroed */
    mk_raft_msg_t zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&m, &zero, sizeof m);
}

static void body_refused_hex(uint8_t kind, const char *h, const char *field, const char *cause) {
    uint8_t in[2048];
    size_t n = hex(h, in, sizeof in);
    mk_raft_body_t b;
    mk_error_t e;
    int rc = mk_raft_body_decode(kind, in, n, &b, &e);
    if (rc != MK_EPROTO) fail_msg("body \"%s\": want MK_EPROTO, got %d", h, rc);
    if (!strstr(e.msg, field)) fail_msg("body \"%s\": want field \"%s\" in \"%s\"", h, field, e.msg);
    if (cause && !strstr(e.msg, cause)) fail_msg("body \"%s\": want cause \"%s\" in \"%s\"", h, cause, e.msg);
}

static bool bytes_eq(const void *a, size_t an, const void *b, size_t bn) {
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static bool cursor_eq(mk_cursor_t a, mk_cursor_t b) { return a.term == b.term && a.index == b.index; }

/* Field-by-field equality of two messages (views compared by content). */
static bool msg_eq(const mk_raft_msg_t *a, const mk_raft_msg_t *b) {
    if (a->kind != b->kind || a->has_origin != b->has_origin) return false;
    if (a->has_origin && !mk_id_eq(&a->origin, &b->origin)) return false;
    switch (a->kind) {
    case MK_RAFT_HELLO:
        return a->hello.has_origin == b->hello.has_origin &&
               (!a->hello.has_origin || mk_id_eq(&a->hello.origin, &b->hello.origin)) &&
               a->hello.has_commands == b->hello.has_commands && cursor_eq(a->hello.last, b->hello.last) &&
               a->hello.commit == b->hello.commit && a->hello.preference.kind == b->hello.preference.kind &&
               a->hello.preference.factor == b->hello.preference.factor;
    case MK_RAFT_APPEND:
        if (a->append.term != b->append.term || !cursor_eq(a->append.prev, b->append.prev) ||
            a->append.commit != b->append.commit || a->append.read_seq != b->append.read_seq ||
            a->append.nentries != b->append.nentries)
            return false;
        for (size_t i = 0; i < a->append.nentries; i++) {
            const mk_log_entry_t *x = &a->append.entries[i], *y = &b->append.entries[i];
            if (x->index != y->index || x->term != y->term || x->kind != y->kind || !bytes_eq(x->body, x->len, y->body, y->len))
                return false;
        }
        return true;
    case MK_RAFT_APPEND_RESP:
        return a->append_resp.term == b->append_resp.term && a->append_resp.success == b->append_resp.success &&
               a->append_resp.match == b->append_resp.match &&
               a->append_resp.conflict_index == b->append_resp.conflict_index &&
               a->append_resp.conflict_term == b->append_resp.conflict_term &&
               a->append_resp.read_seq == b->append_resp.read_seq && a->append_resp.syncing == b->append_resp.syncing;
    case MK_RAFT_PRE_VOTE:
    case MK_RAFT_VOTE: return a->vote.term == b->vote.term && cursor_eq(a->vote.last, b->vote.last);
    case MK_RAFT_PRE_VOTE_RESP:
    case MK_RAFT_VOTE_RESP: return a->vote_resp.term == b->vote_resp.term && a->vote_resp.granted == b->vote_resp.granted;
    case MK_RAFT_FORWARD:
        if (a->forward.req_id != b->forward.req_id || a->forward.session != b->forward.session ||
            a->forward.seq != b->forward.seq || a->forward.ncommands != b->forward.ncommands)
            return false;
        for (size_t i = 0; i < a->forward.ncommands; i++)
            if (!bytes_eq(a->forward.commands[i].ptr, a->forward.commands[i].len, b->forward.commands[i].ptr,
                          b->forward.commands[i].len))
                return false;
        return true;
    case MK_RAFT_FORWARD_ACK:
        return a->forward_ack.req_id == b->forward_ack.req_id && a->forward_ack.term == b->forward_ack.term &&
               a->forward_ack.first == b->forward_ack.first && a->forward_ack.last == b->forward_ack.last;
    case MK_RAFT_FORWARD_NACK:
        return a->forward_nack.req_id == b->forward_nack.req_id && a->forward_nack.reason == b->forward_nack.reason &&
               a->forward_nack.expected == b->forward_nack.expected &&
               a->forward_nack.has_leader == b->forward_nack.has_leader &&
               (!a->forward_nack.has_leader || mk_id_eq(&a->forward_nack.leader, &b->forward_nack.leader));
    case MK_RAFT_READ_INDEX_REQ: return a->read_index_req.req_id == b->read_index_req.req_id;
    case MK_RAFT_READ_INDEX_RESP:
        return a->read_index_resp.req_id == b->read_index_resp.req_id && a->read_index_resp.ok == b->read_index_resp.ok &&
               a->read_index_resp.read_index == b->read_index_resp.read_index;
    case MK_RAFT_NEED_SNAPSHOT:
        return a->need_snapshot.term == b->need_snapshot.term &&
               a->need_snapshot.leader_commit == b->need_snapshot.leader_commit;
    case MK_RAFT_TIMEOUT_NOW: return a->timeout_now.term == b->timeout_now.term;
    }
    return false;
}

/* Encodes m, decodes it back equal, re-encodes byte-identically; every proper prefix is refused. */
static void round_trip(const mk_raft_msg_t *m) {
    mk_buf_t b = MK_BUF_INIT, again = MK_BUF_INIT;
    mk_error_t e;
    int rc = mk_raft_msg_encode(m, &b, &e);
    if (rc != MK_OK) fail_msg("encode %s: %s", mk_raft_msg_kind_name(m->kind), e.msg);
    mk_raft_msg_t d;
    rc = mk_raft_msg_decode(b.ptr, b.len, &d, &e);
    if (rc != MK_OK) fail_msg("decode %s: %s", mk_raft_msg_kind_name(m->kind), e.msg);
    assert_true(msg_eq(m, &d));
    assert_int_equal(mk_raft_msg_encode(&d, &again, NULL), MK_OK);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.ptr, b.ptr, b.len);
    mk_raft_msg_free(&d);
    mk_raft_msg_free(&d);  /* idempotent */
    size_t step = b.len > 1024 ? b.len / 509 : 1;  /* long messages: a spread of prefixes */
    for (size_t cut = 0; cut < b.len; cut += step) {
        uint8_t *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, b.ptr, cut);
        assert_int_equal(mk_raft_msg_decode(copy, cut, &d, NULL), MK_EPROTO);
        free(copy);
    }
    mk_buf_free(&b);
    mk_buf_free(&again);
}

/* ---- golden vectors ------------------------------------------------------------------------------------ */

/* Encodes m and compares it with the frozen bytes, then decodes those bytes back to an equal message. */
static void golden(const mk_raft_msg_t *m, const char *want_hex) {
    mk_buf_t b = MK_BUF_INIT;
    mk_error_t e;
    if (mk_raft_msg_encode(m, &b, &e) != MK_OK) fail_msg("encode: %s", e.msg);
    assert_buf_hex(&b, want_hex);
    uint8_t in[512];
    size_t n = hex(want_hex, in, sizeof in);
    mk_raft_msg_t d;
    if (mk_raft_msg_decode(in, n, &d, &e) != MK_OK) fail_msg("decode: %s", e.msg);
    assert_true(msg_eq(m, &d));
    mk_raft_msg_free(&d);
    mk_buf_free(&b);
}

static void golden_message_vectors(void **state) {
    (void)state;
    /* RequestVote{term 5, last (4, 300)}, no origin */
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_VOTE, .vote = {5, {4, 300}}}, "00 05 05 04 ac 02");
    /* PreVote{term 1, last (0, 0)} with origin O */
    golden(&(mk_raft_msg_t){.has_origin = true, .origin = O, .kind = MK_RAFT_PRE_VOTE, .vote = {1, {0, 0}}},
           "01 O 03 01 00 00");
    /* Hello{no origin, no commands, last (0, 0), commit 0, Reluctant 3} */
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_HELLO, .hello = {.preference = MK_LEADERSHIP_RELUCTANT_DEFAULT}},
           "00 00 00 00 00 00 00 01 03");
    /* Hello{origin O, has_commands, last (2, 130), commit 129, Observer factor 0} */
    golden(&(mk_raft_msg_t){.has_origin = true, .origin = O, .kind = MK_RAFT_HELLO,
                            .hello = {.has_origin = true, .origin = O, .has_commands = true, .last = {2, 130},
                                      .commit = 129, .preference = {MK_LEAD_OBSERVER, 0}}},
           "01 O 00 01 O 01 02 82 01 81 01 02 00");
    /* AppendEntries{term 7, prev (6, 10), commit 9, read_seq 128, [COMMAND{0, 0, "hi"} @7, NOOP @7]} */
    const mk_log_entry_t ents[] = {{11, 7, MK_ENTRY_COMMAND, "\x00\x00\x02hi", 5}, {12, 7, MK_ENTRY_NOOP, NULL, 0}};
    golden(&(mk_raft_msg_t){.has_origin = true, .origin = O, .kind = MK_RAFT_APPEND,
                            .append = {7, {6, 10}, 9, 128, ents, 2}},
           "01 O 01 07 06 0a 09 80 01 02 07 00 05 00 00 02 68 69 07 01 00");
    /* AppendResponse reject{term 3, conflict (11, 2), read_seq 0, syncing}; success{match 1000, read_seq 5} */
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND_RESP,
                            .append_resp = {.term = 3, .conflict_index = 11, .conflict_term = 2, .syncing = true}},
           "00 02 03 00 0b 02 00 01");
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND_RESP,
                            .append_resp = {.term = 3, .success = true, .match = 1000, .read_seq = 5}},
           "00 02 03 01 e8 07 05 00");
    /* Pre/VoteResponse */
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_PRE_VOTE_RESP, .vote_resp = {2, true}}, "00 04 02 01");
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_VOTE_RESP, .vote_resp = {2, false}}, "00 06 02 00");
    /* Forward{req 2, session 1, seq 1, ["a", ""]} */
    const mk_bytes_t cmds[] = {{"a", 1}, {NULL, 0}};
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD, .forward = {2, 1, 1, cmds, 2}}, "00 07 02 01 01 02 01 61 00");
    /* ForwardAck{req 2, term 3, [20, 21]} */
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD_ACK, .forward_ack = {2, 3, 20, 21}}, "00 08 02 03 14 15");
    /* ForwardNack{req 1, OUT_OF_ORDER{42}, no leader}; {req 1, NOT_LEADER, leader A} */
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD_NACK, .forward_nack = {1, MK_RAFT_NACK_OUT_OF_ORDER, 42, false, {{0}}}},
           "00 09 01 01 2a 00");
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD_NACK, .forward_nack = {1, MK_RAFT_NACK_NOT_LEADER, 0, true, A}},
           "00 09 01 00 01 A");
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD_NACK, .forward_nack = {1, MK_RAFT_NACK_TOO_LARGE, 0, false, {{0}}}},
           "00 09 01 03 00");
    /* ReadIndex */
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_READ_INDEX_REQ, .read_index_req = {300}}, "00 0a ac 02");
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_READ_INDEX_RESP, .read_index_resp = {1, true, 16384}}, "00 0b 01 01 80 80 01");
    /* NeedSnapshot{term max u64, leader_commit 0} */
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_NEED_SNAPSHOT, .need_snapshot = {UINT64_MAX, 0}},
           "00 0c ff ff ff ff ff ff ff ff ff 01 00");
    /* TimeoutNow{term 7} */
    golden(&(mk_raft_msg_t){.kind = MK_RAFT_TIMEOUT_NOW, .timeout_now = {7}}, "00 0d 07");
}

static void golden_body(const mk_raft_body_t *b, const char *want_hex) {
    mk_buf_t out = MK_BUF_INIT;
    mk_error_t e;
    if (mk_raft_body_encode(b, &out, &e) != MK_OK) fail_msg("encode: %s", e.msg);
    assert_buf_hex(&out, want_hex);
    mk_raft_body_t d;
    if (mk_raft_body_decode(b->kind, out.ptr, out.len, &d, &e) != MK_OK) fail_msg("decode: %s", e.msg);
    assert_int_equal(d.kind, b->kind);
    mk_buf_t again = MK_BUF_INIT;
    assert_int_equal(mk_raft_body_encode(&d, &again, NULL), MK_OK);
    assert_int_equal(again.len, out.len);
    if (out.len) assert_memory_equal(again.ptr, out.ptr, out.len);
    mk_buf_free(&again);
    mk_buf_free(&out);
}

static void golden_body_vectors(void **state) {
    (void)state;
    /* COMMAND{session 0, seq 0, "hi"} */
    golden_body(&(mk_raft_body_t){.kind = MK_ENTRY_COMMAND, .command = {0, 0, {"hi", 2}}}, "00 00 02 68 69");
    /* COMMAND{session max u64, seq 128, ""} */
    golden_body(&(mk_raft_body_t){.kind = MK_ENTRY_COMMAND, .command = {UINT64_MAX, 128, {NULL, 0}}},
                "ff ff ff ff ff ff ff ff ff 01 80 01 00");
    /* NOOP: empty */
    golden_body(&(mk_raft_body_t){.kind = MK_ENTRY_NOOP}, "");
    /* CONFIG{O, [(A, 1), (B, 2^32)]} */
    mk_raft_body_t cfg = {.kind = MK_ENTRY_CONFIG};
    cfg.config.origin = O;
    cfg.config.nvoters = 2;
    cfg.config.voters[0] = (mk_raft_voter_t){A, 1};
    cfg.config.voters[1] = (mk_raft_voter_t){B, (uint64_t)1 << 32};
    golden_body(&cfg, "O 02 A 01 B 80 80 80 80 10");
    mk_raft_body_t d;
    uint8_t in[200];
    size_t n = hex("O 02 A 01 B 80 80 80 80 10", in, sizeof in);
    assert_int_equal(mk_raft_body_decode(MK_ENTRY_CONFIG, in, n, &d, NULL), MK_OK);
    assert_true(mk_id_eq(&d.config.origin, &O));
    assert_int_equal(d.config.nvoters, 2);
    assert_true(mk_id_eq(&d.config.voters[1].peer, &B));
    assert_true(d.config.voters[1].incarnation == (uint64_t)1 << 32);
    /* SNAPSHOT_MARKER{R, req 7, at 1000 ms} */
    golden_body(&(mk_raft_body_t){.kind = MK_ENTRY_SNAPSHOT_MARKER, .marker = {R, 7, 1000}}, "R 07 e8 07");
    n = hex("R 07 e8 07", in, sizeof in);
    assert_int_equal(mk_raft_body_decode(MK_ENTRY_SNAPSHOT_MARKER, in, n, &d, NULL), MK_OK);
    assert_true(mk_id_eq(&d.marker.requester, &R) && d.marker.req_id == 7 && d.marker.requested_at_ms == 1000);
    /* the payload is a view into the input */
    n = hex("05 06 03 61 62 63", in, sizeof in);
    assert_int_equal(mk_raft_body_decode(MK_ENTRY_COMMAND, in, n, &d, NULL), MK_OK);
    assert_true(d.command.session == 5 && d.command.seq == 6 && d.command.payload.len == 3);
    assert_ptr_equal(d.command.payload.ptr, in + 3);
}

/* ---- round trips --------------------------------------------------------------------------------------- */

static void every_message_kind_round_trips_with_edge_values(void **state) {
    (void)state;
    const uint64_t M = UINT64_MAX;
    /* Hello: all zero; all maximal; each preference */
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_HELLO});
    round_trip(&(mk_raft_msg_t){.has_origin = true, .origin = A, .kind = MK_RAFT_HELLO,
                                .hello = {true, true, B, {M, M}, M, {MK_LEAD_RELUCTANT, UINT32_MAX}}});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_HELLO, .hello = {.preference = {MK_LEAD_OBSERVER, 0}}});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_HELLO, .hello = {.preference = {MK_LEAD_NORMAL, 9}}});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_HELLO, .hello = {.preference = {MK_LEAD_RELUCTANT, 1}}});

    /* AppendEntries: a heartbeat; every entry kind; indices up to the top of u64 */
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND, .append = {M, {M, M}, M, M, NULL, 0}});
    mk_buf_t cmd = MK_BUF_INIT, cfg = MK_BUF_INIT, mark = MK_BUF_INIT;
    assert_int_equal(mk_raft_body_encode(&(mk_raft_body_t){.kind = MK_ENTRY_COMMAND, .command = {M, M, {"x", 1}}}, &cmd, NULL),
                     MK_OK);
    mk_raft_body_t c = {.kind = MK_ENTRY_CONFIG};
    c.config.origin = O;
    c.config.nvoters = MK_RAFT_MAX_VOTERS;
    for (size_t i = 0; i < MK_RAFT_MAX_VOTERS; i++) {
        memset(c.config.voters[i].peer.b, 0x40, 32);
        c.config.voters[i].peer.b[31] = (uint8_t)i;
        c.config.voters[i].incarnation = i ? M - i : 0;
    }
    assert_int_equal(mk_raft_body_encode(&c, &cfg, NULL), MK_OK);
    assert_int_equal(mk_raft_body_encode(&(mk_raft_body_t){.kind = MK_ENTRY_SNAPSHOT_MARKER, .marker = {R, M, 0}}, &mark, NULL),
                     MK_OK);
    mk_log_entry_t ents[4] = {
        {M - 3, 1, MK_ENTRY_COMMAND, cmd.ptr, cmd.len},
        {M - 2, 1, MK_ENTRY_NOOP, NULL, 0},
        {M - 1, M, MK_ENTRY_CONFIG, cfg.ptr, cfg.len},
        {M, M, MK_ENTRY_SNAPSHOT_MARKER, mark.ptr, mark.len},
    };
    round_trip(&(mk_raft_msg_t){.has_origin = true, .origin = O, .kind = MK_RAFT_APPEND,
                                .append = {M, {1, M - 4}, M, 0, ents, 4}});
    for (size_t i = 0; i < 4; i++) ents[i].index = 1 + i;
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND, .append = {1, {0, 0}, 0, 0, ents, 4}});

    /* AppendResponse both ways */
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND_RESP});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND_RESP, .append_resp = {M, true, false, M, 0, 0, M}});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND_RESP, .append_resp = {M, false, true, 0, M, M, M}});

    /* votes */
    mk_raft_msg_kind_t votes[] = {MK_RAFT_PRE_VOTE, MK_RAFT_VOTE};
    mk_raft_msg_kind_t resps[] = {MK_RAFT_PRE_VOTE_RESP, MK_RAFT_VOTE_RESP};
    for (size_t i = 0; i < 2; i++) {
        round_trip(&(mk_raft_msg_t){.kind = votes[i]});
        round_trip(&(mk_raft_msg_t){.has_origin = true, .origin = B, .kind = votes[i], .vote = {M, {M, M}}});
        round_trip(&(mk_raft_msg_t){.kind = resps[i]});
        round_trip(&(mk_raft_msg_t){.kind = resps[i], .vote_resp = {M, true}});
    }

    /* Forward: one empty command; many commands with max ids */
    const mk_bytes_t one[] = {{NULL, 0}};
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD, .forward = {0, 0, 0, one, 1}});
    mk_bytes_t many[300];
    static uint8_t blob[300];
    for (size_t i = 0; i < 300; i++) {
        blob[i] = (uint8_t)i;
        many[i] = (mk_bytes_t){blob, i};
    }
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD, .forward = {M, M, M, many, 300}});

    /* ForwardAck: smallest and largest ranges */
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD_ACK, .forward_ack = {0, 0, 1, 1}});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD_ACK, .forward_ack = {M, M, 1, M}});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD_ACK, .forward_ack = {M, M, M, M}});

    /* ForwardNack: every reason, with and without a leader */
    for (unsigned r = 0; r < MK_RAFT_NACK_REASONS; r++) {
        uint64_t expected = r == MK_RAFT_NACK_OUT_OF_ORDER ? M : 0;
        round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD_NACK, .forward_nack = {0, (mk_raft_nack_t)r, expected, false, {{0}}}});
        round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD_NACK, .forward_nack = {M, (mk_raft_nack_t)r, 0, true, A}});
    }

    /* ReadIndex, NeedSnapshot */
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_READ_INDEX_REQ});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_READ_INDEX_REQ, .read_index_req = {M}});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_READ_INDEX_RESP});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_READ_INDEX_RESP, .read_index_resp = {M, true, M}});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_NEED_SNAPSHOT});
    round_trip(&(mk_raft_msg_t){.kind = MK_RAFT_NEED_SNAPSHOT, .need_snapshot = {M, M}});

    mk_buf_free(&cmd);
    mk_buf_free(&cfg);
    mk_buf_free(&mark);
}

static void decoded_entries_are_indexed_views_into_the_input(void **state) {
    (void)state;
    uint8_t in[128];
    size_t n = hex("00 01 07 06 0a 09 80 01 02 07 00 05 00 00 02 68 69 07 01 00", in, sizeof in);
    mk_raft_msg_t m;
    assert_int_equal(mk_raft_msg_decode(in, n, &m, NULL), MK_OK);
    assert_int_equal(m.kind, MK_RAFT_APPEND);
    assert_int_equal(m.append.nentries, 2);
    assert_int_equal(m.append.entries[0].index, 11);
    assert_int_equal(m.append.entries[1].index, 12);
    assert_int_equal(m.append.entries[0].kind, MK_ENTRY_COMMAND);
    assert_ptr_equal(m.append.entries[0].body, in + 12);
    assert_int_equal(m.append.entries[0].len, 5);
    assert_int_equal(m.append.entries[1].len, 0);
    mk_raft_body_t b;
    assert_int_equal(mk_raft_body_decode(m.append.entries[0].kind, m.append.entries[0].body, m.append.entries[0].len, &b,
                                         NULL), MK_OK);
    assert_int_equal(b.command.payload.len, 2);
    assert_ptr_equal(b.command.payload.ptr, in + 15);
    mk_raft_msg_free(&m);
    /* an empty AppendEntries allocates no array */
    n = hex("00 01 01 00 00 00 00 00", in, sizeof in);
    assert_int_equal(mk_raft_msg_decode(in, n, &m, NULL), MK_OK);
    assert_null(m.append.entries);
    mk_raft_msg_free(&m);
    /* Forward commands are views too */
    n = hex("00 07 01 00 00 02 01 61 02 62 63", in, sizeof in);
    assert_int_equal(mk_raft_msg_decode(in, n, &m, NULL), MK_OK);
    assert_int_equal(m.forward.ncommands, 2);
    assert_ptr_equal(m.forward.commands[1].ptr, in + 9);
    assert_int_equal(m.forward.commands[1].len, 2);
    mk_raft_msg_free(&m);
}

static void encoders_append_to_the_buffer(void **state) {
    (void)state;
    mk_buf_t b = MK_BUF_INIT;
    assert_int_equal(mk_buf_append(&b, "xy", 2), MK_OK);
    assert_int_equal(mk_raft_msg_encode(&(mk_raft_msg_t){.kind = MK_RAFT_VOTE_RESP, .vote_resp = {2, true}}, &b, NULL), MK_OK);
    assert_int_equal(mk_raft_body_encode(&(mk_raft_body_t){.kind = MK_ENTRY_COMMAND, .command = {1, 2, {"z", 1}}}, &b, NULL),
                     MK_OK);
    assert_int_equal(b.len, 2 + 4 + 4);
    assert_memory_equal(b.ptr, "xy\x00\x06\x02\x01\x01\x02\x01z", 10);
    /* a refused message leaves the buffer as it was */
    assert_int_equal(mk_raft_msg_encode(&(mk_raft_msg_t){.kind = MK_RAFT_VOTE, .vote = {1, {1, 0}}}, &b, NULL), MK_EINVAL);
    assert_int_equal(b.len, 10);
    mk_buf_free(&b);
    assert_string_equal(mk_raft_msg_kind_name(MK_RAFT_APPEND), "AppendEntries");
    assert_string_equal(mk_raft_msg_kind_name(MK_RAFT_NEED_SNAPSHOT), "NeedSnapshot");
    assert_string_equal(mk_raft_msg_kind_name(MK_RAFT_TIMEOUT_NOW), "TimeoutNow");
    assert_string_equal(mk_raft_msg_kind_name((mk_raft_msg_kind_t)14), "?");
}

/* ---- refusals ------------------------------------------------------------------------------------------ */

static void malformed_messages_are_refused_naming_the_field(void **state) {
    (void)state;
    /* envelope and tags */
    refused_hex("", "origin", "truncated");
    refused_hex("02", "origin", "bad option byte");
    refused_hex("01 00", "origin", "truncated");
    refused_hex("00 0e", "tag", "out of range");
    refused_hex("00 0d", "TimeoutNow", "term");
    refused_hex("00 0d 07 00", "TimeoutNow", "trailing");
    refused_hex("00 ff 01", "tag", "out of range");
    refused_hex("00 85 80 00", "tag", "");                 /* non-canonical varint */
    refused_hex("00", "tag", "truncated");
    /* trailing garbage, after each kind of message */
    refused_hex("00 05 05 04 ac 02 00", "RequestVote", "trailing");
    refused_hex("00 0c 00 00 ff", "NeedSnapshot", "trailing");
    refused_hex("00 01 01 00 00 00 00 00 00", "AppendEntries", "trailing");
    /* truncation inside a field names it */
    refused_hex("00 05 05 04 ac", "RequestVote.last.index", "truncated");
    refused_hex("00 01 07 06 0a 09 80 01 02 07 00 05 00 00 02 68", "AppendEntries.entries[0].body", "truncated");
    refused_hex("00 01 07 06 0a 09 80 01 02 07 00 05 00 00 02 68 69 07 01", "AppendEntries.entries[1].body", "truncated");
    /* u64 overflow and non-canonical varints */
    refused_hex("00 0a ff ff ff ff ff ff ff ff ff 02", "ReadIndexRequest.req_id", "overflow");
    refused_hex("00 0a 80 00", "ReadIndexRequest.req_id", "non-canonical");
    /* bools */
    refused_hex("00 00 00 02 00 00 00 00 00", "Hello.has_commands", "bad bool");
    refused_hex("00 02 03 02 0b 02 00 01", "AppendResponse.success", "bad bool");
    refused_hex("00 02 03 00 0b 02 00 02", "AppendResponse.syncing", "bad bool");
    refused_hex("00 04 02 ff", "PreVoteResponse.granted", "bad bool");
    refused_hex("00 06 02 02", "VoteResponse.granted", "bad bool");
    refused_hex("00 0b 01 02 00", "ReadIndexResponse.ok", "bad bool");
    /* options inside bodies */
    refused_hex("00 00 02 00 00 00 00 00 00", "Hello.origin", "bad option byte");
    refused_hex("00 09 01 00 02", "ForwardNack.leader", "bad option byte");
    /* preference */
    refused_hex("00 00 00 00 00 00 00 03 00", "Hello.preference.kind", "> 2");
    refused_hex("00 00 00 00 00 00 00 ff 00", "Hello.preference.kind", "> 2");
    refused_hex("00 00 00 00 00 00 00 01 00", "Hello.preference.factor", "Reluctant");
    refused_hex("00 00 00 00 00 00 00 01 ff ff ff ff 1f", "Hello.preference.factor", "overflow");  /* > u32 */
    /* cursors with index 0 but a term */
    refused_hex("00 00 00 00 05 00 00 00 00", "Hello.last", "index 0 with term 5");
    refused_hex("00 01 07 01 00 00 00 00", "AppendEntries.prev", "index 0 with term 1");
    refused_hex("00 03 02 01 00", "PreVote.last", "index 0");
    refused_hex("00 05 02 01 00", "RequestVote.last", "index 0");
    /* AppendEntries entries */
    refused_hex("00 01 07 06 0a 09 00 01 07 04 00", "AppendEntries.entries[0].kind", "entry kind 4 > 3");
    refused_hex("00 01 07 06 0a 09 00 02 07 01 00 07 ff 00", "AppendEntries.entries[1].kind", "entry kind 255");
    refused_hex("00 01 07 06 0a 09 00 01 07 01 01 00", "AppendEntries.entries[0].body", "trailing");  /* NOOP body */
    refused_hex("00 01 07 06 0a 09 00 01 07 00 04 00 00 02 61 62",
                "AppendEntries.entries[0].body.payload", "truncated");  /* the payload may not leave its body */
    refused_hex("00 01 07 06 0a 09 00 01 07 00 04 00 00 01 61 ff", "AppendEntries", "trailing");
    refused_hex("00 01 07 06 0a 09 00 01 07 00 05 00 00 01 61 00", "AppendEntries.entries[0].body", "trailing");
    refused_hex("00 01 07 06 0a 09 00 01 07 00 02 00 00", "AppendEntries.entries[0].body.payload", "truncated");
    refused_hex("00 01 07 06 0a 09 00 01 07 02 43 O 01 A 80 00", "AppendEntries.entries[0].body.voters[0].incarnation",
                "non-canonical");
    refused_hex("00 01 07 06 0a 09 00 01 07 02 63 O 02 B 01 A 01", "AppendEntries.entries[0].body.voters[1].peer",
                "not sorted");
    refused_hex("00 01 07 06 0a 09 00 01 07 03 21 R 01", "AppendEntries.entries[0].body.requested_at_ms", "truncated");
    refused_hex("00 01 07 06 0a 09 00 05 07 01 00", "AppendEntries.entries", "bytes left");  /* count vs bytes */
    refused_hex("00 01 07 07 ff ff ff ff ff ff ff ff ff 01 09 00 01 07 01 00", "AppendEntries.entries", "overflow");
    /* Forward */
    refused_hex("00 07 01 00 00 00", "Forward.commands", "no commands");
    refused_hex("00 07 01 00 00 02 01 61", "Forward.commands[1]", "truncated");
    refused_hex("00 07 01 00 00 03 00 00", "Forward.commands", "bytes left");
    refused_hex("00 07 01 00 00 01 05 61", "Forward.commands[0]", "truncated");
    /* ForwardAck ranges */
    refused_hex("00 08 02 03 00 00", "ForwardAck.first", "empty range");
    refused_hex("00 08 02 03 05 04", "ForwardAck.first", "empty range [5, 4]");
    /* ForwardNack reasons */
    refused_hex("00 09 01 04 00", "ForwardNack.reason", "out of range");
    refused_hex("00 09 01 01 00", "ForwardNack.leader", "truncated");     /* OUT_OF_ORDER without `expected`... */
    refused_hex("00 09 01 01", "ForwardNack.reason.expected", "truncated");
    refused_hex("00 09 01 00 00 2a", "ForwardNack", "trailing");
    refused_hex("00 09 01 00 2a 00", "ForwardNack.leader", "bad option byte");  /* no `expected` after NOT_LEADER */
}

/* A message of `count` elements (each the bytes of `elem`) after the header `head`. */
static uint8_t *repeat(const char *head, uint64_t count, const char *elem, size_t *n) {
    uint8_t h[64], el[64];
    size_t hn = hex(head, h, sizeof h), en = hex(elem, el, sizeof el);
    uint8_t *b = malloc(hn + 10 + count * en);
    assert_non_null(b);
    memcpy(b, h, hn);
    size_t at = hn;
    uint64_t v = count;
    while (v >= 0x80) {
        b[at++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[at++] = (uint8_t)v;
    if (en)
        for (uint64_t i = 0; i < count; i++, at += en) memcpy(b + at, el, en);
    *n = at;
    return b;
}

static void counts_are_capped_before_allocating(void **state) {
    (void)state;
    mk_raft_msg_t m;
    mk_error_t e;
    size_t n;
    /* entries: 4096 NOOPs decode (indices from prev + 1), 4097 are refused */
    uint8_t *b = repeat("00 01 01 01 64 00 00", MK_RAFT_MAX_ENTRIES, "01 01 00", &n);
    assert_int_equal(mk_raft_msg_decode(b, n, &m, &e), MK_OK);
    assert_int_equal(m.append.nentries, MK_RAFT_MAX_ENTRIES);
    assert_int_equal(m.append.entries[4095].index, 100 + 4096);
    mk_raft_msg_free(&m);
    free(b);
    b = repeat("00 01 01 01 64 00 00", MK_RAFT_MAX_ENTRIES + 1, "01 01 00", &n);
    assert_int_equal(mk_raft_msg_decode(b, n, &m, &e), MK_EPROTO);
    assert_non_null(strstr(e.msg, "AppendEntries.entries"));
    assert_non_null(strstr(e.msg, "cap 4096"));
    free(b);
    /* a huge count is refused before anything is allocated */
    b = repeat("00 01 01 01 64 00 00", UINT64_MAX, "", &n);
    assert_int_equal(mk_raft_msg_decode(b, n, &m, &e), MK_EPROTO);
    assert_non_null(strstr(e.msg, "cap"));
    free(b);
    /* commands */
    b = repeat("00 07 00 00 00", MK_RAFT_MAX_COMMANDS, "00", &n);
    assert_int_equal(mk_raft_msg_decode(b, n, &m, &e), MK_OK);
    assert_int_equal(m.forward.ncommands, MK_RAFT_MAX_COMMANDS);
    mk_raft_msg_free(&m);
    free(b);
    b = repeat("00 07 00 00 00", MK_RAFT_MAX_COMMANDS + 1, "00", &n);
    assert_int_equal(mk_raft_msg_decode(b, n, &m, &e), MK_EPROTO);
    assert_non_null(strstr(e.msg, "Forward.commands"));
    assert_non_null(strstr(e.msg, "cap 4096"));
    free(b);
    /* voters: 32 ascending decode, 33 are refused (in a body and inside AppendEntries) */
    mk_raft_body_t body;
    uint8_t cfg[2048];
    for (size_t k = 32; k <= 33; k++) {
        memcpy(cfg, O.b, 32);
        cfg[32] = (uint8_t)k;
        size_t at = 33;
        for (size_t i = 0; i < k; i++) {
            memset(cfg + at, 0x50, 32);
            cfg[at + 31] = (uint8_t)i;
            cfg[at + 32] = 1;
            at += 33;
        }
        int rc = mk_raft_body_decode(MK_ENTRY_CONFIG, cfg, at, &body, &e);
        if (k == 32) {
            assert_int_equal(rc, MK_OK);
            assert_int_equal(body.config.nvoters, 32);
        } else {
            assert_int_equal(rc, MK_EPROTO);
            assert_non_null(strstr(e.msg, "CONFIG.voters"));
            assert_non_null(strstr(e.msg, "cap 32"));
            /* the same body inside AppendEntries */
            uint8_t msg[2100];
            size_t mn = hex("00 01 01 00 00 00 00 01 01 02", msg, sizeof msg);
            msg[mn++] = (uint8_t)(0x80 | (at & 0x7f));
            msg[mn++] = (uint8_t)(at >> 7);
            memcpy(msg + mn, cfg, at);
            mn += at;
            assert_int_equal(mk_raft_msg_decode(msg, mn, &m, &e), MK_EPROTO);
            assert_non_null(strstr(e.msg, "AppendEntries.entries[0].body.voters"));
        }
    }
}

static void malformed_bodies_are_refused(void **state) {
    (void)state;
    body_refused_hex(4, "", "kind", "entry kind 4 > 3");
    body_refused_hex(MK_ENTRY_NOOP, "00", "NOOP", "trailing");
    body_refused_hex(MK_ENTRY_COMMAND, "00 00", "COMMAND.payload", "truncated");
    body_refused_hex(MK_ENTRY_COMMAND, "00 00 01 61 62", "COMMAND", "trailing");
    body_refused_hex(MK_ENTRY_COMMAND, "80 00 00 00", "COMMAND.session", "non-canonical");
    body_refused_hex(MK_ENTRY_CONFIG, "O 00", "CONFIG.voters", "no voters");
    body_refused_hex(MK_ENTRY_CONFIG, "O 02 A 01 A 02", "CONFIG.voters[1].peer", "duplicate voter");
    body_refused_hex(MK_ENTRY_CONFIG, "O 02 B 01 A 02", "CONFIG.voters[1].peer", "not sorted");
    body_refused_hex(MK_ENTRY_CONFIG, "O 02 A 01", "CONFIG.voters", "bytes left");
    body_refused_hex(MK_ENTRY_CONFIG, "O 01 A 01 00", "CONFIG", "trailing");
    body_refused_hex(MK_ENTRY_CONFIG, "O", "CONFIG.voters", "truncated");
    body_refused_hex(MK_ENTRY_SNAPSHOT_MARKER, "R 01", "SNAPSHOT_MARKER.requested_at_ms", "truncated");
    body_refused_hex(MK_ENTRY_SNAPSHOT_MARKER, "R 01 01 01", "SNAPSHOT_MARKER", "trailing");
    /* out == NULL only validates */
    uint8_t in[64];
    size_t n = hex("00 00 00", in, sizeof in);
    assert_int_equal(mk_raft_body_decode(MK_ENTRY_COMMAND, in, n, NULL, NULL), MK_OK);
    assert_int_equal(mk_raft_body_decode(MK_ENTRY_NOOP, in, 1, NULL, NULL), MK_EPROTO);
}

static void encode_refused(const mk_raft_msg_t *m, const char *field) {
    mk_buf_t b = MK_BUF_INIT;
    mk_error_t e;
    int rc = mk_raft_msg_encode(m, &b, &e);
    if (rc != MK_EINVAL) fail_msg("want MK_EINVAL for %s, got %d", field, rc);
    if (!strstr(e.msg, field)) fail_msg("want \"%s\" in \"%s\"", field, e.msg);
    assert_int_equal(b.len, 0);
    mk_buf_free(&b);
}

static void encoders_refuse_what_decoders_refuse(void **state) {
    (void)state;
    encode_refused(&(mk_raft_msg_t){.kind = (mk_raft_msg_kind_t)14}, "kind");
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_HELLO, .hello = {.preference = {(mk_lead_kind_t)3, 1}}},
                   "Hello.preference.kind");
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_HELLO, .hello = {.preference = {MK_LEAD_RELUCTANT, 0}}},
                   "Hello.preference.factor");
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_HELLO, .hello = {.last = {1, 0}}}, "Hello.last");
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_PRE_VOTE, .vote = {1, {1, 0}}}, "PreVote.last");
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_VOTE, .vote = {1, {1, 0}}}, "RequestVote.last");
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND, .append = {.prev = {2, 0}}}, "AppendEntries.prev");
    mk_log_entry_t ent = {6, 1, 4, NULL, 0};
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND, .append = {1, {1, 5}, 0, 0, &ent, 1}},
                   "AppendEntries.entries[0].kind");
    ent.kind = MK_ENTRY_NOOP;
    ent.index = 7;
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND, .append = {1, {1, 5}, 0, 0, &ent, 1}},
                   "AppendEntries.entries[0].index");
    ent.index = 6;
    ent.body = "x";
    ent.len = 1;
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND, .append = {1, {1, 5}, 0, 0, &ent, 1}},
                   "AppendEntries.entries[0].body");
    ent.body = NULL;
    ent.len = 0;
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND, .append = {1, {1, 5}, 0, 0, NULL, 1}},
                   "AppendEntries.entries");
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND, .append = {1, {1, 5}, 0, 0, &ent, MK_RAFT_MAX_ENTRIES + 1}},
                   "AppendEntries.entries");
    ent.index = 0;  /* would be UINT64_MAX + 1 */
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_APPEND, .append = {1, {1, UINT64_MAX}, 0, 0, &ent, 1}},
                   "AppendEntries.entries");
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD}, "Forward.commands");
    const mk_bytes_t bad_cmd[] = {{NULL, 3}};
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD, .forward = {1, 0, 0, bad_cmd, 1}}, "Forward.commands[0]");
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD, .forward = {1, 0, 0, bad_cmd, MK_RAFT_MAX_COMMANDS + 1}},
                   "Forward.commands");
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD_ACK, .forward_ack = {1, 1, 0, 0}}, "ForwardAck.first");
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD_ACK, .forward_ack = {1, 1, 3, 2}}, "ForwardAck.first");
    encode_refused(&(mk_raft_msg_t){.kind = MK_RAFT_FORWARD_NACK, .forward_nack = {.reason = (mk_raft_nack_t)4}},
                   "ForwardNack.reason");

    /* bodies */
    mk_buf_t b = MK_BUF_INIT;
    mk_error_t e;
    assert_int_equal(mk_raft_body_encode(&(mk_raft_body_t){.kind = 4}, &b, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "kind"));
    mk_raft_body_t c = {.kind = MK_ENTRY_CONFIG};
    assert_int_equal(mk_raft_body_encode(&c, &b, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "no voters"));
    c.config.nvoters = 33;
    assert_int_equal(mk_raft_body_encode(&c, &b, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "CONFIG.voters"));
    c.config.nvoters = 2;
    c.config.voters[0].peer = B;
    c.config.voters[1].peer = A;
    assert_int_equal(mk_raft_body_encode(&c, &b, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "CONFIG.voters[1].peer: voters not sorted"));
    c.config.voters[0].peer = A;
    assert_int_equal(mk_raft_body_encode(&c, &b, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "duplicate voter"));
    assert_int_equal(mk_raft_body_encode(&(mk_raft_body_t){.kind = MK_ENTRY_COMMAND, .command = {0, 0, {NULL, 1}}}, &b, &e),
                     MK_EINVAL);
    assert_non_null(strstr(e.msg, "COMMAND.payload"));
    assert_int_equal(b.len, 0);
    mk_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_message_vectors),
        cmocka_unit_test(golden_body_vectors),
        cmocka_unit_test(every_message_kind_round_trips_with_edge_values),
        cmocka_unit_test(decoded_entries_are_indexed_views_into_the_input),
        cmocka_unit_test(encoders_append_to_the_buffer),
        cmocka_unit_test(malformed_messages_are_refused_naming_the_field),
        cmocka_unit_test(counts_are_capped_before_allocating),
        cmocka_unit_test(malformed_bodies_are_refused),
        cmocka_unit_test(encoders_refuse_what_decoders_refuse),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
