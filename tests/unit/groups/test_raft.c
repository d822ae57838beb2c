/* unit/groups/test_raft.c — the sans-I/O consensus core from scripted message sequences (spec 40 §3,
 * §11.3): bootstrap (lone node, bootstrap_expect, who writes entry 1), RequestVote and PreVote rules,
 * campaigns timing out, stickiness, the term rules, the follower's AppendEntries handling (conflict
 * hints, truncation, match, commit, config revert), the leader's probing, heartbeats and back-off,
 * commit of current-term synced entries only (figure 8), CheckQuorum, leadership preferences, apply
 * batches, ReadIndex, proposals and forwarding, the fatal truncation guard, automatic membership,
 * divergent origins, restart from a store, and two small end-to-end runs on three real cores.
 *
 * The harness: nodes are real cores over in-memory stores; "ghosts" are peer ids bonded to a node with
 * no core behind them, whose messages are built by hand (round-tripped through the codec, then
 * stepped). pump() drains every node's ready batches (sync when asked, deliver each message to the
 * addressed node at the same `now`, advance with apply_to) until all are quiet; messages to ghosts, and
 * those from or to an isolated node, are captured (decoded) for inspection instead of delivered. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "groups/raft/raft_int.h"
#include "groups/raft_wire.h"

#include <stdlib.h>
#include <string.h>

#define MAXN 4
#define MAXCAP 2048
#define MAXOUT 64

typedef struct tnode {
    mk_peer_id_t id;
    mk_log_store_t *store;
    mk_raft_t *r;
    mk_index_t applied;
    mk_raft_read_t reads[MAXOUT];
    size_t nreads;
    mk_raft_result_t results[MAXOUT];
    size_t nresults;
    bool ev_diverged;    /* a ready batch reported diverged */
    bool isolated;       /* its messages, both ways, are captured instead of delivered */
} tnode_t;

typedef struct cap {
    int from;            /* node index */
    mk_peer_id_t to;
    bool must_sync;      /* of the ready batch it left in */
    uint8_t *bytes;
    mk_raft_msg_t m;     /* decoded; views into bytes */
} cap_t;

static tnode_t nodes[MAXN];
static int nnodes;
static cap_t caps[MAXCAP];
static size_t ncaps;
static mk_buf_t bodies[256];      /* entry bodies built by the tests */
static size_t nbodies;

/* ghosts and the scripted node */
#define G1 0x10
#define NODE 0x20
#define G3 0x30

static const mk_leadership_t NORMAL = {MK_LEAD_NORMAL, 0};
static const mk_leadership_t OBSERVER = {MK_LEAD_OBSERVER, 0};
static const mk_leadership_t RELUCTANT3 = {MK_LEAD_RELUCTANT, 3};

/* ---- setup ------------------------------------------------------------------------------------------- */

static void caps_clear(void) {
    for (size_t i = 0; i < ncaps; i++) {
        mk_raft_msg_free(&caps[i].m);
        free(caps[i].bytes);
    }
    ncaps = 0;
}

static int setup(void **state) {
    (void)state;
    memset(nodes, 0, sizeof nodes);
    nnodes = 0;
    ncaps = 0;
    nbodies = 0;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < nnodes; i++) {
        mk_raft_free(nodes[i].r);
        mk_log_store_free(nodes[i].store);
    }
    nnodes = 0;
    caps_clear();
    for (size_t i = 0; i < nbodies; i++) mk_buf_free(&bodies[i]);
    nbodies = 0;
    return 0;
}

static mk_peer_id_t pid(uint8_t b) {
    mk_peer_id_t p = MK_ID_ZERO;
    p.b[0] = b;
    return p;
}

static uint64_t ginc(uint8_t b) { return 1000u + b; }  /* a ghost's incarnation */

static mk_id_t test_origin(void) { return mk_id_from_str("test-origin"); }

static mk_cursor_t C(mk_term_t t, mk_index_t i) { return (mk_cursor_t){.term = t, .index = i}; }

static mk_consensus_config_t cc_default(void) {
    mk_consensus_config_t cc = MK_CONSENSUS_CONFIG_DEFAULT;
    cc.bootstrap_delay_ms = 100;
    return cc;
}

/* For a node scripted by ghosts: never bootstraps on its own (ghosts send no Hello). */
static mk_consensus_config_t cc_scripted(void) {
    mk_consensus_config_t cc = cc_default();
    cc.bootstrap_expect = 3;
    return cc;
}

static int add_node(uint8_t b, const mk_consensus_config_t *cc, mk_leadership_t pref, int64_t now) {
    assert_true(nnodes < MAXN);
    tnode_t *n = &nodes[nnodes];
    memset(n, 0, sizeof *n);
    n->id = pid(b);
    n->store = mk_log_store_memory();
    assert_non_null(n->store);
    mk_raft_config_t rc = {.self = n->id, .cc = *cc, .preference = pref, .store = n->store, .seed = 0x5eed00u + b};
    mk_error_t e;
    n->r = mk_raft_new(&rc, now, &e);
    assert_non_null(n->r);
    return nnodes++;
}

static int node_of(const mk_peer_id_t *id) {
    for (int i = 0; i < nnodes; i++)
        if (mk_id_eq(&nodes[i].id, id)) return i;
    return -1;
}

static void bond(int a, int b, int64_t now) {
    mk_raft_peer_up(nodes[a].r, now, &nodes[b].id, nodes[b].r->meta.incarnation);
    mk_raft_peer_up(nodes[b].r, now, &nodes[a].id, nodes[a].r->meta.incarnation);
}

static void ghost_up(int i, uint8_t g, int64_t now) {
    mk_peer_id_t p = pid(g);
    mk_raft_peer_up(nodes[i].r, now, &p, ginc(g));
}

static mk_raft_status_t status(int i) {
    mk_raft_status_t st;
    mk_raft_status(nodes[i].r, &st);
    return st;
}

static mk_hard_state_t stored_hs(int i) {
    mk_hard_state_t hs;
    mk_store_meta_t meta;
    assert_int_equal(nodes[i].store->vt->load_state(nodes[i].store->self, &hs, &meta), MK_OK);
    return hs;
}

static mk_term_t term_at(int i, mk_index_t idx) {
    mk_term_t t = 0;
    assert_int_equal(nodes[i].store->vt->term_at(nodes[i].store->self, idx, &t), MK_OK);
    return t;
}

static uint8_t kind_at(int i, mk_index_t idx) {
    mk_log_entry_t e;
    assert_int_equal(nodes[i].store->vt->get(nodes[i].store->self, idx, &e), MK_OK);
    return e.kind;
}

/* ---- message flow ------------------------------------------------------------------------------------ */

static void capture(int from, const mk_raft_send_t *s, bool must_sync) {
    assert_true(ncaps < MAXCAP);
    cap_t *c = &caps[ncaps];
    c->from = from;
    c->to = s->to;
    c->must_sync = must_sync;
    c->bytes = malloc(s->bytes.len);
    assert_non_null(c->bytes);
    memcpy(c->bytes, s->bytes.ptr, s->bytes.len);
    mk_error_t e;
    assert_int_equal(mk_raft_msg_decode(c->bytes, s->bytes.len, &c->m, &e), MK_OK);
    ncaps++;
}

static void deliver(int from, int to, const mk_raft_send_t *s, int64_t now) {
    mk_raft_msg_t m;
    mk_error_t e;
    assert_int_equal(mk_raft_msg_decode(s->bytes.ptr, s->bytes.len, &m, &e), MK_OK);
    mk_raft_step(nodes[to].r, now, &nodes[from].id, &m);
    mk_raft_msg_free(&m);
}

/* One ready batch of node i, handled as a driver would; false when the node had nothing to do. */
static bool drain1(int i, int64_t now) {
    tnode_t *n = &nodes[i];
    mk_raft_ready_t rd;
    if (!mk_raft_ready(n->r, &rd)) return false;
    if (rd.diverged) n->ev_diverged = true;
    if (rd.must_sync) assert_int_equal(n->store->vt->sync(n->store->self), MK_OK);
    for (size_t k = 0; k < rd.nmsgs; k++) {
        int to = node_of(&rd.msgs[k].to);
        if (to < 0 || n->isolated || nodes[to].isolated) capture(i, &rd.msgs[k], rd.must_sync);
        else deliver(i, to, &rd.msgs[k], now);
    }
    for (size_t k = 0; k < rd.nreads; k++) {
        assert_true(n->nreads < MAXOUT);
        n->reads[n->nreads++] = rd.reads[k];
    }
    for (size_t k = 0; k < rd.nresults; k++) {
        assert_true(n->nresults < MAXOUT);
        n->results[n->nresults++] = rd.results[k];
    }
    if (rd.apply_to >= rd.apply_from) {
        assert_int_equal(rd.apply_from, n->applied + 1);
        n->applied = rd.apply_to;
    }
    mk_raft_advance(n->r, &rd, n->applied);
    return true;
}

/* Drains every node until all are quiet. */
static void pump(int64_t now) {
    for (int round = 0;; round++) {
        assert_true(round < 10000);
        bool any = false;
        for (int i = 0; i < nnodes; i++)
            if (drain1(i, now)) any = true;
        if (!any) return;
    }
}

static void tick(int i, int64_t now) {
    mk_raft_tick(nodes[i].r, now);
    pump(now);
}

static void tick_all(int64_t now) {
    for (int i = 0; i < nnodes; i++) mk_raft_tick(nodes[i].r, now);
    pump(now);
}

/* Steps a hand-built message from ghost `from` into node i (through the codec, so it is wire-valid)
 * with the given envelope origin, then pumps. */
static void inject_as(int i, int64_t now, uint8_t from, mk_raft_msg_t m, mk_id_t origin) {
    mk_raft_t *r = nodes[i].r;
    m.has_origin = true;
    m.origin = origin;
    mk_buf_t b = MK_BUF_INIT;
    mk_error_t e;
    assert_int_equal(mk_raft_msg_encode(&m, &b, &e), MK_OK);
    mk_raft_msg_t d;
    assert_int_equal(mk_raft_msg_decode(b.ptr, b.len, &d, &e), MK_OK);
    mk_peer_id_t p = pid(from);
    mk_raft_step(r, now, &p, &d);
    mk_raft_msg_free(&d);
    mk_buf_free(&b);
    pump(now);
}

/* The same, carrying the node's origin, or the scripted groups' one while the node has none. */
static void inject(int i, int64_t now, uint8_t from, mk_raft_msg_t m) {
    mk_raft_t *r = nodes[i].r;
    inject_as(i, now, from, m, r->meta.has_origin ? r->meta.origin : test_origin());
}

static mk_raft_msg_t hello_msg(bool has_origin, mk_id_t origin, bool has_commands, mk_leadership_t pref) {
    mk_raft_msg_t m = {.kind = MK_RAFT_HELLO};
    m.hello.has_origin = has_origin;
    m.hello.origin = origin;
    m.hello.has_commands = has_commands;
    m.hello.last = has_origin ? C(1, 2) : C(0, 0);
    m.hello.preference = pref;
    return m;
}

/* AppendEntries{term, prev, commit} from ghost `from`; the entries' indices are filled in. */
static void append_from(int i, int64_t now, uint8_t from, mk_term_t term, mk_cursor_t prev, mk_index_t commit,
                        const mk_log_entry_t *es, size_t n) {
    mk_log_entry_t v[16];
    assert_true(n <= 16);
    for (size_t k = 0; k < n; k++) {
        v[k] = es[k];
        v[k].index = prev.index + 1 + k;
    }
    mk_raft_msg_t m = {.kind = MK_RAFT_APPEND,
                       .append = {.term = term, .prev = prev, .commit = commit, .entries = n ? v : NULL,
                                  .nentries = n}};
    inject(i, now, from, m);
}

static mk_raft_msg_t vote_msg(mk_raft_msg_kind_t kind, mk_term_t term, mk_cursor_t last) {
    return (mk_raft_msg_t){.kind = kind, .vote = {.term = term, .last = last}};
}

static mk_raft_msg_t vote_resp(mk_raft_msg_kind_t kind, mk_term_t term, bool granted) {
    return (mk_raft_msg_t){.kind = kind, .vote_resp = {.term = term, .granted = granted}};
}

static mk_raft_msg_t append_ok(mk_term_t term, mk_index_t match) {
    return (mk_raft_msg_t){.kind = MK_RAFT_APPEND_RESP, .append_resp = {.term = term, .success = true, .match = match}};
}

static mk_raft_msg_t append_reject(mk_term_t term, mk_index_t conflict_index, mk_term_t conflict_term) {
    return (mk_raft_msg_t){.kind = MK_RAFT_APPEND_RESP,
                           .append_resp = {.term = term, .conflict_index = conflict_index,
                                           .conflict_term = conflict_term}};
}

/* Captured messages of `kind` to peer byte `to` (-1: anyone). */
static size_t count_caps(mk_raft_msg_kind_t kind, int to) {
    size_t n = 0;
    for (size_t i = 0; i < ncaps; i++)
        if (caps[i].m.kind == kind && (to < 0 || caps[i].to.b[0] == (uint8_t)to)) n++;
    return n;
}

