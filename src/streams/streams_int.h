/* streams/streams_int.h — the streams runtime's private state (spec 30): one mk_streams_t per
 * network (the acceptor, the sinks and consumers, the catalog watch and the re-evaluation timer),
 * producer sinks with their channels and input queue, consumers with their channels and receive
 * queue, and condition waiters. Fields are loop-owned unless marked "mu" (the object's mutex). */
#ifndef MK_STREAMS_STREAMS_INT_H
#define MK_STREAMS_STREAMS_INT_H

#include "core/bufpool.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/readyfd.h"
#include "discovery/ticket_gate.h"
#include "mosaik/streams.h"
#include "net/net.h"
#include "streams/accept.h"
#include "streams/backoff.h"
#include "streams/chan_p.h"
#include "streams/chan_c.h"
#include "streams/cond.h"
#include "streams/wire.h"

#include <pthread.h>
#include <stdatomic.h>

/* Unsent bytes a producer channel's link may hold before datums wait in the ring (spec 30 §2.3). */
#define MK_STREAMS_WRITE_WINDOW (256u * 1024u)
/* Datums up to this size are allocated from the network's buffer pool (spec 30 §9). */
#define MK_STREAMS_SMALL_DATUM 256u
#define MK_STREAMS_POOL_BLOCK (MK_STREAMS_SMALL_DATUM + 64u)  /* + the larger datum header */
#define MK_STREAMS_POOL_IDLE 8192u

struct event;
typedef struct mk_streams mk_streams_t;
typedef struct mk_sink mk_sink_t;
typedef struct mk_pchan mk_pchan_t;
typedef struct mk_cchan mk_cchan_t;

/* A thread blocked in mk_*_wait: re-evaluated by the loop on every change. */
typedef struct mk_waiter {
    struct mk_waiter *next;
    const mk_when_t *when;
    bool met;                 /* mu of the owner */
} mk_waiter_t;

/* A condition object (cond_obj.c): registered in its owner's list, re-evaluated by the loop. */
typedef struct mk_cond_obj mk_cond_obj_t;
struct mk_cond_obj {
    mk_cond_obj_t *next;      /* in the owner's list (loop) */
    void *owner;              /* mk_sink_t or mk_consumer_t (a reference) */
    bool is_sink;
    mk_network_t *n;
    mk_when_t when;           /* tags copied */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    mk_cond_latch_t latch;    /* mu */
    bool closed;              /* mu: the owner closed */
    mk_readyfd_t ready;       /* mu */
    void (*fn)(void *ctx, mk_cond_t *c);  /* loop */
    void *ctx;
};
/* cond_obj.c: the loop re-evaluates the owner's objects over its Connected peers. */
void mk_conds_update(mk_cond_obj_t *list, const mk_peer_info_t *peers, size_t n);
/* The owner closed: waiters get MK_ECLOSED. */
void mk_conds_close(mk_cond_obj_t *list);

/* ---- producer side ---- */

struct mk_pchan {  /* one consumer subscribed to a sink (or still in its handshake) */
    mk_pchan_t *next;
    mk_sink_t *sink;          /* NULL while in handshake */
    mk_streams_t *st;
    mk_link_t *link;
    uint64_t id;
    mk_peer_id_t peer;
    mk_channel_state_t state;
    const mk_peer_entry_t *entry;  /* at subscription */
    mk_ticket_gate_t *gate;
    int64_t since_ms;         /* handshake start (monotonic) */
    mk_fan_cursor_t cur;      /* read cursor into the sink's ring while Connected */
    mk_stream_stats_t stats;
    mk_chan_p_t proto;        /* the handshake and frame rules of this link */
};

typedef struct mk_sdatum {  /* a datum: in the sink's input queue, then in its ring */
    _Atomic uint32_t refs;
    size_t len;
    uint8_t bytes[];
} mk_sdatum_t;

