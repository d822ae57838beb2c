/* tests/sim/groups/world.c — nodes, network and bonds of the Raft simulator. Every node runs the real
 * core (src/groups/raft) over a crash-aware store and a clock skewed by up to ±2 %; ticks every 20 ms;
 * ready batches are handled as the runtime will (sync, send, apply, answer), sometimes with a slow
 * sync so that a crash can land between a write and its sync. Messages are encoded bytes with a delay
 * of 1–30 ms, dropped or duplicated at the seed's rates, and only travel over an up bond; a bond drops
 * after 5 heartbeat intervals without a working path both ways (at once when a process dies, or when a
 * Departure arrives) and comes back after a handshake delay. A planned departure hands leadership over
 * and sends Departure as mk_gstate_depart does (gw_leave). The snapshot side of each node (fetch
 * sessions, offers, compaction, restart from a stored snapshot) is snaps.c's; the three known core
 * issues the simulator meets are recognised here and in checks.c (gw_known_issue). */
#include "sim/groups/model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_US (20 * MS)
#define BOND_CHECK_US (50 * MS)

typedef struct gmsg {
    int from, to;
    bool sync;          /* a state-sync message (else Raft) */
    uint64_t epoch;
    size_t len;
    uint8_t bytes[];
} gmsg_t;

static void known_check(sim_t *s, void *a, uint64_t b);

int64_t gw_node_now(const gworld_t *w, const gnode_t *n) {
    int64_t us = w->s->now_us;
    return (us + us / 1000000 * n->skew_ppm) / 1000;  /* ms on the node's own clock */
}

static void trace(gworld_t *w, int node, uint32_t kind, uint64_t arg, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void trace(gworld_t *w, int node, uint32_t kind, uint64_t arg, const char *fmt, ...) {
    char text[160] = "";
    if (w->s->trace) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
    }
    sim_trace(w->s, (uint32_t)node, kind, arg, w->s->trace ? text : NULL);
}

/* ---- message delivery ---- */

static void deliver(sim_t *s, void *a, uint64_t b) {
    (void)s;
    gworld_t *w = a;
    gmsg_t *m = (gmsg_t *)(uintptr_t)b;
    gnode_t *to = &w->nodes[m->to];
    if (to->leaving) {
        /* its process has ended: nothing is read any more */
    } else if (to->alive && w->bond[m->from][m->to] && w->epoch[m->from][m->to] == m->epoch && m->sync) {
        mk_gsync_msg_t sm;
        mk_error_t e;
        if (mk_gsync_msg_decode(m->bytes, m->len, &sm, &e) != MK_OK) {
            sim_violate(w->s, "undecodable_sync_message", "node %d sent sync bytes node %d cannot decode: %s", m->from,
                        m->to, e.msg);
        } else {
            if (!gs_on_sync(w, to, m->from, &sm)) mk_raft_sync_step(to->raft, gw_node_now(w, to), &w->nodes[m->from].id, &sm);
            mk_gsync_msg_free(&sm);
            gw_process(w, to);
        }
    } else if (to->alive && w->bond[m->from][m->to] && w->epoch[m->from][m->to] == m->epoch) {
        mk_raft_msg_t msg;
        mk_error_t e;
        if (mk_raft_msg_decode(m->bytes, m->len, &msg, &e) != MK_OK) {
            sim_violate(w->s, "undecodable_message", "node %d sent bytes node %d cannot decode: %s", m->from, m->to,
                        e.msg);
        } else {
            /* an AppendEntries reaching below the receiver's snapshot base from prev 0 (a known core issue) */
            mk_index_t base = gk_base(to);
            bool below = msg.kind == MK_RAFT_APPEND && msg.append.prev.index == 0 && msg.append.nentries && base > 0;
            mk_raft_step(to->raft, gw_node_now(w, to), &w->nodes[m->from].id, &msg);
            if (below && to->raft->fatal)
                gw_known_issue(w, "append_below_base", "node %d (log compacted up to %llu) got AppendEntries from "
                               "prev 0 with %zu entries from node %d: the entries under its base have no term there, "
                               "so it truncates at 1, below its commit index, and stops (fatal)", m->to,
                               (unsigned long long)base, msg.append.nentries, m->from);
            mk_raft_msg_free(&msg);
            gw_process(w, to);
        }
    }
    free(m);
}

