/* unit/groups/test_bond_wire.c — the bond wire codec and proof maths (spec 40 §2.2, §2.3): frozen proof
 * and bond_id vectors, rebuilt from hand-written byte strings; a proof fails when any input byte changes
 * and the dialer / acceptor proofs differ (no reflection); golden HandshakeStart / HandshakeEnd /
 * BondMessage bytes both ways; round trips (0, 1 real signed entry, 256 entries); every refusal of the
 * decoders with the field named, and the encoders' matching refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/blake3.h"
#include "discovery/entry.h"
#include "groups/bond_wire.h"
#include "unit/groups_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static void assert_bytes_hex(const uint8_t *b, const char *hex) {
    char buf[65];
    for (int i = 0; i < 32; i++) snprintf(buf + 2 * i, 3, "%02x", b[i]);
    assert_string_equal(buf, hex);
}

/* The fixed proof inputs of groups_vectors.h. */
typedef struct {
    mk_group_key_t key;
    mk_id_t gid, dialer, acceptor;
    uint8_t exporter[32];
} proof_in_t;

static proof_in_t vector_inputs(void) {
    proof_in_t in;
    in.key = mk_group_key_from_secret("bond-key");
    for (int i = 0; i < 32; i++) {
        in.gid.b[i] = (uint8_t)i;
        in.exporter[i] = (uint8_t)(0x40 + i);
        in.dialer.b[i] = 0x11;
        in.acceptor.b[i] = 0x22;
    }
    return in;
}

static void proof_of(const proof_in_t *in, mk_bond_side_t side, uint8_t out[32]) {
    mk_bond_proof(&in->key, side, &in->gid, in->exporter, &in->dialer, &in->acceptor, out);
}

static bool verify_of(const proof_in_t *in, mk_bond_side_t side, const uint8_t proof[32]) {
    return mk_bond_proof_verify(&in->key, side, &in->gid, in->exporter, &in->dialer, &in->acceptor, proof);
}

/* A syntactically valid SignedEntry (extent only): varint body length ‖ body ‖ 64-byte signature. */
static size_t fake_entry(uint8_t *out, uint8_t fill, size_t body_len) {
    size_t n = 0;
    assert_true(body_len > 0 && body_len < 128);
    out[n++] = (uint8_t)body_len;
    memset(out + n, fill, body_len);
    n += body_len;
    memset(out + n, (uint8_t)(fill ^ 0xff), 64);
    return n + 64;
}

/* Adapters with a void * output so one helper checks all three decoders. */
static int dec_start(const void *p, size_t n, void *out, mk_error_t *e) { return mk_bond_hs_start_decode(p, n, out, e); }
static int dec_end(const void *p, size_t n, void *out, mk_error_t *e) { return mk_bond_hs_end_decode(p, n, out, e); }
static int dec_msg(const void *p, size_t n, void *out, mk_error_t *e) { return mk_bond_msg_decode(p, n, out, e); }

static void expect_decode_fail(int (*dec)(const void *, size_t, void *, mk_error_t *), const void *p, size_t n,
                               const char *what) {
    static uint8_t out[sizeof(mk_bond_handshake_t)];
    memset(out, 0xee, sizeof out);
    mk_error_t e;
    memset(&e, 0, sizeof e);
    assert_int_equal(dec(p, n, out, &e), MK_EPROTO);
    assert_int_equal(e.code, MK_EPROTO);
    if (what && !strstr(e.msg, what)) fail_msg("error \"%s\" does not mention \"%s\"", e.msg, what);
    size_t outlen = dec == dec_msg ? sizeof(mk_bond_msg_t) : sizeof(mk_bond_handshake_t);
    for (size_t i = 0; i < outlen; i++)
        if (out[i]) fail_msg("output not zeroed after a refusal");
}

/* ---- proofs ---- */

