/* unit/discovery/test_entry_codec.c — peer entries (spec 20 §1.2, §11 item 1): the golden body vector,
 * signed round trips, every single-bit flip of a signed entry refused, each canonical-form rejection,
 * limits, drafts (add/remove/no-op/limits), content ids across versions, and departures. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "discovery/entry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mk_id_t seq_id(uint8_t first) {
    mk_id_t id;
    for (int i = 0; i < 32; i++) id.b[i] = (uint8_t)(first + i);
    return id;
}

static size_t hex_to(const char *hex, uint8_t *out) {
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        sscanf(p, "%2x", &v);
        out[n++] = (uint8_t)v;
        p += 2;
    }
    return n;
}

/* The golden body: 01 00 N P e807 e907 00 01 T 00 00 00 00 (empty agent, one tag). */
static size_t golden_body(uint8_t *out) {
    size_t n = 0;
    out[n++] = 0x01;
    out[n++] = 0x00;
    mk_id_t N = seq_id(0x00), P = seq_id(0x20), T = seq_id(0x40);
    memcpy(out + n, N.b, 32), n += 32;
    memcpy(out + n, P.b, 32), n += 32;
    n += hex_to("e807 e907 00 01", out + n);
    memcpy(out + n, T.b, 32), n += 32;
    n += hex_to("00 00 00 00", out + n);
    return n;
}

static void golden_draft(mk_entry_draft_t *d) {
    mk_id_t N = seq_id(0x00), P = seq_id(0x20), T = seq_id(0x40);
    mk_entry_draft_init(d, &N, &P);
    d->agent[0] = 0;
    d->version = (mk_entry_version_t){1000, 1001};
    assert_int_equal(mk_entry_draft_add_tag(d, &T), MK_OK);
}

static void golden_vector_encodes_and_decodes(void **state) {
    (void)state;
    uint8_t want[200];
    size_t wn = golden_body(want);
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    golden_draft(d);
    const mk_peer_entry_t *e = NULL;
    assert_int_equal(mk_entry_draft_seal(d, NULL, &e, NULL), MK_OK);  /* unsigned: wire = body */
    assert_false(mk_peer_entry_is_signed(e));
    assert_int_equal(e->body_len, wn);
    assert_memory_equal(e->wire + e->body_off, want, wn);
    assert_int_equal(mk_peer_entry_version(e).start_ms, 1000);
    assert_int_equal(mk_peer_entry_version(e).update_ms, 1001);
    mk_peer_entry_unref(e);
    /* the same body inside a SignedEntry decodes to the same fields */
    uint8_t se[300];
    size_t sn = 0;
    se[sn++] = (uint8_t)wn;  /* < 128: one-byte varint */
    memcpy(se + sn, want, wn), sn += wn;
    memset(se + sn, 0xab, 64), sn += 64;
    mk_entry_reject_t why;
    assert_int_equal(mk_entry_decode_signed(se, sn, &e, &why, NULL), MK_OK);
    mk_id_t T = seq_id(0x40), P = seq_id(0x20);
    const mk_id_t *tags;
    assert_int_equal(mk_peer_entry_tags(e, &tags), 1);
    assert_memory_equal(tags[0].b, T.b, 32);
    assert_memory_equal(mk_peer_entry_id(e)->b, P.b, 32);
    assert_false(mk_entry_verify(e));  /* not a real signature */
    mk_peer_entry_unref(e);
    mk_entry_draft_free(d);
    free(d);
}

static const mk_peer_entry_t *make_signed(const char *seed, const mk_network_id_t *net, uint64_t update) {
    mk_secret_key_t sk;
    mk_secret_key_from_str(seed, &sk);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    mk_entry_draft_init(d, net, &pub);
    d->version = (mk_entry_version_t){1000, update};
    mk_id_t t = mk_id_from_str("matcher");
    mk_entry_draft_add_tag(d, &t);
    mk_sock_addr_t a = {.kind = MK_ADDR_IPV4, .port = 4000, .ip = {127, 0, 0, 1}};
    mk_entry_draft_set_addrs(d, &a, 1);
    mk_ticket_t tk = {mk_id_from_str("jwt"), (const uint8_t *)"token", 5};
    mk_entry_draft_add_ticket(d, &tk);
    const mk_peer_entry_t *e = NULL;
    assert_int_equal(mk_entry_draft_seal(d, &sk, &e, NULL), MK_OK);
    mk_entry_draft_free(d);
    free(d);
    return e;
}

