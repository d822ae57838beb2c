/* tests/sim/discovery-sim.c — the discovery simulator (spec 20 §12, spec 80 §6): N nodes join through
 * one bootstrap node within 10 s of virtual time over 20 ± 10 ms links, then the run checks, in order:
 * complete catalogs ≤ 30 s after the last join; frames per announce round ≤ 15·N·log₂N; a forged entry
 * (with --forger) stored nowhere; a tag change and a graceful departure reaching every node ≤ 2 s;
 * after 20 % of the nodes die at once, the survivors' overlay connected again ≤ 30 s. Safety checks
 * (views, forged entries, departed peers, honest links) run after every event. One JSON line per
 * seed. --mutate breaks the model on purpose so that a test can show the checks trip. */
#include "sim/discovery/links.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_US 1000000LL
#define MS_US 1000LL

typedef struct result {
    int64_t converge_ms, tag_ms, depart_ms, reconnect_ms;
    uint64_t frames_round, bytes_round, entries_round, dup_round, bad_sig, syncs;
    char digest[17];
    char invariant[64];  /* empty: no violation */
} result_t;

static bool catalogs_complete(dworld_t *w) {
    for (uint32_t i = 0; i < w->count; i++)
        if (w->nodes[i].alive && mk_store_size(w->nodes[i].store) != w->count - 1) return false;
    return true;
}

static bool version_everywhere(dworld_t *w, const dnode_t *who) {
    for (uint32_t i = 0; i < w->count; i++) {
        const dnode_t *n = &w->nodes[i];
        if (!n->alive || n == who) continue;
        const mk_peer_entry_t *e = mk_store_get(n->store, &who->id);
        if (!e || mk_entry_version_cmp(e->version, who->local->version) < 0) return false;
    }
    return true;
}

static bool gone_everywhere(dworld_t *w, const dnode_t *who) {
    for (uint32_t i = 0; i < w->count; i++)
        if (w->nodes[i].alive && mk_store_has_peer(w->nodes[i].store, &who->id)) return false;
    return true;
}

/* Every live node has repaired its view (active links only to live nodes, at least one) and the live
 * nodes' active links form one component. */
static bool overlay_connected(dworld_t *w) {
    uint32_t *queue = malloc(w->count * sizeof *queue), *seen = calloc(w->count, sizeof *seen);
    uint32_t **adj = calloc(w->count, sizeof *adj), *deg = calloc(w->count, sizeof *deg);
    bool ok = queue && seen && adj && deg;
    uint32_t alive = 0, start = UINT32_MAX;
    for (uint32_t i = 0; ok && i < w->count; i++) {
        if (!w->nodes[i].alive) continue;
        alive++;
        if (start == UINT32_MAX) start = i;
        adj[i] = malloc(2 * w->p.active * sizeof **adj + sizeof **adj);
        ok = adj[i] != NULL;
    }
    for (uint32_t i = 0; ok && i < w->count; i++) {  /* undirected: an active link on either side */
        if (!w->nodes[i].alive) continue;
        uint32_t act[64];
        size_t k = dnode_active_links(&w->nodes[i], act, 64);
        if (k == 0) ok = false;
        for (size_t j = 0; ok && j < k && j < 64; j++) {
            uint32_t o = act[j];
            if (!w->nodes[o].alive || !mk_hpv_is_active(w->nodes[i].hpv, &w->nodes[o].id)) {
                ok = false;  /* a dead neighbour not noticed yet, or a link the view already dropped */
                break;
            }
            if (deg[i] < 2 * w->p.active) adj[i][deg[i]++] = o;
            if (deg[o] < 2 * w->p.active) adj[o][deg[o]++] = i;
        }
    }
    uint32_t head = 0, tail = 0, reached = 0;
    if (ok && start != UINT32_MAX) {
        queue[tail++] = start;
        seen[start] = 1;
        while (head < tail) {
            uint32_t v = queue[head++];
            reached++;
            for (uint32_t j = 0; j < deg[v]; j++)
                if (!seen[adj[v][j]]) {
                    seen[adj[v][j]] = 1;
                    queue[tail++] = adj[v][j];
                }
        }
    }
    ok = ok && reached == alive;
    for (uint32_t i = 0; adj && i < w->count; i++) free(adj[i]);
    free(adj);
    free(deg);
    free(queue);
    free(seen);
    return ok;
}

/* Runs the world in steps of step_us until cond holds or deadline_us passes; returns the time it took
 * (µs) or -1 (a violation stopped the run, or the deadline passed). */
