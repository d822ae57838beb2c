/* discovery/ticket_gate.h — keeping a connected peer admitted (spec 60 §2.2), for streams, groups and
 * collections: the ticket rule at admission and whenever the peer's entry changes, plus an expiry
 * timer that re-judges the peer's latest entry when its earliest expiry passes (the delay is taken
 * from the wall clock and capped at 24 h, then re-armed, so clock steps do no harm). A refreshed
 * ticket keeps the peer; a failure calls `revoked` at once. Loop-thread only. */
#ifndef MK_DISCOVERY_TICKET_GATE_H
#define MK_DISCOVERY_TICKET_GATE_H

#include "mosaik/discovery.h"

struct event_base;

#define MK_EXPIRY_MAX_DELAY_MS (24LL * 3600 * 1000)

typedef struct mk_ticket_gate mk_ticket_gate_t;

typedef struct mk_ticket_gate_ops {
    /* The peer's current entry (a new reference), or NULL when it is gone. */
    const mk_peer_entry_t *(*latest)(void *ctx);
    /* The peer no longer passes: the owner closes its connection (streams 10_403, groups 30_403). */
    void (*revoked)(void *ctx, const mk_ticket_verdict_t *why);
    /* Optional: the wall clock in ms (default mk_unix_ms); tests and the simulator drive it. */
    int64_t (*now_ms)(void *ctx);
} mk_ticket_gate_ops_t;

/* The ms to wait from now_ms until expires: 0 when due, -1 for MK_EXPIRES_NEVER, capped at 24 h. Pure. */
int64_t mk_expiry_delay_ms(mk_expiration_t expires, int64_t now_ms);

/* A gate over validators v[0..n) (references taken). NULL on allocation failure. */
mk_ticket_gate_t *mk_ticket_gate_new(struct event_base *base, const mk_ticket_validator_t *const *v, size_t n,
                                     const mk_ticket_gate_ops_t *ops, void *ctx);
/* Judges e now (admission, or a new entry version): valid arms the timer for the verdict's expiry,
 * invalid disarms it. The verdict goes to *out. Does not call `revoked`. */
void mk_ticket_gate_check(mk_ticket_gate_t *g, const mk_peer_entry_t *e, mk_ticket_verdict_t *out);
/* When the timer fires next (wall ms), or MK_EXPIRES_NEVER when disarmed. */
mk_expiration_t mk_ticket_gate_armed(const mk_ticket_gate_t *g);
void mk_ticket_gate_free(mk_ticket_gate_t *g);

#endif
