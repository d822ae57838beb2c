/* groups/raft/member.c — who votes (spec 40 §3.7–§3.9): the configuration is the latest CONFIG entry
 * of the log (truncation reverts to the previous one); Hello exchange; safe bootstrap (delay, expected
 * members, lowest PeerId writes entry 1); automatic membership on the leader (removal before promotion,
 * one voter per committed change); divergent origins (abandon an origin without commands, else flag). */
#include "groups/raft/raft_int.h"

#include "core/blake3.h"

#include <stdlib.h>
#include <string.h>

/* ---- configurations in the log ---- */

static int load_config_at(mk_raft_t *r, mk_index_t index, mk_rconfig_t *out) {
    mk_log_entry_t e;
    if (r->store->vt->get(r->store->self, index, &e) != MK_OK || e.kind != MK_ENTRY_CONFIG) return MK_ENOTFOUND;
    mk_raft_body_t b;
    if (mk_raft_body_decode(MK_ENTRY_CONFIG, e.body, e.len, &b, NULL) != MK_OK) return MK_EPROTO;
    out->index = index;
    out->origin = b.config.origin;
    out->nvoters = b.config.nvoters;
    memcpy(out->voters, b.config.voters, b.config.nvoters * sizeof *out->voters);
    return MK_OK;
}

int mk_raft_config_load(mk_raft_t *r) {
    memset(&r->config, 0, sizeof r->config);
    r->config_log.n = 0;
    mk_index_t first, last;
    r->store->vt->available(r->store->self, &first, &last);
    for (mk_index_t i = first; i <= last; i++) {
        mk_log_entry_t e;
        if (r->store->vt->get(r->store->self, i, &e) != MK_OK) return MK_EIO;
        if (e.kind == MK_ENTRY_COMMAND) r->meta.has_commands = true;
        if (e.kind != MK_ENTRY_CONFIG) continue;
        mk_index_t *slot = MK_VEC_PUSH(&r->config_log);
        if (!slot) return MK_ENOMEM;
        *slot = i;
    }
    if (r->config_log.n && load_config_at(r, r->config_log.v[r->config_log.n - 1], &r->config) != MK_OK) return MK_EPROTO;
    if (!r->config_log.n) r->config = r->base_config;  /* compacted: the snapshot's */
    return MK_OK;
}

void mk_raft_config_on_append(mk_raft_t *r, const mk_log_entry_t *e) {
    if (e->kind == MK_ENTRY_COMMAND && !r->meta.has_commands) {
        r->meta.has_commands = true;
        r->state_dirty = true;
        mk_raft_divergence_check(r);  /* a peer of another origin now diverges from us */
    }
    if (e->kind != MK_ENTRY_CONFIG) return;
    mk_raft_body_t b;
    if (mk_raft_body_decode(MK_ENTRY_CONFIG, e->body, e->len, &b, NULL) != MK_OK) {
        mk_raft_fatal(r, "a CONFIG entry in the log does not decode");
        return;
    }
    mk_index_t *slot = MK_VEC_PUSH(&r->config_log);
    if (slot) *slot = e->index;
    r->config.index = e->index;
    r->config.origin = b.config.origin;
    r->config.nvoters = b.config.nvoters;
    memcpy(r->config.voters, b.config.voters, b.config.nvoters * sizeof *r->config.voters);
    r->ev_config = true;
    if (!r->meta.has_origin) {  /* entry 1 of a group: its origin becomes ours */
        r->meta.has_origin = true;
        r->meta.origin = b.config.origin;
        r->state_dirty = true;
    }
}

void mk_raft_config_on_truncate(mk_raft_t *r, mk_index_t from) {
    size_t n = r->config_log.n;
    while (r->config_log.n && r->config_log.v[r->config_log.n - 1] >= from) r->config_log.n--;
    if (n == r->config_log.n) return;
    memset(&r->config, 0, sizeof r->config);
    if (r->config_log.n && load_config_at(r, r->config_log.v[r->config_log.n - 1], &r->config) != MK_OK)
        mk_raft_fatal(r, "the previous CONFIG entry cannot be read back");
    if (!r->config_log.n) r->config = r->base_config;
    r->ev_config = true;
}