static void test_proof_vectors(void **state) {
    (void)state;
    proof_in_t in = vector_inputs();
    uint8_t pd[32], pa[32];
    proof_of(&in, MK_BOND_DIALER, pd);
    proof_of(&in, MK_BOND_ACCEPTOR, pa);
    assert_bytes_hex(pd, GV_PROOF_DIALER);
    assert_bytes_hex(pa, GV_PROOF_ACCEPTOR);
    mk_id_t bid = mk_bond_id(in.exporter);
    assert_bytes_hex(bid.b, GV_BOND_ID);
}

/* The exact strings hashed, built by hand and hashed in one piece. */
static void test_proof_layout(void **state) {
    (void)state;
    static const char *const labels[2] = {"mosaik/groups/1 proof from dialer", "mosaik/groups/1 proof from acceptor"};
    static const char *const want[2] = {GV_PROOF_DIALER, GV_PROOF_ACCEPTOR};
    for (int side = 0; side < 2; side++) {
        uint8_t buf[64 + 4 * 32];
        size_t n = strlen(labels[side]);
        memcpy(buf, labels[side], n);
        for (int i = 0; i < 32; i++) buf[n + (size_t)i] = (uint8_t)i;                /* group_id */
        for (int i = 0; i < 32; i++) buf[n + 32 + (size_t)i] = (uint8_t)(0x40 + i);  /* E */
        memset(buf + n + 64, 0x11, 32);                                              /* D */
        memset(buf + n + 96, 0x22, 32);                                              /* A */
        mk_blake3_t h;
        mk_blake3_init_keyed(&h, mk_id_from_str("bond-key").b);
        mk_blake3_update(&h, buf, n + 128);
        uint8_t out[32];
        mk_blake3_finalize(&h, out);
        assert_bytes_hex(out, want[side]);
    }
    uint8_t b[24 + 32];
    memcpy(b, "libmosaik/groups/bond-id", 24);
    for (int i = 0; i < 32; i++) b[24 + i] = (uint8_t)(0x40 + i);
    uint8_t out[32];
    mk_blake3(b, sizeof b, out);
    assert_bytes_hex(out, GV_BOND_ID);
}

static void test_proof_no_reflection(void **state) {
    (void)state;
    proof_in_t in = vector_inputs();
    uint8_t pd[32], pa[32];
    proof_of(&in, MK_BOND_DIALER, pd);
    proof_of(&in, MK_BOND_ACCEPTOR, pa);
    assert_memory_not_equal(pd, pa, 32);
    assert_true(verify_of(&in, MK_BOND_DIALER, pd));
    assert_true(verify_of(&in, MK_BOND_ACCEPTOR, pa));
    /* a dialer's proof sent back as the acceptor's (and vice versa) fails */
    assert_false(verify_of(&in, MK_BOND_ACCEPTOR, pd));
    assert_false(verify_of(&in, MK_BOND_DIALER, pa));
    /* swapping the roles of the two peers gives other proofs */
    proof_in_t sw = in;
    sw.dialer = in.acceptor;
    sw.acceptor = in.dialer;
    assert_false(verify_of(&sw, MK_BOND_DIALER, pd));
    assert_false(verify_of(&sw, MK_BOND_ACCEPTOR, pa));
    /* bond_id: same on both ends, depends only on E */
    mk_id_t b1 = mk_bond_id(in.exporter), b2 = mk_bond_id(sw.exporter);
    assert_true(mk_id_eq(&b1, &b2));
    in.exporter[31] ^= 1;
    b2 = mk_bond_id(in.exporter);
    assert_false(mk_id_eq(&b1, &b2));
}

