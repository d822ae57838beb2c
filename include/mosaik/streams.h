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

/* ---- producers ---- */

typedef struct mk_producer mk_producer_t;
typedef struct mk_consumer mk_consumer_t;
typedef void (*mk_channel_fn)(void *ctx, const mk_channel_info_t *ch);  /* loop thread */

typedef struct mk_producer_stats {
    mk_stream_stats_t total;  /* copies handed to links; connected_at = open time */
    uint64_t accepted, undelivered, lagging_disconnects, refused;
} mk_producer_stats_t;

/* Zero = default everywhere: buffer 1024, unlimited consumers, disconnect lagging consumers, online
 * with ≥ 1 consumer. Predicates and validators are ANDed; validators must outlive the producer (heap
 * ones are referenced). */
typedef struct mk_producer_config {
    uint32_t buffer_size, max_consumers;
    mk_toggle_t disconnect_lagging;
    mk_peer_pred_t require[MK_STREAM_MAX_REQUIRE];
    const mk_ticket_validator_t *require_ticket[MK_STREAM_MAX_TICKETS];
    const mk_when_t *online_when;
    void (*undelivered)(void *ctx, const void *datum, size_t len);  /* loop thread */
    void *undelivered_ctx;
    mk_channel_fn on_channel;
    void *on_channel_ctx;
    bool fail_if_exists;
} mk_producer_config_t;

/* Opens (or shares) the node's sink of stream `name` / id; cfg NULL = defaults. The first opener's
 * configuration governs; with fail_if_exists an existing sink is MK_EEXIST. NULL + e on failure.
 * Any thread but the network's loop. */
mk_producer_t *mk_producer_open(mk_network_t *n, const char *name, const mk_producer_config_t *cfg, mk_error_t *e);
mk_producer_t *mk_producer_open_id(mk_network_t *n, const mk_id_t *id, const mk_producer_config_t *cfg, mk_error_t *e);
/* Frees the handle; the last one closes the sink (queued datums flushed, links closed 204, the stream
 * leaves the local entry). Blocked calls on it return MK_ECLOSED. NULL ok. */
void mk_producer_free(mk_producer_t *p);
mk_id_t mk_producer_stream_id(const mk_producer_t *p);
/* Queues a copy of the datum: MK_OK (accepted, not delivered), MK_EOFFLINE (online condition unmet),
 * MK_EFULL (input queue full), MK_ECLOSED, MK_E2BIG (over the maximum frame size). Never blocks. */
int mk_producer_try_send(mk_producer_t *p, const void *data, size_t len, mk_error_t *e);
/* Waits up to timeout_ms (-1 = forever; 0 = try_send) to be online with room, then queues a copy.
 * MK_ETIMEDOUT, MK_ECLOSED; MK_EDEADLK on the loop thread. The caller keeps its datum on failure. */
int mk_producer_send(mk_producer_t *p, const void *data, size_t len, int timeout_ms, mk_error_t *e);
/* Queues v[0..n) in order, waiting as send does for each; *accepted (may be NULL) tells how many were
 * taken (a prefix) when it fails. */
typedef struct mk_send_item {
    const void *data;
    size_t len;
} mk_send_item_t;
int mk_producer_send_many(mk_producer_t *p, const mk_send_item_t *v, size_t n, size_t *accepted, int timeout_ms,
                          mk_error_t *e);
/* Readable while try_send would be accepted. */
int mk_producer_fd(const mk_producer_t *p);
int mk_producer_stats(const mk_producer_t *p, mk_producer_stats_t *out);
/* A snapshot of the producer's Connecting and Connected channels (*out: free with
 * mk_channel_info_free). MK_ECLOSED once closed. Not on the loop thread. */
int mk_producer_consumers(const mk_producer_t *p, mk_channel_info_t **out, size_t *n, mk_error_t *e);

/* ---- consumers ---- */

/* A received datum: data valid until mk_datum_free (no copy is made). */
typedef struct mk_datum {
    const uint8_t *data;
    size_t len;
    mk_id_t producer;
    uint64_t channel_id;
    void *ref_;  /* internal */
} mk_datum_t;
#define MK_DATUM_INIT {0}

/* Zero = default: subscribe to every eligible producer, queue ≤ 1024 datums and ≤ 64 MiB, the default
 * backoff, online at once. on_datum = callback mode (loop thread; no queue). */
