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
