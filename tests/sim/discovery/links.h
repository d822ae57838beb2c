/* tests/sim/discovery/links.h — simulated links and sync datagrams (links.c) and the node entry points
 * they call (node.c). */
#ifndef MK_SIM_DISCOVERY_LINKS_H
#define MK_SIM_DISCOVERY_LINKS_H

#include "sim/discovery/model.h"

enum { DL_ACCEPT = 1, DL_OPENED, DL_FRAME, DL_CLOSED };

dmsg_t *dmsg_new(int kind);
void dmsg_free(dmsg_t *m);
/* Appends a new reference to e. */
void dmsg_add_entry(dmsg_t *m, const mk_peer_entry_t *e);

/* Opens a link from n to target (NULL: nobody answers): a DIALING conn in n's list. */
dconn_t *dlink_dial(dnode_t *n, dnode_t *target, const mk_peer_id_t *peer);
/* Sends m (taken) to the other end, after the frames sent before it. */
void dlink_send(dconn_t *c, dmsg_t *m);
/* Frees c; the other end gets DL_CLOSED with code (0 = dropped without a Close frame). */
void dlink_close(dconn_t *c, uint32_t code);
/* A catalog-sync message (taken) from `from` to `to`, one delay later; lost if `to` is down. */
void dsync_send(dnode_t *from, dnode_t *to, dmsg_t *m);

/* node.c: a link event for conn c of node n (DL_OPENED: code 0 ok / 1 refused; DL_FRAME: m taken;
 * DL_CLOSED: the peer's close code). */
void dnode_link_event(dnode_t *n, dconn_t *c, int what, dmsg_t *m, uint32_t code);
/* node.c: a catalog-sync message (taken) from `from`. */
void dnode_sync_event(dnode_t *n, dnode_t *from, dmsg_t *m);

#endif