static void send_bytes(gworld_t *w, int from, int to, const mk_buf_t *bytes, bool sync) {
    if (to < 0 || !w->bond[from][to] || !w->link[from][to]) return;
    w->stats_msgs++;
    /* Raft and log-replay messages are dropped and duplicated at the seed's rates (both tolerate loss by
     * design); the snapshot flow (StateSync tags 4–7) relies on the bond being a reliable stream, as it is
     * (a FetchDataRequest unanswered for fetch_timeout drops its provider's offer for good), so it is
     * lost only with a cut link. */
    bool reliable = sync && bytes->len && ((const uint8_t *)bytes->ptr)[0] >= MK_GSYNC_REQ_SNAPSHOT;
    if (!reliable && (int)sim_below(w->s, 100) < w->p.drop_pct) return;
    int copies = !reliable && (int)sim_below(w->s, 100) < w->p.dup_pct ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        gmsg_t *m = malloc(sizeof *m + bytes->len);
        if (!m) abort();
        *m = (gmsg_t){.from = from, .to = to, .sync = sync, .epoch = w->epoch[from][to], .len = bytes->len};
        memcpy(m->bytes, bytes->ptr, bytes->len);
        int64_t at = w->s->now_us + sim_range(w->s, 1, 30) * MS;
        if (at > w->last_at[from][to]) w->last_at[from][to] = at;
        sim_at(w->s, at, deliver, w, (uint64_t)(uintptr_t)m);
    }
}

static int node_of(gworld_t *w, const mk_peer_id_t *id) {
    for (int i = 0; i < w->p.n; i++)
        if (mk_id_eq(&w->nodes[i].id, id)) return i;
    return -1;
}

int gw_node_of(gworld_t *w, const mk_peer_id_t *id) { return node_of(w, id); }

void gw_send(gworld_t *w, int from, int to, const mk_buf_t *bytes, bool sync) {
    send_bytes(w, from, to, bytes, sync);
    if (sync) w->stats_sync_msgs++;
}

/* ---- ready batches ---- */

static void apply_command(gworld_t *w, gnode_t *n, const mk_log_entry_t *e) {
    mk_index_t i = e->index;
    mk_raft_body_t b;
    if (mk_raft_body_decode(MK_ENTRY_COMMAND, e->body, e->len, &b, NULL) != MK_OK) return;
    const uint8_t *p = b.command.payload.ptr;
    uint64_t id = 0;
    if (b.command.payload.len == 26) memcpy(&id, p + 18, 8);
    if (w->p.exactly_once && gs_seen_before(w, n, b.command.session, b.command.seq, i)) {
        /* the runtime's filter (group.c seen_before): a (session, seq) the machine applied already */
        w->stats_dups_filtered++;
        if (!w->ever_based)  /* with whole logs every leader knows each session's last seq: no duplicate */
            sim_violate(w->s, "exactly_once_duplicate", "node %d: operation %llu (session %llx seq %llu) is in the log "
                        "again at %llu", n->idx, (unsigned long long)id, (unsigned long long)b.command.session,
                        (unsigned long long)b.command.seq, (unsigned long long)i);
        return;
    }
    if (b.command.payload.len != 26) return;
    int kind = p[0], key = p[1];
    int64_t arg, arg2;
    memcpy(&arg, p + 2, 8);
    memcpy(&arg2, p + 10, 8);
    if (key >= NKEYS) return;
    bool swapped = kind == OP_CAS && n->reg[key] == arg;
    if (kind == OP_WRITE) n->reg[key] = arg;
    else if (swapped) n->reg[key] = arg2;
    else if (kind == OP_INC) n->counter++;
    gop_t *op = gc_op(w, id);
    if (!op) return;
    if (op->applied_at && op->applied_at != i)
        sim_violate(w->s, "applied_twice", "operation %llu applied at index %llu and at %llu", (unsigned long long)id,
                    (unsigned long long)op->applied_at, (unsigned long long)i);
    op->applied_at = i;
    if (op->node == n->idx && op->node_life == n->life) op->cas_ok = swapped;
}

static void apply_batch(gworld_t *w, gnode_t *n, mk_index_t from, mk_index_t to) {
    mk_log_store_t *st = simstore_pub(n->store);
    for (mk_index_t i = from; i <= to && !w->s->violated; i++) {
        mk_log_entry_t e;
        if (st->vt->get(st->self, i, &e) != MK_OK) {
            sim_violate(w->s, "apply_missing", "node %d applies index %llu it does not hold", n->idx,
                        (unsigned long long)i);
            return;
        }
        gk_on_applied(w, n, &e);
        n->applied = i;
        n->applied_term = e.term;
        if (e.kind == MK_ENTRY_SNAPSHOT_MARKER) {  /* snapshot right after it (the machine is there) */
            gs_on_marker(w, n, (mk_cursor_t){e.term, i}, &e);
            gk_on_state(w, n, i);
            continue;
        }
        if (e.kind == MK_ENTRY_COMMAND) apply_command(w, n, &e);
        gk_on_state(w, n, i);
    }
}

