/* mosaik/discovery.h — discovery: every node's catalog of the signed, versioned self-descriptions
 * (peer entries) of the live nodes of its network, spread by gossip over a bounded overlay, repaired
 * by catalog sync, and the RTT to each peer (spec 20).
 *
 * Threads: every function is thread-safe. Entries and catalog snapshots are immutable and refcounted;
 * borrowed pointers stay valid while the owning reference lives. Waiting calls take timeout_ms
 * (-1 = forever, 0 = do not wait) and return MK_EDEADLK on the network's loop thread. */
#ifndef MOSAIK_DISCOVERY_H
#define MOSAIK_DISCOVERY_H

#include "mosaik/network.h"
#include "mosaik/tickets.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MK_ANNOUNCE_ALPN "/mosaik/announce"
#define MK_CATALOG_SYNC_ALPN "/mosaik/catalog-sync"
#define MK_PING_ALPN "/mosaik/ping"

enum {
    MK_ENTRY_MAX_BYTES = 65536, MK_ENTRY_MAX_ADDRS = 16, MK_ENTRY_MAX_TAGS = 64,
    MK_ENTRY_MAX_STREAMS = 256, MK_ENTRY_MAX_GROUPS = 256, MK_ENTRY_MAX_TICKETS = 16,
    MK_TICKET_MAX_BYTES = 32768, MK_ENTRY_MAX_AGENT = 64, MK_ENTRY_MAX_EXT = 8,
    MK_ENTRY_MAX_EXT_VALUE = 1024, MK_ENTRY_MAX_ADDR_DATA = 255, MK_DHT_SLOTS = 16
};

/* Why an incoming entry was refused (metric label `reason`). */
typedef enum {
    MK_REJ_MALFORMED, MK_REJ_TOO_BIG, MK_REJ_WRONG_NETWORK, MK_REJ_FUTURE, MK_REJ_STALE,
    MK_REJ_BAD_SIGNATURE, MK_REJ_FULL, MK_REJ_COUNT
} mk_entry_reject_t;
/* Label text of a reject reason ("bad_signature"); NULL if out of range. */
const char *mk_entry_reject_str(mk_entry_reject_t r);

/* Entry version: (start, update) in ms since the Unix epoch, compared lexicographically. */
typedef struct mk_entry_version { uint64_t start_ms, update_ms; } mk_entry_version_t;
/* <0, 0, >0. Pure. */
int mk_entry_version_cmp(mk_entry_version_t a, mk_entry_version_t b);

/* A socket address of an entry. Kinds other than IPv4/IPv6 are kept opaque (never dialed): their
 * bytes are in `data`/`data_len` and ip/port are zero. */
typedef enum { MK_ADDR_IPV4 = 0, MK_ADDR_IPV6 = 1 } mk_addr_kind_t;
typedef struct mk_sock_addr {
    uint32_t kind;
    uint16_t port;
    uint8_t ip[16];                  /* IPv4 in the first 4 bytes */
    uint8_t data_len;                /* opaque kinds only */
    uint8_t data[MK_ENTRY_MAX_ADDR_DATA];
} mk_sock_addr_t;