static const cap_t *last_cap(mk_raft_msg_kind_t kind, int to) {
    for (size_t i = ncaps; i-- > 0;)
        if (caps[i].m.kind == kind && (to < 0 || caps[i].to.b[0] == (uint8_t)to)) return &caps[i];
    fail_msg("no captured %s to %d", mk_raft_msg_kind_name(kind), to);
    return NULL;
}

/* ---- entries ----------------------------------------------------------------------------------------- */

static mk_log_entry_t e_noop(mk_term_t t) { return (mk_log_entry_t){.term = t, .kind = MK_ENTRY_NOOP}; }

static mk_log_entry_t e_cmd(mk_term_t t, const char *payload) {
    assert_true(nbodies < sizeof bodies / sizeof *bodies);
    mk_buf_t *b = &bodies[nbodies++];
    *b = (mk_buf_t)MK_BUF_INIT;
    mk_raft_body_t body = {.kind = MK_ENTRY_COMMAND, .command = {.payload = {payload, strlen(payload)}}};
    assert_int_equal(mk_raft_body_encode(&body, b, NULL), MK_OK);
    return (mk_log_entry_t){.term = t, .kind = MK_ENTRY_COMMAND, .body = b->ptr, .len = b->len};
}

static int cmp_voter(const void *a, const void *b) {
    return mk_id_cmp(&((const mk_raft_voter_t *)a)->peer, &((const mk_raft_voter_t *)b)->peer);
}

static mk_log_entry_t e_config(mk_term_t t, mk_raft_voter_t *v, size_t n) {
    assert_true(nbodies < sizeof bodies / sizeof *bodies);
    mk_buf_t *b = &bodies[nbodies++];
    *b = (mk_buf_t)MK_BUF_INIT;
    mk_raft_body_t body = {.kind = MK_ENTRY_CONFIG};
    body.config.origin = test_origin();
    body.config.nvoters = n;
    memcpy(body.config.voters, v, n * sizeof *v);
    qsort(body.config.voters, n, sizeof *v, cmp_voter);
    assert_int_equal(mk_raft_body_encode(&body, b, NULL), MK_OK);
    return (mk_log_entry_t){.term = t, .kind = MK_ENTRY_CONFIG, .body = b->ptr, .len = b->len};
}

/* The bootstrap CONFIG of a scripted group: {G1, node i, G3}, of term 1. */
static mk_log_entry_t cfg3(int i) {
    mk_raft_voter_t v[3] = {{pid(G1), ginc(G1)}, {nodes[i].id, nodes[i].r->meta.incarnation}, {pid(G3), ginc(G3)}};
    return e_config(1, v, 3);
}

static mk_raft_body_t config_at(int i, mk_index_t idx) {
    mk_log_entry_t e;
    assert_int_equal(nodes[i].store->vt->get(nodes[i].store->self, idx, &e), MK_OK);
    assert_int_equal(e.kind, MK_ENTRY_CONFIG);
    mk_raft_body_t b;
    assert_int_equal(mk_raft_body_decode(MK_ENTRY_CONFIG, e.body, e.len, &b, NULL), MK_OK);
    return b;
}

/* ---- canned situations ------------------------------------------------------------------------------- */

/* A scripted voter NODE of {G1, NODE, G3}, both ghosts bonded, that accepted at t=0 from G1 (leader of
 * `term`) the log [CONFIG t1, NOOP t1, then one entry of each of later_terms: NOOP, COMMAND, NOOP, …]
 * with `commit`. */
static int scripted_follower(mk_leadership_t pref, const mk_consensus_config_t *cc, mk_term_t term,
                             const mk_term_t *later_terms, size_t nlater, mk_index_t commit) {
    int n = add_node(NODE, cc, pref, 0);
    ghost_up(n, G1, 0);
    ghost_up(n, G3, 0);
    mk_log_entry_t es[16];
    size_t k = 0;
    es[k++] = cfg3(n);
    es[k++] = e_noop(1);
    for (size_t j = 0; j < nlater; j++) es[k++] = j % 2 ? e_cmd(later_terms[j], "c") : e_noop(later_terms[j]);
    append_from(n, 0, G1, term, C(0, 0), commit, es, k);
    mk_raft_status_t st = status(n);
    assert_int_equal(st.term, term);
    assert_int_equal(st.last.index, k);
    assert_int_equal(st.commit, commit);
    assert_true(st.is_voter);
    caps_clear();
    return n;
}

/* The scripted node wins an election at t=5000 with G3's votes: log [CONFIG t1, NOOP t1, NOOP t2] learnt
 * from G1 in term 2 (commit 2); it leads term 3 with its NOOP at 4, synced. */
static int scripted_leader(void) {
    mk_consensus_config_t cc = cc_scripted();
    const mk_term_t later[] = {2};
    int n = scripted_follower(NORMAL, &cc, 2, later, 1, 2);
    tick(n, 5000);
    assert_int_equal(status(n).role, MK_RAFT_PRE_CANDIDATE);
    assert_int_equal(status(n).term, 2);  /* PreVote leaves the term alone */
    const cap_t *pv = last_cap(MK_RAFT_PRE_VOTE, G3);
    assert_int_equal(pv->m.vote.term, 3);
    assert_int_equal(pv->m.vote.last.term, 2);
    assert_int_equal(pv->m.vote.last.index, 3);
    inject(n, 5000, G3, vote_resp(MK_RAFT_PRE_VOTE_RESP, 3, true));
    assert_int_equal(status(n).role, MK_RAFT_CANDIDATE);
    assert_int_equal(status(n).term, 3);
    assert_int_equal(last_cap(MK_RAFT_VOTE, G1)->m.vote.term, 3);
    inject(n, 5000, G3, vote_resp(MK_RAFT_VOTE_RESP, 3, true));
    mk_raft_status_t st = status(n);
    assert_int_equal(st.role, MK_RAFT_LEADER);
    assert_int_equal(st.term, 3);
    assert_int_equal(st.last.index, 4);
    assert_int_equal(term_at(n, 4), 3);
    assert_int_equal(kind_at(n, 4), MK_ENTRY_NOOP);
    assert_int_equal(st.commit, 2);
    /* a new leader probes every bonded peer at once: prev = its last before the NOOP */
    for (int g = 0; g < 2; g++) {
        const cap_t *a = last_cap(MK_RAFT_APPEND, g ? G3 : G1);
        assert_int_equal(a->m.append.term, 3);
        assert_int_equal(a->m.append.prev.index, 3);
        assert_int_equal(a->m.append.prev.term, 2);
        assert_int_equal(a->m.append.nentries, 1);
        assert_int_equal(a->m.append.entries[0].kind, MK_ENTRY_NOOP);
    }
    caps_clear();
    return n;
}

/* A lone node bootstrapped at t=100 and synced: leader of term 1, commit 2. */
static int lone_leader(uint8_t b, const mk_consensus_config_t *cc) {
    int n = add_node(b, cc, NORMAL, 0);
    tick(n, 100);
    mk_raft_status_t st = status(n);
    assert_int_equal(st.role, MK_RAFT_LEADER);
    assert_int_equal(st.commit, 2);
    return n;
}

/* Three empty Normal nodes with bootstrap_expect 3; returns the leader's index. */
static int three_node_cluster(void) {
    mk_consensus_config_t cc = cc_default();
    cc.bootstrap_expect = 3;
    int a = add_node(0x30, &cc, NORMAL, 0), b = add_node(0x10, &cc, NORMAL, 0), c = add_node(0x20, &cc, NORMAL, 0);
    bond(a, b, 0);
    pump(0);
    for (int64_t t = 10; t <= 150; t += 10) tick_all(t);  /* |S| = 2 < bootstrap_expect */
    for (int i = 0; i < 3; i++) assert_false(status(i).has_origin);
    bond(a, c, 150);
    bond(b, c, 150);
    pump(150);
    /* all three tick before any message moves: only the lowest PeerId writes entry 1 */
    for (int i = 0; i < 3; i++) mk_raft_tick(nodes[i].r, 160);
    assert_true(status(b).has_origin);
    assert_false(status(a).has_origin);
    assert_false(status(c).has_origin);
    assert_int_equal(status(b).role, MK_RAFT_CANDIDATE);
    assert_int_equal(status(b).term, 1);
    assert_int_equal(status(b).last.index, 1);
    pump(160);
    for (int64_t t = 170; t <= 300; t += 10) tick_all(t);
    return b;
}

/* ---- bootstrap --------------------------------------------------------------------------------------- */

static void lone_node_bootstraps_as_leader_of_term_1(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_default();
    int n = add_node(0x42, &cc, NORMAL, 0);
    mk_raft_t *r = nodes[n].r;
    mk_raft_tick(r, 99);
    mk_raft_status_t st = status(n);
    assert_false(st.has_origin);
    assert_int_equal(st.role, MK_RAFT_FOLLOWER);
    assert_int_equal(st.last.index, 0);

    mk_raft_tick(r, 100);  /* bootstrap_delay elapsed */
    st = status(n);
    assert_int_equal(st.role, MK_RAFT_LEADER);
    assert_int_equal(st.term, 1);
    assert_true(st.has_origin);
    assert_true(st.is_voter);
    assert_true(st.has_leader);
    assert_true(mk_id_eq(&st.leader, &nodes[n].id));
    assert_int_equal(st.nvoters, 1);
    assert_true(mk_id_eq(&st.voters[0].peer, &nodes[n].id));
    assert_int_equal(st.voters[0].incarnation, st.incarnation);
    assert_int_equal(st.last.term, 1);
    assert_int_equal(st.last.index, 2);
    /* entry 1: CONFIG{origin, itself}; entry 2: NOOP; both of term 1 */
    mk_raft_body_t cfg = config_at(n, 1);
    assert_int_equal(term_at(n, 1), 1);
    assert_memory_equal(cfg.config.origin.b, st.origin.b, sizeof st.origin.b);
    assert_int_equal(cfg.config.nvoters, 1);
    assert_true(mk_id_eq(&cfg.config.voters[0].peer, &nodes[n].id));
    assert_int_equal(cfg.config.voters[0].incarnation, st.incarnation);
    assert_int_equal(kind_at(n, 2), MK_ENTRY_NOOP);
    assert_int_equal(term_at(n, 2), 1);
    /* own match counts synced entries only: nothing is committed before the first batch is synced */
    assert_int_equal(st.commit, 0);
    assert_false(st.online);

    mk_raft_ready_t rd;
    assert_true(mk_raft_ready(r, &rd));
    assert_true(rd.must_sync);
    assert_true(rd.role_changed);
    assert_true(rd.config_changed);
    assert_true(rd.apply_to < rd.apply_from);  /* nothing to apply yet */
    assert_int_equal(status(n).commit, 0);
    mk_hard_state_t hs;
    mk_store_meta_t meta;
    assert_int_equal(nodes[n].store->vt->load_state(nodes[n].store->self, &hs, &meta), MK_OK);
    assert_int_equal(hs.term, 1);
    assert_true(hs.has_vote);
    assert_true(mk_id_eq(&hs.vote_peer, &nodes[n].id));
    assert_int_equal(hs.vote_inc, st.incarnation);
    assert_true(meta.has_origin);
    assert_memory_equal(meta.origin.b, st.origin.b, sizeof st.origin.b);
    assert_int_equal(nodes[n].store->vt->sync(nodes[n].store->self), MK_OK);
    mk_raft_advance(r, &rd, 0);
    st = status(n);
    assert_int_equal(st.commit, 2);  /* synced: its own match is 2, a majority of one */
    assert_true(st.online);

    assert_true(mk_raft_ready(r, &rd));
    assert_int_equal(rd.apply_from, 1);
    assert_int_equal(rd.apply_to, 2);
    mk_raft_advance(r, &rd, 2);
    assert_int_equal(status(n).applied, 2);
    assert_false(mk_raft_ready(r, &rd));
}

static void three_empty_nodes_bootstrap_once_from_the_lowest_peer(void **state) {
    (void)state;
    int l = three_node_cluster();
    mk_raft_status_t sl = status(l);
    assert_int_equal(sl.role, MK_RAFT_LEADER);
    assert_int_equal(sl.term, 1);
    assert_int_equal(sl.nvoters, 3);
    for (int i = 0; i < 3; i++) {
        mk_raft_status_t st = status(i);
        assert_true(st.has_origin);
        assert_memory_equal(st.origin.b, sl.origin.b, sizeof sl.origin.b);
        assert_int_equal(st.nvoters, 3);
        assert_true(st.is_voter);
        assert_true(st.has_leader);
        assert_true(mk_id_eq(&st.leader, &nodes[l].id));
        assert_int_equal(st.term, 1);
        assert_int_equal(st.commit, 2);
        if (i != l) assert_int_equal(st.role, MK_RAFT_FOLLOWER);
        /* the voters are the three, ascending, each with its own incarnation */
        for (size_t v = 0; v < 3; v++) {
            int who = node_of(&st.voters[v].peer);
            assert_true(who >= 0);
            assert_int_equal(st.voters[v].incarnation, nodes[who].r->meta.incarnation);
            if (v) assert_true(mk_id_cmp(&st.voters[v - 1].peer, &st.voters[v].peer) < 0);
        }
        /* the same entry 1 everywhere */
        mk_raft_body_t b = config_at(i, 1);
        assert_memory_equal(b.config.origin.b, sl.origin.b, sizeof sl.origin.b);
    }
}

