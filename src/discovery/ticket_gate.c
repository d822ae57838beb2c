/* discovery/ticket_gate.c — admission gates with expiry timers over peer entries (see ticket_gate.h). */
#include "discovery/ticket_gate.h"

#include "core/time.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

struct mk_ticket_gate {
    const mk_ticket_validator_t **v;
    size_t n;
    mk_ticket_gate_ops_t ops;
    void *ctx;
    struct event *timer;
    mk_expiration_t armed;  /* the expiry the timer waits for */
};

int64_t mk_expiry_delay_ms(mk_expiration_t expires, int64_t now_ms) {
    if (expires == MK_EXPIRES_NEVER) return -1;
    if (expires <= now_ms) return 0;
    int64_t d = expires - now_ms;
    return d > MK_EXPIRY_MAX_DELAY_MS ? MK_EXPIRY_MAX_DELAY_MS : d;
}

static int64_t now_of(const mk_ticket_gate_t *g) { return g->ops.now_ms ? g->ops.now_ms(g->ctx) : mk_unix_ms(); }

static void arm(mk_ticket_gate_t *g, mk_expiration_t expires) {
    g->armed = expires;
    int64_t d = mk_expiry_delay_ms(expires, now_of(g));
    if (d < 0) {
        event_del(g->timer);
        return;
    }
    struct timeval tv = {(time_t)(d / 1000), (suseconds_t)(d % 1000) * 1000};
    event_add(g->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    mk_ticket_gate_t *g = arg;
    int64_t now = now_of(g);
    if (now < g->armed) {  /* capped delay, or the clock stepped back: wait on */
        arm(g, g->armed);
        return;
    }
    const mk_peer_entry_t *e = g->ops.latest ? g->ops.latest(g->ctx) : NULL;
    mk_ticket_verdict_t v;
    if (!e) {
        memset(&v, 0, sizeof v);
        v.reason = MK_TICKET_MISSING;
        strcpy(v.detail, "the peer's entry is gone");
    } else {
        mk_peer_entry_validate_all(e, g->v, g->n, now, &v);
        mk_peer_entry_unref(e);
    }
    if (v.valid) {
        arm(g, v.expires);  /* a refreshed ticket keeps the peer */
        return;
    }
    g->armed = MK_EXPIRES_NEVER;
    if (g->ops.revoked) g->ops.revoked(g->ctx, &v);
}

mk_ticket_gate_t *mk_ticket_gate_new(struct event_base *base, const mk_ticket_validator_t *const *v, size_t n,
                                     const mk_ticket_gate_ops_t *ops, void *ctx) {
    mk_ticket_gate_t *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->v = n ? calloc(n, sizeof *g->v) : NULL;
    g->timer = event_new(base, -1, 0, on_timer, g);
    if ((n && !g->v) || !g->timer) {
        if (g->timer) event_free(g->timer);
        free(g->v);
        free(g);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) g->v[i] = mk_ticket_validator_ref(v[i]);
    g->n = n;
    if (ops) g->ops = *ops;
    g->ctx = ctx;
    g->armed = MK_EXPIRES_NEVER;
    return g;
}

void mk_ticket_gate_check(mk_ticket_gate_t *g, const mk_peer_entry_t *e, mk_ticket_verdict_t *out) {
    mk_peer_entry_validate_all(e, g->v, g->n, now_of(g), out);
    if (out->valid) {
        arm(g, out->expires);
    } else {
        g->armed = MK_EXPIRES_NEVER;
        event_del(g->timer);
    }
}

mk_expiration_t mk_ticket_gate_armed(const mk_ticket_gate_t *g) { return g->armed; }

void mk_ticket_gate_free(mk_ticket_gate_t *g) {
    if (!g) return;
    event_free(g->timer);
    for (size_t i = 0; i < g->n; i++) mk_ticket_validator_unref(g->v[i]);
    free(g->v);
    free(g);
}
