/* tests/sim/groups/checks.c — the invariants of spec 40 §3.11, per origin: election safety (one leader
 * per term), leader completeness (a new leader holds every entry committed so far), state machine
 * safety (every node applies the same entry at an index; the committed set only grows), log matching
 * (same index and term → same prefix), no commit regression within a process life, config discipline
 * (one CONFIG above the commit index, consecutive configs one voter apart, at most max_voters, no
 * observer), no internal fatal error; and at the end durability and convergence. Logs may be compacted
 * (or reset to an installed snapshot): what lies at or below a node's base is covered by its snapshot,
 * whose state is checked against the state every other node had at that index (gk_on_snapshot), and
 * the checks that read old indices start at the base — never skipping anything above it. */
#include "sim/groups/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t gk_entry_hash(const mk_log_entry_t *e) {
    uint64_t h = 1469598103934665603ull;
    const uint8_t *p = e->body;
    h = (h ^ e->kind) * 1099511628211ull;
    for (size_t i = 0; i < e->len; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static gorigin_t *origin_of(gworld_t *w, const gnode_t *n) {
    if (!n->raft || !n->raft->meta.has_origin) return NULL;
    for (size_t i = 0; i < w->norigins; i++)
        if (mk_id_eq(&w->origins[i].origin, &n->raft->meta.origin)) return &w->origins[i];
    if (w->norigins == sizeof w->origins / sizeof w->origins[0]) return NULL;
    gorigin_t *o = &w->origins[w->norigins++];
    memset(o, 0, sizeof *o);
    o->origin = n->raft->meta.origin;
    return o;
}

mk_index_t gk_base(gnode_t *n) { return simstore_base(n->store).index; }

bool gk_committed_term(gworld_t *w, gnode_t *n, mk_index_t index, mk_term_t *term) {
    gorigin_t *o = origin_of(w, n);
    if (!o || index < 1 || index > o->ncommitted) return false;
    *term = o->committed[index - 1].term;
    return true;
}

static mk_term_t term_at(gnode_t *n, mk_index_t i, bool *ok) {
    mk_log_store_t *st = simstore_pub(n->store);
    mk_term_t t = 0;
    *ok = st->vt->term_at(st->self, i, &t) == MK_OK;
    return t;
}

void gk_on_leader(gworld_t *w, gnode_t *n) {
    gorigin_t *o = origin_of(w, n);
    if (!o) return;
    mk_term_t term = n->raft->hs.term;
    w->stats_elections++;
    for (size_t i = 0; i < o->nleaders; i++)
        if (o->leaders[i].term == term && o->leaders[i].node != n->idx) {
            sim_violate(w->s, "election_safety", "nodes %d and %d both lead term %llu", o->leaders[i].node, n->idx,
                        (unsigned long long)term);
            return;
        }
    if (o->nleaders == o->capleaders) {
        o->capleaders = o->capleaders ? 2 * o->capleaders : 16;
        o->leaders = realloc(o->leaders, o->capleaders * sizeof *o->leaders);
        if (!o->leaders) abort();
    }
    o->leaders[o->nleaders].term = term;
    o->leaders[o->nleaders++].node = n->idx;
    gw_on_leader(w, n);
    for (size_t i = gk_base(n) > 0 ? gk_base(n) : 1; i <= o->ncommitted; i++) {  /* below its base: its snapshot */
        bool ok;
        if (term_at(n, i, &ok) != o->committed[i - 1].term || !ok) {
            sim_violate(w->s, "leader_completeness", "node %d leads term %llu without committed entry %zu (term %llu)",
                        n->idx, (unsigned long long)term, i, (unsigned long long)o->committed[i - 1].term);
            return;
        }
    }
}

void gk_on_applied(gworld_t *w, gnode_t *n, const mk_log_entry_t *e) {
    gorigin_t *o = origin_of(w, n);
    if (!o) return;
    uint64_t h = gk_entry_hash(e);
    if (e->index <= o->ncommitted) {
        if (o->committed[e->index - 1].term != e->term || o->committed[e->index - 1].hash != h)
            sim_violate(w->s, "state_machine_safety", "node %d applies another entry at index %llu (term %llu vs %llu)",
                        n->idx, (unsigned long long)e->index, (unsigned long long)e->term,
                        (unsigned long long)o->committed[e->index - 1].term);
        return;
    }
    if (e->index != o->ncommitted + 1) {
        sim_violate(w->s, "apply_gap", "node %d applies index %llu after only %zu known committed", n->idx,
                    (unsigned long long)e->index, o->ncommitted);
        return;
    }
    if (o->ncommitted == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 256;
        o->committed = realloc(o->committed, o->cap * sizeof *o->committed);
        if (!o->committed) abort();
    }
    o->committed[o->ncommitted].term = e->term;
    o->committed[o->ncommitted].has_state = false;
    o->committed[o->ncommitted++].hash = h;
    mk_raft_body_t b;
    if (e->kind == MK_ENTRY_CONFIG && mk_raft_body_decode(MK_ENTRY_CONFIG, e->body, e->len, &b, NULL) == MK_OK) {
        unsigned mask = 0;
        for (size_t v = 0; v < b.config.nvoters; v++) {
            int k = gw_node_of(w, &b.config.voters[v].peer);
            if (k >= 0) mask |= 1u << k;
        }
        if (o->ncfgs == o->capcfgs) {
            o->capcfgs = o->capcfgs ? 2 * o->capcfgs : 16;
            o->cfgs = realloc(o->cfgs, o->capcfgs * sizeof *o->cfgs);
            if (!o->cfgs) abort();
        }
        o->cfgs[o->ncfgs++] = (gcfg_t){e->index, mask};
    }
}

const gcfg_t *gk_configs(gworld_t *w, gnode_t *n, size_t *count, mk_index_t *committed) {
    gorigin_t *o = origin_of(w, n);
    *count = o ? o->ncfgs : 0;
    *committed = o ? o->ncommitted : 0;
    return o ? o->cfgs : NULL;
}

/* State machine safety on the machines themselves: every node's state right after applying index i is
 * the same (registers, counter, exactly-once table), whether it got there by applying entries, from a
 * fetched snapshot or from its stored one. */
void gk_on_state(gworld_t *w, gnode_t *n, mk_index_t index) {
    gorigin_t *o = origin_of(w, n);
    if (!o || index < 1 || index > o->ncommitted) return;
    uint64_t h = gs_state_hash(n);
    if (!o->committed[index - 1].has_state) {
        o->committed[index - 1].state = h;
        o->committed[index - 1].has_state = true;
    } else if (o->committed[index - 1].state != h) {
        sim_violate(w->s, "state_machine_safety", "node %d's machine after index %llu differs from another node's "
                    "(counter %lld)", n->idx, (unsigned long long)index, (long long)n->counter);
    }
}

void gk_on_snapshot(gworld_t *w, gnode_t *n, mk_cursor_t anchor, const char *how) {
    gorigin_t *o = origin_of(w, n);
    if (!o) return;
    if (anchor.index > o->ncommitted || o->committed[anchor.index - 1].term != anchor.term) {
        sim_violate(w->s, "snapshot_not_committed", "node %d %s a snapshot at %llu/%llu that is not a committed entry "
                    "(%zu committed)", n->idx, how, (unsigned long long)anchor.index, (unsigned long long)anchor.term,
                    o->ncommitted);
        return;
    }
    if (o->committed[anchor.index - 1].has_state && o->committed[anchor.index - 1].state != gs_state_hash(n))
        sim_violate(w->s, "snapshot_state", "node %d %s a snapshot at %llu whose state differs from what the nodes "
                    "that applied %llu had", n->idx, how, (unsigned long long)anchor.index,
                    (unsigned long long)anchor.index);
    gk_on_state(w, n, anchor.index);
}

static bool voters_one_apart(const mk_rconfig_t *a, const mk_rconfig_t *b) {
    size_t diff = 0;
    for (size_t i = 0; i < a->nvoters; i++) {
        bool in = false;
        for (size_t j = 0; j < b->nvoters; j++)
            in |= a->voters[i].incarnation == b->voters[j].incarnation && mk_id_eq(&a->voters[i].peer, &b->voters[j].peer);
        diff += !in;
    }
    for (size_t j = 0; j < b->nvoters; j++) {
        bool in = false;
        for (size_t i = 0; i < a->nvoters; i++)
            in |= a->voters[i].incarnation == b->voters[j].incarnation && mk_id_eq(&a->voters[i].peer, &b->voters[j].peer);
        diff += !in;
    }
    return diff <= 1;
}

static void check_config(gworld_t *w, gnode_t *n) {
    mk_raft_t *r = n->raft;
    gorigin_t *o = origin_of(w, n);
    mk_index_t committed = r->commit;  /* a restarted node may know less than what is committed */
    if (o && o->ncommitted > committed) committed = o->ncommitted;
    size_t above = 0;
    for (size_t i = 0; i < r->config_log.n; i++) above += r->config_log.v[i] > committed;
    if (above > 1)
        sim_violate(w->s, "config_discipline", "node %d holds %zu CONFIG entries above its commit index", n->idx, above);
    if (r->config.nvoters > w->cc.max_voters)
        sim_violate(w->s, "config_discipline", "node %d: %zu voters > max_voters %u", n->idx, r->config.nvoters,
                    w->cc.max_voters);
    for (size_t i = 0; i < r->config.nvoters; i++)
        for (int k = 0; k < w->p.n; k++)
            if (mk_id_eq(&w->nodes[k].id, &r->config.voters[i].peer) && w->nodes[k].pref.kind == MK_LEAD_OBSERVER)
                sim_violate(w->s, "config_discipline", "observer node %d is a voter", k);
    if (r->config_log.n >= 2 && r->config.index == r->config_log.v[r->config_log.n - 1]) {
        mk_log_store_t *st = simstore_pub(n->store);
        mk_log_entry_t e;
        mk_raft_body_t b;
        if (st->vt->get(st->self, r->config_log.v[r->config_log.n - 2], &e) == MK_OK &&
            mk_raft_body_decode(MK_ENTRY_CONFIG, e.body, e.len, &b, NULL) == MK_OK) {
            mk_rconfig_t prev = {.nvoters = b.config.nvoters};
            memcpy(prev.voters, b.config.voters, b.config.nvoters * sizeof *prev.voters);
            if (!voters_one_apart(&prev, &r->config))
                sim_violate(w->s, "config_discipline", "node %d: CONFIG at %llu changes more than one voter", n->idx,
                            (unsigned long long)r->config.index);
        }
    }
}

void gk_on_ready(gworld_t *w, gnode_t *n) {
    mk_raft_t *r = n->raft;
    if (!r) return;
    if (r->fatal) {
        sim_violate(w->s, "core_fatal", "node %d stopped: %s", n->idx, r->fatal_why);
        return;
    }
    if (r->role == MK_RAFT_LEADER && (n->last_role != MK_RAFT_LEADER || n->last_term != r->hs.term)) gk_on_leader(w, n);
    if (r->role == MK_RAFT_LEADER) {  /* a core bug, reported: see docs/internals/raft.md */
        for (int k = 0; k < w->p.n; k++) {
            mk_rpeer_t *p = k == n->idx ? NULL : mk_raft_peer(r, &w->nodes[k].id);
            bool stuck = p && gk_base(n) > 0 && p->bonded && p->next == 1 && p->state != MK_PROG_SYNCING;
            if (!stuck) {
                w->probe1_since[n->idx][k] = 0;
            } else if (!w->probe1_since[n->idx][k]) {
                w->probe1_since[n->idx][k] = w->s->now_us;
            } else if (w->s->now_us - w->probe1_since[n->idx][k] > 2 * SEC) {
                gw_known_issue(w, "compacted_prefix_probe", "leader %d (log compacted up to %llu) has replicated to "
                               "peer %d from index 1 for 2 s (match %llu, state %d): prev 0 always matches, so it sends "
                               "empty AppendEntries instead of NeedSnapshot and the peer never catches up", n->idx,
                               (unsigned long long)gk_base(n), k, (unsigned long long)p->match, (int)p->state);
                return;
            }
        }
    }
    if ((r->role != n->last_role || r->hs.term != n->last_term) && w->s->trace) {
        char text[96];
        snprintf(text, sizeof text, "%s term %llu commit %llu", mk_raft_role_name(r->role), (unsigned long long)r->hs.term,
                 (unsigned long long)r->commit);
        sim_trace(w->s, (uint32_t)n->idx, 20, r->hs.term, text);
    }
    if (r->commit < n->last_commit && r->meta.has_origin)
        sim_violate(w->s, "commit_regression", "node %d commit index went from %llu to %llu", n->idx,
                    (unsigned long long)n->last_commit, (unsigned long long)r->commit);
    n->last_role = r->role;
    n->last_term = r->hs.term;
    n->last_commit = r->commit;
    if (r->config.index != n->last_config) {
        if (w->s->trace) {
            char text[160];
            int k = snprintf(text, sizeof text, "config at %llu:", (unsigned long long)r->config.index);
            for (size_t v = 0; v < r->config.nvoters && k < (int)sizeof text - 12; v++)
                for (int x = 0; x < w->p.n; x++)
                    if (mk_id_eq(&w->nodes[x].id, &r->config.voters[v].peer))
                        k += snprintf(text + k, sizeof text - (size_t)k, " %d%s", x,
                                      simstore_incarnation(w->nodes[x].store) == r->config.voters[v].incarnation ? ""
                                                                                                                : "(old)");
            sim_trace(w->s, (uint32_t)n->idx, 21, r->config.index, text);
        }
        n->last_config = r->config.index;
        w->stats_configs++;
        check_config(w, n);
    }
}

/* Log matching, incrementally on every entry made durable anywhere (nothing leaves a node before its
 * sync): an (index, term) always carries the same content and follows the same term at index − 1. By
 * induction on the index, two logs holding an equal (index, term) then hold equal prefixes. */
void gk_on_append(void *ctx, const mk_log_entry_t *e, mk_term_t prev_term) {
    gnode_t *n = ctx;
    gworld_t *w = n->w;
    gorigin_t *o = NULL;
    if (e->index == 1 && e->kind == MK_ENTRY_CONFIG) {  /* entry 1 names the origin it starts */
        mk_raft_body_t b;
        if (mk_raft_body_decode(MK_ENTRY_CONFIG, e->body, e->len, &b, NULL) != MK_OK) return;
        for (size_t i = 0; i < w->norigins && !o; i++)
            if (mk_id_eq(&w->origins[i].origin, &b.config.origin)) o = &w->origins[i];
        if (!o && w->norigins < sizeof w->origins / sizeof w->origins[0]) {
            o = &w->origins[w->norigins++];
            memset(o, 0, sizeof *o);
            o->origin = b.config.origin;
        }
    } else {
        o = origin_of(w, n);
    }
    if (!o) return;
    if (e->index > o->nseen) {
        size_t cap = o->nseen ? o->nseen : 64;
        while (cap < e->index) cap *= 2;
        void *v = realloc(o->seen, cap * sizeof *o->seen);
        if (!v) abort();
        o->seen = v;
        memset(o->seen + o->nseen, 0, (cap - o->nseen) * sizeof *o->seen);
        o->nseen = cap;
    }
    uint64_t h = gk_entry_hash(e);
    __typeof__(o->seen[0]) *slot = &o->seen[e->index - 1];
    for (size_t i = 0; i < slot->n; i++) {
        if (slot->v[i].term != e->term) continue;
        if (slot->v[i].hash != h || slot->v[i].prev_term != prev_term)
            sim_violate(w->s, "log_matching", "node %d appends another entry at (%llu, term %llu) than a log already holds",
                        n->idx, (unsigned long long)e->index, (unsigned long long)e->term);
        return;
    }
    gslot_t *v = realloc(slot->v, (slot->n + 1) * sizeof *v);
    if (!v) abort();
    slot->v = v;
    slot->v[slot->n++] = (gslot_t){.term = e->term, .prev_term = prev_term, .hash = h};
}

/* Pairwise, every five seconds and at the end: where two logs hold the same (index, term), they hold
 * the same entries below it, down to the higher of their bases (a compacted prefix is covered by the
 * node's snapshot, whose state gk_on_snapshot checked; every entry was checked when it became durable,
 * gk_on_append). */
void gk_log_matching(gworld_t *w) {
    for (int i = 0; i < w->p.n; i++)
        for (int j = i + 1; j < w->p.n; j++) {
            gnode_t *a = &w->nodes[i], *b = &w->nodes[j];
            if (!a->alive || !b->alive || !a->raft->meta.has_origin || !b->raft->meta.has_origin ||
                !mk_id_eq(&a->raft->meta.origin, &b->raft->meta.origin))
                continue;
            mk_log_store_t *sa = simstore_pub(a->store), *sb = simstore_pub(b->store);
            mk_index_t lo = gk_base(a) > gk_base(b) ? gk_base(a) : gk_base(b);
            mk_index_t k = sa->vt->last(sa->self).index;
            mk_index_t lb = sb->vt->last(sb->self).index;
            if (lb < k) k = lb;
            if (k < lo) continue;  /* one log ends below the other's base */
            bool ok1, ok2;
            while (k > lo && term_at(a, k, &ok1) != term_at(b, k, &ok2)) k--;
            if (term_at(a, k, &ok1) != term_at(b, k, &ok2)) continue;  /* they differ from lo on */
            for (mk_index_t x = lo + 1; x <= k; x++) {
                mk_log_entry_t ea, eb;
                if (sa->vt->get(sa->self, x, &ea) != MK_OK || sb->vt->get(sb->self, x, &eb) != MK_OK ||
                    ea.term != eb.term || gk_entry_hash(&ea) != gk_entry_hash(&eb)) {
                    sim_violate(w->s, "log_matching", "nodes %d and %d agree at index %llu but differ at %llu", i, j,
                                (unsigned long long)k, (unsigned long long)x);
                    return;
                }
            }
        }
}

void gk_final(gworld_t *w) {
    gk_log_matching(w);
    int l = gw_leader(w);
    if (l < 0) return;
    gnode_t *n = &w->nodes[l];
    gorigin_t *o = origin_of(w, n);
    for (size_t i = gk_base(n) > 0 ? gk_base(n) : 1; o && i <= o->ncommitted; i++) {  /* below: its snapshot */
        bool ok;
        if (term_at(n, i, &ok) != o->committed[i - 1].term || !ok) {
            sim_violate(w->s, "durability", "the final leader %d lacks committed entry %zu", l, i);
            return;
        }
    }
}