static void an_empty_node_bootstraps_only_as_the_lowest_normal_member_of_no_group(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_default();
    cc.bootstrap_expect = 2;
    /* e's only peer is Reluctant, though of a lower PeerId: the lowest Normal member (e) bootstraps
     * with both as voters */
    int e = add_node(0x20, &cc, NORMAL, 0);
    ghost_up(e, 0x10, 0);
    inject(e, 0, 0x10, hello_msg(false, MK_ID_ZERO, false, RELUCTANT3));
    tick(e, 99);
    assert_false(status(e).has_origin);
    tick(e, 100);
    mk_raft_status_t st = status(e);
    assert_true(st.has_origin);
    assert_int_equal(st.role, MK_RAFT_CANDIDATE);
    assert_int_equal(st.term, 1);
    assert_int_equal(st.nvoters, 2);
    mk_peer_id_t g = pid(0x10);
    assert_true(mk_id_eq(&st.voters[0].peer, &g));
    assert_int_equal(st.voters[0].incarnation, ginc(0x10));
    assert_true(mk_id_eq(&st.voters[1].peer, &nodes[e].id));
    const cap_t *rv = last_cap(MK_RAFT_VOTE, 0x10);
    assert_int_equal(rv->m.vote.term, 1);
    assert_int_equal(rv->m.vote.last.index, 1);
    inject(e, 100, 0x10, vote_resp(MK_RAFT_VOTE_RESP, 1, true));
    assert_int_equal(status(e).role, MK_RAFT_LEADER);

    /* h's peer is Normal and lower: h waits */
    int h = add_node(0x22, &cc, NORMAL, 0);
    ghost_up(h, 0x11, 0);
    inject(h, 0, 0x11, hello_msg(false, MK_ID_ZERO, false, NORMAL));
    for (int64_t t = 100; t <= 3000; t += 100) tick(h, t);
    assert_false(status(h).has_origin);

    /* f sees a peer of an existing group: it never bootstraps, even with bootstrap_expect 1 */
    mk_consensus_config_t one = cc_default();
    int f = add_node(0x21, &one, NORMAL, 0);
    ghost_up(f, 0x31, 0);
    inject(f, 0, 0x31, hello_msg(true, test_origin(), false, NORMAL));
    for (int64_t t = 100; t <= 3000; t += 100) tick(f, t);
    assert_false(status(f).has_origin);
    assert_int_equal(status(f).last.index, 0);
}

/* ---- elections --------------------------------------------------------------------------------------- */

static void request_vote_is_granted_once_per_term_and_persisted_first(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    int n = scripted_follower(NORMAL, &cc, 1, NULL, 0, 0);  /* last (1, 2) */
    /* t=3000: no AppendEntries for election_timeout, so no stickiness. A candidate of term 2 with a
     * shorter log: denied, but its term is adopted (no vote) */
    inject(n, 3000, G1, vote_msg(MK_RAFT_VOTE, 2, C(1, 1)));
    const cap_t *resp = last_cap(MK_RAFT_VOTE_RESP, G1);
    assert_false(resp->m.vote_resp.granted);
    assert_int_equal(resp->m.vote_resp.term, 2);
    assert_int_equal(stored_hs(n).term, 2);
    assert_false(stored_hs(n).has_vote);
    caps_clear();

    /* G3 of term 2, as up to date: granted; only the vote changed, and it is synced before the reply */
    inject(n, 3000, G3, vote_msg(MK_RAFT_VOTE, 2, C(1, 2)));
    resp = last_cap(MK_RAFT_VOTE_RESP, G3);
    assert_true(resp->m.vote_resp.granted);
    assert_int_equal(resp->m.vote_resp.term, 2);
    assert_true(resp->must_sync);
    mk_hard_state_t hs = stored_hs(n);
    assert_int_equal(hs.term, 2);
    assert_true(hs.has_vote);
    mk_peer_id_t g3 = pid(G3);
    assert_true(mk_id_eq(&hs.vote_peer, &g3));
    assert_int_equal(hs.vote_inc, ginc(G3));
    mk_raft_status_t st = status(n);
    assert_int_equal(st.term, 2);
    assert_int_equal(st.role, MK_RAFT_FOLLOWER);
    assert_false(st.has_leader);
    caps_clear();

    /* another candidate of the same term, now as up to date: denied, the vote stays */
    inject(n, 3000, G1, vote_msg(MK_RAFT_VOTE, 2, C(1, 2)));
    resp = last_cap(MK_RAFT_VOTE_RESP, G1);
    assert_false(resp->m.vote_resp.granted);
    assert_int_equal(resp->m.vote_resp.term, 2);
    hs = stored_hs(n);
    assert_true(mk_id_eq(&hs.vote_peer, &g3));
    caps_clear();

    /* the same candidate again (a retry): granted again, nothing new to persist */
    inject(n, 3000, G3, vote_msg(MK_RAFT_VOTE, 2, C(1, 2)));
    resp = last_cap(MK_RAFT_VOTE_RESP, G3);
    assert_true(resp->m.vote_resp.granted);
    assert_false(resp->must_sync);
    caps_clear();

    /* a new term frees the vote */
    inject(n, 3000, G1, vote_msg(MK_RAFT_VOTE, 3, C(1, 2)));
    resp = last_cap(MK_RAFT_VOTE_RESP, G1);
    assert_true(resp->m.vote_resp.granted);
    assert_int_equal(resp->m.vote_resp.term, 3);
    assert_true(resp->must_sync);
    hs = stored_hs(n);
    mk_peer_id_t g1 = pid(G1);
    assert_int_equal(hs.term, 3);
    assert_true(mk_id_eq(&hs.vote_peer, &g1));
    assert_int_equal(hs.vote_inc, ginc(G1));
}

static void request_vote_is_denied_to_a_less_up_to_date_log(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    const mk_term_t later[] = {2};
    int n = scripted_follower(NORMAL, &cc, 2, later, 1, 2);  /* last (2, 3) */
    /* an older last term, though longer: denied; the term is adopted all the same */
    inject(n, 3000, G3, vote_msg(MK_RAFT_VOTE, 3, C(1, 9)));
    const cap_t *resp = last_cap(MK_RAFT_VOTE_RESP, G3);
    assert_false(resp->m.vote_resp.granted);
    assert_int_equal(resp->m.vote_resp.term, 3);
    assert_int_equal(status(n).term, 3);
    assert_false(stored_hs(n).has_vote);
    caps_clear();
    /* the same last term, shorter: denied */
    inject(n, 3000, G3, vote_msg(MK_RAFT_VOTE, 3, C(2, 2)));
    assert_false(last_cap(MK_RAFT_VOTE_RESP, G3)->m.vote_resp.granted);
    assert_false(stored_hs(n).has_vote);
    caps_clear();
    /* a stale term: denied with the current term */
    inject(n, 3000, G1, vote_msg(MK_RAFT_VOTE, 2, C(2, 5)));
    resp = last_cap(MK_RAFT_VOTE_RESP, G1);
    assert_false(resp->m.vote_resp.granted);
    assert_int_equal(resp->m.vote_resp.term, 3);
    caps_clear();
    /* as up to date: granted, the vote synced before the reply */
    inject(n, 3000, G3, vote_msg(MK_RAFT_VOTE, 3, C(2, 3)));
    assert_true(last_cap(MK_RAFT_VOTE_RESP, G3)->m.vote_resp.granted);
    assert_true(last_cap(MK_RAFT_VOTE_RESP, G3)->must_sync);
    assert_true(stored_hs(n).has_vote);
}

static void pre_vote_keeps_the_term_and_respects_a_live_leader(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    const mk_term_t later[] = {2};
    int n = scripted_follower(NORMAL, &cc, 2, later, 1, 2);  /* term 2, last (2, 3), heard G1 at t=0 */
    /* t=1000: G1 was heard within election_timeout: denied */
    inject(n, 1000, G3, vote_msg(MK_RAFT_PRE_VOTE, 3, C(2, 3)));
    const cap_t *resp = last_cap(MK_RAFT_PRE_VOTE_RESP, G3);
    assert_false(resp->m.vote_resp.granted);
    assert_int_equal(resp->m.vote_resp.term, 2);
    assert_int_equal(status(n).term, 2);
    caps_clear();
    /* t=2500: granted; the receiver's term, vote and leader are untouched and nothing is persisted */
    inject(n, 2500, G3, vote_msg(MK_RAFT_PRE_VOTE, 3, C(2, 3)));
    resp = last_cap(MK_RAFT_PRE_VOTE_RESP, G3);
    assert_true(resp->m.vote_resp.granted);
    assert_int_equal(resp->m.vote_resp.term, 3);
    assert_false(resp->must_sync);
    mk_raft_status_t st = status(n);
    assert_int_equal(st.term, 2);
    assert_int_equal(st.role, MK_RAFT_FOLLOWER);
    assert_false(stored_hs(n).has_vote);
    assert_int_equal(stored_hs(n).term, 2);
    caps_clear();
    /* a log behind ours: denied */
    inject(n, 2500, G3, vote_msg(MK_RAFT_PRE_VOTE, 3, C(2, 2)));
    assert_false(last_cap(MK_RAFT_PRE_VOTE_RESP, G3)->m.vote_resp.granted);
    inject(n, 2500, G3, vote_msg(MK_RAFT_PRE_VOTE, 3, C(1, 7)));
    assert_false(last_cap(MK_RAFT_PRE_VOTE_RESP, G3)->m.vote_resp.granted);
    /* a term that does not exceed ours: denied */
    inject(n, 2500, G3, vote_msg(MK_RAFT_PRE_VOTE, 2, C(2, 3)));
    assert_false(last_cap(MK_RAFT_PRE_VOTE_RESP, G3)->m.vote_resp.granted);
    assert_int_equal(status(n).term, 2);
}

static void a_follower_of_a_live_leader_drops_request_vote_unread(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    const mk_term_t later[] = {2};
    int n = scripted_follower(NORMAL, &cc, 2, later, 1, 2);
    append_from(n, 1000, G1, 2, C(2, 3), 2, NULL, 0);  /* a heartbeat accepted at t=1000 */
    caps_clear();
    inject(n, 1500, G3, vote_msg(MK_RAFT_VOTE, 5, C(2, 9)));
    assert_int_equal(ncaps, 0);  /* no reply at all */
    mk_raft_status_t st = status(n);
    assert_int_equal(st.term, 2);
    assert_true(st.has_leader);
    assert_false(stored_hs(n).has_vote);
    assert_int_equal(stored_hs(n).term, 2);
    /* once election_timeout passed since the last AppendEntries, the same request is read */
    inject(n, 3000, G3, vote_msg(MK_RAFT_VOTE, 5, C(2, 9)));
    const cap_t *resp = last_cap(MK_RAFT_VOTE_RESP, G3);
    assert_true(resp->m.vote_resp.granted);
    assert_int_equal(resp->m.vote_resp.term, 5);
    assert_int_equal(status(n).term, 5);
}

static void higher_terms_depose_a_leader_and_stale_appends_learn_the_term(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_default();
    int n = lone_leader(0x42, &cc);
    ghost_up(n, 0x50, 200);  /* a learner */
    pump(200);
    caps_clear();
    /* a leader that passed CheckQuorum lately drops RequestVote unread (stickiness) */
    inject(n, 300, 0x50, vote_msg(MK_RAFT_VOTE, 7, C(1, 2)));
    assert_int_equal(count_caps(MK_RAFT_VOTE_RESP, -1), 0);
    assert_int_equal(status(n).role, MK_RAFT_LEADER);
    assert_int_equal(status(n).term, 1);
    /* a leader denies PreVote, and a PreVote's term is not adopted */
    inject(n, 300, 0x50, vote_msg(MK_RAFT_PRE_VOTE, 9, C(1, 2)));
    assert_false(last_cap(MK_RAFT_PRE_VOTE_RESP, 0x50)->m.vote_resp.granted);
    assert_int_equal(status(n).role, MK_RAFT_LEADER);
    assert_int_equal(status(n).term, 1);
    /* any other message of a higher term: follower of that term, no leader, no vote */
    inject(n, 400, 0x50, append_reject(3, 1, 0));
    mk_raft_status_t st = status(n);
    assert_int_equal(st.role, MK_RAFT_FOLLOWER);
    assert_int_equal(st.term, 3);
    assert_false(st.has_leader);
    mk_hard_state_t hs = stored_hs(n);
    assert_int_equal(hs.term, 3);
    assert_false(hs.has_vote);
    caps_clear();
    /* a stale AppendEntries is answered with the current term and changes nothing */
    append_from(n, 500, 0x50, 2, C(1, 2), 2, NULL, 0);
    const cap_t *resp = last_cap(MK_RAFT_APPEND_RESP, 0x50);
    assert_false(resp->m.append_resp.success);
    assert_int_equal(resp->m.append_resp.term, 3);
    st = status(n);
    assert_int_equal(st.term, 3);
    assert_false(st.has_leader);
    assert_int_equal(st.last.index, 2);
    caps_clear();
    /* AppendEntries of a higher term: its sender becomes the leader */
    append_from(n, 600, 0x50, 4, C(1, 2), 2, NULL, 0);
    st = status(n);
    assert_int_equal(st.term, 4);
    assert_int_equal(st.role, MK_RAFT_FOLLOWER);
    assert_true(st.has_leader);
    mk_peer_id_t g = pid(0x50);
    assert_true(mk_id_eq(&st.leader, &g));
    resp = last_cap(MK_RAFT_APPEND_RESP, 0x50);
    assert_true(resp->m.append_resp.success);
    assert_int_equal(resp->m.append_resp.match, 2);
}

