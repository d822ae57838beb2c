/* discovery/wire.c — encoders and strict decoders of the discovery messages (spec 20 §3.6, §4, §5). */
#include "discovery/wire.h"

#include "core/codec.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

#define SIGNED_ENTRY_MIN 66 /* 1-byte length + 1-byte body + 64-byte signature */

/* ---- SignedEntry views ---- */

static mk_bytes_t read_signed_entry(mk_dec_t *d) {
    const uint8_t *start = d->p;
    size_t at = mk_dec_offset(d);
    mk_bytes_t body = mk_dec_bytes(d);
    mk_dec_raw_view(d, 64);
    if (!mk_dec_ok(d)) return (mk_bytes_t){NULL, 0};
    size_t len = (size_t)(d->p - start);
    if (len > MK_ENTRY_MAX_BYTES) {
        mk_dec_fail(d, "signed entry of %zu bytes over %d at %zu", len, MK_ENTRY_MAX_BYTES, at);
        return (mk_bytes_t){NULL, 0};
    }
    (void)body;
    return (mk_bytes_t){start, len};
}

int mk_wire_entry_peer(mk_bytes_t se, mk_peer_id_t *out) {
    mk_dec_t d;
    mk_dec_init(&d, se.ptr, se.len);
    mk_bytes_t body = mk_dec_bytes(&d);
    if (!mk_dec_ok(&d)) return MK_EPROTO;
    mk_dec_t b;
    mk_dec_init(&b, body.ptr, body.len);
    mk_dec_u8(&b);
    mk_dec_str(&b);
    mk_network_id_t net;
    mk_dec_id(&b, &net);
    mk_dec_id(&b, out);
    return mk_dec_ok(&b) ? MK_OK : MK_EPROTO;
}

size_t mk_wire_sample_ids(const mk_wire_msg_t *m, mk_peer_id_t *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < m->nsample && k < cap; i++)
        if (mk_wire_entry_peer(m->sample[i], &out[k]) == MK_OK) k++;
    return k;
}

static void read_sample(mk_dec_t *d, mk_wire_msg_t *m) {
    size_t at = mk_dec_offset(d);
    uint64_t n = mk_dec_uvar(d, 32);
    if (!mk_dec_ok(d)) return;
    if (n > MK_WIRE_SAMPLE_MAX) {
        mk_dec_fail(d, "sample of %llu entries over %d at %zu", (unsigned long long)n, MK_WIRE_SAMPLE_MAX, at);
        return;
    }
    for (size_t i = 0; i < n && mk_dec_ok(d); i++) m->sample[i] = read_signed_entry(d);
    if (mk_dec_ok(d)) m->nsample = (size_t)n;
}