/* The batch's sync is done: send, apply, answer, advance. */
static void send_all(gworld_t *w, gnode_t *n, mk_raft_ready_t *rd) {
    for (size_t i = 0; i < rd->nmsgs; i++) send_bytes(w, n->idx, node_of(w, &rd->msgs[i].to), &rd->msgs[i].bytes, false);
    for (size_t i = 0; i < rd->nsync_msgs; i++)
        send_bytes(w, n->idx, node_of(w, &rd->sync_msgs[i].to), &rd->sync_msgs[i].bytes, true);
    if (rd->nsync_msgs) w->stats_sync_msgs += rd->nsync_msgs;
}

static void finish_ready(gworld_t *w, gnode_t *n, mk_raft_ready_t *rd, bool sent) {
    if (!sent) send_all(w, n, rd);
    if (rd->apply_to >= rd->apply_from) apply_batch(w, n, rd->apply_from, rd->apply_to);
    mk_index_t applied = rd->apply_to >= rd->apply_from ? rd->apply_to : n->applied;
    for (size_t i = 0; i < rd->nresults; i++) gc_on_result(w, n, &rd->results[i]);
    for (size_t i = 0; i < rd->nreads; i++) gc_on_read(w, n, &rd->reads[i]);
    if (rd->snapshot_wanted) gs_fetch_start(w, n);
    if (rd->leader_changed) gs_fetch_leader(w, n);
    mk_raft_advance(n->raft, rd, applied);
    gc_on_applied(w, n);
    gk_on_ready(w, n);
}

static void slow_sync_done(sim_t *s, void *a, uint64_t b) {
    (void)s;
    gworld_t *w = a;
    gnode_t *n = &w->nodes[b >> 32];
    if (!n->alive || n->life != (b & 0xffffffffu) || !n->syncing) return;
    mk_log_store_t *st = simstore_pub(n->store);
    st->vt->sync(st->self);
    n->syncing = false;
    finish_ready(w, n, &n->pending, n->pending.may_send_before_sync);
    gw_process(w, n);
}

/* Drains n's ready batches; slow: a batch that must sync may wait for a slow disk. */
static void process(gworld_t *w, gnode_t *n, bool slow) {
    while (n->alive && !n->leaving && !n->syncing && !w->s->violated) {
        mk_raft_ready_t rd;
        if (!mk_raft_ready(n->raft, &rd)) {
            gk_on_ready(w, n);
            gs_idle(w, n);  /* the fetch session and compaction, between batches as on the loop */
            return;
        }
        if (slow && rd.must_sync && sim_below(w->s, 8) == 0) {  /* a slow disk: a crash may come before the sync */
            if (rd.may_send_before_sync) send_all(w, n, &rd);  /* a leader's entries leave before its sync */
            n->syncing = true;
            n->pending = rd;
            sim_at(w->s, w->s->now_us + sim_range(w->s, 1, 5) * MS, slow_sync_done, w,
                   ((uint64_t)n->idx << 32) | (n->life & 0xffffffffu));
            return;
        }
        if (rd.may_send_before_sync) send_all(w, n, &rd);
        if (rd.must_sync) {
            mk_log_store_t *st = simstore_pub(n->store);
            st->vt->sync(st->self);
        }
        finish_ready(w, n, &rd, rd.may_send_before_sync);
    }
}

void gw_process(gworld_t *w, gnode_t *n) { process(w, n, true); }

static void tick(sim_t *s, void *a, uint64_t b) {
    gworld_t *w = a;
    gnode_t *n = &w->nodes[b];
    if (n->alive && !n->leaving) {
        mk_raft_tick(n->raft, gw_node_now(w, n));
        gs_tick(w, n);
        gw_process(w, n);
    }
    sim_at(s, s->now_us + TICK_US, tick, w, b);
}

/* ---- bonds ---- */

static void bond_set(gworld_t *w, int i, int j, bool up) {
    if (w->bond[i][j] == up) return;
    w->bond[i][j] = w->bond[j][i] = up;
    w->epoch[i][j]++, w->epoch[j][i]++;
    w->silent_since[i][j] = w->silent_since[j][i] = 0;
    gnode_t *a = &w->nodes[i], *b = &w->nodes[j];
    trace(w, i, 10, (uint64_t)j, "bond %d-%d %s", i, j, up ? "up" : "down");
    if (up) {
        mk_raft_peer_up(a->raft, gw_node_now(w, a), &b->id, w->nodes[j].raft->meta.incarnation);
        mk_raft_peer_up(b->raft, gw_node_now(w, b), &a->id, w->nodes[i].raft->meta.incarnation);
    } else {
        if (a->alive && !a->leaving) {
            mk_raft_peer_down(a->raft, gw_node_now(w, a), &b->id);
            gs_peer_down(w, a, j);
        }
        if (b->alive && !b->leaving) {
            mk_raft_peer_down(b->raft, gw_node_now(w, b), &a->id);
            gs_peer_down(w, b, i);
        }
    }
    if (a->alive) gw_process(w, a);
    if (b->alive) gw_process(w, b);
}