static void signed_entry_round_trips_and_verifies(void **state) {
    (void)state;
    mk_network_id_t net = mk_id_from_str("net");
    const mk_peer_entry_t *e = make_signed("alice", &net, 2000);
    assert_true(mk_entry_verify(e));
    mk_buf_t w = MK_BUF_INIT;
    assert_int_equal(mk_peer_entry_encode(e, &w, NULL), MK_OK);
    mk_error_t err;
    const mk_peer_entry_t *back = mk_peer_entry_decode(&net, w.ptr, w.len, &err);
    assert_non_null(back);
    assert_int_equal(back->wire_len, w.len);
    assert_memory_equal(back->wire, w.ptr, w.len);  /* stored and forwarded unchanged */
    assert_true(mk_peer_entry_has_tag(back, "matcher"));
    assert_int_equal(mk_peer_entry_tickets(back, NULL), 1);
    char buf[MK_ADDR_STR_MAX];
    mk_peer_entry_addr_format(back, buf, sizeof buf);
    assert_non_null(strstr(buf, "@127.0.0.1:4000"));
    /* another network */
    mk_network_id_t other = mk_id_from_str("other");
    assert_null(mk_peer_entry_decode(&other, w.ptr, w.len, &err));
    assert_int_equal(err.code, MK_EWRONGNET);
    mk_peer_entry_unref(back);
    mk_peer_entry_unref(e);
    mk_buf_free(&w);
}

static void every_single_bit_flip_is_refused(void **state) {
    (void)state;
    mk_network_id_t net = mk_id_from_str("net");
    const mk_peer_entry_t *e = make_signed("bob", &net, 3000);
    uint8_t *buf = malloc(e->wire_len);
    for (size_t i = 0; i < e->wire_len * 8; i++) {
        memcpy(buf, e->wire, e->wire_len);
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
        mk_error_t err;
        const mk_peer_entry_t *x = mk_peer_entry_decode(&net, buf, e->wire_len, &err);
        if (x) fail_msg("bit %zu flipped was accepted", i);
        assert_true(err.code == MK_EBADSIG || err.code == MK_EPROTO || err.code == MK_E2BIG ||
                    err.code == MK_EWRONGNET);
    }
    free(buf);
    mk_peer_entry_unref(e);
}