typedef struct mk_consumer_config {
    mk_peer_pred_t require[MK_STREAM_MAX_REQUIRE];
    const mk_ticket_validator_t *require_ticket[MK_STREAM_MAX_TICKETS];
    const mk_when_t *online_when;
    const mk_criteria_t *criteria;
    const mk_backoff_t *backoff;
    uint32_t queue_datums;
    size_t queue_bytes;
    void (*on_datum)(void *ctx, const mk_datum_t *d);
    void *on_datum_ctx;
    mk_channel_fn on_channel;
    void *on_channel_ctx;
} mk_consumer_config_t;

mk_consumer_t *mk_consumer_open(mk_network_t *n, const char *name, const mk_consumer_config_t *cfg, mk_error_t *e);
mk_consumer_t *mk_consumer_open_id(mk_network_t *n, const mk_id_t *id, const mk_consumer_config_t *cfg, mk_error_t *e);
/* Closes the consumer (its channels end with 204); blocked calls return MK_ECLOSED. NULL ok. */
void mk_consumer_free(mk_consumer_t *c);
mk_id_t mk_consumer_stream_id(const mk_consumer_t *c);
/* The next datum, waiting up to timeout_ms (-1 = forever): MK_OK, MK_ETIMEDOUT, MK_ECLOSED once
 * closed and drained, MK_EINVAL in callback mode, MK_EDEADLK on the loop thread. */
int mk_consumer_recv(mk_consumer_t *c, mk_datum_t *out, int timeout_ms, mk_error_t *e);
/* The same without waiting: MK_EAGAIN when empty. */
int mk_consumer_try_recv(mk_consumer_t *c, mk_datum_t *out);
/* Up to max datums into out[0..*n): waits like recv for the first, takes the rest without waiting. */
int mk_consumer_recv_many(mk_consumer_t *c, mk_datum_t *out, size_t max, size_t *n, int timeout_ms, mk_error_t *e);
/* Readable exactly while the queue is non-empty or the consumer is closed. */
int mk_consumer_fd(const mk_consumer_t *c);
int mk_consumer_stats(const mk_consumer_t *c, mk_stream_stats_t *total);
/* A snapshot of the consumer's channels (one per producer, surviving reconnects). */
int mk_consumer_producers(const mk_consumer_t *c, mk_channel_info_t **out, size_t *n, mk_error_t *e);
/* Frees a channel snapshot (NULL ok). */
void mk_channel_info_free(mk_channel_info_t *v, size_t n);
/* Releases a datum (MK_DATUM_INIT is fine) and resets it; dup takes another reference. */
void mk_datum_free(mk_datum_t *d);
int mk_datum_dup(const mk_datum_t *src, mk_datum_t *dst);

/* ---- static definitions (the counterpart of Rust's stream! macro) ---- */

typedef enum { MK_STREAM_BOTH = 0, MK_STREAM_PRODUCER_ONLY, MK_STREAM_CONSUMER_ONLY } mk_stream_sides_t;
typedef struct mk_stream_side {
    mk_peer_pred_t require[MK_STREAM_MAX_REQUIRE];
    const mk_ticket_validator_t *require_ticket[MK_STREAM_MAX_TICKETS];
    const mk_when_t *online_when;
} mk_stream_side_t;
/* A const definition: the name first, then options as designated initialisers; zero = default.
 * Top-level require/require_ticket/online_when apply to both sides, .producer./.consumer. to one. */
typedef struct mk_stream_def {
    const char *name;
    mk_stream_sides_t sides;
    uint32_t buffer_size, max_consumers;         /* producer */
    mk_toggle_t disconnect_lagging;              /* producer */
    const mk_criteria_t *criteria;               /* consumer */
    const mk_backoff_t *backoff;                 /* consumer */
    mk_peer_pred_t require[MK_STREAM_MAX_REQUIRE];
    const mk_ticket_validator_t *require_ticket[MK_STREAM_MAX_TICKETS];
    const mk_when_t *online_when;
    mk_stream_side_t producer, consumer;
} mk_stream_def_t;
#define MK_STREAM_DEF(...) { .sides = MK_STREAM_BOTH, .name = __VA_ARGS__ }
#define MK_PRODUCER_DEF(...) { .sides = MK_STREAM_PRODUCER_ONLY, .name = __VA_ARGS__ }
#define MK_CONSUMER_DEF(...) { .sides = MK_STREAM_CONSUMER_ONLY, .name = __VA_ARGS__ }

