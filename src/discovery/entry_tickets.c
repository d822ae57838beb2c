/* discovery/entry_tickets.c — judging a peer entry's tickets (spec 60 §1.2, §2.2): predicate queries,
 * one validator's verdict (latest expiry among accepted tickets), and the ticket rule over a list of
 * validators (all must pass, earliest expiry, first failure reported). */
#include "discovery/entry.h"
#include "tickets/validator.h"

#include <string.h>

size_t mk_peer_entry_valid_tickets(const mk_peer_entry_t *e, const mk_id_t *cls, mk_ticket_pred_fn pred, void *ctx,
                                   const mk_ticket_t **out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; e && cls && i < e->n_tickets; i++) {
        const mk_ticket_t *t = &e->tickets[i];
        if (!mk_id_eq(&t->cls, cls) || (pred && !pred(ctx, t->data, t->len))) continue;
        if (out && k < cap) out[k] = t;
        k++;
    }
    return k;
}

bool mk_peer_entry_has_valid_ticket(const mk_peer_entry_t *e, const mk_id_t *cls, mk_ticket_pred_fn pred, void *ctx) {
    return mk_peer_entry_valid_tickets(e, cls, pred, ctx, NULL, 0) > 0;
}

void mk_peer_entry_validate_ticket(const mk_peer_entry_t *e, const mk_ticket_validator_t *v, int64_t now_ms,
                                   mk_ticket_verdict_t *out) {
    if (!e || !v || !v->vt || !v->vt->validate) {
        mk_verdict_invalid(out, MK_TICKET_INTERNAL, 0, "no entry or validator");
        return;
    }
    mk_id_t cls = mk_ticket_validator_class(v);
    mk_ticket_peer_t peer = {.peer_id = e->peer, .network_id = e->network, .entry = e};
    /* a static validator is prepared once for all of the entry's tickets */
    mk_validator_heap_t *h = mk_validator_heap(v);
    void *state = h ? h->state : NULL;
    bool prepared_here = false;
    if (!h && v->vt->prepare) {
        mk_error_t err;
        if (v->vt->prepare(v->cfg, &state, &err) != MK_OK) {
            mk_verdict_invalid(out, MK_TICKET_INTERNAL, 0, "validator configuration: %.100s", err.msg);
            return;
        }
        prepared_here = true;
    }
    bool any = false, accepted = false;
    mk_ticket_verdict_t best, last;
    memset(&best, 0, sizeof best);
    memset(&last, 0, sizeof last);
    for (size_t i = 0; i < e->n_tickets; i++) {
        const mk_ticket_t *t = &e->tickets[i];
        if (!mk_id_eq(&t->cls, &cls)) continue;
        any = true;
        mk_ticket_verdict_t one;
        v->vt->validate(v->cfg, state, t->data, t->len, &peer, now_ms, &one);
        if (one.valid && one.expires <= now_ms) {  /* a verdict already past is no verdict */
            mk_verdict_invalid(&one, MK_TICKET_EXPIRED, 0, "expired at %lld", (long long)one.expires);
        }
        if (one.valid) {
            if (!accepted || one.expires > best.expires) best = one;
            accepted = true;
        } else {
            last = one;
        }
    }
    if (prepared_here && v->vt->release) v->vt->release(state);
    if (accepted) *out = best;
    else if (any) *out = last;
    else mk_verdict_invalid(out, MK_TICKET_MISSING, 0, "no %s ticket", v->vt->kind ? v->vt->kind : "matching");
}

void mk_peer_entry_validate_all(const mk_peer_entry_t *e, const mk_ticket_validator_t *const *v, size_t n,
                                int64_t now_ms, mk_ticket_verdict_t *out) {
    mk_verdict_valid(out, MK_EXPIRES_NEVER);
    for (size_t i = 0; i < n; i++) {
        mk_ticket_verdict_t one;
        mk_peer_entry_validate_ticket(e, v[i], now_ms, &one);
        if (!one.valid) {
            *out = one;
            return;
        }
        if (one.expires < out->expires) out->expires = one.expires;
    }
}
