/* discovery/rtt.h — the RTT tracker (spec 20 §5): per-peer RFC 6298 smoothing in integer µs. Written
 * by the loop, read by any thread (one small mutex); refcounted so catalog snapshots can report live
 * RTT after the network is gone. */
#ifndef MK_DISCOVERY_RTT_H
#define MK_DISCOVERY_RTT_H

#include "mosaik/id.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mk_rtt_tracker mk_rtt_tracker_t;

mk_rtt_tracker_t *mk_rtt_new(void);
mk_rtt_tracker_t *mk_rtt_ref(mk_rtt_tracker_t *t);
void mk_rtt_unref(mk_rtt_tracker_t *t);  /* NULL ok */
/* One sample R (µs): first → SRTT = R, RTTVAR = R/2; then RTTVAR = ¾RTTVAR + ¼|SRTT − R|, SRTT = ⅞SRTT + ⅛R. */
void mk_rtt_record(mk_rtt_tracker_t *t, const mk_peer_id_t *peer, uint32_t rtt_us, int64_t now_ms);
/* False when the peer has no sample. Any out-pointer may be NULL. */
bool mk_rtt_get(mk_rtt_tracker_t *t, const mk_peer_id_t *peer, int64_t *srtt_us, int64_t *rttvar_us,
                uint32_t *samples, int64_t *last_ms);
void mk_rtt_forget(mk_rtt_tracker_t *t, const mk_peer_id_t *peer);
/* Of the candidates, those without a sample or whose newest sample is older than older_than_ms, oldest
 * first (no sample first), at most cap into out; returns how many. */
size_t mk_rtt_stale(mk_rtt_tracker_t *t, const mk_peer_id_t *cand, size_t n, int64_t older_than_ms, mk_peer_id_t *out,
                    size_t cap);

#endif