/* ---- peer entries: immutable and refcounted, always handled as const ---- */
typedef struct mk_peer_entry mk_peer_entry_t;
/* Adds a reference; returns e. */
const mk_peer_entry_t *mk_peer_entry_ref(const mk_peer_entry_t *e);
/* Drops a reference (NULL ok); the last one frees the entry. */
void mk_peer_entry_unref(const mk_peer_entry_t *e);
const mk_peer_id_t *mk_peer_entry_id(const mk_peer_entry_t *e);
const mk_network_id_t *mk_peer_entry_network(const mk_peer_entry_t *e);
mk_entry_version_t mk_peer_entry_version(const mk_peer_entry_t *e);
bool mk_peer_entry_is_signed(const mk_peer_entry_t *e);
/* Implementation string ("libmosaik/0.1.0"), NUL-terminated; "" when absent. */
const char *mk_peer_entry_agent(const mk_peer_entry_t *e);
/* now − start in ms (wall clock), ≥ 0. */
int64_t mk_peer_entry_uptime_ms(const mk_peer_entry_t *e);
/* Members, borrowed from the entry; sets are in ascending (memcmp) order. Return the count. */
size_t mk_peer_entry_addrs(const mk_peer_entry_t *e, const mk_sock_addr_t **v);
size_t mk_peer_entry_tags(const mk_peer_entry_t *e, const mk_id_t **v);
size_t mk_peer_entry_streams(const mk_peer_entry_t *e, const mk_id_t **v);
size_t mk_peer_entry_groups(const mk_peer_entry_t *e, const mk_id_t **v);
/* Tickets in ascending ticket-id order (data borrowed from the entry). */
size_t mk_peer_entry_tickets(const mk_peer_entry_t *e, const mk_ticket_t **v);
/* Tickets of one class into out[0..cap); returns how many there are in total. */
size_t mk_peer_entry_tickets_of(const mk_peer_entry_t *e, const mk_id_t *cls, const mk_ticket_t **out, size_t cap);
/* The ticket with that id, or NULL. */
const mk_ticket_t *mk_peer_entry_ticket(const mk_peer_entry_t *e, const mk_id_t *ticket_id);
/* ---- tickets judged (spec 60 §1.2, §2.2); pure, any thread, never block ---- */
typedef bool (*mk_ticket_pred_fn)(void *ctx, const uint8_t *data, size_t len);
/* The tickets of class cls whose data pred accepts, into out[0..cap); returns how many there are. */
size_t mk_peer_entry_valid_tickets(const mk_peer_entry_t *e, const mk_id_t *cls, mk_ticket_pred_fn pred, void *ctx,
                                   const mk_ticket_t **out, size_t cap);
bool mk_peer_entry_has_valid_ticket(const mk_peer_entry_t *e, const mk_id_t *cls, mk_ticket_pred_fn pred, void *ctx);
/* v's verdict on e: valid with the latest expiry among e's tickets of v's class that v accepts, else
 * MISSING (no ticket of the class) or the last rejection. */
void mk_peer_entry_validate_ticket(const mk_peer_entry_t *e, const mk_ticket_validator_t *v, int64_t now_ms,
                                   mk_ticket_verdict_t *out);
/* The ticket rule: every validator must accept one of e's tickets; the expiry is the earliest over
 * them (NEVER when n = 0); the first failing validator's verdict is reported. */
void mk_peer_entry_validate_all(const mk_peer_entry_t *e, const mk_ticket_validator_t *const *v, size_t n,
                                int64_t now_ms, mk_ticket_verdict_t *out);
bool mk_peer_entry_has_tag(const mk_peer_entry_t *e, const char *name);   /* name via mk_id_from_str */
bool mk_peer_entry_has_stream(const mk_peer_entry_t *e, const mk_id_t *id);
bool mk_peer_entry_has_group(const mk_peer_entry_t *e, const mk_id_t *id);
/* The dialable addresses as mk_peer_addr_t (IPv4/IPv6 only, at most MK_ADDR_MAX). Pure. */
void mk_peer_entry_peer_addr(const mk_peer_entry_t *e, mk_peer_addr_t *out);
/* "<peer hex>@a:p,…" / a one-line summary into buf; snprintf contract. */
int mk_peer_entry_addr_format(const mk_peer_entry_t *e, char *buf, size_t cap);
int mk_peer_entry_format(const mk_peer_entry_t *e, char *buf, size_t cap);
/* The SignedEntry bytes (caller frees with mk_buf_free). MK_EINVAL for an unsigned entry. */
int mk_peer_entry_encode(const mk_peer_entry_t *e, mk_buf_t *out, mk_error_t *err);
/* Decodes and checks a SignedEntry (size, canonical form, limits, network when `network` is non-NULL,
 * signature): checks 1, 2 and 8 of spec 20 §1.4. Returns a new reference or NULL + err (MK_EPROTO,
 * MK_E2BIG, MK_EWRONGNET, MK_EBADSIG). */
const mk_peer_entry_t *mk_peer_entry_decode(const mk_network_id_t *network, const void *p, size_t len,
                                            mk_error_t *err);

/* ---- peer info: entry + RTT ---- */
typedef struct mk_peer_info {
    const mk_peer_entry_t *entry;  /* borrowed from the snapshot */
    int64_t rtt_us, rttvar_us;     /* -1 = no sample */
    uint32_t rtt_samples;
} mk_peer_info_t;
/* True when there is no sample or SRTT < threshold_us. */
bool mk_peer_info_rtt_below(const mk_peer_info_t *p, uint64_t threshold_us);
bool mk_peer_info_has_tag(const mk_peer_info_t *p, const char *name);