static void check_quorum_steps_down_without_changing_the_term(void **state) {
    (void)state;
    int n = scripted_leader();  /* leader of term 3 since t=5000; G1 last heard at 0, G3 at 5000 */
    inject(n, 5500, G3, append_ok(3, 4));
    assert_int_equal(status(n).commit, 4);
    tick(n, 6999);
    assert_int_equal(status(n).role, MK_RAFT_LEADER);
    tick(n, 7000);  /* the window is [5000, 7000): itself + G3 = a majority of three */
    assert_int_equal(status(n).role, MK_RAFT_LEADER);
    /* a read needs a heartbeat round that no voter answers */
    mk_raft_read_index(nodes[n].r, 7100, 42);
    pump(7100);
    assert_int_equal(nodes[n].nreads, 0);
    tick(n, 7499);
    assert_int_equal(status(n).role, MK_RAFT_LEADER);
    assert_int_equal(nodes[n].nreads, 0);
    tick(n, 7500);  /* G3 last heard 2000 ms ago: only itself */
    assert_int_equal(nodes[n].nreads, 1);  /* the pending read fails with the leadership */
    assert_int_equal(nodes[n].reads[0].req_id, 42);
    assert_false(nodes[n].reads[0].ok);
    mk_raft_status_t st = status(n);
    assert_int_equal(st.role, MK_RAFT_FOLLOWER);
    assert_int_equal(st.term, 3);
    assert_false(st.has_leader);
    assert_int_equal(stored_hs(n).term, 3);
}

static void reluctant_timers_are_scaled_and_observers_never_campaign(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    int n = scripted_follower(RELUCTANT3, &cc, 1, NULL, 0, 0);  /* accepted at t=0 */
    int64_t et = cc.election_timeout_ms, jit = cc.election_timeout_jitter_ms;
    assert_true(nodes[n].r->election_deadline >= 3 * et);
    assert_true(nodes[n].r->election_deadline < 3 * (et + jit));
    append_from(n, 1000, G1, 1, C(1, 2), 0, NULL, 0);
    assert_true(nodes[n].r->election_deadline >= 1000 + 3 * et);
    tick(n, 1000 + 3 * et - 1);
    assert_int_equal(status(n).role, MK_RAFT_FOLLOWER);
    assert_int_equal(count_caps(MK_RAFT_PRE_VOTE, -1), 0);
    tick(n, 1000 + 3 * (et + jit));
    assert_int_equal(status(n).role, MK_RAFT_PRE_CANDIDATE);
    assert_int_equal(count_caps(MK_RAFT_PRE_VOTE, G1), 1);

    /* a lone Reluctant node waits 3 × bootstrap_delay */
    mk_consensus_config_t lone = cc_default();
    int r = add_node(0x60, &lone, RELUCTANT3, 0);
    tick(r, 299);
    assert_false(status(r).has_origin);
    tick(r, 300);
    assert_int_equal(status(r).role, MK_RAFT_LEADER);

    /* an Observer (even listed as a voter) never becomes pre-candidate and never bootstraps */
    teardown(NULL);
    setup(NULL);
    int o = scripted_follower(OBSERVER, &cc, 1, NULL, 0, 0);
    for (int64_t t = 1000; t <= 60000; t += 1000) tick(o, t);
    assert_int_equal(status(o).role, MK_RAFT_FOLLOWER);
    assert_int_equal(count_caps(MK_RAFT_PRE_VOTE, -1), 0);
    assert_int_equal(count_caps(MK_RAFT_VOTE, -1), 0);
    int lo = add_node(0x61, &lone, OBSERVER, 0);
    for (int64_t t = 100; t <= 5000; t += 100) tick(lo, t);
    assert_false(status(lo).has_origin);
    assert_int_equal(status(lo).role, MK_RAFT_FOLLOWER);
}

static void an_observer_denies_votes_and_pre_votes(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    int o = scripted_follower(OBSERVER, &cc, 1, NULL, 0, 0);
    inject(o, 3000, G3, vote_msg(MK_RAFT_VOTE, 2, C(1, 5)));
    const cap_t *resp = last_cap(MK_RAFT_VOTE_RESP, G3);
    assert_false(resp->m.vote_resp.granted);
    assert_int_equal(resp->m.vote_resp.term, 2);
    assert_false(stored_hs(o).has_vote);
    inject(o, 3000, G1, vote_msg(MK_RAFT_PRE_VOTE, 3, C(1, 5)));
    assert_false(last_cap(MK_RAFT_PRE_VOTE_RESP, G1)->m.vote_resp.granted);
}

static void a_campaign_without_a_majority_times_out_to_follower(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    const mk_term_t later[] = {2};
    int n = scripted_follower(NORMAL, &cc, 2, later, 1, 2);
    mk_raft_t *r = nodes[n].r;
    tick(n, 5000);
    assert_int_equal(status(n).role, MK_RAFT_PRE_CANDIDATE);
    assert_int_equal(count_caps(MK_RAFT_PRE_VOTE, G1), 1);
    assert_int_equal(count_caps(MK_RAFT_PRE_VOTE, G3), 1);
    /* a denial of the same term changes nothing */
    inject(n, 5000, G1, vote_resp(MK_RAFT_PRE_VOTE_RESP, 2, false));
    assert_int_equal(status(n).role, MK_RAFT_PRE_CANDIDATE);
    /* no majority by the deadline: follower again, same term, a fresh timer */
    int64_t d = r->election_deadline;
    assert_true(d > 5000);
    tick(n, d);
    assert_int_equal(status(n).role, MK_RAFT_FOLLOWER);
    assert_int_equal(status(n).term, 2);
    assert_true(r->election_deadline >= d + (int64_t)cc.election_timeout_ms);
    /* next round: the PreVote passes, the candidate's own vote is synced before RequestVote leaves */
    caps_clear();
    tick(n, r->election_deadline);
    assert_int_equal(status(n).role, MK_RAFT_PRE_CANDIDATE);
    int64_t at = r->now;
    inject(n, at, G3, vote_resp(MK_RAFT_PRE_VOTE_RESP, 3, true));
    assert_int_equal(status(n).role, MK_RAFT_CANDIDATE);
    assert_int_equal(status(n).term, 3);
    const cap_t *rv = last_cap(MK_RAFT_VOTE, G1);
    assert_true(rv->must_sync);
    assert_int_equal(rv->m.vote.term, 3);
    mk_hard_state_t hs = stored_hs(n);
    assert_int_equal(hs.term, 3);
    assert_true(hs.has_vote);
    assert_true(mk_id_eq(&hs.vote_peer, &nodes[n].id));
    /* a vote of an older term does not count */
    inject(n, at, G3, vote_resp(MK_RAFT_VOTE_RESP, 2, true));
    assert_int_equal(status(n).role, MK_RAFT_CANDIDATE);
    /* the RequestVote round times out too: follower of term 3 */
    tick(n, r->election_deadline);
    assert_int_equal(status(n).role, MK_RAFT_FOLLOWER);
    assert_int_equal(status(n).term, 3);
    /* a denial carrying a higher term is adopted */
    tick(n, r->election_deadline);
    assert_int_equal(status(n).role, MK_RAFT_PRE_CANDIDATE);
    inject(n, r->now, G1, vote_resp(MK_RAFT_PRE_VOTE_RESP, 7, false));
    assert_int_equal(status(n).role, MK_RAFT_FOLLOWER);
    assert_int_equal(status(n).term, 7);
    /* a candidate that hears AppendEntries of its own term from the winner steps back */
    tick(n, r->election_deadline);
    inject(n, r->now, G3, vote_resp(MK_RAFT_PRE_VOTE_RESP, 8, true));
    assert_int_equal(status(n).role, MK_RAFT_CANDIDATE);
    assert_int_equal(status(n).term, 8);
    caps_clear();
    append_from(n, r->now, G1, 8, C(2, 3), 2, NULL, 0);
    mk_raft_status_t st = status(n);
    assert_int_equal(st.role, MK_RAFT_FOLLOWER);
    assert_int_equal(st.term, 8);
    mk_peer_id_t g1 = pid(G1);
    assert_true(st.has_leader);
    assert_true(mk_id_eq(&st.leader, &g1));
    assert_true(last_cap(MK_RAFT_APPEND_RESP, G1)->m.append_resp.success);
}

/* ---- replication ------------------------------------------------------------------------------------- */

static void append_rejects_a_mismatched_prev_with_a_conflict_hint(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    const mk_term_t later[] = {2, 2};
    int n = scripted_follower(NORMAL, &cc, 2, later, 2, 2);  /* terms 1 1 2 2, commit 2 */
    /* log too short: conflict_index = last + 1, conflict_term 0 */
    append_from(n, 100, G1, 2, C(2, 6), 2, NULL, 0);
    const cap_t *resp = last_cap(MK_RAFT_APPEND_RESP, G1);
    assert_false(resp->m.append_resp.success);
    assert_int_equal(resp->m.append_resp.term, 2);
    assert_int_equal(resp->m.append_resp.conflict_index, 5);
    assert_int_equal(resp->m.append_resp.conflict_term, 0);
    caps_clear();
    /* a term mismatch at prev: that term and its first local index */
    append_from(n, 200, G3, 3, C(3, 4), 2, NULL, 0);
    resp = last_cap(MK_RAFT_APPEND_RESP, G3);
    assert_false(resp->m.append_resp.success);
    assert_int_equal(resp->m.append_resp.term, 3);
    assert_int_equal(resp->m.append_resp.conflict_term, 2);
    assert_int_equal(resp->m.append_resp.conflict_index, 3);
    /* a rejection changes no entry, but G3 of term 3 is now followed */
    mk_raft_status_t st = status(n);
    assert_int_equal(st.last.index, 4);
    assert_int_equal(st.last.term, 2);
    assert_int_equal(st.term, 3);
    mk_peer_id_t g3 = pid(G3);
    assert_true(mk_id_eq(&st.leader, &g3));
    assert_int_equal(st.commit, 2);
}

static void append_truncates_a_conflicting_tail_and_replies_prev_plus_n(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    const mk_term_t later[] = {2, 2, 2};
    int n = scripted_follower(NORMAL, &cc, 2, later, 3, 2);  /* terms 1 1 2 2 2, commit 2 */
    /* G3 leads term 3: [NOOP t3] after (1, 2) replaces 3..5 */
    mk_log_entry_t one[] = {e_noop(3)};
    append_from(n, 100, G3, 3, C(1, 2), 2, one, 1);
    const cap_t *resp = last_cap(MK_RAFT_APPEND_RESP, G3);
    assert_true(resp->m.append_resp.success);
    assert_int_equal(resp->m.append_resp.match, 3);
    assert_true(resp->must_sync);  /* the log changed: synced before the reply */
    mk_raft_status_t st = status(n);
    assert_int_equal(st.last.index, 3);
    assert_int_equal(st.last.term, 3);
    mk_log_entry_t e;
    assert_int_equal(nodes[n].store->vt->get(nodes[n].store->self, 4, &e), MK_ENOTFOUND);
    assert_int_equal(st.commit, 2);
    caps_clear();
    /* two more of term 3 */
    mk_log_entry_t two[] = {e_cmd(3, "x"), e_cmd(3, "y")};
    append_from(n, 200, G3, 3, C(3, 3), 2, two, 2);
    assert_int_equal(last_cap(MK_RAFT_APPEND_RESP, G3)->m.append_resp.match, 5);
    assert_int_equal(status(n).last.index, 5);
    caps_clear();
    /* a delayed copy of the first message, now with commit 5: the entry is kept (same term), the tail
     * stays, and the reply and the commit cover only what the message verified */
    append_from(n, 300, G3, 3, C(1, 2), 5, one, 1);
    resp = last_cap(MK_RAFT_APPEND_RESP, G3);
    assert_true(resp->m.append_resp.success);
    assert_int_equal(resp->m.append_resp.match, 3);
    st = status(n);
    assert_int_equal(st.last.index, 5);
    assert_int_equal(st.last.term, 3);
    assert_int_equal(st.commit, 3);
    caps_clear();
    /* a heartbeat naming the tail: match 5, commit = min(leader commit, match) */
    append_from(n, 400, G3, 3, C(3, 5), 5, NULL, 0);
    assert_int_equal(last_cap(MK_RAFT_APPEND_RESP, G3)->m.append_resp.match, 5);
    assert_int_equal(status(n).commit, 5);
    /* the commit index never goes back */
    append_from(n, 500, G3, 3, C(3, 5), 4, NULL, 0);
    assert_int_equal(status(n).commit, 5);
    assert_int_equal(nodes[n].applied, 5);
}

