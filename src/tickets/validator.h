/* tickets/validator.h — the private side of heap validators: the reference-counted block behind
 * mk_ticket_validator_t.heap_ (prepared state, destructor) that JWT and TDX constructors fill. */
#ifndef MK_TICKETS_VALIDATOR_H
#define MK_TICKETS_VALIDATOR_H

#include "mosaik/tickets.h"

#include <stdatomic.h>

typedef struct mk_validator_heap {
    _Atomic uint32_t refs;
    mk_ticket_validator_t self;   /* what callers hold a pointer to: self.heap_ points back here */
    void *state;                  /* prepared once at construction */
    void (*destroy)(struct mk_validator_heap *h);  /* releases state and the configuration copy */
} mk_validator_heap_t;

/* The heap block of a validator, or NULL for a static one. */
static inline mk_validator_heap_t *mk_validator_heap(const mk_ticket_validator_t *v) {
    return v ? (mk_validator_heap_t *)v->heap_ : NULL;
}

/* Fills a verdict. */
void mk_verdict_valid(mk_ticket_verdict_t *out, mk_expiration_t expires);
void mk_verdict_invalid(mk_ticket_verdict_t *out, mk_ticket_reason_t reason, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
