/* streams/cond_obj.c — condition objects (spec 30 §4.1): registered with their producer or consumer,
 * re-evaluated by the loop after every channel or catalog change; each maximal interval during which
 * the condition holds is reported once — by mk_cond_wait/mk_cond_poll, or by the callback when one is
 * set — and the readiness fd is readable exactly while an unreported interval is current. */
#include "streams/streams_int.h"

#include "core/error.h"
#include "core/time.h"

#include <stdlib.h>
#include <string.h>

struct mk_cond {
    mk_cond_obj_t o;
};

static mk_cond_obj_t **owner_list(mk_cond_obj_t *o) {
    return o->is_sink ? &((mk_sink_t *)o->owner)->conds : &((mk_consumer_t *)o->owner)->conds;
}

static bool owner_eval(mk_cond_obj_t *o) {
    return o->is_sink ? mk_sink_eval_when(o->owner, &o->when) : mk_consumer_eval_when(o->owner, &o->when);
}

/* Applies an evaluation: a new interval is published (fd, waiters) or reported by the callback. */
static void apply(mk_cond_obj_t *o, bool met) {
    pthread_mutex_lock(&o->mu);
    bool started = mk_latch_update(&o->latch, met);
    bool report_by_cb = started && o->fn;
    if (report_by_cb) mk_latch_take(&o->latch);
    mk_readyfd_set(&o->ready, mk_latch_pending(&o->latch));
    if (started) pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    if (report_by_cb) o->fn(o->ctx, (mk_cond_t *)o);
}

void mk_conds_update(mk_cond_obj_t *list, const mk_peer_info_t *peers, size_t n) {
    for (mk_cond_obj_t *o = list, *next; o; o = next) {
        next = o->next;
        apply(o, mk_when_eval(&o->when, peers, n));
    }
}

void mk_conds_close(mk_cond_obj_t *list) {
    for (mk_cond_obj_t *o = list; o; o = o->next) {
        pthread_mutex_lock(&o->mu);
        o->closed = true;
        mk_latch_update(&o->latch, false);
        mk_readyfd_set(&o->ready, false);
        pthread_cond_broadcast(&o->cv);
        pthread_mutex_unlock(&o->mu);
    }
}

/* ---- registration through the loop ---- */

typedef struct reg_arg {
    mk_cond_obj_t *o;
    bool add;
    int rc;
} reg_arg_t;

static bool owner_closed(mk_cond_obj_t *o) {
    bool closed;
    if (o->is_sink) {
        mk_sink_t *s = o->owner;
        pthread_mutex_lock(&s->mu);
        closed = s->closed;
        pthread_mutex_unlock(&s->mu);
    } else {
        mk_consumer_t *c = o->owner;
        pthread_mutex_lock(&c->mu);
        closed = c->closed;
        pthread_mutex_unlock(&c->mu);
    }
    return closed;
}

static void reg_cmd(mk_network_t *n, void *arg) {
    (void)n;
    reg_arg_t *a = arg;
    mk_cond_obj_t *o = a->o;
    mk_cond_obj_t **list = owner_list(o);
    if (a->add) {
        if (owner_closed(o)) {
            a->rc = MK_ECLOSED;
            return;
        }
        bool met = owner_eval(o);
        pthread_mutex_lock(&o->mu);
        mk_latch_init(&o->latch, met);
        mk_readyfd_set(&o->ready, mk_latch_pending(&o->latch));
        pthread_mutex_unlock(&o->mu);
        o->next = *list;
        *list = o;
    } else {
        for (mk_cond_obj_t **pp = list; *pp; pp = &(*pp)->next)
            if (*pp == o) {
                *pp = o->next;
                break;
            }
    }
    a->rc = MK_OK;
}

static void destroy(mk_cond_obj_t *o) {
    mk_when_free(&o->when);
    mk_readyfd_close(&o->ready);
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
    if (o->is_sink) mk_sink_unref_(o->owner);
    else mk_consumer_unref_(o->owner);
    free(o);
}