static void leader_backs_off_with_the_conflict_hint(void **state) {
    (void)state;
    int n = scripted_leader();  /* terms 1 1 2 3 */
    mk_rpeer_t *g1 = mk_raft_peer(nodes[n].r, &(mk_peer_id_t){{G1}});
    assert_non_null(g1);
    /* G1's log is too short (last 1): next = conflict_index */
    inject(n, 5100, G1, append_reject(3, 2, 0));
    assert_int_equal(g1->next, 2);
    const cap_t *a = last_cap(MK_RAFT_APPEND, G1);
    assert_int_equal(a->m.append.prev.index, 1);
    assert_int_equal(a->m.append.prev.term, 1);
    assert_int_equal(a->m.append.nentries, 3);
    caps_clear();
    /* a conflicting term the leader has: next = just past its own last entry of that term (3 + 1), not
     * the follower's conflict_index */
    inject(n, 5200, G1, append_reject(3, 3, 2));
    assert_int_equal(g1->next, 4);
    a = last_cap(MK_RAFT_APPEND, G1);
    assert_int_equal(a->m.append.prev.index, 3);
    assert_int_equal(a->m.append.prev.term, 2);
    assert_int_equal(a->m.append.nentries, 1);
    caps_clear();
    /* success: match 4; a late rejection never moves next below match + 1 */
    inject(n, 5300, G1, append_ok(3, 4));
    assert_int_equal(g1->match, 4);
    inject(n, 5400, G1, append_reject(3, 1, 0));
    assert_true(g1->next >= 5);
    assert_int_equal(g1->match, 4);
}

static void an_idle_leader_heartbeats_every_interval(void **state) {
    (void)state;
    int n = scripted_leader();  /* elected at t=5000, heartbeat_interval 500 */
    inject(n, 5000, G3, append_ok(3, 4));
    caps_clear();
    tick(n, 5499);
    assert_int_equal(count_caps(MK_RAFT_APPEND, -1), 0);
    tick(n, 5500);
    assert_int_equal(count_caps(MK_RAFT_APPEND, G1), 1);
    assert_int_equal(count_caps(MK_RAFT_APPEND, G3), 1);
    const cap_t *a = last_cap(MK_RAFT_APPEND, G3);
    assert_int_equal(a->m.append.nentries, 0);  /* G3 has everything: an empty AppendEntries */
    assert_int_equal(a->m.append.prev.index, 4);
    assert_int_equal(a->m.append.commit, 4);
    tick(n, 5999);
    assert_int_equal(count_caps(MK_RAFT_APPEND, -1), 2);
    tick(n, 6000);
    assert_int_equal(count_caps(MK_RAFT_APPEND, G3), 2);
}

static void leader_commits_only_entries_of_its_own_term(void **state) {
    (void)state;
    int n = scripted_leader();  /* terms 1 1 2 3, commit 2; the leader's own match is 4 (synced) */
    /* figure 8: entry 3 (term 2) on a majority (the leader and G3) does not commit on its own */
    inject(n, 5100, G3, append_ok(3, 3));
    assert_int_equal(mk_raft_peer(nodes[n].r, &(mk_peer_id_t){{G3}})->match, 3);
    assert_int_equal(status(n).commit, 2);
    assert_int_equal(nodes[n].applied, 2);
    /* once the term-3 NOOP is on a majority, both commit */
    caps_clear();
    inject(n, 5200, G3, append_ok(3, 4));
    assert_int_equal(status(n).commit, 4);
    assert_int_equal(nodes[n].applied, 4);
    /* followers hear the new commit index at once */
    assert_int_equal(last_cap(MK_RAFT_APPEND, G3)->m.append.commit, 4);
}

static void an_unsynced_leader_entry_does_not_count_for_its_own_match(void **state) {
    (void)state;
    int n = scripted_leader();
    inject(n, 5100, G3, append_ok(3, 4));
    assert_int_equal(status(n).commit, 4);
    /* a proposal: G3 acknowledges it before the leader's own sync; the leader's match is still 4, and
     * {leader, G3} is the majority, so commit waits for the leader's sync */
    mk_bytes_t cmd = {"p", 1};
    assert_int_equal(mk_raft_propose(nodes[n].r, 5200, 1, &cmd, 1, 0, 0), MK_OK);
    mk_raft_msg_t ack = append_ok(3, 5);
    mk_raft_step(nodes[n].r, 5200, &(mk_peer_id_t){{G3}}, &ack);
    assert_int_equal(status(n).commit, 4);
    mk_raft_ready_t rd;
    assert_true(mk_raft_ready(nodes[n].r, &rd));
    assert_true(rd.must_sync);
    assert_int_equal(rd.nresults, 1);
    assert_int_equal(rd.results[0].status, MK_OK);
    assert_int_equal(rd.results[0].range.first, 5);
    assert_int_equal(rd.results[0].range.last, 5);
    assert_int_equal(status(n).commit, 4);
    assert_int_equal(nodes[n].store->vt->sync(nodes[n].store->self), MK_OK);
    mk_raft_advance(nodes[n].r, &rd, nodes[n].applied);
    assert_int_equal(status(n).commit, 5);
}

/* ---- reads and proposals ----------------------------------------------------------------------------- */

static void entries_are_applied_at_most_1024_per_batch(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_default();
    int n = lone_leader(0x42, &cc);
    mk_raft_t *r = nodes[n].r;
    mk_bytes_t *cmds = calloc(1500, sizeof *cmds);
    assert_non_null(cmds);
    for (size_t i = 0; i < 1500; i++) cmds[i] = (mk_bytes_t){"x", 1};
    int rc = mk_raft_propose(r, 200, 1, cmds, 1500, 0, 0);
    free(cmds);
    assert_int_equal(rc, MK_OK);
    mk_raft_ready_t rd;
    assert_true(mk_raft_ready(r, &rd));
    assert_int_equal(rd.nresults, 1);
    assert_int_equal(rd.results[0].range.first, 3);
    assert_int_equal(rd.results[0].range.last, 1502);  /* one contiguous range */
    assert_int_equal(nodes[n].store->vt->sync(nodes[n].store->self), MK_OK);
    mk_raft_advance(r, &rd, nodes[n].applied);
    assert_int_equal(status(n).commit, 1502);
    assert_true(mk_raft_ready(r, &rd));
    assert_int_equal(rd.apply_from, 3);
    assert_int_equal(rd.apply_to, 2 + 1024);
    mk_raft_advance(r, &rd, rd.apply_to);
    assert_true(mk_raft_ready(r, &rd));
    assert_int_equal(rd.apply_from, 1027);
    assert_int_equal(rd.apply_to, 1502);
    mk_raft_advance(r, &rd, rd.apply_to);
    assert_int_equal(status(n).applied, 1502);
}

static void read_index_on_a_lone_leader_and_on_a_leaderless_follower(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_default();
    int n = add_node(0x42, &cc, NORMAL, 0);
    mk_raft_t *r = nodes[n].r;
    mk_raft_tick(r, 100);
    assert_int_equal(status(n).role, MK_RAFT_LEADER);
    /* before its NOOP commits a new leader cannot name a read index: the read waits */
    mk_raft_read_index(r, 100, 5);
    mk_raft_ready_t rd;
    assert_true(mk_raft_ready(r, &rd));
    assert_int_equal(rd.nreads, 0);
    assert_int_equal(nodes[n].store->vt->sync(nodes[n].store->self), MK_OK);
    mk_raft_advance(r, &rd, 0);
    pump(100);
    assert_int_equal(nodes[n].nreads, 1);
    assert_int_equal(nodes[n].reads[0].req_id, 5);
    assert_true(nodes[n].reads[0].ok);
    assert_int_equal(nodes[n].reads[0].read_index, 2);
    /* a one-voter leader confirms at once with read_index = commit */
    mk_bytes_t cmd = {"c", 1};
    assert_int_equal(mk_raft_propose(r, 200, 1, &cmd, 1, 0, 0), MK_OK);
    mk_raft_read_index(r, 200, 6);  /* the command at 3 is not committed (not synced) yet */
    pump(200);
    assert_int_equal(nodes[n].nreads, 2);
    assert_int_equal(nodes[n].reads[1].req_id, 6);
    assert_true(nodes[n].reads[1].ok);
    assert_int_equal(nodes[n].reads[1].read_index, 2);
    assert_int_equal(status(n).commit, 3);
    mk_raft_read_index(r, 300, 7);
    pump(300);
    assert_int_equal(nodes[n].nreads, 3);
    assert_true(nodes[n].reads[2].ok);
    assert_int_equal(nodes[n].reads[2].read_index, 3);

    /* a follower with no leader fails the read at once */
    mk_consensus_config_t sc = cc_scripted();
    int f = add_node(0x20, &sc, NORMAL, 0);
    mk_raft_read_index(nodes[f].r, 0, 8);
    pump(0);
    assert_int_equal(nodes[f].nreads, 1);
    assert_int_equal(nodes[f].reads[0].req_id, 8);
    assert_false(nodes[f].reads[0].ok);
}

static void read_index_on_a_follower_asks_its_leader(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    int n = scripted_follower(NORMAL, &cc, 1, NULL, 0, 2);
    mk_raft_read_index(nodes[n].r, 100, 9);
    pump(100);
    assert_int_equal(nodes[n].nreads, 0);
    assert_int_equal(last_cap(MK_RAFT_READ_INDEX_REQ, G1)->m.read_index_req.req_id, 9);
    inject(n, 150, G1,
           (mk_raft_msg_t){.kind = MK_RAFT_READ_INDEX_RESP,
                           .read_index_resp = {.req_id = 9, .ok = true, .read_index = 7}});
    assert_int_equal(nodes[n].nreads, 1);
    assert_true(nodes[n].reads[0].ok);
    assert_int_equal(nodes[n].reads[0].read_index, 7);
}

static void a_proposal_without_a_leader_fails_offline_after_forward_timeout(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    int n = add_node(NODE, &cc, NORMAL, 0);
    mk_bytes_t cmd = {"a", 1};
    assert_int_equal(mk_raft_propose(nodes[n].r, 0, 1, &cmd, 1, 0, 0), MK_OK);
    pump(0);
    assert_int_equal(nodes[n].nresults, 0);
    assert_int_equal(count_caps(MK_RAFT_FORWARD, -1), 0);
    tick(n, cc.forward_timeout_ms - 1);
    assert_int_equal(nodes[n].nresults, 0);
    tick(n, cc.forward_timeout_ms);
    assert_int_equal(nodes[n].nresults, 1);
    assert_int_equal(nodes[n].results[0].req_id, 1);
    assert_int_equal(nodes[n].results[0].status, MK_EOFFLINE);
    assert_false(nodes[n].results[0].maybe_applied);
}

