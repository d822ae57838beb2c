/* groups/api.c — the public calls of groups (spec 40 §4, §5, §10): join and leave, commands (execute,
 * feed, their batch forms, resubmit, the asynchronous submit), range waits, queries, the non-blocking
 * getters over the published copy, and mk_group_wait. Calls post to the loop and wait on the group's
 * condition variable with the caller's timeout. */
#include "groups/groups_int.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"
#include "discovery/discovery.h"

#include <stdlib.h>
#include <string.h>

/* ---- join / leave ---- */

typedef struct join_arg {
    const mk_group_config_t *cfg;
    mk_id_t id;
    mk_gstate_t *g;
    int rc;
    mk_error_t err;
} join_arg_t;

static void join_cmd(mk_network_t *n, void *arg) {
    join_arg_t *a = arg;
    mk_groups_t *gs = mk_groups_of(n);
    if (!gs || gs->stopping) {
        mk_log_store_free(a->cfg->store);
        a->rc = MK_ERR(&a->err, MK_ETERMINATED, "the network is shutting down");
        return;
    }
    mk_gstate_t *g = mk_groups_find(gs, &a->id);
    if (g && !g->terminated) {
        mk_log_store_free(a->cfg->store);  /* owned by the join, not needed */
        const mk_state_machine_t *m = a->cfg->machine ? a->cfg->machine : &MK_NOOP_MACHINE;
        if (m != g->machine || a->cfg->machine_self != g->machine_self) {
            a->rc = MK_ERR(&a->err, MK_EEXIST, "group %s is already joined here with another state machine",
                           g->short_id);
            return;
        }
        g->refs++;
        atomic_fetch_add(&g->holds, 1);
        a->g = g;
        a->rc = MK_OK;
        return;
    }
    g = mk_gstate_new(gs, a->cfg, &a->id, &a->err);
    if (!g) {
        a->rc = a->err.code ? a->err.code : MK_ENOMEM;
        return;
    }
    g->refs = 1;
    atomic_fetch_add(&g->holds, 1);
    g->next = gs->groups;
    gs->groups = g;
    mk_catalog_t *cat = mk_discovery_catalog(n);
    if (cat) {
        mk_bond_catalog_pass(g, cat);
        mk_catalog_free(cat);
    }
    a->g = g;
    a->rc = MK_OK;
}

mk_group_t *mk_group_join(mk_network_t *net, const mk_group_config_t *cfg, mk_error_t *err) {
    if (!net || !cfg) {
        if (cfg) mk_log_store_free(cfg->store);
        MK_ERR(err, MK_EINVAL, "mk_group_join: %s is NULL", net ? "cfg" : "net");
        return NULL;
    }
    join_arg_t a = {.cfg = cfg};
    int rc = mk_group_id_for(cfg, &a.id, err);
    if (rc == MK_OK && !mk_groups_of(net)) rc = MK_ERR(err, MK_EINVAL, "mk_group_join: the network has no groups");
    if (rc != MK_OK) {
        mk_log_store_free(cfg->store);
        return NULL;
    }
    mk_group_t *h = calloc(1, sizeof *h);
    if (!h) {
        mk_log_store_free(cfg->store);
        MK_ERR(err, MK_ENOMEM, "out of memory");
        return NULL;
    }
    rc = mk_loop_call(net, join_cmd, &a, 10000, err);
    if (rc != MK_OK || a.rc != MK_OK) {
        if (rc == MK_OK && err) *err = a.err;
        /* a loop_call that failed before running left the store to us */
        if (rc != MK_OK && !a.g && rc != MK_ETIMEDOUT) mk_log_store_free(cfg->store);
        free(h);
        return NULL;
    }
    h->g = a.g;
    h->n = net;
    mk_error_t e2;
    if (mk_disc_local_group(net, &a.id, true, 5000, &e2) != MK_OK)
        MK_LOGF(MK_MOD_GROUPS, MK_LOG_WARN, mk_net_self(net), "group %s: not listed in the local entry: %s",
                a.g->short_id, e2.msg);
    return h;
}

