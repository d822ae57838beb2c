/* tests/sim/groups/checks.c — the invariants of spec 40 §3.11, per origin: election safety (one leader
 * per term), leader completeness (a new leader holds every entry committed so far), state machine
 * safety (every node applies the same entry at an index; the committed set only grows), log matching
 * (same index and term → same prefix), no commit regression within a process life, config discipline
 * (one CONFIG above the commit index, consecutive configs one voter apart, at most max_voters, no
 * observer), no internal fatal error; and at the end durability and convergence. */
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
    for (size_t i = 1; i <= o->ncommitted; i++) {
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
    o->committed[o->ncommitted++].hash = h;
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

void gk_log_matching(gworld_t *w) {
    for (int i = 0; i < w->p.n; i++)
        for (int j = i + 1; j < w->p.n; j++) {
            gnode_t *a = &w->nodes[i], *b = &w->nodes[j];
            if (!a->alive || !b->alive || !a->raft->meta.has_origin || !b->raft->meta.has_origin ||
                !mk_id_eq(&a->raft->meta.origin, &b->raft->meta.origin))
                continue;
            mk_log_store_t *sa = simstore_pub(a->store), *sb = simstore_pub(b->store);
            mk_index_t k = sa->vt->last(sa->self).index;
            mk_index_t lb = sb->vt->last(sb->self).index;
            if (lb < k) k = lb;
            bool ok1, ok2;
            while (k > 0 && term_at(a, k, &ok1) != term_at(b, k, &ok2)) k--;
            for (mk_index_t x = 1; x <= k; x++) {
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
    for (size_t i = 1; o && i <= o->ncommitted; i++) {
        bool ok;
        if (term_at(n, i, &ok) != o->committed[i - 1].term || !ok) {
            sim_violate(w->s, "durability", "the final leader %d lacks committed entry %zu", l, i);
            return;
        }
    }
}
