/* discovery/hyparview.h — the overlay as a sans-I/O state machine (spec 20 §3.1, HyParView): active and
 * passive views of peer ids, driven by inputs (messages, link events, ticks with now_ms) and producing
 * effects the runtime carries out (open a link, send a message, close a link, view changes). Seeded
 * PRNG: the same inputs give the same effects. Loop-owned. Invariants after every input: |active| ≤ A,
 * |passive| ≤ P, the views are disjoint, and neither holds the local id. */
#ifndef MK_DISCOVERY_HYPARVIEW_H
#define MK_DISCOVERY_HYPARVIEW_H

#include "mosaik/id.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MK_HPV_SAMPLE_MAX 8
#define MK_HPV_ARWL 6
#define MK_HPV_PRWL 3

typedef struct mk_hpv mk_hpv_t;

typedef struct mk_hpv_params {
    mk_peer_id_t self;
    uint32_t active, passive;       /* A, P */
    uint32_t shuffle_interval_ms;
    uint64_t seed;
} mk_hpv_params_t;

typedef enum { MK_HPV_OPEN = 1, MK_HPV_SEND, MK_HPV_CLOSE, MK_HPV_ACTIVE_ADDED, MK_HPV_ACTIVE_REMOVED, MK_HPV_TIMER }
    mk_hpv_effect_kind_t;
typedef enum { MK_HPV_OPEN_JOIN = 1, MK_HPV_OPEN_NEIGHBOR_HIGH, MK_HPV_OPEN_NEIGHBOR_LOW, MK_HPV_OPEN_SHUFFLE_REPLY }
    mk_hpv_open_kind_t;
typedef enum { MK_HPV_MSG_WELCOME = 1, MK_HPV_MSG_NEIGHBOR_REPLY, MK_HPV_MSG_FORWARD_JOIN, MK_HPV_MSG_DISCONNECT,
               MK_HPV_MSG_SHUFFLE, MK_HPV_MSG_SHUFFLE_REPLY } mk_hpv_msg_t;

typedef struct mk_hpv_effect {
    mk_hpv_effect_kind_t kind;
    mk_peer_id_t peer;          /* whom it concerns */
    mk_hpv_open_kind_t open_kind; /* OPEN: what the link is for (its first frame) */
    mk_hpv_msg_t msg;           /* SEND */
    bool accept, alive;         /* NeighborReply, Disconnect */
    mk_peer_id_t about;         /* ForwardJoin joiner, Shuffle origin */
    uint8_t ttl;
    mk_peer_id_t sample[MK_HPV_SAMPLE_MAX];
    size_t nsample;
} mk_hpv_effect_t;

typedef struct mk_hpv_sizes {
    size_t active, passive;
} mk_hpv_sizes_t;

mk_hpv_t *mk_hpv_new(const mk_hpv_params_t *p);
void mk_hpv_free(mk_hpv_t *h);
void mk_hpv_sizes(const mk_hpv_t *h, mk_hpv_sizes_t *out);
bool mk_hpv_is_active(const mk_hpv_t *h, const mk_peer_id_t *peer);
bool mk_hpv_is_passive(const mk_hpv_t *h, const mk_peer_id_t *peer);
/* The active view into out[0..cap); returns its size. */
size_t mk_hpv_active(const mk_hpv_t *h, mk_peer_id_t *out, size_t cap);

/* Inputs. `peer` is the other end of the link the message came on. */
void mk_hpv_on_join(mk_hpv_t *h, const mk_peer_id_t *peer, int64_t now_ms);
void mk_hpv_on_neighbor(mk_hpv_t *h, const mk_peer_id_t *peer, bool high, int64_t now_ms);
void mk_hpv_on_welcome(mk_hpv_t *h, const mk_peer_id_t *peer, int64_t now_ms);
void mk_hpv_on_neighbor_reply(mk_hpv_t *h, const mk_peer_id_t *peer, bool accept, int64_t now_ms);
void mk_hpv_on_forward_join(mk_hpv_t *h, const mk_peer_id_t *from, const mk_peer_id_t *joiner, uint8_t ttl,
                            int64_t now_ms);
void mk_hpv_on_disconnect(mk_hpv_t *h, const mk_peer_id_t *peer, bool alive, int64_t now_ms);
/* An active member's link ended without Disconnect (graceful: closed 200 by the peer). */
void mk_hpv_on_link_down(mk_hpv_t *h, const mk_peer_id_t *peer, bool graceful, int64_t now_ms);
/* A link we opened failed before its answer. */
void mk_hpv_on_dial_failed(mk_hpv_t *h, const mk_peer_id_t *peer, int64_t now_ms);
void mk_hpv_on_shuffle(mk_hpv_t *h, const mk_peer_id_t *from, const mk_peer_id_t *origin, uint8_t ttl,
                       const mk_peer_id_t *sample, size_t k, int64_t now_ms);
void mk_hpv_on_shuffle_reply(mk_hpv_t *h, const mk_peer_id_t *peer, const mk_peer_id_t *sample, size_t k,
                             int64_t now_ms);
/* A peer known from elsewhere (catalog): a passive-view candidate. */
void mk_hpv_learned(mk_hpv_t *h, const mk_peer_id_t *peer);
/* The peer left (departed, purged, removed): out of both views. */
void mk_hpv_forget(mk_hpv_t *h, const mk_peer_id_t *peer, int64_t now_ms);
/* Periodic work: repair, shuffle, join retries, pending timeouts. */
void mk_hpv_tick(mk_hpv_t *h, int64_t now_ms);

/* Next effect (false when none are queued). */
bool mk_hpv_next_effect(mk_hpv_t *h, mk_hpv_effect_t *out);
/* ms until mk_hpv_tick has work (≥ 0). */
int64_t mk_hpv_next_timer_ms(const mk_hpv_t *h, int64_t now_ms);

#endif