static void bond_up_event(sim_t *s, void *a, uint64_t b) {
    (void)s;
    gworld_t *w = a;
    int i = (int)(b >> 8), j = (int)(b & 0xff);
    w->bond_pending[i][j] = false;
    if (w->nodes[i].alive && w->nodes[j].alive && !w->nodes[i].leaving && !w->nodes[j].leaving && w->link[i][j] &&
        w->link[j][i])
        bond_set(w, i, j, true);
}

static void bond_check(sim_t *s, void *a, uint64_t b) {
    (void)b;
    gworld_t *w = a;
    int64_t detect = 5 * (int64_t)w->cc.heartbeat_interval_ms * MS;
    for (int i = 0; i < w->p.n; i++)
        for (int j = i + 1; j < w->p.n; j++) {
            bool want = w->nodes[i].alive && w->nodes[j].alive && !w->nodes[i].leaving && !w->nodes[j].leaving &&
                        w->link[i][j] && w->link[j][i];
            if (w->bond[i][j] && !want) {
                if (!w->silent_since[i][j]) w->silent_since[i][j] = s->now_us;
                else if (s->now_us - w->silent_since[i][j] >= detect) bond_set(w, i, j, false);
            } else if (w->bond[i][j]) {
                w->silent_since[i][j] = 0;
            } else if (want && !w->bond_pending[i][j]) {
                w->bond_pending[i][j] = true;
                sim_at(s, s->now_us + sim_range(s, 10, 100) * MS, bond_up_event, w, ((uint64_t)i << 8) | (uint64_t)j);
            }
        }
    sim_at(s, s->now_us + BOND_CHECK_US, bond_check, w, 0);
}

/* ---- nodes ---- */

static void node_boot(gworld_t *w, gnode_t *n) {
    memset(n->reg, 0, sizeof n->reg);
    n->counter = 0;
    n->nsess = 0;
    n->applied = n->compacted_at = 0;
    n->applied_term = 0;
    mk_raft_body_t base;
    mk_index_t base_index = 0;
    bool restored = gs_restore(w, n, &base, &base_index);  /* a durable node's stored snapshot, if any */
    if (w->s->violated) return;
    mk_raft_config_t rc = {.self = n->id, .cc = w->cc, .preference = n->pref, .store = simstore_pub(n->store),
                           .sync = {.kind = w->snap_sync ? MK_SYNC_SNAPSHOT : MK_SYNC_LOG_REPLAY,
                                    .replay_batch = w->replay_batch, .replay_fetch_timeout_ms = 2000,
                                    .snapshot_batch = w->snapshot_batch, .snapshot_ttl_ms = w->snapshot_ttl_ms,
                                    .snapshot_request_timeout_ms = w->snapshot_request_ms,
                                    .snapshot_fetch_timeout_ms = w->snapshot_fetch_ms},
                           .snapshot_sync = w->snap_sync, .base_config = restored ? &base : NULL,
                           .base_config_index = base_index, .applied = restored ? n->applied : 0,
                           .seed = sim_rand(w->s), .test_dynamic_quorum = w->p.dynamic_quorum};
    mk_error_t e;
    n->raft = mk_raft_new(&rc, gw_node_now(w, n), &e);
    if (!n->raft) {
        sim_violate(w->s, "boot_failed", "node %d cannot start: %s", n->idx, e.msg);
        return;
    }
    n->alive = true;
    n->syncing = false;
    n->last_commit = n->raft->commit;
    n->last_role = MK_RAFT_FOLLOWER;
    n->last_term = n->raft->hs.term;
    n->last_config = n->raft->config.index;
    if (restored) gk_on_snapshot(w, n, (mk_cursor_t){n->applied_term, n->applied}, "restored");
}

