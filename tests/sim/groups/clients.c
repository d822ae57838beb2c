/* tests/sim/groups/clients.c — the simulator's workload and histories: clients issue one operation at
 * a time on a random live node — register write / strong read / compare-and-swap on a few keys, counter
 * increments and strong counter reads — each bounded by a 3 s deadline. Commands complete when the node
 * applied their range (still of the assigned term), reads once the node applied the confirmed read
 * index. Failures known not to have applied leave the history; timeouts and crashes leave an unknown
 * outcome. At the end every key's history must be linearizable and counter reads must lie between the
 * completed and the invoked increments. */
#include "sim/groups/linz.h"
#include "sim/groups/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEADLINE_US (3 * SEC)
#define MAX_KEY_OPS 280

gop_t *gc_op(gworld_t *w, uint64_t id) { return id >= 1 && id <= w->nops ? &w->ops[id - 1] : NULL; }

static bool pending(const gop_t *op) { return op->st == ST_PROPOSED || op->st == ST_ASSIGNED || op->st == ST_READING; }
static bool is_command(op_kind_t k) { return k == OP_WRITE || k == OP_CAS || k == OP_INC; }

static void client_next(sim_t *s, void *a, uint64_t b);

static void complete_why(gworld_t *w, gop_t *op, op_state_t st, const char *why) {
    if (w->s->trace) {
        char text[128];
        snprintf(text, sizeof text, "op %llu kind %d -> %d (%s) range %llu..%llu t%llu", (unsigned long long)op->id,
                 (int)op->kind, (int)st, why, (unsigned long long)op->range.first, (unsigned long long)op->range.last,
                 (unsigned long long)op->range.term);
        sim_trace(w->s, (uint32_t)op->node, 30, op->id, text);
    }
    if (st == ST_OK) {  /* it belongs to the history its node applied it (or read it) in */
        gnode_t *n = &w->nodes[op->node];
        op->has_origin = n->raft && n->raft->meta.has_origin;
        if (op->has_origin) op->origin = n->raft->meta.origin;
    }
    op->st = st;
    if (st != ST_OK && op->client >= 0 && (op->kind == OP_WRITE || op->kind == OP_CAS || op->kind == OP_INC)) {
        w->client_session[op->client] = 0;  /* the session's order is unknown now: start a new one */
        w->client_seq[op->client] = 0;
    }
    op->return_us = w->s->now_us;
    if (op->client >= 0 && w->clients_on)
        sim_at(w->s, w->s->now_us + sim_range(w->s, 20, 300) * MS, client_next, w, (uint64_t)op->client);
}

#define complete(w, op, st) complete_why((w), (op), (st), __func__)

static void deadline(sim_t *s, void *a, uint64_t b) {
    (void)s;
    gworld_t *w = a;
    gop_t *op = gc_op(w, b);
    if (op && pending(op)) complete(w, op, is_command(op->kind) ? ST_UNKNOWN : ST_FAIL);
}

void gc_issue(gworld_t *w, int client, int node, op_kind_t kind, int key, int64_t arg, int64_t arg2) {
    if (w->nops == w->capops) {
        w->capops = w->capops ? 2 * w->capops : 256;
        w->ops = realloc(w->ops, w->capops * sizeof *w->ops);
        if (!w->ops) abort();
    }
    gop_t *op = &w->ops[w->nops++];
    gnode_t *n = &w->nodes[node];
    *op = (gop_t){.id = w->nops, .client = client, .node = node, .kind = kind, .key = key, .arg = arg, .arg2 = arg2,
                  .st = ST_PROPOSED, .invoke_us = w->s->now_us, .node_life = n->life};
    if (!n->alive || n->leaving) {
        complete(w, op, ST_FAIL);
        return;
    }
    sim_at(w->s, w->s->now_us + DEADLINE_US, deadline, w, op->id);
    int64_t now = gw_node_now(w, n);
    if (!is_command(kind)) {
        mk_raft_read_index(n->raft, now, op->id);
        gw_process(w, n);
        return;
    }
    uint8_t cmd[26];
    cmd[0] = (uint8_t)kind;
    cmd[1] = (uint8_t)key;
    memcpy(cmd + 2, &arg, 8);
    memcpy(cmd + 10, &arg2, 8);
    memcpy(cmd + 18, &op->id, 8);
    mk_bytes_t b = {cmd, sizeof cmd};
    uint64_t session = 0, seq = 0;
    if (w->p.exactly_once && client >= 0) {
        if (!w->client_session[client]) w->client_session[client] = ((uint64_t)client + 1) << 32 | w->nops;
        session = w->client_session[client];
        seq = ++w->client_seq[client];
    }
    if (mk_raft_propose(n->raft, now, op->id, &b, 1, session, seq) != MK_OK) {
        complete(w, op, ST_FAIL);
        return;
    }
    gw_process(w, n);
}

