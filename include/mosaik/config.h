/* mosaik/config.h — sub-configuration structs embedded by value in mk_network_config_t (discovery now;
 * streams and groups later). Zero fields mean "the default"; mk_network_new validates every field and
 * fails with MK_EINVAL naming it. */
#ifndef MOSAIK_CONFIG_H
#define MOSAIK_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Discovery (spec 20 §9). Strings are borrowed during mk_network_new only. */
typedef struct mk_discovery_config {
    const char *const *bootstrap;     /* NULL-terminated "[<peer hex>@]host:port[,host:port…]" */
    const char *const *tags;          /* NULL-terminated tag names of the initial entry */
    uint32_t announce_interval_ms;    /* 15 000 */
    double announce_jitter;           /* 0.5; 0 ≤ j ≤ 1 (0 = default; use a tiny value for "none") */
    uint32_t purge_after_ms;          /* 300 000; ≥ 2 × announce_interval_ms */
    uint32_t max_time_drift_ms;       /* 10 000 */
    uint32_t events_backlog;          /* 100 */
    uint32_t rtt_probe_interval_ms;   /* 30 000 */
    uint32_t rtt_probe_max;           /* 64 */
    uint32_t max_rtt_ms;              /* 0 = no RTT filter */
    uint32_t active_view;             /* 5 (1–32) */
    uint32_t passive_view;            /* 30 (0–256; MK_DISC_NONE_PASSIVE for 0) */
    uint32_t shuffle_interval_ms;     /* 60 000 */
    uint32_t gossip_flush_ms;         /* 1 000 */
    uint32_t sync_interval_ms;        /* 60 000 */
    uint32_t sync_timeout_ms;         /* 10 000 */
    uint32_t departure_window_ms;     /* 500 */
    uint32_t max_peers;               /* 10 000 */
    bool no_auto_bootstrap;           /* disable the DHT auto-bootstrap (also MK_DHT=off) */
    const char *const *dht_routers;   /* NULL = the four public routers */
    const char *dht_bind;             /* NULL = "0.0.0.0:0" */
    uint32_t dht_poll_fast_ms, dht_poll_ms, dht_publish_interval_ms, dht_record_ttl_s, dht_ping_timeout_ms;
    bool mdns;                        /* off by default */
    uint32_t mdns_interval_ms;        /* 30 000 */
} mk_discovery_config_t;

#define MK_DISC_NONE_PASSIVE UINT32_MAX /* passive_view = 0 explicitly */

/* Streams (spec 30 §7), zero = default. The consumers' default reconnect backoff is in mosaik/streams.h
 * (mk_backoff_t) and given per consumer. */
typedef struct mk_streams_config {
    uint32_t handshake_timeout_ms;    /* 10 000: wait for Subscribe / Accepted */
    uint32_t max_pending_handshakes;  /* 256 per network */
    uint32_t reeval_interval_ms;      /* 5 000: periodic re-evaluation of require */
    uint32_t park_ms;                 /* 60 000: longest a refusing producer stays parked */
    uint32_t close_flush_ms;          /* 1 000: flush before a graceful 204 */
} mk_streams_config_t;

/* Groups (spec 40 §9), zero = default. */
typedef struct mk_groups_config {
    uint32_t handshake_timeout_ms;    /* 2 000: bond handshake, both directions */
    uint32_t max_pending_handshakes;  /* 256 per network */
} mk_groups_config_t;

#define MK_DISCOVERY_CONFIG_DEFAULT                                                                   \
    ((mk_discovery_config_t){.announce_interval_ms = 15000, .announce_jitter = 0.5,                  \
                             .purge_after_ms = 300000, .max_time_drift_ms = 10000,                   \
                             .events_backlog = 100, .rtt_probe_interval_ms = 30000,                  \
                             .rtt_probe_max = 64, .active_view = 5, .passive_view = 30,              \
                             .shuffle_interval_ms = 60000, .gossip_flush_ms = 1000,                  \
                             .sync_interval_ms = 60000, .sync_timeout_ms = 10000,                    \
                             .departure_window_ms = 500, .max_peers = 10000,                         \
                             .dht_poll_fast_ms = 5000, .dht_poll_ms = 60000,                         \
                             .dht_publish_interval_ms = 300000, .dht_record_ttl_s = 600,             \
                             .dht_ping_timeout_ms = 5000, .mdns_interval_ms = 30000})

#ifdef __cplusplus
}
#endif
#endif