void gw_init(gworld_t *w, sim_t *s, const gparams_t *p) {
    memset(w, 0, sizeof *w);
    w->s = s;
    w->p = *p;
    w->cc = (mk_consensus_config_t)MK_CONSENSUS_CONFIG_DEFAULT;
    w->cc.heartbeat_interval_ms = 100;
    w->cc.heartbeat_jitter_ms = 30;
    w->cc.max_missed_heartbeats = 5;
    w->cc.election_timeout_ms = 1000;
    w->cc.election_timeout_jitter_ms = 300;
    w->cc.bootstrap_delay_ms = 500;
    w->cc.forward_timeout_ms = 1000;
    w->cc.voter_removal_timeout_ms = 8000;
    w->cc.max_voters = p->max_voters;
    w->cc.bootstrap_expect = p->bootstrap_expect;
    w->cc.max_append_entries = 64;
    w->cc.max_inflight_appends = 8;
    w->cc.exactly_once = p->exactly_once;
    w->replay_batch = (uint32_t)sim_range(s, 4, 64);  /* small: lagging nodes often catch up by log replay */
    gs_params(w);  /* snapshot sync in half the seeds, compaction in a third */
    for (int i = 0; i < p->n; i++) {
        gnode_t *n = &w->nodes[i];
        n->idx = i;
        mk_blake3(&i, sizeof i, n->id.b);  /* distinct, arbitrary order */
        n->id.b[0] = (uint8_t)(sim_rand(s) & 0xff);
        n->durable = !p->amnesia || sim_below(s, 2);  /* otherwise an in-memory store: a crash loses it */
        n->skew_ppm = (int32_t)sim_range(s, -20000, 20000);
        n->pref = (mk_leadership_t){MK_LEAD_NORMAL, 1};
        if (p->n >= 3 && sim_below(s, 4) == 0) n->pref = MK_LEADERSHIP_RELUCTANT_DEFAULT;
        n->store = simstore_new(sim_rand(s) | 1, true);  /* the snapshot area is used by durable nodes only */
        n->w = w;
        simstore_on_append(n->store, gk_on_append, n);
        for (int j = 0; j < p->n; j++) w->link[i][j] = true;
    }
    if (p->n >= 5 && sim_below(s, 3) == 0) {  /* an observer: not counted in bootstrap_expect */
        w->nodes[p->n - 1].pref = (mk_leadership_t){MK_LEAD_OBSERVER, 1};
        if (w->cc.bootstrap_expect > (uint32_t)p->n - 1) w->cc.bootstrap_expect = (uint32_t)p->n - 1;
    }
    w->last_amnesia_us = -1;
}

void gw_free(gworld_t *w) {
    for (size_t i = 0; i < w->s->nheap; i++)  /* messages still in flight when the run ended */
        if (w->s->heap[i].fn == deliver) {
            free((void *)(uintptr_t)w->s->heap[i].b);
            w->s->heap[i].fn = NULL;
        }
    for (int i = 0; i < w->p.n; i++) {
        gnode_t *n = &w->nodes[i];
        if (n->syncing) mk_raft_advance(n->raft, &n->pending, n->applied);
        mk_raft_free(n->raft);
        gs_free(n);
        simstore_free(n->store);
    }
    for (size_t k = 0; k < w->norigins; k++) {
        for (size_t i = 0; i < w->origins[k].nseen; i++) free(w->origins[k].seen[i].v);
        free(w->origins[k].seen);
        free(w->origins[k].committed);
        free(w->origins[k].leaders);
        free(w->origins[k].cfgs);
    }
    free(w->ops);
}

void gw_start(gworld_t *w) {
    for (int i = 0; i < w->p.n; i++) {
        node_boot(w, &w->nodes[i]);
        sim_at(w->s, w->s->now_us + sim_range(w->s, 0, TICK_US), tick, w, (uint64_t)i);
    }
    sim_at(w->s, w->s->now_us + BOND_CHECK_US, bond_check, w, 0);
    sim_at(w->s, w->s->now_us + 500 * MS, known_check, w, 0);
}

void gw_crash(gworld_t *w, int i, bool amnesia) {
    gnode_t *n = &w->nodes[i];
    if (!n->alive) return;
    w->stats_crashes++;
    trace(w, i, 11, amnesia, "crash%s", amnesia ? " (disk lost)" : "");
    for (int j = 0; j < w->p.n; j++)  /* the process is gone: its sockets close at once */
        if (j != i && w->bond[i][j]) {
            n->alive = false;  /* peer_down only reaches the live side */
            bond_set(w, i, j, false);
        }
    n->alive = false;
    n->leaving = false;
    gs_drop(n);
    gc_on_crash(w, n);
    if (n->syncing) {
        mk_raft_advance(n->raft, &n->pending, n->applied);
        n->syncing = false;
    }
    mk_raft_free(n->raft);
    n->raft = NULL;
    if (amnesia) simstore_amnesia(n->store, sim_rand(w->s) | 1);
    else simstore_crash(n->store);
    n->life++;
}

void gw_restart(gworld_t *w, int i) {
    gnode_t *n = &w->nodes[i];
    if (n->alive) return;
    trace(w, i, 12, 0, "restart");
    node_boot(w, n);
}

void gw_partition(gworld_t *w, const int *side, bool one_way) {
    w->stats_partitions++;
    for (int i = 0; i < w->p.n; i++)
        for (int j = 0; j < w->p.n; j++) {
            if (side[i] == side[j]) continue;
            if (one_way && side[i] != 0) continue;
            w->link[i][j] = false;
        }
    trace(w, -1, 13, one_way, "partition%s", one_way ? " (one way)" : "");
}