/* Flipping any bit of any input (key, group_id, E, D, A) or of the proof makes verification fail. */
static void test_proof_every_byte(void **state) {
    (void)state;
    const proof_in_t in = vector_inputs();
    for (int side = 0; side < 2; side++) {
        uint8_t p[32];
        proof_of(&in, (mk_bond_side_t)side, p);
        for (int field = 0; field < 5; field++) {
            for (size_t i = 0; i < 32; i++) {
                proof_in_t x = in;
                uint8_t *f = field == 0 ? x.key.secret.b : field == 1 ? x.gid.b : field == 2 ? x.exporter
                           : field == 3 ? x.dialer.b : x.acceptor.b;
                f[i] ^= (uint8_t)(1u << (i % 8));
                assert_false(verify_of(&x, (mk_bond_side_t)side, p));
            }
        }
        for (size_t i = 0; i < 32; i++) {
            uint8_t q[32];
            memcpy(q, p, 32);
            q[i] ^= 0x80;
            assert_false(verify_of(&in, (mk_bond_side_t)side, q));
            assert_false(mk_bond_proof_eq(p, q));
        }
        assert_true(mk_bond_proof_eq(p, p));
    }
}

/* ---- handshake ---- */

static uint8_t N_ID[32], G_ID[32], PROOF[32];

static int setup(void **state) {
    (void)state;
    for (int i = 0; i < 32; i++) {
        N_ID[i] = 0xa0;
        G_ID[i] = 0xb0;
        PROOF[i] = (uint8_t)(0xc0 + i);
    }
    return 0;
}

/* HandshakeStart{N, G, incarnation 300, PROOF, [e1, e2]} written out by hand. */
static size_t golden_start(uint8_t *buf, size_t *e1_off, size_t *e1_len, size_t *e2_off, size_t *e2_len) {
    size_t n = 0;
    memcpy(buf + n, N_ID, 32), n += 32;
    memcpy(buf + n, G_ID, 32), n += 32;
    buf[n++] = 0xac, buf[n++] = 0x02; /* 300 */
    memcpy(buf + n, PROOF, 32), n += 32;
    buf[n++] = 2;
    *e1_off = n;
    n += *e1_len = fake_entry(buf + n, 0x01, 1);
    *e2_off = n;
    n += *e2_len = fake_entry(buf + n, 0x02, 5);
    return n;
}

static void test_handshake_golden(void **state) {
    (void)state;
    uint8_t buf[512];
    size_t o1, l1, o2, l2;
    size_t n = golden_start(buf, &o1, &l1, &o2, &l2);
    mk_bond_handshake_t *h = malloc(sizeof *h);
    assert_non_null(h);
    assert_int_equal(mk_bond_hs_start_decode(buf, n, h, NULL), MK_OK);
    assert_memory_equal(h->network_id.b, N_ID, 32);
    assert_memory_equal(h->group_id.b, G_ID, 32);
    assert_int_equal(h->incarnation, 300);
    assert_memory_equal(h->proof, PROOF, 32);
    assert_int_equal(h->nbonds, 2);
    assert_ptr_equal(h->bonds[0].ptr, buf + o1);
    assert_int_equal(h->bonds[0].len, l1);
    assert_ptr_equal(h->bonds[1].ptr, buf + o2);
    assert_int_equal(h->bonds[1].len, l2);
    mk_buf_t out = MK_BUF_INIT;
    assert_int_equal(mk_bond_hs_start_encode(h, &out, NULL), MK_OK);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.ptr, buf, n);
    mk_buf_free(&out);

    /* HandshakeEnd is the same without the two ids */
    const uint8_t *end = buf + 64;
    size_t en = n - 64;
    assert_int_equal(mk_bond_hs_end_decode(end, en, h, NULL), MK_OK);
    assert_true(mk_id_is_zero(&h->network_id) && mk_id_is_zero(&h->group_id));
    assert_int_equal(h->incarnation, 300);
    assert_memory_equal(h->proof, PROOF, 32);
    assert_int_equal(h->nbonds, 2);
    assert_int_equal(mk_bond_hs_end_encode(h, &out, NULL), MK_OK);
    assert_int_equal(out.len, en);
    assert_memory_equal(out.ptr, end, en);
    mk_buf_free(&out);
    free(h);
}

