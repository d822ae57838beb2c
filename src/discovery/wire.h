/* discovery/wire.h — the discovery wire messages, one per frame (spec 20 §3.6, §4, §5): announce
 * messages, catalog-sync messages and pings. SignedEntries inside messages are handled as byte views
 * (their extent is checked here; their content by entry.c). Decoders reject trailing bytes, reserved
 * tags and over-limit counts; views point into the frame. Pure; any thread. */
#ifndef MK_DISCOVERY_WIRE_H
#define MK_DISCOVERY_WIRE_H

#include "discovery/store.h"

#define MK_WIRE_FRAME_MAX (1u << 20) /* Entries / SyncReply / SyncEntries frames */
#define MK_WIRE_SAMPLE_MAX 8

typedef enum {
    MK_WIRE_JOIN = 0, MK_WIRE_NEIGHBOR, MK_WIRE_WELCOME, MK_WIRE_NEIGHBOR_REPLY, MK_WIRE_FORWARD_JOIN,
    MK_WIRE_DISCONNECT, MK_WIRE_SHUFFLE, MK_WIRE_SHUFFLE_REPLY, MK_WIRE_ENTRIES, MK_WIRE_DEPART, MK_WIRE_PING,
    MK_WIRE_PONG, MK_WIRE_ANNOUNCE_TAGS /* 12–31 reserved */
} mk_wire_kind_t;

/* A decoded announce message. entry: Join/Neighbor/Welcome/NeighborReply entry, ForwardJoin joiner,
 * Shuffle origin, or the Depart record's bytes. flag: Neighbor high, NeighborReply accept, Disconnect
 * alive. entries: Entries (malloc'd array of views; mk_wire_msg_free). */
typedef struct mk_wire_msg {
    mk_wire_kind_t kind;
    mk_network_id_t network;
    mk_bytes_t entry;
    bool flag;
    uint8_t ttl;
    mk_bytes_t sample[MK_WIRE_SAMPLE_MAX];
    size_t nsample;
    mk_bytes_t *entries;
    size_t nentries;
    uint64_t nonce;
} mk_wire_msg_t;

/* Decodes one announce frame: MK_OK, MK_EPROTO / MK_E2BIG with e naming the cause. */
int mk_wire_decode_announce(const void *p, size_t n, mk_wire_msg_t *out, mk_error_t *e);
void mk_wire_msg_free(mk_wire_msg_t *m);
/* The peer id inside a SignedEntry view (MK_EPROTO if it cannot be read). */
int mk_wire_entry_peer(mk_bytes_t signed_entry, mk_peer_id_t *out);
/* The peer ids of a Shuffle/ShuffleReply sample (unreadable ones skipped); returns the count. */
size_t mk_wire_sample_ids(const mk_wire_msg_t *m, mk_peer_id_t *out, size_t cap);

/* Announce encoders: append one frame's bytes to *out (MK_OK, MK_ENOMEM, MK_E2BIG). */
int mk_wire_encode_join(const mk_network_id_t *net, mk_bytes_t entry, mk_buf_t *out);
int mk_wire_encode_neighbor(const mk_network_id_t *net, mk_bytes_t entry, bool high, mk_buf_t *out);
int mk_wire_encode_welcome(mk_bytes_t entry, mk_buf_t *out);
int mk_wire_encode_neighbor_reply(bool accept, mk_bytes_t entry, mk_buf_t *out);
int mk_wire_encode_forward_join(mk_bytes_t joiner, uint8_t ttl, mk_buf_t *out);
int mk_wire_encode_disconnect(bool alive, mk_buf_t *out);
int mk_wire_encode_shuffle(mk_bytes_t origin, uint8_t ttl, const mk_bytes_t *sample, size_t k, mk_buf_t *out);
int mk_wire_encode_shuffle_reply(const mk_network_id_t *net, const mk_bytes_t *sample, size_t k, mk_buf_t *out);
/* Entries{n × SignedEntry} of entries[0..n): the caller keeps the frame ≤ MK_WIRE_FRAME_MAX. */
int mk_wire_encode_entries(const mk_peer_entry_t *const *entries, size_t n, mk_buf_t *out);
int mk_wire_encode_depart(mk_bytes_t departure, mk_buf_t *out);
int mk_wire_encode_announce_ping(uint64_t nonce, mk_buf_t *out);
int mk_wire_encode_pong_announce(uint64_t nonce, mk_buf_t *out);

/* /mosaik/ping: 0 Ping{network, nonce} → 1 Pong{nonce, entry}. */
int mk_wire_encode_ping(const mk_network_id_t *net, uint64_t nonce, mk_buf_t *out);
int mk_wire_decode_ping(const void *p, size_t n, mk_network_id_t *net, uint64_t *nonce, mk_error_t *e);
int mk_wire_encode_pong(uint64_t nonce, mk_bytes_t entry, mk_buf_t *out);
int mk_wire_decode_pong(const void *p, size_t n, uint64_t *nonce, mk_bytes_t *entry, mk_error_t *e);

/* /mosaik/catalog-sync: 0 SyncHello, 1 SyncReply, 2 SyncEntries. */
typedef enum { MK_SYNC_HELLO = 0, MK_SYNC_REPLY, MK_SYNC_ENTRIES } mk_sync_msg_kind_t;
typedef struct mk_sync_msg {
    mk_sync_msg_kind_t kind;
    mk_network_id_t network;   /* HELLO */
    mk_id_t summary;           /* HELLO */
    mk_digest_item_t *digest;  /* HELLO (malloc'd) */
    size_t ndigest;
    bool in_sync, more;        /* REPLY: in_sync, more; ENTRIES: more */
    mk_peer_id_t *wants;       /* REPLY (malloc'd) */
    size_t nwants;
    mk_bytes_t *entries;       /* REPLY, ENTRIES (malloc'd views) */
    size_t nentries;
} mk_sync_msg_t;
int mk_wire_decode_sync(const void *p, size_t n, mk_sync_msg_t *out, mk_error_t *e);
void mk_sync_msg_free(mk_sync_msg_t *m);
/* BLAKE3 over the digest items encoded as in SyncHello (peer ‖ start ‖ update each), in order. */
mk_id_t mk_sync_summary(const mk_digest_item_t *items, size_t n);
int mk_wire_encode_sync_hello(const mk_network_id_t *net, const mk_digest_item_t *items, size_t n, mk_buf_t *out);
/* SyncReply with as many entries as fit in one frame; *used = how many of entries[] went in. */
int mk_wire_encode_sync_reply(bool in_sync, const mk_peer_id_t *wants, size_t nwants,
                              const mk_peer_entry_t *const *entries, size_t n, bool more_after, size_t *used,
                              mk_buf_t *out);
int mk_wire_encode_sync_entries(const mk_peer_entry_t *const *entries, size_t n, bool more_after, size_t *used,
                                mk_buf_t *out);

#endif