static void a_proposal_is_forwarded_to_the_leader_and_acknowledged(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    cc.election_timeout_ms = 20000;  /* no campaign gets in the way */
    int n = scripted_follower(NORMAL, &cc, 1, NULL, 0, 2);
    mk_bytes_t cmds[2] = {{"ab", 2}, {"cde", 3}};
    assert_int_equal(mk_raft_propose(nodes[n].r, 100, 2, cmds, 2, 0, 0), MK_OK);
    pump(100);
    const cap_t *f = last_cap(MK_RAFT_FORWARD, G1);
    assert_int_equal(f->m.forward.req_id, 2);
    assert_int_equal(f->m.forward.ncommands, 2);
    assert_int_equal(f->m.forward.commands[0].len, 2);
    assert_memory_equal(f->m.forward.commands[0].ptr, "ab", 2);
    assert_int_equal(f->m.forward.commands[1].len, 3);
    assert_memory_equal(f->m.forward.commands[1].ptr, "cde", 3);
    assert_int_equal(nodes[n].nresults, 0);
    inject(n, 150, G1, (mk_raft_msg_t){.kind = MK_RAFT_FORWARD_ACK,
                                       .forward_ack = {.req_id = 2, .term = 1, .first = 3, .last = 4}});
    assert_int_equal(nodes[n].nresults, 1);
    mk_raft_result_t res = nodes[n].results[0];
    assert_int_equal(res.req_id, 2);
    assert_int_equal(res.status, MK_OK);
    assert_false(res.maybe_applied);
    assert_int_equal(res.range.term, 1);
    assert_int_equal(res.range.first, 3);
    assert_int_equal(res.range.last, 4);

    /* a forward left and went unanswered: MK_EOFFLINE, maybe applied */
    assert_int_equal(mk_raft_propose(nodes[n].r, 200, 3, cmds, 1, 0, 0), MK_OK);
    pump(200);
    tick(n, 200 + cc.forward_timeout_ms - 1);
    assert_int_equal(nodes[n].nresults, 1);
    tick(n, 200 + cc.forward_timeout_ms);
    assert_int_equal(nodes[n].nresults, 2);
    res = nodes[n].results[1];
    assert_int_equal(res.req_id, 3);
    assert_int_equal(res.status, MK_EOFFLINE);
    assert_true(res.maybe_applied);

    /* NOT_LEADER without a session is not retried elsewhere: MK_EOFFLINE, maybe applied */
    assert_int_equal(mk_raft_propose(nodes[n].r, 3000, 4, cmds, 1, 0, 0), MK_OK);
    pump(3000);
    inject(n, 3000, G1, (mk_raft_msg_t){.kind = MK_RAFT_FORWARD_NACK,
                                        .forward_nack = {.req_id = 4, .reason = MK_RAFT_NACK_NOT_LEADER,
                                                         .has_leader = true, .leader = pid(G3)}});
    assert_int_equal(nodes[n].nresults, 3);
    assert_int_equal(nodes[n].results[2].req_id, 4);
    assert_int_equal(nodes[n].results[2].status, MK_EOFFLINE);
    assert_true(nodes[n].results[2].maybe_applied);
    assert_int_equal(count_caps(MK_RAFT_FORWARD, G3), 0);
}

static void a_waiting_proposal_is_appended_once_this_node_leads(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    cc.forward_timeout_ms = 10000;
    const mk_term_t later[] = {2};
    int n = scripted_follower(NORMAL, &cc, 2, later, 1, 2);
    mk_raft_t *r = nodes[n].r;
    /* G3's RequestVote of term 3 (log too old: denied) leaves this node leaderless in term 3 */
    inject(n, 3000, G3, vote_msg(MK_RAFT_VOTE, 3, C(1, 1)));
    assert_false(status(n).has_leader);
    caps_clear();
    mk_bytes_t cmd = {"w", 1};
    assert_int_equal(mk_raft_propose(r, 3000, 21, &cmd, 1, 0, 0), MK_OK);
    pump(3000);
    assert_int_equal(count_caps(MK_RAFT_FORWARD, -1), 0);
    assert_int_equal(nodes[n].nresults, 0);
    tick(n, r->election_deadline);
    int64_t at = r->now;
    inject(n, at, G3, vote_resp(MK_RAFT_PRE_VOTE_RESP, 4, true));
    inject(n, at, G3, vote_resp(MK_RAFT_VOTE_RESP, 4, true));
    assert_int_equal(status(n).role, MK_RAFT_LEADER);
    assert_int_equal(status(n).last.index, 4);  /* its NOOP */
    tick(n, at);
    assert_int_equal(nodes[n].nresults, 1);
    mk_raft_result_t res = nodes[n].results[0];
    assert_int_equal(res.req_id, 21);
    assert_int_equal(res.status, MK_OK);
    assert_false(res.maybe_applied);
    assert_int_equal(res.range.term, 4);
    assert_int_equal(res.range.first, 5);
    assert_int_equal(res.range.last, 5);
    assert_int_equal(kind_at(n, 5), MK_ENTRY_COMMAND);
}

static void propose_checks_its_arguments(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    cc.max_command_bytes = 8;
    cc.max_pending_commands = 2;
    int n = add_node(NODE, &cc, NORMAL, 0);
    mk_raft_t *r = nodes[n].r;
    mk_bytes_t ok = {"12345678", 8}, big = {"123456789", 9};
    assert_int_equal(mk_raft_propose(r, 0, 1, &ok, 0, 0, 0), MK_ENOCOMMANDS);
    assert_int_equal(mk_raft_propose(r, 0, 1, NULL, 1, 0, 0), MK_ENOCOMMANDS);
    mk_bytes_t two[2] = {ok, big};
    assert_int_equal(mk_raft_propose(r, 0, 2, two, 2, 0, 0), MK_E2BIG);
    mk_bytes_t *many = calloc(MK_RAFT_MAX_COMMANDS + 1, sizeof *many);
    assert_non_null(many);
    for (size_t i = 0; i <= MK_RAFT_MAX_COMMANDS; i++) many[i] = (mk_bytes_t){"x", 1};
    int rc = mk_raft_propose(r, 0, 3, many, MK_RAFT_MAX_COMMANDS + 1, 0, 0);
    free(many);
    assert_int_equal(rc, MK_E2BIG);
    /* refused calls leave nothing behind */
    assert_int_equal(r->fwds.n, 0);
    assert_int_equal(mk_raft_propose(r, 0, 4, &ok, 1, 0, 0), MK_OK);
    assert_int_equal(mk_raft_propose(r, 0, 5, &ok, 1, 0, 0), MK_OK);
    assert_int_equal(mk_raft_propose(r, 0, 6, &ok, 1, 0, 0), MK_EAGAIN);  /* max_pending_commands */
    pump(0);
    assert_int_equal(nodes[n].nresults, 0);
    tick(n, cc.forward_timeout_ms);
    assert_int_equal(nodes[n].nresults, 2);  /* only the two accepted calls end */
    assert_int_equal(mk_raft_propose(r, cc.forward_timeout_ms, 7, &ok, 1, 0, 0), MK_OK);
}

/* ---- safety guard ------------------------------------------------------------------------------------ */

static void truncating_a_config_entry_reverts_to_the_previous_configuration(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    int n = scripted_follower(NORMAL, &cc, 1, NULL, 0, 2);  /* {G1, NODE, G3} at 1 */
    /* G1 appends a CONFIG removing G3 (effective at once, though uncommitted) */
    mk_raft_voter_t two[2] = {{pid(G1), ginc(G1)}, {nodes[n].id, nodes[n].r->meta.incarnation}};
    mk_log_entry_t cfg[] = {e_config(1, two, 2)};
    append_from(n, 100, G1, 1, C(1, 2), 2, cfg, 1);
    mk_raft_status_t st = status(n);
    assert_int_equal(st.last.index, 3);
    assert_int_equal(st.nvoters, 2);
    assert_int_equal(nodes[n].r->config.index, 3);
    /* G3, leader of term 2 (elected by the old configuration), replaces it */
    mk_log_entry_t noop[] = {e_noop(2)};
    append_from(n, 200, G3, 2, C(1, 2), 2, noop, 1);
    st = status(n);
    assert_false(st.fatal);
    assert_int_equal(st.last.index, 3);
    assert_int_equal(st.last.term, 2);
    assert_int_equal(st.nvoters, 3);
    mk_peer_id_t g3 = pid(G3);
    assert_true(mk_id_eq(&st.voters[2].peer, &g3));
    assert_int_equal(nodes[n].r->config.index, 1);
    assert_true(last_cap(MK_RAFT_APPEND_RESP, G3)->m.append_resp.success);
}

/* Entries at or below the commit index are committed here already (and may be compacted): a follower
 * never rewrites them; one that differs can only come from a broken leader and is ignored. */
static void entries_at_or_below_the_commit_index_are_never_rewritten(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    const mk_term_t later[] = {1};
    int n = scripted_follower(NORMAL, &cc, 1, later, 1, 3);  /* terms 1 1 1, all committed */
    /* a broken leader of term 2 replaces committed entry 3 */
    mk_log_entry_t one[] = {e_noop(2)};
    append_from(n, 100, G3, 2, C(1, 2), 3, one, 1);
    mk_raft_status_t st = status(n);
    assert_false(st.fatal);
    assert_int_equal(st.commit, 3);
    assert_int_equal(st.last.index, 3);
    assert_int_equal(st.last.term, 1);
    assert_int_equal(term_at(n, 3), 1);
    assert_int_equal(kind_at(n, 3), MK_ENTRY_NOOP);
    /* the core keeps working: a later leader's heartbeat is taken */
    caps_clear();
    append_from(n, 200, G3, 5, C(1, 3), 3, NULL, 0);
    assert_int_equal(status(n).term, 5);
    assert_false(status(n).fatal);
    assert_true(last_cap(MK_RAFT_APPEND_RESP, G3)->m.append_resp.success);
}

/* Entries no correct leader sends (terms falling below prev's or the one before, or above the leader's
 * own term) are ignored: nothing written, no reply, no fatal stop. */
static void implausible_entries_are_ignored(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    const mk_term_t later[] = {2};
    int n = scripted_follower(NORMAL, &cc, 2, later, 1, 1);  /* terms 1 1 2 */
    mk_log_entry_t falling[] = {e_noop(2), e_noop(1)};
    append_from(n, 100, G1, 2, C(2, 3), 1, falling, 2);
    mk_log_entry_t below_prev[] = {e_noop(1)};
    append_from(n, 110, G1, 2, C(2, 3), 1, below_prev, 1);
    mk_log_entry_t above_leader[] = {e_noop(3)};
    append_from(n, 120, G1, 2, C(2, 3), 1, above_leader, 1);
    mk_raft_status_t st = status(n);
    assert_false(st.fatal);
    assert_int_equal(st.last.index, 3);
    assert_int_equal(st.last.term, 2);
    assert_int_equal(count_caps(MK_RAFT_APPEND_RESP, G1), 0);
    mk_log_entry_t fine[] = {e_noop(2)};  /* the same leader's next good message is taken */
    append_from(n, 130, G1, 2, C(2, 3), 1, fine, 1);
    assert_int_equal(status(n).last.index, 4);
    assert_true(last_cap(MK_RAFT_APPEND_RESP, G1)->m.append_resp.success);
}

/* ---- membership -------------------------------------------------------------------------------------- */

static void a_leader_promotes_caught_up_learners_one_voter_at_a_time(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_default();
    cc.max_voters = 3;
    int l = lone_leader(0x10, &cc);
    mk_consensus_config_t lc = cc_default();
    lc.bootstrap_delay_ms = 1000000;  /* the learners never think of bootstrapping */
    int b = add_node(0x30, &lc, NORMAL, 0), c = add_node(0x20, &lc, NORMAL, 0);
    bond(l, b, 200);
    bond(l, c, 200);
    pump(200);
    mk_raft_status_t sl = status(l);
    for (int i = 1; i < 3; i++) {  /* both caught up as learners of the leader's origin */
        mk_raft_status_t st = status(i);
        assert_true(st.has_origin);
        assert_memory_equal(st.origin.b, sl.origin.b, sizeof sl.origin.b);
        assert_int_equal(st.last.index, 2);
        assert_int_equal(st.commit, 2);
        assert_false(st.is_voter);
    }
    assert_int_equal(sl.nvoters, 1);
    assert_int_equal(sl.last.index, 2);

    /* a tick: one CONFIG adding the lowest PeerId (c = 0x20) */
    mk_raft_tick(nodes[l].r, 300);
    sl = status(l);
    assert_int_equal(sl.last.index, 3);
    mk_raft_body_t cfg = config_at(l, 3);
    assert_int_equal(cfg.config.nvoters, 2);
    assert_true(mk_id_eq(&cfg.config.voters[0].peer, &nodes[l].id));
    assert_true(mk_id_eq(&cfg.config.voters[1].peer, &nodes[c].id));
    assert_int_equal(cfg.config.voters[1].incarnation, nodes[c].r->meta.incarnation);
    assert_memory_equal(cfg.config.origin.b, sl.origin.b, sizeof sl.origin.b);
    assert_int_equal(sl.nvoters, 2);  /* effective once in the log */
    /* no second change while a CONFIG is above the commit index */
    mk_raft_tick(nodes[l].r, 310);
    assert_int_equal(status(l).last.index, 3);
    pump(310);
    assert_int_equal(status(l).commit, 3);
    assert_true(status(c).is_voter);
    assert_false(status(b).is_voter);

    /* the next tick adds b: three voters, the cap */
    tick(l, 400);
    assert_int_equal(status(l).last.index, 4);
    cfg = config_at(l, 4);
    assert_int_equal(cfg.config.nvoters, 3);
    tick(l, 500);
    for (int i = 0; i < 3; i++) {
        mk_raft_status_t st = status(i);
        assert_int_equal(st.nvoters, 3);
        assert_true(st.is_voter);
        assert_int_equal(st.commit, 4);
        assert_int_equal(st.last.index, 4);
    }
    tick(l, 600);
    assert_int_equal(status(l).last.index, 4);  /* max_voters reached */
}