static int64_t wait_for(dworld_t *w, bool (*cond)(dworld_t *, const dnode_t *), const dnode_t *who,
                        int64_t step_us, int64_t deadline_us) {
    int64_t t0 = w->s->now_us;
    for (;;) {
        if (cond(w, who)) return w->s->now_us - t0;
        if (w->s->now_us >= deadline_us || w->s->violated) return -1;
        if (!sim_run_until(w->s, w->s->now_us + step_us)) return -1;
    }
}

static bool c_complete(dworld_t *w, const dnode_t *x) { (void)x; return catalogs_complete(w); }
static bool c_connected(dworld_t *w, const dnode_t *x) { (void)x; return overlay_connected(w); }

static dnode_t *random_alive(dworld_t *w, bool not_bootstrap) {
    for (;;) {
        dnode_t *n = &w->nodes[sim_below(w->s, w->p.n)];
        if (n->alive && !(not_bootstrap && n->idx == 0)) return n;
    }
}

static void start_node(sim_t *s, void *a, uint64_t b) {
    (void)s;
    (void)b;
    dnode_start(a);
}

static void run_seed(const dparams_t *p, uint64_t seed, bool trace, result_t *r) {
    memset(r, 0, sizeof *r);
    r->converge_ms = r->tag_ms = r->depart_ms = r->reconnect_ms = -1;
    sim_t s;
    sim_init(&s, "discovery-sim", seed, trace);
    dworld_t w;
    if (dworld_init(&w, &s, p) != 0) {
        fprintf(stderr, "discovery-sim: out of memory building the world\n");
        exit(2);
    }
    /* joins: node 0 at t = 0, the others uniformly within the window */
    int64_t last_join = 0;
    for (uint32_t i = 0; i < w.count; i++) {
        int64_t at = i == 0 ? 0 : sim_range(&s, 1, p->join_window_us);
        if (at > last_join) last_join = at;
        sim_at(&s, at, start_node, &w.nodes[i], 0);
    }
    sim_run_until(&s, last_join);
    int64_t t;
    if (!s.violated) {
        t = wait_for(&w, c_complete, NULL, 100 * MS_US, last_join + 30 * S_US);
        if (t < 0 && !s.violated)
            sim_violate(&s, "catalogs_complete", "catalogs incomplete 30 s after the last join (N = %u)", w.count);
        r->converge_ms = t < 0 ? -1 : (s.now_us - last_join) / MS_US;
    }
    if (!s.violated) {  /* one announce round in steady state */
        dstats_t before = w.st;
        sim_run_until(&s, s.now_us + (int64_t)p->announce_ms * MS_US);
        r->frames_round = w.st.frames - before.frames;
        r->bytes_round = w.st.bytes - before.bytes;
        r->entries_round = w.st.entries - before.entries;
        r->dup_round = w.st.duplicates - before.duplicates;
        double bound = 15.0 * w.count * log2((double)w.count);
        if (!s.violated && !p->baseline && (double)r->frames_round > bound)
            sim_violate(&s, "frames_per_round", "%llu frames in one announce round > 15 N log2 N = %.0f",
                        (unsigned long long)r->frames_round, bound);
    }
    if (!s.violated && p->forger) {  /* a forged newer entry of node 1 goes out; nobody may store it */
        dnode_forge(&w.nodes[p->n], &w.nodes[1]);
        sim_run_until(&s, s.now_us + 2 * S_US);
    }
    if (!s.violated) {
        dnode_t *x = random_alive(&w, false);
        dnode_add_tag(x, "sim-changed");
        t = wait_for(&w, version_everywhere, x, 10 * MS_US, s.now_us + 2 * S_US);
        if (t < 0 && !s.violated) sim_violate(&s, "tag_change_spread", "node %u's change missing somewhere after 2 s", x->idx);
        r->tag_ms = t < 0 ? -1 : t / MS_US;
    }
    if (!s.violated) {
        dnode_t *x = random_alive(&w, true);
        dnode_depart(x);
        t = wait_for(&w, gone_everywhere, x, 10 * MS_US, s.now_us + 2 * S_US);
        if (t < 0 && !s.violated) sim_violate(&s, "departure_spread", "node %u still listed somewhere after 2 s", x->idx);
        r->depart_ms = t < 0 ? -1 : t / MS_US;
    }
    if (!s.violated) {  /* 20 % die at once */
        uint32_t alive = 0;
        for (uint32_t i = 0; i < w.count; i++) alive += w.nodes[i].alive;
        for (uint32_t k = 0; k < alive / 5; k++) dnode_kill(random_alive(&w, false));
        t = wait_for(&w, c_connected, NULL, 100 * MS_US, s.now_us + 30 * S_US);
        if (t < 0 && !s.violated) sim_violate(&s, "overlay_reconnect", "survivors' overlay not connected 30 s after the kill");
        r->reconnect_ms = t < 0 ? -1 : t / MS_US;
    }
    r->bad_sig = w.st.rejected_bad_sig;
    r->syncs = w.st.syncs;
    sim_digest_hex(&s, r->digest);
    memcpy(r->invariant, s.invariant, sizeof r->invariant);
    dworld_free(&w);
    sim_free(&s);
}

