/* groups/group.c — one joined group on the loop thread (spec 40 §3–§6): drives the Raft core (ticks,
 * bond events, messages, ready batches: sync, send, apply, answer), applies committed commands to the
 * state machine with its ApplyContext, carries the public calls from proposal to completion, and
 * publishes the status copy, bond list and topology that getters and waits read under `mu`. */
#include "groups/groups_int.h"

#include "core/error.h"
#include "core/log.h"
#include "core/time.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define LOG(g, lvl, ...) MK_LOGF(MK_MOD_GROUPS, lvl, mk_net_self((g)->n), __VA_ARGS__)
#define APPLY_CHUNK 256

/* ---- calls ---- */

void mk_gcall_release(mk_gcall_t *c) {
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
    for (size_t i = 0; c->cmds && i < c->ncmds; i++) free((void *)c->cmds[i].ptr);
    free(c->cmds);
    free(c->q);
    free(c->result.data);
    free(c);
}

static void unlink_call(mk_gcall_t **head, mk_gcall_t *c) {
    for (mk_gcall_t **p = head; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            c->next = NULL;
            return;
        }
}

/* Completes c (already unlinked from every list): wakes its caller or runs its callback, drops the
 * loop's reference. */
void mk_gcall_finish(mk_gstate_t *g, mk_gcall_t *c, int status) {
    if (c->kind == MK_CALL_CMD) {
        if (c->proposed && g->npending) g->npending--;
        atomic_fetch_sub(&g->ncalls, 1);
    }
    pthread_mutex_lock(&g->mu);
    c->status = status;
    c->done = true;
    if (status != MK_OK && !c->err.msg[0]) MK_ERR(&c->err, status, "%s", mk_strerror(status));
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (c->cb) c->cb(c->ud, status, &c->out);
    mk_gcall_release(c);
}

static void fail_list(mk_gstate_t *g, mk_gcall_t **head, int status, const char *why) {
    while (*head) {
        mk_gcall_t *c = *head;
        *head = c->next;
        c->next = NULL;
        MK_ERR(&c->err, status, "%s", why);
        mk_gcall_finish(g, c, status);
    }
}

static void fail_all(mk_gstate_t *g, int status, const char *why) {
    fail_list(g, &g->backlog, status, why);
    g->backlog_tail = NULL;
    fail_list(g, &g->proposed, status, why);
    fail_list(g, &g->applying, status, why);
    fail_list(g, &g->reading, status, why);
}

/* ---- events ---- */

void mk_gstate_emit(mk_gstate_t *g, mk_group_ev_kind_t kind, const mk_id_t *peer, mk_index_t index) {
    if (!g->cfg.on_event) return;
    mk_group_event_t ev = {.kind = kind, .index = index};
    if (peer) ev.peer = *peer;
    g->cfg.on_event(g->cfg.event_ud, &ev);
}

/* ---- apply ---- */

static bool term_ok(mk_gstate_t *g, const mk_index_range_t *r) {
    mk_term_t t = 0;
    return g->store->vt->term_at(g->store->self, r->first, &t) == MK_OK && t == r->term;
}

/* Applies one run of consecutive commands of one term. */
static void apply_run(mk_gstate_t *g, mk_sm_entry_t *run, size_t n, mk_cursor_t *applied) {
    if (!n || g->terminated) return;
    struct mk_apply_ctx ctx = {.committed = *applied,
                               .position = {run[n - 1].term, run[n - 1].index},
                               .term = run[n - 1].term,
                               .group_id = g->id,
                               .network_id = g->gs->net_id};
    if (g->machine->apply_batch) {
        g->machine->apply_batch(g->machine_self, &ctx, run, n);
    } else {
        for (size_t i = 0; i < n && !ctx.failed; i++) {
            ctx.position = (mk_cursor_t){run[i].term, run[i].index};
            g->machine->apply(g->machine_self, &ctx, run[i].data, run[i].len);
            ctx.committed = ctx.position;
        }
    }
    mk_counter_add(g->m_commands, n);
    g->has_commands = true;
    if (ctx.failed) {
        LOG(g, MK_LOG_ERROR, "group %s: the state machine failed at index %llu: %s", g->short_id,
            (unsigned long long)run[n - 1].index, ctx.why);
        mk_gstate_terminate(g, ctx.why[0] ? ctx.why : "the state machine failed");
    }
}