bool mk_raft_is_voter(const mk_raft_t *r, const mk_peer_id_t *id, uint64_t inc) {
    for (size_t i = 0; i < r->config.nvoters; i++)
        if (r->config.voters[i].incarnation == inc && mk_id_eq(&r->config.voters[i].peer, id)) return true;
    return false;
}

bool mk_raft_self_voter(const mk_raft_t *r) { return mk_raft_is_voter(r, &r->cfg.self, r->meta.incarnation); }

bool mk_raft_counts(const mk_raft_t *r, const mk_rpeer_t *p) { return p->bonded && mk_raft_is_voter(r, &p->id, p->inc); }

size_t mk_raft_quorum(const mk_raft_t *r) {
    if (!r->config.nvoters) return SIZE_MAX;
    if (r->cfg.test_dynamic_quorum) {  /* the mutation: whoever is bonded now decides */
        size_t n = mk_raft_self_voter(r) ? 1 : 0;
        for (size_t i = 0; i < r->npeers; i++) n += mk_raft_counts(r, &r->peers[i]);
        return n / 2 + 1;
    }
    return r->config.nvoters / 2 + 1;
}

bool mk_raft_origin_ok(mk_raft_t *r, const mk_raft_msg_t *m) {
    return !r->meta.has_origin || !m->has_origin || mk_id_eq(&m->origin, &r->meta.origin);
}

/* ---- Hello ---- */

void mk_raft_send_hello(mk_raft_t *r, const mk_peer_id_t *to) {
    mk_raft_msg_t m = {.kind = MK_RAFT_HELLO};
    m.hello.has_origin = r->meta.has_origin;
    m.hello.origin = r->meta.origin;
    m.hello.has_commands = r->meta.has_commands;
    m.hello.last = mk_raft_last(r);
    m.hello.commit = r->commit;
    m.hello.preference = r->cfg.preference;
    mk_raft_send(r, to, &m);
}

/* Hello carries origin, has_commands, last, commit and preference; it goes out when one of the first
 * two changes (last and commit ride along; they are hints for bootstrap and promotion). */
void mk_raft_hello_check(mk_raft_t *r) {
    bool changed = r->hello_due || r->hello_has_origin != r->meta.has_origin ||
                   r->hello_has_commands != r->meta.has_commands;
    /* also every election_timeout: a lost Hello must not keep a peer out of bootstrap or promotion */
    if (!changed && r->now - r->hello_sent_at < (int64_t)r->cfg.cc.election_timeout_ms) return;
    r->hello_sent_at = r->now;
    r->hello_due = false;
    r->hello_has_origin = r->meta.has_origin;
    r->hello_has_commands = r->meta.has_commands;
    for (size_t i = 0; i < r->npeers; i++)
        if (r->peers[i].bonded) mk_raft_send_hello(r, &r->peers[i].id);
}

static void abandon_origin(mk_raft_t *r) {
    mk_raft_sync_abort(r);
    /* Only NOOP and CONFIG entries are forgotten: this node never held a command. */
    if (r->store->vt->reset_to(r->store->self, (mk_cursor_t){0, 0}) != MK_OK) {
        mk_raft_fatal(r, "the log store cannot be emptied to join another origin");
        return;
    }
    r->hs = (mk_hard_state_t){0};
    r->meta.has_origin = false;
    memset(&r->meta.origin, 0, sizeof r->meta.origin);
    r->commit = r->applied = r->applying = r->synced = r->pending_synced = 0;
    memset(&r->config, 0, sizeof r->config);
    r->config_log.n = 0;
    r->state_dirty = r->log_dirty = true;
    r->ev_config = true;
    mk_raft_become_follower(r, 0, NULL);
    mk_raft_divergence_check(r);  /* without an origin nothing diverges */
}

void mk_raft_on_hello(mk_raft_t *r, mk_rpeer_t *p, const mk_raft_msg_t *m) {
    p->hello = true;
    p->has_origin = m->hello.has_origin;
    p->origin = m->hello.origin;
    p->has_commands = m->hello.has_commands;
    p->last = m->hello.last;
    p->commit = m->hello.commit;
    p->pref = m->hello.preference;
    mk_raft_sync_peer(r, p, true);  /* a session in progress may fetch from it */
    if (r->meta.has_origin && p->has_origin && !mk_id_eq(&p->origin, &r->meta.origin) && !r->meta.has_commands &&
        (p->has_commands || mk_id_cmp(&p->origin, &r->meta.origin) < 0)) {
        abandon_origin(r);  /* a bonded peer belongs to another history, and ours holds no command */
        return;
    }
    mk_raft_divergence_check(r);
}

