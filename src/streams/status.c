/* streams/status.c — blocking waits and immediate checks of conditions over a producer's or a
 * consumer's channels (spec 30 §4.1). A waiting thread registers a waiter through the loop (which
 * evaluates it at once), then sleeps on the owner's condition variable; the loop re-evaluates every
 * waiter after each channel or catalog change. */
#include "streams/streams_int.h"

#include "core/error.h"
#include "core/time.h"

void mk_streams_waiters_update(pthread_mutex_t *mu, pthread_cond_t *cv, mk_waiter_t *list, const mk_peer_info_t *peers,
                               size_t n) {
    pthread_mutex_lock(mu);
    bool any = false;
    for (mk_waiter_t *w = list; w; w = w->next) {  /* latched: a condition that held once releases its waiter */
        bool met = mk_when_eval(w->when, peers, n);
        any |= met && !w->met;
        if (met) w->met = true;
    }
    if (any) pthread_cond_broadcast(cv);
    pthread_mutex_unlock(mu);
}

typedef struct reg_arg {
    void *owner;
    mk_eval_fn eval;
    pthread_mutex_t *mu;
    mk_waiter_t **list;
    mk_waiter_t *w;
    bool add;
} reg_arg_t;

static void reg_cmd(mk_network_t *n, void *arg) {
    (void)n;
    reg_arg_t *a = arg;
    bool met = a->add ? a->eval(a->owner, a->w->when) : false;
    pthread_mutex_lock(a->mu);
    if (a->add) {
        a->w->met = met;
        a->w->next = *a->list;
        *a->list = a->w;
    } else {
        for (mk_waiter_t **pp = a->list; *pp; pp = &(*pp)->next)
            if (*pp == a->w) {
                *pp = a->w->next;
                break;
            }
    }
    pthread_mutex_unlock(a->mu);
}

typedef struct check_arg {
    void *owner;
    mk_eval_fn eval;
    const mk_when_t *w;
    bool met;
} check_arg_t;

static void check_cmd(mk_network_t *n, void *arg) {
    (void)n;
    check_arg_t *a = arg;
    a->met = a->eval(a->owner, a->w);
}

bool mk_streams_check(mk_network_t *n, void *owner, mk_eval_fn eval, const mk_when_t *w) {
    check_arg_t a = {owner, eval, w, false};
    if (mk_network_on_loop(n)) check_cmd(n, &a);
    else if (mk_loop_call(n, check_cmd, &a, 5000, NULL) != MK_OK) return false;
    return a.met;
}

int mk_streams_wait(mk_network_t *n, void *owner, mk_eval_fn eval, pthread_mutex_t *mu, pthread_cond_t *cv,
                    mk_waiter_t **list, const bool *closed, const mk_when_t *w, int timeout_ms, mk_error_t *e) {
    pthread_mutex_lock(mu);
    bool gone = *closed;
    pthread_mutex_unlock(mu);
    if (gone) return MK_ERR(e, MK_ECLOSED, "closed");
    if (timeout_ms != 0 && mk_network_on_loop(n)) return MK_ERR(e, MK_EDEADLK, "a wait would block the loop thread");
    mk_waiter_t waiter = {.when = w};
    reg_arg_t reg = {owner, eval, mu, list, &waiter, true};
    if (mk_loop_call(n, reg_cmd, &reg, 5000, e) != MK_OK) return e ? e->code : MK_ECLOSED;
    int64_t deadline = timeout_ms < 0 ? -1 : mk_deadline_from(timeout_ms);
    int rc = MK_OK;
    pthread_mutex_lock(mu);
    while (!waiter.met) {
        if (*closed) {
            rc = MK_ERR(e, MK_ECLOSED, "closed while waiting");
            break;
        }
        if (timeout_ms == 0 || mk_cond_wait_ms(cv, mu, deadline) == MK_ETIMEDOUT) {
            if (!waiter.met) rc = MK_ERR(e, MK_ETIMEDOUT, "condition not met within %d ms", timeout_ms);
            break;
        }
    }
    bool was_closed = *closed;
    pthread_mutex_unlock(mu);
    reg.add = false;
    if (was_closed || mk_loop_call(n, reg_cmd, &reg, 5000, NULL) != MK_OK) {
        /* the loop is gone: unlink here */
        pthread_mutex_lock(mu);
        for (mk_waiter_t **pp = list; *pp; pp = &(*pp)->next)
            if (*pp == &waiter) {
                *pp = waiter.next;
                break;
            }
        pthread_mutex_unlock(mu);
    }
    return rc;
}

typedef struct snapshot_arg {
    void *owner;
    mk_snapshot_fn fill;
    mk_channel_info_t *v;
    size_t n;
    int rc;
} snapshot_arg_t;

static void snapshot_cmd(mk_network_t *n, void *arg) {
    snapshot_arg_t *a = arg;
    a->rc = a->fill(n, a->owner, &a->v, &a->n);
}

int mk_streams_snapshot(mk_network_t *n, void *owner, mk_snapshot_fn fill, pthread_mutex_t *mu, const bool *closed,
                        const char *what, mk_channel_info_t **out, size_t *count, mk_error_t *e) {
    *out = NULL;
    *count = 0;
    pthread_mutex_lock(mu);
    bool is_closed = *closed;
    pthread_mutex_unlock(mu);
    if (is_closed) return MK_ERR(e, MK_ECLOSED, "the %s is closed", what);
    snapshot_arg_t a = {.owner = owner, .fill = fill};
    int rc = mk_loop_call(n, snapshot_cmd, &a, 5000, e);
    if (rc == MK_OK && a.rc != MK_OK) rc = MK_ERR(e, a.rc, "%s channels: out of memory", what);
    if (rc != MK_OK) {
        mk_channel_info_free(a.v, a.n);
        return rc;
    }
    *out = a.v;
    *count = a.n;
    return MK_OK;
}