typedef struct leave_arg {
    mk_gstate_t *g;
    bool last;
} leave_arg_t;

static void leave_cmd(mk_network_t *n, void *arg) {
    leave_arg_t *a = arg;
    mk_gstate_t *g = a->g;
    mk_groups_t *gs = mk_groups_of(n);
    if (--g->refs > 0) return;
    a->last = true;
    mk_gstate_depart(g);
    mk_gstate_terminate(g, "the group was left");
    mk_gstate_shutdown(g);
    for (mk_gstate_t **p = &gs->groups; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            mk_gstate_unhold(g);  /* the subsystem's hold */
            break;
        }
}

void mk_group_leave(mk_group_t *h) {
    if (!h) return;
    mk_gstate_t *g = h->g;
    if (!atomic_load(&g->net_gone)) {
        leave_arg_t a = {.g = g};
        if (mk_loop_call(h->n, leave_cmd, &a, -1, NULL) == MK_OK && a.last && !atomic_load(&g->net_gone))
            mk_disc_local_group(h->n, &g->id, false, 2000, NULL);
    }
    mk_gstate_unhold(g);
    free(h);
}

const mk_id_t *mk_group_id(const mk_group_t *h) { return h ? &h->g->id : NULL; }

/* ---- calls ---- */

static void call_dispose(void *arg) { mk_gcall_release(arg); }

static void cmd_run(mk_network_t *n, void *arg) {
    (void)n;
    mk_gcall_t *c = arg;
    switch (c->kind) {
    case MK_CALL_CMD: mk_gstate_submit(c->g, c); break;
    case MK_CALL_QUERY: mk_gstate_query(c->g, c); break;
    case MK_CALL_RANGE: mk_gstate_range(c->g, c); break;
    }
}

static mk_gcall_t *call_new(mk_group_t *h, mk_call_kind_t kind) {
    mk_gcall_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    atomic_init(&c->refs, 2);  /* the caller's and the loop's */
    c->g = h->g;
    c->kind = kind;
    return c;
}

/* Copies the commands into c: MK_OK, MK_ENOCOMMANDS, MK_E2BIG, MK_EINVAL, MK_ENOMEM. */
static int take_cmds(mk_gstate_t *g, mk_gcall_t *c, const mk_bytes_t *cmds, size_t n, mk_error_t *err) {
    if (!n) return MK_ERR(err, MK_ENOCOMMANDS, "an empty batch of commands");
    if (!cmds) return MK_ERR(err, MK_EINVAL, "cmds is NULL");
    if (n > MK_RAFT_MAX_COMMANDS) return MK_ERR(err, MK_E2BIG, "%zu commands in one batch (at most %u)", n, MK_RAFT_MAX_COMMANDS);
    for (size_t i = 0; i < n; i++) {
        if (cmds[i].len > g->cfg.consensus.max_command_bytes)
            return MK_ERR(err, MK_E2BIG, "command %zu has %zu bytes (max_command_bytes %u)", i, cmds[i].len,
                          g->cfg.consensus.max_command_bytes);
        if (!cmds[i].ptr && cmds[i].len) return MK_ERR(err, MK_EINVAL, "command %zu is NULL", i);
    }
    c->cmds = calloc(n, sizeof *c->cmds);
    if (!c->cmds) return MK_ERR(err, MK_ENOMEM, "out of memory");
    c->ncmds = n;
    for (size_t i = 0; i < n; i++) {
        void *p = malloc(cmds[i].len ? cmds[i].len : 1);
        if (!p) return MK_ERR(err, MK_ENOMEM, "out of memory");
        if (cmds[i].len) memcpy(p, cmds[i].ptr, cmds[i].len);
        c->cmds[i] = (mk_bytes_t){p, cmds[i].len};
    }
    return MK_OK;
}

