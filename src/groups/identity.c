/* groups/identity.c — group keys, the consensus digest, the sync signature and the GroupId (see
 * identity.h and spec 40 §1). */
#include "groups/identity.h"

#include "core/error.h"

#include <string.h>

/* ---- group keys ---- */

mk_group_key_t mk_group_key_random(void) {
    return (mk_group_key_t){mk_id_random()}; /* RAND_bytes; aborts if the CSPRNG fails */
}

mk_group_key_t mk_group_key_from_secret(const char *s) { return (mk_group_key_t){mk_id_from_str(s)}; }

mk_group_key_t mk_group_key_from_bytes(const uint8_t bytes[32]) {
    mk_group_key_t k;
    memcpy(k.secret.b, bytes, sizeof k.secret.b);
    return k;
}

mk_group_key_t mk_group_key_from_validator(const mk_ticket_validator_t *v) {
    return (mk_group_key_t){mk_ticket_validator_signature(v)};
}

void mk_group_key_display(const mk_group_key_t *k, char out[16]) {
    static const char hex[] = "0123456789abcdef";
    uint8_t first = k->secret.b[0], last = k->secret.b[31];
    char *p = out;
    *p++ = hex[first >> 4];
    *p++ = hex[first & 15];
    memcpy(p, "****", 4);
    p += 4;
    *p++ = hex[last >> 4];
    *p++ = hex[last & 15];
    *p = '\0';
}

/* ---- digests ---- */

static uint8_t *put_u64le(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *put_u32le(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

mk_id_t mk_group_consensus_digest(const mk_consensus_config_t *cc) {
    uint8_t buf[MK_GROUP_DIGEST_INPUT_LEN];
    uint8_t *p = buf;
    memcpy(p, MK_GROUP_ID_VERSION, sizeof MK_GROUP_ID_VERSION - 1);
    p += sizeof MK_GROUP_ID_VERSION - 1;
    p = put_u64le(p, cc->heartbeat_interval_ms);
    p = put_u64le(p, cc->heartbeat_jitter_ms);
    p = put_u32le(p, cc->max_missed_heartbeats);
    p = put_u32le(p, cc->max_voters);
    *p++ = cc->exactly_once ? 1 : 0;
    p = put_u32le(p, cc->max_command_bytes);
    p = put_u32le(p, cc->exactly_once ? cc->max_sessions : 0);
    return mk_id_hash(buf, (size_t)(p - buf));
}

int mk_group_sync_signature(const mk_sync_config_t *sc, mk_id_t *out, mk_error_t *e) {
    *out = MK_ID_ZERO;
    if (!sc) return MK_ERR(e, MK_EINVAL, "sync config is NULL");
    uint8_t buf[6 * 8];
    uint8_t *p = buf;
    mk_id_t base;
    switch (sc->kind) {
    case MK_SYNC_LOG_REPLAY: base = mk_id_from_str("libmosaik/sync/log-replay"); break;
    case MK_SYNC_SNAPSHOT:
        base = mk_id_from_str("libmosaik/sync/snapshot");
        p = put_u64le(p, sc->snapshot_batch);
        p = put_u64le(p, sc->snapshot_ttl_ms);
        p = put_u64le(p, sc->snapshot_request_timeout_ms);
        p = put_u64le(p, sc->snapshot_fetch_timeout_ms);
        break;
    default: return MK_ERR(e, MK_EINVAL, "sync.kind (%d) is not a mk_sync_kind_t", (int)sc->kind);
    }
    p = put_u64le(p, sc->replay_batch);
    p = put_u64le(p, sc->replay_fetch_timeout_ms);
    *out = mk_id_derive(&base, buf, (size_t)(p - buf));
    return MK_OK;
}

int mk_group_id_derive(const mk_group_key_t *key, const mk_consensus_config_t *cc, const mk_id_t *machine_sig,
                       const mk_id_t *sync_sig, const mk_ticket_validator_t *const *validators, size_t n,
                       mk_id_t *out, mk_error_t *e) {
    *out = MK_ID_ZERO;
    if (!key || !cc || !machine_sig || !sync_sig)
        return MK_ERR(e, MK_EINVAL, "%s is NULL",
                      !key ? "key" : !cc ? "consensus config" : !machine_sig ? "machine signature" : "sync signature");
    if (n && !validators) return MK_ERR(e, MK_EINVAL, "validators is NULL with %zu validators", n);
    for (size_t i = 0; i < n; i++)
        if (!validators[i] || !validators[i]->vt || !validators[i]->vt->signature)
            return MK_ERR(e, MK_EINVAL, "validators[%zu] is NULL or has no signature", i);
    mk_id_t id = mk_id_hashed(&key->secret);
    mk_id_t digest = mk_group_consensus_digest(cc);
    id = mk_id_derive(&id, digest.b, sizeof digest.b);
    id = mk_id_derive(&id, machine_sig->b, sizeof machine_sig->b);
    id = mk_id_derive(&id, sync_sig->b, sizeof sync_sig->b);
    for (size_t i = 0; i < n; i++) {
        mk_id_t sig = mk_ticket_validator_signature(validators[i]);
        id = mk_id_derive(&id, sig.b, sizeof sig.b);
    }
    *out = id;
    return MK_OK;
}

int mk_group_id_for(const mk_group_config_t *cfg, mk_id_t *out, mk_error_t *err) {
    if (!out) return MK_ERR(err, MK_EINVAL, "out is NULL");
    *out = MK_ID_ZERO;
    if (!cfg) return MK_ERR(err, MK_EINVAL, "group config is NULL");
    int rc = mk_consensus_config_check(&cfg->consensus, err);
    if (rc != MK_OK) return rc;
    mk_id_t sync_sig;
    rc = mk_group_sync_signature(&cfg->sync, &sync_sig, err);
    if (rc != MK_OK) return rc;
    const mk_state_machine_t *m = cfg->machine ? cfg->machine : &MK_NOOP_MACHINE;
    if (!m->signature) return MK_ERR(err, MK_EINVAL, "machine->signature is NULL");
    mk_id_t machine_sig = m->signature(cfg->machine ? cfg->machine_self : NULL);
    return mk_group_id_derive(&cfg->key, &cfg->consensus, &machine_sig, &sync_sig, cfg->validators,
                              cfg->n_validators, out, err);
}
