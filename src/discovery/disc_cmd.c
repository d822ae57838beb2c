/* discovery/disc_cmd.c — API-thread → loop commands with waits that can time out safely. */
#include "discovery/disc_cmd.h"

#include "core/error.h"
#include "core/time.h"
#include "discovery/discovery.h"
#include "net/net.h"

#include <stdlib.h>

mk_disc_cmd_t *mk_disc_cmd_new(void (*run)(mk_disc_t *, mk_disc_cmd_t *), void (*cleanup)(mk_disc_cmd_t *),
                               void *payload) {
    mk_disc_cmd_t *c = calloc(1, sizeof *c);
    if (!c) {
        if (cleanup) {
            mk_disc_cmd_t tmp = {.payload = payload};
            cleanup(&tmp);
        }
        return NULL;
    }
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->mu, NULL);
    mk_cond_init(&c->cv);
    c->run = run;
    c->cleanup = cleanup;
    c->payload = payload;
    return c;
}

void mk_disc_cmd_put(mk_disc_cmd_t *c) {
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
    if (c->cleanup) c->cleanup(c);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

void mk_disc_cmd_done(mk_disc_cmd_t *c, int rc, const mk_error_t *err) {
    pthread_mutex_lock(&c->mu);
    c->done = true;
    c->rc = rc;
    if (err) c->err = *err;
    else if (rc != MK_OK) MK_ERR(&c->err, rc, "%s", mk_strerror(rc));
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    mk_disc_cmd_put(c);
}

static void cmd_on_loop(mk_network_t *n, void *arg) {
    mk_disc_cmd_t *c = arg;
    mk_disc_t *d = mk_net_subsystem(n, MK_SUBSYS_DISCOVERY);
    if (!d || mk_disc_stopping(d)) {
        mk_error_t err;
        MK_ERR(&err, MK_ETERMINATED, "discovery is stopping");
        mk_disc_cmd_done(c, MK_ETERMINATED, &err);
        return;
    }
    c->run(d, c);
}

static void cmd_dispose(void *arg) {  /* the loop will never run it */
    mk_disc_cmd_t *c = arg;
    mk_error_t err;
    MK_ERR(&err, MK_ETERMINATED, "network is stopping");
    mk_disc_cmd_done(c, MK_ETERMINATED, &err);
}

int mk_disc_cmd_submit(mk_network_t *n, mk_disc_cmd_t *c, int timeout_ms, mk_error_t *e) {
    if (!c) return MK_ERR(e, MK_ENOMEM, "out of memory");
    if (timeout_ms != 0 && mk_network_on_loop(n)) {
        mk_disc_cmd_put(c);
        return MK_ERR(e, MK_EDEADLK, "waiting call on the network's loop thread");
    }
    atomic_fetch_add(&c->refs, 1);  /* the loop's reference, dropped by mk_disc_cmd_done */
    if (mk_network_on_loop(n)) {
        cmd_on_loop(n, c);
    } else if (mk_loop_post(n, cmd_on_loop, c, cmd_dispose) != MK_OK) {
        /* dispose already completed the command with MK_ETERMINATED */
    }
    int rc = MK_OK;
    if (timeout_ms != 0) {
        int64_t deadline = mk_deadline_from(timeout_ms);
        pthread_mutex_lock(&c->mu);
        int w = MK_OK;
        while (!c->done && w == MK_OK) w = mk_cond_wait_ms(&c->cv, &c->mu, deadline);
        if (c->done) {
            rc = c->rc;
            if (rc != MK_OK && e) *e = c->err;
        } else {
            rc = MK_ERR(e, MK_ETIMEDOUT, "discovery did not finish within %d ms", timeout_ms);
        }
        pthread_mutex_unlock(&c->mu);
    } else {
        pthread_mutex_lock(&c->mu);
        if (c->done && c->rc == MK_ETERMINATED) {
            rc = MK_ETERMINATED;
            if (e) *e = c->err;
        }
        pthread_mutex_unlock(&c->mu);
    }
    mk_disc_cmd_put(c);
    return rc;
}
