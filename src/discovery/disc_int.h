/* discovery/disc_int.h — the discovery runtime's private state, shared by its loop-side files
 * (discovery.c: lifecycle, local entry, publishing, API commands; announce.c: overlay links and gossip;
 * sync_io.c: catalog sync sessions; ping_io.c: pings and RTT probes). Everything here is owned by the
 * network's loop thread unless a field says otherwise. */
#ifndef MK_DISCOVERY_DISC_INT_H
#define MK_DISCOVERY_DISC_INT_H

#include "core/log.h"
#include "core/metrics.h"
#include "discovery/catalog.h"
#include "discovery/disc_cmd.h"
#include "discovery/disc_config.h"
#include "discovery/discovery.h"
#include "discovery/entry.h"
#include "discovery/events.h"
#include "discovery/gossip_queue.h"
#include "discovery/hyparview.h"
#include "discovery/rtt.h"
#include "discovery/store.h"
#include "discovery/wire.h"
#include "net/net.h"

#include <pthread.h>

struct event;

#define MK_DISC_APINGS_MAX 64

/* One announce link: a neighbour of the active view, or a link waiting for its first frame/answer. */
typedef enum { MK_CONN_PENDING_IN = 0, MK_CONN_DIALING, MK_CONN_AWAIT_REPLY, MK_CONN_ACTIVE,
               MK_CONN_SHUFFLE_REPLY, MK_CONN_CLOSING } mk_conn_state_t;

typedef struct mk_disc_conn {
    struct mk_disc_conn *next;
    mk_disc_t *d;
    mk_link_t *link;            /* our reference */
    mk_peer_id_t peer;
    mk_conn_state_t state;
    bool inbound;
    int open_kind;              /* what the dial is for (hyparview open kind) */
    int64_t since_ms;           /* monotonic: creation, for the first-frame timeout */
    mk_gossip_queue_t *queue;   /* active neighbours only */
    uint8_t *pending_first;     /* outbound: the first frame to send once the link opens */
    size_t pending_first_len;
    bool departed;              /* the peer sent Depart or Disconnect{alive=false} */
} mk_disc_conn_t;

typedef struct mk_disc_pending_event {
    mk_peer_event_kind_t kind;
    mk_peer_id_t peer;
    const mk_peer_entry_t *entry;  /* owned reference or NULL */
    bool content_changed;
    mk_depart_reason_t reason;
} mk_disc_pending_event_t;

typedef struct mk_disc_metrics {
    mk_gauge_t *catalog_size, *neighbors, *passive;
    mk_counter_t *discovered, *updated, *departed, *frames_in, *frames_out, *entries_in, *entries_out,
        *duplicates, *rejected[MK_REJ_COUNT], *syncs_ok, *syncs_failed, *probes_ok, *probes_failed;
} mk_disc_metrics_t;

struct mk_disc {
    mk_network_t *n;
    mk_disc_config_t cfg;
    mk_network_id_t net_id;
    mk_peer_id_t self;
    char self_short[MK_ID_SHORT_LEN + 1];
    const mk_secret_key_t *sk;
    bool stopping;
    _Atomic bool test_drop_gossip;              /* test hook: ignore received Entries frames */
    _Atomic bool test_no_passive_rtt;           /* test hook: ignore the kernel's RTT samples */
    uint64_t rng;                               /* splitmix64 state for jitter */

    /* local entry */
    mk_entry_draft_t *draft;                    /* the content to sign next */
    const mk_peer_entry_t *local;               /* the current signed local entry */
    bool local_dirty;                           /* draft differs from local: re-sign soon */
    int64_t last_sign_mono_ms;
    struct event *resign_ev;
    mk_disc_cmd_t *waiting_local;               /* commands waiting for the next local version */

    /* state */
    mk_store_t *store;
    mk_rtt_tracker_t *rtt;
    mk_catalog_pub_t *pub;
    mk_event_ring_t *ring;
    mk_hpv_t *hpv;
    uint64_t snap_seq;
    bool publish_scheduled;
    struct event *publish_ev;
    mk_disc_pending_event_t *pending;           /* events waiting for the snapshot that holds them */
    size_t npending, cap_pending;

    /* announce */
    mk_disc_conn_t *conns;
    mk_disc_conn_t *cur_conn;                   /* the link whose frame is being handled */
    size_t npending_in;
    struct event *announce_ev, *purge_ev, *hpv_ev, *flush_ev, *boot_ev, *first_frame_ev, *sync_ev,
        *probe_ev;
    uint32_t boot_backoff_ms;
    size_t boot_next;
    bool flush_scheduled;

    /* catalog sync sessions and pings */
    size_t sync_out, sync_in;
    struct mk_disc_sync *syncs;
    struct recent *sync_recent;                 /* sync_io.c */
    int64_t next_anti_entropy_ms;
    struct mk_disc_ping *pings;
    struct { mk_peer_id_t peer; uint64_t nonce; int64_t sent_us; } apings[MK_DISC_APINGS_MAX];
    size_t napings;                             /* Pings in flight on active announce links */

    /* stats and metrics (stats read by API threads under stats_mu) */
    pthread_mutex_t stats_mu;
    mk_discovery_stats_t stats;
    mk_disc_metrics_t m;
};