/* Posts c and waits for it within timeout_ms; fills out / err. Consumes the caller's reference. */
static int call_wait(mk_group_t *h, mk_gcall_t *c, int timeout_ms, mk_cmd_outcome_t *out, mk_error_t *err) {
    mk_gstate_t *g = h->g;
    if (atomic_load(&g->net_gone) ||
        mk_loop_post(h->n, cmd_run, c, call_dispose) != MK_OK) {
        if (c->kind == MK_CALL_CMD) atomic_fetch_sub(&g->ncalls, 1);
        mk_gcall_release(c);
        if (atomic_load(&g->net_gone)) mk_gcall_release(c);
        return MK_ERR(err, MK_ETERMINATED, "the group's network is shutting down");
    }
    int64_t deadline = mk_deadline_from(timeout_ms);
    pthread_mutex_lock(&g->mu);
    while (!c->done)
        if (mk_cond_wait_ms(&g->cv, &g->mu, deadline) == MK_ETIMEDOUT) break;
    int rc;
    if (c->done) {
        rc = c->status;
        if (rc != MK_OK && err) *err = c->err;
    } else {
        c->abandoned = true;
        rc = MK_ERR(err, MK_ETIMEDOUT, "%s", c->out.assigned ? "assigned, not yet applied within the timeout"
                                                               : "no outcome within the timeout");
    }
    if (out) *out = c->out;
    pthread_mutex_unlock(&g->mu);
    mk_gcall_release(c);
    return rc;
}

static int command(mk_group_t *h, const mk_cmd_outcome_t *prev, const mk_bytes_t *cmds, size_t n, bool applied,
                   int timeout_ms, mk_cmd_outcome_t *out, mk_error_t *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!h) return MK_ERR(err, MK_EINVAL, "group handle is NULL");
    mk_gcall_t *c = call_new(h, MK_CALL_CMD);
    if (!c) return MK_ERR(err, MK_ENOMEM, "out of memory");
    int rc = take_cmds(h->g, c, cmds, n, err);
    if (rc != MK_OK) {
        mk_gcall_release(c);
        mk_gcall_release(c);
        return rc;
    }
    c->wait_applied = applied;
    if (prev && prev->session && h->g->cfg.consensus.exactly_once) {
        c->out.session = prev->session;
        c->out.seq = prev->seq;
    }
    atomic_fetch_add(&h->g->ncalls, 1);
    return call_wait(h, c, timeout_ms, out, err);
}

int mk_group_execute(mk_group_t *g, const void *cmd, size_t len, int timeout_ms, mk_cmd_outcome_t *out,
                     mk_error_t *err) {
    mk_bytes_t b = {cmd, len};
    return command(g, NULL, &b, 1, true, timeout_ms, out, err);
}

int mk_group_execute_many(mk_group_t *g, const mk_bytes_t *cmds, size_t n, int timeout_ms, mk_cmd_outcome_t *out,
                          mk_error_t *err) {
    return command(g, NULL, cmds, n, true, timeout_ms, out, err);
}

int mk_group_feed(mk_group_t *g, const void *cmd, size_t len, int timeout_ms, mk_cmd_outcome_t *out, mk_error_t *err) {
    mk_bytes_t b = {cmd, len};
    return command(g, NULL, &b, 1, false, timeout_ms, out, err);
}

int mk_group_feed_many(mk_group_t *g, const mk_bytes_t *cmds, size_t n, int timeout_ms, mk_cmd_outcome_t *out,
                       mk_error_t *err) {
    return command(g, NULL, cmds, n, false, timeout_ms, out, err);
}

int mk_group_resubmit(mk_group_t *g, const mk_cmd_outcome_t *prev, const mk_bytes_t *cmds, size_t n,
                      bool wait_applied, int timeout_ms, mk_cmd_outcome_t *out, mk_error_t *err) {
    return command(g, prev, cmds, n, wait_applied, timeout_ms, out, err);
}

