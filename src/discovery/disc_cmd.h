/* discovery/disc_cmd.h — commands from API threads to the discovery runtime on the loop: a refcounted
 * record that the caller may stop waiting for (timeout) without the loop touching freed memory. */
#ifndef MK_DISCOVERY_DISC_CMD_H
#define MK_DISCOVERY_DISC_CMD_H

#include "mosaik/discovery.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct mk_disc mk_disc_t;
typedef struct mk_disc_cmd mk_disc_cmd_t;

struct mk_disc_cmd {
    _Atomic int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int rc;
    mk_error_t err;
    void (*run)(mk_disc_t *d, mk_disc_cmd_t *c);  /* loop: must end with mk_disc_cmd_done (now or later) */
    void (*cleanup)(mk_disc_cmd_t *c);            /* frees the payload; any thread, once */
    mk_disc_cmd_t *next_waiting;                  /* loop: commands waiting for an event */
    void *payload;
    uint64_t u64;                                 /* small argument or result */
};

/* A command with run/cleanup and an owned payload (NULL on ENOMEM: cleanup(payload) already ran). */
mk_disc_cmd_t *mk_disc_cmd_new(void (*run)(mk_disc_t *, mk_disc_cmd_t *), void (*cleanup)(mk_disc_cmd_t *),
                               void *payload);
/* Posts c to the loop of n and waits ≤ timeout_ms for it to finish (0 = queue only → MK_OK).
 * Returns the command's rc, MK_ETIMEDOUT, MK_ETERMINATED (network stopping) or MK_EDEADLK (on the loop
 * with a non-zero timeout); e is filled on failure. Consumes the caller's reference. */
int mk_disc_cmd_submit(mk_network_t *n, mk_disc_cmd_t *c, int timeout_ms, mk_error_t *e);
/* loop: completes c with rc (err may be NULL for MK_OK) and drops the loop's reference. */
void mk_disc_cmd_done(mk_disc_cmd_t *c, int rc, const mk_error_t *err);
void mk_disc_cmd_put(mk_disc_cmd_t *c);

#endif