static void test_handshake_round_trips(void **state) {
    (void)state;
    mk_bond_handshake_t *h = calloc(1, sizeof *h), *d = malloc(sizeof *d);
    assert_non_null(h);
    assert_non_null(d);
    /* a real signed entry: decodes and verifies from the view */
    mk_secret_key_t sk;
    mk_secret_key_from_str("bond-test-peer", &sk);
    mk_peer_id_t pk = mk_secret_key_public(&sk);
    mk_network_id_t net = mk_id_from_str("net");
    mk_entry_draft_t *draft = malloc(sizeof *draft);
    assert_non_null(draft);
    mk_entry_draft_init(draft, &net, &pk);
    mk_id_t gid = mk_id_from_str("group");
    assert_int_equal(mk_entry_draft_add_group(draft, &gid), MK_OK);
    const mk_peer_entry_t *entry = NULL;
    assert_int_equal(mk_entry_draft_seal(draft, &sk, &entry, NULL), MK_OK);
    mk_entry_draft_free(draft);
    free(draft);

    for (int variant = 0; variant < 3; variant++) {
        memset(h, 0, sizeof *h);
        h->network_id = net;
        h->group_id = gid;
        h->incarnation = variant == 0 ? 0 : variant == 1 ? UINT64_MAX : 1;
        memset(h->proof, variant, 32);
        static uint8_t fakes[MK_BOND_MAX_BONDS][80];
        if (variant == 1) {
            h->nbonds = 1;
            h->bonds[0] = (mk_bytes_t){entry->wire, entry->wire_len};
        } else if (variant == 2) {
            h->nbonds = MK_BOND_MAX_BONDS;
            for (size_t i = 0; i < MK_BOND_MAX_BONDS; i++)
                h->bonds[i] = (mk_bytes_t){fakes[i], fake_entry(fakes[i], (uint8_t)i, 1 + i % 8)};
        }
        for (int start = 0; start < 2; start++) {
            mk_buf_t b = MK_BUF_INIT, b2 = MK_BUF_INIT;
            assert_int_equal((start ? mk_bond_hs_start_encode : mk_bond_hs_end_encode)(h, &b, NULL), MK_OK);
            assert_int_equal((start ? mk_bond_hs_start_decode : mk_bond_hs_end_decode)(b.ptr, b.len, d, NULL), MK_OK);
            if (start) {
                assert_true(mk_id_eq(&d->network_id, &h->network_id));
                assert_true(mk_id_eq(&d->group_id, &h->group_id));
            }
            assert_int_equal(d->incarnation, h->incarnation);
            assert_memory_equal(d->proof, h->proof, 32);
            assert_int_equal(d->nbonds, h->nbonds);
            for (size_t i = 0; i < h->nbonds; i++) {
                assert_int_equal(d->bonds[i].len, h->bonds[i].len);
                assert_memory_equal(d->bonds[i].ptr, h->bonds[i].ptr, h->bonds[i].len);
            }
            if (variant == 1) {
                const mk_peer_entry_t *back = NULL;
                mk_entry_reject_t why;
                assert_int_equal(mk_entry_decode_signed(d->bonds[0].ptr, d->bonds[0].len, &back, &why, NULL), MK_OK);
                assert_true(mk_entry_verify(back));
                assert_true(mk_id_eq(&back->peer, &pk));
                mk_peer_entry_unref(back);
            }
            assert_int_equal((start ? mk_bond_hs_start_encode : mk_bond_hs_end_encode)(d, &b2, NULL), MK_OK);
            assert_int_equal(b2.len, b.len);
            assert_memory_equal(b2.ptr, b.ptr, b.len);
            mk_buf_free(&b);
            mk_buf_free(&b2);
        }
    }
    mk_peer_entry_unref(entry);
    free(h);
    free(d);
}