static void client_next(sim_t *s, void *a, uint64_t b) {
    gworld_t *w = a;
    if (!w->clients_on) return;
    int c = (int)b;
    int node = w->client_node[c] >= 0 ? w->client_node[c] : (int)sim_below(s, (uint64_t)w->p.n);
    int key = (int)sim_below(s, NKEYS);
    size_t key_ops = 0;
    for (size_t i = 0; i < w->nops; i++) key_ops += w->ops[i].key == key && w->ops[i].kind <= OP_CAS;
    uint64_t pick = sim_below(s, 10);
    int64_t v = (int64_t)w->nops + 1;  /* unique values make histories easy to check */
    if (key_ops >= MAX_KEY_OPS) pick = 7 + sim_below(s, 3);
    if (pick < 3) gc_issue(w, c, node, OP_WRITE, key, v, 0);
    else if (pick < 5) gc_issue(w, c, node, OP_READ, key, 0, 0);
    else if (pick < 7) {
        gnode_t *n = &w->nodes[node];
        gc_issue(w, c, node, OP_CAS, key, n->reg[key], v);  /* expects what that node last saw */
    } else if (pick < 9) gc_issue(w, c, node, OP_INC, 0, 0, 0);
    else gc_issue(w, c, node, OP_CREAD, 0, 0, 0);
}

void gc_start(gworld_t *w, int nclients) {
    w->nclients = nclients;
    w->clients_on = true;
    for (int c = 0; c < nclients; c++) {
        if (w->client_node[c] == 0 && c > 0) w->client_node[c] = -1;
        sim_at(w->s, w->s->now_us + sim_range(w->s, 0, 500) * MS, client_next, w, (uint64_t)c);
    }
}

void gc_on_result(gworld_t *w, gnode_t *n, const mk_raft_result_t *res) {
    gop_t *op = gc_op(w, res->req_id);
    if (!op || op->node != n->idx || op->node_life != n->life || op->st != ST_PROPOSED) return;
    if (res->status == MK_OK) {
        op->st = ST_ASSIGNED;
        op->range = res->range;
        return;
    }
    complete(w, op, res->maybe_applied ? ST_UNKNOWN : ST_FAIL);
}

void gc_on_read(gworld_t *w, gnode_t *n, const mk_raft_read_t *rd) {
    gop_t *op = gc_op(w, rd->req_id);
    if (!op || op->node != n->idx || op->node_life != n->life || op->st != ST_PROPOSED) return;
    if (!rd->ok) {
        complete(w, op, ST_FAIL);
        return;
    }
    op->st = ST_READING;
    op->read_index = rd->read_index;
}

/* Whether n's log holds op `id`'s command at `index` with `term`. */
static bool entry_is(gnode_t *n, mk_index_t index, mk_term_t term, uint64_t id) {
    mk_log_store_t *st = simstore_pub(n->store);
    mk_log_entry_t e;
    mk_raft_body_t b;
    mk_cursor_t base = simstore_base(n->store);
    if (index == base.index && index) return base.term == term;  /* compacted: the entry of that term */
    if (st->vt->get(st->self, index, &e) != MK_OK || e.term != term || e.kind != MK_ENTRY_COMMAND) return false;
    if (mk_raft_body_decode(MK_ENTRY_COMMAND, e.body, e.len, &b, NULL) != MK_OK || b.command.payload.len != 26) return false;
    uint64_t got;
    memcpy(&got, (const uint8_t *)b.command.payload.ptr + 18, 8);
    return got == id;
}