/* ---- catalog snapshots: owned references, released with mk_catalog_free ---- */
typedef struct mk_catalog mk_catalog_t;
enum { MK_CAT_SIGNED_ONLY = 1, MK_CAT_UNSIGNED_ONLY = 2, MK_CAT_IGNORE_MAX_RTT = 4 };
/* The current snapshot (new reference); NULL once the network is stopping. */
mk_catalog_t *mk_discovery_catalog(mk_network_t *n);
mk_catalog_t *mk_catalog_ref(const mk_catalog_t *c);
void mk_catalog_free(const mk_catalog_t *c);  /* drops one reference; NULL ok */
uint64_t mk_catalog_seq(const mk_catalog_t *c);
/* Peers in the view (local node, stale entries and — with max_rtt — slow peers excluded). */
size_t mk_catalog_count(const mk_catalog_t *c);
/* The local signed entry (borrowed). */
const mk_peer_entry_t *mk_catalog_local(const mk_catalog_t *c);
/* Lookup by PeerId (borrowed; NULL if absent or hidden). */
const mk_peer_entry_t *mk_catalog_get(const mk_catalog_t *c, const mk_peer_id_t *peer);
/* Entry + RTT; MK_ENOTFOUND if absent or hidden. */
int mk_catalog_peer_info(const mk_catalog_t *c, const mk_peer_id_t *peer, mk_peer_info_t *out);
typedef struct mk_catalog_iter {
    const mk_catalog_t *c;
    size_t pos;
    int64_t now_ms;
    unsigned flags;
} mk_catalog_iter_t;
/* Iteration in PeerId order; the iterator lives on the caller's stack. */
void mk_catalog_iter_init(mk_catalog_iter_t *it, const mk_catalog_t *c, unsigned flags);
const mk_peer_entry_t *mk_catalog_next(mk_catalog_iter_t *it);  /* NULL at the end */

/* ---- catalog watch ---- */
typedef struct mk_catalog_watch mk_catalog_watch_t;
/* A watch; the current snapshot counts as seen. */
mk_catalog_watch_t *mk_catalog_watch(mk_network_t *n, mk_error_t *e);
/* Waits until a snapshot newer than the last handed out exists: MK_OK, MK_ETIMEDOUT, MK_ETERMINATED. */
int mk_catalog_watch_changed(mk_catalog_watch_t *w, int timeout_ms, mk_error_t *e);
/* The newest snapshot (new reference), marked seen. */
mk_catalog_t *mk_catalog_watch_latest(mk_catalog_watch_t *w);
/* Readable exactly while an unseen snapshot exists. Owned by the watch. */
int mk_catalog_watch_fd(const mk_catalog_watch_t *w);
/* Callback on the loop thread at every new snapshot (must not block); NULL removes it. */
void mk_catalog_watch_set_callback(mk_catalog_watch_t *w, void (*fn)(void *ctx), void *ctx);
void mk_catalog_watch_free(mk_catalog_watch_t *w);

/* ---- events ---- */
typedef enum { MK_PEER_DISCOVERED = 1, MK_PEER_UPDATED, MK_PEER_DEPARTED } mk_peer_event_kind_t;
typedef enum { MK_DEPART_GRACEFUL = 1, MK_DEPART_STALE, MK_DEPART_REMOVED } mk_depart_reason_t;
typedef struct mk_peer_event {
    mk_peer_event_kind_t kind;
    mk_peer_id_t peer;
    uint64_t seq;
    const mk_peer_entry_t *entry;  /* owned reference: the new entry, or the last known one (may be NULL) */
    bool content_changed;          /* UPDATED only (false for a pure re-announce) */
    mk_depart_reason_t reason;     /* DEPARTED only */
} mk_peer_event_t;
typedef struct mk_discovery_events mk_discovery_events_t;
/* A subscription; it sees only events after this call. */
mk_discovery_events_t *mk_discovery_events(mk_network_t *n, mk_error_t *e);
/* Next event: MK_OK; MK_ELAGGED (*lagged = events lost; next call continues at the oldest kept);
 * MK_ETIMEDOUT; MK_ETERMINATED. Clear *out with mk_peer_event_clear. */
int mk_discovery_events_next(mk_discovery_events_t *s, mk_peer_event_t *out, uint64_t *lagged, int timeout_ms,
                             mk_error_t *e);
