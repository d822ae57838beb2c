/* support/mkt_group.c — groups fixtures for integration tests (see mkt_group.h). */
#include "support/mkt_group.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static mk_id_t counter_sig(void *self) {
    (void)self;
    return mk_id_from_str("mkt.counter.v1");
}

static void counter_apply(void *self, const mk_apply_ctx_t *ctx, const void *cmd, size_t len) {
    (void)ctx;
    mkt_counter_t *c = self;
    c->applied++;
    if (len != 5) return;
    const uint8_t *p = cmd;
    uint32_t n = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
    if (p[0] == 'i') c->value += n;
    else if (p[0] == 'd') c->value -= n;
}

static int counter_query(void *self, const void *q, size_t len, mk_buf_t *out) {
    (void)q;
    (void)len;
    mkt_counter_t *c = self;
    out->ptr = malloc(8);
    if (!out->ptr) return MK_ENOMEM;
    memcpy(out->ptr, &c->value, 8);
    out->len = 8;
    return MK_OK;
}

static mk_leadership_t counter_lead(void *self) {
    mkt_counter_t *c = self;
    return c->lead.kind == MK_LEAD_NORMAL ? (mk_leadership_t){MK_LEAD_NORMAL, 1} : c->lead;
}

static void counter_destroy(void *self) {
    mkt_counter_t *c = self;
    c->destroyed = true;
}

/* snapshots: one item, {value, applied} */
struct mk_sm_snapshot { int64_t value; uint64_t applied; };
typedef struct { int64_t value; uint64_t applied; bool got; } counter_install_t;

static mk_sm_snapshot_t *counter_snap(void *self) {
    mkt_counter_t *c = self;
    mk_sm_snapshot_t *s = malloc(sizeof *s);
    if (s) s->value = c->value, s->applied = c->applied;
    c->snapshots++;
    return s;
}
static uint64_t counter_snap_len(const mk_sm_snapshot_t *s) {
    (void)s;
    return 1;
}
static int counter_snap_read(const mk_sm_snapshot_t *s, uint64_t from, uint64_t to, mk_item_writer_t *w) {
    if (from != 0 || to != 1) return MK_EINVAL;
    uint8_t item[16];
    memcpy(item, &s->value, 8);
    memcpy(item + 8, &s->applied, 8);
    return mk_item_writer_put(w, item, sizeof item);
}
static void counter_snap_free(mk_sm_snapshot_t *s) { free(s); }
static void *counter_install_begin(void *self, uint64_t n) {
    (void)self, (void)n;
    return calloc(1, sizeof(counter_install_t));
}
static int counter_install_put(void *self, void *inst, const void *item, size_t len) {
    (void)self;
    counter_install_t *i = inst;
    if (len != 16 || i->got) return MK_EINVAL;
    memcpy(&i->value, item, 8);
    memcpy(&i->applied, (const uint8_t *)item + 8, 8);
    i->got = true;
    return MK_OK;
}
static int counter_install_end(void *self, void *inst, bool ok) {
    mkt_counter_t *c = self;
    counter_install_t *i = inst;
    int rc = MK_OK;
    if (ok && i && i->got) {
        c->value = i->value;
        c->applied = i->applied;
        c->installs++;
    } else if (ok) {
        rc = MK_EINVAL;
    }
    free(i);
    return rc;
}

const mk_state_machine_t MKT_COUNTER_SNAP = {.signature = counter_sig,
                                             .apply = counter_apply,
                                             .query = counter_query,
                                             .leadership = counter_lead,
                                             .snapshot_create = counter_snap,
                                             .snapshot_len = counter_snap_len,
                                             .snapshot_read = counter_snap_read,
                                             .snapshot_free = counter_snap_free,
                                             .install_begin = counter_install_begin,
                                             .install_put = counter_install_put,
                                             .install_end = counter_install_end,
                                             .destroy = counter_destroy};