/* diverged: some bonded peer currently reports another origin that we do not give ours up for. The
 * histories stay apart (each keeps electing and committing on its own side); the flag clears when no
 * such peer is bonded any more (one side was wiped or joined the other). A peer whose origin we would
 * abandon ours for (§3.9: no command here, and it has commands or a lower origin; its Hello may predate
 * our adopting an origin) is no divergence: its next Hello makes us abandon. */
void mk_raft_divergence_check(mk_raft_t *r) {
    bool d = false;
    for (size_t i = 0; i < r->npeers && r->meta.has_origin; i++) {
        const mk_rpeer_t *p = &r->peers[i];
        d |= p->bonded && p->hello && p->has_origin && !mk_id_eq(&p->origin, &r->meta.origin) &&
             (r->meta.has_commands || (!p->has_commands && mk_id_cmp(&p->origin, &r->meta.origin) > 0));
    }
    if (d && !r->diverged) r->ev_diverged = true;
    r->diverged = d;
}

/* ---- bootstrap ---- */

static uint32_t factor(const mk_raft_t *r) {
    return r->cfg.preference.kind == MK_LEAD_RELUCTANT && r->cfg.preference.factor ? r->cfg.preference.factor : 1;
}

static int cmp_voter(const void *a, const void *b) {
    return mk_id_cmp(&((const mk_raft_voter_t *)a)->peer, &((const mk_raft_voter_t *)b)->peer);
}

void mk_raft_bootstrap_tick(mk_raft_t *r) {
    if (r->meta.has_origin || r->cfg.preference.kind == MK_LEAD_OBSERVER) return;
    if (r->now - r->created_at < (int64_t)r->cfg.cc.bootstrap_delay_ms * factor(r)) return;
    /* S = this node + bonded empty-store non-Observer peers; a peer with an origin means a group exists */
    mk_raft_voter_t s[MK_RAFT_MAX_PEERS + 1];
    bool normal[MK_RAFT_MAX_PEERS + 1];
    size_t n = 0;
    s[n] = (mk_raft_voter_t){.peer = r->cfg.self, .incarnation = r->meta.incarnation};
    normal[n++] = r->cfg.preference.kind == MK_LEAD_NORMAL;
    for (size_t i = 0; i < r->npeers; i++) {
        mk_rpeer_t *p = &r->peers[i];
        if (!p->bonded || !p->hello) continue;
        if (p->has_origin) return;  /* join it as a learner instead */
        if (p->pref.kind == MK_LEAD_OBSERVER) continue;
        s[n] = (mk_raft_voter_t){.peer = p->id, .incarnation = p->inc};
        normal[n++] = p->pref.kind == MK_LEAD_NORMAL;
    }
    if (n < r->cfg.cc.bootstrap_expect) return;
    bool any_normal = false;
    for (size_t i = 0; i < n; i++) any_normal |= normal[i];
    for (size_t i = 1; i < n; i++)  /* the lowest PeerId among the Normal (else Reluctant) members writes entry 1 */
        if (normal[i] == any_normal && mk_id_cmp(&s[i].peer, &r->cfg.self) < 0) return;
    if (normal[0] != any_normal) return;
    qsort(s + 1, n - 1, sizeof *s, cmp_voter);
    size_t nv = n < r->cfg.cc.max_voters ? n : r->cfg.cc.max_voters;
    mk_raft_body_t b = {.kind = MK_ENTRY_CONFIG};
    uint8_t seed[32];
    for (int i = 0; i < 4; i++) {
        uint64_t x = mk_raft_rand(r);
        memcpy(seed + 8 * i, &x, 8);
    }
    mk_blake3_t h;
    mk_blake3_init(&h);
    mk_blake3_update(&h, "libmosaik/groups/origin", strlen("libmosaik/groups/origin"));
    mk_blake3_update(&h, r->cfg.self.b, sizeof r->cfg.self.b);
    mk_blake3_update(&h, seed, sizeof seed);
    mk_blake3_finalize(&h, b.config.origin.b);
    b.config.nvoters = nv;
    memcpy(b.config.voters, s, nv * sizeof *s);
    qsort(b.config.voters, nv, sizeof *s, cmp_voter);
    mk_buf_t body = MK_BUF_INIT;
    if (mk_raft_body_encode(&b, &body, NULL) != MK_OK) {
        mk_buf_free(&body);
        return;
    }
    mk_log_entry_t e = {.index = 1, .term = 1, .kind = MK_ENTRY_CONFIG, .body = body.ptr, .len = body.len};
    int rc = mk_raft_store_append(r, &e, 1);  /* adopts the origin */
    mk_buf_free(&body);
    if (rc != MK_OK) return;
    mk_raft_campaign(r, false);  /* the next term (1 on a fresh store), no PreVote; one voter leads at once */
}