static void test_handshake_refusals(void **state) {
    (void)state;
    uint8_t buf[1024];
    size_t o1, l1, o2, l2;
    size_t n = golden_start(buf, &o1, &l1, &o2, &l2);
    /* every strict prefix and one trailing byte */
    for (size_t k = 0; k < n; k++) expect_decode_fail(dec_start, buf, k, "HandshakeStart");
    buf[n] = 0;
    expect_decode_fail(dec_start, buf, n + 1, "trailing");
    for (size_t k = 0; k < n - 64; k++) expect_decode_fail(dec_end, buf + 64, k, "HandshakeEnd");
    expect_decode_fail(dec_end, buf + 64, n - 64 + 1, "trailing");

    /* incarnation: non-canonical and over 64 bits */
    uint8_t t[512];
    memcpy(t, buf, 64);
    t[64] = 0x80, t[65] = 0x00;
    memcpy(t + 66, PROOF, 32);
    t[98] = 0;
    expect_decode_fail(dec_start, t, 99, NULL);
    size_t m = 64;
    for (int i = 0; i < 10; i++) t[m++] = 0xff;
    t[m++] = 0x01;
    memcpy(t + m, PROOF, 32), m += 32;
    t[m++] = 0;
    expect_decode_fail(dec_start, t, m, NULL);

    /* bonds: count over the cap (checked before anything else), count beyond the input */
    size_t base = 64 + 1 + 32; /* N G inc=0 proof */
    memcpy(t, buf, 64);
    t[64] = 0;
    memcpy(t + 65, PROOF, 32);
    t[base] = 0x81, t[base + 1] = 0x02; /* 257 */
    expect_decode_fail(dec_start, t, base + 2, "bonds: 257 entries over 256");
    t[base] = 3;                             /* 3 entries announced, 1 present */
    size_t l = fake_entry(t + base + 1, 7, 1);
    expect_decode_fail(dec_start, t, base + 1 + l, "bonds: 3 entries");
    /* bonds: an entry with an empty body; a truncated signature */
    t[base] = 2; /* an empty-body entry (65 bytes) then a 67-byte one: passes the count check */
    t[base + 1] = 0;
    memset(t + base + 2, 0, 64);
    l = fake_entry(t + base + 66, 7, 2);
    expect_decode_fail(dec_start, t, base + 66 + l, "bonds[0]: empty entry body");
    t[base] = 1;
    l = fake_entry(t + base + 1, 7, 4);
    expect_decode_fail(dec_start, t, base + 1 + l - 1, "HandshakeStart");

    /* an entry over MK_ENTRY_MAX_BYTES */
    size_t big = MK_ENTRY_MAX_BYTES; /* body length: the whole entry is 3 + big + 64 bytes */
    size_t total = base + 1 + 3 + big + 64;
    uint8_t *huge = calloc(1, total);
    assert_non_null(huge);
    memcpy(huge, t, base);
    huge[base] = 1;
    huge[base + 1] = (uint8_t)(0x80 | (big & 0x7f));
    huge[base + 2] = (uint8_t)(0x80 | ((big >> 7) & 0x7f));
    huge[base + 3] = (uint8_t)(big >> 14);
    memset(huge + base + 4, 0x55, big);
    expect_decode_fail(dec_start, huge, total, "over 65536");
    /* the encoder refuses it too */
    mk_bond_handshake_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->nbonds = 1;
    h->bonds[0] = (mk_bytes_t){huge + base + 1, 3 + big + 64};
    mk_buf_t out = MK_BUF_INIT;
    mk_error_t e;
    assert_int_equal(mk_bond_hs_start_encode(h, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "bonds[0]"));
    assert_int_equal(out.len, 0);
    free(huge);

    /* encoder: too many bonds, views that are not exactly one entry */
    uint8_t ent[80];
    size_t el = fake_entry(ent, 9, 3);
    h->nbonds = MK_BOND_MAX_BONDS + 1;
    assert_int_equal(mk_bond_hs_end_encode(h, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "bonds: 257"));
    h->nbonds = 2;
    h->bonds[0] = (mk_bytes_t){ent, el};
    h->bonds[1] = (mk_bytes_t){ent, el - 1};
    assert_int_equal(mk_bond_hs_start_encode(h, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "bonds[1]"));
    uint8_t two[200];
    memcpy(two, ent, el);
    two[el] = 0;
    h->bonds[1] = (mk_bytes_t){two, el + 1}; /* trailing byte inside the view */
    assert_int_equal(mk_bond_hs_start_encode(h, &out, &e), MK_EINVAL);
    h->bonds[1] = (mk_bytes_t){NULL, 0};
    assert_int_equal(mk_bond_hs_end_encode(h, &out, &e), MK_EINVAL);
    assert_int_equal(out.len, 0);
    /* appends to what out holds */
    h->nbonds = 1;
    assert_int_equal(mk_buf_append(&out, "xy", 2), MK_OK);
    assert_int_equal(mk_bond_hs_end_encode(h, &out, NULL), MK_OK);
    assert_int_equal(out.len, 2 + 1 + 32 + 1 + el);
    assert_memory_equal(out.ptr, "xy", 2);
    mk_buf_free(&out);
    free(h);
}

