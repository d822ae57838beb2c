/* mosaik/streams.h — named, one-way, at-most-once publish/subscribe flows (spec 30).
 *
 * A producer publishes datums under a stream id; every consumer of that id subscribes to each
 * eligible producer in its catalog and gets every datum published after its subscription is in
 * place. A producer→consumer pair is a channel: FIFO, no duplicates, no replay after a reconnect.
 *
 * This header grows with the streams module: today it holds the identities, definitions, criteria,
 * backoff, conditions and statistics types and their pure helpers; producers and consumers follow. */
#ifndef MOSAIK_STREAMS_H
#define MOSAIK_STREAMS_H

#include "mosaik/discovery.h"
#include "mosaik/network.h"
#include "mosaik/tickets.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MK_STREAMS_ALPN "/mosaik/streams/1.0"
#define MK_STREAM_MAX_REQUIRE 8
#define MK_STREAM_MAX_TICKETS 8
/* Close codes of stream links (besides 101, 102, 204, 400, 401). */
enum { MK_CLOSE_NOT_ALLOWED = 10403, MK_CLOSE_TOO_SLOW = 10413, MK_CLOSE_NO_CAPACITY = 10509 };

/* ---- identity ---- */

/* mk_id_from_str(name): 64 hex digits are decoded, anything else hashed (a Rust type path gives the
 * id the Rust crate derives for that type). Pure. */
mk_id_t mk_stream_id(const char *name);

/* ---- predicates and conditions (mk_toggle_t is core.h's) ---- */


/* A predicate over a peer (its current entry and RTT); runs on the loop thread and must not block. */
typedef bool (*mk_peer_pred_fn)(void *ctx, const mk_peer_info_t *peer);
typedef struct mk_peer_pred {
    mk_peer_pred_fn fn;
    void *ctx;
} mk_peer_pred_t;
#define MK_PRED(f) { .fn = (f) }
#define MK_PRED_CTX(f, c) { .fn = (f), .ctx = (c) }

/* A condition over the Connected channels: met ⇔ (count of channels whose peer carries every tag and
 * satisfies pred ≥ min_peers) XOR unmet. */
typedef struct mk_when {
    uint32_t min_peers;
    const char *const *tags;  /* NULL-terminated */
    mk_peer_pred_t pred;      /* optional */
    bool unmet;
} mk_when_t;
#define MK_WHEN_MIN(n) (&(const mk_when_t){ .min_peers = (n) })
#define MK_WHEN_TAGS(n, ...) (&(const mk_when_t){ .min_peers = (n), .tags = (const char *const[]){ __VA_ARGS__, NULL } })
#define MK_WHEN_SUBSCRIBED MK_WHEN_MIN(1)
#define MK_WHEN_UNSUBSCRIBED (&(const mk_when_t){ .min_peers = 1, .unmet = true })

/* ---- criteria ---- */

typedef enum { MK_CRITERIA_ALL = 0 } mk_criteria_kind_t;
typedef struct mk_criteria {
    mk_criteria_kind_t kind;
} mk_criteria_t;
/* Whether a datum goes to a channel with these criteria (All: always). Pure. */
bool mk_criteria_matches(const mk_criteria_t *c, const void *datum, size_t len);

/* ---- reconnect backoff ---- */

typedef struct mk_backoff {
    uint32_t initial_ms, max_interval_ms, max_elapsed_ms;  /* max_elapsed 0 = never give up */
    double multiplier, randomization;                      /* ≥ 1; [0, 1] (0 = no jitter) */
} mk_backoff_t;
#define MK_BACKOFF_DEFAULT { .initial_ms = 500, .max_interval_ms = 60000, .max_elapsed_ms = 300000, \
                             .multiplier = 1.5, .randomization = 0.5 }

/* ---- channels and statistics ---- */

typedef enum { MK_CHANNEL_CONNECTING = 0, MK_CHANNEL_CONNECTED, MK_CHANNEL_TERMINATED } mk_channel_state_t;
/* "Connecting", "Connected", "Terminated". */
const char *mk_channel_state_str(mk_channel_state_t s);

typedef struct mk_stream_stats {
    uint64_t datums, bytes, dropped, uptime_ms;
    int64_t connected_at_ms;  /* Unix ms of the last (re)connection; 0 = not connected */
    uint32_t reconnects, last_close;
} mk_stream_stats_t;

typedef struct mk_channel_info {
    uint64_t channel_id;
    mk_id_t stream_id, producer_id, consumer_id;
    mk_channel_state_t state;
    mk_criteria_t criteria;
    mk_stream_stats_t stats;
    const mk_peer_entry_t *peer;  /* entry at channel creation (a reference owned by the array) */
} mk_channel_info_t;

/* "uptime: 2m 30s, datums: 15432, bytes: 1.23 MB" with snprintf's contract (returns the length it
 * needs). Uptime N/A when not connected, "850ms" under a second. Pure. */
int mk_stream_stats_format(const mk_stream_stats_t *s, char *buf, size_t cap);
/* "stream <short> <producer short> -> <consumer short> <State>: " followed by the stats. Pure. */
int mk_channel_info_format(const mk_channel_info_t *ch, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
