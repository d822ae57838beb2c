/* groups/raft/syncbuf.c — live entries during a catch-up session (spec 40 §8.1, §8.2): while a follower
 * fetches committed entries or a snapshot from its peers, the leader keeps sending it what it appends;
 * entries that do not follow the follower's log yet are kept here as one contiguous run (at most
 * sync_buffer_max_bytes; a gap or an overflow drops the run and the leader resends later). When the
 * session ends the run goes through the ordinary AppendEntries rules and the leader gets the answer, so
 * replication resumes after the buffered entries instead of re-sending them. */
#include "groups/raft/raft_int.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_BUFFER_MAX ((size_t)64 << 20)

void mk_raft_sbuf_clear(mk_raft_t *r) {
    for (size_t i = 0; i < r->sbuf.n; i++) free(r->sbuf.v[i].body);
    free(r->sbuf.v);
    memset(&r->sbuf, 0, sizeof r->sbuf);
    r->sbuf_bytes = 0;
    r->sbuf_commit = 0;
    r->sbuf_read_seq = 0;
}

void mk_raft_sbuf_add(mk_raft_t *r, const mk_raft_msg_t *m) {
    if (m->append.term != r->sbuf_term) {  /* another leader: its predecessor's entries may be stale */
        mk_raft_sbuf_clear(r);
        r->sbuf_term = m->append.term;
    }
    if (m->append.commit > r->sbuf_commit) r->sbuf_commit = m->append.commit;
    if (m->append.read_seq > r->sbuf_read_seq) r->sbuf_read_seq = m->append.read_seq;
    if (!m->append.nentries) return;
    size_t max = r->cfg.sync.sync_buffer_max_bytes ? r->cfg.sync.sync_buffer_max_bytes : DEFAULT_BUFFER_MAX;
    mk_index_t end = r->sbuf.n ? r->sbuf.v[r->sbuf.n - 1].index : 0;
    mk_term_t prev_term = m->append.prev.term;
    for (size_t i = 0; i < m->append.nentries; i++) {
        const mk_log_entry_t *e = &m->append.entries[i];
        mk_term_t pt = prev_term;
        prev_term = e->term;
        if (r->sbuf.n && e->index <= end) continue;  /* a resend of what we keep (same leader: same entry) */
        if (r->sbuf.n && e->index != end + 1) mk_raft_sbuf_clear(r), r->sbuf_term = m->append.term;  /* a gap */
        if (r->sbuf_bytes + e->len + sizeof(mk_sbuf_entry_t) > max) {  /* overflow: the leader resends later */
            mk_raft_sbuf_clear(r);
            r->sbuf_term = m->append.term;
            return;
        }
        uint8_t *body = NULL;
        if (e->len && !(body = malloc(e->len))) return;
        mk_sbuf_entry_t *b = MK_VEC_PUSH(&r->sbuf);
        if (!b) {
            free(body);
            return;
        }
        if (e->len) memcpy(body, e->body, e->len);
        *b = (mk_sbuf_entry_t){.index = e->index, .term = e->term, .prev_term = pt, .kind = e->kind, .body = body,
                               .len = e->len};
        r->sbuf_bytes += e->len + sizeof *b;
        end = e->index;
    }
}

void mk_raft_sbuf_flush(mk_raft_t *r) {
    if (r->fatal || r->role != MK_RAFT_FOLLOWER || !r->has_leader) {
        mk_raft_sbuf_clear(r);
        return;
    }
    if (r->sbuf_term != r->hs.term) mk_raft_sbuf_clear(r);  /* from an older leader: only the answer below */
    mk_rpeer_t *p = mk_raft_peer(r, &r->leader);
    if (!p || !p->bonded) {
        mk_raft_sbuf_clear(r);
        return;
    }
    /* the buffered run from the first entry that follows our log (older ones are committed here now) */
    mk_index_t last = mk_raft_last(r).index;
    size_t from = 0;
    while (from < r->sbuf.n && r->sbuf.v[from].index <= r->commit) from++;
    mk_raft_msg_t m = {.kind = MK_RAFT_APPEND};
    m.append.term = r->hs.term;
    m.append.commit = r->sbuf_commit;
    m.append.read_seq = r->sbuf_read_seq;
    mk_log_entry_t *ents = NULL;
    size_t n = r->sbuf.n - from;
    if (n && r->sbuf.v[from].index <= last + 1 && (ents = calloc(n, sizeof *ents))) {
        for (size_t i = 0; i < n; i++) {
            const mk_sbuf_entry_t *b = &r->sbuf.v[from + i];
            ents[i] = (mk_log_entry_t){.index = b->index, .term = b->term, .kind = b->kind, .body = b->body, .len = b->len};
        }
        m.append.prev = (mk_cursor_t){.index = ents[0].index - 1, .term = r->sbuf.v[from].prev_term};
        m.append.entries = ents;
        m.append.nentries = n;
    } else {  /* nothing usable: an empty append at our commit index (verified, unlike a tail) tells the
               * leader where to resume */
        bool ok;
        m.append.prev = (mk_cursor_t){.index = r->commit, .term = mk_raft_term_at(r, r->commit, &ok)};
    }
    mk_raft_msg_t resp = {.kind = MK_RAFT_APPEND_RESP};
    resp.append_resp.term = r->hs.term;
    resp.append_resp.read_seq = m.append.read_seq;
    if (mk_raft_prev_matches(r, m.append.prev)) mk_raft_follow(r, NULL, &m, &resp);
    else resp.append_resp.conflict_index = last + 1;
    free(ents);
    mk_raft_sbuf_clear(r);
    if (!r->fatal) mk_raft_send(r, &p->id, &resp);
}