void mk_peer_event_clear(mk_peer_event_t *ev);
/* Readable exactly while mk_discovery_events_next would not wait. */
int mk_discovery_events_fd(const mk_discovery_events_t *s);
/* Callback on the loop thread for every event (must not block); NULL removes it. */
void mk_discovery_events_set_callback(mk_discovery_events_t *s, void (*fn)(void *ctx, const mk_peer_event_t *ev),
                                      void *ctx);
void mk_discovery_events_free(mk_discovery_events_t *s);

/* ---- the local entry (spec 20 §6); timeout_ms: 0 = queue only, -1/ >0 = wait for the new version ---- */
/* The local signed entry (new reference; unref it). */
const mk_peer_entry_t *mk_discovery_me(mk_network_t *n);
int mk_discovery_add_tags(mk_network_t *n, const char *const *names, size_t k, int timeout_ms, mk_error_t *e);
int mk_discovery_remove_tags(mk_network_t *n, const char *const *names, size_t k, int timeout_ms, mk_error_t *e);
int mk_discovery_add_ticket(mk_network_t *n, const mk_ticket_t *t, int timeout_ms, mk_error_t *e);
int mk_discovery_replace_ticket(mk_network_t *n, const mk_ticket_t *t, int timeout_ms, mk_error_t *e);
int mk_discovery_remove_ticket(mk_network_t *n, const mk_id_t *ticket_id, int timeout_ms, mk_error_t *e);
int mk_discovery_remove_tickets_of(mk_network_t *n, const mk_id_t *cls, int timeout_ms, mk_error_t *e);

/* ---- contact, sync, ping, feeding; addr strings as in the config's `bootstrap` ---- */
/* Queues a dial + join (best effort). MK_EINVAL for a bad address. */
int mk_discovery_dial(mk_network_t *n, const char *addr, mk_error_t *e);
/* Runs one catalog sync with that peer: MK_OK, MK_EUNREACH, MK_ETIMEDOUT, MK_EPROTO. */
int mk_discovery_sync_with(mk_network_t *n, const char *addr, int timeout_ms, mk_error_t *e);
/* Pings a peer (addr NULL = from the catalog); *rtt_us receives the round trip. */
int mk_discovery_ping(mk_network_t *n, const mk_peer_id_t *peer, const char *addr, int timeout_ms, uint64_t *rtt_us,
                      mk_error_t *e);
/* Merges an externally obtained SignedEntry: MK_OK new/updated; MK_EALREADY not newer; MK_EBADSIG,
 * MK_EWRONGNET, MK_ESTALE (too old, future or departed), MK_EPROTO, MK_E2BIG, MK_EFULL. */
int mk_discovery_feed(mk_network_t *n, const void *signed_entry, size_t len, mk_error_t *e);

/* Unsigned entries, inserted locally: never sent, never purged by age. */
typedef struct mk_peer_entry_desc {
    mk_peer_id_t peer;
    mk_entry_version_t version;              /* zero = now */
    const mk_sock_addr_t *addrs;
    size_t n_addrs;
    const char *const *tags;                 /* NULL-terminated names, or NULL */
    const mk_id_t *streams;
    size_t n_streams;
    const mk_id_t *groups;
    size_t n_groups;
    const mk_ticket_t *tickets;
    size_t n_tickets;
} mk_peer_entry_desc_t;
int mk_discovery_insert(mk_network_t *n, const mk_peer_entry_desc_t *d, int timeout_ms, mk_error_t *e);
int mk_discovery_remove(mk_network_t *n, const mk_peer_id_t *peer, int timeout_ms, mk_error_t *e);
int mk_discovery_clear_unsigned(mk_network_t *n, int timeout_ms, mk_error_t *e);

typedef struct mk_discovery_stats {
    uint64_t catalog_signed, catalog_unsigned, active, passive, tombstones, frames_out, frames_in,
        entries_out, entries_in, duplicates, rejected[MK_REJ_COUNT], syncs_ok, syncs_failed, rtt_probes,
        dht_polls, dht_publishes, dht_found, mdns_found;
    int32_t dht_slot;  /* occupied slot, -1 = none */
} mk_discovery_stats_t;
int mk_discovery_stats(mk_network_t *n, mk_discovery_stats_t *out);
/* The active view's PeerIds into out[0..cap); returns the total. */
size_t mk_discovery_active_view(mk_network_t *n, mk_peer_id_t *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
