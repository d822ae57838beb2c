/* mosaik/tickets.h — tickets: opaque credentials (class + bytes) that peers publish in their discovery
 * entries. This header holds the ticket value type; validators (JWT, TDX) come with the tickets module. */
#ifndef MOSAIK_TICKETS_H
#define MOSAIK_TICKETS_H

#include "mosaik/core.h"
#include "mosaik/id.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A ticket: `cls` names its kind (mk_id_from_str("jwt"), …); data is opaque to discovery. Borrowed
 * wherever it is an input; its id is mk_id_derive(&cls, data, len), so equal tickets are one ticket. */
typedef struct mk_ticket {
    mk_id_t cls;
    const uint8_t *data;
    size_t len;
} mk_ticket_t;

/* The ticket's id (mk_id_derive of class and data). Pure; any thread. */
mk_id_t mk_ticket_id(const mk_ticket_t *t);

#ifdef __cplusplus
}
#endif
#endif