static mk_bytes_t *read_entry_list(mk_dec_t *d, size_t *count) {
    *count = 0;
    size_t n = mk_dec_count(d, SIGNED_ENTRY_MIN);
    if (!mk_dec_ok(d) || n == 0) return NULL;
    mk_bytes_t *v = malloc(n * sizeof *v);
    if (!v) {
        mk_dec_fail(d, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n && mk_dec_ok(d); i++) v[i] = read_signed_entry(d);
    if (!mk_dec_ok(d)) {
        free(v);
        return NULL;
    }
    *count = n;
    return v;
}

/* ---- announce ---- */

int mk_wire_decode_announce(const void *p, size_t n, mk_wire_msg_t *m, mk_error_t *e) {
    memset(m, 0, sizeof *m);
    if (n > MK_WIRE_FRAME_MAX + 64) return MK_ERR(e, MK_E2BIG, "announce frame of %zu bytes", n);
    mk_dec_t d;
    mk_dec_init(&d, p, n);
    uint32_t tag = mk_dec_tag(&d, 32);
    if (mk_dec_ok(&d) && tag >= MK_WIRE_ANNOUNCE_TAGS) mk_dec_fail(&d, "reserved message tag %u", tag);
    m->kind = (mk_wire_kind_t)tag;
    if (mk_dec_ok(&d)) switch (m->kind) {
        case MK_WIRE_JOIN:
            mk_dec_id(&d, &m->network);
            m->entry = read_signed_entry(&d);
            break;
        case MK_WIRE_NEIGHBOR:
            mk_dec_id(&d, &m->network);
            m->entry = read_signed_entry(&d);
            m->flag = mk_dec_bool(&d);
            break;
        case MK_WIRE_WELCOME: m->entry = read_signed_entry(&d); break;
        case MK_WIRE_NEIGHBOR_REPLY:
            m->flag = mk_dec_bool(&d);
            m->entry = read_signed_entry(&d);
            break;
        case MK_WIRE_FORWARD_JOIN:
            m->entry = read_signed_entry(&d);
            m->ttl = mk_dec_u8(&d);
            break;
        case MK_WIRE_DISCONNECT: m->flag = mk_dec_bool(&d); break;
        case MK_WIRE_SHUFFLE:
            m->entry = read_signed_entry(&d);
            m->ttl = mk_dec_u8(&d);
            read_sample(&d, m);
            break;
        case MK_WIRE_SHUFFLE_REPLY:
            mk_dec_id(&d, &m->network);
            read_sample(&d, m);
            break;
        case MK_WIRE_ENTRIES: m->entries = read_entry_list(&d, &m->nentries); break;
        case MK_WIRE_DEPART: m->entry = mk_dec_raw_view(&d, mk_dec_remaining(&d)); break;
        case MK_WIRE_PING:
        case MK_WIRE_PONG: m->nonce = mk_dec_u64(&d); break;
        default: break;
        }
    int rc = mk_dec_finish_err(&d, e, "announce message");
    if (rc != MK_OK) mk_wire_msg_free(m);
    return rc;
}

void mk_wire_msg_free(mk_wire_msg_t *m) {
    free(m->entries);
    m->entries = NULL;
    m->nentries = 0;
}

static int finish(mk_enc_t *enc, mk_buf_t *out) {
    mk_buf_t b = MK_BUF_INIT;
    int rc = mk_enc_finish(enc, &b);
    if (rc != MK_OK) return rc;
    rc = mk_buf_append(out, b.ptr, b.len);
    mk_buf_free(&b);
    return rc;
}

static void start(mk_enc_t *enc, uint32_t tag) {
    mk_enc_init(enc, MK_WIRE_FRAME_MAX + 4096);
    mk_enc_tag(enc, tag);
}

int mk_wire_encode_join(const mk_network_id_t *net, mk_bytes_t entry, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, MK_WIRE_JOIN);
    mk_enc_id(&enc, net);
    mk_enc_raw(&enc, entry.ptr, entry.len);
    return finish(&enc, out);
}

int mk_wire_encode_neighbor(const mk_network_id_t *net, mk_bytes_t entry, bool high, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, MK_WIRE_NEIGHBOR);
    mk_enc_id(&enc, net);
    mk_enc_raw(&enc, entry.ptr, entry.len);
    mk_enc_bool(&enc, high);
    return finish(&enc, out);
}

int mk_wire_encode_welcome(mk_bytes_t entry, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, MK_WIRE_WELCOME);
    mk_enc_raw(&enc, entry.ptr, entry.len);
    return finish(&enc, out);
}

int mk_wire_encode_neighbor_reply(bool accept, mk_bytes_t entry, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, MK_WIRE_NEIGHBOR_REPLY);
    mk_enc_bool(&enc, accept);
    mk_enc_raw(&enc, entry.ptr, entry.len);
    return finish(&enc, out);
}

int mk_wire_encode_forward_join(mk_bytes_t joiner, uint8_t ttl, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, MK_WIRE_FORWARD_JOIN);
    mk_enc_raw(&enc, joiner.ptr, joiner.len);
    mk_enc_u8(&enc, ttl);
    return finish(&enc, out);
}

int mk_wire_encode_disconnect(bool alive, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, MK_WIRE_DISCONNECT);
    mk_enc_bool(&enc, alive);
    return finish(&enc, out);
}

static void put_sample(mk_enc_t *enc, const mk_bytes_t *sample, size_t k) {
    if (k > MK_WIRE_SAMPLE_MAX) k = MK_WIRE_SAMPLE_MAX;
    mk_enc_count(enc, k);
    for (size_t i = 0; i < k; i++) mk_enc_raw(enc, sample[i].ptr, sample[i].len);
}

int mk_wire_encode_shuffle(mk_bytes_t origin, uint8_t ttl, const mk_bytes_t *sample, size_t k, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, MK_WIRE_SHUFFLE);
    mk_enc_raw(&enc, origin.ptr, origin.len);
    mk_enc_u8(&enc, ttl);
    put_sample(&enc, sample, k);
    return finish(&enc, out);
}