static void promotion_needs_a_fresh_caught_up_non_observer_learner(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_default();
    cc.max_voters = 3;
    int l = lone_leader(0x10, &cc);
    mk_id_t o = status(l).origin;
    ghost_up(l, 0x12, 200);  /* an Observer, caught up */
    ghost_up(l, 0x15, 200);  /* Normal, not caught up */
    ghost_up(l, 0x18, 200);  /* Normal, caught up, then silent */
    inject(l, 200, 0x12, hello_msg(true, o, false, OBSERVER));
    inject(l, 200, 0x15, hello_msg(true, o, false, NORMAL));
    inject(l, 200, 0x18, hello_msg(true, o, false, NORMAL));
    inject(l, 200, 0x12, append_ok(1, 2));
    inject(l, 200, 0x18, append_ok(1, 2));
    inject(l, 1300, 0x12, append_ok(1, 2));
    inject(l, 1300, 0x15, hello_msg(true, o, false, NORMAL));
    tick(l, 1300);  /* 0x18 last heard 1100 ms ago > 2 × heartbeat_interval */
    assert_int_equal(status(l).last.index, 2);
    assert_int_equal(status(l).nvoters, 1);
    inject(l, 1400, 0x15, append_ok(1, 2));
    tick(l, 1400);
    assert_int_equal(status(l).last.index, 3);
    mk_raft_body_t cfg = config_at(l, 3);
    assert_int_equal(cfg.config.nvoters, 2);
    mk_peer_id_t g = pid(0x15);
    assert_true(mk_id_eq(&cfg.config.voters[1].peer, &g));
    assert_int_equal(cfg.config.voters[1].incarnation, ginc(0x15));
}

static void a_voter_back_with_a_new_incarnation_is_removed_at_once(void **state) {
    (void)state;
    int n = scripted_leader();
    inject(n, 5100, G3, append_ok(3, 4));
    assert_int_equal(status(n).commit, 4);
    tick(n, 5150);
    assert_int_equal(status(n).last.index, 4);  /* a healthy configuration: no change */
    mk_peer_id_t g1 = pid(G1);
    mk_raft_peer_up(nodes[n].r, 5200, &g1, ginc(G1) + 1);  /* G1 lost its disk */
    tick(n, 5200);
    mk_raft_status_t st = status(n);
    assert_int_equal(st.last.index, 5);
    assert_int_equal(st.nvoters, 2);
    mk_raft_body_t cfg = config_at(n, 5);
    assert_int_equal(cfg.config.nvoters, 2);
    assert_true(mk_id_eq(&cfg.config.voters[0].peer, &nodes[n].id));
    mk_peer_id_t g3 = pid(G3);
    assert_true(mk_id_eq(&cfg.config.voters[1].peer, &g3));
    assert_int_equal(term_at(n, 5), 3);
}

static void a_divergent_origin_is_abandoned_only_without_commands(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_default();
    int l = lone_leader(0x42, &cc);
    mk_raft_status_t st = status(l);
    mk_id_t o = st.origin, hi, lo = MK_ID_ZERO;
    memset(hi.b, 0xff, sizeof hi.b);
    lo.b[31] = 1;
    assert_true(mk_id_cmp(&lo, &o) < 0);
    assert_true(mk_id_cmp(&o, &hi) < 0);
    ghost_up(l, 0x50, 200);
    ghost_up(l, 0x51, 200);
    pump(200);
    /* a peer of a higher origin without commands: we keep ours and flag the divergence */
    inject_as(l, 300, 0x50, hello_msg(true, hi, false, NORMAL), hi);
    st = status(l);
    assert_true(st.diverged);
    assert_true(nodes[l].ev_diverged);
    assert_true(st.has_origin);
    assert_memory_equal(st.origin.b, o.b, sizeof o.b);
    assert_int_equal(st.role, MK_RAFT_LEADER);
    /* its Raft messages are ignored */
    caps_clear();
    inject_as(l, 300, 0x50, (mk_raft_msg_t){.kind = MK_RAFT_APPEND, .append = {.term = 9, .prev = {1, 2}, .commit = 2}},
              hi);
    assert_int_equal(status(l).term, 1);
    assert_int_equal(status(l).role, MK_RAFT_LEADER);
    assert_int_equal(count_caps(MK_RAFT_APPEND_RESP, -1), 0);
    /* a peer of a lower origin: no command here, so this node abandons its origin */
    uint64_t inc = st.incarnation;
    inject_as(l, 400, 0x51, hello_msg(true, lo, false, NORMAL), lo);
    st = status(l);
    assert_false(st.has_origin);
    assert_int_equal(st.last.index, 0);
    assert_int_equal(st.term, 0);
    assert_int_equal(st.role, MK_RAFT_FOLLOWER);
    assert_false(st.has_leader);
    assert_int_equal(st.nvoters, 0);
    assert_int_equal(st.commit, 0);
    assert_int_equal(st.incarnation, inc);
    mk_hard_state_t hs;
    mk_store_meta_t meta;
    assert_int_equal(nodes[l].store->vt->load_state(nodes[l].store->self, &hs, &meta), MK_OK);
    assert_int_equal(hs.term, 0);
    assert_false(hs.has_vote);
    assert_false(meta.has_origin);
    assert_int_equal(meta.incarnation, inc);
    /* it waits for a group to take it in rather than bootstrapping again */
    for (int64_t t = 500; t <= 5000; t += 500) tick(l, t);
    assert_false(status(l).has_origin);

    /* a node holding a command never leaves its origin, whatever the other side holds */
    int k = lone_leader(0x43, &cc);
    mk_bytes_t cmd = {"keep", 4};
    assert_int_equal(mk_raft_propose(nodes[k].r, 200, 1, &cmd, 1, 0, 0), MK_OK);
    pump(200);
    assert_int_equal(status(k).commit, 3);
    ghost_up(k, 0x51, 300);
    inject_as(k, 300, 0x51, hello_msg(true, lo, true, NORMAL), lo);
    st = status(k);
    assert_true(st.has_origin);
    assert_true(st.diverged);
    assert_int_equal(st.last.index, 3);
    assert_int_equal(st.role, MK_RAFT_LEADER);
}

/* Regression (found by this test): abandoning an origin must re-evaluate `diverged`, which cannot hold
 * without an origin; a stale flag would also hide the next DIVERGED event (raised only on a false →
 * true change). Sequence: lone leader 0x42 bootstrapped at t=100; ghosts 0x50 and 0x51 bonded;
 * Hello{origin ff..ff, no commands} from 0x50 (diverged = true, origin kept); Hello{origin 00..01, no
 * commands} from 0x51 (abandon) → status.diverged is false. */
static void abandoning_an_origin_clears_the_diverged_flag(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_default();
    int l = lone_leader(0x42, &cc);
    mk_id_t hi, lo = MK_ID_ZERO;
    memset(hi.b, 0xff, sizeof hi.b);
    lo.b[31] = 1;
    ghost_up(l, 0x50, 200);
    ghost_up(l, 0x51, 200);
    pump(200);
    inject_as(l, 300, 0x50, hello_msg(true, hi, false, NORMAL), hi);
    assert_true(status(l).diverged);
    inject_as(l, 400, 0x51, hello_msg(true, lo, false, NORMAL), lo);
    mk_raft_status_t st = status(l);
    assert_false(st.has_origin);  /* abandoned */
    assert_false(st.diverged);    /* no origin, so nothing kept apart */
}

static void a_restarted_core_resumes_term_vote_commit_and_config_from_its_store(void **state) {
    (void)state;
    mk_consensus_config_t cc = cc_scripted();
    int n = scripted_follower(NORMAL, &cc, 1, NULL, 0, 2);
    inject(n, 3000, G3, vote_msg(MK_RAFT_VOTE, 3, C(1, 2)));
    assert_true(last_cap(MK_RAFT_VOTE_RESP, G3)->m.vote_resp.granted);
    uint64_t inc = nodes[n].r->meta.incarnation;
    /* a durable restart: a new core over the same store */
    mk_raft_free(nodes[n].r);
    mk_raft_config_t rc = {.self = nodes[n].id, .cc = cc, .preference = NORMAL, .store = nodes[n].store, .seed = 99};
    mk_error_t e;
    nodes[n].r = mk_raft_new(&rc, 4000, &e);
    assert_non_null(nodes[n].r);
    nodes[n].applied = 0;  /* the machine is rebuilt from the start of the log */
    mk_raft_status_t st = status(n);
    assert_int_equal(st.term, 3);
    assert_int_equal(st.role, MK_RAFT_FOLLOWER);
    assert_false(st.has_leader);
    assert_true(st.has_origin);
    mk_id_t o = test_origin();
    assert_memory_equal(st.origin.b, o.b, sizeof o.b);
    assert_int_equal(st.incarnation, inc);
    assert_int_equal(st.nvoters, 3);
    assert_true(st.is_voter);
    assert_int_equal(st.last.index, 2);
    assert_int_equal(st.commit, 2);  /* the persisted hint */
    assert_int_equal(st.applied, 0);
    ghost_up(n, G1, 4000);
    ghost_up(n, G3, 4000);
    pump(4000);
    assert_int_equal(nodes[n].applied, 2);  /* re-applied from the start */
    caps_clear();
    /* the vote of term 3 is remembered */
    inject(n, 4000, G1, vote_msg(MK_RAFT_VOTE, 3, C(1, 2)));
    assert_false(last_cap(MK_RAFT_VOTE_RESP, G1)->m.vote_resp.granted);
    inject(n, 4000, G3, vote_msg(MK_RAFT_VOTE, 3, C(1, 2)));
    assert_true(last_cap(MK_RAFT_VOTE_RESP, G3)->m.vote_resp.granted);
}

/* ---- end to end -------------------------------------------------------------------------------------- */

static void a_follower_forwards_a_proposal_and_reads_through_the_leader(void **state) {
    (void)state;
    int l = three_node_cluster();
    int f = (l + 1) % 3;
    mk_bytes_t cmd = {"hello", 5};
    assert_int_equal(mk_raft_propose(nodes[f].r, 400, 11, &cmd, 1, 0, 0), MK_OK);
    pump(400);
    assert_int_equal(nodes[f].nresults, 1);
    assert_int_equal(nodes[f].results[0].status, MK_OK);
    assert_int_equal(nodes[f].results[0].range.first, 3);
    assert_int_equal(nodes[f].results[0].range.last, 3);
    assert_int_equal(nodes[f].results[0].range.term, 1);
    tick_all(500);  /* the heartbeat carries the new commit index */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(status(i).commit, 3);
        assert_int_equal(nodes[i].applied, 3);
        mk_log_entry_t e;
        assert_int_equal(nodes[i].store->vt->get(nodes[i].store->self, 3, &e), MK_OK);
        mk_raft_body_t b;
        assert_int_equal(mk_raft_body_decode(MK_ENTRY_COMMAND, e.body, e.len, &b, NULL), MK_OK);
        assert_int_equal(b.command.payload.len, 5);
        assert_memory_equal(b.command.payload.ptr, "hello", 5);
    }
    mk_raft_read_index(nodes[f].r, 600, 12);
    pump(600);
    assert_int_equal(nodes[f].nreads, 1);
    assert_true(nodes[f].reads[0].ok);
    assert_int_equal(nodes[f].reads[0].read_index, 3);
}

static void an_isolated_leader_steps_down_and_the_majority_elects_anew(void **state) {
    (void)state;
    int l = three_node_cluster();
    nodes[l].isolated = true;
    bool stepped_down = false;
    for (int64_t t = 310; t <= 8000; t += 10) {
        tick_all(t);
        caps_clear();
        mk_raft_status_t st = status(l);
        assert_int_equal(st.term, 1);  /* its PreVotes never raise its term */
        if (!stepped_down && st.role != MK_RAFT_LEADER) {
            stepped_down = true;
            assert_int_equal(st.role, MK_RAFT_FOLLOWER);  /* CheckQuorum, within election_timeout + a tick */
            assert_true(t <= 300 + 2000 + 10);
            assert_false(st.has_leader);
        }
    }
    assert_true(stepped_down);
    int nl = -1;
    for (int i = 0; i < 3; i++)
        if (i != l && status(i).role == MK_RAFT_LEADER) nl = i;
    assert_true(nl >= 0);
    mk_raft_status_t sn = status(nl);
    assert_int_equal(sn.term, 2);
    assert_int_equal(sn.commit, 3);  /* its NOOP, with the other follower */
    /* healed: the old leader learns the new term from the first AppendEntries and follows */
    nodes[l].isolated = false;
    for (int64_t t = 8010; t <= 9000; t += 10) tick_all(t);
    for (int i = 0; i < 3; i++) {
        mk_raft_status_t st = status(i);
        assert_int_equal(st.term, 2);
        assert_true(st.has_leader);
        assert_true(mk_id_eq(&st.leader, &nodes[nl].id));
        assert_int_equal(st.commit, 3);
        assert_int_equal(st.last.index, 3);
        assert_int_equal(term_at(i, 3), 2);
    }
}