void gc_on_applied(gworld_t *w, gnode_t *n) {
    for (size_t i = 0; i < w->nops; i++) {
        gop_t *op = &w->ops[i];
        if (op->node != n->idx || op->node_life != n->life) continue;
        if (op->st == ST_ASSIGNED && n->applied >= op->range.first && op->range.first < gk_base(n)) {
            /* its entries lie under a snapshot this node installed (or compacted): nothing left to check
             * them against. The runtime's after_apply then finds no term at range.first and reports the
             * call superseded (MK_EOFFLINE, not maybe_applied) although it may well be in the snapshot;
             * the simulator reports an unknown outcome unless asked to behave as the runtime. */
            if (n->applied < op->range.last) continue;
            if (w->covered_call_fails) {
                complete_why(w, op, ST_FAIL, "superseded (under a snapshot)");
            } else {
                w->stats_covered_calls++;
                complete_why(w, op, ST_UNKNOWN, "under a snapshot");
            }
        } else if (op->st == ST_ASSIGNED && n->applied >= op->range.first) {
            if (!entry_is(n, op->range.first, op->range.term, op->id)) {
                /* superseded: another entry holds the index (a later leader's, or one of another
                 * history after the leader that assigned it lost its disk) */
                complete_why(w, op, ST_FAIL, "superseded");
            } else if (n->applied >= op->range.last) {
                complete(w, op, ST_OK);
            }
        } else if (op->st == ST_READING && n->applied >= op->read_index) {
            op->ret = op->kind == OP_READ ? n->reg[op->key] : n->counter;
            complete(w, op, ST_OK);
        }
    }
}

void gc_on_crash(gworld_t *w, gnode_t *n) {
    for (size_t i = 0; i < w->nops; i++) {
        gop_t *op = &w->ops[i];
        if (op->node == n->idx && op->node_life == n->life && pending(op))
            complete(w, op, is_command(op->kind) ? ST_UNKNOWN : ST_FAIL);  /* a command may have been appended */
    }
}

static bool check_origin(gworld_t *w, const mk_id_t *origin);

bool gc_check_histories(gworld_t *w) {
    if (getenv("SIM_DEBUG_OP")) {
        gop_t *op = gc_op(w, strtoull(getenv("SIM_DEBUG_OP"), NULL, 10));
        if (op)
            fprintf(stderr, "op %llu node %d kind %d key %d arg %lld st %d at %llu origin %02x%s\n", (unsigned long long)op->id,
                    op->node, (int)op->kind, op->key, (long long)op->arg, (int)op->st, (unsigned long long)op->applied_at,
                    op->origin.b[0], op->has_origin ? "" : "(none)");
    }
    for (size_t i = 0; i < w->nops; i++)  /* an outcome reported as "not applied" must not have been */
        if (w->ops[i].st == ST_FAIL && w->ops[i].applied_at) {
            sim_violate(w->s, "failed_op_applied", "operation %llu (kind %d, node %d) was reported failed but applied at %llu",
                        (unsigned long long)w->ops[i].id, (int)w->ops[i].kind, w->ops[i].node,
                        (unsigned long long)w->ops[i].applied_at);
            return false;
        }
    for (size_t o = 0; o < w->norigins; o++)
        if (!check_origin(w, &w->origins[o].origin)) return false;
    return true;
}

/* A completed op belongs to the history its node applied or read it in. An
 * unanswered one may belong to any: it joins each as an unknown outcome, which can only make a history
 * easier to explain. */
static bool same_origin(const gop_t *op, const mk_id_t *origin) {
    if (op->st != ST_OK) return true;
    return op->has_origin && mk_id_eq(&op->origin, origin);
}