const mk_state_machine_t MKT_COUNTER = {.signature = counter_sig,
                                        .apply = counter_apply,
                                        .query = counter_query,
                                        .leadership = counter_lead,
                                        .destroy = counter_destroy};

static void enc(uint8_t out[5], char op, uint32_t n) {
    out[0] = (uint8_t)op;
    for (int i = 0; i < 4; i++) out[1 + i] = (uint8_t)(n >> (8 * i));
}
void mkt_counter_inc(uint8_t out[5], uint32_t n) { enc(out, 'i', n); }
void mkt_counter_dec(uint8_t out[5], uint32_t n) { enc(out, 'd', n); }

int64_t mkt_counter_result(const mk_query_result_t *r) {
    int64_t v = INT64_MIN;
    if (r->len == 8) memcpy(&v, r->data, 8);
    return v;
}

void mkt_group_fast(mk_group_config_t *cfg) {
    mk_consensus_config_t *c = &cfg->consensus;
    c->heartbeat_interval_ms = (uint32_t)mkt_ms(100);
    c->heartbeat_jitter_ms = (uint32_t)mkt_ms(30);
    c->max_missed_heartbeats = 10;
    c->election_timeout_ms = (uint32_t)mkt_ms(600);
    c->election_timeout_jitter_ms = (uint32_t)mkt_ms(200);
    c->bootstrap_delay_ms = (uint32_t)mkt_ms(300);
    c->forward_timeout_ms = (uint32_t)mkt_ms(2000);
    c->query_timeout_ms = (uint32_t)mkt_ms(2000);
    c->voter_removal_timeout_ms = (uint32_t)mkt_ms(3000);
}

mk_group_config_t mkt_group_config(const char *key, mkt_counter_t *c) {
    mk_group_config_t cfg = MK_GROUP_CONFIG_DEFAULT;
    cfg.key = mk_group_key_from_secret(key);
    cfg.machine = &MKT_COUNTER;
    cfg.machine_self = c;
    mkt_group_fast(&cfg);
    return cfg;
}

mk_group_t *mkt_group_join(mk_network_t *n, const mk_group_config_t *cfg) {
    mk_error_t e;
    mk_group_t *g = mk_group_join(n, cfg, &e);
    if (!g) fail_msg("mk_group_join: %s", e.msg);
    return g;
}

int mkt_group_wait_leader(mk_group_t **gs, size_t n, double secs) {
    double lim = mkt_now() + T(secs);
    while (mkt_now() < lim) {
        mk_id_t l0;
        bool ok = true, have = false;
        for (size_t i = 0; i < n && ok; i++) {
            if (!gs[i]) continue;
            mk_id_t l;
            if (!mk_group_leader(gs[i], &l)) ok = false;
            else if (!have) l0 = l, have = true;
            else if (!mk_id_eq(&l, &l0)) ok = false;
        }
        if (ok && have)
            for (size_t i = 0; i < n; i++)
                if (gs[i] && mk_group_is_leader(gs[i])) return (int)i;
        usleep(10000);
    }
    fail_msg("no agreed leader within %.1f s", T(secs));
    return -1;
}

void mkt_group_inc(mk_group_t *g, uint32_t k) {
    uint8_t cmd[5];
    mkt_counter_inc(cmd, k);
    mk_error_t e;
    mk_cmd_outcome_t out;
    int rc = mk_group_execute(g, cmd, 5, mkt_ms(10000), &out, &e);
    if (rc != MK_OK) fail_msg("mk_group_execute: %s", e.msg);
}

int64_t mkt_group_value(mk_group_t *g, mk_consistency_t c) {
    mk_query_result_t r;
    mk_error_t e;
    int rc = mk_group_query(g, "", 0, c, mkt_ms(5000), &r, &e);
    if (rc != MK_OK) fail_msg("mk_group_query: %s", e.msg);
    int64_t v = mkt_counter_result(&r);
    mk_query_result_free(&r);
    return v;
}