/* Exactly-once filter: true if (session, seq) was already applied; records it otherwise. */
static bool seen_before(mk_gstate_t *g, uint64_t session, uint64_t seq, mk_index_t at) {
    if (!session) return false;
    size_t oldest = 0;
    for (size_t i = 0; i < g->nsessions; i++) {
        if (g->sessions[i].session == session) {
            if (seq <= g->sessions[i].seq) return true;
            g->sessions[i].seq = seq;
            g->sessions[i].at = at;
            return false;
        }
        if (g->sessions[i].at < g->sessions[oldest].at) oldest = i;
    }
    size_t max = g->cfg.consensus.max_sessions ? g->cfg.consensus.max_sessions : 4096;
    if (g->nsessions >= max) {
        g->sessions[oldest].session = session;  /* evicts the session applied longest ago */
        g->sessions[oldest].seq = seq;
        g->sessions[oldest].at = at;
        return false;
    }
    void *v = realloc(g->sessions, (g->nsessions + 1) * sizeof *g->sessions);
    if (!v) return false;
    g->sessions = v;
    g->sessions[g->nsessions].session = session;
    g->sessions[g->nsessions].seq = seq;
    g->sessions[g->nsessions].at = at;
    g->nsessions++;
    return false;
}

/* Applies [from, to]; returns the last index applied. */
static mk_index_t apply_range(mk_gstate_t *g, mk_index_t from, mk_index_t to) {
    mk_log_entry_t ents[APPLY_CHUNK];
    mk_sm_entry_t run[APPLY_CHUNK];
    mk_cursor_t applied = {g->applied_term, g->applied};
    mk_index_t i = from;
    while (i <= to && !g->terminated) {
        size_t n = 0;
        int rc = g->store->vt->get_range(g->store->self, i, to, (size_t)4 << 20, ents, APPLY_CHUNK, &n);
        if (rc != MK_OK || n == 0) {
            mk_gstate_terminate(g, "the log store lost committed entries");
            break;
        }
        size_t nrun = 0;
        for (size_t k = 0; k < n && !g->terminated; k++) {
            const mk_log_entry_t *e = &ents[k];
            if (e->kind == MK_ENTRY_SNAPSHOT_MARKER) {  /* snapshot right after it: the machine must be there */
                apply_run(g, run, nrun, &applied);
                nrun = 0;
                mk_raft_body_t mb;
                g->applied = e->index;
                g->applied_term = e->term;
                applied = (mk_cursor_t){e->term, e->index};
                if (mk_raft_body_decode(MK_ENTRY_SNAPSHOT_MARKER, e->body, e->len, &mb, NULL) == MK_OK)
                    mk_gsnap_on_marker(g, applied, &mb);
                continue;
            }
            if (e->kind == MK_ENTRY_COMMAND) {
                mk_raft_body_t b;
                if (mk_raft_body_decode(MK_ENTRY_COMMAND, e->body, e->len, &b, NULL) != MK_OK) continue;
                if (g->cfg.consensus.exactly_once && seen_before(g, b.command.session, b.command.seq, e->index))
                    continue;
                if (nrun && run[nrun - 1].term != e->term) {
                    apply_run(g, run, nrun, &applied);
                    applied = (mk_cursor_t){run[nrun - 1].term, run[nrun - 1].index};
                    nrun = 0;
                }
                run[nrun++] = (mk_sm_entry_t){e->index, e->term, b.command.payload.ptr, b.command.payload.len};
            }
        }
        apply_run(g, run, nrun, &applied);
        i = ents[n - 1].index + 1;
        applied = (mk_cursor_t){ents[n - 1].term, ents[n - 1].index};
        g->applied = applied.index;
        g->applied_term = applied.term;
    }
    return g->applied;
}

