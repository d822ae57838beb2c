/* tests/sim/groups/simstore.h — the simulator's crash-aware log store (see simstore.c). */
#ifndef MK_SIM_GROUPS_SIMSTORE_H
#define MK_SIM_GROUPS_SIMSTORE_H

#include "mosaik/groups.h"

typedef struct simstore simstore_t;

/* area: the store has the optional snapshot area (snap_begin/put/commit/open), as LMDB; without it, as
 * the in-memory store. */
simstore_t *simstore_new(uint64_t incarnation, bool area);
mk_log_store_t *simstore_pub(simstore_t *m);
/* The process died: only what sync (or snap_commit) made durable remains. */
void simstore_crash(simstore_t *m);
/* The disk is gone too: an empty store with a new incarnation. */
void simstore_amnesia(simstore_t *m, uint64_t incarnation);
/* The incarnation its meta holds now. */
uint64_t simstore_incarnation(const simstore_t *m);
/* The base cursor of the current view (0/0: the log starts at index 1). */
mk_cursor_t simstore_base(const simstore_t *m);
/* Writes not yet made durable. */
bool simstore_unsynced(const simstore_t *m);
void simstore_free(simstore_t *m);
/* Calls fn for every entry a sync makes durable from now on, with the term of the entry before it
 * (checkers: an entry lost in a crash before its sync was never seen by anyone). */
typedef void (*simstore_append_fn)(void *ctx, const mk_log_entry_t *e, mk_term_t prev_term);
void simstore_on_append(simstore_t *m, simstore_append_fn fn, void *ctx);

#endif