/* ---- discovery.c ---- */
int64_t mk_disc_now_ms(void);                                /* wall clock, ms */
uint64_t mk_disc_rand(mk_disc_t *d);
uint32_t mk_disc_jitter(mk_disc_t *d, uint32_t base_ms, double j); /* base × (1 + U(−j, +j)), ≥ 50 ms */
void mk_disc_arm(struct event *ev, uint32_t ms);
/* Merges one SignedEntry from `from` (NULL = not from an announce neighbour) with spec 20 §1.4; on
 * New/Updated queues events, schedules a snapshot and gossips it (urgent per §3.2). Returns the
 * store's verdict; *reject (may be NULL) receives the reason when rejected. */
int mk_disc_merge(mk_disc_t *d, const uint8_t *p, size_t len, mk_disc_conn_t *from, bool via_gossip,
                  mk_store_result_t *res);
/* Removes a peer everywhere (views, RTT) and emits PeerDeparted{reason}. */
void mk_disc_peer_gone(mk_disc_t *d, const mk_peer_id_t *peer, const mk_peer_entry_t *last,
                       mk_depart_reason_t reason);
void mk_disc_queue_event(mk_disc_t *d, mk_peer_event_kind_t kind, const mk_peer_id_t *peer,
                         const mk_peer_entry_t *entry, bool changed, mk_depart_reason_t reason);
void mk_disc_schedule_publish(mk_disc_t *d);
/* Publishes a scheduled snapshot now (before an API call that changed the catalog returns). */
void mk_disc_publish_pending(mk_disc_t *d);
void mk_disc_count_reject(mk_disc_t *d, mk_entry_reject_t why);
void mk_disc_stat_add(mk_disc_t *d, uint64_t *field, uint64_t v);
/* Records an RTT sample of a catalog peer; a max_rtt flip schedules a snapshot. */
void mk_disc_record_rtt(mk_disc_t *d, const mk_peer_id_t *peer, uint32_t rtt_us);
/* Re-signs the local entry at the end of this loop turn (or when the 20/s rate limit allows). */
void mk_disc_resign_soon(mk_disc_t *d);
/* Builds a snapshot of the store (seq + 1) with the current RTT view. */
int mk_disc_build_snapshot(mk_disc_t *d, mk_catalog_t **out);
/* Applies a received departure (from: the announce link it came on, or NULL). */
void mk_disc_take_departure(mk_disc_t *d, const mk_departure_t *dep, mk_disc_conn_t *from);
/* A Pong on an announce link answered our Ping with `nonce`. */
void mk_disc_pong(mk_disc_t *d, const mk_peer_id_t *peer, uint64_t nonce);

/* ---- announce.c ---- */
int mk_announce_install(mk_disc_t *d, mk_error_t *e);        /* registers the ALPN, creates timers */
void mk_announce_start(mk_disc_t *d);                         /* loop: first join attempt, timers */
void mk_announce_stop(mk_disc_t *d);                          /* loop: Depart, Disconnect, close 204 */
void mk_announce_free(mk_disc_t *d);
/* Queues an entry for every active neighbour but `from` (urgent: flush this turn). */
void mk_announce_gossip(mk_disc_t *d, const mk_peer_entry_t *e, mk_disc_conn_t *from, bool urgent);
/* The local entry changed: announce it now. */
void mk_announce_local(mk_disc_t *d);
/* Contact a peer at an address (bootstrap, dial): open a Join link. */
int mk_announce_contact(mk_disc_t *d, const mk_peer_addr_t *addr, mk_error_t *e);
/* Peers learned outside the overlay feed the passive view. */
void mk_announce_learned(mk_disc_t *d, const mk_peer_id_t *peer);
void mk_announce_forget(mk_disc_t *d, const mk_peer_id_t *peer);
size_t mk_announce_active(mk_disc_t *d, mk_peer_id_t *out, size_t cap);
/* Sends Ping{nonce} on the active link to peer; false when there is none. */
bool mk_announce_ping(mk_disc_t *d, const mk_peer_id_t *peer, uint64_t nonce);

/* ---- sync_io.c ---- */
int mk_sync_install(mk_disc_t *d, mk_error_t *e);
/* Starts a catalog sync with addr (or, when addr is NULL, with `peer` at its catalog addresses);
 * done(ctx, rc, err) runs on the loop when it ends (may be NULL). Skipped (MK_OK, done called) when a
 * sync with that peer ran within sync_interval, unless done is given. */
int mk_sync_start(mk_disc_t *d, const mk_peer_addr_t *addr, const mk_peer_id_t *peer,
                  void (*done)(void *ctx, int rc, const mk_error_t *e), void *ctx, mk_error_t *e);
void mk_sync_stop(mk_disc_t *d);
void mk_sync_free(mk_disc_t *d);

/* ---- ping_io.c ---- */
int mk_ping_install(mk_disc_t *d, mk_error_t *e);
int mk_ping_start(mk_disc_t *d, const mk_peer_addr_t *addr, void (*done)(void *ctx, int rc, uint64_t rtt_us,
                  const mk_error_t *e), void *ctx, mk_error_t *e);
void mk_ping_probe_tick(mk_disc_t *d);
void mk_ping_stop(mk_disc_t *d);

#endif