void gw_heal(gworld_t *w) {
    for (int i = 0; i < w->p.n; i++)
        for (int j = 0; j < w->p.n; j++) w->link[i][j] = true;
    trace(w, -1, 14, 0, "heal");
}

int gw_leader(gworld_t *w) {
    int best = -1;
    for (int i = 0; i < w->p.n; i++) {
        gnode_t *n = &w->nodes[i];
        if (!n->alive || n->leaving || n->raft->role != MK_RAFT_LEADER) continue;
        if (best < 0 || n->raft->hs.term > w->nodes[best].raft->hs.term) best = i;
    }
    return best;
}

/* ---- the snapshot-marker deadlock ---- */

bool gw_snapshot_deadlock(gworld_t *w, int l) {
    if (l < 0) return false;
    mk_raft_t *r = w->nodes[l].raft;
    bool marker = false;
    for (size_t i = 0; i < r->npending_markers; i++) marker |= r->pending_markers[i].index > r->commit;
    if (!marker || r->commit >= mk_raft_last(r).index) return false;
    size_t ok = 0, syncing = 0;
    for (size_t v = 0; v < r->config.nvoters; v++) {
        int k = node_of(w, &r->config.voters[v].peer);
        if (k == l) {
            ok++;
            continue;
        }
        if (k < 0) continue;
        gnode_t *n = &w->nodes[k];
        if (!n->alive || n->leaving || simstore_incarnation(n->store) != r->config.voters[v].incarnation ||
            !w->bond[l][k])
            continue;
        if (n->raft->snap_active) syncing++;
        else ok++;
    }
    size_t quorum = r->config.nvoters / 2 + 1;
    return syncing && ok < quorum && ok + syncing >= quorum;
}