struct mk_sink {
    mk_sink_t *next;
    mk_streams_t *st;         /* loop side only: freed with the network */
    mk_network_t *n;          /* for API calls, used only while not closed */
    mk_id_t id;
    mk_bufpool_t *pool;       /* retained: small datums */
    mk_producer_config_t cfg;  /* defaults applied; arrays copied */
    size_t nrequire, ntickets;
    const mk_ticket_validator_t *tickets[MK_STREAM_MAX_TICKETS];  /* references */
    mk_when_t online_when;
    mk_pchan_t *chans;
    size_t nchans;            /* Connected */
    mk_fan_t fan;             /* datums not yet handed to every Connected channel's link */
    uint64_t sent_datums, sent_bytes;  /* handed to links since the last stats update */
    bool listed;              /* in the local entry */
    struct event *drain_ev;   /* continues a drain after the loop has flushed the links */
    mk_gauge_t *m_consumers;
    mk_counter_t *m_accepted, *m_rejected, *m_items, *m_bytes, *m_dropped;
    int64_t opened_ms;        /* Unix ms */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint32_t refs;    /* the loop's (until closed) + handles + commands in flight */
    _Atomic uint32_t handles; /* open mk_producer_t handles */
    mk_sdatum_t **queue;      /* mu: ring of buffer_size */
    size_t qhead, qlen;       /* mu */
    bool drain_posted;        /* mu */
    bool online, closed;      /* mu */
    mk_readyfd_t ready;       /* mu: readable while try_send would be accepted */
    mk_waiter_t *waiters;     /* mu */
    mk_cond_obj_t *conds;     /* loop */
    mk_producer_stats_t stats;/* mu (snapshot for API threads) */
};

struct mk_producer {
    mk_sink_t *sink;
    _Atomic bool freed;
};

/* ---- consumer side ---- */

typedef struct mk_rdatum {  /* a received datum; refcounted so datums can be duplicated */
    _Atomic uint32_t refs;
    size_t len;
    mk_id_t producer;
    uint64_t channel_id;
    uint8_t bytes[];
} mk_rdatum_t;

struct mk_cchan {  /* one producer this consumer subscribes to */
    mk_cchan_t *next;
    mk_consumer_t *c;
    mk_link_t *link;
    uint64_t id;
    mk_peer_id_t peer;
    mk_channel_state_t state;
    bool link_open, accepted, parked;
    const mk_peer_entry_t *parked_entry;  /* the producer's entry when parked: re-examined once it changes */
    int64_t parked_until_ms;
    const mk_peer_entry_t *entry;       /* at creation */
    mk_ticket_gate_t *gate;
    mk_backoff_state_t backoff;
    struct event *retry_ev;
    int64_t hs_since_ms;
    mk_stream_stats_t stats;
    mk_chan_c_t proto;                  /* the frame rules of the current link */
};

struct mk_consumer {
    mk_consumer_t *next;
    mk_streams_t *st;         /* loop side only: freed with the network */
    mk_network_t *n;          /* for API calls, used only while not closed */
    mk_id_t id;
    mk_bufpool_t *pool;       /* retained: small datums */
    mk_consumer_config_t cfg;
    size_t nrequire, ntickets;
    const mk_ticket_validator_t *tickets[MK_STREAM_MAX_TICKETS];
    mk_when_t online_when;
    mk_backoff_params_t backoff;
    mk_cchan_t *chans;
    uint64_t rng;
    struct { mk_peer_id_t peer; int64_t retry_ms; bool inflight; } probes[16];  /* RTT probes before subscribing */
    size_t nprobes;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    mk_rdatum_t **queue;      /* mu: ring */
    size_t qcap, qhead, qlen, qbytes;  /* mu */
    bool paused;              /* loop: Connected links not read while the queue is full */
    size_t qtail;             /* loop: the slot after the last staged datum (= qhead + qlen + nstaged) */
    size_t nstaged, staged_bytes;  /* loop: datums in slots past qlen, not yet published */
    size_t seen_len, seen_bytes;   /* loop: qlen, qbytes at the last publish (upper bounds since) */
    uint64_t cb_datums, cb_bytes;  /* loop: callback-mode totals not yet published */
    bool closed, online;      /* mu */
    mk_readyfd_t ready;       /* mu: readable while the queue is non-empty or closed */
    mk_waiter_t *waiters;     /* mu */
    mk_cond_obj_t *conds;     /* loop */
    mk_gauge_t *m_producers, *m_active;
    mk_counter_t *m_items, *m_bytes, *m_protocol_errors;
    mk_stream_stats_t total;  /* mu */
    int64_t opened_ms;
    _Atomic uint32_t refs;    /* the loop's (until closed) + the handle's + commands in flight */
    bool freed;               /* mu: the handle was freed */
};

