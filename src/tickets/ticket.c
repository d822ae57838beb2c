/* tickets/ticket.c — the ticket value type: ids of tickets. */
#include "mosaik/tickets.h"

mk_id_t mk_ticket_id(const mk_ticket_t *t) { return mk_id_derive(&t->cls, t->data, t->len); }