/* ---- bond messages ---- */

static void test_msg_golden(void **state) {
    (void)state;
    uint8_t ent[80];
    size_t el = fake_entry(ent, 0x33, 2);
    uint8_t peer[32];
    memset(peer, 0x44, 32);
    for (uint8_t tag = 0; tag < MK_BOND_MSG_KINDS; tag++) {
        uint8_t buf[128];
        size_t n = 0;
        buf[n++] = tag;
        switch (tag) {
        case MK_BOND_PEER_ENTRY_UPDATE:
        case MK_BOND_BOND_FORMED: memcpy(buf + n, ent, el), n += el; break;
        case MK_BOND_BOND_CLOSED: memcpy(buf + n, peer, 32), n += 32; break;
        case MK_BOND_RAFT:
        case MK_BOND_STATE_SYNC: buf[n++] = 3, buf[n++] = 'a', buf[n++] = 'b', buf[n++] = tag; break;
        default: break;
        }
        mk_bond_msg_t m;
        assert_int_equal(mk_bond_msg_decode(buf, n, &m, NULL), MK_OK);
        assert_int_equal(m.kind, tag);
        if (tag == MK_BOND_PEER_ENTRY_UPDATE || tag == MK_BOND_BOND_FORMED) {
            assert_ptr_equal(m.entry.ptr, buf + 1);
            assert_int_equal(m.entry.len, el);
        }
        if (tag == MK_BOND_BOND_CLOSED) assert_memory_equal(m.peer.b, peer, 32);
        if (tag == MK_BOND_RAFT || tag == MK_BOND_STATE_SYNC) {
            assert_ptr_equal(m.payload.ptr, buf + 2);
            assert_int_equal(m.payload.len, 3);
        }
        mk_buf_t out = MK_BUF_INIT;
        assert_int_equal(mk_bond_msg_encode(&m, &out, NULL), MK_OK);
        assert_int_equal(out.len, n);
        assert_memory_equal(out.ptr, buf, n);
        mk_buf_free(&out);
        /* strict prefixes and a trailing byte fail */
        for (size_t k = 0; k < n; k++) expect_decode_fail(dec_msg, buf, k, "BondMessage");
        buf[n] = 0;
        expect_decode_fail(dec_msg, buf, n + 1, "trailing");
    }
}