/* ---- ready batches ---- */

static mk_gcall_t *take_call(mk_gcall_t **head, uint64_t req_id) {
    for (mk_gcall_t *c = *head; c; c = c->next)
        if (c->req_id == req_id) {
            unlink_call(head, c);
            return c;
        }
    return NULL;
}

static void push_call(mk_gcall_t **head, mk_gcall_t *c) {
    c->next = *head;
    *head = c;
}

static void on_result(mk_gstate_t *g, const mk_raft_result_t *r) {
    mk_gcall_t *c = take_call(&g->proposed, r->req_id);
    if (!c) return;
    c->out.maybe_applied = r->maybe_applied;
    if (r->status != MK_OK) {
        MK_ERR(&c->err, r->status, "%s", r->status == MK_EOFFLINE ? "no leader accepted the commands" : mk_strerror(r->status));
        mk_gcall_finish(g, c, r->status);
        return;
    }
    pthread_mutex_lock(&g->mu);
    c->out.range = r->range;
    c->out.assigned = true;
    pthread_mutex_unlock(&g->mu);
    if (!c->wait_applied && !c->cb) {
        mk_gcall_finish(g, c, MK_OK);
        return;
    }
    push_call(&g->applying, c);  /* an assigned async call too: after_apply keeps callbacks in issue order */
}

static void serve_query(mk_gstate_t *g, mk_gcall_t *c) {
    mk_buf_t out = MK_BUF_INIT;
    int rc = g->machine->query(g->machine_self, c->q, c->qlen, &out);
    pthread_mutex_lock(&g->mu);
    c->result.data = out.ptr;
    c->result.len = out.len;
    c->result.position = g->applied;
    pthread_mutex_unlock(&g->mu);
    if (rc != MK_OK) MK_ERR(&c->err, rc, "the state machine's query failed");
    mk_gcall_finish(g, c, rc);
}

/* Completes what waited for local application: executes, range waits, confirmed strong reads. */
static void after_apply(mk_gstate_t *g) {
    /* `applying` is newest first; reversed, it is in issue order, which callbacks keep (§4.1): an async
     * call completes only after every earlier async one (an assigned-only one needs nothing else) */
    mk_gcall_t *in_order = NULL;
    while (g->applying) {
        mk_gcall_t *c = g->applying;
        g->applying = c->next;
        c->next = in_order;
        in_order = c;
    }
    bool cb_waiting = false;
    while (in_order) {
        mk_gcall_t *c = in_order;
        in_order = c->next;
        c->next = NULL;
        bool assigned_only = c->kind == MK_CALL_CMD && !c->wait_applied;
        if ((!assigned_only && c->out.range.last > g->applied) || (c->cb && cb_waiting)) {
            cb_waiting |= c->cb != NULL;
            push_call(&g->applying, c);
            continue;
        }
        mk_term_t t0 = 0;
        if (!assigned_only && g->store->vt->term_at(g->store->self, c->out.range.first, &t0) != MK_OK) {
            /* under an installed snapshot: whose entries those were cannot be told any more */
            c->out.maybe_applied = true;
            MK_ERR(&c->err, MK_EOFFLINE, "the commands at %llu are covered by an installed snapshot: outcome unknown",
                   (unsigned long long)c->out.range.first);
            mk_gcall_finish(g, c, MK_EOFFLINE);
        } else if (assigned_only || term_ok(g, &c->out.range)) {
            mk_gcall_finish(g, c, MK_OK);
        } else {
            MK_ERR(&c->err, MK_EOFFLINE, "the commands at %llu were superseded by another leader's entries",
                   (unsigned long long)c->out.range.first);
            mk_gcall_finish(g, c, MK_EOFFLINE);
        }
    }
    for (mk_gcall_t **p = &g->reading; *p;) {
        mk_gcall_t *c = *p;
        if (!c->read_ok || c->read_index > g->applied) {
            p = &c->next;
            continue;
        }
        *p = c->next;
        c->next = NULL;
        serve_query(g, c);
    }
}

