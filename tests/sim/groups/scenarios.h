/* tests/sim/groups/scenarios.h — the named scenarios of spec 40 §11.2 that live in scenarios.c:
 * rolling restarts (durable and in-memory), flapping links and configuration churn. groups-sim.c
 * keeps minority_leader and split_bootstrap and calls these for the others: gsc_params chooses the
 * run's parameters from the seed, gsc_setup adjusts the world after gw_init (before any node runs),
 * gsc_run drives it and asserts what is specific to the scenario. The generic invariants (checks.c)
 * run after every event and the history checks after gsc_run, as for every run. */
#ifndef MK_SIM_GROUPS_SCENARIOS_H
#define MK_SIM_GROUPS_SCENARIOS_H

#include "sim/groups/model.h"

typedef enum {
    GSC_ROLLING_RESTART,
    GSC_ROLLING_RESTART_MEM,
    GSC_FLAPPING_LINKS,
    GSC_CONFIG_CHURN,
    GSC_SLOW_FOLLOWER_SYNC
} gsc_kind_t;

/* What a scenario measured, summed (or min/max) over seeds for the summary line. */
typedef struct gsc_stats {
    uint64_t seeds;
    uint64_t restarts;              /* rolling_restart*: nodes restarted */
    int64_t max_unavail_us;         /* rolling_restart*: longest crash → first fresh commit */
    int64_t max_resync_us;          /* rolling_restart*: longest restart → back in sync */
    uint64_t flaps;                 /* flapping_links: link cuts */
    uint64_t leader_changes, max_leader_changes;  /* flapping_links: new leaders while flapping */
    uint64_t config_changes, min_config_changes;  /* config_churn: CONFIG entries after bootstrap */
    uint64_t repromotions;          /* config_churn: removed voters promoted again */
    uint64_t lagging, by_replay, by_snapshot;  /* slow_follower_sync: followers caught up, by which path */
    uint64_t max_lag;               /* slow_follower_sync: most entries behind when it came back */
    uint64_t by_replication;        /* slow_follower_sync: far behind, caught up without any sync session */
    uint64_t treadmills;            /* slow_follower_sync: still syncing 5 s after catching up, under load */
    int64_t max_catchup_us;         /* slow_follower_sync: longest back → caught up */
} gsc_stats_t;

void gsc_params(gsc_kind_t k, sim_t *s, gparams_t *p);
void gsc_setup(gsc_kind_t k, gworld_t *w);
void gsc_run(gsc_kind_t k, gworld_t *w, gsc_stats_t *st);
void gsc_stats_add(gsc_stats_t *into, const gsc_stats_t *one);
void gsc_stats_print(const char *scenario, const gsc_stats_t *st);
/* Checks over all the seeds of a batch; false (printed) when one fails. */
bool gsc_stats_check(gsc_kind_t k, const gsc_stats_t *st);

#endif