int mk_group_submit(mk_group_t *h, const mk_bytes_t *cmds, size_t n, unsigned flags, int timeout_ms,
                    mk_group_cmd_cb cb, void *ud) {
    (void)timeout_ms;  /* the outcome always arrives: assignment or MK_EOFFLINE within forward_timeout */
    if (!h) return MK_EINVAL;
    mk_gstate_t *g = h->g;
    if (atomic_load(&g->net_gone)) return MK_ETERMINATED;
    if (atomic_load(&g->ncalls) >= g->cfg.consensus.max_pending_commands) return MK_EAGAIN;
    mk_gcall_t *c = call_new(h, MK_CALL_CMD);
    if (!c) return MK_ENOMEM;
    atomic_store(&c->refs, 1);  /* the loop's only */
    int rc = take_cmds(g, c, cmds, n, NULL);
    if (rc != MK_OK) {
        mk_gcall_release(c);
        return rc;
    }
    c->wait_applied = flags & MK_SUBMIT_APPLIED;
    c->cb = cb;
    c->ud = ud;
    atomic_fetch_add(&g->ncalls, 1);
    if (mk_loop_post(h->n, cmd_run, c, call_dispose) != MK_OK) {
        atomic_fetch_sub(&g->ncalls, 1);
        return MK_ETERMINATED;
    }
    return MK_OK;
}

int mk_group_wait_range(mk_group_t *h, const mk_index_range_t *r, int timeout_ms, mk_error_t *err) {
    if (!h || !r || r->first > r->last || !r->first) return MK_ERR(err, MK_EINVAL, "mk_group_wait_range: bad range");
    mk_gcall_t *c = call_new(h, MK_CALL_RANGE);
    if (!c) return MK_ERR(err, MK_ENOMEM, "out of memory");
    c->out.range = *r;
    c->out.assigned = true;
    return call_wait(h, c, timeout_ms, NULL, err);
}

int mk_group_query(mk_group_t *h, const void *q, size_t len, mk_consistency_t cons, int timeout_ms,
                   mk_query_result_t *out, mk_error_t *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!h || !out || (!q && len)) return MK_ERR(err, MK_EINVAL, "mk_group_query: NULL argument");
    mk_gcall_t *c = call_new(h, MK_CALL_QUERY);
    if (!c) return MK_ERR(err, MK_ENOMEM, "out of memory");
    c->consistency = cons;
    c->q = malloc(len ? len : 1);
    if (!c->q) {
        mk_gcall_release(c);
        mk_gcall_release(c);
        return MK_ERR(err, MK_ENOMEM, "out of memory");
    }
    if (len) memcpy(c->q, q, len);
    c->qlen = len;
    mk_gstate_t *g = h->g;
    atomic_fetch_add(&c->refs, 1);  /* keeps the result readable after call_wait */
    int rc = call_wait(h, c, timeout_ms, NULL, err);
    if (rc == MK_OK) {
        pthread_mutex_lock(&g->mu);
        *out = c->result;
        c->result.data = NULL;
        pthread_mutex_unlock(&g->mu);
    }
    mk_gcall_release(c);
    return rc;
}

void mk_query_result_free(mk_query_result_t *r) {
    if (!r) return;
    free(r->data);
    memset(r, 0, sizeof *r);
}

/* ---- getters ---- */

static mk_group_status_t snapshot(mk_group_t *h) {
    pthread_mutex_lock(&h->g->mu);
    mk_group_status_t s = h->g->pub;
    pthread_mutex_unlock(&h->g->mu);
    return s;
}

bool mk_group_leader(mk_group_t *h, mk_id_t *out) {
    if (!h) return false;
    mk_group_status_t s = snapshot(h);
    if (s.has_leader && out) *out = s.leader;
    return s.has_leader;
}

bool mk_group_is_leader(mk_group_t *h) { return h && snapshot(h).role == MK_ROLE_LEADER; }
mk_index_t mk_group_committed(mk_group_t *h) { return h ? snapshot(h).committed : 0; }
mk_cursor_t mk_group_log_position(mk_group_t *h) { return h ? snapshot(h).last : (mk_cursor_t){0, 0}; }