static void on_read(mk_gstate_t *g, const mk_raft_read_t *r) {
    for (mk_gcall_t *c = g->reading; c; c = c->next) {
        if (c->req_id != r->req_id) continue;
        if (!r->ok) {
            unlink_call(&g->reading, c);
            MK_ERR(&c->err, MK_EOFFLINE, "the read could not be confirmed by a leader");
            mk_gcall_finish(g, c, MK_EOFFLINE);
        } else {
            c->read_ok = true;
            c->read_index = r->read_index;
        }
        return;
    }
}

/* Proposes backlog calls while the core takes them. */
static void drain_backlog(mk_gstate_t *g) {
    while (g->backlog && !g->terminated) {
        mk_gcall_t *c = g->backlog;
        int rc = mk_raft_propose(g->raft, mk_groups_now(), c->req_id, c->cmds, c->ncmds, c->out.session, c->out.seq);
        if (rc == MK_EAGAIN) return;
        g->backlog = c->next;
        if (!g->backlog) g->backlog_tail = NULL;
        c->next = NULL;
        if (rc != MK_OK) {
            MK_ERR(&c->err, rc, "%s", rc == MK_E2BIG ? "a command exceeds max_command_bytes" : mk_strerror(rc));
            mk_gcall_finish(g, c, rc);
            continue;
        }
        c->proposed = true;
        g->npending++;
        push_call(&g->proposed, c);
    }
}

void mk_gstate_process(mk_gstate_t *g) {
    if (g->terminated || !g->raft) return;
    drain_backlog(g);
    mk_raft_ready_t rd;
    while (!g->terminated && mk_raft_ready(g->raft, &rd)) {
        bool early = rd.may_send_before_sync;  /* a leader's fsync overlaps its followers' */
        for (size_t i = 0; early && i < rd.nmsgs; i++)
            mk_bond_send_payload(g, &rd.msgs[i].to, MK_BOND_RAFT, &rd.msgs[i].bytes);
        if (rd.must_sync && g->store->vt->sync(g->store->self) != MK_OK) {
            mk_raft_advance(g->raft, &rd, g->applied);
            mk_gstate_terminate(g, "the log store failed to sync");
            return;
        }
        for (size_t i = 0; !early && i < rd.nmsgs; i++)
            mk_bond_send_payload(g, &rd.msgs[i].to, MK_BOND_RAFT, &rd.msgs[i].bytes);
        for (size_t i = 0; i < rd.nsync_msgs; i++)
            mk_bond_send_payload(g, &rd.sync_msgs[i].to, MK_BOND_STATE_SYNC, &rd.sync_msgs[i].bytes);
        if (rd.sync_stuck) {
            LOG(g, MK_LOG_WARN, "group %s: catching up, but no bonded peer holds the entries needed", g->short_id);
            mk_gstate_emit(g, MK_GROUP_EV_SYNC_STUCK, NULL, 0);
        }
        if (rd.apply_to >= rd.apply_from) apply_range(g, rd.apply_from, rd.apply_to);
        for (size_t i = 0; i < rd.nresults; i++) on_result(g, &rd.results[i]);
        for (size_t i = 0; i < rd.nreads; i++) on_read(g, &rd.reads[i]);
        if (rd.diverged) {
            LOG(g, MK_LOG_WARN, "group %s: a bonded peer holds a different history with commands; not merging",
                g->short_id);
            mk_gstate_emit(g, MK_GROUP_EV_DIVERGED, NULL, 0);
        }
        if (rd.recovered) {
            LOG(g, MK_LOG_WARN, "group %s: RECOVERY: wrote a new configuration without the lost voters; entries "
                "they committed beyond this log may be lost", g->short_id);
            mk_counter_add(g->m_recoveries, 1);
        }
        if (rd.config_changed || rd.recovered) mk_gstate_emit(g, MK_GROUP_EV_CONFIG, NULL, 0);
        if (rd.snapshot_wanted) mk_gsnap_fetch_start(g);
        if (rd.leader_changed && g->fetch) {
            mk_raft_status_t ls;
            mk_raft_status(g->raft, &ls);
            mk_gsnap_fetch_leader(g, ls.has_leader ? &ls.leader : NULL);
        }
        mk_raft_advance(g->raft, &rd, g->applied);
        after_apply(g);
        drain_backlog(g);
    }
    mk_gsnap_maybe_compact(g);
    mk_raft_status_t st;
    mk_raft_status(g->raft, &st);
    if (st.fatal && !g->terminated) mk_gstate_terminate(g, "the consensus core stopped on a broken invariant");
    mk_gstate_publish(g);
}