bool gw_known_issue(gworld_t *w, const char *name, const char *fmt, ...) {
    if (w->s->violated) return true;
    char detail[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (w->strict_known) {
        sim_violate(w->s, name, "%s", detail);
        return true;
    }
    w->known_issue = name;
    trace(w, -1, 57, 0, "known core issue %s: %s (the run stops here)", name, detail);
    w->s->violated = true;  /* stops the event loop; groups-sim.c tells it from a violation */
    snprintf(w->s->invariant, sizeof w->s->invariant, "%s", name);
    snprintf(w->s->violation, sizeof w->s->violation, "known core issue %s: %s", name, detail);
    return true;
}

bool gw_liveness_excused(gworld_t *w, int l, const char *what) {
    if (w->s->violated || !gw_snapshot_deadlock(w, l)) return false;
    return gw_known_issue(w, "snapshot_marker_deadlock", "%s: leader %d (commit %llu, last %llu) waits for a "
                          "SNAPSHOT_MARKER that only voters in snapshot-sync mode could commit", what, l,
                          (unsigned long long)w->nodes[l].raft->commit,
                          (unsigned long long)mk_raft_last(w->nodes[l].raft).index);
}

/* Every 500 ms: a leader stuck on the snapshot-marker deadlock for 5 s is the known issue. */
static void known_check(sim_t *s, void *a, uint64_t b) {
    (void)b;
    gworld_t *w = a;
    for (int i = 0; i < w->p.n && !s->violated; i++) {
        gnode_t *n = &w->nodes[i];
        bool stuck = n->alive && !n->leaving && n->raft->role == MK_RAFT_LEADER && gw_snapshot_deadlock(w, i);
        if (!stuck) w->deadlock_since[i] = 0;
        else if (!w->deadlock_since[i]) w->deadlock_since[i] = s->now_us;
        else if (s->now_us - w->deadlock_since[i] >= 5 * SEC) gw_liveness_excused(w, i, "stuck for 5 s");
    }
    sim_at(s, s->now_us + 500 * MS, known_check, w, 0);
}

/* ---- leadership hand-overs ---- */

/* A hand-over succeeded when the first leader of a later term is the chosen voter, elected within one
 * election timeout of the transfer (its TimeoutNow campaign skips PreVote and the timer); anything else
 * — another node, or the chosen one after an ordinary election — is a fallback. */

static void xfer_settle(gworld_t *w, bool ok) {
    int64_t took = w->s->now_us - w->xfer.at_us;
    if (!ok && getenv("SIM_DEBUG_XFER"))
        fprintf(stderr, "seed %llu: hand-over %d -> %d at %.3f s failed (t=%.3f)\n", (unsigned long long)w->s->seed,
                w->xfer.from, w->xfer.to, (double)w->xfer.at_us / SEC, (double)w->s->now_us / SEC);
    if (ok) {
        w->stats_xfer_ok++;
        w->stats_xfer_ok_us += took;
    } else {
        w->stats_xfer_failed++;
    }
    if (took > w->stats_xfer_max_us) w->stats_xfer_max_us = took;
    w->xfer.pending = false;
}

void gw_xfer_begin(gworld_t *w, int i, const mk_peer_id_t *to) {
    if (w->xfer.pending) xfer_settle(w, false);  /* overtaken by another hand-over before any election */
    w->xfer.pending = true;
    w->xfer.from = i;
    w->xfer.to = node_of(w, to);
    w->xfer.term = w->nodes[i].raft->hs.term;
    w->xfer.at_us = w->s->now_us;
}

void gw_on_leader(gworld_t *w, gnode_t *n) {
    if (!w->xfer.pending || n->raft->hs.term <= w->xfer.term) return;
    /* the TimeoutNow campaign skips PreVote and the timer: a leader within one election timeout; the
     * chosen voter winning an ordinary election later counts as a fallback */
    xfer_settle(w, n->idx == w->xfer.to && w->s->now_us - w->xfer.at_us < (int64_t)w->cc.election_timeout_ms * MS);
}

void gw_xfer_end(gworld_t *w) {
    if (w->xfer.pending) xfer_settle(w, false);
}

/* ---- random faults ---- */

static void restart_event(sim_t *s, void *a, uint64_t b) {
    (void)s;
    gw_restart(a, (int)b);
}

static void heal_event(sim_t *s, void *a, uint64_t b) {
    (void)s;
    (void)b;
    gw_heal(a);
}


/* May node i lose its disk now? Only while, in every configuration a live node holds (split
 * bootstraps can leave several histories), the voters that are already gone for it — lost their disk,
 * or never received that configuration entry — plus this one stay a minority. (Without state sync from
 * peers, a group whose bootstrap CONFIG reached only its writer is lost with that writer's disk.) */
static bool minority_after_loss(gworld_t *w, int i, gnode_t *holder) {
    const mk_rconfig_t *cfg = &holder->raft->config;
    mk_log_store_t *hs = simstore_pub(holder->store);
    mk_term_t cfg_term = 0;
    if (hs->vt->term_at(hs->self, cfg->index, &cfg_term) != MK_OK &&  /* compacted: a committed entry */
        !gk_committed_term(w, holder, cfg->index, &cfg_term))
        return true;
    size_t lost = 0;
    bool voter = false;
    for (size_t v = 0; v < cfg->nvoters; v++)
        for (int k = 0; k < w->p.n; k++) {
            gnode_t *n = &w->nodes[k];
            if (!mk_id_eq(&n->id, &cfg->voters[v].peer)) continue;
            mk_log_store_t *st = simstore_pub(n->store);
            mk_term_t t = 0;
            bool holds = (st->vt->term_at(st->self, cfg->index, &t) == MK_OK && t == cfg_term) ||
                         (gk_base(n) >= cfg->index && cfg->index <= gk_base(holder));  /* under both snapshots */
            if (k == i) voter = true;
            else if (simstore_incarnation(n->store) != cfg->voters[v].incarnation || !holds) lost++;
        }
    return !voter || (lost + 1) * 2 < cfg->nvoters;
}

static bool amnesia_allowed(gworld_t *w, int i) {
    for (int k = 0; k < w->p.n; k++) {
        gnode_t *n = &w->nodes[k];
        if (n->alive && n->raft->config.nvoters && !minority_after_loss(w, i, n)) return false;
    }
    return true;
}

/* ---- planned departures ---- */

#define EPOCH_BITS 40

/* A Departure from i arrives at j: j closes the bond (and the bond is gone for i too). */
static void departure_event(sim_t *s, void *a, uint64_t b) {
    (void)s;
    gworld_t *w = a;
    int i = (int)(b >> 56), j = (int)((b >> 48) & 0xff);
    uint64_t ep = b & ((1ull << EPOCH_BITS) - 1);
    if (!w->bond[i][j] || (w->epoch[i][j] & ((1ull << EPOCH_BITS) - 1)) != ep || !w->nodes[j].alive) return;
    trace(w, j, 16, (uint64_t)i, "departure of %d arrives at %d", i, j);
    bond_set(w, i, j, false);
}

static void departure_at(gworld_t *w, int i, int j, int64_t at) {
    sim_at(w->s, at, departure_event, w,
           (uint64_t)i << 56 | (uint64_t)j << 48 | (w->epoch[i][j] & ((1ull << EPOCH_BITS) - 1)));
}

bool gw_leave(gworld_t *w, int i, int64_t *end_us) {
    gnode_t *n = &w->nodes[i];
    if (!n->alive || n->leaving || n->raft->role != MK_RAFT_LEADER) return false;
    int64_t now = w->s->now_us;
    if (n->syncing) {  /* the runtime's loop handles a batch whole before it takes the next call */
        mk_log_store_t *st = simstore_pub(n->store);
        st->vt->sync(st->self);
        n->syncing = false;
        finish_ready(w, n, &n->pending, n->pending.may_send_before_sync);
    }
    process(w, n, false);
    if (!n->alive || n->raft->role != MK_RAFT_LEADER) return false;
    mk_peer_id_t to_id;
    if (!mk_raft_transfer(n->raft, gw_node_now(w, n), &to_id)) return false;
    int to = node_of(w, &to_id);
    trace(w, i, 15, (uint64_t)to, "leaving: leadership handed over to %d", to);
    w->stats_transfers++;
    gw_xfer_begin(w, i, &to_id);
    process(w, n, false);  /* the catch-up entries and TimeoutNow, synced at once (mk_gstate_depart) */
    n->leaving = true;     /* then the group terminates: nothing more is read or processed */
    /* Departure went to the others first: it arrives no later than the TimeoutNow does (messages sent to
     * them before and still in flight may come later and are lost with the bond, as dropped ones); the
     * chosen voter's comes after everything sent to it (its TimeoutNow) */
    int64_t tn = to >= 0 && w->last_at[i][to] > now ? w->last_at[i][to] - now : 30 * MS;
    int64_t end = now + MS;
    for (int j = 0; j < w->p.n; j++) {
        if (j == i || !w->bond[i][j]) continue;
        int64_t at;
        if (j == to) at = (w->last_at[i][j] > now ? w->last_at[i][j] : now) + sim_range(w->s, 0, 2) * MS + 1;
        else at = now + sim_range(w->s, 1, tn / MS > 1 ? tn / MS : 1) * MS;
        if (w->link[i][j]) departure_at(w, i, j, at);  /* cut: the peer notices the silence (or the stop) */
        if (at > end) end = at;
        if (w->last_at[i][j] > end) end = w->last_at[i][j];
    }
    *end_us = end + MS;
    return true;
}

/* The end of a planned departure: the process is gone once its last message arrived. */
static void leave_event(sim_t *s, void *a, uint64_t b) {
    gworld_t *w = a;
    int i = (int)(b >> 32);
    gnode_t *n = &w->nodes[i];
    if (!n->alive || n->life != (b & 0xffffffffu)) return;
    gw_crash(w, i, false);
    sim_at(s, s->now_us + sim_range(s, 200, 5000) * MS, restart_event, w, (uint64_t)i);
}

static void fault_event(sim_t *s, void *a, uint64_t b) {
    (void)b;
    gworld_t *w = a;
    if (s->now_us >= w->p.fault_us) return;
    int n = w->p.n;
    switch (sim_below(s, 4)) {
    case 0:
    case 1: {  /* a partition: random sides, sometimes one way, healed later */
        if (n < 2) break;
        int side[GMAX];
        for (int i = 0; i < n; i++) side[i] = (int)sim_below(s, 2);
        gw_partition(w, side, sim_below(s, 4) == 0);
        sim_at(s, s->now_us + sim_range(s, 500, 8000) * MS, heal_event, w, 0);
        break;
    }
    case 2: {  /* a crash: a durable node keeps its disk; an in-memory one restarts empty (a new
                * incarnation), at most one such every 15 s so that only a minority of voters is ever lost */
        int i = (int)sim_below(s, (uint64_t)n);
        if (!w->nodes[i].alive) break;
        bool amnesia = !w->nodes[i].durable;
        if (amnesia && (!w->p.amnesia || n < 3 || !amnesia_allowed(w, i) ||
                        (w->last_amnesia_us >= 0 && s->now_us - w->last_amnesia_us < 15 * SEC)))
            break;
        if (amnesia) w->last_amnesia_us = s->now_us;
        if (!amnesia && w->nodes[i].raft->role == MK_RAFT_LEADER && sim_below(s, 2) == 0) {
            /* a planned departure: leadership handed over (TimeoutNow), Departures, the process ends */
            int64_t end;
            if (gw_leave(w, i, &end)) {
                sim_at(s, end, leave_event, w, ((uint64_t)i << 32) | (w->nodes[i].life & 0xffffffffu));
                break;
            }
        }
        gw_crash(w, i, amnesia);
        sim_at(s, s->now_us + sim_range(s, 200, 5000) * MS, restart_event, w, (uint64_t)i);
        break;
    }
    default: break;  /* quiet */
    }
    sim_at(s, s->now_us + sim_range(s, 300, 3000) * MS, fault_event, w, 0);
}

void gw_faults(gworld_t *w) { sim_at(w->s, w->s->now_us + sim_range(w->s, 1000, 3000) * MS, fault_event, w, 0); }