/* True when name is one of the comma-separated names in list. */
static bool listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

/* --bench (also when started as bench_discovery_sim): the spec 20 §12 simulator figures, side by side
 * with the Rust-like baseline, as JSON lines ending in one summary line of ratios. */
static int bench(const dparams_t *base, bool smoke) {
    static const uint32_t sizes[] = {100, 1000};
    double per_nlogn[2] = {0, 0};
    double frames_ratio = 0, bytes_ratio = 0;
    int64_t converge[2] = {0, 0};
    int bad = 0;
    for (int k = 0; k < 2; k++) {
        dparams_t p = *base;
        p.n = smoke ? sizes[k] / 10 : sizes[k];
        result_t r;
        run_seed(&p, 1, false, &r);
        double nlogn = (double)p.n * log2((double)p.n);
        per_nlogn[k] = (double)r.frames_round / nlogn;
        converge[k] = r.converge_ms;
        bad += r.invariant[0] != 0;
        printf("{\"bench\":\"discovery-sim\",\"impl\":\"libmosaik\",\"n\":%u,\"converge_ms\":%lld,\"frames_round\":%llu,"
               "\"bytes_round\":%llu,\"frames_per_nlogn\":%.2f,\"tag_ms\":%lld,\"depart_ms\":%lld,\"reconnect_ms\":%lld}\n",
               p.n, (long long)r.converge_ms, (unsigned long long)r.frames_round, (unsigned long long)r.bytes_round,
               per_nlogn[k], (long long)r.tag_ms, (long long)r.depart_ms, (long long)r.reconnect_ms);
        if (k == 0) {  /* the baseline's full syncs are O(N^3) entries: compared at the smaller size */
            dparams_t pb = p;
            pb.baseline = true;
            result_t b;
            run_seed(&pb, 1, false, &b);
            frames_ratio = b.frames_round ? (double)r.frames_round / (double)b.frames_round : 0;
            bytes_ratio = b.bytes_round ? (double)r.bytes_round / (double)b.bytes_round : 0;
            printf("{\"bench\":\"discovery-sim\",\"impl\":\"baseline\",\"n\":%u,\"converge_ms\":%lld,\"frames_round\":%llu,"
                   "\"bytes_round\":%llu}\n", p.n, (long long)b.converge_ms, (unsigned long long)b.frames_round,
                   (unsigned long long)b.bytes_round);
        }
        fflush(stdout);
    }
    printf("{\"bench\":\"discovery-sim\",\"summary\":true,\"frames_per_nlogn_small\":%.2f,\"frames_per_nlogn_large\":%.2f,"
           "\"frames_per_nlogn_rises\":%s,\"frames_vs_baseline\":%.3f,\"bytes_vs_baseline\":%.3f,\"violations\":%d}\n",
           per_nlogn[0], per_nlogn[1], per_nlogn[1] > per_nlogn[0] ? "true" : "false", frames_ratio, bytes_ratio, bad);
    (void)converge;
    return bad ? 1 : 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: discovery-sim [--seeds N] [--seed S] [--trace] [--n NODES] [--forger]\n"
            "                     [--mutate no_forward|skip_verify] [--expect-violation NAME[,NAME…]]\n"
            "                     [--check-determinism] [--baseline] [--compare] [--bench [--smoke]]\n");
}