int mk_wire_encode_shuffle_reply(const mk_network_id_t *net, const mk_bytes_t *sample, size_t k, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, MK_WIRE_SHUFFLE_REPLY);
    mk_enc_id(&enc, net);
    put_sample(&enc, sample, k);
    return finish(&enc, out);
}

int mk_wire_encode_entries(const mk_peer_entry_t *const *entries, size_t n, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, MK_WIRE_ENTRIES);
    mk_enc_count(&enc, n);
    for (size_t i = 0; i < n; i++) mk_enc_raw(&enc, entries[i]->wire, entries[i]->wire_len);
    return finish(&enc, out);
}

int mk_wire_encode_depart(mk_bytes_t departure, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, MK_WIRE_DEPART);
    mk_enc_raw(&enc, departure.ptr, departure.len);
    return finish(&enc, out);
}

int mk_wire_encode_announce_ping(uint64_t nonce, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, MK_WIRE_PING);
    mk_enc_u64(&enc, nonce);
    return finish(&enc, out);
}

int mk_wire_encode_pong_announce(uint64_t nonce, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, MK_WIRE_PONG);
    mk_enc_u64(&enc, nonce);
    return finish(&enc, out);
}

/* ---- ping ---- */

int mk_wire_encode_ping(const mk_network_id_t *net, uint64_t nonce, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, 0);
    mk_enc_id(&enc, net);
    mk_enc_u64(&enc, nonce);
    return finish(&enc, out);
}

int mk_wire_decode_ping(const void *p, size_t n, mk_network_id_t *net, uint64_t *nonce, mk_error_t *e) {
    mk_dec_t d;
    mk_dec_init(&d, p, n);
    uint32_t tag = mk_dec_tag(&d, 2);
    if (mk_dec_ok(&d) && tag != 0) mk_dec_fail(&d, "expected Ping, got tag %u", tag);
    mk_dec_id(&d, net);
    *nonce = mk_dec_u64(&d);
    return mk_dec_finish_err(&d, e, "ping");
}

int mk_wire_encode_pong(uint64_t nonce, mk_bytes_t entry, mk_buf_t *out) {
    mk_enc_t enc;
    start(&enc, 1);
    mk_enc_u64(&enc, nonce);
    mk_enc_raw(&enc, entry.ptr, entry.len);
    return finish(&enc, out);
}

int mk_wire_decode_pong(const void *p, size_t n, uint64_t *nonce, mk_bytes_t *entry, mk_error_t *e) {
    mk_dec_t d;
    mk_dec_init(&d, p, n);
    uint32_t tag = mk_dec_tag(&d, 2);
    if (mk_dec_ok(&d) && tag != 1) mk_dec_fail(&d, "expected Pong, got tag %u", tag);
    *nonce = mk_dec_u64(&d);
    *entry = read_signed_entry(&d);
    return mk_dec_finish_err(&d, e, "pong");
}

/* ---- catalog sync ---- */

static void put_item(mk_enc_t *enc, const mk_digest_item_t *it) {
    mk_enc_id(enc, &it->peer);
    mk_enc_u64(enc, it->version.start_ms);
    mk_enc_u64(enc, it->version.update_ms);
}

mk_id_t mk_sync_summary(const mk_digest_item_t *items, size_t n) {
    mk_enc_t enc;
    mk_enc_init(&enc, 0);
    for (size_t i = 0; i < n; i++) put_item(&enc, &items[i]);
    mk_buf_t b = MK_BUF_INIT;
    mk_enc_finish(&enc, &b);
    mk_id_t h = mk_id_hash(b.ptr, b.len);
    mk_buf_free(&b);
    return h;
}

int mk_wire_encode_sync_hello(const mk_network_id_t *net, const mk_digest_item_t *items, size_t n, mk_buf_t *out) {
    mk_enc_t enc;
    mk_enc_init(&enc, 0);
    mk_enc_tag(&enc, MK_SYNC_HELLO);
    mk_enc_id(&enc, net);
    mk_id_t summary = mk_sync_summary(items, n);
    mk_enc_id(&enc, &summary);
    mk_enc_count(&enc, n);
    for (size_t i = 0; i < n; i++) put_item(&enc, &items[i]);
    return finish(&enc, out);
}

/* Entries that fit: the frame stays ≤ MK_WIRE_FRAME_MAX (at least one entry always goes in). */
static size_t fitting(const mk_peer_entry_t *const *entries, size_t n, size_t base) {
    size_t used = 0, bytes = base;
    while (used < n && (used == 0 || bytes + entries[used]->wire_len + 16 <= MK_WIRE_FRAME_MAX)) {
        bytes += entries[used]->wire_len;
        used++;
    }
    return used;
}