/* ---- the runtime ---- */

struct mk_streams {
    mk_network_t *n;
    mk_network_id_t net_id;
    mk_streams_config_t cfg;
    mk_bufpool_t *pool;       /* datums ≤ MK_STREAMS_SMALL_DATUM bytes, both directions */
    mk_sink_t *sinks;
    mk_consumer_t *consumers;
    mk_pchan_t *handshakes;   /* producer-side links waiting for Subscribe */
    size_t nhandshakes;
    uint64_t next_chan_id;
    mk_catalog_watch_t *watch;
    struct event *tick_ev;
    bool stopping;
    uint64_t rng;
    int64_t last_reeval_ms;
    mk_gauge_t *m_sinks;
    mk_counter_t *m_links_accepted, *m_links_rejected, *m_datums, *m_bytes;
};

/* runtime.c */
mk_streams_t *mk_streams_of(mk_network_t *n, mk_error_t *e);  /* NULL + MK_ECLOSED when stopping/absent */
int64_t mk_streams_now_ms(void);                             /* Unix ms */
/* The peer's current info in the latest catalog (entry borrowed from *cat, which the caller frees),
 * false when the peer is not in it. */
bool mk_streams_peer_info(mk_streams_t *st, const mk_peer_id_t *peer, mk_catalog_t **cat, mk_peer_info_t *out);
/* The AND of preds over info. */
bool mk_streams_preds_pass(const mk_peer_pred_t *preds, size_t n, const mk_peer_info_t *info);

/* sink.c */
void mk_sink_accept(mk_streams_t *st, mk_link_t *l);          /* a new /mosaik/streams link */
void mk_sinks_on_catalog(mk_streams_t *st);
void mk_sinks_stop(mk_streams_t *st);
void mk_sinks_tick(mk_streams_t *st);

/* For cond_obj.c: evaluate an owner's condition on the loop; keep the owner alive. */
bool mk_sink_eval_when(void *owner, const mk_when_t *w);
void mk_sink_ref_(mk_sink_t *s);
void mk_sink_unref_(mk_sink_t *s);

/* consumer.c */
void mk_consumers_on_catalog(mk_streams_t *st);
void mk_consumers_stop(mk_streams_t *st);
void mk_consumers_tick(mk_streams_t *st);
bool mk_consumer_eval_when(void *owner, const mk_when_t *w);
void mk_consumer_ref_(mk_consumer_t *c);
void mk_consumer_unref_(mk_consumer_t *c);

/* status.c: waits, checks and channel snapshots shared by producers and consumers */
typedef bool (*mk_eval_fn)(void *owner, const mk_when_t *w);  /* loop thread */
/* Re-evaluates the waiters of an owner over its Connected peers; wakes cv when one became met. */
void mk_streams_waiters_update(pthread_mutex_t *mu, pthread_cond_t *cv, mk_waiter_t *list, const mk_peer_info_t *peers,
                               size_t n);
/* Blocks until w holds for owner (MK_OK), timeout (MK_ETIMEDOUT) or close (MK_ECLOSED). API threads. */
int mk_streams_wait(mk_network_t *n, void *owner, mk_eval_fn eval, pthread_mutex_t *mu, pthread_cond_t *cv,
                    mk_waiter_t **list, const bool *closed, const mk_when_t *w, int timeout_ms, mk_error_t *e);
/* w evaluated once on the loop. API threads. */
bool mk_streams_check(mk_network_t *n, void *owner, mk_eval_fn eval, const mk_when_t *w);
/* Fills a snapshot of owner's channels on the loop (fill sets *v, *n and returns MK_OK or
 * MK_ENOMEM); MK_ECLOSED naming `what` once closed. API threads. */
typedef int (*mk_snapshot_fn)(mk_network_t *n, void *owner, mk_channel_info_t **v, size_t *count);
int mk_streams_snapshot(mk_network_t *n, void *owner, mk_snapshot_fn fill, pthread_mutex_t *mu, const bool *closed,
                        const char *what, mk_channel_info_t **out, size_t *count, mk_error_t *e);

#endif