/* ---- bonds ---- */

void mk_gstate_bond_up(mk_gstate_t *g, mk_bond_t *b) {
    if (g->raft) mk_raft_peer_up(g->raft, mk_groups_now(), &b->peer, b->incarnation);
    g->bonds_seq++;
    mk_gauge_add(g->m_bonds, 1);
    mk_gstate_emit(g, MK_GROUP_EV_BOND_UP, &b->peer, 0);
    mk_gstate_process(g);
}

void mk_gstate_bond_down(mk_gstate_t *g, mk_bond_t *b) {
    if (g->raft && !g->terminated) mk_raft_peer_down(g->raft, mk_groups_now(), &b->peer);
    mk_gsnap_fetch_peer_down(g, &b->peer);
    g->bonds_seq++;
    mk_gauge_add(g->m_bonds, -1);
    mk_gstate_emit(g, MK_GROUP_EV_BOND_DOWN, &b->peer, 0);
    mk_gstate_process(g);
}

void mk_gstate_on_raft(mk_gstate_t *g, mk_bond_t *b, const uint8_t *p, size_t n) {
    if (g->terminated || !g->raft) return;
    mk_raft_msg_t m;
    mk_error_t e;
    if (mk_raft_msg_decode(p, n, &m, &e) != MK_OK) {
        char s[MK_ID_SHORT_LEN + 1];
        LOG(g, MK_LOG_INFO, "group %s: malformed Raft message from %s: %s", g->short_id, mk_id_short(&b->peer, s),
            e.msg);
        const char *kv[] = {"code", "400", NULL};  /* counted like any malformed bond message (§2.3) */
        mk_counter_add(mk_metrics_counter(mk_net_registry(g->n), "mosaik_groups_bonds_rejected", kv), 1);
        mk_bond_count_close(g, MK_CLOSE_PROTOCOL_VIOLATION);
        mk_bond_close(b, MK_CLOSE_PROTOCOL_VIOLATION, "malformed Raft message");
        return;
    }
    mk_raft_step(g->raft, mk_groups_now(), &b->peer, &m);
    mk_raft_msg_free(&m);
    /* the ready batch is drained at the end of the socket read (on_read_end) */
}

void mk_gstate_on_sync(mk_gstate_t *g, mk_bond_t *b, const uint8_t *p, size_t n) {
    if (g->terminated || !g->raft) return;
    mk_gsync_msg_t m;
    mk_error_t e;
    if (mk_gsync_msg_decode(p, n, &m, &e) != MK_OK) {
        char s[MK_ID_SHORT_LEN + 1];
        LOG(g, MK_LOG_INFO, "group %s: malformed sync message from %s: %s", g->short_id, mk_id_short(&b->peer, s),
            e.msg);
        const char *kv[] = {"code", "400", NULL};
        mk_counter_add(mk_metrics_counter(mk_net_registry(g->n), "mosaik_groups_bonds_rejected", kv), 1);
        mk_bond_count_close(g, MK_CLOSE_PROTOCOL_VIOLATION);
        mk_bond_close(b, MK_CLOSE_PROTOCOL_VIOLATION, "malformed sync message");
        return;
    }
    if (!mk_gsnap_on_sync(g, &b->peer, &m)) mk_raft_sync_step(g->raft, mk_groups_now(), &b->peer, &m);
    mk_gsync_msg_free(&m);
}