/* The def's stream id (mk_stream_id of its name). Pure. */
mk_id_t mk_stream_def_id(const mk_stream_def_t *d);
/* The side's configuration: top-level and side predicates/validators ANDed (top level first), the
 * side's online_when over the top-level one. MK_EINVAL naming the field for a NULL/empty name, the
 * wrong side, or a key of the other side. Pure. */
int mk_stream_def_producer_config(const mk_stream_def_t *d, mk_producer_config_t *out, mk_error_t *e);
int mk_stream_def_consumer_config(const mk_stream_def_t *d, mk_consumer_config_t *out, mk_error_t *e);
/* Open from a def; `extra` (may be NULL) appends predicates/validators and overrides non-zero scalars
 * and callbacks. */
mk_producer_t *mk_producer_open_def(mk_network_t *n, const mk_stream_def_t *d, const mk_producer_config_t *extra,
                                    mk_error_t *e);
mk_consumer_t *mk_consumer_open_def(mk_network_t *n, const mk_stream_def_t *d, const mk_consumer_config_t *extra,
                                    mk_error_t *e);

/* Opens from a def and waits up to timeout_ms for the online condition (NULL + MK_ETIMEDOUT, the
 * handle freed, when it does not hold in time). */
mk_producer_t *mk_producer_open_online(mk_network_t *n, const mk_stream_def_t *d, int timeout_ms, mk_error_t *e);
mk_consumer_t *mk_consumer_open_online(mk_network_t *n, const mk_stream_def_t *d, int timeout_ms, mk_error_t *e);

/* ---- status ---- */

/* Whether the online condition holds now (producer default: ≥ 1 consumer; consumer: always). */
bool mk_producer_is_online(const mk_producer_t *p);
bool mk_consumer_is_online(const mk_consumer_t *c);
/* Evaluates w now over the Connected channels. */
bool mk_producer_check(const mk_producer_t *p, const mk_when_t *w);
bool mk_consumer_check(const mk_consumer_t *c, const mk_when_t *w);
/* Waits until w holds (at once if it does): MK_OK, MK_ETIMEDOUT, MK_ECLOSED, MK_EDEADLK. */
int mk_producer_wait(mk_producer_t *p, const mk_when_t *w, int timeout_ms, mk_error_t *e);
int mk_consumer_wait(mk_consumer_t *c, const mk_when_t *w, int timeout_ms, mk_error_t *e);
int mk_producer_wait_online(mk_producer_t *p, int timeout_ms, mk_error_t *e);
int mk_consumer_wait_online(mk_consumer_t *c, int timeout_ms, mk_error_t *e);

/* ---- condition objects: each maximal interval during which a condition holds is reported once ---- */

typedef struct mk_cond mk_cond_t;
/* A condition object over the producer's / consumer's channels (w NULL = the online condition; w is
 * copied). NULL + e on failure. Free with mk_cond_free. */
mk_cond_t *mk_producer_cond(mk_producer_t *p, const mk_when_t *w, mk_error_t *e);
mk_cond_t *mk_consumer_cond(mk_consumer_t *c, const mk_when_t *w, mk_error_t *e);
/* Whether the condition holds now. */
bool mk_cond_is_met(const mk_cond_t *c);
/* Reports the current interval if it is unreported (MK_OK at once; a fresh object whose condition
 * holds reports immediately), else waits for a new one: MK_OK, MK_ETIMEDOUT, MK_ECLOSED, MK_EDEADLK. */
int mk_cond_wait(mk_cond_t *c, int timeout_ms, mk_error_t *e);
/* The same without waiting: MK_OK (an interval reported) or MK_EAGAIN. */
int mk_cond_poll(mk_cond_t *c);
/* Readable exactly while an unreported interval is current. */
int mk_cond_fd(const mk_cond_t *c);
/* fn runs on the loop thread when an interval starts and reports it (it becomes the only reporter);
 * NULL removes it. */
void mk_cond_set_callback(mk_cond_t *c, void (*fn)(void *ctx, mk_cond_t *c), void *ctx);
/* A fresh, independent object of the same condition, inverted when invert is true. */
mk_cond_t *mk_cond_clone(const mk_cond_t *c, bool invert, mk_error_t *e);
void mk_cond_free(mk_cond_t *c);

#ifdef __cplusplus
}
#endif
#endif