int mk_group_status(mk_group_t *h, mk_group_status_t *out) {
    if (!h || !out) return MK_EINVAL;
    pthread_mutex_lock(&h->g->mu);
    *out = h->g->pub;
    mk_readyfd_set(&h->g->ready, false);
    pthread_mutex_unlock(&h->g->mu);
    return MK_OK;
}

int mk_group_bonds(mk_group_t *h, mk_bond_info_t **out, size_t *n) {
    if (!h || !out || !n) return MK_EINVAL;
    mk_gstate_t *g = h->g;
    pthread_mutex_lock(&g->mu);
    *n = g->pub_nbonds;
    *out = malloc((*n ? *n : 1) * sizeof **out);
    if (*out && *n) memcpy(*out, g->pub_bonds, *n * sizeof **out);
    pthread_mutex_unlock(&g->mu);
    return *out ? MK_OK : MK_ENOMEM;
}

int mk_group_topology(mk_group_t *h, mk_bond_edge_t **out, size_t *n) {
    if (!h || !out || !n) return MK_EINVAL;
    mk_gstate_t *g = h->g;
    pthread_mutex_lock(&g->mu);
    *n = g->pub_nedges;
    *out = malloc((*n ? *n : 1) * sizeof **out);
    if (*out && *n) memcpy(*out, g->pub_edges, *n * sizeof **out);
    pthread_mutex_unlock(&g->mu);
    return *out ? MK_OK : MK_ENOMEM;
}

void mk_group_free_list(void *list) { free(list); }

int mk_group_fd(mk_group_t *h) { return h ? mk_readyfd_fd(&h->g->ready) : -1; }

/* ---- waits ---- */

static bool holds(const mk_group_cond_t *c, const mk_group_status_t *s, const mk_group_status_t *at_call,
                  uint64_t bonds_now, uint64_t bonds_at_call) {
    switch (c->what) {
    case MK_WHEN_LEADER_ELECTED: return s->has_leader;
    case MK_WHEN_LEADER_CHANGED: return s->has_leader && (!at_call->has_leader || !mk_id_eq(&s->leader, &at_call->leader));
    case MK_WHEN_LEADER_IS: return s->has_leader && mk_id_eq(&s->leader, &c->peer);
    case MK_WHEN_IS_LEADER: return s->role == MK_ROLE_LEADER;
    case MK_WHEN_IS_FOLLOWER: return s->role != MK_ROLE_LEADER;
    case MK_WHEN_ONLINE: return s->online;
    case MK_WHEN_OFFLINE: return !s->online;
    case MK_WHEN_COMMITTED_REACHES: return s->committed >= c->index;
    case MK_WHEN_COMMITTED_ADVANCED:
    case MK_WHEN_COMMITTED_CHANGED: return s->committed > at_call->committed;
    case MK_WHEN_LOG_REACHES: return s->last.index >= c->index;
    case MK_WHEN_LOG_ADVANCED: return s->last.index > at_call->last.index;
    case MK_WHEN_LOG_CHANGED: return s->last.index != at_call->last.index || s->last.term != at_call->last.term;
    case MK_WHEN_BONDS_CHANGED: return bonds_now != bonds_at_call;
    }
    return false;
}

int mk_group_wait(mk_group_t *h, const mk_group_cond_t *c, int timeout_ms, mk_group_status_t *out, mk_error_t *err) {
    if (!h || !c || (unsigned)c->what > MK_WHEN_BONDS_CHANGED) return MK_ERR(err, MK_EINVAL, "mk_group_wait: bad condition");
    mk_gstate_t *g = h->g;
    int64_t deadline = mk_deadline_from(timeout_ms);
    int rc = MK_OK;
    pthread_mutex_lock(&g->mu);
    mk_group_status_t at_call = g->pub;
    uint64_t bonds_at_call = g->pub_bonds_seq;
    for (;;) {
        if (holds(c, &g->pub, &at_call, g->pub_bonds_seq, bonds_at_call)) break;
        if (g->pub.terminated) {
            rc = MK_ERR(err, MK_ETERMINATED, "the group was left or its network freed");
            break;
        }
        if (mk_cond_wait_ms(&g->cv, &g->mu, deadline) == MK_ETIMEDOUT &&
            !holds(c, &g->pub, &at_call, g->pub_bonds_seq, bonds_at_call)) {
            rc = MK_ERR(err, MK_ETIMEDOUT, "the condition did not hold within %d ms", timeout_ms);
            break;
        }
    }
    if (out) *out = g->pub;
    pthread_mutex_unlock(&g->mu);
    return rc;
}