/* Builds a SignedEntry around an arbitrary body (signature garbage: decoding does not check it). */
static int decode_body(const uint8_t *body, size_t n, mk_entry_reject_t *why, mk_error_t *err) {
    uint8_t *se = malloc(n + 80);
    size_t k = 0;
    size_t v = n;
    do {
        se[k++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    memcpy(se + k, body, n);
    memset(se + k + n, 0, 64);
    const mk_peer_entry_t *e = NULL;
    int rc = mk_entry_decode_signed(se, k + n + 64, &e, why, err);
    mk_peer_entry_unref(e);
    free(se);
    return rc;
}

static void canonical_form_rejections(void **state) {
    (void)state;
    uint8_t body[4096];
    size_t n = golden_body(body);
    mk_entry_reject_t why;
    mk_error_t err;
    assert_int_equal(decode_body(body, n, &why, &err), MK_OK);
    uint8_t b[4096];
    /* unknown format */
    memcpy(b, body, n);
    b[0] = 2;
    assert_int_equal(decode_body(b, n, &why, &err), MK_EPROTO);
    assert_non_null(strstr(err.msg, "format"));
    /* trailing byte */
    memcpy(b, body, n);
    b[n] = 0;
    assert_int_equal(decode_body(b, n + 1, &why, &err), MK_EPROTO);
    assert_non_null(strstr(err.msg, "trailing"));
    /* non-minimal varint: start 1000 as e8 87 00 */
    size_t at = 2 + 64;
    memcpy(b, body, at);
    size_t m = at;
    b[m++] = 0xe8, b[m++] = 0x87, b[m++] = 0x00;
    memcpy(b + m, body + at + 2, n - at - 2);
    m += n - at - 2;
    assert_int_equal(decode_body(b, m, &why, &err), MK_EPROTO);
    /* two tags, unsorted / duplicate */
    size_t tags_at = at + 4 + 1;  /* after start, update, addrs count */
    for (int dup = 0; dup <= 1; dup++) {
        memcpy(b, body, tags_at);
        m = tags_at;
        b[m++] = 2;
        mk_id_t hi = seq_id(0x60), lo = seq_id(0x40);
        memcpy(b + m, hi.b, 32), m += 32;
        memcpy(b + m, dup ? hi.b : lo.b, 32), m += 32;
        b[m++] = 0, b[m++] = 0, b[m++] = 0, b[m++] = 0;
        assert_int_equal(decode_body(b, m, &why, &err), MK_EPROTO);
        assert_int_equal(why, MK_REJ_MALFORMED);
        assert_non_null(strstr(err.msg, "tags"));
    }
    /* 65 tags: over the limit */
    memcpy(b, body, tags_at);
    m = tags_at;
    b[m++] = 65;
    for (int i = 0; i < 65; i++) {
        mk_id_t t = mk_id_from_u64((uint64_t)i);
        memset(t.b, 0, 32);
        t.b[31] = (uint8_t)i;
        memcpy(b + m, t.b, 32), m += 32;
    }
    b[m++] = 0, b[m++] = 0, b[m++] = 0, b[m++] = 0;
    assert_int_equal(decode_body(b, m, &why, &err), MK_E2BIG);
    assert_int_equal(why, MK_REJ_TOO_BIG);
    /* duplicate address */
    memcpy(b, body, at + 4);
    m = at + 4;
    b[m++] = 2;
    for (int i = 0; i < 2; i++) {
        b[m++] = 0;
        b[m++] = 6;
        b[m++] = 127, b[m++] = 0, b[m++] = 0, b[m++] = 1, b[m++] = 0x0f, b[m++] = 0xa0;
    }
    memcpy(b + m, body + at + 5, n - at - 5);
    m += n - at - 5;
    assert_int_equal(decode_body(b, m, &why, &err), MK_EPROTO);
    assert_non_null(strstr(err.msg, "duplicate"));
    /* truncation at every length */
    for (size_t cut = 0; cut < n; cut++) assert_int_not_equal(decode_body(body, cut, &why, &err), MK_OK);
}

static void oversize_entries_and_tickets_are_refused(void **state) {
    (void)state;
    mk_network_id_t net = mk_id_from_str("net");
    mk_secret_key_t sk;
    mk_secret_key_from_str("carol", &sk);
    mk_peer_id_t pub = mk_secret_key_public(&sk);
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    mk_entry_draft_init(d, &net, &pub);
    static uint8_t big[MK_TICKET_MAX_BYTES + 1];
    mk_ticket_t t = {mk_id_from_str("x"), big, sizeof big};
    assert_int_equal(mk_entry_draft_add_ticket(d, &t), MK_E2BIG);
    t.len = MK_TICKET_MAX_BYTES;
    assert_int_equal(mk_entry_draft_add_ticket(d, &t), MK_OK);
    big[0] = 1;
    assert_int_equal(mk_entry_draft_add_ticket(d, &t), MK_OK);
    const mk_peer_entry_t *e = NULL;
    mk_error_t err;
    assert_int_equal(mk_entry_draft_seal(d, &sk, &e, &err), MK_E2BIG);  /* two 32 KiB tickets > 64 KiB */
    assert_null(e);
    mk_entry_draft_free(d);
    /* 17 tickets */
    mk_entry_draft_init(d, &net, &pub);
    for (int i = 0; i < 16; i++) {
        uint8_t v = (uint8_t)i;
        mk_ticket_t s = {mk_id_from_str("x"), &v, 1};
        assert_int_equal(mk_entry_draft_add_ticket(d, &s), MK_OK);
    }
    uint8_t v = 99;
    mk_ticket_t s17 = {mk_id_from_str("x"), &v, 1};
    assert_int_equal(mk_entry_draft_add_ticket(d, &s17), MK_E2BIG);
    assert_int_equal(mk_entry_draft_remove_tickets_of(d, &s17.cls), 16);
    mk_entry_draft_free(d);
    free(d);
}

static void drafts_detect_no_ops_and_keep_order(void **state) {
    (void)state;
    mk_network_id_t net = mk_id_from_str("net");
    mk_peer_id_t p = mk_id_from_str("p");
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    mk_entry_draft_init(d, &net, &p);
    mk_id_t a = mk_id_from_str("a"), b = mk_id_from_str("b");
    assert_int_equal(mk_entry_draft_add_tag(d, &a), MK_OK);
    assert_int_equal(mk_entry_draft_add_tag(d, &a), MK_EALREADY);
    assert_int_equal(mk_entry_draft_add_tag(d, &b), MK_OK);
    assert_true(memcmp(d->tags[0].b, d->tags[1].b, 32) < 0);
    assert_int_equal(mk_entry_draft_remove_tag(d, &a), MK_OK);
    assert_int_equal(mk_entry_draft_remove_tag(d, &a), MK_ENOTFOUND);
    for (int i = 0; i < 63; i++) {
        mk_id_t t = mk_id_from_u64((uint64_t)i + 100);
        assert_int_equal(mk_entry_draft_add_tag(d, &t), MK_OK);
    }
    assert_int_equal(mk_entry_draft_add_tag(d, &a), MK_E2BIG);
    assert_int_equal(d->n_tags, 64);
    mk_entry_draft_free(d);
    free(d);
}

static void content_id_ignores_versions_only(void **state) {
    (void)state;
    mk_network_id_t net = mk_id_from_str("net");
    const mk_peer_entry_t *a = make_signed("dave", &net, 2000), *b = make_signed("dave", &net, 2500);
    assert_true(mk_entry_same_content(a, b));
    mk_entry_draft_t *d = calloc(1, sizeof *d);
    assert_int_equal(mk_entry_draft_from(d, b), MK_OK);
    mk_id_t x = mk_id_from_str("x");
    mk_entry_draft_add_tag(d, &x);
    mk_secret_key_t sk;
    mk_secret_key_from_str("dave", &sk);
    const mk_peer_entry_t *c = NULL;
    assert_int_equal(mk_entry_draft_seal(d, &sk, &c, NULL), MK_OK);
    assert_false(mk_entry_same_content(b, c));
    mk_secret_key_t other;
    mk_secret_key_from_str("eve", &other);
    const mk_peer_entry_t *forged = NULL;
    assert_int_equal(mk_entry_draft_seal(d, &other, &forged, NULL), MK_EINVAL);  /* key of another peer */
    mk_entry_draft_free(d);
    free(d);
    mk_peer_entry_unref(a);
    mk_peer_entry_unref(b);
    mk_peer_entry_unref(c);
}

static void departures_sign_encode_and_verify(void **state) {
    (void)state;
    mk_network_id_t net = mk_id_from_str("net");
    mk_secret_key_t sk;
    mk_secret_key_from_str("frank", &sk);
    mk_departure_t dep = {.peer = mk_secret_key_public(&sk), .version = {10, 20}, .at_ms = 30};
    mk_departure_sign(&dep, &net, &sk);
    assert_true(mk_departure_verify(&dep, &net));
    mk_buf_t w = MK_BUF_INIT;
    assert_int_equal(mk_departure_encode(&dep, &w), MK_OK);
    mk_departure_t back;
    assert_int_equal(mk_departure_decode(w.ptr, w.len, &back, NULL), MK_OK);
    assert_true(mk_departure_verify(&back, &net));
    mk_network_id_t other = mk_id_from_str("other");
    assert_false(mk_departure_verify(&back, &other));
    back.at_ms++;
    assert_false(mk_departure_verify(&back, &net));
    assert_int_equal(mk_departure_decode(w.ptr, w.len - 1, &back, NULL), MK_EPROTO);
    mk_buf_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_vector_encodes_and_decodes),
        cmocka_unit_test(signed_entry_round_trips_and_verifies),
        cmocka_unit_test(every_single_bit_flip_is_refused),
        cmocka_unit_test(canonical_form_rejections),
        cmocka_unit_test(oversize_entries_and_tickets_are_refused),
        cmocka_unit_test(drafts_detect_no_ops_and_keep_order),
        cmocka_unit_test(content_id_ignores_versions_only),
        cmocka_unit_test(departures_sign_encode_and_verify),
    };
    return cmocka_run_group_tests_name("unit.discovery.entry_codec", tests, NULL, NULL);
}
