/* support/mkt_group.h — groups fixtures for integration tests: the Counter state machine of spec 40
 * §11.1 (inc(u32), dec(u32), query → i64), fast consensus timings scaled by MK_TIME_FACTOR, joining
 * helpers and waits. */
#ifndef MKT_GROUP_H
#define MKT_GROUP_H

#include "support/mkt_disc.h"

#include "mosaik/groups.h"

typedef struct mkt_counter {
    int64_t value;
    uint64_t applied;            /* commands seen */
    mk_leadership_t lead;        /* leadership preference (default Normal) */
    bool destroyed;
    uint64_t snapshots, installs;  /* snapshots taken / installed (MKT_COUNTER_SNAP) */
} mkt_counter_t;

extern const mk_state_machine_t MKT_COUNTER;
/* The same counter with the snapshot set: one item {value, applied}. */
extern const mk_state_machine_t MKT_COUNTER_SNAP;

/* Encodes inc(n) / dec(n) into out[5]. */
void mkt_counter_inc(uint8_t out[5], uint32_t n);
void mkt_counter_dec(uint8_t out[5], uint32_t n);
/* The counter value a query result holds (INT64_MIN if malformed). */
int64_t mkt_counter_result(const mk_query_result_t *r);
/* Fast timings: heartbeat 100 ms, election 600 ms, bootstrap delay 300 ms (all × MK_TIME_FACTOR). */
void mkt_group_fast(mk_group_config_t *cfg);
/* Config for a counter group named `key` with machine self c (fast timings). */
mk_group_config_t mkt_group_config(const char *key, mkt_counter_t *c);
/* Joins or fails the test. */
mk_group_t *mkt_group_join(mk_network_t *n, const mk_group_config_t *cfg);
/* Waits ≤ T(secs) until every group in gs agrees on one leader; returns its index in gs (fails the test otherwise). */
int mkt_group_wait_leader(mk_group_t **gs, size_t n, double secs);
/* Executes inc(k) on g or fails the test. */
void mkt_group_inc(mk_group_t *g, uint32_t k);
/* Weak / strong counter value on g. */
int64_t mkt_group_value(mk_group_t *g, mk_consistency_t c);

#endif