/* Leadership transfer (01-decisions): the leaving leader sends TimeoutNow to the most caught-up voter,
 * which campaigns at once without PreVote; the other voter, whose bond to the old leader is down, grants
 * despite stickiness; a TimeoutNow from anyone but the leader, or of another term, is ignored. */
static void a_departing_leader_hands_over_without_an_election_timeout(void **state) {
    (void)state;
    int l = three_node_cluster();
    int f1 = (l + 1) % 3, f2 = (l + 2) % 3;
    /* a TimeoutNow from a follower, or one of an old term, changes nothing */
    mk_raft_msg_t tn = {.kind = MK_RAFT_TIMEOUT_NOW, .timeout_now = {.term = status(l).term}};
    mk_raft_step(nodes[f1].r, 310, &nodes[f2].id, &tn);
    tn.timeout_now.term = status(l).term - 1;
    mk_raft_step(nodes[f1].r, 310, &nodes[l].id, &tn);
    assert_int_equal(status(f1).role, MK_RAFT_FOLLOWER);
    mk_term_t term = status(l).term;
    mk_peer_id_t to;
    assert_true(mk_raft_transfer(nodes[l].r, 320, &to));
    assert_false(mk_raft_transfer(nodes[f1].r, 320, &to));  /* only a leader hands over */
    int t = mk_id_eq(&to, &nodes[f1].id) ? f1 : f2, other = t == f1 ? f2 : f1;
    assert_true(mk_id_eq(&to, &nodes[t].id));
    /* the departure reaches the other follower first: its bond to the old leader goes down */
    mk_raft_peer_down(nodes[other].r, 320, &nodes[l].id);
    pump(320);  /* TimeoutNow → RequestVote → votes, well inside one election timeout */
    nodes[l].isolated = true;
    mk_raft_peer_down(nodes[t].r, 321, &nodes[l].id);
    for (int64_t now = 330; now <= 400; now += 10) tick_all(now);
    mk_raft_status_t st = status(t);
    assert_int_equal(st.role, MK_RAFT_LEADER);
    assert_int_equal(st.term, term + 1);
    mk_raft_status_t so = status(other);
    assert_true(so.has_leader);
    assert_true(mk_id_eq(&so.leader, &nodes[t].id));
}


/* ---- live entries during a catch-up session (spec 40 §8.1, raft/syncbuf.c) ---- */

static mk_raft_msg_t append_syncing(mk_term_t term, mk_index_t conflict_index) {
    mk_raft_msg_t m = append_reject(term, conflict_index, 0);
    m.append_resp.syncing = true;
    return m;
}

/* A scripted follower [CONFIG t1, NOOP t1] (commit 2) set up for snapshot sync with replay_batch 4. */
static int snapshot_follower(size_t buffer_max) {
    mk_consensus_config_t cc = cc_scripted();
    int n = scripted_follower(NORMAL, &cc, 1, NULL, 0, 2);
    mk_raft_t *r = nodes[n].r;
    r->cfg.snapshot_sync = true;
    r->cfg.sync.kind = MK_SYNC_SNAPSHOT;
    r->cfg.sync.replay_batch = 4;
    r->cfg.sync.sync_buffer_max_bytes = buffer_max;
    return n;
}

/* The driver installed the machine state of a snapshot at `anchor` (configuration of entry 1). */
static void install_snapshot(int n, int64_t now, mk_cursor_t anchor) {
    mk_raft_body_t cfg = config_at(n, 1);
    mk_error_t e;
    assert_int_equal(mk_raft_install_snapshot(nodes[n].r, now, anchor, &cfg, 1, true, &e), MK_OK);
    nodes[n].applied = anchor.index;
}

static void a_syncing_follower_buffers_live_entries_and_takes_them_after_its_snapshot(void **state) {
    (void)state;
    int n = snapshot_follower(0);
    mk_log_entry_t three[] = {e_cmd(1, "a"), e_cmd(1, "b"), e_cmd(1, "c")}, two[] = {e_cmd(1, "d"), e_cmd(1, "e")};
    /* the leader's log ends far beyond ours and its commit is more than replay_batch past our last */
    append_from(n, 100, G1, 1, C(1, 50), 60, three, 3);
    const cap_t *c = last_cap(MK_RAFT_APPEND_RESP, G1);
    assert_true(c->m.append_resp.syncing);
    assert_int_equal(c->m.append_resp.conflict_index, 3);
    assert_true(status(n).snapshotting);
    append_from(n, 110, G1, 1, C(1, 53), 60, two, 2);
    assert_true(last_cap(MK_RAFT_APPEND_RESP, G1)->m.append_resp.syncing);
    append_from(n, 115, G1, 1, C(1, 53), 60, two, 2);  /* a resend changes nothing */
    assert_int_equal(nodes[n].r->sbuf.n, 5);
    assert_int_equal(status(n).last.index, 2);  /* nothing written meanwhile */
    caps_clear();
    /* the snapshot at 52 arrives: the buffered 53..55 follow it and the leader learns match 55 */
    install_snapshot(n, 120, C(1, 52));
    pump(120);
    mk_raft_status_t st = status(n);
    assert_false(st.snapshotting);
    assert_int_equal(st.last.index, 55);
    assert_int_equal(st.commit, 55);
    c = last_cap(MK_RAFT_APPEND_RESP, G1);
    assert_non_null(c);
    assert_true(c->m.append_resp.success);
    assert_int_equal(c->m.append_resp.match, 55);
    assert_int_equal(nodes[n].r->sbuf.n, 0);
}

static void a_buffer_over_its_limit_is_dropped_and_the_leader_resumes_after_the_snapshot(void **state) {
    (void)state;
    mk_log_entry_t three[] = {e_cmd(1, "a"), e_cmd(1, "b"), e_cmd(1, "c")}, two[] = {e_cmd(1, "d"), e_cmd(1, "e")};
    size_t one = sizeof(mk_sbuf_entry_t) + three[0].len;
    int n = snapshot_follower(3 * one + one / 2);  /* room for three of these entries */
    append_from(n, 100, G1, 1, C(1, 50), 60, three, 3);
    assert_int_equal(nodes[n].r->sbuf.n, 3);
    append_from(n, 110, G1, 1, C(1, 53), 60, two, 2);  /* over the limit: all dropped */
    assert_int_equal(nodes[n].r->sbuf.n, 0);
    append_from(n, 115, G1, 1, C(1, 57), 60, two, 2);  /* 58, 59 kept: not contiguous with the snapshot */
    assert_int_equal(nodes[n].r->sbuf.n, 2);
    caps_clear();
    install_snapshot(n, 120, C(1, 52));
    pump(120);
    /* the answer names the snapshot's anchor (verified), never an unverified tail */
    const cap_t *c = last_cap(MK_RAFT_APPEND_RESP, G1);
    assert_true(c->m.append_resp.success);
    assert_int_equal(c->m.append_resp.match, 52);
    assert_int_equal(status(n).last.index, 52);
}

static void a_syncing_follower_takes_entries_that_follow_its_log(void **state) {
    (void)state;
    int n = snapshot_follower(0);
    mk_log_entry_t one[] = {e_cmd(1, "a")}, two[] = {e_cmd(1, "b"), e_cmd(1, "c")};
    append_from(n, 100, G1, 1, C(1, 50), 60, one, 1);
    assert_true(status(n).snapshotting);
    /* a leader that needs this voter for its quorum falls back to AppendEntries from our last entry */
    append_from(n, 200, G1, 1, C(1, 2), 3, two, 2);
    const cap_t *c = last_cap(MK_RAFT_APPEND_RESP, G1);
    assert_true(c->m.append_resp.success);
    assert_int_equal(c->m.append_resp.match, 4);
    mk_raft_status_t st = status(n);
    assert_int_equal(st.last.index, 4);
    assert_int_equal(st.commit, 3);
    assert_true(st.snapshotting);  /* the fetch goes on */
    /* a snapshot whose anchor the log holds keeps the entries after it (they were acknowledged) */
    mk_log_entry_t more[] = {e_cmd(1, "d")};
    append_from(n, 210, G1, 1, C(1, 4), 3, more, 1);
    install_snapshot(n, 220, C(1, 4));
    st = status(n);
    assert_int_equal(st.commit, 4);
    assert_int_equal(st.last.index, 5);
    assert_int_equal(term_at(n, 5), 1);
    assert_false(st.snapshotting);
}

static void a_leader_that_needs_a_syncing_voter_falls_back_to_append_entries(void **state) {
    (void)state;
    int n = scripted_leader();  /* terms 1 1 2 3, commit 2; voters G1, NODE, G3 */
    mk_raft_t *r = nodes[n].r;
    mk_peer_id_t g1 = pid(G1), g3 = pid(G3);
    inject(n, 5100, G1, append_syncing(3, 2));
    mk_rpeer_t *p = mk_raft_peer(r, &g1);
    assert_int_equal(p->state, MK_PROG_SYNCING);
    assert_int_equal(p->next, 5);  /* new entries from here on: it buffers them */
    assert_false(mk_raft_quorum_waits_for(r, &g1));  /* G3 replicates: a quorum without G1 */
    mk_raft_peer_down(r, 5100, &g3);
    assert_true(mk_raft_quorum_waits_for(r, &g1));
    caps_clear();
    tick(n, 5200);  /* not yet: an election timeout after it began syncing */
    assert_int_equal(p->state, MK_PROG_SYNCING);
    assert_int_equal(r->syncing_fallbacks, 0);
    inject(n, 7000, G1, append_syncing(3, 2));  /* it keeps answering (CheckQuorum hears it) */
    caps_clear();
    tick(n, 5100 + 2000);
    assert_int_equal(r->syncing_fallbacks, 1);
    assert_int_equal(p->state, MK_PROG_PROBE);
    const cap_t *a = last_cap(MK_RAFT_APPEND, G1);
    assert_non_null(a);
    assert_int_equal(a->m.append.prev.index, 1);  /* from the end of its log */
    assert_int_equal(a->m.append.nentries, 3);
    inject(n, 7200, G1, append_ok(3, 4));
    assert_int_equal(p->state, MK_PROG_REPLICATE);
    assert_int_equal(status(n).commit, 4);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(lone_node_bootstraps_as_leader_of_term_1),
        T(three_empty_nodes_bootstrap_once_from_the_lowest_peer),
        T(an_empty_node_bootstraps_only_as_the_lowest_normal_member_of_no_group),
        T(request_vote_is_granted_once_per_term_and_persisted_first),
        T(request_vote_is_denied_to_a_less_up_to_date_log),
        T(pre_vote_keeps_the_term_and_respects_a_live_leader),
        T(a_follower_of_a_live_leader_drops_request_vote_unread),
        T(higher_terms_depose_a_leader_and_stale_appends_learn_the_term),
        T(check_quorum_steps_down_without_changing_the_term),
        T(reluctant_timers_are_scaled_and_observers_never_campaign),
        T(an_observer_denies_votes_and_pre_votes),
        T(a_campaign_without_a_majority_times_out_to_follower),
        T(append_rejects_a_mismatched_prev_with_a_conflict_hint),
        T(append_truncates_a_conflicting_tail_and_replies_prev_plus_n),
        T(leader_backs_off_with_the_conflict_hint),
        T(an_idle_leader_heartbeats_every_interval),
        T(leader_commits_only_entries_of_its_own_term),
        T(an_unsynced_leader_entry_does_not_count_for_its_own_match),
        T(entries_are_applied_at_most_1024_per_batch),
        T(read_index_on_a_lone_leader_and_on_a_leaderless_follower),
        T(read_index_on_a_follower_asks_its_leader),
        T(a_proposal_without_a_leader_fails_offline_after_forward_timeout),
        T(a_proposal_is_forwarded_to_the_leader_and_acknowledged),
        T(a_waiting_proposal_is_appended_once_this_node_leads),
        T(propose_checks_its_arguments),
        T(truncating_a_config_entry_reverts_to_the_previous_configuration),
        T(entries_at_or_below_the_commit_index_are_never_rewritten),
        T(implausible_entries_are_ignored),
        T(a_leader_promotes_caught_up_learners_one_voter_at_a_time),
        T(promotion_needs_a_fresh_caught_up_non_observer_learner),
        T(a_voter_back_with_a_new_incarnation_is_removed_at_once),
        T(a_divergent_origin_is_abandoned_only_without_commands),
        T(abandoning_an_origin_clears_the_diverged_flag),
        T(a_restarted_core_resumes_term_vote_commit_and_config_from_its_store),
        T(a_follower_forwards_a_proposal_and_reads_through_the_leader),
        T(an_isolated_leader_steps_down_and_the_majority_elects_anew),
        T(a_departing_leader_hands_over_without_an_election_timeout),
        T(a_syncing_follower_buffers_live_entries_and_takes_them_after_its_snapshot),
        T(a_buffer_over_its_limit_is_dropped_and_the_leader_resumes_after_the_snapshot),
        T(a_syncing_follower_takes_entries_that_follow_its_log),
        T(a_leader_that_needs_a_syncing_voter_falls_back_to_append_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