/* ---- automatic membership (leader) ---- */

static void propose_config(mk_raft_t *r, const mk_raft_voter_t *v, size_t n) {
    mk_raft_body_t b = {.kind = MK_ENTRY_CONFIG};
    b.config.origin = r->meta.origin;
    b.config.nvoters = n;
    memcpy(b.config.voters, v, n * sizeof *v);
    qsort(b.config.voters, n, sizeof *v, cmp_voter);
    mk_buf_t body = MK_BUF_INIT;
    if (mk_raft_body_encode(&b, &body, NULL) == MK_OK) {
        mk_raft_append_local(r, MK_ENTRY_CONFIG, body.ptr, body.len, NULL);
        mk_raft_broadcast(r, false);
    }
    mk_buf_free(&body);
}

/* A voter to remove: unbonded or unheard for voter_removal_timeout, bonded as another incarnation
 * (it lost its disk), or now an Observer. Never the leader itself. */
static bool should_remove(mk_raft_t *r, const mk_raft_voter_t *v) {
    if (mk_id_eq(&v->peer, &r->cfg.self)) return false;
    int64_t timeout = (int64_t)r->cfg.cc.voter_removal_timeout_ms;
    mk_rpeer_t *p = mk_raft_peer(r, &v->peer);
    if (!p) return r->now - r->leader_since >= timeout;
    if (p->bonded && p->inc != v->incarnation) return true;
    if (p->bonded && p->hello && p->pref.kind == MK_LEAD_OBSERVER) return true;
    int64_t since = p->bonded ? p->last_heard : (p->unbonded_since > r->leader_since ? p->unbonded_since : r->leader_since);
    if (!p->bonded && p->last_heard > since) since = p->last_heard;
    return r->now - since >= timeout && r->now - r->leader_since >= timeout;
}

void mk_raft_membership_tick(mk_raft_t *r) {
    if (!r->noop_index || r->commit < r->noop_index || r->config.index > r->commit) return;
    mk_raft_voter_t v[MK_RAFT_MAX_VOTERS];
    size_t n = r->config.nvoters;
    memcpy(v, r->config.voters, n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        if (!should_remove(r, &v[i])) continue;
        v[i] = v[--n];
        propose_config(r, v, n);
        return;
    }
    if (n >= r->cfg.cc.max_voters) return;
    mk_rpeer_t *best = NULL;
    int64_t fresh = 2 * (int64_t)r->cfg.cc.heartbeat_interval_ms;
    for (size_t i = 0; i < r->npeers; i++) {
        mk_rpeer_t *p = &r->peers[i];
        if (!p->bonded || !p->hello || !p->has_origin || !mk_id_eq(&p->origin, &r->meta.origin)) continue;
        if (p->pref.kind == MK_LEAD_OBSERVER || p->match < r->commit || r->now - p->last_heard > fresh) continue;
        bool voter = false;
        for (size_t k = 0; k < n; k++) voter |= mk_id_eq(&v[k].peer, &p->id);
        if (voter) continue;
        if (!best || mk_id_cmp(&p->id, &best->id) < 0) best = p;
    }
    if (!best) return;
    v[n++] = (mk_raft_voter_t){.peer = best->id, .incarnation = best->inc};
    propose_config(r, v, n);
}
