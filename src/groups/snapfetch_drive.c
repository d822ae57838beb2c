/* groups/snapfetch_drive.c — the requester's snapshot fetch on the loop thread (spec 40 §8.2): drives the
 * sans-I/O session of groups/sync/snapfetch.c, feeds the fetched items to the machine's install_* calls in
 * order and installs the result into the consensus core. */
#include "groups/groups_int.h"

#include "core/log.h"

void mk_gsnap_fetch_start(mk_gstate_t *g) {
    MK_LOGF(MK_MOD_GROUPS, MK_LOG_WARN, mk_net_self(g->n), "group %s: snapshot sync is not available yet",
            g->short_id);
    mk_raft_snapshot_abort(g->raft, mk_groups_now());
}

void mk_gsnap_fetch_step(mk_gstate_t *g, const mk_peer_id_t *from, const mk_gsync_msg_t *m) {
    (void)g, (void)from, (void)m;
}

void mk_gsnap_fetch_stop(mk_gstate_t *g) { (void)g; }