int main(int argc, char **argv) {
    sim_opts_t o;
    argc = sim_opts_parse(argc, argv, 5, &o);
    dparams_t p = {.n = 100, .join_window_us = 10 * S_US, .active = 5, .passive = 30, .announce_ms = 15000,
                   .gossip_flush_ms = 1000, .shuffle_ms = 60000, .sync_ms = 60000, .purge_after_ms = 300000,
                   .delay_us = 20 * MS_US, .jitter_us = 10 * MS_US};
    const char *expect = NULL;
    bool determinism = false, compare = false, bench_mode = strstr(argv[0], "bench_") != NULL, smoke = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) p.n = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--forger")) p.forger = true;
        else if (!strcmp(argv[i], "--baseline")) p.baseline = true;
        else if (!strcmp(argv[i], "--compare")) compare = true;
        else if (!strcmp(argv[i], "--bench")) bench_mode = true;
        else if (!strcmp(argv[i], "--smoke")) smoke = true;
        else if (!strcmp(argv[i], "--mutate") && i + 1 < argc) {
            const char *m = argv[++i];
            if (!strcmp(m, "no_forward")) p.mut_no_forward = true;
            else if (!strcmp(m, "skip_verify")) p.mut_skip_verify = p.forger = true;
            else if (!strcmp(m, "no_drop_known")) p.mut_no_drop_known = true;
            else {
                usage();
                return 2;
            }
        } else if (!strcmp(argv[i], "--expect-violation") && i + 1 < argc) expect = argv[++i];
        else if (!strcmp(argv[i], "--check-determinism")) determinism = true;
        else {
            usage();
            return 2;
        }
    }
    if (bench_mode) return bench(&p, smoke);
    if (p.n < 3) {
        fprintf(stderr, "discovery-sim: --n must be at least 3\n");
        return 2;
    }
    uint64_t violations = 0, expected_seen = 0;
    for (uint64_t k = 0; k < o.seeds; k++) {
        uint64_t seed = o.seed + k;
        result_t r;
        run_seed(&p, seed, o.trace, &r);
        double nlogn = (double)(p.n + p.forger) * log2((double)(p.n + p.forger));
        printf("{\"sim\":\"discovery\",\"seed\":%llu,\"n\":%u,\"converge_ms\":%lld,\"frames_round\":%llu,"
               "\"frames_per_nlogn\":%.2f,\"bytes_round\":%llu,\"entries_round\":%llu,\"duplicates_round\":%llu,"
               "\"tag_ms\":%lld,\"depart_ms\":%lld,\"reconnect_ms\":%lld,\"syncs\":%llu,\"rejected_bad_signature\":%llu,"
               "\"digest\":\"%s\"}\n",
               (unsigned long long)seed, p.n, (long long)r.converge_ms, (unsigned long long)r.frames_round,
               (double)r.frames_round / nlogn, (unsigned long long)r.bytes_round, (unsigned long long)r.entries_round,
               (unsigned long long)r.dup_round, (long long)r.tag_ms, (long long)r.depart_ms,
               (long long)r.reconnect_ms, (unsigned long long)r.syncs, (unsigned long long)r.bad_sig, r.digest);
        violations += r.invariant[0] != 0;
        expected_seen += expect && r.invariant[0] && listed(expect, r.invariant);
        if (compare) {  /* the Rust-like baseline on the same seed, side by side */
            dparams_t pb = p;
            pb.baseline = true;
            result_t b;
            run_seed(&pb, seed, false, &b);
            printf("{\"sim\":\"discovery-baseline\",\"seed\":%llu,\"n\":%u,\"converge_ms\":%lld,\"frames_round\":%llu,"
                   "\"bytes_round\":%llu,\"syncs\":%llu}\n", (unsigned long long)seed, p.n, (long long)b.converge_ms,
                   (unsigned long long)b.frames_round, (unsigned long long)b.bytes_round, (unsigned long long)b.syncs);
            printf("{\"sim\":\"discovery-ratio\",\"seed\":%llu,\"n\":%u,\"frames_vs_baseline\":%.3f,"
                   "\"bytes_vs_baseline\":%.3f,\"syncs_vs_baseline\":%.3f}\n", (unsigned long long)seed, p.n,
                   b.frames_round ? (double)r.frames_round / (double)b.frames_round : 0.0,
                   b.bytes_round ? (double)r.bytes_round / (double)b.bytes_round : 0.0,
                   b.syncs ? (double)r.syncs / (double)b.syncs : 0.0);
            violations += b.invariant[0] != 0;
        }
        if (determinism) {
            result_t again;
            run_seed(&p, seed, false, &again);
            if (strcmp(r.digest, again.digest) != 0) {
                printf("discovery-sim: seed %llu is not deterministic: trace digests %s and %s\n",
                       (unsigned long long)seed, r.digest, again.digest);
                return 1;
            }
            printf("discovery-sim: seed %llu replayed with the same trace digest %s\n", (unsigned long long)seed,
                   r.digest);
        }
        fflush(stdout);
    }
    if (expect) {
        /* the mutation run must have tripped the named check (the line printed by sim_violate) */
        printf("discovery-sim: %llu of %llu seeds violated %s, as the mutation must make them\n",
               (unsigned long long)expected_seen, (unsigned long long)o.seeds, expect);
        return expected_seen ? 0 : 1;
    }
    printf("discovery-sim: %llu seeds, %llu violations\n", (unsigned long long)o.seeds, (unsigned long long)violations);
    return violations ? 1 : 0;
}