/* Linearizability per key and counter bounds over the operations of one history. */
static bool check_origin(gworld_t *w, const mk_id_t *origin) {
    linz_op_t *h = calloc(w->nops + 1, sizeof *h);
    if (!h) abort();
    for (int key = 0; key < NKEYS; key++) {
        size_t k = 0;
        for (size_t i = 0; i < w->nops; i++) {
            gop_t *op = &w->ops[i];
            if (op->key != key || op->kind > OP_CAS || (op->st != ST_OK && op->st != ST_UNKNOWN && !pending(op))) continue;
            if (!same_origin(op, origin)) continue;
            bool unknown = op->st != ST_OK;
            h[k++] = (linz_op_t){.kind = op->kind == OP_WRITE ? LINZ_WRITE : op->kind == OP_READ ? LINZ_READ : LINZ_CAS,
                                 .arg = op->arg, .arg2 = op->arg2, .ret = op->ret, .cas_ok = op->cas_ok,
                                 .unknown = unknown, .invoke_us = op->invoke_us,
                                 .return_us = unknown ? op->invoke_us : op->return_us};
        }
        char why[256];
        if (!linz_check_register(h, k, 0, why, sizeof why) && getenv("SIM_DEBUG")) {
            for (size_t i = 0, j = 0; i < w->nops; i++) {
                gop_t *op = &w->ops[i];
                if (op->key != key || op->kind > OP_CAS || (op->st != ST_OK && op->st != ST_UNKNOWN && !pending(op)) ||
                    !same_origin(op, origin))
                    continue;
                fprintf(stderr, "#%zu op %llu node %d kind %d arg %lld arg2 %lld ret %lld cas %d st %d inv %lld ret %lld at %llu o %02x%s\n",
                        j++, (unsigned long long)op->id, op->node, (int)op->kind, (long long)op->arg, (long long)op->arg2,
                        (long long)op->ret, op->cas_ok, (int)op->st, (long long)op->invoke_us, (long long)op->return_us,
                        (unsigned long long)op->applied_at, op->origin.b[0], op->has_origin ? "" : "?");
                if (j > 14) break;
            }
        }
        if (!linz_check_register(h, k, 0, why, sizeof why)) {
            sim_violate(w->s, "linearizability", "key %d (%zu ops): %s", key, k, why);
            free(h);
            return false;
        }
    }
    free(h);
    for (size_t i = 0; i < w->nops; i++) {  /* counter reads between completed and invoked increments */
        gop_t *r = &w->ops[i];
        if (r->kind != OP_CREAD || r->st != ST_OK || !same_origin(r, origin)) continue;
        int64_t lo = 0, hi = 0;
        for (size_t j = 0; j < w->nops; j++) {
            gop_t *inc = &w->ops[j];
            if (inc->kind != OP_INC || !same_origin(inc, origin)) continue;
            if (inc->st == ST_OK && inc->return_us < r->invoke_us) lo++;
            if ((inc->st == ST_OK || inc->st == ST_UNKNOWN || pending(inc)) && inc->invoke_us <= r->return_us) hi++;
        }
        if ((r->ret < lo || r->ret > hi) && getenv("SIM_DEBUG")) {
            for (size_t j = 0; j < w->nops; j++)
                if (w->ops[j].kind == OP_INC)
                    fprintf(stderr, "inc %llu st %d inv %lld ret %lld at %llu node %d\n", (unsigned long long)w->ops[j].id,
                            w->ops[j].st, (long long)w->ops[j].invoke_us, (long long)w->ops[j].return_us,
                            (unsigned long long)w->ops[j].applied_at, w->ops[j].node);
            fprintf(stderr, "read %llu inv %lld ret %lld value %lld readidx %llu\n", (unsigned long long)r->id,
                    (long long)r->invoke_us, (long long)r->return_us, (long long)r->ret, (unsigned long long)r->read_index);
        }
        if (r->ret < lo || r->ret > hi) {
            sim_violate(w->s, "counter_bounds", "a counter read returned %lld, outside [%lld, %lld]", (long long)r->ret,
                        (long long)lo, (long long)hi);
            return false;
        }
    }
    return true;
}