typedef struct recover_arg {
    mk_gstate_t *g;
    int rc;
    mk_error_t err;
} recover_arg_t;

static void recover_cmd(mk_network_t *n, void *arg) {
    (void)n;
    recover_arg_t *a = arg;
    if (a->g->terminated || !a->g->raft) {
        a->rc = MK_ERR(&a->err, MK_ETERMINATED, "the group was left or its network freed");
        return;
    }
    a->rc = mk_raft_unsafe_recover(a->g->raft, mk_groups_now(), &a->err);
    mk_gstate_process(a->g);
}

int mk_group_unsafe_recover(mk_group_t *h, int timeout_ms, mk_error_t *err) {
    if (!h) return MK_ERR(err, MK_EINVAL, "group handle is NULL");
    if (atomic_load(&h->g->net_gone)) return MK_ERR(err, MK_ETERMINATED, "the group's network is shutting down");
    int64_t deadline = mk_deadline_from(timeout_ms);
    recover_arg_t a = {.g = h->g};
    int rc = mk_loop_call(h->n, recover_cmd, &a, timeout_ms, err);
    if (rc != MK_OK) return rc;
    if (a.rc != MK_OK) {
        if (err) *err = a.err;
        return a.rc;
    }
    int64_t left = deadline < 0 ? -1 : deadline - mk_now_ms();
    mk_group_cond_t c = {.what = MK_WHEN_ONLINE};
    return mk_group_wait(h, &c, deadline < 0 ? -1 : (int)(left > 0 ? left : 0), NULL, err);
}

#ifdef MK_TEST_HOOKS
typedef struct hook_arg {
    mk_gstate_t *g;
    bool on;
} hook_arg_t;

static void cut_cmd(mk_network_t *n, void *arg) {
    (void)n;
    hook_arg_t *a = arg;
    for (mk_bond_t *b = a->g->bonds; b; b = b->next)
        if (b->link) mk_link_test_cut_now(b->link);
}

void mk_group_test_cut_bonds(mk_group_t *h) {
    hook_arg_t a = {h->g, false};
    mk_loop_call(h->n, cut_cmd, &a, 5000, NULL);
}

static void dial_cmd(mk_network_t *n, void *arg) {
    (void)n;
    hook_arg_t *a = arg;
    a->g->force_dial = a->on;
}

void mk_group_test_force_dial(mk_group_t *h, bool on) {
    hook_arg_t a = {h->g, on};
    mk_loop_call(h->n, dial_cmd, &a, 5000, NULL);
}

uint64_t mk_group_test_closes(mk_group_t *h, uint32_t code) {
    int slot;
    switch (code) {
    case MK_CLOSE_GROUP_INVALID_HANDSHAKE: slot = 0; break;
    case MK_CLOSE_GROUP_NOT_ALLOWED: slot = 1; break;
    case MK_CLOSE_GROUP_NOT_FOUND: slot = 2; break;
    case MK_CLOSE_GROUP_INVALID_PROOF: slot = 3; break;
    case MK_CLOSE_GROUP_TIMEOUT: slot = 4; break;
    case MK_CLOSE_GROUP_ALREADY_BONDED: slot = 5; break;
    case MK_CLOSE_PROTOCOL_VIOLATION: slot = 6; break;
    default: slot = 7; break;
    }
    return h->g->closes[slot];  /* loop-written counter: a racy read is fine for tests */
}
#endif
