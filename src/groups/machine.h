/* groups/machine.h — what the group runtime fills in for a state machine call: the apply context and
 * the snapshot item writer (both opaque in mosaik/groups.h). */
#ifndef MK_GROUPS_MACHINE_H
#define MK_GROUPS_MACHINE_H

#include "mosaik/groups.h"

struct mk_apply_ctx {
    mk_cursor_t committed;     /* applied before this call */
    mk_cursor_t position;      /* the entry (or the batch's last) being applied */
    mk_term_t term;
    mk_id_t group_id, network_id;
    bool failed;               /* set by mk_apply_ctx_fail */
    char why[128];
};

struct mk_item_writer {
    int (*put)(void *ctx, const void *item, size_t len);
    void *ctx;
};

#endif
