/* fuzz/fuzz_raft_step.c — the consensus core fed hostile messages (spec 40 §11.3: "step fed random
 * decoded messages never aborts"). A node with a one-voter group of its own (so it is a leader with a
 * log and a commit index) is bonded to two peers; the input is a script: each record picks a peer, a
 * clock step and a length, and its bytes are decoded as a Raft message and stepped in (undecodable
 * ones are skipped), with ticks, proposals and read requests in between. The core must never crash,
 * never let its commit index pass its last entry or move backwards while it holds commands, and only
 * ever emit messages that decode. A fatal stop (a peer asking to truncate committed entries) is allowed: the core then
 * ignores everything. */
#include "fuzz/fuzz_check.h"
#include "groups/raft/raft_int.h"

#include <string.h>

static void drain(mk_raft_t *r, mk_log_store_t *st, mk_index_t *last_commit) {
    mk_raft_ready_t rd;
    for (int guard = 0; guard < 64 && mk_raft_ready(r, &rd); guard++) {
        if (rd.must_sync) st->vt->sync(st->self);
        for (size_t i = 0; i < rd.nmsgs; i++) {  /* whatever it says must decode */
            mk_raft_msg_t m;
            CHECK(mk_raft_msg_decode(rd.msgs[i].bytes.ptr, rd.msgs[i].bytes.len, &m, NULL) == MK_OK);
            mk_raft_msg_free(&m);
        }
        CHECK(rd.apply_to < rd.apply_from || rd.apply_to <= r->commit);
        mk_raft_advance(r, &rd, rd.apply_to >= rd.apply_from ? rd.apply_to : r->applied);
        mk_raft_status_t s;
        mk_raft_status(r, &s);
        CHECK(s.commit <= s.last.index);
        /* the commit index never moves back, except when a history without commands is abandoned
         * for another origin (spec 40 §3.9): then the log starts over */
        if (!s.fatal && s.has_origin && r->meta.has_commands) CHECK(s.commit >= *last_commit);
        *last_commit = s.commit;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mk_log_store_t *st = mk_log_store_memory();
    if (!st) return 0;
    mk_raft_config_t cfg = {.cc = MK_CONSENSUS_CONFIG_DEFAULT, .preference = {MK_LEAD_NORMAL, 1}, .store = st, .seed = 7};
    cfg.cc.bootstrap_delay_ms = 0;
    cfg.cc.max_voters = 3;
    memset(cfg.self.b, 0x01, sizeof cfg.self.b);
    mk_peer_id_t peers[2];
    memset(peers[0].b, 0x02, sizeof peers[0].b);
    memset(peers[1].b, 0x03, sizeof peers[1].b);
    int64_t now = 1000;
    mk_raft_t *r = mk_raft_new(&cfg, now, NULL);
    if (!r) {
        mk_log_store_free(st);
        return 0;
    }
    mk_index_t last_commit = 0;
    mk_raft_tick(r, now);  /* a lone node bootstraps and leads */
    drain(r, st, &last_commit);
    mk_raft_peer_up(r, now, &peers[0], 11);
    mk_raft_peer_up(r, now, &peers[1], 12);
    drain(r, st, &last_commit);
    const uint8_t *p = data;
    size_t left = size;
    uint64_t req = 1;
    while (left >= 3) {
        uint8_t sel = p[0], dt = p[1];
        size_t len = p[2];
        p += 3, left -= 3;
        if (len > left) len = left;
        now += dt;
        const mk_peer_id_t *from = &peers[sel & 1];
        switch ((sel >> 1) & 7) {
        case 0: mk_raft_tick(r, now); break;
        case 1: {
            mk_bytes_t cmd = {p, len};
            int rc = mk_raft_propose(r, now, req++, &cmd, 1, sel & 0x10 ? 5 : 0, dt);
            CHECK(rc == MK_OK || rc == MK_E2BIG || rc == MK_EAGAIN || rc == MK_ENOCOMMANDS);
            break;
        }
        case 2: mk_raft_read_index(r, now, req++); break;
        case 3: mk_raft_peer_down(r, now, from); break;
        case 4: mk_raft_peer_up(r, now, from, sel >> 4); break;
        default: {
            mk_raft_msg_t m;
            if (mk_raft_msg_decode(p, len, &m, NULL) == MK_OK) {
                mk_raft_step(r, now, from, &m);
                mk_raft_msg_free(&m);
            }
            break;
        }
        }
        p += len, left -= len;
        drain(r, st, &last_commit);
    }
    mk_raft_free(r);
    mk_log_store_free(st);
    return 0;
}
