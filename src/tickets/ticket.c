/* tickets/ticket.c — tickets (heap copies, ids), verdicts and reasons, and the generic validator
 * calls: references, class, signature, configuration check and validation. */
#include "tickets/validator.h"

#include "core/error.h"
#include "mosaik/discovery.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mk_id_t mk_ticket_id(const mk_ticket_t *t) { return mk_id_derive(&t->cls, t->data, t->len); }

mk_ticket_t *mk_ticket_new(const mk_id_t *cls, const void *data, size_t len, mk_error_t *e) {
    if (!cls || (!data && len)) {
        MK_ERR(e, MK_EINVAL, "ticket: class or data is NULL");
        return NULL;
    }
    if (len > MK_TICKET_MAX_BYTES) {
        MK_ERR(e, MK_E2BIG, "ticket: %zu bytes of data exceed %d", len, MK_TICKET_MAX_BYTES);
        return NULL;
    }
    mk_ticket_t *t = malloc(sizeof *t + (len ? len : 1));
    if (!t) {
        MK_ERR(e, MK_ENOMEM, "out of memory");
        return NULL;
    }
    uint8_t *copy = (uint8_t *)(t + 1);
    if (len) memcpy(copy, data, len);
    t->cls = *cls;
    t->data = copy;
    t->len = len;
    return t;
}

void mk_ticket_free(mk_ticket_t *t) { free(t); }

static const char *const REASONS[] = {"ok", "missing", "malformed", "unsupported", "bad_signature", "untrusted",
                                      "revoked", "policy", "not_yet_valid", "expired", "claim_mismatch", "binding",
                                      "measurement", "internal"};

const char *mk_ticket_reason_str(mk_ticket_reason_t r) {
    return (unsigned)r < sizeof REASONS / sizeof REASONS[0] ? REASONS[r] : "unknown";
}

void mk_verdict_valid(mk_ticket_verdict_t *out, mk_expiration_t expires) {
    memset(out, 0, sizeof *out);
    out->valid = true;
    out->expires = expires;
    out->reason = MK_TICKET_OK;
}

void mk_verdict_invalid(mk_ticket_verdict_t *out, mk_ticket_reason_t reason, int code, const char *fmt, ...) {
    memset(out, 0, sizeof *out);
    out->reason = reason;
    out->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof out->detail, fmt, ap);
    va_end(ap);
}

/* ---- validators ---- */

const mk_ticket_validator_t *mk_ticket_validator_ref(const mk_ticket_validator_t *v) {
    mk_validator_heap_t *h = mk_validator_heap(v);
    if (h) atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
    return v;
}

void mk_ticket_validator_unref(const mk_ticket_validator_t *v) {
    mk_validator_heap_t *h = mk_validator_heap(v);
    if (h && atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1) h->destroy(h);
}

mk_id_t mk_ticket_validator_class(const mk_ticket_validator_t *v) {
    return v && v->vt && v->vt->class_id ? v->vt->class_id(v->cfg) : (mk_id_t){{0}};
}

mk_id_t mk_ticket_validator_signature(const mk_ticket_validator_t *v) {
    return v && v->vt && v->vt->signature ? v->vt->signature(v->cfg) : (mk_id_t){{0}};
}

int mk_ticket_validator_check(const mk_ticket_validator_t *v, mk_error_t *e) {
    if (!v || !v->vt || !v->vt->validate || !v->vt->class_id) return MK_ERR(e, MK_EINVAL, "validator: no vtable");
    if (mk_validator_heap(v) || !v->vt->prepare) return MK_OK;
    void *state = NULL;
    int rc = v->vt->prepare(v->cfg, &state, e);
    if (rc == MK_OK && v->vt->release) v->vt->release(state);
    return rc;
}

void mk_ticket_validate(const mk_ticket_validator_t *v, const uint8_t *data, size_t len, const mk_ticket_peer_t *peer,
                        int64_t now_ms, mk_ticket_verdict_t *out) {
    if (!v || !v->vt || !v->vt->validate) {
        mk_verdict_invalid(out, MK_TICKET_INTERNAL, 0, "validator without a vtable");
        return;
    }
    mk_validator_heap_t *h = mk_validator_heap(v);
    if (h || !v->vt->prepare) {
        v->vt->validate(v->cfg, h ? h->state : NULL, data, len, peer, now_ms, out);
        return;
    }
    void *state = NULL;
    mk_error_t e;
    if (v->vt->prepare(v->cfg, &state, &e) != MK_OK) {
        mk_verdict_invalid(out, MK_TICKET_INTERNAL, 0, "validator configuration: %.100s", e.msg);
        return;
    }
    v->vt->validate(v->cfg, state, data, len, peer, now_ms, out);
    if (v->vt->release) v->vt->release(state);
}
