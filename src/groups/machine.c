/* groups/machine.c — the state machine side of groups (spec 40 §6, §9): the NoOp machine, the apply
 * context accessors, the snapshot item writer and the consensus configuration check. */
#include "groups/machine.h"

#include "core/error.h"

#include <stdio.h>
#include <string.h>

mk_cursor_t mk_apply_ctx_committed(const mk_apply_ctx_t *c) { return c ? c->committed : (mk_cursor_t){0, 0}; }
mk_cursor_t mk_apply_ctx_position(const mk_apply_ctx_t *c) { return c ? c->position : (mk_cursor_t){0, 0}; }
mk_term_t mk_apply_ctx_term(const mk_apply_ctx_t *c) { return c ? c->term : 0; }
const mk_id_t *mk_apply_ctx_group_id(const mk_apply_ctx_t *c) { return c ? &c->group_id : NULL; }
const mk_id_t *mk_apply_ctx_network_id(const mk_apply_ctx_t *c) { return c ? &c->network_id : NULL; }

void mk_apply_ctx_fail(const mk_apply_ctx_t *c, const char *why) {
    if (!c) return;
    mk_apply_ctx_t *m = (mk_apply_ctx_t *)c;  /* the context is the runtime's; only this flag changes */
    if (m->failed) return;
    m->failed = true;
    snprintf(m->why, sizeof m->why, "%s", why ? why : "the state machine failed");
}

int mk_item_writer_put(mk_item_writer_t *w, const void *item, size_t len) {
    if (!w || !w->put || (!item && len)) return MK_EINVAL;
    return w->put(w->ctx, item, len);
}

/* ---- the NoOp machine ---- */

static mk_id_t noop_signature(void *self) {
    (void)self;
    return mk_id_from_str("mosaik_noop_state_machine");
}
static void noop_apply(void *self, const mk_apply_ctx_t *ctx, const void *cmd, size_t len) {
    (void)self, (void)ctx, (void)cmd, (void)len;
}
static int noop_query(void *self, const void *q, size_t len, mk_buf_t *result) {
    (void)self, (void)q, (void)len, (void)result;
    return MK_OK;  /* an empty result */
}

const mk_state_machine_t MK_NOOP_MACHINE = {.signature = noop_signature, .apply = noop_apply, .query = noop_query};

/* ---- configuration ---- */

int mk_consensus_config_check(const mk_consensus_config_t *c, mk_error_t *e) {
    if (!c) return MK_ERR(e, MK_EINVAL, "consensus config is NULL");
    if (!c->heartbeat_interval_ms) return MK_ERR(e, MK_EINVAL, "heartbeat_interval_ms must be > 0");
    if (c->heartbeat_jitter_ms >= c->heartbeat_interval_ms)
        return MK_ERR(e, MK_EINVAL, "heartbeat_jitter_ms (%u) must be below heartbeat_interval_ms (%u)",
                      c->heartbeat_jitter_ms, c->heartbeat_interval_ms);
    if ((uint64_t)c->election_timeout_ms <= 2ull * c->heartbeat_interval_ms)
        return MK_ERR(e, MK_EINVAL, "election_timeout_ms (%u) must exceed 2 × heartbeat_interval_ms (%u)",
                      c->election_timeout_ms, c->heartbeat_interval_ms);
    if (c->max_voters < 1 || c->max_voters > 32)
        return MK_ERR(e, MK_EINVAL, "max_voters (%u) must be within 1..32", c->max_voters);
    if (c->bootstrap_expect < 1) return MK_ERR(e, MK_EINVAL, "bootstrap_expect must be ≥ 1");
    if (!c->max_missed_heartbeats) return MK_ERR(e, MK_EINVAL, "max_missed_heartbeats must be > 0");
    if (!c->max_append_entries || !c->max_append_bytes || !c->max_inflight_appends)
        return MK_ERR(e, MK_EINVAL, "max_append_entries, max_append_bytes and max_inflight_appends must be > 0");
    if (!c->max_command_bytes || !c->max_pending_commands)
        return MK_ERR(e, MK_EINVAL, "max_command_bytes and max_pending_commands must be > 0");
    if (c->exactly_once && !c->max_sessions) return MK_ERR(e, MK_EINVAL, "max_sessions must be > 0 with exactly_once");
    return MK_OK;
}