static mk_cond_t *make(void *owner, bool is_sink, mk_network_t *n, const mk_when_t *w, mk_error_t *e) {
    mk_cond_obj_t *o = calloc(1, sizeof *o);
    if (!o) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    o->owner = owner;
    o->is_sink = is_sink;
    o->n = n;
    pthread_mutex_init(&o->mu, NULL);
    mk_cond_init(&o->cv);
    if (is_sink) mk_sink_ref_(owner);
    else mk_consumer_ref_(owner);
    bool ok = mk_readyfd_init(&o->ready) == MK_OK && mk_when_copy(&o->when, w) == MK_OK;
    if (!ok) {
        destroy(o);
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    reg_arg_t a = {o, true, MK_OK};
    int rc = owner_closed(o) ? MK_ECLOSED : mk_loop_call(n, reg_cmd, &a, 5000, e);
    if (rc == MK_OK) rc = a.rc;
    if (rc != MK_OK) {
        destroy(o);
        MK_ERR(e, rc, "cannot register the condition (%s)", rc == MK_ECLOSED ? "closed" : mk_strerror(rc));
        return NULL;
    }
    return (mk_cond_t *)o;
}

mk_cond_t *mk_producer_cond(mk_producer_t *p, const mk_when_t *w, mk_error_t *e) {
    if (!p) {
        MK_ERR(e, MK_EINVAL, "producer is NULL");
        return NULL;
    }
    mk_sink_t *s = p->sink;
    return make(s, true, s->n, w ? w : &s->online_when, e);
}

mk_cond_t *mk_consumer_cond(mk_consumer_t *c, const mk_when_t *w, mk_error_t *e) {
    if (!c) {
        MK_ERR(e, MK_EINVAL, "consumer is NULL");
        return NULL;
    }
    return make(c, false, c->n, w ? w : &c->online_when, e);
}

mk_cond_t *mk_cond_clone(const mk_cond_t *c, bool invert, mk_error_t *e) {
    if (!c) {
        MK_ERR(e, MK_EINVAL, "condition is NULL");
        return NULL;
    }
    mk_when_t w = c->o.when;
    if (invert) w.unmet = !w.unmet;
    return make(c->o.owner, c->o.is_sink, c->o.n, &w, e);
}

void mk_cond_free(mk_cond_t *c) {
    if (!c) return;
    mk_cond_obj_t *o = &c->o;
    reg_arg_t a = {o, false, MK_OK};
    /* a closed owner's list is never walked again: the object may simply go */
    if (!owner_closed(o)) {
        if (mk_network_on_loop(o->n)) reg_cmd(o->n, &a);
        else mk_loop_call(o->n, reg_cmd, &a, 5000, NULL);
    }
    destroy(o);
}

bool mk_cond_is_met(const mk_cond_t *c) {
    if (!c) return false;
    mk_cond_obj_t *o = (mk_cond_obj_t *)(uintptr_t)&c->o;
    pthread_mutex_lock(&o->mu);
    bool met = o->latch.met && !o->closed;
    pthread_mutex_unlock(&o->mu);
    return met;
}

int mk_cond_poll(mk_cond_t *c) {
    if (!c) return MK_EINVAL;
    pthread_mutex_lock(&c->o.mu);
    bool took = mk_latch_take(&c->o.latch);
    mk_readyfd_set(&c->o.ready, mk_latch_pending(&c->o.latch));
    pthread_mutex_unlock(&c->o.mu);
    return took ? MK_OK : MK_EAGAIN;
}

int mk_cond_wait(mk_cond_t *c, int timeout_ms, mk_error_t *e) {
    if (!c) return MK_ERR(e, MK_EINVAL, "condition is NULL");
    mk_cond_obj_t *o = &c->o;
    pthread_mutex_lock(&o->mu);
    bool closed = o->closed;
    pthread_mutex_unlock(&o->mu);
    if (timeout_ms != 0 && !closed && mk_network_on_loop(o->n)) return MK_ERR(e, MK_EDEADLK, "a wait would block the loop thread");
    int64_t deadline = timeout_ms < 0 ? -1 : mk_deadline_from(timeout_ms);
    int rc = MK_OK;
    pthread_mutex_lock(&o->mu);
    while (!mk_latch_take(&o->latch)) {
        if (o->closed) {
            rc = MK_ERR(e, MK_ECLOSED, "the producer or consumer closed");
            break;
        }
        if (timeout_ms == 0 || mk_cond_wait_ms(&o->cv, &o->mu, deadline) == MK_ETIMEDOUT) {
            if (mk_latch_take(&o->latch)) break;
            rc = MK_ERR(e, MK_ETIMEDOUT, "no new interval within %d ms", timeout_ms);
            break;
        }
    }
    mk_readyfd_set(&o->ready, mk_latch_pending(&o->latch));
    pthread_mutex_unlock(&o->mu);
    return rc;
}

int mk_cond_fd(const mk_cond_t *c) { return c ? mk_readyfd_fd(&c->o.ready) : -1; }

typedef struct cb_arg {
    mk_cond_obj_t *o;
    void (*fn)(void *ctx, mk_cond_t *c);
    void *ctx;
} cb_arg_t;

static void cb_cmd(mk_network_t *n, void *arg) {
    (void)n;
    cb_arg_t *a = arg;
    a->o->fn = a->fn;
    a->o->ctx = a->ctx;
    /* an interval current and unreported is reported by the new callback at once */
    pthread_mutex_lock(&a->o->mu);
    bool now = a->fn && mk_latch_take(&a->o->latch);
    mk_readyfd_set(&a->o->ready, mk_latch_pending(&a->o->latch));
    pthread_mutex_unlock(&a->o->mu);
    if (now) a->fn(a->ctx, (mk_cond_t *)a->o);
}

void mk_cond_set_callback(mk_cond_t *c, void (*fn)(void *ctx, mk_cond_t *c), void *ctx) {
    if (!c || owner_closed(&c->o)) return;
    cb_arg_t a = {&c->o, fn, ctx};
    if (mk_network_on_loop(c->o.n)) cb_cmd(c->o.n, &a);
    else mk_loop_call(c->o.n, cb_cmd, &a, 5000, NULL);
}