static void test_msg_refusals(void **state) {
    (void)state;
    /* tags 8 and beyond, including multi-byte varints */
    static const uint8_t tags[][2] = {{8, 0}, {9, 0}, {0x7f, 0}, {0x80, 0x01}, {0xff, 0x0f}};
    static const size_t tag_len[] = {1, 1, 1, 2, 2};
    for (size_t i = 0; i < sizeof tag_len / sizeof tag_len[0]; i++)
        expect_decode_fail(dec_msg, tags[i], tag_len[i], "out of range");
    static const uint8_t noncanon[] = {0x80, 0x00};
    expect_decode_fail(dec_msg, noncanon, 2, NULL);
    /* empty payloads, payload longer than the frame */
    static const uint8_t empty_raft[] = {6, 0}, empty_sync[] = {7, 0}, long_raft[] = {6, 5, 1, 2};
    expect_decode_fail(dec_msg, empty_raft, sizeof empty_raft, "Raft: empty payload");
    expect_decode_fail(dec_msg, empty_sync, sizeof empty_sync, "StateSync: empty payload");
    expect_decode_fail(dec_msg, long_raft, sizeof long_raft, NULL);
    /* an entry with an empty body */
    uint8_t bad[65] = {3, 0};
    expect_decode_fail(dec_msg, bad, sizeof bad, "PeerEntryUpdate[0]: empty entry body");
    bad[0] = 4;
    expect_decode_fail(dec_msg, bad, sizeof bad, "BondFormed[0]: empty entry body");

    /* encoder refusals */
    mk_bond_msg_t m;
    memset(&m, 0, sizeof m);
    mk_buf_t out = MK_BUF_INIT;
    mk_error_t e;
    m.kind = (mk_bond_msg_kind_t)8;
    assert_int_equal(mk_bond_msg_encode(&m, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "kind 8"));
    m.kind = MK_BOND_RAFT;
    assert_int_equal(mk_bond_msg_encode(&m, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "Raft: payload is empty"));
    m.kind = MK_BOND_STATE_SYNC;
    assert_int_equal(mk_bond_msg_encode(&m, &out, &e), MK_EINVAL);
    m.kind = MK_BOND_BOND_FORMED;
    assert_int_equal(mk_bond_msg_encode(&m, &out, &e), MK_EINVAL);
    assert_non_null(strstr(e.msg, "BondFormed: entry"));
    uint8_t ent[80];
    size_t el = fake_entry(ent, 1, 1);
    m.kind = MK_BOND_PEER_ENTRY_UPDATE;
    m.entry = (mk_bytes_t){ent, el + 0};
    assert_int_equal(mk_bond_msg_encode(&m, &out, NULL), MK_OK);
    out.len = 0;
    m.entry = (mk_bytes_t){ent, el - 1};
    assert_int_equal(mk_bond_msg_encode(&m, &out, &e), MK_EINVAL);
    assert_int_equal(out.len, 0);
    mk_buf_free(&out);
}

/* A Raft payload of realistic size survives the envelope; broadcasting shares one encoding. */
static void test_msg_large_payload(void **state) {
    (void)state;
    size_t n = 100000;
    uint8_t *p = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 7);
    mk_bond_msg_t m = {.kind = MK_BOND_RAFT, .payload = {p, n}}, d;
    mk_buf_t out = MK_BUF_INIT;
    assert_int_equal(mk_bond_msg_encode(&m, &out, NULL), MK_OK);
    assert_int_equal(out.len, 1 + 3 + n); /* tag, 3-byte varint length */
    assert_int_equal(mk_bond_msg_decode(out.ptr, out.len, &d, NULL), MK_OK);
    assert_int_equal(d.kind, MK_BOND_RAFT);
    assert_int_equal(d.payload.len, n);
    assert_memory_equal(d.payload.ptr, p, n);
    mk_buf_free(&out);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proof_vectors),         cmocka_unit_test(test_proof_layout),
        cmocka_unit_test(test_proof_no_reflection),   cmocka_unit_test(test_proof_every_byte),
        cmocka_unit_test(test_handshake_golden),      cmocka_unit_test(test_handshake_round_trips),
        cmocka_unit_test(test_handshake_refusals),    cmocka_unit_test(test_msg_golden),
        cmocka_unit_test(test_msg_refusals),          cmocka_unit_test(test_msg_large_payload),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