int mk_wire_encode_sync_reply(bool in_sync, const mk_peer_id_t *wants, size_t nwants,
                              const mk_peer_entry_t *const *entries, size_t n, bool more_after, size_t *used,
                              mk_buf_t *out) {
    size_t k = fitting(entries, n, 64 + 32 * nwants);
    *used = k;
    mk_enc_t enc;
    mk_enc_init(&enc, 0);
    mk_enc_tag(&enc, MK_SYNC_REPLY);
    mk_enc_bool(&enc, in_sync);
    mk_enc_count(&enc, nwants);
    for (size_t i = 0; i < nwants; i++) mk_enc_id(&enc, &wants[i]);
    mk_enc_count(&enc, k);
    for (size_t i = 0; i < k; i++) mk_enc_raw(&enc, entries[i]->wire, entries[i]->wire_len);
    mk_enc_bool(&enc, k < n || more_after);
    return finish(&enc, out);
}

int mk_wire_encode_sync_entries(const mk_peer_entry_t *const *entries, size_t n, bool more_after, size_t *used,
                                mk_buf_t *out) {
    size_t k = fitting(entries, n, 16);
    *used = k;
    mk_enc_t enc;
    mk_enc_init(&enc, 0);
    mk_enc_tag(&enc, MK_SYNC_ENTRIES);
    mk_enc_count(&enc, k);
    for (size_t i = 0; i < k; i++) mk_enc_raw(&enc, entries[i]->wire, entries[i]->wire_len);
    mk_enc_bool(&enc, k < n || more_after);
    return finish(&enc, out);
}

int mk_wire_decode_sync(const void *p, size_t n, mk_sync_msg_t *m, mk_error_t *e) {
    memset(m, 0, sizeof *m);
    if (n > MK_WIRE_FRAME_MAX + 4096) return MK_ERR(e, MK_E2BIG, "sync frame of %zu bytes", n);
    mk_dec_t d;
    mk_dec_init(&d, p, n);
    m->kind = (mk_sync_msg_kind_t)mk_dec_tag(&d, 3);
    if (mk_dec_ok(&d)) switch (m->kind) {
        case MK_SYNC_HELLO: {
            mk_dec_id(&d, &m->network);
            mk_dec_id(&d, &m->summary);
            size_t k = mk_dec_count(&d, 34);
            if (mk_dec_ok(&d) && k && !(m->digest = malloc(k * sizeof *m->digest))) mk_dec_fail(&d, "out of memory");
            for (size_t i = 0; i < k && mk_dec_ok(&d); i++) {
                size_t at = mk_dec_offset(&d);
                mk_dec_id(&d, &m->digest[i].peer);
                m->digest[i].version.start_ms = mk_dec_u64(&d);
                m->digest[i].version.update_ms = mk_dec_u64(&d);
                if (i && mk_dec_ok(&d) && memcmp(m->digest[i - 1].peer.b, m->digest[i].peer.b, 32) >= 0)
                    mk_dec_fail(&d, "digest not strictly ascending at %zu", at);
                m->ndigest = i + 1;
            }
            break;
        }
        case MK_SYNC_REPLY: {
            m->in_sync = mk_dec_bool(&d);
            size_t k = mk_dec_count(&d, 32);
            if (mk_dec_ok(&d) && k && !(m->wants = malloc(k * sizeof *m->wants))) mk_dec_fail(&d, "out of memory");
            for (size_t i = 0; i < k && mk_dec_ok(&d); i++) {
                mk_dec_id(&d, &m->wants[i]);
                m->nwants = i + 1;
            }
            m->entries = read_entry_list(&d, &m->nentries);
            m->more = mk_dec_bool(&d);
            break;
        }
        case MK_SYNC_ENTRIES:
            m->entries = read_entry_list(&d, &m->nentries);
            m->more = mk_dec_bool(&d);
            break;
        }
    int rc = mk_dec_finish_err(&d, e, "catalog-sync message");
    if (rc != MK_OK) mk_sync_msg_free(m);
    return rc;
}

void mk_sync_msg_free(mk_sync_msg_t *m) {
    free(m->digest);
    free(m->wants);
    free(m->entries);
    m->digest = NULL;
    m->wants = NULL;
    m->entries = NULL;
    m->ndigest = m->nwants = m->nentries = 0;
}