/* ---- calls entering the loop ---- */

void mk_gstate_submit(mk_gstate_t *g, mk_gcall_t *c) {
    if (g->terminated) {
        MK_ERR(&c->err, MK_ETERMINATED, "the group was left or its network freed");
        mk_gcall_finish(g, c, MK_ETERMINATED);
        return;
    }
    c->req_id = ++g->next_req;
    if (g->cfg.consensus.exactly_once && !c->out.session) {
        pthread_mutex_lock(&g->mu);
        c->out.session = g->session;
        c->out.seq = ++g->seq;
        pthread_mutex_unlock(&g->mu);
    }
    if (g->backlog_tail) g->backlog_tail->next = c;
    else g->backlog = c;
    g->backlog_tail = c;
    mk_gstate_kick(g);
}

void mk_gstate_query(mk_gstate_t *g, mk_gcall_t *c) {
    if (g->terminated) {
        MK_ERR(&c->err, MK_ETERMINATED, "the group was left or its network freed");
        mk_gcall_finish(g, c, MK_ETERMINATED);
        return;
    }
    if (c->consistency == MK_WEAK) {
        serve_query(g, c);
        return;
    }
    c->req_id = ++g->next_req;
    c->deadline = mk_groups_now() + g->cfg.consensus.query_timeout_ms;
    push_call(&g->reading, c);
    mk_raft_read_index(g->raft, mk_groups_now(), c->req_id);
    mk_gstate_process(g);
}

void mk_gstate_range(mk_gstate_t *g, mk_gcall_t *c) {
    if (g->terminated) {
        mk_gcall_finish(g, c, MK_ETERMINATED);
        return;
    }
    push_call(&g->applying, c);
    after_apply(g);
}

void mk_gstate_tick(mk_gstate_t *g) {
    if (g->terminated || !g->raft) return;
    int64_t now = mk_groups_now();
    mk_raft_tick(g->raft, now);
    mk_gsnap_tick(g);
    for (mk_gcall_t **p = &g->reading; *p;) {  /* strong reads are bounded by query_timeout */
        mk_gcall_t *c = *p;
        if (now < c->deadline) {
            p = &c->next;
            continue;
        }
        *p = c->next;
        c->next = NULL;
        MK_ERR(&c->err, MK_EOFFLINE, "the read was not confirmed within query_timeout (%u ms)",
               g->cfg.consensus.query_timeout_ms);
        mk_gcall_finish(g, c, MK_EOFFLINE);
    }
    mk_gstate_process(g);
}

/* ---- terminate ---- */

void mk_gstate_depart(mk_gstate_t *g) {
    if (g->terminated || !g->raft) return;
    mk_peer_id_t to;
    bool handing = mk_raft_transfer(g->raft, mk_groups_now(), &to);
    mk_bond_send_departure(g, NULL, handing ? &to : NULL);  /* the others drop their stickiness first */
    if (!handing) return;
    mk_gstate_process(g);                                    /* the catch-up entries and TimeoutNow */
    mk_bond_send_departure(g, &to, NULL);
    char s[MK_ID_SHORT_LEN + 1];
    LOG(g, MK_LOG_INFO, "group %s: leaving; leadership handed to %s", g->short_id, mk_id_short(&to, s));
}

void mk_gstate_terminate(mk_gstate_t *g, const char *why) {
    if (g->terminated) return;
    g->terminated = true;
    snprintf(g->fail_why, sizeof g->fail_why, "%s", why);
    if (g->tick_ev) event_del(g->tick_ev);
    fail_all(g, MK_ETERMINATED, why);
    while (g->bonds) mk_bond_close(g->bonds, MK_CLOSE_GRACEFUL_SHUTDOWN, "group left");
    mk_gstate_emit(g, MK_GROUP_EV_TERMINATED, NULL, 0);
    pthread_mutex_lock(&g->mu);
    g->pub.terminated = true;
    g->pub_seq++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    mk_readyfd_set(&g->ready, true);
}
